//! expected_employees agrees with the wire: a small reference reader for v1 and v2 must rebuild
//! exactly the ground truth from what the simulator serves.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] fns: a panic is a failed test"
)]

mod common;

use common::*;
use jiff::civil::Date;
use psync_model::{
    AttributeType, CostCenter, CustomAttribute, Employee, EmployeeId, EmploymentStatus, OrgRef,
    OrgUnit, Value as V,
};
use psync_personio_sim::SimApi;
use serde_json::Value;
use std::collections::HashMap;

fn v1_date(v: &Value) -> Option<Date> {
    let s = v.as_str().filter(|s| !s.is_empty())?;
    Some(s[..10].parse().unwrap())
}

fn v1_ts(v: &Value) -> Option<jiff::Timestamp> {
    let s = v.as_str()?;
    Some(s.parse().unwrap())
}

fn nested(v: &Value) -> Option<(String, String)> {
    let a = v.get("attributes")?;
    Some((a["id"].to_string(), a["name"].as_str()?.to_string()))
}

fn text(v: &Value) -> Option<String> {
    v.as_str().filter(|s| !s.is_empty()).map(str::to_string)
}

fn v1_employee(a: &Value) -> Employee {
    let mut e = Employee::new(
        EmployeeId::new(a["id"]["value"].to_string()),
        a["first_name"]["value"].as_str().unwrap(),
        a["last_name"]["value"].as_str().unwrap(),
    );
    e.preferred_name = text(&a["preferred_name"]["value"]);
    e.email = text(&a["email"]["value"]);
    e.gender = text(&a["gender"]["value"]).map(|g| g.to_lowercase());
    e.status = a["status"]["value"]
        .as_str()
        .and_then(EmploymentStatus::parse);
    e.position = text(&a["position"]["value"]);
    e.department = nested(&a["department"]["value"]).map(|(id, name)| OrgUnit {
        id: Some(id),
        name,
        parents: vec![],
    });
    e.team = nested(&a["team"]["value"]).map(|(id, name)| OrgUnit {
        id: Some(id),
        name,
        parents: vec![],
    });
    e.office = nested(&a["office"]["value"]).map(|(id, name)| OrgRef { id: Some(id), name });
    e.legal_entity =
        nested(&a["subcompany"]["value"]).map(|(id, name)| OrgRef { id: Some(id), name });
    e.cost_centers = a["cost_centers"]["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| CostCenter {
            id: Some(c["attributes"]["id"].to_string()),
            name: c["attributes"]["name"].as_str().unwrap().into(),
            percentage: c["attributes"]["percentage"].as_f64(),
        })
        .collect();
    e.supervisor_id = a["supervisor"]["value"]
        .get("attributes")
        .map(|s| EmployeeId::new(s["id"]["value"].to_string()));
    e.hire_date = v1_date(&a["hire_date"]["value"]);
    e.termination_date = v1_date(&a["termination_date"]["value"]);
    e.last_working_day = v1_date(&a["last_working_day"]["value"]);
    e.contract_end_date = v1_date(&a["contract_end_date"]["value"]);
    e.employment_type = text(&a["employment_type"]["value"]);
    e.weekly_hours = a["weekly_working_hours"]["value"]
        .as_str()
        .map(|s| s.parse().unwrap());
    e.avatar_url = text(&a["profile_picture"]["value"]);
    e.created_at = v1_ts(&a["created_at"]["value"]);
    e.last_modified = v1_ts(&a["last_modified_at"]["value"]);
    for (k, attr) in a
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| k.starts_with("dynamic_"))
    {
        let (kind, value) = match attr["type"].as_str().unwrap() {
            "list" => (
                AttributeType::Choice,
                text(&attr["value"]).map_or(V::Null, V::Text),
            ),
            "tags" => (
                AttributeType::Tags,
                match text(&attr["value"]) {
                    None => V::Null,
                    Some(s) if s.starts_with('[') => V::List(serde_json::from_str(&s).unwrap()),
                    Some(s) => V::List(s.split(',').map(|x| x.trim().to_string()).collect()),
                },
            ),
            "date" => (
                AttributeType::Date,
                v1_date(&attr["value"]).map_or(V::Null, V::Date),
            ),
            "integer" => (
                AttributeType::Integer,
                attr["value"].as_i64().map_or(V::Null, V::Integer),
            ),
            "decimal" => (
                AttributeType::Decimal,
                attr["value"].as_f64().map_or(V::Null, V::Decimal),
            ),
            _ => (
                AttributeType::Text,
                text(&attr["value"]).map_or(V::Null, V::Text),
            ),
        };
        e.custom.insert(
            k.clone(),
            CustomAttribute {
                label: attr["label"].as_str().map(str::to_string),
                kind,
                value,
            },
        );
    }
    e
}

#[tokio::test]
async fn v1_wire_rebuilds_the_ground_truth() {
    let sim = sim(quiet(400)).await;
    let t = v1_token(&sim, "sim-client", "sim-secret").await;
    let mut got = Vec::new();
    for offset in (0..400).step_by(100) {
        let (_, v) = get_json(
            &format!(
                "{}/v1/company/employees?limit=100&offset={offset}",
                sim.base_url()
            ),
            &t,
        )
        .await;
        got.extend(
            v["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| v1_employee(&e["attributes"])),
        );
    }
    let expected = sim.expected_employees(SimApi::V1);
    assert_eq!(got.len(), expected.len());
    for (g, x) in got.iter().zip(&expected) {
        assert_eq!(g, x, "employee {}", x.id);
    }
    sim.shutdown().await;
}

async fn names(
    sim: &psync_personio_sim::SimHandle,
    t: &str,
    path: &str,
) -> HashMap<String, String> {
    let (_, v) = get_json(&format!("{}/v2/{path}", sim.base_url()), t).await;
    v["_data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["id"].as_str().unwrap().into(),
                x["name"].as_str().unwrap().into(),
            )
        })
        .collect()
}

#[tokio::test]
#[allow(clippy::map_entry, reason = "the inserted value needs an .await")]
async fn v2_wire_rebuilds_the_ground_truth() {
    let sim = sim(quiet(150)).await;
    let base = sim.base_url();
    let t = v2_token(&sim, "sim-client", "sim-secret").await;
    let offices = names(&sim, &t, "workplaces").await;
    let entities = names(&sim, &t, "legal-entities").await;
    let ccs = names(&sim, &t, "cost-centers").await;
    let mut units: HashMap<(String, String), OrgUnit> = HashMap::new();
    let mut got = Vec::new();
    let mut url = format!("{base}/v2/persons?limit=50");
    loop {
        let (_, v) = get_json(&url, &t).await;
        for p in v["_data"].as_array().unwrap() {
            let id = p["id"].as_str().unwrap();
            let mut e = Employee::new(
                EmployeeId::new(id),
                p["first_name"].as_str().unwrap(),
                p["last_name"].as_str().unwrap(),
            );
            e.preferred_name = text(&p["preferred_name"]);
            e.email = text(&p["email"]);
            e.gender = text(&p["gender"]).map(|g| g.to_lowercase());
            e.avatar_url = p["profile_picture"]["url"].as_str().map(str::to_string);
            e.created_at = Some(p["created_at"].as_str().unwrap().parse().unwrap());
            e.last_modified = Some(p["updated_at"].as_str().unwrap().parse().unwrap());
            for c in p["custom_attributes"].as_array().unwrap() {
                let val = &c["value"];
                let (kind, value) = match c["type"].as_str().unwrap().to_uppercase().as_str() {
                    "STRING_LIST" => (
                        AttributeType::Tags,
                        val.as_array().map_or(V::Null, |l| {
                            V::List(l.iter().map(|x| x.as_str().unwrap().into()).collect())
                        }),
                    ),
                    "INT" => (
                        AttributeType::Integer,
                        val.as_i64().map_or(V::Null, V::Integer),
                    ),
                    "DOUBLE" => (
                        AttributeType::Decimal,
                        val.as_f64().map_or(V::Null, V::Decimal),
                    ),
                    "DATE" => (
                        AttributeType::Date,
                        val.as_str()
                            .map_or(V::Null, |s| V::Date(s.parse().unwrap())),
                    ),
                    "BOOLEAN" => (
                        AttributeType::Boolean,
                        val.as_bool().map_or(V::Null, V::Boolean),
                    ),
                    _ => (AttributeType::Text, text(val).map_or(V::Null, V::Text)),
                };
                e.custom.insert(
                    c["id"].as_str().unwrap().into(),
                    CustomAttribute {
                        label: c["label"].as_str().map(str::to_string),
                        kind,
                        value,
                    },
                );
            }
            let (_, emps) = get_json(&format!("{base}/v2/persons/{id}/employments"), &t).await;
            let m = &emps["_data"][0];
            e.status = m["status"].as_str().and_then(EmploymentStatus::parse);
            e.position = m["position"]["title"].as_str().map(str::to_string);
            e.employment_type = m["type"].as_str().map(str::to_lowercase);
            e.weekly_hours = m["weekly_working_hours"].as_f64();
            e.hire_date = m["employment_start_date"]
                .as_str()
                .map(|s| s.parse().unwrap());
            e.contract_end_date = m["contract_end_date"].as_str().map(|s| s.parse().unwrap());
            e.termination_date = m["termination"]["termination_date"]
                .as_str()
                .map(|s| s.parse().unwrap());
            e.last_working_day = m["termination"]["last_working_day"]
                .as_str()
                .map(|s| s.parse().unwrap());
            e.supervisor_id = m["supervisor"]["id"].as_str().map(EmployeeId::new);
            e.office = m["office"]["id"].as_str().map(|id| OrgRef {
                id: Some(id.into()),
                name: offices[id].clone(),
            });
            e.legal_entity = m["legal_entity"]["id"].as_str().map(|id| OrgRef {
                id: Some(id.into()),
                name: entities[id].clone(),
            });
            e.cost_centers = m["cost_centers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| {
                    let id = c["id"].as_str().unwrap();
                    CostCenter {
                        id: Some(id.into()),
                        name: ccs[id].clone(),
                        percentage: c["weight"].as_f64(),
                    }
                })
                .collect();
            for u in m["org_units"].as_array().unwrap() {
                let (ty, uid) = (
                    u["type"].as_str().unwrap().to_string(),
                    u["id"].as_str().unwrap().to_string(),
                );
                if !units.contains_key(&(ty.clone(), uid.clone())) {
                    let (_, o) = get_json(
                        &format!("{base}/v2/org-units/{uid}?type={ty}&include_parent_chain=true"),
                        &t,
                    )
                    .await;
                    let parents = o["parent_chain"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|p| OrgRef {
                            id: Some(p["id"].as_str().unwrap().into()),
                            name: p["name"].as_str().unwrap().into(),
                        })
                        .collect();
                    units.insert(
                        (ty.clone(), uid.clone()),
                        OrgUnit {
                            id: Some(uid.clone()),
                            name: o["name"].as_str().unwrap().into(),
                            parents,
                        },
                    );
                }
                let unit = units[&(ty.clone(), uid)].clone();
                if ty == "department" {
                    e.department = Some(unit);
                } else {
                    e.team = Some(unit);
                }
            }
            got.push(e);
        }
        match v["_meta"]["links"]["next"]["href"].as_str() {
            Some(n) => url = n.to_string(),
            None => break,
        }
    }
    let expected = sim.expected_employees(SimApi::V2);
    assert_eq!(got.len(), expected.len());
    for (g, x) in got.iter().zip(&expected) {
        assert_eq!(g, x, "employee {}", x.id);
    }
    sim.shutdown().await;
}
