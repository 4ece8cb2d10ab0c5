//! The HTTP client every HTTP target shares: authentication kinds (bearer, basic, API key and
//! secret headers, OAuth2 client credentials with a cached token), a timeout on every request,
//! an optional request rate limit, and the mapping of HTTP outcomes to [`ErrorKind`]s.

use psync_targets::{ConfigProblem, ErrorKind, TargetError};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// How requests authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AuthKind {
    /// `Authorization: Bearer <token>`.
    #[default]
    Bearer,
    /// `Authorization: Basic` with `username` and `password`.
    Basic,
    /// OAuth2 client credentials: a token from `token_url`, cached until it expires.
    Oauth2,
    /// An API key and (optionally) a secret, each in a header of its own.
    ApiKey,
}

impl AuthKind {
    /// The configuration spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthKind::Bearer => "bearer",
            AuthKind::Basic => "basic",
            AuthKind::Oauth2 => "oauth2",
            AuthKind::ApiKey => "api_key",
        }
    }
}

/// The authentication settings of an HTTP target (flattened into its table).
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// `bearer` (default), `basic` or `oauth2`.
    #[serde(default)]
    pub auth: AuthKind,
    /// Bearer token.
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
    /// OAuth2 scope, if the server wants one.
    pub scope: Option<String>,
    /// API key (`auth = "api_key"`).
    pub api_key: Option<SecretString>,
    /// API secret sent beside the key, if the API wants one.
    pub api_secret: Option<SecretString>,
    /// The header carrying the key (default `X-API-Key`).
    pub api_key_header: Option<String>,
    /// The header carrying the secret (default `X-API-Secret`).
    pub api_secret_header: Option<String>,
}

/// The keys of [`AuthConfig`].
pub const AUTH_KEYS: &[&str] = &[
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
];

impl AuthConfig {
    /// Every missing or inconsistent key.
    pub fn validate(&self) -> Vec<ConfigProblem> {
        let mut problems = Vec::new();
        let mut need = |ok: bool, key: &str, what: &str| {
            if !ok {
                problems.push(ConfigProblem {
                    path: key.into(),
                    message: format!("required with auth = \"{what}\""),
                });
            }
        };
        match self.auth {
            AuthKind::Bearer => need(self.token.is_some(), "token", "bearer"),
            AuthKind::Basic => {
                need(self.username.is_some(), "username", "basic");
                need(self.password.is_some(), "password", "basic");
            }
            AuthKind::Oauth2 => {
                need(self.token_url.is_some(), "token_url", "oauth2");
                need(self.client_id.is_some(), "client_id", "oauth2");
                need(self.client_secret.is_some(), "client_secret", "oauth2");
            }
            AuthKind::ApiKey => need(self.api_key.is_some(), "api_key", "api_key"),
        }
        for (path, name) in [
            ("api_key_header", &self.api_key_header),
            ("api_secret_header", &self.api_secret_header),
        ] {
            if let Some(name) = name
                && reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err()
            {
                problems.push(ConfigProblem {
                    path: path.into(),
                    message: format!("'{name}' is not a valid HTTP header name"),
                });
            }
        }
        problems
    }

    /// The same settings with every `${ENV}` reference in a secret resolved; each one that
    /// cannot be resolved is a problem named by its key.
    pub fn expanded(mut self) -> Result<Self, Vec<ConfigProblem>> {
        let mut problems = Vec::new();
        for (key, slot) in [
            ("token", &mut self.token),
            ("password", &mut self.password),
            ("client_secret", &mut self.client_secret),
            ("api_key", &mut self.api_key),
            ("api_secret", &mut self.api_secret),
        ] {
            if let Some(value) = slot.as_ref() {
                match expand(value) {
                    Ok(v) => *slot = Some(v),
                    Err(message) => problems.push(ConfigProblem {
                        path: key.into(),
                        message,
                    }),
                }
            }
        }
        if problems.is_empty() {
            Ok(self)
        } else {
            Err(problems)
        }
    }
}

/// A response already read: status and body.
#[derive(Debug)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// The `ETag` header, if any.
    pub etag: Option<String>,
    /// The body parsed as JSON; `Null` when empty.
    pub body: serde_json::Value,
}

/// One HTTP target's client.
#[derive(Debug)]
pub struct Client {
    http: reqwest::Client,
    auth: AuthConfig,
    /// The cached OAuth2 token and when it stops being used.
    oauth: Mutex<Option<(SecretString, Instant)>>,
    /// Names the target in messages.
    target: String,
    /// `Content-Type` of request bodies.
    media_type: &'static str,
    /// Headers sent with every request (values may be secrets).
    headers: Vec<(String, SecretString)>,
    /// Minimum spacing of requests (the rate limit), and when the next one may start.
    pace: Option<(Duration, Mutex<Instant>)>,
}

impl Client {
    /// A client with this timeout per request. No I/O.
    pub fn new(target: &str, auth: AuthConfig, timeout: Duration) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .map_err(|e| format!("cannot build an HTTP client: {e}"))?;
        Ok(Client {
            http,
            auth,
            oauth: Mutex::new(None),
            target: target.into(),
            media_type: "application/scim+json",
            headers: Vec::new(),
            pace: None,
        })
    }

    /// Request bodies are sent with this `Content-Type` (default `application/scim+json`).
    pub fn with_media_type(mut self, media_type: &'static str) -> Self {
        self.media_type = media_type;
        self
    }

    /// Sends these headers with every request.
    pub fn with_headers(mut self, headers: Vec<(String, SecretString)>) -> Self {
        self.headers = headers;
        self
    }

    /// At most `per_second` requests per second (token requests excluded), spread evenly.
    pub fn with_rate_limit(mut self, per_second: Option<f64>) -> Self {
        self.pace = per_second
            .filter(|r| r.is_finite() && *r > 0.0)
            .map(|r| (Duration::from_secs_f64(1.0 / r), Mutex::new(Instant::now())));
        self
    }

    /// Waits for the request's slot under the rate limit.
    async fn pace(&self) {
        if let Some((interval, next)) = &self.pace {
            let at = {
                let mut next = next.lock().await;
                let at = (*next).max(Instant::now());
                *next = at + *interval;
                at
            };
            tokio::time::sleep_until(at.into()).await;
        }
    }

    /// Probes `url` with a GET: `Ok(status)` when the server answered (whatever the body),
    /// `Fatal` when it refused the credentials, `Fatal` when it cannot be reached.
    pub async fn probe(&self, url: &str) -> Result<u16, TargetError> {
        self.pace().await;
        let req = self.decorate(self.http.get(url), &[])?;
        let req = self.authorize(req).await?;
        let target = &self.target;
        let resp = req.send().await.map_err(|e| {
            TargetError::fatal(format!(
                "{target}: cannot reach {}: {}",
                strip_query(url),
                plain(&e)
            ))
        })?;
        let status = resp.status().as_u16();
        if status == 401 || status == 403 {
            return Err(TargetError::fatal(format!(
                "{target}: answered {status}: the credentials were refused or lack permission; check the target's auth settings"
            )));
        }
        Ok(status)
    }

    /// Adds the client's fixed headers, the API key headers and `extra`.
    fn decorate(
        &self,
        mut req: reqwest::RequestBuilder,
        extra: &[(String, String)],
    ) -> Result<reqwest::RequestBuilder, TargetError> {
        for (name, value) in &self.headers {
            req = req.header(name.as_str(), value.expose_secret());
        }
        if self.auth.auth == AuthKind::ApiKey {
            if let Some(key) = &self.auth.api_key {
                let name = self.auth.api_key_header.as_deref().unwrap_or("X-API-Key");
                req = req.header(name, key.expose_secret());
            }
            if let Some(secret) = &self.auth.api_secret {
                let name = self
                    .auth
                    .api_secret_header
                    .as_deref()
                    .unwrap_or("X-API-Secret");
                req = req.header(name, secret.expose_secret());
            }
        }
        for (name, value) in extra {
            if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err()
                || reqwest::header::HeaderValue::from_str(value).is_err()
            {
                return Err(TargetError::rejected(format!(
                    "{}: the header '{name}' does not make a valid HTTP header",
                    self.target
                )));
            }
            req = req.header(name.as_str(), value.as_str());
        }
        Ok(req)
    }

    async fn authorize(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<reqwest::RequestBuilder, TargetError> {
        Ok(match self.auth.auth {
            AuthKind::Bearer => match &self.auth.token {
                Some(t) => req.bearer_auth(t.expose_secret()),
                None => req,
            },
            AuthKind::Basic => req.basic_auth(
                self.auth.username.clone().unwrap_or_default(),
                self.auth
                    .password
                    .as_ref()
                    .map(|p| p.expose_secret().to_string()),
            ),
            AuthKind::Oauth2 => {
                let token = self.oauth_token().await?;
                req.bearer_auth(token.expose_secret())
            }
            AuthKind::ApiKey => req,
        })
    }

    async fn oauth_token(&self) -> Result<SecretString, TargetError> {
        let mut cached = self.oauth.lock().await;
        if let Some((token, until)) = cached.as_ref()
            && Instant::now() < *until
        {
            return Ok(token.clone());
        }
        let url = self.auth.token_url.clone().unwrap_or_default();
        let mut form = vec![
            ("grant_type", "client_credentials".to_string()),
            ("client_id", self.auth.client_id.clone().unwrap_or_default()),
            (
                "client_secret",
                self.auth
                    .client_secret
                    .as_ref()
                    .map(|s| s.expose_secret().to_string())
                    .unwrap_or_default(),
            ),
        ];
        if let Some(scope) = &self.auth.scope {
            form.push(("scope", scope.clone()));
        }
        let target = &self.target;
        let resp = self.http.post(&url).form(&form).send().await.map_err(|e| {
            TargetError::transient(format!("{target}: token request to {url}: {}", plain(&e)))
        })?;
        let status = resp.status().as_u16();
        if status == 400 || status == 401 || status == 403 {
            return Err(TargetError::fatal(format!(
                "{target}: the OAuth2 token endpoint refused the client credentials ({status}); check client_id and client_secret"
            )));
        }
        if status >= 300 {
            return Err(TargetError::transient(format!(
                "{target}: the OAuth2 token endpoint answered {status}"
            )));
        }
        #[derive(Deserialize)]
        struct Token {
            access_token: String,
            expires_in: Option<u64>,
        }
        let token: Token = resp.json().await.map_err(|e| {
            TargetError::transient(format!(
                "{target}: the OAuth2 token answer is not a token: {}",
                plain(&e)
            ))
        })?;
        // Renewed a minute early, so no request carries a token that expires on its way.
        let life = Duration::from_secs(token.expires_in.unwrap_or(300).saturating_sub(60).max(1));
        let secret = SecretString::from(token.access_token);
        *cached = Some((secret.clone(), Instant::now() + life));
        Ok(secret)
    }

    /// Sends one request (JSON body optional) and reads the answer. Network failures and
    /// timeouts are transient; a body that is not JSON is transient too (an HTML error page
    /// from a proxy), so the operation stays pending. `what` names the operation in messages.
    pub async fn send(
        &self,
        method: reqwest::Method,
        url: &str,
        body: Option<&serde_json::Value>,
        if_match: Option<&str>,
        what: &str,
    ) -> Result<Answer, TargetError> {
        let extra: Vec<(String, String)> = if_match
            .map(|etag| vec![("If-Match".to_string(), etag.to_string())])
            .unwrap_or_default();
        self.send_with(method, url, body, &extra, what).await
    }

    /// [`send`](Client::send) with extra request headers.
    pub async fn send_with(
        &self,
        method: reqwest::Method,
        url: &str,
        body: Option<&serde_json::Value>,
        extra: &[(String, String)],
        what: &str,
    ) -> Result<Answer, TargetError> {
        let mut retried_auth = false;
        loop {
            self.pace().await;
            let mut req = self
                .http
                .request(method.clone(), url)
                .header("Accept", "application/scim+json, application/json");
            if let Some(body) = body {
                req = req
                    .header("Content-Type", self.media_type)
                    .body(body.to_string());
            }
            let req = self.decorate(req, extra)?;
            let req = self.authorize(req).await?;
            let target = &self.target;
            let resp = req.send().await.map_err(|e| {
                TargetError::transient(format!("{target}: {what}: {} (will retry)", plain(&e)))
            })?;
            let status = resp.status().as_u16();
            if status == 401 && self.auth.auth == AuthKind::Oauth2 && !retried_auth {
                // The token may have been revoked early: fetch a new one, once.
                *self.oauth.lock().await = None;
                retried_auth = true;
                continue;
            }
            let etag = resp
                .headers()
                .get("etag")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let retry_after = resp
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok());
            let text = resp.text().await.map_err(|e| {
                TargetError::transient(format!(
                    "{target}: {what}: reading the answer: {}",
                    plain(&e)
                ))
            })?;
            let body = if text.trim().is_empty() {
                serde_json::Value::Null
            } else {
                match serde_json::from_str(&text) {
                    Ok(v) => v,
                    Err(_) => {
                        return Err(TargetError::transient(format!(
                            "{target}: {what}: answered {status} with a body that is not JSON ({}); the operation stays pending",
                            snippet(&text)
                        )));
                    }
                }
            };
            if status == 429 || status >= 500 {
                if let Some(secs) = retry_after {
                    // Honour the server's pause (bounded) before the engine's own retry.
                    tokio::time::sleep(Duration::from_secs(secs.min(30))).await;
                }
                return Err(TargetError::transient(format!(
                    "{target}: {what}: answered {status}{} (will retry)",
                    detail(&body).map(|d| format!(": {d}")).unwrap_or_default()
                )));
            }
            if status == 401 || status == 403 {
                return Err(TargetError::fatal(format!(
                    "{target}: {what}: answered {status}: the credentials were refused or lack permission; check the target's auth settings"
                )));
            }
            return Ok(Answer { status, etag, body });
        }
    }

    /// Classifies an answer that is not a success and not handled by the caller.
    pub fn refusal(&self, what: &str, answer: &Answer) -> TargetError {
        let target = &self.target;
        let detail = detail(&answer.body).unwrap_or_else(|| "no detail given".into());
        let kind = match answer.status {
            409 | 412 => ErrorKind::Conflict,
            400..=499 => ErrorKind::Rejected,
            _ => ErrorKind::Transient,
        };
        TargetError::new(
            kind,
            format!("{target}: {what}: answered {}: {detail}", answer.status),
        )
    }
}

/// The `detail` (SCIM) or `message`/`error` of an error body.
fn detail(body: &serde_json::Value) -> Option<String> {
    ["detail", "message", "error_description", "error"]
        .iter()
        .find_map(|k| body.get(*k).and_then(|v| v.as_str()).map(str::to_string))
}

/// The first characters of a body, on one line.
pub(crate) fn snippet(text: &str) -> String {
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut cut: String = one_line.chars().take(80).collect();
    if one_line.chars().count() > 80 {
        cut.push('…');
    }
    format!("\"{cut}\"")
}

/// A reqwest error without the URL's query (which could hold a filter with personal data).
fn plain(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "cannot connect".into()
    } else {
        let text = e.to_string();
        match e.url() {
            Some(url) => text.replace(url.as_str(), "…"),
            None => text,
        }
    }
}

/// The problem with a `rate_limit` (requests per second), if any.
pub fn check_rate_limit(rate_limit: Option<f64>) -> Option<ConfigProblem> {
    match rate_limit {
        Some(r) if !(r.is_finite() && r > 0.0) => Some(ConfigProblem {
            path: "rate_limit".into(),
            message: format!(
                "{r} is not a rate: give requests per second above 0, or leave it out for no limit"
            ),
        }),
        _ => None,
    }
}

/// The URL without its query.
pub(crate) fn strip_query(url: &str) -> &str {
    url.split('?').next().unwrap_or(url)
}

/// Replaces every `${NAME}` in a secret with the environment variable's value.
pub fn expand(secret: &SecretString) -> Result<SecretString, String> {
    let raw = secret.expose_secret();
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err("an unclosed '${': write ${NAME}".into());
        };
        let name = &after[..end];
        match std::env::var(name) {
            Ok(value) => out.push_str(&value),
            Err(_) => {
                return Err(format!(
                    "refers to ${{{name}}}, which is not set in the environment"
                ));
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(SecretString::from(out))
}
