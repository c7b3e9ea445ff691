// The `paywire/fast` flavour (secp256k1 through libsecp256k1, compiled for
// wasm32) against the default one (k256): the same API, the same verdicts, and
// for every signature and digest the same recovered address or the same error;
// signing and key derivation alike.
//
// The differential cases come from a fixed seed: random r, s, v and digests
// (about half of random r are no curve point's x-coordinate), edge values of
// every part (r and s at 1, near n/2 and near n; v of 0-3, 27-31, 255;
// digests of 0, n - 1, n, n + 1, 2^256 - 1), results at the point at infinity
// (s·R = z·G, the digest z or z + n), and payments signed by random keys.
// PAYWIRE_DIFFERENTIAL_CASES sets how many: 100,000 by default (about 15 s),
// 1,000,000 in scripts/test-long.sh.
import assert from "node:assert/strict";
import { test } from "node:test";

import * as lean from "paywire";
import * as fast from "paywire/fast";

import { vectors } from "../lib/harness.mjs";
import { differences, expectedVerdict, verifyOptions } from "../lib/expect.mjs";

const CASES = Number(process.env.PAYWIRE_DIFFERENTIAL_CASES ?? 100_000);

// secp256k1: the field prime, the group order, the generator.
const P = 2n ** 256n - 2n ** 32n - 977n;
const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const G = {
  x: 0x79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798n,
  y: 0x483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8n,
};
const HALF = (N - 1n) / 2n; // the largest low s

const mod = (a, m) => ((a % m) + m) % m;
function inv(a, m) {
  // Extended Euclid: a⁻¹ mod m for a coprime to m.
  let [r0, r1, s0, s1] = [mod(a, m), m, 1n, 0n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  return mod(s0, m);
}
/** Affine addition (null is the point at infinity). */
function add(a, b) {
  if (a === null) return b;
  if (b === null) return a;
  let l;
  if (a.x === b.x) {
    if (mod(a.y + b.y, P) === 0n) return null;
    l = mod(3n * a.x * a.x * inv(2n * a.y, P), P);
  } else {
    l = mod((b.y - a.y) * inv(b.x - a.x, P), P);
  }
  const x = mod(l * l - a.x - b.x, P);
  return { x, y: mod(l * (a.x - x) - a.y, P) };
}
function mul(k, p) {
  let acc = null;
  for (let q = p; k > 0n; k >>= 1n, q = add(q, q)) if (k & 1n) acc = add(acc, q);
  return acc;
}

/** SplitMix64 on BigInt: the same sequence everywhere. */
function rng(seed) {
  let state = BigInt(seed);
  const M = (1n << 64n) - 1n;
  const next = () => {
    state = (state + 0x9e3779b97f4a7c15n) & M;
    let z = state;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & M;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & M;
    return z ^ (z >> 31n);
  };
  return {
    u256: () => (next() << 192n) | (next() << 128n) | (next() << 64n) | next(),
    below: (n) => Number(next() % BigInt(n)),
  };
}

const hex = (x, bytes = 32) => x.toString(16).padStart(2 * bytes, "0");
const sigHex = (r, s, v) => `0x${hex(r)}${hex(s)}${hex(BigInt(v), 1)}`;
const low = (s) => (s > HALF ? N - s : s);

/** What a flavour makes of a signature: the address, or the error's code and message. */
function outcome(pkg, digest, sig) {
  try {
    return `recovered ${pkg.recoverAddress(digest, sig)}`;
  } catch (e) {
    return `error ${e.code}: ${e.message}`;
  }
}
/** The kind of an outcome, for the tally. */
function kind(o) {
  if (o.startsWith("recovered")) return "recovered";
  for (const [k, words] of [
    ["unrecoverable", "no public key recovers"],
    ["high-s", "upper half"],
    ["out-of-range", "zero or not below"],
    ["bad-v", "v must be"],
  ]) {
    if (o.includes(words)) return k;
  }
  return o;
}

test("the flavours share one API", () => {
  assert.deepEqual(Object.keys(fast).sort(), Object.keys(lean).sort());
});

test("fast gives the same verdicts on the official vectors", () => {
  for (const v of vectors("official-verdicts.json")) {
    const verdict = fast.verify(v.request, v.now, verifyOptions(v));
    assert.deepEqual(differences(verdict, expectedVerdict(v)), [], v.name);
    // The default flavour leaves eip2612GasSponsoring out; fast judges it.
    if (v.category !== "eip2612-gas-sponsoring") {
      assert.deepEqual(verdict, lean.verify(v.request, v.now, verifyOptions(v)), v.name);
    }
  }
});

test(`recovery, signing and keys: fast and the default flavour agree on ${CASES} cases`, () => {
  const r = rng(0x70617977697265n);
  const tally = {};
  const count = (k) => (tally[k] = (tally[k] ?? 0) + 1);
  const V_ANY = [0, 1, 2, 3, 27, 28, 29, 30, 31, 255];
  // R = k·G for the cases at infinity, one addition per case.
  let k = (r.u256() % (N - 1n)) + 1n;
  let R = mul(k, G);
  const compare = (digest, sig) => {
    const a = outcome(fast, digest, sig);
    const b = outcome(lean, digest, sig);
    assert.equal(a, b, `digest ${digest} signature ${sig}`);
    return a;
  };
  for (let i = 0; i < CASES; i++) {
    const which = i % 32;
    if (which === 0) {
      // A payment signed by a random key, with a fixed nonce and time: the
      // same header from both, the same address for the key.
      const key = `0x${hex((r.u256() % (N - 1n)) + 1n)}`;
      assert.equal(fast.privateKeyToAddress(key), lean.privateKeyToAddress(key), key);
      const pr = {
        x402Version: 2,
        resource: { url: "https://api.example.com/r" },
        accepts: [{
          scheme: "exact", network: "eip155:84532", amount: String(1 + r.below(1e9)),
          asset: "0x036CbD53842c5426634e7929541eC2318f3dCF7e",
          payTo: "0x209693Bc6afc0C5328bA36FaF03C514EF312287C", maxTimeoutSeconds: 60,
          extra: { name: "USDC", version: "2" },
        }],
      };
      const options = { nonce: `0x${hex(r.u256())}`, nowUnix: 1_750_000_000 };
      assert.equal(fast.createPayment(pr, key, options), lean.createPayment(pr, key, options), key);
      count("signed");
    } else if (which === 1 || which === 2) {
      // s·R = z·G: the result is the point at infinity.
      k = k + 1n;
      R = add(R, G);
      let s, z, y = R.y;
      if (which === 1) {
        s = low((r.u256() % (N - 1n)) + 1n);
        if (s === 0n) s = 1n;
        z = mod(s * k, N);
      } else {
        // z below 2^128, sent as z + n (the digest is reduced modulo n).
        z = (r.u256() >> 128n) | 1n;
        s = mod(z * inv(k, N), N);
        if (s > HALF) {
          s = N - s; // (n − s)·(−R) = s·R
          y = P - y;
        }
        z += N;
      }
      const o = compare(`0x${hex(z)}`, sigHex(R.x, s, 27 + Number(y & 1n)));
      assert.equal(kind(o), "unrecoverable", o);
      count("infinity");
    } else if (which < 8) {
      // Edge values of every part.
      const pick = (xs) => xs[r.below(xs.length)];
      const rv = pick([1n, 2n, N - 1n, N - 2n, HALF, N, r.u256()]);
      const sv = pick([1n, 2n, HALF, HALF + 1n, N - 1n, N, 0n, low((r.u256() % (N - 1n)) + 1n)]);
      const digest = pick([0n, 1n, N - 1n, N, N + 1n, 2n ** 256n - 1n, r.u256()]);
      count(kind(compare(`0x${hex(digest)}`, sigHex(rv, sv, pick(V_ANY)))));
    } else {
      // Random r, low s, mostly valid v, random digests.
      const rv = r.u256();
      const sv = low((r.u256() % (N - 1n)) + 1n);
      const v = r.below(8) === 0 ? V_ANY[r.below(V_ANY.length)] : [0, 1, 27, 28][r.below(4)];
      count(kind(compare(`0x${hex(r.u256())}`, sigHex(rv, sv, v))));
    }
  }
  console.log(`${CASES} cases:`, tally);
  if (CASES >= 1000) {
    for (const k of ["signed", "infinity", "recovered", "unrecoverable", "high-s", "out-of-range", "bad-v"]) {
      assert.ok(tally[k] > 0, `no case came to ${k}`);
    }
  }
});
