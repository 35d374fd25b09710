//! The pipelines on their real data: 001 (interval expansion) against the original
//! fixtures, 002 (retail) against its documented counts, and the SPEC.md benchmark
//! transforms on data from our own generator, against our own pure-Python oracle
//! (tests/oracle/spec.py, written from SPEC.md alone).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use sluice_tests::{python, read_parquet, repo, Scratch};

/// Our SPEC.md workload generator and oracle (needs pyarrow).
fn spec_oracle() -> PathBuf {
    repo("tests/oracle/spec.py")
}

/// A CSV's lines after the header.
fn csv_rows(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .skip(1)
        .map(str::to_string)
        .collect()
}

/// Parquet rows as the fixtures write them: `YYYY-MM-DD HH:MM:SS[.ffffff]`, floats as Python repr.
fn as_fixture_lines(rows: &[Value]) -> Vec<String> {
    let cell = |v: &Value| match v {
        Value::String(s) => s.replacen('T', " ", 1),
        Value::Number(n) if n.is_f64() => {
            let f = n.as_f64().unwrap();
            if f.fract() == 0.0 {
                format!("{f:.1}")
            } else {
                n.to_string()
            }
        }
        other => other.to_string(),
    };
    rows.iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(cell)
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect()
}

fn expand_pipeline(input: &Path, config: &str) -> String {
    format!(
        "[tables.t]\nplugin = \"resample\"\nconfig = {config}\ninput = {{ path = {:?} }}\noutput = {{ location = \"out/t\" }}\n",
        input.display().to_string()
    )
}

#[test]
fn pipeline_001_matches_the_original_fixtures_in_both_arithmetic_modes() {
    for case in [
        "exact-head5",
        "exact-edge-spark",
        "glue-head5",
        "glue-edge-spark",
    ] {
        let dir = repo("plugins/resample/fixtures").join(case);
        let config = std::fs::read_to_string(dir.join("config.json")).unwrap();
        let toml_config = config
            .replace("\"mode\":", "mode =")
            .replace("\"arithmetic\":", "arithmetic =")
            .replace("\"spark_compat\":", "spark_compat =");
        let s = Scratch::new();
        let out = s.run(
            &expand_pipeline(&dir.join("input/rows.csv"), toml_config.trim()),
            &[],
        );
        assert_eq!(out.code, 0, "{case}: {}", out.report);
        let got = as_fixture_lines(read_parquet(&s.path("out/t/current/rows.parquet")).rows());
        assert_eq!(got, csv_rows(&dir.join("expected/rows.csv")), "{case}");
    }
}

#[test]
fn pipeline_001_default_mode_rejects_bad_sample_counts_with_reasons() {
    let s = Scratch::new();
    let input = repo("plugins/resample/fixtures/exact-edge-spark/input/rows.csv");
    let out = s.run(&expand_pipeline(&input, r#"{ mode = "expand" }"#), &[]);
    assert_eq!(out.code, 0, "{}", out.report);
    assert_eq!(
        out.table()["rows_out"],
        6,
        "3 + 3 sub-intervals: {}",
        out.report
    );
    assert_eq!(out.table()["rows_rejected"], 2);
    let rejects = read_parquet(&s.path("out/t/current/rejects.parquet"));
    let got: Vec<(u64, String)> = rejects
        .rows()
        .iter()
        .map(|r| (r[1].as_u64().unwrap(), r[4].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(
        got,
        vec![
            (3, "samples must be positive, got 0".to_string()),
            (4, "samples is empty".to_string())
        ]
    );
}

#[test]
fn pipeline_001_output_does_not_depend_on_batch_size() {
    let input = repo("plugins/resample/fixtures/glue-head5/input/rows.csv");
    let mut outputs = Vec::new();
    for batch in ["1", "7", "1000", "65536"] {
        let s = Scratch::new();
        let out = s.run(
            &expand_pipeline(&input, r#"{ mode = "expand" }"#),
            &["--batch-rows", batch],
        );
        assert_eq!(out.code, 0, "{}", out.report);
        outputs.push(read_parquet(&s.path("out/t/current/rows.parquet")).json["rows"].clone());
    }
    assert!(outputs.iter().all(|o| *o == outputs[0]));
}

#[test]
fn pipeline_002_gives_the_documented_counts() {
    let s = Scratch::new();
    for file in ["orders.csv", "reviews.csv", "shipment_deliveries.csv"] {
        s.write(
            &format!("data/{file}"),
            std::fs::read(repo("examples/retail/data").join(file)).unwrap(),
        );
    }
    let pipeline = std::fs::read_to_string(repo("examples/retail/pipeline.toml")).unwrap();
    let out = s.run(&pipeline, &[]);
    assert_eq!(out.code, 0, "{}", out.report);
    let rows_in: Vec<(String, u64)> = out.report["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["table"].as_str().unwrap().to_string(),
                t["rows_in"].as_u64().unwrap(),
            )
        })
        .collect();
    assert!(rows_in.contains(&("orders".into(), 10_000)), "{rows_in:?}");
    assert!(rows_in.contains(&("reviews".into(), 7_236)), "{rows_in:?}");
    assert!(
        rows_in.contains(&("shipments".into(), 10_000)),
        "{rows_in:?}"
    );

    let shipments = read_parquet(&s.path("out/shipments/current/rows.parquet"));
    assert_eq!(
        shipments.columns()[2..4],
        [
            "shipment_date: date32[day]".to_string(),
            "delivery_date: date32[day]".to_string()
        ]
    );
    let both_null = shipments
        .rows()
        .iter()
        .filter(|r| r[2].is_null() && r[3].is_null())
        .count();
    let only_shipped = shipments
        .rows()
        .iter()
        .filter(|r| !r[2].is_null() && r[3].is_null())
        .count();
    assert_eq!((both_null, only_shipped), (6_757, 1_046));

    let agg = read_parquet(&s.path("out/agg_shipments/current/agg_shipments.parquet"));
    assert_eq!(agg.rows(), &sluice_tests::rows![["2022-09-05", 175, 11]]);
}

/// Generates a SPEC.md workload with `tests/oracle/spec.py gen`, runs the workload pipeline
/// from bench/workloads/ on it, and checks the output with `tests/oracle/spec.py verify`.
fn spec_workload(workload: &str, transform: &str, rows: usize, batch_rows: &str) {
    let s = Scratch::new();
    let generated = Command::new(python())
        .arg(spec_oracle())
        .args([
            "gen",
            "--workload",
            workload,
            "--rows",
            &rows.to_string(),
            "--out",
            &s.path("data").display().to_string(),
        ])
        .output()
        .expect("running tests/oracle/spec.py gen");
    assert!(
        generated.status.success(),
        "spec.py gen failed:\n{}",
        String::from_utf8_lossy(&generated.stderr)
    );
    let input = s.path(&format!("data/{workload}_{}k.csv", rows / 1000));
    let pipeline = std::fs::read_to_string(repo(&format!("bench/workloads/{transform}.toml")))
        .unwrap()
        .replace("${SLUICE_INPUT}", &input.display().to_string())
        .replace("${SLUICE_OUTPUT}", &s.path("out").display().to_string());
    let out = s.run(&pipeline, &["--batch-rows", batch_rows]);
    assert_eq!(out.code, 0, "{}", out.report);
    let verify = Command::new(python())
        .arg(spec_oracle())
        .args([
            "verify",
            "--workload",
            workload,
            &input.display().to_string(),
            &s.path("out/current/rows.parquet").display().to_string(),
        ])
        .output()
        .expect("running tests/oracle/spec.py verify (needs pyarrow)");
    let report = String::from_utf8_lossy(&verify.stdout);
    assert!(
        verify.status.success(),
        "{transform} with batches of {batch_rows}: the oracle disagrees:\n{report}\n{}",
        String::from_utf8_lossy(&verify.stderr)
    );
    assert!(report.contains("\"verdict\": \"OK\""), "{report}");
}

#[test]
fn spec_transform_a_resample_matches_the_oracle() {
    spec_workload("sensor", "resample", 20_000, "65536");
    spec_workload("sensor", "resample", 5_000, "7");
}

#[test]
fn spec_transform_b_dates_matches_the_oracle() {
    spec_workload("shipments", "dates", 20_000, "65536");
    spec_workload("shipments", "dates", 5_000, "7");
}

#[test]
fn resample_aggregate_fills_gaps_and_keeps_first_last_and_count() {
    let s = Scratch::new();
    // Key b arrives out of time order; key a has an empty minute (00:01) between readings.
    s.write(
        "in.csv",
        "k,t,v\na,2024-03-01T00:00:10Z,1.0\nb,2024-03-01T00:02:00Z,5\na,2024-03-01T00:00:50Z,\na,2024-03-01T00:02:30Z,3.0\nb,2024-03-01T00:00:05Z,7\n",
    );
    for (fill, expected) in [
        (
            "none",
            sluice_tests::rows![
                ["a", "2024-03-01T00:00:00+00:00", 1.0, 1.0, 1, 1.0],
                ["a", "2024-03-01T00:02:00+00:00", 3.0, 3.0, 1, 3.0],
                ["b", "2024-03-01T00:00:00+00:00", 7.0, 7.0, 1, 7.0],
                ["b", "2024-03-01T00:02:00+00:00", 5.0, 5.0, 1, 5.0],
            ],
        ),
        (
            "null",
            sluice_tests::rows![
                ["a", "2024-03-01T00:00:00+00:00", 1.0, 1.0, 1, 1.0],
                ["a", "2024-03-01T00:01:00+00:00", null, null, 0, null],
                ["a", "2024-03-01T00:02:00+00:00", 3.0, 3.0, 1, 3.0],
                ["b", "2024-03-01T00:00:00+00:00", 7.0, 7.0, 1, 7.0],
                ["b", "2024-03-01T00:01:00+00:00", null, null, 0, null],
                ["b", "2024-03-01T00:02:00+00:00", 5.0, 5.0, 1, 5.0],
            ],
        ),
        (
            "previous",
            sluice_tests::rows![
                ["a", "2024-03-01T00:00:00+00:00", 1.0, 1.0, 1, 1.0],
                ["a", "2024-03-01T00:01:00+00:00", 1.0, 1.0, 1, 1.0],
                ["a", "2024-03-01T00:02:00+00:00", 3.0, 3.0, 1, 3.0],
                ["b", "2024-03-01T00:00:00+00:00", 7.0, 7.0, 1, 7.0],
                ["b", "2024-03-01T00:01:00+00:00", 7.0, 7.0, 1, 7.0],
                ["b", "2024-03-01T00:02:00+00:00", 5.0, 5.0, 1, 5.0],
            ],
        ),
    ] {
        let pipeline = format!(
            "[tables.t]\nplugin = \"resample\"\ninput = {{ path = \"in.csv\", types = {{ t = \"timestamp_utc\", v = \"float64\" }} }}\n\
             output = {{ location = \"out/t\" }}\n[tables.t.config]\nmode = \"aggregate\"\ntime = \"t\"\nevery = \"1m\"\nkeys = [\"k\"]\n\
             fill = \"{fill}\"\naggregations = [{{ column = \"v\", function = \"first\" }}, {{ column = \"v\", function = \"last\" }}, \
             {{ column = \"v\", function = \"count\" }}, {{ column = \"v\", function = \"max\" }}]\n"
        );
        let out = s.run(&pipeline, &["--batch-rows", "2"]);
        assert_eq!(out.code, 0, "{fill}: {}", out.report);
        let p = read_parquet(&s.path("out/t/current/rows.parquet"));
        assert_eq!(
            p.columns(),
            [
                "k: string",
                "bucket: timestamp[us, tz=UTC]",
                "v_first: double",
                "v_last: double",
                "v_count: int64",
                "v_max: double"
            ]
        );
        assert_eq!(p.rows(), &expected, "fill = {fill}");
    }
}

/// Two keys of 700 buckets each (one short, one long), interleaved and partly out of time
/// order: they cross
/// every block boundary of the plugin's group storage (blocks of 1, 2, 4, ... 128, then
/// 256 buckets a key), and late readings land in buckets of the early, small blocks.
#[test]
fn resample_aggregate_keeps_long_interleaved_series_apart() {
    // A key of at most 15 bytes and a longer one: the plugin looks them up differently.
    const LONG: &str = "b-a-key-longer-than-15-bytes";
    let s = Scratch::new();
    let minutes = 700;
    let start = 1_709_251_200; // 2024-03-01T00:00:00Z
    let mut order: Vec<(i64, i64)> = (0..400).map(|m| (m, 10)).collect();
    order.extend((0..300).map(|i| (400 + (i * 11) % 300, 10)));
    order.extend((0..134).rev().map(|i| (3 * i, 40)));
    let mut csv = String::from("k,t,v\n");
    for (m, second) in order {
        let t = sluice_tests::rfc3339_seconds(start + 60 * m + second);
        csv += &format!("a,{t}Z,{m}\n{LONG},{t}Z,{}\n", 1000 + m);
    }
    s.write("in.csv", csv);
    let pipeline = "[tables.t]\nplugin = \"resample\"\n\
        input = { path = \"in.csv\", types = { t = \"timestamp_utc\", v = \"float64\" } }\n\
        output = { location = \"out/t\" }\n[tables.t.config]\nmode = \"aggregate\"\ntime = \"t\"\n\
        every = \"1m\"\nkeys = [\"k\"]\naggregations = [{ column = \"v\", function = \"count\" }, \
        { column = \"v\", function = \"sum\" }]\n";
    let out = s.run(pipeline, &["--batch-rows", "64"]);
    assert_eq!(out.code, 0, "{}", out.report);
    let p = read_parquet(&s.path("out/t/current/rows.parquet"));
    let expected: Vec<Value> = [("a", 0), (LONG, 1000)]
        .into_iter()
        .flat_map(|(key, offset)| {
            (0..minutes).map(move |m| {
                let count = if m < 400 && m % 3 == 0 { 2 } else { 1 };
                let bucket = sluice_tests::rfc3339_seconds(start + 60 * m);
                serde_json::json!([
                    key,
                    format!("{bucket}+00:00"),
                    count,
                    ((offset + m) * count) as f64
                ])
            })
        })
        .collect();
    assert_eq!(p.rows(), &expected);
}

/// Tables run side by side (`--jobs`) write exactly the bytes they write one at a time.
#[test]
fn pipeline_002_writes_the_same_bytes_with_one_job_or_four() {
    let pipeline = std::fs::read_to_string(repo("examples/retail/pipeline.toml")).unwrap();
    let s = Scratch::new();
    for file in ["orders.csv", "reviews.csv", "shipment_deliveries.csv"] {
        s.write(
            &format!("data/{file}"),
            std::fs::read(repo("examples/retail/data").join(file)).unwrap(),
        );
    }
    let run = |jobs: &str, into: &str| {
        let out = s.run(&pipeline, &["--jobs", jobs, "--run-id", "same-run"]);
        assert_eq!(out.code, 0, "{}", out.report);
        let tables: Vec<&str> = out.report["tables"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["table"].as_str().unwrap())
            .collect();
        assert_eq!(
            tables,
            ["agg_shipments", "orders", "reviews", "shipments"],
            "report order"
        );
        std::fs::rename(s.path("out"), s.path(into)).unwrap();
        sluice_tests::files_under(&s.path(into))
            .into_iter()
            .filter(|f| f.ends_with(".parquet"))
            .map(|f| {
                let bytes = std::fs::read(s.path(into).join(&f)).unwrap();
                // Generation folders are named by their run's start time.
                let generation = f.split('/').skip_while(|p| *p != "generations").nth(1);
                (f.replace(generation.unwrap_or("-"), "G"), bytes)
            })
            .collect::<Vec<_>>()
    };
    let one = run("1", "one");
    assert_eq!(
        one.len(),
        4,
        "{:?}",
        one.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    let four = run("4", "four");
    for ((name, a), (other, b)) in one.iter().zip(&four) {
        assert_eq!(name, other);
        assert!(a == b, "{name} differs between --jobs 1 and --jobs 4");
    }
}
