//! Protocol 5, lazy push between relays, over real TLS on loopback: what a
//! relay got from another relay reaches a third relay as a head (`Have`),
//! not as entries, when the author's own relay pushes to it directly; and
//! when it does not, the third relay asks for it (a graft) and gets it.

use yui_core::Limits;
use yui_net::Role;

mod common;
use common::{event, head, node, node_as, trust_each_other, wait_for, TestNode};

async fn relay(seed: u8) -> TestNode {
    node_as(seed, Limits::default(), Role::Relay).await
}

fn counters(n: &TestNode) -> yui_sync::CountersSnapshot {
    n.replica.counters().snapshot()
}

/// Relays A, B, C meshed, a municipality M on A. M's entry goes M → A →
/// B and C; B announces it to C (and C to B) instead of sending it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_announces_what_another_relay_sent_instead_of_pushing_it() {
    let (a, b, c) = (relay(51).await, relay(52).await, relay(53).await);
    let m = node(54).await;
    trust_each_other(&[&a, &b, &c, &m]);
    m.peers.add(a.addr.clone(), None);
    b.peers.add(a.addr.clone(), None);
    c.peers.add(a.addr.clone(), None);
    c.peers.add(b.addr.clone(), None);
    // Every link's session runs before the entry is published.
    wait_for("sessions answered", || {
        counters(&a).sync_wants_sent >= 3
            && counters(&b).sync_wants_sent >= 2
            && counters(&c).sync_wants_sent >= 2
    })
    .await;
    let before_b = counters(&b);
    let before_c = counters(&c);
    m.replica
        .publish("drill".into(), event("合同防災訓練"), None)
        .await
        .unwrap();
    let id = m.replica.id();
    wait_for("M's entry at B and C", || {
        head(&b.replica, id) == 1 && head(&c.replica, id) == 1
    })
    .await;
    // B or C (whichever held it first) announced it to the other.
    wait_for("a head announced", || {
        counters(&b).sync_heads_announced + counters(&c).sync_heads_announced
            > before_b.sync_heads_announced + before_c.sync_heads_announced
    })
    .await;
    // Each of B and C stored it once and was sent it once: by A.
    let (after_b, after_c) = (counters(&b), counters(&c));
    assert_eq!(after_b.accepted - before_b.accepted, 1);
    assert_eq!(after_c.accepted - before_c.accepted, 1);
    assert_eq!(
        (after_b.duplicate - before_b.duplicate) + (after_c.duplicate - before_c.duplicate),
        0,
        "no relay was sent the entry twice"
    );
    assert_eq!(after_b.sync_grafts + after_c.sync_grafts, 0);
    for n in [&a, &b, &c, &m] {
        n.cancel.cancel();
    }
}

/// Relays A – B – C in a line (no A – C link), M on A: B announces M's
/// entry to C, and C, which gets it no other way, asks B for it after the
/// grace time; later entries of M then flow B → C eagerly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_asks_for_an_announced_head_it_does_not_get_otherwise() {
    let (a, b, c) = (relay(61).await, relay(62).await, relay(63).await);
    let m = node(64).await;
    trust_each_other(&[&a, &b, &c, &m]);
    m.peers.add(a.addr.clone(), None);
    b.peers.add(a.addr.clone(), None);
    c.peers.add(b.addr.clone(), None);
    wait_for("sessions answered", || {
        counters(&a).sync_wants_sent >= 2
            && counters(&b).sync_wants_sent >= 2
            && counters(&c).sync_wants_sent >= 1
    })
    .await;
    let id = m.replica.id();
    m.replica
        .publish("drill".into(), event("合同防災訓練"), None)
        .await
        .unwrap();
    wait_for("M's entry at C", || head(&c.replica, id) == 1).await;
    assert!(counters(&b).sync_heads_announced >= 1, "B announced it");
    assert!(counters(&c).sync_grafts >= 1, "C asked for it");
    // A graft makes the author eager on that link: the next entry comes
    // without another announcement and graft.
    let grafts = counters(&c).sync_grafts;
    m.replica
        .publish("drill-2".into(), event("防災訓練の報告"), None)
        .await
        .unwrap();
    wait_for("M's second entry at C", || head(&c.replica, id) == 2).await;
    assert_eq!(counters(&c).sync_grafts, grafts);
    for n in [&a, &b, &c, &m] {
        n.cancel.cancel();
    }
}
