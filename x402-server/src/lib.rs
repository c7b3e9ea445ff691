//! The I/O around paywire's x402 core: the core decides, this crate carries.
//!
//! - [`facilitator`]: an x402 facilitator service for EVM chains and Solana — `POST
//!   /verify`, `POST /settle`, `GET /supported`, `GET /health`, `GET
//!   /metrics` — idempotent under retries (one transaction per payment
//!   however often it is presented), safe under concurrency (an account
//!   nonce per transaction, no gap, no collision), truthful (`success: true`
//!   only with a mined, confirmed receipt; `settlement_pending` with the
//!   transaction otherwise), resumable after a crash, scaled out over
//!   PostgreSQL. `paywire facilitator --config FILE` runs it.
//! - [`config`]: its configuration file.
//! - [`store`]: where it keeps settlements and nonces (SQLite, PostgreSQL).
//! - [`rpc`]: an async JSON-RPC transport with failover.
//! - [`signer`]: the accounts that pay gas (EVM) and fees (Solana), behind
//!   traits.
//! - [`http`]: serving on hyper with bounds against slow and abusive clients.
//!
//! Every protocol decision is made by the core (`paywire`): verification,
//! the chain calls and their reading ([`paywire::settle::Machine`]), the
//! documents' JSON. Nothing here reads a payment's fields but through it.

pub mod config;
pub mod facilitator;
pub mod http;
#[cfg(feature = "mcp")]
#[cfg_attr(docsrs, doc(cfg(feature = "mcp")))]
pub mod mcp;
pub mod paywall;
pub mod rpc;
pub mod signer;
pub mod store;
mod tls;
