// batch-settlement on EVM between the official SDKs and `paywire facilitator`,
// on a local Hardhat chain with the batch-settlement contract and its deposit
// collectors at their canonical addresses:
//
//   1. the official resource server (@x402/express 2.27 with @x402/evm's
//      batch-settlement server scheme) settling through paywire facilitator,
//      paid by the official client (@x402/fetch with the batch-settlement
//      client scheme): the first request opens a channel with a deposit, the
//      next ones pay with vouchers; then the official channel manager claims
//      the vouchers, sweeps them to the receiver and refunds the rest, all
//      through paywire facilitator (whose receiver authorizer signs), with
//      exact balances at each step;
//   2. the official facilitator (@x402/evm's batch-settlement facilitator
//      scheme) and paywire facilitator judge the same deposits and vouchers
//      made by the official client alike.
//
// Run by scripts/test-interop.sh: PAYWIRE_TEST_RPC, PAYWIRE_TEST_CONTRACTS,
// PAYWIRE_BIN.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

import express from "express";
import { paymentMiddleware, x402ResourceServer } from "@x402/express";
import { HTTPFacilitatorClient } from "@x402/core/server";
import { x402Client } from "@x402/core/client";
import { wrapFetchWithPayment } from "@x402/fetch";
import { toClientEvmSigner } from "@x402/evm";
import { BatchSettlementEvmScheme as BatchClient } from "@x402/evm/batch-settlement/client";
import {
  BatchSettlementChannelManager,
  BatchSettlementEvmScheme as BatchServer,
} from "@x402/evm/batch-settlement/server";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";

import { BATCH, NETWORK, batchChain, processes, startBatchFacilitator } from "./support.mjs";

const RPC = process.env.PAYWIRE_TEST_RPC;
const API_KEY = "batch-interop-resource-server-key-0123";
const PRICE = 1000n;

const work = mkdtempSync(join(tmpdir(), "paywire-batch-interop-"));
const procs = processes();
let pub;
let balance;
let payer;
let token;
let facilitator;
let server;
let serverScheme;
let resourceUrl;
const payTo = privateKeyToAccount(generatePrivateKey()).address;
const authorizerKey = generatePrivateKey();
const authorizer = privateKeyToAccount(authorizerKey).address;

function officialFetch(account) {
  const client = new x402Client();
  client.setSpendControls({ allowedAssets: [{ network: NETWORK, asset: token }] });
  client.register(NETWORK, new BatchClient(toClientEvmSigner(account, pub), { depositPolicy: { depositMultiplier: 5 } }));
  return wrapFetchWithPayment(fetch, client);
}

before(async () => {
  assert.ok(RPC, "PAYWIRE_TEST_RPC is not set");
  ({ pub, token, balance, payer } = await batchChain(RPC, process.env.PAYWIRE_TEST_CONTRACTS));
  const facilitatorUrl = await startBatchFacilitator({ procs, work, pub, rpc: RPC, token, apiKey: API_KEY, payTo, authorizerKey });

  const auth = { Authorization: `Bearer ${API_KEY}` };
  facilitator = new HTTPFacilitatorClient({
    url: facilitatorUrl,
    createAuthHeaders: async () => ({ verify: auth, settle: auth, supported: auth }),
  });
  serverScheme = new BatchServer(payTo, { withdrawDelay: 900 });
  const resourceServer = new x402ResourceServer(facilitator).register(NETWORK, serverScheme);
  const app = express();
  app.use(
    paymentMiddleware(
      {
        "GET /weather": {
          accepts: {
            scheme: "batch-settlement",
            network: NETWORK,
            payTo,
            price: { amount: String(PRICE), asset: token, extra: { name: "USD Coin", version: "2" } },
          },
          description: "the weather, paid per request from a channel",
          mimeType: "application/json",
        },
      },
      resourceServer,
    ),
  );
  app.get("/weather", (_req, res) => res.json({ weather: "sunny", paidThrough: "a payment channel" }));
  await new Promise((resolve) => {
    server = app.listen(0, "127.0.0.1", resolve);
  });
  resourceUrl = `http://127.0.0.1:${server.address().port}/weather`;
});

after(async () => {
  server?.close();
  server?.closeAllConnections?.();
  await procs.stopAll();
  rmSync(work, { recursive: true, force: true });
});

describe("batch-settlement: the official resource server and client through paywire facilitator", () => {
  test("the offer names paywire facilitator's receiver authorizer", async () => {
    const res = await fetch(resourceUrl);
    assert.equal(res.status, 402);
    const offer = JSON.parse(Buffer.from(res.headers.get("payment-required"), "base64").toString("utf8"));
    const accept = offer.accepts[0];
    assert.equal(accept.scheme, "batch-settlement");
    assert.equal(accept.extra.receiverAuthorizer.toLowerCase(), authorizer.toLowerCase());
  });

  test("a deposit, vouchers, then claim, sweep and refund: each through paywire facilitator, balances exact", async () => {
    const account = await payer(1_000_000n);
    const pay = officialFetch(account);
    const bodies = [];
    for (let i = 0; i < 3; i++) {
      const res = await pay(resourceUrl);
      const body = await res.text();
      assert.equal(res.status, 200, `request ${i}: ${res.status} ${body}`);
      assert.match(body, /sunny/);
      bodies.push(body);
    }
    // The deposit the client sized moved into the contract (at least the three
    // requests); the vouchers move nothing yet.
    const deposited = 1_000_000n - (await balance(account.address));
    assert.ok(deposited >= 3n * PRICE, `the deposit: ${deposited}`);
    assert.equal(await balance(BATCH), deposited);
    assert.equal(await balance(payTo), 0n);

    const manager = new BatchSettlementChannelManager({ scheme: serverScheme, facilitator, receiver: payTo, token, network: NETWORK });
    const claimed = await manager.claimAndSettle();
    assert.equal(claimed.claims.length, 1, JSON.stringify(claimed));
    assert.ok(claimed.settle?.transaction, JSON.stringify(claimed));
    assert.equal(await balance(payTo), 3n * PRICE, "three requests paid to the receiver");
    assert.equal(await balance(BATCH), deposited - 3n * PRICE);

    const refunds = await manager.refund();
    assert.equal(refunds.length, 1, JSON.stringify(refunds));
    assert.equal(await balance(account.address), 1_000_000n - 3n * PRICE, "the rest refunded");
    assert.equal(await balance(BATCH), 0n);
  });
});
