//! [`Replica`]: the node's store, key and trust policy, and the only way
//! entries get in: [`Replica::publish`] for its own, [`Replica::ingest`] for
//! everyone else's.
//!
//! Ordering: every write (publish or ingest) takes `write` for the chain check
//! and the store batch together, so checks always see the state they write
//! over. Signature verification happens before, outside the lock, on the
//! blocking pool.
//!
//! Layout: this file holds the replica's state, its trust set and reads;
//! one concern a file below it: `publish` (own entries), `ingest` (checks
//! before and after the signature), `apply` (under the write lock: chain,
//! forks, rate, recoveries, trust taking effect), `forks` (evidence from
//! peers), `hold` (publishing held after a restore), `check` (`yui check`).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::broadcast;
use yui_core::keys::{entry_signing_message, BatchVerifier};
use yui_core::validate::{check_chain, validate_entry};
use yui_core::{
    Body, ChainCheck, Entry, EntryId, Head, Kind, Limits, NodeId, SecretKey, Signature,
    SignedEntry, UnixMillis, ValidationError, VerifyError,
};
use yui_store::{Arrival, ArrivalSource, ForkRecord, IndexedEntry, Store, StoreError, TrustRecord};

use crate::metrics::Counters;
use crate::trust::{self, TrustPolicy, TrustSet};

mod apply;
mod check;
mod forks;
mod hold;
mod ingest;
mod publish;
mod write_lock;

pub use apply::MAX_RECOVERIES;
use apply::{author_rate, AuthorRate};
pub use ingest::{bulk_turn, PreparedBatch, SMALL_BATCH};
pub use publish::SealWith;

/// This machine's clock in Unix milliseconds.
pub fn now_ms() -> UnixMillis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Kinds that take the priority lane: in a disaster, status, aid requests
/// and their steps, and "received" must not wait behind a backfill of case
/// libraries.
pub fn is_urgent(kind: Kind) -> bool {
    matches!(kind, Kind::Readiness | Kind::Acknowledgement | Kind::Aid)
}

/// Kinds whose arrival may change the trust set.
fn affects_trust(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::Endorsement | Kind::Revocation | Kind::KeyRotation | Kind::Retraction
    )
}

/// Why entry bytes did not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("entry does not decode: {0}")]
pub struct DecodeError(pub String);

/// The wire encoding of [`Entry`] (protobuf, implemented in `yui-net`).
pub trait Codec: Send + Sync + 'static {
    /// Encodes an entry for signing. Called once per own entry; the bytes are
    /// then kept as they are.
    fn encode_entry(&self, entry: &Entry) -> Vec<u8>;
    /// Decodes entry bytes as received.
    fn decode_entry(&self, bytes: &[u8]) -> Result<Entry, DecodeError>;
    /// `entry` without `parts`, the encoded fragment holding them, and
    /// which of them it holds; `None` when the body has none of them.
    fn split_restricted(
        &self,
        entry: &Entry,
        parts: &[yui_core::audience::SealPart],
    ) -> Option<(Entry, Vec<u8>, Vec<yui_core::audience::SealPart>)>;
    /// The entry as its author wrote it: `public` (the entry's bytes) with
    /// an opened sealed fragment merged in; the fragment may hold `parts`
    /// and nothing else.
    fn merge_restricted(
        &self,
        public: &[u8],
        fragment: &[u8],
        parts: &[yui_core::audience::SealPart],
    ) -> Result<Entry, DecodeError>;
}

/// Why one entry was refused. Nothing was stored for it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// Bytes did not decode.
    #[error(transparent)]
    Malformed(#[from] DecodeError),
    /// Fields broke a rule.
    #[error("invalid entry: {0}")]
    Invalid(#[from] ValidationError),
    /// The author is not trusted here.
    #[error("author {0} is not trusted by this node")]
    Untrusted(NodeId),
    /// The signature or key failed.
    #[error("signature check failed for author {author}: {error}")]
    Signature {
        /// Claimed author.
        author: NodeId,
        /// What failed.
        error: VerifyError,
    },
    /// The author's log is stopped at a fork.
    #[error("author {author} forked at seq {at}; its log is stopped there")]
    Forked {
        /// Author.
        author: NodeId,
        /// Lowest forked seq.
        at: u64,
    },
    /// The author's key was rotated; its log ended at `at`.
    #[error("author {author} rotated its key at seq {at}; its old log is closed")]
    Rotated {
        /// Old key.
        author: NodeId,
        /// Seq of the rotation.
        at: u64,
    },
    /// The author published new entries faster than this node accepts
    /// them; the entry is asked for again later.
    #[error("author {author} is over {per_minute} new entries per minute here; retry later")]
    RateLimited {
        /// Author.
        author: NodeId,
        /// The limit in force.
        per_minute: u32,
    },
    /// `created_at` is ahead of this node's clock by more than the
    /// protocol's skew: not refused for good, asked for again later.
    #[error("entry of {author} is from the future; asked for again in {wait:?}")]
    NotYet {
        /// Author.
        author: NodeId,
        /// When to ask again.
        wait: Duration,
    },
    /// `prev` does not match the stored log.
    #[error("entry {seq} of {author} does not follow the stored entry {}", seq - 1)]
    Chain {
        /// Author.
        author: NodeId,
        /// Seq offered.
        seq: u64,
    },
}

/// What happened to a batch offered to [`Replica::ingest`].
#[derive(Debug, Default, Clone)]
pub struct IngestReport {
    /// Entries stored.
    pub accepted: usize,
    /// Entries already held.
    pub duplicates: usize,
    /// Authors whose entries arrived ahead of a gap, with this node's head.
    pub gaps: Vec<(NodeId, u64)>,
    /// Forks detected (evidence stored).
    pub forks: usize,
    /// Entries refused, with the reason.
    pub refused: Vec<Refusal>,
    /// Per author, the highest seq of a valid, signed entry in the batch: the
    /// sender holds at least that much.
    pub seen: Vec<(NodeId, u64)>,
    /// Stored entries may change who is trusted (endorsements, revocations,
    /// retractions).
    pub trust_relevant: bool,
    /// Forks seen for the first time, to pass on to peers.
    pub new_forks: Vec<(NodeId, u64)>,
    /// Recovery statements of forked authors seen for the first time.
    pub recoveries: Vec<(NodeId, u64)>,
    /// Authors to ask again later, with this node's head and when: new
    /// entries over the rate limit, or an entry from the future.
    pub retry_later: Vec<(NodeId, u64, Duration)>,
}

/// Storage or policy failure outside a single entry's fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReplicaError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Stored entry bytes no longer decode.
    #[error("stored entry {0} does not decode: the store is damaged")]
    Damaged(String),
}

/// What [`Replica::check`] found.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct CheckReport {
    /// Authors with entries.
    pub authors: usize,
    /// Entries walked.
    pub entries: u64,
    /// Every inconsistency, each naming the author and seq.
    pub problems: Vec<String>,
}

/// Why a publish failed. Nothing was stored.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PublishError {
    /// The body or header broke a rule.
    #[error("invalid entry: {0}")]
    Invalid(#[from] ValidationError),
    /// This node's own log is stopped at a fork.
    #[error(
        "this node's own log forked at seq {0}: publish is stopped until the key is recovered"
    )]
    Forked(u64),
    /// Publishing is held until the node has learnt its own latest entries
    /// from peers (after a restore from backup).
    #[error("publishing is held until this node has learnt its own latest entries from a peer (it was restored from a backup); wait for a peer, or release with `yui hold release` if no peer has a newer copy")]
    Held,
    /// This node's key was rotated away.
    #[error("this key was rotated at seq {0}; restart the node to use its new key")]
    Rotated(u64),
    /// Storage failed.
    #[error(transparent)]
    Replica(#[from] ReplicaError),
}

impl From<StoreError> for PublishError {
    fn from(e: StoreError) -> Self {
        Self::Replica(e.into())
    }
}

/// Something that changed, for connected peers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplicaEvent {
    /// An author's head moved to `seq`.
    Head {
        /// Author.
        author: NodeId,
        /// New head seq.
        seq: u64,
        /// The new entries include readiness or acknowledgements: they take
        /// the priority lane, ahead of bulk backfill.
        urgent: bool,
        /// They came over a link to a relay: other relays are expected to
        /// have them from the relay of their author's region, so sessions
        /// with relays announce the head instead of pushing the entries
        /// (lazy push, protocol 5).
        via_relay: bool,
    },
    /// The set of trusted authors changed; `added` are trusted now and
    /// were not before (sessions name just those to their peers).
    TrustChanged {
        /// Newly trusted authors.
        added: Arc<Vec<NodeId>>,
    },
    /// A forked author's recovery statement: pass it on (after the fork
    /// evidence).
    Recovery {
        /// Forked author.
        author: NodeId,
        /// Seq of the statement.
        seq: u64,
    },
    /// New fork evidence: pass it on.
    Fork {
        /// Author that forked.
        author: NodeId,
        /// Seq with two entries.
        seq: u64,
    },
}

/// An entry read back from the store, decoded.
#[derive(Debug, Clone)]
pub struct StoredEntry {
    /// Its id.
    pub id: EntryId,
    /// Decoded.
    pub entry: Entry,
    /// As signed.
    pub signed: SignedEntry,
}

/// A node's replica of the network's logs. Shared as `Arc<Replica>`.
pub struct Replica {
    store: Arc<dyn Store>,
    key: SecretKey,
    id: NodeId,
    codec: Arc<dyn Codec>,
    limits: Limits,
    /// Operator-trusted keys (the roots).
    roots: RwLock<HashSet<NodeId>>,
    policy: TrustPolicy,
    /// Roots plus endorsed keys, minus revoked ones; recomputed whenever
    /// roots, endorsements, revocations or retractions change.
    trust: RwLock<TrustSet>,
    /// Bumped whenever the trust set or an operator's name for a root
    /// changes: readers cache what depends on trust (display names) by it.
    trust_generation: AtomicU64,
    /// Held by every store write; small writes go first (see
    /// [`write_lock`]).
    write: write_lock::WriteLock,
    /// Publishing held (restored from a backup) until a peer shows this node
    /// holds the newest of its own log.
    held: AtomicBool,
    /// The highest seq of this node's own log a peer claimed to hold, among
    /// claims that count (at least `hold_floor`).
    own_claimed: AtomicU64,
    /// While held: the own head the restored backup held. Only a peer that
    /// holds the own log at least this far (and at least one entry) is
    /// evidence of what the node published after the backup.
    hold_floor: AtomicU64,
    events: broadcast::Sender<ReplicaEvent>,
    counters: Counters,
    /// Per-author token buckets for new entries from peers.
    rate: Option<AuthorRate>,
    /// Cores a batch's signature check is split across.
    verify_threads: usize,
    /// Author → (seq, reason): logs declined from a seq (see `ingest_inner`).
    declined: Mutex<HashMap<NodeId, (u64, String)>>,
}

impl std::fmt::Debug for Replica {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replica").field("id", &self.id).finish()
    }
}

impl Replica {
    /// Opens a replica over `store` for the node with `key`, with the default
    /// trust policy.
    pub fn open(
        store: Arc<dyn Store>,
        key: SecretKey,
        codec: Arc<dyn Codec>,
        limits: Limits,
    ) -> Result<Arc<Self>, ReplicaError> {
        Self::open_with(store, key, codec, limits, TrustPolicy::default())
    }

    /// Opens a replica with an explicit trust policy.
    pub fn open_with(
        store: Arc<dyn Store>,
        key: SecretKey,
        codec: Arc<dyn Codec>,
        limits: Limits,
        policy: TrustPolicy,
    ) -> Result<Arc<Self>, ReplicaError> {
        let id = NodeId::new(key.public_key());
        let roots = store.trust_list()?.into_iter().map(|(id, _)| id).collect();
        let (events, _) = broadcast::channel(4096);
        let rate = author_rate(limits.entries_per_author_per_minute);
        let replica = Arc::new(Self {
            store,
            key,
            id,
            codec,
            limits,
            roots: RwLock::new(roots),
            policy,
            trust: RwLock::new(TrustSet::default()),
            trust_generation: AtomicU64::new(0),
            write: write_lock::WriteLock::default(),
            held: AtomicBool::new(false),
            own_claimed: AtomicU64::new(0),
            hold_floor: AtomicU64::new(0),
            events,
            counters: Counters::default(),
            rate,
            verify_threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            declined: Mutex::default(),
        });
        replica.recompute_trust()?;
        Ok(replica)
    }

    /// Recomputes the trust set from the roots and the endorsements and
    /// revocations held; announces a change to sessions.
    pub fn recompute_trust(&self) -> Result<bool, ReplicaError> {
        let mut endorsements = Vec::new();
        for e in self.current(Kind::Endorsement)? {
            if let Body::Endorsement(b) = &e.entry.body {
                endorsements.push((e.entry.author, b.subject));
            }
        }
        let mut revocations = Vec::new();
        for e in self.current(Kind::Revocation)? {
            if let Body::Revocation(b) = &e.entry.body {
                revocations.push((e.entry.author, b.subject));
            }
        }
        let mut rotations = Vec::new();
        for e in self.current(Kind::KeyRotation)? {
            if let Body::KeyRotation(k) = &e.entry.body {
                rotations.push(trust::Rotation {
                    old: e.entry.author,
                    new: k.new_key,
                    seq: e.entry.seq,
                    recovery: false,
                });
            }
        }
        for (author, seq, signed) in self.store.recoveries()? {
            if let Ok(Body::KeyRotation(k)) = self.codec.decode_entry(&signed.entry).map(|e| e.body)
            {
                rotations.push(trust::Rotation {
                    old: author,
                    new: k.new_key,
                    seq,
                    recovery: true,
                });
            }
        }
        let roots = self.roots.read().expect("trust lock").clone();
        let next = trust::compute(
            self.id,
            &roots,
            &endorsements,
            &revocations,
            &rotations,
            self.policy,
        );
        let mut cur = self.trust.write().expect("trust lock");
        if *cur == next {
            return Ok(false);
        }
        let added: Vec<NodeId> = next
            .depth
            .keys()
            .filter(|a| !cur.depth.contains_key(a))
            .copied()
            .collect();
        *cur = next;
        drop(cur);
        self.trust_generation.fetch_add(1, Ordering::Release);
        let _ = self.events.send(ReplicaEvent::TrustChanged {
            added: Arc::new(added),
        });
        Ok(true)
    }

    /// The current key of an identity (follows key rotations).
    pub fn current_key(&self, id: &NodeId) -> NodeId {
        self.trust.read().expect("trust lock").current_key(id)
    }

    /// Seq of the rotation that closed `id`'s log, if it rotated.
    pub fn rotated_at(&self, id: &NodeId) -> Option<u64> {
        self.trust
            .read()
            .expect("trust lock")
            .rotated
            .get(id)
            .map(|(_, s)| *s)
    }

    /// Whether `endorser`'s endorsement of `subject` gave the subject its
    /// trust here (an edge of the trust walk): only such an endorsement's
    /// name for the subject may be shown.
    pub fn trust_granted(&self, endorser: &NodeId, subject: &NodeId) -> bool {
        self.trust
            .read()
            .expect("trust lock")
            .granted(endorser, subject)
    }

    /// Whether `id`'s key was validly revoked.
    pub fn is_revoked(&self, id: &NodeId) -> bool {
        self.trust.read().expect("trust lock").revoked.contains(id)
    }

    /// Steps from a root for a trusted author (0 = root or this node).
    pub fn trust_depth(&self, id: &NodeId) -> Option<u32> {
        self.trust
            .read()
            .expect("trust lock")
            .depth
            .get(id)
            .copied()
    }

    /// This node's id.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// Signs a handshake transcript or other node-level statement.
    pub fn sign(&self, message: &[u8]) -> Signature {
        self.key.sign(message)
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The entry codec.
    pub fn codec(&self) -> &Arc<dyn Codec> {
        &self.codec
    }

    /// Entry limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Running counters.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Head moves and trust changes from now on. A receiver that lags gets
    /// `RecvError::Lagged` and must rescan every head: nothing is dropped
    /// silently.
    pub fn subscribe(&self) -> broadcast::Receiver<ReplicaEvent> {
        self.events.subscribe()
    }

    /// Counts entries refused before they could be decoded at all (a
    /// signature of the wrong length, say).
    pub fn count_malformed(&self, n: usize) {
        Counters::add(&self.counters.refused_invalid, n as u64);
    }

    /// True for this node, the roots and the keys endorsed within the
    /// policy's depth, unless revoked.
    pub fn is_trusted(&self, id: &NodeId) -> bool {
        *id == self.id || self.trust.read().expect("trust lock").contains(id)
    }

    /// Trusts `id`; returns false if it already was.
    pub fn trust_add(&self, id: NodeId, name: &str) -> Result<bool, ReplicaError> {
        Ok(self.trust_add_many(&[(id, name.to_owned())])? == 1)
    }

    /// Trusts many authors at once (a relay's members, a config's list):
    /// the effective trust is recomputed once, not once per author.
    pub fn trust_add_many(&self, ids: &[(NodeId, String)]) -> Result<usize, ReplicaError> {
        let mut new = 0;
        for (id, name) in ids {
            self.store.trust_put(
                id,
                &TrustRecord {
                    name: name.clone(),
                    added_at: now_ms(),
                },
            )?;
            new += usize::from(self.roots.write().expect("trust lock").insert(*id));
        }
        self.trust_generation.fetch_add(1, Ordering::Release);
        self.recompute_trust()?;
        Ok(new)
    }

    /// Stops trusting `id`; returns false if it was not trusted.
    pub fn trust_remove(&self, id: &NodeId) -> Result<bool, ReplicaError> {
        let was = self.store.trust_remove(id)?;
        self.roots.write().expect("trust lock").remove(id);
        self.trust_generation.fetch_add(1, Ordering::Release);
        self.recompute_trust()?;
        Ok(was)
    }

    /// What this node wants from peers: every trusted author (itself
    /// included) with the seq it holds.
    pub fn want_list(&self) -> Result<Vec<(NodeId, u64)>, ReplicaError> {
        let mut authors: Vec<NodeId> = self
            .trust
            .read()
            .expect("trust lock")
            .depth
            .keys()
            .copied()
            .collect();
        authors.push(self.id);
        authors.sort();
        authors.dedup();
        authors
            .into_iter()
            .map(|a| Ok((a, self.store.head(&a)?.map_or(0, |h| h.seq))))
            .collect()
    }

    /// Changes whenever trust or an operator's name for a root changes.
    pub fn trust_generation(&self) -> u64 {
        self.trust_generation.load(Ordering::Acquire)
    }

    /// Decodes an entry read from the store.
    pub fn decode_stored(&self, signed: SignedEntry) -> Result<StoredEntry, ReplicaError> {
        let id = signed.id();
        let entry = self
            .codec
            .decode_entry(&signed.entry)
            .map_err(|e| ReplicaError::Damaged(format!("{id}: {e}")))?;
        Ok(StoredEntry { id, entry, signed })
    }

    /// One stored entry, decoded.
    pub fn read(&self, author: &NodeId, seq: u64) -> Result<Option<StoredEntry>, ReplicaError> {
        self.store
            .get(author, seq)?
            .map(|s| self.decode_stored(s))
            .transpose()
    }

    /// Every version of one object, oldest first.
    pub fn history(
        &self,
        author: &NodeId,
        object_id: &str,
    ) -> Result<Vec<StoredEntry>, ReplicaError> {
        let mut out = Vec::new();
        for seq in self.store.history(author, object_id)? {
            if let Some(e) = self.read(author, seq)? {
                out.push(e);
            }
        }
        Ok(out)
    }

    /// Current versions of every object whose newest entry is of `kind`.
    pub fn current(&self, kind: Kind) -> Result<Vec<StoredEntry>, ReplicaError> {
        let mut out = Vec::new();
        for v in self.store.current(kind)? {
            if let Some(s) = self.store.get(&v.author, v.seq)? {
                out.push(self.decode_stored(s)?);
            }
        }
        Ok(out)
    }
}
