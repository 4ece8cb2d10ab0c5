//! HTTP targets: SCIM 2.0 service providers ([`ScimTarget`]) and templated REST APIs
//! ([`RestTarget`], including the batch "users/sync" shape), with the shared HTTP client
//! ([`http`]: authentication, timeouts, rate limit, error classification by status) and a
//! loopback [`receiver`] API the REST target's tests run against.

pub mod http;
pub mod receiver;
pub mod rest;
pub mod scim;

pub use rest::{REST_KEYS, RestConfig, RestTarget};
pub use scim::{SCIM_KEYS, ScimConfig, ScimTarget};
