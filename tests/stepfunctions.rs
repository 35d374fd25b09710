//! Step Functions task-token callbacks end to end, on moto's real ASL interpreter: an
//! execution waits on a token, `sluice run --task-token` reports to it, and the execution
//! ends SUCCEEDED with the run report as its output, or FAILED with the error code.

use sluice_tests::s3::{runtime, Backend, Bucket};
use sluice_tests::sfn::{client, endpoint, Execution};
use sluice_tests::{Outcome, Scratch, EXIT_PLUGIN, TESTBED_WASM};

fn run(bucket: &Bucket, pipeline: &str, token: &str, event: &str) -> Outcome {
    let scratch = Scratch::new();
    let mut args = bucket.flags();
    args.extend(
        [
            "--task-token",
            token,
            "--sfn-endpoint",
            &endpoint(),
            "--heartbeat-secs",
            "1",
            "--event",
            event,
        ]
        .map(String::from),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    scratch.run(pipeline, &args)
}

fn pipeline(bucket: &Bucket, plugin: &str, config: &str) -> String {
    format!(
        "[tables.orders]\nplugin = \"{plugin}\"\nconfig = {config}\ntrigger = \"s3://{b}/in/*.csv\"\n\
         input = {{ path = \"${{object}}\" }}\noutput = {{ location = \"s3://{b}/out/orders\" }}\n",
        b = bucket.name
    )
}

#[test]
fn a_bogus_token_is_refused_so_these_tests_can_fail() {
    let _ = endpoint();
    let refused = runtime().block_on(
        client()
            .send_task_success()
            .task_token("bogus")
            .output("{}")
            .send(),
    );
    let error = refused.expect_err("moto must run state machines for real");
    assert!(
        error
            .as_service_error()
            .is_some_and(|e| e.is_invalid_token()),
        "{error:?}"
    );
}

#[test]
fn a_successful_run_completes_the_execution_with_its_report() {
    let bucket = Bucket::new(Backend::Moto);
    bucket.put("in/orders.csv", "id,amount\n1,10\n2,20\n");
    let input = serde_json::json!({"bucket": bucket.name, "key": "in/orders.csv"}).to_string();
    let execution = Execution::start(&input, Some(30));
    let token = execution.token();
    let out = run(
        &bucket,
        &pipeline(&bucket, "passthrough", "{}"),
        &token,
        &input,
    );
    assert_eq!(out.code, 0, "{}", out.report);
    let (status, output, _) = execution.outcome();
    assert_eq!(status, "SUCCEEDED");
    let report: serde_json::Value = serde_json::from_str(&output.expect("an output")).unwrap();
    assert_eq!(report["run_id"], out.report["run_id"]);
    assert_eq!(report["tables"][0]["rows_out"], 2);
    assert_eq!(
        report["tables"][0]["plugin"]["sha256"],
        out.table()["plugin"]["sha256"]
    );
}

#[test]
fn a_failing_plugin_fails_the_execution_with_the_error_code() {
    let bucket = Bucket::new(Backend::Moto);
    bucket.put("in/orders.csv", "id,amount\n1,10\n");
    let input = serde_json::json!({"bucket": bucket.name, "key": "in/orders.csv"}).to_string();
    let execution = Execution::start(&input, None);
    let token = execution.token();
    let out = run(
        &bucket,
        &pipeline(&bucket, TESTBED_WASM, "{ mode = \"panic\" }"),
        &token,
        &input,
    );
    assert_eq!(out.code, EXIT_PLUGIN, "{}", out.report);
    let (status, _, error) = execution.outcome();
    assert_eq!(status, "FAILED");
    assert_eq!(error.as_deref(), Some("Sluice.Plugin"));
}

#[test]
fn a_bad_pipeline_still_fails_the_execution() {
    let bucket = Bucket::new(Backend::Moto);
    let input = serde_json::json!({"bucket": bucket.name, "key": "in/orders.csv"}).to_string();
    let execution = Execution::start(&input, None);
    let token = execution.token();
    let out = run(
        &bucket,
        "[tables.t]\nplugin = \"passthrough\"\n",
        &token,
        &input,
    );
    assert_eq!(out.code, sluice_tests::EXIT_CONFIG);
    let (status, _, error) = execution.outcome();
    assert_eq!(status, "FAILED");
    assert_eq!(error.as_deref(), Some("Sluice.Config"));
}

#[test]
fn heartbeats_keep_a_long_run_alive() {
    let bucket = Bucket::new(Backend::Moto);
    let mut csv = String::from("id\n");
    for i in 0..600 {
        csv.push_str(&format!("{i}\n"));
    }
    bucket.put("in/slow.csv", csv);
    let input = serde_json::json!({"bucket": bucket.name, "key": "in/slow.csv"}).to_string();
    // The state times out after 2 s without a heartbeat; the run takes longer.
    let execution = Execution::start(&input, Some(2));
    let token = execution.token();
    let slow = format!(
        "[tables.slow]\nplugin = \"{TESTBED_WASM}\"\nconfig = {{ mode = \"spin\", count = 500 }}\nbatch_rows = 50\n\
         trigger = \"s3://{b}/in/*.csv\"\ninput = {{ path = \"${{object}}\" }}\noutput = {{ location = \"s3://{b}/out/slow\" }}\n",
        b = bucket.name
    );
    let started = std::time::Instant::now();
    let out = run(&bucket, &slow, &token, &input);
    assert_eq!(out.code, 0, "{}", out.report);
    assert!(
        started.elapsed().as_secs_f64() > 3.0,
        "the run must outlast two heartbeat timeouts to prove anything"
    );
    let (status, _, error) = execution.outcome();
    assert_eq!(status, "SUCCEEDED", "{error:?}");
}

#[test]
fn an_unreadable_pipeline_file_still_fails_the_execution() {
    let bucket = Bucket::new(Backend::Moto);
    let input = serde_json::json!({"bucket": bucket.name, "key": "in/orders.csv"}).to_string();
    let execution = Execution::start(&input, None);
    let token = execution.token();
    let out = run(&bucket, "this is not [[ TOML", &token, &input);
    assert_eq!(out.code, sluice_tests::EXIT_CONFIG);
    let (status, _, error) = execution.outcome();
    assert_eq!(status, "FAILED");
    assert_eq!(error.as_deref(), Some("Sluice.Config"));
}
