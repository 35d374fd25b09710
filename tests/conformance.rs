//! The conformance kit: the plugins we ship pass it, and every hostile plugin is caught by
//! the check or limit meant for it (so every check is shown able to fail).

use std::path::PathBuf;
use std::time::Duration;

use sluice_core::plugin::SessionLimits;
use sluice_kit::{run_kit, KitOptions, KitReport};
use sluice_tests::{cache_dir, EXIT_PLUGIN, TESTBED_WASM};

fn kit(plugin: &str, config: &str, limits: SessionLimits) -> KitReport {
    let options = KitOptions {
        config: config.into(),
        limits,
        cache_dir: Some(cache_dir()),
        bundled: sluice::cli::bundled(),
        ..KitOptions::default()
    };
    run_kit(plugin, &options).expect("plugin loads")
}

/// Asserts that exactly `check` failed, with `reason` in its detail.
fn caught_by(report: &KitReport, check: &str, reason: &str) {
    let failed: Vec<&str> = report.failed().map(|c| c.name.as_str()).collect();
    assert!(failed.contains(&check), "{check} should fail:\n{report}");
    let detail = &report.check(check).unwrap().detail;
    assert!(
        detail.contains(reason),
        "{check}: {detail:?} lacks {reason:?}\n{report}"
    );
}

fn fixtures(dir: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(dir)
}

/// Every plugin bundled in the binary, with the fixtures in `plugins/<name>/fixtures/` and
/// the kit file `plugins/<name>/kit.json` where there is one.
#[test]
fn every_shipped_plugin_passes_with_its_fixtures() {
    let names = sluice::cli::bundled().names();
    for expected in [
        "passthrough",
        "date-cleanup",
        "resample",
        "retail-aggregates",
        "export-delta",
        "normalise",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} is not bundled: {names:?}"
        );
    }
    for name in names {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../plugins")
            .join(name);
        let dir = root.join("fixtures");
        let mut options = KitOptions {
            fixtures: dir.exists().then_some(dir),
            cache_dir: Some(cache_dir()),
            bundled: sluice::cli::bundled(),
            ..KitOptions::default()
        };
        if root.join("kit.json").exists() {
            options = options.with_kit_file(&root.join("kit.json")).unwrap();
        }
        let report = run_kit(name, &options).unwrap();
        assert!(report.passed(), "{report}");
        if name == "passthrough" {
            assert!(
                report.check("fixture select").is_some_and(|c| c.passed),
                "{report}"
            );
        }
    }
}

#[test]
fn the_kit_runs_every_check() {
    let options = KitOptions {
        cache_dir: Some(cache_dir()),
        bundled: sluice::cli::bundled(),
        ..KitOptions::default()
    };
    let report = run_kit("passthrough", &options).unwrap();
    assert!(report.passed(), "{report}");
    let names: Vec<&str> = report.checks.iter().map(|c| c.name.as_str()).collect();
    for expected in [
        "describe",
        "standard input",
        "empty input",
        "header-only input",
        "all-null columns",
        "very long strings",
        "every accepted type",
        "batch-size invariance",
        "stateless",
        "determinism",
        "no traps or limits",
        "output schemas",
        "log volume",
        "budgets",
    ] {
        assert!(
            names.contains(&expected),
            "missing check {expected}: {names:?}"
        );
    }
    let fuel = report.fuel_per_row.expect("fuel is measured");
    assert!(fuel > 0.0, "{report}");
    assert!(report.peak_memory_bytes > 0, "{report}");
}

#[test]
fn a_fixture_that_differs_names_the_row_and_column() {
    let options = KitOptions {
        fixtures: Some(fixtures("kit-bad")),
        cache_dir: Some(cache_dir()),
        bundled: sluice::cli::bundled(),
        ..KitOptions::default()
    };
    let report = run_kit("passthrough", &options).unwrap();
    caught_by(
        &report,
        "fixture wrong-value",
        "row 2 column `alpha`: got Some(\"2\"), expected Some(\"3\")",
    );
}

#[test]
fn budgets_gate_fuel_and_memory() {
    let options = KitOptions {
        max_fuel_per_row: Some(1.0),
        cache_dir: Some(cache_dir()),
        bundled: sluice::cli::bundled(),
        ..KitOptions::default()
    };
    caught_by(
        &run_kit("passthrough", &options).unwrap(),
        "budgets",
        "fuel per row is over the threshold of 1",
    );
    let options = KitOptions {
        max_memory_mib: Some(0),
        cache_dir: Some(cache_dir()),
        bundled: sluice::cli::bundled(),
        ..KitOptions::default()
    };
    caught_by(
        &run_kit("passthrough", &options).unwrap(),
        "budgets",
        "over the threshold of 0 MiB",
    );
}

#[test]
fn an_honest_test_plugin_passes() {
    let report = kit(
        TESTBED_WASM,
        r#"{"mode": "pass"}"#,
        SessionLimits::default(),
    );
    assert!(report.passed(), "{report}");
}

#[test]
fn infinite_loop_is_stopped_by_the_call_timeout() {
    let limits = SessionLimits {
        call_timeout: Duration::from_millis(100),
        ..SessionLimits::default()
    };
    let report = kit(TESTBED_WASM, r#"{"mode": "loop"}"#, limits);
    caught_by(
        &report,
        "no traps or limits",
        "ran past the limit of call timeout of 0.1 s",
    );
}

#[test]
fn memory_bomb_is_stopped_by_the_memory_cap() {
    let limits = SessionLimits {
        memory_bytes: 64 << 20,
        ..SessionLimits::default()
    };
    let report = kit(TESTBED_WASM, r#"{"mode": "alloc"}"#, limits);
    caught_by(&report, "no traps or limits", "memory cap of 64 MiB");
}

#[test]
fn panic_is_reported_as_a_trap() {
    let report = kit(
        TESTBED_WASM,
        r#"{"mode": "panic"}"#,
        SessionLimits::default(),
    );
    caught_by(
        &report,
        "no traps or limits",
        "trapped in push of batch 1 of input `rows`",
    );
}

#[test]
fn wrong_output_schema_is_caught() {
    let report = kit(
        TESTBED_WASM,
        r#"{"mode": "wrong-schema"}"#,
        SessionLimits::default(),
    );
    caught_by(
        &report,
        "output schemas",
        "output `rows` does not match its declared schema",
    );
}

#[test]
fn reading_the_clock_or_randomness_is_caught_by_determinism() {
    // The clock is frozen for a whole run, so only a second run tells.
    let report = kit(
        TESTBED_WASM,
        r#"{"mode": "clock"}"#,
        SessionLimits::default(),
    );
    caught_by(&report, "determinism", "two runs gave different output");
    assert_eq!(
        report.failed().count(),
        1,
        "only determinism should fail:\n{report}"
    );
    // Fresh random state per batch also makes the output depend on batch boundaries.
    let report = kit(
        TESTBED_WASM,
        r#"{"mode": "random"}"#,
        SessionLimits::default(),
    );
    caught_by(&report, "determinism", "two runs gave different output");
}

#[test]
fn output_that_depends_on_batch_boundaries_is_caught() {
    let report = kit(
        TESTBED_WASM,
        r#"{"mode": "batch-dependent"}"#,
        SessionLimits::default(),
    );
    caught_by(&report, "batch-size invariance", "differs from batches of");
}

#[test]
fn huge_output_hits_the_output_cap() {
    let limits = SessionLimits {
        output_bytes_per_call: 1 << 20,
        ..SessionLimits::default()
    };
    let report = kit(
        TESTBED_WASM,
        r#"{"mode": "huge-output", "count": 200}"#,
        limits,
    );
    caught_by(
        &report,
        "no traps or limits",
        "output cap of 1 MiB per call",
    );
}

#[test]
fn log_flood_is_caught_by_log_volume() {
    let limits = SessionLimits {
        log_lines: 50,
        ..SessionLimits::default()
    };
    let report = kit(
        TESTBED_WASM,
        r#"{"mode": "log-flood", "count": 100}"#,
        limits,
    );
    caught_by(
        &report,
        "log volume",
        "log lines dropped past the limit of 50 per session",
    );
}

#[test]
fn the_command_line_exits_non_zero_on_failure() {
    let cache = cache_dir().display().to_string();
    assert_eq!(
        sluice::cli::main([
            "sluice",
            "plugin",
            "test",
            "passthrough",
            "--cache-dir",
            &cache
        ]),
        0
    );
    let code = sluice::cli::main([
        "sluice",
        "plugin",
        "test",
        TESTBED_WASM,
        "--config",
        r#"{"mode":"panic"}"#,
        "--cache-dir",
        &cache,
    ]);
    assert_eq!(code, EXIT_PLUGIN);
}

#[test]
fn a_fixture_may_expect_parquet() {
    // Expected output as Parquet, written by a real run of the plugin.
    let s = sluice_tests::Scratch::new();
    s.write("case/input/rows.csv", "a,b\n1,x\n2,\n");
    let pipeline = format!(
        "[tables.t]\nplugin = \"passthrough\"\ninput = {{ path = {:?} }}\noutput = {{ location = \"run\" }}\n",
        s.path("case/input/rows.csv").display().to_string()
    );
    assert_eq!(s.run(&pipeline, &[]).code, 0);
    let written = std::fs::read(s.path("run/current/rows.parquet")).unwrap();
    s.write("case/expected/rows.parquet", written);
    std::fs::remove_dir_all(s.path("run")).unwrap();
    std::fs::remove_file(s.path("pipeline.toml")).unwrap();
    let _ = std::fs::remove_file(s.path("pipeline.toml.report.json"));
    let options = KitOptions {
        fixtures: Some(s.path("")),
        cache_dir: Some(cache_dir()),
        bundled: sluice::cli::bundled(),
        ..KitOptions::default()
    };
    let report = run_kit("passthrough", &options).unwrap();
    assert!(
        report
            .check("fixture case")
            .is_some_and(|c| c.passed && c.detail.contains("1 output(s) match")),
        "{report}"
    );
}

#[test]
fn undeclared_state_is_caught_by_the_stateless_check() {
    // Numbering rows across batches is batch-size invariant, so only running each batch in
    // its own session shows the state.
    let report = kit(
        TESTBED_WASM,
        r#"{"mode": "running-count"}"#,
        SessionLimits::default(),
    );
    caught_by(&report, "stateless", "keeps state across batches");
    // And four instances, as `sluice run` pools a stateless plugin, number other rows.
    caught_by(
        &report,
        "determinism",
        "4 instances gave other bytes than 1",
    );
    assert_eq!(
        report.failed().count(),
        2,
        "only the stateless and the instances checks should fail:\n{report}"
    );
}
