//! Plan helpers: a human-readable per-person, per-attribute diff and small summaries.

use psync_model::{FieldChange, GroupPath, OpKind, Operation, Plan, TargetRecord, Value};
use std::fmt::Write as _;

/// A person's name for display: the `display_name` attribute, else `first_name last_name`,
/// else `None`.
pub fn display_name(record: &TargetRecord) -> Option<String> {
    if let Value::Text(name) = record.get("display_name")
        && !name.trim().is_empty()
    {
        return Some(name.trim().to_owned());
    }
    let part = |name: &str| match record.get(name) {
        Value::Text(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        _ => None,
    };
    match (part("first_name"), part("last_name")) {
        (Some(first), Some(last)) => Some(format!("{first} {last}")),
        (Some(one), None) | (None, Some(one)) => Some(one),
        (None, None) => None,
    }
}

/// The number of disables + deletes in the plan (what the deprovisioning guard counts).
pub fn deprovision_count(plan: &Plan) -> usize {
    plan.operations
        .iter()
        .filter(|op| op.kind().is_deprovision())
        .count()
}

/// One line: `Plan: 1 to create, 2 to update, 0 to disable, 0 to enable, 0 to delete.`
pub fn summary_line(plan: &Plan) -> String {
    let counts = plan.counts();
    let n = |kind| counts.get(&kind).copied().unwrap_or(0);
    format!(
        "Plan: {} to create, {} to update, {} to disable, {} to enable, {} to delete.",
        n(OpKind::Create),
        n(OpKind::Update),
        n(OpKind::Disable),
        n(OpKind::Enable),
        n(OpKind::Delete),
    )
}

/// The plan as text for people, one block per person in plan order:
///
/// ```text
/// Target "files" from Personio "acme": 3 in scope, 2 managed, complete read.
/// + create 10007 Anna Fernández
/// ~ update 10002 Jonas Weber: title "A" → "B"
/// ~ update 10003 Max Muster
///     title: "A" → "B"
///     groups: +[Munich / Sales] -[Berlin / Sales]
/// - disable 10005 Tom Alt (left)
/// note 10010: starts on 2025-07-01: …
/// Plan: 1 to create, 2 to update, 1 to disable, 0 to enable, 0 to delete.
/// ```
///
/// A held plan ends with a line saying why and that it waits for approval.
pub fn render_text(plan: &Plan) -> String {
    let mut out = String::new();
    let read = if plan.read_complete {
        "complete read"
    } else {
        "partial or incomplete read (no disables or deletes)"
    };
    let _ = writeln!(
        out,
        "Target {:?} from Personio {:?}: {} in scope, {} managed, {read}.",
        plan.target, plan.source, plan.in_scope, plan.managed
    );
    for op in &plan.operations {
        render_operation(&mut out, op);
    }
    for note in &plan.notes {
        match &note.person {
            Some(person) => {
                let _ = writeln!(out, "note {person}: {}", note.message);
            }
            None => {
                let _ = writeln!(out, "note: {}", note.message);
            }
        }
    }
    if plan.is_empty() {
        out.push_str("No changes.\n");
    } else {
        out.push_str(&summary_line(plan));
        out.push('\n');
    }
    if let Some(hold) = &plan.hold {
        let _ = writeln!(
            out,
            "HELD: {hold}. Nothing is applied until someone checks the list above and approves \
             the run (`personio-sync approve RUN`) or rejects it."
        );
    }
    out
}

fn render_operation(out: &mut String, op: &Operation) {
    let record = op.record();
    let who = match display_name(record) {
        Some(name) => format!("{} {name}", record.person),
        None => record.person.to_string(),
    };
    match op {
        Operation::Create { record, .. } => {
            let inactive = if record.active {
                ""
            } else {
                " (inactive until the start date)"
            };
            let _ = writeln!(out, "+ create {who}{inactive}");
        }
        Operation::Update {
            changes,
            groups_added,
            groups_removed,
            ..
        } => {
            let mut lines: Vec<String> = changes.iter().map(change_text).collect();
            if !groups_added.is_empty() || !groups_removed.is_empty() {
                lines.push(format!(
                    "groups {}",
                    groups_text(groups_added, groups_removed)
                ));
            }
            write_with_details(out, &format!("~ update {who}"), &lines);
        }
        Operation::Enable { changes, .. } => {
            let lines: Vec<String> = changes.iter().map(change_text).collect();
            write_with_details(out, &format!("+ enable {who}"), &lines);
        }
        Operation::Disable { reason, .. } => {
            let _ = writeln!(out, "- disable {who} ({})", reason_text(*reason));
        }
        Operation::Delete { reason, .. } => {
            let _ = writeln!(out, "- delete {who} ({})", reason_text(*reason));
        }
    }
}

/// One detail inline (`head: detail`), several indented below the head.
fn write_with_details(out: &mut String, head: &str, lines: &[String]) {
    match lines {
        [] => {
            let _ = writeln!(out, "{head}");
        }
        [one] => {
            let _ = writeln!(out, "{head}: {one}");
        }
        many => {
            let _ = writeln!(out, "{head}");
            for line in many {
                let _ = writeln!(out, "    {line}");
            }
        }
    }
}

fn change_text(change: &FieldChange) -> String {
    format!(
        "{} {} → {}",
        change.field,
        value_text(&change.old),
        value_text(&change.new)
    )
}

fn groups_text(added: &[GroupPath], removed: &[GroupPath]) -> String {
    added
        .iter()
        .map(|g| format!("+[{g}]"))
        .chain(removed.iter().map(|g| format!("-[{g}]")))
        .collect::<Vec<_>>()
        .join(" ")
}

fn value_text(value: &Value) -> String {
    match value {
        Value::Null => "(empty)".to_owned(),
        Value::Text(s) => format!("{s:?}"),
        Value::List(items) => format!("[{}]", items.join(", ")),
        other => other.display(),
    }
}

fn reason_text(reason: psync_model::LeaveReason) -> &'static str {
    match reason {
        psync_model::LeaveReason::Left => "left",
        psync_model::LeaveReason::OutOfScope => "out of scope",
        psync_model::LeaveReason::Gone => "gone from Personio",
    }
}
