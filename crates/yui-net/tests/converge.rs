//! Property: whatever the topology, the order of deliveries, the batches
//! dropped and the partitions, every replica holds the same logs once the
//! links return. Real replicas (memory stores, real signatures, the real
//! PeerSync bookkeeping); the transport is simulated message passing.

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
    edges: Vec<(usize, usize)>,
    up: Vec<bool>,
    out: HashMap<(usize, usize), PeerSync>,
    rt: tokio::runtime::Runtime,
}

impl Sim {
    fn new(n: usize, extra: &[(usize, usize)]) -> Self {
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
            up: vec![true; edges.len()],
            nodes,
            edges,
            out: HashMap::new(),
            rt: tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .build()
                .unwrap(),
        };
        sim.reconnect_all();
        sim
    }

    /// What a new session does: each side states its heads.
    fn reconnect_all(&mut self) {
        for &(a, b) in &self.edges.clone() {
            for (x, y) in [(a, b), (b, a)] {
                let want = self.nodes[y].want_list().unwrap();
                self.out.entry((x, y)).or_default().on_want(want);
            }
        }
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

    /// Sends one batch from `a` to `b`; returns whether anything was sent.
    fn deliver(&mut self, a: usize, b: usize, drop: bool) -> bool {
        let batch = self
            .out
            .get_mut(&(a, b))
            .unwrap()
            .next_batch(&self.nodes[a], 3, 1 << 20)
            .unwrap();
        if batch.is_empty() {
            return false;
        }
        if drop {
            return true;
        }
        let report = self.nodes[b].ingest_blocking(batch).unwrap();
        assert!(
            report.refused.is_empty(),
            "honest entries refused: {:?}",
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
    ) {
        let mut sim = Sim::new(n, &extra);
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
                        sim.deliver(a, b, drop);
                    }
                }
                Op::Toggle(link) => {
                    let link = link % sim.edges.len();
                    sim.up[link] = !sim.up[link];
                }
            }
        }
        // Heal: every link up, every session restarted, no more drops.
        sim.up.iter_mut().for_each(|u| *u = true);
        sim.reconnect_all();
        let mut rounds = 0;
        loop {
            let mut any = false;
            for (a, b) in sim.edges.clone() {
                any |= sim.deliver(a, b, false);
                any |= sim.deliver(b, a, false);
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
