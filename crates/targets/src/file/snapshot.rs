//! The JSONL snapshot: the file target's memory between runs (read at `begin`, written at
//! `finish`), one `TargetRecord` per line, in person-id order.

use crate::error::TargetError;
use psync_model::{EmployeeId, TargetRecord};
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::io;
use std::path::Path;

/// Rows keyed by person id.
pub(crate) type Rows = BTreeMap<EmployeeId, TargetRecord>;

/// Numeric-aware person order, as the planner sorts: shorter id first, then lexicographic
/// (so `9` < `10` < `100`, and non-numeric ids still order deterministically).
pub(crate) fn person_order(a: &EmployeeId, b: &EmployeeId) -> Ordering {
    let (a, b) = (a.as_str(), b.as_str());
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// The rows in output order.
pub(crate) fn sorted(rows: &Rows) -> Vec<&TargetRecord> {
    let mut out: Vec<&TargetRecord> = rows.values().collect();
    out.sort_by(|a, b| person_order(&a.person, &b.person));
    out
}

/// One compact JSON record per line, each ending in `\n`.
pub(crate) fn render(target: &str, rows: &[&TargetRecord]) -> Result<Vec<u8>, TargetError> {
    let mut out = Vec::new();
    for row in rows {
        serde_json::to_writer(&mut out, row).map_err(|e| {
            TargetError::rejected(format!(
                "file target '{target}': the record of person {} cannot be written as JSON ({e})",
                row.person
            ))
        })?;
        out.push(b'\n');
    }
    Ok(out)
}

/// Reads the snapshot; `Ok(None)` when the file does not exist.
pub(crate) async fn load(target: &str, path: &Path) -> Result<Option<Rows>, TargetError> {
    match tokio::fs::read(path).await {
        Ok(bytes) => parse(target, path, &bytes).map(Some),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(TargetError::fatal(format!(
            "file target '{target}': cannot read the snapshot {} ({e}); make it readable for \
             the user running personio-sync, or change `path`",
            path.display()
        ))),
    }
}

/// Parses a snapshot. Blank lines are skipped; anything else that is not one record per line
/// (bad UTF-8, bad JSON, an empty or repeated person id) is a `Fatal` error naming the line.
pub(crate) fn parse(target: &str, path: &Path, bytes: &[u8]) -> Result<Rows, TargetError> {
    let corrupt = |line: usize, problem: String| {
        TargetError::fatal(format!(
            "file target '{target}': {} line {line}: {problem}; the snapshot is the target's \
             memory and is never overwritten when it cannot be read. Repair or remove that line \
             (each line is one JSON record as personio-sync writes it), or restore the file from \
             {}/archive if archiving is on",
            path.display(),
            path.parent()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
        ))
    };
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = 1 + bytes[..e.valid_up_to()]
            .iter()
            .filter(|b| **b == b'\n')
            .count();
        corrupt(line, "not valid UTF-8".to_string())
    })?;
    let mut rows = Rows::new();
    let mut lines_of: BTreeMap<EmployeeId, usize> = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let number = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let record: TargetRecord = serde_json::from_str(line)
            .map_err(|e| corrupt(number, format!("not a valid record ({e})")))?;
        if record.person.as_str().is_empty() {
            return Err(corrupt(number, "the record has an empty person id".into()));
        }
        if let Some(first) = lines_of.get(&record.person) {
            return Err(corrupt(
                number,
                format!(
                    "person {} appears again (first on line {first})",
                    record.person
                ),
            ));
        }
        lines_of.insert(record.person.clone(), number);
        rows.insert(record.person.clone(), record);
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use psync_model::Value;

    fn rec(id: &str) -> TargetRecord {
        let mut r = TargetRecord::new(EmployeeId::new(id));
        r.attributes
            .insert("email".into(), Value::Text(format!("{id}@x.de")));
        r
    }

    #[test]
    fn order_is_numeric_aware() {
        let mut rows = Rows::new();
        for id in ["100", "9", "10", "b", "a1"] {
            rows.insert(EmployeeId::new(id), rec(id));
        }
        let order: Vec<&str> = sorted(&rows).iter().map(|r| r.person.as_str()).collect();
        assert_eq!(order, ["9", "b", "10", "a1", "100"]);
    }

    #[test]
    fn render_and_parse_round_trip() {
        let mut rows = Rows::new();
        for id in ["2", "1"] {
            rows.insert(EmployeeId::new(id), rec(id));
        }
        let bytes = render("t", &sorted(&rows)).unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert_eq!(text.lines().count(), 2);
        assert!(text.starts_with("{\"person\":\"1\""), "{text}");
        assert!(text.ends_with("}\n"));
        let back = parse("t", Path::new("/d/t.jsonl"), &bytes).unwrap();
        assert_eq!(back, rows);
    }

    #[test]
    fn corrupt_lines_are_fatal_and_named() {
        let good = String::from_utf8(render("t", &[&rec("1")]).unwrap()).unwrap();
        let text = format!("{good}\n{{\"person\":\"2\",\"attri\n");
        let err = parse("t", Path::new("/d/t.jsonl"), text.as_bytes()).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Fatal);
        assert!(err.message.contains("/d/t.jsonl line 3"), "{}", err.message);

        let dup = format!("{good}{good}");
        let err = parse("t", Path::new("/d/t.jsonl"), dup.as_bytes()).unwrap_err();
        assert!(err.message.contains("line 2"), "{}", err.message);
        assert!(err.message.contains("first on line 1"), "{}", err.message);

        let mut bad = good.clone().into_bytes();
        bad.extend_from_slice(b"\xff\n");
        let err = parse("t", Path::new("/d/t.jsonl"), &bad).unwrap_err();
        assert!(
            err.message.contains("line 2: not valid UTF-8"),
            "{}",
            err.message
        );
    }
}
