//! Lifecycle policy per target: what happens to leavers, joiners and the deprovisioning guard.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan as _};
use psync_model::MatchBy;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// What happens to the account of a leaver (left, out of scope, gone from Personio).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeaverAction {
    /// Deactivate the account; with `delete_after_days`, remove it after the grace period.
    #[default]
    Disable,
    /// Remove the account; with `delete_after_days`, disable it first and remove it after the
    /// grace period.
    Delete,
    /// Leave the account exactly as it is (no disable, no delete, no further updates).
    Keep,
}

/// When a joiner's account becomes active.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// The account is created active.
    #[default]
    Immediately,
    /// The account is created inactive and activated on the start date (in the policy's time zone).
    AtStart,
}

/// The most disables + deletes one plan may contain before it is held for approval.
///
/// Written in configuration as `"10"` (a count) or `"5%"` (of the target's managed accounts);
/// `Display` writes it back the same way. Equal to the threshold passes; above it holds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Threshold {
    /// At most this many.
    Count(usize),
    /// At most this percentage (0–100) of the accounts the target holds.
    Percent(f64),
}

impl Threshold {
    /// Whether `count` deprovisions out of `of` managed accounts exceed the threshold.
    pub fn exceeded(self, count: usize, of: usize) -> bool {
        match self {
            Threshold::Count(max) => count > max,
            // A tolerance far below one account keeps "equal passes" true when p% of `of` is
            // a whole number that floating point rounds a hair low (100/3 % of 3).
            Threshold::Percent(p) => (count as f64) > p * (of as f64) / 100.0 + 1e-9,
        }
    }
}

/// A threshold that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid deprovisioning threshold {input:?}: write a count such as \"10\" or a percentage between 0 and 100 such as \"5%\""
)]
pub struct ThresholdError {
    /// What was given.
    pub input: String,
}

impl FromStr for Threshold {
    type Err = ThresholdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let error = || ThresholdError {
            input: s.to_owned(),
        };
        let trimmed = s.trim();
        if let Some(number) = trimmed.strip_suffix('%') {
            let p: f64 = number.trim().parse().map_err(|_| error())?;
            if p.is_finite() && (0.0..=100.0).contains(&p) {
                Ok(Threshold::Percent(p))
            } else {
                Err(error())
            }
        } else {
            trimmed.parse().map(Threshold::Count).map_err(|_| error())
        }
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Threshold::Count(n) => write!(f, "{n}"),
            Threshold::Percent(p) => write!(f, "{p}%"),
        }
    }
}

impl Serialize for Threshold {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Threshold {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Threshold;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a count such as 10 or \"10\", or a percentage such as \"5%\"")
            }

            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Threshold, E> {
                usize::try_from(v)
                    .map(Threshold::Count)
                    .map_err(|_| E::custom(format!("threshold {v} is too large")))
            }

            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Threshold, E> {
                usize::try_from(v)
                    .map(Threshold::Count)
                    .map_err(|_| E::custom(format!("threshold {v} must not be negative")))
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Threshold, E> {
                v.parse().map_err(E::custom)
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// The lifecycle policy of one target. `Default` is the documented default of each field.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    /// What happens to leavers' accounts (default `disable`).
    pub leavers: LeaverAction,
    /// Grace period: a disabled leaver's account is deleted once `disabled_on + N days <= today`
    /// (ignored with `keep`). `Some(0)` deletes at once. Default: none, never deleted.
    pub delete_after_days: Option<u32>,
    /// Future-dated joiners are provisioned this many days before their start date (default 7).
    pub provision_days_before_start: u32,
    /// When joiners' accounts become active (default `immediately`).
    pub activation: Activation,
    /// The time zone in which "today", start dates and the end of termination days are
    /// evaluated (default Europe/Berlin).
    #[serde(with = "jiff::fmt::serde::tz::required")]
    pub time_zone: TimeZone,
    /// How a target may adopt an existing account on create (default `external_id`: the
    /// Personio id; matching by e-mail can take over foreign accounts, so it is opt-in).
    pub match_by: MatchBy,
    /// Hold plans with more disables + deletes than this (default 5; `None` = no guard).
    pub max_deprovision: Option<Threshold>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            leavers: LeaverAction::Disable,
            delete_after_days: None,
            provision_days_before_start: 7,
            activation: Activation::Immediately,
            time_zone: berlin(),
            match_by: MatchBy::ExternalId,
            max_deprovision: Some(Threshold::Count(5)),
        }
    }
}

impl Policy {
    /// The calendar date at `now` in the policy's time zone.
    pub fn today(&self, now: Timestamp) -> Date {
        now.to_zoned(self.time_zone.clone()).date()
    }

    /// The first instant after the end of `date` in the policy's time zone (the next day's
    /// local midnight, or its first existing instant on a DST day): when a termination on
    /// `date` takes effect. `None` only at the end of jiff's supported range.
    pub fn end_of_day(&self, date: Date) -> Option<Timestamp> {
        let next = date.checked_add(1.day()).ok()?;
        next.to_zoned(self.time_zone.clone())
            .ok()
            .map(|z| z.timestamp())
    }
}

/// Europe/Berlin from the system's tz database; without one, the same rule as a POSIX TZ
/// string (valid since 1996), so a missing database cannot shift terminations by hours.
pub fn berlin() -> TimeZone {
    TimeZone::get("Europe/Berlin")
        .or_else(|_| TimeZone::posix("CET-1CEST,M3.5.0,M10.5.0/3"))
        .unwrap_or(TimeZone::UTC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_parse_and_display_back_the_same() {
        for text in ["10", "0", "5%", "2.5%", "100%", "0%"] {
            let t: Threshold = text.parse().unwrap();
            assert_eq!(t.to_string(), text);
        }
        assert_eq!(" 7 ".parse::<Threshold>(), Ok(Threshold::Count(7)));
        assert_eq!("5 %".parse::<Threshold>(), Ok(Threshold::Percent(5.0)));
        for bad in ["", "-1", "ten", "101%", "-5%", "NaN%", "5%%"] {
            let err = bad.parse::<Threshold>().unwrap_err();
            assert!(err.to_string().contains("\"5%\""), "{err}");
        }
    }

    #[test]
    fn thresholds_deserialize_from_numbers_and_strings() {
        let t: Threshold = serde_json::from_str("10").unwrap();
        assert_eq!(t, Threshold::Count(10));
        let t: Threshold = serde_json::from_str("\"5%\"").unwrap();
        assert_eq!(t, Threshold::Percent(5.0));
        assert_eq!(serde_json::to_string(&t).unwrap(), "\"5%\"");
        assert!(serde_json::from_str::<Threshold>("-3").is_err());
    }

    #[test]
    fn policy_defaults_and_serde() {
        let p: Policy = serde_json::from_str("{}").unwrap();
        assert_eq!(p.leavers, LeaverAction::Disable);
        assert_eq!(p.provision_days_before_start, 7);
        assert_eq!(p.time_zone.iana_name(), Some("Europe/Berlin"));
        let p: Policy = serde_json::from_str(
            r#"{"leavers":"delete","delete_after_days":30,"activation":"at_start",
                "time_zone":"Asia/Tokyo","match_by":"email","max_deprovision":"5%"}"#,
        )
        .unwrap();
        assert_eq!(p.leavers, LeaverAction::Delete);
        assert_eq!(p.activation, Activation::AtStart);
        assert_eq!(p.max_deprovision, Some(Threshold::Percent(5.0)));
        assert_eq!(p.time_zone.iana_name(), Some("Asia/Tokyo"));
        assert!(serde_json::from_str::<Policy>(r#"{"leaver":"keep"}"#).is_err());
    }

    #[test]
    fn the_posix_fallback_agrees_with_the_database() {
        let posix = TimeZone::posix("CET-1CEST,M3.5.0,M10.5.0/3").unwrap();
        let db = TimeZone::get("Europe/Berlin").unwrap();
        for ts in [
            "2025-03-30T00:59:59Z",
            "2025-03-30T01:00:00Z",
            "2025-10-26T00:59:59Z",
            "2025-10-26T01:00:00Z",
            "2026-07-01T12:00:00Z",
        ] {
            let ts: Timestamp = ts.parse().unwrap();
            assert_eq!(
                posix.to_offset(ts),
                db.to_offset(ts),
                "offset differs at {ts}"
            );
        }
    }
}
