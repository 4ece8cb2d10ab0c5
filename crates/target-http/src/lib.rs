//! HTTP targets: SCIM 2.0 ([`ScimTarget`]) and templated REST ([`RestTarget`]).
//!
//! SKELETON: the types and names below are the interface `psync-connectors` relies on; the
//! implementation replaces the bodies.

use psync_model::{EmployeeId, Operation, Outcome, TargetRecord};
use psync_targets::testkit::Inspect;
use psync_targets::{ConfigProblem, Target, TargetError};
use serde::Deserialize;

/// The keys of [`ScimConfig`], for the configuration checker.
pub const SCIM_KEYS: &[&str] = &["url"];
/// The keys of [`RestConfig`], for the configuration checker.
pub const REST_KEYS: &[&str] = &["url"];

/// `[[target]]` keys of `type = "scim"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScimConfig {
    /// Base URL of the SCIM service provider.
    pub url: String,
}

impl ScimConfig {
    /// Every problem at once (pure).
    pub fn validate(&self) -> Vec<ConfigProblem> {
        Vec::new()
    }
}

/// `[[target]]` keys of `type = "rest"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestConfig {
    /// Base URL of the API.
    pub url: String,
}

impl RestConfig {
    /// Every problem at once (pure).
    pub fn validate(&self) -> Vec<ConfigProblem> {
        Vec::new()
    }
}

/// A SCIM 2.0 service provider.
#[derive(Debug)]
pub struct ScimTarget {
    name: String,
}

impl ScimTarget {
    /// Builds the target (no I/O).
    pub fn new(name: &str, config: ScimConfig) -> Result<Self, Vec<ConfigProblem>> {
        let _ = config;
        Ok(ScimTarget { name: name.into() })
    }
}

/// A templated REST API.
#[derive(Debug)]
pub struct RestTarget {
    name: String,
}

impl RestTarget {
    /// Builds the target (no I/O).
    pub fn new(name: &str, config: RestConfig) -> Result<Self, Vec<ConfigProblem>> {
        let _ = config;
        Ok(RestTarget { name: name.into() })
    }
}

macro_rules! skeleton {
    ($t:ty, $kind:literal) => {
        impl Target for $t {
            fn name(&self) -> &str {
                &self.name
            }
            fn kind(&self) -> &'static str {
                $kind
            }
            async fn check(&self) -> Result<String, TargetError> {
                Err(TargetError::fatal("not built yet"))
            }
            async fn apply(&self, _op: &Operation) -> Result<Outcome, TargetError> {
                Err(TargetError::fatal("not built yet"))
            }
        }
        impl Inspect for $t {
            async fn read(
                &self,
                _person: &EmployeeId,
            ) -> Result<Option<TargetRecord>, TargetError> {
                Ok(None)
            }
        }
    };
}
skeleton!(ScimTarget, "scim");
skeleton!(RestTarget, "rest");
