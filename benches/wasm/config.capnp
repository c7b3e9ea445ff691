# workerd configuration of the benchmark Worker (run.mjs starts it with
# --socket-addr http=127.0.0.1:PORT). out/official.bundle.mjs is esbuild's
# bundle of official.mjs; the package is x402-wasm/pkg as built by build.sh,
# each flavour under its own directory name (the entry points import
# "./paywire_wasm.js" and "./paywire_wasm_bg.wasm", beside themselves).
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [(name = "main", worker = .bench)],
  sockets = [(name = "http", http = (), service = "main")],
);

const bench :Workerd.Worker = (
  modules = [
    (name = "worker.mjs", esModule = embed "worker.mjs"),
    (name = "official.bundle.mjs", esModule = embed "out/official.bundle.mjs"),
    (name = "default/workerd.mjs", esModule = embed "../../x402-wasm/pkg/workerd.mjs"),
    (name = "default/paywire_wasm.js", esModule = embed "../../x402-wasm/pkg/paywire_wasm.js"),
    (name = "default/paywire_wasm_bg.wasm", wasm = embed "../../x402-wasm/pkg/paywire_wasm_bg.wasm"),
    (name = "fast/workerd.mjs", esModule = embed "../../x402-wasm/pkg/fast/workerd.mjs"),
    (name = "fast/paywire_wasm.js", esModule = embed "../../x402-wasm/pkg/fast/paywire_wasm.js"),
    (name = "fast/paywire_wasm_bg.wasm", wasm = embed "../../x402-wasm/pkg/fast/paywire_wasm_bg.wasm"),
    (name = "full/workerd.mjs", esModule = embed "../../x402-wasm/pkg/full/workerd.mjs"),
    (name = "full/paywire_wasm.js", esModule = embed "../../x402-wasm/pkg/full/paywire_wasm.js"),
    (name = "full/paywire_wasm_bg.wasm", wasm = embed "../../x402-wasm/pkg/full/paywire_wasm_bg.wasm"),
  ],
  compatibilityDate = "2025-09-01",
  # The official SDK's fake chain module imports node:fs, node:path, node:url.
  compatibilityFlags = ["nodejs_compat"],
);
