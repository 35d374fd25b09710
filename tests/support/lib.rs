//! Test support: a scratch folder per test, the command line run in-process, and Parquet
//! read back by pyarrow (an independent reader).

// A test reads best as one story, so the 60-line limit for host/ functions is not applied.
#![allow(clippy::too_many_lines)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

pub mod fault_proxy;
pub mod s3;
pub mod sfn;

/// The test-only plugin built by build.rs (see `guests/testbed`).
pub const TESTBED_WASM: &str = env!("SLUICE_TESTBED_WASM");

/// Exit codes of the command line.
pub use sluice::cli::{EXIT_CONFIG, EXIT_DATA, EXIT_IO, EXIT_PLUGIN};

/// A scratch folder holding a pipeline, its inputs and its outputs.
pub struct Scratch {
    dir: tempfile::TempDir,
}

/// What a run returned.
pub struct Outcome {
    pub code: u8,
    pub report: Value,
}

impl Outcome {
    /// The first table's report.
    pub fn table(&self) -> &Value {
        &self.report["tables"][0]
    }

    pub fn error(&self) -> String {
        self.table()["error"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

impl Default for Scratch {
    fn default() -> Self {
        Self::new()
    }
}

impl Scratch {
    pub fn new() -> Self {
        Scratch {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn write(&self, rel: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, bytes).unwrap();
        path
    }

    pub fn write_gz(&self, rel: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(bytes.as_ref()).unwrap();
        self.write(rel, enc.finish().unwrap())
    }

    /// Writes `pipeline.toml` and runs `sluice run` on it with `args`.
    pub fn run(&self, pipeline: &str, args: &[&str]) -> Outcome {
        self.run_named("pipeline.toml", pipeline, args)
    }

    /// Like [`Scratch::run`] with the pipeline (and its report) under their own names, so
    /// runs can share a scratch folder at the same time.
    pub fn run_named(&self, name: &str, pipeline: &str, args: &[&str]) -> Outcome {
        let file = self.write(name, pipeline);
        let report = self.path(&format!("{name}.report.json"));
        let _ = std::fs::remove_file(&report);
        let mut argv: Vec<String> = vec!["sluice".into(), "run".into(), file.display().to_string()];
        argv.extend([
            "--report".into(),
            report.display().to_string(),
            "--progress".into(),
            "never".into(),
        ]);
        argv.extend(["--log".into(), "warn".into()]);
        argv.extend(["--cache-dir".into(), cache_dir().display().to_string()]);
        argv.extend(args.iter().map(|a| a.to_string()));
        let code = sluice::cli::main(argv);
        let report = std::fs::read_to_string(&report)
            .map(|t| serde_json::from_str(&t).unwrap())
            .unwrap_or(Value::Null);
        Outcome { code, report }
    }

    /// The files below `out/` that readers see: [`Scratch::output_files`] without the
    /// state folders (`_sluice/`: which table a location holds, locks, manifests), and the
    /// files of replace-mode tables through their `current` link.
    pub fn data_files(&self) -> Vec<PathBuf> {
        let state = |p: &PathBuf| p.components().any(|c| c.as_os_str() == "_sluice");
        let mut files: Vec<PathBuf> = Vec::new();
        for file in self.output_files() {
            if file.file_name().is_some_and(|n| n == "current") && file.is_symlink() {
                walk(&file.join("."), &mut files);
            } else if !state(&file) {
                files.push(file);
            }
        }
        let mut files: Vec<PathBuf> = files
            .into_iter()
            .map(|f| f.components().filter(|c| c.as_os_str() != ".").collect())
            .collect();
        files.sort();
        files
    }

    /// Every file below the scratch folder's `out/`, hidden ones included.
    pub fn output_files(&self) -> Vec<PathBuf> {
        let mut files = Vec::new();
        walk(&self.path("out"), &mut files);
        files.sort();
        files
    }
}

/// Every file below `dir` (links not followed), as paths relative to it, sorted.
pub fn files_under(dir: &Path) -> Vec<String> {
    let mut files = Vec::new();
    walk(dir, &mut files);
    let mut relative: Vec<String> = files
        .iter()
        .map(|p| p.strip_prefix(dir).unwrap().display().to_string())
        .collect();
    relative.sort();
    relative
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        match entry.file_type() {
            Ok(kind) if kind.is_dir() => walk(&path, files),
            _ => files.push(path),
        }
    }
}

/// A path in the repository (examples, oracles, plugins).
pub fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

/// A one-table pipeline: `input` (the body of an inline TOML table) through passthrough
/// into `out/t/current/rows.parquet`.
pub fn passthrough_pipeline(input: &str) -> String {
    format!("[tables.t]\nplugin = \"passthrough\"\ninput = {{ {input} }}\noutput = {{ location = \"out/t\" }}\n")
}

/// Compiled plugins shared by all tests, so each is compiled once per machine.
pub fn cache_dir() -> PathBuf {
    std::env::temp_dir().join("sluice-test-plugin-cache")
}

/// A Parquet file as pyarrow reads it.
pub struct Parquet {
    pub json: Value,
}

impl Parquet {
    pub fn rows(&self) -> &Vec<Value> {
        self.json["rows"].as_array().unwrap()
    }

    /// `name: type` per column, as pyarrow names the types.
    pub fn columns(&self) -> Vec<String> {
        self.json["schema"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| format!("{}: {}", f[0].as_str().unwrap(), f[1].as_str().unwrap()))
            .collect()
    }

    pub fn metadata(&self, key: &str) -> Option<String> {
        self.json["metadata"][key].as_str().map(str::to_string)
    }
}

/// The Python the tests run (with pyarrow): `SLUICE_TEST_PYTHON`, else the venv that
/// `scripts/setup-test-servers.sh` made, else `python3`.
pub fn python() -> String {
    if let Ok(python) = std::env::var("SLUICE_TEST_PYTHON") {
        return python;
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv-moto/bin/python3");
    if venv.exists() {
        return venv.display().to_string();
    }
    "python3".into()
}

/// The lines a Python script (run by [`python`]) prints, given `args`; panics with its
/// stderr when it fails.
pub fn python_lines(script: &str, args: &[&std::ffi::OsStr]) -> Vec<String> {
    let out = Command::new(python())
        .args(["-c", script])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running python: {e}"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// Reads a Parquet file with pyarrow. Panics with pyarrow's message if it cannot.
pub fn read_parquet(path: &Path) -> Parquet {
    let python = python();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("support/read_parquet.py");
    let out = Command::new(&python)
        .arg(script)
        .arg(path)
        .output()
        .unwrap_or_else(|e| panic!("running {python}: {e}"));
    assert!(
        out.status.success(),
        "pyarrow could not read {}: {}\n(install it with `pip install pyarrow`)",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    Parquet {
        json: serde_json::from_slice(&out.stdout).unwrap(),
    }
}

/// `serde_json::json!` rows, for comparing with [`Parquet::rows`].
#[macro_export]
macro_rules! rows {
    ($($rows:tt)*) => { serde_json::json!([$($rows)*]).as_array().expect("rows").clone() };
}

/// `YYYY-MM-DDTHH:MM:SS` for whole seconds since the epoch (UTC).
pub fn rfc3339_seconds(seconds: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(seconds).expect("a representable time");
    t.format(time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second]"
    ))
    .expect("formats")
}
