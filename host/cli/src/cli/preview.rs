//! `sluice schema` and `sluice check`: see what a pipeline would read and write before
//! anything is written. `schema` prints each input's columns with their types and where
//! each type came from, and the first rows; `check` also opens every plugin with its
//! config and the real input schemas, and prints the output schemas it answers with.

use std::path::PathBuf;

use anyhow::{Context, Result};
use arrow::datatypes::Schema;
use serde_json::json;
use sluice_core::pipeline::Pipeline;
use sluice_core::plugin::PluginEngine;
use sluice_core::run::{RunOptions, TableError};
use sluice_core::source::type_name;
use sluice_core::table::{Host, Preview, TableRun};

use super::args::{CacheArgs, S3Args};
use super::{exit_code, files};

#[derive(clap::Args)]
pub(crate) struct PreviewArgs {
    /// The pipeline file (TOML).
    #[arg(env = "SLUICE_PIPELINE")]
    pub(crate) pipeline: PathBuf,
    /// Only these tables (repeat or comma-separate; default: all).
    #[arg(long = "table", value_delimiter = ',', value_name = "NAME")]
    pub(crate) tables: Vec<String>,
    /// Rows of each input to print.
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub(crate) rows: usize,
    /// Print JSON instead of text.
    #[arg(long)]
    pub(crate) json: bool,
    /// A value for `${NAME}` in the pipeline file, before the environment (repeatable).
    #[arg(long = "var", value_delimiter = ',', value_name = "NAME=VALUE")]
    pub(crate) vars: Vec<String>,
    #[command(flatten)]
    pub(crate) cache: CacheArgs,
    #[command(flatten)]
    pub(crate) s3: S3Args,
}

/// Previews every selected table; `open_plugins` for `check`. The exit code is the first
/// failure's class (2 config, 3 data, 4 plugin, 5 I/O).
pub(crate) fn preview(args: PreviewArgs, open_plugins: bool) -> Result<u8> {
    let storage = sluice_aws::storage(args.s3.settings());
    let vars = super::run::parse_vars(&args.vars)?;
    let text = files::read_text(&args.pipeline, &storage)?;
    let pipeline = Pipeline::from_text(&text, &args.pipeline, &vars)?;
    if let Some(unknown) = args
        .tables
        .iter()
        .find(|t| !pipeline.tables.contains_key(*t))
    {
        anyhow::bail!("no table `{unknown}` in {}", args.pipeline.display());
    }
    let options = RunOptions::preview(args.cache.engine_options());
    let engine = PluginEngine::new(options.engine.clone()).context("starting the plugin engine")?;
    let host = Host {
        engine: &engine,
        storage: &storage,
        options: &options,
    };
    let mut code = 0;
    let mut reports = Vec::new();
    for (name, spec) in &pipeline.tables {
        if !args.tables.is_empty() && !args.tables.contains(name) {
            continue;
        }
        let run = TableRun {
            name,
            spec,
            host: &host,
            batch_rows: spec.batch_rows.or(pipeline.defaults.batch_rows),
        };
        let result = run.preview(args.rows, open_plugins);
        if let Err(e) = &result {
            code = if code == 0 { exit_code(e.kind()) } else { code };
        }
        match args.json {
            true => reports.push(to_json(name, &result)),
            false => print_text(name, &result),
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&reports)?);
    }
    Ok(code)
}

fn print_text(name: &str, result: &Result<Preview, TableError>) {
    let preview = match result {
        Ok(preview) => preview,
        Err(e) => {
            println!("table `{name}`: error: {e}\n");
            return;
        }
    };
    println!("table `{name}` (plugin {})", preview.plugin);
    for input in &preview.inputs {
        println!("  input `{}`: {}", input.name, files_line(&input.files));
        let width = input
            .columns
            .iter()
            .map(|c| c.name.len())
            .max()
            .unwrap_or(0);
        for c in &input.columns {
            let ty = type_name(&c.data_type).unwrap_or_else(|| c.data_type.to_string());
            println!("    {:width$}  {ty:16} {}", c.name, origin(c.origin));
        }
        if let Some(sample) = &input.sample {
            match arrow::util::pretty::pretty_format_batches(std::slice::from_ref(sample)) {
                Ok(table) => println!("{}", indent(&table.to_string(), "    ")),
                Err(e) => println!("    (cannot print the rows: {e})"),
            }
        }
    }
    if let Some(outputs) = &preview.outputs {
        for (name, schema) in outputs {
            println!("  output `{name}`: {}", columns(schema));
        }
    }
    println!();
}

fn files_line(files: &[String]) -> String {
    match files {
        [] => "no files".into(),
        [one] => one.clone(),
        [first, ..] => format!("{} files ({first}, ...)", files.len()),
    }
}

fn origin(origin: sluice_core::table::TypeOrigin) -> &'static str {
    match origin {
        sluice_core::table::TypeOrigin::Declared => "declared",
        sluice_core::table::TypeOrigin::Inferred => "inferred",
        sluice_core::table::TypeOrigin::Text => "text (infer = false)",
    }
}

fn columns(schema: &Schema) -> String {
    let names: Vec<String> = schema
        .fields()
        .iter()
        .map(|f| {
            let ty = type_name(f.data_type()).unwrap_or_else(|| f.data_type().to_string());
            format!(
                "{} {ty}{}",
                f.name(),
                if f.is_nullable() { "" } else { " not null" }
            )
        })
        .collect();
    names.join(", ")
}

fn indent(text: &str, by: &str) -> String {
    text.lines()
        .map(|l| format!("{by}{l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn to_json(name: &str, result: &Result<Preview, TableError>) -> serde_json::Value {
    let preview = match result {
        Ok(preview) => preview,
        Err(e) => return json!({"table": name, "error": e.to_string(), "error_kind": e.kind()}),
    };
    let type_of = |t: &arrow::datatypes::DataType| type_name(t).unwrap_or_else(|| t.to_string());
    let inputs: Vec<_> = preview
        .inputs
        .iter()
        .map(|i| {
            let columns: Vec<_> = i
                .columns
                .iter()
                .map(|c| json!({"name": c.name, "type": type_of(&c.data_type), "origin": c.origin}))
                .collect();
            json!({"name": i.name, "files": i.files, "columns": columns, "rows": i.sample.as_ref().map(rows_json)})
        })
        .collect();
    let outputs = preview.outputs.as_ref().map(|outputs| {
        outputs
            .iter()
            .map(|(name, schema)| {
                let columns: Vec<_> = schema
                    .fields()
                    .iter()
                    .map(|f| json!({"name": f.name(), "type": type_of(f.data_type()), "nullable": f.is_nullable()}))
                    .collect();
                json!({"name": name, "columns": columns})
            })
            .collect::<Vec<_>>()
    });
    json!({"table": name, "plugin": preview.plugin, "inputs": inputs, "outputs": outputs})
}

/// The sample rows as JSON objects (arrow's JSON writer: decimals and times as text).
fn rows_json(batch: &arrow::record_batch::RecordBatch) -> serde_json::Value {
    let mut writer = arrow::json::ArrayWriter::new(Vec::new());
    if writer.write(batch).and_then(|()| writer.finish()).is_err() {
        return serde_json::Value::Null;
    }
    serde_json::from_slice(&writer.into_inner()).unwrap_or(serde_json::Value::Null)
}
