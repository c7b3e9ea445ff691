// paywire/mcp: paid tools for MCP servers, and MCP clients that pay for
// them (x402's MCP transport), with the SDK @modelcontextprotocol/sdk.
//
//   import * as x402 from "paywire/full";
//   import { paidTools } from "paywire/mcp";
//   import { MemoryRecords } from "paywire/paywall";
//   const paid = paidTools(x402, server, { records: new MemoryRecords(), facilitator: { url } });
//   paid.tool("forecast", { description: "Tomorrow's weather" }, requirement, async () => ({
//     content: [{ type: "text", text: "sunny" }],
//   }));
//
// A paid tool goes through the package's PaymentLifecycle, as a paid HTTP
// request does (paywire/paywall), with the same guarantees: the tool's
// result only after a settlement with a transaction; a tool that fails
// (`isError`, or a throw) is not settled; each payment pays for one call,
// once; a facilitator that fails never gets the result delivered nor the
// client asked to pay again (an error result `settlement_uncertain` when the
// payment may have settled, recorded for reconciliation). What each answer is
// as a tool result is the core's (`toolResult`, `toolMeta`): the transport's
// payment-required result (`isError`, `structuredContent` = PaymentRequired,
// the same JSON as text, and `_meta["x402/error"]` for clients of Cloudflare's
// `agents`), the tool's result with `_meta["x402/payment-response"]`, or an
// error result that names its reason and offers nothing to pay.
//
//   import { payingClient } from "paywire/mcp";
//   const agent = payingClient(client, { x402, privateKey, policy: { maxAmount: "10000" } });
//   const result = await agent.callTool({ name: "forecast", arguments: {} });
//
// The paying client reads a payment-required result in each of its forms
// (`structuredContent`, `resultType: "payment_required"`, Cloudflare's
// `_meta["x402/error"]`, the text), pays the first requirement the policy
// allows, and calls once more with `_meta["x402/payment"]`: the
// PaymentPayload, or (to a server that signals only in `_meta["x402/error"]`,
// Cloudflare's) its base64 text. It never pays twice for one call.
import { keptAlive, runLifecycle } from "./paywall.mjs";
import { PaymentPolicyError, PaymentRefusedError } from "./fetch.mjs";

export { PaymentPolicyError, PaymentRefusedError };

/**
 * Paid, the server could not tell whether the payment settled
 * (`settlement_uncertain`, recorded for reconciliation): it may have been
 * charged; do not pay again.
 */
export class PaymentUncertainError extends Error {
  constructor(message, result) {
    super(message);
    this.name = "PaymentUncertainError";
    /** The error result. */
    this.result = result;
  }
}

/** The `error` of an error result's `structuredContent` (as the paywall writes its answers that offer nothing to pay), or null. */
function errorReason(result) {
  if (result?.isError !== true) return null;
  const reason = result.structuredContent?.error;
  return typeof reason === "string" ? reason : null;
}

/** `_meta` key of the payment in a tool call. */
export const PAYMENT_META_KEY = "x402/payment";
/** `_meta` key of the settlement in a tool result. */
export const PAYMENT_RESPONSE_META_KEY = "x402/payment-response";
/** `_meta` key of the PaymentRequired in the results of Cloudflare's `agents` servers. */
export const ERROR_META_KEY = "x402/error";

/** Base64 of a string's UTF-8 (the form of x402 headers), in Node and in Workers. */
function base64(text) {
  const bytes = new TextEncoder().encode(text);
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

/**
 * The value of the call's payment as a `PAYMENT-SIGNATURE` header: a base64
 * text as it came (Cloudflare's clients), an object as the base64 of its
 * JSON (the transport's form); the lifecycle judges it either way.
 */
function paymentHeader(meta) {
  const payment = meta?.[PAYMENT_META_KEY];
  if (payment === undefined || payment === null) return null;
  if (typeof payment === "string") return payment;
  return base64(JSON.stringify(payment));
}

/** A tool's outcome, held back: 200 for a result, 500 for `isError` or a throw (not settled). */
async function runTool(cb, args, extra) {
  try {
    const result = await cb(args, extra);
    return { status: result?.isError ? 500 : 200, value: result };
  } catch (e) {
    const value = { content: [{ type: "text", text: `the tool failed: ${e?.message ?? e}` }], isError: true };
    return { status: 500, value };
  }
}

/** The lifecycle's answer as a tool result (the core's `toolResult` / `toolMeta`). */
function toolResultOf(step, held) {
  if (step.toolResult != null) return JSON.parse(step.toolResult);
  const meta = JSON.parse(step.toolMeta ?? "{}");
  const result = held ?? { content: [], isError: true };
  return Object.keys(meta).length ? { ...result, _meta: { ...(result._meta ?? {}), ...meta } } : result;
}

/**
 * Paid tools on `server` (an `McpServer` of @modelcontextprotocol/sdk).
 * `x402` is the package's `full` flavour. Options as `paywall`'s
 * (paywire/paywall): `records` (a Durable Object in a Worker, or
 * `MemoryRecords`), `facilitator: {url, apiKey}` (or `settle`/`verify`),
 * `settings`, `log`, and in a Worker `ctx` (the fetch event's: each paid
 * call is kept running with `ctx.waitUntil` until its settlement and record
 * are done, even when the client goes away). Returns `{tool(name, config,
 * accepts, cb)}`: registers
 * the tool (`config` as `registerTool`'s: `description`, `inputSchema`, ...)
 * priced at `accepts` (one PaymentRequirements, or several the client
 * chooses from), for `mcp://tool/<name>`.
 */
export function paidTools(x402, server, options = {}) {
  if (typeof x402?.PaymentLifecycle !== "function") {
    throw new TypeError("paidTools: pass the package's `full` flavour (import * as x402 from \"paywire/full\")");
  }
  if (typeof server?.registerTool !== "function") {
    throw new TypeError("paidTools: pass an McpServer (@modelcontextprotocol/sdk/server/mcp.js)");
  }
  return {
    /** Registers `name`, paid per call; answers what `registerTool` answers. */
    tool(name, config, accepts, cb) {
      const route = {
        x402Version: 2,
        resource: { url: `mcp://tool/${name}`, description: config?.description ?? name, mimeType: "application/json" },
        accepts: Array.isArray(accepts) ? accepts : [accepts],
      };
      // Checked now: a route the lifecycle refuses fails at start, not per call.
      x402.PaymentLifecycle.start(route, { method: "POST", url: route.resource.url, headers: [] }).free();
      return server.registerTool(name, config ?? {}, async (...params) => {
        // registerTool passes (args, extra), or (extra) for a tool without input.
        const extra = params[params.length - 1];
        const value = paymentHeader(extra?._meta);
        const request = {
          method: "POST",
          url: route.resource.url,
          headers: value === null ? [] : [["PAYMENT-SIGNATURE", value]],
        };
        return keptAlive(
          runLifecycle(
            x402,
            request,
            undefined,
            route,
            () => runTool(cb, ...params),
            options,
            { transport: "mcp" },
            toolResultOf,
          ),
          options.ctx,
        );
      });
    },
  };
}

/** An object that is an x402 v2 PaymentRequired (`x402Version` and non-empty `accepts`). */
function asPaymentRequired(v) {
  return v && typeof v === "object" && v.x402Version === 2 && Array.isArray(v.accepts) && v.accepts.length > 0
    ? v
    : null;
}

/**
 * The PaymentRequired of a tool result, in any of its forms, with how the
 * server wants to be paid: `{offer, asText}` (`asText`: the payment as base64
 * text, for servers that signal only in `_meta["x402/error"]`), or null.
 */
export function paymentRequiredOf(result) {
  if (!result || typeof result !== "object") return null;
  // The extension binding (MCP 2026-07-28).
  if (result.resultType === "payment_required") {
    const offer = asPaymentRequired(result.paymentRequired);
    return offer ? { offer, asText: false } : null;
  }
  if (result.isError !== true) return null;
  const structured = asPaymentRequired(result.structuredContent);
  if (structured) return { offer: structured, asText: false };
  const cloudflare = result._meta?.[ERROR_META_KEY];
  if (cloudflare && Array.isArray(cloudflare.accepts) && cloudflare.accepts.length > 0) {
    return { offer: { x402Version: 2, ...cloudflare }, asText: true };
  }
  const text = result.content?.[0]?.type === "text" ? result.content[0].text : null;
  if (typeof text === "string" && text.length <= 64 * 1024) {
    try {
      const offer = asPaymentRequired(JSON.parse(text));
      if (offer) return { offer, asText: false };
    } catch {
      // Not JSON: an ordinary error result.
    }
  }
  return null;
}

/**
 * `client` (a `Client` of @modelcontextprotocol/sdk), whose `callTool` pays a
 * payment-required result with `privateKey` (0x + 32 bytes hex) within
 * `policy` (`maxAmount`, required; `networks`, `assets`, `allowUpto`) and
 * calls once more. `confirm(requirement, offer)` (optional) may decline a
 * payment (resolve false: `PaymentPolicyError`, nothing signed). Paid, a
 * second payment-required result throws `PaymentRefusedError` and an
 * uncertain settlement `PaymentUncertainError`: nothing is paid twice. `x402` is
 * the package (any flavour). Everything else is the client's own.
 */
export function payingClient(client, { x402, privateKey, policy = {}, confirm } = {}) {
  if (typeof x402?.createPayment !== "function") {
    throw new TypeError("payingClient: pass the package as `x402` (import * as x402 from \"paywire\")");
  }
  if (typeof privateKey !== "string") throw new TypeError("payingClient: privateKey is 0x + 64 hex digits");
  // The server names the price: without a cap it could ask for the whole wallet.
  if (typeof policy.maxAmount !== "string") {
    throw new TypeError("payingClient: policy.maxAmount is required (the most one call pays, atomic units, a decimal string)");
  }
  const callTool = client.callTool.bind(client);
  async function paidCallTool(params, resultSchema, options) {
    const first = await callTool(params, resultSchema, options);
    const asked = paymentRequiredOf(first);
    // Not asked to pay, or paid by the caller already.
    if (!asked || params?._meta?.[PAYMENT_META_KEY] != null) return first;
    let selected;
    try {
      selected = x402.selectRequirement(asked.offer, { ...policy });
    } catch (e) {
      throw new PaymentPolicyError(`not paid: ${e?.message ?? e}`, first);
    }
    if (confirm && !(await confirm(selected.requirements, asked.offer))) {
      throw new PaymentPolicyError("not paid: the payment was declined", first);
    }
    let header;
    try {
      header = x402.createPayment(asked.offer, privateKey, { ...policy });
    } catch (e) {
      throw new PaymentPolicyError(`not paid: ${e?.message ?? e}`, first);
    }
    const payment = asked.asText ? header : x402.decodeHeader("PAYMENT-SIGNATURE", header);
    const second = await callTool(
      { ...params, _meta: { ...(params?._meta ?? {}), [PAYMENT_META_KEY]: payment } },
      resultSchema,
      options,
    );
    if (errorReason(second) === "settlement_uncertain") {
      throw new PaymentUncertainError(
        "settlement_uncertain: the payment may have been charged; do not pay again (the server recorded it for reconciliation)",
        second,
      );
    }
    const again = paymentRequiredOf(second);
    if (again) {
      const reason = String(again.offer.error ?? "");
      // Cloudflare's servers answer a failed settlement this way too, when
      // the transfer may have happened: never paid again here.
      throw new PaymentRefusedError(
        `the server refused the payment${reason ? `: ${reason}` : ""}; nothing more was paid` +
          (/settle/i.test(reason) ? " (a failed settlement may still have charged it: do not pay again)" : ""),
        reason,
        second,
      );
    }
    return second;
  }
  return new Proxy(client, {
    get(target, prop) {
      if (prop === "callTool") return paidCallTool;
      const v = Reflect.get(target, prop, target);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}
