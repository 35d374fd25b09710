//! Writing plugins: Python plugins in the sandbox (the hostile Python testbed caught by the
//! check or limit meant for each misdeed, with its traceback), the Python date cleanup
//! giving the Rust one's output, and `sluice plugin new` projects in both languages that
//! build and pass `sluice plugin test` as they are.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use sluice_core::plugin::SessionLimits;
use sluice_kit::{run_kit, KitOptions, KitReport};
use sluice_tests::{cache_dir, read_parquet, repo, Scratch};

/// The Python guests built by build.rs (`guests/testbed-py`, `plugins/date-cleanup-py`).
const TESTBED_PY: &str = env!("SLUICE_TESTBED_PY_WASM");
const DATE_CLEANUP_PY: &str = env!("SLUICE_DATE_CLEANUP_PY_WASM");

fn kit(config: &str, limits: SessionLimits) -> KitReport {
    let options = KitOptions {
        config: config.into(),
        limits,
        cache_dir: Some(cache_dir()),
        bundled: sluice::cli::bundled(),
        ..KitOptions::default()
    };
    run_kit(TESTBED_PY, &options).expect("the Python testbed loads")
}

/// Asserts that `check` failed with every one of `reasons` in its detail.
fn caught_by(report: &KitReport, check: &str, reasons: &[&str]) {
    let detail = &report
        .check(check)
        .unwrap_or_else(|| panic!("no check {check}:\n{report}"))
        .detail;
    assert!(
        !report.check(check).unwrap().passed,
        "{check} should fail:\n{report}"
    );
    for reason in reasons {
        assert!(
            detail.contains(reason),
            "{check}: {detail:?} lacks {reason:?}\n{report}"
        );
    }
}

#[test]
fn an_honest_python_plugin_passes_the_kit() {
    let report = kit(r#"{"mode": "pass"}"#, SessionLimits::default());
    assert!(report.passed(), "{report}");
}

#[test]
fn python_infinite_loop_is_stopped_by_the_call_timeout() {
    let limits = SessionLimits {
        call_timeout: Duration::from_millis(500),
        ..SessionLimits::default()
    };
    caught_by(
        &kit(r#"{"mode": "loop"}"#, limits),
        "no traps or limits",
        &["call timeout of 0.5 s"],
    );
}

#[test]
fn python_memory_bomb_is_stopped_by_the_memory_cap() {
    let limits = SessionLimits {
        memory_bytes: 256 << 20,
        ..SessionLimits::default()
    };
    caught_by(
        &kit(r#"{"mode": "alloc"}"#, limits),
        "no traps or limits",
        &["memory cap of 256 MiB"],
    );
}

#[test]
fn an_uncaught_python_exception_fails_with_its_traceback() {
    let report = kit(r#"{"mode": "panic"}"#, SessionLimits::default());
    caught_by(
        &report,
        "standard input",
        &["Traceback (most recent call last)", "app.py", "push"],
    );
}

#[test]
fn python_wrong_output_schema_is_caught() {
    let report = kit(r#"{"mode": "wrong-schema"}"#, SessionLimits::default());
    caught_by(
        &report,
        "output schemas",
        &["output `rows` does not match its declared schema"],
    );
}

#[test]
fn python_clock_and_randomness_are_caught_by_determinism() {
    let report = kit(r#"{"mode": "clock"}"#, SessionLimits::default());
    caught_by(&report, "determinism", &["two runs gave different output"]);
    let report = kit(r#"{"mode": "random"}"#, SessionLimits::default());
    caught_by(&report, "determinism", &["two runs gave different output"]);
}

#[test]
fn python_huge_output_hits_the_output_cap() {
    let limits = SessionLimits {
        output_bytes_per_call: 1 << 20,
        ..SessionLimits::default()
    };
    caught_by(
        &kit(r#"{"mode": "huge-output", "count": 200}"#, limits),
        "no traps or limits",
        &["output cap of 1 MiB per call"],
    );
}

#[test]
fn python_log_flood_is_caught_by_log_volume() {
    let limits = SessionLimits {
        log_lines: 50,
        ..SessionLimits::default()
    };
    caught_by(
        &kit(r#"{"mode": "log-flood", "count": 100}"#, limits),
        "log volume",
        &["dropped past the limit of 50"],
    );
}

#[test]
fn python_batch_dependence_is_caught() {
    caught_by(
        &kit(r#"{"mode": "batch-dependent"}"#, SessionLimits::default()),
        "batch-size invariance",
        &["differs from batches of"],
    );
}

#[test]
fn python_undeclared_state_is_caught_by_the_stateless_check() {
    caught_by(
        &kit(r#"{"mode": "running-count"}"#, SessionLimits::default()),
        "stateless",
        &["keeps state across batches"],
    );
}

#[test]
fn the_python_date_cleanup_passes_the_rust_ones_fixtures() {
    let options = KitOptions {
        fixtures: Some(repo("plugins/date-cleanup/fixtures")),
        cache_dir: Some(cache_dir()),
        bundled: sluice::cli::bundled(),
        ..KitOptions::default()
    }
    .with_kit_file(&repo("plugins/date-cleanup/kit.json"))
    .unwrap();
    let report = run_kit(DATE_CLEANUP_PY, &options).unwrap();
    assert!(report.passed(), "{report}");
}

/// Runs one table with each date-cleanup plugin and compares what pyarrow reads back:
/// rows, schema and rejects, and the report's counters.
fn same_output_as_rust(input: &str, types: &str, config: &str) {
    let s = Scratch::new();
    let mut outputs = Vec::new();
    for (name, plugin) in [
        ("rust", "date-cleanup".to_string()),
        ("python", DATE_CLEANUP_PY.to_string()),
    ] {
        let pipeline = format!(
            "[tables.t]\nplugin = {plugin:?}\ninput = {{ path = {input:?}, types = {types} }}\n\
             output = {{ location = \"out/{name}\" }}\n[tables.t.config]\n{config}\n"
        );
        let outcome = s.run_named(&format!("{name}.toml"), &pipeline, &[]);
        assert_eq!(outcome.code, 0, "{name}: {}", outcome.report);
        let rows = read_parquet(&s.path(&format!("out/{name}/current/rows.parquet")));
        let rejects = s.path(&format!("out/{name}/current/rejects.parquet"));
        let rejects = rejects
            .exists()
            .then(|| read_parquet(&rejects).rows().clone());
        outputs.push((
            rows.columns(),
            rows.rows().clone(),
            rejects,
            outcome.table()["plugin_counters"].clone(),
        ));
    }
    let (python, rust) = (outputs.pop().unwrap(), outputs.pop().unwrap());
    assert_eq!(python.0, rust.0, "schemas differ");
    assert_eq!(python.1.len(), rust.1.len(), "row counts differ");
    for (i, (p, r)) in python.1.iter().zip(&rust.1).enumerate() {
        assert_eq!(p, r, "row {i} differs");
    }
    assert_eq!(python.2, rust.2, "rejects differ");
    assert_eq!(python.3, rust.3, "counters differ");
}

#[test]
fn the_python_date_cleanup_matches_the_rust_one_on_pipeline_002() {
    same_output_as_rust(
        &repo("examples/retail/data/shipment_deliveries.csv")
            .display()
            .to_string(),
        r#"{ shipment_date = "utf8", delivery_date = "utf8" }"#,
        "columns.shipment_date = { formats = [\"YYYY-MM-DD\"], invalid = \"reject\" }\n\
         columns.delivery_date = { formats = [\"YYYY-MM-DD\"], invalid = \"reject\" }",
    );
}

#[test]
fn the_python_date_cleanup_matches_the_rust_one_on_transform_b() {
    // 20,000 rows of SPEC.md transform B, made by `bench/gen.py --workload shipments --rows 20000`.
    same_output_as_rust(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/dates/shipments_20k.csv.gz").display().to_string(),
        r#"{ shipment_id = "int64", order_id = "int64", shipment_date = "utf8", delivery_date = "utf8", carrier = "utf8", status = "utf8", weight_kg = "float64" }"#,
        "null_tokens = [\"\", \"NaN\", \"null\"]\nsentinels = [\"1900-01-01\"]\n\
         late = [{ name = \"is_late\", later = \"delivery_date\", earlier = \"shipment_date\", more_than_days = 5 }]\n\
         columns.shipment_date = { formats = [\"YYYY-MM-DD\", \"DD/MM/YYYY\", \"YYYY-MM-DD HH:MM:SS\"] }\n\
         columns.delivery_date = { formats = [\"YYYY-MM-DD\", \"DD/MM/YYYY\", \"YYYY-MM-DD HH:MM:SS\"] }",
    );
}

/// `sluice plugin ...` as a child process, from `dir`, with no checkout on its path.
fn sluice(dir: &Path, args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sluice-cli"));
    cmd.args(args)
        .env("SLUICE_CACHE_DIR", cache_dir())
        .current_dir(dir);
    // Arrow for wasm32 is already compiled in the guests' target folder: reuse it.
    cmd.env(
        "CARGO_TARGET_DIR",
        Path::new(env!("SLUICE_TESTBED_WASM"))
            .ancestors()
            .nth(3)
            .unwrap(),
    );
    let venv_tool = repo(".venv-moto/bin/componentize-py");
    if std::env::var_os("SLUICE_COMPONENTIZE_PY").is_none() && venv_tool.exists() {
        cmd.env("SLUICE_COMPONENTIZE_PY", venv_tool);
    }
    cmd.output().expect("running sluice")
}

fn new_project_passes_the_kit(lang: &str) {
    let dir = tempfile::tempdir().unwrap();
    let created = sluice(dir.path(), &["plugin", "new", "demo", "--lang", lang]);
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let project = dir.path().join("demo");
    let text = |o: &std::process::Output| {
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };
    let tested = sluice(&project, &["plugin", "test", "."]);
    assert!(tested.status.success(), "{}", text(&tested));
    let out = text(&tested);
    assert!(
        out.contains("fixture basic") && out.contains("result: ") && !out.contains("FAIL"),
        "{out}"
    );
    let built = sluice(&project, &["plugin", "build"]);
    assert!(built.status.success(), "{}", text(&built));
    let out = text(&built);
    assert!(
        out.contains("sha256: ") && out.contains("demo 0.1.0") && out.contains("input  `rows`"),
        "{out}"
    );
}

#[test]
fn a_new_rust_project_builds_and_passes_the_kit() {
    new_project_passes_the_kit("rust");
}

#[test]
fn a_new_python_project_builds_and_passes_the_kit() {
    new_project_passes_the_kit("python");
}
