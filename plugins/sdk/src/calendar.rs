//! Proleptic-Gregorian calendar arithmetic on days since 1970-01-01 (`civil_from_days` is
//! Howard Hinnant's algorithm), for plugins that parse or format dates without a date library.

/// Days since 1970-01-01 of a real date in years 1..=9999; `None` for month 13, day 0,
/// 2021-02-29 and the like (never rolled over into the next month).
#[inline]
pub fn days_from_civil(year: u32, month: u32, day: u32) -> Option<i32> {
    // Days before each month of a common year; a leap year adds one from March on.
    const BEFORE: [u32; 13] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365];
    if !(1..=9999).contains(&year) || !(1..=12).contains(&month) || day == 0 {
        return None;
    }
    let leap = (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400);
    let m = month as usize;
    let in_month = BEFORE[m] - BEFORE[m - 1] + u32::from(month == 2 && leap);
    if day > in_month {
        return None;
    }
    // Plain unsigned arithmetic with constant divisors (multiplies once compiled): this
    // runs for every date a plugin parses.
    let past = year - 1;
    let days = 365 * past + past / 4 - past / 100
        + past / 400
        + BEFORE[m - 1]
        + u32::from(month > 2 && leap)
        + day
        - 1;
    // 0001-01-01 is day 0 of that count and 719 162 days before 1970-01-01.
    Some(days as i32 - 719_162)
}

/// (year, month, day) of a day count since 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` text, if it names a real date.
pub fn parse_iso_date(text: &str) -> Option<i32> {
    let b = text.as_bytes();
    if b.len() != 10
        || b[4] != b'-'
        || b[7] != b'-'
        || !b
            .iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
    {
        return None;
    }
    days_from_civil(
        text[0..4].parse().ok()?,
        text[5..7].parse().ok()?,
        text[8..10].parse().ok()?,
    )
}

/// `YYYY-MM-DD HH:MM:SS` of whole seconds since the epoch (UTC).
pub fn format_seconds(seconds: i64) -> String {
    let (days, rem) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_impossible_dates() {
        // Every day of years 1..=9999, and the day after each month's last is refused.
        for days in -719_162..=2_932_896 {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y as u32, m, d), Some(days as i32));
            let (_, next_m, _) = civil_from_days(days + 1);
            if next_m != m {
                assert_eq!(days_from_civil(y as u32, m, d + 1), None, "{y}-{m}-{d}");
            }
        }
        assert_eq!(days_from_civil(10_000, 1, 1), None);
        assert_eq!(parse_iso_date("2024-02-29"), Some(19_782));
        assert_eq!(parse_iso_date("2023-02-29"), None);
        assert_eq!(parse_iso_date("0000-01-01"), None);
        assert_eq!(format_seconds(86_399), "1970-01-01 23:59:59");
    }
}
