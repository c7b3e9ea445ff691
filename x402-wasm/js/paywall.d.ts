/** paywire/paywall: a paywall for fetch handlers, over the package's PaymentLifecycle. */

/** A PaymentRequired document (x402 v2) a route answers. */
export type RouteOffer = Record<string, unknown>;

/** Payment records with an atomic compare-and-swap (a Durable Object, `MemoryRecords`, ...). */
export interface PaymentRecordStore {
  get(key: string): Promise<string | null>;
  swap(
    key: string,
    expected: string | null,
    next: string | null,
  ): Promise<{ swapped: true } | { swapped: false; record: string | null }>;
}

/** What came of a settle request, as the lifecycle reads it. */
export type SettleOutcome = { status: number; body: string } | { notSent: string } | { noAnswer: string };

/** A facilitator: its base URL and the API key it gave this server. */
export interface FacilitatorConfig {
  url: string;
  apiKey?: string;
}

export interface PaywallOptions<Env = unknown> {
  /** The payment records, or a function of the environment giving them. */
  records: PaymentRecordStore | ((env: Env) => PaymentRecordStore | null);
  /** The facilitator that settles (`POST {url}/settle`). */
  facilitator?: FacilitatorConfig | ((env: Env) => FacilitatorConfig | undefined);
  /** Settles another way (instead of `facilitator`). */
  settle?: (body: string, timeoutMs: number, env: Env) => SettleOutcome | Promise<SettleOutcome>;
  /** Verifies another way, with the setting `verifyAtFacilitator` (instead of `facilitator`). */
  verify?: (body: string, timeoutMs: number, env: Env) => SettleOutcome | Promise<SettleOutcome>;
  /** A batch-settlement agent's key directory (its text), or null for an unknown agent. */
  directory?: (agent: string, env: Env) => Promise<string | null> | string | null;
  /** The lifecycle's settings (`settleTimeoutSeconds`, `claimSeconds`, ...). */
  settings?: Record<string, unknown> | ((env: Env) => Record<string, unknown>);
  /** Where uncertain settlements are logged (default `console.log`). */
  log?: (...args: unknown[]) => void;
}

export type FetchHandler<Env = unknown, Ctx = unknown> = (
  request: Request,
  env: Env,
  ctx: Ctx,
) => Response | Promise<Response>;

/** The header an `upto` handler sets to charge what it used (never sent on). */
export const SETTLEMENT_OVERRIDES_HEADER: "Settlement-Overrides";

/** Payment records in this isolate's memory (tests, single-process servers). */
export class MemoryRecords implements PaymentRecordStore {
  get(key: string): Promise<string | null>;
  swap(
    key: string,
    expected: string | null,
    next: string | null,
  ): Promise<{ swapped: true } | { swapped: false; record: string | null }>;
  uncertain(): Promise<{ key: string; record: string }[]>;
}

/** POSTs a settle body to a facilitator, telling apart never sent, no answer, and answered. */
export function settleThroughFacilitator(
  facilitator: FacilitatorConfig,
  body: string,
  timeoutMs: number,
): Promise<SettleOutcome>;

/** POSTs a verify body to a facilitator, as `settleThroughFacilitator`. */
export function verifyThroughFacilitator(
  facilitator: FacilitatorConfig,
  body: string,
  timeoutMs: number,
): Promise<SettleOutcome>;

/** The lookup of a routes object: `(method, path) => route | undefined`. */
export function routeTable<R>(routes: Record<string, R>): (method: string, path: string) => R | undefined;

/** Runs one paid request through the lifecycle (used by `paywall` and the Hono middleware). */
export function payFor<Env>(
  x402: unknown,
  request: Request,
  env: Env,
  route: RouteOffer,
  handle: () => Promise<Response>,
  options: PaywallOptions<Env>,
): Promise<Response>;

/**
 * A paywall for fetch handlers: `routes` maps `"GET /path"` to its offer (or a
 * function of the request giving it); `x402` is the package's `full` flavour.
 */
export function paywall<Env = unknown, Ctx = unknown>(
  x402: unknown,
  routes: Record<string, RouteOffer | ((request: Request, env: Env) => RouteOffer | Promise<RouteOffer>)>,
  options: PaywallOptions<Env>,
): (handler: FetchHandler<Env, Ctx>) => FetchHandler<Env, Ctx>;
