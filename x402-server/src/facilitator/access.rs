//! Who may call `/verify` and `/settle`: an open `/settle` spends the
//! signers' gas for anyone, so by default only resource servers holding an API
//! key (`Authorization: Bearer <key>`) may, each optionally limited to its own
//! `payTo` addresses and to a rate.

use std::sync::Mutex;
use std::time::Instant;

use paywire::evm::{Address, keccak256};
use zeroize::Zeroizing;

use crate::config::AccessConfig;
use crate::signer::read_secret;

/// One resource server's key.
pub(crate) struct ApiKey {
    pub(crate) name: String,
    /// The key's Keccak-256 digest: tokens are compared by digest, in time
    /// independent of the token (its length included).
    digest: [u8; 32],
    pay_to: Vec<Address>,
    /// The Solana `payTo` addresses (base58) of `pay_to` in the configuration.
    pay_to_solana: Vec<paywire::svm::Pubkey>,
    bucket: Option<Mutex<Bucket>>,
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ApiKey({})", self.name)
    }
}

/// A token bucket: `per_minute` requests a minute, bursts up to that many.
struct Bucket {
    tokens: f64,
    capacity: f64,
    per_second: f64,
    last: Instant,
}

impl Bucket {
    fn take(&mut self, now: Instant) -> Result<(), u64> {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.capacity);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            // Whole seconds until a token is back (for Retry-After).
            let wait = ((1.0 - self.tokens) / self.per_second).ceil();
            Err(if wait.is_finite() && wait >= 1.0 {
                wait as u64
            } else {
                1
            })
        }
    }
}

/// The keys, or an open door.
#[derive(Debug)]
pub(crate) struct Access {
    open: bool,
    keys: Vec<ApiKey>,
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Denied {
    /// No key, or an unknown one: 401.
    Unauthenticated,
    /// Over its rate: 429, with the seconds to wait.
    RateLimited(u64),
}

/// Whom a request came from.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Caller<'a> {
    /// Anyone (an open facilitator).
    Anyone,
    /// A key's holder.
    Key(&'a ApiKey),
}

impl Caller<'_> {
    /// The key's name, for logs and metrics.
    pub(crate) fn name(&self) -> &str {
        match self {
            Caller::Anyone => "-",
            Caller::Key(k) => &k.name,
        }
    }

    /// Whether this caller may settle for `pay_to`.
    pub(crate) fn may_pay(&self, pay_to: &Address) -> bool {
        match self {
            Caller::Anyone => true,
            Caller::Key(k) => k.unrestricted() || k.pay_to.contains(pay_to),
        }
    }

    /// Whether this caller names `receiver` in its key's `pay_to` list: what
    /// the receiver authorizer's signature needs (an anonymous caller or a
    /// key without a list is not enough).
    pub(crate) fn names_receiver(&self, receiver: &Address) -> bool {
        match self {
            Caller::Anyone => false,
            Caller::Key(k) => k.pay_to.contains(receiver),
        }
    }

    /// Whether this caller may settle for the Solana `pay_to` (`None`: not
    /// an address, which only an unrestricted caller may present).
    pub(crate) fn may_pay_solana(&self, pay_to: Option<&paywire::svm::Pubkey>) -> bool {
        match self {
            Caller::Anyone => true,
            Caller::Key(k) => {
                k.unrestricted() || pay_to.is_some_and(|p| k.pay_to_solana.contains(p))
            }
        }
    }
}

impl ApiKey {
    /// No `pay_to` list: any recipient.
    fn unrestricted(&self) -> bool {
        self.pay_to.is_empty() && self.pay_to_solana.is_empty()
    }
}

impl Access {
    /// Reads the keys of a configuration.
    pub(crate) fn from_config(c: &AccessConfig) -> Result<Access, String> {
        let mut keys = Vec::new();
        for (i, k) in c.keys.iter().enumerate() {
            let secret: Zeroizing<String> =
                read_secret(k.key_file.as_deref(), k.key_env.as_deref())
                    .map_err(|e| format!("access.keys[{i}] ({}): {e}", k.name))?;
            let digest = keccak256(secret.as_bytes());
            let mut pay_to = Vec::new();
            let mut pay_to_solana = Vec::new();
            for a in &k.pay_to {
                if a.starts_with("0x") || a.starts_with("0X") {
                    pay_to.push(
                        a.parse::<Address>()
                            .map_err(|e| format!("access.keys[{i}].pay_to: {e}"))?,
                    );
                } else {
                    pay_to_solana.push(
                        paywire::svm::Pubkey::parse(a)
                            .map_err(|e| format!("access.keys[{i}].pay_to: {e}"))?,
                    );
                }
            }
            let bucket = (k.requests_per_minute > 0).then(|| {
                let cap = f64::from(k.requests_per_minute);
                Mutex::new(Bucket {
                    tokens: cap,
                    capacity: cap,
                    per_second: cap / 60.0,
                    last: Instant::now(),
                })
            });
            keys.push(ApiKey {
                name: k.name.clone(),
                digest,
                pay_to,
                pay_to_solana,
                bucket,
            });
        }
        Ok(Access { open: c.open, keys })
    }

    /// Who sent a request with this `Authorization` header value.
    pub(crate) fn check(&self, authorization: Option<&str>) -> Result<Caller<'_>, Denied> {
        let token = authorization
            .and_then(|v| {
                let (scheme, rest) = v.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then_some(rest.trim())
            })
            .filter(|t| !t.is_empty());
        // Every key is compared, whichever matches.
        let key = token.and_then(|t| {
            let digest = keccak256(t.as_bytes());
            self.keys.iter().fold(None, |found, k| {
                if same(&k.digest, &digest) {
                    Some(k)
                } else {
                    found
                }
            })
        });
        match key {
            Some(k) => {
                if let Some(bucket) = &k.bucket {
                    let mut b = bucket
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    b.take(Instant::now()).map_err(Denied::RateLimited)?;
                }
                Ok(Caller::Key(k))
            }
            None if self.open => Ok(Caller::Anyone),
            None => Err(Denied::Unauthenticated),
        }
    }
}

/// Compares digests in time independent of where they differ.
fn same(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let diff = a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::ApiKeyConfig;

    #[test]
    fn keys_payees_and_rates() {
        let dir = std::env::temp_dir().join(format!("paywire-access-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("key");
        std::fs::write(&file, "s3cret\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let access = Access::from_config(&AccessConfig {
            open: false,
            keys: vec![ApiKeyConfig {
                name: "shop".into(),
                key_env: None,
                key_file: Some(file.clone()),
                pay_to: vec!["0x209693Bc6afc0C5328bA36FaF03C514EF312287C".into()],
                requests_per_minute: 2,
            }],
        })
        .unwrap();
        assert_eq!(access.check(None).unwrap_err(), Denied::Unauthenticated);
        assert_eq!(
            access.check(Some("Bearer nope")).unwrap_err(),
            Denied::Unauthenticated
        );
        assert_eq!(
            access.check(Some("Basic s3cret")).unwrap_err(),
            Denied::Unauthenticated
        );
        let caller = access.check(Some("Bearer s3cret")).unwrap();
        assert_eq!(caller.name(), "shop");
        assert!(
            caller.may_pay(
                &"0x209693Bc6afc0C5328bA36FaF03C514EF312287C"
                    .parse()
                    .unwrap()
            )
        );
        assert!(
            !caller.may_pay(
                &"0x000000000000000000000000000000000000dEaD"
                    .parse()
                    .unwrap()
            )
        );
        // Limited to EVM addresses: no Solana payee.
        let sol =
            paywire::svm::Pubkey::parse("En1dx9bUjczzJkQds2WbBD945oQkWKvFVRRCzQEvSvSG").unwrap();
        assert!(!caller.may_pay_solana(Some(&sol)));
        assert!(!caller.may_pay_solana(None));
        access.check(Some("bearer s3cret")).unwrap();
        assert!(matches!(
            access.check(Some("Bearer s3cret")),
            Err(Denied::RateLimited(_))
        ));
        // A list with a Solana address: that one, and no EVM payee.
        let access = Access::from_config(&AccessConfig {
            open: false,
            keys: vec![ApiKeyConfig {
                name: "sol".into(),
                key_env: None,
                key_file: Some(file.clone()),
                pay_to: vec!["En1dx9bUjczzJkQds2WbBD945oQkWKvFVRRCzQEvSvSG".into()],
                requests_per_minute: 0,
            }],
        })
        .unwrap();
        let caller = access.check(Some("Bearer s3cret")).unwrap();
        assert!(caller.may_pay_solana(Some(&sol)));
        assert!(!caller.may_pay_solana(Some(&paywire::svm::Pubkey([1; 32]))));
        assert!(
            !caller.may_pay(
                &"0x209693Bc6afc0C5328bA36FaF03C514EF312287C"
                    .parse()
                    .unwrap()
            )
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
