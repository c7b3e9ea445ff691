//! The panic boundary and the pointer conventions, in one place.
//!
//! Every exported function is `boundary(err, || { ... })`: its body runs inside
//! `catch_unwind`, checks every pointer before doing any work, and returns
//! `Err(Failure)` for anything but success. A panic (a bug) becomes
//! `PAYWIRE_RESULT_PANIC` instead of unwinding into C, Go or Python.

use std::ffi::c_char;
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::result::paywire_result;

/// Why a call failed: its code and, when there is more to say, a description.
pub(crate) struct Failure {
    pub(crate) code: paywire_result,
    pub(crate) detail: Option<String>,
}

impl Failure {
    pub(crate) fn new(code: paywire_result, detail: impl Into<String>) -> Failure {
        Failure {
            code,
            detail: Some(detail.into()),
        }
    }

    /// A document the core refused: the code of its reason, the core's description.
    pub(crate) fn core(e: &paywire::Error) -> Failure {
        Failure::new(paywire_result::for_reason(e.reason()), e.to_string())
    }

    /// A setting (config, policy) the core refused: described without a protocol
    /// reason, since a setting is not a peer's document.
    pub(crate) fn setting(code: paywire_result, what: &str, e: &paywire::Error) -> Failure {
        let at = match (e.object(), e.field()) {
            ("", "") => String::new(),
            ("", f) | (f, "") => format!(" {f}"),
            (o, f) => format!(" {o}.{f}"),
        };
        Failure::new(code, format!("{what}{at}: {}", e.kind()))
    }
}

impl From<paywire_result> for Failure {
    fn from(code: paywire_result) -> Failure {
        Failure { code, detail: None }
    }
}

pub(crate) type Outcome = Result<(), Failure>;

/// The optional `(char *err_buf, size_t err_cap)` pair.
#[derive(Clone, Copy)]
pub(crate) struct ErrBuf {
    ptr: *mut c_char,
    cap: usize,
}

impl ErrBuf {
    pub(crate) const NONE: ErrBuf = ErrBuf {
        ptr: std::ptr::null_mut(),
        cap: 0,
    };

    pub(crate) fn new(ptr: *mut c_char, cap: usize) -> ErrBuf {
        ErrBuf { ptr, cap }
    }

    /// Writes `msg`, truncated at a character boundary to `cap - 1` bytes, and a NUL.
    ///
    /// # Safety
    /// `ptr`, when not NULL, is valid for `cap` bytes of writes.
    unsafe fn write(self, msg: &str) {
        if self.ptr.is_null() || self.cap == 0 {
            return;
        }
        let mut n = msg.len().min(self.cap - 1);
        while !msg.is_char_boundary(n) {
            n -= 1;
        }
        // SAFETY: the caller promised `cap` writable bytes; n + 1 <= cap.
        unsafe {
            std::ptr::copy_nonoverlapping(msg.as_ptr(), self.ptr.cast::<u8>(), n);
            *self.ptr.add(n) = 0;
        }
    }
}

/// Runs `body` inside the panic boundary and reports its outcome.
///
/// # Safety
/// `err` follows the `err_buf` rules of the header.
pub(crate) unsafe fn boundary(err: ErrBuf, body: impl FnOnce() -> Outcome) -> paywire_result {
    let (code, detail) = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => return paywire_result::Ok,
        Ok(Err(f)) => (f.code, f.detail),
        Err(_) => (paywire_result::Panic, None),
    };
    let text = detail.as_deref().unwrap_or(code.message());
    // SAFETY: forwarded from the caller.
    unsafe { err.write(text) };
    code
}

/// Borrows an input byte range.
///
/// # Safety
/// `ptr`, when not NULL, is valid for `len` bytes of reads for `'a`.
pub(crate) unsafe fn bytes<'a>(ptr: *const u8, len: usize) -> Result<&'a [u8], Failure> {
    if ptr.is_null() {
        return Err(paywire_result::NullParameter.into());
    }
    if isize::try_from(len).is_err() {
        return Err(paywire_result::InvalidArgument.into());
    }
    // SAFETY: non-NULL, length in range, validity promised by the caller.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// Borrows an input text (UTF-8, not NUL-terminated).
///
/// # Safety
/// As [`bytes`].
pub(crate) unsafe fn text<'a>(ptr: *const c_char, len: usize) -> Result<&'a str, Failure> {
    // SAFETY: forwarded.
    let b = unsafe { bytes(ptr.cast::<u8>(), len) }?;
    std::str::from_utf8(b).map_err(|_| paywire_result::InvalidUtf8.into())
}

/// Borrows an optional input (NULL: absent).
///
/// # Safety
/// As [`bytes`].
pub(crate) unsafe fn optional<'a>(ptr: *const u8, len: usize) -> Result<Option<&'a [u8]>, Failure> {
    if ptr.is_null() {
        Ok(None)
    } else {
        // SAFETY: forwarded.
        unsafe { bytes(ptr, len) }.map(Some)
    }
}

/// Reads a fixed 32-byte input.
///
/// # Safety
/// `ptr`, when not NULL, is valid for 32 bytes of reads.
pub(crate) unsafe fn array32(ptr: *const u8) -> Result<[u8; 32], Failure> {
    // SAFETY: forwarded.
    let b = unsafe { bytes(ptr, 32) }?;
    let mut a = [0u8; 32];
    a.copy_from_slice(b);
    Ok(a)
}

/// A fixed-size output (`uint8_t out[N]`), checked before any work.
pub(crate) struct Fixed<const N: usize>(*mut u8);

impl<const N: usize> Fixed<N> {
    pub(crate) fn new(ptr: *mut u8) -> Result<Self, Failure> {
        if ptr.is_null() {
            return Err(paywire_result::NullParameter.into());
        }
        Ok(Fixed(ptr))
    }

    /// # Safety
    /// The pointer is valid for `N` bytes of writes.
    pub(crate) unsafe fn put(self, v: &[u8; N]) {
        // SAFETY: promised by the caller.
        unsafe { std::ptr::copy_nonoverlapping(v.as_ptr(), self.0, N) };
    }
}

/// The `(uint8_t *out, size_t out_cap, size_t *out_len)` triple, checked before
/// any work.
pub(crate) struct Out {
    ptr: *mut u8,
    cap: usize,
    len: *mut usize,
}

impl Out {
    /// `out_len` must not be NULL; `out` may be NULL only when `out_cap` is 0.
    pub(crate) fn new(ptr: *mut u8, cap: usize, len: *mut usize) -> Result<Out, Failure> {
        if len.is_null() || (ptr.is_null() && cap != 0) {
            return Err(paywire_result::NullParameter.into());
        }
        Ok(Out { ptr, cap, len })
    }

    /// Writes `v` and its length, or only the length needed with
    /// `PAYWIRE_RESULT_INSUFFICIENT_SIZE`.
    ///
    /// # Safety
    /// `ptr` is valid for `cap` bytes of writes and `len` for one `size_t`.
    pub(crate) unsafe fn put(self, v: &[u8]) -> Outcome {
        // SAFETY: `len` is non-NULL (checked in `new`) and valid by contract.
        unsafe { *self.len = v.len() };
        if v.len() > self.cap {
            return Err(paywire_result::InsufficientSize.into());
        }
        if !v.is_empty() {
            // SAFETY: v.len() <= cap, so `ptr` is non-NULL and has room.
            unsafe { std::ptr::copy_nonoverlapping(v.as_ptr(), self.ptr, v.len()) };
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_a_code_and_a_message() {
        let mut buf = [0x55 as c_char; 16];
        let code = unsafe {
            boundary(ErrBuf::new(buf.as_mut_ptr(), buf.len()), || {
                #[allow(clippy::panic)]
                {
                    panic!("boom")
                }
            })
        };
        assert_eq!(code, paywire_result::Panic);
        let text: Vec<u8> = buf
            .iter()
            .take_while(|c| **c != 0)
            .map(|c| *c as u8)
            .collect();
        assert_eq!(text, &paywire_result::Panic.message().as_bytes()[..15]);
    }

    #[test]
    fn messages_truncate_at_a_character_boundary() {
        let mut buf = [0x55 as c_char; 4];
        unsafe { ErrBuf::new(buf.as_mut_ptr(), 4).write("aé€") };
        // "a" (1) + "é" (2) fits in 3 bytes; "€" (3) does not.
        assert_eq!(buf.map(|c| c as u8), [b'a', 0xc3, 0xa9, 0]);
        unsafe { ErrBuf::new(buf.as_mut_ptr(), 1).write("abc") };
        assert_eq!(buf[0], 0);
    }
}
