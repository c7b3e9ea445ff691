/** paywire/mcp: paid MCP tools, and MCP clients that pay for them (x402's MCP transport). */
import type { PaywallOptions } from "./paywall.js";
import { PaymentPolicyError, PaymentRefusedError } from "./fetch.js";
import type { FetchPolicy } from "./fetch.js";

export { PaymentPolicyError, PaymentRefusedError };

/**
 * Paid, the server could not tell whether the payment settled
 * (`settlement_uncertain`): it may have been charged; do not pay again.
 */
export class PaymentUncertainError extends Error {
  constructor(message: string, result: unknown);
  /** The error result. */
  readonly result: unknown;
}

/** `_meta` key of the payment in a tool call. */
export const PAYMENT_META_KEY: "x402/payment";
/** `_meta` key of the settlement in a tool result. */
export const PAYMENT_RESPONSE_META_KEY: "x402/payment-response";
/** `_meta` key of the PaymentRequired in the results of Cloudflare's `agents` servers. */
export const ERROR_META_KEY: "x402/error";

/** One payment requirement of a tool (x402 v2 PaymentRequirements). */
export interface ToolRequirement {
  scheme: string;
  network: string;
  amount: string;
  asset: string;
  payTo: string;
  maxTimeoutSeconds: number;
  extra?: Record<string, unknown>;
}

/** Registers tools paid per call on an McpServer. */
export interface PaidTools {
  /**
   * Registers `name` (`config` as McpServer.registerTool's) priced at
   * `accepts`; `cb` runs only for a payment that verifies, and its result is
   * sent only once settled. Answers what `registerTool` answers.
   */
  tool(
    name: string,
    config: { description?: string; [key: string]: unknown },
    accepts: ToolRequirement | ToolRequirement[],
    cb: (...args: any[]) => unknown,
  ): unknown;
}

/** Paid tools on `server` (an McpServer); `x402` is the package's `full` flavour. */
export function paidTools(
  x402: unknown,
  server: unknown,
  options: PaywallOptions & { ctx?: { waitUntil(promise: Promise<unknown>): void } },
): PaidTools;

/** A tool result's PaymentRequired, in any of its forms, and whether the server wants the payment as base64 text. */
export function paymentRequiredOf(result: unknown): { offer: Record<string, unknown>; asText: boolean } | null;

/** How a client pays for tools. */
export interface PayingClientOptions {
  /** The package (any flavour). */
  x402: unknown;
  /** 0x + 64 hex digits. */
  privateKey: string;
  /** What one call may pay (`maxAmount` required). */
  policy: FetchPolicy;
  /** Asked before each payment with the requirement to pay; resolve false to decline. */
  confirm?: (requirement: ToolRequirement, offer: Record<string, unknown>) => boolean | Promise<boolean>;
}

/** `client` (an MCP Client) whose `callTool` pays a payment-required result once and calls again. */
export function payingClient<C extends { callTool: (...args: any[]) => Promise<unknown> }>(
  client: C,
  options: PayingClientOptions,
): C;
