
/** An x402 header name; matched case-insensitively. */
export type HeaderName =
  | "PAYMENT-REQUIRED"
  | "PAYMENT-SIGNATURE"
  | "PAYMENT-RESPONSE"
  | "X-PAYMENT"
  | "X-PAYMENT-RESPONSE"
  | (string & {});

/** What a paid resource is. */
export interface ResourceInfo {
  url: string;
  description?: string;
  mimeType?: string;
  /** The service's name, for people: 1 to 32 printable ASCII characters. */
  serviceName?: string;
  /** Up to 5 tags, each 1 to 32 printable ASCII characters. */
  tags?: string[];
  /** An icon's URL, at most 2048 characters. */
  iconUrl?: string;
  [member: string]: unknown;
}

/** `extensions`: id → `{ info, schema }`; a client echoes what it received. */
export type Extensions = Record<string, unknown>;

/** One way to pay (x402 v2). Amounts are decimal strings of atomic units. */
export interface PaymentRequirements {
  scheme: string;
  /** CAIP-2, e.g. `eip155:8453`. */
  network: string;
  amount: string;
  asset: string;
  payTo: string;
  maxTimeoutSeconds: number;
  /** EIP-3009 tokens: `{ name, version }` (the token's EIP-712 domain). */
  extra?: Record<string, unknown>;
  [member: string]: unknown;
}

/** One way to pay (x402 v1). */
export interface PaymentRequirementsV1 {
  scheme: string;
  /** A v1 network name, e.g. `base-sepolia`. */
  network: string;
  maxAmountRequired: string;
  resource: string;
  description: string;
  mimeType: string;
  outputSchema?: unknown;
  payTo: string;
  maxTimeoutSeconds: number;
  asset: string;
  extra?: Record<string, unknown>;
  [member: string]: unknown;
}

/** The 402 answer (v2: the `PAYMENT-REQUIRED` header). */
export interface PaymentRequired {
  x402Version: 2;
  error?: string;
  resource: ResourceInfo;
  accepts: PaymentRequirements[];
  extensions?: Extensions;
  [member: string]: unknown;
}

/** The 402 answer of x402 v1 (the response body). */
export interface PaymentRequiredV1 {
  x402Version: 1;
  error?: string;
  accepts: PaymentRequirementsV1[];
  [member: string]: unknown;
}

/** EIP-3009 `transferWithAuthorization` parameters. */
export interface Eip3009Authorization {
  from: string;
  to: string;
  value: string;
  validAfter: string;
  validBefore: string;
  /** `0x` + 32 bytes hex. */
  nonce: string;
}

/** `exact` with EIP-3009. */
export interface ExactEvmPayload {
  signature: string;
  authorization: Eip3009Authorization;
}

/** `exact` and `upto` with Permit2. */
export interface Permit2Payload {
  signature: string;
  permit2Authorization: {
    from: string;
    permitted: { token: string; amount: string };
    spender: string;
    nonce: string;
    deadline: string;
    witness: { to: string; facilitator?: string; validAfter: string };
  };
}

/** What the client sends (v2: the `PAYMENT-SIGNATURE` header). */
export interface PaymentPayload {
  x402Version: 2;
  resource?: ResourceInfo;
  accepted: PaymentRequirements;
  payload: ExactEvmPayload | Permit2Payload | Record<string, unknown>;
  extensions?: Extensions;
  [member: string]: unknown;
}

/** What the client sends in x402 v1 (the `X-PAYMENT` header). */
export interface PaymentPayloadV1 {
  x402Version: 1;
  scheme: string;
  network: string;
  payload: ExactEvmPayload | Record<string, unknown>;
  [member: string]: unknown;
}

/** The settlement result (`PAYMENT-RESPONSE`, v1 `X-PAYMENT-RESPONSE`), as `POST /settle` answers. */
export interface SettleResponse {
  success: boolean;
  errorReason?: string;
  payer?: string;
  transaction: string;
  network: string;
  amount?: string;
  extensions?: Extensions;
  /** Scheme-specific details (`cloudflare:402`: `{ timestamp }`). */
  extra?: Record<string, unknown>;
  [member: string]: unknown;
}

/** Any document an x402 header carries. */
export type X402Document =
  | PaymentRequired
  | PaymentRequiredV1
  | PaymentPayload
  | PaymentPayloadV1
  | SettleResponse;

/** The body of a facilitator's `POST /verify` (and `POST /settle`). */
export interface VerifyRequest {
  x402Version: 1 | 2;
  paymentPayload: PaymentPayload | PaymentPayloadV1;
  paymentRequirements: PaymentRequirements | PaymentRequirementsV1;
  [member: string]: unknown;
}

/** A check only the chain can answer, owed after a valid offline verdict. */
export interface ChainCheck {
  check:
    | "assetIsContract"
    | "eip3009NonceUnused"
    | "balanceAtLeast"
    | "permit2AllowanceAtLeast"
    | "simulateEip3009Transfer"
    | "simulatePermit2Settle"
    /** A smart wallet's signature (ERC-1271, ERC-6492): owed only to hosts that check it. */
    | "payerSignature"
    /** `exact` on Solana (`paywire/full`): simulating the transaction covers all four. */
    | "blockhashRecent"
    | "destinationExists"
    | "sourceBalanceAtLeast"
    | "simulate";
  asset?: string;
  authorizer?: string;
  nonce?: string;
  owner?: string;
  amount?: string;
  proxy?: string;
  payer?: string;
  /** The EIP-712 digest a smart wallet must accept. */
  digest?: string;
  /** Solana: the transaction's blockhash (base58). */
  blockhash?: string;
  /** Solana: a token account (base58). */
  account?: string;
}

/** The verdict: the reference facilitator's `VerifyResponse`. */
export interface VerifyResponse {
  isValid: boolean;
  /** The reference SDK's reason string, when invalid. */
  invalidReason?: string;
  /** Why, for people, when invalid. */
  invalidMessage?: string;
  /** The payer named by the payload (EIP-55, or base58 on Solana). */
  payer?: string;
  /** When valid: what the host must still check on chain. */
  extra?: { chainChecks: ChainCheck[] };
}

/** Settings of the verifier. Unknown members are refused. */
export interface VerifyOptions {
  /** This facilitator's signer addresses: `upto` payments must name one. */
  facilitatorAddresses?: string[];
}

/**
 * What a client will pay, and the inputs it would otherwise take from the
 * runtime. Unknown members are refused, so a misspelt limit never goes unseen.
 */
export interface PaymentOptions {
  /** Most paid for one request, in atomic units (a decimal string). No cap if absent. */
  maxAmount?: string;
  /** Networks allowed (CAIP-2 or v1 names). Any if absent. */
  networks?: string[];
  /** Tokens allowed. Any if absent. */
  assets?: string[];
  /** Whether `upto` payments may be made. Default false. */
  allowUpto?: boolean;
  /** Unix seconds; default: the JavaScript clock. */
  nowUnix?: number;
  /** `0x` + 32 bytes hex; default: `crypto.getRandomValues`. */
  nonce?: string;
  /**
   * What only the chain knows, for `eip2612GasSponsoring` (`paywire/full`;
   * the default and fast flavours refuse the member): the payer's
   * `allowance(owner, Permit2)` on the token (`null`: it could not be read,
   * which counts as not enough) and its `nonces(owner)`, decimal strings.
   * `gasSponsoringReads` says what to ask a node, `uint256Response` reads the
   * answers. A Permit2 payment then carries a permit for Permit2 when the
   * offer declares the extension and the allowance falls short.
   */
  chainFacts?: { permit2Allowance: string | null; permitNonce: string };
}

/** The spending policy: the members of `PaymentOptions` that limit what is paid. */
export type Policy = Pick<PaymentOptions, "maxAmount" | "networks" | "assets" | "allowUpto">;

/** The requirement a client would pay. */
export interface SelectedRequirement {
  /** Index in `accepts`. */
  index: number;
  x402Version: 1 | 2;
  method: "eip3009" | "permit2" | "upto";
  chainId: number;
  asset: string;
  payTo: string;
  requirements: PaymentRequirements | PaymentRequirementsV1;
}

/** An EIP-712 signature request of one of x402's primary types. */
export interface TypedData {
  /** If given, must be exactly the x402 definitions. */
  types?: Record<string, { name: string; type: string }[]>;
  primaryType: "TransferWithAuthorization" | "PermitWitnessTransferFrom";
  domain: { name: string; version?: string; chainId: number; verifyingContract: string };
  message: Record<string, unknown>;
}

/** `hashStruct(domain)`, `hashStruct(message)` and the digest that is signed. */
export interface TypedDataHashes {
  domainSeparator: string;
  structHash: string;
  digest: string;
}

/** Every error this package throws. */
export interface X402Error extends Error {
  /** The core's reason string (`invalid_payload`, ...) or `invalid_argument`. */
  code: string;
}
