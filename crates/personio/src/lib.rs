//! Personio API client (v1 and v2): authentication, client-side rate limits, paging, retries,
//! and normalization into the canonical [`psync_model::Employee`].
//!
//! Entry point: [`PersonioClient`]. A read returns a [`ReadOutcome`] whose `complete` flag says
//! whether the read was full and consistent — the only kind of read allowed to deprovision.

mod config;
mod convert;
mod diagnostics;
mod error;
mod http;
mod limits;
mod normalize_v1;
mod normalize_v2;
#[cfg(test)]
mod spec_examples;
mod stats;
mod v1;
mod v2;

pub use config::{AccountConfig, ApiVersion, DEFAULT_APP_ID, Limits, Rate};
pub use diagnostics::{AttributeInfo, MissingAttribute, SkippedRecord, whitelist_report};
pub use error::{ErrorKind, PersonioError};
pub use stats::RequestStats;
pub use v2::{WebhookAdmin, WebhookSubscription};

use psync_model::{Employee, EmployeeId};
use std::fmt;
use std::sync::Arc;
use std::time::Instant;

/// Progress of a running read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadProgress {
    /// Records fetched so far (in the current pass).
    pub fetched: usize,
    /// What Personio announced, when it did.
    pub total: Option<usize>,
}

/// Options of one read.
#[derive(Clone, Default)]
pub struct ReadOptions {
    /// Called after every page (v1) or every person/employment batch (v2).
    pub progress: Option<Arc<dyn Fn(ReadProgress) + Send + Sync>>,
}

impl fmt::Debug for ReadOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadOptions")
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

/// The result of a full read.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadOutcome {
    /// Every converted employee, sorted by id, each id once.
    pub employees: Vec<Employee>,
    /// Records that could not be converted; they exist in Personio, so must not be deprovisioned.
    pub skipped: Vec<SkippedRecord>,
    /// A full, consistent read: the only kind allowed to deprovision.
    pub complete: bool,
    /// Why the read is not complete, or what was healed on the way (re-read passes).
    pub warnings: Vec<String>,
    /// What the read cost.
    pub stats: RequestStats,
}

/// A client for one Personio account. Cheap to share (`&self` everywhere); keeps its token.
#[derive(Debug)]
pub struct PersonioClient {
    http: http::Http,
}

impl PersonioClient {
    /// Validates the configuration and prepares the client; sends nothing.
    pub fn new(config: AccountConfig) -> Result<Self, PersonioError> {
        Ok(PersonioClient {
            http: http::Http::new(config)?,
        })
    }

    /// The account name from the configuration.
    pub fn account(&self) -> &str {
        &self.http.account
    }

    /// Reads every employee of the account.
    pub async fn read_all(&self, opts: &ReadOptions) -> Result<ReadOutcome, PersonioError> {
        let started = Instant::now();
        let before = self.http.counters.snapshot();
        let (mut employees, skipped, complete, warnings) = match self.http.api {
            ApiVersion::V1 => {
                let read = v1::read_all(&self.http, opts).await?;
                (read.employees, read.skipped, read.complete, read.warnings)
            }
            ApiVersion::V2 => {
                let read = v2::read_all(&self.http, opts).await?;
                (read.employees, read.skipped, read.complete, read.warnings)
            }
        };
        employees.sort_by(|a, b| a.id.cmp(&b.id));
        employees.dedup_by(|a, b| a.id == b.id);
        let stats =
            self.http
                .counters
                .snapshot()
                .since(&before, started.elapsed(), employees.len());
        tracing::info!(
            account = %self.http.account,
            employees = employees.len(),
            skipped = skipped.len(),
            complete,
            requests = stats.requests,
            retries = stats.retries,
            throttled = stats.throttled,
            elapsed_ms = stats.elapsed.as_millis() as u64,
            "Read employees from Personio."
        );
        Ok(ReadOutcome {
            employees,
            skipped,
            complete,
            warnings,
            stats,
        })
    }

    /// Reads one employee; `None` when Personio does not know the id.
    ///
    /// A record that exists but cannot be converted is an `InvalidResponse` error.
    pub async fn read_one(&self, id: &EmployeeId) -> Result<Option<Employee>, PersonioError> {
        let converted = match self.http.api {
            ApiVersion::V1 => v1::read_one(&self.http, id).await?,
            ApiVersion::V2 => v2::read_one(&self.http, id).await?,
        };
        converted.map_err(|skipped| PersonioError::InvalidResponse {
            account: self.http.account.clone(),
            url: self.http.url(&format!("/…/{}", id.as_str())),
            status: 200,
            problem: format!("a record that cannot be read: {}", skipped.reason),
        })
    }

    /// The attributes the credential may read (`GET /v1/company/employees/attributes`).
    pub async fn available_attributes(&self) -> Result<Vec<AttributeInfo>, PersonioError> {
        match self.http.api {
            ApiVersion::V1 => v1::attributes(&self.http).await,
            ApiVersion::V2 => Err(PersonioError::Config {
                account: self.http.account.clone(),
                message: "listing readable attributes needs the v1 API (api = \"v1\"); for v2 \
                          the scopes of the credential decide"
                    .into(),
            }),
        }
    }

    /// Everything this client sent so far (`elapsed` is zero).
    pub fn stats(&self) -> RequestStats {
        self.http.counters.snapshot()
    }
}
