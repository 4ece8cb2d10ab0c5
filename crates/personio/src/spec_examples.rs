//! Conformance test: every employee-related example of Personio's official v1 OpenAPI files
//! (in `../shared/personio-openapi/v1/` next to the workspace) parses and normalizes.

use crate::config::ApiVersion;
use crate::{http, normalize_v1, v1};
use serde_json::Value;
use std::path::PathBuf;

fn spec_dir() -> Option<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = root.join("../shared/personio-openapi/v1");
    if dir.join("personio-personnel-data-api-oa3.yaml").is_file() {
        Some(dir)
    } else {
        println!(
            "SKIPPED: official Personio OpenAPI files not found at {}",
            dir.display()
        );
        None
    }
}

fn load(path: PathBuf) -> Value {
    let text = std::fs::read_to_string(&path).unwrap();
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Resolves a local `$ref` (`#/components/examples/…`).
fn resolve<'a>(doc: &'a Value, node: &'a Value) -> &'a Value {
    match node.get("$ref").and_then(Value::as_str) {
        Some(r) => doc
            .pointer(r.trim_start_matches('#'))
            .unwrap_or_else(|| panic!("bad $ref {r}")),
        None => node,
    }
}

/// Every `(path, status, example value)` of the GET operations under `/company/employees`.
fn employee_examples(doc: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        if !path.starts_with("/company/employees") {
            continue;
        }
        let Some(responses) = item.pointer("/get/responses").and_then(Value::as_object) else {
            continue;
        };
        for (status, response) in responses {
            let response = resolve(doc, response);
            let Some(content) = response.get("content").and_then(Value::as_object) else {
                continue;
            };
            for media in content.values() {
                for example in media
                    .get("examples")
                    .and_then(Value::as_object)
                    .into_iter()
                    .flatten()
                {
                    let example = resolve(doc, example.1);
                    if let Some(value) = example.get("value") {
                        out.push((path.clone(), status.clone(), value.clone()));
                    }
                }
            }
        }
    }
    out
}

#[test]
fn every_official_v1_example_parses() {
    let Some(dir) = spec_dir() else { return };
    let doc = load(dir.join("personio-personnel-data-api-oa3.yaml"));
    let examples = employee_examples(&doc);
    assert!(
        examples.len() >= 4,
        "too few examples found: {}",
        examples.len()
    );
    let (mut lists, mut singles, mut attribute_lists, mut errors) = (0, 0, 0, 0);
    for (path, status, value) in &examples {
        let context = format!("{path} {status}");
        if value.get("success").and_then(Value::as_bool) == Some(false) {
            let (_, message) = http::v1_error(value);
            assert!(
                !message.is_empty() && message != "no message",
                "{context}: {value}"
            );
            let text = http::describe_body("application/json", value.to_string().as_bytes());
            assert_eq!(text, message, "{context}");
            errors += 1;
        } else if path == "/company/employees" {
            let (employees, skipped) = v1::convert_page(value);
            assert!(skipped.is_empty(), "{context}: {skipped:?}");
            let records = value["data"].as_array().unwrap().len();
            assert_eq!(employees.len(), records, "{context}");
            // The spec's own example metadata lies (total_pages 3 for 2 elements); paging never
            // trusts total_pages, so nothing to assert beyond parsing here.
            for e in &employees {
                assert!(!e.first_name.is_empty(), "{context}: {e:?}");
                assert!(e.hire_date.is_some(), "{context}: hire date not parsed");
                assert!(
                    e.created_at.is_some() && e.last_modified.is_some(),
                    "{context}"
                );
                assert!(
                    e.supervisor_id.is_some() && e.department.is_some(),
                    "{context}"
                );
                assert_eq!(e.weekly_hours, Some(40.0), "{context}");
                let anniversary = e
                    .custom
                    .values()
                    .find(|c| c.kind == psync_model::AttributeType::Date);
                assert!(
                    anniversary.is_some_and(|c| matches!(c.value, psync_model::Value::Date(_))),
                    "{context}"
                );
            }
            lists += 1;
        } else if path == "/company/employees/{employee_id}" {
            let e = normalize_v1::employee(&value["data"])
                .unwrap_or_else(|s| panic!("{context}: {s:?}"));
            assert!(!e.last_name.is_empty(), "{context}");
            singles += 1;
        } else if path.ends_with("/attributes") || path.ends_with("/custom-attributes") {
            let attrs = v1::parse_attributes(value).unwrap_or_else(|| panic!("{context}"));
            assert!(!attrs.is_empty(), "{context}");
            assert!(
                attrs.iter().any(|a| a.key.starts_with("dynamic_")),
                "{context}"
            );
            attribute_lists += 1;
        }
    }
    assert!(
        lists >= 1 && singles >= 1 && attribute_lists >= 1 && errors >= 1,
        "lists {lists}, singles {singles}, attributes {attribute_lists}, errors {errors}"
    );
    // The shared error examples (401 missing header, 403 invalid token).
    for (name, example) in doc
        .pointer("/components/examples")
        .and_then(Value::as_object)
        .unwrap()
    {
        let (code, message) = http::v1_error(&example["value"]);
        assert!(code == 401 || code == 403, "{name}");
        assert!(!message.is_empty(), "{name}");
    }
}

#[test]
fn the_official_auth_example_yields_a_token() {
    let Some(dir) = spec_dir() else { return };
    let doc = load(dir.join("personio-auth-api.yaml"));
    let examples = doc
        .pointer("/paths/~1auth/post/responses/200/content/application~1json/examples")
        .and_then(Value::as_object)
        .unwrap();
    assert!(!examples.is_empty());
    for example in examples.values() {
        let (token, expires) = http::token_from(ApiVersion::V1, &example["value"]).unwrap();
        assert!(!token.is_empty());
        assert_eq!(expires, Some(86400.0));
    }
}
