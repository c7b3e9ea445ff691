//! Solidity ABI encoding of the calls a facilitator makes, and decoding of their
//! results and of revert data. No allocation: fixed-size calls return arrays,
//! calls with a `bytes` argument write into the caller's buffer.
//!
//! The calls, with their selectors (checked against `keccak256` of the
//! signature in the tests):
//!
//! | call | selector |
//! |---|---|
//! | `balanceOf(address)` | `0x70a08231` |
//! | `allowance(address,address)` | `0xdd62ed3e` |
//! | `authorizationState(address,bytes32)` | `0xe94a0102` |
//! | `transferWithAuthorization(address,address,uint256,uint256,uint256,bytes32,uint8,bytes32,bytes32)` | `0xe3ee160e` |
//! | `transferWithAuthorization(address,address,uint256,uint256,uint256,bytes32,bytes)` | `0xcf092995` |
//! | `name()` / `version()` | `0x06fdde03` / `0x54fd4d50` |
//! | x402 exact proxy `settle(((address,uint256),uint256,uint256),address,(address,uint256),bytes)` | `0x13cd3b53` |
//! | x402 upto proxy `settle(((address,uint256),uint256,uint256),uint256,address,(address,address,uint256),bytes)` | `0xff11e7b4` |
//! | proxies' `PERMIT2()` | `0x6afdd850` |
//!
//! Signatures passed to a token or to Permit2 always carry `v` as 27 or 28:
//! `ecrecover` returns the zero address for `v` of 0 or 1, so a payer whose
//! wallet signs with 0/1 would otherwise see a valid payment fail on chain.
//!
//! ```
//! use paywire::evm::{abi, Address};
//! let owner: Address = "0x857b06519E91e3A54538791bDbb0E22373e36b66".parse().unwrap();
//! let call = abi::balance_of(&owner);
//! assert_eq!(call[..4], [0x70, 0xa0, 0x82, 0x31]);
//! let result = [0u8; 31].iter().copied().chain([42]).collect::<Vec<u8>>();
//! assert_eq!(abi::decode_uint(&result).unwrap(), 42u64.into());
//! ```

use core::fmt;

use super::{Address, B256};
use crate::amount::Amount;
use crate::json::BufferTooSmall;
use crate::types::payload::{Eip3009Authorization, Permit2Authorization};

/// A 4-byte function or error selector.
pub type Selector = [u8; 4];

/// `balanceOf(address)`.
pub const BALANCE_OF: Selector = [0x70, 0xa0, 0x82, 0x31];
/// `allowance(address,address)`.
pub const ALLOWANCE: Selector = [0xdd, 0x62, 0xed, 0x3e];
/// `authorizationState(address,bytes32)` (EIP-3009).
pub const AUTHORIZATION_STATE: Selector = [0xe9, 0x4a, 0x01, 0x02];
/// `transferWithAuthorization(address,address,uint256,uint256,uint256,bytes32,uint8,bytes32,bytes32)`.
pub const TRANSFER_WITH_AUTHORIZATION_VRS: Selector = [0xe3, 0xee, 0x16, 0x0e];
/// `transferWithAuthorization(address,address,uint256,uint256,uint256,bytes32,bytes)`.
pub const TRANSFER_WITH_AUTHORIZATION_BYTES: Selector = [0xcf, 0x09, 0x29, 0x95];
/// `name()`.
pub const NAME: Selector = [0x06, 0xfd, 0xde, 0x03];
/// `version()`.
pub const VERSION: Selector = [0x54, 0xfd, 0x4d, 0x50];
/// `PERMIT2()` of the x402 proxies.
pub const PERMIT2: Selector = [0x6a, 0xfd, 0xd8, 0x50];
/// `settle(((address,uint256),uint256,uint256),address,(address,uint256),bytes)` of the x402 exact Permit2 proxy.
pub const EXACT_PERMIT2_SETTLE: Selector = [0x13, 0xcd, 0x3b, 0x53];
/// `settleWithPermit((uint256,uint256,bytes32,bytes32,uint8),((address,uint256),uint256,uint256),address,(address,uint256),bytes)`
/// of the x402 exact Permit2 proxy: an EIP-2612 permit for Permit2, then the settlement.
pub const EXACT_PERMIT2_SETTLE_WITH_PERMIT: Selector = [0xfa, 0x34, 0x03, 0x78];
/// `settle(((address,uint256),uint256,uint256),uint256,address,(address,address,uint256),bytes)` of the x402 upto Permit2 proxy.
pub const UPTO_PERMIT2_SETTLE: Selector = [0xff, 0x11, 0xe7, 0xb4];
/// `Error(string)`: the revert data of `require(cond, "reason")`.
pub const ERROR_STRING: Selector = [0x08, 0xc3, 0x79, 0xa0];
/// `Panic(uint256)`: the revert data of a failed `assert`, an overflow, ...
pub const PANIC: Selector = [0x4e, 0x48, 0x7b, 0x71];

/// `keccak256("Transfer(address,address,uint256)")`: topic 0 of an ERC-20 transfer log.
pub const TRANSFER_EVENT_TOPIC: B256 = B256([
    0xdd, 0xf2, 0x52, 0xad, 0x1b, 0xe2, 0xc8, 0x9b, 0x69, 0xc2, 0xb0, 0x68, 0xfc, 0x37, 0x8d, 0xaa,
    0x95, 0x2b, 0xa7, 0xf1, 0x63, 0xc4, 0xa1, 0x16, 0x28, 0xf5, 0x5a, 0x4d, 0xf5, 0x23, 0xb3, 0xef,
]);

/// Length of the `transferWithAuthorization` v,r,s calldata: selector and 9 words.
pub const TRANSFER_WITH_AUTHORIZATION_VRS_LEN: usize = 4 + 9 * 32;

/// Why ABI data could not be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AbiError {
    /// Shorter than the type needs.
    Short,
    /// A word that is not a canonical encoding of its type (dirty address
    /// padding, a bool other than 0 or 1, a uint8 above 255).
    NotCanonical,
    /// A dynamic value's offset or length points outside the data.
    BadOffset,
    /// A `string` that is not UTF-8.
    Utf8,
}

impl fmt::Display for AbiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AbiError::Short => "ABI data too short",
            AbiError::NotCanonical => "ABI word not canonical for its type",
            AbiError::BadOffset => "ABI offset or length out of range",
            AbiError::Utf8 => "ABI string not UTF-8",
        })
    }
}

impl core::error::Error for AbiError {}

/// A `uint256` word.
#[must_use]
pub fn uint_word(v: &Amount) -> [u8; 32] {
    v.to_be_bytes()
}

/// A `uint64` (or smaller) as a word.
#[must_use]
pub fn u64_word(v: u64) -> [u8; 32] {
    Amount::from(v).to_be_bytes()
}

/// Appends words to a fixed array.
struct Fixed<const N: usize> {
    out: [u8; N],
    len: usize,
}

impl<const N: usize> Fixed<N> {
    fn new(selector: Selector) -> Self {
        let mut f = Fixed {
            out: [0u8; N],
            len: 0,
        };
        f.put(&selector);
        f
    }

    fn put(&mut self, b: &[u8]) {
        if let Some(dst) = self.out.get_mut(self.len..self.len + b.len()) {
            dst.copy_from_slice(b);
        }
        self.len += b.len();
    }

    fn word(&mut self, w: &[u8; 32]) {
        self.put(w);
    }

    fn finish(self) -> [u8; N] {
        self.out
    }
}

/// Appends to a caller's buffer, remembering whether it overflowed.
pub(crate) struct Writer<'b> {
    out: &'b mut [u8],
    len: usize,
    full: bool,
}

impl<'b> Writer<'b> {
    pub(crate) fn new(out: &'b mut [u8]) -> Self {
        Writer {
            out,
            len: 0,
            full: false,
        }
    }

    pub(crate) fn put(&mut self, b: &[u8]) {
        match self.out.get_mut(self.len..self.len + b.len()) {
            Some(dst) => dst.copy_from_slice(b),
            None => self.full = true,
        }
        self.len += b.len();
    }

    /// `bytes` tail: length word, then the data padded to whole words.
    pub(crate) fn bytes_tail(&mut self, data: &[u8]) {
        self.put(&u64_word(data.len() as u64));
        self.put(data);
        let pad = (32 - data.len() % 32) % 32;
        self.put([0u8; 32].get(..pad).unwrap_or_default());
    }

    pub(crate) fn finish(self) -> Result<usize, BufferTooSmall> {
        if self.full {
            Err(BufferTooSmall { needed: self.len })
        } else {
            Ok(self.len)
        }
    }
}

/// Length of a `bytes` tail (length word plus padded data).
pub(crate) const fn bytes_tail_len(n: usize) -> usize {
    32 + n.div_ceil(32) * 32
}

/// `balanceOf(owner)`.
#[must_use]
pub fn balance_of(owner: &Address) -> [u8; 36] {
    let mut f = Fixed::new(BALANCE_OF);
    f.word(&owner.to_word());
    f.finish()
}

/// `allowance(owner, spender)`.
#[must_use]
pub fn allowance(owner: &Address, spender: &Address) -> [u8; 68] {
    let mut f = Fixed::new(ALLOWANCE);
    f.word(&owner.to_word());
    f.word(&spender.to_word());
    f.finish()
}

/// `authorizationState(authorizer, nonce)`: whether an EIP-3009 nonce is used.
#[must_use]
pub fn authorization_state(authorizer: &Address, nonce: &B256) -> [u8; 68] {
    let mut f = Fixed::new(AUTHORIZATION_STATE);
    f.word(&authorizer.to_word());
    f.word(&nonce.0);
    f.finish()
}

/// `name()`.
#[must_use]
pub const fn name() -> [u8; 4] {
    NAME
}

/// `version()`.
#[must_use]
pub const fn version() -> [u8; 4] {
    VERSION
}

/// `PERMIT2()` of an x402 proxy.
#[must_use]
pub const fn permit2() -> [u8; 4] {
    PERMIT2
}

/// `v` as 27 or 28: 0 and 1 (a recovery id) are raised by 27, others kept.
#[must_use]
pub const fn normalize_v(v: u8) -> u8 {
    if v < 2 { v + 27 } else { v }
}

/// Splits 65 bytes `r ‖ s ‖ v` into `(v, r, s)`, with `v` normalised to 27/28.
#[must_use]
pub fn split_signature(sig: &[u8; 65]) -> (u8, [u8; 32], [u8; 32]) {
    let mut r = [0u8; 32];
    let mut s = [0u8; 32];
    let (rs, v) = sig.split_at(64);
    let (r_part, s_part) = rs.split_at(32);
    r.copy_from_slice(r_part);
    s.copy_from_slice(s_part);
    (normalize_v(v.first().copied().unwrap_or(0)), r, s)
}

fn eip3009_words<const N: usize>(f: &mut Fixed<N>, a: &Eip3009Authorization) {
    f.word(&a.from.to_word());
    f.word(&a.to.to_word());
    f.word(&uint_word(&a.value));
    f.word(&uint_word(&a.valid_after));
    f.word(&uint_word(&a.valid_before));
    f.word(&a.nonce.0);
}

/// `transferWithAuthorization(from, to, value, validAfter, validBefore, nonce, v, r, s)`,
/// the overload the reference facilitator calls for 65-byte signatures. `v` of 0/1
/// is written as 27/28; other values are written as given (a token reverts on them),
/// so that a host can reproduce what a careless facilitator would send.
#[must_use]
pub fn transfer_with_authorization_vrs(
    a: &Eip3009Authorization,
    v: u8,
    r: &[u8; 32],
    s: &[u8; 32],
) -> [u8; TRANSFER_WITH_AUTHORIZATION_VRS_LEN] {
    let mut f = Fixed::new(TRANSFER_WITH_AUTHORIZATION_VRS);
    eip3009_words(&mut f, a);
    f.word(&u64_word(u64::from(normalize_v(v))));
    f.word(r);
    f.word(s);
    f.finish()
}

/// The same call from a 65-byte `r ‖ s ‖ v` signature.
#[must_use]
pub fn transfer_with_authorization_sig(
    a: &Eip3009Authorization,
    sig: &[u8; 65],
) -> [u8; TRANSFER_WITH_AUTHORIZATION_VRS_LEN] {
    let (v, r, s) = split_signature(sig);
    transfer_with_authorization_vrs(a, v, &r, &s)
}

/// Copies a signature, normalising `v` when it is a 65-byte ECDSA signature.
pub(crate) fn normalized_sig_tail(w: &mut Writer<'_>, signature: &[u8]) {
    match <&[u8; 65]>::try_from(signature) {
        Ok(sig) => {
            let mut s = *sig;
            s[64] = normalize_v(s[64]);
            w.bytes_tail(&s);
        }
        Err(_) => w.bytes_tail(signature),
    }
}

/// Length of [`transfer_with_authorization_bytes`] for a signature of `sig_len` bytes.
#[must_use]
pub const fn transfer_with_authorization_bytes_len(sig_len: usize) -> usize {
    4 + 7 * 32 + bytes_tail_len(sig_len)
}

/// `transferWithAuthorization(from, to, value, validAfter, validBefore, nonce, bytes signature)`,
/// the overload for signatures other than 65 bytes (smart wallets); a 65-byte
/// signature's `v` is normalised to 27/28.
///
/// # Errors
/// [`BufferTooSmall`] with the length needed.
pub fn transfer_with_authorization_bytes(
    a: &Eip3009Authorization,
    signature: &[u8],
    out: &mut [u8],
) -> Result<usize, BufferTooSmall> {
    let mut w = Writer::new(out);
    w.put(&TRANSFER_WITH_AUTHORIZATION_BYTES);
    for word in [
        a.from.to_word(),
        a.to.to_word(),
        uint_word(&a.value),
        uint_word(&a.valid_after),
        uint_word(&a.valid_before),
        a.nonce.0,
        u64_word(7 * 32),
    ] {
        w.put(&word);
    }
    normalized_sig_tail(&mut w, signature);
    w.finish()
}

/// `selector(bytes32 hash, bytes data)`: e.g. ERC-1271 `isValidSignature`.
///
/// # Errors
/// [`BufferTooSmall`] with the length needed.
pub fn selector_call_bytes32_bytes(
    selector: Selector,
    hash: &[u8; 32],
    data: &[u8],
    out: &mut [u8],
) -> Result<usize, BufferTooSmall> {
    let mut w = Writer::new(out);
    w.put(&selector);
    w.put(hash);
    w.put(&u64_word(2 * 32));
    w.bytes_tail(data);
    w.finish()
}

/// Multicall3's `aggregate3((address target, bool allowFailure, bytes callData)[])`.
pub const MULTICALL3_AGGREGATE3: Selector = [0x82, 0xad, 0x56, 0xcb];

/// Multicall3, at the same address on nearly every EVM chain.
pub const MULTICALL3: Address = Address([
    0xca, 0x11, 0xbd, 0xe0, 0x59, 0x77, 0xb3, 0x63, 0x11, 0x67, 0x02, 0x88, 0x62, 0xbe, 0x2a, 0x17,
    0x39, 0x76, 0xca, 0x11,
]);

/// Length of [`multicall3_aggregate3`] for two calls of `a` and `b` bytes.
#[must_use]
pub const fn multicall3_aggregate3_len(a: usize, b: usize) -> usize {
    4 + 2 * 32 + 2 * 32 + 2 * 3 * 32 + bytes_tail_len(a) + bytes_tail_len(b)
}

/// Multicall3 `aggregate3` of `calls` in order, none allowed to fail: one
/// transaction that reverts whole if any call does.
///
/// # Errors
/// [`BufferTooSmall`] with the length needed.
pub fn multicall3_aggregate3(
    calls: &[(Address, &[u8])],
    out: &mut [u8],
) -> Result<usize, BufferTooSmall> {
    let mut w = Writer::new(out);
    w.put(&MULTICALL3_AGGREGATE3);
    w.put(&u64_word(32));
    w.put(&u64_word(calls.len() as u64));
    // Each tuple's offset, from the start of the offsets.
    let mut offset = calls.len() * 32;
    for (_, data) in calls {
        w.put(&u64_word(offset as u64));
        offset += 3 * 32 + bytes_tail_len(data.len());
    }
    for (target, data) in calls {
        w.put(&target.to_word());
        w.put(&u64_word(0));
        w.put(&u64_word(3 * 32));
        w.bytes_tail(data);
    }
    w.finish()
}

/// Length of [`exact_permit2_settle`] for a signature of `sig_len` bytes.
#[must_use]
pub const fn exact_permit2_settle_len(sig_len: usize) -> usize {
    4 + 8 * 32 + bytes_tail_len(sig_len)
}

/// The x402 exact Permit2 proxy's
/// `settle(permit ((token, amount), nonce, deadline), owner, witness (to, validAfter), signature)`.
///
/// # Errors
/// [`BufferTooSmall`] with the length needed.
pub fn exact_permit2_settle(
    p: &Permit2Authorization,
    signature: &[u8],
    out: &mut [u8],
) -> Result<usize, BufferTooSmall> {
    let mut w = Writer::new(out);
    w.put(&EXACT_PERMIT2_SETTLE);
    for word in [
        p.permitted.token.to_word(),
        uint_word(&p.permitted.amount),
        uint_word(&p.nonce),
        uint_word(&p.deadline),
        p.from.to_word(),
        p.witness.to.to_word(),
        uint_word(&p.witness.valid_after),
        u64_word(8 * 32),
    ] {
        w.put(&word);
    }
    normalized_sig_tail(&mut w, signature);
    w.finish()
}

/// Length of [`exact_permit2_settle_with_permit`] for a signature of `sig_len` bytes.
#[must_use]
pub const fn exact_permit2_settle_with_permit_len(sig_len: usize) -> usize {
    4 + 13 * 32 + bytes_tail_len(sig_len)
}

/// The x402 exact Permit2 proxy's `settleWithPermit(permit2612 (value,
/// deadline, r, s, v), permit, owner, witness, signature)`: `permit2612` is
/// the owner's EIP-2612 permit for Permit2 (`r`, `s`, `v` as 65 bytes).
///
/// # Errors
/// [`BufferTooSmall`] with the length needed.
pub fn exact_permit2_settle_with_permit(
    value: &Amount,
    deadline: &Amount,
    permit_signature: &[u8; 65],
    p: &Permit2Authorization,
    signature: &[u8],
    out: &mut [u8],
) -> Result<usize, BufferTooSmall> {
    let mut w = Writer::new(out);
    w.put(&EXACT_PERMIT2_SETTLE_WITH_PERMIT);
    let mut r = [0u8; 32];
    let mut s = [0u8; 32];
    r.copy_from_slice(permit_signature.get(..32).unwrap_or(&[0; 32]));
    s.copy_from_slice(permit_signature.get(32..64).unwrap_or(&[0; 32]));
    let v = permit_signature.get(64).copied().unwrap_or(0);
    for word in [
        uint_word(value),
        uint_word(deadline),
        r,
        s,
        u64_word(u64::from(v)),
        p.permitted.token.to_word(),
        uint_word(&p.permitted.amount),
        uint_word(&p.nonce),
        uint_word(&p.deadline),
        p.from.to_word(),
        p.witness.to.to_word(),
        uint_word(&p.witness.valid_after),
        u64_word(13 * 32),
    ] {
        w.put(&word);
    }
    normalized_sig_tail(&mut w, signature);
    w.finish()
}

/// Length of [`upto_permit2_settle`] for a signature of `sig_len` bytes.
#[must_use]
pub const fn upto_permit2_settle_len(sig_len: usize) -> usize {
    4 + 10 * 32 + bytes_tail_len(sig_len)
}

/// The x402 upto Permit2 proxy's
/// `settle(permit, amount, owner, witness (to, facilitator, validAfter), signature)`:
/// `amount` is what is charged, at most `permitted.amount`. A missing
/// `witness.facilitator` is encoded as the zero address (the proxy then refuses
/// every caller).
///
/// # Errors
/// [`BufferTooSmall`] with the length needed.
pub fn upto_permit2_settle(
    p: &Permit2Authorization,
    amount: &Amount,
    signature: &[u8],
    out: &mut [u8],
) -> Result<usize, BufferTooSmall> {
    let mut w = Writer::new(out);
    w.put(&UPTO_PERMIT2_SETTLE);
    for word in [
        p.permitted.token.to_word(),
        uint_word(&p.permitted.amount),
        uint_word(&p.nonce),
        uint_word(&p.deadline),
        uint_word(amount),
        p.from.to_word(),
        p.witness.to.to_word(),
        p.witness.facilitator.unwrap_or_default().to_word(),
        uint_word(&p.witness.valid_after),
        u64_word(10 * 32),
    ] {
        w.put(&word);
    }
    normalized_sig_tail(&mut w, signature);
    w.finish()
}

fn word_at(data: &[u8], index: usize) -> Result<&[u8; 32], AbiError> {
    data.get(index * 32..index * 32 + 32)
        .and_then(|w| <&[u8; 32]>::try_from(w).ok())
        .ok_or(AbiError::Short)
}

/// Reads a word as an offset or length that must fit the data.
fn small(word: &[u8; 32], bound: usize) -> Result<usize, AbiError> {
    let (hi, lo) = word.split_at(24);
    if hi.iter().any(|b| *b != 0) {
        return Err(AbiError::BadOffset);
    }
    let mut b = [0u8; 8];
    b.copy_from_slice(lo);
    let v = u64::from_be_bytes(b);
    usize::try_from(v)
        .ok()
        .filter(|v| *v <= bound)
        .ok_or(AbiError::BadOffset)
}

/// Decodes a `uint256` result (the first word).
///
/// # Errors
/// [`AbiError::Short`] for fewer than 32 bytes (e.g. `0x` from an address
/// without code).
pub fn decode_uint(data: &[u8]) -> Result<Amount, AbiError> {
    word_at(data, 0).map(|w| Amount::from_be_bytes(*w))
}

/// Decodes a `bool` result.
///
/// # Errors
/// [`AbiError::Short`], or [`AbiError::NotCanonical`] for a word other than 0 or 1.
pub fn decode_bool(data: &[u8]) -> Result<bool, AbiError> {
    let w = word_at(data, 0)?;
    let (hi, last) = w.split_at(31);
    if hi.iter().any(|b| *b != 0) {
        return Err(AbiError::NotCanonical);
    }
    match last {
        [0] => Ok(false),
        [1] => Ok(true),
        _ => Err(AbiError::NotCanonical),
    }
}

/// Decodes an `address` result.
///
/// # Errors
/// [`AbiError::Short`], or [`AbiError::NotCanonical`] for dirty upper bytes.
pub fn decode_address(data: &[u8]) -> Result<Address, AbiError> {
    let w = word_at(data, 0)?;
    let (hi, lo) = w.split_at(12);
    if hi.iter().any(|b| *b != 0) {
        return Err(AbiError::NotCanonical);
    }
    let mut a = [0u8; 20];
    a.copy_from_slice(lo);
    Ok(Address(a))
}

/// Decodes the `bytes` or `string` argument that starts at word `index` of
/// `data` (an offset relative to `data`).
fn dynamic_at(data: &[u8], index: usize) -> Result<&[u8], AbiError> {
    let offset = small(word_at(data, index)?, data.len())?;
    let rest = data.get(offset..).ok_or(AbiError::BadOffset)?;
    let len = small(word_at(rest, 0)?, rest.len().saturating_sub(32))?;
    rest.get(32..32 + len).ok_or(AbiError::BadOffset)
}

/// Decodes the `bytes` argument whose head is word `index` of `data` (its
/// offset relative to `data`), borrowing from `data`.
///
/// # Errors
/// [`AbiError::Short`] or [`AbiError::BadOffset`] when the head, offset or
/// length points outside `data`.
pub fn decode_bytes_at(data: &[u8], index: usize) -> Result<&[u8], AbiError> {
    dynamic_at(data, index)
}

/// Decodes a `string` result (`name()`, `version()`), borrowing from `data`.
///
/// # Errors
/// [`AbiError`] for short data, offsets out of range, or non-UTF-8 text.
pub fn decode_string(data: &[u8]) -> Result<&str, AbiError> {
    core::str::from_utf8(dynamic_at(data, 0)?).map_err(|_| AbiError::Utf8)
}

/// A custom error of the contracts a facilitator talks to, recognised by selector.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CustomError {
    /// The selector.
    pub selector: Selector,
    /// The declaration, e.g. `InvalidAmount()` (`""` if unknown).
    pub signature: &'static str,
}

/// The custom errors of the x402 Permit2 proxies and of Permit2's signature
/// transfer, with their selectors.
pub const KNOWN_ERRORS: &[CustomError] = &[
    CustomError {
        selector: [0x2c, 0x52, 0x11, 0xc6],
        signature: "InvalidAmount()",
    },
    CustomError {
        selector: [0xac, 0x6b, 0x05, 0xf5],
        signature: "InvalidDestination()",
    },
    CustomError {
        selector: [0x49, 0xe2, 0x7c, 0xff],
        signature: "InvalidOwner()",
    },
    CustomError {
        selector: [0x59, 0x10, 0x6c, 0x89],
        signature: "InvalidPermit2Address()",
    },
    CustomError {
        selector: [0xa6, 0x55, 0x39, 0xfa],
        signature: "PaymentTooEarly()",
    },
    CustomError {
        selector: [0x05, 0x0c, 0xda, 0x49],
        signature: "Permit2612AmountMismatch()",
    },
    CustomError {
        selector: [0x3e, 0xe5, 0xae, 0xb5],
        signature: "ReentrancyGuardReentrantCall()",
    },
    CustomError {
        selector: [0xfe, 0x64, 0xb4, 0xc7],
        signature: "AmountExceedsPermitted()",
    },
    CustomError {
        selector: [0x0f, 0x6f, 0xae, 0x87],
        signature: "UnauthorizedFacilitator()",
    },
    CustomError {
        selector: [0x0d, 0xc1, 0x49, 0xf0],
        signature: "AlreadyInitialized()",
    },
    CustomError {
        selector: [0x0d, 0x62, 0x2f, 0xeb],
        signature: "UnauthorizedInitializer()",
    },
    // Permit2 (SignatureTransfer, SignatureVerification, nonces).
    CustomError {
        selector: [0x8b, 0xaa, 0x57, 0x9f],
        signature: "InvalidSignature()",
    },
    CustomError {
        selector: [0x81, 0x5e, 0x1d, 0x64],
        signature: "InvalidSigner()",
    },
    CustomError {
        selector: [0xcd, 0x21, 0xdb, 0x4f],
        signature: "SignatureExpired(uint256)",
    },
    CustomError {
        selector: [0x75, 0x66, 0x88, 0xfe],
        signature: "InvalidNonce()",
    },
    CustomError {
        selector: [0x37, 0x28, 0xb8, 0x3d],
        signature: "InvalidAmount(uint256)",
    },
    CustomError {
        selector: [0x4b, 0xe6, 0x32, 0x1b],
        signature: "InvalidSignatureLength()",
    },
    CustomError {
        selector: [0xb0, 0x66, 0x9c, 0xbc],
        signature: "InvalidContractSignature()",
    },
    CustomError {
        selector: [0xff, 0x63, 0x3a, 0x38],
        signature: "LengthMismatch()",
    },
];

impl CustomError {
    /// The error's name without its parameter list (`InvalidAmount`).
    #[must_use]
    pub fn name(&self) -> &'static str {
        self.signature
            .split_once('(')
            .map_or(self.signature, |(n, _)| n)
    }
}

/// Revert data, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Revert<'a> {
    /// No data: `revert()`, `require(cond)`, or an out-of-gas.
    Empty,
    /// `Error(string)`: `require(cond, "reason")` / `revert("reason")`.
    Reason(&'a str),
    /// `Panic(uint256)` with its code (0x11 overflow, 0x01 assert, ...).
    Panic(u64),
    /// A custom error listed in [`KNOWN_ERRORS`].
    Custom(CustomError),
    /// Anything else: an unknown custom error or malformed data.
    Unknown(&'a [u8]),
}

/// Decodes revert data.
#[must_use]
pub fn decode_revert(data: &[u8]) -> Revert<'_> {
    let Some((sel, args)) = data.split_first_chunk::<4>() else {
        return if data.is_empty() {
            Revert::Empty
        } else {
            Revert::Unknown(data)
        };
    };
    if *sel == ERROR_STRING {
        return match decode_string(args) {
            Ok(s) => Revert::Reason(s),
            Err(_) => Revert::Unknown(data),
        };
    }
    if *sel == PANIC {
        return match decode_uint(args).map(|c| c.to_u64()) {
            Ok(Some(c)) => Revert::Panic(c),
            _ => Revert::Unknown(data),
        };
    }
    KNOWN_ERRORS
        .iter()
        .find(|e| e.selector == *sel)
        .map_or(Revert::Unknown(data), |e| Revert::Custom(*e))
}

impl fmt::Display for Revert<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Revert::Empty => f.write_str("execution reverted"),
            Revert::Reason(s) => write!(f, "execution reverted: {s}"),
            Revert::Panic(c) => write!(f, "execution reverted: panic 0x{c:02x}"),
            Revert::Custom(e) => write!(f, "execution reverted: {}", e.signature),
            Revert::Unknown(d) => {
                f.write_str("execution reverted with data 0x")?;
                for b in d.iter().take(36) {
                    write!(f, "{b:02x}")?;
                }
                if d.len() > 36 {
                    f.write_str("…")?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evm::keccak256;

    fn sel(s: &str) -> Selector {
        keccak256(s.as_bytes())[..4].try_into().unwrap()
    }

    #[test]
    fn selectors_are_keccak_of_their_signatures() {
        for (s, want) in [
            ("balanceOf(address)", BALANCE_OF),
            ("allowance(address,address)", ALLOWANCE),
            ("authorizationState(address,bytes32)", AUTHORIZATION_STATE),
            (
                "transferWithAuthorization(address,address,uint256,uint256,uint256,bytes32,uint8,bytes32,bytes32)",
                TRANSFER_WITH_AUTHORIZATION_VRS,
            ),
            (
                "transferWithAuthorization(address,address,uint256,uint256,uint256,bytes32,bytes)",
                TRANSFER_WITH_AUTHORIZATION_BYTES,
            ),
            ("name()", NAME),
            ("version()", VERSION),
            ("PERMIT2()", PERMIT2),
            (
                "settle(((address,uint256),uint256,uint256),address,(address,uint256),bytes)",
                EXACT_PERMIT2_SETTLE,
            ),
            (
                "settle(((address,uint256),uint256,uint256),uint256,address,(address,address,uint256),bytes)",
                UPTO_PERMIT2_SETTLE,
            ),
            (
                "settleWithPermit((uint256,uint256,bytes32,bytes32,uint8),((address,uint256),uint256,uint256),address,(address,uint256),bytes)",
                EXACT_PERMIT2_SETTLE_WITH_PERMIT,
            ),
            ("Error(string)", ERROR_STRING),
            ("Panic(uint256)", PANIC),
        ] {
            assert_eq!(sel(s), want, "{s}");
        }
        for e in KNOWN_ERRORS {
            assert_eq!(sel(e.signature), e.selector, "{}", e.signature);
        }
        assert_eq!(
            keccak256(b"Transfer(address,address,uint256)"),
            TRANSFER_EVENT_TOPIC.0
        );
    }

    #[test]
    fn decodes_results() {
        let mut w = [0u8; 32];
        w[31] = 1;
        assert_eq!(decode_bool(&w), Ok(true));
        w[31] = 2;
        assert_eq!(decode_bool(&w), Err(AbiError::NotCanonical));
        assert_eq!(decode_bool(&[]), Err(AbiError::Short));
        assert_eq!(decode_uint(&[1u8; 31]), Err(AbiError::Short));
        let mut a = [0u8; 32];
        a[12..].copy_from_slice(&[0xaa; 20]);
        assert_eq!(decode_address(&a), Ok(Address([0xaa; 20])));
        a[0] = 1;
        assert_eq!(decode_address(&a), Err(AbiError::NotCanonical));
    }

    fn error_string(s: &str) -> Vec<u8> {
        let mut v = ERROR_STRING.to_vec();
        v.extend_from_slice(&u64_word(32));
        v.extend_from_slice(&u64_word(s.len() as u64));
        v.extend_from_slice(s.as_bytes());
        v.resize(v.len() + (32 - s.len() % 32) % 32, 0);
        v
    }

    #[test]
    fn decodes_reverts() {
        let d = error_string("FiatTokenV2: invalid signature");
        assert_eq!(
            decode_revert(&d),
            Revert::Reason("FiatTokenV2: invalid signature")
        );
        assert_eq!(
            decode_revert(&d).to_string(),
            "execution reverted: FiatTokenV2: invalid signature"
        );
        assert_eq!(decode_revert(&[]), Revert::Empty);
        let mut p = PANIC.to_vec();
        p.extend_from_slice(&u64_word(0x11));
        assert_eq!(decode_revert(&p), Revert::Panic(0x11));
        let c = decode_revert(&[0xfe, 0x64, 0xb4, 0xc7]);
        assert!(matches!(c, Revert::Custom(e) if e.name() == "AmountExceedsPermitted"));
        assert!(matches!(decode_revert(&[1, 2, 3]), Revert::Unknown(_)));
        assert!(matches!(
            decode_revert(&[1, 2, 3, 4, 5]),
            Revert::Unknown(_)
        ));
        // Truncated Error(string): length beyond the data.
        let mut bad = d.clone();
        bad.truncate(4 + 64 + 3);
        assert!(matches!(decode_revert(&bad), Revert::Unknown(_)));
        // Offsets past the end, and huge offsets, are refused without panicking.
        let mut huge = ERROR_STRING.to_vec();
        huge.extend_from_slice(&[0xff; 32]);
        assert!(matches!(decode_revert(&huge), Revert::Unknown(_)));
    }

    #[test]
    fn normalises_v() {
        let a = Eip3009Authorization {
            from: Address([1; 20]),
            to: Address([2; 20]),
            value: 5u64.into(),
            valid_after: 0u64.into(),
            valid_before: 9u64.into(),
            nonce: B256([3; 32]),
        };
        let mut sig = [7u8; 65];
        sig[64] = 1;
        let c = transfer_with_authorization_sig(&a, &sig);
        assert_eq!(c[4 + 6 * 32 + 31], 28);
        let mut buf = [0u8; 512];
        let n = transfer_with_authorization_bytes(&a, &sig, &mut buf).unwrap();
        assert_eq!(n, transfer_with_authorization_bytes_len(65));
        assert_eq!(buf[4 + 8 * 32 + 64], 28);
        assert_eq!(
            transfer_with_authorization_bytes(&a, &sig, &mut [0u8; 10]),
            Err(BufferTooSmall { needed: n })
        );
    }
}
