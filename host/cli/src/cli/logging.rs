//! Logs: human-readable on a terminal, JSON lines otherwise (containers, CI).

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum LogFormat {
    /// Text on a terminal, JSON otherwise.
    Auto,
    Text,
    Json,
}

/// Whether logs are JSON lines; set once by [`init`].
static JSON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();

/// A fatal error, printed once: as a JSON log line when logs are JSON (a container's log
/// collector parses them), else as `error: ...` on stderr.
pub fn fatal(error: &dyn std::fmt::Display) {
    if JSON.get().copied().unwrap_or(false) {
        tracing::error!("{error}");
    } else {
        eprintln!("error: {error}");
    }
}

pub fn init(format: LogFormat, filter: &str) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let json = match format {
        LogFormat::Auto => !std::io::stderr().is_terminal(),
        LogFormat::Text => false,
        LogFormat::Json => true,
    };
    let _ = JSON.set(json);
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // `try_init`: in-process callers (tests) may run the command line more than once.
    let _ = if json {
        builder.json().with_current_span(false).try_init()
    } else {
        builder.with_target(false).try_init()
    };
}
