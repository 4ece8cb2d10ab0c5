//! Rate limits, faults, webhooks, determinism, scale and spec conformance over real HTTP.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] fns: a panic is a failed test"
)]

mod common;

use common::*;
use psync_personio_sim::{Faults, HireSpec, SimApi, SimConfig};
use serde_json::Value;
use std::time::Duration;

#[tokio::test]
async fn v1_rate_limit_answers_429_with_retry_after_and_can_be_switched_off() {
    let sim = sim(SimConfig {
        employees: 5,
        ..SimConfig::default()
    })
    .await;
    let base = sim.base_url();
    let t = v1_token(&sim, "sim-client", "sim-secret").await;
    let mut throttled = None;
    for _ in 0..40 {
        let r = get(&format!("{base}/v1/company/employees?limit=1"), &t).await;
        if r.status() == 429 {
            throttled = Some(r);
            break;
        }
    }
    let r = throttled.expect("burst of 15 exceeded");
    assert_eq!(r.headers()["retry-after"], "1");
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v,
        serde_json::json!({"success": false, "error": {"code": 429, "message": "Too Many Requests"}})
    );
    assert!(sim.counters().status_429 >= 1);

    let t2 = v2_token(&sim, "sim-client", "sim-secret").await;
    let r = get(&format!("{base}/v2/persons"), &t2).await;
    assert_eq!(r.headers()["x-ratelimit-burst-capacity"], "30");
    assert_eq!(r.headers()["x-ratelimit-requested-tokens"], "1");
    assert!(r.headers().contains_key("x-ratelimit-remaining"));
    let mut got429 = false;
    for _ in 0..40 {
        let r = get(&format!("{base}/v2/workplaces"), &t2).await;
        if r.status() == 429 {
            assert!(r.headers().get("retry-after").is_none());
            assert!(r.headers().contains_key("x-ratelimit-replenish-rate"));
            got429 = true;
            break;
        }
    }
    assert!(got429);
    sim.shutdown().await;

    let sim = sim_quiet().await;
    let t = v1_token(&sim, "sim-client", "sim-secret").await;
    for _ in 0..40 {
        let r = get(
            &format!("{}/v1/company/employees?limit=1", sim.base_url()),
            &t,
        )
        .await;
        assert_eq!(r.status(), 200);
    }
    sim.shutdown().await;
}

async fn sim_quiet() -> psync_personio_sim::SimHandle {
    sim(quiet(30)).await
}

#[tokio::test]
async fn faults_do_what_they_say() {
    let sim = sim_quiet().await;
    let base = sim.base_url();
    let t = v1_token(&sim, "sim-client", "sim-secret").await;
    let list = format!("{base}/v1/company/employees?limit=10");

    sim.set_faults(Faults {
        storm_429: 2,
        ..Faults::default()
    });
    assert_eq!(get(&list, &t).await.status(), 429);
    assert_eq!(get(&list, &t).await.status(), 429);
    assert_eq!(get(&list, &t).await.status(), 200);

    sim.set_faults(Faults {
        error_rate: 0.5,
        ..Faults::default()
    });
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(get(&list, &t).await.status().as_u16());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s >= 500).count(),
        3,
        "{statuses:?}"
    );
    assert!(sim.counters().status_5xx >= 3);

    sim.set_faults(Faults {
        error_rate: 1.0,
        html_errors: true,
        ..Faults::default()
    });
    let r = get(&list, &t).await;
    assert!(r.status().is_server_error());
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(r.text().await.unwrap().contains("<html>"));

    sim.set_faults(Faults {
        empty_list: true,
        ..Faults::default()
    });
    let (_, v) = get_json(&list, &t).await;
    assert_eq!(v["metadata"]["total_elements"], 0);
    assert_eq!(v["data"], serde_json::json!([]));

    sim.set_faults(Faults {
        lying_total_pages: true,
        ..Faults::default()
    });
    let (_, v) = get_json(&list, &t).await;
    assert_eq!(v["metadata"]["total_pages"], 5);

    sim.set_faults(Faults {
        drifting_total: true,
        ..Faults::default()
    });
    let (_, a) = get_json(&list, &t).await;
    let (_, b) = get_json(&format!("{list}&offset=10"), &t).await;
    assert_ne!(
        a["metadata"]["total_elements"],
        b["metadata"]["total_elements"]
    );

    sim.set_faults(Faults {
        invalid_json: true,
        ..Faults::default()
    });
    let r = get(&list, &t).await;
    assert_eq!(r.status(), 200);
    assert!(serde_json::from_str::<Value>(&r.text().await.unwrap()).is_err());

    sim.set_faults(Faults {
        success_false: true,
        ..Faults::default()
    });
    let (s, v) = get_json(&list, &t).await;
    assert_eq!(s, 200);
    assert_eq!(v["success"], false);

    let victim = sim.ids()[2].clone();
    sim.set_faults(Faults {
        malformed_record: Some(victim.clone()),
        ..Faults::default()
    });
    let (_, v) = get_json(&list, &t).await;
    assert_eq!(v["data"][2]["attributes"]["id"]["value"], "x");
    assert!(v["data"][2]["attributes"]["first_name"]["value"].is_object());
    assert!(
        sim.expected_employees(SimApi::V1)
            .iter()
            .all(|e| e.id.as_str() != victim)
    );

    sim.set_faults(Faults {
        shift_during_paging: true,
        ..Faults::default()
    });
    let before = sim.len();
    let (_, first) = get_json(&list, &t).await;
    assert_eq!(sim.len(), before + 1);
    let (_, second) = get_json(&format!("{list}&offset=10"), &t).await;
    assert_eq!(
        first["data"][9]["attributes"]["id"], second["data"][0]["attributes"]["id"],
        "the shift repeats a record"
    );
    get_json(&list, &t).await;
    assert_eq!(sim.len(), before + 1, "one shift per set_faults");

    sim.set_faults(Faults {
        token_ttl: Some(Duration::from_millis(300)),
        ..Faults::default()
    });
    let t = v1_token(&sim, "sim-client", "sim-secret").await;
    assert_eq!(get(&list, &t).await.status(), 200);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(get(&list, &t).await.status(), 403);
    let t2 = v1_token(&sim, "sim-client", "sim-secret").await;
    assert_ne!(t, t2);
    assert_eq!(get(&list, &t2).await.status(), 200);

    sim.set_faults(Faults {
        extra_latency: Duration::from_millis(150),
        ..Faults::default()
    });
    let started = std::time::Instant::now();
    get(&list, &t2).await;
    assert!(started.elapsed() >= Duration::from_millis(150));

    // Faults over the admin API, durations in milliseconds.
    let r = http()
        .put(format!("{base}/__sim/faults"))
        .json(&serde_json::json!({"storm_429": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(get(&list, &t2).await.status(), 429);
    assert_eq!(get(&list, &t2).await.status(), 200);
    sim.shutdown().await;
}

#[tokio::test]
async fn mutations_emit_webhooks_to_enabled_subscriptions() {
    use axum::routing::post;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(Option<String>, Value)>();
    let app = axum::Router::new().route(
        "/hook",
        post(
            move |headers: axum::http::HeaderMap, body: axum::Json<Value>| {
                let tx = tx.clone();
                async move {
                    let auth = headers
                        .get("authorization")
                        .map(|h| h.to_str().unwrap().to_string());
                    tx.send((auth, body.0)).unwrap();
                    "ok"
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook_url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let sim = sim_quiet().await;
    let base = sim.base_url();
    let t = v2_token(&sim, "sim-client", "sim-secret").await;
    let r = http()
        .post(format!("{base}/v2/webhooks"))
        .bearer_auth(&t)
        .json(&serde_json::json!({
            "url": hook_url, "description": "test", "auth_type": "TOKEN", "token": "Bearer s3cret",
            "enabled_events": ["person.created", "person.updated", "employment.updated"]
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let hook: Value = r.json().await.unwrap();
    assert_eq!(hook["status"], "DISABLED");
    let hook_id = hook["id"].as_str().unwrap();
    // Disabled: nothing is sent.
    let id = sim.hire(HireSpec {
        first_name: "Łukasz".into(),
        last_name: "Wiśniewski".into(),
        ..HireSpec::default()
    });
    assert!(
        tokio::time::timeout(Duration::from_millis(300), rx.recv())
            .await
            .is_err()
    );

    let r = http()
        .patch(format!("{base}/v2/webhooks/{hook_id}"))
        .bearer_auth(&t)
        .json(&serde_json::json!({"status": "ENABLED"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = http()
        .post(format!("{base}/__sim/employees/{id}/email"))
        .json(&serde_json::json!({"email": "lukasz@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (auth, body) = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(auth.as_deref(), Some("Bearer s3cret"));
    assert_eq!(body["event_name"], "person.updated");
    assert_eq!(body["company_id"], "4711");
    assert_eq!(body["payload"]["id"], id.as_str());
    assert!(body["occurred_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(body["meta"], serde_json::json!({}));

    // https is required except on loopback.
    let r = http()
        .post(format!("{base}/v2/webhooks"))
        .bearer_auth(&t)
        .json(&serde_json::json!({"url": "http://example.com/x", "enabled_events": ["person.created"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let r = http()
        .delete(format!("{base}/v2/webhooks/{hook_id}"))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    sim.shutdown().await;
}

#[tokio::test]
async fn same_seed_same_data() {
    let a = sim(quiet(300)).await;
    let b = sim(quiet(300)).await;
    let c = sim(SimConfig {
        seed: 7,
        ..quiet(300)
    })
    .await;
    let strip = |mut v: Vec<psync_model::Employee>| {
        for e in &mut v {
            e.avatar_url = None; // contains the port
        }
        v
    };
    let ea = strip(a.expected_employees(SimApi::V2));
    assert_eq!(ea, strip(b.expected_employees(SimApi::V2)));
    assert_ne!(ea, strip(c.expected_employees(SimApi::V2)));
    // The wire is identical too (apart from the port in URLs).
    let ta = v1_token(&a, "sim-client", "sim-secret").await;
    let tb = v1_token(&b, "sim-client", "sim-secret").await;
    let pa = get(
        &format!("{}/v1/company/employees?limit=100", a.base_url()),
        &ta,
    )
    .await
    .text()
    .await
    .unwrap();
    let pb = get(
        &format!("{}/v1/company/employees?limit=100", b.base_url()),
        &tb,
    )
    .await
    .text()
    .await
    .unwrap();
    assert_eq!(pa.replace(&a.base_url(), ""), pb.replace(&b.base_url(), ""));
    for s in [a, b, c] {
        s.shutdown().await;
    }
}

#[tokio::test]
async fn generates_and_serves_100k() {
    let sim = sim(quiet(100_000)).await;
    assert_eq!(sim.len(), 100_000);
    let t = v1_token(&sim, "sim-client", "sim-secret").await;
    let (s, v) = get_json(
        &format!(
            "{}/v1/company/employees?limit=100&offset=99900",
            sim.base_url()
        ),
        &t,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(v["data"].as_array().unwrap().len(), 100);
    assert_eq!(v["metadata"]["total_pages"], 1000);
    sim.shutdown().await;
}

/// Structural check of v1 responses against the official spec's `EmployeesResponse` /
/// `EmployeeResponse` shapes (hand-written; the spec file is consulted for the type enum when present).
#[tokio::test]
async fn v1_responses_match_the_official_spec_shape() {
    let spec_path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/personio-openapi/v1/personio-personnel-data-api-oa3.yaml");
    let mut type_enum: Vec<String> = [
        "standard",
        "date",
        "integer",
        "decimal",
        "list",
        "link",
        "tags",
        "multiline",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    match std::fs::read_to_string(&spec_path) {
        Ok(spec) => {
            assert!(
                spec.contains("EmployeesResponse:"),
                "the spec defines EmployeesResponse"
            );
            // Read TypeEnum's values from the spec.
            if let Some(pos) = spec.find("    TypeEnum:") {
                let block = &spec[pos..];
                let values: Vec<String> = block
                    .lines()
                    .skip(1)
                    .skip_while(|l| !l.trim_start().starts_with("enum:"))
                    .skip(1)
                    .take_while(|l| l.trim_start().starts_with("- "))
                    .map(|l| l.trim_start().trim_start_matches("- ").trim().to_string())
                    .collect();
                if !values.is_empty() {
                    type_enum = values;
                }
            }
        }
        Err(_) => println!(
            "official v1 spec not found at {} — checking against the built-in shape only",
            spec_path.display()
        ),
    }
    let sim = sim(quiet(120)).await;
    let t = v1_token(&sim, "sim-client", "sim-secret").await;
    let (_, v) = get_json(
        &format!("{}/v1/company/employees?limit=100", sim.base_url()),
        &t,
    )
    .await;
    assert_eq!(v["success"], true);
    for k in ["total_elements", "current_page", "total_pages"] {
        assert!(v["metadata"][k].is_i64(), "metadata.{k}");
    }
    assert!(v["offset"].is_i64() && v["limit"].is_i64());
    let data = v["data"].as_array().unwrap();
    assert_eq!(data.len(), 100);
    for e in data {
        check_employee(e, &type_enum);
    }
    let id = sim.ids()[0].clone();
    let (_, one) = get_json(&format!("{}/v1/company/employees/{id}", sim.base_url()), &t).await;
    assert_eq!(one["success"], true);
    check_employee(&one["data"], &type_enum);
    sim.shutdown().await;
}

fn check_employee(e: &Value, type_enum: &[String]) {
    assert_eq!(e["type"], "Employee");
    let attrs = e["attributes"].as_object().expect("attributes object");
    assert!(attrs["id"]["value"].is_u64());
    for (key, a) in attrs {
        let a = a
            .as_object()
            .unwrap_or_else(|| panic!("{key} is a labelled object"));
        assert!(a["label"].is_string(), "{key}.label");
        assert!(a.contains_key("value"), "{key}.value");
        let ty = a["type"].as_str().unwrap_or_else(|| panic!("{key}.type"));
        assert!(type_enum.iter().any(|t| t == ty), "{key}.type {ty}");
        assert!(
            a["universal_id"].is_string() || a["universal_id"].is_null(),
            "{key}.universal_id"
        );
    }
    for key in ["department", "office", "subcompany", "team"] {
        let v = &attrs[key]["value"];
        if v.is_object() {
            assert!(
                v["type"].is_string() && v["attributes"]["name"].is_string(),
                "{key}"
            );
            assert!(v["attributes"]["id"].is_u64());
        } else {
            assert!(
                v == "" || v == &serde_json::json!([]) || v.is_null(),
                "{key}: {v}"
            );
        }
    }
    let cc = &attrs["cost_centers"]["value"];
    for c in cc.as_array().expect("cost_centers list") {
        assert_eq!(c["type"], "CostCenter");
        assert!(c["attributes"]["percentage"].is_number());
    }
    let sup = &attrs["supervisor"]["value"];
    if sup.is_object() {
        assert_eq!(sup["type"], "Employee");
        assert!(sup["attributes"]["id"]["value"].is_u64());
    }
    assert!(attrs["weekly_working_hours"]["value"].is_string());
}
