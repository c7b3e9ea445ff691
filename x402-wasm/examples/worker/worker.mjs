// A paid route on Cloudflare Workers with x402, verified inside the Worker.
//
//   GET /premium                        -> 402, PAYMENT-REQUIRED: what to pay
//   GET /premium + PAYMENT-SIGNATURE    -> 200 and the content, PAYMENT-RESPONSE
//                 (invalid or refused)  -> 402, PAYMENT-REQUIRED whose `error` is the reason
//
// The payment is verified here, in microseconds, with no round trip. Then:
// - if env.FACILITATOR_URL is set, it is settled through that facilitator's
//   POST /settle before the content is served, and PAYMENT-RESPONSE carries the
//   facilitator's answer;
// - otherwise, if env.RPC_URL and env.FACILITATOR_PRIVATE_KEY are set, the
//   Worker settles it itself: x402-wasm's ChainMachine builds the calls (chain
//   id, the token's code, a simulation, the account nonce, fees, an EIP-1559
//   transaction signed with that key, its receipt) and the Worker sends each to
//   the node with fetch. PAYMENT-RESPONSE carries the transaction hash; a
//   payment the chain refuses (replayed, underfunded) is a 402 with the reason.
//   ChainMachine is in the package's `full` flavour (config-rpc.capnp);
// - otherwise the Worker only verifies: its PAYMENT-RESPONSE has an empty
//   `transaction`, and settling the signed authorization (and refusing its
//   replay until then) is left to the operator.
//
// Settings (env): PAY_TO (required), NETWORK, ASSET, PRICE (atomic units),
// TOKEN_NAME and TOKEN_VERSION (the token's EIP-712 domain), FACILITATOR_URL,
// RPC_URL and FACILITATOR_PRIVATE_KEY (0x + 64 hex digits; it pays the gas).
import * as x402 from "x402-wasm";

const { decodeHeader, encodeHeader, verifyPaymentHeader } = x402;

const json = (body, status, headers = {}) =>
  new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });

/** What this route charges: USDC on Base Sepolia unless configured otherwise. */
function requirementsFrom(env) {
  return {
    scheme: "exact",
    network: env.NETWORK ?? "eip155:84532",
    amount: env.PRICE ?? "10000",
    asset: env.ASSET ?? "0x036CbD53842c5426634e7929541eC2318f3dCF7e",
    payTo: env.PAY_TO,
    maxTimeoutSeconds: 60,
    extra: { name: env.TOKEN_NAME ?? "USDC", version: env.TOKEN_VERSION ?? "2" },
  };
}

function paymentRequired(request, requirements, error) {
  const body = {
    x402Version: 2,
    error,
    resource: { url: request.url, description: "Premium data", mimeType: "application/json" },
    accepts: [requirements],
  };
  return json(body, 402, { "PAYMENT-REQUIRED": encodeHeader("PAYMENT-REQUIRED", body) });
}

/** POST /settle at the facilitator; answers its SettleResponse, checked. */
async function settle(facilitatorUrl, paymentPayload, paymentRequirements) {
  const base = facilitatorUrl.endsWith("/") ? facilitatorUrl : `${facilitatorUrl}/`;
  const res = await fetch(new URL("settle", base), {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ x402Version: 2, paymentPayload, paymentRequirements }),
  });
  if (!res.ok) throw new Error(`the facilitator answered HTTP ${res.status}`);
  const answer = await res.json();
  encodeHeader("PAYMENT-RESPONSE", answer); // throws unless it is a SettleResponse
  return answer;
}

/**
 * Settles through a node's JSON-RPC at `rpcUrl`, paying gas with `privateKey`:
 * the ChainMachine says which request to send, this loop sends it.
 */
async function settleOnChain(rpcUrl, privateKey, paymentPayload, paymentRequirements) {
  if (typeof x402.ChainMachine !== "function") {
    throw new Error("this build of x402-wasm has no ChainMachine: use the `full` flavour");
  }
  const body = { x402Version: 2, paymentPayload, paymentRequirements };
  const machine = x402.ChainMachine.settle(body, privateKey);
  try {
    for (;;) {
      const step = machine.next();
      if (step.done) return step.outcome;
      if (step.delayMs) await new Promise((resolve) => setTimeout(resolve, step.delayMs));
      const res = await fetch(rpcUrl, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: step.request,
      });
      if (!res.ok) throw new Error(`the RPC node answered HTTP ${res.status}`);
      machine.feed(await res.text());
    }
  } finally {
    machine.free();
  }
}

export default {
  async fetch(request, env) {
    if (new URL(request.url).pathname !== "/premium") {
      return json({ error: "not found" }, 404);
    }
    if (!env.PAY_TO) return json({ error: "PAY_TO is not configured" }, 500);
    const requirements = requirementsFrom(env);

    const header = request.headers.get("PAYMENT-SIGNATURE");
    if (!header) {
      return paymentRequired(request, requirements, "PAYMENT-SIGNATURE header is required");
    }
    const verdict = verifyPaymentHeader(header, requirements);
    if (!verdict.isValid) return paymentRequired(request, requirements, verdict.invalidReason);

    let settlement = {
      success: true,
      transaction: "",
      network: requirements.network,
      payer: verdict.payer,
    };
    const onChain = !env.FACILITATOR_URL && env.RPC_URL && env.FACILITATOR_PRIVATE_KEY;
    if (env.FACILITATOR_URL || onChain) {
      try {
        const payload = decodeHeader("PAYMENT-SIGNATURE", header);
        settlement = onChain
          ? await settleOnChain(env.RPC_URL, env.FACILITATOR_PRIVATE_KEY, payload, requirements)
          : await settle(env.FACILITATOR_URL, payload, requirements);
      } catch (e) {
        return json({ error: "settlement failed", detail: String(e?.message ?? e) }, 502);
      }
      if (!settlement.success) {
        return paymentRequired(request, requirements, settlement.errorReason ?? "settlement_failed");
      }
    }
    return json({ data: "premium content", payer: verdict.payer }, 200, {
      "PAYMENT-RESPONSE": encodeHeader("PAYMENT-RESPONSE", settlement),
    });
  },
};
