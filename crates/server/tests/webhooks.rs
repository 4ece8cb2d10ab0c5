//! Webhook intake against the simulator's real deliveries, replays, coalescing and abuse.
#![allow(clippy::unwrap_used, reason = "tests")]

mod common;

use common::*;
use psync_personio_sim::HireSpec;
use psync_server::SyncRequest;
use psync_store::StateStore;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn post(base: &str, account: &str, token: Option<&str>, body: String) -> reqwest::Response {
    let mut req = http()
        .post(format!("{base}/webhooks/personio/{account}"))
        .header("content-type", "application/json")
        .body(body);
    if let Some(t) = token {
        req = req.header("authorization", t);
    }
    req.send().await.unwrap()
}

fn username(world: &World, id: &str) -> String {
    let record = serde_json::to_value(&world.records()[id]).unwrap();
    let v = &record["attributes"]["username"];
    v.as_str()
        .or_else(|| v["value"].as_str())
        .unwrap_or_default()
        .to_string()
}

async fn webhook_runs(world_service: &psync_server::Service) -> usize {
    world_service
        .engine()
        .store()
        .runs(1000)
        .await
        .unwrap()
        .iter()
        .filter(|r| r.trigger == "webhook")
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hire_in_personio_reaches_the_target_through_its_webhook_without_a_full_sync() {
    let world = World::new(30).await;
    let service = world.service(world.settings()).await;
    let running = serve(&service).await;
    let _tasks = service.start();
    service
        .sync(SyncRequest {
            trigger: "test".into(),
            ..SyncRequest::default()
        })
        .await
        .unwrap();
    let before = world.records().len();
    let full_runs = service.engine().store().runs(100).await.unwrap().len();
    subscribe(
        &world.sim,
        &format!("{}/webhooks/personio/acme", running.base),
        TOKEN,
    )
    .await;

    let id = world.sim.hire(HireSpec {
        first_name: "Wanda".into(),
        last_name: "Webhook".into(),
        ..HireSpec::default()
    });
    eventually("the hire in the file target", || async {
        world.records().contains_key(&id)
    })
    .await;
    assert_eq!(world.records().len(), before + 1);
    assert_eq!(username(&world, &id), "wanda.webhook");

    // Only one-person runs were added: no full sync.
    let runs = service.engine().store().runs(100).await.unwrap();
    let added: Vec<_> = runs.iter().take(runs.len() - full_runs).collect();
    assert!(!added.is_empty());
    assert!(added.iter().all(|r| r.trigger == "webhook"), "{added:?}");
    let accepted = service
        .metrics()
        .counter("psync_webhook_events_total", &[("result", "accepted")]);
    assert!(accepted >= 1);

    // A change arrives the same way; a termination is not a deprovisioning by webhook.
    world
        .sim
        .update(
            &id,
            psync_personio_sim::EmployeeUpdate {
                last_name: Some("Hooked".into()),
                ..Default::default()
            },
        )
        .unwrap();
    eventually("the update in the file target", || async {
        username(&world, &id).contains("hooked")
    })
    .await;
    running.stop().await;
    service.stop();
    assert!(service.drain().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replays_are_not_processed_twice_and_a_burst_for_one_person_is_one_sync() {
    let world = World::new(20).await;
    let service = world.service(world.settings()).await;
    let running = serve(&service).await;
    service
        .sync(SyncRequest {
            trigger: "test".into(),
            ..SyncRequest::default()
        })
        .await
        .unwrap();
    let person = world.sim.ids()[3].clone();

    // No worker runs: the queue is drained by hand, so the coalescing is deterministic.
    let body = envelope("person.updated", &person, "2026-11-23T10:00:00Z").to_string();
    let first = post(&running.base, "acme", Some(TOKEN), body.clone()).await;
    assert_eq!(first.status(), 202);
    let replay = post(&running.base, "acme", Some(TOKEN), body.clone()).await;
    assert_eq!(replay.status(), 200);
    assert_eq!(
        replay.json::<serde_json::Value>().await.unwrap()["status"],
        "duplicate"
    );
    for i in 1..=9 {
        let b = envelope(
            if i % 2 == 0 {
                "person.updated"
            } else {
                "employment.updated"
            },
            &person,
            &format!("2026-11-23T10:00:{i:02}Z"),
        );
        let r = post(&running.base, "acme", Some(TOKEN), b.to_string()).await;
        assert_eq!(r.status(), 202);
    }
    let (handled, _) = service.process_webhooks().await;
    assert_eq!(handled, 1, "ten events for one person: one sync");
    assert_eq!(webhook_runs(&service).await, 1);

    // A replay after processing is still refused, also after a restart (the journal).
    let again = post(&running.base, "acme", Some(TOKEN), body.clone()).await;
    assert_eq!(again.status(), 200);
    running.stop().await;
    let restarted = world.service(world.settings()).await;
    assert_eq!(
        restarted.queue().pending(),
        0,
        "processed events are not replayed"
    );
    let running = serve(&restarted).await;
    let after = post(&running.base, "acme", Some(TOKEN), body).await;
    assert_eq!(
        after.json::<serde_json::Value>().await.unwrap()["status"],
        "duplicate"
    );
    let (handled, _) = restarted.process_webhooks().await;
    assert_eq!(handled, 0);
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_accepted_event_survives_a_restart_before_it_was_processed() {
    let world = World::new(10).await;
    let service = world.service(world.settings()).await;
    let running = serve(&service).await;
    let person = world.sim.ids()[0].clone();
    let r = post(
        &running.base,
        "acme",
        Some(TOKEN),
        envelope("person.updated", &person, "2026-11-23T11:00:00Z").to_string(),
    )
    .await;
    assert_eq!(r.status(), 202);
    running.stop().await;
    drop(service);
    let restarted = world.service(world.settings()).await;
    assert_eq!(restarted.queue().pending(), 1);
    let (handled, _) = restarted.process_webhooks().await;
    assert_eq!(handled, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abuse_is_rejected_and_the_service_stays_responsive() {
    let world = World::new(5).await;
    let service = world.service(world.settings()).await;
    let running = serve(&service).await;
    let good = || envelope("person.updated", "1", "2026-11-23T12:00:00Z").to_string();

    // A connection that sends part of its headers and stalls.
    let mut stalled_headers = tokio::net::TcpStream::connect(running.addr).await.unwrap();
    stalled_headers
        .write_all(b"POST /webhooks/personio/acme HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // One that sends its headers and part of the body, then stalls.
    let mut stalled_body = tokio::net::TcpStream::connect(running.addr).await.unwrap();
    stalled_body
        .write_all(
            format!(
                "POST /webhooks/personio/acme HTTP/1.1\r\nHost: x\r\nAuthorization: {TOKEN}\r\n\
                 Content-Type: application/json\r\nContent-Length: 500\r\n\r\n{{\"event"
            )
            .as_bytes(),
        )
        .await
        .unwrap();

    // Meanwhile others are served.
    assert_eq!(
        http()
            .get(format!("{}/healthz", running.base))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    assert_eq!(
        post(&running.base, "acme", None, good()).await.status(),
        401
    );
    assert_eq!(
        post(&running.base, "acme", Some("Bearer wrong"), good())
            .await
            .status(),
        401
    );
    assert_eq!(
        post(&running.base, "acme", Some(OTHER_TOKEN), good())
            .await
            .status(),
        401,
        "another account's token"
    );
    assert_eq!(
        post(
            &running.base,
            "acme",
            Some(&TOKEN[..TOKEN.len() - 1]),
            good()
        )
        .await
        .status(),
        401,
        "a prefix"
    );
    assert_eq!(
        post(&running.base, "nobody", Some(TOKEN), good())
            .await
            .status(),
        404
    );
    let huge = format!("{{\"pad\":\"{}\"}}", "x".repeat(64 * 1024));
    assert_eq!(
        post(&running.base, "acme", Some(TOKEN), huge)
            .await
            .status(),
        413
    );
    assert_eq!(
        post(&running.base, "acme", Some(TOKEN), "{not json".into())
            .await
            .status(),
        400
    );
    assert_eq!(
        post(
            &running.base,
            "acme",
            Some(TOKEN),
            "{\"event_name\":1}".into()
        )
        .await
        .status(),
        400
    );
    let mut foreign = envelope("person.updated", "1", "2026-11-23T12:00:00Z");
    foreign["company_id"] = serde_json::json!("9999");
    assert_eq!(
        post(&running.base, "acme", Some(TOKEN), foreign.to_string())
            .await
            .status(),
        403
    );
    assert_eq!(service.queue().pending(), 0, "nothing rejected was queued");
    // A good delivery still goes through while the stalled connections hang.
    assert_eq!(
        post(&running.base, "acme", Some(TOKEN), good())
            .await
            .status(),
        202
    );

    // The stalled connections are cut off by the server: 408 or a closed connection.
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        stalled_headers.read_to_end(&mut buf),
    )
    .await
    .expect("the server must close a connection whose headers stall");
    let mut buf2 = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        stalled_body.read_to_end(&mut buf2),
    )
    .await
    .expect("the server must close a connection whose body stalls");
    assert!(
        String::from_utf8_lossy(&buf2).starts_with("HTTP/1.1 408"),
        "{}",
        String::from_utf8_lossy(&buf2)
    );
    let m = service.metrics();
    assert_eq!(
        m.counter("psync_webhook_events_total", &[("result", "unauthorized")]),
        4
    );
    assert_eq!(
        m.counter("psync_webhook_events_total", &[("result", "too_large")]),
        1
    );
    assert_eq!(
        m.counter("psync_webhook_events_total", &[("result", "malformed")]),
        2
    );
    assert_eq!(
        m.counter("psync_webhook_events_total", &[("result", "timeout")]),
        1
    );
    assert_eq!(
        http()
            .get(format!("{}/readyz", running.base))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    running.stop().await;
}
