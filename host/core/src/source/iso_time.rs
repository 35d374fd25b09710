//! The common ISO 8601 timestamps read in a few nanoseconds. arrow's parser accepts many
//! forms (offsets, time zones, compact times) and goes through chrono for each value; on a
//! file of timestamps it was a fifth of the whole run. Texts in the shapes below are read
//! here, and every other text still goes to arrow's parser, so what is accepted and the
//! values read are arrow's own (a test holds the two to the same values).

/// Years whose every instant fits arrow's nanosecond intermediate (1677-09-21 to
/// 2262-04-11), so arrow accepts every valid text of them.
const YEARS: std::ops::RangeInclusive<u32> = 1678..=2261;

/// [`IsoTimes::micros`] with a fresh reader, for the tests.
#[cfg(test)]
pub(crate) fn timestamp_micros(text: &[u8]) -> Option<i64> {
    IsoTimes::default().micros(text)
}

/// The reader of one column's timestamps. It keeps the last date it read: the rows of an
/// export mostly come in time order, so most timestamps share the date of the row before,
/// and comparing ten bytes is cheaper than reading them.
pub(crate) struct IsoTimes {
    /// The last valid date's ten bytes as one number (`NONE` before the first), and its
    /// day count.
    last: u128,
    days: i64,
}

impl Default for IsoTimes {
    fn default() -> Self {
        IsoTimes {
            last: Self::NONE,
            days: 0,
        }
    }
}

impl IsoTimes {
    /// Ten bytes fill 80 bits: no date's key is this.
    const NONE: u128 = u128::MAX;

    /// Microseconds since the epoch, UTC, of `YYYY-MM-DD`, or `YYYY-MM-DD` + `T`, `t` or a
    /// space + `HH:MM:SS`, with an optional fraction of 1 to 9 digits and an optional `Z`.
    /// `None` for any other text, which then goes to arrow's parser.
    #[inline]
    pub(crate) fn micros(&mut self, text: &[u8]) -> Option<i64> {
        let days = self.date_days(text)?;
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
            seconds += i64::from(hour * 3600 + minute * 60 + second);
            let rest = fraction(&text[19..], &mut nanos)?;
            if !matches!(rest, b"" | b"Z" | b"z") {
                return None;
            }
        }
        // arrow computes nanoseconds and divides, which truncates toward zero before 1970.
        Some((seconds * 1_000_000_000 + nanos) / 1_000)
    }

    /// Days since 1970-01-01 of exactly `YYYY-MM-DD`; `None` for any other text, which
    /// then goes to arrow's parser.
    #[inline]
    pub(crate) fn date(&mut self, text: &[u8]) -> Option<i32> {
        if text.len() != 10 {
            return None;
        }
        self.date_days(text).map(|days| days as i32)
    }

    /// Days since 1970-01-01 of a text starting `YYYY-MM-DD`, for the years above.
    #[inline]
    fn date_days(&mut self, text: &[u8]) -> Option<i64> {
        let date: &[u8; 10] = text.get(..10)?.try_into().ok()?;
        let key = u128::from(u64::from_le_bytes(date[..8].try_into().ok()?))
            | u128::from(u16::from_le_bytes([date[8], date[9]])) << 64;
        if key == self.last {
            return Some(self.days);
        }
        let days = date_days(date)?;
        (self.last, self.days) = (key, days);
        Some(days)
    }
}

/// Days since 1970-01-01 of `YYYY-MM-DD`, for the years above.
#[inline]
fn date_days(date: &[u8; 10]) -> Option<i64> {
    if date[4] != b'-' || date[7] != b'-' {
        return None;
    }
    let year = two(&date[0..2])? * 100 + two(&date[2..4])?;
    let (month, day) = (two(&date[5..7])?, two(&date[8..10])?);
    if !YEARS.contains(&year) {
        return None;
    }
    days_from_civil(year, month, day)
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
fn two(pair: &[u8]) -> Option<u32> {
    let (tens, ones) = (pair[0].wrapping_sub(b'0'), pair[1].wrapping_sub(b'0'));
    (tens < 10 && ones < 10).then(|| u32::from(tens * 10 + ones))
}

/// Days since 1970-01-01 in the proleptic Gregorian calendar of a valid date of a year
/// from 1; `None` for a month or day that does not exist. Unsigned arithmetic with constant
/// divisors (multiplies once compiled), as the SDK's `days_from_civil`.
#[inline]
fn days_from_civil(year: u32, month: u32, day: u32) -> Option<i64> {
    // Days before each month of a common year; a leap year adds one from March on.
    const BEFORE: [u32; 13] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365];
    if year == 0 || !(1..=12).contains(&month) || day == 0 {
        return None;
    }
    let leap = (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400);
    let m = month as usize;
    if day > BEFORE[m] - BEFORE[m - 1] + u32::from(month == 2 && leap) {
        return None;
    }
    let past = year - 1;
    let days = 365 * past + past / 4 - past / 100
        + past / 400
        + BEFORE[m - 1]
        + u32::from(month > 2 && leap)
        + day
        - 1;
    // 0001-01-01 is day 0 of that count and 719 162 days before 1970-01-01.
    Some(i64::from(days) - 719_162)
}

#[cfg(test)]
mod tests {
    use arrow::datatypes::{Date32Type, TimestampMicrosecondType};
    use arrow_cast::parse::Parser;

    use super::{timestamp_micros, IsoTimes, YEARS};

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

    /// One reader over every text in turn, as a column is read: a date it keeps from the
    /// text before never changes what the next text reads as.
    #[test]
    fn one_reader_over_many_texts_reads_what_fresh_ones_read() {
        let mut reader = IsoTimes::default();
        let mut texts = texts();
        // Each date with every time, then again interleaved with the other dates.
        let mixed: Vec<String> = (0..texts.len())
            .map(|i| texts[(i * 7919) % texts.len()].clone())
            .collect();
        texts.extend(mixed);
        for text in &texts {
            assert_eq!(
                reader.micros(text.as_bytes()),
                timestamp_micros(text.as_bytes()),
                "{text:?}"
            );
        }
    }

    /// Every day of every year the fast path takes, and the day after each month's last.
    #[test]
    fn every_day_of_the_years_reads_as_arrow_reads_it() {
        let mut reader = IsoTimes::default();
        let mut days = 0;
        for year in YEARS {
            for month in 1..=12 {
                for day in 1..=32 {
                    let text = format!("{year:04}-{month:02}-{day:02}");
                    let date = reader.date(text.as_bytes());
                    assert_eq!(date, Date32Type::parse(&text), "{text}");
                    let ours = reader.micros(text.as_bytes());
                    assert_eq!(ours.is_some(), arrow(&text).is_some(), "{text}");
                    if let Some(micros) = ours {
                        assert_eq!(Some(micros), arrow(&text), "{text}");
                        days += 1;
                    }
                }
            }
        }
        // 584 years, 141 of them leap (1700, 1800, 1900, 2100 and 2200 are not).
        assert_eq!(days, 584 * 365 + 141);
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
