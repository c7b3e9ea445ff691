//! `exact` on Solana (the `full` flavour): `createSvmPayment` pays a
//! `solana:*` requirement with an Ed25519 key, and `svmAddress` names the
//! payer of a seed. Verification needs nothing here: `verify` and
//! `verifyPaymentHeader` route `solana:*` to the core's Solana verifier in
//! this flavour (the default and `fast` flavours answer
//! `unsupported_scheme`).

use paywire::client::{self, SvmFacts};
use paywire::svm::Pubkey;
use paywire::svm::client::SigningKey;
use wasm_bindgen::prelude::*;

use crate::{
    Failure, PaymentOptions, get_random_values, js, json_arg, optional_json_arg, read_options,
};

/// Reads an Ed25519 seed given as hex (`0x` + 64 digits, or 64 digits).
///
/// # Errors
/// `invalid_argument`, without echoing the seed.
pub fn read_seed(hex: &str) -> Result<SigningKey, Failure> {
    let prefixed;
    let text = if hex.starts_with("0x") {
        hex
    } else {
        prefixed = format!("0x{hex}");
        &prefixed
    };
    let mut seed = paywire::evm::B256::parse(text)
        .map_err(|_| Failure::argument("seed", "must be 32 bytes in hex (64 digits)"))?
        .0;
    let key = SigningKey::from_bytes(&seed);
    seed.fill(0);
    Ok(key)
}

/// Pays the first `exact` requirement on `solana:*` the policy allows: the
/// `PAYMENT-SIGNATURE` value.
///
/// # Errors
/// The facts' error (`invalid_payload` naming the member), or the core's
/// (nothing payable, a requirement the transaction cannot be built from).
pub fn create_svm_payment_text(
    payment_required: &str,
    key: &SigningKey,
    facts: &str,
    nonce: [u8; 32],
    policy: &paywire::client::OwnedPolicy,
) -> Result<String, Failure> {
    let facts = SvmFacts::from_json(facts.as_bytes())?;
    let mut memo_nonce = [0u8; 16];
    memo_nonce.copy_from_slice(nonce.get(..16).unwrap_or(&[0; 16]));
    let mut out = Vec::new();
    client::create_svm_payment_to_sink(
        payment_required.as_bytes(),
        key,
        &facts,
        memo_nonce,
        &policy.policy(),
        &mut out,
    )?;
    String::from_utf8(out).map_err(|_| Failure::argument("payment", "encoding failed"))
}

/// Pays an `exact` requirement on a Solana network (x402 v2) of a
/// PaymentRequired (an object, its JSON text, or a `PAYMENT-REQUIRED` header
/// value): the first the options' policy allows (a policy listing `assets`,
/// EVM tokens, allows none). Builds the transaction `@x402/svm`'s client
/// builds — compute budget, `TransferChecked` to the associated token
/// account of `payTo`, a Memo of `extra.memo` or of a random nonce —,
/// partly signed by the Ed25519 key of `seed` (hex, 32 bytes); the fee payer
/// (`extra.feePayer`) signs later. `facts` are what only the chain tells:
/// the mint's token program and decimals, and a recent blockhash for a
/// requirement without `extra.recentBlockhash`. Answers the
/// `PAYMENT-SIGNATURE` value. `options.nonce` (its first 16 bytes the memo's)
/// defaults to `crypto.getRandomValues`.
#[wasm_bindgen(js_name = createSvmPayment)]
pub fn create_svm_payment_js(
    #[wasm_bindgen(
        js_name = paymentRequired,
        unchecked_param_type = "PaymentRequired | string"
    )]
    payment_required: JsValue,
    seed: &str,
    #[wasm_bindgen(unchecked_param_type = "SvmFacts | string")] facts: JsValue,
    options: Option<PaymentOptions>,
) -> Result<String, JsValue> {
    let pr = json_arg(&payment_required, "paymentRequired")?;
    let facts = json_arg(&facts, "facts")?;
    let opts = js(read_options(
        optional_json_arg(options.as_deref(), "options")?.as_deref(),
    ))?;
    let key = js(read_seed(seed))?;
    let nonce = match opts.nonce {
        Some(n) => n,
        None => {
            let mut n = [0u8; 32];
            get_random_values(&mut n)?;
            n
        }
    };
    js(create_svm_payment_text(
        &pr,
        &key,
        &facts,
        nonce,
        &opts.policy,
    ))
}

/// The Solana address (base58 of the Ed25519 public key) of a seed (hex, 32
/// bytes): the payer `createSvmPayment` pays from.
#[wasm_bindgen(js_name = svmAddress)]
pub fn svm_address_js(seed: &str) -> Result<String, JsValue> {
    let key = js(read_seed(seed))?;
    Ok(Pubkey(key.verifying_key().to_bytes()).to_string())
}

#[wasm_bindgen(typescript_custom_section)]
const TYPESCRIPT_SVM: &str = include_str!("svm.d.ts");
