//! Users' mapping tests: sample employees with expected records, run by `validate`.

use crate::compile::{Mapping, parse_group_path};
use crate::convert::{matches, show, show_json};
use crate::map::Runner;
use std::collections::BTreeSet;
use std::fmt;

/// One expectation of a mapping test that did not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestFailure {
    /// The test's name.
    pub test: String,
    /// The attribute, or `scope`, `groups`, `error`.
    pub field: String,
    /// What the mapping produced.
    pub got: String,
    /// What the test expects.
    pub want: String,
}

impl fmt::Display for TestFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "test '{}': field '{}': got {}, want {}",
            self.test, self.field, self.got, self.want
        )
    }
}

impl Mapping {
    /// Runs the mapping's tests (`[[target.mapping.tests]]`); empty = all passed.
    ///
    /// Each test maps its employee alone (no manager pass, groups before `create_missing`
    /// resolution) and compares only what it lists.
    pub fn run_tests(&self) -> Vec<TestFailure> {
        let mut failures = Vec::new();
        let runner = match Runner::new(self) {
            Ok(r) => r,
            Err(message) => {
                return self
                    .tests
                    .iter()
                    .map(|(t, _)| TestFailure {
                        test: t.name.clone(),
                        field: "error".into(),
                        got: message.clone(),
                        want: "a compiled mapping".into(),
                    })
                    .collect();
            }
        };
        for (test, employee) in &self.tests {
            let fail = |field: &str, got: String, want: String| TestFailure {
                test: test.name.clone(),
                field: field.to_string(),
                got,
                want,
            };
            let expects_record =
                test.in_scope == Some(true) || !test.expect.is_empty() || test.groups.is_some();
            let record = match runner.map_one(employee) {
                Err(err) => {
                    failures.push(fail(
                        &err.field,
                        format!("error: {}", err.message),
                        if test.in_scope == Some(false) {
                            "out of scope".into()
                        } else {
                            "a record".into()
                        },
                    ));
                    continue;
                }
                Ok(None) => {
                    if expects_record {
                        failures.push(fail("scope", "out of scope".into(), "in scope".into()));
                    }
                    continue;
                }
                Ok(Some(record)) => record,
            };
            if test.in_scope == Some(false) {
                failures.push(fail("scope", "in scope".into(), "out of scope".into()));
                continue;
            }
            for (field, want) in &test.expect {
                let got = record.get(field);
                if !matches(got, want) {
                    failures.push(fail(field, show(got), show_json(want)));
                }
            }
            if let Some(want) = &test.groups {
                let want: BTreeSet<String> = want
                    .iter()
                    .map(|g| parse_group_path(g).to_string())
                    .collect();
                let got: BTreeSet<String> = record.groups.iter().map(|g| g.to_string()).collect();
                if want != got {
                    failures.push(fail("groups", format!("{got:?}"), format!("{want:?}")));
                }
            }
        }
        failures
    }
}
