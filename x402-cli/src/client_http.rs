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

/// What became of a request whose effect must not be guessed (a settlement).
#[derive(Debug)]
pub(crate) enum Posted {
    /// It never left: the name did not resolve, the connection was refused,
    /// the URL is unusable. The server did nothing.
    NotSent(String),
    /// It was sent (or may have been), and no complete answer came back.
    NoAnswer(String),
    /// A complete answer.
    Answered { status: u16, body: Vec<u8> },
}

/// How long connecting may take before a request counts as never sent.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Whether a failed request certainly never reached the server.
fn never_sent(e: &ureq::Error) -> bool {
    use std::io::ErrorKind as K;
    match e {
        ureq::Error::Timeout(t) => matches!(t, ureq::Timeout::Resolve | ureq::Timeout::Connect),
        ureq::Error::HostNotFound
        | ureq::Error::ConnectionFailed
        | ureq::Error::BadUri(_)
        | ureq::Error::Http(_)
        | ureq::Error::InvalidProxyUrl
        | ureq::Error::ConnectProxyFailed(_)
        | ureq::Error::RequireHttpsOnly(_) => true,
        // Refusals happen while connecting; nothing was written.
        ureq::Error::Io(io) => matches!(
            io.kind(),
            K::ConnectionRefused | K::AddrNotAvailable | K::NetworkUnreachable | K::HostUnreachable
        ),
        _ => false,
    }
}

/// `POST url` with a JSON body, once (never retried, no redirects), within
/// `timeout`; says whether it can have had an effect.
pub(crate) fn post_json_once(
    url: &str,
    body: &[u8],
    bearer: Option<&str>,
    timeout: Duration,
) -> Posted {
    if let Err(f) = check_url(url) {
        return Posted::NotSent(f.message);
    }
    let builder = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .timeout_connect(Some(timeout.min(CONNECT_TIMEOUT)))
        .http_status_as_error(false)
        .max_redirects(0)
        .user_agent(concat!("paywire/", env!("CARGO_PKG_VERSION")));
    let builder = if is_loopback(url) {
        builder.proxy(None)
    } else {
        builder
    };
    let agent: ureq::Agent = builder.build().into();
    let mut request = agent.post(url).header("Content-Type", "application/json");
    if let Some(key) = bearer {
        request = request.header("Authorization", format!("Bearer {key}"));
    }
    let sent = request.send(body);
    let mut r = match sent {
        Ok(r) => r,
        Err(e) if never_sent(&e) => return Posted::NotSent(e.to_string()),
        Err(e) => return Posted::NoAnswer(e.to_string()),
    };
    let status = r.status().as_u16();
    match r.body_mut().with_config().limit(MAX_BODY).read_to_vec() {
        Ok(body) => Posted::Answered { status, body },
        Err(e) => Posted::NoAnswer(format!("HTTP {status}, then the body failed: {e}")),
    }
}
