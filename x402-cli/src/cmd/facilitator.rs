//! `paywire facilitator`: an x402 facilitator service for EVM chains and Solana.

use std::path::Path;

use paywire::json::ToJson;
use paywire_server::config::Config;
use paywire_server::facilitator::{self, Facilitator, LogFormat};

use crate::args::{self, flag, value};
use crate::fail::Failure;

const HELP: &str = "\
usage: paywire facilitator --config FILE [--log-format text|json]
       paywire facilitator reconcile --config FILE
       paywire facilitator check --config FILE

Runs an x402 facilitator for EVM chains and Solana: POST /verify and POST
/settle (v1 and v2 bodies, the answers the official SDKs' clients read), GET
/supported, GET /health and GET /metrics (Prometheus), on the address of
`server.listen` (127.0.0.1:4022 by default). It prints `listening on URL` once
it accepts.

Settlements are idempotent (one transaction per payment however often it is
presented), their records are written before a transaction leaves, nonces are
handed out by the store, and `success: true` comes only with a mined receipt;
sent but unconfirmed in time, the answer is settlement_pending with the
transaction's hash (asking again with the same body waits again). A stop
(SIGTERM, Ctrl-C) finishes the requests in flight; settlements left undecided
are taken up again at the next start.

  --config FILE       the configuration (TOML; every key with its default:
                      x402-server/facilitator.example.toml)
  --log-format F      text (default) or json: one line per verify and settle on
                      standard error (RUST_LOG filters)

reconcile   takes up once every settlement sent and undecided, against the chain,
            and prints what became of each (one JSON object per line)
check       reads the configuration, opens the store and asks every RPC endpoint
            for its chain id (a Solana one for its genesis hash), then exits

Exit status: 0 stopped cleanly or checked, 2 a configuration or start-up error.
";

const SPEC: &[args::Opt] = &[value("config"), value("log-format"), flag("json")];

pub(crate) fn run(argv: &[String]) -> Result<u8, Failure> {
    let p = args::parse(argv, SPEC, "facilitator")?;
    if let Some(code) = super::help(&p, HELP) {
        return Ok(code);
    }
    let action = p.positionals.first().map(String::as_str).unwrap_or("run");
    if p.positionals.len() > 1 {
        return Err(Failure::usage("one action at most: reconcile or check"));
    }
    let path = p.require("config", "facilitator")?;
    let config = Config::load(Path::new(path)).map_err(|e| Failure::usage(e.to_string()))?;
    let format = match p.get("log-format").unwrap_or("text") {
        "text" => LogFormat::Text,
        "json" => LogFormat::Json,
        other => {
            return Err(Failure::usage(format!(
                "--log-format {other:?}: text or json"
            )));
        }
    };
    facilitator::init_logs(format);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::io("the async runtime", e))?;
    runtime.block_on(async {
        match action {
            "run" => facilitator::run(&config)
                .await
                .map(|()| 0)
                .map_err(Failure::usage),
            "check" => {
                Facilitator::new(&config).await.map_err(Failure::usage)?;
                crate::say(&format!("{path}: ok\n"));
                Ok(0)
            }
            "reconcile" => {
                let f = Facilitator::new(&config).await.map_err(Failure::usage)?;
                let done = f.reconcile().await.map_err(Failure::usage)?;
                for s in done {
                    crate::say(&format!("{}\n", s.to_json_string()));
                }
                Ok(0)
            }
            other => Err(Failure::usage(format!(
                "unknown action {other:?}: reconcile or check"
            ))),
        }
    })
}
