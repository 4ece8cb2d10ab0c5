//! `plan`: desired records vs last-applied state + policy → a sorted, deterministic Plan.

use crate::guard::deprovision_hold;
use crate::policy::{Activation, LeaverAction, Policy};
use jiff::civil::Date;
use jiff::{Span, Timestamp};
use psync_model::{
    AppliedAccount, EmployeeId, EmploymentStatus, FieldChange, GroupPath, LeaveReason, Operation,
    Plan, PlanNote, TargetRecord, Value,
};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

/// The lifecycle facts of one person, copied from the employee by the engine.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lifecycle {
    /// Personio's status (`None` when the credential may not read it).
    pub status: Option<EmploymentStatus>,
    /// First working day.
    pub hire_date: Option<Date>,
    /// Last day of employment: the person is a leaver from the end of this day.
    pub termination_date: Option<Date>,
}

/// One person as read in this run, with their desired record for the target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Person {
    /// The anchor: Personio's id.
    pub id: EmployeeId,
    /// The mapped record; `None` = read, but out of the target's scope (unless `as_applied`).
    pub record: Option<TargetRecord>,
    /// In scope, and the desired record is exactly the applied account's record, which the
    /// planner reads from `applied` (the mapping did not keep a second copy; `record` is
    /// `None`). Without an applied account such a person is treated as out of scope.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub as_applied: bool,
    /// Status and dates.
    pub lifecycle: Lifecycle,
}

/// How much of Personio the read behind a plan covered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "scope", rename_all = "snake_case")]
pub enum ReadScope {
    /// Everyone was requested; `complete` is false when some pages or people failed.
    /// Only `Full { complete: true }` may disable or delete accounts.
    Full {
        /// Whether every page was read and nobody is missing.
        complete: bool,
    },
    /// Some people only (webhook, `--employee`): never deprovisions; absent accounts are
    /// simply not looked at.
    Partial,
}

/// Everything `plan` looks at. No clock, no I/O: `now` is a parameter.
#[derive(Debug, Clone)]
pub struct PlanInput<'a> {
    /// The target's name.
    pub target: &'a str,
    /// The Personio account's name.
    pub source: &'a str,
    /// The people read, in any order. Given owned, their records move into the plan's
    /// operations (a first sync of 100k people holds each record once, not twice).
    pub people: Cow<'a, [Person]>,
    /// People whose data was malformed in this read: never touched, in either direction.
    pub skipped: &'a BTreeSet<EmployeeId>,
    /// What the target last confirmed, by person: the accounts this engine manages.
    pub applied: &'a BTreeMap<EmployeeId, AppliedAccount>,
    /// How complete the read was.
    pub scope: ReadScope,
    /// The instant the plan is made for.
    pub now: Timestamp,
    /// The target's lifecycle policy.
    pub policy: &'a Policy,
}

/// Plan order of person ids, numeric-aware: a shorter id first, then lexicographic
/// (so `9` < `10` < `10007` < `a1`).
pub fn person_order(a: &EmployeeId, b: &EmployeeId) -> Ordering {
    person_key(a).cmp(&person_key(b))
}

/// Plan order of operations: by person (see [`person_order`]), then by kind.
pub fn operation_order(a: &Operation, b: &Operation) -> Ordering {
    person_order(a.person(), b.person()).then_with(|| a.kind().cmp(&b.kind()))
}

fn person_key(id: &EmployeeId) -> (usize, &str) {
    (id.as_str().len(), id.as_str())
}

/// What this read says the target should hold for one person.
enum Desire<'a> {
    /// An account with this record (activation already applied): the read's own record
    /// (moved, not copied), or the applied one for a person given `as_applied`.
    Provision {
        record: Cow<'a, TargetRecord>,
        /// The first day the account may be created or re-enabled (provisioning window),
        /// when that is after today.
        not_before: Option<Date>,
        hire_date: Option<Date>,
    },
    /// No account, for this reason.
    Leave(LeaveReason),
    /// Not read (partial read): say nothing.
    Unknown,
}

/// Computes the plan. Pure and deterministic: the same input, in any order of `people`,
/// gives the same `Plan`.
pub fn plan(input: PlanInput<'_>) -> Plan {
    let PlanInput {
        target,
        source,
        people,
        skipped,
        applied,
        scope,
        now,
        policy,
    } = input;
    let today = policy.today(now);
    let deprovision_allowed = matches!(scope, ReadScope::Full { complete: true });
    let mut notes: Vec<PlanNote> = Vec::new();

    // Records are taken out of the people, so each can move into at most one operation while
    // the people stay borrowed by the indexes below.
    let mut people = people.into_owned();
    let mut records: Vec<Option<TargetRecord>> =
        people.iter_mut().map(|p| p.record.take()).collect();
    let people = people;

    // Index the read by id; an id read twice with different data is not touched.
    let mut read: BTreeMap<(usize, &str), Vec<usize>> = BTreeMap::new();
    for (index, person) in people.iter().enumerate() {
        if !skipped.contains(&person.id) {
            read.entry(person_key(&person.id)).or_default().push(index);
        }
    }
    let mut troubled: BTreeSet<(usize, &str)> = BTreeSet::new();
    for (key, copies) in &read {
        let Some(&first) = copies.first() else {
            continue;
        };
        if copies
            .iter()
            .any(|&i| people[i] != people[first] || records[i] != records[first])
        {
            troubled.insert(*key);
            notes.push(note(
                &people[first].id,
                format!(
                    "read {} times with different data; left unchanged until Personio answers consistently",
                    copies.len()
                ),
            ));
        } else if let Some(record) = records[first]
            .as_ref()
            .filter(|r| r.person != people[first].id)
        {
            troubled.insert(*key);
            notes.push(note(
                &people[first].id,
                format!(
                    "the mapped record names person {} instead; left unchanged (a mapping bug)",
                    record.person
                ),
            ));
        }
    }

    // Every id this plan may look at, in plan order.
    let mut ids: BTreeMap<(usize, &str), &EmployeeId> = BTreeMap::new();
    for (key, copies) in &read {
        if let Some(&first) = copies.first() {
            ids.insert(*key, &people[first].id);
        }
    }
    for id in applied.keys() {
        if !skipped.contains(id) {
            ids.insert(person_key(id), id);
        }
    }

    let mut operations = Vec::new();
    let mut in_scope = 0;
    let mut suppressed = 0usize;
    for (key, id) in ids {
        if troubled.contains(&key) {
            continue;
        }
        let person = read.get(&key).and_then(|copies| copies.first().copied());
        let applied = applied.get(id);
        let desire = match person {
            Some(i) => desire(&people[i], records[i].take(), applied, policy, today),
            None if matches!(scope, ReadScope::Full { .. }) => Desire::Leave(LeaveReason::Gone),
            None => Desire::Unknown,
        };
        if matches!(desire, Desire::Provision { .. }) {
            in_scope += 1;
        }
        match (desire, applied) {
            (
                Desire::Provision {
                    record,
                    not_before,
                    hire_date,
                },
                None,
            ) => match not_before {
                Some(from) => notes.push(note(id, not_yet("created", hire_date, from, policy))),
                None => operations.push(Operation::Create {
                    record: record.into_owned(),
                    match_by: policy.match_by,
                }),
            },
            (
                Desire::Provision {
                    record,
                    not_before,
                    hire_date,
                },
                Some(account),
            ) => {
                let disabled = account.disabled_on.is_some();
                if disabled && let Some(from) = not_before {
                    notes.push(note(id, not_yet("re-enabled", hire_date, from, policy)));
                } else if disabled && record.active {
                    operations.push(Operation::Enable {
                        remote_id: account.remote_id.clone(),
                        changes: field_changes(&account.record, &record, false),
                        record: record.into_owned(),
                    });
                } else if let Some(update) = update(account, record) {
                    operations.push(update);
                }
            }
            (Desire::Leave(reason), Some(account)) => {
                if let Some(op) = deprovision(account, reason, policy, today) {
                    if deprovision_allowed {
                        operations.push(op);
                    } else {
                        suppressed += 1;
                    }
                }
            }
            (Desire::Leave(_) | Desire::Unknown, None) | (Desire::Unknown, Some(_)) => {}
        }
    }

    if suppressed > 0 {
        let what = if suppressed == 1 {
            "1 disable/delete was".to_owned()
        } else {
            format!("{suppressed} disables/deletes were")
        };
        let why = match scope {
            ReadScope::Partial => {
                "this was a partial read (webhook or --employee), which never deprovisions; \
                 the next full sync will plan them"
            }
            ReadScope::Full { .. } => {
                "the read from Personio was incomplete (see the run's read errors), and only a \
                 complete full read may deprovision; the next complete sync will plan them"
            }
        };
        notes.push(PlanNote {
            person: None,
            message: format!("{what} not planned: {why}"),
        });
    }

    operations.sort_by(operation_order);
    // A percentage is of the accounts that are still active: disabled leavers accumulate and
    // would otherwise weaken the guard over time.
    let active = applied.values().filter(|a| a.disabled_on.is_none()).count();
    let hold = deprovision_hold(&operations, active, policy.max_deprovision)
        .or_else(|| crate::guard::emptying_hold(&operations, applied));
    Plan {
        target: target.to_owned(),
        source: source.to_owned(),
        read_complete: deprovision_allowed,
        in_scope,
        managed: applied.len(),
        operations,
        notes,
        hold,
    }
}

fn note(id: &EmployeeId, message: String) -> PlanNote {
    PlanNote {
        person: Some(id.clone()),
        message,
    }
}

fn not_yet(what: &str, hire_date: Option<Date>, from: Date, policy: &Policy) -> String {
    let start = hire_date.map(|d| d.to_string()).unwrap_or_default();
    format!(
        "starts on {start}: the account will be {what} from {from} ({} days before the start date)",
        policy.provision_days_before_start
    )
}

/// The desired state of a person who was read.
fn desire<'a>(
    person: &Person,
    record: Option<TargetRecord>,
    applied: Option<&'a AppliedAccount>,
    policy: &Policy,
    today: Date,
) -> Desire<'a> {
    let life = &person.lifecycle;
    // A termination before the (re)hire date belongs to an earlier employment (rehire).
    let terminated = life
        .termination_date
        .is_some_and(|end| today > end && life.hire_date.is_none_or(|start| start <= end));
    if terminated || life.status == Some(EmploymentStatus::Inactive) {
        return Desire::Leave(LeaveReason::Left);
    }
    let mut record: Cow<'a, TargetRecord> = match (record, applied) {
        (Some(record), _) => Cow::Owned(record),
        (None, Some(account)) if person.as_applied => Cow::Borrowed(&account.record),
        (None, _) => return Desire::Leave(LeaveReason::OutOfScope),
    };
    let before_start = life.hire_date.is_some_and(|start| start > today);
    if policy.activation == Activation::AtStart && before_start && record.active {
        record.to_mut().active = false;
    }
    let not_before = life.hire_date.and_then(|start| {
        let from = Span::new()
            .try_days(i64::from(policy.provision_days_before_start))
            .ok()
            .and_then(|days| start.checked_sub(days).ok())?;
        (from > today).then_some(from)
    });
    Desire::Provision {
        record,
        not_before,
        hire_date: life.hire_date,
    }
}

/// The update that brings `account` to `record`, if anything differs.
fn update(account: &AppliedAccount, record: Cow<'_, TargetRecord>) -> Option<Operation> {
    if account.record == *record {
        return None;
    }
    let record = record.into_owned();
    let changes = field_changes(&account.record, &record, true);
    let groups_added: Vec<GroupPath> = record
        .groups
        .difference(&account.record.groups)
        .cloned()
        .collect();
    let groups_removed: Vec<GroupPath> = account
        .record
        .groups
        .difference(&record.groups)
        .cloned()
        .collect();
    if changes.is_empty() && groups_added.is_empty() && groups_removed.is_empty() {
        return None;
    }
    Some(Operation::Update {
        remote_id: account.remote_id.clone(),
        changes,
        groups_added,
        groups_removed,
        record,
    })
}

/// Attribute changes in attribute-name order, then `manager`, then (if asked) `active`.
/// A missing attribute and `Null` are the same.
pub(crate) fn field_changes(
    old: &TargetRecord,
    new: &TargetRecord,
    with_active: bool,
) -> Vec<FieldChange> {
    let names: BTreeSet<&str> = old.attributes.keys().chain(new.attributes.keys()).collect();
    let mut changes: Vec<FieldChange> = names
        .into_iter()
        .filter(|name| !same_value(old.get(name), new.get(name)))
        .map(|name| FieldChange {
            field: name.to_string(),
            old: old.get(name).clone(),
            new: new.get(name).clone(),
        })
        .collect();
    if old.manager != new.manager {
        let as_value = |m: &Option<EmployeeId>| {
            m.as_ref()
                .map_or(Value::Null, |id| Value::Text(id.to_string()))
        };
        changes.push(FieldChange {
            field: "manager".to_owned(),
            old: as_value(&old.manager),
            new: as_value(&new.manager),
        });
    }
    if with_active && old.active != new.active {
        changes.push(FieldChange {
            field: "active".to_owned(),
            old: Value::Boolean(old.active),
            new: Value::Boolean(new.active),
        });
    }
    changes
}

/// Value equality where a NaN decimal equals itself (else it would update forever).
fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Decimal(x), Value::Decimal(y)) => x == y || (x.is_nan() && y.is_nan()),
        _ => a == b,
    }
}

/// The deprovisioning step for a leaver's account under the policy, if any is due.
fn deprovision(
    account: &AppliedAccount,
    reason: LeaveReason,
    policy: &Policy,
    today: Date,
) -> Option<Operation> {
    let delete = || Operation::Delete {
        remote_id: account.remote_id.clone(),
        reason,
        record: account.record.clone(),
    };
    match (
        policy.leavers,
        policy.delete_after_days,
        account.disabled_on,
    ) {
        (LeaverAction::Keep, _, _) => None,
        // No grace period: delete at once, or disable once.
        (LeaverAction::Delete, None, _) => Some(delete()),
        (LeaverAction::Disable, None, Some(_)) => None,
        // Grace period over (or zero days): delete.
        (_, Some(0), _) => Some(delete()),
        (_, Some(days), Some(disabled_on)) => {
            let due = Span::new()
                .try_days(i64::from(days))
                .ok()
                .and_then(|span| disabled_on.checked_add(span).ok())
                .is_some_and(|due| due <= today);
            due.then(delete)
        }
        (_, _, None) => {
            let mut record = account.record.clone();
            record.active = false;
            Some(Operation::Disable {
                remote_id: account.remote_id.clone(),
                reason,
                record,
            })
        }
    }
}
