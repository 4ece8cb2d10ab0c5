//! End-to-end: the binary syncs the simulator's company into a real SCIM service provider
//! (scim2-server from PyPI, started here on a free loopback port), then lives through a hire,
//! a move, a manager change, an e-mail change, a termination, a rehire and a deletion; after
//! every step the server's users are compared field by field with the simulator's company.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] fns: a panic is a failed test"
)]

use psync_model::{Employee, EmploymentStatus};
use psync_personio_sim::{EmployeeUpdate, HireSpec, MoveSpec, SimApi, SimConfig, SimHandle};
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const TOKEN: &str = "scim-cli-token-1";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

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

async fn peer() -> Option<Peer> {
    let bin = std::env::var("PSYNC_SCIM2_SERVER")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.peers/scim-venv/bin/scim2-server")
        });
    if !bin.exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "scim2-server is not installed: run scripts/install/scim.sh"
        );
        eprintln!("SKIPPED: scim2-server is not installed (scripts/install/scim.sh)");
        return None;
    }
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
    let peer = Peer {
        child,
        url: format!("http://127.0.0.1:{port}/v2"),
    };
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Some(peer);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("scim2-server did not start");
}

/// The server's users by externalId (a duplicate fails the test).
async fn users(url: &str) -> BTreeMap<String, Json> {
    let page: Json = reqwest::Client::new()
        .get(format!("{url}/Users?count=1000"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut out = BTreeMap::new();
    for u in page["Resources"].as_array().unwrap() {
        let ext = u["externalId"].as_str().unwrap().to_string();
        assert!(
            out.insert(ext.clone(), u.clone()).is_none(),
            "duplicate account for {ext}"
        );
    }
    out
}

/// Every server user agrees with the simulator's person of the same id, field by field.
fn compare(users: &BTreeMap<String, Json>, company: &[Employee]) {
    let by_id: BTreeMap<&str, &Employee> = company.iter().map(|e| (e.id.as_str(), e)).collect();
    let leaver =
        |e: &Employee| e.status == Some(EmploymentStatus::Inactive) || e.termination_date.is_some();
    let scim_id: BTreeMap<&str, &str> = users
        .iter()
        .map(|(ext, u)| (ext.as_str(), u["id"].as_str().unwrap()))
        .collect();
    for (ext, u) in users {
        let Some(e) = by_id.get(ext.as_str()) else {
            // Deleted in Personio: only a disabled account may remain.
            assert_eq!(u["active"], false, "{ext} is gone from Personio but active");
            continue;
        };
        let what = format!("person {ext}: {u}");
        // userName is the Personio id here: the generated company has people who share an
        // e-mail address (dirty data), which a unique userName cannot hold.
        assert_eq!(u["userName"], ext.as_str(), "{what}");
        if let Some(email) = &e.email {
            assert_eq!(u["emails"][0]["value"], email.as_str(), "{what}");
        }
        assert_eq!(u["name"]["givenName"], e.first_name.as_str(), "{what}");
        assert_eq!(u["name"]["familyName"], e.last_name.as_str(), "{what}");
        if let Some(title) = &e.position {
            assert_eq!(u["title"], title.as_str(), "{what}");
        }
        let department = e.department.as_ref().map(|d| d.name.as_str());
        assert_eq!(u[ENTERPRISE]["department"].as_str(), department, "{what}");
        assert_eq!(u[ENTERPRISE]["employeeNumber"], ext.as_str(), "{what}");
        let gone = leaver(e);
        if !gone {
            assert_eq!(u["active"], true, "{what}");
        }
        // The manager is set while the supervisor is in scope (a leaver is nobody's manager).
        let manager = e
            .supervisor_id
            .as_ref()
            .filter(|s| by_id.get(s.as_str()).is_some_and(|m| !leaver(m)))
            .and_then(|s| scim_id.get(s.as_str()).copied());
        if manager.is_some() && !gone {
            assert_eq!(
                u[ENTERPRISE]["manager"]["value"].as_str(),
                manager,
                "{what}"
            );
        }
    }
}

fn past_day() -> jiff::civil::Date {
    // A day before both the simulator's "today" and the real one.
    let sim_today = SimConfig::default().today;
    let real_today = jiff::Zoned::now().date();
    sim_today.min(real_today).yesterday().unwrap()
}

struct World {
    sim: SimHandle,
    peer: Peer,
    dir: PathBuf,
}

impl World {
    fn config(&self, policy: &str) -> PathBuf {
        let path = self.dir.join("config.toml");
        let body = format!(
            "state = \"sqlite://{state}\"\n\n[[personio]]\nname = \"acme\"\nbase_url = \"{url}\"\n\
             client_id = \"sim-client\"\nclient_secret = \"sim-secret\"\napi = \"v1\"\nrate_limit = false\n\n\
             [[target]]\nname = \"apps\"\ntype = \"scim\"\nsource = \"acme\"\nurl = \"{scim}\"\n\
             token = \"${{PSYNC_TEST_SCIM_TOKEN}}\"\nconcurrency = 4\n\n\
             [target.policy]\nmax_deprovision = \"50\"\n{policy}\n\n\
             [target.mapping.fields]\nuser_name = \"{{{{ id }}}}\"\n\n\
             [target.mapping.groups]\nlevels = [\"department\"]\n",
            state = self.dir.join("state.sqlite").display(),
            url = self.sim.base_url(),
            scim = self.peer.url,
        );
        std::fs::write(&path, body).unwrap();
        path
    }

    async fn sync(&self, policy: &str) -> String {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_personio-sync"));
        cmd.arg("sync")
            .arg("--config")
            .arg(self.config(policy))
            .env("PSYNC_TEST_SCIM_TOKEN", TOKEN);
        let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
            .await
            .unwrap();
        let both = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "sync failed: {both}");
        assert!(!both.contains(TOKEN), "the token leaked: {both}");
        both
    }

    async fn check(&self) -> BTreeMap<String, Json> {
        let users = users(&self.peer.url).await;
        compare(&users, &self.sim.expected_employees(SimApi::V1));
        users
    }
}

#[tokio::test]
async fn a_company_lives_through_its_lifecycle_in_scim2_server() {
    let Some(peer) = peer().await else { return };
    let dir = std::env::temp_dir().join(format!("psync-scim-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let sim = psync_personio_sim::start(
        SimConfig {
            employees: 120,
            rate_limits: false,
            ..SimConfig::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let w = World { sim, peer, dir };

    let out = w.sync("").await;
    let first = w.check().await;
    assert!(first.len() > 60, "{} users\n{out}", first.len());
    assert!(out.contains(&format!("{} created", first.len())), "{out}");
    assert!(
        w.sync("").await.contains("up to date"),
        "a resync changes nothing"
    );

    // Hire, move, manager change, e-mail change.
    let day = past_day();
    let hired = w.sim.hire(HireSpec {
        first_name: "Nia".into(),
        last_name: "Neu".into(),
        email: Some("nia.neu@sim-company.example".into()),
        position: Some("Analyst".into()),
        hire_date: Some(day),
        ..HireSpec::default()
    });
    let ids: Vec<String> = first.keys().cloned().collect();
    let (mover, managed, emailer) = (&ids[3], &ids[5], &ids[7]);
    let departments: Vec<String> = first
        .values()
        .filter_map(|u| u[ENTERPRISE]["department"].as_str().map(str::to_string))
        .collect();
    let other = departments
        .iter()
        .find(|d| Some(d.as_str()) != first[mover][ENTERPRISE]["department"].as_str())
        .unwrap()
        .clone();
    w.sim
        .move_employee(
            mover,
            MoveSpec {
                department: Some(other.clone()),
                ..MoveSpec::default()
            },
        )
        .unwrap();
    w.sim
        .update(
            managed,
            EmployeeUpdate {
                supervisor_id: Some(hired.clone()),
                ..EmployeeUpdate::default()
            },
        )
        .unwrap();
    w.sim
        .change_email(emailer, "renamed.person@sim-company.example")
        .unwrap();
    w.sync("").await;
    let after = w.check().await;
    assert_eq!(after[&hired]["title"], "Analyst");
    assert_eq!(after[mover][ENTERPRISE]["department"], other.as_str());
    assert_eq!(
        after[managed][ENTERPRISE]["manager"]["value"],
        after[&hired]["id"]
    );
    assert_eq!(
        after[emailer]["emails"][0]["value"],
        "renamed.person@sim-company.example"
    );
    assert_eq!(
        after[emailer]["id"], first[emailer]["id"],
        "an e-mail change keeps the account"
    );
    assert_eq!(after.len(), first.len() + 1);

    // The mover left the old department's group and joined the new one.
    let groups: Json = reqwest::Client::new()
        .get(format!("{}/Groups?count=1000", w.peer.url))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mover_id = after[mover]["id"].as_str().unwrap();
    let member_of: Vec<&str> = groups["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| {
            g["members"]
                .as_array()
                .is_some_and(|m| m.iter().any(|x| x["value"] == mover_id))
        })
        .map(|g| g["displayName"].as_str().unwrap())
        .collect();
    assert_eq!(member_of, [other.as_str()]);

    // Termination → disabled; rehire → enabled again, same account.
    w.sim.terminate(&hired, day).unwrap();
    w.sync("").await;
    let terminated = w.check().await;
    assert_eq!(terminated[&hired]["active"], false);
    w.sim.rehire(&hired, None).unwrap();
    w.sync("").await;
    let rehired = w.check().await;
    assert_eq!(rehired[&hired]["active"], true);
    assert_eq!(rehired[&hired]["id"], after[&hired]["id"]);

    // Deleted in Personio: disabled first, deleted when the policy says so.
    w.sim.delete(emailer).unwrap();
    w.sync("").await;
    assert_eq!(w.check().await[emailer]["active"], false);
    w.sync("delete_after_days = 0").await;
    let last = w.check().await;
    assert!(
        !last.contains_key(emailer.as_str()),
        "deleted after the grace period"
    );
    assert_eq!(last.len(), first.len());
    assert!(w.sync("delete_after_days = 0").await.contains("up to date"));
    let _ = std::fs::remove_dir_all(&w.dir);
}

/// A target that is down is quarantined for the run after 10 transient failures in a row:
/// the rest is not attempted (it is planned again next run) and the run says why.
#[tokio::test]
async fn a_target_that_is_down_is_quarantined_for_the_run() {
    let dir = std::env::temp_dir().join(format!("psync-scim-down-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let sim = psync_personio_sim::start(
        SimConfig {
            employees: 40,
            rate_limits: false,
            ..SimConfig::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    // Nothing listens on this port.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        format!(
            "state = \"sqlite://{state}\"\n\n[[personio]]\nname = \"acme\"\nbase_url = \"{url}\"\n\
             client_id = \"sim-client\"\nclient_secret = \"sim-secret\"\napi = \"v1\"\nrate_limit = false\n\n\
             [[target]]\nname = \"apps\"\ntype = \"scim\"\nsource = \"acme\"\n\
             url = \"http://127.0.0.1:{port}/v2\"\ntoken = \"t\"\nattempts = 1\nconcurrency = 1\n",
            state = dir.join("state.sqlite").display(),
            url = sim.base_url(),
        ),
    )
    .unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_personio-sync"));
    cmd.arg("sync").arg("--config").arg(&config);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let both = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1), "{both}");
    assert!(both.contains("quarantined"), "{both}");
    assert!(
        both.contains("10 operations in a row failed temporarily"),
        "{both}"
    );
    assert!(both.contains("cannot connect"), "{both}");
    assert!(
        both.contains("not attempted") || both.contains("not_attempted"),
        "{both}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
