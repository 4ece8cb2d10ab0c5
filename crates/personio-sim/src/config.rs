//! Public configuration types: the simulator's settings, credentials, faults and mutation specs.

use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// How to build and run a simulated Personio company.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Number of generated employees (default 200).
    pub employees: usize,
    /// Seed of the data generator (default 42): same seed and size, same company.
    pub seed: u64,
    /// Added to every API response (default 0).
    pub latency: Duration,
    /// Enforce Personio's rate limits (default true).
    pub rate_limits: bool,
    /// Accepted API credentials (default: one full-access credential `sim-client`/`sim-secret`).
    pub credentials: Vec<Credential>,
    /// Seed a few realistic dirty records (missing e-mails, a duplicate e-mail, a supervisor who
    /// left). Default true.
    pub dirty_records: bool,
    /// The simulated "today" that statuses and dates are generated around (default 2026-11-23).
    pub today: jiff::civil::Date,
    /// Personio company id, sent in webhook envelopes (default "4711").
    pub company_id: String,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            employees: 200,
            seed: 42,
            latency: Duration::ZERO,
            rate_limits: true,
            credentials: vec![Credential::full("sim-client", "sim-secret")],
            dirty_records: true,
            today: jiff::civil::date(2026, 11, 23),
            company_id: "4711".to_string(),
        }
    }
}

/// One API credential, with the v1 attribute keys it may read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credential {
    /// Client id.
    pub client_id: String,
    /// Client secret.
    pub client_secret: String,
    /// v1 attribute keys this credential may read (None = all). `id` is always readable.
    #[serde(default)]
    pub whitelist: Option<Vec<String>>,
}

impl Credential {
    /// A credential that may read every attribute.
    pub fn full(id: impl Into<String>, secret: impl Into<String>) -> Self {
        Credential {
            client_id: id.into(),
            client_secret: secret.into(),
            whitelist: None,
        }
    }

    /// A credential that may read only `keys` (plus `id`).
    pub fn with_whitelist(id: impl Into<String>, secret: impl Into<String>, keys: &[&str]) -> Self {
        Credential {
            client_id: id.into(),
            client_secret: secret.into(),
            whitelist: Some(keys.iter().map(|k| (*k).to_string()).collect()),
        }
    }

    /// May this credential read the v1 attribute `key`?
    pub fn allows(&self, key: &str) -> bool {
        key == "id"
            || self
                .whitelist
                .as_ref()
                .is_none_or(|w| w.iter().any(|k| k == key))
    }
}

/// Which API version a read goes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SimApi {
    /// `/v1/company/employees`.
    V1,
    /// `/v2/persons` + employments + org lookups.
    V2,
}

/// Faults injected on demand. All off by default. In JSON, durations are accepted as
/// milliseconds (`250`), as a string with a unit (`"250ms"`, `"3s"`) or as `{"secs":..,"nanos":..}`.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Faults {
    /// Added to every API response.
    #[serde(deserialize_with = "de_duration")]
    pub extra_latency: Duration,
    /// Fraction of API requests (not auth) answered 500/502/503, in a deterministic sequence.
    pub error_rate: f64,
    /// The next N API requests (not auth) are answered 429.
    pub storm_429: u32,
    /// Tokens expire after this (then v1 403 / v2 401 invalid token).
    #[serde(deserialize_with = "de_opt_duration")]
    pub token_ttl: Option<Duration>,
    /// v1: a new employee is inserted at the front after the first page is served (once per
    /// `set_faults`).
    pub shift_during_paging: bool,
    /// List endpoints return zero employees (total 0).
    pub empty_list: bool,
    /// v1 `metadata.total_elements`/`total_pages` vary per page (± a few).
    pub drifting_total: bool,
    /// v1 `total_pages` says more pages than exist.
    pub lying_total_pages: bool,
    /// This employee id is served with a broken shape.
    pub malformed_record: Option<String>,
    /// 5xx bodies are HTML pages instead of JSON.
    pub html_errors: bool,
    /// List endpoints answer 200 with truncated, invalid JSON.
    pub invalid_json: bool,
    /// v1 list answers 200 with `{"success":false,"error":{..}}`.
    pub success_false: bool,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum DurationRepr {
    Millis(u64),
    Float(f64),
    Text(String),
    Struct {
        secs: u64,
        #[serde(default)]
        nanos: u32,
    },
}

fn repr_to_duration<E: serde::de::Error>(r: DurationRepr) -> Result<Duration, E> {
    match r {
        DurationRepr::Millis(ms) => Ok(Duration::from_millis(ms)),
        DurationRepr::Float(ms) if ms.is_finite() && ms >= 0.0 => {
            Ok(Duration::from_secs_f64(ms / 1000.0))
        }
        DurationRepr::Float(_) => Err(E::custom("duration must be a non-negative number")),
        DurationRepr::Struct { secs, nanos } => Ok(Duration::new(secs, nanos)),
        DurationRepr::Text(t) => {
            let t = t.trim();
            let (num, scale) = if let Some(n) = t.strip_suffix("ms") {
                (n, 0.001)
            } else if let Some(n) = t.strip_suffix('s') {
                (n, 1.0)
            } else if let Some(n) = t.strip_suffix('m') {
                (n, 60.0)
            } else {
                (t, 0.001)
            };
            let v: f64 = num
                .trim()
                .parse()
                .map_err(|_| E::custom(format!("bad duration {t:?}")))?;
            if !v.is_finite() || v < 0.0 {
                return Err(E::custom(format!("bad duration {t:?}")));
            }
            Ok(Duration::from_secs_f64(v * scale))
        }
    }
}

fn de_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    repr_to_duration(DurationRepr::deserialize(d)?)
}

fn de_opt_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    match Option::<DurationRepr>::deserialize(d)? {
        None => Ok(None),
        Some(r) => repr_to_duration(r).map(Some),
    }
}

/// A new hire. Org units are given by id or by name (unknown ones are ignored, as Personio does).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HireSpec {
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// Preferred name.
    pub preferred_name: Option<String>,
    /// Work e-mail (None: derived from the name).
    pub email: Option<String>,
    /// `male`, `female`, `diverse`.
    pub gender: Option<String>,
    /// Job title.
    pub position: Option<String>,
    /// Department id or name.
    pub department: Option<String>,
    /// Team id or name.
    pub team: Option<String>,
    /// Office (workplace) id or name.
    pub office: Option<String>,
    /// Legal entity (v1 subcompany) id or name.
    pub legal_entity: Option<String>,
    /// Supervisor's employee id.
    pub supervisor_id: Option<String>,
    /// First day (default: today). A future date makes the hire `onboarding`.
    pub hire_date: Option<jiff::civil::Date>,
    /// `internal` / `external` (default internal).
    pub employment_type: Option<String>,
    /// Weekly hours (default 40).
    pub weekly_hours: Option<f64>,
    /// Custom attributes by `dynamic_*` key, as JSON values.
    pub custom: BTreeMap<String, serde_json::Value>,
}

/// A partial update: every `Some` field is changed. For clearable fields, JSON `null` clears.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EmployeeUpdate {
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Preferred name (`""` clears).
    pub preferred_name: Option<String>,
    /// Work e-mail (`""` removes it).
    pub email: Option<String>,
    /// `male`, `female`, `diverse`.
    pub gender: Option<String>,
    /// `onboarding`, `active`, `leave`, `inactive`.
    pub status: Option<String>,
    /// Job title.
    pub position: Option<String>,
    /// Department id or name.
    pub department: Option<String>,
    /// Team id or name (`""` removes the team).
    pub team: Option<String>,
    /// Office id or name.
    pub office: Option<String>,
    /// Legal entity id or name.
    pub legal_entity: Option<String>,
    /// Supervisor's employee id (`""` removes the supervisor).
    pub supervisor_id: Option<String>,
    /// First day.
    pub hire_date: Option<jiff::civil::Date>,
    /// Termination date (`Some(None)` in JSON: `null` clears).
    #[serde(
        deserialize_with = "de_double_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub termination_date: Option<Option<jiff::civil::Date>>,
    /// Last working day (`null` clears).
    #[serde(
        deserialize_with = "de_double_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_working_day: Option<Option<jiff::civil::Date>>,
    /// Contract end (`null` clears).
    #[serde(
        deserialize_with = "de_double_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub contract_end_date: Option<Option<jiff::civil::Date>>,
    /// `internal` / `external`.
    pub employment_type: Option<String>,
    /// Weekly hours.
    pub weekly_hours: Option<f64>,
    /// Cost centers: `(id or name, percentage)`.
    pub cost_centers: Option<Vec<(String, f64)>>,
    /// Custom attributes by key (`null` clears one).
    pub custom: BTreeMap<String, serde_json::Value>,
}

fn de_double_opt<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// A move to another department, team and/or office (each by id or name).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MoveSpec {
    /// Department id or name.
    pub department: Option<String>,
    /// Team id or name (`""` removes the team).
    pub team: Option<String>,
    /// Office id or name.
    pub office: Option<String>,
}
