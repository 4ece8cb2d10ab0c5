//! Mapping employees: scope, fields, groups per person, then managers across all of them.

use crate::compile::{Field, Mapping, Source, describe};
use crate::context::{self, PersonContext};
use crate::convert;
use crate::filters::value_text;
use jiff::civil::Date;
use minijinja::value::{Value as JValue, ValueKind};
use minijinja::{Expression, Template};
use psync_model::{
    AppliedAccount, Employee, EmployeeId, EmploymentStatus, GroupPath, PlanNote, TargetRecord,
    Value,
};
use std::cell::OnceCell;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// Why one person could not be mapped. The person is skipped (and must never be
/// deprovisioned because of it); the rest of the run goes on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("person {person}: {}: {message}", field_label(field))]
pub struct MappingError {
    /// Who.
    pub person: EmployeeId,
    /// The target attribute, or `scope`, `groups`, `id`.
    pub field: String,
    /// What went wrong, e.g. `lookup table 'office_country' has no entry for 'Springfield' and no default`.
    pub message: String,
}

/// `field 'email'` for attributes; `scope`, `groups` and `id` as they are.
fn field_label(field: &str) -> String {
    match field {
        "scope" | "groups" | "id" => field.to_string(),
        _ => format!("field '{field}'"),
    }
}

/// The result of mapping a whole read.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Mapped {
    /// One per input employee that mapped without error, in input order.
    pub people: Vec<MappedPerson>,
    /// Things to read: managers outside the scope or unknown.
    pub notes: Vec<PlanNote>,
    /// People that could not be mapped (not in `people`).
    pub errors: Vec<MappingError>,
}

/// What the first pass found for one person.
enum Desired {
    /// Out of scope.
    Out,
    /// In scope with this record.
    Record(TargetRecord),
    /// In scope, and the record equals the applied one (managers aside, set later).
    AsApplied,
}

/// Whether two records agree on everything but the manager.
fn equal_but_manager(a: &TargetRecord, b: &TargetRecord) -> bool {
    a.person == b.person
        && a.active == b.active
        && a.attributes == b.attributes
        && a.groups == b.groups
}

/// One employee as the planner needs them.
#[derive(Debug, Clone, PartialEq)]
pub struct MappedPerson {
    /// Personio's id.
    pub id: EmployeeId,
    /// The desired record; `None` = out of scope, unless `as_applied`.
    pub record: Option<TargetRecord>,
    /// The desired record is exactly the account's last-applied record, so it is not held a
    /// second time (`record` is `None`): see [`Mapping::map_all_against`]. A 100k resync holds
    /// one copy of each unchanged record instead of two.
    pub as_applied: bool,
    /// Copied from the employee.
    pub status: Option<EmploymentStatus>,
    /// Copied from the employee.
    pub hire_date: Option<Date>,
    /// Copied from the employee.
    pub termination_date: Option<Date>,
}

/// The per-call compiled pieces: expressions and templates borrow the mapping's environment,
/// so they are looked up once per `map_all`, never per person.
pub(crate) struct Runner<'m> {
    mapping: &'m Mapping,
    scope: Option<Expression<'m, 'static>>,
    templates: Vec<Option<Template<'m, 'm>>>,
    levels: Vec<Expression<'m, 'static>>,
}

impl<'m> Runner<'m> {
    pub(crate) fn new(mapping: &'m Mapping) -> Result<Self, String> {
        let env = &mapping.env;
        let scope = match &mapping.scope {
            Some(s) => Some(
                env.compile_expression_owned(s.clone())
                    .map_err(|e| format!("scope: {}", describe(&e, s, true)))?,
            ),
            None => None,
        };
        let mut templates = Vec::with_capacity(mapping.fields.len());
        for field in &mapping.fields {
            templates.push(match &field.source {
                Source::Template(name) => Some(
                    env.get_template(name)
                        .map_err(|e| format!("field '{}': {e}", field.name))?,
                ),
                Source::Variable(_) | Source::Custom(_) => None,
            });
        }
        let mut levels = Vec::new();
        if let Some(groups) = &mapping.groups {
            for level in &groups.levels {
                levels.push(
                    env.compile_expression_owned(level.clone())
                        .map_err(|e| format!("groups: {}", describe(&e, level, true)))?,
                );
            }
        }
        Ok(Runner {
            mapping,
            scope,
            templates,
            levels,
        })
    }

    /// Scope, fields and groups for one person (no manager).
    pub(crate) fn map_one(&self, e: &Employee) -> Result<Option<TargetRecord>, MappingError> {
        let ctx = OnceCell::new();
        let ctx = || ctx.get_or_init(|| PersonContext::value(e)).clone();
        let error = |field: &str, message: String| MappingError {
            person: e.id.clone(),
            field: field.to_string(),
            message,
        };

        let in_scope = match (&self.scope, &self.mapping.scope) {
            (Some(expr), Some(src)) => expr
                .eval(ctx())
                .map_err(|err| error("scope", describe(&err, src, false)))?
                .is_true(),
            _ => matches!(
                e.status,
                Some(
                    EmploymentStatus::Active
                        | EmploymentStatus::Onboarding
                        | EmploymentStatus::Leave
                )
            ),
        };
        if !in_scope {
            return Ok(None);
        }

        let mut record = TargetRecord::new(e.id.clone());
        // Collected in one go: the record keeps exactly one allocation for its attributes
        // (100k records are held twice during a plan: desired and applied).
        let mut values = Vec::with_capacity(self.mapping.fields.len());
        for (field, template) in self.mapping.fields.iter().zip(&self.templates) {
            let mut value = field_value(field, template.as_ref(), e, &ctx)
                .map_err(|message| error(&field.name, message))?;
            if field.required && value.is_empty() {
                return Err(error(
                    &field.name,
                    "required, but the value is empty".into(),
                ));
            }
            if let Value::Text(text) = &mut value {
                text.shrink_to_fit();
            }
            values.push((field.key.clone(), value));
        }
        record.attributes = values.into_iter().collect();

        if let Some(groups) = &self.mapping.groups {
            let mut path = Vec::new();
            'levels: for (expr, src) in self.levels.iter().zip(&groups.levels) {
                let value = expr
                    .eval(ctx())
                    .map_err(|err| error("groups", describe(&err, src, false)))?;
                let names = level_names(&value)
                    .map_err(|err| error("groups", describe(&err, src, false)))?;
                if groups.flat {
                    for name in names {
                        record.groups.insert(GroupPath(vec![name]));
                    }
                } else {
                    if names.is_empty() {
                        break 'levels;
                    }
                    path.extend(names);
                }
            }
            if !path.is_empty() {
                record.groups.insert(GroupPath(path));
            }
        }
        Ok(Some(record))
    }
}

/// The non-empty names one level expression gives (a list expands).
fn level_names(value: &JValue) -> Result<Vec<String>, minijinja::Error> {
    let mut names = Vec::new();
    if value.kind() == ValueKind::Seq {
        for item in value.try_iter()? {
            let name = value_text(&item).trim().to_string();
            if !name.is_empty() {
                names.push(name);
            }
        }
    } else if value.is_true() {
        let name = value_text(value).trim().to_string();
        if !name.is_empty() {
            names.push(name);
        }
    }
    Ok(names)
}

/// One field's typed value for one person.
fn field_value(
    field: &Field,
    template: Option<&Template<'_, '_>>,
    e: &Employee,
    ctx: &impl Fn() -> JValue,
) -> Result<Value, String> {
    match (&field.source, template) {
        (Source::Variable(var), _) => convert::convert(
            context::typed_variable(e, var).unwrap_or(Value::Null),
            field.ty,
        ),
        (Source::Custom(key), _) => convert::convert(context::typed_custom(e, key), field.ty),
        (Source::Template(_), Some(template)) => {
            let out = template
                .render(ctx())
                .map_err(|err| describe(&err, template.source(), false))?;
            convert::parse_text(out.trim(), field.ty)
        }
        (Source::Template(name), None) => Err(format!("template '{name}' is not compiled")),
    }
}

impl Mapping {
    /// Scope, fields and groups for one person, without the manager pass (a one-person read
    /// cannot tell whether the supervisor is in scope). `Ok(None)`: out of scope.
    pub fn map_one(&self, employee: &Employee) -> Result<Option<TargetRecord>, MappingError> {
        match Runner::new(self) {
            Ok(runner) => runner.map_one(employee),
            Err(message) => Err(MappingError {
                person: employee.id.clone(),
                field: "scope".into(),
                message,
            }),
        }
    }

    /// Maps a whole read: scope, fields and groups per person, then managers across all of
    /// them. Deterministic; a person with an error is skipped and reported, never the run.
    ///
    /// An id that occurs more than once in `employees` is an error for each occurrence
    /// (which record is right cannot be known).
    pub fn map_all(&self, employees: &[Employee]) -> Mapped {
        self.map_all_against(employees, None)
    }

    /// [`map_all`](Self::map_all), and every record that comes out exactly equal to the
    /// account's record in `applied` is dropped right away and marked
    /// [`as_applied`](MappedPerson::as_applied): the planner reads it from `applied`. Gives
    /// the same plan as `map_all` with less memory (most people are unchanged in a resync).
    pub fn map_all_against(
        &self,
        employees: &[Employee],
        applied: Option<&BTreeMap<EmployeeId, AppliedAccount>>,
    ) -> Mapped {
        let mut mapped = Mapped::default();
        let runner = match Runner::new(self) {
            Ok(runner) => runner,
            Err(message) => {
                mapped.errors = employees
                    .iter()
                    .map(|e| MappingError {
                        person: e.id.clone(),
                        field: "scope".into(),
                        message: message.clone(),
                    })
                    .collect();
                return mapped;
            }
        };

        let mut occurrences: HashMap<&EmployeeId, usize> = HashMap::with_capacity(employees.len());
        for e in employees {
            *occurrences.entry(&e.id).or_insert(0) += 1;
        }
        // Managers are set in the second pass, so the first compares everything else.
        let same = |record: &TargetRecord| -> bool {
            applied
                .and_then(|a| a.get(&record.person))
                .is_some_and(|account| equal_but_manager(&account.record, record))
        };
        let results = self.map_each(employees, &runner, &same);
        // The employee behind each entry of `people`, for the manager pass.
        let mut sources: Vec<&Employee> = Vec::with_capacity(employees.len());
        for (e, result) in employees.iter().zip(results) {
            let count = occurrences.get(&e.id).copied().unwrap_or(1);
            if count > 1 {
                mapped.errors.push(MappingError {
                    person: e.id.clone(),
                    field: "id".into(),
                    message: format!(
                        "{count} employees in this read have this id; all of them are skipped"
                    ),
                });
                continue;
            }
            match result {
                Ok(desired) => {
                    let (record, as_applied) = match desired {
                        Desired::Out => (None, false),
                        Desired::Record(record) => (Some(record), false),
                        Desired::AsApplied => (None, true),
                    };
                    mapped.people.push(MappedPerson {
                        id: e.id.clone(),
                        record,
                        as_applied,
                        status: e.status.clone(),
                        hire_date: e.hire_date,
                        termination_date: e.termination_date,
                    });
                    sources.push(e);
                }
                Err(err) => mapped.errors.push(err),
            }
        }

        if self.manager {
            self.resolve_managers(&mut mapped, &sources, employees, applied);
        } else if let Some(applied) = applied {
            // Without managers the desired record has none: an applied one differs.
            for person in &mut mapped.people {
                if person.as_applied
                    && let Some(account) = applied.get(&person.id)
                    && account.record.manager.is_some()
                {
                    let mut record = account.record.clone();
                    record.manager = None;
                    person.record = Some(record);
                    person.as_applied = false;
                }
            }
        }
        mapped.people.shrink_to_fit();
        mapped
    }

    /// Maps every employee, in input order. Large reads are split across the machine's cores
    /// (each thread compiles its own expressions); the result does not depend on the split.
    fn map_each(
        &self,
        employees: &[Employee],
        runner: &Runner<'_>,
        same: &(dyn Fn(&TargetRecord) -> bool + Sync),
    ) -> Vec<Result<Desired, MappingError>> {
        const PARALLEL_FROM: usize = 4096;
        let one = |runner: &Runner<'_>, e: &Employee| -> Result<Desired, MappingError> {
            Ok(match runner.map_one(e)? {
                None => Desired::Out,
                Some(record) if same(&record) => Desired::AsApplied,
                Some(record) => Desired::Record(record),
            })
        };
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(8);
        if threads < 2 || employees.len() < PARALLEL_FROM {
            return employees.iter().map(|e| one(runner, e)).collect();
        }
        let chunk = employees.len().div_ceil(threads);
        std::thread::scope(|scope| {
            let handles: Vec<_> = employees
                .chunks(chunk)
                .map(|part| {
                    scope.spawn(move || match Runner::new(self) {
                        Ok(own) => part.iter().map(|e| one(&own, e)).collect::<Vec<_>>(),
                        Err(message) => part
                            .iter()
                            .map(|e| {
                                Err(MappingError {
                                    person: e.id.clone(),
                                    field: "scope".into(),
                                    message: message.clone(),
                                })
                            })
                            .collect(),
                    })
                })
                .collect();
            let mut all = Vec::with_capacity(employees.len());
            for (handle, part) in handles.into_iter().zip(employees.chunks(chunk)) {
                match handle.join() {
                    Ok(results) => all.extend(results),
                    // A panicking thread is a bug; map that part on this thread instead.
                    Err(_) => all.extend(part.iter().map(|e| one(runner, e))),
                }
            }
            all
        })
    }

    /// Second pass: manager = supervisor when the supervisor is in scope of this mapping.
    /// A person kept [`as_applied`](MappedPerson::as_applied) whose manager turns out to differ
    /// from the applied one gets their record back (the applied one with the new manager).
    fn resolve_managers<'e>(
        &self,
        mapped: &mut Mapped,
        sources: &[&'e Employee],
        all: &'e [Employee],
        applied: Option<&BTreeMap<EmployeeId, AppliedAccount>>,
    ) {
        let in_scope: HashSet<&EmployeeId> = mapped
            .people
            .iter()
            .zip(sources)
            .filter(|(p, _)| p.record.is_some() || p.as_applied)
            .map(|(_, e)| &e.id)
            .collect();
        let failed: HashSet<&EmployeeId> = mapped.errors.iter().map(|e| &e.person).collect();
        let known: HashSet<&EmployeeId> = all.iter().map(|e| &e.id).collect();
        let target = &self.target;
        let mut notes = Vec::new();
        for (person, e) in mapped.people.iter_mut().zip(sources) {
            if person.record.is_none() && !person.as_applied {
                continue;
            }
            let (manager, message) = match e.supervisor_id.as_ref() {
                None => (None, None),
                Some(supervisor) if supervisor == &e.id => (
                    None,
                    Some(format!(
                        "person {} is their own supervisor in Personio; no manager is set in target '{target}'",
                        e.id
                    )),
                ),
                Some(supervisor) if in_scope.contains(supervisor) => {
                    (Some(supervisor.clone()), None)
                }
                Some(supervisor) if failed.contains(supervisor) => (
                    None,
                    Some(format!(
                        "supervisor {supervisor} of person {} could not be mapped for target '{target}'; no manager is set",
                        e.id
                    )),
                ),
                Some(supervisor) if known.contains(supervisor) => (
                    None,
                    Some(format!(
                        "supervisor {supervisor} of person {} is not in the scope of target '{target}'; no manager is set",
                        e.id
                    )),
                ),
                Some(supervisor) => (
                    None,
                    Some(format!(
                        "supervisor {supervisor} of person {} is not in this read of Personio; no manager is set in target '{target}'",
                        e.id
                    )),
                ),
            };
            if let Some(message) = message {
                notes.push(PlanNote {
                    person: Some(e.id.clone()),
                    message,
                });
            }
            if let Some(record) = person.record.as_mut() {
                record.manager = manager;
            } else if let Some(account) = applied.and_then(|a| a.get(&person.id))
                && account.record.manager != manager
            {
                let mut record = account.record.clone();
                record.manager = manager;
                person.record = Some(record);
                person.as_applied = false;
            }
        }
        mapped.notes.extend(notes);
    }

    /// Fits a record's groups to the groups a target has, when `create_missing = false`:
    /// a group not in `existing` becomes its nearest existing ancestor, else the fallback
    /// (which is used even if not in `existing`: it is the configured landing group), else
    /// it is dropped. Each change is noted. With `create_missing = true` nothing changes.
    pub fn resolve_groups(
        &self,
        record: &mut TargetRecord,
        existing: &BTreeSet<GroupPath>,
        notes: &mut Vec<PlanNote>,
    ) {
        let Some(groups) = &self.groups else {
            return;
        };
        if groups.create_missing {
            return;
        }
        let mut resolved = BTreeSet::new();
        for group in std::mem::take(&mut record.groups) {
            if existing.contains(&group) {
                resolved.insert(group);
                continue;
            }
            let ancestor = (1..group.0.len())
                .rev()
                .map(|n| GroupPath(group.0[..n].to_vec()))
                .find(|p| existing.contains(p));
            let message = match ancestor.or_else(|| groups.fallback.clone()) {
                Some(place) => {
                    let m = format!(
                        "group '{group}' does not exist in target '{}' and is not created (create_missing = false); person {} is placed in '{place}'",
                        self.target, record.person
                    );
                    resolved.insert(place);
                    m
                }
                None => format!(
                    "group '{group}' does not exist in target '{}' and is not created (create_missing = false); person {} gets no group for it (set groups.fallback)",
                    self.target, record.person
                ),
            };
            notes.push(PlanNote {
                person: Some(record.person.clone()),
                message,
            });
        }
        record.groups = resolved;
    }
}
