//! `personio-sync serve`: the long-running service (scheduler, webhook intake, admin API,
//! metrics, notifications, the dashboard) until SIGTERM or Ctrl-C, then a graceful shutdown.

use crate::Failure;
use crate::commands::sim::shutdown_signal;
use crate::config;
use anyhow::Context;
use psync_engine::SystemClock;
use psync_server::webhook::WebhookAccount;
use psync_server::{Service, Settings};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// Options of `personio-sync serve`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The configuration file.
    #[arg(long, short)]
    pub config: PathBuf,
    /// Listen here instead of `[service] listen`.
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// Log notifications instead of sending them.
    #[arg(long)]
    pub dry_notify: bool,
}

/// The service settings from a validated configuration.
pub fn settings(config: &config::Config) -> Settings {
    let s = &config.service;
    let mut settings = Settings::new(s.data_dir.clone());
    settings.admin_token = s.admin_token.clone();
    settings.webhooks = s
        .webhooks
        .iter()
        .map(|w| WebhookAccount {
            name: w.account.clone(),
            tokens: w.tokens.clone(),
            company_id: w.company_id.clone(),
        })
        .collect();
    settings.debounce = s.debounce;
    settings.max_body_bytes = s.max_body_bytes;
    settings.request_timeout = s.request_timeout;
    settings.shutdown_grace = s.shutdown_grace;
    settings.jobs = config.jobs.clone();
    settings.notify = config.notify.clone();
    settings
}

/// Runs the service until a shutdown signal.
pub async fn run(args: Args) -> Result<(), Failure> {
    let config = config::load(&args.config)?;
    let engine = crate::commands::sync::engine(&config, false).await?;
    let mut settings = settings(&config);
    if args.dry_notify {
        settings.notify.dry_run = true;
    }
    if settings.admin_token.is_none() {
        tracing::warn!("No [service] admin_token is set: the admin API answers 401 to everyone.");
    }
    let listen = args.listen.unwrap_or(config.service.listen);
    let header_timeout = settings.request_timeout;
    let grace = settings.shutdown_grace;
    let service = Service::new(Arc::new(engine), Arc::new(SystemClock), settings)
        .await
        .map_err(|e| Failure::Failed(anyhow::Error::new(e)))?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let local = listener.local_addr().context("the listening address")?;
    // The dashboard shares the service's engine; it logs in with the admin token or a
    // [service.users.NAME] password.
    let view = service.clone();
    let next_runs: psync_dashboard::NextRuns = Arc::new(move || {
        view.scheduler()
            .next_runs()
            .into_iter()
            .filter_map(|(target, at)| at.map(|at| (target, at)))
            .collect()
    });
    let dashboard = psync_dashboard::DashboardState::new(
        service.engine().clone(),
        service.settings().admin_token.clone(),
    )
    .with_next_runs(next_runs)
    .with_users(
        config
            .service
            .users
            .iter()
            .map(|(name, password)| psync_dashboard::User {
                name: name.clone(),
                password: password.clone(),
            })
            .collect(),
    );
    let app = service.router().merge(psync_dashboard::router(dashboard));
    let tasks = service.start();
    println!(
        "personio-sync serves on http://{local} (dashboard at /, admin API under /api, metrics at /metrics)"
    );
    for (target, next) in service.scheduler().next_runs() {
        match next {
            Some(at) => println!("  next scheduled sync of {target}: {at}"),
            None => println!("  {target}: no schedule"),
        }
    }
    for w in &service.settings().webhooks {
        println!(
            "  webhook intake for {}: /webhooks/personio/{}",
            w.name, w.name
        );
    }
    let stopper = service.clone();
    psync_server::serve(
        listener,
        app,
        header_timeout,
        grace.min(std::time::Duration::from_secs(30)),
        async move {
            shutdown_signal().await;
            tracing::info!("Shutting down: no new work is taken; running syncs finish.");
            stopper.stop();
        },
    )
    .await
    .context("the HTTP server failed")?;
    for task in tasks {
        let _ = task.await;
    }
    if service.drain().await {
        println!("personio-sync stopped cleanly.");
    } else {
        println!(
            "personio-sync stopped while a sync was still running; its journal makes the next run safe."
        );
    }
    Ok(())
}
