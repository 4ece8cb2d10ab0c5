//! Personio API v1: `/v1/auth`, employees list/get, attributes, profile pictures.

use crate::company::{
    COST_CENTERS, CUSTOM_DEFS, CVal, Company, CustomKind, DEPARTMENTS, LEGAL_ENTITIES, OFFICES,
    Person, TEAMS, quirk,
};
use crate::config::Credential;
use crate::dates::{self, ZoneLess};
use crate::json;
use crate::ratelimit::Limit;
use crate::respond;
use crate::state::{Shared, lock};
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use std::sync::Arc;

/// German "not found" message, as Personio sends it.
pub(crate) const NOT_FOUND_DE: &str = "Es ist ein Problem aufgetreten";

/// Standard v1 attributes: key, label, type, universal_id (in wire order).
pub(crate) static STANDARD: &[(&str, &str, &str, &str)] = &[
    ("id", "ID", "integer", "id"),
    ("first_name", "First name", "standard", "first_name"),
    ("last_name", "Last name", "standard", "last_name"),
    (
        "preferred_name",
        "Name (preferred)",
        "standard",
        "preferred_name",
    ),
    ("email", "Email", "standard", "email"),
    ("gender", "Gender", "standard", "gender"),
    ("status", "Status", "standard", "status"),
    ("position", "Position", "standard", "position"),
    ("supervisor", "Supervisor", "standard", "supervisor"),
    (
        "employment_type",
        "Employment type",
        "standard",
        "employment_type",
    ),
    (
        "weekly_working_hours",
        "Weekly hours",
        "standard",
        "weekly_working_hours",
    ),
    ("hire_date", "Hire date", "date", "hire_date"),
    (
        "contract_end_date",
        "Contract ends",
        "date",
        "contract_end_date",
    ),
    (
        "termination_date",
        "Termination date",
        "date",
        "termination_date",
    ),
    (
        "termination_type",
        "Termination type",
        "standard",
        "termination_type",
    ),
    (
        "termination_reason",
        "Termination reason",
        "standard",
        "termination_reason",
    ),
    (
        "probation_period_end",
        "Probation period end",
        "date",
        "probation_period_end",
    ),
    ("created_at", "created_at", "date", "created_at"),
    (
        "last_modified_at",
        "Last modified",
        "date",
        "last_modified_at",
    ),
    ("subcompany", "Subcompany", "standard", "subcompany"),
    ("office", "Workplace", "standard", "office"),
    ("department", "Department", "standard", "department"),
    ("cost_centers", "Cost center", "standard", "cost_center"),
    ("team", "Team", "standard", "team"),
    (
        "last_working_day",
        "Last day of work",
        "date",
        "last_working_day",
    ),
    (
        "profile_picture",
        "Profile Picture",
        "standard",
        "profile_picture",
    ),
];

/// The v1 type name of a custom attribute kind.
pub(crate) fn custom_type(kind: CustomKind) -> &'static str {
    match kind {
        CustomKind::List => "list",
        CustomKind::Tags => "tags",
        CustomKind::Date => "date",
        CustomKind::Integer => "integer",
        CustomKind::Decimal => "decimal",
        CustomKind::Link => "link",
        CustomKind::Multiline => "multiline",
        CustomKind::Standard | CustomKind::Boolean => "standard",
    }
}

/// The profile picture URL of a person.
pub(crate) fn picture_url(base_url: &str, id: u64) -> String {
    format!("{base_url}/v1/company/employees/{id}/profile-picture")
}

/// What a request may see.
struct View<'a> {
    cred: &'a Credential,
    selected: Option<&'a [String]>,
    base_url: &'a str,
    seed: u64,
    malformed: Option<u64>,
}

impl View<'_> {
    fn allowed(&self, key: &str) -> bool {
        self.cred.allows(key)
            && self
                .selected
                .is_none_or(|s| key == "id" || s.iter().any(|k| k == key))
    }
}

fn open(out: &mut String, first: &mut bool, key: &str, label: &str) {
    if !*first {
        out.push(',');
    }
    *first = false;
    json::key(out, key);
    out.push_str("{\"label\":");
    json::str(out, label);
    out.push_str(",\"value\":");
}

fn close(out: &mut String, ty: &str, uid: Option<&str>) {
    out.push_str(",\"type\":");
    json::str(out, ty);
    out.push_str(",\"universal_id\":");
    json::opt_str(out, uid);
    out.push('}');
}

fn empty_nested(out: &mut String, p: &Person) {
    out.push_str(if p.quirks & quirk::EMPTY_AS_LIST != 0 {
        "[]"
    } else {
        "\"\""
    });
}

fn nested(out: &mut String, ty: &str, id: u64, name: &str) {
    out.push_str("{\"type\":");
    json::str(out, ty);
    out.push_str(",\"attributes\":{\"id\":");
    json::int(out, id as i64);
    out.push_str(",\"name\":");
    json::str(out, name);
    out.push_str("}}");
}

fn opt_date(out: &mut String, p: &Person, d: Option<i64>) {
    match d {
        Some(d) => {
            out.push('"');
            dates::write_v1_date(out, d, p.quirks & quirk::NO_COLON == 0);
            out.push('"');
        }
        None => out.push_str("null"),
    }
}

fn labelled(
    out: &mut String,
    first: &mut bool,
    key: &str,
    label: &str,
    ty: &str,
    value: &dyn Fn(&mut String),
) {
    open(out, first, key, label);
    value(out);
    close(out, ty, Some(key));
}

/// Writes `{"type":"Employee","attributes":{…}}` for one person.
fn write_employee(out: &mut String, p: &Person, company: &Company, v: &View<'_>) {
    out.push_str("{\"type\":\"Employee\",\"attributes\":{");
    let mut first = true;
    let broken = v.malformed == Some(p.id);
    for &(key, label, ty, uid) in STANDARD {
        if !v.allowed(key) {
            continue;
        }
        open(out, &mut first, key, label);
        match key {
            "id" if broken => out.push_str("\"x\""),
            "id" => json::int(out, p.id as i64),
            "first_name" if broken => out.push_str("{\"oops\":[1,2,3]}"),
            "first_name" => json::str(out, &p.first_name),
            "last_name" => json::str(out, &p.last_name),
            "preferred_name" => match &p.preferred_name {
                Some(n) => json::str(out, n),
                None if p.quirks & quirk::EMPTY_STRING_NAME != 0 => out.push_str("\"\""),
                None => out.push_str("null"),
            },
            "email" => json::opt_str(out, p.email.as_deref()),
            "gender" => json::str(out, p.gender.v1()),
            "status" => json::str(out, p.status.v1()),
            "position" => json::str(out, &p.position),
            "supervisor" => match p.supervisor {
                Some(sid) => {
                    out.push_str("{\"type\":\"Employee\",\"attributes\":{");
                    let mut f = true;
                    labelled(out, &mut f, "id", "ID", "integer", &|o| {
                        json::int(o, sid as i64)
                    });
                    if let Some(s) = company.get(sid) {
                        if v.cred.allows("first_name") {
                            labelled(out, &mut f, "first_name", "First name", "standard", &|o| {
                                json::str(o, &s.first_name)
                            });
                        }
                        if v.cred.allows("last_name") {
                            labelled(out, &mut f, "last_name", "Last name", "standard", &|o| {
                                json::str(o, &s.last_name)
                            });
                        }
                        if v.cred.allows("email") {
                            labelled(out, &mut f, "email", "Email", "standard", &|o| {
                                json::opt_str(o, s.email.as_deref())
                            });
                        }
                    }
                    out.push_str("}}");
                }
                None => empty_nested(out, p),
            },
            "employment_type" => out.push_str(if p.external {
                "\"external\""
            } else {
                "\"internal\""
            }),
            "weekly_working_hours" => {
                out.push('"');
                json::num(out, p.weekly_hours);
                out.push('"');
            }
            "hire_date" => opt_date(out, p, p.hire_date),
            "contract_end_date" => opt_date(out, p, p.contract_end_date),
            "termination_date" => opt_date(out, p, p.termination_date),
            "termination_type" => json::opt_str(out, p.termination_type),
            "termination_reason" => match p.termination_type {
                Some(_) => out.push_str("\"\""),
                None => out.push_str("null"),
            },
            "probation_period_end" => opt_date(out, p, p.probation_end),
            "created_at" | "last_modified_at" => {
                out.push('"');
                dates::write_v1_timestamp(
                    out,
                    if key == "created_at" {
                        p.created_at
                    } else {
                        p.updated_at
                    },
                );
                out.push('"');
            }
            "subcompany" => match p
                .legal_entity
                .and_then(|id| LEGAL_ENTITIES.iter().find(|l| l.id == id))
            {
                Some(l) => nested(out, "Subcompany", l.id, l.name),
                None => empty_nested(out, p),
            },
            "office" => match p.office.and_then(|id| OFFICES.iter().find(|o| o.id == id)) {
                Some(o) => nested(out, "Office", o.id, o.name),
                None => empty_nested(out, p),
            },
            "department" => match p
                .department
                .and_then(|id| DEPARTMENTS.iter().find(|d| d.id == id))
            {
                Some(d) => nested(out, "Department", d.id, d.name),
                None => empty_nested(out, p),
            },
            "team" => match p.team.and_then(|id| TEAMS.iter().find(|d| d.id == id)) {
                Some(t) => nested(out, "Team", t.id, t.name),
                None => empty_nested(out, p),
            },
            "cost_centers" => {
                out.push('[');
                let mut f = true;
                for (cid, pct) in &p.cost_centers {
                    let Some(c) = COST_CENTERS.iter().find(|c| c.id == *cid) else {
                        continue;
                    };
                    if !f {
                        out.push(',');
                    }
                    f = false;
                    out.push_str("{\"type\":\"CostCenter\",\"attributes\":{\"id\":");
                    json::int(out, c.id as i64);
                    out.push_str(",\"name\":");
                    json::str(out, c.name);
                    out.push_str(",\"percentage\":");
                    json::int(out, i64::from(*pct));
                    out.push_str("}}");
                }
                out.push(']');
            }
            "last_working_day" => opt_date(out, p, p.last_working_day),
            "profile_picture" => {
                if p.has_picture {
                    json::str(out, &picture_url(v.base_url, p.id));
                } else {
                    out.push_str("null");
                }
            }
            _ => out.push_str("null"),
        }
        close(out, ty, Some(uid));
    }
    for (idx, def) in CUSTOM_DEFS.iter().enumerate() {
        if !v.allowed(def.key) {
            continue;
        }
        open(out, &mut first, def.key, def.label);
        match p.custom(v.seed, idx) {
            None if matches!(def.kind, CustomKind::List | CustomKind::Standard)
                && p.quirks & quirk::EMPTY_STRING_NAME != 0 =>
            {
                out.push_str("\"\"")
            }
            None => out.push_str("null"),
            Some(CVal::Text(s)) => json::str(out, &s),
            Some(CVal::Int(i)) => json::int(out, i),
            Some(CVal::Dec(d)) => json::num(out, d),
            Some(CVal::Date(d)) => {
                out.push('"');
                dates::write_date(out, d);
                out.push('"');
            }
            Some(CVal::Bool(b)) => out.push_str(if b { "\"true\"" } else { "\"false\"" }),
            Some(CVal::Tags(tags)) => {
                let text = if p.quirks & quirk::TAGS_JSON != 0 {
                    serde_json::to_string(&tags).unwrap_or_default()
                } else {
                    tags.join(",")
                };
                json::str(out, &text);
            }
        }
        close(out, custom_type(def.kind), def.universal_id);
    }
    out.push_str("}}");
}

/// Authenticates a v1 request: (credential, token) or the v1 error response.
fn authenticate(shared: &Shared, headers: &HeaderMap) -> Result<(Credential, String), Response> {
    let raw = headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok());
    let ttl = shared.token_ttl();
    let auth = lock(&shared.auth);
    match auth.check(raw, ttl) {
        Ok(idx) => {
            let cred = auth.credential(idx).cloned().ok_or_else(|| {
                respond::v1_error(
                    StatusCode::FORBIDDEN,
                    403,
                    "Provided authorization is not valid",
                )
            })?;
            let token = raw
                .map(|r| r.trim().rsplit(' ').next().unwrap_or(r).to_string())
                .unwrap_or_default();
            Ok((cred, token))
        }
        Err(crate::auth::TokenError::Missing) => Err(respond::v1_error(
            StatusCode::UNAUTHORIZED,
            401,
            "Authorization is not provided",
        )),
        Err(crate::auth::TokenError::Invalid) => Err(respond::v1_error(
            StatusCode::FORBIDDEN,
            403,
            "Provided authorization is not valid",
        )),
    }
}

fn throttle(shared: &Shared, limits: &[Limit], key: &str) -> Result<(), Response> {
    if !shared.config.rate_limits {
        return Ok(());
    }
    lock(&shared.limiter)
        .take(limits, key)
        .map(|_| ())
        .map_err(|t| respond::v1_too_many(t.retry_after))
}

const EMPLOYEE_LIMITS: &[Limit] = &[
    Limit::V1EmployeesBurst,
    Limit::V1EmployeesMinute,
    Limit::V1All,
];

/// `POST /v1/auth` (JSON or form body).
pub(crate) async fn auth(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let ctype = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let mut id: Option<String> = None;
    let mut secret: Option<String> = None;
    let json_first =
        ctype.contains("json") || (!ctype.contains("form") && body.first() == Some(&b'{'));
    if json_first {
        match serde_json::from_slice::<serde_json::Value>(&body) {
            Ok(v) => {
                id = v
                    .get("client_id")
                    .and_then(|x| x.as_str())
                    .map(str::to_string);
                secret = v
                    .get("client_secret")
                    .and_then(|x| x.as_str())
                    .map(str::to_string);
            }
            Err(_) if !body.is_empty() => {
                return respond::v1_error(
                    StatusCode::BAD_REQUEST,
                    400,
                    "The request body is not valid JSON.",
                );
            }
            Err(_) => {}
        }
    } else {
        for (k, v) in form_urlencoded::parse(&body) {
            match k.as_ref() {
                "client_id" => id = Some(v.into_owned()),
                "client_secret" => secret = Some(v.into_owned()),
                _ => {}
            }
        }
    }
    let key = id.clone().unwrap_or_else(|| "anonymous".to_string());
    if shared.config.rate_limits
        && let Err(t) = lock(&shared.limiter).take_v1_auth(&key)
    {
        return respond::v1_too_many(t.retry_after);
    }
    let (Some(id), Some(secret)) = (id, secret) else {
        if query.as_deref().is_some_and(|q| q.contains("client_id")) {
            return respond::v1_error(
                StatusCode::FORBIDDEN,
                0,
                "Credentials in the query string are no longer supported; send them in the request body.",
            );
        }
        return respond::v1_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            422,
            "The client_id and client_secret fields are required.",
        );
    };
    let ttl = shared.token_ttl();
    let mut auth = lock(&shared.auth);
    let Ok(idx) = auth.verify(&id, &secret) else {
        return respond::v1_error(StatusCode::FORBIDDEN, 0, "Wrong credentials");
    };
    let (token, expires_in) = auth.issue(idx, ttl);
    drop(auth);
    let mut out = String::with_capacity(160);
    out.push_str("{\"success\":true,\"data\":{\"token\":");
    json::str(&mut out, &token);
    out.push_str(",\"expires_in\":");
    json::int(&mut out, expires_in as i64);
    out.push_str(",\"scope\":\"employees:read\"}}");
    respond::json_body(StatusCode::OK, out)
}

/// Parsed list query.
#[derive(Default)]
struct ListQuery {
    limit: Option<String>,
    offset: Option<String>,
    email: Option<String>,
    updated_since: Option<String>,
    attributes: Vec<String>,
}

fn parse_query(q: Option<&str>) -> ListQuery {
    let mut lq = ListQuery::default();
    for (k, v) in form_urlencoded::parse(q.unwrap_or("").as_bytes()) {
        match k.as_ref() {
            "limit" => lq.limit = Some(v.into_owned()),
            "offset" => lq.offset = Some(v.into_owned()),
            "email" => lq.email = Some(v.into_owned()),
            "updated_since" => lq.updated_since = Some(v.into_owned()),
            k if k == "attributes[]"
                || k == "attributes"
                || (k.starts_with("attributes[") && k.ends_with(']')) =>
            {
                lq.attributes.extend(
                    v.split(',')
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty()),
                )
            }
            _ => {}
        }
    }
    lq
}

/// `GET /v1/company/employees`.
pub(crate) async fn list(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let (cred, token) = match authenticate(&shared, &headers) {
        Ok(x) => x,
        Err(r) => return r,
    };
    if let Err(r) = throttle(&shared, EMPLOYEE_LIMITS, &cred.client_id) {
        return r;
    }
    let q = parse_query(query.as_deref());
    let limit: i64 = match q.limit.as_deref().map(str::trim) {
        None | Some("") => 50,
        Some(l) => match l.parse::<i64>() {
            Ok(n) if (1..=100).contains(&n) => n,
            _ => {
                return respond::v1_error(
                    StatusCode::BAD_REQUEST,
                    400,
                    "The limit must be between 1 and 100.",
                );
            }
        },
    };
    let offset: i64 = match q.offset.as_deref().map(str::trim) {
        None | Some("") => 0,
        Some(o) => match o.parse::<i64>() {
            Ok(n) if n >= 0 => n,
            _ => {
                return respond::v1_error(
                    StatusCode::BAD_REQUEST,
                    400,
                    "The offset must be a non-negative integer.",
                );
            }
        },
    };
    let since = match q.updated_since.as_deref() {
        None => None,
        Some(s) => match dates::parse_instant(s, ZoneLess::Berlin) {
            Some(t) => Some(t),
            None => {
                return respond::v1_error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    422,
                    "The updated_since parameter must be an ISO 8601 date-time like 2022-12-24T08:15:30.",
                );
            }
        },
    };
    let faults = shared.faults();
    if faults.success_false {
        return respond::echo_token(
            respond::json_body(
                StatusCode::OK,
                r#"{"success":false,"error":{"code":500,"message":"Something went wrong"}}"#
                    .to_string(),
            ),
            &token,
        );
    }
    let selected: Option<Vec<String>> = (!q.attributes.is_empty()).then(|| q.attributes.clone());
    let mut out = String::with_capacity(64 * 1024);
    let served_first_page;
    {
        let company = shared.read();
        let view = View {
            cred: &cred,
            selected: selected.as_deref(),
            base_url: &shared.base_url,
            seed: company.seed,
            malformed: shared.malformed(),
        };
        let people = &company.people;
        let (total, page): (usize, Vec<&Person>) = if faults.empty_list {
            (0, Vec::new())
        } else if let Some(since) = since {
            let counts = |k: &str| view.allowed(k);
            let matching: Vec<&Person> = people
                .iter()
                .filter(|p| p.changed_since(since, &counts))
                .collect();
            let page = matching
                .iter()
                .skip(offset as usize)
                .take(limit as usize)
                .copied()
                .collect();
            (matching.len(), page)
        } else if let Some(email) = q.email.as_deref() {
            let matching: Vec<&Person> = people
                .iter()
                .filter(|p| p.email.as_deref() == Some(email))
                .collect();
            let page = matching
                .iter()
                .skip(offset as usize)
                .take(limit as usize)
                .copied()
                .collect();
            (matching.len(), page)
        } else {
            let start = (offset as usize).min(people.len());
            let end = (start + limit as usize).min(people.len());
            (people.len(), people[start..end].iter().collect())
        };
        let mut total_elements = total as i64;
        let current_page = offset / limit;
        if faults.drifting_total && total_elements > 0 {
            total_elements = (total_elements + (current_page % 7) - 3).max(0);
        }
        let mut total_pages = (total_elements + limit - 1) / limit;
        if faults.lying_total_pages {
            total_pages += 2;
        }
        out.push_str("{\"success\":true,\"metadata\":{\"total_elements\":");
        json::int(&mut out, total_elements);
        out.push_str(",\"current_page\":");
        json::int(&mut out, current_page);
        out.push_str(",\"total_pages\":");
        json::int(&mut out, total_pages);
        out.push_str("},\"offset\":");
        json::int(&mut out, offset);
        out.push_str(",\"limit\":");
        json::int(&mut out, limit);
        out.push_str(",\"data\":[");
        for (i, p) in page.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            write_employee(&mut out, p, &company, &view);
        }
        out.push_str("]}");
        served_first_page = offset == 0 && !page.is_empty();
    }
    if faults.shift_during_paging && served_first_page {
        let do_shift = {
            let mut f = lock(&shared.faults);
            let first = !f.shift_done;
            f.shift_done = true;
            first
        };
        if do_shift {
            let events = shared
                .write()
                .hire_at_front()
                .map(|(_, e)| e)
                .unwrap_or_default();
            shared.emit(events);
        }
    }
    if faults.invalid_json {
        let mut cut = out.len() / 2;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
    }
    respond::echo_token(respond::json_body(StatusCode::OK, out), &token)
}

/// `GET /v1/company/employees/{id}`.
pub(crate) async fn get_one(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let (cred, token) = match authenticate(&shared, &headers) {
        Ok(x) => x,
        Err(r) => return r,
    };
    if let Err(r) = throttle(&shared, EMPLOYEE_LIMITS, &cred.client_id) {
        return r;
    }
    let Ok(n) = id.trim().parse::<u64>() else {
        return respond::v1_error(StatusCode::NOT_FOUND, 404, NOT_FOUND_DE);
    };
    let company = shared.read();
    let Some(p) = company.get(n) else {
        return respond::v1_error(StatusCode::NOT_FOUND, 404, NOT_FOUND_DE);
    };
    let view = View {
        cred: &cred,
        selected: None,
        base_url: &shared.base_url,
        seed: company.seed,
        malformed: shared.malformed(),
    };
    let mut out = String::with_capacity(4096);
    out.push_str("{\"success\":true,\"data\":");
    write_employee(&mut out, p, &company, &view);
    out.push('}');
    drop(company);
    respond::echo_token(respond::json_body(StatusCode::OK, out), &token)
}

/// `GET /v1/company/employees/attributes` (and `/custom-attributes`).
pub(crate) async fn attributes(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let (cred, token) = match authenticate(&shared, &headers) {
        Ok(x) => x,
        Err(r) => return r,
    };
    if let Err(r) = throttle(&shared, EMPLOYEE_LIMITS, &cred.client_id) {
        return r;
    }
    let mut out = String::from("{\"success\":true,\"data\":[");
    let mut first = true;
    let mut item = |out: &mut String,
                    key: &str,
                    label: &str,
                    ty: &str,
                    uid: Option<&str>,
                    options: &[&str]| {
        if !first {
            out.push(',');
        }
        first = false;
        out.push_str("{\"key\":");
        json::str(out, key);
        out.push_str(",\"label\":");
        json::str(out, label);
        out.push_str(",\"type\":");
        json::str(out, ty);
        out.push_str(",\"universal_id\":");
        json::opt_str(out, uid);
        out.push_str(",\"options\":[");
        for (i, o) in options.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            json::str(out, o);
        }
        out.push_str("]}");
    };
    for &(key, label, ty, uid) in STANDARD {
        if cred.allows(key) {
            item(&mut out, key, label, ty, Some(uid), &[]);
        }
    }
    for def in CUSTOM_DEFS {
        if cred.allows(def.key) {
            item(
                &mut out,
                def.key,
                def.label,
                custom_type(def.kind),
                def.universal_id,
                def.options,
            );
        }
    }
    out.push_str("]}");
    respond::echo_token(respond::json_body(StatusCode::OK, out), &token)
}

/// A valid 1×1 PNG.
pub(crate) static TINY_PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
    0x89, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0xF8, 0xCF, 0xC0, 0xF0,
    0x1F, 0x00, 0x05, 0x00, 0x01, 0xFF, 0x89, 0x99, 0x3D, 0x1D, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
    0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
];

fn picture(shared: &Shared, headers: &HeaderMap, id: &str) -> Response {
    let (cred, _) = match authenticate(shared, headers) {
        Ok(x) => x,
        Err(r) => return r,
    };
    if let Err(r) = throttle(shared, &[Limit::V1All], &cred.client_id) {
        return r;
    }
    let found = id
        .trim()
        .parse::<u64>()
        .ok()
        .and_then(|n| shared.read().get(n).map(|p| p.has_picture));
    if !cred.allows("profile_picture") || found != Some(true) {
        return respond::v1_error(StatusCode::NOT_FOUND, 404, NOT_FOUND_DE);
    }
    respond::with_body(StatusCode::OK, "image/png", TINY_PNG)
}

/// `GET /v1/company/employees/{id}/profile-picture`.
pub(crate) async fn profile_picture(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    picture(&shared, &headers, &id)
}

/// `GET /v1/company/employees/{id}/profile-picture/{width}`.
pub(crate) async fn profile_picture_width(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path((id, width)): Path<(String, String)>,
) -> Response {
    if width.parse::<u32>().map_or(true, |w| w == 0) {
        return respond::v1_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            422,
            "The width must be a positive integer.",
        );
    }
    picture(&shared, &headers, &id)
}

/// Unknown `/v1/...` paths.
pub(crate) async fn not_found() -> Response {
    respond::v1_error(StatusCode::NOT_FOUND, 404, NOT_FOUND_DE)
}
