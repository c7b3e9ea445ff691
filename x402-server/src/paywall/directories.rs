//! Where a `batch-settlement` agent's key directory (its JWK Set) comes
//! from: the agents this server knows, their directories fetched from
//! `{origin}/.well-known/http-message-signatures-directory` and kept a while.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use paywire::batch::directory::{Directory, WELL_KNOWN_PATH};

use super::Error;

/// Largest directory read.
const MAX_DIRECTORY: usize = 64 * 1024;

/// The key directories of `batch-settlement` agents.
#[async_trait::async_trait]
pub trait Directories: Send + Sync {
    /// The JWK Set (JSON text) of `agent`, as its `Signature-Agent` names it
    /// (`https://agent.example`), or `None` when it is not an agent this
    /// server knows (its payment is then refused).
    async fn directory(&self, agent: &str) -> Option<String>;
}

/// The agents this server knows, by origin; their directories fetched over
/// HTTP(S) and kept for `keep` (default ten minutes).
pub struct AgentDirectories {
    agents: Vec<String>,
    keep: Duration,
    http: reqwest::Client,
    cache: Mutex<HashMap<String, (Instant, String)>>,
}

impl std::fmt::Debug for AgentDirectories {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentDirectories")
            .field("agents", &self.agents)
            .finish_non_exhaustive()
    }
}

impl AgentDirectories {
    /// The agents at these origins (`https://agent.example`).
    ///
    /// # Errors
    /// An origin that is not an `http://` or `https://` URL.
    pub fn new<S: AsRef<str>>(agents: &[S]) -> Result<AgentDirectories, Error> {
        let mut known = Vec::with_capacity(agents.len());
        for a in agents {
            let a = a.as_ref().trim_end_matches('/');
            let url = reqwest::Url::parse(a).map_err(|e| Error(format!("agent {a:?}: {e}")))?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(Error(format!("agent {a:?}: an http:// or https:// origin")));
            }
            known.push(a.to_owned());
        }
        crate::tls::install_provider();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error(format!("the directories' HTTP client: {e}")))?;
        Ok(AgentDirectories {
            agents: known,
            keep: Duration::from_secs(600),
            http,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// How long a fetched directory is kept.
    #[must_use]
    pub fn keep(mut self, keep: Duration) -> AgentDirectories {
        self.keep = keep;
        self
    }

    async fn fetch(&self, agent: &str) -> Option<String> {
        let url = format!("{agent}{WELL_KNOWN_PATH}");
        let mut res = match self.http.get(&url).send().await {
            Ok(r) if r.status().is_success() => r,
            Ok(r) => {
                tracing::warn!(target: "paywire::paywall", %agent, status = r.status().as_u16(), "the agent's key directory");
                return None;
            }
            Err(e) => {
                tracing::warn!(target: "paywire::paywall", %agent, error = %e, "the agent's key directory");
                return None;
            }
        };
        let mut body = Vec::new();
        while let Ok(Some(chunk)) = res.chunk().await {
            if body.len() + chunk.len() > MAX_DIRECTORY {
                return None;
            }
            body.extend_from_slice(&chunk);
        }
        // Only a directory the core can read is kept.
        Directory::parse(&body).ok()?;
        String::from_utf8(body).ok()
    }
}

#[async_trait::async_trait]
impl Directories for AgentDirectories {
    async fn directory(&self, agent: &str) -> Option<String> {
        let agent = agent.trim_end_matches('/');
        if !self.agents.iter().any(|a| a == agent) {
            return None;
        }
        {
            let cache = self
                .cache
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some((at, jwks)) = cache.get(agent)
                && at.elapsed() < self.keep
            {
                return Some(jwks.clone());
            }
        }
        let jwks = self.fetch(agent).await?;
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(agent.to_owned(), (Instant::now(), jwks.clone()));
        Some(jwks)
    }
}
