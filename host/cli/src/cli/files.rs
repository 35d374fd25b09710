//! The few files the command line itself reads and writes: the pipeline file, the run
//! report and the plan, each a local path or an `s3://` URI.

use std::path::Path;

use anyhow::{Context, Result};
use sluice_core::storage::{Location, Precondition, Storage};

/// The pipeline file's text, from a local path or `s3://bucket/key`.
pub(crate) fn read_text(path: &Path, storage: &Storage) -> Result<String> {
    let text = path.to_string_lossy();
    match Location::parse(&text, Path::new(""))? {
        Location::S3 { bucket, key } => {
            let found = storage
                .bucket(&bucket)?
                .get(&key)?
                .with_context(|| format!("no pipeline file at {text}"))?;
            String::from_utf8(found.body.to_vec()).with_context(|| format!("{text} is not UTF-8"))
        }
        Location::Local(local) => {
            std::fs::read_to_string(&local).with_context(|| format!("reading {}", local.display()))
        }
    }
}

/// Writes a small file locally (atomically) or to `s3://`.
pub(crate) fn write(storage: &Storage, target: &str, bytes: &[u8]) -> Result<()> {
    match Location::parse(target, Path::new(""))? {
        Location::S3 { bucket, key } => {
            storage
                .bucket(&bucket)?
                .put(&key, bytes.to_vec().into(), Precondition::None)?;
            Ok(())
        }
        Location::Local(path) => Ok(write_atomically(&path, bytes)?),
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name().unwrap_or_default().to_string_lossy()
    ));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(tmp, path)
}

/// JSON given inline, in a file, or on stdin (`-`).
pub(crate) fn read_json_arg(value: &str, flag: &str) -> Result<String> {
    Ok(match value.trim_start().chars().next() {
        Some('{') | Some('[') => value.to_string(),
        _ if value == "-" => std::io::read_to_string(std::io::stdin())
            .with_context(|| format!("reading {flag} from stdin"))?,
        _ => std::fs::read_to_string(value)
            .with_context(|| format!("reading the {flag} file {value}"))?,
    })
}
