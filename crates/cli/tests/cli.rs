//! End-to-end tests of the `personio-sync` binary: real processes, a real simulator on loopback.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] fns: a panic is a failed test"
)]

use psync_personio_sim::{SimConfig, SimHandle};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_personio-sync"))
}

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("psync-cli-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write_config(dir: &Path, body: &str) -> PathBuf {
    let path = dir.join("config.toml");
    std::fs::write(&path, body).unwrap();
    path
}

fn account(url: &str, api: &str, secret: &str) -> String {
    format!(
        "[[personio]]\nname = \"acme\"\nbase_url = \"{url}\"\nclient_id = \"sim-client\"\n\
         client_secret = \"{secret}\"\napi = \"{api}\"\nrate_limit = false\n"
    )
}

async fn sim(employees: usize) -> SimHandle {
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    psync_personio_sim::start(
        SimConfig {
            employees,
            rate_limits: false,
            ..SimConfig::default()
        },
        addr,
    )
    .await
    .unwrap()
}

async fn run(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

/// Rows of the output: lines, except that CSV line breaks inside quotes do not count.
fn records(output: &str, format: &str) -> usize {
    if format != "csv" {
        return output.lines().count();
    }
    let mut quoted = false;
    let mut rows = 0;
    for c in output.chars() {
        match c {
            '"' => quoted = !quoted,
            '\n' if !quoted => rows += 1,
            _ => {}
        }
    }
    rows
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn employees_prints_every_employee_as_json_and_a_summary() {
    let sim = sim(137).await;
    let dir = tempdir("json");
    for api in ["v1", "v2"] {
        let config = write_config(&dir, &account(&sim.base_url(), api, "sim-secret"));
        let mut cmd = bin();
        cmd.args(["employees", "--config"])
            .arg(&config)
            .args(["--format", "json"]);
        let out = run(cmd).await;
        assert!(out.status.success(), "{api}: {}", text(&out.stderr));
        let employees: Vec<psync_model::Employee> = serde_json::from_slice(&out.stdout).unwrap();
        let expected = sim.expected_employees(match api {
            "v1" => psync_personio_sim::SimApi::V1,
            _ => psync_personio_sim::SimApi::V2,
        });
        assert_eq!(employees.len(), expected.len(), "{api}");
        assert_eq!(employees, expected, "{api}");
        let stderr = text(&out.stderr);
        assert!(stderr.contains("acme: 137 employees in"), "{api}: {stderr}");
        assert!(stderr.contains("requests"), "{stderr}");
    }
}

#[tokio::test]
async fn employees_as_csv_and_table() {
    let sim = sim(20).await;
    let dir = tempdir("csv");
    let config = write_config(&dir, &account(&sim.base_url(), "v1", "sim-secret"));
    for (format, lines) in [("csv", 21), ("table", 21)] {
        let mut cmd = bin();
        cmd.args(["employees", "--config"])
            .arg(&config)
            .args(["--format", format]);
        let out = run(cmd).await;
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_eq!(records(&text(&out.stdout), format), lines, "{format}");
    }
}

#[tokio::test]
async fn wrong_credentials_fail_with_exit_1_naming_the_account() {
    let sim = sim(5).await;
    let dir = tempdir("creds");
    let config = write_config(&dir, &account(&sim.base_url(), "v1", "wrong"));
    let mut cmd = bin();
    cmd.args(["employees", "--config"]).arg(&config);
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("acme"), "{stderr}");
    assert!(
        !stderr.contains("wrong"),
        "the secret must not be printed: {stderr}"
    );
}

#[tokio::test]
async fn unreachable_host_fails_with_exit_1() {
    // Bind and drop a listener: the port is closed when the command runs.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempdir("unreachable");
    let config = write_config(
        &dir,
        &account(&format!("http://127.0.0.1:{port}"), "v1", "s"),
    );
    let mut cmd = bin();
    cmd.args(["employees", "--config"]).arg(&config);
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains(&format!("127.0.0.1:{port}")),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn invalid_config_exits_2_with_every_problem() {
    let dir = tempdir("invalid");
    let config = write_config(
        &dir,
        "[[personio]]\nname = \"a\"\nclient_id = \"i\"\nclient_secret = \"s\"\napi = \"v9\"\n\
         [[personio]]\nname = \"b\"\nclient_idd = \"i\"\n",
    );
    let out = bin()
        .args(["validate", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("2 problems"), "{stderr}");
    assert!(
        stderr.contains("line 5: personio[0].api: 'v9' is not allowed"),
        "{stderr}"
    );
    assert!(
        stderr.contains("line 8: personio[1].client_idd"),
        "{stderr}"
    );

    let out = bin()
        .args(["employees", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = bin()
        .args(["employees", "--config", "/nonexistent/config.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn default_config_validates() {
    let out = bin().arg("default-config").output().unwrap();
    assert!(out.status.success());
    let dir = tempdir("default");
    let config = write_config(&dir, &text(&out.stdout));
    let out = bin()
        .args(["validate", "--config"])
        .arg(&config)
        .env("PERSONIO_CLIENT_ID", "x")
        .env("PERSONIO_CLIENT_SECRET", "y")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = bin()
        .args(["validate", "--config"])
        .arg(&config)
        .env_remove("PERSONIO_CLIENT_ID")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("PERSONIO_CLIENT_ID is not set"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn sim_prints_its_address_first_and_serves() {
    let mut child = bin()
        .args(["sim", "--employees", "3", "--no-rate-limit"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("{line}"))
        .to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let status = rt.block_on(async {
        reqwest::Client::new()
            .get(format!("{url}/v1/company/employees"))
            .send()
            .await
            .unwrap()
            .status()
    });
    assert_eq!(status.as_u16(), 401, "no token → 401 like Personio");
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn demo_runs_end_to_end() {
    let dir = tempdir("demo");
    let out = bin()
        .args(["demo", "--employees", "60", "--dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("3. First sync: run 1: applied ("),
        "{stdout}"
    );
    assert!(
        stdout.contains("+ create"),
        "the second plan shows the joiner: {stdout}"
    );
    assert!(stdout.contains("- disable"), "and the leaver: {stdout}");
    assert!(
        stdout.contains("7. Third sync (nothing changed): run 3: up to date: 0 writes"),
        "{stdout}"
    );
    assert!(dir.join("out").join("hr-directory.csv").exists());
    assert!(dir.join("state.sqlite").exists());
    // A second demo starts from scratch again.
    let again = bin()
        .args(["demo", "--employees", "60", "--dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(again.status.success());
    assert!(text(&again.stdout).contains("3. First sync: run 1: applied ("));
}

#[tokio::test]
async fn check_probes_v1_and_v2_accounts_and_fails_on_bad_credentials() {
    let sim = sim(5).await;
    let dir = tempdir("check");
    for (api, secret, code) in [
        ("v1", "sim-secret", 0),
        ("v2", "sim-secret", 0),
        ("v2", "wrong", 1),
    ] {
        let config = write_config(&dir, &account(&sim.base_url(), api, secret));
        let mut cmd = bin();
        cmd.args(["check", "--config"]).arg(&config);
        let out = run(cmd).await;
        assert_eq!(
            out.status.code(),
            Some(code),
            "{api}/{secret}: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
    }
}

#[tokio::test]
async fn check_probes_every_target() {
    let sim = sim(5).await;
    let dir = tempdir("check-targets");
    std::fs::write(dir.join("a-file"), "not a directory").unwrap();
    let targets = format!(
        "{}\n[[target]]\nname = \"hr\"\ntype = \"file\"\nsource = \"acme\"\npath = \"{ok}\"\n\n\
         [[target]]\nname = \"broken\"\ntype = \"file\"\nsource = \"acme\"\npath = \"{bad}\"\n",
        account(&sim.base_url(), "v1", "sim-secret"),
        ok = dir.join("out").display(),
        bad = dir.join("a-file").join("out").display(),
    );
    let config = write_config(&dir, &targets);
    let mut cmd = bin();
    cmd.args(["check", "--config"]).arg(&config);
    let out = run(cmd).await;
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("ok    personio 'acme'"), "{stdout}");
    assert!(stdout.contains("ok    target 'hr' (file)"), "{stdout}");
    assert!(
        stdout.contains("FAIL  target 'broken' (file)") && stdout.contains("not a directory"),
        "{stdout}"
    );
}
