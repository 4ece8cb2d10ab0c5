//! Benchmarks of the service (ignored by default; figures go to BENCHMARKS.md):
//! webhook intake events/s and ack latency on loopback, and the end-to-end latency from a
//! simulator change to the target write with no debounce.
//!
//! `cargo test -p psync-server --release --test bench -- --ignored --nocapture`
#![allow(clippy::unwrap_used, reason = "benchmarks")]

mod common;

use common::*;
use psync_server::SyncRequest;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark"]
async fn webhook_intake_throughput_and_ack_latency() {
    let world = World::new(5).await;
    let service = world.service(world.settings()).await;
    // No worker: this measures the intake (check, journal with fsync, queue) alone.
    let running = serve(&service).await;
    let url = format!("{}/webhooks/personio/acme", running.base);
    let total = 20_000usize;
    let clients = 32usize;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .build()
        .unwrap();
    let started = Instant::now();
    let mut tasks = Vec::new();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    for _ in 0..clients {
        let client = client.clone();
        let url = url.clone();
        let next = next.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let body = envelope(
                    "person.updated",
                    &(100_000 + i % 5000).to_string(),
                    &format!("2026-11-23T10:00:00.{i:06}Z"),
                )
                .to_string();
                let t = Instant::now();
                let r = client
                    .post(&url)
                    .header("authorization", TOKEN)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 202);
                lat.push(t.elapsed());
            }
            lat
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let elapsed = started.elapsed();
    all.sort();
    println!(
        "intake: {total} events, {clients} concurrent clients, {:.2} s → {:.0} events/s; ack p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64(),
        percentile(&all, 0.5).as_secs_f64() * 1e3,
        percentile(&all, 0.99).as_secs_f64() * 1e3,
        all.last().unwrap().as_secs_f64() * 1e3,
    );
    println!("queued people: {}", service.queue().pending());
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark"]
async fn end_to_end_latency_from_a_personio_change_to_the_target_write() {
    let world = World::new(200).await;
    let service = world.service(world.settings()).await;
    let running = serve(&service).await;
    let _tasks = service.start();
    service
        .sync(SyncRequest {
            trigger: "bench".into(),
            ..SyncRequest::default()
        })
        .await
        .unwrap();
    subscribe(
        &world.sim,
        &format!("{}/webhooks/personio/acme", running.base),
        TOKEN,
    )
    .await;
    let ids: Vec<String> = world.records().into_keys().collect();
    let jsonl = world.out().join("files.jsonl");
    let mut lat = Vec::new();
    for (n, id) in ids.iter().take(30).enumerate() {
        let name = format!("Bench{n}");
        let needle = format!("bench{n}.");
        let t = Instant::now();
        world
            .sim
            .update(
                id,
                psync_personio_sim::EmployeeUpdate {
                    first_name: Some(name),
                    ..Default::default()
                },
            )
            .unwrap();
        loop {
            if std::fs::read_to_string(&jsonl).is_ok_and(|s| s.contains(&needle)) {
                break;
            }
            assert!(t.elapsed() < Duration::from_secs(60), "never arrived");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        lat.push(t.elapsed());
    }
    lat.sort();
    println!(
        "end-to-end (200 people, v2, file target, debounce 0): n={} p50 {:.1} ms, p90 {:.1} ms, max {:.1} ms",
        lat.len(),
        percentile(&lat, 0.5).as_secs_f64() * 1e3,
        percentile(&lat, 0.9).as_secs_f64() * 1e3,
        lat.last().unwrap().as_secs_f64() * 1e3,
    );
    running.stop().await;
    service.stop();
    assert!(service.drain().await);
}
