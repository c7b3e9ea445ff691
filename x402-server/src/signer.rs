//! The accounts that pay settlements' gas, behind [`Signer`]: a key read from
//! a file or the environment today; a remote signer (a KMS, an HSM, a signing
//! service) implements the same trait. Keys are never logged: their `Debug`
//! shows the address only.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;

use paywire::evm::{Address, B256, PrivateKey, Signature};
use zeroize::Zeroizing;

/// What can go wrong while signing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignerError(pub String);

impl std::fmt::Display for SignerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SignerError {}

/// A boxed signing future.
pub type SignFuture<'a> = Pin<Box<dyn Future<Output = Result<Signature, SignerError>> + Send + 'a>>;

/// An account that signs settlement transactions.
pub trait Signer: Send + Sync + std::fmt::Debug {
    /// The account's address.
    fn address(&self) -> Address;
    /// Signs a 32-byte hash (an EIP-1559 transaction's signing hash).
    fn sign_hash(&self, hash: B256) -> SignFuture<'_>;
}

/// A key held in this process.
pub struct LocalKey {
    key: PrivateKey,
    address: Address,
}

impl std::fmt::Debug for LocalKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LocalKey({})", self.address)
    }
}

impl LocalKey {
    /// A key given as hex (`0x` optional).
    ///
    /// # Errors
    /// When it is not a valid secp256k1 private key (the message never
    /// contains the key).
    pub fn from_hex(hex: &str) -> Result<LocalKey, SignerError> {
        let key = PrivateKey::from_hex(hex.trim())
            .map_err(|_| SignerError("not a 32-byte secp256k1 private key in hex".into()))?;
        Ok(LocalKey {
            address: key.address(),
            key,
        })
    }

    /// A key read from a file that only its owner can read (mode 0600 or
    /// stricter; a key readable by others is refused). Lines starting with
    /// `#` are comments.
    ///
    /// # Errors
    /// When the file cannot be read, is readable by others, or holds no key.
    pub fn from_file(path: &Path) -> Result<LocalKey, SignerError> {
        let shown = path.display();
        let meta =
            std::fs::metadata(path).map_err(|e| SignerError(format!("key file {shown}: {e}")))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(SignerError(format!(
                    "key file {shown} can be read by other users (mode {mode:o}): chmod 600 it"
                )));
            }
        }
        #[cfg(not(unix))]
        let _ = meta;
        let text = Zeroizing::new(
            std::fs::read_to_string(path)
                .map_err(|e| SignerError(format!("key file {shown}: {e}")))?,
        );
        let line = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with('#'))
            .ok_or_else(|| SignerError(format!("key file {shown} holds no key")))?;
        LocalKey::from_hex(line).map_err(|e| SignerError(format!("key file {shown}: {e}")))
    }

    /// A key read from an environment variable.
    ///
    /// # Errors
    /// When the variable is unset or holds no key.
    pub fn from_env(var: &str) -> Result<LocalKey, SignerError> {
        let value = Zeroizing::new(
            std::env::var(var).map_err(|_| SignerError(format!("${var} is not set")))?,
        );
        LocalKey::from_hex(&value).map_err(|e| SignerError(format!("${var}: {e}")))
    }
}

impl Signer for LocalKey {
    fn address(&self) -> Address {
        self.address
    }

    fn sign_hash(&self, hash: B256) -> SignFuture<'_> {
        let sig = self.key.sign_digest(&hash.0);
        Box::pin(async move { Ok(sig) })
    }
}

/// Reads a secret (an API key) from a file only its owner can read, or from
/// the environment.
///
/// # Errors
/// As [`LocalKey::from_file`] and [`LocalKey::from_env`].
pub fn read_secret(
    file: Option<&Path>,
    env: Option<&str>,
) -> Result<Zeroizing<String>, SignerError> {
    match (file, env) {
        (Some(path), _) => {
            let shown = path.display();
            let meta = std::fs::metadata(path).map_err(|e| SignerError(format!("{shown}: {e}")))?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = meta.permissions().mode() & 0o777;
                if mode & 0o077 != 0 {
                    return Err(SignerError(format!(
                        "{shown} can be read by other users (mode {mode:o}): chmod 600 it"
                    )));
                }
            }
            #[cfg(not(unix))]
            let _ = meta;
            let text =
                std::fs::read_to_string(path).map_err(|e| SignerError(format!("{shown}: {e}")))?;
            let secret = Zeroizing::new(text.trim().to_string());
            if secret.is_empty() {
                return Err(SignerError(format!("{shown} is empty")));
            }
            Ok(secret)
        }
        (None, Some(var)) => {
            let v = Zeroizing::new(
                std::env::var(var).map_err(|_| SignerError(format!("${var} is not set")))?,
            );
            if v.trim().is_empty() {
                return Err(SignerError(format!("${var} is empty")));
            }
            Ok(Zeroizing::new(v.trim().to_string()))
        }
        (None, None) => Err(SignerError("no secret given".into())),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_key_file_readable_by_others_is_refused_and_debug_hides_keys() {
        let dir = std::env::temp_dir().join(format!("paywire-signer-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("k");
        std::fs::write(&path, format!("# a test key\n0x{}\n", "5a".repeat(32))).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            let e = LocalKey::from_file(&path).unwrap_err();
            assert!(e.0.contains("chmod 600"), "{e}");
            assert!(!e.0.contains("5a5a5a5a"), "{e}");
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let k = LocalKey::from_file(&path).unwrap();
        let shown = format!("{k:?}");
        assert!(!shown.contains("5a5a5a5a"), "{shown}");
        assert!(shown.contains(&k.address().to_string()));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
