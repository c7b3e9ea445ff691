// The package in Node, driven by x402-core's shared vectors: the official
// facilitator's verdicts, payments made by the official client, EIP-712 hashes
// and signatures of viem and eth-account, and the official header encoders.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  createPayment,
  decodeHeader,
  encodeHeader,
  hashTypedData,
  privateKeyToAddress,
  recoverAddress,
  selectRequirement,
  verify,
  verifyPaymentHeader,
} from "paywire";

import { vectors } from "../lib/harness.mjs";
import { differences, expectedVerdict, verifyOptions } from "../lib/expect.mjs";

describe("official-verdicts.json: the official facilitator's verdicts", () => {
  const all = vectors("official-verdicts.json");
  test("has every vector", () => assert.ok(all.length >= 100, `${all.length}`));
  all.forEach((v, i) => {
    test(v.name, () => {
      if (v.category === "eip2612-gas-sponsoring") {
        // The default flavour leaves eip2612GasSponsoring out (its size
        // budget): the payment is judged as the same one without it, owing
        // its Permit2 allowance (paywire/fast and paywire/full judge it).
        const bare = structuredClone(v.request);
        delete bare.paymentPayload.extensions;
        assert.deepEqual(verify(v.request, v.now, verifyOptions(v)), verify(bare, v.now, verifyOptions(v)));
        return;
      }
      // Half as objects, half as JSON text: both must read the same.
      const request = i % 2 === 0 ? v.request : JSON.stringify(v.request);
      const verdict = verify(request, v.now, verifyOptions(v));
      assert.deepEqual(differences(verdict, expectedVerdict(v)), []);
      if (verdict.isValid) {
        assert.ok(verdict.extra.chainChecks.length > 0, "a valid verdict lists the chain checks owed");
      } else {
        assert.equal(typeof verdict.invalidMessage, "string");
      }
    });
  });
});

describe("official-payments.json: payments made by the official client", () => {
  vectors("official-payments.json").forEach((v, i) => {
    const options = verifyOptions(v);
    test(`${v.name}: the header verifies`, () => {
      const verdict = verifyPaymentHeader(v.header, v.paymentRequirements, v.now, options);
      assert.equal(verdict.isValid, true, JSON.stringify(verdict));
      assert.equal(verdict.payer.toLowerCase(), v.payer.toLowerCase());
      assert.deepEqual(decodeHeader(v.headerName, v.header), v.paymentPayload);
      const body = {
        x402Version: v.x402Version,
        paymentPayload: v.paymentPayload,
        paymentRequirements: v.paymentRequirements,
      };
      assert.equal(verify(body, v.now, options).isValid, true);
      // Seconds later than validBefore allows: refused.
      assert.equal(verify(body, v.now + 100_000, options).isValid, false);
    });
    test(`${v.name}: a payment created here for the same 402 verifies`, () => {
      const key = "0x" + (i + 1).toString(16).padStart(2, "0").repeat(32);
      const nonce = "0xa5" + "00".repeat(30) + i.toString(16).padStart(2, "0");
      const opts = { allowUpto: true, nowUnix: v.now, nonce };
      const value = createPayment(v.paymentRequired, key, opts);
      const selected = selectRequirement(v.paymentRequired, opts);
      const verdict = verifyPaymentHeader(value, selected.requirements, v.now, options);
      assert.equal(verdict.isValid, true, JSON.stringify(verdict));
      assert.equal(verdict.payer, privateKeyToAddress(key));
      const payload = decodeHeader(v.x402Version === 1 ? "X-PAYMENT" : "PAYMENT-SIGNATURE", value);
      assert.equal(payload.x402Version, v.x402Version);
      // Deterministic (RFC 6979, fixed nonce and time): the same 402 given as
      // a header value, or as JSON text, gives the same payment.
      assert.equal(createPayment(JSON.stringify(v.paymentRequired), key, opts), value);
      if (v.x402Version === 2) {
        const header = encodeHeader("PAYMENT-REQUIRED", v.paymentRequired);
        assert.equal(createPayment(header, key, opts), value);
      }
    });
  });
});

for (const file of ["eip712.json", "eip712-eth-account.json"]) {
  describe(`${file}: EIP-712 hashes and signatures`, () => {
    for (const v of vectors(file)) {
      test(v.name, () => {
        const h = hashTypedData({
          types: v.types,
          primaryType: v.primaryType,
          domain: v.domain,
          message: v.message,
        });
        assert.equal(h.domainSeparator, v.domainSeparator.toLowerCase());
        assert.equal(h.structHash, v.structHash.toLowerCase());
        assert.equal(h.digest, v.digest.toLowerCase());
        assert.equal(privateKeyToAddress(v.privateKey), v.address);
        assert.equal(recoverAddress(v.digest, v.signature), v.address);
      });
    }
  });
}

describe("sdk-headers.json: the official header encoders", () => {
  for (const v of vectors("sdk-headers.json")) {
    test(`${v.name}: decodes to the SDK's object and encodes to its bytes`, () => {
      assert.deepEqual(decodeHeader(v.header, v.value), v.json);
      assert.equal(encodeHeader(v.header, v.json), v.value);
      assert.equal(encodeHeader(v.header.toLowerCase(), JSON.stringify(v.json)), v.value);
    });
  }
});
