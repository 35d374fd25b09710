//! Crash consistency: a table with two outputs (rows and rejects) and three partitions,
//! run as a child process and killed with SIGKILL at a random moment, then run again to
//! completion, fifty times, with new input each time; locally and on an S3 server, in
//! both commit modes.
//!
//! - Append: after every kill and rerun the visible table must be exactly the committed
//!   units: every unit's files present once, no data file outside a manifest, nothing
//!   left staged.
//! - Replace: after every kill the table readers see (the pointer, and locally the
//!   `current` link) must be one run's whole output, the killed run's or the one before;
//!   after the rerun, exactly the rerun's, with no other generation and nothing staged.

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
    /// The files a reader sees through the `current` link, where the store has links.
    fn through_link(&self) -> Option<Vec<String>> {
        None
    }
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
    fn through_link(&self) -> Option<Vec<String>> {
        Some(files_under(&self.0.join("current")))
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

fn pipeline(input: &Path, location: &str, mode: Mode) -> String {
    let mode = match mode {
        Mode::Append => "mode = \"append\"",
        Mode::Replace => "mode = \"replace\"",
        Mode::Iceberg => "format = \"iceberg\"",
    };
    format!(
        "[tables.t]\nplugin = \"{TESTBED_WASM}\"\nconfig = {{ mode = \"reject\", column = \"id\", equals = \"bad\" }}\n\
         input = {{ path = \"{}\", types = {{ id = \"utf8\", day = \"utf8\" }} }}\n\
         output = {{ location = \"{location}\", {mode}, partition = {{ by = \"value\", column = \"day\" }} }}\n",
        input.display()
    )
}

/// How many rows round `round` has: one more each round, so a table tells which round
/// wrote it.
fn rows_of(round: usize) -> usize {
    ROWS + round
}

/// (rows kept, rows rejected) of round `round`.
fn expected(round: usize) -> (u64, u64) {
    let rejected = (0..rows_of(round)).filter(|row| row % 100 == 7).count() as u64;
    (rows_of(round) as u64 - rejected, rejected)
}

/// Round `i`'s input: new content each round, a rejected row in every 100.
fn input(round: usize) -> String {
    let mut text = String::from("id,day,round\n");
    for row in 0..rows_of(round) {
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
    let (mut listed, mut rounds_seen) = (BTreeSet::new(), BTreeSet::new());
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
        let Some(round) = (0..rounds).find(|r| (rows, rejects) == expected(*r)) else {
            return Err(format!(
                "unit {key} holds {rows} rows and {rejects} rejects"
            ));
        };
        if !rounds_seen.insert(round) {
            return Err(format!("round {round} is committed twice"));
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

/// The key of a manifest's file, relative to the location.
fn relative(file: &serde_json::Value) -> String {
    let uri = file["uri"].as_str().unwrap();
    let (_, key) = uri
        .rsplit_once("/out/t/")
        .or_else(|| uri.rsplit_once("/t/"))
        .unwrap();
    key.to_string()
}

fn is_data(key: &str) -> bool {
    key.ends_with(".parquet") && !key.split('/').any(|p| p.starts_with('.'))
}

/// Replace mode: the table a reader sees (the pointer's generation, whole, and locally
/// the same files through the `current` link) and the round that wrote it. `settled`:
/// also no other generation, nothing staged, as after a run that completed.
fn replace_visible(target: &dyn Target, settled: bool) -> Result<usize, String> {
    let pointer: serde_json::Value =
        serde_json::from_slice(&target.read("_sluice/current.json")).map_err(|e| e.to_string())?;
    let generation = pointer["generation"]
        .as_str()
        .ok_or("a pointer without a generation")?;
    let folder = format!("_sluice/generations/{generation}/");
    let (mut rows, mut rejects, mut listed) = (0, 0, BTreeSet::new());
    for file in pointer["files"].as_array().unwrap() {
        let key = relative(file);
        let bytes = target.read(&key).len() as u64;
        if !key.starts_with(&folder) || bytes != file["bytes"].as_u64().unwrap() {
            return Err(format!("{key} ({bytes} bytes) is not whole in {folder}"));
        }
        match file["output"].as_str() {
            Some("rejects") => rejects += file["rows"].as_u64().unwrap(),
            _ => rows += file["rows"].as_u64().unwrap(),
        }
        listed.insert(key);
    }
    let keys = target.keys();
    let in_generation: BTreeSet<String> = keys
        .iter()
        .filter(|k| is_data(k) && k.starts_with(&folder))
        .cloned()
        .collect();
    if in_generation != listed {
        return Err(format!(
            "{folder} holds {in_generation:?}, the pointer lists {listed:?}"
        ));
    }
    if let Some(seen) = target.through_link() {
        let seen: BTreeSet<String> = seen
            .iter()
            .filter(|k| is_data(k))
            .map(|k| format!("{folder}{k}"))
            .collect();
        if seen != listed {
            return Err(format!(
                "through `current`: {seen:?}, the pointer lists {listed:?}"
            ));
        }
    }
    if settled {
        let others: Vec<_> = keys
            .iter()
            .filter(|k| is_data(k) && !k.starts_with(&folder))
            .collect();
        let staged = target.staged();
        if !others.is_empty() || !staged.is_empty() {
            return Err(format!(
                "left beside the table: {others:?}, staged: {staged:?}"
            ));
        }
    }
    (0..=KILLS)
        .find(|r| (rows, rejects) == expected(*r))
        .ok_or_else(|| format!("{rows} rows and {rejects} rejects: no round wrote that"))
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Mode {
    Append,
    Replace,
    Iceberg,
}

/// An Iceberg table's newest metadata (version hint, then any later numbered file).
fn iceberg_metadata(target: &dyn Target, table: &str) -> Option<serde_json::Value> {
    let keys = target.keys();
    let hint = format!("{table}/metadata/version-hint.text");
    let mut version: u64 = match keys.contains(&hint) {
        true => String::from_utf8_lossy(&target.read(&hint))
            .trim()
            .parse()
            .ok()?,
        false => 0,
    };
    let numbered = |v: u64| format!("{table}/metadata/v{v}.metadata.json");
    while keys.contains(&numbered(version + 1)) {
        version += 1;
    }
    (version > 0).then(|| serde_json::from_slice(&target.read(&numbered(version))).unwrap())
}

/// Iceberg: the rounds whose units the `rows` table has a snapshot of, each snapshot
/// adding exactly one round's rows, no unit twice; the `rejects` table, committed first,
/// has every one of them too.
fn iceberg_rounds(target: &dyn Target) -> Result<BTreeSet<usize>, String> {
    let mut rounds = BTreeSet::new();
    let mut units = BTreeSet::new();
    let snapshots = |table: &str| {
        iceberg_metadata(target, table)
            .and_then(|m| m["snapshots"].as_array().cloned())
            .unwrap_or_default()
    };
    for snapshot in snapshots("rows") {
        let unit = snapshot["summary"]["sluice.unit"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let added: u64 = snapshot["summary"]["added-records"]
            .as_str()
            .unwrap_or("0")
            .parse()
            .unwrap();
        let round = (0..=KILLS).find(|r| expected(*r).0 == added && !rounds.contains(r));
        let Some(round) = round.filter(|_| units.insert(unit.clone())) else {
            return Err(format!(
                "a snapshot of unit {unit} adds {added} rows: no round, or one seen twice"
            ));
        };
        rounds.insert(round);
    }
    let rejected: BTreeSet<String> = snapshots("rejects")
        .iter()
        .map(|s| {
            s["summary"]["sluice.unit"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    if !units.is_subset(&rejected) {
        return Err(format!(
            "rows has units {units:?}, rejects only {rejected:?}"
        ));
    }
    Ok(rounds)
}

/// Whether the table is right after round `round`: settled after a completed run, or
/// after a kill (when `settled` is false). In replace mode a killed run's table must
/// already be whole: the round before's or its own.
fn check(target: &dyn Target, mode: Mode, round: usize, settled: bool) -> Result<(), String> {
    match (mode, settled) {
        (Mode::Append, _) => check_visible(target, round + 1),
        // A kill leaves the snapshot before current, or the killed run's.
        (Mode::Iceberg, settled) => {
            let rounds = iceberg_rounds(target)?;
            let before: BTreeSet<usize> = (0..round).collect();
            let after: BTreeSet<usize> = (0..=round).collect();
            match rounds == after || (!settled && rounds == before) {
                true => Ok(()),
                false => Err(format!(
                    "snapshots of rounds {rounds:?} after round {round}"
                )),
            }
        }
        (Mode::Replace, true) => match replace_visible(target, true)? {
            found if found == round => Ok(()),
            found => Err(format!("the table is round {found}'s")),
        },
        (Mode::Replace, false) => match replace_visible(target, false)? {
            found if found == round || found + 1 == round => Ok(()),
            found => Err(format!("after the kill, the table is round {found}'s")),
        },
    }
}

/// Kills a run at random moments, reruns it, and checks the table after each round.
fn kill_and_rerun(scratch: &Scratch, target: &dyn Target, mode: Mode) {
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
    let name = format!("{mode:?}").to_lowercase();
    scratch.write(
        "pipeline.toml",
        pipeline(&scratch.path("in/rows.csv"), &target.location(), mode),
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
        match check(target, mode, round, false) {
            Ok(()) => whole_before_rerun += 1,
            Err(why) if mode != Mode::Append => torn.push(format!("round {round}, killed: {why}")),
            Err(_) => {} // append mode: the rerun completes the unit
        }
        let rerun = sluice(scratch, target).status().unwrap();
        assert!(
            rerun.success(),
            "round {round}: the rerun failed (seed {seed})"
        );
        if let Err(why) = check(target, mode, round, true) {
            torn.push(format!("round {round}: {why}"));
        }
    }
    println!(
        "{name}: {KILLS} kills (seed {seed}, offsets below {full} ms): {whole_before_rerun} already whole before the rerun, \
         {} torn or duplicated",
        torn.len()
    );
    assert!(torn.is_empty(), "seed {seed}: {torn:#?}");
}

#[test]
fn killed_runs_leave_whole_units_locally() {
    let scratch = Scratch::new();
    kill_and_rerun(&scratch, &Local(scratch.path("out/t")), Mode::Append);
}

#[test]
fn killed_runs_leave_whole_units_on_s3() {
    let scratch = Scratch::new();
    kill_and_rerun(&scratch, &OnS3(Bucket::new(Backend::Moto)), Mode::Append);
}

#[test]
fn killed_replace_runs_leave_one_whole_table_locally() {
    let scratch = Scratch::new();
    kill_and_rerun(&scratch, &Local(scratch.path("out/t")), Mode::Replace);
}

#[test]
fn killed_replace_runs_leave_one_whole_table_on_s3() {
    let scratch = Scratch::new();
    kill_and_rerun(&scratch, &OnS3(Bucket::new(Backend::Moto)), Mode::Replace);
}

#[test]
fn killed_iceberg_runs_leave_the_snapshot_before_locally() {
    let scratch = Scratch::new();
    kill_and_rerun(&scratch, &Local(scratch.path("out/t")), Mode::Iceberg);
    // pyiceberg reads every committed file back: each round's rows, once.
    let table = crate::iceberg::read(&["files", &scratch.path("out/t/rows").display().to_string()]);
    let rows: u64 = (0..=KILLS).map(|r| expected(r).0).sum();
    assert_eq!(table["rows"].as_array().unwrap().len() as u64, rows);
}

#[test]
fn killed_iceberg_runs_leave_the_snapshot_before_on_s3() {
    let scratch = Scratch::new();
    kill_and_rerun(&scratch, &OnS3(Bucket::new(Backend::Moto)), Mode::Iceberg);
}
