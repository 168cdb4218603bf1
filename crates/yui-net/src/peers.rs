//! Peer connections: the table of their states, and the dial loops.
//!
//! [`PeerManager`] owns one dial loop per configured address. A loop connects,
//! runs the handshake and the session, and when the link ends waits a
//! jittered, exponentially growing delay (capped at `backoff_max`) before it
//! tries again. A session that completed its handshake resets the delay: any
//! contact from the peer proves the path works.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use yui_core::NodeId;
use yui_sync::{now_ms, Replica};

use crate::client::{self, ConnectError};
use crate::session::SessionConfig;

/// Where a link stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkState {
    /// Dialling or in the handshake.
    Connecting,
    /// Handshake done, session running.
    Connected,
    /// Waiting before the next attempt.
    Backoff,
}

/// What a node knows about one link, for `yui peer list` and status.
#[derive(Debug, Clone, Serialize)]
pub struct PeerStatus {
    /// `outbound` (we dialled) or `inbound`.
    pub direction: &'static str,
    /// Dialled address, or the remote address of an inbound link.
    pub addr: String,
    /// Proved node id (after a handshake).
    pub node_id: Option<NodeId>,
    /// Link state.
    pub state: LinkState,
    /// When the state last changed.
    pub since_ms: i64,
    /// Last message heard from the peer.
    pub last_seen_ms: Option<i64>,
    /// Entries sent on the current or last session.
    pub entries_sent: u64,
    /// Entries received and stored.
    pub entries_received: u64,
    /// Entries the peer lacks that this node holds (at the last heartbeat).
    pub peer_behind: u64,
    /// Messages queued for the peer (at the last heartbeat).
    pub queue: usize,
    /// Entries the peer holds that this node lacks (from the peer's last
    /// Want, less what arrived since): the catch-up left on this link.
    pub missing: u64,
    /// How much of this node's own log the peer holds (sent on this link).
    pub own_log_sent: Option<u64>,
    /// The peer asked for this node's next key: it holds and accepted the
    /// node's key rotation (a node that takes a rotation starts wanting the
    /// new key from every link). What `yui key rotate` waits for.
    pub holds_rotation: bool,
    /// Why the last attempt or session ended.
    pub last_error: Option<String>,
    /// Next dial attempt, when in backoff.
    pub next_attempt_ms: Option<i64>,
}

/// Shared table of link states.
#[derive(Debug, Default)]
pub struct PeerTable {
    links: Mutex<HashMap<String, PeerStatus>>,
}

impl PeerTable {
    /// An empty table.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Every link, outbound first, by address.
    pub fn snapshot(&self) -> Vec<PeerStatus> {
        let mut v: Vec<PeerStatus> = self
            .links
            .lock()
            .expect("peer table")
            .values()
            .cloned()
            .collect();
        v.sort_by(|a, b| {
            (a.direction, &a.addr)
                .cmp(&(b.direction, &b.addr))
                .reverse()
        });
        v.sort_by_key(|p| p.direction != "outbound");
        v
    }

    /// Number of links with a running session.
    pub fn connected(&self) -> usize {
        self.links
            .lock()
            .expect("peer table")
            .values()
            .filter(|p| p.state == LinkState::Connected)
            .count()
    }

    /// A handle for one link, creating its row.
    pub fn handle(
        self: &Arc<Self>,
        key: String,
        direction: &'static str,
        addr: String,
    ) -> PeerStatusHandle {
        self.links.lock().expect("peer table").insert(
            key.clone(),
            PeerStatus {
                direction,
                addr,
                node_id: None,
                state: LinkState::Connecting,
                since_ms: now_ms(),
                last_seen_ms: None,
                entries_sent: 0,
                entries_received: 0,
                peer_behind: 0,
                missing: 0,
                queue: 0,
                own_log_sent: None,
                holds_rotation: false,
                last_error: None,
                next_attempt_ms: None,
            },
        );
        PeerStatusHandle {
            table: self.clone(),
            key,
        }
    }
}

/// Updates one row of the [`PeerTable`].
#[derive(Debug, Clone)]
pub struct PeerStatusHandle {
    table: Arc<PeerTable>,
    key: String,
}

impl PeerStatusHandle {
    fn update(&self, f: impl FnOnce(&mut PeerStatus)) {
        if let Some(p) = self
            .table
            .links
            .lock()
            .expect("peer table")
            .get_mut(&self.key)
        {
            f(p);
        }
    }

    /// Dialling.
    pub fn connecting(&self) {
        self.update(|p| {
            p.state = LinkState::Connecting;
            p.since_ms = now_ms();
            p.next_attempt_ms = None;
        });
    }

    /// Handshake done.
    pub fn connected(&self, id: NodeId) {
        self.update(|p| {
            p.state = LinkState::Connected;
            p.node_id = Some(id);
            p.since_ms = now_ms();
            p.last_seen_ms = Some(now_ms());
            p.last_error = None;
            p.entries_sent = 0;
            p.entries_received = 0;
        });
    }

    /// Heard from the peer.
    pub fn seen(&self) {
        self.update(|p| p.last_seen_ms = Some(now_ms()));
    }

    /// Sent `n` entries.
    pub fn sent(&self, n: u64) {
        self.update(|p| p.entries_sent += n);
    }

    /// Stored `n` entries from the peer.
    pub fn received(&self, n: u64) {
        self.update(|p| {
            p.entries_received += n;
            p.missing = p.missing.saturating_sub(n);
        });
    }

    /// Messages queued for the peer.
    pub fn set_queue(&self, n: usize) {
        self.update(|p| p.queue = n);
    }

    /// What the peer holds beyond this node (see [`PeerStatus::missing`]).
    pub fn set_missing(&self, n: u64) {
        self.update(|p| p.missing = n);
    }

    /// How much of this node's own log the peer holds.
    pub fn set_own_log_sent(&self, seq: Option<u64>) {
        self.update(|p| p.own_log_sent = seq);
    }

    /// The peer asked for this node's next key (see
    /// [`PeerStatus::holds_rotation`]).
    pub fn rotation_held(&self) {
        self.update(|p| p.holds_rotation = true);
    }

    /// The peer's distance behind this node.
    pub fn set_lag(&self, lag: u64) {
        self.update(|p| p.peer_behind = lag);
    }

    /// The link ended; the next attempt is in `retry` (outbound).
    pub fn down(&self, error: Option<String>, retry: Duration) {
        self.update(|p| {
            p.state = LinkState::Backoff;
            p.since_ms = now_ms();
            p.last_error = error;
            p.next_attempt_ms = Some(now_ms() + retry.as_millis() as i64);
        });
    }

    /// Removes the row (inbound links that ended, removed peers).
    pub fn remove(&self) {
        self.table
            .links
            .lock()
            .expect("peer table")
            .remove(&self.key);
    }
}

/// Reconnect timing.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// First delay.
    pub initial: Duration,
    /// Cap.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(500),
            max: Duration::from_secs(180),
        }
    }
}

impl Backoff {
    /// Delay before attempt number `failures` (1-based): backon's
    /// exponential backoff from `initial`, doubling, capped at `max`, with
    /// jitter (up to the delay again, capped) so that many members of one
    /// relay do not all return at the same instant. A contact resets the
    /// count, so the caller keeps the number, not an iterator.
    pub fn delay(&self, failures: u32) -> Duration {
        use backon::BackoffBuilder;
        let half_max = self.max / 2;
        backon::ExponentialBuilder::default()
            .with_min_delay(self.initial.min(half_max).max(Duration::from_millis(1)))
            .with_max_delay(half_max.max(Duration::from_millis(1)))
            .with_jitter()
            .without_max_times()
            .build()
            .nth(failures.saturating_sub(1).min(64) as usize)
            .unwrap_or(self.max)
            .min(self.max)
    }
}

/// Dials configured peers and keeps them connected.
pub struct PeerManager {
    replica: Arc<Replica>,
    table: Arc<PeerTable>,
    role: crate::handshake::Role,
    session: SessionConfig,
    backoff: Backoff,
    cancel: CancellationToken,
    loops: Mutex<HashMap<String, (CancellationToken, JoinHandle<()>)>>,
}

impl PeerManager {
    /// A manager whose loops stop when `cancel` fires.
    pub fn new(
        replica: Arc<Replica>,
        table: Arc<PeerTable>,
        role: crate::handshake::Role,
        session: SessionConfig,
        backoff: Backoff,
        cancel: CancellationToken,
    ) -> Arc<Self> {
        Arc::new(Self {
            replica,
            table,
            role,
            session,
            backoff,
            cancel,
            loops: Mutex::new(HashMap::new()),
        })
    }

    /// Starts (or restarts) the dial loop for `addr`.
    pub fn add(&self, addr: String, expected: Option<NodeId>) {
        let token = self.cancel.child_token();
        let status = self
            .table
            .handle(format!("out:{addr}"), "outbound", addr.clone());
        let task = tokio::spawn(
            dial_loop(
                self.replica.clone(),
                addr.clone(),
                expected,
                self.role,
                self.session,
                self.backoff,
                status,
                token.clone(),
            )
            .instrument(tracing::info_span!("peer", addr = %addr)),
        );
        if let Some((old, _)) = self
            .loops
            .lock()
            .expect("loops")
            .insert(addr, (token, task))
        {
            old.cancel();
        }
    }

    /// Stops the dial loop for `addr`.
    pub fn remove(&self, addr: &str) -> bool {
        match self.loops.lock().expect("loops").remove(addr) {
            Some((token, _)) => {
                token.cancel();
                true
            }
            None => false,
        }
    }

    /// Waits for every loop to finish (after cancel).
    pub async fn join(&self) {
        let loops: Vec<_> = self.loops.lock().expect("loops").drain().collect();
        for (_, (token, task)) in loops {
            token.cancel();
            let _ = task.await;
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn dial_loop(
    replica: Arc<Replica>,
    addr: String,
    expected: Option<NodeId>,
    role: crate::handshake::Role,
    session: SessionConfig,
    backoff: Backoff,
    status: PeerStatusHandle,
    cancel: CancellationToken,
) {
    let mut failures = 0u32;
    while !cancel.is_cancelled() {
        status.connecting();
        let result =
            client::connect_and_run(&replica, &addr, expected, role, session, &status, &cancel)
                .await;
        if cancel.is_cancelled() {
            break;
        }
        let error = match result {
            Ok(true) => {
                failures = 0;
                None
            }
            Ok(false) => Some("closed".to_owned()),
            Err(ConnectError::Session {
                handshook: true,
                error,
            }) => {
                failures = 0;
                Some(error)
            }
            Err(e) => Some(e.to_string()),
        };
        failures += 1;
        let delay = backoff.delay(failures);
        if let Some(e) = &error {
            tracing::info!(error = %e, retry_in = ?delay, "link down");
        }
        status.down(error, delay);
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = tokio::time::sleep(delay) => {}
        }
    }
    status.remove();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_jittered_and_capped() {
        let b = Backoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(180),
        };
        for _ in 0..100 {
            let d1 = b.delay(1);
            assert!(
                d1 >= Duration::from_secs(1) && d1 <= Duration::from_secs(2),
                "{d1:?}"
            );
            let d4 = b.delay(4);
            assert!(
                d4 >= Duration::from_secs(8) && d4 <= Duration::from_secs(16),
                "{d4:?}"
            );
            assert!(b.delay(40) <= Duration::from_secs(180));
            assert!(b.delay(40) >= Duration::from_secs(90));
        }
    }
}
