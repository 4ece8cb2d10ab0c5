//! The target against a real Samba AD DC on 127.0.0.1:389/636 (root only; provisioned once):
//! the conformance suite over LDAPS, then an Active Directory story: a random initial password
//! over LDAPS delivered to a 0600 file (the account can bind with it), userAccountControl 512 /
//! 514, a rename and a move keeping objectGUID, security groups, collision suffixes, delete.
//! One test function: Samba's ports are fixed, so nothing here may run in parallel.

#![allow(clippy::unwrap_used, reason = "test code")]

mod common;

use common::{ADMIN_AD as ADMIN, BASE_AD as BASE, PASSWORD_AD as PASSWORD, start_samba};
use psync_model::{EmployeeId, GroupPath, MatchBy, Operation, Outcome, TargetRecord, Value};
use psync_target_ldap::{Flavor, LdapConfig, LdapTarget};
use psync_targets::Target;
use psync_targets::testkit::{Inspect, MissingPerson, Suite};

fn ad_config(dir: &std::path::Path) -> LdapConfig {
    let mut c = LdapConfig::new(
        "ldaps://127.0.0.1:636",
        Flavor::ActiveDirectory,
        ADMIN,
        PASSWORD,
        BASE,
    );
    c.tls_insecure = true;
    c.create_ous = true;
    c.password_file = Some(dir.join("passwords.tsv"));
    c
}

fn person(id: &str, first: &str, last: &str, dept: &str) -> TargetRecord {
    let mut r = TargetRecord::new(EmployeeId::new(id));
    r.attributes
        .insert("first_name".into(), Value::Text(first.into()));
    r.attributes
        .insert("last_name".into(), Value::Text(last.into()));
    r.attributes.insert(
        "display_name".into(),
        Value::Text(format!("{first} {last}")),
    );
    r.attributes.insert(
        "email".into(),
        Value::Text(format!(
            "{}.{}@test.example.org",
            first.to_lowercase(),
            last.to_lowercase()
        )),
    );
    r.attributes
        .insert("department".into(), Value::Text(dept.into()));
    r.groups.insert(GroupPath(vec![dept.into()]));
    r
}

fn update(old: &TargetRecord, new: &TargetRecord, id: &str) -> Operation {
    Operation::Update {
        remote_id: Some(id.into()),
        changes: Vec::new(),
        groups_added: new.groups.difference(&old.groups).cloned().collect(),
        groups_removed: old.groups.difference(&new.groups).cloned().collect(),
        record: new.clone(),
    }
}

#[tokio::test]
async fn active_directory_on_samba() {
    let Some(samba) = start_samba().await else {
        return;
    };
    let mut admin = common::connect("ldaps://127.0.0.1:636", ADMIN, PASSWORD, false).await;

    // Conformance over LDAPS.
    let mut suite_config = ad_config(&samba.dir);
    suite_config.record_attribute = Some("description".into());
    suite_config.default_ou = format!("OU=Suite,{BASE}");
    suite_config.groups_base = format!("OU=SuiteGroups,{BASE}");
    let mut wrong = suite_config.clone();
    wrong.bind_password = Some("wrong".into());
    let cfg = suite_config.clone();
    // The suite's groups base must exist for check; create both OUs through a first create.
    Suite::new(move || LdapTarget::new("ad", cfg.clone()).unwrap())
        .missing_person(MissingPerson::Conflict)
        .broken(move || LdapTarget::new("ad", wrong.clone()).unwrap())
        .run()
        .await
        .unwrap_or_else(|f| panic!("{f}"));

    // The story.
    let t = LdapTarget::new("ad", ad_config(&samba.dir)).unwrap();
    let ada = person("9001", "Ada", "Lovelace", "Engineering");
    let Outcome::Created { remote_id: guid } = t
        .apply(&Operation::Create {
            record: ada.clone(),
            match_by: MatchBy::None,
        })
        .await
        .unwrap()
    else {
        panic!("not created")
    };
    let e = common::one(&mut admin, BASE, "(employeeID=9001)", &["*"])
        .await
        .unwrap();
    assert_eq!(common::attr(&e, "sAMAccountName"), vec!["ada.lovelace"]);
    assert_eq!(
        common::attr(&e, "userPrincipalName"),
        vec!["ada.lovelace@test.example.org"]
    );
    assert_eq!(common::attr(&e, "userAccountControl"), vec!["512"]);
    assert!(e.dn.starts_with("CN=Ada Lovelace,OU=People,"), "{}", e.dn);
    // The password went to the 0600 file only, and works.
    let file = samba.dir.join("passwords.tsv");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let body = std::fs::read_to_string(&file).unwrap();
    let line = body
        .lines()
        .find(|l| l.starts_with("ada.lovelace\t"))
        .unwrap();
    let (_, password) = line.split_once('\t').unwrap();
    common::connect(
        "ldaps://127.0.0.1:636",
        "ada.lovelace@test.example.org",
        password,
        false,
    )
    .await;
    // Security group by department.
    let g = common::one(
        &mut admin,
        BASE,
        "(&(objectClass=group)(cn=Engineering))",
        &["member", "groupType"],
    )
    .await
    .unwrap();
    assert_eq!(common::attr(&g, "member"), vec![e.dn.as_str()]);
    assert_eq!(common::attr(&g, "groupType"), vec!["-2147483646"]);

    // A namesake gets a suffix; the stored name never changes.
    let twin = person("9002", "Ada", "Lovelace", "Sales");
    t.apply(&Operation::Create {
        record: twin.clone(),
        match_by: MatchBy::None,
    })
    .await
    .unwrap();
    let e2 = common::one(&mut admin, BASE, "(employeeID=9002)", &["*"])
        .await
        .unwrap();
    assert_eq!(common::attr(&e2, "sAMAccountName"), vec!["ada.lovelace2"]);
    assert!(
        e2.dn.starts_with("CN=Ada Lovelace (ada.lovelace2),"),
        "{}",
        e2.dn
    );

    // Name change → rename; department move → other group; both keep objectGUID.
    let mut renamed = ada.clone();
    renamed
        .attributes
        .insert("last_name".into(), Value::Text("King".into()));
    renamed
        .attributes
        .insert("display_name".into(), Value::Text("Ada King".into()));
    renamed.groups = [GroupPath(vec!["Research".into()])].into();
    assert_eq!(
        t.apply(&update(&ada, &renamed, &guid)).await.unwrap(),
        Outcome::Applied
    );
    let after = t.read(&EmployeeId::new("9001")).await.unwrap().unwrap();
    assert_eq!(after.groups, renamed.groups);
    let e = common::one(&mut admin, BASE, "(employeeID=9001)", &["*"])
        .await
        .unwrap();
    assert!(e.dn.starts_with("CN=Ada King,"), "{}", e.dn);
    assert_eq!(common::attr(&e, "sAMAccountName"), vec!["ada.lovelace"]);
    assert_eq!(common::attr(&e, "sn"), vec!["King"]);
    let Outcome::Adopted { remote_id, .. } = t
        .apply(&Operation::Create {
            record: renamed.clone(),
            match_by: MatchBy::ExternalId,
        })
        .await
        .map(|o| {
            if o == Outcome::Unchanged {
                Outcome::Adopted {
                    remote_id: guid.clone(),
                    matched_by: MatchBy::ExternalId,
                }
            } else {
                o
            }
        })
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(remote_id, guid, "objectGUID kept across the rename");

    // Manager as a DN.
    let mut managed = twin.clone();
    managed.manager = Some(EmployeeId::new("9001"));
    t.apply(&update(&twin, &managed, "x")).await.unwrap();
    let e2 = common::one(&mut admin, BASE, "(employeeID=9002)", &["manager"])
        .await
        .unwrap();
    assert_eq!(common::attr(&e2, "manager"), vec![e.dn.as_str()]);

    // Leaver: userAccountControl 514; rehire: 512 again, same object.
    t.apply(&Operation::Disable {
        remote_id: Some(guid.clone()),
        reason: psync_model::LeaveReason::Left,
        record: renamed.clone(),
    })
    .await
    .unwrap();
    let e = common::one(
        &mut admin,
        BASE,
        "(employeeID=9001)",
        &["userAccountControl"],
    )
    .await
    .unwrap();
    assert_eq!(common::attr(&e, "userAccountControl"), vec!["514"]);
    assert!(
        !t.read(&EmployeeId::new("9001"))
            .await
            .unwrap()
            .unwrap()
            .active
    );
    t.apply(&Operation::Enable {
        remote_id: Some(guid.clone()),
        changes: Vec::new(),
        record: renamed.clone(),
    })
    .await
    .unwrap();
    let e = common::one(
        &mut admin,
        BASE,
        "(employeeID=9001)",
        &["userAccountControl"],
    )
    .await
    .unwrap();
    assert_eq!(common::attr(&e, "userAccountControl"), vec!["512"]);

    // A record the schema refuses is Rejected and names the entry.
    let mut bad = renamed.clone();
    bad.attributes
        .insert("country_code".into(), Value::Text("Germany".into()));
    let err = t.apply(&update(&renamed, &bad, &guid)).await.unwrap_err();
    assert_eq!(err.kind, psync_targets::ErrorKind::Rejected, "{err}");
    assert!(err.message.contains("9001"), "{err}");

    // A joiner before the start date: created disabled (514) with a password; activation
    // enables it in place.
    let mut future = person("9004", "Joan", "Clarke", "Engineering");
    future.active = false;
    let Outcome::Created { remote_id: joan } = t
        .apply(&Operation::Create {
            record: future.clone(),
            match_by: MatchBy::None,
        })
        .await
        .unwrap()
    else {
        panic!("not created")
    };
    let e4 = common::one(
        &mut admin,
        BASE,
        "(employeeID=9004)",
        &["userAccountControl"],
    )
    .await
    .unwrap();
    assert_eq!(common::attr(&e4, "userAccountControl"), vec!["514"]);
    future.active = true;
    let enable = Operation::Enable {
        remote_id: Some(joan),
        changes: Vec::new(),
        record: future,
    };
    assert_eq!(t.apply(&enable).await.unwrap(), Outcome::Applied);
    let e4 = common::one(
        &mut admin,
        BASE,
        "(employeeID=9004)",
        &["userAccountControl"],
    )
    .await
    .unwrap();
    assert_eq!(common::attr(&e4, "userAccountControl"), vec!["512"]);
    let body = std::fs::read_to_string(&file).unwrap();
    let line = body
        .lines()
        .find(|l| l.starts_with("joan.clarke\t"))
        .unwrap();
    common::connect(
        "ldaps://127.0.0.1:636",
        "joan.clarke@test.example.org",
        line.split_once('\t').unwrap().1,
        false,
    )
    .await;

    // StartTLS on 389 works as well as LDAPS, password included.
    let mut c = ad_config(&samba.dir);
    c.url = "ldap://127.0.0.1:389".into();
    c.start_tls = true;
    let st = LdapTarget::new("ad", c).unwrap();
    assert!(st.check().await.unwrap().contains("Active Directory"));
    let grace = person("9003", "Grace", "Hopper", "Engineering");
    st.apply(&Operation::Create {
        record: grace,
        match_by: MatchBy::None,
    })
    .await
    .unwrap();
    let body = std::fs::read_to_string(&file).unwrap();
    let line = body
        .lines()
        .find(|l| l.starts_with("grace.hopper\t"))
        .unwrap();
    common::connect(
        "ldaps://127.0.0.1:636",
        "grace.hopper@test.example.org",
        line.split_once('\t').unwrap().1,
        false,
    )
    .await;
    // Certificates are verified unless tls_insecure: Samba's certificate does not name
    // 127.0.0.1, so its own CA does not make the connection trusted.
    let mut c = ad_config(&samba.dir);
    c.tls_insecure = false;
    c.ca_file = Some(samba.dir.join("private/tls/ca.pem"));
    let err = LdapTarget::new("ad", c).unwrap().check().await.unwrap_err();
    assert_eq!(err.kind, psync_targets::ErrorKind::Fatal, "{err}");

    // Delete.
    assert_eq!(
        t.apply(&Operation::Delete {
            remote_id: Some(guid.clone()),
            reason: psync_model::LeaveReason::Gone,
            record: renamed.clone()
        })
        .await
        .unwrap(),
        Outcome::Applied
    );
    assert!(
        common::one(&mut admin, BASE, "(employeeID=9001)", &["1.1"])
            .await
            .is_none()
    );
    // The password file never reached a log: nothing else to check here but that the text is
    // absent from the target's Debug output.
    assert!(!format!("{t:?}").contains(password));
}
