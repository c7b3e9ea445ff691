// The web build in headless Chromium: a static server on 127.0.0.1 serves the
// package and a page that creates and verifies payments; Chromium loads it
// (virtual time budget, --dump-dom) and the test reads the page's report from
// the dumped DOM. Chromium is bounded in time and stopped by its PID.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { extname, join, normalize, sep } from "node:path";
import { after, before, test } from "node:test";

import { privateKeyToAddress } from "x402-wasm";

import { PKG_DIR, TESTS_DIR, VECTORS_DIR, startProcess } from "../lib/harness.mjs";

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".mjs": "text/javascript",
  ".js": "text/javascript",
  ".wasm": "application/wasm",
  ".json": "application/json",
};

/** URL prefix -> directory served under it (nothing else is served). */
const ROOTS = [
  ["/pkg/", PKG_DIR],
  ["/vectors/", VECTORS_DIR],
  ["/lib/", join(TESTS_DIR, "lib")],
  ["/", join(TESTS_DIR, "chromium")],
];

function resolvePath(urlPath) {
  const path = urlPath === "/" ? "/page.html" : urlPath;
  for (const [prefix, dir] of ROOTS) {
    if (!path.startsWith(prefix)) continue;
    const file = normalize(join(dir, decodeURIComponent(path.slice(prefix.length))));
    return file.startsWith(dir + sep) ? file : null;
  }
  return null;
}

let server;
let origin;
const requests = [];

before(async () => {
  server = createServer((req, res) => {
    const path = new URL(req.url, "http://127.0.0.1").pathname;
    requests.push(path);
    const file = resolvePath(path);
    let body;
    try {
      body = file && readFileSync(file);
    } catch {
      body = null;
    }
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream" });
    res.end(body);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  origin = `http://127.0.0.1:${server.address().port}`;
});

after(() => new Promise((resolve) => server.close(resolve)));

/** Loads `url` in headless Chromium and answers the serialized DOM. */
async function dumpDom(url) {
  const profile = mkdtempSync(join(tmpdir(), "x402-chromium-"));
  const chromium = startProcess(
    process.env.CHROMIUM ?? "chromium",
    [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-dev-shm-usage",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      `--user-data-dir=${profile}`,
      "--virtual-time-budget=20000",
      "--dump-dom",
      url,
    ],
    { timeoutMs: 120_000 },
  );
  try {
    const { code } = await chromium.exited;
    assert.ok(!chromium.timedOut, "chromium did not finish in time");
    assert.equal(code, 0, chromium.err);
    return chromium.out;
  } finally {
    await chromium.stop();
    rmSync(profile, { recursive: true, force: true });
  }
}

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
  assert.ok(requests.includes("/pkg/x402_wasm_bg.wasm"), requests.join(" "));
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
