//! Plain records the store files and returns.

use serde::{Deserialize, Serialize};
use yui_core::{EntryId, Kind, NodeId, SignedEntry, UnixMillis};

/// An entry with the fields a store indexes, taken from its decoded form.
#[derive(Debug, Clone)]
pub struct IndexedEntry {
    /// Id of `signed`.
    pub id: EntryId,
    /// Author.
    pub author: NodeId,
    /// Sequence number.
    pub seq: u64,
    /// Previous entry id.
    pub prev: Option<EntryId>,
    /// Body kind.
    pub kind: Kind,
    /// Object the entry creates or updates.
    pub object_id: String,
    /// Author's timestamp.
    pub created_at: UnixMillis,
    /// The signed bytes, stored unchanged.
    pub signed: SignedEntry,
}

/// The current (newest) entry of one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectVersion {
    /// Author.
    pub author: NodeId,
    /// Object id.
    pub object_id: String,
    /// Seq of the newest entry for it.
    pub seq: u64,
}

/// Proof that an author signed two different entries at one seq.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForkRecord {
    /// Author.
    pub author: NodeId,
    /// Seq both entries claim.
    pub seq: u64,
    /// One entry: the one in this node's log, when it holds one.
    pub first: SignedEntry,
    /// The conflicting entry. Both are kept whole, so the evidence can be
    /// passed on and checked by anyone.
    pub second: SignedEntry,
}

/// An author the operator trusts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustRecord {
    /// Name the operator knows it by.
    pub name: String,
    /// When it was added.
    pub added_at: UnixMillis,
}

/// How a run of an author's entries came to be stored here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "source", content = "peer")]
pub enum ArrivalSource {
    /// This node published them (its own log).
    Published,
    /// A peer sent them over a link.
    Peer(NodeId),
    /// The operator brought them (a bundle import, a restore).
    Import,
}

/// A run of one author's entries stored together: which seqs, when, how.
/// Provenance for readers; not part of any entry, never sent to peers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Arrival {
    /// The author.
    pub author: NodeId,
    /// First seq of the run.
    pub first_seq: u64,
    /// Last seq of the run (inclusive).
    pub last_seq: u64,
    /// When this node stored them (Unix ms).
    pub at: UnixMillis,
    /// Where they came from.
    pub source: ArrivalSource,
}

/// A peer this node dials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerRecord {
    /// `host:port`.
    pub addr: String,
    /// The node id expected at that address, if known.
    pub node_id: Option<NodeId>,
    /// When it was added.
    pub added_at: UnixMillis,
}
