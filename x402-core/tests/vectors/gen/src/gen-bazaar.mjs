// The bazaar discovery extension as the official @x402/extensions writes and
// judges it:
// - `declarations`: what declareDiscoveryExtension builds for a config, and
//   that after the server extension's enrichDeclaration for a request (the
//   form a PaymentRequired carries), with the verdicts of validateDiscoveryExtension
//   (info against schema) and validateDiscoveryExtensionSpec;
// - `judgements`: hand-written extensions (valid and not) and the official
//   validateDiscoveryExtension verdict;
// - `extractions`: version 2 payments and what extractDiscoveryInfo keeps of
//   them (null when it catalogs nothing);
// - `routeTemplates`, `serviceNames`, `tags`, `iconUrls`: the sanitisers'
//   verdicts.
// With --stdout the file is printed instead of written (the Rust test
// compares the two, so that a checked-in file cannot drift from its
// generator).
import { fileURLToPath } from "node:url";

import {
  bazaarResourceServerExtension,
  declareDiscoveryExtension,
  extractDiscoveryInfo,
  isValidIconUrl,
  isValidRouteTemplate,
  isValidServiceName,
  sanitizeTags,
  validateDiscoveryExtension,
  validateDiscoveryExtensionSpec,
} from "@x402/extensions/bazaar";

import { generatorBlock, writeJson } from "./common.mjs";

// The reference logs what it drops; the vectors record the verdicts instead.
console.warn = () => {};

const context = (method, path, routePattern) => ({
  method,
  routePattern,
  adapter: { getPath: () => path },
});

const configs = [
  ["GET, no input", "GET", "/weather", {}],
  [
    "GET with query parameters, their schema and an output",
    "GET",
    "/weather",
    {
      input: { city: "San Francisco" },
      inputSchema: { properties: { city: { type: "string", minLength: 1 } }, required: ["city"] },
      output: {
        example: { city: "San Francisco", temperature: 60 },
        schema: { properties: { city: { type: "string" }, temperature: { type: "number" } } },
      },
    },
  ],
  ["HEAD with query parameters", "HEAD", "/status", { input: { verbose: "1" } }],
  [
    "DELETE with an input schema that sets its own type",
    "DELETE",
    "/items",
    { input: { id: "7" }, inputSchema: { type: "object", additionalProperties: { type: "string" } } },
  ],
  [
    "POST with a JSON body",
    "POST",
    "/search",
    {
      bodyType: "json",
      input: { query: "example", limit: 10 },
      inputSchema: {
        type: "object",
        properties: { query: { type: "string" }, limit: { type: "integer", minimum: 1, maximum: 100 } },
        required: ["query"],
      },
      output: { example: { results: [] } },
    },
  ],
  ["PUT with a form", "PUT", "/profile", { bodyType: "form-data", input: { name: "Ada" } }],
  ["PATCH with text", "PATCH", "/note", { bodyType: "text" }],
  [
    "POST whose output example is not an object",
    "POST",
    "/echo",
    { bodyType: "json", input: { a: 1 }, output: { example: "plain text" } },
  ],
  [
    "an MCP tool",
    "POST",
    "/mcp",
    {
      toolName: "financial_analysis",
      description: "Advanced AI-powered financial analysis",
      inputSchema: {
        type: "object",
        properties: { ticker: { type: "string" }, analysis_type: { type: "string", enum: ["quick", "deep"] } },
        required: ["ticker"],
      },
      example: { ticker: "AAPL", analysis_type: "deep" },
      output: { example: { summary: "Strong fundamentals", score: 8.5 } },
    },
  ],
  [
    "an MCP tool over SSE, minimal",
    "POST",
    "/mcp",
    { toolName: "ping", transport: "sse", inputSchema: { type: "object" } },
  ],
];

const declarations = configs.map(([name, method, path, config]) => {
  const declared = declareDiscoveryExtension(config).bazaar;
  const extension = bazaarResourceServerExtension.enrichDeclaration(
    structuredClone(declared),
    context(method, path, path),
  );
  return {
    name,
    method,
    config,
    declared,
    extension,
    valid: validateDiscoveryExtension(extension).valid,
    specValid: validateDiscoveryExtensionSpec(extension).valid,
  };
});

const schema = (input, extra = {}) => ({
  $schema: "https://json-schema.org/draft/2020-12/schema",
  type: "object",
  properties: { input },
  required: ["input"],
  ...extra,
});
const get = { type: "http", method: "GET" };
const judgementCases = [
  ["the spec's GET example", { info: { input: { type: "http", method: "GET", queryParams: { city: "SF" } } }, schema: schema({ type: "object", properties: { type: { type: "string", const: "http" }, method: { type: "string", enum: ["GET", "HEAD", "DELETE"] }, queryParams: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } }, required: ["type", "method"], additionalProperties: false }) }],
  ["a required query parameter absent", { info: { input: { type: "http", method: "GET", queryParams: {} } }, schema: schema({ type: "object", properties: { queryParams: { type: "object", required: ["city"] } } }) }],
  ["input absent", { info: {}, schema: schema({ type: "object" }) }],
  ["input not an object", { info: { input: "GET /" }, schema: schema({ type: "object" }) }],
  ["a member additionalProperties forbids", { info: { input: { ...get, extra: 1 } }, schema: schema({ type: "object", properties: { type: {}, method: {} }, additionalProperties: false }) }],
  ["additionalProperties as a schema, met", { info: { input: { ...get, headers: { a: "b" } } }, schema: schema({ type: "object", properties: { headers: { type: "object", additionalProperties: { type: "string" } } } }) }],
  ["additionalProperties as a schema, broken", { info: { input: { ...get, headers: { a: 1 } } }, schema: schema({ type: "object", properties: { headers: { type: "object", additionalProperties: { type: "string" } } } }) }],
  ["const broken", { info: { input: { type: "mcp" } }, schema: schema({ properties: { type: { const: "http" } } }) }],
  ["enum broken", { info: { input: { ...get, method: "TRACE" } }, schema: schema({ properties: { method: { enum: ["GET"] } } }) }],
  ["enum of objects, by value", { info: { input: { ...get, q: { a: [1, 2], b: null } } }, schema: schema({ properties: { q: { enum: [{ b: null, a: [1, 2] }] } } }) }],
  ["integer written 2.0 is an integer", { info: JSON.parse('{"input":{"type":"http","method":"GET","n":2.0}}'), schema: schema({ properties: { n: { type: "integer" } } }) }],
  ["integer that is not", { info: { input: { ...get, n: 2.5 } }, schema: schema({ properties: { n: { type: "integer" } } }) }],
  ["type as a list", { info: { input: { ...get, n: null } }, schema: schema({ properties: { n: { type: ["string", "null"] } } }) }],
  ["bounds met", { info: { input: { ...get, n: 5, s: "abc", l: [1, 2] } }, schema: schema({ properties: { n: { minimum: 5, exclusiveMaximum: 6 }, s: { minLength: 3, maxLength: 3 }, l: { minItems: 2, maxItems: 2, uniqueItems: true } } }) }],
  ["exclusiveMinimum broken", { info: { input: { ...get, n: 5 } }, schema: schema({ properties: { n: { exclusiveMinimum: 5 } } }) }],
  ["maxLength counts code points", { info: { input: { ...get, s: "😀😀" } }, schema: schema({ properties: { s: { maxLength: 2 } } }) }],
  ["uniqueItems broken by equal objects", { info: { input: { ...get, l: [{ a: 1 }, { a: 1 }] } }, schema: schema({ properties: { l: { uniqueItems: true } } }) }],
  ["items broken", { info: { input: { ...get, l: [1, "x"] } }, schema: schema({ properties: { l: { items: { type: "number" } } } }) }],
  ["prefixItems", { info: { input: { ...get, l: ["x", 1, true] } }, schema: schema({ properties: { l: { prefixItems: [{ type: "string" }, { type: "number" }], items: { type: "boolean" } } } }) }],
  ["minProperties broken", { info: { input: { ...get, o: {} } }, schema: schema({ properties: { o: { minProperties: 1 } } }) }],
  ["anyOf met", { info: { input: { ...get, v: 1 } }, schema: schema({ properties: { v: { anyOf: [{ type: "string" }, { type: "number" }] } } }) }],
  ["oneOf with two matches", { info: { input: { ...get, v: 1 } }, schema: schema({ properties: { v: { oneOf: [{ type: "integer" }, { type: "number" }] } } }) }],
  ["allOf broken", { info: { input: { ...get, v: 1 } }, schema: schema({ properties: { v: { allOf: [{ type: "number" }, { maximum: 0 }] } } }) }],
  ["not broken", { info: { input: { ...get, v: "x" } }, schema: schema({ properties: { v: { not: { type: "string" } } } }) }],
  ["a false schema", { info: { input: { ...get, v: 1 } }, schema: schema({ properties: { v: false } }) }],
  ["a local $ref to $defs", { info: { input: { ...get, v: "x" } }, schema: schema({ $ref: "#/$defs/input" }, { $defs: { input: { type: "object", properties: { v: { type: "string" } } } } }) }],
  ["a local $ref, broken", { info: { input: { ...get, v: 1 } }, schema: schema({ $ref: "#/$defs/input" }, { $defs: { input: { type: "object", properties: { v: { type: "string" } } } } }) }],
  ["an external $ref", { info: { input: get }, schema: schema({ $ref: "https://example.com/input.json" }) }],
  ["a relative $ref", { info: { input: get }, schema: schema({ $ref: "input.json#/x" }) }],
  ["an external $id", { info: { input: get }, schema: schema({ type: "object" }, { $id: "https://example.com/schema" }) }],
  ["a property named $ref", { info: { input: get }, schema: schema({ type: "object", properties: { $ref: { type: "string" } } }) }],
  ["format and unknown keywords are ignored", { info: { input: { ...get, e: "not an email" } }, schema: schema({ properties: { e: { type: "string", format: "email", "x-note": 1 } } }) }],
  ["an unknown type name", { info: { input: get }, schema: schema({ type: "text" }) }],
  ["required not an array", { info: { input: get }, schema: schema({ type: "object", required: "type" }) }],
  ["a $ref loop", { info: { input: get }, schema: { $ref: "#" } }],
  ["a $ref loop below the root", { info: { input: get }, schema: schema({ $ref: "#/properties/input" }) }],
  ["schema absent", { info: { input: get } }],
  ["schema true", { info: { input: get }, schema: true }],
  ["schema false", { info: { input: get }, schema: false }],
];
const judgements = judgementCases.map(([name, extension]) => ({
  name,
  extension,
  valid: validateDiscoveryExtension(extension).valid,
}));

const requirement = {
  scheme: "exact",
  network: "eip155:8453",
  amount: "10000",
  asset: "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913",
  payTo: "0x209693Bc6afc0C5328bA36FaF03C514EF312287C",
  maxTimeoutSeconds: 60,
  extra: { name: "USD Coin", version: "2" },
};
const byName = Object.fromEntries(declarations.map((d) => [d.name, d.extension]));
const payment = (resource, bazaar) => ({
  x402Version: 2,
  resource,
  accepted: requirement,
  payload: { signature: "0x00" },
  extensions: bazaar === undefined ? {} : { bazaar },
});
const getExt = byName["GET with query parameters, their schema and an output"];
const extractionCases = [
  ["a GET endpoint", payment({ url: "https://api.example.com/weather?city=SF#top", description: "Weather", mimeType: "application/json" }, getExt)],
  ["an MCP tool", payment({ url: "https://api.example.com/mcp" }, byName["an MCP tool"])],
  ["a POST endpoint on a port", payment({ url: "http://Api.Example.com:8080/search" }, byName["POST with a JSON body"])],
  ["a default port", payment({ url: "https://api.example.com:443/weather" }, getExt)],
  ["no path", payment({ url: "https://api.example.com" }, getExt)],
  ["a route template", payment({ url: "https://api.example.com/users/42" }, { ...getExt, routeTemplate: "/users/:id" })],
  ["a route template that climbs", payment({ url: "https://api.example.com/users/42" }, { ...getExt, routeTemplate: "/users/%2e%2e/admin" })],
  ["service metadata, sanitised", payment({ url: "https://api.example.com/weather", serviceName: "Weather API", tags: ["weather", "Weather", "", "forecast"], iconUrl: "https://cdn.example.com/icon.png" }, getExt)],
  ["service metadata, dropped", payment({ url: "https://api.example.com/weather", serviceName: "Météo", tags: "weather", iconUrl: "https://localhost/icon.png" }, getExt)],
  ["an invalid declaration", payment({ url: "https://api.example.com/weather" }, { ...getExt, info: { input: { type: "http", method: "POST" } } })],
  ["no declaration", payment({ url: "https://api.example.com/weather" }, undefined)],
];
const extractions = extractionCases.map(([name, paymentPayload]) => {
  const d = extractDiscoveryInfo(paymentPayload, requirement);
  const kept = d && {
    resourceUrl: d.resourceUrl,
    type: d.discoveryInfo.input.type,
    ...(d.method !== undefined ? { method: d.method } : {}),
    ...(d.toolName !== undefined ? { toolName: d.toolName } : {}),
    ...(d.routeTemplate !== undefined ? { routeTemplate: d.routeTemplate } : {}),
    ...(d.description !== undefined ? { description: d.description } : {}),
    ...(d.mimeType !== undefined ? { mimeType: d.mimeType } : {}),
    ...(d.serviceName !== undefined ? { serviceName: d.serviceName } : {}),
    ...(d.tags !== undefined ? { tags: d.tags } : {}),
    ...(d.iconUrl !== undefined ? { iconUrl: d.iconUrl } : {}),
  };
  return { name, paymentPayload, discovered: kept };
});

const routeTemplates = [
  "/users/:id", "/weather/:country/:city", "/a/b.json", "/x%20y", "/~user/-_", "/", "", "users/:id",
  "/a/../b", "/a/%2e%2e/b", "/a/%252e%252e/b", "/http://evil.com", "/a?b=1", "/a b", "/%zz", "/%ff",
  "/%25252525252e", "/%2525252e",
].map((value) => ({ value, valid: isValidRouteTemplate(value) }));
const serviceNames = [
  "Weather API", "W", "x".repeat(32), "x".repeat(33), "", "Weather\tAPI", "Météo", " ~", "a\u007fb",
].map((value) => ({ value, valid: isValidServiceName(value) }));
const tags = [
  ["weather", "forecast"], ["a", "A", "b"], ["a", "", "b", 3, null, "c", "d", "e", "f", "g"], ["y".repeat(33)],
  [], "weather", ["Météo", "ok"],
].map((value) => ({ value, kept: sanitizeTags(value) ?? [] }));
const iconUrls = [
  "https://api.example.com/icon.png", "http://cdn.example.org:8080/i", "https://EXAMPLE.com", "ftp://example.com/i",
  "data:image/png;base64,AA", "https://user:pass@example.com/i", "https://127.0.0.1/i", "https://2130706433/i",
  "https://0x7f000001/i", "https://[::1]/i", "https://localhost/i", "https://LOCALHOST/i",
  "https://%6c%6f%63%61%6c%68%6f%73%74/i", "https://ip6-loopback/i", "https://example.com/a\nb", "",
  "https://a.example/" + "i".repeat(2048 - 18), "https://a.example/" + "i".repeat(2049 - 18),
  "file:///etc/passwd", "https://127.1/i", "https://user:\\pass@example.com", "https://ex.com:0080/i",
  "https://ex.com:99999/i", "HTTPS://Ex.com/i", "https://ex.com./i",
].map((value) => ({ value, valid: isValidIconUrl(value) }));

const doc = {
  generator: generatorBlock(fileURLToPath(import.meta.url), ["@x402/extensions"]),
  description:
    "The bazaar extension as @x402/extensions writes and judges it: declarations built by " +
    "declareDiscoveryExtension (`declared`) and enriched for a request by " +
    "bazaarResourceServerExtension.enrichDeclaration (`extension`) " +
    "(`valid`: validateDiscoveryExtension, `specValid`: validateDiscoveryExtensionSpec); hand-written " +
    "extensions judged by validateDiscoveryExtension; extractDiscoveryInfo on version 2 payments (null: " +
    "nothing cataloged); the route template and service metadata sanitisers.",
  declarations,
  judgements,
  extractions,
  routeTemplates,
  serviceNames,
  tags,
  iconUrls,
};

if (process.argv.includes("--stdout")) {
  process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
} else {
  const path = writeJson("bazaar.json", doc);
  console.log(`wrote ${path}`);
}
