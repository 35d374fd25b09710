//! Pipeline 004 end to end on its real exports: each version diffed against the latest
//! earlier version that succeeded, through the version registry and the table lock, with
//! the deltas compared to the original's expected results.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde_json::Value;
use sluice_tests::{read_parquet, Outcome, Scratch};

const VERSIONS: [&str; 3] = ["20201230_V0001", "20201230_V0002", "20201231_V0001"];

/// The original exports (seed 004) bundled with the example, and their expected deltas
/// in the tests' fixtures.
fn shared(path: &str) -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    match path.strip_prefix("expected/") {
        Some(file) => here.join("fixtures/exports/expected").join(file),
        None => here.join("../examples/exports/data").join(path),
    }
}

fn gunzip(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap();
    if !path.to_string_lossy().ends_with(".gz") {
        return String::from_utf8(bytes).unwrap();
    }
    let mut text = String::new();
    flate2::read::MultiGzDecoder::new(&bytes[..])
        .read_to_string(&mut text)
        .unwrap();
    text
}

fn gzip(text: &str) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(text.as_bytes()).unwrap();
    enc.finish().unwrap()
}

/// The example pipeline, reading exports from `data` (a folder of `tenant/test_table/<version>/`).
fn pipeline(data: &Path) -> String {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/exports/pipeline.toml"),
    )
    .unwrap();
    text.replace("path = \"data/", &format!("path = \"{}/", data.display()))
}

fn run(scratch: &Scratch, data: &Path, version: &str) -> Outcome {
    let out = scratch.run(&pipeline(data), &["--var", &format!("VERSION={version}")]);
    assert_eq!(out.code, 0, "{version}: {}", out.report);
    out
}

/// A delta's rows as `op,pk,col_1,col_2,col_3` lines (NULL as empty), as a set: order is free.
fn delta_lines(out: &Outcome) -> BTreeSet<String> {
    let outputs = out.table()["outputs"].as_array().unwrap();
    let delta = outputs
        .iter()
        .find(|o| o["name"] == "delta")
        .expect("a delta output");
    let cell = |v: &Value| match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    read_parquet(Path::new(delta["path"].as_str().unwrap()))
        .rows()
        .iter()
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

/// The original's expected delta (quoted CSV with a header) as the same lines.
fn expected_lines(version: &str) -> BTreeSet<String> {
    let name = format!("expected/expected_delta_{version}.csv");
    let path = if shared(&name).exists() {
        shared(&name)
    } else {
        shared(&format!("{name}.gz"))
    };
    gunzip(&path)
        .lines()
        .skip(1)
        .map(|l| {
            l.trim_matches('"')
                .split("\",\"")
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect()
}

#[test]
fn each_delta_matches_the_original_and_reprocessing_adds_nothing() {
    let scratch = Scratch::new();
    let data = shared("tenant/..");
    for version in VERSIONS {
        let out = run(&scratch, &data, version);
        assert_eq!(out.table()["status"], "succeeded");
        let expected = expected_lines(version);
        let got = delta_lines(&out);
        assert_eq!(got.len(), expected.len(), "{version}");
        assert!(
            got == expected,
            "{version}: {:?}",
            got.symmetric_difference(&expected)
                .take(5)
                .collect::<Vec<_>>()
        );
    }
    let files_before = scratch.output_files();
    let again = run(&scratch, &data, "20201230_V0002");
    assert_eq!(again.table()["status"], "already_done");
    assert_eq!(
        scratch.output_files(),
        files_before,
        "reprocessing a version writes nothing"
    );
}

/// Split in parts by key (`[tables.T.split]`), each part through its own session, the
/// deltas are the original's, and a session holds a part's state, not the export's.
#[test]
fn split_by_key_gives_the_same_deltas_in_a_fraction_of_the_memory() {
    let data = shared("tenant/..");
    let split = format!(
        "{}\n[tables.test_table.split]\nby = [\"PK\"]\nparts = 7\n",
        pipeline(&data)
    );
    let (whole, parts, one_session) = (Scratch::new(), Scratch::new(), Scratch::new());
    let mut peaks = Vec::new();
    for version in VERSIONS {
        let var = format!("VERSION={version}");
        // 32k-row batches: this fixture's state (100,000 previous rows, ~2.5 MB) is
        // small, and at 16k or fewer rows a batch's working set sets both peaks alike.
        let args = |sessions| {
            [
                "--var",
                &var,
                "--plugin-instances",
                sessions,
                "--run-id",
                "r",
                "--batch-rows",
                "32768",
            ]
        };
        let out = parts.run(&split, &args("3"));
        assert_eq!(out.code, 0, "{version}: {}", out.report);
        let got = delta_lines(&out);
        assert!(
            got == expected_lines(version),
            "{version}: split deltas differ"
        );
        // Three parts at a time write the bytes of one part at a time.
        let one = one_session.run(&split, &args("1"));
        assert_eq!(one.code, 0, "{version}: {}", one.report);
        let bytes = |s: &Scratch| {
            let files = sluice_tests::files_under(&s.path("out"));
            let data = files.into_iter().filter(|f| f.ends_with(".parquet"));
            data.map(|f| (std::fs::read(s.path("out").join(&f)).unwrap(), f))
                .collect::<Vec<_>>()
        };
        let (three, single) = (bytes(&parts), bytes(&one_session));
        assert!(!three.is_empty());
        assert!(
            three == single,
            "{version}: 3 sessions wrote other bytes than 1"
        );
        let unsplit = whole.run(&pipeline(&data), &["--var", &var, "--batch-rows", "32768"]);
        assert_eq!(unsplit.code, 0, "{version}: {}", unsplit.report);
        let memory = |o: &Outcome| o.table()["plugin_peak_memory_bytes"].as_u64().unwrap();
        peaks.push((version, memory(&unsplit), memory(&one), memory(&out)));
    }
    // The last versions diff 100,000 previous rows: a seventh of them is far less state,
    // and three parts at a time hold at most three parts' state. The first version has no
    // previous rows: its peak is an instance's footprint (code, a batch) without state.
    let (_, whole_peak, split_peak, three_peak) = peaks[2];
    let (_, whole_base, split_base, _) = peaks[0];
    let (whole_state, split_state) = (whole_peak - whole_base, split_peak - split_base);
    assert!(split_state * 2 < whole_state, "{peaks:?}");
    assert!(three_peak <= split_peak * 3, "{peaks:?}");
}

#[test]
fn a_value_changed_to_empty_is_an_update_and_a_first_version_is_all_inserts() {
    let scratch = Scratch::new();
    let data = scratch.path("exports");
    let (version, file) = ("20201231_V0001", "export3.csv.gz");
    let to = data.join(format!("tenant/test_table/{version}/{file}"));
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    std::fs::copy(shared(&format!("tenant/test_table/{version}/{file}")), &to).unwrap();
    let first = run(&scratch, &data, "20201231_V0001");
    assert_eq!(delta_lines(&first).len(), 100_000);
    assert!(delta_lines(&first).iter().all(|l| l.starts_with("INSERT,")));

    // A fourth export: PK1's COL_2 emptied, PK2's COL_1 emptied, PK3 gone, PK100000 new.
    let third = gunzip(&shared("tenant/test_table/20201231_V0001/export3.csv.gz"));
    let mut fourth = String::new();
    for line in third.lines() {
        match line.split(';').next().unwrap() {
            "PK1" => fourth.push_str("PK1;1;;value2\n"),
            "PK2" => fourth.push_str("PK2;;value1;value2\n"),
            "PK3" => {}
            _ => fourth.push_str(&format!("{line}\n")),
        }
    }
    fourth.push_str("PK100000;7;new;row\n");
    let dir = data.join("tenant/test_table/20210101_V0001");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("export4.csv.gz"), gzip(&fourth)).unwrap();
    let out = run(&scratch, &data, "20210101_V0001");
    let expected: BTreeSet<String> = [
        "UPDATE,PK1,1,,value2",
        "UPDATE,PK2,,value1,value2",
        "DELETE,PK3,3,value1,value2",
        "INSERT,PK100000,7,new,row",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(delta_lines(&out), expected);
    assert_eq!(out.table()["inputs"][0]["name"], "previous");
    assert!(out.table()["inputs"][0]["files"][0]
        .as_str()
        .unwrap()
        .ends_with("20201231_V0001/export3.csv.gz"));
}

#[test]
fn two_concurrent_runs_of_one_version_never_interleave() {
    let data = shared("tenant/..");
    let scratch = std::sync::Arc::new(Scratch::new());
    run(&scratch, &data, "20201230_V0001");
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
    let handles: Vec<_> = (0..2)
        .map(|i| {
            let (scratch, barrier, pipeline) = (scratch.clone(), barrier.clone(), pipeline(&data));
            std::thread::spawn(move || {
                barrier.wait();
                let run_id = format!("racer-{i}");
                scratch.run_named(
                    &format!("pipeline-{i}.toml"),
                    &pipeline,
                    &[
                        "--var",
                        "VERSION=20201230_V0002",
                        "--lock-wait",
                        "60",
                        "--run-id",
                        &run_id,
                    ],
                )
            })
        })
        .collect();
    let outcomes: Vec<Outcome> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let mut statuses: Vec<&str> = outcomes
        .iter()
        .map(|o| o.table()["status"].as_str().unwrap())
        .collect();
    statuses.sort();
    assert_eq!(
        statuses,
        ["already_done", "succeeded"],
        "{:?}",
        outcomes
            .iter()
            .map(|o| o.report.to_string())
            .collect::<Vec<_>>()
    );
    let deltas = scratch
        .output_files()
        .into_iter()
        .filter(|p| p.to_string_lossy().contains("/delta/part-"))
        .count();
    assert_eq!(deltas, 2, "one delta per version");
}
