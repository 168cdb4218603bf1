//! `yui bench sync`: a full sync of a node holding many entries into an
//! empty node over real TLS on loopback, then the steady-state
//! reconciliation of the two once they are up to date.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use yui_core::{Body, Entry, EntryId, Limits, NodeId, SecretKey};
use yui_net::{
    Backoff, FederationService, PeerManager, PeerTable, ProtoCodec, Role, ServerLimits,
    SessionConfig,
};
use yui_store::{IndexedEntry, KvStore, Store};
use yui_sync::{now_ms, Codec, Replica};

/// One author's key and its whole chain, ready for `Store::append`.
pub struct Chain {
    /// The author's key.
    pub key: SecretKey,
    /// Its entries, seq 1 upwards.
    pub entries: Vec<IndexedEntry>,
}

/// The key of bench author `i`.
pub fn author_key(i: usize) -> SecretKey {
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&(i as u64 + 1).to_le_bytes());
    seed[8] = 0xb5;
    SecretKey::from_seed(&seed)
}

fn event(author: usize, seq: u64) -> Body {
    super::drill(
        format!("合同防災訓練 第{seq}回（{author}）"),
        format!("Joint disaster drill no. {seq} ({author})"),
    )
}

/// The ingest ceiling on the first 20,000 of `chains` in the order a sync
/// sends them (author by author, so batches hold runs of one key).
pub async fn sync_ceiling(chains: &[Chain]) -> anyhow::Result<f64> {
    let sample: Vec<yui_core::SignedEntry> = chains
        .iter()
        .flat_map(|c| &c.entries)
        .take(20_000)
        .map(|e| e.signed.clone())
        .collect();
    Ok(tokio::task::spawn_blocking(move || super::verify_ceiling(&sample, 512)).await?)
}

/// `n` entries spread over `authors` chains, signed on every core. Created
/// two hours ago: a backlog, not a flood (the per-author rate limit is for
/// fresh entries).
pub fn make_chains(n: usize, authors: usize) -> Vec<Chain> {
    sign_chains(n, authors, &|a, seq, _| {
        (format!("drill-{seq}"), event(a, seq))
    })
}

/// What author `a` signs at `seq` (given the id of its entry before):
/// object id and body.
pub type Content<'a> = dyn Fn(usize, u64, Option<EntryId>) -> (String, Body) + Sync + 'a;

/// `n` entries of `content` over `authors` chains, signed on every core,
/// created two hours ago (a backlog; seq adds a millisecond each).
pub fn sign_chains(n: usize, authors: usize, content: &Content<'_>) -> Vec<Chain> {
    let created_at = now_ms() - 2 * 3600 * 1000;
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    let per_author = |a: usize| n / authors + usize::from(a < n % authors);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..cores)
            .map(|t| {
                scope.spawn(move || {
                    (t..authors)
                        .step_by(cores)
                        .map(|a| {
                            let key = author_key(a);
                            let author = NodeId::new(key.public_key());
                            let mut prev: Option<EntryId> = None;
                            let entries = (1..=per_author(a) as u64)
                                .map(|seq| {
                                    let (object_id, body) = content(a, seq, prev);
                                    let kind = body.kind();
                                    let entry = Entry {
                                        sealed: None,
                                        author,
                                        seq,
                                        prev,
                                        created_at: created_at + seq as i64,
                                        expires_at: None,
                                        object_id,
                                        body,
                                    };
                                    let signed = yui_core::SignedEntry::sign(
                                        ProtoCodec.encode_entry(&entry),
                                        &key,
                                    );
                                    let id = signed.id();
                                    prev = Some(id);
                                    IndexedEntry {
                                        id,
                                        author,
                                        seq,
                                        prev: entry.prev,
                                        kind,
                                        object_id: entry.object_id,
                                        created_at: entry.created_at,
                                        signed,
                                    }
                                })
                                .collect();
                            (a, Chain { key, entries })
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all: Vec<(usize, Chain)> = handles
            .into_iter()
            .flat_map(|h| h.join().expect("signing thread"))
            .collect();
        all.sort_by_key(|(a, _)| *a);
        all.into_iter().map(|(_, c)| c).collect()
    })
}

/// Writes the chains into `store` directly (the source of a sync need not
/// verify what it made itself).
pub fn fill(store: &dyn Store, chains: &[Chain]) -> anyhow::Result<()> {
    for c in chains {
        for part in c.entries.chunks(4096) {
            store.append(part)?;
        }
    }
    store.flush()?;
    Ok(())
}

/// A node in this process: replica on a sled store, federation server on
/// loopback with real TLS, dial loops.
pub struct BenchNode {
    /// Its replica.
    pub replica: Arc<Replica>,
    /// Federation address.
    pub addr: String,
    /// Dial loops.
    pub peers: Arc<PeerManager>,
    /// Link states.
    pub table: Arc<PeerTable>,
    /// Stops it.
    pub cancel: CancellationToken,
    /// Its role.
    pub role: Role,
    _dir: tempfile::TempDir,
}

impl BenchNode {
    /// Starts a node whose store is in a new temporary folder.
    pub async fn start(seed: u8, role: Role) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let (engine, _) = yui_store::open_dir(&dir.path().join("data"))?;
        Self::start_on(
            KvStore::open(engine)?,
            SecretKey::from_seed(&[seed; 32]),
            role,
            dir,
        )
        .await
    }

    /// Starts a node with a memory store (network benchmarks with many
    /// nodes in one process).
    pub async fn start_in_memory(key: SecretKey, role: Role) -> anyhow::Result<Self> {
        let store =
            KvStore::open(Box::new(yui_store::MemEngine::new()) as Box<dyn yui_store::Engine>)?;
        Self::start_on(store, key, role, tempfile::tempdir()?).await
    }

    async fn start_on(
        store: KvStore<Box<dyn yui_store::Engine>>,
        key: SecretKey,
        role: Role,
        dir: tempfile::TempDir,
    ) -> anyhow::Result<Self> {
        let store = Arc::new(store);
        let replica = Replica::open(store, key, Arc::new(ProtoCodec), Limits::default())?;
        let (cert, key) = yui_net::tls::generate_self_signed("bench")?;
        std::fs::write(dir.path().join("cert.pem"), cert)?;
        std::fs::write(dir.path().join("key.pem"), key)?;
        let tls =
            yui_net::tls::server_config(&dir.path().join("cert.pem"), &dir.path().join("key.pem"))?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?.to_string();
        let cancel = CancellationToken::new();
        let table = PeerTable::new();
        let cfg = SessionConfig::default();
        let service =
            FederationService::new(replica.clone(), table.clone(), role, cfg, cancel.clone());
        tokio::spawn(yui_net::server::serve(
            listener,
            tls,
            service,
            None,
            ServerLimits::default(),
            cancel.clone(),
        ));
        let peers = PeerManager::new(
            replica.clone(),
            table.clone(),
            role,
            cfg,
            Backoff {
                initial: Duration::from_millis(50),
                max: Duration::from_millis(500),
            },
            cancel.clone(),
        );
        Ok(Self {
            replica,
            addr,
            peers,
            table,
            cancel,
            role,
            _dir: dir,
        })
    }
}

fn bytes_both(r: &Replica) -> (u64, u64) {
    let c = r.counters().snapshot();
    (c.sync_bytes_sent, c.sync_bytes_received)
}

fn wants_sent(r: &Replica) -> u64 {
    r.counters().snapshot().sync_wants_sent
}

/// Runs the benchmark and prints its figures.
pub async fn run(n: usize, authors: usize) -> anyhow::Result<()> {
    println!(
        "yui bench sync: {n} entries from {authors} authors, TLS on loopback, the default engine on both sides"
    );
    let t = Instant::now();
    let chains = tokio::task::spawn_blocking(move || make_chains(n, authors)).await?;
    println!("  signed           {:.1} s", t.elapsed().as_secs_f64());
    let entry_bytes: u64 = chains
        .iter()
        .flat_map(|c| &c.entries)
        .map(|e| e.signed.encode().len() as u64)
        .sum();

    let source = BenchNode::start(1, Role::Municipality).await?;
    let target = BenchNode::start(2, Role::Municipality).await?;
    source.replica.trust_add(target.replica.id(), "target")?;
    target.replica.trust_add(source.replica.id(), "source")?;
    let authors_trusted: Vec<(NodeId, String)> = chains
        .iter()
        .map(|c| (NodeId::new(c.key.public_key()), String::new()))
        .collect();
    source.replica.trust_add_many(&authors_trusted)?;
    target.replica.trust_add_many(&authors_trusted)?;
    let t = Instant::now();
    let src = source.replica.clone();
    let chains =
        tokio::task::spawn_blocking(move || fill(src.store().as_ref(), &chains).map(|()| chains))
            .await??;
    println!(
        "  source filled    {:.1} s (written directly, not timed below)",
        t.elapsed().as_secs_f64()
    );

    let total = n as u64;
    // The ceiling, on the entries in sync order just before the sync and
    // just after it, the higher of the two (the machine's speed drifts
    // within a run, and just after the sync the stores still compact).
    let before = sync_ceiling(&chains).await?;
    let t = Instant::now();
    target
        .peers
        .add(source.addr.clone(), Some(source.replica.id()));
    let mut last_print = Instant::now();
    loop {
        let have = target.replica.store().entry_count()?;
        if have >= total {
            break;
        }
        if last_print.elapsed() > Duration::from_secs(5) {
            let v = yui_node::progress::ProgressView::new("  sync", have, Some(total), t.elapsed());
            println!("{v}");
            last_print = Instant::now();
        }
        if t.elapsed() > Duration::from_secs(1800) {
            anyhow::bail!("sync did not finish in 30 minutes ({have} of {total})");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let secs = t.elapsed().as_secs_f64();
    let rate = total as f64 / secs;
    let after = sync_ceiling(&chains).await?;
    let ceiling = before.max(after);
    let (_, received) = bytes_both(&target.replica);
    println!(
        "  full sync        {secs:.1} s = {rate:.0} entries/s (target: under 20 s for 1,000,000)"
    );
    println!(
        "  ingest ceiling   {ceiling:.0} entries/s (batched verify, all cores: {before:.0} before, {after:.0} after); sync at {:.0} % of it",
        100.0 * rate / ceiling
    );
    let c = target.replica.counters();
    let (verify, store) = (c.verify_seconds.snapshot(), c.store_seconds.snapshot());
    println!(
        "  where it went    verify {:.1} s in {} batches, store {:.1} s (wall time inside the target's ingest)",
        verify.sum, verify.count, store.sum
    );
    println!(
        "  on the wire      {:.2} bytes per byte of entry ({} entry bytes, {} message bytes; target ≤ 1.2)",
        received as f64 / entry_bytes as f64,
        entry_bytes,
        received
    );

    // Steady state: both up to date; a new session must find nothing to do.
    target.peers.remove(&source.addr);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before_t = bytes_both(&target.replica);
    let before_s = bytes_both(&source.replica);
    let wants_before = wants_sent(&target.replica) + wants_sent(&source.replica);
    let t = Instant::now();
    target
        .peers
        .add(source.addr.clone(), Some(source.replica.id()));
    while target.table.connected() == 0 && t.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    // Let the opening exchange finish (it is a few messages).
    let mut stable = Instant::now();
    let mut last = bytes_both(&target.replica);
    while stable.elapsed() < Duration::from_millis(500) {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let now = bytes_both(&target.replica);
        if now != last {
            last = now;
            stable = Instant::now();
        }
    }
    let after_t = bytes_both(&target.replica);
    let after_s = bytes_both(&source.replica);
    let wire = (after_t.0 - before_t.0) + (after_t.1 - before_t.1);
    // Wants alternate dialer, listener, dialer: two make a round trip.
    let wants = wants_sent(&target.replica) + wants_sent(&source.replica) - wants_before;
    let round_trips = wants.div_ceil(2);
    println!(
        "  reconcile        {wire} bytes and {wants} Want messages ({round_trips} round trips) for {authors} authors up to date (target < 100 KB, ≤ 2 round trips); dialer sent {}, listener sent {}",
        after_t.0 - before_t.0,
        after_s.0 - before_s.0
    );
    if n >= 100_000 {
        super::target(
            &format!("full sync, {n} entries, {authors} authors, both nodes in one process"),
            &format!("{:.0} % of the ceiling", 100.0 * rate / ceiling),
            "≥ 70 %",
            rate >= 0.7 * ceiling,
        );
    }
    super::target(
        &format!("opening exchange of up-to-date nodes, {authors} authors"),
        &format!("{wire} bytes in {round_trips} round trips"),
        "< 100 KB in ≤ 2 round trips",
        wire < 100_000 && round_trips <= 2,
    );
    println!(
        "result sync entries={n} authors={authors} secs={secs:.3} rate={rate:.0} ceiling={ceiling:.0} wire_ratio={:.3} reconcile_bytes={wire}",
        received as f64 / entry_bytes as f64
    );
    assert_eq!(target.replica.store().entry_count()?, total);
    source.cancel.cancel();
    target.cancel.cancel();
    Ok(())
}
