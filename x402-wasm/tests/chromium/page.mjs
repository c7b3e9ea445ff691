// Runs in headless Chromium: loads the web build, creates and verifies payments
// in the page, replays the official verdicts, and writes a JSON report into
// <pre id="result"> for the test to read from the dumped DOM.
import init, * as x402 from "/pkg/paywire_wasm.js";
import { differences, expectedVerdict, verifyOptions } from "/lib/expect.mjs";

const report = { userAgent: navigator.userAgent };
const USDC = "0x036CbD53842c5426634e7929541eC2318f3dCF7e";
const offer = {
  scheme: "exact",
  network: "eip155:84532",
  amount: "10000",
  asset: USDC,
  payTo: "0x209693Bc6afc0C5328bA36FaF03C514EF312287C",
  maxTimeoutSeconds: 60,
  extra: { name: "USDC", version: "2" },
};

function reasonOf(header, requirements = offer, now = undefined) {
  return x402.verifyPaymentHeader(header, requirements, now).invalidReason ?? "valid";
}

try {
  const started = performance.now();
  await init(); // fetches paywire_wasm_bg.wasm from beside the module
  report.initMs = performance.now() - started;

  const key = "0x" + "3c".repeat(32);
  const pr = { x402Version: 2, resource: { url: location.href }, accepts: [offer] };
  const required = x402.encodeHeader("PAYMENT-REQUIRED", pr);
  const payment = x402.createPayment(required, key, { maxAmount: "10000" });
  const second = x402.createPayment(required, key, { maxAmount: "10000" });
  const verdict = x402.verifyPaymentHeader(payment, offer);
  const payload = x402.decodeHeader("PAYMENT-SIGNATURE", payment);
  report.created = {
    isValid: verdict.isValid,
    payer: verdict.payer,
    address: x402.privateKeyToAddress(key),
    chainChecks: verdict.extra?.chainChecks.map((c) => c.check),
    resource: payload.resource.url,
    noncesDiffer:
      payload.payload.authorization.nonce !==
      x402.decodeHeader("PAYMENT-SIGNATURE", second).payload.authorization.nonce,
  };

  const changed = structuredClone(payload);
  changed.payload.authorization.value = "1";
  report.tampered = reasonOf(x402.encodeHeader("PAYMENT-SIGNATURE", changed));
  report.underpaid = reasonOf(
    x402.createPayment({ ...pr, accepts: [{ ...offer, amount: "1" }] }, key),
  );
  report.expired = reasonOf(payment, offer, Math.floor(Date.now() / 1000) + 3600);
  try {
    x402.createPayment(pr, key, { maxAmount: "1" });
    report.overBudget = "paid";
  } catch (e) {
    report.overBudget = { isError: e instanceof Error, code: e.code };
  }

  report.specDigest = x402.hashTypedData({
    primaryType: "TransferWithAuthorization",
    domain: { name: "USDC", version: "2", chainId: 84532, verifyingContract: USDC },
    message: {
      from: "0x857b06519E91e3A54538791bDbb0E22373e36b66",
      to: "0x209693Bc6afc0C5328bA36FaF03C514EF312287C",
      value: "10000",
      validAfter: "1740672089",
      validBefore: "1740672154",
      nonce: "0xf3746613c2d920b5fdabc0856f2aeb2d4f88ee6037b8cc5d04a71a4462f13480",
    },
  }).digest;

  const load = async (file) => (await (await fetch(`/vectors/${file}`)).json()).vectors;
  const verdicts = await load("official-verdicts.json");
  report.verdicts = { total: verdicts.length, failures: [] };
  for (const v of verdicts) {
    if (v.category === "eip2612-gas-sponsoring") {
      // The web build is the default flavour, which leaves eip2612GasSponsoring
      // out: the payment is judged as the same one without it.
      const bare = structuredClone(v.request);
      delete bare.paymentPayload.extensions;
      const got = JSON.stringify(x402.verify(v.request, v.now, verifyOptions(v)));
      if (got !== JSON.stringify(x402.verify(bare, v.now, verifyOptions(v)))) {
        report.verdicts.failures.push(`${v.name}: judged otherwise than without the extension: ${got}`);
      }
      continue;
    }
    const diffs = differences(x402.verify(v.request, v.now, verifyOptions(v)), expectedVerdict(v));
    if (diffs.length) report.verdicts.failures.push(`${v.name}: ${diffs.join("; ")}`);
  }
  const payments = await load("official-payments.json");
  report.payments = { total: payments.length, valid: 0 };
  for (const v of payments) {
    const r = x402.verifyPaymentHeader(v.header, v.paymentRequirements, v.now, verifyOptions(v));
    if (r.isValid && r.payer.toLowerCase() === v.payer.toLowerCase()) report.payments.valid += 1;
  }
  report.done = true;
} catch (e) {
  report.error = String(e?.stack ?? e);
}
document.getElementById("result").textContent = JSON.stringify(report);
