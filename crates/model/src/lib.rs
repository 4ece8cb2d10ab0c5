//! The vocabulary every other crate speaks: canonical employees and their typed values.
//!
//! Nothing here does I/O or knows a wire format. The Personio client converts Personio's JSON
//! into these types; mapping, planning and targets only ever see these types.

mod employee;
mod value;

pub use employee::{
    CostCenter, CustomAttribute, Employee, EmployeeId, EmploymentStatus, OrgRef, OrgUnit,
};
pub use value::{AttributeType, Value};
