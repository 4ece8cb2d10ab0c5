//! The filters mapping adds to minijinja's builtins: `ascii`, `slug`, `lookup`, `date_format`.

use crate::config::LookupTable;
use minijinja::value::Value as JValue;
use minijinja::{Error, ErrorKind};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The names of the filters this crate adds.
pub const OWN_FILTERS: &[&str] = &["ascii", "slug", "lookup", "date_format"];

/// Transliterates to ASCII: `ä→ae ö→oe ü→ue ß→ss`, other accents stripped, the rest dropped.
///
/// `"Łukasz Żółć"` → `"Lukasz Zolc"`, `"Jürgen Groß"` → `"Juergen Gross"`, `"王小明"` → `""`.
pub fn ascii(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        // Decomposed text (a base letter followed by a combining mark, as some systems send
        // it) must give the same result as the composed form: "u" + U+0308 is "ü" → "ue".
        if chars.peek() == Some(&'\u{308}')
            && let Some(umlaut) = umlaut(c)
        {
            chars.next();
            out.push_str(umlaut);
        } else if ('\u{300}'..='\u{36f}').contains(&c) {
            // Any other combining mark: the base letter stays, the mark goes.
        } else if c.is_ascii() {
            out.push(c);
        } else if let Some(rep) = fold(c) {
            out.push_str(rep);
        }
    }
    out
}

/// The German transliteration of a vowel carrying a diaeresis.
fn umlaut(c: char) -> Option<&'static str> {
    match c {
        'a' => Some("ae"),
        'o' => Some("oe"),
        'u' => Some("ue"),
        'A' => Some("Ae"),
        'O' => Some("Oe"),
        'U' => Some("Ue"),
        _ => None,
    }
}

/// Lower-case ASCII words joined by `-`: `"R&D München"` → `"r-d-muenchen"`.
pub fn slug(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut dash = false;
    for c in ascii(s).chars() {
        if c.is_ascii_alphanumeric() {
            if dash && !out.is_empty() {
                out.push('-');
            }
            dash = false;
            out.push(c.to_ascii_lowercase());
        } else {
            dash = true;
        }
    }
    out
}

/// `{{ hire_date | date_format("%d.%m.%Y") }}`: reformats an ISO date; empty stays empty.
pub fn date_format(value: &JValue, format: &str) -> Result<JValue, Error> {
    let text = value_text(value);
    if text.is_empty() {
        return Ok(JValue::from(""));
    }
    let date = crate::convert::parse_date(&text).ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidOperation,
            format!("date_format: '{text}' is not a date (expected YYYY-MM-DD)"),
        )
    })?;
    jiff::fmt::strtime::format(format, date)
        .map(JValue::from)
        .map_err(|e| {
            Error::new(
                ErrorKind::InvalidOperation,
                format!("date_format: cannot format with '{format}': {e}"),
            )
        })
}

/// The `lookup` filter over the configured tables.
///
/// An exact entry wins, then a case-insensitive one, then the table's default; an empty value
/// gives the default or stays empty. Anything else is an error naming the table and the value.
pub fn lookup(
    tables: &Arc<BTreeMap<String, LookupTable>>,
    value: &JValue,
    table: &str,
) -> Result<JValue, Error> {
    let Some(t) = tables.get(table) else {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("unknown lookup table '{table}'"),
        ));
    };
    let key = value_text(value);
    let found = t.entries.get(&key).or_else(|| {
        let trimmed = key.trim();
        t.entries
            .iter()
            .find(|(k, _)| k.trim().eq_ignore_ascii_case(trimmed))
            .map(|(_, v)| v)
    });
    match (found, &t.default) {
        (Some(v), _) => Ok(JValue::from(v.as_str())),
        (None, Some(d)) => Ok(JValue::from(d.as_str())),
        (None, None) if key.trim().is_empty() => Ok(JValue::from("")),
        (None, None) => Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("lookup table '{table}' has no entry for '{key}' and no default"),
        )),
    }
}

/// A value as text: strings as they are, `none`/undefined as `""`, others displayed.
pub fn value_text(value: &JValue) -> String {
    if value.is_none() || value.is_undefined() {
        String::new()
    } else if let Some(s) = value.as_str() {
        s.to_string()
    } else {
        value.to_string()
    }
}

/// The ASCII replacement of one non-ASCII character (`None`: drop it).
fn fold(c: char) -> Option<&'static str> {
    Some(match c {
        'ä' => "ae",
        'ö' => "oe",
        'ü' => "ue",
        'Ä' => "Ae",
        'Ö' => "Oe",
        'Ü' => "Ue",
        'ß' => "ss",
        'ẞ' => "SS",
        'Æ' => "AE",
        'æ' => "ae",
        'Œ' => "OE",
        'œ' => "oe",
        'Þ' => "Th",
        'þ' => "th",
        'Ĳ' => "IJ",
        'ĳ' => "ij",
        'À' | 'Á' | 'Â' | 'Ã' | 'Å' | 'Ā' | 'Ă' | 'Ą' | 'Ǎ' | 'Ạ' | 'Ả' | 'Ấ' | 'Ầ' | 'Ẩ' | 'Ẫ'
        | 'Ậ' | 'Ắ' | 'Ằ' | 'Ẳ' | 'Ẵ' | 'Ặ' => "A",
        'à' | 'á' | 'â' | 'ã' | 'å' | 'ā' | 'ă' | 'ą' | 'ǎ' | 'ạ' | 'ả' | 'ấ' | 'ầ' | 'ẩ' | 'ẫ'
        | 'ậ' | 'ắ' | 'ằ' | 'ẳ' | 'ẵ' | 'ặ' | 'ª' => "a",
        'Ç' | 'Ć' | 'Ĉ' | 'Ċ' | 'Č' => "C",
        'ç' | 'ć' | 'ĉ' | 'ċ' | 'č' => "c",
        'Ð' | 'Ď' | 'Đ' => "D",
        'ð' | 'ď' | 'đ' => "d",
        'È' | 'É' | 'Ê' | 'Ë' | 'Ē' | 'Ĕ' | 'Ė' | 'Ę' | 'Ě' | 'Ẹ' | 'Ẻ' | 'Ẽ' | 'Ế' | 'Ề' | 'Ể'
        | 'Ễ' | 'Ệ' => "E",
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ĕ' | 'ė' | 'ę' | 'ě' | 'ẹ' | 'ẻ' | 'ẽ' | 'ế' | 'ề' | 'ể'
        | 'ễ' | 'ệ' => "e",
        'Ĝ' | 'Ğ' | 'Ġ' | 'Ģ' => "G",
        'ĝ' | 'ğ' | 'ġ' | 'ģ' => "g",
        'Ĥ' | 'Ħ' => "H",
        'ĥ' | 'ħ' => "h",
        'Ì' | 'Í' | 'Î' | 'Ï' | 'Ĩ' | 'Ī' | 'Ĭ' | 'Į' | 'İ' | 'Ǐ' | 'Ỉ' | 'Ị' => "I",
        'ì' | 'í' | 'î' | 'ï' | 'ĩ' | 'ī' | 'ĭ' | 'į' | 'ı' | 'ǐ' | 'ỉ' | 'ị' => "i",
        'Ĵ' => "J",
        'ĵ' => "j",
        'Ķ' => "K",
        'ķ' | 'ĸ' => "k",
        'Ĺ' | 'Ļ' | 'Ľ' | 'Ŀ' | 'Ł' => "L",
        'ĺ' | 'ļ' | 'ľ' | 'ŀ' | 'ł' => "l",
        'Ñ' | 'Ń' | 'Ņ' | 'Ň' | 'Ŋ' => "N",
        'ñ' | 'ń' | 'ņ' | 'ň' | 'ŉ' | 'ŋ' => "n",
        'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ø' | 'Ō' | 'Ŏ' | 'Ő' | 'Ơ' | 'Ǒ' | 'Ọ' | 'Ỏ' | 'Ố' | 'Ồ' | 'Ổ'
        | 'Ỗ' | 'Ộ' | 'Ớ' | 'Ờ' | 'Ở' | 'Ỡ' | 'Ợ' => "O",
        'ò' | 'ó' | 'ô' | 'õ' | 'ø' | 'ō' | 'ŏ' | 'ő' | 'ơ' | 'ǒ' | 'ọ' | 'ỏ' | 'ố' | 'ồ' | 'ổ'
        | 'ỗ' | 'ộ' | 'ớ' | 'ờ' | 'ở' | 'ỡ' | 'ợ' | 'º' => "o",
        'Ŕ' | 'Ŗ' | 'Ř' => "R",
        'ŕ' | 'ŗ' | 'ř' => "r",
        'Ś' | 'Ŝ' | 'Ş' | 'Š' | 'Ș' => "S",
        'ś' | 'ŝ' | 'ş' | 'š' | 'ș' | 'ſ' => "s",
        'Ţ' | 'Ť' | 'Ŧ' | 'Ț' => "T",
        'ţ' | 'ť' | 'ŧ' | 'ț' => "t",
        'Ù' | 'Ú' | 'Û' | 'Ũ' | 'Ū' | 'Ŭ' | 'Ů' | 'Ű' | 'Ų' | 'Ư' | 'Ǔ' | 'Ụ' | 'Ủ' | 'Ứ' | 'Ừ'
        | 'Ử' | 'Ữ' | 'Ự' => "U",
        'ù' | 'ú' | 'û' | 'ũ' | 'ū' | 'ŭ' | 'ů' | 'ű' | 'ų' | 'ư' | 'ǔ' | 'ụ' | 'ủ' | 'ứ' | 'ừ'
        | 'ử' | 'ữ' | 'ự' => "u",
        'Ŵ' => "W",
        'ŵ' => "w",
        'Ý' | 'Ÿ' | 'Ŷ' | 'Ỳ' | 'Ỵ' | 'Ỷ' | 'Ỹ' => "Y",
        'ý' | 'ÿ' | 'ŷ' | 'ỳ' | 'ỵ' | 'ỷ' | 'ỹ' => "y",
        'Ź' | 'Ż' | 'Ž' => "Z",
        'ź' | 'ż' | 'ž' => "z",
        // Typographic punctuation that has an obvious ASCII twin.
        '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{2032}' => "'",
        '\u{201C}' | '\u{201D}' | '\u{201E}' | '«' | '»' => "\"",
        '\u{2010}' | '\u{2011}' | '\u{2012}' | '\u{2013}' | '\u{2014}' => "-",
        '\u{00A0}' | '\u{2002}' | '\u{2003}' | '\u{2009}' => " ",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_transliterates_german_and_strips_other_accents() {
        assert_eq!(ascii("Jürgen Groß"), "Juergen Gross");
        assert_eq!(ascii("Ärger Öl Übel"), "Aerger Oel Uebel");
        assert_eq!(ascii("Łukasz Żółć"), "Lukasz Zolc");
        assert_eq!(
            ascii("François Dvořák Søren Ștefan"),
            "Francois Dvorak Soren Stefan"
        );
        assert_eq!(ascii("王小明"), "");
        assert_eq!(ascii("O’Brien – Smith"), "O'Brien - Smith");
    }

    #[test]
    fn slug_joins_ascii_words_with_dashes() {
        assert_eq!(slug("R&D München"), "r-d-muenchen");
        assert_eq!(slug("  --Sales & Marketing-- "), "sales-marketing");
        assert_eq!(slug("王小明"), "");
    }

    #[test]
    fn lookup_finds_exact_then_case_insensitive_then_default() {
        let mut entries = BTreeMap::new();
        entries.insert("Munich".to_string(), "DE".to_string());
        let mut tables = BTreeMap::new();
        tables.insert(
            "country".to_string(),
            LookupTable {
                entries: entries.clone(),
                default: None,
            },
        );
        tables.insert(
            "with_default".to_string(),
            LookupTable {
                entries,
                default: Some("XX".into()),
            },
        );
        let tables = Arc::new(tables);
        let get = |v: &str, t: &str| {
            lookup(&tables, &JValue::from(v), t)
                .map(|v| v.to_string())
                .map_err(|e| e.to_string())
        };
        assert_eq!(get("Munich", "country").unwrap(), "DE");
        assert_eq!(get(" munich ", "country").unwrap(), "DE");
        assert_eq!(get("", "country").unwrap(), "");
        assert_eq!(get("Paris", "with_default").unwrap(), "XX");
        let err = get("Paris", "country").unwrap_err();
        assert!(
            err.contains("lookup table 'country' has no entry for 'Paris'"),
            "{err}"
        );
        let err = get("Paris", "nope").unwrap_err();
        assert!(err.contains("unknown lookup table 'nope'"), "{err}");
    }

    #[test]
    fn date_format_reformats_iso_dates() {
        let v = date_format(&JValue::from("2024-02-29"), "%d.%m.%Y").unwrap();
        assert_eq!(v.as_str(), Some("29.02.2024"));
        let v = date_format(&JValue::from(""), "%d.%m.%Y").unwrap();
        assert_eq!(v.as_str(), Some(""));
        assert!(date_format(&JValue::from("soon"), "%d").is_err());
    }

    #[test]
    fn decomposed_and_composed_text_give_the_same_ascii() {
        assert_eq!(ascii("M\u{fc}ller"), "Mueller");
        assert_eq!(ascii("Mu\u{308}ller"), "Mueller");
        assert_eq!(ascii("Jose\u{301}"), "Jose");
        assert_eq!(ascii("Jos\u{e9}"), "Jose");
        assert_eq!(ascii("O\u{308}zt\u{fc}rk"), "Oeztuerk");
    }
}
