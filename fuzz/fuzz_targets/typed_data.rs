//! EIP-712 typed data read from JSON (`typed_data_hash_json`, the wallet's
//! `eth_signTypedData_v4` shape): never panics; what it hashes, it hashes the
//! same as the separate entry points (`eip3009_hash_json`, `permit2_hash_json`)
//! on the document's own domain and message, with or without `types`, and the
//! digest is `keccak256(0x1901 ‖ domainSeparator ‖ structHash)`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use paywire::evm::eip712;
use paywire::evm::typed_data::{eip3009_hash_json, permit2_hash_json, typed_data_hash_json};
use paywire::json::{self, Limits};

fuzz_target!(|data: &[u8]| {
    let h = match typed_data_hash_json(data) {
        Ok(h) => h,
        Err(e) => {
            paywire_fuzz::check_error(&e);
            return;
        }
    };
    assert_eq!(
        h.digest,
        eip712::digest(&h.domain_separator, &h.struct_hash)
    );
    let o = json::parse(data, &Limits::DEFAULT)
        .unwrap()
        .as_object()
        .unwrap();
    let compact = |key: &str| {
        paywire_fuzz::compact(o.get(key).unwrap().raw().as_bytes(), &Limits::DEFAULT).unwrap()
    };
    let (domain, message) = (compact("domain"), compact("message"));
    let primary = o.get("primaryType").unwrap().as_str().unwrap();
    let again = if primary == "TransferWithAuthorization" {
        eip3009_hash_json(&domain, &message)
    } else {
        let d = json::parse(&domain, &Limits::DEFAULT).unwrap();
        let chain = eip712_chain(d);
        permit2_hash_json(chain, &message)
    };
    assert_eq!(again, Ok(h), "the entry points disagree");
    // Without `types`, the same hashes.
    let mut bare = b"{".to_vec();
    let mut first = true;
    for (k, v) in o.members() {
        if k == "types" {
            continue;
        }
        if !first {
            bare.push(b',');
        }
        first = false;
        json::write_escaped(&mut bare, k).unwrap();
        bare.push(b':');
        json::write_compact(&mut bare, v).unwrap();
    }
    bare.push(b'}');
    assert_eq!(typed_data_hash_json(&bare), Ok(h));
});

fn eip712_chain(domain: json::JsonValue<'_>) -> u64 {
    paywire::evm::typed_data::domain_from_json(domain)
        .expect("the domain was read once")
        .chain_id
}
