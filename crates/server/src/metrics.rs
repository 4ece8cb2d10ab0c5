//! Prometheus counters of the service and their text exposition (format 0.0.4).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;

/// Upper bounds (seconds) of the latency histogram buckets.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    300.0, 900.0, 3600.0,
];

#[derive(Debug, Default, Clone)]
struct Histogram {
    counts: Vec<u64>,
    sum: f64,
    total: u64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        if self.counts.is_empty() {
            self.counts = vec![0; BUCKETS.len()];
        }
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                self.counts[i] += 1;
            }
        }
        self.sum += seconds;
        self.total += 1;
    }
}

/// A metric family and its label pairs.
type Series = (&'static str, Vec<(&'static str, String)>);

#[derive(Debug, Default)]
struct Data {
    counters: BTreeMap<Series, u64>,
    histograms: BTreeMap<Series, Histogram>,
}

/// The service's counters and histograms. Gauges (held plans, quarantined targets, Personio
/// requests) are read when scraped and passed to [`Metrics::render`].
#[derive(Debug, Default)]
pub struct Metrics {
    data: Mutex<Data>,
}

/// Help text and type of every metric family.
const FAMILIES: &[(&str, &str, &str)] = &[
    (
        "psync_runs_total",
        "counter",
        "Target syncs finished, by trigger and status.",
    ),
    (
        "psync_operations_total",
        "counter",
        "Operations applied, by target, kind and outcome.",
    ),
    (
        "psync_webhook_events_total",
        "counter",
        "Webhook deliveries, by account and result.",
    ),
    (
        "psync_notifications_total",
        "counter",
        "Notifications, by channel and result.",
    ),
    (
        "psync_sync_duration_seconds",
        "histogram",
        "Duration of a sync of one target.",
    ),
    (
        "psync_webhook_ack_seconds",
        "histogram",
        "Time from a delivery's arrival to its answer.",
    ),
    ("psync_held_plans", "gauge", "Plans waiting for approval."),
    (
        "psync_quarantined_targets",
        "gauge",
        "Targets whose last run was quarantined or failed.",
    ),
    (
        "psync_personio_requests_total",
        "counter",
        "Requests sent to Personio, by account.",
    ),
    (
        "psync_personio_throttled_total",
        "counter",
        "Personio answers with 429, by account.",
    ),
    (
        "psync_webhook_pending",
        "gauge",
        "People waiting for a webhook-triggered sync.",
    ),
    ("psync_up", "gauge", "1 while the service runs."),
];

fn labels(l: &[(&'static str, String)]) -> String {
    if l.is_empty() {
        return String::new();
    }
    let inner: Vec<String> = l
        .iter()
        .map(|(k, v)| {
            let v = v
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n");
            format!("{k}=\"{v}\"")
        })
        .collect();
    format!("{{{}}}", inner.join(","))
}

/// Values read at scrape time.
#[derive(Debug, Default)]
pub struct Gauges {
    /// Plans waiting for a decision.
    pub held_plans: u64,
    /// Targets currently quarantined.
    pub quarantined: u64,
    /// Per account: requests and 429s so far.
    pub personio: Vec<(String, u64, u64)>,
    /// People waiting for a webhook sync.
    pub webhook_pending: u64,
}

impl Metrics {
    fn data(&self) -> std::sync::MutexGuard<'_, Data> {
        self.data
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Adds `by` to a counter.
    pub fn add(&self, name: &'static str, labels: &[(&'static str, &str)], by: u64) {
        let key = (
            name,
            labels.iter().map(|(k, v)| (*k, (*v).to_string())).collect(),
        );
        *self.data().counters.entry(key).or_insert(0) += by;
    }

    /// Records one observation of a histogram.
    pub fn observe(&self, name: &'static str, labels: &[(&'static str, &str)], seconds: f64) {
        let key = (
            name,
            labels.iter().map(|(k, v)| (*k, (*v).to_string())).collect(),
        );
        self.data()
            .histograms
            .entry(key)
            .or_default()
            .observe(seconds);
    }

    /// The value of one counter (tests, benchmarks).
    pub fn counter(&self, name: &str, labels: &[(&str, &str)]) -> u64 {
        self.data()
            .counters
            .iter()
            .filter(|((n, l), _)| {
                *n == name
                    && labels
                        .iter()
                        .all(|(k, v)| l.iter().any(|(lk, lv)| lk == k && lv == v))
            })
            .map(|(_, v)| *v)
            .sum()
    }

    /// The Prometheus text exposition.
    pub fn render(&self, gauges: &Gauges) -> String {
        let data = self.data();
        let mut out = String::new();
        for (family, kind, help) in FAMILIES {
            let _ = writeln!(out, "# HELP {family} {help}");
            let _ = writeln!(out, "# TYPE {family} {kind}");
            match *family {
                "psync_held_plans" => {
                    let _ = writeln!(out, "{family} {}", gauges.held_plans);
                }
                "psync_quarantined_targets" => {
                    let _ = writeln!(out, "{family} {}", gauges.quarantined);
                }
                "psync_webhook_pending" => {
                    let _ = writeln!(out, "{family} {}", gauges.webhook_pending);
                }
                "psync_up" => {
                    let _ = writeln!(out, "{family} 1");
                }
                "psync_personio_requests_total" | "psync_personio_throttled_total" => {
                    for (account, requests, throttled) in &gauges.personio {
                        let v = if *family == "psync_personio_requests_total" {
                            requests
                        } else {
                            throttled
                        };
                        let _ = writeln!(
                            out,
                            "{family}{} {v}",
                            labels(&[("account", account.clone())])
                        );
                    }
                }
                _ if *kind == "histogram" => {
                    for ((name, l), h) in &data.histograms {
                        if name != family {
                            continue;
                        }
                        for (i, bound) in BUCKETS.iter().enumerate() {
                            let mut with = l.clone();
                            with.push(("le", bound.to_string()));
                            let _ = writeln!(
                                out,
                                "{family}_bucket{} {}",
                                labels(&with),
                                h.counts.get(i).copied().unwrap_or(0)
                            );
                        }
                        let mut with = l.clone();
                        with.push(("le", "+Inf".to_string()));
                        let _ = writeln!(out, "{family}_bucket{} {}", labels(&with), h.total);
                        let _ = writeln!(out, "{family}_sum{} {}", labels(l), h.sum);
                        let _ = writeln!(out, "{family}_count{} {}", labels(l), h.total);
                    }
                }
                _ => {
                    for ((name, l), v) in &data.counters {
                        if name == family {
                            let _ = writeln!(out, "{family}{} {v}", labels(l));
                        }
                    }
                }
            }
        }
        out
    }
}
