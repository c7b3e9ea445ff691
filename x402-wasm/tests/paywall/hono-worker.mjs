// A Hono app for workerd behind paywire/hono, with its records in the
// PaymentRecords Durable Object (paywire/durable-object): the same route,
// settings and reconciliation list as the example Worker, so that the
// paywall tests run against both. Bundled with esbuild by the test (Hono and
// the package's modules in; the wasm flavour and cloudflare:workers out).
import { Hono } from "hono";
import * as x402 from "paywire";
import { paywallMiddleware } from "paywire/hono";

export { PaymentRecords } from "paywire/durable-object";

const records = (env) => env.PAYMENTS.get(env.PAYMENTS.idFromName("payments"));

const offer = (request, env) => ({
  x402Version: 2,
  resource: { url: `${new URL(request.url).origin}/premium`, description: "Premium data", mimeType: "application/json" },
  accepts: [{
    scheme: "exact",
    network: env.NETWORK ?? "eip155:84532",
    amount: env.PRICE,
    asset: env.ASSET ?? "0x036CbD53842c5426634e7929541eC2318f3dCF7e",
    payTo: env.PAY_TO,
    maxTimeoutSeconds: 60,
    extra: { name: env.TOKEN_NAME ?? "USDC", version: env.TOKEN_VERSION ?? "2" },
  }],
});

const app = new Hono();

app.get("/x402/uncertain", async (c) => {
  if (!c.env.ADMIN_TOKEN || c.req.header("authorization") !== `Bearer ${c.env.ADMIN_TOKEN}`) {
    return c.json({ error: "not found" }, 404);
  }
  const list = await records(c.env).uncertain();
  return c.json(list.map(({ key, record }) => ({ key, ...x402.recordInfo(record) })));
});

app.use(
  paywallMiddleware(x402, { "GET /premium": offer }, {
    records,
    facilitator: (env) => ({ url: env.FACILITATOR_URL, apiKey: env.FACILITATOR_API_KEY }),
    settings: (env) => (env.SETTLE_TIMEOUT_SECONDS ? { settleTimeoutSeconds: Number(env.SETTLE_TIMEOUT_SECONDS) } : {}),
  }),
);

app.get("/premium", (c) => c.json({ data: "premium content" }));

export default app;
