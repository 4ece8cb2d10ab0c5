//! Runs the shared conformance suite against the file target.

#![allow(clippy::unwrap_used, reason = "test helpers outside #[test] functions")]

use psync_targets::file::{FileConfig, FileTarget};
use psync_targets::testkit::{MissingPerson, Suite};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

fn scratch(label: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "psync-conformance-{label}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A path below a regular file: nothing can ever be created there, even as root.
fn unwritable(base: &std::path::Path) -> PathBuf {
    let file = base.join("a-file");
    std::fs::write(&file, "not a directory").unwrap();
    file.join("export")
}

#[tokio::test]
async fn file_target_passes_the_conformance_suite() {
    let dir = scratch("file");
    let out = dir.join("out");
    let bad = unwritable(&dir);
    let mut archived = FileConfig::new(&out);
    archived.archive = true;
    let passed = Suite::new(move || FileTarget::new("hr", archived.clone()).unwrap())
        .missing_person(MissingPerson::Restore)
        .broken(move || FileTarget::new("hr", FileConfig::new(&bad)).unwrap())
        .run()
        .await
        .unwrap_or_else(|failures| panic!("{failures}"));
    for scenario in [
        "check",
        "lifecycle",
        "several people",
        "unknown person",
        "adoption",
        "batch runs",
        "broken target",
    ] {
        assert!(
            passed.checks.iter().any(|c| c.starts_with(scenario)),
            "scenario {scenario} did not run: {:?}",
            passed.checks
        );
    }
    // The archive saw every finished run.
    assert!(out.join("archive").read_dir().unwrap().count() > 20);
}

#[tokio::test]
async fn the_suite_catches_a_target_that_breaks_the_contract() {
    // A healthy target declared broken must fail the suite, with the scenario named.
    let dir = scratch("self-test");
    let path = dir.clone();
    let also = dir.clone();
    let failures = Suite::new(move || FileTarget::new("hr", FileConfig::new(&path)).unwrap())
        .missing_person(MissingPerson::Conflict)
        .broken(move || FileTarget::new("hr2", FileConfig::new(&also)).unwrap())
        .run()
        .await
        .unwrap_err();
    let text = failures.to_string();
    assert!(text.contains("[unknown person]"), "{text}");
    assert!(
        text.contains("[broken target] check fails with Fatal"),
        "{text}"
    );
    assert_eq!(failures.0.len(), 2, "{text}");
}
