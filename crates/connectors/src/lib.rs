//! The closed set of targets, chosen once from configuration: [`TargetConfig`] (per-type
//! keys, tagged by `type`) and [`AnyTarget`] (enum dispatch implementing [`Target`]).
//!
//! Each connector lives in its own crate (file in `psync-targets`, SCIM and REST in
//! `psync-target-http`, LDAP/AD in `psync-target-ldap`); this crate only names them.

use psync_model::{EmployeeId, GroupPath, Operation, Outcome, TargetRecord};
use psync_target_http::{RestConfig, RestTarget, ScimConfig, ScimTarget};
use psync_target_ldap::{LdapConfig, LdapTarget};
use psync_targets::file::{FileConfig, FileTarget};
use psync_targets::testkit::Inspect;
use psync_targets::{ConfigProblem, RunInfo, RunReport, Target, TargetError};
use serde::Deserialize;
use std::collections::BTreeSet;

/// The per-type keys of a `[[target]]`, tagged by `type` (`file`, `scim`, `rest`, `ldap`).
///
/// The CLI owns the surrounding table (`name`, `source`, `mapping`…) and may flatten this enum
/// into it; each variant's struct denies unknown fields itself.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TargetConfig {
    /// CSV / JSONL snapshots in a directory.
    File(FileConfig),
    /// A SCIM 2.0 service provider.
    Scim(ScimConfig),
    /// A JSON API described by request templates (or a "users/sync" batch endpoint).
    Rest(RestConfig),
    /// An LDAP directory: Active Directory or OpenLDAP.
    Ldap(LdapConfig),
}

/// Every connector type, with the keys of its own (beside the common `[[target]]` keys).
pub const KINDS: &[(&str, &[&str])] = &[
    ("file", psync_targets::file::FILE_KEYS),
    ("scim", psync_target_http::SCIM_KEYS),
    ("rest", psync_target_http::REST_KEYS),
    ("ldap", psync_target_ldap::LDAP_KEYS),
];

/// The keys a connector of type `kind` accepts, `None` for an unknown type.
pub fn keys_of(kind: &str) -> Option<&'static [&'static str]> {
    KINDS
        .iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, keys)| *keys)
}

impl TargetConfig {
    /// The `type` name.
    pub fn kind(&self) -> &'static str {
        match self {
            TargetConfig::File(_) => "file",
            TargetConfig::Scim(_) => "scim",
            TargetConfig::Rest(_) => "rest",
            TargetConfig::Ldap(_) => "ldap",
        }
    }

    /// Every problem of this configuration at once (pure: no file, no network).
    pub fn validate(&self) -> Vec<ConfigProblem> {
        match self {
            TargetConfig::File(config) => config.validate(),
            TargetConfig::Scim(config) => config.validate(),
            TargetConfig::Rest(config) => config.validate(),
            TargetConfig::Ldap(config) => config.validate(),
        }
    }

    /// Builds the target named `name`. No I/O; [`Target::check`] probes.
    pub fn build(self, name: &str) -> Result<AnyTarget, Vec<ConfigProblem>> {
        match self {
            TargetConfig::File(config) => FileTarget::new(name, config).map(AnyTarget::File),
            TargetConfig::Scim(config) => {
                ScimTarget::new(name, config).map(|t| AnyTarget::Scim(Box::new(t)))
            }
            TargetConfig::Rest(config) => {
                RestTarget::new(name, config).map(|t| AnyTarget::Rest(Box::new(t)))
            }
            TargetConfig::Ldap(config) => LdapTarget::new(name, config).map(AnyTarget::Ldap),
        }
    }
}

/// Any target, chosen once from configuration.
#[derive(Debug)]
pub enum AnyTarget {
    /// The file target.
    File(FileTarget),
    /// The SCIM 2.0 target (boxed: it is much larger than the others).
    Scim(Box<ScimTarget>),
    /// The templated REST target (boxed: it holds its compiled templates).
    Rest(Box<RestTarget>),
    /// The LDAP / Active Directory target.
    Ldap(LdapTarget),
}

/// Calls the same method on whichever connector `$target` holds.
macro_rules! dispatch {
    ($target:expr, $t:ident => $call:expr) => {
        match $target {
            AnyTarget::File($t) => $call,
            AnyTarget::Scim($t) => $call,
            AnyTarget::Rest($t) => $call,
            AnyTarget::Ldap($t) => $call,
        }
    };
}

impl From<FileTarget> for AnyTarget {
    fn from(target: FileTarget) -> Self {
        AnyTarget::File(target)
    }
}

impl Target for AnyTarget {
    fn name(&self) -> &str {
        dispatch!(self, t => t.name())
    }

    fn kind(&self) -> &'static str {
        dispatch!(self, t => t.kind())
    }

    fn batched(&self) -> bool {
        dispatch!(self, t => t.batched())
    }

    async fn check(&self) -> Result<String, TargetError> {
        dispatch!(self, t => t.check().await)
    }

    async fn existing_groups(&self) -> Result<Option<BTreeSet<GroupPath>>, TargetError> {
        dispatch!(self, t => t.existing_groups().await)
    }

    async fn begin(&self, run: &RunInfo) -> Result<(), TargetError> {
        dispatch!(self, t => t.begin(run).await)
    }

    async fn apply(&self, op: &Operation) -> Result<Outcome, TargetError> {
        dispatch!(self, t => t.apply(op).await)
    }

    fn batch_size(&self) -> usize {
        dispatch!(self, t => t.batch_size())
    }

    async fn apply_batch(&self, ops: &[&Operation]) -> Vec<Result<Outcome, TargetError>> {
        dispatch!(self, t => t.apply_batch(ops).await)
    }

    async fn finish(&self, run: &RunInfo, report: &RunReport) -> Result<(), TargetError> {
        dispatch!(self, t => t.finish(run, report).await)
    }
}

impl Inspect for AnyTarget {
    async fn read(&self, person: &EmployeeId) -> Result<Option<TargetRecord>, TargetError> {
        dispatch!(self, t => t.read(person).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use psync_model::{LeaveReason, TargetRecord};

    #[test]
    fn config_is_tagged_by_type_and_denies_unknown_keys() {
        let config: TargetConfig = serde_json::from_value(serde_json::json!({
            "type": "file", "path": "/srv/export", "archive": true
        }))
        .unwrap();
        assert_eq!(config.kind(), "file");
        assert!(config.validate().is_empty());
        let target = config.build("hr").unwrap();
        assert_eq!(
            (target.name(), target.kind(), target.batched()),
            ("hr", "file", true)
        );

        let err = serde_json::from_value::<TargetConfig>(serde_json::json!({
            "type": "file", "path": "/x", "colums": ["a"]
        }))
        .unwrap_err();
        assert!(err.to_string().contains("colums"), "{err}");
        let err =
            serde_json::from_value::<TargetConfig>(serde_json::json!({"type": "ftp"})).unwrap_err();
        assert!(err.to_string().contains("ftp"), "{err}");
    }

    #[test]
    fn every_kind_lists_its_keys() {
        assert_eq!(KINDS.len(), 4);
        for (kind, keys) in KINDS {
            assert!(!keys.is_empty(), "{kind}");
            assert!(!keys.contains(&"type") && !keys.contains(&"name"), "{kind}");
        }
        assert_eq!(keys_of("ftp"), None);
    }

    #[test]
    fn config_flattens_into_the_cli_target_table() {
        #[derive(Debug, Deserialize)]
        struct Table {
            name: String,
            #[serde(flatten)]
            config: TargetConfig,
        }
        let table: Table = serde_json::from_value(serde_json::json!({
            "name": "hr", "type": "file", "path": "/x", "formats": ["jsonl"]
        }))
        .unwrap();
        assert_eq!(table.name, "hr");
        let TargetConfig::File(file) = &table.config else {
            panic!("not a file target: {:?}", table.config);
        };
        assert_eq!(file.formats, [psync_targets::file::Format::Jsonl]);
        let err = serde_json::from_value::<Table>(serde_json::json!({
            "name": "hr", "type": "file", "path": "/x", "bogus": 1
        }))
        .unwrap_err();
        assert!(err.to_string().contains("bogus"), "{err}");
    }

    #[test]
    fn futures_are_send() {
        fn send<F: Send>(_: F) {}
        let t = AnyTarget::File(FileTarget::new("hr", FileConfig::new("/nonexistent")).unwrap());
        let op = Operation::Delete {
            remote_id: None,
            reason: LeaveReason::Gone,
            record: TargetRecord::new(EmployeeId::new("1")),
        };
        send(t.apply(&op));
        send(t.check());
        send(t.read(&EmployeeId::new("1")));
    }
}
