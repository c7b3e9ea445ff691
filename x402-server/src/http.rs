//! Serving an axum router on hyper, bounded against slow and abusive clients:
//! a connection limit (beyond it, 503 with `Retry-After`), a deadline for a
//! request's head from the moment the connection is accepted (and from the end
//! of the previous request on a kept-alive one), a deadline for its body, a
//! deadline for the whole request, a body size limit, and a graceful stop.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::DefaultBodyLimit;
use axum::http::{Response, StatusCode, header};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceBuilder;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::{RequestBodyTimeoutLayer, TimeoutLayer};

/// The bounds a server keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Connections served at once; one more gets 503 with `Retry-After`.
    pub max_connections: usize,
    /// The time a client has to send a request's head.
    pub header_timeout: Duration,
    /// The time a request may take from its head to its answer (its body
    /// included); past it the client gets 408.
    pub request_timeout: Duration,
    /// The largest request body; a larger one gets 413.
    pub max_body: usize,
    /// The largest request head (request line and headers); a larger one
    /// gets 431.
    pub max_head: usize,
    /// How long a stop waits for requests in flight.
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 1024,
            header_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            max_body: 64 * 1024,
            max_head: 80 * 1024,
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then stops accepting,
/// lets requests in flight finish (at most [`Limits::shutdown_grace`]) and
/// returns.
pub async fn serve<F>(listener: TcpListener, app: Router, limits: Limits, shutdown: F)
where
    F: Future<Output = ()> + Send,
{
    let app = app.layer(
        ServiceBuilder::new()
            .layer(DefaultBodyLimit::max(limits.max_body))
            .layer(RequestBodyLimitLayer::new(limits.max_body))
            .layer(RequestBodyTimeoutLayer::new(limits.request_timeout))
            .layer(TimeoutLayer::with_status_code(
                StatusCode::REQUEST_TIMEOUT,
                limits.request_timeout,
            )),
    );
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    // Connections turned away are answered too, but only so many at once.
    let refusals = Arc::new(Semaphore::new(limits.max_connections.clamp(16, 256)));
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, _peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors, say: wait a moment, go on.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let io = TokioIo::new(stream);
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout)
            .keep_alive(true)
            .max_header_size(limits.max_head)
            .max_buf_size((limits.max_head + limits.max_body).max(8192));
        match permits.clone().try_acquire_owned() {
            Ok(permit) => {
                let service = TowerToHyperService::new(app.clone());
                let conn = builder.serve_connection(io, service);
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    let _ = conn.await;
                    drop(permit);
                });
            }
            Err(_) => {
                let Ok(refusal) = refusals.clone().try_acquire_owned() else {
                    // Far over the limit: not even a 503.
                    continue;
                };
                builder.keep_alive(false);
                let conn = builder.serve_connection(
                    io,
                    hyper::service::service_fn(|_req| async { Ok::<_, Infallible>(busy()) }),
                );
                let deadline = limits.header_timeout;
                tokio::spawn(async move {
                    let _ = tokio::time::timeout(deadline, conn).await;
                    drop(refusal);
                });
            }
        }
    }
    drop(listener);
    let _ = tokio::time::timeout(limits.shutdown_grace, graceful.shutdown()).await;
}

/// The answer to a connection over the limit.
fn busy() -> Response<Body> {
    let mut resp = Response::new(Body::from(
        "{\"error\":\"server_busy\",\"message\":\"too many connections; retry shortly\"}",
    ));
    *resp.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    let h = resp.headers_mut();
    h.insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
    h.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    h.insert(
        header::CONNECTION,
        header::HeaderValue::from_static("close"),
    );
    resp
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = async {
            match signal(SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            () = term => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
