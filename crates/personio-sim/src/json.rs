//! A minimal, allocation-light JSON writer used for the hot v1/v2 list responses.

use std::fmt::Write as _;

/// Writes `s` as a JSON string literal.
pub(crate) fn str(out: &mut String, s: &str) {
    out.reserve(s.len() + 2);
    out.push('"');
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let esc: Option<&str> = match b {
            b'"' => Some("\\\""),
            b'\\' => Some("\\\\"),
            b'\n' => Some("\\n"),
            b'\r' => Some("\\r"),
            b'\t' => Some("\\t"),
            0..=0x1f => None,
            _ => continue,
        };
        out.push_str(&s[start..i]);
        match esc {
            Some(e) => out.push_str(e),
            None => {
                let _ = write!(out, "\\u{b:04x}");
            }
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// Writes an optional string (`null` when absent).
pub(crate) fn opt_str(out: &mut String, s: Option<&str>) {
    match s {
        Some(s) => str(out, s),
        None => out.push_str("null"),
    }
}

/// Writes a number without a trailing `.0` for whole values.
pub(crate) fn num(out: &mut String, v: f64) {
    if v.is_finite() {
        let _ = write!(out, "{v}");
    } else {
        out.push_str("null");
    }
}

/// Writes an integer.
pub(crate) fn int(out: &mut String, v: i64) {
    let _ = write!(out, "{v}");
}

/// `"key":` (the key must not need escaping beyond what [`str`] does).
pub(crate) fn key(out: &mut String, k: &str) {
    str(out, k);
    out.push(':');
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_like_serde() {
        for s in ["plain", "Zoë \"Z\" Müller", "a\\b\nc\u{1}", "王", ""] {
            let mut out = String::new();
            super::str(&mut out, s);
            assert_eq!(out, serde_json::to_string(s).unwrap());
        }
    }
}
