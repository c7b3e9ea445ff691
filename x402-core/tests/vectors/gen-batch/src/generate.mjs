// Writes ../batch/web-bot-auth.json: requests paying with batch-settlement on
// cloudflare:402, signed by Cloudflare's web-bot-auth (RFC 9421, Ed25519), with
// the verdict x402-core must reach and web-bot-auth's own verify result.
import { signatureHeaders, verify } from "web-bot-auth";
import { signerFromJWK, verifierFromJWK } from "web-bot-auth/crypto";
import { readFileSync } from "node:fs";
import { NOW, seed, jwkFromSeed, nonce, b64, atTime, writeJson } from "./common.mjs";

const pkg = (name) => JSON.parse(readFileSync(new URL(`../../../../../node_modules/${name}/package.json`, import.meta.url))).version;

const ACCEPTED = {
  scheme: "batch-settlement",
  network: "cloudflare:402",
  amount: "5",
  asset: "USD",
  payTo: "merchant",
  extra: { version: "1.0.0" },
};
const OFFER = {
  x402Version: 2,
  resource: { url: "https://example.com/article", mimeType: "text/html" },
  accepts: [ACCEPTED],
  extensions: {
    "http-message-signatures": {
      info: {
        registrationUrl:
          "https://developers.cloudflare.com/ai-crawl-control/features/pay-per-crawl/use-pay-per-crawl-as-ai-owner/verify-ai-crawler/",
        signatureSchemes: ["ed25519"],
        tags: ["web-bot-auth"],
      },
    },
  },
};

function payment(amount = "5", asset = "USD", accepted = ACCEPTED) {
  return b64(JSON.stringify({ x402Version: 2, payload: { amount, asset }, accepted }));
}

async function sign({ jwk, url, method = "GET", headers, created, expires, nonceLabel, label }) {
  const signer = await signerFromJWK(jwk);
  const request = new Request(url, { method, headers });
  // http-message-sig 0.2.0 (under web-bot-auth 0.1.3) has no `key` parameter:
  // the dictionary form of Signature-Agent is covered by the draft's own vectors.
  const components = ["@authority", "signature-agent", "payment-signature"];
  const h = await signatureHeaders(request, signer, {
    created: new Date(created * 1000),
    expires: new Date(expires * 1000),
    nonce: nonce(nonceLabel),
    components,
    key: label,
  });
  return { keyid: signer.keyid, signatureInput: h["Signature-Input"], signature: h.Signature };
}

/** web-bot-auth's own verify of a request, at `now`. */
async function theirVerify(jwk, url, method, headerList, now) {
  const request = new Request(url, { method, headers: headerList });
  try {
    await atTime(now, async () => verify(request, await verifierFromJWK(jwk)));
    return true;
  } catch {
    return false;
  }
}

const vectors = [];

async function add(name, opts, tamper, expect) {
  const jwk = jwkFromSeed(seed(`key/${opts.keyLabel ?? name}`));
  const pay = opts.payment ?? payment();
  const agent = opts.agent ?? '"https://agent.example"';
  const url = opts.url ?? "https://example.com/article";
  const method = opts.method ?? "GET";
  const created = opts.created ?? NOW - 5;
  const expires = opts.expires ?? NOW + 55;
  const base = [
    ["Signature-Agent", agent],
    ["PAYMENT-SIGNATURE", pay],
  ];
  const s = await sign({
    jwk,
    url,
    method,
    headers: base,
    created,
    expires,
    nonceLabel: name,
    label: opts.label ?? "sig1",
  });
  let headers = [...base, ["Signature-Input", s.signatureInput], ["Signature", s.signature]];
  let verifyUrl = url;
  let verifyMethod = method;
  if (tamper) ({ headers, url: verifyUrl = url, method: verifyMethod = method } = tamper(headers, url));
  const now = opts.now ?? NOW;
  const { d, ...publicJwk } = jwk;
  vectors.push({
    name,
    jwk: publicJwk,
    keyid: s.keyid,
    agent: opts.agentIdentity ?? "https://agent.example",
    request: { method: verifyMethod, url: verifyUrl, headers },
    offer: opts.offer ?? OFFER,
    now,
    expect,
    webBotAuthVerifies: await theirVerify(publicJwk, verifyUrl, verifyMethod, headers, now),
  });
}

const valid = { isValid: true };
const bad = (invalidReason) => ({ isValid: false, invalidReason });
const replace = (name, value) => (headers, url) => ({
  headers: headers.map(([n, v]) => (n.toLowerCase() === name ? [n, value] : [n, v])),
  url,
});

// Valid requests: different keys, agents, methods, ports, times and labels.
for (let i = 0; i < 8; i++) {
  await add(`valid-${i}`, { keyLabel: `k${i}`, created: NOW - i * 20, expires: NOW + 60 + i }, null, valid);
}
await add("valid-post", { method: "POST" }, null, valid);
await add("valid-port", { url: "https://example.com:8443/article?x=1" }, null, valid);
await add("valid-default-port", { url: "https://example.com:443/article" }, null, valid);
await add("valid-label", { label: "x402-pay" }, null, valid);
await add("valid-unicode-resource", {
  payment: payment("5", "USD", ACCEPTED),
  url: "https://example.com/%C3%A9t%C3%A9?q=caf%C3%A9",
}, null, valid);
await add("valid-at-expiry", { created: NOW - 60, expires: NOW }, null, valid);

// Tampered after signing: web-bot-auth and x402-core must both refuse.
await add("tampered-authority", {}, (h, url) => ({ headers: h, url: url.replace("example.com", "example.org") }), bad("invalid_batch_settlement_cloudflare_signature"));
await add("tampered-payment", {}, replace("payment-signature", payment("6")), bad("invalid_batch_settlement_cloudflare_signature"));
// The registry knows no such agent: the key lookup fails before the signature is checked.
await add("tampered-agent", {}, replace("signature-agent", '"https://agent.example/x"'), bad("invalid_batch_settlement_cloudflare_signature_agent_unknown"));
await add("tampered-signature", {}, (h, url) => ({
  headers: h.map(([n, v]) => (n === "Signature" ? [n, v.replace(/:(.)/, (m, c) => `:${c === "A" ? "B" : "A"}`)] : [n, v])),
  url,
}), bad("invalid_batch_settlement_cloudflare_signature"));
await add("tampered-created", {}, (h, url) => ({
  headers: h.map(([n, v]) => (n === "Signature-Input" ? [n, v.replace(`created=${NOW - 5}`, `created=${NOW - 4}`)] : [n, v])),
  url,
}), bad("invalid_batch_settlement_cloudflare_signature"));
await add("tampered-method-not-covered", {}, (h, url) => ({ headers: h, url, method: "POST" }), valid);
await add("expired", { created: NOW - 120, expires: NOW - 60 }, null, bad("invalid_batch_settlement_cloudflare_signature_expired"));
await add("created-in-future", { created: NOW + 120, expires: NOW + 180 }, null, bad("invalid_batch_settlement_cloudflare_signature_created"));

// Signed correctly, refused by the payment checks (web-bot-auth does not look at payments).
await add("amount-mismatch", { payment: payment("6") }, null, bad("invalid_batch_settlement_cloudflare_amount_mismatch"));
await add("asset-mismatch", { payment: payment("5", "EUR") }, null, bad("invalid_batch_settlement_cloudflare_asset_mismatch"));
await add("accepted-not-offered", { payment: payment("4", "USD", { ...ACCEPTED, amount: "4" }) }, null, bad("invalid_batch_settlement_cloudflare_accepted_mismatch"));
await add("unknown-agent", { agent: '"https://stranger.example"', agentIdentity: "https://stranger.example" }, null, bad("invalid_batch_settlement_cloudflare_signature_agent_unknown"));

writeJson(new URL("../../batch/web-bot-auth.json", import.meta.url), {
  generator: {
    script: "x402-core/tests/vectors/gen-batch/src/generate.mjs",
    packages: {
      "web-bot-auth": pkg("web-bot-auth"),
      "http-message-sig": pkg("http-message-sig"),
      "structured-headers": pkg("structured-headers"),
      "jsonwebkey-thumbprint": pkg("jsonwebkey-thumbprint"),
    },
  },
  description:
    "Requests paying with batch-settlement on cloudflare:402, signed by Cloudflare's web-bot-auth (signatureHeaders, Ed25519, components @authority, signature-agent, payment-signature). Each entry: the agent's public JWK and keyid (web-bot-auth's thumbprint), the request as received (some tampered after signing), the server's offer, now, the verdict x402-core must reach (expect), and whether web-bot-auth's own verify accepts the request at now (webBotAuthVerifies). The registry knows one agent, https://agent.example; a vector's key is the only key in its directory.",
  vectors,
});
console.log(`generate: ${vectors.length} vectors written to tests/vectors/batch/web-bot-auth.json`);
