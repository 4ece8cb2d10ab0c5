//! Sending requests: token handling, client-side rate limits, retries with jittered backoff,
//! and turning every failure into a [`PersonioError`] that names the account.

use crate::config::{AccountConfig, ApiVersion, DEFAULT_APP_ID, Limits};
use crate::error::PersonioError;
use crate::limits::{Bucket, Limiter};
use crate::stats::Counters;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, RETRY_AFTER};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// Refresh a token this long before Personio says it expires.
const EXPIRY_MARGIN: Duration = Duration::from_secs(120);
/// Connection failures are retried at most this often (a closed port stays closed).
const MAX_CONNECT_RETRIES: u32 = 2;

/// The current bearer token; `generation` changes whenever the token does.
#[derive(Default)]
struct TokenSlot {
    token: Option<SecretString>,
    generation: u64,
    valid_until: Option<Instant>,
}

/// What a request is: an API call with the bearer token, or one of the token requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Call {
    Api,
    AuthV1,
    AuthV2,
}

/// One client's connection to one Personio account.
pub(crate) struct Http {
    client: reqwest::Client,
    pub(crate) account: String,
    base: String,
    pub(crate) api: ApiVersion,
    app_id: String,
    client_id: String,
    client_secret: SecretString,
    pub(crate) limits: Limits,
    limiter: Limiter,
    token: Mutex<TokenSlot>,
    pub(crate) counters: Counters,
    seed: AtomicU64,
}

impl std::fmt::Debug for Http {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Http")
            .field("account", &self.account)
            .field("base", &self.base)
            .field("api", &self.api)
            .finish_non_exhaustive()
    }
}

impl Http {
    /// Validates the configuration and builds the HTTP client; no request is sent.
    pub(crate) fn new(config: AccountConfig) -> Result<Self, PersonioError> {
        let account = config.name.clone();
        let config_error = |message: String| PersonioError::Config {
            account: account.clone(),
            message,
        };
        let base = config.base_url.trim().trim_end_matches('/').to_string();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(config_error(format!(
                "base_url '{base}' must start with https:// (e.g. https://api.personio.de)"
            )));
        }
        if config.client_id.trim().is_empty() {
            return Err(config_error("client_id is empty".into()));
        }
        let l = &config.limits;
        if !(1..=100).contains(&l.v1_page_size) || !(1..=50).contains(&l.v2_page_size) {
            return Err(config_error(
                "page sizes must be 1–100 (v1) and 1–50 (v2), as Personio enforces".into(),
            ));
        }
        if l.v1_concurrency == 0 || l.v2_concurrency == 0 || l.max_read_passes == 0 {
            return Err(config_error(
                "concurrency and read passes must be at least 1".into(),
            ));
        }
        let limiter = Limiter::new(l).map_err(|e| config_error(format!("limits: {e}")))?;
        let client = reqwest::Client::builder()
            .timeout(l.request_timeout)
            .connect_timeout(l.request_timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("personio-sync/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| config_error(format!("cannot build the HTTP client: {e}")))?;
        let app_id = config
            .app_id
            .filter(|a| !a.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_APP_ID.to_string());
        let seed = RandomState::new().hash_one(&account) | 1;
        Ok(Http {
            client,
            account,
            base,
            api: config.api,
            app_id,
            client_id: config.client_id,
            client_secret: config.client_secret,
            limits: config.limits,
            limiter,
            token: Mutex::new(TokenSlot::default()),
            counters: Counters::default(),
            seed: AtomicU64::new(seed),
        })
    }

    /// The absolute URL of a path such as `/v1/company/employees`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// `GET` an API path (with the bearer token) and return its JSON body.
    pub(crate) async fn get(
        &self,
        bucket: Bucket,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Value, PersonioError> {
        self.send(Call::Api, bucket, path, query).await
    }

    /// A valid token and its generation; authenticates (once, for all callers) when needed.
    async fn token(&self) -> Result<(SecretString, u64), PersonioError> {
        let mut slot = self.token.lock().await;
        let fresh = slot.valid_until.is_none_or(|until| Instant::now() < until);
        if let Some(token) = &slot.token
            && fresh
        {
            return Ok((token.clone(), slot.generation));
        }
        let call = match self.api {
            ApiVersion::V1 => Call::AuthV1,
            ApiVersion::V2 => Call::AuthV2,
        };
        let path = match self.api {
            ApiVersion::V1 => "/v1/auth",
            ApiVersion::V2 => "/v2/auth/token",
        };
        let body = Box::pin(self.send(call, Bucket::Auth, path, &[])).await?;
        let Some((token, expires_in)) = token_from(self.api, &body) else {
            return Err(PersonioError::InvalidResponse {
                account: self.account.clone(),
                url: self.url(path),
                status: 200,
                problem: "a token response without a token".into(),
            });
        };
        let token = SecretString::from(token.trim().to_string());
        slot.generation += 1;
        slot.token = Some(token.clone());
        slot.valid_until = expires_in
            .filter(|s| s.is_finite() && *s > 0.0)
            .map(|s| Duration::from_secs_f64(s.min(1e7)))
            .map(|d| Instant::now() + d.saturating_sub(EXPIRY_MARGIN.min(d / 2)));
        tracing::debug!(account = %self.account, generation = slot.generation, "Obtained a Personio token.");
        Ok((token, slot.generation))
    }

    /// Forgets the token of `generation` (if still current) so the next call re-authenticates.
    async fn invalidate(&self, generation: u64) {
        let mut slot = self.token.lock().await;
        if slot.generation == generation {
            slot.token = None;
        }
    }

    /// Adopts a token echoed in an `Authorization: Bearer …` response header (legacy rotation).
    async fn adopt(&self, headers: &HeaderMap, generation: u64) {
        let Some(echoed) = headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
        else {
            return;
        };
        let mut slot = self.token.lock().await;
        let same = slot
            .token
            .as_ref()
            .is_some_and(|t| t.expose_secret() == echoed);
        if slot.generation == generation && !same {
            slot.token = Some(SecretString::from(echoed.to_string()));
            slot.generation += 1;
        }
    }

    /// A pseudo-random number in [0, 1) for jitter (splitmix64; no need for a crypto RNG).
    fn random(&self) -> f64 {
        let mut z = self
            .seed
            .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Exponential backoff with jitter: `base·2^attempt`, capped, scaled by [0.5, 1).
    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .limits
            .retry_base
            .saturating_mul(1u32 << attempt.min(16));
        exp.min(self.limits.retry_max)
            .mul_f64(0.5 + self.random() / 2.0)
    }

    /// How long to wait after a 429: `Retry-After`, else the v2 bucket headers, else backoff.
    fn throttle_delay(&self, headers: &HeaderMap, attempt: u32) -> Duration {
        let header_f64 = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<f64>().ok())
        };
        let jitter = Duration::from_millis(20).mul_f64(1.0 + self.random() * 4.0);
        if let Some(secs) = headers
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
        {
            return Duration::from_secs_f64(secs.min(3600.0)).min(self.limits.retry_max) + jitter;
        }
        let remaining = header_f64("x-ratelimit-remaining");
        let rate = header_f64("x-ratelimit-replenish-rate").filter(|r| *r > 0.0);
        if let (Some(remaining), Some(rate)) = (remaining, rate)
            && remaining < 1.0
        {
            let refill = Duration::from_secs_f64((1.0 / rate).min(60.0));
            return refill
                .max(self.backoff(attempt) / 4)
                .min(self.limits.retry_max)
                + jitter;
        }
        self.backoff(attempt)
    }

    /// Sends one logical request, retrying transient failures, refreshing the token once.
    async fn send(
        &self,
        call: Call,
        bucket: Bucket,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Value, PersonioError> {
        let url = self.url(path);
        let mut attempt: u32 = 0;
        let mut connect_failures: u32 = 0;
        let mut refreshed = false;
        loop {
            let (request, generation) = match call {
                Call::Api => {
                    let (token, generation) = self.token().await?;
                    let request = self
                        .client
                        .get(&url)
                        .query(query)
                        .bearer_auth(token.expose_secret());
                    (request, generation)
                }
                Call::AuthV1 => {
                    let body = serde_json::json!({
                        "client_id": self.client_id,
                        "client_secret": self.client_secret.expose_secret(),
                    });
                    (self.client.post(&url).json(&body), 0)
                }
                Call::AuthV2 => {
                    let form = [
                        ("grant_type", "client_credentials"),
                        ("client_id", self.client_id.as_str()),
                        ("client_secret", self.client_secret.expose_secret()),
                    ];
                    (self.client.post(&url).form(&form), 0)
                }
            };
            let request = request
                .header(ACCEPT, "application/json")
                .header("X-Personio-App-ID", &self.app_id);
            self.limiter.wait(bucket).await;
            self.counters
                .add_request(call != Call::Api, attempt > 0 || refreshed);
            let response = match request.send().await {
                Ok(response) => response,
                Err(error) => {
                    let connect = error.is_connect();
                    connect_failures += u32::from(connect);
                    let give_up = attempt >= self.limits.max_retries
                        || (connect && connect_failures > MAX_CONNECT_RETRIES);
                    if give_up {
                        return Err(PersonioError::Unreachable {
                            account: self.account.clone(),
                            url,
                            reason: describe_transport_error(&error),
                        });
                    }
                    tracing::debug!(account = %self.account, %url, error = %error, "Retrying after a transport error.");
                    tokio::time::sleep(self.backoff(attempt)).await;
                    attempt += 1;
                    continue;
                }
            };
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let body = match response.bytes().await {
                Ok(body) => body,
                Err(error) => {
                    if attempt >= self.limits.max_retries {
                        return Err(PersonioError::Unreachable {
                            account: self.account.clone(),
                            url,
                            reason: format!("the response body broke off: {error}"),
                        });
                    }
                    tokio::time::sleep(self.backoff(attempt)).await;
                    attempt += 1;
                    continue;
                }
            };
            let content_type = headers
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_ascii_lowercase();
            match status {
                200..=299 => {
                    if call == Call::Api {
                        self.adopt(&headers, generation).await;
                    }
                    let json = self.parse_json(&url, status, &content_type, &body)?;
                    if json.get("success").and_then(Value::as_bool) == Some(false) {
                        let (code, message) = v1_error(&json);
                        return Err(PersonioError::Unsuccessful {
                            account: self.account.clone(),
                            url,
                            code,
                            message,
                        });
                    }
                    return Ok(json);
                }
                429 => {
                    self.counters.add_throttled();
                    if attempt >= self.limits.max_retries {
                        return Err(PersonioError::RateLimited {
                            account: self.account.clone(),
                            url,
                            attempts: attempt + 1,
                        });
                    }
                    let delay = self.throttle_delay(&headers, attempt);
                    tracing::debug!(account = %self.account, %url, ?delay, "Throttled by Personio (429).");
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                500..=599 => {
                    if attempt >= self.limits.max_retries {
                        return Err(PersonioError::Server {
                            account: self.account.clone(),
                            url,
                            status,
                            attempts: attempt + 1,
                            message: describe_body(&content_type, &body),
                        });
                    }
                    tracing::debug!(account = %self.account, %url, status, "Retrying after a server error.");
                    tokio::time::sleep(self.backoff(attempt)).await;
                    attempt += 1;
                }
                400 | 401 | 403 if call != Call::Api => {
                    return Err(PersonioError::Auth {
                        account: self.account.clone(),
                        status,
                        message: describe_body(&content_type, &body),
                    });
                }
                401 | 403 if !refreshed => {
                    // Expired or revoked token: re-authenticate once, then try again.
                    tracing::debug!(account = %self.account, %url, status, "Token rejected; re-authenticating.");
                    refreshed = true;
                    self.invalidate(generation).await;
                }
                401 => {
                    return Err(PersonioError::Auth {
                        account: self.account.clone(),
                        status,
                        message: describe_body(&content_type, &body),
                    });
                }
                403 => {
                    return Err(PersonioError::Forbidden {
                        account: self.account.clone(),
                        url,
                        status,
                        message: describe_body(&content_type, &body),
                    });
                }
                404 => {
                    return Err(PersonioError::NotFound {
                        account: self.account.clone(),
                        what: url,
                    });
                }
                _ => {
                    return Err(PersonioError::Rejected {
                        account: self.account.clone(),
                        url,
                        status,
                        message: describe_body(&content_type, &body),
                    });
                }
            }
        }
    }

    /// Parses a success body; HTML and invalid JSON become clear errors.
    fn parse_json(
        &self,
        url: &str,
        status: u16,
        content_type: &str,
        body: &[u8],
    ) -> Result<Value, PersonioError> {
        let invalid = |problem: String| PersonioError::InvalidResponse {
            account: self.account.clone(),
            url: url.to_string(),
            status,
            problem,
        };
        if looks_like_html(content_type, body) {
            return Err(invalid(format!(
                "an HTML page instead of JSON (starts with \"{}\")",
                first_bytes(body)
            )));
        }
        serde_json::from_slice(body).map_err(|e| {
            invalid(format!(
                "invalid JSON ({e}; body starts with \"{}\")",
                first_bytes(body)
            ))
        })
    }
}

/// The token and its lifetime (seconds) from a v1 or v2 token response.
pub(crate) fn token_from(api: ApiVersion, body: &Value) -> Option<(&str, Option<f64>)> {
    let (token, expires_in) = match api {
        ApiVersion::V1 => (
            body.pointer("/data/token"),
            body.pointer("/data/expires_in"),
        ),
        ApiVersion::V2 => (body.get("access_token"), body.get("expires_in")),
    };
    let token = token?.as_str().filter(|t| !t.trim().is_empty())?;
    Some((token, expires_in.and_then(Value::as_f64)))
}

/// True when the server answered with an HTML page.
fn looks_like_html(content_type: &str, body: &[u8]) -> bool {
    content_type.contains("html") || body.trim_ascii_start().first() == Some(&b'<')
}

/// The first bytes of a body, for error messages (never a whole page).
fn first_bytes(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(120)]);
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `error.code` and `error.message` of a v1 envelope.
pub(crate) fn v1_error(json: &Value) -> (i64, String) {
    let code = json
        .pointer("/error/code")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let message = json_message(json).unwrap_or_else(|| "no message".into());
    (code, message)
}

/// The human message in any of Personio's error shapes (v1 envelope, problem+json, OAuth2).
fn json_message(json: &Value) -> Option<String> {
    let candidates = [
        "/error/message",
        "/errors/0/detail",
        "/errors/0/title",
        "/error_description",
        "/error",
        "/message",
        "/detail",
        "/title",
    ];
    candidates
        .iter()
        .find_map(|p| json.pointer(p).and_then(Value::as_str))
        .map(str::to_string)
}

/// What an error body says, in one line: Personio's message, or what kind of page it was.
pub(crate) fn describe_body(content_type: &str, body: &[u8]) -> String {
    if looks_like_html(content_type, body) {
        return format!(
            "the server answered an HTML page: \"{}\"",
            first_bytes(body)
        );
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(json) => json_message(&json).unwrap_or_else(|| first_bytes(body)),
        Err(_) if body.is_empty() => "empty body".into(),
        Err(_) => format!("a non-JSON body: \"{}\"", first_bytes(body)),
    }
}

/// A one-line reason for a transport failure, including the underlying cause.
fn describe_transport_error(error: &reqwest::Error) -> String {
    let mut text = if error.is_timeout() {
        "timed out".to_string()
    } else if error.is_connect() {
        "connection failed".to_string()
    } else {
        "request failed".to_string()
    };
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
