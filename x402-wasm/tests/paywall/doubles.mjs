// Test doubles on 127.0.0.1 for the paywall tests: a facilitator that can be
// told to misbehave (for `exact`, and for `batch-settlement` on EVM: its
// verification and its settlement of a deposit), an origin whose answer can
// be switched, an agent's key directory. Each is closed by its test; held
// connections are destroyed then.
import { copyFileSync, mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { BIN_DIR, WASM_DIR, freePort, startProcess, waitForHttp } from "../lib/harness.mjs";

const isBatch = (request) => request?.paymentRequirements?.scheme === "batch-settlement";

/**
 * The on-chain state of an EVM batch-settlement channel as a facilitator
 * reports it (a VerifyResponse's `extra`, a SettleResponse's
 * `extra.channelState`): the channel of `request`'s payload, holding `balance`.
 */
function channelState(request, balance) {
  return {
    channelId: request?.paymentPayload?.payload?.voucher?.channelId,
    balance,
    totalClaimed: "0",
    withdrawRequestedAt: 0,
    refundNonce: "0",
  };
}

/**
 * A valid VerifyResponse for a POST /verify body. For batch-settlement on
 * EVM: the channel before its deposit (a balance of 0), its payer the
 * channel's.
 */
export function validBody(request) {
  if (isBatch(request)) {
    const payer = request.paymentPayload?.payload?.channelConfig?.payer;
    return JSON.stringify({ isValid: true, payer, extra: channelState(request, "0") });
  }
  return JSON.stringify({ isValid: true, payer: request?.paymentPayload?.payload?.authorization?.from });
}

/** A SettleResponse with success for a POST /settle body; the transaction is a
 * stand-in: the authorization nonce's hex digits, reversed (for a
 * batch-settlement deposit, the channel id's, and the channel's state after
 * it: the deposit's amount as balance). */
export function settledBody(request) {
  if (isBatch(request)) {
    const payload = request.paymentPayload?.payload ?? {};
    const id = String(payload.voucher?.channelId ?? "0x").replace(/^0x/, "");
    return JSON.stringify({
      success: true,
      payer: payload.channelConfig?.payer,
      transaction: `0x${[...id].reverse().join("")}`,
      network: request.paymentRequirements.network,
      extra: { channelState: channelState(request, payload.deposit?.amount ?? "0") },
    });
  }
  const auth = request?.paymentPayload?.payload?.authorization ?? {};
  const nonce = String(auth.nonce ?? "0x").replace(/^0x/, "");
  return JSON.stringify({
    success: true,
    transaction: `0x${[...nonce].reverse().join("")}`,
    network: request?.paymentRequirements?.network,
    payer: auth.from,
  });
}

/** A facilitator mode from a vector's `reply` (x402-core/tests/vectors/paywall.json). */
export function modeOf(reply) {
  if (reply.hang) return { hang: true };
  if (reply.refuse) return { refuse: true };
  return {
    status: reply.status,
    contentType: reply.contentType ?? "application/json",
    body: typeof reply.body === "string" ? reply.body : null, // null: settled
    cutOff: Boolean(reply.cutOff),
  };
}

export const SETTLED = { status: 200, contentType: "application/json", body: null };

/** The /verify mode of a valid verification (validBody). */
export const VALID = { status: 200, contentType: "application/json", body: null };

function listen(server, port = 0) {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      server.off("error", reject);
      resolve(server.address().port);
    });
  });
}

function close(server, sockets) {
  for (const s of sockets) s.destroy();
  return new Promise((resolve) => server.close(() => resolve()));
}

/**
 * The facilitator double: records each POST /settle and POST /verify body,
 * answers /settle as `mode` says and /verify as `verifyMode` says (valid by
 * default). Modes: `{status, contentType, body}` (body null: the success
 * answer, settledBody or validBody, with that status), `{hang: true}` (never
 * answered), `delayMs`; for /settle, `{refuse: true}` (the facilitator is
 * down: connections refused, /verify's too) and `{refuseAfterVerify: true}`
 * (it goes down between the verification and the settlement: the next
 * /verify is answered, then connections are refused until the next `set`).
 */
export async function startFacilitator(initial = SETTLED) {
  let mode = initial;
  let verifyMode = VALID;
  const calls = [];
  const verifies = [];
  const posts = [];
  const sockets = new Set();
  let listening = true;
  let closed = Promise.resolve();
  const answer = async (res, m, request, success) => {
    if (m.hang) return; // never answered; destroyed on close
    if (m.delayMs) await new Promise((r) => setTimeout(r, m.delayMs));
    const payload = Buffer.from(m.body ?? success(request));
    res.writeHead(m.status, { "content-type": m.contentType, "content-length": payload.length });
    if (m.cutOff) {
      res.write(payload.subarray(0, payload.length >> 1));
      res.socket.destroy();
      return;
    }
    res.end(payload);
  };
  const server = createServer(async (req, res) => {
    let text = "";
    for await (const chunk of req) text += chunk;
    let body;
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
    if (req.method === "POST" && req.url === "/verify") {
      // Verification (an official resource server, a batch-settlement deposit).
      verifies.push(body);
      posts.push("/verify");
      if (mode.refuseAfterVerify && listening) {
        // Down from now on: no new connection is accepted, and this one
        // closes once answered.
        listening = false;
        closed = new Promise((resolve) => server.close(() => resolve()));
        res.setHeader("connection", "close");
      }
      await answer(res, verifyMode, body, validBody);
      return;
    }
    if (req.method !== "POST" || req.url !== "/settle") {
      // GET /supported, and anything else: the facilitator is up, for exact
      // and batch-settlement payments on Base Sepolia.
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({
        kinds: [
          { x402Version: 2, scheme: "exact", network: "eip155:84532" },
          { x402Version: 2, scheme: "batch-settlement", network: "eip155:84532" },
        ],
        extensions: [],
        signers: {},
      }));
      return;
    }
    calls.push(body);
    posts.push("/settle");
    await answer(res, mode, body, settledBody);
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  const port = await listen(server);
  const f = {
    url: `http://127.0.0.1:${port}/`,
    /** The bodies of POST /settle, in order. */
    calls,
    /** The bodies of POST /verify, in order. */
    verifies,
    /** The paths of the POSTs (/verify, /settle), in order. */
    posts,
    /** Switches the behaviour of /settle; `{refuse: true}` stops listening (connections refused). */
    async set(next) {
      mode = next;
      if (next.refuse && listening) {
        listening = false;
        closed = close(server, sockets);
        await closed;
      } else if (!next.refuse && !listening) {
        for (const s of sockets) s.destroy();
        await closed;
        await listen(server, port);
        listening = true;
      }
    },
    /** Switches the behaviour of /verify (VALID: a valid verification). */
    setVerify(next) {
      verifyMode = next;
    },
    /** Waits (bounded) until `n` settlements arrived. */
    async waitCalls(n) {
      const deadline = Date.now() + 20_000;
      while (calls.length < n) {
        if (Date.now() > deadline) throw new Error(`${calls.length} calls, expected ${n}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async close() {
      if (listening) {
        listening = false;
        closed = close(server, sockets);
      }
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
  if (initial.refuse) await f.set(initial);
  return f;
}

/**
 * An origin whose answer is `ok` (200, cacheable), `fail` (500) or `moved`
 * (302), after `delayMs` (0 unless set).
 */
export async function startOrigin() {
  let mode = "ok";
  let hits = 0;
  let delayMs = 0;
  const sockets = new Set();
  const server = createServer(async (req, res) => {
    hits++;
    if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
    if (mode === "fail") res.writeHead(500, { "content-type": "text/plain" }).end("oops\n");
    else if (mode === "moved") res.writeHead(302, { location: "/elsewhere" }).end();
    else {
      res.writeHead(200, { "content-type": "text/plain", "cache-control": "public, max-age=600" })
        .end("origin content\n");
    }
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  const port = await listen(server);
  return {
    url: `http://127.0.0.1:${port}`,
    set: (m) => (mode = m),
    /** Holds each answer back for `ms` milliseconds. */
    delay: (ms) => (delayMs = ms),
    hits: () => hits,
    close: () => close(server, sockets),
  };
}

/** An agent's origin serving its key directory (a JWK Set). */
export async function startAgent(jwks) {
  const sockets = new Set();
  const server = createServer((req, res) => {
    if (req.url === "/.well-known/http-message-signatures-directory") {
      res.writeHead(200, { "content-type": "application/http-message-signatures-directory+json" })
        .end(JSON.stringify(jwks));
    } else res.writeHead(404).end();
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  const port = await listen(server);
  return { origin: `http://127.0.0.1:${port}`, close: () => close(server, sockets) };
}

/** The example Worker (examples/worker) in workerd on a free port, with `env`, its records in `stateDir`. */
export async function startExampleWorker(env, stateDir) {
  return serveInWorkerd(join(WASM_DIR, "examples", "worker"), env, stateDir);
}

/**
 * The Hono app of hono-worker.mjs in workerd (bundled with esbuild, Hono and
 * the package's modules in), with `env`, its records in `stateDir`.
 */
export function startHonoWorker(env, stateDir) {
  return startBundledWorker(join(WASM_DIR, "tests", "paywall", "hono-worker.mjs"), env, stateDir, "/premium");
}

/**
 * The Worker of `entry` in workerd, bundled with esbuild (its dependencies
 * and the package's modules in; the wasm flavour a module of its own), with
 * `env`, its records (the PaymentRecords Durable Object, bound as PAYMENTS)
 * in `stateDir`; ready once `readyPath` answers.
 */
export async function startBundledWorker(entry, env, stateDir, readyPath) {
  const { build } = await import("esbuild");
  const dir = mkdtempSync(join(tmpdir(), "paywire-worker-"));
  await build({
    entryPoints: [entry],
    bundle: true,
    format: "esm",
    platform: "neutral",
    mainFields: ["module", "main"],
    conditions: ["workerd", "worker", "browser"],
    outfile: join(dir, "worker.mjs"),
    // The wasm flavour itself stays a module of its own (the config embeds
    // it); its subpath modules (paywire/hono, ...) are bundled.
    plugins: [{
      name: "paywire-external",
      setup(b) {
        b.onResolve({ filter: /^(paywire|cloudflare:workers)$/ }, (a) => ({ path: a.path, external: true }));
      },
    }],
    logLevel: "warning",
  });
  const full = join(WASM_DIR, "node_modules", "paywire", "full");
  for (const f of ["workerd.mjs", "paywire_wasm.js", "paywire_wasm_bg.wasm"]) copyFileSync(join(full, f), join(dir, f));
  const names = ["PAY_TO", "PRICE", "NETWORK", "ASSET", "TOKEN_NAME", "TOKEN_VERSION", "FACILITATOR_URL",
    "FACILITATOR_API_KEY", "SETTLE_TIMEOUT_SECONDS", "ADMIN_TOKEN"];
  writeFileSync(
    join(dir, "config.capnp"),
    `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = .app),
    (name = "internet", network = (allow = ["public", "local"])),
    (name = "payments-disk", disk = (writable = true)),
  ],
  sockets = [(name = "http", http = (), service = "main")],
);
const app :Workerd.Worker = (
  modules = [
    (name = "worker.mjs", esModule = embed "worker.mjs"),
    (name = "paywire", esModule = embed "workerd.mjs"),
    (name = "paywire_wasm.js", esModule = embed "paywire_wasm.js"),
    (name = "paywire_wasm_bg.wasm", wasm = embed "paywire_wasm_bg.wasm"),
  ],
  compatibilityDate = "2025-09-01",
  compatibilityFlags = ["nodejs_compat"],
  durableObjectNamespaces = [(className = "PaymentRecords", uniqueKey = "paywire-test-records")],
  durableObjectStorage = (localDisk = "payments-disk"),
  bindings = [
    (name = "PAYMENTS", durableObjectNamespace = "PaymentRecords"),
${names.map((n) => `    (name = "${n}", fromEnvironment = "${n}"),`).join("\n")}
  ],
);
`,
  );
  return serveInWorkerd(dir, env, stateDir, readyPath);
}

/** workerd serving `dir`/config.capnp on a free port, with `env`, its records in `stateDir`. */
async function serveInWorkerd(dir, env, stateDir, readyPath = "/premium") {
  const port = await freePort();
  const childEnv = Object.fromEntries(
    Object.entries({ PATH: process.env.PATH, ...env }).filter(([, v]) => v !== undefined),
  );
  const proc = startProcess(
    join(BIN_DIR, "workerd"),
    [
      "serve", "config.capnp",
      "--socket-addr", `http=127.0.0.1:${port}`,
      "--directory-path", `payments-disk=${stateDir}`,
    ],
    { cwd: dir, env: childEnv, timeoutMs: 300_000, replaceEnv: true },
  );
  const origin = `http://127.0.0.1:${port}`;
  await waitForHttp(`${origin}${readyPath}`, proc);
  return { origin, url: `${origin}/premium`, proc };
}
