//! One Sync stream after its handshake: catch-up, live push, heartbeats.
//!
//! A session runs two halves concurrently in one task: the *reader* ingests
//! what the peer sends and records what the peer has; the *writer* sends what
//! the peer lacks. They must not share a loop: if both peers only wrote during
//! a large catch-up, HTTP/2 flow control would stall both.
//! Ownership: the writer owns sending; the reader talks to it through
//! `PeerSync` (behind a mutex held only for quick bookkeeping), a `Notify`,
//! and a small control queue for Wants that repair gaps (sent first).
//! The reader is in `reader.rs`, the writer and the urgent lane in
//! `writer.rs`, the opening exchange in `opening.rs`.

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
mod reader;
mod writer;
pub use opening::SUMMARY_FROM;
use opening::{
    answer_summary, bucket, diff_want, differing, expand_reply, summary_bits, summary_want,
    want_reply, Opening,
};
use outbound::Metered;
pub use outbound::{Closed, Outbound, Outgoing};

pub use yui_sync::LANE_TRACE;

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
    let Streams {
        mut inbound,
        out,
        lane,
    } = streams;
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

    /// Notes a message from the peer (on either stream): the link is alive.
    fn heard(&self, m: &pb::SyncMessage) {
        self.last_inbound.store(now_ms(), Ordering::Relaxed);
        Counters::add(
            &self.replica.counters().sync_bytes_received,
            prost::Message::encoded_len(m) as u64,
        );
        self.status.seen();
    }
}
