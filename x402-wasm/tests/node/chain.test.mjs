// ChainMachine (the `full` flavour) in Node, driven over canned JSON-RPC
// answers; the Worker settling on a real chain is tests/chain (run by
// scripts/test-settlement.sh).
import assert from "node:assert/strict";
import { test } from "node:test";

import { ChainMachine, createPayment, decodeHeader } from "paywire/full";

const NOW = 1750000000;
const ACCEPT = {
  scheme: "exact",
  network: "eip155:84532",
  amount: "10000",
  asset: "0x036CbD53842c5426634e7929541eC2318f3dCF7e",
  payTo: "0x209693Bc6afc0C5328bA36FaF03C514EF312287C",
  maxTimeoutSeconds: 60,
  extra: { name: "USDC", version: "2" },
};
const PR = { x402Version: 2, resource: { url: "https://api.example.com/data" }, accepts: [ACCEPT] };

function body() {
  const value = createPayment(PR, "0x" + "11".repeat(32), { nowUnix: NOW, nonce: "0x" + "77".repeat(32) });
  return { x402Version: 2, paymentPayload: decodeHeader("PAYMENT-SIGNATURE", value), paymentRequirements: ACCEPT };
}

const RESULTS = {
  eth_chainId: "0x14a34",
  eth_getCode: "0x6080",
  eth_call: "0x",
  eth_estimateGas: "0x186a0",
  eth_getTransactionCount: "0x0",
  eth_getBlockByNumber: { number: "0x10", timestamp: "0x6853b0f0", baseFeePerGas: "0x3b9aca00" },
  eth_maxPriorityFeePerGas: "0x1",
};

/** Runs a machine over a node that refuses raw transactions; returns the outcome and the methods. */
function run(machine) {
  const methods = [];
  for (;;) {
    const step = machine.next();
    if (step.done) return { outcome: step.outcome, methods };
    const req = JSON.parse(step.request);
    methods.push(req.method);
    const answer = req.method in RESULTS
      ? { jsonrpc: "2.0", id: req.id, result: RESULTS[req.method] }
      : { jsonrpc: "2.0", id: req.id, error: { code: -32000, message: "insufficient funds for gas * price + value" } };
    machine.feed(JSON.stringify(answer));
  }
}

test("verify with the chain: chain id, code, simulation, valid", () => {
  const m = ChainMachine.verify(body(), NOW);
  const { outcome, methods } = run(m);
  m.free();
  assert.deepEqual(methods, ["eth_chainId", "eth_getCode", "eth_call"]);
  assert.equal(outcome.isValid, true);
  assert.match(outcome.payer, /^0x[0-9a-fA-F]{40}$/);
});

test("settle: the transaction is built, signed and sent; the node's refusal is the outcome", () => {
  const m = ChainMachine.settle(body(), "0x" + "22".repeat(32), NOW, { maxFeePerGas: "5000000000" });
  const { outcome, methods } = run(m);
  m.free();
  assert.equal(methods.at(-1), "eth_sendRawTransaction");
  assert.equal(methods.length, 7);
  assert.equal(outcome.success, false);
  assert.equal(outcome.errorReason, "invalid_exact_evm_transaction_failed");
  assert.equal(outcome.transaction, "");
  assert.match(outcome.errorMessage, /insufficient funds/);
});

test("misuse: stale answers, bad options and keys throw coded errors", () => {
  const m = ChainMachine.verify(body(), NOW, undefined, { checkChainId: false });
  const step = m.next();
  assert.equal(JSON.parse(step.request).method, "eth_getCode");
  assert.throws(() => m.feed('{"jsonrpc":"2.0","id":9,"result":"0x"}'), { code: "invalid_response" });
  m.feed('{"jsonrpc":"2.0","id":1,"result":"0x"}');
  assert.equal(m.next().outcome.invalidReason, "asset_not_deployed_contract");
  m.free();
  assert.throws(() => ChainMachine.verify(body(), NOW, undefined, { nonce: "seven" }), { code: "invalid_payload" });
  assert.throws(() => ChainMachine.settle(body(), "0x12", NOW), { code: "invalid_argument" });
});
