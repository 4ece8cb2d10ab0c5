//! When each target's scheduled sync is due: a cron expression in a time zone and/or an
//! interval, evaluated against an injected clock. After downtime a missed run runs once.

use crate::cron::Cron;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

/// The schedule of one target.
#[derive(Debug, Clone)]
pub struct Job {
    /// The target synced.
    pub target: String,
    /// Full syncs at these wall-clock times (`None`: interval only).
    pub cron: Option<Cron>,
    /// The zone the cron expression is read in.
    pub time_zone: TimeZone,
    /// A further sync this long after the previous scheduled one (lighter reconciliation).
    pub interval: Option<Duration>,
}

impl Job {
    /// The first instant after `last` (or, before any run, after `since`) this job is due.
    pub fn next_due(&self, last: Option<Timestamp>, since: Timestamp) -> Option<Timestamp> {
        let base = last.unwrap_or(since);
        let by_cron = self
            .cron
            .as_ref()
            .and_then(|c| c.next_after(base, &self.time_zone));
        let by_interval = self.interval.and_then(|i| {
            let span = jiff::SignedDuration::try_from(i).ok()?;
            base.checked_add(span).ok()
        });
        match (by_cron, by_interval) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

#[derive(Debug, Clone)]
struct JobState {
    job: Job,
    last: Option<Timestamp>,
}

/// The schedules of all targets and when each last ran.
#[derive(Debug)]
pub struct Scheduler {
    since: Timestamp,
    jobs: Mutex<BTreeMap<String, JobState>>,
}

impl Scheduler {
    /// Jobs with the time each last ran by schedule (from the store); `since` is when the
    /// service started: a job that never ran is due at its first time after that.
    pub fn new(jobs: Vec<Job>, last: &BTreeMap<String, Timestamp>, since: Timestamp) -> Scheduler {
        let jobs = jobs
            .into_iter()
            .map(|job| {
                let state = JobState {
                    last: last.get(&job.target).copied(),
                    job,
                };
                (state.job.target.clone(), state)
            })
            .collect();
        Scheduler {
            since,
            jobs: Mutex::new(jobs),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, JobState>> {
        self.jobs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Targets due at `now` whose target is not busy; they are marked as run at `now`, so
    /// however many times were missed, each runs once. A busy target stays due.
    pub fn take_due(&self, now: Timestamp, busy: &dyn Fn(&str) -> bool) -> Vec<String> {
        let mut due = Vec::new();
        for (name, state) in self.lock().iter_mut() {
            let Some(at) = state.job.next_due(state.last, self.since) else {
                continue;
            };
            if at <= now && !busy(name) {
                state.last = Some(now);
                due.push(name.clone());
            }
        }
        due
    }

    /// When each target is next due.
    pub fn next_runs(&self) -> BTreeMap<String, Option<Timestamp>> {
        self.lock()
            .iter()
            .map(|(name, s)| (name.clone(), s.job.next_due(s.last, self.since)))
            .collect()
    }

    /// The earliest next due time of any job.
    pub fn earliest(&self) -> Option<Timestamp> {
        self.next_runs().into_values().flatten().min()
    }
}
