//! Event routing with real event payloads: an S3 notification (direct and inside SQS), an
//! EventBridge "Object Created" event and Step Functions inputs, with URL-encoded keys that
//! hold spaces and `+`, routed by `trigger` patterns to a table on S3 (moto).

use sluice_tests::s3::{Backend, Bucket};
use sluice_tests::{Outcome, Scratch, EXIT_CONFIG};

/// The raw key: a space and a plus sign, as users name files.
const KEY: &str = "exports/acme/orders/20201230_V0001/orders file+1.csv";
/// The same key as S3 notifications encode it.
const ENCODED: &str = "exports/acme/orders/20201230_V0001/orders+file%2B1.csv";

fn pipeline(bucket: &Bucket) -> String {
    format!(
        "[tables.orders]\nplugin = \"passthrough\"\nconfig = {{ rename = {{ amount = \"amount_${{tenant}}\" }} }}\ntrigger = \"s3://{b}/exports/{{tenant}}/{{table}}/{{version}}/*.csv\"\n\
         tenant = \"${{tenant}}\"\nversion = \"${{version}}\"\ninput = {{ path = \"${{object}}\" }}\n\
         output = {{ location = \"s3://{b}/out/${{tenant}}/${{table}}\" }}\n",
        b = bucket.name
    )
}

fn run_event(bucket: &Bucket, event: &str) -> Outcome {
    let scratch = Scratch::new();
    let mut args = bucket.flags();
    args.extend(["--event".to_string(), event.to_string()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    scratch.run(&pipeline(bucket), &args)
}

fn setup() -> Bucket {
    let bucket = Bucket::new(Backend::Moto);
    bucket.put(KEY, "id,amount\n1,10\n2,20\n");
    bucket
}

fn assert_routed(bucket: &Bucket, out: &Outcome) {
    assert_eq!(out.code, 0, "{}", out.report);
    assert_eq!(out.table()["table"], "orders");
    assert_eq!(out.table()["version"], "20201230_V0001");
    assert_eq!(out.table()["rows_in"], 2);
    assert_eq!(out.table()["inputs"][0]["files"][0], bucket.uri(KEY));
    let data = bucket
        .keys()
        .into_iter()
        .find(|k| k.starts_with("out/acme/orders/rows/part-"))
        .expect("a data file");
    let scratch = Scratch::new();
    let columns =
        sluice_tests::read_parquet(&bucket.download(&data, &scratch.path("d.parquet"))).columns();
    assert_eq!(
        columns,
        ["id: int64", "amount_acme: int64"],
        "captures reach the plugin config"
    );
}

#[test]
fn an_s3_notification_with_an_encoded_key() {
    let bucket = setup();
    let event = serde_json::json!({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1", "eventName": "ObjectCreated:Put",
        "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": bucket.name, "arn": format!("arn:aws:s3:::{}", bucket.name)},
               "object": {"key": ENCODED, "size": 21, "eTag": "0123456789abcdef", "sequencer": "0A1B2C3D4E5F678901"}}
    }]});
    assert_routed(&bucket, &run_event(&bucket, &event.to_string()));
}

#[test]
fn an_s3_notification_delivered_through_sqs() {
    let bucket = setup();
    let inner = serde_json::json!({"Records": [{"eventSource": "aws:s3", "s3": {"bucket": {"name": bucket.name}, "object": {"key": ENCODED}}}]});
    let event = serde_json::json!({"Records": [{"messageId": "1", "eventSource": "aws:sqs", "body": inner.to_string()}]});
    assert_routed(&bucket, &run_event(&bucket, &event.to_string()));
}

#[test]
fn an_eventbridge_object_created_event_with_a_plain_key() {
    let bucket = setup();
    let event = serde_json::json!({
        "version": "0", "id": "17793124-05d4-b198-2fde-7ededc63b103", "detail-type": "Object Created", "source": "aws.s3",
        "account": "111122223333", "time": "2026-11-21T12:00:00Z", "region": "us-east-1",
        "resources": [format!("arn:aws:s3:::{}", bucket.name)],
        "detail": {"version": "0", "bucket": {"name": bucket.name},
                   "object": {"key": KEY, "size": 21, "etag": "0123456789abcdef", "sequencer": "00617F08299329D189"},
                   "request-id": "N4N7GDK58NMKJ12R", "requester": "123456789012", "reason": "PutObject"}
    });
    assert_routed(&bucket, &run_event(&bucket, &event.to_string()));
}

#[test]
fn step_functions_inputs_bucket_and_key_or_an_object_record() {
    let bucket = setup();
    let plain = serde_json::json!({"bucket": bucket.name, "key": KEY});
    assert_routed(&bucket, &run_event(&bucket, &plain.to_string()));
    // Pipeline 004's state machine passes the S3 object record: URL-encoded, no bucket.
    let record = serde_json::json!({"key": ENCODED, "size": 21, "eTag": "0123456789abcdef", "versionId": "null", "sequencer": "0A1B2C3D4E5F678901"});
    let again = run_event(&bucket, &record.to_string());
    assert_eq!(again.code, 0, "{}", again.report);
    assert_eq!(
        again.table()["status"],
        "already_done",
        "the same object and version again: nothing to do"
    );
}

#[test]
fn an_object_no_trigger_matches_is_a_clear_error() {
    let bucket = setup();
    let event = serde_json::json!({"bucket": bucket.name, "key": "elsewhere/file.csv"});
    let out = run_event(&bucket, &event.to_string());
    assert_eq!(out.code, EXIT_CONFIG);
}
