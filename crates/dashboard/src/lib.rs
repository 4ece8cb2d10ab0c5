//! The dashboard of service mode: state, login sessions, CSRF and the router of its pages.
//!
//! Everything is rendered on the server (no script), every value is HTML-escaped, and every
//! page except the login needs a session cookie (`HttpOnly`, `SameSite=Strict`, a random id
//! from the operating system). Every POST form carries the session's CSRF token, compared in
//! constant time; the login form uses a double-submit token in a short-lived cookie.
//!
//! Login: either the admin token alone (user name left empty), or a configured user name with
//! its password. Both are compared in constant time over the full length of the longer value,
//! so neither the position of a first difference nor which user exists shows in the timing.

mod html;
mod pages;

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use psync_engine::{Engine, EngineError};
use secrecy::{ExposeSecret, SecretString};
use std::collections::HashMap;
use std::fmt;
use std::io::Read;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The scheduled next runs: `(target, when)` pairs, asked for on each overview.
pub type NextRuns = Arc<dyn Fn() -> Vec<(String, jiff::Timestamp)> + Send + Sync>;

/// How long a session lives without use.
const SESSION_IDLE: Duration = Duration::from_secs(8 * 3600);
/// Name of the session cookie.
const SESSION_COOKIE: &str = "psync_session";
/// Name of the login form's double-submit cookie.
const LOGIN_COOKIE: &str = "psync_login";

/// A dashboard user with a password (besides the admin token).
#[derive(Clone)]
pub struct User {
    /// Login name.
    pub name: String,
    /// Password, compared in constant time.
    pub password: SecretString,
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// What the dashboard needs: the engine (and through it the store), who may log in, and
/// optionally when the scheduler runs next.
#[derive(Clone)]
pub struct DashboardState {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Arc<Engine>,
    admin_token: Option<SecretString>,
    users: Vec<User>,
    next_runs: Option<NextRuns>,
    secure_cookies: bool,
    sessions: Mutex<HashMap<String, Session>>,
}

/// One logged-in browser.
#[derive(Clone)]
struct Session {
    user: String,
    csrf: String,
    last_seen: Instant,
}

impl fmt::Debug for DashboardState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DashboardState")
            .field("users", &self.inner.users)
            .field("admin_token", &self.inner.admin_token.is_some())
            .finish_non_exhaustive()
    }
}

impl DashboardState {
    /// A dashboard over `engine`; `admin_token` logs in as `admin` (`None`: only `users` can).
    pub fn new(engine: Arc<Engine>, admin_token: Option<SecretString>) -> Self {
        DashboardState {
            inner: Arc::new(Inner {
                engine,
                admin_token,
                users: Vec::new(),
                next_runs: None,
                secure_cookies: false,
                sessions: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Adds users that log in with a name and a password.
    pub fn with_users(self, users: Vec<User>) -> Self {
        self.map(|inner| inner.users = users)
    }

    /// Tells the overview when each target runs next.
    pub fn with_next_runs(self, next_runs: NextRuns) -> Self {
        self.map(|inner| inner.next_runs = Some(next_runs))
    }

    /// Marks cookies `Secure` (set this when browsers reach the dashboard over HTTPS, e.g.
    /// through a TLS-terminating proxy; browsers do not send `Secure` cookies over plain HTTP).
    pub fn with_secure_cookies(self, secure: bool) -> Self {
        self.map(|inner| inner.secure_cookies = secure)
    }

    /// A `Set-Cookie` value for `name` (`max_age` 0 deletes it).
    fn cookie_header(&self, name: &str, value: &str, max_age: Option<u64>) -> HeaderValue {
        let age = max_age
            .map(|s| format!("; Max-Age={s}"))
            .unwrap_or_default();
        let secure = if self.inner.secure_cookies {
            "; Secure"
        } else {
            ""
        };
        HeaderValue::from_str(&format!(
            "{name}={value}; Path=/; HttpOnly; SameSite=Strict{secure}{age}"
        ))
        .unwrap_or_else(|_| HeaderValue::from_static("psync_invalid=; Max-Age=0"))
    }

    fn map(self, change: impl FnOnce(&mut Inner)) -> Self {
        let inner = match Arc::try_unwrap(self.inner) {
            Ok(mut inner) => {
                change(&mut inner);
                inner
            }
            Err(shared) => {
                let mut inner = Inner {
                    engine: shared.engine.clone(),
                    admin_token: shared.admin_token.clone(),
                    users: shared.users.clone(),
                    next_runs: shared.next_runs.clone(),
                    secure_cookies: shared.secure_cookies,
                    sessions: Mutex::new(HashMap::new()),
                };
                change(&mut inner);
                inner
            }
        };
        DashboardState {
            inner: Arc::new(inner),
        }
    }

    fn engine(&self) -> &Arc<Engine> {
        &self.inner.engine
    }

    /// The user name for valid credentials, else `None`.
    fn check_login(&self, user: &str, password: &str) -> Option<String> {
        let user = user.trim();
        if user.is_empty() {
            let token = self.inner.admin_token.as_ref()?;
            return ct_eq(token.expose_secret(), password).then(|| "admin".to_owned());
        }
        // Compare against every user so the timing does not tell which names exist.
        let mut found = None;
        for u in &self.inner.users {
            let name_ok = ct_eq(&u.name, user);
            let pass_ok = ct_eq(u.password.expose_secret(), password);
            if name_ok & pass_ok {
                found = Some(u.name.clone());
            }
        }
        found
    }

    fn sessions(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.inner
            .sessions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn new_session(&self, user: String) -> Result<String, WebError> {
        let id = random_hex()?;
        let csrf = random_hex()?;
        let mut sessions = self.sessions();
        sessions.retain(|_, s| s.last_seen.elapsed() < SESSION_IDLE);
        sessions.insert(
            id.clone(),
            Session {
                user,
                csrf,
                last_seen: Instant::now(),
            },
        );
        Ok(id)
    }

    /// The session of the request's cookie, if valid; refreshes its idle timer.
    fn session(&self, headers: &HeaderMap) -> Option<Session> {
        let id = cookie(headers, SESSION_COOKIE)?;
        let mut sessions = self.sessions();
        let session = sessions.get_mut(&id)?;
        if session.last_seen.elapsed() >= SESSION_IDLE {
            sessions.remove(&id);
            return None;
        }
        session.last_seen = Instant::now();
        Some(session.clone())
    }

    fn end_session(&self, headers: &HeaderMap) {
        if let Some(id) = cookie(headers, SESSION_COOKIE) {
            self.sessions().remove(&id);
        }
    }
}

/// The dashboard's routes, to be merged into the service's router at `/`.
pub fn router(state: DashboardState) -> Router {
    Router::new()
        .route("/", get(pages::overview))
        .route("/login", get(pages::login_form).post(pages::login))
        .route("/logout", post(pages::logout))
        .route("/runs", get(pages::runs))
        .route("/runs/{id}", get(pages::run_detail))
        .route("/held", get(pages::held))
        .route("/held/{run}/approve", post(pages::approve))
        .route("/held/{run}/reject", post(pages::reject))
        .route("/people/{id}", get(pages::person))
        .route("/problems", get(pages::problems))
        .route("/problems/retry", post(pages::retry))
        .route("/sync", post(pages::sync_now))
        .route("/dashboard.css", get(html::stylesheet))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(state)
}

/// Headers every dashboard answer carries: no scripts, no framing, no caching of pages.
async fn security_headers(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// What can go wrong while serving a page.
#[derive(Debug, thiserror::Error)]
enum WebError {
    /// The state store failed.
    #[error("the state store failed: {0}")]
    Store(#[from] psync_store::StoreError),
    /// The engine refused or failed.
    #[error("{0}")]
    Engine(#[from] EngineError),
    /// No such thing.
    #[error("{0}")]
    NotFound(String),
    /// The form's CSRF token is missing or wrong.
    #[error("the form expired or did not come from this dashboard; reload the page and try again")]
    Csrf,
    /// The operating system gave no random bytes.
    #[error("no random bytes for a session id: {0}")]
    Random(std::io::Error),
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        use axum::http::StatusCode;
        let status = match &self {
            WebError::NotFound(_) => StatusCode::NOT_FOUND,
            WebError::Csrf => StatusCode::FORBIDDEN,
            WebError::Engine(_) => StatusCode::CONFLICT,
            WebError::Store(_) | WebError::Random(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if status.is_server_error() {
            tracing::error!(error = %self, "dashboard page failed");
        }
        (status, html::error_page(status, &self.to_string())).into_response()
    }
}

/// A logged-in request, or the redirect to the login page.
fn require(state: &DashboardState, headers: &HeaderMap) -> Result<Session, Redirect> {
    state.session(headers).ok_or_else(|| Redirect::to("/login"))
}

/// Checks a form's CSRF token against the session's.
fn check_csrf(session: &Session, token: &str) -> Result<(), WebError> {
    if ct_eq(&session.csrf, token) {
        Ok(())
    } else {
        Err(WebError::Csrf)
    }
}

/// Runs an engine call on a blocking thread that drives it (the engine's futures are not
/// provably `Send`; see `psync_server`'s `on_engine`).
async fn on_engine<T: Send + 'static>(
    engine: Arc<Engine>,
    call: impl for<'a> FnOnce(
        &'a Engine,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = T> + 'a>>
    + Send
    + 'static,
) -> Result<T, WebError> {
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || handle.block_on(call(&engine)))
        .await
        .map_err(|e| WebError::Engine(EngineError::Unknown(format!("the task ended: {e}"))))
}

/// Equality that takes the same time wherever the first difference is.
fn ct_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut diff = u8::from(a.len() != b.len());
    for i in 0..a.len().max(b.len()) {
        diff |= a.get(i).copied().unwrap_or(0) ^ b.get(i).copied().unwrap_or(0);
    }
    std::hint::black_box(diff) == 0
}

/// 32 random bytes from the operating system, as hex.
fn random_hex() -> Result<String, WebError> {
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(WebError::Random)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// A cookie's value from the request.
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}
