//! Networks: CAIP-2 identifiers (v2) and the v1 network names.
//!
//! v2 names networks by CAIP-2 (`namespace:reference`, e.g. `eip155:8453`). This
//! crate accepts only the canonical form: the CAIP-2 grammar, and for `eip155` a
//! decimal chain id without leading zeros (`eip155:08453` would compare unequal to
//! `eip155:8453` in every peer, so it is refused rather than silently different).
//! v1 used names (`base-sepolia`); [`V1_NETWORKS`] maps them both ways.

use core::fmt;

use crate::error::ErrorKind;

/// The v1 network names this crate knows, with their CAIP-2 identifiers.
///
/// EVM chain ids are those of the reference SDK's table; the Solana entries use
/// the genesis-hash references of CAIP-30.
pub const V1_NETWORKS: &[(&str, &str)] = &[
    ("ethereum", "eip155:1"),
    ("sepolia", "eip155:11155111"),
    ("base", "eip155:8453"),
    ("base-sepolia", "eip155:84532"),
    ("avalanche", "eip155:43114"),
    ("avalanche-fuji", "eip155:43113"),
    ("polygon", "eip155:137"),
    ("polygon-amoy", "eip155:80002"),
    ("sei", "eip155:1329"),
    ("sei-testnet", "eip155:1328"),
    ("iotex", "eip155:4689"),
    ("peaq", "eip155:3338"),
    ("abstract", "eip155:2741"),
    ("abstract-testnet", "eip155:11124"),
    ("story", "eip155:1514"),
    ("educhain", "eip155:41923"),
    ("skale-base-sepolia", "eip155:324705682"),
    ("megaeth", "eip155:4326"),
    ("monad", "eip155:143"),
    ("stable", "eip155:988"),
    ("stable-testnet", "eip155:2201"),
    ("celo", "eip155:42220"),
    ("flare", "eip155:14"),
    ("solana", "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp"),
    ("solana-devnet", "solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1"),
];

/// Longest network string kept: 32 (namespace) + 1 + 64 (reference).
///
/// CAIP-2 limits namespaces to 8 characters and references to 32 of
/// `[-_a-zA-Z0-9]`, but x402's own schemes go beyond: `cloudflare:402` for
/// `batch-settlement`, and Algorand's base64 genesis hash
/// (`algorand:wGHE2Pwdvd7S12BL5FaOP20EGYesN73ktiC1qzkkit8=`). This crate accepts
/// namespaces of up to 32 characters and references of up to 64 characters of
/// `[-_a-zA-Z0-9+/=.]`; `eip155` references stay canonical decimals.
pub const MAX_NETWORK_LEN: usize = 97;

/// A network identifier, validated and stored inline (it is `Copy`).
///
/// ```
/// use paywire::Network;
/// let n = Network::parse_caip2("eip155:84532").unwrap();
/// assert_eq!(n.evm_chain_id(), Some(84532));
/// assert_eq!(Network::parse_v1("base-sepolia").unwrap().to_caip2(), Some(n));
/// assert!(Network::parse_caip2("eip155:084532").is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Network {
    buf: [u8; MAX_NETWORK_LEN],
    len: u8,
}

impl Network {
    fn from_ascii(s: &str) -> Network {
        let mut buf = [0u8; MAX_NETWORK_LEN];
        let n = s.len().min(MAX_NETWORK_LEN);
        if let (Some(dst), Some(src)) = (buf.get_mut(..n), s.as_bytes().get(..n)) {
            dst.copy_from_slice(src);
        }
        Network { buf, len: n as u8 }
    }

    /// Parses a canonical CAIP-2 identifier.
    ///
    /// # Errors
    /// [`ErrorKind::Network`] saying what is wrong.
    pub fn parse_caip2(s: &str) -> Result<Network, ErrorKind> {
        let (ns, reference) = s
            .split_once(':')
            .ok_or(ErrorKind::Network("expected namespace:reference"))?;
        if !(3..=32).contains(&ns.len())
            || !ns
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(ErrorKind::Network(
                "namespace must be 3-32 characters of [-a-z0-9]",
            ));
        }
        if !(1..=64).contains(&reference.len())
            || !reference
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_+/=.".contains(&b))
        {
            return Err(ErrorKind::Network(
                "reference must be 1-64 characters of [-_a-zA-Z0-9+/=.]",
            ));
        }
        if ns == "eip155" {
            match crate::amount::parse_u64(reference) {
                Ok(0) | Err(_) => {
                    return Err(ErrorKind::Network(
                        "eip155 reference must be a chain id in canonical decimal",
                    ));
                }
                Ok(_) => {}
            }
        }
        Ok(Network::from_ascii(s))
    }

    /// Parses a v1 network name: lower-case letters, digits and `-`, 1-64 characters.
    /// Unknown names are accepted (a client skips what it cannot pay); use
    /// [`Network::to_caip2`] to resolve one.
    ///
    /// # Errors
    /// [`ErrorKind::Network`].
    pub fn parse_v1(s: &str) -> Result<Network, ErrorKind> {
        if s.is_empty()
            || s.len() > 64
            || !s
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(ErrorKind::Network(
                "v1 names are 1-64 characters of [-a-z0-9]",
            ));
        }
        Ok(Network::from_ascii(s))
    }

    /// The identifier as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        self.buf
            .get(..usize::from(self.len))
            .and_then(|b| core::str::from_utf8(b).ok())
            .unwrap_or("")
    }

    /// Whether this is a CAIP-2 identifier (as opposed to a v1 name).
    #[must_use]
    pub fn is_caip2(&self) -> bool {
        self.as_str().contains(':')
    }

    /// The CAIP-2 namespace (`eip155`), if CAIP-2.
    #[must_use]
    pub fn namespace(&self) -> Option<&str> {
        self.as_str().split_once(':').map(|(ns, _)| ns)
    }

    /// The CAIP-2 reference (`8453`), if CAIP-2.
    #[must_use]
    pub fn reference(&self) -> Option<&str> {
        self.as_str().split_once(':').map(|(_, r)| r)
    }

    /// This network in CAIP-2 form: itself if already CAIP-2, else the v1 table's entry.
    #[must_use]
    pub fn to_caip2(&self) -> Option<Network> {
        if self.is_caip2() {
            return Some(*self);
        }
        let name = self.as_str();
        V1_NETWORKS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, c)| Network::from_ascii(c))
    }

    /// The v1 name of this network, if the table has one.
    #[must_use]
    pub fn v1_name(&self) -> Option<&'static str> {
        let s = self.as_str();
        V1_NETWORKS
            .iter()
            .find(|(n, c)| *n == s || *c == s)
            .map(|(n, _)| *n)
    }

    /// The EVM chain id, for `eip155:N` and for v1 EVM names.
    #[must_use]
    pub fn evm_chain_id(&self) -> Option<u64> {
        let caip = self.to_caip2()?;
        match caip.as_str().split_once(':') {
            Some(("eip155", id)) => crate::amount::parse_u64(id).ok(),
            _ => None,
        }
    }

    /// `eip155:{chain_id}`.
    #[must_use]
    pub fn eip155(chain_id: u64) -> Network {
        let mut buf = [0u8; MAX_NETWORK_LEN];
        let mut sink = crate::json::SliceSink::new(&mut buf);
        let _ = crate::json::Sink::put(&mut sink, b"eip155:");
        let _ = crate::json::ToJson::write_json(&chain_id, &mut sink);
        let len = sink.len() as u8;
        Network { buf, len }
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Network({})", self.as_str())
    }
}

impl PartialEq<str> for Network {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Network {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caip2_canonical_form() {
        for ok in [
            "eip155:1",
            "eip155:8453",
            "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp",
            "cloudflare:402",
            "bip122:000000000019d6689c085ae165831e93",
        ] {
            assert_eq!(Network::parse_caip2(ok).unwrap().as_str(), ok);
        }
        for bad in [
            "eip155",
            "eip155:",
            ":1",
            "eip155:08453",
            "eip155:0",
            "eip155:+1",
            "EIP155:1",
            "ab:1",
            "eip155:1:2",
            "eip155:18446744073709551616",
            "averyveryveryveryverylongnamespace:1",
            "eip155: 1",
            "eip155:1 ",
            "a:b:c",
        ] {
            assert!(Network::parse_caip2(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn v1_table_both_ways() {
        for (name, caip) in V1_NETWORKS {
            let n = Network::parse_v1(name).unwrap();
            let c = Network::parse_caip2(caip).unwrap();
            assert_eq!(n.to_caip2(), Some(c));
            assert_eq!(c.v1_name(), Some(*name));
            assert_eq!(n.evm_chain_id(), c.evm_chain_id());
        }
        assert_eq!(
            Network::parse_v1("base").unwrap().evm_chain_id(),
            Some(8453)
        );
        assert_eq!(
            Network::parse_v1("skale-base-sepolia")
                .unwrap()
                .evm_chain_id(),
            Some(324_705_682)
        );
        assert_eq!(Network::parse_v1("unknown-chain").unwrap().to_caip2(), None);
        assert!(Network::parse_v1("Base").is_err());
        assert_eq!(Network::eip155(84532).as_str(), "eip155:84532");
    }
}
