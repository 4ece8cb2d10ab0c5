//! Rendering employees for people (an aligned table) and for programs (JSON, CSV).

use psync_model::Employee;
use std::collections::BTreeSet;
use std::io::{self, Write};

/// How to print a list of employees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// An aligned table of the main fields.
    Table,
    /// A JSON array of canonical employees (every field, typed).
    Json,
    /// CSV with one column per field and per custom attribute.
    Csv,
}

const COLUMNS: [&str; 18] = [
    "id",
    "first_name",
    "last_name",
    "preferred_name",
    "email",
    "status",
    "position",
    "department",
    "team",
    "office",
    "legal_entity",
    "supervisor_id",
    "hire_date",
    "termination_date",
    "contract_end_date",
    "employment_type",
    "weekly_hours",
    "cost_centers",
];

fn cell(e: &Employee, column: &str) -> String {
    fn opt<T: ToString>(v: &Option<T>) -> String {
        v.as_ref().map(ToString::to_string).unwrap_or_default()
    }
    match column {
        "id" => e.id.to_string(),
        "first_name" => e.first_name.clone(),
        "last_name" => e.last_name.clone(),
        "preferred_name" => opt(&e.preferred_name),
        "email" => opt(&e.email),
        "status" => opt(&e.status),
        "position" => opt(&e.position),
        "department" => e
            .department
            .as_ref()
            .map(|d| d.path().join(" / "))
            .unwrap_or_default(),
        "team" => e.team.as_ref().map(|t| t.name.clone()).unwrap_or_default(),
        "office" => e
            .office
            .as_ref()
            .map(|o| o.name.clone())
            .unwrap_or_default(),
        "legal_entity" => e
            .legal_entity
            .as_ref()
            .map(|o| o.name.clone())
            .unwrap_or_default(),
        "supervisor_id" => opt(&e.supervisor_id),
        "hire_date" => opt(&e.hire_date),
        "termination_date" => opt(&e.termination_date),
        "contract_end_date" => opt(&e.contract_end_date),
        "employment_type" => opt(&e.employment_type),
        "weekly_hours" => opt(&e.weekly_hours),
        "cost_centers" => e
            .cost_centers
            .iter()
            .map(|c| match c.percentage {
                Some(p) => format!("{} ({p}%)", c.name),
                None => c.name.clone(),
            })
            .collect::<Vec<_>>()
            .join("; "),
        _ => String::new(),
    }
}

/// Writes employees in the chosen format.
pub fn write_employees(
    out: &mut dyn Write,
    employees: &[Employee],
    format: Format,
) -> io::Result<()> {
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, employees).map_err(io::Error::other)?;
            writeln!(out)
        }
        Format::Csv => write_csv(out, employees),
        Format::Table => write_table(out, employees),
    }
}

fn write_table(out: &mut dyn Write, employees: &[Employee]) -> io::Result<()> {
    const SHOWN: [&str; 8] = [
        "id",
        "name",
        "email",
        "status",
        "position",
        "department",
        "office",
        "supervisor_id",
    ];
    let rows: Vec<Vec<String>> = employees
        .iter()
        .map(|e| {
            SHOWN
                .iter()
                .map(|c| {
                    if *c == "name" {
                        e.display_name()
                    } else {
                        cell(e, c)
                    }
                })
                .collect()
        })
        .collect();
    let mut widths: Vec<usize> = SHOWN.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, v) in widths.iter_mut().zip(row) {
            *w = (*w).max(v.chars().count().min(40));
        }
    }
    let line = |out: &mut dyn Write, values: &[String]| -> io::Result<()> {
        let cells: Vec<String> = values
            .iter()
            .zip(&widths)
            .map(|(v, w)| {
                let v: String = if v.chars().count() > 40 {
                    v.chars().take(39).chain(['…']).collect()
                } else {
                    v.clone()
                };
                format!("{v:<w$}")
            })
            .collect();
        writeln!(out, "{}", cells.join("  ").trim_end())
    };
    let header: Vec<String> = SHOWN.iter().map(|h| h.to_uppercase()).collect();
    line(out, &header)?;
    for row in &rows {
        line(out, row)?;
    }
    Ok(())
}

fn write_csv(out: &mut dyn Write, employees: &[Employee]) -> io::Result<()> {
    let custom: BTreeSet<&str> = employees
        .iter()
        .flat_map(|e| e.custom.keys().map(String::as_str))
        .collect();
    let mut header: Vec<String> = COLUMNS.iter().map(|c| c.to_string()).collect();
    header.push("avatar_url".into());
    header.extend(custom.iter().map(|k| k.to_string()));
    writeln!(
        out,
        "{}",
        header
            .iter()
            .map(|h| csv_field(h))
            .collect::<Vec<_>>()
            .join(",")
    )?;
    for e in employees {
        let mut row: Vec<String> = COLUMNS.iter().map(|c| cell(e, c)).collect();
        row.push(e.avatar_url.clone().unwrap_or_default());
        row.extend(custom.iter().map(|k| {
            e.custom
                .get(*k)
                .map(|a| a.value.display())
                .unwrap_or_default()
        }));
        writeln!(
            out,
            "{}",
            row.iter()
                .map(|v| csv_field(v))
                .collect::<Vec<_>>()
                .join(",")
        )?;
    }
    Ok(())
}

/// Quotes a CSV field when it needs it (RFC 4180); neutralises spreadsheet formulas.
fn csv_field(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@']) && value.parse::<f64>().is_err() {
        format!("'{value}")
    } else {
        value.to_string()
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use psync_model::{EmployeeId, EmploymentStatus};

    fn sample() -> Vec<Employee> {
        let mut a = Employee::new(EmployeeId::new("1"), "Zoë", "O'Neil, Jr.");
        a.email = Some("zoe@example.com".into());
        a.status = Some(EmploymentStatus::Active);
        let b = Employee::new(EmployeeId::new("2"), "=cmd", "Quote\"d");
        vec![a, b]
    }

    #[test]
    fn csv_quotes_and_defuses() {
        let mut buf = Vec::new();
        write_employees(&mut buf, &sample(), Format::Csv).unwrap();
        let text = String::from_utf8(buf).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(
            lines[1].starts_with("1,Zoë,\"O'Neil, Jr.\","),
            "{}",
            lines[1]
        );
        assert!(
            lines[2].starts_with("2,'=cmd,\"Quote\"\"d\","),
            "{}",
            lines[2]
        );
    }

    #[test]
    fn json_round_trips() {
        let mut buf = Vec::new();
        write_employees(&mut buf, &sample(), Format::Json).unwrap();
        let back: Vec<Employee> = serde_json::from_slice(&buf).unwrap();
        assert_eq!(back, sample());
    }

    #[test]
    fn table_has_a_header_and_a_row_each() {
        let mut buf = Vec::new();
        write_employees(&mut buf, &sample(), Format::Table).unwrap();
        let text = String::from_utf8(buf).unwrap();
        assert!(text.starts_with("ID  NAME"), "{text}");
        assert_eq!(text.lines().count(), 3);
    }
}
