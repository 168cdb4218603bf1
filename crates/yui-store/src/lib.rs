//! yui-store: where a node keeps the logs it holds.
//!
//! # Layout
//! - [`Store`]: what the rest of yui asks of storage (per-author logs, heads,
//!   current object versions, fork evidence, trust and peers).
//! - [`KvStore`]: the one implementation of [`Store`] over any ordered
//!   key-value [`Engine`] with atomic batches. All key layout lives in
//!   [`keys`](crate::kv) so engines stay trivial.
//! - [`FjallEngine`] (on disk, every new data folder), [`SledEngine`] (data
//!   folders made before fjall; [`open_dir`] picks the one a folder holds)
//!   and [`MemEngine`] (tests, tools).
//! - [`conformance`]: one suite every engine must pass.
//!
//! **Architecture invariant**: every write for a batch of entries (log,
//! heads, object versions, arrivals) is one atomic engine batch, and [`Store::append`] refuses
//! anything that does not extend the author's chain. A store never holds a log
//! with a hole below its head.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod conformance;
mod convert;
mod engine;
mod kv;
mod records;

pub use convert::{convert_dir, Converted};
pub use engine::{
    create_dir, open_dir, Engine, EngineKind, FjallEngine, MemEngine, Op, SledEngine,
};
pub use kv::{KvStore, Migration};
pub use records::{
    Arrival, ArrivalSource, ForkRecord, IndexedEntry, ObjectVersion, PeerRecord, TrustRecord,
};

use yui_core::{Head, Kind, NodeId, SignedEntry};

/// Version of the on-disk layout; checked at open. Older layouts from
/// [`OLDEST_MIGRATABLE`] on are migrated in place, once (see `kv.rs`).
///
/// - 1: first release.
/// - 2: `M bytes`, the total size of stored entries (capacity planning:
///   `yui status`, `yui_entry_bytes`), kept by every append.
pub const FORMAT_VERSION: u32 = 2;

/// The oldest layout this build can migrate from.
pub const OLDEST_MIGRATABLE: u32 = 1;

/// Fork records kept per author at most (see [`Store::record_fork`]).
pub const MAX_FORK_RECORDS: usize = 4;

/// What went wrong in storage. Messages say what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The engine failed (I/O error, lock held).
    #[error("storage engine error: {0}")]
    Engine(String),
    /// The disk holding the data folder is full. The write that hit it was
    /// not acknowledged; what was stored before is intact.
    #[error("the disk holding the data folder is full ({0}): that write was not stored; free space (or move the home to a larger disk), restart the node, and retry")]
    DiskFull(String),
    /// Stored bytes do not parse: the store is damaged.
    #[error("store is damaged: {0}; restore from a backup or re-sync into a new data folder")]
    Corrupt(String),
    /// An append that does not extend the author's chain.
    #[error("entry {author:?} seq {seq} does not extend the stored log (head {head})")]
    Chain {
        /// Author.
        author: NodeId,
        /// Offered seq.
        seq: u64,
        /// Stored head seq.
        head: u64,
    },
    /// The data folder was written by another version of yui: a newer one,
    /// or one too old to migrate.
    #[error("store format version {found} is not supported by this yui (it reads {OLDEST_MIGRATABLE} to {expected}); {}", if *found > *expected { "it was written by a newer yui: run that version (or newer), or restore a backup made by this one" } else { "upgrade through an intermediate yui release first" })]
    Format {
        /// Found on disk.
        found: u32,
        /// Supported.
        expected: u32,
    },
}

/// Result alias.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Storage for a node: logs, indexes, trust and peers.
///
/// Methods are synchronous and quick; callers on an async runtime batch writes
/// and run [`Store::flush`] off the reactor.
pub trait Store: Send + Sync + 'static {
    /// Appends entries that each extend their author's chain, in order, as one
    /// atomic batch: all of them are stored or none.
    fn append(&self, entries: &[IndexedEntry]) -> Result<()>;
    /// [`Store::append`] with how the entries arrived
    /// ([`Store::record_arrivals`]), written in the same batch.
    fn append_arrived(&self, entries: &[IndexedEntry], arrivals: &[Arrival]) -> Result<()> {
        self.append(entries)?;
        self.record_arrivals(arrivals)
    }
    /// Makes everything appended so far durable.
    fn flush(&self) -> Result<()>;
    /// The contiguous head of `author`'s log.
    fn head(&self, author: &NodeId) -> Result<Option<Head>>;
    /// Every author's head: the node's version vector.
    fn heads(&self) -> Result<Vec<(NodeId, Head)>>;
    /// One entry.
    fn get(&self, author: &NodeId, seq: u64) -> Result<Option<SignedEntry>>;
    /// Up to `limit` entries of `author` from `from_seq` on, in seq order.
    fn range(&self, author: &NodeId, from_seq: u64, limit: usize) -> Result<Vec<SignedEntry>>;
    /// Current versions of every object whose newest entry has `kind`.
    fn current(&self, kind: Kind) -> Result<Vec<ObjectVersion>>;
    /// The current version of one object: its kind and seq.
    fn object(&self, author: &NodeId, object_id: &str) -> Result<Option<(Kind, u64)>>;
    /// Seqs of every version of one object, oldest first.
    fn history(&self, author: &NodeId, object_id: &str) -> Result<Vec<u64>>;
    /// Number of entries held.
    fn entry_count(&self) -> Result<u64>;
    /// Total size in bytes of the entries held (their signed encoding).
    fn entry_bytes(&self) -> Result<u64>;

    /// Notes how runs of entries already appended arrived (provenance for
    /// readers); [`Store::append_arrived`] writes them with the entries.
    fn record_arrivals(&self, arrivals: &[Arrival]) -> Result<()>;
    /// How `author`'s entry `seq` arrived, if noted.
    fn arrival(&self, author: &NodeId, seq: u64) -> Result<Option<Arrival>>;

    /// Keeps evidence of a fork (two entries by one author at one seq, or an
    /// entry and the next one whose `prev` names another) and marks the
    /// author as forked at that seq. Returns false if this pair was already
    /// recorded, or if the author already has [`MAX_FORK_RECORDS`] records
    /// none higher than this one (a forked author cannot fill the disk
    /// with pairs; the lowest record, which stops the log, is always kept).
    fn record_fork(&self, fork: &ForkRecord) -> Result<bool>;
    /// All fork evidence.
    fn forks(&self) -> Result<Vec<ForkRecord>>;
    /// Keeps a forked author's recovery statement (a countersigned key
    /// rotation signed past the fork), outside the stopped log. Returns false
    /// if it was already kept.
    fn record_recovery(&self, author: &NodeId, seq: u64, signed: &SignedEntry) -> Result<bool>;
    /// Every recovery statement kept, with its author and seq.
    fn recoveries(&self) -> Result<Vec<(NodeId, u64, SignedEntry)>>;
    /// The lowest seq at which `author` forked, if it did.
    fn forked_at(&self, author: &NodeId) -> Result<Option<u64>>;

    /// Adds or updates a trusted author.
    fn trust_put(&self, id: &NodeId, rec: &TrustRecord) -> Result<()>;
    /// Removes a trusted author; true if it was there.
    fn trust_remove(&self, id: &NodeId) -> Result<bool>;
    /// All trusted authors.
    fn trust_list(&self) -> Result<Vec<(NodeId, TrustRecord)>>;

    /// Adds or updates a peer to dial, keyed by address.
    fn peer_put(&self, rec: &PeerRecord) -> Result<()>;
    /// Removes a peer; true if it was there.
    fn peer_remove(&self, addr: &str) -> Result<bool>;
    /// All peers to dial.
    fn peer_list(&self) -> Result<Vec<PeerRecord>>;
}
