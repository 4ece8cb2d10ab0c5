//! The SCIM target against a real SCIM service provider: scim2-server from PyPI (installed
//! by `scripts/install/scim.sh` into `.peers/scim-venv`), started per test on loopback.

#![allow(clippy::unwrap_used, reason = "test code")]

use psync_model::{EmployeeId, GroupPath, MatchBy, Operation, Outcome, TargetRecord, Value};
use psync_target_http::{ScimConfig, ScimTarget};
use psync_targets::testkit::{Inspect, MissingPerson, Suite};
use psync_targets::{ErrorKind, Target};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const TOKEN: &str = "test-token-123";

/// A scim2-server process, killed on drop.
struct Peer {
    child: Child,
    url: String,
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn server_binary() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("PSYNC_SCIM2_SERVER") {
        return Some(PathBuf::from(p));
    }
    let p =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.peers/scim-venv/bin/scim2-server");
    p.exists().then_some(p)
}

/// Starts scim2-server on a free loopback port; `None` (test skipped) when it is not installed
/// and CI is not set.
async fn peer() -> Option<Peer> {
    let Some(bin) = server_binary() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "scim2-server is not installed: run scripts/install/scim.sh"
        );
        eprintln!("SKIPPED: scim2-server is not installed (scripts/install/scim.sh)");
        return None;
    };
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(bin)
        .args([
            "--hostname",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--bearer-token",
            TOKEN,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/v2");
    let peer = Peer { child, url };
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Some(peer);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("scim2-server did not start on port {port}");
}

fn target(url: &str, token: &str) -> ScimTarget {
    let mut config = ScimConfig::bearer(url, token);
    config.settings_mut().record_attribute = Some("nickName".into());
    ScimTarget::new("apps", config).unwrap()
}

fn person(id: &str, first: &str, last: &str) -> TargetRecord {
    let mut r = TargetRecord::new(EmployeeId::new(id));
    for (k, v) in [
        ("first_name", first.to_string()),
        ("last_name", last.to_string()),
        (
            "email",
            format!(
                "{}.{}@acme.example",
                first.to_lowercase(),
                last.to_lowercase()
            ),
        ),
        ("department", "Engineering".to_string()),
        ("title", "Engineer".to_string()),
    ] {
        r.attributes.insert(k.into(), Value::Text(v));
    }
    r.groups
        .insert(GroupPath(vec!["Munich".into(), "Engineering".into()]));
    r
}

fn create(record: &TargetRecord) -> Operation {
    Operation::Create {
        record: record.clone(),
        match_by: MatchBy::None,
    }
}

fn update(record: &TargetRecord, remote_id: Option<String>) -> Operation {
    moved(record, remote_id, &TargetRecord::new(record.person.clone()))
}

/// An update from `before` to `record`, with the group changes the planner would list.
fn moved(record: &TargetRecord, remote_id: Option<String>, before: &TargetRecord) -> Operation {
    Operation::Update {
        remote_id,
        changes: Vec::new(),
        groups_added: record.groups.difference(&before.groups).cloned().collect(),
        groups_removed: before.groups.difference(&record.groups).cloned().collect(),
        record: record.clone(),
    }
}

async fn users(url: &str) -> serde_json::Value {
    reqwest::Client::new()
        .get(format!("{url}/Users?count=1000"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn passes_the_conformance_suite_against_scim2_server() {
    let Some(peer) = peer().await else { return };
    let url = peer.url.clone();
    let bad = peer.url.clone();
    let passed = Suite::new(move || target(&url, TOKEN))
        .missing_person(MissingPerson::Restore)
        .broken(move || target(&bad, "wrong-token"))
        .run()
        .await
        .unwrap_or_else(|failures| panic!("{failures}"));
    assert!(!passed.checks.is_empty());
}

#[tokio::test]
async fn managers_groups_conflicts_and_accounts_deleted_behind_our_back() {
    let Some(peer) = peer().await else { return };
    let t = target(&peer.url, TOKEN);
    let summary = t.check().await.unwrap();
    assert!(
        summary.contains("PATCH yes") && summary.contains("ETags yes"),
        "{summary}"
    );

    // Manager first, then the report, who points at the manager's SCIM id.
    let boss = person("1", "Bea", "Boss");
    let Outcome::Created { remote_id: boss_id } = t.apply(&create(&boss)).await.unwrap() else {
        panic!("boss not created");
    };
    let mut rep = person("2", "Rob", "Report");
    rep.manager = Some(EmployeeId::new("1"));
    let Outcome::Created { remote_id: rep_id } = t.apply(&create(&rep)).await.unwrap() else {
        panic!("report not created");
    };
    let all = users(&peer.url).await;
    let rep_json = all["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["externalId"] == "2")
        .unwrap()
        .clone();
    assert_eq!(
        rep_json["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["manager"]["value"],
        boss_id.as_str()
    );
    assert_eq!(t.read(&EmployeeId::new("2")).await.unwrap().unwrap(), rep);

    // A create of someone already there (a rerun) changes nothing and never duplicates.
    assert_eq!(t.apply(&create(&rep)).await.unwrap(), Outcome::Unchanged);
    assert_eq!(users(&peer.url).await["totalResults"], 2);

    // Someone else's account holds the userName: a conflict, not a takeover.
    let mut clash = person("3", "Rob", "Report");
    clash
        .attributes
        .insert("first_name".into(), Value::Text("Robin".into()));
    let err = t.apply(&create(&clash)).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Conflict, "{err}");

    // Moves change groups: joined the new one, left the old one.
    let mut moved = rep.clone();
    moved.groups = [GroupPath(vec!["Berlin".into(), "Sales".into()])].into();
    moved
        .attributes
        .insert("title".into(), Value::Text("Seller".into()));
    assert_eq!(
        t.apply(&self::moved(&moved, Some(rep_id.clone()), &rep))
            .await
            .unwrap(),
        Outcome::Applied
    );
    assert_eq!(t.read(&EmployeeId::new("2")).await.unwrap().unwrap(), moved);
    assert_eq!(
        t.apply(&update(&moved, Some(rep_id.clone())))
            .await
            .unwrap(),
        Outcome::Unchanged
    );

    // Deleted in the service provider by someone else: the next update creates it again.
    reqwest::Client::new()
        .delete(format!("{}/Users/{rep_id}", peer.url))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(
        t.apply(&update(&moved, Some(rep_id))).await.unwrap(),
        Outcome::Applied
    );
    assert_eq!(t.read(&EmployeeId::new("2")).await.unwrap().unwrap(), moved);
    assert_eq!(users(&peer.url).await["totalResults"], 2);
}

#[tokio::test]
async fn an_etag_conflict_is_a_conflict_and_the_next_attempt_converges() {
    let Some(peer) = peer().await else { return };
    let t = target(&peer.url, TOKEN);
    let rec = person("7", "Eve", "Etag");
    let Outcome::Created { remote_id } = t.apply(&create(&rec)).await.unwrap() else {
        panic!("not created");
    };
    // Another writer changes the user between our read and our write: an If-Match with the
    // version we read gets 412, which the target reports as a conflict.
    let http = reqwest::Client::new();
    let user: serde_json::Value = http
        .get(format!("{}/Users/{remote_id}", peer.url))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let stale = user["meta"]["version"].as_str().unwrap().to_string();
    let patch = serde_json::json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "value": {"title": "Changed elsewhere"}}]});
    http.patch(format!("{}/Users/{remote_id}", peer.url))
        .bearer_auth(TOKEN)
        .header("Content-Type", "application/scim+json")
        .body(patch.to_string())
        .send()
        .await
        .unwrap();
    let status = http
        .patch(format!("{}/Users/{remote_id}", peer.url))
        .bearer_auth(TOKEN)
        .header("Content-Type", "application/scim+json")
        .header("If-Match", stale)
        .body(patch.to_string())
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status.as_u16(), 412, "the peer enforces ETags");
    // The target always reads the current version first, so its own update converges.
    let mut newer = rec.clone();
    newer
        .attributes
        .insert("title".into(), Value::Text("Lead".into()));
    assert_eq!(
        t.apply(&update(&newer, Some(remote_id))).await.unwrap(),
        Outcome::Applied
    );
    assert_eq!(t.read(&EmployeeId::new("7")).await.unwrap().unwrap(), newer);
}

/// A server that answers every request with this raw HTTP response.
async fn canned(response: String) -> String {
    let response: &'static str = Box::leak(response.into_boxed_str());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut conn, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 8192];
                let _ = conn.read(&mut buf).await;
                let _ = conn.write_all(response.as_bytes()).await;
                let _ = conn.shutdown().await;
            });
        }
    });
    format!("http://{addr}/v2")
}

#[tokio::test]
async fn garbage_refusals_and_outages_are_classified_and_name_the_operation() {
    let rec = person("9", "Gus", "Garbage");
    let answer = |status: &str, kind: &str, body: &str| {
        format!(
            "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    };
    let cases: [(String, ErrorKind, &str); 4] = [
        (
            answer("200 OK", "text/html", "<html>maintenance</html>"),
            ErrorKind::Transient,
            "not JSON",
        ),
        (
            answer("503 Service Unavailable", "text/plain", ""),
            ErrorKind::Transient,
            "503",
        ),
        (
            answer("401 Unauthorized", "text/plain", ""),
            ErrorKind::Fatal,
            "credentials",
        ),
        (
            answer(
                "400 Bad Request",
                "application/scim+json",
                r#"{"status":"400","scimType":"invalidValue","detail":"nope!"}"#,
            ),
            ErrorKind::Rejected,
            "nope!",
        ),
    ];
    for (response, kind, says) in cases {
        let url = canned(response.clone()).await;
        let t = target(&url, TOKEN);
        let err = t
            .apply(&update(&rec, Some("abc".into())))
            .await
            .unwrap_err();
        assert_eq!(err.kind, kind, "{response}: {err}");
        assert!(err.message.contains(says), "{err}");
        assert!(err.message.contains("SCIM target 'apps'"), "{err}");
    }
    // Nothing listens: transient, the operation stays pending.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let t = target(&format!("http://127.0.0.1:{port}/v2"), TOKEN);
    let err = t.apply(&create(&rec)).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Transient, "{err}");
    assert!(t.check().await.is_err());
}

#[tokio::test]
async fn a_chunk_of_joiners_goes_in_one_bulk_request_and_reads_back_exactly() {
    let Some(peer) = peer().await else { return };
    let t = target(&peer.url, TOKEN);
    assert_eq!(t.batch_size(), 100);
    // One of them has an account already (same data), one takes a userName someone holds.
    let early = person("900", "Eve", "Early");
    assert!(matches!(
        t.apply(&create(&early)).await,
        Ok(Outcome::Created { .. })
    ));
    let mut records: Vec<TargetRecord> = (0..30)
        .map(|i| {
            let mut r = person(&format!("{}", 901 + i), "Bo", &format!("Bulk{i}"));
            if i % 2 == 0 {
                r.groups.insert(GroupPath(vec![format!("Team {}", i % 4)]));
            }
            r
        })
        .collect();
    records.push(early.clone());
    let mut clash = person("999", "Eve", "Early");
    clash.attributes.insert(
        "user_name".into(),
        Value::Text("eve.early@acme.example".into()),
    );
    records.push(clash);
    let ops: Vec<Operation> = records.iter().map(create).collect();
    let refs: Vec<&Operation> = ops.iter().collect();
    let results = t.apply_batch(&refs).await;
    for (record, result) in records.iter().zip(&results).take(30) {
        assert!(
            matches!(result, Ok(Outcome::Created { remote_id }) if !remote_id.is_empty()),
            "{}: {result:?}",
            record.person
        );
    }
    assert_eq!(results[30], Ok(Outcome::Unchanged), "the existing account");
    let clash_error = results[31].as_ref().unwrap_err();
    assert_eq!(clash_error.kind, ErrorKind::Conflict, "{clash_error:?}");

    // Everything reads back as sent: attributes, groups; nobody twice.
    for record in records.iter().take(31) {
        assert_eq!(t.read(&record.person).await.unwrap().as_ref(), Some(record));
    }
    let all = users(&peer.url).await;
    assert_eq!(all["totalResults"], 31);

    // The same chunk again changes nothing.
    let again = t.apply_batch(&refs[..31]).await;
    assert!(
        again.iter().all(|r| *r == Ok(Outcome::Unchanged)),
        "{again:?}"
    );

    // Someone deletes an account between runs: the next run's listing no longer has it, so
    // the joiner is created again (once), the others stay unchanged.
    let Ok(Outcome::Created { remote_id: gone }) = &results[0] else {
        panic!("{:?}", results[0])
    };
    let deleted = reqwest::Client::new()
        .delete(format!("{}/Users/{gone}", peer.url))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert!(deleted.status().is_success());
    let run = psync_targets::RunInfo {
        run: 2,
        target: "apps".into(),
        started_at: jiff::Timestamp::UNIX_EPOCH,
        dry_run: false,
    };
    t.begin(&run).await.unwrap();
    let next = t.apply_batch(&refs[..3]).await;
    assert!(
        matches!(&next[0], Ok(Outcome::Created { remote_id }) if remote_id != gone),
        "{next:?}"
    );
    assert_eq!(next[1..], [Ok(Outcome::Unchanged), Ok(Outcome::Unchanged)]);
    assert_eq!(users(&peer.url).await["totalResults"], 31);
}
