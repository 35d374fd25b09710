//! `${NAME}` in pipeline files: values from `--var`, trigger captures or the environment,
//! so one pipeline file serves several inputs, tenants and environments.

use std::collections::BTreeMap;
use std::path::Path;

/// Values for `${NAME}` given on the command line (`--var NAME=VALUE`).
pub type Vars = BTreeMap<String, String>;

/// Why `${NAME}` could not be expanded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VarError {
    #[error("unclosed `${{` in {text:?}")]
    Unclosed { text: String },
    #[error("{text:?} uses ${{{name}}}, which is not set (pass --var {name}=VALUE)")]
    Unset { text: String, name: String },
}

/// Replaces `${NAME}` with `vars[NAME]`, else the environment variable's value.
pub fn expand_vars(text: &str, vars: &Vars) -> Result<String, VarError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find('}')
            .ok_or_else(|| VarError::Unclosed { text: text.into() })?
            + start;
        let name = &rest[start + 2..end];
        let value = match vars.get(name) {
            Some(value) => value.clone(),
            None => std::env::var(name).map_err(|_| VarError::Unset {
                text: text.into(),
                name: name.into(),
            })?,
        };
        out.push_str(&value);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// `path` relative to `base`, unless it is absolute or an `s3://` URI.
pub fn join(base: &Path, path: &str) -> String {
    if Path::new(path).is_absolute() || path.starts_with("s3://") {
        path.to_string()
    } else {
        base.join(path).to_string_lossy().into_owned()
    }
}

/// Expands `${NAME}` in every string of a plugin config, so event captures reach plugins.
pub fn expand_toml(table: &mut toml::Table, vars: &Vars) -> Result<(), VarError> {
    fn walk(value: &mut toml::Value, vars: &Vars) -> Result<(), VarError> {
        match value {
            toml::Value::String(text) if text.contains("${") => *text = expand_vars(text, vars)?,
            toml::Value::Array(items) => items.iter_mut().try_for_each(|v| walk(v, vars))?,
            toml::Value::Table(table) => table.iter_mut().try_for_each(|(_, v)| walk(v, vars))?,
            _ => {}
        }
        Ok(())
    }
    table.iter_mut().try_for_each(|(_, v)| walk(v, vars))
}
