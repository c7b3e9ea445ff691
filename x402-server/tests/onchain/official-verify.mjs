// The official facilitator's verify (@x402/core's x402Facilitator with
// @x402/evm's exact scheme and its eip6492AllowedFactories, and its
// batch-settlement scheme) on the local
// chain, for x402-server/tests/onchain: reads {rpc, chainId, now, key,
// allowedFactories, bodies: [POST /verify body]} on stdin and writes the
// verdicts, in order, as a JSON array. Time is pinned to the chain's `now`.
import { x402Facilitator } from "@x402/core/facilitator";
import { registerExactEvmScheme } from "@x402/evm/exact/facilitator";
import { BatchSettlementEvmScheme } from "@x402/evm/batch-settlement/facilitator";
import { toFacilitatorEvmSigner } from "@x402/evm";
import { createWalletClient, defineChain, http, publicActions } from "viem";
import { privateKeyToAccount } from "viem/accounts";

const chunks = [];
for await (const c of process.stdin) chunks.push(c);
const input = JSON.parse(Buffer.concat(chunks).toString("utf8"));
const chain = defineChain({
  id: input.chainId,
  name: "hardhat",
  nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
  rpcUrls: { default: { http: [input.rpc] } },
});
const account = privateKeyToAccount(input.key);
const wallet = createWalletClient({ account, chain, transport: http(input.rpc) }).extend(publicActions);
const facilitator = new x402Facilitator();
registerExactEvmScheme(facilitator, {
  signer: toFacilitatorEvmSigner(wallet),
  networks: `eip155:${input.chainId}`,
  eip6492AllowedFactories: input.allowedFactories,
});
facilitator.register(`eip155:${input.chainId}`, new BatchSettlementEvmScheme(toFacilitatorEvmSigner(wallet)));
const realNow = Date.now;
Date.now = () => input.now * 1000;
const verdicts = [];
for (const body of input.bodies) {
  try {
    verdicts.push(await facilitator.verify(body.paymentPayload, body.paymentRequirements));
  } catch (e) {
    verdicts.push({ threw: String(e?.message ?? e) });
  }
}
Date.now = realNow;
process.stdout.write(JSON.stringify(verdicts));
