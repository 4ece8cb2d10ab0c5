//! End-to-end tests of the mapping layer through its public API, configs written as TOML.
#![allow(clippy::unwrap_used, reason = "test helpers outside #[test] functions")]

use jiff::civil::date;
use psync_mapping::{Mapping, MappingConfig, MappingProblem, compile};
use psync_model::{
    AppliedAccount, AttributeType, CostCenter, CustomAttribute, Employee, EmployeeId,
    EmploymentStatus, GroupPath, OrgRef, OrgUnit, TargetRecord, Value,
};
use std::collections::BTreeSet;

fn config(toml_src: &str) -> MappingConfig {
    toml::from_str(toml_src).unwrap()
}

fn mapping(toml_src: &str) -> Mapping {
    match compile("lms", &config(toml_src)) {
        Ok(m) => m,
        Err(problems) => panic!("unexpected problems: {problems:#?}"),
    }
}

fn problems(toml_src: &str) -> Vec<MappingProblem> {
    match compile("lms", &config(toml_src)) {
        Ok(_) => panic!("expected problems"),
        Err(p) => p,
    }
}

fn messages(toml_src: &str) -> Vec<String> {
    problems(toml_src).iter().map(|p| p.to_string()).collect()
}

fn unit(name: &str, parents: &[&str]) -> OrgUnit {
    OrgUnit {
        id: None,
        name: name.into(),
        parents: parents
            .iter()
            .map(|p| OrgRef {
                id: None,
                name: (*p).into(),
            })
            .collect(),
    }
}

fn office(name: &str) -> OrgRef {
    OrgRef {
        id: Some("9".into()),
        name: name.into(),
    }
}

fn person(id: u64, first: &str, last: &str) -> Employee {
    let mut e = Employee::new(EmployeeId::from(id), first, last);
    e.status = Some(EmploymentStatus::Active);
    e
}

fn full_person() -> Employee {
    let mut e = person(7, "Jürgen", "Groß");
    e.preferred_name = Some("Jürg".into());
    e.email = Some("j.gross@acme.com".into());
    e.position = Some("Engineer".into());
    e.department = Some(unit("Platform", &["Engineering", "Product & Tech"]));
    e.team = Some(unit("Core", &[]));
    e.office = Some(office("Munich"));
    e.cost_centers = vec![
        CostCenter {
            id: None,
            name: "R&D".into(),
            percentage: Some(60.0),
        },
        CostCenter {
            id: None,
            name: "Ops".into(),
            percentage: Some(40.0),
        },
    ];
    e.hire_date = Some(date(2021, 3, 1));
    e.termination_date = Some(date(2025, 6, 30));
    e.employment_type = Some("internal".into());
    e.weekly_hours = Some(40.0);
    e.avatar_url = Some("https://example.com/a.png".into());
    e.supervisor_id = Some(EmployeeId::from(1));
    e.custom.insert(
        "dynamic_24407".into(),
        CustomAttribute {
            label: Some("Shirt size".into()),
            kind: AttributeType::Choice,
            value: Value::Text("L".into()),
        },
    );
    e.custom.insert(
        "dynamic_1".into(),
        CustomAttribute {
            label: Some("Probation end".into()),
            kind: AttributeType::Date,
            value: Value::Date(date(2021, 9, 1)),
        },
    );
    e
}

fn record(m: &Mapping, e: &Employee) -> TargetRecord {
    m.map_one(e).unwrap().expect("in scope")
}

fn text(s: &str) -> Value {
    Value::Text(s.into())
}

// ---------------------------------------------------------------------------------------------
// Defaults

#[test]
fn default_fields_cover_what_vendors_sync_with_types() {
    let m = mapping("");
    let r = record(&m, &full_person());
    assert_eq!(r.get("external_id"), &text("7"));
    assert_eq!(r.get("first_name"), &text("Jürgen"));
    assert_eq!(r.get("last_name"), &text("Groß"));
    assert_eq!(r.get("preferred_name"), &text("Jürg"));
    assert_eq!(r.get("display_name"), &text("Jürg Groß"));
    assert_eq!(r.get("email"), &text("j.gross@acme.com"));
    assert_eq!(r.get("title"), &text("Engineer"));
    assert_eq!(r.get("department"), &text("Platform"));
    assert_eq!(r.get("office"), &text("Munich"));
    assert_eq!(r.get("team"), &text("Core"));
    assert_eq!(r.get("cost_center"), &text("R&D"));
    assert_eq!(
        r.get("cost_centers"),
        &Value::List(vec!["R&D".into(), "Ops".into()])
    );
    assert_eq!(r.get("hire_date"), &Value::Date(date(2021, 3, 1)));
    assert_eq!(r.get("termination_date"), &Value::Date(date(2025, 6, 30)));
    assert_eq!(r.get("avatar_url"), &text("https://example.com/a.png"));
    assert_eq!(r.get("status"), &text("active"));
    assert_eq!(r.get("employment_type"), &text("internal"));
    assert!(r.groups.is_empty());
    assert_eq!(r.manager, None, "map_one has no manager pass");
    assert!(r.active);
}

#[test]
fn every_record_has_the_configured_field_set_with_null_for_empty_values() {
    let m = mapping(
        r#"
        [fields]
        shirt = '{{ custom["Shirt size"] }}'
        country = "{{ office }}"
        "#,
    );
    let sparse = person(3, "", "");
    let r = record(&m, &sparse);
    let keys: Vec<&str> = r.attributes.keys().collect();
    assert_eq!(keys, m.field_names());
    assert!(keys.contains(&"shirt") && keys.contains(&"email"));
    for (k, v) in &r.attributes {
        if k != "external_id" && k != "status" {
            assert_eq!(v, &Value::Null, "{k}");
        }
    }
    let full = record(&m, &full_person());
    assert_eq!(
        full.attributes.keys().collect::<Vec<_>>(),
        r.attributes.keys().collect::<Vec<_>>()
    );
}

#[test]
fn default_fields_can_be_turned_off_and_overridden() {
    let m = mapping(
        r#"
        default_fields = false
        [fields]
        email = "{{ email | upper }}"
        "#,
    );
    assert_eq!(m.field_names(), vec!["email"]);
    let m = mapping(
        r#"
        [fields]
        title = "{{ position }} ({{ department }})"
        "#,
    );
    assert_eq!(
        record(&m, &full_person()).get("title"),
        &text("Engineer (Platform)")
    );
    assert!(m.field_names().contains(&"hire_date"));
}

#[test]
fn default_scope_is_active_onboarding_and_leave() {
    let m = mapping("");
    let mut e = person(1, "A", "B");
    for (status, in_scope) in [
        (Some(EmploymentStatus::Active), true),
        (Some(EmploymentStatus::Onboarding), true),
        (Some(EmploymentStatus::Leave), true),
        (Some(EmploymentStatus::Inactive), false),
        (None, false),
    ] {
        e.status = status.clone();
        assert_eq!(m.map_one(&e).unwrap().is_some(), in_scope, "{status:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Scope and templates

#[test]
fn scope_expression_filters_on_any_variable() {
    let m = mapping(
        r#"scope = 'status in ["active", "onboarding", "leave"] and department != "Interns"'"#,
    );
    let mut e = person(1, "A", "B");
    e.department = Some(unit("Interns", &[]));
    assert_eq!(m.map_one(&e).unwrap(), None);
    e.department = Some(unit("Sales", &[]));
    assert!(m.map_one(&e).unwrap().is_some());
    e.department = None;
    assert!(
        m.map_one(&e).unwrap().is_some(),
        "no department is not Interns"
    );
    e.status = Some(EmploymentStatus::Inactive);
    assert_eq!(m.map_one(&e).unwrap(), None);

    let m = mapping(
        r#"scope = 'custom["Shirt size"] == "L" and hire_date >= "2021-01-01" and weekly_hours > 30'"#,
    );
    assert!(m.map_one(&full_person()).unwrap().is_some());
    let mut e = full_person();
    e.hire_date = Some(date(2020, 12, 31));
    assert_eq!(m.map_one(&e).unwrap(), None);
}

#[test]
fn email_template_transliterates_names() {
    let m = mapping(
        r#"
        [fields]
        email = "{{ first_name | ascii | lower }}.{{ last_name | ascii | lower }}@acme.com"
        login = "{{ (preferred_name or first_name) | slug }}"
        since = '{{ hire_date | date_format("%d.%m.%Y") }}'
        "#,
    );
    let r = record(&m, &full_person());
    assert_eq!(r.get("email"), &text("juergen.gross@acme.com"));
    assert_eq!(r.get("login"), &text("juerg"));
    assert_eq!(r.get("since"), &text("01.03.2021"));
    let r = record(&m, &person(2, "Łukasz", "Żółć"));
    assert_eq!(r.get("email"), &text("lukasz.zolc@acme.com"));
    assert_eq!(r.get("since"), &Value::Null);
    let r = record(&m, &person(3, "王小明", ""));
    assert_eq!(r.get("email"), &text(".@acme.com"));
    assert_eq!(r.get("login"), &Value::Null);
}

#[test]
fn custom_attributes_by_key_and_label_typed_with_from() {
    let m = mapping(
        r#"
        [fields]
        shirt = { from = "custom.Shirt size" }
        shirt_by_key = "{{ custom.dynamic_24407 }}"
        probation = { from = 'custom["Probation end"]' }
        probation_text = '{{ custom["Probation end"] }}'
        missing = { from = "custom.Nope" }
        hours = { from = "weekly_hours", type = "integer" }
        path = { from = "department_path" }
        "#,
    );
    let r = record(&m, &full_person());
    assert_eq!(r.get("shirt"), &text("L"));
    assert_eq!(r.get("shirt_by_key"), &text("L"));
    assert_eq!(r.get("probation"), &Value::Date(date(2021, 9, 1)));
    assert_eq!(r.get("probation_text"), &text("2021-09-01"));
    assert_eq!(r.get("missing"), &Value::Null);
    assert_eq!(r.get("hours"), &Value::Integer(40));
    assert_eq!(
        r.get("path"),
        &Value::List(vec![
            "Product & Tech".into(),
            "Engineering".into(),
            "Platform".into()
        ])
    );
}

#[test]
fn template_output_is_parsed_into_its_type() {
    let m = mapping(
        r#"
        [fields]
        level = { template = "{{ custom.Level }}", type = "integer" }
        start = { template = "{{ hire_date }}", type = "date" }
        full_time = { template = "{{ weekly_hours >= 40 }}", type = "boolean" }
        tags = { template = "{{ cost_centers | join(',') }}", type = "tags" }
        "#,
    );
    let mut e = full_person();
    e.custom.insert(
        "dynamic_9".into(),
        CustomAttribute {
            label: Some("Level".into()),
            kind: AttributeType::Text,
            value: text(" 3 "),
        },
    );
    let r = record(&m, &e);
    assert_eq!(r.get("level"), &Value::Integer(3));
    assert_eq!(r.get("start"), &Value::Date(date(2021, 3, 1)));
    assert_eq!(r.get("full_time"), &Value::Boolean(true));
    assert_eq!(
        r.get("tags"),
        &Value::List(vec!["R&D".into(), "Ops".into()])
    );

    e.custom.get_mut("dynamic_9").unwrap().value = text("senior");
    let err = m.map_one(&e).unwrap_err();
    assert_eq!(err.field, "level");
    assert_eq!(
        err.to_string(),
        "person 7: field 'level': 'senior' is not an integer"
    );
}

#[test]
fn required_field_with_empty_value_is_a_person_error() {
    let m = mapping(
        r#"
        [fields]
        email = { from = "email", required = true }
        "#,
    );
    let mut e = person(5, "A", "B");
    let err = m.map_one(&e).unwrap_err();
    assert_eq!(err.person, EmployeeId::from(5));
    assert_eq!(err.field, "email");
    assert!(err.message.contains("required"), "{err}");
    e.email = Some("a@b.c".into());
    assert!(m.map_one(&e).unwrap().is_some());
}

// ---------------------------------------------------------------------------------------------
// Lookups

const LOOKUP: &str = r#"
    [fields]
    country_code = '{{ office | lookup("office_country") }}'
    region = '{{ office | lookup("region") }}'
    [lookups.office_country]
    entries = { Munich = "DE", Vienna = "AT" }
    [lookups.region]
    entries = { Munich = "DACH" }
    default = "ROW"
"#;

#[test]
fn lookup_tables_map_values_and_use_the_default() {
    let m = mapping(LOOKUP);
    let mut e = full_person();
    let r = record(&m, &e);
    assert_eq!(r.get("country_code"), &text("DE"));
    assert_eq!(r.get("region"), &text("DACH"));
    e.office = Some(office("Vienna"));
    let r = record(&m, &e);
    assert_eq!(r.get("country_code"), &text("AT"));
    assert_eq!(r.get("region"), &text("ROW"));
    e.office = None;
    let r = record(&m, &e);
    assert_eq!(r.get("country_code"), &Value::Null, "no office, no country");
}

#[test]
fn a_missing_lookup_entry_skips_that_person_only() {
    let m = mapping(LOOKUP);
    let mut bad = person(2, "Bart", "S");
    bad.office = Some(office("Springfield"));
    let mut good = person(3, "Lisa", "S");
    good.office = Some(office("Munich"));
    let mapped = m.map_all(&[bad.clone(), good]);
    assert_eq!(mapped.people.len(), 1);
    assert_eq!(mapped.people[0].id, EmployeeId::from(3));
    assert_eq!(mapped.errors.len(), 1);
    let err = &mapped.errors[0];
    assert_eq!(err.person, EmployeeId::from(2));
    assert_eq!(err.field, "country_code");
    assert_eq!(
        err.to_string(),
        "person 2: field 'country_code': lookup table 'office_country' has no entry for 'Springfield' and no default"
    );
    assert_eq!(m.map_one(&bad).unwrap_err(), *err);
}

// ---------------------------------------------------------------------------------------------
// Groups

fn groups_of(r: &TargetRecord) -> Vec<String> {
    r.groups.iter().map(|g| g.to_string()).collect()
}

#[test]
fn group_hierarchy_from_office_then_department() {
    let m = mapping(
        r#"
        [groups]
        levels = ["office", "department"]
        "#,
    );
    let r = record(&m, &full_person());
    assert_eq!(groups_of(&r), vec!["Munich / Platform"]);
    let mut e = full_person();
    e.department = None;
    assert_eq!(groups_of(&record(&m, &e)), vec!["Munich"]);
    e.office = None;
    e.department = Some(unit("Sales", &[]));
    assert!(
        record(&m, &e).groups.is_empty(),
        "an empty level ends the path"
    );
}

#[test]
fn group_hierarchy_from_department_parent_chain() {
    let m = mapping(
        r#"
        [groups]
        levels = ["department_path"]
        "#,
    );
    let r = record(&m, &full_person());
    assert_eq!(
        r.groups.iter().next().unwrap(),
        &GroupPath(vec![
            "Product & Tech".into(),
            "Engineering".into(),
            "Platform".into()
        ])
    );
    let m = mapping(
        r#"
        [groups]
        levels = ['office | upper', "department_path"]
        "#,
    );
    assert_eq!(
        groups_of(&record(&m, &full_person())),
        vec!["MUNICH / Product & Tech / Engineering / Platform"]
    );
}

#[test]
fn flat_groups_one_per_value() {
    let m = mapping(
        r#"
        [groups]
        levels = ["department", "team"]
        flat = true
        "#,
    );
    assert_eq!(
        groups_of(&record(&m, &full_person())),
        vec!["Core", "Platform"]
    );
    let mut e = full_person();
    e.department = None;
    assert_eq!(groups_of(&record(&m, &e)), vec!["Core"]);
}

#[test]
fn resolve_groups_without_create_missing_uses_ancestor_then_fallback() {
    let m = mapping(
        r#"
        [groups]
        levels = ["office", "department"]
        create_missing = false
        fallback = "All staff"
        "#,
    );
    let existing: BTreeSet<GroupPath> = [
        GroupPath(vec!["Munich".into()]),
        GroupPath(vec!["Vienna".into(), "Sales".into()]),
    ]
    .into_iter()
    .collect();
    let mut notes = Vec::new();

    let mut r = record(&m, &full_person());
    m.resolve_groups(&mut r, &existing, &mut notes);
    assert_eq!(groups_of(&r), vec!["Munich"]);
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].person, Some(EmployeeId::from(7)));
    assert!(
        notes[0]
            .message
            .contains("'Munich / Platform' does not exist")
            && notes[0].message.contains("placed in 'Munich'"),
        "{}",
        notes[0].message
    );

    let mut e = full_person();
    e.office = Some(office("Vienna"));
    e.department = Some(unit("Sales", &[]));
    let mut r = record(&m, &e);
    m.resolve_groups(&mut r, &existing, &mut notes);
    assert_eq!(groups_of(&r), vec!["Vienna / Sales"]);
    assert_eq!(notes.len(), 1, "an existing group needs no note");

    e.office = Some(office("Paris"));
    let mut r = record(&m, &e);
    m.resolve_groups(&mut r, &existing, &mut notes);
    assert_eq!(groups_of(&r), vec!["All staff"]);
    assert_eq!(notes.len(), 2);

    // Without a fallback the group is dropped, with a note saying so.
    let m = mapping(
        r#"
        [groups]
        levels = ["office"]
        create_missing = false
        "#,
    );
    let mut r = record(&m, &e);
    let mut notes = Vec::new();
    m.resolve_groups(&mut r, &existing, &mut notes);
    assert!(r.groups.is_empty());
    assert!(
        notes[0].message.contains("set groups.fallback"),
        "{notes:?}"
    );
}

#[test]
fn resolve_groups_with_create_missing_changes_nothing() {
    let m = mapping(
        r#"
        [groups]
        levels = ["office", "department"]
        "#,
    );
    let mut r = record(&m, &full_person());
    let before = r.clone();
    let mut notes = Vec::new();
    m.resolve_groups(&mut r, &BTreeSet::new(), &mut notes);
    assert_eq!(r, before);
    assert!(notes.is_empty());
}

// ---------------------------------------------------------------------------------------------
// Mapping against the applied state

#[test]
fn records_equal_to_the_applied_ones_are_not_kept_twice() {
    let m = mapping("");
    let boss = person(1, "Boss", "B");
    let mut report = person(2, "Rep", "R");
    report.supervisor_id = Some(EmployeeId::from(1));
    let mut mover = person(3, "Mo", "Ver");
    mover.supervisor_id = Some(EmployeeId::from(1));
    let out = {
        let mut e = person(4, "Out", "O");
        e.status = Some(EmploymentStatus::Inactive);
        e
    };
    let mut read = vec![boss, report, mover, out];
    let first = m.map_all(&read);
    let applied: std::collections::BTreeMap<EmployeeId, AppliedAccount> = first
        .people
        .iter()
        .filter_map(|p| p.record.clone())
        .map(|record| {
            let account = AppliedAccount {
                record: record.clone(),
                remote_id: None,
                disabled_on: None,
            };
            (record.person, account)
        })
        .collect();

    // Nothing changed: every in-scope record is the applied one, none is held.
    let again = m.map_all_against(&read, Some(&applied));
    let state = |mapped: &psync_mapping::Mapped| -> Vec<(String, bool, bool)> {
        mapped
            .people
            .iter()
            .map(|p| (p.id.to_string(), p.record.is_some(), p.as_applied))
            .collect()
    };
    assert_eq!(
        state(&again),
        [
            ("1".into(), false, true),
            ("2".into(), false, true),
            ("3".into(), false, true),
            ("4".into(), false, false),
        ]
    );

    // The report's name changes and the mover gets another manager (nobody in scope):
    // both have records again, the mover's is the applied one without the manager.
    read[1].last_name = "Renamed".into();
    read[2].supervisor_id = Some(EmployeeId::from(4));
    let changed = m.map_all_against(&read, Some(&applied));
    assert_eq!(
        state(&changed),
        [
            ("1".into(), false, true),
            ("2".into(), true, false),
            ("3".into(), true, false),
            ("4".into(), false, false),
        ]
    );
    let mover = changed.people[2].record.as_ref().unwrap();
    assert_eq!(mover.manager, None);
    assert_eq!(
        mover.attributes,
        applied[&EmployeeId::from(3)].record.attributes
    );
    let report = changed.people[1].record.as_ref().unwrap();
    assert_eq!(report.manager, Some(EmployeeId::from(1)));
    // The same notes as without the applied state.
    assert_eq!(changed.notes, m.map_all(&read).notes);
}

// ---------------------------------------------------------------------------------------------
// Managers

#[test]
fn managers_resolve_in_a_second_pass_within_scope_only() {
    let m = mapping("");
    let boss = person(1, "Boss", "B");
    let mut report = person(2, "Rep", "R");
    report.supervisor_id = Some(EmployeeId::from(1));
    let mut former = person(3, "Former", "F");
    former.status = Some(EmploymentStatus::Inactive);
    let mut under_former = person(4, "U", "F");
    under_former.supervisor_id = Some(EmployeeId::from(3));
    let mut orphan = person(5, "O", "P");
    orphan.supervisor_id = Some(EmployeeId::from(99));
    let mut selfish = person(6, "S", "S");
    selfish.supervisor_id = Some(EmployeeId::from(6));

    // The report comes before the boss: order must not matter.
    let mapped = m.map_all(&[report, boss, former, under_former, orphan, selfish]);
    assert!(mapped.errors.is_empty());
    let by_id = |id: u64| {
        mapped
            .people
            .iter()
            .find(|p| p.id == EmployeeId::from(id))
            .unwrap()
    };
    assert_eq!(
        by_id(2).record.as_ref().unwrap().manager,
        Some(EmployeeId::from(1))
    );
    assert_eq!(by_id(3).record, None);
    assert_eq!(by_id(3).status, Some(EmploymentStatus::Inactive));
    assert_eq!(by_id(4).record.as_ref().unwrap().manager, None);
    assert_eq!(by_id(5).record.as_ref().unwrap().manager, None);
    assert_eq!(by_id(6).record.as_ref().unwrap().manager, None);
    let notes: Vec<(String, &str)> = mapped
        .notes
        .iter()
        .map(|n| (n.person.as_ref().unwrap().to_string(), n.message.as_str()))
        .collect();
    assert_eq!(notes.len(), 3, "{notes:#?}");
    assert_eq!(notes[0].0, "4");
    assert!(
        notes[0]
            .1
            .contains("supervisor 3 of person 4 is not in the scope of target 'lms'")
    );
    assert_eq!(notes[1].0, "5");
    assert!(notes[1].1.contains("not in this read"), "{}", notes[1].1);
    assert_eq!(notes[2].0, "6");
    assert!(notes[2].1.contains("own supervisor"), "{}", notes[2].1);
}

#[test]
fn a_supervisor_with_a_mapping_error_is_noted_and_managers_can_be_off() {
    let m = mapping(
        r#"
        [fields]
        email = { from = "email", required = true }
        "#,
    );
    let boss = person(1, "Boss", "B"); // no email: error
    let mut report = person(2, "Rep", "R");
    report.email = Some("r@acme.com".into());
    report.supervisor_id = Some(EmployeeId::from(1));
    let mapped = m.map_all(&[boss, report.clone()]);
    assert_eq!(mapped.errors.len(), 1);
    assert_eq!(mapped.people.len(), 1);
    assert_eq!(mapped.people[0].record.as_ref().unwrap().manager, None);
    assert!(mapped.notes[0].message.contains("could not be mapped"));

    let m = mapping("manager = false");
    let boss = person(1, "Boss", "B");
    let mapped = m.map_all(&[boss, report]);
    assert_eq!(mapped.people[1].record.as_ref().unwrap().manager, None);
    assert!(mapped.notes.is_empty());
    assert!(!m.used_attributes().contains("supervisor"));
}

#[test]
fn duplicate_ids_skip_every_occurrence() {
    let m = mapping("");
    let a = person(1, "A", "A");
    let b = person(1, "B", "B");
    let c = person(2, "C", "C");
    let mapped = m.map_all(&[a, c, b]);
    assert_eq!(mapped.people.len(), 1);
    assert_eq!(mapped.errors.len(), 2);
    assert!(mapped.errors.iter().all(|e| e.field == "id"));
    assert!(
        mapped.errors[0]
            .to_string()
            .starts_with("person 1: id: 2 employees")
    );
}

// ---------------------------------------------------------------------------------------------
// User-written tests

const WITH_TESTS: &str = r#"
    [fields]
    email = "{{ first_name | ascii | lower }}@acme.com"
    country_code = '{{ office | lookup("office_country") }}'
    [lookups.office_country]
    entries = { Munich = "DE" }
    [groups]
    levels = ["office", "department"]

    [[tests]]
    name = "a Munich engineer"
    employee = { id = "1", first_name = "Jürgen", last_name = "Groß", status = "active", office = { name = "Munich" }, department = { name = "Platform" }, hire_date = "2024-01-31" }
    expect = { email = "juergen@acme.com", country_code = "DE", hire_date = "2024-01-31", team = "" }
    groups = ["Munich / Platform"]

    [[tests]]
    name = "typed date"
    employee = { id = "2", first_name = "A", last_name = "B", status = "leave", hire_date = "2024-01-31" }
    expect = { hire_date = { type = "date", value = "2024-01-31" } }

    [[tests]]
    name = "leavers are out of scope"
    employee = { id = "3", first_name = "A", last_name = "B", status = "inactive" }
    in_scope = false
"#;

#[test]
fn mapping_tests_pass() {
    let m = mapping(WITH_TESTS);
    assert_eq!(m.run_tests(), vec![]);
}

#[test]
fn mapping_test_failures_name_test_field_got_and_want() {
    let src = WITH_TESTS
        .replace(r#"country_code = "DE""#, r#"country_code = "AT""#)
        .replace(
            r#"groups = ["Munich / Platform"]"#,
            r#"groups = ["Munich"]"#,
        )
        .replace(r#"in_scope = false"#, r#"in_scope = true"#)
        .replace(r#"value = "2024-01-31" }"#, r#"value = "2024-02-01" }"#);
    let m = mapping(&src);
    let failures: Vec<String> = m.run_tests().iter().map(|f| f.to_string()).collect();
    assert_eq!(
        failures,
        vec![
            r#"test 'a Munich engineer': field 'country_code': got "DE", want "AT""#,
            r#"test 'a Munich engineer': field 'groups': got {"Munich / Platform"}, want {"Munich"}"#,
            r#"test 'typed date': field 'hire_date': got 2024-01-31, want {"type":"date","value":"2024-02-01"}"#,
            r#"test 'leavers are out of scope': field 'scope': got out of scope, want in scope"#,
        ]
    );
}

#[test]
fn mapping_test_reports_a_person_error() {
    let m = mapping(
        r#"
        [fields]
        country_code = '{{ office | lookup("office_country") }}'
        [lookups.office_country]
        entries = { Munich = "DE" }
        [[tests]]
        name = "unknown office"
        employee = { id = "1", first_name = "A", last_name = "B", status = "active", office = { name = "Paris" } }
        expect = { country_code = "FR" }
        "#,
    );
    let failures = m.run_tests();
    assert_eq!(failures.len(), 1);
    assert_eq!(
        failures[0].to_string(),
        "test 'unknown office': field 'country_code': got error: lookup table 'office_country' has no entry for 'Paris' and no default, want a record"
    );
}

// ---------------------------------------------------------------------------------------------
// Bad input: compile reports every problem at once

#[test]
fn unknown_variable_names_target_field_and_suggests() {
    let m = messages(
        r#"
        [fields]
        email = "{{ emial }}@acme.com"
        "#,
    );
    assert_eq!(
        m,
        vec![
            "mapping.fields.email: target 'lms': field 'email': unknown variable 'emial' (did you mean 'email'?)"
        ]
    );
    let p = problems(
        r#"
        [fields]
        x = "{{ zzzzzz }}"
        "#,
    );
    assert_eq!(p[0].path, "mapping.fields.x");
    assert_eq!(
        p[0].message,
        "target 'lms': field 'x': unknown variable 'zzzzzz'"
    );
}

#[test]
fn syntax_errors_carry_their_position() {
    let m = messages(
        r#"
        [fields]
        bad = "{{ first_name | lower }"
        "#,
    );
    assert_eq!(
        m,
        vec![
            "mapping.fields.bad: target 'lms': field 'bad': syntax error: unexpected `}`, expected end of variable block (line 1, column 23)"
        ]
    );
}

#[test]
fn unknown_filters_are_found_even_in_branches_not_taken() {
    let m = messages(
        r#"
        [fields]
        a = "{% if false %}{{ first_name | lowr }}{% endif %}"
        b = "{{ first_name | frobnicate }}"
        "#,
    );
    assert_eq!(
        m,
        vec![
            "mapping.fields.a: target 'lms': field 'a': unknown filter 'lowr' (did you mean 'lower'?) (line 1, column 31)",
            "mapping.fields.b: target 'lms': field 'b': unknown filter 'frobnicate' (line 1, column 17)",
        ]
    );
}

#[test]
fn unknown_lookup_table_is_named() {
    let m = messages(
        r#"
        [fields]
        c = '{{ office | lookup("countries") }}'
        d = '{{ office | lookup("nope") }}'
        [lookups.country]
        entries = { Munich = "DE" }
        "#,
    );
    assert_eq!(
        m,
        vec![
            "mapping.fields.c: target 'lms': field 'c': unknown lookup table 'countries' (did you mean 'country'?) (line 1, column 20)",
            "mapping.fields.d: target 'lms': field 'd': unknown lookup table 'nope' (line 1, column 20)",
        ]
    );
}

#[test]
fn invalid_scope_expressions() {
    let m = messages(r#"scope = 'status in ["active"'"#);
    assert_eq!(m.len(), 1);
    assert!(
        m[0].starts_with("mapping.scope: target 'lms': scope: syntax error:"),
        "{}",
        m[0]
    );
    assert!(m[0].contains("(line 1, column"), "{}", m[0]);
    let m = messages(r#"scope = 'stauts == "active" and office | lowr == "x"'"#);
    assert_eq!(
        m,
        vec![
            "mapping.scope: target 'lms': scope: unknown variable 'stauts' (did you mean 'status'?)",
            "mapping.scope: target 'lms': scope: unknown filter 'lowr' (did you mean 'lower'?) (line 1, column 33)",
        ]
    );
}

#[test]
fn bad_from_and_types() {
    let m = messages(
        r#"
        [fields]
        a = { from = "hire_dat" }
        b = { from = "hire_date", type = "integer" }
        c = { from = "custom" }
        d = { template = "abc", type = "integer" }
        e = { from = "email", template = "{{ email }}" }
        f = { required = true }
        "#,
    );
    assert_eq!(
        m,
        vec![
            "mapping.fields.a: target 'lms': field 'a': `from` names unknown attribute 'hire_dat' (did you mean 'hire_date'?)",
            "mapping.fields.b: target 'lms': field 'b': `from = \"hire_date\"` with type integer: cannot convert date 2020-01-01 to integer",
            "mapping.fields.c: target 'lms': field 'c': `from` names unknown attribute 'custom' (name the custom attribute: `custom.<key or label>`)",
            "mapping.fields.d: target 'lms': field 'd': type integer: 'abc' is not an integer (the output for a sample employee)",
            "mapping.fields.e: target 'lms': field 'e': set either `from` or `template`, not both",
            "mapping.fields.f: target 'lms': field 'f': set `from` (a variable) or `template`",
        ]
    );
}

#[test]
fn undefined_attributes_and_wrong_calls_are_caught_by_the_probe() {
    let m = messages(
        r#"
        [fields]
        a = "{{ department.name }}"
        b = "{{ first_name | lookup }}"
        "#,
    );
    assert_eq!(m.len(), 2, "{m:#?}");
    assert!(
        m[0].starts_with("mapping.fields.a: target 'lms': field 'a': undefined value"),
        "{}",
        m[0]
    );
    assert!(m[0].contains("department.name"), "{}", m[0]);
    assert!(
        m[1].starts_with("mapping.fields.b: target 'lms': field 'b': missing argument"),
        "{}",
        m[1]
    );
}

#[test]
fn reserved_names_lookups_groups_and_tests_are_checked() {
    let m = messages(
        r#"
        [fields]
        manager = "{{ supervisor_id }}"
        [lookups.empty]
        [groups]
        levels = ["offce"]
        fallback = " / "
        [[tests]]
        name = "t"
        employee = { id = "1" }
        expect = { emali = "x" }
        [[tests]]
        name = "t"
        employee = { id = "2", first_name = "A", last_name = "B" }
        in_scope = false
        expect = { email = "x" }
        "#,
    );
    assert_eq!(
        m,
        vec![
            "mapping.fields.manager: target 'lms': field 'manager': 'manager' is reserved (the record carries it itself); choose another name",
            "mapping.lookups.empty: target 'lms': lookup table 'empty': has no entries and no default",
            "mapping.groups.fallback: target 'lms': groups: the fallback group has no name",
            "mapping.groups.levels[0]: target 'lms': group level 1: unknown variable 'offce' (did you mean 'office'?)",
            "mapping.tests[0].employee: target 'lms': test 't': the employee is not valid: missing field `first_name`",
            "mapping.tests[0].expect.emali: target 'lms': test 't': expects field 'emali', which the mapping does not have (did you mean 'email'?)",
            "mapping.tests[1]: target 'lms': test 't': another test has the same name",
            "mapping.tests[1]: target 'lms': test 't': expects attributes or groups of a person it expects out of scope",
        ]
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let p = problems(
        r#"
        scope = 'departmnt != "x"'
        [fields]
        email = "{{ emial }}"
        bad = "{{ x"
        c = '{{ office | lookup("nope") }}'
        f = { from = "nope" }
        [groups]
        levels = []
        "#,
    );
    let paths: Vec<&str> = p.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        paths,
        vec![
            "mapping.scope",
            "mapping.fields.bad",
            "mapping.fields.c",
            "mapping.fields.email",
            "mapping.fields.f",
            "mapping.groups.levels",
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// Config parsing

#[test]
fn field_specs_parse_from_strings_and_tables_with_clear_errors() {
    let c = config(
        r#"
        [fields]
        a = "{{ email }}"
        b = { from = "hire_date", type = "DATE", required = true }
        c = { template = "{{ weekly_hours }}", type = "double" }
        "#,
    );
    assert_eq!(c.fields.len(), 3);
    assert!(compile("lms", &c).is_ok());

    let err = toml::from_str::<MappingConfig>(
        r#"
        [fields]
        a = { form = "email" }
        "#,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("unknown field `form`"), "{err}");
    let err = toml::from_str::<MappingConfig>(
        r#"
        [fields]
        a = { from = "email", type = "money" }
        "#,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("unknown type 'money'"), "{err}");
    let err = toml::from_str::<MappingConfig>("scopes = 'x'")
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown field `scopes`"), "{err}");
}

#[test]
fn config_round_trips_through_toml() {
    let c = config(WITH_TESTS);
    let back: MappingConfig = toml::from_str(&toml::to_string(&c).unwrap()).unwrap();
    assert_eq!(c, back);
}

#[test]
fn used_attributes_name_what_the_mapping_reads() {
    let m = mapping(
        r#"
        default_fields = false
        scope = 'status == "active" and department_path | length > 0'
        [fields]
        mail = "{{ email }}"
        name = "{{ display_name }}"
        shirt = { from = "custom.Shirt size" }
        level = '{{ custom["Level"] }}'
        pic = { from = "avatar_url" }
        "#,
    );
    let used: Vec<String> = m.used_attributes().into_iter().collect();
    assert_eq!(
        used,
        vec![
            "avatar",
            "custom.Level",
            "custom.Shirt size",
            "department",
            "email",
            "first_name",
            "last_name",
            "preferred_name",
            "status",
            "supervisor",
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// Odd data at volume

fn generated(n: u64) -> Vec<Employee> {
    let firsts = [
        "Anna",
        "Łukasz",
        "王小明",
        "",
        "José",
        "Zoë",
        "Ørjan",
        "Nguyễn",
        "O'Brien",
        "  ",
    ];
    let lasts = [
        "Müller",
        "Żółć",
        "",
        "García-López",
        "Straße",
        "李",
        "van der Berg",
    ];
    let offices = ["Munich", "Vienna", "Berlin", "Springfield"];
    let depts = ["Engineering", "Sales", "Interns", "People", ""];
    (1..=n)
        .map(|i| {
            let k = i as usize;
            let mut e = Employee::new(
                EmployeeId::from(i),
                firsts[k % firsts.len()],
                lasts[k % lasts.len()],
            );
            e.status = match k % 5 {
                0 => Some(EmploymentStatus::Active),
                1 => Some(EmploymentStatus::Onboarding),
                2 => Some(EmploymentStatus::Leave),
                3 => Some(EmploymentStatus::Inactive),
                _ => None,
            };
            if !k.is_multiple_of(7) {
                e.email = Some(format!("user{i}@acme.com"));
            }
            if !k.is_multiple_of(11) {
                let d = depts[k % depts.len()];
                e.department = Some(unit(
                    d,
                    if k.is_multiple_of(2) {
                        &["Company"]
                    } else {
                        &[]
                    },
                ));
            }
            if !k.is_multiple_of(13) {
                e.office = Some(office(offices[k % offices.len()]));
            }
            if k.is_multiple_of(3) {
                e.supervisor_id = Some(EmployeeId::from(i / 3));
            }
            if k.is_multiple_of(4) {
                e.hire_date = Some(date(2020, 1 + (k % 12) as i8, 1 + (k % 28) as i8));
            }
            if k.is_multiple_of(17) {
                e.custom.insert(
                    "dynamic_1".into(),
                    CustomAttribute {
                        label: Some("Shirt size".into()),
                        kind: AttributeType::Choice,
                        value: text(["S", "M", "XL", ""][k % 4]),
                    },
                );
            }
            e
        })
        .collect()
}

#[test]
fn a_thousand_odd_employees_map_deterministically() {
    let m = mapping(
        r#"
        scope = 'status in ["active", "onboarding", "leave"] and department != "Interns"'
        [fields]
        email = "{{ first_name | ascii | lower }}.{{ last_name | ascii | lower }}@acme.com"
        login = "{{ (preferred_name or first_name) | slug }}-{{ id }}"
        country_code = '{{ office | lookup("office_country") }}'
        shirt = { from = "custom.Shirt size" }
        since = '{{ hire_date | date_format("%d.%m.%Y") }}'
        [lookups.office_country]
        entries = { Munich = "DE", Vienna = "AT", Berlin = "DE" }
        [groups]
        levels = ["office", "department_path"]
        "#,
    );
    let employees = generated(1000);
    let first = m.map_all(&employees);
    let second = m.map_all(&employees);
    assert_eq!(first, second);
    assert_eq!(first.people.len() + first.errors.len(), employees.len());
    // Springfield has no entry: exactly those in scope there are errors, nothing else.
    assert!(!first.errors.is_empty());
    for err in &first.errors {
        assert_eq!(err.field, "country_code", "{err}");
        assert!(err.message.contains("'Springfield'"), "{err}");
    }
    let in_order: Vec<&EmployeeId> = first.people.iter().map(|p| &p.id).collect();
    let mut sorted = in_order.clone();
    sorted.sort_by_key(|id| id.as_str().parse::<u64>().unwrap());
    assert_eq!(in_order, sorted, "input order is kept");
    for p in &first.people {
        let Some(r) = &p.record else { continue };
        let keys: Vec<&str> = r.attributes.keys().collect();
        assert_eq!(keys, m.field_names());
        if let Value::Text(email) = r.get("email") {
            assert!(email.is_ascii(), "{email}");
        }
        if let Some(manager) = &r.manager {
            assert!(
                first
                    .people
                    .iter()
                    .any(|q| &q.id == manager && q.record.is_some())
            );
        }
    }
    assert!(!first.notes.is_empty());
    // map_one agrees with map_all except for the manager.
    for (p, e) in first.people.iter().zip(
        employees
            .iter()
            .filter(|e| !first.errors.iter().any(|err| err.person == e.id)),
    ) {
        let mut one = m.map_one(e).unwrap();
        if let (Some(one), Some(all)) = (one.as_mut(), &p.record) {
            one.manager = all.manager.clone();
        }
        assert_eq!(one, p.record);
    }
}

#[test]
fn absent_values_render_as_nothing_and_custom_can_be_iterated() {
    let m = mapping(
        r#"
        default_fields = false
        [fields]
        hours = "{{ weekly_hours }}"
        nothing = "{{ none }}"
        keys = "{% for k in custom %}{{ k }};{% endfor %}"
        fallback = "{{ preferred_name or first_name }} {{ email | default('none', true) }}"
        "#,
    );
    let r = record(&m, &person(1, "Ann", "B"));
    assert_eq!(r.get("hours"), &Value::Null);
    assert_eq!(r.get("nothing"), &Value::Null);
    assert_eq!(r.get("keys"), &Value::Null);
    assert_eq!(r.get("fallback"), &text("Ann none"));
    let r = record(&m, &full_person());
    assert_eq!(r.get("hours"), &text("40.0"));
    assert_eq!(r.get("keys"), &text("dynamic_1;dynamic_24407;"));
    assert_eq!(r.get("fallback"), &text("Jürg j.gross@acme.com"));
}

#[test]
fn a_runtime_error_in_scope_or_groups_is_a_person_error() {
    let m = mapping(
        r#"
        scope = 'office | lookup("allowed") == "yes"'
        [lookups.allowed]
        entries = { Munich = "yes", Vienna = "no" }
        "#,
    );
    let mut e = full_person();
    assert!(m.map_one(&e).unwrap().is_some());
    e.office = Some(office("Vienna"));
    assert_eq!(m.map_one(&e).unwrap(), None);
    e.office = Some(office("Paris"));
    let err = m.map_one(&e).unwrap_err();
    assert_eq!(
        err.to_string(),
        "person 7: scope: lookup table 'allowed' has no entry for 'Paris' and no default"
    );

    let m = mapping(
        r#"
        [groups]
        levels = ['office | lookup("region")']
        [lookups.region]
        entries = { Munich = "DACH" }
        "#,
    );
    let err = m.map_one(&e).unwrap_err();
    assert_eq!(err.field, "groups");
}

#[test]
fn a_mapping_can_be_shared_across_threads() {
    fn assert_send_sync<T: Send + Sync + 'static>() {}
    assert_send_sync::<Mapping>();
    let m = std::sync::Arc::new(mapping(
        r#"
        [fields]
        email = "{{ first_name | ascii | lower }}@acme.com"
        "#,
    ));
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let m = std::sync::Arc::clone(&m);
            std::thread::spawn(move || m.map_all(&generated(50 + i)).people.len())
        })
        .collect();
    for h in handles {
        assert!(h.join().unwrap() > 0);
    }
}

#[test]
fn loops_sets_and_builtin_functions_are_not_unknown_variables() {
    let m = mapping(
        r#"
        default_fields = false
        [fields]
        list = "{% for c in cost_centers %}{{ loop.index }}={{ c }} {% endfor %}"
        set = "{% set x = first_name | upper %}{{ x }}"
        fns = "{{ range(2) | list | length }}{{ dict(a=1).a }}"
        "#,
    );
    let r = record(&m, &full_person());
    assert_eq!(r.get("list"), &text("1=R&D 2=Ops"));
    assert_eq!(r.get("set"), &text("JÜRGEN"));
    assert_eq!(r.get("fns"), &text("21"));
}
