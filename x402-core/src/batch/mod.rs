//! Deferred payments: the `batch-settlement` scheme on the `cloudflare:402`
//! network, where the payment commitment is an HTTP Message Signature
//! (RFC 9421, the Web Bot Auth profile) over the request.
//!
//! The agent signs its request with Ed25519, covering `@authority`, its
//! `Signature-Agent` and the `PAYMENT-SIGNATURE` header (`{x402Version: 2,
//! payload: {amount, asset}, accepted}`); the server checks the signature and
//! the commitment at once, serves, and answers `PAYMENT-RESPONSE`:
//! a SettleResponse with no transaction (`{success, transaction: "", network,
//! payer, amount, asset, extra: {timestamp}}`). The network bills the agent later.
//!
//! - [`sfv`]: RFC 8941 structured fields (the syntax of `Signature-Input`,
//!   `Signature` and `Signature-Agent`).
//! - [`signature_base`]: the RFC 9421 signature base.
//! - [`ed25519`]: keys and signatures.
//! - [`directory`]: the agent's JWK Set and RFC 7638 key ids.
//! - [`verify_batch_settlement`] (server) and [`sign_request`] (client); with
//!   `alloc`, JSON-in/JSON-out forms for bindings: [`verify_batch_settlement_json`]
//!   and [`sign_request_json`].
//!
//! ```
//! use paywire::batch::{self, ed25519::SigningKey, directory::Directory, Request, SignParams};
//! use paywire::header;
//!
//! // The server's offer and the client's payment header.
//! let offer = br#"[{"scheme":"batch-settlement","network":"cloudflare:402","amount":"5","asset":"USD","payTo":"merchant","extra":{"version":"1.0.0"}}]"#;
//! let json = br#"{"x402Version":2,"payload":{"amount":"5","asset":"USD"},"accepted":{"scheme":"batch-settlement","network":"cloudflare:402","amount":"5","asset":"USD","payTo":"merchant","extra":{"version":"1.0.0"}}}"#;
//! let mut b64 = [0u8; 512];
//! let n = header::base64_encode(json, &mut b64).unwrap();
//! let payment = std::str::from_utf8(&b64[..n]).unwrap();
//!
//! // The client signs.
//! let key = SigningKey::from_seed(&[42; 32]);
//! let unsigned = [("Host", "example.com"), ("PAYMENT-SIGNATURE", payment)];
//! let req = Request { method: "GET", url: "https://example.com/article", headers: &unsigned };
//! let params = SignParams {
//!     label: "sig1",
//!     signature_agent: "\"https://agent.example\"",
//!     signature_agent_key: None,
//!     created: 1_750_000_000,
//!     expires: 1_750_000_060,
//!     nonce: None,
//! };
//! let signed = batch::sign_request_alloc(&req, &key, &params).unwrap();
//!
//! // The server verifies against the agent's directory.
//! let headers = [
//!     ("Host", "example.com"),
//!     ("PAYMENT-SIGNATURE", payment),
//!     ("Signature-Agent", signed.signature_agent.as_str()),
//!     ("Signature-Input", signed.signature_input.as_str()),
//!     ("Signature", signed.signature.as_str()),
//! ];
//! let req = Request { method: "GET", url: "https://example.com/article", headers: &headers };
//! let mut jwks = Vec::new();
//! batch::directory::write_directory(&[key.public_key()], &mut jwks).unwrap();
//! let dir = Directory::parse(&jwks).unwrap();
//! let v = batch::verify_batch_settlement_alloc(&req, offer, &dir, 1_750_000_010, &batch::Config::DEFAULT);
//! assert!(v.is_valid(), "{:?}", v.reason);
//! let receipt = v.payment_response(1_750_000_010).unwrap();
//! let value = header::encode_to_string(&receipt);
//! let mut json = [0u8; 256];
//! let n = header::base64_decode(value.as_bytes(), &mut json).unwrap();
//! assert_eq!(
//!     &json[..n],
//!     br#"{"success":true,"transaction":"","network":"cloudflare:402","payer":"https://agent.example","amount":"5","asset":"USD","extra":{"timestamp":1750000010}}"#
//! );
//! ```

pub mod directory;
pub mod ed25519;
#[cfg(feature = "alloc")]
mod json_api;
mod offer;
mod scheme;
pub mod sfv;
pub mod signature_base;

#[cfg(feature = "alloc")]
#[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
pub use json_api::{sign_request_json, verify_batch_settlement_json};
pub use offer::{Offer, SCHEME_VERSION};
pub use scheme::{
    BatchVerdict, Commitment, Config, KeyLookup, KeyLookupError, PaymentResponse, SignParams,
    SignedHeaders, network_error_code, sign_request, verify_batch_settlement,
};
#[cfg(feature = "alloc")]
#[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
pub use scheme::{OwnedSignedHeaders, sign_request_alloc, verify_batch_settlement_alloc};
pub use signature_base::{Message, Request, Response};

/// The scheme's name.
pub const SCHEME: &str = "batch-settlement";
/// The network's CAIP-2 identifier.
pub const NETWORK: &str = "cloudflare:402";
/// The signature tag of the Web Bot Auth profile.
pub const TAG: &str = "web-bot-auth";
/// The x402 extension that announces the signature requirements.
pub const EXTENSION: &str = "http-message-signatures";
