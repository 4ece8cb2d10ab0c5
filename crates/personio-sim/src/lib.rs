//! A faithful Personio API simulator on loopback: v1 and v2 employee APIs, auth, rate limits,
//! attribute whitelisting, faults on demand, mutations with v2 webhooks, and the ground truth.
//!
//! ```no_run
//! # async fn demo() -> Result<(), psync_personio_sim::SimError> {
//! use psync_personio_sim::{SimApi, SimConfig, start};
//! let sim = start(SimConfig::default(), "127.0.0.1:0".parse().expect("addr")).await?;
//! let base = sim.base_url(); // "http://127.0.0.1:PORT"
//! let truth = sim.expected_employees(SimApi::V1);
//! # let _ = (base, truth);
//! sim.shutdown().await;
//! # Ok(()) }
//! ```

#![allow(
    clippy::result_large_err,
    reason = "handlers return a ready axum Response as their error; boxing it buys nothing"
)]

mod admin;
mod auth;
mod company;
mod config;
mod dates;
mod error;
mod expected;
mod faults;
mod generator;
mod json;
mod ratelimit;
mod respond;
mod rng;
mod state;
mod v1;
mod v2;
mod webhooks;

pub use config::{Credential, EmployeeUpdate, Faults, HireSpec, MoveSpec, SimApi, SimConfig};
pub use error::SimError;
pub use state::Counters;

use crate::state::{CounterCells, FaultState, Shared, lock};
use axum::Router;
use axum::routing::{get, post};
use psync_model::Employee;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running simulator. Cheap to clone; all clones drive the same company.
#[derive(Debug, Clone)]
pub struct SimHandle {
    shared: Arc<Shared>,
    stop: Arc<Mutex<Option<oneshot::Sender<()>>>>,
    task: Arc<Mutex<Option<JoinHandle<()>>>>,
}

/// Starts a simulator on `addr` (port 0 = ephemeral) and returns its handle.
pub async fn start(config: SimConfig, addr: SocketAddr) -> Result<SimHandle, SimError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| SimError::Bind { addr, source })?;
    let mut local = listener
        .local_addr()
        .map_err(|source| SimError::Bind { addr, source })?;
    if local.ip().is_unspecified() {
        local.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let base_url = format!("http://{local}");
    let today = generator::today_days(config.today);
    let company = generator::generate(config.seed, config.employees, today, config.dirty_records);
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| SimError::Invalid(format!("cannot build the webhook HTTP client: {e}")))?;
    let shared = Arc::new(Shared {
        auth: Mutex::new(auth::AuthState::new(
            config.credentials.clone(),
            config.seed,
        )),
        config,
        base_url,
        company: RwLock::new(company),
        limiter: Mutex::new(ratelimit::Limiter::default()),
        faults: Mutex::new(FaultState::default()),
        counters: CounterCells::default(),
        webhooks: Mutex::new(Vec::new()),
        http,
        runtime: tokio::runtime::Handle::current(),
    });
    let (tx, rx) = oneshot::channel::<()>();
    let handle = SimHandle {
        shared: shared.clone(),
        stop: Arc::new(Mutex::new(Some(tx))),
        task: Arc::new(Mutex::new(None)),
    };
    let app = api_routes(shared).merge(admin::routes(handle.clone()));
    let task = tokio::spawn(async move {
        let serve = axum::serve(listener, app).with_graceful_shutdown(async {
            let _ = rx.await;
        });
        if let Err(e) = serve.await {
            tracing::warn!(error = %e, "personio simulator stopped with an error");
        }
    });
    *lock(&handle.task) = Some(task);
    Ok(handle)
}

fn api_routes(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v1/auth", post(v1::auth))
        .route("/v1/company/employees", get(v1::list))
        .route("/v1/company/employees/attributes", get(v1::attributes))
        .route(
            "/v1/company/employees/custom-attributes",
            get(v1::attributes),
        )
        .route("/v1/company/employees/{id}", get(v1::get_one))
        .route(
            "/v1/company/employees/{id}/profile-picture",
            get(v1::profile_picture),
        )
        .route(
            "/v1/company/employees/{id}/profile-picture/{width}",
            get(v1::profile_picture_width),
        )
        .route("/v1/{*rest}", get(v1::not_found).post(v1::not_found))
        .route("/v2/auth/token", post(v2::token))
        .route("/v2/auth/revoke", post(v2::revoke))
        .route("/v2/persons", get(v2::persons))
        .route("/v2/persons/{id}", get(v2::person))
        .route("/v2/persons/{id}/employments", get(v2::employments))
        .route(
            "/v2/persons/{id}/employments/{employment_id}",
            get(v2::employment),
        )
        .route("/v2/org-units/{id}", get(v2::org_unit))
        .route("/v2/workplaces", get(v2::workplaces))
        .route("/v2/legal-entities", get(v2::legal_entities))
        .route("/v2/legal-entities/{id}", get(v2::legal_entity))
        .route("/v2/cost-centers", get(v2::cost_centers))
        .route("/v2/webhooks", post(webhooks::create).get(webhooks::list))
        .route(
            "/v2/webhooks/{id}",
            get(webhooks::get)
                .patch(webhooks::patch)
                .delete(webhooks::delete),
        )
        .route("/v2/{*rest}", get(v2::not_found).post(v2::not_found))
        .route_layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            faults::api_layer,
        ))
        .with_state(shared)
}

impl SimHandle {
    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }

    /// A snapshot of the request counters.
    pub fn counters(&self) -> Counters {
        self.shared.counters.snapshot()
    }

    /// Sets all counters to zero.
    pub fn reset_counters(&self) {
        self.shared.counters.reset();
    }

    /// Replaces the current fault settings (and restarts their sequences).
    pub fn set_faults(&self, faults: Faults) {
        let mut f = lock(&self.shared.faults);
        f.storm_left = faults.storm_429;
        f.error_acc = 0.0;
        f.error_seq = 0;
        f.shift_done = false;
        f.faults = faults;
    }

    /// The current fault settings.
    pub fn faults(&self) -> Faults {
        self.shared.faults()
    }

    /// Ground truth for a full-whitelist credential, sorted by id: what a correct client must
    /// produce reading through `api`. The malformed-record fault's employee is excluded.
    pub fn expected_employees(&self, api: SimApi) -> Vec<Employee> {
        let malformed = self.shared.malformed();
        let company = self.shared.read();
        expected::employees(&company, api, &self.shared.base_url, malformed)
    }

    /// Number of persons currently in the company.
    pub fn len(&self) -> usize {
        self.shared.read().people.len()
    }

    /// True when the company has nobody.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The ids of all persons, ascending.
    pub fn ids(&self) -> Vec<String> {
        self.shared
            .read()
            .people
            .iter()
            .map(|p| p.id.to_string())
            .collect()
    }

    /// Hires a person and returns the new id. Invalid optional parts (unknown supervisor, an
    /// e-mail already in use, custom values of the wrong type) are dropped rather than refused;
    /// use [`SimHandle::try_hire`] to get an error instead.
    pub fn hire(&self, spec: HireSpec) -> String {
        match self.try_hire(spec.clone()) {
            Ok(id) => id,
            Err(_) => {
                let fallback = HireSpec {
                    supervisor_id: None,
                    email: None,
                    custom: Default::default(),
                    ..spec
                };
                let (id, events) = match self.shared.write().hire(&fallback) {
                    Ok(x) => x,
                    Err(_) => return String::new(),
                };
                self.shared.emit(events);
                id
            }
        }
    }

    /// Hires a person; errors on an unknown supervisor, a taken e-mail or a bad custom value.
    pub fn try_hire(&self, spec: HireSpec) -> Result<String, SimError> {
        let (id, events) = self.shared.write().hire(&spec)?;
        self.shared.emit(events);
        Ok(id)
    }

    fn mutate(
        &self,
        f: impl FnOnce(&mut company::Company) -> Result<Vec<company::Event>, SimError>,
    ) -> Result<(), SimError> {
        let events = f(&mut self.shared.write())?;
        self.shared.emit(events);
        Ok(())
    }

    /// Changes any fields (see [`EmployeeUpdate`]).
    pub fn update(&self, id: &str, update: EmployeeUpdate) -> Result<(), SimError> {
        self.mutate(|c| c.update(id, &update))
    }

    /// Moves a person to another department, team and/or office.
    pub fn move_employee(&self, id: &str, to: MoveSpec) -> Result<(), SimError> {
        self.mutate(|c| c.move_to(id, &to))
    }

    /// Terminates a person on `date` (inactive at once when the date is not in the future).
    pub fn terminate(&self, id: &str, date: jiff::civil::Date) -> Result<(), SimError> {
        self.mutate(|c| c.terminate(id, date))
    }

    /// Rehires a person (new employment) starting `date` (default: the simulated today).
    pub fn rehire(&self, id: &str, date: Option<jiff::civil::Date>) -> Result<(), SimError> {
        self.mutate(|c| c.rehire(id, date))
    }

    /// Changes (or, with `""`, removes) a person's e-mail.
    pub fn change_email(&self, id: &str, email: &str) -> Result<(), SimError> {
        self.mutate(|c| c.change_email(id, email))
    }

    /// Deletes a person; their reports lose their supervisor.
    pub fn delete(&self, id: &str) -> Result<(), SimError> {
        self.mutate(|c| c.delete(id))
    }

    /// Stops the server and waits for it to finish.
    pub async fn shutdown(self) {
        if let Some(tx) = lock(&self.stop).take() {
            let _ = tx.send(());
        }
        let task = lock(&self.task).take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}
