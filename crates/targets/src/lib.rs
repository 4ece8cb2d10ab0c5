//! Target connectors: the [`Target`] trait every downstream system implements, the error kinds
//! that decide retry policy, the [`file`](mod@file) target and the [`testkit`] conformance suite
//! every target passes. The closed set of connectors (`AnyTarget`) is in `psync-connectors`.
//!
//! A target only executes the planner's operations and reports an [`Outcome`](psync_model::Outcome);
//! it never decides what changed and never writes sync state (the engine does, once a target
//! confirmed an operation, and for [`Target::batched`] targets only after `finish`).

mod error;
pub mod file;
mod target;
pub mod testkit;

pub use error::{ErrorKind, TargetError};
pub use target::{RunInfo, RunReport, Target};

/// One problem in a target's configuration; `path` is relative to the `[[target]]` table
/// (`formats`, `columns[2]`, `name`), so the caller prefixes it with the target's location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// The key concerned.
    pub path: String,
    /// What is wrong and what to do.
    pub message: String,
}

impl std::fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}
