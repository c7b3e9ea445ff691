// The web build in headless Chromium: a static server on 127.0.0.1 serves the
// package and a page that creates and verifies payments; Chromium loads it
// (virtual time budget, --dump-dom) and the test reads the page's report from
// the dumped DOM. Chromium is bounded in time and stopped by its PID.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, test } from "node:test";

import { privateKeyToAddress } from "paywire";

import { PKG_DIR, TESTS_DIR, VECTORS_DIR, dumpDom, serveStatic } from "../lib/harness.mjs";

/** URL prefix -> directory served under it (nothing else is served). */
const ROOTS = [
  ["/pkg/", PKG_DIR],
  ["/vectors/", VECTORS_DIR],
  ["/lib/", join(TESTS_DIR, "lib")],
  ["/", join(TESTS_DIR, "chromium")],
];

let server;
let origin;
let requests;

before(async () => {
  ({ server, origin, requests } = await serveStatic(ROOTS, "/page.html"));
});

after(() => new Promise((resolve) => server.close(resolve)));

const unescapeHtml = (s) =>
  s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&amp;/g, "&");

let report;

test("the page loads the web build and reports", async () => {
  const dom = await dumpDom(`${origin}/`);
  const m = dom.match(/<pre id="result">([\s\S]*?)<\/pre>/);
  assert.ok(m, dom.slice(0, 2000));
  report = JSON.parse(unescapeHtml(m[1]));
  assert.equal(report.error, undefined, report.error);
  assert.equal(report.done, true);
  assert.match(report.userAgent, /Chrome/);
  assert.ok(requests.includes("/pkg/paywire_wasm_bg.wasm"), requests.join(" "));
});

test("a payment created in the page verifies in the page", () => {
  const address = privateKeyToAddress("0x" + "3c".repeat(32)); // the page's key, here in Node
  assert.deepEqual(report.created, {
    isValid: true,
    payer: address,
    address,
    chainChecks: ["assetIsContract", "eip3009NonceUnused", "balanceAtLeast", "simulateEip3009Transfer"],
    resource: `${origin}/`,
    noncesDiffer: true,
  });
});

test("tampered, under-paying and expired payments are refused with the right reason", () => {
  assert.equal(report.tampered, "invalid_exact_evm_signature");
  assert.equal(report.underpaid, "invalid_exact_evm_payload_authorization_value_mismatch");
  assert.equal(report.expired, "invalid_exact_evm_payload_authorization_valid_before");
  assert.deepEqual(report.overBudget, { isError: true, code: "invalid_payment_requirements" });
});

test("the specification's EIP-712 example digest", () => {
  assert.equal(report.specDigest, "0xf256992871671abcb27ff92885a7afa46218724e5fc0bac35d050115aa1d22e6");
});

test("the official verdicts and payments, replayed in the page", () => {
  assert.ok(report.verdicts.total >= 100);
  assert.deepEqual(report.verdicts.failures, []);
  assert.ok(report.payments.total >= 10);
  assert.equal(report.payments.valid, report.payments.total);
});
