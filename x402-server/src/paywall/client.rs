//! The facilitator client: `POST {url}/settle`, with the API key the
//! facilitator gave this resource server, and what came of it told apart as
//! the lifecycle needs — never sent, sent without a complete answer, answered.

use std::time::Duration;

use paywire::lifecycle::SettleReply;
use zeroize::Zeroizing;

use super::Error;

/// Largest settle answer read.
const MAX_ANSWER: usize = 64 * 1024;

/// An x402 facilitator over HTTP: this project's `paywire facilitator`, or
/// any other that speaks the protocol's `POST /settle`.
#[derive(Clone)]
pub struct Facilitator {
    settle_url: reqwest::Url,
    verify_url: reqwest::Url,
    api_key: Option<std::sync::Arc<Zeroizing<String>>>,
    http: reqwest::Client,
}

impl std::fmt::Debug for Facilitator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Facilitator")
            .field("settle_url", &self.settle_url.as_str())
            .field("api_key", &self.api_key.as_ref().map(|_| "(set)"))
            .finish()
    }
}

/// What came of one request to a facilitator (`POST /settle` or `/verify`),
/// told apart as the lifecycle needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// It never left: nothing can have reached the facilitator. Why.
    NotSent(String),
    /// It left (or may have), and no complete answer came. Why.
    NoAnswer(String),
    /// A complete HTTP answer.
    Answered {
        /// Its status.
        status: u16,
        /// Its body.
        body: Vec<u8>,
    },
}

/// Where payments settle: an x402 facilitator over HTTP ([`Facilitator`]),
/// or anything that answers as one (a host's own settlement).
#[async_trait::async_trait]
pub trait Settler: Send + Sync {
    /// Settles `body` (`{x402Version, paymentPayload, paymentRequirements}`),
    /// answered within `timeout` or not at all.
    async fn settle(&self, body: &str, timeout: Duration) -> Reply;
    /// Verifies `body`, for the setting `verify_at_facilitator`.
    async fn verify(&self, body: &str, timeout: Duration) -> Reply;
}

impl Reply {
    pub(super) fn as_reply(&self) -> (SettleReply<'_>, String) {
        match self {
            Reply::NotSent(why) => (SettleReply::NotSent, why.clone()),
            Reply::NoAnswer(why) => (SettleReply::NoAnswer, why.clone()),
            Reply::Answered { status, body } => (
                SettleReply::Answered {
                    status: *status,
                    body,
                },
                String::new(),
            ),
        }
    }
}

#[async_trait::async_trait]
impl Settler for Facilitator {
    /// `POST {url}/settle`.
    async fn settle(&self, body: &str, timeout: Duration) -> Reply {
        self.post(&self.settle_url, body, timeout).await
    }

    /// `POST {url}/verify`.
    async fn verify(&self, body: &str, timeout: Duration) -> Reply {
        self.post(&self.verify_url, body, timeout).await
    }
}

impl Facilitator {
    /// The facilitator at `base_url` (`https://facilitator.example`; its
    /// settle endpoint is `{base_url}/settle`).
    ///
    /// # Errors
    /// The URL is not an `http://` or `https://` URL.
    pub fn new(base_url: &str) -> Result<Facilitator, Error> {
        let base = reqwest::Url::parse(&format!("{}/", base_url.trim_end_matches('/')))
            .map_err(|e| Error(format!("the facilitator's URL {base_url:?}: {e}")))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(Error(format!(
                "the facilitator's URL {base_url:?}: an http:// or https:// URL"
            )));
        }
        let join = |path: &str| {
            base.join(path)
                .map_err(|e| Error(format!("the facilitator's URL {base_url:?}: {e}")))
        };
        let (settle_url, verify_url) = (join("settle")?, join("verify")?);
        crate::tls::install_provider();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error(format!("the facilitator's HTTP client: {e}")))?;
        Ok(Facilitator {
            settle_url,
            verify_url,
            api_key: None,
            http,
        })
    }

    /// The API key the facilitator gave this resource server, sent as
    /// `Authorization: Bearer KEY`.
    #[must_use]
    pub fn api_key(mut self, key: &str) -> Facilitator {
        self.api_key = Some(std::sync::Arc::new(Zeroizing::new(key.trim().to_owned())));
        self
    }

    async fn post(&self, url: &reqwest::Url, body: &str, timeout: Duration) -> Reply {
        let mut request = self
            .http
            .post(url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .timeout(timeout)
            .body(body.to_owned());
        if let Some(key) = &self.api_key {
            request = request.bearer_auth(key.as_str());
        }
        let mut response = match request.send().await {
            Ok(r) => r,
            // Refused or unresolvable while connecting: nothing was written.
            Err(e) if e.is_connect() || e.is_builder() => return Reply::NotSent(e.to_string()),
            Err(e) => return Reply::NoAnswer(e.to_string()),
        };
        let status = response.status().as_u16();
        // The facilitator's side channel to this server (the bazaar's
        // outcome, say): logged as the reference's client logs it, status
        // and reasons only.
        if let Some(summary) = response
            .headers()
            .get("extension-responses")
            .and_then(|v| v.to_str().ok())
            .and_then(paywire::lifecycle::extension_responses_summary)
        {
            tracing::info!(target: "paywire::paywall", extensions = %summary, "the facilitator's extension responses");
        }
        let mut answer = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if answer.len() + chunk.len() > MAX_ANSWER {
                        return Reply::NoAnswer(format!(
                            "HTTP {status}, with an answer over {MAX_ANSWER} bytes"
                        ));
                    }
                    answer.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => {
                    return Reply::NoAnswer(format!("HTTP {status}, then the body failed: {e}"));
                }
            }
        }
        Reply::Answered {
            status,
            body: answer,
        }
    }
}
