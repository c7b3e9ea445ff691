// Workers built on the package, served by workerd on 127.0.0.1: one that signs
// and verifies a batch-settlement request with the full flavour, one that
// verifies payments with the fast flavour (libsecp256k1), and the
// Worker of the package's README, paid by a Node client (createPayment with a
// test key) and settling through a facilitator double. The example Worker
// (examples/worker) is tested in ../paywall.
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

import { createPayment, decodeHeader, encodeHeader, privateKeyToAddress, recoverAddress } from "paywire";

import {
  BIN_DIR,
  PKG_DIR,
  WASM_DIR,
  freePort,
  startProcess,
  waitForHttp,
} from "../lib/harness.mjs";
import { startFacilitator } from "../paywall/doubles.mjs";

const PAY_TO = "0x209693Bc6afc0C5328bA36FaF03C514EF312287C";
const PAYER_KEY = "0x" + "5a".repeat(32);

/** workerd serving the config in `cwd` on a free port of 127.0.0.1. */
async function startWorker(env, cwd) {
  const port = await freePort();
  const childEnv = Object.fromEntries(
    Object.entries({ PATH: process.env.PATH, ...env }).filter(([, v]) => v !== undefined),
  );
  const proc = startProcess(
    join(BIN_DIR, "workerd"),
    ["serve", "config.capnp", "--socket-addr", `http=127.0.0.1:${port}`],
    { cwd, env: childEnv, timeoutMs: 180_000, replaceEnv: true },
  );
  const url = `http://127.0.0.1:${port}/premium`;
  await waitForHttp(url, proc);
  return { url, proc };
}

/** A valid payment with one signed field changed afterwards. */
function tampered(value, field, to) {
  const p = decodeHeader("PAYMENT-SIGNATURE", value);
  p.payload.authorization[field] = to;
  return encodeHeader("PAYMENT-SIGNATURE", p);
}

/** A temporary directory with `worker.mjs` (the given code), one flavour of the
 * package (`pkgDir`) under the module name `entry`, and the workerd config
 * that serves them; `durableObject` names a class bound as `binding` (in
 * memory), `env` the variables bound from the environment, `modules` the
 * package's plain modules the code imports (`paywire/paywall`, ...). */
function workerDir(
  code,
  pkgDir,
  { entry = "paywire", durableObject = null, binding = "RECORDS", env = [], modules = [] } = {},
) {
  const dir = mkdtempSync(join(tmpdir(), "x402-worker-"));
  writeFileSync(join(dir, "worker.mjs"), code);
  for (const f of ["workerd.mjs", "paywire_wasm.js", "paywire_wasm_bg.wasm"]) {
    copyFileSync(join(pkgDir, f), join(dir, f));
  }
  for (const m of modules) copyFileSync(join(PKG_DIR, `${m}.mjs`), join(dir, `${m}.mjs`));
  // The entry point imports "./paywire_wasm.js": beside its own module name.
  const base = entry.includes("/") ? entry.slice(0, entry.lastIndexOf("/") + 1) : "";
  const bindings = env.map((n) => `(name = "${n}", fromEnvironment = "${n}")`);
  let objects = "";
  if (durableObject) {
    bindings.push(`(name = "${binding}", durableObjectNamespace = "${durableObject}")`);
    objects = `durableObjectNamespaces = [(className = "${durableObject}", uniqueKey = "x402-test-records")],
  durableObjectStorage = (inMemory = void),`;
  }
  writeFileSync(join(dir, "config.capnp"), `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = .w),
    (name = "internet", network = (allow = ["public", "local"])),
  ],
  sockets = [(name = "http", http = (), service = "main")],
);
const w :Workerd.Worker = (
  modules = [
    (name = "worker.mjs", esModule = embed "worker.mjs"),
    (name = "${entry}", esModule = embed "workerd.mjs"),
    (name = "${base}paywire_wasm.js", esModule = embed "paywire_wasm.js"),
    (name = "${base}paywire_wasm_bg.wasm", wasm = embed "paywire_wasm_bg.wasm"),
${modules.map((m) => `    (name = "paywire/${m}", esModule = embed "${m}.mjs"),`).join("\n")}
  ],
  compatibilityDate = "2025-09-01",
  ${objects}
  bindings = [${bindings.join(", ")}],
);
`);
  return dir;
}

describe("workerd: the full flavour (batch-settlement)", () => {
  let dir;
  let worker;
  before(async () => {
    // Signs a request with the RFC 9421 Ed25519 test key and verifies it, in the Worker.
    dir = workerDir(`import { encodeHeader, signRequest, verifyBatchSettlement } from "paywire";
export default {
  async fetch(request) {
    const now = Math.floor(Date.now() / 1000);
    const accepted = { scheme: "batch-settlement", network: "cloudflare:402", amount: "5",
      asset: "USD", payTo: "merchant", maxTimeoutSeconds: 30 };
    const payment = encodeHeader("PAYMENT-SIGNATURE",
      { x402Version: 2, payload: { amount: "5", asset: "USD" }, accepted });
    const req = { method: "GET", url: "https://example.com/article",
      headers: [["PAYMENT-SIGNATURE", payment]] };
    const signed = signRequest({ request: req, privateKey: "n4Ni-HpISpVObnQMW0wOhCKROaIKqKtW_2ZYb2p9KcU",
      signatureAgent: '"https://agent.example"', created: now, expires: now + 60 });
    req.headers.push(["Signature-Agent", signed.signatureAgent],
      ["Signature-Input", signed.signatureInput], ["Signature", signed.signature]);
    const out = verifyBatchSettlement({ request: req, requirements: [accepted], now,
      directories: { "https://agent.example": { keys: [{ kty: "OKP", crv: "Ed25519",
        x: "JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs" }] } } });
    return Response.json({ keyid: signed.keyid, verdict: out.verdict });
  },
};
`, join(PKG_DIR, "full"));
    worker = await startWorker({}, dir);
  });
  after(async () => {
    await worker?.proc.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("a request signed in the Worker verifies in the Worker", async () => {
    const res = await fetch(worker.url);
    const body = await res.json();
    assert.equal(body.keyid, "poqkLGiymh_W0uP6PZFw-dvez3QJT5SolqXBCW38r0U");
    assert.equal(body.verdict.isValid, true, JSON.stringify(body));
  });
});

describe("workerd: the fast flavour (libsecp256k1) verifies payments", () => {
  let dir;
  let worker;
  const requirements = {
    scheme: "exact", network: "eip155:84532", amount: "10000",
    asset: "0x036CbD53842c5426634e7929541eC2318f3dCF7e", payTo: PAY_TO,
    maxTimeoutSeconds: 60, extra: { name: "USDC", version: "2" },
  };
  before(async () => {
    // Verifies the posted PAYMENT-SIGNATURE against fixed requirements, and
    // recovers the signer of a posted digest and signature.
    dir = workerDir(`import { recoverAddress, verifyPaymentHeader } from "paywire/fast";
const requirements = ${JSON.stringify(requirements)};
export default {
  async fetch(request) {
    const q = new URL(request.url).searchParams;
    if (q.has("digest")) {
      try {
        return Response.json({ signer: recoverAddress(q.get("digest"), q.get("signature")) });
      } catch (e) {
        return Response.json({ code: e.code, message: e.message });
      }
    }
    return Response.json(verifyPaymentHeader(request.headers.get("PAYMENT-SIGNATURE"), requirements));
  },
};
`, join(PKG_DIR, "fast"), { entry: "paywire/fast" });
    worker = await startWorker({}, dir);
  });
  after(async () => {
    await worker?.proc.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("a payment made in Node verifies; a tampered one does not; recovery as in Node", async () => {
    const offer = encodeHeader("PAYMENT-REQUIRED", {
      x402Version: 2, resource: { url: "https://shop.example/" }, accepts: [requirements],
    });
    const payment = createPayment(offer, PAYER_KEY);
    const good = await (await fetch(worker.url, { headers: { "PAYMENT-SIGNATURE": payment } })).json();
    assert.equal(good.isValid, true, JSON.stringify(good));
    assert.equal(good.payer, privateKeyToAddress(PAYER_KEY));
    const bad = await (
      await fetch(worker.url, { headers: { "PAYMENT-SIGNATURE": tampered(payment, "value", "1") } })
    ).json();
    assert.equal(bad.isValid, false);
    assert.equal(bad.invalidReason, "invalid_exact_evm_signature");
    // The spec's example authorization, and an r that is no curve point's x.
    const digest = "0xf256992871671abcb27ff92885a7afa46218724e5fc0bac35d050115aa1d22e6";
    const signature = "0x2d6a7588d6acca505cbf0d9a4a227e0c52c6c34008c8e8986a1283259764173608a2ce6496642e377d6da8dbbf5836e9bd15092f9ecab05ded3d6293af148b571c";
    const ask = async (d, s) =>
      (await fetch(`${worker.url}?${new URLSearchParams({ digest: d, signature: s })}`)).json();
    assert.deepEqual(await ask(digest, signature), { signer: recoverAddress(digest, signature) });
    const offCurve = `0x${"00".repeat(31)}05${signature.slice(66)}`;
    const refused = await ask(digest, offCurve);
    assert.equal(refused.code, "invalid_argument");
    assert.match(refused.message, /no public key recovers/);
  });
});

describe("workerd: the Worker of the package's README", () => {
  let dir;
  let worker;
  let facilitator;
  before(async () => {
    facilitator = await startFacilitator();
    // The README's first js block, as written, beside a copy of the full flavour.
    const readme = readFileSync(join(WASM_DIR, "README.md"), "utf8");
    dir = workerDir(readme.match(/```js\n([\s\S]*?)```/)[1], join(PKG_DIR, "full"), {
      entry: "paywire/full",
      durableObject: "PaymentRecords",
      binding: "PAYMENTS",
      env: ["FACILITATOR_URL"],
      modules: ["paywall", "durable-object"],
    });
    worker = await startWorker({ FACILITATOR_URL: facilitator.url.replace(/\/$/, "") }, dir);
  });
  after(async () => {
    await worker?.proc.stop();
    await facilitator?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("402; paid: settled, then 200; the same payment again: 409; a bad payment: 402", async () => {
    // The README sells /report; everything else goes to the handler untouched.
    const url = worker.url.replace(/\/premium$/, "/report");
    const free = await fetch(worker.url);
    assert.equal(free.status, 200);
    await free.body?.cancel();
    const first = await fetch(url);
    assert.equal(first.status, 402);
    const offer = first.headers.get("payment-required");
    assert.equal(decodeHeader("PAYMENT-REQUIRED", offer).accepts[0].payTo, PAY_TO);
    const payment = createPayment(offer, PAYER_KEY, { maxAmount: "10000" });
    const paid = await fetch(url, { headers: { "PAYMENT-SIGNATURE": payment } });
    assert.equal(paid.status, 200);
    assert.equal(await paid.text(), "the paid content");
    assert.equal(paid.headers.get("cache-control"), "private, no-store");
    assert.equal(decodeHeader("PAYMENT-RESPONSE", paid.headers.get("payment-response")).success, true);
    assert.equal(facilitator.calls.length, 1);
    const again = await fetch(url, { headers: { "PAYMENT-SIGNATURE": payment } });
    assert.equal(again.status, 409);
    await again.body?.cancel();
    const bad = await fetch(url, {
      headers: { "PAYMENT-SIGNATURE": tampered(createPayment(offer, PAYER_KEY), "value", "1") },
    });
    assert.equal(bad.status, 402);
    await bad.body?.cancel();
    assert.ok(
      decodeHeader("PAYMENT-REQUIRED", bad.headers.get("payment-required")).error
        .startsWith("invalid_exact_evm_signature"),
    );
    assert.equal(facilitator.calls.length, 1);
  });
});
