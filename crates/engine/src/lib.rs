//! The sync engine: read → normalize → map → plan → guard → apply → record, per target.
//!
//! The engine is the only writer of state, and it writes state only after a target confirmed
//! an operation (for batch targets: after `finish`). Every step boundary has a named
//! [`Step`] where tests inject crashes; a rerun after any of them creates no duplicate and
//! loses no change, because unconfirmed operations are simply planned again and targets are
//! idempotent.

mod apply;
mod clock;
mod error;
mod lock;
mod run;
mod setup;

pub use apply::{ApplyProgress, ApplyReport, Failure as OpFailure};
pub use clock::{Clock, FixedClock, SystemClock};
pub use error::EngineError;
pub use run::{
    Engine, PersonTrace, PlanOutcome, ReadSummary, Step, StepHook, SyncOptions, TargetReport,
    TargetStatus,
};
pub use setup::{SourceSetup, TargetSetup};
