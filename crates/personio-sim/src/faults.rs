//! The API middleware: counting, latency, and the injected 429 storms and 5xx errors.

use crate::ratelimit::{Limit, info_of};
use crate::respond;
use crate::state::{Shared, lock};
use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// What the fault settings say about the next API request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Injected {
    None,
    TooMany,
    Server(StatusCode),
}

fn next_injection(shared: &Shared) -> Injected {
    let mut f = lock(&shared.faults);
    if f.storm_left > 0 {
        f.storm_left -= 1;
        return Injected::TooMany;
    }
    let rate = f.faults.error_rate;
    if rate > 0.0 {
        // Deterministic: an accumulator that fires `rate` of the time, evenly spread.
        f.error_acc += rate.min(1.0);
        if f.error_acc >= 1.0 - 1e-9 {
            f.error_acc -= 1.0;
            f.error_seq += 1;
            let status = match f.error_seq % 3 {
                1 => StatusCode::INTERNAL_SERVER_ERROR,
                2 => StatusCode::BAD_GATEWAY,
                _ => StatusCode::SERVICE_UNAVAILABLE,
            };
            return Injected::Server(status);
        }
    }
    Injected::None
}

/// Wraps every API route (not `/__sim`).
pub(crate) async fn api_layer(
    State(shared): State<Arc<Shared>>,
    req: Request,
    next: Next,
) -> Response {
    let path = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| req.uri().path().to_string());
    let route = format!("{} {}", req.method(), path);
    let is_auth = path == "/v1/auth" || path == "/v2/auth/token";
    let v2 = path.starts_with("/v2");
    let c = &shared.counters;
    c.requests.fetch_add(1, Ordering::Relaxed);
    if is_auth {
        c.auth_requests.fetch_add(1, Ordering::Relaxed);
    }
    *lock(&c.by_route).entry(route).or_insert(0) += 1;

    let (latency, html) = {
        let f = lock(&shared.faults);
        (
            shared.config.latency + f.faults.extra_latency,
            f.faults.html_errors,
        )
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let injected = if is_auth {
        Injected::None
    } else {
        next_injection(&shared)
    };
    let resp = match injected {
        Injected::TooMany if v2 => {
            let limit = if path.starts_with("/v2/persons/{id}/employments") {
                Limit::V2Employments
            } else if path.starts_with("/v2/persons") {
                Limit::V2Persons
            } else {
                Limit::V2Other
            };
            respond::v2_too_many(info_of(limit, 0))
        }
        Injected::TooMany => respond::v1_too_many(1),
        Injected::Server(status) => respond::server_error(status, v2, html),
        Injected::None => next.run(req).await,
    };
    let status = resp.status();
    if status == StatusCode::TOO_MANY_REQUESTS {
        c.status_429.fetch_add(1, Ordering::Relaxed);
    } else if status.is_server_error() {
        c.status_5xx.fetch_add(1, Ordering::Relaxed);
    }
    resp
}
