// Interoperability of `paywire facilitator` with the official x402 SDKs, on a
// local Hardhat chain: resource servers and clients that are not this
// project's pay through it end to end, and the token balances move by the
// price exactly.
//
//   1. the official TypeScript resource server (@x402/express 2.27, its
//      HTTPFacilitatorClient with a bearer key) and the official client
//      (@x402/fetch);
//   2. the same resource server and the official Python client (PyPI x402
//      2.25, httpx);
//   3. `paywire serve --facilitator` paid by the official TypeScript client;
//   4. the example Worker (x402-wasm, in workerd) with FACILITATOR_URL, paid
//      by the official TypeScript client (when the wasm package is built);
//   5. an axum app behind paywire-server's paywall layer
//      (x402-server/examples/paywall.rs), paid by the official TypeScript
//      client;
//   6. a FastAPI app behind the Python package's paywall (python_shop.py,
//      under uvicorn), paid by the official TypeScript client;
//   7. a net/http server behind the Go package's paywall (go-shop), paid by
//      the official TypeScript client;
//   8. paid MCP tools: the npm package's paying client (paywire/mcp) paying a
//      tool of Cloudflare's agents (withX402), and Cloudflare's client
//      (withX402Client) paying the npm package's paid tool (when the wasm
//      package is built);
//   9. the npm package's paying client (paywire/fetch with the full flavour
//      and `rpcUrl`) paying the official resource server's Permit2 route that
//      declares eip2612GasSponsoring, from a payer with neither a Permit2
//      allowance nor ether: the permit it signs is sent with the settlement
//      (when the wasm package is built).
//
// Run by scripts/test-interop.sh (called from scripts/test-settlement.sh):
//   PAYWIRE_TEST_RPC, PAYWIRE_TEST_CONTRACTS (the chain), PAYWIRE_BIN (the
//   `paywire` binary), PAYWIRE_TEST_PYTHON (a Python with requirements.txt),
//   PAYWIRE_TEST_WORKERD (workerd; empty: part 4 is not run),
//   PAYWIRE_TEST_LAYER_BIN (the paywall example's binary),
//   PAYWIRE_TEST_SHOP_PYTHON (a Python with FastAPI and uvicorn) and
//   PAYWIRE_LIB (libpaywire, for the Python package from the checkout),
//   PAYWIRE_TEST_GO_SHOP (the Go shop's binary), PAYWIRE_TEST_WASM_PKG (the
//   npm package's directory; empty: part 8 is not run).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { after, before, describe, test } from "node:test";

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { withX402, withX402Client } from "agents/x402";
import express from "express";
import { z } from "zod";
import { paymentMiddleware, x402ResourceServer } from "@x402/express";
import { HTTPFacilitatorClient } from "@x402/core/server";
import { x402Client } from "@x402/core/client";
import { decodePaymentResponseHeader, wrapFetchWithPayment } from "@x402/fetch";
import { ExactEvmScheme } from "@x402/evm/exact/server";
import { declareEip2612GasSponsoringExtension } from "@x402/extensions";
import { registerExactEvmScheme } from "@x402/evm/exact/client";
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

import { freePort, processes, secretsIn, waitFor } from "./support.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..", "..");
const RPC = process.env.PAYWIRE_TEST_RPC;
const NETWORK = "eip155:31337";
const TOKEN_NAME = "USD Coin";
const TOKEN_VERSION = "2";
const API_KEY = "interop-resource-server-key-0123456789";

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

const work = mkdtempSync(join(tmpdir(), "paywire-interop-"));
const { children, start } = processes();
const secret = secretsIn(work);
let token;
const payTo = privateKeyToAccount(generatePrivateKey()).address;

const balance = (owner) => pub.readContract({ address: token, abi: tokenAbi, functionName: "balanceOf", args: [owner] });

/** A funded payer: a fresh key with 10^9 of the token. */
async function payer() {
  const key = generatePrivateKey();
  const account = privateKeyToAccount(key);
  const [minter] = await pub.request({ method: "eth_accounts", params: [] });
  const wallet = createWalletClient({ account: minter, chain, transport: viemHttp(RPC) });
  const hash = await wallet.sendTransaction({
    to: token,
    data: encodeFunctionData({ abi: tokenAbi, functionName: "mint", args: [account.address, 10n ** 9n] }),
  });
  await pub.waitForTransactionReceipt({ hash });
  return { account, key };
}

/** Runs a command to its end (bounded), and gives its standard output. */
function run(name, cmd, args, env, ms = 120_000) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    const t = setTimeout(() => child.kill("SIGKILL"), ms);
    child.on("exit", (code, signal) => {
      clearTimeout(t);
      if (code === 0) resolve(out);
      else reject(new Error(`${name} exited ${code ?? signal}:\n${out}${err}`));
    });
  });
}

/** The official TypeScript client, allowed to spend the test token. */
function officialFetch(account) {
  const client = new x402Client();
  client.setSpendControls({ allowedAssets: [{ network: NETWORK, asset: token }] });
  registerExactEvmScheme(client, { signer: account });
  return wrapFetchWithPayment(fetch, client);
}

/**
 * Checks a paid answer: 200, PAYMENT-RESPONSE names a mined, successful
 * transaction from `payer`, and both balances moved by `price` exactly.
 */
async function assertPaid({ status, body, paymentResponse }, payerAddress, before, price, content) {
  assert.equal(status, 200, `paid request answered ${status}: ${body}`);
  assert.match(body, content);
  assert.ok(paymentResponse, "PAYMENT-RESPONSE is missing");
  const settled = decodePaymentResponseHeader(paymentResponse);
  assert.equal(settled.success, true, JSON.stringify(settled));
  assert.equal(settled.network, NETWORK);
  assert.equal(settled.payer.toLowerCase(), payerAddress.toLowerCase());
  const receipt = await pub.getTransactionReceipt({ hash: settled.transaction });
  assert.equal(receipt.status, "success");
  assert.equal(receipt.to.toLowerCase(), token.toLowerCase());
  assert.equal(await balance(payerAddress), before.payer - price, "the payer's balance");
  assert.equal(await balance(payTo), before.payTo + price, "the seller's balance");
  return settled;
}

const snapshot = async (account) => ({ payer: await balance(account.address), payTo: await balance(payTo) });

let facilitatorUrl;
let resourceUrl;
const PRICE = 1234n;
const PERMIT2_PRICE = 3456n;
const PERMIT2 = "0x000000000022D473030F116dDEE9F6B43aC78BA3";
const EXACT_PERMIT2_PROXY = "0x402085c248EeA27D92E8b30b2C58ed07f9E20001";
let server;

before(async () => {
  assert.ok(RPC, "PAYWIRE_TEST_RPC is not set");
  await pub.request({ method: "evm_setAutomine", params: [true] });
  // The token: the tests' EIP-3009 token, deployed with USDC's EIP-712 name.
  const artifacts = JSON.parse(readFileSync(process.env.PAYWIRE_TEST_CONTRACTS, "utf8"));
  const [minter] = await pub.request({ method: "eth_accounts", params: [] });
  const wallet = createWalletClient({ account: minter, chain, transport: viemHttp(RPC) });
  const init =
    artifacts.contracts.Eip3009Token.bytecode +
    encodeAbiParameters(
      [{ type: "string" }, { type: "string" }, { type: "string" }],
      [TOKEN_NAME, TOKEN_VERSION, "USDC"],
    ).slice(2);
  const hash = await wallet.sendTransaction({ data: init, gas: 5_000_000n });
  token = (await pub.waitForTransactionReceipt({ hash })).contractAddress;
  // Permit2 and the exact Permit2 proxy at their canonical addresses.
  for (const [address, name] of [
    [PERMIT2, "Permit2SignatureTransfer"],
    [EXACT_PERMIT2_PROXY, "X402ExactPermit2Proxy"],
  ]) {
    await pub.request({ method: "hardhat_setCode", params: [address, artifacts.contracts[name].deployedBytecode] });
  }

  // paywire facilitator: one signer with gas, an API key for the resource servers.
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
    `[[signers]]`,
    `name = "gas"`,
    `key_file = "${secret("signer.key", signerKey)}"`,
    `[[networks]]`,
    `id = "${NETWORK}"`,
    `rpc = ["${RPC}"]`,
    `schemes = ["exact-eip3009", "exact-permit2"]`,
    `signers = ["gas"]`,
    `assets = ["${token}"]`,
  ].join("\n");
  writeFileSync(join(work, "facilitator.toml"), toml);
  const fac = start("paywire facilitator", process.env.PAYWIRE_BIN, ["facilitator", "--config", join(work, "facilitator.toml")], {
    RUST_LOG: "info",
  });
  await waitFor(`${facilitatorUrl}/health`, fac);

  // The official resource server: @x402/express with the HTTP facilitator client.
  const auth = { Authorization: `Bearer ${API_KEY}` };
  const facilitator = new HTTPFacilitatorClient({
    url: facilitatorUrl,
    createAuthHeaders: async () => ({ verify: auth, settle: auth, supported: auth }),
  });
  const resourceServer = new x402ResourceServer(facilitator).register(NETWORK, new ExactEvmScheme());
  const app = express();
  app.use(
    paymentMiddleware(
      {
        "GET /weather": {
          accepts: {
            scheme: "exact",
            network: NETWORK,
            payTo,
            price: { amount: String(PRICE), asset: token, extra: { name: TOKEN_NAME, version: TOKEN_VERSION } },
          },
          description: "the weather, paid through paywire facilitator",
          mimeType: "application/json",
        },
        // Paid through Permit2; a payer without the allowance may send an
        // EIP-2612 permit with the payment, which the facilitator sends first.
        "GET /permit2/weather": {
          accepts: {
            scheme: "exact",
            network: NETWORK,
            payTo,
            price: {
              amount: String(PERMIT2_PRICE),
              asset: token,
              extra: { name: TOKEN_NAME, version: TOKEN_VERSION, assetTransferMethod: "permit2" },
            },
          },
          description: "the weather, paid through Permit2",
          mimeType: "application/json",
          extensions: declareEip2612GasSponsoringExtension(),
        },
      },
      resourceServer,
    ),
  );
  app.get("/weather", (_req, res) => res.json({ weather: "sunny", paidThrough: "paywire facilitator" }));
  app.get("/permit2/weather", (_req, res) => res.json({ weather: "sunny", paidThrough: "Permit2" }));
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

describe("the official resource server (@x402/express 2.27) settling through paywire facilitator", () => {
  test("unpaid: 402 with the offer the resource server built from the facilitator's /supported", async () => {
    const res = await fetch(resourceUrl);
    assert.equal(res.status, 402);
    const offer = JSON.parse(Buffer.from(res.headers.get("payment-required"), "base64").toString("utf8"));
    assert.equal(offer.accepts[0].network, NETWORK);
    assert.equal(offer.accepts[0].amount, String(PRICE));
    assert.equal(offer.accepts[0].asset.toLowerCase(), token.toLowerCase());
  });

  test("the official TypeScript client (@x402/fetch) pays: settled on chain, balances exact", async () => {
    const { account } = await payer();
    const before = await snapshot(account);
    const res = await officialFetch(account)(resourceUrl);
    const body = await res.text();
    await assertPaid(
      { status: res.status, body, paymentResponse: res.headers.get("payment-response") },
      account.address,
      before,
      PRICE,
      /sunny/,
    );
  });

  test("the official Python client (x402 2.25, httpx) pays: settled on chain, balances exact", async () => {
    const { account, key } = await payer();
    const before = await snapshot(account);
    const out = await run("the Python client", process.env.PAYWIRE_TEST_PYTHON, [join(here, "client.py"), resourceUrl, NETWORK, token], {
      PAYWIRE_TEST_PAYER_KEY: key,
    });
    await assertPaid(JSON.parse(out.trim().split("\n").pop()), account.address, before, PRICE, /sunny/);
  });
});

/** `paywire serve` selling /report through the facilitator; its URL. */
async function serve(keyArgs) {
  const port = await freePort();
  const proc = start(
    "paywire serve",
    process.env.PAYWIRE_BIN,
    [
      "serve",
      "--pay-to", payTo,
      "--price", "0.002500",
      "--network", NETWORK,
      "--asset", token,
      "--asset-name", TOKEN_NAME,
      "--asset-version", TOKEN_VERSION,
      "--facilitator", facilitatorUrl,
      ...keyArgs,
      "--port", String(port),
      "--path", "/report",
      "--content", '{"report":"paid through paywire facilitator"}',
    ],
    { PAYWIRE_FACILITATOR_KEY: "" },
  );
  const url = `http://127.0.0.1:${port}/report`;
  await waitFor(url, proc);
  return url;
}

describe("paywire serve --facilitator, paid by the official TypeScript client", () => {
  let url;
  before(async () => {
    url = await serve(["--facilitator-key-file", join(work, "api.key")]);
  });

  test("without the facilitator's API key: refused before anything is sent, nothing charged, no content", async () => {
    const unkeyed = await serve([]);
    const { account } = await payer();
    const before = await snapshot(account);
    const res = await officialFetch(account)(unkeyed);
    const body = await res.text();
    assert.equal(res.status, 502, body);
    assert.doesNotMatch(body, /paid through/);
    assert.equal(await balance(account.address), before.payer);
    assert.equal(await balance(payTo), before.payTo);
  });

  test("settled on chain through the facilitator, balances exact", async () => {
    const { account } = await payer();
    const before = await snapshot(account);
    const res = await officialFetch(account)(url);
    const body = await res.text();
    await assertPaid(
      { status: res.status, body, paymentResponse: res.headers.get("payment-response") },
      account.address,
      before,
      2500n,
      /paid through paywire facilitator/,
    );
  });

  test("the same payment presented again: never a second settlement", async () => {
    const { account } = await payer();
    const before = await snapshot(account);
    // The official client's payment, captured and sent twice by hand.
    const client = new x402Client();
    client.setSpendControls({ allowedAssets: [{ network: NETWORK, asset: token }] });
    registerExactEvmScheme(client, { signer: account });
    const offer = JSON.parse(Buffer.from((await fetch(url)).headers.get("payment-required"), "base64").toString("utf8"));
    const payload = await client.createPaymentPayload(offer);
    const header = Buffer.from(JSON.stringify(payload)).toString("base64");
    const first = await fetch(url, { headers: { "PAYMENT-SIGNATURE": header } });
    assert.equal(first.status, 200, await first.text());
    const again = await fetch(url, { headers: { "PAYMENT-SIGNATURE": header } });
    await again.body?.cancel();
    assert.notEqual(again.status, 200);
    assert.notEqual(again.status, 402, "a presented payment is never answered with an invitation to pay again");
    assert.equal(await balance(account.address), before.payer - 2500n, "charged once");
  });
});

const workerd = process.env.PAYWIRE_TEST_WORKERD;
describe("the example Worker (workerd) with FACILITATOR_URL, paid by the official TypeScript client", {
  skip: !workerd && "PAYWIRE_TEST_WORKERD is not set (the wasm package's tools are not installed)",
}, () => {
  let url;
  before(async () => {
    const port = await freePort();
    const state = join(work, "worker-state");
    mkdirSync(state);
    const proc = start(
      "workerd",
      workerd,
      ["serve", "config.capnp", "--socket-addr", `http=127.0.0.1:${port}`, "--directory-path", `payments-disk=${state}`],
      {
        PAY_TO: payTo,
        NETWORK,
        ASSET: token,
        PRICE: "3100",
        TOKEN_NAME,
        TOKEN_VERSION,
        FACILITATOR_URL: facilitatorUrl,
        FACILITATOR_API_KEY: API_KEY,
      },
      { cwd: join(root, "x402-wasm", "examples", "worker") },
    );
    url = `http://127.0.0.1:${port}/premium`;
    await waitFor(url, proc, 120_000);
  });

  test("settled on chain through the facilitator, balances exact", async () => {
    const { account } = await payer();
    const before = await snapshot(account);
    const res = await officialFetch(account)(url);
    const body = await res.text();
    await assertPaid(
      { status: res.status, body, paymentResponse: res.headers.get("payment-response") },
      account.address,
      before,
      3100n,
      /./,
    );
  });
});

const wasmPkg = process.env.PAYWIRE_TEST_WASM_PKG;
describe("paid MCP tools through paywire facilitator: this package's and Cloudflare's (agents 0.32)", {
  skip: !wasmPkg && "PAYWIRE_TEST_WASM_PKG is not set (the wasm package's tools are not installed)",
}, () => {
  let mcp;
  let paywire;
  before(async () => {
    paywire = await import(pathToFileURL(join(wasmPkg, "full", "node.mjs")).href);
    mcp = await import(pathToFileURL(join(wasmPkg, "mcp.mjs")).href);
  });
  const forecast = async ({ city }) => ({ content: [{ type: "text", text: `sunny in ${city}` }] });
  const connected = async (server) => {
    const [a, b] = InMemoryTransport.createLinkedPair();
    await server.connect(a);
    const client = new Client({ name: "interop", version: "1.0.0" });
    await client.connect(b);
    return client;
  };
  /** The receipt names a mined transfer from the payer, and both balances moved by `price`. */
  const assertSettled = async (result, account, before, price) => {
    assert.equal(result.content?.[0]?.text, "sunny in Lisbon", JSON.stringify(result));
    const receipt = result._meta["x402/payment-response"];
    assert.equal(receipt.success, true);
    assert.equal(receipt.network, NETWORK);
    const mined = await pub.getTransactionReceipt({ hash: receipt.transaction });
    assert.equal(mined.status, "success");
    assert.equal(mined.to.toLowerCase(), token.toLowerCase());
    assert.equal(await balance(account.address), before.payer - price, "the payer's balance");
    assert.equal(await balance(payTo), before.payTo + price, "the seller's balance");
  };

  test("paywire's paying client pays Cloudflare's paid tool: settled on chain, balances exact", async () => {
    const server = new McpServer({ name: "cloudflare-tool", version: "1.0.0" });
    const auth = { Authorization: `Bearer ${API_KEY}` };
    withX402(server, {
      network: NETWORK,
      recipient: payTo,
      facilitator: { url: facilitatorUrl, createAuthHeaders: async () => ({ verify: auth, settle: auth, supported: auth }) },
    }).paidTool("forecast", "Tomorrow's weather", { amount: "2700", asset: token, extra: { name: TOKEN_NAME, version: TOKEN_VERSION } },
      { city: z.string() }, {}, forecast);
    const client = await connected(server);
    try {
      const { account, key } = await payer();
      const before = await snapshot(account);
      const paying = mcp.payingClient(client, { x402: paywire, privateKey: key, policy: { maxAmount: "2700", networks: [NETWORK] } });
      await assertSettled(await paying.callTool({ name: "forecast", arguments: { city: "Lisbon" } }), account, before, 2700n);
    } finally {
      await client.close();
    }
  });

  test("Cloudflare's paying client pays paywire's paid tool: settled on chain, balances exact", async () => {
    const server = new McpServer({ name: "paywire-tool", version: "1.0.0" });
    mcp.paidTools(paywire, server, {
      records: new (await import(pathToFileURL(join(wasmPkg, "paywall.mjs")).href)).MemoryRecords(),
      facilitator: { url: facilitatorUrl, apiKey: API_KEY },
    }).tool("forecast", { description: "Tomorrow's weather", inputSchema: { city: z.string() } }, {
      scheme: "exact", network: NETWORK, amount: "2800", asset: token, payTo,
      maxTimeoutSeconds: 300, extra: { name: TOKEN_NAME, version: TOKEN_VERSION },
    }, forecast);
    const client = await connected(server);
    try {
      const { account } = await payer();
      const before = await snapshot(account);
      const paying = withX402Client(client, { account, network: NETWORK, maxPaymentValue: 2800n });
      // Cloudflare's client keeps the official client's default spend
      // controls (the networks' USDC only) and takes none: the test token is
      // allowed as a user of the official client allows a token
      // (setSpendControls), on the instance it creates.
      const create = x402Client.prototype.createPaymentPayload;
      x402Client.prototype.createPaymentPayload = function (...args) {
        this.setSpendControls({ allowedAssets: [{ network: NETWORK, asset: token }] });
        return create.apply(this, args);
      };
      try {
        await assertSettled(await paying.callTool(null, { name: "forecast", arguments: { city: "Lisbon" } }), account, before, 2800n);
      } finally {
        x402Client.prototype.createPaymentPayload = create;
      }
    } finally {
      await client.close();
    }
  });
});

describe("paywire's paying client (full flavour, rpcUrl) paying the official server's Permit2 route with an EIP-2612 permit", {
  skip: !wasmPkg && "PAYWIRE_TEST_WASM_PKG is not set (the wasm package's tools are not installed)",
}, () => {
  let full;
  let wrapFetch;
  let url;
  const allowanceAbi = parseAbi([
    "function allowance(address owner, address spender) view returns (uint256)",
    "function nonces(address owner) view returns (uint256)",
  ]);
  const allowance = (owner) => pub.readContract({ address: token, abi: allowanceAbi, functionName: "allowance", args: [owner, PERMIT2] });
  const permitNonce = (owner) => pub.readContract({ address: token, abi: allowanceAbi, functionName: "nonces", args: [owner] });
  const policy = { maxAmount: String(PERMIT2_PRICE), networks: [NETWORK] };
  before(async () => {
    full = await import(pathToFileURL(join(wasmPkg, "full", "node.mjs")).href);
    ({ wrapFetch } = await import(pathToFileURL(join(wasmPkg, "fetch.mjs")).href));
    url = resourceUrl.replace(/\/weather$/, "/permit2/weather");
  });

  /** The answer was paid through the exact Permit2 proxy: 200, and the mined transaction's facts. */
  async function settledThroughPermit2(res, account) {
    const body = await res.text();
    assert.equal(res.status, 200, `answered ${res.status}: ${body}`);
    assert.match(body, /Permit2/);
    const settled = decodePaymentResponseHeader(res.headers.get("payment-response"));
    assert.equal(settled.success, true, JSON.stringify(settled));
    assert.equal(settled.payer.toLowerCase(), account.address.toLowerCase());
    const receipt = await pub.getTransactionReceipt({ hash: settled.transaction });
    assert.equal(receipt.status, "success");
    assert.equal(receipt.to.toLowerCase(), EXACT_PERMIT2_PROXY.toLowerCase());
    return receipt;
  }

  test("without rpcUrl: no permit, the facilitator finds no allowance, nothing is charged", async () => {
    const { account, key } = await payer();
    const before = await snapshot(account);
    const pay = wrapFetch(fetch, { x402: full, privateKey: key, policy });
    // The official server answers the facilitator's verdict with 412 (its
    // client would then attach a permit); paywire's client does not pay again.
    const res = await pay(url);
    assert.equal(res.status, 412, await res.text());
    const refused = JSON.parse(Buffer.from(res.headers.get("payment-required"), "base64").toString());
    assert.equal(refused.error, "permit2_allowance_required");
    assert.deepEqual(await snapshot(account), before);
    assert.equal(await allowance(account.address), 0n);
  });

  test("with rpcUrl: the permit is sent with the settlement, balances exact, no gas paid by the payer", async () => {
    const { account, key } = await payer();
    assert.equal(await pub.getBalance({ address: account.address }), 0n, "the payer has no ether");
    assert.equal(await allowance(account.address), 0n);
    const before = await snapshot(account);
    const pay = wrapFetch(fetch, { x402: full, privateKey: key, policy, rpcUrl: { [NETWORK]: RPC } });
    await settledThroughPermit2(await pay(url), account);
    assert.equal(await balance(account.address), before.payer - PERMIT2_PRICE, "the payer's balance");
    assert.equal(await balance(payTo), before.payTo + PERMIT2_PRICE, "the seller's balance");
    // The permit was used (the token's nonce moved); it allowed Permit2 the
    // price, as the official client's permit does, which the transfer spent.
    assert.equal(await permitNonce(account.address), 1n);
    assert.equal(await allowance(account.address), 0n);
    assert.equal(await pub.getBalance({ address: account.address }), 0n, "the payer paid no gas");
    // Again: no allowance, so the next payment carries the next permit.
    await settledThroughPermit2(await pay(url), account);
    assert.equal(await balance(account.address), before.payer - 2n * PERMIT2_PRICE);
    assert.equal(await balance(payTo), before.payTo + 2n * PERMIT2_PRICE);
    assert.equal(await permitNonce(account.address), 2n);
  });
});

/**
 * A shop in another stack, serving `GET /weather` for `price` behind its own
 * paywall through paywire facilitator, paid by the official TypeScript client.
 */
function shopPaidByTheOfficialClient(title, command, args, env, price, content) {
  describe(title, () => {
    let url;
    before(async () => {
      const port = await freePort();
      const proc = start(title, command(), args(port), {
        PAY_TO: payTo,
        NETWORK,
        ASSET: token,
        PRICE: String(price),
        TOKEN_NAME,
        TOKEN_VERSION,
        FACILITATOR_URL: facilitatorUrl,
        FACILITATOR_API_KEY: API_KEY,
        PORT: String(port),
        ...env,
      });
      url = `http://127.0.0.1:${port}/weather`;
      await waitFor(url, proc);
    });

    test("settled on chain through the facilitator, balances exact", async () => {
      const { account } = await payer();
      const before = await snapshot(account);
      const res = await officialFetch(account)(url);
      const body = await res.text();
      await assertPaid(
        { status: res.status, body, paymentResponse: res.headers.get("payment-response") },
        account.address,
        before,
        BigInt(price),
        content,
      );
    });
  });
}

shopPaidByTheOfficialClient(
  "an axum app behind paywire-server's paywall layer, paid by the official TypeScript client",
  () => process.env.PAYWIRE_TEST_LAYER_BIN,
  () => [],
  {},
  4200,
  /sunny/,
);

shopPaidByTheOfficialClient(
  "a FastAPI app behind the Python package's paywall, paid by the official TypeScript client",
  () => process.env.PAYWIRE_TEST_SHOP_PYTHON,
  (port) => ["-m", "uvicorn", "python_shop:app", "--host", "127.0.0.1", "--port", String(port), "--log-level", "warning"],
  { PYTHONPATH: [here, join(root, "x402-ffi", "python")].join(":") },
  5100,
  /the Python paywall/,
);

shopPaidByTheOfficialClient(
  "a net/http server behind the Go package's paywall, paid by the official TypeScript client",
  () => process.env.PAYWIRE_TEST_GO_SHOP,
  () => [],
  {},
  5300,
  /the Go paywall/,
);
