// The `paywire/full` flavour: the same payments API, plus batch-settlement on
// cloudflare:402 (RFC 9421 signatures with Ed25519), which the default flavour
// leaves out to stay small.
import assert from "node:assert/strict";
import { test } from "node:test";

import * as lean from "paywire";
import * as full from "paywire/full";

import { vectors } from "../lib/harness.mjs";
import { differences, expectedVerdict, verifyOptions } from "../lib/expect.mjs";

const NOW = 1_750_000_000;
// RFC 9421 Appendix B.1.4: the Ed25519 test key (JWK d and x) and its thumbprint.
const RFC9421_D = "n4Ni-HpISpVObnQMW0wOhCKROaIKqKtW_2ZYb2p9KcU";
const RFC9421_X = "JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs";
const RFC9421_KEYID = "poqkLGiymh_W0uP6PZFw-dvez3QJT5SolqXBCW38r0U";

test("the flavours share the payments API; only full has batch-settlement", () => {
  for (const name of Object.keys(lean)) assert.ok(name in full, name);
  assert.equal("verifyBatchSettlement" in lean, false);
  assert.equal("signRequest" in lean, false);
  assert.equal(typeof full.verifyBatchSettlement, "function");
  assert.equal(typeof full.signRequest, "function");
});

test("full gives the same verdicts on the official vectors", () => {
  for (const v of vectors("official-verdicts.json")) {
    const verdict = full.verify(v.request, v.now, verifyOptions(v));
    assert.deepEqual(differences(verdict, expectedVerdict(v)), [], v.name);
    // The default flavour leaves eip2612GasSponsoring out; full judges it.
    if (v.category !== "eip2612-gas-sponsoring") {
      assert.deepEqual(verdict, lean.verify(v.request, v.now, verifyOptions(v)), v.name);
    }
  }
});

test("batch-settlement: a request signed here verifies; an unknown agent is refused", () => {
  const accepted = {
    scheme: "batch-settlement",
    network: "cloudflare:402",
    amount: "5",
    asset: "USD",
    payTo: "merchant",
    maxTimeoutSeconds: 30,
  };
  const payment = full.encodeHeader("PAYMENT-SIGNATURE", {
    x402Version: 2,
    payload: { amount: "5", asset: "USD" },
    accepted,
  });
  const request = {
    method: "GET",
    url: "https://example.com/article",
    headers: [["PAYMENT-SIGNATURE", payment]],
  };
  const signed = full.signRequest({
    request,
    privateKey: RFC9421_D,
    signatureAgent: '"https://agent.example"',
    created: NOW,
    expires: NOW + 60,
  });
  assert.equal(signed.keyid, RFC9421_KEYID);
  const input = {
    request: {
      ...request,
      headers: [
        ...request.headers,
        ["Signature-Agent", signed.signatureAgent],
        ["Signature-Input", signed.signatureInput],
        ["Signature", signed.signature],
      ],
    },
    requirements: [accepted],
    directories: {
      "https://agent.example": { keys: [{ kty: "OKP", crv: "Ed25519", x: RFC9421_X }] },
    },
    now: NOW + 5,
  };
  const ok = full.verifyBatchSettlement(input);
  assert.equal(ok.verdict.isValid, true, JSON.stringify(ok));
  // The batch-settlement receipt: a SettleResponse with no transaction.
  const receipt = JSON.parse(Buffer.from(ok.paymentResponse, "base64").toString("utf8"));
  assert.deepEqual(receipt, {
    success: true, transaction: "", network: "cloudflare:402", payer: "https://agent.example",
    amount: "5", asset: "USD", extra: { timestamp: NOW + 5 },
  });
  assert.equal(full.decodeHeader("PAYMENT-RESPONSE", ok.paymentResponse).success, true);

  const stranger = full.verifyBatchSettlement({ ...input, directories: {} });
  assert.equal(stranger.verdict.isValid, false);
  assert.equal(
    stranger.verdict.invalidReason,
    "invalid_batch_settlement_cloudflare_signature_agent_unknown",
  );
  assert.equal(stranger.verdict.extra.errorCode, "signature_agent_unknown");

  const late = full.verifyBatchSettlement({ ...input, now: NOW + 3600 });
  assert.equal(late.verdict.isValid, false);

  const e = (() => {
    try {
      full.verifyBatchSettlement("[]");
    } catch (err) {
      return err;
    }
  })();
  assert.ok(e instanceof Error);
  assert.equal(e.code, "invalid_payload");
});
