// settlement.json: RLP encodings, signed EIP-1559 transactions, contract-call
// calldata, call results, revert data and CREATE addresses, all computed by
// viem, with the x402 SDK's own contract ABIs (@x402/evm eip3009ABI and the
// Permit2 proxies' ABIs).
import { fileURLToPath } from "node:url";
import {
  decodeErrorResult,
  encodeAbiParameters,
  encodeErrorResult,
  encodeFunctionData,
  getAddress,
  getContractAddress,
  keccak256,
  parseAbi,
  parseTransaction,
  serializeTransaction,
  toRlp,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";
import {
  PERMIT2_ADDRESS,
  eip3009ABI,
  x402ExactPermit2ProxyABI,
  x402UptoPermit2ProxyABI,
  x402ExactPermit2ProxyAddress,
  x402UptoPermit2ProxyAddress,
} from "@x402/evm";
import { MAX_UINT256, generatorBlock, makeRng, writeJson } from "./common.mjs";

const rng = makeRng("settlement");
const hexOf = (n) => {
  if (n === 0n) return "0x";
  const h = n.toString(16);
  return `0x${h.length % 2 ? "0" : ""}${h}`;
};
const randBytes = (n) => rng.bytes(n);

// ---- RLP -----------------------------------------------------------------------
const rlp = [];
const addRlp = (name, input) => rlp.push({ name, input, encoded: toRlp(input) });
addRlp("empty string", "0x");
addRlp("single byte 0x00", "0x00");
addRlp("single byte 0x7f", "0x7f");
addRlp("single byte 0x80", "0x80");
addRlp("dog", "0x646f67");
addRlp("55 bytes", randBytes(55));
addRlp("56 bytes", randBytes(56));
addRlp("255 bytes", randBytes(255));
addRlp("256 bytes", randBytes(256));
addRlp("1024 bytes", randBytes(1024));
addRlp("empty list", []);
addRlp("cat dog", ["0x636174", "0x646f67"]);
addRlp("set-theoretic three", [[], [[]], [[], [[]]]]);
addRlp("list of 60 bytes payload", Array.from({ length: 20 }, () => randBytes(2)));
addRlp("nested long", [randBytes(40), [randBytes(60), "0x", ["0x01"]], randBytes(1)]);
for (const n of [0n, 1n, 127n, 128n, 255n, 256n, 1024n, 2n ** 64n - 1n, 2n ** 128n - 1n, MAX_UINT256]) {
  addRlp(`integer ${n}`, hexOf(n));
}

// ---- EIP-1559 transactions ---------------------------------------------------------
const transactions = [];
const txCases = [
  { name: "zero fees, no data, transfer", chainId: 1, nonce: 0n, tip: 0n, max: 0n, gas: 21000n, to: "rand", value: 0n, data: "0x" },
  { name: "base, balanceOf call", chainId: 8453, nonce: 7n, tip: 1000000n, max: 20000000n, gas: 90000n, to: "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913", value: 0n, data: "bal" },
  { name: "contract creation", chainId: 31337, nonce: 0n, tip: 1n, max: 2000000001n, gas: 3000000n, to: null, value: 0n, data: randBytes(300) },
  { name: "value and long data", chainId: 84532, nonce: 255n, tip: 2n ** 40n, max: 2n ** 41n, gas: 1000000n, to: "rand", value: 10n ** 18n, data: randBytes(1000) },
  { name: "large nonce and chain", chainId: 324705682, nonce: 2n ** 53n - 1n, tip: 2n ** 100n, max: 2n ** 127n, gas: 2n ** 63n, to: "rand", value: MAX_UINT256, data: randBytes(56) },
  { name: "55-byte data", chainId: 137, nonce: 128n, tip: 127n, max: 128n, gas: 56n, to: "rand", value: 1n, data: randBytes(55) },
];
for (const c of txCases) {
  for (let k = 0; k < 3; k++) {
    const privateKey = rng.privateKey();
    const account = privateKeyToAccount(privateKey);
    const to = c.to === "rand" ? rng.address() : c.to;
    const data = c.data === "bal" ? encodeFunctionData({ abi: eip3009ABI, functionName: "balanceOf", args: [rng.address()] }) : c.data;
    const tx = {
      type: "eip1559",
      chainId: c.chainId,
      nonce: Number(c.nonce),
      maxPriorityFeePerGas: c.tip,
      maxFeePerGas: c.max,
      gas: c.gas,
      value: c.value,
      data,
      accessList: [],
      ...(to ? { to } : {}),
    };
    const signingPayload = serializeTransaction(tx);
    const signed = await account.signTransaction(tx);
    const parsed = parseTransaction(signed);
    transactions.push({
      name: `${c.name} #${k}`,
      privateKey,
      from: account.address,
      tx: {
        chainId: c.chainId,
        nonce: c.nonce.toString(),
        maxPriorityFeePerGas: c.tip.toString(),
        maxFeePerGas: c.max.toString(),
        gasLimit: c.gas.toString(),
        to: to ?? null,
        value: c.value.toString(),
        data,
      },
      signingPayload,
      signingHash: keccak256(signingPayload),
      signed,
      hash: keccak256(signed),
      yParity: parsed.yParity,
      r: parsed.r,
      s: parsed.s,
    });
  }
}

// ---- calldata ------------------------------------------------------------------
const calldata = [];
const U = () => rng.uint(rng.pick([8, 64, 256]));
const authorization = () => ({
  from: rng.address(),
  to: rng.address(),
  value: U().toString(),
  validAfter: rng.uint(40).toString(),
  validBefore: rng.uint(40).toString(),
  nonce: rng.bytes32(),
});
const sig65 = (v) => `${rng.bytes(64)}${v.toString(16).padStart(2, "0")}`;
const normalised = (sig) => {
  const v = parseInt(sig.slice(130), 16);
  return v < 2 ? `${sig.slice(0, 130)}${(v + 27).toString(16)}` : sig;
};
const authArgs = (a) => [getAddress(a.from), getAddress(a.to), BigInt(a.value), BigInt(a.validAfter), BigInt(a.validBefore), a.nonce];

for (let i = 0; i < 3; i++) {
  const owner = rng.address();
  calldata.push({ name: `balanceOf #${i}`, call: "balanceOf", args: { owner }, calldata: encodeFunctionData({ abi: eip3009ABI, functionName: "balanceOf", args: [owner] }) });
  const nonce = rng.bytes32();
  calldata.push({ name: `authorizationState #${i}`, call: "authorizationState", args: { authorizer: owner, nonce }, calldata: encodeFunctionData({ abi: eip3009ABI, functionName: "authorizationState", args: [owner, nonce] }) });
  const spender = i === 0 ? PERMIT2_ADDRESS : rng.address();
  calldata.push({
    name: `allowance #${i}`,
    call: "allowance",
    args: { owner, spender },
    calldata: encodeFunctionData({ abi: parseAbi(["function allowance(address owner, address spender) view returns (uint256)"]), functionName: "allowance", args: [owner, spender] }),
  });
}
for (const fn of ["name", "version"]) {
  calldata.push({ name: fn, call: fn, args: {}, calldata: encodeFunctionData({ abi: eip3009ABI, functionName: fn }) });
}
calldata.push({ name: "PERMIT2", call: "PERMIT2", args: {}, calldata: encodeFunctionData({ abi: x402ExactPermit2ProxyABI, functionName: "PERMIT2" }) });

for (const [i, v] of [27, 28, 0, 1, 27, 28].entries()) {
  const a = authorization();
  if (i === 4) a.value = MAX_UINT256.toString();
  const signature = sig65(v);
  const n = normalised(signature);
  const r = `0x${n.slice(2, 66)}`;
  const s = `0x${n.slice(66, 130)}`;
  const vn = parseInt(n.slice(130), 16);
  calldata.push({
    name: `transferWithAuthorization v,r,s (signed v=${v}) #${i}`,
    call: "transferWithAuthorizationVrs",
    args: { authorization: a, signature },
    calldata: encodeFunctionData({ abi: eip3009ABI, functionName: "transferWithAuthorization", args: [...authArgs(a), vn, r, s] }),
  });
  calldata.push({
    name: `transferWithAuthorization bytes (signed v=${v}) #${i}`,
    call: "transferWithAuthorizationBytes",
    args: { authorization: a, signature },
    calldata: encodeFunctionData({ abi: eip3009ABI, functionName: "transferWithAuthorization", args: [...authArgs(a), n] }),
  });
}
// Signatures of other lengths go through the bytes overload unchanged.
for (const len of [64, 66, 97, 200]) {
  const a = authorization();
  const signature = rng.bytes(len);
  calldata.push({
    name: `transferWithAuthorization bytes, ${len}-byte signature`,
    call: "transferWithAuthorizationBytes",
    args: { authorization: a, signature },
    calldata: encodeFunctionData({ abi: eip3009ABI, functionName: "transferWithAuthorization", args: [...authArgs(a), signature] }),
  });
}

const permit2Auth = (upto) => ({
  from: rng.address(),
  permitted: { token: rng.address(), amount: U().toString() },
  spender: upto ? x402UptoPermit2ProxyAddress : x402ExactPermit2ProxyAddress,
  nonce: rng.uint(256).toString(),
  deadline: rng.uint(40).toString(),
  witness: upto
    ? { to: rng.address(), facilitator: rng.address(), validAfter: rng.uint(40).toString() }
    : { to: rng.address(), validAfter: rng.uint(40).toString() },
});
const permitArg = (p) => ({ permitted: { token: getAddress(p.permitted.token), amount: BigInt(p.permitted.amount) }, nonce: BigInt(p.nonce), deadline: BigInt(p.deadline) });
for (const [i, v] of [27, 28, 1].entries()) {
  const p = permit2Auth(false);
  const signature = sig65(v);
  calldata.push({
    name: `exact proxy settle (signed v=${v}) #${i}`,
    call: "exactPermit2Settle",
    args: { permit2Authorization: p, signature },
    calldata: encodeFunctionData({
      abi: x402ExactPermit2ProxyABI,
      functionName: "settle",
      args: [permitArg(p), getAddress(p.from), { to: getAddress(p.witness.to), validAfter: BigInt(p.witness.validAfter) }, normalised(signature)],
    }),
  });
  const q = permit2Auth(true);
  const amount = (BigInt(q.permitted.amount) / 3n).toString();
  calldata.push({
    name: `upto proxy settle (signed v=${v}) #${i}`,
    call: "uptoPermit2Settle",
    args: { permit2Authorization: q, amount, signature },
    calldata: encodeFunctionData({
      abi: x402UptoPermit2ProxyABI,
      functionName: "settle",
      args: [
        permitArg(q),
        BigInt(amount),
        getAddress(q.from),
        { to: getAddress(q.witness.to), facilitator: getAddress(q.witness.facilitator), validAfter: BigInt(q.witness.validAfter) },
        normalised(signature),
      ],
    }),
  });
}

// ---- results ---------------------------------------------------------------------
const results = [];
for (const s of ["USD Coin", "USDC", "2", "", "A token name that is longer than thirty-two bytes", "💵 Ünïcödé トークン"]) {
  results.push({ name: `string ${JSON.stringify(s)}`, type: "string", data: encodeAbiParameters([{ type: "string" }], [s]), value: s });
}
for (const n of [0n, 1n, 1250000n, MAX_UINT256]) {
  results.push({ name: `uint256 ${n}`, type: "uint256", data: encodeAbiParameters([{ type: "uint256" }], [n]), value: n.toString() });
}
for (const b of [true, false]) {
  results.push({ name: `bool ${b}`, type: "bool", data: encodeAbiParameters([{ type: "bool" }], [b]), value: b });
}
results.push({ name: "address Permit2", type: "address", data: encodeAbiParameters([{ type: "address" }], [PERMIT2_ADDRESS]), value: PERMIT2_ADDRESS });

// ---- revert data -------------------------------------------------------------------
const reverts = [];
const errorAbi = parseAbi(["error Error(string message)", "error Panic(uint256 code)"]);
for (const m of ["FiatTokenV2: invalid signature", "FiatTokenV2: authorization is used or canceled", "ERC20: transfer amount exceeds balance", "", "ECRecover: invalid signature 's' value"]) {
  reverts.push({ name: `Error(${JSON.stringify(m)})`, data: encodeErrorResult({ abi: errorAbi, errorName: "Error", args: [m] }), expect: { kind: "reason", text: m } });
}
for (const code of [0x01n, 0x11n, 0x32n]) {
  reverts.push({ name: `Panic(${code})`, data: encodeErrorResult({ abi: errorAbi, errorName: "Panic", args: [code] }), expect: { kind: "panic", code: Number(code) } });
}
const permit2Abi = parseAbi([
  "error SignatureExpired(uint256 signatureDeadline)",
  "error InvalidNonce()",
  "error InvalidAmount(uint256 maxAmount)",
  "error InvalidSignatureLength()",
  "error InvalidSignature()",
  "error InvalidSigner()",
  "error InvalidContractSignature()",
  "error LengthMismatch()",
]);
for (const [abi, source] of [[x402ExactPermit2ProxyABI, "exact proxy"], [x402UptoPermit2ProxyABI, "upto proxy"], [permit2Abi, "Permit2"]]) {
  for (const e of abi.filter((x) => x.type === "error")) {
    const args = e.inputs.map(() => 1700000000n);
    const data = encodeErrorResult({ abi, errorName: e.name, args });
    const decoded = decodeErrorResult({ abi, data });
    reverts.push({
      name: `${source} ${e.name}`,
      data,
      expect: { kind: "custom", signature: `${decoded.errorName}(${e.inputs.map((i) => i.type).join(",")})` },
    });
  }
}
reverts.push({ name: "empty", data: "0x", expect: { kind: "empty" } });
reverts.push({ name: "unknown custom error", data: "0xdeadbeef", expect: { kind: "unknown" } });

// ---- CREATE addresses ------------------------------------------------------------------
const createAddresses = [];
for (const nonce of [0n, 1n, 127n, 128n, 255n, 256n, 65535n, 2n ** 32n, 2n ** 64n - 2n]) {
  const from = rng.address();
  createAddresses.push({ from, nonce: nonce.toString(), address: getContractAddress({ from, nonce }) });
}

const path = writeJson("settlement.json", {
  generator: generatorBlock(fileURLToPath(import.meta.url), ["viem", "@x402/evm"]),
  description:
    "Settlement known answers from viem: RLP (toRlp), EIP-1559 transactions (serializeTransaction, signTransaction, keccak256), calldata (encodeFunctionData with @x402/evm's eip3009ABI and x402 Permit2 proxy ABIs; signatures with v 0/1 are expected as the normalised 27/28 encoding), call results (encodeAbiParameters), revert data (encodeErrorResult) and CREATE addresses (getContractAddress).",
  rlp,
  transactions,
  calldata,
  results,
  reverts,
  createAddresses,
});
console.error(
  `gen-settlement: ${rlp.length} rlp, ${transactions.length} transactions, ${calldata.length} calldata, ${results.length} results, ${reverts.length} reverts, ${createAddresses.length} create addresses -> ${path}`,
);
