//! One story of syncs told to every backend: SQLite in a file, SQLite in memory, PostgreSQL.
//!
//! PostgreSQL: `PSYNC_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/test`),
//! a fresh schema per test, dropped at the end. Unreachable → the test fails, unless
//! `PSYNC_SKIP_POSTGRES=1` (then it prints SKIPPED).
#![allow(
    clippy::unwrap_used,
    reason = "tests: a failed unwrap is a failed test"
)]

use jiff::Timestamp;
use jiff::civil::date;
use psync_model::{
    AppliedAccount, AttributeType, CustomAttribute, Employee, EmployeeId, EmploymentStatus,
    FieldChange, GroupPath, Hold, LeaveReason, MatchBy, Operation, OrgRef, OrgUnit, Outcome, Plan,
    TargetRecord, Value,
};
use psync_store::{
    AnyStore, MAX_HISTORY_VERSIONS, PostgresStore, RunStatus, SnapshotStats, SqliteStore,
    StateStore, StoreError, open,
};
use sqlx::Connection;
use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

// ---------------------------------------------------------------------------------------------
// Fixtures

/// A fixed instant plus `step` seconds (with nanoseconds, to check exact round trips).
fn at(step: i64) -> Timestamp {
    Timestamp::from_nanosecond(1_767_225_600_000_000_123 + i128::from(step) * 1_000_000_000)
        .unwrap()
}

fn id(n: u64) -> EmployeeId {
    EmployeeId::from(n)
}

fn employee(n: u64, first: &str, last: &str) -> Employee {
    let mut e = Employee::new(id(n), first, last);
    e.email = Some(format!("{}.{}@acme.example", first.to_lowercase(), n));
    e.status = Some(EmploymentStatus::Active);
    e.position = Some("Engineer".into());
    e.department = Some(OrgUnit {
        id: Some("12".into()),
        name: "Platform".into(),
        parents: vec![OrgRef {
            id: Some("1".into()),
            name: "Engineering".into(),
        }],
    });
    e.office = Some(OrgRef {
        id: None,
        name: "Munich".into(),
    });
    e.hire_date = Some(date(2024, 3, 1));
    e.weekly_hours = Some(38.5);
    e.custom.insert(
        "dynamic_24407".into(),
        CustomAttribute {
            label: Some("Shirt size".into()),
            kind: AttributeType::Choice,
            value: Value::Text("M".into()),
        },
    );
    e
}

fn record(n: u64) -> TargetRecord {
    let mut r = TargetRecord::new(id(n));
    r.attributes
        .insert("email".into(), Value::Text(format!("user{n}@acme.example")));
    r.attributes
        .insert("start".into(), Value::Date(date(2024, 3, 1)));
    r.groups
        .insert(GroupPath(vec!["Munich".into(), "Platform".into()]));
    r
}

fn create(n: u64) -> Operation {
    Operation::Create {
        record: record(n),
        match_by: MatchBy::Email,
    }
}

fn account(n: u64, remote_id: &str) -> AppliedAccount {
    AppliedAccount {
        record: record(n),
        remote_id: Some(remote_id.into()),
        disabled_on: None,
    }
}

fn plan(target: &str, people: &[u64]) -> Plan {
    Plan {
        target: target.into(),
        source: "personio".into(),
        read_complete: true,
        in_scope: 1,
        managed: 3,
        operations: people
            .iter()
            .map(|&n| Operation::Disable {
                remote_id: Some(format!("u-{n}")),
                reason: LeaveReason::Gone,
                record: record(n),
            })
            .collect(),
        notes: Vec::new(),
        hold: Some(Hold::TooManyDeprovisions {
            count: people.len(),
            of: 3,
            threshold: "1".into(),
        }),
    }
}

fn counts(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().map(|&(k, v)| (k.to_string(), v)).collect()
}

// ---------------------------------------------------------------------------------------------
// The story

/// Every method of the store, in the order an engine uses them over a few runs.
async fn story(store: &impl StateStore) {
    // A scheduled sync starts.
    let run1 = store
        .start_run("sync", "schedule", Some("personio"), Some("files"), at(0))
        .await
        .unwrap();
    let running = store.run(run1).await.unwrap().unwrap();
    assert_eq!(running.kind, "sync");
    assert_eq!(running.trigger, "schedule");
    assert_eq!(running.source.as_deref(), Some("personio"));
    assert_eq!(running.target.as_deref(), Some("files"));
    assert_eq!(running.started_at, at(0));
    assert_eq!(running.finished_at, None);
    assert_eq!(running.status, RunStatus::Running);
    assert!(running.counts.is_empty());
    assert_eq!(store.last_read_count("personio").await.unwrap(), None);

    // The first full read: three people, all new.
    let mut people = vec![
        employee(1, "Ada", "Lovelace"),
        employee(2, "Grace", "Hopper"),
        employee(3, "Margarethe", "Öztürk"),
    ];
    let stats = store
        .save_snapshot("personio", run1, &people, at(1))
        .await
        .unwrap();
    let expected = SnapshotStats {
        employees: 3,
        new: 3,
        changed: 0,
        unchanged: 0,
    };
    assert_eq!(stats, expected);
    assert_eq!(store.last_read_count("personio").await.unwrap(), Some(3));
    assert_eq!(store.last_read_count("elsewhere").await.unwrap(), None);

    // Search over the latest snapshot: id, names and e-mail, case-insensitive, limited.
    let names = |found: Vec<(String, Employee)>| -> Vec<(String, String)> {
        found
            .into_iter()
            .map(|(source, e)| (source, e.last_name))
            .collect()
    };
    assert_eq!(
        names(store.search_employees("öZTÜRK", 10).await.unwrap()),
        vec![("personio".to_owned(), "Öztürk".to_owned())]
    );
    assert_eq!(
        names(store.search_employees("GRACE.2@acme", 10).await.unwrap()),
        vec![("personio".to_owned(), "Hopper".to_owned())]
    );
    assert_eq!(
        names(store.search_employees("1", 10).await.unwrap()),
        vec![("personio".to_owned(), "Lovelace".to_owned())]
    );
    assert_eq!(store.search_employees("", 2).await.unwrap().len(), 2);
    assert_eq!(store.search_employees(" ", 10).await.unwrap().len(), 3);
    assert!(
        store
            .search_employees("nobody", 10)
            .await
            .unwrap()
            .is_empty()
    );

    // Three creates in `files`, journaled before the target is called.
    let j1 = store
        .journal_intent(run1, "files", &create(1), at(2))
        .await
        .unwrap();
    let j2 = store
        .journal_intent(run1, "files", &create(2), at(2))
        .await
        .unwrap();
    let j3 = store
        .journal_intent(run1, "files", &create(3), at(2))
        .await
        .unwrap();
    assert_eq!(store.open_intents("files").await.unwrap().len(), 3);
    assert!(
        store.applied("files").await.unwrap().is_empty(),
        "nothing is applied before a target confirmed"
    );

    // Two are confirmed, one is rejected and parked.
    store
        .confirm(
            j1,
            "files",
            &id(1),
            &Outcome::Created {
                remote_id: "u-1".into(),
            },
            Some(&account(1, "u-1")),
            at(3),
        )
        .await
        .unwrap();
    store
        .confirm(
            j2,
            "files",
            &id(2),
            &Outcome::Adopted {
                remote_id: "u-2".into(),
                matched_by: MatchBy::Email,
            },
            Some(&account(2, "u-2")),
            at(3),
        )
        .await
        .unwrap();
    store
        .fail(j3, "rejected", "email already taken", true, at(4))
        .await
        .unwrap();

    // A second target: the process dies after journaling, before the outcome.
    let j4 = store
        .journal_intent(run1, "directory", &create(1), at(5))
        .await
        .unwrap();

    assert!(store.open_intents("files").await.unwrap().is_empty());
    assert_eq!(
        store.open_intents("directory").await.unwrap(),
        vec![(j4, run1, create(1))],
        "exactly the intent without outcome is open"
    );
    let applied = store.applied("files").await.unwrap();
    assert_eq!(
        applied,
        BTreeMap::from([(id(1), account(1, "u-1")), (id(2), account(2, "u-2"))]),
        "applied state holds confirmed operations only"
    );
    assert!(store.applied("directory").await.unwrap().is_empty());

    // The run's journal, in order: two confirmed, one parked, one still open.
    let ops = store.run_operations(run1).await.unwrap();
    let ids: Vec<_> = ops.iter().map(|e| e.id).collect();
    assert_eq!(ids, vec![j1, j2, j3, j4]);
    assert_eq!(
        ops[0].outcome,
        Some(Outcome::Created {
            remote_id: "u-1".into()
        })
    );
    assert_eq!(ops[0].operation, create(1));
    assert_eq!(ops[0].intent_at, at(2));
    assert_eq!(ops[0].resolved_at, Some(at(3)));
    assert_eq!(
        ops[2].failure,
        Some(("rejected".into(), "email already taken".into()))
    );
    assert!(ops[2].parked && ops[2].outcome.is_none());
    assert_eq!(
        (ops[3].target.as_str(), ops[3].resolved_at),
        ("directory", None)
    );
    assert!(store.run_operations(run1 + 1000).await.unwrap().is_empty());
    let failed = store.parked_operations(None).await.unwrap();
    assert_eq!(failed.len(), 1, "only the parked entry is an open problem");
    assert_eq!((failed[0].id, &failed[0].person), (j3, &id(3)));
    // A failure stays a problem until the person's next operation in that target; the newest
    // attempt is the one listed.
    let retried = store
        .journal_intent(run1, "scratch", &create(9), at(5))
        .await
        .unwrap();
    store
        .fail(retried, "transient", "timed out", false, at(5))
        .await
        .unwrap();
    let again = store
        .journal_intent(run1, "scratch", &create(9), at(5))
        .await
        .unwrap();
    store
        .fail(again, "transient", "timed out again", false, at(5))
        .await
        .unwrap();
    let failed = store.parked_operations(None).await.unwrap();
    let ids: Vec<_> = failed.iter().map(|e| (e.id, e.parked)).collect();
    assert_eq!(ids, vec![(again, false), (j3, true)]);
    let scratch: Vec<_> = store
        .parked_operations(Some("scratch"))
        .await
        .unwrap()
        .iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(scratch, vec![again]);
    assert!(
        store
            .parked_operations(Some("nowhere"))
            .await
            .unwrap()
            .is_empty()
    );
    let fixed = store
        .journal_intent(run1, "scratch", &create(9), at(6))
        .await
        .unwrap();
    store
        .confirm(fixed, "scratch", &id(9), &Outcome::Applied, None, at(6))
        .await
        .unwrap();
    let failed = store.parked_operations(None).await.unwrap();
    assert_eq!(failed.len(), 1, "the confirmed retry closed the problem");
    assert_eq!(failed[0].id, j3);

    // An operation is resolved once; a journal id is tied to its target and person.
    let twice = store
        .confirm(
            j1,
            "files",
            &id(1),
            &Outcome::Unchanged,
            Some(&account(1, "u-1")),
            at(5),
        )
        .await;
    assert!(
        matches!(twice, Err(StoreError::JournalResolved(j)) if j == j1),
        "{twice:?}"
    );
    let wrong_person = store
        .confirm(j4, "directory", &id(2), &Outcome::Applied, None, at(5))
        .await;
    assert!(
        matches!(wrong_person, Err(StoreError::UnknownJournalEntry { id, .. }) if id == j4),
        "{wrong_person:?}"
    );
    let unknown = store.fail(987_654, "fatal", "x", false, at(5)).await;
    assert!(
        matches!(
            unknown,
            Err(StoreError::UnknownJournalEntry { id: 987_654, .. })
        ),
        "{unknown:?}"
    );
    assert_eq!(store.open_intents("directory").await.unwrap().len(), 1);

    let run1_counts = counts(&[("created", 2), ("parked", 1)]);
    store
        .finish_run(
            run1,
            RunStatus::Partial,
            &run1_counts,
            Some("1 operation parked"),
            at(6),
        )
        .await
        .unwrap();

    // The next run: Grace got a new position; the others are unchanged.
    let run2 = store
        .start_run("sync", "schedule", Some("personio"), Some("files"), at(10))
        .await
        .unwrap();
    people[1].position = Some("Rear Admiral".into());
    let stats = store
        .save_snapshot("personio", run2, &people, at(11))
        .await
        .unwrap();
    let expected = SnapshotStats {
        employees: 3,
        new: 0,
        changed: 1,
        unchanged: 2,
    };
    assert_eq!(stats, expected);
    let grace = store.employee_history("personio", &id(2)).await.unwrap();
    assert_eq!(grace.len(), 2, "a version only when something changed");
    assert_eq!(grace[0].0, at(1));
    assert_eq!(grace[0].1, run1);
    assert_eq!(grace[0].2.position.as_deref(), Some("Engineer"));
    assert_eq!((grace[1].0, grace[1].1), (at(11), run2));
    assert_eq!(grace[1].2, people[1], "the employee round-trips exactly");
    for unchanged in [1, 3] {
        let history = store
            .employee_history("personio", &id(unchanged))
            .await
            .unwrap();
        assert_eq!(history.len(), 1, "person {unchanged}");
        assert_eq!(
            history[0].2,
            people[usize::try_from(unchanged - 1).unwrap()]
        );
    }
    assert!(
        store
            .employee_history("elsewhere", &id(2))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.last_read_count("personio").await.unwrap(), Some(3));

    // Crash recovery: the open intent is re-applied; the target says it already holds it.
    store
        .confirm(
            j4,
            "directory",
            &id(1),
            &Outcome::Unchanged,
            Some(&account(1, "cn=1")),
            at(12),
        )
        .await
        .unwrap();
    assert!(store.open_intents("directory").await.unwrap().is_empty());
    assert_eq!(
        store.applied("directory").await.unwrap(),
        BTreeMap::from([(id(1), account(1, "cn=1"))])
    );

    // Grace is updated; Ada's account is deleted (state removed).
    let mut updated = record(2);
    updated
        .attributes
        .insert("title".into(), Value::Text("Rear Admiral".into()));
    let update = Operation::Update {
        remote_id: Some("u-2".into()),
        changes: vec![FieldChange {
            field: "title".into(),
            old: Value::Null,
            new: Value::Text("Rear Admiral".into()),
        }],
        groups_added: Vec::new(),
        groups_removed: Vec::new(),
        record: updated.clone(),
    };
    let j5 = store
        .journal_intent(run2, "files", &update, at(12))
        .await
        .unwrap();
    let grace_account = AppliedAccount {
        record: updated,
        remote_id: Some("u-2".into()),
        disabled_on: None,
    };
    store
        .confirm(
            j5,
            "files",
            &id(2),
            &Outcome::Applied,
            Some(&grace_account),
            at(13),
        )
        .await
        .unwrap();
    let delete = Operation::Delete {
        remote_id: Some("u-1".into()),
        reason: LeaveReason::Left,
        record: record(1),
    };
    let j6 = store
        .journal_intent(run2, "files", &delete, at(13))
        .await
        .unwrap();
    store
        .confirm(j6, "files", &id(1), &Outcome::Applied, None, at(14))
        .await
        .unwrap();
    assert_eq!(
        store.applied("files").await.unwrap(),
        BTreeMap::from([(id(2), grace_account)])
    );

    // Each person's provisioning log, newest first.
    let ada = store.person_log(&id(1), 10).await.unwrap();
    let summary: Vec<_> = ada
        .iter()
        .map(|e| {
            (
                e.run,
                e.target.as_str(),
                e.action.as_str(),
                e.result.as_str(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (run2, "files", "delete", "ok"),
            (run1, "directory", "create", "unchanged"),
            (run1, "files", "create", "ok"),
        ]
    );
    assert_eq!(ada[0].at, at(14));
    assert_eq!(ada[0].person, id(1));
    assert_eq!(ada[2].detail.as_deref(), Some("created as u-1"));
    assert_eq!(store.person_log(&id(1), 1).await.unwrap(), ada[..1]);
    let grace_log = store.person_log(&id(2), 10).await.unwrap();
    assert_eq!(grace_log.len(), 2);
    assert_eq!(grace_log[0].action, "update");
    assert_eq!(
        grace_log[1].detail.as_deref(),
        Some("adopted u-2, matched by e-mail")
    );
    let margarethe = store.person_log(&id(3), 10).await.unwrap();
    assert_eq!(margarethe.len(), 1);
    assert_eq!(margarethe[0].result, "parked");
    assert_eq!(
        margarethe[0].detail.as_deref(),
        Some("rejected: email already taken")
    );
    assert!(store.person_log(&id(4), 10).await.unwrap().is_empty());

    store
        .finish_run(
            run2,
            RunStatus::Succeeded,
            &counts(&[("updated", 1), ("deleted", 1), ("unchanged", 2)]),
            None,
            at(15),
        )
        .await
        .unwrap();

    // A guard holds two plans; one is approved, the other rejected.
    let run3 = store
        .start_run("sync", "schedule", Some("personio"), Some("files"), at(20))
        .await
        .unwrap();
    let held = plan("files", &[2, 3]);
    store.hold_plan(run3, &held, at(21)).await.unwrap();
    let again = store.hold_plan(run3, &held, at(21)).await;
    assert!(
        matches!(again, Err(StoreError::AlreadyHeld(r)) if r == run3),
        "{again:?}"
    );
    store
        .finish_run(
            run3,
            RunStatus::Held,
            &counts(&[]),
            Some("held: 2 of 3 accounts"),
            at(22),
        )
        .await
        .unwrap();
    let run4 = store
        .start_run(
            "sync",
            "schedule",
            Some("personio"),
            Some("directory"),
            at(23),
        )
        .await
        .unwrap();
    let held4 = plan("directory", &[1]);
    store.hold_plan(run4, &held4, at(24)).await.unwrap();
    assert_eq!(
        store.held_plans().await.unwrap(),
        vec![(run3, held.clone()), (run4, held4.clone())]
    );

    let run5 = store
        .start_run("approve", "cli", None, Some("files"), at(30))
        .await
        .unwrap();
    assert_eq!(
        store.resolve_held(run3, true, at(30)).await.unwrap(),
        Some(held)
    );
    assert_eq!(store.resolve_held(run3, true, at(31)).await.unwrap(), None);
    assert_eq!(
        store.resolve_held(run4, false, at(31)).await.unwrap(),
        Some(held4)
    );
    assert!(store.held_plans().await.unwrap().is_empty());
    assert_eq!(
        store.resolve_held(987_654, true, at(31)).await.unwrap(),
        None
    );
    store
        .finish_run(run4, RunStatus::Rejected, &counts(&[]), None, at(32))
        .await
        .unwrap();
    store
        .finish_run(
            run5,
            RunStatus::Succeeded,
            &counts(&[("disabled", 2)]),
            None,
            at(33),
        )
        .await
        .unwrap();

    // The run list, newest first.
    let runs = store.runs(10).await.unwrap();
    let ids: Vec<_> = runs.iter().map(|r| r.id).collect();
    assert_eq!(ids, vec![run5, run4, run3, run2, run1]);
    let statuses: Vec<_> = runs.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        vec![
            RunStatus::Succeeded,
            RunStatus::Rejected,
            RunStatus::Held,
            RunStatus::Succeeded,
            RunStatus::Partial,
        ]
    );
    assert_eq!(store.runs(2).await.unwrap(), runs[..2]);
    let first = store.run(run1).await.unwrap().unwrap();
    assert_eq!(first.finished_at, Some(at(6)));
    assert_eq!(first.counts, run1_counts);
    assert_eq!(first.message.as_deref(), Some("1 operation parked"));
    assert_eq!(runs[0].kind, "approve");
    assert_eq!(runs[0].source, None);
    assert_eq!(store.run(987_654).await.unwrap(), None);
    let unknown = store
        .finish_run(987_654, RunStatus::Failed, &counts(&[]), None, at(40))
        .await;
    assert!(
        matches!(unknown, Err(StoreError::UnknownRun(987_654))),
        "{unknown:?}"
    );
}

/// Only the latest [`MAX_HISTORY_VERSIONS`] versions of a person are kept.
async fn history_is_bounded(store: &impl StateStore) {
    let run = store
        .start_run("sync", "schedule", Some("personio"), None, at(0))
        .await
        .unwrap();
    let mut ada = employee(1, "Ada", "Lovelace");
    let steady = employee(2, "Grace", "Hopper");
    let rounds = MAX_HISTORY_VERSIONS + 5;
    for round in 0..rounds {
        ada.weekly_hours = Some(20.0 + f64::from(u32::try_from(round).unwrap()));
        let step = i64::try_from(round).unwrap();
        store
            .save_snapshot("personio", run, &[ada.clone(), steady.clone()], at(step))
            .await
            .unwrap();
    }
    let history = store.employee_history("personio", &id(1)).await.unwrap();
    assert_eq!(history.len(), MAX_HISTORY_VERSIONS);
    assert_eq!(history.last().unwrap().2, ada, "the newest version is kept");
    assert_eq!(
        history[0].0,
        at(i64::try_from(rounds - MAX_HISTORY_VERSIONS).unwrap()),
        "the oldest versions are pruned"
    );
    let steady_history = store.employee_history("personio", &id(2)).await.unwrap();
    assert_eq!(steady_history.len(), 1);
}

/// Confirms from several tasks at once: every one lands, none is lost.
async fn concurrent_confirms(store: AnyStore) {
    const TASKS: u64 = 8;
    const PER_TASK: u64 = 25;
    let store = Arc::new(store);
    let run = store
        .start_run("sync", "schedule", Some("personio"), Some("files"), at(0))
        .await
        .unwrap();
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                for i in 0..PER_TASK {
                    let n = 1000 * (task + 1) + i;
                    let remote = format!("u-{n}");
                    let journal = store
                        .journal_intent(run, "files", &create(n), at(1))
                        .await
                        .unwrap();
                    store
                        .confirm(
                            journal,
                            "files",
                            &id(n),
                            &Outcome::Created {
                                remote_id: remote.clone(),
                            },
                            Some(&account(n, &remote)),
                            at(2),
                        )
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let applied = store.applied("files").await.unwrap();
    assert_eq!(applied.len(), usize::try_from(TASKS * PER_TASK).unwrap());
    for task in 0..TASKS {
        for i in 0..PER_TASK {
            let n = 1000 * (task + 1) + i;
            assert_eq!(applied[&id(n)].remote_id, Some(format!("u-{n}")));
        }
    }
    assert!(store.open_intents("files").await.unwrap().is_empty());
    assert_eq!(store.person_log(&id(1000), 10).await.unwrap().len(), 1);
}

/// Two workers save reads of the same source at once: both land, as consecutive versions.
async fn concurrent_snapshots(store: AnyStore) {
    let store = Arc::new(store);
    let run = store
        .start_run("sync", "schedule", Some("personio"), None, at(0))
        .await
        .unwrap();
    let saves: Vec<_> = (0..4u32)
        .map(|worker| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let people: Vec<_> = (1..=200)
                    .map(|n| {
                        let mut e = employee(n, "Person", "Example");
                        e.weekly_hours = Some(f64::from(worker));
                        e
                    })
                    .collect();
                store
                    .save_snapshot("personio", run, &people, at(i64::from(worker)))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut new = 0;
    for save in saves {
        let stats = save.await.unwrap();
        new += stats.new;
        assert_eq!(stats.new + stats.changed, 200, "{stats:?}");
    }
    assert_eq!(new, 200, "exactly one save saw the people first");
    let history = store.employee_history("personio", &id(7)).await.unwrap();
    assert_eq!(history.len(), 4);
}

/// A full read of 10,000 employees, saved three times; prints the times (no timed assertion).
async fn ten_thousand(store: &impl StateStore, backend: &str) {
    const N: u64 = 10_000;
    let run = store
        .start_run("sync", "schedule", Some("personio"), None, at(0))
        .await
        .unwrap();
    let mut people: Vec<_> = (1..=N).map(|n| employee(n, "Person", "Example")).collect();

    let started = Instant::now();
    let first = store
        .save_snapshot("personio", run, &people, at(1))
        .await
        .unwrap();
    let first_time = started.elapsed();
    assert_eq!(first.new, 10_000);

    let started = Instant::now();
    let second = store
        .save_snapshot("personio", run, &people, at(2))
        .await
        .unwrap();
    let second_time = started.elapsed();
    assert_eq!(second.unchanged, 10_000);

    for person in people.iter_mut().step_by(100) {
        person.position = Some("Lead".into());
    }
    let started = Instant::now();
    let third = store
        .save_snapshot("personio", run, &people, at(3))
        .await
        .unwrap();
    let third_time = started.elapsed();
    assert_eq!((third.changed, third.unchanged), (100, 9_900));
    assert_eq!(
        store.last_read_count("personio").await.unwrap(),
        Some(10_000)
    );
    assert_eq!(
        store
            .employee_history("personio", &id(101))
            .await
            .unwrap()
            .len(),
        2
    );
    println!(
        "{backend}: 10,000 employees saved in {first_time:.2?} (all new), \
         {second_time:.2?} (none changed), {third_time:.2?} (100 changed)"
    );
}

// ---------------------------------------------------------------------------------------------
// Backends

static SEQUENCE: AtomicU32 = AtomicU32::new(0);

/// A name no other test (in this or a parallel run) uses.
fn unique(prefix: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let n = SEQUENCE.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}_{}_{nanos}_{n}", std::process::id())
}

/// A fresh SQLite file under the temp directory, removed by [`remove_sqlite`].
fn sqlite_path() -> PathBuf {
    std::env::temp_dir().join(format!("{}.db", unique("psync_store_test")))
}

fn remove_sqlite(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut file = path.as_os_str().to_owned();
        file.push(suffix);
        let _ = std::fs::remove_file(file);
    }
}

/// Runs `test` against a SQLite file, then removes it.
async fn with_sqlite_file<F, Fut>(test: F)
where
    F: FnOnce(AnyStore) -> Fut,
    Fut: Future<Output = ()>,
{
    let path = sqlite_path();
    let store = open(&format!("sqlite://{}", path.display())).await.unwrap();
    assert_eq!(store.backend(), "sqlite");
    test(store.clone()).await;
    store.close().await;
    remove_sqlite(&path);
}

fn postgres_url() -> String {
    std::env::var("PSYNC_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// Runs `test` against PostgreSQL in a schema of its own, dropped afterwards (also on failure).
async fn with_postgres<F, Fut>(test_name: &str, test: F)
where
    F: FnOnce(AnyStore) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    if std::env::var("PSYNC_SKIP_POSTGRES").as_deref() == Ok("1") {
        println!("SKIPPED {test_name}: PSYNC_SKIP_POSTGRES=1");
        return;
    }
    let url = postgres_url();
    let schema = unique("psync_test");
    let store = match PostgresStore::connect_in_schema(&url, &schema).await {
        Ok(store) => store,
        Err(e) => panic!(
            "{test_name} needs PostgreSQL: {e}\nStart PostgreSQL (trust auth for user postgres, \
             database `test`), point PSYNC_TEST_POSTGRES_URL at another server, or set \
             PSYNC_SKIP_POSTGRES=1 to skip the PostgreSQL tests."
        ),
    };
    let outcome = tokio::spawn(test(AnyStore::Postgres(store.clone()))).await;
    store.close().await;
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP SCHEMA \"{schema}\" CASCADE"
    )))
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();
    if let Err(failure) = outcome {
        std::panic::resume_unwind(failure.into_panic());
    }
}

// ---------------------------------------------------------------------------------------------
// Tests

#[tokio::test]
async fn story_on_sqlite_file() {
    with_sqlite_file(|store| async move { story(&store).await }).await;
}

#[tokio::test]
async fn story_on_sqlite_memory() {
    let store = open("sqlite::memory:").await.unwrap();
    story(&store).await;
}

#[tokio::test]
async fn story_on_postgres() {
    with_postgres("story_on_postgres", |store| async move {
        assert_eq!(store.backend(), "postgres");
        story(&store).await;
    })
    .await;
}

#[tokio::test]
async fn history_is_bounded_on_sqlite() {
    let store = SqliteStore::open_in_memory().await.unwrap();
    history_is_bounded(&store).await;
}

#[tokio::test]
async fn history_is_bounded_on_postgres() {
    with_postgres("history_is_bounded_on_postgres", |store| async move {
        history_is_bounded(&store).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_confirms_on_sqlite_file() {
    with_sqlite_file(concurrent_confirms).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_confirms_on_sqlite_memory() {
    concurrent_confirms(open("sqlite::memory:").await.unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_confirms_on_postgres() {
    with_postgres("concurrent_confirms_on_postgres", concurrent_confirms).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_snapshots_on_sqlite_file() {
    with_sqlite_file(concurrent_snapshots).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_snapshots_on_postgres() {
    with_postgres("concurrent_snapshots_on_postgres", concurrent_snapshots).await;
}

#[tokio::test]
async fn ten_thousand_employees_on_sqlite_file() {
    with_sqlite_file(|store| async move { ten_thousand(&store, "sqlite file").await }).await;
}

#[tokio::test]
async fn ten_thousand_employees_on_postgres() {
    with_postgres("ten_thousand_employees_on_postgres", |store| async move {
        ten_thousand(&store, "postgres").await;
    })
    .await;
}

#[tokio::test]
async fn reopening_a_sqlite_file_keeps_data_and_migrates_once() {
    let path = sqlite_path();
    let url = format!("sqlite://{}", path.display());
    let store = open(&url).await.unwrap();
    let run = store
        .start_run("sync", "cli", Some("personio"), Some("files"), at(0))
        .await
        .unwrap();
    let people = [
        employee(1, "Ada", "Lovelace"),
        employee(2, "Grace", "Hopper"),
    ];
    store
        .save_snapshot("personio", run, &people, at(1))
        .await
        .unwrap();
    let journal = store
        .journal_intent(run, "files", &create(1), at(2))
        .await
        .unwrap();
    store
        .confirm(
            journal,
            "files",
            &id(1),
            &Outcome::Applied,
            Some(&account(1, "u-1")),
            at(3),
        )
        .await
        .unwrap();
    let open_one = store
        .journal_intent(run, "files", &create(2), at(4))
        .await
        .unwrap();
    store.close().await;
    drop(store);

    for _ in 0..2 {
        let store = open(&url).await.unwrap();
        assert_eq!(store.run(run).await.unwrap().unwrap().started_at, at(0));
        assert_eq!(store.last_read_count("personio").await.unwrap(), Some(2));
        assert_eq!(
            store
                .employee_history("personio", &id(2))
                .await
                .unwrap()
                .len(),
            1
        );
        assert_eq!(store.applied("files").await.unwrap().len(), 1);
        assert_eq!(
            store.open_intents("files").await.unwrap(),
            vec![(open_one, run, create(2))]
        );
        // Saving the same read again after the reopen: nothing changed.
        let stats = store
            .save_snapshot("personio", run, &people, at(5))
            .await
            .unwrap();
        assert_eq!(stats.unchanged, 2);
        store.close().await;
    }

    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let (migrations, newest): (i64, i64) =
        sqlx::query_as("SELECT count(*), max(version) FROM psync_migrations")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!((migrations, newest), (1, 1), "each migration ran once");

    // An edited released migration, or a database from a newer release, stops the open.
    sqlx::query("UPDATE psync_migrations SET checksum = 'edited' WHERE version = 1")
        .execute(&mut conn)
        .await
        .unwrap();
    let edited = open(&url).await;
    assert!(
        matches!(edited, Err(StoreError::MigrationChanged { version: 1, .. })),
        "{edited:?}"
    );
    let stored: String = sqlx::query_scalar("SELECT checksum FROM psync_migrations")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(stored, "edited", "a refused open changes nothing");
    sqlx::query("DELETE FROM psync_migrations WHERE version = 1")
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query("INSERT INTO psync_migrations (version, name, checksum) VALUES (99, 'future', '')")
        .execute(&mut conn)
        .await
        .unwrap();
    let newer = open(&url).await;
    assert!(
        matches!(
            newer,
            Err(StoreError::SchemaTooNew {
                found: 99,
                known: 1
            })
        ),
        "{newer:?}"
    );
    conn.close().await.unwrap();
    remove_sqlite(&path);
}

#[tokio::test]
async fn open_tells_the_operator_what_to_do() {
    let unsupported = open("mysql://sync:s3cret@db/state").await.unwrap_err();
    let message = unsupported.to_string();
    assert!(message.contains("sqlite://PATH"), "{message}");
    assert!(!message.contains("s3cret"), "{message}");

    let missing_dir = std::env::temp_dir()
        .join(unique("psync_no_such_dir"))
        .join("state.db");
    let started = Instant::now();
    let sqlite = open(&format!("sqlite://{}", missing_dir.display()))
        .await
        .unwrap_err();
    let message = sqlite.to_string();
    assert!(
        message.contains("cannot open the SQLite state file")
            && message.contains("check that the directory exists"),
        "{message}"
    );
    assert!(started.elapsed().as_secs() < 10, "fails fast");

    // Port 1 on loopback: nothing listens there.
    let started = Instant::now();
    let postgres = open("postgresql://sync:s3cret@127.0.0.1:1/state")
        .await
        .unwrap_err();
    let message = postgres.to_string();
    assert!(
        message.contains("cannot reach PostgreSQL at sync@127.0.0.1:1/state"),
        "{message}"
    );
    assert!(!message.contains("s3cret"), "{message}");
    assert!(started.elapsed().as_secs() < 10, "fails fast");

    let schema = PostgresStore::connect_in_schema(&postgres_url(), "Robert'); DROP")
        .await
        .unwrap_err();
    assert!(
        matches!(schema, StoreError::InvalidPostgres { .. }),
        "{schema:?}"
    );
}

/// Batch journaling and confirming: all in one transaction, all or none.
async fn batches(store: &impl StateStore) {
    let run = store
        .start_run("sync", "test", Some("acme"), Some("files"), at(1))
        .await
        .unwrap();
    let ops: Vec<Operation> = (1..=5).map(create).collect();
    let ids = store
        .journal_intents(run, "files", &ops, at(2))
        .await
        .unwrap();
    assert_eq!(ids.len(), 5);
    assert_eq!(store.open_intents("files").await.unwrap().len(), 5);
    let confirmation = |i: usize, n: u64| psync_store::Confirmation {
        journal_id: ids[i],
        person: id(n),
        outcome: Outcome::Created {
            remote_id: format!("r{n}"),
        },
        new_state: Some(account(n, &format!("r{n}"))),
    };
    // A batch with one bad entry (the wrong person for a journal id) writes nothing.
    let bad = vec![confirmation(0, 1), confirmation(1, 9)];
    assert!(store.confirm_many("files", &bad, at(3)).await.is_err());
    assert!(
        store.applied("files").await.unwrap().is_empty(),
        "all or none"
    );
    assert_eq!(store.open_intents("files").await.unwrap().len(), 5);
    let good: Vec<_> = (0..5).map(|i| confirmation(i, i as u64 + 1)).collect();
    store.confirm_many("files", &good, at(4)).await.unwrap();
    assert_eq!(store.applied("files").await.unwrap().len(), 5);
    assert!(store.open_intents("files").await.unwrap().is_empty());
    assert_eq!(store.person_log(&id(3), 10).await.unwrap().len(), 1);
}

#[tokio::test]
async fn batches_on_sqlite() {
    let store = SqliteStore::open_in_memory().await.unwrap();
    batches(&store).await;
}

#[tokio::test]
async fn batches_on_postgres() {
    with_postgres("batches_on_postgres", |store| async move {
        batches(&store).await;
    })
    .await;
}

#[tokio::test]
async fn a_read_only_open_writes_nothing() {
    let path = sqlite_path();
    let url = format!("sqlite://{}", path.display());
    // Missing file: an empty stand-in; the file is not created.
    let store = psync_store::open_read_only(&url).await.unwrap();
    assert!(store.applied("files").await.unwrap().is_empty());
    assert!(!path.exists(), "a read-only open creates no file");
    // An existing store: readable, and a write fails.
    let writer = open(&url).await.unwrap();
    let run = writer
        .start_run("sync", "test", None, Some("files"), at(1))
        .await
        .unwrap();
    writer.close().await;
    let before = std::fs::read(&path).unwrap();
    let reader = psync_store::open_read_only(&url).await.unwrap();
    assert_eq!(reader.run(run).await.unwrap().map(|r| r.id), Some(run));
    assert!(
        reader
            .start_run("sync", "test", None, None, at(2))
            .await
            .is_err()
    );
    reader.close().await;
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the file is unchanged"
    );
    remove_sqlite(&path);
}
