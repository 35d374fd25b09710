//! Raw ingest (pipeline 003): every file below a source prefix is routed to an asset by an
//! exact glob on its file name, and copied (or converted to Parquet) to
//! `<target>/<asset>/year=YYYY[/month=MM[/day=DD]]/<asset>_<run timestamp>.<ext>`.
//!
//! Idempotent per source object: before copying, a record naming the target key is written
//! under `<target>/_sluice/ingest/<job>/`; after the copy it is marked done. A rerun skips
//! objects whose record is done for the same content (ETag), and a run that died mid-copy
//! is finished under the key its record chose, so reruns never duplicate a file.

mod config;

use std::time::Instant;

use bytes::Bytes;
use globset::{GlobBuilder, GlobMatcher};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use config::{Asset, IngestFormat, IngestSpec};

use crate::commit::{lock_key, LockSettings, TableLock, STATE_DIR};
use crate::run::{ErrorKind, RunOptions, Status, TableError};
use crate::sink::{date_folder, ParquetSink, Provenance, WriterSettings};
use crate::source::{expand, list_folder, CsvInput, InputObject};
use crate::source::{CsvOptions, Select};
use crate::storage::{join_key, Location, Precondition, Storage, Store};

#[derive(Debug, Clone, Serialize)]
pub struct IngestReport {
    pub ingest: String,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_kind: Option<ErrorKind>,
    pub files: Vec<IngestedFile>,
    /// Source files that no asset's pattern matches: listed, not copied.
    pub unmatched: Vec<String>,
    pub copied: u64,
    pub skipped: u64,
    pub bytes: u64,
    pub duration_ms: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct IngestedFile {
    pub source: String,
    pub asset: String,
    pub target: String,
    pub bytes: u64,
    pub status: Status,
}

/// What is known about one source object's ingestion.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Record {
    source: String,
    etag: String,
    target: String,
    done: bool,
    run_id: String,
}

pub fn run_ingest(
    name: &str,
    spec: &IngestSpec,
    storage: &Storage,
    options: &RunOptions,
) -> IngestReport {
    let started = Instant::now();
    let mut report = IngestReport {
        ingest: name.into(),
        status: Status::Succeeded,
        error: None,
        error_kind: None,
        files: Vec::new(),
        unmatched: Vec::new(),
        copied: 0,
        skipped: 0,
        bytes: 0,
        duration_ms: 0,
    };
    if let Err(error) = execute(name, spec, storage, options, &mut report) {
        report.status = Status::Failed;
        report.error_kind = Some(error.kind());
        report.error = Some(format!("ingest `{name}`: {error}"));
    } else if report.copied == 0 && report.skipped > 0 {
        report.status = Status::AlreadyDone;
    }
    report.duration_ms = started.elapsed().as_millis() as u64;
    report
}

fn execute(
    name: &str,
    spec: &IngestSpec,
    storage: &Storage,
    options: &RunOptions,
    report: &mut IngestReport,
) -> Result<(), TableError> {
    let source = spec.source.as_deref().expect("resolved at load");
    let target = Location::parse(
        spec.target.as_deref().expect("resolved at load"),
        std::path::Path::new(""),
    )?;
    let (store, root) = storage.resolve(&target)?;
    let lock_key = lock_key(&root, &spec.tenant, name, None);
    let settings = LockSettings {
        lease: options.lock_lease,
        wait: options.lock_wait,
        run_id: options.run_id.clone(),
    };
    let lock = TableLock::acquire(store.clone(), &lock_key, &settings)?;

    // Locally, links are not followed at all: a source folder is read as it is.
    let listed = match source.starts_with("s3://") {
        true => expand(&join_key(source, "**"), Select::All, storage),
        false => list_folder(source),
    };
    let objects = listed.map_err(|source| TableError::Source {
        input: "source".into(),
        source,
    })?;
    let routes = route(spec, objects, report)?;
    let run = IngestRun {
        job: name,
        spec,
        store: &*store,
        root: &root,
        options,
    };
    for (asset, files) in routes {
        run.ingest_asset(&asset, files, report)?;
    }
    lock.check()?;
    lock.release()?;
    Ok(())
}

/// Each source object with the one asset whose pattern matches its file name.
fn route(
    spec: &IngestSpec,
    objects: Vec<InputObject>,
    report: &mut IngestReport,
) -> Result<Vec<(Asset, Vec<InputObject>)>, TableError> {
    let matchers: Vec<(Asset, GlobMatcher)> = spec
        .assets
        .iter()
        .map(|a| {
            let glob = GlobBuilder::new(&a.pattern).literal_separator(true).build();
            glob.map(|g| (a.clone(), g.compile_matcher())).map_err(|e| {
                TableError::Config(format!("asset `{}`: pattern {:?}: {e}", a.name, a.pattern))
            })
        })
        .collect::<Result<_, _>>()?;
    let mut routes: Vec<(Asset, Vec<InputObject>)> = spec
        .assets
        .iter()
        .map(|a| (a.clone(), Vec::new()))
        .collect();
    for object in objects {
        let file_name = object.meta.key.rsplit('/').next().unwrap_or_default();
        let hits: Vec<usize> = matchers
            .iter()
            .enumerate()
            .filter(|(_, (_, m))| m.is_match(file_name))
            .map(|(i, _)| i)
            .collect();
        match hits.as_slice() {
            [] => report.unmatched.push(object.uri.clone()),
            [one] => routes[*one].1.push(object),
            many => {
                let names: Vec<&str> = many.iter().map(|&i| matchers[i].0.name.as_str()).collect();
                return Err(TableError::Config(format!(
                    "{} matches several assets: {names:?}",
                    object.uri
                )));
            }
        }
    }
    if !report.unmatched.is_empty() {
        tracing::warn!(
            files = report.unmatched.len(),
            "source files match no asset and were not copied"
        );
    }
    Ok(routes)
}

/// One ingest job's run: where it writes, and how.
struct IngestRun<'a> {
    job: &'a str,
    spec: &'a IngestSpec,
    store: &'a dyn Store,
    root: &'a str,
    options: &'a RunOptions,
}

impl IngestRun<'_> {
    /// The files routed to one asset, each under the run's timestamp (`-0`, `-1`, ... when
    /// several land in one asset).
    fn ingest_asset(
        &self,
        asset: &Asset,
        files: Vec<InputObject>,
        report: &mut IngestReport,
    ) -> Result<(), TableError> {
        let stamp = timestamp(self.options.run_time_micros);
        let days = self.options.run_time_micros.div_euclid(86_400_000_000);
        let many = files.len() > 1;
        for (k, object) in files.into_iter().enumerate() {
            let ext = match self.spec.format {
                IngestFormat::Copy => extension(&object.meta.key),
                IngestFormat::Parquet => "parquet".to_string(),
            };
            let suffix = if many { format!("-{k}") } else { String::new() };
            let folder = date_folder(days, asset.partition);
            let fresh = join_key(
                self.root,
                &format!(
                    "{}/{folder}/{}_{stamp}{suffix}.{ext}",
                    asset.name, asset.name
                ),
            );
            let file = self.ingest_one(asset, &object, fresh)?;
            match file.status {
                Status::AlreadyDone => report.skipped += 1,
                _ => {
                    report.copied += 1;
                    report.bytes += file.bytes;
                }
            }
            report.files.push(file);
        }
        Ok(())
    }

    /// Copies one object unless its record says it is done; the record is written first,
    /// so the target key survives a crash.
    fn ingest_one(
        &self,
        asset: &Asset,
        object: &InputObject,
        fresh_key: String,
    ) -> Result<IngestedFile, TableError> {
        let id = hex::encode(&Sha256::digest(object.uri.as_bytes())[..16]);
        let record_key = join_key(
            self.root,
            &format!("{STATE_DIR}/ingest/{}/{id}.json", self.job),
        );
        let previous: Option<Record> = self
            .store
            .get(&record_key)?
            .and_then(|f| serde_json::from_slice(&f.body).ok());
        let same_content = previous.filter(|r| object.has_identity(&r.etag));
        let file = |target: String, bytes, status| IngestedFile {
            source: object.uri.clone(),
            asset: asset.name.clone(),
            target,
            bytes,
            status,
        };
        if let Some(record) = same_content
            .as_ref()
            .filter(|r| r.done && !self.options.force)
        {
            return Ok(file(self.store.uri(&record.target), 0, Status::AlreadyDone));
        }
        let target_key = same_content.map(|r| r.target).unwrap_or(fresh_key);
        let mut record = Record {
            source: object.uri.clone(),
            etag: object.identity(),
            target: target_key.clone(),
            done: false,
            run_id: self.options.run_id.clone(),
        };
        self.put_record(&record_key, &record)?;
        let bytes = self.write(&target_key, object)?;
        record.done = true;
        self.put_record(&record_key, &record)?;
        Ok(file(self.store.uri(&target_key), bytes, Status::Succeeded))
    }

    fn put_record(&self, key: &str, record: &Record) -> Result<(), TableError> {
        let body = Bytes::from(serde_json::to_vec(record).expect("serialises"));
        self.store.put(key, body, Precondition::None)?;
        Ok(())
    }

    /// The object's bytes as they are, or converted to Parquet.
    fn write(&self, key: &str, object: &InputObject) -> Result<u64, TableError> {
        match self.spec.format {
            IngestFormat::Copy => copy(self.store, key, object),
            IngestFormat::Parquet => {
                let csv = self
                    .spec
                    .csv
                    .clone()
                    .unwrap_or_else(CsvOptions::default_for_fixtures);
                convert(self.store, key, object, csv, self.options)
            }
        }
    }
}

fn copy(store: &dyn Store, key: &str, object: &InputObject) -> Result<u64, TableError> {
    // S3 to S3: the bytes stay in S3.
    if let Some(bytes) = object.copy_server_side(store, key)? {
        return Ok(bytes);
    }
    let mut reader = object.open().map_err(|source| TableError::Source {
        input: "source".into(),
        source,
    })?;
    let mut writer = store.create(key)?;
    std::io::copy(&mut reader, &mut writer)
        .map_err(|e| TableError::Store(crate::storage::StoreError::io(store.uri(key), e)))?;
    let staged = writer.stage()?;
    let bytes = staged.bytes();
    staged.commit()?;
    Ok(bytes)
}

fn convert(
    store: &dyn Store,
    key: &str,
    object: &InputObject,
    csv: CsvOptions,
    options: &RunOptions,
) -> Result<u64, TableError> {
    let input = CsvInput::from_objects(vec![object.clone()], &csv, 65_536)
        .map_err(|source| TableError::Source {
            input: "source".into(),
            source,
        })?
        .with_threads(options.threads.unwrap_or(1));
    let settings = WriterSettings::defaults(options.encode_threads.unwrap_or(1));
    let provenance = Provenance {
        entries: vec![
            ("sluice.run_id".into(), options.run_id.clone()),
            ("sluice.host.version".into(), crate::HOST_VERSION.into()),
            ("sluice.source".into(), object.uri.clone()),
        ],
    };
    let mut sink = ParquetSink::create(store, key, input.schema(), &settings, &provenance)?;
    let mut failed = None;
    input
        .read_all(|batch| match sink.write(&batch.batch) {
            Ok(()) => true,
            Err(e) => {
                failed = Some(e);
                false
            }
        })
        .map_err(|source| TableError::Source {
            input: "source".into(),
            source,
        })?;
    if let Some(e) = failed {
        return Err(e.into());
    }
    let staged = sink.finish()?;
    let bytes = staged.bytes;
    staged.commit()?;
    Ok(bytes)
}

/// `tag.csv` -> `csv`, `ratings.csv.gz` -> `csv.gz`; none -> `bin`.
fn extension(key: &str) -> String {
    let name = key.rsplit('/').next().unwrap_or_default();
    name.split_once('.')
        .map(|(_, ext)| ext.to_string())
        .filter(|e| !e.is_empty())
        .unwrap_or_else(|| "bin".into())
}

/// The run's start as `YYYYMMDDTHHMMSSZ`: the same for every file of a run, and safe in
/// keys (no spaces or colons).
fn timestamp(run_time_micros: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(run_time_micros as i128 * 1000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        t.month() as u8,
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_stable_and_key_safe() {
        assert_eq!(timestamp(1_709_812_800_123_456), "20240307T120000Z");
        assert_eq!(extension("raw/tag.csv"), "csv");
        assert_eq!(extension("raw/r.csv.gz"), "csv.gz");
        assert_eq!(extension("raw/README"), "bin");
    }
}
