//! Shared simulator state: company, auth, rate limiter, faults, counters, webhooks.

use crate::auth::AuthState;
use crate::company::{Company, Event};
use crate::config::{Faults, SimConfig};
use crate::ratelimit::Limiter;
use crate::webhooks::Webhook;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Request counters, readable by tests and benchmarks.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Counters {
    /// All API requests (admin `/__sim` requests are not counted).
    pub requests: u64,
    /// Requests per route, e.g. `"GET /v1/company/employees"` (path templates for parameters).
    pub by_route: BTreeMap<String, u64>,
    /// Responses with status 429.
    pub status_429: u64,
    /// Responses with a 5xx status.
    pub status_5xx: u64,
    /// Token requests (`POST /v1/auth`, `POST /v2/auth/token`).
    pub auth_requests: u64,
}

#[derive(Debug, Default)]
pub(crate) struct CounterCells {
    pub requests: AtomicU64,
    pub status_429: AtomicU64,
    pub status_5xx: AtomicU64,
    pub auth_requests: AtomicU64,
    pub by_route: Mutex<BTreeMap<String, u64>>,
}

impl CounterCells {
    pub(crate) fn snapshot(&self) -> Counters {
        Counters {
            requests: self.requests.load(Ordering::Relaxed),
            by_route: lock(&self.by_route).clone(),
            status_429: self.status_429.load(Ordering::Relaxed),
            status_5xx: self.status_5xx.load(Ordering::Relaxed),
            auth_requests: self.auth_requests.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn reset(&self) {
        self.requests.store(0, Ordering::Relaxed);
        self.status_429.store(0, Ordering::Relaxed);
        self.status_5xx.store(0, Ordering::Relaxed);
        self.auth_requests.store(0, Ordering::Relaxed);
        lock(&self.by_route).clear();
    }
}

/// Current faults plus the state of their deterministic sequences.
#[derive(Debug, Default)]
pub(crate) struct FaultState {
    pub faults: Faults,
    pub error_acc: f64,
    pub error_seq: u64,
    pub storm_left: u32,
    pub shift_done: bool,
}

/// Everything the handlers share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub config: SimConfig,
    pub base_url: String,
    pub company: RwLock<Company>,
    pub auth: Mutex<AuthState>,
    pub limiter: Mutex<Limiter>,
    pub faults: Mutex<FaultState>,
    pub counters: CounterCells,
    pub webhooks: Mutex<Vec<Webhook>>,
    pub http: reqwest::Client,
    pub runtime: tokio::runtime::Handle,
}

/// Locks a mutex, recovering from poisoning (a panicked holder cannot leave these states broken
/// in a way that matters for a simulator).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    pub(crate) fn read(&self) -> RwLockReadGuard<'_, Company> {
        self.company.read().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn write(&self) -> RwLockWriteGuard<'_, Company> {
        self.company.write().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn faults(&self) -> Faults {
        lock(&self.faults).faults.clone()
    }

    pub(crate) fn token_ttl(&self) -> Option<std::time::Duration> {
        lock(&self.faults).faults.token_ttl
    }

    /// The malformed-record fault's id, if set.
    pub(crate) fn malformed(&self) -> Option<u64> {
        lock(&self.faults)
            .faults
            .malformed_record
            .as_deref()
            .and_then(|s| s.trim().parse().ok())
    }

    /// Sends the webhook events a mutation implied.
    pub(crate) fn emit(&self, events: Vec<Event>) {
        crate::webhooks::dispatch(self, events);
    }
}
