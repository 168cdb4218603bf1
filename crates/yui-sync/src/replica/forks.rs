//! Fork evidence from peers: checked, recorded, passed on.

use super::*;

impl Replica {
    /// Checks fork evidence from a peer — two entries, both validly signed by
    /// one trusted author, at one seq, with different ids — and records it.
    /// Returns true if it was new (and announces it for passing on).
    pub fn accept_fork_evidence(&self, a: SignedEntry, b: SignedEntry) -> Result<bool, Refusal> {
        let ea = self.precheck(&a, i64::MAX / 2)?;
        let eb = self.precheck(&b, i64::MAX / 2)?;
        // Two different entries at one seq, or an entry and the next one
        // whose prev names another entry (a second history below it).
        let at = if ea.author != eb.author || a.id() == b.id() {
            None
        } else if ea.seq == eb.seq {
            Some(ea.seq)
        } else if ea.seq.checked_add(1) == Some(eb.seq) && eb.prev != Some(a.id()) {
            Some(eb.seq)
        } else if eb.seq.checked_add(1) == Some(ea.seq) && ea.prev != Some(b.id()) {
            Some(ea.seq)
        } else {
            None
        };
        let Some(at) = at else {
            return Err(Refusal::Malformed(DecodeError(
                "fork evidence must be two different entries by one author at one seq, or an entry and a next one that does not follow it".into(),
            )));
        };
        for (e, s) in [(&ea, &a), (&eb, &b)] {
            s.verify(&e.author).map_err(|error| Refusal::Signature {
                author: e.author,
                error,
            })?;
        }
        // Put the entry this node holds first, when it holds one.
        let held = self
            .store
            .get(&ea.author, ea.seq)
            .ok()
            .flatten()
            .map(|s| s.id());
        let (first, second) = if ea.seq != eb.seq {
            // The earlier entry first.
            if ea.seq < eb.seq {
                (a, b)
            } else {
                (b, a)
            }
        } else if held == Some(b.id()) {
            (b, a)
        } else {
            (a, b)
        };
        let _w = self.write.lock(super::write_lock::Priority::Small);
        let new = self
            .store
            .record_fork(&ForkRecord {
                author: ea.author,
                seq: at,
                first,
                second,
            })
            .map_err(|e| Refusal::Malformed(DecodeError(e.to_string())))?;
        drop(_w);
        if new {
            tracing::warn!(author = %ea.author, seq = at, "fork evidence received from a peer");
            Counters::add(&self.counters.forks_detected, 1);
            let _ = self.events.send(ReplicaEvent::Fork {
                author: ea.author,
                seq: at,
            });
        }
        Ok(new)
    }
}
