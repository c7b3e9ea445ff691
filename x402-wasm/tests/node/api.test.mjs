// The package's own contract in Node: defaults (clock, randomness), errors and
// their codes, policies, headers of both protocol versions.
import assert from "node:assert/strict";
import { test } from "node:test";

import init, {
  createPayment,
  decodeHeader,
  encodeHeader,
  hashTypedData,
  initSync,
  privateKeyToAddress,
  reasons,
  recoverAddress,
  selectRequirement,
  verify,
  verifyPaymentHeader,
} from "paywire";

const KEY = "0x" + "42".repeat(32);
const USDC_BASE_SEPOLIA = "0x036CbD53842c5426634e7929541eC2318f3dCF7e";
const PAY_TO = "0x209693Bc6afc0C5328bA36FaF03C514EF312287C";
const FACILITATOR = "0xfac11174700000000000000000000000000000fa";

const offer = (over = {}) => ({
  scheme: "exact",
  network: "eip155:84532",
  amount: "10000",
  asset: USDC_BASE_SEPOLIA,
  payTo: PAY_TO,
  maxTimeoutSeconds: 60,
  extra: { name: "USDC", version: "2" },
  ...over,
});
const paymentRequired = (...accepts) => ({
  x402Version: 2,
  resource: { url: "https://api.example.com/data", description: "Data" },
  accepts: accepts.length ? accepts : [offer()],
});

/** Runs `f` and answers the error it throws. */
function thrown(f) {
  try {
    f();
  } catch (e) {
    return e;
  }
  assert.fail("did not throw");
}

test("the module is ready on import; init and initSync are harmless again", async () => {
  assert.equal(typeof initSync, "function");
  await init();
  assert.equal(privateKeyToAddress(KEY), privateKeyToAddress(KEY.slice(2)));
});

test("nowUnix defaults to the clock, the nonce to crypto.getRandomValues", () => {
  const a = createPayment(paymentRequired(), KEY);
  const b = createPayment(paymentRequired(), KEY);
  const pa = decodeHeader("PAYMENT-SIGNATURE", a);
  const pb = decodeHeader("PAYMENT-SIGNATURE", b);
  assert.notEqual(pa.payload.authorization.nonce, pb.payload.authorization.nonce);
  const now = Math.floor(Date.now() / 1000);
  const validBefore = Number(pa.payload.authorization.validBefore);
  assert.ok(Math.abs(validBefore - (now + 60)) <= 2, `${validBefore} vs ${now}`);
  assert.equal(verifyPaymentHeader(a, offer()).isValid, true);
  assert.equal(verifyPaymentHeader(a, offer(), now + 3600).invalidReason,
    "invalid_exact_evm_payload_authorization_valid_before");
});

test("a verdict, never an exception, for any payment", () => {
  for (const body of ["", "[", "{}", "null", '{"x402Version":2}', { x402Version: 7 }, [], 42, true]) {
    const v = verify(body, 1_750_000_000);
    assert.equal(v.isValid, false, JSON.stringify(body));
    assert.ok(reasons().includes(v.invalidReason), v.invalidReason);
  }
  const v = verifyPaymentHeader("not base64!", offer());
  assert.equal(v.invalidReason, "invalid_payload");
  const dup = verify('{"x402Version":2,"x402Version":2}', 1_750_000_000);
  assert.equal(dup.invalidReason, "invalid_payload", "duplicate keys are refused");
});

test("errors are Errors with the core's reason as code", () => {
  const checks = [
    [() => createPayment(paymentRequired(), KEY, { maxAmount: "9999" }), "invalid_payment_requirements"],
    [() => createPayment(paymentRequired(), KEY, { maxAmmount: "1" }), "invalid_payment_requirements"],
    [() => createPayment({ x402Version: 3 }, KEY), "invalid_x402_version"],
    [() => decodeHeader("PAYMENT-SIGNATURE", "e30="), "invalid_x402_version"],
    [() => decodeHeader("PAYMENT-RESPONSE", "eyJzdWNjZXNzIjoxfQ=="), "invalid_response"],
    [() => encodeHeader("X-PAYMENT", { x402Version: 2, accepted: offer(), payload: {} }), "invalid_x402_version"],
    [() => hashTypedData({ primaryType: "Mail", domain: {}, message: {} }), "invalid_payload"],
    [() => verify({}, 1, { facilitatorAddress: [] }), "invalid_payload"],
  ];
  for (const [f, code] of checks) {
    const e = thrown(f);
    assert.ok(e instanceof Error, String(e));
    assert.equal(e.code, code, e.message);
    assert.ok(reasons().includes(e.code));
    assert.ok(e.message.startsWith(code), e.message);
  }
});

test("arguments that are not documents throw invalid_argument", () => {
  const checks = [
    () => createPayment(paymentRequired(), "0x1234"),
    () => createPayment(paymentRequired(), KEY, { nonce: "0x12" }),
    () => createPayment(paymentRequired(), KEY, { nowUnix: -5 }),
    () => createPayment(undefined, KEY),
    () => createPayment(paymentRequired(), KEY, { toJSON: () => undefined }),
    () => verify({ a: 1n }),
    () => verify({}, Number.NaN),
    () => verify({}, -1),
    () => decodeHeader("PAYMENT", "e30="),
    () => recoverAddress("0x12", "0x"),
    () => recoverAddress("0x" + "00".repeat(32), "0x" + "11".repeat(64)),
  ];
  for (const f of checks) {
    const e = thrown(f);
    assert.ok(e instanceof Error);
    assert.equal(e.code, "invalid_argument", `${f}: ${e.message}`);
  }
  // A private key is never echoed in a message.
  const secret = "0x" + "ff".repeat(32);
  assert.ok(!thrown(() => privateKeyToAddress(secret)).message.includes("ffff"));
});

test("the policy chooses among the accepts, in the server's order", () => {
  const pricey = offer({ amount: "5000000" });
  const sepolia = offer();
  const base = offer({
    network: "eip155:8453",
    asset: "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913",
    extra: { name: "USD Coin", version: "2" },
  });
  const pr = paymentRequired(pricey, base, sepolia);
  assert.equal(selectRequirement(pr).index, 0);
  assert.equal(selectRequirement(pr, { maxAmount: "10000" }).index, 1);
  // Amounts are decimal strings, as on the wire (no silent float rounding).
  assert.equal(thrown(() => selectRequirement(pr, { maxAmount: 10000 })).code,
    "invalid_payment_requirements");
  const s = selectRequirement(pr, { maxAmount: "10000", networks: ["base-sepolia"] });
  assert.deepEqual(
    { index: s.index, method: s.method, chainId: s.chainId, asset: s.asset, x402Version: s.x402Version },
    { index: 2, method: "eip3009", chainId: 84532, asset: USDC_BASE_SEPOLIA, x402Version: 2 },
  );
  assert.deepEqual(s.requirements, sepolia);
  const e = thrown(() => selectRequirement(pr, { assets: [PAY_TO] }));
  assert.equal(e.code, "invalid_payment_requirements");
  // The payment pays the selected requirement and echoes the resource.
  const value = createPayment(pr, KEY, { maxAmount: "10000", networks: ["eip155:84532"] });
  const payload = decodeHeader("PAYMENT-SIGNATURE", value);
  assert.deepEqual(payload.accepted, sepolia);
  assert.deepEqual(payload.resource, pr.resource);
});

test("x402 v1: the 402 body in, an X-PAYMENT header out", () => {
  const pr = {
    x402Version: 1,
    accepts: [{
      scheme: "exact",
      network: "base-sepolia",
      maxAmountRequired: "10000",
      resource: "https://api.example.com/data",
      description: "Data",
      mimeType: "application/json",
      payTo: PAY_TO,
      maxTimeoutSeconds: 60,
      asset: USDC_BASE_SEPOLIA,
      extra: { name: "USDC", version: "2" },
    }],
  };
  const value = createPayment(pr, KEY, { nowUnix: 1_750_000_000 });
  const payload = decodeHeader("x-payment", value);
  assert.equal(payload.x402Version, 1);
  assert.equal(payload.network, "base-sepolia");
  assert.equal(thrown(() => decodeHeader("PAYMENT-SIGNATURE", value)).code, "invalid_x402_version");
  const v = verifyPaymentHeader(value, pr.accepts[0], 1_750_000_000);
  assert.deepEqual(
    { isValid: v.isValid, payer: v.payer },
    { isValid: true, payer: privateKeyToAddress(KEY) },
  );
  assert.deepEqual(v.extra.chainChecks.map((c) => c.check), [
    "assetIsContract", "eip3009NonceUnused", "balanceAtLeast", "simulateEip3009Transfer",
  ]);
  const under = verifyPaymentHeader(value, { ...pr.accepts[0], maxAmountRequired: "20000" }, 1_750_000_000);
  assert.equal(under.invalidReason, "invalid_exact_evm_authorization_value",
    "v1's reason for an authorization of another amount");
});

test("upto is paid only when the policy allows it", () => {
  const upto = offer({
    scheme: "upto",
    extra: { facilitatorAddress: FACILITATOR },
  });
  const pr = paymentRequired(upto);
  assert.equal(thrown(() => createPayment(pr, KEY)).code, "invalid_payment_requirements");
  const value = createPayment(pr, KEY, { allowUpto: true, nowUnix: 1_750_000_000 });
  const p = decodeHeader("PAYMENT-SIGNATURE", value);
  assert.equal(p.payload.permit2Authorization.witness.facilitator.toLowerCase(), FACILITATOR);
  const ok = verifyPaymentHeader(value, upto, 1_750_000_000, { facilitatorAddresses: [FACILITATOR] });
  assert.equal(ok.isValid, true, JSON.stringify(ok));
  const other = verifyPaymentHeader(value, upto, 1_750_000_000, { facilitatorAddresses: [PAY_TO] });
  assert.equal(other.invalidReason, "upto_facilitator_mismatch");
});

test("headers round-trip and keep unknown members", () => {
  const pr = { ...paymentRequired(), extensions: { future: { info: { n: [1, 2.5, null] } } }, extra: "kept" };
  const value = encodeHeader("PAYMENT-REQUIRED", pr);
  assert.equal(value, Buffer.from(JSON.stringify(pr)).toString("base64"));
  assert.deepEqual(decodeHeader("payment-required", value), pr);
  const settle = { success: true, transaction: "0xab", network: "eip155:84532", payer: PAY_TO };
  assert.deepEqual(decodeHeader("PAYMENT-RESPONSE", encodeHeader("PAYMENT-RESPONSE", settle)), settle);
});

test("typed data: the specification's example digest and its signer", () => {
  const h = hashTypedData({
    primaryType: "TransferWithAuthorization",
    domain: { name: "USDC", version: "2", chainId: 84532, verifyingContract: USDC_BASE_SEPOLIA },
    message: {
      from: "0x857b06519E91e3A54538791bDbb0E22373e36b66",
      to: PAY_TO,
      value: "10000",
      validAfter: "1740672089",
      validBefore: "1740672154",
      nonce: "0xf3746613c2d920b5fdabc0856f2aeb2d4f88ee6037b8cc5d04a71a4462f13480",
    },
  });
  assert.equal(h.digest, "0xf256992871671abcb27ff92885a7afa46218724e5fc0bac35d050115aa1d22e6");
});
