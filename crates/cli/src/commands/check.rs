//! `personio-sync check`: connectivity, credentials and attribute diagnostics per account.

use crate::Failure;
use crate::config;
use psync_personio::PersonioClient;
use std::path::PathBuf;

/// Options of `personio-sync check`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The configuration file.
    #[arg(long, short)]
    config: PathBuf,
}

pub async fn run(args: Args) -> Result<(), Failure> {
    let config = config::load(&args.config)?;
    let mut failed = 0;
    for account in &config.personio {
        let client = PersonioClient::new(account.clone())
            .map_err(|e| Failure::Invalid(anyhow::Error::new(e)))?;
        match client.available_attributes().await {
            Ok(attributes) => {
                println!(
                    "ok    personio '{}' ({}): credentials accepted; {} readable attributes",
                    account.name,
                    account.base_url,
                    attributes.len()
                );
            }
            Err(e) => {
                failed += 1;
                println!("FAIL  personio '{}': {e}", account.name);
            }
        }
    }
    if failed > 0 {
        return Err(Failure::Failed(anyhow::anyhow!(
            "{failed} of {} checks failed",
            config.personio.len()
        )));
    }
    Ok(())
}
