//! The panic boundary and the pointer conventions, in one place.
//!
//! Every pointer a caller hands over becomes a Rust reference in exactly one
//! place: an `unsafe fn` constructor here ([`bytes`], [`text`], [`optional`],
//! [`array32`], [`Out::new`], [`Fixed::new`], [`Slot::new`], [`Report::new`]),
//! whose `# Safety` section is the header's rule for that argument. What the
//! constructors return is used by safe code only: the exported functions call
//! one constructor per `unsafe` block, and their bodies are otherwise safe.
//!
//! Caller buffers are borrowed as `MaybeUninit` bytes: the caller may hand
//! over memory it never initialised, and this crate only ever writes to it.
//!
//! Every exported function is `boundary(report, || { ... })`: its body runs
//! inside `catch_unwind`, checks every pointer before doing any work, and
//! returns `Err(Failure)` for anything but success. A panic (a bug) becomes
//! `PAYWIRE_RESULT_PANIC` instead of unwinding into C, Go or Python.

use std::ffi::c_char;
use std::mem::MaybeUninit;
use std::panic::{AssertUnwindSafe, catch_unwind};

use paywire::Reason;
use paywire::json::{Sink, SinkFull, ToJson};

use crate::result::paywire_result;

/// Why a call failed: its code, its protocol reason when the failure is about a
/// document, and, when there is more to say, a description.
pub(crate) struct Failure {
    pub(crate) code: paywire_result,
    pub(crate) reason: Option<Reason>,
    pub(crate) detail: Option<String>,
}

impl Failure {
    pub(crate) fn new(code: paywire_result, detail: impl Into<String>) -> Failure {
        Failure {
            code,
            reason: code.reason(),
            detail: Some(detail.into()),
        }
    }

    /// A document the core refused: the code and the reason of its error, the
    /// core's description.
    pub(crate) fn core(e: &paywire::Error) -> Failure {
        Failure {
            code: paywire_result::for_reason(e.reason()),
            reason: Some(e.reason()),
            detail: Some(e.to_string()),
        }
    }

    /// A setting (config, policy) the core refused: described without a protocol
    /// reason, since a setting is not a peer's document.
    pub(crate) fn setting(code: paywire_result, what: &str, e: &paywire::Error) -> Failure {
        let at = match (e.object(), e.field()) {
            ("", "") => String::new(),
            ("", f) | (f, "") => format!(" {f}"),
            (o, f) => format!(" {o}.{f}"),
        };
        Failure {
            code,
            reason: None,
            detail: Some(format!("{what}{at}: {}", e.kind())),
        }
    }
}

impl From<paywire_result> for Failure {
    fn from(code: paywire_result) -> Failure {
        Failure {
            code,
            reason: code.reason(),
            detail: None,
        }
    }
}

pub(crate) type Outcome = Result<(), Failure>;

/// Writes `src` into the start of `dst` (the caller checked that it fits).
fn copy(dst: &mut [MaybeUninit<u8>], src: &[u8]) {
    for (d, s) in dst.iter_mut().zip(src) {
        d.write(*s);
    }
}

/// An optional caller buffer for a NUL-terminated text: a `(char *buf, size_t
/// cap)` pair. NULL, a capacity of 0, or one above `PTRDIFF_MAX` (no such
/// buffer exists) receive nothing.
pub(crate) struct TextBuf<'a>(Option<&'a mut [MaybeUninit<u8>]>);

impl<'a> TextBuf<'a> {
    const NONE: TextBuf<'static> = TextBuf(None);

    /// # Safety
    /// `ptr` is NULL, or valid for `cap` bytes of writes during `'a` and not
    /// reachable through any other argument of the call.
    unsafe fn new(ptr: *mut c_char, cap: usize) -> TextBuf<'a> {
        if ptr.is_null() || cap == 0 || isize::try_from(cap).is_err() {
            return TextBuf::NONE;
        }
        // SAFETY: `ptr` is not NULL, `cap` is at most `isize::MAX`, and the
        // caller promised `cap` writable bytes for `'a` that nothing else
        // reaches; `MaybeUninit<u8>` has the layout of `c_char` and accepts any
        // contents, initialised or not.
        let buf = unsafe { std::slice::from_raw_parts_mut(ptr.cast::<MaybeUninit<u8>>(), cap) };
        TextBuf(Some(buf))
    }

    /// Writes `text`, truncated at a character boundary to `cap - 1` bytes, and
    /// a NUL.
    fn write_truncated(self, text: &str) {
        let Some(buf) = self.0 else { return };
        let mut n = text.len().min(buf.len() - 1);
        while !text.is_char_boundary(n) {
            n -= 1;
        }
        let bytes = text.as_bytes().get(..n).unwrap_or_default();
        copy(buf, bytes);
        if let Some(nul) = buf.get_mut(n) {
            nul.write(0);
        }
    }

    /// Writes `text` and a NUL when both fit, else only a NUL (the empty string):
    /// a text that is useless truncated, such as a reason string.
    fn write_whole(self, text: &str) {
        let Some(buf) = self.0 else { return };
        let bytes = if text.len() < buf.len() {
            text.as_bytes()
        } else {
            &[]
        };
        copy(buf, bytes);
        if let Some(nul) = buf.get_mut(bytes.len()) {
            nul.write(0);
        }
    }
}

/// Where a failure is reported: the optional `(char *err_buf, size_t err_cap)`
/// pair receives its description, the optional `(char *reason_buf, size_t
/// reason_cap)` pair its protocol reason string.
pub(crate) struct Report<'a> {
    message: TextBuf<'a>,
    reason: TextBuf<'a>,
}

impl<'a> Report<'a> {
    /// For the functions that take neither buffer.
    pub(crate) const NONE: Report<'static> = Report {
        message: TextBuf::NONE,
        reason: TextBuf::NONE,
    };

    /// # Safety
    /// `err_buf` is NULL or valid for `err_cap` bytes of writes during `'a`, and
    /// so is `reason_buf` for `reason_cap` bytes; neither overlaps the other nor
    /// any other argument of the call.
    pub(crate) unsafe fn new(
        err_buf: *mut c_char,
        err_cap: usize,
        reason_buf: *mut c_char,
        reason_cap: usize,
    ) -> Report<'a> {
        // SAFETY: the caller's promise for `err_buf`, forwarded.
        let message = unsafe { TextBuf::new(err_buf, err_cap) };
        // SAFETY: the caller's promise for `reason_buf`, forwarded.
        let reason = unsafe { TextBuf::new(reason_buf, reason_cap) };
        Report { message, reason }
    }
}

/// Runs `body` inside the panic boundary and reports its outcome: on failure,
/// the description goes to the report's error buffer and the protocol reason
/// (the empty string when the failure has none) to its reason buffer.
pub(crate) fn boundary(report: Report<'_>, body: impl FnOnce() -> Outcome) -> paywire_result {
    let (code, reason, detail) = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => return paywire_result::Ok,
        Ok(Err(f)) => (f.code, f.reason, f.detail),
        Err(_) => (paywire_result::Panic, None, None),
    };
    report
        .message
        .write_truncated(detail.as_deref().unwrap_or(code.message()));
    report.reason.write_whole(reason.map_or("", Reason::as_str));
    code
}

/// Borrows an input byte range.
///
/// # Safety
/// `ptr` is NULL, or valid for `len` bytes of reads during `'a`, and those bytes
/// are not written meanwhile.
pub(crate) unsafe fn bytes<'a>(ptr: *const u8, len: usize) -> Result<&'a [u8], Failure> {
    if ptr.is_null() {
        return Err(paywire_result::NullParameter.into());
    }
    if isize::try_from(len).is_err() {
        return Err(paywire_result::InvalidArgument.into());
    }
    // SAFETY: `ptr` is not NULL, `len` is at most `isize::MAX`, and the caller
    // promised `len` readable bytes, unchanged during `'a`.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// Borrows an input text (UTF-8, not NUL-terminated).
///
/// # Safety
/// As [`bytes`].
pub(crate) unsafe fn text<'a>(ptr: *const c_char, len: usize) -> Result<&'a str, Failure> {
    // SAFETY: the caller's promise, forwarded.
    let b = unsafe { bytes(ptr.cast::<u8>(), len) }?;
    std::str::from_utf8(b).map_err(|_| paywire_result::InvalidUtf8.into())
}

/// Borrows an optional input (NULL: absent).
///
/// # Safety
/// As [`bytes`].
pub(crate) unsafe fn optional<'a>(ptr: *const u8, len: usize) -> Result<Option<&'a [u8]>, Failure> {
    if ptr.is_null() {
        return Ok(None);
    }
    // SAFETY: the caller's promise, forwarded.
    unsafe { bytes(ptr, len) }.map(Some)
}

/// Reads a fixed 32-byte input.
///
/// # Safety
/// `ptr` is NULL, or valid for 32 bytes of reads.
pub(crate) unsafe fn array32(ptr: *const u8) -> Result<[u8; 32], Failure> {
    // SAFETY: the caller's promise, forwarded.
    let b = unsafe { bytes(ptr, 32) }?;
    let mut a = [0u8; 32];
    a.copy_from_slice(b);
    Ok(a)
}

/// A required out-parameter for one value (`uint32_t *kind`, `uint8_t *done`,
/// `paywire_chain **out_chain`, ...), checked before any work.
pub(crate) struct Slot<'a, T>(&'a mut MaybeUninit<T>);

impl<'a, T> Slot<'a, T> {
    /// NULL is `PAYWIRE_RESULT_NULL_PARAMETER`.
    ///
    /// # Safety
    /// `ptr` is NULL, or aligned and valid for one write of a `T` during `'a`,
    /// and not reachable through any other argument of the call.
    pub(crate) unsafe fn new(ptr: *mut T) -> Result<Slot<'a, T>, Failure> {
        // SAFETY: the caller's promise, forwarded.
        unsafe { Slot::optional(ptr) }.ok_or_else(|| paywire_result::NullParameter.into())
    }

    /// An optional out-parameter: NULL is `None`.
    ///
    /// # Safety
    /// As [`Slot::new`].
    pub(crate) unsafe fn optional(ptr: *mut T) -> Option<Slot<'a, T>> {
        // SAFETY: when not NULL, `ptr` is aligned and valid for one write during
        // `'a`, reached by nothing else (the caller's promise); `MaybeUninit<T>`
        // has the layout of `T` and accepts uninitialised memory.
        unsafe { ptr.cast::<MaybeUninit<T>>().as_mut() }.map(Slot)
    }

    /// Writes the value.
    pub(crate) fn set(self, v: T) {
        self.0.write(v);
    }
}

/// A fixed-size output (`uint8_t out[N]`), checked before any work.
pub(crate) struct Fixed<'a, const N: usize>(&'a mut [MaybeUninit<u8>; N]);

impl<'a, const N: usize> Fixed<'a, N> {
    /// NULL is `PAYWIRE_RESULT_NULL_PARAMETER`.
    ///
    /// # Safety
    /// `ptr` is NULL, or valid for `N` bytes of writes during `'a`, and not
    /// reachable through any other argument of the call.
    pub(crate) unsafe fn new(ptr: *mut u8) -> Result<Fixed<'a, N>, Failure> {
        // SAFETY: when not NULL, `ptr` is valid for `N` bytes of writes during
        // `'a`, reached by nothing else (the caller's promise); the array of
        // `MaybeUninit<u8>` has alignment 1 and accepts uninitialised memory.
        let array = unsafe { ptr.cast::<[MaybeUninit<u8>; N]>().as_mut() };
        array
            .map(Fixed)
            .ok_or_else(|| paywire_result::NullParameter.into())
    }

    /// Writes the `N` bytes.
    pub(crate) fn put(self, v: &[u8; N]) {
        copy(self.0, v);
    }
}

/// The `(uint8_t *out, size_t out_cap, size_t *out_len)` triple, checked before
/// any work. Every `put` writes the exact length of the output to `*out_len`,
/// and the output itself only when it fits (else
/// `PAYWIRE_RESULT_INSUFFICIENT_SIZE`).
pub(crate) struct Out<'a> {
    buf: &'a mut [MaybeUninit<u8>],
    len: &'a mut MaybeUninit<usize>,
}

impl<'a> Out<'a> {
    /// A NULL `out_len`, or a NULL `out` with a capacity, is
    /// `PAYWIRE_RESULT_NULL_PARAMETER`; a capacity above `PTRDIFF_MAX` is
    /// `PAYWIRE_RESULT_INVALID_ARGUMENT`.
    ///
    /// # Safety
    /// `len` is NULL, or aligned and valid for one `size_t` write during `'a`;
    /// `ptr` is NULL, or valid for `cap` bytes of writes during `'a`; neither
    /// overlaps the other nor any other argument of the call.
    pub(crate) unsafe fn new(
        ptr: *mut u8,
        cap: usize,
        len: *mut usize,
    ) -> Result<Out<'a>, Failure> {
        if len.is_null() || (ptr.is_null() && cap != 0) {
            return Err(paywire_result::NullParameter.into());
        }
        if isize::try_from(cap).is_err() {
            return Err(paywire_result::InvalidArgument.into());
        }
        // SAFETY: the caller's promise for `len`, forwarded (checked not NULL above).
        let len = unsafe { Slot::new(len) }?.0;
        let buf: &mut [MaybeUninit<u8>] = if cap == 0 {
            &mut []
        } else {
            // SAFETY: `ptr` is not NULL (checked above, since `cap` is not 0),
            // `cap` is at most `isize::MAX`, and the caller promised `cap`
            // writable bytes for `'a` that nothing else reaches.
            unsafe { std::slice::from_raw_parts_mut(ptr.cast::<MaybeUninit<u8>>(), cap) }
        };
        Ok(Out { buf, len })
    }

    /// Writes `v`.
    pub(crate) fn put(self, v: &[u8]) -> Outcome {
        self.len.write(v.len());
        let dst = self
            .buf
            .get_mut(..v.len())
            .ok_or(paywire_result::InsufficientSize)?;
        copy(dst, v);
        Ok(())
    }

    /// Writes `doc` as compact JSON, straight into the buffer: its exact length
    /// is counted first (the core's `ToJson::encoded_len`).
    pub(crate) fn put_json(self, doc: &dyn ToJson) -> Outcome {
        let n = doc.encoded_len();
        self.len.write(n);
        let dst = self
            .buf
            .get_mut(..n)
            .ok_or(paywire_result::InsufficientSize)?;
        // The length was counted: the buffer cannot fill.
        doc.write_json(&mut UninitSink(dst))
            .map_err(|SinkFull| paywire_result::Panic.into())
    }

    /// Writes `doc` as a header value (standard base64 of its compact JSON),
    /// straight into the buffer: its exact length is counted first (the core's
    /// `header::encoded_len`).
    pub(crate) fn put_header(self, doc: &dyn ToJson) -> Outcome {
        let n = paywire::header::encoded_len(doc);
        self.len.write(n);
        let dst = self
            .buf
            .get_mut(..n)
            .ok_or(paywire_result::InsufficientSize)?;
        // The length was counted: the buffer cannot fill.
        paywire::header::encode_to_sink(doc, &mut UninitSink(dst))
            .map(|_| ())
            .map_err(|SinkFull| paywire_result::Panic.into())
    }
}

/// A sink writing into a caller buffer.
struct UninitSink<'b>(&'b mut [MaybeUninit<u8>]);

impl Sink for UninitSink<'_> {
    fn put(&mut self, bytes: &[u8]) -> Result<(), SinkFull> {
        if bytes.len() > self.0.len() {
            return Err(SinkFull);
        }
        let (head, rest) = std::mem::take(&mut self.0).split_at_mut(bytes.len());
        copy(head, bytes);
        self.0 = rest;
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;

    fn text_of(buf: &[c_char]) -> Vec<u8> {
        buf.iter()
            .take_while(|c| **c != 0)
            .map(|c| *c as u8)
            .collect()
    }

    #[test]
    fn a_panic_becomes_a_code_and_a_message() {
        let mut err = [0x55 as c_char; 16];
        let mut reason = [0x55 as c_char; 64];
        // SAFETY: both arrays are writable for their lengths and distinct.
        let report = unsafe { Report::new(err.as_mut_ptr(), err.len(), reason.as_mut_ptr(), 64) };
        let code = boundary(report, || panic!("boom"));
        assert_eq!(code, paywire_result::Panic);
        assert_eq!(
            text_of(&err),
            &paywire_result::Panic.message().as_bytes()[..15]
        );
        assert_eq!(reason[0], 0, "a panic has no reason");
    }

    #[test]
    fn a_document_failure_reports_its_reason_whole_or_not_at_all() {
        let fail = || {
            Err(Failure::new(
                paywire_result::InvalidNetwork,
                "invalid_network: eip155:08453",
            ))
        };
        let mut reason = [0x55 as c_char; 16];
        // SAFETY: the array is writable for its length.
        let report = unsafe { Report::new(std::ptr::null_mut(), 0, reason.as_mut_ptr(), 16) };
        assert_eq!(boundary(report, fail), paywire_result::InvalidNetwork);
        assert_eq!(text_of(&reason), b"invalid_network");
        // "invalid_network" and its NUL need 16 bytes: 15 get the empty string.
        let mut short = [0x55 as c_char; 15];
        // SAFETY: as above.
        let report = unsafe { Report::new(std::ptr::null_mut(), 0, short.as_mut_ptr(), 15) };
        assert_eq!(boundary(report, fail), paywire_result::InvalidNetwork);
        assert_eq!(short[0], 0);
        assert_eq!(short[1], 0x55, "nothing past the NUL");
    }

    #[test]
    fn messages_truncate_at_a_character_boundary() {
        let mut buf = [0x55 as c_char; 4];
        // SAFETY: the array is writable for its length.
        unsafe { TextBuf::new(buf.as_mut_ptr(), 4) }.write_truncated("aé€");
        // "a" (1) + "é" (2) fits in 3 bytes; "€" (3) does not.
        assert_eq!(buf.map(|c| c as u8), [b'a', 0xc3, 0xa9, 0]);
        // SAFETY: as above.
        unsafe { TextBuf::new(buf.as_mut_ptr(), 1) }.write_truncated("abc");
        assert_eq!(buf[0], 0);
    }

    #[test]
    fn json_goes_straight_into_the_buffer_at_its_exact_length() {
        let doc = paywire::json::JsonStr::new("a\u{1}b");
        let mut len = usize::MAX;
        // SAFETY: NULL with no capacity, and a writable length.
        let out = unsafe { Out::new(std::ptr::null_mut(), 0, &mut len) };
        assert!(matches!(
            out.and_then(|o| o.put_json(&doc)),
            Err(Failure {
                code: paywire_result::InsufficientSize,
                ..
            })
        ));
        assert_eq!(len, br#""a\u0001b""#.len());
        let mut buf = [0u8; 16];
        // SAFETY: the array is writable for its length, the length distinct.
        let out = unsafe { Out::new(buf.as_mut_ptr(), len, &mut len) };
        assert!(out.and_then(|o| o.put_json(&doc)).is_ok());
        assert_eq!(&buf[..len], br#""a\u0001b""#);
    }
}
