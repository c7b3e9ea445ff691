// Paid routes on Cloudflare Workers with x402, where no payment is ever lost,
// delivered twice, or charged twice.
//
//   GET /premium    exact on an EVM network (USDC on Base Sepolia by default),
//                   settled through a facilitator (FACILITATOR_URL) or by the
//                   Worker itself through a node (RPC_URL, FACILITATOR_PRIVATE_KEY)
//   GET /deferred   batch-settlement on cloudflare:402: the agent signs its
//                   request (RFC 9421); the commitment is recorded, billed later
//   GET /x402/uncertain   the payments to reconcile (Authorization: Bearer ADMIN_TOKEN)
//
// Every paid request goes through x402-wasm's PaymentLifecycle, which decides
// everything about the payment: which of the route's requirements it pays (the
// route's price, payTo, asset, network and scheme, never the client's
// `accepted`), verification, the payment's replay record, when to settle, and
// what to answer. This file does the I/O only: the record store (a Durable
// Object), the content (held back until the payment settles), the facilitator
// or the node, the agents' key directories, and the answer.
//
// The rules (the lifecycle's; tested in x402-wasm/tests/paywall):
// - content only after settlement answered success with a transaction, with
//   PAYMENT-RESPONSE and Cache-Control: private, no-store;
// - a handler that fails (not 2xx, or throws) is not settled;
// - HEAD is never settled: it gets a 402, and its payment is left untouched;
// - each payment is delivered at most once: the same payment presented again
//   gets 409 (in progress, or delivered with the earlier PAYMENT-RESPONSE),
//   never a second settlement;
// - a facilitator that fails never gets content delivered nor the client
//   asked to pay again: 502 facilitator_unavailable when nothing can have
//   settled, 502 settlement_uncertain (recorded for reconciliation) when it may have.
//
// Settings (env): PAY_TO (required), NETWORK, ASSET, PRICE (atomic units),
// TOKEN_NAME and TOKEN_VERSION (the token's EIP-712 domain), FACILITATOR_URL
// (and FACILITATOR_API_KEY, when the facilitator asks for one),
// or RPC_URL and FACILITATOR_PRIVATE_KEY (0x + 64 hex digits; it pays the gas),
// SETTLE_TIMEOUT_SECONDS, CLAIM_SECONDS, PREMIUM_ORIGIN (the content of
// /premium: an origin whose answer to the same path is held back until
// settled; a fixed JSON document otherwise), AGENTS (origins of the agents
// allowed to pay /deferred, comma-separated), DEFERRED_PRICE (cents of USD),
// ADMIN_TOKEN. Bindings: PAYMENTS, the PaymentRecords Durable Object namespace.
import { DurableObject } from "cloudflare:workers";
import * as x402 from "paywire";

const { PaymentLifecycle, recordInfo } = x402;

const json = (body, status, headers = {}) =>
  new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });

// ---------------------------------------------------------------------------
// The replay store: one Durable Object holds every payment's record. It runs
// one event at a time, and while it waits on its own storage no other event
// is delivered to it, so `swap` (read, compare, write) is atomic for every
// Worker instance in every location.

export class PaymentRecords extends DurableObject {
  /** The record of `key`, or null. */
  async get(key) {
    return (await this.ctx.storage.get(key)) ?? null;
  }

  /** Sets the record of `key` to `next` (null: removes it) if it is `expected`. */
  async swap(key, expected, next) {
    const current = (await this.ctx.storage.get(key)) ?? null;
    if (current !== expected) return { swapped: false, record: current };
    if (next === null) await this.ctx.storage.delete(key);
    else await this.ctx.storage.put(key, next);
    return { swapped: true };
  }

  /** The payments whose settlement is uncertain: [{key, ...recordInfo}]. */
  async uncertain() {
    const out = [];
    for (const [key, record] of await this.ctx.storage.list()) {
      const info = recordInfo(record);
      if (info.state === "uncertain") out.push({ key, ...info });
    }
    return out;
  }
}

/** The store the lifecycle asks for records: the Durable Object. */
function recordStore(env) {
  if (!env.PAYMENTS) return null;
  // One object for every payment of this Worker: simple and strictly
  // consistent. At volume, pick the object by the key's hash (a few shards)
  // and keep a list of uncertain payments per shard.
  return env.PAYMENTS.get(env.PAYMENTS.idFromName("payments"));
}

// ---------------------------------------------------------------------------
// Routes

/** /premium: exact on an EVM network. */
function premiumRoute(request, env) {
  const url = new URL(request.url);
  return {
    x402Version: 2,
    resource: { url: `${url.origin}/premium`, description: "Premium data", mimeType: "application/json" },
    accepts: [{
      scheme: "exact",
      network: env.NETWORK ?? "eip155:84532",
      amount: env.PRICE ?? "10000",
      asset: env.ASSET ?? "0x036CbD53842c5426634e7929541eC2318f3dCF7e",
      payTo: env.PAY_TO,
      maxTimeoutSeconds: 60,
      extra: { name: env.TOKEN_NAME ?? "USDC", version: env.TOKEN_VERSION ?? "2" },
    }],
  };
}

/** /deferred: batch-settlement on cloudflare:402, with the signature extension. */
function deferredRoute(request, env) {
  const url = new URL(request.url);
  return {
    x402Version: 2,
    resource: { url: `${url.origin}/deferred`, description: "A premium article, billed later", mimeType: "text/plain" },
    accepts: [{
      scheme: "batch-settlement",
      network: "cloudflare:402",
      amount: env.DEFERRED_PRICE ?? "5",
      asset: "USD",
      payTo: "merchant",
      maxTimeoutSeconds: 30,
      extra: { version: "1" },
    }],
    extensions: {
      "http-message-signatures": {
        info: {
          registrationUrl: `${url.origin}/agents`,
          signatureSchemes: ["ed25519"],
          tags: ["web-bot-auth"],
        },
      },
    },
  };
}

/** The content of /premium, held back until the payment settles. */
async function premiumContent(request, env) {
  if (env.PREMIUM_ORIGIN) {
    const url = new URL(request.url);
    const origin = env.PREMIUM_ORIGIN.replace(/\/$/, "");
    // A redirect is the origin's answer: not followed, not settled.
    return fetch(`${origin}${url.pathname}${url.search}`, { redirect: "manual" });
  }
  return json({ data: "premium content" }, 200);
}

async function deferredContent() {
  return new Response("The premium article: deferred payments, explained.\n", {
    headers: { "content-type": "text/plain; charset=utf-8" },
  });
}

// ---------------------------------------------------------------------------
// Settlement

const settleBase = (url) => (url.endsWith("/") ? url : `${url}/`);

/** POST /settle at the facilitator: what came of it, for the lifecycle. */
async function settleThroughFacilitator(facilitatorUrl, apiKey, body, timeoutMs) {
  const base = settleBase(facilitatorUrl);
  // fetch reports a refused connection and one cut after sending alike: ask
  // first whether the facilitator answers at all. If it does not, the
  // settlement request is never sent, and nothing can have settled.
  try {
    const probe = await fetch(new URL("supported", base), {
      signal: AbortSignal.timeout(Math.min(2000, timeoutMs)),
    });
    await probe.body?.cancel();
  } catch (e) {
    return { notSent: `the facilitator does not answer: ${e?.message ?? e}` };
  }
  let res;
  try {
    res = await fetch(new URL("settle", base), {
      method: "POST",
      headers: {
        "content-type": "application/json",
        // A facilitator that serves only its resource servers (paywire
        // facilitator's default) asks for the API key it gave this one.
        ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}),
      },
      body,
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (e) {
    return { noAnswer: String(e?.message ?? e) };
  }
  try {
    return { status: res.status, body: await res.text() };
  } catch (e) {
    return { noAnswer: `HTTP ${res.status}, then the body failed: ${e?.message ?? e}` };
  }
}

/**
 * Settles through a node's JSON-RPC at `rpcUrl`, paying gas with `privateKey`:
 * the ChainMachine says which request to send, this loop sends it.
 */
async function settleOnChain(rpcUrl, privateKey, body) {
  if (typeof x402.ChainMachine !== "function") {
    return { notSent: "this build of paywire has no ChainMachine: use the `full` flavour" };
  }
  let machine;
  let sent = false; // once a transaction may be out, a failure is uncertain
  try {
    machine = x402.ChainMachine.settle(body, privateKey);
    for (;;) {
      const step = machine.next();
      if (step.done) return { status: 200, body: JSON.stringify(step.outcome) };
      if (step.delayMs) await new Promise((resolve) => setTimeout(resolve, step.delayMs));
      if (step.request.includes('"eth_sendRawTransaction"')) sent = true;
      const res = await fetch(rpcUrl, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: step.request,
      });
      if (!res.ok) throw new Error(`the RPC node answered HTTP ${res.status}`);
      machine.feed(await res.text());
    }
  } catch (e) {
    const why = String(e?.message ?? e);
    return sent ? { noAnswer: why } : { notSent: why };
  } finally {
    machine?.free();
  }
}

function settle(env, body, timeoutMs) {
  if (env.FACILITATOR_URL) {
    return settleThroughFacilitator(env.FACILITATOR_URL, env.FACILITATOR_API_KEY, body, timeoutMs);
  }
  if (env.RPC_URL && env.FACILITATOR_PRIVATE_KEY) {
    return settleOnChain(env.RPC_URL, env.FACILITATOR_PRIVATE_KEY, body);
  }
  return { notSent: "no settlement is configured (FACILITATOR_URL, or RPC_URL and FACILITATOR_PRIVATE_KEY)" };
}

// ---------------------------------------------------------------------------
// Agents (batch-settlement): their key directories, fetched once per isolate.

const directories = new Map();

async function agentDirectory(env, agent) {
  const known = (env.AGENTS ?? "").split(",").map((a) => a.trim()).filter(Boolean);
  if (!known.includes(agent)) return null;
  if (!directories.has(agent)) {
    const url = `${agent.replace(/\/$/, "")}/.well-known/http-message-signatures-directory`;
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
      if (!res.ok) return null;
      directories.set(agent, await res.text());
    } catch {
      return null;
    }
  }
  return directories.get(agent);
}

// ---------------------------------------------------------------------------
// The lifecycle loop: the package decides, this does what it asks.

function settings(env) {
  const s = {};
  if (env.SETTLE_TIMEOUT_SECONDS) s.settleTimeoutSeconds = Number(env.SETTLE_TIMEOUT_SECONDS);
  if (env.CLAIM_SECONDS) s.claimSeconds = Number(env.CLAIM_SECONDS);
  return s;
}

/** The answer: the held handler response with the step's headers set over it, or the step's own. */
function answer(step, held) {
  const res = step.useHandlerResponse
    ? new Response(held.body, held)
    : new Response(step.body, { status: step.status });
  for (const [name, value] of step.headers) res.headers.set(name, value);
  return res;
}

// The clock in unix seconds. A Worker's clock stands still while it computes
// and moves on across I/O: after the handler and after settlement it tells the
// lifecycle how long those took, and the leases it writes next run from then.
const unixNow = () => Math.floor(Date.now() / 1000);

async function paid(request, env, route, handler) {
  const store = recordStore(env);
  if (!store) return json({ error: "no replay store: bind PAYMENTS to the PaymentRecords Durable Object" }, 500);
  const life = PaymentLifecycle.start(
    route,
    { method: request.method, url: request.url, headers: [...request.headers] },
    { settings: settings(env) },
  );
  let held = null;
  try {
    for (let i = 0; i < 64; i++) {
      const step = life.next();
      switch (step.action) {
        case "lookup":
          try {
            life.feed({ record: await store.get(step.key) });
          } catch (e) {
            life.feed({ storeError: String(e?.message ?? e) });
          }
          break;
        case "swap":
          try {
            life.feed(await store.swap(step.key, step.expected, step.new));
          } catch (e) {
            life.feed({ storeError: String(e?.message ?? e) });
          }
          break;
        case "directory":
          life.feed({ directory: await agentDirectory(env, step.agent) });
          break;
        case "handle":
          try {
            held = await handler(request, env);
            life.feed({ status: held.status, now: unixNow() });
          } catch (e) {
            life.feed({ error: String(e?.message ?? e), now: unixNow() });
          }
          break;
        case "settle":
          life.feed({ ...(await settle(env, step.body, step.timeoutMs)), now: unixNow() });
          break;
        case "respond": {
          if (step.uncertainRecord) {
            console.log("paywire: settlement uncertain, recorded for reconciliation:", step.uncertainRecord);
          }
          const res = answer(step, held);
          // Marks a delivered payment delivered before the answer leaves.
          life.feed({});
          for (let s = life.next(); s.action === "swap"; s = life.next()) {
            try {
              life.feed(await store.swap(s.key, s.expected, s.new));
            } catch (e) {
              life.feed({ storeError: String(e?.message ?? e) });
            }
          }
          return res;
        }
        default:
          return json({ error: "the payment's lifecycle ended without an answer" }, 500);
      }
    }
    return json({ error: "the payment's lifecycle did not end" }, 500);
  } finally {
    life.free();
  }
}

export default {
  async fetch(request, env) {
    const { pathname } = new URL(request.url);
    if (pathname === "/x402/uncertain") {
      if (!env.ADMIN_TOKEN || request.headers.get("authorization") !== `Bearer ${env.ADMIN_TOKEN}`) {
        return json({ error: "not found" }, 404);
      }
      return json(await recordStore(env).uncertain(), 200);
    }
    if (pathname === "/agents") {
      return new Response(`Agents allowed to pay /deferred:\n${(env.AGENTS ?? "").split(",").join("\n")}\n`);
    }
    if (pathname !== "/premium" && pathname !== "/deferred") {
      return json({ error: "not found" }, 404);
    }
    if (request.method !== "GET" && request.method !== "HEAD") {
      return json({ error: "use GET" }, 405, { allow: "GET, HEAD" });
    }
    if (pathname === "/deferred") {
      return paid(request, env, deferredRoute(request, env), deferredContent);
    }
    if (!env.PAY_TO) return json({ error: "PAY_TO is not configured" }, 500);
    return paid(request, env, premiumRoute(request, env), premiumContent);
  },
};
