// Benchmark (not a test): each flavour of the npm package (paywire,
// paywire/fast, paywire/full) against viem and the official @x402/evm
// facilitator, on the same payment, in the same run, inside workerd and in
// Node; plus each module's compile and instantiate times. Writes the section
// "WASM: workerd and Node" of benches/README.md. Started by run.sh, which
// builds and installs what it needs.
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync, existsSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

import { build } from "esbuild";

import { freePort, startProcess, waitForHttp } from "../../x402-wasm/tests/lib/harness.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, "..", "..");
const GEN = join(ROOT, "x402-core", "tests", "vectors", "gen");
const PKG = join(ROOT, "x402-wasm", "pkg");
const WORKERD = join(ROOT, "x402-wasm", "node_modules", ".bin", "workerd");
const README = join(ROOT, "benches", "README.md");
const HEADING = "## WASM: workerd and Node";
const ROUNDS = Number(process.env.ROUNDS ?? 15);
const TARGET_MS = Number(process.env.TARGET_MS ?? 100);
const VECTOR = "v2-exact-eip3009-skips-unsupported-first-accept";
const loadAtStart = loadavg()[0];

// ---------------------------------------------------------------------------
// The inputs: one payment of the official client (the one the other benches use).

const payment = JSON.parse(readFileSync(join(ROOT, "x402-core/tests/vectors/official-payments.json"), "utf8"))
  .vectors.find((v) => v.name === VECTOR);
const req = payment.paymentRequirements;
const auth = payment.paymentPayload.payload.authorization;
const inputs = {
  now: payment.now,
  header: payment.header,
  requirements: req,
  verifyRequest: {
    x402Version: 2,
    paymentPayload: payment.paymentPayload,
    paymentRequirements: req,
  },
  // The signature part alone, as viem takes it.
  typedData: {
    address: payment.payer,
    domain: {
      name: req.extra.name,
      version: req.extra.version,
      chainId: Number(req.network.split(":")[1]),
      verifyingContract: req.asset,
    },
    primaryType: "TransferWithAuthorization",
    message: auth,
    signature: payment.paymentPayload.payload.signature,
  },
};
const bodyBytes = JSON.stringify(inputs.verifyRequest).length;

// ---------------------------------------------------------------------------
// The JavaScript side, bundled once, run by both runtimes.

const noFs = {
  // The generator's helpers import node:fs for writing vectors; nothing here
  // calls it, and workerd has no file system.
  name: "unused-node-fs",
  setup(b) {
    b.onResolve({ filter: /^node:fs$/ }, () => ({ path: "node:fs", namespace: "unused-fs" }));
    b.onLoad({ filter: /.*/, namespace: "unused-fs" }, () => ({
      loader: "js",
      contents:
        "const unused = () => { throw new Error('no file system here'); };\n" +
        "export const readFileSync = unused;\nexport const writeFileSync = unused;\n",
    }));
  },
};
await build({
  entryPoints: [join(HERE, "official.mjs")],
  bundle: true,
  format: "esm",
  platform: "browser",
  conditions: ["workerd", "worker", "browser"],
  outfile: join(HERE, "out", "official.bundle.mjs"),
  nodePaths: [join(ROOT, "node_modules")],
  external: ["node:*"],
  plugins: [noFs],
  define: { "import.meta.url": JSON.stringify("file:///bench/gen/src/fakechain.mjs") },
  logLevel: "warning",
});

// ---------------------------------------------------------------------------
// Measuring.

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const round1 = (x) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));

/**
 * `run(n)` runs an operation n times and answers {ms, valid}. Calibrates n to
 * about TARGET_MS per run, then makes ROUNDS runs of n and ROUNDS empty runs
 * (n = 0: the fixed cost of a run), alternating; answers µs per operation from
 * the minima and from the medians.
 */
async function measure(run) {
  let n = 1;
  for (;;) {
    const { ms } = await run(n);
    if (ms >= TARGET_MS / 4 || n >= 1 << 20) {
      n = Math.max(1, Math.round((n * TARGET_MS) / Math.max(ms, 0.01)));
      break;
    }
    n *= 4;
  }
  const full = [];
  const empty = [];
  for (let r = 0; r < ROUNDS; r++) {
    empty.push((await run(0)).ms);
    const f = await run(n);
    if (f.valid !== n) throw new Error(`only ${f.valid} of ${n} verified`);
    full.push(f.ms);
  }
  const per = (a, b) => Math.max(0, ((a - b) * 1000) / n);
  return { n, min: per(Math.min(...full), Math.min(...empty)), median: per(median(full), median(empty)) };
}

const FLAVOURS = {
  default: { entry: "paywire", dir: PKG, what: "secp256k1 on k256" },
  fast: { entry: "paywire/fast", dir: join(PKG, "fast"), what: "secp256k1 through libsecp256k1" },
  full: { entry: "paywire/full", dir: join(PKG, "full"), what: "everything, on libsecp256k1" },
};
const OPS = {
  request: "`verify(body)`: a POST /verify body as an object",
  header: "`verifyPaymentHeader(header, requirements)`",
  sig: "`hashTypedData` + `recoverAddress`: the signature part alone",
  instantiate: "`new WebAssembly.Instance` of the module",
};
const JS_OPS = {
  official: "official @x402/evm 2.27.0 facilitator `verify` (fake healthy chain)",
  viem: "viem 2.57.1 `verifyTypedData`: the signature part alone",
};
const impls = [
  ...Object.keys(FLAVOURS).flatMap((f) => Object.keys(OPS).map((op) => `${op}:${f}`)),
  ...Object.keys(JS_OPS),
];
const results = { workerd: {}, node: {} };

// --- workerd: the same Worker code runs each implementation n times per request.
const port = await freePort();
const workerd = startProcess(
  WORKERD,
  ["serve", "config.capnp", "--socket-addr", `http=127.0.0.1:${port}`],
  { cwd: HERE, timeoutMs: 30 * 60_000 },
);
try {
  const base = `http://127.0.0.1:${port}`;
  await waitForHttp(`${base}/`, workerd);
  const setup = await fetch(`${base}/setup`, { method: "POST", body: JSON.stringify(inputs) });
  if (!setup.ok) throw new Error(`setup: ${await setup.text()}`);
  for (const impl of impls) {
    results.workerd[impl] = await measure(async (n) => {
      const t = process.hrtime.bigint();
      const res = await fetch(`${base}/run?impl=${impl}&n=${n}`);
      const body = await res.json();
      return { ms: Number(process.hrtime.bigint() - t) / 1e6, valid: body.valid };
    });
    console.error(`workerd ${impl}: ${round1(results.workerd[impl].median)} µs`);
  }
} finally {
  await workerd.stop();
}

// --- Node: the same functions, timed in-process.
const official = await import(pathToFileURL(join(HERE, "out", "official.bundle.mjs")).href);
const viemTypedData = viemInput(inputs.typedData);
const facilitator = official.makeOfficialFacilitator(
  official.makeFakeChain({
    paymentRequirements: inputs.requirements,
    paymentPayload: inputs.verifyRequest.paymentPayload,
  }),
);
const nodeImpls = {
  viem: () => official.verifyTypedData(viemTypedData),
  official: async () =>
    (await facilitator.verify(inputs.verifyRequest.paymentPayload, inputs.requirements)).isValid,
};
for (const [flavour, { dir }] of Object.entries(FLAVOURS)) {
  const pkg = await import(pathToFileURL(join(dir, "node.mjs")).href);
  const wasmModule = new WebAssembly.Module(readFileSync(join(dir, "paywire_wasm_bg.wasm")));
  const stubImports = {};
  for (const { module, name } of WebAssembly.Module.imports(wasmModule)) {
    (stubImports[module] ??= {})[name] = () => {
      throw new Error("stub");
    };
  }
  nodeImpls[`request:${flavour}`] = () => pkg.verify(inputs.verifyRequest, inputs.now).isValid;
  nodeImpls[`header:${flavour}`] = () =>
    pkg.verifyPaymentHeader(inputs.header, inputs.requirements, inputs.now).isValid;
  nodeImpls[`sig:${flavour}`] = () => wasmSignature(pkg, inputs.typedData);
  nodeImpls[`instantiate:${flavour}`] = () =>
    new WebAssembly.Instance(wasmModule, stubImports) instanceof WebAssembly.Instance;
}
const realNow = Date.now;
Date.now = () => inputs.now * 1000; // the payment's time, for the official verify
for (const impl of impls) {
  const f = nodeImpls[impl];
  results.node[impl] = await measure(async (n) => {
    let valid = 0;
    const t = performance.now();
    for (let i = 0; i < n; i++) if (await f()) valid++;
    return { ms: performance.now() - t, valid };
  });
  console.error(`node ${impl}: ${round1(results.node[impl].median)} µs`);
}
Date.now = realNow;

// Cold start in fresh Node processes (V8 caches compiled modules within a
// process): compile the bytes, instantiate through the glue (initSync), and the
// whole import of the flavour (read, compile, instantiate).
for (const [flavour, { dir }] of Object.entries(FLAVOURS)) {
  const cold = { compile: [], initSync: [], import: [] };
  const glue = pathToFileURL(join(dir, "paywire_wasm.js")).href;
  const wasmPath = join(dir, "paywire_wasm_bg.wasm");
  for (let i = 0; i < ROUNDS; i++) {
    const out = execFileSync(process.execPath, [
      "--input-type=module",
      "-e",
      `import { readFileSync } from "node:fs";
       const { initSync } = await import(${JSON.stringify(glue)});
       const bytes = readFileSync(${JSON.stringify(wasmPath)});
       let t = performance.now();
       const module = new WebAssembly.Module(bytes);
       const compile = performance.now() - t;
       t = performance.now();
       initSync({ module });
       console.log(JSON.stringify({ compile, initSync: performance.now() - t }));`,
    ]);
    const r = JSON.parse(out.toString());
    cold.compile.push(r.compile * 1000);
    cold.initSync.push(r.initSync * 1000);
    const imp = execFileSync(process.execPath, [
      "--input-type=module",
      "-e",
      `const t = performance.now(); await import(${JSON.stringify(pathToFileURL(join(dir, "node.mjs")).href)}); console.log(performance.now() - t);`,
    ]);
    cold.import.push(Number(imp.toString()) * 1000);
  }
  for (const [k, xs] of Object.entries(cold)) {
    results.node[`${k}:${flavour}`] = { min: Math.min(...xs), median: median(xs) };
  }
}

// ---------------------------------------------------------------------------
// Report.

const sizes = readFileSync(join(PKG, "SIZES.txt"), "utf8");
const sizeOf = (flavour) => {
  const name = flavour === "default" ? "./" : `${flavour}/`;
  const block = sizes.slice(sizes.indexOf(`${name}paywire_wasm_bg.wasm, in bytes`));
  return {
    raw: block.match(/after wasm-opt -Oz:\s+(\d+)/)?.[1],
    gz: block.match(/gzip -9 of the above:\s+(\d+)/)?.[1],
  };
};
const versions = {
  node: process.versions.node,
  v8: process.versions.v8,
  workerd: execFileSync(WORKERD, ["--version"]).toString().trim().replace(/^workerd /, ""),
};
const cpu = cpus()[0]?.model.replace(/\s+/g, " ").trim() ?? "unknown CPU";
const today = new Date(realNow()).toISOString().slice(0, 10);
const load = `${loadAtStart.toFixed(1)} at the start, ${loadavg()[0].toFixed(1)} at the end`;

/** "a ÷ b" from the minima and from the medians. */
const ratio = (runtime, a, b) => {
  const [x, y] = [results[runtime][a], results[runtime][b]];
  return `${(x.min / y.min).toFixed(1)} / ${(x.median / y.median).toFixed(1)}`;
};
const cell = (runtime, impl) => {
  const r = results[runtime][impl];
  return `${round1(r.min)} | ${round1(r.median)}`;
};
const lines = [];
for (const rt of ["workerd", "node"]) {
  for (const f of Object.keys(FLAVOURS)) {
    lines.push(`| ${rt} | \`${FLAVOURS[f].entry}\` ${OPS.request} | ${cell(rt, `request:${f}`)} | **${ratio(rt, "official", `request:${f}`)}** | ${ratio(rt, `request:default`, `request:${f}`)} |`);
  }
  for (const f of Object.keys(FLAVOURS)) {
    lines.push(`| ${rt} | \`${FLAVOURS[f].entry}\` ${OPS.header} | ${cell(rt, `header:${f}`)} | ${ratio(rt, "official", `header:${f}`)} | ${ratio(rt, `header:default`, `header:${f}`)} |`);
  }
  lines.push(`| ${rt} | ${JS_OPS.official} | ${cell(rt, "official")} | 1 / 1 | |`);
  for (const f of Object.keys(FLAVOURS)) {
    lines.push(`| ${rt} | \`${FLAVOURS[f].entry}\` ${OPS.sig} | ${cell(rt, `sig:${f}`)} | viem ÷ this: **${ratio(rt, "viem", `sig:${f}`)}** | ${ratio(rt, `sig:default`, `sig:${f}`)} |`);
  }
  lines.push(`| ${rt} | ${JS_OPS.viem} | ${cell(rt, "viem")} | | |`);
}
const pair = (runtime, impl) => {
  const r = results[runtime][impl];
  return `${round1(r.min)} / ${round1(r.median)}`;
};
const moduleLines = [];
for (const f of Object.keys(FLAVOURS)) {
  const s = sizeOf(f);
  moduleLines.push(`| \`${FLAVOURS[f].entry}\` (${FLAVOURS[f].what}) | ${s.raw} | ${s.gz} | ${pair("workerd", `instantiate:${f}`)} | ${pair("node", `instantiate:${f}`)} | ${pair("node", `compile:${f}`)} | ${pair("node", `initSync:${f}`)} | ${pair("node", `import:${f}`)} |`);
}
const section = `${HEADING}

One run of \`benches/wasm/run.sh\` on ${today}: ${cpu}, 2 cores shared with other work; workerd ${versions.workerd} (npm \`workerd\`), Node ${versions.node} (V8 ${versions.v8}). The payment: \`${VECTOR}\` from \`x402-core/tests/vectors/official-payments.json\` (v2, \`exact\`, EIP-3009 on Base Sepolia; its \`POST /verify\` body is ${bodyBytes} bytes of JSON), the same one the criterion and FFI benches use, at its own \`now\`. Each figure is µs per call: ${ROUNDS} runs of about ${TARGET_MS} ms and as many empty runs (the fixed cost of a run), their minima and medians subtracted. In workerd a Worker runs each implementation n times per request and the times are taken outside it (a Worker's clock stands still while it computes); in Node the same calls are timed in-process. The JavaScript side is one esbuild bundle (\`benches/wasm/official.mjs\`) of viem 2.57.1 and \`@x402/evm\` 2.27.0 with the vector generator's fake chain, loaded by both runtimes. The package's three flavours: \`paywire\` (secp256k1 on k256), \`paywire/fast\` (through libsecp256k1) and \`paywire/full\` (everything, on libsecp256k1).

| runtime | implementation | min µs | median µs | official ÷ this (min / median) | \`paywire\` ÷ this |
|---|---|---:|---:|---:|---:|
${lines.join("\n")}

| module | bytes | gzipped | workerd: \`new WebAssembly.Instance\` (min / median µs) | node: \`new WebAssembly.Instance\` | node: \`new WebAssembly.Module\` (compile), fresh process | node: \`initSync({ module })\`, fresh process | node: \`import\` in a fresh process (read, compile, instantiate) |
|---|---:|---:|---:|---:|---:|---:|---:|
${moduleLines.join("\n")}

- *\`verify\`* is the whole offline verification: \`JSON.stringify\` of the body, the core's strict parsing, EIP-712 hashing, secp256k1 recovery, every check of the reference facilitator, and the VerifyResponse back as an object (with the chain checks still owed).
- *official facilitator \`verify\`* does the same checks in TypeScript with viem for the signature; its \`FacilitatorEvmSigner\` is the vector generator's fake healthy chain (code for the token, none for the payer, an EOA; simulation succeeds), built once, with \`Date.now\` pinned to the payment's time. A real deployment adds the RPC round trips of \`eth_getCode\` and the \`transferWithAuthorization\` simulation.
- *viem \`verifyTypedData\`* is only the signature part: EIP-712 digest and recovery from the typed data (uint256 members as bigint, converted once beforehand); compare it with the package's \`hashTypedData\` + \`recoverAddress\` on the same typed data.
- In workerd a Worker compiles its modules when it is loaded; the instantiation is what each isolate pays on its first request. The compile and import rows are Node's, in fresh processes.
- The machine's 2 cores were shared with other work during the run (1-minute load average ${load}): read the ratios, and the minima before the medians, not the last digit.
`;

let readme = existsSync(README) ? readFileSync(README, "utf8") : "# Benchmarks\n";
const start = readme.indexOf(HEADING);
if (start >= 0) {
  const next = readme.indexOf("\n## ", start + HEADING.length);
  readme = readme.slice(0, start) + section + (next >= 0 ? readme.slice(next + 1) : "");
} else {
  readme = readme.replace(/\n*$/, "\n\n") + section;
}
writeFileSync(README, readme);
console.log(section);

// ---------------------------------------------------------------------------

/** The typed data as viem takes it (uint256 members as bigint). */
function viemInput(td) {
  const m = td.message;
  return {
    ...td,
    types: { TransferWithAuthorization: official.authorizationTypes.TransferWithAuthorization },
    message: {
      ...m,
      value: BigInt(m.value),
      validAfter: BigInt(m.validAfter),
      validBefore: BigInt(m.validBefore),
    },
  };
}

/** The package's signature part: digest, recovery, comparison. */
function wasmSignature(pkg, td) {
  const { digest } = pkg.hashTypedData({
    primaryType: td.primaryType,
    domain: td.domain,
    message: td.message,
  });
  return pkg.recoverAddress(digest, td.signature) === td.address;
}
