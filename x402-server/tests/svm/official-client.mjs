// The official client (@x402/svm 2.27's ExactSvmScheme) makes a payment for
// the facilitator's Solana tests: reads {rpc, requirements, payerSeedHex} as
// JSON from its first argument, asks the RPC for the mint and the latest
// blockhash, and prints the v2 PaymentPayload as one JSON line.
import { ExactSvmScheme } from "@x402/svm/exact/client";
import { createKeyPairSignerFromPrivateKeyBytes } from "@solana/kit";

const { rpc, requirements, payerSeedHex } = JSON.parse(process.argv[2]);
const signer = await createKeyPairSignerFromPrivateKeyBytes(Buffer.from(payerSeedHex, "hex"));
const client = new ExactSvmScheme(signer, { rpcUrl: rpc });
const { x402Version, payload } = await client.createPaymentPayload(2, requirements);
console.log(JSON.stringify({ x402Version, accepted: requirements, payload }));
