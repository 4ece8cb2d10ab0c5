//! A small lexer over template and expression source: finds the filters, tests, lookup tables
//! and custom attributes a source names, with their byte offsets, for compile-time checks.
//!
//! minijinja reports an unknown filter only when rendering reaches it; scanning the source
//! finds every one, including those in branches a probe render does not take.

/// What one source refers to.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Refs {
    /// Filter names with their byte offsets.
    pub filters: Vec<(String, usize)>,
    /// Test names (`x is defined`) with their byte offsets.
    pub tests: Vec<(String, usize)>,
    /// Literal table names given to `lookup(...)`, with their byte offsets.
    pub lookup_tables: Vec<(String, usize)>,
    /// Custom attributes named literally: `custom.key`, `custom["Label"]`.
    pub custom: Vec<String>,
    /// `custom` used other than with a literal name (e.g. iterated): reads all of them.
    pub custom_dynamic: bool,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Punct(char),
    Other,
}

/// Scans a template (`expression = false`) or a bare expression (`true`).
pub fn scan(source: &str, expression: bool) -> Refs {
    let mut refs = Refs::default();
    if expression {
        let toks = lex(source, 0, source.len()).0;
        analyse(&toks, false, &mut refs);
        return refs;
    }
    let bytes = source.as_bytes();
    let mut i = 0;
    while i + 1 < bytes.len() {
        if bytes[i] != b'{' {
            i += 1;
            continue;
        }
        match bytes[i + 1] {
            b'#' => {
                // Comment: skip to `#}`.
                i = source[i + 2..]
                    .find("#}")
                    .map_or(bytes.len(), |p| i + 2 + p + 2);
            }
            b'{' | b'%' => {
                let block = bytes[i + 1] == b'%';
                // Skip whitespace control (`{{-`, `{%+`).
                let start = if matches!(bytes.get(i + 2), Some(b'-' | b'+')) {
                    i + 3
                } else {
                    i + 2
                };
                let (toks, end) = lex(source, start, source.len());
                analyse(&toks, block, &mut refs);
                i = end;
            }
            _ => i += 1,
        }
    }
    refs
}

/// Lexes from `start` until a closing `}}` / `%}` at nesting level zero (or `end`).
/// Returns the tokens (with offsets) and the position after the closing delimiter.
fn lex(source: &str, start: usize, end: usize) -> (Vec<(Tok, usize)>, usize) {
    let bytes = source.as_bytes();
    let mut toks = Vec::new();
    let mut i = start;
    let mut depth = 0usize;
    while i < end {
        let c = bytes[i];
        match c {
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            b'-' | b'+' | b'%' | b'}' if depth == 0 && closes(bytes, i) => {
                let len = if matches!(c, b'-' | b'+') { 3 } else { 2 };
                return (toks, (i + len).min(bytes.len()));
            }
            b'"' | b'\'' => {
                let (text, next) = string_literal(source, i);
                toks.push((Tok::Str(text), i));
                i = next;
            }
            b'(' | b'[' | b'{' => {
                depth += 1;
                toks.push((Tok::Punct(c as char), i));
                i += 1;
            }
            b')' | b']' | b'}' => {
                depth = depth.saturating_sub(1);
                toks.push((Tok::Punct(c as char), i));
                i += 1;
            }
            _ if c == b'_' || c.is_ascii_alphabetic() => {
                let s = i;
                while i < end && (bytes[i] == b'_' || bytes[i].is_ascii_alphanumeric()) {
                    i += 1;
                }
                toks.push((Tok::Ident(source[s..i].to_string()), s));
            }
            b'|' | b'.' => {
                toks.push((Tok::Punct(c as char), i));
                i += 1;
            }
            _ => {
                toks.push((Tok::Other, i));
                // Skip one whole UTF-8 character.
                i += source[i..].chars().next().map_or(1, char::len_utf8);
            }
        }
    }
    (toks, end)
}

/// Whether a block closes at `i`: `}}`, `%}`, `-}}`, `-%}`, `+}}`, `+%}`.
fn closes(bytes: &[u8], i: usize) -> bool {
    let at = |k: usize| bytes.get(k).copied();
    match bytes[i] {
        b'}' => at(i + 1) == Some(b'}'),
        b'%' => at(i + 1) == Some(b'}'),
        b'-' | b'+' => matches!(
            (at(i + 1), at(i + 2)),
            (Some(b'}'), Some(b'}')) | (Some(b'%'), Some(b'}'))
        ),
        _ => false,
    }
}

/// A quoted string starting at `i`: its (unescaped enough) text and the position after it.
fn string_literal(source: &str, i: usize) -> (String, usize) {
    let bytes = source.as_bytes();
    let quote = bytes[i];
    let mut j = i + 1;
    let mut text = String::new();
    while j < bytes.len() && bytes[j] != quote {
        if bytes[j] == b'\\' && j + 1 < bytes.len() {
            j += 1;
        }
        let ch_len = source[j..].chars().next().map_or(1, char::len_utf8);
        text.push_str(&source[j..j + ch_len]);
        j += ch_len;
    }
    (text, (j + 1).min(bytes.len()))
}

fn analyse(toks: &[(Tok, usize)], block: bool, refs: &mut Refs) {
    let ident = |k: usize| match toks.get(k) {
        Some((Tok::Ident(s), at)) => Some((s.as_str(), *at)),
        _ => None,
    };
    let punct = |k: usize, p: char| matches!(toks.get(k), Some((Tok::Punct(c), _)) if *c == p);
    // `{% filter upper %}…{% endfilter %}`
    if block
        && ident(0).is_some_and(|(s, _)| s == "filter")
        && let Some((name, at)) = ident(1)
    {
        refs.filters.push((name.to_string(), at));
    }
    for k in 0..toks.len() {
        if punct(k, '|')
            && let Some((name, at)) = ident(k + 1)
        {
            refs.filters.push((name.to_string(), at));
            if name == "lookup"
                && punct(k + 2, '(')
                && let Some((Tok::Str(table), at)) = toks.get(k + 3)
            {
                refs.lookup_tables.push((table.clone(), *at));
            }
        }
        if let Some(("is", _)) = ident(k) {
            let next = if ident(k + 1).is_some_and(|(s, _)| s == "not") {
                k + 2
            } else {
                k + 1
            };
            if let Some((name, at)) = ident(next) {
                refs.tests.push((name.to_string(), at));
            }
        }
        if let Some(("custom", _)) = ident(k) {
            if k > 0 && punct(k - 1, '.') {
                continue; // an attribute called `custom` of something else
            }
            if punct(k + 1, '.')
                && let Some((key, _)) = ident(k + 2)
            {
                refs.custom.push(key.to_string());
                continue;
            }
            if punct(k + 1, '[')
                && punct(k + 3, ']')
                && let Some((Tok::Str(key), _)) = toks.get(k + 2)
            {
                refs.custom.push(key.clone());
                continue;
            }
            refs.custom_dynamic = true;
        }
    }
}

/// 1-based line and column of a byte offset.
pub fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let before = source.get(..offset).unwrap_or(source);
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[(String, usize)]) -> Vec<&str> {
        v.iter().map(|(s, _)| s.as_str()).collect()
    }

    #[test]
    fn finds_filters_tests_tables_and_custom_keys() {
        let src = r#"Hi {{ first_name | ascii|lower }} {# {{ x | nope }} #}{% if custom["Shirt size"] is not none %}{{ office | lookup("country") }}{% endif %}{{ "a | b" }}{{ custom.dynamic_1 | upper }}"#;
        let refs = scan(src, false);
        assert_eq!(
            names(&refs.filters),
            vec!["ascii", "lower", "lookup", "upper"]
        );
        assert_eq!(names(&refs.tests), vec!["none"]);
        assert_eq!(names(&refs.lookup_tables), vec!["country"]);
        assert_eq!(refs.custom, vec!["Shirt size", "dynamic_1"]);
        assert!(!refs.custom_dynamic);
        let (table, at) = &refs.lookup_tables[0];
        assert_eq!(&src[*at + 1..*at + 1 + table.len()], "country");
    }

    #[test]
    fn expressions_and_whitespace_control() {
        let refs = scan(r#"status in ["active"] and department | lowr != "x""#, true);
        assert_eq!(names(&refs.filters), vec!["lowr"]);
        let refs = scan(
            "{%- filter upper -%}x{%- endfilter -%}{{- custom | length -}}",
            false,
        );
        assert_eq!(names(&refs.filters), vec!["upper", "length"]);
        assert!(refs.custom_dynamic);
    }

    #[test]
    fn odd_sources_never_panic() {
        let odd = [
            "",
            "{",
            "{{",
            "{%",
            "{#",
            "}}",
            "{{ 'unterminated",
            "{{ \"a\\",
            "{{ x |",
            "{{ x | }}",
            "{{ custom[ }}",
            "{{ custom.",
            "{{ is }}",
            "{{ x is not }}",
            "{% filter %}",
            "王小明 {{ 名前 | ascii }} {{ 'Żółć' }}",
            "{{- x -}}{%- y -%}{%+ z +%}",
            "{{ {'a': {'b': 1}} }}",
            "{{ x | lookup( }}",
            "{{ x | lookup(table) }}",
            "\\{{ '\\' }}",
        ];
        for src in odd {
            let _ = scan(src, false);
            let _ = scan(src, true);
            let _ = line_col(src, src.len() + 5);
        }
        let refs = scan("{{ {'a': {'b': 1}} | length }}", false);
        assert_eq!(names(&refs.filters), vec!["length"]);
    }

    #[test]
    fn line_and_column_are_one_based() {
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
        assert_eq!(line_col("ab", 0), (1, 1));
    }
}
