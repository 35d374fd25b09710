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
        .map(|p| p.strip_prefix(scratch.path("out")).unwrap().display().to_string())
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
    assert_eq!(parquet_files(&scratch), [format!("t/rows/part-{unit}-00000.parquet")]);

    let again = scratch.run(&append_pipeline(""), &[]);
    assert_eq!(again.table()["status"], "already_done");
    assert_eq!(parquet_files(&scratch).len(), 1);

    // Another file in the input is other content: a new unit beside the first.
    scratch.write("in/b.csv", "id\n3\n");
    let grown = scratch.run(&append_pipeline(""), &[]);
    assert_eq!(grown.table()["status"], "succeeded");
    let files = parquet_files(&scratch);
    assert_eq!(files.len(), 2);
    let newest = files.iter().find(|f| !f.contains(&unit)).unwrap();
    assert_eq!(read_parquet(&scratch.path(&format!("out/{newest}"))).rows(), &rows!([1], [2], [3]));
    // The locks were released, and the state folder holds only commit records.
    let state: Vec<String> = scratch.output_files().iter().map(|p| p.display().to_string()).filter(|p| p.contains("_sluice/locks")).collect();
    assert!(state.iter().all(|p| p.ends_with(".lock") && p.contains("/.")), "only hidden flock files remain: {state:?}");
}

#[test]
fn run_date_partitions_use_the_run_time() {
    let scratch = Scratch::new();
    scratch.write("in/a.csv", "id\n1\n");
    let out = scratch.run(&append_pipeline(", partition = { by = \"run-date\", depth = \"month\" }"), &[]);
    assert_eq!(out.code, 0, "{}", out.report);
    let run_time = out.report["run_time"].as_str().unwrap();
    let (year, month) = (&run_time[0..4], &run_time[5..7]);
    let files = parquet_files(&scratch);
    assert_eq!(files.len(), 1);
    assert!(files[0].starts_with(&format!("t/rows/year={year}/month={month}/part-")), "{files:?}");
}

#[test]
fn a_locked_local_table_is_refused() {
    let scratch = Scratch::new();
    scratch.write("in/a.csv", "id\n1\n");
    let expires = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64 + 600_000;
    let lease = serde_json::json!({"run_id": "other", "host": "h", "pid": 1, "acquired_at": "t", "expires_at_ms": expires});
    scratch.write("out/t/_sluice/locks/default/t.lock", lease.to_string());
    let out = scratch.run(&append_pipeline(""), &[]);
    assert_eq!(out.code, EXIT_IO, "{}", out.report);
    assert!(out.error().contains("locked by run `other`"), "{}", out.error());
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
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(scratch.path("out/t/_sluice/registry/default/t/v1.json")).unwrap()).unwrap();
    assert_eq!(record["status"], "SUCCEEDED");
    assert_eq!(record["run_id"], first.report["run_id"]);
}
