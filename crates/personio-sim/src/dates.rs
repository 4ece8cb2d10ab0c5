//! Calendar arithmetic and Personio's date formats (v1 Europe/Berlin offsets, v2 UTC), without tzdb.
//!
//! Dates are kept as days since 1970-01-01 and instants as Unix seconds: cheap to store for 100k
//! people and cheap to format on every page.

use std::fmt::Write as _;

/// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
pub(crate) fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date `(year, month, day)` of a day number.
pub(crate) fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// 0 = Sunday … 6 = Saturday.
fn weekday(days: i64) -> i64 {
    (days + 4).rem_euclid(7)
}

fn last_sunday(y: i64, m: i64) -> i64 {
    let last = days_from_civil(y, m, 31);
    last - weekday(last)
}

/// Europe/Berlin offset in seconds at a UTC instant (EU rule: DST from the last Sunday of March
/// 01:00 UTC to the last Sunday of October 01:00 UTC).
pub(crate) fn berlin_offset_at(utc_secs: i64) -> i64 {
    let days = utc_secs.div_euclid(86_400);
    let (y, _, _) = civil_from_days(days);
    let start = last_sunday(y, 3) * 86_400 + 3_600;
    let end = last_sunday(y, 10) * 86_400 + 3_600;
    if utc_secs >= start && utc_secs < end {
        7_200
    } else {
        3_600
    }
}

/// Europe/Berlin offset in seconds at local midnight of a date.
pub(crate) fn berlin_offset_on(days: i64) -> i64 {
    let (y, _, _) = civil_from_days(days);
    if days > last_sunday(y, 3) && days <= last_sunday(y, 10) {
        7_200
    } else {
        3_600
    }
}

/// `YYYY-MM-DD`.
pub(crate) fn write_date(out: &mut String, days: i64) {
    let (y, m, d) = civil_from_days(days);
    let _ = write!(out, "{y:04}-{m:02}-{d:02}");
}

pub(crate) fn date_string(days: i64) -> String {
    let mut s = String::with_capacity(10);
    write_date(&mut s, days);
    s
}

fn write_offset(out: &mut String, offset: i64, colon: bool) {
    let h = offset / 3600;
    let m = (offset % 3600) / 60;
    if colon {
        let _ = write!(out, "+{h:02}:{m:02}");
    } else {
        let _ = write!(out, "+{h:02}{m:02}");
    }
}

/// v1 date attribute: local midnight with the Berlin offset, `+01:00` or (old style) `+0100`.
pub(crate) fn write_v1_date(out: &mut String, days: i64, colon: bool) {
    write_date(out, days);
    out.push_str("T00:00:00");
    write_offset(out, berlin_offset_on(days), colon);
}

/// v1 timestamp: Berlin local time with its offset, e.g. `2020-11-18T17:33:55+01:00`.
pub(crate) fn write_v1_timestamp(out: &mut String, utc_secs: i64) {
    let offset = berlin_offset_at(utc_secs);
    let local = utc_secs + offset;
    write_date(out, local.div_euclid(86_400));
    let s = local.rem_euclid(86_400);
    let _ = write!(out, "T{:02}:{:02}:{:02}", s / 3600, (s % 3600) / 60, s % 60);
    write_offset(out, offset, true);
}

/// v2 timestamp: UTC with `Z`.
pub(crate) fn write_v2_timestamp(out: &mut String, utc_secs: i64) {
    write_date(out, utc_secs.div_euclid(86_400));
    let s = utc_secs.rem_euclid(86_400);
    let _ = write!(
        out,
        "T{:02}:{:02}:{:02}Z",
        s / 3600,
        (s % 3600) / 60,
        s % 60
    );
}

pub(crate) fn v2_timestamp_string(utc_secs: i64) -> String {
    let mut s = String::with_capacity(20);
    write_v2_timestamp(&mut s, utc_secs);
    s
}

/// Parses `YYYY-MM-DD` into a day number.
pub(crate) fn parse_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let y: i64 = s.get(0..4)?.parse().ok()?;
    let m: i64 = s.get(5..7)?.parse().ok()?;
    let d: i64 = s.get(8..10)?.parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let days = days_from_civil(y, m, d);
    (civil_from_days(days) == (y, m, d)).then_some(days)
}

/// Parses a local `YYYY-MM-DDTHH:MM:SS` into (days, seconds of day).
fn parse_local(s: &str) -> Option<(i64, i64)> {
    let days = parse_date(s.get(0..10)?)?;
    if s.len() == 10 {
        return Some((days, 0));
    }
    let rest = s.get(10..)?;
    let rest = rest.strip_prefix('T').or_else(|| rest.strip_prefix(' '))?;
    let mut parts = rest.split(':');
    let h: i64 = parts.next()?.parse().ok()?;
    let m: i64 = parts.next()?.parse().ok()?;
    let sec: i64 = match parts.next() {
        Some(p) => p.split('.').next()?.parse().ok()?,
        None => 0,
    };
    if parts.next().is_some() || h > 23 || m > 59 || sec > 60 {
        return None;
    }
    Some((days, h * 3600 + m * 60 + sec))
}

/// Parses an instant: RFC 3339 with `Z`/offset, or a zone-less local date-time / date that is
/// read in `zone_less` (Berlin local time for v1 `updated_since`, UTC for v2 filters).
pub(crate) fn parse_instant(s: &str, zone_less: ZoneLess) -> Option<i64> {
    let s = s.trim();
    if let Ok(ts) = s.parse::<jiff::Timestamp>() {
        return Some(ts.as_second());
    }
    let (days, secs) = parse_local(s)?;
    let local = days * 86_400 + secs;
    match zone_less {
        ZoneLess::Utc => Some(local),
        ZoneLess::Berlin => {
            let guess = local - 3_600;
            Some(local - berlin_offset_at(guess))
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum ZoneLess {
    Utc,
    Berlin,
}

/// A day number as a jiff civil date.
pub(crate) fn to_jiff_date(days: i64) -> Option<jiff::civil::Date> {
    let (y, m, d) = civil_from_days(days);
    jiff::civil::Date::new(
        i16::try_from(y).ok()?,
        i8::try_from(m).ok()?,
        i8::try_from(d).ok()?,
    )
    .ok()
}

/// A jiff civil date as a day number.
pub(crate) fn from_jiff_date(d: jiff::civil::Date) -> i64 {
    days_from_civil(
        i64::from(d.year()),
        i64::from(d.month()),
        i64::from(d.day()),
    )
}

/// Now, in whole Unix seconds.
pub(crate) fn now_secs() -> i64 {
    jiff::Timestamp::now().as_second()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip() {
        for days in [-1000, 0, 1, 19_000, 20_000, 20_415] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(date_string(0), "1970-01-01");
        assert_eq!(parse_date("2024-02-29"), Some(days_from_civil(2024, 2, 29)));
        assert_eq!(parse_date("2023-02-29"), None);
    }

    #[test]
    fn berlin_offsets_follow_dst() {
        let mut s = String::new();
        write_v1_date(&mut s, days_from_civil(2014, 11, 9), true);
        assert_eq!(s, "2014-11-09T00:00:00+01:00");
        s.clear();
        write_v1_date(&mut s, days_from_civil(2024, 7, 1), false);
        assert_eq!(s, "2024-07-01T00:00:00+0200");
        s.clear();
        // 2020-11-18T16:33:55Z is 17:33:55 in Berlin (winter).
        write_v1_timestamp(
            &mut s,
            days_from_civil(2020, 11, 18) * 86_400 + 16 * 3600 + 33 * 60 + 55,
        );
        assert_eq!(s, "2020-11-18T17:33:55+01:00");
        // The DST switch day: 2024-03-31 midnight is still +01:00, 2024-10-27 midnight still +02:00.
        assert_eq!(berlin_offset_on(days_from_civil(2024, 3, 31)), 3600);
        assert_eq!(berlin_offset_on(days_from_civil(2024, 4, 1)), 7200);
        assert_eq!(berlin_offset_on(days_from_civil(2024, 10, 27)), 7200);
        assert_eq!(berlin_offset_on(days_from_civil(2024, 10, 28)), 3600);
    }

    #[test]
    fn parses_instants() {
        let t = days_from_civil(2022, 12, 24) * 86_400 + 8 * 3600 + 15 * 60 + 30;
        assert_eq!(
            parse_instant("2022-12-24T08:15:30Z", ZoneLess::Berlin),
            Some(t)
        );
        assert_eq!(parse_instant("2022-12-24T08:15:30", ZoneLess::Utc), Some(t));
        assert_eq!(
            parse_instant("2022-12-24T08:15:30", ZoneLess::Berlin),
            Some(t - 3600)
        );
        assert_eq!(
            parse_instant("2022-12-24", ZoneLess::Utc),
            Some(t - 8 * 3600 - 15 * 60 - 30)
        );
        assert_eq!(parse_instant("wrong-date-format", ZoneLess::Utc), None);
    }
}
