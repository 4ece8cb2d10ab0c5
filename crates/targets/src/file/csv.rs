//! CSV rendering for the file target: RFC 4180 quoting, CRLF line ends, and neutralised
//! spreadsheet formulas.

use psync_model::TargetRecord;
use std::borrow::Cow;
use std::collections::BTreeSet;

/// Built-in columns; an attribute may not carry one of these names while CSV is written.
pub(crate) const RESERVED: [&str; 4] = ["person", "active", "groups", "manager"];

/// Separator between several groups in the `groups` cell (JSONL keeps them as a list).
pub(crate) const GROUP_SEPARATOR: &str = "; ";

/// `person`, `active`, every attribute name in any row (sorted), `groups`, `manager`.
pub(crate) fn default_columns(rows: &[&TargetRecord]) -> Vec<String> {
    let attributes: BTreeSet<&str> = rows.iter().flat_map(|r| r.attributes.keys()).collect();
    let mut columns = vec!["person".to_string(), "active".to_string()];
    columns.extend(attributes.into_iter().map(str::to_string));
    columns.push("groups".to_string());
    columns.push("manager".to_string());
    columns
}

/// The whole CSV document: a header line, then one line per row, each ending in CRLF.
pub(crate) fn render(rows: &[&TargetRecord], columns: &[String]) -> Vec<u8> {
    let mut out = String::new();
    write_line(&mut out, columns.iter().map(|c| Cow::Borrowed(c.as_str())));
    for row in rows {
        write_line(&mut out, columns.iter().map(|c| Cow::Owned(cell(row, c))));
    }
    out.into_bytes()
}

fn write_line<'a>(out: &mut String, cells: impl Iterator<Item = Cow<'a, str>>) {
    for (i, cell) in cells.enumerate() {
        if i > 0 {
            out.push(',');
        }
        escape(&neutralise(&cell), out);
    }
    out.push_str("\r\n");
}

/// The text of one cell: built-in columns by name, anything else is an attribute.
fn cell(record: &TargetRecord, column: &str) -> String {
    match column {
        "person" => record.person.to_string(),
        "active" => record.active.to_string(),
        "groups" => record
            .groups
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(GROUP_SEPARATOR),
        "manager" => record
            .manager
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        attribute => record.get(attribute).display(),
    }
}

/// Prefixes `'` to text a spreadsheet would run as a formula: a cell starting with `=`, `+`,
/// `-`, `@`, tab or carriage return, unless the cell is a plain number (`-12`, `+3.5e2`).
pub(crate) fn neutralise(cell: &str) -> Cow<'_, str> {
    let dangerous = matches!(
        cell.chars().next(),
        Some('=' | '+' | '-' | '@' | '\t' | '\r')
    );
    if dangerous && !looks_numeric(cell) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// A decimal number: optional sign, digits with at most one dot (at least one digit), optional
/// exponent. Nothing else (no `inf`, no spaces).
fn looks_numeric(s: &str) -> bool {
    let s = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let mut digits = 0;
    let mut dots = 0;
    for c in mantissa.chars() {
        match c {
            '0'..='9' => digits += 1,
            '.' => dots += 1,
            _ => return false,
        }
    }
    if digits == 0 || dots > 1 {
        return false;
    }
    match exponent {
        None => true,
        Some(e) => {
            let e = e.strip_prefix(['+', '-']).unwrap_or(e);
            !e.is_empty() && e.chars().all(|c| c.is_ascii_digit())
        }
    }
}

/// RFC 4180: a field with a comma, a double quote, CR or LF is enclosed in double quotes, and
/// its double quotes are doubled.
pub(crate) fn escape(field: &str, out: &mut String) {
    if field.contains([',', '"', '\r', '\n']) {
        out.push('"');
        out.push_str(&field.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(field);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use psync_model::{EmployeeId, GroupPath, Value};

    fn esc(s: &str) -> String {
        let mut out = String::new();
        escape(&neutralise(s), &mut out);
        out
    }

    #[test]
    fn quoting_follows_rfc_4180() {
        assert_eq!(esc("plain"), "plain");
        assert_eq!(esc(""), "");
        assert_eq!(esc("a,b"), "\"a,b\"");
        assert_eq!(esc("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(esc("two\nlines"), "\"two\nlines\"");
        assert_eq!(esc("cr\rhere"), "\"cr\rhere\"");
        assert_eq!(esc("Öztürk"), "Öztürk");
    }

    #[test]
    fn formulas_are_neutralised_but_numbers_are_not() {
        assert_eq!(esc("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(esc("+49 30 1234"), "'+49 30 1234");
        assert_eq!(esc("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(esc("-cmd"), "'-cmd");
        assert_eq!(esc("\tx"), "'\tx");
        assert_eq!(esc("-12"), "-12");
        assert_eq!(esc("-12.5"), "-12.5");
        assert_eq!(esc("+3.5e2"), "+3.5e2");
        assert_eq!(esc("-"), "'-");
        assert_eq!(esc("-1-2"), "'-1-2");
        assert_eq!(esc("-inf"), "'-inf");
        assert_eq!(esc("a=b"), "a=b");
    }

    #[test]
    fn rows_render_with_default_columns() {
        let mut a = TargetRecord::new(EmployeeId::new("2"));
        a.attributes
            .insert("email".into(), Value::Text("a@x.de".into()));
        a.attributes
            .insert("name".into(), Value::Text("Doe, Jane".into()));
        a.groups
            .insert(GroupPath(vec!["Munich".into(), "Engineering".into()]));
        a.groups.insert(GroupPath(vec!["All".into()]));
        a.manager = Some(EmployeeId::new("1"));
        let mut b = TargetRecord::new(EmployeeId::new("10"));
        b.active = false;
        b.attributes.insert("hours".into(), Value::Decimal(-37.5));
        let rows = vec![&a, &b];
        let columns = default_columns(&rows);
        assert_eq!(
            columns,
            [
                "person", "active", "email", "hours", "name", "groups", "manager"
            ]
        );
        let text = String::from_utf8(render(&rows, &columns)).unwrap();
        assert_eq!(
            text,
            "person,active,email,hours,name,groups,manager\r\n\
             2,true,a@x.de,,\"Doe, Jane\",All; Munich / Engineering,1\r\n\
             10,false,,-37.5,,,\r\n"
        );
    }
}
