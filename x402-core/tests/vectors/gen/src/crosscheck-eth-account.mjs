// Cross-check: viem must reproduce every eth-account vector in eip712-eth-account.json.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { VECTORS_DIR } from "./common.mjs";
import { signKind } from "./typed.mjs";

const { vectors } = JSON.parse(readFileSync(join(VECTORS_DIR, "eip712-eth-account.json"), "utf8"));
for (const v of vectors) {
  const got = await signKind(v.kind, v.domain, v.message, v.privateKey);
  for (const field of ["address", "domainSeparator", "structHash", "digest", "signature"]) {
    if (got[field] !== v[field]) {
      console.error(`viem disagrees with eth-account on ${v.name}.${field}: ${got[field]} != ${v[field]}`);
      process.exit(1);
    }
  }
}
console.log(`viem reproduces all ${vectors.length} eth-account vectors in eip712-eth-account.json`);
