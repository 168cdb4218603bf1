//! `yui bench node` and `yui bench relay`: a real `yui run` process, timed
//! from start to serving and weighed (resident memory) while it works.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use yui_core::{Limits, NodeId, SecretKey};
use yui_net::{Backoff, PeerManager, PeerTable, ProtoCodec, Role, SessionConfig};
use yui_store::{KvStore, MemEngine};
use yui_sync::Replica;

use super::cpu::{cpu_of, Threads};
use super::sync::{fill, make_chains, sync_ceiling, BenchNode};
use yui_node::client::AdminClient;
use yui_node::config::{Role as ConfigRole, TrustEntry};
use yui_node::home::{Home, InitOptions};

/// Resident and peak resident memory of `pid`, in MB (Linux).
fn memory_mb(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Resident memory of `pid` that is its own (anonymous), in MB: without the
/// pages of files it maps (the search index), which the kernel can drop.
pub(crate) fn anon_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("RssAnon:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// A `yui run` process of a benchmark.
pub(crate) struct Running {
    child: Child,
    home: Home,
}

impl Running {
    /// Starts `yui run` on `home`; returns once its admin API answers, with
    /// the time that took.
    async fn start(home: &Home) -> anyhow::Result<(Self, Duration)> {
        Self::start_logging(home, "warn").await
    }

    /// [`Running::start`] with the log level of its stderr.
    pub(crate) async fn start_logging(
        home: &Home,
        level: &str,
    ) -> anyhow::Result<(Self, Duration)> {
        Self::start_with(home, level, Stdio::inherit()).await
    }

    /// [`Running::start`] logging at `level` into `log` (in the home).
    pub(crate) async fn start_log_file(
        home: &Home,
        level: &str,
        log: &str,
    ) -> anyhow::Result<(Self, Duration)> {
        let file = std::fs::File::create(home.root().join(log))?;
        Self::start_with(home, level, Stdio::from(file)).await
    }

    async fn start_with(
        home: &Home,
        level: &str,
        stderr: Stdio,
    ) -> anyhow::Result<(Self, Duration)> {
        let _ = std::fs::remove_dir_all(home.root().join("run"));
        let t = Instant::now();
        let child = Command::new(std::env::current_exe()?)
            .arg("--home")
            .arg(home.root())
            .arg("run")
            .env("YUI_LOG_LEVEL", level)
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .context("cannot start yui run")?;
        let mut me = Self {
            child,
            home: home.clone(),
        };
        loop {
            if let Some(st) = me.child.try_wait()? {
                bail!("yui run exited at start with {st}");
            }
            if home.admin_addr_path().exists() {
                let c = AdminClient::for_home(home)?;
                if c.get::<yui_node::api::StatusView>("/v1/status")
                    .await
                    .is_ok()
                {
                    break;
                }
            }
            if t.elapsed() > Duration::from_secs(120) {
                bail!("yui run did not serve within 120 s");
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        Ok((me, t.elapsed()))
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits until the search index holds all `n` entries, sampling the
    /// process's memory; returns the peak (resident, own) and the time.
    async fn until_indexed(&self, n: u64) -> anyhow::Result<(f64, f64, Duration)> {
        let c = AdminClient::for_home(&self.home)?;
        let t = Instant::now();
        let (mut peak, mut peak_anon) = (0.0f64, 0.0f64);
        loop {
            peak = peak.max(memory_mb(self.pid()).0);
            peak_anon = peak_anon.max(anon_mb(self.pid()));
            let st: yui_node::api::StatusView = c.get("/v1/status").await?;
            if st.indexed >= n {
                return Ok((peak, peak_anon, t.elapsed()));
            }
            if t.elapsed() > Duration::from_secs(1800) {
                bail!(
                    "the search index holds {} of {n} after 30 minutes",
                    st.indexed
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub(crate) fn federation_addr(&self) -> anyhow::Result<String> {
        Ok(std::fs::read_to_string(self.home.federation_addr_path())?
            .trim()
            .to_owned())
    }

    pub(crate) fn stop(mut self) -> anyhow::Result<()> {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()?;
        self.child.wait()?;
        Ok(())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn new_home(
    dir: &Path,
    name: &str,
    role: ConfigRole,
    trust: Vec<TrustEntry>,
) -> anyhow::Result<Home> {
    let home = Home::new(dir.join(name));
    home.init(&InitOptions {
        name: name.into(),
        code: None,
        role,
        listen: Some("127.0.0.1:0".into()),
        admin: Some("127.0.0.1:0".into()),
    })?;
    let mut config = home.load_config()?;
    config.trust = trust;
    // Thousands of members on one loopback address.
    config.limits.max_connections_per_address = 100_000;
    config.federation.max_connections = 100_000;
    std::fs::write(home.config_path(), toml::to_string(&config)?)?;
    Ok(home)
}

/// `yui bench node`: restart time and memory of a node holding `n` entries,
/// and a full sync from it into a peer in this process (with
/// `receiver_in_memory`, a peer that stores nothing on disk: the bound the
/// sync has with storing taken out).
pub async fn run_node(n: usize, authors: usize, receiver_in_memory: bool) -> anyhow::Result<()> {
    println!("yui bench node: a `yui run` process holding {n} entries from {authors} authors");
    let dir = tempfile::tempdir()?;
    let peer_key = SecretKey::from_seed(&[0x5e; 32]);
    let mut trust = vec![TrustEntry {
        node_id: NodeId::new(peer_key.public_key()),
        name: "bench peer".into(),
    }];
    let chains = tokio::task::spawn_blocking(move || make_chains(n, authors)).await?;
    let author_ids: Vec<(NodeId, String)> = chains
        .iter()
        .map(|c| (NodeId::new(c.key.public_key()), String::new()))
        .collect();
    trust.extend(author_ids.iter().map(|(id, _)| TrustEntry {
        node_id: *id,
        name: String::new(),
    }));
    let home = new_home(dir.path(), "node", ConfigRole::Municipality, trust)?;
    let chains = {
        let h = home.clone();
        tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<_>> {
            let (store, _) = yui_node::node::open_replica(&h, &h.load_config()?)?;
            fill(store.as_ref(), &chains)?;
            Ok(chains)
        })
        .await??
    };
    // The store was filled directly, so the first start builds the search
    // index from it (a node that received its entries indexed them as they
    // came); measured on its own, then the node runs as it would every day.
    let (first, cold) = Running::start(&home).await?;
    let (build_peak, build_anon, build) = first.until_indexed(n as u64).await?;
    first.stop()?;
    let (node, restart) = Running::start(&home).await?;
    println!("  first start      {:.2} s", cold.as_secs_f64());
    println!(
        "  first index build {:.1} s, {build_peak:.0} MB resident at most, {build_anon:.0} MB its own",
        build.as_secs_f64()
    );
    super::target(
        &format!("memory during the first index build of {n} entries"),
        &format!("{build_peak:.0} MB resident at most"),
        "< 200 MB",
        build_peak < 200.0,
    );
    println!(
        "  restart          {:.2} s to serving (target: under 2 s)",
        restart.as_secs_f64()
    );
    super::target(
        &format!("restart holding {n} entries"),
        &format!("{:.2} s to serving", restart.as_secs_f64()),
        "< 2 s",
        restart < Duration::from_secs(2),
    );
    let (idle, _) = memory_mb(node.pid());
    println!(
        "  memory, idle     {idle:.0} MB resident, {:.0} MB its own (just after the restart)",
        anon_mb(node.pid())
    );

    // Serve the whole store to an empty peer: the node's busiest work.
    let peer = if receiver_in_memory {
        BenchNode::start_in_memory(peer_key, Role::Municipality).await?
    } else {
        BenchNode::start(0x5e, Role::Municipality).await?
    };
    let node_id = NodeId::new(home.load_key()?.public_key());
    peer.replica.trust_add(node_id, "node")?;
    peer.replica.trust_add_many(&author_ids)?;
    // The ceiling the full sync is compared with, measured on the entries
    // in sync order just before it and just after it, the higher of the
    // two (this shared machine's speed drifts within a run, and just after
    // the sync the stores still compact what it wrote).
    let before = sync_ceiling(&chains).await?;
    let me = std::process::id();
    let (src0, rcv0) = (Threads::of(node.pid()), Threads::of(me));
    let (src_cpu0, rcv_cpu0) = (cpu_of(node.pid()).0, cpu_of(me).0);
    let stages = |r: &Replica| {
        let c = r.counters();
        (
            c.verify_seconds.snapshot().sum,
            c.store_seconds.snapshot().sum,
        )
    };
    let (verify0, store0) = stages(&peer.replica);
    let t = Instant::now();
    peer.peers.add(node.federation_addr()?, Some(node_id));
    let mut peak = 0.0f64;
    let mut peak_anon = 0.0f64;
    while peer.replica.store().entry_count()? < n as u64 {
        peak = peak.max(memory_mb(node.pid()).0);
        peak_anon = peak_anon.max(anon_mb(node.pid()));
        if t.elapsed() > Duration::from_secs(1800) {
            bail!("the peer did not catch up in 30 minutes");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let secs = t.elapsed().as_secs_f64();
    let (src1, rcv1) = (Threads::of(node.pid()), Threads::of(me));
    let (src_cpu, rcv_cpu) = (cpu_of(node.pid()).0 - src_cpu0, cpu_of(me).0 - rcv_cpu0);
    let (verify1, store1) = stages(&peer.replica);
    let (rss, hwm) = memory_mb(node.pid());
    let after = sync_ceiling(&chains).await?;
    let ceiling = before.max(after);
    println!(
        "  memory, serving  {:.0} MB resident at most while an empty peer synced all {n} in {:.1} s; peak {hwm:.0} MB (target: under 200 MB)",
        peak.max(rss),
        secs
    );
    super::target(
        &format!("memory holding {n} entries while serving a full sync"),
        &format!("{:.0} MB resident at most", peak.max(rss)),
        "< 200 MB",
        peak.max(rss) < 200.0,
    );
    let rate = n as f64 / secs;
    println!(
        "  full sync        {secs:.1} s = {rate:.0} entries/s; ceiling {ceiling:.0} /s (batched verify, all cores: {before:.0} before, {after:.0} after)"
    );
    if receiver_in_memory {
        println!(
            "  bound            {:.0} % of the ceiling with the receiver storing in memory (no target: a node stores on disk)",
            100.0 * rate / ceiling
        );
    } else {
        super::target(
            &format!(
                "full sync of {n} entries ({authors} authors) from a separate `yui run` over TLS"
            ),
            &format!(
                "{:.0} % of the ceiling ({secs:.1} s)",
                100.0 * rate / ceiling
            ),
            "≥ 70 %",
            rate >= 0.7 * ceiling,
        );
    }
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get()) as f64;
    println!(
        "  where it went     of {:.1} core-s: receiver {rcv_cpu:.1} CPU-s (summed over its batches: verify {:.1} s, store {:.1} s), the `yui run` source {src_cpu:.1} CPU-s",
        cores * secs,
        verify1 - verify0,
        store1 - store0,
    );
    if std::env::var_os("YUI_BENCH_TRACE").is_some() {
        for (who, now, then) in [("receiver", &rcv1, &rcv0), ("source", &src1, &src0)] {
            for (group, nice, used, waited) in now.since(then).into_iter().take(8) {
                println!(
                    "    {who:<8} {group:<24} nice {nice:>2}: {used:6.1} CPU-s, {waited:6.1} s runnable waiting"
                );
            }
        }
    }
    println!(
        "  of which its own {:.0} MB at most (the rest: pages of the search index and store files it maps, which the kernel can reclaim)",
        peak_anon.max(anon_mb(node.pid()))
    );
    peer.cancel.cancel();
    node.stop()?;
    Ok(())
}

/// `yui bench relay`: a relay process with `members` members connected.
pub async fn run_relay(members: usize) -> anyhow::Result<()> {
    println!("yui bench relay: a `yui run --role relay` process with {members} members connected");
    let dir = tempfile::tempdir()?;
    let keys: Vec<SecretKey> = (0..members)
        .map(|i| {
            let mut seed = [0u8; 32];
            seed[..8].copy_from_slice(&(i as u64 + 1).to_le_bytes());
            seed[8] = 0x7e;
            SecretKey::from_seed(&seed)
        })
        .collect();
    let trust = keys
        .iter()
        .map(|k| TrustEntry {
            node_id: NodeId::new(k.public_key()),
            name: String::new(),
        })
        .collect();
    let home = new_home(dir.path(), "relay", ConfigRole::Relay, trust)?;
    let relay_id = NodeId::new(home.load_key()?.public_key());
    let (relay, _) = Running::start(&home).await?;
    let addr = relay.federation_addr()?;
    let (idle, _) = memory_mb(relay.pid());
    let cancel = tokio_util::sync::CancellationToken::new();
    let mut replicas = Vec::new();
    let t = Instant::now();
    for k in &keys {
        let store = Arc::new(KvStore::open(MemEngine::new())?);
        let r = Replica::open(
            store,
            SecretKey::from_seed(k.seed()),
            Arc::new(ProtoCodec),
            Limits::default(),
        )?;
        r.trust_add(relay_id, "relay")?;
        for other in keys.iter().take(8) {
            // A few fellow members each, so entries flow through the relay.
            let id = NodeId::new(other.public_key());
            if id != r.id() {
                r.trust_add(id, "")?;
            }
        }
        let peers = PeerManager::new(
            r.clone(),
            PeerTable::new(),
            Role::Municipality,
            SessionConfig::default(),
            Backoff {
                initial: Duration::from_millis(200),
                max: Duration::from_secs(5),
            },
            cancel.clone(),
        );
        peers.add(addr.clone(), Some(relay_id));
        r.publish(
            "profile".into(),
            yui_core::Body::Event(yui_core::content::Event {
                title: yui_core::LocalizedText::one("ja", "広域連携の会合"),
                start: "2027-03-01T10:00:00+09:00".into(),
                ..Default::default()
            }),
            None,
        )
        .await?;
        replicas.push((r, peers));
    }
    let c = AdminClient::for_home(&home)?;
    loop {
        let s: yui_node::api::StatusView = c.get("/v1/status").await?;
        if s.peers_connected >= members && s.entries >= members as u64 {
            break;
        }
        if t.elapsed() > Duration::from_secs(600) {
            bail!(
                "only {} of {members} members connected ({} entries) after 10 minutes",
                s.peers_connected,
                s.entries
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let connected = t.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (rss, hwm) = memory_mb(relay.pid());
    println!("  memory, idle     {idle:.0} MB resident before members");
    println!(
        "  memory           {rss:.0} MB resident with {members} members connected (peak {hwm:.0} MB; target: under 1 GB); all connected and their entries stored in {:.1} s",
        connected.as_secs_f64()
    );
    cancel.cancel();
    relay.stop()?;
    Ok(())
}
