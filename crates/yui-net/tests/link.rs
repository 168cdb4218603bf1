//! Two and three replicas over real TLS on loopback (in-process, memory stores).

use std::sync::Arc;
use std::time::Duration;

use yui_core::content::Event;
use yui_core::{Body, Kind, Limits, LocalizedText, NodeId, SecretKey};
use yui_net::client::Connection;
use yui_net::{ProtoCodec, Role, SessionConfig};
use yui_store::{KvStore, MemEngine};
use yui_sync::Replica;

mod common;
use common::{event, head, node, node_unlimited, node_with, trust_each_other, wait_for, TestNode};

/// Each of `a` and `b` publishes one entry; both arrive at the other.
async fn live_both_ways(a: &TestNode, b: &TestNode) {
    let (ha, hb) = (
        head(&a.replica, a.replica.id()),
        head(&b.replica, b.replica.id()),
    );
    a.replica
        .publish("live-a".into(), event("防災訓練"), None)
        .await
        .unwrap();
    b.replica
        .publish("live-b".into(), event("物産展"), None)
        .await
        .unwrap();
    wait_for("live push a->b", || {
        head(&b.replica, a.replica.id()) == ha + 1
    })
    .await;
    wait_for("live push b->a", || {
        head(&a.replica, b.replica.id()) == hb + 1
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_catch_up_then_push_live_both_ways() {
    let a = node(1).await;
    let b = node_unlimited(2).await;
    trust_each_other(&[&a, &b]);
    // 700 new entries of one author are over the default rate limit; see
    // `new_entries_over_the_rate_limit_arrive_later` for that path.
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
    live_both_ways(&a, &b).await;
    assert_eq!(b.replica.current(Kind::Event).unwrap().len(), 702);
    a.cancel.cancel();
    b.cancel.cancel();
}

/// A dialer that stops (shutdown, or the restart after a key rotation)
/// right after queueing its last batch still delivers it: it ends its
/// stream and waits for the peer to read to the end, instead of resetting
/// the call with the batch still queued.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopping_dialer_delivers_what_it_queued() {
    let a = node(81).await;
    let b = node_unlimited(82).await;
    trust_each_other(&[&a, &b]);
    let n = 3_000u64;
    for i in 0..n {
        a.replica
            .publish(format!("case-{i}"), event("広域避難の協定"), None)
            .await
            .unwrap();
    }
    a.peers.add(b.addr.clone(), Some(b.replica.id()));
    // Stop the moment the last of A's log is queued for B.
    wait_for("A's whole log queued for B", || {
        a.table
            .snapshot()
            .iter()
            .any(|p| p.own_log_sent.is_some_and(|s| s >= n))
    })
    .await;
    a.cancel.cancel();
    wait_for("B to hold all of A's log", || {
        head(&b.replica, a.replica.id()) == n
    })
    .await;
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
async fn an_author_trusted_after_the_peer_asked_for_it_still_flows() {
    // C trusts X and asks B for it; B trusts X only later (as when C
    // learns of a rotated key a moment before B does). B must then send
    // X's entries to C without C asking again.
    let x = node(21).await;
    let b = node(22).await;
    let c = node(23).await;
    trust_each_other(&[&b, &c]);
    c.replica.trust_add(x.replica.id(), "x").unwrap();
    for i in 0..3 {
        x.replica
            .publish(format!("x-{i}"), event("姉妹都市交流会"), None)
            .await
            .unwrap();
    }
    c.peers.add(b.addr.clone(), Some(b.replica.id()));
    c.replica
        .publish("hello".into(), event("接続確認"), None)
        .await
        .unwrap();
    wait_for("the link up both ways", || {
        head(&b.replica, c.replica.id()) == 1
    })
    .await;
    assert_eq!(head(&b.replica, x.replica.id()), 0);
    b.replica.trust_add(x.replica.id(), "x").unwrap();
    let xs = x.replica.store().range(&x.replica.id(), 1, 10).unwrap();
    let r = b.replica.import(xs).await.unwrap();
    assert!(r.refused.is_empty());
    wait_for("X's entries at C through B", || {
        head(&c.replica, x.replica.id()) == 3
    })
    .await;
    for n in [&x, &b, &c] {
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
    // No rate limit: the bulk log below is 2,000 new entries of one author.
    let node = Replica::open(
        store,
        SecretKey::from_seed(&[40; 32]),
        Arc::new(ProtoCodec),
        Limits {
            entries_per_author_per_minute: 0,
            ..Limits::default()
        },
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
            sealed: None,
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
        sealed: None,
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
            sealed: None,
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_entries_over_the_rate_limit_arrive_later() {
    // 120 new entries per author per minute: a bucket of 120, two a second.
    let a = node(70).await;
    let b = node_with(
        71,
        Limits {
            entries_per_author_per_minute: 120,
            ..Limits::default()
        },
    )
    .await;
    trust_each_other(&[&a, &b]);
    for i in 0..126 {
        a.replica
            .publish(format!("ev-{i}"), event("観光連携"), None)
            .await
            .unwrap();
    }
    b.peers.add(a.addr.clone(), Some(a.replica.id()));
    wait_for("the first bucketful", || {
        head(&b.replica, a.replica.id()) >= 120
    })
    .await;
    let c = b.replica.counters().snapshot();
    assert!(c.refused_rate > 0, "the rest was over the rate: {c:?}");
    assert!(head(&b.replica, a.replica.id()) < 126);
    // Nothing is lost: B asks again once the bucket refills.
    wait_for("the rest after the refill", || {
        head(&b.replica, a.replica.id()) == 126
    })
    .await;
    // Backfill (entries created long ago) is not limited.
    assert_eq!(b.replica.current(Kind::Event).unwrap().len(), 126);
    a.cancel.cancel();
    b.cancel.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_entries_are_backfill_and_not_rate_limited() {
    use yui_core::{Entry, EntryId, SignedEntry};
    use yui_sync::Codec;

    let node = node_with(
        72,
        Limits {
            entries_per_author_per_minute: 10,
            ..Limits::default()
        },
    )
    .await;
    let author = SecretKey::from_seed(&[73; 32]);
    let author_id = NodeId::new(author.public_key());
    node.replica.trust_add(author_id, "author").unwrap();
    let day_ago = yui_sync::now_ms() - 24 * 3_600_000;
    let sign = |seq: u64, prev: Option<EntryId>, created_at: i64| {
        let e = Entry {
            sealed: None,
            author: author_id,
            seq,
            prev,
            created_at,
            expires_at: None,
            object_id: format!("case-{seq}"),
            body: event("事例"),
        };
        SignedEntry::sign(ProtoCodec.encode_entry(&e), &author)
    };
    let mut prev: Option<EntryId> = None;
    let mut log = Vec::new();
    for seq in 1..=49u64 {
        // 40 created a day ago (a peer catching up, not a burst), then 9 new.
        let created_at = if seq <= 40 {
            day_ago
        } else {
            yui_sync::now_ms()
        };
        let s = sign(seq, prev, created_at);
        prev = Some(s.id());
        log.push(s);
    }
    let r = node.replica.ingest(log).await.unwrap();
    assert_eq!(r.accepted, 49, "{r:?}");
    // One token left. A forged entry in the author's name fails its
    // signature before the bucket is looked at, so it spends nothing.
    let mut forged = sign(50, prev, yui_sync::now_ms());
    forged.signature.0[0] ^= 1;
    let r = node.replica.ingest(vec![forged]).await.unwrap();
    assert!(matches!(r.refused[0], yui_sync::Refusal::Signature { .. }));
    let fiftieth = sign(50, prev, yui_sync::now_ms());
    let r = node.replica.ingest(vec![fiftieth.clone()]).await.unwrap();
    assert_eq!(r.accepted, 1, "the last token was still there: {r:?}");
    // An eleventh new entry within the minute is over.
    let r = node
        .replica
        .ingest(vec![sign(51, Some(fiftieth.id()), yui_sync::now_ms())])
        .await
        .unwrap();
    assert_eq!(r.accepted, 0);
    assert_eq!(r.retry_later.len(), 1, "{r:?}");
    assert_eq!(r.retry_later[0].1, 50, "re-request from the head");
    assert!(matches!(
        r.refused[0],
        yui_sync::Refusal::RateLimited { per_minute: 10, .. }
    ));
    assert_eq!(node.replica.counters().snapshot().refused_rate, 1);
    node.cancel.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_over_the_limit_ends_the_stream_with_resource_exhausted() {
    let target = node(74).await;
    let evil = node(75).await;
    trust_each_other(&[&target, &evil]);
    let mut conn = Connection::open(
        &evil.replica,
        &target.addr,
        Some(target.replica.id()),
        Role::Municipality,
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    // A Want naming thousands of random authors is trimmed, not stored.
    let junk: Vec<(Vec<u8>, u64)> = (0..5000u32)
        .map(|i| {
            let mut a = [0u8; 32];
            a[..4].copy_from_slice(&i.to_le_bytes());
            let author = NodeId::new(SecretKey::from_seed(&a).public_key());
            (author.as_bytes().to_vec(), 0)
        })
        .collect();
    conn.send_raw_want(junk).await.unwrap();
    wait_for("untrusted want heads counted", || {
        target.replica.counters().snapshot().limit_want_heads == 5000
    })
    .await;
    conn.send_raw_entries(vec![(vec![1], vec![0; 64]); 5000])
        .await
        .unwrap();
    let status = conn
        .wait_end()
        .await
        .expect_err("stream ended without a status");
    assert_eq!(status.code(), tonic::Code::ResourceExhausted, "{status:?}");
    assert!(status.message().contains("max_batch_entries"), "{status:?}");
    assert_eq!(target.replica.counters().snapshot().limit_batch_entries, 1);
    assert_eq!(target.replica.store().entry_count().unwrap(), 0);
    target.cancel.cancel();
    evil.cancel.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_over_max_streams_per_peer_is_refused() {
    let target = node(76).await;
    let greedy = node(77).await;
    trust_each_other(&[&target, &greedy]);
    let max = SessionConfig::default().max_streams_per_peer;
    let mut open = Vec::new();
    for _ in 0..max {
        open.push(
            Connection::open(
                &greedy.replica,
                &target.addr,
                Some(target.replica.id()),
                Role::Municipality,
                Duration::from_secs(5),
            )
            .await
            .unwrap(),
        );
    }
    let over = Connection::open(
        &greedy.replica,
        &target.addr,
        Some(target.replica.id()),
        Role::Municipality,
        Duration::from_secs(5),
    )
    .await;
    let err = over.err().expect("one stream too many").to_string();
    assert!(err.contains("max_streams_per_peer"), "{err}");
    assert_eq!(
        target.replica.counters().snapshot().limit_streams_per_peer,
        1
    );
    // A closed stream frees its place (once the listener sees it end).
    drop(open.pop());
    let mut again = None;
    for _ in 0..100 {
        if let Ok(c) = Connection::open(
            &greedy.replica,
            &target.addr,
            Some(target.replica.id()),
            Role::Municipality,
            Duration::from_secs(5),
        )
        .await
        {
            again = Some(c);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(again.is_some(), "the freed place was never given back");
    target.cancel.cancel();
    greedy.cancel.cancel();
}

/// Stock gRPC tooling works on the federation port: health checking reports
/// the Federation service, and server reflection (v1 and v1alpha) lists it
/// and serves its descriptors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_reflection_answer_stock_clients() {
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::health_client::HealthClient;
    use tonic_health::pb::HealthCheckRequest;
    use tonic_reflection::pb::{v1, v1alpha};

    let a = node(31).await;
    let (channel, _) = yui_net::client::open_channel(&a.addr).await.unwrap();
    let mut health = HealthClient::new(channel.clone());
    for service in ["", "yui.v1.Federation"] {
        let r = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(r.status(), ServingStatus::Serving, "service {service:?}");
    }
    let unknown = health
        .check(HealthCheckRequest {
            service: "no.such.Service".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::NotFound);

    // v1: list services, then fetch the file that defines Federation.
    let mut r1 = v1::server_reflection_client::ServerReflectionClient::new(channel.clone());
    let reqs = vec![
        v1::ServerReflectionRequest {
            host: String::new(),
            message_request: Some(v1::server_reflection_request::MessageRequest::ListServices(
                String::new(),
            )),
        },
        v1::ServerReflectionRequest {
            host: String::new(),
            message_request: Some(
                v1::server_reflection_request::MessageRequest::FileContainingSymbol(
                    "yui.v1.Federation".into(),
                ),
            ),
        },
    ];
    let mut answers = r1
        .server_reflection_info(futures::stream::iter(reqs))
        .await
        .unwrap()
        .into_inner();
    let listed = answers.message().await.unwrap().unwrap();
    let Some(v1::server_reflection_response::MessageResponse::ListServicesResponse(l)) =
        listed.message_response
    else {
        panic!("expected a service list, got {listed:?}");
    };
    let names: Vec<_> = l.service.iter().map(|s| s.name.as_str()).collect();
    for want in [
        "yui.v1.Federation",
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
    ] {
        assert!(names.contains(&want), "{want} not in {names:?}");
    }
    let file = answers.message().await.unwrap().unwrap();
    let Some(v1::server_reflection_response::MessageResponse::FileDescriptorResponse(f)) =
        file.message_response
    else {
        panic!("expected descriptors, got {file:?}");
    };
    let descriptors: Vec<prost_types::FileDescriptorProto> = f
        .file_descriptor_proto
        .iter()
        .map(|b| prost::Message::decode(b.as_slice()).unwrap())
        .collect();
    assert!(descriptors
        .iter()
        .any(|d| d.service.iter().any(|s| s.name() == "Federation") && d.package() == "yui.v1"));

    // v1alpha, which older tools still use.
    let mut ra = v1alpha::server_reflection_client::ServerReflectionClient::new(channel);
    let req = v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(
            v1alpha::server_reflection_request::MessageRequest::ListServices(String::new()),
        ),
    };
    let listed = ra
        .server_reflection_info(futures::stream::iter([req]))
        .await
        .unwrap()
        .into_inner()
        .message()
        .await
        .unwrap()
        .unwrap();
    let Some(v1alpha::server_reflection_response::MessageResponse::ListServicesResponse(l)) =
        listed.message_response
    else {
        panic!("expected a service list, got {listed:?}");
    };
    assert!(l.service.iter().any(|s| s.name == "yui.v1.Federation"));

    a.cancel.cancel();
}

/// Protocol 3 between real sessions: with more than `SUMMARY_FROM` authors
/// the dialer opens with a summary. Up to date, the exchange is two Want
/// messages of a few kilobytes; with a few authors apart, the changed
/// buckets' heads go both ways and both sides end with everything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_summary_opening_reconciles_many_authors() {
    use yui_core::{Entry, SignedEntry};
    use yui_sync::Codec;

    let a = node(91).await;
    let b = node(92).await;
    trust_each_other(&[&a, &b]);
    let n = yui_net::session::SUMMARY_FROM + 144;
    let day_ago = yui_sync::now_ms() - 24 * 3_600_000;
    let authors: Vec<SecretKey> = (0..n)
        .map(|i| {
            let mut seed = [93u8; 32];
            seed[..4].copy_from_slice(&(i as u32).to_be_bytes());
            SecretKey::from_seed(&seed)
        })
        .collect();
    let first = |k: &SecretKey| {
        let e = Entry {
            sealed: None,
            author: NodeId::new(k.public_key()),
            seq: 1,
            prev: None,
            created_at: day_ago,
            expires_at: None,
            object_id: "case-1".into(),
            body: event("広域連携の事例"),
        };
        SignedEntry::sign(ProtoCodec.encode_entry(&e), k)
    };
    for k in &authors {
        let id = NodeId::new(k.public_key());
        a.replica.trust_add(id, "member").unwrap();
        b.replica.trust_add(id, "member").unwrap();
    }
    let log: Vec<SignedEntry> = authors.iter().map(first).collect();
    // A holds every author's first entry, B all but three.
    assert_eq!(a.replica.ingest(log.clone()).await.unwrap().accepted, n);
    assert_eq!(
        b.replica.ingest(log[3..].to_vec()).await.unwrap().accepted,
        n - 3
    );
    let wants = |t: &TestNode| t.replica.counters().snapshot().sync_wants_sent;
    let bytes = |t: &TestNode| t.replica.counters().snapshot().sync_bytes_sent;

    b.peers.add(a.addr.clone(), Some(a.replica.id()));
    wait_for("the three missing authors at B", || {
        authors[..3]
            .iter()
            .all(|k| head(&b.replica, NodeId::new(k.public_key())) == 1)
    })
    .await;
    // A few buckets differed: summary, reply, the dialer's heads there.
    wait_for("three Wants", || wants(&a) + wants(&b) == 3).await;
    assert_eq!((wants(&b), wants(&a)), (2, 1));
    // Live afterwards, both ways.
    live_both_ways(&a, &b).await;

    // Up to date, a new connection: one summary, one empty reply.
    assert!(b.peers.remove(&a.addr));
    let (wb, wa, sent) = (wants(&b), wants(&a), bytes(&a) + bytes(&b));
    b.peers.add(a.addr.clone(), Some(a.replica.id()));
    wait_for("the summary and its reply", || {
        wants(&b) == wb + 1 && wants(&a) == wa + 1
    })
    .await;
    let reconcile = bytes(&a) + bytes(&b) - sent;
    assert!(
        reconcile < 2_000,
        "{reconcile} bytes to reconcile {n} authors"
    );
    // A trust change names only the newly trusted author, not all of them.
    let (wb, sent) = (wants(&b), bytes(&b));
    let newcomer = NodeId::new(SecretKey::from_seed(&[94; 32]).public_key());
    b.replica.trust_add(newcomer, "new member").unwrap();
    wait_for("B's Want for the newcomer", || wants(&b) == wb + 1).await;
    let restated = bytes(&b) - sent;
    assert!(restated < 200, "{restated} bytes to name one author");
    a.cancel.cancel();
    b.cancel.cancel();
}

/// Protocol 4: an urgent entry crosses on the lane even while the Sync
/// stream cannot move at all (this peer never reads it); the lane carries
/// only urgent entries, once per connection, in small batches.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn urgent_entries_cross_on_their_lane_while_the_sync_stream_is_full() {
    use yui_core::content::Readiness;
    use yui_core::{Entry, EntryId, SignedEntry};
    use yui_sync::Codec;

    let target = node_unlimited(90).await;
    let reader = node(91).await;
    trust_each_other(&[&target, &reader]);
    // About 9 MB of backlog: more than the Sync stream's windows and queues
    // hold, so the listener's writer there stops until the peer reads.
    let bulk = SecretKey::from_seed(&[92; 32]);
    let bulk_id = NodeId::new(bulk.public_key());
    target.replica.trust_add(bulk_id, "bulk").unwrap();
    reader.replica.trust_add(bulk_id, "bulk").unwrap();
    let long = "広域避難の受け入れ手順。".repeat(400);
    let mut prev: Option<EntryId> = None;
    let mut log = Vec::new();
    for seq in 1..=600u64 {
        let e = Entry {
            sealed: None,
            author: bulk_id,
            seq,
            prev,
            created_at: yui_sync::now_ms(),
            expires_at: None,
            object_id: format!("case-{seq}"),
            body: Body::Event(Event {
                title: LocalizedText::one("ja", "事例"),
                description: LocalizedText::one("ja", &long),
                start: "2027-02-10T10:00:00+09:00".into(),
                ..Default::default()
            }),
        };
        let s = SignedEntry::sign(ProtoCodec.encode_entry(&e), &bulk);
        prev = Some(s.id());
        log.push(s);
    }
    for chunk in log.chunks(100) {
        assert_eq!(
            target
                .replica
                .ingest(chunk.to_vec())
                .await
                .unwrap()
                .accepted,
            chunk.len()
        );
    }
    let mut conn = Connection::open(
        &reader.replica,
        &target.addr,
        Some(target.replica.id()),
        Role::Municipality,
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    assert_eq!(conn.peer.version, yui_net::handshake::PROTOCOL_VERSION);
    // The opening: this peer holds nothing of either author.
    conn.send_raw_want(vec![
        (bulk_id.as_bytes().to_vec(), 0),
        (target.replica.id().as_bytes().to_vec(), 0),
    ])
    .await
    .unwrap();
    // The listener's session takes the lane once it runs.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut lane = loop {
        match conn.open_lane().await {
            Ok(l) => break l,
            Err(s) => {
                assert_eq!(s.code(), tonic::Code::FailedPrecondition, "{s:?}");
                assert!(tokio::time::Instant::now() < deadline, "no lane: {s:?}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    let second = conn
        .open_lane()
        .await
        .err()
        .expect("a second lane on one connection");
    assert_eq!(second.code(), tonic::Code::FailedPrecondition, "{second:?}");
    assert!(
        second.message().contains("once per connection"),
        "{second:?}"
    );
    // The backlog fills the Sync stream; then the target is in a disaster.
    wait_for("the Sync stream to fill", || {
        target.replica.counters().snapshot().sync_bytes_sent > 3_000_000
    })
    .await;
    let now = yui_sync::now_ms();
    target
        .replica
        .publish(
            "readiness".into(),
            Body::Readiness(Readiness {
                as_of: now,
                valid_until: now + 3_600_000,
                alert_level: 4,
                ..Default::default()
            }),
            None,
        )
        .await
        .unwrap();
    let got = tokio::time::timeout(Duration::from_secs(20), lane.next_entries())
        .await
        .expect("the readiness did not come on the lane")
        .unwrap()
        .expect("the lane closed");
    assert_eq!(got.len(), 1);
    let e = ProtoCodec.decode_entry(&got[0].entry).unwrap();
    assert_eq!(
        (e.author, e.seq, e.kind()),
        (target.replica.id(), 1, Kind::Readiness)
    );
    assert_eq!(
        target.replica.counters().snapshot().sync_lane_entries_sent,
        1
    );
    // The Sync stream was never read: the backlog is still behind it.
    assert!(target.replica.counters().snapshot().sync_bytes_sent < 9_000_000);

    // A bulk batch on the lane is a protocol error that ends the session.
    let junk = vec![(vec![1u8], vec![0u8; 64]); yui_sync::SMALL_BATCH + 1];
    lane.send_raw_entries(junk).await.unwrap();
    let status = conn
        .wait_end()
        .await
        .expect_err("stream ended without a status");
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    assert!(status.message().contains("urgent lane batch"), "{status:?}");
    target.cancel.cancel();
    reader.cancel.cancel();
}

/// A backfill whose author runs straddle the batches: the batches are
/// verified side by side, yet each is stored only after the one before it
/// that shares an author, so nothing arrives out of order (no gap, no chain
/// refusal, no resend).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_sharing_authors_are_stored_in_order() {
    use yui_core::{Entry, EntryId, SignedEntry};
    use yui_sync::Codec;

    let a = node(80).await;
    let b = node(81).await;
    trust_each_other(&[&a, &b]);
    let authors: Vec<SecretKey> = (82..85).map(|s| SecretKey::from_seed(&[s; 32])).collect();
    let backlog = yui_sync::now_ms() - 2 * 3_600_000;
    for key in &authors {
        let id = NodeId::new(key.public_key());
        a.replica.trust_add(id, "author").unwrap();
        b.replica.trust_add(id, "author").unwrap();
        let mut prev: Option<EntryId> = None;
        let mut log = Vec::new();
        for seq in 1..=3000u64 {
            let e = Entry {
                sealed: None,
                author: id,
                seq,
                prev,
                created_at: backlog + seq as i64,
                expires_at: None,
                object_id: format!("case-{seq}"),
                body: event("連携事例"),
            };
            let s = SignedEntry::sign(ProtoCodec.encode_entry(&e), key);
            prev = Some(s.id());
            log.push(s);
        }
        for chunk in log.chunks(1000) {
            assert_eq!(
                a.replica.import(chunk.to_vec()).await.unwrap().accepted,
                1000
            );
        }
    }
    b.peers.add(a.addr.clone(), Some(a.replica.id()));
    wait_for("9,000 entries in several batches", || {
        authors
            .iter()
            .all(|k| head(&b.replica, NodeId::new(k.public_key())) == 3000)
    })
    .await;
    let c = b.replica.counters().snapshot();
    assert_eq!((c.gaps, c.refused_chain), (0, 0), "{c:?}");
    assert_eq!(c.accepted, 9000);
    a.cancel.cancel();
    b.cancel.cancel();
}

/// A node does not send a peer back the entries that peer just sent it:
/// the session notes what the peer holds before storing, whose events wake
/// its writer (noted after, the writer could echo each live update to its
/// author).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_is_not_sent_back_what_it_sent() {
    let a = node_unlimited(21).await;
    let b = node_unlimited(22).await;
    trust_each_other(&[&a, &b]);
    b.peers.add(a.addr.clone(), Some(a.replica.id()));
    for i in 0..100u64 {
        a.replica
            .publish(format!("drill-{i}"), event("合同防災訓練"), None)
            .await
            .unwrap();
        wait_for("the update at B", || {
            head(&b.replica, a.replica.id()) == i + 1
        })
        .await;
    }
    // A barrier: B's own entry reaches A after anything B queued for A
    // before it.
    b.replica
        .publish("barrier".into(), event("参加します"), None)
        .await
        .unwrap();
    wait_for("B's entry at A", || head(&a.replica, b.replica.id()) == 1).await;
    assert_eq!(
        a.replica.counters().snapshot().duplicate,
        0,
        "A was sent its own entries back"
    );
    a.cancel.cancel();
    b.cancel.cancel();
}
