//! Step Functions task-token callbacks: while a run lasts, `SendTaskHeartbeat` on an
//! interval (so `HeartbeatSeconds` can catch a dead task); at the end `SendTaskSuccess` with
//! the run report, or `SendTaskFailure` with an error code and a cause that says what
//! failed and where.

use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use aws_sdk_sfn::error::DisplayErrorContext;
use aws_sdk_sfn::Client;

use crate::s3::block_on;

/// Step Functions refuses outputs over 256 KiB and causes over 32 KiB.
const MAX_OUTPUT: usize = 256 * 1024;
const MAX_CAUSE: usize = 32 * 1024;

#[derive(Debug, thiserror::Error)]
#[error("Step Functions {operation}: {message}")]
pub struct CallbackError {
    operation: &'static str,
    message: String,
}

/// Where to reach Step Functions: the standard AWS chain, with an optional endpoint.
#[derive(Debug, Clone, Default)]
pub struct SfnSettings {
    pub endpoint: Option<String>,
    pub region: Option<String>,
}

/// A task token being kept alive; finish it with [`TaskToken::succeed`] or [`TaskToken::fail`].
pub struct TaskToken {
    client: Client,
    token: String,
    stop: Option<mpsc::Sender<()>>,
    heartbeat: Option<JoinHandle<()>>,
}

impl TaskToken {
    /// Starts heartbeats every `interval` (none when it is zero).
    pub fn start(token: String, interval: Duration, settings: &SfnSettings) -> Self {
        let shared = crate::sdk_config(settings.endpoint.as_deref(), settings.region.as_deref());
        let client = Client::new(&shared);
        let (stop, stopped) = mpsc::channel::<()>();
        let heartbeat = (!interval.is_zero()).then(|| {
            let (client, token) = (client.clone(), token.clone());
            std::thread::Builder::new()
                .name("sluice-heartbeat".into())
                .spawn(move || {
                    while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(interval)
                    {
                        if let Err(e) =
                            block_on(client.send_task_heartbeat().task_token(&token).send())
                        {
                            tracing::warn!(
                                "Step Functions heartbeat failed: {}",
                                DisplayErrorContext(&e)
                            );
                        }
                    }
                })
                .expect("spawning the heartbeat thread")
        });
        TaskToken {
            client,
            token,
            stop: Some(stop),
            heartbeat,
        }
    }

    fn stop_heartbeats(&mut self) {
        drop(self.stop.take());
        if let Some(h) = self.heartbeat.take() {
            let _ = h.join();
        }
    }

    /// Reports success with `output` (the run report; a summary if it is too large).
    pub fn succeed(
        mut self,
        output: &str,
        summary: impl FnOnce() -> String,
    ) -> Result<(), CallbackError> {
        self.stop_heartbeats();
        let output = if output.len() <= MAX_OUTPUT {
            output.to_string()
        } else {
            summary()
        };
        block_on(
            self.client
                .send_task_success()
                .task_token(&self.token)
                .output(output)
                .send(),
        )
        .map(|_| ())
        .map_err(|e| CallbackError {
            operation: "SendTaskSuccess",
            message: DisplayErrorContext(&e).to_string(),
        })
    }

    /// Reports failure: `error` is a short code (`Sluice.Data`), `cause` the message.
    pub fn fail(mut self, error: &str, cause: &str) -> Result<(), CallbackError> {
        self.stop_heartbeats();
        let mut cause = cause.to_string();
        if cause.len() > MAX_CAUSE {
            let mut end = MAX_CAUSE - 3;
            while !cause.is_char_boundary(end) {
                end -= 1;
            }
            cause.truncate(end);
            cause.push_str("...");
        }
        block_on(
            self.client
                .send_task_failure()
                .task_token(&self.token)
                .error(error)
                .cause(cause)
                .send(),
        )
        .map(|_| ())
        .map_err(|e| CallbackError {
            operation: "SendTaskFailure",
            message: DisplayErrorContext(&e).to_string(),
        })
    }
}

impl Drop for TaskToken {
    fn drop(&mut self) {
        self.stop_heartbeats();
    }
}
