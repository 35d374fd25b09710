//! The versions of a table that were processed (pipeline 004): one small JSON object per
//! version under `<location>/_sluice/registry/<tenant>/<table>/<version>.json`, written while
//! the table lock is held. Versions compare as strings (`20201230_V0002` < `20201231_V0001`).

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::STATE_DIR;
use crate::storage::{join_key, Precondition, Store, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum VersionStatus {
    Running,
    Succeeded,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionRecord {
    pub version: String,
    pub status: VersionStatus,
    pub run_id: String,
    pub updated_at: String,
    /// The objects this version read, by input name.
    #[serde(default)]
    pub inputs: Vec<(String, Vec<String>)>,
    /// The commit unit, once succeeded.
    #[serde(default)]
    pub unit: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
}

pub struct Registry {
    store: Arc<dyn Store>,
    prefix: String,
}

impl Registry {
    pub fn new(store: Arc<dyn Store>, root: &str, tenant: &str, table: &str) -> Self {
        Registry {
            store,
            prefix: join_key(root, &format!("{STATE_DIR}/registry/{tenant}/{table}/")) + "/",
        }
    }

    /// Refuses versions that can't be one key segment.
    pub fn check_version(version: &str) -> Result<(), String> {
        if version.is_empty() || version.contains('/') || version.starts_with('.') {
            return Err(format!(
                "version {version:?} must be non-empty, without `/`, and not start with `.`"
            ));
        }
        Ok(())
    }

    fn key(&self, version: &str) -> String {
        format!("{}{version}.json", self.prefix)
    }

    pub fn get(&self, version: &str) -> Result<Option<VersionRecord>, StoreError> {
        let key = self.key(version);
        match self.store.get(&key)? {
            Some(found) => self.parse(&key, &found.body).map(Some),
            None => Ok(None),
        }
    }

    fn parse(&self, key: &str, body: &[u8]) -> Result<VersionRecord, StoreError> {
        serde_json::from_slice(body).map_err(|e| StoreError::Request {
            uri: self.store.uri(key),
            operation: "reading the version registry",
            message: e.to_string(),
        })
    }

    pub fn record(&self, record: &VersionRecord) -> Result<(), StoreError> {
        let body = serde_json::to_vec_pretty(record).expect("a record serialises");
        self.store
            .put(&self.key(&record.version), body.into(), Precondition::None)
            .map(|_| ())
    }

    /// Every recorded version, in version order.
    pub fn list(&self) -> Result<Vec<VersionRecord>, StoreError> {
        let mut records = Vec::new();
        for meta in self.store.list(&self.prefix)? {
            if meta.key.ends_with(".json") {
                if let Some(found) = self.store.get(&meta.key)? {
                    records.push(self.parse(&meta.key, &found.body)?);
                }
            }
        }
        records.sort_by(|a, b| a.version.cmp(&b.version));
        Ok(records)
    }

    /// The greatest version below `version` that succeeded: the base of a delta.
    pub fn latest_succeeded_before(
        &self,
        version: &str,
    ) -> Result<Option<VersionRecord>, StoreError> {
        Ok(self
            .list()?
            .into_iter()
            .rev()
            .find(|r| r.status == VersionStatus::Succeeded && r.version.as_str() < version))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::LocalStore;

    fn record(version: &str, status: VersionStatus) -> VersionRecord {
        VersionRecord {
            version: version.into(),
            status,
            run_id: "r".into(),
            updated_at: "t".into(),
            inputs: vec![],
            unit: None,
            error: None,
        }
    }

    #[test]
    fn latest_succeeded_before_compares_versions_as_strings() {
        let dir = tempfile::tempdir().unwrap();
        let registry = Registry::new(
            Arc::new(LocalStore::new(dir.path().into())),
            "out",
            "acme",
            "orders",
        );
        for (v, s) in [
            ("20201230_V0001", VersionStatus::Succeeded),
            ("20201230_V0002", VersionStatus::Failed),
            ("20201231_V0001", VersionStatus::Succeeded),
        ] {
            registry.record(&record(v, s)).unwrap();
        }
        let before = |v: &str| {
            registry
                .latest_succeeded_before(v)
                .unwrap()
                .map(|r| r.version)
        };
        assert_eq!(before("20201231_V0001").as_deref(), Some("20201230_V0001"));
        assert_eq!(before("20201231_V0002").as_deref(), Some("20201231_V0001"));
        assert_eq!(before("20201230_V0001"), None);
        assert_eq!(
            registry.get("20201230_V0002").unwrap().unwrap().status,
            VersionStatus::Failed
        );
        assert!(Registry::check_version("a/b").is_err());
    }
}
