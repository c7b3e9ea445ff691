//! Helpers for running the `x402` binary as a process: bounded run times,
//! servers killed by PID when the guard drops, scratch directories, free ports.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

pub mod doubles;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// No command may run longer than this.
pub const TIMEOUT: Duration = Duration::from_secs(60);

pub const SPEC_PR: &str =
    include_str!("../../../x402-core/tests/vectors/spec/v2-http-payment-required-header-01.b64");
pub const SPEC_SIG: &str =
    include_str!("../../../x402-core/tests/vectors/spec/v2-http-payment-signature-header-01.b64");
pub const SPEC_RESPONSE: &str =
    include_str!("../../../x402-core/tests/vectors/spec/v2-http-payment-response-header-01.b64");
pub const SPEC_X_PAYMENT: &str =
    include_str!("../../../x402-core/tests/vectors/spec/v1-http-x-payment-header-01.b64");
pub const SPEC_V1_PR_JSON: &str =
    include_str!("../../../x402-core/tests/vectors/spec/v1-http-payment-required-01.json");

/// The output of a finished command.
#[derive(Debug)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    /// Asserts the exit status, showing both streams when it differs.
    #[track_caller]
    pub fn code(&self, want: i32) -> &Self {
        assert_eq!(
            self.code, want,
            "exit status {} (want {want})\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        );
        self
    }

    /// Asserts that stdout or stderr contains `s`.
    #[track_caller]
    pub fn says(&self, s: &str) -> &Self {
        assert!(
            self.stdout.contains(s) || self.stderr.contains(s),
            "output lacks {s:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    /// stdout parsed as one JSON value.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }

    /// No panic message, no backtrace.
    #[track_caller]
    pub fn no_panic(&self) -> &Self {
        for s in [&self.stdout, &self.stderr] {
            assert!(
                !s.contains("panicked") && !s.contains("RUST_BACKTRACE"),
                "a panic:\n{s}"
            );
        }
        self
    }
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_paywire")
}

/// Runs `paywire args...` in `dir` with `stdin`, within [`TIMEOUT`].
pub fn run_in(dir: &Path, args: &[&str], stdin: Option<&str>) -> Out {
    let mut child = Command::new(bin())
        .args(args)
        .current_dir(dir)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn x402");
    if let Some(input) = stdin {
        let mut s = child.stdin.take().unwrap();
        s.write_all(input.as_bytes()).unwrap();
    }
    let guard = Guard(Some(child));
    wait_bounded(guard)
}

/// Runs `paywire args...` in a scratch directory.
pub fn run(args: &[&str]) -> Out {
    run_in(&std::env::temp_dir(), args, None)
}

fn wait_bounded(mut guard: Guard) -> Out {
    let mut child = guard.0.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if start.elapsed() > TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("x402 ran longer than {TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Out {
        code: status.code().unwrap_or(-1),
        stdout: out_t.join().unwrap(),
        stderr: err_t.join().unwrap(),
    }
}

/// Kills the child (by its PID, through the handle) when dropped.
pub struct Guard(pub Option<Child>);

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(c) = self.0.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A running `paywire serve`: its URL, its standard error so far on demand, killed on drop.
pub struct Server {
    pub url: String,
    pub guard: Guard,
    pub stdout_lines: mpsc::Receiver<String>,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Server {
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// The origin (`http://127.0.0.1:PORT`).
    pub fn origin(&self) -> String {
        let rest = self.url.trim_start_matches("http://");
        format!("http://{}", rest.split('/').next().unwrap())
    }
}

/// Starts `paywire serve args...` and waits (bounded) for its first stdout line.
/// With `--json`, the first line is the `listening` event.
pub fn serve(dir: &Path, args: &[&str]) -> Server {
    serve_env(dir, args, &[])
}

/// [`serve`] with extra environment variables.
pub fn serve_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Server {
    let mut child = Command::new(bin())
        .arg("serve")
        .args(args)
        .envs(env.iter().copied())
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn paywire serve");
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let guard = Guard(Some(child));
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let err_buf = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let eb = err_buf.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            let mut b = eb.lock().unwrap();
            b.push_str(&line);
            b.push('\n');
        }
    });
    let first = rx
        .recv_timeout(Duration::from_secs(30))
        .unwrap_or_else(|_| {
            std::thread::sleep(Duration::from_millis(200));
            panic!(
                "paywire serve printed nothing within 30 s; stderr:\n{}",
                err_buf.lock().unwrap()
            )
        });
    let url = if let Some(u) = first.strip_prefix("listening on ") {
        u.to_string()
    } else {
        let v: serde_json::Value = serde_json::from_str(&first).unwrap();
        v["url"].as_str().unwrap().to_string()
    };
    Server {
        url,
        guard,
        stdout_lines: rx,
        stderr: err_buf,
    }
}

/// A scratch directory, removed on drop.
pub struct TempDir(pub PathBuf);

static COUNTER: AtomicUsize = AtomicUsize::new(0);

impl TempDir {
    pub fn new() -> TempDir {
        let p = std::env::temp_dir().join(format!(
            "x402-cli-test-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn file(&self, name: &str) -> String {
        self.0.join(name).to_str().unwrap().to_string()
    }

    pub fn write(&self, name: &str, text: &str) -> String {
        let p = self.file(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    /// Runs `paywire args...` in this directory.
    pub fn run(&self, args: &[&str]) -> Out {
        run_in(&self.0, args, None)
    }

    /// A new key file (through `paywire keygen`) and its address.
    pub fn key(&self, name: &str) -> (String, String) {
        let out = self.run(&["keygen", "--out", name, "--json"]);
        out.code(0);
        let v = out.json();
        (self.file(name), v["address"].as_str().unwrap().to_string())
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A port free at the time of asking.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A raw HTTP/1.1 GET (so tests see exactly what the server sends): status,
/// headers (lower-case names), body.
pub fn http_get(url: &str, headers: &[(&str, &str)]) -> (u16, Vec<(String, String)>, String) {
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let mut s = TcpStream::connect(host).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (n, v) in headers {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let (head, body) = resp.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let status: u16 = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    (status, headers, body.to_string())
}

pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Standard base64 of `bytes` (through the core's codec).
pub fn b64(bytes: &[u8]) -> String {
    let mut out = vec![0u8; paywire::header::base64_encoded_len(bytes.len())];
    let n = paywire::header::base64_encode(bytes, &mut out).unwrap();
    out.truncate(n);
    String::from_utf8(out).unwrap()
}

/// The JSON inside a header value.
pub fn unb64(value: &str) -> serde_json::Value {
    let json = paywire::header::decode_to_vec(value.trim(), 1 << 20).unwrap();
    serde_json::from_slice(&json).unwrap()
}

/// A header value carrying `v`.
pub fn to_header(v: &serde_json::Value) -> String {
    b64(serde_json::to_string(v).unwrap().as_bytes())
}

/// The current unix time.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A v2 PAYMENT-REQUIRED header for one exact USDC (Base Sepolia) requirement.
pub fn payment_required(pay_to: &str, amount: &str) -> String {
    let pr = serde_json::json!({
        "x402Version": 2,
        "resource": {"url": "http://127.0.0.1/x"},
        "accepts": [{
            "scheme": "exact", "network": "eip155:84532", "amount": amount,
            "asset": "0x036CbD53842c5426634e7929541eC2318f3dCF7e",
            "payTo": pay_to, "maxTimeoutSeconds": 60,
            "extra": {"name": "USDC", "version": "2"}
        }]
    });
    to_header(&pr)
}

/// `paywire pay` output's header value (after `NAME: `).
pub fn header_value(line: &str) -> String {
    line.trim().split_once(": ").unwrap().1.to_string()
}
