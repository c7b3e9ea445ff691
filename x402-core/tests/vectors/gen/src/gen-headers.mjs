// sdk-headers.json: header values produced by @x402/core's own encoders.
//
//  PAYMENT-REQUIRED   <- encodePaymentRequiredHeader   (@x402/core/http)
//  PAYMENT-SIGNATURE  <- encodePaymentSignatureHeader  (@x402/core/http; x402HTTPClient uses it for v2)
//  PAYMENT-RESPONSE   <- encodePaymentResponseHeader   (@x402/core/http)
//  X-PAYMENT          <- x402HTTPClient.encodePaymentSignatureHeader for a v1 payload, which calls the
//                        same encodePaymentSignatureHeader (the SDK has no dedicated v1 encoder)
//  X-PAYMENT-RESPONSE <- encodePaymentResponseHeader (the SDK has no v1 encoder; its HTTP client
//                        decodes X-PAYMENT-RESPONSE with decodePaymentResponseHeader)
import { fileURLToPath } from "node:url";
import { isDeepStrictEqual } from "node:util";
import {
  decodePaymentRequiredHeader,
  decodePaymentResponseHeader,
  decodePaymentSignatureHeader,
  encodePaymentRequiredHeader,
  encodePaymentResponseHeader,
  encodePaymentSignatureHeader,
} from "@x402/core/http";
import { x402Client, x402HTTPClient } from "@x402/core/client";
import { isPaymentPayload, isPaymentRequired } from "@x402/core/schemas";
import { x402ExactPermit2ProxyAddress, x402UptoPermit2ProxyAddress } from "@x402/evm";
import { privateKeyToAccount } from "viem/accounts";
import {
  MAX_UINT256,
  NOW,
  USDC_BASE,
  USDC_BASE_SEPOLIA,
  generatorBlock,
  makeRng,
  writeJson,
} from "./common.mjs";
import { signEip3009, signPermit2 } from "./typed.mjs";

const rng = makeRng("sdk-headers");
const httpClient = new x402HTTPClient(new x402Client());

const payTo1 = rng.address();
const payTo2 = rng.address();
const facilitator = rng.address();

function exactReq(t, amount, payTo, extra = {}) {
  return {
    scheme: "exact",
    network: t.network,
    amount,
    asset: t.asset,
    payTo,
    maxTimeoutSeconds: 300,
    extra: { name: t.name, version: t.version, ...extra },
  };
}
function uptoReq(t, amount, payTo) {
  return {
    scheme: "upto",
    network: t.network,
    amount,
    asset: t.asset,
    payTo,
    maxTimeoutSeconds: 600,
    extra: { name: t.name, version: t.version, assetTransferMethod: "permit2", facilitatorAddress: facilitator },
  };
}
function v1Req(t, amount, payTo, more = {}) {
  return {
    scheme: "exact",
    network: t.v1Network,
    maxAmountRequired: amount,
    resource: "https://api.example.com/v1/weather",
    description: "Current weather",
    mimeType: "application/json",
    payTo,
    maxTimeoutSeconds: 60,
    asset: t.asset,
    extra: { name: t.name, version: t.version },
    ...more,
  };
}

async function eip3009Payload(t, req, privateKey, validAfter = "0") {
  const from = privateKeyToAccount(privateKey).address;
  const authorization = {
    from,
    to: req.payTo,
    value: req.amount ?? req.maxAmountRequired,
    validAfter,
    validBefore: String(NOW + req.maxTimeoutSeconds),
    nonce: rng.bytes32(),
  };
  const signature = await signEip3009(
    privateKey,
    { name: t.name, version: t.version, chainId: t.chainId, verifyingContract: t.asset },
    authorization,
  );
  return { signature, authorization };
}

async function permit2Payload(t, req, privateKey, upto) {
  const from = privateKeyToAccount(privateKey).address;
  const witness = upto
    ? { to: req.payTo, facilitator: req.extra.facilitatorAddress, validAfter: "0" }
    : { to: req.payTo, validAfter: "0" };
  const permit2Authorization = {
    from,
    permitted: { token: t.asset, amount: req.amount },
    spender: upto ? x402UptoPermit2ProxyAddress : x402ExactPermit2ProxyAddress,
    nonce: rng.uint(256).toString(),
    deadline: String(NOW + req.maxTimeoutSeconds),
    witness,
  };
  const signature = await signPermit2(privateKey, t.chainId, permit2Authorization, upto);
  return { signature, permit2Authorization };
}

const bazaar = {
  bazaar: {
    info: {
      input: { type: "http", method: "GET", queryParams: { city: "Berlin", units: "metric" } },
      output: { type: "json", example: { tempC: 21.5, conditions: "sunny" } },
    },
    schema: {
      $schema: "https://json-schema.org/draft/2020-12/schema",
      type: "object",
      properties: {
        input: {
          type: "object",
          properties: {
            type: { type: "string", const: "http" },
            method: { type: "string", enum: ["GET", "HEAD", "DELETE"] },
          },
          required: ["type", "method"],
        },
      },
      required: ["input"],
    },
  },
};
const unknownExtension = {
  "com.example.loyalty-points": {
    version: 3,
    enabled: true,
    nothing: null,
    ratio: 0.125,
    tiers: [
      { id: "gold", minSpend: "1000000", perks: ["free-shipping", "priority"] },
      { id: "silver", minSpend: "250000", perks: [] },
    ],
    nested: { deeper: { deepest: [1, [2, [3, { four: "4" }]]] } },
  },
};

const entries = [];
function add(name, header, x402Version, obj) {
  let value;
  let decoded;
  switch (header) {
    case "PAYMENT-REQUIRED":
      if (x402Version === 2 && !isPaymentRequired(obj)) throw new Error(`${name}: not a PaymentRequired`);
      value = encodePaymentRequiredHeader(obj);
      decoded = decodePaymentRequiredHeader(value);
      break;
    case "PAYMENT-SIGNATURE":
    case "X-PAYMENT": {
      if (!isPaymentPayload(obj)) throw new Error(`${name}: not a PaymentPayload`);
      const headers = httpClient.encodePaymentSignatureHeader(obj);
      if (!(header in headers)) throw new Error(`${name}: SDK chose ${Object.keys(headers)}`);
      value = headers[header];
      if (value !== encodePaymentSignatureHeader(obj)) throw new Error("encoder mismatch");
      decoded = decodePaymentSignatureHeader(value);
      break;
    }
    case "PAYMENT-RESPONSE":
    case "X-PAYMENT-RESPONSE":
      value = encodePaymentResponseHeader(obj);
      decoded = decodePaymentResponseHeader(value);
      break;
    default:
      throw new Error(header);
  }
  const entry = { name, header, x402Version, value, json: decoded };
  if (!isDeepStrictEqual(decoded, obj)) {
    // The encoder changed the object (e.g. dropped extensionResponses): `json` is what the
    // header carries, `input` what was handed to the encoder.
    entry.input = obj;
    entry.note = "the SDK encoder does not encode the object verbatim: `json` is the decoded header, `input` the encoder's argument";
  }
  entries.push(entry);
}

const pk1 = rng.privateKey();
const pk2 = rng.privateKey();

// ---- PAYMENT-REQUIRED (v2) ----------------------------------------------------
const reqBase = exactReq(USDC_BASE, "10000", payTo1);
add("payment-required-v2-single-accept", "PAYMENT-REQUIRED", 2, {
  x402Version: 2,
  error: "PAYMENT-SIGNATURE header is required",
  resource: { url: "https://api.example.com/premium-data", description: "Premium market data", mimeType: "application/json" },
  accepts: [reqBase],
});
const reqSepoliaPermit2 = exactReq(USDC_BASE_SEPOLIA, "1", payTo2, { assetTransferMethod: "permit2" });
const reqUpto = uptoReq(USDC_BASE_SEPOLIA, "5000000", payTo2);
add("payment-required-v2-multiple-accepts", "PAYMENT-REQUIRED", 2, {
  x402Version: 2,
  error: "PAYMENT-SIGNATURE header is required",
  resource: { url: "https://api.example.com/llm/completions", description: "LLM completion, billed per token", mimeType: "text/event-stream" },
  accepts: [
    reqBase,
    reqSepoliaPermit2,
    reqUpto,
    {
      scheme: "exact",
      network: "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp",
      amount: "10000",
      asset: "EPjFWJd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v",
      payTo: "2wmVCSfPxGPjrnMMn7rchp4uaeoTqN39mXFC2zhPdri9",
      maxTimeoutSeconds: 60,
      extra: { feePayer: "EwWqGE4ZFKLofuestmU4LDdK7XM1N4ALgdZccwYugwGd" },
    },
  ],
});
add("payment-required-v2-bazaar-extension", "PAYMENT-REQUIRED", 2, {
  x402Version: 2,
  error: "PAYMENT-SIGNATURE header is required",
  resource: { url: "https://weather.example.com/forecast?city=Berlin", description: "Weather forecast", mimeType: "application/json" },
  accepts: [exactReq(USDC_BASE_SEPOLIA, "1000", payTo1)],
  extensions: bazaar,
});
add("payment-required-v2-unknown-extension-nested", "PAYMENT-REQUIRED", 2, {
  x402Version: 2,
  resource: { url: "https://shop.example.com/api/checkout" },
  accepts: [reqBase],
  extensions: { ...unknownExtension, ...bazaar },
});
add("payment-required-v2-unicode-description", "PAYMENT-REQUIRED", 2, {
  x402Version: 2,
  error: "Zahlung erforderlich — paiement requis",
  resource: {
    url: "https://api.example.com/caf%C3%A9/men%C3%BC",
    description: "Café-Menü für Zürich 🇨🇭 ☕ — 日本語の説明 — emoji 🧾💸🚀 — Ελληνικά",
  },
  accepts: [exactReq(USDC_BASE, "250000", payTo2)],
});
add("payment-required-v2-resource-url-only-no-error", "PAYMENT-REQUIRED", 2, {
  x402Version: 2,
  resource: { url: "https://api.example.com/r" },
  accepts: [exactReq(USDC_BASE_SEPOLIA, "42", payTo1)],
});
add("payment-required-v2-json-escapes", "PAYMENT-REQUIRED", 2, {
  x402Version: 2,
  error: 'quote " backslash \\ slash / newline \n tab \t nul-ish \u0001 ls \u2028 ps \u2029 </script>',
  resource: { url: "https://api.example.com/escape?x=\"y\"&z=<w>", description: "\u00e9 vs e\u0301 (NFC vs NFD) and 𝄞 (astral)", mimeType: "text/plain; charset=utf-8" },
  accepts: [exactReq(USDC_BASE, "1", payTo1)],
});
add("payment-required-v2-service-metadata-and-big-amount", "PAYMENT-REQUIRED", 2, {
  x402Version: 2,
  error: "insufficient_funds",
  resource: {
    url: "https://api.example.com/bulk",
    description: "Bulk export",
    mimeType: "application/octet-stream",
    serviceName: "Bulk Export API",
    tags: ["data", "export"],
    iconUrl: "https://api.example.com/icon.png",
  },
  accepts: [
    exactReq(USDC_BASE, MAX_UINT256.toString(), payTo2, { decimals: 6, hints: { rounding: "down", steps: [1, 10, 100] } }),
    uptoReq(USDC_BASE, "340282366920938463463374607431768211455", payTo2),
  ],
});
add("payment-required-v1-output-schema", "PAYMENT-REQUIRED", 1, {
  x402Version: 1,
  error: "X-PAYMENT header is required",
  accepts: [
    v1Req(USDC_BASE_SEPOLIA, "10000", payTo1, {
      outputSchema: {
        input: { type: "http", method: "GET", discoverable: true, queryParams: { city: { type: "string", required: true } } },
        output: { type: "object", properties: { tempC: { type: "number" }, summary: { type: "string" } } },
      },
    }),
    v1Req(USDC_BASE, "10000", payTo1, { description: "Météo actuelle ☀️", mimeType: "" }),
  ],
});

// ---- PAYMENT-SIGNATURE (v2) ---------------------------------------------------
const p1 = await eip3009Payload(USDC_BASE, reqBase, pk1);
add("payment-signature-v2-eip3009", "PAYMENT-SIGNATURE", 2, {
  x402Version: 2,
  resource: { url: "https://api.example.com/premium-data", description: "Premium market data", mimeType: "application/json" },
  accepted: reqBase,
  payload: p1,
});
const p2 = await permit2Payload(USDC_BASE_SEPOLIA, reqSepoliaPermit2, pk2, false);
add("payment-signature-v2-permit2-with-extensions", "PAYMENT-SIGNATURE", 2, {
  x402Version: 2,
  resource: { url: "https://weather.example.com/forecast?city=Berlin", description: "Weather forecast", mimeType: "application/json" },
  accepted: reqSepoliaPermit2,
  payload: p2,
  extensions: { ...bazaar, ...unknownExtension },
});
const p3 = await permit2Payload(USDC_BASE_SEPOLIA, reqUpto, pk1, true);
add("payment-signature-v2-upto-no-resource", "PAYMENT-SIGNATURE", 2, {
  x402Version: 2,
  accepted: reqUpto,
  payload: p3,
});
const reqUnicode = exactReq(USDC_BASE, "250000", payTo2);
const p4 = await eip3009Payload(USDC_BASE, reqUnicode, pk2);
add("payment-signature-v2-unicode-resource", "PAYMENT-SIGNATURE", 2, {
  x402Version: 2,
  resource: { url: "https://api.example.com/caf%C3%A9", description: "Café ☕ 🇨🇭 — 日本語" },
  accepted: reqUnicode,
  payload: p4,
  extensions: {},
});

// ---- PAYMENT-RESPONSE (v2) ----------------------------------------------------
const tx1 = rng.bytes32();
add("payment-response-v2-success", "PAYMENT-RESPONSE", 2, {
  success: true,
  transaction: tx1,
  network: "eip155:8453",
  payer: privateKeyToAccount(pk1).address,
});
add("payment-response-v2-failure", "PAYMENT-RESPONSE", 2, {
  success: false,
  errorReason: "invalid_exact_evm_payload_authorization_valid_before",
  errorMessage: "authorization expired at 1750000005 (now 1750000000) — réessayez",
  transaction: "",
  network: "eip155:84532",
  payer: privateKeyToAccount(pk2).address,
});
add("payment-response-v2-upto-amount-and-extensions", "PAYMENT-RESPONSE", 2, {
  success: true,
  payer: privateKeyToAccount(pk1).address,
  transaction: rng.bytes32(),
  network: "eip155:84532",
  amount: "1234567",
  extensions: { ...unknownExtension },
});
add("payment-response-v2-extension-responses-dropped", "PAYMENT-RESPONSE", 2, {
  success: true,
  transaction: rng.bytes32(),
  network: "eip155:8453",
  payer: privateKeyToAccount(pk2).address,
  extensionResponses: { bazaar: { indexed: true } },
});

// ---- X-PAYMENT / X-PAYMENT-RESPONSE (v1) ----------------------------------------
const v1r1 = v1Req(USDC_BASE_SEPOLIA, "10000", payTo1);
const v1p1 = await eip3009Payload(USDC_BASE_SEPOLIA, v1r1, pk1, String(NOW - 600));
add("x-payment-v1-base-sepolia", "X-PAYMENT", 1, {
  x402Version: 1,
  scheme: "exact",
  network: "base-sepolia",
  payload: v1p1,
});
const v1r2 = v1Req(USDC_BASE, "1000000", payTo2);
const v1p2 = await eip3009Payload(USDC_BASE, v1r2, pk2, String(NOW - 600));
add("x-payment-v1-base", "X-PAYMENT", 1, {
  x402Version: 1,
  scheme: "exact",
  network: "base",
  payload: v1p2,
});
add("x-payment-response-v1-success", "X-PAYMENT-RESPONSE", 1, {
  success: true,
  transaction: rng.bytes32(),
  network: "base-sepolia",
  payer: privateKeyToAccount(pk1).address,
});
add("x-payment-response-v1-failure", "X-PAYMENT-RESPONSE", 1, {
  success: false,
  errorReason: "insufficient_funds",
  transaction: "",
  network: "base",
  payer: privateKeyToAccount(pk2).address,
});

const path = writeJson("sdk-headers.json", {
  generator: generatorBlock(fileURLToPath(import.meta.url), ["@x402/core", "@x402/evm", "viem"]),
  description:
    "Header values produced by @x402/core's encoders: encodePaymentRequiredHeader, " +
    "encodePaymentSignatureHeader (via x402HTTPClient.encodePaymentSignatureHeader, which picks " +
    "PAYMENT-SIGNATURE for v2 and X-PAYMENT for v1) and encodePaymentResponseHeader (also used for " +
    "X-PAYMENT-RESPONSE: the SDK has no v1-specific encoder; its client decodes X-PAYMENT-RESPONSE " +
    "with decodePaymentResponseHeader). All are base64(UTF-8(JSON.stringify(obj))), standard alphabet " +
    "with padding. `json` is the decoded header; `input` appears only where the encoder altered the " +
    "object (encodePaymentResponseHeader drops extensionResponses). The v1 PAYMENT-REQUIRED entry is " +
    "an encoder vector only: SDK v1 servers send PaymentRequired in the 402 body, though the SDK " +
    "client would also accept it from this header. Signatures inside payloads are real (viem).",
  vectors: entries,
});
console.log(`wrote ${path} (${entries.length} vectors)`);
