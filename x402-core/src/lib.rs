#![doc = include_str!("../README.md")]
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]
// No panic may be reachable from input: these lints are errors in the core
// whatever the workspace level; only tests may unwrap.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod amount;
#[cfg(feature = "batch")]
#[cfg_attr(docsrs, doc(cfg(feature = "batch")))]
pub mod batch;
#[cfg(feature = "bazaar")]
#[cfg_attr(docsrs, doc(cfg(feature = "bazaar")))]
pub mod bazaar;
pub mod client;
pub mod error;
pub mod evm;
pub mod gas_sponsoring;
pub mod header;
pub mod json;
#[cfg(feature = "alloc")]
#[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
pub mod lifecycle;
pub mod mcp;
pub mod message;
pub mod network;
pub mod payment_identifier;
pub mod rpc;
pub mod settle;
#[cfg(feature = "svm")]
#[cfg_attr(docsrs, doc(cfg(feature = "svm")))]
pub mod svm;
pub mod types;
pub mod verify;

pub use amount::Amount;
pub use error::{Error, ErrorKind, Reason, Result};
pub use network::Network;
