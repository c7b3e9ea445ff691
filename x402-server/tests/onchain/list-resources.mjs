// The official bazaar client reading a facilitator's catalog:
// withBazaar(new HTTPFacilitatorClient({url})).extensions.bazaar.listResources(params).
//   node list-resources.mjs URL PARAMS_JSON
// Prints the response the client returns, as JSON; exits non-zero on a throw.
import { HTTPFacilitatorClient } from "@x402/core/server";
import { withBazaar } from "@x402/extensions/bazaar";

const [url, params] = process.argv.slice(2);
const client = withBazaar(new HTTPFacilitatorClient({ url }));
const listed = await client.extensions.bazaar.listResources(JSON.parse(params ?? "{}"));
process.stdout.write(JSON.stringify(listed));
