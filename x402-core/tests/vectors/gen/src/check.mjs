// Check mode: run the OFFICIAL facilitator verify on payments written by the
// x402-core Rust tests, over the fake healthy chain with pinned time.
//
// Input: a JSON array of entries (or an object with a `vectors` array):
//   { "name": str, "x402Version": 1|2, "paymentRequirements": {...},
//     "paymentPayload": {...}, "now": <unix seconds>,
//     "facilitatorAddresses": [..optional..],
//     "expect": { "isValid": bool, "invalidReason": str|null, "payer"?: str, "threw"?: true|str }  (optional) }
// `paymentPayload` / `paymentRequirements` may also sit under `request` (as in official-verdicts.json).
// Without `expect`, an entry passes iff the verdict is isValid: true.
// With --use-recorded-verdicts, an entry's recorded `verdict` is used as `expect` (self-test).
//
// Prints one line per entry and a closing "check: N passed, M failed" line.
// Exit status: 0 all passed, 1 some failed, 2 bad input.
import { readFileSync } from "node:fs";
import { officialVerify } from "./fakechain.mjs";

const args = process.argv.slice(2);
const useRecorded = args.includes("--use-recorded-verdicts");
const files = args.filter((a) => !a.startsWith("--"));
if (files.length !== 1) {
  console.error("usage: check.sh [--use-recorded-verdicts] <entries.json>");
  process.exit(2);
}

let entries;
try {
  const doc = JSON.parse(readFileSync(files[0], "utf8"));
  entries = Array.isArray(doc) ? doc : doc?.vectors;
  if (!Array.isArray(entries)) throw new Error("expected a JSON array of entries (or {vectors: [...]})");
} catch (e) {
  console.error(`check: cannot read ${files[0]}: ${e.message}`);
  process.exit(2);
}

function describe(verdict) {
  if ("threw" in verdict) return `threw: ${verdict.threw}`;
  let s = `isValid=${verdict.isValid}`;
  if (verdict.invalidReason !== undefined) s += ` invalidReason=${verdict.invalidReason}`;
  if (verdict.invalidMessage !== undefined) s += ` invalidMessage=${JSON.stringify(verdict.invalidMessage)}`;
  if (verdict.payer !== undefined) s += ` payer=${verdict.payer}`;
  return s;
}

function compare(verdict, expect) {
  if (!expect) {
    return verdict.isValid === true ? null : "expected isValid=true";
  }
  if (expect.threw !== undefined && expect.threw !== false) {
    if (!("threw" in verdict)) return "expected verify to throw";
    if (typeof expect.threw === "string" && !verdict.threw.includes(expect.threw)) {
      return `expected a throw containing ${JSON.stringify(expect.threw)}`;
    }
    return null;
  }
  if ("threw" in verdict) return `expected isValid=${expect.isValid}, but verify threw`;
  if (typeof expect.isValid === "boolean" && verdict.isValid !== expect.isValid) {
    return `expected isValid=${expect.isValid}`;
  }
  if ("invalidReason" in expect && (expect.invalidReason ?? undefined) !== verdict.invalidReason) {
    return `expected invalidReason=${expect.invalidReason ?? "(none)"}`;
  }
  if ("invalidMessage" in expect && (expect.invalidMessage ?? undefined) !== verdict.invalidMessage) {
    return `expected invalidMessage=${JSON.stringify(expect.invalidMessage ?? null)}`;
  }
  if ("payer" in expect && (expect.payer ?? undefined) !== verdict.payer) {
    return `expected payer=${expect.payer ?? "(none)"}`;
  }
  return null;
}

let passed = 0;
let failed = 0;
for (const [i, entry] of entries.entries()) {
  const name = entry?.name ?? `#${i}`;
  const src = entry?.request ?? entry ?? {};
  const { paymentPayload, paymentRequirements } = src;
  const now = entry?.now;
  let problem = null;
  let verdict = null;
  if (!paymentPayload || typeof paymentPayload !== "object") problem = "missing paymentPayload";
  else if (!paymentRequirements || typeof paymentRequirements !== "object") problem = "missing paymentRequirements";
  else if (!Number.isSafeInteger(now)) problem = "missing or non-integer `now`";
  else if (
    entry.x402Version !== undefined &&
    paymentPayload.x402Version !== undefined &&
    entry.x402Version !== paymentPayload.x402Version
  ) {
    problem = `x402Version ${entry.x402Version} != paymentPayload.x402Version ${paymentPayload.x402Version}`;
  }
  if (!problem) {
    verdict = await officialVerify({
      paymentPayload,
      paymentRequirements,
      now,
      facilitatorAddresses: entry.facilitatorAddresses,
    });
    const expect = useRecorded ? entry.verdict : entry.expect;
    problem = compare(verdict, expect);
  }
  if (problem) {
    failed++;
    console.log(`FAIL ${name}: ${verdict ? describe(verdict) : "not run"} -- ${problem}`);
  } else {
    passed++;
    console.log(`ok   ${name}: ${describe(verdict)}`);
  }
}
console.log(`check: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
