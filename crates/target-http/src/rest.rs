//! The templated REST target: any JSON-over-HTTP API, described by request templates per
//! operation (`[target.create]`, `update`, `enable`, `disable`, `delete`, `read`) or by one
//! batch endpoint (`[target.batch]`, the "users/sync" shape) that takes many users per request
//! and answers with per-user results.
//!
//! Templates are minijinja (the mapping's expression language) and render JSON; the record's
//! attributes are variables of their own (`email`, `country_code`…), beside `person` (the
//! Personio id), `remote_id`, `op`, `active`, `manager`, `groups`, `attributes` and `record`
//! (a JSON copy of the whole record, for APIs that can keep it). Values are JSON-encoded with
//! `| tojson`.
//!
//! Idempotency comes from the API: with a `read` request, an operation whose body the account
//! already holds is `Unchanged` and a create that meets an existing account (409) is resolved
//! by reading it (same → `Unchanged`, adoption allowed → the update is sent and the account
//! `Adopted`, otherwise `Conflict`). Without `read`, repeats are sent again (the API's PUT or
//! upsert must tolerate that).

use crate::http::{Answer, AuthConfig, AuthKind, Client};
use minijinja::value::{Serde, Value as JValue};
use minijinja::{Environment, UndefinedBehavior};
use psync_model::{EmployeeId, MatchBy, Operation, Outcome, TargetRecord, Value};
use psync_targets::testkit::Inspect;
use psync_targets::{ConfigProblem, Target, TargetError};
use reqwest::Method;
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::time::Duration;

/// The keys of [`RestConfig`], for the configuration checker.
pub const REST_KEYS: &[&str] = &[
    "url",
    "auth",
    "token",
    "username",
    "password",
    "token_url",
    "client_id",
    "client_secret",
    "scope",
    "api_key",
    "api_secret",
    "api_key_header",
    "api_secret_header",
    "headers",
    "timeout_seconds",
    "rate_limit",
    "create",
    "update",
    "enable",
    "disable",
    "delete",
    "read",
    "check",
    "batch",
];

/// Status values (from a `status` pointer) that mean "nothing changed".
const UNCHANGED: &[&str] = &["unchanged", "noop", "no_change", "not_modified", "skipped"];
/// Status values that mean "a new account".
const CREATED: &[&str] = &["created", "new", "inserted"];

/// `[[target]]` keys of `type = "rest"` (boxed: keeps the connector enum small).
#[derive(Debug, Clone, Deserialize)]
#[serde(transparent)]
pub struct RestConfig(Box<RestSettings>);

/// The settings behind [`RestConfig`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestSettings {
    /// Base URL; request paths are appended to it.
    pub url: String,
    /// `bearer` (default), `basic`, `oauth2` or `api_key`.
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
    /// API key (`auth = "api_key"`).
    pub api_key: Option<SecretString>,
    /// API secret sent beside the key.
    pub api_secret: Option<SecretString>,
    /// Header of the key (default `X-API-Key`).
    pub api_key_header: Option<String>,
    /// Header of the secret (default `X-API-Secret`).
    pub api_secret_header: Option<String>,
    /// Headers sent with every request (a tenant id…); values may hold `${ENV}`.
    #[serde(default)]
    pub headers: BTreeMap<String, SecretString>,
    /// Limit per request, connect included (default 30).
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
    /// At most this many requests per second (default: no limit; concurrency still bounds).
    pub rate_limit: Option<f64>,
    /// The request creating an account.
    pub create: Option<RequestTemplate>,
    /// The request changing an account.
    pub update: Option<RequestTemplate>,
    /// The request re-activating an account (default: `update`).
    pub enable: Option<RequestTemplate>,
    /// The request deactivating an account (default: `update`).
    pub disable: Option<RequestTemplate>,
    /// The request removing an account.
    pub delete: Option<RequestTemplate>,
    /// The request reading one account (idempotency, adoption, read-back).
    pub read: Option<ReadTemplate>,
    /// The request `personio-sync check` sends (default: `GET` of the base URL).
    pub check: Option<CheckTemplate>,
    /// One endpoint taking many users per request.
    pub batch: Option<BatchTemplate>,
}

/// One operation's request.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestTemplate {
    /// HTTP method (default: `POST` for create, `DELETE` for delete, `PUT` otherwise).
    pub method: Option<String>,
    /// Path template appended to `url` (`/users/{{ remote_id }}`).
    pub path: String,
    /// JSON body template; no body when absent.
    pub body: Option<String>,
    /// Header templates for this request.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// JSON pointer to the account's id in the answer (create; default: the Personio id).
    pub remote_id: Option<String>,
    /// JSON pointer to a status word in the answer (`unchanged` → nothing was written).
    pub status: Option<String>,
}

/// The request reading one account.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadTemplate {
    /// HTTP method (default `GET`).
    pub method: Option<String>,
    /// Path template (`/users?external_id={{ person }}`).
    pub path: String,
    /// Header templates.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// JSON pointer to the account in the answer (default: the whole answer); an answer
    /// without it (an empty search result) or a 404 means "no account".
    pub account: Option<String>,
    /// JSON pointer (within the account) to its id.
    pub remote_id: Option<String>,
    /// JSON pointer (within the account) to a copy of the record written through `record`
    /// (a JSON object or a string holding one), for exact read-back.
    pub record: Option<String>,
}

/// The request `check` sends.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckTemplate {
    /// Path appended to `url`.
    pub path: String,
}

/// The batch ("users/sync") endpoint.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchTemplate {
    /// HTTP method (default `POST`).
    pub method: Option<String>,
    /// Path template.
    pub path: String,
    /// Header templates.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Users per request (default 100).
    #[serde(default = "default_batch")]
    pub size: usize,
    /// JSON template of one user (the same variables as a single request).
    pub user: String,
    /// JSON template of the request body; `users` holds the rendered users
    /// (default `{{ users | tojson }}`: a bare array).
    pub body: Option<String>,
    /// JSON pointer to the array of per-user results; without it every user of an accepted
    /// request counts as applied.
    pub results: Option<String>,
    /// JSON pointer (within a result) to the Personio id it is about; without it results are
    /// matched by position.
    pub key: Option<String>,
    /// JSON pointer (within a result) to an error; present and not `null`/`false`/empty means
    /// that user was refused (default `/error`).
    pub error: Option<String>,
    /// JSON pointer (within a result) to the account's id.
    pub remote_id: Option<String>,
    /// JSON pointer (within a result) to a status word (`created`, `updated`, `unchanged`).
    pub status: Option<String>,
}

fn default_timeout() -> u64 {
    30
}

fn default_batch() -> usize {
    100
}

/// Largest accepted batch size.
const MAX_BATCH: usize = 10_000;

/// Template names: `<request>.<part>`.
const REQUESTS: [&str; 5] = ["create", "update", "enable", "disable", "delete"];

impl RestSettings {
    /// The request configured for operation `name` itself (no fallback).
    fn own(&self, name: &str) -> Option<&RequestTemplate> {
        match name {
            "create" => self.create.as_ref(),
            "update" => self.update.as_ref(),
            "enable" => self.enable.as_ref(),
            "disable" => self.disable.as_ref(),
            "delete" => self.delete.as_ref(),
            _ => None,
        }
    }

    /// The templates operation `name` uses (`enable` and `disable` fall back to `update`): the
    /// configuration key they are compiled under, and the request.
    fn request(&self, name: &str) -> Option<(&'static str, &RequestTemplate)> {
        let key = REQUESTS.into_iter().find(|r| *r == name)?;
        match self.own(key) {
            Some(own) => Some((key, own)),
            None if matches!(key, "enable" | "disable") => Some(("update", self.update.as_ref()?)),
            None => None,
        }
    }

    fn declared_auth(&self) -> AuthConfig {
        AuthConfig {
            auth: self.auth,
            token: self.token.clone(),
            username: self.username.clone(),
            password: self.password.clone(),
            token_url: self.token_url.clone(),
            client_id: self.client_id.clone(),
            client_secret: self.client_secret.clone(),
            scope: self.scope.clone(),
            api_key: self.api_key.clone(),
            api_secret: self.api_secret.clone(),
            api_key_header: self.api_key_header.clone(),
            api_secret_header: self.api_secret_header.clone(),
        }
    }
}

impl RestConfig {
    /// Parses the settings from a JSON value (tests).
    pub fn from_json(value: Json) -> Result<Self, serde_json::Error> {
        serde_json::from_value(value)
    }

    /// The settings, for changing them.
    pub fn settings_mut(&mut self) -> &mut RestSettings {
        &mut self.0
    }

    /// Every problem at once (pure; `${ENV}` references are resolved when the target is built).
    pub fn validate(&self) -> Vec<ConfigProblem> {
        let mut problems = self.problems_besides_templates();
        if let Err(found) = Templates::compile(&self.0) {
            problems.extend(found);
        }
        problems
    }

    /// Every problem but those of the templates (compiled once, by the caller).
    fn problems_besides_templates(&self) -> Vec<ConfigProblem> {
        let s = &self.0;
        let mut problems = Vec::new();
        let mut problem = |path: &str, message: String| {
            problems.push(ConfigProblem {
                path: path.into(),
                message,
            })
        };
        if !(s.url.starts_with("http://") || s.url.starts_with("https://")) {
            problem("url", format!("'{}' is not an http(s) URL", s.url));
        }
        if s.timeout_seconds == 0 {
            problem("timeout_seconds", "must be at least 1".into());
        }
        if s.create.is_none() && s.batch.is_none() {
            problem(
                "create",
                "a REST target needs [target.create] (one request per operation) or [target.batch] (many users per request)".into(),
            );
        }
        if s.batch.is_none() && s.create.is_some() && s.update.is_none() {
            problem(
                "update",
                "required with [target.create]: people change, give the request that updates an account".into(),
            );
        }
        for name in s.headers.keys() {
            if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
                problem(
                    &format!("headers.{name}"),
                    "not a valid HTTP header name".into(),
                );
            }
        }
        if let Some(b) = &s.batch
            && !(1..=MAX_BATCH).contains(&b.size)
        {
            problem(
                "batch.size",
                format!("{} users per request: give 1 to {MAX_BATCH}", b.size),
            );
        }
        let mut methods: Vec<(String, &Option<String>)> = REQUESTS
            .iter()
            .filter_map(|r| {
                let t = s.own(r)?;
                Some((format!("{r}.method"), &t.method))
            })
            .collect();
        if let Some(r) = &s.read {
            methods.push(("read.method".into(), &r.method));
        }
        if let Some(b) = &s.batch {
            methods.push(("batch.method".into(), &b.method));
        }
        for (path, method) in methods {
            if let Some(m) = method
                && Method::from_bytes(m.to_ascii_uppercase().as_bytes()).is_err()
            {
                problem(&path, format!("'{m}' is not an HTTP method"));
            }
        }
        for (path, pointer) in pointers(s) {
            if !(pointer.is_empty() || pointer.starts_with('/')) {
                problem(
                    &path,
                    format!("'{pointer}' is not a JSON pointer: write it like \"/data/id\""),
                );
            }
        }
        problems.extend(crate::http::check_rate_limit(s.rate_limit));
        problems.extend(s.declared_auth().validate());
        problems
    }

    /// Authentication and fixed headers with their `${ENV}` references resolved.
    fn auth(&self) -> Result<(AuthConfig, Headers), Vec<ConfigProblem>> {
        let s = &self.0;
        let (auth, mut problems) = match s.declared_auth().expanded() {
            Ok(auth) => (Some(auth), Vec::new()),
            Err(found) => (None, found),
        };
        let mut headers = Vec::with_capacity(s.headers.len());
        for (name, value) in &s.headers {
            match crate::http::expand(value) {
                Ok(v) => headers.push((name.clone(), v)),
                Err(message) => problems.push(ConfigProblem {
                    path: format!("headers.{name}"),
                    message,
                }),
            }
        }
        match auth {
            Some(auth) if problems.is_empty() => Ok((auth, headers)),
            _ => Err(problems),
        }
    }
}

/// Header names and (secret) values sent with every request.
type Headers = Vec<(String, SecretString)>;

/// Every JSON pointer of the settings, with its key.
fn pointers(s: &RestSettings) -> Vec<(String, &str)> {
    let mut out = Vec::new();
    for r in REQUESTS {
        let t = s.own(r);
        if let Some(t) = t {
            for (k, v) in [("remote_id", &t.remote_id), ("status", &t.status)] {
                if let Some(v) = v {
                    out.push((format!("{r}.{k}"), v.as_str()));
                }
            }
        }
    }
    if let Some(t) = &s.read {
        for (k, v) in [
            ("account", &t.account),
            ("remote_id", &t.remote_id),
            ("record", &t.record),
        ] {
            if let Some(v) = v {
                out.push((format!("read.{k}"), v.as_str()));
            }
        }
    }
    if let Some(t) = &s.batch {
        for (k, v) in [
            ("results", &t.results),
            ("key", &t.key),
            ("error", &t.error),
            ("remote_id", &t.remote_id),
            ("status", &t.status),
        ] {
            if let Some(v) = v {
                out.push((format!("batch.{k}"), v.as_str()));
            }
        }
    }
    out
}

/// The compiled templates of one target, each named by its configuration key
/// (`create.body`, `batch.user`, `read.headers.X-Tenant`).
#[derive(Debug)]
struct Templates {
    env: Environment<'static>,
}

impl Templates {
    /// Compiles every template and renders the JSON ones once with a sample record, so a
    /// template that cannot produce JSON is reported before anything runs.
    fn compile(s: &RestSettings) -> Result<Self, Vec<ConfigProblem>> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Lenient);
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
        let mut sources: Vec<(String, String, bool)> = Vec::new();
        let mut add_request =
            |prefix: &str, path: &str, body: Option<&str>, headers: &BTreeMap<String, String>| {
                sources.push((format!("{prefix}.path"), path.to_string(), false));
                if let Some(body) = body {
                    sources.push((format!("{prefix}.body"), body.to_string(), true));
                }
                for (k, v) in headers {
                    sources.push((format!("{prefix}.headers.{k}"), v.clone(), false));
                }
            };
        for r in REQUESTS {
            let t = s.own(r);
            if let Some(t) = t {
                add_request(r, &t.path, t.body.as_deref(), &t.headers);
            }
        }
        if let Some(t) = &s.read {
            add_request("read", &t.path, None, &t.headers);
        }
        if let Some(t) = &s.batch {
            add_request("batch", &t.path, None, &t.headers);
            sources.push(("batch.user".into(), t.user.clone(), true));
            sources.push((
                "batch.body".into(),
                t.body
                    .clone()
                    .unwrap_or_else(|| "{{ users | tojson }}".into()),
                true,
            ));
        }
        let mut problems = Vec::new();
        for (name, source, _) in &sources {
            if let Err(e) = env.add_template_owned(name.clone(), source.clone()) {
                problems.push(ConfigProblem {
                    path: name.clone(),
                    message: format!("the template does not compile: {}", one_line(&e)),
                });
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let templates = Templates { env };
        // A trial render with a sample record: JSON templates must give JSON.
        let sample = sample();
        for (name, _, json) in &sources {
            let vars = if name == "batch.body" {
                JValue::from(Serde(serde_json::json!({"users": [{"external_id": "1"}]})))
            } else {
                context(&sample, Some("1"), "create")
            };
            let result = if *json {
                templates.json(name, &vars).map(|_| ())
            } else {
                templates.text(name, &vars).map(|_| ())
            };
            if let Err(message) = result {
                problems.push(ConfigProblem {
                    path: name.clone(),
                    message: format!("{message} (tried with a sample record)"),
                });
            }
        }
        if problems.is_empty() {
            Ok(templates)
        } else {
            Err(problems)
        }
    }

    /// Renders a text template (path, header).
    fn text(&self, name: &str, vars: &JValue) -> Result<String, String> {
        let template = self
            .env
            .get_template(name)
            .map_err(|e| format!("no template {name}: {e}"))?;
        template
            .render(vars)
            .map_err(|e| format!("the template did not render: {}", one_line(&e)))
    }

    /// Renders a JSON template and parses it.
    fn json(&self, name: &str, vars: &JValue) -> Result<Json, String> {
        let text = self.text(name, vars)?;
        serde_json::from_str(&text).map_err(|e| {
            format!(
                "the template did not give JSON ({e}; quote values with `| tojson`): {}",
                crate::http::snippet(&text)
            )
        })
    }
}

/// A record with the usual attributes, for trial renders.
fn sample() -> TargetRecord {
    let mut r = TargetRecord::new(EmployeeId::new("1"));
    for (k, v) in [
        ("email", "ada@example.com"),
        ("first_name", "Ada"),
        ("last_name", "Lovelace"),
        ("display_name", "Ada Lovelace"),
        ("department", "Engineering"),
        ("location", "Berlin"),
        ("country_code", "DE"),
        ("title", "Engineer"),
    ] {
        r.attributes.insert(k.into(), Value::Text(v.into()));
    }
    r
}

/// A value as JSON (dates as `YYYY-MM-DD`).
fn value_json(v: &Value) -> Json {
    match v {
        Value::Null => Json::Null,
        Value::Text(s) => Json::String(s.clone()),
        Value::Integer(i) => Json::from(*i),
        Value::Decimal(d) => serde_json::Number::from_f64(*d).map_or(Json::Null, Json::Number),
        Value::Boolean(b) => Json::Bool(*b),
        Value::Date(d) => Json::String(d.to_string()),
        Value::List(l) => Json::Array(l.iter().cloned().map(Json::String).collect()),
    }
}

/// The variables a template sees for `record`.
fn context(record: &TargetRecord, remote_id: Option<&str>, op: &str) -> JValue {
    let mut vars = serde_json::Map::new();
    let mut attributes = serde_json::Map::new();
    for (name, value) in record.attributes.iter() {
        let v = value_json(value);
        vars.insert(name.to_string(), v.clone());
        attributes.insert(name.to_string(), v);
    }
    vars.insert("attributes".into(), Json::Object(attributes));
    vars.insert("person".into(), Json::String(record.person.to_string()));
    vars.insert(
        "remote_id".into(),
        Json::String(remote_id.unwrap_or(record.person.as_str()).to_string()),
    );
    vars.insert("op".into(), Json::String(op.into()));
    vars.insert("active".into(), Json::Bool(record.active));
    vars.insert(
        "manager".into(),
        record
            .manager
            .as_ref()
            .map_or(Json::Null, |m| Json::String(m.to_string())),
    );
    vars.insert(
        "groups".into(),
        Json::Array(
            record
                .groups
                .iter()
                .map(|g| Json::String(g.0.join(" / ")))
                .collect(),
        ),
    );
    vars.insert(
        "record".into(),
        serde_json::to_value(record).unwrap_or(Json::Null),
    );
    JValue::from(Serde(Json::Object(vars)))
}

/// One rendered request.
#[derive(Debug)]
struct Request {
    method: Method,
    url: String,
    body: Option<Json>,
    headers: Vec<(String, String)>,
}

/// A templated REST API.
#[derive(Debug)]
pub struct RestTarget {
    name: String,
    base: String,
    config: RestSettings,
    client: Client,
    templates: Templates,
}

impl RestTarget {
    /// Builds the target (no I/O).
    pub fn new(name: &str, config: RestConfig) -> Result<Self, Vec<ConfigProblem>> {
        let mut problems = config.problems_besides_templates();
        let templates = Templates::compile(&config.0)
            .map_err(|found| problems.extend(found))
            .ok();
        let auth = config.auth().map_err(|found| problems.extend(found)).ok();
        let (Some(templates), Some((auth, headers)), true) = (templates, auth, problems.is_empty())
        else {
            return Err(problems);
        };
        let settings = *config.0;
        let timeout = Duration::from_secs(settings.timeout_seconds.max(1));
        let client = Client::new(&format!("REST target '{name}'"), auth, timeout)
            .map_err(|message| {
                vec![ConfigProblem {
                    path: "url".into(),
                    message,
                }]
            })?
            .with_media_type("application/json")
            .with_headers(headers)
            .with_rate_limit(settings.rate_limit);
        Ok(RestTarget {
            name: name.into(),
            base: settings.url.trim_end_matches('/').to_string(),
            config: settings,
            client,
            templates,
        })
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_string()
        } else if path.starts_with('/') || path.is_empty() {
            format!("{}{path}", self.base)
        } else {
            format!("{}/{path}", self.base)
        }
    }

    /// Renders request `prefix` (`create`, `read`, `batch`…) for `vars`.
    fn render(
        &self,
        prefix: &str,
        method: (Option<&str>, Method),
        headers: &BTreeMap<String, String>,
        body: Option<&str>,
        vars: &JValue,
        what: &str,
    ) -> Result<Request, TargetError> {
        let refused = |part: &str, message: String| {
            TargetError::rejected(format!(
                "REST target '{}': {what}: {prefix}.{part}: {message}",
                self.name
            ))
        };
        let path = self
            .templates
            .text(&format!("{prefix}.path"), vars)
            .map_err(|m| refused("path", m))?;
        let body = match body {
            Some(name) => Some(
                self.templates
                    .json(name, vars)
                    .map_err(|m| refused("body", m))?,
            ),
            None => None,
        };
        let mut rendered = Vec::with_capacity(headers.len());
        for name in headers.keys() {
            let value = self
                .templates
                .text(&format!("{prefix}.headers.{name}"), vars)
                .map_err(|m| refused(&format!("headers.{name}"), m))?;
            rendered.push((name.clone(), value));
        }
        let method = match method.0 {
            Some(m) => Method::from_bytes(m.to_ascii_uppercase().as_bytes())
                .map_err(|_| refused("method", format!("'{m}' is not an HTTP method")))?,
            None => method.1,
        };
        Ok(Request {
            method,
            url: self.url(path.trim()),
            body,
            headers: rendered,
        })
    }

    async fn send(&self, request: &Request, what: &str) -> Result<Answer, TargetError> {
        self.client
            .send_with(
                request.method.clone(),
                &request.url,
                request.body.as_ref(),
                &request.headers,
                what,
            )
            .await
    }

    /// The account of `person`: `(account JSON, remote id)`, `None` when there is none.
    /// `Ok(None)` also when no `read` request is configured.
    async fn lookup(
        &self,
        record: &TargetRecord,
        remote_id: Option<&str>,
    ) -> Result<Option<(Json, String)>, TargetError> {
        let Some(read) = &self.config.read else {
            return Ok(None);
        };
        let what = format!("read of person {}", record.person);
        let vars = context(record, remote_id, "read");
        let request = self.render(
            "read",
            (read.method.as_deref(), Method::GET),
            &read.headers,
            None,
            &vars,
            &what,
        )?;
        let answer = self.send(&request, &what).await?;
        if answer.status == 404 || answer.status == 410 {
            return Ok(None);
        }
        if answer.status >= 300 {
            return Err(self.client.refusal(&what, &answer));
        }
        let account = match &read.account {
            Some(p) => answer.body.pointer(p).cloned(),
            None => Some(answer.body),
        };
        let Some(account) = account.filter(|a| !a.is_null()) else {
            return Ok(None);
        };
        let id = read
            .remote_id
            .as_deref()
            .and_then(|p| account.pointer(p))
            .and_then(id_text)
            .or_else(|| remote_id.map(str::to_string))
            .unwrap_or_else(|| record.person.to_string());
        Ok(Some((account, id)))
    }

    /// Sends operation request `kind` (create, update…) for `record`.
    async fn request(
        &self,
        kind: &str,
        record: &TargetRecord,
        remote_id: Option<&str>,
    ) -> Result<(Answer, &RequestTemplate), TargetError> {
        let what = format!("{kind} of person {}", record.person);
        let Some((prefix, template)) = self.config.request(kind) else {
            return Err(TargetError::rejected(format!(
                "REST target '{}': {what}: no request is configured for {kind}; add [target.{kind}]",
                self.name
            )));
        };
        let default_method = match kind {
            "create" => Method::POST,
            "delete" => Method::DELETE,
            _ => Method::PUT,
        };
        let vars = context(record, remote_id, kind);
        let body_name = format!("{prefix}.body");
        let request = self.render(
            prefix,
            (template.method.as_deref(), default_method),
            &template.headers,
            template.body.as_ref().map(|_| body_name.as_str()),
            &vars,
            &what,
        )?;
        let answer = self.send(&request, &what).await?;
        Ok((answer, template))
    }

    /// The body `kind` would send for `record` (for comparing with an account): its own
    /// request's body, else the batch's user.
    fn body_of(&self, kind: &str, record: &TargetRecord, remote_id: Option<&str>) -> Option<Json> {
        let vars = context(record, remote_id, kind);
        match self.config.request(kind) {
            Some((prefix, template)) => {
                template.body.as_ref()?;
                self.templates.json(&format!("{prefix}.body"), &vars).ok()
            }
            None if self.config.batch.is_some() => self.templates.json("batch.user", &vars).ok(),
            None => None,
        }
    }

    /// Whether `answer` says nothing changed.
    fn unchanged(pointer: Option<&str>, body: &Json) -> bool {
        pointer
            .and_then(|p| body.pointer(p))
            .and_then(Json::as_str)
            .is_some_and(|s| UNCHANGED.contains(&s.to_ascii_lowercase().as_str()))
    }

    /// A create, one request at a time.
    async fn create_one(
        &self,
        record: &TargetRecord,
        match_by: MatchBy,
    ) -> Result<Outcome, TargetError> {
        let (answer, template) = self.request("create", record, None).await?;
        if answer.status < 300 {
            if Self::unchanged(template.status.as_deref(), &answer.body) {
                return Ok(Outcome::Unchanged);
            }
            let remote_id = template
                .remote_id
                .as_deref()
                .and_then(|p| answer.body.pointer(p))
                .and_then(id_text)
                .unwrap_or_else(|| record.person.to_string());
            return Ok(Outcome::Created { remote_id });
        }
        if answer.status != 409 {
            return Err(self
                .client
                .refusal(&format!("create of person {}", record.person), &answer));
        }
        // The account exists: read it and decide.
        let Some((account, id)) = self.lookup(record, None).await? else {
            return Err(TargetError::conflict(format!(
                "REST target '{}': create of person {}: the API answered 409 (the account exists) {}",
                self.name,
                record.person,
                if self.config.read.is_some() {
                    "but reading it found nothing; check [target.read]"
                } else {
                    "and no [target.read] is configured to look at it; resolve it in the target or configure read"
                }
            )));
        };
        self.adopt(record, match_by, &account, id).await
    }

    /// An existing account met by a create: same → `Unchanged`; otherwise adopted when the
    /// policy allows, else a conflict.
    async fn adopt(
        &self,
        record: &TargetRecord,
        match_by: MatchBy,
        account: &Json,
        id: String,
    ) -> Result<Outcome, TargetError> {
        if self
            .body_of("create", record, Some(&id))
            .is_some_and(|want| holds(account, &want))
        {
            return Ok(Outcome::Unchanged);
        }
        if match_by == MatchBy::None {
            return Err(TargetError::conflict(format!(
                "REST target '{}': create of person {}: an account with this id already exists ({id}) and holds other values; adoption is off (match_by = none)",
                self.name, record.person
            )));
        }
        if self.config.batch.is_some() && self.config.update.is_none() {
            let (results, _) = self.batch(&[(record, "update", Some(id.as_str()))]).await;
            results
                .into_iter()
                .next()
                .unwrap_or_else(|| Err(TargetError::transient("the batch answered nothing")))?;
        } else {
            let (answer, _) = self.request("update", record, Some(&id)).await?;
            if answer.status >= 300 {
                return Err(self.client.refusal(
                    &format!("update of person {} (adoption)", record.person),
                    &answer,
                ));
            }
        }
        Ok(Outcome::Adopted {
            remote_id: id,
            matched_by: MatchBy::ExternalId,
        })
    }

    /// An update, enable or disable, one request at a time.
    async fn change_one(
        &self,
        kind: &str,
        record: &TargetRecord,
        remote_id: Option<&str>,
    ) -> Result<Outcome, TargetError> {
        let mut remote_id = remote_id.map(str::to_string);
        if self.config.read.is_some() {
            match self.lookup(record, remote_id.as_deref()).await? {
                None => {
                    return Err(TargetError::conflict(format!(
                        "REST target '{}': {kind} of person {}: the account is not in the target (deleted there?); it is created again once the person's state is reset",
                        self.name, record.person
                    )));
                }
                Some((account, id)) => {
                    if self
                        .body_of(kind, record, Some(&id))
                        .is_some_and(|want| holds(&account, &want))
                    {
                        return Ok(Outcome::Unchanged);
                    }
                    remote_id = Some(id);
                }
            }
        }
        let (answer, template) = self.request(kind, record, remote_id.as_deref()).await?;
        match answer.status {
            s if s < 300 => Ok(
                if Self::unchanged(template.status.as_deref(), &answer.body) {
                    Outcome::Unchanged
                } else {
                    Outcome::Applied
                },
            ),
            404 | 410 => Err(TargetError::conflict(format!(
                "REST target '{}': {kind} of person {}: the API has no such account ({}); it was deleted there?",
                self.name, record.person, answer.status
            ))),
            _ => Err(self
                .client
                .refusal(&format!("{kind} of person {}", record.person), &answer)),
        }
    }

    async fn delete_one(
        &self,
        record: &TargetRecord,
        remote_id: Option<&str>,
    ) -> Result<Outcome, TargetError> {
        let mut remote_id = remote_id.map(str::to_string);
        if self.config.read.is_some() {
            // The account's current id (the stored one may be stale); none: nothing to do.
            match self.lookup(record, remote_id.as_deref()).await? {
                None => return Ok(Outcome::Unchanged),
                Some((_, id)) => remote_id = Some(id),
            }
        }
        let (answer, template) = self.request("delete", record, remote_id.as_deref()).await?;
        match answer.status {
            s if s < 300 => Ok(
                if Self::unchanged(template.status.as_deref(), &answer.body) {
                    Outcome::Unchanged
                } else {
                    Outcome::Applied
                },
            ),
            404 | 410 => Ok(Outcome::Unchanged),
            _ => Err(self
                .client
                .refusal(&format!("delete of person {}", record.person), &answer)),
        }
    }

    /// Whether `op` goes through the batch endpoint.
    fn batched_op(&self, op: &Operation) -> bool {
        self.config.batch.is_some() && self.config.own(op.kind().as_str()).is_none()
    }

    /// Applies one operation by its own request.
    async fn apply_one(&self, op: &Operation) -> Result<Outcome, TargetError> {
        match op {
            Operation::Create { record, match_by } => self.create_one(record, *match_by).await,
            Operation::Update {
                remote_id, record, ..
            } => {
                self.change_one("update", record, remote_id.as_deref())
                    .await
            }
            Operation::Enable {
                remote_id, record, ..
            } => {
                self.change_one("enable", record, remote_id.as_deref())
                    .await
            }
            Operation::Disable {
                remote_id, record, ..
            } => {
                self.change_one("disable", record, remote_id.as_deref())
                    .await
            }
            Operation::Delete {
                remote_id, record, ..
            } => self.delete_one(record, remote_id.as_deref()).await,
        }
    }

    /// Before a batched create that must not adopt: the account, if one exists.
    async fn precheck(&self, op: &Operation) -> Option<Result<Outcome, TargetError>> {
        let Operation::Create { record, match_by } = op else {
            return None;
        };
        if *match_by != MatchBy::None || self.config.read.is_none() {
            return None;
        }
        match self.lookup(record, None).await {
            Err(e) => Some(Err(e)),
            Ok(None) => None,
            Ok(Some((account, id))) => Some(self.adopt(record, *match_by, &account, id).await),
        }
    }

    /// Posts `users` (record, operation name, remote id) in one request; one result each, and
    /// whether the API refused the request as a whole (a 4xx other than auth).
    async fn batch(
        &self,
        users: &[(&TargetRecord, &str, Option<&str>)],
    ) -> (Vec<Result<Outcome, TargetError>>, bool) {
        let Some(batch) = &self.config.batch else {
            let none = users
                .iter()
                .map(|_| Err(TargetError::fatal("no [target.batch] configured")))
                .collect();
            return (none, false);
        };
        let mut refused_whole = false;
        let what = if users.len() == 1 {
            format!("batch of person {}", users[0].0.person)
        } else {
            format!("batch of {} users", users.len())
        };
        let mut results: Vec<Option<Result<Outcome, TargetError>>> = vec![None; users.len()];
        let mut rendered = Vec::with_capacity(users.len());
        let mut sent = Vec::with_capacity(users.len());
        for (i, (record, kind, remote_id)) in users.iter().enumerate() {
            match self
                .templates
                .json("batch.user", &context(record, *remote_id, kind))
            {
                Ok(user) => {
                    rendered.push(user);
                    sent.push(i);
                }
                Err(message) => {
                    results[i] = Some(Err(TargetError::rejected(format!(
                        "REST target '{}': {kind} of person {}: batch.user: {message}",
                        self.name, record.person
                    ))));
                }
            }
        }
        if !sent.is_empty() {
            let body_vars = JValue::from(Serde(serde_json::json!({ "users": rendered })));
            let request = self.render(
                "batch",
                (batch.method.as_deref(), Method::POST),
                &batch.headers,
                Some("batch.body"),
                &body_vars,
                &what,
            );
            let answer = match request {
                Ok(request) => self.send(&request, &what).await,
                Err(e) => Err(e),
            };
            match answer {
                Err(e) => {
                    for &i in &sent {
                        results[i] = Some(Err(e.clone()));
                    }
                }
                Ok(answer) if answer.status >= 300 => {
                    refused_whole = (400..500).contains(&answer.status);
                    let e = self.client.refusal(&what, &answer);
                    for &i in &sent {
                        results[i] = Some(Err(e.clone()));
                    }
                }
                Ok(answer) => {
                    let outcomes = self.read_results(batch, users, &sent, &answer.body, &what);
                    for (&i, outcome) in sent.iter().zip(outcomes) {
                        results[i] = Some(outcome);
                    }
                }
            }
        }
        let results = results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(TargetError::transient("not sent"))))
            .collect();
        (results, refused_whole)
    }

    /// The per-user results of an accepted batch, for the users at `sent`.
    fn read_results(
        &self,
        batch: &BatchTemplate,
        users: &[(&TargetRecord, &str, Option<&str>)],
        sent: &[usize],
        body: &Json,
        what: &str,
    ) -> Vec<Result<Outcome, TargetError>> {
        let outcome_of = |i: usize, result: Option<&Json>| -> Result<Outcome, TargetError> {
            let (record, kind, remote_id) = users[i];
            let Some(result) = result else {
                return Err(TargetError::transient(format!(
                    "REST target '{}': {kind} of person {}: the batch answer has no result for this person; sent again next time",
                    self.name, record.person
                )));
            };
            let error = result.pointer(batch.error.as_deref().unwrap_or("/error"));
            if let Some(error) = error.filter(|e| !is_blank(e)) {
                let message = match error {
                    Json::String(s) => s.clone(),
                    other => other.to_string(),
                };
                return Err(TargetError::rejected(format!(
                    "REST target '{}': {kind} of person {}: refused: {message}",
                    self.name, record.person
                )));
            }
            let status = batch
                .status
                .as_deref()
                .and_then(|p| result.pointer(p))
                .and_then(Json::as_str)
                .map(str::to_ascii_lowercase);
            let id = batch
                .remote_id
                .as_deref()
                .and_then(|p| result.pointer(p))
                .and_then(id_text)
                .or_else(|| remote_id.map(str::to_string))
                .unwrap_or_else(|| record.person.to_string());
            if status.as_deref().is_some_and(|s| UNCHANGED.contains(&s)) {
                return Ok(Outcome::Unchanged);
            }
            Ok(match kind {
                "create" => match status.as_deref() {
                    Some(s) if !CREATED.contains(&s) => Outcome::Adopted {
                        remote_id: id,
                        matched_by: MatchBy::ExternalId,
                    },
                    _ => Outcome::Created { remote_id: id },
                },
                _ => Outcome::Applied,
            })
        };
        let Some(pointer) = &batch.results else {
            return sent
                .iter()
                .map(|&i| outcome_of(i, Some(&Json::Null)))
                .collect();
        };
        let Some(list) = body.pointer(pointer).and_then(Json::as_array) else {
            let e = TargetError::transient(format!(
                "REST target '{}': {what}: the answer has no result list at {pointer}; the users are sent again next time",
                self.name
            ));
            return sent.iter().map(|_| Err(e.clone())).collect();
        };
        match &batch.key {
            None => sent
                .iter()
                .enumerate()
                .map(|(k, &i)| outcome_of(i, list.get(k)))
                .collect(),
            Some(key) => {
                let by_person: BTreeMap<String, &Json> = list
                    .iter()
                    .filter_map(|r| Some((r.pointer(key).and_then(id_text)?, r)))
                    .collect();
                sent.iter()
                    .map(|&i| outcome_of(i, by_person.get(users[i].0.person.as_str()).copied()))
                    .collect()
            }
        }
    }
}

/// The account id an operation carries, if any.
fn remote_of(op: &Operation) -> Option<&str> {
    match op {
        Operation::Create { .. } => None,
        Operation::Update { remote_id, .. }
        | Operation::Enable { remote_id, .. }
        | Operation::Disable { remote_id, .. }
        | Operation::Delete { remote_id, .. } => remote_id.as_deref(),
    }
}

/// `null`, `false`, `""`, `[]` and `{}` mean "no error".
fn is_blank(v: &Json) -> bool {
    match v {
        Json::Null | Json::Bool(false) => true,
        Json::String(s) => s.is_empty(),
        Json::Array(a) => a.is_empty(),
        Json::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// An id as text (APIs give numbers or strings).
fn id_text(v: &Json) -> Option<String> {
    match v {
        Json::String(s) if !s.is_empty() => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Whether `have` holds every value of `want` (objects key by key, arrays whole; a `null`
/// wanted matches an absent key).
fn holds(have: &Json, want: &Json) -> bool {
    match (have, want) {
        (Json::Object(h), Json::Object(w)) => w.iter().all(|(k, wv)| match h.get(k) {
            Some(hv) => holds(hv, wv),
            None => wv.is_null(),
        }),
        (Json::Array(h), Json::Array(w)) => {
            h.len() == w.len() && h.iter().zip(w).all(|(hv, wv)| holds(hv, wv))
        }
        (Json::Number(h), Json::Number(w)) => h.as_f64() == w.as_f64(),
        _ => have == want,
    }
}

/// A minijinja error on one line.
fn one_line(e: &minijinja::Error) -> String {
    let mut text = e.to_string();
    if let Some(line) = e.line() {
        text.push_str(&format!(" (line {line})"));
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl Target for RestTarget {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &'static str {
        "rest"
    }

    fn batch_size(&self) -> usize {
        self.config.batch.as_ref().map_or(1, |b| b.size.max(1))
    }

    async fn check(&self) -> Result<String, TargetError> {
        let path = self.config.check.as_ref().map_or("", |c| c.path.as_str());
        let url = self.url(path);
        let status = self.client.probe(&url).await?;
        let mode = match &self.config.batch {
            Some(b) => format!("batch of up to {} users", b.size),
            None => "one request per operation".to_string(),
        };
        Ok(format!(
            "reachable ({} answered {status}), auth {}, {mode}{}",
            crate::http::strip_query(&url),
            self.config.auth.as_str(),
            if self.config.read.is_some() {
                ", reads accounts before changing them"
            } else {
                ""
            }
        ))
    }

    async fn apply(&self, op: &Operation) -> Result<Outcome, TargetError> {
        let mut results = self.apply_batch(&[op]).await;
        results
            .pop()
            .unwrap_or_else(|| Err(TargetError::transient("no result")))
    }

    async fn apply_batch(&self, ops: &[&Operation]) -> Vec<Result<Outcome, TargetError>> {
        let mut results: Vec<Option<Result<Outcome, TargetError>>> = vec![None; ops.len()];
        let mut batched = Vec::new();
        for (i, op) in ops.iter().enumerate() {
            if !self.batched_op(op) {
                results[i] = Some(self.apply_one(op).await);
            } else if let Some(settled) = self.precheck(op).await {
                results[i] = Some(settled);
            } else {
                batched.push(i);
            }
        }
        if !batched.is_empty() {
            let users: Vec<(&TargetRecord, &str, Option<&str>)> = batched
                .iter()
                .map(|&i| {
                    let op = ops[i];
                    (op.record(), op.kind().as_str(), remote_of(op))
                })
                .collect();
            let (mut outcomes, refused_whole) = self.batch(&users).await;
            // A request refused as a whole may hold one bad user: send them one by one, so
            // only that one is parked.
            if refused_whole && users.len() > 1 {
                outcomes = Vec::with_capacity(users.len());
                for user in &users {
                    let (mut one, _) = self.batch(std::slice::from_ref(user)).await;
                    outcomes.push(
                        one.pop()
                            .unwrap_or_else(|| Err(TargetError::transient("no result"))),
                    );
                }
            }
            for (&i, outcome) in batched.iter().zip(outcomes) {
                results[i] = Some(outcome);
            }
        }
        results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(TargetError::transient("not attempted"))))
            .collect()
    }
}

impl Inspect for RestTarget {
    async fn read(&self, person: &EmployeeId) -> Result<Option<TargetRecord>, TargetError> {
        if self.config.read.is_none() {
            return Err(TargetError::fatal(format!(
                "REST target '{}': reading accounts needs [target.read]",
                self.name
            )));
        }
        let probe = TargetRecord::new(person.clone());
        let Some((account, _)) = self.lookup(&probe, None).await? else {
            return Ok(None);
        };
        let copy = self
            .config
            .read
            .as_ref()
            .and_then(|r| r.record.as_deref())
            .and_then(|p| account.pointer(p));
        let record = match copy {
            Some(Json::String(s)) => serde_json::from_str::<TargetRecord>(s).ok(),
            Some(v) => serde_json::from_value::<TargetRecord>(v.clone()).ok(),
            None => None,
        };
        Ok(Some(record.unwrap_or_else(|| {
            // No copy: the account's top-level values as attributes.
            let mut r = TargetRecord::new(person.clone());
            if let Some(obj) = account.as_object() {
                for (k, v) in obj {
                    let value = match v {
                        Json::String(s) => Value::Text(s.clone()),
                        Json::Bool(b) if k == "active" => {
                            r.active = *b;
                            continue;
                        }
                        Json::Bool(b) => Value::Boolean(*b),
                        Json::Number(n) => match n.as_i64() {
                            Some(i) => Value::Integer(i),
                            None => Value::Decimal(n.as_f64().unwrap_or_default()),
                        },
                        _ => continue,
                    };
                    r.attributes.insert(k.as_str().into(), value);
                }
            }
            r
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config(v: Json) -> RestConfig {
        RestConfig::from_json(v).unwrap()
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let c = config(json!({
            "url": "ftp://x",
            "auth": "api_key",
            "timeout_seconds": 0,
            "rate_limit": -1.0,
            "headers": {"bad header": "x"},
            "batch": {
                "path": "/sync", "size": 0,
                "user": "{\"external_id\": {{ person }",
                "results": "results",
                "method": "FETCH ME"
            }
        }));
        let problems = c.validate();
        let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        for want in [
            "url",
            "timeout_seconds",
            "rate_limit",
            "headers.bad header",
            "batch.size",
            "batch.method",
            "batch.results",
            "api_key",
            "batch.user",
        ] {
            assert!(paths.contains(&want), "{want} missing from {problems:?}");
        }
    }

    #[test]
    fn a_template_that_does_not_give_json_is_refused_with_its_key() {
        let c = config(json!({
            "url": "http://127.0.0.1:1", "token": "t",
            "create": {"path": "/users", "body": "{\"email\": {{ email }} }"},
            "update": {"path": "/users/{{ remote_id }}", "body": "{\"email\": {{ email | tojson }} }"},
        }));
        let problems = c.validate();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].path, "create.body");
        assert!(problems[0].message.contains("tojson"), "{problems:?}");
    }

    #[test]
    fn unknown_keys_and_auth_kinds_are_refused() {
        let err = RestConfig::from_json(json!({"url": "http://x", "auth": "kerberos"}))
            .unwrap_err()
            .to_string();
        assert!(err.contains("kerberos") && err.contains("api_key"), "{err}");
        let err = RestConfig::from_json(json!({
            "url": "http://x", "create": {"path": "/", "bodyy": "{}"}
        }))
        .unwrap_err()
        .to_string();
        assert!(err.contains("bodyy"), "{err}");
    }

    #[test]
    fn templates_see_attributes_dates_groups_and_the_record() {
        let c = config(json!({
            "url": "http://127.0.0.1:1", "token": "t",
            "batch": {"path": "/sync", "user": "{\"id\": {{ person | tojson }}, \"mail\": {{ email | tojson }}, \"since\": {{ hire_date | tojson }}, \"g\": {{ groups | tojson }}, \"on\": {{ active | tojson }}, \"copy\": {{ record | tojson }} }"}
        }));
        let t = RestTarget::new("lms", c).unwrap();
        let mut record = sample();
        record.attributes.insert(
            "hire_date".into(),
            Value::Date(jiff::civil::date(2024, 2, 29)),
        );
        record
            .groups
            .insert(psync_model::GroupPath(vec!["Berlin".into(), "Eng".into()]));
        let user = t
            .templates
            .json("batch.user", &context(&record, None, "create"))
            .unwrap();
        assert_eq!(user["id"], "1");
        assert_eq!(user["mail"], "ada@example.com");
        assert_eq!(user["since"], "2024-02-29");
        assert_eq!(user["g"], json!(["Berlin / Eng"]));
        assert_eq!(user["on"], true);
        let copy: TargetRecord = serde_json::from_value(user["copy"].clone()).unwrap();
        assert_eq!(copy, record);
    }

    #[test]
    fn secrets_stay_out_of_debug() {
        let c = config(json!({
            "url": "http://127.0.0.1:1", "auth": "api_key",
            "api_key": "key-123456", "api_secret": "secret-654321",
            "headers": {"X-Tenant": "tenant-secret-1"},
            "batch": {"path": "/sync", "user": "{}"}
        }));
        let t = RestTarget::new("lms", c).unwrap();
        let debug = format!("{t:?}");
        for secret in ["key-123456", "secret-654321", "tenant-secret-1"] {
            assert!(!debug.contains(secret), "{secret} in {debug}");
        }
    }

    #[test]
    fn holds_compares_what_is_sent() {
        assert!(holds(
            &json!({"a": 1, "b": "x", "c": 2}),
            &json!({"a": 1.0, "b": "x"})
        ));
        assert!(holds(&json!({"a": 1}), &json!({"a": 1, "z": null})));
        assert!(!holds(&json!({"a": 1}), &json!({"a": 2})));
        assert!(!holds(&json!({"l": [1, 2]}), &json!({"l": [1]})));
    }
}
