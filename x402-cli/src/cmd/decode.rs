//! `paywire decode`: pretty-prints any x402 header and lists what is wrong with it.

use paywire::client::{self, Policy};
use paywire::header::{self, Decoded, HeaderKind};
use paywire::json::ToJson;
use paywire::types::facilitator::{PaymentPayload, PaymentRequired, PaymentRequirements};
use paywire::types::{List, v1, v2};
use paywire::verify::{self, Config};
use paywire::{Error, ErrorKind, Reason};

use crate::args::{self, flag, value};
use crate::fail::{EXIT_INVALID, Failure, field_of};
use crate::out::{J, indent, pretty};

const HELP: &str = "\
usage: paywire decode [--json] [--now UNIX_SECONDS] <HEADER | ->

Decodes an x402 header value (PAYMENT-REQUIRED, PAYMENT-SIGNATURE, PAYMENT-RESPONSE,
X-PAYMENT, X-PAYMENT-RESPONSE; the kind is detected from the content, or taken from a
`Name: value` prefix), prints its JSON, and lists what is wrong with it: the first
decoding error with its field and reason, or for a payment the checks it fails
against its own `accepted` requirement (signature, expiry, amount) as of now.
A JSON document is accepted too. `-` reads standard input; a file path reads the file.

Exit status: 0 decoded with no problem, 1 problems listed, 2 usage or I/O error.
";

const SPEC: &[args::Opt] = &[flag("json"), value("now")];

/// A problem found: the protocol reason, the field, what is wrong.
struct Problem {
    reason: &'static str,
    field: Option<String>,
    message: String,
}

impl Problem {
    fn of(e: &Error) -> Problem {
        Problem {
            reason: e.reason().as_str(),
            field: field_of(e),
            message: e.to_string(),
        }
    }

    fn to_json(&self) -> J {
        let mut m = vec![("reason", J::str(self.reason))];
        if let Some(f) = &self.field {
            m.push(("field", J::str(f)));
        }
        m.push(("message", J::str(&self.message)));
        J::obj(m)
    }
}

pub(crate) fn run(argv: &[String]) -> Result<u8, Failure> {
    let p = args::parse(argv, SPEC, "decode")?;
    if let Some(code) = super::help(&p, HELP) {
        return Ok(code);
    }
    let json_out = p.has("json");
    let now = super::now(&p)?;
    let arg = p.one_positional("a header value (or - for standard input)", "decode")?;
    let text = crate::input::text_arg(arg, "header")?;
    let (named, value) = crate::input::header_line(&text)?;
    if value.is_empty() {
        return Err(Failure::usage("the header value is empty"));
    }
    // A JSON document is decoded as the header that would carry it.
    let is_json = value.starts_with('{');
    let value = if is_json {
        crate::paywall::header_value(value.as_bytes())
    } else {
        value.to_string()
    };
    let mut buf = vec![0u8; header::base64_decoded_len(value.len()) + 3];
    let decoded = match named {
        Some(kind) => header::decode(kind, &value, &mut buf),
        None => header::decode_any(&value, &mut buf),
    };
    let doc = match decoded {
        Ok(doc) => doc,
        Err(e) => return Ok(report_undecodable(&e, &value, is_json, json_out)),
    };
    let kind = named.unwrap_or_else(|| doc.kind());
    let doc_json = doc.to_json_vec();
    let mut problems = Vec::new();
    let mut notes = Vec::new();
    check(&doc, now, &mut problems, &mut notes);
    let same = header::encode_to_string(&doc) == value;

    if json_out {
        let report = J::obj(vec![
            ("valid", J::Bool(problems.is_empty())),
            ("header", J::str(kind.name())),
            ("x402Version", J::Num(u64::from(version_of(&doc, kind)))),
            ("characters", J::Num(value.len() as u64)),
            ("jsonBytes", J::Num(doc_json.len() as u64)),
            ("reencodesIdentically", J::Bool(same)),
            ("document", J::raw(&doc_json)),
            (
                "problems",
                J::Arr(problems.iter().map(Problem::to_json).collect()),
            ),
            ("notes", J::Arr(notes.iter().map(J::str).collect())),
        ]);
        crate::say(&format!("{}\n", report.compact()));
    } else {
        let mut s = format!(
            "{} (x402 version {}): {} characters, {} bytes of JSON{}\n",
            kind.name(),
            version_of(&doc, kind),
            value.len(),
            doc_json.len(),
            if is_json { ", given as JSON" } else { "" }
        );
        s.push_str(&pretty(&doc_json));
        s.push('\n');
        for n in &notes {
            s.push_str(&format!("note: {n}\n"));
        }
        if !is_json && !same {
            s.push_str("note: re-encoding gives other bytes (the JSON had insignificant whitespace or non-canonical escapes)\n");
        }
        if problems.is_empty() {
            s.push_str("no problems found\n");
        } else {
            s.push_str(&format!("{} problem(s):\n", problems.len()));
            for pr in &problems {
                s.push_str(&format!("  - {}\n", pr.message));
            }
        }
        crate::say(&s);
    }
    Ok(if problems.is_empty() { 0 } else { EXIT_INVALID })
}

fn version_of(doc: &Decoded<'_>, kind: HeaderKind) -> u8 {
    match doc {
        Decoded::PaymentRequired(pr) => pr.x402_version(),
        Decoded::PaymentPayload(p) => p.x402_version(),
        Decoded::SettleResponse(_) => kind.x402_version(),
    }
}

/// Semantic checks of a decoded document.
fn check(doc: &Decoded<'_>, now: u64, problems: &mut Vec<Problem>, notes: &mut Vec<String>) {
    match doc {
        Decoded::PaymentPayload(PaymentPayload::V2(p)) => {
            let v = verify::verify_parts(
                &PaymentPayload::V2(*p),
                &PaymentRequirements::V2(p.accepted),
                now,
                &Config::default(),
            );
            match v.reason {
                Some(Reason::UnsupportedScheme) => notes.push(format!(
                    "no offline verifier for scheme {} here: its signature and amounts are not checked",
                    p.accepted.scheme
                )),
                None => notes.push(format!(
                    "checked against its own `accepted` as of {now}: signature, recipient, \
                     validity window and amount agree (a server checks it against its own requirements)"
                )),
                Some(r) => problems.push(Problem {
                    reason: r.as_str(),
                    field: None,
                    message: format!(
                        "{r}: {} (checked against its own `accepted`, as of {now})",
                        v.message.as_str()
                    ),
                }),
            }
        }
        Decoded::PaymentPayload(PaymentPayload::V1(_)) => notes.push(
            "a v1 payment carries no requirements: check it with `paywire verify --requirements FILE`"
                .into(),
        ),
        Decoded::PaymentRequired(pr) => {
            if accepts_len(pr) == 0 {
                problems.push(Problem {
                    reason: "invalid_payment_requirements",
                    field: Some("accepts".into()),
                    message: "invalid_payment_requirements: accepts is empty: nothing can be paid"
                        .into(),
                });
            }
            payable_notes(pr, notes);
        }
        Decoded::SettleResponse(r) => {
            if !r.success {
                notes.push(format!(
                    "settlement failed: {}",
                    r.error_reason.map_or_else(
                        || "no errorReason given".into(),
                        |e| e.to_cow().into_owned()
                    )
                ));
            }
        }
    }
}

fn accepts_len(pr: &PaymentRequired<'_>) -> usize {
    match pr {
        PaymentRequired::V1(p) => p.accepts.len(),
        PaymentRequired::V2(p) => p.accepts.len(),
    }
}

/// Whether this client could pay each entry of `accepts` (no policy limits).
fn payable_notes(pr: &PaymentRequired<'_>, notes: &mut Vec<String>) {
    let mut note = |i: usize, single: &PaymentRequired<'_>| {
        notes.push(
            match client::select_requirement(single, &Policy::default()) {
                Ok(s) => format!(
                    "accepts[{i}]: payable with `paywire pay` ({} on {}, {} atomic units)",
                    s.requirements.scheme(),
                    s.requirements.network(),
                    s.requirements.amount()
                ),
                Err(e) => format!("accepts[{i}]: not payable by this client: {}", e.kind()),
            },
        );
    };
    match pr {
        PaymentRequired::V1(p) => {
            let reqs: Vec<v1::PaymentRequirements<'_>> = p.accepts.iter().collect();
            for (i, r) in reqs.iter().enumerate() {
                let accepts = List::Slice(std::slice::from_ref(r));
                note(
                    i,
                    &PaymentRequired::V1(v1::PaymentRequired { accepts, ..*p }),
                );
            }
        }
        PaymentRequired::V2(p) => {
            let reqs: Vec<v2::PaymentRequirements<'_>> = p.accepts.iter().collect();
            for (i, r) in reqs.iter().enumerate() {
                let accepts = List::Slice(std::slice::from_ref(r));
                note(
                    i,
                    &PaymentRequired::V2(v2::PaymentRequired { accepts, ..*p }),
                );
            }
        }
    }
}

/// Prints the decoding error with hints, and returns the exit status.
fn report_undecodable(e: &Error, value: &str, is_json: bool, json_out: bool) -> u8 {
    let hints = hints(e, value, is_json);
    let problem = Problem::of(e);
    if json_out {
        let report = J::obj(vec![
            ("valid", J::Bool(false)),
            ("problems", J::Arr(vec![problem.to_json()])),
            ("hints", J::Arr(hints.iter().map(J::str).collect())),
        ]);
        crate::say(&format!("{}\n", report.compact()));
    } else {
        let mut s = String::from("not a valid x402 header; 1 problem:\n");
        s.push_str(&format!("  - {}\n", problem.message));
        if let Some(f) = &problem.field {
            s.push_str(&format!("    field: {f}\n"));
        }
        for h in &hints {
            s.push_str(&indent(&format!("hint: {h}"), 2));
            s.push('\n');
        }
        crate::say(&s);
    }
    EXIT_INVALID
}

/// Likely causes of a decoding error, from the raw value.
fn hints(e: &Error, value: &str, is_json: bool) -> Vec<String> {
    let mut h = Vec::new();
    match e.kind() {
        ErrorKind::Base64 => {
            if value.contains(['-', '_']) {
                h.push("it uses the URL-safe alphabet (- and _): x402 headers use standard base64 (+ and /)".into());
            }
            if value.contains(char::is_whitespace) {
                h.push("it contains whitespace or a line break: join the lines".into());
            }
            if let Some(c) = value
                .chars()
                .find(|c| !(c.is_ascii_alphanumeric() || "+/=-_".contains(*c) || c.is_whitespace()))
            {
                h.push(format!("it contains {c:?}, which is not a base64 character"));
            }
            if !value.len().is_multiple_of(4) {
                h.push(format!(
                    "its length ({}) is not a multiple of 4: the value is truncated, or its '=' padding was dropped",
                    value.len()
                ));
            }
        }
        ErrorKind::Syntax { offset } | ErrorKind::TrailingBytes { offset } => {
            let json_len = header::decode_to_vec(value, usize::MAX)
                .map(|j| j.len())
                .unwrap_or(0);
            if offset >= json_len && !is_json {
                h.push(format!(
                    "the JSON inside ends early (at byte {offset} of {json_len}): the header looks truncated"
                ));
            }
        }
        ErrorKind::TooLarge { limit } => h.push(format!(
            "x402 documents are at most {limit} bytes: this is not a header value, or it was concatenated"
        )),
        _ => {}
    }
    h
}
