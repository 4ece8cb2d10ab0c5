//! Response builders for Personio's wire shapes: v1 envelopes, v2 problem+json, HTML error pages.

use crate::json;
use crate::ratelimit::RateInfo;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;

/// A response with a body and content type.
pub(crate) fn with_body(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Body>,
) -> Response {
    let mut r = Response::new(body.into());
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

/// `application/json`.
pub(crate) fn json_body(status: StatusCode, body: String) -> Response {
    with_body(status, "application/json", body)
}

/// `{"success":false,"error":{"code":..,"message":..}}`.
pub(crate) fn v1_error(status: StatusCode, code: i64, message: &str) -> Response {
    let mut out = String::with_capacity(80 + message.len());
    out.push_str("{\"success\":false,\"error\":{\"code\":");
    json::int(&mut out, code);
    out.push_str(",\"message\":");
    json::str(&mut out, message);
    out.push_str("}}");
    json_body(status, out)
}

/// v1 429 with `Retry-After`.
pub(crate) fn v1_too_many(retry_after: u64) -> Response {
    let mut r = v1_error(StatusCode::TOO_MANY_REQUESTS, 429, "Too Many Requests");
    if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

/// A fresh trace id (random enough for logs; not part of the deterministic data).
pub(crate) fn trace_id() -> String {
    let a = crate::rng::hash(&[
        jiff::Timestamp::now().as_nanosecond() as u64,
        std::process::id() as u64,
    ]);
    let b = crate::rng::mix(a);
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        (b >> 48) | 0x8000 & 0xbfff,
        b & 0xffff_ffff_ffff
    )
}

/// v2 problem+json: `{personio_trace_id, timestamp, errors:[{title, detail, type, _meta}]}`.
pub(crate) fn problem(status: StatusCode, title: &str, detail: &str, anchor: &str) -> Response {
    let mut out = String::with_capacity(300);
    out.push_str("{\"personio_trace_id\":");
    json::str(&mut out, &trace_id());
    out.push_str(",\"timestamp\":");
    json::str(
        &mut out,
        &crate::dates::v2_timestamp_string(crate::dates::now_secs()),
    );
    out.push_str(",\"errors\":[{\"title\":");
    json::str(&mut out, title);
    out.push_str(",\"detail\":");
    json::str(&mut out, detail);
    out.push_str(",\"type\":");
    json::str(
        &mut out,
        &format!("https://developer.personio.de/reference/errors#{anchor}"),
    );
    out.push_str(",\"_meta\":{}}]}");
    with_body(status, "application/problem+json", out)
}

/// v2 400 for bad parameter values.
pub(crate) fn bad_request(detail: &str) -> Response {
    problem(
        StatusCode::BAD_REQUEST,
        "Provided request parameters are invalid.",
        detail,
        "common.bad_request",
    )
}

/// v2 404.
pub(crate) fn not_found_v2() -> Response {
    problem(
        StatusCode::NOT_FOUND,
        "Resource not found",
        "There is no resource for the specified id.",
        "common.resource_not_found",
    )
}

/// v2 401.
pub(crate) fn unauthorized_v2() -> Response {
    problem(
        StatusCode::UNAUTHORIZED,
        "Unauthorized Request",
        "The access token is missing, invalid or expired.",
        "common.unauthorized",
    )
}

/// v2 429 (no `Retry-After`).
pub(crate) fn v2_too_many(info: RateInfo) -> Response {
    let mut r = problem(
        StatusCode::TOO_MANY_REQUESTS,
        "Too Many Requests",
        "Rate limit exceeded.",
        "common.too_many_requests",
    );
    add_rate_headers(r.headers_mut(), info);
    r
}

/// `x-ratelimit-*` headers.
pub(crate) fn add_rate_headers(h: &mut HeaderMap, info: RateInfo) {
    let pairs = [
        (
            "x-ratelimit-replenish-rate",
            format!("{}", info.replenish_rate),
        ),
        (
            "x-ratelimit-burst-capacity",
            format!("{}", info.burst_capacity),
        ),
        ("x-ratelimit-requested-tokens", "1".to_string()),
        ("x-ratelimit-remaining", info.remaining.to_string()),
    ];
    for (k, v) in pairs {
        if let Ok(v) = HeaderValue::from_str(&v) {
            h.insert(HeaderName::from_static(k), v);
        }
    }
}

/// A 5xx: HTML page or the version's JSON error.
pub(crate) fn server_error(status: StatusCode, v2: bool, html: bool) -> Response {
    if html {
        let reason = status.canonical_reason().unwrap_or("Error");
        let page = format!(
            "<!DOCTYPE html>\n<html><head><title>{code} {reason}</title></head><body><center><h1>{code} {reason}</h1></center><hr><center>nginx</center></body></html>\n",
            code = status.as_u16()
        );
        return with_body(status, "text/html; charset=utf-8", page);
    }
    if v2 {
        let (title, anchor) = match status.as_u16() {
            502 => ("Bad Gateway", "common.bad_gateway"),
            503 => ("Service Unavailable", "common.service_unavailable"),
            _ => ("Internal Server Error", "common.internal_server_error"),
        };
        problem(
            status,
            title,
            "An unexpected error occurred. Please try again later.",
            anchor,
        )
    } else {
        v1_error(status, i64::from(status.as_u16()), "Something went wrong")
    }
}

/// Echoes the v1 token in the `authorization` response header.
pub(crate) fn echo_token(mut r: Response, token: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(&format!("Bearer {token}")) {
        r.headers_mut().insert(header::AUTHORIZATION, v);
    }
    r
}
