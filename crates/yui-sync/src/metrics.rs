//! Counters a node reports in status and metrics.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

/// Running totals since start.
#[derive(Debug, Default)]
pub struct Counters {
    /// Entries stored from peers or bundles.
    pub accepted: AtomicU64,
    /// Own entries published.
    pub published: AtomicU64,
    /// Entries already held.
    pub duplicate: AtomicU64,
    /// Refused: author not trusted.
    pub refused_untrusted: AtomicU64,
    /// Refused: bad signature or key.
    pub refused_signature: AtomicU64,
    /// Refused: undecodable or invalid fields or too large.
    pub refused_invalid: AtomicU64,
    /// Refused: does not extend the author's chain.
    pub refused_chain: AtomicU64,
    /// Refused: author's log is stopped at a fork.
    pub refused_forked: AtomicU64,
    /// Forks detected.
    pub forks_detected: AtomicU64,
    /// Entries that arrived ahead of a gap.
    pub gaps: AtomicU64,
    /// Refused for now: the author published faster than
    /// `entries_per_author_per_minute` (re-requested later).
    pub refused_rate: AtomicU64,
    /// Messages over `max_message_bytes`.
    pub limit_message_bytes: AtomicU64,
    /// Batches over `max_batch_entries`.
    pub limit_batch_entries: AtomicU64,
    /// Sync streams refused: the peer already had `max_streams_per_peer`.
    pub limit_streams_per_peer: AtomicU64,
    /// Connections closed: their address already had
    /// `max_connections_per_address`.
    pub limit_connections_per_address: AtomicU64,
    /// Want messages naming more authors than this node could hold.
    pub limit_want_heads: AtomicU64,
    /// Handshakes refused: the proof did not verify (or no client certificate).
    pub handshake_bad_proof: AtomicU64,
    /// Handshakes refused: the peer is not trusted here.
    pub handshake_untrusted: AtomicU64,
    /// Handshakes that ran out of time.
    pub handshake_timeout: AtomicU64,
    /// Handshakes refused for malformed or out-of-order messages.
    pub handshake_protocol: AtomicU64,
    /// Bytes of Sync messages sent to peers.
    pub sync_bytes_sent: AtomicU64,
    /// Bytes of Sync messages received from peers.
    pub sync_bytes_received: AtomicU64,
    /// Want messages sent to peers (openings, replies, repairs).
    pub sync_wants_sent: AtomicU64,
    /// Entries sent on urgent lanes (protocol 4).
    pub sync_lane_entries_sent: AtomicU64,
    /// Heads announced to peers instead of their entries (lazy push,
    /// protocol 5).
    pub sync_heads_announced: AtomicU64,
    /// Authors asked for after a peer announced a head this node still
    /// lacked once the grace time had passed (grafts, protocol 5).
    pub sync_grafts: AtomicU64,
    /// Times a bulk batch being stored let a waiting small write (a
    /// readiness update, a publish) go first.
    pub bulk_yields: AtomicU64,
    /// Time to verify the signatures of a batch.
    pub verify_seconds: Histogram,
    /// Time to store a batch (chain check and the engine batch).
    pub store_seconds: Histogram,
}

/// Upper bounds (seconds) of the latency buckets.
pub const LATENCY_BUCKETS: [f64; 10] = [
    0.000_1, 0.000_5, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0,
];

/// A Prometheus-style histogram of durations: counts per bucket (not
/// cumulative), the count and the sum in microseconds.
#[derive(Debug, Default)]
pub struct Histogram {
    buckets: [AtomicU64; LATENCY_BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

/// A copy of a [`Histogram`]: cumulative bucket counts, as exposition wants.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize, PartialEq)]
pub struct HistogramSnapshot {
    /// `(le, cumulative count)`.
    pub buckets: Vec<(f64, u64)>,
    /// Observations.
    pub count: u64,
    /// Sum of observations, seconds.
    pub sum: f64,
}

impl Histogram {
    /// Records one duration.
    pub fn observe(&self, d: std::time::Duration) {
        let secs = d.as_secs_f64();
        if let Some(i) = LATENCY_BUCKETS.iter().position(|le| secs <= *le) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros
            .fetch_add(d.as_micros() as u64, Ordering::Relaxed);
    }

    /// Cumulative counts per bucket.
    pub fn snapshot(&self) -> HistogramSnapshot {
        let mut total = 0;
        let buckets = LATENCY_BUCKETS
            .iter()
            .zip(&self.buckets)
            .map(|(le, c)| {
                total += c.load(Ordering::Relaxed);
                (*le, total)
            })
            .collect();
        HistogramSnapshot {
            buckets,
            count: self.count.load(Ordering::Relaxed),
            sum: self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6,
        }
    }
}

/// A copy of [`Counters`] at one moment.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct CountersSnapshot {
    pub accepted: u64,
    pub published: u64,
    pub duplicate: u64,
    pub refused_untrusted: u64,
    pub refused_signature: u64,
    pub refused_invalid: u64,
    pub refused_chain: u64,
    pub refused_forked: u64,
    pub forks_detected: u64,
    pub gaps: u64,
    pub refused_rate: u64,
    pub limit_message_bytes: u64,
    pub limit_batch_entries: u64,
    pub limit_streams_per_peer: u64,
    pub limit_connections_per_address: u64,
    pub limit_want_heads: u64,
    pub handshake_bad_proof: u64,
    pub handshake_untrusted: u64,
    pub handshake_timeout: u64,
    pub handshake_protocol: u64,
    #[serde(default)]
    pub sync_bytes_sent: u64,
    #[serde(default)]
    pub sync_bytes_received: u64,
    #[serde(default)]
    pub sync_wants_sent: u64,
    #[serde(default)]
    pub sync_lane_entries_sent: u64,
    #[serde(default)]
    pub sync_heads_announced: u64,
    #[serde(default)]
    pub sync_grafts: u64,
    #[serde(default)]
    pub bulk_yields: u64,
}

impl CountersSnapshot {
    /// Every refusal, whatever the reason.
    pub fn refused(&self) -> u64 {
        self.refused_untrusted
            + self.refused_signature
            + self.refused_invalid
            + self.refused_chain
            + self.refused_forked
            + self.refused_rate
    }
}

impl Counters {
    /// Adds `n` to counter `c`.
    pub fn add(c: &AtomicU64, n: u64) {
        c.fetch_add(n, Ordering::Relaxed);
    }

    /// Reads every counter.
    pub fn snapshot(&self) -> CountersSnapshot {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        CountersSnapshot {
            accepted: g(&self.accepted),
            published: g(&self.published),
            duplicate: g(&self.duplicate),
            refused_untrusted: g(&self.refused_untrusted),
            refused_signature: g(&self.refused_signature),
            refused_invalid: g(&self.refused_invalid),
            refused_chain: g(&self.refused_chain),
            refused_forked: g(&self.refused_forked),
            forks_detected: g(&self.forks_detected),
            gaps: g(&self.gaps),
            refused_rate: g(&self.refused_rate),
            limit_message_bytes: g(&self.limit_message_bytes),
            limit_batch_entries: g(&self.limit_batch_entries),
            limit_streams_per_peer: g(&self.limit_streams_per_peer),
            limit_connections_per_address: g(&self.limit_connections_per_address),
            limit_want_heads: g(&self.limit_want_heads),
            handshake_bad_proof: g(&self.handshake_bad_proof),
            handshake_untrusted: g(&self.handshake_untrusted),
            handshake_timeout: g(&self.handshake_timeout),
            handshake_protocol: g(&self.handshake_protocol),
            sync_bytes_sent: g(&self.sync_bytes_sent),
            sync_bytes_received: g(&self.sync_bytes_received),
            sync_wants_sent: g(&self.sync_wants_sent),
            sync_lane_entries_sent: g(&self.sync_lane_entries_sent),
            sync_heads_announced: g(&self.sync_heads_announced),
            sync_grafts: g(&self.sync_grafts),
            bulk_yields: g(&self.bulk_yields),
        }
    }
}
