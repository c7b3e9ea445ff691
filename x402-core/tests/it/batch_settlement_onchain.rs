//! `batch-settlement` on a real EVM: channels of the x402 batch-settlement
//! contract (`tests/chain/contracts/X402BatchSettlement.sol`, with its EIP-3009
//! and Permit2 deposit collectors, placed at their canonical addresses) opened,
//! paid, claimed, settled, refunded and withdrawn from with payloads, digests,
//! signatures and calldata made by this crate (`evm::batch_settlement`), sent
//! in transactions it builds and signs. Every step asserts the token balances
//! of the payer, the receiver, the contract and the facilitator exactly, and
//! the contract's state through the crate's decoders.
//!
//! Like `settlement_onchain`, these tests need the chain (`--ignored`,
//! `PAYWIRE_TEST_RPC`, `PAYWIRE_TEST_CONTRACTS`; `scripts/test-settlement.sh`).
//! Sizes: `PAYWIRE_BATCH_VOUCHERS` vouchers on one channel (default 20) and
//! `PAYWIRE_BATCH_CHANNELS` channels in one claim (default 3);
//! `scripts/test-long.sh batch-settlement` runs 1,000 and 50.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::OnceLock;

use paywire::Amount;
use paywire::evm::batch_settlement::client::{
    self, Created, DepositMethod, create_deposit, create_refund, create_voucher,
};
use paywire::evm::batch_settlement::verify::{
    ChainFacts, Config, Requirements, check_cumulative, verify_payload,
};
use paywire::evm::batch_settlement::{
    BATCH_SETTLEMENT_ADDRESS, BatchExtra, ChannelConfig, ChannelState,
    ERC3009_DEPOSIT_COLLECTOR_ADDRESS, PERMIT2_DEPOSIT_COLLECTOR_ADDRESS, PayloadType, abi as bs,
    channel_id, claim_batch_digest, refund_digest,
};
use paywire::evm::batch_settlement::{ClaimEntry, MIN_WITHDRAW_DELAY};
use paywire::evm::eip712::{Domain, PERMIT2_ADDRESS};
use paywire::evm::{Address, B256, PrivateKey, keccak256};
use paywire::gas_sponsoring::permit_digest;
use paywire::json::JsonStr;
use serde_json::json;

use crate::chain_harness::*;

/// The price of one request, in token units.
const PRICE: u128 = 1_000;
/// Gas for transactions sent although a simulation refuses them.
const REVERT_GAS: u64 = 3_000_000;

fn env_size(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .map(|v| v.parse().unwrap_or_else(|_| panic!("{name}: {v}")))
        .unwrap_or(default)
}

fn bkey(label: &str) -> PrivateKey {
    key(&format!("batch/{label}"))
}

fn u(a: Amount) -> u128 {
    let b = a.to_be_bytes();
    assert!(b[..16].iter().all(|x| *x == 0), "above u128");
    u128::from_be_bytes(b[16..].try_into().unwrap())
}

fn sig(j: JsonStr<'_>) -> Vec<u8> {
    unhex(j.as_str().unwrap())
}

fn revert_selector(sig: &str) -> Vec<u8> {
    selector(sig).to_vec()
}

/// The batch-settlement contract and its collectors, at their canonical
/// addresses (once per run), and the chain.
fn chain() -> &'static Chain {
    static PLACED: OnceLock<()> = OnceLock::new();
    let chain = Chain::get();
    PLACED.get_or_init(|| {
        chain.place(&BATCH_SETTLEMENT_ADDRESS, "X402BatchSettlement");
        chain.place(
            &ERC3009_DEPOSIT_COLLECTOR_ADDRESS,
            "Erc3009DepositCollector",
        );
        chain.place(
            &PERMIT2_DEPOSIT_COLLECTOR_ADDRESS,
            "Permit2DepositCollector",
        );
    });
    chain
}

/// The parties of a test: the receiver, its authorizer, and the facilitator
/// that sends the transactions (and must never hold tokens).
struct Parties {
    receiver: Address,
    authorizer: PrivateKey,
    facilitator: PrivateKey,
}

impl Parties {
    fn new(test: &str) -> Parties {
        let facilitator = bkey(&format!("{test}/facilitator"));
        fund(&chain().url, &facilitator.address());
        Parties {
            receiver: bkey(&format!("{test}/receiver")).address(),
            authorizer: bkey(&format!("{test}/receiver-authorizer")),
            facilitator,
        }
    }

    fn requirements(&self, method: &'static str) -> Requirements<'static> {
        let chain = chain();
        Requirements {
            chain_id: chain.chain_id,
            pay_to: self.receiver,
            asset: chain.token,
            amount: Amount::from(PRICE),
            max_timeout_seconds: 300,
            extra: BatchExtra {
                receiver_authorizer: Some(self.authorizer.address()),
                withdraw_delay: Some(MIN_WITHDRAW_DELAY),
                name: Some(JsonStr::new("USD Coin")),
                version: Some(JsonStr::new("2")),
                asset_transfer_method: Some(JsonStr::new(method)),
                ..BatchExtra::default()
            },
        }
    }

    /// A payer with `tokens` minted, gas, and (Permit2) its allowance, and
    /// its channel to the receiver.
    fn payer(&self, label: &str, tokens: u128, permit2: bool) -> (PrivateKey, ChannelConfig) {
        let chain = chain();
        let payer = bkey(label);
        chain.mint(&payer.address(), tokens);
        fund(&chain.url, &payer.address());
        if permit2 {
            chain.approve_permit2(&payer);
        }
        let method = if permit2 { "permit2" } else { "eip3009" };
        let config = client::channel_config(
            payer.address(),
            None,
            &self.requirements(method),
            B256(keccak256(format!("salt/{label}").as_bytes())),
        )
        .unwrap();
        (payer, config)
    }

    /// Exact token balances of `payers`, the receiver, the contract and the facilitator.
    fn check(&self, payers: &[(&Address, u128)], receiver: u128, contract: u128) {
        let chain = chain();
        for (p, want) in payers {
            assert_eq!(u(chain.balance(p)), *want, "payer {p}");
        }
        assert_eq!(u(chain.balance(&self.receiver)), receiver, "receiver");
        assert_eq!(
            u(chain.balance(&BATCH_SETTLEMENT_ADDRESS)),
            contract,
            "the contract"
        );
        assert_eq!(
            u(chain.balance(&self.facilitator.address())),
            0,
            "the facilitator"
        );
        for c in [
            ERC3009_DEPOSIT_COLLECTOR_ADDRESS,
            PERMIT2_DEPOSIT_COLLECTOR_ADDRESS,
        ] {
            assert_eq!(u(chain.balance(&c)), 0, "a collector keeps nothing");
        }
    }

    /// Sends `data` to the contract from the facilitator; `Ok` if mined with
    /// success, `Err(revert data)` if refused (the simulation's answer, then
    /// confirmed by the transaction mined with status 0).
    fn send(&self, data: &[u8]) -> Result<B256, Vec<u8>> {
        send_as(&self.facilitator, data)
    }

    /// `claimWithSignature` over `claims` (channel, voucher, total), signed
    /// by the receiver authorizer over the crate's `ClaimBatch` digest.
    fn claim(
        &self,
        claims: &[(ChannelConfig, &client::SignedVoucher, u128)],
    ) -> Result<B256, Vec<u8>> {
        let chain = chain();
        let sigs: Vec<Vec<u8>> = claims
            .iter()
            .map(|(_, v, _)| sig(v.voucher().signature))
            .collect();
        let rows: Vec<bs::VoucherClaim<'_>> = claims
            .iter()
            .zip(&sigs)
            .map(|((c, v, total), s)| bs::VoucherClaim {
                channel: *c,
                max_claimable_amount: v.max_claimable_amount,
                signature: s,
                total_claimed: Amount::from(*total),
            })
            .collect();
        let entries: Vec<ClaimEntry> = claims
            .iter()
            .map(|(c, v, total)| ClaimEntry {
                channel_id: channel_id(c, chain.chain_id),
                max_claimable_amount: v.max_claimable_amount,
                total_claimed: Amount::from(*total),
            })
            .collect();
        let authorizer_sig = self
            .authorizer
            .sign_digest(&claim_batch_digest(chain.chain_id, &entries))
            .to_bytes();
        let mut out = vec![0u8; bs::claim_with_signature_len(&rows, authorizer_sig.len())];
        let n = bs::claim_with_signature(&rows, &authorizer_sig, &mut out).unwrap();
        assert_eq!(n, out.len());
        self.send(&out)
    }

    /// `settle(receiver, token)`.
    fn settle(&self) -> Result<B256, Vec<u8>> {
        self.send(&bs::settle(&self.receiver, &chain().token))
    }
}

fn send_as(from: &PrivateKey, data: &[u8]) -> Result<B256, Vec<u8>> {
    let chain = chain();
    if let Err(revert) = eth_call_from(
        &chain.url,
        Some(from.address()),
        BATCH_SETTLEMENT_ADDRESS,
        data,
    ) {
        let r = send_tx(
            &chain.url,
            chain.chain_id,
            from,
            Some(BATCH_SETTLEMENT_ADDRESS),
            data,
            Some(REVERT_GAS),
        );
        assert!(!r.status, "the simulation refused what the chain accepted");
        return Err(revert);
    }
    let r = send_tx(
        &chain.url,
        chain.chain_id,
        from,
        Some(BATCH_SETTLEMENT_ADDRESS),
        data,
        None,
    );
    assert!(
        r.status,
        "mined with status 0 after a successful simulation"
    );
    Ok(r.hash)
}

/// The token's `Transfer` events of a mined transaction: (from, to, value).
fn transfers(tx: B256) -> Vec<(Address, Address, u128)> {
    let chain = chain();
    let receipt = raw_rpc(&chain.url, "eth_getTransactionReceipt", json!([hex(&tx.0)]));
    let topic = hex(&keccak256(b"Transfer(address,address,uint256)"));
    let address = |t: &serde_json::Value| {
        let w = unhex(t.as_str().unwrap());
        Address(w[12..].try_into().unwrap())
    };
    receipt["logs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| {
            l["address"]
                .as_str()
                .unwrap()
                .eq_ignore_ascii_case(&hex(&chain.token.0))
                && l["topics"][0].as_str() == Some(topic.as_str())
        })
        .map(|l| {
            let value = unhex(l["data"].as_str().unwrap());
            (
                address(&l["topics"][1]),
                address(&l["topics"][2]),
                u(Amount::from_be_bytes(value[..32].try_into().unwrap())),
            )
        })
        .collect()
}

/// The channel's state, read with the crate's encoders and decoders.
fn state(config: &ChannelConfig) -> ChannelState {
    let chain = chain();
    let id = channel_id(config, chain.chain_id);
    let read = |data: [u8; 36]| eth_call(&chain.url, BATCH_SETTLEMENT_ADDRESS, &data).unwrap();
    let (balance, total_claimed) = bs::decode_channels(&read(bs::channels(&id))).unwrap();
    let (pending, at) = bs::decode_pending_withdrawal(&read(bs::pending_withdrawals(&id))).unwrap();
    let refund_nonce = bs::decode_refund_nonce(&read(bs::refund_nonce(&id))).unwrap();
    if at == 0 {
        assert!(pending.is_zero(), "a withdrawal amount without its time");
    }
    ChannelState {
        balance,
        total_claimed,
        withdraw_requested_at: at,
        refund_nonce,
    }
}

fn pending_amount(config: &ChannelConfig) -> u128 {
    let chain = chain();
    let id = channel_id(config, chain.chain_id);
    let data = eth_call(
        &chain.url,
        BATCH_SETTLEMENT_ADDRESS,
        &bs::pending_withdrawals(&id),
    )
    .unwrap();
    u(bs::decode_pending_withdrawal(&data).unwrap().0)
}

fn check_state(config: &ChannelConfig, balance: u128, claimed: u128, refund_nonce: u128) {
    let s = state(config);
    assert_eq!(
        (u(s.balance), u(s.total_claimed), u(s.refund_nonce)),
        (balance, claimed, refund_nonce),
        "channel state (balance, totalClaimed, refundNonce)"
    );
}

fn verified(
    created: &Created,
    req: &Requirements<'_>,
    state: ChannelState,
    payer_balance: Option<Amount>,
) {
    let facts = ChainFacts {
        channel: Some(state),
        payer_balance,
    };
    let v = verify_payload(
        &created.payload(),
        req,
        chain().now(),
        &facts,
        &Config::default(),
    );
    assert!(v.is_valid(), "verify: {:?}", v.reason_str());
}

/// Deposits `amount` into `config`'s channel with a voucher for the first
/// request, created, verified and encoded by the crate; sent by the facilitator.
fn deposit(
    parties: &Parties,
    payer: &PrivateKey,
    config: &ChannelConfig,
    amount: u128,
    permit2: bool,
    label: &str,
) -> Created {
    let (created, data) = deposit_call(parties, payer, config, amount, permit2, &[], label);
    parties
        .send(&data)
        .unwrap_or_else(|r| panic!("deposit refused: {}", hex(&r)));
    created
}

/// The deposit of [`deposit`], verified, and its calldata, not sent;
/// `eip2612` is a Permit2 deposit's `eip2612PermitData`.
fn deposit_call(
    parties: &Parties,
    payer: &PrivateKey,
    config: &ChannelConfig,
    amount: u128,
    permit2: bool,
    eip2612: &[u8],
    label: &str,
) -> (Created, Vec<u8>) {
    let chain = chain();
    let req = parties.requirements(if permit2 { "permit2" } else { "eip3009" });
    let random = keccak256(format!("deposit/{label}").as_bytes());
    let method = if permit2 {
        DepositMethod::Permit2 {
            nonce: Amount::from_be_bytes(random),
        }
    } else {
        DepositMethod::Erc3009 { salt: B256(random) }
    };
    let created = create_deposit(
        payer,
        payer,
        config,
        &req,
        Amount::from(amount),
        Amount::from(PRICE),
        method,
        chain.now(),
    )
    .unwrap();
    verified(
        &created,
        &req,
        state(config),
        Some(chain.balance(&payer.address())),
    );

    let signed = created.deposit.unwrap();
    let d = signed.deposit();
    let collector_data = if let Some(e) = d.authorization.erc3009 {
        let s = sig(e.signature);
        let mut out = vec![0u8; bs::erc3009_collector_data_len(s.len())];
        bs::erc3009_collector_data(&e.valid_after, &e.valid_before, &e.salt, &s, &mut out).unwrap();
        out
    } else {
        let p = d.authorization.permit2.unwrap();
        let s = sig(p.signature);
        let mut out = vec![0u8; bs::permit2_collector_data_len(s.len(), eip2612.len())];
        bs::permit2_collector_data(&p.nonce, &p.deadline, &s, eip2612, &mut out).unwrap();
        out
    };
    let collector = if permit2 {
        PERMIT2_DEPOSIT_COLLECTOR_ADDRESS
    } else {
        ERC3009_DEPOSIT_COLLECTOR_ADDRESS
    };
    let mut data = vec![0u8; bs::deposit_len(collector_data.len())];
    bs::deposit(config, &d.amount, &collector, &collector_data, &mut data).unwrap();
    (created, data)
}

/// `Error(string)` revert data.
fn error_string(text: &str) -> Vec<u8> {
    let mut d = selector("Error(string)").to_vec();
    d.extend_from_slice(&word_u(32));
    d.extend_from_slice(&word_u(text.len() as u128));
    d.extend_from_slice(text.as_bytes());
    d.resize(4 + 64 + text.len().div_ceil(32) * 32, 0);
    d
}

/// The seven words of a `ChannelConfig` (for the payer's withdrawal calls,
/// which the crate does not encode: a facilitator never sends them).
fn config_words(c: &ChannelConfig) -> Vec<u8> {
    let mut out = Vec::new();
    for w in [
        c.payer.to_word(),
        c.payer_authorizer.to_word(),
        c.receiver.to_word(),
        c.receiver_authorizer.to_word(),
        c.token.to_word(),
        word_u(u128::from(c.withdraw_delay)),
        c.salt.0,
    ] {
        out.extend_from_slice(&w);
    }
    out
}

const CONFIG_TUPLE: &str = "(address,address,address,address,address,uint40,bytes32)";

fn initiate_withdraw(c: &ChannelConfig, amount: u128) -> Vec<u8> {
    let mut d = selector(&format!("initiateWithdraw({CONFIG_TUPLE},uint128)")).to_vec();
    d.extend_from_slice(&config_words(c));
    d.extend_from_slice(&word_u(amount));
    d
}

fn finalize_withdraw(c: &ChannelConfig) -> Vec<u8> {
    let mut d = selector(&format!("finalizeWithdraw({CONFIG_TUPLE})")).to_vec();
    d.extend_from_slice(&config_words(c));
    d
}

fn refund_tx(parties: &Parties, config: &ChannelConfig, amount: u128, nonce: u128) -> Vec<u8> {
    let chain = chain();
    let id = channel_id(config, chain.chain_id);
    let s = parties
        .authorizer
        .sign_digest(&refund_digest(
            chain.chain_id,
            &id,
            &Amount::from(nonce),
            &Amount::from(amount),
        ))
        .to_bytes();
    let mut out = vec![0u8; bs::refund_with_signature_len(s.len())];
    bs::refund_with_signature(
        config,
        &Amount::from(amount),
        &Amount::from(nonce),
        &s,
        &mut out,
    )
    .unwrap();
    out
}

fn advance_time(seconds: u64) {
    let url = &chain().url;
    raw_rpc(url, "evm_increaseTime", json!([seconds]));
    raw_rpc(url, "evm_mine", json!([]));
}

// ---------------------------------------------------------------- the tests

#[test]
#[ignore = "needs a local chain: run scripts/test-settlement.sh"]
fn deposits_through_both_collectors_open_and_fund_channels() {
    let _g = serial();
    let chain = chain();
    let p = Parties::new("deposits");
    let base = u(chain.balance(&BATCH_SETTLEMENT_ADDRESS));
    let (a, ca) = p.payer("deposits/eip3009", 1_000_000, false);
    let (b, cb) = p.payer("deposits/permit2", 1_000_000, true);
    let (pa, pb) = (a.address(), b.address());

    // The contract's channel id is the crate's.
    let mut get_id = selector(&format!("getChannelId({CONFIG_TUPLE})")).to_vec();
    get_id.extend_from_slice(&config_words(&ca));
    assert_eq!(
        eth_call(&chain.url, BATCH_SETTLEMENT_ADDRESS, &get_id).unwrap(),
        channel_id(&ca, chain.chain_id).0.to_vec()
    );
    check_state(&ca, 0, 0, 0);

    let (_, a1) = deposit_call(&p, &a, &ca, 300_000, false, &[], "deposits/a1");
    p.send(&a1).unwrap();
    p.check(&[(&pa, 700_000), (&pb, 1_000_000)], 0, base + 300_000);
    check_state(&ca, 300_000, 0, 0);

    let (_, b1) = deposit_call(&p, &b, &cb, 250_000, true, &[], "deposits/b1");
    p.send(&b1).unwrap();
    p.check(&[(&pa, 700_000), (&pb, 750_000)], 0, base + 550_000);
    check_state(&cb, 250_000, 0, 0);

    // Replayed deposits: the token refuses the used EIP-3009 authorization,
    // Permit2 the used nonce; nothing moves.
    assert_eq!(
        p.send(&a1),
        Err(error_string("EIP3009: authorization is used or canceled"))
    );
    assert_eq!(p.send(&b1), Err(revert_selector("InvalidNonce()")));
    p.check(&[(&pa, 700_000), (&pb, 750_000)], 0, base + 550_000);
    check_state(&ca, 300_000, 0, 0);
    check_state(&cb, 250_000, 0, 0);

    // A second deposit tops the channel up.
    deposit(&p, &a, &ca, 50_000, false, "deposits/a2");
    p.check(&[(&pa, 650_000), (&pb, 750_000)], 0, base + 600_000);
    check_state(&ca, 350_000, 0, 0);

    // The collectors take calls from the contract only.
    let mut direct = selector("collect(address,address,uint256,bytes32,bytes)").to_vec();
    direct.extend_from_slice(&pa.to_word());
    direct.extend_from_slice(&chain.token.to_word());
    direct.extend_from_slice(&word_u(1));
    direct.extend_from_slice(&[0u8; 32]);
    direct.extend_from_slice(&word_u(5 * 32));
    direct.extend_from_slice(&[0u8; 32]);
    assert_eq!(
        eth_call(&chain.url, ERC3009_DEPOSIT_COLLECTOR_ADDRESS, &direct),
        Err(revert_selector("OnlyX402BatchSettlement()"))
    );
}

#[test]
#[ignore = "needs a local chain: run scripts/test-settlement.sh"]
fn vouchers_on_one_channel_are_verified_and_the_last_one_claimed_and_settled() {
    let _g = serial();
    let chain = chain();
    let n = env_size("PAYWIRE_BATCH_VOUCHERS", 20) as u128;
    assert!(n >= 2);
    let p = Parties::new("vouchers");
    let base = u(chain.balance(&BATCH_SETTLEMENT_ADDRESS));
    // The deposit covers the vouchers and 2,000 more.
    let deposited = n * PRICE + 2_000;
    let (payer, config) = p.payer("vouchers/payer", deposited + 5_000, false);
    let pa = payer.address();
    let first = deposit(&p, &payer, &config, deposited, false, "vouchers/d");
    p.check(&[(&pa, 5_000)], 0, base + deposited);

    // Request i is paid by a voucher for i × PRICE: each is verified as the
    // server's facilitator would (channel state read from the chain), and
    // follows the previous one by exactly the price.
    let req = p.requirements("eip3009");
    let on_chain = state(&config);
    let mut last = first.voucher;
    for i in 2..=n {
        let v = create_voucher(&payer, &config, chain.chain_id, Amount::from(i * PRICE)).unwrap();
        verified(&v, &req, on_chain, None);
        check_cumulative(
            PayloadType::Voucher,
            &v.voucher.max_claimable_amount,
            &last.max_claimable_amount,
            &req.amount,
        )
        .unwrap();
        last = v.voucher;
    }
    assert_eq!(u(last.max_claimable_amount), n * PRICE);

    // Above the voucher's ceiling (within the balance): refused.
    assert_eq!(
        p.claim(&[(config, &last, n * PRICE + 1)]),
        Err(revert_selector("ClaimExceedsCeiling()"))
    );
    // A voucher signed by someone else: refused.
    let forged = client::sign_voucher(
        &p.authorizer,
        chain.chain_id,
        last.channel_id,
        last.max_claimable_amount,
    )
    .unwrap();
    assert_eq!(
        p.claim(&[(config, &forged, n * PRICE)]),
        Err(revert_selector("InvalidSignature()"))
    );
    p.check(&[(&pa, 5_000)], 0, base + deposited);
    check_state(&config, deposited, 0, 0);

    // The last voucher, claimed in full; the funds stay in the contract.
    p.claim(&[(config, &last, n * PRICE)]).unwrap();
    check_state(&config, deposited, n * PRICE, 0);
    p.check(&[(&pa, 5_000)], 0, base + deposited);
    // An earlier voucher claimed again changes nothing (cumulative totals).
    p.claim(&[(config, &first.voucher, PRICE)]).unwrap();
    check_state(&config, deposited, n * PRICE, 0);

    // Against the state on chain now, a voucher at or below the claimed
    // total no longer verifies.
    let stale = create_voucher(&payer, &config, chain.chain_id, Amount::from(n * PRICE)).unwrap();
    let v = verify_payload(
        &stale.payload(),
        &req,
        chain.now(),
        &ChainFacts {
            channel: Some(state(&config)),
            payer_balance: None,
        },
        &Config::default(),
    );
    assert_eq!(
        v.reason_str(),
        Some("invalid_batch_settlement_evm_cumulative_below_claimed")
    );

    let swept = p.settle().unwrap();
    assert_eq!(
        transfers(swept),
        vec![(BATCH_SETTLEMENT_ADDRESS, p.receiver, n * PRICE)]
    );
    p.check(&[(&pa, 5_000)], n * PRICE, base + 2_000);
    // Nothing more to sweep: a no-op.
    assert_eq!(transfers(p.settle().unwrap()), vec![]);
    p.check(&[(&pa, 5_000)], n * PRICE, base + 2_000);
    check_state(&config, deposited, n * PRICE, 0);
}

#[test]
#[ignore = "needs a local chain: run scripts/test-settlement.sh"]
fn one_claim_with_signature_covers_many_channels_and_one_settle_sweeps_them() {
    let _g = serial();
    let chain = chain();
    let m = env_size("PAYWIRE_BATCH_CHANNELS", 3) as u128;
    assert!(m >= 2);
    let p = Parties::new("channels");
    let base = u(chain.balance(&BATCH_SETTLEMENT_ADDRESS));
    let mut payers = Vec::new();
    let mut deposited = 0;
    for i in 0..m {
        let permit2 = i % 2 == 1;
        let label = format!("channels/payer{i}");
        let (payer, config) = p.payer(&label, 100_000, permit2);
        let amount = 20_000 + i * 100;
        deposit(&p, &payer, &config, amount, permit2, &label);
        deposited += amount;
        payers.push((payer, config, amount));
    }
    // Each channel's voucher: a ceiling of 10,000 + 10·i; even channels are
    // claimed in full, odd ones 7 below their ceiling.
    let vouchers: Vec<_> = payers
        .iter()
        .enumerate()
        .map(|(i, (payer, config, _))| {
            create_voucher(
                payer,
                config,
                chain.chain_id,
                Amount::from(10_000 + 10 * i as u128),
            )
            .unwrap()
            .voucher
        })
        .collect();
    let total = |i: usize| 10_000 + 10 * i as u128 - if i % 2 == 1 { 7 } else { 0 };
    let claims: Vec<_> = payers
        .iter()
        .zip(&vouchers)
        .enumerate()
        .map(|(i, ((_, c, _), v))| (*c, v, total(i)))
        .collect();
    let claimed: u128 = (0..claims.len()).map(total).sum();
    let balances = |p: &Parties, receiver: u128, contract: u128| {
        let expect: Vec<_> = payers
            .iter()
            .map(|(k, _, amount)| (k.address(), 100_000 - amount))
            .collect();
        let refs: Vec<_> = expect.iter().map(|(a, b)| (a, *b)).collect();
        p.check(&refs, receiver, contract);
    };
    balances(&p, 0, base + deposited);

    // A row of a channel with another receiver authorizer: refused whole.
    let mut foreign = claims[0].0;
    foreign.receiver_authorizer = bkey("channels/other-authorizer").address();
    let mut mixed = claims.clone();
    mixed.push((foreign, claims[0].1, 1));
    assert_eq!(
        p.claim(&mixed),
        Err(revert_selector("NotReceiverAuthorizer()"))
    );
    // Signed by another key than the receiver authorizer: refused whole.
    let impostor = Parties {
        receiver: p.receiver,
        authorizer: bkey("channels/impostor"),
        facilitator: bkey("channels/facilitator"),
    };
    assert_eq!(
        impostor.claim(&claims),
        Err(revert_selector("InvalidSignature()"))
    );

    p.claim(&claims).unwrap();
    for (i, (_, c, amount)) in payers.iter().enumerate() {
        check_state(c, *amount, total(i), 0);
    }
    balances(&p, 0, base + deposited);
    // The same batch again: nothing moves.
    p.claim(&claims).unwrap();
    for (i, (_, c, amount)) in payers.iter().enumerate() {
        check_state(c, *amount, total(i), 0);
    }

    // One settle pays the receiver everything claimed, in one transfer.
    let swept = p.settle().unwrap();
    assert_eq!(
        transfers(swept),
        vec![(BATCH_SETTLEMENT_ADDRESS, p.receiver, claimed)]
    );
    balances(&p, claimed, base + deposited - claimed);
}

#[test]
#[ignore = "needs a local chain: run scripts/test-settlement.sh"]
fn cooperative_refund_with_signature_returns_the_unclaimed_rest_once() {
    let _g = serial();
    let chain = chain();
    let p = Parties::new("refund");
    let base = u(chain.balance(&BATCH_SETTLEMENT_ADDRESS));
    let (payer, config) = p.payer("refund/payer", 60_000, false);
    let pa = payer.address();
    deposit(&p, &payer, &config, 50_000, false, "refund/d");
    let charged =
        create_voucher(&payer, &config, chain.chain_id, Amount::from(20_000u128)).unwrap();
    p.claim(&[(config, &charged.voucher, 20_000)]).unwrap();
    check_state(&config, 50_000, 20_000, 0);
    p.check(&[(&pa, 10_000)], 0, base + 50_000);

    // The payer asks for the rest back (a refund payload at the charged
    // total), which verifies against the channel's state on chain.
    let req = p.requirements("eip3009");
    let asked = create_refund(
        &payer,
        &config,
        chain.chain_id,
        Amount::from(20_000u128),
        None,
    )
    .unwrap();
    verified(&asked, &req, state(&config), None);

    // A signature for another nonce is refused.
    assert_eq!(
        p.send(&refund_tx(&p, &config, 30_000, 1)),
        Err(revert_selector("InvalidRefundNonce()"))
    );
    // Asking more than is unclaimed refunds what is unclaimed.
    let nonce = u(state(&config).refund_nonce);
    let refund = refund_tx(&p, &config, 1_000_000, nonce);
    p.send(&refund).unwrap();
    check_state(&config, 20_000, 20_000, 1);
    p.check(&[(&pa, 40_000)], 0, base + 20_000);

    // Replayed: the nonce has moved on.
    assert_eq!(
        p.send(&refund),
        Err(revert_selector("InvalidRefundNonce()"))
    );
    check_state(&config, 20_000, 20_000, 1);
    p.check(&[(&pa, 40_000)], 0, base + 20_000);

    p.settle().unwrap();
    p.check(&[(&pa, 40_000)], 20_000, base);
}

#[test]
#[ignore = "needs a local chain: run scripts/test-settlement.sh"]
fn a_claim_before_the_timed_withdrawal_is_finalized_wins_what_it_claims() {
    let _g = serial();
    let chain = chain();
    let p = Parties::new("withdraw");
    let base = u(chain.balance(&BATCH_SETTLEMENT_ADDRESS));
    let (payer, config) = p.payer("withdraw/payer", 40_000, false);
    let (late, late_config) = p.payer("withdraw/late-payer", 40_000, true);
    let (pa, pl) = (payer.address(), late.address());
    deposit(&p, &payer, &config, 40_000, false, "withdraw/d");
    deposit(&p, &late, &late_config, 30_000, true, "withdraw/dl");
    p.check(&[(&pa, 0), (&pl, 10_000)], 0, base + 70_000);

    // Both payers start withdrawing everything, with vouchers outstanding.
    let owed = create_voucher(&payer, &config, chain.chain_id, Amount::from(25_000u128)).unwrap();
    let owed_late = create_voucher(
        &late,
        &late_config,
        chain.chain_id,
        Amount::from(12_000u128),
    )
    .unwrap();
    send_as(&payer, &initiate_withdraw(&config, 40_000)).unwrap();
    send_as(&late, &initiate_withdraw(&late_config, 30_000)).unwrap();
    let at = state(&config).withdraw_requested_at;
    assert!(at > 0);
    assert_eq!(pending_amount(&config), 40_000);
    assert_eq!(
        send_as(&payer, &initiate_withdraw(&config, 1)),
        Err(revert_selector("WithdrawalAlreadyPending()"))
    );
    assert_eq!(
        send_as(&payer, &finalize_withdraw(&config)),
        Err(revert_selector("WithdrawDelayNotElapsed()"))
    );
    // Only the payer's side may finalize.
    assert_eq!(
        p.send(&finalize_withdraw(&config)),
        Err(revert_selector("NotAuthorizedToFinalizeWithdraw()"))
    );

    // The receiver's claim lands within the delay.
    p.claim(&[(config, &owed.voucher, 25_000)]).unwrap();
    check_state(&config, 40_000, 25_000, 0);

    advance_time(MIN_WITHDRAW_DELAY);
    assert!(chain.now() >= at + MIN_WITHDRAW_DELAY);

    // The withdrawal pays only what was not claimed.
    send_as(&payer, &finalize_withdraw(&config)).unwrap();
    check_state(&config, 25_000, 25_000, 0);
    assert_eq!(state(&config).withdraw_requested_at, 0);
    assert_eq!(pending_amount(&config), 0);
    p.check(&[(&pa, 15_000), (&pl, 10_000)], 0, base + 55_000);

    // The late payer finalizes first: everything is withdrawn, and the claim
    // that comes after finds no balance.
    send_as(&late, &finalize_withdraw(&late_config)).unwrap();
    check_state(&late_config, 0, 0, 0);
    p.check(&[(&pa, 15_000), (&pl, 40_000)], 0, base + 25_000);
    assert_eq!(
        p.claim(&[(late_config, &owed_late.voucher, 12_000)]),
        Err(revert_selector("ClaimExceedsBalance()"))
    );

    p.settle().unwrap();
    p.check(&[(&pa, 15_000), (&pl, 40_000)], 25_000, base);
}

/// `abi.encode(value, deadline, v, r, s)`: the payer's EIP-2612 permit of
/// `value` for Permit2, signed with the crate (`gas_sponsoring::permit_digest`).
fn eip2612_permit_data(payer: &PrivateKey, value: u128) -> Vec<u8> {
    let chain = chain();
    let deadline = Amount::from(chain.now() + 300);
    let mut nonces = selector("nonces(address)").to_vec();
    nonces.extend_from_slice(&payer.address().to_word());
    let nonce = Amount::from_be_bytes(chain.token_call(&nonces).unwrap()[..32].try_into().unwrap());
    let domain = Domain::eip3009(
        JsonStr::new("USD Coin"),
        JsonStr::new("2"),
        chain.chain_id,
        chain.token,
    );
    let digest = permit_digest(
        &domain,
        &payer.address(),
        &PERMIT2_ADDRESS,
        &Amount::from(value),
        &nonce,
        &deadline,
    );
    let sig = payer.sign_digest(&digest).to_bytes();
    let mut out = word_u(value).to_vec();
    out.extend_from_slice(&deadline.to_be_bytes());
    out.extend_from_slice(&word_u(u128::from(sig[64])));
    out.extend_from_slice(&sig[..64]);
    out
}

fn permit2_allowance(owner: &Address) -> u128 {
    let mut data = selector("allowance(address,address)").to_vec();
    data.extend_from_slice(&owner.to_word());
    data.extend_from_slice(&PERMIT2_ADDRESS.to_word());
    u(Amount::from_be_bytes(
        chain().token_call(&data).unwrap()[..32].try_into().unwrap(),
    ))
}

#[test]
#[ignore = "needs a local chain: run scripts/test-settlement.sh"]
fn a_permit2_deposit_carrying_an_eip2612_permit_needs_no_prior_allowance() {
    let _g = serial();
    let chain = chain();
    let p = Parties::new("eip2612");
    let base = u(chain.balance(&BATCH_SETTLEMENT_ADDRESS));
    // No approval of Permit2: the permit in the collector data grants it.
    let (payer, config) = p.payer("eip2612/payer", 100_000, false);
    let pa = payer.address();
    assert_eq!(permit2_allowance(&pa), 0);

    // A permit for another amount than the deposit is refused.
    let (_, wrong) = deposit_call(
        &p,
        &payer,
        &config,
        60_000,
        true,
        &eip2612_permit_data(&payer, 60_001),
        "eip2612/wrong",
    );
    assert_eq!(
        p.send(&wrong),
        Err(revert_selector("Permit2612AmountMismatch()"))
    );
    p.check(&[(&pa, 100_000)], 0, base);

    let (_, data) = deposit_call(
        &p,
        &payer,
        &config,
        60_000,
        true,
        &eip2612_permit_data(&payer, 60_000),
        "eip2612/d",
    );
    p.send(&data).unwrap();
    p.check(&[(&pa, 40_000)], 0, base + 60_000);
    check_state(&config, 60_000, 0, 0);
    // The permit's allowance was used up by the transfer.
    assert_eq!(permit2_allowance(&pa), 0);
}
