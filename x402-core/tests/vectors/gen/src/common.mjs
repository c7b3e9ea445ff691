// Shared helpers for the x402-core vector generators: a seeded deterministic
// RNG, time pinning, stable JSON output and the generator metadata block.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { getAddress, keccak256, stringToHex } from "viem";

export const GEN_DIR = join(dirname(fileURLToPath(import.meta.url)), "..");
export const VECTORS_DIR = join(GEN_DIR, "..");

/** Fixed seed. Every key, nonce and random value is keccak256(SEED/namespace/counter). */
export const SEED = "x402-core test vectors v1";

/** The pinned "current time" (unix seconds) used by every generator. */
export const NOW = 1750000000;

export const SECP256K1_N =
  0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
export const MAX_UINT256 = (1n << 256n) - 1n;

export const USDC_BASE = {
  network: "eip155:8453",
  v1Network: "base",
  chainId: 8453,
  asset: "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913",
  name: "USD Coin",
  version: "2",
};
export const USDC_BASE_SEPOLIA = {
  network: "eip155:84532",
  v1Network: "base-sepolia",
  chainId: 84532,
  asset: "0x036CbD53842c5426634e7929541eC2318f3dCF7e",
  name: "USDC",
  version: "2",
};

/**
 * Deterministic RNG: value i of namespace ns is keccak256(utf8(`${SEED}/${ns}/${i}`)).
 */
export function makeRng(namespace) {
  let counter = 0;
  const next = () => keccak256(stringToHex(`${SEED}/${namespace}/${counter++}`));
  return {
    /** 32 random bytes as 0x-prefixed lowercase hex. */
    bytes32: next,
    /** Random bytes of arbitrary length. */
    bytes(len) {
      let hex = "";
      while (hex.length < len * 2) hex += next().slice(2);
      return `0x${hex.slice(0, len * 2)}`;
    },
    /** A valid secp256k1 private key (1 <= k < n). */
    privateKey() {
      for (;;) {
        const k = next();
        const v = BigInt(k);
        if (v > 0n && v < SECP256K1_N) return k;
      }
    },
    /** A random EIP-55 address. */
    address() {
      return getAddress(`0x${next().slice(-40)}`);
    },
    /** Random unsigned integer below 2^bits. */
    uint(bits = 256) {
      const v = BigInt(next());
      return bits >= 256 ? v : v & ((1n << BigInt(bits)) - 1n);
    },
    /** Random integer in [lo, hi] (small ranges only). */
    int(lo, hi) {
      return lo + Number(BigInt(next()) % BigInt(hi - lo + 1));
    },
    pick(arr) {
      return arr[Number(BigInt(next()) % BigInt(arr.length))];
    },
  };
}

/**
 * Pins Date.now() to `nowSeconds * 1000`; returns a function restoring the original.
 */
export function pinDateNow(nowSeconds) {
  const original = Date.now;
  Date.now = () => nowSeconds * 1000;
  return () => {
    Date.now = original;
  };
}

/**
 * Makes globalThis.crypto.getRandomValues deterministic (the SDK's nonce source),
 * drawing from the given RNG. Returns a function restoring the original.
 */
export function pinCryptoRandom(rng) {
  const c = globalThis.crypto;
  const had = Object.prototype.hasOwnProperty.call(c, "getRandomValues");
  const original = c.getRandomValues;
  c.getRandomValues = (arr) => {
    const bytes = Buffer.from(rng.bytes(arr.byteLength).slice(2), "hex");
    new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength).set(bytes);
    return arr;
  };
  return () => {
    if (had) c.getRandomValues = original;
    else delete c.getRandomValues;
  };
}

/**
 * Installed version of an npm package (read from its package.json, in the
 * repository's node_modules: the test tools of the root package.json).
 */
export function pkgVersion(name) {
  // The repository's node_modules, or the nearest one above it (where node
  // itself resolves the packages from).
  let dir = join(GEN_DIR, "..", "..", "..", "..");
  for (;;) {
    const pj = join(dir, "node_modules", ...name.split("/"), "package.json");
    if (existsSync(pj)) return JSON.parse(readFileSync(pj, "utf8")).version;
    const up = dirname(dir);
    if (up === dir) throw new Error(`pkgVersion: ${name} is not installed`);
    dir = up;
  }
}

export function generatorBlock(scriptFile, packages) {
  const out = {};
  for (const p of packages) out[p] = pkgVersion(p);
  return {
    script: `x402-core/tests/vectors/gen/${relative(GEN_DIR, scriptFile)}`,
    packages: out,
  };
}

/** Converts bigints to decimal strings so values can be written as JSON. */
export function jsonable(value) {
  return JSON.parse(
    JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? v.toString() : v)),
  );
}

/** Writes `obj` as 2-space-indented JSON with a trailing newline. */
export function writeJson(fileName, obj) {
  const path = join(VECTORS_DIR, fileName);
  writeFileSync(path, `${JSON.stringify(jsonable(obj), null, 2)}\n`);
  return path;
}

export function deepClone(v) {
  return JSON.parse(JSON.stringify(v));
}
