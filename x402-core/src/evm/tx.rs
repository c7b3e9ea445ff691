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

use super::rlp::{self, Item};
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
