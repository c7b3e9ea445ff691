// The benchmark Worker: runs one implementation `n` times per request, on the
// inputs posted to /setup. The driver (run.mjs) times requests from outside,
// since a Worker's clock does not advance while it computes.
import * as lean from "default/workerd.mjs";
import leanModule from "default/paywire_wasm_bg.wasm";
import * as fast from "fast/workerd.mjs";
import fastModule from "fast/paywire_wasm_bg.wasm";
import * as full from "full/workerd.mjs";
import fullModule from "full/paywire_wasm_bg.wasm";
import {
  authorizationTypes,
  makeFakeChain,
  makeOfficialFacilitator,
  verifyTypedData,
} from "./official.bundle.mjs";

let inputs;
let facilitator;
let viemTypedData;

/** Imports that satisfy a module's import section, for instantiating it
 * again and again (instantiation calls none of them). */
function stubImports(module) {
  const stubs = {};
  for (const { module: m, name } of WebAssembly.Module.imports(module)) {
    (stubs[m] ??= {})[name] = () => {
      throw new Error("stub");
    };
  }
  return stubs;
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

const impls = {
  viem: () => verifyTypedData(viemTypedData),
  official: async () =>
    (await facilitator.verify(inputs.verifyRequest.paymentPayload, inputs.requirements)).isValid,
};
for (const [flavour, pkg, module] of [
  ["default", lean, leanModule],
  ["fast", fast, fastModule],
  ["full", full, fullModule],
]) {
  const stubs = stubImports(module);
  impls[`request:${flavour}`] = () => pkg.verify(inputs.verifyRequest, inputs.now).isValid;
  impls[`header:${flavour}`] = () =>
    pkg.verifyPaymentHeader(inputs.header, inputs.requirements, inputs.now).isValid;
  impls[`sig:${flavour}`] = () => wasmSignature(pkg, inputs.typedData);
  impls[`instantiate:${flavour}`] = () =>
    new WebAssembly.Instance(module, stubs) instanceof WebAssembly.Instance;
}

export default {
  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === "/setup") {
      inputs = await request.json();
      // The payment's time, for the official verify (the package takes it as an argument).
      Date.now = () => inputs.now * 1000;
      const m = inputs.typedData.message;
      viemTypedData = {
        ...inputs.typedData,
        types: { TransferWithAuthorization: authorizationTypes.TransferWithAuthorization },
        message: {
          ...m,
          value: BigInt(m.value),
          validAfter: BigInt(m.validAfter),
          validBefore: BigInt(m.validBefore),
        },
      };
      facilitator = makeOfficialFacilitator(
        makeFakeChain({
          paymentRequirements: inputs.requirements,
          paymentPayload: inputs.verifyRequest.paymentPayload,
        }),
      );
      return Response.json({ ok: true });
    }
    const impl = impls[url.searchParams.get("impl")];
    const n = Number(url.searchParams.get("n") ?? "1");
    if (!impl || !inputs) return new Response("no such run", { status: 404 });
    let valid = 0;
    for (let i = 0; i < n; i++) if (await impl()) valid++;
    return Response.json({ n, valid });
  },
};
