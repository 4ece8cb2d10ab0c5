//! Tidy checks that keep the code base's written promises: module docs, the code map in
//! ARCHITECTURE.md, and the purity of the core crates.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn crates() -> Vec<PathBuf> {
    let mut crates: Vec<PathBuf> = std::fs::read_dir(root().join("crates"))
        .expect("crates/")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("Cargo.toml").exists())
        .collect();
    crates.sort();
    crates
}

#[test]
fn every_module_says_what_it_owns() {
    let mut files = Vec::new();
    for krate in crates() {
        rust_files(&krate.join("src"), &mut files);
        rust_files(&krate.join("tests"), &mut files);
    }
    let missing: Vec<String> = files
        .iter()
        .filter(|f| {
            let text = std::fs::read_to_string(f).unwrap_or_default();
            !text.trim_start().starts_with("//!")
        })
        .map(|f| f.display().to_string())
        .collect();
    assert!(files.len() > 50, "found only {} files", files.len());
    assert!(
        missing.is_empty(),
        "modules without a `//!` first line: {missing:#?}"
    );
}

#[test]
fn every_crate_is_on_the_code_map() {
    let map = std::fs::read_to_string(root().join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    for krate in crates() {
        let dir = krate
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        assert!(
            map.contains(&format!("crates/{dir}")),
            "crates/{dir} is not described in ARCHITECTURE.md"
        );
    }
}

#[test]
fn the_core_stays_pure() {
    for core in ["model", "mapping", "planner"] {
        let manifest = std::fs::read_to_string(root().join("crates").join(core).join("Cargo.toml"))
            .expect("Cargo.toml");
        let dependencies = manifest
            .split("[dev-dependencies]")
            .next()
            .unwrap_or_default();
        for io in ["tokio", "reqwest", "sqlx", "axum"] {
            assert!(
                !dependencies.lines().any(|l| l.trim_start().starts_with(io)),
                "crates/{core} must not depend on {io}: mapping and planning do no I/O"
            );
        }
    }
}
