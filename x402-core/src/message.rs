//! A short text for people (`invalidMessage`, `errorMessage`), kept on the stack.

use core::fmt;

/// Capacity of a [`Message`] in bytes.
pub const MESSAGE_CAPACITY: usize = 240;

/// A message for people, kept on the stack so that verdicts need no allocation.
/// Text beyond [`MESSAGE_CAPACITY`] bytes is cut at a character boundary.
///
/// ```
/// use paywire::message::Message;
/// let m = Message::new(&format_args!("validBefore {} is past", 17));
/// assert_eq!(m.as_str(), "validBefore 17 is past");
/// ```
#[derive(Clone, Copy)]
pub struct Message {
    buf: [u8; MESSAGE_CAPACITY],
    len: u8,
}

impl Message {
    /// No text.
    pub const EMPTY: Message = Message {
        buf: [0; MESSAGE_CAPACITY],
        len: 0,
    };

    /// The text `d` displays as.
    #[must_use]
    pub fn new(d: &dyn fmt::Display) -> Message {
        let mut m = Message::EMPTY;
        let _ = fmt::Write::write_fmt(&mut m, format_args!("{d}"));
        m
    }

    /// The text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        let bytes = self.buf.get(..usize::from(self.len)).unwrap_or_default();
        // Writes stop at character boundaries, so the bytes are always UTF-8.
        core::str::from_utf8(bytes).unwrap_or("")
    }

    /// Whether there is no text.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl fmt::Write for Message {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let used = usize::from(self.len);
        let mut n = s.len().min(MESSAGE_CAPACITY - used);
        while !s.is_char_boundary(n) {
            n -= 1;
        }
        if let (Some(dst), Some(src)) = (self.buf.get_mut(used..used + n), s.as_bytes().get(..n)) {
            dst.copy_from_slice(src);
            self.len = (used + n) as u8;
        }
        Ok(())
    }
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq for Message {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Message {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncates_at_a_character_boundary() {
        let long = "é".repeat(200);
        let m = Message::new(&long);
        assert_eq!(m.as_str().len(), MESSAGE_CAPACITY);
        assert!(long.starts_with(m.as_str()));
        assert!(Message::EMPTY.is_empty());
    }
}
