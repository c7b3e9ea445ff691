// batch-settlement on EVM through this project's Rust paywall layer: the
// paywall example (an axum app behind paywire-server's paywall, the core's
// lifecycle) sells a `batch-settlement` route, settles through `paywire
// facilitator`, and is paid by the official TypeScript client (@x402/fetch
// with @x402/evm's batch-settlement client scheme), on a local Hardhat chain
// with the batch-settlement contract and its deposit collectors at their
// canonical addresses. The first request opens a channel with a deposit
// (verified, handled, settled, then committed), the next ones pay with
// vouchers checked by the paywall alone (no transaction); a fresh client of
// the same payer (its channel state lost) is corrected by the paywall's 402
// (`extra.channelState`, `extra.voucherState`) and pays on; the official
// client's cooperative refund goes through the paywall too (claim of what
// was charged and refund of the rest in one transaction); the receiver's
// claimed funds are then swept through the facilitator. Exact balances at
// each step.
//
// Run by scripts/test-settlement.sh: PAYWIRE_TEST_RPC,
// PAYWIRE_TEST_CONTRACTS, PAYWIRE_BIN, PAYWIRE_TEST_LAYER_BIN.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

import { x402Client } from "@x402/core/client";
import { decodePaymentResponseHeader, wrapFetchWithPayment } from "@x402/fetch";
import { toClientEvmSigner } from "@x402/evm";
import { BatchSettlementEvmScheme as BatchClient } from "@x402/evm/batch-settlement/client";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";

import { BATCH, NETWORK, batchChain, freePort, processes, startBatchFacilitator, waitFor } from "./support.mjs";

const RPC = process.env.PAYWIRE_TEST_RPC;
const API_KEY = "batch-paywall-resource-server-key-0123";
const PRICE = 1000n;

const work = mkdtempSync(join(tmpdir(), "paywire-batch-paywall-"));
const procs = processes();
let pub;
let balance;
let payer;
let token;
let facilitatorUrl;
let requirement;
let resourceUrl;
const payTo = privateKeyToAccount(generatePrivateKey()).address;
const authorizerKey = generatePrivateKey();
const authorizer = privateKeyToAccount(authorizerKey).address;

function officialClient(account) {
  const scheme = new BatchClient(toClientEvmSigner(account, pub), { depositPolicy: { depositMultiplier: 5 } });
  const client = new x402Client();
  client.setSpendControls({ allowedAssets: [{ network: NETWORK, asset: token }] });
  client.register(NETWORK, scheme);
  return { scheme, pay: wrapFetchWithPayment(fetch, client) };
}

/** `POST /settle` to paywire facilitator, as a resource server's channel manager does. */
async function settleAtFacilitator(payload) {
  const res = await fetch(`${facilitatorUrl}/settle`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${API_KEY}` },
    body: JSON.stringify({
      x402Version: 2,
      paymentPayload: { x402Version: 2, accepted: requirement, payload },
      paymentRequirements: requirement,
    }),
  });
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  return body;
}

before(async () => {
  assert.ok(RPC, "PAYWIRE_TEST_RPC is not set");
  assert.ok(process.env.PAYWIRE_TEST_LAYER_BIN, "PAYWIRE_TEST_LAYER_BIN is not set");
  ({ pub, token, balance, payer } = await batchChain(RPC, process.env.PAYWIRE_TEST_CONTRACTS));
  facilitatorUrl = await startBatchFacilitator({ procs, work, pub, rpc: RPC, token, apiKey: API_KEY, payTo, authorizerKey });

  // The Rust paywall layer selling GET /weather as batch-settlement.
  const shopPort = await freePort();
  resourceUrl = `http://127.0.0.1:${shopPort}/weather`;
  requirement = {
    scheme: "batch-settlement",
    network: NETWORK,
    amount: String(PRICE),
    asset: token,
    payTo,
    maxTimeoutSeconds: 300,
    extra: { receiverAuthorizer: authorizer, withdrawDelay: 900, name: "USD Coin", version: "2" },
  };
  const offer = {
    x402Version: 2,
    resource: { url: resourceUrl, description: "the weather, paid per request from a channel", mimeType: "application/json" },
    accepts: [requirement],
  };
  const shop = procs.start("the paywall example", process.env.PAYWIRE_TEST_LAYER_BIN, [], {
    FACILITATOR_URL: facilitatorUrl,
    FACILITATOR_API_KEY: API_KEY,
    PORT: String(shopPort),
    OFFER: JSON.stringify(offer),
    RUST_LOG: "info",
  });
  await waitFor(`http://127.0.0.1:${shopPort}/`, shop);
});

after(async () => {
  await procs.stopAll();
  rmSync(work, { recursive: true, force: true });
});

describe("batch-settlement: the Rust paywall layer paid by the official client through paywire facilitator", () => {
  test("the offer is the route's", async () => {
    const res = await fetch(resourceUrl);
    assert.equal(res.status, 402);
    const offer = JSON.parse(Buffer.from(res.headers.get("payment-required"), "base64").toString("utf8"));
    assert.equal(offer.accepts[0].scheme, "batch-settlement");
    assert.equal(offer.accepts[0].extra.receiverAuthorizer, authorizer);
  });

  test("a deposit, vouchers without a transaction, a corrective 402, a refund through the paywall, a sweep: balances exact", async (t) => {
    const START = 1_000_000n;
    const account = await payer(START);
    const { pay } = officialClient(account);
    const REQUESTS = 3;
    let deposited = 0n;
    for (let i = 0; i < REQUESTS; i++) {
      const blockBefore = await pub.getBlockNumber({ cacheTime: 0 });
      const res = await pay(resourceUrl);
      const body = await res.text();
      assert.equal(res.status, 200, `request ${i}: ${res.status} ${body}`);
      assert.match(body, /sunny/);
      const pr = decodePaymentResponseHeader(res.headers.get("payment-response"));
      assert.equal(pr.success, true);
      assert.equal(pr.extra.chargedAmount, String(PRICE));
      assert.equal(pr.extra.channelState.chargedCumulativeAmount, String(BigInt(i + 1) * PRICE), JSON.stringify(pr));
      const blockAfter = await pub.getBlockNumber({ cacheTime: 0 });
      if (i === 0) {
        // The deposit: one transaction, named in the payment response.
        assert.match(pr.transaction, /^0x[0-9a-f]{64}$/);
        assert.equal(blockAfter, blockBefore + 1n);
        deposited = START - (await balance(account.address));
        assert.ok(deposited >= BigInt(REQUESTS) * PRICE, `the deposit: ${deposited}`);
        assert.equal(pr.extra.channelState.balance, String(deposited));
      } else {
        // A voucher: checked by the paywall alone, nothing on chain.
        assert.equal(pr.transaction, "");
        assert.equal(blockAfter, blockBefore, `request ${i} sent a transaction`);
      }
    }
    assert.equal(await balance(account.address), START - deposited);
    assert.equal(await balance(BATCH), deposited);
    assert.equal(await balance(payTo), 0n);
    t.diagnostic(`after ${REQUESTS} requests: payer ${START - deposited}, contract ${deposited}, receiver 0`);

    // The same payer from a fresh client (its channel state lost): its voucher
    // starts from the wrong total, the paywall's corrective 402 carries the
    // channel's state and latest voucher, and the client signs on from them.
    const fresh = officialClient(account);
    const probe = await fetch(resourceUrl);
    await probe.body?.cancel();
    const blockBefore = await pub.getBlockNumber({ cacheTime: 0 });
    const seen = [];
    const watching = async (input, init) => {
      const res = await fetch(input, init);
      seen.push(res.status);
      if (res.status === 402) {
        const offer = JSON.parse(Buffer.from(res.headers.get("payment-required"), "base64").toString("utf8"));
        const { channelState, voucherState } = offer.accepts[0].extra;
        if (channelState) seen.push(`corrective: charged ${channelState.chargedCumulativeAmount}, signed ${voucherState.signedMaxClaimable}`);
      }
      return res;
    };
    const client = new x402Client();
    client.setSpendControls({ allowedAssets: [{ network: NETWORK, asset: token }] });
    client.register(NETWORK, fresh.scheme);
    const res = await wrapFetchWithPayment(watching, client)(resourceUrl);
    const body = await res.text();
    assert.equal(res.status, 200, `${res.status} ${body} ${JSON.stringify(seen)}`);
    const pr = decodePaymentResponseHeader(res.headers.get("payment-response"));
    t.diagnostic(`the fresh client's statuses: ${JSON.stringify(seen)}; charged ${pr.extra.channelState.chargedCumulativeAmount}`);
    const total = BigInt(REQUESTS + 1) * PRICE;
    const base = String(BigInt(REQUESTS) * PRICE);
    assert.deepEqual(seen, [402, 402, `corrective: charged ${base}, signed ${base}`, 200]);
    assert.equal(pr.extra.channelState.chargedCumulativeAmount, String(total));
    assert.equal(pr.transaction, "");
    assert.equal(await pub.getBlockNumber({ cacheTime: 0 }), blockBefore);
    assert.equal(await balance(BATCH), deposited);

    // The official client's cooperative refund, through the paywall: what was
    // charged is claimed for the receiver, the rest goes back to the payer.
    const refunded = await fresh.scheme.refund(resourceUrl);
    assert.equal(refunded.success, true, JSON.stringify(refunded));
    const charged = BigInt(REQUESTS + 1) * PRICE;
    assert.equal(await balance(account.address), START - charged, "the rest refunded");
    assert.equal(await balance(BATCH), charged, "the charged amount, claimed for the receiver");
    assert.equal(await balance(payTo), 0n);
    t.diagnostic(`after the refund: payer ${START - charged}, contract ${charged}, receiver 0`);

    // The receiver's claimed funds swept to it through the facilitator.
    const swept = await settleAtFacilitator({ type: "settle", receiver: payTo, token });
    assert.equal(swept.success, true, JSON.stringify(swept));
    assert.equal(await balance(payTo), charged);
    assert.equal(await balance(BATCH), 0n);
    assert.equal(await balance(account.address), START - charged);
    t.diagnostic(`after the sweep: payer ${START - charged}, contract 0, receiver ${charged}`);
  });
});
