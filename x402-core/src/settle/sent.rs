//! A settlement transaction as signed, in the form a host keeps it: to find
//! it again by hash after a restart, to send the very same bytes again, or to
//! replace it with a dearer one at the same account nonce.

use crate::amount::Amount;
use crate::error::{Error, ErrorKind, Reason};
use crate::evm::B256;
use crate::json::{Limits, ObjectWriter, Sink, SinkFull, ToJson};

/// A signed settlement transaction: its hash, and what rebuilds its bytes
/// with the payment's calldata ([`super::Machine::resume`] and
/// [`super::Machine::replace`] take it back).
///
/// ```
/// use paywire::settle::SentTransaction;
/// use paywire::json::ToJson;
/// let json = br#"{"hash":"0x1111111111111111111111111111111111111111111111111111111111111111","nonce":7,"gasLimit":90000,"maxFeePerGas":"2000000000","maxPriorityFeePerGas":"1000000","yParity":1,"r":"0x2222222222222222222222222222222222222222222222222222222222222222","s":"0x3333333333333333333333333333333333333333333333333333333333333333"}"#;
/// let sent = SentTransaction::from_json(json).unwrap();
/// assert_eq!(sent.nonce, 7);
/// assert_eq!(sent.to_json_string().as_bytes(), &json[..]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SentTransaction {
    /// The transaction hash.
    pub hash: B256,
    /// The account nonce it uses.
    pub nonce: u64,
    /// Its gas limit.
    pub gas_limit: u64,
    /// `maxFeePerGas`, in wei.
    pub max_fee_per_gas: u128,
    /// `maxPriorityFeePerGas`, in wei.
    pub max_priority_fee_per_gas: u128,
    /// The signature's recovery id.
    pub y_parity: bool,
    /// The signature's `r`.
    pub r: [u8; 32],
    /// The signature's `s`.
    pub s: [u8; 32],
}

impl ToJson for SentTransaction {
    /// `{"hash","nonce","gasLimit","maxFeePerGas","maxPriorityFeePerGas","yParity","r","s"}`
    /// (wei amounts as decimal strings).
    fn write_json(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        let mut w = ObjectWriter::new(out)?;
        w.field("hash", &self.hash)?;
        w.u64_field("nonce", self.nonce)?;
        w.u64_field("gasLimit", self.gas_limit)?;
        w.field("maxFeePerGas", &Amount::from(self.max_fee_per_gas))?;
        w.field(
            "maxPriorityFeePerGas",
            &Amount::from(self.max_priority_fee_per_gas),
        )?;
        w.u64_field("yParity", u64::from(self.y_parity))?;
        w.field("r", &B256(self.r))?;
        w.field("s", &B256(self.s))?;
        w.end()
    }
}

impl SentTransaction {
    /// Reads what [`ToJson`] wrote.
    ///
    /// # Errors
    /// `invalid_payload` naming the member that is missing or malformed.
    pub fn from_json(json: &[u8]) -> Result<SentTransaction, Error> {
        use crate::types::{amount, b256, err, integer, object};
        const R: Reason = Reason::InvalidPayload;
        let v = crate::json::parse(json, &Limits::DEFAULT).map_err(|k| Error::new(R, k))?;
        let o = object(v, R, "")?;
        let get = |k: &'static str| o.get(k).ok_or(err(R, ErrorKind::MissingField, k));
        let wei = |k: &'static str| -> Result<u128, Error> {
            let a = amount(get(k)?, R, k)?;
            let b = a.to_be_bytes();
            let (hi, lo) = b.split_at(16);
            if hi.iter().any(|x| *x != 0) {
                return Err(err(R, ErrorKind::Overflow, k));
            }
            let mut w = [0u8; 16];
            w.copy_from_slice(lo);
            Ok(u128::from_be_bytes(w))
        };
        let y_parity = match integer(get("yParity")?, R, "yParity")? {
            0 => false,
            1 => true,
            _ => return Err(err(R, ErrorKind::Invalid("0 or 1"), "yParity")),
        };
        Ok(SentTransaction {
            hash: b256(get("hash")?, R, "hash")?,
            nonce: integer(get("nonce")?, R, "nonce")?,
            gas_limit: integer(get("gasLimit")?, R, "gasLimit")?,
            max_fee_per_gas: wei("maxFeePerGas")?,
            max_priority_fee_per_gas: wei("maxPriorityFeePerGas")?,
            y_parity,
            r: b256(get("r")?, R, "r")?.0,
            s: b256(get("s")?, R, "s")?.0,
        })
    }
}
