//! Personio v2 webhook intake: token check in constant time, size and time limits, a durable
//! append-only event journal written before the answer, de-duplication of replays, and a
//! per-person debounce queue that coalesces bursts into one one-person sync.

use jiff::Timestamp;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::sync::{Notify, mpsc, oneshot};

/// Events of the journal older than this are dropped when the journal is opened (Personio
/// retries deliveries for up to six days).
pub const RETENTION: Duration = Duration::from_secs(8 * 24 * 3600);

/// One Personio account's intake.
#[derive(Clone)]
pub struct WebhookAccount {
    /// The account (the `[[personio]]` name); its URL is `/webhooks/personio/{name}`.
    pub name: String,
    /// Accepted `Authorization` values (several during a token rotation).
    pub tokens: Vec<SecretString>,
    /// When set, deliveries for another company are refused.
    pub company_id: Option<String>,
}

impl fmt::Debug for WebhookAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookAccount")
            .field("name", &self.name)
            .field("tokens", &format!("[{} redacted]", self.tokens.len()))
            .field("company_id", &self.company_id)
            .finish()
    }
}

/// Compares two byte strings in time that depends only on their lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = u8::from(a.len() != b.len());
    let n = a.len().max(b.len());
    for i in 0..n {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0xff);
        diff |= x ^ y;
    }
    diff == 0
}

/// Whether `presented` equals one of `tokens`; every token is compared.
pub fn token_matches(tokens: &[SecretString], presented: &str) -> bool {
    let mut ok = false;
    for t in tokens {
        ok |= constant_time_eq(t.expose_secret().as_bytes(), presented.as_bytes());
    }
    ok
}

/// The parts of a v2 delivery envelope the service reads.
#[derive(Debug, Deserialize)]
pub struct Envelope {
    /// Personio company.
    #[serde(default)]
    pub company_id: Option<serde_json::Value>,
    /// `person.updated`, `employment.created`, …
    pub event_name: String,
    /// When it happened.
    pub occurred_at: String,
    /// Identifiers only.
    pub payload: serde_json::Map<String, serde_json::Value>,
}

fn id_of(v: Option<&serde_json::Value>) -> Option<String> {
    match v? {
        serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

impl Envelope {
    /// The person the event is about, when it is about one.
    pub fn person(&self) -> Option<String> {
        if self.event_name.starts_with("person.") {
            id_of(self.payload.get("id"))
        } else if self.event_name.starts_with("employment.") {
            id_of(self.payload.get("person_id"))
        } else {
            None
        }
    }

    /// The replay key: a delivery and its retries carry the same envelope.
    pub fn key(&self, account: &str) -> String {
        let mut h = Sha256::new();
        for part in [
            account,
            &self.event_name,
            &self.occurred_at,
            &serde_json::Value::Object(self.payload.clone()).to_string(),
        ] {
            h.update(part.as_bytes());
            h.update([0u8]);
        }
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// One journal line.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
enum Line {
    Event {
        k: String,
        a: String,
        p: String,
        e: String,
        at: Timestamp,
    },
    Done {
        done: String,
    },
}

type Ack = oneshot::Sender<std::io::Result<()>>;

/// The append-only journal: lines are written and synced to disk in groups by one task.
#[derive(Debug, Clone)]
pub struct Journal {
    tx: mpsc::Sender<(String, Ack)>,
}

/// What the journal held when opened.
#[derive(Debug, Default)]
pub struct Recovered {
    /// Every key seen (replays are refused).
    pub seen: HashSet<String>,
    /// Events not yet processed: (account, person, key).
    pub pending: Vec<(String, String, String)>,
}

impl Journal {
    /// Opens (creating) the journal at `path`, drops events older than [`RETENTION`] by
    /// rewriting it, and starts the writer task.
    pub async fn open(path: &Path, now: Timestamp) -> std::io::Result<(Journal, Recovered)> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(dir).await?;
        }
        let text = match tokio::fs::read_to_string(path).await {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(e),
        };
        let cutoff = now
            .checked_sub(jiff::SignedDuration::from_secs(RETENTION.as_secs() as i64))
            .unwrap_or(now);
        let mut events: Vec<(String, String, String, String, Timestamp)> = Vec::new();
        let mut done: HashSet<String> = HashSet::new();
        for line in text.lines() {
            // A torn last line (a crash while writing) is skipped: its delivery was not acked.
            match serde_json::from_str::<Line>(line) {
                Ok(Line::Event { k, a, p, e, at }) if at >= cutoff => events.push((k, a, p, e, at)),
                Ok(Line::Done { done: k }) => {
                    done.insert(k);
                }
                _ => {}
            }
        }
        let mut recovered = Recovered::default();
        let mut kept = String::new();
        for (k, a, p, e, at) in events {
            if !recovered.seen.insert(k.clone()) {
                continue;
            }
            let is_done = done.contains(&k);
            if let Ok(l) = serde_json::to_string(&Line::Event {
                k: k.clone(),
                a: a.clone(),
                p: p.clone(),
                e,
                at,
            }) {
                kept.push_str(&l);
                kept.push('\n');
            }
            if is_done {
                if let Ok(l) = serde_json::to_string(&Line::Done { done: k.clone() }) {
                    kept.push_str(&l);
                    kept.push('\n');
                }
            } else {
                recovered.pending.push((a, p, k));
            }
        }
        let tmp = path.with_extension("tmp");
        tokio::fs::write(&tmp, kept.as_bytes()).await?;
        tokio::fs::rename(&tmp, path).await?;
        let file = tokio::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)
            .await?;
        let (tx, rx) = mpsc::channel(4096);
        tokio::spawn(writer(file, rx));
        Ok((Journal { tx }, recovered))
    }

    async fn append(&self, line: &Line) -> std::io::Result<()> {
        let text = serde_json::to_string(line).map_err(std::io::Error::other)?;
        let (ack, done) = oneshot::channel();
        self.tx
            .send((text, ack))
            .await
            .map_err(|_| std::io::Error::other("the journal writer stopped"))?;
        done.await
            .map_err(|_| std::io::Error::other("the journal writer stopped"))?
    }
}

/// Writes queued lines, then syncs once for the whole group, then acknowledges each.
async fn writer(mut file: tokio::fs::File, mut rx: mpsc::Receiver<(String, Ack)>) {
    while let Some(first) = rx.recv().await {
        let mut group = vec![first];
        while group.len() < 1024 {
            match rx.try_recv() {
                Ok(item) => group.push(item),
                Err(_) => break,
            }
        }
        let mut buf = String::new();
        for (line, _) in &group {
            buf.push_str(line);
            buf.push('\n');
        }
        let result = async {
            file.write_all(buf.as_bytes()).await?;
            file.sync_data().await
        }
        .await;
        for (_, ack) in group {
            let _ = ack.send(match &result {
                Ok(()) => Ok(()),
                Err(e) => Err(std::io::Error::new(e.kind(), e.to_string())),
            });
        }
    }
}

/// People waiting for a sync, each with the events that asked for it.
#[derive(Debug)]
struct Waiting {
    due: Instant,
    first: Instant,
    keys: Vec<String>,
}

/// A person whose sync is due: (account, person id, the event keys it answers).
pub type DuePerson = (String, String, Vec<String>);

/// How a delivery was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intake {
    /// Journaled and queued.
    Accepted,
    /// Seen before: nothing queued.
    Duplicate,
    /// Not about a person: nothing to do.
    Ignored,
}

/// The queue between intake and the one-person syncs.
#[derive(Debug)]
pub struct Queue {
    journal: Journal,
    seen: Mutex<HashMap<String, Instant>>,
    waiting: Mutex<HashMap<(String, String), Waiting>>,
    debounce: Duration,
    paused: std::sync::atomic::AtomicBool,
    /// Woken when something was queued or the queue was resumed.
    pub wake: Notify,
}

impl Queue {
    /// A queue over an opened journal; recovered pending events are queued at once.
    pub fn new(journal: Journal, recovered: Recovered, debounce: Duration) -> Queue {
        let now = Instant::now();
        let mut waiting: HashMap<(String, String), Waiting> = HashMap::new();
        for (account, person, key) in recovered.pending {
            waiting
                .entry((account, person))
                .or_insert(Waiting {
                    due: now,
                    first: now,
                    keys: Vec::new(),
                })
                .keys
                .push(key);
        }
        Queue {
            journal,
            seen: Mutex::new(recovered.seen.into_iter().map(|k| (k, now)).collect()),
            waiting: Mutex::new(waiting),
            debounce,
            paused: std::sync::atomic::AtomicBool::new(false),
            wake: Notify::new(),
        }
    }

    fn seen(&self) -> std::sync::MutexGuard<'_, HashMap<String, Instant>> {
        self.seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn waiting(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), Waiting>> {
        self.waiting
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Takes a delivery: refuses a replay, journals it durably, then queues the person.
    pub async fn take(
        &self,
        account: &str,
        envelope: &Envelope,
        now: Timestamp,
    ) -> std::io::Result<Intake> {
        let Some(person) = envelope.person() else {
            return Ok(Intake::Ignored);
        };
        let key = envelope.key(account);
        {
            let mut seen = self.seen();
            if seen.contains_key(&key) {
                return Ok(Intake::Duplicate);
            }
            // Keys older than the retention are forgotten now and then (Personio stops
            // retrying long before), so a long-running service does not grow without bound.
            if seen.len() % 65_536 == 65_535 {
                seen.retain(|_, at| at.elapsed() < RETENTION);
            }
            seen.insert(key.clone(), Instant::now());
        }
        let line = Line::Event {
            k: key.clone(),
            a: account.to_string(),
            p: person.clone(),
            e: envelope.event_name.clone(),
            at: now,
        };
        if let Err(e) = self.journal.append(&line).await {
            self.seen().remove(&key);
            return Err(e);
        }
        let at = Instant::now();
        // Bursts are coalesced: each event moves the person's sync later, by at most ten
        // debounce periods after the first event.
        {
            let mut waiting = self.waiting();
            let w = waiting
                .entry((account.to_string(), person))
                .or_insert(Waiting {
                    due: at,
                    first: at,
                    keys: Vec::new(),
                });
            w.due = (at + self.debounce).min(w.first + self.debounce * 10);
            w.keys.push(key);
        }
        self.wake.notify_one();
        Ok(Intake::Accepted)
    }

    /// People whose debounce has passed (none while paused), removed from the queue, with
    /// their event keys; and when the next one falls due.
    pub fn take_due(&self) -> (Vec<DuePerson>, Option<Instant>) {
        if self.paused.load(std::sync::atomic::Ordering::SeqCst) {
            return (Vec::new(), None);
        }
        let now = Instant::now();
        let mut waiting = self.waiting();
        let due: Vec<(String, String)> = waiting
            .iter()
            .filter(|(_, w)| w.due <= now)
            .map(|(k, _)| k.clone())
            .collect();
        let mut out = Vec::new();
        for k in due {
            if let Some(w) = waiting.remove(&k) {
                out.push((k.0, k.1, w.keys));
            }
        }
        let next = waiting.values().map(|w| w.due).min();
        (out, next)
    }

    /// Records that these events were handled (a restart will not replay them).
    pub async fn done(&self, keys: &[String]) -> std::io::Result<()> {
        for k in keys {
            self.journal.append(&Line::Done { done: k.clone() }).await?;
        }
        Ok(())
    }

    /// Stops handing out work (maintenance, tests, shutdown); deliveries are still taken.
    pub fn pause(&self) {
        self.paused.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Hands out work again.
    pub fn resume(&self) {
        self.paused
            .store(false, std::sync::atomic::Ordering::SeqCst);
        self.wake.notify_one();
    }

    /// People waiting.
    pub fn pending(&self) -> usize {
        self.waiting().len()
    }
}

/// The journal's file in a data directory.
pub fn journal_path(dir: &Path) -> PathBuf {
    dir.join("webhook-events.jsonl")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_eq_compares_whole_strings() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(!constant_time_eq(b"", b"a"));
        assert!(constant_time_eq(b"", b""));
    }
}
