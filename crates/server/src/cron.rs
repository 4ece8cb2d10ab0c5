//! Cron expressions (five fields) evaluated in a time zone, correct across DST switches.
//!
//! A wall-clock time that does not exist (spring forward) fires at the first instant after the
//! gap; one that exists twice (fall back) fires at its first occurrence only.

use jiff::Timestamp;
use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use std::fmt;

/// A parsed cron expression: `minute hour day-of-month month day-of-week`.
#[derive(Clone, PartialEq, Eq)]
pub struct Cron {
    text: String,
    minutes: Vec<u8>,
    hours: Vec<u8>,
    days: Vec<u8>,
    months: Vec<u8>,
    weekdays: Vec<u8>,
    days_restricted: bool,
    weekdays_restricted: bool,
}

impl fmt::Debug for Cron {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cron({:?})", self.text)
    }
}

impl fmt::Display for Cron {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn field(text: &str, name: &str, min: u8, max: u8) -> Result<(Vec<u8>, bool), String> {
    let mut values = Vec::new();
    let mut restricted = true;
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => {
                let step: u8 = s
                    .parse()
                    .ok()
                    .filter(|s| *s > 0)
                    .ok_or_else(|| format!("{name}: '{s}' is not a step (1 or more)"))?;
                (r, step)
            }
            None => (part, 1),
        };
        let number = |s: &str| -> Result<u8, String> {
            s.parse::<u8>()
                .ok()
                .filter(|v| (min..=max).contains(v))
                .ok_or_else(|| format!("{name}: '{s}' is not a number from {min} to {max}"))
        };
        let (lo, hi) = if range == "*" {
            if step == 1 && text == "*" {
                restricted = false;
            }
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            let (a, b) = (number(a)?, number(b)?);
            if a > b {
                return Err(format!("{name}: range {a}-{b} runs backwards"));
            }
            (a, b)
        } else {
            let v = number(range)?;
            if step == 1 { (v, v) } else { (v, max) }
        };
        let mut v = lo;
        loop {
            values.push(v);
            match v.checked_add(step) {
                Some(next) if next <= hi => v = next,
                _ => break,
            }
        }
    }
    values.sort_unstable();
    values.dedup();
    Ok((values, restricted))
}

impl Cron {
    /// Parses `minute hour day-of-month month day-of-week` (numbers, `*`, `a-b`, `*/n`, lists;
    /// day-of-week 0–7 with 0 and 7 = Sunday). As in classic cron, when both day fields are
    /// restricted a day matching either one fires.
    pub fn parse(text: &str) -> Result<Cron, String> {
        let parts: Vec<&str> = text.split_whitespace().collect();
        let [m, h, dom, mon, dow] = parts.as_slice() else {
            return Err(format!(
                "'{text}' must have five fields: minute hour day-of-month month day-of-week"
            ));
        };
        let (minutes, _) = field(m, "minute", 0, 59)?;
        let (hours, _) = field(h, "hour", 0, 23)?;
        let (days, days_restricted) = field(dom, "day of month", 1, 31)?;
        let (months, _) = field(mon, "month", 1, 12)?;
        let (mut weekdays, weekdays_restricted) = field(dow, "day of week", 0, 7)?;
        for d in &mut weekdays {
            if *d == 7 {
                *d = 0;
            }
        }
        weekdays.sort_unstable();
        weekdays.dedup();
        let cron = Cron {
            text: parts.join(" "),
            minutes,
            hours,
            days,
            months,
            weekdays,
            days_restricted,
            weekdays_restricted,
        };
        // A date that never comes (31 February) is a mistake, not a schedule.
        let probe = Date::constant(2024, 1, 1);
        if !(0..=366 * 8).any(|i| {
            probe
                .checked_add(jiff::Span::new().days(i))
                .is_ok_and(|d| cron.day_matches(d))
        }) {
            return Err(format!("'{text}' never fires (no such day)"));
        }
        Ok(cron)
    }

    fn day_matches(&self, date: Date) -> bool {
        if !self.months.contains(&(date.month() as u8)) {
            return false;
        }
        let dom = self.days.contains(&(date.day() as u8));
        let dow = self
            .weekdays
            .contains(&(date.weekday().to_sunday_zero_offset() as u8));
        match (self.days_restricted, self.weekdays_restricted) {
            (true, true) => dom || dow,
            (true, false) => dom,
            (false, true) => dow,
            (false, false) => true,
        }
    }

    /// The first firing instant strictly after `after`, in `tz`; `None` if none within 8 years.
    pub fn next_after(&self, after: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        let local = after.to_zoned(tz.clone()).datetime();
        // Start one hour of wall time earlier: in a fall-back hour the wall clock repeats, and a
        // candidate is kept only when its instant is after `after`.
        let start = local.checked_sub(jiff::Span::new().hours(1)).ok()?;
        let mut date = start.date();
        for _ in 0..(366 * 8) {
            if self.day_matches(date) {
                for &h in &self.hours {
                    for &m in &self.minutes {
                        let civil = DateTime::new(
                            date.year(),
                            date.month(),
                            date.day(),
                            h as i8,
                            m as i8,
                            0,
                            0,
                        )
                        .ok()?;
                        if civil < start {
                            continue;
                        }
                        let Ok(zoned) = tz.to_ambiguous_zoned(civil).compatible() else {
                            continue;
                        };
                        if zoned.timestamp() > after {
                            return Some(zoned.timestamp());
                        }
                    }
                }
            }
            date = date.tomorrow().ok()?;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn parses_and_rejects() {
        assert!(Cron::parse("0 2 * * *").is_ok());
        assert!(Cron::parse("*/15 8-18 * * 1-5").is_ok());
        assert!(Cron::parse("0 2 * *").is_err());
        assert!(Cron::parse("60 2 * * *").is_err());
        assert!(Cron::parse("0 2 31 2 *").is_err());
        assert!(Cron::parse("0 2 * * */0").is_err());
    }

    #[test]
    fn daily_in_berlin_across_both_dst_switches() {
        let tz = TimeZone::get("Europe/Berlin").unwrap();
        let cron = Cron::parse("0 2 * * *").unwrap();
        // Spring forward: 2026-03-29 02:00 does not exist; it fires at 03:00 CEST = 01:00Z, once.
        let a = cron.next_after(ts("2026-03-28T01:00:00Z"), &tz).unwrap();
        assert_eq!(a, ts("2026-03-29T01:00:00Z"));
        let b = cron.next_after(a, &tz).unwrap();
        assert_eq!(b, ts("2026-03-30T00:00:00Z"));
        // Fall back: 2026-10-25 02:00 exists twice; only the first (CEST, 00:00Z) fires.
        let c = cron.next_after(ts("2026-10-24T00:00:00Z"), &tz).unwrap();
        assert_eq!(c, ts("2026-10-25T00:00:00Z"));
        let d = cron.next_after(c, &tz).unwrap();
        assert_eq!(d, ts("2026-10-26T01:00:00Z"));
    }
}
