// The payment-identifier extension, against the official helpers
// (@x402/extensions 2.27): a server declaring it with the official
// `declarePaymentIdentifierExtension` gets, from this package's createPayment,
// a payment whose extension the official validator accepts and whose id the
// official extractor reads; the same payment created again keeps its id.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  declarePaymentIdentifierExtension,
  extractPaymentIdentifier,
  validatePaymentIdentifier,
  validatePaymentIdentifierRequirement,
} from "@x402/extensions";
import * as x402 from "paywire";

const offer = (extensions) => ({
  x402Version: 2,
  resource: { url: "https://api.example.com/report" },
  accepts: [{
    scheme: "exact",
    network: "eip155:84532",
    amount: "10000",
    asset: "0x036CbD53842c5426634e7929541eC2318f3dCF7e",
    payTo: "0x209693Bc6afc0C5328bA36FaF03C514EF312287C",
    maxTimeoutSeconds: 60,
    extra: { name: "USDC", version: "2" },
  }],
  extensions,
});
const KEY = "0x" + "4d".repeat(32);
const NONCE = "0x" + "a5".repeat(32);

test("an id the official helpers accept and read, stable for one payment", () => {
  for (const required of [true, false]) {
    const pr = offer({ "payment-identifier": declarePaymentIdentifierExtension(required) });
    const header = x402.createPayment(pr, KEY, { nonce: NONCE, nowUnix: 1_750_000_000 });
    const payload = x402.decodeHeader("PAYMENT-SIGNATURE", header);
    const ext = payload.extensions["payment-identifier"];
    assert.deepEqual(validatePaymentIdentifier(ext), { valid: true });
    assert.equal(extractPaymentIdentifier(payload), `pay_${"a5".repeat(16)}`);
    assert.deepEqual(validatePaymentIdentifierRequirement(payload, required), { valid: true });
    assert.deepEqual(ext.schema, declarePaymentIdentifierExtension(required).schema);
    const again = x402.createPayment(pr, KEY, { nonce: NONCE, nowUnix: 1_750_000_000 });
    assert.equal(again, header, "the same payment, the same id");
  }
  // Not declared: no id, and the extensions as the server sent them.
  const plain = x402.decodeHeader(
    "PAYMENT-SIGNATURE",
    x402.createPayment(offer({ other: { info: { a: 1 } } }), KEY, { nonce: NONCE, nowUnix: 1_750_000_000 }),
  );
  assert.deepEqual(plain.extensions, { other: { info: { a: 1 } } });
  assert.equal(extractPaymentIdentifier(plain), null);
});
