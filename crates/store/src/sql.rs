//! The statements and transactions behind [`StateStore`], written once for both backends.
//!
//! This file is compiled twice, as `sqlite::sql` and `postgres::sql`; the parent module supplies
//! `Db` (the sqlx database), `Store` (the struct with a `pool`), `BEGIN_WRITE`,
//! `LOCK_MIGRATIONS`, `LOCK_SOURCE` and `MIGRATIONS`. The SQL is the common dialect of SQLite and PostgreSQL
//! (`$n` parameters, `RETURNING`, `ON CONFLICT`), so both backends run the same statements and
//! one story test suite covers both. Only the migrations differ (one folder per backend).

use super::{BEGIN_WRITE, Db, LOCK_MIGRATIONS, LOCK_SOURCE, MIGRATIONS, Store};
use crate::codec::{from_json, hash_hex, time_from_db, time_to_db, to_i64, to_json};
use crate::error::{Result, StoreError, db};
use crate::{
    Confirmation, JournalEntry, LogEntry, MAX_HISTORY_VERSIONS, RunId, RunRecord, RunStatus,
    SnapshotStats, StateStore,
};
use jiff::Timestamp;
use psync_model::{AppliedAccount, Employee, EmployeeId, MatchBy, Operation, Outcome, Plan};
use sqlx::{Pool, QueryBuilder, Transaction};
use std::collections::{BTreeMap, HashMap, HashSet};

/// Rows per multi-row INSERT: 7 parameters each stays far below both backends' limits.
const ROWS_PER_INSERT: usize = 1000;

/// Checks, without writing, that the database has exactly the migrations this build knows.
#[allow(
    dead_code,
    reason = "only the SQLite backend opens read-only; this file is compiled once per backend"
)]
pub(super) async fn check_schema(pool: &Pool<Db>) -> Result<()> {
    let found: Option<i64> =
        sqlx::query_scalar::<Db, Option<i64>>("SELECT MAX(version) FROM psync_migrations")
            .fetch_one(pool)
            .await
            .map_err(db("reading the applied migrations"))?;
    let found = found.unwrap_or(0);
    let known = MIGRATIONS.iter().map(|m| m.version).max().unwrap_or(0);
    match found.cmp(&known) {
        std::cmp::Ordering::Less => Err(StoreError::SchemaTooOld { found, known }),
        std::cmp::Ordering::Greater => Err(StoreError::SchemaTooNew { found, known }),
        std::cmp::Ordering::Equal => Ok(()),
    }
}

/// Applies the migrations this database lacks, all in one transaction.
///
/// Each applied migration is recorded with a checksum of its text; a changed released migration
/// or a database from a newer release stops the open instead of guessing.
pub(super) async fn migrate(pool: &Pool<Db>) -> Result<()> {
    let mut tx = pool
        .begin_with(BEGIN_WRITE)
        .await
        .map_err(db("starting the migration"))?;
    if let Some(lock) = LOCK_MIGRATIONS {
        sqlx::raw_sql(lock)
            .execute(&mut *tx)
            .await
            .map_err(db("locking the migrations"))?;
    }
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS psync_migrations (
             version  BIGINT NOT NULL PRIMARY KEY,
             name     TEXT   NOT NULL,
             checksum TEXT   NOT NULL
         )",
    )
    .execute(&mut *tx)
    .await
    .map_err(db("creating the migrations table"))?;
    let applied: HashMap<i64, String> =
        sqlx::query_as::<Db, (i64, String)>("SELECT version, checksum FROM psync_migrations")
            .fetch_all(&mut *tx)
            .await
            .map_err(db("reading the applied migrations"))?
            .into_iter()
            .collect();

    let known = MIGRATIONS.iter().map(|m| m.version).max().unwrap_or(0);
    if let Some(&found) = applied.keys().filter(|&&v| v > known).max() {
        return Err(StoreError::SchemaTooNew { found, known });
    }
    for migration in MIGRATIONS {
        let checksum = hash_hex(migration.sql);
        match applied.get(&migration.version) {
            Some(stored) if *stored == checksum => continue,
            Some(_) => {
                return Err(StoreError::MigrationChanged {
                    version: migration.version,
                    name: migration.name.to_string(),
                });
            }
            None => {}
        }
        let failed = |source| StoreError::Migration {
            version: migration.version,
            name: migration.name.to_string(),
            source,
        };
        sqlx::raw_sql(migration.sql)
            .execute(&mut *tx)
            .await
            .map_err(failed)?;
        sqlx::query::<Db>(
            "INSERT INTO psync_migrations (version, name, checksum) VALUES ($1, $2, $3)",
        )
        .bind(migration.version)
        .bind(migration.name)
        .bind(&checksum)
        .execute(&mut *tx)
        .await
        .map_err(failed)?;
    }
    tx.commit().await.map_err(db("committing the migrations"))
}

/// A run as stored.
type RunRow = (
    i64,
    String,
    String,
    Option<String>,
    Option<String>,
    i64,
    Option<i64>,
    String,
    String,
    Option<String>,
);

fn run_from_row(row: RunRow) -> Result<RunRecord> {
    let (id, kind, trigger, source, target, started, finished, status, counts, message) = row;
    let what = || format!("run {id}");
    Ok(RunRecord {
        id,
        kind,
        trigger,
        source,
        target,
        started_at: time_from_db(started, what)?,
        finished_at: finished.map(|f| time_from_db(f, what)).transpose()?,
        status: RunStatus::parse(&status).ok_or_else(|| StoreError::Corrupt {
            what: what(),
            detail: format!("unknown status `{status}`"),
        })?,
        counts: from_json(&counts, || format!("counts of run {id}"))?,
        message,
    })
}

/// A provisioning log entry as stored.
type LogRow = (i64, i64, String, String, String, String, Option<String>);

fn log_from_row(row: LogRow) -> Result<LogEntry> {
    let (at, run, target, person, action, result, detail) = row;
    Ok(LogEntry {
        at: time_from_db(at, || format!("log entry of person {person}"))?,
        run,
        target,
        person: EmployeeId::new(person),
        action,
        result,
        detail,
    })
}

/// A journal row as stored.
type JournalRow = (
    i64,
    i64,
    String,
    String,
    String,
    i64,
    Option<String>,
    Option<String>,
    Option<String>,
    bool,
    Option<i64>,
);

/// The columns of [`JournalRow`], from a `journal j`, as a literal for `concat!`.
macro_rules! journal_columns {
    () => {
        "SELECT j.id, j.run_id, j.target, j.person, j.operation, j.intent_at_ns, j.outcome,
         j.failure_kind, j.failure_message, j.parked, j.resolved_at_ns FROM journal j "
    };
}

fn journal_from_row(row: JournalRow) -> Result<JournalEntry> {
    let (id, run, target, person, operation, intent, outcome, kind, message, parked, resolved) =
        row;
    let what = || format!("journal entry {id}");
    Ok(JournalEntry {
        id,
        run,
        target,
        person: EmployeeId::new(person),
        operation: from_json(&operation, what)?,
        intent_at: time_from_db(intent, what)?,
        outcome: outcome.map(|o| from_json(&o, what)).transpose()?,
        failure: kind.map(|kind| (kind, message.unwrap_or_default())),
        parked,
        resolved_at: resolved.map(|at| time_from_db(at, what)).transpose()?,
    })
}

/// Writes one provisioning log entry inside `tx`.
#[allow(
    clippy::too_many_arguments,
    reason = "one parameter per column of the log entry"
)]
async fn write_log(
    tx: &mut Transaction<'static, Db>,
    at_ns: i64,
    run: RunId,
    target: &str,
    person: &str,
    action: &str,
    result: &str,
    detail: Option<&str>,
) -> Result<()> {
    sqlx::query::<Db>(
        "INSERT INTO provisioning_log (at_ns, run_id, target, person, action, result, detail)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(at_ns)
    .bind(run)
    .bind(target)
    .bind(person)
    .bind(action)
    .bind(result)
    .bind(detail)
    .execute(&mut **tx)
    .await
    .map_err(db("writing the provisioning log"))?;
    Ok(())
}

/// Why a journal entry could not be resolved: it is unknown, or already resolved.
async fn unresolvable(tx: &mut Transaction<'static, Db>, id: i64, for_whom: String) -> StoreError {
    let row =
        sqlx::query_as::<Db, (Option<i64>,)>("SELECT resolved_at_ns FROM journal WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut **tx)
            .await;
    match row {
        Ok(Some((Some(_),))) => StoreError::JournalResolved(id),
        Ok(_) => StoreError::UnknownJournalEntry { id, for_whom },
        Err(source) => db("reading the journal")(source),
    }
}

/// The log detail of a confirmed outcome.
fn outcome_detail(outcome: &Outcome) -> Option<String> {
    match outcome {
        Outcome::Created { remote_id } => Some(format!("created as {remote_id}")),
        Outcome::Adopted {
            remote_id,
            matched_by,
        } => {
            let by = match matched_by {
                MatchBy::None => "nothing",
                MatchBy::ExternalId => "external id",
                MatchBy::Email => "e-mail",
            };
            Some(format!("adopted {remote_id}, matched by {by}"))
        }
        Outcome::Applied | Outcome::Unchanged => None,
    }
}

/// Confirms one operation inside `tx`: journal outcome, applied state, log entry.
async fn confirm_in(
    tx: &mut Transaction<'static, Db>,
    journal_id: i64,
    target: &str,
    person: &EmployeeId,
    outcome: &Outcome,
    new_state: Option<&AppliedAccount>,
    at: Timestamp,
) -> Result<()> {
    let at_ns = time_to_db(at)?;
    let outcome_json = to_json(outcome, || format!("outcome of journal entry {journal_id}"))?;
    let state_json = match new_state {
        Some(state) if state.record.person != *person => {
            return Err(StoreError::Unstorable {
                what: format!("the account state of journal entry {journal_id}"),
                detail: format!(
                    "it is the record of person {}, not of person {person}",
                    state.record.person
                ),
            });
        }
        Some(state) => Some(to_json(state, || format!("account of person {person}"))?),
        None => None,
    };

    // The write comes first: SQLite takes the write lock without a read snapshot to upgrade.
    let resolved = sqlx::query_as::<Db, (i64, String)>(
        "UPDATE journal SET outcome = $1, resolved_at_ns = $2
         WHERE id = $3 AND target = $4 AND person = $5 AND resolved_at_ns IS NULL
         RETURNING run_id, kind",
    )
    .bind(&outcome_json)
    .bind(at_ns)
    .bind(journal_id)
    .bind(target)
    .bind(person.as_str())
    .fetch_optional(&mut **tx)
    .await
    .map_err(db("recording an outcome in the journal"))?;
    let Some((run, action)) = resolved else {
        let for_whom = format!(" for target `{target}` and person {person}");
        return Err(unresolvable(tx, journal_id, for_whom).await);
    };

    match (new_state, state_json) {
        (Some(state), Some(json)) => {
            sqlx::query::<Db>(
                "INSERT INTO applied_accounts (target, person, remote_id, data, run_id, updated_at_ns)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (target, person) DO UPDATE SET
                     remote_id = excluded.remote_id, data = excluded.data,
                     run_id = excluded.run_id, updated_at_ns = excluded.updated_at_ns",
            )
            .bind(target)
            .bind(person.as_str())
            .bind(state.remote_id.as_deref())
            .bind(json)
            .bind(run)
            .bind(at_ns)
            .execute(&mut **tx)
            .await
            .map_err(db("saving the applied account"))?;
        }
        _ => {
            sqlx::query::<Db>("DELETE FROM applied_accounts WHERE target = $1 AND person = $2")
                .bind(target)
                .bind(person.as_str())
                .execute(&mut **tx)
                .await
                .map_err(db("removing the applied account"))?;
        }
    }

    let result = match outcome {
        Outcome::Unchanged => "unchanged",
        _ => "ok",
    };
    let detail = outcome_detail(outcome);
    write_log(
        tx,
        at_ns,
        run,
        target,
        person.as_str(),
        &action,
        result,
        detail.as_deref(),
    )
    .await
}

impl StateStore for Store {
    async fn start_run(
        &self,
        kind: &str,
        trigger: &str,
        source: Option<&str>,
        target: Option<&str>,
        at: Timestamp,
    ) -> Result<RunId> {
        sqlx::query_scalar::<Db, i64>(
            "INSERT INTO runs (kind, triggered_by, source, target, started_at_ns, status, counts)
             VALUES ($1, $2, $3, $4, $5, $6, '{}')
             RETURNING id",
        )
        .bind(kind)
        .bind(trigger)
        .bind(source)
        .bind(target)
        .bind(time_to_db(at)?)
        .bind(RunStatus::Running.as_str())
        .fetch_one(&self.pool)
        .await
        .map_err(db("recording the start of a run"))
    }

    async fn finish_run(
        &self,
        run: RunId,
        status: RunStatus,
        counts: &BTreeMap<String, u64>,
        message: Option<&str>,
        at: Timestamp,
    ) -> Result<()> {
        let done = sqlx::query::<Db>(
            "UPDATE runs SET finished_at_ns = $1, status = $2, counts = $3, message = $4
             WHERE id = $5",
        )
        .bind(time_to_db(at)?)
        .bind(status.as_str())
        .bind(to_json(counts, || format!("counts of run {run}"))?)
        .bind(message)
        .bind(run)
        .execute(&self.pool)
        .await
        .map_err(db("recording the end of a run"))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::UnknownRun(run));
        }
        Ok(())
    }

    async fn runs(&self, limit: usize) -> Result<Vec<RunRecord>> {
        sqlx::query_as::<Db, RunRow>(
            "SELECT id, kind, triggered_by, source, target, started_at_ns, finished_at_ns,
                    status, counts, message
             FROM runs ORDER BY id DESC LIMIT $1",
        )
        .bind(to_i64(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db("listing runs"))?
        .into_iter()
        .map(run_from_row)
        .collect()
    }

    async fn run(&self, id: RunId) -> Result<Option<RunRecord>> {
        sqlx::query_as::<Db, RunRow>(
            "SELECT id, kind, triggered_by, source, target, started_at_ns, finished_at_ns,
                    status, counts, message
             FROM runs WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db("reading a run"))?
        .map(run_from_row)
        .transpose()
    }

    async fn save_snapshot(
        &self,
        source: &str,
        run: RunId,
        employees: &[Employee],
        at: Timestamp,
    ) -> Result<SnapshotStats> {
        let at_ns = time_to_db(at)?;
        // Encode before the transaction: the write lock is held only for the writes.
        let mut seen = HashSet::with_capacity(employees.len());
        let mut docs = Vec::with_capacity(employees.len());
        for employee in employees {
            let person = employee.id.as_str();
            if !seen.insert(person) {
                return Err(StoreError::DuplicateEmployee {
                    source_name: source.to_string(),
                    person: person.to_string(),
                });
            }
            let json = to_json(employee, || format!("employee {person}"))?;
            let hash = hash_hex(&json);
            docs.push((person, json, hash));
        }

        let mut tx = self
            .pool
            .begin_with(BEGIN_WRITE)
            .await
            .map_err(db("starting to save the snapshot"))?;
        if let Some(lock) = LOCK_SOURCE {
            sqlx::query::<Db>(lock)
                .bind(source)
                .execute(&mut *tx)
                .await
                .map_err(db("waiting for another save of the same source"))?;
        }
        let latest: HashMap<String, (i64, String)> = sqlx::query_as::<Db, (String, i64, String)>(
            "SELECT person, version, hash FROM employee_latest WHERE source = $1",
        )
        .bind(source)
        .fetch_all(&mut *tx)
        .await
        .map_err(db("reading the previous snapshot"))?
        .into_iter()
        .map(|(person, version, hash)| (person, (version, hash)))
        .collect();

        let mut stats = SnapshotStats {
            employees: employees.len(),
            ..SnapshotStats::default()
        };
        let mut versions = Vec::new();
        for (person, json, hash) in &docs {
            let version = match latest.get(*person) {
                None => {
                    stats.new += 1;
                    1
                }
                Some((_, stored)) if stored == hash => {
                    stats.unchanged += 1;
                    continue;
                }
                Some((last, _)) => {
                    stats.changed += 1;
                    last + 1
                }
            };
            versions.push((*person, version, json.as_str(), hash.as_str()));
        }

        for chunk in versions.chunks(ROWS_PER_INSERT) {
            let mut insert = QueryBuilder::<Db>::new(
                "INSERT INTO employee_versions (source, person, version, run_id, at_ns, hash, data) ",
            );
            insert.push_values(chunk, |mut row, &(person, version, json, hash)| {
                row.push_bind(source)
                    .push_bind(person)
                    .push_bind(version)
                    .push_bind(run)
                    .push_bind(at_ns)
                    .push_bind(hash)
                    .push_bind(json);
            });
            insert
                .build()
                .execute(&mut *tx)
                .await
                .map_err(db("saving employee versions"))?;

            let mut latest = QueryBuilder::<Db>::new(
                "INSERT INTO employee_latest (source, person, version, hash) ",
            );
            latest.push_values(chunk, |mut row, &(person, version, _, hash)| {
                row.push_bind(source)
                    .push_bind(person)
                    .push_bind(version)
                    .push_bind(hash);
            });
            latest.push(
                " ON CONFLICT (source, person)
                  DO UPDATE SET version = excluded.version, hash = excluded.hash",
            );
            latest
                .build()
                .execute(&mut *tx)
                .await
                .map_err(db("saving the latest employee versions"))?;
        }

        let keep = to_i64(MAX_HISTORY_VERSIONS);
        for &(person, version, _, _) in versions.iter().filter(|v| v.1 > keep) {
            sqlx::query::<Db>(
                "DELETE FROM employee_versions
                 WHERE source = $1 AND person = $2 AND version <= $3",
            )
            .bind(source)
            .bind(person)
            .bind(version - keep)
            .execute(&mut *tx)
            .await
            .map_err(db("pruning employee history"))?;
        }

        sqlx::query::<Db>(
            "INSERT INTO snapshot_reads
                 (source, run_id, at_ns, employee_count, new_count, changed_count, unchanged_count)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(source)
        .bind(run)
        .bind(at_ns)
        .bind(to_i64(stats.employees))
        .bind(to_i64(stats.new))
        .bind(to_i64(stats.changed))
        .bind(to_i64(stats.unchanged))
        .execute(&mut *tx)
        .await
        .map_err(db("recording the read"))?;
        tx.commit().await.map_err(db("committing the snapshot"))?;
        Ok(stats)
    }

    async fn last_read_count(&self, source: &str) -> Result<Option<usize>> {
        let count = sqlx::query_scalar::<Db, i64>(
            "SELECT employee_count FROM snapshot_reads WHERE source = $1 ORDER BY id DESC LIMIT 1",
        )
        .bind(source)
        .fetch_optional(&self.pool)
        .await
        .map_err(db("reading the size of the last read"))?;
        count
            .map(|n| {
                usize::try_from(n).map_err(|_| StoreError::Corrupt {
                    what: format!("size of the last read of `{source}`"),
                    detail: format!("negative count {n}"),
                })
            })
            .transpose()
    }

    async fn employee_history(
        &self,
        source: &str,
        id: &EmployeeId,
    ) -> Result<Vec<(Timestamp, RunId, Employee)>> {
        sqlx::query_as::<Db, (i64, i64, i64, String)>(
            "SELECT version, at_ns, run_id, data FROM employee_versions
             WHERE source = $1 AND person = $2 ORDER BY version",
        )
        .bind(source)
        .bind(id.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(db("reading employee history"))?
        .into_iter()
        .map(|(version, at, run, data)| {
            let what = || format!("version {version} of employee {id}");
            Ok((time_from_db(at, what)?, run, from_json(&data, what)?))
        })
        .collect()
    }

    async fn applied(&self, target: &str) -> Result<BTreeMap<EmployeeId, AppliedAccount>> {
        sqlx::query_as::<Db, (String, String)>(
            "SELECT person, data FROM applied_accounts WHERE target = $1",
        )
        .bind(target)
        .fetch_all(&self.pool)
        .await
        .map_err(db("reading the applied accounts"))?
        .into_iter()
        .map(|(person, data)| {
            let account = from_json(&data, || {
                format!("applied account of person {person} in `{target}`")
            })?;
            Ok((EmployeeId::new(person), account))
        })
        .collect()
    }

    async fn journal_intent(
        &self,
        run: RunId,
        target: &str,
        op: &Operation,
        at: Timestamp,
    ) -> Result<i64> {
        let ids = self
            .journal_intents(run, target, std::slice::from_ref(op), at)
            .await?;
        ids.into_iter()
            .next()
            .ok_or_else(|| StoreError::Unstorable {
                what: format!("the operation for person {}", op.person()),
                detail: "the journal returned no id".into(),
            })
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
        let mut tx = self
            .pool
            .begin_with(BEGIN_WRITE)
            .await
            .map_err(db("starting to confirm an operation"))?;
        confirm_in(&mut tx, journal_id, target, person, outcome, new_state, at).await?;
        tx.commit()
            .await
            .map_err(db("committing the confirmed operation"))
    }

    async fn journal_intents(
        &self,
        run: RunId,
        target: &str,
        ops: &[Operation],
        at: Timestamp,
    ) -> Result<Vec<i64>> {
        let at_ns = time_to_db(at)?;
        let mut tx = self
            .pool
            .begin_with(BEGIN_WRITE)
            .await
            .map_err(db("starting to journal operations"))?;
        let mut ids = Vec::with_capacity(ops.len());
        for op in ops {
            let person = op.person().as_str();
            let id = sqlx::query_scalar::<Db, i64>(
                "INSERT INTO journal (run_id, target, person, kind, operation, intent_at_ns)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 RETURNING id",
            )
            .bind(run)
            .bind(target)
            .bind(person)
            .bind(op.kind().as_str())
            .bind(to_json(op, || format!("operation for person {person}"))?)
            .bind(at_ns)
            .fetch_one(&mut *tx)
            .await
            .map_err(db("journaling an operation"))?;
            ids.push(id);
        }
        tx.commit()
            .await
            .map_err(db("committing the journaled operations"))?;
        Ok(ids)
    }

    async fn confirm_many(
        &self,
        target: &str,
        items: &[Confirmation],
        at: Timestamp,
    ) -> Result<()> {
        let mut tx = self
            .pool
            .begin_with(BEGIN_WRITE)
            .await
            .map_err(db("starting to confirm operations"))?;
        for item in items {
            confirm_in(
                &mut tx,
                item.journal_id,
                target,
                &item.person,
                &item.outcome,
                item.new_state.as_ref(),
                at,
            )
            .await?;
        }
        tx.commit()
            .await
            .map_err(db("committing the confirmed operations"))
    }

    async fn fail(
        &self,
        journal_id: i64,
        kind: &str,
        message: &str,
        parked: bool,
        at: Timestamp,
    ) -> Result<()> {
        let at_ns = time_to_db(at)?;
        let mut tx = self
            .pool
            .begin_with(BEGIN_WRITE)
            .await
            .map_err(db("starting to record a failure"))?;
        let resolved = sqlx::query_as::<Db, (i64, String, String, String)>(
            "UPDATE journal
             SET failure_kind = $1, failure_message = $2, parked = $3, resolved_at_ns = $4
             WHERE id = $5 AND resolved_at_ns IS NULL
             RETURNING run_id, target, person, kind",
        )
        .bind(kind)
        .bind(message)
        .bind(parked)
        .bind(at_ns)
        .bind(journal_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db("recording a failure in the journal"))?;
        let Some((run, target, person, action)) = resolved else {
            return Err(unresolvable(&mut tx, journal_id, String::new()).await);
        };
        let result = if parked { "parked" } else { "failed" };
        let detail = format!("{kind}: {message}");
        write_log(
            &mut tx,
            at_ns,
            run,
            &target,
            &person,
            &action,
            result,
            Some(&detail),
        )
        .await?;
        tx.commit().await.map_err(db("committing the failure"))
    }

    async fn open_intents(&self, target: &str) -> Result<Vec<(i64, RunId, Operation)>> {
        sqlx::query_as::<Db, (i64, i64, String)>(
            "SELECT id, run_id, operation FROM journal
             WHERE target = $1 AND resolved_at_ns IS NULL ORDER BY id",
        )
        .bind(target)
        .fetch_all(&self.pool)
        .await
        .map_err(db("reading open journal entries"))?
        .into_iter()
        .map(|(id, run, op)| {
            let op = from_json(&op, || format!("operation of journal entry {id}"))?;
            Ok((id, run, op))
        })
        .collect()
    }

    async fn hold_plan(&self, run: RunId, plan: &Plan, at: Timestamp) -> Result<()> {
        let done = sqlx::query::<Db>(
            "INSERT INTO held_plans (run_id, target, plan, held_at_ns) VALUES ($1, $2, $3, $4)
             ON CONFLICT (run_id) DO NOTHING",
        )
        .bind(run)
        .bind(&plan.target)
        .bind(to_json(plan, || format!("plan of run {run}"))?)
        .bind(time_to_db(at)?)
        .execute(&self.pool)
        .await
        .map_err(db("holding a plan"))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::AlreadyHeld(run));
        }
        Ok(())
    }

    async fn held_plans(&self) -> Result<Vec<(RunId, Plan)>> {
        sqlx::query_as::<Db, (i64, String)>(
            "SELECT run_id, plan FROM held_plans WHERE resolved_at_ns IS NULL ORDER BY run_id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db("listing held plans"))?
        .into_iter()
        .map(|(run, plan)| Ok((run, from_json(&plan, || format!("plan of run {run}"))?)))
        .collect()
    }

    async fn resolve_held(
        &self,
        run: RunId,
        approved: bool,
        at: Timestamp,
    ) -> Result<Option<Plan>> {
        sqlx::query_scalar::<Db, String>(
            "UPDATE held_plans SET resolved_at_ns = $1, approved = $2
             WHERE run_id = $3 AND resolved_at_ns IS NULL
             RETURNING plan",
        )
        .bind(time_to_db(at)?)
        .bind(approved)
        .bind(run)
        .fetch_optional(&self.pool)
        .await
        .map_err(db("resolving a held plan"))?
        .map(|plan| from_json(&plan, || format!("plan of run {run}")))
        .transpose()
    }

    async fn person_log(&self, person: &EmployeeId, limit: usize) -> Result<Vec<LogEntry>> {
        sqlx::query_as::<Db, LogRow>(
            "SELECT at_ns, run_id, target, person, action, result, detail
             FROM provisioning_log WHERE person = $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(person.as_str())
        .bind(to_i64(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db("reading the provisioning log"))?
        .into_iter()
        .map(log_from_row)
        .collect()
    }

    async fn run_operations(&self, run: RunId) -> Result<Vec<JournalEntry>> {
        sqlx::query_as::<Db, JournalRow>(concat!(
            journal_columns!(),
            "WHERE j.run_id = $1 ORDER BY j.id"
        ))
        .bind(run)
        .fetch_all(&self.pool)
        .await
        .map_err(db("reading a run's operations"))?
        .into_iter()
        .map(journal_from_row)
        .collect()
    }

    async fn parked_operations(&self, target: Option<&str>) -> Result<Vec<JournalEntry>> {
        sqlx::query_as::<Db, JournalRow>(concat!(
            journal_columns!(),
            "WHERE j.failure_kind IS NOT NULL AND (CAST($1 AS TEXT) IS NULL OR j.target = $1)
               AND NOT EXISTS (
                 SELECT 1 FROM journal later
                 WHERE later.target = j.target AND later.person = j.person
                   AND later.id > j.id)
             ORDER BY j.id DESC"
        ))
        .bind(target)
        .fetch_all(&self.pool)
        .await
        .map_err(db("reading parked operations"))?
        .into_iter()
        .map(journal_from_row)
        .collect()
    }

    async fn search_employees(&self, query: &str, limit: usize) -> Result<Vec<(String, Employee)>> {
        let rows = sqlx::query_as::<Db, (String, String, i64, String)>(
            "SELECT l.source, l.person, l.version, v.data FROM employee_latest l
             JOIN employee_versions v
               ON v.source = l.source AND v.person = l.person AND v.version = l.version
             ORDER BY l.source, l.person",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db("searching employees"))?;
        let needle = query.trim().to_lowercase();
        let hit = |text: &str| text.to_lowercase().contains(&needle);
        let mut found = Vec::new();
        for (source, person, version, data) in rows {
            if found.len() >= limit {
                break;
            }
            let what = || format!("version {version} of employee {person}");
            let employee: Employee = from_json(&data, what)?;
            let matches = needle.is_empty()
                || hit(employee.id.as_str())
                || hit(&employee.first_name)
                || hit(&employee.last_name)
                || employee.preferred_name.as_deref().is_some_and(hit)
                || employee.email.as_deref().is_some_and(hit);
            if matches {
                found.push((source, employee));
            }
        }
        Ok(found)
    }
}
