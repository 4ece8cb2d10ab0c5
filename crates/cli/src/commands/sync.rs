//! `plan`, `sync`, `approve`, `reject`, `runs` and `history`: the sync core's commands.

use crate::Failure;
use crate::config::{self, Config};
use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use psync_engine::{
    ApplyProgress, Engine, EngineError, PlanOutcome, SourceSetup, SyncOptions, SystemClock,
    TargetReport, TargetSetup, TargetStatus,
};
use psync_model::EmployeeId;
use psync_personio::PersonioClient;
use psync_store::{AnyStore, StateStore};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

/// Output format of `plan` and `sync`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// For people: a per-person, per-attribute diff.
    Text,
    /// For programs: the plans and reports as JSON.
    Json,
}

/// Options of `personio-sync plan`.
#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    /// The configuration file.
    #[arg(long, short)]
    config: PathBuf,
    /// Only this target.
    #[arg(long)]
    target: Option<String>,
    /// Only this person (Personio id): a one-person plan, which never deprovisions.
    #[arg(long)]
    employee: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Show every note, not only the first 20.
    #[arg(long)]
    all_notes: bool,
}

/// Options of `personio-sync sync`.
#[derive(Debug, clap::Args)]
pub struct SyncArgs {
    /// The configuration file.
    #[arg(long, short)]
    config: PathBuf,
    /// Only this target.
    #[arg(long)]
    target: Option<String>,
    /// Only this person (Personio id), with a step-by-step trace; never deprovisions.
    #[arg(long)]
    employee: Option<String>,
    /// Go on although the read has far fewer employees than last time (you checked why).
    #[arg(long)]
    allow_shrink: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Show every note, not only the first 20.
    #[arg(long)]
    all_notes: bool,
}

/// Options of `approve` and `reject`.
#[derive(Debug, clap::Args)]
pub struct ResolveArgs {
    /// The run whose plan was held (see `personio-sync runs`).
    run: i64,
    /// The configuration file.
    #[arg(long, short)]
    config: PathBuf,
}

/// Options of `personio-sync runs`.
#[derive(Debug, clap::Args)]
pub struct RunsArgs {
    /// The configuration file.
    #[arg(long, short)]
    config: PathBuf,
    /// How many runs, newest first.
    #[arg(long, default_value_t = 20)]
    limit: usize,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

/// Options of `personio-sync history`.
#[derive(Debug, clap::Args)]
pub struct HistoryArgs {
    /// The person's Personio id.
    employee: String,
    /// The configuration file.
    #[arg(long, short)]
    config: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

/// Opens the state store named by the configuration. With `read_only`, a SQLite file that does
/// not exist yet is not created: an empty in-memory state stands in (for `plan`).
pub async fn open_store(config: &Config, read_only: bool) -> Result<AnyStore, Failure> {
    let url = config.state_url();
    if read_only {
        return psync_store::open_read_only(&url).await.map_err(|e| {
            Failure::Failed(anyhow::Error::new(e).context(format!(
                "cannot open the state store {}",
                psync_store::redact_url(&url)
            )))
        });
    }
    psync_store::open(&url).await.map_err(|e| {
        Failure::Failed(anyhow::Error::new(e).context(format!(
            "cannot open the state store {}",
            psync_store::redact_url(&url)
        )))
    })
}

/// Builds the engine from a validated configuration (no network traffic yet).
pub async fn engine(config: &Config, read_only: bool) -> Result<Engine, Failure> {
    let store = open_store(config, read_only).await?;
    let mut sources = Vec::new();
    for account in &config.personio {
        let client = PersonioClient::new(account.clone())
            .map_err(|e| Failure::Invalid(anyhow::Error::new(e)))?;
        sources.push(SourceSetup {
            name: account.name.clone(),
            client,
        });
    }
    let mut targets = Vec::new();
    for t in &config.targets {
        targets.push(TargetSetup {
            name: t.name.clone(),
            source: t.source.clone(),
            mapping: t.mapping.clone(),
            policy: t.policy.clone(),
            max_shrink_percent: t.max_shrink_percent,
            concurrency: t.concurrency,
            attempts: t.attempts,
            target: t
                .build()
                .map_err(|e| Failure::Invalid(anyhow::anyhow!(e)))?,
        });
    }
    Ok(Engine::new(store, sources, targets, Arc::new(SystemClock)).locked(&config.state_url()))
}

fn engine_failure(e: EngineError) -> Failure {
    match e {
        EngineError::Unknown(_) | EngineError::NotHeld(_) => {
            Failure::Invalid(anyhow::Error::new(e))
        }
        other => Failure::Failed(anyhow::Error::new(other)),
    }
}

fn progress() -> (Option<ProgressBar>, Option<ApplyProgress>) {
    if !std::io::stderr().is_terminal() {
        return (None, None);
    }
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template(
            "applying {bar:40.green/blue} {pos}/{len} operations {elapsed}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let handle = bar.clone();
    let callback: ApplyProgress = Arc::new(move |done, total| {
        handle.set_length(total as u64);
        handle.set_position(done as u64);
    });
    (Some(bar), Some(callback))
}

pub async fn plan(args: PlanArgs) -> Result<(), Failure> {
    let config = config::load(&args.config)?;
    let engine = engine(&config, true).await?;
    let options = SyncOptions {
        target: args.target,
        employee: args.employee.map(EmployeeId::new),
        dry_run: true,
        trigger: "cli".into(),
        allow_shrink: false,
    };
    let outcome = engine.sync(&options, None).await.map_err(engine_failure)?;
    print_outcome(&outcome, args.format, true, args.all_notes)?;
    if outcome
        .targets
        .iter()
        .any(|t| matches!(t.status, TargetStatus::Aborted(_) | TargetStatus::Failed(_)))
    {
        return Err(Failure::Failed(anyhow::anyhow!(
            "some targets could not be planned (see above)"
        )));
    }
    Ok(())
}

pub async fn sync(args: SyncArgs) -> Result<(), Failure> {
    let config = config::load(&args.config)?;
    let engine = engine(&config, false).await?;
    let options = SyncOptions {
        target: args.target,
        employee: args.employee.map(EmployeeId::new),
        dry_run: false,
        trigger: "cli".into(),
        allow_shrink: args.allow_shrink,
    };
    let (bar, callback) = progress();
    let result = engine.sync(&options, callback).await;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let outcome = result.map_err(engine_failure)?;
    print_outcome(&outcome, args.format, false, args.all_notes)?;
    let failed: Vec<&TargetReport> = outcome
        .targets
        .iter()
        .filter(|t| {
            matches!(
                t.status,
                TargetStatus::Failed(_) | TargetStatus::Partial | TargetStatus::Aborted(_)
            )
        })
        .collect();
    if !failed.is_empty() {
        return Err(Failure::Failed(anyhow::anyhow!(
            "{} target(s) did not apply everything: {}; parked operations are retried on the next sync",
            failed.len(),
            failed
                .iter()
                .map(|t| t.target.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(())
}

/// Writes JSON to stdout; a reader that went away (`| head`) is not an error.
fn print_json(value: &impl serde::Serialize) -> Result<(), Failure> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let written = serde_json::to_writer_pretty(&mut out, value)
        .map_err(std::io::Error::from)
        .and_then(|()| writeln!(out))
        .and_then(|()| out.flush());
    match written {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other
            .context("cannot write to stdout")
            .map_err(Failure::Failed),
    }
}

/// Notes shown per plan before the rest is summarised (`--format json` has them all).
const NOTES_SHOWN: usize = 20;

/// The plan as text; long lists of notes are cut to the first few.
fn print_plan(plan: &psync_model::Plan, all_notes: bool) {
    let text = psync_planner::render_text(plan);
    let notes = text.lines().filter(|l| l.starts_with("note")).count();
    let mut shown = 0;
    for line in text.lines() {
        if line.starts_with("note") {
            shown += 1;
            if !all_notes && shown > NOTES_SHOWN {
                if shown == NOTES_SHOWN + 1 {
                    println!(
                        "… {} more notes (`--all-notes`, or `--format json`, lists them)",
                        notes - NOTES_SHOWN
                    );
                }
                continue;
            }
        }
        println!("{line}");
    }
}

fn print_outcome(
    outcome: &PlanOutcome,
    format: Format,
    dry_run: bool,
    verbose_notes: bool,
) -> Result<(), Failure> {
    if format == Format::Json {
        return print_json(outcome);
    }
    for read in &outcome.reads {
        eprintln!(
            "read {}: {} employees in {:.2} s, {} requests{}",
            read.source,
            read.employees,
            read.seconds,
            read.requests,
            if read.complete {
                ""
            } else {
                " (partial or incomplete: nobody is deprovisioned)"
            }
        );
        for (id, reason) in &read.skipped {
            eprintln!(
                "warning: skipped record {}: {reason}",
                id.as_deref().unwrap_or("(no id)")
            );
        }
        for warning in &read.warnings {
            eprintln!("warning: {warning}");
        }
    }
    for report in &outcome.targets {
        println!();
        print_plan(&report.plan, verbose_notes);
        for error in &report.mapping_errors {
            println!("skipped {error}");
        }
        if let Some(trace) = &report.trace {
            println!("trace:");
            println!("  fetched:  {}", trace.fetched);
            println!("  in scope: {}", trace.in_scope);
            println!("  matched:  {}", trace.matched);
            println!("  action:   {}", trace.action);
            if !dry_run {
                println!("  result:   {}", trace.result);
            }
        }
        if dry_run {
            if let TargetStatus::Aborted(why) | TargetStatus::Failed(why) = &report.status {
                println!("NOT PLANNED: {why}");
            }
            continue;
        }
        let run = report.run.map(|r| format!("run {r}")).unwrap_or_default();
        match &report.status {
            TargetStatus::Held => println!(
                "HELD ({run}): nothing applied. Review the plan, then `personio-sync approve {}` or `reject {}`.",
                report.run.unwrap_or_default(),
                report.run.unwrap_or_default()
            ),
            TargetStatus::UpToDate => println!("{run}: up to date, nothing to do."),
            status => {
                let counts = counts_line(report);
                println!("{run}: {}: {counts}", status_word(status));
                if let Some(apply) = &report.apply {
                    for f in &apply.failures {
                        println!(
                            "  {} {} {}: {} [{}]",
                            if f.parked { "parked" } else { "failed" },
                            f.action,
                            f.person,
                            f.message,
                            f.kind
                        );
                    }
                }
            }
        }
    }
    Ok(())
}

/// `"3 created, 1 disabled"`: what applying a plan did.
pub fn counts_line(report: &TargetReport) -> String {
    report
        .apply
        .as_ref()
        .map(|a| {
            a.counts
                .iter()
                .map(|(k, v)| format!("{v} {k}"))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

fn status_word(status: &TargetStatus) -> String {
    match status {
        TargetStatus::Planned => "planned".into(),
        TargetStatus::UpToDate => "up to date".into(),
        TargetStatus::Applied => "applied".into(),
        TargetStatus::Partial => "partly applied".into(),
        TargetStatus::Held => "held".into(),
        TargetStatus::Failed(why) => format!("FAILED ({why})"),
        TargetStatus::Aborted(why) => format!("aborted ({why})"),
    }
}

pub async fn approve(args: ResolveArgs) -> Result<(), Failure> {
    let config = config::load(&args.config)?;
    let engine = engine(&config, false).await?;
    let (bar, callback) = progress();
    let result = engine.approve(args.run, callback).await;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let report = result.map_err(engine_failure)?;
    let counts = counts_line(&report);
    println!(
        "approved run {}: applied as run {}: {}: {counts}",
        args.run,
        report.run.unwrap_or_default(),
        status_word(&report.status)
    );
    if matches!(
        report.status,
        TargetStatus::Failed(_) | TargetStatus::Partial
    ) {
        return Err(Failure::Failed(anyhow::anyhow!(
            "some operations did not go through"
        )));
    }
    Ok(())
}

pub async fn reject(args: ResolveArgs) -> Result<(), Failure> {
    let config = config::load(&args.config)?;
    let engine = engine(&config, false).await?;
    let plan = engine.reject(args.run).await.map_err(engine_failure)?;
    println!(
        "rejected run {}: {} operation(s) for target {:?} discarded; the next sync plans afresh",
        args.run,
        plan.operations.len(),
        plan.target
    );
    Ok(())
}

pub async fn runs(args: RunsArgs) -> Result<(), Failure> {
    let config = config::load(&args.config)?;
    let store = open_store(&config, true).await?;
    let runs = store
        .runs(args.limit)
        .await
        .map_err(|e| Failure::Failed(e.into()))?;
    let held = store
        .held_plans()
        .await
        .map_err(|e| Failure::Failed(e.into()))?;
    if args.format == Format::Json {
        return print_json(&runs);
    }
    println!(
        "{:<6} {:<20} {:<10} {:<12} {:<14} COUNTS",
        "RUN", "STARTED (UTC)", "KIND", "STATUS", "TARGET"
    );
    for run in runs {
        let counts = run
            .counts
            .iter()
            .filter(|(_, v)| **v > 0)
            .map(|(k, v)| format!("{v} {k}"))
            .collect::<Vec<_>>()
            .join(", ");
        let status = format!("{:?}", run.status).to_lowercase();
        let is_held = held.iter().any(|(id, _)| *id == run.id);
        println!(
            "{:<6} {:<20} {:<10} {:<12} {:<14} {counts}{}",
            run.id,
            run.started_at.strftime("%Y-%m-%d %H:%M:%S").to_string(),
            run.kind,
            status,
            run.target.as_deref().unwrap_or("-"),
            if is_held {
                "  ← awaiting approve/reject"
            } else {
                ""
            }
        );
        if let Some(message) = run.message.filter(|m| !m.is_empty()) {
            println!("       {message}");
        }
    }
    Ok(())
}

pub async fn history(args: HistoryArgs) -> Result<(), Failure> {
    let config = config::load(&args.config)?;
    let store = open_store(&config, true).await?;
    let id = EmployeeId::new(args.employee.clone());
    let mut versions = Vec::new();
    for account in &config.personio {
        for (at, run, employee) in store
            .employee_history(&account.name, &id)
            .await
            .map_err(|e| Failure::Failed(e.into()))?
        {
            versions.push((account.name.clone(), at, run, employee));
        }
    }
    let log = store
        .person_log(&id, 200)
        .await
        .map_err(|e| Failure::Failed(e.into()))?;
    if args.format == Format::Json {
        let json = serde_json::json!({
            "versions": versions.iter().map(|(source, at, run, e)| serde_json::json!({"source": source, "seen_at": at, "run": run, "employee": e})).collect::<Vec<_>>(),
            "provisioning": log,
        });
        return print_json(&json);
    }
    if versions.is_empty() && log.is_empty() {
        println!("nothing is recorded for employee {}", args.employee);
        return Ok(());
    }
    println!("Personio versions of {}:", args.employee);
    for (source, at, run, e) in &versions {
        println!(
            "  {} run {run} ({source}): {} <{}> {} / {}",
            at.strftime("%Y-%m-%d %H:%M:%S"),
            e.display_name(),
            e.email.as_deref().unwrap_or("-"),
            e.status.as_ref().map(|s| s.as_str()).unwrap_or("-"),
            e.position.as_deref().unwrap_or("-")
        );
    }
    println!("Provisioning log:");
    for entry in &log {
        println!(
            "  {} run {} {} {} → {}{}",
            entry.at.strftime("%Y-%m-%d %H:%M:%S"),
            entry.run,
            entry.target,
            entry.action,
            entry.result,
            entry
                .detail
                .as_ref()
                .map(|d| format!(": {d}"))
                .unwrap_or_default()
        );
    }
    Ok(())
}
