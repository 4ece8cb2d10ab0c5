//! Crash tests: a sync is killed at every step boundary (before and after each target call,
//! before and after state is written), then run again. Nothing may be duplicated or lost.
#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

mod common;

use common::World;
use psync_engine::{EngineError, Step, StepHook, SyncOptions};
use psync_model::TargetRecord;
use psync_personio_sim::{EmployeeUpdate, HireSpec, MoveSpec};
use psync_store::StateStore;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

const EMPLOYEES: usize = 24;

/// The changes made in Personio between the first and the second sync.
fn change_company(world: &World) {
    let ids = world.sim.ids();
    world.sim.hire(HireSpec {
        first_name: "Nia".into(),
        last_name: "Okafor".into(),
        office: Some("Berlin".into()),
        ..HireSpec::default()
    });
    world
        .sim
        .move_employee(
            &ids[1],
            MoveSpec {
                office: Some("Zurich".into()),
                ..MoveSpec::default()
            },
        )
        .unwrap();
    world
        .sim
        .update(
            &ids[2],
            EmployeeUpdate {
                position: Some("Director".into()),
                ..EmployeeUpdate::default()
            },
        )
        .unwrap();
    let today = psync_personio_sim::SimConfig::default().today;
    world
        .sim
        .terminate(&ids[3], today.yesterday().unwrap())
        .unwrap();
}

fn options() -> SyncOptions {
    SyncOptions {
        trigger: "test".into(),
        ..SyncOptions::default()
    }
}

/// Every step a clean run passes, in order.
fn recorder() -> (StepHook, Arc<Mutex<Vec<Step>>>) {
    let steps = Arc::new(Mutex::new(Vec::new()));
    let log = steps.clone();
    (
        Arc::new(move |step: &Step| {
            log.lock().unwrap().push(step.clone());
            false
        }),
        steps,
    )
}

/// Crashes at the `n`-th step (0-based).
fn crash_at(n: usize) -> StepHook {
    let seen = Arc::new(Mutex::new(0usize));
    Arc::new(move |_: &Step| {
        let mut seen = seen.lock().unwrap();
        *seen += 1;
        *seen == n + 1
    })
}

async fn final_state(world: &World) -> (BTreeMap<String, TargetRecord>, usize) {
    let engine = world.engine().await;
    let applied = engine.store().applied("files").await.unwrap();
    // Avatar URLs carry each simulator's port; everything else must match exactly.
    let mut records = world.records();
    for record in records.values_mut() {
        record.attributes.remove("avatar_url");
    }
    (records, applied.len())
}

/// Runs `phase` (0: first sync, 1: the sync after the changes) with a crash at every step.
async fn crash_every_step(phase: usize) -> (usize, usize) {
    // The clean reference.
    let reference = World::new(EMPLOYEES).await;
    if phase == 1 {
        reference.sync().await;
        change_company(&reference);
    }
    let (hook, steps) = recorder();
    reference
        .engine_with_hook(hook)
        .await
        .sync(&options(), None)
        .await
        .unwrap();
    let steps = steps.lock().unwrap().clone();
    let (want, _) = final_state(&reference).await;
    assert!(steps.len() > 5, "{steps:?}");

    let mut survived = 0;
    for (n, step) in steps.iter().enumerate() {
        let world = World::new(EMPLOYEES).await;
        if phase == 1 {
            world.sync().await;
            change_company(&world);
        }
        let crashed = world
            .engine_with_hook(crash_at(n))
            .await
            .sync(&options(), None)
            .await;
        assert!(
            matches!(crashed, Err(EngineError::Injected(_))),
            "step {n} ({}) did not crash",
            step
        );
        // Start again, as a restarted process would.
        world.sync().await;
        let (got, applied) = final_state(&world).await;
        assert_eq!(
            got.len(),
            want.len(),
            "crash at step {n} ({}): rows differ",
            step
        );
        assert_eq!(
            got, want,
            "crash at step {n} ({}): final state differs",
            step
        );
        assert_eq!(
            applied,
            want.len(),
            "crash at step {n}: state and target disagree"
        );
        // And a further run has nothing left to do.
        let again = world.plan().await;
        assert!(
            again.targets[0].plan.is_empty(),
            "crash at step {n}: a change was lost: {:?}",
            again.targets[0].plan.operations
        );
        survived += 1;
    }
    (survived, steps.len())
}

#[tokio::test]
async fn crash_at_every_step_of_a_first_sync() {
    let (survived, total) = crash_every_step(0).await;
    println!("first sync: crash points survived {survived}/{total}, duplicates 0, lost changes 0");
    assert_eq!(survived, total);
}

#[tokio::test]
async fn crash_at_every_step_of_a_sync_with_changes() {
    let (survived, total) = crash_every_step(1).await;
    println!(
        "sync with changes: crash points survived {survived}/{total}, duplicates 0, lost changes 0"
    );
    assert_eq!(survived, total);
}
