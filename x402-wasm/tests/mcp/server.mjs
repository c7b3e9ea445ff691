// A paid MCP tool server for the tests, run as its own process:
//
//   node server.mjs KIND TRANSPORT
//     KIND       paywire      this package's paidTools (paywire/mcp)
//                cloudflare   Cloudflare's agents 0.32 (withX402 + paidTool)
//     TRANSPORT  stdio        MCP over stdin/stdout
//                http         Streamable HTTP on 127.0.0.1 (stateless; prints
//                             "listening <port>" on stderr)
//
// The tool `forecast` ({city}) costs PRICE of ASSET on NETWORK, paid to PAY_TO
// (environment), settled through FACILITATOR_URL (FACILITATOR_API_KEY when
// set). `broken` always fails. Payment records live as long as the process.
import { createServer } from "node:http";

import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { withX402 } from "agents/x402";
import { z } from "zod";

const [kind, transport] = process.argv.slice(2);
// This package only for its own kind: Cloudflare's server runs on the
// repository's test tools alone (the Rust and Python tests start it too).
const { x402, paidTools, MemoryRecords } =
  kind === "paywire"
    ? {
        x402: await import("paywire/full"),
        paidTools: (await import("paywire/mcp")).paidTools,
        MemoryRecords: (await import("paywire/paywall")).MemoryRecords,
      }
    : {};
const env = process.env;
const auth = env.FACILITATOR_API_KEY ? { Authorization: `Bearer ${env.FACILITATOR_API_KEY}` } : null;
const requirement = {
  scheme: "exact",
  network: env.NETWORK,
  amount: env.PRICE,
  asset: env.ASSET,
  payTo: env.PAY_TO,
  maxTimeoutSeconds: 300,
  extra: { name: env.TOKEN_NAME, version: env.TOKEN_VERSION },
};
const forecast = async ({ city }) => ({ content: [{ type: "text", text: `sunny in ${city}` }] });
const broken = async () => {
  throw new Error("the tool broke");
};

// One store for the process: every session's calls share the payments' records.
const records = MemoryRecords ? new MemoryRecords() : null;

function build() {
  const server = new McpServer({ name: `forecast-${kind}`, version: "1.0.0" });
  if (kind === "paywire") {
    const paid = paidTools(x402, server, {
      records,
      facilitator: { url: env.FACILITATOR_URL, apiKey: env.FACILITATOR_API_KEY },
      settings: { settleTimeoutSeconds: Number(env.SETTLE_TIMEOUT_SECONDS ?? 10) },
      log: (...args) => console.error(...args),
    });
    paid.tool("forecast", { description: "Tomorrow's weather", inputSchema: { city: z.string() } }, requirement, forecast);
    paid.tool("broken", { description: "Always fails", inputSchema: { city: z.string() } }, requirement, broken);
  } else if (kind === "cloudflare") {
    const paid = withX402(server, {
      network: env.NETWORK,
      recipient: env.PAY_TO,
      facilitator: {
        url: env.FACILITATOR_URL,
        ...(auth ? { createAuthHeaders: async () => ({ verify: auth, settle: auth, supported: auth }) } : {}),
      },
    });
    // The price as an amount of the token (the network may have no default USDC).
    const price = { amount: env.PRICE, asset: env.ASSET, extra: requirement.extra };
    paid.paidTool("forecast", "Tomorrow's weather", price, { city: z.string() }, {}, forecast);
    paid.paidTool("broken", "Always fails", price, { city: z.string() }, {}, broken);
  } else {
    throw new Error(`unknown server kind ${kind}`);
  }
  return server;
}

if (transport === "stdio") {
  await build().connect(new StdioServerTransport());
} else if (transport === "http") {
  const http = createServer(async (req, res) => {
    if (req.url !== "/mcp") {
      res.writeHead(404).end();
      return;
    }
    // Stateless: a server and a transport per request, the records shared.
    const server = build();
    const t = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    res.on("close", () => {
      t.close();
      server.close();
    });
    await server.connect(t);
    await t.handleRequest(req, res);
  });
  http.requestTimeout = 30_000;
  http.listen(0, "127.0.0.1", () => console.error(`listening ${http.address().port}`));
} else {
  throw new Error(`unknown transport ${transport}`);
}
