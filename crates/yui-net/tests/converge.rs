//! Property: whatever the topology, the order of deliveries, the links
//! that break mid-batch and the partitions, every replica holds the same
//! logs once the links return — with a dishonest node among them (it adds
//! forged entries, entries of unknown authors and signed entries of its own
//! that break a rule to what it relays) and nodes that batch differently.
//! Real replicas (memory stores, real signatures, the real PeerSync
//! bookkeeping); the transport is simulated message passing. Repair is what
//! a real link does: a batch lost means the link broke, a link that comes
//! back starts a new session (both sides state their heads on that link
//! only), and gaps are asked for on the link they were found on.

use std::collections::HashMap;
use std::sync::Arc;

use proptest::prelude::*;
use yui_core::content::Event;
use yui_core::{Body, Limits, LocalizedText, NodeId, SecretKey};
use yui_net::ProtoCodec;
use yui_store::{KvStore, MemEngine};
use yui_sync::{PeerSync, Replica};

#[derive(Debug, Clone)]
enum Op {
    Publish(usize),
    Deliver {
        link: usize,
        forward: bool,
        drop: bool,
    },
    Toggle(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => (0..8usize).prop_map(Op::Publish),
        6 => (0..32usize, any::<bool>(), prop::bool::weighted(0.15))
            .prop_map(|(link, forward, drop)| Op::Deliver { link, forward, drop }),
        1 => (0..32usize).prop_map(Op::Toggle),
    ]
}

struct Sim {
    nodes: Vec<Arc<Replica>>,
    /// Node 0 is dishonest: it adds junk to every batch it sends.
    dishonest: bool,
    /// Its signed junk entries so far (its own log, past its head).
    junk_seq: u64,
    edges: Vec<(usize, usize)>,
    up: Vec<bool>,
    out: HashMap<(usize, usize), PeerSync>,
    rt: tokio::runtime::Runtime,
}

impl Sim {
    fn new(n: usize, extra: &[(usize, usize)], dishonest: bool) -> Self {
        let nodes: Vec<Arc<Replica>> = (0..n)
            .map(|i| {
                let store = Arc::new(KvStore::open(MemEngine::new()).unwrap());
                Replica::open(
                    store,
                    SecretKey::from_seed(&[i as u8 + 1; 32]),
                    Arc::new(ProtoCodec),
                    Limits::default(),
                )
                .unwrap()
            })
            .collect();
        for a in &nodes {
            for b in &nodes {
                if a.id() != b.id() {
                    a.trust_add(b.id(), "").unwrap();
                }
            }
        }
        // A random tree keeps the graph connected; extra edges add cycles.
        let mut edges: Vec<(usize, usize)> = (1..n)
            .map(|i| (extra.get(i).map_or(0, |e| e.0 % i), i))
            .collect();
        for (a, b) in extra {
            let (a, b) = (a % n, b % n);
            if a != b && !edges.contains(&(a, b)) && !edges.contains(&(b, a)) {
                edges.push((a, b));
            }
        }
        let mut sim = Sim {
            dishonest,
            junk_seq: 0,
            up: vec![true; edges.len()],
            nodes,
            edges,
            out: HashMap::new(),
            rt: tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .build()
                .unwrap(),
        };
        for link in 0..sim.edges.len() {
            sim.session_start(link);
        }
        sim
    }

    /// What a new session on one link does: each side states its heads
    /// (a fresh `PeerSync`, as a real session starts with).
    fn session_start(&mut self, link: usize) {
        let (a, b) = self.edges[link];
        for (x, y) in [(a, b), (b, a)] {
            let want = self.nodes[y].want_list().unwrap();
            let mut st = PeerSync::new();
            st.on_want(want);
            self.out.insert((x, y), st);
        }
    }

    /// Junk a dishonest sender adds: a forged copy of a real entry, an
    /// entry of an author nobody trusts, and a signed entry of its own
    /// that breaks a rule (two texts in one language) past its head.
    fn junk(&mut self, batch: &[yui_core::SignedEntry]) -> Vec<yui_core::SignedEntry> {
        use yui_sync::Codec;
        let mut out = Vec::new();
        if let Some(first) = batch.first() {
            let mut forged = first.clone();
            forged.signature.0[7] ^= 0x10;
            out.push(forged);
        }
        let stranger = SecretKey::from_seed(&[0xee; 32]);
        let e = yui_core::Entry {
            sealed: None,
            author: NodeId::new(stranger.public_key()),
            seq: 1,
            prev: None,
            created_at: yui_sync::now_ms(),
            expires_at: None,
            object_id: "spam".into(),
            body: event(0),
        };
        out.push(yui_core::SignedEntry::sign(
            ProtoCodec.encode_entry(&e),
            &stranger,
        ));
        let me = &self.nodes[0];
        let head = me.store().head(&me.id()).unwrap();
        self.junk_seq += 1;
        let bad = yui_core::Entry {
            sealed: None,
            author: me.id(),
            seq: head.map_or(1, |h| h.seq + 1),
            prev: head.map(|h| h.id),
            created_at: yui_sync::now_ms(),
            expires_at: None,
            object_id: format!("bad-{}", self.junk_seq),
            body: Body::Event(Event {
                title: LocalizedText(vec![("ja".into(), "一".into()), ("ja".into(), "二".into())]),
                start: "2027-02-10T10:00:00+09:00".into(),
                ..Default::default()
            }),
        };
        out.push(yui_core::SignedEntry::sign(
            ProtoCodec.encode_entry(&bad),
            &SecretKey::from_seed(&[1; 32]),
        ));
        out
    }

    fn neighbours(&self, n: usize) -> Vec<usize> {
        self.edges
            .iter()
            .filter_map(|&(a, b)| (a == n).then_some(b).or((b == n).then_some(a)))
            .collect()
    }

    fn moved(&mut self, node: usize, author: NodeId) {
        for m in self.neighbours(node) {
            self.out
                .get_mut(&(node, m))
                .unwrap()
                .on_local_head(author, false);
        }
    }

    /// Sends one batch from `a` to `b` on `link`; returns whether anything
    /// was sent. `drop`: the link breaks with the batch in flight.
    fn deliver(&mut self, link: usize, a: usize, b: usize, drop: bool) -> bool {
        // Nodes batch differently (as differently configured nodes do).
        let size = [3, 1, 7, 64, 2, 5][a % 6];
        let mut batch = self
            .out
            .get_mut(&(a, b))
            .unwrap()
            .next_batch(&self.nodes[a], size, 1 << 20)
            .unwrap();
        if batch.is_empty() {
            return false;
        }
        if drop {
            self.up[link] = false;
            return true;
        }
        let junk = if self.dishonest && a == 0 {
            self.junk(&batch)
        } else {
            Vec::new()
        };
        batch.extend(junk.iter().cloned());
        let report = self.nodes[b].ingest_blocking(batch).unwrap();
        assert_eq!(
            report.refused.len(),
            junk.len(),
            "honest entries refused, or junk taken: {:?}",
            report.refused
        );
        for (author, seq) in &report.seen {
            self.out
                .get_mut(&(b, a))
                .unwrap()
                .on_peer_has(*author, *seq);
        }
        // A gap means the sender's belief is wrong: b restates its head.
        let gaps = report.gaps.clone();
        self.out.get_mut(&(a, b)).unwrap().on_want(gaps);
        for (author, _) in report.seen {
            self.moved(b, author);
        }
        true
    }

    fn heads(&self, n: usize) -> Vec<(NodeId, u64)> {
        let mut h: Vec<(NodeId, u64)> = self.nodes[n]
            .store()
            .heads()
            .unwrap()
            .into_iter()
            .map(|(a, h)| (a, h.seq))
            .collect();
        h.sort();
        h
    }
}

fn event(i: usize) -> Body {
    Body::Event(Event {
        title: LocalizedText::one("ja", &format!("訓練 {i}")),
        start: "2027-02-10T10:00:00+09:00".into(),
        ..Default::default()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn replicas_converge_once_links_return(
        n in 2..6usize,
        extra in prop::collection::vec((0..6usize, 0..6usize), 0..6),
        ops in prop::collection::vec(op(), 0..120),
        dishonest in any::<bool>(),
    ) {
        let mut sim = Sim::new(n, &extra, dishonest);
        let mut published = 0u64;
        for op in ops {
            match op {
                Op::Publish(node) => {
                    let node = node % n;
                    let r = sim.nodes[node].clone();
                    sim.rt.block_on(r.publish(format!("ev-{published}"), event(published as usize), None)).unwrap();
                    published += 1;
                    let id = sim.nodes[node].id();
                    sim.moved(node, id);
                }
                Op::Deliver { link, forward, drop } => {
                    let link = link % sim.edges.len();
                    if sim.up[link] {
                        let (a, b) = sim.edges[link];
                        let (a, b) = if forward { (a, b) } else { (b, a) };
                        sim.deliver(link, a, b, drop);
                    }
                }
                Op::Toggle(link) => {
                    let link = link % sim.edges.len();
                    sim.up[link] = !sim.up[link];
                    if sim.up[link] {
                        sim.session_start(link);
                    }
                }
            }
        }
        // Heal: the links that are down come back (a new session each);
        // links that stayed up keep their sessions. No more breaks.
        for link in 0..sim.edges.len() {
            if !sim.up[link] {
                sim.up[link] = true;
                sim.session_start(link);
            }
        }
        let mut rounds = 0;
        loop {
            let mut any = false;
            for (link, (a, b)) in sim.edges.clone().into_iter().enumerate() {
                any |= sim.deliver(link, a, b, false);
                any |= sim.deliver(link, b, a, false);
            }
            if !any {
                break;
            }
            rounds += 1;
            prop_assert!(rounds < 10_000, "no quiescence");
        }
        let first = sim.heads(0);
        prop_assert_eq!(first.iter().map(|(_, s)| s).sum::<u64>(), published);
        for i in 1..n {
            prop_assert_eq!(&sim.heads(i), &first, "replica {} differs", i);
        }
    }
}
