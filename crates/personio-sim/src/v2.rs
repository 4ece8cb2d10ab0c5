//! Personio API v2: OAuth token, persons, employments, org units, workplaces, legal entities,
//! cost centers (cursor pagination, problem+json errors, `x-ratelimit-*` headers).

use crate::company::{
    COST_CENTERS, CUSTOM_DEFS, CVal, DEPARTMENTS, LEGAL_ENTITIES, OFFICES, Person, TEAMS, Unit,
};
use crate::config::Credential;
use crate::dates::{self, ZoneLess};
use crate::json;
use crate::ratelimit::{Limit, RateInfo, info_of};
use crate::respond;
use crate::state::{Shared, lock};
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::response::Response;
use std::sync::Arc;

const CURSOR_MASK: u64 = 0x5A17_C0DE_0BAD_F00D;

pub(crate) fn encode_cursor(after: u64) -> String {
    format!("cur_{:016x}", after ^ CURSOR_MASK)
}

fn decode_cursor(c: &str) -> Option<u64> {
    let hex = c.trim().strip_prefix("cur_")?;
    u64::from_str_radix(hex, 16).ok().map(|v| v ^ CURSOR_MASK)
}

fn pairs(q: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(q.unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn oauth_error(error: &str, description: &str, meta: serde_json::Value) -> Response {
    let body = serde_json::json!({
        "error": error,
        "error_description": description,
        "error_uri": format!("https://developer.personio.de/reference/errors#credentials.oauth2.{error}"),
        "timestamp": dates::v2_timestamp_string(dates::now_secs()),
        "trace_id": respond::trace_id(),
        "meta": meta,
    });
    respond::with_body(
        StatusCode::BAD_REQUEST,
        "application/problem+json",
        body.to_string(),
    )
}

const KNOWN_SCOPES: &[&str] = &[
    "personio:persons:read",
    "personio:persons:write",
    "personio:employment:read",
    "personio:employments:read",
    "personio:webhooks:read",
    "personio:webhooks:write",
    "personio:org-units:read",
    "personio:legal-entities:read",
    "personio:workplaces:read",
    "personio:cost-centers:read",
];

/// The auth endpoints take form bodies only; anything else is an OAuth `invalid_request`.
fn require_form(headers: &HeaderMap) -> Option<Response> {
    let ctype = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    (!ctype.starts_with("application/x-www-form-urlencoded")).then(|| {
        oauth_error(
            "invalid_request",
            "The content type of the request must be application/x-www-form-urlencoded.",
            serde_json::json!({}),
        )
    })
}

/// `POST /v2/auth/token` (form only, client credentials).
pub(crate) async fn token(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(refused) = require_form(&headers) {
        return refused;
    }
    let mut grant = None;
    let mut id = None;
    let mut secret = None;
    let mut scope = None;
    for (k, v) in form_urlencoded::parse(&body) {
        match k.as_ref() {
            "grant_type" => grant = Some(v.into_owned()),
            "client_id" => id = Some(v.into_owned()),
            "client_secret" => secret = Some(v.into_owned()),
            "scope" => scope = Some(v.into_owned()),
            _ => {}
        }
    }
    let key = id.clone().unwrap_or_else(|| "anonymous".to_string());
    let mut rate = info_of(Limit::V2Auth, 150);
    if shared.config.rate_limits {
        match lock(&shared.limiter).take_v2_auth(&key) {
            Ok(i) => rate = i,
            Err(t) => return respond::v2_too_many(t.info),
        }
    }
    let mut missing = Vec::new();
    for (name, v) in [
        ("grant_type", &grant),
        ("client_id", &id),
        ("client_secret", &secret),
    ] {
        if v.as_deref().is_none_or(str::is_empty) {
            missing.push(name);
        }
    }
    if !missing.is_empty() {
        return oauth_error(
            "invalid_request",
            "The request is missing a required parameter.",
            serde_json::json!({ "missing_parameters": missing }),
        );
    }
    let (grant, id, secret) = (
        grant.unwrap_or_default(),
        id.unwrap_or_default(),
        secret.unwrap_or_default(),
    );
    if grant != "client_credentials" {
        return oauth_error(
            "unsupported_grant_type",
            "The authorization grant type is not supported.",
            serde_json::json!({ "grant_type": grant }),
        );
    }
    if let Some(s) = scope.as_deref()
        && s.split_whitespace().any(|x| !KNOWN_SCOPES.contains(&x))
    {
        return oauth_error(
            "invalid_scope",
            "The requested scope is invalid, unknown, or not granted.",
            serde_json::json!({}),
        );
    }
    let ttl = shared.token_ttl();
    let mut auth = lock(&shared.auth);
    let idx = match auth.verify(&id, &secret) {
        Ok(i) => i,
        Err(crate::auth::CredentialError::UnknownClient) => {
            return oauth_error(
                "invalid_client",
                "Client authentication failed.",
                serde_json::json!({}),
            );
        }
        Err(crate::auth::CredentialError::WrongSecret) => {
            return oauth_error(
                "unauthorized_client",
                "Invalid Credentials",
                serde_json::json!({}),
            );
        }
    };
    let (tok, expires_in) = auth.issue(idx, ttl);
    drop(auth);
    let scope = scope.unwrap_or_else(|| KNOWN_SCOPES.join(" "));
    let body = serde_json::json!({
        "access_token": tok,
        "token_type": "Bearer",
        "expires_in": expires_in,
        "scope": scope,
    });
    let mut r = respond::json_body(StatusCode::OK, body.to_string());
    respond::add_rate_headers(r.headers_mut(), rate);
    r
}

/// `POST /v2/auth/revoke` (form field `token`): 200 with an empty body, as documented.
pub(crate) async fn revoke(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(refused) = require_form(&headers) {
        return refused;
    }
    let token = form_urlencoded::parse(&body)
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
        .filter(|t| !t.is_empty());
    let Some(token) = token else {
        return oauth_error(
            "invalid_request",
            "The request is missing a required parameter.",
            serde_json::json!({ "missing_parameters": ["token"] }),
        );
    };
    lock(&shared.auth).revoke(&token);
    StatusCode::OK.into_response()
}

/// Authenticates and rate-limits a v2 resource request.
pub(crate) fn guard(
    shared: &Shared,
    headers: &HeaderMap,
    limit: Limit,
) -> Result<(Credential, RateInfo), Response> {
    let raw = headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok());
    let ttl = shared.token_ttl();
    let cred = {
        let auth = lock(&shared.auth);
        let idx = auth
            .check(raw, ttl)
            .map_err(|_| respond::unauthorized_v2())?;
        auth.credential(idx)
            .cloned()
            .ok_or_else(respond::unauthorized_v2)?
    };
    if !shared.config.rate_limits {
        let (cap, _) = (info_of(limit, 0).burst_capacity, 0);
        return Ok((
            cred,
            RateInfo {
                remaining: cap as u64,
                ..info_of(limit, 0)
            },
        ));
    }
    let info = lock(&shared.limiter)
        .take(&[limit], &cred.client_id)
        .map_err(|t| respond::v2_too_many(t.info))?;
    Ok((cred, info))
}

/// Adds rate headers to a response.
pub(crate) fn finish(mut r: Response, info: RateInfo) -> Response {
    respond::add_rate_headers(r.headers_mut(), info);
    r
}

fn invalid_encoding() -> Response {
    respond::problem(
        StatusCode::BAD_REQUEST,
        "Provided filter encoding is invalid.",
        "The filter operator is not supported for this field.",
        "common.bad_request",
    )
}

#[derive(Default)]
struct Cmp {
    eq: Option<i64>,
    gt: Option<i64>,
    lt: Option<i64>,
}

impl Cmp {
    fn matches(&self, t: i64) -> bool {
        self.eq.is_none_or(|e| t == e)
            && self.gt.is_none_or(|g| t > g)
            && self.lt.is_none_or(|l| t < l)
    }
}

fn parse_limit(v: Option<&str>, default: usize, max: usize) -> Result<usize, Response> {
    match v.map(str::trim) {
        None | Some("") => Ok(default),
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(respond::bad_request(&format!(
                "limit must be an integer between 1 and {max}."
            ))),
        },
    }
}

fn parse_time(v: &str) -> Result<i64, Response> {
    dates::parse_instant(v, ZoneLess::Utc)
        .ok_or_else(|| respond::bad_request(&format!("{v:?} is not a valid date-time.")))
}

fn next_href(base: &str, path: &str, q: &[(String, String)], cursor: &str) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in q.iter().filter(|(k, _)| k != "cursor") {
        s.append_pair(k, v);
    }
    s.append_pair("cursor", cursor);
    format!("{base}{path}?{}", s.finish())
}

fn self_href(base: &str, path: &str, raw: Option<&str>) -> String {
    match raw {
        Some(q) if !q.is_empty() => format!("{base}{path}?{q}"),
        _ => format!("{base}{path}"),
    }
}

fn write_links(out: &mut String, self_href: &str, next: Option<&str>) {
    out.push_str("\"_meta\":{\"links\":{\"self\":{\"href\":");
    json::str(out, self_href);
    out.push('}');
    if let Some(n) = next {
        out.push_str(",\"next\":{\"href\":");
        json::str(out, n);
        out.push('}');
    }
    out.push_str("}}");
}

/// Writes one v2 person.
fn write_person(
    out: &mut String,
    p: &Person,
    cred: &Credential,
    base: &str,
    seed: u64,
    broken: bool,
) {
    out.push_str("{\"id\":");
    json::str(out, &p.id.to_string());
    let field = |out: &mut String, key: &str| {
        out.push(',');
        json::key(out, key);
    };
    if cred.allows("email") {
        field(out, "email");
        // The schema's email is a non-nullable string: a person without one has "".
        json::str(out, p.email.as_deref().unwrap_or(""));
    }
    if cred.allows("created_at") {
        field(out, "created_at");
        json::str(out, &dates::v2_timestamp_string(p.created_at));
    }
    if cred.allows("last_modified_at") {
        field(out, "updated_at");
        json::str(out, &dates::v2_timestamp_string(p.updated_at));
    }
    if cred.allows("first_name") {
        field(out, "first_name");
        if broken {
            out.push_str("{\"oops\":[1,2,3]}");
        } else {
            json::str(out, &p.first_name);
        }
    }
    if cred.allows("last_name") {
        field(out, "last_name");
        json::str(out, &p.last_name);
    }
    if cred.allows("preferred_name") {
        field(out, "preferred_name");
        json::opt_str(out, p.preferred_name.as_deref());
    }
    if cred.allows("gender") {
        field(out, "gender");
        if broken {
            out.push_str("42")
        } else {
            json::str(out, p.gender.v2())
        }
    }
    if cred.allows("profile_picture") {
        field(out, "profile_picture");
        if p.has_picture {
            out.push_str("{\"url\":");
            json::str(out, &crate::v1::picture_url(base, p.id));
            out.push('}');
        } else {
            // The v2 schema makes the object required and its url nullable.
            out.push_str("{\"url\":null}");
        }
    }
    if cred.allows("status") {
        field(out, "status");
        json::str(out, p.status.v2_person());
    }
    field(out, "custom_attributes");
    out.push('[');
    let mut first = true;
    for (idx, def) in CUSTOM_DEFS.iter().enumerate() {
        if !cred.allows(def.key) {
            continue;
        }
        // v2 lists only attributes that have a value (the schema's values are not nullable).
        let Some(value) = p.custom(seed, idx) else {
            continue;
        };
        if !first {
            out.push(',');
        }
        first = false;
        out.push_str("{\"id\":");
        json::str(out, def.key);
        out.push_str(",\"type\":");
        // The schema's enum is upper case, but Personio's own examples, and clients that work
        // against the live API (dlt-source-personio), use lower case: serve lower case.
        json::str(out, &def.v2_type.to_ascii_lowercase());
        out.push_str(",\"value\":");
        match value {
            CVal::Text(s) => json::str(out, &s),
            CVal::Int(i) => json::int(out, i),
            CVal::Dec(d) => json::num(out, d),
            CVal::Date(d) => json::str(out, &dates::date_string(d)),
            CVal::Bool(b) => out.push_str(if b { "true" } else { "false" }),
            CVal::Tags(t) => {
                out.push('[');
                for (i, s) in t.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    json::str(out, s);
                }
                out.push(']');
            }
        }
        // A string in practice (clients that work against the live API require it): the
        // global key when the attribute has one, else its own key.
        out.push_str(",\"global_id\":");
        json::str(out, def.universal_id.unwrap_or(def.key));
        if !def.v2_label_missing {
            out.push_str(",\"label\":");
            json::str(out, def.label);
        }
        out.push('}');
    }
    out.push(']');
    field(out, "employments");
    out.push_str("[{\"id\":");
    json::str(out, &p.employment_id(seed));
    out.push_str("}],\"_meta\":{\"links\":{\"employments\":{\"href\":");
    json::str(out, &format!("{base}/v2/persons/{}/employments", p.id));
    out.push_str("}}}}");
}

fn id_ref(out: &mut String, id: Option<u64>) {
    match id {
        Some(id) => {
            out.push_str("{\"id\":");
            json::str(out, &id.to_string());
            out.push('}');
        }
        None => out.push_str("null"),
    }
}

fn opt_date(out: &mut String, d: Option<i64>) {
    match d {
        Some(d) => json::str(out, &dates::date_string(d)),
        None => out.push_str("null"),
    }
}

/// Writes one v2 employment.
fn write_employment(out: &mut String, p: &Person, cred: &Credential, base: &str, seed: u64) {
    out.push_str("{\"id\":");
    json::str(out, &p.employment_id(seed));
    let field = |out: &mut String, key: &str| {
        out.push(',');
        json::key(out, key);
    };
    if cred.allows("status") {
        field(out, "status");
        json::str(out, p.status.v2());
    }
    if cred.allows("employment_type") {
        field(out, "type");
        out.push_str(if p.external {
            "\"EXTERNAL\""
        } else {
            "\"INTERNAL\""
        });
    }
    if cred.allows("position") {
        field(out, "position");
        out.push_str("{\"title\":");
        json::str(out, &p.position);
        out.push('}');
    }
    if cred.allows("weekly_working_hours") {
        field(out, "weekly_working_hours");
        json::num(out, p.weekly_hours);
        field(out, "full_time_weekly_working_hours");
        out.push_str("40");
    }
    if cred.allows("hire_date") {
        field(out, "employment_start_date");
        opt_date(out, p.hire_date);
    }
    if cred.allows("termination_date") {
        field(out, "employment_end_date");
        opt_date(out, p.termination_date);
    }
    if cred.allows("contract_end_date") {
        field(out, "contract_end_date");
        opt_date(out, p.contract_end_date);
    }
    if cred.allows("probation_period_end") {
        field(out, "probation_end_date");
        opt_date(out, p.probation_end);
    }
    if cred.allows("created_at") {
        field(out, "created_at");
        json::str(out, &dates::v2_timestamp_string(p.created_at));
    }
    if cred.allows("last_modified_at") {
        field(out, "updated_at");
        json::str(out, &dates::v2_timestamp_string(p.updated_at));
    }
    if cred.allows("supervisor") {
        field(out, "supervisor");
        id_ref(out, p.supervisor);
    }
    if cred.allows("office") {
        field(out, "office");
        id_ref(out, p.office);
    }
    if cred.allows("department") || cred.allows("team") {
        field(out, "org_units");
        out.push('[');
        let mut first = true;
        for (key, ty, id) in [
            ("department", "department", p.department),
            ("team", "team", p.team),
        ] {
            let Some(id) = id.filter(|_| cred.allows(key)) else {
                continue;
            };
            if !first {
                out.push(',');
            }
            first = false;
            out.push_str("{\"type\":");
            json::str(out, ty);
            out.push_str(",\"id\":");
            json::str(out, &id.to_string());
            out.push('}');
        }
        out.push(']');
    }
    if cred.allows("cost_centers") {
        field(out, "cost_centers");
        out.push('[');
        for (i, (id, pct)) in p.cost_centers.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str("{\"id\":");
            json::str(out, &id.to_string());
            out.push_str(",\"weight\":");
            json::int(out, i64::from(*pct));
            out.push('}');
        }
        out.push(']');
    }
    if cred.allows("subcompany") {
        field(out, "legal_entity");
        id_ref(out, p.legal_entity);
        field(out, "sub_company");
        id_ref(out, p.legal_entity);
    }
    field(out, "person");
    id_ref(out, Some(p.id));
    if cred.allows("termination_date") || cred.allows("last_working_day") {
        field(out, "termination");
        match p.termination_date {
            Some(t) => {
                out.push_str("{\"termination_date\":");
                if cred.allows("termination_date") {
                    opt_date(out, Some(t))
                } else {
                    out.push_str("null")
                }
                out.push_str(",\"last_working_day\":");
                if cred.allows("last_working_day") {
                    opt_date(out, p.last_working_day)
                } else {
                    out.push_str("null")
                }
                out.push_str(",\"terminated_at\":");
                opt_date(out, Some(t.min(p.updated_at.div_euclid(86_400))));
                out.push_str(",\"type\":");
                json::str(
                    out,
                    &p.termination_type
                        .unwrap_or("unspecified")
                        .to_ascii_uppercase(),
                );
                out.push_str(",\"reason\":null}");
            }
            None => out.push_str("null"),
        }
    }
    out.push_str(",\"_meta\":{\"links\":{\"person\":{\"href\":");
    json::str(out, &format!("{base}/v2/persons/{}", p.id));
    out.push('}');
    if let Some(s) = p.supervisor.filter(|_| cred.allows("supervisor")) {
        out.push_str(",\"supervisor\":{\"href\":");
        json::str(out, &format!("{base}/v2/persons/{s}"));
        out.push('}');
    }
    out.push_str("}}}");
}

const PERSON_KEYS: &[&str] = &[
    "limit",
    "cursor",
    "id",
    "email",
    "first_name",
    "last_name",
    "preferred_name",
    "created_at",
    "created_at.gt",
    "created_at.lt",
    "updated_at",
    "updated_at.gt",
    "updated_at.lt",
    "status",
];

/// `GET /v2/persons`.
pub(crate) async fn persons(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let (cred, info) = match guard(&shared, &headers, Limit::V2Persons) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let q = pairs(raw.as_deref());
    let mut limit = 10;
    let mut after = 0u64;
    let mut ids: Option<Vec<u64>> = None;
    let mut emails: Option<Vec<String>> = None;
    let (mut first_name, mut last_name, mut preferred) = (None, None, None);
    let (mut created, mut updated) = (Cmp::default(), Cmp::default());
    let mut status: Option<bool> = None;
    for (k, v) in &q {
        if !PERSON_KEYS.contains(&k.as_str()) {
            if k.contains('.') || k.contains('[') {
                return finish(invalid_encoding(), info);
            }
            continue;
        }
        let r: Result<(), Response> = (|| {
            match k.as_str() {
                "limit" => limit = parse_limit(Some(v), 10, 50)?,
                "cursor" => {
                    after = decode_cursor(v)
                        .ok_or_else(|| respond::bad_request("The cursor is invalid."))?
                }
                "id" => ids = Some(v.split(',').filter_map(|s| s.trim().parse().ok()).collect()),
                "email" => emails = Some(v.split(',').map(|s| s.trim().to_string()).collect()),
                "first_name" => first_name = Some(v.clone()),
                "last_name" => last_name = Some(v.clone()),
                "preferred_name" => preferred = Some(v.clone()),
                "created_at" => created.eq = Some(parse_time(v)?),
                "created_at.gt" => created.gt = Some(parse_time(v)?),
                "created_at.lt" => created.lt = Some(parse_time(v)?),
                "updated_at" => updated.eq = Some(parse_time(v)?),
                "updated_at.gt" => updated.gt = Some(parse_time(v)?),
                "updated_at.lt" => updated.lt = Some(parse_time(v)?),
                "status" => {
                    status = Some(match v.trim().to_ascii_uppercase().as_str() {
                        "ACTIVE" => true,
                        "INACTIVE" => false,
                        _ => {
                            return Err(respond::bad_request("status must be ACTIVE or INACTIVE."));
                        }
                    })
                }
                _ => {}
            }
            Ok(())
        })();
        if let Err(resp) = r {
            return finish(resp, info);
        }
    }
    let faults = shared.faults();
    let malformed = shared.malformed();
    let mut out = String::with_capacity(2048 * limit);
    let mut next = None;
    {
        let company = shared.read();
        out.push_str("{\"_data\":[");
        if !faults.empty_list {
            let start = company.people.partition_point(|p| p.id <= after);
            let mut n = 0;
            let mut last = None;
            for p in &company.people[start..] {
                let ok = ids.as_ref().is_none_or(|l| l.contains(&p.id))
                    && emails
                        .as_ref()
                        .is_none_or(|l| p.email.as_ref().is_some_and(|e| l.contains(e)))
                    && first_name.as_ref().is_none_or(|f| *f == p.first_name)
                    && last_name.as_ref().is_none_or(|f| *f == p.last_name)
                    && preferred
                        .as_ref()
                        .is_none_or(|f| Some(f) == p.preferred_name.as_ref())
                    && created.matches(p.created_at)
                    && updated.matches(p.updated_at)
                    && status.is_none_or(|a| a == (p.status != crate::company::Status::Inactive));
                if !ok {
                    continue;
                }
                if n == limit {
                    next = last.map(encode_cursor);
                    break;
                }
                if n > 0 {
                    out.push(',');
                }
                write_person(
                    &mut out,
                    p,
                    &cred,
                    &shared.base_url,
                    company.seed,
                    malformed == Some(p.id),
                );
                last = Some(p.id);
                n += 1;
            }
        }
    }
    out.push_str("],");
    let next = next.map(|c| next_href(&shared.base_url, "/v2/persons", &q, &c));
    write_links(
        &mut out,
        &self_href(&shared.base_url, "/v2/persons", raw.as_deref()),
        next.as_deref(),
    );
    out.push('}');
    if faults.invalid_json {
        let mut cut = out.len() / 2;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
    }
    finish(respond::json_body(StatusCode::OK, out), info)
}

/// `GET /v2/persons/{id}`.
pub(crate) async fn person(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let (cred, info) = match guard(&shared, &headers, Limit::V2Persons) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let malformed = shared.malformed();
    let company = shared.read();
    let Some(p) = id.trim().parse::<u64>().ok().and_then(|n| company.get(n)) else {
        return finish(respond::not_found_v2(), info);
    };
    let mut out = String::with_capacity(2048);
    write_person(
        &mut out,
        p,
        &cred,
        &shared.base_url,
        company.seed,
        malformed == Some(p.id),
    );
    drop(company);
    finish(respond::json_body(StatusCode::OK, out), info)
}

/// `GET /v2/persons/{id}/employments`.
pub(crate) async fn employments(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let (cred, info) = match guard(&shared, &headers, Limit::V2Employments) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let q = pairs(raw.as_deref());
    let mut ids: Option<Vec<String>> = None;
    let mut updated = Cmp::default();
    let mut after: Option<u64> = None;
    for (k, v) in &q {
        let r: Result<(), Response> = match k.as_str() {
            "limit" => parse_limit(Some(v), 10, 50).map(|_| ()),
            "cursor" => decode_cursor(v)
                .map(|c| after = Some(c))
                .ok_or_else(|| respond::bad_request("The cursor is invalid.")),
            "id" => {
                ids = Some(v.split(',').map(|s| s.trim().to_string()).collect());
                Ok(())
            }
            "updated_at" => parse_time(v).map(|t| updated.eq = Some(t)),
            "updated_at.gt" => parse_time(v).map(|t| updated.gt = Some(t)),
            "updated_at.lt" => parse_time(v).map(|t| updated.lt = Some(t)),
            k if k.contains('.') || k.contains('[') => Err(invalid_encoding()),
            _ => Ok(()),
        };
        if let Err(resp) = r {
            return finish(resp, info);
        }
    }
    let path = format!("/v2/persons/{id}/employments");
    let company = shared.read();
    let Some(p) = id.trim().parse::<u64>().ok().and_then(|n| company.get(n)) else {
        return finish(respond::not_found_v2(), info);
    };
    let mut out = String::from("{\"_data\":[");
    let emp_id = p.employment_id(company.seed);
    if after.is_none()
        && ids.as_ref().is_none_or(|l| l.contains(&emp_id))
        && updated.matches(p.updated_at)
    {
        write_employment(&mut out, p, &cred, &shared.base_url, company.seed);
    }
    drop(company);
    out.push_str("],");
    write_links(
        &mut out,
        &self_href(&shared.base_url, &path, raw.as_deref()),
        None,
    );
    out.push('}');
    finish(respond::json_body(StatusCode::OK, out), info)
}

/// `GET /v2/persons/{id}/employments/{employment_id}`.
pub(crate) async fn employment(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path((id, emp)): Path<(String, String)>,
) -> Response {
    let (cred, info) = match guard(&shared, &headers, Limit::V2Employments) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let company = shared.read();
    let Some(p) = id.trim().parse::<u64>().ok().and_then(|n| company.get(n)) else {
        return finish(respond::not_found_v2(), info);
    };
    if p.employment_id(company.seed) != emp {
        return finish(respond::not_found_v2(), info);
    }
    let mut out = String::with_capacity(2048);
    write_employment(&mut out, p, &cred, &shared.base_url, company.seed);
    drop(company);
    finish(respond::json_body(StatusCode::OK, out), info)
}

fn unit_json(u: &Unit, ty: &str) -> serde_json::Value {
    serde_json::json!({
        "id": u.id.to_string(),
        "type": ty,
        "name": u.name,
        "abbreviation": u.abbreviation,
        "description": u.description,
        "parent_id": u.parent.map(|p| p.to_string()),
    })
}

/// `GET /v2/org-units/{id}?type=department|team&include_parent_chain=bool`.
pub(crate) async fn org_unit(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let (_, info) = match guard(&shared, &headers, Limit::V2Other) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let q = pairs(raw.as_deref());
    let get = |k: &str| q.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
    let (units, ty): (&[Unit], &str) = match get("type").map(str::to_ascii_lowercase).as_deref() {
        Some("department") => (DEPARTMENTS, "department"),
        Some("team") => (TEAMS, "team"),
        Some(_) => {
            return finish(
                respond::bad_request("type must be one of: department, team."),
                info,
            );
        }
        None => {
            return finish(
                respond::bad_request("The query parameter type is required."),
                info,
            );
        }
    };
    let chain = match get("include_parent_chain")
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => {
            return finish(
                respond::bad_request("include_parent_chain must be true or false."),
                info,
            );
        }
    };
    let Ok(n) = id.trim().parse::<u64>() else {
        return finish(respond::bad_request("The id must be an integer."), info);
    };
    let Some(unit) = units.iter().find(|u| u.id == n) else {
        return finish(respond::not_found_v2(), info);
    };
    let mut v = unit_json(unit, ty);
    if chain {
        let mut parents = Vec::new();
        let mut cur = unit.parent;
        while let Some(pid) = cur {
            let Some(p) = units.iter().find(|u| u.id == pid) else {
                break;
            };
            parents.push(unit_json(p, ty));
            cur = p.parent;
            if parents.len() > units.len() {
                break;
            }
        }
        v["parent_chain"] = serde_json::Value::Array(parents);
    }
    finish(respond::json_body(StatusCode::OK, v.to_string()), info)
}

/// A cursor-paged list of small reference items sorted by id.
fn simple_list(
    shared: &Shared,
    headers: &HeaderMap,
    raw: Option<&str>,
    path: &str,
    items: Vec<(u64, &str, &str, serde_json::Value)>,
    default_limit: usize,
    max_limit: usize,
) -> Response {
    let (_, info) = match guard(shared, headers, Limit::V2Other) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let q = pairs(raw);
    let mut limit = default_limit;
    let mut after = 0;
    let mut ids: Option<Vec<u64>> = None;
    let mut names: Option<Vec<String>> = None;
    let mut countries: Option<Vec<String>> = None;
    for (k, v) in &q {
        let r = match k.as_str() {
            "limit" => parse_limit(Some(v), default_limit, max_limit).map(|l| limit = l),
            "cursor" => decode_cursor(v)
                .map(|c| after = c)
                .ok_or_else(|| respond::bad_request("The cursor is invalid.")),
            "id" => v
                .split(',')
                .map(|s| s.trim().parse::<u64>())
                .collect::<Result<Vec<_>, _>>()
                .map(|l| ids = Some(l))
                .map_err(|_| {
                    respond::bad_request("id must be a comma-separated list of integers.")
                }),
            "name" => {
                names = Some(v.split(',').map(|s| s.trim().to_string()).collect());
                Ok(())
            }
            "country" => {
                countries = Some(
                    v.split(',')
                        .map(|s| s.trim().to_ascii_uppercase())
                        .collect(),
                );
                Ok(())
            }
            "sort" => Ok(()),
            k if k.contains('.') || k.contains('[') => Err(invalid_encoding()),
            _ => Ok(()),
        };
        if let Err(resp) = r {
            return finish(resp, info);
        }
    }
    let matching: Vec<&(u64, &str, &str, serde_json::Value)> = items
        .iter()
        .filter(|(id, name, country, _)| {
            *id > after
                && ids.as_ref().is_none_or(|l| l.contains(id))
                && names.as_ref().is_none_or(|l| l.iter().any(|n| n == name))
                && countries
                    .as_ref()
                    .is_none_or(|l| l.iter().any(|c| c == country))
        })
        .collect();
    let page: Vec<serde_json::Value> = matching.iter().take(limit).map(|x| x.3.clone()).collect();
    let next = (matching.len() > limit)
        .then(|| {
            matching
                .get(limit - 1)
                .map(|x| next_href(&shared.base_url, path, &q, &encode_cursor(x.0)))
        })
        .flatten();
    let mut links =
        serde_json::json!({ "self": { "href": self_href(&shared.base_url, path, raw) } });
    if let Some(n) = next {
        links["next"] = serde_json::json!({ "href": n });
    }
    let body = serde_json::json!({ "_data": page, "_meta": { "links": links } });
    finish(respond::json_body(StatusCode::OK, body.to_string()), info)
}

/// `GET /v2/workplaces`.
pub(crate) async fn workplaces(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let items = OFFICES
        .iter()
        .map(|o| {
            (
                o.id,
                o.name,
                o.country,
                serde_json::json!({ "id": o.id.to_string(), "name": o.name, "country": o.country }),
            )
        })
        .collect();
    simple_list(
        &shared,
        &headers,
        raw.as_deref(),
        "/v2/workplaces",
        items,
        100,
        200,
    )
}

fn legal_entity_json(l: &crate::company::Named) -> serde_json::Value {
    serde_json::json!({
        "id": l.id.to_string(),
        "name": l.name,
        "country": l.country,
        "type": if l.name.ends_with("GmbH") { "GmbH" } else { "OTHER" },
        "valid_from": "2015-01-01",
    })
}

/// `GET /v2/legal-entities`.
pub(crate) async fn legal_entities(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let items = LEGAL_ENTITIES
        .iter()
        .map(|l| (l.id, l.name, l.country, legal_entity_json(l)))
        .collect();
    simple_list(
        &shared,
        &headers,
        raw.as_deref(),
        "/v2/legal-entities",
        items,
        20,
        100,
    )
}

/// `GET /v2/legal-entities/{id}`.
pub(crate) async fn legal_entity(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let (_, info) = match guard(&shared, &headers, Limit::V2Other) {
        Ok(x) => x,
        Err(r) => return r,
    };
    match LEGAL_ENTITIES
        .iter()
        .find(|l| l.id.to_string() == id.trim())
    {
        Some(l) => finish(
            respond::json_body(StatusCode::OK, legal_entity_json(l).to_string()),
            info,
        ),
        None => finish(respond::not_found_v2(), info),
    }
}

/// `GET /v2/cost-centers`.
pub(crate) async fn cost_centers(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let items = COST_CENTERS
        .iter()
        .map(|c| {
            (
                c.id,
                c.name,
                c.country,
                serde_json::json!({ "id": c.id.to_string(), "name": c.name }),
            )
        })
        .collect();
    simple_list(
        &shared,
        &headers,
        raw.as_deref(),
        "/v2/cost-centers",
        items,
        100,
        200,
    )
}

/// Unknown `/v2/...` paths.
pub(crate) async fn not_found() -> Response {
    respond::problem(
        StatusCode::NOT_FOUND,
        "Resource not found",
        "The requested resource was not found.",
        "common.requested_resource_not_found",
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn cursors_round_trip() {
        for id in [0u64, 1, 10_001, u64::MAX] {
            assert_eq!(super::decode_cursor(&super::encode_cursor(id)), Some(id));
        }
        assert_eq!(super::decode_cursor("nope"), None);
    }
}
