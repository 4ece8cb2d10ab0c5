//! The admin API: auth, runs, held plans, person log, targets, trigger sync; health, metrics,
//! the OpenAPI document; notifications.
#![allow(clippy::unwrap_used, reason = "tests")]

mod common;

use common::*;
use psync_planner::Threshold;
use serde_json::{Value, json};

async fn get(base: &str, path: &str, token: Option<&str>) -> (u16, Value) {
    let mut req = http().get(format!("{base}{path}"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn post(base: &str, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
    let mut req = http().post(format!("{base}{path}")).json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_admin_route_needs_the_bearer_token() {
    let world = World::new(5).await;
    let service = world.service(world.settings()).await;
    let running = serve(&service).await;
    for (method, path) in psync_server::api::ROUTES {
        if !path.starts_with("/api/") || *path == "/api/openapi.json" {
            continue;
        }
        let path = path.replace("{id}", "1").replace("{run}", "1");
        for token in [None, Some("wrong"), Some(&ADMIN[..ADMIN.len() - 1])] {
            let status = if *method == "get" {
                get(&running.base, &path, token).await.0
            } else {
                post(&running.base, &path, token, json!({})).await.0
            };
            assert_eq!(status, 401, "{method} {path} with {token:?}");
        }
    }
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_sync_triggers_person_log_and_targets() {
    let world = World::new(20).await;
    let service = world.service(world.settings()).await;
    let running = serve(&service).await;
    let b = &running.base;
    let t = Some(ADMIN);

    let (s, body) = post(b, "/api/plan", t, json!({})).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["targets"][0]["status"]["status"], "planned");
    let creates = body["targets"][0]["plan"]["operations"]
        .as_array()
        .unwrap()
        .len();
    assert!(creates > 0);
    assert_eq!(
        post(b, "/api/plan", t, json!({"target": "nope"})).await.0,
        404
    );
    let (s, body) = post(b, "/api/sync", t, json!({"wait": true})).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["targets"][0]["status"]["status"], "applied");
    assert_eq!(
        body["targets"][0]["operations"], creates,
        "the plan shown is what ran"
    );
    let (s, body) = post(b, "/api/sync", t, json!({"target": "files", "wait": true})).await;
    assert_eq!(s, 200);
    assert_eq!(body["targets"][0]["status"]["status"], "up_to_date");
    let (s, _) = post(b, "/api/sync", t, json!({"target": "nope"})).await;
    assert_eq!(s, 404);
    let (s, _) = post(b, "/api/sync", t, json!({"targett": "files"})).await;
    assert_eq!(s, 400);

    let person = world.sim.ids()[2].clone();
    world
        .sim
        .update(
            &person,
            psync_personio_sim::EmployeeUpdate {
                first_name: Some("Zed".into()),
                ..Default::default()
            },
        )
        .unwrap();
    let (s, body) = post(
        b,
        "/api/sync",
        t,
        json!({"target": "files", "employee": person, "wait": true}),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["targets"][0]["status"]["status"], "applied");

    let (s, body) = get(b, "/api/runs?limit=10", t).await;
    assert_eq!(s, 200);
    let runs = body["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 3);
    assert!(runs.iter().all(|r| r["trigger"] == "api"));
    let id = runs[0]["id"].as_i64().unwrap();
    let (s, body) = get(b, &format!("/api/runs/{id}"), t).await;
    assert_eq!(s, 200);
    assert_eq!(body["run"]["id"], id);
    assert_eq!(get(b, "/api/runs/99999", t).await.0, 404);

    let (s, body) = get(b, &format!("/api/people/{person}"), t).await;
    assert_eq!(s, 200);
    let log = body["log"].as_array().unwrap();
    assert!(log.iter().any(|e| e["action"] == "update"), "{body}");
    assert!(log.iter().any(|e| e["action"] == "create"), "{body}");
    assert_eq!(get(b, "/api/people/nobody", t).await.0, 404);

    let (s, body) = get(b, "/api/targets", t).await;
    assert_eq!(s, 200);
    assert_eq!(body["targets"][0]["name"], "files");
    assert_eq!(body["targets"][0]["health"], "ok");

    // Metrics count what happened.
    let metrics = http()
        .get(format!("{b}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("psync_runs_total{trigger=\"api\",status=\"applied\"} 2"),
        "{metrics}"
    );
    assert!(metrics.contains("psync_operations_total{target=\"files\",outcome=\"created\"}"));
    assert!(metrics.contains("psync_personio_requests_total{account=\"acme\"}"));
    assert!(metrics.contains("psync_held_plans 0"));
    assert!(
        metrics.contains("psync_sync_duration_seconds_count{target=\"files\",trigger=\"api\"} 3")
    );
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_plans_are_listed_approved_and_rejected_and_notified() {
    let mut world = World::new(30).await;
    world.policy.max_deprovision = Some(Threshold::Count(1));
    let service = world.service(world.settings()).await;
    let running = serve(&service).await;
    let b = &running.base;
    let t = Some(ADMIN);
    assert_eq!(post(b, "/api/sync", t, json!({"wait": true})).await.0, 200);

    let today = psync_personio_sim::SimConfig::default().today;
    let active: Vec<String> = world
        .records()
        .iter()
        .filter(|(_, r)| r.active)
        .map(|(id, _)| id.clone())
        .collect();
    for id in &active[..2] {
        world.sim.terminate(id, today.yesterday().unwrap()).unwrap();
    }
    let (_, body) = post(b, "/api/sync", t, json!({"wait": true})).await;
    assert_eq!(body["targets"][0]["status"]["status"], "held");
    let (s, held) = get(b, "/api/held", t).await;
    assert_eq!(s, 200);
    let run = held["held"][0]["run"].as_i64().unwrap();
    assert_eq!(held["held"][0]["plan"]["target"], "files");
    let (s, body) = get(b, &format!("/api/runs/{run}"), t).await;
    assert_eq!(s, 200);
    assert!(body["held_plan"].is_object());
    assert_eq!(
        get(b, "/api/targets", t).await.1["targets"][0]["health"],
        "held"
    );
    let notices = service.notifier().dry_sent();
    assert!(
        notices
            .iter()
            .any(|n| n.kind == psync_server::notify::NoticeKind::Held && n.run == Some(run))
    );
    let metrics = http()
        .get(format!("{b}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("psync_held_plans 1"));

    let (s, body) = post(b, &format!("/api/held/{run}/approve"), t, json!({})).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["report"]["status"]["status"], "applied");
    assert!(!world.records()[&active[0]].active);
    assert_eq!(
        post(b, &format!("/api/held/{run}/approve"), t, json!({}))
            .await
            .0,
        409
    );

    for id in &active[2..4] {
        world.sim.terminate(id, today.yesterday().unwrap()).unwrap();
    }
    let (_, body) = post(b, "/api/sync", t, json!({"wait": true})).await;
    let run = body["targets"][0]["run"].as_i64().unwrap();
    let (s, _) = post(b, &format!("/api/held/{run}/reject"), t, json!({})).await;
    assert_eq!(s, 200);
    assert!(
        world.records()[&active[2]].active,
        "rejected: nothing applied"
    );
    assert_eq!(
        get(b, "/api/held", t).await.1["held"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    assert_eq!(
        post(b, &format!("/api/held/{run}/reject"), t, json!({}))
            .await
            .0,
        409
    );
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_the_openapi_document_lists_every_route() {
    let world = World::new(3).await;
    let service = world.service(world.settings()).await;
    let running = serve(&service).await;
    assert_eq!(get(&running.base, "/healthz", None).await.0, 200);
    assert_eq!(get(&running.base, "/readyz", None).await.0, 200);
    let (s, doc) = get(&running.base, "/api/openapi.json", None).await;
    assert_eq!(s, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    for (method, path) in psync_server::api::ROUTES {
        assert!(
            paths.get(*path).and_then(|p| p.get(*method)).is_some(),
            "{method} {path} is not documented"
        );
    }
    let documented: usize = paths.values().map(|p| p.as_object().unwrap().len()).sum();
    assert_eq!(
        documented,
        psync_server::api::ROUTES.len(),
        "nothing documented that is not served"
    );
    service.stop();
    assert_eq!(get(&running.base, "/readyz", None).await.0, 503);
    running.stop().await;
}
