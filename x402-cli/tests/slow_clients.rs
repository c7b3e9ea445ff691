//! `paywire serve` under a slow-client attack: many connections that trickle
//! their request a byte at a time, while an ordinary client keeps asking.
//! Every ordinary request must be answered, promptly, for the whole attack.
//!
//! Sized by `PAYWIRE_TEST_SLOW_CLIENTS` (connections, default 20) and
//! `PAYWIRE_TEST_SLOW_SECONDS` (default 10); `scripts/test-long.sh` runs 300
//! for 60 s.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::*;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One ordinary request on a fresh connection: its status, or `None` when no
/// answer came within `limit`.
fn ordinary(host: &str, limit: Duration) -> Option<u16> {
    let mut s = TcpStream::connect(host).ok()?;
    s.set_read_timeout(Some(limit)).ok()?;
    s.set_write_timeout(Some(limit)).ok()?;
    s.write_all(
        format!("GET /paid HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .ok()?;
    let mut head = [0u8; 12];
    s.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

#[test]
fn trickling_connections_do_not_lock_out_other_clients() {
    let connections = env_usize("PAYWIRE_TEST_SLOW_CLIENTS", 20);
    let seconds = env_usize("PAYWIRE_TEST_SLOW_SECONDS", 10) as u64;
    let dir = TempDir::new();
    let (_, merchant) = dir.key("merchant.key");
    let server = serve(
        dir.path(),
        &[
            "--pay-to", &merchant, "--price", "0.01", "--port", "0", "--path", "/paid",
        ],
    );
    let host = server.origin().trim_start_matches("http://").to_string();

    // The attack: each connection sends a request head one byte per second,
    // reconnecting whenever the server closes it, until the end.
    let stop = Arc::new(AtomicBool::new(false));
    let reconnects = Arc::new(AtomicUsize::new(0));
    let attackers: Vec<_> = (0..connections)
        .map(|i| {
            let (host, stop, reconnects) =
                (host.clone(), Arc::clone(&stop), Arc::clone(&reconnects));
            std::thread::spawn(move || {
                let head = format!("GET /paid HTTP/1.1\r\nHost: {host}\r\nX-Slow: {i}\r\n");
                while !stop.load(Ordering::Relaxed) {
                    let Ok(mut s) = TcpStream::connect(&host) else {
                        std::thread::sleep(Duration::from_millis(200));
                        continue;
                    };
                    let _ = s.set_write_timeout(Some(Duration::from_secs(2)));
                    for b in head.bytes().cycle() {
                        if stop.load(Ordering::Relaxed) || s.write_all(&[b]).is_err() {
                            break;
                        }
                        std::thread::sleep(Duration::from_secs(1));
                    }
                    reconnects.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();

    // Let the attack take hold, then ask as an ordinary client would, twice a
    // second, each answer due within 3 s.
    std::thread::sleep(Duration::from_secs(2));
    let end = Instant::now() + Duration::from_secs(seconds);
    let (mut asked, mut answered, mut slowest) = (0u32, 0u32, Duration::ZERO);
    while Instant::now() < end {
        let t = Instant::now();
        asked += 1;
        if ordinary(&host, Duration::from_secs(3)) == Some(402) {
            answered += 1;
            slowest = slowest.max(t.elapsed());
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    stop.store(true, Ordering::Relaxed);
    for a in attackers {
        let _ = a.join();
    }
    eprintln!(
        "slow clients: {connections} trickling connections for {seconds} s: {answered} of {asked} ordinary requests answered (slowest {slowest:?}); the server closed trickling connections {} times",
        reconnects.load(Ordering::Relaxed)
    );
    assert_eq!(
        answered, asked,
        "ordinary requests went unanswered during the attack"
    );
    drop(server);
}

/// Requests hyper's parser refuses, each on its own connection, answered 400
/// (or the connection closed) while the server keeps serving: folded header
/// lines, a space before the colon, two different Content-Lengths, control
/// characters in the target.
#[test]
fn malformed_requests_are_refused() {
    let dir = TempDir::new();
    let (_, merchant) = dir.key("merchant.key");
    let server = serve(
        dir.path(),
        &[
            "--pay-to", &merchant, "--price", "0.01", "--port", "0", "--path", "/paid",
        ],
    );
    let host = server.origin().trim_start_matches("http://").to_string();
    for raw in [
        "GET /paid HTTP/1.1\r\nHost: h\r\nX-A: one\r\n two\r\n\r\n",
        "GET /paid HTTP/1.1\r\nHost : h\r\n\r\n",
        "POST /paid HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        "GET /pa\x1b[2Jid HTTP/1.1\r\nHost: h\r\n\r\n",
        "GET /paid HTTP/1.1\r\nHost: h\r\nX-A: \x07bell\r\n\r\n",
    ] {
        let mut s = TcpStream::connect(&host).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(raw.as_bytes()).unwrap();
        let mut answer = Vec::new();
        let _ = s.read_to_end(&mut answer);
        let answer = String::from_utf8_lossy(&answer);
        assert!(
            answer.is_empty() || answer.starts_with("HTTP/1.1 400"),
            "{raw:?} was answered {answer:?}"
        );
    }
    assert_eq!(ordinary(&host, Duration::from_secs(5)), Some(402));
    assert!(
        !server.stderr().contains('\x1b'),
        "a control character reached the log"
    );
}
