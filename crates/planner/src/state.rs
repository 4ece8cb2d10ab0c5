//! `apply_outcome`: the state transition the engine stores after a target confirmed an operation.

use jiff::civil::Date;
use psync_model::{AppliedAccount, EmployeeId, Operation, Outcome};
use std::collections::BTreeMap;

/// Records in `applied` what the target now holds after it confirmed `op` with `outcome`.
///
/// - Create: the account is inserted with the remote id from `Created`/`Adopted`; an
///   `Unchanged` (the target already had it) or `Applied` outcome keeps any known remote id.
/// - Update / Enable: the record is replaced; Enable also clears `disabled_on`.
/// - Disable: the record with `active = false`; `disabled_on` = `today`, unless the account was
///   already disabled (a replayed disable keeps the original date, so the grace period is not
///   restarted).
/// - Delete: the account is removed.
///
/// A remote id carried by the outcome always wins; otherwise the known one is kept, then the
/// operation's. Updating an account the state does not know inserts it (the target confirmed it).
pub fn apply_outcome(
    applied: &mut BTreeMap<EmployeeId, AppliedAccount>,
    op: &Operation,
    outcome: &Outcome,
    today: Date,
) {
    let person = op.person().clone();
    let from_outcome = outcome.remote_id().map(str::to_owned);
    match op {
        Operation::Create { record, .. } => {
            let known = applied.get(&person).and_then(|a| a.remote_id.clone());
            applied.insert(
                person,
                AppliedAccount {
                    record: record.clone(),
                    remote_id: from_outcome.or(known),
                    disabled_on: None,
                },
            );
        }
        Operation::Update {
            remote_id, record, ..
        }
        | Operation::Enable {
            remote_id, record, ..
        } => {
            let account = applied.entry(person).or_insert_with(|| AppliedAccount {
                record: record.clone(),
                remote_id: None,
                disabled_on: None,
            });
            account.record = record.clone();
            account.remote_id = from_outcome
                .or_else(|| account.remote_id.take())
                .or_else(|| remote_id.clone());
            if matches!(op, Operation::Enable { .. }) {
                account.disabled_on = None;
            }
        }
        Operation::Disable {
            remote_id, record, ..
        } => {
            let account = applied.entry(person).or_insert_with(|| AppliedAccount {
                record: record.clone(),
                remote_id: None,
                disabled_on: None,
            });
            account.record = record.clone();
            account.record.active = false;
            account.remote_id = from_outcome
                .or_else(|| account.remote_id.take())
                .or_else(|| remote_id.clone());
            account.disabled_on.get_or_insert(today);
        }
        Operation::Delete { .. } => {
            applied.remove(&person);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use psync_model::{LeaveReason, MatchBy, TargetRecord, Value};

    fn record(id: &str) -> TargetRecord {
        let mut r = TargetRecord::new(EmployeeId::new(id));
        r.attributes
            .insert("email".into(), Value::Text(format!("{id}@acme.test")));
        r
    }

    fn day(d: i8) -> Date {
        jiff::civil::date(2025, 6, d)
    }

    #[test]
    fn create_takes_the_remote_id_from_the_outcome() {
        let mut applied = BTreeMap::new();
        let op = Operation::Create {
            record: record("1"),
            match_by: MatchBy::ExternalId,
        };
        apply_outcome(
            &mut applied,
            &op,
            &Outcome::Adopted {
                remote_id: "u-1".into(),
                matched_by: MatchBy::ExternalId,
            },
            day(1),
        );
        let account = &applied[&EmployeeId::new("1")];
        assert_eq!(account.remote_id.as_deref(), Some("u-1"));
        assert_eq!(account.record, record("1"));
        assert_eq!(account.disabled_on, None);
    }

    #[test]
    fn unchanged_create_still_inserts_and_keeps_a_known_remote_id() {
        let mut applied = BTreeMap::new();
        let op = Operation::Create {
            record: record("1"),
            match_by: MatchBy::None,
        };
        apply_outcome(&mut applied, &op, &Outcome::Unchanged, day(1));
        assert_eq!(applied[&EmployeeId::new("1")].remote_id, None);

        applied.get_mut(&EmployeeId::new("1")).unwrap().remote_id = Some("u-1".into());
        apply_outcome(&mut applied, &op, &Outcome::Unchanged, day(2));
        assert_eq!(
            applied[&EmployeeId::new("1")].remote_id.as_deref(),
            Some("u-1")
        );
    }

    #[test]
    fn disable_enable_delete() {
        let id = EmployeeId::new("1");
        let mut applied = BTreeMap::from([(
            id.clone(),
            AppliedAccount {
                record: record("1"),
                remote_id: Some("u-1".into()),
                disabled_on: None,
            },
        )]);
        let mut off = record("1");
        off.active = false;
        let disable = Operation::Disable {
            remote_id: Some("u-1".into()),
            reason: LeaveReason::Left,
            record: off.clone(),
        };
        apply_outcome(&mut applied, &disable, &Outcome::Applied, day(3));
        assert_eq!(applied[&id].disabled_on, Some(day(3)));
        assert!(!applied[&id].record.active);
        // A replayed disable does not restart the grace period.
        apply_outcome(&mut applied, &disable, &Outcome::Unchanged, day(9));
        assert_eq!(applied[&id].disabled_on, Some(day(3)));

        let enable = Operation::Enable {
            remote_id: Some("u-1".into()),
            changes: vec![],
            record: record("1"),
        };
        apply_outcome(&mut applied, &enable, &Outcome::Applied, day(10));
        assert_eq!(applied[&id].disabled_on, None);
        assert!(applied[&id].record.active);
        assert_eq!(applied[&id].remote_id.as_deref(), Some("u-1"));

        let delete = Operation::Delete {
            remote_id: Some("u-1".into()),
            reason: LeaveReason::Gone,
            record: record("1"),
        };
        apply_outcome(&mut applied, &delete, &Outcome::Applied, day(11));
        assert!(applied.is_empty());
    }
}
