//! The task that keeps the index current ([`ReadModel::follow`]) and the
//! ways to wait for it: indexing in the background, in large batches while
//! a backfill arrives, at background priority.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::ReadModel;
use crate::index::{CatchUp, IndexError};

/// Entries one step of the background indexer takes before it lets
/// readers in.
pub const FOLLOW_STEP: u64 = 10_000;

/// How long the background indexer gathers new heads before a step: it
/// goes on gathering while they keep coming (a backfill), up to
/// [`FOLLOW_GATHER_MAX`] or [`FOLLOW_GATHER_ENTRIES`] entries waiting.
pub const FOLLOW_GATHER: Duration = Duration::from_secs(1);

/// The longest the background indexer gathers while heads keep coming.
/// Each step commits (a new segment, its indexing threads restarted): a
/// backfill indexed every second or two cost the node as much CPU as
/// checking its signatures (`yui bench propagation --processes`).
pub const FOLLOW_GATHER_MAX: Duration = Duration::from_secs(10);

/// Entries waiting to be indexed beyond which the indexer gathers no
/// longer: a reader's query indexes what it lacks first, so this bounds
/// that work too.
pub const FOLLOW_GATHER_ENTRIES: u64 = 5_000;

impl ReadModel {
    /// Indexes what the store holds beyond the index, at most about
    /// `budget` entries.
    pub fn catch_up(&self, budget: u64) -> Result<CatchUp, IndexError> {
        self.index.catch_up(&self.replica, budget)
    }

    /// Keeps the index current until `cancel`: wakes on new heads, gathers
    /// them until they pause for [`FOLLOW_GATHER`] (a backfill is indexed
    /// in large batches, every [`FOLLOW_GATHER_MAX`] or
    /// [`FOLLOW_GATHER_ENTRIES`] at most), and wakes once a second in case
    /// a notice was missed.
    pub async fn follow(self: Arc<Self>, cancel: CancellationToken) {
        let mut events = self.replica.subscribe();
        // A failure that persists (a full disk) is logged once a minute.
        let mut last_error: Option<std::time::Instant> = None;
        loop {
            let me = self.clone();
            // At background priority: indexing waits for the live path.
            let step =
                tokio::spawn(yui_sync::background::run(move || me.catch_up(FOLLOW_STEP))).await;
            let failed = |e: &dyn std::fmt::Display, last: &mut Option<std::time::Instant>| {
                if last.is_none_or(|t| t.elapsed() >= Duration::from_secs(60)) {
                    tracing::error!(error = %e, "indexing failed; queries answer from what is indexed, and the indexer tries again every second");
                    *last = Some(std::time::Instant::now());
                }
            };
            let behind = match step {
                Ok(Ok(c)) => {
                    if last_error.take().is_some() {
                        tracing::info!("indexing works again");
                    }
                    c.behind
                }
                Ok(Err(e)) => {
                    failed(&e, &mut last_error);
                    0
                }
                Err(e) => {
                    failed(&e, &mut last_error);
                    0
                }
            };
            if behind > 0 {
                tokio::select! {
                    () = cancel.cancelled() => return,
                    () = tokio::task::yield_now() => continue,
                }
            }
            tokio::select! {
                () = cancel.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                ev = events.recv() => {
                    if matches!(ev, Err(tokio::sync::broadcast::error::RecvError::Closed)) {
                        return;
                    }
                    if !self.gather(&mut events, &cancel).await {
                        return;
                    }
                }
            }
        }
    }

    /// Gathers what else arrives before the next step: a backfill is
    /// indexed in large batches (each commit costs a sync and restarts
    /// tantivy's indexing threads), and readers do not wait for it (a
    /// query first indexes what it lacks). Waits while heads keep coming,
    /// up to [`FOLLOW_GATHER_MAX`] or [`FOLLOW_GATHER_ENTRIES`] waiting.
    /// Returns false when the follower is to stop.
    async fn gather(
        &self,
        events: &mut tokio::sync::broadcast::Receiver<yui_sync::ReplicaEvent>,
        cancel: &CancellationToken,
    ) -> bool {
        use tokio::sync::broadcast::error::TryRecvError;
        let started = std::time::Instant::now();
        loop {
            tokio::select! {
                () = cancel.cancelled() => return false,
                _ = tokio::time::sleep(FOLLOW_GATHER) => {}
            }
            // More came (a burst that overflowed the event queue counts:
            // it is the backfill itself).
            let mut more = false;
            loop {
                match events.try_recv() {
                    Ok(_) | Err(TryRecvError::Lagged(_)) => more = true,
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Closed) => return false,
                }
            }
            if !more
                || started.elapsed() >= FOLLOW_GATHER_MAX
                || self.lag().is_none_or(|n| n >= FOLLOW_GATHER_ENTRIES)
            {
                return true;
            }
        }
    }

    /// Entries the store holds beyond the index (`None`: the store
    /// cannot say).
    fn lag(&self) -> Option<u64> {
        let count = self.replica.store().entry_count().ok()?;
        Some(count.saturating_sub(self.index.indexed()))
    }

    /// Waits until everything the store holds now is searchable, indexed
    /// by [`ReadModel::follow`], for at most `limit`; returns whether it
    /// is. For work that may wait and should not index on its own (the
    /// desk: see [`ReadModel::partners_as_indexed`]).
    pub async fn wait_indexed(&self, limit: Duration) -> bool {
        let Ok(count) = self.replica.store().entry_count() else {
            return false;
        };
        self.index.wait_seen(count, limit).await
    }
}
