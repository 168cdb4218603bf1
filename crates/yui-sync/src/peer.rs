//! [`PeerSync`]: what one connected peer has and wants, and what to send it
//! next.
//!
//! One loop serves catch-up and live push: whenever an author's head moves
//! here (or the peer states its heads), the author is marked dirty, and
//! [`PeerSync::next_batch`] sends the peer everything beyond what it holds, in
//! seq order. Entries the peer sent us count as held by it, so nothing echoes
//! back; dedup by `(author, seq)` ends gossip loops.
//!
//! Lazy push (protocol 5): a head move can instead be *announced*
//! ([`PeerSync::announce_head`], sent as a `Have` by
//! [`PeerSync::next_announce`]): the peer learns the head, not the bodies.
//! A peer that hears of a head it lacks waits [`LAZY_GRACE_MS`] for the
//! bodies to come another way, then asks for them with a Want
//! ([`PeerSync::on_have`], [`PeerSync::due_grafts`]); an author asked for
//! after an announcement is pushed eagerly on that link from then on, as
//! Plumtree's graft does.

use std::collections::{BTreeSet, HashMap, HashSet};

use yui_core::{NodeId, SignedEntry};

use crate::replica::{Replica, ReplicaError};

/// How long a node waits, after a peer announced a head it lacks, for the
/// entries to arrive eagerly from elsewhere before it asks that peer for
/// them: longer than one relay hop plus a lost packet's retransmission on
/// a regional link, short beside the one second readiness may take.
pub const LAZY_GRACE_MS: u64 = 250;

/// Announced heads a session waits on at most; past this, a new one is
/// asked for at once (the eager path it would have waited for costs a
/// duplicate, never a loss).
const MAX_OFFERED: usize = 4096;

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
    /// Authors whose new head is to be announced (lazy push).
    announce: BTreeSet<NodeId>,
    /// Authors announced to the peer; one it then asks for is pushed
    /// eagerly from then on (`eager`).
    announced: HashSet<NodeId>,
    /// Authors the peer asked for after an announcement.
    eager: HashSet<NodeId>,
    /// Heads the peer announced that this node lacks: author → (seq, when
    /// to ask for it, in the caller's milliseconds).
    offered: HashMap<NodeId, (u64, u64)>,
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
            if self.announced.contains(&author) {
                // A graft: the announcement was not followed by the
                // entries from elsewhere.
                self.eager.insert(author);
            }
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
            self.announce.remove(&author);
            if urgent {
                self.urgent.insert(author);
            }
        }
    }

    /// `author`'s head moved here and the peer is expected to get the
    /// entries another way (lazy push): announce the head only, unless the
    /// peer asked for this author after an earlier announcement, or its
    /// entries are on their way already.
    pub fn announce_head(&mut self, author: NodeId, urgent: bool) {
        if self.eager.contains(&author) {
            self.on_local_head(author, urgent);
        } else if self.wants.contains_key(&author) && !self.dirty.contains(&author) {
            self.announce.insert(author);
        }
    }

    /// Heads to announce (a `Have`): at most `max`, each beyond what the
    /// peer is believed to hold.
    pub fn next_announce(
        &mut self,
        replica: &Replica,
        max: usize,
    ) -> Result<Vec<(NodeId, u64)>, ReplicaError> {
        let mut out = Vec::new();
        while out.len() < max {
            let Some(author) = self.announce.pop_first() else {
                break;
            };
            let have = self.wants.get(&author).copied().unwrap_or(0);
            let local = replica.store().head(&author)?.map_or(0, |h| h.seq);
            if local > have {
                self.announced.insert(author);
                out.push((author, local));
            }
        }
        Ok(out)
    }

    /// Whether heads wait to be announced.
    pub fn has_announcements(&self) -> bool {
        !self.announce.is_empty()
    }

    /// The peer announced it holds `author` up to `seq` (a `Have`); this
    /// node holds it up to `local`. Nothing is sent to the peer that it
    /// holds. A head this node lacks is asked for [`LAZY_GRACE_MS`] after
    /// `now_ms` unless it arrives meanwhile ([`PeerSync::due_grafts`]);
    /// returned here when it must be asked for at once (too many waiting).
    pub fn on_have(
        &mut self,
        author: NodeId,
        seq: u64,
        local: u64,
        now_ms: u64,
    ) -> Option<(NodeId, u64)> {
        self.on_peer_has(author, seq);
        if local >= seq {
            return None;
        }
        if let Some((s, _)) = self.offered.get_mut(&author) {
            *s = (*s).max(seq);
            return None;
        }
        if self.offered.len() >= MAX_OFFERED {
            return Some((author, local));
        }
        self.offered
            .insert(author, (seq, now_ms.saturating_add(LAZY_GRACE_MS)));
        None
    }

    /// The Wants to send now for announced heads whose grace has passed
    /// and that this node still lacks: `(author, head held here)`.
    pub fn due_grafts(
        &mut self,
        replica: &Replica,
        now_ms: u64,
    ) -> Result<Vec<(NodeId, u64)>, ReplicaError> {
        let due: Vec<(NodeId, u64)> = self
            .offered
            .iter()
            .filter(|(_, (_, at))| *at <= now_ms)
            .map(|(a, (seq, _))| (*a, *seq))
            .collect();
        let mut out = Vec::new();
        for (author, seq) in due {
            self.offered.remove(&author);
            let local = replica.store().head(&author)?.map_or(0, |h| h.seq);
            if local < seq {
                out.push((author, local));
            }
        }
        Ok(out)
    }

    /// When the next announced head is due to be asked for, if any waits.
    pub fn next_graft_at(&self) -> Option<u64> {
        self.offered.values().map(|(_, at)| *at).min()
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

    /// What the peer holds of `author` and what this node holds, when the
    /// peer is behind; otherwise `None`, and the author is no longer dirty.
    fn behind(
        &mut self,
        replica: &Replica,
        author: NodeId,
    ) -> Result<Option<(u64, u64)>, ReplicaError> {
        let have = self.wants.get(&author).copied().unwrap_or(0);
        let local = replica.store().head(&author)?.map_or(0, |h| h.seq);
        if local > have {
            return Ok(Some((have, local)));
        }
        self.dirty.remove(&author);
        self.urgent.remove(&author);
        Ok(None)
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
            let Some((have, local)) = self.behind(replica, author)? else {
                continue;
            };
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
            let Some((have, local)) = self.behind(replica, author)? else {
                continue;
            };
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
