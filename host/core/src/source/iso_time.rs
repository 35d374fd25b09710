//! The common ISO 8601 timestamps read in a few nanoseconds. arrow's parser accepts many
//! forms (offsets, time zones, compact times) and goes through chrono for each value; on a
//! file of timestamps it was a fifth of the whole run. Texts in the shapes below are read
//! here, and every other text still goes to arrow's parser, so what is accepted and the
//! values read are arrow's own (a test holds the two to the same values).

/// Years whose every instant fits arrow's nanosecond intermediate (1677-09-21 to
/// 2262-04-11), so arrow accepts every valid text of them.
const YEARS: std::ops::RangeInclusive<i64> = 1678..=2261;

/// Microseconds since the epoch, UTC, of `YYYY-MM-DD`, or `YYYY-MM-DD` + `T`, `t` or a
/// space + `HH:MM:SS`, with an optional fraction of 1 to 9 digits and an optional `Z`.
/// `None` for any other text, which then goes to arrow's parser.
#[inline]
pub(crate) fn timestamp_micros(text: &[u8]) -> Option<i64> {
    let days = date_days(text)?;
    let mut seconds = days * 86_400;
    let mut nanos = 0;
    if text.len() > 10 {
        if !matches!(text[10], b'T' | b't' | b' ') {
            return None;
        }
        let time = text.get(11..19)?;
        if time[2] != b':' || time[5] != b':' {
            return None;
        }
        let (hour, minute, second) = (two(&time[0..2])?, two(&time[3..5])?, two(&time[6..8])?);
        // A leap second (60) is left to arrow.
        if hour > 23 || minute > 59 || second > 59 {
            return None;
        }
        seconds += hour * 3600 + minute * 60 + second;
        let rest = fraction(&text[19..], &mut nanos)?;
        if !matches!(rest, b"" | b"Z" | b"z") {
            return None;
        }
    }
    // arrow computes nanoseconds and divides, which truncates toward zero before 1970.
    Some((seconds * 1_000_000_000 + nanos) / 1_000)
}

/// Days since 1970-01-01 of a text starting `YYYY-MM-DD`, for the years above.
#[inline]
fn date_days(text: &[u8]) -> Option<i64> {
    let date = text.get(..10)?;
    if date[4] != b'-' || date[7] != b'-' {
        return None;
    }
    let year = two(&date[0..2])? * 100 + two(&date[2..4])?;
    let (month, day) = (two(&date[5..7])?, two(&date[8..10])?);
    if !YEARS.contains(&year) || !(1..=12).contains(&month) {
        return None;
    }
    if day < 1 || day > days_in_month(year, month) {
        return None;
    }
    Some(days_from_civil(year, month, day))
}

/// `.` and 1 to 9 digits as nanoseconds, returning what follows; no `.`: zero and all of it.
#[inline]
fn fraction<'a>(text: &'a [u8], nanos: &mut i64) -> Option<&'a [u8]> {
    let Some(digits) = text.strip_prefix(b".") else {
        return Some(text);
    };
    let count = digits.iter().take_while(|b| b.is_ascii_digit()).count();
    if !(1..=9).contains(&count) {
        return None;
    }
    let value = digits[..count]
        .iter()
        .fold(0i64, |n, d| n * 10 + i64::from(d - b'0'));
    *nanos = value * 10i64.pow(9 - count as u32);
    Some(&digits[count..])
}

#[inline]
fn two(pair: &[u8]) -> Option<i64> {
    let (tens, ones) = (pair[0].wrapping_sub(b'0'), pair[1].wrapping_sub(b'0'));
    (tens < 10 && ones < 10).then(|| i64::from(tens * 10 + ones))
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Howard Hinnant's `days_from_civil`: days since 1970-01-01 in the proleptic Gregorian
/// calendar.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use arrow::datatypes::TimestampMicrosecondType;
    use arrow_cast::parse::Parser;

    use super::timestamp_micros;

    fn arrow(text: &str) -> Option<i64> {
        TimestampMicrosecondType::parse(text)
    }

    /// Dates at the edges of the range, month ends in leap and common years, near misses.
    #[rustfmt::skip]
    const DATES: [&str; 23] = [
        "1677-12-31", "1678-01-01", "1900-02-28", "1900-02-29", "1969-12-31", "1970-01-01",
        "2000-02-29", "2023-02-29", "2024-02-29", "2024-04-30", "2024-04-31", "2024-12-31",
        "2024-13-01", "2024-00-10", "2024-01-00", "2024-01-32", "2261-12-31", "2262-01-01",
        "0000-01-01", "9999-12-31", "2024/01/01", "2024-1-01", "20240101",
    ];
    /// Times at their limits, each separator, near misses.
    #[rustfmt::skip]
    const TIMES: [&str; 12] = [
        "", "T00:00:00", "T23:59:59", " 12:34:56", "t01:02:03", "T24:00:00", "T23:60:00",
        "T23:59:60", "T12:34", "T123456", "X12:34:56", "T1:02:03",
    ];
    /// Fractions of every length and one too long.
    #[rustfmt::skip]
    const FRACTIONS: [&str; 14] = [
        "", ".", ".1", ".12", ".123", ".1234", ".12345", ".123456", ".1234567", ".12345678",
        ".123456789", ".1234567891", ".999999999", ".000000001",
    ];
    const SUFFIXES: [&str; 8] = ["", "Z", "z", "+00:00", "-05:00", " ", "ZZ", "x"];

    /// Every combination of the parts above: texts around every boundary the fast path
    /// decides on.
    fn texts() -> Vec<String> {
        let mut texts = Vec::new();
        for date in DATES {
            for time in TIMES {
                for fraction in FRACTIONS {
                    for suffix in SUFFIXES {
                        texts.push(format!("{date}{time}{fraction}{suffix}"));
                    }
                }
            }
        }
        texts
    }

    #[test]
    fn the_fast_path_reads_the_values_arrow_reads() {
        let mut taken = 0;
        for text in texts() {
            if let Some(value) = timestamp_micros(text.as_bytes()) {
                assert_eq!(Some(value), arrow(&text), "{text:?}");
                taken += 1;
            }
        }
        // Every well-formed text takes the fast path: 9 valid dates, each alone or with 4
        // valid times x 12 valid fractions x 3 valid suffixes (the rest fall back, unharmed).
        assert_eq!(taken, 9 * (1 + 4 * 12 * 3));
    }

    #[test]
    fn known_values() {
        let at = |text: &str| timestamp_micros(text.as_bytes());
        assert_eq!(at("1970-01-01"), Some(0));
        assert_eq!(at("2024-03-01T00:00:09Z"), Some(1_709_251_209_000_000));
        assert_eq!(at("1969-12-31 23:59:59.5"), Some(-500_000));
        // -500 ns truncates toward zero, as arrow's division does.
        assert_eq!(at("1969-12-31 23:59:59.9999995"), Some(0));
        assert_eq!(at("2024-03-01T00:00:09+01:00"), None);
        assert_eq!(at("2024-02-30"), None);
    }
}
