/** paywire/fetch: a fetch that pays on 402, once. */

/** What the client is willing to pay (the package's `Policy`). */
export interface FetchPolicy {
  maxAmount?: string;
  networks?: string[];
  assets?: string[];
  allowUpto?: boolean;
}

/** The offer was not paid: no requirement is one the policy allows. */
export class PaymentPolicyError extends Error {
  response: Response;
}

/** The server answered 402 again after being paid: nothing more was paid. */
export class PaymentRefusedError extends Error {
  reason: string;
  response: Response;
}

export function wrapFetch(
  fetchImpl: typeof fetch,
  options: { x402: unknown; privateKey: string; policy?: FetchPolicy },
): (input: RequestInfo | URL, init?: RequestInit) => Promise<Response>;
