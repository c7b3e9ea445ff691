// eip712.json: EIP-712 domain separators, struct hashes, digests and
// signatures computed by viem, using the @x402/evm type definitions.
import { fileURLToPath } from "node:url";
import {
  MAX_UINT256,
  USDC_BASE,
  USDC_BASE_SEPOLIA,
  generatorBlock,
  makeRng,
  writeJson,
} from "./common.mjs";
import { KIND_TYPES, permit2Domain, plainTypes, signKind } from "./typed.mjs";
import { x402ExactPermit2ProxyAddress, x402UptoPermit2ProxyAddress } from "@x402/evm";
import { privateKeyToAccount } from "viem/accounts";

const rng = makeRng("eip712");
const ZERO32 = `0x${"00".repeat(32)}`;
const FF32 = `0x${"ff".repeat(32)}`;
const MAX = MAX_UINT256.toString();

const OTHER_CHAINS = [1, 10, 137, 42161, 43114, 11155111, 324705682, 2147483647, 9007199254740991];
const UNICODE_TOKENS = [
  { name: "Dólar Digital", version: "1" },
  { name: "💵 Cash Token", version: "2" },
  { name: "日本円トークン", version: "1.0" },
  { name: "Ünïcödé Ⓤ𝕊𝔻", version: "v2-β" },
  { name: "", version: "1" },
];

const randomValue = () => rng.uint(rng.pick([8, 32, 64, 128, 256])).toString();
const randomTime = () => rng.uint(rng.pick([32, 40, 64])).toString();

function usdcDomain(t) {
  return { name: t.name, version: t.version, chainId: t.chainId, verifyingContract: t.asset };
}

const cases = [];

// ---- EIP-3009 TransferWithAuthorization --------------------------------------
const eip3009Domains = [
  ["base-usdc", usdcDomain(USDC_BASE)],
  ["base-usdc", usdcDomain(USDC_BASE)],
  ["base-usdc", usdcDomain(USDC_BASE)],
  ["base-usdc", usdcDomain(USDC_BASE)],
  ["base-usdc", usdcDomain(USDC_BASE)],
  ["base-usdc", usdcDomain(USDC_BASE)],
  ["base-sepolia-usdc", usdcDomain(USDC_BASE_SEPOLIA)],
  ["base-sepolia-usdc", usdcDomain(USDC_BASE_SEPOLIA)],
  ["base-sepolia-usdc", usdcDomain(USDC_BASE_SEPOLIA)],
  ["base-sepolia-usdc", usdcDomain(USDC_BASE_SEPOLIA)],
  ["base-sepolia-usdc", usdcDomain(USDC_BASE_SEPOLIA)],
  ["base-sepolia-usdc", usdcDomain(USDC_BASE_SEPOLIA)],
];
for (const chainId of OTHER_CHAINS) {
  eip3009Domains.push([
    `chain-${chainId}`,
    { name: "USD Coin", version: "2", chainId, verifyingContract: rng.address() },
  ]);
}
for (const t of UNICODE_TOKENS) {
  eip3009Domains.push([
    t.name === "" ? "empty-name" : "unicode-name",
    { name: t.name, version: t.version, chainId: rng.pick([8453, 84532, 1]), verifyingContract: rng.address() },
  ]);
}

const eip3009Edge = [
  ["value-zero", { value: "0" }],
  ["value-max-uint256", { value: MAX }],
  ["valid-before-max-uint256", { validAfter: "0", validBefore: MAX }],
  ["valid-after-max-uint256", { validAfter: MAX, validBefore: MAX }],
  ["nonce-zero", { nonce: ZERO32 }],
  ["nonce-all-ff", { nonce: FF32 }],
  ["all-zero-times", { validAfter: "0", validBefore: "0" }],
];

eip3009Domains.forEach(([label, domain], i) => {
  const privateKey = rng.privateKey();
  const edge = i < eip3009Edge.length ? eip3009Edge[i] : null;
  const message = {
    from: null, // filled from the key below
    to: rng.address(),
    value: randomValue(),
    validAfter: randomTime(),
    validBefore: randomTime(),
    nonce: rng.bytes32(),
    ...(edge ? edge[1] : {}),
  };
  cases.push({
    name: `eip3009-${String(i + 1).padStart(2, "0")}-${label}${edge ? `-${edge[0]}` : ""}`,
    kind: "eip3009",
    domain,
    message,
    privateKey,
  });
});

// ---- Permit2 PermitWitnessTransferFrom (exact / upto) ------------------------
const P2_CHAINS = [8453, 8453, 8453, 84532, 84532, 84532, 1, 10, 137, 42161, 43114, 324705682];
const p2Edge = [
  ["amount-zero", (m) => ({ ...m, permitted: { ...m.permitted, amount: "0" } })],
  ["amount-max-uint256", (m) => ({ ...m, permitted: { ...m.permitted, amount: MAX } })],
  ["deadline-max-uint256", (m) => ({ ...m, deadline: MAX })],
  ["valid-after-max-uint256", (m) => ({ ...m, witness: { ...m.witness, validAfter: MAX } })],
  ["nonce-zero", (m) => ({ ...m, nonce: "0" })],
  ["nonce-max-uint256", (m) => ({ ...m, nonce: MAX })],
];

for (const kind of ["permit2-exact", "permit2-upto"]) {
  const spender = kind === "permit2-exact" ? x402ExactPermit2ProxyAddress : x402UptoPermit2ProxyAddress;
  const n = 18;
  for (let i = 0; i < n; i++) {
    const chainId = P2_CHAINS[i % P2_CHAINS.length];
    const privateKey = rng.privateKey();
    const token =
      chainId === 8453 ? USDC_BASE.asset : chainId === 84532 ? USDC_BASE_SEPOLIA.asset : rng.address();
    // Mostly the real x402 proxy as spender (as the SDK client does); a few random spenders.
    const sp = i % 6 === 5 ? rng.address() : spender;
    const witness = { to: rng.address() };
    if (kind === "permit2-upto") witness.facilitator = rng.address();
    witness.validAfter = i % 3 === 0 ? "0" : randomTime();
    let message = {
      permitted: { token, amount: randomValue() },
      spender: sp,
      nonce: rng.uint(rng.pick([64, 128, 256])).toString(),
      deadline: randomTime(),
      witness,
    };
    const edge = i < p2Edge.length ? p2Edge[i] : null;
    if (edge) message = edge[1](message);
    cases.push({
      name: `${kind}-${String(i + 1).padStart(2, "0")}-chain-${chainId}${edge ? `-${edge[0]}` : ""}${
        sp !== spender ? "-random-spender" : ""
      }`,
      kind,
      domain: permit2Domain(chainId),
      message,
      privateKey,
    });
  }
}

const vectors = [];
for (const c of cases) {
  const { types, primaryType } = KIND_TYPES[c.kind];
  if (c.kind === "eip3009") {
    c.message.from = privateKeyToAccount(c.privateKey).address;
  }
  const r = await signKind(c.kind, c.domain, c.message, c.privateKey);
  vectors.push({
    name: c.name,
    kind: c.kind,
    domain: c.domain,
    types: plainTypes(types),
    primaryType,
    message: c.message,
    privateKey: c.privateKey,
    address: r.address,
    domainSeparator: r.domainSeparator,
    structHash: r.structHash,
    digest: r.digest,
    signature: r.signature,
  });
}

const path = writeJson("eip712.json", {
  generator: generatorBlock(fileURLToPath(import.meta.url), ["viem", "@x402/evm"]),
  description:
    "EIP-712 vectors computed with viem (hashDomain / hashStruct / hashTypedData / signTypedData, " +
    "RFC 6979 deterministic, low-s, v=27/28). Types are the @x402/evm definitions " +
    "(authorizationTypes, permit2WitnessTypes, uptoPermit2WitnessTypes). Message uints are decimal " +
    "strings, bytes32 are 0x hex, addresses EIP-55. domain.chainId is a JSON number.",
  vectors,
});
console.log(`wrote ${path} (${vectors.length} vectors)`);
