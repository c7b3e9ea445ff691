//! Building and partly signing the payer's transaction, as `@x402/svm` 2.27's
//! client builds it: a v0 message paid by `extra.feePayer` holding
//! `SetComputeUnitLimit(20,000)`, `SetComputeUnitPrice(1)`, a
//! `TransferChecked` from the payer's associated token account to `payTo`'s,
//! and a Memo carrying `extra.memo` or, without one, 16 random bytes in hex
//! (which makes every transaction unique). The payer signs; the fee payer's
//! slot (0) stays empty for the facilitator.
//!
//! The core reads no chain and draws no randomness: the mint's token program
//! and decimals, the blockhash when `extra.recentBlockhash` is absent, and the
//! memo nonce are the caller's. The accounts are ordered as `@solana/kit`
//! orders them (fee payer, signers, writable, then by address under its
//! collation), so the bytes equal the reference client's.

use core::cmp::Ordering;

use ed25519_dalek::Signer;
/// The payer's Ed25519 key (`ed25519-dalek`'s), from its 32-byte seed.
pub use ed25519_dalek::SigningKey;

use crate::json::{JsonStr, ObjectWriter, Sink, SinkFull, ToJson};
use crate::types::v2::PaymentRequirements;

use super::tx::{MAX_TRANSACTION_SIZE, write_compact_u16};
use super::{
    COMPUTE_BUDGET_PROGRAM, DEFAULT_COMPUTE_UNIT_LIMIT, DEFAULT_COMPUTE_UNIT_PRICE,
    IX_SET_COMPUTE_UNIT_LIMIT, IX_SET_COMPUTE_UNIT_PRICE, IX_TRANSFER_CHECKED, MAX_MEMO_BYTES,
    MEMO_PROGRAM, PUBKEY_BASE58_MAX, Pubkey, TOKEN_2022_PROGRAM, TOKEN_PROGRAM,
    associated_token_address,
};

/// Why a transaction could not be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CreateError {
    /// `extra.feePayer` is absent or not an address.
    MissingFeePayer,
    /// `asset` or `payTo` is not an address.
    InvalidAddress,
    /// The amount does not fit a `u64`.
    AmountTooLarge,
    /// The mint's program is neither Token nor Token-2022.
    UnknownTokenProgram,
    /// `extra.memo` is longer than 256 bytes.
    MemoTooLong,
    /// No `extra.recentBlockhash` and none given by the host.
    MissingBlockhash,
    /// The payer is the fee payer.
    PayerIsFeePayer,
    /// The output buffer is too small (it never is at [`MAX_TRANSACTION_SIZE`]).
    BufferTooSmall,
}

impl CreateError {
    /// A sentence for people.
    #[must_use]
    pub const fn message(self) -> &'static str {
        match self {
            CreateError::MissingFeePayer => {
                "feePayer is required in paymentRequirements.extra for SVM transactions"
            }
            CreateError::InvalidAddress => "asset or payTo is not a base58 address",
            CreateError::AmountTooLarge => "amount larger than u64",
            CreateError::UnknownTokenProgram => "Asset was not created by a known token program",
            CreateError::MemoTooLong => "extra.memo exceeds maximum 256 bytes",
            CreateError::MissingBlockhash => "no recent blockhash",
            CreateError::PayerIsFeePayer => "the payer is the fee payer",
            CreateError::BufferTooSmall => "output buffer too small",
        }
    }
}

impl core::fmt::Display for CreateError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.message())
    }
}

/// The memo instruction's content.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Memo<'a> {
    /// The seller's `extra.memo`, as UTF-8.
    Text(&'a [u8]),
    /// No `extra.memo`: 16 random bytes, written as 32 lowercase hex digits.
    Nonce([u8; 16]),
}

/// Everything the transaction is made of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Payment<'a> {
    /// `extra.feePayer`.
    pub fee_payer: Pubkey,
    /// `asset`.
    pub mint: Pubkey,
    /// `payTo`.
    pub pay_to: Pubkey,
    /// The mint's owner program (Token or Token-2022), read from the chain.
    pub token_program: Pubkey,
    /// The mint's decimals, read from the chain.
    pub decimals: u8,
    /// `amount`.
    pub amount: u64,
    /// `extra.recentBlockhash`, or the host's.
    pub recent_blockhash: [u8; 32],
    /// The memo.
    pub memo: Memo<'a>,
    /// The compute unit limit ([`DEFAULT_COMPUTE_UNIT_LIMIT`]).
    pub compute_unit_limit: u32,
    /// The compute unit price, micro-lamports ([`DEFAULT_COMPUTE_UNIT_PRICE`]).
    pub compute_unit_price: u64,
}

impl<'a> Payment<'a> {
    /// Reads the requirements as the reference client does: `extra.memo` when
    /// a non-empty string (else `nonce`), `extra.recentBlockhash` when it is
    /// base58 of 32 bytes (else `host_blockhash`). `memo_buf` holds the
    /// unescaped memo.
    ///
    /// # Errors
    /// [`CreateError`].
    pub fn from_requirements(
        r: &PaymentRequirements<'_>,
        token_program: Pubkey,
        decimals: u8,
        host_blockhash: Option<[u8; 32]>,
        nonce: [u8; 16],
        memo_buf: &'a mut [u8; MAX_MEMO_BYTES],
    ) -> Result<Payment<'a>, CreateError> {
        let extra = r.extra.as_ref().map(|e| e.source);
        let text = |name: &str| {
            extra
                .and_then(|e| e.get(name))
                .and_then(|v| v.as_str())
                .filter(|s| !s.is_empty())
        };
        let key = |s: JsonStr<'_>| {
            let mut buf = [0u8; PUBKEY_BASE58_MAX];
            s.unescape_into(&mut buf)
                .ok()
                .and_then(|t| Pubkey::parse(t).ok())
        };
        let fee_payer = text("feePayer")
            .and_then(key)
            .ok_or(CreateError::MissingFeePayer)?;
        let mint = key(r.asset).ok_or(CreateError::InvalidAddress)?;
        let pay_to = key(r.pay_to).ok_or(CreateError::InvalidAddress)?;
        let amount = r.amount.to_u64().ok_or(CreateError::AmountTooLarge)?;
        let recent_blockhash = text("recentBlockhash")
            .and_then(key)
            .map(|k| k.0)
            .or(host_blockhash)
            .ok_or(CreateError::MissingBlockhash)?;
        let memo = match text("memo") {
            Some(m) => {
                let t = m
                    .unescape_into(memo_buf)
                    .map_err(|_| CreateError::MemoTooLong)?;
                Memo::Text(t.as_bytes())
            }
            None => Memo::Nonce(nonce),
        };
        Ok(Payment {
            fee_payer,
            mint,
            pay_to,
            token_program,
            decimals,
            amount,
            recent_blockhash,
            memo,
            compute_unit_limit: DEFAULT_COMPUTE_UNIT_LIMIT,
            compute_unit_price: DEFAULT_COMPUTE_UNIT_PRICE,
        })
    }
}

/// `@solana/kit`'s address order: ICU collation (`en`, lower case first) of
/// the base58 texts — digits before letters, letters without regard to case,
/// then lower case before upper case at the first difference.
#[must_use]
pub fn address_order(a: &Pubkey, b: &Pubkey) -> Ordering {
    let (mut ba, mut bb) = ([0u8; PUBKEY_BASE58_MAX], [0u8; PUBKEY_BASE58_MAX]);
    let (sa, sb) = (
        a.to_base58(&mut ba).as_bytes(),
        b.to_base58(&mut bb).as_bytes(),
    );
    let primary = |c: &u8| c.to_ascii_lowercase();
    let tertiary = |c: &u8| c.is_ascii_uppercase();
    sa.iter()
        .map(primary)
        .cmp(sb.iter().map(primary))
        .then_with(|| sa.iter().map(tertiary).cmp(sb.iter().map(tertiary)))
}

#[derive(Clone, Copy)]
struct Meta {
    key: Pubkey,
    signer: bool,
    writable: bool,
}

/// A byte writer over the output.
struct Out<'b> {
    buf: &'b mut [u8],
    len: usize,
}

impl Out<'_> {
    fn put(&mut self, bytes: &[u8]) -> Result<(), CreateError> {
        let end = self
            .len
            .checked_add(bytes.len())
            .ok_or(CreateError::BufferTooSmall)?;
        self.buf
            .get_mut(self.len..end)
            .ok_or(CreateError::BufferTooSmall)?
            .copy_from_slice(bytes);
        self.len = end;
        Ok(())
    }

    fn compact(&mut self, n: usize) -> Result<(), CreateError> {
        let n = u16::try_from(n).map_err(|_| CreateError::BufferTooSmall)?;
        let mut b = [0u8; 3];
        let k = write_compact_u16(n, &mut b).ok_or(CreateError::BufferTooSmall)?;
        self.put(b.get(..k).unwrap_or_default())
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Builds the payer's partly signed transaction into `out`, returning its
/// length: slot 0 (the fee payer) empty, the payer's signature in its slot.
///
/// # Errors
/// [`CreateError`].
pub fn create_transaction(
    payer: &SigningKey,
    p: &Payment<'_>,
    out: &mut [u8; MAX_TRANSACTION_SIZE],
) -> Result<usize, CreateError> {
    if p.token_program != TOKEN_PROGRAM && p.token_program != TOKEN_2022_PROGRAM {
        return Err(CreateError::UnknownTokenProgram);
    }
    let authority = Pubkey(payer.verifying_key().to_bytes());
    if authority == p.fee_payer {
        return Err(CreateError::PayerIsFeePayer);
    }
    let memo_hex;
    let memo: &[u8] = match p.memo {
        Memo::Text(t) if t.len() > MAX_MEMO_BYTES => return Err(CreateError::MemoTooLong),
        Memo::Text(t) => t,
        Memo::Nonce(n) => {
            let mut h = [0u8; 32];
            for (pair, b) in h.chunks_exact_mut(2).zip(n) {
                if let [hi, lo] = pair {
                    *hi = HEX.get(usize::from(b >> 4)).copied().unwrap_or_default();
                    *lo = HEX.get(usize::from(b & 15)).copied().unwrap_or_default();
                }
            }
            memo_hex = h;
            &memo_hex
        }
    };
    let source = associated_token_address(&authority, &p.mint, &p.token_program);
    let destination = associated_token_address(&p.pay_to, &p.mint, &p.token_program);

    // The accounts, merged and ordered.
    let metas = [
        Meta {
            key: authority,
            signer: true,
            writable: false,
        },
        Meta {
            key: source,
            signer: false,
            writable: true,
        },
        Meta {
            key: destination,
            signer: false,
            writable: true,
        },
        Meta {
            key: p.mint,
            signer: false,
            writable: false,
        },
        Meta {
            key: p.token_program,
            signer: false,
            writable: false,
        },
        Meta {
            key: COMPUTE_BUDGET_PROGRAM,
            signer: false,
            writable: false,
        },
        Meta {
            key: MEMO_PROGRAM,
            signer: false,
            writable: false,
        },
    ];
    let mut keys = [Meta {
        key: p.fee_payer,
        signer: true,
        writable: true,
    }; 8];
    let mut n = 1;
    for m in metas {
        if let Some(k) = keys
            .get_mut(..n)
            .and_then(|ks| ks.iter_mut().find(|k| k.key == m.key))
        {
            k.signer |= m.signer;
            k.writable |= m.writable;
        } else if let Some(slot) = keys.get_mut(n) {
            *slot = m;
            n += 1;
        }
    }
    let keys = keys.get_mut(..n).ok_or(CreateError::BufferTooSmall)?;
    if let Some((_, rest)) = keys.split_first_mut() {
        rest.sort_unstable_by(|a, b| {
            b.signer
                .cmp(&a.signer)
                .then(b.writable.cmp(&a.writable))
                .then_with(|| address_order(&a.key, &b.key))
        });
    }
    let index = |k: &Pubkey| -> Result<u8, CreateError> {
        keys.iter()
            .position(|m| m.key == *k)
            .and_then(|i| u8::try_from(i).ok())
            .ok_or(CreateError::BufferTooSmall)
    };
    let num_signers = keys.iter().filter(|m| m.signer).count();
    let readonly_signed = keys.iter().filter(|m| m.signer && !m.writable).count();
    let readonly_unsigned = keys.iter().filter(|m| !m.signer && !m.writable).count();
    let byte = |v: usize| u8::try_from(v).map_err(|_| CreateError::BufferTooSmall);

    // The signatures' room first, the message after it.
    let sig_room = 1 + 64 * num_signers;
    let (head, body) = out.split_at_mut(sig_room.min(MAX_TRANSACTION_SIZE));
    let mut m = Out { buf: body, len: 0 };
    m.put(&[
        0x80,
        byte(num_signers)?,
        byte(readonly_signed)?,
        byte(readonly_unsigned)?,
    ])?;
    m.compact(keys.len())?;
    for k in keys.iter() {
        m.put(&k.key.0)?;
    }
    m.put(&p.recent_blockhash)?;
    m.compact(4)?;
    // SetComputeUnitLimit, SetComputeUnitPrice.
    let cb = index(&COMPUTE_BUDGET_PROGRAM)?;
    m.put(&[cb, 0, 5, IX_SET_COMPUTE_UNIT_LIMIT])?;
    m.put(&p.compute_unit_limit.to_le_bytes())?;
    m.put(&[cb, 0, 9, IX_SET_COMPUTE_UNIT_PRICE])?;
    m.put(&p.compute_unit_price.to_le_bytes())?;
    // TransferChecked: source, mint, destination, authority.
    m.put(&[
        index(&p.token_program)?,
        4,
        index(&source)?,
        index(&p.mint)?,
        index(&destination)?,
        index(&authority)?,
        10,
        IX_TRANSFER_CHECKED,
    ])?;
    m.put(&p.amount.to_le_bytes())?;
    m.put(&[p.decimals])?;
    // Memo.
    m.put(&[index(&MEMO_PROGRAM)?, 0])?;
    m.compact(memo.len())?;
    m.put(memo)?;
    m.compact(0)?; // no lookup tables
    let message_len = m.len;
    let message = body.get(..message_len).ok_or(CreateError::BufferTooSmall)?;

    let signature = payer.sign(message).to_bytes();
    let mut s = Out { buf: head, len: 0 };
    s.compact(num_signers)?;
    for k in keys.iter().filter(|k| k.signer) {
        if k.key == authority {
            s.put(&signature)?;
        } else {
            s.put(&[0u8; 64])?;
        }
    }
    sig_room
        .checked_add(message_len)
        .ok_or(CreateError::BufferTooSmall)
}

/// The scheme payload, `{"transaction": base64}`, of wire bytes.
#[derive(Clone, Copy, Debug)]
pub struct ExactSvmPayload<'a> {
    /// The wire transaction.
    pub transaction: &'a [u8],
}

impl ToJson for ExactSvmPayload<'_> {
    fn write_json(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        let mut b64 = [0u8; super::verify::MAX_TRANSACTION_BASE64];
        let n = crate::header::base64_encode(self.transaction, &mut b64).map_err(|_| SinkFull)?;
        let text = core::str::from_utf8(b64.get(..n).unwrap_or_default()).map_err(|_| SinkFull)?;
        let mut w = ObjectWriter::new(out)?;
        w.str_field("transaction", JsonStr::new(text))?;
        w.end()
    }
}

/// Writes a v2 `PaymentPayload`: `{x402Version: 2, accepted, payload}`, the
/// payload being `{"transaction": base64}` of `transaction`.
///
/// # Errors
/// `SinkFull`.
pub fn write_payment_payload(
    accepted: &PaymentRequirements<'_>,
    transaction: &[u8],
    out: &mut dyn Sink,
) -> Result<(), SinkFull> {
    let mut w = ObjectWriter::new(out)?;
    w.u64_field("x402Version", 2)?;
    w.field("accepted", accepted)?;
    w.field("payload", &ExactSvmPayload { transaction })?;
    w.end()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::{Limits, parse};
    use crate::types::FromJson;

    const REQ: &str = r#"{"scheme":"exact","network":"solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1","amount":"1000","asset":"4zMMC9srt5Ri5X14GAgXhaHii3GnPAEERYPJgZJDncDU","payTo":"En1dx9bUjczzJkQds2WbBD945oQkWKvFVRRCzQEvSvSG","maxTimeoutSeconds":60,"extra":{"feePayer":"96jgpaHSdAiGufjzHYDiAyhdD9UFwJmFdmmawdPoVX3D"EXTRA}}"#;

    fn read(extra: &str, host: Option<[u8; 32]>) -> Result<([u8; 32], bool), CreateError> {
        let text = REQ.replace("EXTRA", extra);
        let v = parse(text.as_bytes(), &Limits::DEFAULT).unwrap();
        let r = PaymentRequirements::from_json(v).unwrap();
        let mut buf = [0u8; MAX_MEMO_BYTES];
        let p = Payment::from_requirements(&r, TOKEN_PROGRAM, 6, host, [5; 16], &mut buf)?;
        Ok((p.recent_blockhash, matches!(p.memo, Memo::Nonce(_))))
    }

    #[test]
    fn blockhash_from_extra_else_host() {
        let hinted = Pubkey::parse("Ao1G6p7peMhBSVH23e8ZZH5jD63QjE4hzmfF4UDKRnrf").unwrap();
        let extra = r#","recentBlockhash":"Ao1G6p7peMhBSVH23e8ZZH5jD63QjE4hzmfF4UDKRnrf""#;
        assert_eq!(read(extra, Some([1; 32])).unwrap().0, hinted.0);
        assert_eq!(read(extra, None).unwrap().0, hinted.0);
        // Malformed hints fall back to the host's.
        let bad = r#","recentBlockhash":"not-base58""#;
        assert_eq!(read(bad, Some([1; 32])).unwrap().0, [1; 32]);
        assert_eq!(read("", None), Err(CreateError::MissingBlockhash));
    }

    #[test]
    fn memo_or_nonce() {
        assert!(read("", Some([1; 32])).unwrap().1);
        assert!(read(r#","memo":"""#, Some([1; 32])).unwrap().1);
        assert!(!read(r#","memo":"x""#, Some([1; 32])).unwrap().1);
        let long = std::format!(r#","memo":"{}""#, "a".repeat(MAX_MEMO_BYTES + 1));
        assert_eq!(read(&long, Some([1; 32])), Err(CreateError::MemoTooLong));
    }

    #[test]
    fn refuses_what_it_cannot_build() {
        let text = REQ.replace("EXTRA", "");
        let v = parse(text.as_bytes(), &Limits::DEFAULT).unwrap();
        let r = PaymentRequirements::from_json(v).unwrap();
        let mut buf = [0u8; MAX_MEMO_BYTES];
        let mut p =
            Payment::from_requirements(&r, TOKEN_PROGRAM, 6, Some([1; 32]), [5; 16], &mut buf)
                .unwrap();
        let key = SigningKey::from_bytes(&[9; 32]);
        let mut out = [0u8; MAX_TRANSACTION_SIZE];
        p.token_program = MEMO_PROGRAM;
        assert_eq!(
            create_transaction(&key, &p, &mut out),
            Err(CreateError::UnknownTokenProgram)
        );
        p.token_program = TOKEN_PROGRAM;
        p.fee_payer = Pubkey(key.verifying_key().to_bytes());
        assert_eq!(
            create_transaction(&key, &p, &mut out),
            Err(CreateError::PayerIsFeePayer)
        );
        let no_fee_payer = REQ.replace(
            r#""feePayer":"96jgpaHSdAiGufjzHYDiAyhdD9UFwJmFdmmawdPoVX3D"EXTRA"#,
            r#""feePayer":"""#,
        );
        let v = parse(no_fee_payer.as_bytes(), &Limits::DEFAULT).unwrap();
        let r = PaymentRequirements::from_json(v).unwrap();
        let mut buf = [0u8; MAX_MEMO_BYTES];
        assert_eq!(
            Payment::from_requirements(&r, TOKEN_PROGRAM, 6, Some([1; 32]), [5; 16], &mut buf)
                .err(),
            Some(CreateError::MissingFeePayer)
        );
    }
}
