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

/** The options of `wrapFetch`. */
export interface WrapFetchOptions {
  /** The package: `import * as x402 from "paywire"` (or `paywire/fast`, `paywire/full`). */
  x402: unknown;
  /** The payer's EVM key, 0x + 64 hex digits (optional with `agent` or `solana`). */
  privateKey?: string;
  policy?: FetchPolicy;
  /** For batch-settlement offers (the `full` flavour). */
  agent?: FetchAgent;
  /**
   * A node's JSON-RPC URL, or URLs by network (CAIP-2, e.g. `{"eip155:8453": "https://…"}`):
   * with it, a Permit2 offer declaring `eip2612GasSponsoring` is paid without a
   * Permit2 allowance (the payer's allowance and EIP-2612 nonce are read from the
   * node, and a permit for Permit2 is attached when the allowance falls short).
   * `paywire/full` only: with the default and fast flavours `wrapFetch` throws.
   * A failed allowance read counts as not enough; a failed nonce read means no permit.
   */
  rpcUrl?: string | Record<string, string>;
  /** Time allowed for each of those reads (default 5000 ms). */
  rpcTimeoutMs?: number;
  /**
   * `exact` on Solana (`paywire/full` only): an offer the EVM key cannot pay
   * is paid with `createSvmPayment`, within the same policy.
   */
  solana?: FetchSolanaPayer;
}

/** How `wrapFetch` pays on Solana. */
export interface FetchSolanaPayer {
  /** The payer's Ed25519 seed, 64 hex digits (0x optional). */
  seed: string;
  /**
   * What only the chain tells about the offer (the `PAYMENT-REQUIRED` value):
   * the mint's token program and decimals, and a recent blockhash for a
   * requirement without `extra.recentBlockhash`. A rejection leaves it unpaid.
   */
  facts(offer: string): Promise<{ tokenProgram: string; decimals: number; recentBlockhash?: string }>;
}

export function wrapFetch(
  fetchImpl: typeof fetch,
  options: WrapFetchOptions,
): (input: RequestInfo | URL, init?: RequestInit) => Promise<Response>;
