//! Applying verified entries under the write lock: chain check, forks, rate
//! limit, recoveries, and trust changes taking effect at their entry.

use super::write_lock::{APPEND_SLICE, YIELD_EVERY};
use super::*;

/// Entries created longer ago than this are backfill (a peer catching up
/// after days offline), not a burst of new publications, and are not rate
/// limited.
const FRESH_WINDOW_MS: i64 = 60 * 60 * 1000;

/// The per-author budget of new entries from peers: governor's keyed
/// token bucket, refilling at `per_minute / 60` a second, holding at most a
/// minute's worth.
pub(super) type AuthorRate = governor::DefaultKeyedRateLimiter<NodeId>;

/// The budget for `per_minute` new entries per author (none for 0).
pub(super) fn author_rate(per_minute: u32) -> Option<AuthorRate> {
    std::num::NonZeroU32::new(per_minute)
        .map(|n| governor::RateLimiter::keyed(governor::Quota::per_minute(n)))
}

/// Recovery statements kept per forked author before only vouched-for ones
/// are (see `Replica::keep_recovery`).
pub const MAX_RECOVERIES: usize = 8;

/// Why a segment of a batch ended before the batch did.
enum Cut {
    /// At an entry that may take trust away.
    Trust,
    /// A small write waits for the lock (bulk batches only).
    Yield,
    /// A bulk segment reached [`APPEND_SLICE`] entries: they are stored
    /// before more are checked, so a small write that comes while they are
    /// written waits for one slice, not for the whole batch.
    Slice,
}

/// What one `apply_verified` call carries from segment to segment.
struct Batch {
    /// Head per author as of what this batch appended so far.
    heads: HashMap<NodeId, Option<Head>>,
    /// Lowest forked seq per author, including forks found in this batch.
    forked: HashMap<NodeId, Option<u64>>,
    per_minute: u32,
    fresh_after: UnixMillis,
}

impl Replica {
    /// Chain-checks and stores verified entries under the write lock.
    /// Returns the new head per author that moved.
    ///
    /// A trust change takes effect at the entry that makes it: the batch is
    /// stored in segments that each end after an entry that may take trust
    /// away (a revocation, a rotation, a retraction of an endorsement); trust
    /// is then recomputed and the rest of the batch is checked against the
    /// new set. Endorsement-heavy logs (a relay's) stay one segment.
    /// A revocation followed by entries of the revoked key in one batch
    /// stores the revocation and refuses the rest.
    pub(super) fn apply_verified(
        &self,
        verified: Vec<(Entry, SignedEntry)>,
        rate_limited: bool,
        source: Option<ArrivalSource>,
        report: &mut IngestReport,
    ) -> Result<Vec<(NodeId, u64, bool)>, ReplicaError> {
        let priority = if verified.len() <= super::SMALL_BATCH {
            super::write_lock::Priority::Small
        } else {
            super::write_lock::Priority::Bulk
        };
        let bulk = priority == super::write_lock::Priority::Bulk;
        let t0 = std::time::Instant::now();
        let mut guard = self.write.lock(priority);
        let locked = t0.elapsed();
        let traced = !bulk && tracing::enabled!(target: crate::LANE_TRACE, tracing::Level::DEBUG);
        let mut stored_ids = Vec::new();
        let mut batch = Batch {
            heads: HashMap::new(),
            forked: HashMap::new(),
            per_minute: if rate_limited {
                self.limits.entries_per_author_per_minute
            } else {
                0
            },
            fresh_after: now_ms() - FRESH_WINDOW_MS,
        };
        let mut moved: HashMap<NodeId, (u64, bool)> = HashMap::new();
        let mut rest: std::collections::VecDeque<(Entry, SignedEntry)> = verified.into();
        let mut first = true;
        while !rest.is_empty() {
            let (kept, cut) = self.apply_segment(&mut rest, &mut batch, !first, bulk, report)?;
            first = false;
            for e in &kept {
                let m = moved.entry(e.author).or_insert((0, false));
                *m = (e.seq, m.1 || is_urgent(e.kind));
            }
            report.accepted += kept.len();
            report.trust_relevant |= kept.iter().any(|e| affects_trust(e.kind));
            let arrivals = match source {
                Some(source) => arrivals_of(&kept, source, now_ms()),
                None => Vec::new(),
            };
            self.store.append_arrived(&kept, &arrivals)?;
            if traced {
                stored_ids.extend(kept.iter().map(|e| e.id));
            }
            if rest.is_empty() {
                break;
            }
            match cut {
                // The segment ended at an entry that may take trust away:
                // the rest of the batch is checked against the set after
                // it. (New trust needs no cut: entries of a newly endorsed
                // author were refused before the batch was applied and are
                // asked for again once trust changed.)
                Cut::Trust => {
                    self.recompute_trust()?;
                }
                // A small write waits: it goes now, the rest of this batch
                // after it, checked against what it stored (heads, forks,
                // trust: later segments recheck trust).
                // A slice stored: the lock goes to a small write if one
                // waits, as above; otherwise the batch goes on.
                Cut::Slice if !self.write.small_waiting() => {}
                Cut::Yield | Cut::Slice => {
                    drop(guard);
                    Counters::add(&self.counters.bulk_yields, 1);
                    guard = self.write.lock(priority);
                    batch.heads.clear();
                    batch.forked.clear();
                }
            }
        }
        drop(guard);
        if traced {
            for id in &stored_ids {
                tracing::debug!(
                    target: crate::LANE_TRACE,
                    id = %id.to_hex(),
                    lock_ms = locked.as_secs_f64() * 1e3,
                    write_ms = (t0.elapsed() - locked).as_secs_f64() * 1e3,
                    "small write"
                );
            }
        }
        Ok(moved
            .into_iter()
            .map(|(a, (seq, urgent))| (a, seq, urgent))
            .collect())
    }

    /// Takes entries from the front of `rest` up to and including the first
    /// one to append that may change trust, or (`bulk`) up to a multiple of
    /// [`YIELD_EVERY`] entries looked at when a small write waits for the
    /// lock, or (`bulk`) [`APPEND_SLICE`] entries to append; returns those
    /// to append and why it stopped. `recheck`: trust may have changed since
    /// the precheck.
    fn apply_segment(
        &self,
        rest: &mut std::collections::VecDeque<(Entry, SignedEntry)>,
        b: &mut Batch,
        recheck: bool,
        bulk: bool,
        report: &mut IngestReport,
    ) -> Result<(Vec<IndexedEntry>, Cut), ReplicaError> {
        let mut cut = Cut::Trust;
        let mut to_append: Vec<IndexedEntry> = Vec::new();
        // (author, seq) → index in `to_append`: entries of this segment are
        // not in the store yet, and a second entry at one of their seqs is
        // a fork all the same.
        let mut pending: HashMap<(NodeId, u64), usize> = HashMap::new();
        // Every entry looked at counts, duplicates too: checking a batch a
        // relay already holds reads the store for each entry.
        let mut examined = 0usize;
        while !rest.is_empty() {
            if bulk
                && examined > 0
                && examined.is_multiple_of(YIELD_EVERY)
                && self.write.small_waiting()
            {
                cut = Cut::Yield;
                break;
            }
            let Some((entry, signed)) = rest.pop_front() else {
                break;
            };
            examined += 1;
            let author = entry.author;
            if report.retry_later.iter().any(|(a, _, _)| *a == author) {
                // The rest of this author's run waits with the first refused.
                report.refused.push(Refusal::RateLimited {
                    author,
                    per_minute: b.per_minute,
                });
                continue;
            }
            if recheck {
                if !self.is_trusted(&author) {
                    report.refused.push(Refusal::Untrusted(author));
                    continue;
                }
                if let Some(at) = self.rotated_at(&author).filter(|at| entry.seq > *at) {
                    report.refused.push(Refusal::Rotated { author, at });
                    continue;
                }
            }
            let fork_at = match b.forked.get(&author) {
                Some(f) => *f,
                None => *b
                    .forked
                    .entry(author)
                    .or_insert(self.store.forked_at(&author)?),
            };
            if let Some(at) = fork_at.filter(|at| entry.seq >= *at) {
                // The one statement a forked author can still make: a
                // countersigned rotation to a new key (validated already).
                // It is kept outside the stopped log and passed on.
                if matches!(entry.body, Body::KeyRotation(_)) {
                    self.keep_recovery(&entry, &signed, report)?;
                } else {
                    report.refused.push(Refusal::Forked { author, at });
                }
                continue;
            }
            let head = match b.heads.get(&author) {
                Some(h) => *h,
                None => *b.heads.entry(author).or_insert(self.store.head(&author)?),
            };
            let id = signed.id();
            let held_at = |seq: u64| -> Result<Option<SignedEntry>, ReplicaError> {
                Ok(match pending.get(&(author, seq)) {
                    Some(i) => Some(to_append[*i].signed.clone()),
                    None => self.store.get(&author, seq)?,
                })
            };
            let stored_at = if entry.seq <= head.map_or(0, |h| h.seq) {
                held_at(entry.seq)?.map(|s| s.id())
            } else {
                None
            };
            match check_chain(head, &entry, id, stored_at) {
                ChainCheck::Append => {
                    // Checked after the signature, so forged entries cannot
                    // spend an honest author's budget.
                    if let (true, Some(limiter)) = (
                        b.per_minute > 0 && entry.created_at > b.fresh_after,
                        &self.rate,
                    ) {
                        if let Err(not_until) = limiter.check_key(&author) {
                            use governor::clock::Clock;
                            let wait = not_until
                                .wait_time_from(governor::clock::DefaultClock::default().now());
                            let have = head.map_or(0, |h| h.seq);
                            report.retry_later.push((author, have, wait));
                            report.refused.push(Refusal::RateLimited {
                                author,
                                per_minute: b.per_minute,
                            });
                            continue;
                        }
                    }
                    b.heads.insert(author, Some(Head { seq: entry.seq, id }));
                    pending.insert((author, entry.seq), to_append.len());
                    let kind = entry.kind();
                    let ends_segment = self.removes_trust(&entry, &to_append)?;
                    to_append.push(IndexedEntry {
                        id,
                        author,
                        seq: entry.seq,
                        prev: entry.prev,
                        kind,
                        object_id: entry.object_id,
                        created_at: entry.created_at,
                        signed,
                    });
                    if ends_segment {
                        break;
                    }
                    if bulk && to_append.len() >= APPEND_SLICE {
                        cut = Cut::Slice;
                        break;
                    }
                }
                ChainCheck::Duplicate => report.duplicates += 1,
                ChainCheck::Gap { head } => {
                    let declined = self
                        .declined
                        .lock()
                        .expect("declined")
                        .get(&author)
                        .is_some_and(|(at, _)| *at == head + 1);
                    if !declined && !report.gaps.iter().any(|(a, _)| *a == author) {
                        report.gaps.push((author, head));
                    }
                }
                ChainCheck::Fork { .. } => {
                    tracing::warn!(author = %author, seq = entry.seq, "fork detected: author signed two entries at one seq");
                    let first = held_at(entry.seq)?.ok_or_else(|| {
                        ReplicaError::Damaged(format!("{author} seq {} vanished", entry.seq))
                    })?;
                    self.note_fork(author, entry.seq, first, signed, b, report)?;
                }
                ChainCheck::PrevMismatch => {
                    // seq == head + 1 but prev names another entry than the
                    // head: the author signed a second history below this
                    // seq. Both entries are signed, so the pair is evidence
                    // and the log stops here, as for a fork at one seq.
                    let Some(h) = head else {
                        report.refused.push(Refusal::Chain {
                            author,
                            seq: entry.seq,
                        });
                        continue;
                    };
                    tracing::warn!(author = %author, seq = entry.seq, "fork detected: entry does not follow the author's previous entry");
                    let first = held_at(h.seq)?.ok_or_else(|| {
                        ReplicaError::Damaged(format!("{author} seq {} vanished", h.seq))
                    })?;
                    self.note_fork(author, entry.seq, first, signed, b, report)?;
                }
            }
        }
        // Entries at or past a fork found later in this segment are not
        // appended. Each author's appended entries were a contiguous run from
        // its head (Append needs seq == running head + 1), so cutting at the
        // fork leaves a contiguous prefix; `Store::append` re-checks the chain.
        let kept: Vec<IndexedEntry> = to_append
            .into_iter()
            .filter(|e| {
                b.forked
                    .get(&e.author)
                    .copied()
                    .flatten()
                    .is_none_or(|at| e.seq < at)
            })
            .collect();
        // Heads of authors cut at a fork go back to what is stored.
        for e in &kept {
            b.heads.insert(
                e.author,
                Some(Head {
                    seq: e.seq,
                    id: e.id,
                }),
            );
        }
        for (author, at) in b.forked.iter() {
            if let Some(at) = at {
                if b.heads
                    .get(author)
                    .copied()
                    .flatten()
                    .is_some_and(|h| h.seq >= *at)
                {
                    b.heads.remove(author);
                }
            }
        }
        Ok((kept, cut))
    }

    /// Whether `entry` may take trust away, so that the rest of its batch
    /// must be checked against the set after it: a revocation, a rotation
    /// (it closes the old log), or a retraction of an endorsement (held, or
    /// earlier in this segment, `pending`).
    fn removes_trust(&self, entry: &Entry, pending: &[IndexedEntry]) -> Result<bool, ReplicaError> {
        Ok(match entry.kind() {
            Kind::Revocation | Kind::KeyRotation => true,
            Kind::Retraction => {
                let in_segment = pending
                    .iter()
                    .rev()
                    .find(|e| e.author == entry.author && e.object_id == entry.object_id)
                    .map(|e| e.kind);
                let kind = match in_segment {
                    Some(k) => Some(k),
                    None => match self.store.history(&entry.author, &entry.object_id)?.last() {
                        Some(seq) => self.read(&entry.author, *seq)?.map(|e| e.entry.kind()),
                        None => None,
                    },
                };
                kind == Some(Kind::Endorsement)
            }
            _ => false,
        })
    }

    /// Records fork evidence found while ingesting and stops the author's
    /// log at `at` for the rest of the batch.
    fn note_fork(
        &self,
        author: NodeId,
        at: u64,
        first: SignedEntry,
        second: SignedEntry,
        b: &mut Batch,
        report: &mut IngestReport,
    ) -> Result<(), ReplicaError> {
        if self.store.record_fork(&ForkRecord {
            author,
            seq: at,
            first,
            second,
        })? {
            report.new_forks.push((author, at));
        }
        let lowest = b
            .forked
            .get(&author)
            .copied()
            .flatten()
            .map_or(at, |f| f.min(at));
        b.forked.insert(author, Some(lowest));
        report.forks += 1;
        Ok(())
    }

    /// Keeps a forked author's recovery statement, bounded per author: past
    /// [`MAX_RECOVERIES`] an author's statement is kept only when its new
    /// key is already vouched for (endorsed by a grantor of the old key, or
    /// a root here), so a thief signing statement after statement cannot
    /// crowd out the owner's.
    fn keep_recovery(
        &self,
        entry: &Entry,
        signed: &SignedEntry,
        report: &mut IngestReport,
    ) -> Result<(), ReplicaError> {
        let author = entry.author;
        let Body::KeyRotation(k) = &entry.body else {
            return Ok(());
        };
        let held = self
            .store
            .recoveries()?
            .iter()
            .filter(|(a, _, _)| *a == author)
            .count();
        if held >= MAX_RECOVERIES {
            let vouched = self.roots.read().expect("trust lock").contains(&k.new_key)
                || self.current(Kind::Endorsement)?.iter().any(|e| {
                    matches!(&e.entry.body, Body::Endorsement(b) if b.subject == k.new_key)
                        && self.trust_granted(&e.entry.author, &author)
                });
            if !vouched {
                report.refused.push(Refusal::Forked {
                    author,
                    at: entry.seq,
                });
                return Ok(());
            }
        }
        if self.store.record_recovery(&author, entry.seq, signed)? {
            tracing::warn!(author = %author, seq = entry.seq, "forked author signed a recovery (a key rotation)");
            report.recoveries.push((author, entry.seq));
            report.trust_relevant = true;
        } else {
            report.duplicates += 1;
        }
        Ok(())
    }
}

/// The runs of `kept` (entries appended together, each author's in seq
/// order) as arrivals from `source` at `at`.
fn arrivals_of(kept: &[IndexedEntry], source: ArrivalSource, at: i64) -> Vec<Arrival> {
    let mut runs: Vec<Arrival> = Vec::new();
    let mut index: HashMap<NodeId, usize> = HashMap::new();
    for e in kept {
        match index.get(&e.author) {
            Some(i) => runs[*i].last_seq = runs[*i].last_seq.max(e.seq),
            None => {
                index.insert(e.author, runs.len());
                runs.push(Arrival {
                    author: e.author,
                    first_seq: e.seq,
                    last_seq: e.seq,
                    at,
                    source,
                });
            }
        }
    }
    runs
}
