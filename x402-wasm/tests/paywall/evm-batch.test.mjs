// batch-settlement on an EVM network in the example Worker (its /metered
// route, the channel's record in the PaymentRecords Durable Object), served
// by workerd on 127.0.0.1, paid with the core's payments of
// x402-core/tests/vectors/batch-settlement-paywall.json (a deposit of 10000
// with a voucher for the first 1000, then vouchers at the cumulative totals
// 2000, 3000 and 5000), against a facilitator double answering POST /verify
// and POST /settle as a facilitator of that scheme does, or told to
// misbehave. The content comes from an origin double, whose hits count the
// handler's runs.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

import { decodeHeader } from "paywire";

import { VECTORS_DIR } from "../lib/harness.mjs";
import { SETTLED, VALID, startExampleWorker, startFacilitator, startOrigin } from "./doubles.mjs";

const DOC = JSON.parse(readFileSync(join(VECTORS_DIR, "batch-settlement-paywall.json"), "utf8"));
const PAYMENTS = Object.fromEntries(DOC.vectors.map((v) => [v.name, v.header]));
const PAYLOADS = Object.fromEntries(DOC.vectors.map((v) => [v.name, v.paymentPayload]));
const RQ = DOC.paymentRequirements;
const CHANNEL_KEY = `batch-settlement/${RQ.network}/${DOC.channelId}`;
const ADMIN_TOKEN = "admin-test-token";
const CONTENT = "origin content\n";

/** The example Worker offering exactly the vectors' requirement on /metered. */
const startWorker = (env, stateDir) =>
  startExampleWorker(
    {
      PAY_TO: RQ.payTo,
      NETWORK: RQ.network,
      ASSET: RQ.asset,
      TOKEN_NAME: RQ.extra.name,
      TOKEN_VERSION: RQ.extra.version,
      CHANNEL_RECEIVER_AUTHORIZER: RQ.extra.receiverAuthorizer,
      CHANNEL_PRICE: RQ.amount,
      CHANNEL_WITHDRAW_DELAY: String(RQ.extra.withdrawDelay),
      ADMIN_TOKEN,
      SETTLE_TIMEOUT_SECONDS: "2",
      ...env,
    },
    stateDir,
  );

/**
 * GET /metered, paying with `payment` (a vector's name); `reason` is the
 * reason of the PaymentRequired `error` of a 402 (its part before a message,
 * "reason: message"), else the body's `error`; `required` the decoded
 * PAYMENT-REQUIRED, `response` the decoded PAYMENT-RESPONSE.
 */
async function get(worker, payment, { method = "GET" } = {}) {
  const res = await fetch(`${worker.origin}/metered`, {
    method,
    headers: payment ? { "PAYMENT-SIGNATURE": PAYMENTS[payment] } : {},
    signal: AbortSignal.timeout(20_000),
  });
  const body = await res.text();
  const pr = res.headers.get("payment-required");
  const required = pr ? decodeHeader("PAYMENT-REQUIRED", pr) : null;
  const pres = res.headers.get("payment-response");
  const response = pres ? decodeHeader("PAYMENT-RESPONSE", pres) : null;
  let reason = (required?.error ?? "").split(": ")[0];
  if (!required) {
    try {
      reason = JSON.parse(body).error ?? "";
    } catch {
      // not JSON: no reason
    }
  }
  return { status: res.status, headers: res.headers, body, reason, required, response };
}

async function uncertainList(worker) {
  const res = await fetch(`${worker.origin}/x402/uncertain`, {
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    signal: AbortSignal.timeout(20_000),
  });
  assert.equal(res.status, 200);
  return res.json();
}

/** What the doubles saw so far: POSTs to the facilitator, handler runs. */
function counts(facilitator, origin) {
  return { verify: facilitator.verifies.length, settle: facilitator.calls.length, handled: origin.hits() };
}

/** Asserts what the doubles saw since `before`. */
function assertSince(before, facilitator, origin, { verify, settle, handled }, what) {
  assert.deepEqual(
    { verify: facilitator.verifies.length - before.verify, settle: facilitator.calls.length - before.settle,
      handled: origin.hits() - before.handled },
    { verify, settle, handled },
    what,
  );
}

/** Asserts an answer that delivered the content, with `Cache-Control: private, no-store`. */
function assertDelivered(got, what) {
  assert.equal(got.status, 200, `${what}: ${got.reason} ${got.body}`);
  assert.equal(got.body, CONTENT, what);
  assert.equal(got.headers.get("cache-control"), "private, no-store", what);
  assert.ok(got.response, `${what}: PAYMENT-RESPONSE`);
  assert.equal(got.response.success, true, what);
  assert.equal(got.response.network, RQ.network, what);
  assert.equal(got.response.payer.toLowerCase(), DOC.payer.toLowerCase(), what);
}

/** Asserts an answer that delivered nothing: `status`, `reason`, no content, no PAYMENT-RESPONSE. */
function assertRefused(got, status, reason, what) {
  assert.equal(got.status, status, `${what}: ${got.reason} ${got.body}`);
  assert.equal(got.reason, reason, `${what}: ${got.body}`);
  assert.ok(!got.body.includes(CONTENT), `${what}: content delivered`);
  assert.equal(got.response, null, `${what}: PAYMENT-RESPONSE`);
}

describe("workerd paywall: batch-settlement on EVM, a channel from its deposit through its vouchers", () => {
  let facilitator;
  let origin;
  let worker;
  let state;
  before(async () => {
    state = mkdtempSync(join(tmpdir(), "x402-paywall-"));
    facilitator = await startFacilitator();
    origin = await startOrigin();
    worker = await startWorker({ FACILITATOR_URL: facilitator.url, PREMIUM_ORIGIN: origin.url }, state);
  });
  after(async () => {
    await worker?.proc.stop();
    await facilitator?.close();
    await origin?.close();
    if (state) rmSync(state, { recursive: true, force: true });
  });

  test("without the route's settings, /metered is not offered", async () => {
    const stateless = mkdtempSync(join(tmpdir(), "x402-paywall-"));
    const plain = await startWorker({ FACILITATOR_URL: facilitator.url, CHANNEL_RECEIVER_AUTHORIZER: undefined },
      stateless);
    try {
      const got = await get(plain, "deposit");
      assert.equal(got.status, 404);
      assert.equal(got.required, null);
      assert.equal(facilitator.posts.length, 0);
    } finally {
      await plain.proc.stop();
      rmSync(stateless, { recursive: true, force: true });
    }
  });

  test("the 402 offers exactly the vectors' requirement", async () => {
    const got = await get(worker);
    assert.equal(got.status, 402);
    assert.deepEqual(got.required.accepts, [RQ]);
    assert.equal(got.required.resource.url, `${worker.origin}/metered`);
    assert.equal(origin.hits(), 0);
  });

  test("the deposit: verified, handled, settled once, committed, then delivered", async () => {
    const before = counts(facilitator, origin);
    const got = await get(worker, "deposit");
    assertDelivered(got, "deposit");
    assert.deepEqual(facilitator.posts, ["/verify", "/settle"]);
    assertSince(before, facilitator, origin, { verify: 1, settle: 1, handled: 1 }, "deposit");
    // Both carry the route's requirement and the client's payload.
    for (const call of [facilitator.verifies[0], facilitator.calls[0]]) {
      assert.deepEqual(call, { x402Version: 2, paymentPayload: PAYLOADS.deposit, paymentRequirements: RQ });
    }
    const pr = got.response;
    assert.match(pr.transaction, /^0x[0-9a-f]{64}$/);
    assert.equal(pr.extra.chargedAmount, "1000");
    assert.equal(pr.extra.channelState.channelId, DOC.channelId);
    assert.equal(pr.extra.channelState.chargedCumulativeAmount, "1000");
    assert.equal(pr.extra.channelState.balance, "10000");
    assert.deepEqual(await uncertainList(worker), []);
  });

  test("the next voucher (2000): checked here and charged by the record's swap, no facilitator call", async () => {
    const before = counts(facilitator, origin);
    // HEAD is never charged: a 402, the voucher left unused.
    const head = await get(worker, "voucher2000", { method: "HEAD" });
    assert.equal(head.status, 402);
    assert.equal(head.response, null);
    assertSince(before, facilitator, origin, { verify: 0, settle: 0, handled: 0 }, "HEAD");
    const got = await get(worker, "voucher2000");
    assertDelivered(got, "voucher2000");
    assertSince(before, facilitator, origin, { verify: 0, settle: 0, handled: 1 }, "voucher2000");
    assert.equal(got.response.transaction, "");
    assert.equal(got.response.extra.chargedAmount, "1000");
    assert.equal(got.response.extra.channelState.chargedCumulativeAmount, "2000");
  });

  test("a voucher off the charged total (5000): 402 with the channel's state, no handler", async () => {
    const before = counts(facilitator, origin);
    const got = await get(worker, "voucher5000");
    assertRefused(got, 402, "invalid_batch_settlement_evm_cumulative_amount_mismatch", "voucher5000");
    assert.deepEqual(JSON.parse(got.body), got.required);
    const extra = got.required.accepts[0].extra;
    assert.equal(extra.receiverAuthorizer, RQ.extra.receiverAuthorizer);
    assert.equal(extra.channelState.channelId, DOC.channelId);
    assert.equal(extra.channelState.chargedCumulativeAmount, "2000");
    assertSince(before, facilitator, origin, { verify: 0, settle: 0, handled: 0 }, "voucher5000");
  });

  test("after a restart on the same records: the channel is kept, charged once per voucher", async () => {
    await worker.proc.stop();
    worker = await startWorker({ FACILITATOR_URL: facilitator.url, PREMIUM_ORIGIN: origin.url }, state);
    const before = counts(facilitator, origin);
    // The voucher at the next total: accepted from the kept record (a
    // channel unknown here would have been verified at the facilitator).
    const got = await get(worker, "voucher3000");
    assertDelivered(got, "voucher3000");
    assert.equal(got.response.extra.channelState.chargedCumulativeAmount, "3000");
    assertSince(before, facilitator, origin, { verify: 0, settle: 0, handled: 1 }, "voucher3000");
    // Earlier vouchers, and the deposit, again: refused, not charged twice.
    for (const name of ["voucher2000", "voucher3000", "deposit"]) {
      const again = await get(worker, name);
      assertRefused(again, 402, "invalid_batch_settlement_evm_cumulative_amount_mismatch", `${name} again`);
      assert.equal(again.required.accepts[0].extra.channelState.chargedCumulativeAmount, "3000", name);
    }
    assertSince(before, facilitator, origin, { verify: 0, settle: 0, handled: 1 }, "refused again");
  });
});

describe("workerd paywall: batch-settlement on EVM, the facilitator failing a deposit", () => {
  let facilitator;
  let origin;
  before(async () => {
    facilitator = await startFacilitator();
    origin = await startOrigin();
  });
  after(async () => {
    await facilitator?.close();
    await origin?.close();
  });

  /** A Worker on fresh records, for `run(worker)`; the doubles reset after. */
  async function withWorker(run) {
    const state = mkdtempSync(join(tmpdir(), "x402-paywall-"));
    const worker = await startWorker({ FACILITATOR_URL: facilitator.url, PREMIUM_ORIGIN: origin.url }, state);
    try {
      await run(worker);
    } finally {
      await worker.proc.stop();
      rmSync(state, { recursive: true, force: true });
      await facilitator.set(SETTLED);
      facilitator.setVerify(VALID);
    }
  }

  /**
   * Asserts that the channel has no record: the next voucher is not accepted
   * from one (no facilitator call) but sent to the facilitator to verify,
   * which says the channel does not exist.
   */
  async function assertNoChannel(worker) {
    facilitator.setVerify({
      status: 200,
      contentType: "application/json",
      body: JSON.stringify({ isValid: false, invalidReason: "invalid_batch_settlement_evm_channel_not_found",
        payer: DOC.payer }),
    });
    const before = counts(facilitator, origin);
    const got = await get(worker, "voucher2000");
    assertRefused(got, 402, "invalid_batch_settlement_evm_channel_not_found", "the next voucher");
    assertSince(before, facilitator, origin, { verify: 1, settle: 0, handled: 0 }, "the next voucher");
    facilitator.setVerify(VALID);
  }

  const json = (body) => ({ status: 200, contentType: "application/json", body: JSON.stringify(body) });

  // The verification fails: the handler never runs, nothing is settled.
  const verifyFailures = [
    ["/verify refuses (isValid: false)", async () =>
      facilitator.setVerify(json({ isValid: false, invalidReason: "invalid_batch_settlement_evm_insufficient_balance",
        payer: DOC.payer })),
    402, "invalid_batch_settlement_evm_insufficient_balance", 1],
    ["/verify answers 500", async () =>
      facilitator.setVerify({ status: 500, contentType: "application/json", body: '{"error":"down"}' }),
    502, "unexpected_verify_error", 1],
    ["/verify answers garbage", async () =>
      facilitator.setVerify({ status: 200, contentType: "text/html", body: "<html>oops</html>" }),
    502, "unexpected_verify_error", 1],
    ["/verify hangs past the timeout", async () => facilitator.setVerify({ hang: true }),
      502, "unexpected_verify_error", 1],
    ["the facilitator is unreachable (connections refused)", () => facilitator.set({ refuse: true }),
      502, "unexpected_verify_error", 0],
  ];
  for (const [name, fault, status, reason, verifies] of verifyFailures) {
    test(`${name}: ${status} ${reason}, no handler, no /settle, no record`, () =>
      withWorker(async (worker) => {
        await fault();
        const before = counts(facilitator, origin);
        const got = await get(worker, "deposit");
        assertRefused(got, status, reason, name);
        assertSince(before, facilitator, origin, { verify: verifies, settle: 0, handled: 0 }, name);
        await facilitator.set(SETTLED);
        facilitator.setVerify(VALID);
        assert.deepEqual(await uncertainList(worker), []);
        await assertNoChannel(worker);
      }));
  }

  test("/settle refuses (success: false with a reason): 402 with it, nothing delivered, no record", () =>
    withWorker(async (worker) => {
      await facilitator.set(json({
        success: false, errorReason: "invalid_batch_settlement_evm_deposit_simulation_failed",
        transaction: "", network: RQ.network, payer: DOC.payer,
      }));
      const before = counts(facilitator, origin);
      const got = await get(worker, "deposit");
      assertRefused(got, 402, "invalid_batch_settlement_evm_deposit_simulation_failed", "refused");
      assertSince(before, facilitator, origin, { verify: 1, settle: 1, handled: 1 }, "refused");
      await facilitator.set(SETTLED);
      assert.deepEqual(await uncertainList(worker), []);
      await assertNoChannel(worker);
    }));

  // The settlement may have happened: 502 settlement_uncertain, recorded
  // for reconciliation beside the channel's key; never a 402, no content.
  const uncertain = [
    ["/settle answers 500 (a success-looking body)", { status: 500, contentType: "application/json", body: null }],
    ["/settle answers garbage with 200", { status: 200, contentType: "text/html", body: "<html>Bad gateway</html>" }],
    ["/settle hangs past SETTLE_TIMEOUT_SECONDS", { hang: true }],
    ["/settle answers success without a transaction", json({
      success: true, transaction: "", network: RQ.network, payer: DOC.payer,
    })],
  ];
  for (const [name, mode] of uncertain) {
    test(`${name}: 502 settlement_uncertain, listed for reconciliation, no channel`, () =>
      withWorker(async (worker) => {
        await facilitator.set(mode);
        const before = counts(facilitator, origin);
        const started = Date.now();
        const got = await get(worker, "deposit");
        assertRefused(got, 502, "settlement_uncertain", name);
        if (mode.hang) assert.ok(Date.now() - started >= 1900, "answered before the settlement's timeout");
        assertSince(before, facilitator, origin, { verify: 1, settle: 1, handled: 1 }, name);
        await facilitator.set(SETTLED);
        const listed = await uncertainList(worker);
        assert.equal(listed.length, 1, JSON.stringify(listed));
        const [r] = listed;
        assert.ok(r.key.startsWith(`${CHANNEL_KEY}/`), r.key);
        assert.equal(r.state, "uncertain");
        assert.equal(r.payer.toLowerCase(), DOC.payer.toLowerCase());
        assert.equal(r.amount, PAYLOADS.deposit.payload.deposit.amount);
        assert.equal(r.network, RQ.network);
        assert.equal(r.asset.toLowerCase(), RQ.asset.toLowerCase());
        assert.equal(r.route, `${worker.origin}/metered`);
        assert.ok(r.nonce.includes(DOC.channelId), r.nonce);
        assert.ok(r.cause, JSON.stringify(r));
        await assertNoChannel(worker);
      }));
  }

  test("/settle unreachable: 502 facilitator_unavailable, nothing recorded; then the same deposit settles", () =>
    withWorker(async (worker) => {
      await facilitator.set({ refuseAfterVerify: true });
      const before = counts(facilitator, origin);
      const got = await get(worker, "deposit");
      assertRefused(got, 502, "facilitator_unavailable", "settlement not sent");
      assertSince(before, facilitator, origin, { verify: 1, settle: 0, handled: 1 }, "settlement not sent");
      await facilitator.set(SETTLED);
      assert.deepEqual(await uncertainList(worker), []);
      await assertNoChannel(worker);
      const back = counts(facilitator, origin);
      const again = await get(worker, "deposit");
      assertDelivered(again, "the same deposit, the facilitator back");
      assert.equal(again.response.extra.channelState.chargedCumulativeAmount, "1000");
      assertSince(back, facilitator, origin, { verify: 1, settle: 1, handled: 1 }, "the facilitator back");
      const next = await get(worker, "voucher2000");
      assertDelivered(next, "voucher2000");
      assertSince(back, facilitator, origin, { verify: 1, settle: 1, handled: 2 }, "voucher2000");
    }));
});

describe("workerd paywall: batch-settlement on EVM, concurrent presentations through the Durable Object", () => {
  let facilitator;
  let origin;
  let worker;
  let state;
  before(async () => {
    state = mkdtempSync(join(tmpdir(), "x402-paywall-"));
    facilitator = await startFacilitator();
    origin = await startOrigin();
    worker = await startWorker({ FACILITATOR_URL: facilitator.url, PREMIUM_ORIGIN: origin.url }, state);
  });
  after(async () => {
    await worker?.proc.stop();
    await facilitator?.close();
    await origin?.close();
    if (state) rmSync(state, { recursive: true, force: true });
  });

  test("eight concurrent presentations of one voucher: charged once, delivered once", async () => {
    assertDelivered(await get(worker, "deposit"), "deposit");
    // The handler holds each request long enough for all eight to read the
    // channel's record before the first commits.
    origin.delay(300);
    const before = counts(facilitator, origin);
    const got = await Promise.all(Array.from({ length: 8 }, () => get(worker, "voucher2000")));
    origin.delay(0);
    const delivered = got.filter((g) => g.status === 200);
    assert.equal(delivered.length, 1, got.map((g) => `${g.status} ${g.reason}`).join(", "));
    assertDelivered(delivered[0], "the one delivered");
    assert.equal(delivered[0].response.extra.channelState.chargedCumulativeAmount, "2000");
    const others = got.filter((g) => g.status !== 200);
    for (const g of others) {
      assert.equal(g.status, 402, g.body);
      assert.ok(["invalid_batch_settlement_evm_channel_busy", "invalid_batch_settlement_evm_cumulative_amount_mismatch"]
        .includes(g.reason), g.reason);
      assert.ok(!g.body.includes(CONTENT));
      assert.equal(g.response, null);
    }
    // At least one lost the record's swap after its handler ran.
    assert.ok(others.some((g) => g.reason === "invalid_batch_settlement_evm_channel_busy"),
      others.map((g) => g.reason).join(", "));
    assert.equal(facilitator.verifies.length - before.verify, 0);
    assert.equal(facilitator.calls.length - before.settle, 0);
    // Charged exactly once: the next total is accepted, the same one refused.
    assertDelivered(await get(worker, "voucher3000"), "voucher3000");
    assertRefused(await get(worker, "voucher2000"), 402, "invalid_batch_settlement_evm_cumulative_amount_mismatch",
      "voucher2000 again");
  });

  test("eight concurrent presentations of one deposit: one delivered, the others 409, settled once", async () => {
    const fresh = mkdtempSync(join(tmpdir(), "x402-paywall-"));
    const other = await startWorker({ FACILITATOR_URL: facilitator.url, PREMIUM_ORIGIN: origin.url }, fresh);
    try {
      await facilitator.set({ ...SETTLED, delayMs: 400 });
      const before = counts(facilitator, origin);
      const got = await Promise.all(Array.from({ length: 8 }, () => get(other, "deposit")));
      await facilitator.set(SETTLED);
      const summary = got.map((g) => `${g.status} ${g.reason}`).join(", ");
      const delivered = got.filter((g) => g.status === 200);
      assert.equal(delivered.length, 1, summary);
      assertDelivered(delivered[0], "the one delivered");
      for (const g of got.filter((g) => g.status !== 200)) {
        assert.equal(g.status, 409, summary);
        assert.ok(g.reason, g.body);
        assert.ok(!g.body.includes(CONTENT), "content delivered with a 409");
      }
      // The channel is charged for the deposit's voucher once.
      const next = counts(facilitator, origin);
      assertDelivered(await get(other, "voucher2000"), "voucher2000");
      assertSince(next, facilitator, origin, { verify: 0, settle: 0, handled: 1 }, "voucher2000");
      // The deposit is settled at most once: the other presentations are
      // turned away before their settlement, not after it.
      assert.ok(facilitator.calls.length - before.settle <= 1,
        `the deposit settled at most once: ${facilitator.calls.length - before.settle} POST /settle (${summary})`);
    } finally {
      await other.proc.stop();
      rmSync(fresh, { recursive: true, force: true });
    }
  });
});
