//! [`PeerSync`]: what one connected peer has and wants, and what to send it
//! next.
//!
//! One loop serves catch-up and live push: whenever an author's head moves
//! here (or the peer states its heads), the author is marked dirty, and
//! [`PeerSync::next_batch`] sends the peer everything beyond what it holds, in
//! seq order. Entries the peer sent us count as held by it, so nothing echoes
//! back; dedup by `(author, seq)` ends gossip loops.

use std::collections::{BTreeSet, HashMap};

use yui_core::{NodeId, SignedEntry};

use crate::replica::{Replica, ReplicaError};

/// Per-peer sync state. Owned by the connection's task.
#[derive(Debug, Default)]
pub struct PeerSync {
    /// Author → seq the peer holds, for authors it wants.
    wants: HashMap<NodeId, u64>,
    /// Authors that may have something to send.
    dirty: BTreeSet<NodeId>,
    /// Dirty authors with urgent new entries (readiness, acknowledgements):
    /// served before any other.
    urgent: BTreeSet<NodeId>,
}

impl PeerSync {
    /// A peer that has stated nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The peer stated its heads for authors it wants. A stated head replaces
    /// what we believed (it may have lost entries, or found a gap).
    pub fn on_want(&mut self, heads: impl IntoIterator<Item = (NodeId, u64)>) {
        for (author, seq) in heads {
            self.wants.insert(author, seq);
            self.dirty.insert(author);
        }
    }

    /// The peer showed it holds `author` up to `seq` (it sent it to us).
    pub fn on_peer_has(&mut self, author: NodeId, seq: u64) {
        if let Some(have) = self.wants.get_mut(&author) {
            *have = (*have).max(seq);
        }
    }

    /// `author`'s head moved here; `urgent` puts it in the priority lane.
    pub fn on_local_head(&mut self, author: NodeId, urgent: bool) {
        if self.wants.contains_key(&author) {
            self.dirty.insert(author);
            if urgent {
                self.urgent.insert(author);
            }
        }
    }

    /// Re-examine every wanted author (after a lagged event stream).
    pub fn mark_all_dirty(&mut self) {
        self.dirty.extend(self.wants.keys().copied());
    }

    /// Whether there may be something to send.
    pub fn has_work(&self) -> bool {
        !self.dirty.is_empty()
    }

    /// The seq of `author` the peer holds, as far as we know (None: it does
    /// not want that author).
    pub fn peer_has(&self, author: &NodeId) -> Option<u64> {
        self.wants.get(author).copied()
    }

    /// How far behind this node the peer is, summed over wanted authors.
    pub fn lag(&self, replica: &Replica) -> Result<u64, ReplicaError> {
        let mut lag = 0u64;
        for (author, have) in &self.wants {
            let local = replica.store().head(author)?.map_or(0, |h| h.seq);
            lag = lag.saturating_add(local.saturating_sub(*have));
        }
        Ok(lag)
    }

    /// Urgent authors' new entries for a lane of their own: at most
    /// `max_entries`, and only of authors the peer lacks no more than that
    /// many of (a longer run goes with the rest, in order, first in
    /// [`PeerSync::next_batch`]). Advances what we believe the peer holds.
    pub fn next_urgent(
        &mut self,
        replica: &Replica,
        max_entries: usize,
    ) -> Result<Vec<SignedEntry>, ReplicaError> {
        let mut out = Vec::new();
        let authors: Vec<NodeId> = self.urgent.iter().copied().collect();
        for author in authors {
            let have = self.wants.get(&author).copied().unwrap_or(0);
            let local = replica.store().head(&author)?.map_or(0, |h| h.seq);
            if local <= have {
                self.dirty.remove(&author);
                self.urgent.remove(&author);
                continue;
            }
            let n = usize::try_from(local - have).unwrap_or(usize::MAX);
            if n > max_entries - out.len() {
                continue;
            }
            let chunk = replica.store().range(&author, have + 1, n)?;
            if chunk.len() != n {
                // Not all below the head: left to next_batch, which says so.
                continue;
            }
            out.extend(chunk);
            self.wants.insert(author, local);
            self.dirty.remove(&author);
            self.urgent.remove(&author);
            if out.len() >= max_entries {
                break;
            }
        }
        Ok(out)
    }

    /// The next entries to send: up to `max_entries` entries and about
    /// `max_bytes` bytes, each author's in seq order. Advances what we believe
    /// the peer holds. Empty when the peer is up to date.
    pub fn next_batch(
        &mut self,
        replica: &Replica,
        max_entries: usize,
        max_bytes: usize,
    ) -> Result<Vec<SignedEntry>, ReplicaError> {
        let mut out = Vec::new();
        let mut bytes = 0usize;
        // The priority lane first, then everything else in order.
        while let Some(author) = self.urgent.first().or(self.dirty.first()).copied() {
            let have = self.wants.get(&author).copied().unwrap_or(0);
            let local = replica.store().head(&author)?.map_or(0, |h| h.seq);
            if local <= have {
                self.dirty.remove(&author);
                self.urgent.remove(&author);
                continue;
            }
            let room = max_entries - out.len();
            let chunk =
                replica
                    .store()
                    .range(&author, have + 1, room.min((local - have) as usize))?;
            if chunk.is_empty() {
                // Cannot happen in a store without holes; never spin on it.
                tracing::error!(author = %author, have, local, "store has no entry below its head");
                self.dirty.remove(&author);
                self.urgent.remove(&author);
                continue;
            }
            let mut sent = have;
            for e in chunk {
                if !out.is_empty() && bytes + e.entry.len() > max_bytes {
                    break;
                }
                bytes += e.entry.len() + 64;
                sent += 1;
                out.push(e);
            }
            self.wants.insert(author, sent);
            if sent >= local {
                self.dirty.remove(&author);
                self.urgent.remove(&author);
            }
            if out.len() >= max_entries || bytes >= max_bytes || sent < local {
                break;
            }
        }
        Ok(out)
    }
}
