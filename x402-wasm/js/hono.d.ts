/** paywire/hono: the paywall as Hono middleware. */
import type { PaywallOptions, RouteOffer } from "./paywall.js";

export function paywallMiddleware<Env = unknown>(
  x402: unknown,
  routes: Record<string, RouteOffer | ((request: Request, env: Env) => RouteOffer | Promise<RouteOffer>)>,
  options: PaywallOptions<Env>,
): (c: any, next: () => Promise<void>) => Promise<Response | void>;
