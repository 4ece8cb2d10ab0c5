//! `personio-sync sim`: the Personio simulator as a standalone server on loopback.

use crate::Failure;
use anyhow::Context;
use psync_personio_sim::{Credential, SimConfig};
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

/// Options of `personio-sync sim`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// How many employees to generate.
    #[arg(long, default_value_t = 200)]
    employees: usize,
    /// Seed of the data generator: the same seed gives the same company.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Latency added to every API response, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Client id the simulator accepts.
    #[arg(long, default_value = "sim-client")]
    client_id: String,
    /// Client secret the simulator accepts.
    #[arg(long, default_value = "sim-secret")]
    client_secret: String,
    /// Switch off Personio's rate limits.
    #[arg(long)]
    no_rate_limit: bool,
}

pub async fn run(args: Args) -> Result<(), Failure> {
    let config = SimConfig {
        employees: args.employees,
        seed: args.seed,
        latency: Duration::from_millis(args.latency_ms),
        rate_limits: !args.no_rate_limit,
        credentials: vec![Credential::full(&args.client_id, &args.client_secret)],
        ..SimConfig::default()
    };
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, args.port));
    let sim = psync_personio_sim::start(config, addr)
        .await
        .with_context(|| format!("cannot start the simulator on {addr}"))?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on {}", sim.base_url()).context("cannot write to stdout")?;
        out.flush().context("cannot write to stdout")?;
    }
    eprintln!(
        "{} employees (seed {}); credentials {} / {}; admin API under {}/__sim/; Ctrl-C stops",
        sim.len(),
        args.seed,
        args.client_id,
        args.client_secret,
        sim.base_url()
    );
    shutdown_signal().await;
    sim.shutdown().await;
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
