//! Date layouts parsed straight from bytes. A value must match a layout as a whole (no
//! trimming) and name a real proleptic-Gregorian date in years 1..=9999: `2021-02-30` is
//! invalid, never rolled over into March.

use serde::Deserialize;
use sluice_sdk::calendar::days_from_civil;

/// The layouts a column may accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Layout {
    #[serde(rename = "YYYY-MM-DD")]
    IsoDate,
    #[serde(rename = "YYYY-MM-DD HH:MM:SS")]
    IsoDateTime,
    #[serde(rename = "DD/MM/YYYY")]
    DayFirst,
    #[serde(rename = "MM/DD/YYYY")]
    MonthFirst,
}

/// What a field turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parsed {
    /// Days since 1970-01-01.
    Date(i32),
    /// It has the shape of a layout but names no real date (or time).
    Impossible,
    /// It matches no layout.
    Unrecognised,
}

fn digits<const N: usize>(b: &[u8]) -> Option<u32> {
    if b.len() != N {
        return None;
    }
    b.iter().try_fold(0u32, |acc, &c| {
        c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
    })
}

impl Layout {
    /// `None` when the field does not have this layout's shape.
    fn parse(self, b: &[u8]) -> Option<Parsed> {
        let (y, m, d) = match self {
            Layout::IsoDate | Layout::IsoDateTime => {
                let want = if self == Layout::IsoDate { 10 } else { 19 };
                if b.len() != want || b[4] != b'-' || b[7] != b'-' {
                    return None;
                }
                (
                    digits::<4>(&b[0..4])?,
                    digits::<2>(&b[5..7])?,
                    digits::<2>(&b[8..10])?,
                )
            }
            Layout::DayFirst | Layout::MonthFirst => {
                if b.len() != 10 || b[2] != b'/' || b[5] != b'/' {
                    return None;
                }
                let (first, second, y) = (
                    digits::<2>(&b[0..2])?,
                    digits::<2>(&b[3..5])?,
                    digits::<4>(&b[6..10])?,
                );
                if self == Layout::DayFirst {
                    (y, second, first)
                } else {
                    (y, first, second)
                }
            }
        };
        if self == Layout::IsoDateTime {
            if b[10] != b' ' || b[13] != b':' || b[16] != b':' {
                return None;
            }
            let (hh, mi, ss) = (
                digits::<2>(&b[11..13])?,
                digits::<2>(&b[14..16])?,
                digits::<2>(&b[17..19])?,
            );
            if hh > 23 || mi > 59 || ss > 59 {
                return Some(Parsed::Impossible);
            }
        }
        Some(days_from_civil(y, m, d).map_or(Parsed::Impossible, Parsed::Date))
    }
}

/// Tries each layout in order.
#[inline]
pub fn parse(field: &[u8], layouts: &[Layout]) -> Parsed {
    layouts
        .iter()
        .find_map(|l| l.parse(field))
        .unwrap_or(Parsed::Unrecognised)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Layout; 3] = [Layout::IsoDate, Layout::DayFirst, Layout::IsoDateTime];

    #[test]
    fn layouts_and_calendar() {
        assert_eq!(parse(b"1970-01-02", &ALL), Parsed::Date(1));
        assert_eq!(parse(b"04/03/2021", &ALL), parse(b"2021-03-04", &ALL));
        assert_eq!(
            parse(b"2021-03-04 10:22:01", &ALL),
            parse(b"2021-03-04", &ALL)
        );
        assert_eq!(parse(b"2024-02-29", &ALL), Parsed::Date(19782));
        for bad in [
            &b"2021-02-30"[..],
            b"31/04/2023",
            b"2021-02-29 08:00:00",
            b"2021-13-01",
            b"2021-00-10",
            b"0000-00-00",
            b"2021-01-01 24:00:00",
        ] {
            assert_eq!(
                parse(bad, &ALL),
                Parsed::Impossible,
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        for odd in [
            &b"NaN"[..],
            b" 2021-03-04",
            b"2021-3-4",
            b"2021-03-04T10:00:00",
            b"",
        ] {
            assert_eq!(
                parse(odd, &ALL),
                Parsed::Unrecognised,
                "{}",
                String::from_utf8_lossy(odd)
            );
        }
        assert_eq!(
            parse(b"03/04/2021", &[Layout::MonthFirst]),
            parse(b"2021-03-04", &ALL)
        );
    }
}
