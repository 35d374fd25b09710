//! A local S3 server (s3s-fs) for trying Sluice against S3 and for the S3 benchmark:
//! `s3-test-server --root DIR [--port 9000]` serves `DIR/<bucket>/<key>` over HTTP on
//! 127.0.0.1 with the test credentials (`sluice-test-key` / `sluice-test-secret`).

// A test reads best as one story, so the 60-line limit for host/ functions is not applied.
#![allow(clippy::too_many_lines)]

use std::path::PathBuf;

fn main() {
    let mut root: Option<PathBuf> = None;
    let mut port: u16 = 9000;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--root" => root = args.next().map(PathBuf::from),
            "--port" => {
                port = args
                    .next()
                    .and_then(|p| p.parse().ok())
                    .expect("--port takes a number")
            }
            other => {
                panic!("unknown argument {other}; usage: s3-test-server --root DIR [--port 9000]")
            }
        }
    }
    let root = root.expect("usage: s3-test-server --root DIR [--port 9000]");
    std::fs::create_dir_all(&root).expect("creating the root folder");
    let addr = sluice_tests::s3::serve_s3s_fs(root, port);
    println!("listening on http://{addr}");
    loop {
        std::thread::park();
    }
}
