//! The accounts that pay settlements' gas, behind [`Signer`] (secp256k1, EVM)
//! and [`Ed25519Signer`] (Solana fee payers): a key read from a file or the
//! environment today; a remote signer (a KMS, an HSM, a signing service)
//! implements the same trait. Keys are never logged: their `Debug` shows the
//! address only.

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

/// A boxed Ed25519 signing future.
pub type Ed25519SignFuture<'a> =
    Pin<Box<dyn Future<Output = Result<[u8; 64], SignerError>> + Send + 'a>>;

/// A Solana fee payer: signs transaction messages with Ed25519.
pub trait Ed25519Signer: Send + Sync + std::fmt::Debug {
    /// The account's address (its public key).
    fn pubkey(&self) -> paywire::svm::Pubkey;
    /// Signs a transaction's message bytes.
    fn sign_message<'a>(&'a self, message: &'a [u8]) -> Ed25519SignFuture<'a>;
}

/// An Ed25519 key held in this process.
pub struct LocalEd25519Key {
    key: paywire::svm::client::SigningKey,
    pubkey: paywire::svm::Pubkey,
}

impl std::fmt::Debug for LocalEd25519Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LocalEd25519Key({})", self.pubkey)
    }
}

fn hex_nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

impl LocalEd25519Key {
    /// A key given as text: `solana-keygen`'s JSON array of 64 bytes (seed
    /// then public key), base58 of those 64 bytes (as wallets export it) or
    /// of the 32-byte seed, or the seed in hex (`0x` optional). Where the
    /// public key is given it must be the seed's.
    ///
    /// # Errors
    /// When the text is none of these (the message never contains the key).
    pub fn from_text(text: &str) -> Result<LocalEd25519Key, SignerError> {
        let text = text.trim();
        let mut bytes = Zeroizing::new([0u8; 64]);
        let n = if text.starts_with('[') {
            let inner = text
                .strip_prefix('[')
                .and_then(|t| t.strip_suffix(']'))
                .ok_or_else(|| SignerError("not a JSON array of 64 bytes".into()))?;
            let mut n = 0usize;
            for part in inner.split(',') {
                let b: u8 = part
                    .trim()
                    .parse()
                    .map_err(|_| SignerError("not a JSON array of 64 bytes".into()))?;
                *bytes
                    .get_mut(n)
                    .ok_or_else(|| SignerError("not a JSON array of 64 bytes".into()))? = b;
                n += 1;
            }
            if n != 64 {
                return Err(SignerError("not a JSON array of 64 bytes".into()));
            }
            n
        } else {
            let hex = text.strip_prefix("0x").unwrap_or(text);
            if hex.len() == 64 && hex.bytes().all(|c| c.is_ascii_hexdigit()) {
                for (slot, pair) in bytes.iter_mut().zip(hex.as_bytes().chunks_exact(2)) {
                    if let [hi, lo] = pair {
                        *slot = (hex_nibble(*hi).unwrap_or(0) << 4) | hex_nibble(*lo).unwrap_or(0);
                    }
                }
                32
            } else {
                let mut buf = Zeroizing::new([0u8; 65]);
                match bs58::decode(text.as_bytes()).onto(&mut buf[..]) {
                    Ok(n @ (32 | 64)) => {
                        bytes
                            .get_mut(..n)
                            .zip(buf.get(..n))
                            .map(|(d, s)| d.copy_from_slice(s))
                            .ok_or_else(|| SignerError("not an Ed25519 key".into()))?;
                        n
                    }
                    _ => {
                        return Err(SignerError(
                            "not an Ed25519 key (a JSON array of 64 bytes, base58 of the keypair or seed, or the seed in hex)".into(),
                        ));
                    }
                }
            }
        };
        let mut seed = Zeroizing::new([0u8; 32]);
        seed.copy_from_slice(bytes.get(..32).unwrap_or(&[0u8; 32]));
        let key = paywire::svm::client::SigningKey::from_bytes(&seed);
        let pubkey = paywire::svm::Pubkey(key.verifying_key().to_bytes());
        if n == 64 && bytes.get(32..64) != Some(&pubkey.0[..]) {
            return Err(SignerError(
                "the keypair's public half is not its secret's".into(),
            ));
        }
        Ok(LocalEd25519Key { key, pubkey })
    }

    /// A key read from a file only its owner can read, or from the
    /// environment, in one of [`LocalEd25519Key::from_text`]'s forms.
    ///
    /// # Errors
    /// As [`read_secret`] and [`LocalEd25519Key::from_text`].
    pub fn read(file: Option<&Path>, env: Option<&str>) -> Result<LocalEd25519Key, SignerError> {
        let text = read_secret(file, env)?;
        let line: String = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect();
        let line = Zeroizing::new(line);
        LocalEd25519Key::from_text(&line)
    }
}

impl Ed25519Signer for LocalEd25519Key {
    fn pubkey(&self) -> paywire::svm::Pubkey {
        self.pubkey
    }

    fn sign_message<'a>(&'a self, message: &'a [u8]) -> Ed25519SignFuture<'a> {
        use ed25519_dalek::Signer as _;
        let sig = self.key.sign(message).to_bytes();
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
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn ed25519_keys_in_each_form() {
        let seed = [7u8; 32];
        let key = paywire::svm::client::SigningKey::from_bytes(&seed);
        let public = key.verifying_key().to_bytes();
        let mut pair = seed.to_vec();
        pair.extend(public);
        let json = format!(
            "[{}]",
            pair.iter()
                .map(u8::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        );
        let forms = [
            json,
            bs58::encode(&pair).into_string(),
            bs58::encode(&seed).into_string(),
            format!("0x{}", "07".repeat(32)),
        ];
        for text in &forms {
            let k = LocalEd25519Key::from_text(text).unwrap();
            assert_eq!(k.pubkey().0, public, "{text}");
            assert!(!format!("{k:?}").contains(&forms[1]));
        }
        // A public half that is not the seed's, and what is no key.
        let mut wrong = pair.clone();
        wrong[40] ^= 1;
        assert!(LocalEd25519Key::from_text(&bs58::encode(&wrong).into_string()).is_err());
        for bad in [
            "",
            "[1, 2]",
            "[256]",
            "0x12",
            "not base58 0OIl",
            &"1".repeat(200),
        ] {
            let e = LocalEd25519Key::from_text(bad).unwrap_err();
            assert!(!e.0.contains("0707"), "{e}");
        }
        // The signature is the key's over the message.
        let k = LocalEd25519Key::from_text(&forms[3]).unwrap();
        let sig = futures_block(k.sign_message(b"message"));
        use ed25519_dalek::Verifier as _;
        key.verifying_key()
            .verify(b"message", &ed25519_dalek::Signature::from_bytes(&sig))
            .unwrap();
    }

    fn futures_block<T>(f: impl std::future::Future<Output = Result<T, SignerError>>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
            .unwrap()
    }

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
