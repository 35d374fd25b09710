//! The `sluice` command line: the edge where errors become messages and exit codes.

mod cli;
mod inspect;
mod logging;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    logging::init(cli.log_format, &cli.log);
    match cli::dispatch(cli) {
        Ok(code) => code,
        Err(error) => {
            tracing::error!("{error:#}");
            eprintln!("error: {error:#}");
            ExitCode::from(cli::EXIT_CONFIG)
        }
    }
}
