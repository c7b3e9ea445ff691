//! The `erc20ApprovalGasSponsoring` extension: a Permit2 payer whose token
//! has no allowance for Permit2 (and no EIP-2612 `permit`) signs an ordinary
//! `approve(Permit2, 2^256 − 1)` transaction, and the facilitator pays its gas
//! and broadcasts it before the settlement.
//!
//! The client echoes the server's declaration with `info = {from, asset,
//! spender, amount, signedTransaction, version}`. [`read`] takes the info from
//! a payment's `extensions` as the reference does (an info missing a member is
//! no extension; a member not of its form is
//! `invalid_erc20_approval_extension_format`), and [`Erc20Approval::check`]
//! applies the reference's offline rules, in its order, and this crate's:
//! the transaction must be for the payment's chain, send no ether, approve
//! enough and bound its gas (else the broadcast, or the settlement after it,
//! would fail after its gas was paid for). Only
//! EIP-1559 transactions with an empty access list are read — what the
//! reference client signs.
//!
//! ```
//! use paywire::gas_sponsoring::erc20_approval::Erc20Approval;
//! use paywire::evm::{Address, PrivateKey};
//! let key = PrivateKey::from_bytes(&[0x42; 32]).unwrap();
//! let token = Address::parse("0x036cbd53842c5426634e7929541ec2318f3dcf7e").unwrap();
//! let approval = Erc20Approval::sign(&key, token, 84532, 0, 2_000_000_000, 100_000_000);
//! let amount = 10_000u64.into();
//! assert_eq!(approval.check(&key.address(), &token, 84532, &amount), Ok(()));
//! assert!(approval.check(&key.address(), &token, 8453, &amount).is_err());
//! ```

use crate::amount::Amount;
use crate::error::Reason;
use crate::evm::eip712::PERMIT2_ADDRESS;
use crate::evm::tx::{Eip1559Transaction, SignedTransaction};
use crate::evm::{Address, PrivateKey};
use crate::json::{JsonObject, JsonStr, ObjectWriter, Sink, SinkFull, ToJson};

use super::{address, number, version_form};

/// The extension's key in `extensions`.
pub const ERC20_APPROVAL_GAS_SPONSORING: &str = "erc20ApprovalGasSponsoring";

/// `approve(address,uint256)`.
pub const APPROVE_SELECTOR: [u8; 4] = [0x09, 0x5e, 0xa7, 0xb3];

/// The gas limit the reference client gives its approval (an ERC-20
/// `approve` costs about 46,000).
pub const APPROVE_GAS_LIMIT: u64 = 70_000;

/// The largest gas limit of an approval whose gas is paid for (twice the
/// reference client's): a sponsor funds at most this much gas.
pub const MAX_APPROVE_GAS_LIMIT: u64 = 2 * APPROVE_GAS_LIMIT;

/// The longest signed transaction read (an approval is about 180 bytes).
pub const MAX_SIGNED_TRANSACTION: usize = 512;

/// A payment's signed approval for Permit2, as the extension's `info` gives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Erc20Approval {
    /// The owner who signed it.
    pub from: Address,
    /// The token.
    pub asset: Address,
    /// The spender it names (Permit2).
    pub spender: Address,
    /// The allowance it says it sets.
    pub amount: Amount,
    raw: [u8; MAX_SIGNED_TRANSACTION],
    /// Length of the signed transaction in `raw`; `None` when its hex was
    /// longer than [`MAX_SIGNED_TRANSACTION`] bytes or of odd length (it then
    /// fails to parse, at that rule's turn).
    raw_len: Option<usize>,
}

/// What the chain says about a payer, read by a host that sponsors its
/// approval before it pays for anything.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PayerState {
    /// `allowance(payer, Permit2)` on the token.
    pub allowance: Amount,
    /// `eth_getTransactionCount(payer, "pending")`: its next nonce.
    pub pending_nonce: u64,
    /// `eth_getBalance(payer, "pending")`, in wei (pending: a funding sent
    /// and not mined yet counts, so it is never sent twice).
    pub balance: u128,
}

/// What a sponsoring host does for an approval
/// ([`Erc20Approval::sponsorship`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sponsorship {
    /// Permit2 may already move the payment's amount: nothing to send
    /// before the settlement.
    Approved,
    /// Send `fund` wei to the payer (nothing when 0), then the signed
    /// approval; settle once it is mined with status 1
    /// (else `erc20_approval_tx_failed`).
    Relay {
        /// What the payer's balance lacks of the approval's gas, in wei.
        fund: u128,
    },
    /// The payer's nonce has moved past the approval's: the approval may be
    /// in flight (sent by an earlier request): wait for its receipt, by its
    /// hash. A node that does not know the hash means another transaction
    /// took the nonce: `erc20_approval_tx_not_sponsorable`.
    InFlight,
}

/// The approval in a payment's `extensions`: `None` when there is none (or its
/// `info` lacks a member, which the reference also reads as none);
/// `Some(Err(..))` when a member is not of the extension's form (an `amount`
/// of more than 78 digits or above 2^256 − 1 included, which the reference's
/// pattern lets through and nothing then reads).
#[must_use]
pub fn read(extensions: JsonObject<'_>) -> Option<Result<Erc20Approval, Reason>> {
    let info = extensions
        .get(ERC20_APPROVAL_GAS_SPONSORING)?
        .as_object()?
        .get("info")?
        .as_object()?;
    let names = [
        "from",
        "asset",
        "spender",
        "amount",
        "signedTransaction",
        "version",
    ];
    let mut texts = [""; 6];
    for (name, slot) in names.iter().zip(texts.iter_mut()) {
        let v = info.get(name)?;
        // Falsy in JavaScript: no extension, as the reference reads it.
        if v.is_null() || v.as_bool() == Some(false) || v.raw() == "0" {
            return None;
        }
        match v.as_str().map(|s| s.as_str()) {
            Some(Some("")) => return None,
            Some(Some(t)) => *slot = t,
            _ => return Some(Err(Reason::InvalidErc20ApprovalExtensionFormat)),
        }
    }
    let [from, asset, spender, amount, signed, version] = texts;
    Some(
        (|| {
            let digits = signed.strip_prefix("0x")?;
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            let mut approval = Erc20Approval {
                from: address(from)?,
                asset: address(asset)?,
                spender: address(spender)?,
                amount: number(amount)?,
                raw: [0; MAX_SIGNED_TRANSACTION],
                raw_len: None,
            };
            version_form(version)?;
            approval.raw_len = unhex(digits.as_bytes(), &mut approval.raw);
            Some(approval)
        })()
        .ok_or(Reason::InvalidErc20ApprovalExtensionFormat),
    )
}

/// Hex digits (already checked) into `out`: `None` when odd or too long.
fn unhex(digits: &[u8], out: &mut [u8]) -> Option<usize> {
    if !digits.len().is_multiple_of(2) || digits.len() / 2 > out.len() {
        return None;
    }
    for (o, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        let hi = crate::json::hex_digit(*pair.first()?)?;
        let lo = crate::json::hex_digit(*pair.get(1)?)?;
        *o = (hi << 4) | lo;
    }
    Some(digits.len() / 2)
}

impl Erc20Approval {
    /// The signed transaction's bytes, if they could be read (hex of even
    /// length, at most [`MAX_SIGNED_TRANSACTION`] bytes).
    #[must_use]
    pub fn signed_transaction(&self) -> Option<&[u8]> {
        self.raw.get(..self.raw_len?)
    }

    /// The signed transaction, decoded (see [`SignedTransaction::decode`]).
    #[must_use]
    pub fn transaction(&self) -> Option<SignedTransaction<'_>> {
        SignedTransaction::decode(self.signed_transaction()?).ok()
    }

    /// The reference's offline rules, in its order — `from` is the payer,
    /// `asset` the payment's token, `spender` Permit2; the transaction parses,
    /// calls the token, is `approve(Permit2, …)` and is signed by the payer —
    /// then this crate's, refusing what could only fail after its gas was
    /// paid for: it is for `chain_id`, sends no ether, approves at least
    /// `required` (the Permit2 authorization's amount), has a gas limit of at
    /// most [`MAX_APPROVE_GAS_LIMIT`] and a tip no greater than its fee cap.
    /// Its nonce (the payer's next one) and fees (against the base fee and
    /// the host's own cap) are the host's to check before it pays for them.
    ///
    /// # Errors
    /// The extension's reason for the first rule broken.
    pub fn check(
        &self,
        payer: &Address,
        token: &Address,
        chain_id: u64,
        required: &Amount,
    ) -> Result<(), Reason> {
        if self.from != *payer {
            return Err(Reason::Erc20ApprovalFromMismatch);
        }
        if self.asset != *token {
            return Err(Reason::Erc20ApprovalAssetMismatch);
        }
        if self.spender != PERMIT2_ADDRESS {
            return Err(Reason::Erc20ApprovalSpenderNotPermit2);
        }
        let tx = self
            .transaction()
            .ok_or(Reason::Erc20ApprovalTxParseFailed)?;
        if tx.tx.to != Some(*token) {
            return Err(Reason::Erc20ApprovalTxWrongTarget);
        }
        let Some(args) = tx.tx.data.strip_prefix(&APPROVE_SELECTOR[..]) else {
            return Err(Reason::Erc20ApprovalTxWrongSelector);
        };
        // Exactly two words, the first an address (stricter than the
        // reference's decoder, which ignores bytes after them and the
        // address word's upper 12 bytes).
        let (spender, approved) = match args.split_at_checked(32) {
            Some((word, amount)) => word
                .strip_prefix(&[0u8; 12][..])
                .and_then(|a| <[u8; 20]>::try_from(a).ok())
                .zip(<[u8; 32]>::try_from(amount).ok())
                .map(|(a, v)| (Address(a), Amount::from_be_bytes(v))),
            None => None,
        }
        .ok_or(Reason::Erc20ApprovalTxInvalidCalldata)?;
        if spender != PERMIT2_ADDRESS {
            return Err(Reason::Erc20ApprovalTxWrongSpender);
        }
        let signer = tx
            .recover_sender()
            .map_err(|_| Reason::Erc20ApprovalTxInvalidSignature)?;
        if signer != *payer {
            return Err(Reason::Erc20ApprovalTxSignerMismatch);
        }
        if tx.tx.chain_id != chain_id
            || tx.tx.value != Amount::ZERO
            || approved < *required
            || tx.tx.gas_limit > MAX_APPROVE_GAS_LIMIT
            || tx.tx.max_priority_fee_per_gas > tx.tx.max_fee_per_gas
        {
            return Err(Reason::Erc20ApprovalTxNotSponsorable);
        }
        Ok(())
    }

    /// What a sponsoring host does for this approval (already held to
    /// [`Erc20Approval::check`]), given what the chain says about the payer,
    /// the latest block's `base_fee`, the chain's suggested `tip`
    /// (`eth_maxPriorityFeePerGas`) and the highest fee per gas the host
    /// pays for (`max_fee_per_gas`, in wei): nothing, when Permit2 may
    /// already move `required`; else relay the approval when its nonce is the
    /// payer's next one, after funding what the payer's balance lacks of the
    /// approval's most costly gas (`gas limit × maxFeePerGas`: a node takes a
    /// transaction only from an account holding that much); or find it in
    /// flight when the payer's nonce has moved past it.
    ///
    /// The gas limit must be at most the reference client's
    /// ([`APPROVE_GAS_LIMIT`]), and the fee cap lie between the base fee
    /// (below it the approval would wait in the pool) and twice the base fee
    /// and the suggested tip (the reference client signs 1.2 times the base
    /// fee plus the suggested tip): the funding is then about what the
    /// approval may cost at today's prices, and what the payer keeps of it
    /// is bounded by that. `fund` never exceeds `APPROVE_GAS_LIMIT ×
    /// max_fee_per_gas`.
    ///
    /// # Errors
    /// `erc20_approval_tx_parse_failed` for a transaction that does not
    /// parse; `erc20_approval_tx_not_sponsorable` for a gas limit above
    /// [`APPROVE_GAS_LIMIT`], a fee cap above `max_fee_per_gas` or outside
    /// the base-fee bounds, or a nonce ahead of the payer's next one (it
    /// would wait in the pool for a transaction that may never come).
    pub fn sponsorship(
        &self,
        required: &Amount,
        payer: &PayerState,
        base_fee: u128,
        tip: u128,
        max_fee_per_gas: u128,
    ) -> Result<Sponsorship, Reason> {
        if payer.allowance >= *required {
            return Ok(Sponsorship::Approved);
        }
        let tx = self
            .transaction()
            .ok_or(Reason::Erc20ApprovalTxParseFailed)?;
        let fee = tx.tx.max_fee_per_gas;
        // The fee cap is bounded by the chain's prices, never by the
        // approval's own tip (a tip equal to the cap would lift any bound).
        let ceiling = base_fee.saturating_add(tip).saturating_mul(2);
        if tx.tx.gas_limit > APPROVE_GAS_LIMIT
            || fee > max_fee_per_gas
            || fee < base_fee
            || fee > ceiling
        {
            return Err(Reason::Erc20ApprovalTxNotSponsorable);
        }
        match payer.pending_nonce.cmp(&tx.tx.nonce) {
            core::cmp::Ordering::Less => Err(Reason::Erc20ApprovalTxNotSponsorable),
            core::cmp::Ordering::Greater => Ok(Sponsorship::InFlight),
            core::cmp::Ordering::Equal => {
                let cost = u128::from(tx.tx.gas_limit).saturating_mul(fee);
                let most = u128::from(APPROVE_GAS_LIMIT).saturating_mul(max_fee_per_gas);
                Ok(Sponsorship::Relay {
                    fund: cost.saturating_sub(payer.balance).min(most),
                })
            }
        }
    }

    /// The owner `key`'s signed `approve(Permit2, 2^256 − 1)` on `token`, as
    /// the reference client makes it: an EIP-1559 transaction with gas limit
    /// [`APPROVE_GAS_LIMIT`], the owner's account `nonce` and the fees given
    /// (which only the chain knows).
    #[must_use]
    pub fn sign(
        key: &PrivateKey,
        token: Address,
        chain_id: u64,
        nonce: u64,
        max_fee_per_gas: u128,
        max_priority_fee_per_gas: u128,
    ) -> Erc20Approval {
        let mut data = [0u8; 68];
        let (selector, args) = data.split_at_mut(4);
        selector.copy_from_slice(&APPROVE_SELECTOR);
        let (spender, amount) = args.split_at_mut(32);
        if let Some(a) = spender.get_mut(12..) {
            a.copy_from_slice(&PERMIT2_ADDRESS.0);
        }
        amount.copy_from_slice(&Amount::MAX.to_be_bytes());
        let signed = Eip1559Transaction {
            chain_id,
            nonce,
            max_priority_fee_per_gas,
            max_fee_per_gas,
            gas_limit: APPROVE_GAS_LIMIT,
            to: Some(token),
            value: Amount::ZERO,
            data: &data,
        }
        .sign(key);
        let mut raw = [0u8; MAX_SIGNED_TRANSACTION];
        let raw_len = signed.encode(&mut raw).ok();
        Erc20Approval {
            from: key.address(),
            asset: token,
            spender: PERMIT2_ADDRESS,
            amount: Amount::MAX,
            raw,
            raw_len,
        }
    }
}

impl ToJson for Erc20Approval {
    /// The extension's `info`: `{from, asset, spender, amount,
    /// signedTransaction, version: "1"}`.
    fn write_json(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        let mut w = ObjectWriter::new(out)?;
        w.field("from", &self.from)?;
        w.field("asset", &self.asset)?;
        w.field("spender", &self.spender)?;
        w.field("amount", &self.amount)?;
        let raw = self.signed_transaction().unwrap_or_default();
        let mut hex = [0u8; 2 + 2 * MAX_SIGNED_TRANSACTION];
        let n = 2 + 2 * raw.len();
        hex[0] = b'0';
        hex[1] = b'x';
        for (pair, b) in hex[2..].chunks_exact_mut(2).zip(raw) {
            let digit = |d: u8| if d < 10 { b'0' + d } else { b'a' + d - 10 };
            if let [hi, lo] = pair {
                *hi = digit(b >> 4);
                *lo = digit(b & 15);
            }
        }
        w.str_field(
            "signedTransaction",
            JsonStr::new(
                core::str::from_utf8(hex.get(..n).unwrap_or_default()).unwrap_or_default(),
            ),
        )?;
        w.str_field("version", JsonStr::new("1"))?;
        w.end()
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;
    use crate::json::Limits;

    fn read_json(info: &str) -> Option<Result<Erc20Approval, Reason>> {
        let doc = alloc::format!(r#"{{"{ERC20_APPROVAL_GAS_SPONSORING}":{{"info":{info}}}}}"#);
        let v = crate::json::parse(doc.as_bytes(), &Limits::DEFAULT).unwrap();
        read(v.as_object().unwrap())
    }

    #[test]
    fn a_sponsor_funds_only_what_the_payer_lacks_and_only_at_its_next_nonce() {
        let key = PrivateKey::from_bytes(&[0x42; 32]).unwrap();
        let token = Address::parse("0x036cbd53842c5426634e7929541ec2318f3dcf7e").unwrap();
        // Gas limit 70,000 at a fee cap of 2 gwei (tip 1 wei): 140,000 gwei at the most.
        let a = Erc20Approval::sign(&key, token, 84532, 5, 2_000_000_000, 1);
        let required = Amount::from(10_000u64);
        let cap = 3_000_000_000;
        let base = 1_500_000_000;
        let state = |allowance: u64, pending_nonce: u64, balance: u128| PayerState {
            allowance: allowance.into(),
            pending_nonce,
            balance,
        };
        let tip = 1;
        let plan = |s: PayerState| a.sponsorship(&required, &s, base, tip, cap);
        let cost = 70_000u128 * 2_000_000_000;
        assert_eq!(plan(state(0, 5, 0)), Ok(Sponsorship::Relay { fund: cost }));
        assert_eq!(
            plan(state(0, 5, cost - 1)),
            Ok(Sponsorship::Relay { fund: 1 })
        );
        assert_eq!(
            plan(state(0, 5, cost * 3)),
            Ok(Sponsorship::Relay { fund: 0 })
        );
        // Allowed already (an earlier approval mined): nothing to send.
        assert_eq!(plan(state(10_000, 6, 0)), Ok(Sponsorship::Approved));
        // Less than the amount allowed is not enough.
        assert_eq!(
            plan(state(9_999, 5, 0)),
            Ok(Sponsorship::Relay { fund: cost })
        );
        // The nonce moved past it: in flight (or taken, which the host learns by hash).
        assert_eq!(plan(state(0, 6, 0)), Ok(Sponsorship::InFlight));
        // A nonce ahead of the payer's next one would wait in the pool.
        assert_eq!(
            plan(state(0, 4, 0)),
            Err(Reason::Erc20ApprovalTxNotSponsorable)
        );
        // A fee cap above what the sponsor pays for.
        assert_eq!(
            a.sponsorship(&required, &state(0, 5, 0), base, tip, 1_999_999_999),
            Err(Reason::Erc20ApprovalTxNotSponsorable)
        );
        // Below the base fee it would wait in the pool; above twice the base
        // fee and the chain's tip the payer would keep most of the funding.
        for base in [2_000_000_001, 999_999_998] {
            assert_eq!(
                a.sponsorship(&required, &state(0, 5, 0), base, tip, cap),
                Err(Reason::Erc20ApprovalTxNotSponsorable),
                "{base}"
            );
        }
        assert_eq!(
            a.sponsorship(&required, &state(0, 5, 0), 999_999_999, tip, cap),
            Ok(Sponsorship::Relay { fund: cost })
        );
        // The approval's own tip lifts nothing: a tip equal to its fee cap
        // is held to the same ceiling.
        let greedy = Erc20Approval::sign(&key, token, 84532, 5, 2_900_000_000, 2_900_000_000);
        assert_eq!(
            greedy.sponsorship(&required, &state(0, 5, 0), 1_000_000_000, tip, cap),
            Err(Reason::Erc20ApprovalTxNotSponsorable)
        );
        // A gas limit above the reference client's is not funded.
        let mut tx = a.transaction().unwrap().tx;
        tx.gas_limit = APPROVE_GAS_LIMIT + 1;
        let mut raw = [0u8; MAX_SIGNED_TRANSACTION];
        let n = tx.sign(&key).encode(&mut raw).unwrap();
        let heavy = Erc20Approval {
            raw,
            raw_len: Some(n),
            ..a
        };
        assert_eq!(
            heavy.sponsorship(&required, &state(0, 5, 0), base, tip, cap),
            Err(Reason::Erc20ApprovalTxNotSponsorable)
        );
    }

    #[test]
    fn a_signed_approval_reads_back_and_holds_and_each_rule_is_reached() {
        let key = PrivateKey::from_bytes(&[0x42; 32]).unwrap();
        let token = Address::parse("0x036cbd53842c5426634e7929541ec2318f3dcf7e").unwrap();
        let a = Erc20Approval::sign(&key, token, 84532, 5, 2_000_000_000, 1);
        let json = a.to_json_string();
        let back = read_json(&json).unwrap().unwrap();
        assert_eq!(back, a);
        let payer = key.address();
        assert_eq!(
            back.check(&payer, &token, 84532, &Amount::from(10_000u64)),
            Ok(())
        );
        assert_eq!(
            back.check(&token, &token, 84532, &Amount::from(10_000u64)),
            Err(Reason::Erc20ApprovalFromMismatch)
        );
        assert_eq!(
            back.check(&payer, &payer, 84532, &Amount::from(10_000u64)),
            Err(Reason::Erc20ApprovalAssetMismatch)
        );
        assert_eq!(
            back.check(&payer, &token, 1, &Amount::from(10_000u64)),
            Err(Reason::Erc20ApprovalTxNotSponsorable)
        );
        let other = PrivateKey::from_bytes(&[0x43; 32]).unwrap();
        let mut theirs = Erc20Approval::sign(&other, token, 84532, 5, 2_000_000_000, 1);
        theirs.from = payer;
        assert_eq!(
            theirs.check(&payer, &token, 84532, &Amount::from(10_000u64)),
            Err(Reason::Erc20ApprovalTxSignerMismatch)
        );
        let mut cut = a;
        cut.raw_len = a.raw_len.map(|n| n - 1);
        assert_eq!(
            cut.check(&payer, &token, 84532, &Amount::from(10_000u64)),
            Err(Reason::Erc20ApprovalTxParseFailed)
        );
        for (k, v) in [
            ("from", "\"0x1234\""),
            ("amount", "\"-1\""),
            ("signedTransaction", "\"02f8\""),
            ("signedTransaction", "\"0xzz\""),
            ("version", "\"v1\""),
            ("asset", "7"),
        ] {
            let mut i: serde_json::Value = serde_json::from_str(&json).unwrap();
            i[k] = serde_json::from_str(v).unwrap();
            assert_eq!(
                read_json(&i.to_string()),
                Some(Err(Reason::InvalidErc20ApprovalExtensionFormat)),
                "{k} = {v}"
            );
        }
        let mut i: serde_json::Value = serde_json::from_str(&json).unwrap();
        i.as_object_mut().unwrap().remove("signedTransaction");
        assert_eq!(read_json(&i.to_string()), None);
        // What could only fail after its gas was paid for.
        let custom = |gas: u64, tip: u128, fee: u128, amount: Amount| {
            let mut data = [0u8; 68];
            data[..4].copy_from_slice(&APPROVE_SELECTOR);
            data[16..36].copy_from_slice(&PERMIT2_ADDRESS.0);
            data[36..].copy_from_slice(&amount.to_be_bytes());
            let signed = Eip1559Transaction {
                chain_id: 84532,
                nonce: 0,
                max_priority_fee_per_gas: tip,
                max_fee_per_gas: fee,
                gas_limit: gas,
                to: Some(token),
                value: Amount::ZERO,
                data: &data,
            }
            .sign(&key);
            let mut c = a;
            c.raw_len = signed.encode(&mut c.raw).ok();
            c.check(&payer, &token, 84532, &Amount::from(10_000u64))
        };
        assert_eq!(
            custom(APPROVE_GAS_LIMIT, 1, 2, Amount::from(10_000u64)),
            Ok(())
        );
        for (gas, tip, fee, amount) in [
            (APPROVE_GAS_LIMIT, 1, 2, Amount::from(9_999u64)),
            (MAX_APPROVE_GAS_LIMIT + 1, 1, 2, Amount::MAX),
            (APPROVE_GAS_LIMIT, 3, 2, Amount::MAX),
        ] {
            assert_eq!(
                custom(gas, tip, fee, amount),
                Err(Reason::Erc20ApprovalTxNotSponsorable),
                "{gas} {tip} {fee} {amount:?}"
            );
        }
        // Odd hex passes the pattern and fails to parse, at its turn.
        i["signedTransaction"] = serde_json::json!("0x02f");
        let odd = read_json(&i.to_string()).unwrap().unwrap();
        assert_eq!(
            odd.check(&payer, &token, 84532, &Amount::from(10_000u64)),
            Err(Reason::Erc20ApprovalTxParseFailed)
        );
    }
}
