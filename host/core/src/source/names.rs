//! Column names from a header, made usable by every engine: no empty names, no two alike,
//! and optionally `snake_case` for Glue and Athena (lower case letters, digits and `_`).

use serde::{Deserialize, Serialize};

/// How header names are written into the schema.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NameStyle {
    /// As in the header (only empty and repeated names change).
    #[default]
    AsIs,
    /// `Order ID` -> `order_id`, `createdAt` -> `created_at`.
    SnakeCase,
}

/// A header name that was changed, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Renamed {
    /// 1-based column position.
    pub column: usize,
    pub from: String,
    pub to: String,
    pub reason: &'static str,
}

/// The schema's names for a header: `style` applied, empty names as `column_N` (N the
/// 1-based position), repeats suffixed `_1`, `_2`, ... (skipping names the header has).
pub fn unique_names(header: Vec<String>, style: NameStyle) -> (Vec<String>, Vec<Renamed>) {
    let styled: Vec<String> = header
        .iter()
        .map(|name| match style {
            NameStyle::AsIs => name.clone(),
            NameStyle::SnakeCase => snake_case(name),
        })
        .collect();
    let mut taken: std::collections::HashSet<String> = styled.iter().cloned().collect();
    let mut used = std::collections::HashSet::new();
    let mut names = Vec::with_capacity(header.len());
    let mut renamed = Vec::new();
    for (i, (original, styled)) in header.into_iter().zip(styled).enumerate() {
        let (name, reason) = if styled.trim().is_empty() {
            (free(format!("column_{}", i + 1), &mut taken), "empty name")
        } else if used.contains(&styled) {
            (free(styled.clone(), &mut taken), "repeated name")
        } else {
            (styled, "snake_case")
        };
        used.insert(name.clone());
        if name != original {
            renamed.push(Renamed {
                column: i + 1,
                from: original,
                to: name.clone(),
                reason,
            });
        }
        names.push(name);
    }
    (names, renamed)
}

/// `base` if no column has it, else the first free `base_1`, `base_2`, ...; then taken.
fn free(base: String, taken: &mut std::collections::HashSet<String>) -> String {
    let mut name = base.clone();
    let mut n = 0;
    while taken.contains(&name) {
        n += 1;
        name = format!("{base}_{n}");
    }
    taken.insert(name.clone());
    name
}

/// Lower case words joined by `_`: a word ends at anything but a letter or digit, and at a
/// lower-to-upper change (`createdAt`) or before the last capital of a run (`HTTPCode`).
pub fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.trim().chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            if !out.ends_with('_') {
                out.push('_');
            }
            continue;
        }
        let prev = i.checked_sub(1).map(|p| chars[p]);
        let next = chars.get(i + 1);
        let boundary = c.is_uppercase()
            && prev.is_some_and(|p| {
                p.is_lowercase()
                    || p.is_ascii_digit()
                    || (p.is_uppercase() && next.is_some_and(|n| n.is_lowercase()))
            });
        if boundary && !out.ends_with('_') {
            out.push('_');
        }
        out.extend(c.to_lowercase());
    }
    let out = out.trim_matches('_').to_string();
    match out.chars().next() {
        Some(first) if first.is_ascii_digit() => format!("col_{out}"),
        _ => out,
    }
}

/// The common delimiters, for the hint when a header comes out as a single column.
pub(crate) fn other_delimiter(name: &str, delimiter: char) -> Option<char> {
    [',', ';', '\t', '|']
        .into_iter()
        .filter(|&d| d != delimiter)
        .find(|&d| name.contains(d))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(header: &[&str], style: NameStyle) -> Vec<String> {
        unique_names(header.iter().map(|s| s.to_string()).collect(), style).0
    }

    #[test]
    fn empty_and_repeated_names_become_unique() {
        assert_eq!(
            names(&["a", "", "a", "b", "a", " "], NameStyle::AsIs),
            ["a", "column_2", "a_1", "b", "a_2", "column_6"]
        );
        // A suffix the header already uses is skipped.
        assert_eq!(
            names(&["a", "a", "a_1"], NameStyle::AsIs),
            ["a", "a_2", "a_1"]
        );
        assert_eq!(
            names(&["", "column_1"], NameStyle::AsIs),
            ["column_1_1", "column_1"]
        );
        let (_, renamed) = unique_names(vec!["x".into(), "x".into()], NameStyle::AsIs);
        assert_eq!(
            renamed,
            [Renamed {
                column: 2,
                from: "x".into(),
                to: "x_1".into(),
                reason: "repeated name"
            }]
        );
    }

    #[test]
    fn snake_case_for_glue_and_athena() {
        for (from, to) in [
            ("Order ID", "order_id"),
            ("createdAt", "created_at"),
            ("HTTPCode", "http_code"),
            ("unit-price (EUR)", "unit_price_eur"),
            ("  Already_snake  ", "already_snake"),
            ("2024 sales", "col_2024_sales"),
            ("Straße", "straße"),
        ] {
            assert_eq!(snake_case(from), to, "{from}");
        }
        assert_eq!(
            names(&["Order ID", "order_id"], NameStyle::SnakeCase),
            ["order_id", "order_id_1"]
        );
    }

    #[test]
    fn a_single_column_header_with_another_delimiter_is_suspect() {
        assert_eq!(other_delimiter("order_id;customer_id", ','), Some(';'));
        assert_eq!(other_delimiter("order_id", ','), None);
        assert_eq!(other_delimiter("a,b", ';'), Some(','));
    }
}
