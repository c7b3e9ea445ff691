//! Networks: `Network::parse_caip2` accepts exactly `namespace:reference` with a
//! namespace of 3-32 `[-a-z0-9]`, a reference of 1-64 `[-_a-zA-Z0-9+/=.]`, and
//! for `eip155` a canonical non-zero decimal chain id; `Network::parse_v1`
//! accepts exactly 1-64 `[-a-z0-9]`. What either accepts displays as the input,
//! parses back to the same network, and resolves consistently (namespace,
//! reference, chain id, the v1 table both ways).
#![no_main]

use libfuzzer_sys::fuzz_target;
use paywire::Network;
use paywire::network::V1_NETWORKS;

fn caip2_model(s: &str) -> Option<Option<u64>> {
    let (ns, reference) = s.split_once(':')?;
    let ns_ok = (3..=32).contains(&ns.len())
        && ns
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    let ref_ok = (1..=64).contains(&reference.len())
        && reference
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_+/=.".contains(&b));
    if !ns_ok || !ref_ok {
        return None;
    }
    if ns == "eip155" {
        let canonical = reference.bytes().all(|b| b.is_ascii_digit())
            && !(reference.len() > 1 && reference.starts_with('0'));
        let id: u64 = reference.parse().ok().filter(|_| canonical)?;
        if id == 0 {
            return None;
        }
        return Some(Some(id));
    }
    Some(None)
}

fn v1_model(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn check_common(n: &Network, s: &str) {
    assert_eq!(n.as_str(), s);
    assert_eq!(n.to_string(), s);
    if let Some(c) = n.to_caip2() {
        let again = Network::parse_caip2(c.as_str()).expect("to_caip2 gives canonical CAIP-2");
        assert_eq!(again, c);
    }
    if let Some(name) = n.v1_name() {
        let (_, caip) = V1_NETWORKS
            .iter()
            .find(|(v, _)| *v == name)
            .expect("in the table");
        assert!(s == name || s == *caip);
        assert_eq!(
            Network::parse_v1(name)
                .unwrap()
                .to_caip2()
                .unwrap()
                .as_str(),
            *caip
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let caip = Network::parse_caip2(s);
    match caip2_model(s) {
        None => assert!(caip.is_err(), "{s:?} accepted as CAIP-2"),
        Some(chain) => {
            let n = caip.unwrap_or_else(|e| panic!("{s:?} refused as CAIP-2: {e}"));
            check_common(&n, s);
            assert!(n.is_caip2());
            let (ns, reference) = s.split_once(':').unwrap();
            assert_eq!(n.namespace(), Some(ns));
            assert_eq!(n.reference(), Some(reference));
            assert_eq!(n.to_caip2(), Some(n));
            assert_eq!(n.evm_chain_id(), chain);
            if let Some(id) = chain {
                assert_eq!(Network::eip155(id), n);
            }
            assert_eq!(Network::parse_caip2(n.as_str()), Ok(n));
        }
    }
    let v1 = Network::parse_v1(s);
    if v1_model(s) {
        let n = v1.unwrap_or_else(|e| panic!("{s:?} refused as a v1 name: {e}"));
        check_common(&n, s);
        assert!(!n.is_caip2());
        assert_eq!(n.namespace(), None);
        let entry = V1_NETWORKS.iter().find(|(name, _)| *name == s);
        assert_eq!(
            n.to_caip2().map(|c| c.as_str().to_owned()),
            entry.map(|(_, c)| (*c).to_owned())
        );
        let chain = entry
            .and_then(|(_, c)| c.strip_prefix("eip155:"))
            .map(|id| id.parse::<u64>().unwrap());
        assert_eq!(n.evm_chain_id(), chain);
        assert_eq!(Network::parse_v1(n.as_str()), Ok(n));
    } else {
        assert!(v1.is_err(), "{s:?} accepted as a v1 name");
    }
    // Any u64 chain id makes a canonical eip155 network.
    if data.len() >= 8 {
        let id = u64::from_le_bytes(data[..8].try_into().unwrap());
        let n = Network::eip155(id);
        assert_eq!(n.as_str(), format!("eip155:{id}"));
        if id != 0 {
            assert_eq!(Network::parse_caip2(n.as_str()), Ok(n));
            assert_eq!(n.evm_chain_id(), Some(id));
        }
    }
});
