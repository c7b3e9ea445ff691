//! `paywire keygen`: writes a new test key file (mode 0600) and prints its address.

use std::fmt::Write as _;

use zeroize::Zeroize as _;

use crate::args::{self, flag, value};
use crate::fail::Failure;
use crate::out::J;

const HELP: &str = "\
usage: paywire keygen [--out FILE] [--force] [--json]

Draws a secp256k1 key from the operating system's random source, writes it to FILE
(default x402.key) readable by its owner only (mode 0600), and prints its address.
The file holds 0x and 64 hex digits after a comment line. Use it on test networks
only. An existing file is never overwritten unless --force is given.

Exit status: 0 written, 2 usage or I/O error.
";

const SPEC: &[args::Opt] = &[flag("json"), value("out"), flag("force")];

pub(crate) fn run(argv: &[String]) -> Result<u8, Failure> {
    let p = args::parse(argv, SPEC, "keygen")?;
    if let Some(code) = super::help(&p, HELP) {
        return Ok(code);
    }
    if let Some(extra) = p.positionals.first() {
        return Err(Failure::usage(format!(
            "unexpected argument {extra:?}: give the file with --out"
        )));
    }
    let path = p.get("out").unwrap_or("paywire.key");
    let (key, mut bytes) = crate::keyfile::fresh()?;
    let mut hex = String::with_capacity(66);
    hex.push_str("0x");
    for b in &bytes {
        let _ = write!(hex, "{b:02x}");
    }
    bytes.zeroize();
    let address = key.address().to_string();
    if p.has("force") && std::path::Path::new(path).is_file() {
        std::fs::remove_file(path).map_err(|e| Failure::io(format!("replacing {path}"), e))?;
    }
    let written = crate::keyfile::write_new(path, &hex, &address);
    hex.zeroize();
    written?;
    if p.has("json") {
        let j = J::obj(vec![
            ("address", J::str(&address)),
            ("keyFile", J::str(path)),
        ]);
        crate::say(&format!("{}\n", j.compact()));
    } else {
        crate::say_err(&format!(
            "wrote a test key to {path} (readable by you only); its address:\n"
        ));
        crate::say(&format!("{address}\n"));
    }
    Ok(0)
}
