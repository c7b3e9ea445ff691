// Prints the @x402/evm EIP-712 type definitions and addresses as JSON, so the
// independent Python (eth-account) generator signs exactly the SDK's types.
import {
  PERMIT2_ADDRESS,
  authorizationTypes,
  permit2WitnessTypes,
  uptoPermit2WitnessTypes,
  x402ExactPermit2ProxyAddress,
  x402UptoPermit2ProxyAddress,
} from "@x402/evm";
import { plainTypes } from "./typed.mjs";
import { pkgVersion } from "./common.mjs";

process.stdout.write(
  JSON.stringify({
    x402EvmVersion: pkgVersion("@x402/evm"),
    PERMIT2_ADDRESS,
    x402ExactPermit2ProxyAddress,
    x402UptoPermit2ProxyAddress,
    types: {
      eip3009: { types: plainTypes(authorizationTypes), primaryType: "TransferWithAuthorization" },
      "permit2-exact": { types: plainTypes(permit2WitnessTypes), primaryType: "PermitWitnessTransferFrom" },
      "permit2-upto": { types: plainTypes(uptoPermit2WitnessTypes), primaryType: "PermitWitnessTransferFrom" },
    },
  }),
);
