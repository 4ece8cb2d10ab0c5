//! The [`Target`] trait (one small port for every downstream system) and what the engine hands
//! it around a run ([`RunInfo`], [`RunReport`]).

use crate::error::TargetError;
use psync_model::{GroupPath, Operation, Outcome};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;

/// The run a target takes part in, given to [`Target::begin`] and [`Target::finish`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunInfo {
    /// The state store's run id.
    pub run: i64,
    /// The target's configured name.
    pub target: String,
    /// When the run started (time comes from the engine's clock, never from the target).
    pub started_at: jiff::Timestamp,
    /// `true`: compute outcomes but write nothing anywhere.
    pub dry_run: bool,
}

/// What the engine tells a target at the end of a run; archived by targets that archive.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunReport {
    /// Operations by result (`created`, `updated`, `disabled`, `enabled`, `deleted`, `failed`,
    /// `parked`, `unchanged`).
    pub counts: BTreeMap<String, u64>,
    /// One line per failed or parked operation, worded for the operator.
    pub failures: Vec<String>,
}

/// A system that receives identities: a file, a SCIM service provider, a REST API, a directory.
///
/// A target only *executes* operations: it never decides what changed (the planner does) and
/// never stores sync state (the engine does, after the target confirmed an operation).
///
/// The engine calls, per run: [`begin`](Target::begin), then [`apply`](Target::apply) for each
/// operation of the plan (possibly concurrently: implementations synchronise internally), then
/// [`finish`](Target::finish). A run that is abandoned (a `Fatal` error, a crash) never reaches
/// `finish`; the next `begin` starts afresh.
///
/// Every target passes [`crate::testkit`]'s conformance suite.
pub trait Target: Send + Sync {
    /// The configured name (`[[target]] name`), used in messages and file names.
    fn name(&self) -> &str;

    /// Stable kind name for logs, metrics and the state store (`"file"`, `"scim"`).
    fn kind(&self) -> &'static str;

    /// `true`: outcomes are only durable after [`finish`](Target::finish) returns `Ok`, so the
    /// engine confirms state only then. `false` (default): each `Ok` from `apply` is durable.
    fn batched(&self) -> bool {
        false
    }

    /// Cheap probe (reachable, credentials valid, permissions sufficient), changing nothing
    /// the target's users can see. Returns a human summary of what was probed.
    fn check(&self) -> impl Future<Output = Result<String, TargetError>> + Send;

    /// The groups that exist in the target, read before planning when the mapping says
    /// `groups.create_missing = false` (records are then fitted to these groups).
    /// `None` (default): the target keeps no groups of its own, every group is accepted.
    fn existing_groups(
        &self,
    ) -> impl Future<Output = Result<Option<BTreeSet<GroupPath>>, TargetError>> + Send {
        async { Ok(None) }
    }

    /// Prepares a run (a batch target loads its current state here). Default: nothing.
    fn begin(&self, run: &RunInfo) -> impl Future<Output = Result<(), TargetError>> + Send {
        let _ = run;
        async { Ok(()) }
    }

    /// Executes one operation. Idempotent: when the effect is already there, `Ok(Unchanged)`.
    fn apply(&self, op: &Operation) -> impl Future<Output = Result<Outcome, TargetError>> + Send;

    /// How many operations [`apply_batch`](Target::apply_batch) takes at once. 1 (default):
    /// the engine hands operations over one by one.
    fn batch_size(&self) -> usize {
        1
    }

    /// Executes several operations together (a "users/sync" API takes many users in one
    /// request), at most [`batch_size`](Target::batch_size) of them. Returns one result per
    /// operation, in the same order; each `Ok` is durable like one from `apply`. Default: each
    /// operation through `apply`, in order.
    fn apply_batch(
        &self,
        ops: &[&Operation],
    ) -> impl Future<Output = Vec<Result<Outcome, TargetError>>> + Send {
        async move {
            let mut results = Vec::with_capacity(ops.len());
            for op in ops {
                results.push(self.apply(op).await);
            }
            results
        }
    }

    /// Completes a run (a batch target writes its output here). Default: nothing.
    fn finish(
        &self,
        run: &RunInfo,
        report: &RunReport,
    ) -> impl Future<Output = Result<(), TargetError>> + Send {
        let _ = (run, report);
        async { Ok(()) }
    }
}
