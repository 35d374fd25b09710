//! Choosing input objects by key: globs over listed keys, and the "newest date in the key"
//! rule of pipeline 001.

use globset::{GlobBuilder, GlobMatcher};

use super::StoreError;

/// A glob over S3 keys: `*` and `?` stay inside one path segment, `**` crosses them.
#[derive(Debug, Clone)]
pub struct KeyGlob {
    /// The literal start of the pattern: the only part S3 can filter on when listing.
    pub prefix: String,
    matcher: Option<GlobMatcher>,
}

impl KeyGlob {
    pub fn new(pattern: &str) -> Result<Self, StoreError> {
        let literal_end = pattern.find(['*', '?', '[', '{']).unwrap_or(pattern.len());
        let prefix = pattern[..literal_end].to_string();
        if literal_end == pattern.len() {
            return Ok(KeyGlob {
                prefix,
                matcher: None,
            });
        }
        let glob = GlobBuilder::new(pattern)
            .literal_separator(true)
            .build()
            .map_err(|e| StoreError::Location {
                location: pattern.into(),
                message: e.to_string(),
            })?;
        Ok(KeyGlob {
            prefix,
            matcher: Some(glob.compile_matcher()),
        })
    }

    /// Whether the pattern has no wildcard, so it names one object.
    pub fn is_literal(&self) -> bool {
        self.matcher.is_none()
    }

    pub fn matches(&self, key: &str) -> bool {
        match &self.matcher {
            Some(m) => m.is_match(key),
            None => key == self.prefix,
        }
    }
}

/// The first run of exactly eight digits in the key that is a valid `YYYYMMDD` date.
/// Pipeline 001 picks the input whose key holds the greatest such date.
pub fn newest_date(key: &str) -> Option<u32> {
    let bytes = key.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if i - start == 8 {
            let value: u32 = key[start..i].parse().expect("eight digits");
            let (month, day) = (value / 100 % 100, value % 100);
            if (1..=12).contains(&month) && (1..=31).contains(&day) {
                return Some(value);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_stay_in_their_segment() {
        let g = KeyGlob::new("raw/*.csv.gz").unwrap();
        assert_eq!(g.prefix, "raw/");
        assert!(g.matches("raw/a.csv.gz"));
        assert!(!g.matches("raw/sub/a.csv.gz"));
        assert!(KeyGlob::new("raw/**/*.csv")
            .unwrap()
            .matches("raw/x/y/a.csv"));
        let literal = KeyGlob::new("raw/a.csv").unwrap();
        assert!(
            literal.is_literal()
                && literal.matches("raw/a.csv")
                && !literal.matches("raw/a.csv.gz")
        );
    }

    #[test]
    fn newest_date_takes_the_first_valid_eight_digit_run() {
        assert_eq!(newest_date("in/20240307_sensor.csv"), Some(20240307));
        assert_eq!(newest_date("in/v2/123456789_20240101.csv"), Some(20240101));
        assert_eq!(newest_date("in/20241399_x_20240102.csv"), Some(20240102));
        assert_eq!(newest_date("in/sensor.csv"), None);
    }
}
