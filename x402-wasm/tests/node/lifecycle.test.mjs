// PaymentLifecycle (the full flavour) in Node: the steps of a paid request, as
// the core decides them, and how the binding refuses misuse.
import assert from "node:assert/strict";
import { test } from "node:test";

import { createPayment, encodeHeader, privateKeyToAddress } from "paywire";
import { PaymentLifecycle, recordInfo } from "paywire/full";

const NOW = 1_750_000_000;
const KEY = "0x" + "11".repeat(32);
const route = {
  x402Version: 2,
  resource: { url: "https://example.com/report" },
  accepts: [{
    scheme: "exact", network: "eip155:84532", amount: "10000",
    asset: "0x036CbD53842c5426634e7929541eC2318f3dCF7e",
    payTo: "0x209693Bc6afc0C5328bA36FaF03C514EF312287C",
    maxTimeoutSeconds: 60, extra: { name: "USDC", version: "2" },
  }],
};

test("a paid request: lookup, claim, handle, settling, settle, settled, respond, delivered", () => {
  const payment = createPayment(route, KEY, { nowUnix: NOW });
  const life = PaymentLifecycle.start(route, {
    method: "GET", url: "https://example.com/report", headers: [["payment-signature", payment]],
  }, { nowUnix: NOW, id: "n1" });
  const records = new Map();
  const actions = [];
  try {
    for (let i = 0; i < 20; i++) {
      const step = life.next();
      actions.push(step.action);
      if (step.action === "lookup") life.feed({ record: records.get(step.key) ?? null });
      else if (step.action === "swap") {
        assert.equal(records.get(step.key) ?? null, step.expected);
        if (step.new === null) records.delete(step.key);
        else records.set(step.key, step.new);
        life.feed({ swapped: true });
      } else if (step.action === "handle") life.feed({ status: 200 });
      else if (step.action === "settle") {
        const body = JSON.parse(step.body);
        assert.deepEqual(body.paymentRequirements, route.accepts[0]);
        life.feed({ status: 200, body: JSON.stringify({ success: true, transaction: "0xab", network: "eip155:84532" }) });
      } else if (step.action === "respond") {
        assert.equal(step.status, 200);
        assert.equal(step.useHandlerResponse, true);
        assert.deepEqual(new Map(step.headers).get("Cache-Control"), "private, no-store");
        life.feed({});
      } else break;
    }
    assert.deepEqual(actions, ["lookup", "swap", "handle", "swap", "settle", "swap", "respond", "swap", "done"]);
    assert.equal(life.verdict.isValid, true);
    const [record] = records.values();
    const info = recordInfo(record);
    assert.equal(info.state, "delivered");
    assert.equal(info.payer, privateKeyToAddress(KEY).toLowerCase());
    assert.equal(info.amount, "10000");
    assert.equal(life.key, [...records.keys()][0]);
  } finally {
    life.free();
  }
});

test("a facilitator that hangs: 502 settlement_uncertain, an uncertain record", () => {
  const payment = createPayment(encodeHeader("PAYMENT-REQUIRED", route), KEY, { nowUnix: NOW });
  const life = PaymentLifecycle.start(route, {
    method: "GET", url: "https://example.com/report", headers: [["PAYMENT-SIGNATURE", payment]],
  }, { nowUnix: NOW });
  const records = new Map();
  let step;
  for (step = life.next(); step.action !== "respond"; step = life.next()) {
    if (step.action === "lookup") life.feed({ record: null });
    else if (step.action === "swap") {
      records.set(step.key, step.new);
      life.feed({ swapped: true });
    } else if (step.action === "handle") life.feed({ status: 200 });
    else if (step.action === "settle") life.feed({ noAnswer: "timed out" });
  }
  assert.equal(step.status, 502);
  assert.equal(step.reason, "settlement_uncertain");
  assert.equal(step.useHandlerResponse, false);
  assert.ok(step.uncertainRecord);
  assert.equal(recordInfo([...records.values()][0]).state, "uncertain");
  life.free();
});

test("misuse: a bad route, unknown options, a result out of turn", () => {
  const request = { method: "GET", url: "https://example.com/", headers: [] };
  assert.throws(() => PaymentLifecycle.start({ x402Version: 2, resource: { url: "u" }, accepts: [] }, request),
    { code: "invalid_payment_requirements" });
  assert.throws(() => PaymentLifecycle.start(route, request, { now: 1 }), { code: "invalid_argument" });
  assert.throws(() => PaymentLifecycle.start(route, request, { settings: { settleTimeout: 1 } }), { code: "invalid_payload" });
  assert.throws(() => PaymentLifecycle.start(route, { method: "GET" }), { code: "invalid_payload" });
  const life = PaymentLifecycle.start(route, request);
  assert.equal(life.next().action, "respond");
  assert.equal(life.next().status, 402);
  life.feed({});
  assert.throws(() => life.feed({}), { code: "invalid_payload" });
  life.free();
  assert.throws(() => recordInfo("{}"), { code: "invalid_payload" });
});
