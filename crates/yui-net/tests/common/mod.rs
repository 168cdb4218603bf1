//! Test nodes over real TLS on loopback (in-process, memory stores),
//! shared by the integration tests.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use yui_core::content::Event;
use yui_core::{Body, Limits, LocalizedText, NodeId, SecretKey};
use yui_net::{
    Backoff, FederationService, PeerManager, PeerTable, ProtoCodec, Role, ServerLimits,
    SessionConfig,
};
use yui_store::{KvStore, MemEngine};
use yui_sync::Replica;

pub struct TestNode {
    pub replica: Arc<Replica>,
    pub addr: String,
    pub peers: Arc<PeerManager>,
    /// The links' state as `yui status` shows it.
    pub table: Arc<PeerTable>,
    pub cancel: CancellationToken,
}

pub async fn node(seed: u8) -> TestNode {
    node_with(seed, Limits::default()).await
}

pub async fn node_with(seed: u8, limits: Limits) -> TestNode {
    node_as(seed, limits, Role::Municipality).await
}

/// A node without the per-author rate limit (for bulk loads in tests).
pub async fn node_unlimited(seed: u8) -> TestNode {
    node_with(
        seed,
        Limits {
            entries_per_author_per_minute: 0,
            ..Limits::default()
        },
    )
    .await
}

/// A node that states `role` in its handshakes.
pub async fn node_as(seed: u8, limits: Limits, role: Role) -> TestNode {
    let store = Arc::new(KvStore::open(MemEngine::new()).unwrap());
    let replica = Replica::open(
        store,
        SecretKey::from_seed(&[seed; 32]),
        Arc::new(ProtoCodec),
        limits,
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = yui_net::tls::generate_self_signed("test").unwrap();
    std::fs::write(dir.path().join("c.pem"), cert).unwrap();
    std::fs::write(dir.path().join("k.pem"), key).unwrap();
    let tls =
        yui_net::tls::server_config(&dir.path().join("c.pem"), &dir.path().join("k.pem")).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let cancel = CancellationToken::new();
    let table = PeerTable::new();
    let cfg = SessionConfig::default();
    let svc = FederationService::new(replica.clone(), table.clone(), role, cfg, cancel.clone());
    tokio::spawn(yui_net::server::serve(
        listener,
        tls,
        svc,
        None,
        ServerLimits::default(),
        cancel.clone(),
    ));
    let backoff = Backoff {
        initial: Duration::from_millis(50),
        max: Duration::from_millis(500),
    };
    let peers = PeerManager::new(
        replica.clone(),
        table.clone(),
        role,
        cfg,
        backoff,
        cancel.clone(),
    );
    TestNode {
        replica,
        addr,
        peers,
        table,
        cancel,
    }
}

pub fn trust_each_other(nodes: &[&TestNode]) {
    for a in nodes {
        for b in nodes {
            if a.replica.id() != b.replica.id() {
                a.replica.trust_add(b.replica.id(), "peer").unwrap();
            }
        }
    }
}

pub fn event(title: &str) -> Body {
    Body::Event(Event {
        title: LocalizedText::one("ja", title),
        start: "2027-02-10T10:00:00+09:00".into(),
        ..Default::default()
    })
}

pub async fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub fn head(r: &Replica, author: NodeId) -> u64 {
    r.store().head(&author).unwrap().map_or(0, |h| h.seq)
}
