//! Real S3 servers for the tests, over HTTP on 127.0.0.1:
//! - moto in server mode (a Python process, started once per test binary), which behaves
//!   like AWS on conditional writes, multipart uploads and error codes;
//! - s3s-fs embedded in-process, which also checks SigV4 signatures and checksums.
//!
//! Both use the same static credentials, which the in-process `sluice` runs pick up from
//! the environment through the standard AWS chain.

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;

pub const ACCESS_KEY: &str = "sluice-test-key";
pub const SECRET_KEY: &str = "sluice-test-secret";

/// Which server a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Moto,
    S3sFs,
}

/// A running server.
pub struct Server {
    pub endpoint: String,
    _child: Option<Child>,
}

/// The runtime behind the tests' own S3 client (setting up and checking buckets).
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    })
}

fn credentials_in_env() {
    static SET: OnceLock<()> = OnceLock::new();
    SET.get_or_init(|| {
        // Empty AWS config files, so no developer profile leaks into the tests.
        let empty = std::env::temp_dir().join("sluice-test-empty-aws-config");
        std::fs::write(&empty, "").unwrap();
        let empty = empty.display().to_string();
        // Set once, before any run reads them; the AWS chain reads these first.
        for (k, v) in [
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
            ("AWS_REGION", "us-east-1"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("AWS_CONFIG_FILE", empty.as_str()),
            ("AWS_SHARED_CREDENTIALS_FILE", empty.as_str()),
        ] {
            std::env::set_var(k, v);
        }
    });
}

pub fn server(backend: Backend) -> &'static Server {
    credentials_in_env();
    match backend {
        Backend::Moto => {
            static MOTO: OnceLock<Server> = OnceLock::new();
            MOTO.get_or_init(start_moto)
        }
        Backend::S3sFs => {
            static S3S: OnceLock<Server> = OnceLock::new();
            S3S.get_or_init(start_s3s_fs)
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The moto_server binary: `$SLUICE_MOTO_SERVER`, the repository's `.venv-moto`, or PATH.
fn moto_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("SLUICE_MOTO_SERVER") {
        return path.into();
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv-moto/bin/moto_server");
    if venv.exists() {
        return venv;
    }
    "moto_server".into()
}

fn start_moto() -> Server {
    let port = free_port();
    let binary = moto_binary();
    let mut command = Command::new(&binary);
    command
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // The server dies with the test process, even when the test binary is killed.
    unsafe {
        use std::os::unix::process::CommandExt;
        command.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    // PR_SET_PDEATHSIG fires when the spawning *thread* ends, so spawn from one that never does.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        tx.send(command.spawn()).unwrap();
        loop {
            std::thread::park();
        }
    });
    let child = rx.recv().unwrap().unwrap_or_else(|e| {
        panic!(
            "cannot start {} ({e}): run `scripts/setup-test-servers.sh` or set SLUICE_MOTO_SERVER",
            binary.display()
        )
    });
    let endpoint = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !http_ok(port, "/moto-api/") {
        assert!(
            Instant::now() < deadline,
            "moto_server did not answer on {endpoint} within 60 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Server {
        endpoint,
        _child: Some(child),
    }
}

/// A bare HTTP GET, so readiness needs no client library.
fn http_ok(port: u16, path: &str) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.1 200")
}

fn start_s3s_fs() -> Server {
    let root = std::env::temp_dir().join(format!("sluice-s3s-fs-{}", std::process::id()));
    std::fs::create_dir_all(&root).unwrap();
    Server {
        endpoint: format!("http://{}", serve_s3s_fs(root, 0)),
        _child: None,
    }
}

/// Serves s3s-fs over `root` on 127.0.0.1:`port` (0: any free port) from its own thread
/// and runtime, so it outlives every test; returns the address it listens on.
pub fn serve_s3s_fs(root: PathBuf, port: u16) -> SocketAddr {
    use hyper_util::rt::{TokioExecutor, TokioIo};
    use hyper_util::server::conn::auto::Builder as ConnBuilder;
    use s3s::{auth::SimpleAuth, service::S3ServiceBuilder};

    let (tx, rx) = std::sync::mpsc::channel::<SocketAddr>();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let mut builder = S3ServiceBuilder::new(s3s_fs::FileSystem::new(root).unwrap());
            builder.set_auth(SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
            let service = builder.build();
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
                .await
                .unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            let http = ConnBuilder::new(TokioExecutor::new());
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    continue;
                };
                let connection = http
                    .serve_connection(TokioIo::new(socket), service.clone())
                    .into_owned();
                tokio::spawn(async move {
                    let _ = connection.await;
                });
            }
        });
    });
    rx.recv().unwrap()
}

/// A fresh bucket on a server, with a client to set up inputs and check outputs.
pub struct Bucket {
    pub backend: Backend,
    pub name: String,
    pub endpoint: String,
    pub client: Client,
}

pub fn client_for(endpoint: &str) -> Client {
    credentials_in_env();
    let conf = runtime().block_on(
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(endpoint)
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .load(),
    );
    Client::from_conf(
        aws_sdk_s3::config::Builder::from(&conf)
            .force_path_style(true)
            .build(),
    )
}

impl Bucket {
    pub fn new(backend: Backend) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let endpoint = server(backend).endpoint.clone();
        let name = format!(
            "sluice-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        let client = client_for(&endpoint);
        runtime()
            .block_on(client.create_bucket().bucket(&name).send())
            .expect("create bucket");
        Bucket {
            backend,
            name,
            endpoint,
            client,
        }
    }

    /// `s3://bucket/key`.
    pub fn uri(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.name)
    }

    pub fn put(&self, key: &str, body: impl Into<Vec<u8>>) {
        let body = ByteStream::from(body.into());
        runtime()
            .block_on(
                self.client
                    .put_object()
                    .bucket(&self.name)
                    .key(key)
                    .body(body)
                    .send(),
            )
            .expect("put");
    }

    pub fn get(&self, key: &str) -> Option<Vec<u8>> {
        let result = runtime().block_on(async {
            let object = self
                .client
                .get_object()
                .bucket(&self.name)
                .key(key)
                .send()
                .await
                .ok()?;
            Some(object.body.collect().await.ok()?.into_bytes().to_vec())
        });
        result
    }

    /// Every key in the bucket, sorted.
    pub fn keys(&self) -> Vec<String> {
        runtime().block_on(async {
            let mut keys = Vec::new();
            let mut token = None;
            loop {
                let page = self
                    .client
                    .list_objects_v2()
                    .bucket(&self.name)
                    .set_continuation_token(token)
                    .send()
                    .await
                    .unwrap();
                keys.extend(
                    page.contents()
                        .iter()
                        .filter_map(|o| o.key().map(str::to_owned)),
                );
                match page.next_continuation_token() {
                    Some(t) => token = Some(t.to_string()),
                    None => break,
                }
            }
            keys.sort();
            keys
        })
    }

    /// Multipart uploads started and neither completed nor aborted (moto only: s3s-fs
    /// does not implement ListMultipartUploads).
    pub fn open_uploads(&self) -> Vec<String> {
        let out = runtime()
            .block_on(
                self.client
                    .list_multipart_uploads()
                    .bucket(&self.name)
                    .send(),
            )
            .expect("list uploads");
        out.uploads()
            .iter()
            .filter_map(|u| u.key().map(str::to_owned))
            .collect()
    }

    /// Downloads an object into the scratch folder, for pyarrow to read.
    pub fn download(&self, key: &str, to: &std::path::Path) -> PathBuf {
        let bytes = self
            .get(key)
            .unwrap_or_else(|| panic!("no object {}", self.uri(key)));
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::write(to, bytes).unwrap();
        to.to_path_buf()
    }

    /// The `sluice run` flags that point at this server.
    pub fn flags(&self) -> Vec<String> {
        vec![
            "--s3-endpoint".into(),
            self.endpoint.clone(),
            "--s3-path-style".into(),
        ]
    }
}
