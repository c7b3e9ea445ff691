//! Test key files: one secp256k1 private key as `0x` + 64 hex digits, after
//! optional `#` comment lines; written with mode 0600.

use std::io::Write as _;

use paywire::client::random_nonce;
use paywire::evm::PrivateKey;

use crate::fail::Failure;

/// Reads a key file, warning (on standard error) when others may read it.
pub(crate) fn read(path: &str) -> Result<PrivateKey, Failure> {
    let text = crate::input::read_file(path, "key file")?;
    warn_if_shared(path);
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .unwrap_or("");
    PrivateKey::from_hex(line).map_err(|_| {
        Failure::usage(format!(
            "key file {path}: not a secp256k1 private key: expected 0x followed by 64 hex \
             digits, non-zero and below the curve order"
        ))
        .hint("create a test key with `paywire keygen --out FILE`")
    })
}

#[cfg(unix)]
fn warn_if_shared(path: &str) {
    use std::os::unix::fs::PermissionsExt as _;
    if let Ok(meta) = std::fs::metadata(path) {
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            eprintln!(
                "paywire: warning: key file {path} can be read by other users (mode {mode:o}); \
                 run `chmod 600 {path}`"
            );
        }
    }
}

#[cfg(not(unix))]
fn warn_if_shared(_path: &str) {}

/// Writes a new key to `path` (which must not exist), readable by its owner only.
pub(crate) fn write_new(path: &str, key_hex: &str, address: &str) -> Result<(), Failure> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut f = options.open(path).map_err(|e| {
        let f = Failure::io(format!("key file {path}"), e);
        if std::path::Path::new(path).exists() {
            f.hint("keygen never overwrites a key: choose another --out, or pass --force")
        } else {
            f
        }
    })?;
    let text = format!(
        "# paywire test key (secp256k1) for {address}: for test networks only\n{key_hex}\n"
    );
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| Failure::io(format!("writing key file {path}"), e))
}

/// A fresh key from the operating system's random source, with its 32 bytes
/// (the caller zeroizes them).
pub(crate) fn fresh() -> Result<(PrivateKey, [u8; 32]), Failure> {
    // A random 32-byte string is a valid scalar but with probability about 2^-128.
    loop {
        let bytes = random_nonce().map_err(|e| Failure::io("drawing a random key", e))?;
        if let Ok(k) = PrivateKey::from_bytes(&bytes) {
            return Ok((k, bytes));
        }
    }
}
