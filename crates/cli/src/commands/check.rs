//! `personio-sync check`: connectivity, credentials and attribute diagnostics per account, and
//! a probe of every target (reachable, credentials, what the target supports).

use crate::Failure;
use crate::config;
use psync_model::EmployeeId;
use psync_personio::{ApiVersion, PersonioClient};
use psync_targets::Target;
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
        // v1 lists the attributes the credential may read; v2 has no such endpoint, so a
        // look-up of a person id that does not exist proves reachability and credentials.
        let probe = match account.api {
            ApiVersion::V1 => client
                .available_attributes()
                .await
                .map(|a| format!("{} readable attributes", a.len())),
            ApiVersion::V2 => client
                .read_one(&EmployeeId::new("0"))
                .await
                .map(|_| "persons endpoint answers".to_string()),
        };
        match probe {
            Ok(what) => {
                println!(
                    "ok    personio '{}' ({}): credentials accepted; {what}",
                    account.name, account.base_url
                );
            }
            Err(e) => {
                failed += 1;
                println!("FAIL  personio '{}': {e}", account.name);
            }
        }
    }
    for entry in &config.targets {
        let probe = match entry.build() {
            Ok(target) => target.check().await.map_err(|e| e.message),
            Err(problems) => Err(problems),
        };
        match probe {
            Ok(what) => println!("ok    target '{}' ({}): {what}", entry.name, entry.kind()),
            Err(e) => {
                failed += 1;
                println!("FAIL  target '{}' ({}): {e}", entry.name, entry.kind());
            }
        }
    }
    if failed > 0 {
        return Err(Failure::Failed(anyhow::anyhow!(
            "{failed} of {} checks failed",
            config.personio.len() + config.targets.len()
        )));
    }
    Ok(())
}
