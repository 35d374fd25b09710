//! Step Functions on the moto server: state machines that wait for a task token, as the
//! real service runs them (moto executes the ASL once `execute_state_machine` is on).

use std::io::{Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use aws_sdk_sfn::Client;

use crate::s3::{runtime, server, Backend};

/// A bare HTTP request to the moto server: (status, body).
fn http(endpoint: &str, method: &str, path: &str, content_type: &str, body: &str) -> (u16, String) {
    http_as(endpoint, method, path, content_type, body, "")
}

/// moto picks the service from the credential scope of the Authorization header.
fn http_as(
    endpoint: &str,
    method: &str,
    path: &str,
    content_type: &str,
    body: &str,
    service: &str,
) -> (u16, String) {
    let auth = if service.is_empty() {
        String::new()
    } else {
        format!("Authorization: AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=0\r\n")
    };
    let address = endpoint.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\n{auth}Content-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// The moto endpoint, with state machine execution switched on.
pub fn endpoint() -> String {
    static ON: OnceLock<String> = OnceLock::new();
    ON.get_or_init(|| {
        let endpoint = server(Backend::Moto).endpoint.clone();
        let (status, body) = http(
            &endpoint,
            "POST",
            "/moto-api/config",
            "application/json",
            r#"{"stepfunctions": {"execute_state_machine": true}}"#,
        );
        assert!(
            status == 200 || status == 201,
            "switching moto's Step Functions on: {status} {body}"
        );
        endpoint
    })
    .clone()
}

pub fn client() -> Client {
    let endpoint = endpoint();
    let conf = runtime().block_on(
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(&endpoint)
            .region(aws_sdk_sfn::config::Region::new("us-east-1"))
            .load(),
    );
    Client::new(&conf)
}

/// An SQS queue (through the query API) for the task state to send its token to.
fn queue() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let name = format!(
        "sluice-tokens-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    );
    let (status, body) = http_as(
        &endpoint(),
        "POST",
        "/",
        "application/x-www-form-urlencoded",
        &format!("Action=CreateQueue&QueueName={name}&Version=2012-11-05"),
        "sqs",
    );
    assert_eq!(status, 200, "CreateQueue: {body}");
    let start = body
        .find("<QueueUrl>")
        .unwrap_or_else(|| panic!("no queue URL in {body}"))
        + "<QueueUrl>".len();
    body[start..start + body[start..].find("</QueueUrl>").unwrap()].to_string()
}

/// An execution of a one-state machine waiting on `sqs:sendMessage.waitForTaskToken`.
pub struct Execution {
    pub arn: String,
    client: Client,
}

impl Execution {
    pub fn start(input: &str, heartbeat_seconds: Option<u32>) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let client = client();
        let mut task = serde_json::json!({
            "Type": "Task",
            "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
            "Parameters": {"QueueUrl": queue(), "MessageBody": {"token.$": "$$.Task.Token", "input.$": "$"}},
            "End": true
        });
        if let Some(seconds) = heartbeat_seconds {
            task["HeartbeatSeconds"] = seconds.into();
        }
        let definition = serde_json::json!({"StartAt": "Run", "States": {"Run": task}});
        let name = format!(
            "sluice-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        let machine = runtime()
            .block_on(
                client
                    .create_state_machine()
                    .name(name)
                    .definition(definition.to_string())
                    .role_arn("arn:aws:iam::123456789012:role/sluice-test")
                    .send(),
            )
            .expect("create state machine");
        let started = runtime()
            .block_on(
                client
                    .start_execution()
                    .state_machine_arn(machine.state_machine_arn())
                    .input(input)
                    .send(),
            )
            .expect("start execution");
        Execution {
            arn: started.execution_arn().to_string(),
            client,
        }
    }

    /// The task token the waiting state handed out.
    pub fn token(&self) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let history = runtime()
                .block_on(
                    self.client
                        .get_execution_history()
                        .execution_arn(&self.arn)
                        .send(),
                )
                .expect("history");
            for event in history.events() {
                if let Some(details) = event.task_scheduled_event_details() {
                    let parameters: serde_json::Value =
                        serde_json::from_str(details.parameters()).unwrap();
                    let body = &parameters["MessageBody"];
                    let body: serde_json::Value = match body.as_str() {
                        Some(text) => serde_json::from_str(text).unwrap(),
                        None => body.clone(),
                    };
                    return body["token"].as_str().expect("a token").to_string();
                }
            }
            assert!(
                Instant::now() < deadline,
                "no TaskScheduled event within 60 s"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Waits for the execution to end: (status, output, error).
    pub fn outcome(&self) -> (String, Option<String>, Option<String>) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let described = runtime()
                .block_on(
                    self.client
                        .describe_execution()
                        .execution_arn(&self.arn)
                        .send(),
                )
                .expect("describe");
            let status = described.status().as_str().to_string();
            if status != "RUNNING" {
                let error = described
                    .error()
                    .map(str::to_owned)
                    .or_else(|| self.failure_error());
                return (status, described.output().map(str::to_owned), error);
            }
            assert!(
                Instant::now() < deadline,
                "the execution is still RUNNING after 60 s"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn failure_error(&self) -> Option<String> {
        let history = runtime()
            .block_on(
                self.client
                    .get_execution_history()
                    .execution_arn(&self.arn)
                    .send(),
            )
            .ok()?;
        history.events().iter().find_map(|e| {
            e.execution_failed_event_details()
                .and_then(|d| d.error().map(str::to_owned))
                .or_else(|| {
                    e.task_failed_event_details()
                        .and_then(|d| d.error().map(str::to_owned))
                })
        })
    }
}
