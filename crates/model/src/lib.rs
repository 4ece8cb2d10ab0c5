//! The vocabulary every other crate speaks: canonical employees and their typed values.
//!
//! Nothing here does I/O or knows a wire format. The Personio client converts Personio's JSON
//! into these types; mapping, planning and targets only ever see these types.

mod attributes;
mod employee;
mod plan;
mod value;

pub use attributes::{Attributes, Name};
pub use employee::{
    CostCenter, CustomAttribute, Employee, EmployeeId, EmploymentStatus, OrgRef, OrgUnit,
};
pub use plan::{
    AppliedAccount, FieldChange, GroupPath, Hold, LeaveReason, MatchBy, OpKind, Operation, Outcome,
    Plan, PlanNote, TargetRecord,
};
pub use value::{AttributeType, Value};
