// A paid MCP tool in a Cloudflare Worker: the SDK's Streamable HTTP transport
// for web-standard runtimes at /mcp (stateless), the payments' records in the
// package's Durable Object. Bundled by the test (esbuild) and served by workerd.
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import { CfWorkerJsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/cfworker";
import { z } from "zod";
import * as x402 from "paywire";
import { paidTools } from "paywire/mcp";

export { PaymentRecords } from "paywire/durable-object";

export default {
  async fetch(request, env, ctx) {
    if (new URL(request.url).pathname !== "/mcp") return new Response("not found", { status: 404 });
    const server = new McpServer(
      { name: "forecast-worker", version: "1.0.0" },
      { jsonSchemaValidator: new CfWorkerJsonSchemaValidator() },
    );
    paidTools(x402, server, {
      records: env.PAYMENTS.get(env.PAYMENTS.idFromName("payments")),
      facilitator: { url: env.FACILITATOR_URL, apiKey: env.FACILITATOR_API_KEY },
      settings: { settleTimeoutSeconds: Number(env.SETTLE_TIMEOUT_SECONDS ?? 10) },
      ctx,
    }).tool(
      "forecast",
      { description: "Tomorrow's weather", inputSchema: { city: z.string() } },
      {
        scheme: "exact",
        network: env.NETWORK,
        amount: env.PRICE,
        asset: env.ASSET,
        payTo: env.PAY_TO,
        maxTimeoutSeconds: 300,
        extra: { name: env.TOKEN_NAME, version: env.TOKEN_VERSION },
      },
      async ({ city }) => ({ content: [{ type: "text", text: `sunny in ${city}` }] }),
    );
    const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    await server.connect(transport);
    return transport.handleRequest(request);
  },
};
