//! Two and three replicas over real TLS on loopback (in-process, memory stores).

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use yui_core::content::Event;
use yui_core::{Body, Kind, Limits, LocalizedText, NodeId, SecretKey};
use yui_net::client::Connection;
use yui_net::{
    Backoff, FederationService, PeerManager, PeerTable, ProtoCodec, Role, ServerLimits,
    SessionConfig,
};
use yui_store::{KvStore, MemEngine};
use yui_sync::Replica;

struct TestNode {
    replica: Arc<Replica>,
    addr: String,
    peers: Arc<PeerManager>,
    cancel: CancellationToken,
}

async fn node(seed: u8) -> TestNode {
    let store = Arc::new(KvStore::open(MemEngine::new()).unwrap());
    let replica = Replica::open(
        store,
        SecretKey::from_seed(&[seed; 32]),
        Arc::new(ProtoCodec),
        Limits::default(),
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
    let svc = FederationService::new(
        replica.clone(),
        table.clone(),
        Role::Municipality,
        cfg,
        cancel.clone(),
    );
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
        table,
        Role::Municipality,
        cfg,
        backoff,
        cancel.clone(),
    );
    TestNode {
        replica,
        addr,
        peers,
        cancel,
    }
}

fn trust_each_other(nodes: &[&TestNode]) {
    for a in nodes {
        for b in nodes {
            if a.replica.id() != b.replica.id() {
                a.replica.trust_add(b.replica.id(), "peer").unwrap();
            }
        }
    }
}

fn event(title: &str) -> Body {
    Body::Event(Event {
        title: LocalizedText::one("ja", title),
        start: "2027-02-10T10:00:00+09:00".into(),
        ..Default::default()
    })
}

async fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn head(r: &Replica, author: NodeId) -> u64 {
    r.store().head(&author).unwrap().map_or(0, |h| h.seq)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_catch_up_then_push_live_both_ways() {
    let a = node(1).await;
    let b = node(2).await;
    trust_each_other(&[&a, &b]);
    for i in 0..700 {
        a.replica
            .publish(format!("ev-{i}"), event("冬の都市会議"), None)
            .await
            .unwrap();
    }
    b.peers.add(a.addr.clone(), Some(a.replica.id()));
    wait_for("catch-up of 700 entries", || {
        head(&b.replica, a.replica.id()) == 700
    })
    .await;
    // Live, both directions over the one connection B dialled.
    a.replica
        .publish("live-a".into(), event("防災訓練"), None)
        .await
        .unwrap();
    b.replica
        .publish("live-b".into(), event("物産展"), None)
        .await
        .unwrap();
    wait_for("live push a->b", || head(&b.replica, a.replica.id()) == 701).await;
    wait_for("live push b->a", || head(&a.replica, b.replica.id()) == 1).await;
    assert_eq!(b.replica.current(Kind::Event).unwrap().len(), 702);
    a.cancel.cancel();
    b.cancel.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_travel_along_a_line() {
    let a = node(11).await;
    let b = node(12).await;
    let c = node(13).await;
    trust_each_other(&[&a, &b, &c]);
    b.peers.add(a.addr.clone(), None);
    c.peers.add(b.addr.clone(), None);
    a.replica
        .publish("drill".into(), event("合同防災訓練"), None)
        .await
        .unwrap();
    wait_for("A's entry at C through B", || {
        head(&c.replica, a.replica.id()) == 1
    })
    .await;
    c.replica
        .publish("reply".into(), event("参加します"), None)
        .await
        .unwrap();
    wait_for("C's entry at A through B", || {
        head(&a.replica, c.replica.id()) == 1
    })
    .await;
    for n in [&a, &b, &c] {
        n.cancel.cancel();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untrusted_and_impostor_peers_are_refused() {
    let a = node(21).await;
    let b = node(22).await;
    // A does not trust B.
    b.replica.trust_add(a.replica.id(), "a").unwrap();
    let err = Connection::open(
        &b.replica,
        &a.addr,
        None,
        Role::Municipality,
        Duration::from_secs(5),
    )
    .await
    .err()
    .expect("untrusted dialer must be refused");
    assert!(
        err.to_string().contains("PermissionDenied") || err.to_string().contains("not trusted"),
        "{err}"
    );
    // B expects someone else at A's address.
    a.replica.trust_add(b.replica.id(), "b").unwrap();
    let other = NodeId::new(SecretKey::from_seed(&[99; 32]).public_key());
    let err = Connection::open(
        &b.replica,
        &a.addr,
        Some(other),
        Role::Municipality,
        Duration::from_secs(5),
    )
    .await
    .err()
    .expect("wrong peer must be refused");
    assert!(err.to_string().contains("expected node"), "{err}");
    // With trust and the right id it works, and Pull serves ranges.
    a.replica
        .publish("x".into(), event("x"), None)
        .await
        .unwrap();
    let conn = Connection::open(
        &b.replica,
        &a.addr,
        Some(a.replica.id()),
        Role::Municipality,
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    assert_eq!(conn.peer.node_id, a.replica.id());
    let got = conn.pull(&a.replica.id(), 1, 10).await.unwrap();
    assert_eq!(got.len(), 1);
    a.cancel.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_overtakes_bulk_backfill() {
    use yui_core::content::Readiness;
    use yui_core::{Entry, EntryId, SignedEntry};
    use yui_sync::{Codec, PeerSync};

    let store = Arc::new(KvStore::open(MemEngine::new()).unwrap());
    let node = Replica::open(
        store,
        SecretKey::from_seed(&[40; 32]),
        Arc::new(ProtoCodec),
        Limits::default(),
    )
    .unwrap();
    // A bulk author with a long log, and an author in a disaster.
    let mut keys: Vec<SecretKey> = (41..60).map(|s| SecretKey::from_seed(&[s; 32])).collect();
    keys.sort_by_key(|k| NodeId::new(k.public_key()));
    let (bulk, urgent) = (&keys[0], &keys[keys.len() - 1]);
    let (bulk_id, urgent_id) = (
        NodeId::new(bulk.public_key()),
        NodeId::new(urgent.public_key()),
    );
    node.trust_add(bulk_id, "bulk").unwrap();
    node.trust_add(urgent_id, "urgent").unwrap();
    let mut prev: Option<EntryId> = None;
    let mut log = Vec::new();
    for seq in 1..=2000u64 {
        let e = Entry {
            author: bulk_id,
            seq,
            prev,
            created_at: yui_sync::now_ms(),
            expires_at: None,
            object_id: format!("case-{seq}"),
            body: event("事例"),
        };
        let s = SignedEntry::sign(ProtoCodec.encode_entry(&e), bulk);
        prev = Some(s.id());
        log.push(s);
    }
    for chunk in log.chunks(500) {
        assert_eq!(
            node.ingest(chunk.to_vec()).await.unwrap().accepted,
            chunk.len()
        );
    }
    let now = yui_sync::now_ms();
    let r = Entry {
        author: urgent_id,
        seq: 1,
        prev: None,
        created_at: now,
        expires_at: None,
        object_id: "readiness".into(),
        body: Body::Readiness(Readiness {
            as_of: now,
            valid_until: now + 3_600_000,
            alert_level: 4,
            ..Default::default()
        }),
    };
    let r = SignedEntry::sign(ProtoCodec.encode_entry(&r), urgent);
    node.ingest(vec![r.clone()]).await.unwrap();

    // A peer that has nothing: it wants both, the bulk author sorts first.
    let mut peer = PeerSync::new();
    peer.on_want([(bulk_id, 0), (urgent_id, 0)]);
    let first = peer.next_batch(&node, 256, 1 << 20).unwrap();
    assert!(
        first.iter().all(|e| *e != r),
        "without the lane, backfill goes in author order"
    );
    peer.on_local_head(urgent_id, true);
    let next = peer.next_batch(&node, 256, 1 << 20).unwrap();
    assert_eq!(
        next[0], r,
        "the readiness entry must go out in the very next batch"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fork_inside_a_batch_stops_the_log_there() {
    use yui_core::{Entry, EntryId, SignedEntry};
    use yui_sync::Codec;

    let store = Arc::new(KvStore::open(MemEngine::new()).unwrap());
    let node = Replica::open(
        store,
        SecretKey::from_seed(&[70; 32]),
        Arc::new(ProtoCodec),
        Limits::default(),
    )
    .unwrap();
    let author = SecretKey::from_seed(&[71; 32]);
    let id = NodeId::new(author.public_key());
    node.trust_add(id, "author").unwrap();
    let make = |seq: u64, prev: Option<EntryId>, title: &str| {
        let e = Entry {
            author: id,
            seq,
            prev,
            created_at: yui_sync::now_ms(),
            expires_at: None,
            object_id: format!("o-{seq}"),
            body: event(title),
        };
        SignedEntry::sign(ProtoCodec.encode_entry(&e), &author)
    };
    let e1 = make(1, None, "一");
    let e2 = make(2, Some(e1.id()), "二");
    let e3 = make(3, Some(e2.id()), "三");
    assert_eq!(
        node.ingest(vec![e1.clone(), e2.clone(), e3.clone()])
            .await
            .unwrap()
            .accepted,
        3
    );
    // The next entry, then a second entry at seq 2, in one batch.
    let e4 = make(4, Some(e3.id()), "四");
    let other2 = make(2, Some(e1.id()), "別の二");
    let r = node.ingest(vec![e4, other2]).await.unwrap();
    assert_eq!((r.accepted, r.forks), (0, 1), "{r:?}");
    assert_eq!(head(&node, id), 3, "nothing past the fork is stored");
    assert_eq!(node.store().forked_at(&id).unwrap(), Some(2));
}
