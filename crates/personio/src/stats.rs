//! Request accounting: what a client sent, retried and had throttled.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// What a client (or one read) cost in requests.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RequestStats {
    /// HTTP requests sent, including token requests and retries.
    pub requests: u64,
    /// Requests that repeated an earlier one (after a 429, 5xx, transport error or token refresh).
    pub retries: u64,
    /// 429 answers received.
    pub throttled: u64,
    /// Wall-clock time of the read (zero for client totals).
    pub elapsed: Duration,
    /// List pages fetched (v1 employee pages; v2 person pages).
    pub pages: u64,
    /// Token requests among `requests`.
    pub auth_requests: u64,
    /// Requests per employee returned (v2 reads cost about two plus shared lookups); 0 when none.
    pub requests_per_employee: f64,
}

/// Live counters behind [`RequestStats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    requests: AtomicU64,
    retries: AtomicU64,
    throttled: AtomicU64,
    pages: AtomicU64,
    auth: AtomicU64,
}

impl Counters {
    pub(crate) fn add_request(&self, auth: bool, retry: bool) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        if auth {
            self.auth.fetch_add(1, Ordering::Relaxed);
        }
        if retry {
            self.retries.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn add_throttled(&self) {
        self.throttled.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn add_page(&self) {
        self.pages.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> RequestStats {
        RequestStats {
            requests: self.requests.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            throttled: self.throttled.load(Ordering::Relaxed),
            elapsed: Duration::ZERO,
            pages: self.pages.load(Ordering::Relaxed),
            auth_requests: self.auth.load(Ordering::Relaxed),
            requests_per_employee: 0.0,
        }
    }
}

impl RequestStats {
    /// The counts between `earlier` and `self`, for one read.
    pub(crate) fn since(
        &self,
        earlier: &RequestStats,
        elapsed: Duration,
        employees: usize,
    ) -> Self {
        let requests = self.requests.saturating_sub(earlier.requests);
        RequestStats {
            requests,
            retries: self.retries.saturating_sub(earlier.retries),
            throttled: self.throttled.saturating_sub(earlier.throttled),
            elapsed,
            pages: self.pages.saturating_sub(earlier.pages),
            auth_requests: self.auth_requests.saturating_sub(earlier.auth_requests),
            requests_per_employee: if employees == 0 {
                0.0
            } else {
                requests as f64 / employees as f64
            },
        }
    }
}
