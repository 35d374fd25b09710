//! One writer per (tenant, table): a lease stored in an object, taken with a create-only
//! write (`If-None-Match: *`), renewed and released with compare-and-swap (`If-Match`) so
//! only its owner can touch it. A holder that crashed stops renewing; once its lease
//! expires, the next run takes it over with a compare-and-swap on the stale lease, so two
//! runs can never both take over.
//!
//! Leases compare wall clocks across machines: keep clocks in sync (NTP, as on AWS) and
//! leases much longer than the skew.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::storage::{Precondition, Store, StoreError};

#[derive(Debug, Clone)]
pub struct LockSettings {
    /// How long a lease lasts without renewal; renewed every third of it.
    pub lease: Duration,
    /// How long to wait for a busy lock before failing.
    pub wait: Duration,
    pub run_id: String,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "table is locked by run `{run_id}` on {host} (pid {pid}) since {acquired_at}; its lease ends in {expires_in_secs} s \
         ({uri}). Wait for it, or pass --lock-wait SECONDS"
    )]
    Busy {
        uri: String,
        run_id: String,
        host: String,
        pid: u32,
        acquired_at: String,
        expires_in_secs: i64,
    },
    #[error(
        "lost the table lock {uri}: another run took it over after our lease could not be renewed"
    )]
    Lost { uri: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What the lock object holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Lease {
    run_id: String,
    host: String,
    pid: u32,
    acquired_at: String,
    expires_at_ms: i64,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn rfc3339_now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

impl Lease {
    fn new(settings: &LockSettings, acquired_at: &str) -> Self {
        Lease {
            run_id: settings.run_id.clone(),
            host: hostname(),
            pid: std::process::id(),
            acquired_at: acquired_at.into(),
            expires_at_ms: now_ms() + settings.lease.as_millis() as i64,
        }
    }

    fn body(&self) -> Bytes {
        serde_json::to_vec(self).expect("a lease serialises").into()
    }
}

fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .map(|h| h.trim().to_string())
                .unwrap_or_else(|_| "unknown".into())
        })
}

/// A held lock; renewed in the background until released or dropped.
pub struct TableLock {
    store: Arc<dyn Store>,
    key: String,
    etag: Arc<Mutex<String>>,
    lost: Arc<AtomicBool>,
    stop: Option<mpsc::Sender<()>>,
    renewer: Option<JoinHandle<()>>,
}

impl TableLock {
    /// Takes the lock, waiting up to `settings.wait` for a live holder to finish.
    pub fn acquire(
        store: Arc<dyn Store>,
        key: &str,
        settings: &LockSettings,
    ) -> Result<Self, LockError> {
        let deadline = Instant::now() + settings.wait;
        let acquired_at = rfc3339_now();
        loop {
            let lease = Lease::new(settings, &acquired_at);
            match store.put(key, lease.body(), Precondition::IfAbsent) {
                Ok(etag) => return Ok(Self::hold(store, key, etag, settings)),
                Err(StoreError::Conflict { .. }) => {}
                Err(e) => return Err(e.into()),
            }
            let Some(current) = store.get(key)? else {
                continue;
            };
            // An unreadable lease can only come from a crashed or foreign writer: treat it as expired.
            let held: Option<Lease> = serde_json::from_slice(&current.body).ok();
            if held.as_ref().is_none_or(|h| h.expires_at_ms <= now_ms()) {
                match store.put(key, lease.body(), Precondition::IfMatch(current.etag)) {
                    Ok(etag) => {
                        if let Some(h) = held {
                            tracing::warn!(lock = %store.uri(key), previous_run = %h.run_id, "took over an expired table lock");
                        }
                        return Ok(Self::hold(store, key, etag, settings));
                    }
                    Err(StoreError::Conflict { .. } | StoreError::NotFound { .. }) => continue,
                    Err(e) => return Err(e.into()),
                }
            }
            let held = held.expect("checked above");
            let now = Instant::now();
            if now >= deadline {
                return Err(LockError::Busy {
                    uri: store.uri(key),
                    run_id: held.run_id,
                    host: held.host,
                    pid: held.pid,
                    acquired_at: held.acquired_at,
                    expires_in_secs: (held.expires_at_ms - now_ms()).max(0) / 1000,
                });
            }
            std::thread::sleep((deadline - now).min(Duration::from_millis(500)));
        }
    }

    fn hold(store: Arc<dyn Store>, key: &str, etag: String, settings: &LockSettings) -> Self {
        let etag = Arc::new(Mutex::new(etag));
        let lost = Arc::new(AtomicBool::new(false));
        let (stop, stopped) = mpsc::channel();
        let renewer = {
            let (store, key, etag, lost, settings) = (
                store.clone(),
                key.to_string(),
                etag.clone(),
                lost.clone(),
                settings.clone(),
            );
            std::thread::Builder::new()
                .name("sluice-lock".into())
                .spawn(move || renew(&*store, &key, &etag, &lost, &settings, &stopped))
                .ok()
        };
        TableLock {
            store,
            key: key.into(),
            etag,
            lost,
            stop: Some(stop),
            renewer,
        }
    }

    /// Fails if the lease was lost; checked right before committing.
    pub fn check(&self) -> Result<(), LockError> {
        if self.lost.load(Ordering::SeqCst) {
            return Err(LockError::Lost {
                uri: self.store.uri(&self.key),
            });
        }
        Ok(())
    }

    /// Stops renewing and deletes the lock object if it is still ours.
    pub fn release(mut self) -> Result<(), LockError> {
        self.stop_renewing();
        self.delete()
    }

    fn stop_renewing(&mut self) {
        drop(self.stop.take());
        if let Some(renewer) = self.renewer.take() {
            let _ = renewer.join();
        }
    }

    fn delete(&self) -> Result<(), LockError> {
        if self.lost.load(Ordering::SeqCst) {
            return Ok(());
        }
        let etag = self.etag.lock().expect("not poisoned").clone();
        match self.store.delete(&self.key, Precondition::IfMatch(etag)) {
            Ok(()) | Err(StoreError::Conflict { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

impl Drop for TableLock {
    fn drop(&mut self) {
        if self.stop.is_some() {
            self.stop_renewing();
            if let Err(e) = self.delete() {
                tracing::warn!("could not release the table lock: {e}");
            }
        }
    }
}

fn renew(
    store: &dyn Store,
    key: &str,
    etag: &Mutex<String>,
    lost: &AtomicBool,
    settings: &LockSettings,
    stopped: &mpsc::Receiver<()>,
) {
    let every = (settings.lease / 3).max(Duration::from_millis(50));
    let acquired_at = rfc3339_now();
    let mut last_renewed = Instant::now();
    while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
        let current = etag.lock().expect("not poisoned").clone();
        match store.put(
            key,
            Lease::new(settings, &acquired_at).body(),
            Precondition::IfMatch(current),
        ) {
            Ok(new) => {
                *etag.lock().expect("not poisoned") = new;
                last_renewed = Instant::now();
            }
            Err(StoreError::Conflict { .. } | StoreError::NotFound { .. }) => {
                lost.store(true, Ordering::SeqCst);
                return;
            }
            // A transient failure: the lease still runs; give up only once it has ended.
            Err(e) if last_renewed.elapsed() < settings.lease => {
                tracing::warn!("renewing the table lock failed: {e}")
            }
            Err(_) => {
                lost.store(true, Ordering::SeqCst);
                return;
            }
        }
    }
}

/// The key of the lock of one job (a table or an ingest job) of a tenant, under the root of
/// its output; `scope` narrows it to one unit of a split table.
pub fn lock_key(root: &str, tenant: &str, job: &str, scope: Option<&str>) -> String {
    let scope = scope.map(|s| format!(".{s}")).unwrap_or_default();
    crate::storage::join_key(
        root,
        &format!("{}/locks/{tenant}/{job}{scope}.lock", super::STATE_DIR),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::LocalStore;

    fn settings(run_id: &str, lease_ms: u64, wait_ms: u64) -> LockSettings {
        LockSettings {
            lease: Duration::from_millis(lease_ms),
            wait: Duration::from_millis(wait_ms),
            run_id: run_id.into(),
        }
    }

    #[test]
    fn a_second_holder_is_refused_then_admitted_after_release() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(LocalStore::new(dir.path().into()));
        let first =
            TableLock::acquire(store.clone(), "l/t.lock", &settings("one", 60_000, 0)).unwrap();
        let err = TableLock::acquire(store.clone(), "l/t.lock", &settings("two", 60_000, 0))
            .err()
            .unwrap();
        assert!(err.to_string().contains("locked by run `one`"), "{err}");
        first.release().unwrap();
        TableLock::acquire(store, "l/t.lock", &settings("two", 60_000, 0))
            .unwrap()
            .release()
            .unwrap();
    }

    #[test]
    fn an_expired_lease_is_taken_over_and_its_holder_learns_it() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(LocalStore::new(dir.path().into()));
        let crashed = Lease {
            run_id: "dead".into(),
            host: "h".into(),
            pid: 1,
            acquired_at: "then".into(),
            expires_at_ms: now_ms() - 1,
        };
        store
            .put("l/t.lock", crashed.body(), Precondition::None)
            .unwrap();
        let taker =
            TableLock::acquire(store.clone(), "l/t.lock", &settings("new", 60_000, 0)).unwrap();
        taker.check().unwrap();
        let held: Lease =
            serde_json::from_slice(&store.get("l/t.lock").unwrap().unwrap().body).unwrap();
        assert_eq!(held.run_id, "new");
    }
}
