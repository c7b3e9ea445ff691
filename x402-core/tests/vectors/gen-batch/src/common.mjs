// Shared helpers: deterministic keys, pinned time, the JSON writer.
import { createHash, createPrivateKey } from "node:crypto";
import { writeFileSync } from "node:fs";

export const NOW = 1750000000;

export function seed(label) {
  return createHash("sha256").update(`x402-core batch vectors v1/${label}`).digest();
}

/** An Ed25519 private JWK ({kty, crv, d, x}) from a 32-byte seed. */
export function jwkFromSeed(s) {
  const der = Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), s]);
  const jwk = createPrivateKey({ key: der, format: "der", type: "pkcs8" }).export({ format: "jwk" });
  return { kty: "OKP", crv: "Ed25519", d: jwk.d, x: jwk.x };
}

/** A valid web-bot-auth nonce: base64 of 64 deterministic bytes. */
export function nonce(label) {
  return Buffer.concat([seed(`nonce/${label}/a`), seed(`nonce/${label}/b`)]).toString("base64");
}

export function b64(s) {
  return Buffer.from(s, "utf8").toString("base64");
}

/** Runs `f` with the clock (Date.now and `new Date()`) pinned to `now` seconds. */
export async function atTime(now, f) {
  const RealDate = globalThis.Date;
  class PinnedDate extends RealDate {
    constructor(...args) {
      if (args.length) super(...args);
      else super(now * 1000);
    }
    static now() {
      return now * 1000;
    }
  }
  globalThis.Date = PinnedDate;
  try {
    return await f();
  } finally {
    globalThis.Date = RealDate;
  }
}

export function writeJson(path, obj) {
  writeFileSync(path, JSON.stringify(obj, null, 2) + "\n");
}
