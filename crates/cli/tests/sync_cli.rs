//! End-to-end tests of the sync core's commands: the real binary against the simulator over HTTP.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] fns: a panic is a failed test"
)]

use psync_personio_sim::{HireSpec, MoveSpec, SimConfig, SimHandle};
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Output};

// ---------------------------------------------------------------------------------------------
// Helpers

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_personio-sync"))
}

/// A fresh, empty directory for one test.
fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("psync-sync-cli-{name}-{}", std::process::id()));
    if dir.exists() {
        std::fs::remove_dir_all(&dir).unwrap();
    }
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// stdout and stderr of a finished command, for assertion messages.
fn both(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
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

/// The `[[personio]]` block every test uses.
fn account(url: &str) -> String {
    format!(
        "[[personio]]\nname = \"acme\"\nbase_url = \"{url}\"\nclient_id = \"sim-client\"\n\
         client_secret = \"sim-secret\"\napi = \"v1\"\nrate_limit = false\n"
    )
}

/// One test's world: a simulator, a state file and a file target `files` in a temp dir.
struct World {
    sim: SimHandle,
    dir: PathBuf,
    config: PathBuf,
}

impl World {
    /// A simulator with `employees` people and a config whose `[target.policy]` is `policy`.
    async fn new(name: &str, employees: usize, policy: &str) -> World {
        let sim = sim(employees).await;
        let dir = tempdir(name);
        let body = format!(
            "state = \"sqlite://{state}\"\n\n{account}\n[[target]]\nname = \"files\"\n\
             type = \"file\"\nsource = \"acme\"\npath = \"{out}\"\nformats = [\"csv\", \"jsonl\"]\n\n\
             [target.policy]\n{policy}\n",
            state = dir.join("state.sqlite").display(),
            account = account(&sim.base_url()),
            out = dir.join("out").display(),
        );
        let config = dir.join("config.toml");
        std::fs::write(&config, body).unwrap();
        World { sim, dir, config }
    }

    fn state_file(&self) -> PathBuf {
        self.dir.join("state.sqlite")
    }

    fn out_dir(&self) -> PathBuf {
        self.dir.join("out")
    }

    fn jsonl_path(&self) -> PathBuf {
        self.out_dir().join("files.jsonl")
    }

    fn csv_path(&self) -> PathBuf {
        self.out_dir().join("files.csv")
    }

    /// Runs `personio-sync <args…> --config <config>`.
    async fn psync(&self, args: &[&str]) -> Output {
        let mut cmd = bin();
        cmd.args(args).arg("--config").arg(&self.config);
        run(cmd).await
    }

    /// Runs a command that must succeed; returns its stdout.
    async fn ok(&self, args: &[&str]) -> String {
        let out = self.psync(args).await;
        assert!(out.status.success(), "{args:?}: {}", both(&out));
        text(&out.stdout)
    }

    /// The JSONL snapshot by person id (empty when the file does not exist).
    fn rows(&self) -> BTreeMap<String, Json> {
        let Ok(body) = std::fs::read_to_string(self.jsonl_path()) else {
            return BTreeMap::new();
        };
        body.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let row: Json = serde_json::from_str(l).unwrap();
                (row["person"].as_str().unwrap().to_string(), row)
            })
            .collect()
    }

    fn active(&self, id: &str) -> bool {
        let rows = self.rows();
        let row = rows
            .get(id)
            .unwrap_or_else(|| panic!("no JSONL row for {id}"));
        row["active"].as_bool().unwrap()
    }

    /// Active rows of active people hired before `before` (YYYY-MM-DD), in id order: people
    /// that can be terminated on `before` and then are leavers.
    fn terminable(&self, before: &str) -> Vec<String> {
        self.rows()
            .into_iter()
            .filter(|(_, row)| {
                row["active"] == Json::Bool(true)
                    && attr(row, "hire_date").is_some_and(|d| d.as_str() < before)
                    && attr(row, "status").as_deref() == Some("active")
            })
            .map(|(id, _)| id)
            .collect()
    }
}

/// A text or date attribute of a JSONL row.
fn attr(row: &Json, name: &str) -> Option<String> {
    row["attributes"][name]["value"]
        .as_str()
        .map(str::to_string)
}

/// A value of `like`'s type from its JSON string form (dates without naming `jiff`).
fn parse_like<T: serde::de::DeserializeOwned>(_like: &T, text: &str) -> T {
    serde_json::from_value(Json::String(text.to_string())).unwrap()
}

/// A value of whatever type the caller needs from its JSON string form (e.g. a date).
fn parse<T: serde::de::DeserializeOwned>(text: &str) -> T {
    serde_json::from_value(Json::String(text.to_string())).unwrap()
}

/// A day (YYYY-MM-DD) in the past both for the simulator (its fixed today) and for the binary
/// (the system clock): the day before the earlier of the two.
fn past_day() -> String {
    let sim_today = SimConfig::default().today;
    let epoch = parse_like(&sim_today, "1970-01-01");
    let sim_days = i64::from(epoch.until(sim_today).unwrap().get_days());
    let real_days = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .div_euclid(86_400) as i64;
    let mut day = sim_today.yesterday().unwrap();
    for _ in real_days..sim_days {
        day = day.yesterday().unwrap();
    }
    day.to_string()
}

/// The number in `Plan: N to create, …` (the first such line).
fn planned_creates(stdout: &str) -> usize {
    let line = stdout
        .lines()
        .find(|l| l.starts_with("Plan: "))
        .unwrap_or_else(|| panic!("no `Plan:` line in\n{stdout}"));
    line.trim_start_matches("Plan: ")
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// The run id in `HELD (run N): …`.
fn held_run(stdout: &str) -> String {
    let rest = stdout
        .split("HELD (run ")
        .nth(1)
        .unwrap_or_else(|| panic!("no `HELD (run N)` in\n{stdout}"));
    rest.split(')').next().unwrap().to_string()
}

/// The line of `runs` output for run `id`.
fn runs_line(runs: &str, id: &str) -> String {
    runs.lines()
        .find(|l| l.split_whitespace().next() == Some(id))
        .unwrap_or_else(|| panic!("run {id} is not listed:\n{runs}"))
        .to_string()
}

// ---------------------------------------------------------------------------------------------
// plan / sync / runs / history

#[tokio::test]
async fn plan_shows_the_creates_and_writes_nothing_anywhere() {
    let w = World::new("plan", 50, "").await;
    let stdout = w.ok(&["plan"]).await;
    assert!(stdout.contains("+ create "), "{stdout}");
    assert!(planned_creates(&stdout) > 0, "{stdout}");
    assert!(
        !w.state_file().exists(),
        "plan created the state file {}",
        w.state_file().display()
    );
    assert!(
        !w.out_dir().exists(),
        "plan created the target directory {}",
        w.out_dir().display()
    );

    let stdout = w.ok(&["plan", "--format", "json"]).await;
    let json: Json = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("plan --format json is not JSON ({e}):\n{stdout}"));
    let operations = json["targets"][0]["plan"]["operations"]
        .as_array()
        .unwrap_or_else(|| panic!("no targets[0].plan.operations in\n{stdout}"));
    assert!(!operations.is_empty(), "{stdout}");
    assert_eq!(json["targets"][0]["target"], "files", "{stdout}");
    assert!(!w.state_file().exists(), "plan --format json wrote state");
    assert!(!w.out_dir().exists(), "plan --format json wrote the target");
}

#[tokio::test]
async fn sync_writes_the_files_then_is_up_to_date_and_records_runs_and_history() {
    let w = World::new("sync", 50, "").await;
    let planned = planned_creates(&w.ok(&["plan"]).await);

    let stdout = w.ok(&["sync"]).await;
    assert!(stdout.contains("run 1: applied"), "{stdout}");
    assert!(stdout.contains(&format!("{planned} created")), "{stdout}");
    assert!(w.csv_path().is_file(), "{}", w.csv_path().display());
    assert!(w.jsonl_path().is_file(), "{}", w.jsonl_path().display());
    let rows = w.rows();
    assert_eq!(rows.len(), planned, "one JSONL row per created person");
    assert!(rows.values().all(|r| r["active"] == Json::Bool(true)));
    let csv = std::fs::read_to_string(w.csv_path()).unwrap();
    assert!(csv.starts_with("person,active,"), "{csv}");
    for id in rows.keys() {
        assert_eq!(
            csv.lines()
                .filter(|l| l.starts_with(&format!("{id},")))
                .count(),
            1,
            "{id} in the CSV"
        );
    }

    let stdout = w.ok(&["sync"]).await;
    assert!(stdout.contains("up to date"), "{stdout}");
    assert!(stdout.contains("run 2"), "{stdout}");
    assert_eq!(w.rows(), rows, "an up-to-date sync changes nothing");

    let runs = w.ok(&["runs"]).await;
    let first = runs_line(&runs, "1");
    let second = runs_line(&runs, "2");
    for line in [&first, &second] {
        assert!(line.contains("sync"), "{runs}");
        assert!(line.contains("succeeded"), "{runs}");
        assert!(line.contains("files"), "{runs}");
    }
    assert!(first.contains(&format!("{planned} created")), "{runs}");
    assert!(!runs.contains("awaiting"), "{runs}");

    let id = rows.keys().next().unwrap();
    let history = w.ok(&["history", id]).await;
    assert!(
        history.contains(&format!("Personio versions of {id}")),
        "{history}"
    );
    assert!(history.contains("run 1 (acme)"), "{history}");
    let email = attr(&rows[id], "email");
    if let Some(email) = email {
        assert!(history.contains(&format!("<{email}>")), "{history}");
    }
    assert!(history.contains("Provisioning log:"), "{history}");
    assert!(history.contains("run 1 files create"), "{history}");

    let nobody = w.ok(&["history", "99999999"]).await;
    assert!(nobody.contains("nothing is recorded"), "{nobody}");
}

#[tokio::test]
async fn joiner_mover_and_new_email_are_planned_per_attribute_then_applied() {
    let w = World::new("jml", 50, "").await;
    w.ok(&["sync"]).await;
    let rows = w.rows();

    // A mover: someone moved to a department another provisioned person is in.
    let (mover, from, to) = rows
        .iter()
        .find_map(|(id, row)| {
            let from = attr(row, "department")?;
            let to = rows
                .values()
                .filter_map(|r| attr(r, "department"))
                .find(|d| *d != from)?;
            Some((id.clone(), from, to))
        })
        .unwrap();
    w.sim
        .move_employee(
            &mover,
            MoveSpec {
                department: Some(to.clone()),
                ..MoveSpec::default()
            },
        )
        .unwrap();

    // A new e-mail for someone else who has one.
    let (renamed, old_email) = rows
        .iter()
        .filter(|(id, _)| **id != mover)
        .find_map(|(id, row)| Some((id.clone(), attr(row, "email")?)))
        .unwrap();
    let new_email = "new.address.e2e@sim-company.example";
    w.sim.change_email(&renamed, new_email).unwrap();

    // A joiner whose first day has passed.
    let joiner = w.sim.hire(HireSpec {
        first_name: "Zelda".into(),
        last_name: "Joiner".into(),
        email: Some("zelda.joiner@sim-company.example".into()),
        department: Some(to.clone()),
        hire_date: Some(parse(&past_day())),
        ..HireSpec::default()
    });
    assert!(!joiner.is_empty(), "the simulator refused the hire");

    let plan = w.ok(&["plan"]).await;
    assert!(
        plan.contains(&format!("+ create {joiner} Zelda Joiner")),
        "{plan}"
    );
    assert!(plan.contains(&format!("~ update {mover}")), "{plan}");
    assert!(
        plan.contains(&format!("department {from:?} → {to:?}")),
        "{plan}"
    );
    assert!(plan.contains(&format!("~ update {renamed}")), "{plan}");
    assert!(
        plan.contains(&format!("email {old_email:?} → {new_email:?}")),
        "{plan}"
    );
    assert!(
        plan.contains("Plan: 1 to create, "),
        "exactly one create: {plan}"
    );
    assert_eq!(w.rows(), rows, "plan changed the target");

    let stdout = w.ok(&["sync"]).await;
    assert!(stdout.contains("applied"), "{stdout}");
    assert!(stdout.contains("1 created"), "{stdout}");
    let csv = std::fs::read_to_string(w.csv_path()).unwrap();
    assert_eq!(
        csv.lines()
            .filter(|l| l.starts_with(&format!("{joiner},")))
            .count(),
        1,
        "the joiner is in the CSV exactly once:\n{csv}"
    );
    assert_eq!(csv.matches("zelda.joiner@sim-company.example").count(), 1);
    let after = w.rows();
    assert_eq!(after.len(), rows.len() + 1);
    assert_eq!(attr(&after[&mover], "department"), Some(to));
    assert_eq!(attr(&after[&renamed], "email").as_deref(), Some(new_email));
    assert!(w.active(&joiner));

    let stdout = w.ok(&["sync"]).await;
    assert!(stdout.contains("up to date"), "{stdout}");
}

#[tokio::test]
async fn one_person_sync_prints_a_trace_and_never_deprovisions() {
    let w = World::new("one", 40, "").await;

    // A joiner synced alone, before any full sync: created, with a trace.
    let joiner = w.sim.hire(HireSpec {
        first_name: "Otto".into(),
        last_name: "Single".into(),
        email: Some("otto.single@sim-company.example".into()),
        hire_date: Some(parse(&past_day())),
        ..HireSpec::default()
    });
    let stdout = w.ok(&["sync", "--employee", &joiner]).await;
    for label in [
        "trace:",
        "fetched:",
        "in scope:",
        "matched:",
        "action:",
        "result:",
    ] {
        assert!(stdout.contains(label), "{label}: {stdout}");
    }
    assert!(stdout.contains("Otto Single"), "{stdout}");
    assert!(stdout.contains("create"), "{stdout}");
    let rows = w.rows();
    assert_eq!(rows.len(), 1, "only the one person is written: {rows:?}");
    assert!(w.active(&joiner));

    // A full sync, then someone leaves: a one-person sync does not disable them.
    w.ok(&["sync"]).await;
    let day = past_day();
    let leaver = w.terminable(&day).into_iter().next().unwrap();
    w.sim.terminate(&leaver, parse(&day)).unwrap();
    let before = std::fs::read(w.jsonl_path()).unwrap();
    let stdout = w.ok(&["sync", "--employee", &leaver]).await;
    for label in ["fetched:", "in scope:", "matched:", "action:", "result:"] {
        assert!(stdout.contains(label), "{label}: {stdout}");
    }
    assert!(stdout.contains("managed account"), "{stdout}");
    assert!(!stdout.contains("- disable"), "{stdout}");
    assert!(w.active(&leaver), "a one-person sync disabled {leaver}");
    assert_eq!(std::fs::read(w.jsonl_path()).unwrap(), before);

    // The full plan does.
    let plan = w.ok(&["plan"]).await;
    assert!(plan.contains(&format!("- disable {leaver}")), "{plan}");
}

// ---------------------------------------------------------------------------------------------
// Guards

#[tokio::test]
async fn too_many_leavers_hold_the_plan_until_approved_or_rejected() {
    let w = World::new("held", 50, "max_deprovision = \"1\"").await;
    w.ok(&["sync"]).await;
    let day = past_day();
    let people = w.terminable(&day);
    assert!(people.len() >= 4, "{people:?}");
    let (a, b, c, d) = (&people[0], &people[1], &people[2], &people[3]);
    for id in [a, b] {
        w.sim.terminate(id, parse(&day)).unwrap();
    }

    let out = w.psync(&["sync"]).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "a held plan is not a failure: {}",
        both(&out)
    );
    let stdout = text(&out.stdout);
    assert!(stdout.contains("HELD"), "{stdout}");
    assert!(stdout.contains(&format!("- disable {a}")), "{stdout}");
    assert!(stdout.contains(&format!("- disable {b}")), "{stdout}");
    let held = held_run(&stdout);
    assert!(w.active(a) && w.active(b), "a held plan applied something");

    let runs = w.ok(&["runs"]).await;
    let line = runs_line(&runs, &held);
    assert!(line.contains("held"), "{runs}");
    assert!(line.contains("awaiting"), "{runs}");

    let stdout = w.ok(&["approve", &held]).await;
    assert!(stdout.contains(&format!("approved run {held}")), "{stdout}");
    assert!(!w.active(a), "{a} still active after approve");
    assert!(!w.active(b), "{b} still active after approve");
    let runs = w.ok(&["runs"]).await;
    assert!(
        !runs_line(&runs, &held).contains("awaiting"),
        "an approved run still awaits: {runs}"
    );

    let again = w.psync(&["approve", &held]).await;
    assert_eq!(again.status.code(), Some(2), "{}", both(&again));
    assert!(text(&again.stderr).contains(&held), "{}", both(&again));

    // Another held plan, rejected: nothing applied, and it cannot be approved afterwards.
    for id in [c, d] {
        w.sim.terminate(id, parse(&day)).unwrap();
    }
    let stdout = w.ok(&["sync"]).await;
    let second = held_run(&stdout);
    assert_ne!(second, held);
    let before = std::fs::read(w.jsonl_path()).unwrap();
    let stdout = w.ok(&["reject", &second]).await;
    assert!(
        stdout.contains(&format!("rejected run {second}")),
        "{stdout}"
    );
    assert!(w.active(c) && w.active(d), "a rejected plan was applied");
    assert_eq!(std::fs::read(w.jsonl_path()).unwrap(), before);
    let runs = w.ok(&["runs"]).await;
    let line = runs_line(&runs, &second);
    assert!(line.contains("rejected"), "{runs}");
    assert!(!line.contains("awaiting"), "{runs}");

    let approve = w.psync(&["approve", &second]).await;
    assert_eq!(approve.status.code(), Some(2), "{}", both(&approve));
    assert!(w.active(c) && w.active(d));
    let reject = w.psync(&["reject", &second]).await;
    assert_eq!(reject.status.code(), Some(2), "{}", both(&reject));
    let unknown = w.psync(&["approve", "999999"]).await;
    assert_eq!(unknown.status.code(), Some(2), "{}", both(&unknown));
}

#[tokio::test]
async fn a_shrunk_read_aborts_until_allow_shrink() {
    let w = World::new(
        "shrink",
        50,
        "max_deprovision = \"100\"\nmax_shrink_percent = 20",
    )
    .await;
    w.ok(&["sync"]).await;
    let before = std::fs::read(w.jsonl_path()).unwrap();
    let csv_before = std::fs::read(w.csv_path()).unwrap();
    let provisioned = w.rows();

    let ids = w.sim.ids();
    // From the end: the first ids are the managers, and removing them all would (rightly)
    // trip the guard against a field emptied for most accounts.
    let gone: Vec<String> = ids.iter().rev().take(ids.len() * 3 / 10).cloned().collect();
    assert_eq!(gone.len(), 15);
    for id in &gone {
        w.sim.delete(id).unwrap();
    }

    let out = w.psync(&["sync"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("--allow-shrink"), "{}", both(&out));
    assert!(stderr.contains("35 employees"), "{}", both(&out));
    assert_eq!(
        std::fs::read(w.jsonl_path()).unwrap(),
        before,
        "JSONL changed"
    );
    assert_eq!(
        std::fs::read(w.csv_path()).unwrap(),
        csv_before,
        "CSV changed"
    );
    let runs = w.ok(&["runs"]).await;
    assert!(runs_line(&runs, "2").contains("failed"), "{runs}");

    let stdout = w.ok(&["sync", "--allow-shrink"]).await;
    assert!(stdout.contains("applied"), "{stdout}");
    let after = w.rows();
    let mut disabled = 0;
    for (id, row) in &after {
        let expected_active = !gone.contains(id);
        assert_eq!(
            row["active"].as_bool(),
            Some(expected_active),
            "{id}: {stdout}"
        );
        disabled += usize::from(!expected_active);
    }
    assert_eq!(
        after.len(),
        provisioned.len(),
        "disabled rows stay in the file"
    );
    assert_eq!(
        disabled,
        gone.iter()
            .filter(|id| provisioned.contains_key(*id))
            .count()
    );
    assert!(disabled > 0);
    assert!(stdout.contains(&format!("{disabled} disabled")), "{stdout}");

    // The accepted read is the new baseline.
    let stdout = w.ok(&["sync"]).await;
    assert!(stdout.contains("up to date"), "{stdout}");
}

// ---------------------------------------------------------------------------------------------
// validate

/// A valid head: state and one account (nothing is contacted by `validate`).
fn head() -> String {
    format!(
        "state = \"sqlite://state.sqlite\"\n{}",
        account("http://127.0.0.1:9")
    )
}

/// A valid file target named `name`, without a trailing newline issue.
fn file_target(name: &str) -> String {
    format!(
        "\n[[target]]\nname = \"{name}\"\ntype = \"file\"\nsource = \"acme\"\npath = \"./out-{name}\"\n"
    )
}

/// The 1-based line of the first line of `body` that contains `needle`.
fn line_of(body: &str, needle: &str) -> usize {
    body.lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{needle:?} is not in\n{body}"))
        + 1
}

/// The 1-based line of the `n`th (0-based) line of `body` that contains `needle`.
fn nth_line_of(body: &str, needle: &str, n: usize) -> usize {
    body.lines()
        .enumerate()
        .filter(|(_, l)| l.contains(needle))
        .nth(n)
        .unwrap_or_else(|| panic!("{needle:?} is not in\n{body} {} times", n + 1))
        .0
        + 1
}

/// Runs `validate` on `body`; returns the exit code and stderr.
fn validate(name: &str, body: &str) -> (Option<i32>, String) {
    let dir = tempdir(&format!("validate-{name}"));
    let path = dir.join("config.toml");
    std::fs::write(&path, body).unwrap();
    let out = bin()
        .args(["validate", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    (
        out.status.code(),
        format!("{}{}", text(&out.stderr), text(&out.stdout)),
    )
}

/// `validate` must exit 2 and report `line N: <rest>` for each expectation.
fn assert_problems(name: &str, body: &str, expected: &[(usize, &str)]) -> String {
    let (code, output) = validate(name, body);
    assert_eq!(code, Some(2), "{name}: {output}\nconfig:\n{body}");
    for (line, rest) in expected {
        let want = format!("line {line}: {rest}");
        assert!(
            output.contains(&want),
            "{name}: expected {want:?} in\n{output}\nconfig:\n{body}"
        );
    }
    output
}

#[test]
fn a_valid_file_target_validates() {
    let body = format!("{}{}", head(), file_target("files"));
    let (code, output) = validate("good", &body);
    assert_eq!(code, Some(0), "{output}");
    assert!(output.contains("1 target(s): files (file)"), "{output}");
}

#[test]
fn unknown_target_key_is_reported_with_a_suggestion() {
    let body = format!("{}{}archiv = true\n", head(), file_target("files"));
    let line = line_of(&body, "archiv =");
    let out = assert_problems(
        "unknown-key",
        &body,
        &[(line, "target[0].archiv: unknown key 'archiv'")],
    );
    assert!(out.contains("did you mean 'archive'?"), "{out}");
}

#[test]
fn unknown_target_type_is_reported() {
    let body = format!(
        "{}\n[[target]]\nname = \"files\"\ntype = \"ftp\"\nsource = \"acme\"\npath = \"./out\"\n",
        head()
    );
    let line = line_of(&body, "type = \"ftp\"");
    let out = assert_problems(
        "ftp",
        &body,
        &[(line, "target[0].type: 'ftp' is not allowed")],
    );
    assert!(out.contains("\"file\""), "{out}");
}

#[test]
fn a_connector_checks_its_own_keys() {
    // A key of another connector type is unknown here; a required key is named.
    let body = format!(
        "{}\n[[target]]\nname = \"dir\"\ntype = \"ldap\"\nsource = \"acme\"\npath = \"./out\"\n",
        head()
    );
    let header = line_of(&body, "[[target]]");
    let path = line_of(&body, "path = ");
    assert_problems(
        "ldap-keys",
        &body,
        &[
            (path, "target[0].path: unknown key 'path'"),
            (header, "target[0].url: missing field `url`"),
        ],
    );
}

#[test]
fn a_source_naming_no_account_is_reported() {
    let body = format!("{}{}", head(), file_target("files"))
        .replace("source = \"acme\"", "source = \"hr\"");
    let line = line_of(&body, "source = \"hr\"");
    let out = assert_problems(
        "source",
        &body,
        &[(
            line,
            "target[0].source: no [[personio]] account is named 'hr'",
        )],
    );
    assert!(out.contains("configured: acme"), "{out}");
}

#[test]
fn duplicate_target_names_are_reported() {
    let body = format!("{}{}{}", head(), file_target("files"), file_target("files"));
    let second = nth_line_of(&body, "name = \"files\"", 1);
    assert_problems(
        "duplicate",
        &body,
        &[(
            second,
            "target[1].name: target name 'files' is already used by target[0]",
        )],
    );
}

#[test]
fn a_duplicate_name_is_reported_even_when_the_first_target_has_another_problem() {
    let body = format!(
        "{}{}archiv = true\n{}",
        head(),
        file_target("files"),
        file_target("files")
    );
    assert_problems(
        "duplicate-after-typo",
        &body,
        &[
            (line_of(&body, "archiv ="), "target[0].archiv: unknown key"),
            (
                nth_line_of(&body, "name = \"files\"", 1),
                "target[1].name: target name 'files' is already used by target[0]",
            ),
        ],
    );
}

#[test]
fn a_template_with_an_unknown_variable_names_variable_field_and_target() {
    let body = format!(
        "{}{}\n[target.mapping.fields]\nemail = \"{{{{ emial }}}}\"\n",
        head(),
        file_target("x")
    );
    let line = line_of(&body, "emial");
    let out = assert_problems(
        "template",
        &body,
        &[(
            line,
            "target[0].mapping.fields.email: target 'x': field 'email': unknown variable 'emial'",
        )],
    );
    assert!(out.contains("did you mean 'email'?"), "{out}");
}

#[test]
fn an_invalid_scope_expression_is_reported() {
    let body = format!(
        "{}{}\n[target.mapping]\nscope = 'status in [\"active\" and'\n",
        head(),
        file_target("x")
    );
    let line = line_of(&body, "scope =");
    assert_problems(
        "scope",
        &body,
        &[(
            line,
            "target[0].mapping.scope: target 'x': scope: syntax error",
        )],
    );
}

#[test]
fn a_lookup_table_that_does_not_exist_is_reported() {
    let body = format!(
        "{}{}\n[target.mapping.lookups.countries]\nentries = {{ Munich = \"DE\" }}\n\n\
         [target.mapping.fields]\ncountry_code = \"{{{{ office | lookup('countrys') }}}}\"\n",
        head(),
        file_target("x")
    );
    let line = line_of(&body, "countrys");
    let out = assert_problems(
        "lookup",
        &body,
        &[(
            line,
            "target[0].mapping.fields.country_code: target 'x': field 'country_code': unknown lookup table 'countrys'",
        )],
    );
    assert!(
        out.contains("countries"),
        "the existing table is suggested: {out}"
    );
}

#[test]
fn an_invalid_leavers_policy_is_reported_at_its_line() {
    let body = format!(
        "{}{}\n[target.policy]\nleavers = \"fire\"\n",
        head(),
        file_target("x")
    );
    let line = line_of(&body, "leavers =");
    let out = assert_problems("leavers", &body, &[(line, "target[0].policy.leavers: ")]);
    assert!(out.contains("fire"), "{out}");
    assert!(
        out.contains("disable"),
        "the allowed values are listed: {out}"
    );
}

#[test]
fn an_out_of_range_deprovision_threshold_is_reported_at_its_line() {
    let body = format!(
        "{}{}\n[target.policy]\nmax_deprovision = \"150%\"\n",
        head(),
        file_target("x")
    );
    let line = line_of(&body, "max_deprovision =");
    let out = assert_problems(
        "threshold",
        &body,
        &[(line, "target[0].policy.max_deprovision: ")],
    );
    assert!(out.contains("\"150%\""), "{out}");
}

#[test]
fn an_out_of_range_shrink_limit_is_reported() {
    let body = format!(
        "{}{}\n[target.policy]\nmax_shrink_percent = 500\n",
        head(),
        file_target("x")
    );
    let line = line_of(&body, "max_shrink_percent =");
    assert_problems(
        "shrink",
        &body,
        &[(
            line,
            "target[0].policy.max_shrink_percent: must be a number from 0 to 100",
        )],
    );
}

#[test]
fn a_file_target_without_path_is_reported() {
    let body = format!(
        "{}\n[[target]]\nname = \"x\"\ntype = \"file\"\nsource = \"acme\"\n",
        head()
    );
    let line = line_of(&body, "[[target]]");
    let out = assert_problems("path", &body, &[(line, "target[0].path: ")]);
    assert!(out.contains("path"), "{out}");
}

#[test]
fn a_file_target_without_jsonl_is_reported() {
    let body = format!("{}{}formats = [\"csv\"]\n", head(), file_target("x"));
    let line = line_of(&body, "formats =");
    assert_problems(
        "formats",
        &body,
        &[(line, "target[0].formats: must include \"jsonl\"")],
    );
}

#[test]
fn every_bad_policy_value_of_one_target_is_reported() {
    let body = format!(
        "{}{}\n[target.policy]\nleavers = \"fire\"\nmax_deprovision = \"150%\"\n",
        head(),
        file_target("x")
    );
    let (code, out) = validate("policies", &body);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("2 problems"), "{out}");
    assert!(out.contains("fire"), "{out}");
    assert!(out.contains("150%"), "{out}");
}

#[test]
fn several_problems_are_reported_in_one_run() {
    let mut body = head();
    // target[0]: unknown key
    body.push_str(&file_target("a"));
    body.push_str("archiv = true\n");
    // target[1]: unknown type
    body.push_str(
        "\n[[target]]\nname = \"b\"\ntype = \"ftp\"\nsource = \"acme\"\npath = \"./b\"\n",
    );
    // target[2]: missing account
    body.push_str(&file_target("c").replace("source = \"acme\"", "source = \"hr\""));
    // target[3]: clean; target[4]: the same name, and no jsonl
    body.push_str(&file_target("d"));
    body.push_str(&file_target("d"));
    body.push_str("formats = [\"csv\"]\n");
    // target[5]: bad template and shrink limit
    body.push_str(&file_target("e"));
    body.push_str("\n[target.policy]\nmax_shrink_percent = 500\n");
    body.push_str("\n[target.mapping.fields]\nemail = \"{{ emial }}\"\n");
    // target[6]: a connector key it requires is missing
    body.push_str("\n[[target]]\nname = \"f\"\ntype = \"scim\"\nsource = \"acme\"\n");

    let second_d = nth_line_of(&body, "name = \"d\"", 1);
    let out = assert_problems(
        "several",
        &body,
        &[
            (line_of(&body, "archiv ="), "target[0].archiv: unknown key"),
            (line_of(&body, "type = \"ftp\""), "target[1].type: 'ftp'"),
            (
                line_of(&body, "source = \"hr\""),
                "target[2].source: no [[personio]] account",
            ),
            (
                second_d,
                "target[4].name: target name 'd' is already used by target[3]",
            ),
            (
                line_of(&body, "formats ="),
                "target[4].formats: must include \"jsonl\"",
            ),
            (
                line_of(&body, "max_shrink_percent"),
                "target[5].policy.max_shrink_percent: must be a number",
            ),
            (
                line_of(&body, "emial"),
                "target[5].mapping.fields.email: target 'e': field 'email': unknown variable 'emial'",
            ),
            (
                line_of(&body, "name = \"f\"") - 1,
                "target[6].url: missing field `url`",
            ),
        ],
    );
    assert!(out.contains("8 problems"), "{out}");
}

#[test]
fn a_failing_mapping_test_fails_validate_naming_test_and_field() {
    let body = format!(
        "{}{}\n[target.mapping.fields]\nusername = \"{{{{ first_name | lower }}}}\"\n\n\
         [[target.mapping.tests]]\nname = \"an engineer\"\n\
         employee = {{ id = \"1\", first_name = \"Ann\", last_name = \"Lee\", email = \"ann@acme.example\", status = \"active\" }}\n\
         expect = {{ username = \"ann\", email = \"bob@acme.example\" }}\n",
        head(),
        file_target("x")
    );
    let (code, out) = validate("mapping-test", &body);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("1 mapping test(s) failed"), "{out}");
    assert!(
        out.contains("target 'x': test 'an engineer': field 'email'"),
        "{out}"
    );
    assert!(out.contains("bob@acme.example"), "{out}");
    assert!(
        !out.contains("field 'username'"),
        "the passing field is not reported: {out}"
    );

    let fixed = body.replace("bob@acme.example", "ann@acme.example");
    let (code, out) = validate("mapping-test-ok", &fixed);
    assert_eq!(code, Some(0), "{out}");
}

#[test]
fn default_config_validates_with_its_target() {
    let out = bin().arg("default-config").output().unwrap();
    assert!(out.status.success(), "{}", both(&out));
    let dir = tempdir("default");
    let config = dir.join("config.toml");
    std::fs::write(&config, &out.stdout).unwrap();
    let out = bin()
        .args(["validate", "--config"])
        .arg(&config)
        .env("PERSONIO_CLIENT_ID", "x")
        .env("PERSONIO_CLIENT_SECRET", "y")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", both(&out));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("1 Personio account(s): acme"), "{stdout}");
    assert!(
        stdout.contains("1 target(s): hr-directory (file)"),
        "{stdout}"
    );
}
