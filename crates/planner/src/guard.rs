//! Guards: the insane-source check before planning and the deprovisioning threshold after.

use crate::policy::Threshold;
use psync_model::{AppliedAccount, EmployeeId, Hold, Operation};
use std::collections::BTreeMap;

/// Why a read from Personio is not trusted for planning. Nothing is planned or changed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SourceAbort {
    /// The read returned nobody, while the last full read had people.
    #[error(
        "Personio returned no employees, but the last full read had {previous}. Nothing was \
         planned or changed, so no account was disabled. This usually means the API credential \
         lost access (check its permissions and attribute whitelist in Personio) or a filter \
         matched nobody. If the company really has no employees any more, confirm it and re-run \
         with --allow-shrink to accept this read."
    )]
    Empty {
        /// Employees in the last full read.
        previous: usize,
    },
    /// The read returned clearly fewer people than last time.
    #[error(
        "Personio returned {current} employees, {percent:.1}% fewer than the {previous} of the \
         last full read (the limit is {max_shrink_percent}%). Nothing was planned or changed, \
         so no account was disabled. Check the API credential's permissions and attribute \
         whitelist in Personio; if that many people really left, confirm it and re-run with \
         --allow-shrink to accept this read."
    )]
    Shrunk {
        /// Employees in this read.
        current: usize,
        /// Employees in the last full read.
        previous: usize,
        /// How much smaller this read is, in percent of `previous`.
        percent: f64,
        /// The configured limit.
        max_shrink_percent: f64,
    },
}

/// The insane-source check: an empty read when the last read had people, or a read more than
/// `max_shrink_percent` smaller than the last one, aborts the run before planning.
///
/// `previous` is the size of the last saved full read (`None` on the first run). A shrink of
/// exactly `max_shrink_percent` passes.
pub fn check_source(
    current: usize,
    previous: Option<usize>,
    max_shrink_percent: f64,
) -> Result<(), SourceAbort> {
    let Some(previous) = previous.filter(|&p| p > 0) else {
        return Ok(());
    };
    if current == 0 {
        return Err(SourceAbort::Empty { previous });
    }
    if current >= previous {
        return Ok(());
    }
    let lost = previous - current;
    // lost / previous > max% without dividing first: lost * 100 > max * previous.
    if (lost as f64) * 100.0 > max_shrink_percent * (previous as f64) {
        return Err(SourceAbort::Shrunk {
            current,
            previous,
            percent: (lost as f64) * 100.0 / (previous as f64),
            max_shrink_percent,
        });
    }
    Ok(())
}

/// The deprovisioning guard: a hold when the disables + deletes in `operations` exceed
/// `threshold` (a count, or a percentage of the `managed` accounts). Equal passes.
pub fn deprovision_hold(
    operations: &[Operation],
    managed: usize,
    threshold: Option<Threshold>,
) -> Option<Hold> {
    let threshold = threshold?;
    let count = operations
        .iter()
        .filter(|op| op.kind().is_deprovision())
        .count();
    threshold
        .exceeded(count, managed)
        .then(|| Hold::TooManyDeprovisions {
            count,
            of: managed,
            threshold: threshold.to_string(),
        })
}

/// Accounts a field must be emptied for, at least, before the emptying guard holds a plan.
pub const EMPTYING_MIN_ACCOUNTS: usize = 5;

/// Holds a plan that would empty one attribute for at least half of the active accounts (and
/// at least [`EMPTYING_MIN_ACCOUNTS`]) at once. Personio leaves out attributes a credential may
/// not read, so a lost whitelist entry looks exactly like everyone's value being deleted.
pub fn emptying_hold(
    operations: &[Operation],
    applied: &BTreeMap<EmployeeId, AppliedAccount>,
) -> Option<Hold> {
    let active = applied.values().filter(|a| a.disabled_on.is_none()).count();
    let mut emptied: BTreeMap<&str, usize> = BTreeMap::new();
    for op in operations {
        if let Operation::Update { changes, .. } | Operation::Enable { changes, .. } = op {
            for change in changes {
                if change.field != "active" && !change.old.is_empty() && change.new.is_empty() {
                    *emptied.entry(change.field.as_str()).or_insert(0) += 1;
                }
            }
        }
    }
    emptied
        .into_iter()
        .filter(|(_, count)| *count >= EMPTYING_MIN_ACCOUNTS && count * 2 >= active)
        .max_by_key(|(_, count)| *count)
        .map(|(field, count)| Hold::FieldEmptied {
            field: field.to_string(),
            count,
            of: active,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_read_and_growth_pass() {
        assert_eq!(check_source(0, None, 20.0), Ok(()));
        assert_eq!(check_source(0, Some(0), 20.0), Ok(()));
        assert_eq!(check_source(120, Some(100), 20.0), Ok(()));
        assert_eq!(check_source(100, Some(100), 0.0), Ok(()));
    }

    #[test]
    fn an_empty_read_after_a_full_one_aborts_and_says_what_to_do() {
        let err = check_source(0, Some(250), 20.0).unwrap_err();
        assert_eq!(err, SourceAbort::Empty { previous: 250 });
        let text = err.to_string();
        assert!(text.contains("no employees"), "{text}");
        assert!(text.contains("250"), "{text}");
        assert!(text.contains("--allow-shrink"), "{text}");
        assert!(text.contains("Nothing was planned"), "{text}");
    }

    #[test]
    fn shrink_boundaries() {
        // 20% of 100 = 20 people: 80 passes, 79 aborts.
        assert_eq!(check_source(81, Some(100), 20.0), Ok(()));
        assert_eq!(check_source(80, Some(100), 20.0), Ok(()));
        let err = check_source(79, Some(100), 20.0).unwrap_err();
        let SourceAbort::Shrunk {
            current,
            previous,
            percent,
            ..
        } = err
        else {
            panic!("expected Shrunk, got {err:?}");
        };
        assert_eq!((current, previous), (79, 100));
        assert!((percent - 21.0).abs() < 1e-9);
        let text = check_source(50, Some(100), 20.0).unwrap_err().to_string();
        assert!(text.contains("50.0% fewer than the 100"), "{text}");
        assert!(text.contains("limit is 20%"), "{text}");
        assert!(text.contains("--allow-shrink"), "{text}");
    }
}
