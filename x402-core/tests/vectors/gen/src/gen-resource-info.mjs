// The spec's ResourceInfo additions (serviceName, tags, iconUrl), judged by the
// official SDK: each case is a PaymentRequired whose resource carries them,
// and `official` is whether @x402/core's schema (isPaymentRequired) accepts it.
// A valid case also carries the PAYMENT-REQUIRED value its encoder writes.
import { fileURLToPath } from "node:url";

import { encodePaymentRequiredHeader } from "@x402/core/http";
import { isPaymentRequired } from "@x402/core/schemas";

import { generatorBlock, writeJson } from "./common.mjs";

const requirement = {
  scheme: "exact",
  network: "eip155:8453",
  amount: "10000",
  asset: "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913",
  payTo: "0x209693Bc6afc0C5328bA36FaF03C514EF312287C",
  maxTimeoutSeconds: 60,
  extra: { name: "USD Coin", version: "2" },
};
const url = "https://api.example.com/weather";
const cases = [
  ["all three", { serviceName: "Weather API", tags: ["weather", "forecast"], iconUrl: "https://api.example.com/icon.png" }],
  ["serviceName alone", { serviceName: "W" }],
  ["serviceName of 32 characters", { serviceName: "x".repeat(32) }],
  ["serviceName of 33 characters", { serviceName: "x".repeat(33) }],
  ["serviceName empty", { serviceName: "" }],
  ["serviceName with a tab", { serviceName: "Weather\tAPI" }],
  ["serviceName not ASCII", { serviceName: "Météo" }],
  ["serviceName with every printable character", { serviceName: " !\"#$%&'()*+,-./0123456789:;<=>?" }],
  ["serviceName a number", { serviceName: 7 }],
  ["serviceName null", { serviceName: null }],
  ["five tags", { tags: ["a", "b", "c", "d", "e"] }],
  ["six tags", { tags: ["a", "b", "c", "d", "e", "f"] }],
  ["no tags", { tags: [] }],
  ["an empty tag", { tags: ["weather", ""] }],
  ["a tag of 33 characters", { tags: ["y".repeat(33)] }],
  ["a tag not a string", { tags: ["weather", 3] }],
  ["tags a string", { tags: "weather" }],
  ["tags null", { tags: null }],
  ["iconUrl of 2048 characters", { iconUrl: "https://a.example/" + "i".repeat(2048 - 18) }],
  ["iconUrl of 2049 characters", { iconUrl: "https://a.example/" + "i".repeat(2049 - 18) }],
  ["iconUrl empty", { iconUrl: "" }],
  ["iconUrl a number", { iconUrl: 1 }],
  ["iconUrl null", { iconUrl: null }],
];

const vectors = cases.map(([name, fields]) => {
  const pr = { x402Version: 2, error: "payment required", resource: { url, ...fields }, accepts: [requirement] };
  const official = isPaymentRequired(pr);
  const v = { name, paymentRequired: pr, official };
  const nulls = Object.values(fields).some((f) => f === null);
  if (official && !nulls) v.header = encodePaymentRequiredHeader(pr);
  return v;
});

const path = writeJson("resource-info.json", {
  generator: generatorBlock(fileURLToPath(import.meta.url), ["@x402/core"]),
  description:
    "ResourceInfo's serviceName (1-32 printable ASCII), tags (at most 5 of those) and iconUrl (at most " +
    "2048 characters), judged by @x402/core's PaymentRequired schema (isPaymentRequired): `official` " +
    "is its verdict; `header` is encodePaymentRequiredHeader's value for accepted cases (none where a " +
    "member is null: the schema reads null as absent, which an encoder would not write back).",
  vectors,
});
console.log(`wrote ${path} (${vectors.length} vectors)`);
