//! v2 persons and employments (plus looked-up org units, workplaces, legal entities and cost
//! centers) to canonical [`Employee`]s.

use crate::convert;
use crate::diagnostics::SkippedRecord;
use psync_model::{
    CostCenter, CustomAttribute, Employee, EmployeeId, EmploymentStatus, OrgRef, OrgUnit,
};
use serde_json::Value;
use std::collections::HashMap;

/// Names and parents fetched once per read.
#[derive(Debug, Default)]
pub(crate) struct Lookups {
    /// `(type, id)` → unit, type `department` or `team`.
    pub(crate) units: HashMap<(String, String), OrgUnit>,
    /// Workplace (office) id → name.
    pub(crate) workplaces: HashMap<String, String>,
    /// Legal entity id → name.
    pub(crate) legal_entities: HashMap<String, String>,
    /// Cost center id → name.
    pub(crate) cost_centers: HashMap<String, String>,
}

/// `{id, name}` list items to an id → name map.
pub(crate) fn names(items: &[Value]) -> HashMap<String, String> {
    items
        .iter()
        .filter_map(|item| {
            let id = convert::id(item.get("id")?)?;
            let name = item
                .get("name")
                .and_then(|n| convert::text(n).ok().flatten())
                .unwrap_or_default();
            Some((id, name))
        })
        .collect()
}

/// An org-unit response (`{id, type, name, parent_chain: [...]}`) as a canonical unit.
pub(crate) fn org_unit(body: &Value, id: &str) -> OrgUnit {
    let unit = match body.get("_data") {
        Some(data @ Value::Object(_)) => data,
        _ => body,
    };
    let name = unit
        .get("name")
        .and_then(|n| convert::text(n).ok().flatten())
        .unwrap_or_default();
    let parents = unit
        .get("parent_chain")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| {
            let id = p.get("id").and_then(convert::id);
            let name = p
                .get("name")
                .and_then(|n| convert::text(n).ok().flatten())
                .unwrap_or_default();
            (id.is_some() || !name.is_empty()).then_some(OrgRef { id, name })
        })
        .collect();
    OrgUnit {
        id: Some(id.to_string()),
        name,
        parents,
    }
}

/// The `(type, id)` org units an employment refers to.
pub(crate) fn unit_refs(employment: &Value) -> Vec<(String, String)> {
    employment
        .get("org_units")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|u| {
            let kind = u.get("type")?.as_str()?.trim().to_ascii_lowercase();
            let id = convert::id(u.get("id")?)?;
            Some((kind, id))
        })
        .collect()
}

/// The id of a reference object `{id: ...}`.
fn ref_id(value: Option<&Value>) -> Option<String> {
    value?.get("id").and_then(convert::id)
}

fn text(value: Option<&Value>) -> Option<String> {
    value
        .and_then(|v| convert::text(v).ok().flatten())
        .map(|s| s.trim().to_string())
}

/// An enum value in Personio's upper case, lower-cased, `UNSPECIFIED` dropped.
fn enum_value(value: Option<&Value>) -> Option<String> {
    text(value)
        .map(|s| s.to_lowercase())
        .filter(|s| s != "unspecified")
}

/// Converts one person with its most recent employment.
pub(crate) fn employee(
    person: &Value,
    employment: Option<&Value>,
    lookups: &Lookups,
) -> Result<Employee, SkippedRecord> {
    let raw_id = person.get("id").map(|v| match v {
        Value::String(s) => s.clone(),
        other => convert::short(other),
    });
    let skip = |reason: String| SkippedRecord {
        id: raw_id.clone(),
        reason,
    };
    if !person.is_object() {
        return Err(skip(format!(
            "a person that is not an object: {}",
            convert::short(person)
        )));
    }
    let id = match person.get("id") {
        Some(v) => convert::person_id(v).map_err(skip)?,
        None => return Err(skip("the person has no id".into())),
    };
    let first_name = convert::name(person.get("first_name"), "first_name").map_err(skip)?;
    let last_name = convert::name(person.get("last_name"), "last_name").map_err(skip)?;
    let mut e = Employee::new(EmployeeId::new(id), first_name, last_name);
    e.preferred_name = text(person.get("preferred_name"));
    e.email = text(person.get("email"));
    e.gender = enum_value(person.get("gender"));
    e.avatar_url = person
        .get("profile_picture")
        .and_then(|p| text(p.get("url")));
    e.created_at = person.get("created_at").and_then(convert::timestamp);
    e.last_modified = person.get("updated_at").and_then(convert::timestamp);
    e.status = text(person.get("status")).and_then(|s| EmploymentStatus::parse(&s));
    for attr in person
        .get("custom_attributes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(key) = attr.get("id").and_then(|k| convert::text(k).ok().flatten()) else {
            continue;
        };
        let raw = attr.get("value").unwrap_or(&Value::Null);
        let kind = attr
            .get("type")
            .and_then(Value::as_str)
            .and_then(convert::attribute_type)
            .unwrap_or_else(|| convert::inferred_type(raw));
        let label = text(attr.get("label"));
        e.custom.insert(
            key,
            CustomAttribute {
                label,
                kind,
                value: convert::typed(kind, raw),
            },
        );
    }
    if let Some(employment) = employment {
        apply_employment(&mut e, employment, lookups);
    }
    Ok(e)
}

fn apply_employment(e: &mut Employee, employment: &Value, lookups: &Lookups) {
    let get = |k: &str| employment.get(k);
    if let Some(status) = text(get("status")).and_then(|s| EmploymentStatus::parse(&s)) {
        e.status = Some(status);
    }
    e.position = get("position").and_then(|p| text(p.get("title")));
    e.employment_type = enum_value(get("type"));
    e.weekly_hours = get("weekly_working_hours").and_then(convert::number);
    e.hire_date = get("employment_start_date").and_then(convert::date);
    e.contract_end_date = get("contract_end_date").and_then(convert::date);
    e.supervisor_id = ref_id(get("supervisor"))
        .filter(|id| id.chars().all(|c| c.is_ascii_digit()))
        .map(EmployeeId::new);
    if let Some(termination) = get("termination").filter(|t| t.is_object()) {
        e.termination_date = termination.get("termination_date").and_then(convert::date);
        e.last_working_day = termination
            .get("last_working_day")
            .and_then(convert::date)
            .or_else(|| termination.get("last_working_date").and_then(convert::date));
    }
    if e.termination_date.is_none() {
        e.termination_date = get("employment_end_date").and_then(convert::date);
    }
    for (kind, id) in unit_refs(employment) {
        let unit = lookups
            .units
            .get(&(kind.clone(), id.clone()))
            .cloned()
            .unwrap_or(OrgUnit {
                id: Some(id),
                name: String::new(),
                parents: Vec::new(),
            });
        match kind.as_str() {
            "department" if e.department.is_none() => e.department = Some(unit),
            "team" if e.team.is_none() => e.team = Some(unit),
            _ => {}
        }
    }
    let named = |id: String, names: &HashMap<String, String>| OrgRef {
        name: names.get(&id).cloned().unwrap_or_default(),
        id: Some(id),
    };
    e.office = ref_id(get("office")).map(|id| named(id, &lookups.workplaces));
    e.legal_entity = ref_id(get("legal_entity"))
        .or_else(|| ref_id(get("sub_company")))
        .map(|id| named(id, &lookups.legal_entities));
    e.cost_centers = get("cost_centers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| {
            let id = convert::id(c.get("id")?)?;
            Some(CostCenter {
                name: lookups.cost_centers.get(&id).cloned().unwrap_or_default(),
                percentage: c
                    .get("weight")
                    .or_else(|| c.get("percentage"))
                    .and_then(convert::number),
                id: Some(id),
            })
        })
        .collect();
    if let Some(updated) = get("updated_at").and_then(convert::timestamp)
        && e.last_modified.is_none_or(|m| updated > m)
    {
        e.last_modified = Some(updated);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use psync_model::{AttributeType, Value as Typed};
    use serde_json::json;

    fn lookups() -> Lookups {
        let mut l = Lookups::default();
        let unit = org_unit(
            &json!({"id": "31", "type": "department", "name": "Backend",
                    "parent_chain": [{"id": "30", "type": "department", "name": "Technik"}]}),
            "31",
        );
        l.units.insert(("department".into(), "31".into()), unit);
        l.workplaces.insert("8".into(), "Bremen".into());
        l.legal_entities.insert("2".into(), "Nordlicht AG".into());
        l.cost_centers.insert("600".into(), "Forschung".into());
        l
    }

    #[test]
    fn person_and_employment_merge_with_lookups() {
        let person = json!({
            "id": "2201", "first_name": "Tarek", "last_name": "Nolde", "email": "t.nolde@example.test",
            "preferred_name": "", "gender": "DIVERSE", "status": "ACTIVE",
            "created_at": "2022-01-10T08:00:00Z", "updated_at": "2024-01-10T08:00:00Z",
            "profile_picture": {"url": "https://pics.example.test/2201"},
            "custom_attributes": [
                {"id": "dynamic_77", "type": "string", "value": "blau", "global_id": null},
                {"id": "dynamic_78", "type": "STRING_LIST", "value": ["a", "b"], "label": "Tags"},
                {"id": "dynamic_79", "type": "INT", "value": "7", "label": "Zahl"},
                {"id": "dynamic_80", "type": "BOOLEAN", "value": false, "label": "Flag"}
            ]
        });
        let employment = json!({
            "id": "e-1", "status": "LEAVE", "type": "EXTERNAL", "position": {"title": "Architekt"},
            "weekly_working_hours": 30, "employment_start_date": "2022-02-01",
            "contract_end_date": null, "supervisor": {"id": "2100"}, "office": {"id": "8"},
            "org_units": [{"type": "department", "id": "31"}, {"type": "team", "id": "99"}],
            "cost_centers": [{"id": "600", "weight": 100}], "legal_entity": {"id": "2"},
            "termination": {"termination_date": "2024-12-31", "last_working_date": "2024-12-20"},
            "updated_at": "2024-06-01T00:00:00Z"
        });
        let e = employee(&person, Some(&employment), &lookups()).unwrap();
        assert_eq!(e.id.as_str(), "2201");
        assert_eq!(e.preferred_name, None);
        assert_eq!(e.gender.as_deref(), Some("diverse"));
        assert_eq!(e.status, Some(EmploymentStatus::Leave));
        assert_eq!(e.employment_type.as_deref(), Some("external"));
        assert_eq!(e.position.as_deref(), Some("Architekt"));
        let dept = e.department.clone().unwrap();
        assert_eq!(dept.path(), vec!["Technik", "Backend"]);
        assert_eq!(
            e.team,
            Some(OrgUnit {
                id: Some("99".into()),
                name: String::new(),
                parents: vec![]
            })
        );
        assert_eq!(e.office.clone().unwrap().name, "Bremen");
        assert_eq!(e.legal_entity.clone().unwrap().name, "Nordlicht AG");
        assert_eq!(e.cost_centers[0].name, "Forschung");
        assert_eq!(e.cost_centers[0].percentage, Some(100.0));
        assert_eq!(e.supervisor_id, Some(EmployeeId::new("2100")));
        assert_eq!(e.termination_date, Some(jiff::civil::date(2024, 12, 31)));
        assert_eq!(e.last_working_day, Some(jiff::civil::date(2024, 12, 20)));
        assert_eq!(e.custom["dynamic_77"].kind, AttributeType::Text);
        assert_eq!(e.custom["dynamic_77"].label, None);
        assert_eq!(
            e.custom["dynamic_78"].value,
            Typed::List(vec!["a".into(), "b".into()])
        );
        assert_eq!(e.custom["dynamic_79"].value, Typed::Integer(7));
        assert_eq!(e.custom["dynamic_80"].value, Typed::Boolean(false));
        assert_eq!(
            e.avatar_url.as_deref(),
            Some("https://pics.example.test/2201")
        );
    }

    #[test]
    fn a_person_without_employment_or_with_bad_fields() {
        let person =
            json!({"id": 5, "first_name": "Ada", "last_name": "Kern", "status": "INACTIVE"});
        let e = employee(&person, None, &Lookups::default()).unwrap();
        assert_eq!(e.status, Some(EmploymentStatus::Inactive));
        let bad = json!({"id": "5", "first_name": ["Ada"], "last_name": "Kern"});
        let skipped = employee(&bad, None, &Lookups::default()).unwrap_err();
        assert_eq!(skipped.id.as_deref(), Some("5"));
        let bad_id = json!({"id": "x", "first_name": "Ada"});
        assert_eq!(
            employee(&bad_id, None, &Lookups::default())
                .unwrap_err()
                .id
                .as_deref(),
            Some("x")
        );
    }
}
