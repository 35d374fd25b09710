//! The command line's commands and flags, as clap defines them. Every run setting can
//! also come from a `SLUICE_*` environment variable or the pipeline file's `[settings]`
//! (see `settings.rs`), so containers configure the job without a command line.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use sluice_aws::S3Settings;
use sluice_core::plugin::EngineOptions;

use super::bundled;
use super::logging::LogFormat;
use super::plugin::PluginCommand;
use super::preview::PreviewArgs;

#[derive(Parser)]
#[command(
    name = "sluice",
    version,
    about = "Raw table exports (CSV, gzip CSV) to query-ready Parquet, through sandboxed Wasm plugins"
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
    /// Log format.
    #[arg(
        long,
        global = true,
        env = "SLUICE_LOG_FORMAT",
        value_enum,
        default_value = "auto",
        value_name = "auto|text|json"
    )]
    pub(crate) log_format: LogFormat,
    /// Log filter (tracing EnvFilter syntax), e.g. `info` or `sluice=debug`.
    #[arg(
        long,
        global = true,
        env = "SLUICE_LOG",
        default_value = "info",
        value_name = "FILTER"
    )]
    pub(crate) log: String,
}

const RUN_EXAMPLES: &str = "\
Examples:
  sluice run examples/retail/pipeline.toml                  every table, on local folders
  sluice run pipeline.toml --table orders --var DAY=2024-03-01
  sluice schema pipeline.toml                               see the inferred types first
  sluice run pipeline.toml --report run.json --progress never
  sluice run s3://bucket/jobs/pipeline.toml --event -      the S3 event on stdin (Fargate, Batch)

Every flag can also come from its SLUICE_* environment variable or the pipeline's
[settings]; see docs/command-line.md.";

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Run the tables of a pipeline file.
    #[command(after_help = RUN_EXAMPLES)]
    Run(RunArgs),
    /// List the units of work of a pipeline (one per input object of each table with one
    /// input; tables with several inputs as a whole), for AWS Batch array jobs or a Step
    /// Functions Distributed Map (`sluice run --items`).
    Plan(PlanArgs),
    /// Print each input's columns, their types (declared or inferred) and first rows,
    /// without writing anything.
    Schema(PreviewArgs),
    /// Like `schema`, and also open every plugin with its config and the real input
    /// schemas and print its output schemas: catches a bad config before a run. Writes nothing.
    Check(PreviewArgs),
    /// Work with plugins.
    #[command(subcommand)]
    Plugin(PluginCommand),
}

#[derive(clap::Args)]
pub(crate) struct PlanArgs {
    /// The pipeline file (TOML).
    #[arg(env = "SLUICE_PIPELINE")]
    pub(crate) pipeline: PathBuf,
    /// Also say which of COUNT shards (`sluice run --shard I/COUNT`) does each item.
    #[arg(long)]
    pub(crate) shards: Option<u64>,
    /// Write the plan (a JSON array of items) here, a file or `s3://` (also printed).
    #[arg(long)]
    pub(crate) out: Option<String>,
    /// A value for `${NAME}` in the pipeline file, before the environment (repeatable).
    #[arg(
        long = "var",
        env = "SLUICE_VARS",
        value_delimiter = ',',
        value_name = "NAME=VALUE"
    )]
    pub(crate) vars: Vec<String>,
    #[command(flatten)]
    pub(crate) s3: S3Args,
}

#[derive(clap::Args, Clone)]
pub(crate) struct RunArgs {
    /// The pipeline file (TOML).
    #[arg(env = "SLUICE_PIPELINE")]
    pub(crate) pipeline: PathBuf,
    /// Write the JSON run report here, a file or `s3://bucket/key`. It is also printed to
    /// stdout when stdout is not a terminal; on a terminal a short summary is printed instead.
    #[arg(
        long,
        env = "SLUICE_REPORT",
        value_name = "FILE",
        help_heading = "Report and progress"
    )]
    pub(crate) report: Option<String>,
    /// Only run these tables or ingest jobs (repeat or comma-separate; default: all).
    #[arg(
        long = "table",
        env = "SLUICE_TABLES",
        value_delimiter = ',',
        value_name = "NAME",
        help_heading = "Selecting the work"
    )]
    pub(crate) tables: Vec<String>,
    /// The event that started this run: an S3 notification (direct, or in SQS or SNS), an
    /// EventBridge "Object Created" event or a Step Functions input, as JSON text, a file,
    /// or `-` for stdin. Each object runs the tables whose `trigger` matches its key.
    #[arg(
        long,
        env = "SLUICE_EVENT",
        value_name = "JSON|FILE|-",
        help_heading = "Selecting the work"
    )]
    pub(crate) event: Option<String>,
    /// A Step Functions task token: heartbeats while running, then `SendTaskSuccess` with the
    /// run report (a summary when over 256 KiB) or `SendTaskFailure` with error
    /// `Sluice.Config`, `Sluice.Data`, `Sluice.Plugin`, `Sluice.Io` or `Sluice.Internal` and
    /// every failed table's error as the cause, also when the pipeline file itself is bad.
    #[arg(
        long,
        env = "SLUICE_TASK_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN",
        help_heading = "Step Functions"
    )]
    pub(crate) task_token: Option<String>,
    /// Seconds between Step Functions heartbeats (0: none); set the state's
    /// `HeartbeatSeconds` above it.
    #[arg(
        long,
        env = "SLUICE_HEARTBEAT_SECS",
        default_value_t = 60,
        value_name = "SECS",
        help_heading = "Step Functions"
    )]
    pub(crate) heartbeat_secs: u64,
    /// A Step Functions endpoint URL (AWS_ENDPOINT_URL_SFN is honoured too).
    #[arg(
        long,
        env = "SLUICE_SFN_ENDPOINT",
        value_name = "URL",
        help_heading = "Step Functions"
    )]
    pub(crate) sfn_endpoint: Option<String>,
    /// A Glue endpoint URL, for outputs with `glue` (AWS_ENDPOINT_URL_GLUE is honoured too).
    #[arg(
        long,
        env = "SLUICE_GLUE_ENDPOINT",
        value_name = "URL",
        help_heading = "S3"
    )]
    pub(crate) glue_endpoint: Option<String>,
    /// A value for `${NAME}` in the pipeline file, before the environment (repeatable).
    #[arg(
        long = "var",
        env = "SLUICE_VARS",
        value_delimiter = ',',
        value_name = "NAME=VALUE",
        help_heading = "Selecting the work"
    )]
    pub(crate) vars: Vec<String>,
    /// Do shard INDEX of COUNT (`3/8`) of the input objects (default: from AWS Batch's
    /// AWS_BATCH_JOB_ARRAY_INDEX and AWS_BATCH_JOB_ARRAY_SIZE, when set).
    #[arg(
        long,
        env = "SLUICE_SHARD",
        value_name = "INDEX/COUNT",
        conflicts_with = "items",
        help_heading = "Selecting the work"
    )]
    pub(crate) shard: Option<String>,
    /// Do exactly these items of a `sluice plan` (a Distributed Map batch `{"Items": [...]}`
    /// or an array of `{"table", "object"}`): JSON text, a file, or `-` for stdin.
    #[arg(
        long,
        env = "SLUICE_ITEMS",
        value_name = "JSON|FILE|-",
        help_heading = "Selecting the work"
    )]
    pub(crate) items: Option<String>,
    /// Run id recorded in outputs and the report (default: a new UUID).
    #[arg(
        long,
        env = "SLUICE_RUN_ID",
        value_name = "ID",
        help_heading = "Selecting the work"
    )]
    pub(crate) run_id: Option<String>,
    /// Rows per batch for every table, overriding the pipeline file's.
    #[arg(
        long,
        env = "SLUICE_BATCH_ROWS",
        value_name = "N",
        help_heading = "Selecting the work"
    )]
    pub(crate) batch_rows: Option<usize>,
    /// Tables run at once (default: the machine's cores). With --fail-fast, or when a
    /// table reads another table's output, tables run one at a time.
    #[arg(
        long,
        env = "SLUICE_JOBS",
        value_name = "N",
        help_heading = "Selecting the work"
    )]
    pub(crate) jobs: Option<usize>,
    /// Instances of a stateless plugin per table, each on its own thread, their outputs
    /// put back in input order. Given, exactly N run; by default a table starts one and
    /// adds one each time the plugin holds the stream back more than the input does while
    /// a core goes unused, up to the cores divided among the tables running at once (the
    /// report's `plugin_instances` says how many ran). A stateful plugin runs as one, or,
    /// in a table split by key, as this many sessions each running one part at a time.
    #[arg(
        long,
        env = "SLUICE_PLUGIN_INSTANCES",
        value_name = "N",
        help_heading = "Selecting the work"
    )]
    pub(crate) plugin_instances: Option<usize>,
    /// Threads per table for reading and writing: N parse each CSV file (one more cuts it
    /// into chunks of whole records; batches keep file order) and N encode Parquet
    /// columns. Rows, lines and output bytes are the same for any N (default: of the cores
    /// divided among the tables running at once, half parse and all encode).
    #[arg(
        long,
        env = "SLUICE_THREADS",
        value_name = "N",
        help_heading = "Selecting the work"
    )]
    pub(crate) threads: Option<usize>,
    /// Stop at the first failed table (default: the other tables go on).
    #[arg(long, env = "SLUICE_FAIL_FAST", help_heading = "Selecting the work")]
    pub(crate) fail_fast: bool,
    /// Process inputs again even when this exact input (or version) was already committed.
    #[arg(long, env = "SLUICE_FORCE", help_heading = "Selecting the work")]
    pub(crate) force: bool,
    /// Seconds to wait for a table that another run holds locked, before failing.
    #[arg(
        long,
        env = "SLUICE_LOCK_WAIT",
        default_value_t = 0,
        value_name = "SECS",
        help_heading = "Table locks"
    )]
    pub(crate) lock_wait: u64,
    /// Seconds a table lock lasts without renewal; a crashed run's lock frees after this.
    #[arg(
        long,
        env = "SLUICE_LOCK_LEASE",
        default_value_t = 60,
        value_name = "SECS",
        help_heading = "Table locks"
    )]
    pub(crate) lock_lease: u64,
    #[command(flatten, next_help_heading = "Plugins")]
    pub(crate) cache: CacheArgs,
    #[command(flatten, next_help_heading = "S3")]
    pub(crate) s3: S3Args,
    /// Progress bars: shown by default only on a terminal.
    #[arg(
        long,
        env = "SLUICE_PROGRESS",
        value_enum,
        default_value = "auto",
        value_name = "auto|always|never",
        help_heading = "Report and progress"
    )]
    pub(crate) progress: Progress,
}

#[derive(clap::Args, Clone)]
pub(crate) struct CacheArgs {
    /// Folder for compiled plugins (default: $XDG_CACHE_HOME/sluice or ~/.cache/sluice).
    #[arg(long, env = "SLUICE_CACHE_DIR", value_name = "DIR")]
    pub(crate) cache_dir: Option<PathBuf>,
    /// Compile plugins in memory and keep nothing on disk.
    #[arg(long, env = "SLUICE_NO_CACHE")]
    pub(crate) no_cache: bool,
    /// Turn off plugin call deadlines, to measure what they cost. Unsafe: a plugin that
    /// never returns then hangs the run.
    #[arg(long, env = "SLUICE_UNSAFE_NO_DEADLINES", hide_short_help = true)]
    pub(crate) unsafe_no_deadlines: bool,
    /// Name plugin functions for `perf`: write the compiled code's symbols to
    /// /tmp/perf-<pid>.map, which `perf report` reads.
    #[arg(long, env = "SLUICE_PERF_MAP", hide_short_help = true)]
    pub(crate) perf_map: bool,
}

impl CacheArgs {
    pub(crate) fn engine_options(&self) -> EngineOptions {
        let default_dir = || {
            std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
                .map(|d| d.join("sluice"))
        };
        EngineOptions {
            cache_dir: if self.no_cache {
                None
            } else {
                self.cache_dir.clone().or_else(default_dir)
            },
            fuel: false,
            no_deadlines: self.unsafe_no_deadlines,
            perf_map: self.perf_map,
            bundled: bundled(),
        }
    }
}

/// S3 connection settings. Credentials always come from the standard AWS chain
/// (AWS_ACCESS_KEY_ID..., AWS_PROFILE, the ECS task role, instance metadata).
#[derive(clap::Args, Clone)]
pub(crate) struct S3Args {
    /// An S3-compatible endpoint URL (AWS_ENDPOINT_URL_S3 is honoured too).
    #[arg(long, env = "SLUICE_S3_ENDPOINT", value_name = "URL")]
    pub(crate) s3_endpoint: Option<String>,
    /// The bucket region (default: AWS_REGION or the profile's).
    #[arg(long, env = "SLUICE_S3_REGION", value_name = "REGION")]
    pub(crate) s3_region: Option<String>,
    /// Path-style addressing (endpoint/bucket/key), for S3-compatible stores.
    #[arg(long, env = "SLUICE_S3_PATH_STYLE")]
    pub(crate) s3_path_style: bool,
    /// Send checksums only where S3 requires them (stores without flexible checksums, such
    /// as Garage or radosgw).
    #[arg(long, env = "SLUICE_S3_CHECKSUMS_WHEN_REQUIRED")]
    pub(crate) s3_checksums_when_required: bool,
    /// Attempts per S3 request, the first included (5xx, throttling, broken connections).
    #[arg(
        long,
        env = "SLUICE_S3_MAX_ATTEMPTS",
        default_value_t = 5,
        value_name = "N"
    )]
    pub(crate) s3_max_attempts: u32,
    /// Multipart part size in MiB (at least 5): the memory one part in flight costs. It
    /// doubles every 1,000 parts.
    #[arg(
        long,
        env = "SLUICE_S3_PART_MIB",
        default_value_t = 8,
        value_name = "MIB"
    )]
    pub(crate) s3_part_mib: usize,
    /// Parts uploading at once per file.
    #[arg(
        long,
        env = "SLUICE_S3_UPLOAD_CONCURRENCY",
        default_value_t = 2,
        value_name = "N"
    )]
    pub(crate) s3_upload_concurrency: usize,
    /// Size in MiB of each ranged GET when reading.
    #[arg(
        long,
        env = "SLUICE_S3_READ_CHUNK_MIB",
        default_value_t = 8,
        value_name = "MIB"
    )]
    pub(crate) s3_read_chunk_mib: usize,
    /// Ranged GETs in flight at once per object.
    #[arg(
        long,
        env = "SLUICE_S3_READ_CONCURRENCY",
        default_value_t = 4,
        value_name = "N"
    )]
    pub(crate) s3_read_concurrency: usize,
}

impl S3Args {
    pub(crate) fn settings(&self) -> S3Settings {
        S3Settings {
            endpoint: self.s3_endpoint.clone(),
            region: self.s3_region.clone(),
            path_style: self.s3_path_style,
            checksums_when_required: self.s3_checksums_when_required,
            max_attempts: self.s3_max_attempts.max(1),
            part_size: self.s3_part_mib.max(5) << 20,
            upload_concurrency: self.s3_upload_concurrency.max(1),
            read_chunk: self.s3_read_chunk_mib.max(1) << 20,
            read_concurrency: self.s3_read_concurrency.max(1),
        }
    }
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub(crate) enum Progress {
    Auto,
    Always,
    Never,
}
