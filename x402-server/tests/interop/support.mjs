// What the interop tests share: child processes kept and stopped by their PID,
// a free port on 127.0.0.1, waiting for a server, secrets in files of mode
// 0600, and, for the batch-settlement files, the local chain with the test
// token and the batch-settlement contracts, and `paywire facilitator` settling
// batch-settlement on it.
import { spawn } from "node:child_process";
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";

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

/** A port free on 127.0.0.1 now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Child processes with their output kept; `stopAll` stops each by its PID. */
export function processes() {
  const children = [];
  return {
    children,
    start(name, cmd, args, env, options = {}) {
      const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"], ...options });
      let log = "";
      child.stdout.on("data", (d) => (log += d));
      child.stderr.on("data", (d) => (log += d));
      const proc = { name, child, log: () => log };
      children.push(proc);
      return proc;
    },
    async stopAll() {
      for (const p of children) {
        if (p.child.exitCode === null) {
          p.child.kill("SIGTERM");
          await new Promise((r) => {
            const t = setTimeout(() => {
              p.child.kill("SIGKILL");
              r();
            }, 10_000);
            p.child.on("exit", () => {
              clearTimeout(t);
              r();
            });
          });
        }
      }
    },
  };
}

/** Waits (bounded) until `url` answers; fails with the process's output if it exits. */
export async function waitFor(url, proc, ms = 60_000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (proc.child.exitCode !== null) throw new Error(`${proc.name} exited (${proc.child.exitCode}):\n${proc.log()}`);
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await r.body?.cancel();
      return;
    } catch {}
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${proc.name} did not answer ${url}:\n${proc.log()}`);
}

/** Writes secrets into `dir`, mode 0600; each call gives the file's path. */
export function secretsIn(dir) {
  return (name, text) => {
    const p = join(dir, name);
    writeFileSync(p, text);
    chmodSync(p, 0o600);
    return p;
  };
}

export const NETWORK = "eip155:31337";
export const BATCH = "0x4020074e9dF2ce1deE5A9C1b5c3f541D02a10003";
const ERC3009_COLLECTOR = "0x4020806089470a89826cB9fB1f4059150b550004";
const PERMIT2_COLLECTOR = "0x4020425FAf3B746C082C2f942b4E5159887B0005";
const tokenAbi = parseAbi([
  "function mint(address to, uint256 value)",
  "function balanceOf(address) view returns (uint256)",
]);

/**
 * The local chain of `rpc` with a test token of its own and the batch-settlement
 * contract and collectors at their canonical addresses: `pub` (viem),
 * `token`, `balance(owner)`, `payer(amount)` (a fresh account holding
 * `amount`).
 */
export async function batchChain(rpc, contractsFile) {
  const chain = defineChain({
    id: 31337,
    name: "hardhat",
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [rpc] } },
  });
  const pub = createPublicClient({ chain, transport: viemHttp(rpc) });
  await pub.request({ method: "evm_setAutomine", params: [true] });
  const artifacts = JSON.parse(readFileSync(contractsFile, "utf8"));
  const [minter] = await pub.request({ method: "eth_accounts", params: [] });
  const wallet = createWalletClient({ account: minter, chain, transport: viemHttp(rpc) });
  const init =
    artifacts.contracts.Eip3009Token.bytecode +
    encodeAbiParameters([{ type: "string" }, { type: "string" }, { type: "string" }], ["USD Coin", "2", "USDC"]).slice(2);
  const hash = await wallet.sendTransaction({ data: init, gas: 5_000_000n });
  const token = (await pub.waitForTransactionReceipt({ hash })).contractAddress;
  for (const [address, name] of [
    [BATCH, "X402BatchSettlement"],
    [ERC3009_COLLECTOR, "Erc3009DepositCollector"],
    [PERMIT2_COLLECTOR, "Permit2DepositCollector"],
  ]) {
    await pub.request({ method: "hardhat_setCode", params: [address, artifacts.contracts[name].deployedBytecode] });
  }
  const balance = (owner) => pub.readContract({ address: token, abi: tokenAbi, functionName: "balanceOf", args: [owner] });
  const payer = async (amount) => {
    const account = privateKeyToAccount(generatePrivateKey());
    const h = await wallet.sendTransaction({
      to: token,
      data: encodeFunctionData({ abi: tokenAbi, functionName: "mint", args: [account.address, amount] }),
    });
    await pub.waitForTransactionReceipt({ hash: h });
    return account;
  };
  return { pub, token, balance, payer };
}

/**
 * `paywire facilitator` settling batch-settlement of `token` on the local
 * chain: a signer with gas, the receiver authorizer of `authorizerKey`, and
 * an API key acting for `payTo`. Its URL, once it answers.
 */
export async function startBatchFacilitator({ procs, work, pub, rpc, token, apiKey, payTo, authorizerKey }) {
  const secret = secretsIn(work);
  const signerKey = generatePrivateKey();
  await pub.request({ method: "hardhat_setBalance", params: [privateKeyToAccount(signerKey).address, "0x56bc75e2d63100000"] });
  const port = await freePort();
  const toml = [
    `[server]`,
    `listen = "127.0.0.1:${port}"`,
    `[store]`,
    `url = "sqlite://${join(work, "facilitator.db")}"`,
    `[[access.keys]]`,
    `name = "resource-servers"`,
    `key_file = "${secret("api.key", apiKey)}"`,
    `pay_to = ["${payTo}"]`,
    `[[signers]]`,
    `name = "gas"`,
    `key_file = "${secret("signer.key", signerKey)}"`,
    `[[signers]]`,
    `name = "authorizer"`,
    `key_file = "${secret("authorizer.key", authorizerKey)}"`,
    `[[networks]]`,
    `id = "${NETWORK}"`,
    `rpc = ["${rpc}"]`,
    `schemes = ["batch-settlement"]`,
    `signers = ["gas"]`,
    `assets = ["${token}"]`,
    `receiver_authorizer = "authorizer"`,
  ].join("\n");
  writeFileSync(join(work, "facilitator.toml"), toml);
  const fac = procs.start("paywire facilitator", process.env.PAYWIRE_BIN, ["facilitator", "--config", join(work, "facilitator.toml")], {
    RUST_LOG: "info",
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(`${url}/health`, fac);
  return url;
}
