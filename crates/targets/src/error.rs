//! `TargetError` and its [`ErrorKind`]: the one place that decides what the engine does when a
//! target fails (retry, re-plan, park, stop).

use std::fmt;

/// What kind of failure, so the engine decides retry policy without parsing messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorKind {
    /// Temporary (network, 5xx, 429, timeouts): retry the same operation later, with backoff.
    Transient,
    /// The target's state differs from what the operation assumed (the account already exists
    /// and may not be adopted, or it vanished): re-read and re-plan this person; if it persists,
    /// park the operation with the message.
    Conflict,
    /// The target refuses this record (validation, uniqueness, unsupported value): retrying the
    /// same record cannot help. Park the operation and go on with the others.
    Rejected,
    /// The target as a whole cannot work (configuration, credentials, permissions, disk): stop
    /// the run for this target and mark it unhealthy.
    Fatal,
}

impl ErrorKind {
    /// A stable lower-case name for logs, metrics and the state store.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Transient => "transient",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Rejected => "rejected",
            ErrorKind::Fatal => "fatal",
        }
    }

    /// Whether retrying the same operation unchanged may succeed.
    pub fn is_retryable(self) -> bool {
        matches!(self, ErrorKind::Transient)
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failure of one target operation, worded for the operator (what, where, what to do next).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TargetError {
    /// What kind of failure; decides the engine's reaction.
    pub kind: ErrorKind,
    /// What went wrong and what to do about it.
    pub message: String,
}

impl TargetError {
    /// An error of the given kind.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        TargetError {
            kind,
            message: message.into(),
        }
    }

    /// A temporary failure: retry later.
    pub fn transient(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Transient, message)
    }

    /// The target's state differs from what the operation assumed.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, message)
    }

    /// The target refuses this record.
    pub fn rejected(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Rejected, message)
    }

    /// The target cannot work at all.
    pub fn fatal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Fatal, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constructors_set_the_kind_and_display_the_message() {
        let e = TargetError::rejected("bad record");
        assert_eq!(e.kind, ErrorKind::Rejected);
        assert_eq!(e.to_string(), "bad record");
        assert_eq!(TargetError::fatal("x").kind.as_str(), "fatal");
        assert!(TargetError::transient("x").kind.is_retryable());
        assert!(!TargetError::conflict("x").kind.is_retryable());
    }
}
