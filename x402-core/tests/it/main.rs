//! The integration tests of the core, in one binary (one link instead of one per
//! file). Each module is one concern; `cargo test -p paywire --test it MODULE::`
//! runs one of them.

mod base64_props;
mod batch_crosscheck;
mod batch_known_answers;
mod batch_scheme;
#[cfg(feature = "evm-batch")]
mod batch_settlement_evm;
#[cfg(feature = "evm-batch")]
mod batch_settlement_onchain;
#[cfg(feature = "evm-batch")]
mod batch_settlement_server;
mod batch_sfv_suite;
#[cfg(feature = "bazaar")]
mod bazaar;
mod chain_harness;
#[cfg(feature = "libsecp256k1")]
mod differential;
mod fuzz_regressions;
mod json_inputs;
mod lifecycle_regressions;
mod malformed;
mod official_vectors;
mod resource_info;
mod roundtrip_props;
mod sdk_headers;
mod settlement_onchain;
mod settlement_vectors;
mod smart_wallet_vectors;
mod spec_examples;
mod svm_generic;
#[cfg(feature = "svm")]
mod svm_vectors;
