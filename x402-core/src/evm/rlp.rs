//! Recursive Length Prefix encoding (Ethereum Yellow Paper, appendix B), the
//! serialisation of transactions, into any [`Sink`] or a caller's buffer.
//!
//! An [`Item`] tree is built on the stack and encoded in one pass: list headers
//! need the length of their payload, which [`encoded_len`] computes without
//! writing anything.
//!
//! ```
//! use paywire::evm::rlp::{encode, Item};
//! // The Yellow Paper's examples: "dog", [ "cat", "dog" ], 0, 1024.
//! let mut out = [0u8; 16];
//! let n = encode(&Item::Bytes(b"dog"), &mut out).unwrap();
//! assert_eq!(&out[..n], b"\x83dog");
//! let n = encode(&Item::List(&[Item::Bytes(b"cat"), Item::Bytes(b"dog")]), &mut out).unwrap();
//! assert_eq!(&out[..n], b"\xc8\x83cat\x83dog");
//! let n = encode(&Item::uint(0), &mut out).unwrap();
//! assert_eq!(&out[..n], b"\x80");
//! let n = encode(&Item::uint(1024), &mut out).unwrap();
//! assert_eq!(&out[..n], b"\x82\x04\x00");
//! ```

use crate::amount::Amount;
use crate::json::{BufferTooSmall, Sink, SinkFull, SliceSink};

/// A value to encode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Item<'a> {
    /// A byte string, encoded as given (an address, calldata, a hash).
    Bytes(&'a [u8]),
    /// An unsigned integer as 32 big-endian bytes, encoded without leading
    /// zeros (zero is the empty string), as the Yellow Paper requires of scalars.
    Uint([u8; 32]),
    /// A list.
    List(&'a [Item<'a>]),
}

impl Item<'_> {
    /// A scalar from a `u128` (fees, gas, nonces, chain ids).
    #[must_use]
    pub fn uint(v: u128) -> Item<'static> {
        let mut w = [0u8; 32];
        if let Some(lo) = w.get_mut(16..) {
            lo.copy_from_slice(&v.to_be_bytes());
        }
        Item::Uint(w)
    }

    /// A scalar from a `uint256`.
    #[must_use]
    pub fn amount(v: &Amount) -> Item<'static> {
        Item::Uint(v.to_be_bytes())
    }
}

/// The minimal big-endian bytes of a 32-byte scalar.
fn trimmed(w: &[u8; 32]) -> &[u8] {
    let start = w.iter().position(|b| *b != 0).unwrap_or(w.len());
    w.get(start..).unwrap_or_default()
}

/// Length of a header for a payload of `len` bytes (string or list).
fn header_len(len: usize) -> usize {
    if len < 56 { 1 } else { 1 + be_len(len) }
}

/// Number of bytes of `n` in minimal big-endian form.
fn be_len(n: usize) -> usize {
    (usize::BITS - n.leading_zeros()).div_ceil(8) as usize
}

fn payload_len(item: &Item<'_>) -> usize {
    match item {
        Item::Bytes(b) => string_payload_len(b),
        Item::Uint(w) => string_payload_len(trimmed(w)),
        Item::List(items) => items.iter().map(encoded_len).sum(),
    }
}

fn string_payload_len(b: &[u8]) -> usize {
    match b {
        [x] if *x < 0x80 => 0,
        _ => b.len(),
    }
}

/// The exact length of the encoding of `item`.
#[must_use]
pub fn encoded_len(item: &Item<'_>) -> usize {
    match item {
        Item::Bytes(b) => string_len(b),
        Item::Uint(w) => string_len(trimmed(w)),
        Item::List(_) => {
            let p = payload_len(item);
            header_len(p) + p
        }
    }
}

fn string_len(b: &[u8]) -> usize {
    match b {
        [x] if *x < 0x80 => 1,
        _ => header_len(b.len()) + b.len(),
    }
}

fn write_header(out: &mut dyn Sink, short_base: u8, len: usize) -> Result<(), SinkFull> {
    if len < 56 {
        out.put(&[short_base + len as u8])
    } else {
        let n = be_len(len);
        let bytes = len.to_be_bytes();
        let start = bytes.len() - n;
        out.put(&[short_base + 55 + n as u8])?;
        out.put(bytes.get(start..).unwrap_or_default())
    }
}

fn write_string(out: &mut dyn Sink, b: &[u8]) -> Result<(), SinkFull> {
    match b {
        [x] if *x < 0x80 => out.put(b),
        _ => {
            write_header(out, 0x80, b.len())?;
            out.put(b)
        }
    }
}

/// Writes the encoding of `item` into `out`.
///
/// # Errors
/// [`SinkFull`] from the sink.
pub fn write(item: &Item<'_>, out: &mut dyn Sink) -> Result<(), SinkFull> {
    match item {
        Item::Bytes(b) => write_string(out, b),
        Item::Uint(w) => write_string(out, trimmed(w)),
        Item::List(items) => {
            write_header(out, 0xc0, payload_len(item))?;
            for i in *items {
                write(i, out)?;
            }
            Ok(())
        }
    }
}

/// Encodes `item` into `out`, returning the length written.
///
/// # Errors
/// [`BufferTooSmall`] with the exact length needed.
pub fn encode(item: &Item<'_>, out: &mut [u8]) -> Result<usize, BufferTooSmall> {
    let mut sink = SliceSink::new(out);
    match write(item, &mut sink) {
        Ok(()) => Ok(sink.len()),
        Err(SinkFull) => Err(BufferTooSmall {
            needed: encoded_len(item),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(item: &Item<'_>) -> Vec<u8> {
        let mut v = Vec::new();
        write(item, &mut v).unwrap();
        assert_eq!(v.len(), encoded_len(item));
        v
    }

    #[test]
    fn yellow_paper_and_wiki_examples() {
        assert_eq!(enc(&Item::Bytes(b"")), [0x80]);
        assert_eq!(enc(&Item::Bytes(&[0x00])), [0x00]);
        assert_eq!(enc(&Item::Bytes(&[0x7f])), [0x7f]);
        assert_eq!(enc(&Item::Bytes(&[0x80])), [0x81, 0x80]);
        assert_eq!(enc(&Item::List(&[])), [0xc0]);
        assert_eq!(enc(&Item::uint(15)), [0x0f]);
        assert_eq!(enc(&Item::uint(0x400)), [0x82, 0x04, 0x00]);
        let lorem = b"Lorem ipsum dolor sit amet, consectetur adipisicing elit";
        let mut want = vec![0xb8, 0x38];
        want.extend_from_slice(lorem);
        assert_eq!(enc(&Item::Bytes(lorem)), want);
        // The set-theoretic representation of three: [ [], [[]], [ [], [[]] ] ].
        let three = Item::List(&[
            Item::List(&[]),
            Item::List(&[Item::List(&[])]),
            Item::List(&[Item::List(&[]), Item::List(&[Item::List(&[])])]),
        ]);
        assert_eq!(
            enc(&three),
            [0xc7, 0xc0, 0xc1, 0xc0, 0xc3, 0xc0, 0xc1, 0xc0]
        );
        // A long list: 60 one-byte items.
        let items = [Item::Bytes(b"a"); 60];
        let v = enc(&Item::List(&items));
        assert_eq!(&v[..2], &[0xf8, 60]);
        // A 2^16-byte string has a 3-byte length.
        let big = vec![1u8; 65536];
        assert_eq!(&enc(&Item::Bytes(&big))[..4], &[0xba, 0x01, 0x00, 0x00]);
        assert_eq!(enc(&Item::amount(&Amount::MAX)).len(), 33);
    }

    #[test]
    fn buffer_too_small_reports_needed() {
        let item = Item::List(&[Item::Bytes(b"cat"), Item::Bytes(b"dog")]);
        assert_eq!(
            encode(&item, &mut [0u8; 3]),
            Err(BufferTooSmall { needed: 9 })
        );
    }
}
