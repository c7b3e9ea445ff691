// paywire/hono: the paywall as Hono middleware.
//
//   import { Hono } from "hono";
//   import * as x402 from "paywire/full";
//   import { paywallMiddleware } from "paywire/hono";
//   const app = new Hono();
//   app.use(paywallMiddleware(x402, { "GET /premium": offer }, { records, facilitator }));
//   app.get("/premium", (c) => c.json({ data: "premium" }));
//
// Routes and options are `paywall`'s (paywire/paywall). The route's handler
// runs as the lifecycle asks (after the payment is verified and claimed); its
// response is held back until the payment settles.
import { keptAlive, payFor, routeTable } from "./paywall.mjs";

/** Hono middleware selling `routes` (see `paywall` in paywire/paywall). */
export function paywallMiddleware(x402, routes, options = {}) {
  const find = routeTable(routes);
  return async function paywireHono(c, next) {
    const route = find(c.req.method, new URL(c.req.url).pathname);
    if (!route) return next();
    const doc = typeof route === "function" ? await route(c.req.raw, c.env) : route;
    let ctx;
    try {
      ctx = c.executionCtx; // a Worker's; Hono throws elsewhere
    } catch {
      ctx = undefined;
    }
    const res = await keptAlive(
      payFor(
        x402,
        c.req.raw,
        c.env,
        doc,
        async () => {
          await next();
          return c.res;
        },
        options,
      ),
      ctx,
    );
    // Replace, not merge: the held response's headers must not leak into a
    // 402 or 502, nor a stale answer's into the paid one.
    c.res = undefined;
    c.res = res;
    return res;
  };
}
