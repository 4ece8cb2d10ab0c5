//! Executing a plan against one target: journal the intent, call the target, retry what is
//! transient, park what is refused, stop on what is fatal, and confirm state only after the
//! target confirmed (after `finish` for batch targets).

use crate::clock::Clock;
use crate::error::EngineError;
use crate::run::{Step, StepHook, fire};
use crate::setup::TargetSetup;
use futures::{StreamExt, TryStreamExt};
use psync_model::{AppliedAccount, EmployeeId, Operation, Outcome, Plan};
use psync_store::{AnyStore, Confirmation, RunId, StateStore};
use psync_targets::{ErrorKind, RunInfo, RunReport, Target, TargetError};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

/// Called after each operation with (done, total).
pub type ApplyProgress = Arc<dyn Fn(usize, usize) + Send + Sync>;

/// An operation that did not go through.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    /// The person.
    pub person: EmployeeId,
    /// The planned action.
    pub action: String,
    /// transient, conflict, rejected, fatal.
    pub kind: String,
    /// The target's message.
    pub message: String,
    /// Parked: it stays pending and is planned again on the next run.
    pub parked: bool,
}

/// What applying one plan did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ApplyReport {
    /// Counts: created, adopted, updated, disabled, enabled, deleted, unchanged, failed, parked, not_attempted.
    pub counts: BTreeMap<String, u64>,
    /// Every operation that did not go through.
    pub failures: Vec<Failure>,
    /// Set when the target failed fatally, or failed temporarily [`QUARANTINE_AFTER`] times in a
    /// row; the rest of its operations were not attempted (they are planned again next run).
    pub quarantined: Option<String>,
    /// Outcomes per person (for one-person traces and the dashboard).
    pub outcomes: BTreeMap<EmployeeId, String>,
}

impl ApplyReport {
    fn bump(&mut self, key: &str) {
        *self.counts.entry(key.to_string()).or_insert(0) += 1;
    }
}

/// The state the store keeps for a person after `op` was confirmed with `outcome`.
pub(crate) fn next_state(
    applied: &BTreeMap<EmployeeId, AppliedAccount>,
    op: &Operation,
    outcome: &Outcome,
    today: jiff::civil::Date,
) -> Option<AppliedAccount> {
    let person = op.person().clone();
    let mut one = BTreeMap::new();
    if let Some(account) = applied.get(&person) {
        one.insert(person.clone(), account.clone());
    }
    psync_planner::apply_outcome(&mut one, op, outcome, today);
    one.remove(&person)
}

/// Marks intents left open by an interrupted run: their operations are planned again.
pub(crate) async fn close_open_intents(
    store: &AnyStore,
    target: &str,
    clock: &dyn Clock,
) -> Result<usize, EngineError> {
    let open = store.open_intents(target).await?;
    let mut runs = std::collections::BTreeSet::new();
    for (journal, run, _) in &open {
        store
            .fail(
                *journal,
                "interrupted",
                "the run stopped before the target confirmed this operation; it is planned again",
                false,
                clock.now(),
            )
            .await?;
        runs.insert(*run);
    }
    // The runs that left them never finished: say so in the run history.
    for run in runs {
        if let Some(record) = store.run(run).await?
            && record.status == psync_store::RunStatus::Running
        {
            store
                .finish_run(
                    run,
                    psync_store::RunStatus::Failed,
                    &record.counts,
                    Some("interrupted before it finished; its unconfirmed operations were planned again by a later run"),
                    clock.now(),
                )
                .await?;
        }
    }
    Ok(open.len())
}

fn outcome_key(op: &Operation, outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Created { .. } => "created",
        Outcome::Adopted { .. } => "adopted",
        Outcome::Unchanged => "unchanged",
        Outcome::Applied => match op.kind() {
            psync_model::OpKind::Create => "created",
            psync_model::OpKind::Update => "updated",
            psync_model::OpKind::Disable => "disabled",
            psync_model::OpKind::Enable => "enabled",
            psync_model::OpKind::Delete => "deleted",
        },
    }
}

fn describe(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Created { remote_id } => format!("created ({remote_id})"),
        Outcome::Adopted {
            remote_id,
            matched_by,
        } => {
            format!("adopted existing account {remote_id} (matched by {matched_by:?})")
        }
        Outcome::Applied => "applied".to_string(),
        Outcome::Unchanged => "already up to date".to_string(),
    }
}

/// Operations in a row that may fail temporarily (each after all its attempts) before the
/// target is quarantined for the rest of the run: a target that is down should not hold the
/// run for `operations × attempts × backoff`, and nothing is lost because what was not
/// attempted is planned again next run.
pub const QUARANTINE_AFTER: usize = 10;

/// Applies a chunk of operations (one at a time, or together for targets with a
/// [`Target::batch_size`] above 1), retrying those that failed temporarily. One result per
/// operation, in order.
async fn apply_with_retries(
    target: &psync_connectors::AnyTarget,
    ops: &[&Operation],
    attempts: u32,
) -> Vec<Result<Outcome, TargetError>> {
    let mut results: Vec<Option<Result<Outcome, TargetError>>> = vec![None; ops.len()];
    let mut pending: Vec<usize> = (0..ops.len()).collect();
    let mut attempt = 1;
    while !pending.is_empty() {
        let chunk: Vec<&Operation> = pending.iter().map(|&i| ops[i]).collect();
        let outcomes = target.apply_batch(&chunk).await;
        let mut again = Vec::new();
        for (k, &i) in pending.iter().enumerate() {
            let outcome = outcomes.get(k).cloned().unwrap_or_else(|| {
                Err(TargetError::transient(format!(
                    "{}: the batch answered {} results for {} operations",
                    target.name(),
                    outcomes.len(),
                    chunk.len()
                )))
            });
            match outcome {
                Err(e) if e.kind == ErrorKind::Transient && attempt < attempts.max(1) => {
                    again.push(i);
                }
                other => results[i] = Some(other),
            }
        }
        pending = again;
        if let Some(&first) = pending.first() {
            // Jittered exponential backoff: 200 ms, 400 ms, 800 ms … ± 25 %.
            let base = 200u64.saturating_mul(1 << (attempt - 1).min(6));
            let jitter = (ops[first].person().as_str().len() as u64 * 37 + u64::from(attempt) * 11)
                % (base / 2 + 1);
            tokio::time::sleep(Duration::from_millis(base - base / 4 + jitter)).await;
            attempt += 1;
        }
    }
    results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(TargetError::transient("not attempted"))))
        .collect()
}

/// Splits operations into waves (indices in plan order) so that every operation whose manager
/// is created by the same plan comes in a later wave than that create. Chains of new managers
/// give more waves; a cycle (A manages B manages A) is cut where it closes.
pub(crate) fn manager_waves(ops: &[Operation]) -> Vec<Vec<usize>> {
    let creates: HashMap<&EmployeeId, usize> = ops
        .iter()
        .enumerate()
        .filter(|(_, op)| matches!(op, Operation::Create { .. }))
        .map(|(i, op)| (op.person(), i))
        .collect();
    let manager_create = |i: usize| -> Option<usize> {
        let manager = ops[i].record().manager.as_ref()?;
        creates.get(manager).copied().filter(|&j| j != i)
    };
    let mut depth: Vec<Option<usize>> = vec![None; ops.len()];
    for start in 0..ops.len() {
        if depth[start].is_some() {
            continue;
        }
        // Walk up the chain of managers created in this plan until a known depth or the top.
        let mut chain = vec![start];
        let mut base = 0;
        while let Some(&last) = chain.last() {
            match manager_create(last) {
                Some(j) if depth[j].is_some() => {
                    base = depth[j].map_or(0, |d| d + 1);
                    break;
                }
                Some(j) if !chain.contains(&j) => chain.push(j),
                _ => break,
            }
        }
        for (k, &i) in chain.iter().rev().enumerate() {
            depth[i] = Some(base + k);
        }
    }
    let levels = depth.iter().flatten().max().map_or(0, |d| d + 1);
    let mut waves = vec![Vec::new(); levels];
    for (i, d) in depth.into_iter().enumerate() {
        waves[d.unwrap_or(0)].push(i);
    }
    waves
}

/// Executes `plan` against the target of `setup`.
#[allow(
    clippy::too_many_arguments,
    reason = "one call site; a struct would only rename the arguments"
)]
pub(crate) async fn execute(
    store: &AnyStore,
    setup: &TargetSetup,
    run: RunId,
    plan: &Plan,
    applied: &BTreeMap<EmployeeId, AppliedAccount>,
    clock: &dyn Clock,
    hook: Option<&StepHook>,
    progress: Option<&ApplyProgress>,
) -> Result<ApplyReport, EngineError> {
    close_open_intents(store, &setup.name, clock).await?;
    let target = &setup.target;
    let info = RunInfo {
        run,
        target: setup.name.clone(),
        started_at: clock.now(),
        dry_run: false,
    };
    let mut report = ApplyReport::default();
    if let Err(e) = target.begin(&info).await {
        report.quarantined = Some(format!("could not start: {}", e.message));
        for op in &plan.operations {
            report.bump("not_attempted");
            report.failures.push(Failure {
                person: op.person().clone(),
                action: op.kind().to_string(),
                kind: e.kind.as_str().to_string(),
                message: e.message.clone(),
                parked: false,
            });
        }
        return Ok(report);
    }
    let today = clock.now().to_zoned(setup.policy.time_zone.clone()).date();
    let batched = target.batched();
    let stop = AtomicBool::new(false);
    let transient_in_a_row = AtomicUsize::new(0);
    let tripped: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);
    let done = AtomicUsize::new(0);
    let total = plan.operations.len();

    enum Step1 {
        Confirmed(i64, Operation, Outcome),
        Failed(Failure, bool),
        NotAttempted(Operation, Option<i64>),
    }

    // A batch target's writes become durable together at `finish`: journal all intents in one
    // transaction up front (and confirm them in one after `finish`).
    let journal_ids: Option<Vec<i64>> = if batched {
        Some(
            store
                .journal_intents(run, &setup.name, &plan.operations, clock.now())
                .await?,
        )
    } else {
        None
    };
    let journal_ids = &journal_ids;
    let ops = &plan.operations;
    let batch_size = target.batch_size().max(1);
    let attempt = |chunk: Vec<usize>| {
        let stop = &stop;
        let transient_in_a_row = &transient_in_a_row;
        let tripped = &tripped;
        let done = &done;
        async move {
            if stop.load(Ordering::SeqCst) {
                return Ok(chunk
                    .iter()
                    .map(|&index| {
                        let journal = journal_ids.as_ref().and_then(|ids| ids.get(index).copied());
                        Step1::NotAttempted(ops[index].clone(), journal)
                    })
                    .collect());
            }
            let mut journals = Vec::with_capacity(chunk.len());
            for &index in &chunk {
                let op = &ops[index];
                journals.push(match journal_ids.as_ref().and_then(|ids| ids.get(index)) {
                    Some(id) => *id,
                    None => {
                        store
                            .journal_intent(run, &setup.name, op, clock.now())
                            .await?
                    }
                });
                fire(
                    hook,
                    &Step::BeforeApply {
                        target: setup.name.clone(),
                        person: op.person().clone(),
                    },
                )?;
            }
            let chunk_ops: Vec<&Operation> = chunk.iter().map(|&index| &ops[index]).collect();
            let results = apply_with_retries(target, &chunk_ops, setup.attempts).await;
            let mut steps = Vec::with_capacity(chunk.len());
            for ((op, journal), result) in chunk_ops.into_iter().zip(journals).zip(results) {
                let step = match result {
                    Ok(outcome) => {
                        fire(
                            hook,
                            &Step::AfterApply {
                                target: setup.name.clone(),
                                person: op.person().clone(),
                            },
                        )?;
                        if !batched {
                            let state = next_state(applied, op, &outcome, today);
                            store
                                .confirm(
                                    journal,
                                    &setup.name,
                                    op.person(),
                                    &outcome,
                                    state.as_ref(),
                                    clock.now(),
                                )
                                .await?;
                            fire(
                                hook,
                                &Step::AfterConfirm {
                                    target: setup.name.clone(),
                                    person: op.person().clone(),
                                },
                            )?;
                        }
                        transient_in_a_row.store(0, Ordering::SeqCst);
                        Step1::Confirmed(journal, op.clone(), outcome)
                    }
                    Err(e) => {
                        let fatal = e.kind == ErrorKind::Fatal;
                        if fatal {
                            stop.store(true, Ordering::SeqCst);
                        } else if e.kind == ErrorKind::Transient
                            && transient_in_a_row.fetch_add(1, Ordering::SeqCst) + 1
                                >= QUARANTINE_AFTER
                            && !stop.swap(true, Ordering::SeqCst)
                        {
                            let mut slot = tripped.lock().unwrap_or_else(|p| p.into_inner());
                            *slot = Some(format!(
                                "{QUARANTINE_AFTER} operations in a row failed temporarily (last: {}); \
                             quarantined for this run, the rest is planned again next run",
                                e.message
                            ));
                        } else if e.kind != ErrorKind::Transient {
                            // The target answered (it refused this record): it is not down.
                            transient_in_a_row.store(0, Ordering::SeqCst);
                        }
                        let parked = !fatal;
                        store
                            .fail(journal, e.kind.as_str(), &e.message, parked, clock.now())
                            .await?;
                        tracing::warn!(target = %setup.name, person = %op.person(), kind = e.kind.as_str(), error = %e.message, "Operation failed.");
                        Step1::Failed(
                            Failure {
                                person: op.person().clone(),
                                action: op.kind().to_string(),
                                kind: e.kind.as_str().to_string(),
                                message: e.message.clone(),
                                parked,
                            },
                            fatal,
                        )
                    }
                };
                let n = done.fetch_add(1, Ordering::SeqCst) + 1;
                if let Some(progress) = progress {
                    progress(n, total);
                }
                steps.push(step);
            }
            Ok::<_, EngineError>(steps)
        }
    };
    // Managers first: a person whose manager is created in this plan waits for that create, so
    // targets that reference managers by their own id (SCIM, LDAP) can resolve it.
    let mut results = Vec::with_capacity(total);
    for wave in manager_waves(&plan.operations) {
        let chunks = wave.chunks(batch_size).map(<[usize]>::to_vec);
        let part = futures::stream::iter(chunks)
            .map(attempt)
            .buffer_unordered(setup.concurrency.max(1))
            // Stops at the first engine error (store failure, injected crash): in-flight
            // operations are dropped, exactly as a crash would drop them.
            .try_collect::<Vec<_>>()
            .await?;
        results.extend(part.into_iter().flatten());
    }

    if let Some(reason) = tripped.into_inner().unwrap_or_else(|p| p.into_inner()) {
        report.quarantined = Some(reason);
    }
    let mut staged = Vec::new();
    for result in results {
        match result {
            Step1::Confirmed(journal, op, outcome) => {
                report
                    .outcomes
                    .insert(op.person().clone(), describe(&outcome));
                if batched {
                    staged.push((journal, op, outcome));
                } else {
                    report.bump(outcome_key(&op, &outcome));
                }
            }
            Step1::Failed(failure, fatal) => {
                report.outcomes.insert(
                    failure.person.clone(),
                    format!("failed: {}", failure.message),
                );
                report.bump(if failure.parked { "parked" } else { "failed" });
                if fatal && report.quarantined.is_none() {
                    report.quarantined = Some(failure.message.clone());
                }
                report.failures.push(failure);
            }
            Step1::NotAttempted(op, journal) => {
                if let Some(journal) = journal {
                    store
                        .fail(
                            journal,
                            "not_attempted",
                            "the target stopped before this operation",
                            false,
                            clock.now(),
                        )
                        .await?;
                }
                report
                    .outcomes
                    .insert(op.person().clone(), "not attempted (target stopped)".into());
                report.bump("not_attempted");
            }
        }
    }

    fire(
        hook,
        &Step::BeforeFinish {
            target: setup.name.clone(),
        },
    )?;
    let run_report = RunReport {
        counts: {
            let mut counts = report.counts.clone();
            for (_, op, outcome) in &staged {
                *counts
                    .entry(outcome_key(op, outcome).to_string())
                    .or_insert(0) += 1;
            }
            counts
        },
        failures: report
            .failures
            .iter()
            .map(|f| format!("{} {}: {}", f.action, f.person, f.message))
            .collect(),
    };
    match target.finish(&info, &run_report).await {
        Ok(()) => {
            fire(
                hook,
                &Step::AfterFinish {
                    target: setup.name.clone(),
                },
            )?;
            let confirmations: Vec<Confirmation> = staged
                .iter()
                .map(|(journal, op, outcome)| Confirmation {
                    journal_id: *journal,
                    person: op.person().clone(),
                    outcome: outcome.clone(),
                    new_state: next_state(applied, op, outcome, today),
                })
                .collect();
            store
                .confirm_many(&setup.name, &confirmations, clock.now())
                .await?;
            for (_, op, outcome) in staged {
                report.bump(outcome_key(&op, &outcome));
                fire(
                    hook,
                    &Step::AfterConfirm {
                        target: setup.name.clone(),
                        person: op.person().clone(),
                    },
                )?;
            }
        }
        Err(e) => {
            report.quarantined = Some(format!("could not finish: {}", e.message));
            for (journal, op, _) in staged {
                store
                    .fail(
                        journal,
                        e.kind.as_str(),
                        &format!("the target did not write: {}", e.message),
                        false,
                        clock.now(),
                    )
                    .await?;
                report.bump("failed");
                report.failures.push(Failure {
                    person: op.person().clone(),
                    action: op.kind().to_string(),
                    kind: e.kind.as_str().to_string(),
                    message: e.message.clone(),
                    parked: false,
                });
            }
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::manager_waves;
    use psync_model::{EmployeeId, FieldChange, MatchBy, Operation, TargetRecord};

    fn create(id: &str, manager: Option<&str>) -> Operation {
        let mut record = TargetRecord::new(EmployeeId::new(id));
        record.manager = manager.map(EmployeeId::new);
        Operation::Create {
            record,
            match_by: MatchBy::None,
        }
    }

    fn update(id: &str, manager: &str) -> Operation {
        let mut record = TargetRecord::new(EmployeeId::new(id));
        record.manager = Some(EmployeeId::new(manager));
        Operation::Update {
            remote_id: None,
            changes: Vec::<FieldChange>::new(),
            groups_added: Vec::new(),
            groups_removed: Vec::new(),
            record,
        }
    }

    #[test]
    fn managers_created_in_the_plan_come_first() {
        // 3 reports to 2, 2 to 1 (all new); 4 (update) moves under new 3; 5 has an existing manager.
        let ops = vec![
            create("3", Some("2")),
            update("4", "3"),
            create("1", None),
            create("5", Some("99")),
            create("2", Some("1")),
        ];
        assert_eq!(
            manager_waves(&ops),
            vec![vec![2, 3], vec![4], vec![0], vec![1]]
        );
    }

    #[test]
    fn a_cycle_of_new_managers_is_cut_and_nothing_is_lost() {
        let ops = vec![
            create("1", Some("2")),
            create("2", Some("1")),
            create("3", Some("3")),
        ];
        let waves = manager_waves(&ops);
        let mut all: Vec<usize> = waves.iter().flatten().copied().collect();
        all.sort_unstable();
        assert_eq!(all, vec![0, 1, 2]);
        assert_eq!(waves.len(), 2);
        assert!(manager_waves(&[]).is_empty());
    }
}
