//! Runs the shared conformance suite through `AnyTarget`, as the engine sees targets.

#![allow(clippy::unwrap_used, reason = "test helpers outside #[test] functions")]

use psync_connectors::TargetConfig;
use psync_targets::testkit::conformance;

#[tokio::test]
async fn jsonl_only_file_target_passes_through_any_target() {
    let dir = std::env::temp_dir().join(format!("psync-connectors-any-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.clone();
    let passed = conformance(move || {
        let config: TargetConfig = serde_json::from_value(serde_json::json!({
            "type": "file",
            "path": path,
            "formats": ["jsonl"],
        }))
        .unwrap();
        config.build("people").unwrap()
    })
    .await
    .unwrap_or_else(|failures| panic!("{failures}"));
    assert!(!passed.checks.is_empty());
    assert!(dir.join("people.jsonl").is_file());
    assert!(!dir.join("people.csv").exists());
}
