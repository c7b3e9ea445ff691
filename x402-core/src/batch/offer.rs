//! What a resource server offers on `cloudflare:402`: the `PaymentRequired` of a
//! `batch-settlement` route, with the `http-message-signatures` extension that
//! tells agents how to sign (so that hosts never spell the scheme out
//! themselves).

use crate::amount::Amount;
use crate::json::{JsonStr, ObjectWriter, Sink, SinkFull, ToJson};
use crate::types::v2::X402_VERSION;

/// A `batch-settlement` route on `cloudflare:402`.
///
/// ```
/// use paywire::batch::Offer;
/// use paywire::json::ToJson;
/// use paywire::types::{v2, FromJson};
/// let offer = Offer {
///     url: "https://shop.example/article",
///     description: Some("An article, billed later"),
///     mime_type: Some("text/plain"),
///     amount: 5u64.into(),
///     asset: "USD",
///     pay_to: "merchant",
///     registration_url: "https://shop.example/agents",
/// };
/// let json = offer.to_json_string();
/// let pr = v2::PaymentRequired::from_json_bytes(json.as_bytes(), &Default::default()).unwrap();
/// assert_eq!(pr.accepts.get(0).unwrap().scheme, "batch-settlement");
/// assert_eq!(pr.accepts.get(0).unwrap().network.as_str(), "cloudflare:402");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Offer<'a> {
    /// The resource's URL (`resource.url`).
    pub url: &'a str,
    /// `resource.description`.
    pub description: Option<&'a str>,
    /// `resource.mimeType`.
    pub mime_type: Option<&'a str>,
    /// The price, in the asset's smallest unit.
    pub amount: Amount,
    /// The currency: an ISO 4217 code (`USD`).
    pub asset: &'a str,
    /// The merchant's account with the network (a role, such as `merchant`).
    pub pay_to: &'a str,
    /// Where agents register their keys (`registrationUrl` of the extension).
    pub registration_url: &'a str,
}

/// `maxTimeoutSeconds` of the requirement: the signature's validity is what
/// bounds a payment on this network.
const MAX_TIMEOUT_SECONDS: u64 = 30;

/// `extra.version` of the requirement.
pub const SCHEME_VERSION: &str = "1";

impl ToJson for Offer<'_> {
    fn write_json(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        let mut w = ObjectWriter::new(out)?;
        w.u64_field("x402Version", X402_VERSION)?;
        w.key(JsonStr::new("resource"))?;
        {
            let mut r = ObjectWriter::new(w.sink())?;
            r.str_field("url", JsonStr::new(self.url))?;
            r.opt_str_field("description", self.description.map(JsonStr::new))?;
            r.opt_str_field("mimeType", self.mime_type.map(JsonStr::new))?;
            r.end()?;
        }
        w.key(JsonStr::new("accepts"))?;
        w.sink().put(b"[")?;
        {
            let mut a = ObjectWriter::new(w.sink())?;
            a.str_field("scheme", JsonStr::new(super::SCHEME))?;
            a.str_field("network", JsonStr::new(super::NETWORK))?;
            a.field("amount", &self.amount)?;
            a.str_field("asset", JsonStr::new(self.asset))?;
            a.str_field("payTo", JsonStr::new(self.pay_to))?;
            a.u64_field("maxTimeoutSeconds", MAX_TIMEOUT_SECONDS)?;
            a.key(JsonStr::new("extra"))?;
            let mut x = ObjectWriter::new(a.sink())?;
            x.str_field("version", JsonStr::new(SCHEME_VERSION))?;
            x.end()?;
            a.end()?;
        }
        w.sink().put(b"]")?;
        w.key(JsonStr::new("extensions"))?;
        {
            let mut e = ObjectWriter::new(w.sink())?;
            e.key(JsonStr::new(super::EXTENSION))?;
            let mut ext = ObjectWriter::new(e.sink())?;
            ext.key(JsonStr::new("info"))?;
            let mut info = ObjectWriter::new(ext.sink())?;
            info.str_field("registrationUrl", JsonStr::new(self.registration_url))?;
            info.key(JsonStr::new("signatureSchemes"))?;
            info.sink().put(b"[\"ed25519\"]")?;
            info.key(JsonStr::new("tags"))?;
            let s = info.sink();
            s.put(b"[")?;
            crate::json::write_escaped(s, JsonStr::new(super::TAG))?;
            s.put(b"]")?;
            info.end()?;
            ext.end()?;
            e.end()?;
        }
        w.end()
    }
}
