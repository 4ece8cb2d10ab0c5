//! Lifecycle scenarios end to end: the simulator over real HTTP, the mapping, the planner,
//! SQLite state and the file target, with a fixed clock.
#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

mod common;

use common::World;
use psync_engine::{SyncOptions, TargetStatus};
use psync_model::{EmployeeId, EmploymentStatus, OpKind, Value};
use psync_personio_sim::{EmployeeUpdate, Faults, HireSpec, MoveSpec, SimApi};
use psync_planner::Threshold;

fn text(v: &Value) -> String {
    v.display()
}

/// People a default policy provisions on the simulator's "today".
fn expected_ids(world: &World) -> Vec<String> {
    let today = world.sim_today();
    world
        .sim
        .expected_employees(SimApi::V1)
        .into_iter()
        .filter(|e| {
            matches!(
                e.status,
                Some(
                    EmploymentStatus::Active
                        | EmploymentStatus::Onboarding
                        | EmploymentStatus::Leave
                )
            ) && e
                .hire_date
                .is_none_or(|d| d <= today.checked_add(jiff::ToSpan::days(7)).unwrap())
                && e.termination_date.is_none_or(|d| d >= today)
        })
        .map(|e| e.id.to_string())
        .collect()
}

/// Runs a sync that must be aborted by a source guard; returns the reason.
async fn aborted(world: &World) -> String {
    let outcome = world
        .engine()
        .await
        .sync(
            &SyncOptions {
                trigger: "test".into(),
                ..SyncOptions::default()
            },
            None,
        )
        .await
        .unwrap();
    match &outcome.targets[0].status {
        TargetStatus::Aborted(why) => why.clone(),
        other => panic!("expected an abort, got {other:?}"),
    }
}

trait Today {
    fn sim_today(&self) -> jiff::civil::Date;
}
impl Today for World {
    fn sim_today(&self) -> jiff::civil::Date {
        psync_personio_sim::SimConfig::default().today
    }
}

#[tokio::test]
async fn initial_sync_provisions_exactly_the_scope_and_a_resync_writes_nothing() {
    let world = World::new(120).await;
    let outcome = world.sync().await;
    let report = &outcome.targets[0];
    assert_eq!(report.status, TargetStatus::Applied, "{:?}", report.apply);
    let records = world.records();
    let mut want = expected_ids(&world);
    want.sort();
    let mut got: Vec<String> = records.keys().cloned().collect();
    got.sort();
    assert_eq!(got, want);
    for (id, record) in &records {
        assert_eq!(text(record.get("external_id")), *id);
        assert_eq!(record.person.as_str(), id);
    }
    let again = world.sync().await;
    assert_eq!(again.targets[0].status, TargetStatus::UpToDate);
    assert!(again.targets[0].plan.is_empty());
    assert_eq!(world.records(), records, "a no-op resync changes nothing");
}

#[tokio::test]
async fn joiner_mover_promotion_and_email_change() {
    let world = World::new(60).await;
    world.sync().await;
    let ids = world.sim.ids();
    let boss = ids[0].clone();
    let hired = world.sim.hire(HireSpec {
        first_name: "Zoë".into(),
        last_name: "Ångström".into(),
        office: Some("Vienna".into()),
        department: Some("Platform".into()),
        supervisor_id: Some(boss.clone()),
        ..HireSpec::default()
    });
    let active: Vec<String> = world
        .records()
        .iter()
        .filter(|(_, r)| r.active)
        .map(|(id, _)| id.clone())
        .collect();
    let mover = active[5].clone();
    let promoted = active[9].clone();
    let renamed = active[12].clone();
    world
        .sim
        .move_employee(
            &mover,
            MoveSpec {
                office: Some("Madrid".into()),
                department: Some("Finance".into()),
                ..MoveSpec::default()
            },
        )
        .unwrap();
    world
        .sim
        .update(
            &promoted,
            EmployeeUpdate {
                supervisor_id: Some(mover.clone()),
                position: Some("Team Lead".into()),
                ..EmployeeUpdate::default()
            },
        )
        .unwrap();
    world
        .sim
        .change_email(&renamed, "new.address@sim-company.example")
        .unwrap();

    let plan = world.plan().await;
    let ops = &plan.targets[0].plan.operations;
    let kinds: Vec<(String, OpKind)> = ops
        .iter()
        .map(|o| (o.person().to_string(), o.kind()))
        .collect();
    assert!(
        kinds.contains(&(hired.clone(), OpKind::Create)),
        "{kinds:?}"
    );
    for id in [&mover, &promoted, &renamed] {
        assert!(
            kinds.contains(&(id.clone(), OpKind::Update)),
            "{id}: {kinds:?}"
        );
    }
    assert_eq!(ops.len(), 4, "only the changed people: {kinds:?}");

    let before = world.records().len();
    world.sync().await;
    let records = world.records();
    assert_eq!(
        records.len(),
        before + 1,
        "one new row, no duplicate for the e-mail change"
    );
    let zoe = &records[&hired];
    assert_eq!(text(zoe.get("country_code")), "AT");
    assert_eq!(zoe.manager, Some(EmployeeId::new(boss)));
    assert!(
        zoe.groups
            .iter()
            .any(|g| g.to_string() == "Vienna / Platform"),
        "{:?}",
        zoe.groups
    );
    let moved = &records[&mover];
    assert_eq!(text(moved.get("country_code")), "ES");
    assert!(
        moved
            .groups
            .iter()
            .any(|g| g.to_string() == "Madrid / Finance"),
        "{:?}",
        moved.groups
    );
    assert_eq!(records[&promoted].manager, Some(EmployeeId::new(mover)));
    assert_eq!(text(records[&promoted].get("title")), "Team Lead");
    assert_eq!(
        text(records[&renamed].get("email")),
        "new.address@sim-company.example"
    );
}

#[tokio::test]
async fn leave_termination_rehire_and_deletion() {
    let mut world = World::new(60).await;
    world.policy.delete_after_days = Some(30);
    world.sync().await;
    let today = world.sim_today();
    let active: Vec<String> = world
        .records()
        .iter()
        .filter(|(_, r)| r.active)
        .map(|(id, _)| id.clone())
        .collect();
    let (on_leave, future_leaver, leaver, deleted) =
        (&active[1], &active[2], &active[3], &active[4]);
    world
        .sim
        .update(
            on_leave,
            EmployeeUpdate {
                status: Some("leave".into()),
                ..EmployeeUpdate::default()
            },
        )
        .unwrap();
    world
        .sim
        .terminate(future_leaver, today.tomorrow().unwrap())
        .unwrap();
    world
        .sim
        .terminate(leaver, today.yesterday().unwrap())
        .unwrap();
    world.sim.delete(deleted).unwrap();

    world.sync().await;
    let records = world.records();
    assert!(records[on_leave].active, "leave keeps the account");
    assert!(
        records[future_leaver].active,
        "terminated tomorrow: still active today"
    );
    assert!(!records[leaver].active, "terminated yesterday: disabled");
    assert!(
        !records[deleted].active,
        "deleted in Personio: disabled (full read)"
    );

    // The day after tomorrow the future-dated termination has taken effect.
    world.set_today(today.checked_add(jiff::ToSpan::days(2)).unwrap());
    world.sync().await;
    assert!(!world.records()[future_leaver].active);

    // Rehire: the same account comes back.
    world
        .sim
        .rehire(
            leaver,
            Some(today.checked_add(jiff::ToSpan::days(2)).unwrap()),
        )
        .unwrap();
    let plan = world.plan().await;
    let op = plan.targets[0]
        .plan
        .operations
        .iter()
        .find(|o| o.person().as_str() == leaver)
        .unwrap();
    assert_eq!(op.kind(), OpKind::Enable);
    world.sync().await;
    assert!(world.records()[leaver].active);

    // After the grace period the deleted person's account goes.
    world.set_today(today.checked_add(jiff::ToSpan::days(40)).unwrap());
    world.sync().await;
    assert!(!world.records().contains_key(deleted.as_str()));
}

#[tokio::test]
async fn dirty_records_and_malformed_ones_are_handled_not_dropped() {
    let world = World::new(150).await;
    let victim = expected_ids(&world)[20].clone();
    world.sim.set_faults(Faults {
        malformed_record: Some(victim.clone()),
        ..Faults::default()
    });
    let outcome = world.sync().await;
    assert_eq!(outcome.reads[0].skipped.len(), 1);
    let records = world.records();
    assert!(
        !records.contains_key(&victim),
        "malformed: skipped, reported"
    );
    // Missing e-mails and the duplicate e-mail are still provisioned (anchored on the id).
    let expected = world.sim.expected_employees(SimApi::V1);
    let without_email = expected
        .iter()
        .filter(|e| e.email.is_none() && records.contains_key(e.id.as_str()))
        .count();
    assert!(
        without_email > 0,
        "a person without e-mail is synced, not dropped"
    );
    // The malformed person stays untouched once known, even though they were not read.
    world.sim.set_faults(Faults::default());
    world.sync().await;
    assert!(world.records().contains_key(&victim));
    world.sim.set_faults(Faults {
        malformed_record: Some(victim.clone()),
        ..Faults::default()
    });
    let outcome = world.sync().await;
    assert!(
        outcome.targets[0]
            .plan
            .operations
            .iter()
            .all(|o| o.person().as_str() != victim)
    );
    assert!(
        world.records()[&victim].active,
        "never deprovisioned because a record was malformed"
    );
}

#[tokio::test]
async fn one_person_sync_never_deprovisions_and_traces_its_steps() {
    let world = World::new(40).await;
    world.sync().await;
    let active: Vec<String> = world
        .records()
        .iter()
        .filter(|(_, r)| r.active)
        .map(|(id, _)| id.clone())
        .collect();
    let leaver = &active[2];
    let today = world.sim_today();
    world
        .sim
        .terminate(leaver, today.yesterday().unwrap())
        .unwrap();
    world
        .sim
        .update(
            &active[3],
            EmployeeUpdate {
                position: Some("CTO".into()),
                ..EmployeeUpdate::default()
            },
        )
        .unwrap();
    let engine = world.engine().await;
    let one = |id: &str| SyncOptions {
        employee: Some(EmployeeId::new(id)),
        trigger: "test".into(),
        ..SyncOptions::default()
    };
    let outcome = engine.sync(&one(leaver), None).await.unwrap();
    assert!(
        outcome.targets[0].plan.operations.is_empty(),
        "a one-person read never deprovisions"
    );
    assert!(world.records()[leaver].active);
    let outcome = engine.sync(&one(&active[3]), None).await.unwrap();
    let trace = outcome.targets[0].trace.as_ref().unwrap();
    assert!(trace.fetched.starts_with("yes"), "{trace:?}");
    assert_eq!(trace.in_scope, "yes");
    assert!(trace.action.starts_with("update"), "{trace:?}");
    assert!(trace.result.contains("applied"), "{trace:?}");
    assert_eq!(text(world.records()[&active[3]].get("title")), "CTO");
}

#[tokio::test]
async fn a_shrunken_read_aborts_before_any_write() {
    let world = World::new(50).await;
    world.sync().await;
    let before = world.records();
    for id in world.sim.ids().into_iter().take(20) {
        world.sim.delete(&id).unwrap();
    }
    let err = aborted(&world).await;
    assert!(err.contains("--allow-shrink"), "{err}");
    assert_eq!(world.records(), before, "nothing written");
    world.sim.set_faults(Faults {
        empty_list: true,
        ..Faults::default()
    });
    let err = aborted(&world).await;
    assert!(
        err.contains("0 employees") || err.contains("no employees"),
        "{err}"
    );
    assert_eq!(world.records(), before, "an empty read deprovisions nobody");
}

#[tokio::test]
async fn too_many_deprovisions_are_held_until_approved() {
    let mut world = World::new(50).await;
    world.policy.max_deprovision = Some(Threshold::Count(1));
    world.sync().await;
    let active: Vec<String> = world
        .records()
        .iter()
        .filter(|(_, r)| r.active)
        .map(|(id, _)| id.clone())
        .collect();
    let today = world.sim_today();
    for id in &active[..2] {
        world.sim.terminate(id, today.yesterday().unwrap()).unwrap();
    }
    let outcome = world.sync().await;
    let report = &outcome.targets[0];
    assert_eq!(report.status, TargetStatus::Held);
    assert!(world.records()[&active[0]].active, "held: nothing applied");
    let engine = world.engine().await;
    let held = report.run.unwrap();
    let approved = engine.approve(held, None).await.unwrap();
    assert_eq!(approved.status, TargetStatus::Applied);
    assert!(!world.records()[&active[0]].active);
    assert!(!world.records()[&active[1]].active);
    assert!(
        engine.approve(held, None).await.is_err(),
        "a plan is approved once"
    );
}

#[tokio::test]
async fn attributes_the_credential_cannot_read_are_diagnosed_and_a_missing_status_stops_the_run() {
    use psync_personio_sim::{Credential, SimConfig};
    let readable = [
        "first_name",
        "last_name",
        "email",
        "status",
        "department",
        "office",
        "team",
        "supervisor",
        "hire_date",
        "termination_date",
    ];
    let world = World::with(SimConfig {
        employees: 30,
        rate_limits: false,
        credentials: vec![Credential::with_whitelist(
            "sim-client",
            "sim-secret",
            &readable,
        )],
        ..SimConfig::default()
    })
    .await;
    let plan = world.plan().await;
    let notes: Vec<&str> = plan.targets[0]
        .plan
        .notes
        .iter()
        .map(|n| n.message.as_str())
        .collect();
    assert!(
        notes
            .iter()
            .any(|n| n.contains("`position`") && n.contains("whitelist")),
        "{notes:?}"
    );
    assert!(
        !notes.iter().any(|n| n.contains("`email`")),
        "email is readable: {notes:?}"
    );

    let without_status: Vec<&str> = readable
        .iter()
        .copied()
        .filter(|a| *a != "status")
        .collect();
    let world = World::with(SimConfig {
        employees: 30,
        rate_limits: false,
        credentials: vec![Credential::with_whitelist(
            "sim-client",
            "sim-secret",
            &without_status,
        )],
        ..SimConfig::default()
    })
    .await;
    let err = aborted(&world).await;
    assert!(err.contains("`status`"), "{err}");
    assert!(world.records().is_empty(), "nothing written");
}

#[tokio::test]
async fn a_one_person_sync_keeps_the_manager_it_cannot_see() {
    let world = World::new(60).await;
    world.sync().await;
    let (id, manager) = world
        .records()
        .into_iter()
        .find_map(|(id, r)| r.manager.clone().filter(|_| r.active).map(|m| (id, m)))
        .unwrap();
    world
        .sim
        .update(
            &id,
            EmployeeUpdate {
                position: Some("Principal".into()),
                ..EmployeeUpdate::default()
            },
        )
        .unwrap();
    let engine = world.engine().await;
    let options = SyncOptions {
        employee: Some(EmployeeId::new(id.clone())),
        trigger: "test".into(),
        ..SyncOptions::default()
    };
    let outcome = engine.sync(&options, None).await.unwrap();
    let op = &outcome.targets[0].plan.operations[0];
    let psync_model::Operation::Update { changes, .. } = op else {
        panic!("{op:?}")
    };
    let fields: Vec<&str> = changes.iter().map(|c| c.field.as_str()).collect();
    assert_eq!(
        fields,
        vec!["title"],
        "only the title changes; the manager stays"
    );
    assert_eq!(world.records()[&id].manager, Some(manager));
}

#[tokio::test]
async fn approving_an_old_plan_never_disables_someone_rehired_since() {
    let mut world = World::new(50).await;
    world.policy.max_deprovision = Some(Threshold::Count(1));
    world.sync().await;
    let active: Vec<String> = world
        .records()
        .iter()
        .filter(|(_, r)| r.active)
        .map(|(id, _)| id.clone())
        .collect();
    let today = world.sim_today();
    let (a, b) = (&active[0], &active[1]);
    world.sim.terminate(a, today.yesterday().unwrap()).unwrap();
    world.sim.terminate(b, today.yesterday().unwrap()).unwrap();
    let held = world.sync().await.targets[0].run.unwrap();
    // Meanwhile A is rehired; the old plan would still disable A.
    world.sim.rehire(a, Some(today)).unwrap();
    let approved = world.engine().await.approve(held, None).await.unwrap();
    assert_eq!(
        approved.status,
        TargetStatus::Applied,
        "{:?}",
        approved.plan
    );
    let records = world.records();
    assert!(
        records[a].active,
        "rehired since the plan was held: stays active"
    );
    assert!(!records[b].active, "the approved disable of B went through");
}

#[tokio::test]
async fn a_newer_held_plan_supersedes_the_older_one() {
    let mut world = World::new(50).await;
    world.policy.max_deprovision = Some(Threshold::Count(1));
    world.sync().await;
    let active: Vec<String> = world
        .records()
        .iter()
        .filter(|(_, r)| r.active)
        .map(|(id, _)| id.clone())
        .collect();
    let today = world.sim_today();
    for id in &active[..3] {
        world.sim.terminate(id, today.yesterday().unwrap()).unwrap();
    }
    let first = world.sync().await.targets[0].run.unwrap();
    let second = world.sync().await.targets[0].run.unwrap();
    let engine = world.engine().await;
    assert!(engine.approve(first, None).await.is_err(), "superseded");
    assert!(engine.approve(second, None).await.is_ok());
}

#[tokio::test]
async fn an_attribute_emptied_for_everyone_is_held() {
    let mut world = World::new(40).await;
    world
        .mapping
        .push_str("\n[fields.title]\nfrom = \"position\"\n");
    world.sync().await;
    // The same company, but the credential may no longer read `position`.
    world.mapping = world
        .mapping
        .replace("from = \"position\"", "template = \"\"");
    let before = world.records();
    let outcome = world.sync().await;
    let report = &outcome.targets[0];
    assert_eq!(report.status, TargetStatus::Held, "{:?}", report.plan.hold);
    assert!(
        matches!(report.plan.hold, Some(psync_model::Hold::FieldEmptied { ref field, .. }) if field == "title")
    );
    assert_eq!(world.records(), before, "held: nothing emptied");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_syncs_of_one_target_never_run_at_once() {
    let world = World::new(200).await;
    let url = world.store_url.clone();
    // The first run pauses inside its apply phase, holding the target. It runs on a thread and
    // runtime of its own, so its pause blocks nothing else.
    let (entered_tx, entered_rx) = std::sync::mpsc::channel::<()>();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let entered_tx = std::sync::Mutex::new(Some(entered_tx));
    let release_rx = std::sync::Mutex::new(release_rx);
    let hook: psync_engine::StepHook = std::sync::Arc::new(move |step: &psync_engine::Step| {
        if matches!(step, psync_engine::Step::BeforeApply { .. })
            && let Some(tx) = entered_tx.lock().unwrap().take()
        {
            tx.send(()).unwrap();
            release_rx.lock().unwrap().recv().unwrap();
        }
        false
    });
    let one = world.engine().await.locked(&url).with_hook(hook);
    let first = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let options = SyncOptions {
            trigger: "test".into(),
            ..SyncOptions::default()
        };
        runtime.block_on(one.sync(&options, None)).unwrap().targets[0]
            .status
            .clone()
    });
    tokio::task::spawn_blocking(move || entered_rx.recv().unwrap())
        .await
        .unwrap();
    let two = world.engine().await.locked(&url);
    let options = SyncOptions {
        trigger: "test".into(),
        ..SyncOptions::default()
    };
    let second = two.sync(&options, None).await.unwrap().targets[0]
        .status
        .clone();
    release_tx.send(()).unwrap();
    let first = tokio::task::spawn_blocking(move || first.join().unwrap())
        .await
        .unwrap();
    assert_eq!(first, TargetStatus::Applied);
    assert!(
        matches!(&second, TargetStatus::Failed(m) if m.contains("being synced by another run")),
        "{second:?}"
    );
    let again = world.sync().await;
    assert_eq!(again.targets[0].status, TargetStatus::UpToDate);
}
