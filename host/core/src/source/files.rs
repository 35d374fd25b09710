//! Finding input objects (local files or S3 keys, by path or glob) and opening them as
//! plain bytes (gzip undone, BOM dropped).

use std::io::{BufRead, BufReader, Read};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use super::identity::{ContentHash, ContentHasher};
use super::inflate::Inflating;
use super::SourceError;
use super::{Compression, Select};
use crate::storage::{newest_date, KeyGlob, LocalStore, Location, ObjectMeta, Storage, Store};

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const UTF8_BOM: [u8; 3] = [0xef, 0xbb, 0xbf];
const READ_BUFFER: usize = 1 << 20;

/// One input file or object, pinned to the content it had when it was listed.
#[derive(Clone)]
pub struct InputObject {
    /// A local path or an `s3://` URI: what errors and reports name.
    pub uri: String,
    pub meta: ObjectMeta,
    store: Arc<dyn Store>,
    /// How a local file's content is named (its table's choice; BLAKE3 unless set).
    hash: ContentHash,
    /// A local file's content digest: set by the first reader that reads it to the end,
    /// or computed the first time it is asked for.
    digest: Arc<OnceLock<String>>,
}

impl InputObject {
    fn new(uri: String, meta: ObjectMeta, store: Arc<dyn Store>) -> Self {
        InputObject {
            uri,
            meta,
            store,
            hash: ContentHash::Blake3,
            digest: Arc::default(),
        }
    }

    /// Names a local file's content by `hash` from now on: a table committed with SHA-256
    /// identities keeps them (see [`ContentHash`]).
    pub fn set_content_hash(&mut self, hash: ContentHash) {
        if hash != self.hash {
            self.hash = hash;
            self.digest = Arc::default();
        }
    }

    pub fn size(&self) -> u64 {
        self.meta.size
    }

    /// What identifies this exact content, and so the commit unit: the ETag (and version)
    /// on S3; locally, a digest of the bytes, since a size and mtime would make the same
    /// bytes delivered again a new unit (and their rows appended twice).
    pub fn identity(&self) -> String {
        if self.store.s3_bucket().is_none() {
            return self
                .digest
                .get_or_init(|| self.content_digest(self.hash))
                .clone();
        }
        match &self.meta.version {
            Some(v) => format!("{}#{}", self.meta.etag, v),
            None => self.meta.etag.clone(),
        }
    }

    /// Whether `recorded`, an identity this object had when something recorded it, is
    /// still its identity: a digest is taken again with the recorded one's algorithm.
    pub fn has_identity(&self, recorded: &str) -> bool {
        match ContentHash::of_identity(recorded) {
            Some(hash) if self.store.s3_bucket().is_none() && hash != self.hash => {
                self.content_digest(hash) == recorded
            }
            _ => self.identity() == recorded,
        }
    }

    /// `<algorithm>:<hex>` of the bytes; an unreadable file keeps its listing fingerprint
    /// (reading it for the run reports why it can't be read).
    fn content_digest(&self, hash: ContentHash) -> String {
        let mut hasher = hash.hasher();
        let mut buffer = vec![0u8; 1 << 20];
        let Ok(mut reader) = self.store.open(&self.meta) else {
            return self.meta.etag.clone();
        };
        loop {
            match reader.read(&mut buffer) {
                Ok(0) => return hasher.finish(),
                Ok(n) => hasher.update(&buffer[..n]),
                Err(_) => return self.meta.etag.clone(),
            }
        }
    }

    /// Copies this object to `key` of `to` server-side, when both are S3 (`None` otherwise).
    pub(crate) fn copy_server_side(
        &self,
        to: &dyn Store,
        key: &str,
    ) -> Result<Option<u64>, crate::storage::StoreError> {
        to.copy_from(key, &*self.store, &self.meta)
    }

    /// A hasher for a stream over this object's bytes, when its identity is a digest not
    /// yet known: the stream that reads the file then hashes it too, and the file is read
    /// once instead of twice.
    fn digesting(&self) -> Option<Digesting> {
        let wanted = self.store.s3_bucket().is_none() && self.digest.get().is_none();
        wanted.then(|| Digesting {
            hasher: self.hash.hasher(),
            into: self.digest.clone(),
        })
    }

    pub(crate) fn open(&self) -> Result<Box<dyn Read + Send>, SourceError> {
        self.store
            .open(&self.meta)
            .map_err(|e| SourceError::io(&self.uri, e.into_io()))
    }
}

/// Computes every object's [`InputObject::identity`] ahead of use, on up to `threads`
/// threads: a local file's digest is one sequential pass, but files are independent, so
/// a folder of exports is hashed on every core instead of one.
pub fn warm_identities(objects: &[&InputObject], threads: usize) {
    let next = AtomicUsize::new(0);
    let work = || {
        while let Some(object) = objects.get(next.fetch_add(1, Ordering::Relaxed)) {
            object.identity();
        }
    };
    std::thread::scope(|scope| {
        for _ in 1..threads.min(objects.len()) {
            scope.spawn(work);
        }
        work();
    });
}

/// The objects a path, glob or `s3://` pattern names, sorted by key so runs are
/// reproducible, narrowed by the input's selection rule.
pub fn expand(
    pattern: &str,
    select: Select,
    storage: &Storage,
) -> Result<Vec<InputObject>, SourceError> {
    let location =
        Location::parse(pattern, std::path::Path::new("")).map_err(SourceError::Store)?;
    let mut objects = match location {
        Location::Local(_) => expand_local(pattern)?,
        Location::S3 { bucket, key } => {
            let store: Arc<dyn Store> = storage.bucket(&bucket).map_err(SourceError::Store)?;
            let glob = KeyGlob::new(&key).map_err(SourceError::Store)?;
            let metas: Vec<ObjectMeta> = if glob.is_literal() {
                store
                    .head(&key)
                    .map_err(SourceError::Store)?
                    .into_iter()
                    .collect()
            } else {
                store
                    .list(&glob.prefix)
                    .map_err(SourceError::Store)?
                    .into_iter()
                    .filter(|m| glob.matches(&m.key))
                    .collect()
            };
            metas
                .into_iter()
                .map(|meta| InputObject::new(store.uri(&meta.key), meta, store.clone()))
                .collect()
        }
    };
    if objects.is_empty() {
        return Err(SourceError::NoFiles {
            pattern: pattern.into(),
        });
    }
    if select == Select::NewestDate {
        let newest = objects.iter().filter_map(|o| newest_date(&o.meta.key)).max().ok_or_else(|| SourceError::Glob {
            pattern: pattern.into(),
            message: "`select = \"newest-date\"` needs a YYYYMMDD date in the file names, and none has one".into(),
        })?;
        objects.retain(|o| newest_date(&o.meta.key) == Some(newest));
    }
    Ok(objects)
}

fn expand_local(pattern: &str) -> Result<Vec<InputObject>, SourceError> {
    let glob_err = |e: String| SourceError::Glob {
        pattern: pattern.into(),
        message: e,
    };
    let store: Arc<dyn Store> = Arc::new(LocalStore::new(Default::default()));
    let folder = literal_folder(pattern);
    let mut objects = Vec::new();
    for entry in glob::glob(pattern).map_err(|e| glob_err(e.to_string()))? {
        let path = entry.map_err(|e| glob_err(e.to_string()))?;
        stays_inside(&path, &folder).map_err(glob_err)?;
        let key = path.to_string_lossy().into_owned();
        if let Some(meta) = store.head(&key).map_err(SourceError::Store)? {
            objects.push(InputObject::new(key, meta, store.clone()));
        }
    }
    objects.sort_by(|a, b| a.uri.cmp(&b.uri));
    Ok(objects)
}

/// Every regular file below a local folder, in key order. Symbolic links are not followed
/// at all, so nothing outside the folder is listed (ingest sources).
pub fn list_folder(folder: &str) -> Result<Vec<InputObject>, SourceError> {
    let store: Arc<dyn Store> = Arc::new(LocalStore::new(folder.into()));
    let metas = store.list("").map_err(SourceError::Store)?;
    let objects: Vec<InputObject> = metas
        .into_iter()
        .map(|meta| InputObject::new(store.uri(&meta.key), meta, store.clone()))
        .collect();
    match objects.is_empty() {
        true => Err(SourceError::NoFiles {
            pattern: format!("{folder}/**"),
        }),
        false => Ok(objects),
    }
}

/// The folder a local pattern names: its path up to the first glob character (for a
/// plain file, the file's folder).
fn literal_folder(pattern: &str) -> std::path::PathBuf {
    let literal: std::path::PathBuf = std::path::Path::new(pattern)
        .components()
        .take_while(|c| !c.as_os_str().to_string_lossy().contains(['*', '?', '[']))
        .collect();
    let is_plain_file = literal.as_os_str().len() == pattern.len();
    match is_plain_file {
        true => literal
            .parent()
            .map(std::path::Path::to_path_buf)
            .unwrap_or_default(),
        false => literal,
    }
}

/// Refuses a match that a symbolic link takes out of the pattern's folder.
fn stays_inside(path: &std::path::Path, folder: &std::path::Path) -> Result<(), String> {
    let folder = if folder.as_os_str().is_empty() {
        std::path::Path::new(".")
    } else {
        folder
    };
    let (Ok(real), Ok(root)) = (path.canonicalize(), folder.canonicalize()) else {
        return Ok(()); // gone since the glob listed it: reading it reports that
    };
    match real.starts_with(&root) {
        true => Ok(()),
        false => Err(format!(
            "{} leads to {} through a symbolic link, outside {}; name the file itself",
            path.display(),
            real.display(),
            root.display()
        )),
    }
}

/// Opens an object as its decompressed bytes, without a leading UTF-8 BOM.
pub fn open_decompressed(
    object: &InputObject,
    compression: Compression,
) -> Result<Box<dyn BufRead + Send>, SourceError> {
    open_counted(object, compression, Arc::default())
}

/// Like [`open_decompressed`], adding the bytes read from the object (before
/// decompression: what its size counts) to `read`, for progress.
pub(crate) fn open_counted(
    object: &InputObject,
    compression: Compression,
    read: Arc<AtomicU64>,
) -> Result<Box<dyn BufRead + Send>, SourceError> {
    let uri = object.uri.as_str();
    let counted = Counted {
        inner: object.open()?,
        read,
        digest: object.digesting(),
    };
    let mut raw = BufReader::with_capacity(READ_BUFFER, counted);
    let gzip = match compression {
        Compression::Gzip => true,
        Compression::None => false,
        Compression::Auto => {
            let head = raw.fill_buf().map_err(|e| SourceError::io(uri, e))?;
            head.starts_with(&GZIP_MAGIC) || uri.ends_with(".gz")
        }
    };
    let mut reader: Box<dyn BufRead + Send> = if gzip {
        Box::new(Inflating::new(raw).map_err(|e| SourceError::io(uri, e))?)
    } else {
        Box::new(raw)
    };
    skip_bom(&mut reader).map_err(|e| SourceError::io(uri, e))?;
    Ok(reader)
}

/// A reader that adds what it reads to a shared counter, and hashes it into the object's
/// digest when that is wanted.
struct Counted {
    inner: Box<dyn Read + Send>,
    read: Arc<AtomicU64>,
    digest: Option<Digesting>,
}

/// The digest of an object's bytes as a stream reads them; set as the object's digest
/// only once the stream reaches the end (a reader that stops early, such as the schema
/// sample's, sets nothing).
struct Digesting {
    hasher: ContentHasher,
    into: Arc<OnceLock<String>>,
}

impl Read for Counted {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        if n > 0 {
            if let Some(digest) = &mut self.digest {
                digest.hasher.update(&buf[..n]);
            }
        } else if let Some(digest) = self.digest.take() {
            let _ = digest.into.set(digest.hasher.finish());
        }
        Ok(n)
    }
}

fn skip_bom(reader: &mut Box<dyn BufRead + Send>) -> std::io::Result<()> {
    let mut head = [0u8; 3];
    let mut seen = 0;
    // fill_buf may return fewer than 3 bytes at a buffer edge; peek byte by byte.
    while seen < 3 {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            break;
        }
        let take = (3 - seen).min(buf.len());
        head[seen..seen + take].copy_from_slice(&buf[..take]);
        if head[..seen + take] != UTF8_BOM[..seen + take] {
            // Not a BOM: nothing consumed unless an earlier partial match was (never for real data).
            return if seen == 0 {
                Ok(())
            } else {
                Err(std::io::Error::other("truncated byte order mark"))
            };
        }
        reader.consume(take);
        seen += take;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use super::*;

    fn read(bytes: &[u8], name: &str, compression: Compression) -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let object = expand(&path.to_string_lossy(), Select::All, &Storage::local())
            .unwrap()
            .remove(0);
        let mut out = Vec::new();
        open_decompressed(&object, compression)
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn bom_is_dropped_once() {
        assert_eq!(
            read(b"\xef\xbb\xbfa,b\n", "x.csv", Compression::Auto),
            b"a,b\n"
        );
        assert_eq!(read(b"a,b\n", "x.csv", Compression::Auto), b"a,b\n");
        assert_eq!(read(b"\xef\xbb", "x.csv", Compression::Auto), b"");
    }

    #[test]
    fn gzip_by_magic_by_extension_and_multi_member() {
        let mut two = gzip(b"a\n1\n");
        two.extend(gzip(b"2\n"));
        assert_eq!(read(&two, "data.bin", Compression::Auto), b"a\n1\n2\n");
        assert_eq!(
            read(&gzip(b"\xef\xbb\xbfa\n"), "x.csv.gz", Compression::Gzip),
            b"a\n"
        );
        assert_eq!(read(b"plain", "x.csv", Compression::None), b"plain");
    }

    /// A stream that reads a local file to its end leaves the file's digest as its
    /// identity (of the file's bytes, gzip or not); one that stops early leaves nothing.
    #[test]
    fn a_stream_read_to_the_end_leaves_the_files_digest() {
        let dir = tempfile::tempdir().unwrap();
        let text = format!("id\n{}\n", "7".repeat(3 << 20));
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, text.as_bytes()).unwrap();
        let files = [
            ("a.csv", text.into_bytes()),
            ("b.csv.gz", gz.finish().unwrap()),
        ];
        for (name, bytes) in &files {
            std::fs::write(dir.path().join(name), bytes).unwrap();
        }
        let pattern = dir.path().join("*");
        let objects = expand(&pattern.to_string_lossy(), Select::All, &Storage::local()).unwrap();
        for (object, (_, bytes)) in objects.iter().zip(&files) {
            let mut stream = open_counted(object, Compression::Auto, Arc::default()).unwrap();
            stream.read_exact(&mut [0u8; 1000]).unwrap();
            if !object.uri.ends_with(".gz") {
                // (The small gzip file's bytes are all read, inflated ahead, by now.)
                assert_eq!(object.digest.get(), None, "{}: read in part", object.uri);
            }
            std::io::copy(&mut stream, &mut std::io::sink()).unwrap();
            let expected = format!("blake3:{}", blake3::hash(bytes).to_hex());
            assert_eq!(object.digest.get(), Some(&expected), "{}", object.uri);
        }
    }

    #[test]
    fn identities_warmed_on_threads_are_each_files_own_digest() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..7 {
            let text = format!("id\n{}\n", "x".repeat(i * 1000));
            std::fs::write(dir.path().join(format!("{i}.csv")), text).unwrap();
        }
        let pattern = dir.path().join("*.csv");
        let objects = expand(&pattern.to_string_lossy(), Select::All, &Storage::local()).unwrap();
        warm_identities(&objects.iter().collect::<Vec<_>>(), 3);
        for (i, object) in objects.iter().enumerate() {
            let bytes = format!("id\n{}\n", "x".repeat(i * 1000));
            let expected = format!("blake3:{}", blake3::hash(bytes.as_bytes()).to_hex());
            // Computed by the warm-up, not on this first ask.
            assert_eq!(object.digest.get(), Some(&expected), "{}", object.uri);
        }
    }

    /// A table committed with SHA-256 identities keeps them, and an identity recorded
    /// under either algorithm is recognised as long as the bytes are the same.
    #[test]
    fn a_recorded_identity_is_checked_with_its_own_algorithm() {
        use sha2::{Digest, Sha256};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.csv");
        std::fs::write(&path, "id\n1\n").unwrap();
        let sha256 = format!("sha256:{}", hex::encode(Sha256::digest(b"id\n1\n")));
        let blake3 = format!("blake3:{}", blake3::hash(b"id\n1\n").to_hex());
        let found = || expand(&path.to_string_lossy(), Select::All, &Storage::local()).unwrap();

        let mut object = found().remove(0);
        assert_eq!(object.identity(), blake3);
        object.set_content_hash(ContentHash::Sha256);
        assert_eq!(object.identity(), sha256);

        let object = found().remove(0);
        assert!(object.has_identity(&sha256) && object.has_identity(&blake3));
        std::fs::write(&path, "id\n2\n").unwrap();
        let changed = found().remove(0);
        assert!(!changed.has_identity(&sha256) && !changed.has_identity(&blake3));
    }
}
