//! Tables of one pipeline run side by side, up to `--jobs` at once: each table is already
//! three threads (reader, plugin, writer), so on N cores N tables keep every core busy
//! where one table alone could not. Each still takes its own lock; reports come back in
//! the pipeline's table order whatever finished first, and the files a table writes do
//! not depend on what ran beside it.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::run::TableReport;
use crate::table::TableSpec;

/// One selected table, ready to run.
pub(super) struct Job<'a> {
    pub name: &'a str,
    pub spec: &'a TableSpec,
    pub batch_rows: Option<usize>,
}

/// Runs `jobs` on up to `workers` threads with `run`, in order of the list as threads
/// free up; with `fail_fast`, no job starts after one failed. Reports in list order.
pub(super) fn run_jobs(
    jobs: &[Job],
    workers: usize,
    fail_fast: bool,
    run: &(dyn Fn(&Job) -> Vec<TableReport> + Sync),
) -> Vec<TableReport> {
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let done: Mutex<Vec<Option<Vec<TableReport>>>> =
        Mutex::new(jobs.iter().map(|_| None).collect());
    let work = || loop {
        let index = next.fetch_add(1, Ordering::SeqCst);
        if index >= jobs.len() || stop.load(Ordering::SeqCst) {
            return;
        }
        let reports = run(&jobs[index]);
        if fail_fast && reports.iter().any(|r| r.error.is_some()) {
            stop.store(true, Ordering::SeqCst);
        }
        done.lock().expect("no worker panics holding it")[index] = Some(reports);
    };
    std::thread::scope(|scope| {
        for _ in 1..workers.clamp(1, jobs.len().max(1)) {
            scope.spawn(work);
        }
        work();
    });
    let done = done.into_inner().expect("workers are done");
    done.into_iter().flatten().flatten().collect()
}

/// Whether some table reads what another writes (its input path starts with the other's
/// output location): those must run one after another, in the pipeline's order.
pub(super) fn chained(jobs: &[Job]) -> Option<(String, String)> {
    for reader in jobs {
        let inputs = reader.spec.input_paths();
        for writer in jobs.iter().filter(|w| w.name != reader.name) {
            let location = writer.spec.output.location.trim_end_matches('/');
            if inputs.iter().any(|p| p.starts_with(location)) {
                return Some((reader.name.to_string(), writer.name.to_string()));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(input: &str, location: &str) -> TableSpec {
        toml::from_str(&format!(
            "plugin = \"passthrough\"\ninput = {{ path = \"{input}\" }}\noutput = {{ location = \"{location}\" }}\n"
        ))
        .unwrap()
    }

    fn jobs<'a>(names: &[&'a str], specs: &'a [TableSpec]) -> Vec<Job<'a>> {
        let job = |(name, spec)| Job {
            name,
            spec,
            batch_rows: Some(1),
        };
        names.iter().copied().zip(specs).map(job).collect()
    }

    #[test]
    fn reports_keep_the_list_order_and_fail_fast_stops_new_jobs() {
        let specs = [
            spec("a.csv", "out/a"),
            spec("b.csv", "out/b"),
            spec("c.csv", "out/c"),
        ];
        let jobs = jobs(&["a", "b", "c"], &specs);
        let slow_first = |job: &Job| {
            if job.name == "a" {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            vec![TableReport::new(job.name)]
        };
        let names =
            |reports: Vec<TableReport>| reports.into_iter().map(|r| r.table).collect::<Vec<_>>();
        assert_eq!(
            names(run_jobs(&jobs, 3, false, &slow_first)),
            ["a", "b", "c"]
        );
        let failing = |job: &Job| {
            let mut report = TableReport::new(job.name);
            report.error = Some("boom".into());
            vec![report]
        };
        assert_eq!(names(run_jobs(&jobs, 1, true, &failing)), ["a"]);
    }

    #[test]
    fn a_table_reading_another_ones_output_is_chained() {
        let specs = [spec("out/a/rows.parquet", "out/b"), spec("in.csv", "out/a")];
        let jobs = jobs(&["b", "a"], &specs);
        assert_eq!(chained(&jobs), Some(("b".into(), "a".into())));
        assert_eq!(chained(&jobs[1..]), None);
    }
}
