//! v1 over real HTTP: auth, envelopes, paging, projection, whitelisting, updated_since.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] fns: a panic is a failed test"
)]

mod common;

use common::*;
use psync_personio_sim::{Credential, EmployeeUpdate, SimConfig};
use serde_json::Value;

#[tokio::test]
async fn auth_accepts_json_and_form_and_echoes_a_stable_token() {
    let sim = sim(quiet(5)).await;
    let t1 = v1_token(&sim, "sim-client", "sim-secret").await;
    assert!(t1.starts_with("papi-"));
    let r = http()
        .post(format!("{}/v1/auth", sim.base_url()))
        .form(&[("client_id", "sim-client"), ("client_secret", "sim-secret")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["success"], true);
    assert_eq!(
        v["data"]["token"],
        t1.as_str(),
        "same credentials within 24 h give the same token"
    );
    let r = get(&format!("{}/v1/company/employees", sim.base_url()), &t1).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["authorization"].to_str().unwrap(),
        format!("Bearer {t1}")
    );
    assert_eq!(sim.counters().auth_requests, 2);
    sim.shutdown().await;
}

#[tokio::test]
async fn auth_errors_use_the_v1_envelope() {
    let sim = sim(quiet(5)).await;
    let base = sim.base_url();
    let r = http()
        .post(format!("{base}/v1/auth"))
        .json(&serde_json::json!({"client_id": "sim-client", "client_secret": "nope"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["success"], false);
    assert_eq!(v["error"]["message"], "Wrong credentials");

    let r = http()
        .get(format!("{base}/v1/company/employees"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["message"], "Authorization is not provided");
    assert_eq!(v["error"]["code"], 401);

    let (s, v) = get_json(&format!("{base}/v1/company/employees"), "papi-not-a-token").await;
    assert_eq!(s, 403);
    assert_eq!(v["error"]["message"], "Provided authorization is not valid");

    let token = v1_token(&sim, "sim-client", "sim-secret").await;
    let (s, v) = get_json(&format!("{base}/v1/company/employees/999999999"), &token).await;
    assert_eq!(s, 404);
    assert_eq!(v["error"]["message"], "Es ist ein Problem aufgetreten");
    sim.shutdown().await;
}

#[tokio::test]
async fn list_envelope_limits_and_paging() {
    let sim = sim(quiet(230)).await;
    let base = sim.base_url();
    let token = v1_token(&sim, "sim-client", "sim-secret").await;
    let (s, v) = get_json(&format!("{base}/v1/company/employees"), &token).await;
    assert_eq!(s, 200);
    assert_eq!(v["limit"], 50, "default limit");
    assert_eq!(v["data"].as_array().unwrap().len(), 50);
    assert_eq!(v["metadata"]["total_elements"], 230);
    assert_eq!(v["metadata"]["total_pages"], 5);
    for bad in ["101", "0", "-1", "abc"] {
        let (s, v) = get_json(&format!("{base}/v1/company/employees?limit={bad}"), &token).await;
        assert_eq!(s, 400, "limit={bad}");
        assert_eq!(
            v["error"]["message"],
            "The limit must be between 1 and 100."
        );
    }
    let mut ids = Vec::new();
    let mut offset = 0;
    loop {
        let (s, v) = get_json(
            &format!("{base}/v1/company/employees?limit=100&offset={offset}"),
            &token,
        )
        .await;
        assert_eq!(s, 200);
        assert_eq!(v["offset"], offset);
        assert_eq!(v["metadata"]["current_page"], offset / 100);
        assert_eq!(v["metadata"]["total_pages"], 3);
        let data = v["data"].as_array().unwrap();
        for e in data {
            assert_eq!(e["type"], "Employee");
            ids.push(e["attributes"]["id"]["value"].as_u64().unwrap().to_string());
        }
        if v["metadata"]["current_page"].as_i64().unwrap()
            >= v["metadata"]["total_pages"].as_i64().unwrap() - 1
        {
            break;
        }
        offset += 100;
    }
    assert_eq!(ids, sim.ids());
    let expected: Vec<String> = sim
        .expected_employees(psync_personio_sim::SimApi::V1)
        .iter()
        .map(|e| e.id.to_string())
        .collect();
    assert_eq!(ids, expected);
    sim.shutdown().await;
}

#[tokio::test]
async fn attributes_projection_keeps_id() {
    let sim = sim(quiet(20)).await;
    let base = sim.base_url();
    let token = v1_token(&sim, "sim-client", "sim-secret").await;
    let (_, v) = get_json(
        &format!(
            "{base}/v1/company/employees?attributes[]=first_name&attributes[]=dynamic_24408&limit=5"
        ),
        &token,
    )
    .await;
    for e in v["data"].as_array().unwrap() {
        assert_eq!(
            keys(&e["attributes"]),
            vec!["dynamic_24408", "first_name", "id"]
        );
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn whitelisting_hides_attributes_silently() {
    let config = SimConfig {
        credentials: vec![
            Credential::full("sim-client", "sim-secret"),
            Credential::with_whitelist("narrow", "pw", &["first_name", "last_name", "department"]),
        ],
        ..quiet(10)
    };
    let sim = sim(config).await;
    let base = sim.base_url();
    let token = v1_token(&sim, "narrow", "pw").await;
    let (_, v) = get_json(
        &format!("{base}/v1/company/employees?attributes[]=email&attributes[]=first_name"),
        &token,
    )
    .await;
    for e in v["data"].as_array().unwrap() {
        assert_eq!(
            keys(&e["attributes"]),
            vec!["first_name", "id"],
            "email is not whitelisted"
        );
    }
    let (_, v) = get_json(&format!("{base}/v1/company/employees"), &token).await;
    assert_eq!(
        keys(&v["data"][0]["attributes"]),
        vec!["department", "first_name", "id", "last_name"]
    );
    let (_, v) = get_json(&format!("{base}/v1/company/employees/attributes"), &token).await;
    let keys: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, vec!["id", "first_name", "last_name", "department"]);
    let id = sim.ids()[0].clone();
    let r = get(
        &format!("{base}/v1/company/employees/{id}/profile-picture"),
        &token,
    )
    .await;
    assert_eq!(
        r.status(),
        404,
        "picture needs the profile_picture attribute"
    );

    // The same whitelist applies to v2 fields.
    let t2 = v2_token(&sim, "narrow", "pw").await;
    let (_, p) = get_json(&format!("{base}/v2/persons/{id}"), &t2).await;
    assert!(p.get("email").is_none());
    assert!(p.get("first_name").is_some());
    assert_eq!(p["custom_attributes"], serde_json::json!([]));
    let emp = p["employments"][0]["id"].as_str().unwrap().to_string();
    let (_, e) = get_json(&format!("{base}/v2/persons/{id}/employments/{emp}"), &t2).await;
    assert!(e.get("position").is_none() && e.get("office").is_none());
    assert_eq!(e["org_units"].as_array().unwrap().len(), 1);

    let full = v1_token(&sim, "sim-client", "sim-secret").await;
    let r = get(
        &format!("{base}/v1/company/employees/{id}/profile-picture/64"),
        &full,
    )
    .await;
    if r.status() == 200 {
        assert_eq!(r.headers()["content-type"], "image/png");
        assert!(r.headers().get("authorization").is_none());
        assert!(r.bytes().await.unwrap().starts_with(b"\x89PNG"));
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn updated_since_sees_mutations_and_counts_only_whitelisted_attributes() {
    let config = SimConfig {
        credentials: vec![
            Credential::full("sim-client", "sim-secret"),
            Credential::with_whitelist("narrow", "pw", &["first_name", "last_name"]),
        ],
        ..quiet(50)
    };
    let sim = sim(config).await;
    let base = sim.base_url();
    let token = v1_token(&sim, "sim-client", "sim-secret").await;
    let narrow = v1_token(&sim, "narrow", "pw").await;
    // Generated data is all older than the simulated today.
    let (_, v) = get_json(
        &format!("{base}/v1/company/employees?updated_since=2026-11-23T00:00:00"),
        &token,
    )
    .await;
    assert_eq!(v["metadata"]["total_elements"], 0);
    let since = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let ids = sim.ids();
    let (a, b) = (ids[3].clone(), ids[7].clone());
    sim.update(
        &a,
        EmployeeUpdate {
            position: Some("Chief Cat Herder".into()),
            ..Default::default()
        },
    )
    .unwrap();
    sim.update(
        &b,
        EmployeeUpdate {
            first_name: Some("Zoë".into()),
            ..Default::default()
        },
    )
    .unwrap();
    let (_, v) = get_json(
        &format!("{base}/v1/company/employees?updated_since={since}"),
        &token,
    )
    .await;
    let got: Vec<String> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["attributes"]["id"]["value"].to_string())
        .collect();
    assert_eq!(got, vec![a.clone(), b.clone()]);
    let (_, v) = get_json(
        &format!("{base}/v1/company/employees?updated_since={since}"),
        &narrow,
    )
    .await;
    let got: Vec<String> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["attributes"]["id"]["value"].to_string())
        .collect();
    assert_eq!(
        got,
        vec![b.clone()],
        "a position change is invisible to a credential without position"
    );
    let (_, v) = get_json(
        &format!("{base}/v1/company/employees?updated_since={since}&attributes[]=last_name"),
        &token,
    )
    .await;
    assert_eq!(
        v["metadata"]["total_elements"], 0,
        "attributes[] narrows the change selection"
    );
    let (s, _) = get_json(
        &format!("{base}/v1/company/employees?updated_since=yesterday"),
        &token,
    )
    .await;
    assert_eq!(s, 422);

    let t2 = v2_token(&sim, "sim-client", "sim-secret").await;
    let (_, v) = get_json(
        &format!("{base}/v2/persons?updated_at.gt={}", urlencode(&since)),
        &t2,
    )
    .await;
    let _ = v;
    let before = jiff::Timestamp::from_second(jiff::Timestamp::now().as_second() - 3600)
        .unwrap()
        .to_string();
    let (s, v) = get_json(
        &format!("{base}/v2/persons?updated_at.gt={}", urlencode(&before)),
        &t2,
    )
    .await;
    assert_eq!(s, 200);
    let got: Vec<&str> = v["_data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, vec![a.as_str(), b.as_str()]);
    sim.shutdown().await;
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}
