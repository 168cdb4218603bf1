//! The conformance suite every [`Store`] engine must pass.
//!
//! Call [`run`] with a function that makes a fresh, empty store; persistent
//! engines also call [`run_reopen`] with a function that reopens the same data.

use yui_core::{EntryId, Kind, NodeId, SecretKey, SignedEntry};

use crate::records::{ForkRecord, IndexedEntry, PeerRecord, TrustRecord};
use crate::{Store, StoreError};

/// A signed test entry: the bytes are arbitrary (stores never decode them).
pub fn entry(
    key: &SecretKey,
    seq: u64,
    prev: Option<EntryId>,
    kind: Kind,
    object_id: &str,
) -> IndexedEntry {
    let signed = SignedEntry::sign(format!("test entry {seq} {object_id}").into_bytes(), key);
    IndexedEntry {
        id: signed.id(),
        author: NodeId::new(key.public_key()),
        seq,
        prev,
        kind,
        object_id: object_id.to_owned(),
        created_at: 1_800_000_000_000 + seq as i64,
        signed,
    }
}

/// A chain of `n` event entries, each for its own object.
pub fn chain(key: &SecretKey, n: u64) -> Vec<IndexedEntry> {
    let mut out: Vec<IndexedEntry> = Vec::new();
    for seq in 1..=n {
        let prev = out.last().map(|e| e.id);
        out.push(entry(key, seq, prev, Kind::Event, &format!("event-{seq}")));
    }
    out
}

/// Runs every check against fresh stores from `fresh`.
pub fn run<S: Store>(fresh: impl Fn() -> S) {
    empty_store(&fresh());
    append_and_read(&fresh());
    refuses_broken_chains_and_changes_nothing(&fresh());
    batches_are_atomic(&fresh());
    current_object_versions(&fresh());
    forks(&fresh());
    revocations_are_final(&fresh());
    trust_and_peers(&fresh());
    arrivals(&fresh());
}

/// How runs of entries arrived: the run holding a seq is found, whatever
/// its neighbours, and seqs outside every run have none.
fn arrivals<S: Store>(s: &S) {
    use crate::records::{Arrival, ArrivalSource};
    let key = SecretKey::from_seed(&[8; 32]);
    let other = SecretKey::from_seed(&[9; 32]);
    let author = NodeId::new(key.public_key());
    let peer = NodeId::new(other.public_key());
    s.append(&chain(&key, 30)).unwrap();
    s.record_arrivals(&[
        Arrival {
            author,
            first_seq: 1,
            last_seq: 10,
            at: 100,
            source: ArrivalSource::Published,
        },
        Arrival {
            author,
            first_seq: 11,
            last_seq: 20,
            at: 200,
            source: ArrivalSource::Peer(peer),
        },
        Arrival {
            author,
            first_seq: 25,
            last_seq: 30,
            at: 300,
            source: ArrivalSource::Import,
        },
    ])
    .unwrap();
    let a = |seq| s.arrival(&author, seq).unwrap();
    assert_eq!(a(1).unwrap().source, ArrivalSource::Published);
    assert_eq!(a(10).unwrap().at, 100);
    assert_eq!(a(11).unwrap().source, ArrivalSource::Peer(peer));
    assert_eq!(a(20).unwrap().first_seq, 11);
    assert_eq!(a(22), None, "no run holds 21-24");
    assert_eq!(a(30).unwrap().source, ArrivalSource::Import);
    assert_eq!(a(31), None);
    assert_eq!(s.arrival(&peer, 1).unwrap(), None);
}

/// Checks that what was appended and flushed survives a reopen.
pub fn run_reopen<S: Store>(open: impl Fn() -> S) {
    let key = SecretKey::from_seed(&[42; 32]);
    let entries = chain(&key, 5);
    {
        let s = open();
        s.append(&entries).unwrap();
        s.trust_put(
            &NodeId::new(key.public_key()),
            &TrustRecord {
                name: "Kobe".into(),
                added_at: 1,
            },
        )
        .unwrap();
        s.flush().unwrap();
    }
    let s = open();
    let author = NodeId::new(key.public_key());
    assert_eq!(s.head(&author).unwrap().unwrap().seq, 5);
    assert_eq!(s.entry_count().unwrap(), 5);
    assert_eq!(s.range(&author, 1, 10).unwrap().len(), 5);
    assert_eq!(s.trust_list().unwrap().len(), 1);
    // And the chain goes on from there.
    let next = entry(&key, 6, Some(entries[4].id), Kind::Event, "event-6");
    s.append(&[next]).unwrap();
}

fn empty_store(s: &dyn Store) {
    let a = NodeId::new(SecretKey::from_seed(&[1; 32]).public_key());
    assert!(s.heads().unwrap().is_empty());
    assert!(s.head(&a).unwrap().is_none());
    assert!(s.get(&a, 1).unwrap().is_none());
    assert!(s.range(&a, 1, 10).unwrap().is_empty());
    assert_eq!(s.entry_count().unwrap(), 0);
    assert_eq!(s.entry_bytes().unwrap(), 0);
    assert!(s.current(Kind::Event).unwrap().is_empty());
    assert!(s.forks().unwrap().is_empty());
}

fn append_and_read(s: &dyn Store) {
    let ka = SecretKey::from_seed(&[1; 32]);
    let kb = SecretKey::from_seed(&[2; 32]);
    let a = chain(&ka, 3);
    let b = chain(&kb, 2);
    // Interleaved authors in one batch.
    s.append(&[
        a[0].clone(),
        b[0].clone(),
        a[1].clone(),
        b[1].clone(),
        a[2].clone(),
    ])
    .unwrap();
    let (ida, idb) = (a[0].author, b[0].author);
    assert_eq!(s.head(&ida).unwrap().unwrap().seq, 3);
    assert_eq!(s.head(&ida).unwrap().unwrap().id, a[2].id);
    assert_eq!(s.head(&idb).unwrap().unwrap().seq, 2);
    let mut heads = s.heads().unwrap();
    heads.sort_by_key(|(_, h)| h.seq);
    assert_eq!(heads.len(), 2);
    assert_eq!(s.get(&ida, 2).unwrap().unwrap(), a[1].signed);
    let r = s.range(&ida, 2, 10).unwrap();
    assert_eq!(r, vec![a[1].signed.clone(), a[2].signed.clone()]);
    assert_eq!(s.range(&ida, 1, 1).unwrap(), vec![a[0].signed.clone()]);
    assert!(s.range(&ida, 4, 10).unwrap().is_empty());
    assert_eq!(s.entry_count().unwrap(), 5);
    let bytes: usize = a.iter().chain(&b).map(|e| e.signed.encode().len()).sum();
    assert_eq!(s.entry_bytes().unwrap(), bytes as u64);
    s.flush().unwrap();
}

fn refuses_broken_chains_and_changes_nothing(s: &dyn Store) {
    let k = SecretKey::from_seed(&[3; 32]);
    let c = chain(&k, 3);
    s.append(&c[..1]).unwrap();
    let before = (s.heads().unwrap(), s.entry_count().unwrap());
    // Gap.
    assert!(matches!(
        s.append(&c[2..3]),
        Err(StoreError::Chain {
            head: 1,
            seq: 3,
            ..
        })
    ));
    // Repeat of seq 1.
    assert!(matches!(s.append(&c[..1]), Err(StoreError::Chain { .. })));
    // Right seq, wrong prev.
    let wrong = entry(&k, 2, Some(EntryId([9; 32])), Kind::Event, "x");
    assert!(matches!(s.append(&[wrong]), Err(StoreError::Chain { .. })));
    assert_eq!((s.heads().unwrap(), s.entry_count().unwrap()), before);
    assert!(s.get(&c[0].author, 3).unwrap().is_none());
}

fn batches_are_atomic(s: &dyn Store) {
    let k = SecretKey::from_seed(&[4; 32]);
    let c = chain(&k, 4);
    let err = s.append(&[c[0].clone(), c[1].clone(), c[3].clone()]);
    assert!(err.is_err());
    assert!(
        s.head(&c[0].author).unwrap().is_none(),
        "part of a failed batch was stored"
    );
    assert_eq!(s.entry_count().unwrap(), 0);
    assert!(s.get(&c[0].author, 1).unwrap().is_none());
    s.append(&c).unwrap();
    assert_eq!(s.head(&c[0].author).unwrap().unwrap().seq, 4);
}

fn current_object_versions(s: &dyn Store) {
    let k = SecretKey::from_seed(&[5; 32]);
    let author = NodeId::new(k.public_key());
    let e1 = entry(&k, 1, None, Kind::Event, "drill-2027");
    let e2 = entry(&k, 2, Some(e1.id), Kind::Event, "fair-2027");
    let e3 = entry(&k, 3, Some(e2.id), Kind::Event, "drill-2027");
    s.append(&[e1, e2, e3.clone()]).unwrap();
    let mut cur = s.current(Kind::Event).unwrap();
    cur.sort_by(|a, b| a.object_id.cmp(&b.object_id));
    assert_eq!(cur.len(), 2);
    assert_eq!((cur[0].object_id.as_str(), cur[0].seq), ("drill-2027", 3));
    assert_eq!((cur[1].object_id.as_str(), cur[1].seq), ("fair-2027", 2));
    assert_eq!(cur[0].author, author);
    let r = entry(&k, 4, Some(e3.id), Kind::Retraction, "drill-2027");
    s.append(&[r]).unwrap();
    let cur = s.current(Kind::Event).unwrap();
    assert_eq!(cur.len(), 1);
    assert_eq!(cur[0].object_id, "fair-2027");
    let gone = s.current(Kind::Retraction).unwrap();
    assert_eq!((gone.len(), gone[0].seq), (1, 4));
    assert_eq!(
        s.object(&author, "drill-2027").unwrap(),
        Some((Kind::Retraction, 4))
    );
    assert_eq!(
        s.object(&author, "fair-2027").unwrap(),
        Some((Kind::Event, 2))
    );
    assert_eq!(s.object(&author, "drill").unwrap(), None);
    // History stays readable.
    assert!(s.get(&author, 1).unwrap().is_some());
    assert_eq!(s.history(&author, "drill-2027").unwrap(), vec![1, 3, 4]);
    assert_eq!(s.history(&author, "fair-2027").unwrap(), vec![2]);
    assert!(
        s.history(&author, "drill").unwrap().is_empty(),
        "a prefix of an id is another object"
    );
}

fn forks(s: &dyn Store) {
    let k = SecretKey::from_seed(&[6; 32]);
    let c = chain(&k, 3);
    s.append(&c).unwrap();
    let other = entry(&k, 2, Some(c[0].id), Kind::Event, "other");
    let rec = ForkRecord {
        author: c[0].author,
        seq: 2,
        first: c[1].signed.clone(),
        second: other.signed.clone(),
    };
    assert!(s.record_fork(&rec).unwrap());
    // The same pair again, either way round, is not new.
    let flipped = ForkRecord {
        first: rec.second.clone(),
        second: rec.first.clone(),
        ..rec.clone()
    };
    assert!(!s.record_fork(&flipped).unwrap());
    assert_eq!(s.forked_at(&c[0].author).unwrap(), Some(2));
    let other3 = entry(&k, 3, Some(c[1].id), Kind::Event, "other3");
    s.record_fork(&ForkRecord {
        author: c[0].author,
        seq: 3,
        first: c[2].signed.clone(),
        second: other3.signed,
    })
    .unwrap();
    assert_eq!(
        s.forked_at(&c[0].author).unwrap(),
        Some(2),
        "lowest fork seq is kept"
    );
    let forks = s.forks().unwrap();
    assert_eq!(forks.len(), 2);
    assert_eq!(forks[0], rec);
    // The log itself is untouched.
    assert_eq!(s.get(&c[0].author, 2).unwrap().unwrap(), c[1].signed);
    let recovery = entry(&k, 4, Some(c[2].id), Kind::Event, "recovery");
    assert!(s
        .record_recovery(&c[0].author, 4, &recovery.signed)
        .unwrap());
    assert!(!s
        .record_recovery(&c[0].author, 4, &recovery.signed)
        .unwrap());
    assert_eq!(
        s.recoveries().unwrap(),
        vec![(c[0].author, 4, recovery.signed)]
    );
    assert_eq!(
        s.head(&c[0].author).unwrap().unwrap().seq,
        3,
        "a recovery is kept outside the log"
    );
    // Bounded: pair after pair at higher seqs adds nothing once full; a
    // lower pair takes the highest one's place and lowers the fork point.
    for seq in 10..20u64 {
        let x = entry(&k, seq, None, Kind::Event, "x");
        let y = entry(&k, seq, None, Kind::Event, "y");
        s.record_fork(&ForkRecord {
            author: c[0].author,
            seq,
            first: x.signed,
            second: y.signed,
        })
        .unwrap();
    }
    assert_eq!(s.forks().unwrap().len(), crate::MAX_FORK_RECORDS);
    let low = ForkRecord {
        author: c[0].author,
        seq: 1,
        first: c[0].signed.clone(),
        second: entry(&k, 1, None, Kind::Event, "low").signed,
    };
    assert!(s.record_fork(&low).unwrap());
    assert_eq!(s.forks().unwrap().len(), crate::MAX_FORK_RECORDS);
    assert_eq!(s.forked_at(&c[0].author).unwrap(), Some(1));
    assert!(s.forks().unwrap().contains(&low));
}

/// A revocation stays the current version of its object: a later entry
/// under the same object id (a retraction, anything) cannot undo it.
fn revocations_are_final(s: &dyn Store) {
    let k = SecretKey::from_seed(&[8; 32]);
    let r = entry(&k, 1, None, Kind::Revocation, "revocation-self");
    let undo = entry(&k, 2, Some(r.id), Kind::Retraction, "revocation-self");
    let again = entry(&k, 3, Some(undo.id), Kind::Event, "revocation-self");
    s.append(std::slice::from_ref(&r)).unwrap();
    s.append(&[undo, again.clone()]).unwrap();
    let cur = s.current(Kind::Revocation).unwrap();
    assert_eq!((cur.len(), cur[0].seq), (1, 1));
    assert!(s.current(Kind::Retraction).unwrap().is_empty());
    assert!(s.current(Kind::Event).unwrap().is_empty());
    assert_eq!(
        s.object(&r.author, "revocation-self").unwrap(),
        Some((Kind::Revocation, 1))
    );
    // Both later entries are in the log and the object's history.
    assert_eq!(s.head(&r.author).unwrap().unwrap().seq, 3);
    assert_eq!(
        s.history(&r.author, "revocation-self").unwrap(),
        vec![1, 2, 3]
    );
    // In one batch too.
    let k = SecretKey::from_seed(&[9; 32]);
    let r = entry(&k, 1, None, Kind::Revocation, "rev");
    let undo = entry(&k, 2, Some(r.id), Kind::Retraction, "rev");
    s.append(&[r, undo]).unwrap();
    assert_eq!(s.current(Kind::Revocation).unwrap().len(), 2);
}

fn trust_and_peers(s: &dyn Store) {
    let a = NodeId::new(SecretKey::from_seed(&[7; 32]).public_key());
    let rec = TrustRecord {
        name: "渋谷区".into(),
        added_at: 5,
    };
    s.trust_put(&a, &rec).unwrap();
    assert_eq!(s.trust_list().unwrap(), vec![(a, rec)]);
    assert!(s.trust_remove(&a).unwrap());
    assert!(!s.trust_remove(&a).unwrap());
    assert!(s.trust_list().unwrap().is_empty());
    let p = PeerRecord {
        addr: "127.0.0.1:7100".into(),
        node_id: Some(a),
        added_at: 9,
    };
    s.peer_put(&p).unwrap();
    s.peer_put(&p).unwrap();
    assert_eq!(s.peer_list().unwrap(), vec![p]);
    assert!(s.peer_remove("127.0.0.1:7100").unwrap());
    assert!(s.peer_list().unwrap().is_empty());
}
