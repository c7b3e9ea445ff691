//! Property tests: random valid documents decode, and re-encode to exactly the
//! bytes they came from (and that is a fixed point), directly and through the
//! header codec; the JSON reader accepts and reproduces serde_json's output and,
//! on arbitrary bytes, never panics and never accepts what serde_json refuses.
//!
//! Documents are generated as trees with ordered members (shuffled, so known
//! members come in any order among unknown ones) and written compactly with
//! serde_json's own string escaping. serde_json escapes exactly as
//! `JSON.stringify` does for valid Unicode text (`"` `\` by backslash, `\b \f \n
//! \r \t` by name, other controls as lower-case `\u00xx`; `/`, U+007F and
//! U+2028/U+2029 raw), so no character needs to be excluded from the strings.
//! Each document is also checked in serde_json's own `to_vec` form of its value
//! (members sorted by key).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use paywire::evm::{Address, B256};
use paywire::header::{self, HeaderKind};
use paywire::json::{self, Limits, ToJson};
use paywire::types::facilitator::{self, SettleResponse, VerifyResponse};
use paywire::types::payload::SchemePayload;
use paywire::types::{FromJson, v1, v2};
use paywire::{Amount, Error};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::Value;

// ---------------------------------------------------------------------------
// JSON trees with ordered members.

#[derive(Clone, Debug)]
enum J {
    Null,
    Bool(bool),
    /// The number's text, as serde_json writes it.
    Num(String),
    Str(String),
    Arr(Vec<J>),
    Obj(Vec<(String, J)>),
}

impl J {
    fn s(text: impl Into<String>) -> J {
        J::Str(text.into())
    }

    fn write(&self, out: &mut String) {
        match self {
            J::Null => out.push_str("null"),
            J::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            J::Num(n) => out.push_str(n),
            J::Str(s) => out.push_str(&serde_json::to_string(s).unwrap()),
            J::Arr(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write(out);
                }
                out.push(']');
            }
            J::Obj(members) => {
                out.push('{');
                for (i, (k, v)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&serde_json::to_string(k).unwrap());
                    out.push(':');
                    v.write(out);
                }
                out.push('}');
            }
        }
    }

    /// Compact JSON, members in tree order.
    fn bytes(&self) -> Vec<u8> {
        let mut s = String::new();
        self.write(&mut s);
        s.into_bytes()
    }

    fn to_value(&self) -> Value {
        match self {
            J::Null => Value::Null,
            J::Bool(b) => Value::Bool(*b),
            J::Num(n) => serde_json::from_str(n).unwrap(),
            J::Str(s) => Value::String(s.clone()),
            J::Arr(items) => Value::Array(items.iter().map(J::to_value).collect()),
            J::Obj(members) => Value::Object(
                members
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_value()))
                    .collect(),
            ),
        }
    }
}

/// Object members under construction.
#[derive(Default)]
struct M(Vec<(String, J)>);

impl M {
    fn put(mut self, k: &str, v: J) -> Self {
        self.0.push((k.to_owned(), v));
        self
    }
    fn opt(self, k: &str, v: Option<J>) -> Self {
        match v {
            Some(v) => self.put(k, v),
            None => self,
        }
    }
    fn opt_s(self, k: &str, v: Option<String>) -> Self {
        self.opt(k, v.map(J::Str))
    }
    /// Appends members, skipping keys already present, and shuffles the lot.
    fn shuffled(mut self, unknown: Vec<(String, J)>) -> BoxedStrategy<J> {
        for (k, v) in unknown {
            if !self.0.iter().any(|(known, _)| *known == k) {
                self.0.push((k, v));
            }
        }
        Just(self.0).prop_shuffle().prop_map(J::Obj).boxed()
    }
}

fn dedupe(members: Vec<(String, J)>) -> Vec<(String, J)> {
    let mut out: Vec<(String, J)> = Vec::new();
    for (k, v) in members {
        if !out.iter().any(|(seen, _)| *seen == k) {
            out.push((k, v));
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Value strategies.

/// Characters that stress escaping, plus ASCII letters and any Unicode scalar.
fn ch() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => proptest::char::range('a', 'z'),
        3 => select(vec![
            '"', '\\', '/', '\u{7f}', '\u{0}', '\u{1}', '\u{1f}', '\n', '\r', '\t', '\u{8}',
            '\u{c}', '\u{2028}', '\u{2029}', '\u{e9}', '\u{20ac}', '\u{1f600}', '\u{fffd}',
            '\u{feff}', ' ', '<', '\'',
        ]),
        2 => any::<char>(),
    ]
}

fn text() -> impl Strategy<Value = String> {
    vec(ch(), 0..12).prop_map(|cs| cs.into_iter().collect())
}

/// A key no protocol type knows (they are all ASCII letters).
fn unknown_key() -> impl Strategy<Value = String> {
    text().prop_map(|t| format!("_{t}"))
}

/// Numbers as serde_json writes them.
fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<u64>().prop_map(|n| n.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| serde_json::to_string(&f).unwrap()),
    ]
}

fn any_json(depth: u32) -> impl Strategy<Value = J> {
    let leaf = prop_oneof![
        Just(J::Null),
        any::<bool>().prop_map(J::Bool),
        number().prop_map(J::Num),
        text().prop_map(J::Str),
    ];
    leaf.prop_recursive(depth, 24, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(J::Arr),
            vec((text(), inner), 0..4).prop_map(|m| J::Obj(dedupe(m))),
        ]
    })
}

/// Unknown members for a protocol object: up to `n`, with nested values.
fn unknown(n: usize) -> impl Strategy<Value = Vec<(String, J)>> {
    vec((unknown_key(), any_json(2)), 0..=n)
}

/// A free-form object (`extensions`, `outputSchema`).
fn free_object() -> impl Strategy<Value = J> {
    vec((text(), any_json(3)), 0..4).prop_map(|m| J::Obj(dedupe(m)))
}

/// 32 big-endian bytes in decimal, by schoolbook division (independent of `Amount`).
fn decimal(be: [u8; 32]) -> String {
    let mut n = be;
    let mut digits = Vec::new();
    loop {
        let mut rem = 0u32;
        for b in &mut n {
            let cur = rem * 256 + u32::from(*b);
            *b = (cur / 10) as u8;
            rem = cur % 10;
        }
        digits.push(b'0' + rem as u8);
        if n.iter().all(|&b| b == 0) {
            break;
        }
    }
    digits.reverse();
    String::from_utf8(digits).unwrap()
}

/// A canonical uint256 decimal.
fn amount() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => any::<[u8; 32]>().prop_map(decimal),
        2 => any::<u64>().prop_map(|n| n.to_string()),
        1 => Just("0".to_owned()),
        1 => Just(decimal([0xff; 32])),
    ]
}

fn hex(bytes: usize) -> impl Strategy<Value = String> {
    vec(any::<u8>(), bytes).prop_map(|b| {
        let digits: String = b.iter().map(|x| format!("{x:02x}")).collect();
        format!("0x{digits}")
    })
}

fn address() -> impl Strategy<Value = String> {
    hex(20)
}

/// `asset` / `payTo`: an address, or any text (other schemes, `USD`).
fn asset() -> impl Strategy<Value = String> {
    prop_oneof![address(), text()]
}

fn caip2() -> impl Strategy<Value = String> {
    prop_oneof![
        (1u64..).prop_map(|id| format!("eip155:{id}")),
        ("[-a-z0-9]{3,32}", "[-_a-zA-Z0-9+/=.]{1,64}")
            .prop_filter("eip155 needs a chain id", |(ns, _)| ns != "eip155")
            .prop_map(|(ns, r)| format!("{ns}:{r}")),
    ]
}

fn v1_network() -> impl Strategy<Value = String> {
    "[-a-z0-9]{1,64}"
}

/// v1 documents carry v1 names, and are read with CAIP-2 networks too.
fn v1_document_network() -> impl Strategy<Value = String> {
    prop_oneof![3 => v1_network(), 1 => caip2()]
}

// ---------------------------------------------------------------------------
// Document strategies.

fn resource_v2() -> impl Strategy<Value = J> {
    (text(), option::of(text()), option::of(text()), unknown(2)).prop_flat_map(
        |(url, description, mime, unk)| {
            M::default()
                .put("url", J::s(url))
                .opt_s("description", description)
                .opt_s("mimeType", mime)
                .shuffled(unk)
        },
    )
}

fn extra() -> impl Strategy<Value = J> {
    (
        option::of(text()),
        option::of(text()),
        option::of(select(vec!["eip3009", "permit2"])),
        option::of(address()),
        unknown(2),
    )
        .prop_flat_map(|(name, version, method, facilitator, unk)| {
            M::default()
                .opt_s("name", name)
                .opt_s("version", version)
                .opt_s("assetTransferMethod", method.map(str::to_owned))
                .opt_s("facilitatorAddress", facilitator)
                .shuffled(unk)
        })
}

fn requirements_v2() -> impl Strategy<Value = J> {
    (
        text(),
        caip2(),
        amount(),
        asset(),
        asset(),
        any::<u64>(),
        option::of(extra()),
        unknown(2),
    )
        .prop_flat_map(
            |(scheme, network, amt, asset, pay_to, timeout, extra, unk)| {
                M::default()
                    .put("scheme", J::s(scheme))
                    .put("network", J::s(network))
                    .put("amount", J::s(amt))
                    .put("asset", J::s(asset))
                    .put("payTo", J::s(pay_to))
                    .put("maxTimeoutSeconds", J::Num(timeout.to_string()))
                    .opt("extra", extra)
                    .shuffled(unk)
            },
        )
}

fn payment_required_v2() -> impl Strategy<Value = J> {
    (
        option::of(text()),
        resource_v2(),
        vec(requirements_v2(), 0..=3),
        option::of(free_object()),
        unknown(2),
    )
        .prop_flat_map(|(error, resource, accepts, extensions, unk)| {
            M::default()
                .put("x402Version", J::Num("2".into()))
                .opt_s("error", error)
                .put("resource", resource)
                .put("accepts", J::Arr(accepts))
                .opt("extensions", extensions)
                .shuffled(unk)
        })
}

/// The EIP-3009 scheme payload `{signature, authorization}`.
fn eip3009() -> impl Strategy<Value = J> {
    (
        (address(), address(), amount(), amount(), amount(), hex(32)),
        hex(65),
        unknown(1),
        unknown(1),
    )
        .prop_flat_map(
            |((from, to, value, after, before, nonce), sig, unk_a, unk_p)| {
                let auth = M::default()
                    .put("from", J::s(from))
                    .put("to", J::s(to))
                    .put("value", J::s(value))
                    .put("validAfter", J::s(after))
                    .put("validBefore", J::s(before))
                    .put("nonce", J::s(nonce))
                    .shuffled(unk_a);
                (auth, Just(sig), Just(unk_p)).prop_flat_map(|(auth, sig, unk_p)| {
                    M::default()
                        .put("signature", J::s(sig))
                        .put("authorization", auth)
                        .shuffled(unk_p)
                })
            },
        )
}

fn payment_payload_v2() -> impl Strategy<Value = J> {
    (
        option::of(resource_v2()),
        requirements_v2(),
        eip3009(),
        option::of(free_object()),
        unknown(2),
    )
        .prop_flat_map(|(resource, accepted, payload, extensions, unk)| {
            M::default()
                .put("x402Version", J::Num("2".into()))
                .opt("resource", resource)
                .put("accepted", accepted)
                .put("payload", payload)
                .opt("extensions", extensions)
                .shuffled(unk)
        })
}

fn settle_response() -> impl Strategy<Value = J> {
    (
        any::<bool>(),
        option::of(text()),
        option::of(text()),
        option::of(prop_oneof![address(), text()]),
        prop_oneof![hex(32), text()],
        prop_oneof![caip2(), v1_network()],
        option::of(amount()),
        option::of(free_object()),
        unknown(2),
    )
        .prop_flat_map(
            |(success, reason, message, payer, tx, network, amt, extensions, unk)| {
                M::default()
                    .put("success", J::Bool(success))
                    .opt_s("errorReason", reason)
                    .opt_s("errorMessage", message)
                    .opt_s("payer", payer)
                    .put("transaction", J::s(tx))
                    .put("network", J::s(network))
                    .opt_s("amount", amt)
                    .opt("extensions", extensions)
                    .shuffled(unk)
            },
        )
}

fn verify_response() -> impl Strategy<Value = J> {
    (
        any::<bool>(),
        option::of(text()),
        option::of(text()),
        option::of(address()),
        option::of(free_object()),
        unknown(2),
    )
        .prop_flat_map(|(valid, reason, message, payer, extensions, unk)| {
            M::default()
                .put("isValid", J::Bool(valid))
                .opt_s("invalidReason", reason)
                .opt_s("invalidMessage", message)
                .opt_s("payer", payer)
                .opt("extensions", extensions)
                .shuffled(unk)
        })
}

fn requirements_v1() -> impl Strategy<Value = J> {
    (
        (
            text(),
            v1_document_network(),
            amount(),
            text(),
            text(),
            option::of(text()),
        ),
        (
            option::of(free_object()),
            asset(),
            any::<u64>(),
            asset(),
            option::of(extra()),
            unknown(2),
        ),
    )
        .prop_flat_map(
            |(
                (scheme, network, amt, resource, description, mime),
                (schema, pay_to, timeout, asset, extra, unk),
            )| {
                M::default()
                    .put("scheme", J::s(scheme))
                    .put("network", J::s(network))
                    .put("maxAmountRequired", J::s(amt))
                    .put("resource", J::s(resource))
                    .put("description", J::s(description))
                    .opt_s("mimeType", mime)
                    .opt("outputSchema", schema)
                    .put("payTo", J::s(pay_to))
                    .put("maxTimeoutSeconds", J::Num(timeout.to_string()))
                    .put("asset", J::s(asset))
                    .opt("extra", extra)
                    .shuffled(unk)
            },
        )
}

fn payment_required_v1() -> impl Strategy<Value = J> {
    (
        option::of(text()),
        vec(requirements_v1(), 0..=3),
        unknown(2),
    )
        .prop_flat_map(|(error, accepts, unk)| {
            M::default()
                .put("x402Version", J::Num("1".into()))
                .opt_s("error", error)
                .put("accepts", J::Arr(accepts))
                .shuffled(unk)
        })
}

fn payment_payload_v1() -> impl Strategy<Value = J> {
    (text(), v1_document_network(), eip3009(), unknown(2)).prop_flat_map(
        |(scheme, network, payload, unk)| {
            M::default()
                .put("x402Version", J::Num("1".into()))
                .put("scheme", J::s(scheme))
                .put("network", J::s(network))
                .put("payload", payload)
                .shuffled(unk)
        },
    )
}

// ---------------------------------------------------------------------------
// Checks.

/// Decodes and re-encodes with one document type.
type Codec = fn(&[u8]) -> Result<Vec<u8>, Error>;

macro_rules! codec {
    ($t:ty) => {
        (|b: &[u8]| <$t>::from_json_bytes(b, &Limits::DEFAULT).map(|d| d.to_json_vec())) as Codec
    };
}

/// Standard base64 with padding, written here independently of the crate.
fn b64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn text_of(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// (a) decodes; (b) re-encodes to exactly `bytes`; (c) that is a fixed point;
/// (d) the same through the header codec, when the type travels in a header.
fn check_bytes(
    bytes: &[u8],
    codec: Codec,
    header: Option<HeaderKind>,
) -> Result<(), TestCaseError> {
    prop_assert!(
        bytes.len() <= Limits::DEFAULT.max_len,
        "generator made {} bytes",
        bytes.len()
    );
    let out =
        codec(bytes).map_err(|e| TestCaseError::fail(format!("{e} in {}", text_of(bytes))))?;
    prop_assert_eq!(text_of(&out), text_of(bytes));
    let again = codec(&out).map_err(|e| TestCaseError::fail(format!("re-decoding: {e}")))?;
    prop_assert_eq!(text_of(&again), text_of(&out));

    if let Some(kind) = header {
        let value = b64(bytes);
        let mut buf = vec![0u8; value.len()];
        let decoded = header::decode(kind, &value, &mut buf)
            .map_err(|e| TestCaseError::fail(format!("header: {e}")))?;
        prop_assert_eq!(text_of(&decoded.to_json_vec()), text_of(bytes));
        let encoded = header::encode_to_string(&decoded);
        prop_assert_eq!(&encoded, &value);
        let mut out = vec![0u8; header::encoded_len(&decoded)];
        let n = header::encode(&decoded, &mut out).unwrap();
        prop_assert_eq!(&out[..n], value.as_bytes());
        let mut buf2 = vec![0u8; encoded.len()];
        let twice = header::decode(kind, &encoded, &mut buf2).unwrap();
        prop_assert_eq!(header::encode_to_string(&twice), value);
    }
    Ok(())
}

/// [`check_bytes`] on the tree's bytes, and on serde_json's `to_vec` of its value.
fn check(doc: &J, codec: Codec, header: Option<HeaderKind>) -> Result<(), TestCaseError> {
    check_bytes(&doc.bytes(), codec, header)?;
    check_bytes(&serde_json::to_vec(&doc.to_value()).unwrap(), codec, header)
}

fn amount_of(v: &Value) -> Amount {
    v.as_str().unwrap().parse().unwrap()
}

// ---------------------------------------------------------------------------
// Properties.

proptest! {
    #[test]
    fn v2_payment_required_roundtrips(doc in payment_required_v2()) {
        check(&doc, codec!(facilitator::PaymentRequired<'_>), Some(HeaderKind::PaymentRequired))?;
        check(&doc, codec!(v2::PaymentRequired<'_>), None)?;
        // The typed fields are the generated ones.
        let bytes = doc.bytes();
        let value = doc.to_value();
        let pr = facilitator::PaymentRequired::from_json_bytes(&bytes, &Limits::DEFAULT).unwrap();
        let facilitator::PaymentRequired::V2(pr) = pr else { panic!("not v2") };
        prop_assert_eq!(pr.accepts.len(), value["accepts"].as_array().unwrap().len());
        for (req, want) in pr.accepts.iter().zip(value["accepts"].as_array().unwrap()) {
            prop_assert_eq!(req.amount, amount_of(&want["amount"]));
            prop_assert_eq!(req.network.as_str(), want["network"].as_str().unwrap());
            prop_assert_eq!(req.max_timeout_seconds, want["maxTimeoutSeconds"].as_u64().unwrap());
            prop_assert_eq!(req.pay_to.to_string(), want["payTo"].as_str().unwrap());
        }
        prop_assert_eq!(pr.resource.url.to_string(), value["resource"]["url"].as_str().unwrap());
    }

    #[test]
    fn v2_payment_payload_roundtrips(doc in payment_payload_v2()) {
        check(&doc, codec!(facilitator::PaymentPayload<'_>), Some(HeaderKind::PaymentSignature))?;
        check(&doc, codec!(v2::PaymentPayload<'_>), None)?;
        // The EIP-3009 authorization reads as generated.
        let bytes = doc.bytes();
        let value = doc.to_value();
        let facilitator::PaymentPayload::V2(p) =
            facilitator::PaymentPayload::from_json_bytes(&bytes, &Limits::DEFAULT).unwrap()
        else {
            panic!("not v2")
        };
        let SchemePayload::Eip3009(exact) = SchemePayload::from_object(p.payload_json().unwrap())
            .map_err(|e| TestCaseError::fail(e.to_string()))?
        else {
            panic!("not EIP-3009")
        };
        let want = &value["payload"]["authorization"];
        let a = exact.authorization;
        prop_assert_eq!(a.from, want["from"].as_str().unwrap().parse::<Address>().unwrap());
        prop_assert_eq!(a.to.to_string().to_lowercase(), want["to"].as_str().unwrap());
        prop_assert_eq!(a.value, amount_of(&want["value"]));
        prop_assert_eq!(a.valid_after.to_string(), want["validAfter"].as_str().unwrap());
        prop_assert_eq!(a.valid_before, amount_of(&want["validBefore"]));
        prop_assert_eq!(a.nonce, want["nonce"].as_str().unwrap().parse::<B256>().unwrap());
        prop_assert_eq!(exact.signature.to_string(), value["payload"]["signature"].as_str().unwrap());
        prop_assert_eq!(p.accepted.amount.to_string(), value["accepted"]["amount"].as_str().unwrap());
    }

    #[test]
    fn settle_response_roundtrips(doc in settle_response()) {
        check(&doc, codec!(SettleResponse<'_>), Some(HeaderKind::PaymentResponse))?;
        let value = doc.to_value();
        // A v1 network name travels in X-PAYMENT-RESPONSE too.
        if !value["network"].as_str().unwrap().contains(':') {
            check_bytes(&doc.bytes(), codec!(SettleResponse<'_>), Some(HeaderKind::XPaymentResponse))?;
        }
        let bytes = doc.bytes();
        let r = SettleResponse::from_json_bytes(&bytes, &Limits::DEFAULT).unwrap();
        prop_assert_eq!(r.success, value["success"].as_bool().unwrap());
        prop_assert_eq!(r.amount, value.get("amount").map(amount_of));
        prop_assert_eq!(r.network.as_str(), value["network"].as_str().unwrap());
    }

    #[test]
    fn verify_response_roundtrips(doc in verify_response()) {
        check(&doc, codec!(VerifyResponse<'_>), None)?;
    }

    #[test]
    fn v1_documents_roundtrip(
        req in requirements_v1(),
        pr in payment_required_v1(),
        pp in payment_payload_v1(),
    ) {
        check(&req, codec!(v1::PaymentRequirements<'_>), None)?;
        check(&pr, codec!(facilitator::PaymentRequired<'_>), Some(HeaderKind::PaymentRequired))?;
        check(&pr, codec!(v1::PaymentRequired<'_>), None)?;
        check(&pp, codec!(facilitator::PaymentPayload<'_>), Some(HeaderKind::XPayment))?;
        let bytes = req.bytes();
        let r = v1::PaymentRequirements::from_json_bytes(&bytes, &Limits::DEFAULT).unwrap();
        prop_assert_eq!(r.max_amount_required, amount_of(&req.to_value()["maxAmountRequired"]));
    }

    /// serde_json's output, compact and pretty, is accepted and written back compactly
    /// byte for byte.
    #[test]
    fn parser_reproduces_serde_json(doc in any_json(8)) {
        let value = doc.to_value();
        let limits = Limits { max_len: 1 << 20, ..Limits::DEFAULT };
        let compact = serde_json::to_vec(&value).unwrap();
        for input in [compact.clone(), serde_json::to_vec_pretty(&value).unwrap(), doc.bytes()] {
            let v = json::parse(&input, &limits)
                .map_err(|e| TestCaseError::fail(format!("{e} in {}", text_of(&input))))?;
            let mut out = Vec::new();
            json::write_compact(&mut out, v).unwrap();
            let want = if input == doc.bytes() { doc.bytes() } else { compact.clone() };
            prop_assert_eq!(text_of(&out), text_of(&want));
        }
    }
}

proptest! {
    // Cheap cases, most of them rejected: run more of them.
    #![proptest_config(ProptestConfig::with_cases(4096))]

    /// On any bytes the reader returns (no panic), and what it accepts serde_json
    /// accepts too, with the same meaning as our compact re-encoding.
    #[test]
    fn parser_is_total_and_no_laxer_than_serde_json(input in arbitrary_input()) {
        check_parser(&input)?;
    }
}

/// Byte soups of JSON tokens, mutations of valid documents, and raw bytes.
fn arbitrary_input() -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        4 => select(vec![
            "{", "}", "[", "]", ":", ",", "\"a\"", "\"b\"", "\"\\u0061\"", "1", "-0", "0.5e+3",
            "1e400", "01", "-", ".5", "true", "false", "null", "\"\\ud800\"", "\"\\udc00\"",
            "\"\\ud83d\\ude00\"", "\"", "\\", " ", "\n", "\"\\\"\"", "\"\\/\"", "tru", "\u{7f}",
            "\u{e9}", "\"\\u00\"", "\t", "\r", "\u{feff}",
        ])
        .prop_map(|s| s.as_bytes().to_vec()),
        1 => any::<u8>().prop_map(|b| vec![b]),
    ];
    prop_oneof![
        2 => vec(token, 0..48).prop_map(|ts| ts.concat()),
        3 => (any_json(4), vec((any::<usize>(), mutation_byte(), 0..3u8), 1..=2)).prop_map(|(doc, edits)| {
            let mut b = doc.bytes();
            for (at, byte, op) in edits {
                let i = at % (b.len() + 1);
                match op {
                    0 if i < b.len() => b[i] = byte,
                    1 => b.insert(i, byte),
                    _ if i < b.len() => {
                        b.remove(i);
                    }
                    _ => {}
                }
            }
            b
        }),
        1 => vec(any::<u8>(), 0..64),
    ]
}

/// A byte for mutations: JSON's structural bytes more often than chance.
fn mutation_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        select(b"{}[]:,\"\\ \t\n0123456789-+.eEu/btnrfa".to_vec()),
        any::<u8>(),
    ]
}

fn check_parser(input: &[u8]) -> Result<(), TestCaseError> {
    let Ok(v) = json::parse(input, &Limits::DEFAULT) else {
        return Ok(());
    };
    match serde_json::from_slice::<Value>(input) {
        Ok(theirs) => {
            let ours = v.to_json_vec();
            let back: Value = serde_json::from_slice(&ours).map_err(|e| {
                TestCaseError::fail(format!("our compact form {}: {e}", text_of(&ours)))
            })?;
            prop_assert_eq!(back, theirs);
        }
        // RFC 8259 leaves number range to implementations: serde_json refuses
        // what overflows an f64 (`1e400`); this reader keeps numbers as text.
        Err(e) if e.to_string().starts_with("number out of range") => {}
        Err(e) => {
            return Err(TestCaseError::fail(format!(
                "we accept what serde_json refuses ({e}): {:?}",
                text_of(input)
            )));
        }
    }
    Ok(())
}

#[test]
fn decimal_helper_matches_amount() {
    assert_eq!(decimal([0; 32]), "0");
    assert_eq!(decimal([0xff; 32]), Amount::MAX.to_string());
    let mut one = [0u8; 32];
    one[31] = 1;
    assert_eq!(decimal(one), "1");
    one[0] = 1;
    assert_eq!(Amount::from_be_bytes(one).to_string(), decimal(one));
}
