//! The `eip2612GasSponsoring` extension: a Permit2 payer whose token has no
//! allowance for Permit2 yet signs an EIP-2612 `permit(owner, Permit2, value,
//! deadline)` too, and the facilitator sends both in one transaction (the x402
//! proxy's `settleWithPermit`), paying the gas of the approval.
//!
//! The server (its facilitator) declares `extensions.eip2612GasSponsoring`;
//! the client echoes it with `info = {from, asset, spender, amount, nonce,
//! deadline, signature, version}`. [`read`] takes the info from a payment's
//! `extensions` as the reference does (an info missing a member is no
//! extension at all; a member of the wrong form is
//! `invalid_eip2612_extension_format`), and [`Eip2612Permit::check`] applies
//! the reference's offline rules. Whether the token implements EIP-2612, and
//! whether the permit's nonce is the payer's current one, only the chain can
//! tell: the simulation of `settleWithPermit` says.
//!
//! ```
//! use paywire::gas_sponsoring::{permit_digest, PERMIT_TYPEHASH};
//! use paywire::evm::eip712::Domain;
//! use paywire::evm::Address;
//! use paywire::json::JsonStr;
//! let token = Address::parse("0x036cbd53842c5426634e7929541ec2318f3dcf7e").unwrap();
//! let domain = Domain::eip3009(JsonStr::new("USDC"), JsonStr::new("2"), 84532, token);
//! let owner = Address::parse("0x857b06519e91e3a54538791bdbb0e22373e36b66").unwrap();
//! let d = permit_digest(&domain, &owner, &paywire::evm::eip712::PERMIT2_ADDRESS, &1u64.into(), &0u64.into(), &2u64.into());
//! assert_eq!(d.len(), 32);
//! assert_eq!(PERMIT_TYPEHASH[0], 0x6e);
//! ```

#[cfg(feature = "erc20-approval")]
pub mod erc20_approval;
#[cfg(feature = "sponsored-payer")]
#[cfg_attr(docsrs, doc(cfg(feature = "sponsored-payer")))]
pub mod payer;

use crate::amount::Amount;
use crate::error::Reason;
use crate::evm::PrivateKey;
use crate::evm::eip712::{Domain, PERMIT2_ADDRESS, digest};
use crate::evm::{Address, keccak256_concat};
use crate::json::{JsonObject, JsonStr, ObjectWriter, Sink, SinkFull, ToJson};

/// The extension's key in `extensions`.
pub const EIP2612_GAS_SPONSORING: &str = "eip2612GasSponsoring";

/// EIP-2612's `Permit` struct type.
pub const PERMIT_TYPE: &str =
    "Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)";

/// keccak256 of [`PERMIT_TYPE`].
pub const PERMIT_TYPEHASH: [u8; 32] = [
    0x6e, 0x71, 0xed, 0xae, 0x12, 0xb1, 0xb9, 0x7f, 0x4d, 0x1f, 0x60, 0x37, 0x0f, 0xef, 0x10, 0x10,
    0x5f, 0xa2, 0xfa, 0xae, 0x01, 0x26, 0x11, 0x4a, 0x16, 0x9c, 0x64, 0x84, 0x5d, 0x61, 0x26, 0xc9,
];

/// The EIP-712 digest of `Permit(owner, spender, value, nonce, deadline)`
/// under the token's `domain` (its name, version, chain and address).
#[must_use]
pub fn permit_digest(
    domain: &Domain<'_>,
    owner: &Address,
    spender: &Address,
    value: &Amount,
    nonce: &Amount,
    deadline: &Amount,
) -> [u8; 32] {
    let struct_hash = keccak256_concat(&[
        &PERMIT_TYPEHASH,
        &owner.to_word(),
        &spender.to_word(),
        &value.to_be_bytes(),
        &nonce.to_be_bytes(),
        &deadline.to_be_bytes(),
    ]);
    digest(&domain.separator(), &struct_hash)
}

/// A payment's EIP-2612 permit for Permit2, as the extension's `info` gives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Eip2612Permit {
    /// The owner who signed it.
    pub from: Address,
    /// The token.
    pub asset: Address,
    /// The spender it approves (Permit2).
    pub spender: Address,
    /// The allowance it sets.
    pub amount: Amount,
    /// The owner's permit nonce on the token.
    pub nonce: Amount,
    /// Until when it may be used (unix seconds).
    pub deadline: Amount,
    /// `r`, `s`, `v`.
    pub signature: [u8; 65],
}

/// The permit in a payment's `extensions`: `None` when there is none (or its
/// `info` lacks a member, which the reference also reads as none);
/// `Some(Err(..))` when a member is not of the extension's form, or the
/// signature is not 65 bytes (stricter than the reference, which learns that
/// from a failing simulation). Always `None` without the `gas-sponsoring`
/// feature.
#[cfg(not(feature = "gas-sponsoring"))]
#[must_use]
pub fn read(extensions: JsonObject<'_>) -> Option<Result<Eip2612Permit, Reason>> {
    let _ = extensions;
    None
}

/// The permit in a payment's `extensions` (see the build without the
/// `gas-sponsoring` feature).
#[cfg(feature = "gas-sponsoring")]
#[must_use]
pub fn read(extensions: JsonObject<'_>) -> Option<Result<Eip2612Permit, Reason>> {
    let info = extensions
        .get(EIP2612_GAS_SPONSORING)?
        .as_object()?
        .get("info")?
        .as_object()?;
    let names = [
        "from",
        "asset",
        "spender",
        "amount",
        "nonce",
        "deadline",
        "signature",
        "version",
    ];
    let mut texts = [""; 8];
    for (name, slot) in names.iter().zip(texts.iter_mut()) {
        let v = info.get(name)?;
        // Falsy in JavaScript: no extension, as the reference reads it.
        if v.is_null() || v.as_bool() == Some(false) || v.raw() == "0" {
            return None;
        }
        match v.as_str().map(|s| s.as_str()) {
            Some(Some("")) => return None,
            Some(Some(t)) => *slot = t,
            _ => return Some(Err(Reason::InvalidEip2612ExtensionFormat)),
        }
    }
    let [
        from,
        asset,
        spender,
        amount,
        nonce,
        deadline,
        signature,
        version,
    ] = texts;
    Some(
        (|| {
            let permit = Eip2612Permit {
                from: address(from)?,
                asset: address(asset)?,
                spender: address(spender)?,
                amount: number(amount)?,
                nonce: number(nonce)?,
                deadline: number(deadline)?,
                signature: sig65(signature)?,
            };
            version_form(version)?;
            Some(permit)
        })()
        .ok_or(Reason::InvalidEip2612ExtensionFormat),
    )
}

impl Eip2612Permit {
    /// The reference's offline rules, in its order: `from` is the payer,
    /// `asset` the payment's token, `spender` Permit2, and the deadline at
    /// least 6 seconds away.
    ///
    /// # Errors
    /// `eip2612_from_mismatch`, `eip2612_asset_mismatch`,
    /// `eip2612_spender_not_permit2` or `eip2612_deadline_expired`.
    pub fn check(&self, payer: &Address, token: &Address, now: u64) -> Result<(), Reason> {
        if self.from != *payer {
            return Err(Reason::Eip2612FromMismatch);
        }
        if self.asset != *token {
            return Err(Reason::Eip2612AssetMismatch);
        }
        if self.spender != PERMIT2_ADDRESS {
            return Err(Reason::Eip2612SpenderNotPermit2);
        }
        if self.deadline < Amount::from(now.saturating_add(6)) {
            return Err(Reason::Eip2612DeadlineExpired);
        }
        Ok(())
    }
}

impl Eip2612Permit {
    /// The owner `key`'s permit for Permit2 to spend `amount` of `token`
    /// (whose EIP-712 domain is `domain`), with the owner's current permit
    /// `nonce` on the token (its `nonces(owner)`, which only the chain knows),
    /// until `deadline`.
    #[must_use]
    pub fn sign(
        key: &PrivateKey,
        domain: &Domain<'_>,
        token: Address,
        amount: Amount,
        nonce: Amount,
        deadline: Amount,
    ) -> Eip2612Permit {
        let from = key.address();
        let d = permit_digest(domain, &from, &PERMIT2_ADDRESS, &amount, &nonce, &deadline);
        Eip2612Permit {
            from,
            asset: token,
            spender: PERMIT2_ADDRESS,
            amount,
            nonce,
            deadline,
            signature: key.sign_digest(&d).to_bytes(),
        }
    }
}

impl ToJson for Eip2612Permit {
    /// The extension's `info`: `{from, asset, spender, amount, nonce,
    /// deadline, signature, version: "1"}`.
    fn write_json(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        let mut w = ObjectWriter::new(out)?;
        w.field("from", &self.from)?;
        w.field("asset", &self.asset)?;
        w.field("spender", &self.spender)?;
        w.field("amount", &self.amount)?;
        w.field("nonce", &self.nonce)?;
        w.field("deadline", &self.deadline)?;
        let mut hex = [0u8; 132];
        hex[0] = b'0';
        hex[1] = b'x';
        for (pair, b) in hex[2..].chunks_exact_mut(2).zip(self.signature) {
            let digit = |d: u8| if d < 10 { b'0' + d } else { b'a' + d - 10 };
            if let [hi, lo] = pair {
                *hi = digit(b >> 4);
                *lo = digit(b & 15);
            }
        }
        w.str_field(
            "signature",
            JsonStr::new(core::str::from_utf8(&hex).unwrap_or_default()),
        )?;
        w.str_field("version", JsonStr::new("1"))?;
        w.end()
    }
}

#[cfg(feature = "gas-sponsoring")]
/// `0x` and 40 hex digits, in any case (the reference reads them through
/// viem's lenient `getAddress`).
fn address(s: &str) -> Option<Address> {
    let digits = s.strip_prefix("0x")?;
    if digits.len() != 40 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut lower = [0u8; 42];
    for (d, b) in lower.iter_mut().zip(s.bytes()) {
        *d = b.to_ascii_lowercase();
    }
    Address::parse(core::str::from_utf8(&lower).ok()?).ok()
}

#[cfg(feature = "gas-sponsoring")]
/// Decimal digits (leading zeros allowed, as `^[0-9]+$` allows), at most 2^256 − 1.
fn number(s: &str) -> Option<Amount> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let trimmed = s.trim_start_matches('0');
    Amount::parse_decimal(if trimmed.is_empty() { "0" } else { trimmed }).ok()
}

#[cfg(feature = "gas-sponsoring")]
/// `0x` and 130 hex digits: `r`, `s`, `v`.
fn sig65(s: &str) -> Option<[u8; 65]> {
    let digits = s.strip_prefix("0x")?.as_bytes();
    if digits.len() != 130 {
        return None;
    }
    let mut out = [0u8; 65];
    for (o, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        let hi = (pair.first()?.to_ascii_lowercase() as char).to_digit(16)?;
        let lo = (pair.get(1)?.to_ascii_lowercase() as char).to_digit(16)?;
        *o = u8::try_from(hi * 16 + lo).ok()?;
    }
    Some(out)
}

#[cfg(feature = "gas-sponsoring")]
/// `^[0-9]+(\.[0-9]+)*$`.
fn version_form(s: &str) -> Option<()> {
    s.split('.')
        .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
        .then_some(())
}

#[cfg(all(test, feature = "std", feature = "gas-sponsoring"))]
mod tests {
    use super::*;
    use crate::json::Limits;

    fn signed() -> (Eip2612Permit, Address) {
        let key = PrivateKey::from_bytes(&[0x42; 32]).unwrap();
        let token = Address::parse("0x036cbd53842c5426634e7929541ec2318f3dcf7e").unwrap();
        let domain = Domain::eip3009(JsonStr::new("USDC"), JsonStr::new("2"), 84532, token);
        let p = Eip2612Permit::sign(
            &key,
            &domain,
            token,
            Amount::MAX,
            0u64.into(),
            2_000_000_000u64.into(),
        );
        (p, token)
    }

    fn read_json(info: &str) -> Option<Result<Eip2612Permit, Reason>> {
        let doc = alloc::format!(r#"{{"{EIP2612_GAS_SPONSORING}":{{"info":{info}}}}}"#);
        let v = crate::json::parse(doc.as_bytes(), &Limits::DEFAULT).unwrap();
        read(v.as_object().unwrap())
    }

    #[test]
    fn a_signed_permit_reads_back_and_holds() {
        let (p, token) = signed();
        let info = p.to_json_string();
        assert_eq!(read_json(&info), Some(Ok(p)));
        assert_eq!(p.check(&p.from, &token, 1_750_000_000), Ok(()));
        assert_eq!(p.check(&token, &token, 0), Err(Reason::Eip2612FromMismatch));
        assert_eq!(
            p.check(&p.from, &p.from, 0),
            Err(Reason::Eip2612AssetMismatch)
        );
        let late = 2_000_000_000 - 5;
        assert_eq!(
            p.check(&p.from, &token, late),
            Err(Reason::Eip2612DeadlineExpired)
        );
        let mut other = p;
        other.spender = token;
        assert_eq!(
            other.check(&p.from, &token, 0),
            Err(Reason::Eip2612SpenderNotPermit2)
        );
    }

    #[test]
    fn the_reference_reads_a_member_missing_as_no_extension_and_a_wrong_one_as_a_format_error() {
        let (p, _) = signed();
        let info: serde_json::Value = serde_json::from_str(&p.to_json_string()).unwrap();
        let with = |k: &str, v: serde_json::Value| {
            let mut i = info.clone();
            i[k] = v;
            read_json(&i.to_string())
        };
        for k in ["from", "amount", "signature", "version"] {
            let mut i = info.clone();
            i.as_object_mut().unwrap().remove(k);
            assert_eq!(read_json(&i.to_string()), None, "{k} missing");
            assert_eq!(with(k, serde_json::json!("")), None, "{k} empty");
        }
        for (k, v) in [
            ("from", serde_json::json!("0x1234")),
            ("asset", serde_json::json!(7)),
            ("amount", serde_json::json!("-1")),
            ("nonce", serde_json::json!("1e3")),
            ("deadline", serde_json::json!("0x10")),
            ("signature", serde_json::json!("0xabcd")),
            ("version", serde_json::json!("1.")),
        ] {
            assert_eq!(
                with(k, v.clone()),
                Some(Err(Reason::InvalidEip2612ExtensionFormat)),
                "{k} = {v}"
            );
        }
        // Leading zeros and any case, as the reference's patterns allow.
        let upper = info["from"]
            .as_str()
            .unwrap()
            .to_ascii_uppercase()
            .replacen("0X", "0x", 1);
        assert_eq!(
            with("from", serde_json::json!(upper))
                .unwrap()
                .unwrap()
                .from,
            p.from
        );
        assert_eq!(
            with("nonce", serde_json::json!("000"))
                .unwrap()
                .unwrap()
                .nonce,
            Amount::ZERO
        );
    }
}
