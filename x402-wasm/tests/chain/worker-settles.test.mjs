// The example Worker settling on a real EVM through a node's JSON-RPC
// (examples/worker/config-rpc.capnp: RPC_URL, FACILITATOR_PRIVATE_KEY): it
// verifies the payment, then its ChainMachine simulates, signs and sends the
// transfer, and PAYMENT-RESPONSE carries the mined transaction.
//
// Run by scripts/test-settlement.sh, which starts the local chain, deploys the
// test token and writes the fixture this reads (PAYWIRE_TEST_FIXTURE).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

import { createPayment, decodeHeader, privateKeyToAddress } from "paywire";

import { BIN_DIR, WASM_DIR, freePort, startProcess, waitForHttp } from "../lib/harness.mjs";

const EXAMPLE_DIR = join(WASM_DIR, "examples", "worker");
const PRICE = "250000";
const fixturePath = process.env.PAYWIRE_TEST_FIXTURE;
const fx = fixturePath ? JSON.parse(readFileSync(fixturePath, "utf8")) : null;

async function rpc(method, params) {
  const res = await fetch(fx.rpcUrl, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
  });
  const body = await res.json();
  if (body.error) throw new Error(`${method}: ${JSON.stringify(body.error)}`);
  return body.result;
}

/** balanceOf(owner) on the test token, by hand-written calldata. */
async function balance(owner) {
  const data = `0x70a08231${owner.slice(2).toLowerCase().padStart(64, "0")}`;
  return BigInt(await rpc("eth_call", [{ to: fx.token, data }, "latest"]));
}

async function get(url, payment) {
  const res = await fetch(url, {
    headers: payment ? { "PAYMENT-SIGNATURE": payment } : {},
    signal: AbortSignal.timeout(30_000),
  });
  return { status: res.status, headers: res.headers, body: await res.json() };
}

describe("workerd: the example Worker settling through a node's JSON-RPC", { skip: !fx && "PAYWIRE_TEST_FIXTURE is not set" }, () => {
  let worker;
  let offer;
  before(async () => {
    const port = await freePort();
    const env = {
      PATH: process.env.PATH,
      PAY_TO: fx.payTo,
      NETWORK: fx.network,
      ASSET: fx.token,
      PRICE,
      TOKEN_NAME: fx.tokenName,
      TOKEN_VERSION: fx.tokenVersion,
      RPC_URL: fx.rpcUrl,
      FACILITATOR_PRIVATE_KEY: fx.facilitatorKey,
    };
    const proc = startProcess(
      join(BIN_DIR, "workerd"),
      ["serve", "config-rpc.capnp", "--socket-addr", `http=127.0.0.1:${port}`],
      { cwd: EXAMPLE_DIR, env, timeoutMs: 180_000, replaceEnv: true },
    );
    const url = `http://127.0.0.1:${port}/premium`;
    await waitForHttp(url, proc);
    worker = { url, proc };
    const res = await get(url);
    assert.equal(res.status, 402);
    offer = res.headers.get("payment-required");
  });
  after(() => worker?.proc.stop());

  let paid;
  test("paid: settled on chain, the balances move by the price exactly", async () => {
    const payer = privateKeyToAddress(fx.payerKey);
    const before = [await balance(payer), await balance(fx.payTo)];
    paid = createPayment(offer, fx.payerKey, { maxAmount: PRICE });
    const res = await get(worker.url, paid);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const settlement = decodeHeader("PAYMENT-RESPONSE", res.headers.get("payment-response"));
    assert.equal(settlement.success, true, JSON.stringify(settlement));
    assert.equal(settlement.network, fx.network);
    assert.equal(settlement.payer, payer);
    assert.match(settlement.transaction, /^0x[0-9a-f]{64}$/);
    const receipt = await rpc("eth_getTransactionReceipt", [settlement.transaction]);
    assert.equal(receipt.status, "0x1");
    assert.equal(receipt.to.toLowerCase(), fx.token.toLowerCase());
    assert.equal(await balance(payer), before[0] - BigInt(PRICE));
    assert.equal(await balance(fx.payTo), before[1] + BigInt(PRICE));
  });

  test("the same payment again: 409 with the earlier PAYMENT-RESPONSE, nothing moves", async () => {
    const payer = privateKeyToAddress(fx.payerKey);
    const before = await balance(payer);
    const res = await get(worker.url, paid);
    assert.equal(res.status, 409, JSON.stringify(res.body));
    assert.equal(res.body.error, "payment_already_delivered");
    const settlement = decodeHeader("PAYMENT-RESPONSE", res.headers.get("payment-response"));
    assert.match(settlement.transaction, /^0x[0-9a-f]{64}$/);
    assert.equal(await balance(payer), before);
  });

  test("an underfunded payer: 402, insufficient balance", async () => {
    const res = await get(worker.url, createPayment(offer, fx.poorPayerKey, { maxAmount: PRICE }));
    assert.equal(res.status, 402, JSON.stringify(res.body));
    const pr = decodeHeader("PAYMENT-REQUIRED", res.headers.get("payment-required"));
    assert.ok(pr.error.startsWith("invalid_exact_evm_insufficient_balance"), pr.error);
  });
});
