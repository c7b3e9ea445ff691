//! The HTTP server of `paywire serve` and `paywire demo`, bound to 127.0.0.1
//! only: hyper, bounded by paywire-server's [`Limits`], in front of a
//! synchronous handler of plain [`Request`]s and [`Response`]s.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderName, HeaderValue, StatusCode};
use bytes::Bytes;
use paywire_server::http::Limits;

use crate::fail::Failure;

/// Largest request head (request line and headers): x402 headers are at most
/// 16 KiB of JSON, about 22 KB of base64.
const MAX_HEAD: usize = 64 * 1024;
/// Largest request body.
const MAX_BODY: usize = 64 * 1024;
/// How long a client may take to send a request's head, from the moment its
/// connection is accepted (or its previous request answered).
const HEAD_TIMEOUT: Duration = Duration::from_secs(5);

/// The deadline of a request whose handler waits for nothing slow.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A request.
#[derive(Debug)]
pub(crate) struct Request {
    pub(crate) method: String,
    /// The request target as sent (`/weather?city=Paris`).
    pub(crate) target: String,
    pub(crate) headers: Vec<(String, String)>,
}

impl Request {
    /// The first header of this name (case-insensitive).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The path, without the query.
    pub(crate) fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }
}

/// What to do once a response was written (`true`) or could not be (`false`).
pub(crate) type After = Box<dyn FnOnce(bool) + Send>;

/// A response.
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
    after: Option<After>,
}

impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body", &self.body.len())
            .finish()
    }
}

impl Response {
    pub(crate) fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Response {
        Response {
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            body: body.into(),
            after: None,
        }
    }

    pub(crate) fn with_header(mut self, name: &str, value: impl Into<String>) -> Response {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The first header of this name (case-insensitive).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Sets a header, replacing every header of that name (case-insensitive).
    pub(crate) fn set_header(mut self, name: &str, value: impl Into<String>) -> Response {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.with_header(name, value)
    }

    /// Runs `f` once the response was written to the connection, or failed to be.
    pub(crate) fn after(mut self, f: After) -> Response {
        self.after = Some(f);
        self
    }
}

/// Binds 127.0.0.1:`port` (0 picks a free port), with an error that says what to do
/// when the port is taken.
pub(crate) fn bind(port: u16) -> Result<TcpListener, Failure> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    TcpListener::bind(addr).map_err(|e| {
        let f = Failure::io(format!("cannot listen on 127.0.0.1:{port}"), &e);
        if e.kind() == std::io::ErrorKind::AddrInUse {
            Failure {
                message: format!(
                    "cannot listen on 127.0.0.1:{port}: the port is already in use by another program"
                ),
                ..f
            }
            .hint("choose another --port, or --port 0 for any free port")
        } else {
            f
        }
    })
}

/// The request handler.
pub(crate) type Handler = Arc<dyn Fn(&Request) -> Response + Send + Sync>;

/// Serves `handler` on `listener` until the process ends: hyper's HTTP/1.1
/// (keep-alive, strict parsing) behind paywire-server's bounds — a
/// connection limit answered with 503 and `Retry-After`, a deadline for each
/// request's head from the moment its connection is accepted, a deadline for
/// the whole request (`request_timeout`: it must cover a settlement), and
/// size limits on the head (431) and the body (413). The handler runs on a
/// blocking thread: it may wait for a facilitator or an upstream.
pub(crate) fn serve(listener: TcpListener, handler: Handler, request_timeout: Duration) {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("paywire: cannot start the HTTP server: {e}");
            return;
        }
    };
    runtime.block_on(async move {
        let listener = match listener
            .set_nonblocking(true)
            .and_then(|()| tokio::net::TcpListener::from_std(listener))
        {
            Ok(l) => l,
            Err(e) => {
                eprintln!("paywire: cannot serve on the listener: {e}");
                return;
            }
        };
        let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
            let handler = Arc::clone(&handler);
            async move { handle(handler, req).await }
        });
        let limits = Limits {
            max_connections: MAX_CONNECTIONS,
            header_timeout: HEAD_TIMEOUT,
            request_timeout,
            max_body: MAX_BODY,
            max_head: MAX_HEAD,
            shutdown_grace: Duration::from_secs(1),
        };
        paywire_server::http::serve(listener, app, limits, std::future::pending()).await;
    });
}

/// Connections served at once; one more is answered 503 with `Retry-After`.
const MAX_CONNECTIONS: usize = 1024;

/// One request: read whole (bounded by the server's limits), handed to the
/// handler on a blocking thread, its answer sent.
async fn handle(handler: Handler, req: axum::extract::Request) -> axum::response::Response {
    let (parts, body) = req.into_parts();
    // Nothing served here reads a body: it is read (within the limits) and
    // dropped, so that the connection can be kept alive.
    if let Err(e) = axum::body::to_bytes(body, MAX_BODY).await {
        return plain(413, format!("cannot read the request body: {e}\n"));
    }
    let mut headers = Vec::with_capacity(parts.headers.len());
    for (name, value) in &parts.headers {
        let Ok(value) = value.to_str() else {
            return plain(400, format!("header {name}: not visible ASCII\n"));
        };
        headers.push((name.as_str().to_string(), value.to_string()));
    }
    let request = Request {
        method: parts.method.as_str().to_string(),
        target: parts
            .uri
            .path_and_query()
            .map_or_else(|| "/".to_string(), |p| p.as_str().to_string()),
        headers,
    };
    match tokio::task::spawn_blocking(move || handler(&request)).await {
        Ok(response) => into_hyper(response),
        Err(_) => plain(500, "the request's handler failed\n".to_string()),
    }
}

fn plain(status: u16, text: String) -> axum::response::Response {
    into_hyper(Response::new(status, "text/plain; charset=utf-8", text))
}

/// The handler's response for hyper. Headers hyper owns (the length, the
/// connection) are left to it; a value that is not a valid header value is
/// never sent.
fn into_hyper(mut r: Response) -> axum::response::Response {
    let mut out = axum::response::Response::new(axum::body::Body::new(Tracked {
        data: Some(Bytes::from(std::mem::take(&mut r.body))),
        after: r.after.take(),
    }));
    *out.status_mut() = StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in &r.headers {
        if name.eq_ignore_ascii_case("content-length") || name.eq_ignore_ascii_case("connection") {
            continue;
        }
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            out.headers_mut().append(n, v);
        }
    }
    out
}

/// A response body that reports, once hyper is done with it, whether its
/// bytes were handed to the connection (the response's [`After`]).
struct Tracked {
    data: Option<Bytes>,
    after: Option<After>,
}

impl http_body::Body for Tracked {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        std::task::Poll::Ready(self.data.take().map(|d| Ok(http_body::Frame::data(d))))
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_none()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.data.as_ref().map_or(0, |d| d.len() as u64))
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        if let Some(after) = self.after.take() {
            after(self.data.is_none());
        }
    }
}
