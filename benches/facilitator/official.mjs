// The official TypeScript facilitator for the benchmark: x402Facilitator from
// @x402/core with @x402/evm's exact scheme, over a viem wallet on the local
// chain, behind Node's own HTTP server (POST /verify, POST /settle, GET
// /supported), as a resource server's HTTPFacilitatorClient calls it.
//
//   node official.mjs RPC_URL PORT   (the signer's key in PAYWIRE_BENCH_SIGNER_KEY)
import http from "node:http";
import { x402Facilitator } from "@x402/core/facilitator";
import { registerExactEvmScheme } from "@x402/evm/exact/facilitator";
import { toFacilitatorEvmSigner } from "@x402/evm";
import { createWalletClient, defineChain, http as viemHttp, publicActions } from "viem";
import { privateKeyToAccount } from "viem/accounts";

const [rpc, port] = process.argv.slice(2);
const chain = defineChain({
  id: 31337,
  name: "hardhat",
  nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
  rpcUrls: { default: { http: [rpc] } },
});
const account = privateKeyToAccount(process.env.PAYWIRE_BENCH_SIGNER_KEY);
const wallet = createWalletClient({ account, chain, transport: viemHttp(rpc) }).extend(publicActions);
const facilitator = new x402Facilitator();
registerExactEvmScheme(facilitator, { signer: toFacilitatorEvmSigner(wallet), networks: "eip155:31337" });

function send(res, status, value) {
  const body = JSON.stringify(value);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
}

const server = http.createServer(async (req, res) => {
  try {
    if (req.method === "GET" && req.url === "/supported") return send(res, 200, facilitator.getSupported());
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const { paymentPayload, paymentRequirements } = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    if (req.method === "POST" && req.url === "/verify") {
      return send(res, 200, await facilitator.verify(paymentPayload, paymentRequirements));
    }
    if (req.method === "POST" && req.url === "/settle") {
      return send(res, 200, await facilitator.settle(paymentPayload, paymentRequirements));
    }
    send(res, 404, { error: "not_found" });
  } catch (e) {
    send(res, 500, { error: String(e?.message ?? e) });
  }
});
server.keepAliveTimeout = 60_000;
server.listen(Number(port), "127.0.0.1", () => console.log(`listening on http://127.0.0.1:${port}`));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
