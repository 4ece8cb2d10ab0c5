//! Benchmark (ignored by default; run by hand, figures in /work/notes/ldap-target.md):
//! 5,000 creates with a group membership each (50 department groups), 8 in flight, into
//! slapd and into Samba AD (root only). Prints throughput and LDAP operations per user.
//!
//! `cargo nextest run -p psync-target-ldap --test bench --run-ignored only --no-capture`

#![allow(clippy::unwrap_used, reason = "test code")]

mod common;

use psync_model::{EmployeeId, GroupPath, MatchBy, Operation, Outcome, TargetRecord, Value};
use psync_target_ldap::{Flavor, LdapConfig, LdapTarget};
use psync_targets::Target;
use std::sync::Arc;

const PEOPLE: usize = 5_000;
const IN_FLIGHT: usize = 8;

fn record(i: usize) -> TargetRecord {
    let mut r = TargetRecord::new(EmployeeId::new((100_000 + i).to_string()));
    let (first, last) = (format!("First{}", i % 700), format!("Last{}", i % 300));
    r.attributes
        .insert("first_name".into(), Value::Text(first.clone()));
    r.attributes
        .insert("last_name".into(), Value::Text(last.clone()));
    r.attributes.insert(
        "display_name".into(),
        Value::Text(format!("{first} {last} {i}")),
    );
    r.attributes
        .insert("email".into(), Value::Text(format!("p{i}@example.org")));
    r.attributes
        .insert("title".into(), Value::Text("Engineer".into()));
    r.attributes
        .insert("department".into(), Value::Text(format!("Dept {}", i % 50)));
    r.groups.insert(GroupPath(vec![format!("Dept {}", i % 50)]));
    r
}

async fn run(label: &str, target: LdapTarget) {
    let target = Arc::new(target);
    let before = target.operations();
    let started = std::time::Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    let mut next = 0;
    let mut created = 0;
    while next < PEOPLE || !tasks.is_empty() {
        while next < PEOPLE && tasks.len() < IN_FLIGHT {
            let t = Arc::clone(&target);
            let op = Operation::Create {
                record: record(next),
                match_by: MatchBy::None,
            };
            tasks.spawn(async move { t.apply(&op).await });
            next += 1;
        }
        if let Some(done) = tasks.join_next().await {
            assert!(matches!(done.unwrap().unwrap(), Outcome::Created { .. }));
            created += 1;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let ops = target.operations() - before;
    println!(
        "BENCH {label}: {created} creates with groups in {secs:.1} s = {:.0} users/s; {:.2} LDAP operations per user",
        created as f64 / secs,
        ops as f64 / created as f64
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run by hand"]
async fn bench_5000_creates() {
    if let Some(slapd) = common::Slapd::start().await {
        let c = LdapConfig::new(
            &slapd.url,
            Flavor::Openldap,
            common::ADMIN,
            common::PASSWORD,
            common::BASE,
        );
        run("openldap", LdapTarget::new("bench", c).unwrap()).await;
    }
    if let Some(samba) = common::start_samba().await {
        let mut c = LdapConfig::new(
            "ldaps://127.0.0.1:636",
            Flavor::ActiveDirectory,
            common::ADMIN_AD,
            common::PASSWORD_AD,
            common::BASE_AD,
        );
        c.tls_insecure = true;
        c.create_ous = true;
        run("samba-ad", LdapTarget::new("bench", c).unwrap()).await;
        drop(samba);
    }
}
