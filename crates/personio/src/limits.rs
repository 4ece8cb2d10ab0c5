//! Client-side rate limiting: one governor bucket per Personio limit, waited on before sending.

use crate::config::{Limits, Rate};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;
use std::time::Duration;

/// Which Personio limit a request counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bucket {
    /// `POST /v1/auth`, `POST /v2/auth/token`.
    Auth,
    /// v1 `/company/employees*`.
    V1Employees,
    /// `/v2/persons` list and get.
    V2Persons,
    /// `/v2/persons/{id}/employments`.
    V2Employments,
    /// Every other v2 endpoint.
    V2Other,
}

/// The buckets of one client; `None` everywhere when rate limiting is off.
#[derive(Debug)]
pub(crate) struct Limiter {
    auth: Option<DefaultDirectRateLimiter>,
    v1_all: Option<DefaultDirectRateLimiter>,
    v1_second: Option<DefaultDirectRateLimiter>,
    v1_minute: Option<DefaultDirectRateLimiter>,
    v2_persons: Option<DefaultDirectRateLimiter>,
    v2_employments: Option<DefaultDirectRateLimiter>,
    v2_other: Option<DefaultDirectRateLimiter>,
}

fn bucket(enabled: bool, rate: Rate) -> Result<Option<DefaultDirectRateLimiter>, String> {
    if !enabled {
        return Ok(None);
    }
    if !(rate.per_second.is_finite() && rate.per_second > 0.0) {
        return Err(format!(
            "a rate must be a positive number, got {}",
            rate.per_second
        ));
    }
    let burst = NonZeroU32::new(rate.burst).ok_or("a burst must be at least 1")?;
    let period = Duration::from_secs_f64(1.0 / rate.per_second);
    let quota = Quota::with_period(period)
        .ok_or("a rate is too high")?
        .allow_burst(burst);
    Ok(Some(RateLimiter::direct(quota)))
}

impl Limiter {
    /// Builds the buckets; an error names the invalid setting.
    pub(crate) fn new(limits: &Limits) -> Result<Self, String> {
        let on = limits.rate_limit;
        Ok(Limiter {
            auth: bucket(on, limits.auth)?,
            v1_all: bucket(on, limits.v1_all)?,
            v1_second: bucket(on, limits.v1_employees_per_second)?,
            v1_minute: bucket(on, limits.v1_employees_per_minute)?,
            v2_persons: bucket(on, limits.v2_persons)?,
            v2_employments: bucket(on, limits.v2_employments)?,
            v2_other: bucket(on, limits.v2_other)?,
        })
    }

    /// Waits until every bucket the request counts against has a token.
    pub(crate) async fn wait(&self, bucket: Bucket) {
        let chain: [&Option<DefaultDirectRateLimiter>; 3] = match bucket {
            Bucket::Auth => [&self.auth, &None, &None],
            Bucket::V1Employees => [&self.v1_minute, &self.v1_all, &self.v1_second],
            Bucket::V2Persons => [&self.v2_persons, &None, &None],
            Bucket::V2Employments => [&self.v2_employments, &None, &None],
            Bucket::V2Other => [&self.v2_other, &None, &None],
        };
        for limiter in chain.into_iter().flatten() {
            limiter.until_ready().await;
        }
    }
}
