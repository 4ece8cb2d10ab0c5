//! The REST target against the loopback receiver: the conformance suite in both shapes (one
//! request per operation, and the "users/sync" batch), auth headers, per-user errors, and what
//! happens when the API answers 4xx, 5xx, 429 with `Retry-After`, HTML, or too slowly.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] fns: a panic is a failed test"
)]

use psync_model::{EmployeeId, MatchBy, Operation, Outcome, TargetRecord, Value};
use psync_target_http::receiver::{Receiver, Scripted};
use psync_target_http::{RestConfig, RestTarget};
use psync_targets::testkit::{MissingPerson, Suite};
use psync_targets::{ErrorKind, Target};
use serde_json::{Value as Json, json};
use std::time::{Duration, Instant};

const TOKEN: &str = "rest-token-1";
const KEY: &str = "key-5c1a";
const SECRET: &str = "secret-77d0";

/// Body of the per-operation API: a few fields and a copy of the record for read-back.
const BODY: &str = r#"{"external_id": {{ person | tojson }}, "email": {{ email | tojson }}, "active": {{ active | tojson }}, "record": {{ record | tojson }}}"#;

fn per_operation(url: &str, token: &str) -> RestTarget {
    let config = RestConfig::from_json(json!({
        "url": url,
        "token": token,
        "check": {"path": "/health"},
        "create": {"path": "/users", "body": BODY, "remote_id": "/id"},
        "update": {"path": "/users/{{ remote_id }}", "body": BODY},
        "delete": {"path": "/users/{{ remote_id }}"},
        "read": {"path": "/users/by-external-id/{{ person }}", "remote_id": "/id", "record": "/record"},
    }))
    .unwrap();
    RestTarget::new("crm", config).unwrap()
}

fn batch_config(url: &str, key: &str, size: usize, timeout: u64) -> Json {
    json!({
        "url": url,
        "auth": "api_key",
        "api_key": key,
        "api_secret": SECRET,
        "headers": {"X-Tenant": "acme"},
        "timeout_seconds": timeout,
        "check": {"path": "/health"},
        "batch": {
            "path": "/api/enterprise/v1/users/sync",
            "size": size,
            "user": r#"{"external_id": {{ person | tojson }}, "email": {{ email | tojson }}, "active": {{ active | tojson }}, "deleted": {{ (op == "delete") | tojson }}, "record": {{ record | tojson }}}"#,
            "body": r#"{"users": {{ users | tojson }}}"#,
            "results": "/results",
            "key": "/external_id",
            "remote_id": "/id",
            "status": "/status"
        },
        "read": {"path": "/users/by-external-id/{{ person }}", "remote_id": "/id", "record": "/record"},
    })
}

fn batch(url: &str, key: &str) -> RestTarget {
    RestTarget::new(
        "lms",
        RestConfig::from_json(batch_config(url, key, 100, 30)).unwrap(),
    )
    .unwrap()
}

async fn receiver() -> Receiver {
    Receiver::start(|s| {
        s.token = Some(TOKEN.into());
        s.api_key = Some((KEY.into(), SECRET.into()));
        s.client = Some(("client-1".into(), "client-secret-1".into()));
    })
    .await
    .unwrap()
}

fn person(id: &str, email: &str) -> TargetRecord {
    let mut r = TargetRecord::new(EmployeeId::new(id));
    r.attributes
        .insert("email".into(), Value::Text(email.into()));
    r
}

fn create(record: &TargetRecord) -> Operation {
    Operation::Create {
        record: record.clone(),
        match_by: MatchBy::ExternalId,
    }
}

#[tokio::test]
async fn one_request_per_operation_passes_the_conformance_suite() {
    let r = receiver().await;
    let (url, bad) = (r.url.clone(), r.url.clone());
    let passed = Suite::new(move || per_operation(&url, TOKEN))
        .missing_person(MissingPerson::Conflict)
        .broken(move || per_operation(&bad, "wrong-token"))
        .run()
        .await
        .unwrap_or_else(|failures| panic!("{failures}"));
    assert!(passed.checks.len() > 20, "{:?}", passed.checks);
    // Bearer auth on every request but the token endpoint.
    let requests = r.requests();
    assert!(
        requests
            .iter()
            .any(|q| q.headers.get("authorization") == Some(&format!("Bearer {TOKEN}")))
    );
    assert!(
        requests
            .iter()
            .all(|q| q.headers.contains_key("authorization"))
    );
}

#[tokio::test]
async fn the_users_sync_batch_passes_the_conformance_suite() {
    let r = receiver().await;
    let (url, bad) = (r.url.clone(), r.url.clone());
    Suite::new(move || batch(&url, KEY))
        .missing_person(MissingPerson::Restore)
        .broken(move || batch(&bad, "wrong-key"))
        .run()
        .await
        .unwrap_or_else(|failures| panic!("{failures}"));
    for q in r.requests() {
        assert_eq!(q.headers.get("x-tenant").map(String::as_str), Some("acme"));
        assert!(!q.headers.contains_key("authorization"), "{q:?}");
    }
}

#[tokio::test]
async fn a_batch_reports_each_user_and_parks_only_the_refused_one() {
    let r = receiver().await;
    let t = batch(&r.url, KEY);
    assert_eq!(t.batch_size(), 100);
    let ops: Vec<Operation> = [
        ("1", "a@x.example"),
        ("2", "not-an-email"),
        ("3", "c@x.example"),
    ]
    .iter()
    .map(|(id, email)| create(&person(id, email)))
    .collect();
    let refs: Vec<&Operation> = ops.iter().collect();
    let results = t.apply_batch(&refs).await;
    assert!(
        matches!(&results[0], Ok(Outcome::Created { remote_id }) if remote_id.starts_with('u'))
    );
    let refused = results[1].as_ref().unwrap_err();
    assert_eq!(refused.kind, ErrorKind::Rejected);
    for part in [
        "lms",
        "create of person 2",
        "email is not an e-mail address",
    ] {
        assert!(
            refused.message.contains(part),
            "{part}: {}",
            refused.message
        );
    }
    assert!(matches!(&results[2], Ok(Outcome::Created { .. })));
    let requests = r.requests();
    assert_eq!(requests.len(), 1, "one request for three users");
    let q = &requests[0];
    assert_eq!(q.path, "/api/enterprise/v1/users/sync");
    assert_eq!(q.headers["x-api-key"], KEY);
    assert_eq!(q.headers["x-api-secret"], SECRET);
    assert_eq!(q.headers["content-type"], "application/json");
    assert_eq!(q.body["users"].as_array().unwrap().len(), 3);
    assert_eq!(r.state().users.len(), 2);

    // Sent again unchanged: every user is reported unchanged.
    let again = t.apply_batch(&refs[..1]).await;
    assert_eq!(again[0], Ok(Outcome::Unchanged));
    assert!(!format!("{t:?}").contains(SECRET));
}

#[tokio::test]
async fn refusals_outages_and_slowness_are_classified_and_nothing_is_lost() {
    let r = receiver().await;
    let t = RestTarget::new(
        "lms",
        RestConfig::from_json(batch_config(&r.url, KEY, 100, 1)).unwrap(),
    )
    .unwrap();
    let ops: Vec<Operation> = (1..=3)
        .map(|i| create(&person(&i.to_string(), &format!("p{i}@x.example"))))
        .collect();
    let refs: Vec<&Operation> = ops.iter().collect();
    let all_transient = |results: &[Result<Outcome, psync_targets::TargetError>], want: &str| {
        for result in results {
            let e = result.as_ref().unwrap_err();
            assert_eq!(e.kind, ErrorKind::Transient, "{e:?}");
            assert!(
                e.message.contains("lms") && e.message.contains("batch of 3 users"),
                "{}",
                e.message
            );
            assert!(e.message.contains(want), "{want}: {}", e.message);
        }
    };

    // 429 with Retry-After: the pause is honoured before the error goes back for a retry.
    r.script([Scripted::status(429, json!({"message": "slow down"})).retry_after(1)]);
    let started = Instant::now();
    all_transient(&t.apply_batch(&refs).await, "answered 429: slow down");
    assert!(started.elapsed() >= Duration::from_millis(900));

    r.script([Scripted::status(503, json!({"message": "maintenance"}))]);
    all_transient(&t.apply_batch(&refs).await, "answered 503");

    r.script([Scripted::html(502)]);
    all_transient(&t.apply_batch(&refs).await, "not JSON");

    r.script([Scripted::status(200, json!({"ok": true})).slow(Duration::from_secs(3))]);
    all_transient(&t.apply_batch(&refs).await, "timed out");

    // An answer without the result list: sent again next time, not counted as done.
    r.script([Scripted::status(200, json!({"accepted": 3}))]);
    all_transient(&t.apply_batch(&refs).await, "no result list");
    assert!(r.state().users.is_empty(), "nothing was written so far");

    // A request refused as a whole (one bad user spoils it): the users go one by one, so only
    // the bad one is parked.
    let before = r.requests().len();
    r.script([Scripted::status(400, json!({"message": "payload invalid"}))]);
    let results = t.apply_batch(&refs).await;
    assert!(
        results
            .iter()
            .all(|o| matches!(o, Ok(Outcome::Created { .. }))),
        "{results:?}"
    );
    assert_eq!(r.requests().len(), before + 1 + 3);
    assert_eq!(r.state().users.len(), 3);

    // Credentials refused: fatal for the target.
    let wrong = batch(&r.url, "wrong-key");
    let e = wrong.apply_batch(&refs).await.remove(0).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Fatal, "{e:?}");
    assert!(wrong.check().await.is_err());
    let summary = t.check().await.unwrap();
    assert!(summary.contains("batch of up to 100"), "{summary}");
}

#[tokio::test]
async fn one_request_per_operation_maps_statuses() {
    let r = receiver().await;
    let t = per_operation(&r.url, TOKEN);
    let ada = person("7", "ada@x.example");
    let Outcome::Created { remote_id } = t.apply(&create(&ada)).await.unwrap() else {
        panic!("not created")
    };
    let mut moved = ada.clone();
    moved
        .attributes
        .insert("email".into(), Value::Text("ada.l@x.example".into()));
    let update = Operation::Update {
        remote_id: Some(remote_id.clone()),
        changes: vec![],
        groups_added: vec![],
        groups_removed: vec![],
        record: moved.clone(),
    };
    // The read before the update sees a 500: transient, naming the target and the operation.
    r.script([Scripted::status(500, json!({"message": "db down"}))]);
    let e = t.apply(&update).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Transient);
    assert!(
        e.message.contains("crm") && e.message.contains("read of person 7"),
        "{}",
        e.message
    );
    // A 422 on the write: rejected with the API's message.
    let account = r.state().users["7"].clone();
    r.script([
        Scripted::status(200, account),
        Scripted::status(422, json!({"message": "email domain not allowed"})),
    ]);
    let e = t.apply(&update).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Rejected);
    assert!(
        e.message.contains("update of person 7") && e.message.contains("email domain not allowed"),
        "{}",
        e.message
    );
    assert_eq!(t.apply(&update).await, Ok(Outcome::Applied));
    assert_eq!(r.state().users["7"]["email"], "ada.l@x.example");
    let puts: Vec<_> = r
        .requests()
        .into_iter()
        .filter(|q| q.method == "PUT")
        .collect();
    assert_eq!(puts.last().unwrap().path, format!("/users/{remote_id}"));
}

#[tokio::test]
async fn oauth2_tokens_are_fetched_once_and_renewed_when_revoked() {
    let r = receiver().await;
    let config = |secret: &str| {
        RestConfig::from_json(json!({
            "url": r.url,
            "auth": "oauth2",
            "token_url": format!("{}/oauth/token", r.url),
            "client_id": "client-1",
            "client_secret": secret,
            "create": {"path": "/users", "body": BODY, "remote_id": "/id"},
            "update": {"path": "/users/{{ remote_id }}", "body": BODY},
        }))
        .unwrap()
    };
    let t = RestTarget::new("crm", config("client-secret-1")).unwrap();
    for i in 1..=3 {
        let op = create(&person(&i.to_string(), "x@x.example"));
        assert!(matches!(t.apply(&op).await, Ok(Outcome::Created { .. })));
    }
    assert_eq!(r.state().tokens_issued, 1, "the token is cached");
    r.state().issued.clear();
    let op = create(&person("4", "x@x.example"));
    assert!(matches!(t.apply(&op).await, Ok(Outcome::Created { .. })));
    assert_eq!(
        r.state().tokens_issued,
        2,
        "a revoked token is renewed once"
    );
    let token_requests: Vec<_> = r
        .requests()
        .into_iter()
        .filter(|q| q.path == "/oauth/token")
        .collect();
    assert!(
        token_requests
            .iter()
            .all(|q| q.body.is_null() && q.method == "POST")
    );

    let wrong = RestTarget::new("crm", config("nope")).unwrap();
    let e = wrong.apply(&op).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Fatal);
    assert!(
        e.message.contains("refused the client credentials"),
        "{}",
        e.message
    );
}

#[tokio::test]
async fn the_rate_limit_spaces_requests() {
    let r = receiver().await;
    let mut config = batch_config(&r.url, KEY, 1, 30);
    config["rate_limit"] = json!(20.0);
    let t = RestTarget::new("lms", RestConfig::from_json(config).unwrap()).unwrap();
    let ops: Vec<Operation> = (1..=6)
        .map(|i| create(&person(&i.to_string(), "x@x.example")))
        .collect();
    let started = Instant::now();
    for op in &ops {
        assert!(t.apply(op).await.is_ok());
    }
    // 6 requests at 20 per second: the last starts no earlier than 250 ms after the first.
    assert!(
        started.elapsed() >= Duration::from_millis(240),
        "{:?}",
        started.elapsed()
    );
}

/// Runs `ops` through `t` in chunks of `t.batch_size()`, `in_flight` chunks at a time.
async fn drive(
    t: std::sync::Arc<RestTarget>,
    ops: std::sync::Arc<Vec<Operation>>,
    in_flight: usize,
) -> usize {
    let size = t.batch_size();
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..in_flight {
        let (t, ops, next) = (t.clone(), ops.clone(), next.clone());
        workers.spawn(async move {
            let mut ok = 0;
            loop {
                let start = next.fetch_add(size, std::sync::atomic::Ordering::SeqCst);
                if start >= ops.len() {
                    return ok;
                }
                let chunk: Vec<&Operation> =
                    ops[start..(start + size).min(ops.len())].iter().collect();
                ok += t
                    .apply_batch(&chunk)
                    .await
                    .iter()
                    .filter(|r| r.is_ok())
                    .count();
            }
        });
    }
    let mut ok = 0;
    while let Some(n) = workers.join_next().await {
        ok += n.unwrap();
    }
    ok
}

/// `cargo test --release -p psync-target-http --test rest -- --ignored --nocapture bench`:
/// 10,000 creates through the batch endpoint (100 per request) and one request per operation,
/// 4 requests in flight, against the same receiver's rate for the same bodies sent by a bare
/// HTTP loop. Figures go to BENCHMARKS.md.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run by hand in release mode"]
async fn bench_ten_thousand_creates() {
    const N: usize = 10_000;
    const IN_FLIGHT: usize = 4;
    let ops: std::sync::Arc<Vec<Operation>> = std::sync::Arc::new(
        (0..N)
            .map(|i| {
                create(&person(
                    &format!("{}", 100_000 + i),
                    &format!("p{i}@x.example"),
                ))
            })
            .collect(),
    );
    let mut lines = Vec::new();

    // Batch mode.
    let r = receiver().await;
    let t = std::sync::Arc::new(batch(&r.url, KEY));
    let started = Instant::now();
    assert_eq!(drive(t.clone(), ops.clone(), IN_FLIGHT).await, N);
    let batch_wall = started.elapsed();
    let batch_requests = r.requests().len();
    assert_eq!(r.state().users.len(), N);
    let bodies: Vec<Json> = r.requests().into_iter().map(|q| q.body).collect();
    // The same users sent again: the API reports every one unchanged.
    let started = Instant::now();
    assert_eq!(drive(t, ops.clone(), IN_FLIGHT).await, N);
    let again_wall = started.elapsed();
    lines.push(format!("batch (100 per request): {N} users in {:.2} s = {:.0} users/s, {batch_requests} requests ({:.3} per user); resent unchanged in {:.2} s", batch_wall.as_secs_f64(), N as f64 / batch_wall.as_secs_f64(), batch_requests as f64 / N as f64, again_wall.as_secs_f64()));

    // The same bodies from a bare HTTP loop, into a fresh receiver.
    let raw = receiver().await;
    let client = reqwest::Client::new();
    let url = format!("{}/api/enterprise/v1/users/sync", raw.url);
    let bodies = std::sync::Arc::new(bodies);
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..IN_FLIGHT {
        let (client, url, bodies, next) =
            (client.clone(), url.clone(), bodies.clone(), next.clone());
        workers.spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let Some(body) = bodies.get(i) else { return };
                let resp = client
                    .post(&url)
                    .header("X-API-Key", KEY)
                    .header("X-API-Secret", SECRET)
                    .header("Content-Type", "application/json")
                    .body(body.to_string())
                    .send()
                    .await
                    .unwrap();
                let _: Json = resp.json().await.unwrap();
            }
        });
    }
    while workers.join_next().await.is_some() {}
    let raw_wall = started.elapsed();
    assert_eq!(raw.state().users.len(), N);
    lines.push(format!(
        "raw loop, same bodies: {:.2} s = {:.0} users/s; ratio {:.2}",
        raw_wall.as_secs_f64(),
        N as f64 / raw_wall.as_secs_f64(),
        raw_wall.as_secs_f64() / batch_wall.as_secs_f64()
    ));

    // One request per operation (create; read only after a 409).
    let r = receiver().await;
    let t = std::sync::Arc::new(per_operation(&r.url, TOKEN));
    let started = Instant::now();
    assert_eq!(drive(t, ops, IN_FLIGHT).await, N);
    let wall = started.elapsed();
    lines.push(format!(
        "one request per operation: {N} users in {:.2} s = {:.0} users/s, {:.2} requests per user",
        wall.as_secs_f64(),
        N as f64 / wall.as_secs_f64(),
        r.requests().len() as f64 / N as f64
    ));
    for line in lines {
        println!("{line}");
    }
}
