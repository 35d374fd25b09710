//! Replace mode's commit protocol: a run writes a new *generation* of the whole table, and
//! one small object written last makes it the table.
//!
//! ```text
//! <location>/_sluice/generations/<id>/rows.parquet            every file of one run
//! <location>/_sluice/generations/<id>/rows/day=2024-01-01/part-00000.parquet
//! <location>/_sluice/generations/<id>/rejects.parquet
//! <location>/_sluice/current.json                             the pointer: the commit point
//! <location>/current -> _sluice/generations/<id>               local folders: a link to it
//! ```
//!
//! Writing the pointer is one atomic object write (a PUT on S3, a rename locally), made
//! with a precondition on the pointer the run started from. So whatever instant a run is
//! killed at, the pointer names the old generation or the new one, each whole. On local
//! folders the `current` link follows the pointer, switched by one rename, for readers
//! that take a path; a run that died between the pointer and the link has its link
//! repaired by the next run. Generations that are not current (the one replaced, a killed
//! run's) are deleted after the commit and again before the next run writes.

use bytes::Bytes;

use super::{Manifest, STATE_DIR};
use crate::storage::{join_key, Precondition, Store, StoreError};

/// The name of the local link to the current generation, beside `_sluice/`.
pub const CURRENT: &str = "current";

/// The generation a replace-mode run writes, and the table it replaces.
#[derive(Debug, Clone)]
pub struct Generation {
    /// The folder name under `_sluice/generations/`.
    pub id: String,
    /// The table when the run started: its pointer's ETag and what it lists.
    current: Option<(Manifest, String)>,
}

/// The key of the pointer object.
pub fn pointer_key(root: &str) -> String {
    join_key(root, &format!("{STATE_DIR}/current.json"))
}

/// The folder of generation `id`, relative to the location.
fn relative_folder(id: &str) -> String {
    format!("{STATE_DIR}/generations/{id}")
}

/// The folder of generation `id`.
pub fn folder_key(root: &str, id: &str) -> String {
    join_key(root, &relative_folder(id))
}

/// The committed table: the pointer's manifest and ETag; `None` before the first commit.
pub fn read_pointer(
    store: &dyn Store,
    root: &str,
) -> Result<Option<(Manifest, String)>, StoreError> {
    let key = pointer_key(root);
    let Some(found) = store.get(&key)? else {
        return Ok(None);
    };
    let manifest: Manifest =
        serde_json::from_slice(&found.body).map_err(|e| StoreError::Request {
            uri: store.uri(&key),
            operation: "reading the current-generation pointer",
            message: e.to_string(),
        })?;
    Ok(Some((manifest, found.etag)))
}

impl Generation {
    /// Under the table lock, before a run writes: finds the current generation, repairs
    /// its link and deletes every other generation (a killed run's), then names this
    /// run's. `id` must sort after earlier ones (a timestamp); it never reuses the current.
    pub fn begin(store: &dyn Store, root: &str, id: String) -> Result<Self, StoreError> {
        let current = read_pointer(store, root)?;
        let current_id = current.as_ref().and_then(|(m, _)| m.generation.clone());
        if let Some(current_id) = &current_id {
            settle(store, root, current_id)?;
        } else {
            remove_generations(store, root, None)?;
        }
        let id = match current_id {
            Some(taken) if taken == id => format!("{id}-1"),
            _ => id,
        };
        Ok(Generation { id, current })
    }

    /// What the current generation holds, before this run commits.
    pub fn current(&self) -> Option<&Manifest> {
        self.current.as_ref().map(|(m, _)| m)
    }

    /// The commit point: the pointer names this generation, if it still names the one the
    /// run started from (a run that lost its lock fails here instead of committing); then
    /// the link follows and the generations before are deleted.
    pub fn publish(
        &self,
        store: &dyn Store,
        root: &str,
        manifest: &Manifest,
    ) -> Result<(), StoreError> {
        let body = serde_json::to_vec_pretty(manifest).expect("a manifest serialises");
        let when = match &self.current {
            Some((_, etag)) => Precondition::IfMatch(etag.clone()),
            None => Precondition::IfAbsent,
        };
        store.put(&pointer_key(root), Bytes::from(body), when)?;
        settle(store, root, &self.id)
    }
}

impl Generation {
    /// After a failed run: deletes what it wrote, unless it was committed (a failure after
    /// the commit point, such as a catalog's, leaves the new table in place).
    pub fn discard(&self, store: &dyn Store, root: &str) -> Result<(), StoreError> {
        let current = read_pointer(store, root)?;
        if current.is_some_and(|(m, _)| m.generation.as_deref() == Some(self.id.as_str())) {
            return Ok(());
        }
        store.delete_folder(&folder_key(root, &self.id))
    }
}

/// The link follows the pointer's generation `id`, and no other generation is kept.
fn settle(store: &dyn Store, root: &str, id: &str) -> Result<(), StoreError> {
    store.link(&join_key(root, CURRENT), &relative_folder(id))?;
    remove_generations(store, root, Some(id))
}

/// Deletes every generation folder but `keep`.
fn remove_generations(store: &dyn Store, root: &str, keep: Option<&str>) -> Result<(), StoreError> {
    let prefix = format!("{}/", folder_key(root, "").trim_end_matches('/'));
    let mut ids: Vec<String> = store
        .list(&prefix)?
        .into_iter()
        .filter_map(|meta| {
            let rest = meta.key.strip_prefix(&prefix)?;
            Some(rest.split('/').next()?.to_string())
        })
        .collect();
    ids.dedup();
    for id in ids.iter().filter(|id| Some(id.as_str()) != keep) {
        tracing::info!(generation = %store.uri(&folder_key(root, id)), "removed: not the current generation");
        store.delete_folder(&folder_key(root, id))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::LocalStore;

    fn manifest(generation: &str) -> Manifest {
        Manifest {
            unit: "u".into(),
            table: "t".into(),
            run_id: generation.into(),
            committed_at: "now".into(),
            plugin_sha256: "p".into(),
            config_sha256: "c".into(),
            inputs: vec![],
            files: vec![],
            generation: Some(generation.into()),
        }
    }

    /// Writes generation `id`'s one file and commits it, as a run would.
    fn run(store: &LocalStore, id: &str) -> Result<Generation, StoreError> {
        let generation = Generation::begin(store, "t", id.into())?;
        let key = format!("{}/rows.parquet", folder_key("t", &generation.id));
        store.put(&key, Bytes::from(id.to_string()), Precondition::None)?;
        generation.publish(store, "t", &manifest(&generation.id))?;
        Ok(generation)
    }

    fn through_link(dir: &std::path::Path) -> String {
        std::fs::read_to_string(dir.join("t/current/rows.parquet")).unwrap()
    }

    #[test]
    fn each_commit_switches_the_pointer_and_the_link_and_drops_the_old_generation() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path().into());
        run(&store, "g1").unwrap();
        assert_eq!(through_link(dir.path()), "g1");
        run(&store, "g2").unwrap();
        assert_eq!(through_link(dir.path()), "g2");
        let (pointer, _) = read_pointer(&store, "t").unwrap().unwrap();
        assert_eq!(pointer.generation.as_deref(), Some("g2"));
        let left: Vec<_> = std::fs::read_dir(dir.path().join("t/_sluice/generations"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(left, ["g2"]);
    }

    #[test]
    fn a_killed_runs_generation_is_removed_and_a_lagging_link_repaired() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path().into());
        run(&store, "g1").unwrap();
        // A run killed before its pointer: its files lie in a folder nobody reads.
        let killed = Generation::begin(&store, "t", "g2".into()).unwrap();
        let key = format!("{}/rows.parquet", folder_key("t", &killed.id));
        store
            .put(&key, Bytes::from("g2"), Precondition::None)
            .unwrap();
        assert_eq!(through_link(dir.path()), "g1");
        // A run killed between its pointer and its link.
        store
            .put(
                &pointer_key("t"),
                serde_json::to_vec(&manifest("g2")).unwrap().into(),
                Precondition::None,
            )
            .unwrap();
        assert_eq!(through_link(dir.path()), "g1");
        let next = Generation::begin(&store, "t", "g3".into()).unwrap();
        assert_eq!(through_link(dir.path()), "g2");
        assert_eq!(next.current().unwrap().generation.as_deref(), Some("g2"));
        // And a killed run's leftovers go when nothing was ever committed.
        store
            .put(
                "u/_sluice/generations/g9/x",
                Bytes::from("x"),
                Precondition::None,
            )
            .unwrap();
        Generation::begin(&store, "u", "g10".into()).unwrap();
        assert!(!dir.path().join("u/_sluice/generations/g9").exists());
    }

    #[test]
    fn a_run_whose_table_changed_underneath_it_does_not_commit() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path().into());
        run(&store, "g1").unwrap();
        let slow = Generation::begin(&store, "t", "g2".into()).unwrap();
        run(&store, "g3").unwrap();
        assert!(matches!(
            slow.publish(&store, "t", &manifest("g2")),
            Err(StoreError::Conflict { .. })
        ));
        assert_eq!(through_link(dir.path()), "g3");
    }

    #[test]
    fn a_folder_in_the_links_place_is_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path().into());
        std::fs::create_dir_all(dir.path().join("t/current")).unwrap();
        let failed = run(&store, "g1").unwrap_err();
        assert!(failed.to_string().contains("not the link"), "{failed}");
    }
}
