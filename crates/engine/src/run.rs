//! One sync: read each source once, then per target map, plan, guard and apply; also the
//! approval of held plans and the step trace of a one-person sync.

use crate::apply::{self, ApplyProgress, ApplyReport};
use crate::clock::Clock;
use crate::error::EngineError;
use crate::setup::{SourceSetup, TargetSetup};
use psync_mapping::MappingError;
use psync_model::{AppliedAccount, Employee, EmployeeId, OpKind, Plan, PlanNote};
use psync_personio::ReadOptions;
use psync_planner::{Lifecycle, Person, PlanInput, ReadScope};
use psync_store::{AnyStore, RunId, RunStatus, StateStore};
use psync_targets::Target;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

/// A step boundary: where tests inject crashes, and what the one-person trace reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// A source was read.
    Read {
        /// The account.
        source: String,
    },
    /// The snapshot of a full read was saved.
    Snapshot {
        /// The account.
        source: String,
    },
    /// A target's plan was computed.
    Planned {
        /// The target.
        target: String,
    },
    /// An operation's intent is journaled; the target has not been called.
    BeforeApply {
        /// The target.
        target: String,
        /// The person.
        person: EmployeeId,
    },
    /// The target confirmed an operation; state is not yet written.
    AfterApply {
        /// The target.
        target: String,
        /// The person.
        person: EmployeeId,
    },
    /// State for an operation is written.
    AfterConfirm {
        /// The target.
        target: String,
        /// The person.
        person: EmployeeId,
    },
    /// All operations were sent; the target's `finish` has not run.
    BeforeFinish {
        /// The target.
        target: String,
    },
    /// The target's `finish` ran; batched outcomes are not yet confirmed.
    AfterFinish {
        /// The target.
        target: String,
    },
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Read { source } => write!(f, "read of {source}"),
            Step::Snapshot { source } => write!(f, "snapshot of {source}"),
            Step::Planned { target } => write!(f, "plan of {target}"),
            Step::BeforeApply { target, person } => {
                write!(f, "before applying {person} to {target}")
            }
            Step::AfterApply { target, person } => write!(f, "after applying {person} to {target}"),
            Step::AfterConfirm { target, person } => {
                write!(f, "after confirming {person} in {target}")
            }
            Step::BeforeFinish { target } => write!(f, "before finishing {target}"),
            Step::AfterFinish { target } => write!(f, "after finishing {target}"),
        }
    }
}

/// Returns `true` to crash at that step (tests only).
pub type StepHook = Arc<dyn Fn(&Step) -> bool + Send + Sync>;

pub(crate) fn fire(hook: Option<&StepHook>, step: &Step) -> Result<(), EngineError> {
    match hook {
        Some(hook) if hook(step) => Err(EngineError::Injected(step.to_string())),
        _ => Ok(()),
    }
}

/// What to sync.
#[derive(Debug, Clone, Default)]
pub struct SyncOptions {
    /// Only this target (default: all).
    pub target: Option<String>,
    /// Only this person: a partial read that never deprovisions.
    pub employee: Option<EmployeeId>,
    /// Compute and return plans; write nothing anywhere.
    pub dry_run: bool,
    /// Who asked: `cli`, `schedule`, `webhook`, `api`.
    pub trigger: String,
    /// Go on even when the read shrank more than the guard allows (the operator confirmed it).
    pub allow_shrink: bool,
}

/// How a target's sync ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", content = "detail", rename_all = "snake_case")]
pub enum TargetStatus {
    /// Dry run: the plan was computed, nothing was written.
    Planned,
    /// The plan changed nothing.
    UpToDate,
    /// Every operation went through.
    Applied,
    /// Some operations failed or were parked; the rest went through.
    Partial,
    /// A guard held the plan for approval.
    Held,
    /// The target failed fatally.
    Failed(String),
    /// Nothing was done: the read was not trusted.
    Aborted(String),
}

/// A read of one source.
#[derive(Debug, Clone, Serialize)]
pub struct ReadSummary {
    /// The account.
    pub source: String,
    /// Employees read.
    pub employees: usize,
    /// Whether the read was full and complete.
    pub complete: bool,
    /// Records skipped as malformed: id (if any) and why.
    pub skipped: Vec<(Option<String>, String)>,
    /// Requests made.
    pub requests: u64,
    /// Seconds the read took.
    pub seconds: f64,
    /// Why a read is incomplete, or what was healed.
    pub warnings: Vec<String>,
}

/// What happened to one person in a one-person sync.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PersonTrace {
    /// Fetched from Personio (name), or why not.
    pub fetched: String,
    /// In scope of the target, and if not, why.
    pub in_scope: String,
    /// What the target holds for them according to state.
    pub matched: String,
    /// The planned action(s).
    pub action: String,
    /// What the target answered.
    pub result: String,
}

/// The result of syncing (or planning) one target.
#[derive(Debug, Clone, Serialize)]
pub struct TargetReport {
    /// The target.
    pub target: String,
    /// Its source account.
    pub source: String,
    /// The run recorded in the store (none for dry runs).
    pub run: Option<RunId>,
    /// The plan.
    pub plan: Plan,
    /// How it ended.
    pub status: TargetStatus,
    /// What applying did.
    pub apply: Option<ApplyReport>,
    /// People whose mapping failed (skipped, never deprovisioned).
    pub mapping_errors: Vec<String>,
    /// The one-person step trace, for `sync --employee`.
    pub trace: Option<PersonTrace>,
}

/// What a whole sync did.
#[derive(Debug, Clone, Serialize)]
pub struct PlanOutcome {
    /// One entry per source read.
    pub reads: Vec<ReadSummary>,
    /// One entry per target.
    pub targets: Vec<TargetReport>,
}

/// The engine: sources, targets, state and a clock, chosen once from configuration.
pub struct Engine {
    store: AnyStore,
    sources: Vec<SourceSetup>,
    targets: Vec<TargetSetup>,
    clock: Arc<dyn Clock>,
    hook: Option<StepHook>,
    /// Where per-target lock files go and the store they guard; `None`: no locking.
    lock: Option<(std::path::PathBuf, String)>,
}

impl fmt::Debug for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine")
            .field(
                "sources",
                &self.sources.iter().map(|s| &s.name).collect::<Vec<_>>(),
            )
            .field(
                "targets",
                &self.targets.iter().map(|t| &t.name).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

struct SourceRead {
    employees: Vec<Employee>,
    scope: ReadScope,
    skipped: BTreeSet<EmployeeId>,
    summary: ReadSummary,
}

impl Engine {
    /// An engine over these parts.
    pub fn new(
        store: AnyStore,
        sources: Vec<SourceSetup>,
        targets: Vec<TargetSetup>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Engine {
            store,
            sources,
            targets,
            clock,
            hook: None,
            lock: None,
        }
    }

    /// Allows one sync per target at a time for the store at `state_url` (lock files beside a
    /// SQLite file, else in the temp directory). The CLI always sets it.
    pub fn locked(mut self, state_url: &str) -> Self {
        self.lock = Some((crate::lock::lock_dir(state_url), state_url.to_string()));
        self
    }

    fn lock_target(&self, target: &str) -> Result<Option<crate::lock::TargetLock>, EngineError> {
        match &self.lock {
            Some((dir, url)) => crate::lock::TargetLock::acquire(dir, url, target).map(Some),
            None => Ok(None),
        }
    }

    /// Installs a crash hook (tests).
    pub fn with_hook(mut self, hook: StepHook) -> Self {
        self.hook = Some(hook);
        self
    }

    /// The state store.
    pub fn store(&self) -> &AnyStore {
        &self.store
    }

    /// The configured targets.
    pub fn targets(&self) -> &[TargetSetup] {
        &self.targets
    }

    /// The configured sources.
    pub fn sources(&self) -> &[SourceSetup] {
        &self.sources
    }

    /// Syncs (or, with `dry_run`, plans) the selected targets.
    pub async fn sync(
        &self,
        options: &SyncOptions,
        progress: Option<ApplyProgress>,
    ) -> Result<PlanOutcome, EngineError> {
        let selected: Vec<&TargetSetup> = match &options.target {
            Some(name) => {
                let t = self
                    .targets
                    .iter()
                    .find(|t| &t.name == name)
                    .ok_or_else(|| {
                        EngineError::Unknown(format!(
                            "no target is named '{name}'; configured: {}",
                            self.targets
                                .iter()
                                .map(|t| t.name.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ))
                    })?;
                vec![t]
            }
            None => self.targets.iter().collect(),
        };
        let mut order: Vec<&str> = Vec::new();
        for t in &selected {
            if !order.contains(&t.source.as_str()) {
                order.push(&t.source);
            }
        }
        let mut outcome = PlanOutcome {
            reads: Vec::new(),
            targets: Vec::new(),
        };
        for source_name in order {
            let source = self
                .sources
                .iter()
                .find(|s| s.name == source_name)
                .ok_or_else(|| {
                    EngineError::Unknown(format!(
                        "no [[personio]] account is named '{source_name}'"
                    ))
                })?;
            let targets: Vec<&TargetSetup> = selected
                .iter()
                .copied()
                .filter(|t| t.source == source_name)
                .collect();
            // A source that cannot be read, or whose read is not trusted, fails its own
            // targets (recorded as failed runs); the other sources go on.
            let read = match self.read_and_check(source, &targets, options).await {
                Ok(read) => read,
                Err(e @ EngineError::Injected(_)) => return Err(e),
                Err(e) => {
                    let message = e.to_string();
                    let status = match &e {
                        EngineError::InsaneSource { message, .. } => {
                            TargetStatus::Aborted(message.clone())
                        }
                        other => TargetStatus::Failed(other.to_string()),
                    };
                    outcome.reads.push(ReadSummary {
                        source: source.name.clone(),
                        employees: 0,
                        complete: false,
                        skipped: Vec::new(),
                        requests: source.client.stats().requests,
                        seconds: 0.0,
                        warnings: vec![message.clone()],
                    });
                    for t in &targets {
                        let run = self.failed_run(t, options, &message).await?;
                        outcome.targets.push(failed_report(t, run, status.clone()));
                    }
                    continue;
                }
            };
            outcome.reads.push(read.summary.clone());
            let mut snapshot_saved = false;
            for setup in targets {
                let run = if options.dry_run {
                    None
                } else {
                    Some(
                        self.store
                            .start_run(
                                "sync",
                                &options.trigger,
                                Some(&source.name),
                                Some(&setup.name),
                                self.clock.now(),
                            )
                            .await?,
                    )
                };
                let result = async {
                    if let (Some(run), ReadScope::Full { .. }, false) =
                        (run, read.scope, snapshot_saved)
                    {
                        self.store
                            .save_snapshot(&source.name, run, &read.employees, self.clock.now())
                            .await?;
                        snapshot_saved = true;
                        fire(
                            self.hook.as_ref(),
                            &Step::Snapshot {
                                source: source.name.clone(),
                            },
                        )?;
                    }
                    self.sync_target(setup, &read, run, options, progress.clone(), None)
                        .await
                }
                .await;
                match result {
                    Ok(report) => outcome.targets.push(report),
                    Err(e @ EngineError::Injected(_)) => return Err(e),
                    Err(e) => {
                        let message = e.to_string();
                        if let Some(run) = run {
                            // Best effort: the store may be what failed.
                            let _ = self
                                .store
                                .finish_run(
                                    run,
                                    RunStatus::Failed,
                                    &BTreeMap::new(),
                                    Some(&message),
                                    self.clock.now(),
                                )
                                .await;
                        }
                        tracing::error!(target = %setup.name, error = %message, "Sync of a target failed.");
                        outcome.targets.push(failed_report(
                            setup,
                            run,
                            TargetStatus::Failed(message),
                        ));
                    }
                }
            }
        }
        Ok(outcome)
    }

    /// Reads a source and applies the guards that need only the read: nobody carries a
    /// status (a credential that may not read it), an empty or much smaller read.
    async fn read_and_check(
        &self,
        source: &SourceSetup,
        targets: &[&TargetSetup],
        options: &SyncOptions,
    ) -> Result<SourceRead, EngineError> {
        let read = self.read(source, options).await?;
        fire(
            self.hook.as_ref(),
            &Step::Read {
                source: source.name.clone(),
            },
        )?;
        if let ReadScope::Full { .. } = read.scope {
            if let Some(message) = unreadable_status(&read.employees) {
                return Err(EngineError::InsaneSource {
                    source_name: source.name.clone(),
                    message,
                });
            }
            if !options.allow_shrink {
                let previous = self.store.last_read_count(&source.name).await?;
                let limit = targets
                    .iter()
                    .map(|t| t.max_shrink_percent)
                    .fold(f64::INFINITY, f64::min);
                if let Err(abort) =
                    psync_planner::check_source(read.employees.len(), previous, limit)
                {
                    return Err(EngineError::InsaneSource {
                        source_name: source.name.clone(),
                        message: abort.to_string(),
                    });
                }
            }
        }
        Ok(read)
    }

    /// Records a run that failed before planning (not for dry runs).
    async fn failed_run(
        &self,
        target: &TargetSetup,
        options: &SyncOptions,
        message: &str,
    ) -> Result<Option<RunId>, EngineError> {
        if options.dry_run {
            return Ok(None);
        }
        let run = self
            .store
            .start_run(
                "sync",
                &options.trigger,
                Some(&target.source),
                Some(&target.name),
                self.clock.now(),
            )
            .await?;
        self.store
            .finish_run(
                run,
                RunStatus::Failed,
                &BTreeMap::new(),
                Some(message),
                self.clock.now(),
            )
            .await?;
        Ok(Some(run))
    }

    async fn read(
        &self,
        source: &SourceSetup,
        options: &SyncOptions,
    ) -> Result<SourceRead, EngineError> {
        let started = std::time::Instant::now();
        match &options.employee {
            Some(id) => {
                let employee = source.client.read_one(id).await?;
                let stats = source.client.stats();
                Ok(SourceRead {
                    employees: employee.into_iter().collect(),
                    scope: ReadScope::Partial,
                    skipped: BTreeSet::new(),
                    summary: ReadSummary {
                        source: source.name.clone(),
                        employees: 0,
                        complete: false,
                        skipped: Vec::new(),
                        requests: stats.requests,
                        seconds: started.elapsed().as_secs_f64(),
                        warnings: Vec::new(),
                    },
                })
                .map(|mut r| {
                    r.summary.employees = r.employees.len();
                    r
                })
            }
            None => {
                let read = source.client.read_all(&ReadOptions::default()).await?;
                let skipped: BTreeSet<EmployeeId> = read
                    .skipped
                    .iter()
                    .filter_map(|s| {
                        s.id.as_deref()
                            .filter(|id| is_personio_id(id))
                            .map(EmployeeId::new)
                    })
                    .collect();
                Ok(SourceRead {
                    summary: ReadSummary {
                        source: source.name.clone(),
                        employees: read.employees.len(),
                        complete: read.complete,
                        skipped: read
                            .skipped
                            .iter()
                            .map(|s| (s.id.clone(), s.reason.clone()))
                            .collect(),
                        requests: read.stats.requests,
                        seconds: read.stats.elapsed.as_secs_f64(),
                        warnings: read.warnings.clone(),
                    },
                    scope: ReadScope::Full {
                        complete: read.complete && !has_unidentified(&read.skipped),
                    },
                    employees: read.employees,
                    skipped,
                })
            }
        }
    }

    async fn sync_target(
        &self,
        setup: &TargetSetup,
        read: &SourceRead,
        run: Option<RunId>,
        options: &SyncOptions,
        progress: Option<ApplyProgress>,
        approved: Option<&BTreeSet<(EmployeeId, OpKind)>>,
    ) -> Result<TargetReport, EngineError> {
        // One sync per target at a time; held until this function returns.
        let _lock = if run.is_some() {
            self.lock_target(&setup.name)?
        } else {
            None
        };
        // Creates whose outcome a crash lost: the account may exist, and it is ours.
        let unconfirmed_creates: BTreeSet<EmployeeId> = if run.is_some() {
            self.store
                .open_intents(&setup.name)
                .await?
                .into_iter()
                .filter(|(_, _, op)| op.kind() == OpKind::Create)
                .map(|(_, _, op)| op.person().clone())
                .collect()
        } else {
            BTreeSet::new()
        };
        let applied = self.store.applied(&setup.name).await?;
        // On a full read, records equal to the applied ones are not held twice (100k resync).
        let mut mapped = match read.scope {
            ReadScope::Full { .. } => setup
                .mapping
                .map_all_against(&read.employees, Some(&applied)),
            ReadScope::Partial => setup.mapping.map_all(&read.employees),
        };
        if setup.mapping.fits_existing_groups()
            && let Some(existing) =
                setup
                    .target
                    .existing_groups()
                    .await
                    .map_err(|error| EngineError::Target {
                        target: setup.name.clone(),
                        error,
                    })?
        {
            for person in &mut mapped.people {
                if let Some(record) = &mut person.record {
                    setup
                        .mapping
                        .resolve_groups(record, &existing, &mut mapped.notes);
                }
            }
        }
        if read.scope == ReadScope::Partial && setup.mapping.resolves_managers() {
            keep_known_managers(&mut mapped, &read.employees, &applied);
        }
        let mut skipped = read.skipped.clone();
        skipped.extend(mapped.errors.iter().map(|e| e.person.clone()));
        let in_scope_line = options
            .employee
            .as_ref()
            .map(|id| in_scope_line(id, &mapped));
        let psync_mapping::Mapped {
            people: mapped_people,
            notes: mapping_notes,
            errors,
        } = mapped;
        // Records move into the planner's input: no copy per person.
        let people: Vec<Person> = mapped_people
            .into_iter()
            .map(|p| Person {
                id: p.id,
                record: p.record,
                as_applied: p.as_applied,
                lifecycle: Lifecycle {
                    status: p.status,
                    hire_date: p.hire_date,
                    termination_date: p.termination_date,
                },
            })
            .collect();
        let now = self.clock.now();
        let mut plan = psync_planner::plan(PlanInput {
            target: &setup.name,
            source: &setup.source,
            people: people.into(),
            skipped: &skipped,
            applied: &applied,
            scope: read.scope,
            now,
            policy: &setup.policy,
        });
        if let ReadScope::Full { .. } = read.scope {
            plan.notes.extend(never_returned(
                &setup.mapping.used_attributes(),
                &read.employees,
            ));
        }
        plan.notes.extend(mapping_notes);
        plan.notes.extend(errors.iter().map(|e| PlanNote {
            person: Some(e.person.clone()),
            message: format!("skipped: field '{}': {}", e.field, e.message),
        }));
        for op in &mut plan.operations {
            if let psync_model::Operation::Create { record, match_by } = op
                && unconfirmed_creates.contains(&record.person)
            {
                *match_by = psync_model::MatchBy::ExternalId;
            }
        }
        if let Some(approved) = approved {
            restrict_to_approved(&mut plan, approved);
        }
        fire(
            self.hook.as_ref(),
            &Step::Planned {
                target: setup.name.clone(),
            },
        )?;
        let mapping_errors = errors.iter().map(render_mapping_error).collect();
        let mut report = TargetReport {
            target: setup.name.clone(),
            source: setup.source.clone(),
            run,
            status: TargetStatus::Planned,
            apply: None,
            mapping_errors,
            trace: None,
            plan,
        };
        if let Some(id) = &options.employee {
            report.trace = Some(trace_before(
                id,
                read,
                in_scope_line.clone().unwrap_or_default(),
                &applied,
                &report.plan,
            ));
        }
        let Some(run) = run else {
            return Ok(report);
        };
        if let Some(hold) = &report.plan.hold {
            self.supersede_held(&setup.name, run).await?;
            self.store
                .hold_plan(run, &report.plan, self.clock.now())
                .await?;
            let message =
                format!("held for approval: {hold}; approve with `personio-sync approve {run}`");
            self.store
                .finish_run(
                    run,
                    RunStatus::Held,
                    &plan_counts(&report.plan),
                    Some(&message),
                    self.clock.now(),
                )
                .await?;
            report.status = TargetStatus::Held;
            return Ok(report);
        }
        if report.plan.is_empty() {
            apply::close_open_intents(&self.store, &setup.name, self.clock.as_ref()).await?;
            self.store
                .finish_run(
                    run,
                    RunStatus::Succeeded,
                    &BTreeMap::new(),
                    None,
                    self.clock.now(),
                )
                .await?;
            report.status = TargetStatus::UpToDate;
            finish_trace(&mut report, None);
            return Ok(report);
        }
        let applied_report = apply::execute(
            &self.store,
            setup,
            run,
            &report.plan,
            &applied,
            self.clock.as_ref(),
            self.hook.as_ref(),
            progress.as_ref(),
        )
        .await?;
        let (status, run_status) = status_of(&applied_report);
        let message = applied_report
            .quarantined
            .as_ref()
            .map(|q| format!("target quarantined for this run: {q}"));
        self.store
            .finish_run(
                run,
                run_status,
                &applied_report.counts,
                message.as_deref(),
                self.clock.now(),
            )
            .await?;
        report.status = status;
        finish_trace(&mut report, Some(&applied_report));
        report.apply = Some(applied_report);
        Ok(report)
    }

    /// Approves a held plan. The world may have moved on since it was held, so the target is
    /// planned afresh from a new full read; the disables and deletes of the held plan that are
    /// still planned go through, newer ones do not (a later sync plans them, guarded again).
    /// Someone rehired meanwhile is therefore never disabled by an old approval.
    pub async fn approve(
        &self,
        held_run: RunId,
        progress: Option<ApplyProgress>,
    ) -> Result<TargetReport, EngineError> {
        let held = self
            .store
            .held_plans()
            .await?
            .into_iter()
            .find(|(run, _)| *run == held_run)
            .map(|(_, plan)| plan)
            .ok_or_else(|| {
                EngineError::NotHeld(format!(
                    "run {held_run} has no held plan (see `personio-sync runs`)"
                ))
            })?;
        let setup = self
            .targets
            .iter()
            .find(|t| t.name == held.target)
            .ok_or_else(|| {
                EngineError::Unknown(format!(
                    "the held plan is for target '{}', which is no longer configured",
                    held.target
                ))
            })?;
        let source = self
            .sources
            .iter()
            .find(|s| s.name == setup.source)
            .ok_or_else(|| {
                EngineError::Unknown(format!(
                    "no [[personio]] account is named '{}'",
                    setup.source
                ))
            })?;
        let approved: BTreeSet<(EmployeeId, OpKind)> = held
            .operations
            .iter()
            .filter(|op| op.kind().is_deprovision())
            .map(|op| (op.person().clone(), op.kind()))
            .collect();
        let options = SyncOptions {
            trigger: format!("approval of run {held_run}"),
            ..SyncOptions::default()
        };
        let read = self.read_and_check(source, &[setup], &options).await?;
        self.store
            .resolve_held(held_run, true, self.clock.now())
            .await?;
        let run = self
            .store
            .start_run(
                "approve",
                &options.trigger,
                Some(&setup.source),
                Some(&setup.name),
                self.clock.now(),
            )
            .await?;
        self.store
            .finish_run(
                held_run,
                RunStatus::Succeeded,
                &plan_counts(&held),
                Some(&format!("approved; applied by run {run}")),
                self.clock.now(),
            )
            .await?;
        self.store
            .save_snapshot(&source.name, run, &read.employees, self.clock.now())
            .await?;
        self.sync_target(setup, &read, Some(run), &options, progress, Some(&approved))
            .await
    }

    /// Older held plans of a target are replaced by a newer one: they are rejected.
    async fn supersede_held(&self, target: &str, newer: RunId) -> Result<(), EngineError> {
        for (run, plan) in self.store.held_plans().await? {
            if plan.target == target && run != newer {
                self.store
                    .resolve_held(run, false, self.clock.now())
                    .await?;
                self.store
                    .finish_run(
                        run,
                        RunStatus::Rejected,
                        &plan_counts(&plan),
                        Some(&format!("superseded by the plan of run {newer}")),
                        self.clock.now(),
                    )
                    .await?;
            }
        }
        Ok(())
    }

    /// Rejects a held plan: nothing is applied; the next sync plans afresh.
    pub async fn reject(&self, held_run: RunId) -> Result<Plan, EngineError> {
        let plan = self
            .store
            .resolve_held(held_run, false, self.clock.now())
            .await?
            .ok_or_else(|| {
                EngineError::NotHeld(format!(
                    "run {held_run} has no held plan (see `personio-sync runs`)"
                ))
            })?;
        self.store
            .finish_run(
                held_run,
                RunStatus::Rejected,
                &plan_counts(&plan),
                Some("rejected by an operator"),
                self.clock.now(),
            )
            .await?;
        Ok(plan)
    }
}

/// Whether a skipped record could be anyone: no id, or one that is not a Personio id (ids are
/// numbers in both API versions). Then nobody may be called gone on this read.
/// Keeps only the disables and deletes an operator approved; the rest of the plan stands.
fn restrict_to_approved(plan: &mut Plan, approved: &BTreeSet<(EmployeeId, OpKind)>) {
    let before = plan.operations.len();
    plan.operations.retain(|op| {
        !op.kind().is_deprovision() || approved.contains(&(op.person().clone(), op.kind()))
    });
    let dropped = before - plan.operations.len();
    if dropped > 0 {
        plan.notes.push(PlanNote {
            person: None,
            message: format!(
                "{dropped} disable(s)/delete(s) planned since the approved plan are left for the next sync, which guards them again"
            ),
        });
    }
    plan.hold = None;
}

fn failed_report(target: &TargetSetup, run: Option<RunId>, status: TargetStatus) -> TargetReport {
    TargetReport {
        target: target.name.clone(),
        source: target.source.clone(),
        run,
        plan: Plan {
            target: target.name.clone(),
            source: target.source.clone(),
            read_complete: false,
            in_scope: 0,
            managed: 0,
            operations: Vec::new(),
            notes: Vec::new(),
            hold: None,
        },
        status,
        apply: None,
        mapping_errors: Vec::new(),
        trace: None,
    }
}

fn has_unidentified(skipped: &[psync_personio::SkippedRecord]) -> bool {
    skipped
        .iter()
        .any(|s| !s.id.as_deref().is_some_and(is_personio_id))
}

fn is_personio_id(id: &str) -> bool {
    !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit())
}

/// A full read in which nobody carries `status` means the credential cannot read it: with no
/// status nobody is in scope, and everyone would be deprovisioned.
fn unreadable_status(employees: &[Employee]) -> Option<String> {
    (!employees.is_empty() && employees.iter().all(|e| e.status.is_none())).then(|| {
        format!(
            "none of the {} employees read carries a status; the API credential most likely may not read \
             the `status` attribute. Whitelist it in Personio (Settings → Integrations → API credentials); \
             nothing was written",
            employees.len()
        )
    })
}

/// Whitelisting diagnostics: attributes the mapping reads that no employee of a full read
/// carries. Personio leaves out attributes a credential may not read, silently.
fn never_returned(used: &BTreeSet<String>, employees: &[Employee]) -> Vec<PlanNote> {
    if employees.is_empty() {
        return Vec::new();
    }
    let mut present: BTreeSet<String> = BTreeSet::new();
    let mut any_custom = false;
    for e in employees {
        present.extend(e.present_attributes().into_iter().map(str::to_string));
        present.insert("id".into());
        for (key, attribute) in &e.custom {
            any_custom = true;
            if !attribute.value.is_empty() {
                present.insert(format!("custom.{key}"));
                if let Some(label) = &attribute.label {
                    present.insert(format!("custom.{label}"));
                }
            }
        }
    }
    if any_custom {
        present.insert("custom".into());
    }
    used.iter()
        .filter(|name| !present.contains(*name))
        .map(|name| PlanNote {
            person: None,
            message: format!(
                "no employee has a value for `{name}`: most likely the API credential may not read it \
                 (whitelist it in Personio → Settings → Integrations → API credentials); it maps to empty values"
            ),
        })
        .collect()
}

/// A one-person read cannot see the supervisor's record, so the mapping leaves the manager
/// empty. Keep the supervisor as manager when the target already manages their active account,
/// instead of planning a "manager removed" update; a full sync settles anything else.
fn keep_known_managers(
    mapped: &mut psync_mapping::Mapped,
    employees: &[Employee],
    applied: &BTreeMap<EmployeeId, AppliedAccount>,
) {
    for person in &mut mapped.people {
        let Some(record) = person.record.as_mut() else {
            continue;
        };
        if record.manager.is_some() {
            continue;
        }
        let supervisor = employees
            .iter()
            .find(|e| e.id == person.id)
            .and_then(|e| e.supervisor_id.clone());
        if let Some(s) = supervisor
            && applied.get(&s).is_some_and(|a| a.disabled_on.is_none())
        {
            record.manager = Some(s);
        }
    }
    let ids: BTreeSet<EmployeeId> = mapped.people.iter().map(|p| p.id.clone()).collect();
    mapped.notes.retain(|n| {
        !n.person
            .as_ref()
            .is_some_and(|p| ids.contains(p) && n.message.contains("supervisor"))
    });
}

fn render_mapping_error(e: &MappingError) -> String {
    format!("{}: field '{}': {}", e.person, e.field, e.message)
}

fn plan_counts(plan: &Plan) -> BTreeMap<String, u64> {
    plan.counts()
        .into_iter()
        .map(|(k, v)| (format!("planned_{k}"), v as u64))
        .collect()
}

fn status_of(report: &ApplyReport) -> (TargetStatus, RunStatus) {
    if let Some(q) = &report.quarantined {
        (TargetStatus::Failed(q.clone()), RunStatus::Failed)
    } else if report.failures.is_empty() {
        (TargetStatus::Applied, RunStatus::Succeeded)
    } else {
        (TargetStatus::Partial, RunStatus::Partial)
    }
}

fn in_scope_line(id: &EmployeeId, mapped: &psync_mapping::Mapped) -> String {
    if let Some(err) = mapped.errors.iter().find(|e| &e.person == id) {
        format!("mapping failed: field '{}': {}", err.field, err.message)
    } else {
        match mapped.people.iter().find(|p| &p.id == id) {
            Some(p) if p.record.is_some() || p.as_applied => "yes".into(),
            Some(_) => "no: outside the target's scope".into(),
            None => "-".into(),
        }
    }
}

fn trace_before(
    id: &EmployeeId,
    read: &SourceRead,
    in_scope: String,
    applied: &BTreeMap<EmployeeId, AppliedAccount>,
    plan: &Plan,
) -> PersonTrace {
    let employee = read.employees.iter().find(|e| &e.id == id);
    let fetched = match employee {
        Some(e) => format!(
            "yes: {} ({}, status {})",
            e.display_name(),
            e.email.as_deref().unwrap_or("no e-mail"),
            e.status.as_ref().map(|s| s.as_str()).unwrap_or("unknown")
        ),
        None => "not found in Personio; a one-person sync never deprovisions, a full sync decides"
            .into(),
    };
    let matched = match applied.get(id) {
        Some(a) => format!(
            "managed account{}{}",
            a.remote_id
                .as_ref()
                .map(|r| format!(" {r}"))
                .unwrap_or_default(),
            if a.disabled_on.is_some() {
                " (disabled)"
            } else {
                ""
            }
        ),
        None => "no account managed yet".into(),
    };
    let ops: Vec<String> = plan
        .operations
        .iter()
        .filter(|op| op.person() == id)
        .map(|op| match op.kind() {
            OpKind::Update => format!(
                "update ({} changes)",
                match op {
                    psync_model::Operation::Update {
                        changes,
                        groups_added,
                        groups_removed,
                        ..
                    } => changes.len() + groups_added.len() + groups_removed.len(),
                    _ => 0,
                }
            ),
            kind => kind.to_string(),
        })
        .collect();
    let mut action = if ops.is_empty() {
        "none: already up to date".to_string()
    } else {
        ops.join(", ")
    };
    if let Some(note) = plan.notes.iter().find(|n| n.person.as_ref() == Some(id)) {
        action.push_str(&format!(" (note: {})", note.message));
    }
    PersonTrace {
        fetched,
        in_scope,
        matched,
        action,
        result: String::new(),
    }
}

fn finish_trace(report: &mut TargetReport, applied: Option<&ApplyReport>) {
    let Some(trace) = report.trace.as_mut() else {
        return;
    };
    let person = report.plan.operations.first().map(|op| op.person().clone());
    trace.result = match (applied, person) {
        (Some(a), Some(p)) => a.outcomes.get(&p).cloned().unwrap_or_else(|| "-".into()),
        _ => "nothing to do".into(),
    };
}
