//! The SCIM 2.0 target: users (core + enterprise extension) anchored on `externalId` = the
//! Personio id, managers by their SCIM id, groups with member PATCHes, discovery deciding
//! PATCH vs PUT, ETags and Bulk (joiners in chunks of `bulk_size`: checked against the run's
//! listing of all accounts, one Bulk request, one membership PATCH per group), and every
//! operation converging to the full record (idempotent).
//!
//! Record attributes read (the default mapping's names): `user_name` (else `email`) →
//! `userName`, `first_name`/`last_name` → `name`, `display_name`, `email` → the primary work
//! e-mail, `title`, `phone` → work phone, `avatar_url` → photo, `employee_number` (else
//! `external_id`), `cost_center`, `organization`, `division`, `department` → the enterprise
//! extension. With `record_attribute` (a string attribute such as `nickName`) a JSON copy of
//! the applied record is kept there, so read-back is exact (the conformance suite uses it).

use crate::http::{Answer, AuthConfig, AuthKind, Client};
use psync_model::{EmployeeId, GroupPath, MatchBy, Operation, Outcome, TargetRecord, Value};
use psync_targets::testkit::Inspect;
use psync_targets::{ConfigProblem, RunInfo, Target, TargetError};
use reqwest::Method;
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::{Map, Value as Json, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;
use tokio::sync::{Mutex, OnceCell};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const BULK_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";

/// The keys of [`ScimConfig`], for the configuration checker.
pub const SCIM_KEYS: &[&str] = &[
    "url",
    "auth",
    "token",
    "username",
    "password",
    "token_url",
    "client_id",
    "client_secret",
    "scope",
    "timeout_seconds",
    "rate_limit",
    "bulk_size",
    "record_attribute",
    "groups",
];

/// `[[target]]` keys of `type = "scim"` (boxed: keeps the connector enum small).
#[derive(Debug, Clone, Deserialize)]
#[serde(transparent)]
pub struct ScimConfig(Box<ScimSettings>);

/// The settings behind [`ScimConfig`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScimSettings {
    /// Base URL of the SCIM service provider (`…/scim/v2`).
    pub url: String,
    /// `bearer` (default), `basic` or `oauth2`.
    #[serde(default)]
    pub auth: AuthKind,
    /// Bearer token (`${ENV}` reads it from the environment).
    pub token: Option<SecretString>,
    /// Basic user name.
    pub username: Option<String>,
    /// Basic password.
    pub password: Option<SecretString>,
    /// OAuth2 token endpoint.
    pub token_url: Option<String>,
    /// OAuth2 client id.
    pub client_id: Option<String>,
    /// OAuth2 client secret.
    pub client_secret: Option<SecretString>,
    /// OAuth2 scope.
    pub scope: Option<String>,
    /// Limit per request, connect included (default 30).
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
    /// At most this many requests per second (default: no limit; concurrency still bounds).
    pub rate_limit: Option<f64>,
    /// New accounts per Bulk request when the server supports Bulk (default 100; 1: no Bulk).
    #[serde(default = "default_bulk")]
    pub bulk_size: usize,
    /// A string attribute (e.g. `nickName`) that keeps a JSON copy of the applied record.
    pub record_attribute: Option<String>,
    /// Whether group memberships are written (default true).
    #[serde(default = "yes")]
    pub groups: bool,
}

fn default_timeout() -> u64 {
    30
}

fn default_bulk() -> usize {
    100
}

fn yes() -> bool {
    true
}

impl ScimConfig {
    /// Settings for `url` with a bearer token (tests, examples).
    pub fn bearer(url: &str, token: &str) -> Self {
        ScimConfig(Box::new(ScimSettings {
            url: url.into(),
            auth: AuthKind::Bearer,
            token: Some(SecretString::from(token.to_string())),
            username: None,
            password: None,
            token_url: None,
            client_id: None,
            client_secret: None,
            scope: None,
            timeout_seconds: default_timeout(),
            rate_limit: None,
            bulk_size: default_bulk(),
            record_attribute: None,
            groups: true,
        }))
    }

    /// The settings, for changing them.
    pub fn settings_mut(&mut self) -> &mut ScimSettings {
        &mut self.0
    }

    /// The authentication settings as written (secrets not resolved yet).
    fn declared_auth(&self) -> AuthConfig {
        let s = &self.0;
        AuthConfig {
            auth: s.auth,
            token: s.token.clone(),
            username: s.username.clone(),
            password: s.password.clone(),
            token_url: s.token_url.clone(),
            client_id: s.client_id.clone(),
            client_secret: s.client_secret.clone(),
            scope: s.scope.clone(),
            ..AuthConfig::default()
        }
    }

    /// Every problem at once (pure; `${ENV}` references are resolved when the target is built).
    pub fn validate(&self) -> Vec<ConfigProblem> {
        let s = &self.0;
        let mut problems = Vec::new();
        if !(s.url.starts_with("http://") || s.url.starts_with("https://")) {
            problems.push(ConfigProblem {
                path: "url".into(),
                message: format!("'{}' is not an http(s) URL", s.url),
            });
        }
        if s.timeout_seconds == 0 {
            problems.push(ConfigProblem {
                path: "timeout_seconds".into(),
                message: "must be at least 1".into(),
            });
        }
        problems.extend(crate::http::check_rate_limit(s.rate_limit));
        if !(1..=1000).contains(&s.bulk_size) {
            problems.push(ConfigProblem {
                path: "bulk_size".into(),
                message: format!(
                    "{} accounts per Bulk request: give 1 (no Bulk) to 1000",
                    s.bulk_size
                ),
            });
        }
        problems.extend(self.declared_auth().validate());
        problems
    }
}

/// Which group memberships an operation writes.
#[derive(Debug, Clone, Copy)]
enum Memberships<'a> {
    /// Exactly the record's groups: every group is checked (adoption, repair).
    Full,
    /// The plan's changes only (an update).
    Delta {
        added: &'a [GroupPath],
        removed: &'a [GroupPath],
    },
    /// None (enable, disable: memberships stay as they are).
    Keep,
}

/// What `/ServiceProviderConfig` said.
#[derive(Debug, Clone, Copy, Default)]
struct Features {
    patch: bool,
    etag: bool,
    filter: bool,
    bulk: bool,
    /// Bulk `maxOperations` (0: not given).
    bulk_operations: usize,
    /// Bulk `maxPayloadSize` in bytes (0: not given).
    bulk_payload: usize,
}

/// A SCIM 2.0 service provider.
#[derive(Debug)]
pub struct ScimTarget {
    name: String,
    base: String,
    config: ScimSettings,
    client: Client,
    features: OnceCell<Features>,
    /// Group display name → SCIM id.
    groups: Mutex<HashMap<String, String>>,
    /// Serialises group creation, so two people joining a new group create it once.
    group_creation: Mutex<()>,
    /// Personio id → SCIM id of the accounts seen in this process (manager references).
    ids: Mutex<HashMap<String, String>>,
    /// `externalId` → SCIM id of every account, read once per run when joiners come in Bulk
    /// (one paged listing instead of a filtered lookup per chunk); `None` until then.
    accounts: Mutex<Option<HashMap<String, String>>>,
}

impl ScimTarget {
    /// Builds the target (no I/O).
    pub fn new(name: &str, config: ScimConfig) -> Result<Self, Vec<ConfigProblem>> {
        let mut problems = config.validate();
        let auth = match config.declared_auth().expanded() {
            Ok(auth) => Some(auth),
            Err(found) => {
                problems.extend(found);
                None
            }
        };
        let settings = *config.0;
        let timeout = Duration::from_secs(settings.timeout_seconds.max(1));
        let rate_limit = settings.rate_limit;
        let client = auth.map(|auth| {
            Client::new(&format!("SCIM target '{name}'"), auth, timeout)
                .map(|c| c.with_rate_limit(rate_limit))
        });
        let client = match client {
            Some(Ok(c)) if problems.is_empty() => c,
            Some(Err(message)) => {
                problems.push(ConfigProblem {
                    path: "url".into(),
                    message,
                });
                return Err(problems);
            }
            _ => return Err(problems),
        };
        Ok(ScimTarget {
            name: name.into(),
            base: settings.url.trim_end_matches('/').to_string(),
            config: settings,
            client,
            features: OnceCell::new(),
            groups: Mutex::new(HashMap::new()),
            group_creation: Mutex::new(()),
            ids: Mutex::new(HashMap::new()),
            accounts: Mutex::new(None),
        })
    }

    async fn features(&self) -> Result<Features, TargetError> {
        self.features
            .get_or_try_init(|| async {
                let url = format!("{}/ServiceProviderConfig", self.base);
                let a = self
                    .client
                    .send(Method::GET, &url, None, None, "discovery")
                    .await?;
                if a.status != 200 {
                    return Err(TargetError::fatal(format!(
                        "SCIM target '{}': GET {url} answered {}; check `url` (it should end at the SCIM base, e.g. …/scim/v2)",
                        self.name, a.status
                    )));
                }
                let on = |k: &str| a.body.pointer(&format!("/{k}/supported")).and_then(Json::as_bool) == Some(true);
                Ok(Features {
                    patch: on("patch"),
                    etag: on("etag"),
                    filter: on("filter"),
                    bulk: on("bulk"),
                    bulk_operations: a
                        .body
                        .pointer("/bulk/maxOperations")
                        .and_then(Json::as_u64)
                        .map_or(0, |n| n as usize),
                    bulk_payload: a
                        .body
                        .pointer("/bulk/maxPayloadSize")
                        .and_then(Json::as_u64)
                        .map_or(0, |n| n as usize),
                })
            })
            .await
            .copied()
    }

    /// The users whose `attribute` equals `value`.
    async fn find(&self, attribute: &str, value: &str) -> Result<Vec<Json>, TargetError> {
        let filter = format!(
            "{attribute} eq \"{}\"",
            value.replace('\\', "\\\\").replace('"', "\\\"")
        );
        let url = format!("{}/Users?filter={}", self.base, form_encode(&filter));
        let a = self
            .client
            .send(
                Method::GET,
                &url,
                None,
                None,
                &format!("looking up {attribute}"),
            )
            .await?;
        if a.status != 200 {
            return Err(self.client.refusal(&format!("looking up {attribute}"), &a));
        }
        // Do not trust the filter: some servers ignore it.
        let found = a
            .body
            .get("Resources")
            .and_then(Json::as_array)
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|u| {
                let got = u.get(attribute).and_then(Json::as_str);
                if attribute == "userName" {
                    got.is_some_and(|g| g.eq_ignore_ascii_case(value))
                } else {
                    got == Some(value)
                }
            })
            .collect();
        Ok(found)
    }

    async fn get_user(&self, id: &str) -> Result<Option<(Json, Option<String>)>, TargetError> {
        let url = format!("{}/Users/{id}", self.base);
        let a = self
            .client
            .send(Method::GET, &url, None, None, "reading a user")
            .await?;
        match a.status {
            200 => {
                let etag = a.etag.or_else(|| {
                    a.body
                        .pointer("/meta/version")
                        .and_then(Json::as_str)
                        .map(str::to_string)
                });
                Ok(Some((a.body, etag)))
            }
            404 => Ok(None),
            _ => Err(self.client.refusal("reading a user", &a)),
        }
    }

    /// The account of `person`: by the remote id we stored, else by `externalId`.
    async fn locate(
        &self,
        person: &EmployeeId,
        remote_id: Option<&str>,
    ) -> Result<Option<(Json, Option<String>)>, TargetError> {
        if let Some(id) = remote_id
            && let Some(found) = self.get_user(id).await?
            && found.0.get("externalId").and_then(Json::as_str) == Some(person.as_str())
        {
            return Ok(Some(found));
        }
        let mut found = self.find("externalId", person.as_str()).await?;
        match found.len() {
            0 => Ok(None),
            1 => {
                let user = found.remove(0);
                let id = user
                    .get("id")
                    .and_then(Json::as_str)
                    .unwrap_or_default()
                    .to_string();
                self.get_user(&id).await
            }
            n => Err(TargetError::conflict(format!(
                "SCIM target '{}': {n} users carry externalId {person}; remove the duplicates in the service provider",
                self.name
            ))),
        }
    }

    /// The SCIM id of the manager (by `externalId`), if they have an account.
    async fn manager_id(
        &self,
        manager: Option<&EmployeeId>,
    ) -> Result<Option<String>, TargetError> {
        let Some(manager) = manager else {
            return Ok(None);
        };
        if let Some(id) = self.ids.lock().await.get(manager.as_str()) {
            return Ok(Some(id.clone()));
        }
        if let Some(accounts) = self.accounts.lock().await.as_ref() {
            // Read this run: a manager missing from it has no account.
            return Ok(accounts.get(manager.as_str()).cloned());
        }
        let found = self.find("externalId", manager.as_str()).await?;
        let id = found
            .first()
            .and_then(|u| u.get("id"))
            .and_then(Json::as_str)
            .map(str::to_string);
        if let Some(id) = &id {
            self.remember(manager, id).await;
        }
        Ok(id)
    }

    async fn remember(&self, person: &EmployeeId, id: &str) {
        self.ids
            .lock()
            .await
            .insert(person.to_string(), id.to_string());
    }

    /// The full desired resource for `record`.
    fn resource(&self, record: &TargetRecord, manager: Option<&str>) -> Json {
        let text = |name: &str| -> Option<String> {
            match record.get(name) {
                Value::Null => None,
                v => Some(v.display()).filter(|s| !s.is_empty()),
            }
        };
        let mut user = Map::new();
        user.insert("schemas".into(), json!([USER, ENTERPRISE]));
        user.insert("externalId".into(), json!(record.person.as_str()));
        let user_name = text("user_name")
            .or_else(|| text("email"))
            .unwrap_or_else(|| record.person.to_string());
        user.insert("userName".into(), json!(user_name));
        let mut name = Map::new();
        if let Some(v) = text("first_name") {
            name.insert("givenName".into(), json!(v));
        }
        if let Some(v) = text("last_name") {
            name.insert("familyName".into(), json!(v));
        }
        if !name.is_empty() {
            user.insert("name".into(), Json::Object(name));
        }
        if let Some(v) = text("display_name") {
            user.insert("displayName".into(), json!(v));
        }
        if let Some(v) = text("title") {
            user.insert("title".into(), json!(v));
        }
        if let Some(v) = text("email") {
            user.insert(
                "emails".into(),
                json!([{"value": v, "type": "work", "primary": true}]),
            );
        }
        if let Some(v) = text("phone") {
            user.insert("phoneNumbers".into(), json!([{"value": v, "type": "work"}]));
        }
        if let Some(v) = text("avatar_url") {
            user.insert("photos".into(), json!([{"value": v, "type": "photo"}]));
        }
        user.insert("active".into(), json!(record.active));
        let mut ext = Map::new();
        let number = text("employee_number")
            .or_else(|| text("external_id"))
            .unwrap_or_else(|| record.person.to_string());
        ext.insert("employeeNumber".into(), json!(number));
        for (attr, scim) in [
            ("cost_center", "costCenter"),
            ("organization", "organization"),
            ("division", "division"),
            ("department", "department"),
        ] {
            if let Some(v) = text(attr) {
                ext.insert(scim.into(), json!(v));
            }
        }
        if let Some(id) = manager {
            ext.insert("manager".into(), json!({"value": id}));
        }
        user.insert(ENTERPRISE.into(), Json::Object(ext));
        if let Some(attr) = &self.config.record_attribute
            && let Ok(copy) = serde_json::to_string(record)
        {
            user.insert(attr.clone(), json!(copy));
        }
        Json::Object(user)
    }

    /// Creates the user, or finds it after a 409 (never a duplicate).
    async fn create(
        &self,
        record: &TargetRecord,
        match_by: MatchBy,
    ) -> Result<Outcome, TargetError> {
        let manager = self.manager_id(record.manager.as_ref()).await?;
        // An account with this person's externalId exists already.
        if let Some((user, etag)) = self.locate(&record.person, None).await? {
            let id = id_of(&user)?;
            let desired = self.resource(record, manager.as_deref());
            let same = contains(&user, &desired) && !has_extra(&user, &desired);
            self.remember(&record.person, &id).await;
            if same {
                // Exactly this record (a rerun): only the memberships may need fixing.
                if self.config.groups {
                    self.sync_groups(&id, &record.groups).await?;
                }
                return Ok(Outcome::Unchanged);
            }
            if match_by == MatchBy::None {
                return Err(TargetError::conflict(format!(
                    "SCIM target '{}': person {} already has an account ({id}) with other data, and match_by = none forbids taking it over",
                    self.name, record.person
                )));
            }
            self.converge(record, &user, etag.as_deref(), Memberships::Full)
                .await?;
            return Ok(Outcome::Adopted {
                remote_id: id,
                matched_by: MatchBy::ExternalId,
            });
        }
        let body = self.resource(record, manager.as_deref());
        let url = format!("{}/Users", self.base);
        let what = format!("creating person {}", record.person);
        let a = self
            .client
            .send(Method::POST, &url, Some(&body), None, &what)
            .await?;
        match a.status {
            200 | 201 => {
                let id = id_of(&a.body)?;
                self.remember(&record.person, &id).await;
                // A new account is in no group yet: add it without looking.
                if self.config.groups {
                    for path in &record.groups {
                        if let Some(group) = self.group_id(path, true).await? {
                            self.add_member(&group, &id, path).await?;
                        }
                    }
                }
                Ok(Outcome::Created { remote_id: id })
            }
            409 => {
                // Someone holds the userName: adopt only as the policy allows.
                let user_name = body
                    .get("userName")
                    .and_then(Json::as_str)
                    .unwrap_or_default();
                let holder = self.find("userName", user_name).await?;
                let Some(user) = holder.first() else {
                    return Err(self.client.refusal(&what, &a));
                };
                let theirs = user.get("externalId").and_then(Json::as_str);
                let adoptable = match match_by {
                    MatchBy::Email => true,
                    MatchBy::ExternalId => theirs == Some(record.person.as_str()),
                    MatchBy::None => false,
                };
                if !adoptable {
                    return Err(TargetError::conflict(format!(
                        "SCIM target '{}': {what}: userName '{user_name}' belongs to an account this engine did not create (externalId {}); \
                         rename one of them or allow adoption with match_by",
                        self.name,
                        theirs.unwrap_or("none")
                    )));
                }
                let id = id_of(user)?;
                let (user, etag) = self.get_user(&id).await?.ok_or_else(|| {
                    TargetError::transient(format!(
                        "SCIM target '{}': {what}: the existing account vanished",
                        self.name
                    ))
                })?;
                self.converge(record, &user, etag.as_deref(), Memberships::Full)
                    .await?;
                Ok(Outcome::Adopted {
                    remote_id: id,
                    matched_by: match_by,
                })
            }
            _ => Err(self.client.refusal(&what, &a)),
        }
    }

    /// Creates several people with one Bulk request: who has an account already comes from the
    /// run's listing of all accounts, the creates go in one request, then one membership PATCH
    /// per group. `None` for a person this
    /// path leaves to [`create`](Self::create) (an account exists already, a 409, a result
    /// the server did not give), which handles them one by one.
    async fn bulk_create(
        &self,
        records: &[&TargetRecord],
        features: Features,
    ) -> Vec<Option<Result<Outcome, TargetError>>> {
        let mut results: Vec<Option<Result<Outcome, TargetError>>> = vec![None; records.len()];
        let everyone = |e: TargetError| records.iter().map(|_| Some(Err(e.clone()))).collect();
        // Who has an account already: the run's listing of all accounts.
        let existing = match self.with_accounts(records).await {
            Ok(existing) => existing,
            Err(e) => return everyone(e),
        };
        let mut operations = Vec::new();
        let mut sent = Vec::new();
        for (i, record) in records.iter().enumerate() {
            if existing.contains(record.person.as_str()) {
                continue;
            }
            let manager = match self.manager_id(record.manager.as_ref()).await {
                Ok(m) => m,
                Err(e) => {
                    results[i] = Some(Err(e));
                    continue;
                }
            };
            operations.push(json!({
                "method": "POST",
                "path": "/Users",
                "bulkId": format!("p{i}"),
                "data": self.resource(record, manager.as_deref()),
            }));
            sent.push(i);
        }
        if operations.is_empty() {
            return results;
        }
        let body = json!({"schemas": [BULK_REQUEST], "Operations": operations});
        if features.bulk_payload > 0 && body.to_string().len() > features.bulk_payload {
            // Too large for one request: one by one.
            return results;
        }
        let what = format!("creating {} people in one Bulk request", sent.len());
        let answer = match self
            .client
            .send(
                Method::POST,
                &format!("{}/Bulk", self.base),
                Some(&body),
                None,
                &what,
            )
            .await
        {
            Ok(a) if a.status == 200 => a,
            Ok(a) if a.status == 413 => return results,
            Ok(a) => {
                let e = self.client.refusal(&what, &a);
                for &i in &sent {
                    results[i] = Some(Err(e.clone()));
                }
                return results;
            }
            Err(e) => {
                for &i in &sent {
                    results[i] = Some(Err(e.clone()));
                }
                return results;
            }
        };
        let answered: HashMap<String, &Json> = answer
            .body
            .get("Operations")
            .and_then(Json::as_array)
            .map(|all| {
                all.iter()
                    .filter_map(|o| Some((o.get("bulkId")?.as_str()?.to_string(), o)))
                    .collect()
            })
            .unwrap_or_default();
        let mut members: BTreeMap<&GroupPath, Vec<(usize, String)>> = BTreeMap::new();
        for &i in &sent {
            let record = records[i];
            let Some(result) = answered.get(&format!("p{i}")) else {
                continue;
            };
            let status = match result.get("status") {
                Some(Json::String(s)) => s.parse::<u16>().unwrap_or(0),
                Some(Json::Number(n)) => n.as_u64().map_or(0, |n| n as u16),
                _ => 0,
            };
            match status {
                200 | 201 => {
                    let id = result
                        .pointer("/response/id")
                        .and_then(Json::as_str)
                        .map(str::to_string)
                        .or_else(|| {
                            result
                                .get("location")
                                .and_then(Json::as_str)
                                .and_then(|l| l.trim_end_matches('/').rsplit('/').next())
                                .map(str::to_string)
                        });
                    let Some(id) = id.filter(|id| !id.is_empty()) else {
                        continue;
                    };
                    self.remember(&record.person, &id).await;
                    if let Some(accounts) = self.accounts.lock().await.as_mut() {
                        accounts.insert(record.person.to_string(), id.clone());
                    }
                    if self.config.groups {
                        for path in &record.groups {
                            members.entry(path).or_default().push((i, id.clone()));
                        }
                    }
                    results[i] = Some(Ok(Outcome::Created { remote_id: id }));
                }
                // A userName taken, or no clear answer: the one-by-one path decides.
                409 | 0 => {}
                _ => {
                    let refusal = Answer {
                        status,
                        etag: None,
                        body: result.get("response").cloned().unwrap_or(Json::Null),
                    };
                    results[i] = Some(Err(self
                        .client
                        .refusal(&format!("creating person {}", record.person), &refusal)));
                }
            }
        }
        // New accounts are in no group yet: one PATCH per group adds all of them.
        for (path, joining) in members {
            let ids: Vec<Json> = joining.iter().map(|(_, id)| json!({"value": id})).collect();
            let what = format!("adding {} members to group '{path}'", ids.len());
            let added = match self.group_id(path, true).await {
                Ok(Some(group)) => {
                    self.patch_group(
                        &group,
                        json!({"op": "add", "path": "members", "value": ids}),
                        &what,
                    )
                    .await
                }
                Ok(None) => Ok(()),
                Err(e) => Err(e),
            };
            if let Err(e) = added {
                // The accounts exist; the next run finds them and fixes the memberships.
                for (i, _) in joining {
                    results[i] = Some(Err(e.clone()));
                }
            }
        }
        results
    }

    /// Brings an existing user to `record`: one PATCH (or PUT) when anything differs, then the
    /// group memberships. `Ok(false)` when nothing had to change.
    async fn converge(
        &self,
        record: &TargetRecord,
        user: &Json,
        etag: Option<&str>,
        memberships: Memberships<'_>,
    ) -> Result<bool, TargetError> {
        let id = id_of(user)?;
        let manager = self.manager_id(record.manager.as_ref()).await?;
        let desired = self.resource(record, manager.as_deref());
        let features = self.features().await?;
        let what = format!("updating person {}", record.person);
        let if_match = if features.etag { etag } else { None };
        let mut changed = false;
        if !contains(user, &desired) || has_extra(user, &desired) {
            let url = format!("{}/Users/{id}", self.base);
            let a = if features.patch {
                let mut ops = vec![json!({"op": "replace", "value": strip_schemas(&desired)})];
                for key in extras(user, &desired) {
                    ops.push(json!({"op": "remove", "path": key}));
                }
                let body = json!({"schemas": [PATCH_OP], "Operations": ops});
                self.client
                    .send(Method::PATCH, &url, Some(&body), if_match, &what)
                    .await?
            } else {
                let mut full = desired.clone();
                if let Some(obj) = full.as_object_mut() {
                    obj.insert("id".into(), json!(id));
                }
                self.client
                    .send(Method::PUT, &url, Some(&full), if_match, &what)
                    .await?
            };
            match a.status {
                200 | 204 => changed = true,
                412 => {
                    return Err(TargetError::conflict(format!(
                        "SCIM target '{}': {what}: the account changed on the server since it was read (412); it is read again and planned next run",
                        self.name
                    )));
                }
                _ => return Err(self.client.refusal(&what, &a)),
            }
        }
        if self.config.groups {
            changed |= match memberships {
                Memberships::Full => self.sync_groups(&id, &record.groups).await?,
                Memberships::Delta { added, removed } => {
                    self.change_groups(&id, added, removed).await?
                }
                Memberships::Keep => false,
            };
        }
        Ok(changed)
    }

    /// Adds and removes the plan's group changes, checking each group's members first.
    async fn change_groups(
        &self,
        user: &str,
        added: &[GroupPath],
        removed: &[GroupPath],
    ) -> Result<bool, TargetError> {
        let mut changed = false;
        for path in added {
            if let Some(group) = self.group_id(path, true).await?
                && !self.members(&group).await?.contains(user)
            {
                self.add_member(&group, user, path).await?;
                changed = true;
            }
        }
        for path in removed {
            if let Some(group) = self.group_id(path, false).await?
                && self.members(&group).await?.contains(user)
            {
                self.remove_member(&group, user, path).await?;
                changed = true;
            }
        }
        Ok(changed)
    }

    async fn add_member(
        &self,
        group: &str,
        user: &str,
        path: &GroupPath,
    ) -> Result<(), TargetError> {
        let what = format!("adding a member to group '{path}'");
        self.patch_group(
            group,
            json!({"op": "add", "path": "members", "value": [{"value": user}]}),
            &what,
        )
        .await
    }

    async fn remove_member(
        &self,
        group: &str,
        user: &str,
        display: &(dyn std::fmt::Display + Sync),
    ) -> Result<(), TargetError> {
        let what = format!("removing a member from group '{display}'");
        let path = format!("members[value eq \"{user}\"]");
        self.patch_group(group, json!({"op": "remove", "path": path}), &what)
            .await
    }

    /// The SCIM id of the group for `path`, creating it (with no members) when asked.
    async fn group_id(
        &self,
        path: &GroupPath,
        create: bool,
    ) -> Result<Option<String>, TargetError> {
        let display = path.to_string();
        if let Some(id) = self.groups.lock().await.get(&display) {
            return Ok(Some(id.clone()));
        }
        let _one_at_a_time = self.group_creation.lock().await;
        let filter = format!("displayName eq \"{}\"", display.replace('"', "\\\""));
        let url = format!("{}/Groups?filter={}", self.base, form_encode(&filter));
        let a = self
            .client
            .send(Method::GET, &url, None, None, "looking up a group")
            .await?;
        if a.status != 200 {
            return Err(self.client.refusal("looking up a group", &a));
        }
        let existing = a
            .body
            .get("Resources")
            .and_then(Json::as_array)
            .and_then(|all| {
                all.iter()
                    .find(|g| g.get("displayName").and_then(Json::as_str) == Some(display.as_str()))
            })
            .and_then(|g| g.get("id"))
            .and_then(Json::as_str)
            .map(str::to_string);
        let id = match existing {
            Some(id) => id,
            None if create => {
                let body = json!({"schemas": [GROUP], "displayName": display, "members": []});
                let what = format!("creating group '{display}'");
                let a = self
                    .client
                    .send(
                        Method::POST,
                        &format!("{}/Groups", self.base),
                        Some(&body),
                        None,
                        &what,
                    )
                    .await?;
                if !(a.status == 200 || a.status == 201) {
                    return Err(self.client.refusal(&what, &a));
                }
                id_of(&a.body)?
            }
            None => return Ok(None),
        };
        self.groups.lock().await.insert(display, id.clone());
        Ok(Some(id))
    }

    async fn members(&self, group: &str) -> Result<BTreeSet<String>, TargetError> {
        let url = format!("{}/Groups/{group}", self.base);
        let a = self
            .client
            .send(Method::GET, &url, None, None, "reading a group")
            .await?;
        if a.status != 200 {
            return Err(self.client.refusal("reading a group", &a));
        }
        Ok(member_ids(&a.body))
    }

    async fn patch_group(&self, group: &str, op: Json, what: &str) -> Result<(), TargetError> {
        let url = format!("{}/Groups/{group}", self.base);
        let body = json!({"schemas": [PATCH_OP], "Operations": [op]});
        let a = self
            .client
            .send(Method::PATCH, &url, Some(&body), None, what)
            .await?;
        if matches!(a.status, 200 | 204) {
            Ok(())
        } else {
            Err(self.client.refusal(what, &a))
        }
    }

    /// Makes `user` a member of exactly `wanted` among the groups it belongs to.
    async fn sync_groups(
        &self,
        user: &str,
        wanted: &BTreeSet<GroupPath>,
    ) -> Result<bool, TargetError> {
        let mut changed = false;
        let mut wanted_ids = BTreeSet::new();
        for path in wanted {
            let Some(group) = self.group_id(path, true).await? else {
                continue;
            };
            wanted_ids.insert(group.clone());
            if !self.members(&group).await?.contains(user) {
                self.add_member(&group, user, path).await?;
                changed = true;
            }
        }
        for (group, display) in self.groups_of(user).await? {
            if !wanted_ids.contains(&group) {
                self.remove_member(&group, user, &display).await?;
                changed = true;
            }
        }
        Ok(changed)
    }

    /// Every group (id, display name) that has `user` as a member.
    async fn groups_of(&self, user: &str) -> Result<Vec<(String, String)>, TargetError> {
        let mut out = Vec::new();
        for group in self.all_groups().await? {
            if member_ids(&group).contains(user)
                && let (Some(id), Some(name)) = (
                    group.get("id").and_then(Json::as_str),
                    group.get("displayName").and_then(Json::as_str),
                )
            {
                out.push((id.to_string(), name.to_string()));
            }
        }
        Ok(out)
    }

    /// Every group, page by page.
    /// Which of `people` have an account, by the run's listing of all accounts (read, paged,
    /// the first time it is needed in a run).
    async fn with_accounts(
        &self,
        people: &[&TargetRecord],
    ) -> Result<BTreeSet<String>, TargetError> {
        let mut cached = self.accounts.lock().await;
        if cached.is_none() {
            let mut accounts = HashMap::new();
            for user in self
                .list("Users?attributes=externalId", 1000, "listing users")
                .await?
            {
                if let (Some(ext), Some(id)) = (
                    user.get("externalId").and_then(Json::as_str),
                    user.get("id").and_then(Json::as_str),
                ) {
                    accounts.insert(ext.to_string(), id.to_string());
                }
            }
            *cached = Some(accounts);
        }
        let accounts = cached.as_ref();
        Ok(people
            .iter()
            .filter(|r| accounts.is_some_and(|a| a.contains_key(r.person.as_str())))
            .map(|r| r.person.to_string())
            .collect())
    }

    async fn all_groups(&self) -> Result<Vec<Json>, TargetError> {
        self.list("Groups?", 100, "listing groups").await
    }

    /// Every resource of a listing (`Users?…`, `Groups?`), page by page.
    async fn list(
        &self,
        query: &str,
        page_size: usize,
        what: &str,
    ) -> Result<Vec<Json>, TargetError> {
        let mut all = Vec::new();
        let mut start = 1;
        loop {
            let sep = if query.ends_with('?') { "" } else { "&" };
            let url = format!(
                "{}/{query}{sep}startIndex={start}&count={page_size}",
                self.base
            );
            let a = self
                .client
                .send(Method::GET, &url, None, None, what)
                .await?;
            if a.status != 200 {
                return Err(self.client.refusal(what, &a));
            }
            let page = a
                .body
                .get("Resources")
                .and_then(Json::as_array)
                .cloned()
                .unwrap_or_default();
            let total = a
                .body
                .get("totalResults")
                .and_then(Json::as_u64)
                .unwrap_or(0) as usize;
            let got = page.len();
            all.extend(page);
            if got == 0 || all.len() >= total {
                return Ok(all);
            }
            start += got;
        }
    }

    /// The account as a record (for read-back).
    async fn record_of(
        &self,
        person: &EmployeeId,
        user: &Json,
    ) -> Result<TargetRecord, TargetError> {
        let id = id_of(user)?;
        let mut record = match self
            .config
            .record_attribute
            .as_ref()
            .and_then(|a| user.get(a))
            .and_then(Json::as_str)
            .and_then(|copy| serde_json::from_str::<TargetRecord>(copy).ok())
        {
            Some(copy) => copy,
            None => {
                let mut r = TargetRecord::new(person.clone());
                let mut put = |name: &str, v: Option<&Json>| {
                    if let Some(s) = v.and_then(Json::as_str) {
                        r.attributes.insert(name.into(), Value::Text(s.to_string()));
                    }
                };
                put("user_name", user.get("userName"));
                put("first_name", user.pointer("/name/givenName"));
                put("last_name", user.pointer("/name/familyName"));
                put("display_name", user.get("displayName"));
                put("title", user.get("title"));
                put("email", user.pointer("/emails/0/value"));
                if let Some(ext) = user.get(ENTERPRISE) {
                    put("employee_number", ext.get("employeeNumber"));
                    put("cost_center", ext.get("costCenter"));
                    put("organization", ext.get("organization"));
                    put("division", ext.get("division"));
                    put("department", ext.get("department"));
                }
                r
            }
        };
        record.person = person.clone();
        record.active = user.get("active").and_then(Json::as_bool).unwrap_or(true);
        if self.config.groups {
            record.groups = self
                .groups_of(&id)
                .await?
                .into_iter()
                .map(|(_, name)| GroupPath(name.split(" / ").map(str::to_string).collect()))
                .collect();
        }
        if self.config.record_attribute.is_none() {
            let manager = user
                .pointer(&format!("/{}/manager/value", ENTERPRISE.replace('/', "~1")))
                .and_then(Json::as_str);
            record.manager = match manager {
                Some(m) => match self.get_user(m).await? {
                    Some((u, _)) => u
                        .get("externalId")
                        .and_then(Json::as_str)
                        .map(EmployeeId::new),
                    None => None,
                },
                None => None,
            };
        }
        Ok(record)
    }
}

impl Target for ScimTarget {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &'static str {
        "scim"
    }

    fn batch_size(&self) -> usize {
        self.config.bulk_size.max(1)
    }

    async fn begin(&self, _run: &RunInfo) -> Result<(), TargetError> {
        // Accounts change between runs: the listing is read again when needed.
        *self.accounts.lock().await = None;
        Ok(())
    }

    async fn apply_batch(&self, ops: &[&Operation]) -> Vec<Result<Outcome, TargetError>> {
        let mut results: Vec<Option<Result<Outcome, TargetError>>> = vec![None; ops.len()];
        let creates: Vec<usize> = ops
            .iter()
            .enumerate()
            .filter(|(_, op)| matches!(op, Operation::Create { .. }))
            .map(|(i, _)| i)
            .collect();
        if creates.len() > 1 {
            match self.features().await {
                Ok(f) if f.bulk && f.filter => {
                    let limit = if f.bulk_operations > 0 {
                        f.bulk_operations
                    } else {
                        creates.len()
                    };
                    for part in creates.chunks(limit) {
                        let records: Vec<&TargetRecord> =
                            part.iter().map(|&i| ops[i].record()).collect();
                        let outcomes = self.bulk_create(&records, f).await;
                        for (&i, outcome) in part.iter().zip(outcomes) {
                            results[i] = outcome;
                        }
                    }
                }
                Ok(_) => {}
                Err(e) => return ops.iter().map(|_| Err(e.clone())).collect(),
            }
        }
        let mut out = Vec::with_capacity(ops.len());
        for (op, result) in ops.iter().zip(results) {
            out.push(match result {
                Some(result) => result,
                None => self.apply(op).await,
            });
        }
        out
    }

    async fn check(&self) -> Result<String, TargetError> {
        let f = self.features().await?;
        let url = format!("{}/Users?count=1", self.base);
        let a = self
            .client
            .send(Method::GET, &url, None, None, "listing users")
            .await?;
        if a.status != 200 {
            return Err(self.client.refusal("listing users", &a));
        }
        let users = a
            .body
            .get("totalResults")
            .and_then(Json::as_u64)
            .unwrap_or(0);
        let yes_no = |b: bool| if b { "yes" } else { "no" };
        Ok(format!(
            "{} answers; {users} users; PATCH {} (else PUT), ETags {}, filter {}, bulk {}",
            self.base,
            yes_no(f.patch),
            yes_no(f.etag),
            yes_no(f.filter),
            yes_no(f.bulk)
        ))
    }

    async fn existing_groups(&self) -> Result<Option<BTreeSet<GroupPath>>, TargetError> {
        let all = self.all_groups().await?;
        let mut cache = self.groups.lock().await;
        let mut out = BTreeSet::new();
        for g in all {
            if let (Some(id), Some(name)) = (
                g.get("id").and_then(Json::as_str),
                g.get("displayName").and_then(Json::as_str),
            ) {
                cache.insert(name.to_string(), id.to_string());
                out.insert(GroupPath(name.split(" / ").map(str::to_string).collect()));
            }
        }
        Ok(Some(out))
    }

    async fn apply(&self, op: &Operation) -> Result<Outcome, TargetError> {
        match op {
            Operation::Create { record, match_by } => self.create(record, *match_by).await,
            Operation::Update {
                remote_id, record, ..
            }
            | Operation::Enable {
                remote_id, record, ..
            }
            | Operation::Disable {
                remote_id, record, ..
            } => {
                let memberships = match op {
                    Operation::Update {
                        groups_added,
                        groups_removed,
                        ..
                    } => Memberships::Delta {
                        added: groups_added,
                        removed: groups_removed,
                    },
                    // Re-enabled: the record's groups may have changed while disabled.
                    Operation::Enable { .. } => Memberships::Full,
                    _ => Memberships::Keep,
                };
                match self.locate(&record.person, remote_id.as_deref()).await? {
                    Some((user, etag)) => {
                        let changed = self
                            .converge(record, &user, etag.as_deref(), memberships)
                            .await?;
                        Ok(if changed {
                            Outcome::Applied
                        } else {
                            Outcome::Unchanged
                        })
                    }
                    None => {
                        // Deleted in the service provider by someone else: create it again.
                        tracing::warn!(target = %self.name, person = %record.person, "The account was gone; creating it again.");
                        match self.create(record, MatchBy::ExternalId).await? {
                            Outcome::Created { .. } | Outcome::Adopted { .. } => {
                                Ok(Outcome::Applied)
                            }
                            other => Ok(other),
                        }
                    }
                }
            }
            Operation::Delete {
                remote_id, record, ..
            } => {
                let Some((user, etag)) = self.locate(&record.person, remote_id.as_deref()).await?
                else {
                    return Ok(Outcome::Unchanged);
                };
                let id = id_of(&user)?;
                let url = format!("{}/Users/{id}", self.base);
                let what = format!("deleting person {}", record.person);
                let if_match = if self.features().await?.etag {
                    etag
                } else {
                    None
                };
                let a = self
                    .client
                    .send(Method::DELETE, &url, None, if_match.as_deref(), &what)
                    .await?;
                match a.status {
                    200 | 204 => Ok(Outcome::Applied),
                    404 => Ok(Outcome::Unchanged),
                    _ => Err(self.client.refusal(&what, &a)),
                }
            }
        }
    }
}

impl Inspect for ScimTarget {
    async fn read(&self, person: &EmployeeId) -> Result<Option<TargetRecord>, TargetError> {
        match self.locate(person, None).await? {
            Some((user, _)) => Ok(Some(self.record_of(person, &user).await?)),
            None => Ok(None),
        }
    }
}

fn id_of(user: &Json) -> Result<String, TargetError> {
    user.get("id")
        .and_then(Json::as_str)
        .map(str::to_string)
        .ok_or_else(|| {
            TargetError::transient("the SCIM answer has no `id`; the operation stays pending")
        })
}

fn member_ids(group: &Json) -> BTreeSet<String> {
    group
        .get("members")
        .and_then(Json::as_array)
        .map(|m| {
            m.iter()
                .filter_map(|x| x.get("value").and_then(Json::as_str).map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Whether `have` holds every value of `want` (objects compared key by key, arrays whole).
fn contains(have: &Json, want: &Json) -> bool {
    match (have, want) {
        (Json::Object(h), Json::Object(w)) => w
            .iter()
            .all(|(k, wv)| k == "schemas" || h.get(k).is_some_and(|hv| contains(hv, wv))),
        (Json::Array(h), Json::Array(w)) => {
            h.len() == w.len() && h.iter().zip(w).all(|(hv, wv)| contains(hv, wv))
        }
        _ => have == want,
    }
}

/// Writable attributes `have` sets that the desired resource no longer has.
fn extras(have: &Json, want: &Json) -> Vec<String> {
    const MANAGED: &[&str] = &[
        "displayName",
        "title",
        "emails",
        "phoneNumbers",
        "photos",
        "name",
    ];
    let mut out: Vec<String> = MANAGED
        .iter()
        .filter(|k| have.get(**k).is_some() && want.get(**k).is_none())
        .map(|k| (*k).to_string())
        .collect();
    if let (Some(h), Some(w)) = (have.get(ENTERPRISE), want.get(ENTERPRISE)) {
        for k in [
            "costCenter",
            "organization",
            "division",
            "department",
            "manager",
        ] {
            if h.get(k).is_some() && w.get(k).is_none() {
                out.push(format!("{ENTERPRISE}:{k}"));
            }
        }
    }
    out
}

fn has_extra(have: &Json, want: &Json) -> bool {
    !extras(have, want).is_empty()
}

fn strip_schemas(resource: &Json) -> Json {
    let mut r = resource.clone();
    if let Some(obj) = r.as_object_mut() {
        obj.remove("schemas");
    }
    r
}

/// Percent-encodes a query value.
fn form_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_problems_are_all_reported() {
        let config: ScimConfig = serde_json::from_value(json!({
            "url": "ftp://x", "auth": "oauth2", "timeout_seconds": 0
        }))
        .unwrap();
        let paths: Vec<String> = config.validate().into_iter().map(|p| p.path).collect();
        assert_eq!(
            paths,
            [
                "url",
                "timeout_seconds",
                "token_url",
                "client_id",
                "client_secret"
            ]
        );
        let err =
            serde_json::from_value::<ScimConfig>(json!({"url": "http://x", "auth": "kerberos"}))
                .unwrap_err();
        assert!(err.to_string().contains("kerberos"), "{err}");
        let err = serde_json::from_value::<ScimConfig>(json!({"url": "http://x", "tokn": "t"}))
            .unwrap_err();
        assert!(err.to_string().contains("tokn"), "{err}");
    }

    #[test]
    fn secrets_stay_out_of_debug() {
        let t = ScimTarget::new(
            "apps",
            ScimConfig::bearer("http://127.0.0.1:9/v2", "hunter2-token"),
        )
        .unwrap();
        assert!(!format!("{t:?}").contains("hunter2"));
    }

    #[test]
    fn comparison_and_encoding() {
        let have = json!({"a": 1, "b": {"c": "x", "d": 2}, "l": [{"v": 1, "t": "w"}]});
        assert!(contains(&have, &json!({"b": {"c": "x"}, "l": [{"v": 1}]})));
        assert!(!contains(&have, &json!({"b": {"c": "y"}})));
        assert!(!contains(&have, &json!({"z": 1})));
        assert_eq!(
            form_encode("externalId eq \"1\""),
            "externalId%20eq%20%221%22"
        );
    }
}
