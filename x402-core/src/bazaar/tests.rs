use super::*;
use crate::json::{Limits, parse};

fn v(s: &str) -> JsonValue<'_> {
    parse(s.as_bytes(), &Limits::DEFAULT).unwrap()
}

fn checked(info: &str, schema: &str) -> Result<(), Invalid> {
    check(v(info), v(schema))
}

#[test]
fn keywords_of_the_subset() {
    let s = r#"{"type":"object","properties":{"a":{"type":"string","minLength":2,"maxLength":3},
        "n":{"type":"integer","minimum":1,"exclusiveMaximum":10},"e":{"enum":["x",1,{"k":[1]}]},
        "c":{"const":1.0},"l":{"type":"array","items":{"type":"number"},"minItems":1,"uniqueItems":true}},
        "required":["a"],"additionalProperties":false}"#;
    assert_eq!(
        checked(r#"{"a":"ab","n":9,"e":{"k":[1.0]},"c":1,"l":[1,2]}"#, s),
        Ok(())
    );
    let bad = |info: &str, path: &str, why: Violation| {
        assert_eq!(
            checked(info, s),
            Err(Invalid {
                path: path.into(),
                violation: why
            }),
            "{info}"
        );
    };
    bad(r#"{}"#, "info/a", Violation::Required);
    bad(r#"{"a":"a"}"#, "info/a", Violation::Length);
    bad(
        r#"{"a":"\ud83d\ude00\ud83d\ude00\ud83d\ude00\ud83d\ude00"}"#,
        "info/a",
        Violation::Length,
    );
    bad(r#"{"a":"ab","n":10}"#, "info/n", Violation::Range);
    bad(r#"{"a":"ab","n":1.5}"#, "info/n", Violation::Type);
    bad(r#"{"a":"ab","e":"y"}"#, "info/e", Violation::Enum);
    bad(r#"{"a":"ab","c":2}"#, "info/c", Violation::Const);
    bad(r#"{"a":"ab","l":[1,1]}"#, "info/l", Violation::Unique);
    bad(r#"{"a":"ab","l":["x"]}"#, "info/l/0", Violation::Type);
    bad(
        r#"{"a":"ab","z":1}"#,
        "info/z",
        Violation::AdditionalProperty,
    );
    bad(r#"[]"#, "info", Violation::Type);
}

#[test]
fn combinators_and_references() {
    let s = r##"{"$defs":{"s":{"type":"string"}},"anyOf":[{"$ref":"#/$defs/s"},{"type":"null"}],
        "not":{"const":"no"}}"##;
    assert_eq!(checked(r#""yes""#, s), Ok(()));
    assert_eq!(checked("null", s), Ok(()));
    assert_eq!(checked("1", s).unwrap_err().violation, Violation::AnyOf);
    assert_eq!(checked(r#""no""#, s).unwrap_err().violation, Violation::Not);
    let one = r#"{"oneOf":[{"type":"integer"},{"type":"number"}]}"#;
    assert_eq!(checked("1.5", one), Ok(()));
    assert_eq!(checked("1", one).unwrap_err().violation, Violation::OneOf);
    // A loop of references ends at the depth bound.
    let loops = r##"{"$ref":"#"}"##;
    assert_eq!(
        checked("1", loops).unwrap_err().violation,
        Violation::TooDeep
    );
    let missing = r##"{"$ref":"#/$defs/none"}"##;
    assert_eq!(
        checked("1", missing).unwrap_err().violation,
        Violation::UnresolvedReference
    );
}

#[test]
fn external_references_and_unsupported_keywords_are_refused() {
    for s in [
        r#"{"$ref":"https://example.com/s.json"}"#,
        r#"{"properties":{"a":{"$ref":"other.json#/x"}}}"#,
        r#"{"$id":"https://example.com/s"}"#,
        r#"{"$ref":1}"#,
    ] {
        assert_eq!(
            checked("{}", s).unwrap_err().violation,
            Violation::ExternalReference,
            "{s}"
        );
    }
    assert_eq!(
        checked(r#""a""#, r#"{"pattern":"^a$"}"#)
            .unwrap_err()
            .violation,
        Violation::UnsupportedKeyword
    );
    // Inside anyOf, a fault of the schema is not a mere "no".
    assert_eq!(
        checked(r#""a""#, r#"{"anyOf":[{"pattern":"a"},true]}"#)
            .unwrap_err()
            .violation,
        Violation::UnsupportedKeyword
    );
    assert!(matches!(
        checked("1", r#"{"type":"text"}"#).unwrap_err().violation,
        Violation::InvalidSchema(_)
    ));
    assert!(matches!(
        checked("{}", r#"{"required":"a"}"#).unwrap_err().violation,
        Violation::InvalidSchema(_)
    ));
    // Annotations and unknown keywords are ignored.
    assert_eq!(
        checked(
            r#""x""#,
            r#"{"format":"email","title":"t","x-whatever":1,"$schema":"https://json-schema.org/draft/2020-12/schema"}"#
        ),
        Ok(())
    );
}

#[test]
fn the_step_bound_holds() {
    // Each definition is "either of two copies of the next": 2^14 leaves.
    let mut defs = String::new();
    for i in 0..14 {
        defs.push_str(&alloc::format!(
            r##""a{i}":{{"anyOf":[{{"$ref":"#/$defs/a{n}"}},{{"$ref":"#/$defs/a{n}"}}]}},"##,
            n = i + 1
        ));
    }
    let s = alloc::format!(r##"{{"$defs":{{{defs}"a14":false}},"$ref":"#/$defs/a0"}}"##);
    let e = check(v("1"), v(&s)).unwrap_err();
    assert_eq!(e.violation, Violation::TooComplex);
}

#[test]
fn declarations_check_against_their_own_schema() {
    let q = v(r#"{"city":"Paris"}"#);
    let qs = v(r#"{"properties":{"city":{"type":"string"}},"required":["city"]}"#);
    let out = v(r#"{"temp":20}"#);
    let decls = [
        Declaration {
            method: Some("GET"),
            input: Input::Query {
                params: Some(q),
                schema: Some(qs),
            },
            output_example: Some(out),
            output_schema: Some(v(r#"{"properties":{"temp":{"type":"number"}}}"#)),
        },
        Declaration {
            method: Some("POST"),
            input: Input::Body {
                body_type: BodyType::Json,
                example: Some(q),
                schema: None,
            },
            output_example: None,
            output_schema: None,
        },
        Declaration {
            method: None,
            input: Input::Mcp {
                tool_name: "weather",
                description: Some("the weather"),
                transport: Some("sse"),
                input_schema: v(r#"{"type":"object"}"#),
                example: Some(q),
            },
            output_example: Some(out),
            output_schema: None,
        },
    ];
    for d in decls {
        let json = d.to_json_string();
        let ext = v(&json);
        assert_eq!(check_extension(ext), Ok(()), "{json}");
        assert_eq!(check_spec(ext), Ok(()), "{json}");
    }
    // The method is pinned: the same info with another method fails.
    let d = Declaration {
        method: Some("GET"),
        input: Input::Query {
            params: None,
            schema: None,
        },
        output_example: None,
        output_schema: None,
    }
    .to_json_string();
    let swapped = d.replacen("\"method\":\"GET\"", "\"method\":\"HEAD\"", 1);
    assert_eq!(
        check_extension(v(&swapped)),
        Err(Invalid {
            path: "info/input/method".into(),
            violation: Violation::Enum
        })
    );
}

#[test]
fn route_templates() {
    for ok in ["/users/:id", "/a/b.json", "/x%20y", "/~u/-_"] {
        assert!(is_valid_route_template(ok), "{ok}");
    }
    for bad in [
        "",
        "/",
        "users",
        "/a/../b",
        "/a/%2e%2e/b",
        "/a/%252e%252e",
        "/http://x",
        "/a?b",
        "/%zz",
        "/%ff",
        "/a b",
        "/%25252525252e",
    ] {
        assert!(!is_valid_route_template(bad), "{bad}");
    }
}

#[test]
fn service_metadata() {
    assert!(is_valid_service_name("Example Weather"));
    assert!(!is_valid_service_name(""));
    assert!(!is_valid_service_name(&"x".repeat(33)));
    assert!(!is_valid_service_name("caf\u{e9}"));
    assert!(!is_valid_service_name("a\tb"));
    let tags = sanitize_tags(v(r#"["a","A",1,"","b","c\u0001","d","e","f","g"]"#));
    assert_eq!(tags, ["a", "b", "d", "e", "f"]);
    assert!(sanitize_tags(v(r#""a""#)).is_empty());
    for ok in [
        "https://example.com/i.png",
        "http://cdn.example.org:8080/x",
        "https://EXAMPLE.com",
    ] {
        assert!(is_valid_icon_url(ok), "{ok}");
    }
    for bad in [
        "ftp://example.com/i",
        "data:image/png;base64,AA",
        "https://u:p@example.com/",
        "https://127.0.0.1/",
        "https://2130706433/",
        "https://0x7f000001/",
        "https://[::1]/",
        "https://localhost/",
        "https://LocalHost./",
        "https://%6c%6f%63%61%6c%68%6f%73%74/",
        "https://example.com/a\nb",
        "https://",
        "https://1.2.3.4.5/",
        "relative/path",
    ] {
        assert!(!is_valid_icon_url(bad), "{bad}");
    }
}

#[test]
fn discovery_from_a_payment() {
    let ext = Declaration {
        method: Some("GET"),
        input: Input::Query {
            params: None,
            schema: None,
        },
        output_example: None,
        output_schema: None,
    }
    .to_json_string();
    let payload = alloc::format!(
        r#"{{"x402Version":2,"resource":{{"url":"HTTPS://Api.Example.com:443/users/7?x=1#f","description":"d",
        "serviceName":"S","tags":["t","T"],"iconUrl":"https://127.0.0.1/i"}},
        "accepted":{{"scheme":"exact"}},"payload":{{}},"extensions":{{"bazaar":{ext}}}}}"#
    );
    let d = discover(v(&payload).as_object().unwrap()).unwrap();
    assert_eq!(d.resource, "https://api.example.com/users/7");
    assert_eq!((d.kind, d.method.as_deref()), (Kind::Http, Some("GET")));
    assert_eq!(d.service_name.as_deref(), Some("S"));
    assert_eq!(d.tags, ["t"]);
    assert_eq!(d.icon_url, None);
    assert_eq!(d.accepted, r#"{"scheme":"exact"}"#);
    // A valid routeTemplate keys the catalog; an invalid one is ignored.
    let templated = payload.replacen("{\"info\"", "{\"routeTemplate\":\"/users/:id\",\"info\"", 1);
    let d = discover(v(&templated).as_object().unwrap()).unwrap();
    assert_eq!(d.resource, "https://api.example.com/users/:id");
    let bad = payload.replacen("{\"info\"", "{\"routeTemplate\":\"/../admin\",\"info\"", 1);
    let d = discover(v(&bad).as_object().unwrap()).unwrap();
    assert_eq!(d.resource, "https://api.example.com/users/7");
    // An invalid declaration is dropped.
    let invalid = payload.replacen("\"method\":\"GET\"", "\"method\":\"PUT\"", 1);
    assert!(matches!(
        discover(v(&invalid).as_object().unwrap()),
        Err(Dropped::Invalid(_))
    ));
    let no_url = payload.replacen("HTTPS://Api", "mailto:x@Api", 1);
    assert_eq!(
        discover(v(&no_url).as_object().unwrap()),
        Err(Dropped::ResourceUrl)
    );
    assert_eq!(
        discover(
            v(r#"{"x402Version":2,"extensions":{}}"#)
                .as_object()
                .unwrap()
        ),
        Err(Dropped::NotDeclared)
    );
}

#[test]
fn extension_responses() {
    let ok = ExtensionResponse {
        rejected_reason: None,
    };
    assert_eq!(ok.to_json_string(), r#"{"bazaar":{"status":"success"}}"#);
    let no = ExtensionResponse {
        rejected_reason: Some("bazaar: info/input/method is none of the schema's enum".into()),
    };
    assert_eq!(
        no.to_json_string(),
        r#"{"bazaar":{"status":"rejected","rejectedReason":"bazaar: info/input/method is none of the schema's enum"}}"#
    );
    // The spec's example header.
    assert_eq!(
        crate::header::encode_to_string(&ok),
        "eyJiYXphYXIiOnsic3RhdHVzIjoic3VjY2VzcyJ9fQ=="
    );
}

#[test]
fn the_work_bound_holds() {
    // A long schema visited for each of many items: a few thousand steps,
    // but each one scans tens of kilobytes.
    let wide = alloc::format!(r#"{{"type":"number","x-pad":"{}"}}"#, "a".repeat(40_000));
    let schema = alloc::format!(r##"{{"$defs":{{"w":{wide}}},"items":{{"$ref":"#/$defs/w"}}}}"##);
    let mut items = String::from("[0");
    for _ in 0..2000 {
        items.push_str(",1");
    }
    items.push(']');
    let limits = Limits {
        max_len: 1 << 20,
        max_depth: 32,
    };
    let e = check(
        parse(items.as_bytes(), &limits).unwrap(),
        parse(schema.as_bytes(), &limits).unwrap(),
    )
    .unwrap_err();
    assert_eq!(e.violation, Violation::TooComplex);
    // Few items: checked.
    assert_eq!(
        check(v("[1,2,3]"), parse(schema.as_bytes(), &limits).unwrap()),
        Ok(())
    );
}
