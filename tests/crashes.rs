//! Crash consistency: an append-mode table with two outputs (rows and rejects) and three
//! partitions, run as a child process and killed with SIGKILL at a random moment, then run
//! again to completion, fifty times, with new input each time; locally and on an S3 server.
//! After every kill and rerun the visible table must be exactly the committed units: every
//! unit's files present once, no data file outside a manifest, nothing left staged.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sluice_tests::s3::{Backend, Bucket};
use sluice_tests::{cache_dir, files_under, Scratch, TESTBED_WASM};

const KILLS: usize = 50;
const ROWS: usize = 20_000;

/// Where the table is written, and how to see what is there.
trait Target {
    fn location(&self) -> String;
    fn flags(&self) -> Vec<String>;
    /// Every key under the location (relative to it), hidden files included.
    fn keys(&self) -> Vec<String>;
    fn read(&self, key: &str) -> Vec<u8>;
    /// Staged objects nobody will commit: hidden temporary files, open uploads.
    fn staged(&self) -> Vec<String>;
}

struct Local(std::path::PathBuf);

impl Target for Local {
    fn location(&self) -> String {
        self.0.display().to_string()
    }
    fn flags(&self) -> Vec<String> {
        Vec::new()
    }
    fn keys(&self) -> Vec<String> {
        files_under(&self.0)
    }
    fn read(&self, key: &str) -> Vec<u8> {
        std::fs::read(self.0.join(key)).unwrap()
    }
    fn staged(&self) -> Vec<String> {
        self.keys()
            .into_iter()
            .filter(|k| k.ends_with(".tmp"))
            .collect()
    }
}

struct OnS3(Bucket);

impl Target for OnS3 {
    fn location(&self) -> String {
        self.0.uri("out/t")
    }
    fn flags(&self) -> Vec<String> {
        self.0.flags()
    }
    fn keys(&self) -> Vec<String> {
        self.0
            .keys()
            .into_iter()
            .filter_map(|k| k.strip_prefix("out/t/").map(str::to_owned))
            .collect()
    }
    fn read(&self, key: &str) -> Vec<u8> {
        self.0.get(&format!("out/t/{key}")).unwrap()
    }
    fn staged(&self) -> Vec<String> {
        self.0.open_uploads()
    }
}

fn pipeline(input: &Path, location: &str) -> String {
    format!(
        "[tables.t]\nplugin = \"{TESTBED_WASM}\"\nconfig = {{ mode = \"reject\", column = \"id\", equals = \"bad\" }}\n\
         input = {{ path = \"{}\", types = {{ id = \"utf8\", day = \"utf8\" }} }}\n\
         output = {{ location = \"{location}\", mode = \"append\", partition = {{ by = \"value\", column = \"day\" }} }}\n",
        input.display()
    )
}

/// Round `i`'s input: new content each round, a rejected row in every 100.
fn input(round: usize) -> String {
    let mut text = String::from("id,day,round\n");
    for row in 0..ROWS {
        let id = if row % 100 == 7 {
            "bad".to_string()
        } else {
            row.to_string()
        };
        text.push_str(&format!("{id},2024-01-0{},{round}\n", 1 + row % 3));
    }
    text
}

/// A small deterministic generator for the kill offsets (the seed is printed).
struct Offsets(u64);

impl Offsets {
    fn next(&mut self, below_ms: u64) -> Duration {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        Duration::from_millis((self.0 >> 33) % below_ms)
    }
}

fn sluice(scratch: &Scratch, target: &dyn Target) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sluice-cli"));
    command
        .args([
            "run",
            &scratch.path("pipeline.toml").display().to_string(),
            "--progress",
            "never",
            "--log",
            "error",
        ])
        .args([
            "--lock-lease",
            "1",
            "--lock-wait",
            "15",
            "--cache-dir",
            &cache_dir().display().to_string(),
        ])
        .args(target.flags())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command
}

/// The committed units' files, from their manifests, and every data file there is.
fn check_visible(target: &dyn Target, rounds: usize) -> Result<(), String> {
    let keys = target.keys();
    let manifests: Vec<&String> = keys
        .iter()
        .filter(|k| k.starts_with("_sluice/commits/"))
        .collect();
    if manifests.len() != rounds {
        return Err(format!(
            "{} committed units after {rounds} rounds",
            manifests.len()
        ));
    }
    let mut listed = BTreeSet::new();
    for key in manifests {
        let manifest: serde_json::Value =
            serde_json::from_slice(&target.read(key)).map_err(|e| e.to_string())?;
        let (mut rows, mut rejects) = (0, 0);
        for file in manifest["files"].as_array().unwrap() {
            let uri = file["uri"].as_str().unwrap();
            let key = uri
                .rsplit_once("/out/t/")
                .or_else(|| uri.rsplit_once("/t/"))
                .map(|(_, k)| k)
                .unwrap();
            if !listed.insert(key.to_string()) {
                return Err(format!("{key} is in two manifests"));
            }
            match file["output"].as_str() {
                Some("rejects") => rejects += file["rows"].as_u64().unwrap(),
                _ => rows += file["rows"].as_u64().unwrap(),
            }
        }
        if (rows, rejects) != ((ROWS - ROWS / 100) as u64, (ROWS / 100) as u64) {
            return Err(format!(
                "unit {key} holds {rows} rows and {rejects} rejects"
            ));
        }
    }
    let data: BTreeSet<String> = keys
        .iter()
        .filter(|k| k.ends_with(".parquet") && !k.split('/').any(|p| p.starts_with('.')))
        .cloned()
        .collect();
    if data != listed {
        let extra: Vec<_> = data.difference(&listed).collect();
        let missing: Vec<_> = listed.difference(&data).collect();
        return Err(format!(
            "files outside a manifest: {extra:?}; listed but missing: {missing:?}"
        ));
    }
    match target.staged().as_slice() {
        [] => Ok(()),
        left => Err(format!("left staged: {left:?}")),
    }
}

/// Kills a run at random moments, reruns it, and checks the table after each round.
fn kill_and_rerun(scratch: &Scratch, target: &dyn Target) {
    let seed = std::env::var("SLUICE_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    let mut offsets = Offsets(seed);
    scratch.write(
        "pipeline.toml",
        pipeline(&scratch.path("in/rows.csv"), &target.location()),
    );
    // A first full run tells how long a run takes, so kills land all along it.
    scratch.write("in/rows.csv", input(0));
    let started = Instant::now();
    assert!(sluice(scratch, target).status().unwrap().success());
    let full = started.elapsed().as_millis() as u64 + 50;
    let (mut torn, mut whole_before_rerun) = (Vec::new(), 0);
    for round in 1..=KILLS {
        scratch.write("in/rows.csv", input(round));
        let mut child = sluice(scratch, target).spawn().unwrap();
        std::thread::sleep(offsets.next(full));
        let _ = child.kill();
        let _ = child.wait();
        whole_before_rerun += usize::from(check_visible(target, round + 1).is_ok());
        let rerun = sluice(scratch, target).status().unwrap();
        assert!(
            rerun.success(),
            "round {round}: the rerun failed (seed {seed})"
        );
        if let Err(why) = check_visible(target, round + 1) {
            torn.push(format!("round {round}: {why}"));
        }
    }
    println!(
        "{KILLS} kills (seed {seed}, offsets below {full} ms): {whole_before_rerun} already whole before the rerun, \
         {} torn or duplicated",
        torn.len()
    );
    assert!(torn.is_empty(), "seed {seed}: {torn:#?}");
}

#[test]
fn killed_runs_leave_whole_units_locally() {
    let scratch = Scratch::new();
    kill_and_rerun(&scratch, &Local(scratch.path("out/t")));
}

#[test]
fn killed_runs_leave_whole_units_on_s3() {
    let scratch = Scratch::new();
    kill_and_rerun(&scratch, &OnS3(Bucket::new(Backend::Moto)));
}
