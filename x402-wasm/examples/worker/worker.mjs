// Paid routes on Cloudflare Workers with x402, where no payment is ever lost,
// delivered twice, or charged twice.
//
//   GET /premium    exact on an EVM network (USDC on Base Sepolia by default),
//                   settled through a facilitator (FACILITATOR_URL) or by the
//                   Worker itself through a node (RPC_URL, FACILITATOR_PRIVATE_KEY)
//   GET /deferred   batch-settlement on cloudflare:402: the agent signs its
//                   request (RFC 9421); the commitment is recorded, billed later
//   GET /metered    batch-settlement on the EVM network (when
//                   CHANNEL_RECEIVER_AUTHORIZER is set): a payment channel,
//                   opened by a deposit settled through the facilitator, then
//                   each request paid by a cumulative voucher checked here
//   GET /x402/uncertain   the payments to reconcile (Authorization: Bearer ADMIN_TOKEN)
//
// Every paid request goes through the package's paywall (paywire/paywall),
// whose PaymentLifecycle decides everything about the payment: which of the
// route's requirements it pays (the route's price, payTo, asset, network and
// scheme, never the client's `accepted`), verification, the payment's record,
// when to settle, and what to answer. This file is configuration: the routes,
// the records (a Durable Object, paywire/durable-object), the content, how
// payments settle (a facilitator, or the node), the agents' key directories.
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
//   settled, 502 settlement_uncertain (recorded for reconciliation) when it may have;
// - a channel (/metered) is charged only by a compare-and-swap of its record,
//   after the handler answered 2xx: a voucher is the payment (no facilitator
//   call), a voucher that lost the race to another request gets 402
//   invalid_batch_settlement_evm_channel_busy, and nothing is delivered.
//
// Settings (env): PAY_TO (required), NETWORK, ASSET, PRICE (atomic units),
// TOKEN_NAME and TOKEN_VERSION (the token's EIP-712 domain), FACILITATOR_URL
// (and FACILITATOR_API_KEY, when the facilitator asks for one),
// or RPC_URL and FACILITATOR_PRIVATE_KEY (0x + 64 hex digits; it pays the gas),
// SETTLE_TIMEOUT_SECONDS, CLAIM_SECONDS, PREMIUM_ORIGIN (the content of
// /premium and /metered: an origin whose answer to the same path is held back
// until settled; a fixed JSON document otherwise), AGENTS (origins of the
// agents allowed to pay /deferred, comma-separated), DEFERRED_PRICE (cents of
// USD), CHANNEL_RECEIVER_AUTHORIZER (the address that authorizes claims and
// refunds of /metered's channels for PAY_TO; /metered answers 404 without it),
// CHANNEL_PRICE (atomic units per request), CHANNEL_WITHDRAW_DELAY (seconds),
// ADMIN_TOKEN. Bindings: PAYMENTS, the PaymentRecords Durable Object namespace.
import * as x402 from "paywire";
import { paywall, settleThroughFacilitator, verifyThroughFacilitator } from "paywire/paywall";

export { PaymentRecords } from "paywire/durable-object";

const { recordInfo } = x402;

const json = (body, status, headers = {}) =>
  new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });

/**
 * The payment records: one Durable Object for every payment of this Worker
 * (simple and strictly consistent; at volume, pick the object by the key's
 * hash, a few shards).
 */
function records(env) {
  return env.PAYMENTS ? env.PAYMENTS.get(env.PAYMENTS.idFromName("payments")) : null;
}

// ---------------------------------------------------------------------------
// Routes and content

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

/**
 * /metered: batch-settlement on an EVM network, a payment channel of the
 * batch-settlement contract with PAY_TO as receiver. The client's first
 * request opens the channel with a deposit (and a voucher for the first
 * price), the next ones pay with vouchers signing the cumulative total.
 */
function meteredRoute(request, env) {
  const url = new URL(request.url);
  return {
    x402Version: 2,
    resource: { url: `${url.origin}/metered`, description: "Metered data", mimeType: "application/json" },
    accepts: [{
      scheme: "batch-settlement",
      network: env.NETWORK ?? "eip155:84532",
      amount: env.CHANNEL_PRICE ?? "1000",
      asset: env.ASSET ?? "0x036CbD53842c5426634e7929541eC2318f3dCF7e",
      payTo: env.PAY_TO,
      // A deposit is a transaction the facilitator sends and waits for.
      maxTimeoutSeconds: 300,
      extra: {
        receiverAuthorizer: env.CHANNEL_RECEIVER_AUTHORIZER,
        withdrawDelay: Number(env.CHANNEL_WITHDRAW_DELAY ?? 900),
        name: env.TOKEN_NAME ?? "USDC",
        version: env.TOKEN_VERSION ?? "2",
      },
    }],
  };
}

/** The content of /premium and /metered, held back until the payment is committed. */
async function premiumContent(request, env) {
  if (env.PREMIUM_ORIGIN) {
    const url = new URL(request.url);
    const origin = env.PREMIUM_ORIGIN.replace(/\/$/, "");
    // A redirect is the origin's answer: not followed, not settled.
    return fetch(`${origin}${url.pathname}${url.search}`, { redirect: "manual" });
  }
  return json({ data: new URL(request.url).pathname === "/metered" ? "metered content" : "premium content" }, 200);
}

async function deferredContent() {
  return new Response("The premium article: deferred payments, explained.\n", {
    headers: { "content-type": "text/plain; charset=utf-8" },
  });
}

// ---------------------------------------------------------------------------
// Settlement: through a facilitator, or by this Worker through a node.

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

const facilitatorOf = (env) => ({ url: env.FACILITATOR_URL, apiKey: env.FACILITATOR_API_KEY });

function settle(body, timeoutMs, env) {
  if (env.FACILITATOR_URL) {
    return settleThroughFacilitator(facilitatorOf(env), body, timeoutMs);
  }
  if (env.RPC_URL && env.FACILITATOR_PRIVATE_KEY) {
    return settleOnChain(env.RPC_URL, env.FACILITATOR_PRIVATE_KEY, body);
  }
  return { notSent: "no settlement is configured (FACILITATOR_URL, or RPC_URL and FACILITATOR_PRIVATE_KEY)" };
}

/**
 * Verification at the facilitator: a /metered deposit, and a voucher on a
 * channel this Worker has no fresh record of, are verified there (the
 * channel's state on chain) before the handler runs.
 */
function verify(body, timeoutMs, env) {
  if (env.FACILITATOR_URL) return verifyThroughFacilitator(facilitatorOf(env), body, timeoutMs);
  return { notSent: "no facilitator is configured (FACILITATOR_URL): channels are verified there" };
}

// ---------------------------------------------------------------------------
// Agents (batch-settlement): their key directories, fetched once per isolate.

const directories = new Map();

async function agentDirectory(agent, env) {
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
// The paywall

const protect = paywall(
  x402,
  { "GET /premium": premiumRoute, "GET /deferred": deferredRoute, "GET /metered": meteredRoute },
  {
    records,
    settle,
    verify,
    directory: agentDirectory,
    settings: (env) => ({
      ...(env.SETTLE_TIMEOUT_SECONDS ? { settleTimeoutSeconds: Number(env.SETTLE_TIMEOUT_SECONDS) } : {}),
      ...(env.CLAIM_SECONDS ? { claimSeconds: Number(env.CLAIM_SECONDS) } : {}),
    }),
  },
);

const content = protect((request, env) =>
  new URL(request.url).pathname === "/deferred" ? deferredContent(request, env) : premiumContent(request, env),
);

export default {
  async fetch(request, env, ctx) {
    const { pathname } = new URL(request.url);
    if (pathname === "/x402/uncertain") {
      if (!env.ADMIN_TOKEN || request.headers.get("authorization") !== `Bearer ${env.ADMIN_TOKEN}`) {
        return json({ error: "not found" }, 404);
      }
      const uncertain = await records(env).uncertain();
      return json(uncertain.map(({ key, record }) => ({ key, ...recordInfo(record) })), 200);
    }
    if (pathname === "/agents") {
      return new Response(`Agents allowed to pay /deferred:\n${(env.AGENTS ?? "").split(",").join("\n")}\n`);
    }
    if (pathname === "/metered" && !env.CHANNEL_RECEIVER_AUTHORIZER) {
      return json({ error: "not found" }, 404);
    }
    if (pathname !== "/premium" && pathname !== "/deferred" && pathname !== "/metered") {
      return json({ error: "not found" }, 404);
    }
    if (request.method !== "GET" && request.method !== "HEAD") {
      return json({ error: "use GET" }, 405, { allow: "GET, HEAD" });
    }
    if (!records(env)) {
      return json({ error: "no payment records: bind PAYMENTS to the PaymentRecords Durable Object" }, 500);
    }
    if (pathname !== "/deferred" && !env.PAY_TO) return json({ error: "PAY_TO is not configured" }, 500);
    return content(request, env, ctx);
  },
};
