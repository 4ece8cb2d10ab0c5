//! Bad input against a real slapd: a DN template that gives no DN, an OU that does not exist,
//! an attribute the schema refuses, a bind failure; and entries the target did not create.
//! Each refusal is `Rejected` and names the person or entry; the next operation still works.

#![allow(clippy::unwrap_used, reason = "test code")]

mod common;

use psync_model::{EmployeeId, GroupPath, MatchBy, Operation, Outcome, TargetRecord, Value};
use psync_target_ldap::{Flavor, LdapConfig, LdapTarget};
use psync_targets::testkit::Inspect;
use psync_targets::{ErrorKind, Target};

fn config(slapd: &common::Slapd) -> LdapConfig {
    LdapConfig::new(
        &slapd.url,
        Flavor::Openldap,
        common::ADMIN,
        common::PASSWORD,
        common::BASE,
    )
}

fn person(id: &str, first: &str, last: &str, office: &str) -> TargetRecord {
    let mut r = TargetRecord::new(EmployeeId::new(id));
    r.attributes
        .insert("first_name".into(), Value::Text(first.into()));
    r.attributes
        .insert("last_name".into(), Value::Text(last.into()));
    r.attributes
        .insert("email".into(), Value::Text(format!("{id}@example.org")));
    r.attributes
        .insert("office".into(), Value::Text(office.into()));
    r.groups.insert(GroupPath(vec!["All".into()]));
    r
}

fn create(r: &TargetRecord, match_by: MatchBy) -> Operation {
    Operation::Create {
        record: r.clone(),
        match_by,
    }
}

#[tokio::test]
async fn refusals_are_rejected_with_the_entry_named_and_the_run_goes_on() {
    let Some(slapd) = common::Slapd::start().await else {
        return;
    };

    // An ou template that renders something that is not a DN, for one office only.
    let mut c = config(&slapd);
    c.ou = Some("{% if office == 'Nowhere' %}ou=Nowhere,ou=people,dc=example,dc=org{% elif office == 'Broken' %}garbage{% endif %}".into());
    let t = LdapTarget::new("dir", c).unwrap();
    let err = t
        .apply(&create(
            &person("1", "Bad", "Template", "Broken"),
            MatchBy::None,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Rejected, "{err}");
    assert!(
        err.message.contains("person 1") && err.message.contains("garbage"),
        "{err}"
    );
    // An OU that does not exist (create_ous = false).
    let err = t
        .apply(&create(
            &person("2", "No", "Where", "Nowhere"),
            MatchBy::None,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Rejected, "{err}");
    assert!(
        err.message
            .contains("ou=Nowhere,ou=people,dc=example,dc=org"),
        "{err}"
    );
    assert!(err.message.contains("does not exist"), "{err}");
    assert!(t.read(&EmployeeId::new("2")).await.unwrap().is_none());
    // The next person is fine.
    let ok = t
        .apply(&create(
            &person("3", "Fine", "Person", "Munich"),
            MatchBy::None,
        ))
        .await
        .unwrap();
    assert!(matches!(ok, Outcome::Created { .. }));

    // An attribute the schema does not know.
    let mut c = config(&slapd);
    c.attributes
        .insert("favouriteColour".into(), "office".into());
    let t = LdapTarget::new("dir", c).unwrap();
    let err = t
        .apply(&create(
            &person("4", "Schema", "Refused", "Munich"),
            MatchBy::None,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Rejected, "{err}");
    assert!(
        err.message.contains("person 4") && err.message.contains("uid=schema.refused"),
        "{err}"
    );
    // …and on an update of an existing entry.
    let update = Operation::Update {
        remote_id: None,
        changes: Vec::new(),
        groups_added: Vec::new(),
        groups_removed: Vec::new(),
        record: person("3", "Fine", "Person", "Munich"),
    };
    let err = t.apply(&update).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Rejected, "{err}");
    assert!(
        err.message
            .contains("uid=fine.person,ou=people,dc=example,dc=org"),
        "{err}"
    );

    // A bind failure is fatal and says what to check.
    let mut c = config(&slapd);
    c.bind_password = Some("wrong".into());
    let t = LdapTarget::new("dir", c).unwrap();
    let err = t.check().await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Fatal);
    assert!(
        err.message.contains("invalid credentials") && err.message.contains("bind_dn"),
        "{err}"
    );
    let err = t
        .apply(&create(&person("5", "A", "B", ""), MatchBy::None))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Fatal, "{err}");
    // So is a directory that does not answer.
    let mut c = config(&slapd);
    c.url = "ldap://127.0.0.1:1".into();
    let err = LdapTarget::new("dir", c)
        .unwrap()
        .check()
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Fatal, "{err}");
    assert!(err.message.contains("cannot connect"), "{err}");
}

#[tokio::test]
async fn foreign_entries_are_left_alone_unless_policy_adopts_them() {
    let Some(slapd) = common::Slapd::start().await else {
        return;
    };
    let mut admin = slapd.admin().await;
    // Someone else's account with the name our template would choose, and one with an e-mail.
    common::add(
        &mut admin,
        "uid=grace.hopper,ou=people,dc=example,dc=org",
        &[
            ("objectClass", &["inetOrgPerson"]),
            ("cn", &["Grace Hopper (admin)"]),
            ("sn", &["Hopper"]),
            ("uid", &["grace.hopper"]),
            ("mail", &["grace@example.org"]),
        ],
    )
    .await;
    common::add(
        &mut admin,
        "uid=linus,ou=people,dc=example,dc=org",
        &[
            ("objectClass", &["inetOrgPerson"]),
            ("cn", &["Linus"]),
            ("sn", &["T"]),
            ("uid", &["linus"]),
            ("mail", &["7@example.org"]),
        ],
    )
    .await;
    let t = LdapTarget::new("dir", config(&slapd)).unwrap();
    let grace = person("6", "Grace", "Hopper", "");
    let Outcome::Created { remote_id } = t.apply(&create(&grace, MatchBy::None)).await.unwrap()
    else {
        panic!()
    };
    let ours = common::one(
        &mut admin,
        common::BASE,
        "(employeeNumber=6)",
        &["uid", "entryUUID"],
    )
    .await
    .unwrap();
    assert_eq!(
        common::attr(&ours, "uid"),
        vec!["grace.hopper2"],
        "a collision gets a suffix"
    );
    assert_eq!(common::attr(&ours, "entryUUID"), vec![remote_id.as_str()]);
    let foreign = common::one(&mut admin, common::BASE, "(uid=grace.hopper)", &["*"])
        .await
        .unwrap();
    assert_eq!(common::attr(&foreign, "cn"), vec!["Grace Hopper (admin)"]);
    assert!(common::attr(&foreign, "employeeNumber").is_empty());
    // Deleting person 6 deletes our entry only.
    let del = Operation::Delete {
        remote_id: Some(remote_id),
        reason: psync_model::LeaveReason::Gone,
        record: grace,
    };
    assert_eq!(t.apply(&del).await.unwrap(), Outcome::Applied);
    assert!(
        common::one(&mut admin, common::BASE, "(uid=grace.hopper)", &["1.1"])
            .await
            .is_some()
    );

    // An existing account with the person's e-mail is adopted only with match_by = email.
    let linus = person("7", "Linus", "Torvalds", "");
    let created = t.apply(&create(&linus, MatchBy::None)).await.unwrap();
    assert!(
        matches!(created, Outcome::Created { .. }),
        "without the policy a new account: {created:?}"
    );
    let del = Operation::Delete {
        remote_id: None,
        reason: psync_model::LeaveReason::Gone,
        record: linus.clone(),
    };
    t.apply(&del).await.unwrap();
    let adopted = t.apply(&create(&linus, MatchBy::Email)).await.unwrap();
    assert!(
        matches!(
            adopted,
            Outcome::Adopted {
                matched_by: MatchBy::Email,
                ..
            }
        ),
        "{adopted:?}"
    );
    let e = common::one(
        &mut admin,
        common::BASE,
        "(uid=linus)",
        &["employeeNumber", "sn"],
    )
    .await
    .unwrap();
    assert_eq!(common::attr(&e, "employeeNumber"), vec!["7"]);
    assert_eq!(common::attr(&e, "sn"), vec!["Torvalds"]);

    // The groups that exist, for create_missing = false: more than one page of them.
    for i in 0..1_100 {
        let dn = format!("cn=Team {i},ou=groups,dc=example,dc=org");
        let cn = format!("Team {i}");
        common::add(
            &mut admin,
            &dn,
            &[
                ("objectClass", &["groupOfNames"]),
                ("cn", &[cn.as_str()]),
                ("member", &["cn=nobody"]),
            ],
        )
        .await;
    }
    let groups = t.existing_groups().await.unwrap().unwrap();
    assert_eq!(groups.len(), 1_101, "paged: every group is listed");
    assert!(groups.contains(&GroupPath(vec!["All".into()])));
    assert!(groups.contains(&GroupPath(vec!["Team 1099".into()])));
}
