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

/// A value read by [`decode`]: a byte string, or a list's payload (read its
/// items with [`decode`] again until it is empty).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// A byte string.
    Bytes(&'a [u8]),
    /// The encoded items of a list.
    List(&'a [u8]),
}

/// Why [`decode`] refused its input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeError(pub &'static str);

impl core::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.0)
    }
}

/// Reads the first item of `input`, returning it and the bytes after it.
/// Only the canonical encoding is accepted (as Ethereum clients require of
/// transactions): a single byte below `0x80` is not wrapped, a long form is
/// not used for 55 bytes or less, and lengths have no leading zeros.
///
/// ```
/// use paywire::evm::rlp::{decode, Decoded};
/// let (item, rest) = decode(b"\xc8\x83cat\x83dog").unwrap();
/// let Decoded::List(items) = item else { panic!() };
/// assert!(rest.is_empty());
/// assert_eq!(decode(items).unwrap(), (Decoded::Bytes(b"cat"), &b"\x83dog"[..]));
/// assert!(decode(b"\x81\x05").is_err()); // 5 is written 0x05
/// ```
///
/// # Errors
/// A [`DecodeError`] naming what is wrong.
pub fn decode(input: &[u8]) -> Result<(Decoded<'_>, &[u8]), DecodeError> {
    let (&first, after) = input.split_first().ok_or(DecodeError("empty input"))?;
    let (is_list, len, body) = match first {
        0x00..=0x7f => return Ok((Decoded::Bytes(input.get(..1).unwrap_or_default()), after)),
        0x80..=0xb7 => (false, usize::from(first - 0x80), after),
        0xb8..=0xbf => {
            let (len, body) = long_len(after, first - 0xb7)?;
            (false, len, body)
        }
        0xc0..=0xf7 => (true, usize::from(first - 0xc0), after),
        0xf8..=0xff => {
            let (len, body) = long_len(after, first - 0xf7)?;
            (true, len, body)
        }
    };
    if body.len() < len {
        return Err(DecodeError("an item runs past the end of its input"));
    }
    let (payload, rest) = body.split_at(len);
    if is_list {
        return Ok((Decoded::List(payload), rest));
    }
    if len == 1 && payload.first().is_some_and(|b| *b < 0x80) {
        return Err(DecodeError("a single byte below 0x80 is its own encoding"));
    }
    Ok((Decoded::Bytes(payload), rest))
}

/// A long form's length: `n` big-endian bytes, no leading zero, above 55.
fn long_len(after: &[u8], n: u8) -> Result<(usize, &[u8]), DecodeError> {
    let n = usize::from(n);
    if after.len() < n {
        return Err(DecodeError("a length runs past the end of its input"));
    }
    let (bytes, body) = after.split_at(n);
    if bytes.first() == Some(&0) {
        return Err(DecodeError("a length has a leading zero"));
    }
    if n > core::mem::size_of::<usize>().min(4) {
        return Err(DecodeError("a length above 2^32"));
    }
    let len = bytes.iter().fold(0usize, |a, b| (a << 8) | usize::from(*b));
    if len <= 55 {
        return Err(DecodeError("the long form is used for 55 bytes or less"));
    }
    Ok((len, body))
}

/// A scalar (a canonical unsigned integer: no leading zero bytes; zero is
/// the empty string) of at most `max` bytes, read from `item`, into 32
/// big-endian bytes.
///
/// # Errors
/// When `item` is a list, has a leading zero, or is longer than `max`.
pub fn scalar(item: Decoded<'_>, max: usize) -> Result<[u8; 32], DecodeError> {
    let Decoded::Bytes(b) = item else {
        return Err(DecodeError("a list where a number belongs"));
    };
    if b.first() == Some(&0) {
        return Err(DecodeError("a number with a leading zero"));
    }
    if b.len() > max.min(32) {
        return Err(DecodeError("a number too large for its field"));
    }
    let mut w = [0u8; 32];
    if let Some(tail) = w.get_mut(32 - b.len()..) {
        tail.copy_from_slice(b);
    }
    Ok(w)
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
    fn decoding_reads_back_every_encoding_and_refuses_the_non_canonical() {
        let lorem = b"Lorem ipsum dolor sit amet, consectetur adipisicing elit";
        let big = vec![7u8; 300];
        let inner = [Item::Bytes(b"cat"), Item::uint(1024), Item::Bytes(lorem)];
        for item in [
            Item::Bytes(b""),
            Item::Bytes(&[0x7f]),
            Item::Bytes(&[0x80]),
            Item::Bytes(lorem),
            Item::Bytes(&big),
            Item::List(&[]),
            Item::List(&inner),
        ] {
            let bytes = enc(&item);
            let (d, rest) = decode(&bytes).unwrap();
            assert!(rest.is_empty());
            match (item, d) {
                (Item::Bytes(want), Decoded::Bytes(got)) => assert_eq!(want, got),
                (Item::List(want), Decoded::List(mut got)) => {
                    for w in want {
                        let (one, rest) = decode(got).unwrap();
                        assert_eq!(enc(w)[..], bytes_of(one, got, rest)[..]);
                        got = rest;
                    }
                    assert!(got.is_empty());
                }
                other => panic!("{other:?}"),
            }
        }
        for bad in [
            &[][..],
            &[0x81, 0x05],
            &[0x82, 0x01],
            &[0xb8, 0x05, 1, 2, 3, 4, 5],
            &[0xb9, 0x00, 0x40],
            &[0xf8, 0x01, 0x00],
            &[0xbc, 1, 1, 1, 1, 1],
        ] {
            assert!(decode(bad).is_err(), "{bad:02x?}");
        }
        assert_eq!(scalar(Decoded::Bytes(&[]), 8).unwrap(), [0; 32]);
        assert!(scalar(Decoded::Bytes(&[0, 1]), 8).is_err());
        assert!(scalar(Decoded::Bytes(&[1; 9]), 8).is_err());
        assert!(scalar(Decoded::List(&[]), 8).is_err());
    }

    /// The encoded bytes of `one`, the item `whole` starts with before `rest`.
    fn bytes_of<'a>(_one: Decoded<'a>, whole: &'a [u8], rest: &'a [u8]) -> &'a [u8] {
        &whole[..whole.len() - rest.len()]
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
