//! Apache Iceberg tables as outputs (`format = "iceberg"`).
//!
//! Each output is a table at `<location>/<output>/`: data files under `data/` (written by
//! the same Parquet writer as every output, with Iceberg field ids), metadata under
//! `metadata/`. Each commit unit is one snapshot, a fast append:
//!
//! 1. the unit's data files are completed (uploads finished, renames done): they exist
//!    but no snapshot names them, so readers do not see them;
//! 2. a manifest (Avro) lists them with their partition and column statistics, and a
//!    manifest list names it beside the manifests of the snapshot before;
//! 3. a new metadata file adds the snapshot (recording the unit id in its summary) and,
//!    when the output's schema changed compatibly, a new schema;
//! 4. the commit point: the catalog is pointed at the new metadata file, if it still
//!    points at the one the commit started from. Without a catalog server, a table's
//!    metadata files are numbered `metadata/vN.metadata.json`, created only if absent,
//!    and `metadata/version-hint.text` names the newest (the layout DuckDB's and Spark's
//!    file-system catalogs read). With `glue`, the AWS Glue Data Catalog holds the
//!    pointer (`metadata_location`), as Athena, EMR and pyiceberg expect.
//!
//! A rerun finds the unit in a snapshot summary and adds nothing; a run killed before
//! step 4 leaves the table as it was (its files are orphans, never read).
//!
//! Why here and not the `iceberg` crate: iceberg-rust 0.10 is built on arrow/parquet 58
//! while the host is on 60.1. Aligning the host would downgrade every Arrow kernel and the
//! Parquet writer this project tunes (float statistics, sorting columns, Bloom filters);
//! taking both would compile two Arrows and still route our files through a second writer.
//! An append commit is small and specified (a JSON file, two Avro files, one pointer swap
//! under the table lock), so Sluice writes it, with the data-file statistics taken from the
//! footers its own writer produced, and every commit is read back by pyiceberg in tests.

mod avro;
mod manifest;
mod metadata;
mod metrics;
mod rest;
mod schema;
mod spec;

use bytes::Bytes;
use serde_json::{json, Value};

pub use manifest::DataFile;
pub use rest::{RestSpec, RestTable};
pub use schema::{evolve, file_schema, iceberg_type, IcebergField, IcebergSchema};
pub use spec::{partition_fields, partition_tuple, PartitionField};

use crate::catalog::{Catalog, CatalogError};
use crate::storage::{join_key, Precondition, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum IcebergError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// The output does not fit the table (a type, a partition spec), or a file of the
    /// table can't be read.
    #[error("Iceberg table {table}: {message}")]
    Table { table: String, message: String },
}

/// Where a table's current metadata file is recorded.
pub enum Pointer<'a> {
    /// Numbered metadata files and `metadata/version-hint.text`: no server needed.
    Files,
    /// A table of an Iceberg REST catalog, which writes the metadata files itself.
    Rest(RestTable),
    /// An ICEBERG table of the AWS Glue Data Catalog.
    Glue {
        catalog: &'a dyn Catalog,
        database: String,
        table: String,
    },
}

/// One Iceberg table: a folder of a store, and its pointer.
pub struct Table<'a> {
    pub store: &'a dyn Store,
    /// The table's folder (`<location>/<output>`).
    pub root: String,
    pub pointer: Pointer<'a>,
}

/// The table as last committed.
#[derive(Debug, Clone)]
pub struct Current {
    pub metadata: Value,
    /// Its metadata file, as a URI.
    pub file: String,
    /// The number of its metadata file (`vN`, `N-uuid`).
    version: u64,
}

impl Current {
    pub fn has_unit(&self, unit: &str) -> bool {
        metadata::has_unit(&self.metadata, unit)
    }

    pub fn schema(&self) -> Option<IcebergSchema> {
        metadata::current_schema(&self.metadata)
    }

    pub fn last_column_id(&self) -> i32 {
        self.metadata["last-column-id"].as_i64().unwrap_or(0) as i32
    }
}

/// What a commit adds.
pub struct Commit<'a> {
    pub fields: &'a [IcebergField],
    pub last_column_id: i32,
    pub partition: &'a [PartitionField],
    pub files: Vec<DataFile>,
    pub unit: &'a str,
    pub run_id: &'a str,
    pub now_ms: i64,
}

impl Table<'_> {
    fn error(&self, message: impl Into<String>) -> IcebergError {
        IcebergError::Table {
            table: self.uri(""),
            message: message.into(),
        }
    }

    /// The absolute URI of a path inside the table (`s3://b/t/rows/data/x.parquet`, or
    /// `file:///abs/t/rows/...` on local folders), as Iceberg metadata records paths.
    pub fn uri(&self, relative: &str) -> String {
        let uri = self.store.uri(&join_key(&self.root, relative));
        if uri.contains("://") {
            return uri;
        }
        let path = std::path::absolute(&uri).unwrap_or_else(|_| uri.clone().into());
        format!("file://{}", path.display())
    }

    /// The store key of a URI inside the table.
    fn key_of(&self, uri: &str) -> Result<String, IcebergError> {
        let base = self.uri("");
        let relative = uri
            .strip_prefix(base.trim_end_matches('/'))
            .ok_or_else(|| self.error(format!("{uri} is outside the table")))?;
        Ok(join_key(&self.root, relative.trim_start_matches('/')))
    }

    fn read(&self, uri: &str) -> Result<Bytes, IcebergError> {
        let key = self.key_of(uri)?;
        let found = self.store.get(&key)?;
        Ok(found
            .ok_or_else(|| self.error(format!("{uri} is missing")))?
            .body)
    }

    /// The table as last committed; `None` before its first commit.
    pub fn load(&self) -> Result<Option<Current>, IcebergError> {
        let located = match &self.pointer {
            Pointer::Files => self.newest_numbered()?,
            Pointer::Rest(rest) => {
                return Ok(rest.load()?.map(|(file, metadata)| Current {
                    metadata,
                    file,
                    version: 0,
                }))
            }
            Pointer::Glue {
                catalog,
                database,
                table,
            } => catalog
                .iceberg_location(database, table)?
                .map(|file| (version_of(&file), file)),
        };
        let Some((version, file)) = located else {
            return Ok(None);
        };
        let metadata = serde_json::from_slice(&self.read(&file)?)
            .map_err(|e| self.error(format!("{file}: {e}")))?;
        Ok(Some(Current {
            metadata,
            file,
            version,
        }))
    }

    /// The newest `metadata/vN.metadata.json`: from the version hint, then past it (a run
    /// may have died between its metadata file and the hint).
    fn newest_numbered(&self) -> Result<Option<(u64, String)>, IcebergError> {
        let hint = self
            .store
            .get(&join_key(&self.root, "metadata/version-hint.text"))?;
        let mut version: u64 = hint
            .and_then(|h| String::from_utf8_lossy(&h.body).trim().parse().ok())
            .unwrap_or(0);
        while self.store.head(&self.numbered(version + 1))?.is_some() {
            version += 1;
        }
        if version == 0 {
            return Ok(None);
        }
        let file = self.uri(&format!("metadata/v{version}.metadata.json"));
        Ok(Some((version, file)))
    }

    fn numbered(&self, version: u64) -> String {
        join_key(&self.root, &format!("metadata/v{version}.metadata.json"))
    }

    /// Adds one snapshot (and a schema, when the output's changed) and points the catalog
    /// at it, if the table is still as `current` says. Returns the new metadata file.
    pub fn commit(
        &self,
        current: Option<&Current>,
        commit: Commit,
    ) -> Result<String, IcebergError> {
        let created;
        let current = match (current, &self.pointer) {
            // A REST catalog creates the table (its first metadata file) itself.
            (None, Pointer::Rest(rest)) => {
                created = self.create_rest(rest, &commit)?;
                Some(&created)
            }
            (current, _) => current,
        };
        let mut metadata = match current {
            Some(current) => {
                if !metadata::same_spec(&current.metadata, commit.partition) {
                    return Err(self.error(
                        "the output's partitioning differs from the table's partition spec",
                    ));
                }
                current.metadata.clone()
            }
            None => metadata::create(
                &self.uri(""),
                commit.fields,
                commit.last_column_id,
                commit.partition,
                commit.now_ms,
            ),
        };
        let schema_id = metadata::set_schema(&mut metadata, commit.fields, commit.last_column_id);
        let snapshot_id = (uuid::Uuid::new_v4().as_u64_pair().0 >> 1) as i64;
        let sequence_number = metadata::next_sequence_number(&metadata);
        let manifests =
            self.manifests(&metadata, &commit, schema_id, snapshot_id, sequence_number)?;
        let list = manifest::manifest_list(
            &manifests,
            snapshot_id,
            metadata::current_snapshot(&metadata).map(|s| s.0),
            sequence_number,
        )
        .map_err(|e| self.error(e))?;
        let list_path = format!(
            "metadata/snap-{snapshot_id}-1-{}.avro",
            uuid::Uuid::new_v4()
        );
        self.store.put(
            &join_key(&self.root, &list_path),
            list.into(),
            Precondition::IfAbsent,
        )?;
        metadata::add_snapshot(
            &mut metadata,
            metadata::NewSnapshot {
                snapshot_id,
                manifest_list: self.uri(&list_path),
                summary: summary(&commit),
                now_ms: commit.now_ms,
                previous_file: current.map(|c| c.file.as_str()),
            },
        );
        self.publish(current, &metadata)
    }

    /// The snapshot's manifests: the previous snapshot's, and one of this commit's files.
    fn manifests(
        &self,
        metadata: &Value,
        commit: &Commit,
        schema_id: i32,
        snapshot_id: i64,
        sequence_number: i64,
    ) -> Result<Vec<manifest::ManifestFile>, IcebergError> {
        let mut manifests = match metadata::current_snapshot(metadata) {
            Some((_, list)) => {
                manifest::read_manifest_list(&self.read(&list)?).map_err(|e| self.error(e))?
            }
            None => Vec::new(),
        };
        let schema_json = serde_json::to_string(&IcebergSchema {
            kind: "struct".into(),
            schema_id,
            fields: commit.fields.to_vec(),
        })
        .expect("a schema serialises");
        let spec_fields = spec::spec_json(commit.partition)["fields"].to_string();
        let header = manifest::ManifestHeader {
            schema_json: &schema_json,
            schema_id,
            partition: commit.partition,
            partition_spec_json: &spec_fields,
        };
        let body =
            manifest::manifest(&header, snapshot_id, &commit.files).map_err(|e| self.error(e))?;
        let path = format!("metadata/{}-m0.avro", uuid::Uuid::new_v4());
        let length = body.len() as i64;
        self.store.put(
            &join_key(&self.root, &path),
            body.into(),
            Precondition::IfAbsent,
        )?;
        manifests.push(manifest::ManifestFile {
            path: self.uri(&path),
            length,
            sequence_number,
            added_snapshot_id: snapshot_id,
            added_files: commit.files.len() as i32,
            added_rows: commit.files.iter().map(|f| f.record_count).sum(),
        });
        Ok(manifests)
    }

    /// Writes the metadata file and makes it current: the commit point.
    fn publish(&self, current: Option<&Current>, metadata: &Value) -> Result<String, IcebergError> {
        let version = current.map_or(0, |c| c.version) + 1;
        // A REST catalog writes the metadata file itself; the others are written here.
        let body =
            || Bytes::from(serde_json::to_vec_pretty(metadata).expect("metadata serialises"));
        match &self.pointer {
            Pointer::Rest(rest) => {
                let before = current.map_or(&Value::Null, |c| &c.metadata);
                let (requirements, updates) = rest::changes(before, metadata);
                rest.commit(requirements, updates)
            }
            Pointer::Files => {
                // Created only if absent: of two writers of version N, one fails here.
                self.store
                    .put(&self.numbered(version), body(), Precondition::IfAbsent)?;
                let hint = join_key(&self.root, "metadata/version-hint.text");
                self.store
                    .put(&hint, Bytes::from(version.to_string()), Precondition::None)?;
                Ok(self.uri(&format!("metadata/v{version}.metadata.json")))
            }
            Pointer::Glue {
                catalog,
                database,
                table,
            } => {
                let path = format!(
                    "metadata/{version:05}-{}.metadata.json",
                    uuid::Uuid::new_v4()
                );
                self.store
                    .put(&join_key(&self.root, &path), body(), Precondition::IfAbsent)?;
                let file = self.uri(&path);
                let previous = current.map(|c| c.file.as_str());
                catalog.iceberg_swap(database, table, &self.uri(""), previous, &file)?;
                Ok(file)
            }
        }
    }

    /// A REST catalog's new table, as the catalog created it.
    fn create_rest(&self, rest: &RestTable, commit: &Commit) -> Result<Current, IcebergError> {
        let schema = json!({"type": "struct", "schema-id": 0, "fields": commit.fields});
        let spec = spec::spec_json(commit.partition);
        let (file, metadata) = rest.create(&self.uri(""), &schema, &spec)?;
        Ok(Current {
            metadata,
            file,
            version: 0,
        })
    }
}

/// The number a metadata file's name starts with (`v3.metadata.json`, `00003-….json`).
fn version_of(file: &str) -> u64 {
    let name = file.rsplit('/').next().unwrap_or_default();
    let digits: String = name
        .trim_start_matches('v')
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().unwrap_or(0)
}

fn summary(commit: &Commit) -> serde_json::Map<String, Value> {
    let rows: i64 = commit.files.iter().map(|f| f.record_count).sum();
    let bytes: i64 = commit.files.iter().map(|f| f.file_size_in_bytes).sum();
    let summary = json!({
        "operation": "append",
        "added-data-files": commit.files.len().to_string(),
        "added-records": rows.to_string(),
        "added-files-size": bytes.to_string(),
        "sluice.unit": commit.unit,
        "sluice.run-id": commit.run_id,
    });
    summary.as_object().cloned().unwrap_or_default()
}

/// A data file's manifest entry: its URI, partition, size and the statistics of its footer.
pub fn data_file(
    path: String,
    partition: Vec<Option<manifest::PartitionValue>>,
    rows: u64,
    bytes: u64,
    footer: Option<&parquet::file::metadata::ParquetMetaData>,
    fields: &[IcebergField],
) -> DataFile {
    let mut file = DataFile {
        path,
        partition,
        record_count: rows as i64,
        file_size_in_bytes: bytes as i64,
        ..DataFile::default()
    };
    if let Some(footer) = footer {
        metrics::fill(&mut file, footer, fields);
    }
    file
}

#[cfg(test)]
mod tests {
    #[test]
    fn metadata_files_are_numbered() {
        assert_eq!(super::version_of("s3://b/t/metadata/v12.metadata.json"), 12);
        assert_eq!(
            super::version_of("file:///t/metadata/00003-ab.metadata.json"),
            3
        );
    }
}
