//! Diagnostics for operators: skipped records, attributes a credential may read, and which
//! configured attributes never showed up (most likely not whitelisted for the credential).

use crate::ReadOutcome;
use psync_model::{AttributeType, Employee};
use std::collections::BTreeSet;
use std::fmt;

/// A record the read could not convert; the rest of the read went on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedRecord {
    /// The record's id as sent, when it had one (even an invalid one).
    pub id: Option<String>,
    /// Why it was skipped.
    pub reason: String,
}

/// One attribute the credential may read (`GET /v1/company/employees/attributes`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeInfo {
    /// The key in employee records (`first_name`, `dynamic_24407`).
    pub key: String,
    /// The label shown in Personio (possibly localised).
    pub label: Option<String>,
    /// Personio's type name as sent (`standard`, `list`, `tags`…).
    pub type_name: Option<String>,
    /// The canonical kind, when the type name is known.
    pub kind: Option<AttributeType>,
    /// Personio's global id (`iban`), when set.
    pub universal_id: Option<String>,
    /// Allowed options of `list` and `tags` attributes.
    pub options: Vec<String>,
}

/// A configured attribute that no employee of a read carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingAttribute {
    /// The name as used in the configuration.
    pub name: String,
    /// What to do about it.
    pub hint: String,
}

impl fmt::Display for MissingAttribute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name, self.hint)
    }
}

const WHITELIST_HINT: &str = "no employee of this read carries it; it is most likely not \
    whitelisted for the API credential: add it in Personio → Settings → API credentials → \
    readable employee attributes";

/// The configured attribute names (standard names of [`Employee::STANDARD_ATTRIBUTES`], custom
/// keys `dynamic_*` or custom labels) that are never present on any employee of the read.
///
/// An empty read proves nothing, so it reports nothing.
pub fn whitelist_report(used: &[&str], outcome: &ReadOutcome) -> Vec<MissingAttribute> {
    if outcome.employees.is_empty() {
        return Vec::new();
    }
    let mut present: BTreeSet<&str> = BTreeSet::from(["id"]);
    let mut custom_keys: BTreeSet<&str> = BTreeSet::new();
    let mut custom_labels: BTreeSet<String> = BTreeSet::new();
    for e in &outcome.employees {
        present.extend(e.present_attributes());
        for (key, attr) in &e.custom {
            custom_keys.insert(key);
            if let Some(label) = &attr.label {
                custom_labels.insert(label.trim().to_lowercase());
            }
        }
    }
    let mut seen = BTreeSet::new();
    let mut missing = Vec::new();
    for &name in used {
        let name = name.trim();
        if name.is_empty() || !seen.insert(name) {
            continue;
        }
        let is_standard = Employee::STANDARD_ATTRIBUTES.contains(&name);
        let found = if is_standard {
            present.contains(name)
        } else if name.starts_with("dynamic_") {
            custom_keys.contains(name)
        } else {
            custom_keys.contains(name) || custom_labels.contains(&name.to_lowercase())
        };
        if !found {
            let hint = if is_standard || name.starts_with("dynamic_") {
                WHITELIST_HINT.to_string()
            } else {
                format!(
                    "{WHITELIST_HINT} (or the name is neither a standard attribute nor a custom \
                     attribute's key or label; `available-attributes` lists what the credential \
                     may read)"
                )
            };
            missing.push(MissingAttribute {
                name: name.to_string(),
                hint,
            });
        }
    }
    missing
}
