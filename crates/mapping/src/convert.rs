//! Typing values: template output parsed into an `AttributeType`, copies converted, expectations compared.

use jiff::civil::Date;
use psync_model::{AttributeType, Value};

/// Parses a date: `YYYY-MM-DD`, or the date part of an ISO date-time.
pub fn parse_date(s: &str) -> Option<Date> {
    let s = s.trim();
    if let Ok(d) = s.parse::<Date>() {
        return Some(d);
    }
    if let Ok(dt) = s.parse::<jiff::civil::DateTime>() {
        return Some(dt.date());
    }
    s.parse::<jiff::Timestamp>()
        .ok()
        .map(|t| t.to_zoned(jiff::tz::TimeZone::UTC).date())
}

/// Template output (already trimmed) as a value of `ty`; empty text is `Null`.
pub fn parse_text(s: &str, ty: Option<AttributeType>) -> Result<Value, String> {
    if s.is_empty() {
        return Ok(Value::Null);
    }
    let Some(ty) = ty else {
        return Ok(Value::Text(s.to_string()));
    };
    match ty {
        AttributeType::Text | AttributeType::Choice => Ok(Value::Text(s.to_string())),
        AttributeType::Integer => s
            .parse::<i64>()
            .map(Value::Integer)
            .or_else(|_| match s.parse::<f64>() {
                Ok(d) if d.fract() == 0.0 && d.abs() < 9.0e15 => Ok(Value::Integer(d as i64)),
                _ => Err(()),
            })
            .map_err(|()| format!("'{s}' is not an integer")),
        AttributeType::Decimal => {
            let normalized = if s.contains(',') && !s.contains('.') {
                s.replace(',', ".")
            } else {
                s.to_string()
            };
            match normalized.parse::<f64>() {
                Ok(d) if d.is_finite() => Ok(Value::Decimal(d)),
                _ => Err(format!("'{s}' is not a decimal number")),
            }
        }
        AttributeType::Date => parse_date(s)
            .map(Value::Date)
            .ok_or_else(|| format!("'{s}' is not a date (expected YYYY-MM-DD)")),
        AttributeType::Boolean => match s.to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" | "on" => Ok(Value::Boolean(true)),
            "false" | "no" | "0" | "off" => Ok(Value::Boolean(false)),
            _ => Err(format!("'{s}' is not a boolean (true/false)")),
        },
        AttributeType::Tags => {
            let items: Vec<String> = s
                .split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_string)
                .collect();
            Ok(if items.is_empty() {
                Value::Null
            } else {
                Value::List(items)
            })
        }
    }
}

/// The name of a value's type, for messages.
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "empty",
        Value::Text(_) => "text",
        Value::Integer(_) => "integer",
        Value::Decimal(_) => "decimal",
        Value::Boolean(_) => "boolean",
        Value::Date(_) => "date",
        Value::List(_) => "list",
    }
}

/// A copied value converted into `ty` (no type: unchanged). Empty values become `Null`.
pub fn convert(value: Value, ty: Option<AttributeType>) -> Result<Value, String> {
    if value.is_empty() {
        return Ok(Value::Null);
    }
    let Some(ty) = ty else {
        return Ok(value);
    };
    let incompatible = |v: &Value| format!("cannot convert {} {} to {ty}", type_name(v), show(v));
    match (value, ty) {
        (Value::Text(s), ty) => parse_text(s.trim(), Some(ty)),
        (v @ Value::Integer(_), AttributeType::Integer)
        | (v @ Value::Decimal(_), AttributeType::Decimal)
        | (v @ Value::Boolean(_), AttributeType::Boolean)
        | (v @ Value::Date(_), AttributeType::Date)
        | (v @ Value::List(_), AttributeType::Tags) => Ok(v),
        (Value::Integer(i), AttributeType::Decimal) => Ok(Value::Decimal(i as f64)),
        (Value::Decimal(d), AttributeType::Integer) if d.fract() == 0.0 && d.abs() < 9.0e15 => {
            Ok(Value::Integer(d as i64))
        }
        (Value::List(l), AttributeType::Text | AttributeType::Choice) => {
            Ok(Value::Text(l.join(", ")))
        }
        (Value::List(l), _) if l.len() == 1 => {
            let single = l.into_iter().next().unwrap_or_default();
            parse_text(single.trim(), Some(ty))
        }
        (v, AttributeType::Text | AttributeType::Choice) => Ok(Value::Text(v.display())),
        (v, AttributeType::Tags) => Ok(Value::List(vec![v.display()])),
        (v, _) => Err(incompatible(&v)),
    }
}

/// A value for messages: `"text"`, `42`, `2024-01-31`, `["a", "b"]`, `null`.
pub fn show(v: &Value) -> String {
    match v {
        Value::Null => "null".to_string(),
        Value::Text(s) => format!("{s:?}"),
        Value::List(l) => format!("{l:?}"),
        other => other.display(),
    }
}

/// Whether an attribute value matches a test's expectation (JSON, as written in the config).
///
/// `null` or `""` match an empty value; a string matches the value's plain rendering (so
/// `"2024-01-31"` matches a date); numbers, booleans and arrays compare by value; a typed value
/// (`{ type = "date", value = "2024-01-31" }`) must match exactly.
pub fn matches(got: &Value, want: &serde_json::Value) -> bool {
    use serde_json::Value as J;
    match want {
        J::Null => got.is_empty(),
        J::String(s) if s.is_empty() => got.is_empty(),
        J::String(s) => !got.is_empty() && got.display() == *s,
        J::Bool(b) => matches!(got, Value::Boolean(g) if g == b),
        J::Number(n) => match got {
            Value::Integer(i) => n.as_i64() == Some(*i) || n.as_f64() == Some(*i as f64),
            Value::Decimal(d) => n.as_f64() == Some(*d),
            _ => false,
        },
        J::Array(items) => match got {
            Value::List(l) => {
                l.len() == items.len()
                    && l.iter()
                        .zip(items)
                        .all(|(g, w)| w.as_str() == Some(g.as_str()))
            }
            Value::Null => items.is_empty(),
            _ => false,
        },
        J::Object(_) => serde_json::from_value::<Value>(want.clone())
            .is_ok_and(|typed| typed == *got || (typed.is_empty() && got.is_empty())),
    }
}

/// An expectation for messages.
pub fn show_json(want: &serde_json::Value) -> String {
    want.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn text_parses_into_each_type() {
        assert_eq!(
            parse_text("", Some(AttributeType::Integer)),
            Ok(Value::Null)
        );
        assert_eq!(
            parse_text("42", Some(AttributeType::Integer)),
            Ok(Value::Integer(42))
        );
        assert_eq!(
            parse_text("42.0", Some(AttributeType::Integer)),
            Ok(Value::Integer(42))
        );
        assert_eq!(
            parse_text("37,5", Some(AttributeType::Decimal)),
            Ok(Value::Decimal(37.5))
        );
        assert_eq!(
            parse_text("2024-02-29", Some(AttributeType::Date)),
            Ok(Value::Date(jiff::civil::date(2024, 2, 29)))
        );
        assert_eq!(
            parse_text("2024-02-29T10:00:00", Some(AttributeType::Date)),
            Ok(Value::Date(jiff::civil::date(2024, 2, 29)))
        );
        assert_eq!(
            parse_text("Yes", Some(AttributeType::Boolean)),
            Ok(Value::Boolean(true))
        );
        assert_eq!(
            parse_text("a, b,,", Some(AttributeType::Tags)),
            Ok(Value::List(vec!["a".into(), "b".into()]))
        );
        assert_eq!(
            parse_text("x", Some(AttributeType::Integer)),
            Err("'x' is not an integer".to_string())
        );
        assert!(parse_text("2024-13-01", Some(AttributeType::Date)).is_err());
        assert!(parse_text("maybe", Some(AttributeType::Boolean)).is_err());
    }

    #[test]
    fn copies_convert_between_compatible_types_only() {
        let d = Value::Date(jiff::civil::date(2024, 1, 31));
        assert_eq!(
            convert(d.clone(), Some(AttributeType::Text)),
            Ok(Value::Text("2024-01-31".into()))
        );
        assert_eq!(
            convert(d.clone(), Some(AttributeType::Integer)),
            Err("cannot convert date 2024-01-31 to integer".to_string())
        );
        assert_eq!(
            convert(Value::Decimal(40.0), Some(AttributeType::Integer)),
            Ok(Value::Integer(40))
        );
        assert!(convert(Value::Decimal(37.5), Some(AttributeType::Integer)).is_err());
        assert_eq!(
            convert(
                Value::List(vec!["a".into(), "b".into()]),
                Some(AttributeType::Text)
            ),
            Ok(Value::Text("a, b".into()))
        );
        assert_eq!(convert(Value::Text(String::new()), None), Ok(Value::Null));
    }

    #[test]
    fn expectations_match_leniently_but_typed_values_exactly() {
        let d = Value::Date(jiff::civil::date(2024, 1, 31));
        assert!(matches(&d, &json!("2024-01-31")));
        assert!(matches(&d, &json!({"type": "date", "value": "2024-01-31"})));
        assert!(!matches(
            &Value::Text("2024-01-31".into()),
            &json!({"type": "date", "value": "2024-01-31"})
        ));
        assert!(matches(&Value::Null, &json!(null)));
        assert!(matches(&Value::Null, &json!("")));
        assert!(!matches(&Value::Text("x".into()), &json!(null)));
        assert!(matches(&Value::Integer(3), &json!(3)));
        assert!(matches(&Value::List(vec!["a".into()]), &json!(["a"])));
    }
}
