//! The commit protocol on local folders: `mode = "append"` datasets, the table lock and the
//! version registry behave as on S3 (see s3.rs), so a pipeline can be tried without AWS.

use sluice_tests::{read_parquet, rows, Scratch, EXIT_IO};

fn append_pipeline(extra_output: &str) -> String {
    format!(
        "[tables.t]\nplugin = \"passthrough\"\ninput = {{ path = \"in/*.csv\" }}\n\
         output = {{ location = \"out/t\", mode = \"append\"{extra_output} }}\n"
    )
}

fn parquet_files(scratch: &Scratch) -> Vec<String> {
    scratch
        .output_files()
        .into_iter()
        .map(|p| {
            p.strip_prefix(scratch.path("out"))
                .unwrap()
                .display()
                .to_string()
        })
        .filter(|p| p.ends_with(".parquet"))
        .collect()
}

#[test]
fn append_mode_adds_one_unit_per_distinct_input_and_never_duplicates() {
    let scratch = Scratch::new();
    scratch.write("in/a.csv", "id\n1\n2\n");
    let first = scratch.run(&append_pipeline(""), &[]);
    assert_eq!(first.code, 0, "{}", first.report);
    let unit = first.table()["unit"].as_str().unwrap().to_string();
    assert_eq!(
        parquet_files(&scratch),
        [format!("t/rows/part-{unit}-00000.parquet")]
    );

    let again = scratch.run(&append_pipeline(""), &[]);
    assert_eq!(again.table()["status"], "already_done");
    assert_eq!(parquet_files(&scratch).len(), 1);

    // The same bytes delivered again (a new mtime) are the same unit: a local file is
    // identified by its content, not by its size and mtime.
    scratch.write("in/a.csv", "id\n1\n2\n");
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(scratch.path("in/a.csv"))
        .unwrap()
        .set_modified(later)
        .unwrap();
    let redelivered = scratch.run(&append_pipeline(""), &[]);
    assert_eq!(
        redelivered.table()["status"],
        "already_done",
        "{}",
        redelivered.report
    );
    assert_eq!(redelivered.table()["unit"], unit.as_str());
    assert_eq!(parquet_files(&scratch).len(), 1);

    // Another file in the input is other content: a new unit beside the first.
    scratch.write("in/b.csv", "id\n3\n");
    let grown = scratch.run(&append_pipeline(""), &[]);
    assert_eq!(grown.table()["status"], "succeeded");
    let files = parquet_files(&scratch);
    assert_eq!(files.len(), 2);
    let newest = files.iter().find(|f| !f.contains(&unit)).unwrap();
    assert_eq!(
        read_parquet(&scratch.path(&format!("out/{newest}"))).rows(),
        &rows!([1], [2], [3])
    );
    // The locks were released, and the state folder holds only commit records.
    let state: Vec<String> = scratch
        .output_files()
        .iter()
        .map(|p| p.display().to_string())
        .filter(|p| p.contains("_sluice/locks"))
        .collect();
    assert!(
        state
            .iter()
            .all(|p| p.ends_with(".lock") && p.contains("/.")),
        "only hidden flock files remain: {state:?}"
    );
}

fn json(scratch: &Scratch, path: &str) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(scratch.path(path)).unwrap()).unwrap()
}

/// A table whose commits named local files by SHA-256 (releases before BLAKE3) keeps
/// doing so: the same file is found committed, not appended again, whether the
/// location's record predates its `identity` field or predates the record itself. A new
/// table records BLAKE3.
#[test]
fn a_table_committed_with_sha256_identities_keeps_them() {
    use sha2::Digest;
    for record_kept in [true, false] {
        let scratch = Scratch::new();
        scratch.write("in/a.csv", "id\n1\n2\n");
        scratch.write(
            "out/t/_sluice/table.json",
            r#"{"tenant":"default","table":"t"}"#,
        );
        let first = scratch.run(&append_pipeline(""), &[]);
        assert_eq!(first.code, 0, "{}", first.report);
        let unit = first.table()["unit"].as_str().unwrap().to_string();
        let manifest = json(&scratch, &format!("out/t/_sluice/commits/{unit}.json"));
        let sha256 = hex::encode(sha2::Sha256::digest(b"id\n1\n2\n"));
        assert_eq!(manifest["inputs"][0][1][0][1], format!("sha256:{sha256}"));
        if !record_kept {
            std::fs::remove_file(scratch.path("out/t/_sluice/table.json")).unwrap();
        }

        let again = scratch.run(&append_pipeline(""), &[]);
        assert_eq!(again.table()["status"], "already_done", "{}", again.report);
        assert_eq!(again.table()["unit"], unit.as_str());
        assert_eq!(parquet_files(&scratch).len(), 1);

        scratch.write("in/b.csv", "id\n3\n");
        let grown = scratch.run(&append_pipeline(""), &[]);
        assert_eq!(grown.table()["status"], "succeeded", "{}", grown.report);
        assert_eq!(parquet_files(&scratch).len(), 2);
        let record = json(&scratch, "out/t/_sluice/table.json");
        let expected = if record_kept { None } else { Some("sha256") };
        assert_eq!(record["identity"].as_str(), expected, "{record}");
    }

    // Data files and no record, nor commits of Sluice's (an Iceberg table's snapshots
    // record unit ids only): SHA-256 too.
    let scratch = Scratch::new();
    scratch.write("in/a.csv", "id\n1\n2\n");
    scratch.write("out/t/rows/data/00000-old.parquet", "old");
    let iceberg_era = scratch.run(&append_pipeline(""), &[]);
    assert_eq!(iceberg_era.code, 0, "{}", iceberg_era.report);
    let record = json(&scratch, "out/t/_sluice/table.json");
    assert_eq!(record["identity"], "sha256", "{record}");

    let scratch = Scratch::new();
    scratch.write("in/a.csv", "id\n1\n2\n");
    let fresh = scratch.run(&append_pipeline(""), &[]);
    assert_eq!(fresh.code, 0, "{}", fresh.report);
    assert_eq!(
        json(&scratch, "out/t/_sluice/table.json")["identity"],
        "blake3"
    );
}

#[test]
fn run_date_partitions_use_the_run_time() {
    let scratch = Scratch::new();
    scratch.write("in/a.csv", "id\n1\n");
    let out = scratch.run(
        &append_pipeline(", partition = { by = \"run-date\", depth = \"month\" }"),
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.report);
    let run_time = out.report["run_time"].as_str().unwrap();
    let (year, month) = (&run_time[0..4], &run_time[5..7]);
    let files = parquet_files(&scratch);
    assert_eq!(files.len(), 1);
    assert!(
        files[0].starts_with(&format!("t/rows/year={year}/month={month}/part-")),
        "{files:?}"
    );
}

#[test]
fn a_locked_local_table_is_refused() {
    let scratch = Scratch::new();
    scratch.write("in/a.csv", "id\n1\n");
    let expires = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
        + 600_000;
    let lease = serde_json::json!({"run_id": "other", "host": "h", "pid": 1, "acquired_at": "t", "expires_at_ms": expires});
    scratch.write("out/t/_sluice/locks/default/t.lock", lease.to_string());
    let out = scratch.run(&append_pipeline(""), &[]);
    assert_eq!(out.code, EXIT_IO, "{}", out.report);
    assert!(
        out.error().contains("locked by run `other`"),
        "{}",
        out.error()
    );
    assert!(parquet_files(&scratch).is_empty());
}

#[test]
fn a_version_that_succeeded_is_not_processed_again() {
    let scratch = Scratch::new();
    scratch.write("in/a.csv", "id\n1\n");
    let pipeline = "[tables.t]\nplugin = \"passthrough\"\nversion = \"${V}\"\ninput = { path = \"in/*.csv\" }\noutput = { location = \"out/t\" }\n";
    std::env::set_var("V", "v1");
    let first = scratch.run(pipeline, &[]);
    assert_eq!(first.code, 0, "{}", first.report);
    let again = scratch.run(pipeline, &[]);
    assert_eq!(again.table()["status"], "already_done");
    let record: serde_json::Value = serde_json::from_slice(
        &std::fs::read(scratch.path("out/t/_sluice/registry/default/t/v1.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(record["status"], "SUCCEEDED");
    assert_eq!(record["run_id"], first.report["run_id"]);
}

/// A replace-mode table that rejects rows whose `id` is `bad` (the test plugin).
fn replace_pipeline(partition: &str) -> String {
    format!(
        "[tables.t]\nplugin = \"{}\"\nconfig = {{ mode = \"reject\", column = \"id\", equals = \"bad\" }}\n\
         input = {{ path = \"in.csv\", types = {{ id = \"utf8\" }} }}\n\
         output = {{ location = \"out/t\"{partition} }}\n",
        sluice_tests::TESTBED_WASM
    )
}

/// What a reader of a replace-mode table sees through `current/`, relative to `out/`.
fn visible(scratch: &Scratch) -> Vec<String> {
    let out = scratch.path("out");
    let relative = |p: std::path::PathBuf| p.strip_prefix(&out).unwrap().display().to_string();
    scratch.data_files().into_iter().map(relative).collect()
}

/// The generation folders a replace-mode table keeps.
fn generations(scratch: &Scratch) -> Vec<String> {
    let mut found: Vec<String> = std::fs::read_dir(scratch.path("out/t/_sluice/generations"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    found.sort();
    found
}

#[test]
fn a_replace_rerun_leaves_nothing_of_the_run_before() {
    let scratch = Scratch::new();
    scratch.write("in.csv", "id,day\nbad,2024-01-01\nok,2024-01-02\n");
    let by_day = ", partition = { by = \"value\", column = \"day\" }";
    let first = scratch.run(&replace_pipeline(by_day), &[]);
    assert_eq!(first.code, 0, "{}", first.report);
    assert_eq!(
        visible(&scratch),
        [
            "t/current/rejects.parquet",
            "t/current/rows/day=2024-01-02/part-00000.parquet"
        ]
    );
    let before = generations(&scratch);

    // No rejects this time, and another day: the old rejects and partition go.
    scratch.write("in.csv", "id,day\nok,2024-01-03\n");
    let second = scratch.run(&replace_pipeline(by_day), &[]);
    assert_eq!(second.code, 0, "{}", second.report);
    assert_eq!(
        visible(&scratch),
        ["t/current/rows/day=2024-01-03/part-00000.parquet"]
    );
    let after = generations(&scratch);
    assert_eq!(after.len(), 1, "{after:?}");
    assert_ne!(after, before);
    let pointer: serde_json::Value =
        serde_json::from_slice(&std::fs::read(scratch.path("out/t/_sluice/current.json")).unwrap())
            .unwrap();
    assert_eq!(pointer["generation"], after[0].as_str());
    assert_eq!(pointer["run_id"], second.report["run_id"]);
    // The commit names the input by the BLAKE3 digest of the bytes read (in replace mode
    // hashed beside the stream, not before it), under a 128-bit unit id.
    let digest = blake3::hash(b"id,day\nok,2024-01-03\n").to_hex();
    assert_eq!(
        pointer["inputs"][0][1][0][1],
        format!("blake3:{digest}").as_str()
    );
    assert_eq!(pointer["unit"].as_str().map(str::len), Some(32));
}

#[test]
fn a_table_written_before_generations_is_taken_over() {
    let scratch = Scratch::new();
    // The layout of releases before generations: files beside `_sluice/`.
    for old in [
        "out/t/rows.parquet",
        "out/t/rejects.parquet",
        "out/t/rows/day=2023-12-31/part-00000.parquet",
    ] {
        scratch.write(old, "old");
    }
    scratch.write("in.csv", "id,day\nok,2024-01-02\n");
    let out = scratch.run(&replace_pipeline(""), &[]);
    assert_eq!(out.code, 0, "{}", out.report);
    assert_eq!(visible(&scratch), ["t/current/rows.parquet"]);
    assert_eq!(
        read_parquet(&scratch.path("out/t/current/rows.parquet")).rows(),
        &rows!(["ok", "2024-01-02"])
    );
}

#[test]
fn overwrite_partitions_replaces_only_the_partitions_a_run_writes() {
    let scratch = Scratch::new();
    let by_day = ", partition = { by = \"value\", column = \"day\" }, overwrite = \"partitions\"";
    scratch.write(
        "in.csv",
        "id,day\nbad,2024-01-01\na,2024-01-01\nb,2024-01-02\n",
    );
    let first = scratch.run(&replace_pipeline(by_day), &[]);
    assert_eq!(first.code, 0, "{}", first.report);
    scratch.write("in.csv", "id,day\nc,2024-01-02\nd,2024-01-03\n");
    let second = scratch.run(&replace_pipeline(by_day), &[]);
    assert_eq!(second.code, 0, "{}", second.report);
    // Day 1 kept from the first run, day 2 replaced, day 3 added; the rejects (not
    // partitioned) replaced: this run rejected nothing.
    let days = ["2024-01-01", "2024-01-02", "2024-01-03"];
    let files: Vec<String> = days
        .iter()
        .map(|d| format!("t/current/rows/day={d}/part-00000.parquet"))
        .collect();
    assert_eq!(visible(&scratch), files);
    let ids: Vec<_> = files
        .iter()
        .map(|f| {
            read_parquet(&scratch.path(&format!("out/{f}")))
                .rows()
                .clone()
        })
        .collect();
    assert_eq!(ids, [rows!(["a"]), rows!(["c"]), rows!(["d"])]);
    assert_eq!(generations(&scratch).len(), 1);
    // Without a partition there is nothing to keep: refused at load.
    let unpartitioned = scratch.run(&replace_pipeline(", overwrite = \"partitions\""), &[]);
    assert_eq!(unpartitioned.code, sluice_tests::EXIT_CONFIG);
}

#[test]
fn a_split_run_of_a_replace_table_is_refused() {
    let scratch = Scratch::new();
    scratch.write("in.csv", "id,day\nok,2024-01-02\n");
    let out = scratch.run(&replace_pipeline(""), &["--shard", "0/2"]);
    assert_eq!(out.code, sluice_tests::EXIT_CONFIG, "{}", out.report);
    assert!(out.error().contains("replace mode"), "{}", out.error());
    assert!(visible(&scratch).is_empty());
}

#[test]
fn two_tables_writing_one_location_are_refused_at_load() {
    let scratch = Scratch::new();
    scratch.write("in.csv", "id\n1\n");
    let table = |name: &str| {
        format!("[tables.{name}]\nplugin = \"passthrough\"\ninput = {{ path = \"in.csv\" }}\noutput = {{ location = \"out/shared/\" }}\n")
    };
    let out = scratch.run(
        &format!(
            "{}{}",
            table("a"),
            table("b").replace("out/shared/", "out/shared")
        ),
        &[],
    );
    assert_eq!(out.code, sluice_tests::EXIT_CONFIG, "{}", out.report);
    assert!(!scratch.path("out").exists());
}

#[test]
fn a_replace_table_held_by_another_run_is_refused() {
    let scratch = Scratch::new();
    scratch.write("in.csv", "id\n1\n");
    let pipeline = "[tables.t]\nplugin = \"passthrough\"\ninput = { path = \"in.csv\" }\noutput = { location = \"out/t\" }\n";
    // Another run's live lease on the table, in the state folder beside its outputs.
    let lease = serde_json::json!({"run_id": "other", "host": "h", "pid": 1, "acquired_at": "t", "expires_at_ms": i64::MAX});
    scratch.write("out/t/_sluice/locks/default/t.lock", lease.to_string());
    let out = scratch.run(pipeline, &[]);
    assert_eq!(out.code, EXIT_IO, "{}", out.report);
    assert!(
        out.error().contains("locked by run `other`"),
        "{}",
        out.error()
    );
    assert!(!scratch.path("out/t/current/rows.parquet").exists());
}

#[test]
fn another_table_writing_a_held_location_is_refused() {
    let scratch = Scratch::new();
    scratch.write("in.csv", "id\n1\n");
    let table = |name: &str| {
        format!("[tables.{name}]\nplugin = \"passthrough\"\ninput = {{ path = \"in.csv\" }}\noutput = {{ location = \"out/shared\" }}\n")
    };
    // Two pipelines (two files), each with its own table name, one folder.
    let first = scratch.run_named("a.toml", &table("orders"), &[]);
    assert_eq!(first.code, 0, "{}", first.report);
    let second = scratch.run_named("b.toml", &table("customers"), &[]);
    assert_eq!(second.code, sluice_tests::EXIT_CONFIG, "{}", second.report);
    assert!(
        second.error().contains("holds table `orders`"),
        "{}",
        second.error()
    );
    let again = scratch.run_named("a.toml", &table("orders"), &[]);
    assert_eq!(again.code, 0, "{}", again.report);
}
