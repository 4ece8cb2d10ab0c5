//! Names the target makes up: the OU and account-name templates (minijinja, with `ascii`,
//! `slug` and `rdn` filters), account-name sanitising and suffixes, random initial passwords.

use minijinja::{Environment, Value as JValue};
use psync_model::{TargetRecord, Value};
use std::collections::BTreeMap;

/// The default account-name template: `first.last`, ASCII, lower case.
pub const DEFAULT_ACCOUNT_NAME: &str =
    "{{ first_name | ascii | lower }}.{{ last_name | ascii | lower }}";

/// The compiled templates of one target.
#[derive(Debug)]
pub struct Templates {
    env: Environment<'static>,
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.add_filter("ascii", |s: String| psync_mapping::ascii(&s));
    env.add_filter("slug", |s: String| psync_mapping::slug(&s));
    env.add_filter("rdn", |s: String| crate::dn::escape_value(&s));
    env
}

impl Templates {
    /// Compiles the OU and account-name templates.
    pub fn new(ou: Option<&str>, account_name: &str) -> Result<Self, minijinja::Error> {
        let mut env = environment();
        env.add_template_owned("ou", ou.unwrap_or("").to_string())?;
        env.add_template_owned("account_name", account_name.to_string())?;
        Ok(Templates { env })
    }

    /// Syntax check of one template (for `validate`).
    pub fn check(template: &str) -> Result<(), minijinja::Error> {
        let mut env = environment();
        env.add_template_owned("t", template.to_string())?;
        Ok(())
    }

    /// Renders `name` (`ou` or `account_name`) over the record.
    pub fn render(&self, name: &str, record: &TargetRecord) -> Result<String, minijinja::Error> {
        let mut context: BTreeMap<String, JValue> = record
            .attributes
            .iter()
            .map(|(k, v)| (k.to_string(), to_template(v)))
            .collect();
        context.insert("person".into(), JValue::from(record.person.to_string()));
        let template = self.env.get_template(name)?;
        Ok(template.render(context)?.trim().to_string())
    }
}

fn to_template(v: &Value) -> JValue {
    match v {
        Value::Null => JValue::from(()),
        Value::Text(s) => JValue::from(s.clone()),
        Value::Integer(i) => JValue::from(*i),
        Value::Decimal(d) => JValue::from(*d),
        Value::Boolean(b) => JValue::from(*b),
        Value::Date(d) => JValue::from(d.to_string()),
        Value::List(l) => JValue::from(l.clone()),
    }
}

/// Keeps what an account name may hold (`a-z 0-9 . - _`), without leading or trailing dots;
/// an empty result becomes `u<person id>`. `max` limits the length (AD: 20).
pub fn sanitize_account(raw: &str, person: &str, max: usize) -> String {
    let cleaned: String = psync_mapping::ascii(raw)
        .to_lowercase()
        .chars()
        .map(|c| if c == ' ' { '.' } else { c })
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .collect();
    let mut name = String::new();
    for c in cleaned.chars() {
        if !(c == '.' && (name.is_empty() || name.ends_with('.'))) {
            name.push(c);
        }
    }
    let name = name.trim_matches('.').to_string();
    let name = if name.is_empty() {
        format!("u{person}")
    } else {
        name
    };
    name.chars()
        .take(max)
        .collect::<String>()
        .trim_end_matches('.')
        .to_string()
}

/// The `n`th candidate (1 = the name itself, then `name2`, `name3`…), shortened so the suffix
/// fits into `max` characters.
pub fn candidate(base: &str, n: u32, max: usize) -> String {
    if n <= 1 {
        return base.to_string();
    }
    let suffix = n.to_string();
    let keep = max.saturating_sub(suffix.len());
    let stem: String = base.chars().take(keep).collect();
    format!("{}{suffix}", stem.trim_end_matches('.'))
}

/// A random password of 20 characters from four classes (meets AD complexity rules).
pub fn random_password() -> std::io::Result<String> {
    use std::io::Read;
    const SETS: [&[u8]; 4] = [
        b"ABCDEFGHJKLMNPQRSTUVWXYZ",
        b"abcdefghijkmnopqrstuvwxyz",
        b"23456789",
        b"!#%+-=?@_",
    ];
    let mut bytes = [0u8; 40];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    let all: Vec<u8> = SETS.concat();
    let mut out: Vec<u8> = Vec::with_capacity(20);
    for (i, set) in SETS.iter().enumerate() {
        out.push(set[usize::from(bytes[i]) % set.len()]);
    }
    for b in &bytes[4..20] {
        out.push(all[usize::from(*b) % all.len()]);
    }
    // Shuffle so the classes are not always in front (Fisher-Yates with the remaining bytes).
    for i in (1..out.len()).rev() {
        let j = usize::from(bytes[20 + i % 20]) % (i + 1);
        out.swap(i, j);
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use psync_model::EmployeeId;

    #[test]
    fn account_names_are_sanitised_and_suffixed() {
        let mut r = TargetRecord::new(EmployeeId::new("7"));
        r.attributes
            .insert("first_name".into(), Value::Text("Jörg Peter".into()));
        r.attributes
            .insert("last_name".into(), Value::Text("Müller".into()));
        let t = Templates::new(None, DEFAULT_ACCOUNT_NAME).unwrap();
        let raw = t.render("account_name", &r).unwrap();
        assert_eq!(sanitize_account(&raw, "7", 64), "joerg.peter.mueller");
        assert_eq!(sanitize_account(".", "7", 64), "u7");
        assert_eq!(sanitize_account(&raw, "7", 20), "joerg.peter.mueller");
        assert_eq!(
            candidate("joerg.peter.mueller", 2, 20),
            "joerg.peter.mueller2"
        );
        assert_eq!(
            candidate("abcdefghij.klmnopqrs", 12, 20),
            "abcdefghij.klmnopq12"
        );
        assert_eq!(candidate("a.b", 1, 20), "a.b");
    }

    #[test]
    fn passwords_have_every_class_and_differ() {
        let a = random_password().unwrap();
        let b = random_password().unwrap();
        assert_eq!(a.chars().count(), 20);
        assert_ne!(a, b);
        assert!(a.chars().any(|c| c.is_ascii_uppercase()));
        assert!(a.chars().any(|c| c.is_ascii_lowercase()));
        assert!(a.chars().any(|c| c.is_ascii_digit()));
    }
}
