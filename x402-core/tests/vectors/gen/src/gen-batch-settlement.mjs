// batch-settlement-evm.json: the batch-settlement scheme on EVM as the OFFICIAL
// @x402/evm (2.27) computes and judges it.
//  - channelIds: computeChannelId of several channel configurations and chains.
//  - digests: voucher, refund and claim-batch EIP-712 digests (viem's
//    hashTypedData over the SDK's own type definitions and domain).
//  - verdicts: payloads made by the official client (BatchSettlementEvmScheme
//    client, signVoucher), valid and tampered, judged by the official
//    facilitator's verify (BatchSettlementEvmScheme facilitator) over a fake
//    chain whose channel state, payer balance and Permit2 allowance are set per
//    vector and recorded with it; time is pinned per vector.
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import {
  decodeFunctionData,
  encodeFunctionData,
  encodeFunctionResult,
  getAddress,
  hashTypedData,
  parseAbi,
  verifyTypedData,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";
import {
  BATCH_SETTLEMENT_ADDRESS,
  BATCH_SETTLEMENT_DOMAIN,
  claimBatchTypes,
  refundTypes,
  voucherTypes,
} from "@x402/evm";
import {
  BatchSettlementEvmScheme as ClientScheme,
  computeChannelId,
  signVoucher,
} from "@x402/evm/batch-settlement/client";
import { BatchSettlementEvmScheme as FacilitatorScheme } from "@x402/evm/batch-settlement/facilitator";
import {
  NOW,
  SECP256K1_N,
  USDC_BASE,
  USDC_BASE_SEPOLIA,
  deepClone,
  generatorBlock,
  makeRng,
  pinCryptoRandom,
  pinDateNow,
  writeJson,
} from "./common.mjs";

const rng = makeRng("batch-settlement-evm");
const ZERO = "0x0000000000000000000000000000000000000000";

const PAYER_KEY = rng.privateKey();
const PAYER = privateKeyToAccount(PAYER_KEY);
const VOUCHER_KEY = rng.privateKey();
const VOUCHER_SIGNER = privateKeyToAccount(VOUCHER_KEY);
const OTHER_KEY = rng.privateKey();
const OTHER = privateKeyToAccount(OTHER_KEY);
const PAY_TO = rng.address();
const RECEIVER_AUTHORIZER = rng.address();
const OTHER_ADDRESS = rng.address();
const SALT = rng.bytes32();

function domain(chainId) {
  return { ...BATCH_SETTLEMENT_DOMAIN, chainId, verifyingContract: getAddress(BATCH_SETTLEMENT_ADDRESS) };
}

// ------------------------------------------------------------------ channel ids

const channelIds = [];
for (const [name, chainId, mutate] of [
  ["base, payer authorizes", 8453, (c) => c],
  ["base sepolia, payer authorizes", 84532, (c) => c],
  ["base, separate voucher signer", 8453, (c) => ({ ...c, payerAuthorizer: VOUCHER_SIGNER.address })],
  ["base, zero payer authorizer", 8453, (c) => ({ ...c, payerAuthorizer: ZERO })],
  ["base, zero salt, max delay", 8453, (c) => ({ ...c, salt: `0x${"0".repeat(64)}`, withdrawDelay: 2592000 })],
  ["polygon, uint40 max delay", 137, (c) => ({ ...c, withdrawDelay: 2 ** 40 - 1 })],
  ["chain id 1, random salt", 1, (c) => ({ ...c, salt: rng.bytes32() })],
]) {
  const config = mutate({
    payer: PAYER.address,
    payerAuthorizer: PAYER.address,
    receiver: PAY_TO,
    receiverAuthorizer: RECEIVER_AUTHORIZER,
    token: USDC_BASE.asset,
    withdrawDelay: 900,
    salt: SALT,
  });
  channelIds.push({ name, chainId, channelConfig: config, channelId: computeChannelId(config, chainId) });
}

// ------------------------------------------------------------------ digests

const U128 = (1n << 128n) - 1n;
const digests = { voucher: [], refund: [], claimBatch: [] };
for (const [chainId, amount] of [[8453, 0n], [8453, 1000n], [84532, 123456789n], [1, U128]]) {
  const channelId = rng.bytes32();
  digests.voucher.push({
    chainId,
    channelId,
    maxClaimableAmount: amount.toString(),
    digest: hashTypedData({
      domain: domain(chainId),
      types: voucherTypes,
      primaryType: "Voucher",
      message: { channelId, maxClaimableAmount: amount },
    }),
  });
}
for (const [chainId, nonce, amount] of [[8453, 0n, 1n], [8453, 7n, 5000n], [137, (1n << 256n) - 1n, U128]]) {
  const channelId = rng.bytes32();
  digests.refund.push({
    chainId,
    channelId,
    nonce: nonce.toString(),
    amount: amount.toString(),
    digest: hashTypedData({
      domain: domain(chainId),
      types: refundTypes,
      primaryType: "Refund",
      message: { channelId, nonce, amount },
    }),
  });
}
for (const [chainId, n] of [[8453, 0], [8453, 1], [84532, 3]]) {
  const claims = [];
  for (let i = 0; i < n; i++) {
    claims.push({
      channelId: rng.bytes32(),
      maxClaimableAmount: (rng.uint(64) + 1000n).toString(),
      totalClaimed: rng.uint(32).toString(),
    });
  }
  digests.claimBatch.push({
    chainId,
    claims,
    digest: hashTypedData({
      domain: domain(chainId),
      types: claimBatchTypes,
      primaryType: "ClaimBatch",
      message: {
        claims: claims.map((c) => ({
          channelId: c.channelId,
          maxClaimableAmount: BigInt(c.maxClaimableAmount),
          totalClaimed: BigInt(c.totalClaimed),
        })),
      },
    }),
  });
}

// ------------------------------------------------------------------ fake chain

const CHAIN_ABI = parseAbi([
  "function channels(bytes32 channelId) view returns (uint128 balance, uint128 totalClaimed)",
  "function pendingWithdrawals(bytes32 channelId) view returns (uint128 amount, uint40 initiatedAt)",
  "function refundNonce(bytes32 channelId) view returns (uint256)",
  "function balanceOf(address owner) view returns (uint256)",
  "function allowance(address owner, address spender) view returns (uint256)",
]);

/** A FacilitatorEvmSigner answering from `chain` (all values decimal strings). */
function fakeSigner(chain) {
  const answer = (functionName) => {
    switch (functionName) {
      case "channels":
        return [BigInt(chain.balance), BigInt(chain.totalClaimed)];
      case "pendingWithdrawals":
        return [0n, chain.withdrawRequestedAt];
      case "refundNonce":
        return BigInt(chain.refundNonce);
      case "balanceOf":
        return BigInt(chain.payerBalance);
      case "allowance":
        return BigInt(chain.permit2Allowance);
      default:
        throw new Error(`fake chain: unexpected read ${functionName}`);
    }
  };
  return {
    getAddresses: () => [getAddress(rng.address())],
    async getCode() {
      return undefined; // every payer is an EOA
    },
    async readContract({ functionName, args }) {
      if (functionName === "tryAggregate") {
        return args[1].map(({ callData }) => {
          const d = decodeFunctionData({ abi: CHAIN_ABI, data: callData });
          return {
            success: true,
            returnData: encodeFunctionResult({ abi: CHAIN_ABI, functionName: d.functionName, result: answer(d.functionName) }),
          };
        });
      }
      if (functionName === "deposit") return undefined; // simulation succeeds
      return answer(functionName);
    },
    verifyTypedData: (a) => verifyTypedData(a),
    async writeContract() {
      throw new Error("verify only");
    },
  };
}

const HEALTHY = {
  balance: "0",
  totalClaimed: "0",
  withdrawRequestedAt: 0,
  refundNonce: "0",
  payerBalance: "1000000000",
  permit2Allowance: "1000000000000",
};

// ------------------------------------------------------------------ payloads

function requirements(overrides = {}, extra = {}) {
  return {
    scheme: "batch-settlement",
    network: USDC_BASE.network,
    amount: "1000",
    asset: USDC_BASE.asset,
    payTo: PAY_TO,
    maxTimeoutSeconds: 300,
    extra: {
      name: USDC_BASE.name,
      version: USDC_BASE.version,
      receiverAuthorizer: RECEIVER_AUTHORIZER,
      withdrawDelay: 900,
      ...extra,
    },
    ...overrides,
  };
}

async function withPinned(now, f) {
  const restoreTime = pinDateNow(now);
  const restoreRandom = pinCryptoRandom(rng);
  try {
    return await f();
  } finally {
    restoreRandom();
    restoreTime();
  }
}

/** The official client's first payment on a fresh channel: a deposit. */
async function officialDeposit(req, options = {}) {
  const client = new ClientScheme(PAYER, { salt: SALT, ...options });
  const r = await withPinned(NOW, () => client.createPaymentPayload(2, req));
  return { x402Version: 2, accepted: req, payload: r.payload };
}

/** The official client's voucher-only payment. */
async function officialVoucher(req, max, options = {}) {
  const client = new ClientScheme(PAYER, { salt: SALT, ...options });
  const config = client.buildChannelConfig ? client.buildChannelConfig(req) : undefined;
  const cc = config ?? {
    payer: PAYER.address,
    payerAuthorizer: getAddress(options.voucherSigner?.address ?? PAYER.address),
    receiver: req.payTo,
    receiverAuthorizer: getAddress(req.extra.receiverAuthorizer),
    token: req.asset,
    withdrawDelay: req.extra.withdrawDelay,
    salt: SALT,
  };
  const id = computeChannelId(cc, req.network);
  const r = await withPinned(NOW, () => client.createVoucherPayload(2, id, max, req.network, cc));
  return { x402Version: 2, accepted: req, payload: r.payload };
}

/** A refund request as the official client builds it (signVoucher at the charged total). */
async function officialRefund(req, charged, amount, signer = PAYER) {
  const cc = {
    payer: PAYER.address,
    payerAuthorizer: getAddress(signer.address),
    receiver: req.payTo,
    receiverAuthorizer: getAddress(req.extra.receiverAuthorizer),
    token: req.asset,
    withdrawDelay: req.extra.withdrawDelay,
    salt: SALT,
  };
  const id = computeChannelId(cc, req.network);
  const voucher = await signVoucher(signer, id, charged, req.network);
  const payload = { type: "refund", channelConfig: cc, voucher, ...(amount !== undefined ? { amount } : {}) };
  return { x402Version: 2, accepted: req, payload };
}

/** Re-signs a (mutated) voucher with `signer`, as a payer would for that config. */
async function resignVoucher(pp, signer = PAYER) {
  const v = pp.payload.voucher;
  pp.payload.voucher = await signVoucher(signer, v.channelId, v.maxClaimableAmount, pp.accepted.network);
  return pp;
}

async function officialVerdict(paymentPayload, paymentRequirements, chain, now) {
  const fac = new FacilitatorScheme(fakeSigner(chain));
  const restore = pinDateNow(now);
  try {
    const r = await fac.verify(paymentPayload, paymentRequirements);
    return {
      isValid: r.isValid,
      ...(r.invalidReason !== undefined ? { invalidReason: r.invalidReason } : {}),
      ...(r.payer !== undefined ? { payer: r.payer } : {}),
      ...(r.extra !== undefined ? { extra: r.extra } : {}),
    };
  } catch (e) {
    return { threw: e instanceof Error ? e.message.slice(0, 200) : String(e) };
  }
}

const verdicts = [];
async function add(name, paymentPayload, paymentRequirements, chainOverrides = {}, now = NOW) {
  const chain = { ...HEALTHY, ...chainOverrides };
  // Recorded as judged: later mutations of the same objects must not show.
  paymentPayload = deepClone(paymentPayload);
  paymentRequirements = deepClone(paymentRequirements);
  const official = await officialVerdict(paymentPayload, paymentRequirements, chain, now);
  verdicts.push({ name, now, chain, paymentPayload, paymentRequirements, official });
}

const REQ = requirements();
const FUNDED = { balance: "50000", totalClaimed: "2000" };

// ---- deposits (EIP-3009)
const dep = await officialDeposit(REQ);
await add("eip3009 deposit: valid", dep, REQ);
await add("eip3009 deposit: on a channel with claims", dep, REQ, { balance: "10", totalClaimed: "0" });
{
  const pp = deepClone(dep);
  pp.payload.deposit.amount = (BigInt(pp.payload.deposit.amount) + 1n).toString();
  await add("eip3009 deposit: amount changed after signing", pp, REQ);
}
await add("eip3009 deposit: validBefore passed", dep, REQ, {}, NOW + 300);
await add("eip3009 deposit: validBefore within the margin", dep, REQ, {}, NOW + 295);
{
  const pp = deepClone(dep);
  pp.payload.deposit.authorization.erc3009Authorization.validAfter = String(NOW + 60);
  await add("eip3009 deposit: validAfter in the future", pp, REQ);
}
{
  const req = requirements({}, { name: undefined });
  delete req.extra.name;
  const pp = deepClone(dep);
  pp.accepted = req;
  await add("eip3009 deposit: no extra.name", pp, req);
}
{
  const pp = deepClone(dep);
  delete pp.payload.deposit.authorization.erc3009Authorization;
  await add("eip3009 deposit: no authorization", pp, REQ);
}
await add("eip3009 deposit: payer balance too low", dep, REQ, { payerBalance: "1" });
{
  const pp = deepClone(dep);
  pp.payload.voucher.maxClaimableAmount = (BigInt(pp.payload.deposit.amount) + 1n).toString();
  await resignVoucher(pp);
  await add("eip3009 deposit: voucher above the deposit", pp, REQ);
}
await add("eip3009 deposit: voucher at the claimed total", dep, REQ, { balance: "0", totalClaimed: dep.payload.voucher.maxClaimableAmount });
{
  const pp = deepClone(dep);
  pp.payload.voucher.signature = (await signVoucher(OTHER, pp.payload.voucher.channelId, pp.payload.voucher.maxClaimableAmount, REQ.network)).signature;
  await add("eip3009 deposit: voucher signed by someone else", pp, REQ);
}
{
  const req = requirements({}, { assetTransferMethod: "permit2" });
  const pp = deepClone(dep);
  pp.accepted = req;
  await add("eip3009 deposit: requirements say permit2", pp, req);
}

// ---- deposits (Permit2)
const P2REQ = requirements({}, { assetTransferMethod: "permit2" });
const p2 = await officialDeposit(P2REQ);
await add("permit2 deposit: valid", p2, P2REQ);
await add("permit2 deposit: allowance too low", p2, P2REQ, { permit2Allowance: "1" });
await add("permit2 deposit: deadline passed", p2, P2REQ, {}, NOW + 296);
for (const [name, mutate] of [
  ["amount differs from the deposit", (a) => { a.permitted.amount = "1"; }],
  ["wrong spender", (a) => { a.spender = OTHER_ADDRESS; }],
  ["wrong token", (a) => { a.permitted.token = OTHER_ADDRESS; }],
  ["from is not the payer", (a) => { a.from = OTHER.address; }],
  ["witness names another channel", (a) => { a.witness.channelId = rng.bytes32(); }],
  ["witness channel id in upper case", (a) => { a.witness.channelId = `0x${a.witness.channelId.slice(2).toUpperCase()}`; }],
  ["nonce changed after signing", (a) => { a.nonce = (BigInt(a.nonce) + 1n).toString(); }],
]) {
  const pp = deepClone(p2);
  mutate(pp.payload.deposit.authorization.permit2Authorization);
  await add(`permit2 deposit: ${name}`, pp, P2REQ);
}
{
  const pp = deepClone(p2);
  delete pp.payload.deposit.authorization.permit2Authorization;
  await add("permit2 deposit: requirements say permit2, payload has none", pp, P2REQ);
}
{
  const req = requirements({}, { assetTransferMethod: "eip3009" });
  const pp = deepClone(p2);
  pp.accepted = req;
  await add("permit2 deposit: requirements say eip3009", pp, req);
}
{
  const req = requirements();
  const pp = deepClone(p2);
  pp.accepted = req;
  await add("permit2 deposit: no transfer method announced", pp, req);
}

// ---- vouchers
const v = await officialVoucher(REQ, "3000");
await add("voucher: valid", v, REQ, FUNDED);
await add("voucher: channel not funded", v, REQ, { balance: "0" });
await add("voucher: above the balance", v, REQ, { balance: "2999", totalClaimed: "0" });
await add("voucher: at the balance", v, REQ, { balance: "3000", totalClaimed: "0" });
await add("voucher: at the claimed total", v, REQ, { balance: "50000", totalClaimed: "3000" });
await add("voucher: below the claimed total", v, REQ, { balance: "50000", totalClaimed: "4000" });
{
  const pp = deepClone(v);
  pp.payload.voucher.maxClaimableAmount = "3001";
  await add("voucher: amount changed after signing", pp, REQ, FUNDED);
}
{
  const pp = deepClone(v);
  await resignVoucher(pp, OTHER);
  await add("voucher: signed by someone else", pp, REQ, FUNDED);
}
{
  const pp = deepClone(v);
  pp.payload.channelConfig.salt = rng.bytes32();
  await add("voucher: config does not hash to the channel id", pp, REQ, FUNDED);
}
{
  const pp = deepClone(v);
  pp.payload.voucher.channelId = `0x${pp.payload.voucher.channelId.slice(2).toUpperCase()}`;
  await resignVoucher(pp);
  await add("voucher: channel id in upper case", pp, REQ, FUNDED);
}
for (const [name, req] of [
  ["payTo differs", requirements({ payTo: OTHER_ADDRESS })],
  ["receiverAuthorizer differs", requirements({}, { receiverAuthorizer: OTHER_ADDRESS })],
  ["receiverAuthorizer zero", requirements({}, { receiverAuthorizer: ZERO })],
  ["asset differs", requirements({ asset: USDC_BASE_SEPOLIA.asset })],
  ["withdrawDelay differs", requirements({}, { withdrawDelay: 901 })],
  ["network differs from accepted", requirements({ network: USDC_BASE_SEPOLIA.network })],
  ["scheme is exact", requirements({ scheme: "exact" })],
]) {
  await add(`voucher: requirements' ${name}`, v, req, FUNDED);
}
{
  const req = requirements();
  delete req.extra.receiverAuthorizer;
  await add("voucher: requirements without receiverAuthorizer", v, req, FUNDED);
}
{
  const req = requirements();
  delete req.extra.withdrawDelay;
  await add("voucher: requirements without withdrawDelay", v, req, FUNDED);
}
for (const delay of [899, 2592001]) {
  const req = requirements();
  delete req.extra.withdrawDelay;
  const pp = deepClone(v);
  pp.accepted = req;
  pp.payload.channelConfig.withdrawDelay = delay;
  pp.payload.voucher.channelId = computeChannelId(pp.payload.channelConfig, req.network);
  await resignVoucher(pp);
  await add(`voucher: withdrawDelay ${delay} out of range`, pp, req, FUNDED);
}
{
  const pp = deepClone(v);
  pp.payload.type = "claim";
  await add("voucher: type claim", pp, REQ, FUNDED);
}
{
  const pp = deepClone(v);
  delete pp.payload.type;
  await add("voucher: no type", pp, REQ, FUNDED);
}
{
  const vs = await officialVoucher(REQ, "3000", { voucherSigner: VOUCHER_SIGNER });
  await add("voucher: separate voucher signer", vs, REQ, FUNDED);
  const pp = deepClone(vs);
  await resignVoucher(pp, PAYER);
  await add("voucher: separate voucher signer, signed by the payer", pp, REQ, FUNDED);
}
{
  const pp = deepClone(v);
  pp.payload.channelConfig.payerAuthorizer = ZERO;
  pp.payload.voucher.channelId = computeChannelId(pp.payload.channelConfig, REQ.network);
  await resignVoucher(pp, PAYER);
  await add("voucher: zero payer authorizer, signed by the payer", pp, REQ, FUNDED);
  await resignVoucher(pp, OTHER);
  await add("voucher: zero payer authorizer, signed by someone else", pp, REQ, FUNDED);
}

// ---- inputs this crate reads more strictly (documented differences)
{
  const pp = deepClone(v);
  pp.payload.voucher.maxClaimableAmount = "03000";
  await add("strict: voucher amount with a leading zero", pp, REQ, FUNDED);
}
{
  const pp = deepClone(v);
  pp.payload.voucher.maxClaimableAmount = ((1n << 128n)).toString();
  await add("strict: voucher amount above uint128", pp, REQ, FUNDED);
}
{
  const pp = deepClone(v);
  const sig = pp.payload.voucher.signature.slice(2);
  const s = BigInt(`0x${sig.slice(64, 128)}`);
  const hs = (SECP256K1_N - s).toString(16).padStart(64, "0");
  const vv = parseInt(sig.slice(128), 16) === 27 ? "1c" : "1b";
  pp.payload.voucher.signature = `0x${sig.slice(0, 64)}${hs}${vv}`;
  await add("strict: voucher with a high-s signature", pp, REQ, FUNDED);
}
{
  const pp = deepClone(v);
  pp.payload.channelConfig.receiver = pp.payload.channelConfig.receiver.toLowerCase();
  await add("lenient: receiver in lower case", pp, REQ, FUNDED);
}

// ---- refunds
const r = await officialRefund(REQ, "3000", undefined);
await add("refund: everything left", r, REQ, FUNDED);
await add("refund: at the claimed total", r, REQ, { balance: "50000", totalClaimed: "3000" });
await add("refund: below the claimed total", r, REQ, { balance: "50000", totalClaimed: "3001" });
await add("refund: channel not funded", r, REQ, { balance: "0" });
await add("refund: partial", await officialRefund(REQ, "3000", "500"), REQ, FUNDED);
{
  const pp = deepClone(r);
  await resignVoucher(pp, OTHER);
  await add("refund: voucher signed by someone else", pp, REQ, FUNDED);
}
await add("strict: refund of amount 0", await officialRefund(REQ, "3000", "0"), REQ, FUNDED);

// ------------------------------------------------------------------ calldata
// The contract's ABI and the collectors' data encoders are internal to
// @x402/evm 2.27.0 (not exported): read from its build, by the file names of
// that pinned version.
const evmEsm = join(dirname(createRequire(import.meta.url).resolve("@x402/evm")), "..", "esm");
const { batchSettlementABI } = await import(pathToFileURL(join(evmEsm, "chunk-H25OEB2U.mjs")).href);
const { buildErc3009CollectorData, buildPermit2CollectorData } = await import(
  pathToFileURL(join(evmEsm, "chunk-W6ON4LG2.mjs")).href
);

function sig65() {
  const b = rng.bytes(64);
  return `${b}${rng.int(0, 1) === 0 ? "1b" : "1c"}`;
}
function config(i) {
  return {
    payer: rng.address(),
    payerAuthorizer: i % 2 === 0 ? rng.address() : ZERO,
    receiver: rng.address(),
    receiverAuthorizer: rng.address(),
    token: rng.address(),
    withdrawDelay: 900 + i,
    salt: rng.bytes32(),
  };
}
const calldata = [];
for (const [i, data] of [[0, "0x"], [1, rng.bytes(1)], [2, rng.bytes(200)]]) {
  const c = config(i);
  const amount = rng.uint(128);
  const collector = rng.address();
  calldata.push({
    call: "deposit",
    channelConfig: c,
    amount: amount.toString(),
    collector,
    collectorData: data,
    calldata: encodeFunctionData({ abi: batchSettlementABI, functionName: "deposit", args: [c, amount, collector, data] }),
  });
}
for (const sig of [sig65(), rng.bytes(100)]) {
  const c = config(3);
  const amount = rng.uint(128);
  const nonce = rng.uint(256);
  calldata.push({
    call: "refundWithSignature",
    channelConfig: c,
    amount: amount.toString(),
    nonce: nonce.toString(),
    signature: sig,
    calldata: encodeFunctionData({ abi: batchSettlementABI, functionName: "refundWithSignature", args: [c, amount, nonce, sig] }),
  });
}
{
  const receiver = rng.address();
  const token = rng.address();
  calldata.push({
    call: "settle",
    receiver,
    token,
    calldata: encodeFunctionData({ abi: batchSettlementABI, functionName: "settle", args: [receiver, token] }),
  });
}
for (const n of [0, 1, 3]) {
  const claims = [];
  for (let i = 0; i < n; i++) {
    claims.push({
      voucher: { channel: config(i), maxClaimableAmount: rng.uint(128) },
      signature: i === 2 ? rng.bytes(97) : sig65(),
      totalClaimed: rng.uint(128),
    });
  }
  const sig = sig65();
  calldata.push({
    call: "claimWithSignature",
    claims: claims.map((c) => ({
      channelConfig: c.voucher.channel,
      maxClaimableAmount: c.voucher.maxClaimableAmount.toString(),
      signature: c.signature,
      totalClaimed: c.totalClaimed.toString(),
    })),
    signature: sig,
    calldata: encodeFunctionData({ abi: batchSettlementABI, functionName: "claimWithSignature", args: [claims, sig] }),
  });
}
for (const sig of [sig65(), rng.bytes(130)]) {
  const validAfter = rng.uint(64);
  const validBefore = rng.uint(64);
  const salt = rng.bytes32();
  calldata.push({
    call: "erc3009CollectorData",
    validAfter: validAfter.toString(),
    validBefore: validBefore.toString(),
    salt,
    signature: sig,
    calldata: buildErc3009CollectorData(validAfter, validBefore, salt, sig),
  });
}
for (const permit of ["0x", rng.bytes(160)]) {
  const nonce = rng.uint(256);
  const deadline = rng.uint(64);
  const sig = sig65();
  calldata.push({
    call: "permit2CollectorData",
    nonce: nonce.toString(),
    deadline: deadline.toString(),
    signature: sig,
    eip2612PermitData: permit,
    calldata: buildPermit2CollectorData(nonce, deadline, sig, permit),
  });
}

writeJson("batch-settlement-evm.json", {
  generator: generatorBlock(fileURLToPath(import.meta.url), ["@x402/core", "@x402/evm", "viem"]),
  description:
    "batch-settlement on EVM: channel ids, voucher/refund/claim-batch digests, and the official facilitator's verdicts on payloads made by the official client (valid and tampered), with the fake chain's state per vector.",
  keys: { payer: PAYER_KEY, voucherSigner: VOUCHER_KEY, other: OTHER_KEY },
  channelIds,
  digests,
  calldata,
  verdicts,
});
console.log(`batch-settlement-evm.json: ${channelIds.length} channel ids, ${digests.voucher.length + digests.refund.length + digests.claimBatch.length} digests, ${calldata.length} calldata, ${verdicts.length} verdicts`);
