//! The checks of the kit, in the order they are reported.

use std::collections::BTreeMap;

use arrow::datatypes::Field;

use super::generate::{self, Fill, STANDARD_ROWS};
use super::harness::{Harness, InputData, RunOutput};
use super::{fixtures, Check, KitOptions, KitReport};
use sluice_core::plugin::{LoadedPlugin, PluginEngine, PluginError, PluginInfo, RunContext};

/// Batch sizes whose outputs must be identical.
const SPLITS: [usize; 4] = [1, 7, 1000, 65_536];

/// Failures seen in any run, for the checks that look across all of them.
#[derive(Default)]
struct Ledger {
    traps: Vec<String>,
    contract: Vec<String>,
    logs_dropped: u64,
    peak_memory: usize,
}

impl Ledger {
    /// Files a run's result; `Ok` with a summary when the run ended without a fault of the
    /// plugin (typed errors are an answer, not a fault), `Err` with the reason otherwise.
    fn file(&mut self, result: &Result<RunOutput, PluginError>) -> Result<String, String> {
        match result {
            Ok(out) => {
                self.logs_dropped += out.logs_dropped;
                self.peak_memory = self.peak_memory.max(out.peak_memory);
                let rows_out: usize = out.outputs.iter().map(|(_, b)| b.num_rows()).sum();
                Ok(format!(
                    "{} rows in, {rows_out} out, {} rejected",
                    out.rows_in,
                    out.rejects.len()
                ))
            }
            Err(
                e @ (PluginError::Config { .. }
                | PluginError::Schema { .. }
                | PluginError::Data { .. }),
            ) => Ok(format!("refused with a typed error: {e}")),
            Err(e @ (PluginError::Trap { .. } | PluginError::Limit { .. })) => {
                self.traps.push(e.to_string());
                Err(e.to_string())
            }
            Err(
                e @ (PluginError::OutputSchema { .. }
                | PluginError::UnknownOutput { .. }
                | PluginError::Protocol { .. }),
            ) => {
                self.contract.push(e.to_string());
                Err(e.to_string())
            }
            Err(e) => Err(e.to_string()),
        }
    }
}

fn check(name: &str, result: Result<String, String>) -> Check {
    match result {
        Ok(detail) => Check {
            name: name.into(),
            passed: true,
            detail,
        },
        Err(detail) => Check {
            name: name.into(),
            passed: false,
            detail,
        },
    }
}

fn context(run: &str, run_time_micros: i64) -> RunContext {
    RunContext {
        run_id: format!("kit-{run}"),
        run_time_micros,
        table: "kit".into(),
        params: Vec::new(),
    }
}

/// One kit run: the plugin's harness, the options, and what every check has seen so far.
struct KitRun<'a> {
    harness: Harness<'a>,
    info: &'a PluginInfo,
    options: &'a KitOptions,
    ledger: Ledger,
    first: RunContext,
    second: RunContext,
}

pub(super) fn run_all(
    engine: &PluginEngine,
    plugin: &LoadedPlugin,
    info: &PluginInfo,
    options: &KitOptions,
    report: &mut KitReport,
) {
    report.checks.push(check("describe", describe(info)));
    let harness = Harness {
        engine,
        plugin,
        info,
        config: options.config.clone(),
        limits: options.limits.clone(),
    };
    let mut kit = KitRun {
        harness,
        info,
        options,
        ledger: Ledger::default(),
        first: context("a", 1_700_000_000_000_000),
        second: context("b", 1_735_000_000_000_000),
    };
    let standard = match kit.generated(STANDARD_ROWS, Fill::Plain, false) {
        Ok(inputs) => inputs,
        Err(e) => {
            report.checks.push(check("open", Err(e)));
            return;
        }
    };
    kit.standard_input(&standard, report);
    kit.edge_cases(report);
    kit.properties(&standard, report);
    kit.fixtures(report);
    kit.ledger_checks(report);
}

impl KitRun<'_> {
    fn generated(
        &self,
        rows: usize,
        fill: Fill,
        every_type: bool,
    ) -> Result<Vec<InputData>, String> {
        generated(
            self.info,
            &self.options.input_columns,
            rows,
            fill,
            every_type,
        )
    }

    /// The plugin opens with its declared inputs and takes a standard batch.
    fn standard_input(&mut self, standard: &[InputData], report: &mut KitReport) {
        let baseline = self.harness.run(standard, &self.first, 1);
        let opened = match &baseline {
            Err(e @ (PluginError::Config { .. } | PluginError::Schema { .. })) => {
                Err(format!("cannot open with its declared inputs: {e}"))
            }
            other => self.ledger.file(other),
        };
        report.checks.push(check("standard input", opened));
        if let Ok(out) = &baseline {
            report.fuel_per_row = (out.rows_in > 0).then(|| out.fuel as f64 / out.rows_in as f64);
        }
    }

    /// Inputs at the edges: empty, header only, all NULL, very long strings, every type.
    fn edge_cases(&mut self, report: &mut KitReport) {
        let no_batches = |inputs: Vec<InputData>| {
            inputs
                .into_iter()
                .map(|i| InputData {
                    batches: Vec::new(),
                    ..i
                })
                .collect()
        };
        let edge_cases: [(&str, Result<Vec<InputData>, String>); 5] = [
            (
                "empty input",
                self.generated(0, Fill::Plain, false).map(no_batches),
            ),
            ("header-only input", self.generated(0, Fill::Plain, false)),
            (
                "all-null columns",
                self.generated(STANDARD_ROWS, Fill::Nulls, false),
            ),
            (
                "very long strings",
                self.generated(4, Fill::LongStrings, false),
            ),
            (
                "every accepted type",
                self.generated(STANDARD_ROWS, Fill::Plain, true),
            ),
        ];
        for (name, inputs) in edge_cases {
            let result = inputs
                .and_then(|inputs| self.ledger.file(&self.harness.run(&inputs, &self.first, 1)));
            report.checks.push(check(name, result));
        }
    }

    /// Batch-size invariance, statelessness across sessions, and determinism.
    fn properties(&mut self, standard: &[InputData], report: &mut KitReport) {
        let (harness, first) = (&self.harness, &self.first);
        let invariant = invariance(harness, standard, first, &mut self.ledger);
        report
            .checks
            .push(check("batch-size invariance", invariant));
        report.checks.push(check(
            "stateless",
            stateless(harness, standard, first, &mut self.ledger),
        ));
        let context_b = if self.options.context_dependent {
            first
        } else {
            &self.second
        };
        let same = determinism(harness, standard, first, context_b, &mut self.ledger);
        report.checks.push(check("determinism", same));
    }

    /// Each fixture case's output against its expected files.
    fn fixtures(&self, report: &mut KitReport) {
        let Some(dir) = &self.options.fixtures else {
            return;
        };
        match fixtures::cases(dir) {
            Ok(cases) => {
                for case in cases {
                    let name = format!(
                        "fixture {}",
                        case.file_name().unwrap_or_default().to_string_lossy()
                    );
                    let result = fixtures::check_case(&self.harness, self.info, &case, &self.first);
                    report.checks.push(check(&name, result));
                }
            }
            Err(e) => report.checks.push(check("fixtures", Err(e))),
        }
    }

    /// What every run above filed: traps, schema breaks, dropped logs, budgets.
    fn ledger_checks(&self, report: &mut KitReport) {
        let ledger = &self.ledger;
        let traps = first_or(
            &ledger.traps,
            "every call returned or failed with a typed error",
        );
        report.checks.push(check("no traps or limits", traps));
        let schemas = first_or(
            &ledger.contract,
            "every batch matched its declared output schema",
        );
        report.checks.push(check("output schemas", schemas));
        let log_lines = self.options.limits.log_lines;
        let logs = match ledger.logs_dropped {
            0 => Ok(format!("within {log_lines} lines per session")),
            dropped => Err(format!(
                "{dropped} log lines dropped past the limit of {log_lines} per session"
            )),
        };
        report.checks.push(check("log volume", logs));
        report.peak_memory_bytes = ledger.peak_memory as u64;
        let budgets = budgets(report.fuel_per_row, ledger.peak_memory, self.options);
        report.checks.push(check("budgets", budgets));
    }
}

fn first_or(failures: &[String], ok: &str) -> Result<String, String> {
    match failures.first() {
        None => Ok(ok.into()),
        Some(first) if failures.len() == 1 => Err(first.clone()),
        Some(first) => Err(format!("{first} (and {} more)", failures.len() - 1)),
    }
}

fn describe(info: &PluginInfo) -> Result<String, String> {
    if info.name.trim().is_empty() || info.name.contains(char::is_whitespace) {
        return Err(format!("name {:?} must be one non-empty word", info.name));
    }
    let semver = info
        .version
        .split('.')
        .take(3)
        .filter(|p| p.chars().take_while(char::is_ascii_digit).count() > 0)
        .count();
    if semver < 3 {
        return Err(format!(
            "version {:?} is not MAJOR.MINOR.PATCH",
            info.version
        ));
    }
    for (kind, names) in [
        (
            "input",
            info.inputs
                .iter()
                .map(|i| i.name.as_str())
                .collect::<Vec<_>>(),
        ),
        (
            "output",
            info.outputs
                .iter()
                .map(|o| o.name.as_str())
                .collect::<Vec<_>>(),
        ),
    ] {
        for (i, name) in names.iter().enumerate() {
            if name.is_empty() || names[..i].contains(name) {
                return Err(format!("{kind} name {name:?} is empty or repeated"));
            }
        }
    }
    if info.outputs.iter().any(|o| o.name == "rejects") {
        return Err("output `rejects` is reserved for the host".into());
    }
    Ok(format!(
        "{} input(s), {} output(s), contract {}",
        info.inputs.len(),
        info.outputs.len(),
        info.contract_version
    ))
}

/// Synthetic inputs for every declared input; `every_type` adds a column of each type
/// where the input takes extra columns.
fn generated(
    info: &PluginInfo,
    columns: &BTreeMap<String, Vec<Field>>,
    rows: usize,
    fill: Fill,
    every_type: bool,
) -> Result<Vec<InputData>, String> {
    info.inputs
        .iter()
        .map(|input| {
            let mut fields = columns
                .get(&input.name)
                .cloned()
                .unwrap_or_else(|| generate::fields_for(input));
            if every_type && input.extra_columns {
                fields.extend(generate::every_type_fields());
            }
            generate::input(&input.name, fields, rows, fill)
        })
        .collect()
}

fn invariance(
    harness: &Harness,
    inputs: &[InputData],
    context: &RunContext,
    ledger: &mut Ledger,
) -> Result<String, String> {
    let mut reference: Option<(usize, Vec<u8>)> = None;
    for rows in SPLITS.iter().rev() {
        let split: Vec<InputData> = inputs.iter().map(|i| i.rebatched(*rows)).collect();
        let result = harness.run(&split, context, 1);
        ledger
            .file(&result)
            .map_err(|e| format!("with batches of {rows}: {e}"))?;
        let Ok(out) = result else {
            return Ok("skipped: the standard input is refused with a typed error".into());
        };
        let print = out.fingerprint();
        match &reference {
            None => reference = Some((*rows, print)),
            Some((base, expected)) if *expected != print => {
                return Err(format!(
                    "output with batches of {rows} rows differs from batches of {base} rows"
                ));
            }
            Some(_) => {}
        }
    }
    Ok(format!("identical output with batches of {SPLITS:?} rows"))
}

/// A plugin that declares `stateful = false` promises that each batch's output depends on
/// that batch alone, so the host may give batches to separate instances: each batch in a
/// fresh session must give what one session gives over all of them.
fn stateless(
    harness: &Harness,
    inputs: &[InputData],
    context: &RunContext,
    ledger: &mut Ledger,
) -> Result<String, String> {
    const ROWS: usize = 1000;
    if harness.info.stateful {
        return Ok("declared stateful: every batch goes to one instance, in order".into());
    }
    let [input] = inputs else {
        return Ok("skipped: a plugin with several inputs is given them in one session".into());
    };
    let split = input.rebatched(ROWS);
    let whole = harness.run(std::slice::from_ref(&split), context, 1);
    ledger.file(&whole)?;
    let Ok(whole) = whole else {
        return Ok("skipped: the standard input is refused with a typed error".into());
    };
    let mut parts = Vec::new();
    let mut offset = 0;
    for batch in &split.batches {
        let alone = InputData {
            batches: vec![batch.clone()],
            ..split.clone()
        };
        let result = harness.run(&[alone], context, 1);
        ledger.file(&result)?;
        let out = result.map_err(|e| {
            format!("a batch alone is refused, though not within the whole input: {e}")
        })?;
        parts.push((offset, out));
        offset += batch.num_rows() as u64;
    }
    if parts.is_empty() || RunOutput::joined(parts).fingerprint() == whole.fingerprint() {
        Ok(format!("declared stateless, and batches of {ROWS} rows in separate sessions give one session's output"))
    } else {
        Err(format!(
            "declared stateless, but batches of {ROWS} rows in separate sessions give other output than one session: \
             it keeps state across batches (declare it with `stateful`)"
        ))
    }
}

/// A stateless plugin's output on four instances, as `sluice run` pools it, against one
/// session's: batches of 1000 rows dealt round-robin, outputs in batch order.
fn instances(
    harness: &Harness,
    inputs: &[InputData],
    context: &RunContext,
    ledger: &mut Ledger,
) -> Result<String, String> {
    let [input] = inputs else {
        return Ok(String::new());
    };
    if harness.info.stateful {
        return Ok(String::new());
    }
    let batched = [input.rebatched(1000)];
    let one_batched = harness.run(&batched, context, 1);
    let four = harness.run_on(&batched, context, 1, 4);
    ledger.file(&one_batched)?;
    ledger.file(&four)?;
    match (one_batched, four) {
        (Ok(x), Ok(y)) if x.fingerprint() == y.fingerprint() => {
            Ok(", and from 1 and 4 instances".into())
        }
        (Ok(_), Ok(_)) => Err(
            "4 instances gave other bytes than 1: the output depends on how batches are dealt out"
                .into(),
        ),
        _ => Ok(String::new()),
    }
}

fn determinism(
    harness: &Harness,
    inputs: &[InputData],
    a: &RunContext,
    b: &RunContext,
    ledger: &mut Ledger,
) -> Result<String, String> {
    let first = harness.run(inputs, a, 1);
    let second = harness.run(inputs, b, 2);
    ledger.file(&first)?;
    ledger.file(&second)?;
    match (first, second) {
        (Ok(x), Ok(y)) if x.fingerprint() == y.fingerprint() => {
            let pooled = instances(harness, inputs, a, ledger)?;
            Ok(format!("identical bytes from two runs with different clocks, run ids and random seeds{pooled}"))
        }
        (Ok(_), Ok(_)) => Err("two runs gave different output: it depends on the clock, randomness or the run context".into()),
        _ => Ok("skipped: the standard input is refused with a typed error".into()),
    }
}

fn budgets(
    fuel_per_row: Option<f64>,
    peak_memory: usize,
    options: &KitOptions,
) -> Result<String, String> {
    let peak_mib = peak_memory as f64 / (1 << 20) as f64;
    let summary = format!(
        "{} per row, peak memory {peak_mib:.1} MiB",
        fuel_per_row
            .map(|f| format!("{f:.1} fuel"))
            .unwrap_or_else(|| "no fuel measured".into())
    );
    if let (Some(max), Some(actual)) = (options.max_fuel_per_row, fuel_per_row) {
        if actual > max {
            return Err(format!(
                "{actual:.1} fuel per row is over the threshold of {max}"
            ));
        }
    }
    if let Some(max) = options.max_memory_mib {
        if peak_mib > max as f64 {
            return Err(format!(
                "peak memory {peak_mib:.1} MiB is over the threshold of {max} MiB"
            ));
        }
    }
    Ok(summary)
}
