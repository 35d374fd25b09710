//! Where each run setting comes from: a flag, else its `SLUICE_*` environment variable,
//! else the pipeline file's `[settings]`, else the default. The settable keys are clap's
//! own argument ids, and `[settings]` values become command-line arguments that clap parses
//! like any other, so the parser, this precedence, its error message and the table in
//! docs/command-line.md come from one definition and cannot drift.

use std::ffi::OsString;

use anyhow::{anyhow, Result};
use clap::{Arg, ArgMatches, Command, CommandFactory};

use super::args::Cli;

/// Arguments of `sluice run` that a pipeline file does not set: what names the pipeline,
/// the event and the work share (they select the file, so can't come from it), the task
/// token (a secret), and what concerns the terminal, logging (set up before the file is
/// read) or only benchmarks.
const NOT_IN_FILE: &[&str] = &[
    "pipeline",
    "vars",
    "event",
    "items",
    "task_token",
    "progress",
    "unsafe_no_deadlines",
    "perf_map",
    "log",
    "log_format",
];

/// `sluice run`, as clap defines it.
fn run_command() -> Command {
    Cli::command()
        .find_subcommand("run")
        .expect("`run` is a subcommand")
        .clone()
}

fn in_file(arg: &Arg) -> bool {
    arg.get_long().is_some() && !NOT_IN_FILE.contains(&arg.get_id().as_str())
}

/// The ids of the arguments given on the command line or through the environment.
pub(crate) fn given(matches: &ArgMatches) -> Vec<String> {
    use clap::parser::ValueSource;
    matches
        .ids()
        .filter(|id| {
            matches!(
                matches.value_source(id.as_str()),
                Some(ValueSource::CommandLine | ValueSource::EnvVariable)
            )
        })
        .map(|id| id.as_str().to_string())
        .collect()
}

/// The command-line arguments that stand for the pipeline's `[settings]` the user did not
/// give as a flag or an environment variable.
pub(crate) fn file_args(settings: &toml::Table, given: &[String]) -> Result<Vec<OsString>> {
    let run = run_command();
    let mut args = Vec::new();
    for (key, value) in settings.iter().filter(|(key, _)| !given.contains(key)) {
        let Some(arg) = run
            .get_arguments()
            .find(|a| in_file(a) && a.get_id() == key)
        else {
            let keys: Vec<&str> = run
                .get_arguments()
                .filter(|a| in_file(a))
                .map(|a| a.get_id().as_str())
                .collect();
            return Err(anyhow!(
                "[settings] {key} is not a setting; the pipeline file may set: {}",
                keys.join(", ")
            ));
        };
        args.extend(as_args(arg, key, value)?);
    }
    Ok(args)
}

/// `--flag VALUE` (repeated for an array), or `--flag` alone for a switch set to true.
fn as_args(arg: &Arg, key: &str, value: &toml::Value) -> Result<Vec<OsString>> {
    let flag = format!(
        "--{}",
        arg.get_long().expect("settable arguments are flags")
    );
    let wrong_type = || anyhow!("[settings] {key} = {value}: wrong type");
    if !arg.get_action().takes_values() {
        return Ok(match value.as_bool().ok_or_else(wrong_type)? {
            true => vec![flag.into()],
            false => Vec::new(),
        });
    }
    let text = |value: &toml::Value| match value {
        toml::Value::String(text) => Ok(text.clone()),
        toml::Value::Integer(n) => Ok(n.to_string()),
        _ => Err(wrong_type()),
    };
    let values = match value {
        toml::Value::Array(items) => items.iter().map(text).collect::<Result<Vec<_>>>()?,
        single => vec![text(single)?],
    };
    Ok(values
        .into_iter()
        .flat_map(|v| [OsString::from(&flag), OsString::from(v)])
        .collect())
}

/// The settings table of docs/command-line.md, from clap's definitions.
pub fn markdown_table() -> String {
    let cli = Cli::command();
    let run = run_command();
    let mut table = String::from(
        "| flag | env var | `[settings]` key | default | what it does |\n|---|---|---|---|---|\n",
    );
    for arg in run.get_arguments().chain(cli.get_arguments()) {
        if matches!(arg.get_id().as_str(), "help" | "version") {
            continue;
        }
        table.push_str(&row(arg));
    }
    table
}

fn row(arg: &Arg) -> String {
    let value = arg
        .get_value_names()
        .and_then(|v| v.first())
        .map(|v| format!(" {v}"))
        .unwrap_or_default();
    let flag = match arg.get_long() {
        Some(long) if arg.get_action().takes_values() => format!("`--{long}{value}`"),
        Some(long) => format!("`--{long}`"),
        None => format!("`{}` (argument)", arg.get_id().as_str().to_uppercase()),
    };
    let env = arg
        .get_env()
        .map(|e| format!("`{}`", e.to_string_lossy()))
        .unwrap_or_default();
    let key = if in_file(arg) {
        format!("`{}`", arg.get_id())
    } else {
        "—".into()
    };
    let default: Vec<String> = arg
        .get_default_values()
        .iter()
        .map(|v| v.to_string_lossy().into_owned())
        .collect();
    let default = if default.is_empty() {
        String::new()
    } else {
        format!("`{}`", default.join(","))
    };
    let help = arg
        .get_long_help()
        .or(arg.get_help())
        .map(|h| h.to_string())
        .unwrap_or_default();
    let help = help.replace('\n', " ").replace('|', "\\|");
    let flag = flag.replace('|', "\\|");
    format!("| {flag} | {env} | {key} | {default} | {help} |\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table in docs/command-line.md is the one clap's definitions give. After changing
    /// a flag, `SLUICE_BLESS=1 cargo test -p sluice settings` rewrites it.
    #[test]
    fn the_documented_settings_table_is_generated() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/command-line.md");
        let doc = std::fs::read_to_string(&path).unwrap();
        let (begin, end) = (
            "<!-- settings-table:begin -->\n",
            "<!-- settings-table:end -->",
        );
        let start = doc.find(begin).expect("begin marker") + begin.len();
        let stop = doc.find(end).expect("end marker");
        let generated = format!("{}\n", markdown_table());
        if std::env::var_os("SLUICE_BLESS").is_some() {
            std::fs::write(
                &path,
                format!("{}{generated}{}", &doc[..start], &doc[stop..]),
            )
            .unwrap();
            return;
        }
        assert_eq!(
            doc[start..stop],
            generated,
            "docs/command-line.md is stale: run with SLUICE_BLESS=1"
        );
    }

    #[test]
    fn settings_become_arguments_unless_given() {
        let settings: toml::Table = toml::from_str(
            "lock_wait = 5\nfail_fast = true\nforce = false\ntables = [\"a\", \"b\"]",
        )
        .unwrap();
        let args = file_args(&settings, &["lock_wait".into()]).unwrap();
        assert_eq!(
            args,
            ["--fail-fast", "--table", "a", "--table", "b"].map(OsString::from)
        );
        let wrong: toml::Table = toml::from_str("fail_fast = \"yes\"").unwrap();
        assert!(file_args(&wrong, &[])
            .unwrap_err()
            .to_string()
            .contains("wrong type"));
        let unknown: toml::Table = toml::from_str("event = \"x\"").unwrap();
        assert!(file_args(&unknown, &[])
            .unwrap_err()
            .to_string()
            .contains("may set: report"));
    }
}
