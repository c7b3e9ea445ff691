//! Failures a person can act on: what went wrong, the field concerned, the
//! protocol reason when there is one, and hints; printed without backtraces.

use std::fmt::Write as _;

use crate::out::J;

/// Exit status of a protocol-level "no": an invalid payment, a malformed header,
/// a payment refused by a server, a failed demo step.
pub(crate) const EXIT_INVALID: u8 = 1;
/// Exit status of a usage or I/O error.
pub(crate) const EXIT_USAGE: u8 = 2;

/// A failure of a command.
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    /// The exit status: [`EXIT_INVALID`] or [`EXIT_USAGE`].
    pub(crate) code: u8,
    /// What went wrong, in one sentence.
    pub(crate) message: String,
    /// The protocol's reason string, when the failure is one.
    pub(crate) reason: Option<&'static str>,
    /// The field concerned (`accepted.amount`), when known.
    pub(crate) field: Option<String>,
    /// What to try next.
    pub(crate) hints: Vec<String>,
}

impl Failure {
    /// A usage error (exit 2).
    pub(crate) fn usage(message: impl Into<String>) -> Failure {
        Failure {
            code: EXIT_USAGE,
            message: message.into(),
            reason: None,
            field: None,
            hints: Vec::new(),
        }
    }

    /// An I/O error (exit 2), with what was being done.
    pub(crate) fn io(context: impl std::fmt::Display, err: impl std::fmt::Display) -> Failure {
        Failure::usage(format!("{context}: {err}"))
    }

    /// A protocol-level failure (exit 1).
    pub(crate) fn invalid(message: impl Into<String>) -> Failure {
        Failure {
            code: EXIT_INVALID,
            ..Failure::usage(message)
        }
    }

    /// A core error (exit 1), prefixed with what was being read.
    pub(crate) fn core(context: &str, e: &paywire::Error) -> Failure {
        let field = field_of(e);
        Failure {
            code: EXIT_INVALID,
            message: format!("{context}: {e}"),
            reason: Some(e.reason().as_str()),
            field,
            hints: Vec::new(),
        }
    }

    /// Adds a hint.
    pub(crate) fn hint(mut self, hint: impl Into<String>) -> Failure {
        self.hints.push(hint.into());
        self
    }

    /// The failure as JSON: `{"error": {message, reason?, field?, hints?}}`.
    pub(crate) fn to_json(&self) -> J {
        let mut e = vec![("message", J::str(&self.message))];
        if let Some(r) = self.reason {
            e.push(("reason", J::str(r)));
        }
        if let Some(f) = &self.field {
            e.push(("field", J::str(f)));
        }
        if !self.hints.is_empty() {
            e.push(("hints", J::Arr(self.hints.iter().map(J::str).collect())));
        }
        J::obj(vec![("error", J::obj(e))])
    }

    /// The failure for people: `paywire CMD: MESSAGE` and a line per hint.
    pub(crate) fn to_text(&self, command: &str) -> String {
        let mut s = String::new();
        let prefix = if command.is_empty() {
            "paywire".to_string()
        } else {
            format!("paywire {command}")
        };
        let _ = writeln!(s, "{prefix}: {}", self.message);
        for h in &self.hints {
            let _ = writeln!(s, "  hint: {h}");
        }
        s
    }
}

/// `object.field` of a core error, when it names one.
pub(crate) fn field_of(e: &paywire::Error) -> Option<String> {
    match (e.object(), e.field()) {
        ("", "") => None,
        ("", f) => Some(f.to_string()),
        (o, "") => Some(o.to_string()),
        (o, f) => Some(format!("{o}.{f}")),
    }
}
