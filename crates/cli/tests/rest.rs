//! End-to-end: the binary runs `examples/users-sync.toml` (pointed at the simulator and at a
//! loopback "users/sync" API) through an initial sync in chunks, a no-op resync, a person the
//! API refuses (parked and reported, the rest applied, applied on the next run once fixed), a
//! termination and a deletion; the API's users are compared field by field with Personio's.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] fns: a panic is a failed test"
)]

use psync_model::{Employee, EmploymentStatus};
use psync_personio_sim::{SimApi, SimConfig, SimHandle};
use psync_target_http::receiver::{Receiver, Recorded};
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

const KEY: &str = "lms-key-2b9e41";
const SECRET: &str = "lms-secret-f00d77";
const SYNC: &str = "/api/enterprise/v1/users/sync";

struct World {
    sim: SimHandle,
    api: Receiver,
    dir: PathBuf,
}

impl World {
    /// The shipped example, pointed at the simulator and the receiver, 25 users per request.
    fn config(&self) -> PathBuf {
        let example = std::fs::read_to_string(
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/users-sync.toml"),
        )
        .unwrap();
        let replace = |text: String, from: &str, to: &str| {
            assert!(text.contains(from), "the example no longer has {from}");
            text.replacen(from, to, 1)
        };
        let mut config = replace(example, "https://api.personio.de", &self.sim.base_url());
        config = replace(config, "api = \"v1\"", "api = \"v1\"\nrate_limit = false");
        config = replace(config, "https://lms.example.com", &self.api.url);
        config = replace(config, "size = 100", "size = 25");
        config = replace(config, "rate_limit = 5", "rate_limit = 50");
        config = replace(
            config,
            "sqlite://personio-sync.sqlite",
            &format!("sqlite://{}", self.dir.join("state.sqlite").display()),
        );
        config = replace(
            config,
            "max_deprovision = \"5%\"",
            "max_deprovision = \"50\"",
        );
        let path = self.dir.join("users-sync.toml");
        std::fs::write(&path, config).unwrap();
        path
    }

    async fn run(&self, args: &[&str]) -> (bool, String) {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_personio-sync"));
        cmd.args(args)
            .arg("--config")
            .arg(self.config())
            .env("PERSONIO_CLIENT_ID", "sim-client")
            .env("PERSONIO_CLIENT_SECRET", "sim-secret")
            .env("LMS_API_KEY", KEY)
            .env("LMS_API_SECRET", SECRET);
        let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
            .await
            .unwrap();
        let both = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            !both.contains(KEY) && !both.contains(SECRET),
            "a credential leaked: {both}"
        );
        (out.status.success(), both)
    }

    async fn sync(&self) -> String {
        let (ok, out) = self.run(&["sync"]).await;
        assert!(ok, "sync failed: {out}");
        out
    }

    fn sync_requests(&self) -> Vec<Recorded> {
        self.api
            .requests()
            .into_iter()
            .filter(|q| q.path == SYNC)
            .collect()
    }
}

fn country(office: &str) -> &'static str {
    match office {
        "Munich" | "Berlin" => "DE",
        "Vienna" => "AT",
        "Zurich" => "CH",
        "Madrid" => "ES",
        "London" => "GB",
        "Amsterdam" => "NL",
        other => panic!("an office the example does not know: {other}"),
    }
}

/// Every user holds its person's values (active only while the person is in scope; joiners
/// who have not started yet are created inactive); everybody active in Personio has a user.
fn compare(users: &BTreeMap<String, Json>, company: &[Employee]) {
    for e in company {
        if e.status == Some(EmploymentStatus::Active) && e.termination_date.is_none() {
            assert!(
                users.contains_key(e.id.as_str()),
                "{} is active but has no user",
                e.id
            );
        }
    }
    let by_id: BTreeMap<&str, &Employee> = company.iter().map(|e| (e.id.as_str(), e)).collect();
    for (id, u) in users {
        let what = format!("person {id}: {u}");
        let Some(e) = by_id.get(id.as_str()) else {
            assert_eq!(u["status"], "inactive", "gone from Personio: {what}");
            continue;
        };
        assert_eq!(u["email"].as_str(), e.email.as_deref(), "{what}");
        assert_eq!(u["first_name"], e.first_name.as_str(), "{what}");
        assert_eq!(u["last_name"], e.last_name.as_str(), "{what}");
        let department = e.department.as_ref().map(|d| d.name.as_str());
        assert_eq!(u["department"].as_str(), department, "{what}");
        let office = e.office.as_ref().map(|o| o.name.as_str());
        assert_eq!(u["location"].as_str(), office, "{what}");
        assert_eq!(
            u["country_code"].as_str(),
            Some(office.map_or("", country)),
            "{what}"
        );
        match e.status {
            Some(EmploymentStatus::Inactive) => assert_eq!(u["status"], "inactive", "{what}"),
            Some(EmploymentStatus::Active) if e.termination_date.is_none() => {
                assert_eq!(u["status"], "active", "{what}");
            }
            _ => {}
        }
    }
}

#[tokio::test]
async fn the_users_sync_example_keeps_an_api_in_step() {
    let dir = std::env::temp_dir().join(format!("psync-rest-cli-{}", std::process::id()));
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
    let api = Receiver::start(|s| s.api_key = Some((KEY.into(), SECRET.into())))
        .await
        .unwrap();
    let w = World { sim, api, dir };

    let (ok, out) = w.run(&["check"]).await;
    assert!(ok && out.contains("reachable"), "{out}");

    // Initial sync: everybody in scope, in chunks of at most 25, every request authenticated.
    let out = w.sync().await;
    let company = w.sim.expected_employees(SimApi::V1);
    let users = w.api.state().users.clone();
    compare(&users, &company);
    let expected = users.len();
    assert!(expected > 60, "{expected}");
    assert!(out.contains(&format!("{expected} created")), "{out}");
    let requests = w.sync_requests();
    let sizes: Vec<usize> = requests
        .iter()
        .map(|q| q.body["users"].as_array().unwrap().len())
        .collect();
    assert!(sizes.iter().all(|&n| (1..=25).contains(&n)), "{sizes:?}");
    assert_eq!(sizes.iter().sum::<usize>(), expected);
    assert!(requests.len() >= expected.div_ceil(25), "{sizes:?}");
    for q in w.api.requests() {
        assert_eq!(q.headers.get("x-api-key").map(String::as_str), Some(KEY));
        assert_eq!(
            q.headers.get("x-api-secret").map(String::as_str),
            Some(SECRET)
        );
        assert_eq!(q.headers.get("x-tenant").map(String::as_str), Some("acme"));
    }

    // A resync writes nothing.
    let out = w.sync().await;
    assert!(out.contains("up to date"), "{out}");
    assert_eq!(
        w.sync_requests().len(),
        requests.len(),
        "a no-op resync sends nothing"
    );

    // The API refuses one person (an address it does not accept): parked and reported, the
    // others go through; once fixed in Personio, the next run applies it.
    let ids: Vec<String> = users.keys().cloned().collect();
    let (refused, renamed) = (&ids[2], &ids[4]);
    w.sim.change_email(refused, "no-at-sign.example").unwrap();
    w.sim
        .change_email(renamed, "renamed.person@sim-company.example")
        .unwrap();
    let (_, out) = w.run(&["sync"]).await;
    assert!(
        out.contains(refused.as_str()) && out.contains("email is not an e-mail address"),
        "{out}"
    );
    let users = w.api.state().users.clone();
    assert_eq!(
        users[renamed]["email"],
        "renamed.person@sim-company.example"
    );
    assert_ne!(users[refused]["email"], "no-at-sign.example");
    w.sim
        .change_email(refused, "fixed.address@sim-company.example")
        .unwrap();
    w.sync().await;
    assert_eq!(
        w.api.state().users[refused]["email"],
        "fixed.address@sim-company.example"
    );

    // A termination and a deletion: the accounts are sent inactive, nobody is duplicated.
    let (leaver, gone) = (&ids[6], &ids[8]);
    let yesterday = SimConfig::default()
        .today
        .min(jiff::Zoned::now().date())
        .yesterday()
        .unwrap();
    w.sim.terminate(leaver, yesterday).unwrap();
    w.sim.delete(gone).unwrap();
    w.sync().await;
    let users = w.api.state().users.clone();
    assert_eq!(users[leaver]["status"], "inactive");
    assert_eq!(users[gone]["status"], "inactive");
    assert_eq!(users.len(), expected, "nobody duplicated");
    compare(&users, &w.sim.expected_employees(SimApi::V1));
    let _ = std::fs::remove_dir_all(&w.dir);
}

#[test]
fn a_broken_rest_target_is_refused_with_every_problem_and_its_place() {
    let dir = std::env::temp_dir().join(format!("psync-rest-invalid-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, body: &str| {
        let path = dir.join(name);
        std::fs::write(&path, body).unwrap();
        path
    };
    let head = "[[personio]]\nname = \"acme\"\nclient_id = \"i\"\nclient_secret = \"s\"\n\n\
                [[target]]\nname = \"lms\"\ntype = \"rest\"\nsource = \"acme\"\n";
    let validate = |path: &PathBuf| {
        let out = Command::new(env!("CARGO_BIN_EXE_personio-sync"))
            .args(["validate", "--config"])
            .arg(path)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };

    // A template that cannot give JSON, a bad pointer, a batch too large: all at once.
    let templates = write(
        "templates.toml",
        &format!(
            "{head}url = \"https://lms.example.com\"\ntoken = \"t\"\n\n[target.batch]\n\
             path = \"/sync\"\nsize = 50000\nresults = \"results\"\n\
             user = '{{ \"email\": {{{{ email }}}} }}'\n"
        ),
    );
    let (code, stderr) = validate(&templates);
    assert_eq!(code, Some(2), "{stderr}");
    for want in [
        "target[0].batch.user",
        "tojson",
        "target[0].batch.size",
        "target[0].batch.results",
        "3 problems",
    ] {
        assert!(stderr.contains(want), "{want}: {stderr}");
    }

    // An auth kind that does not exist: named with the ones that do.
    let auth = write(
        "auth.toml",
        &format!(
            "{head}url = \"https://lms.example.com\"\nauth = \"kerberos\"\n\n[target.batch]\n\
             path = \"/sync\"\nuser = '{{}}'\n"
        ),
    );
    let (code, stderr) = validate(&auth);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("kerberos") && stderr.contains("api_key"),
        "{stderr}"
    );

    // A template that does not compile.
    let syntax = write(
        "syntax.toml",
        &format!(
            "{head}url = \"https://lms.example.com\"\ntoken = \"t\"\n\n[target.create]\n\
             path = \"/users\"\nbody = '{{ \"email\": {{{{ email | tojson }}' \n\n\
             [target.update]\npath = \"/users/{{{{ remote_id }}}}\"\n"
        ),
    );
    let (code, stderr) = validate(&syntax);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("target[0].create.body") && stderr.contains("does not compile"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
