//! Publishing held after a restore: the floor, peers' claims, release.

use super::*;

impl Replica {
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

    pub(super) fn check_hold(&self) -> Result<(), ReplicaError> {
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
}
