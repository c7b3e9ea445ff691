// batch-settlement-server.json: the resource server's decision per channel as
// the OFFICIAL @x402/evm (2.27) batch-settlement server makes it, driven
// through its own hooks (BatchSettlementEvmScheme.schemeHooks and its
// enrichment callbacks) over its InMemoryChannelStorage, seeded per vector
// with the vector's channel record; Date.now and crypto randomness pinned.
//
// Two stages:
//  - "decide": onBeforeVerify. An abort or a local invalid verdict is a
//    refusal (for a cumulative-amount mismatch, with the corrective 402's
//    extra from enrichPaymentRequiredResponse); a local valid verdict is
//    driven on through onAfterVerify and onBeforeSettle (the handler having
//    succeeded): the record committed and the payment response's extra; no
//    verdict means the facilitator must verify.
//  - "afterVerify": onBeforeVerify (which must leave it to the facilitator),
//    then onAfterVerify with the facilitator's valid answer (`verified`, its
//    extra). A voucher then goes through onBeforeSettle; a deposit through
//    onAfterSettle with the facilitator's settlement (`settled`, its
//    extra.channelState); a refund (the handler skipped) through
//    enrichSettlementPayload and onAfterSettle.
//
// Records are written in paywire's ChannelRecord JSON (times in seconds); the
// official storage keeps milliseconds. The price is always the requirements'
// amount (the reference charges nothing else).
//
//   node gen-batch-server.mjs [out.json]
import { writeFileSync } from "node:fs";
import { getAddress } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import {
  computeChannelId,
  createBatchSettlementEIP3009DepositPayload,
  signVoucher,
} from "@x402/evm/batch-settlement/client";
import { BatchSettlementEvmScheme, InMemoryChannelStorage } from "@x402/evm/batch-settlement/server";
import {
  NOW,
  USDC_BASE,
  deepClone,
  generatorBlock,
  jsonable,
  makeRng,
  pinCryptoRandom,
  pinDateNow,
  writeJson,
} from "./common.mjs";

const rng = makeRng("batch-settlement-server");
const ZERO = "0x0000000000000000000000000000000000000000";
const PAYER = privateKeyToAccount(rng.privateKey());
const AUTHORIZER = privateKeyToAccount(rng.privateKey());
const OTHER = privateKeyToAccount(rng.privateKey());
const PAY_TO = rng.address();
const OTHER_RECEIVER = rng.address();
const RECEIVER_AUTHORIZER = rng.address();
const PRICE = "1000";

const REQ = {
  scheme: "batch-settlement",
  network: USDC_BASE.network,
  asset: USDC_BASE.asset,
  amount: PRICE,
  payTo: PAY_TO,
  maxTimeoutSeconds: 300,
  extra: {
    name: USDC_BASE.name,
    version: USDC_BASE.version,
    receiverAuthorizer: RECEIVER_AUTHORIZER,
    withdrawDelay: 900,
  },
};

function config(overrides = {}) {
  return {
    payer: PAYER.address,
    payerAuthorizer: AUTHORIZER.address,
    receiver: PAY_TO,
    receiverAuthorizer: RECEIVER_AUTHORIZER,
    token: USDC_BASE.asset,
    withdrawDelay: 900,
    salt: rng.bytes32(),
    ...overrides,
  };
}

async function voucherPayload(cc, max, signer = AUTHORIZER, type = "voucher", extra = {}) {
  const id = computeChannelId(cc, REQ.network);
  const voucher = await signVoucher(signer, id, max, REQ.network);
  return { x402Version: 2, accepted: REQ, payload: { type, channelConfig: cc, voucher, ...extra } };
}

async function depositPayload(cc, amount, max) {
  const restore = pinDateNow(NOW);
  const restoreRandom = pinCryptoRandom(rng);
  try {
    const r = await createBatchSettlementEIP3009DepositPayload(PAYER, 2, REQ, cc, amount, max, AUTHORIZER);
    return { x402Version: 2, accepted: REQ, payload: r.payload };
  } finally {
    restoreRandom();
    restore();
  }
}

/** A record in paywire's JSON for `pp`'s channel. */
function record(pp, over = {}) {
  const id = pp.payload.voucher.channelId;
  return {
    channelId: id,
    channelConfig: pp.payload.channelConfig,
    chargedCumulativeAmount: "3000",
    signedMaxClaimable: "3000",
    signature: `0x${"ab".repeat(65)}`,
    balance: "10000",
    totalClaimed: "1000",
    withdrawRequestedAt: 0,
    refundNonce: "2",
    onchainSyncedAt: NOW - 10,
    lastRequestAt: NOW - 10,
    ...over,
  };
}

function toOfficial(r) {
  return {
    channelId: r.channelId,
    channelConfig: r.channelConfig,
    chargedCumulativeAmount: r.chargedCumulativeAmount,
    signedMaxClaimable: r.signedMaxClaimable,
    signature: r.signature,
    balance: r.balance,
    totalClaimed: r.totalClaimed,
    withdrawRequestedAt: r.withdrawRequestedAt,
    refundNonce: Number(r.refundNonce),
    ...(r.onchainSyncedAt !== undefined ? { onchainSyncedAt: r.onchainSyncedAt * 1000 } : {}),
    lastRequestTimestamp: r.lastRequestAt * 1000,
  };
}

function fromOfficial(c) {
  if (!c) return null;
  if (c.pendingRequest !== undefined) throw new Error("a reservation was left in the record");
  return {
    channelId: c.channelId,
    channelConfig: c.channelConfig,
    chargedCumulativeAmount: String(c.chargedCumulativeAmount),
    signedMaxClaimable: String(c.signedMaxClaimable),
    signature: c.signature,
    balance: String(c.balance),
    totalClaimed: String(c.totalClaimed),
    withdrawRequestedAt: Number(c.withdrawRequestedAt),
    refundNonce: String(c.refundNonce),
    ...(c.onchainSyncedAt !== undefined ? { onchainSyncedAt: c.onchainSyncedAt / 1000 } : {}),
    lastRequestAt: c.lastRequestTimestamp / 1000,
  };
}

function makeScheme(rec, policy) {
  const storage = new InMemoryChannelStorage();
  if (rec) storage.channels.set(rec.channelId.toLowerCase(), toOfficial(rec));
  const scheme = new BatchSettlementEvmScheme(PAY_TO, {
    storage,
    onchainStateTtlMs: policy.onchainStateTtl * 1000,
    enforceMinDeposit: policy.minDeposit !== null,
  });
  return { scheme, storage };
}

async function corrective(scheme, paymentPayload) {
  const requirements = [deepClone(REQ)];
  await scheme.enrichPaymentRequiredResponse({
    error: "invalid_batch_settlement_evm_cumulative_amount_mismatch",
    paymentPayload,
    requirements,
  });
  const e = requirements[0].extra;
  return e.channelState ? { channelState: e.channelState, voucherState: e.voucherState } : null;
}

const vectors = [];

async function add(name, stage, pp, rec, opts = {}) {
  const policy = { onchainStateTtl: 300, minDeposit: null, ...opts.policy };
  const now = opts.now ?? NOW;
  const restore = pinDateNow(now);
  const restoreRandom = pinCryptoRandom(rng);
  const { scheme, storage } = makeScheme(rec, policy);
  const requirements = deepClone(REQ);
  const paymentPayload = deepClone(pp);
  const id = pp.payload.voucher.channelId;
  const expect = {};
  const refuse = async (reason) => {
    expect.decision = "refuse";
    expect.reason = reason;
    if (reason === "invalid_batch_settlement_evm_cumulative_amount_mismatch") {
      expect.corrective = await corrective(scheme, paymentPayload);
    }
  };
  const settleVoucher = async () => {
    const s = await scheme.schemeHooks.onBeforeSettle({ paymentPayload, requirements });
    if (s?.abort) return refuse(s.reason);
    expect.decision = "accept";
    expect.next = fromOfficial(await storage.get(id));
    expect.response = s.result.extra;
  };
  try {
    const before = await scheme.schemeHooks.onBeforeVerify({ paymentPayload, requirements });
    if (stage === "decide") {
      if (before?.abort) await refuse(before.reason);
      else if (before?.skip && !before.result.isValid) await refuse(before.result.invalidReason);
      else if (before?.skip) {
        const after = await scheme.schemeHooks.onAfterVerify({ paymentPayload, requirements, result: before.result });
        if (after?.abort) throw new Error(`${name}: afterVerify aborted: ${after.reason}`);
        await settleVoucher();
      } else expect.decision = "verify";
    } else {
      if (before !== undefined) throw new Error(`${name}: not left to the facilitator`);
      if (opts.moved) storage.channels.set(id.toLowerCase(), toOfficial(opts.moved));
      const result = { isValid: true, payer: PAYER.address, extra: opts.verified };
      const after = await scheme.schemeHooks.onAfterVerify({ paymentPayload, requirements, result });
      const type = pp.payload.type;
      if (after?.abort) await refuse(after.reason);
      else if (type === "voucher") await settleVoucher();
      else if (type === "deposit") {
        await scheme.schemeHooks.onAfterSettle({
          paymentPayload,
          requirements,
          result: { success: true, transaction: "0x", network: REQ.network, extra: { channelState: opts.settled } },
        });
        expect.decision = "accept";
        expect.next = fromOfficial(await storage.get(id));
        expect.response = await scheme.enrichSettlementResponse({ paymentPayload, requirements });
      } else {
        if (!after?.skipHandler) throw new Error(`${name}: the refund did not skip the handler`);
        expect.decision = "refund";
        try {
          const e = await scheme.enrichSettlementPayload({ paymentPayload, requirements });
          expect.refundSettlement = {
            ...(e.amount !== undefined ? { amount: e.amount } : {}),
            refundNonce: e.refundNonce,
            claims: e.claims.map((c) => ({
              channelId: computeChannelId(c.voucher.channel, REQ.network),
              maxClaimableAmount: c.voucher.maxClaimableAmount,
              totalClaimed: c.totalClaimed,
            })),
          };
          await scheme.schemeHooks.onAfterSettle({
            paymentPayload,
            requirements,
            result: { success: true, transaction: "0x", network: REQ.network, extra: { channelState: opts.settled } },
          });
          expect.refundSettled = fromOfficial(await storage.get(id));
        } catch (err) {
          expect.refundSettlementError = err.message;
        }
      }
    }
  } finally {
    restoreRandom();
    restore();
  }
  vectors.push({
    name,
    stage,
    now,
    price: PRICE,
    policy,
    record: rec ?? null,
    paymentPayload: pp,
    ...(opts.moved ? { recordAfterVerify: opts.moved } : {}),
    ...(opts.verified ? { verified: opts.verified } : {}),
    ...(opts.settled ? { settled: opts.settled } : {}),
    expect,
  });
}

// ------------------------------------------------------------- vouchers, here
{
  const cc = config();
  const pp = await voucherPayload(cc, "4000");
  await add("voucher: the charged total plus the price, checked here", "decide", pp, record(pp));
  await add("voucher: the first after a deposit", "decide", await voucherPayload(cc, "1000"),
    record(pp, { chargedCumulativeAmount: "0", signedMaxClaimable: "1000", totalClaimed: "0" }));
  await add("voucher: below the charged total plus the price", "decide", await voucherPayload(cc, "3500"), record(pp));
  await add("voucher: above the charged total plus the price", "decide", await voucherPayload(cc, "5000"), record(pp));
  await add("voucher: repeated (the charged total itself)", "decide", await voucherPayload(cc, "3000"), record(pp));
  await add("voucher: unknown channel", "decide", pp, null);
  await add("voucher: unknown channel, ceiling below the price", "decide", await voucherPayload(cc, "999"), null);
  await add("voucher: mirrored state past its freshness", "decide", pp, record(pp, { onchainSyncedAt: NOW - 301 }));
  await add("voucher: mirrored state at the edge of its freshness", "decide", pp, record(pp, { onchainSyncedAt: NOW - 300 }));
  await add("voucher: mirrored state never read", "decide", pp, record(pp, { onchainSyncedAt: undefined }));
  await add("voucher: signed by another key", "decide", await voucherPayload(cc, "4000", OTHER), record(pp));
  await add("voucher: signed by the payer, not its authorizer", "decide", await voucherPayload(cc, "4000", PAYER), record(pp));
  await add("voucher: ceiling above the balance", "decide", pp, record(pp, { balance: "3999" }));
  await add("voucher: ceiling at the balance", "decide", pp, record(pp, { balance: "4000" }));
  await add("voucher: ceiling at the claimed total", "decide", pp, record(pp, { totalClaimed: "4000", balance: "5000" }));
  {
    const t = deepClone(pp);
    t.payload.channelConfig.salt = rng.bytes32();
    await add("voucher: channel id not of its config", "decide", t, record(pp));
  }
  {
    const other = await voucherPayload(config({ receiver: OTHER_RECEIVER }), "4000");
    await add("voucher: another receiver", "decide", other, record(other));
  }
  {
    const other = await voucherPayload(config({ withdrawDelay: 1000 }), "4000");
    await add("voucher: another withdraw delay", "decide", other, record(other));
  }
  {
    const other = await voucherPayload(config({ receiverAuthorizer: OTHER_RECEIVER }), "4000");
    await add("voucher: another receiver authorizer", "decide", other, record(other));
  }
  {
    const zero = await voucherPayload(config({ payerAuthorizer: ZERO }), "4000", PAYER);
    await add("voucher: no payer authorizer (smart wallet)", "decide", zero, record(zero));
  }
}

// --------------------------------------------------- vouchers, the facilitator
{
  const cc = config();
  const pp = await voucherPayload(cc, "4000");
  const verified = { channelId: pp.payload.voucher.channelId, balance: "20000", totalClaimed: "1500", withdrawRequestedAt: 0, refundNonce: "1" };
  await add("facilitator voucher: stale state", "afterVerify", pp, record(pp, { onchainSyncedAt: NOW - 400 }), { verified });
  await add("facilitator voucher: unknown channel", "afterVerify", pp, null, { verified });
  await add("facilitator voucher: the record moved meanwhile", "afterVerify", pp, record(pp, { onchainSyncedAt: NOW - 400 }), {
    verified,
    moved: record(pp, { onchainSyncedAt: NOW - 400, chargedCumulativeAmount: "4000", signedMaxClaimable: "4000" }),
  });
  await add("facilitator voucher: the answer without state", "afterVerify", pp, null, { verified: {} });
  await add("facilitator voucher: withdrawal requested", "afterVerify", pp, null, {
    verified: { ...verified, withdrawRequestedAt: NOW - 60 },
  });
}

// ------------------------------------------------------------------ deposits
{
  const cc = config();
  const dep = await depositPayload(cc, "10000", "1000");
  await add("deposit: left to the facilitator", "decide", dep, null);
  await add("deposit: below the minimum deposit", "decide", await depositPayload(cc, "9999", "1000"), null, {
    policy: { minDeposit: "10000" },
  });
  await add("deposit: at the minimum deposit", "decide", dep, null, { policy: { minDeposit: "10000" } });
  await add("deposit: ceiling not the price on a new channel", "decide", await depositPayload(cc, "10000", "999"), null);
  const verified = { channelId: dep.payload.voucher.channelId, balance: "0", totalClaimed: "0", withdrawRequestedAt: 0, refundNonce: "0" };
  const settled = { ...verified, balance: "10000" };
  await add("deposit: a new channel, settled", "afterVerify", dep, null, { verified, settled });
  await add("deposit: a new channel, settlement without state", "afterVerify", dep, null, { verified, settled: {} });
  const topUp = await depositPayload(cc, "5000", "4000");
  await add("deposit: a top-up on a charged channel", "afterVerify", topUp, record(dep, { onchainSyncedAt: NOW - 400 }), {
    verified: { ...verified, balance: "10000", totalClaimed: "1000", refundNonce: "2" },
    settled: { ...verified, balance: "15000", totalClaimed: "1000", refundNonce: "2" },
  });
  await add("deposit: a top-up whose ceiling is stale", "decide", await depositPayload(cc, "5000", "3500"),
    record(dep, { onchainSyncedAt: NOW - 400 }));
}

// ------------------------------------------------------------------- refunds
{
  const cc = config();
  const full = await voucherPayload(cc, "3000", AUTHORIZER, "refund");
  const part = await voucherPayload(cc, "3000", AUTHORIZER, "refund", { amount: "500" });
  const verified = { channelId: full.payload.voucher.channelId, balance: "10000", totalClaimed: "1000", withdrawRequestedAt: 0, refundNonce: "2" };
  await add("refund: at the charged total", "decide", full, record(full));
  await add("refund: above the charged total", "decide", await voucherPayload(cc, "3500", AUTHORIZER, "refund"), record(full));
  await add("refund: unknown channel", "decide", full, null);
  await add("refund: everything left", "afterVerify", full, record(full), {
    verified,
    settled: { ...verified, balance: "3000", refundNonce: "3" },
  });
  await add("refund: part of what is left", "afterVerify", part, record(full), {
    verified,
    settled: { ...verified, balance: "9500", refundNonce: "3" },
  });
  await add("refund: nothing left", "afterVerify", full, record(full), {
    verified: { ...verified, balance: "3000" },
    settled: verified,
  });
  await add("refund: a settlement without state", "afterVerify", full, record(full), { verified, settled: {} });
  await add("refund: unknown channel, after the facilitator", "afterVerify", full, null, {
    verified,
    settled: { ...verified, balance: "3000", refundNonce: "3" },
  });
}

const doc = {
  generator: generatorBlock(new URL(import.meta.url).pathname, ["@x402/evm", "@x402/core", "viem"]),
  receiverAuthorizer: getAddress(RECEIVER_AUTHORIZER),
  paymentRequirements: REQ,
  vectors,
};
if (process.argv[2]) writeFileSync(process.argv[2], `${JSON.stringify(jsonable(doc), null, 2)}\n`);
else writeJson("batch-settlement-server.json", doc);
