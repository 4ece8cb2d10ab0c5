//! The `file` target: the people of a target as CSV and JSONL snapshots in a directory,
//! replaced atomically once per run, with an optional per-run archive.
//!
//! # Files
//!
//! For a target named `hr` with `path = "/srv/export"`:
//!
//! | File | Content |
//! | --- | --- |
//! | `/srv/export/hr.jsonl` | Always written. One `TargetRecord` as compact JSON per line. It is the target's memory: `begin` reads it back, so re-applying an operation is a no-op. |
//! | `/srv/export/hr.csv` | With `"csv"` in `formats`. A header line, then one line per person. |
//! | `/srv/export/archive/<run>-hr.jsonl`, `.csv` | With `archive = true`: the snapshot as written by that run. |
//! | `/srv/export/archive/<run>-hr-report.json` | With `archive = true`: the engine's counts and failures of that run, row totals (active, inactive) and the snapshot file names. |
//!
//! Rows are sorted by person id, numeric-aware (shorter id first, then lexicographic: `9`, `10`,
//! `100`), so the same state always gives byte-identical files. A file whose content would not
//! change is not rewritten (its modification time stays), so watchers only fire on real changes.
//!
//! # Configuration
//!
//! ```toml
//! [[target]]
//! name = "hr"
//! type = "file"
//! path = "/srv/export"        # directory; created at the first run if missing
//! formats = ["csv", "jsonl"]  # default both; "jsonl" is required (it is the target's memory)
//! archive = false             # true: also keep every run's snapshot and report under archive/
//! columns = ["person", "email", "active"]   # optional CSV columns and their order
//! ```
//!
//! Column names are `person`, `active`, `groups`, `manager` or an attribute name. Without
//! `columns` the CSV has `person`, `active`, every attribute any row carries (sorted), `groups`,
//! `manager`. A configured column no row carries gives empty cells; attributes not listed are
//! only in the JSONL file. The name of the target is part of file names, so it may not contain
//! path separators or control characters, nor start with a dot.
//!
//! # CSV
//!
//! UTF-8 without byte-order mark, comma separated, CRLF line ends, quoted per RFC 4180 (a field
//! with a comma, double quote, CR or LF is enclosed in double quotes; quotes are doubled).
//! Values as [`Value::display`](psync_model::Value::display) renders them: dates `YYYY-MM-DD`,
//! lists joined by `, `, absent values empty. `active` is `true`/`false`; `groups` lists each
//! group path (`Munich / Engineering`) joined by `; `; `manager` is the manager's Personio id.
//! A cell a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, tab or CR) gets
//! a leading `'`, unless it is a plain number such as `-12.5`. The JSONL file is never altered
//! this way; it is the lossless format.
//!
//! # Semantics per operation
//!
//! The target is *batched*: `begin` loads `<name>.jsonl`, `apply` changes the rows in memory
//! and `finish` writes. Nothing is durable before `finish` returns `Ok`; a run that never
//! reaches `finish` leaves the files as they were, and the next `begin` starts afresh.
//! Rows are keyed by Personio id; the remote id returned and expected is the person id (a
//! `remote_id` in an operation is ignored: the file has no other key).
//!
//! - **Create**: no row → `Created`. A row equal to the record → `Unchanged`. A different row
//!   for the same person (state store reset, file edited by hand, another engine) may be taken
//!   over only as `match_by` allows: `external_id` → `Adopted` (the row is keyed by the
//!   Personio id, which is the external id); `email` → `Adopted` when the row's `email`
//!   attribute equals the record's, ignoring case; `none` (or e-mails differ) → a `Conflict`
//!   error, the row stays as it is.
//! - **Update** / **Enable**: the row becomes the operation's record → `Applied`, or
//!   `Unchanged` when equal. `Disable`: the same, with `active = false` forced.
//! - **Update / Enable / Disable of a person without a row**: the row is *restored* from the
//!   operation's full record (`Applied`, and a warning is logged). The file is a projection of
//!   what the engine applied; a missing row means the file lost it (hand edit, restored backup),
//!   and rewriting it is harmless, unlike re-creating an account in an identity system.
//! - **Delete**: the row is removed → `Applied`; no row → `Unchanged`. Disabled people stay in
//!   the file with `active = false` until deleted.
//! - A record with an empty person id, a decimal that is not finite (JSON cannot hold it), or,
//!   while CSV is written, an attribute named like a built-in column (`person`, `active`,
//!   `groups`, `manager`) is `Rejected`.
//!
//! # Dry run
//!
//! With `RunInfo::dry_run`, `begin` loads and `apply` answers as in a real run, but `finish`
//! writes nothing, not even a directory.
//!
//! # Check
//!
//! `check` creates nothing users can see: it probes the directory (or, when it does not exist
//! yet, its nearest existing ancestor, where it would be created) by creating and removing a
//! hidden probe file, reads and validates the snapshot, probes `archive/` when it exists, and
//! answers with a summary (directory, rows active/inactive, formats, archive).
//!
//! # Failures
//!
//! Every I/O failure is `Fatal` and names the path and what to do. A snapshot that cannot be
//! read (bad JSON, bad UTF-8, an empty or repeated person id) is `Fatal`, naming the file and the
//! line; it is never overwritten. If `<name>.jsonl` is missing while `<name>.csv` exists, the
//! memory of the target was lost: that is `Fatal` too (otherwise the next run would write a
//! snapshot holding only the people changed in that run). Files are replaced by writing a temp
//! file next to each (`.<file>.tmp`), syncing it, and renaming only once *all* temp files of the
//! run are written; the archive first, the CSV next and the JSONL last, so a failure part way
//! leaves the previous memory in place and the engine, not having had `finish` confirm, re-plans
//! the same changes next time. New files are created with mode `0640` on Unix; replaced files
//! keep their permissions. Concurrent runs against the same directory are not coordinated here
//! (the engine runs one sync per target at a time).

mod atomic;
mod csv;
mod snapshot;

use crate::ConfigProblem;
use crate::error::TargetError;
use crate::target::{RunInfo, RunReport, Target};
use crate::testkit::Inspect;
use psync_model::{EmployeeId, MatchBy, Operation, Outcome, TargetRecord, Value};
use serde::{Deserialize, Serialize};
use snapshot::Rows;
use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};
use tokio::sync::Mutex;

/// An output format of the file target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Comma-separated values, one person per line (RFC 4180).
    Csv,
    /// One JSON `TargetRecord` per line; the target's memory between runs.
    Jsonl,
}

impl Format {
    /// The file extension (and configuration name).
    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Jsonl => "jsonl",
        }
    }
}

fn default_formats() -> Vec<Format> {
    vec![Format::Csv, Format::Jsonl]
}

/// The keys of [`FileConfig`], for the configuration checker.
pub const FILE_KEYS: &[&str] = &["path", "formats", "archive", "columns"];

/// `[[target]]` keys of `type = "file"` (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// The output directory; created at the first run when missing.
    pub path: PathBuf,
    /// Formats to write; default both. `jsonl` is required.
    #[serde(default = "default_formats")]
    pub formats: Vec<Format>,
    /// Also keep each run's snapshot and report under `<path>/archive/`.
    #[serde(default)]
    pub archive: bool,
    /// CSV columns in order; default `person`, `active`, attributes sorted, `groups`, `manager`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub columns: Option<Vec<String>>,
}

impl FileConfig {
    /// A configuration writing both formats to `path`, no archive, default columns.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        FileConfig {
            path: path.into(),
            formats: default_formats(),
            archive: false,
            columns: None,
        }
    }

    /// Every problem of this configuration at once (pure: touches no file).
    pub fn validate(&self) -> Vec<ConfigProblem> {
        let mut problems = Vec::new();
        let mut problem = |path: &str, message: String| {
            problems.push(ConfigProblem {
                path: path.to_string(),
                message,
            });
        };
        if self.path.as_os_str().is_empty() {
            problem("path", "must name the output directory".into());
        }
        if self.formats.is_empty() {
            problem("formats", "must list at least \"jsonl\"".into());
        } else if !self.formats.contains(&Format::Jsonl) {
            problem(
                "formats",
                "must include \"jsonl\": the JSONL snapshot is the file target's memory between \
                 runs (without it every run would start empty); add \"jsonl\", or ignore the file"
                    .into(),
            );
        }
        let mut seen = BTreeSet::new();
        for format in &self.formats {
            if !seen.insert(format) {
                problem(
                    "formats",
                    format!("\"{}\" is listed twice", format.extension()),
                );
            }
        }
        if let Some(columns) = &self.columns {
            if !self.formats.contains(&Format::Csv) {
                problem(
                    "columns",
                    "is set but `formats` does not include \"csv\"; add \"csv\" or remove \
                     `columns`"
                        .into(),
                );
            }
            if columns.is_empty() {
                problem(
                    "columns",
                    "is empty; list the CSV columns or remove `columns` for the default".into(),
                );
            }
            let mut seen = BTreeSet::new();
            for (i, column) in columns.iter().enumerate() {
                if column.trim().is_empty() {
                    problem(&format!("columns[{i}]"), "is empty".into());
                } else if !seen.insert(column.as_str()) {
                    problem(
                        &format!("columns[{i}]"),
                        format!("\"{column}\" is listed twice"),
                    );
                }
            }
        }
        problems
    }
}

/// Whether `name` can be part of a file name.
fn name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        Some("the target name is empty; it is part of the file names".into())
    } else if name.starts_with('.') {
        Some(format!(
            "target name \"{name}\" starts with a dot; it is part of the file names and would \
             give hidden files"
        ))
    } else if name
        .chars()
        .any(|c| c == '/' || c == '\\' || c.is_control())
    {
        Some(format!(
            "target name \"{name}\" contains a path separator or a control character; it is \
             part of the file names"
        ))
    } else {
        None
    }
}

/// Files to replace: destination and content, in order.
type Files = Vec<(PathBuf, Vec<u8>)>;

/// The rows of the run in progress.
#[derive(Debug)]
struct Session {
    run: RunInfo,
    rows: Rows,
}

/// The file target (see the module documentation).
#[derive(Debug)]
pub struct FileTarget {
    name: String,
    config: FileConfig,
    session: Mutex<Option<Session>>,
}

impl FileTarget {
    /// Builds the target; no I/O. Every configuration problem is returned at once.
    pub fn new(name: impl Into<String>, config: FileConfig) -> Result<Self, Vec<ConfigProblem>> {
        let name = name.into();
        let mut problems = config.validate();
        if let Some(message) = name_problem(&name) {
            problems.push(ConfigProblem {
                path: "name".into(),
                message,
            });
        }
        if problems.is_empty() {
            Ok(FileTarget {
                name,
                config,
                session: Mutex::new(None),
            })
        } else {
            Err(problems)
        }
    }

    /// The configuration.
    pub fn config(&self) -> &FileConfig {
        &self.config
    }

    /// `<path>/<name>.jsonl`: the snapshot and memory of the target.
    pub fn snapshot_path(&self) -> PathBuf {
        self.config.path.join(format!("{}.jsonl", self.name))
    }

    /// `<path>/<name>.csv` (written only with `"csv"` in `formats`).
    pub fn csv_path(&self) -> PathBuf {
        self.config.path.join(format!("{}.csv", self.name))
    }

    /// `<path>/archive`.
    pub fn archive_dir(&self) -> PathBuf {
        self.config.path.join("archive")
    }

    /// `<path>/archive/<run>-<name>.<extension>`.
    pub fn archive_path(&self, run: i64, format: Format) -> PathBuf {
        self.archive_dir()
            .join(format!("{run}-{}.{}", self.name, format.extension()))
    }

    /// `<path>/archive/<run>-<name>-report.json`.
    pub fn report_path(&self, run: i64) -> PathBuf {
        self.archive_dir()
            .join(format!("{run}-{}-report.json", self.name))
    }

    fn writes_csv(&self) -> bool {
        self.config.formats.contains(&Format::Csv)
    }

    /// Reads the snapshot from disk, refusing to start empty when only the CSV is left.
    async fn load(&self) -> Result<Rows, TargetError> {
        let path = self.snapshot_path();
        if let Some(rows) = snapshot::load(&self.name, &path).await? {
            return Ok(rows);
        }
        let csv = self.csv_path();
        if tokio::fs::try_exists(&csv).await.unwrap_or(false) {
            return Err(TargetError::fatal(format!(
                "file target '{}': {} is missing but {} exists: the snapshot that remembers \
                 what this target holds was lost, and a run now would write only the people \
                 it changes. Restore {} (from a backup or {}), or delete {} to start from an \
                 empty file",
                self.name,
                path.display(),
                csv.display(),
                path.display(),
                self.archive_dir().display(),
                csv.display(),
            )));
        }
        Ok(Rows::new())
    }

    /// The CSV columns for these rows.
    fn columns(&self, rows: &[&TargetRecord]) -> Vec<String> {
        match &self.config.columns {
            Some(columns) => columns.clone(),
            None => csv::default_columns(rows),
        }
    }

    fn validate_record(&self, record: &TargetRecord) -> Result<(), TargetError> {
        let name = &self.name;
        if record.person.as_str().is_empty() {
            return Err(TargetError::rejected(format!(
                "file target '{name}': a record has an empty person id"
            )));
        }
        for (attribute, value) in &record.attributes {
            if let Value::Decimal(d) = value
                && !d.is_finite()
            {
                return Err(TargetError::rejected(format!(
                    "file target '{name}': person {}: attribute '{attribute}' is {d}, which \
                     JSON cannot hold; fix the mapping of '{attribute}'",
                    record.person
                )));
            }
            if self.writes_csv() && csv::RESERVED.contains(&attribute) {
                return Err(TargetError::rejected(format!(
                    "file target '{name}': person {}: attribute '{attribute}' has the name of a \
                     built-in CSV column; rename the field in the target's mapping",
                    record.person
                )));
            }
        }
        Ok(())
    }

    /// Applies one operation to the rows in memory (the semantics of the module documentation).
    fn apply_to(&self, rows: &mut Rows, op: &Operation) -> Result<Outcome, TargetError> {
        self.validate_record(op.record())?;
        let person = op.person().clone();
        let remote_id = person.to_string();
        match op {
            Operation::Create { record, match_by } => match rows.get(&person) {
                None => {
                    rows.insert(person, record.clone());
                    Ok(Outcome::Created { remote_id })
                }
                Some(existing) if existing == record => Ok(Outcome::Unchanged),
                Some(existing) => {
                    let adopt = match match_by {
                        MatchBy::None => false,
                        MatchBy::ExternalId => true,
                        MatchBy::Email => same_email(existing, record),
                    };
                    if !adopt {
                        return Err(TargetError::conflict(format!(
                            "file target '{}': {} already has a different row for person \
                             {person}, and match_by = \"{}\" does not allow taking it over; set \
                             match_by = \"external_id\" to adopt it, or remove the row from \
                             the file",
                            self.name,
                            self.snapshot_path().display(),
                            match_by_name(*match_by),
                        )));
                    }
                    rows.insert(person, record.clone());
                    Ok(Outcome::Adopted {
                        remote_id,
                        matched_by: *match_by,
                    })
                }
            },
            Operation::Update { record, .. } | Operation::Enable { record, .. } => {
                Ok(self.put(rows, op, record.clone()))
            }
            Operation::Disable { record, .. } => {
                let mut record = record.clone();
                record.active = false;
                Ok(self.put(rows, op, record))
            }
            Operation::Delete { .. } => Ok(match rows.remove(&person) {
                Some(_) => Outcome::Applied,
                None => Outcome::Unchanged,
            }),
        }
    }

    /// Sets a row that should exist; restores it when it was missing.
    fn put(&self, rows: &mut Rows, op: &Operation, record: TargetRecord) -> Outcome {
        match rows.get(&record.person) {
            Some(existing) if *existing == record => Outcome::Unchanged,
            Some(_) => {
                rows.insert(record.person.clone(), record);
                Outcome::Applied
            }
            None => {
                tracing::warn!(
                    target_name = %self.name,
                    person = %record.person,
                    action = %op.kind(),
                    "Row missing from the file snapshot; restored from the operation's record."
                );
                rows.insert(record.person.clone(), record);
                Outcome::Applied
            }
        }
    }

    /// The files of a run, in the order they are replaced.
    fn render(
        &self,
        run: &RunInfo,
        report: &RunReport,
        rows: &Rows,
    ) -> Result<(Files, Files), TargetError> {
        let sorted = snapshot::sorted(rows);
        let jsonl = snapshot::render(&self.name, &sorted)?;
        let csv = self
            .writes_csv()
            .then(|| csv::render(&sorted, &self.columns(&sorted)));
        let mut main = Vec::new();
        if let Some(csv) = &csv {
            main.push((self.csv_path(), csv.clone()));
        }
        main.push((self.snapshot_path(), jsonl.clone()));
        let mut archive = Vec::new();
        if self.config.archive {
            if let Some(csv) = csv {
                archive.push((self.archive_path(run.run, Format::Csv), csv));
            }
            archive.push((self.archive_path(run.run, Format::Jsonl), jsonl));
            let active = sorted.iter().filter(|r| r.active).count();
            let body = ArchivedReport {
                run: run.run,
                target: &self.name,
                kind: "file",
                started_at: run.started_at,
                rows: sorted.len(),
                active,
                inactive: sorted.len() - active,
                files: main
                    .iter()
                    .filter_map(|(p, _)| p.file_name())
                    .map(|n| n.to_string_lossy().into_owned())
                    .collect(),
                counts: &report.counts,
                failures: &report.failures,
            };
            let mut json = serde_json::to_vec_pretty(&body).map_err(|e| {
                TargetError::fatal(format!(
                    "file target '{}': cannot encode the run report ({e})",
                    self.name
                ))
            })?;
            json.push(b'\n');
            archive.push((self.report_path(run.run), json));
        }
        Ok((archive, main))
    }

    async fn create_dir(&self, dir: &Path) -> Result<(), TargetError> {
        tokio::fs::create_dir_all(dir).await.map_err(|e| {
            TargetError::fatal(format!(
                "file target '{}': cannot create the directory {} ({e}); create it and make it \
                 writable for the user running personio-sync, or change `path`",
                self.name,
                dir.display()
            ))
        })
    }

    /// Probes `dir` (or, when missing, its nearest existing ancestor) for writability.
    async fn check_dir(&self, dir: &Path) -> Result<String, TargetError> {
        let name = &self.name;
        let mut probe_at = dir.to_path_buf();
        let mut missing = false;
        loop {
            match tokio::fs::metadata(&probe_at).await {
                Ok(meta) if meta.is_dir() => break,
                Ok(_) => {
                    return Err(TargetError::fatal(format!(
                        "file target '{name}': {} is not a directory, so {} cannot be used; \
                         change `path`",
                        probe_at.display(),
                        dir.display()
                    )));
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                    ) =>
                {
                    missing = true;
                    match probe_at.parent() {
                        Some(parent) if !parent.as_os_str().is_empty() => {
                            probe_at = parent.to_path_buf();
                        }
                        _ => {
                            probe_at = PathBuf::from(".");
                            break;
                        }
                    }
                }
                Err(e) => {
                    return Err(TargetError::fatal(format!(
                        "file target '{name}': cannot inspect {} ({e}); check the permissions \
                         along `path`",
                        probe_at.display()
                    )));
                }
            }
        }
        atomic::probe_writable(&probe_at, name).await.map_err(|e| {
            TargetError::fatal(format!(
                "file target '{name}': the directory {} is not writable ({e}); make it writable \
                 for the user running personio-sync, or change `path`",
                probe_at.display()
            ))
        })?;
        Ok(if missing {
            format!(
                "{} does not exist yet; it will be created in {} (writable) at the first run",
                dir.display(),
                probe_at.display()
            )
        } else {
            format!("{} exists and is writable", dir.display())
        })
    }
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

fn same_email(a: &TargetRecord, b: &TargetRecord) -> bool {
    match (a.get("email"), b.get("email")) {
        (Value::Text(a), Value::Text(b)) => !a.trim().is_empty() && a.eq_ignore_ascii_case(b),
        _ => false,
    }
}

fn match_by_name(m: MatchBy) -> &'static str {
    match m {
        MatchBy::None => "none",
        MatchBy::ExternalId => "external_id",
        MatchBy::Email => "email",
    }
}

/// `archive/<run>-<name>-report.json`.
#[derive(Serialize)]
struct ArchivedReport<'a> {
    run: i64,
    target: &'a str,
    kind: &'static str,
    started_at: jiff::Timestamp,
    rows: usize,
    active: usize,
    inactive: usize,
    files: Vec<String>,
    counts: &'a BTreeMap<String, u64>,
    failures: &'a [String],
}

impl Target for FileTarget {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &'static str {
        "file"
    }

    fn batched(&self) -> bool {
        true
    }

    async fn check(&self) -> Result<String, TargetError> {
        let mut parts = vec![self.check_dir(&self.config.path).await?];
        let rows = self.load().await?;
        let active = rows.values().filter(|r| r.active).count();
        if tokio::fs::try_exists(self.snapshot_path())
            .await
            .unwrap_or(false)
        {
            parts.push(format!(
                "snapshot {} holds {} ({active} active, {} inactive)",
                self.snapshot_path().display(),
                plural(rows.len(), "row"),
                rows.len() - active
            ));
        } else {
            parts.push("no snapshot yet (the first run starts empty)".into());
        }
        let formats: Vec<&str> = self.config.formats.iter().map(|f| f.extension()).collect();
        parts.push(format!("writes {}", formats.join(", ")));
        if self.config.archive {
            let archive = self.archive_dir();
            if tokio::fs::try_exists(&archive).await.unwrap_or(false) {
                self.check_dir(&archive).await?;
            }
            parts.push(format!("archives every run in {}", archive.display()));
        }
        Ok(format!("file target '{}': {}", self.name, parts.join("; ")))
    }

    async fn begin(&self, run: &RunInfo) -> Result<(), TargetError> {
        let mut session = self.session.lock().await;
        if let Some(old) = session.take() {
            tracing::warn!(
                target_name = %self.name,
                run = old.run.run,
                "Run was not finished; its changes to the file snapshot are discarded."
            );
        }
        let rows = self.load().await?;
        tracing::debug!(target_name = %self.name, run = run.run, rows = rows.len(), "File snapshot loaded.");
        *session = Some(Session {
            run: run.clone(),
            rows,
        });
        Ok(())
    }

    async fn apply(&self, op: &Operation) -> Result<Outcome, TargetError> {
        let mut session = self.session.lock().await;
        let Some(session) = session.as_mut() else {
            return Err(TargetError::fatal(format!(
                "file target '{}': an operation arrived outside a run (no `begin`); this is a \
                 bug in the engine, please report it",
                self.name
            )));
        };
        self.apply_to(&mut session.rows, op)
    }

    async fn finish(&self, run: &RunInfo, report: &RunReport) -> Result<(), TargetError> {
        let mut guard = self.session.lock().await;
        let session = match guard.as_ref() {
            Some(s) if s.run.run == run.run => s,
            Some(s) => {
                return Err(TargetError::fatal(format!(
                    "file target '{}': finish of run {} but run {} is in progress; this is a bug \
                     in the engine, please report it",
                    self.name, run.run, s.run.run
                )));
            }
            None => {
                return Err(TargetError::fatal(format!(
                    "file target '{}': finish of run {} without `begin`; this is a bug in the \
                     engine, please report it",
                    self.name, run.run
                )));
            }
        };
        if session.run.dry_run || run.dry_run {
            tracing::info!(
                target_name = %self.name,
                run = run.run,
                rows = session.rows.len(),
                "Dry run: file snapshot not written."
            );
            *guard = None;
            return Ok(());
        }
        let (archive, main) = self.render(run, report, &session.rows)?;
        self.create_dir(&self.config.path).await?;
        if !archive.is_empty() {
            self.create_dir(&self.archive_dir()).await?;
            atomic::replace_all(&self.name, &archive).await?;
        }
        let replaced = atomic::replace_all(&self.name, &main).await?;
        tracing::info!(
            target_name = %self.name,
            run = run.run,
            rows = session.rows.len(),
            replaced = replaced.len(),
            archived = self.config.archive,
            "File snapshot written."
        );
        *guard = None;
        Ok(())
    }
}

impl Inspect for FileTarget {
    /// Reads the person's row from the snapshot on disk (what a finished run made durable).
    async fn read(&self, person: &EmployeeId) -> Result<Option<TargetRecord>, TargetError> {
        let rows = snapshot::load(&self.name, &self.snapshot_path()).await?;
        Ok(rows.and_then(|mut rows| rows.remove(person)))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use psync_model::{FieldChange, GroupPath, LeaveReason};
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A fresh, empty directory under the system temp dir.
    pub(crate) fn scratch(label: &str) -> PathBuf {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "psync-targets-{label}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn run(n: i64) -> RunInfo {
        RunInfo {
            run: n,
            target: "hr".into(),
            started_at: jiff::Timestamp::from_second(1_750_000_000 + n).unwrap(),
            dry_run: false,
        }
    }

    fn rec(id: &str, email: &str) -> TargetRecord {
        let mut r = TargetRecord::new(EmployeeId::new(id));
        r.attributes
            .insert("email".into(), Value::Text(email.into()));
        r
    }

    fn create(r: &TargetRecord, match_by: MatchBy) -> Operation {
        Operation::Create {
            record: r.clone(),
            match_by,
        }
    }

    fn target(dir: &Path, archive: bool) -> FileTarget {
        let mut config = FileConfig::new(dir);
        config.archive = archive;
        FileTarget::new("hr", config).unwrap()
    }

    async fn one_run(
        t: &FileTarget,
        n: i64,
        ops: &[Operation],
    ) -> Vec<Result<Outcome, TargetError>> {
        t.begin(&run(n)).await.unwrap();
        let mut out = Vec::new();
        for op in ops {
            out.push(t.apply(op).await);
        }
        t.finish(&run(n), &RunReport::default()).await.unwrap();
        out
    }

    #[test]
    fn config_problems_are_reported_together() {
        let config: FileConfig = serde_json::from_value(serde_json::json!({
            "path": "",
            "formats": ["csv", "csv"],
            "columns": ["person", "", "person"],
        }))
        .unwrap();
        let problems = FileTarget::new("../x", config).unwrap_err();
        let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "path",
                "formats",
                "formats",
                "columns[1]",
                "columns[2]",
                "name"
            ]
        );
        let unknown = serde_json::from_value::<FileConfig>(serde_json::json!({
            "path": "/x", "archiv": true
        }));
        assert!(unknown.unwrap_err().to_string().contains("archiv"));
        let defaults: FileConfig =
            serde_json::from_value(serde_json::json!({"path": "/x"})).unwrap();
        assert_eq!(defaults, FileConfig::new("/x"));
        assert!(defaults.validate().is_empty());
    }

    #[tokio::test]
    async fn snapshot_files_are_sorted_and_deterministic() {
        let dir = scratch("sorted");
        let t = target(&dir, false);
        let ops: Vec<Operation> = ["100", "9", "10"]
            .iter()
            .map(|id| create(&rec(id, &format!("{id}@x.de")), MatchBy::None))
            .collect();
        let outcomes = one_run(&t, 1, &ops).await;
        assert_eq!(
            outcomes[0],
            Ok(Outcome::Created {
                remote_id: "100".into()
            })
        );
        let jsonl = std::fs::read_to_string(t.snapshot_path()).unwrap();
        let ids: Vec<String> = jsonl
            .lines()
            .map(|l| {
                serde_json::from_str::<TargetRecord>(l)
                    .unwrap()
                    .person
                    .to_string()
            })
            .collect();
        assert_eq!(ids, ["9", "10", "100"]);
        let csv = std::fs::read_to_string(t.csv_path()).unwrap();
        assert_eq!(
            csv,
            "person,active,email,groups,manager\r\n9,true,9@x.de,,\r\n10,true,10@x.de,,\r\n\
             100,true,100@x.de,,\r\n"
        );
        // A second run with nothing to do leaves the files byte-identical and untouched.
        let mtime = std::fs::metadata(t.csv_path()).unwrap().modified().unwrap();
        let again = one_run(&t, 2, &ops).await;
        assert!(again.iter().all(|o| *o == Ok(Outcome::Unchanged)));
        assert_eq!(std::fs::read_to_string(t.snapshot_path()).unwrap(), jsonl);
        assert_eq!(
            std::fs::metadata(t.csv_path()).unwrap().modified().unwrap(),
            mtime
        );
    }

    #[tokio::test]
    async fn create_of_a_different_row_adopts_only_as_match_by_allows() {
        let dir = scratch("adopt");
        let t = target(&dir, false);
        one_run(&t, 1, &[create(&rec("7", "a@x.de"), MatchBy::None)]).await;
        let changed = rec("7", "A@X.DE").clone();
        let mut other_mail = rec("7", "b@x.de");
        other_mail.active = false;
        let out = one_run(
            &t,
            2,
            &[
                create(&changed, MatchBy::None),
                create(&other_mail, MatchBy::Email),
            ],
        )
        .await;
        assert_eq!(out[0].as_ref().unwrap_err().kind, ErrorKind::Conflict);
        assert_eq!(out[1].as_ref().unwrap_err().kind, ErrorKind::Conflict);
        assert_eq!(
            t.read(&EmployeeId::new("7")).await.unwrap(),
            Some(rec("7", "a@x.de"))
        );
        let out = one_run(&t, 3, &[create(&changed, MatchBy::Email)]).await;
        assert_eq!(
            out[0],
            Ok(Outcome::Adopted {
                remote_id: "7".into(),
                matched_by: MatchBy::Email
            })
        );
        let out = one_run(&t, 4, &[create(&other_mail, MatchBy::ExternalId)]).await;
        assert_eq!(
            out[0],
            Ok(Outcome::Adopted {
                remote_id: "7".into(),
                matched_by: MatchBy::ExternalId
            })
        );
        assert_eq!(
            t.read(&EmployeeId::new("7")).await.unwrap(),
            Some(other_mail)
        );
    }

    #[tokio::test]
    async fn corrupt_snapshot_is_fatal_with_its_line_and_never_overwritten() {
        let dir = scratch("corrupt");
        let t = target(&dir, false);
        one_run(&t, 1, &[create(&rec("1", "a@x.de"), MatchBy::None)]).await;
        let mut text = std::fs::read_to_string(t.snapshot_path()).unwrap();
        text.push_str("{not json}\n");
        std::fs::write(t.snapshot_path(), &text).unwrap();
        let err = t.begin(&run(2)).await.unwrap_err();
        assert_eq!(err.kind, ErrorKind::Fatal);
        assert!(err.message.contains("hr.jsonl line 2"), "{}", err.message);
        assert_eq!(t.check().await.unwrap_err().kind, ErrorKind::Fatal);
        // No run began, so nothing can be written over it.
        let apply = t.apply(&create(&rec("2", "b@x.de"), MatchBy::None)).await;
        assert_eq!(apply.unwrap_err().kind, ErrorKind::Fatal);
        assert!(t.finish(&run(2), &RunReport::default()).await.is_err());
        assert_eq!(std::fs::read_to_string(t.snapshot_path()).unwrap(), text);
    }

    #[tokio::test]
    async fn lost_snapshot_next_to_a_csv_is_fatal() {
        let dir = scratch("lost");
        let t = target(&dir, false);
        one_run(&t, 1, &[create(&rec("1", "a@x.de"), MatchBy::None)]).await;
        std::fs::remove_file(t.snapshot_path()).unwrap();
        let err = t.begin(&run(2)).await.unwrap_err();
        assert_eq!(err.kind, ErrorKind::Fatal);
        assert!(err.message.contains("was lost"), "{}", err.message);
    }

    #[tokio::test]
    async fn failed_write_leaves_the_old_files_intact() {
        let dir = scratch("midway");
        let t = target(&dir, false);
        one_run(&t, 1, &[create(&rec("1", "a@x.de"), MatchBy::None)]).await;
        let old_csv = std::fs::read(t.csv_path()).unwrap();
        let old_jsonl = std::fs::read(t.snapshot_path()).unwrap();
        // The JSONL temp path is occupied by a directory: CSV stages fine, JSONL fails.
        std::fs::create_dir_all(atomic::temp_path(&t.snapshot_path()).join("x")).unwrap();
        t.begin(&run(2)).await.unwrap();
        t.apply(&create(&rec("2", "b@x.de"), MatchBy::None))
            .await
            .unwrap();
        let err = t.finish(&run(2), &RunReport::default()).await.unwrap_err();
        assert_eq!(err.kind, ErrorKind::Fatal);
        assert!(err.message.contains("hr.jsonl"), "{}", err.message);
        assert_eq!(std::fs::read(t.csv_path()).unwrap(), old_csv);
        assert_eq!(std::fs::read(t.snapshot_path()).unwrap(), old_jsonl);
        assert!(!atomic::temp_path(&t.csv_path()).exists());
        // Once the obstacle is gone, finishing the same run succeeds.
        std::fs::remove_dir_all(atomic::temp_path(&t.snapshot_path())).unwrap();
        t.finish(&run(2), &RunReport::default()).await.unwrap();
        assert!(t.read(&EmployeeId::new("2")).await.unwrap().is_some());
    }

    #[tokio::test]
    async fn archive_keeps_each_run_with_its_report() {
        let dir = scratch("archive");
        let t = target(&dir, true);
        one_run(&t, 1, &[create(&rec("1", "a@x.de"), MatchBy::None)]).await;
        t.begin(&run(2)).await.unwrap();
        let mut disabled = rec("1", "a@x.de");
        disabled.active = true; // Disable forces inactive whatever the record says.
        t.apply(&Operation::Disable {
            remote_id: Some("1".into()),
            reason: LeaveReason::Left,
            record: disabled,
        })
        .await
        .unwrap();
        let report = RunReport {
            counts: BTreeMap::from([("disabled".to_string(), 1)]),
            failures: vec!["person 5: rejected".into()],
        };
        t.finish(&run(2), &report).await.unwrap();
        for n in [1, 2] {
            assert!(t.archive_path(n, Format::Csv).is_file());
            assert!(t.archive_path(n, Format::Jsonl).is_file());
            assert!(t.report_path(n).is_file());
        }
        assert_eq!(
            std::fs::read(t.archive_path(2, Format::Jsonl)).unwrap(),
            std::fs::read(t.snapshot_path()).unwrap()
        );
        let r1 = std::fs::read_to_string(t.archive_path(1, Format::Csv)).unwrap();
        assert!(r1.contains("1,true,a@x.de"), "{r1}");
        let r2 = std::fs::read_to_string(t.archive_path(2, Format::Csv)).unwrap();
        assert!(r2.contains("1,false,a@x.de"), "{r2}");
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(t.report_path(2)).unwrap()).unwrap();
        assert_eq!(json["run"], 2);
        assert_eq!(json["target"], "hr");
        assert_eq!(json["rows"], 1);
        assert_eq!(json["inactive"], 1);
        assert_eq!(json["counts"]["disabled"], 1);
        assert_eq!(json["failures"][0], "person 5: rejected");
        assert_eq!(json["files"], serde_json::json!(["hr.csv", "hr.jsonl"]));
    }

    #[tokio::test]
    async fn dry_run_writes_nothing() {
        let dir = scratch("dry").join("not-yet");
        let t = target(&dir, true);
        let mut info = run(1);
        info.dry_run = true;
        t.begin(&info).await.unwrap();
        let out = t.apply(&create(&rec("1", "a@x.de"), MatchBy::None)).await;
        assert!(matches!(out, Ok(Outcome::Created { .. })));
        t.finish(&info, &RunReport::default()).await.unwrap();
        assert!(!dir.exists());
    }

    #[tokio::test]
    async fn invalid_records_are_rejected() {
        let dir = scratch("rejected");
        let t = target(&dir, false);
        t.begin(&run(1)).await.unwrap();
        let mut nan = rec("1", "a@x.de");
        nan.attributes
            .insert("hours".into(), Value::Decimal(f64::NAN));
        let mut reserved = rec("2", "b@x.de");
        reserved
            .attributes
            .insert("manager".into(), Value::Text("x".into()));
        let empty = rec("", "c@x.de");
        for r in [nan, reserved, empty] {
            let err = t.apply(&create(&r, MatchBy::None)).await.unwrap_err();
            assert_eq!(err.kind, ErrorKind::Rejected, "{}", err.message);
        }
        // Without CSV, an attribute may be called `manager`.
        let mut config = FileConfig::new(&dir);
        config.formats = vec![Format::Jsonl];
        let jsonl_only = FileTarget::new("hr", config).unwrap();
        jsonl_only.begin(&run(1)).await.unwrap();
        let mut reserved = rec("2", "b@x.de");
        reserved
            .attributes
            .insert("manager".into(), Value::Text("x".into()));
        assert!(
            jsonl_only
                .apply(&create(&reserved, MatchBy::None))
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn configured_columns_choose_and_order_the_csv() {
        let dir = scratch("columns");
        let mut config = FileConfig::new(&dir);
        config.columns = Some(vec![
            "email".into(),
            "person".into(),
            "groups".into(),
            "cost".into(),
        ]);
        let t = FileTarget::new("hr", config).unwrap();
        let mut r = rec("3", "=cmd|' /C calc'!A0");
        r.attributes.insert("name".into(), Value::Text("x".into()));
        r.groups.insert(GroupPath(vec!["A, B".into()]));
        one_run(&t, 1, &[create(&r, MatchBy::None)]).await;
        let csv = std::fs::read_to_string(t.csv_path()).unwrap();
        assert_eq!(
            csv,
            "email,person,groups,cost\r\n'=cmd|' /C calc'!A0,3,\"A, B\",\r\n"
        );
    }

    #[tokio::test]
    async fn missing_rows_are_restored_by_update_enable_and_disable() {
        let dir = scratch("restore");
        let t = target(&dir, false);
        let r = rec("5", "e@x.de");
        let out = one_run(
            &t,
            1,
            &[Operation::Update {
                remote_id: Some("5".into()),
                changes: vec![FieldChange {
                    field: "email".into(),
                    old: Value::Null,
                    new: Value::Text("e@x.de".into()),
                }],
                groups_added: vec![],
                groups_removed: vec![],
                record: r.clone(),
            }],
        )
        .await;
        assert_eq!(out[0], Ok(Outcome::Applied));
        assert_eq!(t.read(&EmployeeId::new("5")).await.unwrap(), Some(r));
    }

    #[tokio::test]
    async fn check_reports_what_it_probed() {
        let dir = scratch("check");
        let t = target(&dir.join("a/b"), true);
        let summary = t.check().await.unwrap();
        assert!(summary.contains("does not exist yet"), "{summary}");
        assert!(!dir.join("a").exists(), "check creates nothing");
        one_run(&t, 1, &[create(&rec("1", "a@x.de"), MatchBy::None)]).await;
        let summary = t.check().await.unwrap();
        assert!(summary.contains("exists and is writable"), "{summary}");
        assert!(
            summary.contains("holds 1 row (1 active, 0 inactive)"),
            "{summary}"
        );
        std::fs::write(dir.join("file"), "x").unwrap();
        let blocked = target(&dir.join("file/sub"), false);
        let err = blocked.check().await.unwrap_err();
        assert_eq!(err.kind, ErrorKind::Fatal);
        assert!(
            err.message.contains("is not a directory"),
            "{}",
            err.message
        );
    }
}
