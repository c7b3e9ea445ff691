# workerd configuration of the example Worker settling through a node's
# JSON-RPC (RPC_URL, FACILITATOR_PRIVATE_KEY), with the package's `full` flavour
# as built by x402-wasm/build.sh (in x402-wasm/pkg/full). Run it with
#
#   PAY_TO=0x... RPC_URL=http://127.0.0.1:8545 FACILITATOR_PRIVATE_KEY=0x... \
#     workerd serve config-rpc.capnp --socket-addr http=127.0.0.1:8787
#
# The settings come from the environment (unset ones are null in `env`). The
# payments' records (the PaymentRecords Durable Object) are kept in memory here,
# for as long as workerd runs; config.capnp keeps them on disk.
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "main", worker = .paidWorker),
    # fetch() from the Worker: the public internet, and this machine's loopback
    # (where a local facilitator may listen).
    (name = "internet", network = (allow = ["public", "local"])),
  ],
  sockets = [
    # The address is given on the command line: --socket-addr http=HOST:PORT
    (name = "http", http = (), service = "main"),
  ],
);

const paidWorker :Workerd.Worker = (
  modules = [
    (name = "worker.mjs", esModule = embed "worker.mjs"),
    # The package: its workerd entry point, the glue, and the module itself.
    (name = "paywire", esModule = embed "../../pkg/full/workerd.mjs"),
    (name = "paywire_wasm.js", esModule = embed "../../pkg/full/paywire_wasm.js"),
    (name = "paywire_wasm_bg.wasm", wasm = embed "../../pkg/full/paywire_wasm_bg.wasm"),
    # The paywall and its Durable Object record store (flavour-independent).
    (name = "paywire/paywall", esModule = embed "../../pkg/paywall.mjs"),
    (name = "paywire/durable-object", esModule = embed "../../pkg/durable-object.mjs"),
  ],
  compatibilityDate = "2025-09-01",
  durableObjectNamespaces = [
    (className = "PaymentRecords", uniqueKey = "x402-example-payment-records"),
  ],
  durableObjectStorage = (inMemory = void),
  bindings = [
    (name = "PAYMENTS", durableObjectNamespace = "PaymentRecords"),
    (name = "PAY_TO", fromEnvironment = "PAY_TO"),
    (name = "NETWORK", fromEnvironment = "NETWORK"),
    (name = "ASSET", fromEnvironment = "ASSET"),
    (name = "PRICE", fromEnvironment = "PRICE"),
    (name = "TOKEN_NAME", fromEnvironment = "TOKEN_NAME"),
    (name = "TOKEN_VERSION", fromEnvironment = "TOKEN_VERSION"),
    (name = "FACILITATOR_URL", fromEnvironment = "FACILITATOR_URL"),
    (name = "FACILITATOR_API_KEY", fromEnvironment = "FACILITATOR_API_KEY"),
    (name = "RPC_URL", fromEnvironment = "RPC_URL"),
    (name = "FACILITATOR_PRIVATE_KEY", fromEnvironment = "FACILITATOR_PRIVATE_KEY"),
    (name = "SETTLE_TIMEOUT_SECONDS", fromEnvironment = "SETTLE_TIMEOUT_SECONDS"),
    (name = "CLAIM_SECONDS", fromEnvironment = "CLAIM_SECONDS"),
    (name = "ADMIN_TOKEN", fromEnvironment = "ADMIN_TOKEN"),
  ],
);
