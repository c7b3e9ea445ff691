//! Ed25519 (RFC 8032) keys and signatures for HTTP Message Signatures
//! (`alg="ed25519"`, RFC 9421 §3.3.6), on the audited `ed25519-dalek`.
//!
//! Verification is strict (`verify_strict`): besides the RFC 8032 checks it
//! refuses small-order public keys and signature points, so one message has one
//! valid signature per key and no key verifies everything. Honest signatures
//! from any RFC 8032 signer pass it.
//!
//! ```
//! use paywire::batch::ed25519::SigningKey;
//! let key = SigningKey::from_seed(&[7u8; 32]);
//! let sig = key.sign(b"signature base");
//! assert!(key.public_key().verify(b"signature base", &sig).is_ok());
//! assert!(key.public_key().verify(b"signature bass", &sig).is_err());
//! ```

use core::fmt;

/// A public key that decodes to a point of large order.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey {
    bytes: [u8; 32],
}

/// The key bytes are not a usable Ed25519 public key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct InvalidKey;

impl fmt::Display for InvalidKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not a valid Ed25519 public key")
    }
}

impl core::error::Error for InvalidKey {}

/// The signature does not verify.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BadSignature;

impl fmt::Display for BadSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Ed25519 signature does not verify")
    }
}

impl core::error::Error for BadSignature {}

impl PublicKey {
    /// A key from its 32-byte encoding.
    ///
    /// # Errors
    /// [`InvalidKey`] when the bytes do not decode to a curve point, or decode
    /// to a point of small order (a "weak" key).
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<PublicKey, InvalidKey> {
        let vk = ed25519_dalek::VerifyingKey::from_bytes(bytes).map_err(|_| InvalidKey)?;
        if vk.is_weak() {
            return Err(InvalidKey);
        }
        Ok(PublicKey { bytes: *bytes })
    }

    /// The 32-byte encoding.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.bytes
    }

    /// Verifies `signature` (R ‖ S, 64 bytes) over `message`.
    ///
    /// # Errors
    /// [`BadSignature`] for any failure.
    pub fn verify(&self, message: &[u8], signature: &[u8; 64]) -> Result<(), BadSignature> {
        let vk = ed25519_dalek::VerifyingKey::from_bytes(&self.bytes).map_err(|_| BadSignature)?;
        let sig = ed25519_dalek::Signature::from_bytes(signature);
        vk.verify_strict(message, &sig).map_err(|_| BadSignature)
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PublicKey(")?;
        for b in self.bytes {
            write!(f, "{b:02x}")?;
        }
        f.write_str(")")
    }
}

/// A signing key (the 32-byte RFC 8032 seed); wiped from memory when dropped.
#[derive(Clone)]
pub struct SigningKey {
    inner: ed25519_dalek::SigningKey,
}

impl SigningKey {
    /// The key for a 32-byte seed (the JWK `d` member, or the PKCS#8 private key).
    #[must_use]
    pub fn from_seed(seed: &[u8; 32]) -> SigningKey {
        SigningKey {
            inner: ed25519_dalek::SigningKey::from_bytes(seed),
        }
    }

    /// The seed.
    #[must_use]
    pub fn seed(&self) -> [u8; 32] {
        self.inner.to_bytes()
    }

    /// The public key.
    #[must_use]
    pub fn public_key(&self) -> PublicKey {
        PublicKey {
            bytes: self.inner.verifying_key().to_bytes(),
        }
    }

    /// Signs `message` (deterministic, RFC 8032).
    #[must_use]
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.sign_parts(&[message])
    }

    /// Signs the concatenation of `parts` without joining them first.
    #[must_use]
    pub fn sign_parts(&self, parts: &[&[u8]]) -> [u8; 64] {
        use ed25519_dalek::ed25519::signature::MultipartSigner;
        // Signing with a well-formed key cannot fail; a failure would yield an
        // all-zero signature, which no verifier accepts.
        self.inner
            .try_multipart_sign(parts)
            .map(|s| s.to_bytes())
            .unwrap_or([0u8; 64])
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("public_key", &self.public_key())
            .finish_non_exhaustive()
    }
}
