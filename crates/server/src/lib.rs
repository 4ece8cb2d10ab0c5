//! Service mode of personio-sync (`personio-sync serve`): a scheduler, Personio v2 webhook
//! intake, an admin JSON API with an OpenAPI document, health and Prometheus metrics,
//! notifications, and graceful shutdown, around one [`psync_engine::Engine`].
//!
//! No two syncs of one target run at once inside the service (a lock per target, besides the
//! engine's lock file against other processes). A webhook only ever triggers a one-person sync,
//! which never deprovisions; full syncs run on schedule.
//!
//! The service needs a multi-thread tokio runtime: engine calls are driven on blocking-pool
//! threads through the runtime's handle.

pub mod api;
pub mod cron;
mod http;
pub mod metrics;
pub mod notify;
pub mod openapi;
pub mod schedule;
pub mod webhook;

pub use http::serve;

use crate::metrics::{Gauges, Metrics};
use crate::notify::{Notice, NoticeKind, Notifier, NotifySettings};
use crate::schedule::{Job, Scheduler};
use crate::webhook::{Queue, WebhookAccount};
use jiff::Timestamp;
use psync_engine::{Clock, Engine, EngineError, PlanOutcome, SyncOptions, TargetStatus};
use psync_model::EmployeeId;
use psync_store::StateStore;
use secrecy::SecretString;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Mutex as AsyncMutex, watch};

/// Runs an engine call on a blocking thread that drives it on the current runtime: the
/// compiler cannot prove the engine's futures `Send` (its store futures are trait futures), so
/// they are never moved between threads; the call is created and finished on one thread.
async fn on_engine<T: Send + 'static>(
    engine: Arc<Engine>,
    call: impl for<'a> FnOnce(
        &'a Engine,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = T> + 'a>>
    + Send
    + 'static,
) -> Result<T, EngineError> {
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || handle.block_on(call(&engine)))
        .await
        .map_err(|e| EngineError::Unknown(format!("the sync task ended abnormally: {e}")))
}

/// Everything the service needs besides the engine.
#[derive(Clone)]
pub struct Settings {
    /// Bearer token of the admin API (`None`: the API answers 401 to everyone).
    pub admin_token: Option<SecretString>,
    /// Webhook intake per Personio account.
    pub webhooks: Vec<WebhookAccount>,
    /// Where the webhook event journal lives.
    pub data_dir: PathBuf,
    /// Quiet time after a person's last event before their sync.
    pub debounce: Duration,
    /// Largest webhook body accepted.
    pub max_body_bytes: usize,
    /// A request's headers and body must arrive within this time.
    pub request_timeout: Duration,
    /// The schedules.
    pub jobs: Vec<Job>,
    /// Notifications.
    pub notify: NotifySettings,
    /// Longest wait for running syncs on shutdown.
    pub shutdown_grace: Duration,
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field(
                "admin_token",
                &self.admin_token.as_ref().map(|_| "[redacted]"),
            )
            .field("webhooks", &self.webhooks)
            .field("data_dir", &self.data_dir)
            .field("debounce", &self.debounce)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("request_timeout", &self.request_timeout)
            .field("jobs", &self.jobs)
            .field("notify", &self.notify)
            .field("shutdown_grace", &self.shutdown_grace)
            .finish()
    }
}

impl Settings {
    /// Defaults: 2 s debounce, 64 KiB bodies, 10 s request timeout, no schedule.
    pub fn new(data_dir: PathBuf) -> Settings {
        Settings {
            admin_token: None,
            webhooks: Vec::new(),
            data_dir,
            debounce: Duration::from_secs(2),
            max_body_bytes: 64 * 1024,
            request_timeout: Duration::from_secs(10),
            jobs: Vec::new(),
            notify: NotifySettings::default(),
            shutdown_grace: Duration::from_secs(300),
        }
    }
}

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The webhook journal could not be opened.
    #[error("webhook journal {path}: {source}")]
    Journal {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The state store could not be read.
    #[error(transparent)]
    Store(#[from] psync_store::StoreError),
    /// The listener failed.
    #[error("listener: {0}")]
    Io(#[from] std::io::Error),
}

/// The running service; cheap to clone.
#[derive(Clone)]
pub struct Service {
    inner: Arc<Inner>,
}

impl fmt::Debug for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Service")
            .field("settings", &self.inner.settings)
            .finish_non_exhaustive()
    }
}

struct Inner {
    engine: Arc<Engine>,
    clock: Arc<dyn Clock>,
    settings: Settings,
    locks: HashMap<String, Arc<AsyncMutex<()>>>,
    metrics: Arc<Metrics>,
    notifier: Notifier,
    scheduler: Scheduler,
    queue: Queue,
    stop: watch::Sender<bool>,
    quarantined: std::sync::Mutex<BTreeMap<String, String>>,
    started: Instant,
}

/// What a request to sync asked for.
#[derive(Debug, Clone, Default)]
pub struct SyncRequest {
    /// One target, or all.
    pub target: Option<String>,
    /// One person (never deprovisions), or everyone.
    pub employee: Option<EmployeeId>,
    /// `schedule`, `webhook`, `api`.
    pub trigger: String,
}

impl Service {
    /// Builds the service: opens the webhook journal (re-queueing unprocessed events) and
    /// reads when each target last ran by schedule. Starts nothing; see [`Service::start`].
    pub async fn new(
        engine: Arc<Engine>,
        clock: Arc<dyn Clock>,
        settings: Settings,
    ) -> Result<Service, ServiceError> {
        let path = webhook::journal_path(&settings.data_dir);
        let (journal, recovered) =
            webhook::Journal::open(&path, clock.now())
                .await
                .map_err(|source| ServiceError::Journal {
                    path: path.display().to_string(),
                    source,
                })?;
        let queue = Queue::new(journal, recovered, settings.debounce);
        let mut last: BTreeMap<String, Timestamp> = BTreeMap::new();
        for run in engine.store().runs(10_000).await? {
            if run.trigger == "schedule"
                && let Some(t) = run.target
            {
                last.entry(t).or_insert(run.started_at);
            }
        }
        let scheduler = Scheduler::new(settings.jobs.clone(), &last, clock.now());
        let locks = engine
            .targets()
            .iter()
            .map(|t| (t.name.clone(), Arc::new(AsyncMutex::new(()))))
            .collect();
        let metrics = Arc::new(Metrics::default());
        let notifier = Notifier::new(settings.notify.clone(), metrics.clone());
        let (stop, _) = watch::channel(false);
        Ok(Service {
            inner: Arc::new(Inner {
                engine,
                clock,
                settings,
                locks,
                metrics,
                notifier,
                scheduler,
                queue,
                stop,
                quarantined: std::sync::Mutex::new(BTreeMap::new()),
                started: Instant::now(),
            }),
        })
    }

    /// The engine.
    pub fn engine(&self) -> &Arc<Engine> {
        &self.inner.engine
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// The metrics.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.inner.metrics
    }

    /// The notifier (its dry-run record).
    pub fn notifier(&self) -> &Notifier {
        &self.inner.notifier
    }

    /// The scheduler.
    pub fn scheduler(&self) -> &Scheduler {
        &self.inner.scheduler
    }

    /// The webhook queue.
    pub fn queue(&self) -> &Queue {
        &self.inner.queue
    }

    /// The service's clock.
    pub fn now(&self) -> Timestamp {
        self.inner.clock.now()
    }

    /// Whether shutdown began.
    pub fn stopping(&self) -> bool {
        *self.inner.stop.borrow()
    }

    /// A receiver that turns `true` when shutdown begins.
    pub fn stop_signal(&self) -> watch::Receiver<bool> {
        self.inner.stop.subscribe()
    }

    /// Begins shutdown: no new work is taken.
    pub fn stop(&self) {
        self.inner.queue.pause();
        self.inner.stop.send_replace(true);
    }

    /// Whether a sync of `target` is running in this service.
    pub fn busy(&self, target: &str) -> bool {
        self.inner
            .locks
            .get(target)
            .is_some_and(|l| l.try_lock().is_err())
    }

    /// Takes a target's lock: no sync of it starts in this service until the guard is
    /// dropped (a maintenance window); waits for a running sync. `None`: no such target.
    pub async fn hold_target(&self, target: &str) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        match self.inner.locks.get(target) {
            Some(lock) => Some(lock.clone().lock_owned().await),
            None => None,
        }
    }

    /// Targets marked quarantined by their last run, with the reason.
    pub fn quarantined(&self) -> BTreeMap<String, String> {
        self.inner
            .quarantined
            .lock()
            .map(|q| q.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    fn target_names(&self, request: &SyncRequest) -> Result<Vec<String>, EngineError> {
        let all: Vec<String> = self
            .inner
            .engine
            .targets()
            .iter()
            .map(|t| t.name.clone())
            .collect();
        match &request.target {
            Some(t) if all.contains(t) => Ok(vec![t.clone()]),
            Some(t) => Err(EngineError::Unknown(format!(
                "no target is named '{t}'; configured: {}",
                all.join(", ")
            ))),
            None => Ok(all),
        }
    }

    /// Runs a sync, waiting for running syncs of the same targets to finish first.
    pub async fn sync(&self, request: SyncRequest) -> Result<PlanOutcome, EngineError> {
        let names = self.target_names(&request)?;
        let mut guards = Vec::new();
        for name in &names {
            if let Some(lock) = self.inner.locks.get(name) {
                guards.push(lock.clone().lock_owned().await);
            }
        }
        self.sync_locked(&request, names).await
    }

    /// Computes the plans of one target or all, writing nothing anywhere (as `plan` does).
    pub async fn plan(&self, target: Option<String>) -> Result<PlanOutcome, EngineError> {
        self.target_names(&SyncRequest {
            target: target.clone(),
            ..SyncRequest::default()
        })?;
        let options = SyncOptions {
            target,
            employee: None,
            dry_run: true,
            trigger: "api".into(),
            allow_shrink: false,
        };
        on_engine(self.inner.engine.clone(), move |e| {
            Box::pin(async move { e.sync(&options, None).await })
        })
        .await
        .and_then(|r| r)
    }

    /// Runs a sync only when none of its targets is busy; `None` when one is.
    pub async fn try_sync(&self, request: SyncRequest) -> Option<Result<PlanOutcome, EngineError>> {
        let names = match self.target_names(&request) {
            Ok(n) => n,
            Err(e) => return Some(Err(e)),
        };
        let mut guards = Vec::new();
        for name in &names {
            if let Some(lock) = self.inner.locks.get(name) {
                guards.push(lock.clone().try_lock_owned().ok()?);
            }
        }
        Some(self.sync_locked(&request, names).await)
    }

    async fn sync_locked(
        &self,
        request: &SyncRequest,
        names: Vec<String>,
    ) -> Result<PlanOutcome, EngineError> {
        if self.stopping() {
            return Err(EngineError::Busy(
                "the service is shutting down; no new sync starts".into(),
            ));
        }
        let started = Instant::now();
        let options = SyncOptions {
            target: request.target.clone(),
            employee: request.employee.clone(),
            dry_run: false,
            trigger: request.trigger.clone(),
            allow_shrink: false,
        };
        let result = on_engine(self.inner.engine.clone(), move |e| {
            Box::pin(async move { e.sync(&options, None).await })
        })
        .await
        .and_then(|r| r);
        let seconds = started.elapsed().as_secs_f64();
        match &result {
            Ok(outcome) => self.record(outcome, &request.trigger, seconds),
            Err(e) => {
                for name in &names {
                    self.inner.metrics.add(
                        "psync_runs_total",
                        &[("trigger", &request.trigger), ("status", "failed")],
                        1,
                    );
                    self.inner.notifier.notify(Notice {
                        kind: NoticeKind::Failure,
                        target: name.clone(),
                        run: None,
                        message: e.to_string(),
                    });
                }
            }
        }
        result
    }

    fn record(&self, outcome: &PlanOutcome, trigger: &str, seconds: f64) {
        let m = &self.inner.metrics;
        for report in &outcome.targets {
            let status = match &report.status {
                TargetStatus::Planned => "planned",
                TargetStatus::UpToDate => "up_to_date",
                TargetStatus::Applied => "applied",
                TargetStatus::Partial => "partial",
                TargetStatus::Held => "held",
                TargetStatus::Failed(_) => "failed",
                TargetStatus::Aborted(_) => "aborted",
            };
            m.add(
                "psync_runs_total",
                &[("trigger", trigger), ("status", status)],
                1,
            );
            m.observe(
                "psync_sync_duration_seconds",
                &[("target", &report.target), ("trigger", trigger)],
                seconds,
            );
            if let Some(apply) = &report.apply {
                for (outcome, n) in &apply.counts {
                    m.add(
                        "psync_operations_total",
                        &[("target", &report.target), ("outcome", outcome)],
                        *n,
                    );
                }
            }
            let quarantine = report.apply.as_ref().and_then(|a| a.quarantined.clone());
            {
                let mut q = self
                    .inner
                    .quarantined
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                match &quarantine {
                    Some(reason) => {
                        q.insert(report.target.clone(), reason.clone());
                    }
                    None => {
                        q.remove(&report.target);
                    }
                }
            }
            let notice = |kind, message: String| Notice {
                kind,
                target: report.target.clone(),
                run: report.run,
                message,
            };
            if let Some(reason) = quarantine {
                self.inner
                    .notifier
                    .notify(notice(NoticeKind::Quarantine, reason));
            }
            match &report.status {
                TargetStatus::Failed(msg) | TargetStatus::Aborted(msg) => self
                    .inner
                    .notifier
                    .notify(notice(NoticeKind::Failure, msg.clone())),
                TargetStatus::Held => self.inner.notifier.notify(notice(
                    NoticeKind::Held,
                    format!(
                        "{} operation(s) wait for approval",
                        report.plan.operations.len()
                    ),
                )),
                _ => {}
            }
        }
    }

    /// Starts every scheduled sync that is due now and whose target is free; returns their
    /// targets. The syncs run in the background.
    pub fn run_due(&self) -> Vec<String> {
        if self.stopping() {
            return Vec::new();
        }
        let due = self
            .inner
            .scheduler
            .take_due(self.inner.clock.now(), &|t| self.busy(t));
        for target in &due {
            let this = self.clone();
            let target = target.clone();
            tokio::spawn(async move {
                let request = SyncRequest {
                    target: Some(target.clone()),
                    employee: None,
                    trigger: "schedule".into(),
                };
                match this.try_sync(request).await {
                    None => {
                        tracing::info!(target = %target, "A scheduled sync was skipped: the target is busy.")
                    }
                    Some(Err(e)) => {
                        tracing::error!(target = %target, error = %e, "A scheduled sync failed.")
                    }
                    Some(Ok(_)) => {}
                }
            });
        }
        due
    }

    /// Handles every person whose debounce has passed: one one-person sync per target fed by
    /// their account. Returns how many people were handled and when the next one is due.
    pub async fn process_webhooks(&self) -> (usize, Option<Instant>) {
        let (due, next) = self.inner.queue.take_due();
        let n = due.len();
        for (account, person, keys) in due {
            if self.stopping() {
                // Left without a `done` mark: the journal queues it again after the restart.
                continue;
            }
            let targets: Vec<String> = self
                .inner
                .engine
                .targets()
                .iter()
                .filter(|t| t.source == account)
                .map(|t| t.name.clone())
                .collect();
            let id = EmployeeId::new(person.as_str());
            for target in targets {
                let request = SyncRequest {
                    target: Some(target.clone()),
                    employee: Some(id.clone()),
                    trigger: "webhook".into(),
                };
                if let Err(e) = self.sync(request).await {
                    tracing::warn!(target = %target, error = %e, "A webhook-triggered sync failed; the next full sync heals it.");
                }
            }
            if self.stopping() {
                // A sync refused for the shutdown: handled again after the restart.
                continue;
            }
            if let Err(e) = self.inner.queue.done(&keys).await {
                tracing::warn!(error = %e, "Cannot mark webhook events done; they run again after a restart.");
            }
        }
        (n, next)
    }

    /// Starts the scheduler loop and the webhook worker; they end when shutdown begins.
    pub fn start(&self) -> Vec<tokio::task::JoinHandle<()>> {
        let mut tasks = Vec::new();
        let this = self.clone();
        tasks.push(tokio::spawn(async move {
            let mut stop = this.stop_signal();
            loop {
                this.run_due();
                // Wake at least every 30 s (the clock may jump; the next due time may change).
                let wait = this
                    .scheduler()
                    .earliest()
                    .and_then(|t| {
                        let d = t.duration_since(this.now());
                        std::time::Duration::try_from(d).ok()
                    })
                    .unwrap_or(Duration::from_secs(30))
                    .clamp(Duration::from_millis(200), Duration::from_secs(30));
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = stop.changed() => break,
                }
                if *stop.borrow() {
                    break;
                }
            }
        }));
        let this = self.clone();
        tasks.push(tokio::spawn(async move {
            let mut stop = this.stop_signal();
            loop {
                if *stop.borrow() {
                    break;
                }
                let (_, next) = this.process_webhooks().await;
                let wait = next
                    .map(|n| n.saturating_duration_since(Instant::now()))
                    .unwrap_or(Duration::from_secs(60));
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = this.queue().wake.notified() => {}
                    _ = stop.changed() => {}
                }
            }
        }));
        tasks
    }

    /// Waits until no sync runs (at most the configured grace): every target lock is taken
    /// once. A sync still running after that is left to the process exit; its journal
    /// entries make the next run safe.
    pub async fn drain(&self) -> bool {
        let wait = async {
            for lock in self.inner.locks.values() {
                let _guard = lock.lock().await;
            }
        };
        tokio::time::timeout(self.inner.settings.shutdown_grace, wait)
            .await
            .is_ok()
    }

    /// Approves a held plan, holding its target's lock while the approval applies.
    pub async fn approve(
        &self,
        run: psync_store::RunId,
    ) -> Result<psync_engine::TargetReport, EngineError> {
        let target = self
            .inner
            .engine
            .store()
            .held_plans()
            .await?
            .into_iter()
            .find(|(r, _)| *r == run)
            .map(|(_, plan)| plan.target)
            .ok_or_else(|| EngineError::NotHeld(format!("run {run} has no held plan")))?;
        let _guard = match self.inner.locks.get(&target) {
            Some(lock) => Some(lock.clone().lock_owned().await),
            None => None,
        };
        let started = Instant::now();
        let report = on_engine(self.inner.engine.clone(), move |e| {
            Box::pin(async move { e.approve(run, None).await })
        })
        .await??;
        let outcome = PlanOutcome {
            reads: Vec::new(),
            targets: vec![report.clone()],
        };
        self.record(&outcome, "approval", started.elapsed().as_secs_f64());
        Ok(report)
    }

    /// Values for `/metrics` read at scrape time.
    pub async fn gauges(&self) -> Gauges {
        let held = self
            .inner
            .engine
            .store()
            .held_plans()
            .await
            .map(|h| h.len() as u64)
            .unwrap_or(0);
        Gauges {
            held_plans: held,
            quarantined: self.quarantined().len() as u64,
            personio: self
                .inner
                .engine
                .sources()
                .iter()
                .map(|s| {
                    let st = s.client.stats();
                    (s.name.clone(), st.requests, st.throttled)
                })
                .collect(),
            webhook_pending: self.inner.queue.pending() as u64,
        }
    }

    /// Seconds since the service was built.
    pub fn uptime(&self) -> f64 {
        self.inner.started.elapsed().as_secs_f64()
    }

    /// The whole HTTP application: webhooks, health, metrics and the admin API.
    pub fn router(&self) -> axum::Router {
        api::router(self.clone())
    }
}
