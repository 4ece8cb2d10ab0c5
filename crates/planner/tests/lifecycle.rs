//! Example-based tests: one per lifecycle rule, at fixed instants (no clock, no timing).
#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a panic is a failed test with a message"
)]

use jiff::Timestamp;
use jiff::civil::{Date, date};
use psync_model::{
    AppliedAccount, EmployeeId, EmploymentStatus, FieldChange, GroupPath, Hold, LeaveReason,
    MatchBy, OpKind, Operation, Outcome, Plan, TargetRecord, Value,
};
use psync_planner::{
    Activation, LeaverAction, Lifecycle, Person, PlanInput, Policy, ReadScope, Threshold,
    apply_outcome, plan, render_text,
};
use std::collections::{BTreeMap, BTreeSet};

// ---- fixtures ------------------------------------------------------------------------------

fn at(instant: &str) -> Timestamp {
    instant.parse().unwrap()
}

/// Noon in Berlin on 2025-06-16 (CEST).
fn noon() -> Timestamp {
    at("2025-06-16T10:00:00Z")
}

fn today() -> Date {
    date(2025, 6, 16)
}

fn id(s: &str) -> EmployeeId {
    EmployeeId::new(s)
}

fn group(path: &str) -> GroupPath {
    GroupPath(path.split(" / ").map(str::to_owned).collect())
}

fn record(person: &str, first: &str, last: &str, title: &str) -> TargetRecord {
    let mut r = TargetRecord::new(id(person));
    let text = |s: &str| Value::Text(s.to_owned());
    r.attributes.insert("first_name".into(), text(first));
    r.attributes.insert("last_name".into(), text(last));
    r.attributes.insert(
        "email".into(),
        text(&format!("{}.{}@acme.test", first, last).to_lowercase()),
    );
    r.attributes.insert("title".into(), text(title));
    r.groups.insert(group("Munich / Sales"));
    r
}

fn active(record: TargetRecord) -> Person {
    Person {
        id: record.person.clone(),
        record: Some(record),
        as_applied: false,
        lifecycle: Lifecycle {
            status: Some(EmploymentStatus::Active),
            hire_date: Some(date(2020, 1, 1)),
            termination_date: None,
        },
    }
}

fn applied_as(record: &TargetRecord) -> AppliedAccount {
    AppliedAccount {
        record: record.clone(),
        remote_id: Some(format!("r-{}", record.person)),
        disabled_on: None,
    }
}

/// One target's world: people read, applied state, policy. Plans at `now`.
struct World {
    people: Vec<Person>,
    applied: BTreeMap<EmployeeId, AppliedAccount>,
    skipped: BTreeSet<EmployeeId>,
    scope: ReadScope,
    policy: Policy,
}

impl World {
    fn new() -> Self {
        World {
            people: Vec::new(),
            applied: BTreeMap::new(),
            skipped: BTreeSet::new(),
            scope: ReadScope::Full { complete: true },
            policy: Policy {
                max_deprovision: None,
                ..Policy::default()
            },
        }
    }

    fn person(mut self, p: Person) -> Self {
        self.people.push(p);
        self
    }

    fn applied(mut self, account: AppliedAccount) -> Self {
        self.applied.insert(account.record.person.clone(), account);
        self
    }

    /// Someone read and already provisioned exactly as desired.
    fn settled(self, r: TargetRecord) -> Self {
        let account = applied_as(&r);
        self.person(active(r)).applied(account)
    }

    fn plan(&self, now: Timestamp) -> Plan {
        plan(PlanInput {
            target: "files",
            source: "acme",
            people: self.people.as_slice().into(),
            skipped: &self.skipped,
            applied: &self.applied,
            scope: self.scope,
            now,
            policy: &self.policy,
        })
    }

    /// Plans, applies every operation as confirmed, and returns the plan.
    fn sync(&mut self, now: Timestamp) -> Plan {
        let plan = self.plan(now);
        let today = self.policy.today(now);
        for op in &plan.operations {
            let outcome = match op {
                Operation::Create { record, .. } => Outcome::Created {
                    remote_id: format!("r-{}", record.person),
                },
                _ => Outcome::Applied,
            };
            apply_outcome(&mut self.applied, op, &outcome, today);
        }
        plan
    }
}

fn only_op(plan: &Plan) -> &Operation {
    assert_eq!(plan.operations.len(), 1, "{plan:#?}");
    &plan.operations[0]
}

fn text(s: &str) -> Value {
    Value::Text(s.to_owned())
}

// ---- joiners ---------------------------------------------------------------------------------

#[test]
fn a_hire_with_a_past_start_is_created_with_the_policy_match() {
    let mut world = World::new().person(active(record("10007", "Anna", "Fernández", "Dev")));
    world.policy.match_by = MatchBy::Email;
    let plan = world.plan(noon());
    let Operation::Create { record, match_by } = only_op(&plan) else {
        panic!("{plan:#?}")
    };
    assert_eq!(record.person, id("10007"));
    assert!(record.active);
    assert_eq!(*match_by, MatchBy::Email);
    assert_eq!(plan.in_scope, 1);
    assert!(render_text(&plan).contains("+ create 10007 Anna Fernández\n"));
}

fn future_hire(person: &str, start: Date) -> Person {
    let mut p = active(record(person, "Nora", "Neu", "Dev"));
    p.lifecycle.status = Some(EmploymentStatus::Onboarding);
    p.lifecycle.hire_date = Some(start);
    p
}

#[test]
fn a_future_hire_inside_the_window_is_created_now() {
    // Default window: 7 days. Start 2025-06-23 → provision from 2025-06-16 (today).
    let world = World::new().person(future_hire("20", date(2025, 6, 23)));
    let plan = world.plan(noon());
    assert_eq!(only_op(&plan).kind(), OpKind::Create);
    assert!(only_op(&plan).record().active, "activation is immediate");
}

#[test]
fn a_future_hire_outside_the_window_waits_with_a_note() {
    let world = World::new().person(future_hire("20", date(2025, 6, 24)));
    let plan = world.plan(noon());
    assert!(plan.is_empty(), "{plan:#?}");
    assert_eq!(plan.notes.len(), 1);
    assert_eq!(plan.notes[0].person, Some(id("20")));
    assert!(
        plan.notes[0].message.contains("2025-06-24")
            && plan.notes[0].message.contains("2025-06-17"),
        "{}",
        plan.notes[0].message
    );
    assert_eq!(plan.in_scope, 1);
    // The next day (Berlin midnight has passed: 22:00Z is 00:00 CEST) it is created.
    let next = world.plan(at("2025-06-16T22:00:00Z"));
    assert_eq!(only_op(&next).kind(), OpKind::Create);
    let before_midnight = world.plan(at("2025-06-16T21:59:59Z"));
    assert!(before_midnight.is_empty());
}

#[test]
fn activation_at_start_creates_inactive_then_enables_on_the_start_day() {
    let mut world = World::new().person(future_hire("20", date(2025, 6, 20)));
    world.policy.activation = Activation::AtStart;

    let plan = world.sync(noon());
    let Operation::Create { record, .. } = only_op(&plan) else {
        panic!("{plan:#?}")
    };
    assert!(!record.active, "created inactive until the start date");
    assert!(render_text(&plan).contains("(inactive until the start date)"));
    assert!(
        world.plan(noon()).is_empty(),
        "nothing more before the start"
    );
    assert!(
        world.plan(at("2025-06-19T21:59:59Z")).is_empty(),
        "23:59:59 the day before"
    );

    // 00:00 CEST on the start day.
    let plan = world.sync(at("2025-06-19T22:00:00Z"));
    let Operation::Update { changes, .. } = only_op(&plan) else {
        panic!("{plan:#?}")
    };
    assert_eq!(
        changes,
        &[FieldChange {
            field: "active".into(),
            old: Value::Boolean(false),
            new: Value::Boolean(true),
        }]
    );
    assert_eq!(world.applied[&id("20")].disabled_on, None);
    assert!(world.plan(at("2025-06-19T22:00:00Z")).is_empty());
}

// ---- movers ----------------------------------------------------------------------------------

#[test]
fn a_move_updates_attributes_and_groups() {
    let old = record("10002", "Jonas", "Weber", "Sales Rep");
    let mut new = old.clone();
    new.attributes.insert("office".into(), text("Berlin"));
    new.groups = BTreeSet::from([group("Berlin / Sales")]);
    let mut world = World::new().applied(applied_as(&old)).person(active(new));
    let plan = world.sync(noon());
    let Operation::Update {
        remote_id,
        changes,
        groups_added,
        groups_removed,
        ..
    } = only_op(&plan)
    else {
        panic!("{plan:#?}")
    };
    assert_eq!(remote_id.as_deref(), Some("r-10002"));
    assert_eq!(
        changes,
        &[FieldChange {
            field: "office".into(),
            old: Value::Null,
            new: text("Berlin"),
        }]
    );
    assert_eq!(groups_added, &[group("Berlin / Sales")]);
    assert_eq!(groups_removed, &[group("Munich / Sales")]);
    let shown = render_text(&plan);
    assert!(shown.contains("~ update 10002 Jonas Weber\n"), "{shown}");
    assert!(
        shown.contains("    office (empty) → \"Berlin\"\n"),
        "{shown}"
    );
    assert!(
        shown.contains("    groups +[Berlin / Sales] -[Munich / Sales]\n"),
        "{shown}"
    );
    assert!(world.plan(noon()).is_empty());
}

#[test]
fn a_promotion_changes_title_and_manager() {
    let old = record("10002", "Jonas", "Weber", "A");
    let mut new = old.clone();
    new.attributes.insert("title".into(), text("B"));
    new.manager = Some(id("10001"));
    let world = World::new()
        .settled(record("10001", "Maria", "Boss", "CEO"))
        .applied(applied_as(&old))
        .person(active(new));
    let plan = world.plan(noon());
    let Operation::Update { changes, .. } = only_op(&plan) else {
        panic!("{plan:#?}")
    };
    assert_eq!(
        changes,
        &[
            FieldChange {
                field: "title".into(),
                old: text("A"),
                new: text("B"),
            },
            FieldChange {
                field: "manager".into(),
                old: Value::Null,
                new: text("10001"),
            },
        ]
    );
    let shown = render_text(&plan);
    assert!(shown.contains("    title \"A\" → \"B\"\n"), "{shown}");
}

#[test]
fn an_email_change_updates_in_place_and_never_duplicates() {
    let old = record("10002", "Jonas", "Weber", "A");
    let mut new = old.clone();
    new.attributes
        .insert("email".into(), text("jonas.weber-schmidt@acme.test"));
    let world = World::new().applied(applied_as(&old)).person(active(new));
    let plan = world.plan(noon());
    let Operation::Update {
        remote_id, changes, ..
    } = only_op(&plan)
    else {
        panic!("{plan:#?}")
    };
    assert_eq!(remote_id.as_deref(), Some("r-10002"), "same account");
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].field, "email");
    assert!(
        render_text(&plan).contains(
            "~ update 10002 Jonas Weber: email \"jonas.weber@acme.test\" → \"jonas.weber-schmidt@acme.test\"\n"
        ),
        "{}",
        render_text(&plan)
    );
}

#[test]
fn people_on_leave_stay_provisioned() {
    let r = record("10003", "Lea", "Pause", "Dev");
    let mut p = active(r.clone());
    p.lifecycle.status = Some(EmploymentStatus::Leave);
    let world = World::new().person(p).applied(applied_as(&r));
    assert!(world.plan(noon()).is_empty());
}

// ---- leavers ---------------------------------------------------------------------------------

fn leaving(person: &str, last_day: Date) -> (Person, AppliedAccount) {
    let r = record(person, "Tom", "Alt", "Dev");
    let mut p = active(r.clone());
    p.lifecycle.termination_date = Some(last_day);
    (p, applied_as(&r))
}

#[test]
fn a_future_termination_keeps_the_account_until_the_end_of_that_day_in_berlin() {
    // Winter: Berlin is UTC+1, so 2025-01-31 ends at 2025-01-31T23:00:00Z.
    let (p, a) = leaving("10005", date(2025, 1, 31));
    let world = World::new().person(p).applied(a);
    assert!(world.plan(at("2025-01-15T12:00:00Z")).is_empty());
    assert!(
        world.plan(at("2025-01-31T22:59:59Z")).is_empty(),
        "23:59:59 CET"
    );
    let plan = world.plan(at("2025-01-31T23:00:00Z"));
    let Operation::Disable {
        reason,
        record,
        remote_id,
    } = only_op(&plan)
    else {
        panic!("{plan:#?}")
    };
    assert_eq!(
        *reason,
        LeaveReason::Left,
        "even though status is still active"
    );
    assert!(!record.active);
    assert_eq!(remote_id.as_deref(), Some("r-10005"));
    assert!(render_text(&plan).contains("- disable 10005 Tom Alt (left)\n"));
    assert_eq!(
        world.policy.end_of_day(date(2025, 1, 31)),
        Some(at("2025-01-31T23:00:00Z"))
    );
}

#[test]
fn a_termination_on_a_dst_day_ends_at_local_midnight() {
    // 2025-03-30: clocks go forward at 02:00 CET; the day ends at 00:00 CEST = 22:00Z.
    let (p, a) = leaving("10005", date(2025, 3, 30));
    let world = World::new().person(p).applied(a);
    assert!(world.plan(at("2025-03-30T21:59:59Z")).is_empty());
    assert_eq!(
        only_op(&world.plan(at("2025-03-30T22:00:00Z"))).kind(),
        OpKind::Disable
    );
    // 2025-10-26: clocks go back at 03:00 CEST; 25-hour day ending at 00:00 CET = 23:00Z.
    let (p, a) = leaving("10006", date(2025, 10, 26));
    let world = World::new().person(p).applied(a);
    assert!(world.plan(at("2025-10-26T22:59:59Z")).is_empty());
    assert_eq!(
        only_op(&world.plan(at("2025-10-26T23:00:00Z"))).kind(),
        OpKind::Disable
    );
    assert_eq!(
        world.policy.end_of_day(date(2025, 10, 26)),
        Some(at("2025-10-26T23:00:00Z"))
    );
}

#[test]
fn an_immediate_termination_disables_once() {
    let r = record("10005", "Tom", "Alt", "Dev");
    let mut p = active(r.clone());
    p.record = None;
    p.lifecycle.status = Some(EmploymentStatus::Inactive);
    let mut world = World::new().person(p).applied(applied_as(&r));
    let plan = world.sync(noon());
    assert_eq!(only_op(&plan).kind(), OpKind::Disable);
    assert_eq!(world.applied[&id("10005")].disabled_on, Some(today()));
    assert!(world.plan(noon()).is_empty(), "not disabled again");
    assert!(
        world.plan(at("2026-06-16T10:00:00Z")).is_empty(),
        "nor a year later"
    );
}

#[test]
fn a_rehire_re_enables_the_same_account() {
    let old = record("10008", "Eva", "Back", "Dev");
    let mut disabled = applied_as(&old);
    disabled.record.active = false;
    disabled.disabled_on = Some(date(2024, 12, 31));
    let mut new = old.clone();
    new.attributes.insert("title".into(), text("Lead"));
    let mut p = active(new);
    p.lifecycle.hire_date = Some(date(2025, 6, 1));
    let mut world = World::new().person(p).applied(disabled);
    let plan = world.sync(noon());
    let Operation::Enable {
        remote_id,
        changes,
        record,
    } = only_op(&plan)
    else {
        panic!("{plan:#?}")
    };
    assert_eq!(remote_id.as_deref(), Some("r-10008"));
    assert!(record.active);
    assert_eq!(
        changes.len(),
        1,
        "active is implied by the enable: {changes:?}"
    );
    assert_eq!(changes[0].field, "title");
    assert!(
        render_text(&plan).contains("+ enable 10008 Eva Back: title \"Dev\" → \"Lead\"\n"),
        "{}",
        render_text(&plan)
    );
    let account = &world.applied[&id("10008")];
    assert_eq!(account.disabled_on, None);
    assert_eq!(account.remote_id.as_deref(), Some("r-10008"));
    assert!(world.plan(noon()).is_empty());
}

#[test]
fn a_rehire_with_an_old_termination_date_is_not_a_leaver() {
    let old = record("10008", "Eva", "Back", "Dev");
    let mut disabled = applied_as(&old);
    disabled.record.active = false;
    disabled.disabled_on = Some(date(2024, 12, 31));
    let mut p = active(old);
    p.lifecycle.termination_date = Some(date(2024, 12, 30));
    p.lifecycle.hire_date = Some(date(2025, 6, 1));
    let world = World::new().person(p).applied(disabled);
    assert_eq!(only_op(&world.plan(noon())).kind(), OpKind::Enable);
}

#[test]
fn a_rehire_starting_later_waits_for_the_window() {
    let old = record("10008", "Eva", "Back", "Dev");
    let mut disabled = applied_as(&old);
    disabled.record.active = false;
    disabled.disabled_on = Some(date(2024, 12, 31));
    let mut p = active(old);
    p.lifecycle.hire_date = Some(date(2025, 9, 1));
    let world = World::new().person(p).applied(disabled);
    let plan = world.plan(noon());
    assert!(plan.is_empty(), "{plan:#?}");
    assert!(plan.notes[0].message.contains("re-enabled from 2025-08-25"));
}

#[test]
fn deleted_in_personio_is_gone_only_after_a_complete_full_read() {
    let r = record("10009", "Gone", "Person", "Dev");
    let mut world = World::new()
        .settled(record("1", "Stay", "Here", "Dev"))
        .applied(applied_as(&r));
    let plan = world.plan(noon());
    let Operation::Disable { reason, .. } = only_op(&plan) else {
        panic!("{plan:#?}")
    };
    assert_eq!(*reason, LeaveReason::Gone);
    assert!(plan.read_complete);
    assert!(render_text(&plan).contains("- disable 10009 Gone Person (gone from Personio)"));

    world.scope = ReadScope::Full { complete: false };
    let plan = world.plan(noon());
    assert!(plan.is_empty());
    assert!(!plan.read_complete);
    assert_eq!(plan.notes.len(), 1);
    assert_eq!(plan.notes[0].person, None);
    assert!(
        plan.notes[0]
            .message
            .starts_with("1 disable/delete was not planned: the read from Personio was incomplete"),
        "{}",
        plan.notes[0].message
    );

    // A partial read (webhook) did not read the others at all: nothing, and nothing to say.
    world.scope = ReadScope::Partial;
    world.people.clear();
    let plan = world.plan(noon());
    assert!(plan.is_empty() && plan.notes.is_empty(), "{plan:#?}");
}

#[test]
fn a_partial_read_never_deprovisions_even_a_known_leaver() {
    let (mut p, a) = leaving("10005", date(2025, 6, 1));
    p.lifecycle.status = Some(EmploymentStatus::Inactive);
    let mut world = World::new().person(p).applied(a);
    world.scope = ReadScope::Partial;
    let plan = world.plan(noon());
    assert!(plan.is_empty());
    assert!(
        plan.notes[0]
            .message
            .contains("partial read (webhook or --employee)"),
        "{:?}",
        plan.notes
    );
}

#[test]
fn out_of_scope_is_a_leaver_with_its_own_reason() {
    let r = record("10010", "Ext", "Ern", "Contractor");
    let mut p = active(r.clone());
    p.record = None;
    let world = World::new().person(p).applied(applied_as(&r));
    let plan = world.plan(noon());
    let Operation::Disable { reason, .. } = only_op(&plan) else {
        panic!("{plan:#?}")
    };
    assert_eq!(*reason, LeaveReason::OutOfScope);
    assert!(render_text(&plan).contains("(out of scope)"));
    assert_eq!(plan.in_scope, 0);
}

#[test]
fn out_of_scope_and_never_provisioned_is_not_touched() {
    let mut p = active(record("10011", "Not", "Here", "Dev"));
    p.record = None;
    let plan = World::new().person(p).plan(noon());
    assert!(plan.is_empty() && plan.notes.is_empty());
}

#[test]
fn keep_policy_leaves_leavers_alone() {
    let (mut p, a) = leaving("10005", date(2025, 6, 1));
    p.record = None;
    let mut world = World::new().person(p).applied(a);
    world.policy.leavers = LeaverAction::Keep;
    world.policy.delete_after_days = Some(0);
    assert!(world.plan(noon()).is_empty());
}

#[test]
fn delete_policy_deletes_at_once_and_also_old_disabled_accounts() {
    let (p, a) = leaving("10005", date(2025, 6, 1));
    let r = record("10012", "Old", "Leaver", "Dev");
    let mut old = applied_as(&r);
    old.record.active = false;
    old.disabled_on = Some(date(2024, 1, 1));
    let mut world = World::new().person(p).applied(a).applied(old);
    world.policy.leavers = LeaverAction::Delete;
    let plan = world.sync(noon());
    let kinds: Vec<_> = plan.operations.iter().map(Operation::kind).collect();
    assert_eq!(kinds, [OpKind::Delete, OpKind::Delete]);
    assert!(matches!(
        &plan.operations[0],
        Operation::Delete { reason: LeaveReason::Left, remote_id: Some(r), .. } if r == "r-10005"
    ));
    assert!(matches!(
        &plan.operations[1],
        Operation::Delete {
            reason: LeaveReason::Gone,
            ..
        }
    ));
    assert!(render_text(&plan).contains("- delete 10005 Tom Alt (left)\n"));
    assert!(world.applied.is_empty());
    assert!(world.plan(noon()).is_empty());
}

#[test]
fn grace_period_disables_first_and_deletes_when_it_is_over() {
    let (p, a) = leaving("10005", date(2025, 5, 1));
    let mut world = World::new().person(p).applied(a);
    world.policy.delete_after_days = Some(30);
    // Ended 2025-05-01; the sync on 2025-05-02 disables.
    let plan = world.sync(at("2025-05-02T06:00:00Z"));
    assert_eq!(only_op(&plan).kind(), OpKind::Disable);
    assert_eq!(
        world.applied[&id("10005")].disabled_on,
        Some(date(2025, 5, 2))
    );
    // 2025-05-02 + 30 days = 2025-06-01, from Berlin midnight on.
    assert!(world.plan(at("2025-05-31T21:59:59Z")).is_empty());
    let plan = world.sync(at("2025-05-31T22:00:00Z"));
    let Operation::Delete { reason, .. } = only_op(&plan) else {
        panic!("{plan:#?}")
    };
    assert_eq!(*reason, LeaveReason::Left);
    assert!(world.applied.is_empty());
}

#[test]
fn zero_days_grace_deletes_at_once() {
    let (p, a) = leaving("10005", date(2025, 5, 1));
    let mut world = World::new().person(p).applied(a);
    world.policy.delete_after_days = Some(0);
    assert_eq!(only_op(&world.plan(noon())).kind(), OpKind::Delete);
}

// ---- guards and hygiene --------------------------------------------------------------------

#[test]
fn skipped_persons_are_never_touched() {
    let r = record("10013", "Bad", "Data", "Dev");
    let mut changed = r.clone();
    changed.attributes.insert("title".into(), text("Other"));
    // In the applied state and read with changes, but skipped: no update.
    // In the applied state and absent from the read, but skipped: not gone.
    let r2 = record("10014", "Also", "Skipped", "Dev");
    let mut world = World::new()
        .applied(applied_as(&r))
        .person(active(changed))
        .applied(applied_as(&r2))
        .person(active(record("10015", "New", "Skipped", "Dev")));
    world.skipped = [id("10013"), id("10014"), id("10015")].into();
    let plan = world.plan(noon());
    assert!(plan.is_empty(), "{plan:#?}");
}

#[test]
fn the_deprovisioning_guard_holds_above_the_threshold_and_passes_at_it() {
    let mut world = World::new();
    for n in 1..=10 {
        let r = record(&n.to_string(), "P", &n.to_string(), "Dev");
        world = if n <= 7 {
            world.settled(r)
        } else {
            world.applied(applied_as(&r)) // 3 gone
        };
    }
    for (threshold, held) in [
        (Threshold::Count(2), true),
        (Threshold::Count(3), false),
        (Threshold::Count(4), false),
        (Threshold::Percent(20.0), true),
        (Threshold::Percent(30.0), false),
        (Threshold::Percent(40.0), false),
    ] {
        world.policy.max_deprovision = Some(threshold);
        let plan = world.plan(noon());
        assert_eq!(plan.operations.len(), 3, "a hold keeps the operations");
        if held {
            assert_eq!(
                plan.hold,
                Some(Hold::TooManyDeprovisions {
                    count: 3,
                    of: 10,
                    threshold: threshold.to_string(),
                }),
                "{threshold}"
            );
            assert!(render_text(&plan).contains("HELD: 3 of 10 accounts"));
        } else {
            assert_eq!(plan.hold, None, "{threshold}");
        }
    }
}

#[test]
fn operations_are_sorted_numeric_aware() {
    let mut world = World::new();
    for n in ["10007", "9", "a1", "10", "100", "B"] {
        world = world.person(active(record(n, "X", n, "Dev")));
    }
    let plan = world.plan(noon());
    let order: Vec<_> = plan
        .operations
        .iter()
        .map(|op| op.person().as_str())
        .collect();
    assert_eq!(order, ["9", "B", "10", "a1", "100", "10007"]);
}

#[test]
fn an_id_read_twice_with_different_data_is_left_alone() {
    let r = record("10016", "Twin", "One", "Dev");
    let mut other = r.clone();
    other.attributes.insert("title".into(), text("Other"));
    let world = World::new()
        .person(active(r.clone()))
        .person(active(other))
        .applied(applied_as(&r));
    let plan = world.plan(noon());
    assert!(plan.is_empty());
    assert!(plan.notes[0].message.contains("read 2 times"));
    // Identical copies are harmless.
    let world = World::new().person(active(r.clone())).person(active(r));
    assert_eq!(world.plan(noon()).operations.len(), 1);
}

#[test]
fn plans_serialize_and_read_back_equal() {
    let old = record("10002", "Jonas", "Weber", "A");
    let mut new = old.clone();
    new.attributes.insert("title".into(), text("B"));
    new.attributes
        .insert("since".into(), Value::Date(date(2020, 1, 1)));
    let (p, a) = leaving("10005", date(2025, 1, 31));
    let mut world = World::new()
        .applied(applied_as(&old))
        .person(active(new))
        .person(p)
        .applied(a)
        .person(active(record("10007", "Anna", "Fernández", "Dev")));
    world.policy.max_deprovision = Some(Threshold::Count(0));
    let plan = world.plan(noon());
    assert!(plan.hold.is_some());
    let json = serde_json::to_string_pretty(&plan).unwrap();
    let back: Plan = serde_json::from_str(&json).unwrap();
    assert_eq!(back, plan);
}

#[test]
fn render_text_of_an_empty_plan() {
    let world = World::new().settled(record("1", "A", "B", "C"));
    let shown = render_text(&world.plan(noon()));
    assert_eq!(
        shown,
        "Target \"files\" from Personio \"acme\": 1 in scope, 1 managed, complete read.\nNo changes.\n"
    );
}

#[test]
fn render_text_of_a_mixed_plan() {
    let old = record("10002", "Jonas", "Weber", "A");
    let mut new = old.clone();
    new.attributes.insert("title".into(), text("B"));
    let (p, a) = leaving("10005", date(2025, 1, 31));
    let world = World::new()
        .applied(applied_as(&old))
        .person(active(new))
        .person(p)
        .applied(a)
        .person(active(record("10007", "Anna", "Fernández", "Dev")))
        .person(future_hire("10010", date(2025, 7, 1)));
    let shown = render_text(&world.plan(noon()));
    assert_eq!(
        shown,
        "Target \"files\" from Personio \"acme\": 3 in scope, 2 managed, complete read.\n\
         ~ update 10002 Jonas Weber: title \"A\" → \"B\"\n\
         - disable 10005 Tom Alt (left)\n\
         + create 10007 Anna Fernández\n\
         note 10010: starts on 2025-07-01: the account will be created from 2025-06-24 (7 days before the start date)\n\
         Plan: 1 to create, 1 to update, 1 to disable, 0 to enable, 0 to delete.\n"
    );
}
