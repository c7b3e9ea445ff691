// paywire/fetch: a fetch that pays on 402.
//
//   import * as x402 from "paywire";
//   import { wrapFetch } from "paywire/fetch";
//   const pay = wrapFetch(fetch, { x402, privateKey, policy: { maxAmount: "10000", networks: ["eip155:8453"] } });
//   const res = await pay("https://example.com/weather");
//
// On a 402 it reads the offer (PAYMENT-REQUIRED, or an x402 v1 body), pays
// the first requirement the policy allows (`exact`; `upto` when
// `policy.allowUpto`), and sends the request once more with the payment. It
// never pays twice for one call: a 402 after paying throws
// `PaymentRefusedError`; an offer the policy refuses throws
// `PaymentPolicyError`, before anything is signed.

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
 * `fetchImpl` that pays on 402 with `privateKey` (0x + 32 bytes hex) within
 * `policy` (`maxAmount`, `networks`, `assets`, `allowUpto`: the package's
 * `Policy`). `x402` is the package (any flavour).
 */
export function wrapFetch(fetchImpl, { x402, privateKey, policy = {} }) {
  if (typeof x402?.createPayment !== "function") {
    throw new TypeError("wrapFetch: pass the package as `x402` (import * as x402 from \"paywire\")");
  }
  if (typeof privateKey !== "string") throw new TypeError("wrapFetch: privateKey is 0x + 64 hex digits");
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
      // x402 v1: the offer is the body.
      offer = await first.clone().text();
      name = "X-PAYMENT";
    }
    let payment;
    try {
      payment = x402.createPayment(offer, privateKey, { ...policy });
    } catch (e) {
      throw new PaymentPolicyError(`not paid: ${e?.message ?? e}`, first);
    }
    await first.body?.cancel();
    again.headers.set(name, payment);
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
