//! v1 employee records (`{type, attributes: {key: {label, value, type, universal_id}}}`) to
//! canonical [`Employee`]s, tolerant of every documented shape quirk.

use crate::convert;
use crate::diagnostics::SkippedRecord;
use psync_model::{
    CostCenter, CustomAttribute, Employee, EmployeeId, EmploymentStatus, OrgRef, OrgUnit,
};
use serde_json::{Map, Value};

/// The `attributes` object of a v1 record; `Err` when the record has none.
fn attributes(record: &Value) -> Result<&Map<String, Value>, String> {
    record
        .get("attributes")
        .and_then(Value::as_object)
        .ok_or_else(|| "the record has no attributes object".to_string())
}

/// The `value` of a labelled attribute (or a bare value from very old responses).
fn value<'a>(attrs: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    let attr = attrs.get(key)?;
    match attr {
        Value::Object(o) if o.contains_key("value") || o.contains_key("label") => o.get("value"),
        other => Some(other),
    }
}

/// The id of a record as text, for reporting a skipped record (even an invalid one).
pub(crate) fn raw_id(record: &Value) -> Option<String> {
    let attrs = record.get("attributes")?.as_object()?;
    match value(attrs, "id")? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        other => Some(convert::short(other)),
    }
}

/// The `{id, name}` of a nested object (`{type, attributes: {id, name}}`); `""`/`[]` → `None`.
fn nested(value: Option<&Value>) -> Option<(Option<String>, String)> {
    let object = value?.as_object()?;
    let inner = object
        .get("attributes")
        .and_then(Value::as_object)
        .unwrap_or(object);
    let id = inner
        .get("id")
        .and_then(nested_scalar)
        .and_then(|v| convert::id(&v));
    let name = inner
        .get("name")
        .and_then(|v| convert::text(&nested_scalar(v)?).ok().flatten())
        .unwrap_or_default();
    (id.is_some() || !name.is_empty()).then_some((id, name))
}

/// A nested attribute's scalar, itself possibly labelled (`{label, value}`).
fn nested_scalar(value: &Value) -> Option<Value> {
    match value {
        Value::Object(o) => o.get("value").cloned(),
        other => Some(other.clone()),
    }
}

fn text(attrs: &Map<String, Value>, key: &str) -> Option<String> {
    value(attrs, key)
        .and_then(|v| convert::text(v).ok().flatten())
        .map(|s| s.trim().to_string())
}

/// Converts one v1 record. `Err` carries the reason; the caller reports it as skipped.
pub(crate) fn employee(record: &Value) -> Result<Employee, SkippedRecord> {
    let skip = |reason: String| SkippedRecord {
        id: raw_id(record),
        reason,
    };
    let attrs = attributes(record).map_err(skip)?;
    let id = match value(attrs, "id") {
        Some(v) => convert::person_id(v).map_err(skip)?,
        None => return Err(skip("the record has no id".into())),
    };
    let first_name = convert::name(value(attrs, "first_name"), "first_name").map_err(skip)?;
    let last_name = convert::name(value(attrs, "last_name"), "last_name").map_err(skip)?;
    let mut e = Employee::new(EmployeeId::new(id), first_name, last_name);
    e.preferred_name = text(attrs, "preferred_name");
    e.email = text(attrs, "email");
    e.gender = text(attrs, "gender").map(|g| g.to_lowercase());
    e.status = text(attrs, "status").and_then(|s| EmploymentStatus::parse(&s));
    e.position = text(attrs, "position");
    let unit = |key| {
        nested(value(attrs, key)).map(|(id, name)| OrgUnit {
            id,
            name,
            parents: Vec::new(),
        })
    };
    e.department = unit("department");
    e.team = unit("team");
    let org_ref = |key| nested(value(attrs, key)).map(|(id, name)| OrgRef { id, name });
    e.office = org_ref("office");
    e.legal_entity = org_ref("legal_entity").or_else(|| org_ref("subcompany"));
    e.cost_centers = cost_centers(value(attrs, "cost_centers"));
    e.supervisor_id = supervisor(value(attrs, "supervisor"));
    let date = |key| value(attrs, key).and_then(convert::date);
    e.hire_date = date("hire_date");
    e.termination_date = date("termination_date");
    e.last_working_day = date("last_working_day").or_else(|| date("last_working_date"));
    e.contract_end_date = date("contract_end_date");
    e.employment_type = text(attrs, "employment_type").map(|t| t.to_lowercase());
    e.weekly_hours = value(attrs, "weekly_working_hours").and_then(convert::number);
    e.avatar_url = text(attrs, "profile_picture");
    e.created_at = value(attrs, "created_at").and_then(convert::timestamp);
    e.last_modified = value(attrs, "last_modified_at").and_then(convert::timestamp);
    for (key, attr) in attrs.iter().filter(|(k, _)| k.starts_with("dynamic_")) {
        e.custom.insert(key.clone(), custom(attr));
    }
    Ok(e)
}

/// A `dynamic_*` attribute with its label and typed value.
fn custom(attr: &Value) -> CustomAttribute {
    let (label, declared, raw) = match attr {
        Value::Object(o) if o.contains_key("value") || o.contains_key("label") => (
            o.get("label").and_then(Value::as_str).map(str::to_string),
            o.get("type")
                .and_then(Value::as_str)
                .and_then(convert::attribute_type),
            o.get("value").unwrap_or(&Value::Null),
        ),
        other => (None, None, other),
    };
    let kind = declared.unwrap_or_else(|| convert::inferred_type(raw));
    CustomAttribute {
        label,
        kind,
        value: convert::typed(kind, raw),
    }
}

fn cost_centers(value: Option<&Value>) -> Vec<CostCenter> {
    let items = match value {
        Some(Value::Array(items)) => items.as_slice(),
        Some(single @ Value::Object(_)) => std::slice::from_ref(single),
        _ => return Vec::new(),
    };
    items
        .iter()
        .filter_map(|item| {
            let (id, name) = nested(Some(item))?;
            let inner = item.get("attributes").unwrap_or(item);
            let percentage = inner
                .get("percentage")
                .or_else(|| inner.get("weight"))
                .and_then(convert::number);
            Some(CostCenter {
                id,
                name,
                percentage,
            })
        })
        .collect()
}

/// The supervisor's id from a nested Employee whose `attributes.id` may itself be labelled.
fn supervisor(value: Option<&Value>) -> Option<EmployeeId> {
    let object = value?.as_object()?;
    let inner = object
        .get("attributes")
        .and_then(Value::as_object)
        .unwrap_or(object);
    let id = nested_scalar(inner.get("id")?)?;
    convert::person_id(&id).ok().map(EmployeeId::new)
}

#[cfg(test)]
mod tests {
    use super::*;
    use psync_model::{AttributeType, Value as Typed};
    use serde_json::json;

    fn attr(label: &str, value: Value, kind: &str) -> Value {
        json!({ "label": label, "value": value, "type": kind, "universal_id": null })
    }

    fn record(extra: Value) -> Value {
        let mut attrs = json!({
            "id": attr("ID", json!(501), "integer"),
            "first_name": attr("Vorname", json!("Ilse"), "standard"),
            "last_name": attr("Nachname", json!("Brandt"), "standard"),
        });
        if let (Some(a), Some(b)) = (attrs.as_object_mut(), extra.as_object()) {
            a.extend(b.clone());
        }
        json!({ "type": "Employee", "attributes": attrs })
    }

    #[test]
    fn standard_fields_map_including_nested_objects() {
        let r = record(json!({
            "email": attr("E-Mail", json!("ilse@example.test"), "standard"),
            "status": attr("Status", json!("leave"), "standard"),
            "gender": attr("Geschlecht", json!("Female"), "standard"),
            "department": attr("Abteilung", json!({"type": "Department", "attributes": {"id": 77, "name": "Logistik"}}), "standard"),
            "team": attr("Team", json!(""), "standard"),
            "office": attr("Workplace", json!({"type": "Office", "attributes": {"id": 5, "name": "Leipzig"}}), "standard"),
            "subcompany": attr("Firma", json!({"type": "Subcompany", "attributes": {"id": 9, "name": "Brandt GmbH"}}), "standard"),
            "cost_centers": attr("Kostenstelle", json!([{"type": "CostCenter", "attributes": {"id": 3, "name": "KS-3", "percentage": 60}}]), "standard"),
            "supervisor": attr("Vorgesetzter", json!({"type": "Employee", "attributes": {"id": {"label": "ID", "value": 17}}}), "standard"),
            "weekly_working_hours": attr("Wochenstunden", json!("38.5"), "standard"),
            "hire_date": attr("Eintritt", json!("2020-02-01T00:00:00+01:00"), "date"),
            "contract_end_date": attr("Vertragsende", json!("2025-01-31T00:00:00+0100"), "date"),
            "last_working_day": attr("Letzter Tag", json!(null), "date"),
            "employment_type": attr("Art", json!("INTERNAL"), "standard"),
            "last_modified_at": attr("Geändert", json!("2024-05-02T10:00:00+02:00"), "date"),
        }));
        let e = employee(&r).unwrap();
        assert_eq!(e.id.as_str(), "501");
        assert_eq!(e.status, Some(EmploymentStatus::Leave));
        assert_eq!(e.gender.as_deref(), Some("female"));
        assert_eq!(
            e.department.as_ref().map(|d| d.name.as_str()),
            Some("Logistik")
        );
        assert_eq!(
            e.department.as_ref().and_then(|d| d.id.as_deref()),
            Some("77")
        );
        assert_eq!(e.team, None, "an empty string is no team");
        assert_eq!(
            e.office,
            Some(OrgRef {
                id: Some("5".into()),
                name: "Leipzig".into()
            })
        );
        assert_eq!(e.legal_entity.map(|l| l.name), Some("Brandt GmbH".into()));
        assert_eq!(
            e.cost_centers,
            vec![CostCenter {
                id: Some("3".into()),
                name: "KS-3".into(),
                percentage: Some(60.0)
            }]
        );
        assert_eq!(e.supervisor_id, Some(EmployeeId::new("17")));
        assert_eq!(e.weekly_hours, Some(38.5));
        assert_eq!(e.hire_date, Some(jiff::civil::date(2020, 2, 1)));
        assert_eq!(e.contract_end_date, Some(jiff::civil::date(2025, 1, 31)));
        assert_eq!(e.last_working_day, None);
        assert_eq!(e.employment_type.as_deref(), Some("internal"));
        assert!(e.last_modified.is_some());
    }

    #[test]
    fn old_shape_without_type_and_universal_id_and_empty_lists() {
        let r = json!({"type": "Employee", "attributes": {
            "id": {"label": "ID", "value": "88"},
            "first_name": {"label": "First name", "value": "Jonas"},
            "last_name": {"label": "Last name", "value": "Quist"},
            "department": {"label": "Department", "value": []},
            "cost_centers": {"label": "Cost center", "value": ""},
            "supervisor": {"label": "Supervisor", "value": []},
        }});
        let e = employee(&r).unwrap();
        assert_eq!(e.id.as_str(), "88");
        assert_eq!(e.department, None);
        assert!(e.cost_centers.is_empty());
        assert_eq!(e.supervisor_id, None);
    }

    #[test]
    fn custom_attributes_get_kinds_labels_and_typed_values() {
        let r = record(json!({
            "dynamic_901": attr("Hemdgröße", json!("L"), "list"),
            "dynamic_902": attr("Sprachen", json!("[\"Deutsch\",\"Polnisch\"]"), "tags"),
            "dynamic_903": attr("Skills", json!("SQL, Excel"), "tags"),
            "dynamic_904": attr("Jubiläum", json!("2030-06-01"), "date"),
            "dynamic_905": attr("Schlüssel", json!("12"), "integer"),
            "dynamic_906": attr("Faktor", json!(1.25), "decimal"),
            "dynamic_6322ffb59ab387.97097504": {"label": "Notiz", "value": "frei"},
            "dynamic_907": attr("Leer", json!(null), "standard"),
        }));
        let e = employee(&r).unwrap();
        let c = |k: &str| e.custom.get(k).unwrap().clone();
        assert_eq!(c("dynamic_901").kind, AttributeType::Choice);
        assert_eq!(c("dynamic_901").label.as_deref(), Some("Hemdgröße"));
        assert_eq!(
            c("dynamic_902").value,
            Typed::List(vec!["Deutsch".into(), "Polnisch".into()])
        );
        assert_eq!(
            c("dynamic_903").value,
            Typed::List(vec!["SQL".into(), "Excel".into()])
        );
        assert_eq!(
            c("dynamic_904").value,
            Typed::Date(jiff::civil::date(2030, 6, 1))
        );
        assert_eq!(c("dynamic_905").value, Typed::Integer(12));
        assert_eq!(c("dynamic_906").value, Typed::Decimal(1.25));
        assert_eq!(
            c("dynamic_6322ffb59ab387.97097504").value,
            Typed::Text("frei".into())
        );
        assert_eq!(c("dynamic_907").value, Typed::Null);
    }

    #[test]
    fn malformed_records_are_reported_with_their_id() {
        let bad_name = record(json!({"first_name": attr("First", json!({"x": 1}), "standard")}));
        let skipped = employee(&bad_name).unwrap_err();
        assert_eq!(skipped.id.as_deref(), Some("501"));
        assert!(skipped.reason.contains("first_name"), "{}", skipped.reason);

        let bad_id =
            json!({"type": "Employee", "attributes": {"id": {"label": "ID", "value": "x"}}});
        let skipped = employee(&bad_id).unwrap_err();
        assert_eq!(skipped.id.as_deref(), Some("x"));

        let no_attrs = json!({"type": "Employee"});
        assert_eq!(employee(&no_attrs).unwrap_err().id, None);
    }
}
