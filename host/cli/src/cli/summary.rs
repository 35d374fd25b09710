//! The few lines a person reads at the end of a run on a terminal: each table's status,
//! rows in, out and rejected, time and outputs. Scripts read the JSON report instead.

use std::fmt::Write;

use sluice_core::pipeline::RunReport;
use sluice_core::run::{Status, TableReport};

/// The summary of a run, ready to print.
pub(crate) fn summary(report: &RunReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "run {} {} in {}",
        report.run_id,
        status(report.status),
        seconds(report.duration_ms)
    );
    if let Some(error) = &report.error {
        let _ = writeln!(out, "  error: {error}");
    }
    if !report.tables.is_empty() {
        let width = report
            .tables
            .iter()
            .map(|t| t.table.len())
            .max()
            .unwrap_or(5)
            .max(5);
        let _ = writeln!(
            out,
            "  {:width$}  {:12} {:>12} {:>12} {:>10} {:>8}  outputs",
            "table", "status", "rows in", "rows out", "rejected", "time"
        );
        for table in &report.tables {
            table_line(&mut out, table, width);
        }
    }
    for ingest in &report.ingests {
        let _ = writeln!(
            out,
            "  ingest {}: {}, {} copied, {} already there, {}",
            ingest.ingest,
            status(ingest.status),
            ingest.copied,
            ingest.skipped,
            seconds(ingest.duration_ms)
        );
        if let Some(error) = &ingest.error {
            let _ = writeln!(out, "    error: {error}");
        }
    }
    out
}

fn table_line(out: &mut String, t: &TableReport, width: usize) {
    let _ = writeln!(
        out,
        "  {:width$}  {:12} {:>12} {:>12} {:>10} {:>8}  {}",
        t.table,
        status(t.status),
        count(t.rows_in),
        count(t.rows_out),
        count(t.rows_rejected),
        seconds(t.duration_ms),
        outputs(t)
    );
    if let Some(error) = &t.error {
        let _ = writeln!(out, "  {:width$}  error: {error}", "");
    }
}

/// The folders the table wrote (one per output, partitions folded together).
fn outputs(t: &TableReport) -> String {
    let mut shown: Vec<String> = Vec::new();
    for o in &t.outputs {
        let path = match o.partition.is_empty() {
            true => o.path.clone(),
            false => {
                o.path
                    .split(&o.partition)
                    .next()
                    .unwrap_or(&o.path)
                    .to_string()
                    + "…"
            }
        };
        let path = through_link(&path);
        if !shown.contains(&path) {
            shown.push(path);
        }
    }
    shown.join(", ")
}

/// A local replace-mode file by the path readers use, through the `current` link
/// (`out/t/_sluice/generations/<id>/rows.parquet` as `out/t/current/rows.parquet`), which
/// stays right after the next run.
fn through_link(path: &str) -> String {
    let marker = "/_sluice/generations/";
    match path.split_once(marker) {
        Some((location, rest)) if !path.starts_with("s3://") => {
            let within = rest.split_once('/').map_or("", |(_, within)| within);
            format!("{location}/current/{within}")
        }
        _ => path.to_string(),
    }
}

fn status(status: Status) -> &'static str {
    match status {
        Status::Succeeded => "succeeded",
        Status::Failed => "FAILED",
        Status::AlreadyDone => "already done",
    }
}

fn count(n: u64) -> String {
    indicatif::HumanCount(n).to_string()
}

fn seconds(ms: u64) -> String {
    format!("{:.1} s", ms as f64 / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_core::run::OutputReport;

    #[test]
    fn one_line_per_table_with_counts_and_outputs() {
        let mut report = RunReport::new("r1", 0);
        report.duration_ms = 1500;
        let mut table = TableReport::new("orders");
        table.rows_in = 12_345;
        table.rows_out = 12_000;
        table.rows_rejected = 345;
        table.outputs.push(OutputReport {
            name: "rows".into(),
            path: "out/orders/_sluice/generations/20261202T161008.617796Z-85db43a1/rows.parquet"
                .into(),
            partition: String::new(),
            rows: 12_000,
            bytes: 1,
        });
        report.tables.push(table);
        let text = summary(&report);
        assert!(text.starts_with("run r1 succeeded in 1.5 s\n"), "{text}");
        assert!(
            text.contains("  orders  succeeded          12,345       12,000        345    0.0 s  out/orders/current/rows.parquet"),
            "{text}"
        );
    }
}
