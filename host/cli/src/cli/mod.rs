//! The command line: the edge where flags, environment variables and the pipeline's
//! `[settings]` are resolved once into what the work needs, and where errors become
//! messages and exit codes.
//!
//! - `args.rs`: the commands and flags (clap);
//! - `settings.rs`: where each run setting comes from, and the documented table of them;
//! - `run.rs`: `sluice run` and `sluice plan`;
//! - `files.rs`: the pipeline file, report and plan, local or on S3;
//! - `plugin.rs`, `toolchain.rs`, `scaffold.rs`, `inspect.rs`: `sluice plugin ...`;
//! - `logging.rs`: text logs on a terminal, JSON in containers.

mod args;
mod files;
mod inspect;
mod logging;
mod plugin;
mod preview;
mod run;
mod scaffold;
mod settings;
mod summary;
mod toolchain;

use std::ffi::OsString;

use clap::{CommandFactory, FromArgMatches};
use sluice_core::plugin::Bundled;
use sluice_core::run::ErrorKind;

use args::{CacheArgs, Cli, Command};
pub use settings::markdown_table as settings_table;

/// Exit codes, one per class of failure (see "Exit codes" in docs/command-line.md).
pub const EXIT_CONFIG: u8 = 2;
pub const EXIT_DATA: u8 = 3;
pub const EXIT_PLUGIN: u8 = 4;
pub const EXIT_IO: u8 = 5;
/// A bug in Sluice itself (a thread that panicked, say): worth a report, not a retry.
pub const EXIT_INTERNAL: u8 = 6;

/// The exit code of a class of failure.
pub fn exit_code(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::Config => EXIT_CONFIG,
        ErrorKind::Data => EXIT_DATA,
        ErrorKind::Plugin => EXIT_PLUGIN,
        ErrorKind::Io => EXIT_IO,
        ErrorKind::Internal => EXIT_INTERNAL,
    }
}

/// The plugins built into this binary.
pub fn bundled() -> Bundled {
    Bundled(sluice_bundle::BUNDLED)
}

/// Every environment variable the command line reads (`SLUICE_*`), for checking that
/// deployment definitions name only real settings.
pub fn env_vars() -> Vec<String> {
    fn walk(command: &clap::Command, out: &mut Vec<String>) {
        out.extend(
            command
                .get_arguments()
                .filter_map(|a| a.get_env())
                .map(|e| e.to_string_lossy().into_owned()),
        );
        command.get_subcommands().for_each(|sub| walk(sub, out));
    }
    let mut out = Vec::new();
    walk(&Cli::command(), &mut out);
    out.sort();
    out.dedup();
    out
}

/// Runs the command line with `args` (program name first) and returns the exit code.
pub fn main<I, T>(args: I) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let argv: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let parsed = Cli::command()
        .try_get_matches_from(&argv)
        .and_then(|m| Cli::from_arg_matches(&m).map(|cli| (cli, m)));
    let (cli, matches) = match parsed {
        Ok(parsed) => parsed,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { EXIT_CONFIG } else { 0 };
        }
    };
    logging::init(cli.log_format, &cli.log);
    let result = match cli.command {
        Command::Run(args) => {
            // Which run settings the user gave (flag or env), so [settings] fills only the rest.
            let given = matches
                .subcommand_matches("run")
                .map(settings::given)
                .unwrap_or_default();
            run::run(args, &argv, &given)
        }
        Command::Plan(args) => run::plan(args),
        Command::Schema(args) => preview::preview(args, false),
        Command::Check(args) => preview::preview(args, true),
        Command::Plugin(command) => plugin::dispatch(command),
    };
    result.unwrap_or_else(|error| {
        logging::fatal(&format!("{error:#}"));
        EXIT_CONFIG
    })
}
