
// batch-settlement on cloudflare:402 (the `paywire/full` flavour).

/** An HTTP request as `verifyBatchSettlement` and `signRequest` read it. */
export interface HttpRequestParts {
  method: string;
  /** The absolute target URI; its authority is what `@authority` signs. */
  url: string;
  /** Header lines in order, names in any case. */
  headers: [string, string][];
}

/** Input of `verifyBatchSettlement`. */
export interface BatchSettlementInput {
  request: HttpRequestParts;
  /** A PaymentRequired, an array of PaymentRequirements, or one. */
  requirements: unknown;
  /** The agents the network knows, each with its JWK Set. */
  directories: Record<string, { keys: Record<string, unknown>[] }>;
  /** Unix seconds. */
  now: number;
  config?: { maxClockSkew?: number; maxAge?: number; maxValidity?: number };
}

/** Output of `verifyBatchSettlement`. */
export interface BatchSettlementResult {
  verdict: {
    isValid: boolean;
    invalidReason?: string;
    invalidMessage?: string;
    /** The Signature-Agent the request names. */
    payer?: string;
    extra: {
      /** The network's error code (`invalid_signature`, `price_not_acceptable`, ...). */
      errorCode?: string;
      scheme?: string;
      network?: string;
      amount?: string;
      asset?: string;
      keyid?: string;
      label?: string;
      created?: number;
      expires?: number;
    };
  };
  /** The PAYMENT-RESPONSE header value, when valid. */
  paymentResponse?: string;
}

/** Input of `signRequest`. */
export interface SignRequestInput {
  /** Must carry its PAYMENT-SIGNATURE header. */
  request: HttpRequestParts;
  /** The Ed25519 JWK `d` (base64url of the 32-byte seed). */
  privateKey: string;
  /** The Signature-Agent value to send (`"https://agent.example"`). */
  signatureAgent: string;
  signatureAgentKey?: string;
  label?: string;
  created: number;
  expires: number;
  nonce?: string;
}

/** Output of `signRequest`: header values and the key id (JWK thumbprint). */
export interface SignedRequestHeaders {
  signatureAgent: string;
  signatureInput: string;
  signature: string;
  keyid: string;
}
