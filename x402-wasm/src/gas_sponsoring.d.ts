
/** A JSON-RPC request body (`eth_call`), to POST to a node as JSON. */
export interface JsonRpcRequest {
  jsonrpc: "2.0";
  id: number;
  method: "eth_call";
  params: [{ to: string; data: string }, "latest"];
}

/**
 * What to read from the chain before paying a Permit2 offer that declares
 * `eip2612GasSponsoring` (`gasSponsoringReads`; `paywire/full`).
 */
export interface GasSponsoringReads {
  /** The offer's network (CAIP-2): ask a node of this chain. */
  network: string;
  chainId: number;
  /** The token. */
  token: string;
  /** The payer. */
  owner: string;
  /** `allowance(owner, Permit2)` on the token. */
  allowance: JsonRpcRequest;
  /** `nonces(owner)` on the token (EIP-2612's permit nonce). */
  nonces: JsonRpcRequest;
}
