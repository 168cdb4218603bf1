//! Ordered key-value engines with atomic batches.
//!
//! An engine knows nothing of yui: [`crate::KvStore`] owns the key layout.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::RwLock;

use crate::{Result, StoreError};

/// One write in an atomic batch.
#[derive(Debug, Clone)]
pub enum Op {
    /// Set a key.
    Put(Vec<u8>, Vec<u8>),
    /// Remove a key.
    Delete(Vec<u8>),
}

/// An ordered key-value map with atomic batches and explicit durability.
pub trait Engine: Send + Sync + 'static {
    /// Value for `key`.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>>;
    /// Up to `limit` pairs with `start <= key < end`, in key order.
    fn range(&self, start: &[u8], end: &[u8], limit: usize) -> Result<Vec<(Vec<u8>, Vec<u8>)>>;
    /// Applies all ops or none.
    fn apply(&self, ops: Vec<Op>) -> Result<()>;
    /// Makes applied batches durable.
    fn flush(&self) -> Result<()>;
}

/// A shared engine (tests open one engine's data through several stores).
impl<E: Engine> Engine for std::sync::Arc<E> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        (**self).get(key)
    }
    fn range(&self, start: &[u8], end: &[u8], limit: usize) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        (**self).range(start, end, limit)
    }
    fn apply(&self, ops: Vec<Op>) -> Result<()> {
        (**self).apply(ops)
    }
    fn flush(&self) -> Result<()> {
        (**self).flush()
    }
}

/// The in-memory engine: a `BTreeMap` behind a lock. Nothing survives a drop.
#[derive(Default)]
pub struct MemEngine {
    map: RwLock<BTreeMap<Vec<u8>, Vec<u8>>>,
}

impl MemEngine {
    /// An empty engine.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Engine for MemEngine {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.map.read().expect("lock").get(key).cloned())
    }

    fn range(&self, start: &[u8], end: &[u8], limit: usize) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        if start >= end {
            return Ok(Vec::new());
        }
        Ok(self
            .map
            .read()
            .expect("lock")
            .range(start.to_vec()..end.to_vec())
            .take(limit)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    fn apply(&self, ops: Vec<Op>) -> Result<()> {
        let mut map = self.map.write().expect("lock");
        for op in ops {
            match op {
                Op::Put(k, v) => {
                    map.insert(k, v);
                }
                Op::Delete(k) => {
                    map.remove(&k);
                }
            }
        }
        Ok(())
    }

    fn flush(&self) -> Result<()> {
        Ok(())
    }
}

/// Why an engine did not open.
enum Opening {
    /// Another holder has the folder's lock.
    InUse,
    /// Anything else.
    Failed(StoreError),
}

/// How long an open waits for a folder's lock: a handle dropped in this
/// process a moment ago may hold it until its background threads end
/// (sled's flusher wakes every 500 ms).
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// Runs `open` until it gets the folder's lock or [`LOCK_WAIT`] passes;
/// then a folder still in use is an error naming it.
fn retry_in_use<T>(
    dir: &Path,
    mut open: impl FnMut() -> std::result::Result<T, Opening>,
) -> Result<T> {
    let deadline = std::time::Instant::now() + LOCK_WAIT;
    loop {
        match open() {
            Ok(t) => return Ok(t),
            Err(Opening::Failed(e)) => return Err(e),
            Err(Opening::InUse) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(Opening::InUse) => {
                return Err(StoreError::Engine(format!(
                    "data folder {} is in use by another process (is another `yui run` using this home?)",
                    dir.display()
                )))
            }
        }
    }
}

/// The sled engine: one sled tree, so that one `Batch` is atomic across every
/// logical index.
pub struct SledEngine {
    db: sled::Db,
    tree: sled::Tree,
}

fn engine_err(e: sled::Error) -> StoreError {
    match e {
        sled::Error::Io(io) if io.kind() == std::io::ErrorKind::StorageFull => {
            StoreError::DiskFull(io.to_string())
        }
        e => StoreError::Engine(e.to_string()),
    }
}

impl SledEngine {
    /// Opens (or creates) the database in `dir`. Fails if another process
    /// holds it.
    pub fn open(dir: &Path) -> Result<Self> {
        retry_in_use(dir, || {
            sled::Config::new()
                .path(dir)
                .cache_capacity(64 * 1024 * 1024)
                .flush_every_ms(Some(500))
                .open()
                .map_err(|e| match e {
                    sled::Error::Io(io)
                        if io.kind() == std::io::ErrorKind::WouldBlock
                            || io.to_string().contains("acquire lock") =>
                    {
                        Opening::InUse
                    }
                    other => Opening::Failed(StoreError::Engine(format!(
                        "cannot open data folder {}: {other}",
                        dir.display()
                    ))),
                })
        })
        .and_then(|db| {
            let tree = db.open_tree("yui").map_err(engine_err)?;
            Ok(Self { db, tree })
        })
    }

    /// Bytes the database takes on disk.
    pub fn size_on_disk(&self) -> Result<u64> {
        self.db.size_on_disk().map_err(engine_err)
    }
}

impl Engine for SledEngine {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.tree.get(key).map_err(engine_err)?.map(|v| v.to_vec()))
    }

    fn range(&self, start: &[u8], end: &[u8], limit: usize) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        if start >= end {
            return Ok(Vec::new());
        }
        self.tree
            .range(start..end)
            .take(limit)
            .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())).map_err(engine_err))
            .collect()
    }

    fn apply(&self, ops: Vec<Op>) -> Result<()> {
        let mut batch = sled::Batch::default();
        for op in ops {
            match op {
                Op::Put(k, v) => batch.insert(k, v),
                Op::Delete(k) => batch.remove(k),
            }
        }
        self.tree.apply_batch(batch).map_err(engine_err)
    }

    fn flush(&self) -> Result<()> {
        self.tree.flush().map_err(engine_err).map(|_| ())
    }
}

/// The fjall engine (an LSM tree: writes append to a journal and a memtable,
/// so a batch costs far less than in sled's B-tree; see BENCHMARKS.md). One
/// keyspace, so one `WriteBatch` is atomic across every logical index.
pub struct FjallEngine {
    db: fjall::Database,
    tree: fjall::Keyspace,
    dir: std::path::PathBuf,
}

/// Whether the file system holding `dir` has less free space than two
/// memtables (what a flush and its compaction may need).
fn nearly_full(dir: &Path) -> bool {
    rustix::fs::statvfs(dir)
        .is_ok_and(|st| st.f_bavail.saturating_mul(st.f_frsize) < 2 * FJALL_MEMTABLE_BYTES)
}

fn fjall_err(e: fjall::Error) -> StoreError {
    match e {
        fjall::Error::Io(io) if io.kind() == std::io::ErrorKind::StorageFull => {
            StoreError::DiskFull(io.to_string())
        }
        fjall::Error::Poisoned => StoreError::Engine(
            "an earlier write failed (full disk or I/O error); restart the node once the cause is fixed".into(),
        ),
        e => StoreError::Engine(e.to_string()),
    }
}

/// Block cache of the fjall engine: small, the working set is recent heads
/// and the OS page cache holds the rest.
const FJALL_CACHE_BYTES: u64 = 32 * 1024 * 1024;

/// Memtable of a new fjall keyspace before it is flushed to a table (fjall's
/// default is 64 MiB). A node replays its journal into the memtable at
/// start, so this bounds what that costs in memory; fjall keeps the size a
/// keyspace was made with.
const FJALL_MEMTABLE_BYTES: u64 = 16 * 1024 * 1024;

/// fjall's background workers (flushes and compactions): one per core as
/// fjall chooses (at most 4), but never fewer than 3. fjall's worker 0
/// leaves compactions to the others: handed one while all of them are
/// busy, it queues it again and takes it straight back, spinning on a core
/// until one is free (fjall 3.1.13, `worker_pool.rs`). With fjall's 2
/// workers on a 2-core machine it spun for as long as the other compacted:
/// in `yui bench node` (a full sync of 1,000,000 entries into this engine)
/// the workers took 10.6–13.4 CPU-s with 2 and 5.6–7.3 CPU-s with 3, and
/// the sync 18.5–21.1 s against 15.5–18.8 s. One worker cannot spin but
/// can block on its own full queue (a rotation request queued by every
/// write while it compacts), so it is not used.
fn fjall_workers() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(3, 4)
}

impl FjallEngine {
    /// Opens (or creates) the database in `dir`. Fails if another process
    /// holds it.
    pub fn open(dir: &Path) -> Result<Self> {
        let db = retry_in_use(dir, || {
            fjall::Database::builder(dir)
                .cache_size(FJALL_CACHE_BYTES)
                .worker_threads(fjall_workers())
                .open()
                .map_err(|e| match e {
                    fjall::Error::Locked => Opening::InUse,
                    fjall::Error::Io(io) if io.kind() == std::io::ErrorKind::WouldBlock => {
                        Opening::InUse
                    }
                    other => Opening::Failed(StoreError::Engine(format!(
                        "cannot open data folder {}: {other}",
                        dir.display()
                    ))),
                })
        })?;
        let tree = db
            .keyspace("yui", || {
                fjall::KeyspaceCreateOptions::default().max_memtable_size(FJALL_MEMTABLE_BYTES)
            })
            .map_err(fjall_err)?;
        Ok(Self {
            db,
            tree,
            dir: dir.to_owned(),
        })
    }

    /// [`fjall_err`], except that a store poisoned by a failed background
    /// write (a memtable flush) on a disk with less free space than a
    /// flush needs is reported as the full disk it is.
    fn err(&self, e: fjall::Error) -> StoreError {
        match e {
            fjall::Error::Poisoned if nearly_full(&self.dir) => {
                StoreError::DiskFull("a background write of the store found no space left".into())
            }
            e => fjall_err(e),
        }
    }
}

impl Engine for FjallEngine {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self
            .tree
            .get(key)
            .map_err(|e| self.err(e))?
            .map(|v| v.to_vec()))
    }

    fn range(&self, start: &[u8], end: &[u8], limit: usize) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        if start >= end {
            return Ok(Vec::new());
        }
        self.tree
            .range(start..end)
            .take(limit)
            .map(|g| {
                g.into_inner()
                    .map(|(k, v)| (k.to_vec(), v.to_vec()))
                    .map_err(|e| self.err(e))
            })
            .collect()
    }

    fn apply(&self, ops: Vec<Op>) -> Result<()> {
        // PersistMode::Buffer: the journal's in-process buffer is written to
        // the OS (a write(2)) before commit returns, so a killed process
        // loses nothing applied; only `flush` (fsync) makes it survive a
        // power loss or an OS crash. Set explicitly, not left to fjall's
        // default.
        let mut batch = self.db.batch().durability(Some(fjall::PersistMode::Buffer));
        for op in ops {
            match op {
                Op::Put(k, v) => batch.insert(&self.tree, k, v),
                Op::Delete(k) => batch.remove(&self.tree, k),
            }
        }
        batch.commit().map_err(|e| self.err(e))
    }

    fn flush(&self) -> Result<()> {
        self.db
            .persist(fjall::PersistMode::SyncAll)
            .map_err(|e| self.err(e))
    }
}

impl Engine for Box<dyn Engine> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        (**self).get(key)
    }
    fn range(&self, start: &[u8], end: &[u8], limit: usize) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        (**self).range(start, end, limit)
    }
    fn apply(&self, ops: Vec<Op>) -> Result<()> {
        (**self).apply(ops)
    }
    fn flush(&self) -> Result<()> {
        (**self).flush()
    }
}

/// Which engine holds a data folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineKind {
    /// fjall: every data folder created since store format 2.
    Fjall,
    /// sled: data folders created before; still read and written.
    Sled,
}

impl EngineKind {
    /// The engine of the data folder `dir`: sled if sled's files are there,
    /// else fjall (also for a new folder).
    pub fn of(dir: &Path) -> Self {
        if dir.join("conf").is_file() && dir.join("db").is_file() {
            EngineKind::Sled
        } else {
            EngineKind::Fjall
        }
    }
}

impl std::fmt::Display for EngineKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            EngineKind::Fjall => "fjall",
            EngineKind::Sled => "sled",
        })
    }
}

impl std::str::FromStr for EngineKind {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "fjall" => Ok(EngineKind::Fjall),
            "sled" => Ok(EngineKind::Sled),
            _ => Err(format!("engine must be fjall or sled, not {s:?}")),
        }
    }
}

/// Creates the data folder `dir` for `kind`, so that [`open_dir`] opens it
/// with that engine from then on. A folder that already holds data keeps
/// its engine: an error names it when it is another.
pub fn create_dir(dir: &Path, kind: EngineKind) -> Result<()> {
    let has_data = std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some());
    if has_data && EngineKind::of(dir) != kind {
        return Err(StoreError::Engine(format!(
            "{} already holds a {} store; move it with yui store convert",
            dir.display(),
            EngineKind::of(dir)
        )));
    }
    match kind {
        EngineKind::Fjall => drop(FjallEngine::open(dir)?),
        EngineKind::Sled => drop(SledEngine::open(dir)?),
    }
    Ok(())
}

/// Opens the data folder `dir` with the engine that holds it (a new folder:
/// fjall).
pub fn open_dir(dir: &Path) -> Result<(Box<dyn Engine>, EngineKind)> {
    // A convert that stopped after its copy was complete.
    crate::convert::finish_convert(dir)?;
    let kind = EngineKind::of(dir);
    let engine: Box<dyn Engine> = match kind {
        EngineKind::Fjall => Box::new(FjallEngine::open(dir)?),
        EngineKind::Sled => Box::new(SledEngine::open(dir)?),
    };
    Ok((engine, kind))
}
