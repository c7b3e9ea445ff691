# workerd configuration of the example Worker, using the npm package's `full`
# flavour as built by x402-wasm/build.sh (in x402-wasm/pkg/full): the lifecycle
# it needs, and secp256k1 through libsecp256k1 (the `fast` flavour's backend).
# Run it with
#
#   mkdir -p state
#   PAY_TO=0x... FACILITATOR_URL=https://... \
#     workerd serve config.capnp --socket-addr http=127.0.0.1:8787 \
#       --directory-path payments-disk=$PWD/state
#
# The settings come from the environment (unset ones are null in `env`). The
# payments' records (the PaymentRecords Durable Object) are kept in the
# directory given for `payments-disk`, and survive a restart.
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "main", worker = .paidWorker),
    # fetch() from the Worker: the public internet, and this machine's loopback
    # (where a local facilitator, node or agent may listen).
    (name = "internet", network = (allow = ["public", "local"])),
    # Where the Durable Object keeps its storage: --directory-path payments-disk=DIR
    (name = "payments-disk", disk = (writable = true)),
  ],
  sockets = [
    # The address is given on the command line: --socket-addr http=HOST:PORT
    (name = "http", http = (), service = "main"),
  ],
);

const paidWorker :Workerd.Worker = (
  modules = [
    (name = "worker.mjs", esModule = embed "worker.mjs"),
    # The package's full flavour (PaymentLifecycle, batch-settlement,
    # ChainMachine; recovery through libsecp256k1): its workerd entry point,
    # the glue, and the module itself. A Worker that only verifies payments
    # (verifyPaymentHeader, no lifecycle) names ../../pkg/fast/ here instead:
    # the same speed in a module less than half the size.
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
  durableObjectStorage = (localDisk = "payments-disk"),
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
    (name = "PREMIUM_ORIGIN", fromEnvironment = "PREMIUM_ORIGIN"),
    (name = "AGENTS", fromEnvironment = "AGENTS"),
    (name = "DEFERRED_PRICE", fromEnvironment = "DEFERRED_PRICE"),
    (name = "CHANNEL_RECEIVER_AUTHORIZER", fromEnvironment = "CHANNEL_RECEIVER_AUTHORIZER"),
    (name = "CHANNEL_PRICE", fromEnvironment = "CHANNEL_PRICE"),
    (name = "CHANNEL_WITHDRAW_DELAY", fromEnvironment = "CHANNEL_WITHDRAW_DELAY"),
    (name = "ADMIN_TOKEN", fromEnvironment = "ADMIN_TOKEN"),
  ],
);
