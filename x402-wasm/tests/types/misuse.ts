// Must NOT compile (node/types.test.mjs checks that tsc refuses each line): the
// declarations are precise, not `any`.
import { createPayment, verify, selectRequirement } from "paywire";
import { signRequest } from "paywire"; // only the full flavour signs requests

const valid: string = verify("{}").isValid; // a boolean is not a string
createPayment({ x402Version: 2 }, "0x11"); // PaymentRequired needs resource and accepts
createPayment("{}", "0x11", { maxAmount: 10000 }); // amounts are decimal strings
selectRequirement("{}", { maxAmmount: "1" }); // unknown option
verify("{}", "now"); // nowUnix is a number
import { PaymentLifecycle } from "paywire"; // only the full flavour has the lifecycle
