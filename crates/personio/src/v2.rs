//! v2 reads: cursor-paged `/v2/persons`, one `/employments` call per person (bounded
//! concurrency, own bucket), org units with parent chains (one call per unique unit), and the
//! workplace, legal-entity and cost-center lists (once per read).

use crate::diagnostics::SkippedRecord;
use crate::error::PersonioError;
use crate::http::Http;
use crate::limits::Bucket;
use crate::normalize_v2::{self, Lookups};
use crate::{ReadOptions, ReadProgress, convert};
use futures::StreamExt;
use psync_model::{Employee, EmployeeId};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The result of a v2 read.
pub(crate) struct V2Read {
    pub(crate) employees: Vec<Employee>,
    pub(crate) skipped: Vec<SkippedRecord>,
    pub(crate) complete: bool,
    pub(crate) warnings: Vec<String>,
}

/// The items of a list response (`_data`, or `data` on some endpoints).
fn items(body: &Value) -> Option<&Vec<Value>> {
    body.get("_data")
        .or_else(|| body.get("data"))
        .and_then(Value::as_array)
}

/// The cursor of the `next` link (absolute or relative; the path itself is not trusted).
fn next_cursor(body: &Value) -> Option<String> {
    let meta = body.get("_meta").or_else(|| body.get("meta"))?;
    let href = meta.pointer("/links/next/href")?.as_str()?;
    let query = href.split_once('?')?.1;
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key == "cursor" && !value.is_empty()).then(|| percent_decode(value))
    })
}

/// Minimal percent-decoding for cursor values.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (
                bytes.get(i + 1).and_then(|b| hex(*b)),
                bytes.get(i + 2).and_then(|b| hex(*b)),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Every item of a cursor-paged list. Stops at a missing `next`, an empty page or a repeated
/// cursor; `count_pages` adds the pages to the stats.
async fn list_all(
    http: &Http,
    bucket: Bucket,
    path: &str,
    limit: u32,
    count_pages: bool,
    mut on_page: impl FnMut(usize),
) -> Result<(Vec<Value>, Vec<String>), PersonioError> {
    let mut all = Vec::new();
    let mut warnings = Vec::new();
    let mut cursor: Option<String> = None;
    let mut seen_cursors = BTreeSet::new();
    loop {
        let mut query = vec![("limit", limit.to_string())];
        if let Some(c) = &cursor {
            query.push(("cursor", c.clone()));
        }
        let body = http.get(bucket, path, &query).await?;
        if count_pages {
            http.counters.add_page();
        }
        let Some(page) = items(&body) else {
            return Err(PersonioError::InvalidResponse {
                account: http.account.clone(),
                url: http.url(path),
                status: 200,
                problem: format!("a list without `_data` ({})", convert::short(&body)),
            });
        };
        all.extend(page.iter().cloned());
        on_page(all.len());
        let Some(next) = next_cursor(&body) else {
            break;
        };
        if page.is_empty() {
            break;
        }
        if !seen_cursors.insert(next.clone()) {
            warnings.push(format!("{path}: the next cursor repeated; stopped paging"));
            break;
        }
        cursor = Some(next);
    }
    Ok((all, warnings))
}

/// The most recent employment of a person (`Ok(None)` when there is none or the person vanished).
async fn employment(http: &Http, id: &str) -> Result<Option<Value>, PersonioError> {
    let path = format!("/v2/persons/{id}/employments");
    let query = [("limit", http.limits.v2_page_size.to_string())];
    match http.get(Bucket::V2Employments, &path, &query).await {
        Ok(body) => Ok(items(&body).and_then(|list| list.first()).cloned()),
        Err(PersonioError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// An org unit's `(type, id)` and its response (`None`: 404).
type UnitReply = ((String, String), Option<Value>);

/// `GET /v2/org-units/{id}` with its parent chain; `None` when Personio says 404.
async fn fetch_unit(http: &Http, (kind, id): (String, String)) -> Result<UnitReply, PersonioError> {
    let path = format!("/v2/org-units/{id}");
    let query = [
        ("type", kind.clone()),
        ("include_parent_chain", "true".to_string()),
    ];
    match http.get(Bucket::V2Other, &path, &query).await {
        Ok(body) => Ok(((kind, id), Some(body))),
        Err(PersonioError::NotFound { .. }) => Ok(((kind, id), None)),
        Err(e) => Err(e),
    }
}

/// The list look-ups by the employment key that refers to them.
const LISTS: [(&str, &str); 3] = [
    ("office", "/v2/workplaces"),
    ("legal_entity", "/v2/legal-entities"),
    ("cost_centers", "/v2/cost-centers"),
];

/// One list look-up: names by id with paging notes, or why the list is unavailable.
type ListReply = Result<(HashMap<String, String>, Vec<String>), PersonioError>;

async fn fetch_list(http: &Http, path: &str) -> ListReply {
    let limit = http.limits.v2_list_page_size;
    list_all(http, Bucket::V2Other, path, limit, false, |_| {})
        .await
        .map(|(items, notes)| (normalize_v2::names(&items), notes))
}

/// Puts fetched units and lists into `Lookups`; only lists some employment refers to count.
fn assemble(
    units: Vec<UnitReply>,
    lists: Vec<(&'static str, &'static str, ListReply)>,
    employments: &[&Value],
    warnings: &mut Vec<String>,
) -> Result<Lookups, PersonioError> {
    let mut lookups = Lookups::default();
    for ((kind, id), body) in units {
        match body {
            Some(body) => {
                let unit = normalize_v2::org_unit(&body, &id);
                lookups.units.insert((kind, id), unit);
            }
            None => warnings.push(format!("org unit {kind} {id} not found; kept its id only")),
        }
    }
    let wants = |key: &str| {
        employments
            .iter()
            .any(|e| e.get(key).is_some_and(|v| !v.is_null()))
    };
    for (key, path, reply) in lists {
        if !(wants(key) || (key == "legal_entity" && wants("sub_company"))) {
            continue;
        }
        let names = match reply {
            Ok((names, notes)) => {
                warnings.extend(notes);
                names
            }
            // A plan without the feature (412), or a credential without the scope: ids only.
            Err(
                e @ (PersonioError::NotFound { .. }
                | PersonioError::Forbidden { .. }
                | PersonioError::Rejected { .. }),
            ) => {
                warnings.push(format!("{path} unavailable, names left empty: {e}"));
                HashMap::new()
            }
            Err(e) => return Err(e),
        };
        match key {
            "office" => lookups.workplaces = names,
            "legal_entity" => lookups.legal_entities = names,
            _ => lookups.cost_centers = names,
        }
    }
    Ok(lookups)
}

/// Fetches the org units, workplaces, legal entities and cost centers the employments refer to
/// (one person: no pipelining needed).
async fn lookups(
    http: &Http,
    employments: &[&Value],
    warnings: &mut Vec<String>,
) -> Result<Lookups, PersonioError> {
    let refs: BTreeSet<(String, String)> = employments
        .iter()
        .flat_map(|e| normalize_v2::unit_refs(e))
        .collect();
    let mut units = Vec::new();
    for r in refs {
        units.push(fetch_unit(http, r).await?);
    }
    let mut lists = Vec::new();
    for (key, path) in LISTS {
        let wanted = employments.iter().any(|e| {
            e.get(key).is_some_and(|v| !v.is_null())
                || (key == "legal_entity" && e.get("sub_company").is_some_and(|v| !v.is_null()))
        });
        if wanted {
            lists.push((key, path, fetch_list(http, path).await));
        }
    }
    assemble(units, lists, employments, warnings)
}

/// Reads every person with their most recent employment.
///
/// Everything that does not wait on something else runs at once, each paced by its own bucket:
/// the workplace/legal-entity/cost-center lists from the start, the employments as soon as the
/// persons are known, and each org unit as soon as the first employment names it.
pub(crate) async fn read_all(http: &Http, opts: &ReadOptions) -> Result<V2Read, PersonioError> {
    let lists = futures::future::join_all(
        LISTS.map(|(key, path)| async move { (key, path, fetch_list(http, path).await) }),
    );
    let people = read_people(http, opts);
    let (lists, people) = futures::future::join(lists, people).await;
    let People {
        persons,
        valid,
        mut skipped,
        mut warnings,
        employments,
        units,
    } = people?;
    let refs: Vec<&Value> = employments.values().flatten().collect();
    let lookups = assemble(units, lists, &refs, &mut warnings)?;
    let mut employees = Vec::with_capacity(valid.len());
    for (id, index) in &valid {
        let Some(person) = persons.get(*index) else {
            continue;
        };
        let employment = employments.get(id).and_then(Option::as_ref);
        match normalize_v2::employee(person, employment, &lookups) {
            Ok(e) => employees.push(e),
            Err(s) => {
                tracing::warn!(account = %http.account, id = ?s.id, reason = %s.reason, "Skipped a malformed person.");
                skipped.insert(s.id.clone().unwrap_or_default(), s);
            }
        }
    }
    Ok(V2Read {
        employees,
        skipped: skipped.into_values().collect(),
        complete: true,
        warnings,
    })
}

/// Persons, their employments and the org units those name.
struct People {
    persons: Vec<Value>,
    /// (id, index into `persons`) of every person with a valid, first-seen id.
    valid: Vec<(String, usize)>,
    skipped: BTreeMap<String, SkippedRecord>,
    warnings: Vec<String>,
    employments: HashMap<String, Option<Value>>,
    units: Vec<UnitReply>,
}

async fn read_people(http: &Http, opts: &ReadOptions) -> Result<People, PersonioError> {
    let (persons, mut warnings) = list_all(
        http,
        Bucket::V2Persons,
        "/v2/persons",
        http.limits.v2_page_size,
        true,
        |fetched| report(opts, fetched, None),
    )
    .await?;
    // De-duplicate by id; keep the first occurrence.
    let mut skipped: BTreeMap<String, SkippedRecord> = BTreeMap::new();
    let mut valid: Vec<(String, usize)> = Vec::new();
    let mut seen = BTreeSet::new();
    let mut duplicates = 0usize;
    for (index, person) in persons.iter().enumerate() {
        match person.get("id").map(convert::person_id) {
            Some(Ok(id)) => {
                if seen.insert(id.clone()) {
                    valid.push((id, index));
                } else {
                    duplicates += 1;
                }
            }
            other => {
                let reason = match other {
                    Some(Err(reason)) => reason,
                    _ => "the person has no id".to_string(),
                };
                let id = person.get("id").map(|v| match v {
                    Value::String(s) => s.clone(),
                    other => convert::short(other),
                });
                tracing::warn!(account = %http.account, ?id, %reason, "Skipped a malformed person.");
                skipped.insert(id.clone().unwrap_or_default(), SkippedRecord { id, reason });
            }
        }
    }
    if duplicates > 0 {
        warnings.push(format!(
            "{duplicates} person(s) came twice while paging (removed)"
        ));
    }
    let total = valid.len();
    let mut done = 0usize;
    let mut employments: HashMap<String, Option<Value>> = HashMap::with_capacity(total);
    let mut requested: BTreeSet<(String, String)> = BTreeSet::new();
    let mut unit_requests = futures::stream::FuturesUnordered::new();
    let mut units = Vec::new();
    {
        let mut stream = futures::stream::iter(
            valid
                .iter()
                .map(|(id, _)| async move { (id.clone(), employment(http, id).await) }),
        )
        .buffer_unordered(http.limits.v2_concurrency);
        loop {
            tokio::select! {
                next = stream.next() => {
                    let Some((id, result)) = next else { break };
                    let employment = result?;
                    if let Some(e) = &employment {
                        for unit in normalize_v2::unit_refs(e) {
                            if requested.insert(unit.clone()) {
                                unit_requests.push(fetch_unit(http, unit));
                            }
                        }
                    }
                    employments.insert(id, employment);
                    done += 1;
                    if done.is_multiple_of(50) || done == total {
                        report(opts, done, Some(total));
                    }
                }
                Some(unit) = unit_requests.next(), if !unit_requests.is_empty() => units.push(unit?),
            }
        }
    }
    while let Some(unit) = unit_requests.next().await {
        units.push(unit?);
    }
    Ok(People {
        persons,
        valid,
        skipped,
        warnings,
        employments,
        units,
    })
}

fn report(opts: &ReadOptions, fetched: usize, total: Option<usize>) {
    if let Some(progress) = &opts.progress {
        progress(ReadProgress { fetched, total });
    }
}

/// One person with their employment; `None` when Personio says 404.
pub(crate) async fn read_one(
    http: &Http,
    id: &EmployeeId,
) -> Result<Result<Option<Employee>, SkippedRecord>, PersonioError> {
    let path = format!("/v2/persons/{}", id.as_str());
    let person = match http.get(Bucket::V2Persons, &path, &[]).await {
        Ok(body) => match body.get("_data") {
            Some(data @ Value::Object(_)) => data.clone(),
            _ => body,
        },
        Err(PersonioError::NotFound { .. }) => return Ok(Ok(None)),
        Err(e) => return Err(e),
    };
    let employment = employment(http, id.as_str()).await?;
    let mut warnings = Vec::new();
    let refs: Vec<&Value> = employment.iter().collect();
    let lookups = lookups(http, &refs, &mut warnings).await?;
    Ok(normalize_v2::employee(&person, employment.as_ref(), &lookups).map(Some))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn next_cursor_comes_from_absolute_or_relative_links() {
        let abs = json!({"_meta": {"links": {"next": {"href": "https://api.example.test/v2/employments?limit=50&cursor=cur_a%2Bb"}}}});
        assert_eq!(next_cursor(&abs).as_deref(), Some("cur_a+b"));
        let rel = json!({"_meta": {"links": {"next": {"href": "/v2/persons?cursor=cur_9"}}}});
        assert_eq!(next_cursor(&rel).as_deref(), Some("cur_9"));
        let last = json!({"_meta": {"links": {"self": {"href": "/v2/persons"}}}});
        assert_eq!(next_cursor(&last), None);
    }
}

// ---- Webhook subscriptions (`/v2/webhooks`) ----------------------------------------------

/// A v2 webhook subscription as Personio reports it (the token is never read back).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WebhookSubscription {
    /// Personio's id of the subscription.
    pub id: String,
    /// The URL deliveries go to.
    pub url: String,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// `ENABLED` or `DISABLED`.
    #[serde(default)]
    pub status: String,
    /// `NONE`, `TOKEN` or `CUSTOM`.
    #[serde(default)]
    pub auth_type: String,
    /// The events sent.
    #[serde(default)]
    pub enabled_events: Vec<String>,
}

/// Manages the webhook subscriptions of one account through the v2 API. Writes are not
/// retried (a repeated create would make a second subscription).
pub struct WebhookAdmin {
    client: reqwest::Client,
    account: String,
    base: String,
    client_id: String,
    client_secret: secrecy::SecretString,
    app_id: String,
}

impl std::fmt::Debug for WebhookAdmin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookAdmin")
            .field("account", &self.account)
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl crate::PersonioClient {
    /// A manager of the account's v2 webhook subscriptions (needs the
    /// `personio:webhooks:read`/`write` scopes; works whatever `api` the account reads with).
    pub fn webhook_admin(config: &crate::AccountConfig) -> Result<WebhookAdmin, PersonioError> {
        let client = reqwest::Client::builder()
            .timeout(config.limits.request_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("personio-sync/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| PersonioError::Config {
                account: config.name.clone(),
                message: format!("cannot build the HTTP client: {e}"),
            })?;
        Ok(WebhookAdmin {
            client,
            account: config.name.clone(),
            base: config.base_url.trim().trim_end_matches('/').to_string(),
            client_id: config.client_id.clone(),
            client_secret: config.client_secret.clone(),
            app_id: config
                .app_id
                .clone()
                .filter(|a| !a.trim().is_empty())
                .unwrap_or_else(|| crate::DEFAULT_APP_ID.to_string()),
        })
    }
}

impl WebhookAdmin {
    fn unreachable(&self, url: &str, e: reqwest::Error) -> PersonioError {
        PersonioError::Unreachable {
            account: self.account.clone(),
            url: url.to_string(),
            reason: e.without_url().to_string(),
        }
    }

    async fn token(&self) -> Result<String, PersonioError> {
        use secrecy::ExposeSecret;
        let url = format!("{}/v2/auth/token", self.base);
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", self.client_id.as_str()),
            ("client_secret", self.client_secret.expose_secret()),
        ];
        let response = self
            .client
            .post(&url)
            .header("X-Personio-App-ID", &self.app_id)
            .form(&form)
            .send()
            .await
            .map_err(|e| self.unreachable(&url, e))?;
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if status == 401 || status == 400 || status == 403 {
            return Err(PersonioError::Auth {
                account: self.account.clone(),
                status,
                message: body
                    .get("error_description")
                    .or_else(|| body.get("error"))
                    .and_then(Value::as_str)
                    .unwrap_or("rejected")
                    .to_string(),
            });
        }
        crate::http::token_from(crate::ApiVersion::V2, &body)
            .map(|(t, _)| t.to_string())
            .ok_or_else(|| PersonioError::InvalidResponse {
                account: self.account.clone(),
                url,
                status,
                problem: "a token response without a token".into(),
            })
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, PersonioError> {
        let token = self.token().await?;
        let url = format!("{}{path}", self.base);
        let mut request = self
            .client
            .request(method, &url)
            .bearer_auth(token)
            .header("accept", "application/json")
            .header("X-Personio-App-ID", &self.app_id);
        if let Some(b) = body {
            request = request.json(&b);
        }
        let response = request
            .send()
            .await
            .map_err(|e| self.unreachable(&url, e))?;
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        let json: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let detail = || {
            json.get("detail")
                .or_else(|| json.get("title"))
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| text.chars().take(200).collect())
        };
        match status {
            200..=299 => Ok(json),
            401 => Err(PersonioError::Auth {
                account: self.account.clone(),
                status,
                message: detail(),
            }),
            403 => Err(PersonioError::Forbidden {
                account: self.account.clone(),
                url,
                status,
                message: format!(
                    "{} (the credential needs the personio:webhooks:read/write scopes)",
                    detail()
                ),
            }),
            _ => Err(PersonioError::InvalidResponse {
                account: self.account.clone(),
                url,
                status,
                problem: detail(),
            }),
        }
    }

    /// Every subscription of the account.
    pub async fn list(&self) -> Result<Vec<WebhookSubscription>, PersonioError> {
        let mut out = Vec::new();
        let mut path = "/v2/webhooks?limit=200".to_string();
        for _ in 0..100 {
            let body = self.call(reqwest::Method::GET, &path, None).await?;
            for item in items(&body).into_iter().flatten() {
                if let Ok(w) = serde_json::from_value::<WebhookSubscription>(item.clone()) {
                    out.push(w);
                }
            }
            match next_cursor(&body) {
                Some(cursor) => path = format!("/v2/webhooks?limit=200&cursor={cursor}"),
                None => break,
            }
        }
        Ok(out)
    }

    /// Creates an ENABLED subscription sending `events` to `url` with `Authorization: token`.
    pub async fn create(
        &self,
        url: &str,
        token: &str,
        events: &[&str],
        description: &str,
    ) -> Result<WebhookSubscription, PersonioError> {
        let body = serde_json::json!({
            "url": url,
            "description": description,
            "status": "ENABLED",
            "auth_type": "TOKEN",
            "token": token,
            "enabled_events": events,
        });
        let created = self
            .call(reqwest::Method::POST, "/v2/webhooks", Some(body))
            .await?;
        serde_json::from_value(created).map_err(|e| PersonioError::InvalidResponse {
            account: self.account.clone(),
            url: format!("{}/v2/webhooks", self.base),
            status: 201,
            problem: format!("an unexpected subscription: {e}"),
        })
    }

    /// Deletes a subscription.
    pub async fn delete(&self, id: &str) -> Result<(), PersonioError> {
        self.call(reqwest::Method::DELETE, &format!("/v2/webhooks/{id}"), None)
            .await
            .map(|_| ())
    }
}
