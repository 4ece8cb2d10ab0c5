//! Every configuration shipped in `examples/` is valid: `personio-sync validate` accepts it
//! (with its `${VAR}` secrets set to placeholders), so a copied example never starts broken.

#![allow(clippy::unwrap_used, reason = "test code")]

use std::path::Path;
use std::process::Command;

/// The `${NAME}` references in a configuration text.
fn variables(text: &str) -> Vec<String> {
    text.split("${")
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name.to_string()))
        .collect()
}

#[test]
fn every_example_configuration_validates() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut checked = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("toml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_personio-sync"));
        cmd.arg("validate").arg("--config").arg(&path);
        for name in variables(&text) {
            cmd.env(name, "placeholder");
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{} does not validate:\n{}{}",
            path.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        checked.push(path.file_name().unwrap().to_string_lossy().into_owned());
    }
    assert!(
        checked.iter().any(|n| n == "active-directory.toml"),
        "examples checked: {checked:?}"
    );
}

#[test]
fn variables_are_found() {
    assert_eq!(
        variables("a = \"${ONE}\"\nb = \"x${TWO}y\" # ${THREE"),
        ["ONE", "TWO"]
    );
}
