//! The facilitator's configuration reader (`paywire facilitator --config`):
//! - it never panics, on any text;
//! - an error names the file, and a line within the text when it gives one;
//! - a configuration it accepts keeps the promises the service relies on:
//!   each network an EVM chain with endpoints, schemes and signers that
//!   exist, a receipt wait inside the request deadline, wei amounts that
//!   read, access closed unless keys are given or it is opened on purpose.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use paywire_server::config::{Config, wei};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Config::parse(Path::new("f.toml"), text) {
        Err(e) => {
            assert_eq!(e.file, Path::new("f.toml"));
            if let Some(line) = e.line {
                assert!(line >= 1 && line <= text.split('\n').count(), "line {line}");
            }
            assert!(!e.message.is_empty());
            assert!(e.to_string().starts_with("f.toml"));
        }
        Ok(c) => {
            assert!(c.access.open || !c.access.keys.is_empty());
            assert!(!c.networks.is_empty());
            for n in &c.networks {
                let network = paywire::Network::parse_caip2(&n.id).unwrap();
                assert!(network.evm_chain_id().is_some());
                assert!(!n.rpc.is_empty() && !n.schemes.is_empty() && !n.signers.is_empty());
                assert!(n.signers.iter().all(|s| c.signers.iter().any(|d| &d.name == s)));
                assert!((n.receipt_timeout_seconds + 3) * 1000 <= c.server.request_timeout_ms);
                for w in [&n.max_fee_per_gas, &n.priority_fee_per_gas, &n.min_gas_balance].into_iter().flatten() {
                    assert!(wei(w).is_some());
                }
            }
        }
    }
});
