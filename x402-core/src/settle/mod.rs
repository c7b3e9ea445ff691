//! Verification with the chain, and settlement, as a host-driven state machine.
//!
//! The core does no I/O. A [`Machine`] says which JSON-RPC call to make next
//! ([`Machine::step`]); the host sends it to its node and feeds the answer back
//! ([`Machine::feed`]), until the machine is done with an [`Outcome`]: a
//! `VerifyResponse` ([`ChainVerdict`]) or a `SettleResponse` ([`Settlement`]).
//! [`Machine::drive`] runs that loop over any transport closure.
//!
//! ```
//! use paywire::settle::{Machine, Options, Step};
//! use paywire::verify::Config;
//! // A body that fails offline never reaches the chain.
//! let m = Machine::verify_json(b"{}", 1_750_000_000, &Config::default(), &Options::default());
//! match m.step() {
//!     Step::Done(outcome) => assert_eq!(outcome.reason().unwrap().as_str(), "invalid_x402_version"),
//!     Step::Call(_) | Step::Sign(_) => unreachable!(),
//! }
//! ```
//!
//! # The calls, in order
//! Verify (after the offline checks of [`crate::verify`] passed):
//! 1. `eth_chainId`, when [`Options::check_chain_id`]: the node must serve the
//!    payment's chain.
//! 2. For a smart wallet's EIP-3009 signature (anything but a 65-byte ECDSA
//!    signature recovering to `from`; see [`crate::evm::smart_wallet`]):
//!    `eth_getCode(from)`. Code (a contract, or an EIP-7702 delegation) →
//!    `eth_call` of ERC-1271 `isValidSignature(digest, signature)` on `from`,
//!    anything but `0x1626ba7e` or a revert → `invalid_exact_evm_signature`.
//!    No code → the ERC-6492 wrapper must name a factory in
//!    [`Options::eip6492_allowed_factories`], else
//!    `eip6492_factory_not_allowed` (without a wrapper:
//!    `invalid_exact_evm_signature`); then `eth_getCode` of Multicall3
//!    (`0xcA11…CA11`), through which the wallet is deployed and paid in one
//!    call: empty → `unexpected_verify_error` / `unexpected_settle_error`.
//! 3. `eth_getCode(asset)`: empty → `asset_not_deployed_contract`.
//! 4. `eth_call` of what settlement will send: `transferWithAuthorization(…, v, r, s)`
//!    on the token (with `bytes signature` for a smart wallet), or the x402
//!    proxy's `settle`; for a wallet not deployed yet, Multicall3
//!    `aggregate3` of its deployment (the factory call) and that transfer.
//!    Success → valid.
//! 5. On failure, the reference facilitator's diagnosis, one `eth_call` at a time
//!    (the reference batches them through Multicall3, which not every chain has),
//!    stopping at the first finding, in the reference's order of precedence:
//!    - EIP-3009: `authorizationState(from, nonce)` fails →
//!      `invalid_exact_evm_eip3009_not_supported`, is true →
//!      `invalid_exact_evm_nonce_already_used`; `name()` ≠ `extra.name` →
//!      `…_token_name_mismatch`; `version()` ≠ `extra.version` →
//!      `…_token_version_mismatch`; `balanceOf(from)` < amount →
//!      `…_insufficient_balance`; else `invalid_exact_evm_transaction_simulation_failed`
//!      with the decoded revert as `invalidMessage`.
//!    - Permit2 (exact and upto): `PERMIT2()` on the proxy fails →
//!      `permit2_proxy_not_deployed`; `balanceOf` < amount →
//!      `permit2_insufficient_balance`; `allowance(from, Permit2)` < amount →
//!      `permit2_allowance_required`; else `permit2_simulation_failed`.
//!
//! Settle: the same offline checks, chain id and code check; then
//! `eth_estimateGas` of the transaction from the facilitator's address, which
//! simulates it (a revert is diagnosed as above, then mapped from the revert
//! data the way the reference maps its write errors, else
//! `invalid_exact_evm_transaction_failed`); `eth_getTransactionCount(pending)`;
//! `eth_getBlockByNumber(latest)` for the base fee and `eth_maxPriorityFeePerGas`
//! (or `eth_gasPrice` when a node lacks it); `eth_sendRawTransaction` of an
//! EIP-1559 transaction signed with the facilitator's key (by the machine, or
//! by the host: [`Signer::Host`], [`Step::Sign`]); and
//! `eth_getTransactionReceipt` until it is mined, then, with
//! [`Options::confirmations`] above 1, `eth_blockNumber` until its block is
//! deep enough and the receipt once more (a block replaced meanwhile sends the
//! same transaction again).
//!
//! A host that settles for many payments from one account allocates the
//! account's nonces itself: it answers `eth_getTransactionCount` from its
//! allocator (the machine asks only once the simulation passed), keeps
//! [`Machine::sent_transaction`] durably before `eth_sendRawTransaction`
//! leaves, and after a restart takes the transaction up again by hash
//! ([`Machine::resume`]) instead of sending another; one that is stuck is
//! replaced at its nonce ([`Machine::replace`]). A mined transaction succeeded
//! only if its status is 1 and, like the reference, its logs hold the token's
//! `Transfer(from, to, value)`.
//!
//! Where this differs from the reference facilitator: settlement always
//! simulates first (gas estimation does, at no extra call), so a replayed or
//! underfunded payment costs no gas; `v` is always sent as 27/28; upto's
//! `invalid_upto_evm_transaction_failed` is used for upto transactions; a
//! smart wallet's signature is checked after the offline checks (the
//! reference checks it before the recipient, time and amount), and a wallet
//! that is not deployed yet is deployed and paid in one transaction through
//! Multicall3 (the reference sends the deployment, waits for it, then the
//! transfer).

// One concern per file: the machine as hosts drive it (`machine`), a
// payment's run through the chain calls (`run`), a failed simulation
// explained (`diagnose`), settlement's transaction (`transaction`), the
// payment and its calldata (`payment`), settings (`options`) and outcomes
// (`outcome`).
mod diagnose;
mod machine;
mod options;
mod outcome;
mod payment;
mod run;
mod sent;
mod transaction;

pub use machine::{Call, DriveError, MAX_REQUEST_LEN, Machine, SignRequest, Signer, Step};
pub use options::{AllowedFactories, Options};
pub use outcome::{ChainVerdict, Outcome, Settlement};
pub use payment::PaymentId;
pub use sent::SentTransaction;
pub use transaction::refused_before_broadcast;

#[cfg(test)]
mod tests;
