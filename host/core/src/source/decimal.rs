//! Decimal text, exactly: `-123.4500` parsed into an `i128` at a given scale, never
//! rounded, and the test inference uses to decide whether a float64 would keep every digit.
//!
//! Only plain notation is a decimal literal (an optional sign, digits, an optional point and
//! digits). Exponents (`1.5e3`), `NaN` and `inf` are float notation.

/// The largest precision of an Arrow `Decimal128`.
pub const MAX_PRECISION: u8 = 38;

/// A plain decimal literal, split into its parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Literal<'a> {
    pub negative: bool,
    /// The digits before the point, without leading zeros.
    pub integer: &'a [u8],
    /// The digits after the point, as written (trailing zeros kept: they state the scale).
    pub fraction: &'a [u8],
}

impl<'a> Literal<'a> {
    /// Splits `text` (already trimmed) if it is a plain decimal literal.
    pub fn parse(text: &'a [u8]) -> Option<Self> {
        let (negative, rest) = match text.first() {
            Some(b'-') => (true, &text[1..]),
            Some(b'+') => (false, &text[1..]),
            _ => (false, text),
        };
        let (integer, fraction) = match rest.iter().position(|&b| b == b'.') {
            Some(point) => (&rest[..point], &rest[point + 1..]),
            None => (rest, &rest[rest.len()..]),
        };
        let digits = |part: &[u8]| part.iter().all(u8::is_ascii_digit);
        if integer.is_empty() && fraction.is_empty() || !digits(integer) || !digits(fraction) {
            return None;
        }
        let leading = integer.iter().take_while(|&&b| b == b'0').count();
        Some(Literal {
            negative,
            integer: &integer[leading..],
            fraction,
        })
    }

    /// The precision and scale this literal needs as written.
    pub fn shape(&self) -> (usize, usize) {
        (
            self.integer.len() + self.fraction.len(),
            self.fraction.len(),
        )
    }

    /// The value at `scale`, if it has at most `precision - scale` integer digits and no
    /// non-zero digit past `scale`: never rounded.
    pub fn to_scaled(self, precision: u8, scale: i8) -> Option<i128> {
        let scale = usize::try_from(scale).ok()?;
        let (kept, dropped) = self.fraction.split_at(self.fraction.len().min(scale));
        if dropped.iter().any(|&b| b != b'0') || self.integer.len() + scale > precision as usize {
            return None;
        }
        let mut value: i128 = 0;
        for &digit in self.integer.iter().chain(kept) {
            value = value * 10 + i128::from(digit - b'0');
        }
        value = value.checked_mul(10i128.checked_pow((scale - kept.len()) as u32)?)?;
        Some(if self.negative { -value } else { value })
    }

    /// The significant digits (no leading or trailing zeros) and where the point falls
    /// among them: `0.0120` is (`12`, -1), `1200` is (`12`, 4).
    fn significand(&self) -> (Vec<u8>, i64) {
        let mut digits: Vec<u8> = self.integer.iter().chain(self.fraction).copied().collect();
        let mut point = self.integer.len() as i64;
        let leading = digits.iter().take_while(|&&b| b == b'0').count();
        digits.drain(..leading);
        point -= leading as i64;
        while digits.last() == Some(&b'0') {
            digits.pop();
        }
        (digits, point)
    }
}

/// Whether a float64 keeps every digit of this literal: reading it and printing the double
/// back (shortest form) gives the same number. Always true up to 15 significant digits.
pub(crate) fn fits_float64(literal: &Literal, value: f64) -> bool {
    let (digits, point) = literal.significand();
    if digits.len() <= 15 {
        return true;
    }
    let printed = format!("{}", value.abs());
    match Literal::parse(printed.as_bytes()) {
        Some(back) => back.significand() == (digits, point),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scaled(text: &str, precision: u8, scale: i8) -> Option<i128> {
        Literal::parse(text.as_bytes())?.to_scaled(precision, scale)
    }

    #[test]
    fn parses_exactly_or_not_at_all() {
        assert_eq!(scaled("12.5", 12, 2), Some(1250));
        assert_eq!(scaled("-0.07", 12, 2), Some(-7));
        assert_eq!(scaled("+3", 12, 2), Some(300));
        assert_eq!(scaled(".5", 12, 2), Some(50));
        assert_eq!(
            scaled("1.230", 12, 2),
            Some(123),
            "a trailing zero loses nothing"
        );
        assert_eq!(scaled("1.234", 12, 2), None, "never rounded");
        assert_eq!(scaled("1234567890.12", 12, 2), Some(123456789012));
        assert_eq!(
            scaled("12345678901.1", 12, 2),
            None,
            "too many integer digits"
        );
        assert_eq!(
            scaled("99999999999999999999999999999999999999", 38, 0),
            Some(99_999_999_999_999_999_999_999_999_999_999_999_999)
        );
        for bad in ["", "-", ".", "1e5", "1.2.3", "NaN", "1,5", "12a"] {
            assert_eq!(scaled(bad, 12, 2), None, "{bad}");
        }
    }

    #[test]
    fn shape_is_as_written() {
        let shape = |t: &str| Literal::parse(t.as_bytes()).unwrap().shape();
        assert_eq!(shape("0012.50"), (4, 2));
        assert_eq!(shape("-7"), (1, 0));
        assert_eq!(shape("0.001"), (3, 3));
    }

    #[test]
    fn a_float_must_keep_every_digit() {
        let fits = |t: &str| {
            let literal = Literal::parse(t.as_bytes()).unwrap();
            fits_float64(&literal, t.parse().unwrap())
        };
        assert!(fits("0.1"));
        assert!(fits("123456789012345"));
        // Printed from doubles, as float writers do: they read back the same.
        assert!(fits("0.30000000000000004"));
        assert!(fits("-1234.5678901234567"));
        assert!(!fits("12345678901234567.89"));
        assert!(!fits("9223372036854775807"), "i64::MAX is not a double");
        assert!(!fits("0.12345678901234567891"));
    }
}
