//! Account configuration: where a Personio account lives, its credential, and client limits.

use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

/// Which Personio API generation to read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApiVersion {
    /// `/v1/company/employees` (labelled attributes, offset paging).
    V1,
    /// `/v2/persons` + `/v2/persons/{id}/employments` (+ org units, workplaces, …).
    V2,
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ApiVersion::V1 => "v1",
            ApiVersion::V2 => "v2",
        })
    }
}

/// The default `X-Personio-App-ID` (Personio asks every caller to identify itself).
pub const DEFAULT_APP_ID: &str = "PERSONIO_SYNC";

/// One Personio account (one company, one API credential).
#[derive(Clone)]
pub struct AccountConfig {
    /// The account's name in configuration; every error message names it.
    pub name: String,
    /// `https://api.personio.de` or a simulator's base URL (no trailing `/v1`).
    pub base_url: String,
    /// The API credential's client id.
    pub client_id: String,
    /// The API credential's secret; never logged.
    pub client_secret: SecretString,
    /// Which API generation to read.
    pub api: ApiVersion,
    /// Sent as `X-Personio-App-ID`; defaults to [`DEFAULT_APP_ID`].
    pub app_id: Option<String>,
    /// Rates, burst sizes, concurrency, page sizes, retries.
    pub limits: Limits,
}

impl fmt::Debug for AccountConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccountConfig")
            .field("name", &self.name)
            .field("base_url", &self.base_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .field("api", &self.api)
            .field("app_id", &self.app_id)
            .field("limits", &self.limits)
            .finish()
    }
}

/// A token bucket the client applies to itself before Personio does.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Requests per second refilled (may be fractional, e.g. `290.0 / 60.0`).
    pub per_second: f64,
    /// Bucket capacity: how many requests may go out at once after a pause.
    pub burst: u32,
}

impl Rate {
    /// A bucket refilled `per_second` with capacity `burst`.
    pub const fn new(per_second: f64, burst: u32) -> Self {
        Rate { per_second, burst }
    }
}

/// Client-side limits. [`Limits::default`] keeps under Personio's documented limits with a margin.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Apply the rate buckets below (off for simulators started with `--no-rate-limit`).
    pub rate_limit: bool,
    /// v1 `/company/employees*`: Personio allows 15/s with burst 15.
    pub v1_employees_per_second: Rate,
    /// v1 `/company/employees*`: Personio allows 300/min.
    pub v1_employees_per_minute: Rate,
    /// Every v1 endpoint together: Personio allows 2000/min.
    pub v1_all: Rate,
    /// `POST /v1/auth` (60/min) and `POST /v2/auth/token` (150/min).
    pub auth: Rate,
    /// v2 `/v2/persons` (observed 30/s).
    pub v2_persons: Rate,
    /// v2 `/v2/persons/{id}/employments` (observed 30/s).
    pub v2_employments: Rate,
    /// Other v2 endpoints: org units, workplaces, legal entities, cost centers (10/s).
    pub v2_other: Rate,
    /// v1 page size (Personio: 1–100).
    pub v1_page_size: u32,
    /// v2 persons/employments page size (Personio: 1–50).
    pub v2_page_size: u32,
    /// v2 org-unit/workplace/legal-entity/cost-center page size.
    pub v2_list_page_size: u32,
    /// v1 pages in flight at once once the total is known.
    pub v1_concurrency: usize,
    /// v2 employment/org-unit requests in flight at once.
    pub v2_concurrency: usize,
    /// Attempts after the first one for transient failures (429, 5xx, timeouts, resets).
    pub max_retries: u32,
    /// First backoff delay; doubled per attempt, with jitter.
    pub retry_base: Duration,
    /// Upper bound for one backoff delay (also caps an announced `Retry-After`).
    pub retry_max: Duration,
    /// Timeout of one HTTP request.
    pub request_timeout: Duration,
    /// Full v1 read passes when a pass looks inconsistent (shifting records, lying totals).
    pub max_read_passes: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            rate_limit: true,
            // Personio: 15/s, burst 15. A 1.3 % slower refill and a burst one smaller leave a
            // spare token (~67 ms of network jitter) and keep a 10k read within 10 % of the
            // floor (measured: 101 requests, 6.25 s at 50 ms latency, floor 5.73 s).
            v1_employees_per_second: Rate::new(14.8, 14),
            // Personio: 300/min (bucket 300, 5/s).
            v1_employees_per_minute: Rate::new(280.0 / 60.0, 280),
            // Personio: 2000/min per client.
            v1_all: Rate::new(1800.0 / 60.0, 1800),
            // Personio: 60/min for v1 (150/min for v2).
            auth: Rate::new(50.0 / 60.0, 5),
            // Personio (observed): 30/s for persons and for employments, 10/s for the rest.
            v2_persons: Rate::new(29.0, 28),
            v2_employments: Rate::new(29.0, 28),
            v2_other: Rate::new(9.0, 8),
            v1_page_size: 100,
            v2_page_size: 50,
            v2_list_page_size: 50,
            v1_concurrency: 6,
            v2_concurrency: 8,
            max_retries: 6,
            retry_base: Duration::from_millis(500),
            retry_max: Duration::from_secs(30),
            request_timeout: Duration::from_secs(30),
            max_read_passes: 3,
        }
    }
}

impl Limits {
    /// For simulators without rate limits (tests, `--no-rate-limit`): no client buckets,
    /// more parallelism, short backoffs.
    pub fn unthrottled() -> Self {
        Limits {
            rate_limit: false,
            v1_concurrency: 8,
            v2_concurrency: 16,
            retry_base: Duration::from_millis(20),
            retry_max: Duration::from_secs(2),
            ..Limits::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_the_secret() {
        let config = AccountConfig {
            name: "acme".into(),
            base_url: "https://api.personio.de".into(),
            client_id: "papi-id".into(),
            client_secret: SecretString::from("papi-very-secret".to_string()),
            api: ApiVersion::V1,
            app_id: None,
            limits: Limits::default(),
        };
        let debug = format!("{config:?}");
        assert!(!debug.contains("very-secret"), "{debug}");
        assert!(debug.contains("[redacted]") && debug.contains("papi-id"));
    }

    #[test]
    fn default_limits_stay_under_personio() {
        let l = Limits::default();
        assert!(
            l.v1_employees_per_second.per_second < 15.0 && l.v1_employees_per_second.burst < 15
        );
        assert!(
            l.v1_employees_per_minute.per_second < 5.0 && l.v1_employees_per_minute.burst < 300
        );
        assert!(l.v2_persons.per_second < 30.0 && l.v2_other.per_second < 10.0);
        assert!(l.auth.per_second * 60.0 < 60.0);
    }
}
