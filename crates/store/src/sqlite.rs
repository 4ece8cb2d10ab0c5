//! The SQLite backend: one file beside the configuration, the default for a single process.

use crate::error::{Result, StoreError};
use crate::migrate::Migration;
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

#[allow(
    clippy::duplicate_mod,
    reason = "the same SQL serves both backends: sql.rs is compiled once per backend"
)]
#[path = "sql.rs"]
mod sql;

type Db = sqlx::Sqlite;
type Store = SqliteStore;

/// Takes the write lock at once, so a transaction that reads and then writes never fails on
/// lock upgrade; other writers wait up to [`BUSY_TIMEOUT`].
const BEGIN_WRITE: &str = "BEGIN IMMEDIATE";
/// `BEGIN IMMEDIATE` already serialises migrations.
const LOCK_MIGRATIONS: Option<&str> = None;
/// `BEGIN IMMEDIATE` already serialises snapshot saves.
const LOCK_SOURCE: Option<&str> = None;
/// How long a writer waits for another one before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);
/// Connections to a file: readers run in parallel with the writer (WAL).
const MAX_CONNECTIONS: u32 = 4;

static MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "initial schema",
    sql: include_str!("../migrations/sqlite/0001_initial.sql"),
}];

/// The state in a SQLite database.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if missing) the database file at `path` and applies pending migrations.
    ///
    /// WAL journal (readers do not block the writer), `synchronous = NORMAL`, foreign keys on,
    /// and a busy timeout so concurrent writers wait for each other instead of failing.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .connect_with(options)
            .await
            .map_err(|source| StoreError::OpenSqlite {
                path: path.display().to_string(),
                source,
            })?;
        Self::migrated(pool).await
    }

    /// Opens an existing database file for reading only: nothing is created, migrated or
    /// switched to another journal mode (for `plan`, which writes nothing anywhere). A write
    /// through this store fails.
    pub async fn open_read_only(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let options = SqliteConnectOptions::new()
            .filename(path)
            .read_only(true)
            .create_if_missing(false)
            .busy_timeout(BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .connect_with(options)
            .await
            .map_err(|source| StoreError::OpenSqlite {
                path: path.display().to_string(),
                source,
            })?;
        sql::check_schema(&pool).await?;
        Ok(SqliteStore { pool })
    }

    /// A private database in memory, gone when the store is dropped (tests, dry runs).
    ///
    /// One connection that never expires, so every call sees the same database.
    pub async fn open_in_memory() -> Result<Self> {
        let options = SqliteConnectOptions::from_str("sqlite::memory:")
            .map_err(|source| StoreError::OpenSqlite {
                path: ":memory:".into(),
                source,
            })?
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await
            .map_err(|source| StoreError::OpenSqlite {
                path: ":memory:".into(),
                source,
            })?;
        Self::migrated(pool).await
    }

    async fn migrated(pool: SqlitePool) -> Result<Self> {
        sql::migrate(&pool).await?;
        Ok(SqliteStore { pool })
    }

    /// Closes every connection (checkpointing the WAL), waiting for running statements.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}
