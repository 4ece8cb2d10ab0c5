//! `serve`, `webhooks` and the `[service]`/`[schedule]`/`[notify]` sections: the real binary
//! against the simulator over loopback.
#![allow(clippy::unwrap_used, reason = "tests: a panic is a failed test")]

use psync_personio_sim::{HireSpec, SimConfig, SimHandle};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_personio-sync"))
}

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("psync-serve-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn both(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

async fn sim(employees: usize) -> SimHandle {
    psync_personio_sim::start(
        SimConfig {
            employees,
            rate_limits: false,
            ..SimConfig::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap()
}

async fn run(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

fn config(dir: &std::path::Path, sim: &str, extra: &str) -> PathBuf {
    let body = format!(
        "state = \"sqlite://{state}\"\n\n[[personio]]\nname = \"acme\"\nbase_url = \"{sim}\"\n\
         client_id = \"sim-client\"\nclient_secret = \"sim-secret\"\napi = \"v2\"\nrate_limit = false\n\n\
         [[target]]\nname = \"files\"\ntype = \"file\"\nsource = \"acme\"\npath = \"{out}\"\n\n{extra}",
        state = dir.join("state.sqlite").display(),
        out = dir.join("out").display(),
    );
    let path = dir.join("config.toml");
    std::fs::write(&path, body).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_problem_of_the_service_sections_is_reported_with_its_line() {
    let sim = sim(3).await;
    let dir = tempdir("validate");
    let path = config(
        &dir,
        &sim.base_url(),
        "[service]\nlisten = \"nowhere\"\nadmin_token = \"short\"\nport = 1\n\n\
         [service.webhooks.nobody]\ntoken = \"Bearer x\"\n\n\
         [schedule]\ncron = \"0 25 * * *\"\ntime_zone = \"Mars/Olympus\"\n\n\
         [schedule.targets.ghost]\ncron = \"0 3 * * *\"\n\n\
         [notify]\non = [\"failure\", \"sometimes\"]\n\n[notify.smtp]\nhost = \"localhost\"\nto = [\"ops@example.com\"]\n",
    );
    let mut cmd = bin();
    cmd.args(["validate", "--config"]).arg(&path);
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    for needle in [
        "service.listen",
        "service.admin_token",
        "unknown key 'port'",
        "service.webhooks.nobody",
        "schedule.cron",
        "schedule.time_zone",
        "schedule.targets.ghost",
        "notify.on",
        "missing: `from`",
    ] {
        assert!(err.contains(needle), "{needle} missing in:\n{err}");
    }
    assert!(
        err.contains("line 18: service.listen"),
        "lines are given:\n{err}"
    );
    assert!(
        err.contains("line 26: schedule.cron"),
        "lines are given:\n{err}"
    );
    assert!(!err.contains("Bearer x"), "no secret in messages");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_register_list_and_remove_manage_the_subscription() {
    let sim = sim(3).await;
    let dir = tempdir("webhooks");
    let path = config(
        &dir,
        &sim.base_url(),
        "[service.webhooks.acme]\ntoken = \"Bearer ${PSYNC_TEST_HOOK}\"\n\
         public_url = \"http://127.0.0.1:9/webhooks/personio/acme\"\n",
    );
    let psync = |args: &[&str]| {
        let mut cmd = bin();
        cmd.args(args)
            .arg("--config")
            .arg(&path)
            .env("PSYNC_TEST_HOOK", "hook-secret");
        cmd
    };
    let out = run(psync(&["webhooks", "register"])).await;
    assert!(out.status.success(), "{}", both(&out));
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(stdout.contains("registered"), "{stdout}");
    let again = run(psync(&["webhooks", "register"])).await;
    assert!(String::from_utf8_lossy(&again.stdout).contains("already registered"));
    let out = run(psync(&["webhooks", "list"])).await;
    let listed = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(listed.contains("ENABLED"), "{listed}");
    assert!(listed.contains("/webhooks/personio/acme"));
    assert!(!listed.contains("hook-secret"));
    let id = listed.split_whitespace().next().unwrap().to_string();
    let out = run(psync(&["webhooks", "remove", &id])).await;
    assert!(out.status.success(), "{}", both(&out));
    let out = run(psync(&["webhooks", "list"])).await;
    assert!(String::from_utf8_lossy(&out.stdout).contains("no webhook subscriptions"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_takes_webhooks_answers_the_api_and_stops_cleanly_on_sigterm() {
    let sim = sim(15).await;
    let dir = tempdir("serve");
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let path = config(
        &dir,
        &sim.base_url(),
        &format!(
            "[service]\nlisten = \"127.0.0.1:{port}\"\nadmin_token_file = \"admin.token\"\n\
             debounce_seconds = 0\n\n[service.webhooks.acme]\ntoken = \"Bearer hook-secret\"\n\
             company_id = \"4711\"\npublic_url = \"http://127.0.0.1:{port}/webhooks/personio/acme\"\n\n\
             [service.users.alice]\npassword = \"alice-password-123\"\n\n\
             [schedule]\ncron = \"0 2 * * *\"\ntime_zone = \"Europe/Berlin\"\n\n[notify]\ndry_run = true\n"
        ),
    );
    std::fs::write(dir.join("admin.token"), "admin-token-0123456789\n").unwrap();
    let mut child = bin()
        .args(["serve", "--config"])
        .arg(&path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let first = tokio::task::spawn_blocking(move || {
        let first = lines.next().unwrap().unwrap();
        (first, lines)
    })
    .await
    .unwrap();
    assert!(first.0.contains("serves on"), "{}", first.0);
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    assert_eq!(
        http.get(format!("{base}/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let r = http
        .post(format!("{base}/api/sync"))
        .bearer_auth("admin-token-0123456789")
        .json(&serde_json::json!({"wait": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = http.get(format!("{base}/api/runs")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    // The dashboard is mounted beside the API: its login page answers, the overview wants a login.
    let login = http.get(format!("{base}/login")).send().await.unwrap();
    assert_eq!(login.status(), 200);
    assert!(login.text().await.unwrap().contains("<form"));
    let overview = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{base}/"))
        .send()
        .await
        .unwrap();
    assert!(overview.status().is_redirection(), "{}", overview.status());
    // A configured user logs in with their password; a wrong one does not.
    for (password, ok) in [("alice-password-123", true), ("alice-password-124", false)] {
        let no_redirect = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let form = no_redirect
            .get(format!("{base}/login"))
            .send()
            .await
            .unwrap();
        let pre = form
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("psync_login="))
            .map(|v| v.split(';').next().unwrap().to_owned())
            .unwrap();
        let page = form.text().await.unwrap();
        let at = page.find(r#"name="csrf" value=""#).unwrap() + r#"name="csrf" value=""#.len();
        let csrf = &page[at..at + page[at..].find('"').unwrap()];
        let r = no_redirect
            .post(format!("{base}/login"))
            .header("cookie", pre)
            .form(&[("user", "alice"), ("password", password), ("csrf", csrf)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status() == 303, ok, "{password}: {}", r.status());
    }

    // Register through the CLI, then hire: the person arrives through the webhook.
    let mut cmd = bin();
    cmd.args(["webhooks", "register", "--config"]).arg(&path);
    let out = run(cmd).await;
    assert!(out.status.success(), "{}", both(&out));
    let id = sim.hire(HireSpec {
        first_name: "Serve".into(),
        last_name: "Hook".into(),
        ..HireSpec::default()
    });
    let jsonl = dir.join("out").join("files.jsonl");
    let mut found = false;
    for _ in 0..1500 {
        if std::fs::read_to_string(&jsonl)
            .is_ok_and(|t| t.contains(&format!("\"person\":\"{id}\"")))
        {
            found = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(found, "the webhook hire never reached the target");
    let metrics = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("psync_webhook_events_total{account=\"acme\",result=\"accepted\"}"),
        "{metrics}"
    );

    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let (status, rest) = tokio::task::spawn_blocking(move || {
        let rest: Vec<String> = first.1.map_while(Result::ok).collect();
        (child.wait().unwrap(), rest)
    })
    .await
    .unwrap();
    assert!(status.success(), "exit {status:?}");
    assert!(
        rest.iter().any(|l| l.contains("stopped cleanly")),
        "{rest:?}"
    );
}
