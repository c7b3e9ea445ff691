//! Outgoing HTTP (`fetch`, and settling through a facilitator), on `ureq`.
//! `https://` needs the `tls` feature; plain `http://` always works.

use std::time::Duration;

use crate::fail::Failure;

/// Largest response body read.
const MAX_BODY: u64 = 4 << 20;
/// Every request completes within this time, or fails.
const TIMEOUT: Duration = Duration::from_secs(20);

/// A response.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl Reply {
    /// The first header of this name (case-insensitive).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn check_url(url: &str) -> Result<(), Failure> {
    if url.starts_with("http://") {
        return Ok(());
    }
    if url.starts_with("https://") {
        if cfg!(feature = "tls") {
            return Ok(());
        }
        return Err(Failure::usage(format!(
            "{url}: this paywire was built without HTTPS support"
        ))
        .hint("build it with `--features tls` (cargo run -p paywire-cli --features tls -- ...)"));
    }
    Err(Failure::usage(format!(
        "{url:?} is not an http:// or https:// URL"
    )))
}

fn is_loopback(url: &str) -> bool {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .unwrap_or(url);
    ["127.0.0.1", "localhost", "[::1]"]
        .iter()
        .any(|h| rest.starts_with(h))
}

fn agent(url: &str) -> ureq::Agent {
    let builder = ureq::Agent::config_builder()
        .timeout_global(Some(TIMEOUT))
        .http_status_as_error(false)
        .max_redirects(0)
        .user_agent(concat!("paywire/", env!("CARGO_PKG_VERSION")));
    // A proxy from the environment never gets requests for this machine.
    let builder = if is_loopback(url) {
        builder.proxy(None)
    } else {
        builder
    };
    builder.build().into()
}

fn reply(
    url: &str,
    r: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
) -> Result<Reply, Failure> {
    let mut r = r.map_err(|e| Failure::io(format!("request to {url} failed"), e))?;
    let status = r.status().as_u16();
    let headers = r
        .headers()
        .iter()
        .filter_map(|(n, v)| Some((n.as_str().to_string(), v.to_str().ok()?.to_string())))
        .collect();
    let body = r
        .body_mut()
        .with_config()
        .limit(MAX_BODY)
        .read_to_vec()
        .map_err(|e| Failure::io(format!("reading the response of {url}"), e))?;
    Ok(Reply {
        status,
        headers,
        body,
    })
}

/// `GET url` with extra headers.
pub(crate) fn get(url: &str, headers: &[(&str, &str)]) -> Result<Reply, Failure> {
    check_url(url)?;
    let mut req = agent(url).get(url);
    for (n, v) in headers {
        req = req.header(*n, *v);
    }
    reply(url, req.call())
}
