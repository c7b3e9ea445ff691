// official-payments.json: payments created by the OFFICIAL client code
// (x402Client + @x402/evm exact client scheme (EIP-3009 and Permit2, v2 and v1)
// and the upto client scheme), header-encoded by x402HTTPClient, and judged by
// the official facilitator over the fake healthy chain.
import { fileURLToPath } from "node:url";
import { x402Client, x402HTTPClient } from "@x402/core/client";
import { decodePaymentSignatureHeader } from "@x402/core/http";
import { registerExactEvmScheme } from "@x402/evm/exact/client";
import { UptoEvmScheme } from "@x402/evm/upto/client";
import { privateKeyToAccount } from "viem/accounts";
import {
  NOW,
  USDC_BASE,
  USDC_BASE_SEPOLIA,
  deepClone,
  generatorBlock,
  makeRng,
  pinCryptoRandom,
  pinDateNow,
  writeJson,
} from "./common.mjs";
import { officialVerify } from "./fakechain.mjs";

const rng = makeRng("official-payments");

const facilitatorA = rng.address();
const facilitatorB = rng.address();

function exactReq(t, amount, payTo, extra = {}, maxTimeoutSeconds = 300) {
  return {
    scheme: "exact",
    network: t.network,
    amount,
    asset: t.asset,
    payTo,
    maxTimeoutSeconds,
    extra: { name: t.name, version: t.version, ...extra },
  };
}
function permit2Req(t, amount, payTo, maxTimeoutSeconds = 300) {
  return exactReq(t, amount, payTo, { assetTransferMethod: "permit2" }, maxTimeoutSeconds);
}
function uptoReq(t, amount, payTo, facilitatorAddress, maxTimeoutSeconds = 600) {
  return {
    scheme: "upto",
    network: t.network,
    amount,
    asset: t.asset,
    payTo,
    maxTimeoutSeconds,
    extra: { name: t.name, version: t.version, assetTransferMethod: "permit2", facilitatorAddress },
  };
}
function v1Req(t, amount, payTo, more = {}) {
  return {
    scheme: "exact",
    network: t.v1Network,
    maxAmountRequired: amount,
    resource: "https://api.example.com/v1/report",
    description: "Daily report",
    mimeType: "application/json",
    payTo,
    maxTimeoutSeconds: 120,
    asset: t.asset,
    extra: { name: t.name, version: t.version },
    ...more,
  };
}

const solanaAccept = {
  scheme: "exact",
  network: "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp",
  amount: "10000",
  asset: "EPjFWJd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v",
  payTo: "2wmVCSfPxGPjrnMMn7rchp4uaeoTqN39mXFC2zhPdri9",
  maxTimeoutSeconds: 60,
  extra: { feePayer: "EwWqGE4ZFKLofuestmU4LDdK7XM1N4ALgdZccwYugwGd" },
};

const scenarios = [
  {
    name: "v2-exact-eip3009-base",
    now: NOW,
    paymentRequired: {
      x402Version: 2,
      error: "PAYMENT-SIGNATURE header is required",
      resource: { url: "https://api.example.com/premium", description: "Premium data", mimeType: "application/json" },
      accepts: [exactReq(USDC_BASE, "10000", rng.address())],
    },
  },
  {
    name: "v2-exact-eip3009-base-sepolia-bazaar-extension",
    now: NOW + 17,
    paymentRequired: {
      x402Version: 2,
      error: "PAYMENT-SIGNATURE header is required",
      resource: { url: "https://weather.example.com/forecast?city=Lisbon", description: "Forecast", mimeType: "application/json" },
      accepts: [exactReq(USDC_BASE_SEPOLIA, "1000", rng.address(), {}, 60)],
      extensions: {
        bazaar: {
          info: { input: { type: "http", method: "GET", queryParams: { city: "Lisbon" } }, output: { type: "json" } },
          schema: { type: "object", properties: { input: { type: "object" } } },
        },
      },
    },
  },
  {
    name: "v2-exact-eip3009-skips-unsupported-first-accept",
    now: NOW + 3600,
    paymentRequired: {
      x402Version: 2,
      resource: { url: "https://api.example.com/multi" },
      accepts: [solanaAccept, exactReq(USDC_BASE_SEPOLIA, "777", rng.address())],
    },
  },
  {
    name: "v2-exact-eip3009-unicode-resource",
    now: NOW + 86400,
    paymentRequired: {
      x402Version: 2,
      error: "Zahlung erforderlich",
      resource: { url: "https://api.example.com/caf%C3%A9", description: "Café ☕ Zürich 🇨🇭 — 日本語" },
      accepts: [exactReq(USDC_BASE, "500000", rng.address())],
    },
  },
  {
    name: "v2-exact-permit2-base",
    now: NOW,
    paymentRequired: {
      x402Version: 2,
      resource: { url: "https://api.example.com/permit2", description: "Permit2-paid resource" },
      accepts: [permit2Req(USDC_BASE, "25000", rng.address())],
    },
  },
  {
    name: "v2-exact-permit2-base-sepolia-unknown-extension",
    now: NOW + 99,
    paymentRequired: {
      x402Version: 2,
      resource: { url: "https://api.example.com/p2", mimeType: "text/plain" },
      accepts: [permit2Req(USDC_BASE_SEPOLIA, "1", rng.address(), 30)],
      extensions: { "com.example.unknown": { a: [1, { b: null }], c: { d: true } } },
    },
  },
  {
    name: "v2-upto-base-sepolia",
    now: NOW,
    facilitatorAddresses: [facilitatorA],
    paymentRequired: {
      x402Version: 2,
      resource: { url: "https://api.example.com/llm", description: "Metered LLM usage", mimeType: "text/event-stream" },
      accepts: [uptoReq(USDC_BASE_SEPOLIA, "750000", rng.address(), facilitatorA)],
    },
  },
  {
    name: "v2-upto-base-multiple-facilitator-signers",
    now: NOW + 5,
    facilitatorAddresses: [facilitatorA, facilitatorB],
    paymentRequired: {
      x402Version: 2,
      resource: { url: "https://api.example.com/metered" },
      accepts: [uptoReq(USDC_BASE, "1000000", rng.address(), facilitatorB)],
    },
  },
  {
    name: "v2-first-of-exact-and-upto-accepts",
    now: NOW + 42,
    facilitatorAddresses: [facilitatorA],
    paymentRequired: {
      x402Version: 2,
      resource: { url: "https://api.example.com/either" },
      accepts: [
        uptoReq(USDC_BASE_SEPOLIA, "300000", rng.address(), facilitatorA),
        exactReq(USDC_BASE_SEPOLIA, "300000", rng.address()),
      ],
    },
  },
  {
    name: "v1-exact-base-sepolia",
    now: NOW,
    paymentRequired: {
      x402Version: 1,
      error: "X-PAYMENT header is required",
      accepts: [v1Req(USDC_BASE_SEPOLIA, "10000", rng.address())],
    },
  },
  {
    name: "v1-exact-base-output-schema",
    now: NOW + 7,
    paymentRequired: {
      x402Version: 1,
      error: "X-PAYMENT header is required",
      accepts: [
        v1Req(USDC_BASE, "20000", rng.address(), {
          outputSchema: {
            input: { type: "http", method: "POST", bodyType: "json", bodyFields: { q: { type: "string" } } },
            output: { type: "object" },
          },
        }),
      ],
    },
  },
];

const vectors = [];
for (const s of scenarios) {
  const privateKey = rng.privateKey();
  const account = privateKeyToAccount(privateKey);
  const client = new x402Client();
  registerExactEvmScheme(client, { signer: account });
  client.register("eip155:*", new UptoEvmScheme(account));
  const http = new x402HTTPClient(client);

  const paymentRequired = deepClone(s.paymentRequired);
  const restoreTime = pinDateNow(s.now);
  const restoreRandom = pinCryptoRandom(makeRng(`official-payments/sdk-random/${s.name}`));
  let paymentPayload;
  try {
    paymentPayload = await client.createPaymentPayload(deepClone(paymentRequired));
  } finally {
    restoreRandom();
    restoreTime();
  }
  const headers = http.encodePaymentSignatureHeader(paymentPayload);
  const [headerName] = Object.keys(headers);
  const decoded = decodePaymentSignatureHeader(headers[headerName]);

  let paymentRequirements;
  if (paymentPayload.x402Version === 2) {
    paymentRequirements = paymentPayload.accepted;
  } else {
    const auth = paymentPayload.payload.authorization;
    paymentRequirements = paymentRequired.accepts.find(
      (r) =>
        r.scheme === paymentPayload.scheme &&
        r.network === paymentPayload.network &&
        r.maxAmountRequired === auth.value &&
        r.payTo.toLowerCase() === auth.to.toLowerCase(),
    );
  }
  const verdict = await officialVerify({
    paymentPayload: decoded,
    paymentRequirements,
    now: s.now,
    facilitatorAddresses: s.facilitatorAddresses,
  });
  if (verdict.isValid !== true) {
    throw new Error(`${s.name}: official facilitator rejected an official payment: ${JSON.stringify(verdict)}`);
  }
  const v = {
    name: s.name,
    x402Version: paymentPayload.x402Version,
    paymentRequired,
    paymentRequirements,
    headerName,
    header: headers[headerName],
    paymentPayload: decoded,
    now: s.now,
    privateKey,
    payer: account.address,
  };
  if (s.facilitatorAddresses) v.facilitatorAddresses = s.facilitatorAddresses;
  v.verdict = verdict;
  vectors.push(v);
}

const path = writeJson("official-payments.json", {
  generator: generatorBlock(fileURLToPath(import.meta.url), ["@x402/core", "@x402/evm", "viem"]),
  description:
    "Payments created by the official client: x402Client with registerExactEvmScheme " +
    "(@x402/evm/exact/client: EIP-3009 by default, Permit2 when extra.assetTransferMethod == " +
    "'permit2', v1 ExactEvmSchemeV1) and UptoEvmScheme (@x402/evm/upto/client), signer = viem " +
    "privateKeyToAccount, Date.now pinned to now*1000 and crypto.getRandomValues (the SDK's nonce " +
    "source) seeded. `header` is what x402HTTPClient.encodePaymentSignatureHeader returns " +
    "(`headerName` PAYMENT-SIGNATURE for v2, X-PAYMENT for v1); `paymentPayload` is it decoded; " +
    "`paymentRequirements` is the accept the client selected. `verdict` is the official " +
    "facilitator's verify over the fake healthy chain at the same `now` (see gen/README.md).",
  vectors,
});
console.log(`wrote ${path} (${vectors.length} vectors)`);
