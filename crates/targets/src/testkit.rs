//! The conformance suite every target passes (file now; SCIM, REST, LDAP later), and the
//! [`Inspect`] read-back hook it needs.
//!
//! Always compiled (it is small and has no extra dependencies), so integration tests of this
//! crate and of future target crates use the same checks:
//!
//! ```no_run
//! # use psync_targets::file::{FileConfig, FileTarget};
//! # use psync_targets::testkit::{MissingPerson, Suite};
//! # async fn example(dir: std::path::PathBuf, unwritable: std::path::PathBuf) {
//! let suite = Suite::new(move || FileTarget::new("hr", FileConfig::new(&dir)).unwrap())
//!     .missing_person(MissingPerson::Restore)
//!     .broken(move || FileTarget::new("hr", FileConfig::new(&unwritable)).unwrap());
//! suite.run().await.unwrap_or_else(|failures| panic!("{failures}"));
//! # }
//! ```
//!
//! Scenarios use their own person ids (`101`, `201`, `202`, `1000`, `301`–`304`, `401`, `501`,
//! `502`), so `make` may return targets that share one backing store. Every step is wrapped in a
//! run (`begin`, `apply`, `finish`) and checked by reading back through [`Inspect`] after
//! `finish`, which for a batched target is when outcomes become durable.

use crate::error::{ErrorKind, TargetError};
use crate::target::{RunInfo, RunReport, Target};
use psync_model::{
    EmployeeId, FieldChange, GroupPath, LeaveReason, MatchBy, Operation, Outcome, TargetRecord,
    Value,
};
use std::collections::BTreeSet;
use std::fmt;
use std::future::Future;

/// Reads back what a target durably holds for a person, in `TargetRecord` terms.
///
/// Implemented by every target so the conformance suite can see the effect of an operation
/// (the file target reads its snapshot on disk; a SCIM target would GET the user).
pub trait Inspect: Target {
    /// The person's account as the target holds it, `None` when it has none.
    fn read(
        &self,
        person: &EmployeeId,
    ) -> impl Future<Output = Result<Option<TargetRecord>, TargetError>> + Send;
}

/// What a target does with an Update, Enable or Disable of a person it has no account for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissingPerson {
    /// Creates the account from the operation's full record (`Applied`); read-back shows it.
    Restore,
    /// Fails with [`ErrorKind::Conflict`] and creates nothing.
    Conflict,
    /// Either of the above (the default of [`conformance`]; pin it with [`Suite::missing_person`]).
    Either,
}

/// One failed check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The scenario (`lifecycle`, `adoption`…).
    pub scenario: &'static str,
    /// The step within it.
    pub step: String,
    /// What was expected and what happened.
    pub message: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}: {}", self.scenario, self.step, self.message)
    }
}

/// Every failed check of a suite run (scenarios are independent, so all are reported).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failures(pub Vec<Failure>);

impl fmt::Display for Failures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} conformance check(s) failed:", self.0.len())?;
        for failure in &self.0 {
            writeln!(f, "  {failure}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Failures {}

/// The checks that passed, by scenario and step.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Passed {
    /// `scenario: step` lines.
    pub checks: Vec<String>,
}

/// Runs the suite with defaults ([`MissingPerson::Either`], no broken-target hook).
pub async fn conformance<T: Inspect>(make: impl Fn() -> T + 'static) -> Result<Passed, Failures> {
    Suite::new(make).run().await
}

/// The conformance suite, configured with what the target documents.
pub struct Suite<T> {
    make: Box<dyn Fn() -> T>,
    broken: Option<Box<dyn Fn() -> T>>,
    missing_person: MissingPerson,
}

impl<T> fmt::Debug for Suite<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Suite")
            .field("broken", &self.broken.is_some())
            .field("missing_person", &self.missing_person)
            .finish_non_exhaustive()
    }
}

impl<T: Inspect> Suite<T> {
    /// A suite over targets from `make` (called once per scenario).
    pub fn new(make: impl Fn() -> T + 'static) -> Self {
        Suite {
            make: Box::new(make),
            broken: None,
            missing_person: MissingPerson::Either,
        }
    }

    /// Pins what the target documents for operations on a person it does not know.
    pub fn missing_person(mut self, behaviour: MissingPerson) -> Self {
        self.missing_person = behaviour;
        self
    }

    /// The error-kind hook: `make_broken` returns a target that cannot work (unwritable
    /// directory, wrong credentials). The suite then expects `check` to fail with
    /// [`ErrorKind::Fatal`], and a run creating a person to fail with `Fatal` in `begin`,
    /// `apply` or `finish`, without panicking.
    pub fn broken(mut self, make_broken: impl Fn() -> T + 'static) -> Self {
        self.broken = Some(Box::new(make_broken));
        self
    }

    /// Runs every scenario; `Err` lists every failed check.
    pub async fn run(&self) -> Result<Passed, Failures> {
        let mut passed = Passed::default();
        let mut failures = Vec::new();
        let mut runs = 0;
        for scenario in Scenario::ALL {
            let target = match scenario {
                Scenario::Broken => match &self.broken {
                    Some(make) => make(),
                    None => continue,
                },
                _ => (self.make)(),
            };
            if scenario == Scenario::BatchRuns && !target.batched() {
                continue;
            }
            let mut cx = Cx {
                target: &target,
                scenario: scenario.name(),
                runs: &mut runs,
                passed: &mut passed,
            };
            let result = match scenario {
                Scenario::Check => check(&mut cx).await,
                Scenario::Lifecycle => lifecycle(&mut cx).await,
                Scenario::Several => several(&mut cx).await,
                Scenario::Unknown => unknown(&mut cx, self.missing_person).await,
                Scenario::Adoption => adoption(&mut cx).await,
                Scenario::BatchRuns => batch_runs(&mut cx).await,
                Scenario::Broken => broken(&mut cx).await,
            };
            if let Err(failure) = result {
                failures.push(failure);
            }
        }
        if failures.is_empty() {
            Ok(passed)
        } else {
            Err(Failures(failures))
        }
    }
}

/// The scenarios, each run on a target fresh from `make` (or `make_broken`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scenario {
    /// `check` answers with a summary.
    Check,
    /// create, re-create, update, disable, enable, delete, delete again of one person.
    Lifecycle,
    /// Several people in one run; deleting one leaves the others.
    Several,
    /// Operations on a person the target has no account for.
    Unknown,
    /// A create over an existing account: Conflict without match_by, Adopted with external_id.
    Adoption,
    /// Batched targets only: an abandoned run and a dry run leave nothing.
    BatchRuns,
    /// The error-kind hook: a broken target fails with Fatal.
    Broken,
}

impl Scenario {
    const ALL: [Scenario; 7] = [
        Scenario::Check,
        Scenario::Lifecycle,
        Scenario::Several,
        Scenario::Unknown,
        Scenario::Adoption,
        Scenario::BatchRuns,
        Scenario::Broken,
    ];

    fn name(self) -> &'static str {
        match self {
            Scenario::Check => "check",
            Scenario::Lifecycle => "lifecycle",
            Scenario::Several => "several people",
            Scenario::Unknown => "unknown person",
            Scenario::Adoption => "adoption",
            Scenario::BatchRuns => "batch runs",
            Scenario::Broken => "broken target",
        }
    }
}

/// The state of one scenario.
struct Cx<'a, T> {
    target: &'a T,
    scenario: &'static str,
    runs: &'a mut i64,
    passed: &'a mut Passed,
}

type Step<T = ()> = Result<T, Failure>;

impl<T: Inspect> Cx<'_, T> {
    fn fail(&self, step: &str, message: impl Into<String>) -> Failure {
        Failure {
            scenario: self.scenario,
            step: step.to_string(),
            message: message.into(),
        }
    }

    fn pass(&mut self, step: &str) {
        self.passed
            .checks
            .push(format!("{}: {step}", self.scenario));
    }

    fn next_run(&mut self, dry_run: bool) -> RunInfo {
        *self.runs += 1;
        RunInfo {
            run: *self.runs,
            target: self.target.name().to_string(),
            started_at: jiff::Timestamp::from_second(1_750_000_000 + *self.runs * 60)
                .unwrap_or(jiff::Timestamp::UNIX_EPOCH),
            dry_run,
        }
    }

    /// One run applying `ops`; `begin` and `finish` must succeed.
    async fn run(
        &mut self,
        step: &str,
        ops: &[Operation],
    ) -> Step<Vec<Result<Outcome, TargetError>>> {
        let info = self.next_run(false);
        self.target
            .begin(&info)
            .await
            .map_err(|e| self.fail(step, format!("begin failed: {}: {}", e.kind, e.message)))?;
        let mut outcomes = Vec::new();
        for op in ops {
            outcomes.push(self.target.apply(op).await);
        }
        self.target
            .finish(&info, &RunReport::default())
            .await
            .map_err(|e| self.fail(step, format!("finish failed: {}: {}", e.kind, e.message)))?;
        Ok(outcomes)
    }

    /// One run applying `op`, whose outcome must satisfy `ok`.
    async fn expect_outcome(
        &mut self,
        step: &str,
        op: Operation,
        want: &str,
        ok: impl Fn(&Outcome) -> bool,
    ) -> Step<Outcome> {
        let mut outcomes = self.run(step, std::slice::from_ref(&op)).await?;
        match outcomes.pop() {
            Some(Ok(outcome)) if ok(&outcome) => {
                self.pass(step);
                Ok(outcome)
            }
            Some(Ok(outcome)) => Err(self.fail(step, format!("got {outcome:?}, want {want}"))),
            Some(Err(e)) => Err(self.fail(
                step,
                format!("failed with {}: {}, want {want}", e.kind, e.message),
            )),
            None => Err(self.fail(step, "no outcome")),
        }
    }

    /// One run applying `op`, which must fail with `kind`.
    async fn expect_error(&mut self, step: &str, op: Operation, kind: ErrorKind) -> Step {
        let mut outcomes = self.run(step, std::slice::from_ref(&op)).await?;
        match outcomes.pop() {
            Some(Err(e)) if e.kind == kind => {
                if e.message.trim().is_empty() {
                    return Err(self.fail(step, "the error has no message"));
                }
                self.pass(step);
                Ok(())
            }
            Some(Err(e)) => Err(self.fail(
                step,
                format!("failed with {}: {}, want a {kind} error", e.kind, e.message),
            )),
            Some(Ok(outcome)) => {
                Err(self.fail(step, format!("got {outcome:?}, want a {kind} error")))
            }
            None => Err(self.fail(step, "no outcome")),
        }
    }

    /// Reads `person` back; it must equal `want`.
    async fn expect_read(&mut self, step: &str, person: &str, want: Option<&TargetRecord>) -> Step {
        let step = format!("{step} (read back)");
        let got = self
            .target
            .read(&EmployeeId::new(person))
            .await
            .map_err(|e| self.fail(&step, format!("read failed: {}: {}", e.kind, e.message)))?;
        if got.as_ref() == want {
            self.pass(&step);
            Ok(())
        } else {
            Err(self.fail(&step, format!("read {got:?}, want {want:?}")))
        }
    }
}

/// A record with one value of every type, a group and (in `version` 2+) a manager.
pub fn sample_record(person: &str, version: u32) -> TargetRecord {
    let mut record = TargetRecord::new(EmployeeId::new(person));
    let a = &mut record.attributes;
    a.insert(
        "email".into(),
        Value::Text(format!("p{person}@example.com")),
    );
    a.insert(
        "display_name".into(),
        Value::Text(format!("Jörg \"JJ\" Müller-{person}, v{version}")),
    );
    a.insert(
        "hire_date".into(),
        Value::Date(jiff::civil::date(2024, 2, 29)),
    );
    a.insert(
        "weekly_hours".into(),
        Value::Decimal(37.5 + f64::from(version)),
    );
    a.insert("level".into(), Value::Integer(i64::from(version)));
    a.insert("remote".into(), Value::Boolean(version.is_multiple_of(2)));
    a.insert(
        "tags".into(),
        Value::List(vec!["a".into(), format!("v{version}")]),
    );
    a.insert("phone".into(), Value::Null);
    record
        .groups
        .insert(GroupPath(vec!["Munich".into(), "Engineering".into()]));
    if version >= 2 {
        record
            .groups
            .insert(GroupPath(vec![format!("Team {version}")]));
        record.manager = Some(EmployeeId::new("1"));
    }
    record
}

fn create(record: &TargetRecord, match_by: MatchBy) -> Operation {
    Operation::Create {
        record: record.clone(),
        match_by,
    }
}

fn changes(old: &TargetRecord, new: &TargetRecord) -> Vec<FieldChange> {
    let names: BTreeSet<&str> = old.attributes.keys().chain(new.attributes.keys()).collect();
    let mut out: Vec<FieldChange> = names
        .into_iter()
        .filter(|n| old.get(n) != new.get(n))
        .map(|n| FieldChange {
            field: n.to_string(),
            old: old.get(n).clone(),
            new: new.get(n).clone(),
        })
        .collect();
    let id = |m: &Option<EmployeeId>| {
        m.as_ref()
            .map_or(Value::Null, |m| Value::Text(m.to_string()))
    };
    if old.manager != new.manager {
        out.push(FieldChange {
            field: "manager".into(),
            old: id(&old.manager),
            new: id(&new.manager),
        });
    }
    if old.active != new.active {
        out.push(FieldChange {
            field: "active".into(),
            old: Value::Boolean(old.active),
            new: Value::Boolean(new.active),
        });
    }
    out
}

fn update(remote_id: Option<String>, old: &TargetRecord, new: &TargetRecord) -> Operation {
    Operation::Update {
        remote_id,
        changes: changes(old, new),
        groups_added: new.groups.difference(&old.groups).cloned().collect(),
        groups_removed: old.groups.difference(&new.groups).cloned().collect(),
        record: new.clone(),
    }
}

fn inactive(record: &TargetRecord) -> TargetRecord {
    let mut record = record.clone();
    record.active = false;
    record
}

fn disable(remote_id: Option<String>, record: &TargetRecord) -> Operation {
    Operation::Disable {
        remote_id,
        reason: LeaveReason::Left,
        record: inactive(record),
    }
}

fn enable(remote_id: Option<String>, old: &TargetRecord, new: &TargetRecord) -> Operation {
    Operation::Enable {
        remote_id,
        changes: changes(old, new),
        record: new.clone(),
    }
}

fn delete(remote_id: Option<String>, record: &TargetRecord) -> Operation {
    Operation::Delete {
        remote_id,
        reason: LeaveReason::Gone,
        record: record.clone(),
    }
}

fn is_created(o: &Outcome) -> bool {
    matches!(o, Outcome::Created { remote_id } if !remote_id.trim().is_empty())
}

async fn check<T: Inspect>(cx: &mut Cx<'_, T>) -> Step {
    match cx.target.check().await {
        Ok(summary) if !summary.trim().is_empty() => {
            cx.pass("check answers with a summary");
            Ok(())
        }
        Ok(_) => Err(cx.fail("check", "the summary is empty")),
        Err(e) => Err(cx.fail("check", format!("failed with {}: {}", e.kind, e.message))),
    }
}

async fn lifecycle<T: Inspect>(cx: &mut Cx<'_, T>) -> Step {
    let v1 = sample_record("101", 1);
    let created = cx
        .expect_outcome(
            "create",
            create(&v1, MatchBy::None),
            "Created with a remote id",
            is_created,
        )
        .await?;
    let remote = created.remote_id().map(str::to_string);
    cx.expect_read("create", "101", Some(&v1)).await?;

    cx.expect_outcome(
        "create again",
        create(&v1, MatchBy::None),
        "Unchanged",
        |o| *o == Outcome::Unchanged,
    )
    .await?;
    cx.expect_read("create again", "101", Some(&v1)).await?;

    let v2 = sample_record("101", 2);
    cx.expect_outcome("update", update(remote.clone(), &v1, &v2), "Applied", |o| {
        *o == Outcome::Applied
    })
    .await?;
    cx.expect_read("update", "101", Some(&v2)).await?;
    cx.expect_outcome(
        "update again",
        update(remote.clone(), &v1, &v2),
        "Unchanged",
        |o| *o == Outcome::Unchanged,
    )
    .await?;

    cx.expect_outcome("disable", disable(remote.clone(), &v2), "Applied", |o| {
        *o == Outcome::Applied
    })
    .await?;
    cx.expect_read("disable", "101", Some(&inactive(&v2)))
        .await?;
    cx.expect_outcome(
        "disable again",
        disable(remote.clone(), &v2),
        "Unchanged",
        |o| *o == Outcome::Unchanged,
    )
    .await?;

    let v3 = sample_record("101", 3);
    cx.expect_outcome(
        "enable",
        enable(remote.clone(), &inactive(&v2), &v3),
        "Applied",
        |o| *o == Outcome::Applied,
    )
    .await?;
    cx.expect_read("enable", "101", Some(&v3)).await?;

    cx.expect_outcome("delete", delete(remote.clone(), &v3), "Applied", |o| {
        *o == Outcome::Applied
    })
    .await?;
    cx.expect_read("delete", "101", None).await?;
    cx.expect_outcome("delete again", delete(remote, &v3), "Unchanged", |o| {
        *o == Outcome::Unchanged
    })
    .await?;
    cx.expect_read("delete again", "101", None).await
}

async fn several<T: Inspect>(cx: &mut Cx<'_, T>) -> Step {
    let people = ["201", "202", "1000"];
    let records: Vec<TargetRecord> = people.iter().map(|p| sample_record(p, 1)).collect();
    let ops: Vec<Operation> = records.iter().map(|r| create(r, MatchBy::None)).collect();
    let outcomes = cx.run("three creates in one run", &ops).await?;
    for (person, outcome) in people.iter().zip(outcomes) {
        match outcome {
            Ok(o) if is_created(&o) => {}
            other => {
                return Err(cx.fail(
                    "three creates in one run",
                    format!("person {person}: got {other:?}, want Created"),
                ));
            }
        }
    }
    cx.pass("three creates in one run");
    let remote = Some("202".to_string());
    cx.expect_outcome(
        "delete one of them",
        delete(remote, &records[1]),
        "Applied",
        |o| *o == Outcome::Applied,
    )
    .await?;
    cx.expect_read("the others stay", "201", Some(&records[0]))
        .await?;
    cx.expect_read("the others stay", "1000", Some(&records[2]))
        .await?;
    cx.expect_read("the deleted one is gone", "202", None).await
}

async fn unknown<T: Inspect>(cx: &mut Cx<'_, T>, behaviour: MissingPerson) -> Step {
    let ghost = sample_record("301", 1);
    cx.expect_outcome(
        "delete of an unknown person",
        delete(Some("301".into()), &ghost),
        "Unchanged",
        |o| *o == Outcome::Unchanged,
    )
    .await?;
    cx.expect_read("delete of an unknown person", "301", None)
        .await?;

    let cases = [
        ("update of an unknown person", "302"),
        ("enable of an unknown person", "303"),
        ("disable of an unknown person", "304"),
    ];
    for (step, person) in cases {
        let record = sample_record(person, 2);
        let (op, restored) = match person {
            "302" => (
                update(Some(person.into()), &sample_record(person, 1), &record),
                record,
            ),
            "303" => (
                enable(
                    Some(person.into()),
                    &inactive(&sample_record(person, 1)),
                    &record,
                ),
                record,
            ),
            _ => (disable(Some(person.into()), &record), inactive(&record)),
        };
        let mut outcomes = cx.run(step, std::slice::from_ref(&op)).await?;
        let read = cx
            .target
            .read(&EmployeeId::new(person))
            .await
            .map_err(|e| cx.fail(step, format!("read failed: {}: {}", e.kind, e.message)))?;
        let restore_ok = matches!(outcomes.last(), Some(Ok(Outcome::Applied)))
            && read.as_ref() == Some(&restored);
        let conflict_ok = matches!(outcomes.last(), Some(Err(e)) if e.kind == ErrorKind::Conflict)
            && read.is_none();
        let ok = match behaviour {
            MissingPerson::Restore => restore_ok,
            MissingPerson::Conflict => conflict_ok,
            MissingPerson::Either => restore_ok || conflict_ok,
        };
        if !ok {
            return Err(cx.fail(
                step,
                format!(
                    "got {:?} and read back {read:?}, want {behaviour:?}",
                    outcomes.pop()
                ),
            ));
        }
        cx.pass(step);
    }
    Ok(())
}

async fn adoption<T: Inspect>(cx: &mut Cx<'_, T>) -> Step {
    let v1 = sample_record("401", 1);
    let created = cx
        .expect_outcome("create", create(&v1, MatchBy::None), "Created", is_created)
        .await?;
    let v2 = sample_record("401", 2);
    cx.expect_error(
        "create over a different account with match_by none",
        create(&v2, MatchBy::None),
        ErrorKind::Conflict,
    )
    .await?;
    cx.expect_read("the conflicting create changed nothing", "401", Some(&v1))
        .await?;
    let want = Outcome::Adopted {
        remote_id: created.remote_id().unwrap_or_default().to_string(),
        matched_by: MatchBy::ExternalId,
    };
    cx.expect_outcome(
        "create over a different account with match_by external_id",
        create(&v2, MatchBy::ExternalId),
        &format!("{want:?}"),
        |o| *o == want,
    )
    .await?;
    cx.expect_read("adopted", "401", Some(&v2)).await
}

async fn batch_runs<T: Inspect>(cx: &mut Cx<'_, T>) -> Step {
    // A run that never finishes leaves nothing behind.
    let step = "abandoned run";
    let info = cx.next_run(false);
    cx.target
        .begin(&info)
        .await
        .map_err(|e| cx.fail(step, format!("begin failed: {}: {}", e.kind, e.message)))?;
    let _ = cx
        .target
        .apply(&create(&sample_record("501", 1), MatchBy::None))
        .await;
    cx.run(step, &[]).await?;
    cx.expect_read(step, "501", None).await?;

    // A dry run answers but writes nothing.
    let step = "dry run";
    let info = cx.next_run(true);
    cx.target
        .begin(&info)
        .await
        .map_err(|e| cx.fail(step, format!("begin failed: {}: {}", e.kind, e.message)))?;
    let outcome = cx
        .target
        .apply(&create(&sample_record("502", 1), MatchBy::None))
        .await;
    if !matches!(&outcome, Ok(o) if is_created(o)) {
        return Err(cx.fail(step, format!("got {outcome:?}, want Created")));
    }
    cx.target
        .finish(&info, &RunReport::default())
        .await
        .map_err(|e| cx.fail(step, format!("finish failed: {}: {}", e.kind, e.message)))?;
    cx.pass(step);
    cx.expect_read(step, "502", None).await
}

async fn broken<T: Inspect>(cx: &mut Cx<'_, T>) -> Step {
    match cx.target.check().await {
        Err(e) if e.kind == ErrorKind::Fatal => cx.pass("check fails with Fatal"),
        other => {
            return Err(cx.fail(
                "check fails with Fatal",
                format!("got {other:?}, want a fatal error"),
            ));
        }
    }
    let step = "a run fails with Fatal";
    let info = cx.next_run(false);
    let first_error = async {
        cx.target.begin(&info).await?;
        cx.target
            .apply(&create(&sample_record("601", 1), MatchBy::None))
            .await?;
        cx.target.finish(&info, &RunReport::default()).await
    }
    .await;
    match first_error {
        Err(e) if e.kind == ErrorKind::Fatal && !e.message.trim().is_empty() => {
            cx.pass(step);
            Ok(())
        }
        other => Err(cx.fail(step, format!("got {other:?}, want a fatal error"))),
    }
}
