//! Property tests over small generated worlds (10,000 cases per property): idempotence,
//! determinism, no deprovisioning without a complete read, threshold boundaries, and that only
//! people read or accounts in the applied state are ever touched.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a panic is a failed test with a message"
)]

use jiff::civil::{Date, date};
use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;
use psync_model::{
    AppliedAccount, EmployeeId, EmploymentStatus, GroupPath, Hold, MatchBy, Operation, Outcome,
    Plan, TargetRecord, Value,
};
use psync_planner::{
    Activation, LeaverAction, Lifecycle, Person, PlanInput, Policy, ReadScope, Threshold,
    apply_outcome, operation_order, plan,
};
use std::collections::{BTreeMap, BTreeSet};

const CASES: u32 = 10_000;

/// Ids chosen to exercise numeric-aware ordering (9 < 10 < 100) and non-numeric ids.
const IDS: [&str; 9] = ["1", "2", "3", "9", "10", "11", "100", "1000", "x7"];

#[derive(Debug, Clone)]
struct World {
    people: Vec<Person>,
    applied: BTreeMap<EmployeeId, AppliedAccount>,
    skipped: BTreeSet<EmployeeId>,
    scope: ReadScope,
    now: Timestamp,
    policy: Policy,
}

impl World {
    fn plan(&self) -> Plan {
        self.plan_with(&self.people, &self.applied, &self.policy)
    }

    fn plan_with(
        &self,
        people: &[Person],
        applied: &BTreeMap<EmployeeId, AppliedAccount>,
        policy: &Policy,
    ) -> Plan {
        plan(PlanInput {
            target: "t",
            source: "s",
            people: people.into(),
            skipped: &self.skipped,
            applied,
            scope: self.scope,
            now: self.now,
            policy,
        })
    }
}

/// Around the spring DST switch in Berlin (2025-03-30), so "today" flips at odd UTC hours.
fn base_day() -> Date {
    date(2025, 3, 29)
}

fn day_offset(days: i64) -> Date {
    base_day()
        .checked_add(jiff::Span::new().days(days))
        .unwrap()
}

/// Worlds are decoded from a byte string: generating bytes is cheap (10,000 cases stay fast in
/// a debug build) and shrinking bytes towards zero shrinks the world, because a zero byte (or
/// running out of bytes) always decodes to the simplest choice: absent, `None`, the default.
struct Decoder<'a> {
    bytes: &'a [u8],
}

impl Decoder<'_> {
    fn byte(&mut self) -> u8 {
        match self.bytes.split_first() {
            Some((first, rest)) => {
                self.bytes = rest;
                *first
            }
            None => 0,
        }
    }

    /// A number in `0..n`.
    fn below(&mut self, n: u8) -> u8 {
        self.byte() % n
    }

    fn value(&mut self) -> Option<Value> {
        Some(match self.below(10) {
            0 => return None,
            1 => Value::Null,
            2 => Value::Text("a".into()),
            3 => Value::Text("b".into()),
            4 => Value::Text(String::new()),
            5 => Value::Integer(i64::from(self.below(2))),
            6 => Value::Decimal(1.5),
            7 => Value::Boolean(self.below(2) == 1),
            8 => Value::Date(date(2024, 2, 29)),
            _ => Value::List(vec!["x".into(), "y".into()]),
        })
    }

    fn record(&mut self, id: &str) -> TargetRecord {
        let mut record = TargetRecord::new(EmployeeId::new(id));
        for name in ["email", "title", "office"] {
            if let Some(value) = self.value() {
                record.attributes.insert(name.into(), value);
            }
        }
        let groups = self.byte();
        for (bit, path) in [
            &["Munich"][..],
            &["Munich", "Sales"][..],
            &["Berlin", "Sales"][..],
        ]
        .into_iter()
        .enumerate()
        {
            if groups & (1 << bit) != 0 {
                record
                    .groups
                    .insert(GroupPath(path.iter().map(|s| (*s).to_owned()).collect()));
            }
        }
        record.manager = match self.below(10) {
            0 => None,
            n => Some(EmployeeId::new(IDS[usize::from(n - 1) % IDS.len()])),
        };
        record.active = self.below(10) != 9;
        record
    }

    fn lifecycle(&mut self) -> Lifecycle {
        let status = match self.below(5) {
            0 => None,
            1 => Some(EmploymentStatus::Active),
            2 => Some(EmploymentStatus::Onboarding),
            3 => Some(EmploymentStatus::Leave),
            _ => Some(EmploymentStatus::Inactive),
        };
        let hire_date = match self.below(41) {
            0 => None,
            n => Some(day_offset(i64::from(n) - 21)),
        };
        let termination_date = match self.below(10) {
            0..7 => None,
            _ => Some(day_offset(i64::from(self.below(8)) - 4)),
        };
        Lifecycle {
            status,
            hire_date,
            termination_date,
        }
    }

    fn person(&mut self, id: &str) -> Person {
        let record = (self.below(5) != 4).then(|| self.record(id));
        Person {
            id: EmployeeId::new(id),
            record,
            as_applied: false,
            lifecycle: self.lifecycle(),
        }
    }

    fn account(&mut self, id: &str) -> AppliedAccount {
        let mut record = self.record(id);
        let remote_id = (self.below(5) != 4).then(|| format!("r-{id}"));
        let disabled_on = match self.below(10) {
            0..7 => None,
            _ => Some(day_offset(-i64::from(self.below(41)))),
        };
        if disabled_on.is_some() {
            record.active = false;
        }
        AppliedAccount {
            record,
            remote_id,
            disabled_on,
        }
    }

    fn policy(&mut self) -> Policy {
        Policy {
            leavers: [
                LeaverAction::Disable,
                LeaverAction::Delete,
                LeaverAction::Keep,
            ][usize::from(self.below(3))],
            delete_after_days: [None, Some(0), Some(1), Some(30)][usize::from(self.below(4))],
            provision_days_before_start: [7, 0][usize::from(self.below(2))],
            activation: [Activation::Immediately, Activation::AtStart][usize::from(self.below(2))],
            match_by: [MatchBy::ExternalId, MatchBy::Email, MatchBy::None]
                [usize::from(self.below(3))],
            max_deprovision: match self.below(6) {
                0 => None,
                5 => Some(Threshold::Percent(25.0)),
                n => Some(Threshold::Count(usize::from(n - 1))),
            },
            ..Policy::default()
        }
    }

    fn world(&mut self) -> World {
        let scope = match self.below(5) {
            0..3 => ReadScope::Full { complete: true },
            3 => ReadScope::Full { complete: false },
            _ => ReadScope::Partial,
        };
        // Up to three days from midnight UTC on the base day, to the second.
        let secs = i64::from(self.below(72)) * 3600
            + i64::from(self.below(60)) * 60
            + i64::from(self.below(60));
        let now = base_day()
            .to_zoned(jiff::tz::TimeZone::UTC)
            .unwrap()
            .timestamp()
            .checked_add(SignedDuration::from_secs(secs))
            .unwrap();
        let policy = self.policy();
        let mut world = World {
            people: Vec::new(),
            applied: BTreeMap::new(),
            skipped: BTreeSet::new(),
            scope,
            now,
            policy,
        };
        for id in IDS {
            // How this id appears in the read: absent, once, twice the same, twice differently.
            match self.below(13) {
                0..3 => {}
                3..11 => world.people.push(self.person(id)),
                11 => {
                    let p = self.person(id);
                    world.people.push(p.clone());
                    world.people.push(p);
                }
                _ => {
                    world.people.push(self.person(id));
                    world.people.push(self.person(id));
                }
            }
            if self.below(10) >= 4 {
                world.applied.insert(EmployeeId::new(id), self.account(id));
            }
            if self.below(10) == 9 {
                world.skipped.insert(EmployeeId::new(id));
            }
        }
        world
    }
}

fn world() -> impl Strategy<Value = World> {
    proptest::collection::vec(any::<u8>(), 0..400)
        .prop_map(|bytes| Decoder { bytes: &bytes }.world())
}

/// A world and the same people in another order.
fn world_and_shuffle() -> impl Strategy<Value = (World, Vec<Person>)> {
    world().prop_flat_map(|w| {
        let people = w.people.clone();
        (Just(w), Just(people).prop_shuffle())
    })
}

fn outcome_for(op: &Operation) -> Outcome {
    match op {
        Operation::Create { record, .. } => Outcome::Created {
            remote_id: format!("new-{}", record.person),
        },
        _ => Outcome::Applied,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    /// A person whose desired record equals the applied one may be given as `as_applied`
    /// (no record of their own, as the mapping does to save memory): the plan is the same.
    #[test]
    fn records_given_as_applied_plan_the_same(world in world()) {
        let mut equal = world.people.clone();
        for p in &mut equal {
            if let (Some(record), Some(account)) = (&mut p.record, world.applied.get(&p.id)) {
                *record = account.record.clone();
            }
        }
        let shared: Vec<Person> = equal
            .iter()
            .map(|p| {
                let mut p = p.clone();
                if p.record.is_some() && world.applied.contains_key(&p.id) {
                    p.record = None;
                    p.as_applied = true;
                }
                p
            })
            .collect();
        let full = world.plan_with(&equal, &world.applied, &world.policy);
        let lean = world.plan_with(&shared, &world.applied, &world.policy);
        prop_assert_eq!(full, lean);
    }

    /// Applying every operation (as confirmed by the target) and planning again at the same
    /// instant gives an empty plan.
    #[test]
    fn applying_a_plan_then_replanning_is_empty(world in world()) {
        let first = world.plan();
        let today = world.policy.today(world.now);
        let mut applied = world.applied.clone();
        for op in &first.operations {
            apply_outcome(&mut applied, op, &outcome_for(op), today);
        }
        let second = world.plan_with(&world.people, &applied, &world.policy);
        prop_assert!(second.is_empty(), "first: {:#?}\nsecond: {:#?}", first, second);
    }

    /// The same input gives the same plan, whatever the order of the people read, and the
    /// plan survives a JSON round trip unchanged.
    #[test]
    fn plans_are_deterministic((world, shuffled) in world_and_shuffle()) {
        let a = world.plan();
        let b = world.plan_with(&shuffled, &world.applied, &world.policy);
        prop_assert_eq!(&a, &b);
        prop_assert_eq!(&a, &world.plan());
        let json = serde_json::to_string(&a).unwrap();
        let back: Plan = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(&a, &back);
        let mut sorted = a.operations.clone();
        sorted.sort_by(operation_order);
        prop_assert_eq!(&a.operations, &sorted);
    }

    /// Only a complete full read disables or deletes.
    #[test]
    fn no_deprovisioning_without_a_complete_full_read(world in world()) {
        let plan = world.plan();
        if world.scope != (ReadScope::Full { complete: true }) {
            prop_assert!(
                plan.operations.iter().all(|op| !op.kind().is_deprovision()),
                "{:#?}",
                plan
            );
            prop_assert!(!plan.read_complete);
        }
    }

    /// Deprovisions at threshold − 1 hold; at the threshold and + 1 pass; for counts and for
    /// percentages of the managed accounts. A hold never changes the operations.
    #[test]
    fn threshold_boundaries(world in world()) {
        let unguarded = Policy { max_deprovision: None, ..world.policy.clone() };
        let base = world.plan_with(&world.people, &world.applied, &unguarded);
        // Only the deprovisioning guard is under test; the emptying guard may hold as well.
        let deprovision = |hold: Option<Hold>| hold.filter(|h| matches!(h, Hold::TooManyDeprovisions { .. }));
        prop_assert_eq!(deprovision(base.hold.clone()), None);
        let count = base.operations.iter().filter(|op| op.kind().is_deprovision()).count();
        let of = world.applied.values().filter(|a| a.disabled_on.is_none()).count();

        let mut thresholds = vec![(Threshold::Count(count), false), (Threshold::Count(count + 1), false)];
        if count > 0 {
            thresholds.push((Threshold::Count(count - 1), true));
        }
        if of > 0 {
            let percent = |n: usize| (n as f64) * 100.0 / (of as f64);
            thresholds.push((Threshold::Percent(percent(count)), false));
            thresholds.push((Threshold::Percent(percent(count + 1)), false));
            if count > 0 {
                thresholds.push((Threshold::Percent(percent(count - 1)), true));
            }
        }
        for (threshold, held) in thresholds {
            let policy = Policy { max_deprovision: Some(threshold), ..unguarded.clone() };
            let guarded = world.plan_with(&world.people, &world.applied, &policy);
            prop_assert_eq!(&guarded.operations, &base.operations);
            let expected = held.then(|| Hold::TooManyDeprovisions {
                count,
                of,
                threshold: threshold.to_string(),
            });
            if held {
                prop_assert_eq!(guarded.hold, expected, "threshold {}", threshold);
            } else {
                prop_assert_eq!(deprovision(guarded.hold), None, "threshold {}", threshold);
            }
        }
    }

    /// Operations only concern people read or accounts in the applied state (never target-only
    /// users, never skipped people), one per person; creates only for people without an
    /// account, everything else for known accounts with their remote id.
    #[test]
    fn only_known_people_are_touched(world in world()) {
        let plan = world.plan();
        let read: BTreeSet<&EmployeeId> = world.people.iter().map(|p| &p.id).collect();
        let mut seen = BTreeSet::new();
        for op in &plan.operations {
            let person = op.person();
            prop_assert!(seen.insert(person.clone()), "two operations for {}", person);
            prop_assert!(!world.skipped.contains(person), "skipped {} touched", person);
            prop_assert!(read.contains(person) || world.applied.contains_key(person));
            match op {
                Operation::Create { record, match_by } => {
                    prop_assert!(!world.applied.contains_key(person));
                    prop_assert!(read.contains(person));
                    prop_assert_eq!(*match_by, world.policy.match_by);
                    prop_assert_eq!(&record.person, person);
                }
                Operation::Update { remote_id, .. }
                | Operation::Enable { remote_id, .. }
                | Operation::Disable { remote_id, .. }
                | Operation::Delete { remote_id, .. } => {
                    let account = world.applied.get(person);
                    prop_assert!(account.is_some(), "{:?} for an unknown account", op.kind());
                    prop_assert_eq!(remote_id, &account.unwrap().remote_id);
                }
            }
        }
        prop_assert_eq!(plan.managed, world.applied.len());
    }
}

/// Guards the generator against going vacuous: the worlds produce every kind of operation,
/// holds, notes and empty plans.
#[test]
fn generated_worlds_exercise_every_outcome() {
    use proptest::strategy::ValueTree as _;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for _ in 0..2_000 {
        let plan = world().new_tree(&mut runner).unwrap().current().plan();
        let mut count = |what: String| *seen.entry(what).or_default() += 1;
        plan.operations
            .iter()
            .for_each(|op| count(op.kind().to_string()));
        if plan.hold.is_some() {
            count("hold".into());
        }
        if plan.is_empty() {
            count("empty".into());
        }
        if !plan.notes.is_empty() {
            count("notes".into());
        }
    }
    for what in [
        "create", "update", "disable", "enable", "delete", "hold", "empty", "notes",
    ] {
        let n = seen.get(what).copied().unwrap_or(0);
        assert!(n >= 50, "only {n} of 2,000 worlds gave {what}: {seen:?}");
    }
}
