//! yui-sync: the federation logic, independent of any transport.
//!
//! # Layout
//! - [`Replica`]: a node's view of the network: its store, its key, the
//!   trust policy. It publishes the node's own entries ([`Replica::publish`])
//!   and ingests entries from peers ([`Replica::ingest`]): decode, validate,
//!   trust, batch-verify, chain-check, store, announce.
//! - [`PeerSync`]: per-connection bookkeeping of what a peer has and wants,
//!   and the next batch to send it. Catch-up and live push are the same loop.
//! - [`trust`]: roots, endorsements and revocations → the trusted set.
//! - [`Codec`]: the wire encoding of entries, supplied by `yui-net`.
//!
//! **Architecture invariant**: nothing reaches the store before its signature,
//! its fields, its author's trust and its place in the author's chain were
//! checked; a node's own entry is durable before [`Replica::publish`] returns
//! and before any peer can be sent it.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod background;
mod metrics;
mod peer;
mod replica;
pub mod trust;

pub use metrics::{Counters, CountersSnapshot, Histogram, HistogramSnapshot};
pub use peer::{PeerSync, LAZY_GRACE_MS};
pub use replica::{
    bulk_turn, is_urgent, now_ms, CheckReport, Codec, DecodeError, IngestReport, PreparedBatch,
    PublishError, Refusal, Replica, ReplicaError, ReplicaEvent, SealWith, StoredEntry,
    MAX_RECOVERIES, SMALL_BATCH,
};
pub use trust::{TrustPolicy, TrustSet};

/// The tracing target of an urgent entry's timeline across nodes, at debug
/// level by entry id: a session queueing it on the urgent lane (`queued on
/// the lane`), the small write that stores it (`small write`: how long it
/// waited for the write lock and how long the write took) and the session
/// that read it (`stored`: how long its batch took to prepare and to
/// store). `yui bench propagation --processes` with `YUI_BENCH_TRACE` reads
/// these from every node for its slow updates.
pub const LANE_TRACE: &str = "yui::lane";
