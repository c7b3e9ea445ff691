// Helpers shared by the runtime tests: paths, vectors, free ports, and child
// processes that are bounded in time and always stopped by their own PID.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, extname, join, normalize, sep } from "node:path";
import { fileURLToPath } from "node:url";

export const TESTS_DIR = join(dirname(fileURLToPath(import.meta.url)), "..");
export const WASM_DIR = join(TESTS_DIR, "..");
export const PKG_DIR = join(WASM_DIR, "pkg");
export const VECTORS_DIR = join(WASM_DIR, "..", "x402-core", "tests", "vectors");
export const BIN_DIR = join(WASM_DIR, "node_modules", ".bin");

/** The `vectors` array of one of x402-core's vector files. */
export function vectors(file) {
  return JSON.parse(readFileSync(join(VECTORS_DIR, file), "utf8")).vectors;
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const running = new Set();

/** Stops every child still running: on normal exit and on the signals a test run gets. */
function stopAll() {
  for (const child of running) {
    try {
      process.kill(child.pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  running.clear();
}
process.on("exit", stopAll);
for (const [sig, number] of [["SIGINT", 2], ["SIGTERM", 15], ["SIGHUP", 1]]) {
  process.on(sig, () => {
    stopAll();
    process.exit(128 + number);
  });
}

/**
 * Starts a child process that is killed by its PID after `timeoutMs` at the
 * latest, and by `stop()`. Output is collected in `out` / `err`. `env` is added
 * to this process's environment, or replaces it with `replaceEnv`.
 */
export function startProcess(cmd, args, { env, cwd, timeoutMs = 60_000, replaceEnv = false } = {}) {
  const child = spawn(cmd, args, {
    cwd,
    env: replaceEnv ? env : { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  running.add(child);
  const proc = { child, out: "", err: "" };
  child.stdout.on("data", (d) => (proc.out += d));
  child.stderr.on("data", (d) => (proc.err += d));
  const timer = setTimeout(() => {
    proc.timedOut = true;
    proc.stop();
  }, timeoutMs);
  timer.unref();
  proc.exited = new Promise((resolve) =>
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      running.delete(child);
      resolve({ code, signal });
    }),
  );
  proc.stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(child.pid, "SIGTERM");
      } catch {
        // already gone
      }
      const killer = setTimeout(() => {
        try {
          process.kill(child.pid, "SIGKILL");
        } catch {
          // already gone
        }
      }, 3000);
      killer.unref();
      await proc.exited;
      clearTimeout(killer);
    }
  };
  return proc;
}

/** Polls `url` until it answers (any status), the process dies, or time runs out. */
export async function waitForHttp(url, proc, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.child.exitCode !== null || proc.child.signalCode !== null) {
      throw new Error(`process exited before serving ${url}:\n${proc.err}${proc.out}`);
    }
    try {
      await fetch(url, { signal: AbortSignal.timeout(1000) });
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`nothing answered at ${url} within ${timeoutMs} ms:\n${proc.err}${proc.out}`);
}

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".mjs": "text/javascript",
  ".js": "text/javascript",
  ".wasm": "application/wasm",
  ".json": "application/json",
};

/**
 * A static file server on 127.0.0.1 for `roots` ([URL prefix, directory]
 * pairs, first match wins; nothing else is served); `/` serves `index`.
 * Answers `{server, origin, requests}` (the paths asked for, in order).
 */
export async function serveStatic(roots, index = "/index.html") {
  const requests = [];
  const resolvePath = (urlPath) => {
    const path = urlPath === "/" ? index : urlPath;
    for (const [prefix, dir] of roots) {
      if (!path.startsWith(prefix)) continue;
      const file = normalize(join(dir, decodeURIComponent(path.slice(prefix.length))));
      return file.startsWith(dir + sep) ? file : null;
    }
    return null;
  };
  const server = createHttpServer((req, res) => {
    const path = new URL(req.url, "http://127.0.0.1").pathname;
    requests.push(path);
    const file = resolvePath(path);
    let body;
    try {
      body = file && readFileSync(file);
    } catch {
      body = null;
    }
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream" });
    res.end(body);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, origin: `http://127.0.0.1:${server.address().port}`, requests };
}

/** Loads `url` in headless Chromium (bounded, stopped by its PID) and answers the serialized DOM. */
export async function dumpDom(url) {
  const profile = mkdtempSync(join(tmpdir(), "paywire-chromium-"));
  const chromium = startProcess(
    process.env.CHROMIUM ?? "chromium",
    [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-dev-shm-usage",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      `--user-data-dir=${profile}`,
      "--virtual-time-budget=20000",
      "--dump-dom",
      url,
    ],
    { timeoutMs: 120_000 },
  );
  try {
    const { code } = await chromium.exited;
    assert.ok(!chromium.timedOut, "chromium did not finish in time");
    assert.equal(code, 0, chromium.err);
    return chromium.out;
  } finally {
    await chromium.stop();
    rmSync(profile, { recursive: true, force: true });
  }
}
