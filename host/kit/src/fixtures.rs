//! Fixture folders: real input files, a config and the expected output, compared value by
//! value.
//!
//! ```text
//! fixtures/<case>/
//!   config.json              optional; otherwise the kit's config
//!   input/<input>.csv        one file per plugin input (header line; required columns get
//!                            the plugin's declared types, the rest are inferred)
//!   expected/<output>.csv    or .parquet; outputs without a file are not compared
//! ```

use std::path::{Path, PathBuf};

use arrow::array::{Array, ArrayRef};
use arrow::compute::concat_batches;
use arrow::datatypes::SchemaRef;
use arrow::record_batch::{RecordBatch, RecordBatchReader};
use arrow_cast::display::{ArrayFormatter, FormatOptions};

use super::harness::{Harness, InputData};
use sluice_core::plugin::{PluginInfo, RunContext};
use sluice_core::source::CsvInput;
use sluice_core::source::{CsvOptions, InputSpec};

/// The case folders below `dir`, sorted.
pub(crate) fn cases(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    if cases.is_empty() {
        return Err(format!("{}: no fixture folders", dir.display()));
    }
    Ok(cases)
}

/// Runs one case; `Ok` carries a summary, `Err` what differs.
pub(crate) fn check_case(
    harness: &Harness,
    info: &PluginInfo,
    case: &Path,
    context: &RunContext,
) -> Result<String, String> {
    let config_path = case.join("config.json");
    let config = if config_path.exists() {
        std::fs::read_to_string(&config_path)
            .map_err(|e| format!("{}: {e}", config_path.display()))?
    } else {
        harness.config.clone()
    };
    let inputs = info
        .inputs
        .iter()
        .map(|i| read_input(case, i))
        .collect::<Result<Vec<_>, _>>()?;
    let harness = Harness {
        config,
        ..harness.clone()
    };
    let output = harness
        .run(&inputs, context, 0x5eed)
        .map_err(|e| e.to_string())?;
    let mut compared = 0;
    for (name, actual) in &output.outputs {
        let Some(expected) = read_expected(case, name)? else {
            continue;
        };
        compare(name, actual, &expected)?;
        compared += 1;
    }
    if compared == 0 {
        return Err(format!(
            "{}: no expected/<output>.csv or .parquet to compare",
            case.display()
        ));
    }
    Ok(format!("{compared} output(s) match"))
}

fn read_input(case: &Path, input: &sluice_core::plugin::InputInfo) -> Result<InputData, String> {
    let path = case.join("input").join(format!("{}.csv", input.name));
    let mut csv = CsvOptions::default_for_fixtures();
    for field in input.required.fields() {
        let name = sluice_core::source::type_name(field.data_type()).ok_or_else(|| {
            format!(
                "input `{}` column `{}`: CSV fixtures cannot hold {}",
                input.name,
                field.name(),
                field.data_type()
            )
        })?;
        csv.types.insert(field.name().clone(), name);
    }
    let spec = InputSpec {
        path: path.display().to_string(),
        select: Default::default(),
        from_registry: None,
        quality: Default::default(),
        csv,
    };
    let (schema, batches) = read_csv(&spec).map_err(|e| format!("input `{}`: {e}", input.name))?;
    Ok(InputData {
        name: input.name.clone(),
        schema,
        batches,
    })
}

/// A whole CSV file through the host's own reader.
fn read_csv(
    spec: &InputSpec,
) -> Result<(SchemaRef, Vec<RecordBatch>), sluice_core::source::SourceError> {
    let reader = CsvInput::open(spec, 65_536, &sluice_core::storage::Storage::local())?;
    let schema = reader.schema();
    let mut batches = Vec::new();
    reader.read_all(|b| {
        batches.push(b.batch);
        true
    })?;
    Ok((schema, batches))
}

fn read_expected(case: &Path, output: &str) -> Result<Option<RecordBatch>, String> {
    let dir = case.join("expected");
    let csv = dir.join(format!("{output}.csv"));
    let parquet = dir.join(format!("{output}.parquet"));
    if csv.exists() {
        let mut options = CsvOptions::default_for_fixtures();
        options.infer = false;
        let spec = InputSpec {
            path: csv.display().to_string(),
            select: Default::default(),
            from_registry: None,
            quality: Default::default(),
            csv: options,
        };
        let (schema, batches) = read_csv(&spec).map_err(|e| format!("expected `{output}`: {e}"))?;
        return concat_batches(&schema, &batches)
            .map(Some)
            .map_err(|e| e.to_string());
    }
    if parquet.exists() {
        let file =
            std::fs::File::open(&parquet).map_err(|e| format!("{}: {e}", parquet.display()))?;
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
            .and_then(|b| b.build())
            .map_err(|e| format!("{}: {e}", parquet.display()))?;
        let schema = reader.schema();
        let batches = reader
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?;
        return concat_batches(&schema, &batches)
            .map(Some)
            .map_err(|e| e.to_string());
    }
    Ok(None)
}

/// Cell by cell, as text: numbers within 1e-9 relative, timestamps with `T` or a space.
fn compare(output: &str, actual: &RecordBatch, expected: &RecordBatch) -> Result<(), String> {
    let names = |b: &RecordBatch| {
        b.schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect::<Vec<_>>()
    };
    if names(actual) != names(expected) {
        return Err(format!(
            "output `{output}`: columns {:?}, expected {:?}",
            names(actual),
            names(expected)
        ));
    }
    if actual.num_rows() != expected.num_rows() {
        return Err(format!(
            "output `{output}`: {} rows, expected {}",
            actual.num_rows(),
            expected.num_rows()
        ));
    }
    for (c, name) in names(actual).iter().enumerate() {
        let (a, e) = (cells(actual.column(c))?, cells(expected.column(c))?);
        if let Some(row) = (0..a.len()).find(|&r| !same(&a[r], &e[r])) {
            return Err(format!(
                "output `{output}` row {} column `{name}`: got {:?}, expected {:?}",
                row + 1,
                a[row],
                e[row]
            ));
        }
    }
    Ok(())
}

fn cells(array: &ArrayRef) -> Result<Vec<Option<String>>, String> {
    // Named zones like "UTC" need chrono-tz to format; every zone the host reads is UTC,
    // so format the UTC wall time and mark it `Z`.
    if let arrow::datatypes::DataType::Timestamp(unit, Some(_)) = array.data_type() {
        let naive =
            arrow::compute::cast(array, &arrow::datatypes::DataType::Timestamp(*unit, None))
                .map_err(|e| e.to_string())?;
        return Ok(cells(&naive)?
            .into_iter()
            .map(|c| c.map(|v| format!("{v}Z")))
            .collect());
    }
    let options = FormatOptions::default();
    let formatter = ArrayFormatter::try_new(array.as_ref(), &options).map_err(|e| e.to_string())?;
    Ok((0..array.len())
        .map(|i| array.is_valid(i).then(|| formatter.value(i).to_string()))
        .collect())
}

fn same(actual: &Option<String>, expected: &Option<String>) -> bool {
    match (actual, expected) {
        (None, None) => true,
        (Some(a), None) | (None, Some(a)) => a.is_empty(),
        (Some(a), Some(e)) => {
            if a == e || a.replacen('T', " ", 1) == e.replacen('T', " ", 1) {
                return true;
            }
            match (a.parse::<f64>(), e.parse::<f64>()) {
                (Ok(x), Ok(y)) => x == y || (x - y).abs() <= 1e-9 * x.abs().max(y.abs()),
                _ => false,
            }
        }
    }
}
