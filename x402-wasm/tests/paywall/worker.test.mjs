// The example Worker (examples/worker, with its PaymentRecords Durable Object)
// served by workerd on 127.0.0.1, against a facilitator double that can be
// told to misbehave: every behaviour of x402-core/tests/vectors/paywall.json,
// refusals before settlement, the route's own requirements, HEAD, handler
// failures, eight concurrent presentations of one payment, a restart, a
// crash while settling, and the deferred (batch-settlement) route paid by an
// agent that signs its requests.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

import { createPayment, decodeHeader, encodeHeader, privateKeyToAddress } from "paywire";
import { signRequest } from "paywire/full";

import { VECTORS_DIR } from "../lib/harness.mjs";
import {
  SETTLED,
  modeOf,
  settledBody,
  startAgent,
  startExampleWorker,
  startFacilitator,
  startHonoWorker,
  startOrigin,
} from "./doubles.mjs";

const PAY_TO = "0x209693Bc6afc0C5328bA36FaF03C514EF312287C";
const PRICE = "10000";
const PAYER_KEY = "0x" + "5a".repeat(32);
const PAYER = privateKeyToAddress(PAYER_KEY);
const ADMIN_TOKEN = "admin-test-token";
const VECTORS = JSON.parse(readFileSync(join(VECTORS_DIR, "paywall.json"), "utf8")).vectors;

/** workerd serving the example on a free port, its records in `stateDir`. */
const startWorker = (env, stateDir) =>
  startExampleWorker({ PAY_TO, PRICE, ADMIN_TOKEN, SETTLE_TIMEOUT_SECONDS: "2", ...env }, stateDir);

/** A request; `reason` is the PaymentRequired `error` of a 402, else the body's `error`. */
async function send(url, { payment, method = "GET", headers = {} } = {}) {
  const res = await fetch(url, {
    method,
    headers: { ...(payment ? { "PAYMENT-SIGNATURE": payment } : {}), ...headers },
    signal: AbortSignal.timeout(20_000),
  });
  const body = await res.text();
  let reason = "";
  const pr = res.headers.get("payment-required");
  if (pr) reason = decodeHeader("PAYMENT-REQUIRED", pr).error ?? "";
  else {
    try {
      reason = JSON.parse(body).error ?? "";
    } catch {
      // not JSON: no reason
    }
  }
  return { status: res.status, headers: res.headers, body, reason };
}

const offerOf = async (url) => (await send(url)).headers.get("payment-required");
const pay = async (url) => createPayment(await offerOf(url), PAYER_KEY, { maxAmount: PRICE });
const nonceOf = (payment) => decodeHeader("PAYMENT-SIGNATURE", payment).payload.authorization.nonce;

async function uncertainList(origin) {
  const res = await fetch(`${origin}/x402/uncertain`, {
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  assert.equal(res.status, 200);
  return res.json();
}

for (const [server, start] of [
  ["the example Worker", startWorker],
  [
    "a Hono app (paywire/hono)",
    (env, stateDir) =>
      startHonoWorker({ PAY_TO, PRICE, ADMIN_TOKEN, SETTLE_TIMEOUT_SECONDS: "2", ...env }, stateDir),
  ],
]) describe(`workerd paywall, ${server}: every facilitator behaviour of the shared vectors`, () => {
  let facilitator;
  let worker;
  let state;
  before(async () => {
    state = mkdtempSync(join(tmpdir(), "x402-paywall-"));
    facilitator = await startFacilitator();
    worker = await start({ FACILITATOR_URL: facilitator.url }, state);
  });
  after(async () => {
    await worker?.proc.stop();
    await facilitator?.close();
    if (state) rmSync(state, { recursive: true, force: true });
  });

  for (const v of VECTORS) {
    test(v.name, async () => {
      const { expect } = v;
      await facilitator.set(modeOf(v.reply));
      const payment = await pay(worker.url);
      const before = facilitator.calls.length;
      const got = await send(worker.url, { payment });
      assert.equal(got.status, expect.status, `${got.reason} ${got.body}`);
      const delivered = Boolean(expect.delivered);
      assert.equal(got.headers.get("payment-response") !== null, delivered);
      assert.equal(got.body.includes("premium content"), delivered, got.body);
      if (delivered) {
        assert.equal(got.headers.get("cache-control"), "private, no-store");
        const pr = decodeHeader("PAYMENT-RESPONSE", got.headers.get("payment-response"));
        assert.equal(pr.success, true);
        assert.equal(pr.payer, PAYER);
      } else {
        assert.ok(got.reason.startsWith(expect.reason), got.reason);
      }
      assert.equal(facilitator.calls.length, before + (v.reply.refuse ? 0 : 1));
      if (expect.again) {
        const n = facilitator.calls.length;
        const again = await send(worker.url, { payment });
        assert.equal(again.status, expect.again.status, again.body);
        assert.ok(again.reason.startsWith(expect.again.reason), again.reason);
        assert.equal(again.headers.get("payment-response") !== null, Boolean(expect.again.paymentResponse));
        assert.ok(!again.body.includes("premium content"));
        // Only a refused payment goes back to the facilitator.
        assert.equal(facilitator.calls.length, n + (again.status === 402 ? 1 : 0));
      }
      if (expect.recovered) {
        await facilitator.set(SETTLED);
        const recovered = await send(worker.url, { payment });
        assert.equal(recovered.status, expect.recovered.status, recovered.body);
        assert.ok(recovered.body.includes("premium content"));
      }
      if (expect.record === "uncertain") {
        const listed = (await uncertainList(worker.origin)).find((r) => r.nonce === nonceOf(payment));
        assert.ok(listed, "listed for reconciliation");
        assert.equal(listed.payer, PAYER.toLowerCase());
        assert.equal(listed.amount, PRICE);
        assert.equal(listed.network, "eip155:84532");
        assert.equal(listed.route, worker.url);
        assert.ok(listed.time >= Math.floor(Date.now() / 1000) - 120);
        assert.ok(listed.cause.length > 0);
      }
    });
  }

  test("the reconciliation list is not public", async () => {
    const res = await fetch(`${worker.origin}/x402/uncertain`);
    assert.equal(res.status, 404);
    await res.body?.cancel();
  });
});

describe("workerd paywall: rules before settlement", () => {
  let facilitator;
  let worker;
  let state;
  let offer;
  let pr;
  before(async () => {
    state = mkdtempSync(join(tmpdir(), "x402-paywall-"));
    facilitator = await startFacilitator();
    worker = await startWorker({ FACILITATOR_URL: facilitator.url }, state);
    offer = await offerOf(worker.url);
    pr = decodeHeader("PAYMENT-REQUIRED", offer);
  });
  after(async () => {
    await worker?.proc.stop();
    await facilitator?.close();
    if (state) rmSync(state, { recursive: true, force: true });
  });

  test("no payment: 402 with PAYMENT-REQUIRED for the route's requirement", () => {
    assert.equal(pr.x402Version, 2);
    assert.equal(pr.error, "PAYMENT-SIGNATURE header is required");
    assert.equal(pr.resource.url, worker.url);
    assert.deepEqual(pr.accepts, [{
      scheme: "exact",
      network: "eip155:84532",
      amount: PRICE,
      asset: "0x036CbD53842c5426634e7929541eC2318f3dCF7e",
      payTo: PAY_TO,
      maxTimeoutSeconds: 60,
      extra: { name: "USDC", version: "2" },
    }]);
  });

  test("an unpaid HEAD gets the same 402 as GET; a paid HEAD is never settled", async () => {
    const get = await send(worker.url);
    const head = await send(worker.url, { method: "HEAD" });
    assert.equal(head.status, 402);
    assert.equal(head.headers.get("payment-required"), get.headers.get("payment-required"));
    assert.equal(head.body, "");
    const payment = createPayment(offer, PAYER_KEY);
    const paidHead = await send(worker.url, { method: "HEAD", payment });
    assert.equal(paidHead.status, 402);
    assert.equal(paidHead.headers.get("payment-response"), null);
    assert.equal(facilitator.calls.length, 0);
    // The payment is untouched: GET settles it.
    assert.equal((await send(worker.url, { payment })).status, 200);
    assert.equal(facilitator.calls.length, 1);
  });

  const offerWith = (change) => encodeHeader("PAYMENT-REQUIRED", { ...pr, accepts: [{ ...pr.accepts[0], ...change }] });
  const tampered = (value, field, to) => {
    const p = decodeHeader("PAYMENT-SIGNATURE", value);
    p.payload.authorization[field] = to;
    return encodeHeader("PAYMENT-SIGNATURE", p);
  };
  const now = () => Math.floor(Date.now() / 1000);
  const refusals = [
    ["signed for a cheaper offer", () => createPayment(offerWith({ amount: "1" }), PAYER_KEY),
      "invalid_exact_evm_payload_authorization_value_mismatch"],
    ["signed to someone else", () => createPayment(offerWith({ payTo: "0x000000000000000000000000000000000000dEaD" }), PAYER_KEY),
      "invalid_exact_evm_recipient_mismatch"],
    ["another asset", () => createPayment(offerWith({ asset: "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913" }), PAYER_KEY),
      "no_matching_payment_requirements"],
    ["tampered value", () => tampered(createPayment(offer, PAYER_KEY), "value", "1000000"),
      "invalid_exact_evm_signature"],
    ["expired", () => createPayment(offer, PAYER_KEY, { nowUnix: now() - 3600 }),
      "invalid_exact_evm_payload_authorization_valid_before"],
    ["not yet valid", () => createPayment(offer, PAYER_KEY, { nowUnix: now() + 3600 }),
      "invalid_exact_evm_payload_authorization_valid_after"],
    ["another token's domain", () => createPayment(offerWith({ extra: { name: "USD Coin", version: "2" } }), PAYER_KEY),
      "invalid_exact_evm_signature"],
    ["not a payment", () => "bm90IGEgcGF5bWVudA==", "invalid_payload"],
  ];
  for (const [name, make, reason] of refusals) {
    test(`${name}: 402 with ${reason}, never settled`, async () => {
      const before = facilitator.calls.length;
      const got = await send(worker.url, { payment: make() });
      assert.equal(got.status, 402);
      assert.ok(got.reason.startsWith(reason), got.reason);
      assert.deepEqual(decodeHeader("PAYMENT-REQUIRED", got.headers.get("payment-required")).accepts, pr.accepts);
      assert.equal(facilitator.calls.length, before);
    });
  }

  test("the settlement carries the route's requirement and the client's payload", async () => {
    const payment = createPayment(offer, PAYER_KEY);
    assert.equal((await send(worker.url, { payment })).status, 200);
    const call = facilitator.calls.at(-1);
    assert.deepEqual(call, {
      x402Version: 2,
      paymentPayload: decodeHeader("PAYMENT-SIGNATURE", payment),
      paymentRequirements: pr.accepts[0],
    });
  });

  test("a signature with v = 0/1 is forwarded with v = 27/28", async () => {
    const payment = createPayment(offer, PAYER_KEY);
    const p = decodeHeader("PAYMENT-SIGNATURE", payment);
    const sig = p.payload.signature;
    p.payload.signature = sig.slice(0, -2) + (sig.endsWith("1b") ? "00" : "01");
    assert.equal((await send(worker.url, { payment: encodeHeader("PAYMENT-SIGNATURE", p) })).status, 200);
    assert.equal(facilitator.calls.at(-1).paymentPayload.payload.signature, sig);
  });

  test("two payment headers: 400, nothing read, nothing settled", async () => {
    const a = createPayment(offer, PAYER_KEY);
    const b = createPayment(offer, PAYER_KEY);
    const before = facilitator.calls.length;
    // fetch folds repeated header names into one value joined by ", ".
    for (const headers of [
      new Headers([["PAYMENT-SIGNATURE", a], ["PAYMENT-SIGNATURE", b]]),
      new Headers([["PAYMENT-SIGNATURE", a], ["X-PAYMENT", a]]),
    ]) {
      const res = await fetch(worker.url, { headers, signal: AbortSignal.timeout(20_000) });
      assert.equal(res.status, 400);
      assert.equal((await res.json()).error, "duplicate_payment_header");
    }
    assert.equal(facilitator.calls.length, before);
    assert.equal((await send(worker.url, { payment: a })).status, 200);
  });

  test("a payment that does not verify learns nothing of the record it names", async () => {
    const payment = createPayment(offer, PAYER_KEY);
    assert.equal((await send(worker.url, { payment })).status, 200);
    const forged = decodeHeader("PAYMENT-SIGNATURE", payment);
    forged.payload.signature = decodeHeader(
      "PAYMENT-SIGNATURE",
      createPayment(offer, "0x" + "6b".repeat(32)),
    ).payload.signature;
    const got = await send(worker.url, { payment: encodeHeader("PAYMENT-SIGNATURE", forged) });
    assert.equal(got.status, 402);
    assert.ok(got.reason.startsWith("invalid_exact_evm_signature"), got.reason);
    assert.equal(got.headers.get("payment-response"), null);
    // The payer's own payment still reads its record.
    assert.equal((await send(worker.url, { payment })).status, 409);
  });

  test("the client leaves while its payment settles: settled once, recorded, never asked to pay again", async () => {
    await facilitator.set({ ...SETTLED, delayMs: 1500 });
    const payment = createPayment(offer, PAYER_KEY);
    const before = facilitator.calls.length;
    const gone = fetch(worker.url, {
      headers: { "PAYMENT-SIGNATURE": payment },
      signal: AbortSignal.timeout(300),
    }).then(() => "answered", (e) => e.name);
    assert.equal(await gone, "TimeoutError");
    await facilitator.waitCalls(before + 1);
    await facilitator.set(SETTLED);
    // The Worker ran on (ctx.waitUntil): the settlement's answer was read and
    // recorded; the same payment gets the earlier result, never a 402.
    let again;
    for (let i = 0; i < 50; i++) {
      again = await send(worker.url, { payment });
      if (again.reason !== "payment_in_progress") break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(again.status, 409, again.body);
    assert.equal(again.reason, "payment_already_delivered");
    assert.ok(again.headers.get("payment-response"));
    assert.equal(facilitator.calls.length, before + 1, "settled once");
    assert.deepEqual(await uncertainList(worker.origin), []);
  });

  test("eight concurrent presentations of one payment settle once, deliver once", async () => {
    await facilitator.set({ ...SETTLED, delayMs: 400 });
    const payment = createPayment(offer, PAYER_KEY);
    const before = facilitator.calls.length;
    const got = await Promise.all(Array.from({ length: 8 }, () => send(worker.url, { payment })));
    await facilitator.set(SETTLED);
    assert.equal(facilitator.calls.length, before + 1);
    assert.equal(got.filter((g) => g.status === 200).length, 1);
    for (const g of got.filter((g) => g.status !== 200)) {
      assert.equal(g.status, 409, g.body);
      assert.ok(["payment_in_progress", "payment_already_delivered"].includes(g.reason), g.reason);
      assert.ok(!g.body.includes("premium content"));
    }
  });
});

describe("workerd paywall: handler failures are not settled", () => {
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

  test("5xx and redirects pass through unsettled; then the same payment settles once, privately", async () => {
    const payment = await pay(worker.url);
    for (const [mode, status] of [["fail", 500], ["moved", 302]]) {
      origin.set(mode);
      const got = await fetch(worker.url, {
        headers: { "PAYMENT-SIGNATURE": payment },
        redirect: "manual",
      });
      assert.equal(got.status, status, mode);
      assert.equal(got.headers.get("payment-response"), null);
      await got.body?.cancel();
    }
    assert.equal(facilitator.calls.length, 0);
    origin.set("ok");
    const got = await send(worker.url, { payment });
    assert.equal(got.status, 200);
    assert.equal(got.body, "origin content\n");
    assert.equal(got.headers.get("cache-control"), "private, no-store");
    assert.notEqual(got.headers.get("payment-response"), null);
    assert.equal(facilitator.calls.length, 1);
  });

  test("a handler that throws: 500, not settled", async () => {
    const stopped = await startOrigin();
    const url = stopped.url;
    await stopped.close();
    const state2 = mkdtempSync(join(tmpdir(), "x402-paywall-"));
    const broken = await startWorker({ FACILITATOR_URL: facilitator.url, PREMIUM_ORIGIN: url }, state2);
    try {
      const before = facilitator.calls.length;
      const got = await send(broken.url, { payment: await pay(broken.url) });
      assert.equal(got.status, 500);
      assert.equal(got.reason, "handler_failed");
      assert.equal(facilitator.calls.length, before);
    } finally {
      await broken.proc.stop();
      rmSync(state2, { recursive: true, force: true });
    }
  });
});

describe("workerd paywall: records survive restarts", () => {
  let facilitator;
  let state;
  before(async () => {
    state = mkdtempSync(join(tmpdir(), "x402-paywall-"));
    facilitator = await startFacilitator();
  });
  after(async () => {
    await facilitator?.close();
    if (state) rmSync(state, { recursive: true, force: true });
  });

  test("a delivered payment, after a restart: the earlier result, not a second charge", async () => {
    let worker = await startWorker({ FACILITATOR_URL: facilitator.url }, state);
    const payment = await pay(worker.url);
    const first = await send(worker.url, { payment });
    assert.equal(first.status, 200);
    await worker.proc.stop();
    worker = await startWorker({ FACILITATOR_URL: facilitator.url }, state);
    try {
      const again = await send(worker.url, { payment });
      assert.equal(again.status, 409);
      assert.equal(again.reason, "payment_already_delivered");
      assert.equal(again.headers.get("payment-response"), first.headers.get("payment-response"));
      assert.equal(facilitator.calls.length, 1);
    } finally {
      await worker.proc.stop();
    }
  });

  test("killed while settling: in progress, then uncertain and listed; never settled twice", async () => {
    const env = { FACILITATOR_URL: facilitator.url, SETTLE_TIMEOUT_SECONDS: "4", CLAIM_SECONDS: "1" };
    let worker = await startWorker(env, state);
    await facilitator.set({ hang: true });
    const payment = await pay(worker.url);
    const before = facilitator.calls.length;
    const pending = send(worker.url, { payment }).catch((e) => e);
    await facilitator.waitCalls(before + 1);
    process.kill(worker.proc.child.pid, "SIGKILL");
    await worker.proc.exited;
    assert.ok((await pending) instanceof Error, "no answer from a killed server");
    await facilitator.set(SETTLED);
    worker = await startWorker(env, state);
    try {
      // While the killed Worker's lease lasts: in progress, never a 402.
      const soon = await send(worker.url, { payment });
      if (soon.status !== 502) {
        assert.equal(soon.status, 409);
        assert.equal(soon.reason, "payment_in_progress");
        await new Promise((r) => setTimeout(r, 6000));
      }
      const later = await send(worker.url, { payment });
      assert.equal(later.status, 502);
      assert.equal(later.reason, "settlement_uncertain");
      assert.equal(facilitator.calls.length, before + 1);
      const listed = (await uncertainList(worker.origin)).find((r) => r.nonce === nonceOf(payment));
      assert.ok(listed?.cause.includes("stopped while settling"), JSON.stringify(listed));
    } finally {
      await worker.proc.stop();
    }
  });
});

describe("workerd paywall: the deferred route (batch-settlement on cloudflare:402)", () => {
  // RFC 9421 Appendix B.1.4's Ed25519 test key.
  const AGENT_KEY = "n4Ni-HpISpVObnQMW0wOhCKROaIKqKtW_2ZYb2p9KcU";
  const AGENT_JWKS = { keys: [{ kty: "OKP", crv: "Ed25519", x: "JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs" }] };
  let agent;
  let stranger;
  let worker;
  let state;
  let route;
  before(async () => {
    state = mkdtempSync(join(tmpdir(), "x402-paywall-"));
    agent = await startAgent(AGENT_JWKS);
    stranger = await startAgent(AGENT_JWKS);
    worker = await startWorker({ AGENTS: agent.origin }, state);
    const res = await send(`${worker.origin}/deferred`);
    assert.equal(res.status, 402);
    route = decodeHeader("PAYMENT-REQUIRED", res.headers.get("payment-required"));
  });
  after(async () => {
    await worker?.proc.stop();
    await agent?.close();
    await stranger?.close();
    if (state) rmSync(state, { recursive: true, force: true });
  });

  /** The agent's signed request headers, committing to pay `amount`. */
  function signed(origin, { amount = route.accepts[0].amount, created = Math.floor(Date.now() / 1000) } = {}) {
    const url = `${worker.origin}/deferred`;
    const payment = encodeHeader("PAYMENT-SIGNATURE", {
      x402Version: 2,
      payload: { amount, asset: "USD" },
      accepted: route.accepts[0],
    });
    const s = signRequest({
      request: { method: "GET", url, headers: [["PAYMENT-SIGNATURE", payment]] },
      privateKey: AGENT_KEY,
      signatureAgent: `"${origin}"`,
      created,
      expires: created + 60,
    });
    return {
      "PAYMENT-SIGNATURE": payment,
      "Signature-Agent": s.signatureAgent,
      "Signature-Input": s.signatureInput,
      Signature: s.signature,
    };
  }

  test("the 402 offers batch-settlement with the signature extension", () => {
    assert.deepEqual(route.accepts[0], {
      scheme: "batch-settlement", network: "cloudflare:402", amount: "5", asset: "USD",
      payTo: "merchant", maxTimeoutSeconds: 30, extra: { version: "1" },
    });
    assert.deepEqual(route.extensions["http-message-signatures"].info.tags, ["web-bot-auth"]);
  });

  test("a signed commitment: served with its receipt, recorded, and delivered once", async () => {
    const headers = signed(agent.origin);
    const got = await send(`${worker.origin}/deferred`, { headers });
    assert.equal(got.status, 200, got.body);
    assert.match(got.body, /deferred payments, explained/);
    assert.equal(got.headers.get("cache-control"), "private, no-store");
    // The receipt of cloudflare:402: a SettleResponse with no transaction, the agent as payer.
    const receipt = JSON.parse(Buffer.from(got.headers.get("payment-response"), "base64").toString());
    assert.equal(receipt.success, true);
    assert.equal(receipt.transaction, "");
    assert.equal(receipt.payer, agent.origin);
    assert.equal(receipt.amount, "5");
    assert.equal(receipt.asset, "USD");
    assert.equal(receipt.network, "cloudflare:402");
    assert.ok(Math.abs(receipt.extra.timestamp - Date.now() / 1000) < 60);
    const again = await send(`${worker.origin}/deferred`, { headers });
    assert.equal(again.status, 409);
    assert.equal(again.reason, "payment_already_delivered");
    assert.equal(again.headers.get("payment-response"), got.headers.get("payment-response"));
  });

  test("refusals: unknown agent, changed after signing, unpaid", async () => {
    const unknown = await send(`${worker.origin}/deferred`, { headers: signed(stranger.origin) });
    assert.equal(unknown.status, 402);
    assert.ok(unknown.reason.startsWith("invalid_batch_settlement_cloudflare_signature_agent_unknown"), unknown.reason);
    const headers = signed(agent.origin);
    headers["PAYMENT-SIGNATURE"] = encodeHeader("PAYMENT-SIGNATURE", {
      x402Version: 2, payload: { amount: "4", asset: "USD" }, accepted: route.accepts[0],
    });
    const changed = await send(`${worker.origin}/deferred`, { headers });
    assert.equal(changed.status, 402);
    assert.ok(changed.reason.startsWith("invalid_batch_settlement_cloudflare_signature"), changed.reason);
    const head = await send(`${worker.origin}/deferred`, { method: "HEAD", headers: signed(agent.origin) });
    assert.equal(head.status, 402);
  });
});
