//! Runs one verification many times, for a profiler:
//! `valgrind --tool=callgrind target/release/examples/profile_verify`.
#![allow(clippy::unwrap_used, missing_docs)]

fn main() {
    let p = x402_benches::payment("v2-exact-eip3009-skips-unsupported-first-accept");
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200);
    let config = x402_core::verify::Config::default();
    let mut valid = 0;
    for _ in 0..n {
        valid += usize::from(
            x402_core::verify::verify_json(std::hint::black_box(&p.verify_body), p.now, &config)
                .is_valid(),
        );
    }
    assert_eq!(valid, n);
}
