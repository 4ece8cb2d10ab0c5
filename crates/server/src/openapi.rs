//! The OpenAPI 3 document of the service's HTTP interface, served at `/api/openapi.json`.

/// The document (hand-written JSON; a test checks that it lists every route).
pub const DOCUMENT: &str = include_str!("openapi.json");
