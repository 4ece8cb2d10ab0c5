//! Token buckets per (limit, credential): Personio's documented and observed rate limits.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// One token bucket.
#[derive(Debug, Clone)]
struct Bucket {
    capacity: f64,
    rate: f64,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn new(capacity: f64, rate: f64, now: Instant) -> Self {
        Bucket {
            capacity,
            rate,
            tokens: capacity,
            last: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let dt = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + dt * self.rate).min(self.capacity);
        self.last = now;
    }

    /// Seconds until one token is available (0 when one is).
    fn wait(&self) -> f64 {
        if self.tokens >= 1.0 {
            0.0
        } else {
            (1.0 - self.tokens) / self.rate
        }
    }
}

/// The limits the simulator enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Limit {
    /// v1 employees: burst 15, 15/s.
    V1EmployeesBurst,
    /// v1 employees: 300/min.
    V1EmployeesMinute,
    /// All v1 endpoints: 2000/min.
    V1All,
    /// `POST /v1/auth`: 60/min, then a 60 s cool-down.
    V1Auth,
    /// `POST /v2/auth/token`: 150/min, then 1/s for 60 s.
    V2Auth,
    /// `/v2/persons`: 30/s.
    V2Persons,
    /// `/v2/persons/{id}/employments`: 30/s.
    V2Employments,
    /// org units, workplaces, legal entities, cost centers, webhooks: 10/s shared.
    V2Other,
}

impl Limit {
    /// (capacity, refill per second)
    fn shape(self) -> (f64, f64) {
        match self {
            Limit::V1EmployeesBurst => (15.0, 15.0),
            Limit::V1EmployeesMinute => (300.0, 5.0),
            Limit::V1All => (2000.0, 2000.0 / 60.0),
            Limit::V1Auth => (60.0, 1.0),
            Limit::V2Auth => (150.0, 2.5),
            Limit::V2Persons | Limit::V2Employments => (30.0, 30.0),
            Limit::V2Other => (10.0, 10.0),
        }
    }
}

/// What a v2 response reports in its `x-ratelimit-*` headers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RateInfo {
    pub replenish_rate: f64,
    pub burst_capacity: f64,
    pub remaining: u64,
}

/// A rejected request: seconds until it may be retried (rounded up, at least 1).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Throttled {
    pub retry_after: u64,
    pub info: RateInfo,
}

/// All buckets, keyed by limit and credential.
#[derive(Debug, Default)]
pub(crate) struct Limiter {
    buckets: HashMap<(Limit, String), Bucket>,
    /// Auth penalties: until when (v1: cool-down, v2: 1 req/s mode).
    penalty: HashMap<(Limit, String), Instant>,
}

impl Limiter {
    /// Takes one token from every bucket in `limits`, or none when one of them is empty.
    pub(crate) fn take(&mut self, limits: &[Limit], key: &str) -> Result<RateInfo, Throttled> {
        let now = Instant::now();
        let mut wait: f64 = 0.0;
        for l in limits {
            let (cap, rate) = l.shape();
            let b = self
                .buckets
                .entry((*l, key.to_string()))
                .or_insert_with(|| Bucket::new(cap, rate, now));
            b.refill(now);
            wait = wait.max(b.wait());
        }
        let first = limits.first().copied().unwrap_or(Limit::V1All);
        let (cap, rate) = first.shape();
        if wait > 0.0 {
            let remaining = self
                .buckets
                .get(&(first, key.to_string()))
                .map_or(0.0, |b| b.tokens);
            return Err(Throttled {
                retry_after: (wait.ceil() as u64).max(1),
                info: RateInfo {
                    replenish_rate: rate,
                    burst_capacity: cap,
                    remaining: remaining.max(0.0) as u64,
                },
            });
        }
        let mut remaining = cap;
        for l in limits {
            if let Some(b) = self.buckets.get_mut(&(*l, key.to_string())) {
                b.tokens -= 1.0;
                if *l == first {
                    remaining = b.tokens;
                }
            }
        }
        Ok(RateInfo {
            replenish_rate: rate,
            burst_capacity: cap,
            remaining: remaining.max(0.0) as u64,
        })
    }

    /// `POST /v1/auth`: 60/min; exceeding it starts a 60 s cool-down.
    pub(crate) fn take_v1_auth(&mut self, key: &str) -> Result<(), Throttled> {
        let now = Instant::now();
        let pkey = (Limit::V1Auth, key.to_string());
        if let Some(until) = self.penalty.get(&pkey).copied() {
            if now < until {
                let secs = until.saturating_duration_since(now).as_secs_f64().ceil() as u64;
                return Err(Throttled {
                    retry_after: secs.max(1),
                    info: info_of(Limit::V1Auth, 0),
                });
            }
            self.penalty.remove(&pkey);
            self.buckets.remove(&pkey);
        }
        match self.take(&[Limit::V1Auth], key) {
            Ok(_) => Ok(()),
            Err(t) => {
                self.penalty.insert(pkey, now + Duration::from_secs(60));
                Err(Throttled {
                    retry_after: 60,
                    ..t
                })
            }
        }
    }

    /// `POST /v2/auth/token`: 150/min; exceeding it allows only 1 req/s for the next 60 s.
    pub(crate) fn take_v2_auth(&mut self, key: &str) -> Result<RateInfo, Throttled> {
        let now = Instant::now();
        let pkey = (Limit::V2Auth, key.to_string());
        if let Some(until) = self.penalty.get(&pkey).copied() {
            if now < until {
                let slow = (Limit::V2Auth, format!("{key}\u{0}slow"));
                let b = self
                    .buckets
                    .entry(slow)
                    .or_insert_with(|| Bucket::new(1.0, 1.0, now));
                b.refill(now);
                if b.tokens >= 1.0 {
                    b.tokens -= 1.0;
                    return Ok(RateInfo {
                        replenish_rate: 1.0,
                        burst_capacity: 1.0,
                        remaining: 0,
                    });
                }
                return Err(Throttled {
                    retry_after: 1,
                    info: RateInfo {
                        replenish_rate: 1.0,
                        burst_capacity: 1.0,
                        remaining: 0,
                    },
                });
            }
            self.penalty.remove(&pkey);
            self.buckets.remove(&pkey);
        }
        match self.take(&[Limit::V2Auth], key) {
            Ok(i) => Ok(i),
            Err(t) => {
                self.penalty.insert(pkey, now + Duration::from_secs(60));
                Err(t)
            }
        }
    }
}

/// Header values for a limit when nothing was taken.
pub(crate) fn info_of(limit: Limit, remaining: u64) -> RateInfo {
    let (cap, rate) = limit.shape();
    RateInfo {
        replenish_rate: rate,
        burst_capacity: cap,
        remaining,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_throttle() {
        let mut l = Limiter::default();
        for _ in 0..15 {
            l.take(&[Limit::V1EmployeesBurst, Limit::V1EmployeesMinute], "c")
                .unwrap();
        }
        let t = l
            .take(&[Limit::V1EmployeesBurst, Limit::V1EmployeesMinute], "c")
            .unwrap_err();
        assert_eq!(t.retry_after, 1);
        // Another credential has its own buckets.
        l.take(&[Limit::V1EmployeesBurst], "other").unwrap();
    }

    #[test]
    fn v1_auth_cool_down() {
        let mut l = Limiter::default();
        for _ in 0..60 {
            l.take_v1_auth("c").unwrap();
        }
        assert_eq!(l.take_v1_auth("c").unwrap_err().retry_after, 60);
        assert!(l.take_v1_auth("c").unwrap_err().retry_after >= 59);
    }
}
