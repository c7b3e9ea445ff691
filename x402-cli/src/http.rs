//! A small HTTP/1.1 server on `std::net`, bound to 127.0.0.1 only: one thread per
//! connection, one request per connection (`Connection: close`), bounded head and
//! body sizes and read timeouts.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::fail::Failure;

/// Largest request head (request line and headers): x402 headers are at most
/// 16 KiB of JSON, about 22 KB of base64.
const MAX_HEAD: usize = 64 * 1024;
/// Largest request body.
const MAX_BODY: usize = 64 * 1024;
/// How long a client may take to send its request.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// A request.
#[derive(Debug)]
pub(crate) struct Request {
    pub(crate) method: String,
    /// The request target as sent (`/weather?city=Paris`).
    pub(crate) target: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
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

fn status_text(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        402 => "Payment Required",
        404 => "Not Found",
        409 => "Conflict",
        405 => "Method Not Allowed",
        413 => "Payload Too Large",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Unknown",
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

/// Connections served at once; more are closed unanswered until one ends.
const MAX_CONNECTIONS: usize = 64;

/// Decrements the count of open connections when a connection's thread ends.
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Accepts connections until the process ends, each on its own thread.
pub(crate) fn serve(listener: TcpListener, handler: Handler) {
    let open = Arc::new(AtomicUsize::new(0));
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        if open.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
            open.fetch_sub(1, Ordering::SeqCst);
            continue;
        }
        let slot = Slot(Arc::clone(&open));
        let handler = Arc::clone(&handler);
        let _ = std::thread::Builder::new()
            .name("paywire-http".into())
            .spawn(move || {
                let _slot = slot;
                connection(stream, &handler);
            });
    }
}

fn connection(mut stream: TcpStream, handler: &Handler) {
    let _ = stream.set_read_timeout(Some(READ_TIMEOUT));
    let _ = stream.set_write_timeout(Some(READ_TIMEOUT));
    match read_request(&stream) {
        Ok(req) => {
            let mut resp = handler(&req);
            if req.method == "HEAD" {
                // Same headers as GET, including the length, and no body.
                let len = resp.body.len();
                resp.body.clear();
                resp.headers
                    .push(("Content-Length".into(), len.to_string()));
            }
            let written = write_response(&mut stream, &resp).and_then(|()| stream.flush());
            if let Some(after) = resp.after.take() {
                after(written.is_ok());
            }
        }
        Err((status, why)) => {
            let resp = Response::new(status, "text/plain; charset=utf-8", why);
            let _ = write_response(&mut stream, &resp);
            let _ = stream.flush();
            // Read what the client is still sending, so that closing does not
            // reset the connection before it reads the answer.
            let _ = stream.shutdown(std::net::Shutdown::Write);
            let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
            let _ = std::io::copy(&mut (&stream).take(1 << 20), &mut std::io::sink());
        }
    }
}

fn read_request(stream: &TcpStream) -> Result<Request, (u16, String)> {
    let mut reader = BufReader::new(stream.take((MAX_HEAD + MAX_BODY) as u64));
    let mut head_len = 0usize;
    let mut line = String::new();
    let mut read_line = |line: &mut String| -> Result<(), (u16, String)> {
        line.clear();
        let n = reader
            .by_ref()
            .take((MAX_HEAD - head_len.min(MAX_HEAD)) as u64)
            .read_line(line)
            .map_err(|e| (400, format!("cannot read the request: {e}\n")))?;
        head_len += n;
        if head_len >= MAX_HEAD {
            return Err((431, format!("request head over {MAX_HEAD} bytes\n")));
        }
        if n == 0 {
            return Err((400, "connection closed before the request ended\n".into()));
        }
        Ok(())
    };
    read_line(&mut line)?;
    let mut parts = line.trim_end().split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err((400, "malformed request line\n".into()));
    };
    if !version.starts_with("HTTP/1.") || method.is_empty() || !target.starts_with('/') {
        return Err((400, "malformed request line\n".into()));
    }
    let (method, target) = (method.to_string(), target.to_string());
    let mut headers = Vec::new();
    loop {
        read_line(&mut line)?;
        let l = line.trim_end_matches(['\r', '\n']);
        if l.is_empty() {
            break;
        }
        let Some((name, value)) = l.split_once(':') else {
            return Err((400, format!("malformed header line {l:?}\n")));
        };
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    let mut req = Request {
        method,
        target,
        headers,
        body: Vec::new(),
    };
    if req.header("Transfer-Encoding").is_some() {
        return Err((400, "chunked request bodies are not accepted\n".into()));
    }
    if let Some(len) = req.header("Content-Length") {
        let len: usize = len
            .parse()
            .map_err(|_| (400, "malformed Content-Length\n".to_string()))?;
        if len > MAX_BODY {
            return Err((413, format!("request body over {MAX_BODY} bytes\n")));
        }
        let mut body = vec![0u8; len];
        reader
            .read_exact(&mut body)
            .map_err(|e| (400, format!("cannot read the request body: {e}\n")))?;
        req.body = body;
    }
    Ok(req)
}

fn write_response(stream: &mut TcpStream, r: &Response) -> std::io::Result<()> {
    let mut head = format!("HTTP/1.1 {} {}\r\n", r.status, status_text(r.status));
    for (n, v) in &r.headers {
        // Values come from this program; refuse to emit a line break regardless.
        if !v.contains(['\r', '\n']) {
            head.push_str(&format!("{n}: {v}\r\n"));
        }
    }
    if !r.headers.iter().any(|(n, _)| n == "Content-Length") {
        head.push_str(&format!("Content-Length: {}\r\n", r.body.len()));
    }
    head.push_str("Connection: close\r\n\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(&r.body)
}
