//! Tolerant readers for Personio's JSON scalars: ids, text, numbers, dates, tags, typed values.

use jiff::Timestamp;
use jiff::civil::Date;
use psync_model::{AttributeType, Value as Typed};
use serde_json::Value;

/// An id sent as a number or a non-empty string of digits/letters; `None` when unusable.
pub(crate) fn id(value: &Value) -> Option<String> {
    match value {
        Value::Number(n) if n.is_u64() => n.as_u64().map(|n| n.to_string()),
        Value::Number(n) => n
            .as_f64()
            .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f < 9.0e15)
            .map(|f| format!("{f:.0}")),
        Value::String(s) => {
            let s = s.trim();
            let ok = !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
            ok.then(|| s.to_string())
        }
        _ => None,
    }
}

/// A person id: digits only (Personio person ids are numbers, sent as text in v2).
pub(crate) fn person_id(value: &Value) -> Result<String, String> {
    match id(value) {
        Some(id) if id.chars().all(|c| c.is_ascii_digit()) => Ok(id),
        _ => Err(format!("invalid id {}", short(value))),
    }
}

/// Text of a scalar: `null`/`""`/`[]`/`{}` → `None`; numbers and booleans as text.
/// `Err` for an object or list that carries data.
pub(crate) fn text(value: &Value) -> Result<Option<String>, String> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) if s.trim().is_empty() => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        Value::Number(n) => Ok(Some(n.to_string())),
        Value::Bool(b) => Ok(Some(b.to_string())),
        Value::Array(a) if a.is_empty() => Ok(None),
        Value::Object(o) if o.is_empty() => Ok(None),
        other => Err(format!("expected text, got {}", short(other))),
    }
}

/// Text of a required name field: must be a string (or absent/null → empty).
pub(crate) fn name(value: Option<&Value>, field: &str) -> Result<String, String> {
    match value {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.trim().to_string()),
        Some(other) => Err(format!("{field} is not text: {}", short(other))),
    }
}

/// A number sent as a number or as text (`"40"`, `"37,5"`).
pub(crate) fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s
            .trim()
            .replace(',', ".")
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite()),
        _ => None,
    }
}

/// The local civil date of `2024-03-01`, `2024-03-01T00:00:00+01:00`, `…+0100`, `… 00:00:00Z`.
pub(crate) fn date(value: &Value) -> Option<Date> {
    let s = value.as_str()?.trim();
    s.get(..10)?.parse::<Date>().ok()
}

/// An instant from RFC 3339 (`…+01:00`, `…Z`), `+0100` offsets, a space separator, or a date
/// alone (midnight UTC).
pub(crate) fn timestamp(value: &Value) -> Option<Timestamp> {
    let s = value.as_str()?.trim();
    if let Ok(ts) = s.parse::<Timestamp>() {
        return Some(ts);
    }
    let mut fixed = s.replacen(' ', "T", 1);
    // `+0100` → `+01:00`
    let bytes = fixed.as_bytes();
    if bytes.len() > 5 {
        let tail = &fixed[fixed.len() - 5..];
        let sign = tail.as_bytes()[0];
        if (sign == b'+' || sign == b'-') && tail[1..].chars().all(|c| c.is_ascii_digit()) {
            fixed.insert(fixed.len() - 2, ':');
        }
    }
    if let Ok(ts) = fixed.parse::<Timestamp>() {
        return Some(ts);
    }
    let date = s.get(..10)?.parse::<Date>().ok()?;
    date.to_zoned(jiff::tz::TimeZone::UTC)
        .ok()
        .map(|z| z.timestamp())
}

/// Personio's type names (v1 and v2, any case) mapped onto the canonical set.
pub(crate) fn attribute_type(name: &str) -> Option<AttributeType> {
    Some(match name.trim().to_ascii_lowercase().as_str() {
        "standard" | "link" | "multiline" | "string" | "text" => AttributeType::Text,
        "list" | "choice" => AttributeType::Choice,
        "tags" | "string_list" => AttributeType::Tags,
        "date" => AttributeType::Date,
        "integer" | "int" => AttributeType::Integer,
        "decimal" | "double" | "float" => AttributeType::Decimal,
        "boolean" | "bool" => AttributeType::Boolean,
        _ => return None,
    })
}

/// The type a value looks like, when Personio did not say.
pub(crate) fn inferred_type(value: &Value) -> AttributeType {
    match value {
        Value::Bool(_) => AttributeType::Boolean,
        Value::Number(n) if n.is_i64() || n.is_u64() => AttributeType::Integer,
        Value::Number(_) => AttributeType::Decimal,
        Value::Array(_) => AttributeType::Tags,
        _ => AttributeType::Text,
    }
}

/// Tags from a list, a JSON-encoded list string (`'["A","B"]'`) or comma-separated text.
pub(crate) fn tags(value: &Value) -> Vec<String> {
    match value {
        Value::Array(items) => items
            .iter()
            .filter_map(|item| match item {
                Value::Object(o) => o
                    .get("value")
                    .or_else(|| o.get("name"))
                    .and_then(|v| text(v).ok().flatten()),
                other => text(other).ok().flatten(),
            })
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
        Value::String(s) => {
            let s = s.trim();
            if s.starts_with('[')
                && let Ok(list @ Value::Array(_)) = serde_json::from_str::<Value>(s)
            {
                return tags(&list);
            }
            s.split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_string)
                .collect()
        }
        Value::Null => Vec::new(),
        other => text(other).ok().flatten().into_iter().collect(),
    }
}

/// A typed value for a declared kind; falls back to text when the value does not fit.
pub(crate) fn typed(kind: AttributeType, value: &Value) -> Typed {
    let empty = match value {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    };
    if empty {
        return Typed::Null;
    }
    let as_text = || match value {
        Value::String(s) => Typed::Text(s.clone()),
        Value::Array(_) => Typed::Text(tags(value).join(", ")),
        other => match text(other) {
            Ok(Some(s)) => Typed::Text(s),
            _ => Typed::Text(other.to_string()),
        },
    };
    match kind {
        AttributeType::Text | AttributeType::Choice => as_text(),
        AttributeType::Tags => Typed::List(tags(value)),
        AttributeType::Integer => match value {
            Value::Number(n) if n.is_i64() => n.as_i64().map_or_else(as_text, Typed::Integer),
            _ => match number(value) {
                Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Typed::Integer(f as i64),
                Some(f) => Typed::Decimal(f),
                None => as_text(),
            },
        },
        AttributeType::Decimal => number(value).map_or_else(as_text, Typed::Decimal),
        AttributeType::Date => date(value).map_or_else(as_text, Typed::Date),
        AttributeType::Boolean => match value {
            Value::Bool(b) => Typed::Boolean(*b),
            Value::Number(n) => Typed::Boolean(n.as_f64() != Some(0.0)),
            Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "yes" | "1" | "ja" => Typed::Boolean(true),
                "false" | "no" | "0" | "nein" => Typed::Boolean(false),
                _ => as_text(),
            },
            _ => as_text(),
        },
    }
}

/// A short rendering of a value for messages.
pub(crate) fn short(value: &Value) -> String {
    let s = value.to_string();
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(60).collect::<String>())
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dates_take_the_local_civil_date_in_every_form() {
        let d = jiff::civil::date(2023, 3, 1);
        for s in [
            "2023-03-01",
            "2023-03-01T00:00:00+01:00",
            "2023-03-01T00:00:00+0100",
            "2023-03-01 00:00:00+01:00",
        ] {
            assert_eq!(date(&json!(s)), Some(d), "{s}");
        }
        assert_eq!(date(&json!("")), None);
        assert_eq!(date(&json!(null)), None);
        assert_eq!(date(&json!("soon")), None);
    }

    #[test]
    fn timestamps_accept_offsets_with_and_without_colon() {
        let expected: Timestamp = "2022-06-30T07:15:00Z".parse().unwrap();
        for s in [
            "2022-06-30T09:15:00+02:00",
            "2022-06-30T09:15:00+0200",
            "2022-06-30 09:15:00+02:00",
            "2022-06-30T07:15:00Z",
        ] {
            assert_eq!(timestamp(&json!(s)), Some(expected), "{s}");
        }
        assert!(timestamp(&json!("2022-06-30")).is_some());
        assert_eq!(timestamp(&json!("gestern")), None);
    }

    #[test]
    fn tags_come_as_lists_json_strings_or_commas() {
        let want = vec!["Rust".to_string(), "Go".to_string()];
        assert_eq!(tags(&json!(["Rust", "Go"])), want);
        assert_eq!(tags(&json!("[\"Rust\",\"Go\"]")), want);
        assert_eq!(tags(&json!("Rust, Go")), want);
        assert_eq!(tags(&json!("Rust,,Go,")), want);
        assert!(tags(&json!("")).is_empty());
    }

    #[test]
    fn typed_values_follow_the_declared_kind() {
        assert_eq!(
            typed(AttributeType::Integer, &json!("42")),
            Typed::Integer(42)
        );
        assert_eq!(
            typed(AttributeType::Decimal, &json!("37,5")),
            Typed::Decimal(37.5)
        );
        assert_eq!(
            typed(AttributeType::Date, &json!("2021-07-04T00:00:00+0200")),
            Typed::Date(jiff::civil::date(2021, 7, 4))
        );
        assert_eq!(
            typed(AttributeType::Boolean, &json!("true")),
            Typed::Boolean(true)
        );
        assert_eq!(typed(AttributeType::Text, &json!("")), Typed::Null);
        assert_eq!(typed(AttributeType::Tags, &json!([])), Typed::Null);
        assert_eq!(
            typed(AttributeType::Date, &json!("unbekannt")),
            Typed::Text("unbekannt".into())
        );
        assert_eq!(attribute_type("STRING_LIST"), Some(AttributeType::Tags));
        assert_eq!(attribute_type("multiline"), Some(AttributeType::Text));
    }

    #[test]
    fn ids_accept_numbers_and_digit_strings_only_for_persons() {
        assert_eq!(person_id(&json!(1042)), Ok("1042".to_string()));
        assert_eq!(person_id(&json!("1042")), Ok("1042".to_string()));
        assert!(person_id(&json!("x")).is_err());
        assert!(person_id(&json!({"a": 1})).is_err());
        assert!(person_id(&json!(null)).is_err());
    }
}
