//! An HTTP proxy in front of an S3 server that injects faults by rule: error statuses,
//! connections dropped mid-request, response bodies cut short. Requests that match no
//! rule are forwarded untouched.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};

/// What to do to a matching request.
#[derive(Debug, Clone, Copy)]
pub enum Fault {
    /// Answer with this status and an S3 error body, without forwarding.
    Status(u16),
    /// Read part of the request body, then drop the connection without answering.
    Reset,
    /// Forward, then send only this many bytes of the response body and drop the connection.
    Truncate(usize),
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub method: &'static str,
    /// A substring of the path and query (`partNumber=2`, `uploadId=`, a key).
    pub matches: String,
    pub fault: Fault,
    /// How many matching requests get the fault.
    pub times: usize,
}

pub struct FaultProxy {
    pub endpoint: String,
    rules: Arc<Mutex<Vec<Rule>>>,
    /// `METHOD path?query -> fault or status`, one line per request.
    log: Arc<Mutex<Vec<String>>>,
}

impl FaultProxy {
    pub fn start(upstream: &str) -> Self {
        let rules: Arc<Mutex<Vec<Rule>>> = Arc::default();
        let log: Arc<Mutex<Vec<String>>> = Arc::default();
        let (tx, rx) = std::sync::mpsc::channel::<SocketAddr>();
        let (upstream, r, l) = (
            upstream.trim_end_matches('/').to_string(),
            rules.clone(),
            log.clone(),
        );
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(serve(upstream, r, l, tx));
        });
        FaultProxy {
            endpoint: format!("http://{}", rx.recv().unwrap()),
            rules,
            log,
        }
    }

    pub fn add(&self, method: &'static str, matches: &str, fault: Fault, times: usize) {
        self.rules.lock().unwrap().push(Rule {
            method,
            matches: matches.into(),
            fault,
            times,
        });
    }

    /// Every request seen: `METHOD path?query`, with ` FAULT ...` when one was injected.
    pub fn requests(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// Requests that got a fault.
    pub fn faults(&self) -> Vec<String> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains("FAULT"))
            .cloned()
            .collect()
    }
}

type Body = http_body_util::combinators::BoxBody<Bytes, std::io::Error>;

async fn serve(
    upstream: String,
    rules: Arc<Mutex<Vec<Rule>>>,
    log: Arc<Mutex<Vec<String>>>,
    tx: std::sync::mpsc::Sender<SocketAddr>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    tx.send(listener.local_addr().unwrap()).unwrap();
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    loop {
        let Ok((socket, _)) = listener.accept().await else {
            continue;
        };
        let (upstream, rules, log, client) =
            (upstream.clone(), rules.clone(), log.clone(), client.clone());
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                handle(
                    req,
                    upstream.clone(),
                    rules.clone(),
                    log.clone(),
                    client.clone(),
                )
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(socket), service)
                .await;
        });
    }
}

async fn handle(
    req: Request<Incoming>,
    upstream: String,
    rules: Arc<Mutex<Vec<Rule>>>,
    log: Arc<Mutex<Vec<String>>>,
    client: Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
) -> Result<Response<Body>, std::io::Error> {
    let target = req
        .uri()
        .path_and_query()
        .map(|p| p.to_string())
        .unwrap_or_default();
    let line = format!("{} {target}", req.method());
    let fault = {
        let mut rules = rules.lock().unwrap();
        rules
            .iter_mut()
            .find(|r| {
                r.times > 0 && req.method().as_str() == r.method && target.contains(&r.matches)
            })
            .map(|r| {
                r.times -= 1;
                r.fault
            })
    };
    log.lock().unwrap().push(match fault {
        Some(f) => format!("{line} FAULT {f:?}"),
        None => line.clone(),
    });
    let (parts, body) = req.into_parts();
    match fault {
        Some(Fault::Status(status)) => {
            let _ = body.collect().await;
            let code = if status == 503 {
                "SlowDown"
            } else {
                "InternalError"
            };
            let xml = format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>injected by the test proxy</Message></Error>");
            let response = Response::builder()
                .status(status)
                .header("content-type", "application/xml")
                .body(full(xml.into()))
                .unwrap();
            return Ok(response);
        }
        Some(Fault::Reset) => {
            let mut body = body;
            let _ = body.frame().await;
            return Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "injected connection reset",
            ));
        }
        _ => {}
    }
    let bytes = body
        .collect()
        .await
        .map_err(std::io::Error::other)?
        .to_bytes();
    let mut forward = Request::builder()
        .method(parts.method)
        .uri(format!("{upstream}{target}"));
    for (name, value) in &parts.headers {
        forward = forward.header(name, value);
    }
    let response = client
        .request(forward.body(Full::new(bytes)).unwrap())
        .await
        .map_err(std::io::Error::other)?;
    let (parts, body) = response.into_parts();
    let bytes = body
        .collect()
        .await
        .map_err(std::io::Error::other)?
        .to_bytes();
    let body = match fault {
        Some(Fault::Truncate(keep)) => {
            let head = bytes.slice(..keep.min(bytes.len()));
            let frames: Vec<Result<Frame<Bytes>, std::io::Error>> = vec![
                Ok(Frame::data(head)),
                Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "injected: response cut short",
                )),
            ];
            BodyExt::boxed(StreamBody::new(futures_util_iter(frames)))
        }
        _ => full(bytes),
    };
    Ok(Response::from_parts(parts, body))
}

fn full(bytes: Bytes) -> Body {
    Full::new(bytes)
        .map_err(|never: Infallible| match never {})
        .boxed()
}

/// A stream over a fixed list of frames.
fn futures_util_iter(
    frames: Vec<Result<Frame<Bytes>, std::io::Error>>,
) -> impl futures_core::Stream<Item = Result<Frame<Bytes>, std::io::Error>> + Send + Sync + 'static
{
    struct Frames(std::collections::VecDeque<Result<Frame<Bytes>, std::io::Error>>);
    impl futures_core::Stream for Frames {
        type Item = Result<Frame<Bytes>, std::io::Error>;
        fn poll_next(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Self::Item>> {
            std::task::Poll::Ready(self.0.pop_front())
        }
    }
    Frames(frames.into())
}
