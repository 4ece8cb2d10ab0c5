//! `personio-sync demo`: the whole product end to end on the built-in simulator, no setup —
//! a first sync into a file target, a few changes in "Personio", the second plan, the sync.

use crate::Failure;
use anyhow::Context;
use psync_engine::{Engine, FixedClock, SourceSetup, SyncOptions, TargetSetup, TargetStatus};
use psync_mapping::MappingConfig;
use psync_personio::{AccountConfig, ApiVersion, Limits, PersonioClient};
use psync_personio_sim::{EmployeeUpdate, HireSpec, MoveSpec, SimConfig};
use psync_planner::Policy;
use psync_targets::file::{FileConfig, FileTarget};
use secrecy::SecretString;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

/// Options of `personio-sync demo`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// How many employees the simulated company has.
    #[arg(long, default_value_t = 250)]
    employees: usize,
    /// Seed of the simulated company.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Folder for the demo's state and output files (replaced on every run).
    #[arg(long, default_value = "demo")]
    dir: PathBuf,
}

/// The demo target's mapping: the defaults plus a derived country code and office/department groups.
const MAPPING: &str = r#"
scope = 'status in ["active", "onboarding", "leave"]'

[fields]
username = "{{ first_name | ascii | lower | replace(' ', '') }}.{{ last_name | ascii | lower | replace(' ', '') }}"
country_code = "{{ office | lookup('countries') }}"

[lookups.countries]
entries = { Munich = "DE", Berlin = "DE", Vienna = "AT", Zurich = "CH", Madrid = "ES", London = "GB", Amsterdam = "NL" }
default = "DE"

[groups]
levels = ["office", "department"]
"#;

pub async fn run(args: Args) -> Result<(), Failure> {
    let sim_config = SimConfig {
        employees: args.employees,
        seed: args.seed,
        ..SimConfig::default()
    };
    let today = sim_config.today;
    let sim = psync_personio_sim::start(sim_config, SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .await
        .context("cannot start the built-in simulator")?;
    println!(
        "1. A simulated Personio with {} employees runs at {}",
        sim.len(),
        sim.base_url()
    );
    println!(
        "   (Personio's rate limits, quirks and dirty records included; its \"today\" is {today})"
    );

    let out = args.dir.join("out");
    for stale in [out.clone()] {
        if stale.exists() {
            std::fs::remove_dir_all(&stale)
                .with_context(|| format!("cannot clear {}", stale.display()))?;
        }
    }
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("cannot create {}", args.dir.display()))?;
    let state = args.dir.join("state.sqlite");
    for suffix in ["", "-wal", "-shm"] {
        let file = PathBuf::from(format!("{}{suffix}", state.display()));
        if file.exists() {
            std::fs::remove_file(&file)
                .with_context(|| format!("cannot clear {}", file.display()))?;
        }
    }

    let clock = Arc::new(FixedClock::new(
        today
            .at(12, 0, 0, 0)
            .in_tz("Europe/Berlin")
            .context("time zone data")?
            .timestamp(),
    ));
    let engine = build_engine(&sim.base_url(), &state, &out, clock.clone()).await?;

    let options = SyncOptions {
        trigger: "demo".into(),
        ..SyncOptions::default()
    };
    let first = engine
        .sync(
            &SyncOptions {
                dry_run: true,
                ..options.clone()
            },
            None,
        )
        .await
        .map_err(engine_failure)?;
    let plan = &first.targets[0].plan;
    println!("\n2. First plan for target \"hr-directory\" (a file target):");
    println!("   {}", psync_planner::summary_line(plan));
    for line in psync_planner::render_text(plan).lines().skip(1).take(6) {
        println!("   {line}");
    }
    println!("   … (`personio-sync plan` shows all of it; it writes nothing anywhere)");
    let synced = engine.sync(&options, None).await.map_err(engine_failure)?;
    report("3. First sync", &synced.targets[0]);
    println!("   Files: {}", out.join("hr-directory.csv").display());

    // Changes in "Personio".
    let ids = sim.ids();
    let expected = sim.expected_employees(psync_personio_sim::SimApi::V1);
    let active: Vec<&psync_model::Employee> = expected
        .iter()
        .filter(|e| e.status == Some(psync_model::EmploymentStatus::Active) && e.email.is_some())
        .collect();
    let inactive = expected
        .iter()
        .find(|e| e.status == Some(psync_model::EmploymentStatus::Inactive));
    let mover = active.get(3).map(|e| e.id.to_string());
    let leaver = active.get(7).map(|e| e.id.to_string());
    let renamed = active.get(11).map(|e| e.id.to_string());
    println!("\n4. Meanwhile in Personio:");
    let hired = sim.hire(HireSpec {
        first_name: "Zoë".into(),
        last_name: "Ångström".into(),
        position: Some("Platform Engineer".into()),
        department: Some("Platform".into()),
        office: Some("Vienna".into()),
        supervisor_id: ids.first().cloned(),
        ..HireSpec::default()
    });
    println!("   - hired Zoë Ångström ({hired}) in Vienna");
    if let Some(id) = &mover {
        sim.move_employee(
            id,
            MoveSpec {
                department: Some("Finance".into()),
                office: Some("Madrid".into()),
                ..MoveSpec::default()
            },
        )
        .context("move")?;
        println!("   - moved {id} to Finance in Madrid");
    }
    if let Some(id) = &leaver {
        sim.terminate(id, today.yesterday().context("date")?)
            .context("terminate")?;
        println!("   - terminated {id} (last day yesterday)");
    }
    if let Some(e) = inactive {
        sim.rehire(e.id.as_str(), Some(today)).context("rehire")?;
        println!(
            "   - rehired {} ({}), who had left before the first sync",
            e.display_name(),
            e.id
        );
    }
    if let Some(id) = &renamed {
        sim.update(
            id,
            EmployeeUpdate {
                position: Some("Head of Partnerships".into()),
                ..EmployeeUpdate::default()
            },
        )
        .context("update")?;
        println!("   - promoted {id} to Head of Partnerships");
    }

    let second = engine
        .sync(
            &SyncOptions {
                dry_run: true,
                ..options.clone()
            },
            None,
        )
        .await
        .map_err(engine_failure)?;
    println!("\n5. Second plan (per person, per attribute):");
    let rendered = psync_planner::render_text(&second.targets[0].plan);
    for line in rendered.lines().filter(|l| !l.starts_with("note")) {
        println!("   {line}");
    }
    let notes = rendered.lines().filter(|l| l.starts_with("note")).count();
    println!(
        "   ({notes} notes, e.g. future joiners and managers outside the scope: `personio-sync plan` lists them)"
    );
    let synced = engine.sync(&options, None).await.map_err(engine_failure)?;
    report("6. Second sync", &synced.targets[0]);
    let again = engine.sync(&options, None).await.map_err(engine_failure)?;
    report("7. Third sync (nothing changed)", &again.targets[0]);

    println!(
        "\nEverything is in {}: state.sqlite (runs, journal, history) and out/ (CSV, JSONL, archive).",
        args.dir.display()
    );
    println!(
        "Next: `personio-sync default-config` for a real configuration, `personio-sync sim` to run the simulator alone."
    );
    sim.shutdown().await;
    Ok(())
}

async fn build_engine(
    base_url: &str,
    state: &std::path::Path,
    out: &std::path::Path,
    clock: Arc<FixedClock>,
) -> Result<Engine, Failure> {
    let client = PersonioClient::new(AccountConfig {
        name: "demo".into(),
        base_url: base_url.to_string(),
        client_id: "sim-client".into(),
        client_secret: SecretString::from("sim-secret"),
        api: ApiVersion::V1,
        app_id: None,
        limits: Limits::default(),
    })
    .map_err(|e| Failure::Failed(e.into()))?;
    let mapping_config: MappingConfig = toml::from_str(MAPPING).context("the demo mapping")?;
    let mapping = psync_mapping::compile("hr-directory", &mapping_config).map_err(|problems| {
        Failure::Failed(anyhow::anyhow!(
            "the demo mapping: {}",
            problems
                .iter()
                .map(|p| format!("{}: {}", p.path, p.message))
                .collect::<Vec<_>>()
                .join("; ")
        ))
    })?;
    let target = FileTarget::new(
        "hr-directory",
        FileConfig {
            archive: true,
            ..FileConfig::new(out)
        },
    )
    .map_err(|p| Failure::Failed(anyhow::anyhow!("{p:?}")))?;
    let store = psync_store::open(&format!("sqlite://{}", state.display()))
        .await
        .map_err(|e| Failure::Failed(e.into()))?;
    Ok(Engine::new(
        store,
        vec![SourceSetup {
            name: "demo".into(),
            client,
        }],
        vec![TargetSetup {
            name: "hr-directory".into(),
            source: "demo".into(),
            mapping,
            policy: Policy::default(),
            max_shrink_percent: 20.0,
            concurrency: 4,
            attempts: 3,
            target: target.into(),
        }],
        clock,
    ))
}

fn engine_failure(e: psync_engine::EngineError) -> Failure {
    Failure::Failed(anyhow::Error::new(e))
}

fn report(title: &str, report: &psync_engine::TargetReport) {
    let counts = super::sync::counts_line(report);
    let status = match &report.status {
        TargetStatus::UpToDate => "up to date: 0 writes".to_string(),
        TargetStatus::Held => "HELD for approval".to_string(),
        other => format!("{other:?}").to_lowercase(),
    };
    println!(
        "\n{title}: run {}: {status}{}",
        report.run.unwrap_or_default(),
        if counts.is_empty() {
            String::new()
        } else {
            format!(" ({counts})")
        }
    );
}
