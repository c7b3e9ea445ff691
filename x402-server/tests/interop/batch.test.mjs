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
import { spawn } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
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
import {
  createPublicClient,
  createWalletClient,
  defineChain,
  encodeAbiParameters,
  encodeFunctionData,
  http as viemHttp,
  parseAbi,
} from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";

const RPC = process.env.PAYWIRE_TEST_RPC;
const NETWORK = "eip155:31337";
const API_KEY = "batch-interop-resource-server-key-0123";
const PRICE = 1000n;
const BATCH = "0x4020074e9dF2ce1deE5A9C1b5c3f541D02a10003";
const ERC3009_COLLECTOR = "0x4020806089470a89826cB9fB1f4059150b550004";
const PERMIT2_COLLECTOR = "0x4020425FAf3B746C082C2f942b4E5159887B0005";

const chain = defineChain({
  id: 31337,
  name: "hardhat",
  nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
  rpcUrls: { default: { http: [RPC] } },
});
const pub = createPublicClient({ chain, transport: viemHttp(RPC) });
const tokenAbi = parseAbi([
  "function mint(address to, uint256 value)",
  "function balanceOf(address) view returns (uint256)",
]);
const work = mkdtempSync(join(tmpdir(), "paywire-batch-interop-"));
const children = [];
let token;
let facilitatorUrl;
let facilitator;
let server;
let serverScheme;
let resourceUrl;
const payTo = privateKeyToAccount(generatePrivateKey()).address;
const authorizerKey = generatePrivateKey();
const authorizer = privateKeyToAccount(authorizerKey).address;

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function start(name, cmd, args, env) {
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  child.stdout.on("data", (d) => (log += d));
  child.stderr.on("data", (d) => (log += d));
  const proc = { name, child, log: () => log };
  children.push(proc);
  return proc;
}

async function waitFor(url, proc, ms = 60_000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (proc.child.exitCode !== null) throw new Error(`${proc.name} exited (${proc.child.exitCode}):\n${proc.log()}`);
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await r.body?.cancel();
      return;
    } catch {}
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${proc.name} did not answer ${url}:\n${proc.log()}`);
}

function secret(name, text) {
  const p = join(work, name);
  writeFileSync(p, text);
  chmodSync(p, 0o600);
  return p;
}

const balance = (owner) => pub.readContract({ address: token, abi: tokenAbi, functionName: "balanceOf", args: [owner] });

async function payer(amount) {
  const account = privateKeyToAccount(generatePrivateKey());
  const [minter] = await pub.request({ method: "eth_accounts", params: [] });
  const wallet = createWalletClient({ account: minter, chain, transport: viemHttp(RPC) });
  const hash = await wallet.sendTransaction({
    to: token,
    data: encodeFunctionData({ abi: tokenAbi, functionName: "mint", args: [account.address, amount] }),
  });
  await pub.waitForTransactionReceipt({ hash });
  return account;
}

function officialFetch(account) {
  const client = new x402Client();
  client.setSpendControls({ allowedAssets: [{ network: NETWORK, asset: token }] });
  client.register(NETWORK, new BatchClient(toClientEvmSigner(account, pub), { depositPolicy: { depositMultiplier: 5 } }));
  return wrapFetchWithPayment(fetch, client);
}

before(async () => {
  assert.ok(RPC, "PAYWIRE_TEST_RPC is not set");
  await pub.request({ method: "evm_setAutomine", params: [true] });
  const artifacts = JSON.parse(readFileSync(process.env.PAYWIRE_TEST_CONTRACTS, "utf8"));
  const [minter] = await pub.request({ method: "eth_accounts", params: [] });
  const wallet = createWalletClient({ account: minter, chain, transport: viemHttp(RPC) });
  const init =
    artifacts.contracts.Eip3009Token.bytecode +
    encodeAbiParameters([{ type: "string" }, { type: "string" }, { type: "string" }], ["USD Coin", "2", "USDC"]).slice(2);
  const hash = await wallet.sendTransaction({ data: init, gas: 5_000_000n });
  token = (await pub.waitForTransactionReceipt({ hash })).contractAddress;
  for (const [address, name] of [
    [BATCH, "X402BatchSettlement"],
    [ERC3009_COLLECTOR, "Erc3009DepositCollector"],
    [PERMIT2_COLLECTOR, "Permit2DepositCollector"],
  ]) {
    await pub.request({ method: "hardhat_setCode", params: [address, artifacts.contracts[name].deployedBytecode] });
  }

  // paywire facilitator: a signer with gas, and the receiver authorizer.
  const signerKey = generatePrivateKey();
  await pub.request({ method: "hardhat_setBalance", params: [privateKeyToAccount(signerKey).address, "0x56bc75e2d63100000"] });
  const port = await freePort();
  facilitatorUrl = `http://127.0.0.1:${port}`;
  const toml = [
    `[server]`,
    `listen = "127.0.0.1:${port}"`,
    `[store]`,
    `url = "sqlite://${join(work, "facilitator.db")}"`,
    `[[access.keys]]`,
    `name = "resource-servers"`,
    `key_file = "${secret("api.key", API_KEY)}"`,
    `pay_to = ["${payTo}"]`,
    `[[signers]]`,
    `name = "gas"`,
    `key_file = "${secret("signer.key", signerKey)}"`,
    `[[signers]]`,
    `name = "authorizer"`,
    `key_file = "${secret("authorizer.key", authorizerKey)}"`,
    `[[networks]]`,
    `id = "${NETWORK}"`,
    `rpc = ["${RPC}"]`,
    `schemes = ["batch-settlement"]`,
    `signers = ["gas"]`,
    `assets = ["${token}"]`,
    `receiver_authorizer = "authorizer"`,
  ].join("\n");
  writeFileSync(join(work, "facilitator.toml"), toml);
  const fac = start("paywire facilitator", process.env.PAYWIRE_BIN, ["facilitator", "--config", join(work, "facilitator.toml")], {
    RUST_LOG: "info",
  });
  await waitFor(`${facilitatorUrl}/health`, fac);

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
  for (const p of children) {
    if (p.child.exitCode === null) {
      p.child.kill("SIGTERM");
      await new Promise((r) => {
        const t = setTimeout(() => {
          p.child.kill("SIGKILL");
          r();
        }, 10_000);
        p.child.on("exit", () => {
          clearTimeout(t);
          r();
        });
      });
    }
  }
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
