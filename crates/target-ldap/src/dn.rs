//! Distinguished names and filters as text: splitting, comparing, escaping (RFC 4514 / 4515).

/// Splits a DN into its RDNs at unescaped commas (no normalisation).
pub fn rdns(dn: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut escaped = false;
    for c in dn.chars() {
        if escaped {
            current.push(c);
            escaped = false;
        } else if c == '\\' {
            current.push(c);
            escaped = true;
        } else if c == ',' {
            out.push(current.trim().to_string());
            current.clear();
        } else {
            current.push(c);
        }
    }
    out.push(current.trim().to_string());
    out
}

/// `Err(why)` when `dn` is not a plausible DN (every RDN `attr=value`, nothing empty).
pub fn check_dn(dn: &str) -> Result<(), String> {
    if dn.trim().is_empty() {
        return Err("it is empty".into());
    }
    for rdn in rdns(dn) {
        match rdn.split_once('=') {
            Some((attr, value)) if is_attribute_name(attr.trim()) && !value.trim().is_empty() => {}
            _ => return Err(format!("'{rdn}' is not of the form attribute=value")),
        }
    }
    Ok(())
}

/// A name made of letters, digits and hyphens starting with a letter (or a numeric OID).
pub fn is_attribute_name(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() => chars.all(|c| c.is_ascii_alphanumeric() || c == '-'),
        Some(c) if c.is_ascii_digit() => name.chars().all(|c| c.is_ascii_digit() || c == '.'),
        _ => false,
    }
}

/// A comparable form: lower case, no spaces around separators.
pub fn norm(dn: &str) -> String {
    rdns(dn)
        .iter()
        .map(|r| match r.split_once('=') {
            Some((a, v)) => format!("{}={}", a.trim(), v.trim()).to_lowercase(),
            None => r.to_lowercase(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Whether `dn` is `base` or below it.
pub fn is_below(dn: &str, base: &str) -> bool {
    let (dn, base) = (norm(dn), norm(base));
    dn == base || dn.ends_with(&format!(",{base}"))
}

/// The first RDN and the parent DN.
pub fn split_first(dn: &str) -> (String, String) {
    let parts = rdns(dn);
    let first = parts.first().cloned().unwrap_or_default();
    (first, parts.get(1..).unwrap_or_default().join(","))
}

/// The value of the first RDN, unescaped (`cn=Ada\, L.,ou=x` → `Ada, L.`).
pub fn first_value(dn: &str) -> String {
    let (rdn, _) = split_first(dn);
    let value = rdn.split_once('=').map_or("", |(_, v)| v);
    let mut out = String::new();
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let hex: String = chars.clone().take(2).collect();
        if hex.len() == 2 && hex.chars().all(|h| h.is_ascii_hexdigit()) {
            // A hex pair: one byte of UTF-8; collect the run.
            let mut bytes = Vec::new();
            let mut rest = format!("\\{}", chars.clone().collect::<String>());
            while let Some(stripped) = rest.strip_prefix('\\') {
                let pair: String = stripped.chars().take(2).collect();
                match u8::from_str_radix(&pair, 16) {
                    Ok(b) if pair.len() == 2 => {
                        bytes.push(b);
                        rest = stripped.chars().skip(2).collect();
                    }
                    _ => break,
                }
            }
            let consumed = bytes.len() * 3 - 1;
            for _ in 0..consumed {
                chars.next();
            }
            out.push_str(&String::from_utf8_lossy(&bytes));
        } else if let Some(next) = chars.next() {
            out.push(next);
        }
    }
    out
}

/// Escapes an attribute value for use in an RDN (RFC 4514 §2.4).
pub fn escape_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        match c {
            ',' | '+' | '"' | '\\' | '<' | '>' | ';' | '=' => {
                out.push('\\');
                out.push(c);
            }
            '#' if i == 0 => out.push_str("\\#"),
            ' ' if i == 0 || i == last => out.push_str("\\ "),
            '\0' => out.push_str("\\00"),
            _ => out.push(c),
        }
    }
    out
}

/// Escapes a value for use inside a search filter (RFC 4515 §3).
pub fn filter_value(value: &str) -> String {
    filter_bytes(value.as_bytes(), false)
}

/// Escapes bytes for a filter; `all` escapes every byte (binary values such as a GUID).
pub fn filter_bytes(value: &[u8], all: bool) -> String {
    let mut out = String::with_capacity(value.len());
    for &b in value {
        if all || matches!(b, b'*' | b'(' | b')' | b'\\' | 0) || b >= 0x80 {
            out.push_str(&format!("\\{b:02x}"));
        } else {
            out.push(char::from(b));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitting_escaping_and_comparing() {
        assert_eq!(
            rdns("cn=Ada\\, L.,ou=People, dc=example,dc=org"),
            vec!["cn=Ada\\, L.", "ou=People", "dc=example", "dc=org"]
        );
        assert_eq!(first_value("cn=Ada\\, L.,ou=x"), "Ada, L.");
        assert_eq!(first_value("cn=J\\C3\\B6rg,ou=x"), "Jörg");
        assert_eq!(escape_value(" a,b#"), "\\ a\\,b#");
        assert_eq!(escape_value("#x "), "\\#x\\ ");
        assert!(is_below(
            "uid=a,OU=People,dc=Example,dc=org",
            "dc=example, dc=org"
        ));
        assert!(!is_below("dc=org", "dc=example,dc=org"));
        assert!(check_dn("ou=x,dc=y").is_ok());
        assert!(check_dn("ou=x,,dc=y").is_err());
        assert!(check_dn("nonsense").is_err());
        assert_eq!(filter_value("a*(b)\\"), "a\\2a\\28b\\29\\5c");
        assert_eq!(split_first("uid=a,ou=b,dc=c").1, "ou=b,dc=c");
    }
}
