//! `compile`: a `MappingConfig` checked completely (every problem at once) into a `Mapping`.

use crate::config::{FieldSpec, LookupTable, MappingConfig, MappingTest};
use crate::context::{self, PersonContext, VARIABLES};
use crate::convert;
use crate::filters::{self, OWN_FILTERS};
use crate::scan::{self, Refs};
use minijinja::value::Value as JValue;
use minijinja::{Environment, Error, ErrorKind, UndefinedBehavior};
use psync_model::{AttributeType, Employee, GroupPath};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

/// One thing wrong with a mapping, found by [`compile`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct MappingProblem {
    /// Where, in config terms: `mapping.fields.email`, `mapping.scope`, `mapping.groups.levels[0]`.
    pub path: String,
    /// What, naming the target and the field: `target 'lms': field 'email': unknown variable 'emial' (did you mean 'email'?)`.
    pub message: String,
}

/// A checked, compiled mapping for one target. Cheap to share; mapping never fails as a whole.
#[derive(Debug, Clone)]
pub struct Mapping {
    pub(crate) target: String,
    pub(crate) env: Environment<'static>,
    /// The scope expression; `None` = the default scope (evaluated without minijinja).
    pub(crate) scope: Option<String>,
    pub(crate) fields: Vec<Field>,
    pub(crate) groups: Option<Groups>,
    pub(crate) manager: bool,
    pub(crate) tests: Vec<(MappingTest, Employee)>,
    pub(crate) used: BTreeSet<String>,
}

/// One target attribute.
#[derive(Debug, Clone)]
pub(crate) struct Field {
    pub name: String,
    /// The same name, shared by every record this field is written to.
    pub key: psync_model::Name,
    pub source: Source,
    pub ty: Option<AttributeType>,
    pub required: bool,
}

/// Where a field's value comes from.
#[derive(Debug, Clone)]
pub(crate) enum Source {
    /// A standard variable copied with its type.
    Variable(&'static str),
    /// A custom attribute (key or label) copied with its type.
    Custom(String),
    /// A template registered in the environment under this name.
    Template(String),
}

/// Group levels as expressions.
#[derive(Debug, Clone)]
pub(crate) struct Groups {
    pub levels: Vec<String>,
    pub flat: bool,
    pub create_missing: bool,
    pub fallback: Option<GroupPath>,
}

impl Mapping {
    /// The target this mapping is for.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The attribute names every record of this mapping has, sorted.
    pub fn field_names(&self) -> Vec<&str> {
        self.fields.iter().map(|f| f.name.as_str()).collect()
    }

    /// Whether records must be fitted to the target's existing groups before planning
    /// (`groups.create_missing = false`; see `Mapping::resolve_groups`).
    pub fn fits_existing_groups(&self) -> bool {
        self.groups.as_ref().is_some_and(|g| !g.create_missing)
    }

    /// Whether the mapping sets managers from Personio's supervisor (`manager = true`).
    pub fn resolves_managers(&self) -> bool {
        self.manager
    }

    /// The canonical attribute names (as in `Employee::STANDARD_ATTRIBUTES`) and custom
    /// attributes (`custom.<key or label>`; `custom` when read dynamically) the mapping reads.
    /// Compare with `Employee::present_attributes` to warn about attributes the credential
    /// may not read.
    pub fn used_attributes(&self) -> BTreeSet<String> {
        self.used.clone()
    }
}

/// The field map used when `default_fields` is true: every field the vendors sync, copied
/// with its type. `fields` in the configuration override or add to it.
pub fn default_fields() -> BTreeMap<String, FieldSpec> {
    let from = |v: &str| FieldSpec::Detailed {
        from: Some(v.to_string()),
        template: None,
        r#type: None,
        required: false,
    };
    [
        ("external_id", "id"),
        ("first_name", "first_name"),
        ("last_name", "last_name"),
        ("preferred_name", "preferred_name"),
        ("display_name", "display_name"),
        ("email", "email"),
        ("title", "position"),
        ("department", "department"),
        ("office", "office"),
        ("team", "team"),
        ("cost_center", "cost_center"),
        ("cost_centers", "cost_centers"),
        ("hire_date", "hire_date"),
        ("termination_date", "termination_date"),
        ("avatar_url", "avatar_url"),
        ("status", "status"),
        ("employment_type", "employment_type"),
    ]
    .into_iter()
    .map(|(name, var)| (name.to_string(), from(var)))
    .collect()
}

/// Attribute names a field may not have: the planner reports these in diffs itself.
const RESERVED_FIELDS: &[&str] = &["manager", "active"];

/// Builds the environment every mapping renders in: strict undefined, `none` printed as
/// nothing, our filters over the lookup tables.
fn environment(lookups: &BTreeMap<String, LookupTable>) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_debug(true);
    env.set_formatter(|out, state, value| {
        if value.is_none() {
            Ok(())
        } else {
            minijinja::escape_formatter(out, state, value)
        }
    });
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    env.add_filter("ascii", |v: &JValue| {
        filters::ascii(&filters::value_text(v))
    });
    env.add_filter("slug", |v: &JValue| filters::slug(&filters::value_text(v)));
    env.add_filter("date_format", |v: &JValue, format: &str| {
        filters::date_format(v, format)
    });
    let tables = Arc::new(lookups.clone());
    env.add_filter("lookup", move |v: &JValue, table: &str| {
        filters::lookup(&tables, v, table)
    });
    env
}

/// Collects problems for one target.
struct Checker<'c> {
    target: &'c str,
    config: &'c MappingConfig,
    problems: Vec<MappingProblem>,
    used: BTreeSet<String>,
}

impl Checker<'_> {
    fn problem(&mut self, path: impl Into<String>, what: &str, message: impl fmt::Display) {
        self.problems.push(MappingProblem {
            path: path.into(),
            message: format!("target '{}': {what}: {message}", self.target),
        });
    }
}

/// Checks a mapping completely and compiles it; on failure returns every problem found.
pub fn compile(target: &str, config: &MappingConfig) -> Result<Mapping, Vec<MappingProblem>> {
    let mut c = Checker {
        target,
        config,
        problems: Vec::new(),
        used: BTreeSet::new(),
    };
    let mut env = environment(&config.lookups);

    // Fields: the default map, then the configured ones.
    let mut specs = if config.default_fields {
        default_fields()
    } else {
        BTreeMap::new()
    };
    specs.extend(config.fields.clone());
    let mut fields = Vec::new();
    // Templates to check once the environment is complete: (name, source, what, path, type).
    let mut templates: Vec<(String, String, String, String, Option<AttributeType>)> = Vec::new();
    for (name, spec) in &specs {
        let path = format!("mapping.fields.{name}");
        let what = format!("field '{name}'");
        if name.trim().is_empty() {
            c.problem(&path, &what, "a field needs a name");
            continue;
        }
        if RESERVED_FIELDS.contains(&name.as_str()) {
            c.problem(
                &path,
                &what,
                format!("'{name}' is reserved (the record carries it itself); choose another name"),
            );
            continue;
        }
        let (from, template, ty, required) = match spec {
            FieldSpec::Template(t) => (None, Some(t), None, false),
            FieldSpec::Detailed {
                from,
                template,
                r#type,
                required,
            } => (from.as_ref(), template.as_ref(), *r#type, *required),
        };
        let source = match (from, template) {
            (Some(_), Some(_)) => {
                c.problem(&path, &what, "set either `from` or `template`, not both");
                continue;
            }
            (None, None) => {
                c.problem(&path, &what, "set `from` (a variable) or `template`");
                continue;
            }
            (Some(from), None) => match check_from(&mut c, from, ty, &path, &what) {
                Some(source) => source,
                None => continue,
            },
            (None, Some(template)) => {
                let tname = format!("fields.{name}");
                match env.add_template_owned(tname.clone(), template.clone()) {
                    Ok(()) => {
                        templates.push((tname.clone(), template.clone(), what, path, ty));
                        Source::Template(tname)
                    }
                    Err(err) => {
                        c.problem(&path, &what, describe(&err, template, true));
                        continue;
                    }
                }
            }
        };
        fields.push(Field {
            name: name.clone(),
            key: psync_model::Name::new(name),
            source,
            ty,
            required,
        });
    }

    // Lookup tables.
    for (name, table) in &config.lookups {
        if table.entries.is_empty() && table.default.is_none() {
            c.problem(
                format!("mapping.lookups.{name}"),
                &format!("lookup table '{name}'"),
                "has no entries and no default",
            );
        }
    }

    // From here on the environment is complete and only read.
    let env = env;
    let probe = PersonContext::value(&context::sample_employee());
    let globals: BTreeSet<String> = env.globals().map(|(n, _)| n.to_string()).collect();

    for (tname, source, what, path, ty) in &templates {
        let Ok(template) = env.get_template(tname) else {
            continue;
        };
        let vars = template.undeclared_variables(false);
        let refs = scan::scan(source, false);
        let before = c.problems.len();
        check_names(&mut c, &env, &globals, vars, &refs, source, what, path);
        if c.problems.len() == before {
            match template.render(probe.clone()) {
                Err(err) if structural(&err) => c.problem(path, what, describe(&err, source, true)),
                Err(_) => {}
                Ok(out) => {
                    // A constant template, or one over standard variables only, must give
                    // output of its type for the sample employee.
                    let out = out.trim();
                    if let (Some(ty), false) = (ty, refs.custom_dynamic || !refs.custom.is_empty())
                        && let Err(e) = convert::parse_text(out, Some(*ty))
                    {
                        c.problem(
                            path,
                            what,
                            format!("type {ty}: {e} (the output for a sample employee)"),
                        );
                    }
                }
            }
        }
    }

    // Scope.
    if let Some(scope) = &config.scope {
        check_expression(
            &mut c,
            &env,
            &globals,
            &probe,
            scope,
            "scope",
            "mapping.scope",
        );
    } else {
        c.used.insert("status".to_string());
    }

    // Groups.
    let groups = config.groups.as_ref().map(|g| {
        if g.levels.is_empty() {
            c.problem(
                "mapping.groups.levels",
                "groups",
                "set at least one level, e.g. levels = [\"office\", \"department\"]",
            );
        }
        for (i, level) in g.levels.iter().enumerate() {
            check_expression(
                &mut c,
                &env,
                &globals,
                &probe,
                level,
                &format!("group level {}", i + 1),
                &format!("mapping.groups.levels[{i}]"),
            );
        }
        let fallback = g.fallback.as_ref().and_then(|f| {
            let path = parse_group_path(f);
            if path.0.is_empty() {
                c.problem(
                    "mapping.groups.fallback",
                    "groups",
                    "the fallback group has no name",
                );
                None
            } else {
                Some(path)
            }
        });
        Groups {
            levels: g.levels.clone(),
            flat: g.flat,
            create_missing: g.create_missing,
            fallback,
        }
    });

    if config.manager {
        c.used.insert("supervisor".to_string());
    }

    // Tests: the employees must parse and expectations must name fields of the mapping.
    let field_names: BTreeSet<&str> = fields.iter().map(|f| f.name.as_str()).collect();
    let mut tests = Vec::new();
    let mut names = BTreeSet::new();
    for (i, test) in config.tests.iter().enumerate() {
        let path = format!("mapping.tests[{i}]");
        let what = format!("test '{}'", test.name);
        if test.name.trim().is_empty() {
            c.problem(&path, &format!("test {}", i + 1), "a test needs a name");
        } else if !names.insert(test.name.as_str()) {
            c.problem(&path, &what, "another test has the same name");
        }
        for key in test.expect.keys() {
            if !field_names.contains(key.as_str()) {
                c.problem(
                    format!("{path}.expect.{key}"),
                    &what,
                    format!(
                        "expects field '{key}', which the mapping does not have{}",
                        suggest(key, field_names.iter().copied())
                    ),
                );
            }
        }
        if test.in_scope == Some(false) && (!test.expect.is_empty() || test.groups.is_some()) {
            c.problem(
                &path,
                &what,
                "expects attributes or groups of a person it expects out of scope",
            );
        }
        match serde_json::from_value::<Employee>(test.employee.clone()) {
            Ok(e) => tests.push((test.clone(), e)),
            Err(err) => c.problem(
                format!("{path}.employee"),
                &what,
                format!("the employee is not valid: {err}"),
            ),
        }
    }

    let Checker {
        mut problems,
        mut used,
        ..
    } = c;
    if !problems.is_empty() {
        // In config order: scope, fields, lookups, groups, tests; stable within one path.
        let rank = |p: &str| {
            [
                "mapping.scope",
                "mapping.fields",
                "mapping.lookups",
                "mapping.groups",
            ]
            .iter()
            .position(|s| p.starts_with(s))
            .unwrap_or(4)
        };
        problems.sort_by(|a, b| {
            rank(&a.path)
                .cmp(&rank(&b.path))
                .then_with(|| a.path.cmp(&b.path))
        });
        return Err(problems);
    }
    for f in &fields {
        match &f.source {
            Source::Variable(v) => {
                used.extend(canonical(v).iter().map(|s| s.to_string()));
            }
            Source::Custom(k) => {
                used.insert(format!("custom.{k}"));
            }
            Source::Template(_) => {}
        }
    }
    Ok(Mapping {
        target: target.to_string(),
        env,
        scope: config.scope.clone(),
        fields,
        groups,
        manager: config.manager,
        tests,
        used,
    })
}

/// Checks a `from`: a standard variable or `custom.<key or label>`, convertible to `ty`.
fn check_from(
    c: &mut Checker<'_>,
    from: &str,
    ty: Option<AttributeType>,
    path: &str,
    what: &str,
) -> Option<Source> {
    let from = from.trim();
    if let Some(key) = custom_key(from) {
        if key.is_empty() {
            c.problem(
                path,
                what,
                "name the custom attribute: `custom.<key or label>`",
            );
            return None;
        }
        return Some(Source::Custom(key.to_string()));
    }
    let Some(var) = VARIABLES
        .iter()
        .copied()
        .find(|v| *v == from && *v != "custom")
    else {
        let hint = if from == "custom" {
            " (name the custom attribute: `custom.<key or label>`)".to_string()
        } else {
            suggest(from, VARIABLES.iter().copied())
        };
        c.problem(
            path,
            what,
            format!("`from` names unknown attribute '{from}'{hint}"),
        );
        return None;
    };
    // Dates and lists convert only into compatible types; text is checked per person.
    if let (Some(ty), Some(src)) = (ty, context::variable_type(var)) {
        let sample = context::typed_variable(&context::sample_employee(), var);
        let incompatible = match src {
            AttributeType::Date | AttributeType::Tags => {
                sample.and_then(|v| convert::convert(v, Some(ty)).err())
            }
            _ => None,
        };
        if let Some(e) = incompatible {
            c.problem(
                path,
                what,
                format!("`from = \"{var}\"` with type {ty}: {e}"),
            );
            return None;
        }
    }
    Some(Source::Variable(var))
}

/// `custom.key`, `custom["Label"]`, `custom['Label']` → the key or label.
fn custom_key(from: &str) -> Option<&str> {
    if let Some(rest) = from.strip_prefix("custom.") {
        return Some(rest.trim());
    }
    let rest = from.strip_prefix("custom[")?.strip_suffix(']')?.trim();
    let unquoted = rest
        .strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .or_else(|| rest.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')))?;
    Some(unquoted)
}

/// Compiles and checks a boolean/level expression.
fn check_expression(
    c: &mut Checker<'_>,
    env: &Environment<'static>,
    globals: &BTreeSet<String>,
    probe: &JValue,
    source: &str,
    what: &str,
    path: &str,
) {
    match env.compile_expression_owned(source.to_string()) {
        Err(err) => c.problem(path, what, describe(&err, source, true)),
        Ok(expr) => {
            let vars = expr.undeclared_variables(false);
            let refs = scan::scan(source, true);
            let before = c.problems.len();
            check_names(c, env, globals, vars, &refs, source, what, path);
            if c.problems.len() == before
                && let Err(err) = expr.eval(probe.clone())
                && structural(&err)
            {
                c.problem(path, what, describe(&err, source, true));
            }
        }
    }
}

/// Checks variables, filters, tests and lookup tables a source names; records used attributes.
#[allow(
    clippy::too_many_arguments,
    reason = "internal helper; the arguments are the parts of one check"
)]
fn check_names(
    c: &mut Checker<'_>,
    env: &Environment<'static>,
    globals: &BTreeSet<String>,
    vars: std::collections::HashSet<String>,
    refs: &Refs,
    source: &str,
    what: &str,
    path: &str,
) {
    let mut vars: Vec<String> = vars.into_iter().collect();
    vars.sort();
    for var in vars {
        if VARIABLES.contains(&var.as_str()) {
            if var != "custom" {
                c.used.extend(canonical(&var).iter().map(|s| s.to_string()));
            }
        } else if !globals.contains(&var) {
            c.problem(
                path,
                what,
                format!(
                    "unknown variable '{var}'{}",
                    suggest(&var, VARIABLES.iter().copied())
                ),
            );
        }
    }
    for key in &refs.custom {
        c.used.insert(format!("custom.{key}"));
    }
    if refs.custom_dynamic {
        c.used.insert("custom".to_string());
    }
    let mut seen = BTreeSet::new();
    for (name, at) in &refs.filters {
        if !seen.insert(name.as_str()) || exists(env, name, "filter") {
            continue;
        }
        let (line, col) = scan::line_col(source, *at);
        let known = FILTER_NAMES
            .iter()
            .chain(OWN_FILTERS)
            .copied()
            .filter(|n| exists(env, n, "filter"));
        c.problem(
            path,
            what,
            format!(
                "unknown filter '{name}'{} (line {line}, column {col})",
                suggest(name, known)
            ),
        );
    }
    for (name, at) in &refs.tests {
        if !exists(env, name, "test") {
            let (line, col) = scan::line_col(source, *at);
            c.problem(
                path,
                what,
                format!("unknown test '{name}' (line {line}, column {col})"),
            );
        }
    }
    for (table, at) in &refs.lookup_tables {
        if !c.config.lookups.contains_key(table) {
            let (line, col) = scan::line_col(source, *at);
            let hint = suggest(table, c.config.lookups.keys().map(String::as_str));
            let hint = if hint.is_empty() && c.config.lookups.is_empty() {
                " (no lookup tables are configured)".to_string()
            } else {
                hint
            };
            c.problem(
                path,
                what,
                format!("unknown lookup table '{table}'{hint} (line {line}, column {col})"),
            );
        }
    }
}

/// Whether the environment has a filter or test of that name (minijinja's `is filter`/`is test`).
fn exists(env: &Environment<'static>, name: &str, kind: &str) -> bool {
    // `name` is an identifier (from the scanner or our lists), so quoting it is safe.
    if !name.chars().all(|c| c == '_' || c.is_ascii_alphanumeric()) {
        return false;
    }
    env.compile_expression_owned(format!("'{name}' is {kind}"))
        .and_then(|e| e.eval(()))
        .is_ok_and(|v| v.is_true())
}

/// minijinja's builtin filters, for "did you mean" (only those the environment has are offered).
const FILTER_NAMES: &[&str] = &[
    "abs",
    "attr",
    "batch",
    "bool",
    "capitalize",
    "chain",
    "default",
    "d",
    "dictsort",
    "escape",
    "e",
    "first",
    "float",
    "groupby",
    "indent",
    "int",
    "items",
    "join",
    "last",
    "length",
    "lines",
    "list",
    "lower",
    "map",
    "max",
    "min",
    "pprint",
    "reject",
    "rejectattr",
    "replace",
    "reverse",
    "round",
    "safe",
    "select",
    "selectattr",
    "slice",
    "sort",
    "split",
    "string",
    "sum",
    "title",
    "tojson",
    "trim",
    "unique",
    "upper",
    "urlencode",
    "zip",
];

/// Errors a probe render reports as problems: they hold for every person, not just the sample.
fn structural(err: &Error) -> bool {
    matches!(
        err.kind(),
        ErrorKind::UndefinedError
            | ErrorKind::UnknownFilter
            | ErrorKind::UnknownTest
            | ErrorKind::UnknownFunction
            | ErrorKind::UnknownMethod
            | ErrorKind::MissingArgument
            | ErrorKind::TooManyArguments
    )
}

/// A minijinja error as one line: what went wrong, the failing text, and (when `position`)
/// where in the source.
pub(crate) fn describe(err: &Error, source: &str, position: bool) -> String {
    let mut msg = match (err.kind(), err.detail()) {
        (ErrorKind::InvalidOperation, Some(detail)) => detail.to_string(),
        (kind, Some(detail)) => format!("{kind}: {detail}"),
        (kind, None) => kind.to_string(),
    };
    let range = err
        .range()
        .filter(|r| r.end <= source.len() && r.start < r.end);
    if let Some(snippet) = range.as_ref().and_then(|r| source.get(r.clone())) {
        let snippet = snippet.trim();
        let said = err.detail().is_some_and(|d| d.contains(snippet));
        let own_message = matches!(
            err.kind(),
            ErrorKind::SyntaxError | ErrorKind::InvalidOperation
        );
        if !own_message && snippet.len() < 80 && !said {
            msg.push_str(&format!(" in `{snippet}`"));
        }
    }
    if position {
        if let Some(r) = range {
            let (line, col) = scan::line_col(source, r.start);
            msg.push_str(&format!(" (line {line}, column {col})"));
        } else if let Some(line) = err.line() {
            msg.push_str(&format!(" (line {line})"));
        }
    }
    msg
}

/// `" (did you mean 'x'?)"` for the closest candidate within a small edit distance, else `""`.
pub(crate) fn suggest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> String {
    let limit = (name.chars().count() / 3).clamp(1, 3);
    let best = candidates
        .map(|cand| (distance(&name.to_lowercase(), &cand.to_lowercase()), cand))
        .filter(|(d, _)| *d <= limit)
        .min_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(b.1)));
    match best {
        Some((_, cand)) => format!(" (did you mean '{cand}'?)"),
        None => String::new(),
    }
}

/// Levenshtein distance (with adjacent transpositions counted once).
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev2: Vec<usize> = vec![0; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut cur = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                cur[j] = cur[j].min(prev2[j - 2] + 1);
            }
        }
        prev2 = std::mem::replace(&mut prev, cur);
    }
    prev[b.len()]
}

/// The canonical attribute names (`Employee::STANDARD_ATTRIBUTES`) a variable reads.
fn canonical(var: &str) -> &'static [&'static str] {
    match var {
        "display_name" => &["first_name", "last_name", "preferred_name"],
        "department_path" => &["department"],
        "cost_center" | "cost_centers" => &["cost_centers"],
        "supervisor_id" => &["supervisor"],
        "avatar_url" => &["avatar"],
        "id" => &["id"],
        "first_name" => &["first_name"],
        "last_name" => &["last_name"],
        "preferred_name" => &["preferred_name"],
        "email" => &["email"],
        "gender" => &["gender"],
        "status" => &["status"],
        "position" => &["position"],
        "department" => &["department"],
        "team" => &["team"],
        "office" => &["office"],
        "legal_entity" => &["legal_entity"],
        "hire_date" => &["hire_date"],
        "termination_date" => &["termination_date"],
        "last_working_day" => &["last_working_day"],
        "contract_end_date" => &["contract_end_date"],
        "employment_type" => &["employment_type"],
        "weekly_hours" => &["weekly_hours"],
        _ => &[],
    }
}

/// `"A / B"` (or `"A/B"`) → `["A", "B"]`, empty segments dropped.
pub(crate) fn parse_group_path(s: &str) -> GroupPath {
    GroupPath(
        s.split('/')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_pick_the_closest_name() {
        assert_eq!(
            suggest("emial", VARIABLES.iter().copied()),
            " (did you mean 'email'?)"
        );
        assert_eq!(
            suggest("frist_name", VARIABLES.iter().copied()),
            " (did you mean 'first_name'?)"
        );
        assert_eq!(suggest("zzzzzz", VARIABLES.iter().copied()), "");
        assert_eq!(distance("abc", "abc"), 0);
        assert_eq!(distance("ab", "ba"), 1);
        assert_eq!(distance("", "abc"), 3);
    }

    #[test]
    fn custom_keys_in_from() {
        assert_eq!(custom_key("custom.Shirt size"), Some("Shirt size"));
        assert_eq!(custom_key(r#"custom["Shirt size"]"#), Some("Shirt size"));
        assert_eq!(custom_key("custom['x']"), Some("x"));
        assert_eq!(custom_key("hire_date"), None);
    }

    #[test]
    fn group_paths_parse_with_or_without_spaces() {
        assert_eq!(parse_group_path("A / B").0, vec!["A", "B"]);
        assert_eq!(parse_group_path("A/B/").0, vec!["A", "B"]);
        assert!(parse_group_path(" / ").0.is_empty());
    }
}
