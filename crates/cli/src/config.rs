//! The configuration file: parsed, checked completely (every problem at once, with its
//! location), secrets resolved, before any command does anything.

use psync_connectors::{AnyTarget, TargetConfig};
use psync_mapping::{Mapping, MappingConfig};
use psync_personio::{AccountConfig, ApiVersion, Limits};
use psync_planner::Policy;
use secrecy::SecretString;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

/// The annotated example configuration, printed by `default-config`.
pub const EXAMPLE: &str = include_str!("../../../config/example.toml");

/// A validated configuration.
#[derive(Debug)]
pub struct Config {
    /// Where state lives (`sqlite://…` or `postgres://…`); used by the sync core.
    pub state: Option<String>,
    /// Personio accounts, in file order; names are unique.
    pub personio: Vec<AccountConfig>,
    /// Targets, in file order; names are unique.
    pub targets: Vec<TargetEntry>,
    /// `[service]`: how `serve` listens, authenticates and takes webhooks.
    pub service: ServiceConfig,
    /// `[schedule]`: one scheduled job per target.
    pub jobs: Vec<psync_server::schedule::Job>,
    /// `[notify]`: where notifications go.
    pub notify: psync_server::notify::NotifySettings,
}

/// The default state store when `state` is not set.
pub const DEFAULT_STATE: &str = "sqlite://personio-sync.sqlite";

/// One `[[target]]`: everything checked and compiled; building the connector does no I/O.
#[derive(Debug)]
pub struct TargetEntry {
    /// The target's name.
    pub name: String,
    /// The Personio account it is fed from.
    pub source: String,
    /// Compiled scope, fields, groups and manager rules.
    pub mapping: Mapping,
    /// Lifecycle policy and the deprovisioning guard.
    pub policy: Policy,
    /// How much smaller than the last full read a read may be before the run aborts (percent).
    pub max_shrink_percent: f64,
    /// Operations in flight at once.
    pub concurrency: usize,
    /// Attempts per operation for transient failures within one run.
    pub attempts: u32,
    connector: TargetConfig,
}

impl TargetEntry {
    /// Builds the connector (pure: no network, no files).
    pub fn build(&self) -> Result<AnyTarget, String> {
        self.connector
            .clone()
            .build(&self.name)
            .map_err(|problems| {
                problems
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            })
    }

    /// The connector's kind (`file`, …).
    pub fn kind(&self) -> &'static str {
        self.connector.kind()
    }
}

impl Config {
    /// The state store URL (`state`, or the default SQLite file).
    pub fn state_url(&self) -> String {
        self.state
            .clone()
            .unwrap_or_else(|| DEFAULT_STATE.to_string())
    }

    /// The account with this name, or the only one when `name` is `None`.
    pub fn account(&self, name: Option<&str>) -> Result<&AccountConfig, String> {
        match name {
            Some(name) => self
                .personio
                .iter()
                .find(|a| a.name == name)
                .ok_or_else(|| {
                    format!(
                        "no [[personio]] account is named '{name}'; configured: {}",
                        self.account_names()
                    )
                }),
            None => match self.personio.as_slice() {
                [one] => Ok(one),
                [] => Err("the configuration has no [[personio]] account".to_string()),
                _ => Err(format!(
                    "several [[personio]] accounts are configured ({}); choose one with --account NAME",
                    self.account_names()
                )),
            },
        }
    }

    fn account_names(&self) -> String {
        self.personio
            .iter()
            .map(|a| a.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// One thing wrong with a configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Key path, e.g. `personio[1].client_secret`.
    pub path: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// What is wrong and what to do.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}: {}", self.path, self.message),
            None => write!(f, "{}: {}", self.path, self.message),
        }
    }
}

/// Every problem found in a configuration file.
#[derive(Debug, thiserror::Error)]
#[error("{} in {}:\n{}", plural(.problems.len()), .file.display(), list(.problems))]
pub struct Invalid {
    /// The file that was checked.
    pub file: PathBuf,
    /// What is wrong, in file order.
    pub problems: Vec<Problem>,
}

fn plural(n: usize) -> String {
    if n == 1 {
        "1 problem".to_string()
    } else {
        format!("{n} problems")
    }
}

fn list(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("  - {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}

const TOP_KEYS: &[&str] = &[
    "state", "personio", "target", "service", "schedule", "notify",
];
/// What a key's value must look like; checked for every key before deserializing, so that
/// every wrong value is reported (serde alone stops at the first).
#[derive(Debug, Clone, Copy)]
enum Kind {
    Text,
    Integer,
    Boolean,
    Table,
    OneOf(&'static [&'static str]),
    /// An array of strings.
    Strings,
}

const PERSONIO_KEYS: &[(&str, Kind)] = &[
    ("name", Kind::Text),
    ("base_url", Kind::Text),
    ("client_id", Kind::Text),
    ("client_id_file", Kind::Text),
    ("client_secret", Kind::Text),
    ("client_secret_file", Kind::Text),
    ("api", Kind::OneOf(&["v1", "v2"])),
    ("app_id", Kind::Text),
    ("page_size", Kind::Integer),
    ("concurrency", Kind::Integer),
    ("rate_limit", Kind::Boolean),
];

/// Checks every key of a table against its schema: unknown keys and wrong kinds of value.
/// Returns whether the table is clean.
fn check_keys(
    table: &toml::Table,
    prefix: &str,
    schema: &[(&str, Kind)],
    at: &dyn Fn(&str) -> Option<usize>,
    problems: &mut Vec<Problem>,
) -> bool {
    let before = problems.len();
    let names: Vec<&str> = schema.iter().map(|(k, _)| *k).collect();
    for (key, value) in table {
        let path = format!("{prefix}.{key}");
        let Some((_, kind)) = schema.iter().find(|(k, _)| k == key) else {
            problems.push(unknown_key(&path, key, &names, at(&path)));
            continue;
        };
        let problem = match (kind, value) {
            (Kind::Text, toml::Value::String(_))
            | (Kind::Integer, toml::Value::Integer(_))
            | (Kind::Boolean, toml::Value::Boolean(_))
            | (Kind::Table, toml::Value::Table(_)) => None,
            (Kind::Strings, toml::Value::Array(items)) if items.iter().all(toml::Value::is_str) => {
                None
            }
            (Kind::Strings, other) => Some(format!(
                "expected an array of strings, found {}",
                other.type_str()
            )),
            (Kind::OneOf(allowed), toml::Value::String(s)) if allowed.contains(&s.as_str()) => None,
            (Kind::OneOf(allowed), toml::Value::String(s)) => Some(format!(
                "'{s}' is not allowed; use one of: {}",
                allowed
                    .iter()
                    .map(|a| format!("\"{a}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            (Kind::Text | Kind::OneOf(_), other) => {
                Some(format!("expected a string, found {}", other.type_str()))
            }
            (Kind::Integer, other) => {
                Some(format!("expected an integer, found {}", other.type_str()))
            }
            (Kind::Boolean, other) => Some(format!(
                "expected true or false, found {}",
                other.type_str()
            )),
            (Kind::Table, other) => Some(format!("expected a table, found {}", other.type_str())),
        };
        if let Some(message) = problem {
            problems.push(Problem {
                line: at(&path),
                path,
                message,
            });
        }
    }
    problems.len() == before
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPersonio {
    name: String,
    #[serde(default = "default_base_url")]
    base_url: String,
    client_id: Option<String>,
    client_id_file: Option<PathBuf>,
    client_secret: Option<String>,
    client_secret_file: Option<PathBuf>,
    #[serde(default = "default_api")]
    api: ApiVersion,
    app_id: Option<String>,
    page_size: Option<u32>,
    concurrency: Option<u32>,
    #[serde(default = "yes")]
    rate_limit: bool,
}

fn default_base_url() -> String {
    "https://api.personio.de".to_string()
}
fn default_api() -> ApiVersion {
    ApiVersion::V1
}
fn yes() -> bool {
    true
}

/// Reads and checks a configuration file; `Err` carries every problem found.
pub fn load(path: &Path) -> Result<Config, Invalid> {
    let text = std::fs::read_to_string(path).map_err(|e| Invalid {
        file: path.to_path_buf(),
        problems: vec![Problem {
            path: "(file)".into(),
            line: None,
            message: format!("cannot read the file: {e}"),
        }],
    })?;
    let base_dir = path.parent().unwrap_or(Path::new("."));
    parse(&text, base_dir, &|name| std::env::var(name).ok()).map_err(|problems| Invalid {
        file: path.to_path_buf(),
        problems,
    })
}

/// Parses and checks configuration text. `env` looks up `${VAR}` references; relative
/// `*_file` paths are taken from `base_dir`.
pub fn parse(
    text: &str,
    base_dir: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, Vec<Problem>> {
    let lines = LineIndex::new(text);
    let table: toml::Table = match toml::from_str(text) {
        Ok(t) => t,
        Err(e) => {
            return Err(vec![Problem {
                path: "(syntax)".into(),
                line: e.span().map(|s| lines.line(s.start)),
                message: e.message().trim().to_string(),
            }]);
        }
    };
    let spans = KeySpans::collect(text);
    let mut problems = Vec::new();
    let at = |path: &str| spans.line(path, &lines);

    for key in table.keys() {
        if !TOP_KEYS.contains(&key.as_str()) {
            problems.push(unknown_key(key, key, TOP_KEYS, at(key)));
        }
    }
    let state = match table.get("state") {
        None => None,
        Some(toml::Value::String(raw)) => match expand_env(raw, env) {
            Ok(s) => {
                let sqlite_ok = s == "sqlite::memory:"
                    || s.strip_prefix("sqlite://").is_some_and(|p| !p.is_empty());
                if !(sqlite_ok || s.starts_with("postgres://") || s.starts_with("postgresql://")) {
                    problems.push(Problem {
                        path: "state".into(),
                        line: at("state"),
                        message: format!(
                            "'{}' is not a state URL; use sqlite://FILE or postgres://USER@HOST/DB \
                             (\"${{VAR}}\" keeps a password out of the file)",
                            psync_store::redact_url(&s)
                        ),
                    });
                }
                Some(s)
            }
            Err(message) => {
                problems.push(Problem {
                    path: "state".into(),
                    line: at("state"),
                    message,
                });
                None
            }
        },
        Some(other) => {
            problems.push(wrong_type("state", "a string", other, at("state")));
            None
        }
    };

    let mut accounts = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let entries: Vec<toml::Value> = match table.get("personio") {
        None => Vec::new(),
        Some(toml::Value::Array(a)) => a.clone(),
        Some(other) => {
            problems.push(wrong_type(
                "personio",
                "an array of tables ([[personio]])",
                other,
                at("personio"),
            ));
            Vec::new()
        }
    };
    for (i, entry) in entries.into_iter().enumerate() {
        let prefix = format!("personio[{i}]");
        let toml::Value::Table(t) = entry else {
            problems.push(Problem {
                path: prefix.clone(),
                line: at(&prefix),
                message: "each account must be a table: write it as [[personio]]".into(),
            });
            continue;
        };
        if !check_keys(&t, &prefix, PERSONIO_KEYS, &at, &mut problems) {
            continue;
        }
        let raw: RawPersonio = match toml::Value::Table(t).try_into() {
            Ok(raw) => raw,
            Err(e) => {
                let message = e.message().trim().to_string();
                let field = field_named_in(&message);
                let path = match field {
                    Some(f) => format!("{prefix}.{f}"),
                    None => prefix.clone(),
                };
                let line = at(&path).or_else(|| at(&prefix));
                problems.push(Problem {
                    path,
                    line,
                    message,
                });
                continue;
            }
        };
        if let Some(first) = seen.insert(raw.name.clone(), i) {
            let path = format!("{prefix}.name");
            problems.push(Problem {
                line: at(&path),
                path,
                message: format!(
                    "account name '{}' is already used by personio[{first}]; names must be unique",
                    raw.name
                ),
            });
        }
        if let Some(account) = resolve_account(raw, &prefix, base_dir, env, &at, &mut problems) {
            accounts.push(account);
        }
    }
    // Names of every [[personio]] entry, also broken ones: a target naming one of them gets
    // no second, misleading problem.
    let mut account_names: Vec<String> = seen.keys().cloned().collect();
    if let Some(toml::Value::Array(entries)) = table.get("personio") {
        for entry in entries {
            if let Some(name) = entry.get("name").and_then(toml::Value::as_str)
                && !account_names.iter().any(|n| n == name)
            {
                account_names.push(name.to_string());
            }
        }
    }
    let targets = parse_targets(&table, &account_names, &at, &mut problems);
    let target_names: Vec<String> = match table.get("target") {
        Some(toml::Value::Array(entries)) => entries
            .iter()
            .filter_map(|e| e.get("name").and_then(toml::Value::as_str))
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    };
    let sections = service::parse(
        &table,
        &service::Known {
            accounts: &account_names,
            targets: &target_names,
            target_sources: &targets
                .iter()
                .map(|t| (t.name.clone(), t.source.clone()))
                .collect::<Vec<_>>(),
        },
        base_dir,
        env,
        &at,
        &mut problems,
    );
    if problems.is_empty() {
        Ok(Config {
            state,
            personio: accounts,
            targets,
            service: sections.service,
            jobs: sections.jobs,
            notify: sections.notify,
        })
    } else {
        Err(problems)
    }
}

fn resolve_account(
    raw: RawPersonio,
    prefix: &str,
    base_dir: &Path,
    env: &dyn Fn(&str) -> Option<String>,
    at: &dyn Fn(&str) -> Option<usize>,
    problems: &mut Vec<Problem>,
) -> Option<AccountConfig> {
    let before = problems.len();
    let mut secret = |key: &str, inline: Option<String>, file: Option<PathBuf>, what: &str| {
        let path = format!("{prefix}.{key}");
        match (inline, file) {
            (Some(_), Some(_)) => {
                problems.push(Problem {
                    line: at(&path),
                    path,
                    message: format!("set either {key} or {key}_file, not both"),
                });
                None
            }
            (None, None) => {
                problems.push(Problem {
                    line: at(prefix),
                    path,
                    message: format!(
                        "missing: set {key} (\"${{ENV_VAR}}\" keeps it out of the file) or {key}_file"
                    ),
                });
                None
            }
            (Some(value), None) => match expand_env(&value, env) {
                Ok(v) if v.trim().is_empty() => {
                    problems.push(Problem {
                        line: at(&path),
                        path,
                        message: format!("the {what} is empty"),
                    });
                    None
                }
                Ok(v) => Some(v),
                Err(message) => {
                    problems.push(Problem {
                        line: at(&path),
                        path,
                        message,
                    });
                    None
                }
            },
            (None, Some(file)) => {
                let file_path = format!("{path}_file");
                let full = base_dir.join(&file);
                match std::fs::read_to_string(&full) {
                    Ok(v) if v.trim().is_empty() => {
                        problems.push(Problem {
                            line: at(&file_path),
                            path: file_path,
                            message: format!("{} is empty", full.display()),
                        });
                        None
                    }
                    Ok(v) => Some(v.trim_end_matches(['\n', '\r']).to_string()),
                    Err(e) => {
                        problems.push(Problem {
                            line: at(&file_path),
                            path: file_path,
                            message: format!("cannot read {}: {e}", full.display()),
                        });
                        None
                    }
                }
            }
        }
    };
    let client_id = secret("client_id", raw.client_id, raw.client_id_file, "client id");
    let client_secret = secret(
        "client_secret",
        raw.client_secret,
        raw.client_secret_file,
        "client secret",
    );

    let url_path = format!("{prefix}.base_url");
    let base_url = match expand_env(&raw.base_url, env) {
        Ok(url) => {
            let trimmed = url.trim_end_matches('/').to_string();
            if !(trimmed.starts_with("https://") || trimmed.starts_with("http://"))
                || trimmed.len() <= "http://".len()
            {
                problems.push(Problem {
                    line: at(&url_path),
                    path: url_path,
                    message: format!("'{url}' is not an http(s) URL, e.g. https://api.personio.de"),
                });
            }
            trimmed
        }
        Err(message) => {
            problems.push(Problem {
                line: at(&url_path),
                path: url_path,
                message,
            });
            String::new()
        }
    };
    if raw.name.trim().is_empty() {
        let path = format!("{prefix}.name");
        problems.push(Problem {
            line: at(&path),
            path,
            message: "the name is empty".into(),
        });
    }
    let mut limits = Limits {
        rate_limit: raw.rate_limit,
        ..Limits::default()
    };
    if let Some(size) = raw.page_size {
        let max = match raw.api {
            ApiVersion::V1 => 100,
            ApiVersion::V2 => 50,
        };
        if size == 0 || size > max {
            let path = format!("{prefix}.page_size");
            problems.push(Problem {
                line: at(&path),
                path,
                message: format!("must be between 1 and {max} for api = \"{}\"", raw.api),
            });
        } else {
            match raw.api {
                ApiVersion::V1 => limits.v1_page_size = size,
                ApiVersion::V2 => limits.v2_page_size = size,
            }
        }
    }
    if let Some(c) = raw.concurrency {
        if c == 0 || c > 64 {
            let path = format!("{prefix}.concurrency");
            problems.push(Problem {
                line: at(&path),
                path,
                message: "must be between 1 and 64".into(),
            });
        } else {
            limits.v1_concurrency = c as usize;
            limits.v2_concurrency = c as usize;
        }
    }
    if problems.len() > before {
        return None;
    }
    Some(AccountConfig {
        name: raw.name,
        base_url,
        client_id: client_id?,
        client_secret: SecretString::from(client_secret?),
        api: raw.api,
        app_id: raw.app_id,
        limits,
    })
}

/// Replaces every `${NAME}` with the variable's value; an unset variable is an error.
fn expand_env(value: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err("an unclosed '${' : write ${NAME}".to_string());
        };
        let name = &after[..end];
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!(
                "'${{{name}}}' is not a valid environment variable reference"
            ));
        }
        match env(name) {
            Some(v) => out.push_str(&v),
            None => {
                return Err(format!(
                    "environment variable {name} is not set (export it, or use a *_file key)"
                ));
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn unknown_key(path: &str, key: &str, known: &[&str], line: Option<usize>) -> Problem {
    let hint = closest(key, known)
        .map(|k| format!("; did you mean '{k}'?"))
        .unwrap_or_else(|| format!("; known keys: {}", known.join(", ")));
    Problem {
        path: path.to_string(),
        line,
        message: format!("unknown key '{key}'{hint}"),
    }
}

fn wrong_type(path: &str, expected: &str, got: &toml::Value, line: Option<usize>) -> Problem {
    Problem {
        path: path.to_string(),
        line,
        message: format!("expected {expected}, found {}", got.type_str()),
    }
}

/// The known key nearest to a misspelt one (edit distance ≤ 2), if any.
fn closest<'a>(key: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (edit_distance(key, k), *k))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Pulls the field name out of a serde message such as "missing field `name`".
fn field_named_in(message: &str) -> Option<&str> {
    let start = message.find('`')? + 1;
    let end = start + message[start..].find('`')?;
    Some(&message[start..end])
}

/// Byte offset → 1-based line.
struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    fn new(text: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { starts }
    }
    fn line(&self, offset: usize) -> usize {
        self.starts.partition_point(|&s| s <= offset)
    }
}

/// Where each key path (`personio[1].name`) starts in the file.
struct KeySpans {
    spans: BTreeMap<String, usize>,
}

impl KeySpans {
    fn collect(text: &str) -> Self {
        let mut spans = BTreeMap::new();
        if let Ok(doc) = toml::de::DeTable::parse(text) {
            walk(doc.get_ref(), "", &mut spans);
        }
        KeySpans { spans }
    }
    fn line(&self, path: &str, lines: &LineIndex) -> Option<usize> {
        self.spans.get(path).map(|&offset| lines.line(offset))
    }
}

fn walk(table: &toml::de::DeTable<'_>, prefix: &str, out: &mut BTreeMap<String, usize>) {
    for (key, value) in table.iter() {
        let path = if prefix.is_empty() {
            key.get_ref().to_string()
        } else {
            format!("{prefix}.{}", key.get_ref())
        };
        out.insert(path.clone(), key.span().start);
        match value.get_ref() {
            toml::de::DeValue::Table(t) => walk(t, &path, out),
            toml::de::DeValue::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let item_path = format!("{path}[{i}]");
                    out.insert(item_path.clone(), item.span().start);
                    if let toml::de::DeValue::Table(t) = item.get_ref() {
                        walk(t, &item_path, out);
                    }
                }
            }
            _ => {}
        }
    }
}

const TARGET_KEYS: &[(&str, Kind)] = &[
    ("name", Kind::Text),
    ("type", Kind::OneOf(&["file", "scim", "rest", "ldap"])),
    ("source", Kind::Text),
    ("concurrency", Kind::Integer),
    ("attempts", Kind::Integer),
    ("mapping", Kind::Table),
    ("policy", Kind::Table),
];

/// Keys every `[[target]]` has; the rest belong to its connector type (`psync_connectors::KINDS`).
const COMMON_KEYS: &[&str] = &[
    "name",
    "type",
    "source",
    "concurrency",
    "attempts",
    "mapping",
    "policy",
];

fn parse_targets(
    table: &toml::Table,
    accounts: &[String],
    at: &dyn Fn(&str) -> Option<usize>,
    problems: &mut Vec<Problem>,
) -> Vec<TargetEntry> {
    let entries: Vec<toml::Value> = match table.get("target") {
        None => return Vec::new(),
        Some(toml::Value::Array(a)) => a.clone(),
        Some(other) => {
            problems.push(wrong_type(
                "target",
                "an array of tables ([[target]])",
                other,
                at("target"),
            ));
            return Vec::new();
        }
    };
    let mut names: HashMap<String, usize> = HashMap::new();
    let mut targets = Vec::new();
    for (i, entry) in entries.into_iter().enumerate() {
        let prefix = format!("target[{i}]");
        let toml::Value::Table(t) = entry else {
            problems.push(Problem {
                path: prefix.clone(),
                line: at(&prefix),
                message: "each target must be a table: write it as [[target]]".into(),
            });
            continue;
        };
        // Names are recorded first, so a duplicate is reported even when an entry has other problems.
        let mut duplicate = false;
        if let Some(name) = t.get("name").and_then(toml::Value::as_str)
            && let Some(first) = names.get(name).copied()
        {
            let path = format!("{prefix}.name");
            problems.push(Problem {
                line: at(&path),
                path,
                message: format!(
                    "target name '{name}' is already used by target[{first}]; names must be unique"
                ),
            });
            duplicate = true;
        } else if let Some(name) = t.get("name").and_then(toml::Value::as_str) {
            names.insert(name.to_string(), i);
        }
        let common: toml::Table = t
            .iter()
            .filter(|(k, _)| COMMON_KEYS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if !check_keys(&common, &prefix, TARGET_KEYS, at, problems) {
            continue;
        }
        let text = |key: &str| t.get(key).and_then(toml::Value::as_str).map(str::to_string);
        let mut missing = |key: &str| {
            problems.push(Problem {
                path: format!("{prefix}.{key}"),
                line: at(&prefix),
                message: format!("missing: every [[target]] needs `{key}`"),
            });
        };
        let (Some(name), Some(kind), Some(source)) = (text("name"), text("type"), text("source"))
        else {
            for key in ["name", "type", "source"] {
                if !t.contains_key(key) {
                    missing(key);
                }
            }
            continue;
        };
        let mut ok = !duplicate;
        if !accounts.contains(&source) {
            let path = format!("{prefix}.source");
            problems.push(Problem {
                line: at(&path),
                path,
                message: format!(
                    "no [[personio]] account is named '{source}'{}",
                    if accounts.is_empty() {
                        String::new()
                    } else {
                        format!("; configured: {}", accounts.join(", "))
                    }
                ),
            });
            ok = false;
        }
        let Some(own_keys) = psync_connectors::keys_of(&kind) else {
            let path = format!("{prefix}.type");
            problems.push(Problem {
                line: at(&path),
                path,
                message: format!(
                    "type '{kind}' is unknown; use one of: {}",
                    psync_connectors::KINDS
                        .iter()
                        .map(|(k, _)| format!("\"{k}\""))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
            continue;
        };
        let known: Vec<&str> = COMMON_KEYS.iter().chain(own_keys).copied().collect();
        for key in t.keys() {
            if !known.contains(&key.as_str()) {
                let path = format!("{prefix}.{key}");
                let mut problem = unknown_key(&path, key, &known, at(&path));
                problem.message = format!("{} (a {kind} target)", problem.message);
                problems.push(problem);
                ok = false;
            }
        }
        // The connector's own settings.
        let mut own = toml::Table::new();
        own.insert("type".into(), toml::Value::String(kind.clone()));
        for key in own_keys {
            if let Some(v) = t.get(*key) {
                own.insert((*key).to_string(), v.clone());
            }
        }
        let connector: Option<TargetConfig> =
            match toml::Value::Table(own).try_into::<TargetConfig>() {
                Ok(c) => {
                    let found = c.validate();
                    for p in &found {
                        let path = format!("{prefix}.{}", p.path);
                        problems.push(Problem {
                            line: at(&path).or_else(|| at(&prefix)),
                            path,
                            message: p.message.clone(),
                        });
                    }
                    found.is_empty().then_some(c)
                }
                Err(e) => {
                    let message = e.message().trim().to_string();
                    let path = match field_named_in(&message) {
                        Some(f) if own_keys.contains(&f) => format!("{prefix}.{f}"),
                        _ => prefix.clone(),
                    };
                    problems.push(Problem {
                        line: at(&path).or_else(|| at(&prefix)),
                        path,
                        message,
                    });
                    None
                }
            };
        // Lifecycle policy and guards.
        let mut max_shrink_percent = 20.0;
        let policy = match t.get("policy").cloned() {
            None => Some(Policy::default()),
            Some(toml::Value::Table(mut p)) => {
                if let Some(v) = p.remove("max_shrink_percent") {
                    let path = format!("{prefix}.policy.max_shrink_percent");
                    match v.as_float().or_else(|| v.as_integer().map(|i| i as f64)) {
                        Some(x) if (0.0..=100.0).contains(&x) => max_shrink_percent = x,
                        _ => problems.push(Problem {
                            line: at(&path),
                            path,
                            message: "must be a number from 0 to 100 (percent)".into(),
                        }),
                    }
                }
                // Each key on its own first, so that every bad value is reported at its line.
                let mut bad = false;
                for (key, value) in &p {
                    let mut one = toml::Table::new();
                    one.insert(key.clone(), value.clone());
                    if let Err(e) = toml::Value::Table(one).try_into::<Policy>() {
                        let path = format!("{prefix}.policy.{key}");
                        problems.push(Problem {
                            line: at(&path),
                            path,
                            message: e.message().trim().to_string(),
                        });
                        bad = true;
                    }
                }
                if bad {
                    None
                } else {
                    match toml::Value::Table(p).try_into::<Policy>() {
                        Ok(p) => Some(p),
                        Err(e) => {
                            let path = format!("{prefix}.policy");
                            problems.push(Problem {
                                line: at(&path),
                                path,
                                message: e.message().trim().to_string(),
                            });
                            None
                        }
                    }
                }
            }
            Some(_) => None,
        };
        // Mapping: deserialized, then compiled (every template, lookup and test checked).
        let mapping_table = t
            .get("mapping")
            .cloned()
            .unwrap_or_else(|| toml::Value::Table(toml::Table::new()));
        let mapping = match mapping_table.try_into::<MappingConfig>() {
            Ok(cfg)
                if kind == "file"
                    && cfg
                        .groups
                        .as_ref()
                        .is_some_and(|g| !g.create_missing || g.fallback.is_some()) =>
            {
                let path = format!("{prefix}.mapping.groups");
                problems.push(Problem {
                    line: at(&path).or_else(|| at(&prefix)),
                    path,
                    message: "a file target writes every group as it is; `create_missing = false` and `fallback` \
                              apply to targets that hold groups (SCIM, LDAP): remove them here"
                        .into(),
                });
                None
            }
            Ok(cfg) => match psync_mapping::compile(&name, &cfg) {
                Ok(m) => Some(m),
                Err(found) => {
                    for p in found {
                        let path = format!("{prefix}.{}", p.path.trim_start_matches('.'));
                        problems.push(Problem {
                            line: at(&path).or_else(|| at(&format!("{prefix}.mapping"))),
                            path,
                            message: p.message,
                        });
                    }
                    None
                }
            },
            Err(e) => {
                let message = e.message().trim().to_string();
                let path = match field_named_in(&message) {
                    Some(f) if at(&format!("{prefix}.mapping.{f}")).is_some() => {
                        format!("{prefix}.mapping.{f}")
                    }
                    _ => format!("{prefix}.mapping"),
                };
                problems.push(Problem {
                    line: at(&path).or_else(|| at(&prefix)),
                    path,
                    message,
                });
                None
            }
        };
        let int = |key: &str, default: i64, max: i64, problems: &mut Vec<Problem>| -> i64 {
            match t.get(key).and_then(toml::Value::as_integer) {
                None => default,
                Some(v) if (1..=max).contains(&v) => v,
                Some(_) => {
                    let path = format!("{prefix}.{key}");
                    problems.push(Problem {
                        line: at(&path),
                        path,
                        message: format!("must be between 1 and {max}"),
                    });
                    default
                }
            }
        };
        let concurrency = int("concurrency", 4, 64, problems) as usize;
        let attempts = int("attempts", 3, 10, problems) as u32;
        if let (true, Some(connector), Some(policy), Some(mapping)) =
            (ok, connector, policy, mapping)
        {
            targets.push(TargetEntry {
                name,
                source,
                mapping,
                policy,
                max_shrink_percent,
                concurrency,
                attempts,
                connector,
            });
        }
    }
    targets
}

pub use service::ServiceConfig;

/// The `[service]`, `[schedule]` and `[notify]` sections of `serve`.
mod service {
    use super::{Kind, Problem, check_keys, expand_env};
    use psync_server::cron::Cron;
    use psync_server::notify::{NoticeKind, NotifySettings, SmtpSettings};
    use psync_server::schedule::Job;
    use secrecy::SecretString;
    use std::net::SocketAddr;
    use std::path::{Path, PathBuf};
    use std::time::Duration;

    /// `[service]`, checked.
    #[derive(Debug, Clone)]
    pub struct ServiceConfig {
        /// Address to listen on (default `127.0.0.1:8080`).
        pub listen: SocketAddr,
        /// Bearer token of the admin API and dashboard login.
        pub admin_token: Option<SecretString>,
        /// Where the webhook event journal lives (default `personio-sync-data`).
        pub data_dir: PathBuf,
        /// Quiet time per person before a webhook sync (default 2 s).
        pub debounce: Duration,
        /// Largest webhook body (default 64 KiB).
        pub max_body_bytes: usize,
        /// Headers and body must arrive within this (default 10 s).
        pub request_timeout: Duration,
        /// Longest wait for running syncs on shutdown (default 300 s).
        pub shutdown_grace: Duration,
        /// `[service.webhooks.ACCOUNT]`.
        pub webhooks: Vec<WebhookConfig>,
        /// `[service.users.NAME]`: dashboard logins besides the admin token (name, password).
        pub users: Vec<(String, SecretString)>,
    }

    /// `[service.webhooks.ACCOUNT]`, checked.
    #[derive(Debug, Clone)]
    pub struct WebhookConfig {
        /// The `[[personio]]` account.
        pub account: String,
        /// The `Authorization` value Personio sends (current first, then a previous one
        /// accepted during a rotation).
        pub tokens: Vec<SecretString>,
        /// Refuse deliveries for other companies.
        pub company_id: Option<String>,
        /// The URL Personio calls, for `webhooks register`.
        pub public_url: Option<String>,
    }

    pub(super) struct Sections {
        pub service: ServiceConfig,
        pub jobs: Vec<Job>,
        pub notify: NotifySettings,
    }

    pub(super) struct Known<'a> {
        pub accounts: &'a [String],
        pub targets: &'a [String],
        pub target_sources: &'a [(String, String)],
    }

    const SERVICE_KEYS: &[(&str, Kind)] = &[
        ("listen", Kind::Text),
        ("admin_token", Kind::Text),
        ("admin_token_file", Kind::Text),
        ("data_dir", Kind::Text),
        ("debounce_seconds", Kind::Integer),
        ("max_body_kib", Kind::Integer),
        ("request_timeout_seconds", Kind::Integer),
        ("shutdown_grace_seconds", Kind::Integer),
        ("webhooks", Kind::Table),
        ("users", Kind::Table),
    ];
    const USER_KEYS: &[(&str, Kind)] = &[("password", Kind::Text), ("password_file", Kind::Text)];
    const WEBHOOK_KEYS: &[(&str, Kind)] = &[
        ("token", Kind::Text),
        ("token_file", Kind::Text),
        ("previous_token", Kind::Text),
        ("previous_token_file", Kind::Text),
        ("company_id", Kind::Text),
        ("public_url", Kind::Text),
    ];
    const SCHEDULE_KEYS: &[(&str, Kind)] = &[
        ("cron", Kind::Text),
        ("time_zone", Kind::Text),
        ("interval_minutes", Kind::Integer),
        ("sources", Kind::Table),
        ("targets", Kind::Table),
    ];
    const JOB_KEYS: &[(&str, Kind)] = &[
        ("cron", Kind::Text),
        ("time_zone", Kind::Text),
        ("interval_minutes", Kind::Integer),
    ];
    const NOTIFY_KEYS: &[(&str, Kind)] = &[
        ("dry_run", Kind::Boolean),
        ("on", Kind::Strings),
        ("webhook_url", Kind::Text),
        ("webhook_url_file", Kind::Text),
        ("smtp", Kind::Table),
    ];
    const SMTP_KEYS: &[(&str, Kind)] = &[
        ("host", Kind::Text),
        ("port", Kind::Integer),
        ("from", Kind::Text),
        ("to", Kind::Strings),
        ("username", Kind::Text),
        ("password", Kind::Text),
        ("password_file", Kind::Text),
    ];

    /// Reads the sections' tables; each problem is reported with its key path and line.
    struct Ctx<'a> {
        base_dir: &'a Path,
        env: &'a dyn Fn(&str) -> Option<String>,
        at: &'a dyn Fn(&str) -> Option<usize>,
        problems: &'a mut Vec<Problem>,
    }

    impl Ctx<'_> {
        fn problem(&mut self, path: &str, message: impl Into<String>) {
            self.problems.push(Problem {
                path: path.to_string(),
                line: (self.at)(path),
                message: message.into(),
            });
        }

        fn text(&mut self, t: &toml::Table, prefix: &str, key: &str) -> Option<String> {
            let v = t.get(key)?.as_str()?;
            match expand_env(v, self.env) {
                Ok(v) => Some(v),
                Err(m) => {
                    self.problem(&format!("{prefix}.{key}"), m);
                    None
                }
            }
        }

        fn int(
            &mut self,
            t: &toml::Table,
            prefix: &str,
            key: &str,
            min: i64,
            max: i64,
        ) -> Option<u64> {
            let v = t.get(key)?.as_integer()?;
            if v < min || v > max {
                self.problem(
                    &format!("{prefix}.{key}"),
                    format!("must be between {min} and {max}"),
                );
                return None;
            }
            u64::try_from(v).ok()
        }

        /// A secret from `key` (`${ENV}` expanded) or `key_file` (relative to the file).
        fn secret(&mut self, t: &toml::Table, prefix: &str, key: &str) -> Option<SecretString> {
            let file_key = format!("{key}_file");
            match (
                t.contains_key(key),
                t.get(&file_key).and_then(toml::Value::as_str),
            ) {
                (true, Some(_)) => {
                    self.problem(
                        &format!("{prefix}.{key}"),
                        format!("set either {key} or {key}_file, not both"),
                    );
                    None
                }
                (true, None) => {
                    let v = self.text(t, prefix, key)?;
                    if v.trim().is_empty() {
                        self.problem(&format!("{prefix}.{key}"), "is empty");
                        return None;
                    }
                    Some(SecretString::from(v))
                }
                (false, Some(file)) => {
                    let full = self.base_dir.join(file);
                    match std::fs::read_to_string(&full) {
                        Ok(v) if !v.trim().is_empty() => Some(SecretString::from(
                            v.trim_end_matches(['\n', '\r']).to_string(),
                        )),
                        Ok(_) => {
                            self.problem(
                                &format!("{prefix}.{file_key}"),
                                format!("{} is empty", full.display()),
                            );
                            None
                        }
                        Err(e) => {
                            self.problem(
                                &format!("{prefix}.{file_key}"),
                                format!("cannot read {}: {e}", full.display()),
                            );
                            None
                        }
                    }
                }
                (false, None) => None,
            }
        }

        fn table<'t>(
            &mut self,
            parent: &'t toml::Table,
            prefix: &str,
            key: &str,
            schema: &[(&str, Kind)],
        ) -> Option<&'t toml::Table> {
            let t = parent.get(key)?.as_table()?;
            let path = if prefix.is_empty() {
                key.to_string()
            } else {
                format!("{prefix}.{key}")
            };
            check_keys(t, &path, schema, self.at, self.problems);
            Some(t)
        }

        fn job_settings(
            &mut self,
            t: &toml::Table,
            prefix: &str,
            base: &(Option<Cron>, jiff::tz::TimeZone, Option<Duration>),
        ) -> (Option<Cron>, jiff::tz::TimeZone, Option<Duration>) {
            let mut out = base.clone();
            if let Some(c) = self.text(t, prefix, "cron") {
                if c.trim().is_empty() {
                    out.0 = None;
                } else {
                    match Cron::parse(&c) {
                        Ok(c) => out.0 = Some(c),
                        Err(m) => self.problem(&format!("{prefix}.cron"), m),
                    }
                }
            }
            if let Some(z) = self.text(t, prefix, "time_zone") {
                match jiff::tz::TimeZone::get(&z) {
                    Ok(tz) => out.1 = tz,
                    Err(_) => self.problem(
                        &format!("{prefix}.time_zone"),
                        format!("'{z}' is not a known IANA time zone (e.g. \"Europe/Berlin\"; is tzdata installed?)"),
                    ),
                }
            }
            if t.contains_key("interval_minutes") {
                out.2 = self
                    .int(t, prefix, "interval_minutes", 0, 7 * 24 * 60)
                    .filter(|m| *m > 0)
                    .map(|m| Duration::from_secs(m * 60));
            }
            out
        }
    }

    pub(super) fn parse(
        table: &toml::Table,
        known: &Known<'_>,
        base_dir: &Path,
        env: &dyn Fn(&str) -> Option<String>,
        at: &dyn Fn(&str) -> Option<usize>,
        problems: &mut Vec<Problem>,
    ) -> Sections {
        let mut cx = Ctx {
            base_dir,
            env,
            at,
            problems,
        };
        let empty = toml::Table::new();
        // [service]
        if let Some(v) = table.get("service").filter(|v| !v.is_table()) {
            cx.problem(
                "service",
                format!("expected a table, found {}", v.type_str()),
            );
        }
        let svc = cx
            .table(table, "", "service", SERVICE_KEYS)
            .unwrap_or(&empty);
        let listen = match cx.text(svc, "service", "listen") {
            Some(l) => match l.parse::<SocketAddr>() {
                Ok(a) => a,
                Err(_) => {
                    cx.problem(
                        "service.listen",
                        format!("'{l}' is not an address such as 127.0.0.1:8080"),
                    );
                    SocketAddr::from(([127, 0, 0, 1], 8080))
                }
            },
            None => SocketAddr::from(([127, 0, 0, 1], 8080)),
        };
        let admin_token = cx.secret(svc, "service", "admin_token");
        if admin_token
            .as_ref()
            .is_some_and(|t| secrecy::ExposeSecret::expose_secret(t).len() < 16)
        {
            cx.problem(
                "service.admin_token",
                "use at least 16 characters (e.g. `openssl rand -hex 24`)",
            );
        }
        let data_dir = cx
            .text(svc, "service", "data_dir")
            .map(|d| base_dir.join(d))
            .unwrap_or_else(|| base_dir.join("personio-sync-data"));
        let debounce = Duration::from_secs(
            cx.int(svc, "service", "debounce_seconds", 0, 3600)
                .unwrap_or(2),
        );
        let max_body_bytes = cx
            .int(svc, "service", "max_body_kib", 1, 10 * 1024)
            .unwrap_or(64) as usize
            * 1024;
        let request_timeout = Duration::from_secs(
            cx.int(svc, "service", "request_timeout_seconds", 1, 300)
                .unwrap_or(10),
        );
        let shutdown_grace = Duration::from_secs(
            cx.int(svc, "service", "shutdown_grace_seconds", 0, 86_400)
                .unwrap_or(300),
        );
        let mut users = Vec::new();
        if let Some(table) = svc.get("users").and_then(toml::Value::as_table) {
            for (name, v) in table {
                let prefix = format!("service.users.{name}");
                let Some(t) = v.as_table() else {
                    cx.problem(
                        &prefix,
                        "expected a table: [service.users.NAME] with password or password_file",
                    );
                    continue;
                };
                check_keys(t, &prefix, USER_KEYS, at, cx.problems);
                match cx.secret(t, &prefix, "password") {
                    Some(p) if secrecy::ExposeSecret::expose_secret(&p).len() < 12 => {
                        cx.problem(&format!("{prefix}.password"), "use at least 12 characters")
                    }
                    Some(p) => users.push((name.clone(), p)),
                    None if !t.contains_key("password") && !t.contains_key("password_file") => {
                        cx.problem(
                            &prefix,
                            "missing: set password (\"${ENV_VAR}\") or password_file",
                        );
                    }
                    None => {}
                }
            }
        }
        let mut webhooks = Vec::new();
        if let Some(hooks) = svc.get("webhooks").and_then(toml::Value::as_table) {
            for (account, v) in hooks {
                let prefix = format!("service.webhooks.{account}");
                let Some(t) = v.as_table() else {
                    cx.problem(&prefix, "expected a table: [service.webhooks.ACCOUNT]");
                    continue;
                };
                check_keys(t, &prefix, WEBHOOK_KEYS, at, cx.problems);
                if !known.accounts.contains(account) {
                    cx.problem(
                        &prefix,
                        format!("no [[personio]] account is named '{account}'"),
                    );
                }
                let mut tokens = Vec::new();
                match cx.secret(t, &prefix, "token") {
                    Some(tok) => tokens.push(tok),
                    None if !t.contains_key("token") && !t.contains_key("token_file") => {
                        cx.problem(&prefix, "missing: set token (\"${ENV_VAR}\") or token_file; it is the Authorization value Personio sends");
                    }
                    None => {}
                }
                if let Some(prev) = cx.secret(t, &prefix, "previous_token") {
                    tokens.push(prev);
                }
                let company_id = cx.text(t, &prefix, "company_id");
                let public_url = cx.text(t, &prefix, "public_url");
                if let Some(u) = &public_url
                    && !(u.starts_with("https://") || u.starts_with("http://"))
                {
                    cx.problem(
                        &format!("{prefix}.public_url"),
                        "must be an https:// URL that Personio can reach",
                    );
                }
                webhooks.push(WebhookConfig {
                    account: account.clone(),
                    tokens,
                    company_id,
                    public_url,
                });
            }
        }

        // [schedule]
        if let Some(v) = table.get("schedule").filter(|v| !v.is_table()) {
            cx.problem(
                "schedule",
                format!("expected a table, found {}", v.type_str()),
            );
        }
        let sched = cx
            .table(table, "", "schedule", SCHEDULE_KEYS)
            .unwrap_or(&empty);
        let berlin = jiff::tz::TimeZone::get("Europe/Berlin").unwrap_or(jiff::tz::TimeZone::UTC);
        let default_cron = Cron::parse("0 2 * * *").ok();
        let base = cx.job_settings(sched, "schedule", &(default_cron, berlin, None));
        let mut per_source = std::collections::BTreeMap::new();
        if let Some(sources) = sched.get("sources").and_then(toml::Value::as_table) {
            for (name, v) in sources {
                let prefix = format!("schedule.sources.{name}");
                let Some(t) = v.as_table() else {
                    cx.problem(&prefix, "expected a table");
                    continue;
                };
                check_keys(t, &prefix, JOB_KEYS, at, cx.problems);
                if !known.accounts.contains(name) {
                    cx.problem(
                        &prefix,
                        format!("no [[personio]] account is named '{name}'"),
                    );
                }
                per_source.insert(name.clone(), cx.job_settings(t, &prefix, &base));
            }
        }
        let mut per_target = std::collections::BTreeMap::new();
        if let Some(targets) = sched.get("targets").and_then(toml::Value::as_table) {
            for (name, v) in targets {
                let prefix = format!("schedule.targets.{name}");
                let Some(t) = v.as_table() else {
                    cx.problem(&prefix, "expected a table");
                    continue;
                };
                check_keys(t, &prefix, JOB_KEYS, at, cx.problems);
                if !known.targets.contains(name) {
                    cx.problem(&prefix, format!("no [[target]] is named '{name}'"));
                }
                let source = known
                    .target_sources
                    .iter()
                    .find(|(t, _)| t == name)
                    .and_then(|(_, s)| per_source.get(s))
                    .cloned()
                    .unwrap_or_else(|| base.clone());
                per_target.insert(name.clone(), cx.job_settings(t, &prefix, &source));
            }
        }
        let jobs = known
            .target_sources
            .iter()
            .map(|(target, source)| {
                let (cron, time_zone, interval) = per_target
                    .get(target)
                    .or_else(|| per_source.get(source))
                    .cloned()
                    .unwrap_or_else(|| base.clone());
                Job {
                    target: target.clone(),
                    cron,
                    time_zone,
                    interval,
                }
            })
            .collect();

        // [notify]
        if let Some(v) = table.get("notify").filter(|v| !v.is_table()) {
            cx.problem(
                "notify",
                format!("expected a table, found {}", v.type_str()),
            );
        }
        let n = cx.table(table, "", "notify", NOTIFY_KEYS).unwrap_or(&empty);
        let dry_run = n
            .get("dry_run")
            .and_then(toml::Value::as_bool)
            .unwrap_or(false);
        let mut on = Vec::new();
        if let Some(items) = n.get("on").and_then(toml::Value::as_array) {
            for item in items.iter().filter_map(toml::Value::as_str) {
                match item {
                    "failure" => on.push(NoticeKind::Failure),
                    "quarantine" => on.push(NoticeKind::Quarantine),
                    "held" => on.push(NoticeKind::Held),
                    other => cx.problem(
                        "notify.on",
                        format!("'{other}' is not one of \"failure\", \"quarantine\", \"held\""),
                    ),
                }
            }
        }
        let webhook_url = cx.secret(n, "notify", "webhook_url");
        let mut smtp = None;
        if let Some(t) = cx.table(n, "notify", "smtp", SMTP_KEYS) {
            let host = cx.text(t, "notify.smtp", "host");
            let from = cx.text(t, "notify.smtp", "from");
            let to: Vec<String> = t
                .get("to")
                .and_then(toml::Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(toml::Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            for (key, missing) in [
                ("host", host.is_none()),
                ("from", from.is_none()),
                ("to", to.is_empty()),
            ] {
                if missing && !t.contains_key(key) {
                    cx.problem("notify.smtp", format!("missing: `{key}`"));
                }
            }
            for addr in from.iter().chain(&to) {
                if !addr.contains('@') || addr.contains(['<', '>', '\r', '\n']) {
                    cx.problem("notify.smtp", format!("'{addr}' is not an e-mail address"));
                }
            }
            let port = cx.int(t, "notify.smtp", "port", 1, 65535).unwrap_or(25) as u16;
            let username = cx.text(t, "notify.smtp", "username");
            let password = cx.secret(t, "notify.smtp", "password");
            if username.is_some() != password.is_some() {
                cx.problem("notify.smtp", "set both username and password, or neither");
            }
            if let (Some(host), Some(from)) = (host, from) {
                smtp = Some(SmtpSettings {
                    host,
                    port,
                    from,
                    to,
                    username,
                    password,
                });
            }
        }
        Sections {
            service: ServiceConfig {
                listen,
                admin_token,
                data_dir,
                debounce,
                max_body_bytes,
                request_timeout,
                shutdown_grace,
                webhooks,
                users,
            },
            jobs,
            notify: NotifySettings {
                webhook_url,
                smtp,
                dry_run,
                on,
            },
        }
    }

    #[cfg(test)]
    mod tests {
        #![allow(clippy::unwrap_used, reason = "tests")]
        use crate::config::parse;
        use secrecy::ExposeSecret;
        use std::path::Path;

        const BASE: &str = "[[personio]]\nname = \"acme\"\nclient_id = \"id\"\nclient_secret = \"s\"\n\n\
            [[personio]]\nname = \"beta\"\nclient_id = \"id\"\nclient_secret = \"s\"\n\n\
            [[target]]\nname = \"a1\"\ntype = \"file\"\nsource = \"acme\"\npath = \"o1\"\n\n\
            [[target]]\nname = \"a2\"\ntype = \"file\"\nsource = \"acme\"\npath = \"o2\"\n\n\
            [[target]]\nname = \"b1\"\ntype = \"file\"\nsource = \"beta\"\npath = \"o3\"\n\n";

        fn env(name: &str) -> Option<String> {
            (name == "HOOK").then(|| "hook-secret-value".to_string())
        }

        #[test]
        fn without_sections_every_target_syncs_daily_at_two_in_berlin() {
            let c = parse(BASE, Path::new("."), &env).unwrap();
            assert_eq!(c.jobs.len(), 3);
            for job in &c.jobs {
                assert_eq!(job.cron.as_ref().unwrap().to_string(), "0 2 * * *");
                assert_eq!(job.time_zone.iana_name(), Some("Europe/Berlin"));
                assert_eq!(job.interval, None);
            }
            assert!(c.service.admin_token.is_none());
            assert!(!c.notify.dry_run);
        }

        #[test]
        fn a_target_setting_beats_its_source_which_beats_the_default() {
            let text = format!(
                "{BASE}[schedule]\ncron = \"0 3 * * *\"\ntime_zone = \"UTC\"\n\n\
                 [schedule.sources.acme]\ncron = \"0 4 * * 1-5\"\ninterval_minutes = 60\n\n\
                 [schedule.targets.a2]\ncron = \"\"\n\n\
                 [service.webhooks.acme]\ntoken = \"Bearer ${{HOOK}}\"\n"
            );
            let c = parse(&text, Path::new("."), &env).unwrap();
            let job = |n: &str| c.jobs.iter().find(|j| j.target == n).unwrap();
            assert_eq!(job("a1").cron.as_ref().unwrap().to_string(), "0 4 * * 1-5");
            assert_eq!(
                job("a1").interval,
                Some(std::time::Duration::from_secs(3600))
            );
            assert!(job("a2").cron.is_none(), "an empty cron switches it off");
            assert_eq!(
                job("a2").interval,
                Some(std::time::Duration::from_secs(3600))
            );
            assert_eq!(job("b1").cron.as_ref().unwrap().to_string(), "0 3 * * *");
            assert_eq!(job("b1").time_zone.iana_name(), Some("UTC"));
            let hook = &c.service.webhooks[0];
            assert_eq!(hook.tokens[0].expose_secret(), "Bearer hook-secret-value");
            assert!(
                !format!("{c:?}").contains("hook-secret-value"),
                "redacted in Debug"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn env(name: &str) -> Option<String> {
        (name == "SECRET").then(|| "s3cret".to_string())
    }

    fn check(text: &str) -> Result<Config, Vec<Problem>> {
        parse(text, Path::new("."), &env)
    }

    #[test]
    fn the_example_configuration_is_valid() {
        let config = parse(EXAMPLE, Path::new("."), &|_| Some("from-env".to_string()));
        let config = config.unwrap_or_else(|p| panic!("{}", list(&p)));
        assert!(!config.personio.is_empty());
    }

    #[test]
    fn secrets_come_from_the_environment_and_stay_out_of_debug() {
        let config = check(
            "[[personio]]\nname = \"a\"\nclient_id = \"id\"\nclient_secret = \"${SECRET}\"\n",
        )
        .unwrap();
        let account = &config.personio[0];
        assert_eq!(account.client_secret.expose_secret(), "s3cret");
        assert!(!format!("{config:?}").contains("s3cret"));
        assert_eq!(account.base_url, "https://api.personio.de");
    }

    #[test]
    fn every_problem_is_reported_at_once_with_its_line() {
        let text = r#"stat = "sqlite://x"
[[personio]]
name = "a"
client_id = "id"
client_secret = "${MISSING}"
[[personio]]
name = "a"
client_id = "id"
client_secret = "x"
api = "v3"
[[personio]]
name = "b"
clientid = "id"
client_secret = "x"
"#;
        let problems = check(text).unwrap_err();
        let rendered = list(&problems);
        assert_eq!(problems.len(), 4, "{rendered}");
        assert!(
            rendered.contains("line 1: stat: unknown key 'stat'; did you mean 'state'?"),
            "{rendered}"
        );
        assert!(
            rendered.contains("line 5: personio[0].client_secret: environment variable MISSING"),
            "{rendered}"
        );
        assert!(rendered.contains("personio[1].api"), "{rendered}");
        assert!(rendered.contains("line 10"), "{rendered}");
        assert!(
            rendered.contains(
                "line 13: personio[2].clientid: unknown key 'clientid'; did you mean 'client_id'?"
            ),
            "{rendered}"
        );
    }

    #[test]
    fn duplicate_account_names_are_refused() {
        let text = "[[personio]]\nname = \"acme\"\nclient_id = \"i\"\nclient_secret = \"s\"\n\
                    [[personio]]\nname = \"acme\"\nclient_id = \"i\"\nclient_secret = \"s\"\n";
        let problems = check(text).unwrap_err();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].line, Some(6));
        assert!(
            problems[0].message.contains("already used by personio[0]"),
            "{:?}",
            problems[0]
        );
    }

    #[test]
    fn missing_secret_and_bad_url_and_syntax() {
        let problems =
            check("[[personio]]\nname = \"a\"\nclient_id = \"i\"\nbase_url = \"ftp:/x\"\n")
                .unwrap_err();
        let rendered = list(&problems);
        assert!(
            rendered.contains("personio[0].client_secret: missing"),
            "{rendered}"
        );
        assert!(
            rendered.contains("line 4: personio[0].base_url"),
            "{rendered}"
        );

        let problems = check("[[personio]\nname = 1").unwrap_err();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].line, Some(1));
    }

    #[test]
    fn secret_files_are_read_relative_to_the_config() {
        let dir = std::env::temp_dir().join(format!("psync-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("secret.txt"), "from-file\n").unwrap();
        let text =
            "[[personio]]\nname = \"a\"\nclient_id = \"i\"\nclient_secret_file = \"secret.txt\"\n";
        let config = parse(text, &dir, &env).unwrap();
        assert_eq!(
            config.personio[0].client_secret.expose_secret(),
            "from-file"
        );
        let problems = parse(&text.replace("secret.txt", "nope.txt"), &dir, &env).unwrap_err();
        assert!(
            problems[0].path.ends_with("client_secret_file"),
            "{problems:?}"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn account_selection() {
        let config = check(
            "[[personio]]\nname = \"a\"\nclient_id = \"i\"\nclient_secret = \"s\"\n\
             [[personio]]\nname = \"b\"\nclient_id = \"i\"\nclient_secret = \"s\"\n",
        )
        .unwrap();
        assert_eq!(config.account(Some("b")).unwrap().name, "b");
        assert!(config.account(None).unwrap_err().contains("--account"));
        assert!(config.account(Some("c")).unwrap_err().contains("a, b"));
    }

    #[test]
    fn a_broken_account_does_not_also_break_its_targets() {
        let text = "[[personio]]\nname = \"acme\"\nclient_id = \"i\"\nclient_secret = \"s\"\nclientid = 1\n\
                    [[target]]\nname = \"t\"\ntype = \"file\"\nsource = \"acme\"\npath = \"out\"\n";
        let problems = check(text).unwrap_err();
        assert_eq!(problems.len(), 1, "{}", list(&problems));
        assert!(problems[0].path.ends_with("clientid"), "{problems:?}");
    }

    #[test]
    fn file_targets_refuse_group_settings_they_cannot_honour() {
        let text = "[[personio]]\nname = \"acme\"\nclient_id = \"i\"\nclient_secret = \"s\"\n\
                    [[target]]\nname = \"t\"\ntype = \"file\"\nsource = \"acme\"\npath = \"out\"\n\
                    [target.mapping.groups]\nlevels = [\"office\"]\ncreate_missing = false\n";
        let problems = check(text).unwrap_err();
        assert_eq!(problems.len(), 1, "{}", list(&problems));
        assert!(
            problems[0].message.contains("create_missing"),
            "{problems:?}"
        );
    }

    #[test]
    fn the_state_url_may_take_its_password_from_the_environment() {
        let text = "state = \"postgres://sync:${SECRET}@127.0.0.1/test\"\n";
        let config = check(text).unwrap();
        assert_eq!(config.state_url(), "postgres://sync:s3cret@127.0.0.1/test");
        assert!(!psync_store::redact_url(&config.state_url()).contains("s3cret"));
        let problems = check("state = \"sqlite:foo\"\n").unwrap_err();
        assert!(
            problems[0].message.contains("not a state URL"),
            "{problems:?}"
        );
    }
}
