// The package's paying fetch (paywire/fetch) against the example Worker in
// workerd, and its Hono middleware (paywire/hono) in a Hono app, each against
// the facilitator double: a payment made once and delivered, a policy that
// refuses the offer (nothing signed, nothing settled), and a refused
// settlement that is never paid a second time.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

import { Hono } from "hono";
import {
  appendPaymentIdentifierToExtensions,
  declarePaymentIdentifierExtension,
  extractPaymentIdentifier,
} from "@x402/extensions";
import * as x402 from "paywire";
import * as full from "paywire/full";
import { PaymentPolicyError, PaymentRefusedError, wrapFetch } from "paywire/fetch";
import { paywallMiddleware } from "paywire/hono";
import { MemoryRecords, SETTLEMENT_OVERRIDES_HEADER } from "paywire/paywall";

import { SETTLED, startAgent, startExampleWorker, startFacilitator } from "./doubles.mjs";

const PAY_TO = "0x209693Bc6afc0C5328bA36FaF03C514EF312287C";
const USDC = "0x036CbD53842c5426634e7929541eC2318f3dCF7e";
const PRICE = "10000";
const PAYER_KEY = "0x" + "6b".repeat(32);
const REFUSED = {
  status: 200,
  contentType: "application/json",
  body: '{"success":false,"errorReason":"invalid_exact_evm_insufficient_balance","transaction":"","network":"eip155:84532"}',
};

/** Runs `body` against each paid server: the Worker in workerd, and a Hono app in this process. */
function paidServers(body) {
  describe("the example Worker in workerd", () => {
    const ctx = {};
    let state;
    before(async () => {
      ctx.facilitator = await startFacilitator(SETTLED);
      state = mkdtempSync(join(tmpdir(), "paywire-clients-"));
      const worker = await startExampleWorker(
        { PAY_TO, PRICE, SETTLE_TIMEOUT_SECONDS: "2", FACILITATOR_URL: ctx.facilitator.url },
        state,
      );
      ctx.stop = () => worker.proc.stop();
      ctx.url = worker.url;
      ctx.fetch = fetch;
    });
    after(async () => {
      ctx.stop?.();
      await ctx.facilitator?.close();
      rmSync(state, { recursive: true, force: true });
    });
    body(ctx);
  });

  describe("a Hono app with paywallMiddleware", () => {
    const ctx = {};
    before(async () => {
      ctx.facilitator = await startFacilitator(SETTLED);
      const app = new Hono();
      const offer = (request) => ({
        x402Version: 2,
        resource: { url: request.url, description: "premium", mimeType: "application/json" },
        accepts: [{
          scheme: "exact", network: "eip155:84532", amount: PRICE, asset: USDC, payTo: PAY_TO,
          maxTimeoutSeconds: 60, extra: { name: "USDC", version: "2" },
        }],
      });
      const records = new MemoryRecords();
      app.use(
        paywallMiddleware(full, { "GET /premium": offer }, {
          records,
          facilitator: { url: ctx.facilitator.url },
          settings: { settleTimeoutSeconds: 2 },
        }),
      );
      app.get("/premium", (c) => {
        c.header(SETTLEMENT_OVERRIDES_HEADER, '{"amount":"1"}');
        return c.json({ data: "premium content" });
      });
      app.get("/free", (c) => c.text("free"));
      ctx.url = "http://paywall.test/premium";
      ctx.fetch = (input, init) => app.fetch(new Request(input, init));
      ctx.records = records;
    });
    after(() => ctx.facilitator?.close());
    body(ctx);

    test("free routes pass untouched; the paid answer carries no Settlement-Overrides", async () => {
      const free = await ctx.fetch("http://paywall.test/free");
      assert.equal(free.status, 200);
      assert.equal(await free.text(), "free");
      await ctx.facilitator.set(SETTLED);
      const pay = wrapFetch(ctx.fetch, { x402, privateKey: PAYER_KEY, policy: { maxAmount: PRICE } });
      const res = await pay(ctx.url);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get(SETTLEMENT_OVERRIDES_HEADER), null);
    });
  });
}

paidServers((ctx) => {
  test("wrapFetch pays once and gets the content", async () => {
    await ctx.facilitator.set(SETTLED);
    const before = ctx.facilitator.calls.length;
    const pay = wrapFetch(ctx.fetch, { x402, privateKey: PAYER_KEY, policy: { maxAmount: PRICE } });
    const res = await pay(ctx.url);
    assert.equal(res.status, 200);
    assert.match(await res.text(), /premium content/);
    const receipt = x402.decodeHeader("PAYMENT-RESPONSE", res.headers.get("payment-response"));
    assert.equal(receipt.success, true);
    assert.equal(receipt.payer.toLowerCase(), x402.privateKeyToAddress(PAYER_KEY).toLowerCase());
    assert.equal(ctx.facilitator.calls.length, before + 1);
  });

  test("an offer the policy refuses: PaymentPolicyError, nothing signed or settled", async () => {
    const before = ctx.facilitator.calls.length;
    const pay = wrapFetch(ctx.fetch, { x402, privateKey: PAYER_KEY, policy: { maxAmount: "9999" } });
    await assert.rejects(pay(ctx.url), (e) => e instanceof PaymentPolicyError && e.response.status === 402);
    const other = wrapFetch(ctx.fetch, {
      x402,
      privateKey: PAYER_KEY,
      policy: { maxAmount: PRICE, networks: ["eip155:8453"] },
    });
    await assert.rejects(other(ctx.url), PaymentPolicyError);
    assert.equal(ctx.facilitator.calls.length, before);
    // No cap, no paying client.
    assert.throws(() => wrapFetch(ctx.fetch, { x402, privateKey: PAYER_KEY }), TypeError);
  });

  test("a refused settlement: PaymentRefusedError with the reason, paid once only", async () => {
    await ctx.facilitator.set(REFUSED);
    const before = ctx.facilitator.calls.length;
    let signed = 0;
    const counting = {
      ...x402,
      createPayment: (...args) => {
        signed++;
        return x402.createPayment(...args);
      },
    };
    const pay = wrapFetch(ctx.fetch, { x402: counting, privateKey: PAYER_KEY, policy: { maxAmount: PRICE } });
    await assert.rejects(
      pay(ctx.url),
      (e) => e instanceof PaymentRefusedError && e.reason === "invalid_exact_evm_insufficient_balance",
    );
    assert.equal(signed, 1, "one payment signed");
    assert.equal(ctx.facilitator.calls.length, before + 1, "one settlement");
    await ctx.facilitator.set(SETTLED);
  });
});

describe("wrapFetch with an agent: batch-settlement on cloudflare:402 (the example Worker's /deferred)", () => {
  // An Ed25519 agent key (JWK d and x) whose directory the agent double serves.
  const AGENT_KEY = "n4Ni-HpISpVObnQMW0wOhCKROaIKqKtW_2ZYb2p9KcU";
  const AGENT_JWKS = { keys: [{ kty: "OKP", crv: "Ed25519", x: "JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs" }] };
  let agent;
  let worker;
  let state;
  before(async () => {
    agent = await startAgent(AGENT_JWKS);
    state = mkdtempSync(join(tmpdir(), "paywire-clients-"));
    worker = await startExampleWorker({ PAY_TO, PRICE, AGENTS: agent.origin }, state);
  });
  after(async () => {
    worker?.proc.stop();
    await agent?.close();
    rmSync(state, { recursive: true, force: true });
  });

  test("the request is signed, committed and served once", async () => {
    const pay = wrapFetch(fetch, { x402: full, agent: { privateKey: AGENT_KEY, origin: agent.origin, maxAmount: "5" } });
    const res = await pay(`${worker.origin}/deferred`);
    assert.equal(res.status, 200, await res.clone().text());
    assert.match(await res.text(), /deferred payments, explained/);
    const receipt = JSON.parse(Buffer.from(res.headers.get("payment-response"), "base64").toString());
    assert.equal(receipt.amount, "5");
    assert.equal(receipt.network, "cloudflare:402");
  });

  test("an offer above the agent's maximum: PaymentPolicyError, nothing signed", async () => {
    const pay = wrapFetch(fetch, { x402: full, agent: { privateKey: AGENT_KEY, origin: agent.origin, maxAmount: "4" } });
    await assert.rejects(pay(`${worker.origin}/deferred`), PaymentPolicyError);
  });
});

test("a paid route is paid however its path is spelt (percent-encoded, trailing slash)", async () => {
  const app = new Hono({ strict: false });
  const records = new MemoryRecords();
  const offer = {
    x402Version: 2,
    resource: { url: "http://paywall.test/premium" },
    accepts: [{
      scheme: "exact", network: "eip155:84532", amount: PRICE, asset: USDC, payTo: PAY_TO,
      maxTimeoutSeconds: 60, extra: { name: "USDC", version: "2" },
    }],
  };
  app.use(paywallMiddleware(full, { "GET /premium": offer }, { records, facilitator: { url: "http://127.0.0.1:9/" } }));
  app.get("/premium", (c) => c.text("premium content"));
  for (const path of ["/premium", "/pr%65mium", "/%70remium", "/premium/"]) {
    const res = await app.fetch(new Request(`http://paywall.test${path}`));
    assert.equal(res.status, 402, path);
    assert.doesNotMatch(await res.text(), /premium content/, path);
  }
  assert.throws(() => paywallMiddleware(full, { "get /premium": offer }, { records }), TypeError);
  assert.throws(() => paywallMiddleware(full, { "GET /items/:id": offer }, { records }), TypeError);
});

test("payment-identifier: a retry gets the earlier result; another payment with the same id, 409 and nothing settled", async () => {
  const facilitator = await startFacilitator(SETTLED);
  try {
    const app = new Hono();
    const offer = {
      x402Version: 2,
      resource: { url: "http://paywall.test/premium" },
      accepts: [{
        scheme: "exact", network: "eip155:84532", amount: PRICE, asset: USDC, payTo: PAY_TO,
        maxTimeoutSeconds: 60, extra: { name: "USDC", version: "2" },
      }],
      // Declared with the official helper.
      extensions: { "payment-identifier": declarePaymentIdentifierExtension(false) },
    };
    app.use(paywallMiddleware(full, { "GET /premium": offer }, {
      records: new MemoryRecords(),
      facilitator: { url: facilitator.url },
      settings: { settleTimeoutSeconds: 2 },
    }));
    app.get("/premium", (c) => c.text("premium content"));
    const get = (payment) => app.fetch(new Request("http://paywall.test/premium", { headers: { "PAYMENT-SIGNATURE": payment } }));
    const asked = x402.decodeHeader("PAYMENT-REQUIRED", (await get("")).headers.get("PAYMENT-REQUIRED") ?? "");
    const first = x402.createPayment(asked, PAYER_KEY, { nonce: "0x" + "c1".repeat(32) });
    const id = extractPaymentIdentifier(x402.decodeHeader("PAYMENT-SIGNATURE", first));
    // Another purchase (another nonce) given the first one's id by the official helper.
    const other = x402.decodeHeader("PAYMENT-SIGNATURE", x402.createPayment(asked, PAYER_KEY, { nonce: "0x" + "c2".repeat(32) }));
    appendPaymentIdentifierToExtensions(other.extensions, id);
    const second = x402.encodeHeader("PAYMENT-SIGNATURE", other);

    const paid = await get(first);
    assert.equal(paid.status, 200);
    assert.equal(await paid.text(), "premium content");
    const retry = await get(first);
    assert.equal(retry.status, 409);
    assert.match(await retry.text(), /payment_already_delivered/);
    assert.ok(retry.headers.get("PAYMENT-RESPONSE"), "the earlier receipt");
    const conflict = await get(second);
    assert.equal(conflict.status, 409);
    const body = await conflict.text();
    assert.match(body, /payment_identifier_conflict/);
    assert.doesNotMatch(body, /premium content/);
    assert.equal(conflict.headers.get("PAYMENT-RESPONSE"), null);
    assert.equal(facilitator.calls.length, 1, "one settlement");
  } finally {
    await facilitator.close();
  }
});

test("paymentFlow upfront: settled before the handler runs; refused, the handler never runs", async () => {
  for (const [reply, expected] of [[SETTLED, 200], [REFUSED, 402]]) {
    const facilitator = await startFacilitator(reply);
    try {
      const app = new Hono();
      const offer = {
        x402Version: 2,
        resource: { url: "http://paywall.test/premium" },
        accepts: [{
          scheme: "exact", network: "eip155:84532", amount: PRICE, asset: USDC, payTo: PAY_TO,
          maxTimeoutSeconds: 60, extra: { name: "USDC", version: "2", paymentFlow: "upfront" },
        }],
      };
      app.use(paywallMiddleware(full, { "GET /premium": offer }, {
        records: new MemoryRecords(),
        facilitator: { url: facilitator.url },
        settings: { settleTimeoutSeconds: 2 },
      }));
      const seen = [];
      app.get("/premium", (c) => {
        seen.push(facilitator.calls.length);
        return c.text("premium content");
      });
      const asked = x402.decodeHeader("PAYMENT-REQUIRED", (await app.fetch(new Request("http://paywall.test/premium"))).headers.get("PAYMENT-REQUIRED"));
      const res = await app.fetch(new Request("http://paywall.test/premium", {
        headers: { "PAYMENT-SIGNATURE": x402.createPayment(asked, PAYER_KEY) },
      }));
      assert.equal(res.status, expected);
      assert.equal(facilitator.calls.length, 1);
      // The handler ran only after the settlement, and only when it succeeded.
      assert.deepEqual(seen, expected === 200 ? [1] : []);
      if (expected === 200) assert.ok(res.headers.get("PAYMENT-RESPONSE"));
    } finally {
      await facilitator.close();
    }
  }
});
