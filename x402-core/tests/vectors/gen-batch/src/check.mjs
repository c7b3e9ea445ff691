// Check mode: web-bot-auth's verify on requests signed by x402-core.
//   usage: node src/check.mjs FILE.json
// FILE holds {"vectors": [{name, jwk, request: {method, url, headers}, now, webBotAuthVerifies?}]};
// an entry passes when web-bot-auth accepts it (or, when webBotAuthVerifies is
// false, refuses it) and the keyid in its Signature-Input is web-bot-auth's
// thumbprint of the JWK.
import { verify, jwkToKeyID, helpers } from "web-bot-auth";
import { verifierFromJWK } from "web-bot-auth/crypto";
import { readFileSync } from "node:fs";
import { atTime } from "./common.mjs";

const file = process.argv[2];
if (!file) {
  console.error("usage: check.mjs FILE.json");
  process.exit(2);
}
let doc;
try {
  doc = JSON.parse(readFileSync(file, "utf8"));
} catch (e) {
  console.error(`check: cannot read ${file}: ${e.message}`);
  process.exit(2);
}
let passed = 0;
let failed = 0;
for (const v of doc.vectors ?? doc) {
  const want = v.webBotAuthVerifies ?? true;
  const request = new Request(v.request.url, { method: v.request.method, headers: v.request.headers });
  let ok;
  let why = "";
  try {
    await atTime(v.now, async () => verify(request, await verifierFromJWK(v.jwk)));
    ok = true;
  } catch (e) {
    ok = false;
    why = e.message;
  }
  const kid = await jwkToKeyID(v.jwk, helpers.WEBCRYPTO_SHA256, helpers.BASE64URL_DECODE);
  const input = v.request.headers.find(([n]) => n.toLowerCase() === "signature-input")?.[1] ?? "";
  const kidOk = !want || input.includes(`keyid="${kid}"`);
  if (ok === want && kidOk) {
    passed++;
    console.log(`ok   ${v.name}: web-bot-auth verify=${ok}`);
  } else {
    failed++;
    console.log(`FAIL ${v.name}: web-bot-auth verify=${ok} (want ${want}) ${why}${kidOk ? "" : ` keyid is not ${kid}`}`);
  }
}
console.log(`check: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
