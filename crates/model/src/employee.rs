//! The canonical employee: one shape for what Personio v1 and v2 say about a person.

use crate::value::{AttributeType, Value};
use jiff::Timestamp;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// Personio's id of a person (v1 employee id, v2 person id: the same number).
///
/// Kept as text because v2 sends it as a string and nothing may do arithmetic on it.
/// This is the anchor every target record is keyed on.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EmployeeId(String);

impl EmployeeId {
    /// Wraps an id as Personio sends it.
    pub fn new(id: impl Into<String>) -> Self {
        EmployeeId(id.into())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EmployeeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<u64> for EmployeeId {
    fn from(id: u64) -> Self {
        EmployeeId(id.to_string())
    }
}

/// Where a person stands in the employment lifecycle.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum EmploymentStatus {
    /// Hired, start date not yet reached (or onboarding not finished).
    Onboarding,
    /// Working.
    Active,
    /// On leave (parental leave, sabbatical…): still employed.
    Leave,
    /// Left the company.
    Inactive,
}

impl EmploymentStatus {
    /// Parses Personio's status in either spelling (`active`, `ACTIVE`).
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "onboarding" => Some(Self::Onboarding),
            "active" => Some(Self::Active),
            "leave" => Some(Self::Leave),
            "inactive" => Some(Self::Inactive),
            _ => None,
        }
    }

    /// The lower-case name, as in Personio v1 and in configuration.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Onboarding => "onboarding",
            Self::Active => "active",
            Self::Leave => "leave",
            Self::Inactive => "inactive",
        }
    }
}

impl fmt::Display for EmploymentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A named thing Personio refers to by id: an office, a legal entity, a subcompany.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
pub struct OrgRef {
    /// Personio's id, when it was sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The display name (may be empty when only the id is known).
    pub name: String,
}

/// A department or team, with the chain of its parents (nearest first), when known.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct OrgUnit {
    /// Personio's id, when it was sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The display name.
    pub name: String,
    /// Parents from the nearest up to the root; empty when flat or unknown.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parents: Vec<OrgRef>,
}

impl OrgUnit {
    /// The names from the root down to this unit, e.g. `["Engineering", "Platform"]`.
    pub fn path(&self) -> Vec<&str> {
        let mut path: Vec<&str> = self.parents.iter().rev().map(|p| p.name.as_str()).collect();
        path.push(&self.name);
        path
    }
}

/// A cost center with the share of the person's cost booked on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CostCenter {
    /// Personio's id, when it was sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The display name (empty when only the id is known, as in v2).
    pub name: String,
    /// Share in percent (0–100), when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percentage: Option<f64>,
}

/// A company-specific attribute (`dynamic_*` in Personio) with its metadata and typed value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomAttribute {
    /// The label shown in Personio, possibly localised; v2 sometimes omits it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The declared type.
    pub kind: AttributeType,
    /// The typed value.
    pub value: Value,
}

/// One person as the rest of the engine sees them, whichever API version they came from.
///
/// Fields that a credential may not read (Personio's attribute whitelist) are `None`/empty;
/// [`Employee::present_attributes`] tells which standard attributes carried data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Employee {
    /// Personio's id; the anchor for every target record.
    pub id: EmployeeId,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// The name the person goes by, when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_name: Option<String>,
    /// Work e-mail; missing for some records (dirty data exists).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// As Personio states it (`male`, `female`, `diverse`), lower case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gender: Option<String>,
    /// Lifecycle status; `None` when the credential may not read it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<EmploymentStatus>,
    /// Job title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<String>,
    /// Department, with its parent chain when the API gives it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<OrgUnit>,
    /// Team.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<OrgUnit>,
    /// Office (Personio now calls it "Workplace").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub office: Option<OrgRef>,
    /// Legal entity or (v1) subcompany.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legal_entity: Option<OrgRef>,
    /// Cost centers with their shares.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cost_centers: Vec<CostCenter>,
    /// The supervisor's Personio id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supervisor_id: Option<EmployeeId>,
    /// First working day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hire_date: Option<Date>,
    /// Date the employment ends by termination.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub termination_date: Option<Date>,
    /// Last day actually worked, when different from the termination date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_working_day: Option<Date>,
    /// End of a fixed-term contract.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract_end_date: Option<Date>,
    /// `internal` or `external`, lower case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub employment_type: Option<String>,
    /// Contracted hours per week.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weekly_hours: Option<f64>,
    /// URL of the profile picture (needs the API credential to fetch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar_url: Option<String>,
    /// Company-specific attributes by key (`dynamic_24407`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub custom: BTreeMap<String, CustomAttribute>,
    /// When the record was created in Personio.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Timestamp>,
    /// When Personio last changed the record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<Timestamp>,
}

impl Employee {
    /// An employee with only the required parts set; everything else empty.
    pub fn new(
        id: EmployeeId,
        first_name: impl Into<String>,
        last_name: impl Into<String>,
    ) -> Self {
        Employee {
            id,
            first_name: first_name.into(),
            last_name: last_name.into(),
            preferred_name: None,
            email: None,
            gender: None,
            status: None,
            position: None,
            department: None,
            team: None,
            office: None,
            legal_entity: None,
            cost_centers: Vec::new(),
            supervisor_id: None,
            hire_date: None,
            termination_date: None,
            last_working_day: None,
            contract_end_date: None,
            employment_type: None,
            weekly_hours: None,
            avatar_url: None,
            custom: BTreeMap::new(),
            created_at: None,
            last_modified: None,
        }
    }

    /// The name to show: preferred name (when set) and last name.
    pub fn display_name(&self) -> String {
        let first = self
            .preferred_name
            .as_deref()
            .filter(|p| !p.trim().is_empty())
            .unwrap_or(&self.first_name);
        format!("{first} {}", self.last_name).trim().to_string()
    }

    /// The canonical attribute names (see [`Employee::STANDARD_ATTRIBUTES`]) that carry a value.
    ///
    /// Whitelisting diagnostics compare this across all employees of a read: an attribute
    /// that no employee ever carries is most likely not readable by the credential.
    pub fn present_attributes(&self) -> Vec<&'static str> {
        let checks: [(&'static str, bool); 22] = [
            ("first_name", !self.first_name.is_empty()),
            ("last_name", !self.last_name.is_empty()),
            ("preferred_name", self.preferred_name.is_some()),
            ("email", self.email.is_some()),
            ("gender", self.gender.is_some()),
            ("status", self.status.is_some()),
            ("position", self.position.is_some()),
            ("department", self.department.is_some()),
            ("team", self.team.is_some()),
            ("office", self.office.is_some()),
            ("legal_entity", self.legal_entity.is_some()),
            ("cost_centers", !self.cost_centers.is_empty()),
            ("supervisor", self.supervisor_id.is_some()),
            ("hire_date", self.hire_date.is_some()),
            ("termination_date", self.termination_date.is_some()),
            ("last_working_day", self.last_working_day.is_some()),
            ("contract_end_date", self.contract_end_date.is_some()),
            ("employment_type", self.employment_type.is_some()),
            ("weekly_hours", self.weekly_hours.is_some()),
            ("avatar", self.avatar_url.is_some()),
            ("created_at", self.created_at.is_some()),
            ("last_modified", self.last_modified.is_some()),
        ];
        checks
            .into_iter()
            .filter(|(_, present)| *present)
            .map(|(name, _)| name)
            .collect()
    }

    /// Every standard attribute name the canonical model knows, in display order.
    pub const STANDARD_ATTRIBUTES: [&'static str; 23] = [
        "id",
        "first_name",
        "last_name",
        "preferred_name",
        "email",
        "gender",
        "status",
        "position",
        "department",
        "team",
        "office",
        "legal_entity",
        "cost_centers",
        "supervisor",
        "hire_date",
        "termination_date",
        "last_working_day",
        "contract_end_date",
        "employment_type",
        "weekly_hours",
        "avatar",
        "created_at",
        "last_modified",
    ];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_name_prefers_the_preferred_name() {
        let mut e = Employee::new(EmployeeId::new("7"), "Margarethe", "Öztürk");
        assert_eq!(e.display_name(), "Margarethe Öztürk");
        e.preferred_name = Some("Grete".into());
        assert_eq!(e.display_name(), "Grete Öztürk");
        e.preferred_name = Some("  ".into());
        assert_eq!(e.display_name(), "Margarethe Öztürk");
    }

    #[test]
    fn status_parses_both_spellings() {
        assert_eq!(
            EmploymentStatus::parse("ACTIVE"),
            Some(EmploymentStatus::Active)
        );
        assert_eq!(
            EmploymentStatus::parse("leave"),
            Some(EmploymentStatus::Leave)
        );
        assert_eq!(EmploymentStatus::parse("UNSPECIFIED"), None);
    }

    #[test]
    fn org_unit_path_runs_from_root_to_leaf() {
        let unit = OrgUnit {
            id: Some("3".into()),
            name: "Platform".into(),
            parents: vec![
                OrgRef {
                    id: Some("2".into()),
                    name: "Engineering".into(),
                },
                OrgRef {
                    id: Some("1".into()),
                    name: "Product & Tech".into(),
                },
            ],
        };
        assert_eq!(
            unit.path(),
            vec!["Product & Tech", "Engineering", "Platform"]
        );
    }

    #[test]
    fn present_attributes_lists_only_filled_fields() {
        let mut e = Employee::new(EmployeeId::from(1), "A", "B");
        e.email = Some("a@b.c".into());
        let present = e.present_attributes();
        assert_eq!(present, vec!["first_name", "last_name", "email"]);
        for name in present {
            assert!(Employee::STANDARD_ATTRIBUTES.contains(&name), "{name}");
        }
    }
}
