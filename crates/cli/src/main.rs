//! The `personio-sync` command: parses arguments, sets up logging, runs one command and maps
//! its result to an exit code (0 ok, 1 failure, 2 invalid input).

mod commands;
mod config;
mod output;

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

/// Keeps downstream systems (SCIM, REST, LDAP/AD, files) in step with Personio.
#[derive(Debug, Parser)]
#[command(name = "personio-sync", version, about, long_about = None)]
struct Cli {
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "PSYNC_LOG_FORMAT")]
    log_format: LogFormat,
    /// More log output (-v: debug, -vv: trace). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the whole thing on the built-in Personio simulator: no account, no setup.
    Demo(commands::demo::Args),
    /// Run the Personio simulator (v1 + v2 API, webhooks, faults) on loopback.
    Sim(commands::sim::Args),
    /// Fetch employees from a Personio account and print them, normalized.
    Employees(commands::employees::Args),
    /// Show what a sync would change, per person and attribute. Writes nothing anywhere.
    Plan(commands::sync::PlanArgs),
    /// Apply the plan to the targets and record the outcome (progress bars on a terminal).
    Sync(commands::sync::SyncArgs),
    /// Apply a plan that a guard held for approval.
    Approve(commands::sync::ResolveArgs),
    /// Discard a held plan.
    Reject(commands::sync::ResolveArgs),
    /// List recent runs, with held plans marked.
    Runs(commands::sync::RunsArgs),
    /// Show what is recorded for one person: Personio versions and provisioning log.
    History(commands::sync::HistoryArgs),
    /// Check a configuration file and report every problem at once.
    Validate {
        /// The configuration file.
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Probe each Personio account: reachable, credentials valid, which attributes it can read.
    Check(commands::check::Args),
    /// Print the annotated example configuration.
    DefaultConfig,
    /// Run as a service: schedule, Personio webhooks, admin API, metrics, notifications.
    Serve(commands::serve::Args),
    /// Manage the Personio webhook subscriptions that feed `serve` (v2 API).
    #[command(subcommand)]
    Webhooks(commands::webhooks::Command),
    /// Measure: planning at scale, a full sync and a no-op resync (figures for BENCHMARKS.md).
    #[command(subcommand)]
    Bench(commands::bench::Bench),
}

/// How a command failed, which decides the exit code.
#[derive(Debug)]
pub enum Failure {
    /// The user's input (configuration, arguments) is invalid: exit code 2.
    Invalid(anyhow::Error),
    /// The command could not do its work: exit code 1.
    Failed(anyhow::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Failed(e)
    }
}

impl From<config::Invalid> for Failure {
    fn from(e: config::Invalid) -> Self {
        Failure::Invalid(e.into())
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format, cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(run(cli.command));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Invalid(e)) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
        Err(Failure::Failed(e)) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

async fn run(command: Command) -> Result<(), Failure> {
    match command {
        Command::Demo(args) => commands::demo::run(args).await,
        Command::Sim(args) => commands::sim::run(args).await,
        Command::Employees(args) => commands::employees::run(args).await,
        Command::Plan(args) => commands::sync::plan(args).await,
        Command::Sync(args) => commands::sync::sync(args).await,
        Command::Approve(args) => commands::sync::approve(args).await,
        Command::Reject(args) => commands::sync::reject(args).await,
        Command::Runs(args) => commands::sync::runs(args).await,
        Command::History(args) => commands::sync::history(args).await,
        Command::Validate { config } => {
            let config = config::load(&config)?;
            let mut failures = Vec::new();
            for target in &config.targets {
                for failure in target.mapping.run_tests() {
                    failures.push(format!("target '{}': {failure}", target.name));
                }
            }
            if !failures.is_empty() {
                return Err(Failure::Invalid(anyhow::anyhow!(
                    "{} mapping test(s) failed:\n{}",
                    failures.len(),
                    failures
                        .iter()
                        .map(|f| format!("  - {f}"))
                        .collect::<Vec<_>>()
                        .join("\n")
                )));
            }
            println!(
                "configuration is valid: {} Personio account(s): {}; {} target(s): {}; state: {}",
                config.personio.len(),
                config
                    .personio
                    .iter()
                    .map(|a| a.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                config.targets.len(),
                config
                    .targets
                    .iter()
                    .map(|t| format!("{} ({})", t.name, t.kind()))
                    .collect::<Vec<_>>()
                    .join(", "),
                psync_store::redact_url(&config.state_url())
            );
            Ok(())
        }
        Command::Check(args) => commands::check::run(args).await,
        Command::Bench(bench) => commands::bench::run(bench).await,
        Command::Serve(args) => commands::serve::run(args).await,
        Command::Webhooks(command) => commands::webhooks::run(command).await,
        Command::DefaultConfig => {
            print!("{}", config::EXAMPLE);
            Ok(())
        }
    }
}

fn init_logging(format: LogFormat, verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let default = match verbose {
        0 => "warn,personio_sync=info",
        1 => "info,personio_sync=debug,psync_personio=debug",
        _ => "debug,personio_sync=trace,psync_personio=trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
