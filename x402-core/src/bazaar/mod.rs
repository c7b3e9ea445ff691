//! The `bazaar` extension (x402 v2 discovery): a resource server declares how
//! its endpoint or MCP tool is called (`info`: the input — an HTTP method
//! with query parameters or a body, or an MCP tool — and the output), with a
//! JSON Schema of that `info` (`schema`); a facilitator that settles a payment
//! carrying the declaration catalogs the resource and lists it.
//!
//! - [`Declaration`] writes a declaration, as the reference's
//!   `declareDiscoveryExtension` and its server-side enrichment do.
//! - [`check`] checks a declaration's `info` against its `schema` (the JSON
//!   Schema subset of [`schema`](self#the-schema-subset); no reference
//!   outside the document is followed).
//! - [`discover`] is a facilitator's extraction from a `PaymentPayload`:
//!   an invalid declaration is dropped ([`Dropped`]), never a reason to refuse
//!   the payment, and the resource's service metadata is sanitised field by
//!   field ([`is_valid_service_name`], [`sanitize_tags`], [`is_valid_icon_url`]).
//!
//! ```
//! use paywire::bazaar::{check_extension, Declaration, Input};
//! use paywire::json::{parse, Limits, ToJson};
//! let example = parse(br#"{"city":"Paris"}"#, &Limits::DEFAULT).unwrap();
//! let ext = Declaration {
//!     method: Some("GET"),
//!     input: Input::Query { params: Some(example), schema: None },
//!     output_example: None,
//!     output_schema: None,
//! }
//! .to_json_string();
//! let ext = parse(ext.as_bytes(), &Limits::DEFAULT).unwrap();
//! assert!(check_extension(ext).is_ok());
//! ```
//!
//! # The schema subset
//! Keywords evaluated: `type`, `const`, `enum`, `properties`, `required`,
//! `additionalProperties`, `items`, `prefixItems`, `minItems`, `maxItems`,
//! `uniqueItems`, `minLength`, `maxLength`, `minimum`, `maximum`,
//! `exclusiveMinimum`, `exclusiveMaximum`, `minProperties`, `maxProperties`,
//! `allOf`, `anyOf`, `oneOf`, `not`, and `$ref` to `#` or a JSON Pointer
//! inside the document. Annotations (`$schema`, `title`, `description`,
//! `format`, `$defs`, ...) and unknown keywords are ignored, as the
//! reference (Ajv, not strict) ignores them. A schema using a keyword of the
//! draft that the subset does not evaluate (`pattern`, `if`, `contains`,
//! ...) is refused ([`Violation::UnsupportedKeyword`]): the declaration is
//! dropped rather than half-checked. Schemas and values nest at most
//! [`schema::MAX_DEPTH`] deep, and one check visits at most
//! [`schema::MAX_STEPS`] (schema, value) pairs and scans at most
//! [`schema::MAX_WORK`] bytes of JSON text.

pub mod schema;

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::json::{JsonObject, JsonStr, JsonValue, ObjectWriter, Sink, SinkFull, ToJson};

/// The extension's key in `extensions`.
pub const BAZAAR: &str = "bazaar";

/// The JSON Schema dialect the declarations name.
pub const SCHEMA_DIALECT: &str = "https://json-schema.org/draft/2020-12/schema";

/// Why a declaration is invalid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Violation {
    /// A member the extension requires is absent (`info`, `schema`,
    /// `info.input`), or a property the schema requires.
    Missing,
    /// The value is not of the type the extension or the schema requires.
    Type,
    /// The value is not the schema's `const`.
    Const,
    /// The value is none of the schema's `enum`.
    Enum,
    /// A member the schema does not allow (`additionalProperties: false`).
    AdditionalProperty,
    /// A property the schema requires is absent.
    Required,
    /// A string shorter or longer than the schema allows.
    Length,
    /// A number outside the schema's bounds.
    Range,
    /// Too few or too many items or members.
    Size,
    /// Items that the schema wants distinct are not.
    Unique,
    /// No schema of `anyOf` holds.
    AnyOf,
    /// Not exactly one schema of `oneOf` holds.
    OneOf,
    /// The schema of `not` holds.
    Not,
    /// The schema here is `false`.
    FalseSchema,
    /// A `$ref` or `$id` names something outside the document.
    ExternalReference,
    /// A local `$ref` names nothing in the document.
    UnresolvedReference,
    /// A keyword of the draft that this subset does not evaluate.
    UnsupportedKeyword,
    /// The schema itself is malformed; the text says how.
    InvalidSchema(&'static str),
    /// Nested deeper than [`schema::MAX_DEPTH`] (a `$ref` loop, say).
    TooDeep,
    /// More than [`schema::MAX_STEPS`] checks, or [`schema::MAX_WORK`]
    /// bytes scanned.
    TooComplex,
    /// A value the extension's own rules do not allow; the text says which.
    Invalid(&'static str),
}

impl Violation {
    /// Whether the fault lies in the schema (or a bound), not in the value:
    /// such a fault is not a mere "no" inside `anyOf`, `oneOf` or `not`.
    #[must_use]
    pub fn is_schema_fault(self) -> bool {
        matches!(
            self,
            Violation::ExternalReference
                | Violation::UnresolvedReference
                | Violation::UnsupportedKeyword
                | Violation::InvalidSchema(_)
                | Violation::TooDeep
                | Violation::TooComplex
        )
    }

    fn text(self) -> &'static str {
        match self {
            Violation::Missing => "is missing",
            Violation::Type => "has the wrong type",
            Violation::Const => "is not the schema's const",
            Violation::Enum => "is none of the schema's enum",
            Violation::AdditionalProperty => "is not allowed (additionalProperties)",
            Violation::Required => "is required",
            Violation::Length => "has a length outside the schema's bounds",
            Violation::Range => "is outside the schema's bounds",
            Violation::Size => "has too few or too many entries",
            Violation::Unique => "has equal items",
            Violation::AnyOf => "matches no schema of anyOf",
            Violation::OneOf => "does not match exactly one schema of oneOf",
            Violation::Not => "matches the schema of not",
            Violation::FalseSchema => "is refused by a false schema",
            Violation::ExternalReference => "is a reference outside the document",
            Violation::UnresolvedReference => "names nothing in the document",
            Violation::UnsupportedKeyword => "uses a keyword this checker does not evaluate",
            Violation::InvalidSchema(s) | Violation::Invalid(s) => s,
            Violation::TooDeep => "is nested too deep",
            Violation::TooComplex => "takes too many steps to check",
        }
    }
}

/// An invalid declaration: where (a JSON Pointer below the extension object,
/// such as `info/input/method` or `schema/$ref`) and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invalid {
    /// The member at fault.
    pub path: String,
    /// What is wrong with it.
    pub violation: Violation,
}

impl Invalid {
    fn at(path: &str, violation: Violation) -> Invalid {
        Invalid {
            path: String::from(path),
            violation,
        }
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bazaar: {} {}", self.path, self.violation.text())
    }
}

impl core::error::Error for Invalid {}

/// Checks `info` against `schema`, as a facilitator must before cataloging:
/// no `$ref`/`$id` outside the document anywhere in `schema`, then the
/// subset's keywords.
///
/// # Errors
/// The first violation found, with its path (`info/...` or `schema/...`).
pub fn check(info: JsonValue<'_>, schema: JsonValue<'_>) -> Result<(), Invalid> {
    schema::external_reference(schema, 0)?;
    schema::Checker::new(schema).check(info, "info")
}

/// Checks an `extensions.bazaar` object: its `info` against its `schema`
/// ([`check`]).
///
/// # Errors
/// [`Violation::Type`] when it is not an object, [`Violation::Missing`] for
/// an absent `info` or `schema`, else what [`check`] finds.
pub fn check_extension(ext: JsonValue<'_>) -> Result<(), Invalid> {
    let o = ext
        .as_object()
        .ok_or_else(|| Invalid::at("", Violation::Type))?;
    let schema = o
        .get("schema")
        .ok_or_else(|| Invalid::at("schema", Violation::Missing))?;
    let info = o
        .get("info")
        .ok_or_else(|| Invalid::at("info", Violation::Missing))?;
    check(info, schema)
}

const QUERY_METHODS: [&str; 3] = ["GET", "HEAD", "DELETE"];
const BODY_METHODS: [&str; 3] = ["POST", "PUT", "PATCH"];
const BODY_TYPES: [&str; 3] = ["json", "form-data", "text"];
const MCP_TRANSPORTS: [&str; 2] = ["streamable-http", "sse"];

fn one_of(v: Option<JsonValue<'_>>, set: &[&str]) -> bool {
    v.and_then(|v| v.as_str())
        .is_some_and(|s| set.iter().any(|m| s == **m))
}

/// The extension's own rules on `info.input`, beyond its schema (what the
/// reference checks of a route's declaration at start): `type` is `http` or
/// `mcp`; an HTTP `method` is one of the six, a `bodyType` one of `json`,
/// `form-data`, `text` and only with a body method; an MCP tool has a
/// non-empty `toolName`, an object `inputSchema` and a known `transport`.
///
/// # Errors
/// The first rule broken, with its path.
pub fn check_spec(ext: JsonValue<'_>) -> Result<(), Invalid> {
    let info = ext
        .as_object()
        .and_then(|e| e.get("info"))
        .and_then(|i| i.as_object())
        .ok_or_else(|| Invalid::at("info", Violation::Missing))?;
    let input = info
        .get("input")
        .and_then(|i| i.as_object())
        .ok_or_else(|| Invalid::at("info/input", Violation::Missing))?;
    let ty = input.get("type").and_then(|t| t.as_str());
    if ty.is_some_and(|t| t == *"http") {
        let method = input.get("method");
        let all = [QUERY_METHODS, BODY_METHODS].concat();
        if method.is_some() && !one_of(method, &all) {
            return Err(Invalid::at(
                "info/input/method",
                Violation::Invalid("one of GET, HEAD, DELETE, POST, PUT, PATCH"),
            ));
        }
        if let Some(bt) = input.get("bodyType") {
            if !one_of(Some(bt), &BODY_TYPES) {
                return Err(Invalid::at(
                    "info/input/bodyType",
                    Violation::Invalid("one of json, form-data, text"),
                ));
            }
            if method.is_some() && !one_of(method, &BODY_METHODS) {
                return Err(Invalid::at(
                    "info/input/bodyType",
                    Violation::Invalid("a body goes with POST, PUT or PATCH"),
                ));
            }
        }
        Ok(())
    } else if ty.is_some_and(|t| t == *"mcp") {
        let name = input.get("toolName").and_then(|n| n.as_str());
        if name.is_none_or(|n| n.is_empty()) {
            return Err(Invalid::at(
                "info/input/toolName",
                Violation::Invalid("a non-empty string"),
            ));
        }
        if input
            .get("inputSchema")
            .and_then(|s| s.as_object())
            .is_none()
        {
            return Err(Invalid::at("info/input/inputSchema", Violation::Type));
        }
        if let Some(t) = input.get("transport") {
            if !one_of(Some(t), &MCP_TRANSPORTS) {
                return Err(Invalid::at(
                    "info/input/transport",
                    Violation::Invalid("streamable-http or sse"),
                ));
            }
        }
        Ok(())
    } else {
        Err(Invalid::at(
            "info/input/type",
            Violation::Invalid("\"http\" or \"mcp\""),
        ))
    }
}

// ---------------------------------------------------------------------------
// Declaring

/// How an HTTP body is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyType {
    /// `json`
    Json,
    /// `form-data`
    FormData,
    /// `text`
    Text,
}

impl BodyType {
    /// Its name in the declaration.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            BodyType::Json => "json",
            BodyType::FormData => "form-data",
            BodyType::Text => "text",
        }
    }
}

/// What a declared endpoint or tool takes.
#[derive(Clone, Copy, Debug)]
pub enum Input<'a> {
    /// An HTTP query method (GET, HEAD, DELETE): example query parameters
    /// (`{}` when `None`) and their schema's members (`{"properties": {}}`
    /// when `None`; merged into `{"type": "object", ...}`).
    Query {
        /// Example query parameters.
        params: Option<JsonValue<'a>>,
        /// The parameters' schema members.
        schema: Option<JsonValue<'a>>,
    },
    /// An HTTP body method (POST, PUT, PATCH): the body's type, an example
    /// (`{}` when `None`) and its schema (`{"properties": {}}` when `None`).
    Body {
        /// How the body is sent.
        body_type: BodyType,
        /// An example body.
        example: Option<JsonValue<'a>>,
        /// The body's schema.
        schema: Option<JsonValue<'a>>,
    },
    /// An MCP tool.
    Mcp {
        /// The tool's name, as `tools/call` takes it.
        tool_name: &'a str,
        /// What it does.
        description: Option<&'a str>,
        /// `streamable-http` or `sse` (the schema pins these two).
        transport: Option<&'a str>,
        /// The JSON Schema of its arguments.
        input_schema: JsonValue<'a>,
        /// Example arguments.
        example: Option<JsonValue<'a>>,
    },
}

/// A bazaar declaration, the `extensions.bazaar` object of a route's
/// `PaymentRequired` (`{info, schema}`), as the reference's
/// `declareDiscoveryExtension` builds it and its server extension enriches
/// it with the request's method (an HTTP declaration's `method` is then in
/// `info.input` and its schema's enum is that method alone).
#[derive(Clone, Copy, Debug)]
pub struct Declaration<'a> {
    /// The HTTP method (ignored for MCP tools).
    pub method: Option<&'a str>,
    /// What the endpoint or tool takes.
    pub input: Input<'a>,
    /// An example response (an `output` is declared only with one).
    pub output_example: Option<JsonValue<'a>>,
    /// The example's schema members (merged into `{"type": "object", ...}`).
    pub output_schema: Option<JsonValue<'a>>,
}

/// Whether JavaScript would take the value as true (the reference declares
/// an output only for a truthy example).
fn truthy(v: JsonValue<'_>) -> bool {
    !matches!(v.raw(), "null" | "false" | "\"\"") && !v.raw().parse::<f64>().is_ok_and(|n| n == 0.0)
}

/// `{"type": <given type or "object">, ...members of extra}`.
struct Merged<'a> {
    extra: Option<JsonValue<'a>>,
}

impl ToJson for Merged<'_> {
    fn write_json(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        let extra = self.extra.and_then(|e| e.as_object());
        let mut w = ObjectWriter::new(out)?;
        match extra.and_then(|e| e.get("type")) {
            Some(t) => w.value_field(JsonStr::new("type"), t)?,
            None => w.str_field("type", JsonStr::new("object"))?,
        }
        for (k, v) in extra.iter().flat_map(|e| e.members()) {
            if k != *"type" {
                w.value_field(k, v)?;
            }
        }
        w.end()
    }
}

/// `{"type": "string", "enum": [...]}` or with `const`.
struct StrSchema<'a> {
    constant: Option<&'a str>,
    one_of: &'a [&'a str],
}

impl ToJson for StrSchema<'_> {
    fn write_json(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        let mut w = ObjectWriter::new(out)?;
        w.str_field("type", JsonStr::new("string"))?;
        if let Some(c) = self.constant {
            w.str_field("const", JsonStr::new(c))?;
        }
        if !self.one_of.is_empty() {
            w.key(JsonStr::new("enum"))?;
            let s = w.sink();
            s.put(b"[")?;
            for (i, m) in self.one_of.iter().enumerate() {
                if i > 0 {
                    s.put(b",")?;
                }
                crate::json::write_escaped(s, JsonStr::new(m))?;
            }
            s.put(b"]")?;
        }
        w.end()
    }
}

struct Raw(&'static str);
impl ToJson for Raw {
    fn write_json(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        out.put(self.0.as_bytes())
    }
}

impl Declaration<'_> {
    fn output(&self) -> Option<JsonValue<'_>> {
        self.output_example.filter(|e| truthy(*e))
    }

    fn write_info(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        let mut info = ObjectWriter::new(out)?;
        info.key(JsonStr::new("input"))?;
        let mut i = ObjectWriter::new(info.sink())?;
        match self.input {
            Input::Query { params, .. } => {
                i.str_field("type", JsonStr::new("http"))?;
                i.opt_str_field("method", self.method.map(JsonStr::new))?;
                match params {
                    Some(p) => i.value_field(JsonStr::new("queryParams"), p)?,
                    None => i.field("queryParams", &Raw("{}"))?,
                }
            }
            Input::Body {
                body_type, example, ..
            } => {
                i.str_field("type", JsonStr::new("http"))?;
                i.opt_str_field("method", self.method.map(JsonStr::new))?;
                i.str_field("bodyType", JsonStr::new(body_type.as_str()))?;
                match example {
                    Some(b) => i.value_field(JsonStr::new("body"), b)?,
                    None => i.field("body", &Raw("{}"))?,
                }
            }
            Input::Mcp {
                tool_name,
                description,
                transport,
                input_schema,
                example,
            } => {
                i.str_field("type", JsonStr::new("mcp"))?;
                i.str_field("toolName", JsonStr::new(tool_name))?;
                i.opt_str_field("description", description.map(JsonStr::new))?;
                i.opt_str_field("transport", transport.map(JsonStr::new))?;
                i.value_field(JsonStr::new("inputSchema"), input_schema)?;
                if let Some(e) = example {
                    i.value_field(JsonStr::new("example"), e)?;
                }
            }
        }
        i.end()?;
        if let Some(example) = self.output() {
            info.key(JsonStr::new("output"))?;
            let mut o = ObjectWriter::new(info.sink())?;
            o.str_field("type", JsonStr::new("json"))?;
            o.value_field(JsonStr::new("example"), example)?;
            o.end()?;
        }
        info.end()
    }

    fn write_schema(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        let mut s = ObjectWriter::new(out)?;
        s.str_field("$schema", JsonStr::new(SCHEMA_DIALECT))?;
        s.str_field("type", JsonStr::new("object"))?;
        s.key(JsonStr::new("properties"))?;
        let mut props = ObjectWriter::new(s.sink())?;
        props.key(JsonStr::new("input"))?;
        let mut input = ObjectWriter::new(props.sink())?;
        input.str_field("type", JsonStr::new("object"))?;
        input.key(JsonStr::new("properties"))?;
        let mut p = ObjectWriter::new(input.sink())?;
        let method_enum = |default: &'static [&'static str; 3]| -> Vec<&str> {
            match self.method {
                Some(m) => alloc::vec![m],
                None => default.to_vec(),
            }
        };
        let required: &[&str] = match self.input {
            Input::Query { schema, .. } => {
                p.field(
                    "type",
                    &StrSchema {
                        constant: Some("http"),
                        one_of: &[],
                    },
                )?;
                let methods = method_enum(&QUERY_METHODS);
                p.field(
                    "method",
                    &StrSchema {
                        constant: None,
                        one_of: &methods,
                    },
                )?;
                let schema = schema.or_else(|| {
                    crate::json::parse(b"{\"properties\":{}}", &crate::json::Limits::DEFAULT).ok()
                });
                p.field("queryParams", &Merged { extra: schema })?;
                &["type", "method"]
            }
            Input::Body {
                schema: body_schema,
                ..
            } => {
                p.field(
                    "type",
                    &StrSchema {
                        constant: Some("http"),
                        one_of: &[],
                    },
                )?;
                let methods = method_enum(&BODY_METHODS);
                p.field(
                    "method",
                    &StrSchema {
                        constant: None,
                        one_of: &methods,
                    },
                )?;
                p.field(
                    "bodyType",
                    &StrSchema {
                        constant: None,
                        one_of: &BODY_TYPES,
                    },
                )?;
                match body_schema {
                    Some(b) => p.value_field(JsonStr::new("body"), b)?,
                    None => p.field("body", &Raw("{\"properties\":{}}"))?,
                }
                &["type", "method", "bodyType", "body"]
            }
            Input::Mcp {
                description,
                transport,
                example,
                ..
            } => {
                p.field(
                    "type",
                    &StrSchema {
                        constant: Some("mcp"),
                        one_of: &[],
                    },
                )?;
                p.field("toolName", &Raw("{\"type\":\"string\"}"))?;
                if description.is_some() {
                    p.field("description", &Raw("{\"type\":\"string\"}"))?;
                }
                if let Some(t) = transport {
                    let pinned = [t];
                    let known = MCP_TRANSPORTS.contains(&t);
                    p.field(
                        "transport",
                        &StrSchema {
                            constant: None,
                            one_of: if known { &pinned } else { &[] },
                        },
                    )?;
                }
                p.field("inputSchema", &Raw("{\"type\":\"object\"}"))?;
                if example.is_some() {
                    p.field("example", &Raw("{\"type\":\"object\"}"))?;
                }
                &["type", "toolName", "inputSchema"]
            }
        };
        p.end()?;
        input.key(JsonStr::new("required"))?;
        write_strings(input.sink(), required)?;
        input.bool_field("additionalProperties", false)?;
        input.end()?;
        if self.output().is_some() {
            props.key(JsonStr::new("output"))?;
            let mut o = ObjectWriter::new(props.sink())?;
            o.str_field("type", JsonStr::new("object"))?;
            o.key(JsonStr::new("properties"))?;
            let mut op = ObjectWriter::new(o.sink())?;
            op.field("type", &Raw("{\"type\":\"string\"}"))?;
            op.field(
                "example",
                &Merged {
                    extra: self.output_schema.filter(|s| s.as_object().is_some()),
                },
            )?;
            op.end()?;
            o.key(JsonStr::new("required"))?;
            write_strings(o.sink(), &["type"])?;
            o.end()?;
        }
        props.end()?;
        s.key(JsonStr::new("required"))?;
        write_strings(s.sink(), &["input"])?;
        s.end()
    }
}

fn write_strings(out: &mut dyn Sink, items: &[&str]) -> Result<(), SinkFull> {
    out.put(b"[")?;
    for (i, m) in items.iter().enumerate() {
        if i > 0 {
            out.put(b",")?;
        }
        crate::json::write_escaped(out, JsonStr::new(m))?;
    }
    out.put(b"]")
}

impl ToJson for Declaration<'_> {
    fn write_json(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        out.put(b"{\"info\":")?;
        self.write_info(out)?;
        out.put(b",\"schema\":")?;
        self.write_schema(out)?;
        out.put(b"}")
    }
}

/// An object with the member `key` replaced by what `value` writes (added at
/// the end when absent), the other members as they were.
struct Replaced<'a, 'f> {
    object: JsonObject<'a>,
    key: &'static str,
    value: &'f WriteMember<'f>,
}

/// Writes a member's new value from its old one (if any).
type WriteMember<'f> =
    dyn for<'v> Fn(Option<JsonValue<'v>>, &mut dyn Sink) -> Result<(), SinkFull> + 'f;

impl ToJson for Replaced<'_, '_> {
    fn write_json(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        let mut w = ObjectWriter::new(out)?;
        let mut seen = false;
        for (k, v) in self.object.members() {
            w.key(k)?;
            if k == *self.key {
                seen = true;
                (self.value)(Some(v), w.sink())?;
            } else {
                crate::json::write_compact(w.sink(), v)?;
            }
        }
        if !seen {
            w.key(JsonStr::new(self.key))?;
            (self.value)(None, w.sink())?;
        }
        w.end()
    }
}

fn object_or_empty(v: Option<JsonValue<'_>>) -> Option<JsonObject<'_>> {
    v.and_then(|v| v.as_object())
}

/// A route's HTTP declaration as the reference's server extension enriches
/// it for a request: `info.input.method` is the request's method, and the
/// schema's `input.properties.method` is `{"type": "string", "enum":
/// [method]}`, with `method` among `input.required`. An MCP declaration, or
/// one that is not an object with an object `info.input`, is answered as it
/// came (`None`).
#[must_use]
pub fn enrich(ext: JsonValue<'_>, method: &str) -> Option<String> {
    let e = ext.as_object()?;
    let info = e.get("info")?.as_object()?;
    let input = info.get("input")?.as_object()?;
    if input
        .get("type")
        .and_then(|t| t.as_str())
        .is_some_and(|t| t == *"mcp")
    {
        return None;
    }
    let method_value = |_: Option<JsonValue<'_>>, out: &mut dyn Sink| {
        crate::json::write_escaped(out, JsonStr::new(method))
    };
    let method_schema = |_: Option<JsonValue<'_>>, out: &mut dyn Sink| {
        StrSchema {
            constant: None,
            one_of: &[method],
        }
        .write_json(out)
    };
    let required = |old: Option<JsonValue<'_>>, out: &mut dyn Sink| {
        let list = old.and_then(|r| r.as_array());
        out.put(b"[")?;
        let mut first = true;
        let mut has = false;
        for r in list.iter().flat_map(|l| l.iter()) {
            has |= r.as_str().is_some_and(|s| s == *"method");
            if !first {
                out.put(b",")?;
            }
            first = false;
            crate::json::write_compact(out, r)?;
        }
        if !has {
            if !first {
                out.put(b",")?;
            }
            crate::json::write_escaped(out, JsonStr::new("method"))?;
        }
        out.put(b"]")
    };
    let input_properties = |old: Option<JsonValue<'_>>, out: &mut dyn Sink| {
        Replaced {
            object: object_or_empty(old).unwrap_or(JsonObject::EMPTY),
            key: "method",
            value: &method_schema,
        }
        .write_json(out)
    };
    let input_schema = |old: Option<JsonValue<'_>>, out: &mut dyn Sink| {
        let object = object_or_empty(old).unwrap_or(JsonObject::EMPTY);
        let with_props = Replaced {
            object,
            key: "properties",
            value: &input_properties,
        }
        .to_json_string();
        let parsed = crate::json::parse(
            with_props.as_bytes(),
            &crate::json::Limits {
                max_len: with_props.len(),
                max_depth: 256,
            },
        );
        match parsed.ok().and_then(|p| p.as_object()) {
            Some(o) => Replaced {
                object: o,
                key: "required",
                value: &required,
            }
            .write_json(out),
            None => out.put(with_props.as_bytes()),
        }
    };
    let schema_properties = |old: Option<JsonValue<'_>>, out: &mut dyn Sink| {
        Replaced {
            object: object_or_empty(old).unwrap_or(JsonObject::EMPTY),
            key: "input",
            value: &input_schema,
        }
        .write_json(out)
    };
    let schema = |old: Option<JsonValue<'_>>, out: &mut dyn Sink| {
        Replaced {
            object: object_or_empty(old).unwrap_or(JsonObject::EMPTY),
            key: "properties",
            value: &schema_properties,
        }
        .write_json(out)
    };
    let new_input = |_: Option<JsonValue<'_>>, out: &mut dyn Sink| {
        Replaced {
            object: input,
            key: "method",
            value: &method_value,
        }
        .write_json(out)
    };
    let new_info = |_: Option<JsonValue<'_>>, out: &mut dyn Sink| {
        Replaced {
            object: info,
            key: "input",
            value: &new_input,
        }
        .write_json(out)
    };
    let with_info = Replaced {
        object: e,
        key: "info",
        value: &new_info,
    }
    .to_json_string();
    let limits = crate::json::Limits {
        max_len: with_info.len(),
        max_depth: 256,
    };
    let with_info_obj = crate::json::parse(with_info.as_bytes(), &limits)
        .ok()?
        .as_object()?;
    Some(
        Replaced {
            object: with_info_obj,
            key: "schema",
            value: &schema,
        }
        .to_json_string(),
    )
}

/// What a resource server checks of a route's declaration before serving
/// it: the extension's own rules ([`check_spec`]) and its `info` against its
/// `schema` ([`check_extension`]). The reference only warns at start; a
/// route here is refused instead.
///
/// # Errors
/// The first problem, with its path.
pub fn check_declaration(ext: JsonValue<'_>) -> Result<(), Invalid> {
    check_spec(ext)?;
    check_extension(ext)
}

// ---------------------------------------------------------------------------
// Cataloging (the facilitator's side)

/// Why a payment's declaration is not cataloged. None of these refuses the
/// payment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Dropped {
    /// The payment carries no `extensions.bazaar` object (or is not x402
    /// version 2: version 1's `outputSchema` is not cataloged).
    NotDeclared,
    /// The declaration fails its schema or the subset.
    Invalid(Invalid),
    /// `resource.url` is not an absolute http(s) URL.
    ResourceUrl,
}

impl fmt::Display for Dropped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dropped::NotDeclared => f.write_str("bazaar: not declared"),
            Dropped::Invalid(i) => i.fmt(f),
            Dropped::ResourceUrl => {
                f.write_str("bazaar: resource.url is not an absolute http(s) URL")
            }
        }
    }
}

/// What kind of resource a declaration describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// An HTTP endpoint.
    Http,
    /// An MCP tool.
    Mcp,
}

impl Kind {
    /// `http` or `mcp`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Kind::Http => "http",
            Kind::Mcp => "mcp",
        }
    }
}

/// A resource a facilitator catalogs, from a settled payment's declaration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Discovered {
    /// The catalog key's URL: the resource's origin and path (or the
    /// declaration's valid `routeTemplate`), without query or fragment.
    pub resource: String,
    /// `http` or `mcp` (`info.input.type`).
    pub kind: Kind,
    /// An MCP tool's name (with `resource`, the catalog key of a tool).
    pub tool_name: Option<String>,
    /// An HTTP endpoint's method, if declared.
    pub method: Option<String>,
    /// The declaration's `routeTemplate`, when valid.
    pub route_template: Option<String>,
    /// `resource.description`.
    pub description: Option<String>,
    /// `resource.mimeType`.
    pub mime_type: Option<String>,
    /// `resource.serviceName`, when valid.
    pub service_name: Option<String>,
    /// `resource.tags`, sanitised (possibly empty).
    pub tags: Vec<String>,
    /// `resource.iconUrl`, when valid.
    pub icon_url: Option<String>,
    /// The payment's `accepted` requirements, as JSON.
    pub accepted: String,
    /// The payment's `extensions`, as JSON (the declaration among them).
    pub extensions: String,
}

fn string(o: Option<JsonObject<'_>>, key: &str) -> Option<String> {
    o?.get(key)?.as_str().map(|s| String::from(&*s.to_cow()))
}

/// A facilitator's extraction of the resource to catalog from a version 2
/// `PaymentPayload`: the declaration in `extensions.bazaar` is checked
/// ([`check_extension`]); a valid `routeTemplate` replaces the URL's path;
/// the service metadata is kept field by field when valid.
///
/// # Errors
/// [`Dropped`]: the declaration is absent or invalid, or the resource has no
/// usable URL. The payment itself is not refused for any of these.
pub fn discover(payload: JsonObject<'_>) -> Result<Discovered, Dropped> {
    if payload.get("x402Version").and_then(|v| v.as_u64()) != Some(2) {
        return Err(Dropped::NotDeclared);
    }
    let extensions = payload
        .get("extensions")
        .and_then(|e| e.as_object())
        .ok_or(Dropped::NotDeclared)?;
    let ext = extensions
        .get(BAZAAR)
        .and_then(|e| e.as_object())
        .ok_or(Dropped::NotDeclared)?;
    let template = ext
        .get("routeTemplate")
        .and_then(|t| t.as_str())
        .map(|t| t.to_cow())
        .filter(|t| is_valid_route_template(t));
    check_extension(ext.as_value()).map_err(Dropped::Invalid)?;
    let input = ext
        .get("info")
        .and_then(|i| i.as_object())
        .and_then(|i| i.get("input"))
        .and_then(|i| i.as_object());
    let kind = match input.and_then(|i| i.get("type")).and_then(|t| t.as_str()) {
        Some(t) if t == *"mcp" => Kind::Mcp,
        Some(t) if t == *"http" => Kind::Http,
        _ => {
            return Err(Dropped::Invalid(Invalid::at(
                "info/input/type",
                Violation::Invalid("\"http\" or \"mcp\""),
            )));
        }
    };
    let resource = payload.get("resource").and_then(|r| r.as_object());
    let url = string(resource, "url").ok_or(Dropped::ResourceUrl)?;
    let (origin, path) = origin_and_path(&url).ok_or(Dropped::ResourceUrl)?;
    let mut canonical = origin;
    canonical.push_str(template.as_deref().unwrap_or(&path));
    let tags = resource
        .and_then(|r| r.get("tags"))
        .map(sanitize_tags)
        .unwrap_or_default();
    Ok(Discovered {
        resource: canonical,
        kind,
        tool_name: match kind {
            Kind::Mcp => string(input, "toolName"),
            Kind::Http => None,
        },
        method: match kind {
            Kind::Http => string(input, "method"),
            Kind::Mcp => None,
        },
        route_template: template.map(|t| String::from(&*t)),
        description: string(resource, "description"),
        mime_type: string(resource, "mimeType"),
        service_name: string(resource, "serviceName").filter(|s| is_valid_service_name(s)),
        tags,
        icon_url: string(resource, "iconUrl").filter(|s| is_valid_icon_url(s)),
        accepted: payload
            .get("accepted")
            .map(|a| a.to_json_string())
            .unwrap_or_default(),
        extensions: extensions.as_value().to_json_string(),
    })
}

/// What a facilitator tells the resource server of a declaration it
/// processed (the `bazaar` member of the `EXTENSION-RESPONSES` object):
/// `{"bazaar": {"status": "success"}}`, or `"rejected"` with a
/// `rejectedReason`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtensionResponse {
    /// Why the declaration was not cataloged (`None`: it was).
    pub rejected_reason: Option<String>,
}

impl ToJson for ExtensionResponse {
    fn write_json(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        let mut w = ObjectWriter::new(out)?;
        w.key(JsonStr::new(BAZAAR))?;
        let mut b = ObjectWriter::new(w.sink())?;
        match &self.rejected_reason {
            None => b.str_field("status", JsonStr::new("success"))?,
            Some(why) => {
                b.str_field("status", JsonStr::new("rejected"))?;
                b.str_field("rejectedReason", JsonStr::new(why))?;
            }
        }
        b.end()?;
        w.end()
    }
}

/// The longest `serviceName`, and tag.
pub const MAX_NAME_LEN: usize = 32;
/// How many tags are kept.
pub const MAX_TAGS: usize = 5;
/// The longest `iconUrl`.
pub const MAX_ICON_URL_LEN: usize = 2048;

fn printable_ascii(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| (0x20..=0x7e).contains(&b))
}

/// Whether `resource.serviceName` is kept: 1 to 32 printable ASCII characters.
#[must_use]
pub fn is_valid_service_name(s: &str) -> bool {
    s.len() <= MAX_NAME_LEN && printable_ascii(s)
}

/// `resource.tags` as kept: the strings of 1 to 32 printable ASCII
/// characters, the first of each case-insensitive spelling, at most five.
#[must_use]
pub fn sanitize_tags(tags: JsonValue<'_>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in tags.as_array().iter().flat_map(|a| a.iter()) {
        let Some(t) = t.as_str().map(|t| t.to_cow()) else {
            continue;
        };
        if is_valid_service_name(&t) && !out.iter().any(|o| o.eq_ignore_ascii_case(&t)) {
            out.push(String::from(&*t));
            if out.len() == MAX_TAGS {
                break;
            }
        }
    }
    out
}

/// Percent-decodes once, as JavaScript's `decodeURIComponent`: `None` for a
/// `%` not followed by two hex digits or bytes that are not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'%' {
            let hex = b.get(i + 1..i + 3)?;
            let hex = core::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(c);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Whether a declaration's `routeTemplate` may key the catalog: `/` then
/// only `A-Z a-z 0-9 _ / : . - ~ %`, and, once percent-decoding no longer
/// changes it (at most five passes), no `..` and no `://`.
#[must_use]
pub fn is_valid_route_template(t: &str) -> bool {
    let allowed = |c: u8| c.is_ascii_alphanumeric() || b"_/:.-~%".contains(&c);
    if t.len() < 2 || !t.starts_with('/') || !t.bytes().all(allowed) {
        return false;
    }
    let mut decoded = String::from(t);
    for _ in 0..5 {
        let Some(next) = percent_decode(&decoded) else {
            return false;
        };
        if next == decoded {
            return !decoded.contains("..") && !decoded.contains("://");
        }
        decoded = next;
    }
    false
}

/// An absolute http(s) URL's parts: the scheme (lower case), the
/// authority's host and port, the path (to `?` or `#`).
struct Url<'a> {
    scheme: String,
    userinfo: bool,
    host: &'a str,
    port: Option<&'a str>,
    path: &'a str,
}

fn parse_url(url: &str) -> Option<Url<'_>> {
    if url.bytes().any(|b| b <= 0x20 || b == 0x7f) {
        return None;
    }
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let end = rest.find(['/', '?', '#', '\\']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((_, h)) => (true, h),
        None => (false, authority),
    };
    let (host, port) = if hostport.starts_with('[') {
        match hostport.find(']') {
            Some(i) => {
                let (h, p) = hostport.split_at(i + 1);
                (h, p.strip_prefix(':'))
            }
            None => return None,
        }
    } else {
        match hostport.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        }
    };
    if host.is_empty()
        || port.is_some_and(|p| {
            !p.bytes().all(|b| b.is_ascii_digit()) || p.parse::<u16>().is_err() && !p.is_empty()
        })
    {
        return None;
    }
    let path_end = tail.find(['?', '#']).unwrap_or(tail.len());
    Some(Url {
        scheme,
        userinfo,
        host,
        port: port.filter(|p| !p.is_empty()),
        path: tail.get(..path_end).unwrap_or(""),
    })
}

/// `scheme://host[:port]` (lower case, default port left out) and the path
/// (`/` when empty) of an absolute http(s) URL.
fn origin_and_path(url: &str) -> Option<(String, String)> {
    let u = parse_url(url)?;
    let mut origin = u.scheme.clone();
    origin.push_str("://");
    origin.push_str(&u.host.to_ascii_lowercase());
    let default = if u.scheme == "http" { "80" } else { "443" };
    if let Some(p) = u.port {
        let p = p.trim_start_matches('0');
        let p = if p.is_empty() { "0" } else { p };
        if p != default {
            origin.push(':');
            origin.push_str(p);
        }
    }
    let path = if u.path.is_empty() {
        String::from("/")
    } else {
        u.path.replace('\\', "/")
    };
    Some((origin, path))
}

/// Whether `resource.iconUrl` is kept: at most 2048 characters, no control
/// characters, an absolute http(s) URL without user information whose host
/// (percent-decoded) is a name: not an IP literal, not all digits nor a hex
/// number (`2130706433`, `0x7f000001`), not a loopback name (`localhost`,
/// `localhost.localdomain`, `ip6-localhost`, `ip6-loopback`). Hosts that are
/// not ASCII after decoding are not kept (the reference maps them through
/// IDNA first).
#[must_use]
pub fn is_valid_icon_url(s: &str) -> bool {
    if s.is_empty() || s.len() > MAX_ICON_URL_LEN {
        return false;
    }
    let Some(u) = parse_url(s) else {
        return false;
    };
    if u.userinfo || u.host.starts_with('[') {
        return false;
    }
    let Some(host) = percent_decode(u.host) else {
        return false;
    };
    if !host.is_ascii() {
        return false;
    }
    let host = host.to_ascii_lowercase();
    let host = host.strip_suffix('.').unwrap_or(&host);
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    if !host.split('.').all(label_ok) {
        return false;
    }
    // A last label that is a number makes the host an IPv4 address (in
    // WHATWG's reading, which also takes hex and octal): never a name.
    let last = host.rsplit('.').next().unwrap_or("");
    let numeric = |l: &str| {
        l.bytes().all(|b| b.is_ascii_digit())
            || l.strip_prefix("0x")
                .is_some_and(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
    };
    if numeric(last) {
        return false;
    }
    !matches!(
        host,
        "localhost" | "localhost.localdomain" | "ip6-localhost" | "ip6-loopback"
    )
}

#[cfg(test)]
mod tests;
