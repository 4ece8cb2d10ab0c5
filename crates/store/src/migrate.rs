//! Schema migrations: SQL files embedded in the binary, one folder per backend.
//!
//! `migrations/<backend>/NNNN_name.sql` is applied once, in order, in one transaction with the
//! others pending (see `sql::migrate`). A released migration is never edited: its checksum is
//! stored and checked at every open; changes go into a new file.

/// One migration.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Migration {
    /// Applied in ascending order; recorded in `psync_migrations`.
    pub(crate) version: i64,
    /// A short name for messages.
    pub(crate) name: &'static str,
    /// The statements.
    pub(crate) sql: &'static str,
}
