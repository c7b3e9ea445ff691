//! What a resource server asks a facilitator to settle, beyond deposits: a
//! batch of voucher claims (`type: "claim"`), a sweep of claimed funds to the
//! receiver (`type: "settle"`), and a cooperative refund enriched with its
//! nonce, the claims to apply first and the receiver authorizer's signatures
//! (`type: "refund"` with `refundNonce` and `claims`), as `@x402/evm` 2.27's
//! server sends them to `/settle`.
//!
//! Parsing is as strict as [`super::types`]: the payloads are read without
//! allocation; a claim batch is kept as its JSON array and read row by row
//! ([`Claims::rows`]). The refund's arithmetic ([`refundable`],
//! [`refund_outcome`]) is the reference facilitator's; [`may_sign_refund`]
//! is the rule by which a facilitator that is the receiver authorizer signs
//! refunds.

use crate::amount::Amount;
use crate::error::{Error, ErrorKind, Reason};
use crate::evm::{Address, B256};
use crate::json::{
    JsonArray, JsonObject, JsonStr, JsonValue, ObjectWriter, Sink, SinkFull, ToJson,
};
use crate::types::payload::hex_string;
use crate::types::{address, err, fields, object, required, string, uint_string};

use super::reason::BatchReason;
use super::types::{ChannelConfig, ChannelState, ChannelStateExtra, DepositPayload};
use super::types::{Voucher, fits_u128};
use super::verify::{Config, check_voucher};
use super::{ClaimEntry, channel_id};

const R: Reason = Reason::InvalidPayload;

/// The most claims one payload may carry (the reference has no bound; a
/// `claimWithSignature` of this many channels stays far below a block's gas).
pub const MAX_CLAIMS: usize = 256;

fn u128_field(v: JsonValue<'_>, field: &'static str) -> Result<Amount, Error> {
    let a = uint_string(v, R, field)?;
    if !fits_u128(&a) {
        return Err(err(R, ErrorKind::Invalid("larger than uint128"), field));
    }
    Ok(a)
}

/// One channel's claim: `{voucher: {channel, maxClaimableAmount}, signature,
/// totalClaimed}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClaimRow<'a> {
    /// The channel's configuration.
    pub channel: ChannelConfig,
    /// The voucher's ceiling.
    pub max_claimable_amount: Amount,
    /// The voucher's signature (`0x` + hex).
    pub signature: JsonStr<'a>,
    /// The channel's claimed total after this claim.
    pub total_claimed: Amount,
}

impl<'a> ClaimRow<'a> {
    /// Reads one element of `claims`.
    ///
    /// # Errors
    /// `invalid_payload` naming the field.
    pub fn from_json(v: JsonValue<'a>) -> Result<ClaimRow<'a>, Error> {
        let o = object(v, R, "claims")?;
        let [voucher, sig, total] = fields(o, &["voucher", "signature", "totalClaimed"]);
        let read = || -> Result<ClaimRow<'a>, Error> {
            let vo = object(required(voucher, R, "voucher")?, R, "voucher")?;
            let [channel, max] = fields(vo, &["channel", "maxClaimableAmount"]);
            let channel = ChannelConfig::from_json(required(channel, R, "channel")?)
                .map_err(|e| e.in_object("voucher"))?;
            let max_claimable_amount = u128_field(
                required(max, R, "maxClaimableAmount")?,
                "maxClaimableAmount",
            )
            .map_err(|e| e.in_object("voucher"))?;
            let total_claimed = u128_field(required(total, R, "totalClaimed")?, "totalClaimed")?;
            if total_claimed > max_claimable_amount {
                return Err(err(
                    R,
                    ErrorKind::Invalid("above the voucher's maxClaimableAmount"),
                    "totalClaimed",
                ));
            }
            Ok(ClaimRow {
                channel,
                max_claimable_amount,
                signature: hex_string(required(sig, R, "signature")?, "signature")?,
                total_claimed,
            })
        };
        read().map_err(|e| e.in_object("claims"))
    }

    /// The row as the receiver authorizer signs it, on chain `chain_id`.
    #[must_use]
    pub fn entry(&self, chain_id: u64) -> ClaimEntry {
        ClaimEntry {
            channel_id: channel_id(&self.channel, chain_id),
            max_claimable_amount: self.max_claimable_amount,
            total_claimed: self.total_claimed,
        }
    }
}

/// The row as `claims` carries it (what [`ClaimRow::from_json`] reads).
impl ToJson for ClaimRow<'_> {
    fn write_json(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        let mut row = ObjectWriter::new(out)?;
        row.key(JsonStr::new("voucher"))?;
        let mut voucher = ObjectWriter::new(row.sink())?;
        voucher.field("channel", &self.channel)?;
        voucher.field("maxClaimableAmount", &self.max_claimable_amount)?;
        voucher.end()?;
        row.str_field("signature", self.signature)?;
        row.field("totalClaimed", &self.total_claimed)?;
        row.end()
    }
}

/// A claim batch, read row by row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Claims<'a> {
    array: JsonArray<'a>,
    len: usize,
}

impl<'a> Claims<'a> {
    fn from_json(v: JsonValue<'a>, allow_empty: bool) -> Result<Claims<'a>, Error> {
        let array = v.as_array().ok_or(err(
            R,
            ErrorKind::WrongType {
                expected: crate::error::JsonType::Array,
            },
            "claims",
        ))?;
        let mut len = 0usize;
        for e in array.iter() {
            ClaimRow::from_json(e)?;
            len += 1;
            if len > MAX_CLAIMS {
                return Err(err(R, ErrorKind::Invalid("more than 256 claims"), "claims"));
            }
        }
        if len == 0 && !allow_empty {
            return Err(err(R, ErrorKind::Invalid("empty"), "claims"));
        }
        Ok(Claims { array, len })
    }

    /// The rows (each was read once already: none fails).
    pub fn rows(&self) -> impl Iterator<Item = ClaimRow<'a>> + 'a {
        self.array
            .iter()
            .filter_map(|e| ClaimRow::from_json(e).ok())
    }

    /// How many rows.
    #[must_use]
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Whether there are none.
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// `{type: "claim", claims, claimAuthorizerSignature?}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClaimPayload<'a> {
    /// The claims (at least one).
    pub claims: Claims<'a>,
    /// The receiver authorizer's `ClaimBatch` signature; absent: the
    /// facilitator signs, if it is the channels' receiver authorizer.
    pub claim_authorizer_signature: Option<JsonStr<'a>>,
}

/// `{type: "settle", receiver, token}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SettlePayload {
    /// Who is paid.
    pub receiver: Address,
    /// The token.
    pub token: Address,
}

/// The payload as a resource server sends it: `{"type":"settle","receiver","token"}`.
impl ToJson for SettlePayload {
    fn write_json(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        let mut w = ObjectWriter::new(out)?;
        w.str_field("type", JsonStr::new("settle"))?;
        w.field("receiver", &self.receiver)?;
        w.field("token", &self.token)?;
        w.end()
    }
}

/// `{type: "refund", channelConfig, voucher, amount, refundNonce, claims,
/// refundAuthorizerSignature?, claimAuthorizerSignature?}`: the server's
/// refund, with the claims to apply first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RefundSettlement<'a> {
    /// The channel.
    pub channel_config: ChannelConfig,
    /// The payer's latest voucher.
    pub voucher: Voucher<'a>,
    /// How much is asked back (positive).
    pub amount: Amount,
    /// The channel's refund nonce the signature binds.
    pub refund_nonce: Amount,
    /// Claims applied before the refund, in one `multicall`.
    pub claims: Claims<'a>,
    /// The receiver authorizer's `Refund` signature, if the server made it.
    pub refund_authorizer_signature: Option<JsonStr<'a>>,
    /// The receiver authorizer's `ClaimBatch` signature of `claims`.
    pub claim_authorizer_signature: Option<JsonStr<'a>>,
}

/// What `/settle` is asked to do.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SettleAction<'a> {
    /// Fund (or top up) a channel.
    Deposit(DepositPayload<'a>),
    /// Claim vouchers.
    Claim(ClaimPayload<'a>),
    /// Sweep claimed funds to the receiver.
    Settle(SettlePayload),
    /// Refund what is left of a channel.
    Refund(RefundSettlement<'a>),
}

fn optional_sig<'a>(
    v: Option<JsonValue<'a>>,
    field: &'static str,
) -> Result<Option<JsonStr<'a>>, Error> {
    v.map(|v| hex_string(v, field)).transpose()
}

impl<'a> SettleAction<'a> {
    /// Reads a payload sent to `/settle`; `None` when its `type` names none
    /// of the four (`deposit`; `claim`; `settle`; `refund` with
    /// `refundNonce` and `claims`): the reference answers
    /// `invalid_batch_settlement_evm_payload_type`.
    ///
    /// # Errors
    /// `invalid_payload` naming the field.
    pub fn from_json(v: JsonValue<'a>) -> Result<Option<SettleAction<'a>>, Error> {
        let o = object(v, R, "payload")?;
        let read = || -> Result<Option<SettleAction<'a>>, Error> {
            let t = match o.get("type").and_then(|t| t.as_str()) {
                Some(t) => t,
                None => return Ok(None),
            };
            if t == "deposit" {
                return match super::types::BatchPayload::from_json(v)? {
                    super::types::BatchPayload::Deposit(d) => Ok(Some(SettleAction::Deposit(d))),
                    _ => Ok(None),
                };
            }
            if t == "claim" {
                let [claims, sig] = fields(o, &["claims", "claimAuthorizerSignature"]);
                return Ok(Some(SettleAction::Claim(ClaimPayload {
                    claims: Claims::from_json(required(claims, R, "claims")?, false)?,
                    claim_authorizer_signature: optional_sig(sig, "claimAuthorizerSignature")?,
                })));
            }
            if t == "settle" {
                let [receiver, token] = fields(o, &["receiver", "token"]);
                return Ok(Some(SettleAction::Settle(SettlePayload {
                    receiver: address(required(receiver, R, "receiver")?, R, "receiver")?,
                    token: address(required(token, R, "token")?, R, "token")?,
                })));
            }
            if t == "refund" {
                return refund(o).map(|r| r.map(SettleAction::Refund));
            }
            Ok(None)
        };
        read().map_err(|e| e.in_object("payload"))
    }
}

fn refund(o: JsonObject<'_>) -> Result<Option<RefundSettlement<'_>>, Error> {
    let [cc, voucher, amount, nonce, claims, rsig, csig] = fields(
        o,
        &[
            "channelConfig",
            "voucher",
            "amount",
            "refundNonce",
            "claims",
            "refundAuthorizerSignature",
            "claimAuthorizerSignature",
        ],
    );
    // The reference takes a refund to settlement only with these three.
    let (Some(amount), Some(nonce), Some(claims)) = (amount, nonce, claims) else {
        return Ok(None);
    };
    let amount = u128_field(amount, "amount")?;
    if amount.is_zero() {
        return Err(err(R, ErrorKind::Invalid("must be positive"), "amount"));
    }
    string(nonce, R, "refundNonce")?;
    Ok(Some(RefundSettlement {
        channel_config: ChannelConfig::from_json(required(cc, R, "channelConfig")?)?,
        voucher: Voucher::from_json(required(voucher, R, "voucher")?)?,
        amount,
        refund_nonce: uint_string(nonce, R, "refundNonce")?,
        claims: Claims::from_json(claims, true)?,
        refund_authorizer_signature: optional_sig(rsig, "refundAuthorizerSignature")?,
        claim_authorizer_signature: optional_sig(csig, "claimAuthorizerSignature")?,
    }))
}

impl RefundSettlement<'_> {
    /// The channel's claimed total once `claims` are applied: the largest
    /// of its rows' totals and the state's.
    #[must_use]
    pub fn claimed_after(&self, chain_id: u64, state: &ChannelState) -> Amount {
        let id = channel_id(&self.channel_config, chain_id);
        self.claims
            .rows()
            .filter(|r| channel_id(&r.channel, chain_id) == id)
            .map(|r| r.total_claimed)
            .fold(state.total_claimed, |a, b| if b > a { b } else { a })
    }
}

/// What a refund can pay out of the channel (`state`, read before it): the
/// amount asked, capped at the balance left once the claims are applied.
/// `Some(0)`: nothing is left (`invalid_batch_settlement_evm_refund_no_balance`);
/// `None` when the claims would exceed the balance (the contract will refuse
/// the claim: left to the simulation, as the reference does).
#[must_use]
pub fn refundable(r: &RefundSettlement<'_>, chain_id: u64, state: &ChannelState) -> Option<Amount> {
    let claimed = r.claimed_after(chain_id, state);
    let available = state.balance.checked_sub(&claimed)?;
    Some(if r.amount > available {
        available
    } else {
        r.amount
    })
}

/// Why the receiver authorizer may not sign a refund ([`may_sign_refund`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefundRefusal {
    /// The refund's voucher is not the payer's for this channel: it names
    /// another channel, or its signature does not recover to the channel's
    /// payer authorizer (the payer, when it has none).
    VoucherNotThePayers,
    /// What the payer's voucher says was charged (this amount, its
    /// `maxClaimableAmount`) is not claimed first, by the refund's claims or
    /// before.
    ChargedNotClaimed(Amount),
}

impl RefundRefusal {
    /// The reason answered: `invalid_batch_settlement_evm_voucher_signature`
    /// or `invalid_batch_settlement_evm_refund_payload`.
    #[must_use]
    pub const fn reason(&self) -> BatchReason {
        match self {
            RefundRefusal::VoucherNotThePayers => BatchReason::InvalidVoucherSignature,
            RefundRefusal::ChargedNotClaimed(_) => BatchReason::RefundPayload,
        }
    }
}

impl core::fmt::Display for RefundRefusal {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            RefundRefusal::VoucherNotThePayers => {
                f.write_str("the refund's voucher is not the payer's for this channel")
            }
            RefundRefusal::ChargedNotClaimed(charged) => write!(
                f,
                "the payer's voucher says {charged} was charged: a refund signed here claims it first"
            ),
        }
    }
}

/// Whether a facilitator that is the channel's receiver authorizer may sign
/// the refund `r` itself: only when its voucher is the payer's for the
/// refund's channel (a 65-byte ECDSA signature: a smart wallet's is not
/// checked here), and what that voucher says was charged is claimed first —
/// by the refund's claims, or before (`state`, the channel as read before
/// the refund) — so that a refund never gives the payer back what the
/// receiver charged and has not claimed.
///
/// # Errors
/// The first rule broken.
pub fn may_sign_refund(
    r: &RefundSettlement<'_>,
    chain_id: u64,
    state: &ChannelState,
) -> Result<(), RefundRefusal> {
    let config = &r.channel_config;
    let ecdsa_only = Config {
        smart_wallets: false,
    };
    let payers = r.voucher.channel_id == channel_id(config, chain_id)
        && check_voucher(config, &r.voucher, chain_id, &ecdsa_only) == Ok(None);
    if !payers {
        return Err(RefundRefusal::VoucherNotThePayers);
    }
    let charged = r.voucher.max_claimable_amount;
    if r.claimed_after(chain_id, state) < charged {
        return Err(RefundRefusal::ChargedNotClaimed(charged));
    }
    Ok(())
}

/// A refund's payment-response `amount` and `extra.channelState`, from the
/// channel's state before and after it (as read once it is mined).
#[must_use]
pub fn refund_outcome(
    channel_id: B256,
    before: &ChannelState,
    after: &ChannelState,
) -> (Amount, ChannelStateExtra) {
    let refunded = before
        .balance
        .checked_sub(&after.balance)
        .unwrap_or_default();
    (refunded, ChannelStateExtra::of(channel_id, after, None))
}

/// A deposit's payment-response `extra.channelState`, from the state read
/// once it is mined.
#[must_use]
pub fn deposit_outcome(channel_id: B256, after: &ChannelState) -> ChannelStateExtra {
    ChannelStateExtra::of(channel_id, after, None)
}

/// Room for [`deposit_calldata`]: a Permit2 deposit, the longer of the two.
pub const DEPOSIT_CALL_MAX: usize =
    super::abi::deposit_len(super::abi::permit2_collector_data_len(65, 0));

/// Whether a deposit goes through Permit2 (else EIP-3009): the requirements'
/// `extra.assetTransferMethod`, else whichever authorization it carries, as
/// the reference decides.
#[must_use]
pub fn uses_permit2(d: &DepositPayload<'_>, extra: &super::types::BatchExtra<'_>) -> bool {
    match extra.asset_transfer_method {
        Some(m) if !m.is_empty() => m == "permit2",
        _ => d.deposit.authorization.permit2.is_some(),
    }
}

/// The contract's `deposit(config, amount, collector, collectorData)` call
/// for a deposit verified with 65-byte ECDSA authorization signatures (the
/// collector's data carries the signature as the contract takes it, `v` 27
/// or 28), written into `out`. `None` when the deposit lacks the
/// authorization of its method or its signature is not a 65-byte one.
#[must_use]
pub fn deposit_calldata<'o>(
    d: &DepositPayload<'_>,
    permit2: bool,
    out: &'o mut [u8; DEPOSIT_CALL_MAX],
) -> Option<&'o [u8]> {
    use super::abi;
    let sig = |t: JsonStr<'_>| {
        crate::evm::Signature::parse_hex(t)
            .ok()
            .map(|s| s.to_bytes())
    };
    let mut data = [0u8; abi::permit2_collector_data_len(65, 0)];
    let auth = &d.deposit.authorization;
    let (collector, n) = if permit2 {
        let p = auth.permit2.as_ref()?;
        let s = sig(p.signature)?;
        let n = abi::permit2_collector_data(&p.nonce, &p.deadline, &s, &[], &mut data).ok()?;
        (super::PERMIT2_DEPOSIT_COLLECTOR_ADDRESS, n)
    } else {
        let e = auth.erc3009.as_ref()?;
        let s = sig(e.signature)?;
        let n =
            abi::erc3009_collector_data(&e.valid_after, &e.valid_before, &e.salt, &s, &mut data)
                .ok()?;
        (super::ERC3009_DEPOSIT_COLLECTOR_ADDRESS, n)
    };
    let len = abi::deposit(
        &d.channel_config,
        &d.deposit.amount,
        &collector,
        data.get(..n)?,
        out,
    )
    .ok()?;
    out.get(..len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::{Limits, parse};

    const CC: &str = r#"{"payer":"0x1111111111111111111111111111111111111111","payerAuthorizer":"0x0000000000000000000000000000000000000000","receiver":"0x2222222222222222222222222222222222222222","receiverAuthorizer":"0x3333333333333333333333333333333333333333","token":"0x4444444444444444444444444444444444444444","withdrawDelay":900,"salt":"0x0000000000000000000000000000000000000000000000000000000000000001"}"#;

    fn claim_row(max: &str, total: &str) -> String {
        format!(
            r#"{{"voucher":{{"channel":{CC},"maxClaimableAmount":"{max}"}},"signature":"0x{}","totalClaimed":"{total}"}}"#,
            "ab".repeat(65)
        )
    }

    fn action(json: &str) -> Result<Option<SettleAction<'_>>, Error> {
        let limits = Limits {
            max_len: 1 << 20,
            ..Limits::DEFAULT
        };
        SettleAction::from_json(parse(json.as_bytes(), &limits).unwrap())
    }

    #[test]
    fn reads_the_three_settlement_payloads() {
        let claim = format!(
            r#"{{"type":"claim","claims":[{},{}]}}"#,
            claim_row("100", "100"),
            claim_row("50", "40")
        );
        let Some(SettleAction::Claim(c)) = action(&claim).unwrap() else {
            panic!("a claim")
        };
        assert_eq!(c.claims.len(), 2);
        assert!(c.claim_authorizer_signature.is_none());
        let totals: Vec<_> = c.claims.rows().map(|r| r.total_claimed).collect();
        assert_eq!(totals, [Amount::from(100u64), Amount::from(40u64)]);

        let settle = r#"{"type":"settle","receiver":"0x2222222222222222222222222222222222222222","token":"0x4444444444444444444444444444444444444444"}"#;
        assert!(matches!(action(settle), Ok(Some(SettleAction::Settle(_)))));

        let v = format!(
            r#"{{"channelId":"0x{}","maxClaimableAmount":"30","signature":"0x{}"}}"#,
            "00".repeat(32),
            "ab".repeat(65)
        );
        let refund = format!(
            r#"{{"type":"refund","channelConfig":{CC},"voucher":{v},"amount":"70","refundNonce":"0","claims":[{}]}}"#,
            claim_row("30", "30")
        );
        let Some(SettleAction::Refund(r)) = action(&refund).unwrap() else {
            panic!("a refund")
        };
        let state = ChannelState {
            balance: Amount::from(100u64),
            total_claimed: Amount::from(10u64),
            ..ChannelState::default()
        };
        assert_eq!(r.claimed_after(84532, &state), Amount::from(30u64));
        assert_eq!(refundable(&r, 84532, &state), Some(Amount::from(70u64)));
        let less = ChannelState {
            balance: Amount::from(60u64),
            ..state
        };
        assert_eq!(refundable(&r, 84532, &less), Some(Amount::from(30u64)));
        let spent = ChannelState {
            balance: Amount::from(30u64),
            ..state
        };
        assert_eq!(refundable(&r, 84532, &spent), Some(Amount::ZERO));
        let over = ChannelState {
            balance: Amount::from(20u64),
            ..state
        };
        assert_eq!(refundable(&r, 84532, &over), None);

        // A voucher refund without the server's enrichment is not for /settle.
        let plain = format!(r#"{{"type":"refund","channelConfig":{CC},"voucher":{v}}}"#);
        assert_eq!(action(&plain), Ok(None));
        assert_eq!(action(r#"{"type":"other"}"#), Ok(None));
    }

    #[test]
    fn the_receiver_authorizer_signs_a_refund_of_the_payers_voucher_claimed_first() {
        use super::super::client::sign_voucher;
        use crate::evm::PrivateKey;
        use crate::json::ToJson;
        let chain_id = 84532;
        let payer = PrivateKey::from_bytes(&[1; 32]).unwrap();
        let other = PrivateKey::from_bytes(&[2; 32]).unwrap();
        let cc = ChannelConfig {
            payer: payer.address(),
            payer_authorizer: payer.address(),
            receiver: Address([0x22; 20]),
            receiver_authorizer: Address([0x33; 20]),
            token: Address([0x44; 20]),
            withdraw_delay: 900,
            salt: B256([1; 32]),
        };
        let id = channel_id(&cc, chain_id);
        let charged = Amount::from(30u64);
        let cc_json = cc.to_json_string();
        // A refund of the channel with `voucher` (by `key`, of `channel`),
        // applying a claim of `claimed` first, if any.
        let refund = |key: &PrivateKey, channel: B256, claimed: Option<&str>| {
            let v = sign_voucher(key, chain_id, channel, charged).unwrap();
            let sig = v.signature.to_hex();
            let claims = claimed.map(|total| {
                format!(
                    r#"{{"voucher":{{"channel":{cc_json},"maxClaimableAmount":"30"}},"signature":"{}","totalClaimed":"{total}"}}"#,
                    sig.as_str()
                )
            });
            format!(
                r#"{{"type":"refund","channelConfig":{cc_json},"voucher":{{"channelId":"{channel}","maxClaimableAmount":"30","signature":"{}"}},"amount":"70","refundNonce":"0","claims":[{}]}}"#,
                sig.as_str(),
                claims.unwrap_or_default()
            )
        };
        let judge = |json: &str, state: &ChannelState| {
            let Some(SettleAction::Refund(r)) = action(json).unwrap() else {
                panic!("a refund")
            };
            may_sign_refund(&r, chain_id, state)
        };
        let state = ChannelState {
            balance: Amount::from(100u64),
            total_claimed: Amount::from(10u64),
            ..ChannelState::default()
        };
        assert_eq!(judge(&refund(&payer, id, Some("30")), &state), Ok(()));
        // Claimed before: nothing to claim first.
        let claimed = ChannelState {
            total_claimed: charged,
            ..state
        };
        assert_eq!(judge(&refund(&payer, id, None), &claimed), Ok(()));

        for forged in [
            refund(&other, id, Some("30")),
            refund(&payer, B256([9; 32]), Some("30")),
        ] {
            let refused = judge(&forged, &state).unwrap_err();
            assert_eq!(refused, RefundRefusal::VoucherNotThePayers);
            assert_eq!(refused.reason(), BatchReason::InvalidVoucherSignature);
        }

        for unclaimed in [refund(&payer, id, None), refund(&payer, id, Some("20"))] {
            let refused = judge(&unclaimed, &state).unwrap_err();
            assert_eq!(refused, RefundRefusal::ChargedNotClaimed(charged));
            assert_eq!(refused.reason(), BatchReason::RefundPayload);
            assert_eq!(
                refused.to_string(),
                "the payer's voucher says 30 was charged: a refund signed here claims it first"
            );
        }
    }

    #[test]
    fn refuses_malformed_settlement_payloads_naming_the_field() {
        let cases = [
            (r#"{"type":"claim","claims":[]}"#.to_string(), "claims"),
            (r#"{"type":"claim","claims":{}}"#.to_string(), "claims"),
            (
                format!(
                    r#"{{"type":"claim","claims":[{}]}}"#,
                    claim_row("10", "11")
                ),
                "totalClaimed",
            ),
            (
                format!(
                    r#"{{"type":"claim","claims":[{}]}}"#,
                    claim_row("340282366920938463463374607431768211456", "1")
                ),
                "maxClaimableAmount",
            ),
            (
                format!(
                    r#"{{"type":"claim","claims":[{}],"claimAuthorizerSignature":"xyz"}}"#,
                    claim_row("10", "1")
                ),
                "claimAuthorizerSignature",
            ),
            (
                r#"{"type":"settle","receiver":"0x22","token":"0x4444444444444444444444444444444444444444"}"#
                    .to_string(),
                "receiver",
            ),
        ];
        for (json, field) in cases {
            let e = action(&json).unwrap_err();
            assert_eq!(e.reason(), Reason::InvalidPayload, "{json}");
            assert_eq!(e.field(), field, "{json}");
        }
        let many = format!(
            r#"{{"type":"claim","claims":[{}]}}"#,
            vec![claim_row("1", "1"); MAX_CLAIMS + 1].join(",")
        );
        assert_eq!(action(&many).unwrap_err().field(), "claims");
    }
}
