// paywire/paywall: a paywall for fetch handlers (Cloudflare Workers, Deno,
// Bun, Node's fetch-style servers). The package's PaymentLifecycle decides
// every step; this module only does what it asks: read and write payment
// records, run the handler (its answer held back), settle through a
// facilitator, and answer.
//
//   import * as x402 from "paywire/full";
//   import { paywall } from "paywire/paywall";
//   const protect = paywall(x402, { "GET /premium": offer }, {
//     records: (env) => env.PAYMENTS.get(env.PAYMENTS.idFromName("payments")),
//     facilitator: (env) => ({ url: env.FACILITATOR_URL, apiKey: env.FACILITATOR_API_KEY }),
//   });
//   export default { fetch: protect(handler) };
//
// Guarantees (the lifecycle's): content only after a settlement with a
// transaction; each payment delivered once (a second presentation gets 409
// with the first PAYMENT-RESPONSE); a facilitator that fails never gets
// content delivered nor the client asked to pay again (502
// facilitator_unavailable when nothing can have settled, 502
// settlement_uncertain, recorded for reconciliation, when something may have).

/** The largest facilitator answer read. */
const MAX_ANSWER = 64 * 1024;

/** The header an `upto` handler sets to charge what it used (never sent on). */
export const SETTLEMENT_OVERRIDES_HEADER = "Settlement-Overrides";

// The clock in unix seconds. A Worker's clock stands still while it computes
// and moves on across I/O: after the handler and after settlement the
// lifecycle is told how long those took, and the leases it writes next run
// from then.
const unixNow = () => Math.floor(Date.now() / 1000);

const valueOf = (v, env) => (typeof v === "function" ? v(env) : v);

/**
 * Payment records in this isolate's memory: for tests and single-process
 * servers (records vanish with the process; use a Durable Object, or another
 * store with an atomic compare-and-swap, in production).
 */
export class MemoryRecords {
  #records = new Map();

  /** The record of `key`, or null. */
  async get(key) {
    return this.#records.get(key) ?? null;
  }

  /** Sets the record of `key` to `next` (null: removes it) if it is `expected`. */
  async swap(key, expected, next) {
    const current = this.#records.get(key) ?? null;
    if (current !== expected) return { swapped: false, record: current };
    if (next === null) this.#records.delete(key);
    else this.#records.set(key, next);
    return { swapped: true };
  }

  /** The records whose settlement is uncertain: [{key, record}]. */
  async uncertain() {
    return [...this.#records]
      .filter(([, record]) => JSON.parse(record).state === "uncertain")
      .map(([key, record]) => ({ key, record }));
  }
}

/**
 * POST `body` to `{url}/settle`, with `Authorization: Bearer {apiKey}` when
 * given, told apart as the lifecycle needs: `{notSent}` when nothing can
 * have reached the facilitator, `{noAnswer}` when it may have and no
 * complete answer came, `{status, body}` otherwise.
 */
export function settleThroughFacilitator(facilitator, body, timeoutMs) {
  return postToFacilitator(facilitator, "settle", body, timeoutMs);
}

/** `POST {url}/verify`, told apart as `settleThroughFacilitator`'s answer. */
export function verifyThroughFacilitator(facilitator, body, timeoutMs) {
  return postToFacilitator(facilitator, "verify", body, timeoutMs);
}

async function postToFacilitator({ url, apiKey }, path, body, timeoutMs) {
  const base = url.endsWith("/") ? url : `${url}/`;
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
    res = await fetch(new URL(path, base), {
      method: "POST",
      headers: {
        "content-type": "application/json",
        ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}),
      },
      body,
      // A redirect is the facilitator's answer (uncertain), never followed:
      // the payment and the key go nowhere else.
      redirect: "manual",
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (e) {
    return { noAnswer: String(e?.message ?? e) };
  }
  try {
    const text = await res.text();
    if (text.length > MAX_ANSWER) return { noAnswer: `HTTP ${res.status}, with an answer over ${MAX_ANSWER} bytes` };
    return { status: res.status, body: text };
  } catch (e) {
    return { noAnswer: `HTTP ${res.status}, then the body failed: ${e?.message ?? e}` };
  }
}

/** The answer: the held handler response with the step's headers set over it, or the step's own. */
function answer(step, held) {
  const res = step.useHandlerResponse
    ? new Response(held.body, held)
    : new Response(step.body, { status: step.status });
  for (const [name, value] of step.headers) res.headers.set(name, value);
  return res;
}

/**
 * The lookup of `routes` (`{"GET /path": route}`): `(method, path) => route`
 * or undefined. GET routes also answer HEAD (which never settles).
 */
export function routeTable(routes) {
  const table = Object.entries(routes).map(([key, route]) => {
    const m = /^([A-Z]+) (\/[^\s*{}:?#]*)$/.exec(key);
    if (!m) {
      throw new TypeError(
        `paywall: route ${JSON.stringify(key)}: "METHOD /path" (an upper-case method; a literal path, no patterns)`,
      );
    }
    return [m[1], canonicalPath(m[2]), route];
  });
  return (method, path) => {
    const p = canonicalPath(path);
    return table.find(([m, q]) => q === p && (m === method || (m === "GET" && method === "HEAD")))?.[2];
  };
}

/**
 * A path as routers match it: percent-decoded, without a trailing slash.
 * Matching on this form, a paid route is paid however its path is spelt
 * (`/pr%65mium`, `/premium/`): a router that decodes paths or ignores a
 * trailing slash never reaches its handler unpaid. (A spelling the handler
 * does not serve is answered by the handler, not settled.)
 */
function canonicalPath(path) {
  let p;
  try {
    p = decodeURIComponent(path);
  } catch {
    p = path;
  }
  return p.length > 1 ? p.replace(/\/+$/, "") || "/" : p;
}

/**
 * Runs one paid request through the lifecycle. `handle()` produces the
 * content (a Response, held back until settled); `options` as `paywall`'s.
 */
export async function payFor(x402, request, env, route, handle, options) {
  const held = async () => {
    let res = await handle();
    // What an `upto` handler charged: read, never sent on.
    const overrides = res.headers.get(SETTLEMENT_OVERRIDES_HEADER);
    if (overrides !== null) {
      res = new Response(res.body, res);
      res.headers.delete(SETTLEMENT_OVERRIDES_HEADER);
    }
    return { status: res.status, overrides, value: res };
  };
  const request_ = { method: request.method, url: request.url, headers: [...request.headers] };
  return runLifecycle(x402, request_, env, route, held, options, {}, answer);
}

/**
 * Drives one lifecycle to its answer (shared by the paywalls of HTTP and of
 * MCP tools). `request`: `{method, url, headers: [[name, value]]}`;
 * `handle()` answers `{status, overrides, value}` (the content, held back);
 * `respond(step, value)` turns the lifecycle's answer into the host's;
 * `extraSettings` are set over the options' settings.
 * @internal
 */
export async function runLifecycle(x402, request, env, route, handle, options, extraSettings, respond) {
  if (typeof x402?.PaymentLifecycle !== "function") {
    throw new TypeError("paywall: pass the package's `full` flavour (import * as x402 from \"paywire/full\")");
  }
  const store = valueOf(options.records, env);
  if (!store) return respond(problemStep("paywall: no payment records (options.records)"), null);
  const atFacilitator = (post) => (body, timeoutMs, env) => {
    const facilitator = valueOf(options.facilitator, env);
    if (!facilitator?.url) return { notSent: "no facilitator is configured" };
    return post(facilitator, body, timeoutMs);
  };
  const settle = options.settle ?? atFacilitator(settleThroughFacilitator);
  const verify = options.verify ?? atFacilitator(verifyThroughFacilitator);
  const life = x402.PaymentLifecycle.start(route, request, {
    settings: { ...(valueOf(options.settings, env) ?? {}), ...extraSettings },
  });
  const swap = async (s) => {
    try {
      life.feed(await store.swap(s.key, s.expected, s.new));
    } catch (e) {
      life.feed({ storeError: String(e?.message ?? e) });
    }
  };
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
          await swap(step);
          break;
        case "directory":
          life.feed({ directory: options.directory ? await options.directory(step.agent, env) : null });
          break;
        case "handle":
          try {
            const h = await handle();
            held = h.value;
            life.feed({
              status: h.status,
              now: unixNow(),
              ...(h.overrides != null ? { settlementOverrides: h.overrides } : {}),
            });
          } catch (e) {
            life.feed({ error: String(e?.message ?? e), now: unixNow() });
          }
          break;
        case "settle": {
          // A settler that throws may have sent: uncertain, never "pay again".
          let outcome;
          try {
            outcome = await settle(step.body, step.timeoutMs, env);
          } catch (e) {
            outcome = { noAnswer: String(e?.message ?? e) };
          }
          life.feed({ ...outcome, now: unixNow() });
          break;
        }
        // With the setting verifyAtFacilitator: the facilitator's chain
        // checks before the handler runs.
        case "verify": {
          let outcome;
          try {
            outcome = await verify(step.body, step.timeoutMs, env);
          } catch (e) {
            outcome = { noAnswer: String(e?.message ?? e) };
          }
          life.feed({ ...outcome, now: unixNow() });
          break;
        }
        case "respond": {
          if (step.uncertainRecord) {
            (options.log ?? console.log)(
              "paywire: settlement uncertain, recorded for reconciliation:",
              step.uncertainRecord,
            );
          }
          const res = respond(step, held);
          // Marks a delivered payment delivered before the answer leaves.
          life.feed({});
          for (let s = life.next(); s.action === "swap"; s = life.next()) await swap(s);
          return res;
        }
        default:
          return respond(problemStep("the payment's lifecycle ended without an answer"), null);
      }
    }
    return respond(problemStep("the payment's lifecycle did not end"), null);
  } finally {
    life.free();
  }
}

/** A 500 answer step of the host's own (a misconfiguration, a lifecycle that did not end). */
function problemStep(message) {
  const body = JSON.stringify({ error: "paywall_error", message });
  const toolResult = JSON.stringify({
    content: [{ type: "text", text: `paywall_error: ${message}` }],
    structuredContent: { error: "paywall_error", message },
    isError: true,
  });
  return {
    action: "respond", status: 500, outcome: "storeError", reason: "paywall_error", message,
    headers: [["content-type", "application/json"]], body, useHandlerResponse: false, toolResult, toolMeta: null,
  };
}

/**
 * A paywall for fetch handlers. `routes` maps `"GET /path"` (GET also
 * answers HEAD, which never settles) to the route's PaymentRequired (x402
 * v2), or to `(request, env) => PaymentRequired`. Options:
 * - `records`: the payment records (`get`, `swap`), or `(env) => records`;
 * - `facilitator`: `{url, apiKey}`, or `(env) => {url, apiKey}`; or
 *   `settle(body, timeoutMs, env)` (and `verify`, for the setting
 *   `verifyAtFacilitator`) to settle another way;
 * - `directory(agent, env)`: a batch-settlement agent's key directory (its
 *   text), or null when the agent is not one this server knows;
 * - `settings`: the lifecycle's (`settleTimeoutSeconds`, `claimSeconds`, ...),
 *   or `(env) => settings`.
 * Returns `(handler) => (request, env, ctx) => Response`; requests to other
 * routes go to the handler untouched.
 */
export function paywall(x402, routes, options = {}) {
  const find = routeTable(routes);
  return (handler) =>
    async function paidFetch(request, env, ctx) {
      const route = find(request.method, new URL(request.url).pathname);
      if (!route) return handler(request, env, ctx);
      const doc = typeof route === "function" ? await route(request, env) : route;
      return keptAlive(payFor(x402, request, env, doc, () => handler(request, env, ctx), options), ctx);
    };
}

/**
 * `run`, kept running to its end by the runtime (a Worker's
 * `ctx.waitUntil`) when the client goes away: a settlement in flight, and
 * the record of what came of it, are never cut off with the request.
 * @internal
 */
export function keptAlive(run, ctx) {
  try {
    ctx?.waitUntil?.(run.then(() => {}, () => {}));
  } catch {
    // No execution context to extend (outside a Worker's fetch event).
  }
  return run;
}
