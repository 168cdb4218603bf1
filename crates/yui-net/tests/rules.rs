//! The trust, log and validity rules one member must not be able to break,
//! checked on a replica fed entries as a peer would send them (memory store,
//! the real codec and ingest path).

use std::sync::Arc;

use yui_core::content::{Endorsement, Event, KeyRotation, Retraction, Revocation};
use yui_core::{Body, Entry, EntryId, Limits, LocalizedText, NodeId, SecretKey, SignedEntry};
use yui_net::ProtoCodec;
use yui_store::{KvStore, MemEngine};
use yui_sync::{Codec, Refusal, Replica};

fn key(seed: u8) -> SecretKey {
    SecretKey::from_seed(&[seed; 32])
}

fn id(k: &SecretKey) -> NodeId {
    NodeId::new(k.public_key())
}

fn replica(seed: u8) -> Arc<Replica> {
    let store = Arc::new(KvStore::open(MemEngine::new()).unwrap());
    Replica::open(store, key(seed), Arc::new(ProtoCodec), Limits::default()).unwrap()
}

/// One author's log as a peer would hold it.
struct Log {
    key: SecretKey,
    seq: u64,
    prev: Option<EntryId>,
}

impl Log {
    fn new(seed: u8) -> Self {
        Self {
            key: key(seed),
            seq: 0,
            prev: None,
        }
    }

    fn id(&self) -> NodeId {
        id(&self.key)
    }

    /// The next entry, appended to this log.
    fn next(&mut self, object_id: &str, body: Body) -> SignedEntry {
        let s = self.at(self.seq + 1, self.prev, object_id, body);
        self.seq += 1;
        self.prev = Some(s.id());
        s
    }

    /// An entry at any place, not appended (a fork, a broken chain).
    fn at(&self, seq: u64, prev: Option<EntryId>, object_id: &str, body: Body) -> SignedEntry {
        let e = Entry {
            sealed: None,
            author: self.id(),
            seq,
            prev,
            created_at: yui_sync::now_ms(),
            expires_at: None,
            object_id: object_id.into(),
            body,
        };
        SignedEntry::sign(ProtoCodec.encode_entry(&e), &self.key)
    }
}

/// A node that trusts only a relay, which endorsed `members` keys (seeds 2,
/// 3, …; object ids `endorsement-0`, `endorsement-1`, …), and their logs.
async fn relay_endorsing(members: u8) -> (Log, Vec<Log>, Arc<Replica>) {
    let mut relay = Log::new(1);
    let node = replica(9);
    node.trust_add(relay.id(), "関東広域連合").unwrap();
    let logs: Vec<Log> = (0..members).map(|i| Log::new(2 + i)).collect();
    let batch: Vec<SignedEntry> = logs
        .iter()
        .enumerate()
        .map(|(i, m)| relay.next(&format!("endorsement-{i}"), endorse(m.id(), "杉並区")))
        .collect();
    assert_eq!(node.ingest(batch).await.unwrap().accepted, members as usize);
    assert!(logs.iter().all(|m| node.is_trusted(&m.id())));
    (relay, logs, node)
}

/// A node that trusts one author (杉並区), and that author's log.
fn one_author() -> (Log, Arc<Replica>) {
    let a = Log::new(2);
    let node = replica(9);
    node.trust_add(a.id(), "杉並区").unwrap();
    (a, node)
}

fn event(title: &str) -> Body {
    Body::Event(Event {
        title: LocalizedText::one("ja", title),
        start: "2027-02-10T10:00:00+09:00".into(),
        ..Default::default()
    })
}

fn endorse(subject: NodeId, name: &str) -> Body {
    Body::Endorsement(Endorsement {
        subject,
        name: LocalizedText::one("ja", name),
        code: String::new(),
        country: "JP".into(),
    })
}

fn revoke(subject: NodeId) -> Body {
    Body::Revocation(Revocation {
        subject,
        reason: LocalizedText::one("ja", "鍵の漏えい"),
    })
}

fn retract() -> Body {
    Body::Retraction(Retraction {
        reason: LocalizedText::one("ja", "取り消し"),
    })
}

/// Relay R endorses members M1 and M2, who trust only R. M1 endorses R and
/// then revokes R and M2: nothing changes for anyone.
#[tokio::test]
async fn a_member_cannot_revoke_its_relay_or_another_member() {
    let (mut relay, mut members, node) = relay_endorsing(2).await;
    let (m2, mut m1) = (members.pop().unwrap(), members.pop().unwrap());
    let a = m1.next("endorsement-relay", endorse(relay.id(), "偽の名前"));
    let b = m1.next("endorsement-m2", endorse(m2.id(), "偽の町"));
    let c = m1.next("revocation-relay", revoke(relay.id()));
    let d = m1.next("revocation-m2", revoke(m2.id()));
    assert_eq!(node.ingest(vec![a, b, c, d]).await.unwrap().accepted, 4);
    assert!(node.is_trusted(&relay.id()), "the relay stays trusted");
    assert!(node.is_trusted(&m2.id()), "M2 stays trusted");
    assert!(!node.is_revoked(&relay.id()) && !node.is_revoked(&m2.id()));
    // Only the relay's endorsement names M2.
    assert!(node.trust_granted(&relay.id(), &m2.id()));
    assert!(!node.trust_granted(&m1.id(), &m2.id()));
    assert!(!node.trust_granted(&m1.id(), &relay.id()));
    // The relay, which granted M2 its trust, can revoke it.
    let r = relay.next("revocation-m2", revoke(m2.id()));
    node.ingest(vec![r]).await.unwrap();
    assert!(!node.is_trusted(&m2.id()));
}

/// A revocation and entries of the revoked key in one batch: the
/// revocation is stored, the entries after it are refused.
#[tokio::test]
async fn a_revocation_takes_effect_at_its_entry_inside_a_batch() {
    let (_relay, mut members, node) = relay_endorsing(1).await;
    let mut m = members.pop().unwrap();
    let before = m.next("ev-1", event("交流会"));
    let rev = m.next("revocation-self", revoke(m.id()));
    let after = m.next("ev-2", event("盗んだ鍵で"));
    let r = node.ingest(vec![before, rev, after]).await.unwrap();
    assert_eq!(r.accepted, 2, "{r:?}");
    assert!(
        r.refused
            .iter()
            .any(|x| matches!(x, Refusal::Untrusted(a) if *a == m.id())),
        "{r:?}"
    );
    assert_eq!(node.store().head(&m.id()).unwrap().unwrap().seq, 2);
    assert!(node.is_revoked(&m.id()));
}

/// A stolen key cannot undo its own revocation, and an endorser's
/// revocation stays when the endorser retracts or overwrites it.
#[tokio::test]
async fn revocations_are_final() {
    let (mut relay, mut members, node) = relay_endorsing(2).await;
    let (m2, mut m) = (members.pop().unwrap(), members.pop().unwrap());
    // A relay (another node) stored the self-revocation and its undoing
    // before this node heard of them: it would pass both on.
    let rev = m.next("revocation-self", revoke(m.id()));
    let undo = m.next("revocation-self", retract());
    node.ingest(vec![rev]).await.unwrap();
    let r = node.ingest(vec![undo.clone()]).await.unwrap();
    assert_eq!(r.accepted, 0);
    assert!(node.is_revoked(&m.id()) && !node.is_trusted(&m.id()));
    // The relay revokes M2, then retracts and overwrites the revocation.
    let rev = relay.next("revocation-m2", revoke(m2.id()));
    let undo = relay.next("revocation-m2", retract());
    let over = relay.next("revocation-m2", endorse(m2.id(), "南伊豆町"));
    assert_eq!(
        node.ingest(vec![rev, undo, over]).await.unwrap().accepted,
        3
    );
    assert!(node.is_revoked(&m2.id()) && !node.is_trusted(&m2.id()));
    // Reopened from the same entries (another node, another order): same.
    let other = replica(10);
    other.trust_add(relay.id(), "関東広域連合").unwrap();
    let mut all = Vec::new();
    for s in 1..=relay.seq {
        all.push(node.store().get(&relay.id(), s).unwrap().unwrap());
    }
    other.ingest(all).await.unwrap();
    assert!(other.is_revoked(&m2.id()));
}

/// Two different entries at one new seq in one batch are a fork: evidence
/// kept, nothing at that seq stored, the log stopped.
#[tokio::test]
async fn a_fork_at_a_new_seq_inside_one_batch_is_evidence() {
    let (mut a, node) = one_author();
    let one = a.next("ev-1", event("一"));
    node.ingest(vec![one.clone()]).await.unwrap();
    let a2 = a.at(2, Some(one.id()), "ev-2", event("二"));
    let b2 = a.at(2, Some(one.id()), "ev-2", event("別の二"));
    let r = node.ingest(vec![a2.clone(), b2.clone()]).await.unwrap();
    assert_eq!((r.accepted, r.forks), (0, 1), "{r:?}");
    assert!(r.gaps.is_empty(), "a fork is not a gap: {r:?}");
    assert_eq!(node.store().head(&a.id()).unwrap().unwrap().seq, 1);
    assert_eq!(node.store().forked_at(&a.id()).unwrap(), Some(2));
    let forks = node.store().forks().unwrap();
    assert_eq!(forks.len(), 1);
    let ids = [forks[0].first.id(), forks[0].second.id()];
    assert!(ids.contains(&a2.id()) && ids.contains(&b2.id()));
    // The log is stopped: the next entry on either branch is refused.
    let a3 = a.at(3, Some(a2.id()), "ev-3", event("三"));
    let r = node.ingest(vec![a3]).await.unwrap();
    assert!(
        matches!(r.refused[..], [Refusal::Forked { at: 2, .. }]),
        "{r:?}"
    );
}

/// An entry at head + 1 whose prev names another entry than the head is
/// fork evidence (the author signed a second history), not a dropped entry;
/// the pair is accepted as evidence by a node that holds neither.
#[tokio::test]
async fn a_prev_mismatch_at_the_next_seq_is_fork_evidence() {
    let (mut a, node) = one_author();
    let one = a.next("ev-1", event("一"));
    let two = a.next("ev-2", event("二"));
    node.ingest(vec![one.clone(), two.clone()]).await.unwrap();
    let other2 = a.at(2, Some(one.id()), "ev-2", event("別の二"));
    let three = a.at(3, Some(other2.id()), "ev-3", event("三"));
    let r = node.ingest(vec![three.clone()]).await.unwrap();
    assert_eq!((r.accepted, r.forks), (0, 1), "{r:?}");
    assert!(r.refused.is_empty() && r.gaps.is_empty(), "{r:?}");
    assert_eq!(node.store().forked_at(&a.id()).unwrap(), Some(3));
    // Passed on, the pair is evidence elsewhere too.
    let f = node.store().forks().unwrap().remove(0);
    let elsewhere = replica(10);
    elsewhere.trust_add(a.id(), "杉並区").unwrap();
    assert!(elsewhere
        .accept_fork_evidence(f.first.clone(), f.second.clone())
        .unwrap());
    assert_eq!(elsewhere.store().forked_at(&a.id()).unwrap(), Some(3));
    // Two entries that do follow each other are no evidence.
    assert!(elsewhere.accept_fork_evidence(one, two).is_err());
}

/// A thief holding a forked key signs recovery after recovery: few are
/// kept, none moves the identity; the owner's, whose new key the relay
/// endorsed, does.
#[tokio::test]
async fn a_thief_cannot_win_or_flood_fork_recovery() {
    let (mut relay, mut members, node) = relay_endorsing(1).await;
    let mut m = members.pop().unwrap();
    let one = m.next("ev-1", event("一"));
    node.ingest(vec![one.clone()]).await.unwrap();
    let fork = m.at(1, None, "ev-1", event("別の一"));
    assert_eq!(node.ingest(vec![fork]).await.unwrap().forks, 1);
    let rotation = |seq: u64, new: &SecretKey| {
        m.at(
            seq,
            Some(one.id()),
            "rotation",
            Body::KeyRotation(KeyRotation::new(&m.id(), new)),
        )
    };
    let mut kept = 0;
    for i in 0..40u8 {
        let r = node
            .ingest(vec![rotation(100 + u64::from(i), &key(100 + i))])
            .await
            .unwrap();
        kept += r.recoveries.len();
    }
    assert_eq!(kept, yui_sync::MAX_RECOVERIES, "recoveries are bounded");
    assert_eq!(node.current_key(&m.id()), m.id(), "no thief's key won");
    // The owner's new key, endorsed by the relay, wins past the bound.
    let owner = key(200);
    let e = relay.next("endorsement-m-new", endorse(id(&owner), "杉並区"));
    node.ingest(vec![e]).await.unwrap();
    let r = node.ingest(vec![rotation(2, &owner)]).await.unwrap();
    assert_eq!(r.recoveries.len(), 1, "{r:?}");
    assert_eq!(node.current_key(&m.id()), id(&owner));
}

/// After a restore the hold lifts only on a peer that holds the own log at
/// least as far as the backup did, once caught up with it: a stale peer or
/// one holding none of the node's entries proves nothing.
#[tokio::test]
async fn only_a_peer_holding_the_backups_head_lifts_the_publishing_hold() {
    let node = replica(9);
    for i in 1..=3 {
        node.publish(format!("ev-{i}"), event("復旧前"), None)
            .await
            .unwrap();
    }
    node.hold_publishing(3);
    for stale in [0, 1, 2] {
        node.note_own_claim(stale).unwrap();
        assert!(node.is_held(), "a claim of {stale} lifted the hold");
    }
    // A peer holds 5: held until this node has caught up to 5.
    node.note_own_claim(5).unwrap();
    assert!(node.is_held());
    let err = node.publish("early".into(), event("早すぎる"), None).await;
    assert!(matches!(err, Err(yui_sync::PublishError::Held)), "{err:?}");
    // A peer at exactly the backup's head is evidence too, but the claim
    // of 5 still stands until this node holds it.
    node.note_own_claim(3).unwrap();
    assert!(node.is_held());
    node.release_hold();
    assert!(!node.is_held());
    // A node restored from a backup that held nothing lifts only on a
    // peer holding at least one of its entries.
    let fresh = replica(11);
    fresh.hold_publishing(0);
    fresh.note_own_claim(0).unwrap();
    assert!(fresh.is_held());
}

/// Cheap checks first: an untrusted author's entry is refused as untrusted
/// before its fields are walked (a text with thousands of languages costs a
/// lookup), and duplicate languages are found in any case.
#[tokio::test]
async fn untrusted_entries_are_refused_before_their_fields_are_checked() {
    let node = replica(9);
    let mut stranger = Log::new(40);
    let many: Vec<(String, String)> = (0..3000)
        .map(|i| (format!("x-{i}"), "a".into()))
        .chain(std::iter::once(("X-0".to_owned(), "い".to_owned())))
        .collect();
    let body = Body::Event(Event {
        title: LocalizedText(many),
        start: "2027-02-10T10:00:00+09:00".into(),
        ..Default::default()
    });
    let e = stranger.next("ev-1", body.clone());
    let r = node.ingest(vec![e]).await.unwrap();
    assert!(matches!(r.refused[..], [Refusal::Untrusted(_)]), "{r:?}");
    // Trusted, the same body is invalid: X-0 repeats x-0.
    node.trust_add(stranger.id(), "").unwrap();
    let mut again = Log::new(40);
    let e = again.next("ev-1", body);
    let r = node.ingest(vec![e]).await.unwrap();
    assert!(matches!(r.refused[..], [Refusal::Invalid(_)]), "{r:?}");
}

fn raw_entry(log: &Log, seq: u64, prev: Option<EntryId>, created_at: i64) -> Entry {
    Entry {
        sealed: None,
        author: log.id(),
        seq,
        prev,
        created_at,
        expires_at: None,
        object_id: format!("ev-{seq}"),
        body: event("未来の行事"),
    }
}

/// An entry from the future is not refused for good: the author's run
/// waits (no gap, so no resend loop) and is asked for again when its time
/// has come. A forged one delays nobody.
#[tokio::test]
async fn an_entry_from_the_future_waits_instead_of_stalling_the_log() {
    let (mut a, node) = one_author();
    let one = a.next("ev-1", event("一"));
    node.ingest(vec![one.clone()]).await.unwrap();
    let ahead = yui_sync::now_ms() + 30 * 60 * 1000;
    let two = SignedEntry::sign(
        ProtoCodec.encode_entry(&raw_entry(&a, 2, Some(one.id()), ahead)),
        &a.key,
    );
    let three = SignedEntry::sign(
        ProtoCodec.encode_entry(&raw_entry(&a, 3, Some(two.id()), ahead)),
        &a.key,
    );
    let r = node.ingest(vec![two.clone(), three]).await.unwrap();
    assert_eq!(r.accepted, 0);
    assert!(r.gaps.is_empty(), "no gap, so no immediate resend: {r:?}");
    assert!(
        r.refused
            .iter()
            .all(|x| matches!(x, Refusal::NotYet { .. })),
        "{r:?}"
    );
    assert_eq!(r.retry_later.len(), 1, "{r:?}");
    let (author, head, wait) = r.retry_later[0];
    assert_eq!((author, head), (a.id(), 1));
    assert!(wait >= std::time::Duration::from_secs(60), "{wait:?}");
    assert!(node.declined().is_empty(), "not declined: only early");
    // Forged: no delay for anyone.
    let mut forged = two;
    forged.signature.0[3] ^= 1;
    let r = node.ingest(vec![forged]).await.unwrap();
    assert!(r.retry_later.is_empty());
    assert!(
        matches!(r.refused[..], [Refusal::Signature { .. }]),
        "{r:?}"
    );
}

/// A body this release does not know (a newer kind) is stored and forwarded
/// as an unknown kind, so an older node keeps the author's log whole.
#[tokio::test]
async fn a_newer_kind_is_stored_and_passed_on() {
    use prost::Message;
    let (mut a, node) = one_author();
    let one = a.next("ev-1", event("一"));
    let mut pb = yui_net::codec::entry_to_pb(&raw_entry(&a, 2, Some(one.id()), yui_sync::now_ms()));
    pb.body = None;
    let mut bytes = pb.encode_to_vec();
    bytes.extend_from_slice(&[0xc2, 0x02, 0x03, 0x0a, 0x01, 0x41]); // field 40
    let two = SignedEntry::sign(bytes, &a.key);
    a.seq = 2;
    a.prev = Some(two.id());
    let three = a.next("ev-3", event("三"));
    let r = node.ingest(vec![one, two.clone(), three]).await.unwrap();
    assert_eq!(r.accepted, 3, "{r:?}");
    let held = node.read(&a.id(), 2).unwrap().unwrap();
    assert_eq!(held.signed, two, "kept as it came");
    assert_eq!(held.entry.body.kind(), yui_core::Kind::Unknown);
    assert_eq!(node.current(yui_core::Kind::Unknown).unwrap().len(), 1);
    // It cannot be published here.
    let r = node
        .publish("x".into(), held.entry.body.clone(), None)
        .await;
    assert!(
        matches!(r, Err(yui_sync::PublishError::Invalid(_))),
        "{r:?}"
    );
}

/// A signed entry that breaks a rule at the author's next seq: the node
/// declines the log from there (shown in status), and entries past it are
/// not re-requested (no gaps), so a peer offering them costs nothing more.
#[tokio::test]
async fn a_signed_invalid_entry_declines_the_log_without_a_resend_loop() {
    let (mut a, node) = one_author();
    let one = a.next("ev-1", event("一"));
    node.ingest(vec![one]).await.unwrap();
    let bad = Body::Event(Event {
        title: LocalizedText(vec![("ja".into(), "二".into()), ("JA".into(), "2".into())]),
        start: "2027-02-10T10:00:00+09:00".into(),
        ..Default::default()
    });
    // Forged first: declines nothing.
    let mut forged = a.at(2, a.prev, "ev-2", bad.clone());
    forged.signature.0[0] ^= 1;
    node.ingest(vec![forged]).await.unwrap();
    assert!(node.declined().is_empty());
    let two = a.next("ev-2", bad);
    let three = a.next("ev-3", event("三"));
    let r = node.ingest(vec![two, three.clone()]).await.unwrap();
    assert!(matches!(r.refused[..], [Refusal::Invalid(_)]), "{r:?}");
    assert!(r.gaps.is_empty(), "{r:?}");
    let d = node.declined();
    assert_eq!((d.len(), d[0].0, d[0].1), (1, a.id(), 2), "{d:?}");
    // Offered again: refused again, still no gap.
    let r = node.ingest(vec![three]).await.unwrap();
    assert!(r.gaps.is_empty(), "{r:?}");
}

/// An endorser retracting its endorsement takes trust away at that entry:
/// the member's entries after it in the same batch are refused, and a batch
/// of many endorsements is still stored whole.
#[tokio::test]
async fn a_retracted_endorsement_takes_effect_inside_the_batch() {
    let (mut relay, mut members, node) = relay_endorsing(1).await;
    let mut m = members.pop().unwrap();
    let batch: Vec<SignedEntry> = (0..50u8)
        .map(|i| {
            let other = id(&key(100 + i));
            relay.next(&format!("endorsement-other-{i}"), endorse(other, "町"))
        })
        .collect();
    assert_eq!(node.ingest(batch).await.unwrap().accepted, 50);
    let before = m.next("ev-1", event("交流会"));
    node.ingest(vec![before]).await.unwrap();
    let withdraw = relay.next("endorsement-0", retract());
    let after = m.next("ev-2", event("取り消し後"));
    // The relay's retraction and the member's entry arrive together.
    let r = node.ingest(vec![withdraw, after]).await.unwrap();
    assert_eq!(r.accepted, 1, "{r:?}");
    assert!(
        matches!(r.refused[..], [Refusal::Untrusted(a)] if a == m.id()),
        "{r:?}"
    );
    assert!(!node.is_trusted(&m.id()));
}

/// A bundle import (`ingest_pipelined`) prepares later batches on several
/// threads while earlier ones are stored: every batch still lands in
/// order (each member's chain runs across all of them), and a trust
/// change in one batch applies to the batches prepared before it landed,
/// exactly as ingesting the batches one by one.
#[tokio::test]
async fn pipelined_batches_land_in_order_and_see_trust_changes_between_them() {
    let (mut relay, mut members, pipelined) = relay_endorsing(3).await;
    let one_by_one = {
        // The same start on a second node: the relay's first entries.
        let node = replica(9);
        node.trust_add(relay.id(), "関東広域連合").unwrap();
        let start: Vec<SignedEntry> = (0..relay.seq)
            .map(|s| pipelined.store().get(&relay.id(), s + 1).unwrap().unwrap())
            .collect();
        assert_eq!(node.ingest(start).await.unwrap().accepted, 3);
        node
    };
    let mut newcomer = Log::new(20);
    let revoked = members.pop().unwrap().id();
    let mut batches: Vec<Vec<SignedEntry>> = Vec::new();
    for b in 0..24 {
        let mut batch: Vec<SignedEntry> = Vec::new();
        for m in members.iter_mut() {
            batch.push(m.next(&format!("event-{b}"), event("合同防災訓練")));
        }
        if b >= 10 {
            batch.push(newcomer.next(&format!("event-{b}"), event("姉妹都市交流")));
        }
        match b {
            8 => batch.push(relay.next("endorsement-new", endorse(newcomer.id(), "恵那市"))),
            12 => batch.push(relay.next("revocation-m3", revoke(revoked))),
            _ => {}
        }
        batches.push(batch);
    }
    // The revoked member's entries, offered after its revocation.
    let late = Log::new(4);
    assert_eq!(late.id(), revoked);
    for batch in &mut batches[13..] {
        batch.push(late.at(1, None, "late", event("盗んだ鍵で")));
    }
    let mut reports = Vec::new();
    let all = batches.clone();
    let p = pipelined.clone();
    tokio::task::spawn_blocking(move || {
        p.ingest_pipelined(all, true, |r| reports.push(r))
            .map(|()| reports)
    })
    .await
    .unwrap()
    .unwrap()
    .into_iter()
    .zip(batches)
    .for_each(|(r, batch)| {
        let expected = one_by_one.ingest_blocking(batch).unwrap();
        assert_eq!(r.accepted, expected.accepted, "{r:?} / {expected:?}");
        assert_eq!(
            r.refused.len(),
            expected.refused.len(),
            "{r:?} / {expected:?}"
        );
    });
    for log in members.iter().chain([&relay, &newcomer]) {
        let head = pipelined.store().head(&log.id()).unwrap().unwrap();
        assert_eq!(head.seq, log.seq, "every batch landed in order");
        assert_eq!(one_by_one.store().head(&log.id()).unwrap(), Some(head));
    }
    assert!(pipelined.is_trusted(&newcomer.id()));
    assert!(!pipelined.is_trusted(&revoked));
    assert_eq!(pipelined.store().head(&revoked).unwrap(), None);
}

/// The next entry of `log`, event `n`, written a day ago: backfill, not
/// rate limited.
fn backfill(log: &mut Log, n: u64) -> SignedEntry {
    let e = Entry {
        sealed: None,
        author: log.id(),
        seq: log.seq + 1,
        prev: log.prev,
        created_at: yui_sync::now_ms() - 24 * 3600 * 1000 + n as i64,
        expires_at: None,
        object_id: format!("event-{n}"),
        body: event("交流会"),
    };
    let s = SignedEntry::sign(ProtoCodec.encode_entry(&e), &log.key);
    log.seq += 1;
    log.prev = Some(s.id());
    s
}

/// A small write (one entry, a readiness update) that waits for the write
/// lock while a bulk batch is being stored goes in between two slices of
/// it, and both logs come out whole: the bulk author's chain unbroken, every
/// small entry stored once.
#[test]
fn a_small_write_goes_between_the_slices_of_a_bulk_batch() {
    let mut bulk = Log::new(2);
    let mut small = Log::new(3);
    let node = replica(9);
    node.trust_add(bulk.id(), "杉並区").unwrap();
    node.trust_add(small.id(), "南相馬市").unwrap();
    let mut small_sent = 0u64;
    // A few attempts at most: each stores 3,000 entries in one batch while
    // single entries keep arriving; one overlap is enough.
    for attempt in 0..5u64 {
        let batch: Vec<SignedEntry> = (0..3000)
            .map(|i| backfill(&mut bulk, attempt * 3000 + i))
            .collect();
        let n = node.clone();
        let t = std::thread::spawn(move || n.ingest_blocking(batch).unwrap());
        while !t.is_finished() {
            let one = backfill(&mut small, small_sent);
            let r = node.ingest_blocking(vec![one]).unwrap();
            assert_eq!((r.accepted, r.refused.len()), (1, 0));
            small_sent += 1;
        }
        let r = t.join().unwrap();
        assert_eq!(r.accepted, 3000);
        assert!(r.refused.is_empty() && r.gaps.is_empty() && r.forks == 0);
        if node.counters().snapshot().bulk_yields > 0 {
            break;
        }
    }
    assert!(
        node.counters().snapshot().bulk_yields > 0,
        "no small write went between slices"
    );
    let head = node.store().head(&bulk.id()).unwrap().unwrap();
    assert_eq!((head.seq, Some(head.id)), (bulk.seq, bulk.prev));
    let head = node.store().head(&small.id()).unwrap().unwrap();
    assert_eq!((head.seq, Some(head.id)), (small_sent, small.prev));
    // The chain is whole: every entry of the bulk author there, in order.
    let all = node
        .store()
        .range(&bulk.id(), 1, bulk.seq as usize)
        .unwrap();
    assert_eq!(all.len() as u64, bulk.seq);
    for (i, w) in all.windows(2).enumerate() {
        let later = ProtoCodec.decode_entry(&w[1].entry).unwrap();
        assert_eq!((later.seq, later.prev), (i as u64 + 2, Some(w[0].id())));
    }
}

/// Checking a bulk batch the node already holds (a relay offered the same
/// backfill by two peers) reads the store for every entry; a small write
/// that comes meanwhile goes in between as well, instead of waiting for
/// the whole batch to be looked at.
#[test]
fn a_small_write_goes_between_a_bulk_batch_of_duplicates() {
    let mut bulk = Log::new(4);
    let mut small = Log::new(5);
    let node = replica(9);
    node.trust_add(bulk.id(), "杉並区").unwrap();
    node.trust_add(small.id(), "南相馬市").unwrap();
    let batch: Vec<SignedEntry> = (0..3000).map(|i| backfill(&mut bulk, i)).collect();
    assert_eq!(node.ingest_blocking(batch.clone()).unwrap().accepted, 3000);
    let before = node.counters().snapshot().bulk_yields;
    let mut small_sent = 0u64;
    for _ in 0..5 {
        let (n, again) = (node.clone(), batch.clone());
        let t = std::thread::spawn(move || n.ingest_blocking(again).unwrap());
        while !t.is_finished() {
            let one = backfill(&mut small, small_sent);
            let r = node.ingest_blocking(vec![one]).unwrap();
            assert_eq!((r.accepted, r.refused.len()), (1, 0));
            small_sent += 1;
        }
        let r = t.join().unwrap();
        assert_eq!((r.accepted, r.duplicates), (0, 3000), "{r:?}");
        if node.counters().snapshot().bulk_yields > before {
            break;
        }
    }
    assert!(
        node.counters().snapshot().bulk_yields > before,
        "no small write went between the duplicates"
    );
    let head = node.store().head(&bulk.id()).unwrap().unwrap();
    assert_eq!((head.seq, Some(head.id)), (3000, bulk.prev));
    let head = node.store().head(&small.id()).unwrap().unwrap();
    assert_eq!((head.seq, Some(head.id)), (small_sent, small.prev));
}
