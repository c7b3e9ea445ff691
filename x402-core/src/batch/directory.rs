//! The key directory of an agent (draft-meunier-http-message-signatures-directory):
//! a JWK Set whose Ed25519 keys are OKP JWKs, each named by its RFC 7638 JWK
//! thumbprint (SHA-256, base64url without padding), which is the `keyid` a
//! signature carries.
//!
//! ```
//! use paywire::batch::directory::{Directory, thumbprint};
//! use paywire::batch::ed25519::SigningKey;
//! let jwks = br#"{"keys":[{"kty":"OKP","crv":"Ed25519","x":"JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs"}]}"#;
//! let dir = Directory::parse(jwks).unwrap();
//! let key = dir.find("poqkLGiymh_W0uP6PZFw-dvez3QJT5SolqXBCW38r0U").unwrap();
//! assert_eq!(thumbprint(&key).as_str(), "poqkLGiymh_W0uP6PZFw-dvez3QJT5SolqXBCW38r0U");
//! ```
//!
//! Keys of other types (RSA, EC) are skipped: this crate verifies Ed25519 only.
//! An OKP key whose `x` is not canonical base64url of a valid 32-byte key, or a
//! key that carries a private part (`d`), makes the whole directory invalid: a
//! published directory must not leak a secret, and a half-read directory could
//! hide a key the agent meant to revoke.

use core::fmt;

use sha2::{Digest, Sha256};

use super::ed25519::PublicKey;
use crate::error::{Error, ErrorKind, Reason};
use crate::json::{JsonArray, JsonObject, JsonStr, Limits, Sink, SinkFull};

/// The well-known path an agent publishes its directory at.
pub const WELL_KNOWN_PATH: &str = "/.well-known/http-message-signatures-directory";

/// The media type of a directory response.
pub const MEDIA_TYPE: &str = "application/http-message-signatures-directory+json";

/// A key id: the RFC 7638 thumbprint of an Ed25519 JWK, 43 base64url characters.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyId {
    text: [u8; 43],
}

impl KeyId {
    /// The 43 characters.
    #[must_use]
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.text).unwrap_or("")
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Base64url without padding of 32 bytes: 43 characters.
pub(crate) fn base64url_32(bytes: &[u8; 32]) -> [u8; 43] {
    let mut out = [b'A'; 43];
    // 32 bytes always encode to 43 characters: the buffer fits.
    let _ = URL_SAFE_NO_PAD.encode_slice(bytes, &mut out);
    out
}

/// Decodes canonical base64url without padding of exactly 32 bytes (the
/// engine refuses padding and non-zero trailing bits).
pub(crate) fn base64url_decode_32(text: &str) -> Option<[u8; 32]> {
    if text.len() != 43 {
        return None;
    }
    let mut out = [0u8; 32];
    match URL_SAFE_NO_PAD.decode_slice(text, &mut out) {
        Ok(32) => Some(out),
        _ => None,
    }
}

/// The RFC 7638 thumbprint of an Ed25519 public key:
/// base64url(SHA-256(`{"crv":"Ed25519","kty":"OKP","x":"<x>"}`)).
#[must_use]
pub fn thumbprint(key: &PublicKey) -> KeyId {
    let x = base64url_32(key.as_bytes());
    let mut h = Sha256::new();
    h.update(br#"{"crv":"Ed25519","kty":"OKP","x":""#);
    h.update(x);
    h.update(br#""}"#);
    let digest: [u8; 32] = h.finalize().into();
    KeyId {
        text: base64url_32(&digest),
    }
}

/// Writes the public JWK of `key`: `{"kty":"OKP","crv":"Ed25519","kid":..,"x":..}`.
///
/// # Errors
/// [`SinkFull`] from the sink.
pub fn write_jwk(key: &PublicKey, out: &mut dyn Sink) -> Result<(), SinkFull> {
    out.put(br#"{"kty":"OKP","crv":"Ed25519","kid":""#)?;
    out.put(thumbprint(key).as_str().as_bytes())?;
    out.put(br#"","x":""#)?;
    out.put(&base64url_32(key.as_bytes()))?;
    out.put(br#""}"#)
}

/// Writes a directory holding `keys`: `{"keys":[jwk,...]}`.
///
/// # Errors
/// [`SinkFull`] from the sink.
pub fn write_directory(keys: &[PublicKey], out: &mut dyn Sink) -> Result<(), SinkFull> {
    out.put(br#"{"keys":["#)?;
    for (i, k) in keys.iter().enumerate() {
        if i > 0 {
            out.put(b",")?;
        }
        write_jwk(k, out)?;
    }
    out.put(b"]}")
}

/// A parsed directory: a view over its JSON.
#[derive(Clone, Copy, Debug)]
pub struct Directory<'a> {
    keys: JsonArray<'a>,
}

const R: Reason = Reason::InvalidPayload;

fn bad(what: &'static str) -> Error {
    Error::new(R, ErrorKind::Invalid(what)).in_object("directory")
}

fn str_member<'a>(o: JsonObject<'a>, key: &str) -> Option<JsonStr<'a>> {
    o.get(key).and_then(|v| v.as_str())
}

/// An Ed25519 key of the directory, or `None` for a key of another type.
fn ed25519_key(o: JsonObject<'_>) -> Result<Option<PublicKey>, Error> {
    let kty = str_member(o, "kty").ok_or(bad("a key has no kty"))?;
    if kty != "OKP" {
        return Ok(None);
    }
    if str_member(o, "crv").is_none_or(|c| c != "Ed25519") {
        return Ok(None);
    }
    if o.get("d").is_some() {
        return Err(bad("a directory key carries its private part (d)"));
    }
    let x = str_member(o, "x")
        .and_then(|x| x.as_str())
        .and_then(base64url_decode_32)
        .ok_or(bad(
            "an Ed25519 key's x is not 43 characters of canonical base64url",
        ))?;
    PublicKey::from_bytes(&x)
        .map(Some)
        .map_err(|_| bad("an Ed25519 key's x is not a valid public key"))
}

impl<'a> Directory<'a> {
    /// Reads a JWK Set (`{"keys":[...]}`) strictly (see [`crate::json`]) and
    /// checks every Ed25519 key in it.
    ///
    /// # Errors
    /// `invalid_payload` naming the problem (a directory is not a protocol
    /// document; the reason only classifies the error).
    pub fn parse(json: &'a [u8]) -> Result<Directory<'a>, Error> {
        let v = crate::json::parse(json, &Limits::DEFAULT)
            .map_err(|k| Error::new(R, k).in_object("directory"))?;
        let keys = v
            .as_object()
            .and_then(|o| o.get("keys"))
            .and_then(|k| k.as_array())
            .ok_or(bad("a directory is an object with a keys array"))?;
        for k in keys.iter() {
            ed25519_key(k.as_object().ok_or(bad("a key is not an object"))?)?;
        }
        Ok(Directory { keys })
    }

    /// The Ed25519 keys with their key ids, in order.
    pub fn keys(&self) -> impl Iterator<Item = (KeyId, PublicKey)> + 'a {
        self.keys
            .iter()
            .filter_map(|k| k.as_object())
            .filter_map(|o| ed25519_key(o).ok().flatten())
            .map(|pk| (thumbprint(&pk), pk))
    }

    /// The key whose thumbprint is `keyid`.
    #[must_use]
    pub fn find(&self, keyid: &str) -> Option<PublicKey> {
        self.keys()
            .find(|(id, _)| id.as_str() == keyid)
            .map(|(_, k)| k)
    }
}
