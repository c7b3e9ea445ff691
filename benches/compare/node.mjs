// The Node side of benches/compare: the comparison's payment through x402-wasm
// (when its package is built), viem's verifyTypedData and the official
// @x402/evm facilitator's verify over the vector generator's fake healthy
// chain. Timed as the native and Python sides time theirs (30 samples of at
// least 20 ms; µs per call, min and median). Prints one JSON line per row.
//
//   node benches/compare/node.mjs
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, "..", "..");
const GEN = join(ROOT, "x402-core", "tests", "vectors", "gen");
const WASM = join(process.env.PAYWIRE_WASM_PKG ?? join(ROOT, "x402-wasm", "pkg"), "node.mjs");
const PAYMENT = "v2-exact-eip3009-skips-unsupported-first-accept";

const v = JSON.parse(readFileSync(join(ROOT, "x402-core/tests/vectors/official-payments.json"), "utf8"))
  .vectors.find((x) => x.name === PAYMENT);
const req = v.paymentRequirements;
const auth = v.paymentPayload.payload.authorization;
// The POST /verify body, as bytes on the wire would arrive.
const body = JSON.stringify({
  x402Version: v.x402Version,
  paymentPayload: v.paymentPayload,
  paymentRequirements: req,
});
const domain = {
  name: req.extra.name,
  version: req.extra.version,
  chainId: Number(req.network.split(":")[1]),
  verifyingContract: req.asset,
};

async function measure(f) {
  for (let i = 0; i < 3; i++) if (!(await f())) throw new Error("not valid");
  let n = 1;
  for (;;) {
    const t = performance.now();
    for (let i = 0; i < n; i++) await f();
    if (performance.now() - t >= 20) break;
    n *= 2;
  }
  const perOp = [];
  for (let s = 0; s < 30; s++) {
    const t = performance.now();
    for (let i = 0; i < n; i++) await f();
    perOp.push(((performance.now() - t) * 1000) / n);
  }
  perOp.sort((a, b) => a - b);
  return { min_us: perOp[0], median_us: perOp[perOp.length >> 1] };
}

const emit = async (impl, op, what, f) =>
  console.log(JSON.stringify({ impl, op, what, ...(await measure(f)) }));

// The repository's test tools hold the pinned viem and @x402/evm.
const requireGen = createRequire(join(ROOT, "package.json"));
const pkgVersion = (name) =>
  JSON.parse(readFileSync(join(ROOT, "node_modules", name, "package.json"), "utf8")).version;
const { verifyTypedData } = await import(pathToFileURL(requireGen.resolve("viem")).href);
const { authorizationTypes } = await import(pathToFileURL(requireGen.resolve("@x402/evm")).href);
const { makeFakeChain, makeOfficialFacilitator } = await import(
  pathToFileURL(join(GEN, "src", "fakechain.mjs")).href
);
const node = `Node ${process.versions.node}`;

if (existsSync(WASM)) {
  const x402 = await import(pathToFileURL(WASM).href);
  await emit("paywire (wasm) in " + node, "verify", "verify(JSON.parse(body), now)", () =>
    x402.verify(JSON.parse(body), v.now).isValid,
  );
  const typed = { primaryType: "TransferWithAuthorization", domain, message: auth };
  const sig = v.paymentPayload.payload.signature;
  await emit("paywire (wasm) in " + node, "signature", "hashTypedData + recoverAddress (typed data object)", () => {
    const d = x402.hashTypedData(typed);
    const digest = typeof d === "string" ? d : d.digest;
    return x402.recoverAddress(digest, sig).toLowerCase() === v.payer.toLowerCase();
  });
} else {
  console.error("compare: x402-wasm/pkg is not built; the x402-wasm rows are left out");
}

// viem: the signature part alone; uint256 members as bigint, converted once.
const message = { ...auth, value: BigInt(auth.value), validAfter: BigInt(auth.validAfter), validBefore: BigInt(auth.validBefore) };
await emit(`viem ${pkgVersion("viem")} in ${node}`, "signature", "verifyTypedData (typed data object)", () =>
  verifyTypedData({
    address: v.payer,
    domain,
    types: authorizationTypes,
    primaryType: "TransferWithAuthorization",
    message,
    signature: v.paymentPayload.payload.signature,
  }),
);

// The official facilitator over a fake healthy chain, its clock at the payment's time.
const facilitator = makeOfficialFacilitator(
  makeFakeChain({ paymentRequirements: req, paymentPayload: v.paymentPayload }),
);
const realNow = Date.now;
Date.now = () => v.now * 1000;
await emit(
  `official @x402/evm ${pkgVersion("@x402/evm")} in ${node}`,
  "verify",
  "facilitator.verify(JSON.parse(body)...) over a fake healthy chain",
  async () => {
    const b = JSON.parse(body);
    return (await facilitator.verify(b.paymentPayload, b.paymentRequirements)).isValid;
  },
);
Date.now = realNow;
