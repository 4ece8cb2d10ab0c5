//! The target conformance suite against a real OpenLDAP slapd.

#![allow(clippy::unwrap_used, reason = "test code")]

mod common;

use psync_target_ldap::{Flavor, LdapConfig, LdapTarget};
use psync_targets::testkit::{MissingPerson, Suite};

#[tokio::test]
async fn openldap_target_passes_the_conformance_suite() {
    let Some(slapd) = common::Slapd::start().await else {
        return;
    };
    let mut config = LdapConfig::new(
        &slapd.url,
        Flavor::Openldap,
        common::ADMIN,
        common::PASSWORD,
        common::BASE,
    );
    // Typed values and a manager outside the directory read back from the stored copy.
    config.record_attribute = Some("description".into());
    let mut wrong = config.clone();
    wrong.bind_password = Some("not-the-password".into());
    let passed = Suite::new(move || LdapTarget::new("dir", config.clone()).unwrap())
        .missing_person(MissingPerson::Conflict)
        .broken(move || LdapTarget::new("dir", wrong.clone()).unwrap())
        .run()
        .await
        .unwrap_or_else(|failures| panic!("{failures}"));
    for scenario in [
        "check",
        "lifecycle",
        "several people",
        "unknown person",
        "adoption",
        "broken target",
    ] {
        assert!(
            passed.checks.iter().any(|c| c.starts_with(scenario)),
            "scenario {scenario} did not run: {:?}",
            passed.checks
        );
    }
}
