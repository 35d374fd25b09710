//! A folder on this machine as a store. Conditional writes use a hard link (create only if
//! absent) and an exclusive `flock` around compare-and-swap, so the lock and the registry
//! work on local folders exactly as on S3.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use sha2::{Digest, Sha256};

use super::writeback::Writeback;
use super::{Fetched, ObjectMeta, ObjectWriter, Precondition, StagedObject, Store, StoreError};

pub struct LocalStore {
    root: PathBuf,
}

impl LocalStore {
    /// A store whose keys are paths under `root` (an empty root takes keys as paths).
    pub fn new(root: PathBuf) -> Self {
        LocalStore { root }
    }

    fn path(&self, key: &str) -> PathBuf {
        if key.is_empty() {
            self.root.clone()
        } else {
            self.root.join(key)
        }
    }

    /// The path of a key, refused when the key would leave the root (`..`, an absolute
    /// path). A store without a root takes any path: its keys are the user's own paths.
    fn inside(&self, key: &str) -> Result<PathBuf, StoreError> {
        use std::path::Component;
        let escapes = || {
            Path::new(key)
                .components()
                .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
        };
        if !self.root.as_os_str().is_empty() && escapes() {
            return Err(StoreError::Location {
                location: key.to_string(),
                message: format!("resolves outside {}", self.root.display()),
            });
        }
        Ok(self.path(key))
    }
}

/// Content hash: a local ETag that, like S3's, changes whenever the bytes do.
fn etag_of(bytes: &[u8]) -> String {
    hex::encode(&Sha256::digest(bytes)[..16])
}

/// A temporary file in a state folder lives for the moment between its write and its
/// rename; one older than this, or whose writer is no longer running, was left by a
/// process that died. (A crashed holder's lock lasts a lease, far longer, before the next
/// run can look.)
const STALE_STATE_TEMP: std::time::Duration = std::time::Duration::from_millis(500);

fn is_abandoned(entry: &std::fs::DirEntry, name: &str) -> bool {
    let modified = entry.metadata().and_then(|m| m.modified());
    let old = modified.is_ok_and(|t| t.elapsed().is_ok_and(|age| age > STALE_STATE_TEMP));
    old || temp_id(name).is_some_and(|(pid, _)| !process_runs(pid))
}

/// Whether a process of this machine runs under `pid`.
fn process_runs(pid: i32) -> bool {
    // SAFETY: signal 0 only checks that the process exists; nothing is sent.
    let found = unsafe { libc::kill(pid, 0) } == 0;
    found || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

/// The writer's pid and the id in a name `temp_beside` gives: `.<name>.<pid>-<32 hex>.tmp`.
fn temp_id(name: &str) -> Option<(i32, &str)> {
    let stem = name.strip_prefix('.')?.strip_suffix(".tmp")?;
    let (pid, id) = stem.rsplit_once('.')?.1.split_once('-')?;
    let hex = id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit());
    hex.then_some((pid.parse().ok()?, id))
}

fn is_temp_name(name: &str) -> bool {
    temp_id(name).is_some()
}

/// A hidden name in the same folder, so the final rename is atomic; it names the writing
/// process, so a later run can tell an abandoned one.
fn temp_beside(path: &Path) -> PathBuf {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let id = uuid::Uuid::new_v4().simple();
    path.with_file_name(format!(".{name}.{}-{id}.tmp", std::process::id()))
}

fn ensure_parent(path: &Path) -> Result<(), StoreError> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::io(dir.display().to_string(), e))
        }
        _ => Ok(()),
    }
}

/// Holds an exclusive advisory lock on the key's folder while alive: a compare-and-swap
/// is short, and locking the folder itself leaves no lock file behind.
struct KeyLock {
    _dir: File,
}

impl KeyLock {
    fn acquire(path: &Path) -> Result<Self, StoreError> {
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let uri = || dir.display().to_string();
        let file = File::open(dir).map_err(|e| StoreError::io(uri(), e))?;
        // SAFETY: flock on a descriptor we own; released when the file closes.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(StoreError::io(uri(), std::io::Error::last_os_error()));
        }
        Ok(KeyLock { _dir: file })
    }
}

impl Store for LocalStore {
    fn discard_staged(&self, prefix: &str) -> Result<u64, StoreError> {
        let mut discarded = 0;
        // (folder, inside a state folder): data folders are written by the lock holder
        // alone; in state folders (`_sluice`) other runs write too, waiting for the lock.
        let mut stack = vec![(self.inside(prefix)?, false)];
        while let Some((next, in_state)) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&next) else {
                continue;
            };
            for entry in entries.flatten() {
                let Ok(kind) = entry.file_type() else {
                    continue;
                };
                let name = entry.file_name().to_string_lossy().into_owned();
                if kind.is_dir() {
                    stack.push((entry.path(), in_state || name.starts_with('_')));
                } else if (kind.is_file() || kind.is_symlink())
                    && is_temp_name(&name)
                    && (!in_state || is_abandoned(&entry, &name))
                {
                    std::fs::remove_file(entry.path())
                        .map_err(|e| StoreError::io(entry.path().display().to_string(), e))?;
                    discarded += 1;
                }
            }
        }
        Ok(discarded)
    }

    fn uri(&self, key: &str) -> String {
        self.path(key).display().to_string()
    }

    fn link(&self, alias: &str, target: &str) -> Result<bool, StoreError> {
        let path = self.inside(alias)?;
        let folder = alias.rsplit_once('/').map_or("", |(folder, _)| folder);
        // The link, followed, stays inside the root like every key.
        self.inside(&super::join_key(folder, target))?;
        let uri = self.uri(alias);
        if std::fs::symlink_metadata(&path).is_ok_and(|m| !m.file_type().is_symlink()) {
            return Err(StoreError::Location {
                location: uri,
                message: "exists and is not the link Sluice keeps there; move it away".into(),
            });
        }
        ensure_parent(&path)?;
        let tmp = temp_beside(&path);
        std::os::unix::fs::symlink(target, &tmp).map_err(|e| StoreError::io(&uri, e))?;
        // rename(2) replaces the old link whole: a reader resolves the old folder or the new.
        if let Err(e) = std::fs::rename(&tmp, &path) {
            let _ = std::fs::remove_file(&tmp);
            return Err(StoreError::io(uri, e));
        }
        sync_folder(path.parent()).map_err(|e| StoreError::io(self.uri(folder), e))?;
        Ok(true)
    }

    fn delete_folder(&self, prefix: &str) -> Result<(), StoreError> {
        let path = self.inside(prefix)?;
        // remove_dir_all does not follow links: only what is under the folder goes.
        match std::fs::remove_dir_all(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StoreError::io(self.uri(prefix), e)),
        }
    }

    fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, StoreError> {
        let mut found = Vec::new();
        let start = self.inside(prefix)?;
        // A prefix may end inside a file name: walk from its folder and filter.
        let dir = if prefix.is_empty() || prefix.ends_with('/') {
            start.clone()
        } else {
            start.parent().map(Path::to_path_buf).unwrap_or_default()
        };
        walk(&dir, &mut |path| {
            let Ok(rel) = path.strip_prefix(&self.root) else {
                return;
            };
            let key = rel.to_string_lossy().into_owned();
            let hidden = rel
                .components()
                .any(|c| c.as_os_str().to_string_lossy().starts_with('.'));
            if key.starts_with(prefix) && !hidden {
                if let Ok(Some(meta)) = self.head(&key) {
                    found.push(meta);
                }
            }
        })
        .map_err(|e| StoreError::io(dir.display().to_string(), e))?;
        found.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(found)
    }

    fn head(&self, key: &str) -> Result<Option<ObjectMeta>, StoreError> {
        let path = self.inside(key)?;
        match std::fs::metadata(&path) {
            Ok(m) if m.is_file() => {
                let mtime = m
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .unwrap_or_default();
                Ok(Some(ObjectMeta {
                    key: key.into(),
                    size: m.len(),
                    etag: format!("{:x}-{:x}", m.len(), mtime.as_nanos()),
                    version: None,
                }))
            }
            Ok(_) => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::io(self.uri(key), e)),
        }
    }

    fn get(&self, key: &str) -> Result<Option<Fetched>, StoreError> {
        match std::fs::read(self.inside(key)?) {
            Ok(body) => Ok(Some(Fetched {
                etag: etag_of(&body),
                body: body.into(),
            })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::io(self.uri(key), e)),
        }
    }

    fn put(&self, key: &str, body: Bytes, when: Precondition) -> Result<String, StoreError> {
        let path = self.inside(key)?;
        let uri = self.uri(key);
        ensure_parent(&path)?;
        let etag = etag_of(&body);
        let tmp = temp_beside(&path);
        write_synced(&tmp, &body).map_err(|e| StoreError::io(&uri, e))?;
        let result = match when {
            Precondition::IfAbsent => match std::fs::hard_link(&tmp, &path) {
                Ok(()) => Ok(etag),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    Err(StoreError::Conflict { uri })
                }
                Err(e) => Err(StoreError::io(uri, e)),
            },
            Precondition::None => std::fs::rename(&tmp, &path)
                .map(|_| etag)
                .map_err(|e| StoreError::io(uri, e)),
            Precondition::IfMatch(expected) => {
                let _lock = KeyLock::acquire(&path)?;
                match self.get(key)? {
                    Some(current) if current.etag == expected => std::fs::rename(&tmp, &path)
                        .map(|_| etag)
                        .map_err(|e| StoreError::io(uri, e)),
                    Some(_) => Err(StoreError::Conflict { uri }),
                    None => Err(StoreError::NotFound { uri }),
                }
            }
        };
        let _ = std::fs::remove_file(&tmp);
        result
    }

    fn delete(&self, key: &str, when: Precondition) -> Result<(), StoreError> {
        let path = self.inside(key)?;
        let uri = self.uri(key);
        let _lock = match &when {
            Precondition::IfMatch(_) => Some(KeyLock::acquire(&path)?),
            _ => None,
        };
        if let Precondition::IfMatch(expected) = &when {
            match self.get(key)? {
                Some(current) if &current.etag == expected => {}
                Some(_) => return Err(StoreError::Conflict { uri }),
                None => return Ok(()),
            }
        }
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StoreError::io(uri, e)),
        }
    }

    fn open(&self, meta: &ObjectMeta) -> Result<Box<dyn Read + Send>, StoreError> {
        let file = File::open(self.inside(&meta.key)?)
            .map_err(|e| StoreError::io(self.uri(&meta.key), e))?;
        Ok(Box::new(file))
    }

    fn create(&self, key: &str) -> Result<Box<dyn ObjectWriter>, StoreError> {
        let path = self.inside(key)?;
        ensure_parent(&path)?;
        let tmp = temp_beside(&path);
        let file = File::create(&tmp).map_err(|e| StoreError::io(tmp.display().to_string(), e))?;
        Ok(Box::new(LocalWriter {
            file: Some(BufWriter::with_capacity(1 << 20, Writeback::new(file))),
            tmp,
            path,
        }))
    }
}

/// Makes a rename in `folder` durable.
fn sync_folder(folder: Option<&Path>) -> std::io::Result<()> {
    match folder {
        Some(dir) if !dir.as_os_str().is_empty() => File::open(dir)?.sync_all(),
        _ => File::open(".")?.sync_all(),
    }
}

fn write_synced(path: &Path, body: &[u8]) -> std::io::Result<()> {
    let mut file = File::create(path)?;
    file.write_all(body)?;
    file.sync_all()
}

fn walk(dir: &Path, visit: &mut dyn FnMut(&Path)) -> std::io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        // Symbolic links are not followed: a listing stays inside its folder (a link to
        // `/proc/self/environ` in an ingest source would copy the environment out).
        let kind = entry.file_type()?;
        if kind.is_dir() {
            walk(&entry.path(), visit)?;
        } else if kind.is_file() {
            visit(&entry.path());
        }
    }
    Ok(())
}

/// A file written under a hidden temporary name beside its final path.
struct LocalWriter {
    file: Option<BufWriter<Writeback>>,
    tmp: PathBuf,
    path: PathBuf,
}

impl Write for LocalWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.file.as_mut().expect("open until staged").write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.file.as_mut().expect("open until staged").flush()
    }
}

impl ObjectWriter for LocalWriter {
    fn stage(mut self: Box<Self>) -> Result<Box<dyn StagedObject>, StoreError> {
        let uri = self.tmp.display().to_string();
        let file = self
            .file
            .take()
            .expect("staged once")
            .into_inner()
            .map_err(|e| StoreError::io(&uri, e.into_error()))?
            .into_file();
        file.sync_all().map_err(|e| StoreError::io(&uri, e))?;
        let bytes = file.metadata().map(|m| m.len()).unwrap_or(0);
        let tmp = std::mem::take(&mut self.tmp);
        Ok(Box::new(LocalStaged {
            tmp,
            path: self.path.clone(),
            bytes,
        }))
    }
}

impl Drop for LocalWriter {
    fn drop(&mut self) {
        if !self.tmp.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

struct LocalStaged {
    tmp: PathBuf,
    path: PathBuf,
    bytes: u64,
}

impl StagedObject for LocalStaged {
    fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Renames into place (atomic on one filesystem) and syncs the folder.
    fn commit(mut self: Box<Self>) -> Result<(), StoreError> {
        let tmp = std::mem::take(&mut self.tmp);
        std::fs::rename(&tmp, &self.path)
            .map_err(|e| StoreError::io(self.path.display().to_string(), e))?;
        if let Some(dir) = self.path.parent() {
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }
}

impl Drop for LocalStaged {
    fn drop(&mut self) {
        if !self.tmp.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_names_carry_their_writer() {
        let path = temp_beside(Path::new("out/rows.parquet"));
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert_eq!(
            temp_id(&name).map(|(pid, _)| pid),
            Some(std::process::id() as i32)
        );
        assert!(process_runs(std::process::id() as i32));
        for other in [
            "rows.parquet",
            ".rows.parquet.tmp",
            ".x.12-abc.tmp",
            ".x.ab-0123456789abcdef0123456789abcdef.tmp",
        ] {
            assert!(!is_temp_name(other), "{other}");
        }
    }

    #[test]
    fn a_key_that_leaves_the_root_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path().join("root"));
        for key in ["../x", "a/../../x", "/etc/passwd"] {
            let put = store.put(key, Bytes::from_static(b"x"), Precondition::None);
            assert!(
                matches!(put, Err(StoreError::Location { .. })),
                "{key}: {put:?}"
            );
            assert!(
                matches!(store.get(key), Err(StoreError::Location { .. })),
                "{key}"
            );
            assert!(store.create(key).is_err(), "{key}");
        }
        assert!(!dir.path().join("x").exists());
        store
            .put("a/b.txt", Bytes::from_static(b"x"), Precondition::None)
            .unwrap();
        assert!(dir.path().join("root/a/b.txt").exists());
    }

    #[test]
    fn conditional_writes_behave_like_s3() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path().into());
        let first = store
            .put("a/k", Bytes::from_static(b"1"), Precondition::IfAbsent)
            .unwrap();
        assert!(matches!(
            store.put("a/k", Bytes::from_static(b"2"), Precondition::IfAbsent),
            Err(StoreError::Conflict { .. })
        ));
        let second = store
            .put(
                "a/k",
                Bytes::from_static(b"2"),
                Precondition::IfMatch(first.clone()),
            )
            .unwrap();
        assert!(matches!(
            store.put(
                "a/k",
                Bytes::from_static(b"3"),
                Precondition::IfMatch(first)
            ),
            Err(StoreError::Conflict { .. })
        ));
        assert_eq!(store.get("a/k").unwrap().unwrap().body.as_ref(), b"2");
        assert!(matches!(
            store.delete("a/k", Precondition::IfMatch("nope".into())),
            Err(StoreError::Conflict { .. })
        ));
        store.delete("a/k", Precondition::IfMatch(second)).unwrap();
        assert!(store.get("a/k").unwrap().is_none());
    }

    #[test]
    fn lists_by_prefix_without_hidden_files() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path().into());
        for key in ["t/v1.json", "t/v2.json", "u/x", "t/.v3.json.tmp"] {
            store
                .put(key, Bytes::from_static(b"x"), Precondition::None)
                .unwrap();
        }
        let keys: Vec<_> = store
            .list("t/v")
            .unwrap()
            .into_iter()
            .map(|m| m.key)
            .collect();
        assert_eq!(keys, ["t/v1.json", "t/v2.json"]);
    }

    #[test]
    fn staged_objects_appear_only_on_commit() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path().into());
        let mut w = store.create("o/f.parquet").unwrap();
        w.write_all(b"data").unwrap();
        let staged = w.stage().unwrap();
        assert!(store.head("o/f.parquet").unwrap().is_none());
        staged.commit().unwrap();
        assert_eq!(
            store.get("o/f.parquet").unwrap().unwrap().body.as_ref(),
            b"data"
        );
        let mut dropped = store.create("o/g.parquet").unwrap();
        dropped.write_all(b"x").unwrap();
        drop(dropped);
        assert_eq!(std::fs::read_dir(dir.path().join("o")).unwrap().count(), 1);
    }
}
