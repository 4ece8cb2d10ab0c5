//! Typed attribute values: what a custom attribute holds once its wire shape is gone.

use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The declared type of a custom attribute, as Personio describes it.
///
/// v1 names (`standard`, `date`, `integer`, `decimal`, `list`, `link`, `tags`, `multiline`) and
/// v2 names (`STRING`, `INT`, `DOUBLE`, `DATE`, `BOOLEAN`, `STRING_LIST`) both map onto this set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum AttributeType {
    /// Free text (v1 `standard`, `multiline`, `link`; v2 `STRING`).
    Text,
    /// Whole number (v1 `integer`, v2 `INT`).
    Integer,
    /// Number with a fraction (v1 `decimal`, v2 `DOUBLE`).
    Decimal,
    /// Calendar date without time (v1 `date`, v2 `DATE`).
    Date,
    /// Yes or no (v2 `BOOLEAN`).
    Boolean,
    /// One option out of a fixed list (v1 `list`).
    Choice,
    /// Several options (v1 `tags`, v2 `STRING_LIST`).
    Tags,
}

impl AttributeType {
    /// The name used in configuration and output.
    pub fn as_str(self) -> &'static str {
        match self {
            AttributeType::Text => "text",
            AttributeType::Integer => "integer",
            AttributeType::Decimal => "decimal",
            AttributeType::Date => "date",
            AttributeType::Boolean => "boolean",
            AttributeType::Choice => "choice",
            AttributeType::Tags => "tags",
        }
    }
}

impl fmt::Display for AttributeType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A typed value. Dates stay dates; numbers stay numbers; an absent value is `Null`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum Value {
    /// No value (Personio sends `null`, `""` or `[]` for this).
    Null,
    /// Text.
    Text(String),
    /// A whole number.
    Integer(i64),
    /// A number with a fraction.
    Decimal(f64),
    /// A boolean.
    Boolean(bool),
    /// A calendar date.
    Date(Date),
    /// A list of options.
    List(Vec<String>),
}

impl Value {
    /// True for `Null`, an empty text and an empty list.
    pub fn is_empty(&self) -> bool {
        match self {
            Value::Null => true,
            Value::Text(s) => s.is_empty(),
            Value::List(l) => l.is_empty(),
            _ => false,
        }
    }

    /// A plain rendering for tables and CSV: dates as `YYYY-MM-DD`, lists joined by `, `.
    pub fn display(&self) -> String {
        match self {
            Value::Null => String::new(),
            Value::Text(s) => s.clone(),
            Value::Integer(i) => i.to_string(),
            Value::Decimal(d) => d.to_string(),
            Value::Boolean(b) => b.to_string(),
            Value::Date(d) => d.to_string(),
            Value::List(l) => l.join(", "),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_through_json_with_their_types() {
        let values = vec![
            Value::Null,
            Value::Text("Größe".into()),
            Value::Integer(-3),
            Value::Decimal(37.5),
            Value::Boolean(true),
            Value::Date(jiff::civil::date(2024, 2, 29)),
            Value::List(vec!["A".into(), "B".into()]),
        ];
        let json = serde_json::to_string(&values).unwrap();
        let back: Vec<Value> = serde_json::from_str(&json).unwrap();
        assert_eq!(values, back);
        assert!(
            json.contains(r#"{"type":"date","value":"2024-02-29"}"#),
            "{json}"
        );
    }

    #[test]
    fn emptiness_and_display() {
        assert!(Value::Null.is_empty());
        assert!(Value::Text(String::new()).is_empty());
        assert!(Value::List(vec![]).is_empty());
        assert!(!Value::Integer(0).is_empty());
        assert_eq!(Value::List(vec!["a".into(), "b".into()]).display(), "a, b");
        assert_eq!(
            Value::Date(jiff::civil::date(2025, 1, 2)).display(),
            "2025-01-02"
        );
    }
}
