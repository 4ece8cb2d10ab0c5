//! What can stop a sync of a target, classified so the caller knows what to tell the operator.

use psync_personio::PersonioError;
use psync_store::StoreError;

/// Why a sync (or part of it) did not run to the end.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// Reading from Personio failed.
    #[error(transparent)]
    Source(#[from] PersonioError),
    /// The state store failed; nothing is applied without it.
    #[error("state store: {0}")]
    Store(#[from] StoreError),
    /// The read looks wrong (empty, or much smaller than last time): nothing was written.
    #[error("source '{source_name}': {message}")]
    InsaneSource {
        /// The Personio account.
        source_name: String,
        /// What was seen and what to do.
        message: String,
    },
    /// A target could not be asked what it holds before planning (its groups); nothing was written.
    #[error("target '{target}': {error}")]
    Target {
        /// The target's name.
        target: String,
        /// What the target answered.
        error: psync_targets::TargetError,
    },
    /// The named target or source does not exist in the configuration.
    #[error("{0}")]
    Unknown(String),
    /// A held plan cannot be approved or rejected.
    #[error("{0}")]
    NotHeld(String),
    /// Another run is syncing the same target.
    #[error("{0}")]
    Busy(String),
    /// A crash injected by a test at a step boundary.
    #[error("injected failure at {0}")]
    Injected(String),
}
