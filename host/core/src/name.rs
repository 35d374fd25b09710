//! One rule for every name that becomes part of an object key or a file path: table and
//! ingest job names, tenants, versions, run ids, ingest assets and trigger captures. A
//! name is one path segment, so no value, from a pipeline file, a `--var` or an event's
//! object key, can step out of the folder it names something in.

/// The longest name: a file name on every common filesystem.
const MAX_BYTES: usize = 255;

/// A name that can't be one segment of a path: what it names, the name, and the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} {name:?} {problem}: a name that becomes part of a path must be one plain segment")]
pub struct NameError {
    pub what: String,
    pub name: String,
    pub problem: &'static str,
}

/// Checks that `name` is one safe path segment; the error says which rule it breaks.
pub fn check(what: &str, name: &str) -> Result<(), NameError> {
    let problem = if name.is_empty() {
        "is empty"
    } else if name == "." || name == ".." {
        "is `.` or `..`"
    } else if name.contains(['/', '\\']) {
        "holds a path separator"
    } else if name.starts_with('.') {
        "starts with a dot (hidden names are Sluice's own)"
    } else if name.chars().any(char::is_control) {
        "holds a control character"
    } else if name.len() > MAX_BYTES {
        "is longer than 255 bytes"
    } else {
        return Ok(());
    };
    Err(NameError {
        what: what.into(),
        name: name.into(),
        problem,
    })
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn one_plain_segment_passes_and_every_escape_is_refused() {
        for good in ["orders", "acme", "20201230_V0001", "run-1", "über", "a.b"] {
            assert!(check("table", good).is_ok(), "{good}");
        }
        let long = "x".repeat(256);
        for (bad, says) in [
            ("", "is empty"),
            ("..", "`..`"),
            (".", "`..`"),
            ("../../x", "path separator"),
            ("a/b", "path separator"),
            ("a\\b", "path separator"),
            (".hidden", "starts with a dot"),
            ("a\nb", "control character"),
            (long.as_str(), "longer than 255"),
        ] {
            let message = check("table", bad).unwrap_err().to_string();
            assert!(message.contains(says), "{bad:?}: {message}");
        }
    }
}
