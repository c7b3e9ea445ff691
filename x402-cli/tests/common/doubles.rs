//! Test doubles on 127.0.0.1: a facilitator that can be told to misbehave, and
//! an upstream origin whose answers can be switched. Both stop their threads
//! when dropped; every connection they hold is bounded in time.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The longest a hung answer is held.
const HANG_LIMIT: Duration = Duration::from_secs(60);

/// How the facilitator answers `POST /settle`.
#[derive(Clone, Debug)]
pub enum Mode {
    /// An answer: status, content type, body (`None`: a SettleResponse with
    /// success, a transaction and the request's network and payer), after a delay.
    Reply {
        status: u16,
        content_type: String,
        body: Option<Vec<u8>>,
        delay: Duration,
        /// Announce the whole body, send half of it, close.
        cut_off: bool,
    },
    /// Read the request, never answer (until the double is dropped).
    Hang,
    /// Stop listening: connections are refused.
    Refuse,
}

impl Mode {
    /// Success, at once.
    pub fn settled() -> Mode {
        Mode::Reply {
            status: 200,
            content_type: "application/json".into(),
            body: None,
            delay: Duration::ZERO,
            cut_off: false,
        }
    }

    /// Success, after `delay`.
    pub fn settled_after(delay: Duration) -> Mode {
        match Mode::settled() {
            Mode::Reply {
                status,
                content_type,
                body,
                cut_off,
                ..
            } => Mode::Reply {
                status,
                content_type,
                body,
                delay,
                cut_off,
            },
            m => m,
        }
    }

    /// The `reply` of a vector of `x402-core/tests/vectors/paywall.json`.
    pub fn from_vector(reply: &serde_json::Value) -> Mode {
        if reply["hang"] == true {
            return Mode::Hang;
        }
        if reply["refuse"] == true {
            return Mode::Refuse;
        }
        let body = match &reply["body"] {
            serde_json::Value::String(s) => Some(s.as_bytes().to_vec()),
            v if v["settled"] == true => None,
            other => panic!("unknown body {other}"),
        };
        Mode::Reply {
            status: reply["status"].as_u64().unwrap() as u16,
            content_type: reply["contentType"]
                .as_str()
                .unwrap_or("application/json")
                .into(),
            body,
            delay: Duration::ZERO,
            cut_off: reply["cutOff"] == true,
        }
    }
}

struct Shared {
    mode: Mutex<Mode>,
    /// How `POST /verify` is answered (`None`: valid).
    verify_mode: Mutex<Option<Mode>>,
    calls: Mutex<Vec<serde_json::Value>>,
    /// The `POST /verify` bodies received so far.
    verifies: Mutex<Vec<serde_json::Value>>,
    /// The `Authorization` header of each call, if any.
    authorizations: Mutex<Vec<Option<String>>>,
    stop: AtomicBool,
}

/// The facilitator double.
pub struct Facilitator {
    pub port: u16,
    shared: Arc<Shared>,
    accept: Option<std::thread::JoinHandle<()>>,
}

impl Facilitator {
    pub fn start(mode: Mode) -> Facilitator {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared {
            mode: Mutex::new(mode),
            verify_mode: Mutex::new(None),
            calls: Mutex::new(Vec::new()),
            verifies: Mutex::new(Vec::new()),
            authorizations: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
        });
        let s = Arc::clone(&shared);
        let accept = std::thread::spawn(move || accept_loop(Some(listener), port, &s));
        Facilitator {
            port,
            shared,
            accept: Some(accept),
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn set(&self, mode: Mode) {
        *self.shared.mode.lock().unwrap() = mode;
        // Let the accept loop notice a change to or from `Refuse`.
        std::thread::sleep(Duration::from_millis(60));
    }

    /// How `POST /verify` is answered from now on (`None`: valid, the
    /// default; `Refuse` is not for it: it stops the whole double).
    pub fn set_verify(&self, mode: Option<Mode>) {
        *self.shared.verify_mode.lock().unwrap() = mode;
    }

    /// The `POST /verify` bodies received so far.
    pub fn verifies(&self) -> Vec<serde_json::Value> {
        self.shared.verifies.lock().unwrap().clone()
    }

    /// The `POST /settle` bodies received so far.
    pub fn calls(&self) -> Vec<serde_json::Value> {
        self.shared.calls.lock().unwrap().clone()
    }

    /// The `Authorization` header of each `POST /settle` so far.
    pub fn authorizations(&self) -> Vec<Option<String>> {
        self.shared.authorizations.lock().unwrap().clone()
    }

    /// Waits (bounded) until `n` calls arrived.
    pub fn wait_calls(&self, n: usize) {
        let start = Instant::now();
        while self.calls().len() < n {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "the facilitator got {} calls, expected {n}",
                self.calls().len()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Facilitator {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

fn accept_loop(mut listener: Option<TcpListener>, port: u16, shared: &Arc<Shared>) {
    while !shared.stop.load(Ordering::SeqCst) {
        let refuse = matches!(*shared.mode.lock().unwrap(), Mode::Refuse);
        match (&listener, refuse) {
            (Some(_), true) => listener = None,
            (None, false) => listener = TcpListener::bind(("127.0.0.1", port)).ok(),
            _ => {}
        }
        let Some(l) = &listener else {
            std::thread::sleep(Duration::from_millis(20));
            continue;
        };
        l.set_nonblocking(true).unwrap();
        match l.accept() {
            Ok((stream, _)) => {
                let s = Arc::clone(shared);
                std::thread::spawn(move || serve_one(stream, &s));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

/// Header lines: (name, value).
pub type Headers = Vec<(String, String)>;

/// Reads one HTTP request: (request line, headers, body).
pub fn read_request(stream: &TcpStream) -> Option<(String, Headers, Vec<u8>)> {
    stream.set_nonblocking(false).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut headers = Vec::new();
    let mut len = 0;
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        if h.trim().is_empty() {
            break;
        }
        let (n, v) = h.split_once(':')?;
        if n.eq_ignore_ascii_case("content-length") {
            len = v.trim().parse().ok()?;
        }
        headers.push((n.trim().to_string(), v.trim().to_string()));
    }
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    Some((line.trim().to_string(), headers, body))
}

fn serve_one(mut stream: TcpStream, shared: &Arc<Shared>) {
    let Some((line, headers, body)) = read_request(&stream) else {
        return;
    };
    let request: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    // What an official resource server asks before settling: the kinds (exact
    // on Base Sepolia) and a verification (valid). Not counted as calls.
    let answer = |stream: &mut TcpStream, doc: serde_json::Value| {
        let body = doc.to_string();
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        let _ = stream.write_all(head.as_bytes());
        let _ = stream.write_all(body.as_bytes());
    };
    if line.starts_with("GET /supported ") {
        answer(
            &mut stream,
            serde_json::json!({"kinds": [{"x402Version": 2, "scheme": "exact", "network": "eip155:84532"}],
                               "extensions": [], "signers": {}}),
        );
        return;
    }
    if line.starts_with("POST /verify ") {
        shared.verifies.lock().unwrap().push(request.clone());
        let mode = shared.verify_mode.lock().unwrap().clone();
        let payload = request["paymentPayload"]["payload"].clone();
        let valid = move || {
            let doc = if payload["type"].is_string() {
                // batch-settlement on EVM: valid, with the channel's state
                // before this payment (an empty channel).
                serde_json::json!({"isValid": true, "payer": payload["channelConfig"]["payer"],
                                   "extra": channel_state(&payload, "0")})
            } else {
                serde_json::json!({"isValid": true, "payer": payload["authorization"]["from"]})
            };
            doc.to_string().into_bytes()
        };
        reply(
            &mut stream,
            shared,
            mode.unwrap_or_else(Mode::settled),
            valid,
        );
        return;
    }
    if !line.starts_with("POST /settle ") {
        let _ = stream
            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        return;
    }
    shared.calls.lock().unwrap().push(request.clone());
    shared.authorizations.lock().unwrap().push(
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("authorization"))
            .map(|(_, v)| v.clone()),
    );
    let mode = shared.mode.lock().unwrap().clone();
    reply(&mut stream, shared, mode, || settled_body(&request));
}

/// Answers as `mode` says; `settled` makes the body of a success.
fn reply(
    stream: &mut TcpStream,
    shared: &Arc<Shared>,
    mode: Mode,
    settled: impl FnOnce() -> Vec<u8>,
) {
    match mode {
        Mode::Hang | Mode::Refuse => {
            let start = Instant::now();
            while !shared.stop.load(Ordering::SeqCst) && start.elapsed() < HANG_LIMIT {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        Mode::Reply {
            status,
            content_type,
            body,
            delay,
            cut_off,
        } => {
            std::thread::sleep(delay);
            let body = body.unwrap_or_else(settled);
            let head = format!(
                "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let sent = if cut_off { body.len() / 2 } else { body.len() };
            let _ = stream.write_all(&body[..sent]);
            let _ = stream.flush();
        }
    }
}

/// The `channelState` of an EVM batch-settlement payload's channel with
/// `balance` and nothing claimed.
fn channel_state(payload: &serde_json::Value, balance: &str) -> serde_json::Value {
    serde_json::json!({"channelId": payload["voucher"]["channelId"], "balance": balance,
                       "totalClaimed": "0", "withdrawRequestedAt": 0, "refundNonce": "0"})
}

/// A SettleResponse with success for a `POST /settle` body; its transaction is
/// a stand-in: the authorization nonce's hex digits, reversed (for an EVM
/// batch-settlement deposit: the channel id's, with the channel's state after
/// the deposit; for a claim `0xcc…`, for a sweep `0x55…`).
pub fn settled_body(request: &serde_json::Value) -> Vec<u8> {
    let payload = &request["paymentPayload"]["payload"];
    // A channel manager's claim or sweep: a stand-in transaction per kind.
    if payload["type"] == "claim" || payload["type"] == "settle" {
        let digit = if payload["type"] == "claim" { "c" } else { "5" };
        return serde_json::json!({
            "success": true,
            "transaction": format!("0x{}", digit.repeat(64)),
            "network": request["paymentRequirements"]["network"],
        })
        .to_string()
        .into_bytes();
    }
    if payload["type"] == "deposit" {
        let id = payload["voucher"]["channelId"].as_str().unwrap_or("0x");
        let tx = format!(
            "0x{}",
            id.trim_start_matches("0x")
                .chars()
                .rev()
                .collect::<String>()
        );
        return serde_json::json!({
            "success": true,
            "transaction": tx,
            "network": request["paymentRequirements"]["network"],
            "payer": payload["channelConfig"]["payer"],
            "extra": {"channelState": channel_state(payload, payload["deposit"]["amount"].as_str().unwrap_or("0"))},
        })
        .to_string()
        .into_bytes();
    }
    let auth = &payload["authorization"];
    let nonce = auth["nonce"].as_str().unwrap_or("0x");
    let tx: String = format!(
        "0x{}",
        nonce
            .trim_start_matches("0x")
            .chars()
            .rev()
            .collect::<String>()
    );
    serde_json::json!({
        "success": true,
        "transaction": tx,
        "network": request["paymentRequirements"]["network"],
        "payer": auth["from"],
    })
    .to_string()
    .into_bytes()
}

/// An upstream origin for `paywire serve --upstream`: its answer is switched by
/// `set` (`ok`, `fail`, `moved`).
pub struct Upstream {
    pub port: u16,
    mode: Arc<Mutex<&'static str>>,
    stop: Arc<AtomicBool>,
    hits: Arc<Mutex<usize>>,
}

impl Upstream {
    pub fn start() -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let mode = Arc::new(Mutex::new("ok"));
        let stop = Arc::new(AtomicBool::new(false));
        let hits = Arc::new(Mutex::new(0));
        let (m, s, h) = (Arc::clone(&mode), Arc::clone(&stop), Arc::clone(&hits));
        std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                let Ok((mut stream, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                };
                if read_request(&stream).is_none() {
                    continue;
                }
                *h.lock().unwrap() += 1;
                let resp = match *m.lock().unwrap() {
                    "fail" => "HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nConnection: close\r\n\r\noops\n".to_string(),
                    "moved" => "HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string(),
                    _ => "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nCache-Control: public, max-age=600\r\nContent-Length: 17\r\nConnection: close\r\n\r\nupstream content\n".to_string(),
                };
                let _ = stream.write_all(resp.as_bytes());
            }
        });
        Upstream {
            port,
            mode,
            stop,
            hits,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn set(&self, mode: &'static str) {
        *self.mode.lock().unwrap() = mode;
    }

    pub fn hits(&self) -> usize {
        *self.hits.lock().unwrap()
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// One HTTP/1.1 request; `None` when the connection closes without an answer.
pub fn request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
) -> Option<(u16, Headers, Vec<u8>)> {
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let mut s = TcpStream::connect(host).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (n, v) in headers {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).ok()?;
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).ok()?;
    let split = resp.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&resp[..split]).into_owned();
    let body = resp[split + 4..].to_vec();
    let mut lines = head.lines();
    let status: u16 = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Some((status, headers, body))
}
