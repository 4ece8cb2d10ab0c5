//! A loopback JSON API for tests of the REST target: a small "users" API (one request per
//! operation), a "users/sync" batch endpoint with per-user results, an OAuth2 token endpoint,
//! a record of every request, and scripted answers (4xx, 5xx, 429 with `Retry-After`, HTML,
//! slow) for the requests to come. Plain HTTP/1.1 over tokio, no framework.
//!
//! Endpoints:
//! - `POST /users` (409 when the `external_id` exists), `GET /users/by-external-id/{id}`,
//!   `PUT /users/{id}`, `DELETE /users/{id}`; accounts get ids `u1`, `u2`…
//! - `POST /api/enterprise/v1/users/sync` with `{"users": [...]}`: each user is upserted by
//!   `external_id` (`"deleted": true` removes it) and answered in `results` with `status`
//!   (`created`, `updated`, `unchanged`, `deleted`), `id`, and `error` for a user whose
//!   `email` has no `@`.
//! - `POST /oauth/token`: client credentials → a fresh token (`expires_in` 3600).
//! - `GET …/health` (any path ending in `health`).
//!
//! Every endpoint but the token endpoint checks credentials: `Authorization: Bearer` with the
//! configured token or an issued OAuth2 token, or the configured `X-API-Key`/`X-API-Secret`.

use serde_json::{Value as Json, json};
use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// One request as received.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// Method.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Headers, names lower-case.
    pub headers: BTreeMap<String, String>,
    /// The body parsed as JSON (`Null` when empty or not JSON).
    pub body: Json,
}

/// An answer to give instead of the normal one.
#[derive(Debug, Clone)]
pub struct Scripted {
    /// Status code.
    pub status: u16,
    /// Body text.
    pub body: String,
    /// `Content-Type`.
    pub content_type: &'static str,
    /// `Retry-After` seconds, if any.
    pub retry_after: Option<u64>,
    /// Waits this long before answering.
    pub delay: Duration,
}

impl Scripted {
    /// A JSON answer with this status.
    pub fn status(status: u16, body: Json) -> Self {
        Scripted {
            status,
            body: body.to_string(),
            content_type: "application/json",
            retry_after: None,
            delay: Duration::ZERO,
        }
    }

    /// An HTML error page (a proxy in the way).
    pub fn html(status: u16) -> Self {
        Scripted {
            status,
            body: "<html><body><h1>502 Bad Gateway</h1></body></html>".into(),
            content_type: "text/html",
            retry_after: None,
            delay: Duration::ZERO,
        }
    }

    /// With `Retry-After`.
    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// Answers only after `delay`.
    pub fn slow(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

/// What the receiver holds.
#[derive(Debug, Default)]
pub struct State {
    /// Accounts by external id.
    pub users: BTreeMap<String, Json>,
    /// Every request, in order.
    pub requests: Vec<Recorded>,
    /// Answers for the next requests (token requests excluded).
    pub script: VecDeque<Scripted>,
    /// Accepted bearer token.
    pub token: Option<String>,
    /// Accepted API key and secret.
    pub api_key: Option<(String, String)>,
    /// Accepted OAuth2 client (id, secret).
    pub client: Option<(String, String)>,
    /// Tokens issued by `/oauth/token` and still accepted (clear it to revoke them).
    pub issued: Vec<String>,
    /// How many tokens were issued in all.
    pub tokens_issued: u64,
    next_id: u64,
}

/// A running receiver; stops when dropped.
#[derive(Debug)]
pub struct Receiver {
    /// Base URL (`http://127.0.0.1:port`).
    pub url: String,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Receiver {
    /// Starts on a free loopback port with these credentials.
    pub async fn start(setup: impl FnOnce(&mut State)) -> std::io::Result<Receiver> {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let url = format!("http://{}", listener.local_addr()?);
        let mut state = State::default();
        setup(&mut state);
        let state = Arc::new(Mutex::new(state));
        let shared = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = shared.clone();
                tokio::spawn(async move {
                    let _ = serve(stream, state).await;
                });
            }
        });
        Ok(Receiver { url, state, task })
    }

    /// The state, to look at or change.
    pub fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues answers for the next requests.
    pub fn script(&self, answers: impl IntoIterator<Item = Scripted>) {
        self.state().script.extend(answers);
    }

    /// The requests received so far (token requests included).
    pub fn requests(&self) -> Vec<Recorded> {
        self.state().requests.clone()
    }
}

async fn serve(stream: tokio::net::TcpStream, state: Arc<Mutex<State>>) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_string();
        let path = parts.next().unwrap_or_default().to_string();
        let mut headers = BTreeMap::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).await? == 0 {
                return Ok(());
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
            }
        }
        let length: usize = headers
            .get("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; length];
        reader.read_exact(&mut body).await?;
        let text = String::from_utf8_lossy(&body).to_string();
        let request = Recorded {
            method,
            path,
            headers,
            body: serde_json::from_str(&text).unwrap_or(Json::Null),
        };
        let answer = {
            let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
            s.requests.push(request.clone());
            answer(&mut s, &request, &text)
        };
        if !answer.delay.is_zero() {
            tokio::time::sleep(answer.delay).await;
        }
        let mut head = format!(
            "HTTP/1.1 {} X\r\nContent-Type: {}\r\nContent-Length: {}\r\n",
            answer.status,
            answer.content_type,
            answer.body.len()
        );
        if let Some(secs) = answer.retry_after {
            head.push_str(&format!("Retry-After: {secs}\r\n"));
        }
        head.push_str("\r\n");
        // One write: head and body in separate small segments would meet delayed ACKs.
        head.push_str(&answer.body);
        write.write_all(head.as_bytes()).await?;
        write.flush().await?;
    }
}

fn answer(s: &mut State, r: &Recorded, raw: &str) -> Scripted {
    if r.path == "/oauth/token" {
        let form: BTreeMap<String, String> = raw
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let ok = s.client.as_ref().is_some_and(|(id, secret)| {
            form.get("client_id") == Some(id) && form.get("client_secret") == Some(secret)
        });
        if !ok {
            return Scripted::status(401, json!({"error": "invalid_client"}));
        }
        s.tokens_issued += 1;
        let token = format!("issued-{}", s.tokens_issued);
        s.issued.push(token.clone());
        return Scripted::status(
            200,
            json!({"access_token": token, "token_type": "Bearer", "expires_in": 3600}),
        );
    }
    if let Some(scripted) = s.script.pop_front() {
        return scripted;
    }
    if !authorized(s, r) {
        return Scripted::status(401, json!({"error": "unauthorized"}));
    }
    let path = r.path.split('?').next().unwrap_or_default();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (r.method.as_str(), segments.as_slice()) {
        ("GET", [.., "health"]) => Scripted::status(200, json!({"ok": true})),
        ("POST", ["users"]) => {
            let Some(ext) = text(&r.body["external_id"]) else {
                return Scripted::status(400, json!({"message": "external_id is required"}));
            };
            if s.users.contains_key(&ext) {
                return Scripted::status(
                    409,
                    json!({"message": "a user with this external_id exists"}),
                );
            }
            s.next_id += 1;
            let id = format!("u{}", s.next_id);
            let mut user = r.body.clone();
            user["id"] = json!(id);
            s.users.insert(ext, user);
            Scripted::status(201, json!({"id": id}))
        }
        ("GET", ["users", "by-external-id", ext]) => match s.users.get(*ext) {
            Some(u) => Scripted::status(200, u.clone()),
            None => Scripted::status(404, json!({"message": "no such user"})),
        },
        ("PUT", ["users", id]) => {
            let Some(ext) = find(s, id) else {
                return Scripted::status(404, json!({"message": "no such user"}));
            };
            let mut user = r.body.clone();
            user["id"] = json!(id);
            user["external_id"] = json!(ext);
            s.users.insert(ext, user);
            Scripted::status(200, json!({"id": id}))
        }
        ("DELETE", ["users", id]) => match find(s, id) {
            Some(ext) => {
                s.users.remove(&ext);
                Scripted::status(204, Json::Null).with_empty_body()
            }
            None => Scripted::status(404, json!({"message": "no such user"})),
        },
        ("POST", ["api", "enterprise", "v1", "users", "sync"]) => sync(s, &r.body),
        _ => Scripted::status(
            404,
            json!({"message": format!("no route {} {path}", r.method)}),
        ),
    }
}

impl Scripted {
    fn with_empty_body(mut self) -> Self {
        self.body.clear();
        self
    }
}

fn sync(s: &mut State, body: &Json) -> Scripted {
    let Some(users) = body["users"].as_array() else {
        return Scripted::status(400, json!({"message": "users must be an array"}));
    };
    let mut results = Vec::new();
    for user in users {
        let Some(ext) = text(&user["external_id"]) else {
            results.push(json!({"external_id": null, "error": "external_id is required"}));
            continue;
        };
        if user
            .get("email")
            .and_then(Json::as_str)
            .is_some_and(|e| !e.contains('@'))
        {
            results.push(json!({"external_id": ext, "error": "email is not an e-mail address"}));
            continue;
        }
        if user["deleted"] == true || user["status"] == "deleted" {
            let status = if s.users.remove(&ext).is_some() {
                "deleted"
            } else {
                "unchanged"
            };
            results.push(json!({"external_id": ext, "status": status, "error": null}));
            continue;
        }
        let mut stored = user.clone();
        let (status, id) = match s.users.get(&ext) {
            Some(old) => {
                let id = old["id"].clone();
                stored["id"] = id.clone();
                (
                    if *old == stored {
                        "unchanged"
                    } else {
                        "updated"
                    },
                    id,
                )
            }
            None => {
                s.next_id += 1;
                let id = json!(format!("u{}", s.next_id));
                stored["id"] = id.clone();
                ("created", id)
            }
        };
        s.users.insert(ext.clone(), stored);
        results.push(json!({"external_id": ext, "status": status, "id": id, "error": null}));
    }
    Scripted::status(200, json!({"results": results}))
}

fn authorized(s: &State, r: &Recorded) -> bool {
    let bearer = r
        .headers
        .get("authorization")
        .and_then(|v| v.strip_prefix("Bearer "));
    if let Some(b) = bearer
        && (s.token.as_deref() == Some(b) || s.issued.iter().any(|t| t == b))
    {
        return true;
    }
    if let Some((key, secret)) = &s.api_key {
        return r.headers.get("x-api-key") == Some(key)
            && r.headers.get("x-api-secret") == Some(secret);
    }
    false
}

fn find(s: &State, id: &str) -> Option<String> {
    s.users
        .iter()
        .find(|(_, u)| u["id"] == id)
        .map(|(ext, _)| ext.clone())
}

fn text(v: &Json) -> Option<String> {
    match v {
        Json::String(s) if !s.is_empty() => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        _ => None,
    }
}
