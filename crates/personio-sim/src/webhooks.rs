//! v2 webhook subscriptions (`/v2/webhooks`) and delivery of dataless events with bounded retries.

use crate::company::Event;
use crate::dates;
use crate::ratelimit::Limit;
use crate::respond;
use crate::state::{Shared, lock};
use crate::v2::{finish, guard};
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

/// Events a subscription may enable.
pub(crate) const EVENTS: &[&str] = &[
    "person.created",
    "person.updated",
    "person.deleted",
    "employment.created",
    "employment.updated",
    "employment.deleted",
    "employment.started",
    "employment.terminated",
];

/// Delivery attempts per event and subscription (first try included).
const ATTEMPTS: u32 = 4;

/// One subscription.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct Webhook {
    pub id: String,
    pub url: String,
    pub description: String,
    pub status: String,
    pub auth_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub custom_headers: Vec<CustomHeader>,
    pub enabled_events: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct CustomHeader {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct WebhookBody {
    url: Option<String>,
    description: Option<String>,
    status: Option<String>,
    auth_type: Option<String>,
    token: Option<String>,
    custom_headers: Option<Vec<CustomHeader>>,
    enabled_events: Option<Vec<String>>,
}

fn unprocessable(detail: &str) -> Response {
    respond::problem(
        StatusCode::UNPROCESSABLE_ENTITY,
        "Validation failed",
        detail,
        "common.unprocessable_entity",
    )
}

/// https, or http to a loopback host (for local tests).
fn check_url(url: &str) -> Result<(), Response> {
    let u = reqwest::Url::parse(url).map_err(|_| unprocessable("url must be an absolute URL."))?;
    let host = u.host_str().unwrap_or("");
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = host.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match u.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err(unprocessable(
            "url must use https (http is accepted only for loopback hosts).",
        )),
    }
}

const FORBIDDEN_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "upgrade",
    "te",
    "trailer",
    "expect",
    "content-type",
];

fn apply(w: &mut Webhook, b: WebhookBody) -> Result<(), Response> {
    if let Some(url) = b.url {
        check_url(&url)?;
        w.url = url;
    }
    if let Some(d) = b.description {
        w.description = d;
    }
    if let Some(s) = b.status {
        let s = s.to_ascii_uppercase();
        if s != "ENABLED" && s != "DISABLED" {
            return Err(unprocessable("status must be ENABLED or DISABLED."));
        }
        w.status = s;
    }
    if let Some(a) = b.auth_type {
        let a = a.to_ascii_uppercase();
        if !["NONE", "TOKEN", "CUSTOM"].contains(&a.as_str()) {
            return Err(unprocessable("auth_type must be NONE, TOKEN or CUSTOM."));
        }
        w.auth_type = a;
    }
    if let Some(t) = b.token {
        w.token = Some(t);
    }
    if let Some(h) = b.custom_headers {
        if h.len() > 3 {
            return Err(unprocessable("at most 3 custom headers are allowed."));
        }
        for hd in &h {
            let n = hd.name.to_ascii_lowercase();
            if FORBIDDEN_HEADERS.iter().any(|f| n.starts_with(f))
                || axum::http::HeaderName::from_bytes(hd.name.as_bytes()).is_err()
                || axum::http::HeaderValue::from_str(&hd.value).is_err()
            {
                return Err(unprocessable(&format!(
                    "custom header {:?} is not allowed.",
                    hd.name
                )));
            }
        }
        w.custom_headers = h;
    }
    if let Some(e) = b.enabled_events {
        if let Some(bad) = e.iter().find(|e| !EVENTS.contains(&e.as_str())) {
            return Err(unprocessable(&format!("unknown event {bad:?}.")));
        }
        w.enabled_events = e;
    }
    Ok(())
}

fn parse_body(body: &[u8]) -> Result<WebhookBody, Response> {
    serde_json::from_slice(body)
        .map_err(|e| respond::bad_request(&format!("invalid JSON body: {e}")))
}

fn to_json(w: &Webhook) -> String {
    serde_json::to_string(w).unwrap_or_else(|_| "{}".to_string())
}

/// `POST /v2/webhooks`.
pub(crate) async fn create(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (_, info) = match guard(&shared, &headers, Limit::V2Other) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let b = match parse_body(&body) {
        Ok(b) => b,
        Err(r) => return finish(r, info),
    };
    if b.url.is_none() {
        return finish(unprocessable("url is required."), info);
    }
    if b.enabled_events.as_ref().is_none_or(Vec::is_empty) {
        return finish(unprocessable("enabled_events is required."), info);
    }
    let now = dates::v2_timestamp_string(dates::now_secs());
    let mut w = Webhook {
        id: respond::trace_id(),
        url: String::new(),
        description: String::new(),
        status: "DISABLED".to_string(),
        auth_type: "TOKEN".to_string(),
        token: None,
        custom_headers: Vec::new(),
        enabled_events: Vec::new(),
        created_at: now.clone(),
        updated_at: now,
    };
    if let Err(r) = apply(&mut w, b) {
        return finish(r, info);
    }
    let json = to_json(&w);
    lock(&shared.webhooks).push(w);
    finish(respond::json_body(StatusCode::CREATED, json), info)
}

/// `GET /v2/webhooks`.
pub(crate) async fn list(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let (_, info) = match guard(&shared, &headers, Limit::V2Other) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let mut status = None;
    let mut event = None;
    for (k, v) in form_urlencoded::parse(raw.as_deref().unwrap_or("").as_bytes()) {
        match k.as_ref() {
            "status" => status = Some(v.to_ascii_uppercase()),
            "enabled_events" => event = Some(v.into_owned()),
            _ => {}
        }
    }
    let hooks: Vec<Webhook> = lock(&shared.webhooks)
        .iter()
        .filter(|w| status.as_ref().is_none_or(|s| *s == w.status))
        .filter(|w| event.as_ref().is_none_or(|e| w.enabled_events.contains(e)))
        .cloned()
        .collect();
    let body = serde_json::json!({
        "_data": hooks,
        "_meta": { "links": { "self": { "href": format!("{}/v2/webhooks", shared.base_url) } } },
    });
    finish(respond::json_body(StatusCode::OK, body.to_string()), info)
}

/// `GET /v2/webhooks/{id}`.
pub(crate) async fn get(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let (_, info) = match guard(&shared, &headers, Limit::V2Other) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let found = lock(&shared.webhooks)
        .iter()
        .find(|w| w.id == id)
        .map(to_json);
    match found {
        Some(j) => finish(respond::json_body(StatusCode::OK, j), info),
        None => finish(respond::not_found_v2(), info),
    }
}

/// `PATCH /v2/webhooks/{id}`.
pub(crate) async fn patch(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let (_, info) = match guard(&shared, &headers, Limit::V2Other) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let b = match parse_body(&body) {
        Ok(b) => b,
        Err(r) => return finish(r, info),
    };
    let mut hooks = lock(&shared.webhooks);
    let Some(w) = hooks.iter_mut().find(|w| w.id == id) else {
        return finish(respond::not_found_v2(), info);
    };
    let mut updated = w.clone();
    if let Err(r) = apply(&mut updated, b) {
        return finish(r, info);
    }
    updated.updated_at = dates::v2_timestamp_string(dates::now_secs());
    *w = updated;
    let json = to_json(w);
    drop(hooks);
    finish(respond::json_body(StatusCode::OK, json), info)
}

/// `DELETE /v2/webhooks/{id}`.
pub(crate) async fn delete(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let (_, info) = match guard(&shared, &headers, Limit::V2Other) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let mut hooks = lock(&shared.webhooks);
    let before = hooks.len();
    hooks.retain(|w| w.id != id);
    let removed = hooks.len() < before;
    drop(hooks);
    if removed {
        let mut r = Response::new(axum::body::Body::empty());
        *r.status_mut() = StatusCode::NO_CONTENT;
        finish(r, info)
    } else {
        finish(respond::not_found_v2(), info)
    }
}

/// Sends every event to every ENABLED subscription that enabled it (in the background).
pub(crate) fn dispatch(shared: &Shared, events: Vec<Event>) {
    if events.is_empty() {
        return;
    }
    let hooks: Vec<Webhook> = lock(&shared.webhooks)
        .iter()
        .filter(|w| w.status == "ENABLED")
        .cloned()
        .collect();
    if hooks.is_empty() {
        return;
    }
    let occurred_at = dates::v2_timestamp_string(dates::now_secs());
    for ev in events {
        let mut payload = serde_json::json!({ "id": ev.id });
        if ev.name.starts_with("employment.") {
            payload["person_id"] = serde_json::Value::String(ev.person_id.clone());
        }
        let envelope = serde_json::json!({
            "company_id": shared.config.company_id,
            "event_name": ev.name,
            "occurred_at": occurred_at,
            "payload": payload,
            "meta": {},
        })
        .to_string();
        for w in hooks
            .iter()
            .filter(|w| w.enabled_events.iter().any(|e| e == ev.name))
        {
            let client = shared.http.clone();
            let w = w.clone();
            let body = envelope.clone();
            shared.runtime.spawn(deliver(client, w, body));
        }
    }
}

async fn deliver(client: reqwest::Client, w: Webhook, body: String) {
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(200 << (attempt - 1))).await;
        }
        let mut req = client
            .post(&w.url)
            .timeout(Duration::from_secs(3))
            .header("content-type", "application/json")
            .body(body.clone());
        match w.auth_type.as_str() {
            "TOKEN" => {
                if let Some(t) = &w.token {
                    req = req.header("authorization", t);
                }
            }
            "CUSTOM" => {
                for h in &w.custom_headers {
                    req = req.header(h.name.as_str(), h.value.as_str());
                }
            }
            _ => {}
        }
        match req.send().await {
            Ok(resp) => {
                let s = resp.status();
                if s.is_server_error() && s.as_u16() != 501 {
                    tracing::debug!(url = %w.url, status = %s, attempt, "webhook delivery failed; retrying");
                    continue;
                }
                return;
            }
            Err(e) => {
                tracing::debug!(url = %w.url, error = %e, attempt, "webhook delivery failed; retrying");
            }
        }
    }
}
