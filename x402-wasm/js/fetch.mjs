// paywire/fetch: a fetch that pays on 402.
//
//   import * as x402 from "paywire";
//   import { wrapFetch } from "paywire/fetch";
//   const pay = wrapFetch(fetch, { x402, privateKey, policy: { maxAmount: "10000", networks: ["eip155:8453"] } });
//   const res = await pay("https://example.com/weather");
//
// On a 402 it reads the offer (PAYMENT-REQUIRED, or an x402 v1 body), pays
// the first requirement the policy allows (`exact`; `upto` when
// `policy.allowUpto`; `batch-settlement` on cloudflare:402 when an `agent`
// is given: the request is signed with the agent's Ed25519 key, RFC 9421,
// committing to pay, billed later), and sends the request once more. It
// never pays twice for one call: a 402 after paying throws
// `PaymentRefusedError`; an offer the policy refuses throws
// `PaymentPolicyError`, before anything is signed.
//
// With `rpcUrl` (the `full` flavour), a Permit2 offer that declares
// `eip2612GasSponsoring` is paid by a payer without a Permit2 allowance too:
// the client reads the payer's allowance and EIP-2612 nonce on the token from
// the node (two `eth_call`s, bounded in time) and attaches a permit for
// Permit2 when the allowance falls short, as the official client does.

/** The offer was not paid: no requirement is one the policy allows. */
export class PaymentPolicyError extends Error {
  constructor(message, response) {
    super(message);
    this.name = "PaymentPolicyError";
    /** The 402 response. */
    this.response = response;
  }
}

/** The server answered 402 again after being paid: nothing more is paid. */
export class PaymentRefusedError extends Error {
  constructor(message, reason, response) {
    super(message);
    this.name = "PaymentRefusedError";
    /** The server's reason (the 402's `error`), or "". */
    this.reason = reason;
    /** The second 402 response. */
    this.response = response;
  }
}

/** The `error` of a 402 (PAYMENT-REQUIRED, else its JSON body), or "". */
async function reasonOf(x402, res) {
  const header = res.headers.get("payment-required");
  try {
    if (header) return x402.decodeHeader("PAYMENT-REQUIRED", header).error ?? "";
    return (await res.clone().json()).error ?? "";
  } catch {
    return "";
  }
}

/**
 * The headers that commit `agent` to pay for `request`: `payment` (the
 * package's `createBatchPayment`), and the RFC 9421 signature over it
 * (Signature-Agent, Signature-Input, Signature).
 */
function batchHeaders(x402, request, payment, agent) {
  const created = Math.floor(Date.now() / 1000);
  const s = x402.signRequest({
    request: { method: request.method, url: request.url, headers: [["PAYMENT-SIGNATURE", payment]] },
    privateKey: agent.privateKey,
    signatureAgent: `"${agent.origin}"`,
    created,
    expires: created + (agent.validSeconds ?? 60),
  });
  return {
    "PAYMENT-SIGNATURE": payment,
    "Signature-Agent": s.signatureAgent,
    "Signature-Input": s.signatureInput,
    Signature: s.signature,
  };
}

/** The node to ask about `network`: `rpcUrl` itself, or its member for the network. */
function rpcUrlFor(rpcUrl, network) {
  if (typeof rpcUrl === "string") return rpcUrl;
  const url = rpcUrl?.[network];
  return typeof url === "string" ? url : undefined;
}

/** One `eth_call` (a JSON-RPC body): its uint256 answer as a decimal string, or null. */
async function readUint256(x402, url, body, timeoutMs) {
  try {
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (!res.ok) {
      await res.body?.cancel();
      return null;
    }
    return x402.uint256Response(await res.text());
  } catch {
    return null;
  }
}

/**
 * The chain's facts for `createPayment` (`chainFacts`), or undefined when no
 * permit would be attached: the offer is not a Permit2 one declaring
 * `eip2612GasSponsoring`, no node is given for its network, or the nonce
 * could not be read. An allowance that could not be read is `null`: not
 * enough, as the official client counts it.
 */
async function chainFacts(x402, offer, privateKey, policy, rpcUrl, timeoutMs) {
  let reads;
  try {
    reads = x402.gasSponsoringReads(offer, x402.privateKeyToAddress(privateKey), policy);
  } catch {
    return undefined; // createPayment reports what is wrong with the offer
  }
  const url = reads && rpcUrlFor(rpcUrl, reads.network);
  if (!url) return undefined;
  const [permit2Allowance, permitNonce] = await Promise.all([
    readUint256(x402, url, reads.allowance, timeoutMs),
    readUint256(x402, url, reads.nonces, timeoutMs),
  ]);
  if (permitNonce === null) return undefined;
  return { permit2Allowance, permitNonce };
}

/**
 * `fetchImpl` that pays on 402 with `privateKey` (0x + 32 bytes hex) within
 * `policy` (`maxAmount`, required; `networks`, `assets`, `allowUpto`: the
 * package's `Policy`). `x402` is the package (any flavour; the `full` one for
 * `agent`). `agent` (optional): `{privateKey, origin, maxAmount?,
 * validSeconds?}`, the Ed25519 JWK `d` of an agent whose key directory is at
 * `origin`, for `batch-settlement` offers (at most `maxAmount` each).
 * `rpcUrl` (optional; `paywire/full`): a node's JSON-RPC
 * URL, or an object of them by network (CAIP-2), read for
 * `eip2612GasSponsoring` (each read bounded by `rpcTimeoutMs`, 5000 by default).
 * `solana` (optional; `paywire/full`): `{seed, facts}`, the payer's Ed25519
 * seed (hex) and `async facts(offer)` answering the mint's `{tokenProgram,
 * decimals, recentBlockhash?}`: an offer the EVM key cannot pay is then paid
 * with `exact` on `solana:*` (`createSvmPayment`), within the same policy.
 */
export function wrapFetch(fetchImpl, { x402, privateKey, policy = {}, agent, rpcUrl, rpcTimeoutMs = 5000, solana }) {
  if (typeof x402?.createPayment !== "function") {
    throw new TypeError("wrapFetch: pass the package as `x402` (import * as x402 from \"paywire\")");
  }
  if (agent && typeof x402.signRequest !== "function") {
    throw new TypeError("wrapFetch: an agent signs with the `full` flavour (import * as x402 from \"paywire/full\")");
  }
  if (solana !== undefined) {
    if (typeof x402.createSvmPayment !== "function") {
      throw new TypeError('wrapFetch: solana needs the full flavour (import * as x402 from "paywire/full")');
    }
    if (typeof solana?.seed !== "string" || typeof solana.facts !== "function") {
      throw new TypeError("wrapFetch: solana is {seed: 64 hex digits, facts: async (offer) => SvmFacts}");
    }
  }
  if (typeof privateKey !== "string" && !agent && !solana) {
    throw new TypeError("wrapFetch: privateKey is 0x + 64 hex digits");
  }
  // The server names the price: without a cap it could ask for the whole wallet.
  if ((typeof privateKey === "string" || solana) && typeof policy.maxAmount !== "string") {
    throw new TypeError("wrapFetch: policy.maxAmount is required (the most one call pays, atomic units, a decimal string)");
  }
  if (rpcUrl !== undefined) {
    if (typeof rpcUrl !== "string" && (typeof rpcUrl !== "object" || rpcUrl === null)) {
      throw new TypeError("wrapFetch: rpcUrl is a URL, or an object of URLs by network (CAIP-2)");
    }
    // Refused rather than ignored: the payer would expect not to need an allowance.
    if (typeof x402.gasSponsoringReads !== "function") {
      throw new TypeError(
        'wrapFetch: rpcUrl (eip2612GasSponsoring) needs the full flavour (import * as x402 from "paywire/full")',
      );
    }
  }
  if (!(rpcTimeoutMs > 0)) {
    throw new TypeError("wrapFetch: rpcTimeoutMs is a positive number of milliseconds");
  }
  if (agent && typeof agent.maxAmount !== "string") {
    throw new TypeError("wrapFetch: agent.maxAmount is required (the most one call commits to, a decimal string)");
  }
  return async function paidFetch(input, init) {
    const request = new Request(input, init);
    // The body may be needed twice: keep a copy before the first send.
    const again = request.clone();
    const first = await fetchImpl(request);
    if (first.status !== 402) return first;
    const header = first.headers.get("payment-required");
    let offer;
    let name;
    if (header) {
      offer = header;
      name = "PAYMENT-SIGNATURE";
    } else {
      // x402 v1: the offer is the body (bounded).
      const text = await first.clone().text();
      if (text.length > 64 * 1024) throw new PaymentPolicyError("not paid: the 402's body is over 64 KiB", first);
      offer = text;
      name = "X-PAYMENT";
    }
    let batch = null;
    if (agent && header) {
      try {
        batch = x402.createBatchPayment(header, { maxAmount: agent.maxAmount });
      } catch {
        batch = null; // no batch-settlement offer the agent may commit to
      }
    }
    if (batch) {
      for (const [n, v] of Object.entries(batchHeaders(x402, again, batch, agent))) again.headers.set(n, v);
    } else {
      if (typeof privateKey !== "string" && !solana) {
        throw new PaymentPolicyError("not paid: no batch-settlement offer the agent may commit to", first);
      }
      let payment;
      const why = [];
      if (typeof privateKey === "string") {
        const facts = rpcUrl === undefined ? undefined : await chainFacts(x402, offer, privateKey, policy, rpcUrl, rpcTimeoutMs);
        try {
          payment = x402.createPayment(offer, privateKey, facts ? { ...policy, chainFacts: facts } : { ...policy });
        } catch (e) {
          why.push(e?.message ?? String(e));
        }
      }
      // exact on Solana is x402 v2: the offer is the PAYMENT-REQUIRED header.
      if (payment === undefined && solana && header) {
        try {
          payment = x402.createSvmPayment(offer, solana.seed, await solana.facts(offer), { ...policy });
        } catch (e) {
          why.push(`on Solana: ${e?.message ?? e}`);
        }
      }
      if (payment === undefined) {
        throw new PaymentPolicyError(`not paid: ${why.join("; ") || "no requirement to pay"}`, first);
      }
      again.headers.set(name, payment);
    }
    await first.body?.cancel();
    const second = await fetchImpl(again);
    if (second.status === 402) {
      const reason = await reasonOf(x402, second);
      throw new PaymentRefusedError(
        `the server refused the payment${reason ? `: ${reason}` : ""}; nothing more was paid`,
        reason,
        second,
      );
    }
    return second;
  };
}
