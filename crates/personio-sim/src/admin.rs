//! Admin HTTP API under `/__sim/`: counters, faults, mutations, ground truth (JSON).

use crate::SimHandle;
use crate::config::{EmployeeUpdate, Faults, HireSpec, MoveSpec, SimApi};
use crate::error::SimError;
use crate::respond;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, patch, post, put};
use serde::Deserialize;
use serde::de::DeserializeOwned;

fn err(status: StatusCode, msg: &str) -> Response {
    respond::json_body(status, serde_json::json!({ "error": msg }).to_string())
}

fn sim_err(e: SimError) -> Response {
    match e {
        SimError::NotFound(_) => err(StatusCode::NOT_FOUND, &e.to_string()),
        _ => err(StatusCode::UNPROCESSABLE_ENTITY, &e.to_string()),
    }
}

fn body<T: DeserializeOwned + Default>(b: &[u8]) -> Result<T, Response> {
    if b.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(b)
        .map_err(|e| err(StatusCode::BAD_REQUEST, &format!("invalid JSON body: {e}")))
}

fn ok() -> Response {
    respond::json_body(StatusCode::OK, "{\"ok\":true}".to_string())
}

fn done(r: Result<(), SimError>) -> Response {
    r.map_or_else(sim_err, |()| ok())
}

async fn counters(State(h): State<SimHandle>) -> Response {
    respond::json_body(
        StatusCode::OK,
        serde_json::to_string(&h.counters()).unwrap_or_default(),
    )
}

async fn reset(State(h): State<SimHandle>) -> Response {
    h.reset_counters();
    ok()
}

async fn get_faults(State(h): State<SimHandle>) -> Response {
    respond::json_body(
        StatusCode::OK,
        serde_json::to_string(&h.faults()).unwrap_or_default(),
    )
}

async fn set_faults(State(h): State<SimHandle>, b: Bytes) -> Response {
    match body::<Faults>(&b) {
        Ok(f) => {
            h.set_faults(f);
            ok()
        }
        Err(r) => r,
    }
}

async fn hire(State(h): State<SimHandle>, b: Bytes) -> Response {
    let spec = match body::<HireSpec>(&b) {
        Ok(s) => s,
        Err(r) => return r,
    };
    match h.try_hire(spec) {
        Ok(id) => respond::json_body(
            StatusCode::CREATED,
            serde_json::json!({ "id": id }).to_string(),
        ),
        Err(e) => sim_err(e),
    }
}

async fn update(State(h): State<SimHandle>, Path(id): Path<String>, b: Bytes) -> Response {
    match body::<EmployeeUpdate>(&b) {
        Ok(u) => done(h.update(&id, u)),
        Err(r) => r,
    }
}

async fn move_to(State(h): State<SimHandle>, Path(id): Path<String>, b: Bytes) -> Response {
    match body::<MoveSpec>(&b) {
        Ok(m) => done(h.move_employee(&id, m)),
        Err(r) => r,
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct DateBody {
    date: Option<jiff::civil::Date>,
}

async fn terminate(State(h): State<SimHandle>, Path(id): Path<String>, b: Bytes) -> Response {
    match body::<DateBody>(&b) {
        Ok(DateBody { date: Some(d) }) => done(h.terminate(&id, d)),
        Ok(_) => err(StatusCode::UNPROCESSABLE_ENTITY, "date is required"),
        Err(r) => r,
    }
}

async fn rehire(State(h): State<SimHandle>, Path(id): Path<String>, b: Bytes) -> Response {
    match body::<DateBody>(&b) {
        Ok(d) => done(h.rehire(&id, d.date)),
        Err(r) => r,
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct EmailBody {
    email: String,
}

async fn email(State(h): State<SimHandle>, Path(id): Path<String>, b: Bytes) -> Response {
    match body::<EmailBody>(&b) {
        Ok(e) => done(h.change_email(&id, &e.email)),
        Err(r) => r,
    }
}

async fn delete(State(h): State<SimHandle>, Path(id): Path<String>) -> Response {
    done(h.delete(&id))
}

async fn expected(State(h): State<SimHandle>, RawQuery(q): RawQuery) -> Response {
    let api = form_urlencoded::parse(q.as_deref().unwrap_or("").as_bytes())
        .find(|(k, _)| k == "api")
        .map(|(_, v)| v.to_ascii_lowercase());
    let api = match api.as_deref() {
        None | Some("v1") => SimApi::V1,
        Some("v2") => SimApi::V2,
        Some(other) => {
            return err(
                StatusCode::BAD_REQUEST,
                &format!("unknown api {other:?} (v1 or v2)"),
            );
        }
    };
    match serde_json::to_string(&h.expected_employees(api)) {
        Ok(s) => respond::json_body(StatusCode::OK, s),
        Err(e) => err(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

/// The `/__sim` routes.
pub(crate) fn routes(handle: SimHandle) -> Router {
    Router::new()
        .route("/__sim/counters", get(counters))
        .route("/__sim/counters/reset", post(reset))
        .route("/__sim/faults", put(set_faults).get(get_faults))
        .route("/__sim/employees", post(hire))
        .route("/__sim/employees/{id}", patch(update).delete(delete))
        .route("/__sim/employees/{id}/move", post(move_to))
        .route("/__sim/employees/{id}/terminate", post(terminate))
        .route("/__sim/employees/{id}/rehire", post(rehire))
        .route("/__sim/employees/{id}/email", post(email))
        .route("/__sim/expected", get(expected))
        .with_state(handle)
}
