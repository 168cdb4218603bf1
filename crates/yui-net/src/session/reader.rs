//! The reader half of a session: reads the peer's Sync stream, ingests its
//! Entries messages side by side (each author's batches stored in order),
//! and hands Wants and Haves to the writer.

use super::*;

/// One Entries message being ingested, with its id.
type IngestFuture<'a> = std::pin::Pin<
    Box<dyn std::future::Future<Output = (u64, Result<(), SessionError>)> + Send + 'a>,
>;

/// An Entries message read and waiting: id, its authors, the message.
type Queued = (u64, Option<HashSet<[u8; 32]>>, pb::Entries);

/// An Entries message being ingested: its authors, and whether it is
/// stored yet.
type RunningBatch = (
    Option<HashSet<[u8; 32]>>,
    tokio::sync::watch::Receiver<bool>,
);

/// Where a running batch stands among the others of its session: the ones
/// before it sharing an author (stored or not yet), and its own signal.
pub(super) struct StoreOrder {
    after: Vec<tokio::sync::watch::Receiver<bool>>,
    done: tokio::sync::watch::Sender<bool>,
}

/// Large Entries messages ingested at once per session: two verified side
/// by side while the store takes a third.
const MAX_RUNNING: usize = 3;
/// Small Entries messages (single updates) ingested at once per session,
/// beside the bulk ones: they never wait behind a bulk batch, but a peer
/// sending thousands of them holds at most this many ingests here.
const MAX_RUNNING_SMALL: usize = 4;
/// Entries messages read ahead and waiting per session.
const MAX_QUEUED: usize = 2;

/// `Entry` with only its author field: decoding it reads every field of the
/// bytes and keeps field 1 as the full decode does (the last occurrence
/// wins), so the author found here is the author ingest will see.
#[derive(Clone, PartialEq, prost::Message)]
struct AuthorOnly {
    #[prost(bytes = "vec", tag = "1")]
    author: Vec<u8>,
}

/// The authors of a batch, for scheduling only (`None`: some entry does not
/// decode to a 32-byte author, so the batch is treated as touching every
/// author). Bounded by the batch, which is bounded by `max_batch_entries`.
fn authors_of(e: &pb::Entries) -> Option<HashSet<[u8; 32]>> {
    e.entries
        .iter()
        .map(|s| {
            <AuthorOnly as prost::Message>::decode(s.entry.as_slice())
                .ok()
                .and_then(|a| a.author.try_into().ok())
        })
        .collect()
}

fn overlaps(a: &Option<HashSet<[u8; 32]>>, b: &Option<HashSet<[u8; 32]>>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => !a.is_disjoint(b),
        _ => true,
    }
}

impl Ctx<'_> {
    pub(super) async fn reader<S>(
        &self,
        mut inbound: S,
        control: mpsc::Sender<pb::SyncMessage>,
    ) -> Result<(), SessionError>
    where
        S: Stream<Item = Result<pb::SyncMessage, Status>> + Unpin,
    {
        use pb::sync_message::Kind;
        // Entries messages are ingested up to MAX_RUNNING at a time: each
        // is prepared (checks, signatures) at once, and stored once every
        // running batch before it that shares an author is stored. Batches
        // of a backfill (one author's run split across two) are thus
        // verified side by side on the cores while the store takes the one
        // before, and a readiness update overtakes a bulk batch still being
        // verified; per author the order is kept.
        let mut running: FuturesUnordered<IngestFuture<'_>> = FuturesUnordered::new();
        let mut running_sets: HashMap<u64, RunningBatch> = HashMap::new();
        let mut queued: std::collections::VecDeque<Queued> = std::collections::VecDeque::new();
        let mut next_id = 0u64;
        let mut running_small_ids: HashSet<u64> = HashSet::new();
        let control = &control;
        loop {
            // Start what may start: no author shared with a running batch or
            // with an earlier one still waiting.
            let mut i = 0;
            while i < queued.len() {
                // Small batches (single updates) do not count against
                // MAX_RUNNING: they must not wait for bulk ones.
                let small = queued[i].2.entries.len() <= yui_sync::SMALL_BATCH;
                let running_small = running_small_ids.len();
                let running_bulk = running.len() - running_small;
                if (!small && running_bulk >= MAX_RUNNING)
                    || (small && running_small >= MAX_RUNNING_SMALL)
                {
                    i += 1;
                    continue;
                }
                // An earlier batch still waiting keeps its place before a
                // later one sharing an author.
                let blocked = queued
                    .iter()
                    .take(i)
                    .any(|(_, earlier, _)| overlaps(earlier, &queued[i].1));
                if blocked {
                    i += 1;
                    continue;
                }
                let (id, set, e) = queued.remove(i).expect("index in range");
                let after: Vec<_> = running_sets
                    .values()
                    .filter(|(s, _)| overlaps(s, &set))
                    .map(|(_, stored)| stored.clone())
                    .collect();
                let (done, stored) = tokio::sync::watch::channel(false);
                running_sets.insert(id, (set, stored));
                if small {
                    running_small_ids.insert(id);
                }
                let order = StoreOrder { after, done };
                running.push(Box::pin(async move {
                    (id, self.ingest(e, control, Some(order)).await)
                }));
            }
            let can_read = queued.len() < MAX_QUEUED;
            let m = tokio::select! {
                Some((id, r)) = running.next(), if !running.is_empty() => {
                    running_sets.remove(&id);
                    running_small_ids.remove(&id);
                    r?;
                    continue;
                }
                m = inbound.next(), if can_read => m,
            };
            let Some(m) = m else { break };
            let m = match m.map_err(|s| {
                if s.code() == tonic::Code::OutOfRange {
                    // tonic refuses an oversized message from its length
                    // prefix, before reading the body.
                    Counters::add(&self.replica.counters().limit_message_bytes, 1);
                    SessionError::Limit(format!(
                        "message over max_message_bytes ({}): {}",
                        self.cfg.max_message_bytes,
                        s.message()
                    ))
                } else {
                    SessionError::Stream(format!("{}: {}", s.code(), s.message()))
                }
            }) {
                Ok(m) => m,
                Err(e) => {
                    // The stream broke (the peer stopped, the connection
                    // reset): what it sent whole before is still stored,
                    // as at a clean end. A peer that restarts right after
                    // sending (a key rotation) must not lose its last batch
                    // to a reset that overtook its ingest here.
                    while let Some((id, r)) = running.next().await {
                        running_sets.remove(&id);
                        r?;
                    }
                    while let Some((_, _, e)) = queued.pop_front() {
                        self.ingest(e, control, None).await?;
                    }
                    return Err(e);
                }
            };
            self.heard(&m);
            match m.kind {
                Some(Kind::Want(w)) => {
                    let mut heads = Vec::with_capacity(w.heads.len().min(4096));
                    let mut ignored = 0u64;
                    let mut ignored_ids = Vec::new();
                    // What the peer holds beyond this node, for authors this
                    // node takes: the catch-up still to come on this link.
                    let mut missing = 0u64;
                    // After this node rotated its key: a peer asking for
                    // the new key holds the rotation (see `holds_rotation`).
                    let own = self.replica.id();
                    let next_key = Some(self.replica.current_key(&own)).filter(|k| *k != own);
                    for h in w.heads {
                        let a = node_id_from_pb(&h.author, "want.author")
                            .map_err(|e| SessionError::Protocol(e.0))?;
                        if next_key == Some(a) {
                            self.status.rotation_held();
                        }
                        let ours = self.replica.store().head(&a).map_err(ReplicaError::from)?;
                        let trusted = self.replica.is_trusted(&a);
                        // Only authors this node could ever send: keeps a
                        // peer naming millions of random keys from growing
                        // its state here.
                        if trusted || ours.is_some() {
                            if trusted {
                                // Peer-chosen seqs: saturate, never overflow.
                                missing = missing.saturating_add(
                                    h.seq.saturating_sub(ours.map_or(0, |o| o.seq)),
                                );
                            }
                            heads.push((a, h.seq));
                        } else {
                            ignored += 1;
                            ignored_ids.push(a);
                            let mut passed = self.passed_over.lock().expect("passed over");
                            if passed.len() < MAX_PASSED_OVER || passed.contains_key(&a) {
                                passed.insert(a, h.seq);
                            }
                        }
                    }
                    if w.reply {
                        // Protocol 2 (dialer): the listener stated only the
                        // difference from our opening.
                        let opening = self.opening.lock().expect("opening").take();
                        let Some(opening) = opening else {
                            return Err(SessionError::Protocol(
                                "a Want reply without an opening Want".into(),
                            ));
                        };
                        self.answered.notify_one();
                        if let Some(bits) = opening.summary_bits {
                            // Protocol 3: the listener wants what we hold
                            // wherever the buckets agree, and listed its
                            // wants where they differ; it learns ours there
                            // now.
                            let flags = differing(bits, &w.differ)?;
                            let in_differ = |a: &NodeId| flags[bucket(a, bits)];
                            heads.extend(opening.list.iter().filter(|(a, _)| !in_differ(a)));
                            if !w.differ.is_empty() {
                                let ours: Vec<(NodeId, u64)> = self
                                    .replica
                                    .want_list()?
                                    .into_iter()
                                    .filter(|(a, _)| in_differ(a))
                                    .collect();
                                control
                                    .send(want(ours))
                                    .await
                                    .map_err(|_| SessionError::Stream("writer ended".into()))?;
                            }
                        } else {
                            let declined: HashSet<NodeId> = w
                                .declined
                                .iter()
                                .filter_map(|a| NodeId::from_bytes(a).ok())
                                .collect();
                            heads = expand_reply(&opening.list, &heads, &declined);
                        }
                        missing = heads
                            .iter()
                            .filter(|(a, _)| self.replica.is_trusted(a))
                            .map(|(a, seq)| {
                                let ours = self.replica.store().head(a).ok().flatten();
                                seq.saturating_sub(ours.map_or(0, |o| o.seq))
                            })
                            .fold(0u64, u64::saturating_add);
                    } else if let Some(s) = w
                        .summary
                        .as_ref()
                        .filter(|_| self.answer_opening.swap(false, Ordering::SeqCst))
                    {
                        // Protocol 3 (listener): the opening summarised;
                        // answer with our heads where the buckets differ.
                        let (differ, listed, implied) =
                            answer_summary(&self.replica.want_list()?, s)?;
                        let mut reply = want_reply(listed, Vec::new());
                        if let Some(pb::sync_message::Kind::Want(r)) = &mut reply.kind {
                            r.differ = differ;
                        }
                        control
                            .send(reply)
                            .await
                            .map_err(|_| SessionError::Stream("writer ended".into()))?;
                        heads = implied;
                    } else if self.answer_opening.swap(false, Ordering::SeqCst) {
                        // Protocol 2 (listener): answer the opening with
                        // the difference only.
                        let (delta, mut declined) = diff_want(&self.replica.want_list()?, &heads);
                        // Named but neither trusted nor held here: declined
                        // too, or the dialer would push them.
                        declined.extend(ignored_ids);
                        control
                            .send(want_reply(delta, declined))
                            .await
                            .map_err(|_| SessionError::Stream("writer ended".into()))?;
                    }
                    self.status.set_missing(missing);
                    if ignored > 0 {
                        Counters::add(&self.replica.counters().limit_want_heads, ignored);
                        tracing::debug!(
                            ignored,
                            "want named authors this node neither trusts nor holds"
                        );
                    }
                    if let Some((_, seq)) = heads.iter().find(|(a, _)| *a == self.replica.id()) {
                        self.replica.note_own_claim(*seq)?;
                    }
                    self.state.lock().expect("peer state").on_want(heads);
                    self.wake.notify_one();
                }
                Some(Kind::Entries(e)) => {
                    queued.push_back((next_id, authors_of(&e), e));
                    next_id += 1;
                }
                Some(Kind::Ping(_)) => {}
                Some(Kind::Have(h)) => self.on_have(h, control).await?,
                Some(Kind::Fork(f)) => {
                    let (Some(a), Some(b)) = (f.first, f.second) else {
                        return Err(SessionError::Protocol(
                            "fork evidence needs two entries".into(),
                        ));
                    };
                    let (a, b) = match (signed_from_pb(a), signed_from_pb(b)) {
                        (Ok(a), Ok(b)) => (a, b),
                        _ => return Err(SessionError::Protocol("malformed fork evidence".into())),
                    };
                    let replica = self.replica.clone();
                    let r = tokio::task::spawn_blocking(move || replica.accept_fork_evidence(a, b))
                        .await
                        .expect("fork evidence task");
                    if let Err(e) = r {
                        tracing::warn!(error = %e, "refused fork evidence");
                    }
                }
                Some(Kind::Hello(_)) | Some(Kind::Proof(_)) | None => {
                    return Err(SessionError::Protocol(
                        "unexpected message after handshake".into(),
                    ))
                }
            }
        }
        // The peer closed its side: finish what it sent.
        while let Some((id, r)) = running.next().await {
            running_sets.remove(&id);
            r?;
        }
        while let Some((_, _, e)) = queued.pop_front() {
            self.ingest(e, control, None).await?;
        }
        Ok(())
    }

    /// Ingests one Entries message; with `order`, stores it only once the
    /// batches before it sharing an author are stored.
    pub(super) async fn ingest(
        &self,
        e: pb::Entries,
        control: &mpsc::Sender<pb::SyncMessage>,
        order: Option<StoreOrder>,
    ) -> Result<(), SessionError> {
        if e.entries.len() > self.cfg.max_inbound_entries {
            Counters::add(&self.replica.counters().limit_batch_entries, 1);
            return Err(SessionError::Limit(format!(
                "batch of {} entries over max_batch_entries ({})",
                e.entries.len(),
                self.cfg.max_inbound_entries
            )));
        }
        let t0 = std::time::Instant::now();
        let mut batch = Vec::with_capacity(e.entries.len());
        let mut malformed = 0;
        for s in e.entries {
            match signed_from_pb(s) {
                Ok(s) => batch.push(s),
                Err(_) => malformed += 1,
            }
        }
        self.replica.count_malformed(malformed);
        // Entry ids for the timeline of urgent entries (LANE_TRACE).
        let traced: Vec<String> = if batch.len() <= yui_sync::SMALL_BATCH
            && tracing::enabled!(target: LANE_TRACE, tracing::Level::DEBUG)
        {
            batch.iter().map(|s| s.id().to_hex()).collect()
        } else {
            Vec::new()
        };
        let prepared = self
            .replica
            .prepare_from(self.peer, self.relay, batch)
            .await;
        {
            // The peer holds what it sent. Noted before the store, whose
            // events wake this session's writer: noted after, the writer
            // could send the peer its own entries back.
            let mut st = self.state.lock().expect("peer state");
            for (author, seq) in prepared.seen() {
                st.on_peer_has(*author, *seq);
            }
        }
        let t_prepared = t0.elapsed();
        let report = match order {
            Some(StoreOrder { after, done }) => {
                for mut before in after {
                    // Stored, or its ingest ended (which ends the session).
                    let _ = before.wait_for(|stored| *stored).await;
                }
                let report = self.replica.commit_prepared(prepared).await;
                let _ = done.send(true);
                report
            }
            None => self.replica.commit_prepared(prepared).await,
        }?;
        for id in traced {
            tracing::debug!(
                target: LANE_TRACE,
                id,
                peer = %self.peer,
                prepare_ms = t_prepared.as_secs_f64() * 1e3,
                store_ms = (t0.elapsed() - t_prepared).as_secs_f64() * 1e3,
                "stored"
            );
        }
        {
            let mut st = self.state.lock().expect("peer state");
            for (author, seq) in &report.seen {
                st.on_peer_has(*author, *seq);
            }
        }
        for (author, head) in &report.gaps {
            tracing::debug!(author = %author, head, "gap: asking the peer to resend from our head");
            let _ = control.send(want(vec![(*author, *head)])).await;
        }
        if !report.gaps.is_empty() {
            self.wake.notify_one();
        }
        for (author, head, wait) in &report.retry_later {
            self.retry_later(*author, *head, *wait, control);
        }
        self.status.received(report.accepted as u64);
        if !report.refused.is_empty() || malformed > 0 {
            tracing::warn!(
                refused = report.refused.len() + malformed,
                first = %report.refused.first().map(|r| r.to_string()).unwrap_or_else(|| "malformed signature".into()),
                "refused entries from peer"
            );
        }
        if report.forks > 0 {
            tracing::warn!(forks = report.forks, "peer delivered fork evidence");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(i: u8) -> NodeId {
        NodeId::new(yui_core::SecretKey::from_seed(&[i; 32]).public_key())
    }

    /// The scheduling author is the author the full decode finds, even
    /// when the bytes name one author first and another later.
    #[test]
    fn the_scheduling_author_is_the_decoded_author() {
        use prost::Message;
        let (a, b) = (id(1), id(2));
        let mut bytes = pb::Entry {
            author: a.as_bytes().to_vec(),
            seq: 1,
            ..Default::default()
        }
        .encode_to_vec();
        // Field 1 again: protobuf keeps the last.
        bytes.push(0x0a);
        bytes.push(32);
        bytes.extend_from_slice(b.as_bytes());
        let full = pb::Entry::decode(bytes.as_slice()).unwrap();
        assert_eq!(full.author, b.as_bytes().to_vec());
        let e = pb::Entries {
            entries: vec![pb::SignedEntry {
                entry: bytes,
                signature: vec![0; 64],
            }],
        };
        let set = authors_of(&e).unwrap();
        assert!(set.contains(b.as_bytes()) && !set.contains(a.as_bytes()));
        let junk = pb::Entries {
            entries: vec![pb::SignedEntry {
                entry: vec![0xff; 10],
                signature: vec![],
            }],
        };
        assert!(authors_of(&junk).is_none());
    }
}
