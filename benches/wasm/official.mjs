// The JavaScript side of the comparison, bundled by esbuild for workerd (and
// loaded as the same bundle in Node): viem's verifyTypedData, and the official
// @x402/evm facilitator over the fake healthy chain of the vector generator.
export { verifyTypedData } from "viem";
export { authorizationTypes } from "@x402/evm";
export {
  makeFakeChain,
  makeOfficialFacilitator,
} from "../../x402-core/tests/vectors/gen/src/fakechain.mjs";
