//! The writer half of a session, and the urgent lane: sends what the peer
//! lacks (the lane first, then bulk batches one at a time once the queue
//! has drained), heartbeats, and the control messages the reader asks for.

use super::*;

/// Bulk batches queued to a peer at most (urgent entries and control
/// messages pass them; see the writer).
const BULK_QUEUE: usize = 1;

impl Ctx<'_> {
    /// Applies an event; returns what the writer must send before data.
    pub(super) fn on_event(&self, ev: ReplicaEvent) -> Result<Vec<pb::SyncMessage>, SessionError> {
        match ev {
            ReplicaEvent::Head {
                author,
                urgent,
                via_relay,
                ..
            } => {
                let mut st = self.state.lock().expect("peer state");
                if self.lazy && via_relay {
                    st.announce_head(author, urgent);
                } else {
                    st.on_local_head(author, urgent);
                }
                Ok(Vec::new())
            }
            ReplicaEvent::TrustChanged { added } => {
                self.check_peer_trusted()?;
                // What the peer asked for before this node trusted it.
                let taken: Vec<(NodeId, u64)> = {
                    let mut passed = self.passed_over.lock().expect("passed over");
                    let now: Vec<NodeId> = passed
                        .keys()
                        .filter(|a| self.replica.is_trusted(a))
                        .copied()
                        .collect();
                    now.into_iter()
                        .filter_map(|a| passed.remove(&a).map(|seq| (a, seq)))
                        .collect()
                };
                if !taken.is_empty() {
                    self.state.lock().expect("peer state").on_want(taken);
                    self.wake.notify_one();
                }
                // Only the newly trusted authors: wants add up, and the
                // others' heads the peer learns as entries flow.
                let heads: Vec<(NodeId, u64)> = added
                    .iter()
                    .map(|a| Ok((*a, self.replica.store().head(a)?.map_or(0, |h| h.seq))))
                    .collect::<Result<_, yui_store::StoreError>>()
                    .map_err(ReplicaError::from)?;
                Ok(if heads.is_empty() {
                    Vec::new()
                } else {
                    vec![want(heads)]
                })
            }
            ReplicaEvent::Recovery { author, seq } => Ok(self
                .replica
                .store()
                .recoveries()
                .map_err(ReplicaError::from)?
                .into_iter()
                .filter(|(a, s, _)| *a == author && *s == seq)
                .map(|(_, _, e)| {
                    msg(pb::sync_message::Kind::Entries(pb::Entries {
                        entries: vec![signed_to_pb(&e)],
                    }))
                })
                .collect()),
            ReplicaEvent::Fork { author, seq } => Ok(self
                .replica
                .store()
                .forks()
                .map_err(ReplicaError::from)?
                .into_iter()
                .filter(|f| f.author == author && f.seq == seq)
                .map(|f| evidence(&f.first, &f.second))
                .collect()),
        }
    }

    /// The urgent lane (protocol 4): opens or accepts it, then reads it for
    /// the rest of the session. Its reader ingests each message as it
    /// comes, never behind the Sync stream's bulk batches. Never ends while
    /// there is no lane, nor when the peer closes it: a stopping peer closes
    /// the lane and the Sync stream together, and the Sync stream's end,
    /// which comes after everything the peer sent on it, ends the session
    /// (ending it at the lane's end cut off batches still on their way). An
    /// error on the lane ends the session.
    pub(super) async fn lane(
        &self,
        setup: LaneSetup,
        control: mpsc::Sender<pb::SyncMessage>,
    ) -> Result<(), SessionError> {
        use pb::sync_message::Kind;
        let lane = match setup {
            LaneSetup::None => return std::future::pending().await,
            LaneSetup::Dial(client) => {
                self.answered.notified().await;
                match Lane::dial(client).await {
                    Ok(l) => l,
                    Err(s) if s.code() == tonic::Code::Unimplemented => {
                        tracing::info!("the peer has no urgent lane: urgent entries go first on the Sync stream");
                        return std::future::pending().await;
                    }
                    Err(s) => {
                        return Err(SessionError::Stream(format!(
                            "urgent lane: {}: {}",
                            s.code(),
                            s.message()
                        )))
                    }
                }
            }
            LaneSetup::Accept(rx) => match rx.await {
                Ok(l) => l,
                // The listener went away: the session is ending anyway.
                Err(_) => return std::future::pending().await,
            },
        };
        let mut inbound = lane.inbound;
        let _ = self.lane_out.set(Metered {
            out: lane.out,
            counters: self.replica.counters(),
        });
        tracing::debug!("urgent lane open");
        self.wake.notify_one();
        while let Some(m) = inbound.next().await {
            let m = m.map_err(|s| {
                SessionError::Stream(format!("urgent lane: {}: {}", s.code(), s.message()))
            })?;
            self.heard(&m);
            match m.kind {
                Some(Kind::Entries(e)) if e.entries.len() <= yui_sync::SMALL_BATCH => {
                    self.ingest(e, &control, None).await?
                }
                Some(Kind::Have(h)) => self.on_have(h, &control).await?,
                Some(Kind::Entries(e)) => {
                    return Err(SessionError::Protocol(format!(
                        "an urgent lane batch of {} entries (at most {})",
                        e.entries.len(),
                        yui_sync::SMALL_BATCH
                    )))
                }
                _ => {
                    return Err(SessionError::Protocol(
                        "the urgent lane carries Entries and Have messages only".into(),
                    ))
                }
            }
        }
        tracing::debug!("the peer closed the urgent lane");
        std::future::pending().await
    }

    pub(super) async fn writer(
        &self,
        out: &Metered<'_>,
        mut events: broadcast::Receiver<ReplicaEvent>,
        mut control: mpsc::Receiver<pb::SyncMessage>,
    ) -> Result<(), SessionError> {
        let mut heartbeat = tokio::time::interval(self.cfg.heartbeat);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        heartbeat.tick().await;
        loop {
            // Drain what happened without waiting, so a long catch-up never
            // lets the event queue overflow unnoticed.
            let mut urgent_out = Vec::new();
            loop {
                match events.try_recv() {
                    Ok(ev) => urgent_out.extend(self.on_event(ev)?),
                    Err(broadcast::error::TryRecvError::Empty) => break,
                    Err(broadcast::error::TryRecvError::Lagged(_)) => {
                        self.state.lock().expect("peer state").mark_all_dirty();
                        // A trust change may be among the events missed.
                        urgent_out.push(want(self.replica.want_list()?));
                    }
                    Err(broadcast::error::TryRecvError::Closed) => return Ok(()),
                }
            }
            for m in urgent_out {
                out.send(m).await?;
            }
            while let Ok(m) = control.try_recv() {
                out.send(m).await?;
            }
            // Protocol 5: heads announced by the peer that no other link
            // delivered within the grace time are asked for; heads to
            // announce go out before any entries.
            let (grafts, heads) = {
                let mut st = self.state.lock().expect("peer state");
                (
                    st.due_grafts(self.replica, self.now())?,
                    st.next_announce(self.replica, MAX_HAVE_HEADS)?,
                )
            };
            if !grafts.is_empty() {
                Counters::add(&self.replica.counters().sync_grafts, grafts.len() as u64);
                out.send(want(grafts)).await?;
            }
            if !heads.is_empty() {
                let n = heads.len() as u64;
                match self.lane_out.get() {
                    Some(lane) => lane.send(have(&heads)).await?,
                    None => out.send(have(&heads)).await?,
                }
                Counters::add(&self.replica.counters().sync_heads_announced, n);
            }
            // Urgent entries take the lane when there is one: nothing bulk
            // is ahead of them there, in either direction.
            if let Some(lane) = self.lane_out.get() {
                let batch = self
                    .state
                    .lock()
                    .expect("peer state")
                    .next_urgent(self.replica, yui_sync::SMALL_BATCH)?;
                if !batch.is_empty() {
                    let n = batch.len() as u64;
                    let entries = batch.iter().map(signed_to_pb).collect();
                    lane.send(msg(pb::sync_message::Kind::Entries(pb::Entries {
                        entries,
                    })))
                    .await?;
                    // The timeline of an urgent entry across nodes
                    // (`yui bench propagation` with YUI_BENCH_TRACE).
                    if tracing::enabled!(target: LANE_TRACE, tracing::Level::DEBUG) {
                        for e in &batch {
                            tracing::debug!(target: LANE_TRACE, id = %e.id().to_hex(), peer = %self.peer, "queued on the lane");
                        }
                    }
                    Counters::add(&self.replica.counters().sync_lane_entries_sent, n);
                    self.status.sent(n);
                    continue;
                }
            }
            // Bulk batches wait until the queue to the peer is all but
            // empty: an urgent entry (readiness) must never queue behind
            // megabytes of backfill. The transport below keeps its own
            // buffer full meanwhile.
            let room = out.depth() < BULK_QUEUE;
            let (batch, own) = if room {
                let mut st = self.state.lock().expect("peer state");
                let batch =
                    st.next_batch(self.replica, self.cfg.batch_entries, self.cfg.batch_bytes)?;
                (batch, st.peer_has(&self.replica.id()))
            } else {
                (Vec::new(), None)
            };
            if !batch.is_empty() {
                let n = batch.len() as u64;
                let entries = batch.iter().map(signed_to_pb).collect();
                out.send(msg(pb::sync_message::Kind::Entries(pb::Entries {
                    entries,
                })))
                .await?;
                self.status.sent(n);
                self.status.set_own_log_sent(own);
                continue;
            }
            let (has_work, graft_at) = {
                let st = self.state.lock().expect("peer state");
                (!room && st.has_work(), st.next_graft_at())
            };
            let graft_in = graft_at.map(|at| Duration::from_millis(at.saturating_sub(self.now())));
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = out.out.drained(), if has_work => {}
                _ = tokio::time::sleep(graft_in.unwrap_or_default()), if graft_in.is_some() => {}
                ev = events.recv() => match ev {
                    Ok(ev) => {
                        for m in self.on_event(ev)? {
                            out.send(m).await?;
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        self.state.lock().expect("peer state").mark_all_dirty();
                        // A trust change may be among the events missed.
                        out.send(want(self.replica.want_list()?)).await?;
                    }
                    Err(broadcast::error::RecvError::Closed) => return Ok(()),
                },
                m = control.recv() => if let Some(m) = m { out.send(m).await? },
                _ = heartbeat.tick() => {
                    let silent = now_ms() - self.last_inbound.load(Ordering::Relaxed);
                    if silent > self.cfg.idle_timeout.as_millis() as i64 {
                        return Err(SessionError::Idle(self.cfg.idle_timeout));
                    }
                    out.send(msg(pb::sync_message::Kind::Ping(pb::Ping { sent_at: now_ms() }))).await?;
                    let lag = self.state.lock().expect("peer state").lag(self.replica)?;
                    self.status.set_lag(lag);
                    self.status.set_queue(out.depth());
                }
            }
        }
    }
}
