//! The HTTP routes: webhook intake, `/healthz`, `/readyz`, `/metrics`, the OpenAPI document
//! and the admin JSON API under `/api` (bearer token, compared in constant time).

use crate::webhook::{Envelope, Intake, constant_time_eq, token_matches};
use crate::{Service, SyncRequest};
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use psync_engine::{EngineError, PlanOutcome, TargetStatus};
use psync_model::EmployeeId;
use psync_store::StateStore;
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::{Value, json};
use std::time::Instant;

/// Every route of the service as (method, path); the OpenAPI test checks each is documented.
pub const ROUTES: &[(&str, &str)] = &[
    ("post", "/webhooks/personio/{account}"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/api/openapi.json"),
    ("get", "/api/runs"),
    ("get", "/api/runs/{id}"),
    ("get", "/api/held"),
    ("post", "/api/held/{run}/approve"),
    ("post", "/api/held/{run}/reject"),
    ("get", "/api/people/{id}"),
    ("get", "/api/targets"),
    ("post", "/api/sync"),
    ("post", "/api/plan"),
    ("get", "/api/runs/{id}/operations"),
    ("get", "/api/parked"),
    ("get", "/api/employees"),
];

fn problem(status: StatusCode, message: impl Into<String>) -> Response {
    (status, axum::Json(json!({ "error": message.into() }))).into_response()
}

fn engine_problem(e: &EngineError) -> Response {
    let status = match e {
        EngineError::Unknown(_) => StatusCode::NOT_FOUND,
        EngineError::NotHeld(_) => StatusCode::CONFLICT,
        EngineError::Busy(_) => StatusCode::CONFLICT,
        _ => StatusCode::BAD_GATEWAY,
    };
    problem(status, e.to_string())
}

/// The whole application.
pub fn router(service: Service) -> Router {
    let admin = Router::new()
        .route("/api/runs", get(runs))
        .route("/api/runs/{id}", get(run))
        .route("/api/held", get(held))
        .route("/api/held/{run}/approve", post(approve))
        .route("/api/held/{run}/reject", post(reject))
        .route("/api/people/{id}", get(person))
        .route("/api/targets", get(targets))
        .route("/api/sync", post(sync))
        .route("/api/plan", post(plan))
        .route("/api/runs/{id}/operations", get(run_operations))
        .route("/api/parked", get(parked))
        .route("/api/employees", get(employees))
        .route_layer(middleware::from_fn_with_state(service.clone(), bearer));
    Router::new()
        .route("/webhooks/personio/{account}", post(webhook))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/api/openapi.json", get(openapi))
        .merge(admin)
        .with_state(service)
}

async fn bearer(State(service): State<Service>, request: Request, next: Next) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let ok = match &service.settings().admin_token {
        Some(token) => constant_time_eq(token.expose_secret().as_bytes(), presented.as_bytes()),
        None => false,
    };
    if !ok {
        let mut r = problem(StatusCode::UNAUTHORIZED, "a valid bearer token is required");
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer"),
        );
        return r;
    }
    next.run(request).await
}

fn webhook_answer(
    service: &Service,
    account: &str,
    result: &str,
    started: Instant,
    status: StatusCode,
    body: Value,
) -> Response {
    service.metrics().add(
        "psync_webhook_events_total",
        &[("account", account), ("result", result)],
        1,
    );
    service.metrics().observe(
        "psync_webhook_ack_seconds",
        &[],
        started.elapsed().as_secs_f64(),
    );
    (status, axum::Json(body)).into_response()
}

async fn webhook(
    State(service): State<Service>,
    Path(account): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = Instant::now();
    let Some(config) = service
        .settings()
        .webhooks
        .iter()
        .find(|w| w.name == account)
    else {
        return webhook_answer(
            &service,
            "unknown",
            "unknown_account",
            started,
            StatusCode::NOT_FOUND,
            json!({"error": "no webhook intake for this account"}),
        );
    };
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !token_matches(&config.tokens, presented) {
        return webhook_answer(
            &service,
            &account,
            "unauthorized",
            started,
            StatusCode::UNAUTHORIZED,
            json!({"error": "the Authorization header does not match this account's token"}),
        );
    }
    let limit = service.settings().max_body_bytes;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let too_large = || {
        webhook_answer(
            &service,
            &account,
            "too_large",
            started,
            StatusCode::PAYLOAD_TOO_LARGE,
            json!({"error": format!("the body exceeds {limit} bytes")}),
        )
    };
    if declared.is_some_and(|n| n > limit) {
        return too_large();
    }
    let bytes = match tokio::time::timeout(
        service.settings().request_timeout,
        axum::body::to_bytes(body, limit),
    )
    .await
    {
        Err(_) => {
            return webhook_answer(
                &service,
                &account,
                "timeout",
                started,
                StatusCode::REQUEST_TIMEOUT,
                json!({"error": "the body did not arrive in time"}),
            );
        }
        Ok(Err(_)) => return too_large(),
        Ok(Ok(b)) => b,
    };
    let envelope: Envelope = match serde_json::from_slice(&bytes) {
        Ok(e) => e,
        Err(e) => {
            return webhook_answer(
                &service,
                &account,
                "malformed",
                started,
                StatusCode::BAD_REQUEST,
                json!({"error": format!("not a Personio v2 webhook envelope: {e}")}),
            );
        }
    };
    if let (Some(expected), Some(got)) = (&config.company_id, &envelope.company_id) {
        let got = match got {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        if &got != expected {
            return webhook_answer(
                &service,
                &account,
                "wrong_company",
                started,
                StatusCode::FORBIDDEN,
                json!({"error": "the delivery is for another company"}),
            );
        }
    }
    match service
        .queue()
        .take(&account, &envelope, service.now())
        .await
    {
        Ok(Intake::Accepted) => webhook_answer(
            &service,
            &account,
            "accepted",
            started,
            StatusCode::ACCEPTED,
            json!({"status": "accepted"}),
        ),
        Ok(Intake::Duplicate) => webhook_answer(
            &service,
            &account,
            "duplicate",
            started,
            StatusCode::OK,
            json!({"status": "duplicate"}),
        ),
        Ok(Intake::Ignored) => webhook_answer(
            &service,
            &account,
            "ignored",
            started,
            StatusCode::OK,
            json!({"status": "ignored"}),
        ),
        Err(e) => {
            tracing::error!(error = %e, "Cannot journal a webhook event; Personio will retry.");
            webhook_answer(
                &service,
                &account,
                "error",
                started,
                StatusCode::SERVICE_UNAVAILABLE,
                json!({"error": "the event could not be stored; retry later"}),
            )
        }
    }
}

async fn healthz() -> Response {
    (StatusCode::OK, axum::Json(json!({"status": "ok"}))).into_response()
}

async fn readyz(State(service): State<Service>) -> Response {
    if service.stopping() {
        return problem(StatusCode::SERVICE_UNAVAILABLE, "shutting down");
    }
    match service.engine().store().runs(1).await {
        Ok(_) => (StatusCode::OK, axum::Json(json!({"status": "ready"}))).into_response(),
        Err(e) => problem(StatusCode::SERVICE_UNAVAILABLE, format!("state store: {e}")),
    }
}

async fn metrics(State(service): State<Service>) -> Response {
    let gauges = service.gauges().await;
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        service.metrics().render(&gauges),
    )
        .into_response()
}

async fn openapi() -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        crate::openapi::DOCUMENT,
    )
        .into_response()
}

#[derive(Debug, Deserialize)]
struct Limit {
    limit: Option<usize>,
}

async fn runs(State(service): State<Service>, Query(q): Query<Limit>) -> Response {
    let limit = q.limit.unwrap_or(50).clamp(1, 1000);
    match service.engine().store().runs(limit).await {
        Ok(runs) => axum::Json(json!({ "runs": runs })).into_response(),
        Err(e) => problem(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn run(State(service): State<Service>, Path(id): Path<i64>) -> Response {
    let store = service.engine().store();
    let record = match store.run(id).await {
        Ok(Some(r)) => r,
        Ok(None) => return problem(StatusCode::NOT_FOUND, format!("no run {id}")),
        Err(e) => return problem(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    let held = match store.held_plans().await {
        Ok(h) => h.into_iter().find(|(r, _)| *r == id).map(|(_, p)| p),
        Err(e) => return problem(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    axum::Json(json!({ "run": record, "held_plan": held })).into_response()
}

async fn held(State(service): State<Service>) -> Response {
    match service.engine().store().held_plans().await {
        Ok(plans) => {
            let plans: Vec<Value> = plans
                .into_iter()
                .map(|(run, plan)| json!({ "run": run, "plan": plan }))
                .collect();
            axum::Json(json!({ "held": plans })).into_response()
        }
        Err(e) => problem(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn approve(State(service): State<Service>, Path(run): Path<i64>) -> Response {
    if service.stopping() {
        return problem(StatusCode::SERVICE_UNAVAILABLE, "shutting down");
    }
    match service.approve(run).await {
        Ok(report) => axum::Json(json!({ "report": report })).into_response(),
        Err(e) => engine_problem(&e),
    }
}

async fn reject(State(service): State<Service>, Path(run): Path<i64>) -> Response {
    match service.engine().reject(run).await {
        Ok(plan) => axum::Json(json!({ "rejected": run, "plan": plan })).into_response(),
        Err(e) => engine_problem(&e),
    }
}

async fn person(State(service): State<Service>, Path(id): Path<String>) -> Response {
    let id = EmployeeId::new(id);
    let store = service.engine().store();
    let log = match store.person_log(&id, 200).await {
        Ok(l) => l,
        Err(e) => return problem(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    let mut versions = Vec::new();
    for source in service.engine().sources() {
        match store.employee_history(&source.name, &id).await {
            Ok(h) => {
                for (at, run, employee) in h {
                    versions.push(json!({
                        "source": source.name, "at": at, "run": run, "employee": employee
                    }));
                }
            }
            Err(e) => return problem(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        }
    }
    if log.is_empty() && versions.is_empty() {
        return problem(
            StatusCode::NOT_FOUND,
            format!("nothing is recorded for {id}"),
        );
    }
    axum::Json(json!({ "id": id, "versions": versions, "log": log })).into_response()
}

async fn targets(State(service): State<Service>) -> Response {
    let store = service.engine().store();
    let runs = match store.runs(1000).await {
        Ok(r) => r,
        Err(e) => return problem(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    let next = service.scheduler().next_runs();
    let quarantined = service.quarantined();
    let mut out = Vec::new();
    for t in service.engine().targets() {
        let last = runs.iter().find(|r| r.target.as_deref() == Some(&t.name));
        let health = match (quarantined.get(&t.name), last.map(|r| r.status)) {
            (Some(_), _) => "quarantined",
            (None, Some(psync_store::RunStatus::Failed)) => "failing",
            (None, Some(psync_store::RunStatus::Held)) => "held",
            (None, Some(_)) => "ok",
            (None, None) => "never_run",
        };
        out.push(json!({
            "name": t.name,
            "source": t.source,
            "health": health,
            "quarantine_reason": quarantined.get(&t.name),
            "busy": service.busy(&t.name),
            "last_run": last,
            "next_run": next.get(&t.name).cloned().flatten(),
        }));
    }
    axum::Json(json!({ "targets": out })).into_response()
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct SyncBody {
    target: Option<String>,
    employee: Option<String>,
    wait: bool,
}

fn summary(outcome: &PlanOutcome) -> Value {
    let targets: Vec<Value> = outcome
        .targets
        .iter()
        .map(|t| {
            json!({
                "target": t.target,
                "run": t.run,
                "status": t.status,
                "operations": t.plan.operations.len(),
                "counts": t.apply.as_ref().map(|a| a.counts.clone()),
            })
        })
        .collect();
    json!({ "targets": targets })
}

async fn sync(State(service): State<Service>, body: axum::body::Bytes) -> Response {
    if service.stopping() {
        return problem(StatusCode::SERVICE_UNAVAILABLE, "shutting down");
    }
    let body: SyncBody = if body.iter().all(u8::is_ascii_whitespace) {
        SyncBody::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(b) => b,
            Err(e) => return problem(StatusCode::BAD_REQUEST, format!("invalid body: {e}")),
        }
    };
    let request = SyncRequest {
        target: body.target,
        employee: body.employee.map(EmployeeId::new),
        trigger: "api".into(),
    };
    if let Some(t) = &request.target
        && !service.engine().targets().iter().any(|s| &s.name == t)
    {
        return problem(StatusCode::NOT_FOUND, format!("no target is named '{t}'"));
    }
    if body.wait {
        return match service.sync(request).await {
            Ok(outcome) => {
                let failed = outcome
                    .targets
                    .iter()
                    .any(|t| matches!(t.status, TargetStatus::Failed(_)));
                let status = if failed {
                    StatusCode::BAD_GATEWAY
                } else {
                    StatusCode::OK
                };
                (status, axum::Json(summary(&outcome))).into_response()
            }
            Err(e) => engine_problem(&e),
        };
    }
    tokio::spawn(async move {
        if let Err(e) = service.sync(request).await {
            tracing::error!(error = %e, "A sync requested through the API failed.");
        }
    });
    (
        StatusCode::ACCEPTED,
        axum::Json(json!({"status": "started"})),
    )
        .into_response()
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct PlanBody {
    target: Option<String>,
}

async fn plan(State(service): State<Service>, body: axum::body::Bytes) -> Response {
    let body: PlanBody = if body.iter().all(u8::is_ascii_whitespace) {
        PlanBody::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(b) => b,
            Err(e) => return problem(StatusCode::BAD_REQUEST, format!("invalid body: {e}")),
        }
    };
    match service.plan(body.target).await {
        Ok(outcome) => axum::Json(json!({
            "reads": outcome.reads,
            "targets": outcome.targets.iter().map(|t| json!({
                "target": t.target,
                "status": t.status,
                "plan": t.plan,
                "mapping_errors": t.mapping_errors,
            })).collect::<Vec<_>>(),
        }))
        .into_response(),
        Err(e) => engine_problem(&e),
    }
}

async fn run_operations(State(service): State<Service>, Path(id): Path<i64>) -> Response {
    match service.engine().store().run_operations(id).await {
        Ok(ops) => axum::Json(json!({ "run": id, "operations": ops })).into_response(),
        Err(e) => problem(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

#[derive(Debug, Deserialize)]
struct ParkedQuery {
    target: Option<String>,
}

async fn parked(State(service): State<Service>, Query(q): Query<ParkedQuery>) -> Response {
    match service
        .engine()
        .store()
        .parked_operations(q.target.as_deref())
        .await
    {
        Ok(ops) => axum::Json(json!({ "parked": ops })).into_response(),
        Err(e) => problem(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

#[derive(Debug, Deserialize)]
struct SearchQuery {
    q: String,
    limit: Option<usize>,
}

async fn employees(State(service): State<Service>, Query(q): Query<SearchQuery>) -> Response {
    let limit = q.limit.unwrap_or(25).clamp(1, 200);
    match service.engine().store().search_employees(&q.q, limit).await {
        Ok(found) => {
            let found: Vec<Value> = found
                .into_iter()
                .map(|(source, employee)| json!({ "source": source, "employee": employee }))
                .collect();
            axum::Json(json!({ "employees": found })).into_response()
        }
        Err(e) => problem(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}
