//! A test world for the service: the simulator, a file target in a temp folder, a SQLite
//! state file, a fixed clock, and the service on a loopback port.
#![allow(
    dead_code,
    clippy::unwrap_used,
    reason = "test harness; each test binary uses a different part"
)]

use psync_engine::{Engine, FixedClock, SourceSetup, TargetSetup};
use psync_mapping::MappingConfig;
use psync_model::TargetRecord;
use psync_personio::{AccountConfig, ApiVersion, Limits, PersonioClient};
use psync_personio_sim::{SimConfig, SimHandle};
use psync_planner::Policy;
use psync_server::webhook::WebhookAccount;
use psync_server::{Service, Settings};
use psync_targets::file::{FileConfig, FileTarget};
use secrecy::SecretString;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub const MAPPING: &str = r#"
[fields]
username = "{{ first_name | ascii | lower | replace(' ', '') }}.{{ last_name | ascii | lower | replace(' ', '') }}"

[groups]
levels = ["department"]
"#;

pub const TOKEN: &str = "Bearer acme-hook-secret";
pub const OTHER_TOKEN: &str = "Bearer other-hook-secret";
pub const ADMIN: &str = "admin-secret-token";

pub struct World {
    pub sim: SimHandle,
    pub dir: PathBuf,
    pub clock: Arc<FixedClock>,
    pub policy: Policy,
    pub store_url: String,
}

static N: AtomicU64 = AtomicU64::new(0);

impl World {
    pub async fn new(employees: usize) -> World {
        let config = SimConfig {
            employees,
            rate_limits: false,
            ..SimConfig::default()
        };
        let today = config.today;
        let sim = psync_personio_sim::start(config, "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let dir = std::env::temp_dir().join(format!(
            "psync-server-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let noon = today
            .at(12, 0, 0, 0)
            .in_tz("Europe/Berlin")
            .unwrap()
            .timestamp();
        let store_url = format!("sqlite://{}", dir.join("state.sqlite").display());
        World {
            sim,
            dir,
            clock: Arc::new(FixedClock::new(noon)),
            policy: Policy {
                max_deprovision: None,
                ..Policy::default()
            },
            store_url,
        }
    }

    pub fn out(&self) -> PathBuf {
        self.dir.join("out")
    }

    pub async fn engine(&self) -> Engine {
        let client = PersonioClient::new(AccountConfig {
            name: "acme".into(),
            base_url: self.sim.base_url(),
            client_id: "sim-client".into(),
            client_secret: SecretString::from("sim-secret"),
            api: ApiVersion::V2,
            app_id: None,
            limits: Limits::unthrottled(),
        })
        .unwrap();
        let config: MappingConfig = toml::from_str(MAPPING).unwrap();
        let mapping = psync_mapping::compile("files", &config).unwrap_or_else(|p| panic!("{p:?}"));
        let target = FileTarget::new("files", FileConfig::new(self.out())).unwrap();
        let store = psync_store::open(&self.store_url).await.unwrap();
        Engine::new(
            store,
            vec![SourceSetup {
                name: "acme".into(),
                client,
            }],
            vec![TargetSetup {
                name: "files".into(),
                source: "acme".into(),
                mapping,
                policy: self.policy.clone(),
                max_shrink_percent: 20.0,
                concurrency: 4,
                attempts: 2,
                target: target.into(),
            }],
            self.clock.clone(),
        )
        .locked(&self.store_url)
    }

    pub fn settings(&self) -> Settings {
        let mut s = Settings::new(self.dir.join("data"));
        s.admin_token = Some(SecretString::from(ADMIN));
        s.debounce = Duration::ZERO;
        s.request_timeout = Duration::from_secs(1);
        s.max_body_bytes = 16 * 1024;
        s.webhooks = vec![
            WebhookAccount {
                name: "acme".into(),
                tokens: vec![SecretString::from(TOKEN)],
                company_id: Some("4711".into()),
            },
            WebhookAccount {
                name: "other".into(),
                tokens: vec![SecretString::from(OTHER_TOKEN)],
                company_id: None,
            },
        ];
        s.notify.dry_run = true;
        s
    }

    pub async fn service(&self, settings: Settings) -> Service {
        Service::new(Arc::new(self.engine().await), self.clock.clone(), settings)
            .await
            .unwrap()
    }

    /// The records in the file target's JSONL snapshot, by person id.
    pub fn records(&self) -> BTreeMap<String, TargetRecord> {
        let path = self.out().join("files.jsonl");
        let Ok(text) = std::fs::read_to_string(&path) else {
            return BTreeMap::new();
        };
        let mut out = BTreeMap::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let record: TargetRecord = serde_json::from_str(line).unwrap();
            out.insert(record.person.to_string(), record);
        }
        out
    }
}

/// A served service: its address and a way to stop it.
pub struct Running {
    pub addr: SocketAddr,
    pub base: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let _ = self.task.await;
    }
}

pub async fn serve(service: &Service) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let app = service.router();
    let task = tokio::spawn(async move {
        psync_server::serve(
            listener,
            app,
            Duration::from_secs(1),
            Duration::from_secs(5),
            async {
                let _ = rx.await;
            },
        )
        .await
        .unwrap();
    });
    Running {
        addr,
        base: format!("http://{addr}"),
        stop: Some(tx),
        task,
    }
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// Subscribes `url` to every person and employment event of the simulator (v2 API).
pub async fn subscribe(sim: &SimHandle, url: &str, token: &str) -> String {
    let client = http();
    let auth: serde_json::Value = client
        .post(format!("{}/v2/auth/token", sim.base_url()))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "sim-client"),
            ("client_secret", "sim-secret"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let bearer = auth["access_token"].as_str().unwrap().to_string();
    let created: serde_json::Value = client
        .post(format!("{}/v2/webhooks", sim.base_url()))
        .bearer_auth(bearer)
        .json(&serde_json::json!({
            "url": url,
            "description": "test",
            "status": "ENABLED",
            "auth_type": "TOKEN",
            "token": token,
            "enabled_events": ["person.created", "person.updated", "person.deleted",
                "employment.created", "employment.updated", "employment.deleted"],
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    created["id"].as_str().unwrap().to_string()
}

/// Polls `check` every 20 ms until it holds; fails after a generous minute (a hang, not a
/// performance bound).
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..3000 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for: {what}");
}

pub fn envelope(event: &str, person: &str, occurred_at: &str) -> serde_json::Value {
    let mut payload = serde_json::json!({ "id": person });
    if event.starts_with("employment.") {
        payload = serde_json::json!({ "id": "e-1", "person_id": person });
    }
    serde_json::json!({
        "company_id": "4711",
        "event_name": event,
        "occurred_at": occurred_at,
        "payload": payload,
        "meta": {},
    })
}
