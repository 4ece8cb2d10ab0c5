//! The dashboard over HTTP and in a real browser: the simulator, an engine with a SQLite store
//! and a file target in a temp folder, and `psync_dashboard::router` on a loopback port.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] fns: a panic is a failed test"
)]

use psync_dashboard::{DashboardState, User};
use psync_engine::{Engine, FixedClock, SourceSetup, SyncOptions, TargetSetup};
use psync_mapping::MappingConfig;
use psync_model::{EmployeeId, MatchBy, Operation, TargetRecord, Value};
use psync_personio::{AccountConfig, ApiVersion, Limits, PersonioClient};
use psync_personio_sim::{SimConfig, SimHandle};
use psync_planner::{Policy, Threshold};
use psync_store::StateStore;
use psync_targets::file::{FileConfig, FileTarget};
use psync_targets::{RunInfo, RunReport, Target};
use secrecy::SecretString;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

const TOKEN: &str = "dashboard-admin-token";
const MAPPING: &str = r#"
[fields]
username = "{{ first_name | ascii | lower | replace(' ', '') }}.{{ last_name | ascii | lower | replace(' ', '') }}"
display_name = "{{ first_name }} {{ last_name }}"

[groups]
levels = ["department"]
"#;

/// The person whose create conflicts with a row the target already has.
const SEEDED: &str = "10002";
const MARKUP: &str = "<b>O'Brien</b>";

static N: AtomicU64 = AtomicU64::new(0);

struct World {
    sim: SimHandle,
    dir: PathBuf,
    engine: Arc<Engine>,
    base: String,
}

impl World {
    /// Simulator with `employees`, a first full sync, then two leavers → a held plan.
    async fn with_held_plan(employees: usize) -> (World, i64) {
        let config = SimConfig {
            employees,
            rate_limits: false,
            ..SimConfig::default()
        };
        let today = config.today;
        let sim = psync_personio_sim::start(config, "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let dir = std::env::temp_dir().join(format!(
            "psync-dashboard-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let noon = today
            .at(12, 0, 0, 0)
            .in_tz("Europe/Berlin")
            .unwrap()
            .timestamp();
        // Someone else's row for SEEDED: our create of that person conflicts and is parked.
        let seed = FileTarget::new("files", FileConfig::new(dir.join("out"))).unwrap();
        let info = RunInfo {
            run: 0,
            target: "files".into(),
            started_at: noon,
            dry_run: false,
        };
        seed.begin(&info).await.unwrap();
        let mut row = TargetRecord::new(EmployeeId::new(SEEDED));
        row.attributes.insert(
            "email".into(),
            Value::Text("someone.else@example.com".into()),
        );
        seed.apply(&Operation::Create {
            record: row,
            match_by: MatchBy::None,
        })
        .await
        .unwrap();
        seed.finish(&info, &RunReport::default()).await.unwrap();
        let store_url = format!("sqlite://{}", dir.join("state.sqlite").display());
        let client = PersonioClient::new(AccountConfig {
            name: "acme".into(),
            base_url: sim.base_url(),
            client_id: "sim-client".into(),
            client_secret: SecretString::from("sim-secret"),
            api: ApiVersion::V2,
            app_id: None,
            limits: Limits::unthrottled(),
        })
        .unwrap();
        let mapping_config: MappingConfig = toml::from_str(MAPPING).unwrap();
        let mapping = psync_mapping::compile("files", &mapping_config).unwrap();
        let target = FileTarget::new("files", FileConfig::new(dir.join("out"))).unwrap();
        let engine = Engine::new(
            psync_store::open(&store_url).await.unwrap(),
            vec![SourceSetup {
                name: "acme".into(),
                client,
            }],
            vec![TargetSetup {
                name: "files".into(),
                source: "acme".into(),
                mapping,
                policy: Policy {
                    max_deprovision: Some(Threshold::Count(1)),
                    match_by: MatchBy::None,
                    ..Policy::default()
                },
                max_shrink_percent: 20.0,
                concurrency: 4,
                attempts: 2,
                target: target.into(),
            }],
            Arc::new(FixedClock::new(noon)),
        )
        .locked(&store_url);
        let engine = Arc::new(engine);
        let mut world = World {
            sim,
            dir,
            engine,
            base: String::new(),
        };
        world.sync().await;
        let active: Vec<String> = world
            .records()
            .iter()
            .filter(|(id, r)| r.active && id.as_str() != SEEDED)
            .map(|(id, _)| id.clone())
            .collect();
        for id in &active[..3] {
            world.sim.terminate(id, today.yesterday().unwrap()).unwrap();
        }
        // A renamed person: a real attribute diff, with markup that must be escaped.
        world
            .sim
            .update(
                &active[3],
                psync_personio_sim::EmployeeUpdate {
                    last_name: Some(MARKUP.into()),
                    ..Default::default()
                },
            )
            .unwrap();
        world.sync().await;
        let held = world.engine.store().held_plans().await.unwrap();
        assert_eq!(
            held.len(),
            1,
            "three leavers over a threshold of one hold the plan"
        );
        let run = held[0].0;

        let state = DashboardState::new(world.engine.clone(), Some(SecretString::from(TOKEN)))
            .with_users(vec![User {
                name: "ops".into(),
                password: SecretString::from("ops-password-123"),
            }])
            .with_next_runs(Arc::new(move || {
                vec![(
                    "files".to_owned(),
                    noon + jiff::SignedDuration::from_hours(14),
                )]
            }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        world.base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            axum::serve(listener, psync_dashboard::router(state))
                .await
                .unwrap();
        });
        (world, run)
    }

    async fn sync(&self) {
        let engine = self.engine.clone();
        tokio::task::spawn_blocking(move || {
            tokio::runtime::Handle::current().block_on(async {
                let options = SyncOptions {
                    trigger: "cli".into(),
                    ..SyncOptions::default()
                };
                engine.sync(&options, None).await.unwrap()
            })
        })
        .await
        .unwrap();
    }

    fn records(&self) -> BTreeMap<String, TargetRecord> {
        let text = std::fs::read_to_string(self.dir.join("out").join("files.jsonl")).unwrap();
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let r: TargetRecord = serde_json::from_str(l).unwrap();
                (r.person.to_string(), r)
            })
            .collect()
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The `name=value` part of a response's Set-Cookie for `name`.
fn cookie_of(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap().to_owned())
}

/// The value of the first hidden `csrf` field of a page.
fn csrf_of(page: &str) -> String {
    let at = page.find(r#"name="csrf" value=""#).unwrap() + r#"name="csrf" value=""#.len();
    page[at..].split('"').next().unwrap().to_owned()
}

/// Logs in; returns the session cookie (or the failed login's status).
async fn login(base: &str, user: &str, password: &str) -> Result<String, u16> {
    let c = client();
    let form = c.get(format!("{base}/login")).send().await.unwrap();
    let pre = cookie_of(&form, "psync_login").unwrap();
    let token = csrf_of(&form.text().await.unwrap());
    let r = c
        .post(format!("{base}/login"))
        .header("cookie", pre)
        .form(&[("user", user), ("password", password), ("csrf", &token)])
        .send()
        .await
        .unwrap();
    match cookie_of(&r, "psync_session") {
        Some(session) if r.status() == 303 => Ok(session),
        _ => Err(r.status().as_u16()),
    }
}

async fn get(base: &str, path: &str, session: &str) -> (u16, String) {
    let r = client()
        .get(format!("{base}{path}"))
        .header("cookie", session)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_need_a_login_and_forms_need_the_csrf_token() {
    let (w, run) = World::with_held_plan(30).await;
    let b = &w.base;
    for path in ["/", "/runs", &format!("/runs/{run}"), "/held", "/problems"] {
        let r = client().get(format!("{b}{path}")).send().await.unwrap();
        assert_eq!(r.status(), 303, "{path} without a session");
        assert_eq!(r.headers()["location"], "/login");
    }
    let form = client().get(format!("{b}/login")).send().await.unwrap();
    let set = form.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    let csp = form.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"));
    assert_eq!(form.headers()["cache-control"], "no-store");
    let (s, _) = get(b, "/", "psync_session=forged").await;
    assert_eq!(s, 303, "an unknown session id is no session");
    assert_eq!(login(b, "", "wrong-token").await, Err(401));
    assert_eq!(login(b, "ops", TOKEN).await, Err(401));
    assert_eq!(login(b, "nobody", "ops-password-123").await, Err(401));
    login(b, "ops", "ops-password-123").await.unwrap();
    // The login form itself is protected by its double-submit token.
    let r = client()
        .post(format!("{b}/login"))
        .form(&[("user", ""), ("password", TOKEN), ("csrf", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    let session = login(b, "", TOKEN).await.unwrap();
    let approve = format!("{b}/held/{run}/approve");
    for csrf in ["", "0000"] {
        let r = client()
            .post(&approve)
            .header("cookie", &session)
            .form(&[("csrf", csrf)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "csrf {csrf:?}");
    }
    assert_eq!(
        w.engine.store().held_plans().await.unwrap().len(),
        1,
        "nothing approved without the token"
    );
    let (s, held) = get(b, "/held", &session).await;
    assert_eq!(s, 200);
    let r = client()
        .post(format!("{b}/held/{run}/reject"))
        .header("cookie", &session)
        .form(&[("csrf", csrf_of(&held))])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert!(w.engine.store().held_plans().await.unwrap().is_empty());
    assert_eq!(w.records().values().filter(|r| !r.active).count(), 0);

    // Logging out ends the session on the server.
    let (_, page) = get(b, "/", &session).await;
    let r = client()
        .post(format!("{b}/logout"))
        .header("cookie", &session)
        .form(&[("csrf", csrf_of(&page))])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(get(b, "/", &session).await.0, 303);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_show_real_data_and_approval_applies_the_held_plan() {
    let (w, run) = World::with_held_plan(30).await;
    let b = &w.base;
    let session = login(b, "", TOKEN).await.unwrap();
    let (s, overview) = get(b, "/", &session).await;
    assert_eq!(s, 200);
    for needle in [
        "files",
        "acme",
        "held",
        "Held plans waiting",
        "not scheduled",
    ] {
        if needle == "not scheduled" {
            assert!(!overview.contains(needle), "the next run is shown");
        } else {
            assert!(overview.contains(needle), "{needle} in {overview}");
        }
    }
    let (_, detail) = get(b, &format!("/runs/{run}"), &session).await;
    assert!(detail.contains("Approve and apply"), "{detail}");
    assert_eq!(
        detail
            .matches(r#"class="badge bad">disable</span>"#)
            .count(),
        3
    );
    let plan = w.engine.store().held_plans().await.unwrap().remove(0).1;
    let leaver = plan
        .operations
        .iter()
        .find(|op| op.kind().is_deprovision())
        .unwrap()
        .person()
        .to_string();
    assert!(detail.contains(&format!("/people/{leaver}")));

    // The first run's operations come from the journal, with their outcomes.
    let counts = w.engine.store().run(1).await.unwrap().unwrap().counts;
    assert!(
        counts["created"] > 10 && counts["parked"] == 1,
        "{counts:?}"
    );
    let (_, first) = get(b, "/runs/1", &session).await;
    assert!(
        first.contains(&format!(
            "Operations ({})",
            counts["created"] + counts["parked"]
        )),
        "{first}"
    );
    assert!(first.contains(r#"class="badge good">created</span>"#));
    assert!(first.contains("username"));

    let (s, person) = get(b, &format!("/people/{leaver}"), &session).await;
    assert_eq!(s, 200);
    assert!(person.contains("Provisioning log") && person.contains("create"));
    assert!(person.contains("Account in files") && person.contains(r#"badge good">active"#));
    assert_eq!(get(b, "/people/no-such-person", &session).await.0, 404);
    assert_eq!(get(b, "/runs/99999", &session).await.0, 404);

    // The rename shows old → new, and its markup is escaped wherever it shows.
    assert!(!detail.contains(MARKUP), "{detail}");
    assert!(
        detail.contains("&lt;b&gt;O&#39;Brien&lt;/b&gt;"),
        "{detail}"
    );
    assert!(detail.contains(r#"<td>display_name</td><td class="old">"#));

    let (_, held) = get(b, "/held", &session).await;
    let r = client()
        .post(format!("{b}/held/{run}/approve"))
        .header("cookie", &session)
        .form(&[("csrf", csrf_of(&held))])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let to = r.headers()["location"].to_str().unwrap().to_owned();
    let (_, applied) = get(b, &to, &session).await;
    assert_eq!(
        applied
            .matches(r#"class="badge bad">disable</span>"#)
            .count(),
        3,
        "{applied}"
    );
    assert!(applied.contains(r#"class="badge good">applied</span>"#));
    assert!(!applied.contains(r#"badge bad">failed"#) && !applied.contains("pending"));
    assert!(!w.records()[&leaver].active);
    let (_, person) = get(b, &format!("/people/{leaver}"), &session).await;
    assert!(person.contains(r#"badge bad">disabled"#), "{person}");

    // The conflicting create is an open problem, shown once with a Retry button.
    let (_, problems) = get(b, "/problems", &session).await;
    assert_eq!(
        problems.matches(r#"badge warn">parked"#).count(),
        1,
        "{problems}"
    );
    assert!(problems.contains(&format!(r#"name="person" value="{SEEDED}""#)));
    assert!(problems.contains("conflict"));
    // Retry is a one-person sync of that person (never a deprovisioning), recorded as a run.
    let r = client()
        .post(format!("{b}/problems/retry"))
        .header("cookie", &session)
        .form(&[
            ("csrf", csrf_of(&problems).as_str()),
            ("person", SEEDED),
            ("target", "files"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let to = r.headers()["location"].to_str().unwrap().to_owned();
    let retry_run: i64 = to.strip_prefix("/runs/").unwrap().parse().unwrap();
    let record = w.engine.store().run(retry_run).await.unwrap().unwrap();
    assert_eq!(record.trigger, "dashboard");
    let ops = w.engine.store().run_operations(retry_run).await.unwrap();
    assert_eq!(ops.len(), 1);
    assert_eq!(ops[0].person.as_str(), SEEDED);
    let (s, page) = get(b, &to, &session).await;
    assert_eq!(s, 200);
    assert!(
        page.contains(r#"badge warn">parked"#),
        "still conflicting: {page}"
    );

    // "Sync now" on the overview runs a full sync of that target, recorded as a run.
    let (_, overview) = get(b, "/", &session).await;
    assert!(overview.contains(r#"action="/sync""#), "{overview}");
    let r = client()
        .post(format!("{b}/sync"))
        .header("cookie", &session)
        .form(&[("csrf", csrf_of(&overview).as_str()), ("target", "files")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let to = r.headers()["location"].to_str().unwrap().to_owned();
    let full_run: i64 = to.strip_prefix("/runs/").unwrap().parse().unwrap();
    let record = w.engine.store().run(full_run).await.unwrap().unwrap();
    assert_eq!(
        (record.trigger.as_str(), full_run > retry_run),
        ("dashboard", true)
    );
    let refused = client()
        .post(format!("{b}/sync"))
        .header("cookie", &session)
        .form(&[("csrf", "wrong"), ("target", "files")])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_logs_in_reads_the_diff_and_approves_the_held_plan() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let script = root.join("tests/browser/dashboard.mjs");
    let modules = root.join("tests/browser/node_modules/playwright-core");
    let missing: Vec<&str> = [
        (!PathBuf::from("/usr/bin/chromium").exists()).then_some("/usr/bin/chromium"),
        (!modules.exists()).then_some("playwright-core (run scripts/install/browser.sh)"),
        std::process::Command::new("node")
            .arg("--version")
            .output()
            .is_err()
            .then_some("node"),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !missing.is_empty() {
        assert!(
            std::env::var_os("CI").is_none(),
            "the browser test needs {missing:?}: run scripts/install/browser.sh"
        );
        println!("SKIPPED: missing {missing:?}; run scripts/install/browser.sh");
        return;
    }
    let (w, run) = World::with_held_plan(30).await;
    let shots = root.join("../../target/test-artifacts/dashboard");
    std::fs::create_dir_all(&shots).unwrap();
    let leavers: Vec<String> = w.engine.store().held_plans().await.unwrap()[0]
        .1
        .operations
        .iter()
        .filter(|op| op.kind().is_deprovision())
        .map(|op| op.person().to_string())
        .collect();
    let mut node = std::process::Command::new("node");
    node.arg(&script)
        .arg(&w.base)
        .arg(TOKEN)
        .arg(&shots)
        .arg(run.to_string())
        .arg(w.dir.join("chromium-profile"));
    let out = tokio::task::spawn_blocking(move || node.output().unwrap())
        .await
        .unwrap();
    let log = format!(
        "--- stdout ---\n{}\n--- stderr ---\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "the browser script failed\n{log}");
    assert!(
        w.engine.store().held_plans().await.unwrap().is_empty(),
        "the held plan is resolved\n{log}"
    );
    let records = w.records();
    assert_eq!(leavers.len(), 3);
    for id in &leavers {
        assert!(!records[id].active, "{id} is disabled");
    }
    for shot in [
        "01-login",
        "02-overview",
        "03-held-diff",
        "04-applied",
        "05-person",
        "06-problems",
    ] {
        assert!(shots.join(format!("{shot}.png")).exists(), "{shot}\n{log}");
    }
}
