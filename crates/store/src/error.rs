//! What can go wrong with the state database, worded so the operator knows what to do next.

use crate::RunId;

/// An error of the state store.
///
/// Opening errors say where the database is and what to check; errors during a run name the
/// step that failed. No message contains a password.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL names no backend this build knows.
    #[error(
        "unsupported state database URL `{url}`: use sqlite://PATH (a file, created if missing), \
         sqlite::memory: (tests only) or postgres://USER@HOST:PORT/DATABASE"
    )]
    UnsupportedUrl {
        /// The URL as given, without its password.
        url: String,
    },

    /// A PostgreSQL URL or schema name could not be understood.
    #[error("invalid PostgreSQL settings: {reason}")]
    InvalidPostgres {
        /// What is wrong.
        reason: String,
    },

    /// The SQLite file could not be opened or created.
    #[error(
        "cannot open the SQLite state file {path}: {source}; check that the directory exists \
         and is writable by this user, and that no other program holds the file locked"
    )]
    OpenSqlite {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: sqlx::Error,
    },

    /// PostgreSQL did not accept a connection.
    #[error(
        "cannot reach PostgreSQL at {server}: {source}; check that the server is running and \
         reachable, that the user, password and database in the URL are right, and that the \
         database exists"
    )]
    ConnectPostgres {
        /// `user@host:port/database`, never the password.
        server: String,
        /// The cause.
        #[source]
        source: sqlx::Error,
    },

    /// A schema migration failed; its transaction was rolled back.
    #[error(
        "state database migration {version} ({name}) failed: {source}; nothing of it was \
         applied, the database is unchanged: fix the cause (permissions, disk space) and start again"
    )]
    Migration {
        /// The migration's number.
        version: i64,
        /// The migration's name.
        name: String,
        /// The cause.
        #[source]
        source: sqlx::Error,
    },

    /// An applied migration's text differs from the one this build carries.
    #[error(
        "state database migration {version} ({name}) was changed after it had been applied to \
         this database; a released migration must never be edited: restore it and put the change \
         into a new migration"
    )]
    MigrationChanged {
        /// The migration's number.
        version: i64,
        /// The migration's name.
        name: String,
    },

    /// A read-only open found a database that still needs migrations (which would write).
    #[error(
        "the state database has schema version {found}, this release needs {known}; a read-only \
         command cannot upgrade it: run `personio-sync sync` (or any command that writes) once"
    )]
    SchemaTooOld {
        /// The highest version in the database.
        found: i64,
        /// The highest version this build knows.
        known: i64,
    },

    /// The database was migrated by a newer release.
    #[error(
        "the state database has schema version {found}, but this release of personio-sync \
         knows only up to {known}: it was written by a newer release; upgrade personio-sync \
         (or restore a backup taken before the upgrade)"
    )]
    SchemaTooNew {
        /// The highest version in the database.
        found: i64,
        /// The highest version this build knows.
        known: i64,
    },

    /// A statement failed.
    #[error("state database error while {doing}: {source}")]
    Database {
        /// What the store was doing ("saving the snapshot").
        doing: &'static str,
        /// The cause.
        #[source]
        source: sqlx::Error,
    },

    /// A stored value could not be decoded.
    #[error(
        "stored {what} cannot be read ({detail}); the state database was changed outside \
         personio-sync or by an incompatible release"
    )]
    Corrupt {
        /// What was being read ("plan of run 7").
        what: String,
        /// Why it could not be read.
        detail: String,
    },

    /// A value could not be stored.
    #[error("cannot store {what}: {detail}")]
    Unstorable {
        /// What was being stored.
        what: String,
        /// Why not.
        detail: String,
    },

    /// The run does not exist.
    #[error("run {0} does not exist in the state database")]
    UnknownRun(RunId),

    /// The journal entry does not exist, or belongs to another target or person.
    #[error("journal entry {id} does not exist{for_whom}")]
    UnknownJournalEntry {
        /// The entry's id.
        id: i64,
        /// `" for target `x` and person 7"`, or empty.
        for_whom: String,
    },

    /// The journal entry already has an outcome or a failure.
    #[error("journal entry {0} is already resolved; an operation is confirmed or failed once")]
    JournalResolved(i64),

    /// A plan is already held for the run.
    #[error("run {0} already has a held plan")]
    AlreadyHeld(RunId),

    /// The same person appears twice in one read.
    #[error(
        "the read of source `{source_name}` contains employee {person} more than once; \
         nothing was saved"
    )]
    DuplicateEmployee {
        /// The source.
        source_name: String,
        /// The person.
        person: String,
    },
}

/// Results of the state store.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Wraps a database error with what the store was doing.
pub(crate) fn db(doing: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |source| StoreError::Database { doing, source }
}
