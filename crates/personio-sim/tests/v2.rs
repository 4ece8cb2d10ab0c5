//! v2 over real HTTP: token endpoint, persons cursor paging, filters, employments, org units.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] fns: a panic is a failed test"
)]

mod common;

use common::*;
use serde_json::Value;

#[tokio::test]
async fn token_is_form_only_with_oauth_errors() {
    let sim = sim(quiet(3)).await;
    let url = format!("{}/v2/auth/token", sim.base_url());
    let t = v2_token(&sim, "sim-client", "sim-secret").await;
    assert!(t.starts_with("papi-"));
    let r = http()
        .post(&url)
        .json(&serde_json::json!({"grant_type": "client_credentials", "client_id": "sim-client", "client_secret": "sim-secret"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"], "invalid_request");
    assert!(v["trace_id"].is_string());

    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[
                ("grant_type", "client_credentials"),
                ("client_id", "nobody"),
                ("client_secret", "x"),
            ],
            "invalid_client",
        ),
        (
            &[
                ("grant_type", "client_credentials"),
                ("client_id", "sim-client"),
                ("client_secret", "x"),
            ],
            "unauthorized_client",
        ),
        (
            &[
                ("grant_type", "password"),
                ("client_id", "sim-client"),
                ("client_secret", "sim-secret"),
            ],
            "unsupported_grant_type",
        ),
        (
            &[("client_id", "sim-client"), ("client_secret", "sim-secret")],
            "invalid_request",
        ),
        (
            &[
                ("grant_type", "client_credentials"),
                ("client_id", "sim-client"),
                ("client_secret", "sim-secret"),
                ("scope", "personio:nope"),
            ],
            "invalid_scope",
        ),
    ];
    for (form, error) in cases {
        let r = http().post(&url).form(form).send().await.unwrap();
        assert_eq!(r.status(), 400);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"], *error, "{form:?}");
        if *error == "invalid_request" {
            assert_eq!(
                v["meta"]["missing_parameters"],
                serde_json::json!(["grant_type"])
            );
        }
    }
    let r = http()
        .get(format!("{}/v2/persons", sim.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let v: Value = r.json().await.unwrap();
    assert!(v["personio_trace_id"].is_string());
    sim.shutdown().await;
}

#[tokio::test]
async fn revoked_tokens_stop_working_and_a_new_one_is_issued() {
    let sim = sim(quiet(3)).await;
    let token = v2_token(&sim, "sim-client", "sim-secret").await;
    let persons = format!("{}/v2/persons", sim.base_url());
    let ok = http()
        .get(&persons)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let r = http()
        .post(format!("{}/v2/auth/revoke", sim.base_url()))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let gone = http()
        .get(&persons)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 401);
    let fresh = v2_token(&sim, "sim-client", "sim-secret").await;
    assert_ne!(fresh, token, "a revoked token is not handed out again");
    let r = http()
        .post(format!("{}/v2/auth/revoke", sim.base_url()))
        .form(&[("nothing", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    sim.shutdown().await;
}

#[tokio::test]
async fn persons_cursor_paging_and_filters() {
    let sim = sim(quiet(123)).await;
    let base = sim.base_url();
    let t = v2_token(&sim, "sim-client", "sim-secret").await;
    let (_, v) = get_json(&format!("{base}/v2/persons"), &t).await;
    assert_eq!(v["_data"].as_array().unwrap().len(), 10, "default limit 10");
    let mut url = format!("{base}/v2/persons?limit=50");
    let mut ids = Vec::new();
    let mut pages = 0;
    loop {
        let (s, v) = get_json(&url, &t).await;
        assert_eq!(s, 200);
        pages += 1;
        for p in v["_data"].as_array().unwrap() {
            ids.push(p["id"].as_str().unwrap().to_string());
        }
        match v["_meta"]["links"]["next"]["href"].as_str() {
            Some(next) => {
                assert!(next.starts_with(&base), "absolute next link");
                url = next.to_string();
            }
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(ids, sim.ids());

    for bad in [
        "limit=51",
        "limit=0",
        "cursor=garbage",
        "updated_at.gt=wrong-date-format",
        "status=SOMETIMES",
    ] {
        let (s, v) = get_json(&format!("{base}/v2/persons?{bad}"), &t).await;
        assert_eq!(s, 400, "{bad}");
        assert_eq!(
            v["errors"][0]["title"],
            "Provided request parameters are invalid."
        );
    }
    let (s, v) = get_json(&format!("{base}/v2/persons?id.nooperator=1"), &t).await;
    assert_eq!(s, 400);
    assert_eq!(
        v["errors"][0]["title"],
        "Provided filter encoding is invalid."
    );

    let (_, v) = get_json(&format!("{base}/v2/persons?id={},{}", ids[4], ids[9]), &t).await;
    let got: Vec<&str> = v["_data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, vec![ids[4].as_str(), ids[9].as_str()]);
    let (_, v) = get_json(&format!("{base}/v2/persons?status=INACTIVE&limit=50"), &t).await;
    assert!(
        v["_data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["status"] == "INACTIVE")
    );
    let email = v["_data"][0]["email"].as_str().map(str::to_string);
    if let Some(email) = email {
        let (_, v) = get_json(&format!("{base}/v2/persons?email={email}"), &t).await;
        assert!(!v["_data"].as_array().unwrap().is_empty());
    }
    let (s, v) = get_json(&format!("{base}/v2/persons/nope"), &t).await;
    assert_eq!(s, 404);
    assert_eq!(v["errors"][0]["title"], "Resource not found");
    sim.shutdown().await;
}

#[tokio::test]
async fn employments_and_org_units() {
    let sim = sim(quiet(40)).await;
    let base = sim.base_url();
    let t = v2_token(&sim, "sim-client", "sim-secret").await;
    let id = &sim.ids()[5];
    let (s, v) = get_json(&format!("{base}/v2/persons/{id}/employments"), &t).await;
    assert_eq!(s, 200);
    let e = &v["_data"][0];
    assert_eq!(e["person"]["id"], id.as_str());
    let (_, p) = get_json(&format!("{base}/v2/persons/{id}"), &t).await;
    assert_eq!(p["employments"][0]["id"], e["id"]);
    let (s, _) = get_json(
        &format!("{base}/v2/persons/{id}/employments/not-an-employment"),
        &t,
    )
    .await;
    assert_eq!(s, 404);
    let (s, _) = get_json(&format!("{base}/v2/persons/1/employments"), &t).await;
    assert_eq!(s, 404);

    let (s, v) = get_json(
        &format!("{base}/v2/org-units/403?type=department&include_parent_chain=true"),
        &t,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(v["name"], "Platform");
    assert_eq!(v["parent_id"], "402");
    let chain: Vec<&str> = v["parent_chain"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap())
        .collect();
    assert_eq!(chain, vec!["Engineering", "Product & Tech"]);
    let (_, v) = get_json(&format!("{base}/v2/org-units/403?type=department"), &t).await;
    assert!(v.get("parent_chain").is_none());
    let (s, _) = get_json(&format!("{base}/v2/org-units/403"), &t).await;
    assert_eq!(s, 400, "type is required");
    let (s, _) = get_json(&format!("{base}/v2/org-units/403?type=team"), &t).await;
    assert_eq!(s, 404);

    for (path, n) in [
        ("workplaces", 7),
        ("legal-entities", 6),
        ("cost-centers", 8),
    ] {
        let (s, v) = get_json(&format!("{base}/v2/{path}"), &t).await;
        assert_eq!(s, 200);
        assert_eq!(v["_data"].as_array().unwrap().len(), n, "{path}");
        assert!(v["_data"][0]["name"].is_string());
    }
    let (_, v) = get_json(&format!("{base}/v2/workplaces?limit=3"), &t).await;
    let next = v["_meta"]["links"]["next"]["href"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, v2) = get_json(&next, &t).await;
    assert_eq!(v2["_data"][0]["name"], "Zurich");
    sim.shutdown().await;
}
