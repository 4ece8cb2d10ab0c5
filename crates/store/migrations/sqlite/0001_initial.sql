-- personio-sync state, schema 1 (SQLite).
-- Released migrations are never edited: put changes into a new file.
-- Times are INTEGER nanoseconds since 1970-01-01T00:00:00Z. JSON documents are TEXT.
-- Personal data lives only in employee_versions.data, applied_accounts.data, journal.operation,
-- held_plans.plan and journal.failure_message; history is bounded per person.

-- One row per run: sync, approval, …
CREATE TABLE runs (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    kind           TEXT    NOT NULL,
    triggered_by   TEXT    NOT NULL,
    source         TEXT,
    target         TEXT,
    started_at_ns  INTEGER NOT NULL,
    finished_at_ns INTEGER,
    status         TEXT    NOT NULL,
    counts         TEXT    NOT NULL DEFAULT '{}',
    message        TEXT
);

-- One row per full read of a source; its size guards against empty or shrunken reads.
CREATE TABLE snapshot_reads (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    source          TEXT    NOT NULL,
    run_id          INTEGER NOT NULL REFERENCES runs (id),
    at_ns           INTEGER NOT NULL,
    employee_count  INTEGER NOT NULL,
    new_count       INTEGER NOT NULL,
    changed_count   INTEGER NOT NULL,
    unchanged_count INTEGER NOT NULL
);
CREATE INDEX snapshot_reads_by_source ON snapshot_reads (source, id);

-- Employee history: a version only when the SHA-256 of the canonical JSON changed.
CREATE TABLE employee_versions (
    source  TEXT    NOT NULL,
    person  TEXT    NOT NULL,
    version INTEGER NOT NULL,
    run_id  INTEGER NOT NULL REFERENCES runs (id),
    at_ns   INTEGER NOT NULL,
    hash    TEXT    NOT NULL,
    data    TEXT    NOT NULL,
    PRIMARY KEY (source, person, version)
);

-- The latest version of each employee per source: what the next read is compared with.
CREATE TABLE employee_latest (
    source  TEXT    NOT NULL,
    person  TEXT    NOT NULL,
    version INTEGER NOT NULL,
    hash    TEXT    NOT NULL,
    PRIMARY KEY (source, person)
);

-- What each target holds according to confirmed operations (AppliedAccount as JSON).
CREATE TABLE applied_accounts (
    target        TEXT    NOT NULL,
    person        TEXT    NOT NULL,
    remote_id     TEXT,
    data          TEXT    NOT NULL,
    run_id        INTEGER NOT NULL REFERENCES runs (id),
    updated_at_ns INTEGER NOT NULL,
    PRIMARY KEY (target, person)
);
CREATE INDEX applied_accounts_by_remote_id ON applied_accounts (target, remote_id);

-- Operation journal: intent before the target is called, then outcome or failure.
CREATE TABLE journal (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id          INTEGER NOT NULL REFERENCES runs (id),
    target          TEXT    NOT NULL,
    person          TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    operation       TEXT    NOT NULL,
    intent_at_ns    INTEGER NOT NULL,
    outcome         TEXT,
    failure_kind    TEXT,
    failure_message TEXT,
    parked          BOOLEAN NOT NULL DEFAULT FALSE,
    resolved_at_ns  INTEGER
);
CREATE INDEX journal_open ON journal (target, id) WHERE resolved_at_ns IS NULL;
CREATE INDEX journal_by_run ON journal (run_id);

-- Plans a guard held, waiting for approval or rejection.
CREATE TABLE held_plans (
    run_id         INTEGER PRIMARY KEY REFERENCES runs (id),
    target         TEXT    NOT NULL,
    plan           TEXT    NOT NULL,
    held_at_ns     INTEGER NOT NULL,
    resolved_at_ns INTEGER,
    approved       BOOLEAN
);

-- Per-person provisioning log: what happened to whose account, when, in which run.
CREATE TABLE provisioning_log (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ns   INTEGER NOT NULL,
    run_id  INTEGER NOT NULL REFERENCES runs (id),
    target  TEXT    NOT NULL,
    person  TEXT    NOT NULL,
    action  TEXT    NOT NULL,
    result  TEXT    NOT NULL,
    detail  TEXT
);
CREATE INDEX provisioning_log_by_person ON provisioning_log (person, id);
