//! [`Replica`]: the node's store, key and trust policy, and the only way
//! entries get in: [`Replica::publish`] for its own, [`Replica::ingest`] for
//! everyone else's.
//!
//! Ordering: every write (publish or ingest) takes `write` for the chain check
//! and the store batch together, so checks always see the state they write
//! over. Signature verification happens before, outside the lock, on the
//! blocking pool.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::broadcast;
use yui_core::keys::{entry_signing_message, BatchVerifier};
use yui_core::validate::{check_chain, validate_entry};
use yui_core::{
    Body, ChainCheck, Entry, EntryId, Head, Kind, Limits, NodeId, SecretKey, Signature,
    SignedEntry, UnixMillis, ValidationError, VerifyError,
};
use yui_store::{ForkRecord, IndexedEntry, Store, StoreError, TrustRecord};

use crate::metrics::Counters;
use crate::trust::{self, TrustPolicy, TrustSet};

/// This machine's clock in Unix milliseconds.
pub fn now_ms() -> UnixMillis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Kinds that take the priority lane: in a disaster, status and "received"
/// must not wait behind a backfill of case libraries.
pub fn is_urgent(kind: Kind) -> bool {
    matches!(kind, Kind::Readiness | Kind::Acknowledgement)
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
    },
    /// The set of trusted authors changed.
    TrustChanged,
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
    write: Mutex<()>,
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
    rate: Mutex<HashMap<NodeId, Bucket>>,
    /// Cores a batch's signature check is split across.
    verify_threads: usize,
    /// Author → (seq, reason): logs declined from a seq (see `ingest_inner`).
    declined: Mutex<HashMap<NodeId, (u64, String)>>,
}

/// Longest wait before asking again for an entry from the future.
const MAX_DEFER_MS: i64 = 10 * 60 * 1000;

/// What the checks before the signature found.
enum Checked {
    /// Valid: store it once its signature verifies.
    Valid,
    /// From the future: ask again after this long.
    Later(Duration),
    /// Breaks a rule: decline the log from it once its signature verifies.
    Invalid(ValidationError),
}

/// Entries created longer ago than this are backfill (a peer catching up
/// after days offline), not a burst of new publications, and are not rate
/// limited.
const FRESH_WINDOW_MS: i64 = 60 * 60 * 1000;

/// A token bucket holding at most a minute's worth of entries.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    /// Takes one token, refilling at `per_minute / 60` per second. Returns the
    /// wait until a token is free when none is.
    fn take(&mut self, per_minute: u32, now: Instant) -> Result<(), Duration> {
        let rate = f64::from(per_minute) / 60.0;
        let cap = f64::from(per_minute);
        self.tokens = (self.tokens + now.duration_since(self.at).as_secs_f64() * rate).min(cap);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / rate))
        }
    }
}

impl std::fmt::Debug for Replica {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replica").field("id", &self.id).finish()
    }
}

/// Batches up to this size never wait for a turn: single updates
/// (readiness, acknowledgements) and live pushes.
pub const SMALL_BATCH: usize = 64;

/// A turn for a large ingest batch: at most one per core runs at a time in
/// the whole process (each already splits its signature check across the
/// cores). Bulk backfill from many peers thus cannot crowd the CPU out from
/// under a small urgent batch, which never waits for a turn.
pub async fn bulk_turn(len: usize) -> Option<tokio::sync::SemaphorePermit<'static>> {
    static TURNS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    if len <= SMALL_BATCH {
        return None;
    }
    let turns = TURNS.get_or_init(|| {
        tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(1, |n| n.get()))
    });
    Some(turns.acquire().await.expect("never closed"))
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
        let replica = Arc::new(Self {
            store,
            key,
            id,
            codec,
            limits,
            roots: RwLock::new(roots),
            policy,
            trust: RwLock::new(TrustSet::default()),
            write: Mutex::new(()),
            held: AtomicBool::new(false),
            own_claimed: AtomicU64::new(0),
            hold_floor: AtomicU64::new(0),
            events,
            counters: Counters::default(),
            rate: Mutex::default(),
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
        *cur = next;
        drop(cur);
        let _ = self.events.send(ReplicaEvent::TrustChanged);
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

    /// Holds publishing until a peer has shown this node has the newest of
    /// its own log (call at start after restoring a backup). `floor` is the
    /// own head the backup held: a peer's claim counts as evidence only
    /// when it holds the own log at least that far (and at least one
    /// entry), so a stale peer, or one holding none of this node's entries,
    /// never lifts the hold. The operator can (`release_hold`).
    pub fn hold_publishing(&self, floor: u64) {
        self.hold_floor.store(floor.max(1), Ordering::SeqCst);
        self.held.store(true, Ordering::SeqCst);
    }

    /// Whether publishing is held.
    pub fn is_held(&self) -> bool {
        self.held.load(Ordering::SeqCst)
    }

    /// Releases a hold (the operator knows no peer has a newer copy).
    pub fn release_hold(&self) {
        if self.held.swap(false, Ordering::SeqCst) {
            tracing::info!("publishing released");
        }
    }

    /// A peer stated how much of this node's own log it holds. Once a peer
    /// that holds the own log at least as far as the backup did has been
    /// caught up with, a hold is released: publishing then cannot reuse a
    /// sequence number that peer knows of.
    pub fn note_own_claim(&self, seq: u64) -> Result<(), ReplicaError> {
        if !self.held.load(Ordering::SeqCst) {
            return Ok(());
        }
        let floor = self.hold_floor.load(Ordering::SeqCst);
        if seq < floor {
            tracing::info!(
                claimed = seq,
                floor,
                "a peer holds less of the own log than the backup did: no evidence, still held"
            );
            return Ok(());
        }
        self.own_claimed.fetch_max(seq, Ordering::SeqCst);
        self.check_hold()
    }

    fn check_hold(&self) -> Result<(), ReplicaError> {
        if self.held.load(Ordering::SeqCst) {
            let head = self.store.head(&self.id)?.map_or(0, |h| h.seq);
            let claimed = self.own_claimed.load(Ordering::SeqCst);
            if claimed == 0 {
                return Ok(());
            }
            if head >= claimed {
                tracing::info!(
                    head,
                    claimed,
                    "own log is up to date with a peer that holds it; publishing released"
                );
                self.held.store(false, Ordering::SeqCst);
            } else {
                tracing::info!(
                    head,
                    claimed,
                    "own log behind what a peer holds; still catching up"
                );
            }
        }
        Ok(())
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
        self.recompute_trust()?;
        Ok(new)
    }

    /// Stops trusting `id`; returns false if it was not trusted.
    pub fn trust_remove(&self, id: &NodeId) -> Result<bool, ReplicaError> {
        let was = self.store.trust_remove(id)?;
        self.roots.write().expect("trust lock").remove(id);
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

    fn decode_stored(&self, signed: SignedEntry) -> Result<StoredEntry, ReplicaError> {
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

    /// Walks every log and checks what a crash must never break: each
    /// author's entries run 1..=head without a hole, each `prev` is the id
    /// of the entry before, the head and the id index agree with the log,
    /// every entry decodes and its signature verifies, and the entry count
    /// matches. Read-only.
    pub fn check(&self) -> Result<CheckReport, ReplicaError> {
        let mut report = CheckReport::default();
        let heads = self.store.heads()?;
        report.authors = heads.len();
        for (author, head) in heads {
            let mut prev: Option<EntryId> = None;
            let mut next = 1u64;
            let mut verifier = BatchVerifier::new();
            let mut seqs = Vec::new();
            while next <= head.seq {
                let chunk = self.store.range(&author, next, 1024)?;
                if chunk.is_empty() {
                    break;
                }
                for signed in chunk {
                    let seq = next;
                    next += 1;
                    report.entries += 1;
                    let id = signed.id();
                    match self.codec.decode_entry(&signed.entry) {
                        Ok(e) => {
                            if e.author != author || e.seq != seq {
                                report.problems.push(format!(
                                    "{author} seq {seq}: the stored entry says {} seq {}",
                                    e.author, e.seq
                                ));
                            }
                            if e.prev != prev {
                                report.problems.push(format!(
                                    "{author} seq {seq}: prev does not name entry {}",
                                    seq - 1
                                ));
                            }
                        }
                        Err(e) => report
                            .problems
                            .push(format!("{author} seq {seq}: does not decode: {e}")),
                    }
                    if self.store.locate(&id)? != Some((author, seq)) {
                        report.problems.push(format!(
                            "{author} seq {seq}: the id index does not point here"
                        ));
                    }
                    verifier.push(
                        *author.public_key(),
                        entry_signing_message(&signed.entry),
                        signed.signature,
                    );
                    seqs.push(seq);
                    prev = Some(id);
                }
            }
            for (seq, verdict) in seqs.into_iter().zip(verifier.verify(rand_core::OsRng)) {
                if verdict.is_err() {
                    report
                        .problems
                        .push(format!("{author} seq {seq}: signature does not verify"));
                }
            }
            if next != head.seq + 1 {
                report.problems.push(format!(
                    "{author}: head says seq {} but the log ends at {}",
                    head.seq,
                    next - 1
                ));
            } else if prev != Some(head.id) {
                report.problems.push(format!(
                    "{author}: head id is not the id of entry {}",
                    head.seq
                ));
            }
            if self.store.get(&author, head.seq + 1)?.is_some() {
                report.problems.push(format!(
                    "{author}: entries stored past the head {}",
                    head.seq
                ));
            }
        }
        let counted = self.store.entry_count()?;
        if counted != report.entries {
            report.problems.push(format!(
                "entry count says {counted}, the logs hold {}",
                report.entries
            ));
        }
        Ok(report)
    }

    /// Publishes an entry in this node's own log. Returns once it is durable
    /// on disk; only then is it announced to peers.
    pub async fn publish(
        self: &Arc<Self>,
        object_id: String,
        body: Body,
        expires_at: Option<UnixMillis>,
    ) -> Result<StoredEntry, PublishError> {
        let this = self.clone();
        let stored =
            tokio::task::spawn_blocking(move || this.publish_blocking(object_id, body, expires_at))
                .await
                .expect("publish task panicked")?;
        Counters::add(&self.counters.published, 1);
        if affects_trust(stored.entry.kind()) {
            self.recompute_trust()?;
        }
        let _ = self.events.send(ReplicaEvent::Head {
            author: self.id,
            seq: stored.entry.seq,
            urgent: is_urgent(stored.entry.kind()),
        });
        Ok(stored)
    }

    fn publish_blocking(
        &self,
        object_id: String,
        body: Body,
        expires_at: Option<UnixMillis>,
    ) -> Result<StoredEntry, PublishError> {
        yui_core::validate::publishable(&body)?;
        let _w = self.write.lock().expect("write lock");
        if self.held.load(Ordering::SeqCst) {
            return Err(PublishError::Held);
        }
        if let Some(at) = self.store.forked_at(&self.id)? {
            // A rotation is how a forked node recovers its identity.
            if !matches!(body, Body::KeyRotation(_)) {
                return Err(PublishError::Forked(at));
            }
        }
        if let Some(at) = self.rotated_at(&self.id) {
            return Err(PublishError::Rotated(at));
        }
        let head = self.store.head(&self.id)?;
        let entry = Entry {
            author: self.id,
            seq: head.map_or(1, |h| h.seq + 1),
            prev: head.map(|h| h.id),
            created_at: now_ms(),
            expires_at,
            object_id,
            body,
        };
        let bytes = self.codec.encode_entry(&entry);
        validate_entry(&entry, bytes.len(), now_ms(), &self.limits)?;
        let signed = SignedEntry::sign(bytes, &self.key);
        let id = signed.id();
        self.store.append(&[IndexedEntry {
            id,
            author: self.id,
            seq: entry.seq,
            prev: entry.prev,
            kind: entry.kind(),
            object_id: entry.object_id.clone(),
            created_at: entry.created_at,
            signed: signed.clone(),
        }])?;
        // Durable before anyone hears of it: a crash after this point can
        // never make the node reuse this seq.
        self.store.flush()?;
        Ok(StoredEntry { id, entry, signed })
    }

    /// Checks fork evidence from a peer — two entries, both validly signed by
    /// one trusted author, at one seq, with different ids — and records it.
    /// Returns true if it was new (and announces it for passing on).
    pub fn accept_fork_evidence(&self, a: SignedEntry, b: SignedEntry) -> Result<bool, Refusal> {
        let ea = self.precheck(&a, i64::MAX / 2)?;
        let eb = self.precheck(&b, i64::MAX / 2)?;
        // Two different entries at one seq, or an entry and the next one
        // whose prev names another entry (a second history below it).
        let at = if ea.author != eb.author || a.id() == b.id() {
            None
        } else if ea.seq == eb.seq {
            Some(ea.seq)
        } else if ea.seq.checked_add(1) == Some(eb.seq) && eb.prev != Some(a.id()) {
            Some(eb.seq)
        } else if eb.seq.checked_add(1) == Some(ea.seq) && ea.prev != Some(b.id()) {
            Some(ea.seq)
        } else {
            None
        };
        let Some(at) = at else {
            return Err(Refusal::Malformed(DecodeError(
                "fork evidence must be two different entries by one author at one seq, or an entry and a next one that does not follow it".into(),
            )));
        };
        for (e, s) in [(&ea, &a), (&eb, &b)] {
            s.verify(&e.author).map_err(|error| Refusal::Signature {
                author: e.author,
                error,
            })?;
        }
        // Put the entry this node holds first, when it holds one.
        let held = self
            .store
            .get(&ea.author, ea.seq)
            .ok()
            .flatten()
            .map(|s| s.id());
        let (first, second) = if ea.seq != eb.seq {
            // The earlier entry first.
            if ea.seq < eb.seq {
                (a, b)
            } else {
                (b, a)
            }
        } else if held == Some(b.id()) {
            (b, a)
        } else {
            (a, b)
        };
        let _w = self.write.lock().expect("write lock");
        let new = self
            .store
            .record_fork(&ForkRecord {
                author: ea.author,
                seq: at,
                first,
                second,
            })
            .map_err(|e| Refusal::Malformed(DecodeError(e.to_string())))?;
        drop(_w);
        if new {
            tracing::warn!(author = %ea.author, seq = at, "fork evidence received from a peer");
            Counters::add(&self.counters.forks_detected, 1);
            let _ = self.events.send(ReplicaEvent::Fork {
                author: ea.author,
                seq: at,
            });
        }
        Ok(new)
    }

    /// Offers entries from a peer or a bundle. Large batches take turns
    /// process-wide (see [`bulk_turn`]). Each is decoded, validated,
    /// trust-checked and signature-checked (as one batch) before the chain
    /// check and the store; refusals change nothing stored.
    pub async fn ingest(
        self: &Arc<Self>,
        batch: Vec<SignedEntry>,
    ) -> Result<IngestReport, ReplicaError> {
        let _turn = bulk_turn(batch.len()).await;
        let this = self.clone();
        let report = tokio::task::spawn_blocking(move || this.ingest_blocking(batch))
            .await
            .expect("ingest task panicked")?;
        Ok(report)
    }

    /// Offers entries the operator brought (an offline bundle): checked
    /// exactly as [`Replica::ingest`] checks them, but not held to the
    /// per-author rate limit, which is for what peers push.
    pub async fn import(
        self: &Arc<Self>,
        batch: Vec<SignedEntry>,
    ) -> Result<IngestReport, ReplicaError> {
        let _turn = bulk_turn(batch.len()).await;
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.ingest_inner(batch, false))
            .await
            .expect("import task panicked")
    }

    /// [`Replica::ingest`] for callers already off the async reactor.
    pub fn ingest_blocking(&self, batch: Vec<SignedEntry>) -> Result<IngestReport, ReplicaError> {
        self.ingest_inner(batch, true)
    }

    fn ingest_inner(
        &self,
        batch: Vec<SignedEntry>,
        rate_limited: bool,
    ) -> Result<IngestReport, ReplicaError> {
        let mut report = IngestReport::default();
        let now = now_ms();
        let mut candidates = Vec::with_capacity(batch.len());
        let mut verifier = BatchVerifier::new();
        for signed in batch {
            match self.classify(&signed, now) {
                Ok((entry, verdict)) => {
                    verifier.push(
                        *entry.author.public_key(),
                        entry_signing_message(&signed.entry),
                        signed.signature,
                    );
                    candidates.push((entry, signed, verdict));
                }
                Err(r) => report.refused.push(r),
            }
        }
        let started = std::time::Instant::now();
        let verdicts = verifier.verify_parallel(self.verify_threads);
        if !candidates.is_empty() {
            self.counters.verify_seconds.observe(started.elapsed());
        }
        let mut seen: HashMap<NodeId, u64> = HashMap::new();
        let mut verified = Vec::with_capacity(candidates.len());
        // Entries refused or deferred only once their signature verified:
        // a forger can neither decline nor delay an honest author's log.
        let mut later: HashMap<NodeId, Duration> = HashMap::new();
        let mut invalid: Vec<(NodeId, u64, ValidationError)> = Vec::new();
        for ((entry, signed, checked), verdict) in candidates.into_iter().zip(verdicts) {
            if let Err(error) = verdict {
                report.refused.push(Refusal::Signature {
                    author: entry.author,
                    error,
                });
                continue;
            }
            match checked {
                Checked::Valid => {
                    let s = seen.entry(entry.author).or_default();
                    *s = (*s).max(entry.seq);
                    verified.push((entry, signed));
                }
                Checked::Later(wait) => {
                    let w = later.entry(entry.author).or_insert(wait);
                    *w = (*w).min(wait);
                    report.refused.push(Refusal::NotYet {
                        author: entry.author,
                        wait,
                    });
                }
                Checked::Invalid(e) => {
                    invalid.push((entry.author, entry.seq, e.clone()));
                    report.refused.push(Refusal::Invalid(e));
                }
            }
        }
        report.seen = seen.into_iter().collect();
        // An author with an entry from the future waits whole: the rest of
        // its run in this batch is not taken (no gap, so no resend), and
        // the session asks again once the entry's time has come.
        let verified: Vec<(Entry, SignedEntry)> = verified
            .into_iter()
            .filter(|(e, _)| {
                let wait = later.contains_key(&e.author);
                if wait {
                    report.refused.push(Refusal::NotYet {
                        author: e.author,
                        wait: later[&e.author],
                    });
                }
                !wait
            })
            .collect();

        let started = std::time::Instant::now();
        let any = !verified.is_empty();
        let appended = self.apply_verified(verified, rate_limited, &mut report)?;
        for (author, wait) in later {
            let head = self.store.head(&author)?.map_or(0, |h| h.seq);
            report.retry_later.push((author, head, wait));
        }
        // A signed entry that breaks a rule at the author's next seq: this
        // node declines the author's log from there, and stops asking for
        // it (gaps past it are not re-requested), so a peer offering it
        // again and again costs one refusal per offer, never a loop.
        for (author, seq, reason) in invalid {
            let head = self.store.head(&author)?.map_or(0, |h| h.seq);
            if seq == head + 1 {
                let mut d = self.declined.lock().expect("declined");
                if d.get(&author).is_none_or(|(at, _)| seq < *at) {
                    tracing::warn!(author = %author, seq, %reason, "declining this author's log from this seq: a signed entry breaks a rule");
                    d.insert(author, (seq, reason.to_string()));
                }
            }
        }
        {
            // Gaps behind a declined seq are not asked for.
            let d = self.declined.lock().expect("declined");
            report
                .gaps
                .retain(|(a, head)| d.get(a).is_none_or(|(at, _)| *at != head + 1));
        }
        if any {
            self.counters.store_seconds.observe(started.elapsed());
        }
        for r in &report.refused {
            let c = &self.counters;
            Counters::add(
                match r {
                    Refusal::Malformed(_) | Refusal::Invalid(_) => &c.refused_invalid,
                    Refusal::Untrusted(_) => &c.refused_untrusted,
                    Refusal::Signature { .. } => &c.refused_signature,
                    Refusal::Forked { .. } | Refusal::Rotated { .. } => &c.refused_forked,
                    Refusal::Chain { .. } => &c.refused_chain,
                    Refusal::RateLimited { .. } => &c.refused_rate,
                    Refusal::NotYet { .. } => &c.refused_invalid,
                },
                1,
            );
        }
        Counters::add(&self.counters.accepted, report.accepted as u64);
        Counters::add(&self.counters.duplicate, report.duplicates as u64);
        Counters::add(&self.counters.forks_detected, report.forks as u64);
        Counters::add(&self.counters.gaps, report.gaps.len() as u64);
        for (author, seq, urgent) in appended {
            let _ = self.events.send(ReplicaEvent::Head {
                author,
                seq,
                urgent,
            });
        }
        if report.trust_relevant {
            self.recompute_trust()?;
        }
        if report.accepted > 0 && self.held.load(Ordering::SeqCst) {
            self.check_hold()?;
        }
        for (author, seq) in &report.new_forks {
            let _ = self.events.send(ReplicaEvent::Fork {
                author: *author,
                seq: *seq,
            });
        }
        for (author, seq) in &report.recoveries {
            let _ = self.events.send(ReplicaEvent::Recovery {
                author: *author,
                seq: *seq,
            });
        }
        Ok(report)
    }

    /// [`Replica::precheck`] for ingest: an entry from the future, or one
    /// that breaks a field rule, is still signature-checked (see
    /// `ingest_inner`) before it is deferred or declined.
    fn classify(&self, signed: &SignedEntry, now: UnixMillis) -> Result<(Entry, Checked), Refusal> {
        match self.precheck(signed, now) {
            Ok(e) => Ok((e, Checked::Valid)),
            Err(Refusal::Invalid(v)) if signed.entry.len() <= self.limits.max_entry_bytes => {
                let entry = self.codec.decode_entry(&signed.entry)?;
                Ok(match v {
                    ValidationError::FromTheFuture { ahead_ms, limit_ms } => {
                        let ms = (ahead_ms - limit_ms).clamp(1_000, MAX_DEFER_MS);
                        (entry, Checked::Later(Duration::from_millis(ms as u64)))
                    }
                    v => (entry, Checked::Invalid(v)),
                })
            }
            Err(r) => Err(r),
        }
    }

    /// Authors whose log this node declines from a seq (a signed entry that
    /// breaks a rule there), with the reason. Shown in status.
    pub fn declined(&self) -> Vec<(NodeId, u64, String)> {
        let mut v: Vec<_> = self
            .declined
            .lock()
            .expect("declined")
            .iter()
            .map(|(a, (s, r))| (*a, *s, r.clone()))
            .collect();
        v.sort();
        v
    }

    fn precheck(&self, signed: &SignedEntry, now: UnixMillis) -> Result<Entry, Refusal> {
        if signed.entry.len() > self.limits.max_entry_bytes {
            return Err(ValidationError::TooLarge {
                size: signed.entry.len(),
                limit: self.limits.max_entry_bytes,
            }
            .into());
        }
        let entry = self.codec.decode_entry(&signed.entry)?;
        // Cheap checks first: an untrusted author's entry costs a lookup,
        // not a walk over its fields.
        if !self.is_trusted(&entry.author) {
            return Err(Refusal::Untrusted(entry.author));
        }
        validate_entry(&entry, signed.entry.len(), now, &self.limits)?;
        if let Some(at) = self.rotated_at(&entry.author).filter(|at| entry.seq > *at) {
            return Err(Refusal::Rotated {
                author: entry.author,
                at,
            });
        }
        Ok(entry)
    }

    /// Chain-checks and stores verified entries under the write lock.
    /// Returns the new head per author that moved.
    ///
    /// A trust change takes effect at the entry that makes it: the batch is
    /// stored in segments that each end after an entry that may change
    /// trust (endorsement, revocation, rotation, retraction); trust is then
    /// recomputed and the rest of the batch is checked against the new set.
    /// A revocation followed by entries of the revoked key in one batch
    /// stores the revocation and refuses the rest.
    fn apply_verified(
        &self,
        verified: Vec<(Entry, SignedEntry)>,
        rate_limited: bool,
        report: &mut IngestReport,
    ) -> Result<Vec<(NodeId, u64, bool)>, ReplicaError> {
        let _w = self.write.lock().expect("write lock");
        let mut batch = Batch {
            heads: HashMap::new(),
            forked: HashMap::new(),
            per_minute: if rate_limited {
                self.limits.entries_per_author_per_minute
            } else {
                0
            },
            fresh_after: now_ms() - FRESH_WINDOW_MS,
            clock: Instant::now(),
        };
        let mut moved: HashMap<NodeId, (u64, bool)> = HashMap::new();
        let mut rest: std::collections::VecDeque<(Entry, SignedEntry)> = verified.into();
        let mut first = true;
        while !rest.is_empty() {
            let kept = self.apply_segment(&mut rest, &mut batch, !first, report)?;
            first = false;
            for e in &kept {
                let m = moved.entry(e.author).or_insert((0, false));
                *m = (e.seq, m.1 || is_urgent(e.kind));
            }
            report.accepted += kept.len();
            let trust_changed = kept.iter().any(|e| affects_trust(e.kind));
            report.trust_relevant |= trust_changed;
            self.store.append(&kept)?;
            if trust_changed && !rest.is_empty() {
                self.recompute_trust()?;
            }
        }
        Ok(moved
            .into_iter()
            .map(|(a, (seq, urgent))| (a, seq, urgent))
            .collect())
    }

    /// Takes entries from the front of `rest` up to and including the first
    /// one to append that may change trust; returns those to append.
    /// `recheck`: trust may have changed since the precheck.
    fn apply_segment(
        &self,
        rest: &mut std::collections::VecDeque<(Entry, SignedEntry)>,
        b: &mut Batch,
        recheck: bool,
        report: &mut IngestReport,
    ) -> Result<Vec<IndexedEntry>, ReplicaError> {
        let mut to_append: Vec<IndexedEntry> = Vec::new();
        // (author, seq) → index in `to_append`: entries of this segment are
        // not in the store yet, and a second entry at one of their seqs is
        // a fork all the same.
        let mut pending: HashMap<(NodeId, u64), usize> = HashMap::new();
        let mut rate = self.rate.lock().expect("rate lock");
        while let Some((entry, signed)) = rest.pop_front() {
            let author = entry.author;
            if report.retry_later.iter().any(|(a, _, _)| *a == author) {
                // The rest of this author's run waits with the first refused.
                report.refused.push(Refusal::RateLimited {
                    author,
                    per_minute: b.per_minute,
                });
                continue;
            }
            if recheck {
                if !self.is_trusted(&author) {
                    report.refused.push(Refusal::Untrusted(author));
                    continue;
                }
                if let Some(at) = self.rotated_at(&author).filter(|at| entry.seq > *at) {
                    report.refused.push(Refusal::Rotated { author, at });
                    continue;
                }
            }
            let fork_at = match b.forked.get(&author) {
                Some(f) => *f,
                None => *b
                    .forked
                    .entry(author)
                    .or_insert(self.store.forked_at(&author)?),
            };
            if let Some(at) = fork_at.filter(|at| entry.seq >= *at) {
                // The one statement a forked author can still make: a
                // countersigned rotation to a new key (validated already).
                // It is kept outside the stopped log and passed on.
                if matches!(entry.body, Body::KeyRotation(_)) {
                    self.keep_recovery(&entry, &signed, report)?;
                } else {
                    report.refused.push(Refusal::Forked { author, at });
                }
                continue;
            }
            let head = match b.heads.get(&author) {
                Some(h) => *h,
                None => *b.heads.entry(author).or_insert(self.store.head(&author)?),
            };
            let id = signed.id();
            let held_at = |seq: u64| -> Result<Option<SignedEntry>, ReplicaError> {
                Ok(match pending.get(&(author, seq)) {
                    Some(i) => Some(to_append[*i].signed.clone()),
                    None => self.store.get(&author, seq)?,
                })
            };
            let stored_at = if entry.seq <= head.map_or(0, |h| h.seq) {
                held_at(entry.seq)?.map(|s| s.id())
            } else {
                None
            };
            match check_chain(head, &entry, id, stored_at) {
                ChainCheck::Append => {
                    // Checked after the signature, so forged entries cannot
                    // spend an honest author's budget.
                    if b.per_minute > 0 && entry.created_at > b.fresh_after {
                        let bucket = rate.entry(author).or_insert(Bucket {
                            tokens: f64::from(b.per_minute),
                            at: b.clock,
                        });
                        if let Err(wait) = bucket.take(b.per_minute, b.clock) {
                            let have = head.map_or(0, |h| h.seq);
                            report.retry_later.push((author, have, wait));
                            report.refused.push(Refusal::RateLimited {
                                author,
                                per_minute: b.per_minute,
                            });
                            continue;
                        }
                    }
                    b.heads.insert(author, Some(Head { seq: entry.seq, id }));
                    pending.insert((author, entry.seq), to_append.len());
                    let kind = entry.kind();
                    to_append.push(IndexedEntry {
                        id,
                        author,
                        seq: entry.seq,
                        prev: entry.prev,
                        kind,
                        object_id: entry.object_id,
                        created_at: entry.created_at,
                        signed,
                    });
                    if affects_trust(kind) {
                        break;
                    }
                }
                ChainCheck::Duplicate => report.duplicates += 1,
                ChainCheck::Gap { head } => {
                    let declined = self
                        .declined
                        .lock()
                        .expect("declined")
                        .get(&author)
                        .is_some_and(|(at, _)| *at == head + 1);
                    if !declined && !report.gaps.iter().any(|(a, _)| *a == author) {
                        report.gaps.push((author, head));
                    }
                }
                ChainCheck::Fork { .. } => {
                    tracing::warn!(author = %author, seq = entry.seq, "fork detected: author signed two entries at one seq");
                    let first = held_at(entry.seq)?.ok_or_else(|| {
                        ReplicaError::Damaged(format!("{author} seq {} vanished", entry.seq))
                    })?;
                    self.note_fork(author, entry.seq, first, signed, b, report)?;
                }
                ChainCheck::PrevMismatch => {
                    // seq == head + 1 but prev names another entry than the
                    // head: the author signed a second history below this
                    // seq. Both entries are signed, so the pair is evidence
                    // and the log stops here, as for a fork at one seq.
                    let Some(h) = head else {
                        report.refused.push(Refusal::Chain {
                            author,
                            seq: entry.seq,
                        });
                        continue;
                    };
                    tracing::warn!(author = %author, seq = entry.seq, "fork detected: entry does not follow the author's previous entry");
                    let first = held_at(h.seq)?.ok_or_else(|| {
                        ReplicaError::Damaged(format!("{author} seq {} vanished", h.seq))
                    })?;
                    self.note_fork(author, entry.seq, first, signed, b, report)?;
                }
            }
        }
        drop(rate);
        // Entries at or past a fork found later in this segment are not
        // appended. Each author's appended entries were a contiguous run from
        // its head (Append needs seq == running head + 1), so cutting at the
        // fork leaves a contiguous prefix; `Store::append` re-checks the chain.
        let kept: Vec<IndexedEntry> = to_append
            .into_iter()
            .filter(|e| {
                b.forked
                    .get(&e.author)
                    .copied()
                    .flatten()
                    .is_none_or(|at| e.seq < at)
            })
            .collect();
        // Heads of authors cut at a fork go back to what is stored.
        for e in &kept {
            b.heads.insert(
                e.author,
                Some(Head {
                    seq: e.seq,
                    id: e.id,
                }),
            );
        }
        for (author, at) in b.forked.iter() {
            if let Some(at) = at {
                if b.heads
                    .get(author)
                    .copied()
                    .flatten()
                    .is_some_and(|h| h.seq >= *at)
                {
                    b.heads.remove(author);
                }
            }
        }
        Ok(kept)
    }

    /// Records fork evidence found while ingesting and stops the author's
    /// log at `at` for the rest of the batch.
    fn note_fork(
        &self,
        author: NodeId,
        at: u64,
        first: SignedEntry,
        second: SignedEntry,
        b: &mut Batch,
        report: &mut IngestReport,
    ) -> Result<(), ReplicaError> {
        if self.store.record_fork(&ForkRecord {
            author,
            seq: at,
            first,
            second,
        })? {
            report.new_forks.push((author, at));
        }
        let lowest = b
            .forked
            .get(&author)
            .copied()
            .flatten()
            .map_or(at, |f| f.min(at));
        b.forked.insert(author, Some(lowest));
        report.forks += 1;
        Ok(())
    }

    /// Keeps a forked author's recovery statement, bounded per author: past
    /// [`MAX_RECOVERIES`] an author's statement is kept only when its new
    /// key is already vouched for (endorsed by a grantor of the old key, or
    /// a root here), so a thief signing statement after statement cannot
    /// crowd out the owner's.
    fn keep_recovery(
        &self,
        entry: &Entry,
        signed: &SignedEntry,
        report: &mut IngestReport,
    ) -> Result<(), ReplicaError> {
        let author = entry.author;
        let Body::KeyRotation(k) = &entry.body else {
            return Ok(());
        };
        let held = self
            .store
            .recoveries()?
            .iter()
            .filter(|(a, _, _)| *a == author)
            .count();
        if held >= MAX_RECOVERIES {
            let vouched = self.roots.read().expect("trust lock").contains(&k.new_key)
                || self.current(Kind::Endorsement)?.iter().any(|e| {
                    matches!(&e.entry.body, Body::Endorsement(b) if b.subject == k.new_key)
                        && self.trust_granted(&e.entry.author, &author)
                });
            if !vouched {
                report.refused.push(Refusal::Forked {
                    author,
                    at: entry.seq,
                });
                return Ok(());
            }
        }
        if self.store.record_recovery(&author, entry.seq, signed)? {
            tracing::warn!(author = %author, seq = entry.seq, "forked author signed a recovery (a key rotation)");
            report.recoveries.push((author, entry.seq));
            report.trust_relevant = true;
        } else {
            report.duplicates += 1;
        }
        Ok(())
    }
}

/// Recovery statements kept per forked author before only vouched-for ones
/// are (see `Replica::keep_recovery`).
pub const MAX_RECOVERIES: usize = 8;

/// What one `apply_verified` call carries from segment to segment.
struct Batch {
    /// Head per author as of what this batch appended so far.
    heads: HashMap<NodeId, Option<Head>>,
    /// Lowest forked seq per author, including forks found in this batch.
    forked: HashMap<NodeId, Option<u64>>,
    per_minute: u32,
    fresh_after: UnixMillis,
    clock: Instant,
}
