//! The commit protocol of a table's outputs.
//!
//! In `append` mode a run over a given set of inputs is one *unit*, named by a hash of the
//! inputs' identities (S3 ETag and version, or a local file's sha256), the plugin's sha256,
//! its config and every setting that changes the bytes. Data files go under keys derived
//! from the unit, so a retry overwrites its own files and never adds a second copy. The
//! unit's manifest, written last with `If-None-Match: *`, is the commit point: a rerun that
//! finds it does nothing. After it, one Athena/Hive symlink manifest per output and
//! partition lists the unit's files, so a table defined over the symlink folder sees a
//! unit's files all at once or not at all.
//!
//! In `replace` mode a run writes a new generation of the whole table and commits it by
//! one pointer object: see [`super::generation`].

use std::sync::Arc;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::generation::{folder_key, Generation};
use super::CommitMode;
use super::STATE_DIR;
use crate::storage::{join_key, Precondition, Store, StoreError};

/// Where a table writes, and under which unit.
#[derive(Clone)]
pub struct Dataset {
    pub store: Arc<dyn Store>,
    /// The location's key prefix inside the store.
    pub root: String,
    pub mode: CommitMode,
    pub unit: super::UnitId,
    /// Replace mode: the generation this run writes. `None` names the layout of releases
    /// before generations (`<location>/<output>.parquet`), which a commit removes.
    pub generation: Option<Generation>,
    /// Each output is an Iceberg table (`<root>/<output>/data/`, `.../metadata/`): the
    /// commit is the table's snapshot, not a manifest of Sluice's (see [`crate::iceberg`]).
    pub iceberg: bool,
}

/// The record of a committed unit: what it read and what it wrote.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub unit: String,
    pub table: String,
    pub run_id: String,
    pub committed_at: String,
    pub plugin_sha256: String,
    pub config_sha256: String,
    /// Input name -> the objects read, with their identities.
    pub inputs: Vec<(String, Vec<(String, String)>)>,
    pub files: Vec<ManifestFile>,
    /// Replace mode: the generation folder the files are in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ManifestFile {
    pub output: String,
    /// The partition folder (`year=2024/month=03`), empty when not partitioned.
    pub partition: String,
    pub uri: String,
    pub key: String,
    pub rows: u64,
    pub bytes: u64,
}

impl Dataset {
    /// The key of an output's data file number `seq` in a partition folder.
    pub fn data_key(&self, output: &str, partition: &str, seq: usize) -> String {
        let folder = match &self.generation {
            Some(generation) => folder_key(&self.root, &generation.id),
            None => self.root.clone(),
        };
        match (self.mode, partition.is_empty()) {
            (CommitMode::Replace, true) => join_key(&folder, &format!("{output}.parquet")),
            (CommitMode::Replace, false) => join_key(
                &folder,
                &format!("{output}/{partition}/part-{seq:05}.parquet"),
            ),
            (CommitMode::Append, _) => {
                let data = if self.iceberg { "/data" } else { "" };
                let folder = join_key(&format!("{output}{data}"), partition);
                join_key(
                    &self.root,
                    &format!("{folder}/part-{}-{seq:05}.parquet", self.unit),
                )
            }
        }
    }

    pub fn manifest_key(&self) -> String {
        join_key(
            &self.root,
            &format!("{STATE_DIR}/commits/{}.json", self.unit),
        )
    }

    /// Where Athena's `SymlinkTextInputFormat` finds the files of one output and partition.
    pub fn symlink_key(&self, output: &str, partition: &str) -> String {
        let folder = join_key(&format!("{STATE_DIR}/symlink/{output}"), partition);
        join_key(&self.root, &format!("{folder}/{}.txt", self.unit))
    }

    /// The unit's manifest, if a run already committed it.
    pub fn committed(&self) -> Result<Option<Manifest>, StoreError> {
        if self.mode == CommitMode::Replace || self.iceberg {
            return Ok(None);
        }
        let key = self.manifest_key();
        let Some(found) = self.store.get(&key)? else {
            return Ok(None);
        };
        serde_json::from_slice(&found.body)
            .map(Some)
            .map_err(|e| StoreError::Request {
                uri: self.store.uri(&key),
                operation: "reading the commit manifest",
                message: e.to_string(),
            })
    }

    /// The key of an unpartitioned output's file in the table as it was before this run,
    /// if it has one (an upsert merges into it).
    pub fn previous_key(&self, output: &str) -> Option<String> {
        let current = self.generation.as_ref()?.current();
        let Some(manifest) = current else {
            // Never committed as a generation: the layout before generations, if any.
            return Some(join_key(&self.root, &format!("{output}.parquet")));
        };
        let file = manifest
            .files
            .iter()
            .find(|f| f.output == output && f.partition.is_empty())?;
        Some(file.key.clone())
    }

    /// Append mode: writes the manifest (create-only unless `force`), then the symlink
    /// manifests. Replace mode: points the table at this run's generation. The data files
    /// must already be complete.
    pub fn commit(&self, manifest: &Manifest, force: bool) -> Result<(), StoreError> {
        if self.iceberg {
            return Ok(());
        }
        if self.mode == CommitMode::Replace {
            return match &self.generation {
                Some(generation) => generation.publish(&*self.store, &self.root, manifest),
                None => Ok(()),
            };
        }
        let body = serde_json::to_vec_pretty(manifest).expect("a manifest serialises");
        let when = if force {
            Precondition::None
        } else {
            Precondition::IfAbsent
        };
        self.store.put(&self.manifest_key(), body.into(), when)?;
        self.write_symlinks(manifest)
    }

    /// In replace mode, deletes the data files of `outputs` that releases before
    /// generations wrote beside `_sluice/` (`<output>.parquet`, `<output>/.../*.parquet`),
    /// once the table is a generation. Returns the keys removed.
    pub fn remove_legacy(&self, outputs: &[&str]) -> Result<Vec<String>, StoreError> {
        if self.mode != CommitMode::Replace {
            return Ok(Vec::new());
        }
        let prefix = if self.root.is_empty() {
            String::new()
        } else {
            format!("{}/", self.root.trim_end_matches('/'))
        };
        let ours = |key: &str| {
            let rel = key.strip_prefix(&prefix).unwrap_or(key);
            outputs.iter().any(|o| {
                rel == format!("{o}.parquet")
                    || (rel.starts_with(&format!("{o}/")) && rel.ends_with(".parquet"))
            })
        };
        let mut removed = Vec::new();
        for meta in self.store.list(&prefix)? {
            if ours(&meta.key) {
                self.store.delete(&meta.key, Precondition::None)?;
                removed.push(meta.key);
            }
        }
        Ok(removed)
    }

    /// One symlink file per output and partition. Also called on a rerun that finds the
    /// unit committed, to repair a run that died between the manifest and these.
    pub fn write_symlinks(&self, manifest: &Manifest) -> Result<(), StoreError> {
        let mut groups: std::collections::BTreeMap<(&str, &str), Vec<&str>> = Default::default();
        for file in &manifest.files {
            groups
                .entry((&file.output, &file.partition))
                .or_default()
                .push(&file.uri);
        }
        let unit = Dataset {
            unit: manifest.unit.as_str().into(),
            ..self.clone()
        };
        for ((output, partition), uris) in groups {
            let key = unit.symlink_key(output, partition);
            let body = uris.iter().map(|u| format!("{u}\n")).collect::<String>();
            if self
                .store
                .get(&key)?
                .is_some_and(|existing| existing.body.as_ref() == body.as_bytes())
            {
                continue;
            }
            self.store
                .put(&key, Bytes::from(body), Precondition::None)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::LocalStore;

    fn dataset(dir: &std::path::Path, mode: CommitMode) -> Dataset {
        Dataset {
            store: Arc::new(LocalStore::new(dir.into())),
            root: "t".into(),
            mode,
            unit: "u1".into(),
            generation: None,
            iceberg: false,
        }
    }

    #[test]
    fn keys_follow_the_mode() {
        let dir = tempfile::tempdir().unwrap();
        let append = dataset(dir.path(), CommitMode::Append);
        assert_eq!(
            append.data_key("rows", "", 0),
            "t/rows/part-u1-00000.parquet"
        );
        assert_eq!(
            append.data_key("rows", "year=2024", 2),
            "t/rows/year=2024/part-u1-00002.parquet"
        );
        assert_eq!(
            append.symlink_key("rows", "year=2024"),
            "t/_sluice/symlink/rows/year=2024/u1.txt"
        );
        assert_eq!(
            dataset(dir.path(), CommitMode::Replace).data_key("rows", "", 0),
            "t/rows.parquet"
        );
    }

    #[test]
    fn a_unit_commits_once_unless_forced() {
        let dir = tempfile::tempdir().unwrap();
        let d = dataset(dir.path(), CommitMode::Append);
        let manifest = Manifest {
            unit: "u1".into(),
            table: "t".into(),
            run_id: "r".into(),
            committed_at: "now".into(),
            plugin_sha256: "p".into(),
            config_sha256: "c".into(),
            inputs: vec![],
            generation: None,
            files: vec![ManifestFile {
                output: "rows".into(),
                partition: String::new(),
                uri: "/x".into(),
                key: "x".into(),
                rows: 1,
                bytes: 1,
            }],
        };
        assert!(d.committed().unwrap().is_none());
        d.commit(&manifest, false).unwrap();
        assert_eq!(d.committed().unwrap().unwrap().run_id, "r");
        assert!(matches!(
            d.commit(&manifest, false),
            Err(StoreError::Conflict { .. })
        ));
        d.commit(&manifest, true).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("t/_sluice/symlink/rows/u1.txt")).unwrap(),
            "/x\n"
        );
    }
}
