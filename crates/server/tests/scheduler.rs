//! The scheduler on an injected clock: DST in Europe/Berlin, one catch-up run after downtime,
//! no overlapping syncs of a target.
#![allow(clippy::unwrap_used, reason = "tests")]

mod common;

use common::*;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use psync_server::SyncRequest;
use psync_server::cron::Cron;
use psync_server::schedule::{Job, Scheduler};
use psync_store::StateStore;
use std::collections::BTreeMap;
use std::time::Duration;

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn daily(target: &str) -> Job {
    Job {
        target: target.into(),
        cron: Some(Cron::parse("0 2 * * *").unwrap()),
        time_zone: TimeZone::get("Europe/Berlin").unwrap(),
        interval: None,
    }
}

/// Steps a clock minute by minute over `from..to` and records when the job fires.
fn fires(scheduler: &Scheduler, from: &str, to: &str) -> Vec<Timestamp> {
    let mut now = ts(from);
    let end = ts(to);
    let mut out = Vec::new();
    while now <= end {
        if !scheduler.take_due(now, &|_| false).is_empty() {
            out.push(now);
        }
        now = now.checked_add(jiff::SignedDuration::from_mins(1)).unwrap();
    }
    out
}

#[test]
fn daily_at_two_runs_once_per_day_across_both_berlin_dst_switches() {
    // Spring forward (29 March 2026: 02:00 does not exist) and fall back (25 October 2026:
    // 02:00 happens twice): every day fires exactly once.
    let s = Scheduler::new(
        vec![daily("t")],
        &BTreeMap::new(),
        ts("2026-03-27T12:00:00Z"),
    );
    assert_eq!(
        fires(&s, "2026-03-27T12:00:00Z", "2026-03-31T12:00:00Z"),
        vec![
            ts("2026-03-28T01:00:00Z"), // 02:00 CET
            ts("2026-03-29T01:00:00Z"), // the gap: 03:00 CEST
            ts("2026-03-30T00:00:00Z"), // 02:00 CEST
            ts("2026-03-31T00:00:00Z"),
        ]
    );
    let s = Scheduler::new(
        vec![daily("t")],
        &BTreeMap::new(),
        ts("2026-10-23T12:00:00Z"),
    );
    assert_eq!(
        fires(&s, "2026-10-23T12:00:00Z", "2026-10-27T12:00:00Z"),
        vec![
            ts("2026-10-24T00:00:00Z"), // 02:00 CEST
            ts("2026-10-25T00:00:00Z"), // the first 02:00 only
            ts("2026-10-26T01:00:00Z"), // 02:00 CET
            ts("2026-10-27T01:00:00Z"),
        ]
    );
}

#[test]
fn a_missed_run_after_downtime_runs_once_and_a_busy_target_is_not_started() {
    let mut last = BTreeMap::new();
    last.insert("t".to_string(), ts("2026-11-16T01:00:00Z"));
    // Down for a week: seven runs were missed.
    let s = Scheduler::new(vec![daily("t")], &last, ts("2026-11-23T09:00:00Z"));
    let now = ts("2026-11-23T09:00:00Z");
    assert_eq!(s.take_due(now, &|_| false), vec!["t".to_string()]);
    assert!(s.take_due(now, &|_| false).is_empty());
    assert!(
        s.take_due(ts("2026-11-23T23:59:00Z"), &|_| false)
            .is_empty()
    );
    assert_eq!(s.next_runs()["t"], Some(ts("2026-11-24T01:00:00Z")));

    // Due while a sync of the target runs: it waits, and then runs once.
    let later = ts("2026-11-24T01:00:00Z");
    assert!(s.take_due(later, &|t| t == "t").is_empty());
    assert!(
        s.take_due(ts("2026-11-24T01:05:00Z"), &|t| t == "t")
            .is_empty()
    );
    assert_eq!(
        s.take_due(ts("2026-11-24T01:10:00Z"), &|_| false),
        vec!["t".to_string()]
    );
    assert!(
        s.take_due(ts("2026-11-24T01:11:00Z"), &|_| false)
            .is_empty()
    );
}

#[test]
fn an_interval_runs_between_the_cron_times() {
    let job = Job {
        interval: Some(Duration::from_secs(6 * 3600)),
        ..daily("t")
    };
    let s = Scheduler::new(vec![job], &BTreeMap::new(), ts("2026-11-23T01:30:00Z"));
    let f = fires(&s, "2026-11-23T01:30:00Z", "2026-11-24T01:30:00Z");
    assert_eq!(
        f,
        vec![
            ts("2026-11-23T07:30:00Z"),
            ts("2026-11-23T13:30:00Z"),
            ts("2026-11-23T19:30:00Z"),
            ts("2026-11-24T01:00:00Z"),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_catches_up_once_after_a_restart_and_never_overlaps_a_target() {
    let world = World::new(10).await;
    let mut settings = world.settings();
    settings.jobs = vec![daily("files")];
    // A scheduled run on Monday at 02:00 Berlin.
    world.clock.set(ts("2026-11-16T01:00:00Z"));
    let first = world.service(settings.clone()).await;
    first
        .sync(SyncRequest {
            trigger: "schedule".into(),
            ..SyncRequest::default()
        })
        .await
        .unwrap();
    drop(first);

    // The service was down until Monday a week later: one run, not seven.
    world.clock.set(ts("2026-11-23T09:00:00Z"));
    let service = world.service(settings).await;
    assert_eq!(service.run_due(), vec!["files".to_string()]);
    assert!(service.run_due().is_empty());
    let store = service.engine().store().clone();
    eventually("the catch-up run to finish", || {
        let store = store.clone();
        async move {
            let runs: Vec<_> = store
                .runs(10)
                .await
                .unwrap()
                .into_iter()
                .filter(|r| r.trigger == "schedule")
                .collect();
            runs.len() == 2 && runs.iter().all(|r| r.finished_at.is_some())
        }
    })
    .await;
    let scheduled = store
        .runs(100)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.trigger == "schedule")
        .count();
    assert_eq!(scheduled, 2);

    // While a sync of the target runs, the scheduler starts nothing for it.
    world.clock.set(ts("2026-11-24T01:00:00Z"));
    let blocker = service.clone();
    let guard = service.hold_target("files").await.unwrap();
    assert!(service.busy("files"));
    assert!(service.run_due().is_empty(), "no overlap");
    drop(guard);
    assert_eq!(blocker.run_due(), vec!["files".to_string()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_takes_no_new_work_and_waits_for_the_running_sync() {
    let world = World::new(5).await;
    let service = world.service(world.settings()).await;
    // A sync is running (its lock is held) and another waits for the target.
    let running = service.hold_target("files").await.unwrap();
    let waiting = tokio::spawn({
        let service = service.clone();
        async move {
            service
                .sync(SyncRequest {
                    trigger: "api".into(),
                    ..SyncRequest::default()
                })
                .await
        }
    });
    service.stop();
    assert!(service.run_due().is_empty());
    let drained = tokio::spawn({
        let service = service.clone();
        async move { service.drain().await }
    });
    drop(running);
    assert!(
        drained.await.unwrap(),
        "drain ends once the running sync ended"
    );
    let refused = waiting.await.unwrap();
    assert!(
        refused.is_err(),
        "the waiting sync did not start after shutdown began"
    );
    assert!(service.engine().store().runs(10).await.unwrap().is_empty());
}
