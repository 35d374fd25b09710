//! Where bytes live: local folders or S3 buckets, behind one small interface.
//!
//! Sources read objects through [`Storage::open`]; sinks write them through
//! [`Store::create`], which stages an object (a hidden temporary file, or a multipart
//! upload that is not yet completed) and makes it visible only on
//! [`StagedObject::commit`]. The commit protocol, the table lock and the version registry
//! need only the small conditional-write API of [`Store`], which both backends implement.

mod error;
pub mod local;
mod location;
mod select;
mod writeback;

use std::io::{Read, Write};
use std::sync::Arc;

use bytes::Bytes;

pub use error::StoreError;
pub use local::LocalStore;
pub use location::{join_key, Location};
pub use select::{newest_date, KeyGlob};

/// An object found by listing, with what identifies its exact content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    /// The key inside its store (a path relative to the root for local stores).
    pub key: String,
    pub size: u64,
    /// S3 ETag, or a size-and-mtime fingerprint for local files.
    pub etag: String,
    /// The S3 version id, when the bucket is versioned.
    pub version: Option<String>,
}

/// When a write may happen; the compare-and-swap behind commits, locks and the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Precondition {
    None,
    /// Only if no object has the key (`If-None-Match: *`).
    IfAbsent,
    /// Only if the object still has this ETag (`If-Match`).
    IfMatch(String),
}

/// A small object read whole, with its ETag for a later conditional write.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub body: Bytes,
    pub etag: String,
}

/// A bucket, or a folder on this machine.
pub trait Store: Send + Sync {
    /// The URI of a key, for messages and reports.
    fn uri(&self, key: &str) -> String;
    /// Every object whose key starts with `prefix`, sorted by key.
    fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, StoreError>;
    fn head(&self, key: &str) -> Result<Option<ObjectMeta>, StoreError>;
    /// Reads a small object whole; `None` when it does not exist.
    fn get(&self, key: &str) -> Result<Option<Fetched>, StoreError>;
    /// Writes a small object whole, if the precondition holds; returns the new ETag.
    fn put(&self, key: &str, body: Bytes, when: Precondition) -> Result<String, StoreError>;
    /// Deletes an object, if the precondition holds (`IfAbsent` is not meaningful here).
    fn delete(&self, key: &str, when: Precondition) -> Result<(), StoreError>;
    /// Streams an object's bytes; fails if its content no longer matches `meta.etag`.
    fn open(&self, meta: &ObjectMeta) -> Result<Box<dyn Read + Send>, StoreError>;
    /// Starts writing an object that stays invisible until its staged form is committed.
    fn create(&self, key: &str) -> Result<Box<dyn ObjectWriter>, StoreError>;

    /// Discards what crashed writers left staged under `prefix`: hidden temporary files,
    /// incomplete multipart uploads. In state folders (names starting with `_`), where
    /// runs waiting for the lock write too, only what is clearly abandoned. Only for a
    /// caller that holds the lock of everything written there. Returns how many.
    fn discard_staged(&self, _prefix: &str) -> Result<u64, StoreError> {
        Ok(0)
    }

    /// Points the link `alias` at the folder `target`, a path relative to the alias's own
    /// folder, replacing an earlier link in one atomic step. Only local folders have
    /// links: other stores return `false`, and their readers follow a pointer object.
    fn link(&self, _alias: &str, _target: &str) -> Result<bool, StoreError> {
        Ok(false)
    }

    /// Deletes every object under the folder `prefix`.
    fn delete_folder(&self, prefix: &str) -> Result<(), StoreError> {
        let folder = format!("{}/", prefix.trim_end_matches('/'));
        for meta in self.list(&folder)? {
            self.delete(&meta.key, Precondition::None)?;
        }
        Ok(())
    }

    /// The bucket, for a store that is one; lets two S3 stores copy server-side.
    fn s3_bucket(&self) -> Option<&str> {
        None
    }

    /// Copies `source` (an object of `from`) to `key` without the bytes passing through
    /// this process, when both stores can; `Ok(None)` when they can't.
    fn copy_from(
        &self,
        _key: &str,
        _from: &dyn Store,
        _source: &ObjectMeta,
    ) -> Result<Option<u64>, StoreError> {
        Ok(None)
    }
}

/// Copies `source` of `from` to `key` of `to`: server-side when both stores can, else
/// streamed through a staged object, so the copy appears whole or not at all. Returns
/// the bytes copied.
pub fn copy_object(
    to: &dyn Store,
    key: &str,
    from: &dyn Store,
    source: &ObjectMeta,
) -> Result<u64, StoreError> {
    if let Some(bytes) = to.copy_from(key, from, source)? {
        return Ok(bytes);
    }
    let mut reader = from.open(source)?;
    let mut writer = to.create(key)?;
    let bytes =
        std::io::copy(&mut reader, &mut writer).map_err(|e| StoreError::io(to.uri(key), e))?;
    writer.stage()?.commit()?;
    Ok(bytes)
}

/// An object being written. Dropping it before [`ObjectWriter::stage`] discards it.
pub trait ObjectWriter: Write + Send {
    /// Flushes every byte; the object is complete but still invisible.
    fn stage(self: Box<Self>) -> Result<Box<dyn StagedObject>, StoreError>;
}

/// A complete object waiting to be made visible. Dropping it discards it (the temporary
/// file is deleted, the multipart upload aborted).
pub trait StagedObject: Send {
    fn bytes(&self) -> u64;
    /// Makes the object visible under its key, atomically.
    fn commit(self: Box<Self>) -> Result<(), StoreError>;
}

/// Opens buckets by name. The S3 backend (`sluice-aws`) implements it; the engine has no
/// AWS code of its own.
pub trait Buckets: Send + Sync {
    fn bucket(&self, name: &str) -> Result<Arc<dyn Store>, StoreError>;
}

/// Resolves locations to stores: local folders always, `s3://` buckets through the
/// [`Buckets`] it was given.
#[derive(Clone, Default)]
pub struct Storage {
    buckets: Option<Arc<dyn Buckets>>,
}

impl Storage {
    /// Local folders only: an `s3://` location is an error.
    pub fn local() -> Self {
        Storage::default()
    }

    /// Local folders, and buckets opened by `buckets`.
    pub fn with_buckets(buckets: Arc<dyn Buckets>) -> Self {
        Storage {
            buckets: Some(buckets),
        }
    }

    /// The store holding a location, and the location's key inside it.
    pub fn resolve(&self, location: &Location) -> Result<(Arc<dyn Store>, String), StoreError> {
        match location {
            Location::Local(path) => Ok((Arc::new(LocalStore::new(path.clone())), String::new())),
            Location::S3 { bucket, key } => Ok((self.bucket(bucket)?, key.clone())),
        }
    }

    pub fn bucket(&self, bucket: &str) -> Result<Arc<dyn Store>, StoreError> {
        match &self.buckets {
            Some(buckets) => buckets.bucket(bucket),
            None => Err(StoreError::Location {
                location: format!("s3://{bucket}"),
                message: "this build reads and writes local folders only".into(),
            }),
        }
    }
}
