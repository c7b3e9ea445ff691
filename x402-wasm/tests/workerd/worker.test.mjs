// The example Worker (examples/worker) served by workerd on 127.0.0.1, paid by
// a Node client that uses the package's createPayment with a test key; and the
// same Worker settling through a stub facilitator (a Node server on 127.0.0.1
// that records each POST /settle and answers like the specification's).
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

import { createPayment, decodeHeader, encodeHeader, privateKeyToAddress } from "x402-wasm";

import {
  BIN_DIR,
  PKG_DIR,
  WASM_DIR,
  freePort,
  startProcess,
  waitForHttp,
} from "../lib/harness.mjs";

const EXAMPLE_DIR = join(WASM_DIR, "examples", "worker");
const PAY_TO = "0x209693Bc6afc0C5328bA36FaF03C514EF312287C";
const PRICE = "10000";
const PAYER_KEY = "0x" + "5a".repeat(32);
const BROKE_KEY = "0x" + "6b".repeat(32); // the stub answers success: false for this payer
const FAILING_KEY = "0x" + "7c".repeat(32); // the stub answers HTTP 500 for this payer

/** The stub facilitator: records calls, answers POST /settle. */
async function startFacilitator() {
  const calls = [];
  const broke = privateKeyToAddress(BROKE_KEY);
  const failing = privateKeyToAddress(FAILING_KEY);
  const server = createServer(async (req, res) => {
    let text = "";
    for await (const chunk of req) text += chunk;
    const call = { method: req.method, url: req.url, contentType: req.headers["content-type"] };
    try {
      call.body = JSON.parse(text);
    } catch {
      call.body = text;
    }
    calls.push(call);
    if (req.method !== "POST" || req.url !== "/settle" || typeof call.body !== "object") {
      res.writeHead(404).end();
      return;
    }
    const { paymentPayload, paymentRequirements } = call.body;
    const auth = paymentPayload?.payload?.authorization ?? {};
    let answer;
    if (auth.from === failing) {
      res.writeHead(500).end("upstream down");
      return;
    } else if (auth.from === broke) {
      answer = {
        success: false,
        errorReason: "invalid_exact_evm_insufficient_balance",
        transaction: "",
        network: paymentRequirements.network,
        payer: auth.from,
      };
    } else {
      // A stand-in transaction hash: the authorization nonce.
      answer = {
        success: true,
        transaction: auth.nonce,
        network: paymentRequirements.network,
        payer: auth.from,
      };
    }
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(answer));
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}/`,
    calls,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

/** workerd serving the example (or another config in `cwd`) on a free port of 127.0.0.1. */
async function startWorker(extraEnv, cwd = EXAMPLE_DIR) {
  const port = await freePort();
  const env = { PAY_TO, PRICE, ...extraEnv };
  if (!("FACILITATOR_URL" in extraEnv)) env.FACILITATOR_URL = undefined;
  const childEnv = Object.fromEntries(
    Object.entries({ ...process.env, ...env }).filter(([, v]) => v !== undefined),
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

/** GET the paid route, with a payment header if given. */
async function get(url, payment) {
  const res = await fetch(url, {
    headers: payment ? { "PAYMENT-SIGNATURE": payment } : {},
    signal: AbortSignal.timeout(10_000),
  });
  return { status: res.status, headers: res.headers, body: await res.json() };
}

/** The 402's PaymentRequired, decoded strictly from its header. */
function required(res) {
  assert.equal(res.status, 402, JSON.stringify(res.body));
  return decodeHeader("PAYMENT-REQUIRED", res.headers.get("payment-required"));
}

/** The PAYMENT-REQUIRED header value with `accepts[0]` changed. */
function offerWith(pr, change) {
  return encodeHeader("PAYMENT-REQUIRED", { ...pr, accepts: [{ ...pr.accepts[0], ...change }] });
}

/** A valid payment with one signed field changed afterwards. */
function tampered(value, field, to) {
  const p = decodeHeader("PAYMENT-SIGNATURE", value);
  p.payload.authorization[field] = to;
  return encodeHeader("PAYMENT-SIGNATURE", p);
}

describe("workerd: the example Worker verifying locally", () => {
  let worker;
  let offer; // the 402's PAYMENT-REQUIRED value
  let pr;
  before(async () => {
    worker = await startWorker({});
    const res = await get(worker.url);
    pr = required(res);
    offer = res.headers.get("payment-required");
  });
  after(() => worker?.proc.stop());

  test("no payment: 402 with PAYMENT-REQUIRED", () => {
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

  test("paid: 200 with the content and PAYMENT-RESPONSE", async () => {
    const payment = createPayment(offer, PAYER_KEY, { maxAmount: PRICE });
    const res = await get(worker.url, payment);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.data, "premium content");
    const settlement = decodeHeader("PAYMENT-RESPONSE", res.headers.get("payment-response"));
    assert.deepEqual(settlement, {
      success: true,
      transaction: "",
      network: "eip155:84532",
      payer: privateKeyToAddress(PAYER_KEY),
    });
  });

  const refusals = [
    ["tampered value", () => tampered(createPayment(offer, PAYER_KEY), "value", "1000000"),
      "invalid_exact_evm_signature"],
    ["tampered recipient", () => tampered(createPayment(offer, PAYER_KEY), "to", "0x000000000000000000000000000000000000dEaD"),
      "invalid_exact_evm_signature"],
    ["under-paying", () => createPayment(offerWith(pr, { amount: "9999" }), PAYER_KEY),
      "invalid_exact_evm_payload_authorization_value_mismatch"],
    ["paying someone else", () => createPayment(offerWith(pr, { payTo: "0x000000000000000000000000000000000000dEaD" }), PAYER_KEY),
      "invalid_exact_evm_recipient_mismatch"],
    ["expired", () => createPayment(offer, PAYER_KEY, { nowUnix: Math.floor(Date.now() / 1000) - 3600 }),
      "invalid_exact_evm_payload_authorization_valid_before"],
    ["not yet valid", () => createPayment(offer, PAYER_KEY, { nowUnix: Math.floor(Date.now() / 1000) + 3600 }),
      "invalid_exact_evm_payload_authorization_valid_after"],
    ["another token's domain", () => createPayment(offerWith(pr, { extra: { name: "USD Coin", version: "2" } }), PAYER_KEY),
      "invalid_exact_evm_signature"],
    ["not a payment", () => "bm90IGEgcGF5bWVudA==", "invalid_payload"],
  ];
  for (const [name, make, reason] of refusals) {
    test(`${name}: 402 with ${reason}`, async () => {
      const again = required(await get(worker.url, make()));
      assert.equal(again.error, reason);
      assert.deepEqual(again.accepts, pr.accepts);
    });
  }

  test("other paths: 404", async () => {
    const res = await fetch(worker.url.replace("/premium", "/other"));
    assert.equal(res.status, 404);
    await res.body?.cancel();
  });
});

describe("workerd: the example Worker settling through a facilitator", () => {
  let worker;
  let facilitator;
  let offer;
  let pr;
  before(async () => {
    facilitator = await startFacilitator();
    worker = await startWorker({ FACILITATOR_URL: facilitator.url });
    const res = await get(worker.url);
    pr = required(res);
    offer = res.headers.get("payment-required");
  });
  after(async () => {
    await worker?.proc.stop();
    await facilitator?.close();
  });

  test("paid: POST /settle with the payment, then 200 with its answer in PAYMENT-RESPONSE", async () => {
    const before = facilitator.calls.length;
    const payment = createPayment(offer, PAYER_KEY, { maxAmount: PRICE });
    const res = await get(worker.url, payment);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(facilitator.calls.length, before + 1);
    const call = facilitator.calls.at(-1);
    assert.equal(call.method, "POST");
    assert.equal(call.url, "/settle");
    assert.match(call.contentType, /^application\/json/);
    assert.deepEqual(call.body, {
      x402Version: 2,
      paymentPayload: decodeHeader("PAYMENT-SIGNATURE", payment),
      paymentRequirements: pr.accepts[0],
    });
    const nonce = call.body.paymentPayload.payload.authorization.nonce;
    const settlement = decodeHeader("PAYMENT-RESPONSE", res.headers.get("payment-response"));
    assert.deepEqual(settlement, {
      success: true,
      transaction: nonce,
      network: "eip155:84532",
      payer: privateKeyToAddress(PAYER_KEY),
    });
  });

  test("an invalid payment is refused before any settlement", async () => {
    const before = facilitator.calls.length;
    const bad = tampered(createPayment(offer, PAYER_KEY), "value", "1");
    assert.equal(required(await get(worker.url, bad)).error, "invalid_exact_evm_signature");
    const late = createPayment(offer, PAYER_KEY, { nowUnix: Math.floor(Date.now() / 1000) - 3600 });
    assert.equal(required(await get(worker.url, late)).error,
      "invalid_exact_evm_payload_authorization_valid_before");
    assert.equal(facilitator.calls.length, before);
  });

  test("settlement refused by the facilitator: 402 with its errorReason", async () => {
    const before = facilitator.calls.length;
    const res = await get(worker.url, createPayment(offer, BROKE_KEY));
    assert.equal(required(res).error, "invalid_exact_evm_insufficient_balance");
    assert.equal(facilitator.calls.length, before + 1);
  });

  test("facilitator failing: 502, no content", async () => {
    const res = await get(worker.url, createPayment(offer, FAILING_KEY));
    assert.equal(res.status, 502);
    assert.equal(res.body.error, "settlement failed");
    assert.equal(res.headers.get("payment-response"), null);
  });
});

/** A temporary directory with `worker.mjs` (the given code) and one flavour of
 * the package (`pkgDir`), and the workerd config that serves them. */
function workerDir(code, pkgDir) {
  const dir = mkdtempSync(join(tmpdir(), "x402-worker-"));
  writeFileSync(join(dir, "worker.mjs"), code);
  for (const f of ["workerd.mjs", "x402_wasm.js", "x402_wasm_bg.wasm"]) {
    copyFileSync(join(pkgDir, f), join(dir, f));
  }
  writeFileSync(join(dir, "config.capnp"), `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [(name = "main", worker = .w)],
  sockets = [(name = "http", http = (), service = "main")],
);
const w :Workerd.Worker = (
  modules = [
    (name = "worker.mjs", esModule = embed "worker.mjs"),
    (name = "x402-wasm", esModule = embed "workerd.mjs"),
    (name = "x402_wasm.js", esModule = embed "x402_wasm.js"),
    (name = "x402_wasm_bg.wasm", wasm = embed "x402_wasm_bg.wasm"),
  ],
  compatibilityDate = "2025-09-01",
);
`);
  return dir;
}

describe("workerd: the full flavour (batch-settlement)", () => {
  let dir;
  let worker;
  before(async () => {
    // Signs a request with the RFC 9421 Ed25519 test key and verifies it, in the Worker.
    dir = workerDir(`import { encodeHeader, signRequest, verifyBatchSettlement } from "x402-wasm";
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

describe("workerd: the Worker example of the package's README", () => {
  let dir;
  let worker;
  before(async () => {
    // The README's first js block, as written, beside a copy of the package.
    const readme = readFileSync(join(WASM_DIR, "README.md"), "utf8");
    dir = workerDir(readme.match(/```js\n([\s\S]*?)```/)[1], PKG_DIR);
    worker = await startWorker({}, dir);
  });
  after(async () => {
    await worker?.proc.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("402, then paid: 200 with the content; a bad payment: 402 with its reason", async () => {
    const first = await fetch(worker.url);
    assert.equal(first.status, 402);
    const offer = first.headers.get("payment-required");
    assert.equal(decodeHeader("PAYMENT-REQUIRED", offer).accepts[0].payTo, PAY_TO);
    const payment = createPayment(offer, PAYER_KEY, { maxAmount: "10000" });
    const paid = await fetch(worker.url, { headers: { "PAYMENT-SIGNATURE": payment } });
    assert.equal(paid.status, 200);
    assert.equal(await paid.text(), "the paid content");
    const bad = await fetch(worker.url, {
      headers: { "PAYMENT-SIGNATURE": tampered(payment, "value", "1") },
    });
    assert.equal(bad.status, 402);
    assert.equal(
      decodeHeader("PAYMENT-REQUIRED", bad.headers.get("payment-required")).error,
      "invalid_exact_evm_signature",
    );
  });
});
