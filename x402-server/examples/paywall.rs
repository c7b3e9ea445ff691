//! An axum app with one paid route, behind `paywire_server::paywall`: the
//! smallest paywall a Rust backend adds. Configured from the environment:
//!
//! ```sh
//! PAY_TO=0x... NETWORK=eip155:84532 ASSET=0x036CbD53842c5426634e7929541eC2318f3dCF7e \
//! PRICE=10000 FACILITATOR_URL=http://127.0.0.1:4021 FACILITATOR_API_KEY=... \
//! PORT=8080 cargo run -p paywire-server --example paywall
//! ```
//!
//! `GET /weather` costs `PRICE` atomic units of the token (`TOKEN_NAME` and
//! `TOKEN_VERSION`, its EIP-712 domain, default `USD Coin` / `2`); `GET /` is
//! free. `OFFER`, when set, is the route's whole `PaymentRequired` document
//! instead (`upto`, `batch-settlement`, several requirements), and `PAY_TO`,
//! `NETWORK`, `ASSET` and `PRICE` are not read. Prints `listening on
//! http://127.0.0.1:PORT` once it serves.
//!
//! A `batch-settlement` requirement on an EVM network in `OFFER` gets its
//! channel manager: every `CLAIM_SECONDS` (300 by default) what the
//! channels were charged is claimed through the facilitator and swept to
//! `payTo` (`paywire facilitator` signs the claims when it is the
//! requirement's `receiverAuthorizer`).

use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use paywire_server::paywall::{
    ChannelManager, Facilitator, MemoryRecords, Offer, Paywall, RecordStore,
};

fn env(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("{name} is not set"))
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let mut facilitator = Facilitator::new(&env("FACILITATOR_URL")?).map_err(|e| e.to_string())?;
    if let Ok(key) = env("FACILITATOR_API_KEY") {
        facilitator = facilitator.api_key(&key);
    }
    let records: Arc<dyn RecordStore> = Arc::new(MemoryRecords::default());
    let offer = match env("OFFER") {
        Ok(document) => {
            let seconds: u64 = env("CLAIM_SECONDS")
                .unwrap_or_else(|_| "300".into())
                .parse()
                .map_err(|e| format!("CLAIM_SECONDS: {e}"))?;
            for manager in channel_managers(&document, &facilitator, &records)? {
                tokio::spawn(claim_and_sweep(manager, seconds.max(1)));
            }
            Offer::document(&document)
        }
        Err(_) => Offer::exact(
            &env("NETWORK")?,
            &env("ASSET")?,
            &env("PRICE")?,
            &env("PAY_TO")?,
        )
        .token(
            &env("TOKEN_NAME").unwrap_or_else(|_| "USD Coin".into()),
            &env("TOKEN_VERSION").unwrap_or_else(|_| "2".into()),
        )
        .describe("today's weather", "application/json"),
    };
    let port: u16 = env("PORT")
        .unwrap_or_else(|_| "8080".into())
        .parse()
        .map_err(|e| format!("PORT: {e}"))?;
    let paywall = Paywall::new(facilitator, records)
        .origin(&format!("http://127.0.0.1:{port}"))
        .route("GET /weather", offer)
        .map_err(|e| e.to_string())?;

    let app = Router::new()
        .route("/weather", get(|| async { r#"{"weather":"sunny"}"# }))
        .route("/", get(|| async { "free\n" }))
        .layer(paywall.layer());

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| format!("127.0.0.1:{port}: {e}"))?;
    println!(
        "listening on http://{}",
        listener.local_addr().map_err(|e| e.to_string())?
    );
    paywire_server::http::serve(
        listener,
        app,
        paywire_server::http::Limits::default(),
        paywire_server::http::stop_signal(),
    )
    .await;
    Ok(())
}

/// A channel manager for each `batch-settlement` requirement on an EVM
/// network of the `PaymentRequired` document.
fn channel_managers(
    document: &str,
    facilitator: &Facilitator,
    records: &Arc<dyn RecordStore>,
) -> Result<Vec<ChannelManager>, String> {
    let doc: serde_json::Value =
        serde_json::from_str(document).map_err(|e| format!("OFFER: {e}"))?;
    let accepts = doc
        .get("accepts")
        .and_then(serde_json::Value::as_array)
        .cloned()
        .unwrap_or_default();
    let text = |r: &serde_json::Value, k: &str| {
        r.get(k)
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    accepts
        .iter()
        .filter(|r| {
            text(r, "scheme") == "batch-settlement" && text(r, "network").starts_with("eip155:")
        })
        .map(|r| {
            ChannelManager::new(
                facilitator.clone(),
                Arc::clone(records),
                &text(r, "network"),
                &text(r, "asset"),
                &text(r, "payTo"),
            )
            .map_err(|e| format!("OFFER: {e}"))
        })
        .collect()
}

/// Claims what was charged, then sweeps it to the receiver, every `seconds`.
async fn claim_and_sweep(manager: ChannelManager, seconds: u64) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(seconds));
    every.tick().await;
    loop {
        every.tick().await;
        let claimed = manager.claim().await;
        for batch in &claimed.batches {
            println!(
                "claim of {} channels: {}",
                batch.channels.len(),
                batch.outcome
            );
        }
        for failure in &claimed.failures {
            println!("not claimed: {failure}");
        }
        if claimed.claimed_channels() > 0 {
            println!("sweep: {}", manager.sweep().await);
        }
    }
}
