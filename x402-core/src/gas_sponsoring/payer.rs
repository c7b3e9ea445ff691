//! The paying side of `eip2612GasSponsoring`: when to attach a permit, what to
//! read from the chain first, and how the payment carries it.
//!
//! A client paying a Permit2 requirement (`exact` with `assetTransferMethod:
//! "permit2"`, or `upto`) attaches an EIP-2612 permit for Permit2 when, as the
//! reference client (`@x402/evm` 2.27, `trySignEip2612PermitExtension`)
//! decides:
//! - the PaymentRequired declares `extensions.eip2612GasSponsoring` (any
//!   value JavaScript counts as true),
//! - the requirement has a non-empty `extra.name` and `extra.version` (the
//!   token's EIP-712 domain),
//! - and the payer's `allowance(owner, Permit2)` on the token is below the
//!   requirement's amount, or could not be read.
//!
//! The permit is `permit(owner, Permit2, amount, nonces(owner), deadline)`,
//! `deadline` being the Permit2 authorization's. Only the chain knows the
//! allowance and the nonce: the host reads them first ([`chain_reads`] says
//! what to ask, [`uint256_response`] reads the answers) and hands them over
//! as [`ChainFacts`] to [`crate::client::create_payment_with_facts`]. A failed
//! allowance read is `None` (not enough, as the reference counts it); without
//! the nonce the host passes no facts, and no permit is attached.
//!
//! The payment's `extensions` are the server's, with the permit merged in as
//! the reference's client merges a scheme's extensions into the declared ones
//! (`x402Client.mergeExtensions`): the declared `info` keeps its members
//! (`description`, `version`) and gains `from`, `asset`, `spender`, `amount`,
//! `nonce`, `deadline` and `signature`.
//!
//! ```
//! use paywire::client::{create_payment_with_facts, read_payment_required, select_requirement, Policy};
//! use paywire::evm::PrivateKey;
//! use paywire::gas_sponsoring::payer::{chain_reads, uint256_response, ChainFacts};
//! use paywire::json::ToJson;
//!
//! let offer = br#"{"x402Version":2,"resource":{"url":"https://api.example.com/data"},"accepts":[{"scheme":"exact","network":"eip155:84532","amount":"10000","asset":"0x036CbD53842c5426634e7929541eC2318f3dCF7e","payTo":"0x209693Bc6afc0C5328bA36FaF03C514EF312287C","maxTimeoutSeconds":60,"extra":{"name":"USDC","version":"2","assetTransferMethod":"permit2"}}],"extensions":{"eip2612GasSponsoring":{"info":{"description":"gasless","version":"1"}}}}"#;
//! let key = PrivateKey::from_bytes(&[0x11; 32]).unwrap();
//! let mut scratch = [0u8; 2048];
//! let pr = read_payment_required(offer, &mut scratch).unwrap();
//! let selected = select_requirement(&pr, &Policy::default()).unwrap();
//!
//! // What to ask the token (JSON-RPC bodies for the node of eip155:84532).
//! let reads = chain_reads(&pr, &selected, key.address()).unwrap();
//! let allowance_body = reads.allowance.request(1).to_json_string();
//! assert!(allowance_body.contains(r#""method":"eth_call""#));
//!
//! // The node's answers, read.
//! let zero = br#"{"jsonrpc":"2.0","id":1,"result":"0x0000000000000000000000000000000000000000000000000000000000000000"}"#;
//! let facts = ChainFacts {
//!     permit2_allowance: uint256_response(zero),
//!     permit_nonce: uint256_response(zero).unwrap(),
//! };
//! let mut out = Vec::new();
//! create_payment_with_facts(offer, &key, [0x22; 32], 1_750_000_000, &Policy::default(), Some(&facts), &mut out).unwrap();
//! let json = paywire::header::decode_to_vec(core::str::from_utf8(&out).unwrap(), 4096).unwrap();
//! assert!(core::str::from_utf8(&json).unwrap().contains(r#""spender":"0x000000000022D473030F116dDEE9F6B43aC78BA3""#));
//! ```

use super::{EIP2612_GAS_SPONSORING, Eip2612Permit};
use crate::amount::Amount;
use crate::client::{Method, Selected};
use crate::error::JsonType;
use crate::evm::eip712::{Domain, PERMIT2_ADDRESS};
use crate::evm::{Address, PrivateKey, abi};
use crate::json::{JsonObject, JsonStr, JsonValue, ObjectWriter, Sink, SinkFull, ToJson};
use crate::types::facilitator::PaymentRequired;

/// `nonces(address)`: EIP-2612's permit nonce of an owner.
pub const NONCES: abi::Selector = [0x7e, 0xce, 0xbe, 0x00];

/// What only the chain knows about the payer, read just before paying.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChainFacts {
    /// The payer's `allowance(owner, Permit2)` on the token; `None` when it
    /// could not be read, which counts as not enough (as the reference
    /// counts it).
    pub permit2_allowance: Option<Amount>,
    /// The payer's `nonces(owner)` on the token: the nonce its next EIP-2612
    /// permit must carry.
    pub permit_nonce: Amount,
}

impl ChainFacts {
    /// Whether the allowance falls short of `amount` (or is unknown).
    #[must_use]
    pub fn allowance_short_of(&self, amount: Amount) -> bool {
        self.permit2_allowance.is_none_or(|a| a < amount)
    }
}

/// One `eth_call` to the token: `to` and its calldata.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenCall {
    /// The token.
    pub to: Address,
    data: [u8; 68],
    len: usize,
}

impl TokenCall {
    fn new(to: Address, calldata: &[u8]) -> TokenCall {
        let mut data = [0u8; 68];
        for (d, c) in data.iter_mut().zip(calldata) {
            *d = *c;
        }
        TokenCall {
            to,
            data,
            len: calldata.len().min(68),
        }
    }

    /// The calldata (`0x`-hex it for a JSON-RPC `data`).
    #[must_use]
    pub fn data(&self) -> &[u8] {
        self.data.get(..self.len).unwrap_or_default()
    }

    /// The JSON-RPC request `eth_call({to, data}, "latest")` with `id`
    /// (write it with [`ToJson`]; the same text as
    /// [`crate::rpc::Envelope`] writes, without its other requests).
    #[must_use]
    pub fn request(&self, id: u64) -> EthCall<'_> {
        EthCall { id, call: self }
    }
}

/// An `eth_call` of a [`TokenCall`] at the latest block, as a JSON-RPC request.
#[derive(Clone, Copy, Debug)]
pub struct EthCall<'a> {
    /// The request id.
    pub id: u64,
    /// The call.
    pub call: &'a TokenCall,
}

impl ToJson for EthCall<'_> {
    fn write_json(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        out.put(b"{\"jsonrpc\":\"2.0\",\"id\":")?;
        self.id.write_json(out)?;
        out.put(b",\"method\":\"eth_call\",\"params\":[{\"to\":")?;
        write_hex(out, &self.call.to.0)?;
        out.put(b",\"data\":")?;
        write_hex(out, self.call.data())?;
        out.put(b"},\"latest\"]}")
    }
}

/// `"0x…"`, lower-case hex.
fn write_hex(out: &mut dyn Sink, bytes: &[u8]) -> Result<(), SinkFull> {
    out.put(b"\"0x")?;
    let digit = |d: u8| if d < 10 { b'0' + d } else { b'a' + d - 10 };
    for b in bytes {
        out.put(&[digit(b >> 4), digit(b & 15)])?;
    }
    out.put(b"\"")
}

/// What to read from the chain before paying with a permit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChainReads {
    /// The EVM chain of the requirement's network.
    pub chain_id: u64,
    /// The token.
    pub token: Address,
    /// The payer.
    pub owner: Address,
    /// `allowance(owner, Permit2)` on the token.
    pub allowance: TokenCall,
    /// `nonces(owner)` on the token.
    pub nonces: TokenCall,
}

impl ChainReads {
    /// The two reads of `owner` on `token`.
    #[must_use]
    pub fn new(chain_id: u64, token: Address, owner: Address) -> ChainReads {
        let word = owner.to_word();
        let mut nonces = [0u8; 36];
        for (d, c) in nonces.iter_mut().zip(NONCES.iter().chain(&word)) {
            *d = *c;
        }
        ChainReads {
            chain_id,
            token,
            owner,
            allowance: TokenCall::new(token, &abi::allowance(&owner, &PERMIT2_ADDRESS)),
            nonces: TokenCall::new(token, &nonces),
        }
    }
}

/// Whether a value is one JavaScript counts as true (not `null`, `false`,
/// `0` or `""`).
fn truthy(v: JsonValue<'_>) -> bool {
    match v.json_type() {
        JsonType::Null => false,
        JsonType::Bool => v.as_bool() == Some(true),
        JsonType::String => v.as_str().is_some_and(|s| !s.is_empty()),
        JsonType::Number => {
            let mantissa = v.raw().split(['e', 'E']).next().unwrap_or_default();
            mantissa.bytes().any(|b| (b'1'..=b'9').contains(&b))
        }
        JsonType::Object | JsonType::Array => true,
    }
}

/// Whether a PaymentRequired's `extensions` declare `eip2612GasSponsoring`.
#[must_use]
pub fn declared(extensions: JsonObject<'_>) -> bool {
    extensions.get(EIP2612_GAS_SPONSORING).is_some_and(truthy)
}

/// The token's EIP-712 name and version, when a permit would be attached to
/// a payment of `selected` whatever the chain says.
fn permit_terms<'a>(
    pr: &PaymentRequired<'a>,
    selected: &Selected<'a>,
) -> Option<(JsonStr<'a>, JsonStr<'a>)> {
    let PaymentRequired::V2(p) = pr else {
        return None;
    };
    if selected.method == Method::Eip3009 || !p.extensions?.as_json().is_some_and(declared) {
        return None;
    }
    let extra = selected.requirements.extra()?;
    extra
        .name
        .zip(extra.version)
        .filter(|(n, v)| !n.is_empty() && !v.is_empty())
}

/// What to read from the chain before paying `selected` (the requirement
/// [`crate::client::select_requirement`] chose in `pr`) as `owner`; `None`
/// when no permit would be attached whatever the chain answers (the
/// extension is not declared, the requirement is not paid through Permit2,
/// or it lacks `extra.name` or `extra.version`).
#[must_use]
pub fn chain_reads(
    pr: &PaymentRequired<'_>,
    selected: &Selected<'_>,
    owner: Address,
) -> Option<ChainReads> {
    permit_terms(pr, selected)?;
    Some(ChainReads::new(selected.chain_id, selected.asset, owner))
}

/// A `uint256` result of an `eth_call` (its first 32-byte word, as viem
/// decodes it); `None` when shorter.
#[must_use]
pub fn decode_uint256(result: &[u8]) -> Option<Amount> {
    abi::decode_uint(result).ok()
}

/// The `uint256` a JSON-RPC response body answers (`{"result": "0x…"}`);
/// `None` for an error answer, or a result that is not hex data of at least
/// 32 bytes.
#[must_use]
pub fn uint256_response(body: &[u8]) -> Option<Amount> {
    let doc = crate::json::parse(body, &crate::json::Limits::DEFAULT).ok()?;
    let answer = doc.as_object()?;
    if answer.get("error").is_some() {
        return None;
    }
    let digits = answer
        .get("result")?
        .as_str()?
        .as_str()?
        .strip_prefix("0x")?;
    let word = digits.get(..64)?;
    let mut be = [0u8; 32];
    base16ct::mixed::decode(word, &mut be).ok()?;
    // The rest must be hex data too.
    let rest = digits.get(64..)?;
    (rest.len() % 2 == 0 && rest.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| Amount::from_be_bytes(be))
}

/// The permit `key` attaches to its payment of `selected` (authorized until
/// `deadline`), given the chain's `facts`; `None` when the reference would
/// attach none.
#[must_use]
pub fn permit_for(
    pr: &PaymentRequired<'_>,
    selected: &Selected<'_>,
    key: &PrivateKey,
    deadline: Amount,
    facts: &ChainFacts,
) -> Option<Eip2612Permit> {
    let (name, version) = permit_terms(pr, selected)?;
    let amount = selected.requirements.amount();
    if !facts.allowance_short_of(amount) {
        return None;
    }
    let domain = Domain::eip3009(name, version, selected.chain_id, selected.asset);
    Some(Eip2612Permit::sign(
        key,
        &domain,
        selected.asset,
        amount,
        facts.permit_nonce,
        deadline,
    ))
}

/// A server's `extensions`, echoed with the permit merged into
/// `eip2612GasSponsoring` (and the `payment-identifier` echo, when `id`).
pub(crate) struct WithPermit<'a> {
    pub(crate) ext: JsonObject<'a>,
    pub(crate) id: Option<&'a str>,
    pub(crate) permit: &'a Eip2612Permit,
}

impl ToJson for WithPermit<'_> {
    fn write_json(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        use crate::payment_identifier::{PAYMENT_IDENTIFIER, write_with_id};
        let mut w = ObjectWriter::new(out)?;
        for (k, v) in self.ext.members() {
            let object = v.as_object();
            if k == EIP2612_GAS_SPONSORING {
                match object {
                    // Declared as an object: its members stay, `info` merged.
                    Some(ext) => {
                        w.key(k)?;
                        write_merged(w.sink(), ext, self.permit)?;
                    }
                    // Declared otherwise (`true`): the client's value replaces it.
                    None => {
                        w.key(k)?;
                        let mut e = ObjectWriter::new(w.sink())?;
                        e.field("info", self.permit)?;
                        e.end()?;
                    }
                }
                continue;
            }
            match (object.filter(|_| k == PAYMENT_IDENTIFIER), self.id) {
                (Some(ext), Some(id)) => write_with_id(&mut w, k, ext, id)?,
                _ => w.value_field(k, v)?,
            }
        }
        w.end()
    }
}

/// The permit's `info` members, in the order the reference writes them.
fn info_members(
    p: &Eip2612Permit,
    each: &mut dyn FnMut(&str, &dyn ToJson) -> Result<(), SinkFull>,
) -> Result<(), SinkFull> {
    let mut sig = [0u8; 132];
    let sig = hex65(&p.signature, &mut sig);
    each("from", &p.from)?;
    each("asset", &p.asset)?;
    each("spender", &p.spender)?;
    each("amount", &p.amount)?;
    each("nonce", &p.nonce)?;
    each("deadline", &p.deadline)?;
    each("signature", &sig)?;
    each("version", &JsonStr::new("1"))
}

fn hex65<'b>(sig: &[u8; 65], buf: &'b mut [u8; 132]) -> JsonStr<'b> {
    let digit = |d: u8| if d < 10 { b'0' + d } else { b'a' + d - 10 };
    let (prefix, digits) = buf.split_at_mut(2);
    prefix.copy_from_slice(b"0x");
    for (pair, b) in digits.chunks_exact_mut(2).zip(sig) {
        if let [hi, lo] = pair {
            *hi = digit(b >> 4);
            *lo = digit(b & 15);
        }
    }
    JsonStr::new(core::str::from_utf8(&buf[..]).unwrap_or_default())
}

/// The declared extension `ext` with the permit merged as the reference
/// merges it: `info` (when an object) keeps its members and gains those it
/// lacks; an absent `info` is the permit's; any other `info` stays.
fn write_merged(
    out: &mut dyn Sink,
    ext: JsonObject<'_>,
    p: &Eip2612Permit,
) -> Result<(), SinkFull> {
    let mut e = ObjectWriter::new(out)?;
    let mut had_info = false;
    for (k, v) in ext.members() {
        if k != "info" {
            e.value_field(k, v)?;
            continue;
        }
        had_info = true;
        let Some(info) = v.as_object().filter(|_| v.json_type() == JsonType::Object) else {
            e.value_field(k, v)?;
            continue;
        };
        e.key(k)?;
        let mut i = ObjectWriter::new(e.sink())?;
        for (k3, v3) in info.members() {
            i.value_field(k3, v3)?;
        }
        info_members(p, &mut |name, value| {
            if info.get(name).is_some() {
                Ok(())
            } else {
                i.field(name, value)
            }
        })?;
        i.end()?;
    }
    if !had_info {
        e.field("info", p)?;
    }
    e.end()
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;
    use crate::client::{
        Policy, create_payment_to_sink, create_payment_with_facts, read_payment_required,
        select_requirement,
    };
    use crate::evm::eip712::X402_EXACT_PERMIT2_PROXY;
    use crate::verify::{ChainCheck, Config, verify_json};
    use serde_json::{Value, json};

    const NOW: u64 = 1_750_000_000;
    const NONCE: [u8; 32] = [0x22; 32];
    const TOKEN: &str = "0x036CbD53842c5426634e7929541eC2318f3dCF7e";
    const DECLARED: &str = r#"{"info":{"description":"The facilitator accepts EIP-2612 gasless Permit to `Permit2` canonical contract.","version":"1"},"schema":{"type":"object"}}"#;

    fn key() -> PrivateKey {
        PrivateKey::from_bytes(&[0x11; 32]).unwrap()
    }

    fn requirement(extra: &str) -> String {
        format!(
            r#"{{"scheme":"exact","network":"eip155:84532","amount":"10000","asset":"{TOKEN}","payTo":"0x209693Bc6afc0C5328bA36FaF03C514EF312287C","maxTimeoutSeconds":60,"extra":{extra}}}"#
        )
    }

    const PERMIT2_EXTRA: &str = r#"{"name":"USDC","version":"2","assetTransferMethod":"permit2"}"#;

    fn offer(extra: &str, extensions: Option<&str>) -> String {
        let ext = extensions.map_or(String::new(), |e| format!(r#","extensions":{e}"#));
        format!(
            r#"{{"x402Version":2,"resource":{{"url":"https://api.example.com/data"}},"accepts":[{}]{ext}}}"#,
            requirement(extra)
        )
    }

    fn facts(allowance: Option<u64>, nonce: u64) -> ChainFacts {
        ChainFacts {
            permit2_allowance: allowance.map(Amount::from),
            permit_nonce: nonce.into(),
        }
    }

    /// The payment's JSON (decoded) made for `offer` given `facts`.
    fn pay_text(offer: &str, facts: &ChainFacts) -> String {
        let mut out = Vec::new();
        let policy = Policy {
            allow_upto: true,
            ..Policy::default()
        };
        create_payment_with_facts(
            offer.as_bytes(),
            &key(),
            NONCE,
            NOW,
            &policy,
            Some(facts),
            &mut out,
        )
        .unwrap();
        let json = crate::header::decode_to_vec(core::str::from_utf8(&out).unwrap(), 8192).unwrap();
        String::from_utf8(json).unwrap()
    }

    fn pay(offer: &str, facts: &ChainFacts) -> Value {
        serde_json::from_str(&pay_text(offer, facts)).unwrap()
    }

    fn permit_info(payment: &Value) -> Option<&Value> {
        payment
            .get("extensions")?
            .get(EIP2612_GAS_SPONSORING)?
            .get("info")?
            .get("signature")
            .map(|_| &payment["extensions"][EIP2612_GAS_SPONSORING]["info"])
    }

    #[test]
    fn a_payer_short_of_allowance_attaches_the_permit_as_the_reference_writes_it() {
        let offer = offer(
            PERMIT2_EXTRA,
            Some(&format!(r#"{{"{EIP2612_GAS_SPONSORING}":{DECLARED}}}"#)),
        );
        let payment = pay(&offer, &facts(Some(9_999), 7));
        let auth = &payment["payload"]["permit2Authorization"];
        let key = key();
        let owner = key.address();
        let permit = Eip2612Permit::sign(
            &key,
            &Domain::eip3009(
                JsonStr::new("USDC"),
                JsonStr::new("2"),
                84532,
                Address::parse(TOKEN).unwrap(),
            ),
            Address::parse(TOKEN).unwrap(),
            10_000u64.into(),
            7u64.into(),
            (NOW + 60).into(),
        );
        let signature: Value = serde_json::from_str(&permit.to_json_string()).unwrap();
        // The server's members first (its `version` kept), then the client's,
        // in the reference's order; the deadline is the authorization's.
        let expected = json!({
            "info": {
                "description": "The facilitator accepts EIP-2612 gasless Permit to `Permit2` canonical contract.",
                "version": "1",
                "from": owner.checksummed().as_str(),
                "asset": TOKEN,
                "spender": "0x000000000022D473030F116dDEE9F6B43aC78BA3",
                "amount": "10000",
                "nonce": "7",
                "deadline": auth["deadline"],
                "signature": signature["signature"],
            },
            "schema": {"type": "object"}
        });
        assert_eq!(payment["extensions"][EIP2612_GAS_SPONSORING], expected);
        assert_eq!(auth["deadline"], json!((NOW + 60).to_string()));
        let text = pay_text(&offer, &facts(Some(9_999), 7));
        assert!(
            text.contains(r#""eip2612GasSponsoring":{"info":{"description":"#)
                && text.contains(r#""version":"1","from":"#)
                && text.contains(r#","signature":"0x"#)
                && text.contains(r#"},"schema":{"type":"object"}}"#),
            "{text}"
        );
        assert_eq!(
            auth["spender"],
            json!(X402_EXACT_PERMIT2_PROXY.checksummed().as_str())
        );

        // The core verifier reads the extension as the reference does, holds
        // it, and owes no allowance; the permit's signature is the owner's.
        let body = json!({"x402Version": 2, "paymentPayload": payment, "paymentRequirements": payment["accepted"]});
        let config = Config {
            facilitator_addresses: &[],
            smart_wallets: false,
            erc20_approval_sponsoring: false,
        };
        let verdict = verify_json(body.to_string().as_bytes(), NOW, &config);
        assert!(verdict.is_valid(), "{:?}", verdict.message);
        assert!(
            !verdict
                .chain_checks()
                .any(|c| matches!(c, ChainCheck::Permit2AllowanceAtLeast { .. })),
        );
        let text = payment.to_string();
        let doc = crate::json::parse(text.as_bytes(), &crate::json::Limits::DEFAULT).unwrap();
        let ext = doc
            .as_object()
            .unwrap()
            .get("extensions")
            .unwrap()
            .as_object()
            .unwrap();
        let read = super::super::read(ext).unwrap().unwrap();
        assert_eq!(read, permit);
        let digest = super::super::permit_digest(
            &Domain::eip3009(JsonStr::new("USDC"), JsonStr::new("2"), 84532, read.asset),
            &owner,
            &PERMIT2_ADDRESS,
            &read.amount,
            &read.nonce,
            &read.deadline,
        );
        let sig = crate::evm::Signature::from_bytes(&read.signature).unwrap();
        assert_eq!(sig.recover(&digest).unwrap(), owner);

        // Without the extension the verifier owes the allowance.
        let mut plain = payment.clone();
        plain.as_object_mut().unwrap().remove("extensions");
        let body = json!({"x402Version": 2, "paymentPayload": plain, "paymentRequirements": payment["accepted"]});
        let verdict = verify_json(body.to_string().as_bytes(), NOW, &config);
        assert!(
            verdict
                .chain_checks()
                .any(|c| matches!(c, ChainCheck::Permit2AllowanceAtLeast { .. })),
        );
    }

    #[test]
    fn the_permit_is_attached_only_when_the_reference_attaches_it() {
        let declared = format!(r#"{{"{EIP2612_GAS_SPONSORING}":{DECLARED}}}"#);
        let short = facts(Some(0), 0);
        // Declared, short of allowance (or allowance unknown): attached.
        assert!(permit_info(&pay(&offer(PERMIT2_EXTRA, Some(&declared)), &short)).is_some());
        assert!(
            permit_info(&pay(
                &offer(PERMIT2_EXTRA, Some(&declared)),
                &facts(None, 3)
            ))
            .is_some()
        );
        // Enough allowance (the amount exactly, or more): not attached.
        for enough in [10_000, 10_001, u64::MAX] {
            let p = pay(
                &offer(PERMIT2_EXTRA, Some(&declared)),
                &facts(Some(enough), 0),
            );
            assert_eq!(
                p["extensions"][EIP2612_GAS_SPONSORING],
                serde_json::from_str::<Value>(DECLARED).unwrap()
            );
        }
        // Not declared, or declared as a value JavaScript counts as false.
        assert!(
            pay(&offer(PERMIT2_EXTRA, None), &short)
                .get("extensions")
                .is_none()
        );
        for falsy in ["null", "false", "0", "0.0", "\"\""] {
            let ext = format!(r#"{{"{EIP2612_GAS_SPONSORING}":{falsy}}}"#);
            let p = pay(&offer(PERMIT2_EXTRA, Some(&ext)), &short);
            assert!(permit_info(&p).is_none(), "{falsy}");
        }
        // Declared as `true`: the client's value replaces it.
        let p = pay(
            &offer(
                PERMIT2_EXTRA,
                Some(&format!(r#"{{"{EIP2612_GAS_SPONSORING}":true}}"#)),
            ),
            &short,
        );
        assert_eq!(
            p["extensions"][EIP2612_GAS_SPONSORING]["info"]["version"],
            "1"
        );
        // Declared without `info`: the permit is the info.
        let text = pay_text(
            &offer(
                PERMIT2_EXTRA,
                Some(&format!(
                    r#"{{"{EIP2612_GAS_SPONSORING}":{{"schema":{{}}}}}}"#
                )),
            ),
            &short,
        );
        assert!(
            text.contains(r#""eip2612GasSponsoring":{"schema":{},"info":{"from":"#),
            "{text}"
        );
        // No extra.name or extra.version (or empty ones): not attached.
        for extra in [
            r#"{"version":"2","assetTransferMethod":"permit2"}"#,
            r#"{"name":"USDC","assetTransferMethod":"permit2"}"#,
            r#"{"name":"","version":"2","assetTransferMethod":"permit2"}"#,
            r#"{"assetTransferMethod":"permit2"}"#,
        ] {
            let p = pay(&offer(extra, Some(&declared)), &short);
            assert!(permit_info(&p).is_none(), "{extra}");
            let mut scratch = [0u8; 4096];
            let o = offer(extra, Some(&declared));
            let pr = read_payment_required(o.as_bytes(), &mut scratch).unwrap();
            let sel = select_requirement(&pr, &Policy::default()).unwrap();
            assert_eq!(chain_reads(&pr, &sel, key().address()), None);
        }
        // EIP-3009 needs no allowance: not attached.
        let p = pay(
            &offer(r#"{"name":"USDC","version":"2"}"#, Some(&declared)),
            &short,
        );
        assert!(permit_info(&p).is_none());
        assert!(p["payload"].get("authorization").is_some());
        // `upto` (Permit2 too): attached, as the reference's upto client does.
        let upto = offer(PERMIT2_EXTRA, Some(&declared))
            .replace(r#""scheme":"exact""#, r#""scheme":"upto""#)
            .replace(
                r#""assetTransferMethod":"permit2""#,
                r#""facilitatorAddress":"0x1111111111111111111111111111111111111111""#,
            );
        assert!(permit_info(&pay(&upto, &short)).is_some());
    }

    #[test]
    fn the_permit_and_a_payment_identifier_are_both_echoed_and_other_extensions_kept() {
        let ext = format!(
            r#"{{"payment-identifier":{{"info":{{"required":false}},"schema":{{}}}},"other":[1,2],"{EIP2612_GAS_SPONSORING}":{DECLARED}}}"#
        );
        let o = offer(PERMIT2_EXTRA, Some(&ext));
        let p = pay(&o, &facts(Some(0), 0));
        let text = pay_text(&o, &facts(Some(0), 0));
        let at = |k: &str| text.find(&format!(r#""{k}":"#)).unwrap();
        assert!(at("payment-identifier") < at("other") && at("other") < at(EIP2612_GAS_SPONSORING));
        assert_eq!(
            p["extensions"]["payment-identifier"]["info"]["id"],
            "pay_22222222222222222222222222222222"
        );
        assert_eq!(p["extensions"]["other"], json!([1, 2]));
        assert!(permit_info(&p).is_some());
        // The same payment without facts: only the identifier, as before.
        let mut out = Vec::new();
        create_payment_to_sink(
            o.as_bytes(),
            &key(),
            NONCE,
            NOW,
            &Policy::default(),
            &mut out,
        )
        .unwrap();
        let json = crate::header::decode_to_vec(core::str::from_utf8(&out).unwrap(), 8192).unwrap();
        let plain: Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(
            plain["extensions"][EIP2612_GAS_SPONSORING],
            serde_json::from_str::<Value>(DECLARED).unwrap()
        );
        assert_eq!(plain["payload"], p["payload"]);
    }

    #[test]
    fn the_reads_are_allowance_and_nonces_and_their_answers_are_read() {
        let o = offer(
            PERMIT2_EXTRA,
            Some(&format!(r#"{{"{EIP2612_GAS_SPONSORING}":{{}}}}"#)),
        );
        let mut scratch = [0u8; 4096];
        let pr = read_payment_required(o.as_bytes(), &mut scratch).unwrap();
        let sel = select_requirement(&pr, &Policy::default()).unwrap();
        let owner = Address::parse("0x857b06519e91e3a54538791bdbb0e22373e36b66").unwrap();
        let reads = chain_reads(&pr, &sel, owner).unwrap();
        assert_eq!(
            (reads.chain_id, reads.token, reads.owner),
            (84532, Address::parse(TOKEN).unwrap(), owner)
        );
        let word = "000000000000000000000000857b06519e91e3a54538791bdbb0e22373e36b66";
        assert_eq!(
            reads.allowance.request(1).to_json_string(),
            format!(
                r#"{{"jsonrpc":"2.0","id":1,"method":"eth_call","params":[{{"to":"0x036cbd53842c5426634e7929541ec2318f3dcf7e","data":"0xdd62ed3e{word}000000000000000000000000000000000022d473030f116ddee9f6b43ac78ba3"}},"latest"]}}"#
            )
        );
        assert_eq!(
            reads.nonces.request(2).to_json_string(),
            format!(
                r#"{{"jsonrpc":"2.0","id":2,"method":"eth_call","params":[{{"to":"0x036cbd53842c5426634e7929541ec2318f3dcf7e","data":"0x7ecebe00{word}"}},"latest"]}}"#
            )
        );
        assert_eq!(reads.nonces.data().len(), 36);
        assert_eq!(&crate::evm::keccak256(b"nonces(address)")[..4], &NONCES);

        let answer = |result: &str| format!(r#"{{"jsonrpc":"2.0","id":1,"result":"{result}"}}"#);
        let seven = format!("0x{:064x}", 7);
        assert_eq!(
            uint256_response(answer(&seven).as_bytes()),
            Some(7u64.into())
        );
        assert_eq!(
            uint256_response(answer(&format!("0x{}", "f".repeat(64))).as_bytes()),
            Some(Amount::MAX)
        );
        assert_eq!(
            uint256_response(answer(&format!("{seven}00")).as_bytes()),
            Some(7u64.into())
        );
        for bad in [
            "0x",
            "0x07",
            &format!("{seven}0"),
            &seven[2..],
            &format!("{seven}zz"),
        ] {
            assert_eq!(uint256_response(answer(bad).as_bytes()), None, "{bad}");
        }
        let error =
            br#"{"jsonrpc":"2.0","id":1,"error":{"code":-32000,"message":"execution reverted"}}"#;
        assert_eq!(uint256_response(error), None);
        assert_eq!(uint256_response(b"not json"), None);
        assert_eq!(decode_uint256(&[0u8; 31]), None);
        assert_eq!(
            decode_uint256(&[1u8; 32]),
            Some(Amount::from_be_bytes([1u8; 32]))
        );
    }
}
