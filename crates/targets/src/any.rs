//! The closed set of targets: [`TargetConfig`] (per-type configuration) and [`AnyTarget`]
//! (enum dispatch implementing [`Target`] by delegation).

use crate::ConfigProblem;
use crate::error::TargetError;
use crate::file::{FileConfig, FileTarget};
use crate::target::{RunInfo, RunReport, Target};
use crate::testkit::Inspect;
use psync_model::{EmployeeId, Operation, Outcome, TargetRecord};
use serde::{Deserialize, Serialize};

/// The per-type keys of a `[[target]]`, tagged by `type` (`"file"`).
///
/// The CLI owns the surrounding table (`name`, `source`, `mapping`…) and may flatten this enum
/// into it; each variant's struct denies unknown fields itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TargetConfig {
    /// CSV / JSONL snapshots in a directory.
    File(FileConfig),
}

impl TargetConfig {
    /// The `type` name.
    pub fn kind(&self) -> &'static str {
        match self {
            TargetConfig::File(_) => "file",
        }
    }

    /// Every problem of this configuration at once (pure: no file, no network).
    pub fn validate(&self) -> Vec<ConfigProblem> {
        match self {
            TargetConfig::File(config) => config.validate(),
        }
    }

    /// Builds the target named `name`. No I/O; [`Target::check`] probes.
    pub fn build(self, name: &str) -> Result<AnyTarget, Vec<ConfigProblem>> {
        match self {
            TargetConfig::File(config) => FileTarget::new(name, config).map(AnyTarget::File),
        }
    }
}

/// Any target, chosen once from configuration.
#[derive(Debug)]
pub enum AnyTarget {
    /// The file target.
    File(FileTarget),
}

impl From<FileTarget> for AnyTarget {
    fn from(target: FileTarget) -> Self {
        AnyTarget::File(target)
    }
}

impl Target for AnyTarget {
    fn name(&self) -> &str {
        match self {
            AnyTarget::File(t) => t.name(),
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            AnyTarget::File(t) => t.kind(),
        }
    }

    fn batched(&self) -> bool {
        match self {
            AnyTarget::File(t) => t.batched(),
        }
    }

    async fn check(&self) -> Result<String, TargetError> {
        match self {
            AnyTarget::File(t) => t.check().await,
        }
    }

    async fn begin(&self, run: &RunInfo) -> Result<(), TargetError> {
        match self {
            AnyTarget::File(t) => t.begin(run).await,
        }
    }

    async fn apply(&self, op: &Operation) -> Result<Outcome, TargetError> {
        match self {
            AnyTarget::File(t) => t.apply(op).await,
        }
    }

    async fn finish(&self, run: &RunInfo, report: &RunReport) -> Result<(), TargetError> {
        match self {
            AnyTarget::File(t) => t.finish(run, report).await,
        }
    }
}

impl Inspect for AnyTarget {
    async fn read(&self, person: &EmployeeId) -> Result<Option<TargetRecord>, TargetError> {
        match self {
            AnyTarget::File(t) => t.read(person).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let TargetConfig::File(file) = &table.config;
        assert_eq!(file.formats, [crate::file::Format::Jsonl]);
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
            reason: psync_model::LeaveReason::Gone,
            record: TargetRecord::new(EmployeeId::new("1")),
        };
        send(t.apply(&op));
        send(t.check());
        send(t.read(&EmployeeId::new("1")));
    }
}
