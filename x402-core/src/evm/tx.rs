//! EIP-1559 (type 2) transactions: building, signing with a facilitator key,
//! serialising for `eth_sendRawTransaction`, and the transaction hash.
//!
//! Encoding (EIP-2718 envelope, EIP-1559 payload):
//! `0x02 ‖ rlp([chainId, nonce, maxPriorityFeePerGas, maxFeePerGas, gasLimit, to, value, data, accessList, yParity, r, s])`;
//! the signature is over `keccak256(0x02 ‖ rlp([...the first nine...]))`, and the
//! transaction hash is `keccak256` of the whole signed encoding. The access list
//! is always empty here: a facilitator's calls touch one token and perhaps one
//! proxy, where an access list saves nothing.
//!
//! ```
//! use paywire::evm::tx::Eip1559Transaction;
//! use paywire::evm::{Address, PrivateKey};
//! let key = PrivateKey::from_bytes(&[0x46; 32]).unwrap();
//! let tx = Eip1559Transaction {
//!     chain_id: 8453,
//!     nonce: 7,
//!     max_priority_fee_per_gas: 1_000_000,
//!     max_fee_per_gas: 20_000_000,
//!     gas_limit: 90_000,
//!     to: Some("0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913".parse().unwrap()),
//!     value: 0u64.into(),
//!     data: &[0x70, 0xa0, 0x82, 0x31],
//! };
//! let signed = tx.sign(&key);
//! assert_eq!(signed.recover_sender().unwrap(), key.address());
//! let mut raw = [0u8; 256];
//! let n = signed.encode(&mut raw).unwrap();
//! assert_eq!(raw[0], 0x02);
//! assert_eq!(paywire::evm::keccak256(&raw[..n]), signed.hash().0);
//! ```

use sha3::{Digest, Keccak256};

use super::rlp::{self, DecodeError, Decoded, Item};
use super::{Address, B256, PrivateKey, Signature, SignatureError};
use crate::amount::Amount;
use crate::json::{BufferTooSmall, Sink, SinkFull, SliceSink};

/// The EIP-2718 type byte of EIP-1559 transactions.
pub const EIP1559_TX_TYPE: u8 = 0x02;

/// An unsigned EIP-1559 transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Eip1559Transaction<'a> {
    /// EIP-155 chain id.
    pub chain_id: u64,
    /// The sender's account nonce.
    pub nonce: u64,
    /// Tip per gas to the block producer, in wei.
    pub max_priority_fee_per_gas: u128,
    /// Most paid per gas (base fee + tip), in wei.
    pub max_fee_per_gas: u128,
    /// Gas limit.
    pub gas_limit: u64,
    /// The callee; `None` creates a contract from `data`.
    pub to: Option<Address>,
    /// Wei sent along.
    pub value: Amount,
    /// Calldata (or init code).
    pub data: &'a [u8],
}

/// Feeds bytes to Keccak-256.
struct KeccakSink(Keccak256);

impl Sink for KeccakSink {
    fn put(&mut self, bytes: &[u8]) -> Result<(), SinkFull> {
        self.0.update(bytes);
        Ok(())
    }
}

impl<'a> Eip1559Transaction<'a> {
    /// The nine unsigned fields; `to` borrows from `to_bytes`.
    fn fields<'t>(&'t self, to_bytes: &'t [u8; 20]) -> [Item<'t>; 9] {
        [
            Item::uint(u128::from(self.chain_id)),
            Item::uint(u128::from(self.nonce)),
            Item::uint(self.max_priority_fee_per_gas),
            Item::uint(self.max_fee_per_gas),
            Item::uint(u128::from(self.gas_limit)),
            Item::Bytes(if self.to.is_some() { to_bytes } else { &[] }),
            Item::amount(&self.value),
            Item::Bytes(self.data),
            Item::List(&[]),
        ]
    }

    /// The digest the sender signs: `keccak256(0x02 ‖ rlp(unsigned fields))`.
    #[must_use]
    pub fn signing_hash(&self) -> [u8; 32] {
        let to = self.to.unwrap_or_default().0;
        let fields = self.fields(&to);
        let mut h = KeccakSink(Keccak256::new());
        let _ = h.put(&[EIP1559_TX_TYPE]);
        let _ = rlp::write(&Item::List(&fields), &mut h);
        h.0.finalize().into()
    }

    /// Signs with `key` (RFC 6979, low-s).
    #[must_use]
    pub fn sign(&self, key: &PrivateKey) -> SignedTransaction<'a> {
        let sig = key.sign_digest(&self.signing_hash()).to_bytes();
        let (v, r, s) = super::abi::split_signature(&sig);
        SignedTransaction {
            tx: *self,
            y_parity: v == 28,
            r,
            s,
        }
    }
}

/// A signed EIP-1559 transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignedTransaction<'a> {
    /// The transaction.
    pub tx: Eip1559Transaction<'a>,
    /// Parity of the signature's `R.y` (the recovery id).
    pub y_parity: bool,
    /// Signature `r`, 32 big-endian bytes.
    pub r: [u8; 32],
    /// Signature `s`, 32 big-endian bytes.
    pub s: [u8; 32],
}

impl SignedTransaction<'_> {
    /// Writes `0x02 ‖ rlp([...])` into any sink.
    ///
    /// # Errors
    /// [`SinkFull`] from the sink.
    pub fn write(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        let to = self.tx.to.unwrap_or_default().0;
        let [a, b, c, d, e, f, g, h, i] = self.tx.fields(&to);
        let fields = [
            a,
            b,
            c,
            d,
            e,
            f,
            g,
            h,
            i,
            Item::uint(u128::from(self.y_parity)),
            Item::Uint(self.r),
            Item::Uint(self.s),
        ];
        out.put(&[EIP1559_TX_TYPE])?;
        rlp::write(&Item::List(&fields), out)
    }

    /// The exact length of [`SignedTransaction::encode`]'s output.
    #[must_use]
    pub fn encoded_len(&self) -> usize {
        let mut c = crate::json::Counter(0);
        let _ = self.write(&mut c);
        c.0
    }

    /// Encodes into `out`, returning the length (what `eth_sendRawTransaction` takes).
    ///
    /// # Errors
    /// [`BufferTooSmall`] with the exact length needed.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, BufferTooSmall> {
        let mut sink = SliceSink::new(out);
        match self.write(&mut sink) {
            Ok(()) => Ok(sink.len()),
            Err(SinkFull) => Err(BufferTooSmall {
                needed: self.encoded_len(),
            }),
        }
    }

    /// The transaction hash: `keccak256` of the signed encoding.
    #[must_use]
    pub fn hash(&self) -> B256 {
        let mut h = KeccakSink(Keccak256::new());
        let _ = self.write(&mut h);
        B256(h.0.finalize().into())
    }

    /// The signature as 65 bytes `r ‖ s ‖ v` (v = 27/28).
    #[must_use]
    pub fn signature_bytes(&self) -> [u8; 65] {
        let mut out = [0u8; 65];
        let (rs, v) = out.split_at_mut(64);
        let (r, s) = rs.split_at_mut(32);
        r.copy_from_slice(&self.r);
        s.copy_from_slice(&self.s);
        if let Some(v) = v.first_mut() {
            *v = 27 + u8::from(self.y_parity);
        }
        out
    }

    /// Recovers the sender from the signature.
    ///
    /// # Errors
    /// The [`SignatureError`] if the signature is malformed.
    pub fn recover_sender(&self) -> Result<Address, SignatureError> {
        Signature::from_bytes(&self.signature_bytes())?.recover(&self.tx.signing_hash())
    }
}

impl<'a> SignedTransaction<'a> {
    /// Reads a signed EIP-1559 transaction as `eth_sendRawTransaction` takes
    /// it: `0x02 ‖ rlp([chainId, nonce, maxPriorityFeePerGas, maxFeePerGas,
    /// gasLimit, to, value, data, accessList, yParity, r, s])`, canonical RLP
    /// with nothing after it. Only an empty access list is read (this crate
    /// signs and recovers transactions without one); other transaction types
    /// are refused.
    ///
    /// ```
    /// use paywire::evm::tx::{Eip1559Transaction, SignedTransaction};
    /// use paywire::evm::PrivateKey;
    /// let key = PrivateKey::from_bytes(&[7; 32]).unwrap();
    /// let tx = Eip1559Transaction { chain_id: 1, nonce: 3, max_priority_fee_per_gas: 1,
    ///     max_fee_per_gas: 2, gas_limit: 70_000, to: None, value: 0u64.into(), data: &[1, 2] };
    /// let mut raw = [0u8; 128];
    /// let n = tx.sign(&key).encode(&mut raw).unwrap();
    /// let back = SignedTransaction::decode(&raw[..n]).unwrap();
    /// assert_eq!(back, tx.sign(&key));
    /// assert!(SignedTransaction::decode(&raw[..n - 1]).is_err());
    /// ```
    ///
    /// # Errors
    /// A [`DecodeError`] naming what is wrong.
    pub fn decode(raw: &'a [u8]) -> Result<SignedTransaction<'a>, DecodeError> {
        let Some((&EIP1559_TX_TYPE, body)) = raw.split_first() else {
            return Err(DecodeError("not an EIP-1559 (type 2) transaction"));
        };
        let (Decoded::List(mut items), rest) = rlp::decode(body)? else {
            return Err(DecodeError("the transaction is not an RLP list"));
        };
        if !rest.is_empty() {
            return Err(DecodeError("bytes after the transaction"));
        }
        let mut next = || -> Result<Decoded<'a>, DecodeError> {
            if items.is_empty() {
                return Err(DecodeError("the transaction has fewer than 12 fields"));
            }
            let (item, rest) = rlp::decode(items)?;
            items = rest;
            Ok(item)
        };
        let u64_of = |w: [u8; 32]| {
            let mut b = [0u8; 8];
            b.copy_from_slice(w.get(24..).unwrap_or_default());
            u64::from_be_bytes(b)
        };
        let u128_of = |w: [u8; 32]| {
            let mut b = [0u8; 16];
            b.copy_from_slice(w.get(16..).unwrap_or_default());
            u128::from_be_bytes(b)
        };
        let chain_id = u64_of(rlp::scalar(next()?, 8)?);
        let nonce = u64_of(rlp::scalar(next()?, 8)?);
        let max_priority_fee_per_gas = u128_of(rlp::scalar(next()?, 16)?);
        let max_fee_per_gas = u128_of(rlp::scalar(next()?, 16)?);
        let gas_limit = u64_of(rlp::scalar(next()?, 8)?);
        let to = match next()? {
            Decoded::Bytes([]) => None,
            Decoded::Bytes(b) if b.len() == 20 => {
                let mut a = [0u8; 20];
                a.copy_from_slice(b);
                Some(Address(a))
            }
            _ => return Err(DecodeError("`to` is neither empty nor 20 bytes")),
        };
        let value = Amount::from_be_bytes(rlp::scalar(next()?, 32)?);
        let Decoded::Bytes(data) = next()? else {
            return Err(DecodeError("`data` is a list"));
        };
        if next()? != Decoded::List(&[]) {
            return Err(DecodeError("the access list is not empty"));
        }
        let y_parity = match rlp::scalar(next()?, 1)?[31] {
            0 => false,
            1 => true,
            _ => return Err(DecodeError("`yParity` is neither 0 nor 1")),
        };
        let r = rlp::scalar(next()?, 32)?;
        let s = rlp::scalar(next()?, 32)?;
        if !items.is_empty() {
            return Err(DecodeError("the transaction has more than 12 fields"));
        }
        Ok(SignedTransaction {
            tx: Eip1559Transaction {
                chain_id,
                nonce,
                max_priority_fee_per_gas,
                max_fee_per_gas,
                gas_limit,
                to,
                value,
                data,
            },
            y_parity,
            r,
            s,
        })
    }
}

/// The address of a contract created by `sender` with account nonce `nonce`:
/// the last 20 bytes of `keccak256(rlp([sender, nonce]))`.
#[must_use]
pub fn create_address(sender: &Address, nonce: u64) -> Address {
    let mut h = KeccakSink(Keccak256::new());
    let _ = rlp::write(
        &Item::List(&[Item::Bytes(&sender.0), Item::uint(u128::from(nonce))]),
        &mut h,
    );
    let digest: [u8; 32] = h.0.finalize().into();
    let mut a = [0u8; 20];
    if let Some(tail) = digest.get(12..) {
        a.copy_from_slice(tail);
    }
    Address(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_address_known_answer() {
        // A widely published example: the first contract of 0x6ac7ea33f8831ea9dcc53393aaa88b25a785dbf0.
        let sender: Address = "0x6ac7ea33f8831ea9dcc53393aaa88b25a785dbf0"
            .parse()
            .unwrap();
        assert_eq!(
            create_address(&sender, 0).to_string().to_lowercase(),
            "0xcd234a471b72ba2f1ccf0a70fcaba648a5eecd8d"
        );
        assert_eq!(
            create_address(&sender, 1).to_string().to_lowercase(),
            "0x343c43a37d37dff08ae8c4a11544c718abb4fcf8"
        );
    }

    /// A signed transaction rebuilt from its fields, with `edit` applied to
    /// the list of items before it is encoded.
    fn rebuilt(edit: impl FnOnce(&mut Vec<Vec<u8>>)) -> Vec<u8> {
        let key = PrivateKey::from_bytes(&[9; 32]).unwrap();
        let tx = Eip1559Transaction {
            chain_id: 84532,
            nonce: 1,
            max_priority_fee_per_gas: 1,
            max_fee_per_gas: 2,
            gas_limit: 70_000,
            to: Some(Address([7; 20])),
            value: Amount::ZERO,
            data: &[9; 68],
        }
        .sign(&key);
        let to = tx.tx.to.unwrap().0;
        let [a, b, c, d, e, f, g, h, i] = tx.tx.fields(&to);
        let fields = [
            a,
            b,
            c,
            d,
            e,
            f,
            g,
            h,
            i,
            Item::uint(u128::from(tx.y_parity)),
            Item::Uint(tx.r),
            Item::Uint(tx.s),
        ];
        let mut items: Vec<Vec<u8>> = fields
            .iter()
            .map(|f| {
                let mut v = Vec::new();
                rlp::write(f, &mut v).unwrap();
                v
            })
            .collect();
        edit(&mut items);
        let payload: Vec<u8> = items.concat();
        let mut out = vec![EIP1559_TX_TYPE];
        if payload.len() <= 55 {
            out.push(0xc0 + u8::try_from(payload.len()).unwrap());
        } else {
            let len = payload.len().to_be_bytes();
            let start = len.iter().position(|b| *b != 0).unwrap();
            out.push(0xf7 + u8::try_from(len.len() - start).unwrap());
            out.extend_from_slice(&len[start..]);
        }
        out.extend_from_slice(&payload);
        out
    }

    #[test]
    fn malformed_signed_transactions_are_refused_with_their_reason() {
        let good = rebuilt(|_| {});
        assert!(SignedTransaction::decode(&good).is_ok());
        let mut legacy = good.clone();
        legacy[0] = 0x01;
        let mut trailing = good.clone();
        trailing.push(0);
        let cases: Vec<(&str, Vec<u8>, &str)> = vec![
            ("empty", vec![], "not an EIP-1559"),
            ("type 1", legacy, "not an EIP-1559"),
            ("a byte after it", trailing, "bytes after"),
            ("11 fields", rebuilt(|i| drop(i.pop())), "fewer than 12"),
            ("13 fields", rebuilt(|i| i.push(vec![0x80])), "more than 12"),
            (
                "nonce 0x0001",
                rebuilt(|i| i[1] = vec![0x82, 0, 1]),
                "leading zero",
            ),
            (
                "chain id of 9 bytes",
                rebuilt(|i| i[0] = [&[0x89u8][..], &[1; 9]].concat()),
                "too large",
            ),
            (
                "`to` of 19 bytes",
                rebuilt(|i| i[5] = [&[0x93u8][..], &[7; 19]].concat()),
                "20 bytes",
            ),
            (
                "an access list entry",
                rebuilt(|i| i[8] = vec![0xc1, 0xc0]),
                "access list",
            ),
            ("yParity 2", rebuilt(|i| i[9] = vec![0x02]), "yParity"),
            ("data a list", rebuilt(|i| i[7] = vec![0xc0]), "is a list"),
            (
                "r of 33 bytes",
                rebuilt(|i| i[10] = [&[0xa1u8][..], &[1; 33]].concat()),
                "too large",
            ),
        ];
        for (name, raw, why) in cases {
            let e = SignedTransaction::decode(&raw).unwrap_err();
            assert!(e.0.contains(why), "{name}: {e}");
        }
    }

    #[test]
    fn signed_encoding_round_trips_sender() {
        let key = PrivateKey::from_bytes(&[9; 32]).unwrap();
        let tx = Eip1559Transaction {
            chain_id: 1,
            nonce: 0,
            max_priority_fee_per_gas: 0,
            max_fee_per_gas: 0,
            gas_limit: 21_000,
            to: None,
            value: Amount::ZERO,
            data: &[],
        };
        let s = tx.sign(&key);
        assert_eq!(s.recover_sender().unwrap(), key.address());
        let mut buf = [0u8; 128];
        let n = s.encode(&mut buf).unwrap();
        assert_eq!(n, s.encoded_len());
        assert_eq!(s.encode(&mut [0u8; 8]), Err(BufferTooSmall { needed: n }));
    }
}
