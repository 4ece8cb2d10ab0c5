//! The sync state of personio-sync: what was read, what each target holds, what each run did.
//!
//! One port, [`StateStore`], with two implementations: [`SqliteStore`] (the default, one file)
//! and [`PostgresStore`] (several workers, an operator's existing database). [`open`] picks one
//! from a URL and returns an [`AnyStore`]. Both apply their migrations when opened and run the
//! same SQL, so one story test suite checks both.
//!
//! The store never reads a clock: every time is a parameter. It holds only what the engine gives
//! it, and keeps employee history bounded ([`MAX_HISTORY_VERSIONS`]).
//!
//! The rule that makes a crash safe: state is written only by [`StateStore::confirm`], after a
//! target confirmed an operation, in one transaction with the journal outcome and the log entry.
//! An intent without outcome ([`StateStore::open_intents`]) is an operation whose fate is unknown.

mod codec;
mod error;
mod migrate;
pub mod postgres;
pub mod sqlite;

pub use error::{Result, StoreError};
pub use postgres::{PostgresStore, redact_url};
pub use sqlite::SqliteStore;

use jiff::Timestamp;
use psync_model::{AppliedAccount, Employee, EmployeeId, Operation, Outcome, Plan};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::path::Path;

/// A run's id, assigned by the store.
pub type RunId = i64;

/// How many versions of one employee the store keeps per source; older ones are pruned.
///
/// HR data is kept no longer than needed (GDPR art. 5(1)(e)): enough to explain recent changes.
pub const MAX_HISTORY_VERSIONS: usize = 20;

/// One run: a sync, an approval, a check…
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRecord {
    /// The id.
    pub id: RunId,
    /// `"sync"`, `"approve"`, …
    pub kind: String,
    /// What started it: `"schedule"`, `"webhook"`, `"cli"`, …
    pub trigger: String,
    /// The source read, if any.
    pub source: Option<String>,
    /// The target written, if any.
    pub target: Option<String>,
    /// When it started.
    pub started_at: Timestamp,
    /// When it finished; `None` while running (or after a crash).
    pub finished_at: Option<Timestamp>,
    /// How it ended.
    pub status: RunStatus,
    /// `created`, `updated`, `disabled`, `enabled`, `deleted`, `failed`, `parked`, `unchanged`.
    pub counts: BTreeMap<String, u64>,
    /// A summary for people.
    pub message: Option<String>,
}

/// How a run ended (or that it has not).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Started, not finished (a crash leaves it so).
    Running,
    /// Everything applied.
    Succeeded,
    /// Stopped by an error.
    Failed,
    /// A guard held the plan for approval.
    Held,
    /// The held plan was rejected.
    Rejected,
    /// Finished, but some operations failed or were parked.
    Partial,
}

impl RunStatus {
    /// Every status.
    pub const ALL: [RunStatus; 6] = [
        RunStatus::Running,
        RunStatus::Succeeded,
        RunStatus::Failed,
        RunStatus::Held,
        RunStatus::Rejected,
        RunStatus::Partial,
    ];

    /// The lower-case name, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Held => "held",
            RunStatus::Rejected => "rejected",
            RunStatus::Partial => "partial",
        }
    }

    /// The status named `s`.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == s)
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One line of a person's provisioning log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    /// When.
    pub at: Timestamp,
    /// In which run.
    pub run: RunId,
    /// In which target.
    pub target: String,
    /// Whose account.
    pub person: EmployeeId,
    /// The operation kind (`create`, `update`, `disable`, `enable`, `delete`).
    pub action: String,
    /// `"ok"`, `"unchanged"`, `"failed"` or `"parked"`.
    pub result: String,
    /// The target's id, the error…
    pub detail: Option<String>,
}

/// One journal entry: an operation's intent and, once known, its outcome or failure.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JournalEntry {
    /// The journal id.
    pub id: i64,
    /// The run that planned it.
    pub run: RunId,
    /// The target it was for.
    pub target: String,
    /// The person it was about.
    pub person: EmployeeId,
    /// The operation as planned.
    pub operation: Operation,
    /// When it was journaled, before the target was called.
    pub intent_at: Timestamp,
    /// What the target reported, when it confirmed.
    pub outcome: Option<Outcome>,
    /// The failure's kind and message, when it failed.
    pub failure: Option<(String, String)>,
    /// Whether it was given up for its run (planned again next run).
    pub parked: bool,
    /// When an outcome or failure was recorded; `None` while open.
    pub resolved_at: Option<Timestamp>,
}

/// What [`StateStore::save_snapshot`] found, compared with the previous read of the source.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotStats {
    /// Employees in this read.
    pub employees: usize,
    /// Seen for the first time (first history version written).
    pub new: usize,
    /// Different from their last version (a new version written).
    pub changed: usize,
    /// Identical to their last version (nothing written).
    pub unchanged: usize,
}

/// The state store port. Every method is one transaction.
///
/// The futures are `Send`, so an engine generic over the store can run on `tokio::spawn`.
/// One confirmed operation, for [`StateStore::confirm_many`].
#[derive(Debug, Clone)]
pub struct Confirmation {
    /// The journal entry of the operation's intent.
    pub journal_id: i64,
    /// The person.
    pub person: EmployeeId,
    /// What the target reported.
    pub outcome: Outcome,
    /// The account's state now (`None` = the account is gone).
    pub new_state: Option<AppliedAccount>,
}

pub trait StateStore: Send + Sync {
    /// Records the start of a run (status [`RunStatus::Running`]).
    fn start_run(
        &self,
        kind: &str,
        trigger: &str,
        source: Option<&str>,
        target: Option<&str>,
        at: Timestamp,
    ) -> impl Future<Output = Result<RunId>> + Send;

    /// Records how a run ended.
    fn finish_run(
        &self,
        run: RunId,
        status: RunStatus,
        counts: &BTreeMap<String, u64>,
        message: Option<&str>,
        at: Timestamp,
    ) -> impl Future<Output = Result<()>> + Send;

    /// The latest `limit` runs, newest first.
    fn runs(&self, limit: usize) -> impl Future<Output = Result<Vec<RunRecord>>> + Send;

    /// One run.
    fn run(&self, id: RunId) -> impl Future<Output = Result<Option<RunRecord>>> + Send;

    /// Saves a full read of `source`: a new history version only for employees whose canonical
    /// JSON changed, and the read's size (for [`StateStore::last_read_count`]).
    fn save_snapshot(
        &self,
        source: &str,
        run: RunId,
        employees: &[Employee],
        at: Timestamp,
    ) -> impl Future<Output = Result<SnapshotStats>> + Send;

    /// The size of the last saved full read of `source`; `None` before the first.
    fn last_read_count(&self, source: &str) -> impl Future<Output = Result<Option<usize>>> + Send;

    /// The stored versions of one employee, oldest first (at most [`MAX_HISTORY_VERSIONS`]).
    fn employee_history(
        &self,
        source: &str,
        id: &EmployeeId,
    ) -> impl Future<Output = Result<Vec<(Timestamp, RunId, Employee)>>> + Send;

    /// What `target` holds according to the confirmed operations.
    fn applied(
        &self,
        target: &str,
    ) -> impl Future<Output = Result<BTreeMap<EmployeeId, AppliedAccount>>> + Send;

    /// Journals an operation before the target is called; returns the journal id.
    fn journal_intent(
        &self,
        run: RunId,
        target: &str,
        op: &Operation,
        at: Timestamp,
    ) -> impl Future<Output = Result<i64>> + Send;

    /// Journals several operations in one transaction (for batch targets); ids in input order.
    fn journal_intents(
        &self,
        run: RunId,
        target: &str,
        ops: &[Operation],
        at: Timestamp,
    ) -> impl Future<Output = Result<Vec<i64>>> + Send;

    /// Confirms several operations in one transaction: each as [`StateStore::confirm`] does,
    /// all or none (for batch targets, whose writes become durable together).
    fn confirm_many(
        &self,
        target: &str,
        items: &[Confirmation],
        at: Timestamp,
    ) -> impl Future<Output = Result<()>> + Send;

    /// The target confirmed the operation: in ONE transaction, the journal outcome, the applied
    /// state (`None` = the account is gone) and a provisioning log entry.
    fn confirm(
        &self,
        journal_id: i64,
        target: &str,
        person: &EmployeeId,
        outcome: &Outcome,
        new_state: Option<&AppliedAccount>,
        at: Timestamp,
    ) -> impl Future<Output = Result<()>> + Send;

    /// The operation failed (`parked`: given up for this run); applied state is untouched.
    /// Writes a log entry in the same transaction.
    fn fail(
        &self,
        journal_id: i64,
        kind: &str,
        message: &str,
        parked: bool,
        at: Timestamp,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Intents of `target` with neither outcome nor failure (a crash in between), oldest first.
    fn open_intents(
        &self,
        target: &str,
    ) -> impl Future<Output = Result<Vec<(i64, RunId, Operation)>>> + Send;

    /// Keeps a plan that a guard held, until a person approves or rejects it.
    fn hold_plan(
        &self,
        run: RunId,
        plan: &Plan,
        at: Timestamp,
    ) -> impl Future<Output = Result<()>> + Send;

    /// The plans waiting for a decision, oldest run first.
    fn held_plans(&self) -> impl Future<Output = Result<Vec<(RunId, Plan)>>> + Send;

    /// Approves or rejects the plan held for `run`; returns it, or `None` if none is waiting.
    fn resolve_held(
        &self,
        run: RunId,
        approved: bool,
        at: Timestamp,
    ) -> impl Future<Output = Result<Option<Plan>>> + Send;

    /// The latest `limit` provisioning log entries of a person, newest first.
    fn person_log(
        &self,
        person: &EmployeeId,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<LogEntry>>> + Send;

    /// Every journal entry of a run, in journal order.
    fn run_operations(&self, run: RunId) -> impl Future<Output = Result<Vec<JournalEntry>>> + Send;

    /// Operations that failed or were parked and are still the latest journal entry of their
    /// person in their target (open problems: nothing was tried since), newest first; of one
    /// target, or of all with `None`.
    fn parked_operations(
        &self,
        target: Option<&str>,
    ) -> impl Future<Output = Result<Vec<JournalEntry>>> + Send;

    /// The latest snapshot of every employee whose id, first, last or preferred name or e-mail
    /// contains `query` (case-insensitive), as `(source, employee)`, ordered by source and id,
    /// at most `limit`. A blank query matches everyone.
    fn search_employees(
        &self,
        query: &str,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<(String, Employee)>>> + Send;
}

/// Either backend, chosen at run time from a URL (see [`open`]).
#[derive(Debug, Clone)]
pub enum AnyStore {
    /// A SQLite file (or memory).
    Sqlite(SqliteStore),
    /// A PostgreSQL database.
    Postgres(PostgresStore),
}

/// Opens a store for reading only (`plan`): a SQLite file that does not exist yet stands in as
/// an empty in-memory store, an existing one is opened read-only without migrations;
/// PostgreSQL is opened as usual (its migrations write nothing when the schema is current).
pub async fn open_read_only(url: &str) -> Result<AnyStore> {
    match url.strip_prefix("sqlite://") {
        Some(path) if !Path::new(path).exists() => open("sqlite::memory:").await,
        Some(path) => Ok(AnyStore::Sqlite(SqliteStore::open_read_only(path).await?)),
        None => open(url).await,
    }
}

/// Opens the state database named by `url` and applies pending migrations.
///
/// * `sqlite://PATH`: a file, created if missing (WAL journal, busy timeout, foreign keys);
/// * `sqlite::memory:`: a private in-memory database (tests, dry runs);
/// * `postgres://…` or `postgresql://…`: the schema of the URL's user (`search_path`).
pub async fn open(url: &str) -> Result<AnyStore> {
    if url == "sqlite::memory:" {
        Ok(AnyStore::Sqlite(SqliteStore::open_in_memory().await?))
    } else if let Some(path) = url.strip_prefix("sqlite://") {
        Ok(AnyStore::Sqlite(SqliteStore::open(path).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(AnyStore::Postgres(PostgresStore::connect(url).await?))
    } else {
        Err(StoreError::UnsupportedUrl {
            url: postgres::redact_url(url),
        })
    }
}

impl AnyStore {
    /// The backend's name: `"sqlite"` or `"postgres"`.
    pub fn backend(&self) -> &'static str {
        match self {
            AnyStore::Sqlite(_) => "sqlite",
            AnyStore::Postgres(_) => "postgres",
        }
    }

    /// Closes every connection, waiting for them to finish.
    pub async fn close(&self) {
        match self {
            AnyStore::Sqlite(store) => store.close().await,
            AnyStore::Postgres(store) => store.close().await,
        }
    }
}

/// Calls the same method on whichever backend `self` is.
macro_rules! dispatch {
    ($self:ident . $method:ident ( $($arg:expr),* )) => {
        match $self {
            AnyStore::Sqlite(store) => store.$method($($arg),*).await,
            AnyStore::Postgres(store) => store.$method($($arg),*).await,
        }
    };
}

impl StateStore for AnyStore {
    async fn start_run(
        &self,
        kind: &str,
        trigger: &str,
        source: Option<&str>,
        target: Option<&str>,
        at: Timestamp,
    ) -> Result<RunId> {
        dispatch!(self.start_run(kind, trigger, source, target, at))
    }

    async fn finish_run(
        &self,
        run: RunId,
        status: RunStatus,
        counts: &BTreeMap<String, u64>,
        message: Option<&str>,
        at: Timestamp,
    ) -> Result<()> {
        dispatch!(self.finish_run(run, status, counts, message, at))
    }

    async fn runs(&self, limit: usize) -> Result<Vec<RunRecord>> {
        dispatch!(self.runs(limit))
    }

    async fn run(&self, id: RunId) -> Result<Option<RunRecord>> {
        dispatch!(self.run(id))
    }

    async fn save_snapshot(
        &self,
        source: &str,
        run: RunId,
        employees: &[Employee],
        at: Timestamp,
    ) -> Result<SnapshotStats> {
        dispatch!(self.save_snapshot(source, run, employees, at))
    }

    async fn last_read_count(&self, source: &str) -> Result<Option<usize>> {
        dispatch!(self.last_read_count(source))
    }

    async fn employee_history(
        &self,
        source: &str,
        id: &EmployeeId,
    ) -> Result<Vec<(Timestamp, RunId, Employee)>> {
        dispatch!(self.employee_history(source, id))
    }

    async fn applied(&self, target: &str) -> Result<BTreeMap<EmployeeId, AppliedAccount>> {
        dispatch!(self.applied(target))
    }

    async fn journal_intent(
        &self,
        run: RunId,
        target: &str,
        op: &Operation,
        at: Timestamp,
    ) -> Result<i64> {
        dispatch!(self.journal_intent(run, target, op, at))
    }

    async fn confirm(
        &self,
        journal_id: i64,
        target: &str,
        person: &EmployeeId,
        outcome: &Outcome,
        new_state: Option<&AppliedAccount>,
        at: Timestamp,
    ) -> Result<()> {
        dispatch!(self.confirm(journal_id, target, person, outcome, new_state, at))
    }

    async fn journal_intents(
        &self,
        run: RunId,
        target: &str,
        ops: &[Operation],
        at: Timestamp,
    ) -> Result<Vec<i64>> {
        dispatch!(self.journal_intents(run, target, ops, at))
    }

    async fn confirm_many(
        &self,
        target: &str,
        items: &[Confirmation],
        at: Timestamp,
    ) -> Result<()> {
        dispatch!(self.confirm_many(target, items, at))
    }

    async fn fail(
        &self,
        journal_id: i64,
        kind: &str,
        message: &str,
        parked: bool,
        at: Timestamp,
    ) -> Result<()> {
        dispatch!(self.fail(journal_id, kind, message, parked, at))
    }

    async fn open_intents(&self, target: &str) -> Result<Vec<(i64, RunId, Operation)>> {
        dispatch!(self.open_intents(target))
    }

    async fn hold_plan(&self, run: RunId, plan: &Plan, at: Timestamp) -> Result<()> {
        dispatch!(self.hold_plan(run, plan, at))
    }

    async fn held_plans(&self) -> Result<Vec<(RunId, Plan)>> {
        dispatch!(self.held_plans())
    }

    async fn resolve_held(
        &self,
        run: RunId,
        approved: bool,
        at: Timestamp,
    ) -> Result<Option<Plan>> {
        dispatch!(self.resolve_held(run, approved, at))
    }

    async fn person_log(&self, person: &EmployeeId, limit: usize) -> Result<Vec<LogEntry>> {
        dispatch!(self.person_log(person, limit))
    }

    async fn run_operations(&self, run: RunId) -> Result<Vec<JournalEntry>> {
        dispatch!(self.run_operations(run))
    }

    async fn parked_operations(&self, target: Option<&str>) -> Result<Vec<JournalEntry>> {
        dispatch!(self.parked_operations(target))
    }

    async fn search_employees(&self, query: &str, limit: usize) -> Result<Vec<(String, Employee)>> {
        dispatch!(self.search_employees(query, limit))
    }
}
