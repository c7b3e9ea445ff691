//! An async JSON-RPC transport to a chain's nodes, with failover: the core's
//! machines write the requests and read the answers; this only carries them.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use paywire::json::ToJson;
use paywire::rpc::{self, Envelope, Request};

/// Why a call got no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RpcFailure {
    /// No endpoint took the request (every connection was refused or could
    /// not be made): it reached no node.
    Unreachable(String),
    /// An endpoint may have taken the request and gave no usable answer (a
    /// timeout, a reset, an HTTP error): it may have reached a node.
    NoAnswer(String),
}

impl RpcFailure {
    /// Whether the request certainly reached no node.
    #[must_use]
    pub fn unsent(&self) -> bool {
        matches!(self, RpcFailure::Unreachable(_))
    }
}

impl std::fmt::Display for RpcFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RpcFailure::Unreachable(why) => write!(f, "no RPC endpoint reachable: {why}"),
            RpcFailure::NoAnswer(why) => write!(f, "no answer from the RPC endpoints: {why}"),
        }
    }
}

impl std::error::Error for RpcFailure {}

/// A chain's endpoints, tried in order from the last one that answered.
#[derive(Debug)]
pub struct Rpc {
    urls: Vec<String>,
    http: reqwest::Client,
    preferred: AtomicUsize,
}

/// The largest answer read from a node.
const MAX_ANSWER: usize = 4 * 1024 * 1024;

impl Rpc {
    /// A transport over `urls`, each call bounded by `timeout`.
    ///
    /// # Errors
    /// When the HTTP client cannot be built (no TLS provider).
    pub fn new(urls: Vec<String>, timeout: Duration) -> Result<Rpc, String> {
        crate::tls::install_provider();
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        Ok(Rpc {
            urls,
            http,
            preferred: AtomicUsize::new(0),
        })
    }

    /// The endpoints.
    #[must_use]
    pub fn urls(&self) -> &[String] {
        &self.urls
    }

    /// Sends one JSON-RPC request body and returns the answer's body (a
    /// JSON-RPC error is an answer). Endpoints are tried in turn from the
    /// last one that answered; the same request may thus reach two nodes,
    /// which is harmless for every call the machines make (reads, and the
    /// broadcast of one signed transaction, which nodes recognise).
    ///
    /// # Errors
    /// [`RpcFailure`] when no endpoint answered.
    pub async fn call(&self, body: &str) -> Result<Bytes, RpcFailure> {
        self.call_traced(body).await.map(|(answer, _)| answer)
    }

    /// [`Rpc::call`], also saying whether an endpoint tried before the one
    /// that answered may have taken the request (it timed out, or reset
    /// after the request left): an answer refusing a broadcast then speaks
    /// for one node only.
    ///
    /// # Errors
    /// [`RpcFailure`] when no endpoint answered.
    pub async fn call_traced(&self, body: &str) -> Result<(Bytes, bool), RpcFailure> {
        let n = self.urls.len();
        let first = self.preferred.load(Ordering::Relaxed) % n.max(1);
        let mut reached = false;
        let mut last = String::from("no endpoint");
        for i in 0..n {
            let at = (first + i) % n;
            let Some(url) = self.urls.get(at) else {
                continue;
            };
            match self.post(url, body).await {
                Ok(answer) => {
                    self.preferred.store(at, Ordering::Relaxed);
                    return Ok((answer, reached));
                }
                Err((sent, why)) => {
                    reached |= sent;
                    last = format!("{}: {why}", redact(url));
                }
            }
        }
        Err(if reached {
            RpcFailure::NoAnswer(last)
        } else {
            RpcFailure::Unreachable(last)
        })
    }

    /// One POST: the answer's body, or whether the request may have been
    /// taken and why it failed.
    async fn post(&self, url: &str, body: &str) -> Result<Bytes, (bool, String)> {
        let mut resp = self
            .http
            .post(url)
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .map_err(|e| (!e.is_connect(), e.to_string()))?;
        let status = resp.status();
        if let Some(len) = resp.content_length()
            && len > MAX_ANSWER as u64
        {
            return Err((true, format!("an answer of {len} bytes")));
        }
        if !status.is_success() {
            return Err((true, format!("HTTP {status}")));
        }
        // Read in chunks: an answer without a length stops at the bound too.
        let mut bytes = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| (true, e.to_string()))? {
            if bytes.len() + chunk.len() > MAX_ANSWER {
                return Err((true, format!("an answer of more than {MAX_ANSWER} bytes")));
            }
            bytes.extend_from_slice(&chunk);
        }
        if bytes.len() > MAX_ANSWER {
            return Err((true, format!("an answer of {} bytes", bytes.len())));
        }
        Ok(bytes.into())
    }

    /// Sends `body` to every endpoint: `(url, answer or why not)`.
    pub async fn each(&self, body: &str) -> Vec<(String, Result<Bytes, String>)> {
        let mut out = Vec::new();
        for url in &self.urls {
            let got = self.post(url, body).await.map_err(|(_, why)| why);
            out.push((redact(url), got));
        }
        out
    }

    /// Asks every endpoint for its chain id: `(url, chain id or why not)`.
    pub async fn chain_ids(&self) -> Vec<(String, Result<u64, String>)> {
        let mut out = Vec::new();
        let body = Envelope {
            id: 1,
            request: Request::ChainId,
        }
        .to_json_string();
        for url in &self.urls {
            let got = match self.post(url, &body).await {
                Ok(answer) => read_u64(&answer),
                Err((_, why)) => Err(why),
            };
            out.push((redact(url), got));
        }
        out
    }

    /// `eth_getBalance(address, latest)`, in wei.
    ///
    /// # Errors
    /// When no endpoint answers or the answer is not a balance.
    pub async fn balance(&self, address: &paywire::evm::Address) -> Result<u128, String> {
        let body = Envelope {
            id: 1,
            request: Request::GetBalance {
                address: *address,
                block: rpc::BlockTag::Latest,
            },
        }
        .to_json_string();
        let answer = self.call(&body).await.map_err(|e| e.to_string())?;
        let resp = rpc::parse_response(&answer).map_err(|e| e.to_string())?;
        let v = resp.result.map_err(|e| e.to_string())?;
        rpc::quantity_u128(v).map_err(|e| e.to_string())
    }

    /// `eth_getTransactionCount(address, tag)`.
    ///
    /// # Errors
    /// When no endpoint answers or the answer is not a count.
    pub async fn transaction_count(
        &self,
        address: &paywire::evm::Address,
        block: rpc::BlockTag,
    ) -> Result<u64, String> {
        let body = Envelope {
            id: 1,
            request: Request::GetTransactionCount {
                address: *address,
                block,
            },
        }
        .to_json_string();
        let answer = self.call(&body).await.map_err(|e| e.to_string())?;
        read_u64(&answer)
    }
}

fn read_u64(answer: &[u8]) -> Result<u64, String> {
    let resp = rpc::parse_response(answer).map_err(|e| e.to_string())?;
    let v = resp.result.map_err(|e| e.to_string())?;
    rpc::quantity_u64(v).map_err(|e| e.to_string())
}

/// A URL as logs may show it: without a path or query, which often hold a
/// provider's API key.
#[must_use]
pub fn redact(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit('@').next().unwrap_or(authority);
    let hidden = !matches!(&rest[authority.len()..], "" | "/");
    format!("{scheme}://{host}{}", if hidden { "/…" } else { "" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_in_logs_hide_paths_and_credentials() {
        assert_eq!(
            redact("https://mainnet.example/v3/SECRETKEY"),
            "https://mainnet.example/…"
        );
        assert_eq!(
            redact("https://user:pw@node.example"),
            "https://node.example"
        );
        assert_eq!(redact("http://127.0.0.1:8545"), "http://127.0.0.1:8545");
    }
}
