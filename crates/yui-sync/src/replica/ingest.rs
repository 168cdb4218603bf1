//! `Replica::ingest`: a batch from a peer or a bundle, checked before any
//! crypto, signature-checked, then deferred, declined or applied.

use super::*;

/// Longest wait before asking again for an entry from the future.
const MAX_DEFER_MS: i64 = 10 * 60 * 1000;

/// What the checks before the signature found.
enum Checked {
    /// Valid: store it once its signature verifies.
    Valid,
    /// From the future: ask again after this long.
    Later(Duration),
    /// Breaks a rule: decline the log from it once its signature verifies.
    Invalid(ValidationError),
}

/// A batch after [`Replica::prepare`]: verified entries waiting for the
/// store, and what was refused or deferred on the way.
struct Prepared {
    report: IngestReport,
    verified: Vec<(Entry, SignedEntry)>,
    later: HashMap<NodeId, Duration>,
    invalid: Vec<(NodeId, u64, ValidationError)>,
    rate_limited: bool,
    source: Option<ArrivalSource>,
    /// They came over a link to a relay (see [`ReplicaEvent::Head`]).
    via_relay: bool,
}

/// A batch from a peer after [`Replica::prepare_from`]: checked and
/// signature-verified, touching nothing stored, waiting for its turn at
/// the store ([`Replica::commit_prepared`]). A session prepares the
/// batches it reads side by side and commits them in the order it read
/// them.
pub struct PreparedBatch {
    /// The batch as it came, should trust change before the commit.
    batch: Vec<SignedEntry>,
    /// [`Replica::trust_generation`] when it was prepared.
    generation: u64,
    prepared: Prepared,
}

impl PreparedBatch {
    /// Per author, the highest seq among the entries whose signature
    /// verified: what the peer that sent them evidently holds.
    pub fn seen(&self) -> &[(NodeId, u64)] {
        &self.prepared.report.seen
    }
}

/// Batches up to this size never wait for a turn: single updates
/// (readiness, acknowledgements) and live pushes.
pub const SMALL_BATCH: usize = 64;

/// A turn for a large ingest batch: at most one per core is prepared at a
/// time in the whole process, each on one core (see
/// [`Replica::prepare_from`]). Bulk backfill from many peers thus cannot
/// crowd the CPU out from under a small urgent batch, which never waits
/// for a turn.
///
/// Only the first turn is always there. The others are taken only while
/// other processes leave cores to spare ([`crate::background::machine_busy`],
/// as `make -l` starts no new job on a loaded machine): on a machine whose
/// cores are all taken, a second verifying thread does not make the
/// machine verify faster, it only adds one more runnable thread that every
/// other process's live path waits behind (a hundred nodes on one small
/// host, each verifying on every core, kept the relays' readiness updates
/// waiting for a CPU for seconds).
pub async fn bulk_turn(len: usize) -> Option<tokio::sync::SemaphorePermit<'static>> {
    use std::sync::OnceLock;
    use tokio::sync::Semaphore;
    static FIRST: OnceLock<Semaphore> = OnceLock::new();
    static MORE: OnceLock<Semaphore> = OnceLock::new();
    if len <= SMALL_BATCH {
        return None;
    }
    let first = FIRST.get_or_init(|| Semaphore::new(1));
    let more = MORE.get_or_init(|| {
        Semaphore::new(
            std::thread::available_parallelism()
                .map_or(1, |n| n.get())
                .saturating_sub(1),
        )
    });
    if let Ok(turn) = first.try_acquire() {
        return Some(turn);
    }
    if more.available_permits() > 0 && !crate::background::machine_busy() {
        if let Ok(turn) = more.try_acquire() {
            return Some(turn);
        }
    }
    Some(first.acquire().await.expect("never closed"))
}

impl Replica {
    /// Offers entries from a peer or a bundle. Large batches take turns
    /// process-wide (see [`bulk_turn`]). Each is decoded, validated,
    /// trust-checked and signature-checked (as one batch) before the chain
    /// check and the store; refusals change nothing stored.
    pub async fn ingest(
        self: &Arc<Self>,
        batch: Vec<SignedEntry>,
    ) -> Result<IngestReport, ReplicaError> {
        self.ingest_off_reactor(batch, true, None, false).await
    }

    /// [`Replica::ingest`] of entries `peer` sent over a link: what is
    /// stored is noted as having come from it (`Store::arrival`), and the
    /// head events say whether that peer is a relay (`via_relay`).
    pub async fn ingest_from(
        self: &Arc<Self>,
        peer: NodeId,
        via_relay: bool,
        batch: Vec<SignedEntry>,
    ) -> Result<IngestReport, ReplicaError> {
        self.ingest_off_reactor(batch, true, Some(ArrivalSource::Peer(peer)), via_relay)
            .await
    }

    /// Offers entries the operator brought (an offline bundle): checked
    /// exactly as [`Replica::ingest`] checks them, but not held to the
    /// per-author rate limit, which is for what peers push.
    pub async fn import(
        self: &Arc<Self>,
        batch: Vec<SignedEntry>,
    ) -> Result<IngestReport, ReplicaError> {
        self.ingest_off_reactor(batch, false, Some(ArrivalSource::Import), false)
            .await
    }

    /// Prepares on the blocking pool, the signatures split across the
    /// cores (the caller waits for this one batch), then commits.
    async fn ingest_off_reactor(
        self: &Arc<Self>,
        batch: Vec<SignedEntry>,
        rate_limited: bool,
        source: Option<ArrivalSource>,
        via_relay: bool,
    ) -> Result<IngestReport, ReplicaError> {
        let prepared = self
            .prepare_off_reactor(batch, rate_limited, source, via_relay, self.verify_threads)
            .await;
        self.commit_prepared(prepared).await
    }

    /// The first half of [`Replica::ingest_from`], for a session reading
    /// ahead: decode, checks and batched signature verification, nothing
    /// stored. A large batch takes a turn ([`bulk_turn`]) and is verified
    /// on one thread of the background pool ([`crate::background`], a
    /// lower CPU priority), so the cores verify as many batches side by
    /// side (no core waits for another to finish its part of a batch)
    /// while the store takes the ones before; a small one is split across
    /// the cores at normal priority and never waits.
    pub async fn prepare_from(
        self: &Arc<Self>,
        peer: NodeId,
        via_relay: bool,
        batch: Vec<SignedEntry>,
    ) -> PreparedBatch {
        let source = Some(ArrivalSource::Peer(peer));
        if batch.len() <= SMALL_BATCH {
            return self
                .prepare_off_reactor(batch, true, source, via_relay, self.verify_threads)
                .await;
        }
        // Backfill: at background priority, so that under a short CPU the
        // live path of every node on the machine (readiness on the lane,
        // small ingests, relays forwarding them) goes first.
        let _turn = bulk_turn(batch.len()).await;
        let this = self.clone();
        crate::background::run(move || this.prepare_batch(batch, true, source, via_relay, 1)).await
    }

    fn prepare_batch(
        &self,
        batch: Vec<SignedEntry>,
        rate_limited: bool,
        source: Option<ArrivalSource>,
        via_relay: bool,
        threads: usize,
    ) -> PreparedBatch {
        let generation = self.trust_generation();
        let mut prepared = self.prepare(batch.clone(), rate_limited, source, threads);
        prepared.via_relay = via_relay;
        PreparedBatch {
            batch,
            generation,
            prepared,
        }
    }

    /// The second half of [`Replica::ingest_from`]: chain checks and the
    /// store, on the blocking pool. A batch prepared before trust changed
    /// (an endorsement or revocation stored meanwhile) is prepared again
    /// first, so committing prepared batches in order gives what ingesting
    /// them one by one would.
    pub async fn commit_prepared(
        self: &Arc<Self>,
        prepared: PreparedBatch,
    ) -> Result<IngestReport, ReplicaError> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.commit_batch(prepared))
            .await
            .expect("ingest task panicked")
    }

    /// [`Replica::commit_prepared`] for callers off the async reactor.
    fn commit_batch(&self, prepared: PreparedBatch) -> Result<IngestReport, ReplicaError> {
        let PreparedBatch {
            batch,
            generation,
            prepared,
        } = prepared;
        if self.trust_generation() == generation {
            return self.commit(prepared);
        }
        let again = self.prepare_batch(
            batch,
            prepared.rate_limited,
            prepared.source,
            prepared.via_relay,
            self.verify_threads,
        );
        self.commit(again.prepared)
    }

    async fn prepare_off_reactor(
        self: &Arc<Self>,
        batch: Vec<SignedEntry>,
        rate_limited: bool,
        source: Option<ArrivalSource>,
        via_relay: bool,
        threads: usize,
    ) -> PreparedBatch {
        let _turn = bulk_turn(batch.len()).await;
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            this.prepare_batch(batch, rate_limited, source, via_relay, threads)
        })
        .await
        .expect("ingest task panicked")
    }

    /// [`Replica::ingest`] for callers already off the async reactor.
    pub fn ingest_blocking(&self, batch: Vec<SignedEntry>) -> Result<IngestReport, ReplicaError> {
        self.ingest_inner(batch, true, None)
    }

    /// Ingests `batches` in order, each as [`Replica::ingest_blocking`]
    /// (or [`Replica::import`] when `import`), preparing (decode, checks,
    /// batched verification) later batches while the one before is stored:
    /// one preparing thread per core, each verifying whole batches on its
    /// own, hands its batches to the store in turn. No thread waits for
    /// another to finish a part of the same batch, so the cores stay busy
    /// while the store works (a batch split across the cores left them
    /// idle a quarter of the time, measured). `each` sees every batch's
    /// report in order. A batch prepared before a trust change it might
    /// depend on is prepared again, so the result is that of ingesting one
    /// by one.
    pub fn ingest_pipelined<I>(
        &self,
        batches: I,
        import: bool,
        mut each: impl FnMut(IngestReport),
    ) -> Result<(), ReplicaError>
    where
        I: IntoIterator<Item = Vec<SignedEntry>>,
        I::IntoIter: Send,
    {
        let (rate_limited, source) = if import {
            (false, Some(ArrivalSource::Import))
        } else {
            (true, None)
        };
        let batches = batches.into_iter();
        let workers = self.verify_threads.max(1);
        std::thread::scope(|scope| {
            // Batch i goes to worker i % workers and comes back on that
            // worker's channel, so the store takes them in order. Each
            // channel holds one or two batches: memory stays a few batches
            // whatever the input's length, and a worker rarely waits for
            // the store.
            let mut inputs = Vec::with_capacity(workers);
            let mut outputs = Vec::with_capacity(workers);
            for _ in 0..workers {
                let (in_tx, in_rx) = std::sync::mpsc::sync_channel::<Vec<SignedEntry>>(1);
                let (out_tx, out_rx) = std::sync::mpsc::sync_channel::<PreparedBatch>(2);
                scope.spawn(move || {
                    // Bulk work: see `prepare_from`.
                    crate::background::lower_this_thread();
                    for batch in in_rx {
                        let prepared = self.prepare_batch(batch, rate_limited, source, false, 1);
                        if out_tx.send(prepared).is_err() {
                            break;
                        }
                    }
                });
                inputs.push(in_tx);
                outputs.push(out_rx);
            }
            scope.spawn(move || {
                for (i, batch) in batches.enumerate() {
                    if inputs[i % workers].send(batch).is_err() {
                        break;
                    }
                }
            });
            // A worker's channel closes once the feeder ran out of batches
            // and the worker handed back its last one.
            for i in 0.. {
                let Ok(prepared) = outputs[i % workers].recv() else {
                    break;
                };
                each(self.commit_batch(prepared)?);
            }
            Ok(())
        })
    }

    fn ingest_inner(
        &self,
        batch: Vec<SignedEntry>,
        rate_limited: bool,
        source: Option<ArrivalSource>,
    ) -> Result<IngestReport, ReplicaError> {
        self.commit(self.prepare(batch, rate_limited, source, self.verify_threads))
    }

    /// Everything before the write lock: decode, checks, batched signature
    /// verification split across up to `threads` cores. Touches nothing
    /// stored.
    fn prepare(
        &self,
        batch: Vec<SignedEntry>,
        rate_limited: bool,
        source: Option<ArrivalSource>,
        threads: usize,
    ) -> Prepared {
        let mut report = IngestReport::default();
        let now = now_ms();
        let mut candidates = Vec::with_capacity(batch.len());
        let mut verifier = BatchVerifier::new();
        for signed in batch {
            match self.classify(&signed, now) {
                Ok((entry, verdict)) => {
                    verifier.push(
                        *entry.author.public_key(),
                        entry_signing_message(&signed.entry),
                        signed.signature,
                    );
                    candidates.push((entry, signed, verdict));
                }
                Err(r) => report.refused.push(r),
            }
        }
        let started = std::time::Instant::now();
        let verdicts = verifier.verify_parallel(threads);
        if !candidates.is_empty() {
            self.counters.verify_seconds.observe(started.elapsed());
        }
        let mut seen: HashMap<NodeId, u64> = HashMap::new();
        let mut verified = Vec::with_capacity(candidates.len());
        // Entries refused or deferred only once their signature verified:
        // a forger can neither decline nor delay an honest author's log.
        let mut later: HashMap<NodeId, Duration> = HashMap::new();
        let mut invalid: Vec<(NodeId, u64, ValidationError)> = Vec::new();
        for ((entry, signed, checked), verdict) in candidates.into_iter().zip(verdicts) {
            if let Err(error) = verdict {
                report.refused.push(Refusal::Signature {
                    author: entry.author,
                    error,
                });
                continue;
            }
            match checked {
                Checked::Valid => {
                    let s = seen.entry(entry.author).or_default();
                    *s = (*s).max(entry.seq);
                    verified.push((entry, signed));
                }
                Checked::Later(wait) => {
                    let w = later.entry(entry.author).or_insert(wait);
                    *w = (*w).min(wait);
                    report.refused.push(Refusal::NotYet {
                        author: entry.author,
                        wait,
                    });
                }
                Checked::Invalid(e) => {
                    invalid.push((entry.author, entry.seq, e.clone()));
                    report.refused.push(Refusal::Invalid(e));
                }
            }
        }
        report.seen = seen.into_iter().collect();
        // An author with an entry from the future waits whole: the rest of
        // its run in this batch is not taken (no gap, so no resend), and
        // the session asks again once the entry's time has come.
        let verified: Vec<(Entry, SignedEntry)> = verified
            .into_iter()
            .filter(|(e, _)| {
                let wait = later.contains_key(&e.author);
                if wait {
                    report.refused.push(Refusal::NotYet {
                        author: e.author,
                        wait: later[&e.author],
                    });
                }
                !wait
            })
            .collect();
        Prepared {
            report,
            verified,
            later,
            invalid,
            rate_limited,
            source,
            via_relay: false,
        }
    }

    /// Under the write lock: chain checks, the store batch, what follows
    /// (declined logs, events, trust).
    fn commit(&self, prepared: Prepared) -> Result<IngestReport, ReplicaError> {
        let Prepared {
            mut report,
            verified,
            later,
            invalid,
            rate_limited,
            source,
            via_relay,
        } = prepared;
        let started = std::time::Instant::now();
        let any = !verified.is_empty();
        let appended = self.apply_verified(verified, rate_limited, source, &mut report)?;
        for (author, wait) in later {
            let head = self.store.head(&author)?.map_or(0, |h| h.seq);
            report.retry_later.push((author, head, wait));
        }
        // A signed entry that breaks a rule at the author's next seq: this
        // node declines the author's log from there, and stops asking for
        // it (gaps past it are not re-requested), so a peer offering it
        // again and again costs one refusal per offer, never a loop.
        for (author, seq, reason) in invalid {
            let head = self.store.head(&author)?.map_or(0, |h| h.seq);
            if seq == head + 1 {
                let mut d = self.declined.lock().expect("declined");
                if d.get(&author).is_none_or(|(at, _)| seq < *at) {
                    tracing::warn!(author = %author, seq, %reason, "declining this author's log from this seq: a signed entry breaks a rule");
                    d.insert(author, (seq, reason.to_string()));
                }
            }
        }
        {
            // Gaps behind a declined seq are not asked for.
            let d = self.declined.lock().expect("declined");
            report
                .gaps
                .retain(|(a, head)| d.get(a).is_none_or(|(at, _)| *at != head + 1));
        }
        if any {
            self.counters.store_seconds.observe(started.elapsed());
        }
        for r in &report.refused {
            let c = &self.counters;
            Counters::add(
                match r {
                    Refusal::Malformed(_) | Refusal::Invalid(_) => &c.refused_invalid,
                    Refusal::Untrusted(_) => &c.refused_untrusted,
                    Refusal::Signature { .. } => &c.refused_signature,
                    Refusal::Forked { .. } | Refusal::Rotated { .. } => &c.refused_forked,
                    Refusal::Chain { .. } => &c.refused_chain,
                    Refusal::RateLimited { .. } => &c.refused_rate,
                    Refusal::NotYet { .. } => &c.refused_invalid,
                },
                1,
            );
        }
        Counters::add(&self.counters.accepted, report.accepted as u64);
        Counters::add(&self.counters.duplicate, report.duplicates as u64);
        Counters::add(&self.counters.forks_detected, report.forks as u64);
        Counters::add(&self.counters.gaps, report.gaps.len() as u64);
        for (author, seq, urgent) in appended {
            let _ = self.events.send(ReplicaEvent::Head {
                author,
                seq,
                urgent,
                via_relay,
            });
        }
        if report.trust_relevant {
            self.recompute_trust()?;
        }
        if report.accepted > 0 && self.held.load(Ordering::SeqCst) {
            self.check_hold()?;
        }
        for (author, seq) in &report.new_forks {
            let _ = self.events.send(ReplicaEvent::Fork {
                author: *author,
                seq: *seq,
            });
        }
        for (author, seq) in &report.recoveries {
            let _ = self.events.send(ReplicaEvent::Recovery {
                author: *author,
                seq: *seq,
            });
        }
        Ok(report)
    }

    /// The checks before the signature, for ingest: an entry from the
    /// future, or one that breaks a field rule, is still signature-checked
    /// (see `ingest_inner`) before it is deferred or declined.
    fn classify(&self, signed: &SignedEntry, now: UnixMillis) -> Result<(Entry, Checked), Refusal> {
        let entry = self.admit(signed)?;
        let checked = match validate_entry(&entry, signed.entry.len(), now, &self.limits) {
            Ok(()) => Checked::Valid,
            Err(ValidationError::FromTheFuture { ahead_ms, limit_ms }) => {
                let ms = (ahead_ms - limit_ms).clamp(1_000, MAX_DEFER_MS);
                Checked::Later(Duration::from_millis(ms as u64))
            }
            Err(v) => Checked::Invalid(v),
        };
        Ok((entry, checked))
    }

    /// Authors whose log this node declines from a seq (a signed entry that
    /// breaks a rule there), with the reason. Shown in status.
    pub fn declined(&self) -> Vec<(NodeId, u64, String)> {
        let mut v: Vec<_> = self
            .declined
            .lock()
            .expect("declined")
            .iter()
            .map(|(a, (s, r))| (*a, *s, r.clone()))
            .collect();
        v.sort();
        v
    }

    /// Every check before the signature; any failure is a refusal.
    pub(super) fn precheck(&self, signed: &SignedEntry, now: UnixMillis) -> Result<Entry, Refusal> {
        let entry = self.admit(signed)?;
        validate_entry(&entry, signed.entry.len(), now, &self.limits)?;
        Ok(entry)
    }

    /// Size, decode, trust, rotation: the cheap checks, before any walk
    /// over the fields (an untrusted author's entry costs a lookup).
    fn admit(&self, signed: &SignedEntry) -> Result<Entry, Refusal> {
        if signed.entry.len() > self.limits.max_entry_bytes {
            return Err(ValidationError::TooLarge {
                size: signed.entry.len(),
                limit: self.limits.max_entry_bytes,
            }
            .into());
        }
        let entry = self.codec.decode_entry(&signed.entry)?;
        if !self.is_trusted(&entry.author) {
            return Err(Refusal::Untrusted(entry.author));
        }
        if let Some(at) = self.rotated_at(&entry.author).filter(|at| entry.seq > *at) {
            return Err(Refusal::Rotated {
                author: entry.author,
                at,
            });
        }
        Ok(entry)
    }
}
