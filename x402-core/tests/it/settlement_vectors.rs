//! Known answers from an independent implementation (viem, with the x402 SDK's
//! own contract ABIs) for the settlement side: RLP, signed EIP-1559
//! transactions, calldata, call results, revert data and CREATE addresses.
//! The vectors are `tests/vectors/settlement.json`, written by
//! `tests/vectors/gen/src/gen-settlement.mjs`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use paywire::Amount;
use paywire::evm::abi::{self, Revert};
use paywire::evm::rlp::{self, Item};
use paywire::evm::tx::{Eip1559Transaction, create_address};
use paywire::evm::{Address, B256, PrivateKey};
use paywire::types::payload::{
    Eip3009Authorization, Permit2Authorization, TokenPermissions, Witness,
};
use serde_json::Value;

fn vectors() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/settlement.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn unhex(s: &str) -> Vec<u8> {
    let h = s.strip_prefix("0x").unwrap();
    assert!(h.len().is_multiple_of(2), "{s}");
    (0..h.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
        .collect()
}

fn hex(b: &[u8]) -> String {
    let mut s = String::from("0x");
    for x in b {
        s.push_str(&format!("{x:02x}"));
    }
    s
}

fn amount(v: &Value) -> Amount {
    v.as_str().unwrap().parse().unwrap()
}

fn address(v: &Value) -> Address {
    v.as_str().unwrap().parse().unwrap()
}

/// Holds the byte strings and lists an `Item` tree borrows.
enum Tree {
    Bytes(Vec<u8>),
    List(Vec<Tree>),
}

fn tree(v: &Value) -> Tree {
    match v {
        Value::String(s) => Tree::Bytes(unhex(s)),
        Value::Array(a) => Tree::List(a.iter().map(tree).collect()),
        _ => panic!("rlp input {v}"),
    }
}

/// The crate's item tree for an input (list slices leaked: this is a test).
fn to_item(t: &Tree) -> Item<'_> {
    match t {
        Tree::Bytes(b) => Item::Bytes(b),
        Tree::List(children) => Item::List(Box::leak(
            children
                .iter()
                .map(to_item)
                .collect::<Vec<_>>()
                .into_boxed_slice(),
        )),
    }
}

#[test]
fn rlp_matches_viem() {
    let v = vectors();
    let cases = v["rlp"].as_array().unwrap();
    assert!(cases.len() >= 20);
    for c in cases {
        let name = c["name"].as_str().unwrap();
        let want = unhex(c["encoded"].as_str().unwrap());
        let t = tree(&c["input"]);
        let item = to_item(&t);
        let mut got = vec![0u8; rlp::encoded_len(&item)];
        assert_eq!(rlp::encode(&item, &mut got).unwrap(), got.len());
        assert_eq!(hex(&got), hex(&want), "{name}");
        // Integers: the scalar encoding strips leading zeros the same way.
        if let Some(n) = name.strip_prefix("integer ") {
            let item = Item::amount(&n.parse::<Amount>().unwrap());
            let mut out = vec![0u8; rlp::encoded_len(&item)];
            rlp::encode(&item, &mut out).unwrap();
            assert_eq!(hex(&out), hex(&want), "{name} as a scalar");
        }
    }
    // The nested cases once more through Item::List of Item::List.
    let three = Item::List(&[
        Item::List(&[]),
        Item::List(&[Item::List(&[])]),
        Item::List(&[Item::List(&[]), Item::List(&[Item::List(&[])])]),
    ]);
    let want = cases
        .iter()
        .find(|c| c["name"] == "set-theoretic three")
        .unwrap();
    let mut out = vec![0u8; rlp::encoded_len(&three)];
    rlp::encode(&three, &mut out).unwrap();
    assert_eq!(hex(&out), want["encoded"].as_str().unwrap());
}

#[test]
fn eip1559_transactions_match_viem() {
    let v = vectors();
    let cases = v["transactions"].as_array().unwrap();
    assert!(cases.len() >= 18);
    for c in cases {
        let name = c["name"].as_str().unwrap();
        let t = &c["tx"];
        let data = unhex(t["data"].as_str().unwrap());
        let to = t["to"].as_str().map(|s| s.parse::<Address>().unwrap());
        let tx = Eip1559Transaction {
            chain_id: t["chainId"].as_u64().unwrap(),
            nonce: t["nonce"].as_str().unwrap().parse().unwrap(),
            max_priority_fee_per_gas: t["maxPriorityFeePerGas"].as_str().unwrap().parse().unwrap(),
            max_fee_per_gas: t["maxFeePerGas"].as_str().unwrap().parse().unwrap(),
            gas_limit: t["gasLimit"].as_str().unwrap().parse().unwrap(),
            to,
            value: amount(&t["value"]),
            data: &data,
        };
        assert_eq!(
            hex(&tx.signing_hash()),
            c["signingHash"].as_str().unwrap(),
            "{name}: signing hash"
        );
        let key = PrivateKey::from_hex(c["privateKey"].as_str().unwrap()).unwrap();
        assert_eq!(key.address(), address(&c["from"]), "{name}");
        let signed = tx.sign(&key);
        assert_eq!(hex(&signed.r), c["r"].as_str().unwrap(), "{name}: r");
        assert_eq!(hex(&signed.s), c["s"].as_str().unwrap(), "{name}: s");
        assert_eq!(
            u64::from(signed.y_parity),
            c["yParity"].as_u64().unwrap(),
            "{name}"
        );
        let mut raw = vec![0u8; signed.encoded_len()];
        assert_eq!(signed.encode(&mut raw).unwrap(), raw.len());
        assert_eq!(hex(&raw), c["signed"].as_str().unwrap(), "{name}: encoding");
        assert_eq!(
            signed.hash().to_string(),
            c["hash"].as_str().unwrap(),
            "{name}: hash"
        );
        assert_eq!(signed.recover_sender().unwrap(), key.address(), "{name}");
    }
}

fn eip3009(a: &Value) -> Eip3009Authorization {
    Eip3009Authorization {
        from: address(&a["from"]),
        to: address(&a["to"]),
        value: amount(&a["value"]),
        valid_after: amount(&a["validAfter"]),
        valid_before: amount(&a["validBefore"]),
        nonce: a["nonce"].as_str().unwrap().parse().unwrap(),
    }
}

fn permit2(p: &Value) -> Permit2Authorization {
    Permit2Authorization {
        from: address(&p["from"]),
        permitted: TokenPermissions {
            token: address(&p["permitted"]["token"]),
            amount: amount(&p["permitted"]["amount"]),
        },
        spender: address(&p["spender"]),
        nonce: amount(&p["nonce"]),
        deadline: amount(&p["deadline"]),
        witness: Witness {
            to: address(&p["witness"]["to"]),
            facilitator: p["witness"].get("facilitator").map(address),
            valid_after: amount(&p["witness"]["validAfter"]),
        },
    }
}

#[test]
fn calldata_matches_the_sdk_abis_through_viem() {
    let v = vectors();
    let cases = v["calldata"].as_array().unwrap();
    assert!(cases.len() >= 30);
    for c in cases {
        let name = c["name"].as_str().unwrap();
        let args = &c["args"];
        let mut buf = [0u8; 1024];
        let got: Vec<u8> = match c["call"].as_str().unwrap() {
            "balanceOf" => abi::balance_of(&address(&args["owner"])).to_vec(),
            "allowance" => {
                abi::allowance(&address(&args["owner"]), &address(&args["spender"])).to_vec()
            }
            "authorizationState" => abi::authorization_state(
                &address(&args["authorizer"]),
                &args["nonce"].as_str().unwrap().parse::<B256>().unwrap(),
            )
            .to_vec(),
            "name" => abi::name().to_vec(),
            "version" => abi::version().to_vec(),
            "PERMIT2" => abi::permit2().to_vec(),
            "transferWithAuthorizationVrs" => {
                let sig: [u8; 65] = unhex(args["signature"].as_str().unwrap())
                    .try_into()
                    .unwrap();
                abi::transfer_with_authorization_sig(&eip3009(&args["authorization"]), &sig)
                    .to_vec()
            }
            "transferWithAuthorizationBytes" => {
                let sig = unhex(args["signature"].as_str().unwrap());
                let a = eip3009(&args["authorization"]);
                let n = abi::transfer_with_authorization_bytes(&a, &sig, &mut buf).unwrap();
                assert_eq!(n, abi::transfer_with_authorization_bytes_len(sig.len()));
                buf[..n].to_vec()
            }
            "exactPermit2Settle" => {
                let sig = unhex(args["signature"].as_str().unwrap());
                let n = abi::exact_permit2_settle(
                    &permit2(&args["permit2Authorization"]),
                    &sig,
                    &mut buf,
                )
                .unwrap();
                assert_eq!(n, abi::exact_permit2_settle_len(sig.len()));
                buf[..n].to_vec()
            }
            "uptoPermit2Settle" => {
                let sig = unhex(args["signature"].as_str().unwrap());
                let n = abi::upto_permit2_settle(
                    &permit2(&args["permit2Authorization"]),
                    &amount(&args["amount"]),
                    &sig,
                    &mut buf,
                )
                .unwrap();
                assert_eq!(n, abi::upto_permit2_settle_len(sig.len()));
                buf[..n].to_vec()
            }
            other => panic!("unknown call {other}"),
        };
        assert_eq!(hex(&got), c["calldata"].as_str().unwrap(), "{name}");
    }
}

#[test]
fn results_decode_as_viem_encodes_them() {
    let v = vectors();
    for c in v["results"].as_array().unwrap() {
        let name = c["name"].as_str().unwrap();
        let data = unhex(c["data"].as_str().unwrap());
        match c["type"].as_str().unwrap() {
            "string" => assert_eq!(
                abi::decode_string(&data).unwrap(),
                c["value"].as_str().unwrap(),
                "{name}"
            ),
            "uint256" => assert_eq!(
                abi::decode_uint(&data).unwrap(),
                amount(&c["value"]),
                "{name}"
            ),
            "bool" => assert_eq!(
                abi::decode_bool(&data).unwrap(),
                c["value"].as_bool().unwrap(),
                "{name}"
            ),
            "address" => assert_eq!(
                abi::decode_address(&data).unwrap(),
                address(&c["value"]),
                "{name}"
            ),
            t => panic!("type {t}"),
        }
        // Data cut short of its content never decodes (and never panics).
        let cut = match c["type"].as_str().unwrap() {
            "string" => 64 + c["value"].as_str().unwrap().len(),
            _ => 32,
        };
        if cut > 64 || c["type"] != "string" {
            let short = &data[..cut - 1];
            match c["type"].as_str().unwrap() {
                "string" => assert!(abi::decode_string(short).is_err(), "{name}"),
                "bool" => assert!(abi::decode_bool(short).is_err(), "{name}"),
                "address" => assert!(abi::decode_address(short).is_err(), "{name}"),
                _ => assert!(abi::decode_uint(short).is_err(), "{name}"),
            }
        }
    }
}

#[test]
fn revert_data_decodes_as_viem_encodes_it() {
    let v = vectors();
    let cases = v["reverts"].as_array().unwrap();
    for c in cases {
        let name = c["name"].as_str().unwrap();
        let data = unhex(c["data"].as_str().unwrap());
        let e = &c["expect"];
        match (e["kind"].as_str().unwrap(), abi::decode_revert(&data)) {
            ("reason", Revert::Reason(s)) => assert_eq!(s, e["text"].as_str().unwrap(), "{name}"),
            ("panic", Revert::Panic(code)) => {
                assert_eq!(code, e["code"].as_u64().unwrap(), "{name}")
            }
            ("custom", Revert::Custom(err)) => {
                assert_eq!(err.signature, e["signature"].as_str().unwrap(), "{name}")
            }
            ("empty", Revert::Empty) | ("unknown", Revert::Unknown(_)) => {}
            (kind, got) => panic!("{name}: expected {kind}, decoded {got:?}"),
        }
    }
    // Every custom error of the SDK's proxy ABIs is known by name.
    let custom = cases
        .iter()
        .filter(|c| c["expect"]["kind"] == "custom")
        .count();
    assert!(custom >= 20, "{custom}");
}

#[test]
fn create_addresses_match_viem() {
    let v = vectors();
    for c in v["createAddresses"].as_array().unwrap() {
        let from = address(&c["from"]);
        let nonce: u64 = c["nonce"].as_str().unwrap().parse().unwrap();
        assert_eq!(
            create_address(&from, nonce),
            address(&c["address"]),
            "nonce {nonce}"
        );
    }
}
