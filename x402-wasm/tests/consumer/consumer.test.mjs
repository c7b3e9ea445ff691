// The npm package as a user gets it: the tarball `npm pack` made
// (PAYWIRE_TARBALL) is installed with npm into a fresh directory outside the
// repository, and imported from there by a Node script, by the example Worker
// run in workerd, and by a page in headless Chromium (ES modules and an import
// map, no bundler). Nothing links back into the repository.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { copyFileSync, lstatSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";

import { BIN_DIR, WASM_DIR, dumpDom, freePort, serveStatic, startProcess, waitForHttp } from "../lib/harness.mjs";

const TARBALL = process.env.PAYWIRE_TARBALL;
const PAY_TO = "0x209693Bc6afc0C5328bA36FaF03C514EF312287C";

let dir;
before(() => {
  assert.ok(TARBALL, "PAYWIRE_TARBALL names the packed package (scripts/test-wasm.sh sets it)");
  dir = mkdtempSync(join(tmpdir(), "paywire-consumer-"));
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
  execFileSync("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error", TARBALL], {
    cwd: dir,
    stdio: ["ignore", "inherit", "inherit"],
    timeout: 120_000,
  });
});
after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test("npm installed a copy, not a link into the repository", () => {
  const installed = join(dir, "node_modules", "paywire");
  assert.ok(lstatSync(installed).isDirectory() && !lstatSync(installed).isSymbolicLink());
  assert.ok(!realpathSync(installed).startsWith(realpathSync(WASM_DIR)));
  const pkg = JSON.parse(readFileSync(join(installed, "package.json"), "utf8"));
  assert.equal(pkg.name, "paywire");
  for (const f of ["LICENSE-MIT", "LICENSE-APACHE", "README.md", "paywire_wasm_bg.wasm", "full/paywire_wasm_bg.wasm"]) {
    assert.ok(lstatSync(join(installed, f)).isFile(), f);
  }
});

test("a Node script imports both flavours and pays and verifies", () => {
  writeFileSync(
    join(dir, "script.mjs"),
    `import { createPayment, encodeHeader, verifyPaymentHeader } from "paywire";
import { PaymentLifecycle } from "paywire/full";
const accepts = [{ scheme: "exact", network: "eip155:84532", amount: "10000",
  asset: "0x036CbD53842c5426634e7929541eC2318f3dCF7e", payTo: "${PAY_TO}",
  maxTimeoutSeconds: 60, extra: { name: "USDC", version: "2" } }];
const pr = encodeHeader("PAYMENT-REQUIRED", { x402Version: 2, resource: { url: "https://shop.example/" }, accepts });
const payment = createPayment(pr, "0x" + "11".repeat(32));
const verdict = verifyPaymentHeader(payment, accepts[0]);
console.log(JSON.stringify({ isValid: verdict.isValid, lifecycle: typeof PaymentLifecycle }));
`,
  );
  const out = execFileSync(process.execPath, ["script.mjs"], { cwd: dir, encoding: "utf8", timeout: 60_000 });
  assert.deepEqual(JSON.parse(out), { isValid: true, lifecycle: "function" });
});

test("the example Worker, importing the installed package, runs in workerd", async () => {
  const example = join(WASM_DIR, "examples", "worker");
  copyFileSync(join(example, "worker.mjs"), join(dir, "worker.mjs"));
  const config = readFileSync(join(example, "config.capnp"), "utf8").replaceAll("../../pkg/", "node_modules/paywire/");
  assert.ok(config.includes("node_modules/paywire/full/workerd.mjs"));
  assert.ok(config.includes("node_modules/paywire/paywall.mjs"));
  writeFileSync(join(dir, "config.capnp"), config);
  const state = mkdtempSync(join(tmpdir(), "paywire-consumer-state-"));
  const port = await freePort();
  const worker = startProcess(
    join(BIN_DIR, "workerd"),
    ["serve", "config.capnp", "--socket-addr", `http=127.0.0.1:${port}`, "--directory-path", `payments-disk=${state}`],
    { cwd: dir, env: { PATH: process.env.PATH, PAY_TO, PRICE: "10000" }, replaceEnv: true, timeoutMs: 120_000 },
  );
  try {
    const url = `http://127.0.0.1:${port}/premium`;
    await waitForHttp(url, worker);
    const res = await fetch(url, { signal: AbortSignal.timeout(20_000) });
    assert.equal(res.status, 402);
    const pr = JSON.parse(Buffer.from(res.headers.get("payment-required"), "base64").toString("utf8"));
    assert.equal(pr.accepts[0].payTo, PAY_TO);
    assert.equal(pr.accepts[0].amount, "10000");
  } finally {
    await worker.stop();
    rmSync(state, { recursive: true, force: true });
  }
});

test("a page in headless Chromium imports the installed package", async () => {
  writeFileSync(
    join(dir, "index.html"),
    `<!doctype html>
<html><head><meta charset="utf-8"><title>consumer</title>
<script type="importmap">{ "imports": { "paywire": "/node_modules/paywire/paywire_wasm.js" } }</script>
</head><body><pre id="result">pending</pre>
<script type="module">
import init, { privateKeyToAddress } from "paywire";
const out = document.getElementById("result");
try {
  await init();
  out.textContent = privateKeyToAddress("0x" + "3c".repeat(32));
} catch (e) {
  out.textContent = "error: " + e;
}
</script></body></html>
`,
  );
  const { server, origin, requests } = await serveStatic([["/", dir]], "/index.html");
  try {
    const dom = await dumpDom(`${origin}/`);
    const m = dom.match(/<pre id="result">([\s\S]*?)<\/pre>/);
    assert.ok(m, dom.slice(0, 2000));
    const { privateKeyToAddress } = await import(join(dir, "node_modules", "paywire", "node.mjs"));
    assert.equal(m[1], privateKeyToAddress("0x" + "3c".repeat(32)));
    assert.ok(requests.includes("/node_modules/paywire/paywire_wasm_bg.wasm"), requests.join(" "));
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});
