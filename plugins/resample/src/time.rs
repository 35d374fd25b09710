//! Grid widths, and whole-second timestamp text.

/// Parses `30s`, `1m`, `15m`, `1h`, `1d` (or a bare number of seconds) to microseconds.
pub fn parse_width(text: &str) -> Option<i64> {
    let text = text.trim();
    let (number, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => (&text[..i], &text[i..]),
        None => (text, "s"),
    };
    let n: i64 = number.parse().ok()?;
    let seconds = match unit {
        "s" => 1,
        "m" | "min" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    };
    Some(n * seconds * 1_000_000)
}

pub use sluice_sdk::calendar::format_seconds;
