//! Target records, operations and plans: what the planner produces and targets execute.

use crate::attributes::Attributes;
use crate::employee::EmployeeId;
use crate::value::Value;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// What one target should hold for one person: the result of scope + mapping.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetRecord {
    /// The anchor: Personio's id. Never changes for a person.
    pub person: EmployeeId,
    /// Mapped attributes by the target's attribute name (`email`, `title`, `country_code`…).
    pub attributes: Attributes,
    /// Groups the person belongs to, each a path from the top (`["Munich", "Engineering"]`).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub groups: BTreeSet<GroupPath>,
    /// The manager's Personio id, when the manager is in scope of the same target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manager: Option<EmployeeId>,
    /// Whether the account should be active now (false: created inactive until the start date).
    pub active: bool,
}

impl TargetRecord {
    /// An active record with no attributes, groups or manager.
    pub fn new(person: EmployeeId) -> Self {
        TargetRecord {
            person,
            attributes: Attributes::new(),
            groups: BTreeSet::new(),
            manager: None,
            active: true,
        }
    }

    /// The attribute's value, `Null` when absent.
    pub fn get(&self, name: &str) -> &Value {
        self.attributes.get(name).unwrap_or(&Value::Null)
    }
}

/// A group as the path of names from the top of the hierarchy down to it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct GroupPath(pub Vec<String>);

impl GroupPath {
    /// The group's own name (the last element).
    pub fn name(&self) -> &str {
        self.0.last().map(String::as_str).unwrap_or("")
    }
}

impl fmt::Display for GroupPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(" / "))
    }
}

/// How a target may take over an account that already exists there (created by someone else).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum MatchBy {
    /// Never adopt: a clash is reported, nothing is taken over.
    None,
    /// Adopt an account whose external id equals the Personio id.
    ExternalId,
    /// Adopt an account with the same e-mail address (case-insensitive).
    Email,
}

/// One attribute that changes: old value → new value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldChange {
    /// Target attribute name; `manager` and `active` are reported here too.
    pub field: String,
    /// What the target holds according to the last confirmed apply.
    pub old: Value,
    /// What it should hold.
    pub new: Value,
}

/// Why an account is deprovisioned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum LeaveReason {
    /// Personio says the person left (status inactive / termination date passed).
    Left,
    /// The person is no longer in the target's scope.
    OutOfScope,
    /// The person no longer exists in Personio (a full read did not return them).
    Gone,
}

/// One change to one person's account in one target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Operation {
    /// A new account. A target may adopt an existing account instead, per `match_by`.
    Create {
        /// The full record to create.
        record: TargetRecord,
        /// Whether and how an existing account may be taken over.
        match_by: MatchBy,
    },
    /// Attributes, groups or manager change.
    Update {
        /// The target's id of the account, from the last apply.
        remote_id: Option<String>,
        /// What changes, attribute by attribute.
        changes: Vec<FieldChange>,
        /// Groups joined.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        groups_added: Vec<GroupPath>,
        /// Groups left.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        groups_removed: Vec<GroupPath>,
        /// The full new record.
        record: TargetRecord,
    },
    /// Deactivate the account (leaver, or out of scope).
    Disable {
        /// The target's id of the account.
        remote_id: Option<String>,
        /// Why.
        reason: LeaveReason,
        /// The record as last applied, with `active = false`.
        record: TargetRecord,
    },
    /// Reactivate a disabled account (rehire, back in scope), with any changes since.
    Enable {
        /// The target's id of the account.
        remote_id: Option<String>,
        /// Attribute changes applied together with the re-enable.
        changes: Vec<FieldChange>,
        /// The full new record.
        record: TargetRecord,
    },
    /// Remove the account (policy `delete`, or after the grace period).
    Delete {
        /// The target's id of the account.
        remote_id: Option<String>,
        /// Why.
        reason: LeaveReason,
        /// The record as last applied.
        record: TargetRecord,
    },
}

impl Operation {
    /// The person this operation is about.
    pub fn person(&self) -> &EmployeeId {
        &self.record().person
    }

    /// The record the operation carries (new for create/update/enable, last for the others).
    pub fn record(&self) -> &TargetRecord {
        match self {
            Operation::Create { record, .. }
            | Operation::Update { record, .. }
            | Operation::Disable { record, .. }
            | Operation::Enable { record, .. }
            | Operation::Delete { record, .. } => record,
        }
    }

    /// The kind, for counting and display.
    pub fn kind(&self) -> OpKind {
        match self {
            Operation::Create { .. } => OpKind::Create,
            Operation::Update { .. } => OpKind::Update,
            Operation::Disable { .. } => OpKind::Disable,
            Operation::Enable { .. } => OpKind::Enable,
            Operation::Delete { .. } => OpKind::Delete,
        }
    }
}

/// The kind of an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpKind {
    /// New account.
    Create,
    /// Changed account.
    Update,
    /// Deactivated account.
    Disable,
    /// Reactivated account.
    Enable,
    /// Removed account.
    Delete,
}

impl OpKind {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            OpKind::Create => "create",
            OpKind::Update => "update",
            OpKind::Disable => "disable",
            OpKind::Enable => "enable",
            OpKind::Delete => "delete",
        }
    }

    /// Whether this kind takes access away (counted by the deprovisioning guard).
    pub fn is_deprovision(self) -> bool {
        matches!(self, OpKind::Disable | OpKind::Delete)
    }
}

impl fmt::Display for OpKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a target reports after executing an operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// A new account was created; its id in the target.
    Created {
        /// The target's id.
        remote_id: String,
    },
    /// An existing account was taken over instead of creating one.
    Adopted {
        /// The target's id.
        remote_id: String,
        /// How it was matched.
        matched_by: MatchBy,
    },
    /// The change was applied.
    Applied,
    /// The target already held this state; nothing was written.
    Unchanged,
}

impl Outcome {
    /// The target's id, when the outcome carries one.
    pub fn remote_id(&self) -> Option<&str> {
        match self {
            Outcome::Created { remote_id } | Outcome::Adopted { remote_id, .. } => Some(remote_id),
            Outcome::Applied | Outcome::Unchanged => None,
        }
    }
}

/// Something the planner noticed that a person should read (not an operation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanNote {
    /// The person concerned, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person: Option<EmployeeId>,
    /// What happened and what to do.
    pub message: String,
}

/// Why a plan is not applied without a person's approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "guard", rename_all = "snake_case")]
pub enum Hold {
    /// More disables + deletes than the target's threshold allows.
    TooManyDeprovisions {
        /// Disables + deletes in the plan.
        count: usize,
        /// Accounts the target holds (the base of a percentage threshold).
        of: usize,
        /// The threshold that was exceeded, as configured (`10` or `5%`).
        threshold: String,
    },
    /// An attribute would be emptied for most accounts at once: typically the API credential
    /// lost read access to it, not a real change.
    FieldEmptied {
        /// The target attribute.
        field: String,
        /// Accounts whose value would become empty.
        count: usize,
        /// Active accounts the target holds.
        of: usize,
    },
}

impl fmt::Display for Hold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Hold::TooManyDeprovisions {
                count,
                of,
                threshold,
            } => write!(
                f,
                "{count} of {of} accounts would be disabled or deleted, above the threshold of {threshold}"
            ),
            Hold::FieldEmptied { field, count, of } => write!(
                f,
                "`{field}` would be emptied for {count} of {of} active accounts at once; check that the \
                 API credential may still read the attribute behind it"
            ),
        }
    }
}

/// Everything one sync would do to one target: a value that can be printed, saved and applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// The target's name.
    pub target: String,
    /// The Personio account's name.
    pub source: String,
    /// Whether the read behind the plan was complete (only then may it deprovision "gone" people).
    pub read_complete: bool,
    /// People in scope (desired records).
    pub in_scope: usize,
    /// Accounts the target held before the plan (from state).
    pub managed: usize,
    /// Operations, sorted by person id and then kind: deterministic for the same inputs.
    pub operations: Vec<Operation>,
    /// Things worth reading (unresolved managers, defaults used, suppressed deprovisions…).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<PlanNote>,
    /// Set when a guard holds the plan for approval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold: Option<Hold>,
}

impl Plan {
    /// Counts of operations by kind.
    pub fn counts(&self) -> BTreeMap<OpKind, usize> {
        let mut counts = BTreeMap::new();
        for op in &self.operations {
            *counts.entry(op.kind()).or_insert(0) += 1;
        }
        counts
    }

    /// Whether the plan changes nothing.
    pub fn is_empty(&self) -> bool {
        self.operations.is_empty()
    }
}

/// What the state store remembers of one person's account in one target: the record the
/// target last confirmed, its id there, and since when it is disabled (for the grace period).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppliedAccount {
    /// The record as the target last confirmed it.
    pub record: TargetRecord,
    /// The target's id for the account (SCIM id, DN, file key…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_id: Option<String>,
    /// Set when the account was disabled as a leaver or out of scope; `None` otherwise
    /// (an account created inactive before its start date has `record.active == false` and no date).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_on: Option<jiff::civil::Date>,
}
