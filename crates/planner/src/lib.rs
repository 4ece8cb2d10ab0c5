//! The pure planner: desired records vs last-applied state + policy → a sorted, deterministic,
//! serializable [`Plan`](psync_model::Plan), with its guards and the state transition after a
//! confirmed operation.
//!
//! No I/O and no clock: `now` is a parameter of [`PlanInput`]. The same input, in any order,
//! gives the same plan, so what `plan` shows is what `sync` executes.
//!
//! Rules, in short (the policy is per target):
//! - identity is the Personio id; adoption of an existing target account is the target's
//!   business at apply time, per [`Policy::match_by`];
//! - joiners are created `provision_days_before_start` days before their start date, active
//!   at once or (with [`Activation::AtStart`]) inactive until the start date;
//! - a person is a leaver when their status is `inactive` or from the end of their
//!   termination day in the policy's time zone; out of scope and gone (absent from a complete
//!   full read) are leavers too; leavers are disabled, deleted or kept per policy, with an
//!   optional grace period before deletion;
//! - a disabled account whose person is desired again is re-enabled (same remote id);
//! - only a `Full { complete: true }` read may disable or delete; people in `skipped` and
//!   accounts not in the applied state are never touched;
//! - more disables + deletes than the threshold put the plan on hold for approval.

mod guard;
mod planning;
mod policy;
mod render;
mod state;

pub use guard::{SourceAbort, check_source, deprovision_hold};
pub use planning::{Lifecycle, Person, PlanInput, ReadScope, operation_order, person_order, plan};
pub use policy::{Activation, LeaverAction, Policy, Threshold, ThresholdError, berlin};
pub use render::{deprovision_count, display_name, render_text, summary_line};
pub use state::apply_outcome;
