//! `yui bench simulate`: a national network — municipalities behind
//! regional relays, the relays meshed — in one process, with the real
//! replicas (memory stores, real signatures, the real `PeerSync`
//! bookkeeping) and a simulated transport: per-link latency and bandwidth,
//! packet loss (a lost packet costs a retransmission timeout; the stream
//! itself is reliable, as TCP is) and partitions. Time is simulated: the
//! figures are what the network would see, the run takes what the CPU needs.
//!
//! What it models of the session (`yui-net`'s session.rs), not runs: the
//! writer's order (grafts, then `Have` announcements, then entry batches),
//! protocol 5's rule that what came over a link to a relay is announced to
//! other relays rather than pushed, and the graft timer
//! (`PeerSync::due_grafts` after `LAZY_GRACE_MS`). The decisions themselves
//! are the real `PeerSync`'s. Openings are modelled as protocol 2's lists.
//!
//! Two scenarios: a burst of readiness updates (a disaster), and a
//! partition of one region that heals.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;
use std::time::Instant;

use rand::{Rng, SeedableRng};
use yui_core::{Body, Limits, NodeId, SecretKey, SignedEntry};
use yui_net::ProtoCodec;
use yui_store::{Engine, KvStore, MemEngine};
use yui_sync::{PeerSync, Replica, LAZY_GRACE_MS};

/// Simulated microseconds.
type Micros = u64;

/// CPU time a node spends per entry it receives (verify + store), as
/// measured by `yui bench ingest` on the development machine (one core).
const PER_ENTRY_US: u64 = 20;
/// Retransmission timeout after a lost packet.
const RTO_US: u64 = 200_000;
/// Protobuf framing per entry in an Entries message, and per head in a Want.
const ENTRY_OVERHEAD: usize = 6;
const HEAD_BYTES: usize = 38;

enum Msg {
    Want {
        heads: Vec<(NodeId, u64)>,
        bytes: usize,
    },
    Entries(Vec<SignedEntry>),
    /// Protocol 5: heads without their entries.
    Have(Vec<(NodeId, u64)>),
}

struct Link {
    a: usize,
    b: usize,
    latency: Micros,
    /// Bytes per simulated microsecond.
    bandwidth: f64,
    up: bool,
    /// What `a` believes `b` holds, and the other way round.
    ab: PeerSync,
    ba: PeerSync,
    /// When each direction's sender is free again.
    free_ab: Micros,
    free_ba: Micros,
}

enum Event {
    /// `from` may send on `link`.
    Send { link: usize, from: usize },
    /// A message arrives at `to` over `link`.
    Deliver { link: usize, to: usize, msg: Msg },
    /// `node`'s grace time for heads announced on `link` may have passed.
    Graft { link: usize, node: usize },
}

struct Sim {
    nodes: Vec<Arc<Replica>>,
    /// Links of each node.
    links_of: Vec<Vec<usize>>,
    links: Vec<Link>,
    queue: BinaryHeap<Reverse<(Micros, u64)>>,
    events: HashMap<u64, Event>,
    seq: u64,
    now: Micros,
    /// Per node: simulated time until which it is busy ingesting.
    busy: Vec<Micros>,
    loss: f64,
    rng: rand::rngs::StdRng,
    /// Nodes `0..relays` are relays.
    relays: usize,
    bytes_entries: u64,
    bytes_haves: u64,
    grafts: u64,
    bytes_wants: u64,
    entries_sent: u64,
}

impl Sim {
    fn at(&mut self, t: Micros, e: Event) {
        self.seq += 1;
        self.events.insert(self.seq, e);
        self.queue.push(Reverse((t, self.seq)));
    }

    fn state(&mut self, link: usize, from: usize) -> &mut PeerSync {
        let l = &mut self.links[link];
        if l.a == from {
            &mut l.ab
        } else {
            &mut l.ba
        }
    }

    fn other(&self, link: usize, from: usize) -> usize {
        let l = &self.links[link];
        if l.a == from {
            l.b
        } else {
            l.a
        }
    }

    /// Sends `msg` from `from` on `link`: it leaves when the sender is free
    /// and arrives a latency later (plus a timeout per lost packet).
    fn transmit(&mut self, link: usize, from: usize, msg: Msg, bytes: usize) {
        let to = self.other(link, from);
        let l = &self.links[link];
        let free = if l.a == from { l.free_ab } else { l.free_ba };
        let start = free.max(self.now);
        let wire = (bytes as f64 / l.bandwidth) as Micros;
        let done = start + wire;
        let packets = bytes.div_ceil(1400) as u32;
        let mut delay = l.latency;
        for _ in 0..packets.min(64) {
            if self.rng.gen_bool(self.loss) {
                delay += RTO_US;
                break;
            }
        }
        let l = &mut self.links[link];
        if l.a == from {
            l.free_ab = done;
        } else {
            l.free_ba = done;
        }
        self.at(done + delay, Event::Deliver { link, to, msg });
    }

    /// Both ends state their heads, as a new session does (protocol 2: the
    /// dialer's full list, the listener's difference).
    fn reconnect(&mut self, link: usize) {
        let (a, b) = (self.links[link].a, self.links[link].b);
        let wa = self.nodes[a].want_list().expect("want list");
        let wb = self.nodes[b].want_list().expect("want list");
        // On the wire b answers with the difference only (protocol 2); the
        // simulation hands over the whole list, which is what a dialer
        // rebuilds from it, and counts the bytes of the difference.
        let mine: HashMap<NodeId, u64> = wb.iter().copied().collect();
        let diff = wa.iter().filter(|(x, s)| mine.get(x) != Some(s)).count()
            + wb.len().saturating_sub(wa.len());
        self.transmit(
            link,
            a,
            Msg::Want {
                heads: wa.clone(),
                bytes: wa.len() * HEAD_BYTES,
            },
            wa.len() * HEAD_BYTES,
        );
        self.transmit(
            link,
            b,
            Msg::Want {
                heads: wb,
                bytes: diff * HEAD_BYTES + 4,
            },
            diff * HEAD_BYTES + 4,
        );
    }

    /// Heads moved at `node`; `via_relay`: the entries came over a link to
    /// a relay, so sessions with relays announce them (protocol 5).
    fn moved(
        &mut self,
        node: usize,
        authors: &[(NodeId, bool)],
        except: Option<usize>,
        via_relay: bool,
    ) {
        for li in self.links_of[node].clone() {
            if Some(li) == except || !self.links[li].up {
                continue;
            }
            let lazy = via_relay && self.other(li, node) < self.relays;
            let st = self.state(li, node);
            for (a, urgent) in authors {
                if lazy {
                    st.announce_head(*a, *urgent);
                } else {
                    st.on_local_head(*a, *urgent);
                }
            }
            if st.has_work() || st.has_announcements() {
                self.at(
                    self.now,
                    Event::Send {
                        link: li,
                        from: node,
                    },
                );
            }
        }
    }

    fn run_until_quiet(&mut self, limit: Micros) {
        while let Some(Reverse((t, id))) = self.queue.pop() {
            if t > limit {
                self.queue.push(Reverse((t, id)));
                return;
            }
            self.now = t;
            let Some(ev) = self.events.remove(&id) else {
                continue;
            };
            match ev {
                Event::Send { link, from } => {
                    if !self.links[link].up {
                        continue;
                    }
                    let l = &self.links[link];
                    let free = if l.a == from { l.free_ab } else { l.free_ba };
                    if free > self.now {
                        self.at(free, Event::Send { link, from });
                        continue;
                    }
                    let replica = self.nodes[from].clone();
                    let heads = self
                        .state(link, from)
                        .next_announce(&replica, 4096)
                        .expect("announce");
                    if !heads.is_empty() {
                        let bytes = heads.len() * HEAD_BYTES;
                        self.bytes_haves += bytes as u64;
                        self.transmit(link, from, Msg::Have(heads), bytes);
                    }
                    let batch = self
                        .state(link, from)
                        .next_batch(&replica, 2048, 1 << 20)
                        .expect("next batch");
                    if batch.is_empty() {
                        continue;
                    }
                    let bytes: usize = batch
                        .iter()
                        .map(|e| e.entry.len() + 64 + ENTRY_OVERHEAD)
                        .sum();
                    self.bytes_entries += bytes as u64;
                    self.entries_sent += batch.len() as u64;
                    self.transmit(link, from, Msg::Entries(batch), bytes);
                    if self.state(link, from).has_work() {
                        self.at(self.now, Event::Send { link, from });
                    }
                }
                Event::Deliver { link, to, msg } => {
                    if !self.links[link].up {
                        continue;
                    }
                    match msg {
                        Msg::Want { heads, bytes } => {
                            self.bytes_wants += bytes as u64;
                            self.state(link, to).on_want(heads);
                            self.at(self.now, Event::Send { link, from: to });
                        }
                        Msg::Have(heads) => {
                            let now_ms = self.now / 1000;
                            let mut at_once = Vec::new();
                            for (a, s) in heads {
                                let local = self.nodes[to]
                                    .store()
                                    .head(&a)
                                    .expect("head")
                                    .map_or(0, |h| h.seq);
                                if let Some(g) = self.state(link, to).on_have(a, s, local, now_ms) {
                                    at_once.push(g);
                                }
                            }
                            self.grafts += at_once.len() as u64;
                            if !at_once.is_empty() {
                                let bytes = at_once.len() * HEAD_BYTES;
                                let m = Msg::Want {
                                    heads: at_once,
                                    bytes,
                                };
                                self.transmit(link, to, m, bytes);
                            }
                            let at = self.now + LAZY_GRACE_MS * 1000;
                            self.at(at, Event::Graft { link, node: to });
                        }
                        Msg::Entries(batch) => {
                            // The node ingests one batch at a time.
                            let start = self.busy[to].max(self.now);
                            let n = batch.len() as u64;
                            self.busy[to] = start + n * PER_ENTRY_US;
                            let report = self.nodes[to].ingest_blocking(batch).expect("ingest");
                            for (a, s) in &report.seen {
                                self.state(link, to).on_peer_has(*a, *s);
                            }
                            if !report.gaps.is_empty() {
                                let gaps = report.gaps.clone();
                                let bytes = gaps.len() * HEAD_BYTES;
                                self.transmit(link, to, Msg::Want { heads: gaps, bytes }, bytes);
                            }
                            if report.accepted > 0 {
                                let authors: Vec<(NodeId, bool)> =
                                    report.seen.iter().map(|(a, _)| (*a, true)).collect();
                                let saved = self.now;
                                self.now = self.busy[to];
                                let via_relay = self.other(link, to) < self.relays;
                                self.moved(to, &authors, Some(link), via_relay);
                                self.now = saved;
                            }
                        }
                    }
                }
                Event::Graft { link, node } => {
                    if !self.links[link].up {
                        continue;
                    }
                    let replica = self.nodes[node].clone();
                    let now_ms = self.now / 1000;
                    let grafts = self
                        .state(link, node)
                        .due_grafts(&replica, now_ms)
                        .expect("grafts");
                    if !grafts.is_empty() {
                        self.grafts += grafts.len() as u64;
                        let bytes = grafts.len() * HEAD_BYTES;
                        let m = Msg::Want {
                            heads: grafts,
                            bytes,
                        };
                        self.transmit(link, node, m, bytes);
                    }
                }
            }
        }
    }

    /// Whether every node holds each `(author, seq)` of `wanted`.
    fn converged(&self, wanted: &[(NodeId, u64)]) -> bool {
        self.nodes.iter().all(|n| {
            wanted
                .iter()
                .all(|(a, s)| n.store().head(a).expect("head").map_or(0, |h| h.seq) >= *s)
        })
    }
}

fn key(i: usize) -> SecretKey {
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&(i as u64 + 1).to_le_bytes());
    seed[8] = 0x51;
    SecretKey::from_seed(&seed)
}

fn mb(b: u64) -> f64 {
    b as f64 / 1e6
}

/// Publishes one readiness on each of `who` at simulated time `now`;
/// returns what every node must then hold.
fn publish(
    sim: &mut Sim,
    rt: &tokio::runtime::Runtime,
    who: &[usize],
    round: usize,
) -> Vec<(NodeId, u64)> {
    let mut wanted = Vec::new();
    for &n in who {
        let body = Body::Readiness(crate::samples::heavy_rain_readiness(yui_sync::now_ms()));
        let r = sim.nodes[n].clone();
        let stored = rt
            .block_on(r.publish(format!("readiness-{round}"), body, None))
            .expect("publish");
        wanted.push((r.id(), stored.entry.seq));
        sim.moved(n, &[(r.id(), true)], None, false);
    }
    wanted
}

/// Runs the simulation and prints its figures.
pub fn run(municipalities: usize, relays: usize, burst: usize, loss: f64) -> anyhow::Result<()> {
    let total = municipalities + relays;
    println!(
        "yui bench simulate: {municipalities} municipalities behind {relays} relays (relays meshed), simulated transport, real replicas"
    );
    let wall = Instant::now();
    let mut rng = rand::rngs::StdRng::seed_from_u64(2026);
    let nodes: Vec<Arc<Replica>> = (0..total)
        .map(|i| {
            let store = Arc::new(KvStore::open(Box::new(MemEngine::new()) as Box<dyn Engine>)?);
            Ok(Replica::open(
                store,
                key(i),
                Arc::new(ProtoCodec),
                Limits::default(),
            )?)
        })
        .collect::<anyhow::Result<_>>()?;
    let ids: Vec<(NodeId, String)> = nodes.iter().map(|n| (n.id(), String::new())).collect();
    for n in &nodes {
        n.trust_add_many(&ids)?;
    }
    // Topology: relays 0..relays meshed (10-40 ms, 1 Gbit/s); each
    // municipality on its prefecture's relay (2-30 ms, 10-100 Mbit/s), one in
    // ten (foreign partners and international networks) farther (80-150 ms)
    // and also on a second relay.
    let mut links = Vec::new();
    let link = |a: usize, b: usize, latency: Micros, mbit: f64| Link {
        a,
        b,
        latency,
        bandwidth: mbit / 8.0,
        up: true,
        ab: PeerSync::new(),
        ba: PeerSync::new(),
        free_ab: 0,
        free_ba: 0,
    };
    for a in 0..relays {
        for b in a + 1..relays {
            links.push(link(a, b, rng.gen_range(10_000..40_000), 1000.0));
        }
    }
    for m in relays..total {
        let far = rng.gen_bool(0.1);
        let latency = if far {
            rng.gen_range(80_000..150_000)
        } else {
            rng.gen_range(2_000..30_000)
        };
        let mbit = rng.gen_range(10.0..100.0);
        links.push(link(m, m % relays, latency, mbit));
        if far {
            links.push(link(m, (m / relays) % relays, latency, mbit));
        }
    }
    let mut links_of = vec![Vec::new(); total];
    for (i, l) in links.iter().enumerate() {
        links_of[l.a].push(i);
        links_of[l.b].push(i);
    }
    let n_links = links.len();
    let mut sim = Sim {
        nodes,
        links_of,
        links,
        queue: BinaryHeap::new(),
        events: HashMap::new(),
        seq: 0,
        now: 0,
        busy: vec![0; total],
        loss,
        rng,
        relays,
        bytes_entries: 0,
        bytes_haves: 0,
        grafts: 0,
        bytes_wants: 0,
        entries_sent: 0,
    };
    let rt = tokio::runtime::Builder::new_current_thread().build()?;
    for l in 0..n_links {
        sim.reconnect(l);
    }
    sim.run_until_quiet(Micros::MAX);
    let opening = sim.bytes_wants;
    println!(
        "  network          {total} nodes, {n_links} links; opening exchange {:.1} MB of heads ({:.1} s wall to set up)",
        mb(opening),
        wall.elapsed().as_secs_f64()
    );

    // 1. A disaster: `burst` municipalities publish readiness at once.
    let (e0, w0, s0) = (sim.bytes_entries, sim.bytes_wants, sim.entries_sent);
    let (h0, g0) = (sim.bytes_haves, sim.grafts);
    let start = sim.now;
    let mut who: Vec<usize> = (relays..total).collect();
    rand::seq::SliceRandom::shuffle(who.as_mut_slice(), &mut sim.rng);
    who.truncate(burst);
    let wanted = publish(&mut sim, &rt, &who, 1);
    let t = Instant::now();
    let mut step = 50_000;
    let converged_at = loop {
        let until = sim.now + step;
        sim.run_until_quiet(until);
        sim.now = sim.now.max(until);
        if sim.converged(&wanted) {
            break sim.now;
        }
        if sim.queue.is_empty() {
            anyhow::bail!("the burst did not reach every node");
        }
        step = 20_000;
    };
    let entry_bytes = sim.bytes_entries - e0;
    println!(
        "  burst            {burst} readiness updates reach all {total} nodes in {:.2} s simulated ({} entries delivered, {:.1} MB entries + {:.2} MB wants + {:.2} MB announced heads, {} grafts; {:.1} s wall)",
        (converged_at - start) as f64 / 1e6,
        sim.entries_sent - s0,
        mb(entry_bytes),
        mb(sim.bytes_wants - w0),
        mb(sim.bytes_haves - h0),
        sim.grafts - g0,
        t.elapsed().as_secs_f64()
    );

    let delivered = (sim.entries_sent - s0) as f64;
    let needed = (wanted.len() * (total - 1)) as f64;
    super::target(
        &format!("relay mesh, burst of {burst}: entries delivered ÷ entries needed"),
        &format!("{:.2}", delivered / needed),
        "≤ 1.2",
        delivered / needed <= 1.2,
    );
    let secs = (converged_at - start) as f64 / 1e6;
    super::target(
        &format!("burst of {burst} reaching all {total} nodes (simulated)"),
        &format!("{secs:.2} s"),
        "< 1 s",
        secs < 1.0,
    );

    // 2. A region cut off for 60 s while the rest publishes, then healed.
    let region = 7 % relays;
    let cut: Vec<usize> = (0..n_links)
        .filter(|&l| {
            let x = &sim.links[l];
            x.a == region || x.b == region
        })
        .collect();
    for &l in &cut {
        sim.links[l].up = false;
    }
    let outside: Vec<usize> = (relays..total)
        .filter(|m| !sim.links_of[*m].iter().all(|l| cut.contains(l)))
        .take(burst)
        .collect();
    let wanted = publish(&mut sim, &rt, &outside, 2);
    let until = sim.now + 60_000_000;
    sim.run_until_quiet(until);
    sim.now = until;
    let (e1, w1) = (sim.bytes_entries, sim.bytes_wants);
    let healed = sim.now;
    for &l in &cut {
        sim.links[l].up = true;
        // Reset what each side believed: a new session starts from heads.
        sim.links[l].ab = PeerSync::new();
        sim.links[l].ba = PeerSync::new();
        sim.reconnect(l);
    }
    let t = Instant::now();
    let converged_at = loop {
        let until = sim.now + 20_000;
        sim.run_until_quiet(until);
        sim.now = sim.now.max(until);
        if sim.converged(&wanted) {
            break sim.now;
        }
        if sim.queue.is_empty() {
            anyhow::bail!("the network did not converge after the partition healed");
        }
    };
    println!(
        "  partition        region of relay {region} ({} links) cut for 60 s while {} updates were published elsewhere; after healing all {total} nodes hold them in {:.2} s simulated, {:.2} MB entries + {:.2} MB heads on the wire ({:.1} s wall)",
        cut.len(),
        outside.len(),
        (converged_at - healed) as f64 / 1e6,
        mb(sim.bytes_entries - e1),
        mb(sim.bytes_wants - w1),
        t.elapsed().as_secs_f64()
    );
    println!(
        "  model            loss {:.1} % per packet (each loss costs {} ms), {} µs of CPU per entry received, batches of up to 2048 entries",
        loss * 100.0,
        RTO_US / 1000,
        PER_ENTRY_US
    );
    Ok(())
}
