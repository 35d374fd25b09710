//! The plugin boundary: typed errors, rejects with their source line, output schema checks,
//! limits that turn runaway plugins into clean table errors, and the compiled-plugin cache.

use serde_json::json;
use sluice_core::plugin::{EngineOptions, PluginEngine, Session};
use sluice_tests::{
    cache_dir, read_parquet, rows, Scratch, EXIT_CONFIG, EXIT_DATA, EXIT_PLUGIN, TESTBED_WASM,
};

/// A one-table pipeline over `in.csv` with the testbed plugin configured by `config`.
fn testbed(config: &str, limits: &str) -> String {
    format!(
        "[tables.t]\nplugin = {TESTBED_WASM:?}\nconfig = {config}\ninput = {{ path = \"in.csv\" }}\n\
         output = {{ location = \"out/t\" }}\nlimits = {{ {limits} }}\n"
    )
}

const PEOPLE: &str = "id,name\n1,ann\n2,\"multi\nline\"\n3,bad\n4,bob\n5,bad\n";

#[test]
fn rejected_rows_go_to_rejects_with_source_file_and_line() {
    let s = Scratch::new();
    s.write("in.csv", PEOPLE);
    let out = s.run(
        &testbed(
            r#"{ mode = "reject", column = "name", equals = "bad" }"#,
            "",
        ),
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.report);
    assert_eq!(out.table()["rows_in"], 5);
    assert_eq!(out.table()["rows_out"], 3);
    assert_eq!(out.table()["rows_rejected"], 2);
    let kept = read_parquet(&s.path("out/t/current/rows.parquet"));
    assert_eq!(
        kept.rows(),
        &rows![[1, "ann"], [2, "multi\nline"], [4, "bob"]]
    );
    let rejects = read_parquet(&s.path("out/t/current/rejects.parquet"));
    assert_eq!(
        rejects.columns(),
        [
            "source_file: string",
            "source_line: uint64",
            "input: string",
            "column: string",
            "reason: string",
            "row: string"
        ]
    );
    let file = s.path("in.csv").display().to_string();
    assert_eq!(
        rejects.rows(),
        &rows![
            [
                file,
                5,
                "rows",
                "name",
                "value is on the reject list",
                "{\"id\":3,\"name\":\"bad\"}"
            ],
            [
                file,
                7,
                "rows",
                "name",
                "value is on the reject list",
                "{\"id\":5,\"name\":\"bad\"}"
            ],
        ]
    );
}

#[test]
fn rejects_keep_their_lines_across_batches() {
    let s = Scratch::new();
    s.write("in.csv", PEOPLE);
    let out = s.run(
        &testbed(
            r#"{ mode = "reject", column = "name", equals = "bad" }"#,
            "",
        ),
        &["--batch-rows", "2"],
    );
    assert_eq!(out.code, 0, "{}", out.report);
    let lines: Vec<_> = read_parquet(&s.path("out/t/current/rejects.parquet"))
        .rows()
        .iter()
        .map(|r| r[1].clone())
        .collect();
    assert_eq!(lines, vec![json!(5), json!(7)]);
}

#[test]
fn a_plugin_data_error_points_at_the_source_line() {
    let s = Scratch::new();
    s.write("in.csv", PEOPLE);
    let out = s.run(
        &testbed(
            r#"{ mode = "data-error", column = "name", equals = "bad" }"#,
            "",
        ),
        &["--batch-rows", "2"],
    );
    assert_eq!(out.code, EXIT_DATA, "{}", out.report);
    let error = out.error();
    assert!(
        error.contains("plugin testbed 0.1.0: data error in input `rows`"),
        "{error}"
    );
    assert!(
        error.contains("in.csv:5, column `name`: this value cannot be processed"),
        "{error}"
    );
    assert!(s.output_files().is_empty(), "{:?}", s.output_files());
}

#[test]
fn output_that_breaks_the_declared_schema_is_a_clean_error() {
    let s = Scratch::new();
    s.write("in.csv", PEOPLE);
    let out = s.run(&testbed(r#"{ mode = "wrong-schema" }"#, ""), &[]);
    assert_eq!(out.code, EXIT_PLUGIN, "{}", out.report);
    let error = out.error();
    assert!(
        error.contains("plugin testbed 0.1.0: output `rows` does not match its declared schema: expected 2 columns [\"id\", \"name\"], got 1 [\"surprise\"]"),
        "{error}"
    );
    assert!(s.output_files().is_empty(), "{:?}", s.output_files());
}

#[test]
fn a_bad_plugin_config_fails_before_any_data_moves() {
    let s = Scratch::new();
    s.write("in.csv", PEOPLE);
    let out = s.run(&testbed(r#"{ mode = "no-such-mode" }"#, ""), &[]);
    assert_eq!(out.code, EXIT_CONFIG, "{}", out.report);
    assert!(
        out.error()
            .contains("plugin testbed 0.1.0: bad config: invalid plugin config"),
        "{}",
        out.error()
    );
    assert_eq!(out.table()["rows_in"], 0);

    let passthrough = "[tables.t]\nplugin = \"passthrough\"\nconfig = { select = [\"nope\"] }\n\
                       input = { path = \"in.csv\" }\noutput = { location = \"out/t\" }\n";
    let out = s.run(passthrough, &[]);
    assert_eq!(out.code, EXIT_CONFIG);
    assert!(
        out.error().contains("select: no input column `nope`"),
        "{}",
        out.error()
    );
}

#[test]
fn a_hanging_plugin_hits_the_call_timeout() {
    let s = Scratch::new();
    s.write("in.csv", PEOPLE);
    let out = s.run(
        &testbed(r#"{ mode = "loop" }"#, "call_timeout_secs = 1"),
        &[],
    );
    assert_eq!(out.code, EXIT_PLUGIN, "{}", out.report);
    assert!(out.error().contains("plugin testbed 0.1.0: push of batch 1 of input `rows` ran past the limit of call timeout of 1 s"), "{}", out.error());
    assert!(s.output_files().is_empty());
}

#[test]
fn a_memory_bomb_hits_the_memory_cap() {
    let s = Scratch::new();
    s.write("in.csv", PEOPLE);
    let out = s.run(&testbed(r#"{ mode = "alloc" }"#, "memory_mib = 64"), &[]);
    assert_eq!(out.code, EXIT_PLUGIN, "{}", out.report);
    assert!(
        out.error()
            .contains("push of batch 1 of input `rows` ran past the limit of memory cap of 64 MiB"),
        "{}",
        out.error()
    );
    assert!(s.output_files().is_empty());
}

#[test]
fn a_panicking_plugin_is_a_trap_not_a_crash() {
    let s = Scratch::new();
    s.write("in.csv", PEOPLE);
    let out = s.run(&testbed(r#"{ mode = "panic" }"#, ""), &[]);
    assert_eq!(out.code, EXIT_PLUGIN, "{}", out.report);
    assert!(
        out.error()
            .contains("plugin testbed 0.1.0: trapped in push of batch 1 of input `rows`"),
        "{}",
        out.error()
    );
    // The panic message reaches the error through the plugin's log.
    assert!(
        out.error().contains("plugin panicked: ")
            && out.error().contains("testbed was told to panic"),
        "{}",
        out.error()
    );

    // Also when the panic happens in `open`, before any batch.
    let out = s.run(&testbed(r#"{ mode = "panic-in-open" }"#, ""), &[]);
    assert_eq!(out.code, EXIT_PLUGIN, "{}", out.report);
    assert!(
        out.error().contains("trapped in open: plugin panicked: "),
        "{}",
        out.error()
    );
    assert!(
        out.error().contains("testbed was told to panic in open"),
        "{}",
        out.error()
    );
}

#[test]
fn a_log_flood_is_cut_and_counted() {
    let s = Scratch::new();
    s.write("in.csv", PEOPLE);
    let out = s.run(
        &testbed(r#"{ mode = "log-flood", count = 5000 }"#, "log_lines = 100"),
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.report);
    assert_eq!(out.table()["plugin_logs_dropped"], 4900);
}

#[test]
fn describe_is_decoded_and_compiled_plugins_are_cached() {
    let dir = tempfile::tempdir().unwrap();
    let options = EngineOptions {
        cache_dir: Some(dir.path().to_path_buf()),
        bundled: sluice::cli::bundled(),
        ..EngineOptions::default()
    };
    let first = PluginEngine::new(options.clone()).unwrap();
    let plugin = first.load("passthrough").unwrap();
    assert!(!plugin.from_cache, "an empty cache cannot hit");
    let info = Session::describe(&first, &plugin).unwrap();
    assert_eq!(
        (info.name.as_str(), info.contract_version.as_str()),
        ("passthrough", "0.1.0")
    );
    assert_eq!(info.inputs[0].name, "rows");
    assert!(info.outputs[0].schema.is_none());
    let cached = compiled_entries(dir.path());
    assert_eq!(cached.len(), 1, "one compiled artifact: {cached:?}");
    assert!(cached[0]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .starts_with(&plugin.sha256));

    let second = PluginEngine::new(options).unwrap();
    assert!(
        second.load("passthrough").unwrap().from_cache,
        "a second engine must load the cached artifact"
    );
}

/// The compiled code files (`.cwasm`) in a cache folder, sorted.
fn compiled_entries(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "cwasm"))
        .collect();
    files.sort();
    files
}

#[test]
fn a_substituted_compiled_plugin_is_compiled_again_not_run() {
    let dir = tempfile::tempdir().unwrap();
    let options = EngineOptions {
        cache_dir: Some(dir.path().join("cache")),
        bundled: sluice::cli::bundled(),
        ..EngineOptions::default()
    };
    let engine = PluginEngine::new(options.clone()).unwrap();
    let (passthrough, testbed) = (
        engine.load("passthrough").unwrap(),
        engine.load(TESTBED_WASM).unwrap(),
    );
    let entry = |sha: &str| {
        compiled_entries(&dir.path().join("cache"))
            .into_iter()
            .find(|p| p.to_string_lossy().contains(sha))
            .unwrap()
    };
    // Another plugin's native code put in place of passthrough's.
    std::fs::copy(entry(&testbed.sha256), entry(&passthrough.sha256)).unwrap();

    let engine = PluginEngine::new(options.clone()).unwrap();
    let loaded = engine.load("passthrough").unwrap();
    assert!(
        !loaded.from_cache,
        "the substituted code must not be loaded"
    );
    assert_eq!(
        Session::describe(&engine, &loaded).unwrap().name,
        "passthrough"
    );
    // Compiled again and stored right: the next engine trusts it.
    assert!(
        PluginEngine::new(options)
            .unwrap()
            .load("passthrough")
            .unwrap()
            .from_cache
    );
}

#[test]
fn a_cache_folder_others_may_write_to_is_not_used() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let options = EngineOptions {
        cache_dir: Some(dir.path().to_path_buf()),
        bundled: sluice::cli::bundled(),
        ..EngineOptions::default()
    };
    for _ in 0..2 {
        assert!(
            !PluginEngine::new(options.clone())
                .unwrap()
                .load("passthrough")
                .unwrap()
                .from_cache
        );
    }
    assert!(
        compiled_entries(dir.path()).is_empty(),
        "nothing may be written to a shared folder"
    );
}

#[test]
fn inspect_and_unknown_plugins() {
    assert_eq!(
        sluice::cli::main(["sluice", "plugin", "inspect", "passthrough"]),
        0
    );
    assert_eq!(
        sluice::cli::main(["sluice", "plugin", "inspect", TESTBED_WASM, "--json"]),
        0
    );
    assert_eq!(
        sluice::cli::main(["sluice", "plugin", "inspect", "no-such-plugin"]),
        EXIT_CONFIG
    );
    let s = Scratch::new();
    s.write("in.csv", PEOPLE);
    let out = s.run(
        "[tables.t]\nplugin = \"missing.wasm\"\ninput = { path = \"in.csv\" }\noutput = { location = \"out/t\" }\n",
        &[],
    );
    assert_eq!(out.code, EXIT_CONFIG);
    assert!(
        out.error().contains("missing.wasm: cannot read"),
        "{}",
        out.error()
    );
}

#[test]
fn plugin_new_scaffolds_a_crate() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().display().to_string();
    assert_eq!(
        sluice::cli::main(["sluice", "plugin", "new", "word-count", "--dir", &target]),
        0
    );
    let root = dir.path().join("word-count");
    for file in [
        "Cargo.toml",
        "Cargo.lock",
        "rust-toolchain.toml",
        "src/lib.rs",
        "wit/sluice.wit",
        "vendor/sdk/Cargo.toml",
        "vendor/ipc/src/lib.rs",
        "fixtures/basic/input/rows.csv",
        "fixtures/basic/expected/rows.csv",
    ] {
        assert!(root.join(file).exists(), "missing {file}");
    }
    let lib = std::fs::read_to_string(root.join("src/lib.rs")).unwrap();
    assert!(
        lib.contains("struct WordCount") && lib.contains("export_plugin!(WordCount)"),
        "{lib}"
    );
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    // The SDK comes with the project, not from a checkout.
    assert!(
        manifest.contains("name = \"word-count\"") && manifest.contains("path = \"vendor/sdk\""),
        "{manifest}"
    );
    // A second run must not overwrite it; a bad name is refused.
    assert_eq!(
        sluice::cli::main(["sluice", "plugin", "new", "word-count", "--dir", &target]),
        EXIT_CONFIG
    );
    assert_eq!(
        sluice::cli::main(["sluice", "plugin", "new", "Bad Name", "--dir", &target]),
        EXIT_CONFIG
    );
}

#[test]
fn a_fuel_budget_stops_a_plugin_deterministically() {
    let s = Scratch::new();
    s.write("in.csv", PEOPLE);
    let out = s.run(
        &testbed(r#"{ mode = "loop" }"#, "fuel_per_call = 1000000"),
        &[],
    );
    assert_eq!(out.code, EXIT_PLUGIN, "{}", out.report);
    assert!(
        out.error()
            .contains("ran past the limit of fuel budget of 1000000 per call"),
        "{}",
        out.error()
    );

    let out = s.run(
        &testbed(r#"{ mode = "pass" }"#, "fuel_per_call = 100000000"),
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.report);
    assert!(
        out.table()["plugin_fuel"].as_u64().unwrap() > 0,
        "{}",
        out.report
    );
    assert!(out.table()["plugin_peak_memory_bytes"].as_u64().unwrap() > 0);
}

#[test]
fn the_plugin_clock_reads_the_run_time() {
    let s = Scratch::new();
    s.write("in.csv", PEOPLE);
    let out = s.run(&testbed(r#"{ mode = "clock" }"#, ""), &[]);
    assert_eq!(out.code, 0, "{}", out.report);
    let rows = read_parquet(&s.path("out/t/current/rows.parquet"));
    let clocks: std::collections::BTreeSet<i64> =
        rows.rows().iter().map(|r| r[2].as_i64().unwrap()).collect();
    assert_eq!(
        clocks.len(),
        1,
        "the clock must not move during a run: {clocks:?}"
    );
    let run_time = out.report["run_time"].as_str().unwrap().to_string();
    let seconds = *clocks.iter().next().unwrap() / 1_000_000;
    // run_time is RFC 3339; compare its whole seconds through the report's own format.
    let formatted = sluice_tests::rfc3339_seconds(seconds);
    assert!(
        run_time.starts_with(&formatted),
        "plugin clock {formatted} vs run time {run_time}"
    );
}

/// A stateless plugin on four instances writes the bytes one instance writes: outputs
/// put back in input order, rejects (the quality gate's and the plugin's) in theirs.
#[test]
fn four_plugin_instances_write_the_bytes_of_one() {
    let s = Scratch::new();
    // 20 batches of 500 rows; a plugin reject every 97 rows, a quality reject every 89.
    let mut csv = String::from("id,n\n");
    for i in 0..10_000 {
        let id = match i % 97 {
            3 => "bad".to_string(),
            _ => i.to_string(),
        };
        csv.push_str(&format!("{id},{}\n", i % 89));
    }
    s.write("in.csv", csv);
    let pipeline = format!(
        "[tables.t]\nplugin = \"{TESTBED_WASM}\"\nconfig = {{ mode = \"reject\", column = \"id\", equals = \"bad\" }}\n\
         output = {{ location = \"out/t\" }}\n\
         [tables.t.input]\npath = \"in.csv\"\ntypes = {{ id = \"utf8\" }}\n\
         [tables.t.input.quality]\nn = {{ max = 87 }}\n"
    );
    let run = |instances: &str| {
        let out = s.run(
            &pipeline,
            &[
                "--plugin-instances",
                instances,
                "--batch-rows",
                "500",
                "--run-id",
                "same",
            ],
        );
        assert_eq!(out.code, 0, "{}", out.report);
        // Rows with i % 97 == 3 or i % 89 == 88.
        assert_eq!(out.table()["rows_rejected"], 215, "{}", out.report);
        ["rows", "rejects"]
            .map(|f| std::fs::read(s.path(&format!("out/t/current/{f}.parquet"))).unwrap())
    };
    let one = run("1");
    let four = run("4");
    assert!(one == four, "the files differ with four instances");
}

/// Unless `--plugin-instances` fixes the count, a stateless plugin that holds the stream
/// back gets more instances as it runs (up to the cores), and the files are still the
/// bytes one instance writes. Run as a child process: whether a core goes unused is read
/// from the process's CPU time, which here would count every test running beside it.
#[test]
fn a_slow_stateless_plugin_grows_instances_and_writes_the_bytes_of_one() {
    let s = Scratch::new();
    let mut csv = String::from("id,n\n");
    for i in 0..2_000 {
        csv.push_str(&format!("{i},{}\n", i % 7));
    }
    s.write("in.csv", csv);
    // ~40 M loop turns a 100-row batch: the plugin, not the reader, is the slow stage.
    s.write(
        "pipeline.toml",
        format!(
            "[tables.t]\nplugin = \"{TESTBED_WASM}\"\nconfig = {{ mode = \"spin\", count = 40 }}\n\
             input = {{ path = \"in.csv\" }}\noutput = {{ location = \"out/t\" }}\n"
        ),
    );
    let run = |flags: &[&str]| {
        let report = s.path("report.json");
        let status = std::process::Command::new(env!("CARGO_BIN_EXE_sluice-cli"))
            .arg("run")
            .arg(s.path("pipeline.toml"))
            .args(["--progress", "never", "--log", "warn", "--report"])
            .arg(&report)
            .arg("--cache-dir")
            .arg(cache_dir())
            .args(["--batch-rows", "100", "--run-id", "same", "--force"])
            .args(flags)
            .status()
            .unwrap();
        let report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
        assert!(status.success(), "{report}");
        let table = &report["tables"][0];
        assert_eq!(table["rows_out"], 2_000, "{report}");
        let instances = table["plugin_instances"].as_u64().unwrap();
        let file = std::fs::read(s.path("out/t/current/rows.parquet")).unwrap();
        (instances, file)
    };
    let (one, pinned) = run(&["--plugin-instances", "1"]);
    let (grown, adaptive) = run(&[]);
    assert_eq!(one, 1);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
    match cores {
        1 => assert_eq!(grown, 1, "one core: no second instance"),
        _ => assert!(
            grown >= 2,
            "the slow plugin stayed on {grown} instance(s) of {cores}"
        ),
    }
    assert!(grown <= cores, "{grown} instances on {cores} cores");
    assert!(
        pinned == adaptive,
        "the files differ once instances are added"
    );
}

/// Every thread count writes the bytes of one thread: the CSV cut into chunks parsed on
/// four threads (past the inference sample, with quoted line breaks), the Parquet columns
/// encoded on four, the plugin on four instances, over several row groups.
#[test]
fn four_threads_write_the_bytes_of_one() {
    let s = Scratch::new();
    let mut csv = String::from("id,note,amount,day\n");
    for i in 0..150_000 {
        let note = match i % 7 {
            0 => "\"two\nlines, \"\"quoted\"\"\"".to_string(),
            1 => "bad".to_string(),
            _ => format!("note {}", i % 1000),
        };
        csv.push_str(&format!(
            "{i},{note},{}.{:02},2024-01-{:02}\n",
            i % 5000,
            i % 100,
            1 + i % 28
        ));
    }
    s.write("in.csv", csv);
    let pipeline = format!(
        "[tables.t]\nplugin = \"{TESTBED_WASM}\"\nconfig = {{ mode = \"reject\", column = \"note\", equals = \"bad\" }}\n\
         output = {{ location = \"out/t\", row_group_rows = 40000 }}\n\
         [tables.t.input]\npath = \"in.csv\"\n"
    );
    let run = |threads: &str| {
        let args = ["--threads", threads, "--plugin-instances", threads];
        let out = s.run(&pipeline, &[&args[..], &["--run-id", "same"]].concat());
        assert_eq!(out.code, 0, "{}", out.report);
        assert_eq!(
            out.table()["rows_rejected"],
            150_000 / 7 + 1,
            "{}",
            out.report
        );
        ["rows", "rejects"]
            .map(|f| std::fs::read(s.path(&format!("out/t/current/{f}.parquet"))).unwrap())
    };
    let one = run("1");
    let four = run("4");
    assert!(one == four, "the files differ with four threads");
    let rows = read_parquet(&s.path("out/t/current/rows.parquet"));
    assert_eq!(rows.rows().len(), 150_000 - (150_000 / 7 + 1));
    assert_eq!(rows.rows()[0][1], "two\nlines, \"quoted\"");
    let groups = sluice_tests::python_lines(
        "import sys, pyarrow.parquet as pq; print(pq.ParquetFile(sys.argv[1]).num_row_groups)",
        &[s.path("out/t/current/rows.parquet").as_os_str()],
    );
    assert_eq!(groups, ["4"], "128,571 rows in groups of 40,000");
}

/// 5,000 ids in `in.csv`, `boom` on line 3212, and a testbed table that fails with a data
/// error on it.
fn boom_on_line_3212() -> (Scratch, String) {
    let s = Scratch::new();
    let ids = (0..5_000).map(|i| match i {
        3_210 => "boom\n".to_string(),
        i => format!("{i}\n"),
    });
    s.write("in.csv", format!("id\n{}", ids.collect::<String>()));
    let pipeline = testbed(
        r#"{ mode = "data-error", column = "id", equals = "boom" }"#,
        "",
    );
    (s, pipeline)
}

/// A data error in one of four instances fails the table as one instance would: exit 3,
/// naming the file and line of the row the plugin blamed, and nothing is written.
#[test]
fn a_data_error_in_one_of_four_instances_names_its_line() {
    let (s, pipeline) = boom_on_line_3212();
    let out = s.run(
        &pipeline,
        &["--plugin-instances", "4", "--batch-rows", "100"],
    );
    assert_eq!(out.code, EXIT_DATA, "{}", out.report);
    assert!(out.error().contains("in.csv:3212"), "{}", out.error());
    assert!(s.data_files().is_empty(), "{:?}", s.data_files());
}

/// A split table's parts run side by side; one part's data error fails the run with its
/// row's line, as with one part at a time, and nothing is committed.
#[test]
fn a_data_error_in_a_split_part_names_its_line_whatever_the_sessions() {
    let (s, pipeline) = boom_on_line_3212();
    let pipeline = pipeline.replace(
        "location = \"out/t\"",
        "location = \"out/t\", mode = \"append\"",
    ) + "[tables.t.split]\nby = [\"id\"]\nparts = 6\n";
    for sessions in ["1", "3"] {
        let args = ["--plugin-instances", sessions, "--batch-rows", "100"];
        let out = s.run(&pipeline, &args);
        assert_eq!(out.code, EXIT_DATA, "{sessions}: {}", out.report);
        assert!(out.error().contains("in.csv:3212"), "{}", out.error());
        assert!(s.data_files().is_empty(), "{:?}", s.data_files());
    }
}
