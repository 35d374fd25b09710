//! `sluice run` and `sluice plan`: the pipeline file read once, the run's options resolved
//! from the flags, and the report written, printed and turned into an exit code (and, for
//! a Step Functions task, into its success or failure).

use std::ffi::OsString;
use std::io::IsTerminal;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use clap::{CommandFactory, FromArgMatches};
use std::sync::Arc;

use sluice_aws::{EventRun, GlueCatalog, GlueSettings, SfnSettings, TaskToken};
use sluice_core::catalog::CatalogHandle;
use sluice_core::pipeline::{run_pipeline, Pipeline, RunReport};
use sluice_core::run::{ErrorKind, RunOptions, Scope};
use sluice_core::storage::Storage;
use sluice_core::vars::Vars;

use super::args::{Cli, Command, PlanArgs, Progress, RunArgs};
use super::{exit_code, files, settings, EXIT_CONFIG, EXIT_IO};

/// The pipeline file, read once: its text (for messages with line numbers) and its TOML.
struct PipelineFile {
    text: String,
    raw: toml::Table,
}

/// Runs `sluice run`. `argv` and `given` are the command line as typed and the settings
/// it gave, so that the pipeline's `[settings]` can fill the rest.
pub(crate) fn run(args: RunArgs, argv: &[OsString], given: &[String]) -> Result<u8> {
    let loaded = load(&args, argv, given);
    let Some(token) = args.task_token.clone() else {
        let storage = sluice_aws::storage(args.s3.settings());
        let outcome = loaded.and_then(|(args, file)| Ok((execute(&args, &file, &storage)?, args)));
        return match outcome {
            Ok((report, args)) => finish(&args, &report, &storage),
            Err(error) => failed_before_tables(&args, &error, &storage),
        };
    };
    // A Step Functions task: heartbeats while running, then success or failure, whatever
    // happened (an unreadable pipeline file included), so the state machine never waits in vain.
    let sfn = SfnSettings {
        endpoint: args.sfn_endpoint.clone(),
        region: args.s3.s3_region.clone(),
    };
    let token = TaskToken::start(token, Duration::from_secs(args.heartbeat_secs), &sfn);
    let storage = sluice_aws::storage(args.s3.settings());
    let outcome = loaded.and_then(|(args, file)| Ok((execute(&args, &file, &storage)?, args)));
    let (code, callback) = match outcome {
        Ok((report, args)) => {
            let code = finish(&args, &report, &storage)?;
            let callback = match report.first_error_kind() {
                None => token.succeed(&serde_json::to_string(&report)?, || summary(&report)),
                Some(kind) => token.fail(&error_code(kind), &failure_cause(&report)),
            };
            (code, callback)
        }
        Err(error) => {
            let callback = token.fail(&error_code(ErrorKind::Config), &format!("{error:#}"));
            failed_before_tables(&args, &error, &storage)?;
            (EXIT_CONFIG, callback)
        }
    };
    if let Err(e) = callback {
        super::logging::fatal(&e);
        return Ok(if code == 0 { EXIT_IO } else { code });
    }
    Ok(code)
}

/// Reads the pipeline file with the S3 settings of the flags and env, then parses the
/// command line again with its `[settings]` added as arguments for what was not given.
fn load(args: &RunArgs, argv: &[OsString], given: &[String]) -> Result<(RunArgs, PipelineFile)> {
    let text = files::read_text(&args.pipeline, &sluice_aws::storage(args.s3.settings()))?;
    let raw: toml::Table =
        toml::from_str(&text).with_context(|| format!("parsing {}", args.pipeline.display()))?;
    let settings = raw
        .get("settings")
        .and_then(|s| s.as_table())
        .cloned()
        .unwrap_or_default();
    let extra = settings::file_args(&settings, given)?;
    let file = PipelineFile { text, raw };
    if extra.is_empty() {
        return Ok((args.clone(), file));
    }
    let all: Vec<OsString> = argv.iter().cloned().chain(extra).collect();
    let matches = Cli::command()
        .try_get_matches_from(all)
        .context("[settings]")?;
    match Cli::from_arg_matches(&matches)?.command {
        Command::Run(args) => Ok((args, file)),
        _ => unreachable!("the same command line, with more flags"),
    }
}

/// Loads the pipeline and runs it (or the tables the event routes to).
fn execute(args: &RunArgs, file: &PipelineFile, storage: &Storage) -> Result<RunReport> {
    let vars = parse_vars(&args.vars)?;
    let options = run_options(args)?;
    tracing::info!(run_id = %options.run_id, pipeline = %args.pipeline.display(), "run starting");
    if let Some(event) = &args.event {
        let objects = sluice_aws::parse_event(&files::read_json_arg(event, "--event")?)
            .map_err(anyhow::Error::msg)?;
        let run = EventRun {
            path: &args.pipeline,
            raw: &file.raw,
            vars: &vars,
            options: &options,
            storage,
        };
        return Ok(sluice_aws::run_event(&run, &objects)?);
    }
    let pipeline = Pipeline::from_text(&file.text, &args.pipeline, &vars)?;
    if let Some(unknown) = args
        .tables
        .iter()
        .find(|t| !pipeline.tables.contains_key(*t) && !pipeline.ingest.contains_key(*t))
    {
        anyhow::bail!("no table `{unknown}` in {}", args.pipeline.display());
    }
    Ok(run_pipeline(&pipeline, &options, storage)?)
}

/// The flags resolved into what a run needs.
fn run_options(args: &RunArgs) -> Result<RunOptions> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .context("system clock before 1970")?;
    let run_id = args
        .run_id
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    sluice_core::name::check("--run-id", &run_id).map_err(anyhow::Error::msg)?;
    Ok(RunOptions {
        run_id,
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
        lock_wait: Duration::from_secs(args.lock_wait),
        lock_lease: Duration::from_secs(args.lock_lease.max(1)),
        scope: scope_of(args)?,
        lock_scope: None,
        plugin_instances: args.plugin_instances.filter(|&n| n > 0),
        grow_plugin_instances: false, // settled per run, with the threads
        threads: args.threads.filter(|&n| n > 0),
        encode_threads: args.threads.filter(|&n| n > 0),
        jobs: args
            .jobs
            .filter(|&n| n > 0)
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
        catalog: Some(CatalogHandle(Arc::new(GlueCatalog::new(GlueSettings {
            endpoint: args.glue_endpoint.clone(),
            region: args.s3.s3_region.clone(),
        })))),
    })
}

/// A run that failed before any table ran (an unreadable or invalid pipeline file, a bad
/// flag value): its report says so, printed and written like any other, and the error is
/// printed once.
fn failed_before_tables(args: &RunArgs, error: &anyhow::Error, storage: &Storage) -> Result<u8> {
    let message = format!("{error:#}");
    super::logging::fatal(&message);
    let run_id = args
        .run_id
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let now = sluice_core::run::now_micros();
    let report = RunReport::new(&run_id, now).failed(ErrorKind::Config, message);
    let json = serde_json::to_string_pretty(&report)?;
    if let Some(target) = &args.report {
        if let Err(e) = files::write(storage, target, json.as_bytes()) {
            super::logging::fatal(&format!("writing the run report to {target}: {e:#}"));
        }
    }
    show(&json, &report);
    Ok(EXIT_CONFIG)
}

/// The JSON report to stdout when it is not a terminal (a script or a log collector reads
/// it); a person at a terminal gets the short summary instead (on stderr when only that is
/// one), with the JSON in `--report`.
fn show(json: &str, report: &RunReport) {
    let (stdout, stderr) = (
        std::io::stdout().is_terminal(),
        std::io::stderr().is_terminal(),
    );
    if stdout {
        print!("{}", super::summary::summary(report));
    } else {
        println!("{json}");
        if stderr {
            eprint!("{}", super::summary::summary(report));
        }
    }
}

/// Writes and prints the report; the exit code of its first failure.
fn finish(args: &RunArgs, report: &RunReport, storage: &Storage) -> Result<u8> {
    let json = serde_json::to_string_pretty(report)?;
    if let Some(target) = &args.report {
        files::write(storage, target, json.as_bytes())
            .with_context(|| format!("writing the run report to {target}"))?;
    }
    show(&json, report);
    Ok(report.first_error_kind().map(exit_code).unwrap_or(0))
}

/// `sluice plan`: the units of work, as JSON.
pub(crate) fn plan(args: PlanArgs) -> Result<u8> {
    let vars = parse_vars(&args.vars)?;
    let storage = sluice_aws::storage(args.s3.settings());
    let pipeline = Pipeline::from_text(
        &files::read_text(&args.pipeline, &storage)?,
        &args.pipeline,
        &vars,
    )?;
    if args.shards == Some(0) {
        anyhow::bail!("--shards must be at least 1");
    }
    let items = sluice_core::pipeline::plan(&pipeline, &storage, args.shards)?;
    let json = serde_json::to_string_pretty(&items)?;
    if let Some(out) = &args.out {
        files::write(&storage, out, json.as_bytes())
            .with_context(|| format!("writing the plan to {out}"))?;
    }
    println!("{json}");
    Ok(0)
}

pub(crate) fn parse_vars(pairs: &[String]) -> Result<Vars> {
    let mut vars = Vars::new();
    for pair in pairs {
        let (name, value) = pair
            .split_once('=')
            .with_context(|| format!("--var {pair:?} is not NAME=VALUE"))?;
        vars.insert(name.trim().to_string(), value.to_string());
    }
    Ok(vars)
}

/// The share of the work: `--items`, `--shard`, or AWS Batch's array index.
fn scope_of(args: &RunArgs) -> Result<Scope> {
    if let Some(items) = &args.items {
        return Scope::parse_items(&files::read_json_arg(items, "--items")?)
            .map_err(anyhow::Error::msg);
    }
    if let Some(shard) = &args.shard {
        return Scope::parse_shard(shard).map_err(anyhow::Error::msg);
    }
    let env = |name| std::env::var(name).ok();
    Scope::from_batch_env(
        env("AWS_BATCH_JOB_ARRAY_INDEX"),
        env("AWS_BATCH_JOB_ARRAY_SIZE"),
    )
    .map_err(anyhow::Error::msg)
}

/// `Sluice.Config`, `Sluice.Data`, `Sluice.Plugin`, `Sluice.Io` or `Sluice.Internal`: what
/// a state machine's `Retry` and `Catch` match on (retry `Sluice.Io`; never `Sluice.Data`).
fn error_code(kind: ErrorKind) -> String {
    let name = match kind {
        ErrorKind::Config => "Config",
        ErrorKind::Data => "Data",
        ErrorKind::Plugin => "Plugin",
        ErrorKind::Io => "Io",
        ErrorKind::Internal => "Internal",
    };
    format!("Sluice.{name}")
}

/// Every failed table's error (each names the table and the file, line and column).
fn failure_cause(report: &RunReport) -> String {
    let tables = report.tables.iter().filter_map(|t| t.error.clone());
    let ingests = report.ingests.iter().filter_map(|i| i.error.clone());
    format!(
        "run {}: {}",
        report.run_id,
        tables.chain(ingests).collect::<Vec<_>>().join("\n")
    )
}

/// The report without per-file detail, for outputs too large for Step Functions.
fn summary(report: &RunReport) -> String {
    let tables: Vec<serde_json::Value> = report
        .tables
        .iter()
        .map(|t| {
            serde_json::json!({"table": t.table, "status": t.status, "rows_in": t.rows_in, "rows_out": t.rows_out,
                "rows_rejected": t.rows_rejected, "outputs": t.outputs.len()})
        })
        .collect();
    serde_json::json!({"run_id": report.run_id, "status": report.status, "summary": true, "tables": tables}).to_string()
}
