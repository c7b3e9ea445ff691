// official-verdicts.json: what the OFFICIAL facilitator verify (@x402/core
// x402Facilitator + @x402/evm exact v2/v1 and upto schemes) says about valid and
// tampered payments, over the fake healthy chain with pinned time.
// erc20-approval.json: the same for Permit2 payments carrying a signed
// approval (erc20ApprovalGasSponsoring), judged by a facilitator that has
// registered that extension (an operator's opt-in); kept apart because only a
// host that sponsors approvals reads them.
import { fileURLToPath } from "node:url";
import { encodeFunctionData, getAddress, parseAbi, parseTransaction, serializeTransaction } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { x402ExactPermit2ProxyAddress, x402UptoPermit2ProxyAddress } from "@x402/evm";
import {
  NOW,
  SECP256K1_N,
  USDC_BASE,
  USDC_BASE_SEPOLIA,
  deepClone,
  generatorBlock,
  makeRng,
  writeJson,
} from "./common.mjs";
import { signEip3009, signPermit2 } from "./typed.mjs";
import { officialVerify } from "./fakechain.mjs";

const rng = makeRng("official-verdicts");

const PAYER_KEY = rng.privateKey();
const OTHER_KEY = rng.privateKey();
const PAYER = privateKeyToAccount(PAYER_KEY).address;
const PAY_TO = rng.address();
const OTHER_ADDRESS = rng.address();
const FAC_A = rng.address();
const FAC_B = rng.address();
const FACILITATORS = [FAC_A, FAC_B];
const OTHER_TOKEN = rng.address();
const CUSTOM_TOKEN = {
  network: "eip155:137",
  chainId: 137,
  asset: rng.address(),
  name: "Dólar Digital ✓",
  version: "1",
};

// ---- signature transforms ----------------------------------------------------
function splitSig(sig) {
  return {
    r: sig.slice(2, 66),
    s: BigInt(`0x${sig.slice(66, 130)}`),
    v: parseInt(sig.slice(130, 132), 16),
  };
}
const hex64 = (n) => n.toString(16).padStart(64, "0");
/** The high-s twin: s' = n - s, v flipped (27 <-> 28). Recovers to the same address. */
function toHighS(sig) {
  const { r, s, v } = splitSig(sig);
  return `0x${r}${hex64(SECP256K1_N - s)}${v === 27 ? "1c" : "1b"}`;
}
/** Same signature with v encoded as 0/1 (y-parity) instead of 27/28. */
function toV01(sig) {
  const { v } = splitSig(sig);
  return `${sig.slice(0, 130)}${(v - 27).toString(16).padStart(2, "0")}`;
}
/** EIP-2098 compact form: r || (yParity << 255 | s), 64 bytes. */
function toCompact(sig) {
  const { r, s, v } = splitSig(sig);
  return `0x${r}${hex64(s | (BigInt(v - 27) << 255n))}`;
}

// ---- payment builders ----------------------------------------------------------
const FAMILIES = {
  "eip3009-v2": { x402Version: 2, scheme: "exact", kind: "eip3009" },
  "eip3009-v1": { x402Version: 1, scheme: "exact", kind: "eip3009" },
  "permit2-v2": { x402Version: 2, scheme: "exact", kind: "permit2" },
  "upto-v2": { x402Version: 2, scheme: "upto", kind: "upto" },
};

/**
 * Builds a correctly signed payment for `family`, then lets the caller tamper.
 *  - t: token/network; amount: required amount
 *  - req(requirements): edit requirements BEFORE signing (accepted copies them)
 *  - sign(auth): edit the authorization BEFORE signing (fields are signed)
 *  - signer: "payer" | "other"
 *  - mutate(paymentPayload, paymentRequirements): edit AFTER signing
 *  - sigTransform(signature): re-encode the signature after signing
 */
async function build(family, opts = {}) {
  const f = FAMILIES[family];
  const t = opts.t ?? USDC_BASE;
  const amount = opts.amount ?? "10000";
  const now = opts.now ?? NOW;
  let requirements;
  if (f.x402Version === 1) {
    requirements = {
      scheme: "exact",
      network: t.v1Network,
      maxAmountRequired: amount,
      resource: "https://api.example.com/v1/resource",
      description: "A v1 resource",
      mimeType: "application/json",
      payTo: PAY_TO,
      maxTimeoutSeconds: 300,
      asset: t.asset,
      extra: { name: t.name, version: t.version },
    };
  } else {
    requirements = {
      scheme: f.scheme,
      network: t.network,
      amount,
      asset: t.asset,
      payTo: PAY_TO,
      maxTimeoutSeconds: 300,
      extra: { name: t.name, version: t.version },
    };
    if (f.kind !== "eip3009") requirements.extra.assetTransferMethod = "permit2";
    if (f.kind === "upto") requirements.extra.facilitatorAddress = FAC_A;
  }
  opts.req?.(requirements);

  let inner;
  if (f.kind === "eip3009") {
    const authorization = {
      from: PAYER,
      to: getAddress(PAY_TO),
      value: amount,
      validAfter: f.x402Version === 1 ? String(now - 600) : "0",
      validBefore: String(now + 300),
      nonce: rng.bytes32(),
    };
    opts.sign?.(authorization);
    const domain = opts.domain ?? {
      name: t.name,
      version: t.version,
      chainId: t.chainId,
      verifyingContract: t.asset,
    };
    const key = opts.signer === "other" ? OTHER_KEY : PAYER_KEY;
    let signature = await signEip3009(key, domain, authorization);
    if (opts.sigTransform) signature = opts.sigTransform(signature);
    inner = { authorization, signature };
  } else {
    const upto = f.kind === "upto";
    const witness = upto
      ? { to: getAddress(PAY_TO), facilitator: FAC_A, validAfter: "0" }
      : { to: getAddress(PAY_TO), validAfter: "0" };
    const permit2Authorization = {
      from: PAYER,
      permitted: { token: t.asset, amount },
      spender: upto ? x402UptoPermit2ProxyAddress : x402ExactPermit2ProxyAddress,
      nonce: rng.uint(256).toString(),
      deadline: String(now + 300),
      witness,
    };
    opts.sign?.(permit2Authorization);
    const key = opts.signer === "other" ? OTHER_KEY : PAYER_KEY;
    let signature = await signPermit2(key, opts.chainId ?? t.chainId, permit2Authorization, upto);
    if (opts.sigTransform) signature = opts.sigTransform(signature);
    inner = { signature, permit2Authorization };
  }

  const paymentPayload =
    f.x402Version === 1
      ? { x402Version: 1, scheme: "exact", network: t.v1Network, payload: inner }
      : {
          x402Version: 2,
          resource: { url: "https://api.example.com/resource", description: "Test resource", mimeType: "application/json" },
          accepted: deepClone(requirements),
          payload: inner,
        };
  await opts.mutate?.(paymentPayload, requirements);
  return { paymentPayload, paymentRequirements: requirements };
}

// ---- vector table ------------------------------------------------------------------
const V = [];
const add = (name, category, family, opts = {}) => V.push({ name, category, family, opts });
const authOf = (p) => p.payload.authorization;
const p2Of = (p) => p.payload.permit2Authorization;
const plus = (s, d) => (BigInt(s) + BigInt(d)).toString();

// valid
add("eip3009-v2-base", "valid", "eip3009-v2");
add("eip3009-v2-base-sepolia", "valid", "eip3009-v2", { t: USDC_BASE_SEPOLIA, amount: "1" });
add("eip3009-v2-custom-token-polygon-unicode-name", "valid", "eip3009-v2", { t: CUSTOM_TOKEN, amount: "123456789" });
add("eip3009-v2-payto-lowercase-in-requirements", "valid", "eip3009-v2", {
  req: (r) => { r.payTo = r.payTo.toLowerCase(); },
});
add("eip3009-v2-other-now", "valid", "eip3009-v2", { now: NOW + 1000000 });
add("eip3009-v1-base-sepolia", "valid", "eip3009-v1", { t: USDC_BASE_SEPOLIA });
add("eip3009-v1-base", "valid", "eip3009-v1", { amount: "1000000" });
add("permit2-v2-base", "valid", "permit2-v2");
add("permit2-v2-base-sepolia", "valid", "permit2-v2", { t: USDC_BASE_SEPOLIA, amount: "999" });
add("upto-v2-base-sepolia", "valid", "upto-v2", { t: USDC_BASE_SEPOLIA });
add("upto-v2-base-second-facilitator", "valid", "upto-v2", {
  sign: (a) => { a.witness.facilitator = FAC_B; },
});

add("eip3009-v2-valid-before-max-uint256", "valid", "eip3009-v2", {
  sign: (a) => { a.validBefore = ((1n << 256n) - 1n).toString(); },
});
add("permit2-v2-deadline-max-uint256", "valid", "permit2-v2", {
  sign: (a) => { a.deadline = ((1n << 256n) - 1n).toString(); },
});

// payload.accepted differs from the requirements in fields other than scheme/network
add("eip3009-v2-accepted-amount-differs", "accepted-mismatch", "eip3009-v2", {
  mutate: (p) => { p.accepted.amount = "1"; },
});
add("eip3009-v2-accepted-payto-differs", "accepted-mismatch", "eip3009-v2", {
  mutate: (p) => { p.accepted.payTo = OTHER_ADDRESS; },
});
add("eip3009-v2-accepted-asset-differs", "accepted-mismatch", "eip3009-v2", {
  mutate: (p) => { p.accepted.asset = OTHER_TOKEN; },
});
add("permit2-v2-accepted-amount-differs", "accepted-mismatch", "permit2-v2", {
  mutate: (p) => { p.accepted.amount = "1"; },
});
add("upto-v2-accepted-extra-differs", "accepted-mismatch", "upto-v2", {
  mutate: (p) => { p.accepted.extra = { facilitatorAddress: OTHER_ADDRESS }; },
});

// wrong scheme
add("eip3009-v2-accepted-scheme-upto", "wrong-scheme", "eip3009-v2", {
  mutate: (p) => { p.accepted.scheme = "upto"; },
});
add("eip3009-v2-accepted-scheme-uppercase", "wrong-scheme", "eip3009-v2", {
  mutate: (p) => { p.accepted.scheme = "EXACT"; },
});
add("eip3009-v1-payload-scheme-upto", "wrong-scheme", "eip3009-v1", {
  mutate: (p) => { p.scheme = "upto"; },
});
add("permit2-v2-accepted-scheme-upto", "wrong-scheme", "permit2-v2", {
  mutate: (p) => { p.accepted.scheme = "upto"; },
});
add("upto-v2-accepted-scheme-exact", "wrong-scheme", "upto-v2", {
  mutate: (p) => { p.accepted.scheme = "exact"; },
});
add("eip3009-v2-unregistered-scheme", "wrong-scheme", "eip3009-v2", {
  mutate: (p, r) => { p.accepted.scheme = "streaming"; r.scheme = "streaming"; },
});
add("upto-v2-requirements-with-eip3009-payload", "wrong-scheme", "eip3009-v2", {
  mutate: (p, r) => { p.accepted.scheme = "upto"; r.scheme = "upto"; },
  facilitatorAddresses: FACILITATORS,
});

// missing EIP-712 domain in extra
add("eip3009-v2-missing-extra-name", "missing-eip712-domain", "eip3009-v2", {
  mutate: (p, r) => { delete r.extra.name; delete p.accepted.extra.name; },
});
add("eip3009-v2-missing-extra-version", "missing-eip712-domain", "eip3009-v2", {
  mutate: (p, r) => { delete r.extra.version; delete p.accepted.extra.version; },
});
add("eip3009-v2-missing-extra", "missing-eip712-domain", "eip3009-v2", {
  mutate: (p, r) => { delete r.extra; delete p.accepted.extra; },
});
add("eip3009-v2-empty-extra-name", "missing-eip712-domain", "eip3009-v2", {
  mutate: (p, r) => { r.extra.name = ""; p.accepted.extra.name = ""; },
});
add("eip3009-v1-missing-extra-name", "missing-eip712-domain", "eip3009-v1", {
  mutate: (_p, r) => { delete r.extra.name; },
});
add("permit2-v2-no-name-version-needed", "missing-eip712-domain", "permit2-v2", {
  mutate: (p, r) => {
    r.extra = { assetTransferMethod: "permit2" };
    p.accepted.extra = { assetTransferMethod: "permit2" };
  },
});

// network mismatch between payload and requirements
add("eip3009-v2-accepted-network-base-sepolia", "network-mismatch", "eip3009-v2", {
  mutate: (p) => { p.accepted.network = "eip155:84532"; },
});
add("eip3009-v1-payload-network-base-sepolia", "network-mismatch", "eip3009-v1", {
  mutate: (p) => { p.network = "base-sepolia"; },
});
add("eip3009-v1-payload-network-caip2", "network-mismatch", "eip3009-v1", {
  mutate: (p) => { p.network = "eip155:8453"; },
});
add("permit2-v2-accepted-network-mismatch", "network-mismatch", "permit2-v2", {
  mutate: (p) => { p.accepted.network = "eip155:1"; },
});
add("upto-v2-accepted-network-mismatch", "network-mismatch", "upto-v2", {
  mutate: (p) => { p.accepted.network = "eip155:84532"; },
});

// signed over the wrong EIP-712 domain
add("eip3009-v2-signed-for-other-chain", "wrong-domain", "eip3009-v2", {
  domain: { name: USDC_BASE.name, version: "2", chainId: 84532, verifyingContract: USDC_BASE.asset },
});
add("eip3009-v2-signed-with-other-token-name", "wrong-domain", "eip3009-v2", {
  domain: { name: "USDC", version: "2", chainId: 8453, verifyingContract: USDC_BASE.asset },
});
add("eip3009-v2-signed-for-other-contract", "wrong-domain", "eip3009-v2", {
  domain: { name: USDC_BASE.name, version: "2", chainId: 8453, verifyingContract: USDC_BASE_SEPOLIA.asset },
});
add("permit2-v2-signed-for-other-chain", "wrong-domain", "permit2-v2", { chainId: 84532 });

// signature by another key
add("eip3009-v2-other-key", "wrong-signer", "eip3009-v2", { signer: "other" });
add("eip3009-v1-other-key", "wrong-signer", "eip3009-v1", { signer: "other" });
add("permit2-v2-other-key", "wrong-signer", "permit2-v2", { signer: "other" });
add("upto-v2-other-key", "wrong-signer", "upto-v2", { signer: "other" });

// signed field tampered after signing (requirements follow the tampered payload where relevant)
add("eip3009-v2-tampered-value", "tampered-signed-field", "eip3009-v2", {
  mutate: (p, r) => { authOf(p).value = "10001"; r.amount = "10001"; p.accepted.amount = "10001"; },
});
add("eip3009-v2-tampered-to", "tampered-signed-field", "eip3009-v2", {
  mutate: (p, r) => { authOf(p).to = OTHER_ADDRESS; r.payTo = OTHER_ADDRESS; p.accepted.payTo = OTHER_ADDRESS; },
});
add("eip3009-v2-tampered-nonce", "tampered-signed-field", "eip3009-v2", {
  mutate: (p) => { authOf(p).nonce = `0x${authOf(p).nonce.slice(2, 64)}00`; },
});
add("eip3009-v2-tampered-valid-after", "tampered-signed-field", "eip3009-v2", {
  mutate: (p) => { authOf(p).validAfter = "1"; },
});
add("eip3009-v2-tampered-valid-before", "tampered-signed-field", "eip3009-v2", {
  mutate: (p) => { authOf(p).validBefore = plus(authOf(p).validBefore, 1); },
});
add("eip3009-v2-tampered-from", "tampered-signed-field", "eip3009-v2", {
  mutate: (p) => { authOf(p).from = OTHER_ADDRESS; },
});
add("eip3009-v1-tampered-value", "tampered-signed-field", "eip3009-v1", {
  mutate: (p, r) => { authOf(p).value = "9999"; r.maxAmountRequired = "9999"; },
});
add("eip3009-v1-tampered-nonce", "tampered-signed-field", "eip3009-v1", {
  mutate: (p) => { authOf(p).nonce = `0x00${authOf(p).nonce.slice(4)}`; },
});
add("permit2-v2-tampered-amount", "tampered-signed-field", "permit2-v2", {
  mutate: (p, r) => { p2Of(p).permitted.amount = "10001"; r.amount = "10001"; p.accepted.amount = "10001"; },
});
add("permit2-v2-tampered-nonce", "tampered-signed-field", "permit2-v2", {
  mutate: (p) => { p2Of(p).nonce = plus(p2Of(p).nonce, 1); },
});
add("permit2-v2-tampered-deadline", "tampered-signed-field", "permit2-v2", {
  mutate: (p) => { p2Of(p).deadline = plus(p2Of(p).deadline, 3600); },
});
add("permit2-v2-tampered-witness-valid-after", "tampered-signed-field", "permit2-v2", {
  mutate: (p) => { p2Of(p).witness.validAfter = "1"; },
});
add("upto-v2-tampered-witness-facilitator", "tampered-signed-field", "upto-v2", {
  mutate: (p) => { p2Of(p).witness.facilitator = FAC_B; },
});
add("upto-v2-tampered-nonce", "tampered-signed-field", "upto-v2", {
  mutate: (p) => { p2Of(p).nonce = "0"; },
});

// recipient mismatch (correctly signed to another address)
add("eip3009-v2-recipient-mismatch", "recipient-mismatch", "eip3009-v2", {
  sign: (a) => { a.to = OTHER_ADDRESS; },
});
add("eip3009-v1-recipient-mismatch", "recipient-mismatch", "eip3009-v1", {
  sign: (a) => { a.to = OTHER_ADDRESS; },
});
add("permit2-v2-recipient-mismatch", "recipient-mismatch", "permit2-v2", {
  sign: (a) => { a.witness.to = OTHER_ADDRESS; },
});
add("upto-v2-recipient-mismatch", "recipient-mismatch", "upto-v2", {
  sign: (a) => { a.witness.to = OTHER_ADDRESS; },
});

// expiry: validBefore / deadline must be >= now + 6
for (const [d, tag] of [[5, "now-plus-5"], [6, "now-plus-6"], [0, "now"], [-1, "now-minus-1"]]) {
  add(`eip3009-v2-valid-before-${tag}`, "expired", "eip3009-v2", {
    sign: (a) => { a.validBefore = String(NOW + d); },
  });
}
for (const [d, tag] of [[5, "now-plus-5"], [6, "now-plus-6"]]) {
  add(`eip3009-v1-valid-before-${tag}`, "expired", "eip3009-v1", {
    sign: (a) => { a.validBefore = String(NOW + d); },
  });
  add(`permit2-v2-deadline-${tag}`, "expired", "permit2-v2", {
    sign: (a) => { a.deadline = String(NOW + d); },
  });
  add(`upto-v2-deadline-${tag}`, "expired", "upto-v2", {
    sign: (a) => { a.deadline = String(NOW + d); },
  });
}

// not yet valid: validAfter must be <= now
for (const [d, tag] of [[0, "now"], [1, "now-plus-1"]]) {
  add(`eip3009-v2-valid-after-${tag}`, "not-yet-valid", "eip3009-v2", {
    sign: (a) => { a.validAfter = String(NOW + d); },
  });
  add(`eip3009-v1-valid-after-${tag}`, "not-yet-valid", "eip3009-v1", {
    sign: (a) => { a.validAfter = String(NOW + d); },
  });
  add(`permit2-v2-valid-after-${tag}`, "not-yet-valid", "permit2-v2", {
    sign: (a) => { a.witness.validAfter = String(NOW + d); },
  });
  add(`upto-v2-valid-after-${tag}`, "not-yet-valid", "upto-v2", {
    sign: (a) => { a.witness.validAfter = String(NOW + d); },
  });
}

// amount: signed value vs required amount (correctly signed)
for (const [delta, tag] of [[-1, "below"], [1, "above"]]) {
  add(`eip3009-v2-value-${tag}-amount`, "amount-mismatch", "eip3009-v2", {
    sign: (a) => { a.value = plus(a.value, delta); },
  });
  add(`eip3009-v1-value-${tag}-amount`, "amount-mismatch", "eip3009-v1", {
    sign: (a) => { a.value = plus(a.value, delta); },
  });
  add(`permit2-v2-amount-${tag}-required`, "amount-mismatch", "permit2-v2", {
    sign: (a) => { a.permitted.amount = plus(a.permitted.amount, delta); },
  });
  add(`upto-v2-amount-${tag === "above" ? "over-max" : "below-max"}`, "amount-mismatch", "upto-v2", {
    sign: (a) => { a.permitted.amount = plus(a.permitted.amount, delta); },
  });
}

// Permit2-specific
add("permit2-v2-spender-upto-proxy", "permit2-spender", "permit2-v2", {
  sign: (a) => { a.spender = x402UptoPermit2ProxyAddress; },
});
add("permit2-v2-spender-random", "permit2-spender", "permit2-v2", {
  sign: (a) => { a.spender = OTHER_ADDRESS; },
});
add("upto-v2-spender-exact-proxy", "permit2-spender", "upto-v2", {
  sign: (a) => { a.spender = x402ExactPermit2ProxyAddress; },
});
add("permit2-v2-token-mismatch", "permit2-token-mismatch", "permit2-v2", {
  sign: (a) => { a.permitted.token = OTHER_TOKEN; },
});
add("upto-v2-token-mismatch", "permit2-token-mismatch", "upto-v2", {
  sign: (a) => { a.permitted.token = USDC_BASE_SEPOLIA.asset; },
});

// upto: witness facilitator must be one of the facilitator's signer addresses
add("upto-v2-facilitator-not-configured", "upto-facilitator", "upto-v2", {
  sign: (a) => { a.witness.facilitator = OTHER_ADDRESS; },
});
add("upto-v2-no-facilitator-addresses", "upto-facilitator", "upto-v2", { facilitatorAddresses: [] });
add("upto-v2-facilitator-configured-lowercase", "upto-facilitator", "upto-v2", {
  facilitatorAddresses: [FAC_A.toLowerCase()],
});

// signature malleability / encodings
for (const fam of ["eip3009-v2", "eip3009-v1", "permit2-v2", "upto-v2"]) {
  add(`${fam}-high-s-twin`, "signature-malleability", fam, { sigTransform: toHighS, stricter: "high-s" });
  add(`${fam}-v-as-0-1`, "signature-malleability", fam, { sigTransform: toV01 });
}
add("eip3009-v2-high-s-twin-and-v-0-1", "signature-malleability", "eip3009-v2", {
  sigTransform: (s) => toV01(toHighS(s)),
  stricter: "high-s",
});
for (const fam of ["eip3009-v2", "eip3009-v1", "permit2-v2", "upto-v2"]) {
  add(`${fam}-eip2098-compact-64-bytes`, "eip2098-compact", fam, { sigTransform: toCompact });
}

// malformed signatures
add("eip3009-v2-signature-empty", "malformed-signature", "eip3009-v2", { sigTransform: () => "0x" });
add("eip3009-v2-signature-66-bytes", "malformed-signature", "eip3009-v2", { sigTransform: (s) => `${s}00` });
add("eip3009-v2-signature-v-29", "malformed-signature", "eip3009-v2", {
  sigTransform: (s) => `${s.slice(0, 130)}1d`,
});
add("permit2-v2-signature-r-s-zero", "malformed-signature", "permit2-v2", {
  sigTransform: () => `0x${"00".repeat(64)}1b`,
});

// payload shape not handled by the scheme
add("eip3009-v1-with-permit2-payload", "unsupported-payload", "permit2-v2", {
  mutate: (p, r) => {
    const inner = p.payload;
    for (const k of Object.keys(p)) delete p[k];
    Object.assign(p, { x402Version: 1, scheme: "exact", network: "base", payload: inner });
    const v1 = {
      scheme: "exact",
      network: "base",
      maxAmountRequired: r.amount,
      resource: "https://api.example.com/v1/resource",
      description: "A v1 resource",
      mimeType: "application/json",
      payTo: r.payTo,
      maxTimeoutSeconds: r.maxTimeoutSeconds,
      asset: r.asset,
      extra: { name: USDC_BASE.name, version: USDC_BASE.version },
    };
    for (const k of Object.keys(r)) delete r[k];
    Object.assign(r, v1);
  },
});

// eip2612GasSponsoring: the payer's EIP-2612 permit for Permit2, signed with
// viem, in the payment's extensions; `edit(info)` changes it after signing.
const PERMIT2 = "0x000000000022D473030F116dDEE9F6B43aC78BA3";
const MAX_UINT256 = ((1n << 256n) - 1n).toString();
function withPermit(edit, { signer = "payer", deadline = NOW + 300 } = {}) {
  return async (p, r) => {
    const account = privateKeyToAccount(signer === "other" ? OTHER_KEY : PAYER_KEY);
    const message = { owner: account.address, spender: PERMIT2, value: MAX_UINT256, nonce: "0", deadline: String(deadline) };
    const signature = await account.signTypedData({
      domain: { name: r.extra.name, version: r.extra.version, chainId: Number(r.network.split(":")[1]), verifyingContract: r.asset },
      types: {
        Permit: [
          { name: "owner", type: "address" },
          { name: "spender", type: "address" },
          { name: "value", type: "uint256" },
          { name: "nonce", type: "uint256" },
          { name: "deadline", type: "uint256" },
        ],
      },
      primaryType: "Permit",
      message: { ...message, value: BigInt(message.value), nonce: 0n, deadline: BigInt(message.deadline) },
    });
    const info = {
      from: account.address,
      asset: r.asset,
      spender: PERMIT2,
      amount: message.value,
      nonce: message.nonce,
      deadline: message.deadline,
      signature,
      version: "1",
    };
    edit?.(info);
    p.extensions = { eip2612GasSponsoring: { info } };
  };
}
add("permit2-v2-eip2612-permit", "eip2612-gas-sponsoring", "permit2-v2", { mutate: withPermit() });
add("permit2-v2-eip2612-from-other", "eip2612-gas-sponsoring", "permit2-v2", {
  mutate: withPermit((i) => { i.from = getAddress(OTHER_ADDRESS); }),
});
add("permit2-v2-eip2612-asset-other", "eip2612-gas-sponsoring", "permit2-v2", {
  mutate: withPermit((i) => { i.asset = OTHER_TOKEN; }),
});
add("permit2-v2-eip2612-spender-proxy", "eip2612-gas-sponsoring", "permit2-v2", {
  mutate: withPermit((i) => { i.spender = x402ExactPermit2ProxyAddress; }),
});
add("permit2-v2-eip2612-deadline-in-5s", "eip2612-gas-sponsoring", "permit2-v2", {
  mutate: withPermit(null, { deadline: NOW + 5 }),
});
add("permit2-v2-eip2612-deadline-in-6s", "eip2612-gas-sponsoring", "permit2-v2", {
  mutate: withPermit(null, { deadline: NOW + 6 }),
});
add("permit2-v2-eip2612-amount-not-a-number", "eip2612-gas-sponsoring", "permit2-v2", {
  mutate: withPermit((i) => { i.amount = "1e6"; }),
});
add("permit2-v2-eip2612-version-missing", "eip2612-gas-sponsoring", "permit2-v2", {
  mutate: withPermit((i) => { delete i.version; }),
});
add("permit2-v2-eip2612-from-lowercase", "eip2612-gas-sponsoring", "permit2-v2", {
  mutate: withPermit((i) => { i.from = i.from.toLowerCase(); }),
});
add("permit2-v2-eip2612-signature-64-bytes", "eip2612-gas-sponsoring", "permit2-v2", {
  mutate: withPermit((i) => { i.signature = i.signature.slice(0, 130); }),
  stricter: "eip2612-signature-length",
});
add("permit2-v2-eip2612-and-a-bad-permit2-signature", "eip2612-gas-sponsoring", "permit2-v2", {
  signer: "other",
  mutate: withPermit(),
});

// erc20ApprovalGasSponsoring: the payer's signed approve(Permit2, max) as the
// official client signs it (EIP-1559, gas 70,000, its default fees), then
// `edit(info, tx)` changes the info or the transaction before it is signed.
const ERC20_ABI = parseAbi([
  "function approve(address spender, uint256 amount) returns (bool)",
  "function transfer(address to, uint256 amount) returns (bool)",
]);
function withApproval(edit, { signer = "payer", after } = {}) {
  return async (p, r) => {
    const account = privateKeyToAccount(signer === "other" ? OTHER_KEY : PAYER_KEY);
    const tx = {
      type: "eip1559",
      to: r.asset,
      data: encodeFunctionData({ abi: ERC20_ABI, functionName: "approve", args: [PERMIT2, (1n << 256n) - 1n] }),
      nonce: 0,
      gas: 70000n,
      maxFeePerGas: 1000000000n,
      maxPriorityFeePerGas: 100000000n,
      chainId: Number(r.network.split(":")[1]),
    };
    const info = { from: PAYER, asset: r.asset, spender: PERMIT2, amount: MAX_UINT256, version: "1" };
    edit?.(info, tx);
    info.signedTransaction = await account.signTransaction(tx);
    after?.(info);
    p.extensions = { erc20ApprovalGasSponsoring: { info } };
  };
}
const ERC20 = "erc20-approval-gas-sponsoring";
const erc20 = (name, opts) => add(`permit2-v2-erc20-approval-${name}`, ERC20, "permit2-v2", { erc20Approval: true, ...opts });
erc20("signed", { mutate: withApproval() });
erc20("from-other", { mutate: withApproval((i) => { i.from = getAddress(OTHER_ADDRESS); }) });
erc20("asset-other", { mutate: withApproval((i) => { i.asset = OTHER_TOKEN; }) });
erc20("spender-proxy", { mutate: withApproval((i) => { i.spender = x402ExactPermit2ProxyAddress; }) });
erc20("signed-by-another", { mutate: withApproval(null, { signer: "other" }) });
erc20("tx-to-another-token", { mutate: withApproval((_, t) => { t.to = OTHER_TOKEN; }) });
erc20("tx-a-transfer", {
  mutate: withApproval((_, t) => { t.data = encodeFunctionData({ abi: ERC20_ABI, functionName: "transfer", args: [PERMIT2, 1n] }); }),
});
erc20("tx-approves-the-proxy", {
  mutate: withApproval((_, t) => {
    t.data = encodeFunctionData({ abi: ERC20_ABI, functionName: "approve", args: [x402ExactPermit2ProxyAddress, 1n] });
  }),
});
erc20("tx-calldata-cut", { mutate: withApproval((_, t) => { t.data = t.data.slice(0, 10 + 40); }) });
erc20("tx-not-a-transaction", { mutate: withApproval(null, { after: (i) => { i.signedTransaction = "0x02abcdef"; } }) });
erc20("tx-odd-hex", { mutate: withApproval(null, { after: (i) => { i.signedTransaction = i.signedTransaction.slice(0, -1); } }) });
erc20("amount-not-a-number", { mutate: withApproval((i) => { i.amount = "1e6"; }) });
erc20("version-missing", { mutate: withApproval(null, { after: (i) => { delete i.version; } }) });
erc20("from-lowercase", { mutate: withApproval((i) => { i.from = i.from.toLowerCase(); }) });
erc20("and-a-bad-permit2-signature", { signer: "other", mutate: withApproval() });
// Deliberate differences: what broadcasting could only fail on, and forms
// this crate does not read.
erc20("tx-for-another-chain", {
  mutate: withApproval((_, t) => { t.chainId = 1; }),
  stricter: { name: "erc20-approval-not-sponsorable", reason: "erc20_approval_tx_not_sponsorable" },
});
erc20("tx-sends-ether", {
  mutate: withApproval((_, t) => { t.value = 1n; }),
  stricter: { name: "erc20-approval-not-sponsorable", reason: "erc20_approval_tx_not_sponsorable" },
});
erc20("tx-legacy-type", {
  mutate: withApproval((_, t) => {
    delete t.maxFeePerGas;
    delete t.maxPriorityFeePerGas;
    t.type = "legacy";
    t.gasPrice = 1000000000n;
  }),
  stricter: { name: "erc20-approval-eip1559-only", reason: "erc20_approval_tx_parse_failed" },
});
erc20("tx-calldata-with-trailing-bytes", {
  mutate: withApproval((_, t) => { t.data = `${t.data}00000000`; }),
  stricter: { name: "erc20-approval-exact-calldata", reason: "erc20_approval_tx_invalid_calldata" },
});
erc20("tx-high-s", {
  mutate: withApproval(null, {
    after: (i) => {
      const tx = parseTransaction(i.signedTransaction);
      const s = SECP256K1_N - BigInt(tx.s);
      const signature = { r: tx.r, s: `0x${s.toString(16).padStart(64, "0")}`, yParity: tx.yParity ^ 1 };
      const { r: _r, s: _s, v: _v, yParity: _y, ...unsigned } = tx;
      i.signedTransaction = serializeTransaction(unsigned, signature);
    },
  }),
  stricter: { name: "erc20-approval-high-s", reason: "erc20_approval_tx_invalid_signature" },
});

// ---- run --------------------------------------------------------------------------
const vectors = [];
const counts = {};
for (const { name, category, family, opts } of V) {
  const now = opts.now ?? NOW;
  const { paymentPayload, paymentRequirements } = await build(family, opts);
  const facilitatorAddresses =
    opts.facilitatorAddresses ?? (FAMILIES[family].kind === "upto" ? FACILITATORS : undefined);
  const verdict = await officialVerify({
    paymentPayload,
    paymentRequirements,
    now,
    facilitatorAddresses,
    erc20Approval: opts.erc20Approval,
  });
  const v = {
    name: `${category}/${name}`,
    category,
    x402Version: paymentPayload.x402Version,
    request: { x402Version: paymentPayload.x402Version, paymentPayload, paymentRequirements },
    now,
  };
  if (facilitatorAddresses) v.facilitatorAddresses = facilitatorAddresses;
  if (opts.stricter) v.stricter = opts.stricter;
  v.verdict = verdict;
  vectors.push(v);
  counts[category] = (counts[category] ?? 0) + 1;
}

const approvals = vectors.filter((v) => v.category === ERC20);
const approvalsPath = writeJson("erc20-approval.json", {
  generator: generatorBlock(fileURLToPath(import.meta.url), ["@x402/core", "@x402/evm", "@x402/extensions", "viem"]),
  description:
    "Verdicts of the official facilitator verify (as in official-verdicts.json) with the " +
    "erc20ApprovalGasSponsoring extension registered (createErc20ApprovalGasSponsoringExtension from " +
    "@x402/extensions, over the fake chain's signer), on Permit2 payments carrying a payer's signed " +
    "approve(Permit2, 2^256-1) made with viem as the official client makes it. `stricter` marks " +
    "deliberate differences: its `name` is the README's row and its `reason` what x402-core answers.",
  payer: PAYER,
  vectors: approvals,
});
console.log(`wrote ${approvalsPath} (${approvals.length} vectors)`);
vectors.splice(0, vectors.length, ...vectors.filter((v) => v.category !== ERC20));
const path = writeJson("official-verdicts.json", {
  generator: generatorBlock(fileURLToPath(import.meta.url), ["@x402/core", "@x402/evm", "viem"]),
  description:
    "Verdicts of the official facilitator verify (x402Facilitator from @x402/core/facilitator with " +
    "registerExactEvmScheme from @x402/evm/exact/facilitator (exact v2 on eip155:*, exact v1 on the " +
    "v1 network names) and UptoEvmScheme from @x402/evm/upto/facilitator on eip155:*), over a fake " +
    "healthy chain (see gen/README.md) with Date.now pinned to now*1000. `verdict` is exactly what " +
    "verify returned, serialized with JSON.stringify (keys whose value is undefined, e.g. " +
    "invalidReason on success, are absent), or {threw: message} if verify threw. " +
    "`facilitatorAddresses` is what the fake signer's getAddresses() returned (absent: " +
    "[0xFAc11174700000000000000000000000000000fA]). `stricter` marks vectors where x402-core " +
    "deliberately rejects what the official SDK accepts.",
  payer: PAYER,
  payerPrivateKey: PAYER_KEY,
  otherPrivateKey: OTHER_KEY,
  vectors,
});
console.log(`wrote ${path} (${vectors.length} vectors)`);
console.log(JSON.stringify(counts));
