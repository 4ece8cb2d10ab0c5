//! One sync per target at a time: an exclusive lock file per (state store, target), held for
//! the whole plan-and-apply of that target. The operating system releases it when the process
//! ends, so a crash never leaves a stale lock behind.
//!
//! This covers every process on one host (cron overlapping itself, `serve` beside a manual
//! `sync`). Workers on several hosts sharing PostgreSQL need a lock in the database as well.

use crate::error::EngineError;
use std::fs::{File, OpenOptions, TryLockError};
use std::hash::{Hash, Hasher};
use std::path::PathBuf;

/// Held while a target is being synced; dropping it releases the lock.
#[derive(Debug)]
pub(crate) struct TargetLock {
    _file: File,
}

/// Where lock files live: beside a SQLite state file, else in the temp directory.
pub(crate) fn lock_dir(state_url: &str) -> PathBuf {
    state_url
        .strip_prefix("sqlite://")
        .map(PathBuf::from)
        .and_then(|p| {
            p.parent().map(|d| {
                if d.as_os_str().is_empty() {
                    PathBuf::from(".")
                } else {
                    d.to_path_buf()
                }
            })
        })
        .unwrap_or_else(std::env::temp_dir)
}

impl TargetLock {
    /// Takes the lock for `target` of the store at `state_url`, or says who holds it.
    pub(crate) fn acquire(
        dir: &std::path::Path,
        state_url: &str,
        target: &str,
    ) -> Result<TargetLock, EngineError> {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        state_url.hash(&mut hasher);
        target.hash(&mut hasher);
        let path = dir.join(format!(".personio-sync-{:016x}.lock", hasher.finish()));
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| {
                EngineError::Busy(format!(
                    "cannot create the lock file {}: {e}",
                    path.display()
                ))
            })?;
        match file.try_lock() {
            Ok(()) => Ok(TargetLock { _file: file }),
            Err(TryLockError::WouldBlock) => Err(EngineError::Busy(format!(
                "target '{target}' is being synced by another run right now; try again when it has finished"
            ))),
            Err(TryLockError::Error(e)) => Err(EngineError::Busy(format!(
                "cannot lock {}: {e}",
                path.display()
            ))),
        }
    }
}
