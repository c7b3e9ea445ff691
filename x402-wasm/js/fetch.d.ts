/** paywire/fetch: a fetch that pays on 402, once. */

/** What the client is willing to pay (the package's `Policy`). */
export interface FetchPolicy {
  /** The most one call pays, in atomic units (required when paying with a private key). */
  maxAmount: string;
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

/** An agent for batch-settlement offers: its Ed25519 key and where its key directory is. */
export interface FetchAgent {
  /** The Ed25519 JWK `d` (base64url of the 32-byte seed). */
  privateKey: string;
  /** The agent's origin (its key directory is at /.well-known/http-message-signatures-directory). */
  origin: string;
  /** The most committed for one request (the offer's unit). */
  maxAmount: string;
  /** How long a signature stays valid (default 60 s). */
  validSeconds?: number;
}

export function wrapFetch(
  fetchImpl: typeof fetch,
  options: { x402: unknown; privateKey?: string; policy?: FetchPolicy; agent?: FetchAgent },
): (input: RequestInfo | URL, init?: RequestInit) => Promise<Response>;
