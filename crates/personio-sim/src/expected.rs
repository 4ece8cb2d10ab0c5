//! Ground truth: the canonical employees a correct client must produce from what is served.

use crate::company::{
    COST_CENTERS, CUSTOM_DEFS, CVal, Company, CustomKind, DEPARTMENTS, LEGAL_ENTITIES, OFFICES,
    Person, TEAMS, Unit,
};
use crate::config::SimApi;
use crate::dates;
use psync_model::{
    AttributeType, CostCenter, CustomAttribute, Employee, EmployeeId, OrgRef, OrgUnit, Value,
};

fn unit(units: &'static [Unit], id: Option<u64>, with_parents: bool) -> Option<OrgUnit> {
    let u = units.iter().find(|u| Some(u.id) == id)?;
    let mut parents = Vec::new();
    if with_parents {
        let mut cur = u.parent;
        while let Some(pid) = cur {
            let Some(p) = units.iter().find(|x| x.id == pid) else {
                break;
            };
            parents.push(OrgRef {
                id: Some(p.id.to_string()),
                name: p.name.to_string(),
            });
            cur = p.parent;
            if parents.len() > units.len() {
                break;
            }
        }
    }
    Some(OrgUnit {
        id: Some(u.id.to_string()),
        name: u.name.to_string(),
        parents,
    })
}

fn named(items: &'static [crate::company::Named], id: Option<u64>) -> Option<OrgRef> {
    let x = items.iter().find(|x| Some(x.id) == id)?;
    Some(OrgRef {
        id: Some(x.id.to_string()),
        name: x.name.to_string(),
    })
}

fn custom_kind(kind: CustomKind, api: SimApi) -> AttributeType {
    match (kind, api) {
        (CustomKind::List, SimApi::V1) => AttributeType::Choice,
        (CustomKind::Tags, _) => AttributeType::Tags,
        (CustomKind::Date, _) => AttributeType::Date,
        (CustomKind::Integer, _) => AttributeType::Integer,
        (CustomKind::Decimal, _) => AttributeType::Decimal,
        (CustomKind::Boolean, SimApi::V2) => AttributeType::Boolean,
        _ => AttributeType::Text,
    }
}

fn custom_value(v: Option<CVal>, api: SimApi) -> Value {
    match v {
        None => Value::Null,
        Some(CVal::Text(s)) if s.is_empty() => Value::Null,
        Some(CVal::Text(s)) => Value::Text(s),
        Some(CVal::Int(i)) => Value::Integer(i),
        Some(CVal::Dec(d)) => Value::Decimal(d),
        Some(CVal::Date(d)) => dates::to_jiff_date(d).map_or(Value::Null, Value::Date),
        Some(CVal::Bool(b)) => match api {
            SimApi::V1 => Value::Text(b.to_string()),
            SimApi::V2 => Value::Boolean(b),
        },
        Some(CVal::Tags(t)) if t.is_empty() => Value::Null,
        Some(CVal::Tags(t)) => Value::List(t),
    }
}

/// One canonical employee as read through `api` with a full-whitelist credential.
pub(crate) fn employee(p: &Person, company: &Company, api: SimApi, base_url: &str) -> Employee {
    let mut e = Employee::new(
        EmployeeId::from(p.id),
        p.first_name.clone(),
        p.last_name.clone(),
    );
    e.preferred_name = p.preferred_name.clone().filter(|s| !s.is_empty());
    e.email = p.email.clone().filter(|s| !s.is_empty());
    e.gender = Some(p.gender.v1().to_string());
    e.status = Some(p.status.to_model());
    e.position = Some(p.position.clone()).filter(|s| !s.is_empty());
    e.department = unit(DEPARTMENTS, p.department, api == SimApi::V2);
    e.team = unit(TEAMS, p.team, api == SimApi::V2);
    e.office = named(OFFICES, p.office);
    e.legal_entity = named(LEGAL_ENTITIES, p.legal_entity);
    e.cost_centers = p
        .cost_centers
        .iter()
        .filter_map(|(id, pct)| {
            let c = COST_CENTERS.iter().find(|c| c.id == *id)?;
            Some(CostCenter {
                id: Some(c.id.to_string()),
                name: c.name.to_string(),
                percentage: Some(f64::from(*pct)),
            })
        })
        .collect();
    e.supervisor_id = p.supervisor.map(EmployeeId::from);
    e.hire_date = p.hire_date.and_then(dates::to_jiff_date);
    e.termination_date = p.termination_date.and_then(dates::to_jiff_date);
    e.last_working_day = p.last_working_day.and_then(dates::to_jiff_date);
    e.contract_end_date = p.contract_end_date.and_then(dates::to_jiff_date);
    e.employment_type = Some(if p.external { "external" } else { "internal" }.to_string());
    e.weekly_hours = Some(p.weekly_hours);
    e.avatar_url = p
        .has_picture
        .then(|| crate::v1::picture_url(base_url, p.id));
    for (idx, def) in CUSTOM_DEFS.iter().enumerate() {
        let value = p.custom(company.seed, idx);
        if api == SimApi::V2 && value.is_none() {
            // v2 lists only attributes that have a value.
            continue;
        }
        let label = match api {
            SimApi::V2 if def.v2_label_missing => None,
            _ => Some(def.label.to_string()),
        };
        e.custom.insert(
            def.key.to_string(),
            CustomAttribute {
                label,
                kind: custom_kind(def.kind, api),
                value: custom_value(value, api),
            },
        );
    }
    e.created_at = jiff::Timestamp::from_second(p.created_at).ok();
    e.last_modified = jiff::Timestamp::from_second(p.updated_at).ok();
    e
}

/// All canonical employees, sorted by id, without the malformed-record fault's employee.
pub(crate) fn employees(
    company: &Company,
    api: SimApi,
    base_url: &str,
    malformed: Option<u64>,
) -> Vec<Employee> {
    company
        .people
        .iter()
        .filter(|p| Some(p.id) != malformed)
        .map(|p| employee(p, company, api, base_url))
        .collect()
}
