//! Scaling out: N shard runs (as AWS Batch array indices) over a prefix produce exactly the
//! files of the unsplit run, a retried shard adds nothing, and Distributed Map item batches
//! from `sluice plan` do the same. On S3 (moto).

use std::collections::BTreeSet;

use sluice_tests::s3::{Backend, Bucket};
use sluice_tests::{read_parquet, Outcome, Scratch};

const OBJECTS: usize = 24;

fn setup() -> Bucket {
    let bucket = Bucket::new(Backend::Moto);
    for i in 0..OBJECTS {
        bucket.put(
            &format!("in/part-{i:02}.csv"),
            format!("id,part\n{},{i}\n{},{i}\n", i * 10, i * 10 + 1),
        );
    }
    bucket
}

fn pipeline(bucket: &Bucket, out: &str) -> String {
    format!(
        "[tables.t]\nplugin = \"passthrough\"\ninput = {{ path = \"{}\" }}\noutput = {{ location = \"{}\" }}\n",
        bucket.uri("in/*.csv"),
        bucket.uri(out)
    )
}

fn run(bucket: &Bucket, out: &str, extra: &[&str]) -> Outcome {
    let scratch = Scratch::new();
    let mut args = bucket.flags();
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let outcome = scratch.run(&pipeline(bucket, out), &args);
    assert_eq!(outcome.code, 0, "{}", outcome.report);
    outcome
}

/// The data files under a prefix, relative to it.
fn files(bucket: &Bucket, out: &str) -> BTreeSet<String> {
    bucket
        .keys()
        .into_iter()
        .filter(|k| k.starts_with(&format!("{out}/rows/")))
        .map(|k| k[out.len()..].to_string())
        .collect()
}

fn ids(bucket: &Bucket, out: &str) -> Vec<i64> {
    let scratch = Scratch::new();
    let mut ids = Vec::new();
    for (i, key) in files(bucket, out).iter().enumerate() {
        let local = bucket.download(
            &format!("{out}{key}"),
            &scratch.path(&format!("{i}.parquet")),
        );
        ids.extend(
            read_parquet(&local)
                .rows()
                .iter()
                .map(|r| r[0].as_i64().unwrap()),
        );
    }
    ids.sort();
    ids
}

#[test]
fn shards_together_make_exactly_the_unsplit_output_and_a_retry_adds_nothing() {
    let bucket = setup();
    run(&bucket, "whole", &["--shard", "0/1"]);
    let mut tables = 0;
    for index in 0..3 {
        let shard = format!("{index}/3");
        tables += run(&bucket, "sharded", &["--shard", &shard]).report["tables"]
            .as_array()
            .unwrap()
            .len();
    }
    assert_eq!(
        tables, OBJECTS,
        "every object was done by exactly one shard"
    );
    assert_eq!(files(&bucket, "sharded"), files(&bucket, "whole"));
    assert_eq!(files(&bucket, "sharded").len(), OBJECTS);

    // The plain run (one unit for all) has the same rows.
    run(&bucket, "plain", &[]);
    let expected: Vec<i64> = (0..OBJECTS as i64)
        .flat_map(|i| [i * 10, i * 10 + 1])
        .collect();
    assert_eq!(ids(&bucket, "plain"), expected);
    assert_eq!(ids(&bucket, "sharded"), expected);

    let before = bucket.keys();
    let retried = run(&bucket, "sharded", &["--shard", "1/3"]);
    assert!(retried.report["tables"]
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["status"] == "already_done"));
    assert_eq!(bucket.keys(), before, "a retried shard adds nothing");
}

#[test]
fn distributed_map_item_batches_from_the_plan() {
    let bucket = setup();
    let scratch = Scratch::new();
    let plan_file = scratch.path("plan.json");
    scratch.write("pipeline.toml", pipeline(&bucket, "mapped"));
    let mut argv: Vec<String> = vec![
        "sluice".into(),
        "plan".into(),
        scratch.path("pipeline.toml").display().to_string(),
    ];
    argv.extend([
        "--shards".into(),
        "4".into(),
        "--out".into(),
        plan_file.display().to_string(),
        "--log".into(),
        "warn".into(),
    ]);
    argv.extend(bucket.flags());
    assert_eq!(sluice::cli::main(argv), 0);
    let items: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(&plan_file).unwrap()).unwrap();
    assert_eq!(items.len(), OBJECTS);
    assert!(items
        .iter()
        .all(|i| i["table"] == "t" && i["shard"].as_u64().unwrap() < 4));
    for batch in items.chunks(10) {
        let input = serde_json::json!({"Items": batch, "BatchInput": {"run": "map"}}).to_string();
        run(&bucket, "mapped", &["--items", &input]);
    }
    let expected: Vec<i64> = (0..OBJECTS as i64)
        .flat_map(|i| [i * 10, i * 10 + 1])
        .collect();
    assert_eq!(ids(&bucket, "mapped"), expected);
}

#[test]
fn an_ingest_job_runs_once_across_shards() {
    let bucket = setup();
    let pipeline = format!(
        "{}\n[ingest.raw]\nsource = \"{}\"\ntarget = \"{}\"\n[[ingest.raw.assets]]\nname = \"parts\"\npattern = \"part-0*.csv\"\npartition = \"year\"\n",
        pipeline(&bucket, "out"),
        bucket.uri("in/"),
        bucket.uri("raw/")
    );
    let flags = bucket.flags();
    let mut ingests = 0;
    for index in 0..3 {
        let shard = format!("{index}/3");
        let mut args: Vec<&str> = flags.iter().map(String::as_str).collect();
        args.extend(["--shard", &shard]);
        let out = Scratch::new().run(&pipeline, &args);
        assert_eq!(out.code, 0, "{}", out.report);
        ingests += out.report["ingests"].as_array().map_or(0, Vec::len);
    }
    assert_eq!(ingests, 1, "shard 0 alone does the ingest job");
    assert_eq!(
        bucket
            .keys()
            .iter()
            .filter(|k| k.starts_with("raw/parts/") && k.ends_with(".csv"))
            .count(),
        10
    );
}
