// Paid MCP tools (paywire/mcp) against the facilitator double:
// - the interop matrix: this package's paying client and Cloudflare's
//   (agents 0.32, withX402Client) × this package's paid tool and Cloudflare's
//   (withX402 + paidTool) × stdio and Streamable HTTP, compared by meaning:
//   what was asked, what was paid, what was settled;
// - every row of the facilitator-failure table (x402-core/tests/vectors/paywall.json)
//   as MCP answers: never the tool's result unless settled, never an
//   invitation to pay again when the payment may have settled;
// - one payment sent with 20 concurrent calls: one settlement, one result;
// - a paid tool in a Worker (workerd), its records in a Durable Object.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { withX402Client } from "agents/x402";
import { privateKeyToAccount } from "viem/accounts";
import { z } from "zod";
import * as x402 from "paywire/full";
import { PaymentPolicyError, PaymentRefusedError, PaymentUncertainError, paidTools, paymentRequiredOf, payingClient } from "paywire/mcp";
import { MemoryRecords } from "paywire/paywall";

import { startProcess, vectors } from "../lib/harness.mjs";
import { SETTLED, modeOf, startBundledWorker, startFacilitator } from "../paywall/doubles.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const NETWORK = "eip155:84532";
const USDC = "0x036CbD53842c5426634e7929541eC2318f3dCF7e";
const PAY_TO = "0x209693Bc6afc0C5328bA36FaF03C514EF312287C";
const PRICE = "10000";
const PAYER_KEY = "0x" + "6c".repeat(32);
const PAYER = privateKeyToAccount(PAYER_KEY).address;
const POLICY = { maxAmount: PRICE, networks: [NETWORK] };
const REQUIREMENT = {
  scheme: "exact",
  network: NETWORK,
  amount: PRICE,
  asset: USDC,
  payTo: PAY_TO,
  maxTimeoutSeconds: 300,
  extra: { name: "USDC", version: "2" },
};
const serverEnv = (facilitator) => ({
  NETWORK,
  PRICE,
  ASSET: USDC,
  PAY_TO,
  TOKEN_NAME: "USDC",
  TOKEN_VERSION: "2",
  FACILITATOR_URL: facilitator.url,
  SETTLE_TIMEOUT_SECONDS: "2",
});

/** A client connected to a server process of `kind` over `transport`; `close()` stops both. */
async function connect(kind, transport, facilitator) {
  const client = new Client({ name: "paywire-tests", version: "1.0.0" });
  if (transport === "stdio") {
    const t = new StdioClientTransport({
      command: process.execPath,
      args: [join(here, "server.mjs"), kind, "stdio"],
      env: { ...process.env, ...serverEnv(facilitator) },
      stderr: "pipe",
    });
    await client.connect(t);
    return { client, close: () => client.close() };
  }
  const proc = startProcess(process.execPath, [join(here, "server.mjs"), kind, "http"], {
    env: serverEnv(facilitator),
    timeoutMs: 120_000,
  });
  const deadline = Date.now() + 20_000;
  let port;
  while (!(port = /listening (\d+)/.exec(proc.err)?.[1])) {
    if (Date.now() > deadline || proc.child.exitCode !== null) throw new Error(`no server: ${proc.err}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  await client.connect(new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/mcp`)));
  return {
    client,
    url: `http://127.0.0.1:${port}/mcp`,
    close: async () => {
      await client.close();
      await proc.stop();
    },
  };
}

/** `client` as a paying client of `kind` (once per client: Cloudflare's wraps it in place); answers `call(name, args)`, which pays when asked. */
function payer(kind, client) {
  if (kind === "paywire") {
    const paying = payingClient(client, { x402, privateKey: PAYER_KEY, policy: POLICY });
    return (name, args) => paying.callTool({ name, arguments: args });
  }
  const paying = withX402Client(client, {
    account: privateKeyToAccount(PAYER_KEY),
    network: NETWORK,
    maxPaymentValue: BigInt(PRICE),
  });
  // Cloudflare's callTool takes a confirmation callback first.
  return (name, args) => paying.callTool(null, { name, arguments: args });
}

describe("interop: paying clients × paid tools × transports", () => {
  let facilitator;
  before(async () => {
    facilitator = await startFacilitator(SETTLED);
  });
  after(() => facilitator?.close());

  for (const server of ["paywire", "cloudflare"]) {
    for (const transport of ["stdio", "http"]) {
      for (const clientKind of ["paywire", "cloudflare"]) {
        test(`${clientKind}'s client pays ${server}'s tool over ${transport}`, async () => {
          const c = await connect(server, transport, facilitator);
          const settlesBefore = facilitator.calls.length;
          try {
            // What is asked: an unpaid call gets the payment-required result.
            const unpaid = await c.client.callTool({ name: "forecast", arguments: { city: "Lisbon" } });
            const asked = paymentRequiredOf(unpaid);
            assert.ok(asked, JSON.stringify(unpaid));
            assert.equal(unpaid.isError, true);
            // This package's tool answers in the transport's form, and Cloudflare's too.
            if (server === "paywire") {
              assert.deepEqual(unpaid.structuredContent, JSON.parse(unpaid.content[0].text));
              assert.deepEqual(unpaid._meta["x402/error"], unpaid.structuredContent);
              assert.equal(unpaid.structuredContent.resource.url, "mcp://tool/forecast");
            } else {
              assert.equal(asked.asText, true);
            }
            const [req] = asked.offer.accepts;
            assert.deepEqual(
              [req.scheme, req.network, req.amount, req.asset.toLowerCase(), req.payTo],
              ["exact", NETWORK, PRICE, USDC.toLowerCase(), PAY_TO],
            );
            assert.equal(facilitator.calls.length, settlesBefore, "nothing settles unpaid");

            // What is paid and settled.
            const pay = payer(clientKind, c.client);
            const paid = await pay("forecast", { city: "Lisbon" });
            assert.equal(paid.isError ?? false, false, JSON.stringify(paid));
            assert.equal(paid.content[0].text, "sunny in Lisbon");
            assert.equal(facilitator.calls.length, settlesBefore + 1, "exactly one settlement");
            const settled = facilitator.calls.at(-1);
            const auth = settled.paymentPayload.payload.authorization;
            assert.equal(auth.from, PAYER);
            assert.equal(auth.to, PAY_TO);
            assert.equal(auth.value, PRICE);
            assert.equal(settled.paymentRequirements.amount, PRICE);
            assert.equal(settled.paymentRequirements.payTo, PAY_TO);
            const receipt = paid._meta["x402/payment-response"];
            assert.equal(receipt.success, true);
            assert.equal(receipt.network, NETWORK);
            assert.equal(receipt.transaction, `0x${[...auth.nonce.slice(2)].reverse().join("")}`);

            // A tool that fails is paid for by neither: not settled.
            const failed = await pay("broken", { city: "Lisbon" });
            assert.equal(failed.isError, true);
            assert.equal(paymentRequiredOf(failed), null);
            assert.equal(facilitator.calls.length, settlesBefore + 1, "a failed tool is not settled");
          } finally {
            await c.close();
          }
        });
      }
    }
  }
});

describe("Cloudflare's tool whose settlement fails", () => {
  // Its server answers a failed settlement with a new payment-required
  // result, even when the transfer may have happened: this package's client
  // never pays a second time, and says why.
  test("paywire's client pays once, then stops with PaymentRefusedError", async () => {
    const facilitator = await startFacilitator({ status: 502, contentType: "text/html", body: "<html>bad gateway</html>" });
    const c = await connect("cloudflare", "stdio", facilitator);
    try {
      await assert.rejects(payer("paywire", c.client)("forecast", { city: "Lisbon" }), (e) => {
        assert.ok(e instanceof PaymentRefusedError, String(e));
        assert.match(e.message, /do not pay again/);
        return true;
      });
      assert.equal(facilitator.calls.length, 1, "one settlement asked, never a second payment");
    } finally {
      await c.close();
      await facilitator.close();
    }
  });
});

/** This package's paid tool and a raw client, in one process. */
async function inProcess(facilitator, settings = {}) {
  const server = new McpServer({ name: "forecast", version: "1.0.0" });
  const records = new MemoryRecords();
  const logged = [];
  paidTools(x402, server, {
    records,
    facilitator: { url: facilitator.url },
    settings: { settleTimeoutSeconds: 2, ...settings },
    log: (...args) => logged.push(args.join(" ")),
  }).tool("forecast", { description: "Tomorrow's weather", inputSchema: { city: z.string() } }, REQUIREMENT, async ({ city }) => ({
    content: [{ type: "text", text: `sunny in ${city}` }],
  }));
  const [a, b] = InMemoryTransport.createLinkedPair();
  await server.connect(a);
  const client = new Client({ name: "raw", version: "1.0.0" });
  await client.connect(b);
  return { client, records, logged, close: () => client.close() };
}

/** A fresh payment (the PaymentPayload object) for the tool's offer. */
async function paymentFor(client) {
  const unpaid = await client.callTool({ name: "forecast", arguments: { city: "Porto" } });
  const header = x402.createPayment(paymentRequiredOf(unpaid).offer, PAYER_KEY, POLICY);
  return x402.decodeHeader("PAYMENT-SIGNATURE", header);
}

const callWith = (client, payment) =>
  client.callTool({ name: "forecast", arguments: { city: "Porto" }, _meta: { "x402/payment": payment } });

/** What an answer says, checked against a vector's expectation (`status`, `reason`). */
function assertAnswer(name, result, expect) {
  const text = JSON.stringify(result);
  if (expect.status === 200) {
    assert.equal(result.isError ?? false, false, `${name}: ${text}`);
    assert.equal(result.content[0].text, "sunny in Porto", name);
    assert.equal(result._meta["x402/payment-response"].success, true, name);
    return;
  }
  assert.equal(result.isError, true, `${name}: ${text}`);
  assert.ok(!text.includes("sunny"), `${name}: no content unless settled`);
  if (expect.status === 402) {
    const asked = paymentRequiredOf(result);
    assert.ok(asked, `${name}: ${text}`);
    assert.ok(asked.offer.error.startsWith(expect.reason), `${name}: ${asked.offer.error}`);
  } else {
    // Never an invitation to pay: no offer in any form.
    assert.equal(paymentRequiredOf(result), null, `${name}: ${text}`);
    assert.ok(!text.includes("accepts"), `${name}: ${text}`);
    assert.equal(result.structuredContent.error, expect.reason, `${name}: ${text}`);
    assert.equal(Boolean(result._meta?.["x402/payment-response"]), Boolean(expect.paymentResponse), name);
  }
}

describe("the facilitator-failure table, as MCP answers", () => {
  const rows = vectors("paywall.json");
  for (const row of rows) {
    test(row.name, async () => {
      const facilitator = await startFacilitator(modeOf(row.reply));
      const c = await inProcess(facilitator);
      try {
        const payment = await paymentFor(c.client);
        const first = await callWith(c.client, payment);
        assertAnswer(row.name, first, row.expect);
        if (row.expect.record === "uncertain") {
          assert.equal(c.logged.length, 1, "recorded for reconciliation");
        }
        const settles = facilitator.calls.length;
        if (row.expect.again) {
          const again = await callWith(c.client, payment);
          assertAnswer(`${row.name}, again`, again, { ...row.expect.again, status: row.expect.again.status });
          assert.equal(facilitator.calls.length, settles + (row.expect.again.status === 402 ? 1 : 0), "never settled twice");
        }
        if (row.expect.recovered) {
          await facilitator.set(SETTLED);
          const recovered = await callWith(c.client, payment);
          assertAnswer(`${row.name}, recovered`, recovered, row.expect.recovered);
        }
      } finally {
        await c.close();
        await facilitator.close();
      }
    });
  }
});

describe("the paying client never pays twice, nor beyond its policy", () => {
  test("a refused payment throws PaymentRefusedError after one payment", async () => {
    const facilitator = await startFacilitator(modeOf(rows402()));
    const c = await inProcess(facilitator);
    try {
      const paying = payingClient(c.client, { x402, privateKey: PAYER_KEY, policy: POLICY });
      await assert.rejects(paying.callTool({ name: "forecast", arguments: { city: "Porto" } }), (e) => {
        assert.ok(e instanceof PaymentRefusedError);
        assert.equal(e.reason.split(":")[0], "invalid_exact_evm_insufficient_balance");
        return true;
      });
      assert.equal(facilitator.calls.length, 1);
    } finally {
      await c.close();
      await facilitator.close();
    }
  });

  test("an uncertain settlement throws PaymentUncertainError after one payment, and is never paid again", async () => {
    const facilitator = await startFacilitator({ hang: true });
    const c = await inProcess(facilitator);
    try {
      const paying = payingClient(c.client, { x402, privateKey: PAYER_KEY, policy: POLICY });
      await assert.rejects(paying.callTool({ name: "forecast", arguments: { city: "Porto" } }), (e) => {
        assert.ok(e instanceof PaymentUncertainError, String(e));
        assert.match(e.message, /do not pay again/);
        assert.equal(e.result.structuredContent.error, "settlement_uncertain");
        return true;
      });
      assert.equal(facilitator.calls.length, 1, "one settlement asked for");
      assert.equal(c.logged.length, 1, "recorded for reconciliation");
    } finally {
      await c.close();
      await facilitator.close();
    }
  });

  test("an offer over the maximum, or declined, is not signed nor sent", async () => {
    const facilitator = await startFacilitator(SETTLED);
    const c = await inProcess(facilitator);
    try {
      const cheap = payingClient(c.client, { x402, privateKey: PAYER_KEY, policy: { maxAmount: "9999" } });
      await assert.rejects(cheap.callTool({ name: "forecast", arguments: { city: "Porto" } }), PaymentPolicyError);
      let seen;
      const declining = payingClient(c.client, {
        x402,
        privateKey: PAYER_KEY,
        policy: POLICY,
        confirm: (requirement) => {
          seen = requirement;
          return false;
        },
      });
      await assert.rejects(declining.callTool({ name: "forecast", arguments: { city: "Porto" } }), PaymentPolicyError);
      assert.equal(seen.amount, PRICE);
      assert.equal(facilitator.calls.length, 0);
      assert.throws(() => payingClient(c.client, { x402, privateKey: PAYER_KEY }), /maxAmount is required/);
    } finally {
      await c.close();
      await facilitator.close();
    }
  });

  test("the payment as base64 text (Cloudflare's clients) is read as the object is", async () => {
    const facilitator = await startFacilitator(SETTLED);
    const c = await inProcess(facilitator);
    try {
      const payment = await paymentFor(c.client);
      const text = Buffer.from(JSON.stringify(payment)).toString("base64");
      assertAnswer("base64", await callWith(c.client, text), { status: 200 });
      // And then it is the same payment: delivered already.
      assertAnswer("object after base64", await callWith(c.client, payment), {
        status: 409,
        reason: "payment_already_delivered",
        paymentResponse: true,
      });
      assert.equal(facilitator.calls.length, 1);
      // Garbage is refused with a new offer, nothing settled.
      assertAnswer("garbage", await callWith(c.client, "not-base64!"), { status: 402, reason: "invalid_payload" });
      assert.equal(facilitator.calls.length, 1);
    } finally {
      await c.close();
      await facilitator.close();
    }
  });
});

function rows402() {
  return vectors("paywall.json").find((r) => r.name === "success: false, a refusal").reply;
}

describe("one payment, 20 concurrent calls over Streamable HTTP", () => {
  test("one settlement, one result; the others are told so and offered nothing to pay", async () => {
    const facilitator = await startFacilitator({ ...SETTLED, delayMs: 300 });
    const c = await connect("paywire", "http", facilitator);
    try {
      const payment = await paymentFor(c.client);
      const results = await Promise.all(Array.from({ length: 20 }, () => callWith(c.client, payment)));
      const ok = results.filter((r) => !r.isError);
      assert.equal(ok.length, 1, JSON.stringify(results.map((r) => r.structuredContent?.error ?? "ok")));
      assert.equal(facilitator.calls.length, 1);
      for (const r of results.filter((r) => r.isError)) {
        assert.ok(["payment_in_progress", "payment_already_delivered"].includes(r.structuredContent.error));
        assert.equal(paymentRequiredOf(r), null);
      }
    } finally {
      await c.close();
      await facilitator.close();
    }
  });
});

describe("a paid tool in a Worker (workerd), its records in a Durable Object", () => {
  let facilitator;
  let worker;
  let state;
  before(async () => {
    facilitator = await startFacilitator({ ...SETTLED, delayMs: 200 });
    state = mkdtempSync(join(tmpdir(), "paywire-mcp-worker-"));
    worker = await startBundledWorker(join(here, "mcp-worker.mjs"), serverEnv(facilitator), state, "/mcp");
  });
  after(async () => {
    await worker?.proc.stop();
    await facilitator?.close();
    rmSync(state, { recursive: true, force: true });
  });
  const connectWorker = async () => {
    const client = new Client({ name: "paywire-tests", version: "1.0.0" });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${worker.origin}/mcp`)));
    return client;
  };

  for (const clientKind of ["paywire", "cloudflare"]) {
    test(`${clientKind}'s client pays: settled once, the result with its receipt`, async () => {
      const client = await connectWorker();
      try {
        const before = facilitator.calls.length;
        const paid = await payer(clientKind, client)("forecast", { city: "Oslo" });
        assert.equal(paid.content[0].text, "sunny in Oslo", JSON.stringify(paid));
        assert.equal(paid._meta["x402/payment-response"].success, true);
        assert.equal(facilitator.calls.length, before + 1);
        assert.equal(facilitator.calls.at(-1).paymentPayload.payload.authorization.from, PAYER);
      } finally {
        await client.close();
      }
    });
  }

  test("one payment, 20 concurrent calls: one settlement, one result", async () => {
    const client = await connectWorker();
    try {
      const before = facilitator.calls.length;
      const unpaid = await client.callTool({ name: "forecast", arguments: { city: "Porto" } });
      const header = x402.createPayment(paymentRequiredOf(unpaid).offer, PAYER_KEY, POLICY);
      const payment = x402.decodeHeader("PAYMENT-SIGNATURE", header);
      const results = await Promise.all(Array.from({ length: 20 }, () => callWith(client, payment)));
      assert.equal(results.filter((r) => !r.isError).length, 1);
      assert.equal(facilitator.calls.length, before + 1);
      for (const r of results.filter((r) => r.isError)) assert.equal(paymentRequiredOf(r), null);
    } finally {
      await client.close();
    }
  });
});

test("every form of a payment-required result is read, and nothing else is", () => {
  const offer = { x402Version: 2, resource: { url: "mcp://tool/forecast" }, accepts: [REQUIREMENT], error: "payment_required" };
  const text = JSON.stringify(offer);
  // The transport's tool-result binding, structured and as text only.
  assert.deepEqual(paymentRequiredOf({ isError: true, structuredContent: offer, content: [{ type: "text", text }] }),
    { offer, asText: false });
  assert.deepEqual(paymentRequiredOf({ isError: true, content: [{ type: "text", text }] }), { offer, asText: false });
  // The extension binding (MCP 2026-07-28).
  assert.deepEqual(paymentRequiredOf({ resultType: "payment_required", paymentRequired: offer }), { offer, asText: false });
  // Cloudflare's: only in _meta["x402/error"]; it wants the payment as base64 text.
  const { x402Version, ...rest } = offer;
  assert.deepEqual(paymentRequiredOf({ isError: true, _meta: { "x402/error": { x402Version, ...rest } }, content: [] }),
    { offer, asText: true });
  // Not payment-required: a result, an error without an offer, an empty offer, v1.
  assert.equal(paymentRequiredOf({ content: [{ type: "text", text }] }), null);
  assert.equal(paymentRequiredOf({ isError: true, content: [{ type: "text", text: "settlement_uncertain: do not pay again" }] }), null);
  assert.equal(paymentRequiredOf({ isError: true, structuredContent: { ...offer, accepts: [] } }), null);
  assert.equal(paymentRequiredOf({ isError: true, structuredContent: { ...offer, x402Version: 1 } }), null);
  assert.equal(paymentRequiredOf({ resultType: "complete", paymentRequired: offer }), null);
  assert.equal(paymentRequiredOf(null), null);
});
