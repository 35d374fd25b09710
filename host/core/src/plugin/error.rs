use std::path::PathBuf;

/// Why a plugin could not be loaded or failed while running. Each variant names the
/// plugin; the run layer adds the table.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    #[error("plugin {path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no bundled plugin named `{name}` (bundled: {known}); give a path ending in .wasm")]
    UnknownBundled { name: String, known: String },
    #[error("plugin {plugin}: not a valid component: {message}")]
    Compile { plugin: String, message: String },
    #[error("plugin {plugin}: cannot instantiate: {message}")]
    Instantiate { plugin: String, message: String },
    #[error("plugin {plugin}: built for contract {found}, this host speaks {expected}")]
    Contract {
        plugin: String,
        found: String,
        expected: String,
    },
    #[error("plugin {plugin}: bad config: {message}")]
    Config { plugin: String, message: String },
    #[error("plugin {plugin}: schema: {message}")]
    Schema { plugin: String, message: String },
    #[error("plugin {plugin}: data error in input `{input}`{at}: {message}")]
    Data {
        plugin: String,
        input: String,
        /// Index of the row in the pushed batch, when the plugin blamed one row.
        row: Option<u64>,
        column: Option<String>,
        /// Filled in by the run layer: ` at FILE:LINE, column C`.
        at: String,
        message: String,
    },
    #[error("plugin {plugin}: internal error: {message}")]
    Internal { plugin: String, message: String },
    #[error("plugin {plugin}: output `{output}` does not match its declared schema: {message}")]
    OutputSchema {
        plugin: String,
        output: String,
        message: String,
    },
    #[error(
        "plugin {plugin}: emitted a batch for unknown output `{output}` (declared: {declared})"
    )]
    UnknownOutput {
        plugin: String,
        output: String,
        declared: String,
    },
    #[error("plugin {plugin}: {call} ran past the limit of {limit}")]
    Limit {
        plugin: String,
        call: String,
        limit: String,
    },
    #[error("plugin {plugin}: trapped in {call}: {message}")]
    Trap {
        plugin: String,
        call: String,
        message: String,
    },
    #[error("plugin {plugin}: {message}")]
    Protocol { plugin: String, message: String },
}
