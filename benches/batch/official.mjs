// The official side of benches/batch: the vouchers batch_vouchers wrote,
// verified by the official TypeScript resource server (@x402/evm 2.27.0
// batch-settlement server scheme) as it verifies a voucher locally: each
// channel is pre-seeded in its InMemoryChannelStorage with the same charged
// total and mirrored on-chain state (fresh: synced now, with a freshness
// window longer than the run), so that its hooks never ask a facilitator.
// Two rows:
//  - the scheme's onBeforeVerify hook (BatchSettlementEvmScheme.schemeHooks):
//    JSON.parse of the PaymentPayload, the channel id binding, the storage
//    read, the cumulative check against the charged total plus the price,
//    then verifyVoucherLocally (validateChannelConfig, computeChannelId,
//    viem verifyTypedData, balance and claimed-total checks); valid when it
//    answers { skip: true, result: { isValid: true } };
//  - x402ResourceServer.verifyPayment with the scheme registered: the same,
//    then its afterVerify hook, which reserves the channel for the request;
//    the reservation is released after each call the way a failed handler
//    releases it (the scheme's onVerifiedPaymentCanceled hook).
// Timed as the native side (30 samples of at least 20 ms; µs per call, min
// and median). Prints one JSON line per row.
//
//   node benches/batch/official.mjs vouchers.json
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, "..", "..");
const requireRoot = createRequire(join(ROOT, "package.json"));
const load = (name) => import(pathToFileURL(requireRoot.resolve(name)).href);
const pkgVersion = (name) =>
  JSON.parse(readFileSync(join(ROOT, "node_modules", name, "package.json"), "utf8")).version;

const { BatchSettlementEvmScheme, InMemoryChannelStorage } = await load(
  "@x402/evm/batch-settlement/server",
);
const { x402ResourceServer } = await load("@x402/core/server");

const doc = JSON.parse(readFileSync(process.argv[2], "utf8"));
const requirements = doc.requirements;
const texts = doc.channels.map((c) => JSON.stringify(c.paymentPayload));

function makeScheme() {
  const storage = new InMemoryChannelStorage();
  const scheme = new BatchSettlementEvmScheme(requirements.payTo, {
    storage,
    onchainStateTtlMs: 365 * 24 * 3600 * 1000,
  });
  const now = Date.now();
  for (const c of doc.channels) {
    const p = c.paymentPayload.payload;
    storage.channels.set(c.channelId.toLowerCase(), {
      channelId: c.channelId,
      channelConfig: p.channelConfig,
      chargedCumulativeAmount: c.chargedCumulativeAmount,
      // The previous voucher is not needed to verify the next one.
      signedMaxClaimable: c.chargedCumulativeAmount,
      signature: p.voucher.signature,
      balance: c.balance,
      totalClaimed: c.totalClaimed,
      withdrawRequestedAt: 0,
      refundNonce: 0,
      onchainSyncedAt: now,
      lastRequestTimestamp: now,
    });
  }
  return scheme;
}

// Every call must answer valid, in the timed loops too.
async function measure(g) {
  let bad = 0;
  const f = async () => (await g()) || (bad++, false);
  for (let i = 0; i < 3; i++) if (!(await f())) throw new Error("not valid");
  let n = 1;
  for (;;) {
    const t = performance.now();
    for (let i = 0; i < n; i++) await f();
    if (performance.now() - t >= 20) break;
    n *= 2;
  }
  const perOp = [];
  for (let s = 0; s < 30; s++) {
    const t = performance.now();
    for (let i = 0; i < n; i++) await f();
    perOp.push(((performance.now() - t) * 1000) / n);
  }
  if (bad > 0) throw new Error(`${bad} calls answered invalid`);
  perOp.sort((a, b) => a - b);
  return { min_us: perOp[0], median_us: perOp[perOp.length >> 1] };
}

const impl = `official @x402/evm ${pkgVersion("@x402/evm")} in Node ${process.versions.node}`;
const emit = async (what, f) => console.log(JSON.stringify({ impl, what, ...(await measure(f)) }));

{
  const scheme = makeScheme();
  // A tampered voucher is refused (its signature no longer recovers to the
  // payer authorizer), so that a valid answer below means a checked one.
  const tampered = JSON.parse(texts[0]);
  const sig = tampered.payload.voucher.signature;
  tampered.payload.voucher.signature = sig.slice(0, 10) + (sig[10] === "0" ? "1" : "0") + sig.slice(11);
  const t = await scheme.schemeHooks.onBeforeVerify({ paymentPayload: tampered, requirements });
  if (t?.result?.isValid !== false) throw new Error("a tampered voucher was not refused");
  let next = 0;
  await emit("scheme.schemeHooks.onBeforeVerify(JSON.parse(payload)): local voucher verification", async () => {
    const paymentPayload = JSON.parse(texts[next++ % texts.length]);
    const r = await scheme.schemeHooks.onBeforeVerify({ paymentPayload, requirements });
    return r?.skip === true && r.result.isValid === true;
  });
}

{
  const scheme = makeScheme();
  const facilitator = {
    verify: () => Promise.reject(new Error("the facilitator is never asked")),
    settle: () => Promise.reject(new Error("the facilitator is never asked")),
    getSupported: () => Promise.reject(new Error("the facilitator is never asked")),
  };
  const server = new x402ResourceServer(facilitator).register(requirements.network, scheme);
  let next = 0;
  await emit(
    "x402ResourceServer.verifyPayment(JSON.parse(payload)), reservation released by onVerifiedPaymentCanceled",
    async () => {
      const paymentPayload = JSON.parse(texts[next++ % texts.length]);
      const r = await server.verifyPayment(paymentPayload, requirements);
      await scheme.schemeHooks.onVerifiedPaymentCanceled({
        paymentPayload,
        requirements,
        reason: "handler_failed",
      });
      return r.isValid === true;
    },
  );
}
