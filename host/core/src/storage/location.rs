//! Where a pipeline's inputs and outputs are: a local path or an `s3://bucket/key` URI.

use std::fmt;
use std::path::{Path, PathBuf};

use super::StoreError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Local(PathBuf),
    S3 { bucket: String, key: String },
}

impl Location {
    /// Parses `s3://bucket/key` or a local path (relative paths are resolved against `base`).
    pub fn parse(text: &str, base: &Path) -> Result<Self, StoreError> {
        let Some(rest) = text.strip_prefix("s3://") else {
            let path = Path::new(text);
            return Ok(Location::Local(if path.is_absolute() {
                path.into()
            } else {
                base.join(path)
            }));
        };
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        let bad = |message: &str| StoreError::Location {
            location: text.into(),
            message: message.into(),
        };
        if bucket.len() < 3 || bucket.len() > 63 {
            return Err(bad("an S3 bucket name has 3 to 63 characters"));
        }
        if !bucket
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        {
            return Err(bad(
                "an S3 bucket name has only lowercase letters, digits, `-` and `.`",
            ));
        }
        Ok(Location::S3 {
            bucket: bucket.into(),
            key: key.into(),
        })
    }

    pub fn is_s3(&self) -> bool {
        matches!(self, Location::S3 { .. })
    }

    /// This location with `/child` appended.
    pub fn join(&self, child: &str) -> Location {
        match self {
            Location::Local(path) => Location::Local(path.join(child)),
            Location::S3 { bucket, key } => Location::S3 {
                bucket: bucket.clone(),
                key: join_key(key, child),
            },
        }
    }
}

/// `prefix/child`, without doubled or leading slashes.
pub fn join_key(prefix: &str, child: &str) -> String {
    let prefix = prefix.trim_end_matches('/');
    let child = child.trim_start_matches('/');
    match (prefix.is_empty(), child.is_empty()) {
        (true, _) => child.into(),
        (_, true) => prefix.into(),
        _ => format!("{prefix}/{child}"),
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Local(path) => write!(f, "{}", path.display()),
            Location::S3 { bucket, key } => write!(f, "s3://{bucket}/{key}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_s3_and_local() {
        let base = Path::new("/base");
        assert_eq!(
            Location::parse("s3://my-bucket/a/b.csv", base).unwrap(),
            Location::S3 {
                bucket: "my-bucket".into(),
                key: "a/b.csv".into()
            }
        );
        assert_eq!(
            Location::parse("s3://my-bucket", base).unwrap().to_string(),
            "s3://my-bucket/"
        );
        assert_eq!(
            Location::parse("in/x.csv", base).unwrap(),
            Location::Local("/base/in/x.csv".into())
        );
        assert_eq!(
            Location::parse("/abs", base).unwrap(),
            Location::Local("/abs".into())
        );
        assert!(Location::parse("s3://ab/x", base).is_err());
        assert!(Location::parse("s3://Upper/x", base).is_err());
    }

    #[test]
    fn joins_keys_without_double_slashes() {
        assert_eq!(join_key("a/", "/b"), "a/b");
        assert_eq!(join_key("", "b"), "b");
        assert_eq!(join_key("a", ""), "a");
    }
}
