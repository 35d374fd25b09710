//! AWS Batch array jobs: each child reads its shard from AWS_BATCH_JOB_ARRAY_INDEX and
//! AWS_BATCH_JOB_ARRAY_SIZE. One test in its own binary, since it sets process-wide env vars.

// A test reads best as one story, so the 60-line limit for host/ functions is not applied.
#![allow(clippy::too_many_lines)]

use std::collections::BTreeSet;

use sluice_tests::s3::{Backend, Bucket};
use sluice_tests::Scratch;

#[test]
fn array_children_split_the_objects_like_explicit_shards() {
    let bucket = Bucket::new(Backend::Moto);
    for i in 0..12 {
        bucket.put(&format!("in/part-{i:02}.csv"), format!("id\n{i}\n"));
    }
    let pipeline = |out: &str| {
        format!(
            "[tables.t]\nplugin = \"passthrough\"\ninput = {{ path = \"{}\" }}\noutput = {{ location = \"{}\" }}\n",
            bucket.uri("in/*.csv"),
            bucket.uri(out)
        )
    };
    let flags = bucket.flags();
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let files = |out: &str| -> BTreeSet<String> {
        bucket
            .keys()
            .into_iter()
            .filter(|k| k.starts_with(&format!("{out}/rows/")))
            .map(|k| k[out.len()..].to_string())
            .collect()
    };
    let mut done = 0;
    std::env::set_var("AWS_BATCH_JOB_ARRAY_SIZE", "4");
    for index in 0..4 {
        std::env::set_var("AWS_BATCH_JOB_ARRAY_INDEX", index.to_string());
        let out = Scratch::new().run(&pipeline("array"), &flags);
        assert_eq!(out.code, 0, "{}", out.report);
        done += out.report["tables"].as_array().unwrap().len();
    }
    std::env::remove_var("AWS_BATCH_JOB_ARRAY_INDEX");
    std::env::remove_var("AWS_BATCH_JOB_ARRAY_SIZE");
    assert_eq!(done, 12, "each object in exactly one child");
    let whole = Scratch::new().run(
        &pipeline("whole"),
        &[flags.clone(), vec!["--shard", "0/1"]].concat(),
    );
    assert_eq!(whole.code, 0, "{}", whole.report);
    assert_eq!(files("array"), files("whole"));
}
