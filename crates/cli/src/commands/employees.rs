//! `personio-sync employees`: read one account and print its normalized employees.

use crate::Failure;
use crate::config;
use crate::output::{self, Format};
use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use psync_model::Employee;
use psync_personio::{AccountConfig, PersonioClient, ReadOptions, ReadOutcome, ReadProgress};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

/// Options of `personio-sync employees`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The configuration file.
    #[arg(long, short)]
    config: PathBuf,
    /// Which [[personio]] account to read (needed when there are several).
    #[arg(long)]
    account: Option<String>,
    /// Output format on stdout.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

pub async fn run(args: Args) -> Result<(), Failure> {
    let config = config::load(&args.config)?;
    let account = config
        .account(args.account.as_deref())
        .map_err(|e| Failure::Invalid(anyhow::anyhow!(e)))?;
    let outcome = read(account).await?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let written = output::write_employees(&mut out, &outcome.employees, args.format)
        .and_then(|()| std::io::Write::flush(&mut out));
    match written {
        // A reader that went away (`| head`) is not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        other => other.context("cannot write to stdout")?,
    }
    report(&account.name, &outcome);
    Ok(())
}

/// Reads every employee of an account, with a progress bar when stderr is a terminal.
pub async fn read(account: &AccountConfig) -> Result<ReadOutcome, Failure> {
    let client = PersonioClient::new(account.clone())
        .map_err(|e| Failure::Invalid(anyhow::Error::new(e)))?;
    let bar = progress_bar(&account.name);
    let options = ReadOptions {
        progress: bar
            .clone()
            .map(|bar| -> Arc<dyn Fn(ReadProgress) + Send + Sync> {
                Arc::new(move |p: ReadProgress| {
                    if let Some(total) = p.total {
                        bar.set_length(total as u64);
                    }
                    bar.set_position(p.fetched as u64);
                })
            }),
    };
    let result = client.read_all(&options).await;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    result.map_err(|e| Failure::Failed(anyhow::Error::new(e)))
}

fn progress_bar(account: &str) -> Option<ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::new(0);
    let style =
        ProgressStyle::with_template("{prefix} {bar:40.cyan/blue} {pos}/{len} employees {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_prefix(format!("reading {account}"));
    Some(bar)
}

/// The request summary and any warnings about the read, on stderr.
pub fn report(account: &str, outcome: &ReadOutcome) {
    let s = &outcome.stats;
    eprintln!(
        "{account}: {} employees in {:.2} s; {} requests ({} pages), {} retries, {} throttled (429)",
        outcome.employees.len(),
        s.elapsed.as_secs_f64(),
        s.requests,
        s.pages,
        s.retries,
        s.throttled
    );
    for skipped in &outcome.skipped {
        eprintln!(
            "warning: skipped record {}: {}",
            skipped.id.as_deref().unwrap_or("(no id)"),
            skipped.reason
        );
    }
    if !outcome.complete {
        eprintln!(
            "warning: the read is not known to be complete; nothing will be deprovisioned from it"
        );
    }
    if !outcome.employees.is_empty() {
        let used: Vec<&str> = Employee::STANDARD_ATTRIBUTES
            .iter()
            .copied()
            .filter(|a| *a != "id")
            .collect();
        for missing in psync_personio::whitelist_report(&used, outcome) {
            eprintln!("note: {missing}");
        }
    }
}
