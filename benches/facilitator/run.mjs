// Benchmark (not a test): paywire's facilitator against the official
// TypeScript facilitator (@x402/core + @x402/evm behind Node's HTTP server)
// and x402-rs's facilitator, on one local Hardhat chain, with the same
// payments (made by the official client). For each, one after the other:
// POST /verify throughput from this process (a closed loop of CONCURRENCY
// keep-alive connections for SECONDS), POST /settle latency (SETTLES
// settlements one at a time, each mined), and the server's memory at rest and
// at its peak (VmRSS, VmHWM).
//
//   node run.mjs   (run.sh passes the environment below)
//   PAYWIRE_BENCH_RPC, PAYWIRE_BENCH_CONTRACTS, PAYWIRE_BENCH_PAYWIRE (the
//   `paywire` binary), PAYWIRE_BENCH_X402RS (the x402-rs binary, or empty),
//   PAYWIRE_BENCH_WORK (a scratch directory), PAYWIRE_BENCH_OUT (results JSON)
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync, chmodSync } from "node:fs";
import http from "node:http";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { x402Client } from "@x402/core/client";
import { registerExactEvmScheme } from "@x402/evm/exact/client";
import {
  createPublicClient,
  createWalletClient,
  defineChain,
  encodeAbiParameters,
  encodeFunctionData,
  http as viemHttp,
  parseAbi,
} from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";

const here = dirname(fileURLToPath(import.meta.url));
const env = (k, d) => process.env[k] ?? d;
const RPC = env("PAYWIRE_BENCH_RPC");
const WORK = env("PAYWIRE_BENCH_WORK");
const CONCURRENCY = Number(env("CONCURRENCY", "16"));
const SECONDS = Number(env("SECONDS", "10"));
const SETTLES = Number(env("SETTLES", "30"));
const API_KEY = "bench-api-key-0123456789";

const chain = defineChain({
  id: 31337,
  name: "hardhat",
  nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
  rpcUrls: { default: { http: [RPC] } },
});
const pub = createPublicClient({ chain, transport: viemHttp(RPC) });
const rpc = (method, params) => pub.request({ method, params });

// ------------------------------------------------------------ the chain
const artifacts = JSON.parse(readFileSync(env("PAYWIRE_BENCH_CONTRACTS"), "utf8"));
const [minter] = await rpc("eth_accounts", []);
await rpc("evm_setAutomine", [true]);
const minterWallet = createWalletClient({ account: minter, chain, transport: viemHttp(RPC) });
const init =
  artifacts.contracts.Eip3009Token.bytecode +
  encodeAbiParameters(
    [{ type: "string" }, { type: "string" }, { type: "string" }],
    ["USD Coin", "2", "USDC"],
  ).slice(2);
const deployHash = await minterWallet.sendTransaction({ data: init, gas: 5_000_000n });
const token = (await pub.waitForTransactionReceipt({ hash: deployHash })).contractAddress;
const tokenAbi = parseAbi([
  "function mint(address to, uint256 value)",
  "function balanceOf(address) view returns (uint256)",
]);
const payers = Array.from({ length: 16 }, () => privateKeyToAccount(generatePrivateKey()));
for (const p of payers) {
  const hash = await minterWallet.sendTransaction({
    to: token,
    data: encodeFunctionData({ abi: tokenAbi, functionName: "mint", args: [p.address, 10n ** 12n] }),
  });
  await pub.waitForTransactionReceipt({ hash });
}
const payTo = privateKeyToAccount(generatePrivateKey()).address;
const fund = (a) => rpc("hardhat_setBalance", [a, "0x56bc75e2d63100000"]);

// ------------------------------------------------------------ payments (the official client)
const clients = payers.map((account) => {
  const c = new x402Client();
  // The benchmark's token is its own: no spending policy applies.
  c.setSpendControls(false);
  registerExactEvmScheme(c, { signer: account });
  return c;
});
let made = 0;
async function payment() {
  const accept = {
    scheme: "exact",
    network: "eip155:31337",
    amount: String(1000 + (made % 97)),
    asset: token,
    payTo,
    maxTimeoutSeconds: 3600,
    extra: { name: "USD Coin", version: "2" },
  };
  const client = clients[made++ % clients.length];
  const paymentPayload = await client.createPaymentPayload({
    x402Version: 2,
    // x402-rs requires `description` (optional in the spec); every one reads it.
    resource: { url: "http://127.0.0.1/bench", description: "benchmark", mimeType: "application/json" },
    accepts: [accept],
  });
  return JSON.stringify({ x402Version: 2, paymentPayload, paymentRequirements: paymentPayload.accepted });
}
const verifyBodies = [];
for (let i = 0; i < 64; i++) verifyBodies.push(await payment());

// ------------------------------------------------------------ servers
function secret(name, text) {
  const p = join(WORK, name);
  writeFileSync(p, text);
  chmodSync(p, 0o600);
  return p;
}

function start(name, cmd, args, extraEnv, port) {
  const child = spawn(cmd, args, {
    env: { ...process.env, ...extraEnv },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  child.stdout.on("data", (d) => (log += d));
  child.stderr.on("data", (d) => (log += d));
  return { name, child, port, log: () => log };
}

async function ready(s, path = "/supported") {
  const end = Date.now() + 60_000;
  while (Date.now() < end) {
    if (s.child.exitCode !== null) throw new Error(`${s.name} exited:\n${s.log()}`);
    try {
      const r = await fetch(`http://127.0.0.1:${s.port}${path}`);
      if (r.ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${s.name} did not start:\n${s.log()}`);
}

function memory(pid) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (k) => Number(status.match(new RegExp(`^${k}:\\s+(\\d+)`, "m"))?.[1] ?? 0);
  return { rssKb: kb("VmRSS"), hwmKb: kb("VmHWM") };
}

const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
function post(port, path, body) {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const req = http.request(
      {
        host: "127.0.0.1",
        port,
        path,
        method: "POST",
        agent,
        headers: {
          "content-type": "application/json",
          "content-length": Buffer.byteLength(body),
          authorization: `Bearer ${API_KEY}`,
        },
      },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () =>
          resolve({
            status: res.statusCode,
            body: Buffer.concat(chunks).toString("utf8"),
            ms: Number(process.hrtime.bigint() - started) / 1e6,
          }),
        );
      },
    );
    req.on("error", reject);
    req.setTimeout(60_000, () => req.destroy(new Error("timeout")));
    req.end(body);
  });
}

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

async function bench(s) {
  // Warm up, then memory at rest.
  for (let i = 0; i < 8; i++) {
    const r = await post(s.port, "/verify", verifyBodies[i]);
    const v = JSON.parse(r.body);
    if (v.isValid !== true) throw new Error(`${s.name}: a valid payment was refused: ${r.body}`);
  }
  await new Promise((r) => setTimeout(r, 500));
  const rest = memory(s.child.pid);
  // /verify: a closed loop.
  const latencies = [];
  let errors = 0;
  let n = 0;
  const end = Date.now() + SECONDS * 1000;
  const began = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, w) => {
      let i = w;
      while (Date.now() < end) {
        const r = await post(s.port, "/verify", verifyBodies[i++ % verifyBodies.length]);
        latencies.push(r.ms);
        n++;
        if (r.status !== 200 || !r.body.startsWith('{"isValid":true')) {
          if (JSON.parse(r.body).isValid !== true) errors++;
        }
      }
    }),
  );
  const elapsed = Number(process.hrtime.bigint() - began) / 1e9;
  const underLoad = memory(s.child.pid);
  // /settle: one at a time, each a fresh payment, each mined.
  const settle = [];
  let settleErrors = 0;
  const balanceBefore = await pub.readContract({ address: token, abi: tokenAbi, functionName: "balanceOf", args: [payTo] });
  let expected = 0n;
  for (let i = 0; i < SETTLES; i++) {
    const body = await payment();
    expected += BigInt(JSON.parse(body).paymentRequirements.amount);
    const r = await post(s.port, "/settle", body);
    settle.push(r.ms);
    const v = JSON.parse(r.body);
    if (v.success !== true) {
      settleErrors++;
      if (settleErrors === 1) console.error(`${s.name} settle: ${r.body}`);
    }
  }
  const balanceAfter = await pub.readContract({ address: token, abi: tokenAbi, functionName: "balanceOf", args: [payTo] });
  const peak = memory(s.child.pid);
  return {
    name: s.name,
    verify: {
      requests: n,
      perSecond: n / elapsed,
      p50ms: pct(latencies, 50),
      p99ms: pct(latencies, 99),
      errors,
    },
    settle: {
      n: SETTLES,
      p50ms: pct(settle, 50),
      p95ms: pct(settle, 95),
      errors: settleErrors,
      moved: String(balanceAfter - balanceBefore),
      expected: String(expected),
    },
    memory: { restKb: rest.rssKb, underLoadKb: underLoad.rssKb, peakKb: peak.hwmKb },
  };
}

async function stop(s) {
  s.child.kill("SIGTERM");
  await new Promise((r) => {
    const t = setTimeout(() => {
      s.child.kill("SIGKILL");
      r();
    }, 10_000);
    s.child.on("exit", () => {
      clearTimeout(t);
      r();
    });
  });
}

const servers = [];
// paywire
{
  const key = generatePrivateKey();
  await fund(privateKeyToAccount(key).address);
  const toml = [
    `[server]`,
    `listen = "127.0.0.1:4131"`,
    `[store]`,
    `url = "sqlite://${join(WORK, "paywire.db")}"`,
    `[[access.keys]]`,
    `name = "bench"`,
    `key_file = "${secret("api.key", API_KEY)}"`,
    `[[signers]]`,
    `name = "s"`,
    `key_file = "${secret("paywire-signer.key", key)}"`,
    `[[networks]]`,
    `id = "eip155:31337"`,
    `rpc = ["${RPC}"]`,
    `schemes = ["exact-eip3009"]`,
    `signers = ["s"]`,
  ].join("\n");
  writeFileSync(join(WORK, "paywire.toml"), toml);
  servers.push(() =>
    start("paywire", env("PAYWIRE_BENCH_PAYWIRE"), ["facilitator", "--config", join(WORK, "paywire.toml")], { RUST_LOG: "warn" }, 4131),
  );
}
// the official TypeScript facilitator
{
  const key = generatePrivateKey();
  await fund(privateKeyToAccount(key).address);
  servers.push(() =>
    start("official (@x402/core 2.27)", "node", [join(here, "official.mjs"), RPC, "4132"], { PAYWIRE_BENCH_SIGNER_KEY: key }, 4132),
  );
}
// x402-rs
if (env("PAYWIRE_BENCH_X402RS", "")) {
  const key = generatePrivateKey();
  await fund(privateKeyToAccount(key).address);
  const config = {
    port: 4133,
    host: "127.0.0.1",
    chains: { "eip155:31337": { eip1559: true, flashblocks: false, signers: ["$X402RS_SIGNER_KEY"], rpc: [{ http: RPC }] } },
    schemes: [{ id: "v2-eip155-exact", chains: "eip155:*" }],
  };
  writeFileSync(join(WORK, "x402rs.json"), JSON.stringify(config));
  servers.push(() =>
    start(
      "x402-rs 0.12.5",
      env("PAYWIRE_BENCH_X402RS"),
      [],
      { CONFIG: join(WORK, "x402rs.json"), X402RS_SIGNER_KEY: key, RUST_LOG: "warn" },
      4133,
    ),
  );
}

const results = [];
for (const make of servers) {
  const s = make();
  try {
    await ready(s);
    results.push(await bench(s));
    console.error(`${s.name}: done`);
  } catch (e) {
    results.push({ name: s.name, error: String(e?.message ?? e).slice(0, 2000) });
    console.error(`${s.name}: ${e?.message ?? e}`);
  } finally {
    await stop(s);
  }
}
agent.destroy();

const base = results.find((r) => r.name === "paywire" && !r.error);
console.log(`\n/verify: ${CONCURRENCY} keep-alive connections for ${SECONDS} s; /settle: ${SETTLES} one at a time, mined (automine)\n`);
console.log("| facilitator | /verify req/s | p50 ms | p99 ms | paywire ÷ it (req/s) | /settle p50 ms | p95 ms | it ÷ paywire (p50) | RSS at rest MiB | peak MiB |");
console.log("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
for (const r of results) {
  if (r.error) {
    console.log(`| ${r.name} | failed: ${r.error.split("\n")[0]} |`);
    continue;
  }
  const mib = (kb) => (kb / 1024).toFixed(1);
  console.log(
    `| ${r.name} | ${r.verify.perSecond.toFixed(0)} | ${r.verify.p50ms.toFixed(2)} | ${r.verify.p99ms.toFixed(2)} | ${(base.verify.perSecond / r.verify.perSecond).toFixed(2)} | ${r.settle.p50ms.toFixed(1)} | ${r.settle.p95ms.toFixed(1)} | ${(r.settle.p50ms / base.settle.p50ms).toFixed(2)} | ${mib(r.memory.restKb)} | ${mib(r.memory.peakKb)} |`,
  );
  if (r.verify.errors || r.settle.errors || r.settle.moved !== r.settle.expected) {
    console.log(`|   (${r.name}: ${r.verify.errors} verify errors, ${r.settle.errors} settle errors, moved ${r.settle.moved} of ${r.settle.expected}) |`);
  }
}
if (env("PAYWIRE_BENCH_OUT", "")) writeFileSync(env("PAYWIRE_BENCH_OUT"), JSON.stringify(results, null, 2));
process.exit(0);
