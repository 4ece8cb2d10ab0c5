//! The pure mapping layer: which employees a target gets (scope) and what it gets for each
//! (fields, lookups, groups, manager), in one expression language (minijinja).
//!
//! [`compile`] checks a `[target.mapping]` completely and returns every problem at once; the
//! resulting [`Mapping`] maps employees to [`TargetRecord`](psync_model::TargetRecord)s without
//! I/O, clock or randomness: the same employees always give the same records.
//!
//! ```text
//! scope   = 'status in ["active", "onboarding", "leave"] and department != "Interns"'
//! [fields]
//! email        = "{{ first_name | ascii | lower }}.{{ last_name | ascii | lower }}@acme.com"
//! country_code = '{{ office | lookup("office_country") }}'
//! start        = { from = "hire_date" }                      # stays a date
//! shirt        = { from = 'custom.Shirt size', required = true }
//! ```
//!
//! Variables (one flat namespace for scope, fields and group levels): see [`VARIABLES`].
//! Absent text and dates are `""`, absent lists `[]`; dates are ISO text in templates and typed
//! when copied with `from`. Filters beyond minijinja's builtins: `ascii`, `slug`,
//! `lookup("table")`, `date_format("%d.%m.%Y")`.

mod compile;
mod config;
mod context;
mod convert;
mod filters;
mod map;
mod scan;
mod testing;

pub use compile::{Mapping, MappingProblem, compile, default_fields};
pub use config::{
    FieldSpec, GroupsConfig, LookupTable, MappingConfig, MappingTest, parse_attribute_type,
};
pub use context::VARIABLES;
pub use filters::{ascii, slug};
pub use map::{Mapped, MappedPerson, MappingError};
pub use testing::TestFailure;

/// The scope used when a mapping does not set one.
pub const DEFAULT_SCOPE: &str = r#"status in ["active", "onboarding", "leave"]"#;
