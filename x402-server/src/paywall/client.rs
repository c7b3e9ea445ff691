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

/// What came of one settle request.
#[derive(Debug)]
pub(super) enum Settled {
    NotSent(String),
    NoAnswer(String),
    Answered { status: u16, body: Vec<u8> },
}

impl Settled {
    pub(super) fn as_reply(&self) -> (SettleReply<'_>, String) {
        match self {
            Settled::NotSent(why) => (SettleReply::NotSent, why.clone()),
            Settled::NoAnswer(why) => (SettleReply::NoAnswer, why.clone()),
            Settled::Answered { status, body } => (
                SettleReply::Answered {
                    status: *status,
                    body,
                },
                String::new(),
            ),
        }
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

    /// `POST /settle` with `body`, answered within `timeout` or not at all.
    pub(super) async fn settle(&self, body: &str, timeout: Duration) -> Settled {
        self.post(&self.settle_url, body, timeout).await
    }

    /// `POST /verify` with `body`, answered within `timeout` or not at all.
    pub(super) async fn verify(&self, body: &str, timeout: Duration) -> Settled {
        self.post(&self.verify_url, body, timeout).await
    }

    async fn post(&self, url: &reqwest::Url, body: &str, timeout: Duration) -> Settled {
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
            Err(e) if e.is_connect() || e.is_builder() => return Settled::NotSent(e.to_string()),
            Err(e) => return Settled::NoAnswer(e.to_string()),
        };
        let status = response.status().as_u16();
        let mut answer = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if answer.len() + chunk.len() > MAX_ANSWER {
                        return Settled::NoAnswer(format!(
                            "HTTP {status}, with an answer over {MAX_ANSWER} bytes"
                        ));
                    }
                    answer.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => {
                    return Settled::NoAnswer(format!("HTTP {status}, then the body failed: {e}"));
                }
            }
        }
        Settled::Answered {
            status,
            body: answer,
        }
    }
}
