//! The dashboard's pages and form actions.

use crate::html::{badge, esc, page, seg, when};
use crate::{
    DashboardState, LOGIN_COOKIE, SESSION_COOKIE, Session, WebError, check_csrf, cookie, ct_eq,
    on_engine, random_hex, require,
};
use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use psync_engine::SyncOptions;
use psync_model::{EmployeeId, Operation, Plan, Value};
use psync_store::{JournalEntry, RunRecord, StateStore};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

type Page = Result<Response, WebError>;

/// The CSRF field of a form.
fn csrf_field(session: &Session) -> String {
    format!(
        r#"<input type="hidden" name="csrf" value="{}">"#,
        esc(&session.csrf)
    )
}

macro_rules! login_or_return {
    ($state:expr, $headers:expr) => {
        match require(&$state, &$headers) {
            Ok(session) => session,
            Err(redirect) => return Ok(redirect.into_response()),
        }
    };
}

/// `GET /login`.
pub(crate) async fn login_form(State(state): State<DashboardState>) -> Page {
    login_page(&state, None)
}

fn login_page(state: &DashboardState, problem: Option<&str>) -> Page {
    let token = random_hex()?;
    let problem = problem
        .map(|p| format!(r#"<p class="error">{}</p>"#, esc(p)))
        .unwrap_or_default();
    let body = format!(
        r#"<form class="login" method="post" action="/login">{problem}
<input type="hidden" name="csrf" value="{token}">
<label for="user">User (leave empty to use the admin token)</label><input id="user" name="user" autocomplete="username">
<label for="password">Password or admin token</label><input id="password" name="password" type="password" autocomplete="current-password" required>
<button class="primary" type="submit">Log in</button></form>"#
    );
    let mut response = page("Log in", None, &body).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        state.cookie_header(LOGIN_COOKIE, &token, Some(600)),
    );
    Ok(response)
}

/// The login form's fields.
#[derive(Deserialize)]
pub(crate) struct LoginForm {
    #[serde(default)]
    user: String,
    password: String,
    csrf: String,
}

/// `POST /login`.
pub(crate) async fn login(
    State(state): State<DashboardState>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Page {
    let expected = cookie(&headers, LOGIN_COOKIE).unwrap_or_default();
    if expected.is_empty() || !ct_eq(&expected, &form.csrf) {
        return Err(WebError::Csrf);
    }
    let Some(user) = state.check_login(&form.user, &form.password) else {
        tracing::warn!("dashboard login refused");
        let mut response = login_page(&state, Some("Wrong user, password or token."))?;
        *response.status_mut() = axum::http::StatusCode::UNAUTHORIZED;
        return Ok(response);
    };
    let id = state.new_session(user)?;
    let mut response = Redirect::to("/").into_response();
    let h = response.headers_mut();
    h.append(
        header::SET_COOKIE,
        state.cookie_header(SESSION_COOKIE, &id, None),
    );
    h.append(
        header::SET_COOKIE,
        state.cookie_header(LOGIN_COOKIE, "", Some(0)),
    );
    Ok(response)
}

/// A form with only the CSRF token.
#[derive(Deserialize)]
pub(crate) struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /logout`.
pub(crate) async fn logout(
    State(state): State<DashboardState>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Page {
    let session = login_or_return!(state, headers);
    check_csrf(&session, &form.csrf)?;
    state.end_session(&headers);
    let mut response = Redirect::to("/login").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        state.cookie_header(SESSION_COOKIE, "", Some(0)),
    );
    Ok(response)
}

fn run_link(id: i64) -> String {
    format!(r#"<a href="/runs/{id}">#{id}</a>"#)
}

fn counts_text(counts: &BTreeMap<String, u64>) -> String {
    let parts: Vec<String> = counts
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(k, n)| format!("{n} {}", esc(&k.replace('_', " "))))
        .collect();
    if parts.is_empty() {
        r#"<span class="muted">—</span>"#.to_owned()
    } else {
        parts.join(", ")
    }
}

fn runs_table(runs: &[RunRecord]) -> String {
    let mut out = String::from(
        "<table><tr><th>Run</th><th>Kind</th><th>Trigger</th><th>Target</th><th>Started</th><th>Status</th><th>Counts</th></tr>",
    );
    for r in runs {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            run_link(r.id),
            esc(&r.kind),
            esc(&r.trigger),
            esc(r.target.as_deref().unwrap_or("all")),
            when(r.started_at),
            badge(r.status.as_str()),
            counts_text(&r.counts)
        );
    }
    if runs.is_empty() {
        out.push_str(r#"<tr><td colspan="7" class="muted">No runs yet.</td></tr>"#);
    }
    out.push_str("</table>");
    out
}

/// `GET /`.
pub(crate) async fn overview(State(state): State<DashboardState>, headers: HeaderMap) -> Page {
    let session = login_or_return!(state, headers);
    let engine = state.engine();
    let store = engine.store();
    let runs = store.runs(500).await?;
    let held = store.held_plans().await?;
    let problems = store.parked_operations(None).await?;
    let next: Vec<(String, jiff::Timestamp)> = state
        .inner
        .next_runs
        .as_ref()
        .map(|f| f())
        .unwrap_or_default();

    let mut body = format!(
        r#"<div class="cards"><div class="card"><div class="n">{}</div><div class="l">Personio accounts</div></div>
<div class="card"><div class="n">{}</div><div class="l">Targets</div></div>
<div class="card"><div class="n"><a href="/held">{}</a></div><div class="l">Held plans waiting</div></div>
<div class="card"><div class="n"><a href="/problems">{}</a></div><div class="l">Failed or parked operations</div></div></div>"#,
        engine.sources().len(),
        engine.targets().len(),
        held.len(),
        problems.len()
    );
    if !held.is_empty() {
        let _ = write!(
            body,
            r#"<p class="notice">{} plan(s) wait for a decision. <a href="/held">Review held plans</a>.</p>"#,
            held.len()
        );
    }
    body.push_str("<h2>Targets</h2><table><tr><th>Target</th><th>Personio account</th><th>Last run</th><th>Status</th><th>Counts</th><th>Next run</th><th></th></tr>");
    for t in engine.targets() {
        let last = runs
            .iter()
            .find(|r| r.target.as_deref() == Some(t.name.as_str()));
        let (link, status, counts) = match last {
            Some(r) => (
                format!("{} {}", run_link(r.id), when(r.started_at)),
                badge(r.status.as_str()),
                counts_text(&r.counts),
            ),
            None => (
                r#"<span class="muted">never</span>"#.to_owned(),
                badge("never run"),
                String::new(),
            ),
        };
        let next_run = next
            .iter()
            .filter(|(name, _)| *name == t.name)
            .map(|(_, at)| *at)
            .min()
            .map(when)
            .unwrap_or_else(|| r#"<span class="muted">not scheduled</span>"#.to_owned());
        let _ = write!(
            body,
            "<tr><td><strong>{}</strong></td><td>{}</td><td>{link}</td><td>{status}</td><td>{counts}</td><td>{next_run}</td>\
             <td><form method=\"post\" action=\"/sync\" class=\"inline\">{}<input type=\"hidden\" name=\"target\" value=\"{}\"><button type=\"submit\">Sync now</button></form></td></tr>",
            esc(&t.name),
            esc(&t.source),
            csrf_field(&session),
            esc(&t.name)
        );
    }
    body.push_str(
        "</table><h2>Personio accounts</h2><table><tr><th>Account</th><th>Targets fed</th></tr>",
    );
    for s in engine.sources() {
        let fed: Vec<String> = engine
            .targets()
            .iter()
            .filter(|t| t.source == s.name)
            .map(|t| esc(&t.name))
            .collect();
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td></tr>",
            esc(&s.name),
            fed.join(", ")
        );
    }
    body.push_str(r#"</table><h2>Recent runs</h2>"#);
    body.push_str(&runs_table(&runs[..runs.len().min(10)]));
    let _ = write!(body, r#"<p><a href="/runs">All runs</a></p>"#);
    Ok(page("Overview", Some(&session.csrf), &body).into_response())
}

/// `GET /runs`.
pub(crate) async fn runs(State(state): State<DashboardState>, headers: HeaderMap) -> Page {
    let session = login_or_return!(state, headers);
    let runs = state.engine().store().runs(200).await?;
    Ok(page("Runs", Some(&session.csrf), &runs_table(&runs)).into_response())
}

/// `GET /runs/{id}`.
pub(crate) async fn run_detail(
    State(state): State<DashboardState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Page {
    let session = login_or_return!(state, headers);
    let store = state.engine().store();
    let run = store
        .run(id)
        .await?
        .ok_or_else(|| WebError::NotFound(format!("there is no run {id}")))?;
    let held = store
        .held_plans()
        .await?
        .into_iter()
        .find(|(r, _)| *r == id)
        .map(|(_, plan)| plan);
    let mut body = format!(
        r#"<table><tr><th>Status</th><td>{}</td><th>Kind</th><td>{}</td><th>Trigger</th><td>{}</td></tr>
<tr><th>Target</th><td>{}</td><th>Started</th><td>{}</td><th>Finished</th><td>{}</td></tr>
<tr><th>Counts</th><td colspan="5">{}</td></tr>"#,
        badge(run.status.as_str()),
        esc(&run.kind),
        esc(&run.trigger),
        esc(run.target.as_deref().unwrap_or("all")),
        when(run.started_at),
        run.finished_at.map(when).unwrap_or_else(|| "—".into()),
        counts_text(&run.counts)
    );
    if let Some(message) = &run.message {
        let _ = write!(
            body,
            r#"<tr><th>Message</th><td colspan="5">{}</td></tr>"#,
            link_runs(&esc(message))
        );
    }
    body.push_str("</table>");
    if let Some(plan) = held {
        let _ = write!(
            body,
            r#"<h2>Held plan</h2><p class="notice">Held: {}. Nothing has been applied yet; check the changes below, then decide.</p><p>{}</p><h2>Changes</h2><p class="muted">{}</p>{}"#,
            esc(&plan
                .hold
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default()),
            decision_buttons(&session, id),
            esc(&psync_planner::summary_line(&plan)),
            plan_html(&plan)
        );
    } else {
        let ops = store.run_operations(id).await?;
        let _ = write!(body, "<h2>Operations ({})</h2>", ops.len());
        if ops.is_empty() {
            body.push_str(r#"<p class="muted">This run wrote nothing.</p>"#);
        }
        for entry in &ops {
            body.push_str(&operation_html(&entry.operation, Some(entry)));
        }
    }
    Ok(page(&format!("Run #{id}"), Some(&session.csrf), &body).into_response())
}

/// Turns "run 12" in an (already escaped) message into a link.
fn link_runs(message: &str) -> String {
    match message.rsplit_once("run ") {
        Some((head, tail)) if !tail.is_empty() && tail.chars().all(|c| c.is_ascii_digit()) => {
            format!(r#"{head}run <a href="/runs/{tail}">{tail}</a>"#)
        }
        _ => message.to_owned(),
    }
}

fn decision_buttons(session: &Session, run: i64) -> String {
    let csrf = csrf_field(session);
    format!(
        r#"<form method="post" action="/held/{run}/approve" class="inline">{csrf}<button class="primary" type="submit">Approve and apply</button></form>
<form method="post" action="/held/{run}/reject" class="inline">{csrf}<button class="danger" type="submit">Reject</button></form>"#
    )
}

fn plan_html(plan: &Plan) -> String {
    let mut out = String::new();
    for op in &plan.operations {
        out.push_str(&operation_html(op, None));
    }
    if !plan.notes.is_empty() {
        let _ = write!(
            out,
            "<details><summary>{} note(s) on this plan</summary>",
            plan.notes.len()
        );
    }
    for note in &plan.notes {
        let who = note
            .person
            .as_ref()
            .map(|p| format!("{}: ", person_link(p)))
            .unwrap_or_default();
        let _ = write!(out, r#"<p class="muted">{who}{}</p>"#, esc(&note.message));
    }
    if !plan.notes.is_empty() {
        out.push_str("</details>");
    }
    out
}

fn person_link(person: &EmployeeId) -> String {
    format!(
        r#"<a href="/people/{}">{}</a>"#,
        seg(person.as_str()),
        esc(person.as_str())
    )
}

fn value_html(value: &Value) -> String {
    match value {
        Value::Null => r#"<span class="muted">(empty)</span>"#.to_owned(),
        other => esc(&other.display()),
    }
}

/// One operation as a block: who, what, and attribute by attribute old → new.
fn operation_html(op: &Operation, entry: Option<&JournalEntry>) -> String {
    let record = op.record();
    let name = psync_planner::display_name(record).unwrap_or_default();
    let mut rows = String::new();
    let change_rows = |rows: &mut String, changes: &[psync_model::FieldChange]| {
        for c in changes {
            let _ = write!(
                rows,
                r#"<tr><td>{}</td><td class="old">{}</td><td>→</td><td class="new">{}</td></tr>"#,
                esc(&c.field),
                value_html(&c.old),
                value_html(&c.new)
            );
        }
    };
    let mut extra = String::new();
    match op {
        Operation::Create { record, .. } => {
            for (field, value) in record.attributes.iter() {
                let _ = write!(
                    rows,
                    r#"<tr><td>{}</td><td></td><td>+</td><td class="new">{}</td></tr>"#,
                    esc(field),
                    value_html(value)
                );
            }
            for g in &record.groups {
                let _ = write!(
                    rows,
                    r#"<tr><td>group</td><td></td><td>+</td><td class="new">{}</td></tr>"#,
                    esc(&g.to_string())
                );
            }
            if !record.active {
                extra.push_str(" (inactive until the start date)");
            }
        }
        Operation::Update {
            changes,
            groups_added,
            groups_removed,
            ..
        } => {
            change_rows(&mut rows, changes);
            for g in groups_added {
                let _ = write!(
                    rows,
                    r#"<tr><td>group</td><td></td><td>+</td><td class="new">joins {}</td></tr>"#,
                    esc(&g.to_string())
                );
            }
            for g in groups_removed {
                let _ = write!(
                    rows,
                    r#"<tr><td>group</td><td class="old">leaves {}</td><td>−</td><td></td></tr>"#,
                    esc(&g.to_string())
                );
            }
        }
        Operation::Enable { changes, .. } => change_rows(&mut rows, changes),
        Operation::Disable { reason, .. } | Operation::Delete { reason, .. } => {
            let reason = match reason {
                psync_model::LeaveReason::Left => "left the company",
                psync_model::LeaveReason::OutOfScope => "out of scope",
                psync_model::LeaveReason::Gone => "gone from Personio",
            };
            let _ = write!(extra, " — {reason}");
        }
    }
    let result = entry.map(entry_result).unwrap_or_default();
    let table = if rows.is_empty() {
        String::new()
    } else {
        format!(r#"<table class="diff">{rows}</table>"#)
    };
    format!(
        r#"<div class="op">{} <span class="who">{}</span> {}{}{} {result}{table}</div>"#,
        badge(op.kind().as_str()),
        esc(&name),
        person_link(op.person()),
        esc(&extra),
        entry
            .map(|e| format!(r#" <span class="muted">in {}</span>"#, esc(&e.target)))
            .unwrap_or_default(),
    )
}

/// The fate of a journal entry, as a badge and detail.
fn entry_result(entry: &JournalEntry) -> String {
    match (&entry.outcome, &entry.failure) {
        (Some(outcome), _) => {
            let word = match outcome {
                psync_model::Outcome::Created { .. } => "created",
                psync_model::Outcome::Adopted { .. } => "adopted",
                psync_model::Outcome::Applied => "applied",
                psync_model::Outcome::Unchanged => "unchanged",
            };
            format!("→ {}", badge(word))
        }
        (None, Some((kind, message))) => format!(
            r#"→ {} <span class="muted">{}: {}</span>"#,
            badge(if entry.parked { "parked" } else { "failed" }),
            esc(kind),
            esc(message)
        ),
        (None, None) => format!("→ {}", badge("pending")),
    }
}

/// `GET /held`.
pub(crate) async fn held(State(state): State<DashboardState>, headers: HeaderMap) -> Page {
    let session = login_or_return!(state, headers);
    let held = state.engine().store().held_plans().await?;
    let mut body = String::new();
    if held.is_empty() {
        body.push_str(r#"<p class="muted">No plan is waiting for a decision.</p>"#);
    } else {
        body.push_str(
            "<table><tr><th>Run</th><th>Target</th><th>Why</th><th>Plan</th><th>Decision</th></tr>",
        );
        for (run, plan) in &held {
            let _ = write!(
                body,
                r#"<tr><td>{}</td><td>{}</td><td>{}</td><td>{} <a href="/runs/{run}">See the changes</a></td><td>{}</td></tr>"#,
                run_link(*run),
                esc(&plan.target),
                esc(&plan
                    .hold
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default()),
                esc(&psync_planner::summary_line(plan)),
                decision_buttons(&session, *run)
            );
        }
        body.push_str("</table>");
    }
    Ok(page("Held plans", Some(&session.csrf), &body).into_response())
}

/// `POST /held/{run}/approve`.
pub(crate) async fn approve(
    State(state): State<DashboardState>,
    headers: HeaderMap,
    Path(run): Path<i64>,
    Form(form): Form<CsrfForm>,
) -> Page {
    let session = login_or_return!(state, headers);
    check_csrf(&session, &form.csrf)?;
    tracing::info!(run, user = %session.user, "held plan approved in the dashboard");
    let report = on_engine(state.engine().clone(), move |e| {
        Box::pin(async move { e.approve(run, None).await })
    })
    .await??;
    Ok(Redirect::to(&format!("/runs/{}", report.run.unwrap_or(run))).into_response())
}

/// `POST /held/{run}/reject`.
pub(crate) async fn reject(
    State(state): State<DashboardState>,
    headers: HeaderMap,
    Path(run): Path<i64>,
    Form(form): Form<CsrfForm>,
) -> Page {
    let session = login_or_return!(state, headers);
    check_csrf(&session, &form.csrf)?;
    tracing::info!(run, user = %session.user, "held plan rejected in the dashboard");
    on_engine(state.engine().clone(), move |e| {
        Box::pin(async move { e.reject(run).await })
    })
    .await??;
    Ok(Redirect::to(&format!("/runs/{run}")).into_response())
}

/// `GET /people/{id}`.
pub(crate) async fn person(
    State(state): State<DashboardState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Page {
    let session = login_or_return!(state, headers);
    let engine = state.engine();
    let person = EmployeeId::new(id.clone());
    let mut body = String::new();
    let mut known = false;
    for source in engine.sources() {
        let history = engine
            .store()
            .employee_history(&source.name, &person)
            .await?;
        let Some((at, run, employee)) = history.last() else {
            continue;
        };
        known = true;
        let _ = write!(
            body,
            r#"<h2>{} in Personio account {}</h2><p class="muted">As read by run {} at {} ({} version(s) kept).</p><table>"#,
            esc(&employee.display_name()),
            esc(&source.name),
            run_link(*run),
            when(*at),
            history.len()
        );
        if let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(employee) {
            let mut rows: Vec<(String, String)> = Vec::new();
            for (key, value) in fields {
                match (key.as_str(), value) {
                    ("custom", serde_json::Value::Object(custom)) => {
                        for (id, attribute) in custom {
                            let label = attribute["label"].as_str().unwrap_or(&id).to_owned();
                            rows.push((label, json_text(&attribute["value"])));
                        }
                    }
                    (_, value) => rows.push((key.replace('_', " "), json_text(&value))),
                }
            }
            for (label, text) in rows {
                let _ = write!(
                    body,
                    "<tr><th>{}</th><td>{}</td></tr>",
                    esc(&label),
                    esc(&text)
                );
            }
        }
        body.push_str("</table>");
    }
    let mut retry = String::new();
    for t in engine.targets() {
        let _ = write!(
            retry,
            r#"<form method="post" action="/problems/retry" class="inline">{}<input type="hidden" name="person" value="{}"><input type="hidden" name="target" value="{}"><button type="submit">Sync now to {}</button></form> "#,
            csrf_field(&session),
            esc(&id),
            esc(&t.name),
            esc(&t.name)
        );
    }
    for t in engine.targets() {
        let applied = engine.store().applied(&t.name).await?;
        let Some(account) = applied.get(&person) else {
            continue;
        };
        known = true;
        let record = &account.record;
        let _ = write!(
            body,
            r#"<h2>Account in {}</h2><table><tr><th>state</th><td>{}</td></tr><tr><th>id in target</th><td>{}</td></tr>"#,
            esc(&t.name),
            badge(if record.active { "active" } else { "disabled" }),
            esc(account.remote_id.as_deref().unwrap_or("—"))
        );
        for (field, value) in record.attributes.iter() {
            let _ = write!(
                body,
                "<tr><th>{}</th><td>{}</td></tr>",
                esc(field),
                value_html(value)
            );
        }
        let groups: Vec<String> = record.groups.iter().map(|g| esc(&g.to_string())).collect();
        let _ = write!(
            body,
            "<tr><th>groups</th><td>{}</td></tr></table>",
            groups.join("<br>")
        );
    }
    let log = engine.store().person_log(&person, 100).await?;
    known |= !log.is_empty();
    if !known {
        return Err(WebError::NotFound(format!(
            "no person {id} was read or provisioned"
        )));
    }
    let _ = write!(
        body,
        "<h2>Provisioning log</h2><p>{retry}</p><table><tr><th>When</th><th>Run</th><th>Target</th><th>Action</th><th>Result</th><th>Detail</th></tr>"
    );
    for e in &log {
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            when(e.at),
            run_link(e.run),
            esc(&e.target),
            esc(&e.action),
            badge(&e.result),
            esc(e.detail.as_deref().unwrap_or(""))
        );
    }
    if log.is_empty() {
        body.push_str(r#"<tr><td colspan="6" class="muted">Nothing provisioned yet.</td></tr>"#);
    }
    body.push_str("</table>");
    Ok(page(&format!("Person {id}"), Some(&session.csrf), &body).into_response())
}

/// A Personio value for reading: org units as their path, lists joined, typed values bare.
fn json_text(value: &serde_json::Value) -> String {
    use serde_json::Value as J;
    match value {
        J::Null => String::new(),
        J::String(s) => s.clone(),
        J::Array(items) => items.iter().map(json_text).collect::<Vec<_>>().join(", "),
        J::Object(map) => {
            if let Some(J::String(name)) = map.get("name") {
                let mut path: Vec<String> = match map.get("parents") {
                    Some(J::Array(parents)) => parents.iter().map(json_text).collect(),
                    _ => Vec::new(),
                };
                path.push(name.clone());
                let share = map
                    .get("percentage")
                    .and_then(J::as_f64)
                    .map(|p| format!(" ({p}%)"))
                    .unwrap_or_default();
                format!("{}{share}", path.join(" / "))
            } else if let Some(inner) = map.get("value") {
                json_text(inner)
            } else {
                map.iter()
                    .map(|(k, v)| format!("{k}: {}", json_text(v)))
                    .collect::<Vec<_>>()
                    .join("; ")
            }
        }
        other => other.to_string(),
    }
}

/// `GET /problems`.
pub(crate) async fn problems(State(state): State<DashboardState>, headers: HeaderMap) -> Page {
    let session = login_or_return!(state, headers);
    let failed = state.engine().store().parked_operations(None).await?;
    let mut body = String::from(
        r#"<p class="muted">Operations that failed or were parked and have not gone through since. A parked operation is planned again by the next sync; "Retry" syncs just that person now.</p>
<table><tr><th>When</th><th>Run</th><th>Target</th><th>Person</th><th>Operation</th><th>Problem</th><th></th></tr>"#,
    );
    for e in &failed {
        let (kind, message) = e.failure.clone().unwrap_or_default();
        let _ = write!(
            body,
            r#"<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} {}: {}</td><td><form method="post" action="/problems/retry" class="inline">{}<input type="hidden" name="person" value="{}"><input type="hidden" name="target" value="{}"><button type="submit">Retry</button></form></td></tr>"#,
            when(e.resolved_at.unwrap_or(e.intent_at)),
            run_link(e.run),
            esc(&e.target),
            person_link(&e.person),
            badge(e.operation.kind().as_str()),
            badge(if e.parked { "parked" } else { "failed" }),
            esc(&kind),
            esc(&message),
            csrf_field(&session),
            esc(e.person.as_str()),
            esc(&e.target)
        );
    }
    if failed.is_empty() {
        body.push_str(r#"<tr><td colspan="7" class="muted">No open problems.</td></tr>"#);
    }
    body.push_str("</table>");
    Ok(page("Problems", Some(&session.csrf), &body).into_response())
}

/// The retry form.
#[derive(Deserialize)]
pub(crate) struct RetryForm {
    #[serde(default)]
    csrf: String,
    person: String,
    target: String,
}

/// The form of `POST /sync`.
#[derive(Debug, Deserialize)]
pub(crate) struct SyncForm {
    #[serde(default)]
    csrf: String,
    target: String,
}

/// `POST /sync`: a full sync of one target now (its guards apply: a dangerous plan is held).
pub(crate) async fn sync_now(
    State(state): State<DashboardState>,
    headers: HeaderMap,
    Form(form): Form<SyncForm>,
) -> Page {
    let session = login_or_return!(state, headers);
    check_csrf(&session, &form.csrf)?;
    tracing::info!(target = %form.target, user = %session.user, "full sync from the dashboard");
    let options = SyncOptions {
        target: Some(form.target),
        trigger: "dashboard".into(),
        ..SyncOptions::default()
    };
    let outcome = on_engine(state.engine().clone(), move |e| {
        Box::pin(async move { e.sync(&options, None).await })
    })
    .await??;
    let to = outcome
        .targets
        .first()
        .and_then(|t| t.run)
        .map(|run| format!("/runs/{run}"))
        .unwrap_or_else(|| "/".into());
    Ok(Redirect::to(&to).into_response())
}

/// `POST /problems/retry`: a one-person sync (never deprovisions) of one target.
pub(crate) async fn retry(
    State(state): State<DashboardState>,
    headers: HeaderMap,
    Form(form): Form<RetryForm>,
) -> Page {
    let session = login_or_return!(state, headers);
    check_csrf(&session, &form.csrf)?;
    tracing::info!(target = %form.target, user = %session.user, "one-person sync from the dashboard");
    let options = SyncOptions {
        target: Some(form.target),
        employee: Some(EmployeeId::new(form.person)),
        trigger: "dashboard".into(),
        ..SyncOptions::default()
    };
    let outcome = on_engine(state.engine().clone(), move |e| {
        Box::pin(async move { e.sync(&options, None).await })
    })
    .await??;
    let to = outcome
        .targets
        .first()
        .and_then(|t| t.run)
        .map(|run| format!("/runs/{run}"))
        .unwrap_or_else(|| "/problems".into());
    Ok(Redirect::to(&to).into_response())
}
