//! `personio-sync bench`: measured figures for BENCHMARKS.md — planning CPU time and memory
//! at scale, and a full sync followed by a no-op resync against the file target.

use crate::Failure;
use anyhow::Context;
use psync_engine::{Engine, FixedClock, SourceSetup, SyncOptions, TargetSetup};
use psync_mapping::MappingConfig;
use psync_model::{AppliedAccount, EmployeeId, Outcome};
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
    },
    /// A full sync of N employees from the simulator (no rate limits) to a file target, then a
    /// no-op resync: time, operations and target writes of each.
    Sync {
        /// Employees in the generated company.
        #[arg(long, default_value_t = 10_000)]
        employees: usize,
    },
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
        Bench::Plan { employees } => plan(employees).await,
        Bench::Sync { employees } => sync(employees).await,
    }
}

async fn plan(n: usize) -> Result<(), Failure> {
    let config = SimConfig {
        employees: n,
        rate_limits: false,
        ..SimConfig::default()
    };
    let today = config.today;
    let sim = psync_personio_sim::start(config, SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .await
        .context("cannot start the simulator")?;
    let employees = sim.expected_employees(SimApi::V1);
    sim.shutdown().await;
    let mapping = mapping()?;
    let policy = Policy {
        max_deprovision: None,
        ..Policy::default()
    };
    let now = today
        .at(12, 0, 0, 0)
        .in_tz("Europe/Berlin")
        .context("time zone")?
        .timestamp();
    let (_, rss_before) = memory().unwrap_or_default();
    println!(
        "employees: {}  (input resident: {rss_before:.0} MiB)",
        employees.len()
    );

    let started = Instant::now();
    let mapped = mapping.map_all(&employees);
    let map_s = started.elapsed().as_secs_f64();
    let (_, rss_mapped) = memory().unwrap_or_default();

    let skipped: BTreeSet<EmployeeId> = mapped.errors.iter().map(|e| e.person.clone()).collect();
    // As the engine does: records move into the planner's input.
    let mut people: Vec<Person> = mapped
        .people
        .into_iter()
        .map(|p| Person {
            id: p.id,
            record: p.record,
            lifecycle: Lifecycle {
                status: p.status,
                hire_date: p.hire_date,
                termination_date: p.termination_date,
            },
        })
        .collect();
    let mut applied: BTreeMap<EmployeeId, AppliedAccount> = BTreeMap::new();
    let input = |applied: &BTreeMap<EmployeeId, AppliedAccount>, people: &[Person]| {
        psync_planner::plan(&PlanInput {
            target: "bench",
            source: "bench",
            people,
            skipped: &skipped,
            applied,
            scope: ReadScope::Full { complete: true },
            now,
            policy: &policy,
        })
    };
    let started = Instant::now();
    let first = input(&applied, &people);
    let plan_initial_s = started.elapsed().as_secs_f64();
    for op in &first.operations {
        let outcome = Outcome::Created {
            remote_id: op.person().to_string(),
        };
        psync_planner::apply_outcome(&mut applied, op, &outcome, today);
    }
    let first_ops = first.operations.len();
    drop(first);
    let (_, rss_applied) = memory().unwrap_or_default();
    // Linux: writing 5 to clear_refs resets the peak, so the next peak is the no-op plan's own.
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let started = Instant::now();
    let noop = input(&applied, &people);
    let plan_noop_s = started.elapsed().as_secs_f64();
    let (noop_peak, _) = memory().unwrap_or_default();
    // 1 % of the people change their title.
    for p in people.iter_mut().step_by(100) {
        if let Some(r) = p.record.as_mut() {
            r.attributes
                .insert("title".into(), psync_model::Value::Text("Changed".into()));
        }
    }
    let started = Instant::now();
    let delta = input(&applied, &people);
    let plan_delta_s = started.elapsed().as_secs_f64();
    let (peak, _) = memory().unwrap_or_default();
    println!("map (scope, 20 fields, lookup, groups, managers): {map_s:.3} s");
    println!("plan, empty state:   {plan_initial_s:.3} s  ({first_ops} operations)");
    println!(
        "plan, no change:     {plan_noop_s:.3} s  ({} operations)",
        noop.operations.len()
    );
    println!(
        "plan, 1 % changed:   {plan_delta_s:.3} s  ({} operations)",
        delta.operations.len()
    );
    println!("map + plan (no change), CPU: {:.3} s", map_s + plan_noop_s);
    println!(
        "peak resident memory: {peak:.0} MiB (of which the generated input: {rss_before:.0} MiB)"
    );
    println!(
        "resident after mapping: {rss_mapped:.0} MiB (+{:.0}); with the applied state: {rss_applied:.0} MiB (+{:.0})",
        rss_mapped - rss_before,
        rss_applied - rss_mapped
    );
    if reset {
        println!(
            "no-op plan on top of that: peak {noop_peak:.0} MiB (+{:.0})",
            noop_peak - rss_applied
        );
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
