//! A test world: the simulator, a file target in a temp folder, a SQLite state file and a
//! fixed clock; `engine()` builds a fresh engine on them, as a new process would.
#![allow(
    dead_code,
    reason = "each test binary uses a different part of the harness"
)]

use psync_engine::{
    Engine, FixedClock, PlanOutcome, SourceSetup, StepHook, SyncOptions, TargetSetup,
};
use psync_mapping::MappingConfig;
use psync_model::TargetRecord;
use psync_personio::{AccountConfig, ApiVersion, Limits, PersonioClient};
use psync_personio_sim::{SimConfig, SimHandle};
use psync_planner::Policy;
use psync_targets::file::{FileConfig, FileTarget};
use secrecy::SecretString;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

pub const MAPPING: &str = r#"
[fields]
username = "{{ first_name | ascii | lower | replace(' ', '') }}.{{ last_name | ascii | lower | replace(' ', '') }}"
country_code = "{{ office | lookup('countries') }}"

[lookups.countries]
entries = { Munich = "DE", Berlin = "DE", Vienna = "AT", Zurich = "CH", Madrid = "ES", London = "GB", Amsterdam = "NL" }
default = "XX"

[groups]
levels = ["office", "department"]
"#;

pub struct World {
    pub sim: SimHandle,
    pub dir: PathBuf,
    pub clock: Arc<FixedClock>,
    pub policy: Policy,
    pub mapping: String,
    pub store_url: String,
}

static N: AtomicU64 = AtomicU64::new(0);

impl World {
    pub async fn new(employees: usize) -> World {
        Self::with(SimConfig {
            employees,
            rate_limits: false,
            ..SimConfig::default()
        })
        .await
    }

    pub async fn with(config: SimConfig) -> World {
        let today = config.today;
        let sim = psync_personio_sim::start(config, "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let dir = std::env::temp_dir().join(format!(
            "psync-engine-{}-{}",
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
            mapping: MAPPING.to_string(),
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
            api: ApiVersion::V1,
            app_id: None,
            limits: Limits::unthrottled(),
        })
        .unwrap();
        let config: MappingConfig = toml::from_str(&self.mapping).unwrap();
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
                concurrency: 1,
                attempts: 2,
                target: target.into(),
            }],
            self.clock.clone(),
        )
    }

    pub async fn engine_with_hook(&self, hook: StepHook) -> Engine {
        self.engine().await.with_hook(hook)
    }

    pub async fn sync(&self) -> PlanOutcome {
        self.engine()
            .await
            .sync(
                &SyncOptions {
                    trigger: "test".into(),
                    ..SyncOptions::default()
                },
                None,
            )
            .await
            .unwrap()
    }

    pub async fn plan(&self) -> PlanOutcome {
        self.engine()
            .await
            .sync(
                &SyncOptions {
                    trigger: "test".into(),
                    dry_run: true,
                    ..SyncOptions::default()
                },
                None,
            )
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
            assert!(
                out.insert(record.person.to_string(), record).is_none(),
                "duplicate row"
            );
        }
        out
    }

    pub fn set_today(&self, date: jiff::civil::Date) {
        self.clock.set(
            date.at(12, 0, 0, 0)
                .in_tz("Europe/Berlin")
                .unwrap()
                .timestamp(),
        );
    }
}
