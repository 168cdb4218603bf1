//! JSON shapes of the local admin API, shared by the server and the CLI.

use serde::{Deserialize, Serialize};
use yui_core::{Body, NodeId};
use yui_sync::CountersSnapshot;

/// `GET /v1/status`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StatusView {
    /// This node.
    pub node_id: NodeId,
    /// Its name.
    pub name: String,
    /// `municipality` or `relay`.
    pub role: String,
    /// Its municipality code.
    pub code: Option<String>,
    /// yui version.
    pub version: String,
    /// Bound federation address.
    pub federation_addr: String,
    /// The store engine of its data folder (`fjall` or `sled`).
    #[serde(default)]
    pub engine: String,
    /// Entries held.
    pub entries: u64,
    /// Their total size in bytes.
    #[serde(default)]
    pub entry_bytes: u64,
    /// Entries the search index holds (behind by `entries` minus this
    /// while it builds).
    #[serde(default)]
    pub indexed: u64,
    /// Per-author heads.
    pub heads: Vec<HeadView>,
    /// Links with a running session.
    pub peers_connected: usize,
    /// Publishing is held after a restore, until peers show the own log is
    /// current.
    pub publishing_held: bool,
    /// Counters since start.
    pub counters: CountersSnapshot,
    /// Fork evidence held.
    pub forks: Vec<ForkView>,
    /// Logs this node declines from a seq: a signed entry there breaks a
    /// rule (this node no longer asks for that author past it).
    #[serde(default)]
    pub declined: Vec<DeclinedView>,
    /// Long work running (backup, bundle import).
    #[serde(default)]
    pub tasks: Vec<crate::progress::ProgressView>,
    /// Catch-up from peers, while this node lacks entries a peer holds.
    #[serde(default)]
    pub catch_up: Option<crate::progress::ProgressView>,
}

/// One author's head.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HeadView {
    /// Author.
    pub author: NodeId,
    /// Name from trust (or this node's own name).
    pub name: Option<String>,
    /// Contiguous head seq.
    pub seq: u64,
    /// Head entry id.
    pub id: String,
    /// When this node stored the head entry (Unix ms), where it knows:
    /// `GET /v1/head` answers it, `GET /v1/status` does not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arrived_at: Option<i64>,
}

/// One fork.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ForkView {
    /// Author that forked.
    pub author: NodeId,
    /// Seq with two entries.
    pub seq: u64,
    /// Id held in the log.
    pub existing: String,
    /// Id of the conflicting entry kept as evidence.
    pub other: String,
}

/// One declined log.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeclinedView {
    /// Author.
    pub author: NodeId,
    /// First seq declined.
    pub seq: u64,
    /// The rule its entry there breaks.
    pub reason: String,
}

/// `GET /v1/trust` row.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrustView {
    /// Trusted author.
    pub node_id: NodeId,
    /// Name.
    pub name: String,
    /// When added.
    pub added_at: i64,
}

/// `POST /v1/trust`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrustAdd {
    /// Author to trust.
    pub node_id: NodeId,
    /// Name for people.
    #[serde(default)]
    pub name: String,
}

/// `POST /v1/trust/remove`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrustRemove {
    /// Author to stop trusting.
    pub node_id: NodeId,
}

/// `POST /v1/peers`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PeerAdd {
    /// `host:port`.
    pub addr: String,
    /// Node id expected there.
    pub node_id: Option<NodeId>,
}

/// `POST /v1/peers/remove`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PeerRemove {
    /// `host:port`.
    pub addr: String,
}

/// `GET /v1/peers` row.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PeerView {
    /// `outbound` or `inbound`.
    pub direction: String,
    /// Address.
    pub addr: String,
    /// Proved node id.
    pub node_id: Option<NodeId>,
    /// Trusted name.
    pub name: Option<String>,
    /// `connected`, `quiet` (connected, nothing heard for two heartbeats),
    /// `connecting` or `down` (waiting to retry).
    pub state: String,
    /// Last message heard.
    pub last_seen_ms: Option<i64>,
    /// Entries sent this session.
    pub entries_sent: u64,
    /// Entries received this session.
    pub entries_received: u64,
    /// Entries the peer lacks that this node holds.
    pub peer_behind: u64,
    /// Entries the peer holds that this node lacks (its last Want).
    #[serde(default)]
    pub missing: u64,
    /// Catch-up on this link while `missing` > 0.
    #[serde(default)]
    pub catch_up: Option<crate::progress::ProgressView>,
    /// Why the link last ended.
    pub last_error: Option<String>,
    /// Next attempt, when down.
    pub next_attempt_ms: Option<i64>,
}

/// `POST /v1/publish`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PublishRequest {
    /// Object to create or update; a new id is made when absent.
    pub object_id: Option<String>,
    /// When the entry goes stale.
    pub expires_at: Option<i64>,
    /// What to say.
    pub body: Body,
    /// Who reads the contact: `public`, or an audience of `[privacy]`;
    /// the node's `contact_audience` when absent.
    #[serde(default)]
    pub contact_audience: Option<String>,
    /// Who reads a readiness status's shelter location: `public` (the
    /// default) or an audience; the contact's, when both are restricted.
    #[serde(default)]
    pub shelter_audience: Option<String>,
}

/// Answer to a publish.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Published {
    /// Entry id.
    pub id: String,
    /// Seq in this node's log.
    pub seq: u64,
    /// Object id.
    pub object_id: String,
}

/// An entry as queries return it (the read model's type).
pub use yui_read::{EntryView, Page};

/// Error body of every non-2xx answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApiError {
    /// What went wrong and what to do.
    pub error: String,
}

/// One author's head, as bundles are cut: `{"author": "yui1…", "seq": 12}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HeadRef {
    /// Author.
    pub author: NodeId,
    /// Seq held.
    pub seq: u64,
}

/// `POST /v1/bundle/export`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BundleExport {
    /// Heads the receiver already holds; only what lies beyond is exported.
    #[serde(default)]
    pub since: Vec<HeadRef>,
}

/// What a bundle import did.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BundleImported {
    /// Node that wrote the bundle.
    pub exporter: Option<NodeId>,
    /// Entries in the file.
    pub entries: usize,
    /// Stored.
    pub accepted: usize,
    /// Already held.
    pub duplicates: usize,
    /// Refused (bad signature, untrusted author, invalid, …).
    pub refused: usize,
    /// Forks found.
    pub forks: usize,
    /// Authors whose entries could not be placed for a missing predecessor.
    pub gaps: usize,
    /// The first refusal, for the operator.
    pub first_refusal: Option<String>,
}

/// `GET /v1/trust/effective` row: every author this node stores, and why.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EffectiveTrust {
    /// Author.
    pub node_id: NodeId,
    /// Steps from a root: 0 = root (or this node), 1 = endorsed by a root, …
    pub depth: u32,
    /// Name (from trust or an endorsement).
    pub name: Option<String>,
}

/// `GET /v1/trust/effective`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EffectiveTrustView {
    /// Trusted authors.
    pub trusted: Vec<EffectiveTrust>,
    /// Revoked keys.
    pub revoked: Vec<NodeId>,
}

/// `POST /v1/backup`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BackupRequest {
    /// Absolute folder to write (new or empty); default `HOME/backups/<time>`.
    pub dir: Option<std::path::PathBuf>,
}
