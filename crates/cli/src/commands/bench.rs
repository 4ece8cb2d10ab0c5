//! `personio-sync bench`: measured figures for BENCHMARKS.md — planning CPU time and memory
//! at scale, and a full sync followed by a no-op resync against the file target.

use crate::Failure;
use anyhow::Context;
use psync_engine::{Engine, FixedClock, SourceSetup, SyncOptions, TargetSetup};
use psync_mapping::MappingConfig;
use psync_model::{AppliedAccount, Employee, EmployeeId, Outcome};
use psync_personio::{AccountConfig, ApiVersion, Limits, PersonioClient};
use psync_personio_sim::{SimApi, SimConfig};
use psync_planner::{Lifecycle, Person, PlanInput, Policy, ReadScope};
use psync_targets::file::{FileConfig, FileTarget};
use secrecy::SecretString;
use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

/// Which benchmark.
#[derive(Debug, clap::Subcommand)]
pub enum Bench {
    /// Map and plan N employees in memory: CPU time and peak memory of each step.
    Plan {
        /// Employees in the generated company.
        #[arg(long, default_value_t = 100_000)]
        employees: usize,
        /// Measure one scenario on employees read from this JSON-lines file (the parent
        /// process generates it and runs each scenario in a child of its own).
        #[arg(long, hide = true)]
        input: Option<std::path::PathBuf>,
        /// The scenario measured with `--input`.
        #[arg(long, hide = true, value_enum, default_value = "steady")]
        scenario: Scenario,
        /// The applied state after the first sync: written by `first`, read by `steady`.
        #[arg(long, hide = true)]
        state: Option<std::path::PathBuf>,
    },
    /// A full sync of N employees from the simulator (no rate limits) to a file target, then a
    /// no-op resync: time, operations and target writes of each.
    Sync {
        /// Employees in the generated company.
        #[arg(long, default_value_t = 10_000)]
        employees: usize,
    },
}

/// What `bench plan` measures in a child process.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Scenario {
    /// A first sync: empty state, every in-scope person created.
    First,
    /// A resync with every account applied: no change, then 1 % changed.
    Steady,
}

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Scenario::First => "first",
            Scenario::Steady => "steady",
        }
    }
}

const MAPPING: &str = r#"
[fields]
username = "{{ first_name | ascii | lower | replace(' ', '') }}.{{ last_name | ascii | lower | replace(' ', '') }}"
country_code = "{{ office | lookup('countries') }}"
[lookups.countries]
entries = { Munich = "DE", Berlin = "DE", Vienna = "AT", Zurich = "CH", Madrid = "ES", London = "GB", Amsterdam = "NL" }
default = "DE"
[groups]
levels = ["office", "department"]
"#;

/// Peak and current resident memory of this process in MiB (Linux; `None` elsewhere).
fn memory() -> Option<(f64, f64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| -> Option<f64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb / 1024.0)
    };
    Some((field("VmHWM:")?, field("VmRSS:")?))
}

fn mapping() -> Result<psync_mapping::Mapping, Failure> {
    let config: MappingConfig = toml::from_str(MAPPING).context("the benchmark mapping")?;
    psync_mapping::compile("bench", &config)
        .map_err(|p| Failure::Failed(anyhow::anyhow!("the benchmark mapping: {p:?}")))
}

pub async fn run(bench: Bench) -> Result<(), Failure> {
    match bench {
        Bench::Plan {
            employees,
            input: None,
            ..
        } => plan(employees).await,
        Bench::Plan {
            input: Some(input),
            scenario,
            state,
            ..
        } => plan_measured(&input, scenario, state.as_deref()),
        Bench::Sync { employees } => sync(employees).await,
    }
}

/// Generates the company with the simulator, writes it to a JSON-lines file and measures each
/// scenario in a fresh child process, so the simulator's own memory is not counted.
async fn plan(n: usize) -> Result<(), Failure> {
    let config = SimConfig {
        employees: n,
        rate_limits: false,
        ..SimConfig::default()
    };
    let sim = psync_personio_sim::start(config, SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .await
        .context("cannot start the simulator")?;
    let employees = sim.expected_employees(SimApi::V1);
    sim.shutdown().await;
    let file = std::env::temp_dir().join(format!("psync-bench-plan-{}.jsonl", std::process::id()));
    {
        use std::io::Write;
        let mut out = std::io::BufWriter::new(
            std::fs::File::create(&file).context("cannot write the benchmark input")?,
        );
        for e in &employees {
            serde_json::to_writer(&mut out, e).context("encode")?;
            out.write_all(b"\n").context("write")?;
        }
        out.flush().context("write")?;
    }
    drop(employees);
    let state = file.with_extension("state.jsonl");
    let exe = std::env::current_exe().context("cannot find the running binary")?;
    let mut result = Ok(());
    for scenario in [Scenario::First, Scenario::Steady] {
        let status = std::process::Command::new(&exe)
            .args(["bench", "plan", "--input"])
            .arg(&file)
            .arg("--state")
            .arg(&state)
            .args(["--scenario", scenario.name()])
            .status()
            .context("cannot start the measuring process")?;
        if !status.success() {
            result = Err(Failure::Failed(anyhow::anyhow!(
                "the {} scenario failed ({status})",
                scenario.name()
            )));
        }
    }
    let _ = std::fs::remove_file(&file);
    let _ = std::fs::remove_file(&state);
    result
}

/// Reads the employees one line at a time (as a streaming read keeps them).
fn load(input: &std::path::Path) -> Result<Vec<Employee>, Failure> {
    use std::io::BufRead;
    let reader = std::io::BufReader::new(std::fs::File::open(input).context("benchmark input")?);
    let mut employees = Vec::new();
    for line in reader.lines() {
        let line = line.context("benchmark input")?;
        employees.push(serde_json::from_str(&line).context("benchmark input")?);
    }
    employees.shrink_to_fit();
    Ok(employees)
}

/// One scenario, measured from a clean process: peak resident memory is the whole process's.
/// `first` plans a first sync and then (unmeasured) writes the state it would leave behind
/// to `state`; `steady` loads that state as the engine does and plans a resync.
fn plan_measured(
    input: &std::path::Path,
    scenario: Scenario,
    state: Option<&std::path::Path>,
) -> Result<(), Failure> {
    use std::io::{BufRead, Write};
    let mapping = mapping()?;
    let policy = Policy {
        max_deprovision: None,
        ..Policy::default()
    };
    let today = SimConfig::default().today;
    let now = today
        .at(12, 0, 0, 0)
        .in_tz("Europe/Berlin")
        .context("time zone")?
        .timestamp();
    let mb = |x: f64| format!("{x:.0} MiB");
    let (_, rss_start) = memory().unwrap_or_default();
    let employees = load(input)?;
    let n = employees.len();
    let (_, rss_input) = memory().unwrap_or_default();
    // The applied state as the engine loads it from the store: one decoded account at a time.
    let mut applied: BTreeMap<EmployeeId, AppliedAccount> = BTreeMap::new();
    if let (Scenario::Steady, Some(state)) = (scenario, state) {
        let reader =
            std::io::BufReader::new(std::fs::File::open(state).context("benchmark state")?);
        for line in reader.lines() {
            let line = line.context("benchmark state")?;
            let (id, account): (EmployeeId, AppliedAccount) =
                serde_json::from_str(&line).context("benchmark state")?;
            applied.insert(id, account);
        }
    }
    let (_, rss_applied) = memory().unwrap_or_default();
    let started = Instant::now();
    let mapped = mapping.map_all_against(&employees, Some(&applied));
    let map_s = started.elapsed().as_secs_f64();
    let (_, rss_mapped) = memory().unwrap_or_default();
    let skipped: BTreeSet<EmployeeId> = mapped.errors.iter().map(|e| e.person.clone()).collect();
    // As the engine does: records move into the planner's input, and from there into the plan.
    let people_of = |mapped: psync_mapping::Mapped| -> Vec<Person> {
        mapped
            .people
            .into_iter()
            .map(|p| Person {
                id: p.id,
                record: p.record,
                as_applied: p.as_applied,
                lifecycle: Lifecycle {
                    status: p.status,
                    hire_date: p.hire_date,
                    termination_date: p.termination_date,
                },
            })
            .collect()
    };
    let people = people_of(mapped);
    let plan = |applied: &BTreeMap<EmployeeId, AppliedAccount>, people: Vec<Person>| {
        psync_planner::plan(PlanInput {
            target: "bench",
            source: "bench",
            people: people.into(),
            skipped: &skipped,
            applied,
            scope: ReadScope::Full { complete: true },
            now,
            policy: &policy,
        })
    };
    let started = Instant::now();
    let first = plan(&applied, people);
    let plan_s = started.elapsed().as_secs_f64();
    let (peak, _) = memory().unwrap_or_default();
    let planning = peak - rss_input;
    match scenario {
        Scenario::First => {
            println!("first sync of {n} employees (empty state):");
            println!(
                "  map {map_s:.3} s, plan {plan_s:.3} s ({} operations)",
                first.operations.len()
            );
            println!(
                "  resident: runtime {}, employees {}, mapped records {}; peak {} (planning: {})",
                mb(rss_start),
                mb(rss_input - rss_start),
                mb(rss_mapped - rss_applied),
                mb(peak),
                mb(planning)
            );
            if let Some(state) = state {
                let mut out = std::io::BufWriter::new(
                    std::fs::File::create(state).context("benchmark state")?,
                );
                for op in &first.operations {
                    let outcome = Outcome::Created {
                        remote_id: op.person().to_string(),
                    };
                    let mut one = BTreeMap::new();
                    psync_planner::apply_outcome(&mut one, op, &outcome, today);
                    for entry in &one {
                        serde_json::to_writer(&mut out, &entry).context("benchmark state")?;
                        out.write_all(b"\n").context("benchmark state")?;
                    }
                }
                out.flush().context("benchmark state")?;
            }
        }
        Scenario::Steady => {
            // 1 % of the people change their title (mapped again: the first plan took them).
            let mut people = people_of(mapping.map_all_against(&employees, Some(&applied)));
            let mut changed = 0;
            for p in people.iter_mut().step_by(100) {
                if p.as_applied
                    && let Some(account) = applied.get(&p.id)
                {
                    let mut record = account.record.clone();
                    record
                        .attributes
                        .insert("title".into(), psync_model::Value::Text("Changed".into()));
                    p.record = Some(record);
                    p.as_applied = false;
                    changed += 1;
                }
            }
            let started = Instant::now();
            let delta = plan(&applied, people);
            let plan_delta_s = started.elapsed().as_secs_f64();
            println!(
                "resync of {n} employees ({} accounts applied):",
                applied.len()
            );
            println!(
                "  map {map_s:.3} s, plan no change {plan_s:.3} s ({} operations), plan {changed} changed {plan_delta_s:.3} s ({} operations)",
                first.operations.len(),
                delta.operations.len()
            );
            println!("  map + plan (no change), CPU: {:.3} s", map_s + plan_s);
            println!(
                "  resident: runtime {}, employees {}, applied state {}, mapped records {}; peak {} (planning: {})",
                mb(rss_start),
                mb(rss_input - rss_start),
                mb(rss_applied - rss_input),
                mb(rss_mapped - rss_applied),
                mb(peak),
                mb(peak - rss_input)
            );
        }
    }
    Ok(())
}

async fn sync(n: usize) -> Result<(), Failure> {
    let config = SimConfig {
        employees: n,
        rate_limits: false,
        ..SimConfig::default()
    };
    let today = config.today;
    let sim = psync_personio_sim::start(config, SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .await
        .context("cannot start the simulator")?;
    let dir = std::env::temp_dir().join(format!("psync-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).context("temp dir")?;
    let client = PersonioClient::new(AccountConfig {
        name: "bench".into(),
        base_url: sim.base_url(),
        client_id: "sim-client".into(),
        client_secret: SecretString::from("sim-secret"),
        api: ApiVersion::V1,
        app_id: None,
        limits: Limits::unthrottled(),
    })
    .map_err(|e| Failure::Failed(e.into()))?;
    let target = FileTarget::new("bench", FileConfig::new(dir.join("out")))
        .map_err(|p| Failure::Failed(anyhow::anyhow!("{p:?}")))?;
    let store = psync_store::open(&format!("sqlite://{}", dir.join("state.sqlite").display()))
        .await
        .map_err(|e| Failure::Failed(e.into()))?;
    let clock = Arc::new(FixedClock::new(
        today
            .at(12, 0, 0, 0)
            .in_tz("Europe/Berlin")
            .context("tz")?
            .timestamp(),
    ));
    let engine = Engine::new(
        store,
        vec![SourceSetup {
            name: "bench".into(),
            client,
        }],
        vec![TargetSetup {
            name: "bench".into(),
            source: "bench".into(),
            mapping: mapping()?,
            policy: Policy {
                max_deprovision: None,
                ..Policy::default()
            },
            max_shrink_percent: 20.0,
            concurrency: 4,
            attempts: 3,
            target: target.into(),
        }],
        clock,
    );
    let options = SyncOptions {
        trigger: "bench".into(),
        ..SyncOptions::default()
    };
    let jsonl = dir.join("out").join("bench.jsonl");
    let started = Instant::now();
    let first = engine
        .sync(&options, None)
        .await
        .map_err(|e| Failure::Failed(e.into()))?;
    let first_s = started.elapsed().as_secs_f64();
    let modified = std::fs::metadata(&jsonl)
        .and_then(|m| m.modified())
        .context("target file")?;
    let started = Instant::now();
    let second = engine
        .sync(&options, None)
        .await
        .map_err(|e| Failure::Failed(e.into()))?;
    let second_s = started.elapsed().as_secs_f64();
    let unchanged = std::fs::metadata(&jsonl)
        .and_then(|m| m.modified())
        .context("target file")?
        == modified;
    let ops = |o: &psync_engine::PlanOutcome| o.targets[0].plan.operations.len();
    println!(
        "first sync of {n}: {first_s:.2} s, {} operations, read {:.2} s",
        ops(&first),
        first.reads[0].seconds
    );
    println!(
        "no-op resync: {second_s:.2} s, {} operations, {} target writes (file rewritten: {})",
        ops(&second),
        second.targets[0]
            .apply
            .as_ref()
            .map(|a| a.counts.values().sum::<u64>())
            .unwrap_or(0),
        if unchanged { "no" } else { "yes" }
    );
    let (peak, _) = memory().unwrap_or_default();
    println!("peak resident memory (simulator in the same process): {peak:.0} MiB");
    sim.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
