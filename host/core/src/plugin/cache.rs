//! The compiled-plugin cache. A `.cwasm` file is native code that runs outside the sandbox,
//! so an entry is trusted only when the folder is private to this user (created `0700`,
//! refused when another user owns it or others may write to it) and the record written
//! beside it at compile time names the plugin's sha256 and the entry's own digest, both
//! checked before the code is loaded. Anything else is compiled again, and the log says why.
//!
//! The entry's digest is BLAKE3: it is taken at every load, and a compiled plugin is 5-40
//! MB (date-cleanup 18 MB: SHA-256 took ~11 ms of a run whose small input took 20 ms in
//! all). Records written before name a SHA-256, still checked as such.
//!
//! The code is kept in the page cache a page at a time. wasmtime maps the file, and a
//! kernel that caches it in large folios (ext4 since Linux 6.16) maps a whole folio
//! into the process on the first touch of any page of it: a gzip dates run held 7.6 MB
//! of date-cleanup's 13 MB of code, against 2.2 MB with page-sized folios. So an entry
//! leaves the cache once written and is read back at its first load with random access
//! advised, which reads just the pages asked for, into page-sized folios.

use std::io::{Read, Write};
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    compiled_blake3: Option<String>,
    /// In records written before the BLAKE3 digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    compiled_sha256: Option<String>,
}

impl Record {
    /// Whether `code` is what was compiled; `Err` says why not. Checked against a SHA-256
    /// record, the code's BLAKE3 is taken in the same pass and returned, to record instead.
    fn check(&self, code: &Path) -> Result<Option<String>, String> {
        let old = self.compiled_blake3.is_none();
        let digests = file_digests(code, old).map_err(|e| format!("it is unreadable: {e}"))?;
        let (name, expected, found) = match (&self.compiled_blake3, &self.compiled_sha256) {
            (Some(expected), _) => ("blake3", expected, Some(&digests.blake3)),
            (None, Some(expected)) => ("sha256", expected, digests.sha256.as_ref()),
            (None, None) => return Err("its record names no digest of the code".into()),
        };
        let found = found.map(String::as_str).unwrap_or_default();
        if found != expected {
            return Err(format!(
                "its content ({name} {found}) is not what was compiled ({name} {expected})"
            ));
        }
        Ok(old.then_some(digests.blake3))
    }
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
        let (code, record_path) = self.paths(name);
        if !code.exists() {
            return Ok(None);
        }
        let record: Record = std::fs::read(&record_path)
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
        if let Some(blake3) = record.check(&code)? {
            // Recorded again with the faster digest; if that fails, the next load checks
            // the SHA-256 again.
            let _ = self.write_record(&record_path, plugin_sha256, blake3);
        }
        Ok(Some(code))
    }

    /// Stores compiled code with its record, each file appearing whole or not at all.
    pub fn put(&self, name: &str, plugin_sha256: &str, compiled: &[u8]) -> std::io::Result<()> {
        let (code, record) = self.paths(name);
        // The code first: a record never names code that is not there yet.
        self.write_atomically(&code, compiled)?;
        let blake3 = blake3::hash(compiled).to_hex().to_string();
        self.write_record(&record, plugin_sha256, blake3)
    }

    fn write_record(
        &self,
        path: &Path,
        plugin_sha256: &str,
        blake3: String,
    ) -> std::io::Result<()> {
        let text = serde_json::to_vec(&Record {
            plugin_sha256: plugin_sha256.into(),
            compiled_blake3: Some(blake3),
            compiled_sha256: None,
        })?;
        self.write_atomically(path, &text)
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
        advise(&file, libc::POSIX_FADV_DONTNEED);
        std::fs::rename(&tmp, path)
    }
}

/// Tells the kernel how `file`'s pages will be used (see the module's comment). Advice
/// only: a kernel or file system that ignores it caches the file as it would anyway.
fn advise(file: &std::fs::File, advice: libc::c_int) {
    use std::os::fd::AsRawFd;
    // SAFETY: the descriptor is open for the call's duration; posix_fadvise reads no
    // memory of ours and reports failure by its return value, ignored here.
    unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, advice) };
}

/// A file's hex BLAKE3, and its SHA-256 when asked for, in one pass.
struct Digests {
    blake3: String,
    sha256: Option<String>,
}

fn file_digests(path: &Path, with_sha256: bool) -> std::io::Result<Digests> {
    let mut file = std::fs::File::open(path)?;
    advise(&file, libc::POSIX_FADV_RANDOM);
    let mut blake3 = blake3::Hasher::new();
    let mut sha256 = with_sha256.then(Sha256::new);
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        let n = match file.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        blake3.update(&buffer[..n]);
        if let Some(sha256) = &mut sha256 {
            sha256.update(&buffer[..n]);
        }
    }
    Ok(Digests {
        blake3: blake3.finalize().to_hex().to_string(),
        sha256: sha256.map(|s| hex::encode(s.finalize())),
    })
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
        // A record written before BLAKE3 names a SHA-256, still checked.
        let old = format!(
            r#"{{"plugin_sha256":"p1","compiled_sha256":"{}"}}"#,
            hex::encode(Sha256::digest(b"code of p1"))
        );
        std::fs::write(dir.path().join("c/a.cwasm"), b"code of p1").unwrap();
        std::fs::write(dir.path().join("c/a.cwasm.record"), &old).unwrap();
        assert!(cache.get("a", "p1").unwrap().is_some());
        let again = std::fs::read_to_string(dir.path().join("c/a.cwasm.record")).unwrap();
        assert!(
            again.contains(r#""compiled_blake3":"#),
            "recorded again: {again}"
        );
        assert!(cache.get("a", "p1").unwrap().is_some());
        std::fs::write(dir.path().join("c/a.cwasm.record"), &old).unwrap();
        std::fs::write(dir.path().join("c/a.cwasm"), b"code of p2").unwrap();
        assert!(cache
            .get("a", "p1")
            .unwrap_err()
            .contains("its content (sha256 "));
        std::fs::write(
            dir.path().join("c/a.cwasm.record"),
            r#"{"plugin_sha256":"p1"}"#,
        )
        .unwrap();
        assert!(cache
            .get("a", "p1")
            .unwrap_err()
            .contains("names no digest"));
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
