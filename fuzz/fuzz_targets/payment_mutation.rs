//! Structure-aware: builds a valid signed payment (EIP-3009 in v1 and v2, Permit2
//! `exact` and `upto` in v2) with `client::create_payment`, checks that it
//! verifies, then changes exactly one field and checks the verdict changes as
//! the order of checks in `verify` says it must: the specific reason string, or
//! still valid where the change is harmless (a fresh nonce, re-signed; `v` of
//! 0/1 for 27/28).
//!
//! A changed signed field is either left with the old signature or re-signed by
//! the payer, so both the signature check and the check behind it are reached.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use paywire::client::{self, Policy, create_payment};
use paywire::evm::eip712::{self, Domain};
use paywire::evm::{Address, B256, PrivateKey};
use paywire::header;
use paywire::json::Limits;
use paywire::network::V1_NETWORKS;
use paywire::types::FromJson;
use paywire::types::facilitator::{PaymentPayload, VerifyRequest};
use paywire::types::payload::SchemePayload;
use paywire::verify::{Config, verify_json};
use paywire::{Amount, Reason};
use paywire_fuzz::reference::negate_scalar;
use serde_json::{Value, json};

#[derive(Arbitrary, Debug, Clone, Copy, PartialEq)]
enum Kind {
    V1Eip3009,
    V2Eip3009,
    V2Permit2,
    V2Upto,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Time {
    /// Seconds from the verification time.
    Rel(i16),
    Abs(u64),
    Big([u8; 32]),
}

#[derive(Arbitrary, Debug, Clone)]
enum Mutation {
    None,
    Value([u8; 32]),
    To([u8; 20]),
    Nonce([u8; 32]),
    ValidAfter(Time),
    ValidBefore(Time),
    /// The payload's network: another chain id, or a non-EVM network.
    Network(u64, bool),
    /// The payload's scheme (`accepted.scheme`, or v1's `scheme`).
    Scheme(String),
    /// The requirements' scheme.
    RequirementsScheme(String),
    /// The requirements' asset.
    Asset([u8; 20]),
    SignatureByte(u8, u8),
    V(u8),
    HighS,
    Spender([u8; 20]),
    Facilitator([u8; 20]),
}

/// The choices come first: `arbitrary` fills fields in order, and an input
/// that runs short leaves the later ones at zero.
#[derive(Arbitrary, Debug)]
struct Input {
    kind: Kind,
    resign: bool,
    mutation: Mutation,
    now: u64,
    delay: u16,
    max_timeout: u16,
    chain: u64,
    key: [u8; 32],
    nonce: [u8; 32],
    amount: [u8; 32],
    asset: [u8; 20],
    pay_to: [u8; 20],
    facilitator: [u8; 20],
    name: String,
    version: String,
}

const EVM_V1: &[(&str, u64)] = &[
    ("base", 8453),
    ("base-sepolia", 84532),
    ("ethereum", 1),
    ("polygon", 137),
    ("avalanche-fuji", 43113),
    ("sei", 1329),
];

fn short(s: &str) -> String {
    s.chars().take(40).collect()
}

fn time_value(t: Time, now: u64) -> Amount {
    match t {
        Time::Rel(d) => {
            Amount::from((i128::from(now) + i128::from(d)).clamp(0, i128::from(u64::MAX)) as u64)
        }
        Time::Abs(v) => Amount::from(v),
        Time::Big(b) => Amount::from_be_bytes(b),
    }
}

fn payload_mut(body: &mut Value) -> &mut Value {
    &mut body["paymentPayload"]["payload"]
}

/// The signed authorization object.
fn auth_mut(body: &mut Value, permit2: bool) -> &mut Value {
    let key = if permit2 {
        "permit2Authorization"
    } else {
        "authorization"
    };
    &mut payload_mut(body)[key]
}

fn signature_bytes(body: &Value) -> Vec<u8> {
    let s = body["paymentPayload"]["payload"]["signature"]
        .as_str()
        .unwrap();
    paywire_fuzz::reference::hex_bytes(s).unwrap()
}

fn set_signature(body: &mut Value, sig: &[u8]) {
    let mut s = String::from("0x");
    for b in sig {
        s.push_str(&format!("{b:02x}"));
    }
    payload_mut(body)["signature"] = Value::String(s);
}

/// Signs the body's authorization again with `key`, as the verifier will hash it.
fn resign(body: &mut Value, key: &PrivateKey, chain: u64) {
    let bytes = serde_json::to_vec(body).unwrap();
    let limits = Limits {
        max_len: 64 * 1024,
        ..Limits::DEFAULT
    };
    let req = VerifyRequest::from_json_bytes(&bytes, &limits).expect("mutated body decodes");
    let payload = match &req.payment_payload {
        PaymentPayload::V1(p) => p.payload_json(),
        PaymentPayload::V2(p) => p.payload_json(),
    }
    .unwrap();
    let r = req.payment_requirements;
    let digest = match SchemePayload::from_object(payload).unwrap() {
        SchemePayload::Eip3009(e) => {
            let extra = r.extra().unwrap();
            let asset = Address::parse(&r.asset().to_cow()).unwrap();
            let domain = Domain::eip3009(extra.name.unwrap(), extra.version.unwrap(), chain, asset);
            eip712::eip3009_digest(&domain, &e.authorization)
        }
        SchemePayload::Permit2(p) => eip712::permit2_digest(chain, &p.authorization),
        SchemePayload::Batch(_) => unreachable!(),
    };
    let sig = key.sign_digest(&digest).to_bytes();
    set_signature(body, &sig);
}

fn verify(body: &Value, now: u64, config: &Config<'_>) -> paywire::verify::Verdict {
    verify_json(&serde_json::to_vec(body).unwrap(), now, config)
}

fuzz_target!(|input: Input| {
    let Ok(key) = PrivateKey::from_bytes(&input.key) else {
        return;
    };
    let payer = key.address();
    let kind = input.kind;
    let v1 = kind == Kind::V1Eip3009;
    let permit2 = matches!(kind, Kind::V2Permit2 | Kind::V2Upto);
    let upto = kind == Kind::V2Upto;
    let (name, version) = (short(&input.name), short(&input.version));
    if !permit2 && (name.is_empty() || version.is_empty()) {
        return;
    }
    let max_timeout = u64::from(input.max_timeout.max(6));
    let now = input.now;
    // The client signs for maxTimeoutSeconds, at most MAX_VALIDITY_SECONDS.
    let window = max_timeout.min(client::MAX_VALIDITY_SECONDS);
    let verify_now = now.saturating_add(u64::from(input.delay) % (window - 5));
    let asset = Address(input.asset);
    let pay_to = Address(input.pay_to);
    let facilitator = Address(input.facilitator);
    let amount = Amount::from_be_bytes(input.amount);
    let (network, chain) = if v1 {
        let (n, c) = EVM_V1[(input.chain % EVM_V1.len() as u64) as usize];
        (n.to_owned(), c)
    } else {
        let c = input.chain.max(1);
        (format!("eip155:{c}"), c)
    };

    // The 402 and the payment the client makes for it.
    let mut extra = json!({"name": name, "version": version});
    if kind == Kind::V2Permit2 {
        extra["assetTransferMethod"] = json!("permit2");
    }
    if upto {
        extra = json!({"facilitatorAddress": facilitator.to_string()});
    }
    let requirements = if v1 {
        json!({
            "scheme": "exact", "network": network, "maxAmountRequired": amount.to_string(),
            "resource": "https://api.example.com/r", "description": "", "mimeType": "application/json",
            "payTo": pay_to.to_string(), "maxTimeoutSeconds": max_timeout, "asset": asset.to_string(),
            "extra": extra,
        })
    } else {
        json!({
            "scheme": if upto { "upto" } else { "exact" }, "network": network,
            "amount": amount.to_string(), "asset": asset.to_string(), "payTo": pay_to.to_string(),
            "maxTimeoutSeconds": max_timeout, "extra": extra,
        })
    };
    let payment_required = if v1 {
        json!({"x402Version": 1, "error": "X-PAYMENT header is required", "accepts": [requirements]})
    } else {
        json!({"x402Version": 2, "resource": {"url": "https://api.example.com/r"}, "accepts": [requirements]})
    };
    let pr = serde_json::to_vec(&payment_required).unwrap();
    let policy = Policy {
        allow_upto: true,
        ..Policy::default()
    };
    let mut out = vec![0u8; 8192];
    let created = create_payment(&pr, &key, input.nonce, now, &policy, &mut out)
        .unwrap_or_else(|e| panic!("the client refused a payable 402: {e}\n{payment_required}"));
    assert_eq!(created.payer, payer);
    assert_eq!(created.index, 0);
    let value = std::str::from_utf8(&out[..created.len]).unwrap();
    let payload_json = header::decode_to_vec(value, header::DEFAULT_MAX_DECODED).unwrap();
    let payload: Value = serde_json::from_slice(&payload_json).unwrap();
    let mut body = json!({
        "x402Version": if v1 { 1 } else { 2 },
        "paymentPayload": payload,
        "paymentRequirements": requirements,
    });
    let facilitators = [facilitator];
    let config = Config {
        facilitator_addresses: &facilitators,
        smart_wallets: false,
        erc20_approval_sponsoring: false,
    };

    let before = verify(&body, verify_now, &config);
    assert!(
        before.is_valid(),
        "the created payment does not verify: {before:?}\n{body}"
    );
    assert_eq!(before.payer, Some(payer));

    // Exactly one change.
    let sig = signature_bytes(&body);
    let old_v_odd = matches!(sig[64], 1 | 28);
    let sig_reason = if permit2 {
        Reason::Permit2Signature
    } else {
        Reason::ExactEvmSignature
    };
    let signed_reason = |resigned: Option<Reason>| {
        if input.resign {
            resigned
        } else {
            Some(sig_reason)
        }
    };
    let mut resigned = false;
    let expected: Option<Reason> = match input.mutation.clone() {
        Mutation::None => None,
        Mutation::Value(b) => {
            let new = Amount::from_be_bytes(b);
            if new == amount {
                return;
            }
            if permit2 {
                auth_mut(&mut body, true)["permitted"]["amount"] = json!(new.to_string());
                resigned = input.resign;
                Some(Reason::Permit2AmountMismatch)
            } else {
                auth_mut(&mut body, false)["value"] = json!(new.to_string());
                resigned = input.resign;
                signed_reason(Some(if v1 {
                    Reason::ExactEvmAuthorizationValue
                } else {
                    Reason::ExactEvmValueMismatch
                }))
            }
        }
        Mutation::To(b) => {
            let new = Address(b);
            if new == pay_to {
                return;
            }
            resigned = input.resign;
            if permit2 {
                auth_mut(&mut body, true)["witness"]["to"] = json!(new.to_string());
                Some(Reason::Permit2RecipientMismatch)
            } else {
                auth_mut(&mut body, false)["to"] = json!(new.to_string());
                signed_reason(Some(Reason::ExactEvmRecipientMismatch))
            }
        }
        Mutation::Nonce(b) => {
            if b == input.nonce {
                return;
            }
            resigned = input.resign;
            if permit2 {
                auth_mut(&mut body, true)["nonce"] = json!(Amount::from_be_bytes(b).to_string());
            } else {
                auth_mut(&mut body, false)["nonce"] = json!(B256(b).to_string());
            }
            signed_reason(None)
        }
        Mutation::ValidAfter(t) => {
            let new = time_value(t, verify_now);
            let field = if permit2 {
                &mut auth_mut(&mut body, true)["witness"]["validAfter"]
            } else {
                &mut auth_mut(&mut body, false)["validAfter"]
            };
            if field.as_str() == Some(new.to_string().as_str()) {
                return;
            }
            *field = json!(new.to_string());
            resigned = input.resign;
            let late = new > Amount::from(verify_now);
            if permit2 {
                if late {
                    Some(Reason::Permit2NotYetValid)
                } else {
                    signed_reason(None)
                }
            } else {
                signed_reason(late.then_some(Reason::ExactEvmValidAfter))
            }
        }
        Mutation::ValidBefore(t) => {
            let new = time_value(t, verify_now);
            let field = if permit2 {
                &mut auth_mut(&mut body, true)["deadline"]
            } else {
                &mut auth_mut(&mut body, false)["validBefore"]
            };
            if field.as_str() == Some(new.to_string().as_str()) {
                return;
            }
            *field = json!(new.to_string());
            resigned = input.resign;
            let expiring = new < Amount::from(verify_now.saturating_add(6));
            if permit2 {
                if expiring {
                    Some(Reason::Permit2DeadlineExpired)
                } else {
                    signed_reason(None)
                }
            } else {
                signed_reason(expiring.then_some(Reason::ExactEvmValidBefore))
            }
        }
        Mutation::Network(other, non_evm) => {
            let new = if v1 {
                if non_evm {
                    format!("eip155:{chain}")
                } else {
                    let (n, _) = EVM_V1[(other % EVM_V1.len() as u64) as usize];
                    n.to_owned()
                }
            } else if non_evm {
                V1_NETWORKS
                    .iter()
                    .find(|(n, _)| *n == "solana")
                    .unwrap()
                    .1
                    .to_owned()
            } else {
                format!("eip155:{}", other.max(1))
            };
            if new == network {
                return;
            }
            if v1 {
                body["paymentPayload"]["network"] = json!(new);
            } else {
                body["paymentPayload"]["accepted"]["network"] = json!(new);
            }
            Some(if upto {
                Reason::UptoEvmNetworkMismatch
            } else {
                Reason::ExactEvmNetworkMismatch
            })
        }
        Mutation::Scheme(s) => {
            let own = if upto { "upto" } else { "exact" };
            if s == own {
                return;
            }
            if v1 {
                body["paymentPayload"]["scheme"] = json!(s);
            } else {
                body["paymentPayload"]["accepted"]["scheme"] = json!(s);
            }
            Some(match kind {
                Kind::V1Eip3009 | Kind::V2Eip3009 => Reason::ExactEvmScheme,
                Kind::V2Permit2 => Reason::UnsupportedPayloadType,
                Kind::V2Upto => Reason::UptoEvmScheme,
            })
        }
        Mutation::RequirementsScheme(s) => {
            let own = if upto { "upto" } else { "exact" };
            if s == own {
                return;
            }
            body["paymentRequirements"]["scheme"] = json!(s);
            Some(match (kind, s.as_str()) {
                (Kind::V1Eip3009, _) => Reason::UnsupportedScheme,
                // upto takes only Permit2 with a facilitator; exact takes the
                // upto payload, then finds its accepted scheme is upto.
                (Kind::V2Eip3009 | Kind::V2Permit2, "upto") | (Kind::V2Upto, "exact") => {
                    Reason::UnsupportedPayloadType
                }
                _ => Reason::UnsupportedScheme,
            })
        }
        Mutation::Asset(b) => {
            let new = Address(b);
            if new == asset {
                return;
            }
            body["paymentRequirements"]["asset"] = json!(new.to_string());
            Some(if permit2 {
                Reason::Permit2TokenMismatch
            } else {
                sig_reason
            })
        }
        Mutation::SignatureByte(i, x) => {
            let i = usize::from(i) % 65;
            if x == 0 {
                return;
            }
            let mut s = sig.clone();
            s[i] ^= x;
            set_signature(&mut body, &s);
            let same_v =
                i == 64 && matches!(s[64], 0 | 1 | 27 | 28) && matches!(s[64], 1 | 28) == old_v_odd;
            (!same_v).then_some(sig_reason)
        }
        Mutation::V(v) => {
            if v == sig[64] {
                return;
            }
            let mut s = sig.clone();
            s[64] = v;
            set_signature(&mut body, &s);
            let same_v = matches!(v, 0 | 1 | 27 | 28) && matches!(v, 1 | 28) == old_v_odd;
            (!same_v).then_some(sig_reason)
        }
        Mutation::HighS => {
            let mut s = sig.clone();
            let low: [u8; 32] = s[32..64].try_into().unwrap();
            s[32..64].copy_from_slice(&negate_scalar(&low));
            s[64] = if old_v_odd { 27 } else { 28 };
            set_signature(&mut body, &s);
            Some(sig_reason)
        }
        Mutation::Spender(b) => {
            if !permit2 {
                return;
            }
            let new = Address(b);
            let field = &mut auth_mut(&mut body, true)["spender"];
            if field.as_str() == Some(new.to_string().as_str()) {
                return;
            }
            *field = json!(new.to_string());
            resigned = input.resign;
            Some(Reason::Permit2Spender)
        }
        Mutation::Facilitator(b) => {
            if !permit2 {
                return;
            }
            let new = Address(b);
            if upto && new == facilitator {
                return;
            }
            auth_mut(&mut body, true)["witness"]["facilitator"] = json!(new.to_string());
            resigned = input.resign;
            if upto {
                Some(Reason::UptoFacilitatorMismatch)
            } else if input.resign {
                // Signed over the upto witness: the exact proxy checks the exact
                // one, which has no facilitator.
                Some(Reason::Permit2Signature)
            } else {
                // The old signature is over the exact witness, still what is checked.
                None
            }
        }
    };
    if resigned {
        resign(&mut body, &key, chain);
    }
    let after = verify(&body, verify_now, &config);
    assert_eq!(
        after.reason.map(Reason::as_str),
        expected.map(Reason::as_str),
        "{:?} (resigned: {resigned}) gave {:?}\n{body}",
        input.mutation,
        after.message
    );
    if let Some(p) = after.payer {
        assert_eq!(p, payer, "the verdict names someone else as the payer");
    }
});
