//! `personio-sync webhooks register|list|remove`: the Personio v2 webhook subscriptions that
//! feed `serve`'s intake, managed through Personio's API.

use crate::Failure;
use crate::config;
use anyhow::{Context, anyhow};
use psync_personio::PersonioClient;
use secrecy::ExposeSecret;
use std::path::PathBuf;

/// The events `serve` acts on: everything about a person or their employment.
const EVENTS: &[&str] = &[
    "person.created",
    "person.updated",
    "person.deleted",
    "employment.created",
    "employment.updated",
    "employment.deleted",
    "employment.started",
    "employment.terminated",
];

/// The `webhooks` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Subscribe the service's intake URL to the person and employment events of an account.
    Register(RegisterArgs),
    /// List an account's subscriptions.
    List(Common),
    /// Delete a subscription by id (see `list`).
    Remove(RemoveArgs),
}

/// Options every subcommand takes.
#[derive(Debug, clap::Args)]
pub struct Common {
    /// The configuration file.
    #[arg(long, short)]
    pub config: PathBuf,
    /// The `[[personio]]` account (needed when several are configured).
    #[arg(long)]
    pub account: Option<String>,
}

/// Options of `webhooks register`.
#[derive(Debug, clap::Args)]
pub struct RegisterArgs {
    #[command(flatten)]
    common: Common,
    /// The public https URL of this account's intake (default: `public_url` of
    /// `[service.webhooks.ACCOUNT]`).
    #[arg(long)]
    url: Option<String>,
}

/// Options of `webhooks remove`.
#[derive(Debug, clap::Args)]
pub struct RemoveArgs {
    #[command(flatten)]
    common: Common,
    /// The subscription's id.
    id: String,
}

/// Runs a `webhooks` subcommand.
pub async fn run(command: Command) -> Result<(), Failure> {
    match command {
        Command::Register(args) => register(args).await,
        Command::List(args) => list(args).await,
        Command::Remove(args) => remove(args).await,
    }
}

fn load(common: &Common) -> Result<(config::Config, psync_personio::AccountConfig), Failure> {
    let config = config::load(&common.config)?;
    let account = config
        .account(common.account.as_deref())
        .map_err(|m| Failure::Invalid(anyhow!(m)))?
        .clone();
    Ok((config, account))
}

async fn register(args: RegisterArgs) -> Result<(), Failure> {
    let (config, account) = load(&args.common)?;
    let hook = config
        .service
        .webhooks
        .iter()
        .find(|w| w.account == account.name)
        .ok_or_else(|| {
            Failure::Invalid(anyhow!(
                "no [service.webhooks.{}] section: set its token first (the Authorization value \
                 Personio will send), then register",
                account.name
            ))
        })?;
    let url = args
        .url
        .or_else(|| hook.public_url.clone())
        .ok_or_else(|| {
            Failure::Invalid(anyhow!(
                "no URL: pass --url or set public_url in [service.webhooks.{}] (the https \
                 address of /webhooks/personio/{} as Personio reaches it)",
                account.name,
                account.name
            ))
        })?;
    let token = hook.tokens.first().ok_or_else(|| {
        Failure::Invalid(anyhow!("[service.webhooks.{}] has no token", account.name))
    })?;
    let admin = PersonioClient::webhook_admin(&account)
        .map_err(|e| Failure::Invalid(anyhow::Error::new(e)))?;
    let existing = admin.list().await.context("listing the subscriptions")?;
    if let Some(same) = existing.iter().find(|w| w.url == url) {
        println!(
            "already registered: {} → {} ({}); remove it first to change its token or events",
            same.id, same.url, same.status
        );
        return Ok(());
    }
    let created = admin
        .create(&url, token.expose_secret(), EVENTS, "personio-sync")
        .await
        .context("creating the subscription")?;
    println!(
        "registered {} → {} ({}), events: {}",
        created.id,
        created.url,
        created.status,
        created.enabled_events.join(", ")
    );
    Ok(())
}

async fn list(args: Common) -> Result<(), Failure> {
    let (_, account) = load(&args)?;
    let admin = PersonioClient::webhook_admin(&account)
        .map_err(|e| Failure::Invalid(anyhow::Error::new(e)))?;
    let hooks = admin.list().await.context("listing the subscriptions")?;
    if hooks.is_empty() {
        println!("no webhook subscriptions for account '{}'", account.name);
    }
    for w in hooks {
        println!(
            "{}  {}  {}  {}",
            w.id,
            w.status,
            w.url,
            w.enabled_events.join(",")
        );
    }
    Ok(())
}

async fn remove(args: RemoveArgs) -> Result<(), Failure> {
    let (_, account) = load(&args.common)?;
    let admin = PersonioClient::webhook_admin(&account)
        .map_err(|e| Failure::Invalid(anyhow::Error::new(e)))?;
    admin
        .delete(&args.id)
        .await
        .with_context(|| format!("deleting subscription {}", args.id))?;
    println!("removed {}", args.id);
    Ok(())
}
