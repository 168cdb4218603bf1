//! One Sync stream after its handshake: catch-up, live push, heartbeats.
//!
//! A session runs two halves concurrently in one task: the *reader* ingests
//! what the peer sends and records what the peer has; the *writer* sends what
//! the peer lacks. They must not share a loop: if both peers only wrote during
//! a large catch-up, HTTP/2 flow control would stall both.
//! Ownership: the writer owns sending; the reader talks to it through
//! `PeerSync` (behind a mutex held only for quick bookkeeping), a `Notify`,
//! and a small control queue for Wants that repair gaps (sent first).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::stream::FuturesUnordered;
use futures::{Stream, StreamExt};
use tokio::sync::{broadcast, mpsc, Notify};
use tokio_util::sync::CancellationToken;
use tonic::Status;
use yui_core::{NodeId, SignedEntry};
use yui_proto::v1 as pb;
use yui_sync::{now_ms, Counters, PeerSync, Replica, ReplicaError, ReplicaEvent};

use crate::codec::{node_id_from_pb, signed_from_pb, signed_to_pb};
use crate::handshake::{PeerHello, Role};
use crate::lane::{Lane, LaneSetup, LANE_VERSION};
use crate::peers::PeerStatusHandle;

mod opening;
mod outbound;
pub use opening::SUMMARY_FROM;
use opening::{
    answer_summary, bucket, diff_want, differing, expand_reply, summary_bits, summary_want,
    want_reply, Opening,
};
use outbound::Metered;
pub use outbound::{Closed, Outbound, Outgoing};

/// One Entries message being ingested, with its id.
type IngestFuture<'a> = std::pin::Pin<
    Box<dyn std::future::Future<Output = (u64, Result<(), SessionError>)> + Send + 'a>,
>;

/// An Entries message read and waiting: id, its authors, the message.
type Queued = (u64, Option<HashSet<[u8; 32]>>, pb::Entries);

/// An Entries message being ingested: its authors, and whether it is
/// stored yet.
type RunningBatch = (
    Option<HashSet<[u8; 32]>>,
    tokio::sync::watch::Receiver<bool>,
);

/// Where a running batch stands among the others of its session: the ones
/// before it sharing an author (stored or not yet), and its own signal.
struct StoreOrder {
    after: Vec<tokio::sync::watch::Receiver<bool>>,
    done: tokio::sync::watch::Sender<bool>,
}

/// Large Entries messages ingested at once per session: two verified side
/// by side while the store takes a third.
const MAX_RUNNING: usize = 3;
/// Small Entries messages (single updates) ingested at once per session,
/// beside the bulk ones: they never wait behind a bulk batch, but a peer
/// sending thousands of them holds at most this many ingests here.
const MAX_RUNNING_SMALL: usize = 4;
/// Entries messages read ahead and waiting per session.
const MAX_QUEUED: usize = 2;

/// `Entry` with only its author field: decoding it reads every field of the
/// bytes and keeps field 1 as the full decode does (the last occurrence
/// wins), so the author found here is the author ingest will see.
#[derive(Clone, PartialEq, prost::Message)]
struct AuthorOnly {
    #[prost(bytes = "vec", tag = "1")]
    author: Vec<u8>,
}

/// The authors of a batch, for scheduling only (`None`: some entry does not
/// decode to a 32-byte author, so the batch is treated as touching every
/// author). Bounded by the batch, which is bounded by `max_batch_entries`.
fn authors_of(e: &pb::Entries) -> Option<HashSet<[u8; 32]>> {
    e.entries
        .iter()
        .map(|s| {
            <AuthorOnly as prost::Message>::decode(s.entry.as_slice())
                .ok()
                .and_then(|a| a.author.try_into().ok())
        })
        .collect()
}

fn overlaps(a: &Option<HashSet<[u8; 32]>>, b: &Option<HashSet<[u8; 32]>>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => !a.is_disjoint(b),
        _ => true,
    }
}

/// Bulk batches queued to a peer at most (urgent entries and control
/// messages pass them; see the writer).
const BULK_QUEUE: usize = 1;

/// Session tuning; see `[federation]` in the node config.
#[derive(Debug, Clone, Copy)]
pub struct SessionConfig {
    /// Ping interval when the link is quiet.
    pub heartbeat: Duration,
    /// End the session after this long without hearing from the peer.
    pub idle_timeout: Duration,
    /// Entries per outgoing batch.
    pub batch_entries: usize,
    /// Bytes per outgoing batch (about).
    pub batch_bytes: usize,
    /// Largest incoming batch accepted, in entries.
    pub max_inbound_entries: usize,
    /// Handshake deadline.
    pub handshake_timeout: Duration,
    /// Largest gRPC message accepted, in bytes.
    pub max_message_bytes: usize,
    /// Sync streams one peer (node id) may hold open to this listener.
    pub max_streams_per_peer: usize,
    /// Messages queued for a peer before the writer waits for it to read
    /// (flow control: nothing is dropped, the queue only bounds memory).
    pub pending_messages: usize,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            heartbeat: Duration::from_secs(15),
            idle_timeout: Duration::from_secs(60),
            batch_entries: 2048,
            batch_bytes: 1024 * 1024,
            max_inbound_entries: 4096,
            handshake_timeout: Duration::from_secs(10),
            max_message_bytes: crate::MAX_MESSAGE_BYTES,
            max_streams_per_peer: 4,
            pending_messages: 16,
        }
    }
}

/// Why a session ended.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// The peer broke the protocol.
    #[error("peer protocol error: {0}")]
    Protocol(String),
    /// The peer's key is no longer trusted (revoked, endorsement withdrawn).
    #[error("peer {0} is no longer trusted")]
    NoLongerTrusted(NodeId),
    /// The peer went past a configured limit.
    #[error("limit exceeded: {0}")]
    Limit(String),
    /// The peer sent nothing for too long.
    #[error("peer silent for {0:?}")]
    Idle(Duration),
    /// The stream failed.
    #[error("stream error: {0}")]
    Stream(String),
    /// Local storage failed.
    #[error(transparent)]
    Replica(#[from] ReplicaError),
}

impl SessionError {
    /// The gRPC status a listener ends the stream with.
    pub fn status(&self) -> Status {
        match self {
            SessionError::Limit(_) => Status::resource_exhausted(self.to_string()),
            SessionError::Protocol(_) => Status::invalid_argument(self.to_string()),
            SessionError::NoLongerTrusted(_) => Status::permission_denied(self.to_string()),
            SessionError::Idle(_) => Status::deadline_exceeded(self.to_string()),
            _ => Status::aborted(self.to_string()),
        }
    }
}

impl From<Closed> for SessionError {
    fn from(_: Closed) -> Self {
        SessionError::Stream("peer stopped reading".into())
    }
}

fn msg(kind: pb::sync_message::Kind) -> pb::SyncMessage {
    pb::SyncMessage { kind: Some(kind) }
}

/// Heads as the wire has them (Want, Have).
fn heads_to_pb(heads: &[(NodeId, u64)]) -> Vec<pb::Head> {
    heads
        .iter()
        .map(|(a, seq)| pb::Head {
            author: a.as_bytes().to_vec(),
            seq: *seq,
        })
        .collect()
}

fn want(heads: Vec<(NodeId, u64)>) -> pb::SyncMessage {
    msg(pb::sync_message::Kind::Want(pb::Want {
        heads: heads_to_pb(&heads),
        ..Default::default()
    }))
}

/// Protocol 5: the version from which relays announce heads to each other
/// (`Have`, lazy push) instead of pushing what came from another relay.
pub const LAZY_VERSION: u32 = 5;

/// Heads in one Have message, at most (a longer one ends the session).
const MAX_HAVE_HEADS: usize = 4096;

fn have(heads: &[(NodeId, u64)]) -> pb::SyncMessage {
    msg(pb::sync_message::Kind::Have(pb::Have {
        heads: heads_to_pb(heads),
    }))
}

/// The heads of a Have, checked: 32-byte authors, at most `max` of them.
pub fn have_heads(h: pb::Have, max: usize) -> Result<Vec<(NodeId, u64)>, SessionError> {
    if h.heads.len() > max {
        return Err(SessionError::Protocol(format!(
            "a Have of {} heads (at most {max})",
            h.heads.len()
        )));
    }
    h.heads
        .into_iter()
        .map(|h| {
            node_id_from_pb(&h.author, "have.author")
                .map(|a| (a, h.seq))
                .map_err(|e| SessionError::Protocol(e.0))
        })
        .collect()
}

fn evidence(first: &SignedEntry, second: &SignedEntry) -> pb::SyncMessage {
    msg(pb::sync_message::Kind::Fork(pb::ForkEvidence {
        first: Some(signed_to_pb(first)),
        second: Some(signed_to_pb(second)),
    }))
}

/// A session's streams: the Sync stream's two halves and how the urgent
/// lane comes.
pub struct Streams<S> {
    /// What the peer sends on the Sync stream.
    pub inbound: S,
    /// Where to write on it.
    pub out: Outbound,
    /// The urgent lane (protocol 4).
    pub lane: LaneSetup,
}

/// Runs a session until the peer leaves, an error, or `cancel`. Every log
/// line inside carries the peer's node id.
#[tracing::instrument(name = "session", skip_all, fields(peer = %peer.node_id))]
pub async fn run<S>(
    replica: Arc<Replica>,
    peer: PeerHello,
    streams: Streams<S>,
    cfg: SessionConfig,
    status: PeerStatusHandle,
    cancel: CancellationToken,
) -> Result<(), SessionError>
where
    S: Stream<Item = Result<pb::SyncMessage, Status>> + Unpin + Send,
{
    let Streams { inbound, out, lane } = streams;
    let lane = if peer.version >= LANE_VERSION {
        lane
    } else {
        LaneSetup::None
    };
    tracing::debug!(peer = %peer.node_id, version = peer.version, "session started");
    let out = Metered {
        out,
        counters: replica.counters(),
    };
    let state = Mutex::new(PeerSync::new());
    let wake = Notify::new();
    let last_inbound = AtomicI64::new(now_ms());
    let (control_tx, control_rx) = mpsc::channel(64);
    // Subscribe before stating our heads so no head move falls in between.
    let events = replica.subscribe();
    let dialer = out.out.is_dialer();
    // Protocol 2: the dialer opens with its full list; the listener answers
    // with the difference once it has read it (in the reader). Protocol 3:
    // a long list goes as a summary, and the listener answers with its
    // heads in the buckets that differ.
    let delta = peer.version >= 2;
    let opening = if dialer || !delta {
        let list = replica.want_list()?;
        let summary_bits = (dialer && peer.version >= 3 && list.len() >= SUMMARY_FROM)
            .then(|| summary_bits(list.len()));
        match summary_bits {
            Some(bits) => out.send(summary_want(&list, bits)).await?,
            None => out.send(want(list.clone())).await?,
        }
        Some(Opening { list, summary_bits })
    } else {
        None
    };
    // The lowest pair per author stops its log; the rest would only repeat
    // it (records come sorted by author, then seq).
    let mut told = HashSet::new();
    for f in replica.store().forks().map_err(ReplicaError::from)? {
        if told.insert(f.author) {
            out.send(evidence(&f.first, &f.second)).await?;
        }
    }
    // Recoveries after the evidence, so the peer knows the log is forked.
    let recoveries: Vec<SignedEntry> = replica
        .store()
        .recoveries()
        .map_err(ReplicaError::from)?
        .into_iter()
        .map(|(_, _, s)| s)
        .collect();
    if !recoveries.is_empty() {
        out.send(msg(pb::sync_message::Kind::Entries(pb::Entries {
            entries: recoveries.iter().map(signed_to_pb).collect(),
        })))
        .await?;
    }
    let retrying = Arc::new(Mutex::new(HashSet::new()));
    let ctx = Ctx {
        replica: &replica,
        peer: peer.node_id,
        pinned: peer.pinned,
        state: &state,
        wake: &wake,
        last_inbound: &last_inbound,
        status: &status,
        retrying: &retrying,
        cancel: &cancel,
        cfg,
        opening: Mutex::new(if dialer && delta { opening } else { None }),
        answer_opening: std::sync::atomic::AtomicBool::new(!dialer && delta),
        passed_over: Mutex::default(),
        lane_out: std::sync::OnceLock::new(),
        answered: Notify::new(),
        relay: peer.role == Role::Relay,
        lazy: peer.role == Role::Relay && peer.version >= LAZY_VERSION,
        started: tokio::time::Instant::now(),
    };
    let mut inbound = inbound;
    let ended = tokio::select! {
        r = ctx.lane(lane, control_tx.clone()) => Some(r),
        r = ctx.reader(&mut inbound, control_tx) => Some(r),
        r = ctx.writer(&out, events, control_rx) => Some(r),
        _ = cancel.cancelled() => None,
    };
    if let Some(r) = ended {
        return r;
    }
    if dialer {
        close(out, inbound).await;
    }
    Ok(())
}

/// How long a stopping dialer waits for the peer to read what it had queued.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// Stopping (the node shuts down or restarts), the dialing side ends its
/// stream after what it has queued and reads on until the peer ends its own
/// (a listener ends its side once it has read to the end of ours, and
/// stores every batch it read whole): so the peer has read everything
/// queued for it. Dropping the response stream at once would reset the
/// call, and what was still queued or in the transport's buffers was lost:
/// for a key rotation, sent just before the node restarts under the new
/// key, that was never made good, since a peer that missed it does not
/// know the new key and refuses it. Bounded by [`CLOSE_GRACE`]; what the
/// peer sends meanwhile is dropped (a later session asks for it again). A
/// listener needs no such step: its call's response ends after what is
/// queued, and the server's graceful shutdown sends it.
async fn close<S>(out: Metered<'_>, mut inbound: S)
where
    S: Stream<Item = Result<pb::SyncMessage, Status>> + Unpin,
{
    drop(out);
    let deadline = tokio::time::Instant::now() + CLOSE_GRACE;
    while let Ok(Some(Ok(_))) = tokio::time::timeout_at(deadline, inbound.next()).await {}
}

struct Ctx<'a> {
    replica: &'a Arc<Replica>,
    peer: NodeId,
    pinned: bool,
    state: &'a Mutex<PeerSync>,
    wake: &'a Notify,
    last_inbound: &'a AtomicI64,
    status: &'a PeerStatusHandle,
    /// Authors refused for rate with a delayed re-request pending.
    retrying: &'a Arc<Mutex<HashSet<NodeId>>>,
    cancel: &'a CancellationToken,
    cfg: SessionConfig,
    /// Dialer, protocol 2: the opening Want, until the listener's reply.
    opening: Mutex<Option<Opening>>,
    /// Listener, protocol 2: the dialer's opening Want is still to answer.
    answer_opening: std::sync::atomic::AtomicBool,
    /// Authors the peer asked for that this node neither trusted nor held
    /// then (at most [`MAX_PASSED_OVER`]), with the peer's seq: taken up
    /// when trust changes here. Without it, a peer that learnt of a new key
    /// (a rotation, an endorsement) a moment before this node did would
    /// never get that author's entries over this link.
    passed_over: Mutex<HashMap<NodeId, u64>>,
    /// The urgent lane's writing end, once it is open (protocol 4).
    lane_out: std::sync::OnceLock<Metered<'a>>,
    /// Dialer: the listener has answered the opening Want (its session is
    /// running, so the lane may open).
    answered: Notify,
    /// The peer stated the relay role.
    relay: bool,
    /// Protocol 5 with a relay: what came here over a link to a relay is
    /// announced to it (`Have`), not pushed.
    lazy: bool,
    /// The session's clock for grace times (`PeerSync` counts in ms).
    started: tokio::time::Instant,
}

/// Authors a session remembers having passed over (see `Ctx::passed_over`).
const MAX_PASSED_OVER: usize = 4096;

impl Ctx<'_> {
    async fn reader<S>(
        &self,
        mut inbound: S,
        control: mpsc::Sender<pb::SyncMessage>,
    ) -> Result<(), SessionError>
    where
        S: Stream<Item = Result<pb::SyncMessage, Status>> + Unpin,
    {
        use pb::sync_message::Kind;
        // Entries messages are ingested up to MAX_RUNNING at a time: each
        // is prepared (checks, signatures) at once, and stored once every
        // running batch before it that shares an author is stored. Batches
        // of a backfill (one author's run split across two) are thus
        // verified side by side on the cores while the store takes the one
        // before, and a readiness update overtakes a bulk batch still being
        // verified; per author the order is kept.
        let mut running: FuturesUnordered<IngestFuture<'_>> = FuturesUnordered::new();
        let mut running_sets: HashMap<u64, RunningBatch> = HashMap::new();
        let mut queued: std::collections::VecDeque<Queued> = std::collections::VecDeque::new();
        let mut next_id = 0u64;
        let mut running_small_ids: HashSet<u64> = HashSet::new();
        let control = &control;
        loop {
            // Start what may start: no author shared with a running batch or
            // with an earlier one still waiting.
            let mut i = 0;
            while i < queued.len() {
                // Small batches (single updates) do not count against
                // MAX_RUNNING: they must not wait for bulk ones.
                let small = queued[i].2.entries.len() <= yui_sync::SMALL_BATCH;
                let running_small = running_small_ids.len();
                let running_bulk = running.len() - running_small;
                if (!small && running_bulk >= MAX_RUNNING)
                    || (small && running_small >= MAX_RUNNING_SMALL)
                {
                    i += 1;
                    continue;
                }
                // An earlier batch still waiting keeps its place before a
                // later one sharing an author.
                let blocked = queued
                    .iter()
                    .take(i)
                    .any(|(_, earlier, _)| overlaps(earlier, &queued[i].1));
                if blocked {
                    i += 1;
                    continue;
                }
                let (id, set, e) = queued.remove(i).expect("index in range");
                let after: Vec<_> = running_sets
                    .values()
                    .filter(|(s, _)| overlaps(s, &set))
                    .map(|(_, stored)| stored.clone())
                    .collect();
                let (done, stored) = tokio::sync::watch::channel(false);
                running_sets.insert(id, (set, stored));
                if small {
                    running_small_ids.insert(id);
                }
                let order = StoreOrder { after, done };
                running.push(Box::pin(async move {
                    (id, self.ingest(e, control, Some(order)).await)
                }));
            }
            let can_read = queued.len() < MAX_QUEUED;
            let m = tokio::select! {
                Some((id, r)) = running.next(), if !running.is_empty() => {
                    running_sets.remove(&id);
                    running_small_ids.remove(&id);
                    r?;
                    continue;
                }
                m = inbound.next(), if can_read => m,
            };
            let Some(m) = m else { break };
            let m = match m.map_err(|s| {
                if s.code() == tonic::Code::OutOfRange {
                    // tonic refuses an oversized message from its length
                    // prefix, before reading the body.
                    Counters::add(&self.replica.counters().limit_message_bytes, 1);
                    SessionError::Limit(format!(
                        "message over max_message_bytes ({}): {}",
                        self.cfg.max_message_bytes,
                        s.message()
                    ))
                } else {
                    SessionError::Stream(format!("{}: {}", s.code(), s.message()))
                }
            }) {
                Ok(m) => m,
                Err(e) => {
                    // The stream broke (the peer stopped, the connection
                    // reset): what it sent whole before is still stored,
                    // as at a clean end. A peer that restarts right after
                    // sending (a key rotation) must not lose its last batch
                    // to a reset that overtook its ingest here.
                    while let Some((id, r)) = running.next().await {
                        running_sets.remove(&id);
                        r?;
                    }
                    while let Some((_, _, e)) = queued.pop_front() {
                        self.ingest(e, control, None).await?;
                    }
                    return Err(e);
                }
            };
            self.heard(&m);
            match m.kind {
                Some(Kind::Want(w)) => {
                    let mut heads = Vec::with_capacity(w.heads.len().min(4096));
                    let mut ignored = 0u64;
                    let mut ignored_ids = Vec::new();
                    // What the peer holds beyond this node, for authors this
                    // node takes: the catch-up still to come on this link.
                    let mut missing = 0u64;
                    for h in w.heads {
                        let a = node_id_from_pb(&h.author, "want.author")
                            .map_err(|e| SessionError::Protocol(e.0))?;
                        let ours = self.replica.store().head(&a).map_err(ReplicaError::from)?;
                        let trusted = self.replica.is_trusted(&a);
                        // Only authors this node could ever send: keeps a
                        // peer naming millions of random keys from growing
                        // its state here.
                        if trusted || ours.is_some() {
                            if trusted {
                                // Peer-chosen seqs: saturate, never overflow.
                                missing = missing.saturating_add(
                                    h.seq.saturating_sub(ours.map_or(0, |o| o.seq)),
                                );
                            }
                            heads.push((a, h.seq));
                        } else {
                            ignored += 1;
                            ignored_ids.push(a);
                            let mut passed = self.passed_over.lock().expect("passed over");
                            if passed.len() < MAX_PASSED_OVER || passed.contains_key(&a) {
                                passed.insert(a, h.seq);
                            }
                        }
                    }
                    if w.reply {
                        // Protocol 2 (dialer): the listener stated only the
                        // difference from our opening.
                        let opening = self.opening.lock().expect("opening").take();
                        let Some(opening) = opening else {
                            return Err(SessionError::Protocol(
                                "a Want reply without an opening Want".into(),
                            ));
                        };
                        self.answered.notify_one();
                        if let Some(bits) = opening.summary_bits {
                            // Protocol 3: the listener wants what we hold
                            // wherever the buckets agree, and listed its
                            // wants where they differ; it learns ours there
                            // now.
                            let flags = differing(bits, &w.differ)?;
                            let in_differ = |a: &NodeId| flags[bucket(a, bits)];
                            heads.extend(opening.list.iter().filter(|(a, _)| !in_differ(a)));
                            if !w.differ.is_empty() {
                                let ours: Vec<(NodeId, u64)> = self
                                    .replica
                                    .want_list()?
                                    .into_iter()
                                    .filter(|(a, _)| in_differ(a))
                                    .collect();
                                control
                                    .send(want(ours))
                                    .await
                                    .map_err(|_| SessionError::Stream("writer ended".into()))?;
                            }
                        } else {
                            let declined: HashSet<NodeId> = w
                                .declined
                                .iter()
                                .filter_map(|a| NodeId::from_bytes(a).ok())
                                .collect();
                            heads = expand_reply(&opening.list, &heads, &declined);
                        }
                        missing = heads
                            .iter()
                            .filter(|(a, _)| self.replica.is_trusted(a))
                            .map(|(a, seq)| {
                                let ours = self.replica.store().head(a).ok().flatten();
                                seq.saturating_sub(ours.map_or(0, |o| o.seq))
                            })
                            .fold(0u64, u64::saturating_add);
                    } else if let Some(s) = w
                        .summary
                        .as_ref()
                        .filter(|_| self.answer_opening.swap(false, Ordering::SeqCst))
                    {
                        // Protocol 3 (listener): the opening summarised;
                        // answer with our heads where the buckets differ.
                        let (differ, listed, implied) =
                            answer_summary(&self.replica.want_list()?, s)?;
                        let mut reply = want_reply(listed, Vec::new());
                        if let Some(pb::sync_message::Kind::Want(r)) = &mut reply.kind {
                            r.differ = differ;
                        }
                        control
                            .send(reply)
                            .await
                            .map_err(|_| SessionError::Stream("writer ended".into()))?;
                        heads = implied;
                    } else if self.answer_opening.swap(false, Ordering::SeqCst) {
                        // Protocol 2 (listener): answer the opening with
                        // the difference only.
                        let (delta, mut declined) = diff_want(&self.replica.want_list()?, &heads);
                        // Named but neither trusted nor held here: declined
                        // too, or the dialer would push them.
                        declined.extend(ignored_ids);
                        control
                            .send(want_reply(delta, declined))
                            .await
                            .map_err(|_| SessionError::Stream("writer ended".into()))?;
                    }
                    self.status.set_missing(missing);
                    if ignored > 0 {
                        Counters::add(&self.replica.counters().limit_want_heads, ignored);
                        tracing::debug!(
                            ignored,
                            "want named authors this node neither trusts nor holds"
                        );
                    }
                    if let Some((_, seq)) = heads.iter().find(|(a, _)| *a == self.replica.id()) {
                        self.replica.note_own_claim(*seq)?;
                    }
                    self.state.lock().expect("peer state").on_want(heads);
                    self.wake.notify_one();
                }
                Some(Kind::Entries(e)) => {
                    queued.push_back((next_id, authors_of(&e), e));
                    next_id += 1;
                }
                Some(Kind::Ping(_)) => {}
                Some(Kind::Have(h)) => self.on_have(h, control).await?,
                Some(Kind::Fork(f)) => {
                    let (Some(a), Some(b)) = (f.first, f.second) else {
                        return Err(SessionError::Protocol(
                            "fork evidence needs two entries".into(),
                        ));
                    };
                    let (a, b) = match (signed_from_pb(a), signed_from_pb(b)) {
                        (Ok(a), Ok(b)) => (a, b),
                        _ => return Err(SessionError::Protocol("malformed fork evidence".into())),
                    };
                    let replica = self.replica.clone();
                    let r = tokio::task::spawn_blocking(move || replica.accept_fork_evidence(a, b))
                        .await
                        .expect("fork evidence task");
                    if let Err(e) = r {
                        tracing::warn!(error = %e, "refused fork evidence");
                    }
                }
                Some(Kind::Hello(_)) | Some(Kind::Proof(_)) | None => {
                    return Err(SessionError::Protocol(
                        "unexpected message after handshake".into(),
                    ))
                }
            }
        }
        // The peer closed its side: finish what it sent.
        while let Some((id, r)) = running.next().await {
            running_sets.remove(&id);
            r?;
        }
        while let Some((_, _, e)) = queued.pop_front() {
            self.ingest(e, control, None).await?;
        }
        Ok(())
    }

    /// Ingests one Entries message; with `order`, stores it only once the
    /// batches before it sharing an author are stored.
    async fn ingest(
        &self,
        e: pb::Entries,
        control: &mpsc::Sender<pb::SyncMessage>,
        order: Option<StoreOrder>,
    ) -> Result<(), SessionError> {
        if e.entries.len() > self.cfg.max_inbound_entries {
            Counters::add(&self.replica.counters().limit_batch_entries, 1);
            return Err(SessionError::Limit(format!(
                "batch of {} entries over max_batch_entries ({})",
                e.entries.len(),
                self.cfg.max_inbound_entries
            )));
        }
        let mut batch = Vec::with_capacity(e.entries.len());
        let mut malformed = 0;
        for s in e.entries {
            match signed_from_pb(s) {
                Ok(s) => batch.push(s),
                Err(_) => malformed += 1,
            }
        }
        self.replica.count_malformed(malformed);
        let prepared = self
            .replica
            .prepare_from(self.peer, self.relay, batch)
            .await;
        let report = match order {
            Some(StoreOrder { after, done }) => {
                for mut before in after {
                    // Stored, or its ingest ended (which ends the session).
                    let _ = before.wait_for(|stored| *stored).await;
                }
                let report = self.replica.commit_prepared(prepared).await;
                let _ = done.send(true);
                report
            }
            None => self.replica.commit_prepared(prepared).await,
        }?;
        {
            let mut st = self.state.lock().expect("peer state");
            for (author, seq) in &report.seen {
                st.on_peer_has(*author, *seq);
            }
        }
        for (author, head) in &report.gaps {
            tracing::debug!(author = %author, head, "gap: asking the peer to resend from our head");
            let _ = control.send(want(vec![(*author, *head)])).await;
        }
        if !report.gaps.is_empty() {
            self.wake.notify_one();
        }
        for (author, head, wait) in &report.retry_later {
            self.retry_later(*author, *head, *wait, control);
        }
        self.status.received(report.accepted as u64);
        if !report.refused.is_empty() || malformed > 0 {
            tracing::warn!(
                refused = report.refused.len() + malformed,
                first = %report.refused.first().map(|r| r.to_string()).unwrap_or_else(|| "malformed signature".into()),
                "refused entries from peer"
            );
        }
        if report.forks > 0 {
            tracing::warn!(forks = report.forks, "peer delivered fork evidence");
        }
        Ok(())
    }

    /// Milliseconds since the session started (the clock of grace times).
    fn now(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Protocol 5: the peer holds these heads. Nothing it holds is sent to
    /// it; a head this node lacks (of an author it trusts) is asked for once
    /// its grace time has passed without the entries (the writer's grafts),
    /// or at once when many wait already.
    async fn on_have(
        &self,
        h: pb::Have,
        control: &mpsc::Sender<pb::SyncMessage>,
    ) -> Result<(), SessionError> {
        let now = self.now();
        let mut at_once = Vec::new();
        for (author, seq) in have_heads(h, MAX_HAVE_HEADS)? {
            let local = self
                .replica
                .store()
                .head(&author)
                .map_err(ReplicaError::from)?;
            if local.is_none() && !self.replica.is_trusted(&author) {
                continue;
            }
            let local = local.map_or(0, |h| h.seq);
            let mut st = self.state.lock().expect("peer state");
            if let Some(graft) = st.on_have(author, seq, local, now) {
                at_once.push(graft);
            }
        }
        if !at_once.is_empty() {
            Counters::add(&self.replica.counters().sync_grafts, at_once.len() as u64);
            control
                .send(want(at_once))
                .await
                .map_err(|_| SessionError::Stream("writer ended".into()))?;
        }
        // The writer sets its graft timer.
        self.wake.notify_one();
        Ok(())
    }

    /// Asks the peer again for `author` from `head` once the rate limit has
    /// room: one pending re-request per author, ended with the session.
    fn retry_later(
        &self,
        author: NodeId,
        head: u64,
        wait: Duration,
        control: &mpsc::Sender<pb::SyncMessage>,
    ) {
        if !self.retrying.lock().expect("retrying").insert(author) {
            return;
        }
        tracing::debug!(author = %author, ?wait, "author over its rate: asking again later");
        let (retrying, control, cancel) =
            (self.retrying.clone(), control.clone(), self.cancel.clone());
        tokio::spawn(async move {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = control.closed() => return,
                _ = tokio::time::sleep(wait) => {}
            }
            retrying.lock().expect("retrying").remove(&author);
            let _ = control.send(want(vec![(author, head)])).await;
        });
    }

    fn check_peer_trusted(&self) -> Result<(), SessionError> {
        let revoked = self.replica.is_revoked(&self.peer);
        if !revoked && (self.pinned || self.replica.is_trusted(&self.peer)) {
            Ok(())
        } else {
            Err(SessionError::NoLongerTrusted(self.peer))
        }
    }

    /// Applies an event; returns what the writer must send before data.
    fn on_event(&self, ev: ReplicaEvent) -> Result<Vec<pb::SyncMessage>, SessionError> {
        match ev {
            ReplicaEvent::Head {
                author,
                urgent,
                via_relay,
                ..
            } => {
                let mut st = self.state.lock().expect("peer state");
                if self.lazy && via_relay {
                    st.announce_head(author, urgent);
                } else {
                    st.on_local_head(author, urgent);
                }
                Ok(Vec::new())
            }
            ReplicaEvent::TrustChanged { added } => {
                self.check_peer_trusted()?;
                // What the peer asked for before this node trusted it.
                let taken: Vec<(NodeId, u64)> = {
                    let mut passed = self.passed_over.lock().expect("passed over");
                    let now: Vec<NodeId> = passed
                        .keys()
                        .filter(|a| self.replica.is_trusted(a))
                        .copied()
                        .collect();
                    now.into_iter()
                        .filter_map(|a| passed.remove(&a).map(|seq| (a, seq)))
                        .collect()
                };
                if !taken.is_empty() {
                    self.state.lock().expect("peer state").on_want(taken);
                    self.wake.notify_one();
                }
                // Only the newly trusted authors: wants add up, and the
                // others' heads the peer learns as entries flow.
                let heads: Vec<(NodeId, u64)> = added
                    .iter()
                    .map(|a| Ok((*a, self.replica.store().head(a)?.map_or(0, |h| h.seq))))
                    .collect::<Result<_, yui_store::StoreError>>()
                    .map_err(ReplicaError::from)?;
                Ok(if heads.is_empty() {
                    Vec::new()
                } else {
                    vec![want(heads)]
                })
            }
            ReplicaEvent::Recovery { author, seq } => Ok(self
                .replica
                .store()
                .recoveries()
                .map_err(ReplicaError::from)?
                .into_iter()
                .filter(|(a, s, _)| *a == author && *s == seq)
                .map(|(_, _, e)| {
                    msg(pb::sync_message::Kind::Entries(pb::Entries {
                        entries: vec![signed_to_pb(&e)],
                    }))
                })
                .collect()),
            ReplicaEvent::Fork { author, seq } => Ok(self
                .replica
                .store()
                .forks()
                .map_err(ReplicaError::from)?
                .into_iter()
                .filter(|f| f.author == author && f.seq == seq)
                .map(|f| evidence(&f.first, &f.second))
                .collect()),
        }
    }

    /// Notes a message from the peer (on either stream): the link is alive.
    fn heard(&self, m: &pb::SyncMessage) {
        self.last_inbound.store(now_ms(), Ordering::Relaxed);
        Counters::add(
            &self.replica.counters().sync_bytes_received,
            prost::Message::encoded_len(m) as u64,
        );
        self.status.seen();
    }

    /// The urgent lane (protocol 4): opens or accepts it, then reads it for
    /// the rest of the session. Its reader ingests each message as it
    /// comes, never behind the Sync stream's bulk batches. Never ends while
    /// there is no lane, nor when the peer closes it: a stopping peer closes
    /// the lane and the Sync stream together, and the Sync stream's end,
    /// which comes after everything the peer sent on it, ends the session
    /// (ending it at the lane's end cut off batches still on their way). An
    /// error on the lane ends the session.
    async fn lane(
        &self,
        setup: LaneSetup,
        control: mpsc::Sender<pb::SyncMessage>,
    ) -> Result<(), SessionError> {
        use pb::sync_message::Kind;
        let lane = match setup {
            LaneSetup::None => return std::future::pending().await,
            LaneSetup::Dial(client) => {
                self.answered.notified().await;
                match Lane::dial(client).await {
                    Ok(l) => l,
                    Err(s) if s.code() == tonic::Code::Unimplemented => {
                        tracing::info!("the peer has no urgent lane: urgent entries go first on the Sync stream");
                        return std::future::pending().await;
                    }
                    Err(s) => {
                        return Err(SessionError::Stream(format!(
                            "urgent lane: {}: {}",
                            s.code(),
                            s.message()
                        )))
                    }
                }
            }
            LaneSetup::Accept(rx) => match rx.await {
                Ok(l) => l,
                // The listener went away: the session is ending anyway.
                Err(_) => return std::future::pending().await,
            },
        };
        let mut inbound = lane.inbound;
        let _ = self.lane_out.set(Metered {
            out: lane.out,
            counters: self.replica.counters(),
        });
        tracing::debug!("urgent lane open");
        self.wake.notify_one();
        while let Some(m) = inbound.next().await {
            let m = m.map_err(|s| {
                SessionError::Stream(format!("urgent lane: {}: {}", s.code(), s.message()))
            })?;
            self.heard(&m);
            match m.kind {
                Some(Kind::Entries(e)) if e.entries.len() <= yui_sync::SMALL_BATCH => {
                    self.ingest(e, &control, None).await?
                }
                Some(Kind::Have(h)) => self.on_have(h, &control).await?,
                Some(Kind::Entries(e)) => {
                    return Err(SessionError::Protocol(format!(
                        "an urgent lane batch of {} entries (at most {})",
                        e.entries.len(),
                        yui_sync::SMALL_BATCH
                    )))
                }
                _ => {
                    return Err(SessionError::Protocol(
                        "the urgent lane carries Entries and Have messages only".into(),
                    ))
                }
            }
        }
        tracing::debug!("the peer closed the urgent lane");
        std::future::pending().await
    }

    async fn writer(
        &self,
        out: &Metered<'_>,
        mut events: broadcast::Receiver<ReplicaEvent>,
        mut control: mpsc::Receiver<pb::SyncMessage>,
    ) -> Result<(), SessionError> {
        let mut heartbeat = tokio::time::interval(self.cfg.heartbeat);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        heartbeat.tick().await;
        loop {
            // Drain what happened without waiting, so a long catch-up never
            // lets the event queue overflow unnoticed.
            let mut urgent_out = Vec::new();
            loop {
                match events.try_recv() {
                    Ok(ev) => urgent_out.extend(self.on_event(ev)?),
                    Err(broadcast::error::TryRecvError::Empty) => break,
                    Err(broadcast::error::TryRecvError::Lagged(_)) => {
                        self.state.lock().expect("peer state").mark_all_dirty();
                        // A trust change may be among the events missed.
                        urgent_out.push(want(self.replica.want_list()?));
                    }
                    Err(broadcast::error::TryRecvError::Closed) => return Ok(()),
                }
            }
            for m in urgent_out {
                out.send(m).await?;
            }
            while let Ok(m) = control.try_recv() {
                out.send(m).await?;
            }
            // Protocol 5: heads announced by the peer that no other link
            // delivered within the grace time are asked for; heads to
            // announce go out before any entries.
            let (grafts, heads) = {
                let mut st = self.state.lock().expect("peer state");
                (
                    st.due_grafts(self.replica, self.now())?,
                    st.next_announce(self.replica, MAX_HAVE_HEADS)?,
                )
            };
            if !grafts.is_empty() {
                Counters::add(&self.replica.counters().sync_grafts, grafts.len() as u64);
                out.send(want(grafts)).await?;
            }
            if !heads.is_empty() {
                let n = heads.len() as u64;
                match self.lane_out.get() {
                    Some(lane) => lane.send(have(&heads)).await?,
                    None => out.send(have(&heads)).await?,
                }
                Counters::add(&self.replica.counters().sync_heads_announced, n);
            }
            // Urgent entries take the lane when there is one: nothing bulk
            // is ahead of them there, in either direction.
            if let Some(lane) = self.lane_out.get() {
                let batch = self
                    .state
                    .lock()
                    .expect("peer state")
                    .next_urgent(self.replica, yui_sync::SMALL_BATCH)?;
                if !batch.is_empty() {
                    let n = batch.len() as u64;
                    let entries = batch.iter().map(signed_to_pb).collect();
                    lane.send(msg(pb::sync_message::Kind::Entries(pb::Entries {
                        entries,
                    })))
                    .await?;
                    Counters::add(&self.replica.counters().sync_lane_entries_sent, n);
                    self.status.sent(n);
                    continue;
                }
            }
            // Bulk batches wait until the queue to the peer is all but
            // empty: an urgent entry (readiness) must never queue behind
            // megabytes of backfill. The transport below keeps its own
            // buffer full meanwhile.
            let room = out.depth() < BULK_QUEUE;
            let (batch, own) = if room {
                let mut st = self.state.lock().expect("peer state");
                let batch =
                    st.next_batch(self.replica, self.cfg.batch_entries, self.cfg.batch_bytes)?;
                (batch, st.peer_has(&self.replica.id()))
            } else {
                (Vec::new(), None)
            };
            if !batch.is_empty() {
                let n = batch.len() as u64;
                let entries = batch.iter().map(signed_to_pb).collect();
                out.send(msg(pb::sync_message::Kind::Entries(pb::Entries {
                    entries,
                })))
                .await?;
                self.status.sent(n);
                self.status.set_own_log_sent(own);
                continue;
            }
            let (has_work, graft_at) = {
                let st = self.state.lock().expect("peer state");
                (!room && st.has_work(), st.next_graft_at())
            };
            let graft_in = graft_at.map(|at| Duration::from_millis(at.saturating_sub(self.now())));
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = out.out.drained(), if has_work => {}
                _ = tokio::time::sleep(graft_in.unwrap_or_default()), if graft_in.is_some() => {}
                ev = events.recv() => match ev {
                    Ok(ev) => {
                        for m in self.on_event(ev)? {
                            out.send(m).await?;
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        self.state.lock().expect("peer state").mark_all_dirty();
                        // A trust change may be among the events missed.
                        out.send(want(self.replica.want_list()?)).await?;
                    }
                    Err(broadcast::error::RecvError::Closed) => return Ok(()),
                },
                m = control.recv() => if let Some(m) = m { out.send(m).await? },
                _ = heartbeat.tick() => {
                    let silent = now_ms() - self.last_inbound.load(Ordering::Relaxed);
                    if silent > self.cfg.idle_timeout.as_millis() as i64 {
                        return Err(SessionError::Idle(self.cfg.idle_timeout));
                    }
                    out.send(msg(pb::sync_message::Kind::Ping(pb::Ping { sent_at: now_ms() }))).await?;
                    let lag = self.state.lock().expect("peer state").lag(self.replica)?;
                    self.status.set_lag(lag);
                    self.status.set_queue(out.depth());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(i: u8) -> NodeId {
        NodeId::new(yui_core::SecretKey::from_seed(&[i; 32]).public_key())
    }

    /// The scheduling author is the author the full decode finds, even
    /// when the bytes name one author first and another later.
    #[test]
    fn the_scheduling_author_is_the_decoded_author() {
        use prost::Message;
        let (a, b) = (id(1), id(2));
        let mut bytes = pb::Entry {
            author: a.as_bytes().to_vec(),
            seq: 1,
            ..Default::default()
        }
        .encode_to_vec();
        // Field 1 again: protobuf keeps the last.
        bytes.push(0x0a);
        bytes.push(32);
        bytes.extend_from_slice(b.as_bytes());
        let full = pb::Entry::decode(bytes.as_slice()).unwrap();
        assert_eq!(full.author, b.as_bytes().to_vec());
        let e = pb::Entries {
            entries: vec![pb::SignedEntry {
                entry: bytes,
                signature: vec![0; 64],
            }],
        };
        let set = authors_of(&e).unwrap();
        assert!(set.contains(b.as_bytes()) && !set.contains(a.as_bytes()));
        let junk = pb::Entries {
            entries: vec![pb::SignedEntry {
                entry: vec![0xff; 10],
                signature: vec![],
            }],
        };
        assert!(authors_of(&junk).is_none());
    }
}
