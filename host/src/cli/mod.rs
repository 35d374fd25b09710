//! The command line: commands and flags, and the edge where errors become messages and
//! exit codes. Every flag can also come from a `SLUICE_*` environment variable, so
//! containers configure the job without a command line.

mod inspect;
mod logging;
mod plugin;
mod scaffold;
mod toolchain;

use std::ffi::OsString;
use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

use crate::pipeline::Pipeline;
use crate::plugin::EngineOptions;
use crate::run::{run_pipeline_with, ErrorKind, RunOptions};
use logging::LogFormat;

/// Exit codes, one per class of failure (see the README).
pub const EXIT_CONFIG: u8 = 2;
pub const EXIT_DATA: u8 = 3;
pub const EXIT_PLUGIN: u8 = 4;
pub const EXIT_IO: u8 = 5;

/// Every environment variable the command line reads (`SLUICE_*`), for checking that
/// deployment definitions name only real settings.
pub fn env_vars() -> Vec<String> {
    use clap::CommandFactory;
    fn walk(command: &clap::Command, out: &mut Vec<String>) {
        for arg in command.get_arguments() {
            if let Some(env) = arg.get_env() {
                out.push(env.to_string_lossy().into_owned());
            }
        }
        for sub in command.get_subcommands() {
            walk(sub, out);
        }
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
    use clap::{CommandFactory, FromArgMatches};
    let parsed = Cli::command().try_get_matches_from(args).and_then(|m| Cli::from_arg_matches(&m).map(|cli| (cli, m)));
    let (cli, matches) = match parsed {
        Ok(parsed) => parsed,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { EXIT_CONFIG } else { 0 };
        }
    };
    logging::init(cli.log_format, &cli.log);
    // Which run settings the user gave (flag or env), so the pipeline's [settings] fill only the rest.
    let given = matches.subcommand_matches("run").map(given_settings).unwrap_or_default();
    match dispatch(cli, &given) {
        Ok(code) => code,
        Err(error) => {
            tracing::error!("{error:#}");
            eprintln!("error: {error:#}");
            EXIT_CONFIG
        }
    }
}

#[derive(Parser)]
#[command(name = "sluice", version, about = "Raw table exports (CSV, gzip CSV) to query-ready Parquet, through sandboxed Wasm plugins")]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log format.
    #[arg(long, global = true, env = "SLUICE_LOG_FORMAT", value_enum, default_value = "auto")]
    log_format: LogFormat,
    /// Log filter (tracing EnvFilter syntax), e.g. `info` or `sluice=debug`.
    #[arg(long, global = true, env = "SLUICE_LOG", default_value = "info")]
    log: String,
}

#[derive(Subcommand)]
enum Command {
    /// Run the tables of a pipeline file.
    Run(RunArgs),
    /// List the units of work of a pipeline (one per input object of each table with one
    /// input; tables with several inputs as a whole), for AWS Batch array jobs or a Step
    /// Functions Distributed Map (`sluice run --items`).
    Plan(PlanArgs),
    /// Work with plugins.
    #[command(subcommand)]
    Plugin(plugin::PluginCommand),
}

#[derive(clap::Args)]
struct PlanArgs {
    /// The pipeline file (TOML).
    #[arg(env = "SLUICE_PIPELINE")]
    pipeline: PathBuf,
    /// Also say which of COUNT shards (`sluice run --shard I/COUNT`) does each item.
    #[arg(long)]
    shards: Option<u64>,
    /// Write the plan (a JSON array of items) here, a file or `s3://` (also printed).
    #[arg(long)]
    out: Option<String>,
    /// A value for `${NAME}` in the pipeline file, before the environment (repeatable).
    #[arg(long = "var", env = "SLUICE_VARS", value_delimiter = ',', value_name = "NAME=VALUE")]
    vars: Vec<String>,
    #[command(flatten)]
    s3: S3Args,
}

#[derive(clap::Args)]
struct RunArgs {
    /// The pipeline file (TOML).
    #[arg(env = "SLUICE_PIPELINE")]
    pipeline: PathBuf,
    /// Write the JSON run report here, a file or `s3://bucket/key` (it is always printed to
    /// stdout too).
    #[arg(long, env = "SLUICE_REPORT")]
    report: Option<String>,
    /// Only run these tables (repeat or comma-separate).
    #[arg(long = "table", env = "SLUICE_TABLES", value_delimiter = ',')]
    tables: Vec<String>,
    /// The event that started this run: an S3 notification (direct, or in SQS or SNS), an
    /// EventBridge "Object Created" event or a Step Functions input, as JSON text, a file,
    /// or `-` for stdin. Each object runs the tables whose `trigger` matches its key.
    #[arg(long, env = "SLUICE_EVENT")]
    event: Option<String>,
    /// A Step Functions task token: heartbeats while running, then SendTaskSuccess with the
    /// run report or SendTaskFailure with `Sluice.<Kind>` and the errors.
    #[arg(long, env = "SLUICE_TASK_TOKEN", hide_env_values = true)]
    task_token: Option<String>,
    /// Seconds between Step Functions heartbeats (0: none).
    #[arg(long, env = "SLUICE_HEARTBEAT_SECS", default_value_t = 60)]
    heartbeat_secs: u64,
    /// A Step Functions endpoint URL (AWS_ENDPOINT_URL_SFN is honoured too).
    #[arg(long, env = "SLUICE_SFN_ENDPOINT")]
    sfn_endpoint: Option<String>,
    /// A value for `${NAME}` in the pipeline file, before the environment (repeatable).
    #[arg(long = "var", env = "SLUICE_VARS", value_delimiter = ',', value_name = "NAME=VALUE")]
    vars: Vec<String>,
    /// Do shard INDEX of COUNT (`3/8`) of the input objects (default: from AWS Batch's
    /// AWS_BATCH_JOB_ARRAY_INDEX and AWS_BATCH_JOB_ARRAY_SIZE, when set).
    #[arg(long, env = "SLUICE_SHARD", value_name = "INDEX/COUNT", conflicts_with = "items")]
    shard: Option<String>,
    /// Do exactly these items of a `sluice plan` (a Distributed Map batch `{"Items": [...]}`
    /// or an array of `{"table", "object"}`): JSON text, a file, or `-` for stdin.
    #[arg(long, env = "SLUICE_ITEMS")]
    items: Option<String>,
    /// Run id recorded in outputs and the report (default: a new UUID).
    #[arg(long, env = "SLUICE_RUN_ID")]
    run_id: Option<String>,
    /// Rows per batch for every table, overriding the pipeline file.
    #[arg(long, env = "SLUICE_BATCH_ROWS")]
    batch_rows: Option<usize>,
    /// Stop at the first failed table.
    #[arg(long, env = "SLUICE_FAIL_FAST")]
    fail_fast: bool,
    /// Process inputs again even when this exact input (or version) was already committed.
    #[arg(long, env = "SLUICE_FORCE")]
    force: bool,
    /// Seconds to wait for a table that another run holds locked, before failing.
    #[arg(long, env = "SLUICE_LOCK_WAIT", default_value_t = 0)]
    lock_wait: u64,
    /// Seconds a table lock lasts without renewal; a crashed run's lock frees after this.
    #[arg(long, env = "SLUICE_LOCK_LEASE", default_value_t = 60)]
    lock_lease: u64,
    #[command(flatten)]
    cache: CacheArgs,
    #[command(flatten)]
    s3: S3Args,
    /// Progress bars: shown by default only on a terminal.
    #[arg(long, env = "SLUICE_PROGRESS", value_enum, default_value = "auto")]
    progress: Progress,
}

#[derive(clap::Args)]
pub(crate) struct CacheArgs {
    /// Folder for compiled plugins (default: $XDG_CACHE_HOME/sluice or ~/.cache/sluice).
    #[arg(long, env = "SLUICE_CACHE_DIR")]
    cache_dir: Option<PathBuf>,
    /// Compile plugins in memory and keep nothing on disk.
    #[arg(long, env = "SLUICE_NO_CACHE")]
    no_cache: bool,
    /// Turn off plugin call deadlines, to measure what they cost. Unsafe: a plugin that
    /// never returns then hangs the run.
    #[arg(long, env = "SLUICE_UNSAFE_NO_DEADLINES", hide_short_help = true)]
    unsafe_no_deadlines: bool,
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
            cache_dir: if self.no_cache { None } else { self.cache_dir.clone().or_else(default_dir) },
            fuel: false,
            no_deadlines: self.unsafe_no_deadlines,
        }
    }
}

/// S3 connection settings. Credentials always come from the standard AWS chain
/// (AWS_ACCESS_KEY_ID..., AWS_PROFILE, the ECS task role, instance metadata).
#[derive(clap::Args)]
struct S3Args {
    /// An S3-compatible endpoint URL (AWS_ENDPOINT_URL_S3 is honoured too).
    #[arg(long, env = "SLUICE_S3_ENDPOINT")]
    s3_endpoint: Option<String>,
    /// The bucket region (default: AWS_REGION or the profile's).
    #[arg(long, env = "SLUICE_S3_REGION")]
    s3_region: Option<String>,
    /// Path-style addressing (endpoint/bucket/key), for S3-compatible stores.
    #[arg(long, env = "SLUICE_S3_PATH_STYLE")]
    s3_path_style: bool,
    /// Send checksums only where S3 requires them (stores without flexible checksums).
    #[arg(long, env = "SLUICE_S3_CHECKSUMS_WHEN_REQUIRED")]
    s3_checksums_when_required: bool,
    /// Attempts per S3 request, the first included (5xx, throttling, broken connections).
    #[arg(long, env = "SLUICE_S3_MAX_ATTEMPTS", default_value_t = 5)]
    s3_max_attempts: u32,
    /// Multipart part size in MiB (at least 5): the memory one part in flight costs.
    #[arg(long, env = "SLUICE_S3_PART_MIB", default_value_t = 8)]
    s3_part_mib: usize,
    /// Parts uploading at once per file.
    #[arg(long, env = "SLUICE_S3_UPLOAD_CONCURRENCY", default_value_t = 2)]
    s3_upload_concurrency: usize,
    /// Size in MiB of each ranged GET when reading.
    #[arg(long, env = "SLUICE_S3_READ_CHUNK_MIB", default_value_t = 8)]
    s3_read_chunk_mib: usize,
    /// Ranged GETs in flight at once per object.
    #[arg(long, env = "SLUICE_S3_READ_CONCURRENCY", default_value_t = 4)]
    s3_read_concurrency: usize,
}

impl S3Args {
    fn settings(&self) -> crate::storage::S3Settings {
        crate::storage::S3Settings {
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
enum Progress {
    Auto,
    Always,
    Never,
}

/// The ids of the arguments given on the command line or through the environment.
fn given_settings(matches: &clap::ArgMatches) -> Vec<String> {
    use clap::parser::ValueSource;
    matches
        .ids()
        .filter(|id| matches!(matches.value_source(id.as_str()), Some(ValueSource::CommandLine | ValueSource::EnvVariable)))
        .map(|id| id.as_str().to_string())
        .collect()
}

fn dispatch(cli: Cli, given: &[String]) -> Result<u8> {
    match cli.command {
        Command::Run(args) => run(args, given),
        Command::Plan(args) => plan(args),
        Command::Plugin(command) => plugin::dispatch(command),
    }
}

fn run(mut args: RunArgs, given: &[String]) -> Result<u8> {
    // The file is read once, with the S3 settings of the flags and env: [settings] may
    // change them, so the run's own storage is made after.
    let text = pipeline_text(&args.pipeline, &crate::storage::Storage::new(args.s3.settings()))
        .and_then(|text| apply_settings(&mut args, given, &text).map(|()| text));
    let Some(token) = args.task_token.clone() else {
        let storage = crate::storage::Storage::new(args.s3.settings());
        let report = execute_run(&args, &text?, &storage)?;
        return finish_run(&args, &report, &storage);
    };
    // A Step Functions task: heartbeats while running, then success or failure, whatever
    // happened (an unreadable pipeline file included), so the state machine never waits in vain.
    let sfn = crate::job::SfnSettings { endpoint: args.sfn_endpoint.clone(), region: args.s3.s3_region.clone() };
    let token = crate::job::TaskToken::start(token, std::time::Duration::from_secs(args.heartbeat_secs), &sfn);
    let storage = crate::storage::Storage::new(args.s3.settings());
    let (code, callback) = match text.and_then(|text| execute_run(&args, &text, &storage)) {
        Ok(report) => {
            let code = finish_run(&args, &report, &storage)?;
            let callback = match report.first_error_kind() {
                None => {
                    let json = serde_json::to_string(&report)?;
                    token.succeed(&json, || summary(&report))
                }
                Some(kind) => token.fail(&error_code(kind), &failure_cause(&report)),
            };
            (code, callback)
        }
        Err(error) => {
            let callback = token.fail(&error_code(ErrorKind::Config), &format!("{error:#}"));
            eprintln!("error: {error:#}");
            tracing::error!("{error:#}");
            (EXIT_CONFIG, callback)
        }
    };
    match callback {
        Ok(()) => Ok(code),
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("error: {e}");
            Ok(if code == 0 { EXIT_IO } else { code })
        }
    }
}

fn plan(args: PlanArgs) -> Result<u8> {
    let vars = parse_vars(&args.vars)?;
    let storage = crate::storage::Storage::new(args.s3.settings());
    let pipeline = Pipeline::from_text(&pipeline_text(&args.pipeline, &storage)?, &args.pipeline, &vars)?;
    if args.shards == Some(0) {
        anyhow::bail!("--shards must be at least 1");
    }
    let items = crate::run::plan(&pipeline, &storage, args.shards)?;
    let json = serde_json::to_string_pretty(&items)?;
    if let Some(out) = &args.out {
        write_output(&storage, out, json.as_bytes()).with_context(|| format!("writing the plan to {out}"))?;
    }
    println!("{json}");
    Ok(0)
}

/// Writes a small file locally (atomically) or to `s3://`.
fn write_output(storage: &crate::storage::Storage, target: &str, bytes: &[u8]) -> Result<()> {
    match crate::storage::Location::parse(target, std::path::Path::new(""))? {
        crate::storage::Location::S3 { bucket, key } => {
            use crate::storage::Store;
            storage.bucket(&bucket)?.put(&key, bytes.to_vec().into(), crate::storage::Precondition::None)?;
            Ok(())
        }
        crate::storage::Location::Local(path) => Ok(write_atomically(&path, bytes)?),
    }
}

/// Fills the settings the user did not give (as a flag or an env var) from the pipeline
/// file's `[settings]` table: flags, then env vars, then the file, then the defaults.
fn apply_settings(args: &mut RunArgs, given: &[String], text: &str) -> Result<()> {
    let raw: toml::Table = toml::from_str(text).with_context(|| format!("parsing {}", args.pipeline.display()))?;
    let Some(settings) = raw.get("settings").and_then(|s| s.as_table()) else { return Ok(()) };
    for (key, value) in settings {
        if given.iter().any(|g| g == key) {
            continue;
        }
        let bad = || anyhow::anyhow!("[settings] {key} = {value}: wrong type");
        let text = || value.as_str().map(str::to_owned).ok_or_else(bad);
        let flag = || value.as_bool().ok_or_else(bad);
        let number = || value.as_integer().filter(|n| *n >= 0).map(|n| n as u64).ok_or_else(bad);
        match key.as_str() {
            "report" => args.report = Some(text()?),
            "tables" => args.tables = value.as_array().ok_or_else(bad)?.iter().filter_map(|t| t.as_str().map(str::to_owned)).collect(),
            "run_id" => args.run_id = Some(text()?),
            "batch_rows" => args.batch_rows = Some(number()? as usize),
            "fail_fast" => args.fail_fast = flag()?,
            "force" => args.force = flag()?,
            "lock_wait" => args.lock_wait = number()?,
            "lock_lease" => args.lock_lease = number()?,
            "shard" => args.shard = Some(text()?),
            "heartbeat_secs" => args.heartbeat_secs = number()?,
            "sfn_endpoint" => args.sfn_endpoint = Some(text()?),
            "cache_dir" => args.cache.cache_dir = Some(text()?.into()),
            "no_cache" => args.cache.no_cache = flag()?,
            "s3_endpoint" => args.s3.s3_endpoint = Some(text()?),
            "s3_region" => args.s3.s3_region = Some(text()?),
            "s3_path_style" => args.s3.s3_path_style = flag()?,
            "s3_checksums_when_required" => args.s3.s3_checksums_when_required = flag()?,
            "s3_max_attempts" => args.s3.s3_max_attempts = number()? as u32,
            "s3_part_mib" => args.s3.s3_part_mib = number()? as usize,
            "s3_upload_concurrency" => args.s3.s3_upload_concurrency = number()? as usize,
            "s3_read_chunk_mib" => args.s3.s3_read_chunk_mib = number()? as usize,
            "s3_read_concurrency" => args.s3.s3_read_concurrency = number()? as usize,
            other => anyhow::bail!(
                "[settings] {other} is not a setting; the pipeline file may set: report, tables, run_id, batch_rows, \
                 fail_fast, force, lock_wait, lock_lease, shard, heartbeat_secs, sfn_endpoint, cache_dir, no_cache, s3_*"
            ),
        }
    }
    Ok(())
}

/// The pipeline file's text, from a local path or `s3://bucket/key`.
fn pipeline_text(path: &std::path::Path, storage: &crate::storage::Storage) -> Result<String> {
    let text = path.to_string_lossy();
    match crate::storage::Location::parse(&text, std::path::Path::new(""))? {
        crate::storage::Location::S3 { bucket, key } => {
            use crate::storage::Store;
            let found = storage.bucket(&bucket)?.get(&key)?.with_context(|| format!("no pipeline file at {text}"))?;
            String::from_utf8(found.body.to_vec()).with_context(|| format!("{text} is not UTF-8"))
        }
        crate::storage::Location::Local(local) => {
            std::fs::read_to_string(&local).with_context(|| format!("reading {}", local.display()))
        }
    }
}

fn parse_vars(pairs: &[String]) -> Result<crate::pipeline::Vars> {
    let mut vars = crate::pipeline::Vars::new();
    for pair in pairs {
        let (name, value) = pair.split_once('=').with_context(|| format!("--var {pair:?} is not NAME=VALUE"))?;
        vars.insert(name.trim().to_string(), value.to_string());
    }
    Ok(vars)
}

/// `Sluice.Config`, `Sluice.Data`, `Sluice.Plugin` or `Sluice.Io`: what a state machine's
/// `Retry` and `Catch` match on (retry `Sluice.Io`; never `Sluice.Data`).
fn error_code(kind: ErrorKind) -> String {
    let name = match kind {
        ErrorKind::Config => "Config",
        ErrorKind::Data => "Data",
        ErrorKind::Plugin => "Plugin",
        ErrorKind::Io => "Io",
    };
    format!("Sluice.{name}")
}

/// Every failed table's error (each names the table and the file, line and column).
fn failure_cause(report: &crate::run::RunReport) -> String {
    let tables = report.tables.iter().filter_map(|t| t.error.clone());
    let ingests = report.ingests.iter().filter_map(|i| i.error.clone());
    format!("run {}: {}", report.run_id, tables.chain(ingests).collect::<Vec<_>>().join("\n"))
}

/// The report without per-file detail, for outputs too large for Step Functions.
fn summary(report: &crate::run::RunReport) -> String {
    let tables: Vec<serde_json::Value> = report
        .tables
        .iter()
        .map(|t| serde_json::json!({"table": t.table, "status": t.status, "rows_in": t.rows_in, "rows_out": t.rows_out, "rows_rejected": t.rows_rejected, "outputs": t.outputs.len()}))
        .collect();
    serde_json::json!({"run_id": report.run_id, "status": report.status, "summary": true, "tables": tables}).to_string()
}

/// The share of the work: `--items`, `--shard`, or AWS Batch's array index.
fn scope_of(args: &RunArgs) -> Result<crate::run::Scope> {
    use crate::run::Scope;
    if let Some(items) = &args.items {
        return Scope::parse_items(&read_json_arg(items, "--items")?).map_err(anyhow::Error::msg);
    }
    if let Some(shard) = &args.shard {
        return Scope::parse_shard(shard).map_err(anyhow::Error::msg);
    }
    Scope::from_batch_env(std::env::var("AWS_BATCH_JOB_ARRAY_INDEX").ok(), std::env::var("AWS_BATCH_JOB_ARRAY_SIZE").ok())
        .map_err(anyhow::Error::msg)
}

/// JSON given inline, in a file, or on stdin (`-`).
fn read_json_arg(value: &str, flag: &str) -> Result<String> {
    Ok(match value.trim_start().chars().next() {
        Some('{') | Some('[') => value.to_string(),
        _ if value == "-" => std::io::read_to_string(std::io::stdin()).with_context(|| format!("reading {flag} from stdin"))?,
        _ => std::fs::read_to_string(value).with_context(|| format!("reading the {flag} file {value}"))?,
    })
}

/// Loads the pipeline and runs it (or the tables the event routes to).
fn execute_run(args: &RunArgs, text: &str, storage: &crate::storage::Storage) -> Result<crate::run::RunReport> {
    let vars = parse_vars(&args.vars)?;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).context("system clock before 1970")?;
    let options = RunOptions {
        run_id: args.run_id.clone().unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
        run_time_micros: now.as_micros() as i64,
        engine: args.cache.engine_options(),
        tables: args.tables.clone(),
        batch_rows: args.batch_rows.filter(|&n| n > 0),
        fail_fast: args.fail_fast,
        progress: match args.progress {
            Progress::Auto => std::io::stderr().is_terminal(),
            Progress::Always => true,
            Progress::Never => false,
        },
        force: args.force,
        lock_wait: std::time::Duration::from_secs(args.lock_wait),
        lock_lease: std::time::Duration::from_secs(args.lock_lease.max(1)),
        s3: args.s3.settings(),
        scope: scope_of(args)?,
        lock_scope: None,
    };
    tracing::info!(run_id = %options.run_id, pipeline = %args.pipeline.display(), "run starting");
    match &args.event {
        Some(event) => run_event(&args.pipeline, text, event, &vars, &options, storage),
        None => {
            let pipeline = Pipeline::from_text(text, &args.pipeline, &vars)?;
            if let Some(unknown) = args.tables.iter().find(|t| !pipeline.tables.contains_key(*t) && !pipeline.ingest.contains_key(*t)) {
                anyhow::bail!("no table `{unknown}` in {}", args.pipeline.display());
            }
            Ok(run_pipeline_with(&pipeline, &options, storage)?)
        }
    }
}

/// Writes and prints the report; the exit code of its first failure.
fn finish_run(args: &RunArgs, report: &crate::run::RunReport, storage: &crate::storage::Storage) -> Result<u8> {
    let json = serde_json::to_string_pretty(report)?;
    if let Some(target) = &args.report {
        write_output(storage, target, json.as_bytes()).with_context(|| format!("writing the run report to {target}"))?;
    }
    println!("{json}");
    Ok(match report.first_error_kind() {
        None => 0,
        Some(ErrorKind::Config) => EXIT_CONFIG,
        Some(ErrorKind::Data) => EXIT_DATA,
        Some(ErrorKind::Plugin) => EXIT_PLUGIN,
        Some(ErrorKind::Io) => EXIT_IO,
    })
}

/// Runs, for each object of the event, the tables whose `trigger` matches it, with the
/// values the trigger captured as pipeline variables.
fn run_event(
    path: &std::path::Path,
    text: &str,
    event: &str,
    vars: &crate::pipeline::Vars,
    options: &RunOptions,
    storage: &crate::storage::Storage,
) -> Result<crate::run::RunReport> {
    let json = read_json_arg(event, "--event")?;
    let objects = crate::job::parse_event(&json).map_err(anyhow::Error::msg)?;
    let raw: toml::Table = toml::from_str(text).with_context(|| format!("parsing {}", path.display()))?;
    let mut triggers = Vec::new();
    for (table, spec) in raw.get("tables").and_then(|t| t.as_table()).into_iter().flatten() {
        if let Some(pattern) = spec.get("trigger").and_then(|t| t.as_str()) {
            let pattern = crate::pipeline::expand_vars(pattern, vars).map_err(|e| anyhow::anyhow!("table `{table}`: {e}"))?;
            let trigger = crate::job::Trigger::new(&pattern).map_err(|e| anyhow::anyhow!("table `{table}`: {e}"))?;
            triggers.push((table.clone(), trigger));
        }
    }
    let started = std::time::Instant::now();
    let mut combined = crate::run::RunReport::new(&options.run_id, options.run_time_micros);
    for object in &objects {
        let uri = format!("s3://{}/{}", object.bucket.as_deref().unwrap_or("?"), object.key);
        let matched: Vec<_> = triggers.iter().filter_map(|(table, t)| t.matches(object).map(|v| (table, v))).collect();
        if matched.is_empty() {
            anyhow::bail!("no table's `trigger` matches {uri} (tables with triggers: {:?})", triggers.iter().map(|t| &t.0).collect::<Vec<_>>());
        }
        for (table, captured) in matched {
            tracing::info!(table = %table, object = %uri, "routed by trigger");
            let mut all = vars.clone();
            all.extend(captured);
            let pipeline = Pipeline::from_text(text, path, &all)?;
            let mut one = options.clone();
            one.tables = vec![table.clone()];
            let report = run_pipeline_with(&pipeline, &one, storage)?;
            combined.tables.extend(report.tables);
        }
    }
    if objects.is_empty() {
        tracing::info!("the event names no object; nothing to do");
    }
    combined.finish(started.elapsed());
    Ok(combined)
}

fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".{}.tmp", path.file_name().unwrap_or_default().to_string_lossy()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(tmp, path)
}
