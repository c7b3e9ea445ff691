//! The local chain of the on-chain tests, shared by their modules: a minimal
//! HTTP client over `TcpStream` (127.0.0.1 only, so that the crate itself stays
//! free of I/O), the node's URL and compiled contracts from `PAYWIRE_TEST_RPC`
//! and `PAYWIRE_TEST_CONTRACTS`, the test token (deployed by a transaction
//! built and signed by this crate) with Permit2 and the x402 Permit2 proxies
//! at their canonical addresses, and transactions built, signed and sent by
//! this crate, their receipts awaited.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use paywire::Amount;
use paywire::evm::eip712::{PERMIT2_ADDRESS, X402_EXACT_PERMIT2_PROXY, X402_UPTO_PERMIT2_PROXY};
use paywire::evm::tx::{Eip1559Transaction, create_address};
use paywire::evm::{Address, B256, PrivateKey, abi, keccak256};
use paywire::json::ToJson;
use paywire::rpc::{self, BlockTag, CallRequest, Envelope, Request};
use serde_json::{Value, json};

pub(crate) const NEEDS_CHAIN: &str = "needs a local chain: run scripts/test-settlement.sh";

// ---------------------------------------------------------------- transport

/// POSTs `body` to the node and returns the response body. 127.0.0.1 only.
pub(crate) fn http_post(url: &str, body: &str) -> Vec<u8> {
    let host = url
        .strip_prefix("http://")
        .expect("http URL")
        .trim_end_matches('/');
    assert!(
        host.starts_with("127.0.0.1:"),
        "tests talk to 127.0.0.1 only"
    );
    let mut s = TcpStream::connect(host).expect("connect to the local chain");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("HTTP header end");
    let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 200"), "HTTP status: {head}");
    let payload = &raw[split + 4..];
    if head.contains("transfer-encoding: chunked") {
        dechunk(payload)
    } else {
        payload.to_vec()
    }
}

pub(crate) fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let eol = b.windows(2).position(|w| w == b"\r\n").expect("chunk size");
        let size_text = std::str::from_utf8(&b[..eol]).unwrap();
        let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16).unwrap();
        b = &b[eol + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&b[..size]);
        b = &b[size + 2..];
    }
}

// ---------------------------------------------------------------- the chain

pub(crate) struct Chain {
    pub(crate) url: String,
    pub(crate) chain_id: u64,
    pub(crate) network: String,
    pub(crate) token: Address,
    pub(crate) deployer: PrivateKey,
    /// The compiled contracts (`compile.mjs`'s output).
    pub(crate) artifacts: Value,
}

static CHAIN: OnceLock<Chain> = OnceLock::new();
static SERIAL: Mutex<()> = Mutex::new(());

/// One test at a time: they share the deployer's account nonce.
pub(crate) fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

pub(crate) fn key(label: &str) -> PrivateKey {
    PrivateKey::from_bytes(&keccak256(
        format!("x402 settlement test/{label}").as_bytes(),
    ))
    .unwrap()
}

/// A JSON-RPC call for test setup (Hardhat's own methods), through serde_json.
pub(crate) fn raw_rpc(url: &str, method: &str, params: Value) -> Value {
    let body = json!({"jsonrpc":"2.0","id":1,"method":method,"params":params}).to_string();
    let resp: Value = serde_json::from_slice(&http_post(url, &body)).unwrap();
    if let Some(e) = resp.get("error") {
        panic!("{method} failed: {e}");
    }
    resp["result"].clone()
}

/// A call through this crate's codec; returns the response body.
pub(crate) fn call(url: &str, request: Request<'_>) -> Vec<u8> {
    http_post(url, &Envelope { id: 42, request }.to_json_string())
}

pub(crate) fn selector(sig: &str) -> [u8; 4] {
    keccak256(sig.as_bytes())[..4].try_into().unwrap()
}

pub(crate) fn word_u(v: u128) -> [u8; 32] {
    abi::uint_word(&Amount::from(v))
}

/// ABI encoding of `(string, string, string)` (the token's constructor).
pub(crate) fn abi_strings(items: &[&str]) -> Vec<u8> {
    let mut head = Vec::new();
    let mut tail = Vec::new();
    for s in items {
        head.extend_from_slice(&word_u((items.len() * 32 + tail.len()) as u128));
        tail.extend_from_slice(&word_u(s.len() as u128));
        tail.extend_from_slice(s.as_bytes());
        tail.resize(tail.len().div_ceil(32) * 32, 0);
    }
    head.extend_from_slice(&tail);
    head
}

pub(crate) fn hex(b: &[u8]) -> String {
    let mut s = String::from("0x");
    for x in b {
        s.push_str(&format!("{x:02x}"));
    }
    s
}

pub(crate) fn unhex(s: &str) -> Vec<u8> {
    let h = s.strip_prefix("0x").unwrap();
    (0..h.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
        .collect()
}

impl Chain {
    pub(crate) fn get() -> &'static Chain {
        CHAIN.get_or_init(Chain::setup)
    }

    pub(crate) fn setup() -> Chain {
        let url = std::env::var("PAYWIRE_TEST_RPC").expect(NEEDS_CHAIN);
        let artifacts: Value = serde_json::from_slice(
            &std::fs::read(std::env::var("PAYWIRE_TEST_CONTRACTS").expect(NEEDS_CHAIN)).unwrap(),
        )
        .unwrap();
        let contract = |name: &str, field: &str| {
            artifacts["contracts"][name][field]
                .as_str()
                .unwrap()
                .to_owned()
        };
        let chain_id = u64::from_str_radix(
            raw_rpc(&url, "eth_chainId", json!([]))
                .as_str()
                .unwrap()
                .trim_start_matches("0x"),
            16,
        )
        .unwrap();
        let deployer = key("deployer");
        fund(&url, &deployer.address());
        // The token is created by a contract-creation transaction built and signed here.
        let mut init = unhex(&contract("Eip3009Token", "bytecode"));
        init.extend_from_slice(&abi_strings(&["USD Coin", "2", "USDC"]));
        let nonce = account_nonce(&url, &deployer.address());
        let receipt = send_tx(&url, chain_id, &deployer, None, &init, None);
        assert!(receipt.status, "token deployment reverted");
        let token = receipt.contract_address.expect("contractAddress");
        assert_eq!(token, create_address(&deployer.address(), nonce));
        let chain = Chain {
            network: format!("eip155:{chain_id}"),
            url,
            chain_id,
            token,
            deployer,
            artifacts,
        };
        // Permit2 and the two x402 proxies sit at their canonical addresses.
        for (addr, name) in [
            (PERMIT2_ADDRESS, "Permit2SignatureTransfer"),
            (X402_EXACT_PERMIT2_PROXY, "X402ExactPermit2Proxy"),
            (X402_UPTO_PERMIT2_PROXY, "X402UptoPermit2Proxy"),
        ] {
            chain.place(&addr, name);
        }
        chain
    }

    /// Places the compiled contract `name`'s runtime code at `address`.
    pub(crate) fn place(&self, address: &Address, name: &str) {
        let code = self.artifacts["contracts"][name]["deployedBytecode"]
            .as_str()
            .unwrap_or_else(|| panic!("no compiled contract {name}"));
        raw_rpc(&self.url, "hardhat_setCode", json!([hex(&address.0), code]));
    }

    pub(crate) fn mint(&self, to: &Address, amount: u128) {
        let mut data = selector("mint(address,uint256)").to_vec();
        data.extend_from_slice(&to.to_word());
        data.extend_from_slice(&word_u(amount));
        let r = send_tx(
            &self.url,
            self.chain_id,
            &self.deployer,
            Some(self.token),
            &data,
            None,
        );
        assert!(r.status, "mint reverted");
    }

    pub(crate) fn approve_permit2(&self, owner: &PrivateKey) {
        fund(&self.url, &owner.address());
        let mut data = selector("approve(address,uint256)").to_vec();
        data.extend_from_slice(&PERMIT2_ADDRESS.to_word());
        data.extend_from_slice(&abi::uint_word(&Amount::MAX));
        let r = send_tx(
            &self.url,
            self.chain_id,
            owner,
            Some(self.token),
            &data,
            None,
        );
        assert!(r.status, "approve reverted");
    }

    pub(crate) fn token_call(&self, data: &[u8]) -> Result<Vec<u8>, Vec<u8>> {
        eth_call(&self.url, self.token, data)
    }

    pub(crate) fn balance(&self, owner: &Address) -> Amount {
        abi::decode_uint(&self.token_call(&abi::balance_of(owner)).unwrap()).unwrap()
    }

    pub(crate) fn eth_balance(&self, a: &Address) -> Amount {
        let body = call(
            &self.url,
            Request::GetBalance {
                address: *a,
                block: BlockTag::Latest,
            },
        );
        rpc::quantity_amount(rpc::parse_response(&body).unwrap().result.unwrap()).unwrap()
    }

    pub(crate) fn now(&self) -> u64 {
        let body = call(
            &self.url,
            Request::GetBlockByNumber {
                block: BlockTag::Latest,
            },
        );
        rpc::BlockHeader::from_json(rpc::parse_response(&body).unwrap().result.unwrap())
            .unwrap()
            .timestamp
    }
}

pub(crate) fn fund(url: &str, a: &Address) {
    // 100 ETH for gas.
    raw_rpc(
        url,
        "hardhat_setBalance",
        json!([hex(&a.0), "0x56bc75e2d63100000"]),
    );
}

pub(crate) fn account_nonce(url: &str, a: &Address) -> u64 {
    let body = call(
        url,
        Request::GetTransactionCount {
            address: *a,
            block: BlockTag::Pending,
        },
    );
    rpc::quantity_u64(rpc::parse_response(&body).unwrap().result.unwrap()).unwrap()
}

/// `eth_call`: `Ok(return data)` or `Err(revert data)`.
pub(crate) fn eth_call(url: &str, to: Address, data: &[u8]) -> Result<Vec<u8>, Vec<u8>> {
    eth_call_from(url, None, to, data)
}

/// [`eth_call`] as sent by `from`.
pub(crate) fn eth_call_from(
    url: &str,
    from: Option<Address>,
    to: Address,
    data: &[u8],
) -> Result<Vec<u8>, Vec<u8>> {
    let body = call(
        url,
        Request::Call {
            call: CallRequest {
                from,
                to,
                data,
                gas: None,
            },
            block: BlockTag::Latest,
        },
    );
    let mut out = vec![0u8; 4096];
    match rpc::parse_response(&body).unwrap().result {
        Ok(v) => Ok(rpc::data(v, &mut out).unwrap().to_vec()),
        Err(e) => {
            assert!(e.is_revert(), "not a revert: {e}");
            Err(e.revert_data(&mut out).unwrap().to_vec())
        }
    }
}

pub(crate) struct Mined {
    pub(crate) status: bool,
    pub(crate) hash: B256,
    pub(crate) contract_address: Option<Address>,
}

/// Builds, signs and sends an EIP-1559 transaction with this crate; waits for
/// its receipt. `gas` skips estimation (to send what a simulation would refuse).
pub(crate) fn send_tx(
    url: &str,
    chain_id: u64,
    key: &PrivateKey,
    to: Option<Address>,
    data: &[u8],
    gas: Option<u64>,
) -> Mined {
    let gas_limit = gas.unwrap_or_else(|| {
        let body = call(
            url,
            Request::EstimateGas {
                call: CallRequest {
                    from: Some(key.address()),
                    to: to.unwrap_or_default(),
                    data,
                    gas: None,
                },
            },
        );
        // Contract creation: estimate through serde (CallRequest always has a `to`).
        let est = if to.is_none() {
            let v = raw_rpc(
                url,
                "eth_estimateGas",
                json!([{"from": hex(&key.address().0), "data": hex(data)}]),
            );
            u64::from_str_radix(v.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
        } else {
            rpc::quantity_u64(rpc::parse_response(&body).unwrap().result.unwrap()).unwrap()
        };
        est * 12 / 10
    });
    let base = {
        let body = call(
            url,
            Request::GetBlockByNumber {
                block: BlockTag::Latest,
            },
        );
        rpc::BlockHeader::from_json(rpc::parse_response(&body).unwrap().result.unwrap())
            .unwrap()
            .base_fee_per_gas
            .unwrap()
    };
    let tx = Eip1559Transaction {
        chain_id,
        nonce: account_nonce(url, &key.address()),
        max_priority_fee_per_gas: 1_000_000,
        max_fee_per_gas: base * 2 + 1_000_000,
        gas_limit,
        to,
        value: Amount::ZERO,
        data,
    };
    let signed = tx.sign(key);
    let body = call(url, Request::SendRawTransaction { tx: signed });
    let sent = rpc::parse_response(&body)
        .unwrap()
        .result
        .expect("sendRawTransaction");
    let hash = rpc::hash(sent, "result").unwrap();
    assert_eq!(hash, signed.hash(), "the node's transaction hash is ours");
    let body = call(url, Request::GetTransactionReceipt { hash });
    let r = rpc::Receipt::from_json(rpc::parse_response(&body).unwrap().result.unwrap())
        .unwrap()
        .expect("mined (automine)");
    Mined {
        status: r.status,
        hash: r.transaction_hash,
        contract_address: r.contract_address,
    }
}
