//! Directory target: Active Directory and OpenLDAP over LDAP ([`LdapTarget`]).
//!
//! SKELETON: the types and names below are the interface `psync-connectors` relies on; the
//! implementation replaces the bodies.

use psync_model::{EmployeeId, Operation, Outcome, TargetRecord};
use psync_targets::testkit::Inspect;
use psync_targets::{ConfigProblem, Target, TargetError};
use serde::Deserialize;

/// The keys of [`LdapConfig`], for the configuration checker.
pub const LDAP_KEYS: &[&str] = &["url"];

/// `[[target]]` keys of `type = "ldap"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LdapConfig {
    /// `ldap://` or `ldaps://` URL of the directory.
    pub url: String,
}

impl LdapConfig {
    /// Every problem at once (pure).
    pub fn validate(&self) -> Vec<ConfigProblem> {
        Vec::new()
    }
}

/// An LDAP directory.
#[derive(Debug)]
pub struct LdapTarget {
    name: String,
}

impl LdapTarget {
    /// Builds the target (no I/O).
    pub fn new(name: &str, config: LdapConfig) -> Result<Self, Vec<ConfigProblem>> {
        let _ = config;
        Ok(LdapTarget { name: name.into() })
    }
}

impl Target for LdapTarget {
    fn name(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> &'static str {
        "ldap"
    }
    async fn check(&self) -> Result<String, TargetError> {
        Err(TargetError::fatal("not built yet"))
    }
    async fn apply(&self, _op: &Operation) -> Result<Outcome, TargetError> {
        Err(TargetError::fatal("not built yet"))
    }
}

impl Inspect for LdapTarget {
    async fn read(&self, _person: &EmployeeId) -> Result<Option<TargetRecord>, TargetError> {
        Ok(None)
    }
}
