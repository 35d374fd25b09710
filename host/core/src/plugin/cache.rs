//! The compiled-plugin cache. A `.cwasm` file is native code that runs outside the sandbox,
//! so an entry is trusted only when the folder is private to this user (created `0700`,
//! refused when another user owns it or others may write to it) and the record written
//! beside it at compile time names the plugin's sha256 and the entry's own sha256, both
//! checked before the code is loaded. Anything else is compiled again, and the log says why.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub(crate) struct CompiledCache {
    dir: PathBuf,
}

/// What was compiled into an entry, written when it was compiled.
#[derive(Serialize, Deserialize)]
struct Record {
    plugin_sha256: String,
    compiled_sha256: String,
}

impl CompiledCache {
    /// Opens the folder, creating it private; `Err` says why it cannot be trusted.
    pub fn open(dir: &Path) -> Result<Self, String> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| format!("cannot create it: {e}"))?;
        let meta = std::fs::metadata(dir).map_err(|e| e.to_string())?;
        // SAFETY: geteuid has no preconditions and cannot fail.
        let me = unsafe { libc::geteuid() };
        if meta.uid() != me {
            return Err(format!(
                "it belongs to user {}, not to this user ({me})",
                meta.uid()
            ));
        }
        if meta.mode() & 0o022 != 0 {
            return Err(format!(
                "others may write to it (mode {:o}); `chmod go-w` it",
                meta.mode() & 0o777
            ));
        }
        Ok(CompiledCache {
            dir: dir.to_path_buf(),
        })
    }

    fn paths(&self, name: &str) -> (PathBuf, PathBuf) {
        (
            self.dir.join(format!("{name}.cwasm")),
            self.dir.join(format!("{name}.cwasm.record")),
        )
    }

    /// The entry's code file, if there is one and it is what was compiled for
    /// `plugin_sha256`; `Err` says why an entry that is there is not trusted. The code is
    /// hashed as it streams past, not read into memory: the caller maps the file, so a
    /// run holds only the pages of code it executes, not two copies of all of it.
    pub fn get(&self, name: &str, plugin_sha256: &str) -> Result<Option<PathBuf>, String> {
        let (code, record) = self.paths(name);
        if !code.exists() {
            return Ok(None);
        }
        let record: Record = std::fs::read(&record)
            .map_err(|e| format!("its record is unreadable: {e}"))
            .and_then(|bytes| {
                serde_json::from_slice(&bytes).map_err(|e| format!("its record is malformed: {e}"))
            })?;
        if record.plugin_sha256 != plugin_sha256 {
            return Err(format!(
                "it was compiled from plugin {}",
                record.plugin_sha256
            ));
        }
        let digest = file_sha256(&code).map_err(|e| format!("it is unreadable: {e}"))?;
        if digest != record.compiled_sha256 {
            return Err(format!(
                "its content (sha256 {digest}) is not what was compiled (sha256 {})",
                record.compiled_sha256
            ));
        }
        Ok(Some(code))
    }

    /// Stores compiled code with its record, each file appearing whole or not at all.
    pub fn put(&self, name: &str, plugin_sha256: &str, compiled: &[u8]) -> std::io::Result<()> {
        let (code, record) = self.paths(name);
        let text = serde_json::to_vec(&Record {
            plugin_sha256: plugin_sha256.into(),
            compiled_sha256: hex::encode(Sha256::digest(compiled)),
        })?;
        // The code first: a record never names code that is not there yet.
        self.write_atomically(&code, compiled)?;
        self.write_atomically(&record, &text)
    }

    fn write_atomically(&self, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
        // Unique per writer: threads of one process may compile the same plugin at once.
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let tmp = self
            .dir
            .join(format!(".{name}.{}.tmp", uuid::Uuid::new_v4()));
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    }
}

/// The hex sha256 of a file's content, read a buffer at a time.
fn file_sha256(path: &Path) -> std::io::Result<String> {
    let mut hasher = Sha256::new();
    std::io::copy(&mut std::fs::File::open(path)?, &mut hasher)?;
    Ok(hex::encode(hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn an_entry_is_trusted_only_for_its_plugin_and_its_content() {
        let dir = tempfile::tempdir().unwrap();
        let cache = CompiledCache::open(&dir.path().join("c")).unwrap();
        assert_eq!(
            std::fs::metadata(dir.path().join("c")).unwrap().mode() & 0o777,
            0o700
        );
        assert_eq!(cache.get("a", "p1").unwrap(), None);
        cache.put("a", "p1", b"code of p1").unwrap();
        cache.put("b", "p2", b"code of p2").unwrap();
        let path = cache.get("a", "p1").unwrap().expect("an entry");
        assert_eq!(std::fs::read(path).unwrap(), b"code of p1");
        assert!(cache
            .get("a", "p2")
            .unwrap_err()
            .contains("compiled from plugin p1"));
        // Another plugin's code put in its place.
        std::fs::copy(dir.path().join("c/b.cwasm"), dir.path().join("c/a.cwasm")).unwrap();
        assert!(cache
            .get("a", "p1")
            .unwrap_err()
            .contains("is not what was compiled"));
        std::fs::remove_file(dir.path().join("c/b.cwasm.record")).unwrap();
        assert!(cache
            .get("b", "p2")
            .unwrap_err()
            .contains("record is unreadable"));
    }

    #[test]
    fn a_folder_others_may_write_to_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(CompiledCache::open(dir.path())
            .err()
            .unwrap()
            .contains("others may write to it (mode 777)"));
    }
}
