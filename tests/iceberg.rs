//! Iceberg outputs, read back by pyiceberg (`tests/oracle/iceberg_read.py`): on local
//! folders with the file-system catalog, with a REST catalog (pyiceberg's SQL catalog
//! behind the REST spec, `tests/oracle/rest_catalog.py`), and on the S3 server with
//! moto's Glue catalog.
//! A unit is one snapshot, a rerun adds none, an added column evolves the schema, and the
//! rows are the rows the same pipeline writes as plain Parquet, value by value. (A kill
//! before the commit leaving the table as it was is in crashes.rs.)

use std::ffi::OsStr;
use std::path::Path;

use serde_json::{json, Value};
use sluice_tests::s3::{Backend, Bucket};
use sluice_tests::{python_lines, repo, Scratch, TESTBED_WASM};

/// What pyiceberg (or, with `parquet`, pyarrow) reads.
pub(crate) fn read(args: &[&str]) -> Value {
    let script = std::fs::read_to_string(repo("tests/oracle/iceberg_read.py")).unwrap();
    let args: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
    let lines = python_lines(&script, &args);
    serde_json::from_str(lines.last().expect("the reader prints one line")).unwrap()
}

fn files_table(folder: &Path) -> Value {
    read(&["files", &folder.display().to_string()])
}

fn units(table: &Value) -> Vec<&str> {
    let snapshots = table["snapshots"].as_array().unwrap();
    snapshots
        .iter()
        .map(|s| s["unit"].as_str().unwrap())
        .collect()
}

#[test]
fn a_local_iceberg_table_takes_a_snapshot_per_unit_and_evolves() {
    let s = Scratch::new();
    let pipeline = "[tables.t]\nplugin = \"TESTBED\"\nconfig = { mode = \"reject\", column = \"id\", equals = \"bad\" }\n\
        input = { path = \"in.csv\", types = { id = \"utf8\" } }\n\
        output = { location = \"out/t\", format = \"iceberg\", partition = { by = \"column-date\", column = \"day\" } }\n"
        .replace("TESTBED", TESTBED_WASM);
    s.write(
        "in.csv",
        "id,amount,day\n1,1.5,2024-01-01\nbad,2.0,2024-01-01\n2,2.25,2024-01-02\n",
    );
    let first = s.run(&pipeline, &[]);
    assert_eq!(first.code, 0, "{}", first.report);
    let unit = first.table()["unit"].as_str().unwrap().to_string();
    let rows = files_table(&s.path("out/t/rows"));
    assert_eq!(
        rows["schema"],
        json!([
            [1, "id", "string"],
            [2, "amount", "double"],
            [3, "day", "date"]
        ])
    );
    assert_eq!(rows["spec"], json!([["day_day", "day"]]));
    assert_eq!(units(&rows), [unit.as_str()]);
    assert_eq!(
        rows["rows"],
        json!([
            {"id": "1", "amount": 1.5, "day": "2024-01-01"},
            {"id": "2", "amount": 2.25, "day": "2024-01-02"}
        ])
    );
    let rejects = files_table(&s.path("out/t/rejects"));
    assert_eq!(rejects["rows"].as_array().unwrap().len(), 1);
    assert_eq!(rejects["rows"][0]["source_line"], 3);

    // The same input again: nothing new.
    let again = s.run(&pipeline, &[]);
    assert_eq!(again.table()["status"], "already_done", "{}", again.report);
    assert_eq!(units(&files_table(&s.path("out/t/rows"))).len(), 1);

    // New input with a new column: a second snapshot under an evolved schema.
    s.write("in.csv", "id,amount,day,note\n3,3.5,2024-02-01,x\n");
    let second = s.run(&pipeline, &[]);
    assert_eq!(second.code, 0, "{}", second.report);
    let rows = files_table(&s.path("out/t/rows"));
    assert_eq!(rows["schema"][3], json!([4, "note", "string"]));
    assert_eq!(units(&rows).len(), 2);
    assert_eq!(rows["rows"].as_array().unwrap().len(), 3);
    assert_eq!(rows["rows"][0]["note"], Value::Null);
    assert_eq!(
        rows["rows"][2],
        json!({"id": "3", "amount": 3.5, "day": "2024-02-01", "note": "x"})
    );
}

/// Runs `pipeline` with the bucket's flags and the Glue endpoint.
fn run_on(bucket: &Bucket, s: &Scratch, pipeline: &str, extra: &[&str]) -> sluice_tests::Outcome {
    let mut args = bucket.flags();
    args.extend(["--glue-endpoint".to_string(), bucket.endpoint.clone()]);
    args.extend(extra.iter().map(|a| a.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = s.run(pipeline, &args);
    assert_eq!(out.code, 0, "{}", out.report);
    out
}

fn glue_table(bucket: &Bucket, table: &str) -> Value {
    read(&["glue", &bucket.endpoint, "lake", table])
}

/// Pipeline 001 (interval expansion) as an Iceberg table registered in Glue: the rows
/// pyiceberg reads are the rows of the plain Parquet output of the same pipeline.
#[test]
fn pipeline_001_as_an_iceberg_table_in_glue_on_s3() {
    let bucket = Bucket::new(Backend::Moto);
    let s = Scratch::new();
    let measurements = std::fs::read(repo("examples/sensor/data/measurements.csv")).unwrap();
    bucket.put("in/measurements.csv", measurements.clone());
    s.write("measurements.csv", measurements);
    let table = |input: &str, output: &str| {
        format!("[tables.intervals]\nplugin = \"resample\"\nconfig = {{ mode = \"expand\" }}\ninput = {{ path = \"{input}\" }}\noutput = {{ {output} }}\n")
    };
    let plain = s.run(&table("measurements.csv", "location = \"out/plain\""), &[]);
    assert_eq!(plain.code, 0, "{}", plain.report);
    let iceberg = table(
        &bucket.uri("in/measurements.csv"),
        &format!(
            "location = \"{}\", format = \"iceberg\", glue = {{ database = \"lake\" }}",
            bucket.uri("lake/intervals")
        ),
    );
    let first = run_on(&bucket, &s, &iceberg, &[]);
    let read_back = glue_table(&bucket, "intervals");
    let expected = read(&[
        "parquet",
        &s.path("out/plain/current/rows.parquet")
            .display()
            .to_string(),
    ]);
    assert!(!expected["rows"].as_array().unwrap().is_empty());
    assert_eq!(read_back["rows"], expected["rows"]);
    assert_eq!(units(&read_back), [first.table()["unit"].as_str().unwrap()]);
    run_on(&bucket, &s, &iceberg, &[]);
    assert_eq!(
        units(&glue_table(&bucket, "intervals")).len(),
        1,
        "a rerun adds no snapshot"
    );
}

/// Pipeline 004 (export deltas, one version after another) as an Iceberg table in Glue:
/// one snapshot per version, the rows of every version's plain delta file.
#[test]
fn pipeline_004_as_an_iceberg_table_in_glue_on_s3() {
    let bucket = Bucket::new(Backend::Moto);
    let s = Scratch::new();
    let versions = ["20201230_V0001", "20201230_V0002", "20201231_V0001"];
    let data = repo("examples/exports/data/tenant/test_table");
    for (i, version) in versions.iter().enumerate() {
        let file = format!("{version}/export{}.csv.gz", i + 1);
        let bytes = std::fs::read(data.join(&file)).unwrap();
        bucket.put(&format!("exports/{file}"), bytes.clone());
        s.write(&format!("exports/{file}"), bytes);
    }
    let pipeline = std::fs::read_to_string(repo("examples/exports/pipeline.toml")).unwrap();
    let plain = pipeline
        .replace(
            "data/tenant/test_table/",
            &format!("{}/", s.path("exports").display()),
        )
        .replace(
            "out/tenant/test_table",
            &s.path("out/plain").display().to_string(),
        );
    let iceberg = pipeline
        .replace("data/tenant/test_table/", &bucket.uri("exports/"))
        .replace(
            "location = \"out/tenant/test_table\"",
            &format!("location = \"{}\"\nformat = \"iceberg\"\nglue = {{ database = \"lake\", table = \"test_table\" }}", bucket.uri("lake/test_table")),
        );
    for version in versions {
        let var = format!("VERSION={version}");
        let out = s.run_named("plain.toml", &plain, &["--var", &var]);
        assert_eq!(out.code, 0, "{}", out.report);
        run_on(&bucket, &s, &iceberg, &["--var", &var]);
    }
    let deltas: Vec<String> = sluice_tests::files_under(&s.path("out/plain/delta"))
        .into_iter()
        .filter(|f| f.ends_with(".parquet"))
        .map(|f| s.path("out/plain/delta").join(f).display().to_string())
        .collect();
    assert_eq!(deltas.len(), 3);
    let mut args = vec!["parquet"];
    args.extend(deltas.iter().map(String::as_str));
    let expected = read(&args);
    let read_back = glue_table(&bucket, "test_table");
    assert_eq!(read_back["rows"], expected["rows"]);
    assert_eq!(units(&read_back).len(), 3, "one snapshot per version");
    run_on(&bucket, &s, &iceberg, &["--var", "VERSION=20201231_V0001"]);
    assert_eq!(
        units(&glue_table(&bucket, "test_table")).len(),
        3,
        "a rerun adds none"
    );
}

/// The REST catalog test server on a free port, stopped when dropped.
struct RestServer {
    child: std::process::Child,
    uri: String,
}

impl RestServer {
    fn start(warehouse: &Path) -> RestServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = std::process::Command::new(sluice_tests::python())
            .arg(repo("tests/oracle/rest_catalog.py"))
            .arg(port.to_string())
            .arg(warehouse)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("starting the REST catalog (needs pyiceberg[sql-sqlite] and flask)");
        let server = RestServer {
            child,
            uri: format!("http://127.0.0.1:{port}"),
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "the REST catalog did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        server
    }
}

impl Drop for RestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An Iceberg REST catalog holds the table: created on the first commit, a snapshot per
/// unit committed as updates the server checks (the table's uuid, the snapshot the run
/// started from), an added column committed as a new schema.
#[test]
fn an_iceberg_table_in_a_rest_catalog() {
    let s = Scratch::new();
    std::fs::create_dir_all(s.path("warehouse")).unwrap();
    let server = RestServer::start(&s.path("warehouse"));
    let pipeline = format!(
        "[tables.t]\nplugin = \"passthrough\"\ninput = {{ path = \"in.csv\" }}\n\
         output = {{ location = \"out/t\", format = \"iceberg\", partition = {{ by = \"value\", column = \"site\" }}, \
         rest_catalog = {{ uri = \"{}\", namespace = \"lake\", table = \"readings\" }} }}\n",
        server.uri
    );
    s.write("in.csv", "id,site\n1,a\n2,b\n");
    let first = s.run(&pipeline, &[]);
    assert_eq!(first.code, 0, "{}", first.report);
    let table = || read(&["rest", &server.uri, "lake", "readings"]);
    let read_back = table();
    assert_eq!(read_back["spec"], json!([["site", "identity"]]));
    assert_eq!(
        read_back["rows"],
        json!([{"id": 1, "site": "a"}, {"id": 2, "site": "b"}])
    );
    assert_eq!(units(&read_back), [first.table()["unit"].as_str().unwrap()]);
    let again = s.run(&pipeline, &[]);
    assert_eq!(again.table()["status"], "already_done", "{}", again.report);
    s.write("in.csv", "id,site,note\n3,a,x\n");
    let second = s.run(&pipeline, &[]);
    assert_eq!(second.code, 0, "{}", second.report);
    let read_back = table();
    assert_eq!(units(&read_back).len(), 2);
    assert_eq!(read_back["schema"][2], json!([3, "note", "string"]));
    assert_eq!(
        read_back["rows"][2],
        json!({"id": 3, "site": "a", "note": "x"})
    );
}

/// In Glue as well: an added column commits a new schema, and pyiceberg reads the old
/// rows with it NULL.
#[test]
fn an_added_column_evolves_an_iceberg_table_in_glue() {
    let bucket = Bucket::new(Backend::Moto);
    let s = Scratch::new();
    let pipeline = format!(
        "[tables.events]\nplugin = \"passthrough\"\ninput = {{ path = \"{}\" }}\n\
         output = {{ location = \"{}\", format = \"iceberg\", glue = {{ database = \"lake\" }} }}\n",
        bucket.uri("in/events.csv"),
        bucket.uri("lake/events")
    );
    bucket.put("in/events.csv", "id,kind\n1,a\n");
    run_on(&bucket, &s, &pipeline, &[]);
    bucket.put("in/events.csv", "id,kind,weight\n2,b,0.5\n");
    run_on(&bucket, &s, &pipeline, &[]);
    let read_back = glue_table(&bucket, "events");
    assert_eq!(
        read_back["schema"],
        json!([
            [1, "id", "long"],
            [2, "kind", "string"],
            [3, "weight", "double"]
        ])
    );
    assert_eq!(units(&read_back).len(), 2);
    assert_eq!(
        read_back["rows"],
        json!([{"id": 1, "kind": "a", "weight": null}, {"id": 2, "kind": "b", "weight": 0.5}])
    );
}

/// `--force` over a unit the table already has: no second snapshot, and the files its
/// snapshot names are not rewritten (a rewrite would change them under the snapshot: the
/// run id is in every file's metadata).
#[test]
fn force_does_not_rewrite_the_files_of_a_committed_unit() {
    let s = Scratch::new();
    let pipeline = "[tables.t]\nplugin = \"passthrough\"\ninput = { path = \"in.csv\" }\n\
        output = { location = \"out/t\", format = \"iceberg\" }\n";
    s.write("in.csv", "id\n1\n2\n");
    let first = s.run(pipeline, &["--run-id", "first"]);
    assert_eq!(first.code, 0, "{}", first.report);
    let data = |s: &Scratch| -> Vec<(String, Vec<u8>)> {
        let folder = s.path("out/t/rows/data");
        sluice_tests::files_under(&folder)
            .into_iter()
            .map(|f| (f.clone(), std::fs::read(folder.join(f)).unwrap()))
            .collect()
    };
    let before = data(&s);
    let forced = s.run(pipeline, &["--run-id", "second", "--force"]);
    assert_eq!(forced.code, 0, "{}", forced.report);
    assert!(data(&s) == before, "a committed file was rewritten");
    let table = files_table(&s.path("out/t/rows"));
    assert_eq!(units(&table).len(), 1);
    assert_eq!(table["rows"], json!([{"id": 1}, {"id": 2}]));
}
