//! Shared helpers for the simulator's HTTP tests.
#![allow(dead_code, reason = "each test binary uses a different subset")]
#![allow(clippy::unwrap_used, reason = "test helpers: a panic is a failed test")]

use psync_personio_sim::{SimConfig, SimHandle, start};
use serde_json::Value;

pub async fn sim(config: SimConfig) -> SimHandle {
    start(config, "127.0.0.1:0".parse().unwrap()).await.unwrap()
}

pub fn quiet(employees: usize) -> SimConfig {
    SimConfig {
        employees,
        rate_limits: false,
        ..SimConfig::default()
    }
}

pub fn http() -> reqwest::Client {
    reqwest::Client::new()
}

pub async fn v1_token(sim: &SimHandle, id: &str, secret: &str) -> String {
    let r = http()
        .post(format!("{}/v1/auth", sim.base_url()))
        .json(&serde_json::json!({"client_id": id, "client_secret": secret}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    v["data"]["token"].as_str().unwrap().to_string()
}

pub async fn v2_token(sim: &SimHandle, id: &str, secret: &str) -> String {
    let r = http()
        .post(format!("{}/v2/auth/token", sim.base_url()))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", secret),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    v["access_token"].as_str().unwrap().to_string()
}

pub async fn get(url: &str, token: &str) -> reqwest::Response {
    http().get(url).bearer_auth(token).send().await.unwrap()
}

pub async fn get_json(url: &str, token: &str) -> (u16, Value) {
    let r = get(url, token).await;
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}
