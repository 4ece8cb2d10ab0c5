//! The variables a scope or template sees, built lazily from one `Employee`, and typed copies.

use minijinja::value::{Enumerator, Object, Value as JValue};
use psync_model::{
    CostCenter, CustomAttribute, Employee, EmployeeId, EmploymentStatus, OrgRef, OrgUnit, Value,
};
use std::sync::Arc;

/// Every variable of the one flat namespace shared by scope, fields and group levels.
pub const VARIABLES: &[&str] = &[
    "id",
    "first_name",
    "last_name",
    "preferred_name",
    "display_name",
    "email",
    "gender",
    "status",
    "position",
    "department",
    "department_path",
    "team",
    "office",
    "legal_entity",
    "cost_centers",
    "cost_center",
    "supervisor_id",
    "hire_date",
    "termination_date",
    "last_working_day",
    "contract_end_date",
    "employment_type",
    "weekly_hours",
    "avatar_url",
    "custom",
];

/// A variable as a typed value, for `from` (dates stay dates, lists stay lists).
///
/// Returns `None` for a name that is not a variable. Empty values are `Value::Null`.
pub fn typed_variable(e: &Employee, name: &str) -> Option<Value> {
    let text = |s: Option<&str>| match s {
        Some(s) if !s.is_empty() => Value::Text(s.to_string()),
        _ => Value::Null,
    };
    let list = |items: Vec<String>| {
        if items.is_empty() {
            Value::Null
        } else {
            Value::List(items)
        }
    };
    let date = |d: Option<jiff::civil::Date>| d.map_or(Value::Null, Value::Date);
    Some(match name {
        "id" => text(Some(e.id.as_str())),
        "first_name" => text(Some(&e.first_name)),
        "last_name" => text(Some(&e.last_name)),
        "preferred_name" => text(e.preferred_name.as_deref()),
        "display_name" => text(Some(&e.display_name())),
        "email" => text(e.email.as_deref()),
        "gender" => text(e.gender.as_deref()),
        "status" => text(e.status.as_ref().map(EmploymentStatus::as_str)),
        "position" => text(e.position.as_deref()),
        "department" => text(e.department.as_ref().map(|d| d.name.as_str())),
        "department_path" => list(department_path(e)),
        "team" => text(e.team.as_ref().map(|t| t.name.as_str())),
        "office" => text(e.office.as_ref().map(|o| o.name.as_str())),
        "legal_entity" => text(e.legal_entity.as_ref().map(|o| o.name.as_str())),
        "cost_centers" => list(cost_center_names(e)),
        "cost_center" => text(first_cost_center(e)),
        "supervisor_id" => text(e.supervisor_id.as_ref().map(EmployeeId::as_str)),
        "hire_date" => date(e.hire_date),
        "termination_date" => date(e.termination_date),
        "last_working_day" => date(e.last_working_day),
        "contract_end_date" => date(e.contract_end_date),
        "employment_type" => text(e.employment_type.as_deref()),
        "weekly_hours" => e.weekly_hours.map_or(Value::Null, Value::Decimal),
        "avatar_url" => text(e.avatar_url.as_deref()),
        _ => return None,
    })
}

/// The type a variable has when copied with `from` (`None` for `custom`: known only per person).
pub fn variable_type(name: &str) -> Option<psync_model::AttributeType> {
    use psync_model::AttributeType as T;
    match name {
        "hire_date" | "termination_date" | "last_working_day" | "contract_end_date" => {
            Some(T::Date)
        }
        "weekly_hours" => Some(T::Decimal),
        "department_path" | "cost_centers" => Some(T::Tags),
        "custom" => None,
        _ => Some(T::Text),
    }
}

/// A custom attribute by key, else by label (exact, then case-insensitive).
pub fn custom_attribute<'e>(e: &'e Employee, name: &str) -> Option<&'e CustomAttribute> {
    if let Some(a) = e.custom.get(name) {
        return Some(a);
    }
    let by_label = |exact: bool| {
        e.custom.values().find(|a| {
            a.label.as_deref().is_some_and(|l| {
                if exact {
                    l == name
                } else {
                    l.trim().eq_ignore_ascii_case(name.trim())
                }
            })
        })
    };
    by_label(true).or_else(|| by_label(false))
}

/// A custom attribute's value by key or label, `Null` when the person does not have it.
pub fn typed_custom(e: &Employee, name: &str) -> Value {
    match custom_attribute(e, name) {
        Some(a) if !a.value.is_empty() => a.value.clone(),
        _ => Value::Null,
    }
}

fn department_path(e: &Employee) -> Vec<String> {
    match &e.department {
        Some(d) => d
            .path()
            .into_iter()
            .filter(|n| !n.trim().is_empty())
            .map(str::to_string)
            .collect(),
        None => Vec::new(),
    }
}

fn cost_center_names(e: &Employee) -> Vec<String> {
    e.cost_centers
        .iter()
        .filter(|c| !c.name.is_empty())
        .map(|c| c.name.clone())
        .collect()
}

fn first_cost_center(e: &Employee) -> Option<&str> {
    e.cost_centers
        .iter()
        .map(|c| c.name.as_str())
        .find(|n| !n.is_empty())
}

/// A typed value as a template sees it: dates as ISO text, empty as `""`.
pub fn to_template_value(v: &Value) -> JValue {
    match v {
        Value::Null => JValue::from(""),
        Value::Text(s) => JValue::from(s.as_str()),
        Value::Integer(i) => JValue::from(*i),
        Value::Decimal(d) => JValue::from(*d),
        Value::Boolean(b) => JValue::from(*b),
        Value::Date(d) => JValue::from(d.to_string()),
        Value::List(l) => JValue::from_iter(l.iter().map(|s| JValue::from(s.as_str()))),
    }
}

/// One employee as the template context: variables computed on access.
///
/// Absent text and dates are `""` (so filters never see `none`), absent lists `[]`,
/// an absent `weekly_hours` is `none` (printed as nothing).
#[derive(Debug)]
pub struct PersonContext {
    employee: Employee,
}

impl PersonContext {
    /// Wraps an employee as a minijinja value.
    pub fn value(employee: &Employee) -> JValue {
        JValue::from_object(PersonContext {
            employee: employee.clone(),
        })
    }

    fn variable(self: &Arc<Self>, name: &str) -> Option<JValue> {
        let e = &self.employee;
        let text = |s: Option<&str>| JValue::from(s.unwrap_or(""));
        Some(match name {
            "custom" => JValue::from_object(CustomView(Arc::clone(self))),
            "weekly_hours" => e.weekly_hours.map_or(JValue::from(()), JValue::from),
            "display_name" => JValue::from(e.display_name()),
            "department_path" => {
                JValue::from_iter(department_path(e).into_iter().map(JValue::from))
            }
            "cost_centers" => JValue::from_iter(cost_center_names(e).into_iter().map(JValue::from)),
            "id" => text(Some(e.id.as_str())),
            "first_name" => text(Some(&e.first_name)),
            "last_name" => text(Some(&e.last_name)),
            "preferred_name" => text(e.preferred_name.as_deref()),
            "email" => text(e.email.as_deref()),
            "gender" => text(e.gender.as_deref()),
            "status" => text(e.status.as_ref().map(EmploymentStatus::as_str)),
            "position" => text(e.position.as_deref()),
            "department" => text(e.department.as_ref().map(|d| d.name.as_str())),
            "team" => text(e.team.as_ref().map(|t| t.name.as_str())),
            "office" => text(e.office.as_ref().map(|o| o.name.as_str())),
            "legal_entity" => text(e.legal_entity.as_ref().map(|o| o.name.as_str())),
            "cost_center" => text(first_cost_center(e)),
            "supervisor_id" => text(e.supervisor_id.as_ref().map(EmployeeId::as_str)),
            "employment_type" => text(e.employment_type.as_deref()),
            "avatar_url" => text(e.avatar_url.as_deref()),
            "hire_date" | "termination_date" | "last_working_day" | "contract_end_date" => {
                to_template_value(&typed_variable(e, name)?)
            }
            _ => return None,
        })
    }
}

impl Object for PersonContext {
    fn get_value(self: &Arc<Self>, key: &JValue) -> Option<JValue> {
        key.as_str().and_then(|k| self.variable(k))
    }

    fn get_value_by_str(self: &Arc<Self>, key: &str) -> Option<JValue> {
        self.variable(key)
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Str(VARIABLES)
    }
}

/// `custom`: by key (`custom.dynamic_24407`) and by label (`custom["Shirt size"]`).
/// A person without the attribute sees `""`.
#[derive(Debug)]
struct CustomView(Arc<PersonContext>);

impl Object for CustomView {
    fn get_value(self: &Arc<Self>, key: &JValue) -> Option<JValue> {
        key.as_str().map(|k| self.lookup(k))
    }

    fn get_value_by_str(self: &Arc<Self>, key: &str) -> Option<JValue> {
        Some(self.lookup(key))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        let keys: Vec<JValue> = self
            .0
            .employee
            .custom
            .keys()
            .map(|k| JValue::from(k.as_str()))
            .collect();
        Enumerator::Iter(Box::new(keys.into_iter()))
    }
}

impl CustomView {
    fn lookup(&self, name: &str) -> JValue {
        to_template_value(&typed_custom(&self.0.employee, name))
    }
}

/// A fully populated employee for probing templates at compile time.
pub fn sample_employee() -> Employee {
    let date = |y, m, d| Some(jiff::civil::date(y, m, d));
    let org = |name: &str| OrgRef {
        id: Some("1".into()),
        name: name.into(),
    };
    let mut e = Employee::new(EmployeeId::new("1"), "Sample", "Person");
    e.preferred_name = Some("Sam".into());
    e.email = Some("sample.person@example.com".into());
    e.gender = Some("diverse".into());
    e.status = Some(EmploymentStatus::Active);
    e.position = Some("Engineer".into());
    e.department = Some(OrgUnit {
        id: Some("2".into()),
        name: "Platform".into(),
        parents: vec![org("Engineering")],
    });
    e.team = Some(OrgUnit {
        id: Some("3".into()),
        name: "Core".into(),
        parents: Vec::new(),
    });
    e.office = Some(org("Munich"));
    e.legal_entity = Some(org("Sample GmbH"));
    e.cost_centers = vec![CostCenter {
        id: Some("4".into()),
        name: "R&D".into(),
        percentage: Some(100.0),
    }];
    e.supervisor_id = Some(EmployeeId::new("2"));
    e.hire_date = date(2020, 1, 1);
    e.termination_date = date(2030, 12, 31);
    e.last_working_day = date(2030, 12, 31);
    e.contract_end_date = date(2030, 12, 31);
    e.employment_type = Some("internal".into());
    e.weekly_hours = Some(40.0);
    e.avatar_url = Some("https://example.com/avatar.png".into());
    e
}
