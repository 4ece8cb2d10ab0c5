//! What the engine runs on: sources (Personio accounts) and targets with their mapping and
//! policy, built once from a validated configuration.

use psync_connectors::AnyTarget;
use psync_mapping::Mapping;
use psync_personio::PersonioClient;
use psync_planner::Policy;

/// A Personio account to read from.
#[derive(Debug)]
pub struct SourceSetup {
    /// The account's name.
    pub name: String,
    /// Its client.
    pub client: PersonioClient,
}

/// A target with everything needed to sync it.
#[derive(Debug)]
pub struct TargetSetup {
    /// The target's name.
    pub name: String,
    /// The Personio account it is fed from.
    pub source: String,
    /// Scope, fields, groups, managers.
    pub mapping: Mapping,
    /// Lifecycle and guards.
    pub policy: Policy,
    /// Percentage by which a full read may shrink against the last one before the run aborts.
    pub max_shrink_percent: f64,
    /// Operations in flight at once.
    pub concurrency: usize,
    /// Attempts per operation for transient failures (within one run).
    pub attempts: u32,
    /// The connector.
    pub target: AnyTarget,
}
