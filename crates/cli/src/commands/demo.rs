//! `personio-sync demo`: the read side end to end on the built-in simulator, no setup.

use crate::Failure;
use crate::commands::employees;
use crate::output::{self, Format};
use anyhow::Context;
use psync_personio::{AccountConfig, ApiVersion, Limits};
use psync_personio_sim::SimConfig;
use secrecy::SecretString;
use std::net::{Ipv4Addr, SocketAddr};

/// Options of `personio-sync demo`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// How many employees the simulated company has.
    #[arg(long, default_value_t = 250)]
    employees: usize,
    /// Seed of the simulated company.
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

pub async fn run(args: Args) -> Result<(), Failure> {
    let sim = psync_personio_sim::start(
        SimConfig {
            employees: args.employees,
            seed: args.seed,
            ..SimConfig::default()
        },
        SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
    )
    .await
    .context("cannot start the built-in simulator")?;
    println!(
        "Started a simulated Personio with {} employees at {}",
        sim.len(),
        sim.base_url()
    );
    println!("(it enforces Personio's documented rate limits and serves its quirks)\n");

    let mut summaries = Vec::new();
    for api in [ApiVersion::V1, ApiVersion::V2] {
        let account = AccountConfig {
            name: format!("demo-{api}"),
            base_url: sim.base_url(),
            client_id: "sim-client".into(),
            client_secret: SecretString::from("sim-secret"),
            api,
            app_id: None,
            limits: Limits::default(),
        };
        let outcome = employees::read(&account).await?;
        println!("== Read through Personio API {api}");
        employees::report(&account.name, &outcome);
        if api == ApiVersion::V1 {
            let head: Vec<_> = outcome.employees.iter().take(12).cloned().collect();
            let mut out = std::io::stdout().lock();
            output::write_employees(&mut out, &head, Format::Table)
                .context("cannot write to stdout")?;
            println!(
                "… {} more\n",
                outcome.employees.len().saturating_sub(head.len())
            );
        } else if let Some(e) = outcome
            .employees
            .iter()
            .find(|e| e.department.as_ref().is_some_and(|d| !d.parents.is_empty()))
        {
            let dept = e
                .department
                .as_ref()
                .map(|d| d.path().join(" / "))
                .unwrap_or_default();
            println!(
                "v2 adds the department hierarchy, e.g. {}: {dept}\n",
                e.display_name()
            );
        }
        summaries.push((
            api,
            outcome.employees.len(),
            outcome.stats.requests,
            outcome.complete,
        ));
    }
    println!("Summary:");
    for (api, n, requests, complete) in summaries {
        println!(
            "  {api}: {n} employees, {requests} requests, {}",
            if complete {
                "complete read"
            } else {
                "INCOMPLETE read"
            }
        );
    }
    println!(
        "\nNext: `personio-sync sim` runs the simulator on its own; point a config's base_url at it"
    );
    println!("and try `personio-sync employees --config FILE --format json`.");
    sim.shutdown().await;
    Ok(())
}
