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
}

impl CountersSnapshot {
    /// Every refusal, whatever the reason.
    pub fn refused(&self) -> u64 {
        self.refused_untrusted
            + self.refused_signature
            + self.refused_invalid
            + self.refused_chain
            + self.refused_forked
    }
}

impl Counters {
    pub(crate) fn add(c: &AtomicU64, n: u64) {
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
        }
    }
}
