//! The HTTP server of `paywire serve` and `paywire demo`, bound to 127.0.0.1
//! only: an axum app on hyper, bounded by paywire-server's [`Limits`].

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::time::Duration;

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

/// Serves `app` on `listener` until the process ends: hyper's HTTP/1.1
/// (keep-alive, strict parsing) behind paywire-server's bounds — a
/// connection limit answered with 503 and `Retry-After`, a deadline for each
/// request's head from the moment its connection is accepted, a deadline for
/// the whole request (`request_timeout`: it must cover a settlement), and
/// size limits on the head (431) and the body (413).
pub(crate) fn serve(listener: TcpListener, app: axum::Router, request_timeout: Duration) {
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
