//! Ethereum JSON-RPC 2.0: the requests a facilitator sends and the responses it
//! reads, without I/O and without allocation.
//!
//! [`Request`] names a call; [`Envelope`] adds the `id` and writes
//! `{"jsonrpc":"2.0","id":…,"method":…,"params":[…]}` into any [`Sink`].
//! [`parse_response`] reads an answer into a [`Response`] view: its `result`, or
//! its `error` with the revert data a node attaches to a failed `eth_call` /
//! `eth_estimateGas` (geth, anvil, reth and erigon put it in `error.data` as a hex
//! string, Hardhat in `error.data.data`). Typed readers turn results into numbers
//! ([`quantity_u64`], [`quantity_u128`], [`quantity_amount`]), bytes ([`data`]),
//! a [`BlockHeader`] or a [`Receipt`].
//!
//! ```
//! use paywire::json::ToJson;
//! use paywire::rpc::{parse_response, quantity_u64, Envelope, Request};
//! let req = Envelope { id: 1, request: Request::ChainId };
//! assert_eq!(req.to_json_string(), r#"{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}"#);
//! let resp = parse_response(br#"{"jsonrpc":"2.0","id":1,"result":"0x2105"}"#).unwrap();
//! assert!(resp.id_is(1));
//! assert_eq!(quantity_u64(resp.result.unwrap()).unwrap(), 8453);
//! ```

use core::fmt;

use crate::amount::Amount;
use crate::error::{Error, ErrorKind, JsonType, Reason};
use crate::evm::tx::SignedTransaction;
use crate::evm::{Address, B256};
use crate::json::{
    JsonArray, JsonObject, JsonStr, JsonValue, Limits, ObjectWriter, Sink, SinkFull, ToJson,
    hex_digit,
};

/// A block parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockTag {
    /// `"latest"`.
    Latest,
    /// `"pending"` (for nonces: counts transactions still in the pool).
    Pending,
    /// A block number.
    Number(u64),
}

/// The call object of `eth_call` and `eth_estimateGas`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallRequest<'a> {
    /// `from`: the caller (`msg.sender`); omitted when `None`.
    pub from: Option<Address>,
    /// `to`: the contract.
    pub to: Address,
    /// `data`: the calldata.
    pub data: &'a [u8],
    /// `gas`: a gas limit for the call; omitted when `None`.
    pub gas: Option<u64>,
}

/// A JSON-RPC method call with its parameters.
#[derive(Clone, Copy, Debug)]
pub enum Request<'a> {
    /// `eth_chainId`.
    ChainId,
    /// `eth_getCode(address, block)`.
    GetCode {
        /// The account.
        address: Address,
        /// At which block.
        block: BlockTag,
    },
    /// `eth_getBalance(address, block)`.
    GetBalance {
        /// The account.
        address: Address,
        /// At which block.
        block: BlockTag,
    },
    /// `eth_call(call, block)`: runs a call without a transaction.
    Call {
        /// The call.
        call: CallRequest<'a>,
        /// At which block.
        block: BlockTag,
    },
    /// `eth_estimateGas(call)`: the gas a transaction would use; fails as the call would.
    EstimateGas {
        /// The call (`from` should be the sender).
        call: CallRequest<'a>,
    },
    /// `eth_getTransactionCount(address, block)`: the account nonce.
    GetTransactionCount {
        /// The account.
        address: Address,
        /// At which block (`Pending` for the next usable nonce).
        block: BlockTag,
    },
    /// `eth_gasPrice`.
    GasPrice,
    /// `eth_maxPriorityFeePerGas`.
    MaxPriorityFeePerGas,
    /// `eth_getBlockByNumber(block, false)`: the header, with `baseFeePerGas`.
    GetBlockByNumber {
        /// Which block.
        block: BlockTag,
    },
    /// `eth_sendRawTransaction(0x…)`.
    SendRawTransaction {
        /// The signed transaction.
        tx: SignedTransaction<'a>,
    },
    /// `eth_sendRawTransaction` of already-encoded bytes.
    SendRawBytes {
        /// The encoded transaction.
        raw: &'a [u8],
    },
    /// `eth_getTransactionReceipt(hash)`.
    GetTransactionReceipt {
        /// The transaction hash.
        hash: B256,
    },
    /// `eth_blockNumber`: the latest block's number.
    BlockNumber,
    /// `eth_getTransactionByHash(hash)`: whether the node knows a transaction
    /// (pending or mined).
    GetTransactionByHash {
        /// The transaction hash.
        hash: B256,
    },
}

impl Request<'_> {
    /// The method name.
    #[must_use]
    pub const fn method(&self) -> &'static str {
        match self {
            Request::ChainId => "eth_chainId",
            Request::GetCode { .. } => "eth_getCode",
            Request::GetBalance { .. } => "eth_getBalance",
            Request::Call { .. } => "eth_call",
            Request::EstimateGas { .. } => "eth_estimateGas",
            Request::GetTransactionCount { .. } => "eth_getTransactionCount",
            Request::GasPrice => "eth_gasPrice",
            Request::MaxPriorityFeePerGas => "eth_maxPriorityFeePerGas",
            Request::GetBlockByNumber { .. } => "eth_getBlockByNumber",
            Request::SendRawTransaction { .. } | Request::SendRawBytes { .. } => {
                "eth_sendRawTransaction"
            }
            Request::GetTransactionReceipt { .. } => "eth_getTransactionReceipt",
            Request::BlockNumber => "eth_blockNumber",
            Request::GetTransactionByHash { .. } => "eth_getTransactionByHash",
        }
    }

    fn write_params(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        out.put(b"[")?;
        match self {
            Request::ChainId
            | Request::GasPrice
            | Request::MaxPriorityFeePerGas
            | Request::BlockNumber => {}
            Request::GetCode { address, block }
            | Request::GetBalance { address, block }
            | Request::GetTransactionCount { address, block } => {
                write_address(out, address)?;
                out.put(b",")?;
                write_block(out, *block)?;
            }
            Request::Call { call, block } => {
                call.write_json(out)?;
                out.put(b",")?;
                write_block(out, *block)?;
            }
            Request::EstimateGas { call } => call.write_json(out)?,
            Request::GetBlockByNumber { block } => {
                write_block(out, *block)?;
                out.put(b",false")?;
            }
            Request::SendRawTransaction { tx } => {
                out.put(b"\"0x")?;
                tx.write(&mut HexSink(out))?;
                out.put(b"\"")?;
            }
            Request::SendRawBytes { raw } => write_data(out, raw)?,
            Request::GetTransactionReceipt { hash } | Request::GetTransactionByHash { hash } => {
                write_data(out, &hash.0)?
            }
        }
        out.put(b"]")
    }
}

/// A request with its `id`: one JSON-RPC call.
#[derive(Clone, Copy, Debug)]
pub struct Envelope<'a> {
    /// The request id, echoed by the response.
    pub id: u64,
    /// The call.
    pub request: Request<'a>,
}

impl ToJson for Envelope<'_> {
    fn write_json(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        out.put(b"{\"jsonrpc\":\"2.0\",\"id\":")?;
        self.id.write_json(out)?;
        out.put(b",\"method\":\"")?;
        out.put(self.request.method().as_bytes())?;
        out.put(b"\",\"params\":")?;
        self.request.write_params(out)?;
        out.put(b"}")
    }
}

impl ToJson for CallRequest<'_> {
    fn write_json(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        let mut w = ObjectWriter::new(out)?;
        if let Some(from) = &self.from {
            w.key(JsonStr::new("from"))?;
            write_address(w.sink(), from)?;
        }
        w.key(JsonStr::new("to"))?;
        write_address(w.sink(), &self.to)?;
        if let Some(gas) = self.gas {
            w.key(JsonStr::new("gas"))?;
            write_quantity(w.sink(), u128::from(gas))?;
        }
        w.key(JsonStr::new("data"))?;
        write_data(w.sink(), self.data)?;
        w.end()
    }
}

/// Hex-encodes whatever is written through it.
struct HexSink<'s>(&'s mut dyn Sink);

impl Sink for HexSink<'_> {
    fn put(&mut self, bytes: &[u8]) -> Result<(), SinkFull> {
        let mut buf = [0u8; 128];
        for chunk in bytes.chunks(64) {
            let text = base16ct::lower::encode(chunk, &mut buf).map_err(|_| SinkFull)?;
            self.0.put(text)?;
        }
        Ok(())
    }
}

/// Writes `"0x…"` (lower-case hex) of `bytes`.
///
/// # Errors
/// [`SinkFull`] from the sink.
pub fn write_data(out: &mut dyn Sink, bytes: &[u8]) -> Result<(), SinkFull> {
    out.put(b"\"0x")?;
    HexSink(out).put(bytes)?;
    out.put(b"\"")
}

/// Writes a JSON-RPC quantity: `"0x"` + hex without leading zeros (`"0x0"` for zero).
///
/// # Errors
/// [`SinkFull`] from the sink.
pub fn write_quantity(out: &mut dyn Sink, v: u128) -> Result<(), SinkFull> {
    let mut buf = [0u8; 32];
    let digits = base16ct::lower::encode(&v.to_be_bytes(), &mut buf).map_err(|_| SinkFull)?;
    let significant = digits.iter().position(|&d| d != b'0').unwrap_or(31);
    out.put(b"\"0x")?;
    out.put(digits.get(significant..).unwrap_or(b"0"))?;
    out.put(b"\"")
}

fn write_address(out: &mut dyn Sink, a: &Address) -> Result<(), SinkFull> {
    write_data(out, &a.0)
}

fn write_block(out: &mut dyn Sink, b: BlockTag) -> Result<(), SinkFull> {
    match b {
        BlockTag::Latest => out.put(b"\"latest\""),
        BlockTag::Pending => out.put(b"\"pending\""),
        BlockTag::Number(n) => write_quantity(out, u128::from(n)),
    }
}

/// Size limits for reading responses: a block header with a few hundred
/// transaction hashes, or a receipt with many logs, stays well below them.
pub const RESPONSE_LIMITS: Limits = Limits {
    max_len: 4 * 1024 * 1024,
    max_depth: 16,
};

/// A JSON-RPC `error` object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RpcError<'a> {
    /// `code` (`3` or `-32000` for reverts on most nodes).
    pub code: i64,
    /// `message`.
    pub message: JsonStr<'a>,
    /// `data`, if any.
    pub data: Option<JsonValue<'a>>,
}

impl<'a> RpcError<'a> {
    /// The revert data as hex text: `error.data` when it is a hex string,
    /// or `error.data.data` (Hardhat).
    #[must_use]
    pub fn revert_hex(&self) -> Option<JsonStr<'a>> {
        let d = self.data?;
        let s = match d.as_object() {
            Some(o) => o.get("data")?.as_str()?,
            None => d.as_str()?,
        };
        s.as_str()
            .is_some_and(|t| {
                t.starts_with("0x") && t.bytes().skip(2).all(|b| hex_digit(b).is_some())
            })
            .then_some(s)
    }

    /// Decodes the revert data into `buf` (empty if the node attached none).
    ///
    /// # Errors
    /// [`Error`] if the data does not fit `buf`.
    pub fn revert_data<'b>(&self, buf: &'b mut [u8]) -> Result<&'b [u8], Error> {
        match self.revert_hex() {
            Some(s) => decode_hex(s, buf, "error.data"),
            None => Ok(buf.get(..0).unwrap_or_default()),
        }
    }

    /// Whether this error reports that the EVM reverted (as opposed to a node,
    /// transport or parameter problem): code 3, revert data, or a message that
    /// says so.
    #[must_use]
    pub fn is_revert(&self) -> bool {
        if self.code == 3 || self.revert_hex().is_some() {
            return true;
        }
        let mut window = [0u8; 8];
        let mut n = 0usize;
        // Case-insensitive search for "revert" in the message, without a buffer.
        for c in self.message.chars() {
            let b = if c.is_ascii() {
                (c as u8).to_ascii_lowercase()
            } else {
                0
            };
            window.rotate_left(1);
            if let Some(last) = window.last_mut() {
                *last = b;
            }
            n += 1;
            if n >= 6 && window.get(2..) == Some(b"revert".as_slice()) {
                return true;
            }
        }
        false
    }
}

impl fmt::Display for RpcError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (code {})", self.message, self.code)
    }
}

/// A JSON-RPC response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Response<'a> {
    /// `id` as received.
    pub id: JsonValue<'a>,
    /// `result`, or `error`.
    pub result: Result<JsonValue<'a>, RpcError<'a>>,
}

impl Response<'_> {
    /// Whether the response answers request `id` (a number, or its decimal string).
    #[must_use]
    pub fn id_is(&self, id: u64) -> bool {
        self.id.as_u64() == Some(id)
            || self
                .id
                .as_str()
                .and_then(|s| s.as_str())
                .and_then(|s| s.parse::<u64>().ok())
                == Some(id)
    }
}

fn invalid(kind: ErrorKind, field: &'static str) -> Error {
    Error::new(Reason::InvalidResponse, kind)
        .at(field)
        .in_object("rpc")
}

fn wrong_type(expected: JsonType, field: &'static str) -> Error {
    invalid(ErrorKind::WrongType { expected }, field)
}

/// Reads one JSON-RPC response (not a batch).
///
/// # Errors
/// `invalid_response` if the body is not JSON, not an object, has neither
/// `result` nor `error`, or has a malformed `error`.
pub fn parse_response(body: &[u8]) -> Result<Response<'_>, Error> {
    let v = crate::json::parse(body, &RESPONSE_LIMITS).map_err(|k| invalid(k, ""))?;
    let obj = v.as_object().ok_or(wrong_type(JsonType::Object, ""))?;
    let id = obj
        .get("id")
        .ok_or(invalid(ErrorKind::MissingField, "id"))?;
    if let Some(e) = obj.get("error").filter(|e| !e.is_null()) {
        let e = e.as_object().ok_or(wrong_type(JsonType::Object, "error"))?;
        return Ok(Response {
            id,
            result: Err(read_error(e)?),
        });
    }
    match obj.get("result") {
        Some(r) => Ok(Response { id, result: Ok(r) }),
        None => Err(invalid(ErrorKind::MissingField, "result")),
    }
}

fn read_error(e: JsonObject<'_>) -> Result<RpcError<'_>, Error> {
    let code = e
        .get("code")
        .and_then(|c| parse_i64(c.raw()))
        .ok_or(wrong_type(JsonType::Number, "error.code"))?;
    let message = e
        .get("message")
        .and_then(|m| m.as_str())
        .unwrap_or(JsonStr::new(""));
    Ok(RpcError {
        code,
        message,
        data: e.get("data").filter(|d| !d.is_null()),
    })
}

fn parse_i64(raw: &str) -> Option<i64> {
    let (neg, digits) = match raw.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, raw),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let v: i64 = digits.parse().ok()?;
    Some(if neg { -v } else { v })
}

fn hex_text<'a>(v: JsonValue<'a>, field: &'static str) -> Result<&'a str, Error> {
    let s = v.as_str().ok_or(wrong_type(JsonType::String, field))?;
    let t = s
        .as_str()
        .ok_or(invalid(ErrorKind::Hex("escaped characters"), field))?;
    t.strip_prefix("0x")
        .ok_or(invalid(ErrorKind::Hex("must start with 0x"), field))
}

fn quantity_digits(
    v: JsonValue<'_>,
    max_digits: usize,
    field: &'static str,
) -> Result<u128, Error> {
    let digits = hex_text(v, field)?;
    if digits.is_empty() {
        return Err(invalid(ErrorKind::Hex("empty quantity"), field));
    }
    let significant = digits.trim_start_matches('0');
    if significant.len() > max_digits {
        return Err(invalid(ErrorKind::Overflow, field));
    }
    let mut acc = 0u128;
    for b in digits.bytes() {
        let d = hex_digit(b).ok_or(invalid(ErrorKind::Hex("not a hex digit"), field))?;
        acc = (acc << 4) | u128::from(d);
    }
    Ok(acc)
}

/// Reads a quantity (`"0x1a"`) that fits a `u64` (block numbers, gas, nonces).
///
/// # Errors
/// `invalid_response` for a non-string, missing `0x`, no digits, or overflow.
pub fn quantity_u64(v: JsonValue<'_>) -> Result<u64, Error> {
    quantity_digits(v, 16, "result").map(|q| q as u64)
}

/// Reads a quantity that fits a `u128` (fees and prices in wei).
///
/// # Errors
/// As [`quantity_u64`].
pub fn quantity_u128(v: JsonValue<'_>) -> Result<u128, Error> {
    quantity_digits(v, 32, "result")
}

/// Reads a quantity up to 2^256 − 1 (balances in wei).
///
/// # Errors
/// As [`quantity_u64`].
pub fn quantity_amount(v: JsonValue<'_>) -> Result<Amount, Error> {
    let digits = hex_text(v, "result")?;
    let significant = digits.trim_start_matches('0');
    if digits.is_empty() || significant.len() > 64 {
        return Err(invalid(ErrorKind::Overflow, "result"));
    }
    let mut be = [0u8; 32];
    for (i, b) in significant.bytes().rev().enumerate() {
        let d = hex_digit(b).ok_or(invalid(ErrorKind::Hex("not a hex digit"), "result"))?;
        if let Some(slot) = be.get_mut(31 - i / 2) {
            *slot |= if i % 2 == 0 { d } else { d << 4 };
        }
    }
    Ok(Amount::from_be_bytes(be))
}

fn decode_hex<'b>(
    s: JsonStr<'_>,
    buf: &'b mut [u8],
    field: &'static str,
) -> Result<&'b [u8], Error> {
    let t = s
        .as_str()
        .ok_or(invalid(ErrorKind::Hex("escaped characters"), field))?;
    let digits = t
        .strip_prefix("0x")
        .ok_or(invalid(ErrorKind::Hex("must start with 0x"), field))?;
    if digits.len() % 2 != 0 {
        return Err(invalid(ErrorKind::Hex("odd number of digits"), field));
    }
    let n = digits.len() / 2;
    let out = buf
        .get_mut(..n)
        .ok_or(invalid(ErrorKind::BufferTooSmall, field))?;
    base16ct::mixed::decode(digits, out)
        .map_err(|_| invalid(ErrorKind::Hex("not a hex digit"), field))?;
    Ok(out)
}

/// Reads `"0x…"` data (an `eth_call` result, `eth_getCode`) into `buf`.
///
/// # Errors
/// `invalid_response` for malformed hex, or if it does not fit `buf`
/// (kind [`ErrorKind::BufferTooSmall`]).
pub fn data<'b>(v: JsonValue<'_>, buf: &'b mut [u8]) -> Result<&'b [u8], Error> {
    let s = v.as_str().ok_or(wrong_type(JsonType::String, "result"))?;
    decode_hex(s, buf, "result")
}

/// Whether `"0x…"` data is empty (`"0x"`, as `eth_getCode` answers for an
/// account without code), without decoding it. `None` if it is not hex data.
#[must_use]
pub fn data_is_empty(v: JsonValue<'_>) -> Option<bool> {
    let digits = hex_text(v, "result").ok()?;
    if !digits.bytes().all(|b| hex_digit(b).is_some()) {
        return None;
    }
    Some(digits.is_empty())
}

/// Reads a 32-byte hash (`"0x"` + 64 hex digits).
///
/// # Errors
/// `invalid_response` for anything else.
pub fn hash(v: JsonValue<'_>, field: &'static str) -> Result<B256, Error> {
    let s = v
        .as_str()
        .and_then(|s| s.as_str())
        .ok_or(wrong_type(JsonType::String, field))?;
    B256::parse(s).map_err(|k| invalid(k, field))
}

fn address(v: JsonValue<'_>, field: &'static str) -> Result<Address, Error> {
    let s = v
        .as_str()
        .and_then(|s| s.as_str())
        .ok_or(wrong_type(JsonType::String, field))?;
    // Nodes write addresses in lower case or EIP-55; compare bytes only.
    let mut lower = [0u8; 42];
    let dst = lower
        .get_mut(..s.len())
        .ok_or(invalid(ErrorKind::Hex("wrong length"), field))?;
    dst.copy_from_slice(s.as_bytes());
    dst.make_ascii_lowercase();
    let text = core::str::from_utf8(dst).map_err(|_| invalid(ErrorKind::Utf8, field))?;
    Address::parse(text).map_err(|k| invalid(k, field))
}

fn member<'a>(o: JsonObject<'a>, key: &'static str) -> Result<JsonValue<'a>, Error> {
    o.get(key)
        .filter(|v| !v.is_null())
        .ok_or(invalid(ErrorKind::MissingField, key))
}

fn quantity_member_u64(o: JsonObject<'_>, key: &'static str) -> Result<u64, Error> {
    quantity_digits(member(o, key)?, 16, key).map(|q| q as u64)
}

/// The parts of a block header a facilitator reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockHeader {
    /// `number`.
    pub number: u64,
    /// `timestamp` (unix seconds).
    pub timestamp: u64,
    /// `baseFeePerGas`; `None` before London (no EIP-1559).
    pub base_fee_per_gas: Option<u128>,
}

impl BlockHeader {
    /// Reads an `eth_getBlockByNumber` result.
    ///
    /// # Errors
    /// `invalid_response` if it is not a block object (`null`: no such block).
    pub fn from_json(v: JsonValue<'_>) -> Result<BlockHeader, Error> {
        let o = v
            .as_object()
            .ok_or(wrong_type(JsonType::Object, "result"))?;
        Ok(BlockHeader {
            number: quantity_member_u64(o, "number")?,
            timestamp: quantity_member_u64(o, "timestamp")?,
            base_fee_per_gas: match o.get("baseFeePerGas").filter(|v| !v.is_null()) {
                Some(b) => Some(quantity_digits(b, 32, "baseFeePerGas")?),
                None => None,
            },
        })
    }
}

/// A transaction receipt (`eth_getTransactionReceipt`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Receipt<'a> {
    /// `transactionHash`.
    pub transaction_hash: B256,
    /// `status`: `true` for `0x1` (success), `false` for `0x0` (reverted).
    pub status: bool,
    /// `blockNumber`.
    pub block_number: u64,
    /// `blockHash` (checked again after confirmations: another hash at that
    /// height means the block was replaced).
    pub block_hash: Option<B256>,
    /// `gasUsed`.
    pub gas_used: u64,
    /// `effectiveGasPrice` (wei per gas actually paid).
    pub effective_gas_price: Option<u128>,
    /// `contractAddress` for a contract creation.
    pub contract_address: Option<Address>,
    /// `logs`.
    pub logs: JsonArray<'a>,
}

impl<'a> Receipt<'a> {
    /// Reads an `eth_getTransactionReceipt` result; `Ok(None)` for `null`
    /// (not mined yet, or unknown).
    ///
    /// # Errors
    /// `invalid_response` naming the malformed member.
    pub fn from_json(v: JsonValue<'a>) -> Result<Option<Receipt<'a>>, Error> {
        if v.is_null() {
            return Ok(None);
        }
        let o = v
            .as_object()
            .ok_or(wrong_type(JsonType::Object, "result"))?;
        let status = match quantity_member_u64(o, "status")? {
            0 => false,
            1 => true,
            _ => {
                return Err(invalid(
                    ErrorKind::Invalid("status is not 0x0 or 0x1"),
                    "status",
                ));
            }
        };
        Ok(Some(Receipt {
            transaction_hash: hash(member(o, "transactionHash")?, "transactionHash")?,
            status,
            block_number: quantity_member_u64(o, "blockNumber")?,
            block_hash: match o.get("blockHash").filter(|v| !v.is_null()) {
                Some(h) => Some(hash(h, "blockHash")?),
                None => None,
            },
            gas_used: quantity_member_u64(o, "gasUsed")?,
            effective_gas_price: match o.get("effectiveGasPrice").filter(|v| !v.is_null()) {
                Some(p) => Some(quantity_digits(p, 32, "effectiveGasPrice")?),
                None => None,
            },
            contract_address: match o.get("contractAddress").filter(|v| !v.is_null()) {
                Some(a) => Some(address(a, "contractAddress")?),
                None => None,
            },
            logs: member(o, "logs")?
                .as_array()
                .ok_or(wrong_type(JsonType::Array, "logs"))?,
        }))
    }

    /// The logs, each read as a [`Log`].
    pub fn logs(&self) -> impl Iterator<Item = Result<Log<'a>, Error>> + 'a {
        self.logs.iter().map(Log::from_json)
    }

    /// Whether the receipt holds an ERC-20 `Transfer(from, to, value)` emitted by `token`.
    /// Malformed logs never match.
    #[must_use]
    pub fn has_transfer(
        &self,
        token: &Address,
        from: &Address,
        to: &Address,
        value: &Amount,
    ) -> bool {
        self.logs()
            .flatten()
            .any(|l| l.is_transfer(token, from, to, value))
    }
}

/// One log of a receipt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Log<'a> {
    /// The emitting contract.
    pub address: Address,
    /// `topics`.
    pub topics: JsonArray<'a>,
    /// `data` (hex text).
    pub data: JsonStr<'a>,
}

impl<'a> Log<'a> {
    /// Reads a log object.
    ///
    /// # Errors
    /// `invalid_response` naming the malformed member.
    pub fn from_json(v: JsonValue<'a>) -> Result<Log<'a>, Error> {
        let o = v.as_object().ok_or(wrong_type(JsonType::Object, "logs"))?;
        Ok(Log {
            address: address(member(o, "address")?, "logs.address")?,
            topics: member(o, "topics")?
                .as_array()
                .ok_or(wrong_type(JsonType::Array, "logs.topics"))?,
            data: member(o, "data")?
                .as_str()
                .ok_or(wrong_type(JsonType::String, "logs.data"))?,
        })
    }

    /// Topic `i`, if present and well formed.
    #[must_use]
    pub fn topic(&self, i: usize) -> Option<B256> {
        self.topics
            .iter()
            .nth(i)
            .and_then(|t| hash(t, "logs.topics").ok())
    }

    /// `data` decoded into `buf`.
    ///
    /// # Errors
    /// `invalid_response` for malformed hex, or if it does not fit `buf`
    /// (kind [`ErrorKind::BufferTooSmall`]).
    pub fn read_data<'b>(&self, buf: &'b mut [u8]) -> Result<&'b [u8], Error> {
        decode_hex(self.data, buf, "logs.data")
    }

    /// Whether this is `Transfer(from, to, value)` emitted by `token`.
    #[must_use]
    pub fn is_transfer(
        &self,
        token: &Address,
        from: &Address,
        to: &Address,
        value: &Amount,
    ) -> bool {
        let mut buf = [0u8; 32];
        self.address == *token
            && self.topics.len() == 3
            && self.topic(0) == Some(crate::evm::abi::TRANSFER_EVENT_TOPIC)
            && self.topic(1) == Some(B256(from.to_word()))
            && self.topic(2) == Some(B256(to.to_word()))
            && self.read_data(&mut buf).ok().map(<[u8]>::len) == Some(32)
            && Amount::from_be_bytes(buf) == *value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(request: Request<'_>) -> String {
        Envelope { id: 7, request }.to_json_string()
    }

    #[test]
    fn writes_requests() {
        let a: Address = "0x036CbD53842c5426634e7929541eC2318f3dCF7e"
            .parse()
            .unwrap();
        assert_eq!(
            env(Request::GetCode {
                address: a,
                block: BlockTag::Latest
            }),
            r#"{"jsonrpc":"2.0","id":7,"method":"eth_getCode","params":["0x036cbd53842c5426634e7929541ec2318f3dcf7e","latest"]}"#
        );
        assert_eq!(
            env(Request::Call {
                call: CallRequest {
                    from: Some(Address([0x11; 20])),
                    to: a,
                    data: &[0x06, 0xfd, 0xde, 0x03],
                    gas: Some(100_000)
                },
                block: BlockTag::Number(0x10),
            }),
            r#"{"jsonrpc":"2.0","id":7,"method":"eth_call","params":[{"from":"0x1111111111111111111111111111111111111111","to":"0x036cbd53842c5426634e7929541ec2318f3dcf7e","gas":"0x186a0","data":"0x06fdde03"},"0x10"]}"#
        );
        assert_eq!(
            env(Request::GetTransactionCount {
                address: a,
                block: BlockTag::Pending
            }),
            r#"{"jsonrpc":"2.0","id":7,"method":"eth_getTransactionCount","params":["0x036cbd53842c5426634e7929541ec2318f3dcf7e","pending"]}"#
        );
        assert_eq!(
            env(Request::GetBlockByNumber {
                block: BlockTag::Latest
            }),
            r#"{"jsonrpc":"2.0","id":7,"method":"eth_getBlockByNumber","params":["latest",false]}"#
        );
        assert_eq!(
            env(Request::SendRawBytes { raw: &[0x02, 0xf8] }),
            r#"{"jsonrpc":"2.0","id":7,"method":"eth_sendRawTransaction","params":["0x02f8"]}"#
        );
        for (m, r) in [
            ("eth_gasPrice", Request::GasPrice),
            ("eth_maxPriorityFeePerGas", Request::MaxPriorityFeePerGas),
            ("eth_chainId", Request::ChainId),
        ] {
            assert_eq!(
                env(r),
                format!(r#"{{"jsonrpc":"2.0","id":7,"method":"{m}","params":[]}}"#)
            );
        }
    }

    #[test]
    fn quantities() {
        let mut s = Vec::new();
        for (v, want) in [
            (0u128, "\"0x0\""),
            (1, "\"0x1\""),
            (0x400, "\"0x400\""),
            (u128::MAX, "\"0xffffffffffffffffffffffffffffffff\""),
        ] {
            s.clear();
            write_quantity(&mut s, v).unwrap();
            assert_eq!(String::from_utf8(s.clone()).unwrap(), want);
        }
        let r = |t: &str| {
            parse_response(
                format!(r#"{{"jsonrpc":"2.0","id":1,"result":{t}}}"#)
                    .as_bytes()
                    .to_vec()
                    .leak(),
            )
            .unwrap()
            .result
            .unwrap()
        };
        assert_eq!(quantity_u64(r("\"0x2105\"")).unwrap(), 8453);
        assert!(quantity_u64(r("\"0x\"")).is_err());
        assert!(quantity_u64(r("\"2105\"")).is_err());
        assert!(quantity_u64(r("\"0x1ffffffffffffffff\"")).is_err());
        assert_eq!(quantity_u64(r("\"0x00ff\"")).unwrap(), 255);
        assert_eq!(
            quantity_amount(r(&format!("\"0x{}\"", "f".repeat(64)))).unwrap(),
            Amount::MAX
        );
        assert_eq!(quantity_amount(r("\"0x10\"")).unwrap(), Amount::from(16u64));
        assert!(quantity_amount(r(&format!("\"0x1{}\"", "0".repeat(64)))).is_err());
        assert_eq!(data_is_empty(r("\"0x\"")), Some(true));
        assert_eq!(data_is_empty(r("\"0x60\"")), Some(false));
        let mut buf = [0u8; 4];
        assert_eq!(data(r("\"0x0a0B\""), &mut buf).unwrap(), &[0x0a, 0x0b]);
        assert!(data(r("\"0x0a0\""), &mut buf).is_err());
        assert!(data(r("\"0x0a0b0c0d0e\""), &mut buf).is_err());
    }

    #[test]
    fn reads_errors_and_revert_data() {
        // geth / anvil shape.
        let geth = br#"{"jsonrpc":"2.0","id":3,"error":{"code":3,"message":"execution reverted: nope","data":"0x08c379a0"}}"#;
        let e = parse_response(geth).unwrap().result.unwrap_err();
        assert!(e.is_revert());
        let mut buf = [0u8; 8];
        assert_eq!(e.revert_data(&mut buf).unwrap(), &[0x08, 0xc3, 0x79, 0xa0]);
        // Hardhat shape.
        let hh = br#"{"jsonrpc":"2.0","id":"3","error":{"code":-32603,"message":"Error: VM Exception","data":{"message":"x","data":"0xfe64b4c7"}}}"#;
        let r = parse_response(hh).unwrap();
        assert!(r.id_is(3));
        let e = r.result.unwrap_err();
        assert!(e.is_revert());
        assert_eq!(e.revert_data(&mut buf).unwrap(), &[0xfe, 0x64, 0xb4, 0xc7]);
        // A revert without data, recognised by its message.
        let bare =
            br#"{"jsonrpc":"2.0","id":1,"error":{"code":-32000,"message":"execution Reverted"}}"#;
        assert!(
            parse_response(bare)
                .unwrap()
                .result
                .unwrap_err()
                .is_revert()
        );
        // A node problem is not a revert.
        let busy = br#"{"jsonrpc":"2.0","id":1,"error":{"code":-32005,"message":"rate limited"}}"#;
        assert!(
            !parse_response(busy)
                .unwrap()
                .result
                .unwrap_err()
                .is_revert()
        );
        assert!(parse_response(br#"{"jsonrpc":"2.0","id":1}"#).is_err());
        assert!(parse_response(b"[]").is_err());
        assert!(parse_response(b"<html>").is_err());
    }

    #[test]
    fn reads_receipts() {
        let token = "0x5fbdb2315678afecb367f032d93f642f64180aa3";
        let body = format!(
            r#"{{"jsonrpc":"2.0","id":1,"result":{{"transactionHash":"0x{h}","status":"0x1","blockNumber":"0x5","gasUsed":"0xc350","effectiveGasPrice":"0x3b9aca07","contractAddress":null,"logs":[{{"address":"{token}","topics":["0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef","0x000000000000000000000000{f}","0x000000000000000000000000{t}"],"data":"0x{v:064x}"}}]}}}}"#,
            h = "ab".repeat(32),
            f = "11".repeat(20),
            t = "22".repeat(20),
            v = 1_250_000u64
        );
        let resp = parse_response(body.as_bytes()).unwrap();
        let rc = Receipt::from_json(resp.result.unwrap()).unwrap().unwrap();
        assert!(rc.status);
        assert_eq!(rc.gas_used, 50_000);
        assert_eq!(rc.effective_gas_price, Some(1_000_000_007));
        let token: Address = token.parse().unwrap();
        assert!(rc.has_transfer(
            &token,
            &Address([0x11; 20]),
            &Address([0x22; 20]),
            &1_250_000u64.into()
        ));
        assert!(!rc.has_transfer(
            &token,
            &Address([0x11; 20]),
            &Address([0x22; 20]),
            &1_250_001u64.into()
        ));
        assert!(!rc.has_transfer(
            &Address([9; 20]),
            &Address([0x11; 20]),
            &Address([0x22; 20]),
            &1_250_000u64.into()
        ));
        let pending = parse_response(br#"{"jsonrpc":"2.0","id":1,"result":null}"#).unwrap();
        assert_eq!(Receipt::from_json(pending.result.unwrap()).unwrap(), None);
    }
}
