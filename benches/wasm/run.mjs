// Benchmark (not a test): x402-wasm against viem and the official @x402/evm
// facilitator, on the same payment, in the same run, inside workerd and in
// Node; plus the module's compile and instantiate times. Writes the section
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
  nodePaths: [join(GEN, "node_modules")],
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

const OPS = {
  "wasm-request": "paywire `verify(body)`: a POST /verify body as an object",
  "wasm-header": "paywire `verifyPaymentHeader(header, requirements)`",
  "wasm-sig": "paywire `hashTypedData` + `recoverAddress`: the signature part alone",
  viem: "viem 2.57.1 `verifyTypedData`: the signature part alone",
  official: "official @x402/evm 2.27.0 facilitator `verify` (fake healthy chain)",
  instantiate: "`new WebAssembly.Instance` of the x402-wasm module",
};
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
  for (const impl of Object.keys(OPS)) {
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
const x402 = await import(pathToFileURL(join(PKG, "node.mjs")).href);
const official = await import(pathToFileURL(join(HERE, "out", "official.bundle.mjs")).href);
const wasmBytes = readFileSync(join(PKG, "paywire_wasm_bg.wasm"));
const wasmModule = new WebAssembly.Module(wasmBytes);
const stubImports = {};
for (const { module, name } of WebAssembly.Module.imports(wasmModule)) {
  (stubImports[module] ??= {})[name] = () => {
    throw new Error("stub");
  };
}
const viemTypedData = viemInput(inputs.typedData);
const facilitator = official.makeOfficialFacilitator(
  official.makeFakeChain({
    paymentRequirements: inputs.requirements,
    paymentPayload: inputs.verifyRequest.paymentPayload,
  }),
);
const realNow = Date.now;
Date.now = () => inputs.now * 1000; // the payment's time, for the official verify
const nodeImpls = {
  "wasm-request": () => x402.verify(inputs.verifyRequest, inputs.now).isValid,
  "wasm-header": () => x402.verifyPaymentHeader(inputs.header, inputs.requirements, inputs.now).isValid,
  "wasm-sig": () => wasmSignature(x402, inputs.typedData),
  viem: () => official.verifyTypedData(viemTypedData),
  official: async () =>
    (await facilitator.verify(inputs.verifyRequest.paymentPayload, inputs.requirements)).isValid,
  instantiate: () => new WebAssembly.Instance(wasmModule, stubImports) instanceof WebAssembly.Instance,
};
for (const [impl, f] of Object.entries(nodeImpls)) {
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
// whole import of the package (read, compile, instantiate).
const cold = { compile: [], initSync: [], import: [] };
const glue = pathToFileURL(join(PKG, "paywire_wasm.js")).href;
const wasmPath = join(PKG, "paywire_wasm_bg.wasm");
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
    `const t = performance.now(); await import(${JSON.stringify(pathToFileURL(join(PKG, "node.mjs")).href)}); console.log(performance.now() - t);`,
  ]);
  cold.import.push(Number(imp.toString()) * 1000);
}
for (const [k, xs] of Object.entries(cold)) {
  results.node[k] = { min: Math.min(...xs), median: median(xs) };
}

// ---------------------------------------------------------------------------
// Report.

const sizes = readFileSync(join(PKG, "SIZES.txt"), "utf8");
const gz = sizes.match(/gzip -9 of the above:\s+(\d+)/)?.[1];
const raw = sizes.match(/after wasm-opt -Oz:\s+(\d+)/)?.[1];
const versions = {
  node: process.versions.node,
  v8: process.versions.v8,
  workerd: execFileSync(WORKERD, ["--version"]).toString().trim().replace(/^workerd /, ""),
};
const cpu = cpus()[0]?.model.replace(/\s+/g, " ").trim() ?? "unknown CPU";
const today = new Date(realNow()).toISOString().slice(0, 10);
const load = `${loadAtStart.toFixed(1)} at the start, ${loadavg()[0].toFixed(1)} at the end`;

const row = (runtime, impl, ratios) => {
  const r = results[runtime][impl];
  return `| ${runtime} | ${OPS[impl]} | ${round1(r.min)} | ${round1(r.median)} | ${ratios} |`;
};
/** "a ÷ b" from the minima and from the medians. */
const ratio = (runtime, a, b) => {
  const [x, y] = [results[runtime][a], results[runtime][b]];
  return `${(x.min / y.min).toFixed(1)} / ${(x.median / y.median).toFixed(1)}`;
};
const lines = [];
for (const rt of ["workerd", "node"]) {
  lines.push(row(rt, "wasm-request", "1 / 1"));
  lines.push(row(rt, "wasm-header", ratio(rt, "wasm-header", "wasm-request")));
  lines.push(row(rt, "official", `**${ratio(rt, "official", "wasm-request")}**`));
  lines.push(row(rt, "wasm-sig", ratio(rt, "wasm-sig", "wasm-request")));
  lines.push(row(rt, "viem", `${ratio(rt, "viem", "wasm-request")}; **${ratio(rt, "viem", "wasm-sig")}** × x402-wasm's signature part`));
}
const section = `${HEADING}

One run of \`benches/wasm/run.sh\` on ${today}: ${cpu}, 2 cores shared with other work; workerd ${versions.workerd} (npm \`workerd\`), Node ${versions.node} (V8 ${versions.v8}). The payment: \`${VECTOR}\` from \`x402-core/tests/vectors/official-payments.json\` (v2, \`exact\`, EIP-3009 on Base Sepolia; its \`POST /verify\` body is ${bodyBytes} bytes of JSON), the same one the criterion and FFI benches use, at its own \`now\`. Each figure is µs per call: ${ROUNDS} runs of about ${TARGET_MS} ms and as many empty runs (the fixed cost of a run), their minima and medians subtracted. In workerd a Worker runs each implementation n times per request and the times are taken outside it (a Worker's clock stands still while it computes); in Node the same calls are timed in-process. The JavaScript side is one esbuild bundle (\`benches/wasm/official.mjs\`) of viem 2.57.1 and \`@x402/evm\` 2.27.0 with the vector generator's fake chain, loaded by both runtimes.

| runtime | implementation | min µs | median µs | ÷ x402-wasm \`verify\` (min / median) |
|---|---|---:|---:|---:|
${lines.join("\n")}

| runtime | the module (${raw} bytes, ${gz} gzipped) | min µs | median µs |
|---|---|---:|---:|
| workerd | \`new WebAssembly.Instance\` (the runtime compiles the module when it loads the Worker) | ${round1(results.workerd.instantiate.min)} | ${round1(results.workerd.instantiate.median)} |
| node | \`new WebAssembly.Instance\` | ${round1(results.node.instantiate.min)} | ${round1(results.node.instantiate.median)} |
| node | \`new WebAssembly.Module\` (compile), first in a fresh process | ${round1(results.node.compile.min)} | ${round1(results.node.compile.median)} |
| node | \`initSync({ module })\` (instantiate through the glue), first in a fresh process | ${round1(results.node.initSync.min)} | ${round1(results.node.initSync.median)} |
| node | \`import("paywire")\` in a fresh process: read, compile, instantiate | ${round1(results.node.import.min)} | ${round1(results.node.import.median)} |

- *x402-wasm \`verify\`* is the whole offline verification: \`JSON.stringify\` of the body, the core's strict parsing, EIP-712 hashing, secp256k1 recovery, every check of the reference facilitator, and the VerifyResponse back as an object (with the chain checks still owed).
- *official facilitator \`verify\`* does the same checks in TypeScript with viem for the signature; its \`FacilitatorEvmSigner\` is the vector generator's fake healthy chain (code for the token, none for the payer, an EOA; simulation succeeds), built once, with \`Date.now\` pinned to the payment's time. A real deployment adds the RPC round trips of \`eth_getCode\` and the \`transferWithAuthorization\` simulation.
- *viem \`verifyTypedData\`* is only the signature part: EIP-712 digest and recovery from the typed data (uint256 members as bigint, converted once beforehand); compare it with x402-wasm's \`hashTypedData\` + \`recoverAddress\` on the same typed data.
- The JavaScript implementations run three to four times faster in workerd than in Node 20 (workerd embeds a much newer V8); x402-wasm runs at about the same speed in both, so its lead is larger in Node.
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

/** x402-wasm's signature part: digest, recovery, comparison. */
function wasmSignature(pkg, td) {
  const { digest } = pkg.hashTypedData({
    primaryType: td.primaryType,
    domain: td.domain,
    message: td.message,
  });
  return pkg.recoverAddress(digest, td.signature) === td.address;
}
