//! HTTP targets: SCIM 2.0 service providers ([`ScimTarget`]), with the shared HTTP client
//! ([`http`]: authentication, timeouts, error classification by status).
//!
//! The templated REST ("users/sync") target is not built yet: its type is refused by the
//! configuration check until it is.

pub mod http;
pub mod scim;

pub use scim::{SCIM_KEYS, ScimConfig, ScimTarget};
