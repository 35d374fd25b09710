//! Routing an event's object to the tables it concerns: each table may declare a
//! `trigger` pattern (`s3://bucket/{tenant}/{table}/{version}/*.csv.gz`, or a key pattern
//! for any bucket); `{name}` captures one key segment, `*` and `?` stay inside a segment,
//! `**` crosses them. Captured values become `${name}` variables of the pipeline file, with
//! `${bucket}`, `${key}` and `${object}` (the `s3://` URI) besides.

use std::path::Path;

use regex::Regex;
use sluice_core::pipeline::{run_pipeline, Pipeline, PipelineError, RunReport};
use sluice_core::plugin::PluginError;
use sluice_core::run::RunOptions;
use sluice_core::storage::Storage;
use sluice_core::vars::{expand_vars, Vars};

use super::event::ObjectEvent;

/// A `trigger` pattern that can't be used, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TriggerError(pub String);

#[derive(Debug, Clone)]
pub struct Trigger {
    bucket: Option<String>,
    key: Regex,
}

impl Trigger {
    pub fn new(pattern: &str) -> Result<Self, TriggerError> {
        Self::compile(pattern).map_err(TriggerError)
    }

    fn compile(pattern: &str) -> Result<Self, String> {
        let (bucket, key) = match pattern.strip_prefix("s3://") {
            Some(rest) => {
                let (bucket, key) = rest
                    .split_once('/')
                    .ok_or_else(|| format!("trigger {pattern:?} has no key pattern"))?;
                (Some(bucket.to_string()), key)
            }
            None => (None, pattern),
        };
        let mut regex = String::from("^");
        let mut rest = key;
        while let Some(c) = rest.chars().next() {
            if let Some(inner) = rest.strip_prefix('{') {
                let end = inner
                    .find('}')
                    .ok_or_else(|| format!("trigger {pattern:?}: unclosed `{{`"))?;
                let name = &inner[..end];
                if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    return Err(format!("trigger {pattern:?}: `{{{name}}}` is not a name"));
                }
                regex.push_str(&format!("(?P<{name}>[^/]+)"));
                rest = &inner[end + 1..];
            } else if let Some(after) = rest.strip_prefix("**") {
                regex.push_str(".*");
                rest = after;
            } else {
                regex.push_str(match c {
                    '*' => "[^/]*",
                    '?' => "[^/]",
                    _ => "",
                });
                if c != '*' && c != '?' {
                    regex.push_str(&regex::escape(&c.to_string()));
                }
                rest = &rest[c.len_utf8()..];
            }
        }
        regex.push('$');
        let key = Regex::new(&regex).map_err(|e| format!("trigger {pattern:?}: {e}"))?;
        Ok(Trigger { bucket, key })
    }

    /// The variables of a matching object, or `None`.
    pub fn matches(&self, event: &ObjectEvent) -> Option<Vars> {
        if let (Some(want), Some(have)) = (&self.bucket, &event.bucket) {
            if want != have {
                return None;
            }
        }
        let captures = self.key.captures(&event.key)?;
        let mut vars = Vars::new();
        for name in self.key.capture_names().flatten() {
            if let Some(value) = captures.name(name) {
                vars.insert(name.to_string(), value.as_str().to_string());
            }
        }
        let bucket = event.bucket.clone().or_else(|| self.bucket.clone());
        if let Some(bucket) = &bucket {
            vars.insert("bucket".into(), bucket.clone());
            vars.insert("object".into(), format!("s3://{bucket}/{}", event.key));
        }
        vars.insert("key".into(), event.key.clone());
        Some(vars)
    }
}

/// Why an event could not be routed or run.
#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    #[error("table `{table}`: {message}")]
    Trigger { table: String, message: String },
    #[error("no table's `trigger` matches {uri} (tables with triggers: {tables:?})")]
    NoMatch { uri: String, tables: Vec<String> },
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    #[error(transparent)]
    Plugin(#[from] PluginError),
}

/// The tables' `trigger` patterns, from the pipeline file's TOML, with `${NAME}` expanded.
pub fn triggers(raw: &toml::Table, vars: &Vars) -> Result<Vec<(String, Trigger)>, RouteError> {
    let mut triggers = Vec::new();
    for (table, spec) in raw
        .get("tables")
        .and_then(|t| t.as_table())
        .into_iter()
        .flatten()
    {
        let Some(pattern) = spec.get("trigger").and_then(|t| t.as_str()) else {
            continue;
        };
        let error = |message| RouteError::Trigger {
            table: table.clone(),
            message,
        };
        let pattern = expand_vars(pattern, vars).map_err(|e| error(e.to_string()))?;
        let trigger = Trigger::new(&pattern).map_err(|e| error(e.to_string()))?;
        triggers.push((table.clone(), trigger));
    }
    Ok(triggers)
}

/// Where an event's objects go: the pipeline file (its path and parsed TOML) and the run.
pub struct EventRun<'a> {
    pub path: &'a Path,
    pub raw: &'a toml::Table,
    pub vars: &'a Vars,
    pub options: &'a RunOptions,
    pub storage: &'a Storage,
}

/// Runs, for each object of the event, the tables whose `trigger` matches it, with the
/// values the trigger captured as pipeline variables; one report for all.
pub fn run_event(run: &EventRun, objects: &[ObjectEvent]) -> Result<RunReport, RouteError> {
    let triggers = triggers(run.raw, run.vars)?;
    let started = std::time::Instant::now();
    let mut combined = RunReport::new(&run.options.run_id, run.options.run_time_micros);
    for object in objects {
        let uri = format!(
            "s3://{}/{}",
            object.bucket.as_deref().unwrap_or("?"),
            object.key
        );
        let matched: Vec<_> = triggers
            .iter()
            .filter_map(|(table, t)| t.matches(object).map(|v| (table, v)))
            .collect();
        if matched.is_empty() {
            return Err(RouteError::NoMatch {
                uri,
                tables: triggers.iter().map(|t| t.0.clone()).collect(),
            });
        }
        for (table, captured) in matched {
            check_captures(table, &captured)?;
            tracing::info!(table = %table, object = %uri, "routed by trigger");
            combined
                .tables
                .extend(run_routed(run, table, captured)?.tables);
        }
    }
    if objects.is_empty() {
        tracing::info!("the event names no object; nothing to do");
    }
    combined.finish(started.elapsed());
    Ok(combined)
}

/// A trigger's `{name}` captures become parts of paths (`{tenant}`, `{version}`): each must
/// be one plain segment, so an object key cannot steer a table out of its folder.
fn check_captures(table: &str, captured: &Vars) -> Result<(), RouteError> {
    let named = captured
        .iter()
        .filter(|(name, _)| !matches!(name.as_str(), "bucket" | "key" | "object"));
    for (name, value) in named {
        sluice_core::name::check(&format!("trigger capture `{{{name}}}`"), value).map_err(|e| {
            RouteError::Trigger {
                table: table.to_string(),
                message: e.to_string(),
            }
        })?;
    }
    Ok(())
}

/// One table, with the pipeline resolved for the values its trigger captured.
fn run_routed(run: &EventRun, table: &str, captured: Vars) -> Result<RunReport, RouteError> {
    let mut vars = run.vars.clone();
    vars.extend(captured);
    let pipeline = Pipeline::from_toml(run.raw.clone(), run.path, &vars)?;
    let mut options = run.options.clone();
    options.tables = vec![table.to_string()];
    Ok(run_pipeline(&pipeline, &options, run.storage)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(bucket: Option<&str>, key: &str) -> ObjectEvent {
        ObjectEvent {
            bucket: bucket.map(str::to_owned),
            key: key.into(),
            etag: None,
            version: None,
            size: None,
        }
    }

    #[test]
    fn captures_segments_and_checks_the_bucket() {
        let t = Trigger::new("s3://exports/{tenant}/{table}/{version}/*.csv.gz").unwrap();
        let vars = t
            .matches(&event(
                Some("exports"),
                "acme/orders/20201230_V0001/file 1.csv.gz",
            ))
            .unwrap();
        assert_eq!(vars["tenant"], "acme");
        assert_eq!(vars["version"], "20201230_V0001");
        assert_eq!(
            vars["object"],
            "s3://exports/acme/orders/20201230_V0001/file 1.csv.gz"
        );
        assert!(t
            .matches(&event(Some("other"), "acme/orders/v/x.csv.gz"))
            .is_none());
        assert!(t
            .matches(&event(Some("exports"), "acme/orders/v/deeper/x.csv.gz"))
            .is_none());
        assert!(
            t.matches(&event(None, "acme/orders/v/x.csv.gz")).is_some(),
            "a bare object record matches on the key"
        );
        let deep = Trigger::new("raw/**/*.csv").unwrap();
        assert!(deep.matches(&event(Some("b"), "raw/a/b/c.csv")).is_some());
        assert!(Trigger::new("{bad name}/x").is_err());
    }
}
