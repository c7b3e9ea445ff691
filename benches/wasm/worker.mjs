// The benchmark Worker: runs one implementation `n` times per request, on the
// inputs posted to /setup. The driver (run.mjs) times requests from outside,
// since a Worker's clock does not advance while it computes.
import * as x402 from "paywire";
import wasmModule from "paywire_wasm_bg.wasm";
import {
  authorizationTypes,
  makeFakeChain,
  makeOfficialFacilitator,
  verifyTypedData,
} from "./official.bundle.mjs";

let inputs;
let facilitator;
let viemTypedData;

// Imports that satisfy the module's import section, for instantiating it
// again and again (instantiation calls none of them).
const stubImports = {};
for (const { module, name } of WebAssembly.Module.imports(wasmModule)) {
  (stubImports[module] ??= {})[name] = () => {
    throw new Error("stub");
  };
}

/** x402-wasm's signature part: digest, recovery, comparison. */
function wasmSignature(td) {
  const { digest } = x402.hashTypedData({
    primaryType: td.primaryType,
    domain: td.domain,
    message: td.message,
  });
  return x402.recoverAddress(digest, td.signature) === td.address;
}

const impls = {
  "wasm-header": () =>
    x402.verifyPaymentHeader(inputs.header, inputs.requirements, inputs.now).isValid,
  "wasm-request": () => x402.verify(inputs.verifyRequest, inputs.now).isValid,
  "wasm-sig": () => wasmSignature(inputs.typedData),
  viem: () => verifyTypedData(viemTypedData),
  official: async () =>
    (await facilitator.verify(inputs.verifyRequest.paymentPayload, inputs.requirements)).isValid,
  instantiate: () => new WebAssembly.Instance(wasmModule, stubImports) instanceof WebAssembly.Instance,
};

export default {
  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === "/setup") {
      inputs = await request.json();
      // The payment's time, for the official verify (x402-wasm takes it as an argument).
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
