//! The `batch-settlement` scheme on `cloudflare:402`: verify a signed request
//! (server) and sign one (client).

use core::fmt;

use super::directory::{Directory, thumbprint};
use super::ed25519::{PublicKey, SigningKey};
use super::sfv::{self, BareItem, Dictionary, InnerList, Limits as SfLimits, Member, SfString};
use super::signature_base::{BaseError, Ctx, Message, Request};
use super::{NETWORK, SCHEME, TAG};
use crate::amount::Amount;
use crate::error::{Error, ErrorKind, Reason};
use crate::json::{
    Counter, JsonObject, JsonStr, JsonValue, Limits, ObjectWriter, Sink, SinkFull, SliceSink,
    ToJson,
};
use crate::message::Message as Text;
use crate::types::FromJson;
use crate::types::payload::BatchSettlementPayload;

/// Time limits the verifier applies to `created` and `expires`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// How far `created` may lie in the future (clock skew), in seconds.
    pub max_clock_skew: u64,
    /// How old `created` may be, in seconds: bounds how long a captured request
    /// can be replayed, whatever `expires` says.
    pub max_age: u64,
    /// The longest validity window `expires - created` accepted, in seconds.
    pub max_validity: u64,
}

impl Config {
    /// 30 s of skew, 300 s of age, 24 h of validity window.
    pub const DEFAULT: Config = Config {
        max_clock_skew: 30,
        max_age: 300,
        max_validity: 24 * 3600,
    };
}

impl Default for Config {
    fn default() -> Self {
        Config::DEFAULT
    }
}

/// Why a key lookup found no key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyLookupError {
    /// The signature agent is not known to the network (not registered, or its
    /// directory could not be fetched).
    UnknownAgent,
    /// The agent is known, but its directory has no key with this `keyid`.
    UnknownKey,
}

/// Where the verifier gets public keys: the host's registry of agents and
/// their directories (fetched and cached by the host; the core does no I/O).
///
/// `signature_agent` is the agent's identity as the request names it: the
/// URI in `Signature-Agent` (an sf-string, or the dictionary member the
/// signature covers), or the header's text when it is neither.
pub trait KeyLookup {
    /// The public key for `keyid` of `signature_agent`.
    ///
    /// # Errors
    /// [`KeyLookupError`] when there is none.
    fn lookup(&self, signature_agent: &str, keyid: &str) -> Result<PublicKey, KeyLookupError>;
}

impl<F> KeyLookup for F
where
    F: Fn(&str, &str) -> Result<PublicKey, KeyLookupError>,
{
    fn lookup(&self, signature_agent: &str, keyid: &str) -> Result<PublicKey, KeyLookupError> {
        self(signature_agent, keyid)
    }
}

/// One agent's directory, already known to belong to a recognised agent: any
/// `Signature-Agent` is accepted, keys are found by thumbprint.
impl KeyLookup for Directory<'_> {
    fn lookup(&self, _signature_agent: &str, keyid: &str) -> Result<PublicKey, KeyLookupError> {
        self.find(keyid).ok_or(KeyLookupError::UnknownKey)
    }
}

/// What a valid payment commits to.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Commitment<'a> {
    /// The amount, in the asset's smallest unit.
    pub amount: Amount,
    /// The asset (`USD`), as the server offered it.
    pub asset: JsonStr<'a>,
    /// The signature's label in `Signature-Input`.
    pub label: &'a str,
    /// The key that signed (the JWK thumbprint).
    pub keyid: SfString<'a>,
    /// The signature's `created`.
    pub created: u64,
    /// The signature's `expires`.
    pub expires: u64,
    /// The signature's `nonce`, if any (a host may refuse repeats).
    pub nonce: Option<SfString<'a>>,
}

/// The verdict on a deferred payment: shaped like a `VerifyResponse`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BatchVerdict<'a> {
    /// `None` when valid; else why not.
    pub reason: Option<Reason>,
    /// Why, for people (empty when valid).
    pub message: Text,
    /// The payer: the `Signature-Agent` the request names (identity used for
    /// the key lookup), when there is one.
    pub payer: Option<&'a str>,
    /// What the agent committed to (valid verdicts only).
    pub commitment: Option<Commitment<'a>>,
}

impl<'a> BatchVerdict<'a> {
    fn fail(reason: Reason, message: &dyn fmt::Display, payer: Option<&'a str>) -> Self {
        BatchVerdict {
            reason: Some(reason),
            message: Text::new(message),
            payer,
            commitment: None,
        }
    }

    /// Whether the payment passed every check.
    #[must_use]
    pub fn is_valid(&self) -> bool {
        self.reason.is_none()
    }

    /// The error code of the `cloudflare:402` binding for this verdict
    /// (`invalid_signature`, `price_not_acceptable`, ...), or `None` when valid.
    #[must_use]
    pub fn network_error_code(&self) -> Option<&'static str> {
        self.reason.map(network_error_code)
    }

    /// The `PAYMENT-RESPONSE` a server sends with the resource after a valid
    /// verdict, charging the committed amount: a SettleResponse `{success:
    /// true, transaction: "", network, payer, amount, asset, extra:
    /// {timestamp}}` (`timestamp` is the caller's `now`).
    #[must_use]
    pub fn payment_response(&self, timestamp: u64) -> Option<PaymentResponse<'a>> {
        let c = self.commitment?;
        Some(PaymentResponse {
            payer: self.payer.unwrap_or(""),
            amount: c.amount,
            asset: c.asset,
            timestamp,
        })
    }
}

/// The error code the `cloudflare:402` binding lists for a reason.
///
/// | reasons | code |
/// |---|---|
/// | `..._payment_missing` | `blocked` |
/// | `invalid_payload`, `invalid_x402_version`, `..._scheme`, `..._network_mismatch` | `invalid_payment_signature` |
/// | `..._signature_agent_unknown` | `signature_agent_unknown` |
/// | `..._accepted_mismatch`, `..._amount_mismatch`, `..._asset_mismatch` | `price_not_acceptable` |
/// | every other `..._signature*`, `..._key*` reason | `invalid_signature` |
/// | `invalid_payment_requirements` (the server's own offer is malformed) | `origin_error` |
/// | anything else | `unknown` |
#[must_use]
pub fn network_error_code(reason: Reason) -> &'static str {
    use Reason as R;
    match reason {
        R::BatchCloudflarePaymentMissing => "blocked",
        R::InvalidPayload
        | R::InvalidX402Version
        | R::BatchCloudflareScheme
        | R::BatchCloudflareNetworkMismatch => "invalid_payment_signature",
        R::BatchCloudflareSignatureAgentUnknown => "signature_agent_unknown",
        R::BatchCloudflareAcceptedMismatch
        | R::BatchCloudflareAmountMismatch
        | R::BatchCloudflareAssetMismatch => "price_not_acceptable",
        R::BatchCloudflareSignatureAgentMissing
        | R::BatchCloudflareSignatureMalformed
        | R::BatchCloudflareSignatureTag
        | R::BatchCloudflareSignatureCoverage
        | R::BatchCloudflareSignatureAlgorithm
        | R::BatchCloudflareKeyidMissing
        | R::BatchCloudflareSignatureCreated
        | R::BatchCloudflareSignatureExpires
        | R::BatchCloudflareSignatureExpired
        | R::BatchCloudflareKeyUnknown
        | R::BatchCloudflareSignatureComponent
        | R::BatchCloudflareSignature => "invalid_signature",
        R::InvalidPaymentRequirements => "origin_error",
        _ => "unknown",
    }
}

impl ToJson for BatchVerdict<'_> {
    /// `{isValid, invalidReason?, invalidMessage?, payer?, extra}`: for an
    /// invalid verdict `extra` is `{errorCode}` (the network's code); for a
    /// valid one `{scheme, network, amount, asset, keyid, label, created, expires}`.
    fn write_json(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        let mut w = ObjectWriter::new(out)?;
        w.bool_field("isValid", self.is_valid())?;
        if let Some(r) = self.reason {
            w.str_field("invalidReason", JsonStr::new(r.as_str()))?;
            w.str_field("invalidMessage", JsonStr::new(self.message.as_str()))?;
        }
        if let Some(p) = self.payer {
            w.str_field("payer", JsonStr::new(p))?;
        }
        w.key(JsonStr::new("extra"))?;
        let mut e = ObjectWriter::new(w.sink())?;
        if let Some(r) = self.reason {
            e.str_field("errorCode", JsonStr::new(network_error_code(r)))?;
        }
        if let Some(c) = &self.commitment {
            e.str_field("scheme", JsonStr::new(SCHEME))?;
            e.str_field("network", JsonStr::new(NETWORK))?;
            e.field("amount", &c.amount)?;
            e.str_field("asset", c.asset)?;
            e.key(JsonStr::new("keyid"))?;
            write_sf_string_json(e.sink(), c.keyid)?;
            e.str_field("label", JsonStr::new(c.label))?;
            e.u64_field("created", c.created)?;
            e.u64_field("expires", c.expires)?;
        }
        e.end()?;
        w.end()
    }
}

fn write_sf_string_json(out: &mut dyn Sink, s: SfString<'_>) -> Result<(), SinkFull> {
    // sf-strings are printable ASCII; only `"` and `\` need escaping in JSON too.
    out.put(b"\"")?;
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.put(b"\\")?;
        }
        let mut b = [0u8; 4];
        out.put(c.encode_utf8(&mut b).as_bytes())?;
    }
    out.put(b"\"")
}

/// The `PAYMENT-RESPONSE` of `cloudflare:402`, as the scheme reads since its
/// version 1.0.0: a SettleResponse `{success: true, transaction: "", network:
/// "cloudflare:402", payer, amount, asset, extra: {timestamp}}` (nothing is
/// settled on a chain: the network bills the agent later). `amount` is what
/// the server charges, at most the committed amount.
///
/// Encode it as a header value with [`crate::header::encode`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PaymentResponse<'a> {
    /// The agent billed: its `Signature-Agent` identity.
    pub payer: &'a str,
    /// The amount charged.
    pub amount: Amount,
    /// The asset.
    pub asset: JsonStr<'a>,
    /// When the server accepted the commitment (unix seconds).
    pub timestamp: u64,
}

impl ToJson for PaymentResponse<'_> {
    fn write_json(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        let mut w = ObjectWriter::new(out)?;
        w.bool_field("success", true)?;
        w.str_field("transaction", JsonStr::new(""))?;
        w.str_field("network", JsonStr::new(NETWORK))?;
        w.str_field("payer", JsonStr::new(self.payer))?;
        w.field("amount", &self.amount)?;
        w.str_field("asset", self.asset)?;
        w.key(JsonStr::new("extra"))?;
        let mut extra = ObjectWriter::new(w.sink())?;
        extra.u64_field("timestamp", self.timestamp)?;
        extra.end()?;
        w.end()
    }
}

fn header_lines<'a>(req: &Request<'a>, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    req.headers
        .iter()
        .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| *v)
}

/// The signature chosen for verification, with its parameters read.
struct Chosen<'a> {
    label: &'a str,
    input: InnerList<'a>,
    keyid: SfString<'a>,
    created: Option<i64>,
    expires: Option<i64>,
    nonce: Option<SfString<'a>>,
}

type Fail = (Reason, &'static str);

fn choose_signature<'a>(req: &Request<'a>) -> Result<Chosen<'a>, Fail> {
    use Reason as R;
    let limits = SfLimits::DEFAULT;
    let malformed = |what| (R::BatchCloudflareSignatureMalformed, what);
    let mut inputs = header_lines(req, "signature-input").peekable();
    if inputs.peek().is_none() {
        return Err(malformed("the request has no Signature-Input"));
    }
    let mut members = 0usize;
    let mut chosen: Option<(&'a str, InnerList<'a>)> = None;
    for (line_no, line) in header_lines(req, "signature-input").enumerate() {
        let dict = Dictionary::parse(line, &limits)
            .map_err(|_| malformed("Signature-Input is not a valid Dictionary"))?;
        if dict.has_duplicate_keys()
            || header_lines(req, "signature-input")
                .take(line_no)
                .filter_map(|l| Dictionary::parse(l, &limits).ok())
                .any(|d| d.iter().any(|(k, _)| dict.get(k).is_some()))
        {
            return Err(malformed("a Signature-Input label is repeated"));
        }
        for (label, m) in dict.iter() {
            members += 1;
            let list = m
                .as_inner_list()
                .ok_or(malformed("a Signature-Input member is not an inner list"))?;
            let tagged = list
                .params
                .get("tag")
                .and_then(|t| t.as_string())
                .is_some_and(|t| t == TAG);
            if tagged && chosen.is_none() {
                chosen = Some((label, list));
            }
        }
    }
    if members == 0 {
        return Err(malformed("Signature-Input has no signature"));
    }
    let (label, input) = chosen.ok_or((
        R::BatchCloudflareSignatureTag,
        "no signature carries tag=\"web-bot-auth\"",
    ))?;
    let p = input.params;
    if p.has_duplicates() {
        return Err(malformed("a signature parameter is repeated"));
    }
    let mut alg = None;
    let mut keyid = None;
    let mut created = None;
    let mut expires = None;
    let mut nonce = None;
    for (k, v) in p.iter() {
        let int = || {
            v.as_integer()
                .ok_or(malformed("created and expires are integers"))
        };
        let string = || {
            v.as_string()
                .ok_or(malformed("keyid, alg, nonce and tag are strings"))
        };
        match k {
            "created" => created = Some(int()?),
            "expires" => expires = Some(int()?),
            "keyid" => keyid = Some(string()?),
            "alg" => alg = Some(string()?),
            "nonce" => nonce = Some(string()?),
            "tag" => {
                string()?;
            }
            // Other metadata parameters are signed (they are in the base) and
            // otherwise ignored, as RFC 9421 allows.
            _ => {}
        }
    }
    if alg.is_some_and(|a| a != "ed25519") {
        return Err((
            R::BatchCloudflareSignatureAlgorithm,
            "alg is not ed25519, the only algorithm this network accepts",
        ));
    }
    let keyid = keyid.ok_or((R::BatchCloudflareKeyidMissing, "the signature has no keyid"))?;
    Ok(Chosen {
        label,
        input,
        keyid,
        created,
        expires,
        nonce,
    })
}

/// How the covered `signature-agent` names the agent: the whole header, or one
/// dictionary member (`;key="..."`).
fn agent_coverage<'a>(input: &InnerList<'a>) -> Option<Option<SfString<'a>>> {
    input.iter().find_map(|item| {
        let name = item.bare.as_string()?;
        if name != "signature-agent" {
            return None;
        }
        let mut key = None;
        for (k, v) in item.params.iter() {
            match (k, v) {
                ("key", BareItem::String(s)) => key = Some(s),
                ("sf", BareItem::Boolean(true)) => {}
                _ => return None,
            }
        }
        Some(key)
    })
}

fn covers(input: &InnerList<'_>, name: &str, allowed_flag: Option<&str>) -> bool {
    input.iter().any(|item| {
        item.bare.as_string().is_some_and(|n| n == name)
            && item
                .params
                .iter()
                .all(|(k, v)| Some(k) == allowed_flag && v == BareItem::Boolean(true))
    })
}

/// The agent identity for the key lookup.
fn agent_identity<'a>(header: &'a str, key: Option<SfString<'a>>) -> Result<&'a str, Fail> {
    let limits = SfLimits::DEFAULT;
    let bad = (
        Reason::BatchCloudflareSignatureMalformed,
        "Signature-Agent does not hold the covered member",
    );
    let string_of = |m: Member<'a>| -> Option<&'a str> {
        let s = m.as_item()?.bare.as_string()?;
        s.as_plain()
    };
    match key {
        Some(k) => {
            let d = Dictionary::parse(header, &limits).map_err(|_| bad)?;
            let m = d
                .iter()
                .filter(|(name, _)| k.eq_str(name))
                .last()
                .map(|(_, m)| m)
                .ok_or(bad)?;
            string_of(m).ok_or(bad)
        }
        None => Ok(match sfv::Item::parse(header, &limits) {
            Ok(item) => match item.bare {
                BareItem::String(s) => s.as_plain().unwrap_or(header.trim()),
                BareItem::Token(t) => t,
                _ => header.trim(),
            },
            Err(_) => header.trim(),
        }),
    }
}

fn time_checks(c: &Chosen<'_>, now: u64, config: &Config) -> Result<(u64, u64), Fail> {
    use Reason as R;
    let created = c.created.ok_or((
        R::BatchCloudflareSignatureCreated,
        "the signature has no created time",
    ))?;
    let created = u64::try_from(created)
        .map_err(|_| (R::BatchCloudflareSignatureCreated, "created is negative"))?;
    if created > now.saturating_add(config.max_clock_skew) {
        return Err((
            R::BatchCloudflareSignatureCreated,
            "created is in the future",
        ));
    }
    if now.saturating_sub(created) > config.max_age {
        return Err((
            R::BatchCloudflareSignatureCreated,
            "created is older than the verifier accepts",
        ));
    }
    let expires = c.expires.ok_or((
        R::BatchCloudflareSignatureExpires,
        "the signature has no expires time",
    ))?;
    let expires = u64::try_from(expires)
        .map_err(|_| (R::BatchCloudflareSignatureExpires, "expires is negative"))?;
    if expires < created {
        return Err((
            R::BatchCloudflareSignatureExpires,
            "expires is before created",
        ));
    }
    if expires - created > config.max_validity {
        return Err((
            R::BatchCloudflareSignatureExpires,
            "expires is further from created than the verifier accepts",
        ));
    }
    if now > expires {
        return Err((
            R::BatchCloudflareSignatureExpired,
            "the signature has expired",
        ));
    }
    Ok((created, expires))
}

/// Verifies a request paying with `batch-settlement` on `cloudflare:402`.
///
/// - `req`: the request as received: method, absolute target URI (its
///   authority is what `@authority` signs) and header lines.
/// - `requirements_json`: what the server offers for this resource: a
///   `PaymentRequired` object, an array of `PaymentRequirements`, or one.
/// - `keys`: the host's registry of agents and their directories.
/// - `now`: unix seconds; the core reads no clock.
/// - `scratch`: room for the signature base and the decoded `PAYMENT-SIGNATURE`;
///   if it is too small the verdict is `unexpected_verify_error` naming the
///   size needed ([`verify_batch_settlement_alloc`] sizes it itself).
///
/// Checks, in order, each failing with its own reason: `PAYMENT-SIGNATURE`
/// present; `Signature-Agent` present once; `Signature-Input`/`Signature`
/// well-formed with a signature tagged `web-bot-auth`; `alg` (if any) is
/// `ed25519`; `keyid` present; coverage of `@authority`, `signature-agent` and
/// `payment-signature`; `created`/`expires` within [`Config`] and not expired;
/// the key found; the Ed25519 signature over the RFC 9421 base; then the
/// payment: `x402Version` 2, `accepted` is `batch-settlement` on
/// `cloudflare:402` and equals one offered requirement (JSON equality, member
/// order aside), and `payload.amount`/`payload.asset` equal `accepted`'s.
#[must_use]
pub fn verify_batch_settlement<'a>(
    req: &Request<'a>,
    requirements_json: &'a [u8],
    keys: &dyn KeyLookup,
    now: u64,
    config: &Config,
    scratch: &mut [u8],
) -> BatchVerdict<'a> {
    use Reason as R;
    let mut payments = header_lines(req, "payment-signature");
    let Some(payment_header) = payments.next() else {
        return BatchVerdict::fail(
            R::BatchCloudflarePaymentMissing,
            &"the request has no PAYMENT-SIGNATURE",
            None,
        );
    };
    if payments.next().is_some() {
        return BatchVerdict::fail(R::InvalidPayload, &"PAYMENT-SIGNATURE is sent twice", None);
    }
    let mut agents = header_lines(req, "signature-agent");
    let (Some(agent_header), None) = (agents.next(), agents.next()) else {
        return BatchVerdict::fail(
            R::BatchCloudflareSignatureAgentMissing,
            &"the request must carry exactly one Signature-Agent",
            None,
        );
    };
    let chosen = match choose_signature(req) {
        Ok(c) => c,
        Err((r, m)) => return BatchVerdict::fail(r, &m, None),
    };
    let agent_key = agent_coverage(&chosen.input);
    let payer = agent_key.and_then(|k| agent_identity(agent_header, k).ok());
    let fail = |r: Reason, m: &dyn fmt::Display| BatchVerdict::fail(r, m, payer);
    let (Some(agent_key), true, true) = (
        agent_key,
        covers(&chosen.input, "@authority", None),
        covers(&chosen.input, "payment-signature", Some("bs")),
    ) else {
        return fail(
            R::BatchCloudflareSignatureCoverage,
            &"the signature must cover @authority, signature-agent and payment-signature",
        );
    };
    let (created, expires) = match time_checks(&chosen, now, config) {
        Ok(t) => t,
        Err((r, m)) => return fail(r, &m),
    };
    let agent = match agent_identity(agent_header, agent_key) {
        Ok(a) => a,
        Err((r, m)) => return fail(r, &m),
    };
    let sig = match find_signature_value(req, chosen.label) {
        Ok(s) => s,
        Err((r, m)) => return fail(r, &m),
    };
    let Some(keyid) = chosen.keyid.as_plain() else {
        return fail(
            R::BatchCloudflareKeyUnknown,
            &"keyid holds escapes no directory uses",
        );
    };
    let key = match keys.lookup(agent, keyid) {
        Ok(k) => k,
        Err(KeyLookupError::UnknownAgent) => {
            return fail(
                R::BatchCloudflareSignatureAgentUnknown,
                &"the signature agent is not known to the network",
            );
        }
        Err(KeyLookupError::UnknownKey) => {
            return fail(
                R::BatchCloudflareKeyUnknown,
                &"the agent's directory has no key with this keyid",
            );
        }
    };
    // The signature base, then the decoded payment, share the caller's scratch.
    let ctx = Ctx::from_message(&Message::Request(*req), None);
    let mut count = Counter::default();
    if let Err(e) = ctx.write_base(&chosen.input, &mut count) {
        return fail(R::BatchCloudflareSignatureComponent, &e);
    }
    let base_len = count.0;
    let payment_len = crate::header::base64_decoded_len(payment_header.trim().len());
    let needed = base_len.saturating_add(payment_len);
    if scratch.len() < needed {
        return fail(
            R::UnexpectedVerifyError,
            &format_args!("scratch buffer too small: {needed} bytes needed"),
        );
    }
    let (base_buf, payment_buf) = scratch.split_at_mut(base_len);
    let mut sink = SliceSink::new(base_buf);
    if let Err(e) = ctx.write_base(&chosen.input, &mut sink) {
        return fail(R::BatchCloudflareSignatureComponent, &e);
    }
    let base = sink.into_written();
    if key.verify(base, &sig).is_err() {
        return fail(
            R::BatchCloudflareSignature,
            &"the Ed25519 signature does not verify over the signature base",
        );
    }
    match check_payment(payment_header, requirements_json, payment_buf) {
        Ok((amount, asset)) => BatchVerdict {
            reason: None,
            message: Text::EMPTY,
            payer: Some(agent),
            commitment: Some(Commitment {
                amount,
                asset,
                label: chosen.label,
                keyid: chosen.keyid,
                created,
                expires,
                nonce: chosen.nonce,
            }),
        },
        Err(PaymentFail::Error(e)) => fail(e.reason(), &e),
        Err(PaymentFail::Check(r, m)) => fail(r, &m),
    }
}

/// [`verify_batch_settlement`] with a scratch buffer it allocates.
#[cfg(feature = "alloc")]
#[must_use]
pub fn verify_batch_settlement_alloc<'a>(
    req: &Request<'a>,
    requirements_json: &'a [u8],
    keys: &dyn KeyLookup,
    now: u64,
    config: &Config,
) -> BatchVerdict<'a> {
    // The base is bounded by the covered values: the URL and the header lines,
    // plus per-component overhead; `bs` grows a value by 4/3.
    let headers: usize = req.headers.iter().map(|(n, v)| n.len() + v.len() + 8).sum();
    let bound = req
        .url
        .len()
        .saturating_mul(super::signature_base::MAX_COMPONENTS)
        .saturating_add(headers.saturating_mul(2))
        .saturating_add(headers.saturating_mul(4) / 3)
        .saturating_add(4096);
    let mut scratch = alloc::vec![0u8; bound];
    verify_batch_settlement(req, requirements_json, keys, now, config, &mut scratch)
}

fn find_signature_value(req: &Request<'_>, label: &str) -> Result<[u8; 64], Fail> {
    let malformed = |what| (Reason::BatchCloudflareSignatureMalformed, what);
    let limits = SfLimits::DEFAULT;
    let mut found = None;
    for line in header_lines(req, "signature") {
        let d = Dictionary::parse(line, &limits)
            .map_err(|_| malformed("Signature is not a valid Dictionary"))?;
        if d.has_duplicate_keys() {
            return Err(malformed("a Signature label is repeated"));
        }
        if let Some(m) = d.get(label) {
            if found.is_some() {
                return Err(malformed("a Signature label is repeated"));
            }
            found = Some(m);
        }
    }
    let m = found.ok_or(malformed("Signature has no value for the chosen label"))?;
    m.as_item()
        .and_then(|i| i.bare.as_byte_seq())
        .and_then(|b| b.decode_array::<64>())
        .ok_or(malformed(
            "the signature value is not a 64-byte byte sequence",
        ))
}

enum PaymentFail {
    Error(Error),
    Check(Reason, &'static str),
}

impl From<Error> for PaymentFail {
    fn from(e: Error) -> Self {
        PaymentFail::Error(e)
    }
}

/// JSON equality with object members compared as sets (duplicates are already
/// refused by the reader), strings after unescaping, numbers as written.
fn json_equal(a: JsonValue<'_>, b: JsonValue<'_>) -> bool {
    match (a.as_object(), b.as_object(), a.as_array(), b.as_array()) {
        (Some(x), Some(y), _, _) => {
            x.len() == y.len()
                && x.members()
                    .all(|(k, va)| y.members().any(|(kb, vb)| kb == k && json_equal(va, vb)))
        }
        (_, _, Some(x), Some(y)) => {
            x.len() == y.len() && x.iter().zip(y.iter()).all(|(va, vb)| json_equal(va, vb))
        }
        _ => match (a.as_str(), b.as_str()) {
            (Some(x), Some(y)) => x == y,
            _ => a.raw() == b.raw(),
        },
    }
}

fn offered<'a>(requirements_json: &'a [u8]) -> Result<OfferIter<'a>, Error> {
    let r = Reason::InvalidPaymentRequirements;
    let v =
        crate::json::parse(requirements_json, &Limits::DEFAULT).map_err(|k| Error::new(r, k))?;
    let shape = || {
        Error::new(
            r,
            ErrorKind::Invalid(
                "requirements are a PaymentRequired, an array of PaymentRequirements, or one",
            ),
        )
    };
    if let Some(a) = v.as_array() {
        return Ok(OfferIter::Array(a));
    }
    let o = v.as_object().ok_or_else(shape)?;
    match o.get("accepts") {
        Some(acc) => acc.as_array().map(OfferIter::Array).ok_or_else(shape),
        None => Ok(OfferIter::One(o)),
    }
}

enum OfferIter<'a> {
    Array(crate::json::JsonArray<'a>),
    One(JsonObject<'a>),
}

impl<'a> OfferIter<'a> {
    fn iter(&self) -> impl Iterator<Item = JsonValue<'a>> + 'a {
        let (arr, one) = match self {
            OfferIter::Array(a) => (Some(*a), None),
            OfferIter::One(o) => (None, Some(o.as_value())),
        };
        arr.into_iter().flat_map(|a| a.iter()).chain(one)
    }
}

fn check_payment<'a>(
    header: &str,
    requirements_json: &'a [u8],
    buf: &mut [u8],
) -> Result<(Amount, JsonStr<'a>), PaymentFail> {
    use Reason as R;
    let payload_err = |k| Error::new(R::InvalidPayload, k);
    let n = crate::header::base64_decode(header.trim().as_bytes(), buf).map_err(payload_err)?;
    let json = buf.get(..n).unwrap_or_default();
    let v = crate::json::parse(json, &Limits::DEFAULT).map_err(payload_err)?;
    let o = v.as_object().ok_or(payload_err(ErrorKind::WrongType {
        expected: crate::error::JsonType::Object,
    }))?;
    let version = o.get("x402Version").and_then(|v| v.as_u64());
    if version != Some(2) {
        return Err(
            Error::new(R::InvalidX402Version, ErrorKind::UnsupportedVersion)
                .at("x402Version")
                .into(),
        );
    }
    let missing = |f| Error::new(R::InvalidPayload, ErrorKind::MissingField).at(f);
    let accepted_v = o.get("accepted").ok_or(missing("accepted"))?;
    let accepted = accepted_v.as_object().ok_or(
        Error::new(
            R::InvalidPayload,
            ErrorKind::WrongType {
                expected: crate::error::JsonType::Object,
            },
        )
        .at("accepted"),
    )?;
    let payload = BatchSettlementPayload::from_json(o.get("payload").ok_or(missing("payload"))?)?;
    let field = |name: &'static str| {
        accepted
            .get(name)
            .and_then(|v| v.as_str())
            .ok_or(missing(name).in_object("accepted"))
    };
    if field("scheme")? != SCHEME {
        return Err(PaymentFail::Check(
            R::BatchCloudflareScheme,
            "accepted.scheme is not batch-settlement",
        ));
    }
    if field("network")? != NETWORK {
        return Err(PaymentFail::Check(
            R::BatchCloudflareNetworkMismatch,
            "accepted.network is not cloudflare:402",
        ));
    }
    let offers = offered(requirements_json)?;
    let Some(offer) = offers.iter().find(|r| json_equal(*r, accepted_v)) else {
        return Err(PaymentFail::Check(
            R::BatchCloudflareAcceptedMismatch,
            "accepted is not one of the offered requirements",
        ));
    };
    let offer = offer.as_object().ok_or(PaymentFail::Check(
        R::BatchCloudflareAcceptedMismatch,
        "accepted is not one of the offered requirements",
    ))?;
    let amount = crate::types::amount(
        accepted
            .get("amount")
            .ok_or(missing("amount").in_object("accepted"))?,
        R::InvalidPayload,
        "amount",
    )
    .map_err(|e| e.in_object("accepted"))?;
    if payload.amount != amount {
        return Err(PaymentFail::Check(
            R::BatchCloudflareAmountMismatch,
            "payload.amount differs from accepted.amount",
        ));
    }
    let asset = offer
        .get("asset")
        .and_then(|v| v.as_str())
        .ok_or(missing("asset").in_object("accepted"))?;
    if payload.asset != asset {
        return Err(PaymentFail::Check(
            R::BatchCloudflareAssetMismatch,
            "payload.asset differs from accepted.asset",
        ));
    }
    Ok((amount, asset))
}

// ---------------------------------------------------------------------------
// Client side.

/// What a client signs with.
#[derive(Clone, Copy, Debug)]
pub struct SignParams<'p> {
    /// The signature's label (`sig1`): an sf-key (`[a-z*][a-z0-9_.*-]*`).
    pub label: &'p str,
    /// The `Signature-Agent` value to send, as the agent's registration names
    /// it: an sf-string (`"https://agent.example"`), or a dictionary
    /// (`sig1="https://agent.example"`) together with [`Self::signature_agent_key`].
    pub signature_agent: &'p str,
    /// When the signature is a dictionary, the member to cover (`;key=`).
    pub signature_agent_key: Option<&'p str>,
    /// Unix seconds.
    pub created: u64,
    /// Unix seconds, after `created`.
    pub expires: u64,
    /// An optional nonce (printable ASCII).
    pub nonce: Option<&'p str>,
}

/// The three header values a signed request carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignedHeaders<'b> {
    /// `Signature-Agent`.
    pub signature_agent: &'b str,
    /// `Signature-Input`.
    pub signature_input: &'b str,
    /// `Signature`.
    pub signature: &'b str,
}

fn sign_err(what: &'static str) -> Error {
    Error::new(Reason::InvalidPayload, ErrorKind::Invalid(what))
}

fn write_input(p: &SignParams<'_>, keyid: &str, out: &mut dyn Sink) -> Result<(), SinkFull> {
    out.put(b"(\"@authority\" \"signature-agent\"")?;
    if let Some(k) = p.signature_agent_key {
        out.put(b";key=")?;
        sfv::write_string(out, k)?;
    }
    out.put(b" \"payment-signature\");created=")?;
    sfv::write_u64(out, p.created)?;
    out.put(b";expires=")?;
    sfv::write_u64(out, p.expires)?;
    out.put(b";keyid=")?;
    sfv::write_string(out, keyid)?;
    out.put(b";alg=\"ed25519\"")?;
    if let Some(n) = p.nonce {
        out.put(b";nonce=")?;
        sfv::write_string(out, n)?;
    }
    out.put(b";tag=\"")?;
    out.put(TAG.as_bytes())?;
    out.put(b"\"")
}

/// Signs `req` (which must carry its `PAYMENT-SIGNATURE`) for
/// `batch-settlement` on `cloudflare:402`: covers `@authority`,
/// `signature-agent` and `payment-signature`, with `created`, `expires`, the
/// key's thumbprint as `keyid`, `alg="ed25519"`, the nonce if any and
/// `tag="web-bot-auth"`. Returns the three header values, written into `out`.
///
/// A `Signature-Agent` already among `req.headers` is ignored: the signature
/// covers `params.signature_agent`, which the caller sends.
///
/// # Errors
/// `invalid_payload` naming the problem (no `PAYMENT-SIGNATURE`, a bad label,
/// nonce or Signature-Agent, `expires` before `created`, a request whose
/// components cannot be signed); [`ErrorKind::BufferTooSmall`] when `out` is
/// too small (about 300 bytes plus the signature base suffice).
///
/// ```
/// use paywire::batch::{sign_request, SignParams, Request, ed25519::SigningKey};
/// let req = Request {
///     method: "GET",
///     url: "https://example.com/article",
///     headers: &[("PAYMENT-SIGNATURE", "eyJ4NDAyVmVyc2lvbiI6Mn0=")],
/// };
/// let params = SignParams {
///     label: "sig1",
///     signature_agent: "\"https://agent.example\"",
///     signature_agent_key: None,
///     created: 1_750_000_000,
///     expires: 1_750_000_060,
///     nonce: None,
/// };
/// let mut out = [0u8; 2048];
/// let h = sign_request(&req, &SigningKey::from_seed(&[1; 32]), &params, &mut out).unwrap();
/// assert!(h.signature_input.starts_with("sig1=(\"@authority\" \"signature-agent\" \"payment-signature\");created=1750000000;"));
/// assert!(h.signature.starts_with("sig1=:") && h.signature.ends_with(":"));
/// ```
pub fn sign_request<'b>(
    req: &Request<'_>,
    key: &SigningKey,
    params: &SignParams<'_>,
    out: &'b mut [u8],
) -> Result<SignedHeaders<'b>, Error> {
    let limits = SfLimits::DEFAULT;
    let label_ok = Dictionary::parse(params.label, &limits)
        .ok()
        .and_then(|d| d.iter().next().map(|(k, _)| k == params.label))
        .unwrap_or(false);
    if !label_ok {
        return Err(sign_err(
            "the label must be an sf-key ([a-z*][a-z0-9_.*-]*)",
        ));
    }
    if params.expires < params.created {
        return Err(sign_err("expires is before created"));
    }
    if params.nonce.is_some_and(|n| !printable(n)) {
        return Err(sign_err("the nonce must be printable ASCII"));
    }
    let agent = params.signature_agent.trim();
    if agent.is_empty() || agent.bytes().any(|b| !(0x20..=0x7e).contains(&b)) {
        return Err(sign_err(
            "the Signature-Agent value must be printable ASCII",
        ));
    }
    if let Some(k) = params.signature_agent_key {
        agent_identity(agent, SfString::plain(k))
            .map_err(|_| sign_err("Signature-Agent has no member with signature_agent_key"))?;
    }
    if header_lines(req, "payment-signature").next().is_none() {
        return Err(sign_err("the request has no PAYMENT-SIGNATURE to cover"));
    }
    let keyid = thumbprint(&key.public_key());
    let too_small =
        |needed| Error::new(Reason::InvalidPayload, ErrorKind::BufferTooSmall).at(needed);

    // Layout of `out`: agent | input member | signature member | base (scratch).
    let sig_len = params.label.len() + 2 + 88 + 1;
    let (agent_buf, rest) = out
        .split_at_mut_checked(agent.len())
        .ok_or(too_small("signature_agent"))?;
    agent_buf.copy_from_slice(agent.as_bytes());
    let mut input_len = Counter::default();
    let _ = write_input(params, keyid.as_str(), &mut input_len);
    let member_len = params.label.len() + 1 + input_len.0;
    let (input_buf, rest) = rest
        .split_at_mut_checked(member_len)
        .ok_or(too_small("signature_input"))?;
    {
        let mut s = SliceSink::new(input_buf);
        s.put(params.label.as_bytes())
            .and_then(|()| s.put(b"="))
            .and_then(|()| write_input(params, keyid.as_str(), &mut s))
            .map_err(|_| too_small("signature_input"))?;
    }
    let (sig_buf, base_buf) = rest
        .split_at_mut_checked(sig_len)
        .ok_or(too_small("signature"))?;
    let input_text = core::str::from_utf8(input_buf).map_err(|_| sign_err("non-ASCII input"))?;
    let list_text = input_text.get(params.label.len() + 1..).unwrap_or("");
    let list = sfv::parse_inner_list(list_text, &limits)
        .map_err(|_| sign_err("the signature parameters do not serialize"))?;
    let agent_text = core::str::from_utf8(agent_buf).map_err(|_| sign_err("non-ASCII agent"))?;
    let ctx = Ctx::from_message(
        &Message::Request(*req),
        Some(("signature-agent", agent_text)),
    );
    let mut base = SliceSink::new(base_buf);
    ctx.write_base(&list, &mut base).map_err(|e| match e {
        BaseError::SinkFull => too_small("signature base"),
        BaseError::Component { what, .. } => sign_err(what),
    })?;
    let signature = key.sign(base.into_written());
    {
        let mut s = SliceSink::new(sig_buf);
        s.put(params.label.as_bytes())
            .and_then(|()| s.put(b"="))
            .and_then(|()| sfv::write_byte_seq(&mut s, &signature))
            .map_err(|_| too_small("signature"))?;
    }
    let sig_text = core::str::from_utf8(sig_buf).map_err(|_| sign_err("non-ASCII signature"))?;
    Ok(SignedHeaders {
        signature_agent: agent_text,
        signature_input: input_text,
        signature: sig_text,
    })
}

fn printable(s: &str) -> bool {
    s.bytes().all(|b| (0x20..=0x7e).contains(&b))
}

/// [`SignedHeaders`] that own their text.
#[cfg(feature = "alloc")]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnedSignedHeaders {
    /// `Signature-Agent`.
    pub signature_agent: alloc::string::String,
    /// `Signature-Input`.
    pub signature_input: alloc::string::String,
    /// `Signature`.
    pub signature: alloc::string::String,
}

/// [`sign_request`] into owned strings.
///
/// # Errors
/// As [`sign_request`], never for a small buffer.
#[cfg(feature = "alloc")]
#[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
pub fn sign_request_alloc(
    req: &Request<'_>,
    key: &SigningKey,
    params: &SignParams<'_>,
) -> Result<OwnedSignedHeaders, Error> {
    use alloc::string::ToString;
    let headers: usize = req.headers.iter().map(|(n, v)| n.len() + v.len() + 8).sum();
    let size = 1024
        + 2 * params.signature_agent.len()
        + params.nonce.map_or(0, str::len)
        + req.url.len() * 4
        + headers * 2;
    let mut buf = alloc::vec![0u8; size];
    let h = sign_request(req, key, params, &mut buf)?;
    Ok(OwnedSignedHeaders {
        signature_agent: h.signature_agent.to_string(),
        signature_input: h.signature_input.to_string(),
        signature: h.signature.to_string(),
    })
}
