// exact on Solana in `paywire/full`: the official @x402/svm client's payments
// (x402-core/tests/vectors/svm.json) verify, mutations are refused with the
// official facilitator's reasons, createSvmPayment makes the official
// client's transactions; the default and fast flavours have no Solana code.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";

import * as lean from "paywire";
import * as fast from "paywire/fast";
import * as full from "paywire/full";
import { PaymentPolicyError, wrapFetch } from "paywire/fetch";
import { MemoryRecords, paywall } from "paywire/paywall";

import { VECTORS_DIR } from "../lib/harness.mjs";

const SVM = JSON.parse(readFileSync(join(VECTORS_DIR, "svm.json"), "utf8"));
const NOW = 1_750_000_000;
const body = (v) => ({
  x402Version: 2,
  paymentPayload: v.paymentPayload,
  paymentRequirements: v.paymentRequirements,
});
const offer = (requirements) => ({
  x402Version: 2,
  resource: { url: "https://example.com/a" },
  accepts: [requirements],
});

test("full verifies the official client's Solana payments", () => {
  assert.equal(SVM.payments.length, 5);
  for (const p of SVM.payments) {
    const v = full.verify(body(p), NOW);
    assert.equal(v.isValid, true, `${p.name}: ${JSON.stringify(v)}`);
    assert.equal(v.payer, p.client.payer, p.name);
    assert.deepEqual(
      v.extra.chainChecks.map((c) => c.check),
      ["blockhashRecent", "destinationExists", "sourceBalanceAtLeast", "simulate"],
      p.name,
    );
    assert.equal(v.extra.chainChecks[0].blockhash, p.client.blockhash);
    assert.equal(v.extra.chainChecks[2].amount, "1000");
    const header = Buffer.from(JSON.stringify(p.paymentPayload)).toString("base64");
    const h = full.verifyPaymentHeader(header, p.paymentRequirements, NOW);
    assert.equal(h.isValid, true, p.name);
    assert.equal(h.payer, p.client.payer, p.name);
  }
});

test("full refuses mutations with the official facilitator's reasons", () => {
  const names = [
    "wrong-mint", "amount-plus-1", "amount-minus-1", "bad-signature", "memo-mismatch",
    "fee-payer-authority", "price-above-cap", "eight-instructions", "version-byte-0x81",
    "network-mismatch",
  ];
  for (const name of names) {
    const v = SVM.verdicts.find((x) => x.name === name);
    const got = full.verify(body(v), NOW);
    assert.equal(got.isValid, false, name);
    assert.equal(got.invalidReason, v.official.invalidReason, name);
  }
});

test("createSvmPayment makes the official client's transactions", () => {
  for (const p of SVM.payments) {
    const c = p.client;
    const nonce = "0x" + (c.memoNonce ?? "").padEnd(64, "0");
    const facts = { tokenProgram: c.tokenProgram, decimals: c.decimals, recentBlockhash: c.blockhash };
    assert.equal(full.svmAddress(c.payerSeed), c.payer);
    const value = full.createSvmPayment(offer(p.paymentRequirements), c.payerSeed, facts, {
      nonce,
      maxAmount: "1000",
    });
    const doc = full.decodeHeader("PAYMENT-SIGNATURE", value);
    assert.deepEqual(doc.payload, p.paymentPayload.payload, p.name);
    assert.deepEqual(doc.accepted, p.paymentRequirements, p.name);
    const v = full.verifyPaymentHeader(value, p.paymentRequirements, NOW);
    assert.equal(v.isValid, true, p.name);
    // A random memo nonce, and no options: still valid.
    const again = full.createSvmPayment(JSON.stringify(offer(p.paymentRequirements)), c.payerSeed, facts);
    assert.equal(full.verifyPaymentHeader(again, p.paymentRequirements, NOW).isValid, true);
  }
});

test("createSvmPayment says what it lacks", () => {
  const p = SVM.payments[0];
  const req = structuredClone(p.paymentRequirements);
  delete req.extra.recentBlockhash;
  const facts = { tokenProgram: p.client.tokenProgram, decimals: 6 };
  assert.throws(() => full.createSvmPayment(offer(req), p.client.payerSeed, facts), (e) =>
    e.code === "invalid_payment_requirements" && /recentBlockhash/.test(e.message));
  assert.throws(() => full.createSvmPayment(offer(req), "12", facts), (e) => e.code === "invalid_argument");
  assert.throws(() => full.createSvmPayment(offer(req), p.client.payerSeed, { decimals: 6 }), (e) =>
    /tokenProgram/.test(e.message));
  // An EVM key is pointed to createSvmPayment.
  assert.throws(() => full.createPayment(offer(req), "0x" + "11".repeat(32)), (e) => /Ed25519/.test(e.message));
});

test("the default and fast flavours carry no Solana code", () => {
  for (const flavour of [lean, fast]) {
    assert.equal("createSvmPayment" in flavour, false);
    const v = flavour.verify(body(SVM.payments[0]), NOW);
    assert.equal(v.isValid, false);
    assert.equal(v.invalidReason, "invalid_payload");
  }
});

test("wrapFetch pays on Solana with the full flavour", async () => {
  const p = SVM.payments[0];
  const c = p.client;
  const offerValue = full.encodeHeader("PAYMENT-REQUIRED", offer(p.paymentRequirements));
  const seen = [];
  const server = async (request) => {
    const sig = request.headers.get("payment-signature");
    if (!sig) return new Response("pay", { status: 402, headers: { "payment-required": offerValue } });
    const v = full.verifyPaymentHeader(sig, p.paymentRequirements, NOW);
    seen.push(v);
    return new Response(v.isValid ? "paid" : "no", { status: v.isValid ? 200 : 402 });
  };
  const facts = async () => ({ tokenProgram: c.tokenProgram, decimals: c.decimals });
  const pay = wrapFetch(server, {
    x402: full,
    privateKey: "0x" + "11".repeat(32),
    policy: { maxAmount: "1000" },
    solana: { seed: c.payerSeed, facts },
  });
  const res = await pay("https://shop.example/a");
  assert.equal(res.status, 200);
  assert.equal(await res.text(), "paid");
  assert.equal(seen.length, 1);
  assert.equal(seen[0].payer, c.payer);
  // A Solana payer alone, over its maximum: not paid.
  const capped = wrapFetch(server, { x402: full, policy: { maxAmount: "999" }, solana: { seed: c.payerSeed, facts } });
  await assert.rejects(capped("https://shop.example/a"), (e) => e instanceof PaymentPolicyError && /Solana/.test(e.message));
  // Facts that fail: not paid.
  const broken = wrapFetch(server, {
    x402: full,
    policy: { maxAmount: "1000" },
    solana: { seed: c.payerSeed, facts: async () => { throw new Error("no node"); } },
  });
  await assert.rejects(broken("https://shop.example/a"), (e) => e instanceof PaymentPolicyError && /no node/.test(e.message));
  // The default flavour has no Solana client.
  assert.throws(() => wrapFetch(server, { x402: lean, policy: { maxAmount: "1000" }, solana: { seed: c.payerSeed, facts } }), TypeError);
});

test("the paywall takes a Solana payment, paid by wrapFetch, settled once", async () => {
  const p = SVM.payments[0];
  const c = p.client;
  const settles = [];
  const guard = paywall(full, { "GET /report": offer(p.paymentRequirements) }, {
    records: new MemoryRecords(),
    settle: (body) => {
      settles.push(JSON.parse(body));
      return {
        status: 200,
        body: JSON.stringify({ success: true, payer: c.payer, transaction: "5j7s", network: SVM.network }),
      };
    },
  });
  const shop = guard(() => new Response("the report"));
  const fetchShop = (request) => shop(request, {}, {});
  const pay = wrapFetch(fetchShop, {
    x402: full,
    policy: { maxAmount: "1000" },
    solana: { seed: c.payerSeed, facts: async () => ({ tokenProgram: c.tokenProgram, decimals: c.decimals }) },
  });
  const res = await pay("https://shop.example/report");
  assert.equal(res.status, 200);
  assert.equal(await res.text(), "the report");
  assert.equal(settles.length, 1);
  assert.equal(settles[0].paymentRequirements.network, SVM.network);
  assert.ok(res.headers.get("payment-response"));
});
