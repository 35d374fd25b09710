//! S3 end to end, against real servers over HTTP: moto (like AWS) and embedded s3s-fs
//! (strict signatures and checksums). Outputs are read back with pyarrow.

use std::sync::{Arc, Barrier};

use sluice_tests::fault_proxy::{Fault, FaultProxy};
use sluice_tests::s3::{Backend, Bucket};
use sluice_tests::{read_parquet, rows, Outcome, Scratch, EXIT_IO, TESTBED_WASM};

/// Runs a test once per server.
macro_rules! on_both_servers {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn moto() {
                super::$name(super::Backend::Moto)
            }
            #[test]
            fn s3s_fs() {
                super::$name(super::Backend::S3sFs)
            }
        }
    )*};
}

on_both_servers!(
    csv_and_gzip_round_trip,
    listing_goes_past_1000_keys,
    multipart_output_spans_several_parts,
    rerun_writes_nothing_and_force_rewrites
);

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

fn passthrough(input: &str, output: &str, extra_output: &str) -> String {
    format!(
        "[tables.t]\nplugin = \"passthrough\"\ninput = {{ path = \"{input}\" }}\noutput = {{ location = \"{output}\"{extra_output} }}\n"
    )
}

fn run(scratch: &Scratch, bucket: &Bucket, pipeline: &str, extra: &[&str]) -> Outcome {
    let mut args: Vec<String> = bucket.flags();
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    scratch.run(pipeline, &args)
}

fn data_keys(bucket: &Bucket, prefix: &str) -> Vec<String> {
    bucket
        .keys()
        .into_iter()
        .filter(|k| k.starts_with(prefix) && k.ends_with(".parquet"))
        .collect()
}

/// Every output file's rows, read back with pyarrow, in key order.
fn read_rows(scratch: &Scratch, bucket: &Bucket, keys: &[String]) -> Vec<serde_json::Value> {
    let mut all = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        let local = bucket.download(key, &scratch.path(&format!("downloaded/{i}.parquet")));
        all.extend(read_parquet(&local).rows().iter().cloned());
    }
    all
}

fn csv_and_gzip_round_trip(backend: Backend) {
    let bucket = Bucket::new(backend);
    let scratch = Scratch::new();
    bucket.put("in/a.csv", "id,name\n1,ann\n2,bob\n");
    bucket.put("in/b.csv.gz", gzip(b"id,name\n3,cy\n"));
    bucket.put("in/ignored.txt", "not matched by the glob");
    let out = run(
        &scratch,
        &bucket,
        &passthrough(&bucket.uri("in/*.csv*"), &bucket.uri("out/t"), ""),
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.report);
    assert_eq!(out.table()["rows_in"], 3);
    assert_eq!(
        out.table()["inputs"][0]["files"],
        serde_json::json!([bucket.uri("in/a.csv"), bucket.uri("in/b.csv.gz")])
    );
    let unit = out.table()["unit"].as_str().unwrap().to_string();
    let keys = data_keys(&bucket, "out/t/");
    assert_eq!(keys, [format!("out/t/rows/part-{unit}-00000.parquet")]);
    assert_eq!(
        read_rows(&scratch, &bucket, &keys),
        rows!([1, "ann"], [2, "bob"], [3, "cy"])
    );
    // The commit record and the Athena symlink manifest, written after the data.
    let manifest: serde_json::Value = serde_json::from_slice(
        &bucket
            .get(&format!("out/t/_sluice/commits/{unit}.json"))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(manifest["files"][0]["rows"], 3);
    let symlink = String::from_utf8(
        bucket
            .get(&format!("out/t/_sluice/symlink/rows/{unit}.txt"))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(symlink, format!("{}\n", bucket.uri(&keys[0])));
    // The lock is released.
    assert!(
        bucket.keys().iter().all(|k| !k.contains("_sluice/locks/")),
        "{:?}",
        bucket.keys()
    );
}

fn listing_goes_past_1000_keys(backend: Backend) {
    let bucket = Bucket::new(backend);
    let scratch = Scratch::new();
    for i in 0..1_100 {
        bucket.put(&format!("many/part-{i:04}.csv"), format!("id\n{i}\n"));
    }
    let out = run(
        &scratch,
        &bucket,
        &passthrough(&bucket.uri("many/part-*.csv"), &bucket.uri("out/t"), ""),
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.report);
    assert_eq!(
        out.table()["inputs"][0]["files"].as_array().unwrap().len(),
        1_100
    );
    let rows = read_rows(&scratch, &bucket, &data_keys(&bucket, "out/t/"));
    let ids: Vec<i64> = rows.iter().map(|r| r[0].as_i64().unwrap()).collect();
    assert_eq!(ids, (0..1_100).collect::<Vec<_>>());
}

/// Rows of incompressible text: `rows` rows of about 70 bytes.
fn noisy_csv(rows: usize) -> String {
    let mut out = String::from("id,noise\n");
    let mut x: u64 = 0x9e3779b97f4a7c15;
    for i in 0..rows {
        let mut noise = String::new();
        for _ in 0..4 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            noise.push_str(&format!("{x:016x}"));
        }
        out.push_str(&format!("{i},{noise}\n"));
    }
    out
}

fn multipart_output_spans_several_parts(backend: Backend) {
    let bucket = Bucket::new(backend);
    let scratch = Scratch::new();
    bucket.put("big/in.csv", noisy_csv(200_000));
    let pipeline = passthrough(
        &bucket.uri("big/in.csv"),
        &bucket.uri("out/t"),
        ", compression = \"none\"",
    );
    let out = run(
        &scratch,
        &bucket,
        &pipeline,
        &["--s3-part-mib", "5", "--s3-read-chunk-mib", "1"],
    );
    assert_eq!(out.code, 0, "{}", out.report);
    let keys = data_keys(&bucket, "out/t/");
    assert_eq!(keys.len(), 1);
    let bytes = out.table()["outputs"][0]["bytes"].as_u64().unwrap();
    assert!(
        bytes > 10 << 20,
        "the file should need more than two 5 MiB parts, has {bytes} bytes"
    );
    let head = sluice_tests::s3::runtime()
        .block_on(
            bucket
                .client
                .head_object()
                .bucket(&bucket.name)
                .key(&keys[0])
                .send(),
        )
        .unwrap();
    if backend == Backend::Moto {
        assert!(
            head.e_tag().unwrap().contains('-'),
            "a multipart ETag ends in -<parts>: {:?}",
            head.e_tag()
        );
        assert!(bucket.open_uploads().is_empty());
    }
    assert_eq!(head.content_length().unwrap() as u64, bytes);
    let rows = read_rows(&scratch, &bucket, &keys);
    assert_eq!(rows.len(), 200_000);
    assert_eq!(rows[199_999][0], 199_999);
}

fn rerun_writes_nothing_and_force_rewrites(backend: Backend) {
    let bucket = Bucket::new(backend);
    let scratch = Scratch::new();
    bucket.put("in/a.csv", "id\n1\n2\n");
    let pipeline = passthrough(&bucket.uri("in/a.csv"), &bucket.uri("out/t"), "");
    let first = run(&scratch, &bucket, &pipeline, &[]);
    assert_eq!(first.code, 0, "{}", first.report);
    let keys_after_first = bucket.keys();
    let unit = first.table()["unit"].as_str().unwrap().to_string();
    let manifest_key = format!("out/t/_sluice/commits/{unit}.json");
    let manifest = bucket.get(&manifest_key).unwrap();

    let again = run(&scratch, &bucket, &pipeline, &[]);
    assert_eq!(again.code, 0, "{}", again.report);
    assert_eq!(again.table()["status"], "already_done");
    assert_eq!(
        again.table()["outputs"][0]["rows"],
        2,
        "the report still names what was committed"
    );
    assert_eq!(bucket.keys(), keys_after_first);
    assert_eq!(
        bucket.get(&manifest_key).unwrap(),
        manifest,
        "nothing was rewritten"
    );

    let forced = run(
        &scratch,
        &bucket,
        &pipeline,
        &["--force", "--run-id", "forced-run"],
    );
    assert_eq!(forced.code, 0, "{}", forced.report);
    assert_eq!(forced.table()["status"], "succeeded");
    assert_eq!(
        bucket.keys(),
        keys_after_first,
        "a forced rerun rewrites the same keys"
    );
    let rewritten: serde_json::Value =
        serde_json::from_slice(&bucket.get(&manifest_key).unwrap()).unwrap();
    assert_eq!(rewritten["run_id"], "forced-run");

    // New content under the same key is a new unit: its rows are added beside the old ones.
    bucket.put("in/a.csv", "id\n3\n");
    let changed = run(&scratch, &bucket, &pipeline, &[]);
    assert_eq!(changed.code, 0, "{}", changed.report);
    assert_ne!(changed.table()["unit"], first.table()["unit"]);
    let keys = data_keys(&bucket, "out/t/");
    assert_eq!(keys.len(), 2);
    let mut ids: Vec<i64> = read_rows(&scratch, &bucket, &keys)
        .iter()
        .map(|r| r[0].as_i64().unwrap())
        .collect();
    ids.sort();
    assert_eq!(ids, [1, 2, 3]);
}

/// A bucket behind the fault-injecting proxy (moto upstream).
fn faulty() -> (Bucket, FaultProxy) {
    let mut bucket = Bucket::new(Backend::Moto);
    let proxy = FaultProxy::start(&bucket.endpoint);
    bucket.endpoint = proxy.endpoint.clone();
    (bucket, proxy)
}

#[test]
fn transient_errors_and_resets_are_retried() {
    let (bucket, proxy) = faulty();
    let scratch = Scratch::new();
    bucket.put("big/in.csv", noisy_csv(200_000));
    proxy.add("PUT", "partNumber=1", Fault::Status(503), 2);
    proxy.add("PUT", "partNumber=2", Fault::Reset, 1);
    proxy.add("POST", "uploadId=", Fault::Status(500), 1);
    proxy.add("GET", "big/in.csv", Fault::Truncate(1000), 2);
    proxy.add("GET", "big/in.csv", Fault::Status(503), 1);
    let pipeline = passthrough(
        &bucket.uri("big/in.csv"),
        &bucket.uri("out/t"),
        ", compression = \"none\"",
    );
    let out = run(
        &scratch,
        &bucket,
        &pipeline,
        &["--s3-part-mib", "5", "--s3-read-chunk-mib", "1"],
    );
    assert_eq!(out.code, 0, "{}", out.report);
    assert_eq!(
        proxy.faults().len(),
        7,
        "every fault was injected: {:?}",
        proxy.faults()
    );
    let keys = data_keys(&bucket, "out/t/");
    let rows = read_rows(&scratch, &bucket, &keys);
    assert_eq!(rows.len(), 200_000);
    assert!(bucket.open_uploads().is_empty());
}

#[test]
fn persistent_errors_fail_the_table_and_leave_nothing() {
    let (bucket, proxy) = faulty();
    let scratch = Scratch::new();
    bucket.put("big/in.csv", noisy_csv(200_000));
    proxy.add("PUT", "partNumber=2", Fault::Status(503), 1_000);
    let pipeline = passthrough(
        &bucket.uri("big/in.csv"),
        &bucket.uri("out/t"),
        ", compression = \"none\"",
    );
    let out = run(
        &scratch,
        &bucket,
        &pipeline,
        &["--s3-part-mib", "5", "--s3-max-attempts", "3"],
    );
    assert_eq!(out.code, EXIT_IO, "{}", out.report);
    assert!(out.error().contains("UploadPart"), "{}", out.error());
    assert_eq!(
        proxy.faults().len(),
        3,
        "one request and two retries: {:?}",
        proxy.faults()
    );
    let left: Vec<String> = bucket
        .keys()
        .into_iter()
        .filter(|k| k.starts_with("out/"))
        .collect();
    assert!(left.is_empty(), "nothing visible is left behind: {left:?}");
    assert!(
        bucket.open_uploads().is_empty(),
        "the multipart upload was aborted"
    );
}

#[test]
fn a_connection_reset_mid_upload_that_never_heals_leaves_no_parts() {
    let (bucket, proxy) = faulty();
    let scratch = Scratch::new();
    bucket.put("big/in.csv", noisy_csv(200_000));
    proxy.add("PUT", "partNumber=", Fault::Reset, 1_000);
    let pipeline = passthrough(
        &bucket.uri("big/in.csv"),
        &bucket.uri("out/t"),
        ", compression = \"none\"",
    );
    let out = run(
        &scratch,
        &bucket,
        &pipeline,
        &["--s3-part-mib", "5", "--s3-max-attempts", "2"],
    );
    assert_eq!(out.code, EXIT_IO, "{}", out.report);
    assert!(
        bucket.keys().iter().all(|k| !k.starts_with("out/t/rows")),
        "{:?}",
        bucket.keys()
    );
    assert!(bucket.open_uploads().is_empty());
}

fn slow_pipeline(bucket: &Bucket) -> String {
    format!(
        "[tables.t]\nplugin = \"{TESTBED_WASM}\"\nconfig = {{ mode = \"spin\", count = 400 }}\nbatch_rows = 100\n\
         input = {{ path = \"{}\" }}\noutput = {{ location = \"{}\" }}\n",
        bucket.uri("in/a.csv"),
        bucket.uri("out/t")
    )
}

fn numbers_csv(rows: usize) -> String {
    let mut csv = String::from("id\n");
    for i in 0..rows {
        csv.push_str(&format!("{i}\n"));
    }
    csv
}

/// Starts two runs of the same table at the same moment.
fn race(bucket: &Bucket, extra: &'static [&'static str]) -> Vec<Outcome> {
    let pipeline = slow_pipeline(bucket);
    let barrier = Arc::new(Barrier::new(2));
    let handles: Vec<_> = (0..2)
        .map(|i| {
            let (barrier, pipeline, flags) = (barrier.clone(), pipeline.clone(), bucket.flags());
            std::thread::spawn(move || {
                let scratch = Scratch::new();
                let mut args: Vec<String> = flags;
                args.extend(["--run-id".to_string(), format!("run-{i}")]);
                args.extend(extra.iter().map(|s| s.to_string()));
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                barrier.wait();
                scratch.run(&pipeline, &args)
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

#[test]
fn two_concurrent_runs_make_one_output_and_one_clear_refusal() {
    let bucket = Bucket::new(Backend::Moto);
    bucket.put("in/a.csv", numbers_csv(1_000));
    let outcomes = race(&bucket, &[]);
    let codes: Vec<u8> = outcomes.iter().map(|o| o.code).collect();
    let winner = outcomes
        .iter()
        .find(|o| o.code == 0)
        .unwrap_or_else(|| panic!("one run succeeds: {codes:?}"));
    let loser = outcomes
        .iter()
        .find(|o| o.code != 0)
        .unwrap_or_else(|| panic!("one run is refused: {codes:?}"));
    assert_eq!(loser.code, EXIT_IO);
    let winner_id = winner.report["run_id"].as_str().unwrap();
    assert!(
        loser
            .error()
            .contains(&format!("locked by run `{winner_id}`")),
        "{}",
        loser.error()
    );
    assert_eq!(data_keys(&bucket, "out/t/").len(), 1);
}

#[test]
fn a_waiting_run_finds_the_work_done() {
    let bucket = Bucket::new(Backend::Moto);
    bucket.put("in/a.csv", numbers_csv(1_000));
    let outcomes = race(&bucket, &["--lock-wait", "120"]);
    let statuses: Vec<&str> = outcomes
        .iter()
        .map(|o| o.table()["status"].as_str().unwrap())
        .collect();
    assert!(outcomes.iter().all(|o| o.code == 0), "{statuses:?}");
    let mut sorted = statuses.clone();
    sorted.sort();
    assert_eq!(sorted, ["already_done", "succeeded"]);
    assert_eq!(data_keys(&bucket, "out/t/").len(), 1);
}

fn lease(run_id: &str, expires_at_ms: i64) -> String {
    serde_json::json!({"run_id": run_id, "host": "elsewhere", "pid": 7, "acquired_at": "2026-01-01T00:00:00Z", "expires_at_ms": expires_at_ms}).to_string()
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[test]
fn a_live_lease_refuses_and_an_expired_one_is_taken_over() {
    let bucket = Bucket::new(Backend::Moto);
    let scratch = Scratch::new();
    bucket.put("in/a.csv", "id\n1\n");
    let lock_key = "out/t/_sluice/locks/default/t.lock";
    bucket.put(lock_key, lease("holder-run", now_ms() + 600_000));
    let pipeline = passthrough(&bucket.uri("in/a.csv"), &bucket.uri("out/t"), "");
    let refused = run(&scratch, &bucket, &pipeline, &[]);
    assert_eq!(refused.code, EXIT_IO, "{}", refused.report);
    assert!(
        refused
            .error()
            .contains("locked by run `holder-run` on elsewhere (pid 7)"),
        "{}",
        refused.error()
    );
    assert!(data_keys(&bucket, "out/").is_empty());

    // The holder crashed: its lease ran out and nobody renewed it.
    bucket.put(lock_key, lease("holder-run", now_ms() - 1));
    let taken = run(&scratch, &bucket, &pipeline, &[]);
    assert_eq!(taken.code, 0, "{}", taken.report);
    assert_eq!(data_keys(&bucket, "out/t/").len(), 1);
    assert!(bucket.get(lock_key).is_none(), "released after the run");
}

#[test]
fn versions_are_registered_and_not_processed_twice() {
    let bucket = Bucket::new(Backend::Moto);
    let scratch = Scratch::new();
    bucket.put("acme/orders/20201230_V0001/a.csv", "id\n1\n");
    bucket.put("acme/orders/20201231_V0001/a.csv", "id\n2\n");
    let pipeline = |version: &str| {
        format!(
            "[tables.orders]\nplugin = \"passthrough\"\ntenant = \"acme\"\nversion = \"{version}\"\n\
             input = {{ path = \"{}\" }}\noutput = {{ location = \"{}\" }}\n",
            bucket.uri(&format!("acme/orders/{version}/*.csv")),
            bucket.uri("out/orders")
        )
    };
    for version in ["20201230_V0001", "20201231_V0001"] {
        let out = run(&scratch, &bucket, &pipeline(version), &[]);
        assert_eq!(out.code, 0, "{}", out.report);
        assert_eq!(out.table()["version"], version);
    }
    let again = run(&scratch, &bucket, &pipeline("20201230_V0001"), &[]);
    assert_eq!(again.table()["status"], "already_done");

    let store = sluice_aws::storage(sluice_aws::S3Settings {
        endpoint: Some(bucket.endpoint.clone()),
        path_style: true,
        ..Default::default()
    });
    let registry = sluice_core::commit::Registry::new(
        store.bucket(&bucket.name).unwrap(),
        "out/orders",
        "acme",
        "orders",
    );
    let listed: Vec<(String, sluice_core::commit::VersionStatus)> = registry
        .list()
        .unwrap()
        .into_iter()
        .map(|r| (r.version, r.status))
        .collect();
    use sluice_core::commit::VersionStatus::Succeeded;
    assert_eq!(
        listed,
        [
            ("20201230_V0001".to_string(), Succeeded),
            ("20201231_V0001".to_string(), Succeeded)
        ]
    );
    let base = registry
        .latest_succeeded_before("20201231_V0002")
        .unwrap()
        .unwrap();
    assert_eq!(base.version, "20201231_V0001");
    assert_eq!(
        base.inputs[0].1,
        [bucket.uri("acme/orders/20201231_V0001/a.csv")]
    );

    // A failed version is recorded as such, and is not a base for later deltas.
    bucket.put(
        "acme/orders/20210101_V0001/a.csv",
        "id\nnot-a-number-but-declared\n",
    );
    let failing =
        pipeline("20210101_V0001").replace("input = {", "input = { types = { id = \"int64\" },");
    let failed = run(&scratch, &bucket, &failing, &[]);
    assert_eq!(failed.code, sluice_tests::EXIT_DATA, "{}", failed.report);
    let record = registry.get("20210101_V0001").unwrap().unwrap();
    assert_eq!(record.status, sluice_core::commit::VersionStatus::Failed);
    assert!(record.error.unwrap().contains("not-a-number"));
    assert_eq!(
        registry
            .latest_succeeded_before("20210102")
            .unwrap()
            .unwrap()
            .version,
        "20201231_V0001"
    );
}

#[test]
fn newest_dated_input_and_partitioned_keys() {
    let bucket = Bucket::new(Backend::Moto);
    let scratch = Scratch::new();
    bucket.put("src/20240101_sensor.csv", "id,site\n1,a\n");
    bucket.put("src/20240301_sensor.csv", "id,site\n2,a\n3,b\n");
    bucket.put("src/20231231_sensor.csv", "id,site\n4,a\n");
    let pipeline = format!(
        "[tables.t]\nplugin = \"passthrough\"\ninput = {{ path = \"{}\", select = \"newest-date\" }}\n\
         output = {{ location = \"{}\", partition = {{ by = \"value\", column = \"site\" }} }}\n",
        bucket.uri("src/*_sensor.csv"),
        bucket.uri("out/t")
    );
    let out = run(&scratch, &bucket, &pipeline, &[]);
    assert_eq!(out.code, 0, "{}", out.report);
    assert_eq!(
        out.table()["inputs"][0]["files"],
        serde_json::json!([bucket.uri("src/20240301_sensor.csv")])
    );
    let unit = out.table()["unit"].as_str().unwrap();
    let keys = data_keys(&bucket, "out/t/");
    assert_eq!(
        keys,
        [
            format!("out/t/rows/site=a/part-{unit}-00000.parquet"),
            format!("out/t/rows/site=b/part-{unit}-00000.parquet")
        ]
    );
    // Hive's convention: `site` is in the folder names, not in the files.
    assert_eq!(read_rows(&scratch, &bucket, &keys), rows!([2], [3]));
    assert!(bucket
        .get(&format!("out/t/_sluice/symlink/rows/site=b/{unit}.txt"))
        .is_some());
}

#[test]
fn replace_mode_commits_generations_by_one_pointer_and_keeps_unwritten_partitions() {
    let bucket = Bucket::new(Backend::Moto);
    let scratch = Scratch::new();
    let pipeline = passthrough(
        &bucket.uri("in/*.csv"),
        &bucket.uri("out/t"),
        ", mode = \"replace\", partition = { by = \"value\", column = \"site\" }, overwrite = \"partitions\"",
    );
    let pointer = || -> serde_json::Value {
        serde_json::from_slice(&bucket.get("out/t/_sluice/current.json").unwrap()).unwrap()
    };
    bucket.put("in/a.csv", "id,site\n1,a\n2,b\n");
    let first = run(&scratch, &bucket, &pipeline, &[]);
    assert_eq!(first.code, 0, "{}", first.report);
    let old = pointer()["generation"].as_str().unwrap().to_string();
    bucket.put("in/a.csv", "id,site\n3,b\n4,c\n");
    let second = run(&scratch, &bucket, &pipeline, &[]);
    assert_eq!(second.code, 0, "{}", second.report);
    let current = pointer();
    let new = current["generation"].as_str().unwrap();
    assert_ne!(new, old);
    let mut listed: Vec<String> = current["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["key"].as_str().unwrap().to_string())
        .collect();
    listed.sort();
    let folder = format!("out/t/_sluice/generations/{new}");
    let expected: Vec<String> = ["a", "b", "c"]
        .iter()
        .map(|s| format!("{folder}/rows/site={s}/part-00000.parquet"))
        .collect();
    // Site a carried over (a server-side copy), b replaced, c added; the old generation
    // is gone, so every data file in the bucket is one the pointer lists.
    assert_eq!(listed, expected);
    assert_eq!(data_keys(&bucket, "out/t/"), expected);
    assert_eq!(
        read_rows(&scratch, &bucket, &expected),
        rows!([1], [3], [4])
    );
}

#[test]
fn a_missing_bucket_is_a_clear_error() {
    let bucket = Bucket::new(Backend::Moto);
    let scratch = Scratch::new();
    let pipeline = passthrough(
        "s3://no-such-bucket-here/in/*.csv",
        &bucket.uri("out/t"),
        "",
    );
    let out = run(&scratch, &bucket, &pipeline, &[]);
    assert_eq!(out.code, EXIT_IO, "{}", out.report);
    assert!(
        out.error().contains("s3://no-such-bucket-here/in/"),
        "{}",
        out.error()
    );
    assert!(out.error().contains("NoSuchBucket"), "{}", out.error());
}

#[test]
fn the_pipeline_file_the_plugin_and_the_report_can_all_live_in_s3() {
    let bucket = Bucket::new(Backend::Moto);
    bucket.put("in/a.csv", "id\n1\n2\n");
    bucket.put(
        "jobs/plugins/testbed.wasm",
        std::fs::read(TESTBED_WASM).unwrap(),
    );
    let pipeline = format!(
        "[tables.t]\nplugin = \"plugins/testbed.wasm\"\nconfig = {{ mode = \"pass\" }}\ninput = {{ path = \"{}\" }}\noutput = {{ location = \"out/t\" }}\n",
        bucket.uri("in/a.csv")
    );
    bucket.put("jobs/pipeline.toml", pipeline);
    let mut argv = vec![
        "sluice".to_string(),
        "run".into(),
        bucket.uri("jobs/pipeline.toml"),
    ];
    argv.extend([
        "--report".into(),
        bucket.uri("reports/run.json"),
        "--log".into(),
        "warn".into(),
        "--progress".into(),
        "never".into(),
    ]);
    argv.extend(bucket.flags());
    assert_eq!(sluice::cli::main(argv), 0);
    let report: serde_json::Value =
        serde_json::from_slice(&bucket.get("reports/run.json").expect("the report in S3")).unwrap();
    let table = &report["tables"][0];
    assert_eq!(table["status"], "succeeded", "{report}");
    assert_eq!(
        table["plugin"]["reference"],
        bucket.uri("jobs/plugins/testbed.wasm"),
        "relative to the pipeline's prefix"
    );
    assert_eq!(table["rows_out"], 2);
    assert!(
        bucket
            .keys()
            .iter()
            .any(|k| k.starts_with("jobs/out/t/rows/part-")),
        "{:?}",
        bucket.keys()
    );
}
