//! Reading what the user passes: literal values, files, standard input, and
//! `Name: value` header lines.

use std::io::Read as _;
use std::path::Path;

use paywire::header::HeaderKind;

use crate::fail::Failure;

/// Largest input read from a file or standard input.
const MAX_INPUT: u64 = 1 << 20;

/// The text of an argument: `-` reads standard input, the path of an existing
/// file reads the file, anything else is the value itself.
pub(crate) fn text_arg(arg: &str, what: &str) -> Result<String, Failure> {
    if arg == "-" {
        let mut s = String::new();
        std::io::stdin()
            .take(MAX_INPUT)
            .read_to_string(&mut s)
            .map_err(|e| Failure::io(format!("reading {what} from standard input"), e))?;
        return Ok(s);
    }
    let looks_like_path = arg.len() < 4096 && !arg.contains('\n');
    if looks_like_path && Path::new(arg).is_file() {
        return read_file(arg, what);
    }
    Ok(arg.to_string())
}

/// Reads a file (at most 1 MiB) as UTF-8.
pub(crate) fn read_file(path: &str, what: &str) -> Result<String, Failure> {
    let f = std::fs::File::open(path).map_err(|e| Failure::io(format!("{what} {path}"), e))?;
    let mut bytes = Vec::new();
    f.take(MAX_INPUT + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Failure::io(format!("reading {what} {path}"), e))?;
    if bytes.len() as u64 > MAX_INPUT {
        return Err(Failure::usage(format!(
            "{what} {path} is larger than {MAX_INPUT} bytes"
        )));
    }
    String::from_utf8(bytes).map_err(|_| Failure::usage(format!("{what} {path} is not UTF-8 text")))
}

/// Splits an optional `Name:` prefix off a header value (base64 has no `:`), so
/// a header line copied from a trace works as well as the bare value.
pub(crate) fn header_line(text: &str) -> Result<(Option<HeaderKind>, &str), Failure> {
    let text = text.trim();
    if text.starts_with('{') {
        return Ok((None, text));
    }
    let Some((name, value)) = text.split_once(':') else {
        return Ok((None, text));
    };
    let name = name.trim();
    match HeaderKind::from_name(name) {
        Some(kind) => Ok((Some(kind), value.trim())),
        None => Err(Failure::usage(format!(
            "unknown header name {name:?}: give the value of PAYMENT-REQUIRED, \
             PAYMENT-SIGNATURE, PAYMENT-RESPONSE, X-PAYMENT or X-PAYMENT-RESPONSE, \
             with or without its name"
        ))),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn header_lines() {
        assert_eq!(header_line(" eyJ= \n").unwrap(), (None, "eyJ="));
        assert_eq!(
            header_line("payment-signature: eyJ=").unwrap(),
            (Some(HeaderKind::PaymentSignature), "eyJ=")
        );
        assert!(header_line("Authorization: x").is_err());
    }
}
