//! `yui bench propagation --processes`: the propagation benchmark with
//! every node a `yui run` process of its own, as a network runs — a fjall
//! store on disk, its own runtime, search index and admin API, real TLS on
//! loopback — instead of all nodes sharing one process's runtime and
//! ingest turns.
//!
//! Arrival is watched without polling: the bench holds one
//! `GET /v1/head?author=&at_least=&wait_ms=` per node, which each node
//! answers the moment the update is stored there. The backlog of the busy
//! phase enters at four municipalities as offline bundles
//! (`POST /v1/bundle/import`) and spreads from there.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use futures::future::join_all;
use rand::seq::SliceRandom;
use yui_core::{Body, NodeId};
use yui_node::api::{HeadView, PeerAdd, PublishRequest, Published, StatusView};
use yui_node::client::AdminClient;
use yui_node::config::{Role as ConfigRole, TrustEntry};
use yui_node::home::Home;
use yui_sync::now_ms;

use super::cpu::{cpu_of, Threads};
use super::node::{new_home, Running};
use super::propagation::summary;
use super::sync::make_chains;

/// One node of the network.
struct Member {
    id: NodeId,
    admin: AdminClient,
    /// Its log of urgent entries (with YUI_BENCH_TRACE).
    log: std::path::PathBuf,
}

/// The log file, in each home, of a traced run.
const TRACE_LOG: &str = "lane-trace.log";

/// Every node's log lines about entry `id`, in time order, as (ms after
/// `t_unix`, node, what), node ids written as `#index` (relays first).
fn timeline(nodes: &[Member], id: &str, t_unix: i64) -> Vec<(i64, usize, String)> {
    let mut out = Vec::new();
    for (i, m) in nodes.iter().enumerate() {
        let Ok(text) = std::fs::read_to_string(&m.log) else {
            continue;
        };
        for line in text.lines().filter(|l| l.contains(id)) {
            let line = strip_ansi(line);
            let Some((stamp, rest)) = line.split_once(' ') else {
                continue;
            };
            let Ok(at) = chrono::DateTime::parse_from_rfc3339(stamp) else {
                continue;
            };
            let mut what = rest
                .split_once(": ")
                .map_or(rest, |(_, w)| w)
                .replace(&format!("id={id}"), "");
            for (j, n) in nodes.iter().enumerate() {
                what = what.replace(&n.id.to_string(), &format!("#{j}"));
            }
            out.push((at.timestamp_millis() - t_unix, i, what.trim().to_owned()));
        }
    }
    out.sort();
    out
}

/// `s` without terminal colour codes.
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Publishes one readiness on `from` and waits until every node holds it;
/// returns the seconds that took (from just before the publish request).
async fn one_update(nodes: &[Member], relays: usize, from: usize, n: usize) -> anyhow::Result<f64> {
    let author = nodes[from].id;
    let now: HeadView = nodes[from]
        .admin
        .get(&format!("/v1/head?author={author}"))
        .await?;
    let seq = now.seq + 1;
    let t = Instant::now();
    let t_unix = now_ms();
    // Each waiter answers when its node stores `seq` (or at once, if it
    // already has it when the request arrives: never early).
    let waiters = nodes
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != from)
        .map(|(i, m)| async move {
            let h: HeadView = m
                .admin
                .get(&format!(
                    "/v1/head?author={author}&at_least={seq}&wait_ms=60000"
                ))
                .await?;
            let stored = h.arrived_at.map(|a| a - t_unix);
            anyhow::Ok((i, h.seq, t.elapsed(), stored))
        });
    let publish = async {
        let req = PublishRequest {
            object_id: Some(format!("readiness-{n}")),
            expires_at: None,
            body: Body::Readiness(crate::samples::heavy_rain_readiness(now_ms())),
            contact_audience: Some("public".into()),
            shelter_audience: None,
        };
        let p: Published = nodes[from].admin.post("/v1/publish", &req).await?;
        anyhow::ensure!(
            p.seq == seq,
            "published seq {} where {seq} was expected",
            p.seq
        );
        anyhow::Ok((t.elapsed(), p.id))
    };
    let (arrived, published) = tokio::join!(join_all(waiters), publish);
    let (published, id) = published?;
    let mut last = Duration::ZERO;
    let mut relays_at = Vec::new();
    let mut slowest = (0, None);
    for a in arrived {
        let (i, got, at, stored) = a?;
        if got < seq {
            bail!("update {n} did not reach every node within 60 s");
        }
        if at >= last {
            last = at;
            slowest = (i, stored);
        }
        if i < relays {
            relays_at.push((at.as_millis(), stored.unwrap_or(-1)));
        }
    }
    if std::env::var_os("YUI_BENCH_TRACE").is_some() && last > Duration::from_millis(500) {
        // Each node: when the bench heard of it, and when the node stored
        // it by its own clock (ms after the publish request).
        eprintln!(
            "  slow update from node {from}: published in {} ms, relays (heard, stored) at {relays_at:?} ms, last node {}{} heard at {} ms, stored at {:?} ms",
            published.as_millis(),
            slowest.0,
            if slowest.0 < relays {
                " (a relay)".to_owned()
            } else {
                format!(" (behind relay {})", slowest.0 % relays)
            },
            last.as_millis(),
            slowest.1
        );
        // The entry's way through the network, by each node's log: relays
        // first, then the slowest node and its relay's members.
        for (at, node, what) in timeline(nodes, &id, t_unix) {
            if node < relays || node == slowest.0 || node == from {
                eprintln!("    {at:>6} ms  #{node:<3} {what}");
            }
        }
    }
    Ok(last.as_secs_f64())
}

/// [`cpu_of`] summed over the relays' processes and over the
/// municipalities'.
fn cpu_split(pids: &[u32], relays: usize) -> [(f64, f64, f64); 2] {
    let mut out = [(0.0, 0.0, 0.0); 2];
    for (i, pid) in pids.iter().enumerate() {
        let (u, w, b) = cpu_of(*pid);
        let o = &mut out[usize::from(i >= relays)];
        o.0 += u;
        o.1 += w;
        o.2 += b;
    }
    out
}

/// Entries held by every node together.
async fn held(nodes: &[Member]) -> anyhow::Result<u64> {
    let all = join_all(
        nodes
            .iter()
            .map(|m| m.admin.get::<StatusView>("/v1/status")),
    )
    .await;
    let mut sum = 0;
    for s in all {
        sum += s?.entries;
    }
    Ok(sum)
}

/// Runs the benchmark and prints its figures.
pub async fn run(
    total: usize,
    relays: usize,
    samples: usize,
    backfill: usize,
) -> anyhow::Result<()> {
    let relays = relays.clamp(1, total.saturating_sub(1).max(1));
    let members = total - relays;
    println!(
        "yui bench propagation --processes: {members} municipalities behind {relays} relays (relays meshed), each a `yui run` process (fjall store), TLS on loopback"
    );
    let dir = tempfile::tempdir()?;
    let t = Instant::now();
    let homes: Vec<Home> = {
        let root = dir.path().to_owned();
        tokio::task::spawn_blocking(move || {
            (0..total)
                .map(|i| {
                    let (name, role) = if i < relays {
                        (format!("relay-{i}"), ConfigRole::Relay)
                    } else {
                        (format!("town-{i}"), ConfigRole::Municipality)
                    };
                    new_home(&root, &name, role, Vec::new())
                })
                .collect::<anyhow::Result<Vec<_>>>()
        })
        .await??
    };
    // The backlog: a few authors with long histories, written long ago.
    let chains = tokio::task::spawn_blocking(move || make_chains(backfill, 4)).await?;
    let mut ids = Vec::with_capacity(total + chains.len());
    for h in &homes {
        ids.push(NodeId::new(h.load_key()?.public_key()));
    }
    ids.extend(chains.iter().map(|c| NodeId::new(c.key.public_key())));
    for (h, own) in homes.iter().zip(&ids) {
        let mut config = h.load_config()?;
        config.trust = ids
            .iter()
            .filter(|id| *id != own)
            .map(|id| TrustEntry {
                node_id: *id,
                name: String::new(),
            })
            .collect();
        std::fs::write(h.config_path(), toml::to_string(&config)?)?;
    }
    // With YUI_BENCH_TRACE each process logs its urgent entries' timeline
    // (yui_net::session::LANE_TRACE) into its home, read back for the
    // slow updates.
    let trace = std::env::var_os("YUI_BENCH_TRACE").is_some();
    let started = join_all(homes.iter().map(|h| async move {
        if trace {
            let level = format!("error,{}=debug", yui_net::session::LANE_TRACE);
            Running::start_log_file(h, &level, TRACE_LOG).await
        } else {
            Running::start_logging(h, "error").await
        }
    }))
    .await;
    let mut running = Vec::with_capacity(total);
    for s in started {
        running.push(s?.0);
    }
    let mut nodes = Vec::with_capacity(total);
    for (h, id) in homes.iter().zip(&ids) {
        nodes.push(Member {
            id: *id,
            admin: AdminClient::for_home(h)?,
            log: h.root().join(TRACE_LOG),
        });
    }
    println!(
        "  started          {total} processes in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    // Municipalities dial their relay; relays dial each other.
    let mut dials = Vec::new();
    for i in relays..total {
        dials.push((i, i % relays));
    }
    for a in 0..relays {
        for b in a + 1..relays {
            dials.push((a, b));
        }
    }
    for (from, to) in &dials {
        let add = PeerAdd {
            addr: running[*to].federation_addr()?,
            node_id: Some(nodes[*to].id),
        };
        let _: serde_json::Value = nodes[*from].admin.post("/v1/peers", &add).await?;
    }
    let t = Instant::now();
    loop {
        let all = join_all(
            nodes
                .iter()
                .map(|m| m.admin.get::<StatusView>("/v1/status")),
        )
        .await;
        let mut connected = 0;
        for s in all {
            connected += s?.peers_connected;
        }
        if connected >= 2 * dials.len() {
            break;
        }
        if t.elapsed() > Duration::from_secs(120) {
            bail!(
                "the network did not connect within 120 s ({connected} of {} link ends)",
                2 * dials.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "  connected        {} links in {:.1} s",
        dials.len(),
        t.elapsed().as_secs_f64()
    );

    let mut rng = rand::thread_rng();
    let mut order: Vec<usize> = (relays..total).collect();
    order.shuffle(&mut rng);
    let mut quiet = Vec::new();
    for k in 0..samples {
        quiet.push(one_update(&nodes, relays, order[k % order.len()], k).await?);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (q50, q99) = summary("quiet network", quiet);

    // Bulk backfill: each backlog author's history enters at one
    // municipality (an offline bundle) and spreads to all nodes while
    // updates keep coming.
    let backfill_total = (backfill * total) as u64;
    let base = held(&nodes).await?;
    let pids: Vec<u32> = running.iter().map(|r| r.pid()).collect();
    let cpu_before = cpu_split(&pids, relays);
    let threads_before: Vec<Threads> = pids.iter().map(|p| Threads::of(*p)).collect();
    // Looked at every half second while the backfill runs, so threads that
    // end meanwhile (the runtime's blocking threads, the index's writers)
    // still count by group.
    let sampling = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = {
        let (pids, sampling) = (pids.clone(), sampling.clone());
        let mut seen = threads_before.clone();
        tokio::task::spawn_blocking(move || {
            while sampling.load(std::sync::atomic::Ordering::Relaxed) {
                for (s, p) in seen.iter_mut().zip(&pids) {
                    s.merge(Threads::of(*p));
                }
                std::thread::sleep(Duration::from_millis(500));
            }
            for (s, p) in seen.iter_mut().zip(&pids) {
                s.merge(Threads::of(*p));
            }
            seen
        })
    };
    let t_backfill = Instant::now();
    let mut importers = Vec::new();
    for (j, chain) in chains.into_iter().enumerate() {
        let at = relays + j % members;
        let admin = AdminClient::for_home(&homes[at])?;
        let signed: Vec<_> = chain.entries.into_iter().map(|e| e.signed).collect();
        let bundle = yui_net::bundle::write(
            &yui_net::bundle::BundleInfo {
                exporter: NodeId::new(chain.key.public_key()),
                created_at: now_ms(),
                since: Vec::new(),
            },
            &signed,
        );
        importers.push(tokio::spawn(async move {
            admin
                .post_bytes("/v1/bundle/import", bundle)
                .await
                .context("bundle import")
        }));
    }
    let mut busy = Vec::new();
    let trace = std::env::var_os("YUI_BENCH_TRACE").is_some();
    for k in 0..samples {
        let done = held(&nodes).await?.saturating_sub(base);
        if done >= backfill_total {
            break;
        }
        let from = order[(samples + k) % order.len()];
        let d = one_update(&nodes, relays, from, samples + k).await?;
        if trace {
            eprintln!(
                "update {k}: {:.0} ms, backlog {done}/{backfill_total}",
                d * 1e3
            );
        }
        busy.push(d);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for i in importers {
        i.await??;
    }
    let during = busy.len();
    let t_fill = Instant::now();
    while held(&nodes).await?.saturating_sub(base) < backfill_total {
        if t_fill.elapsed() > Duration::from_secs(900) {
            bail!("the backfill did not finish within 15 minutes");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (b50, b99) = summary("during bulk backfill", busy);
    let cpu_after = cpu_split(&pids, relays);
    sampling.store(false, std::sync::atomic::Ordering::Relaxed);
    let threads_after = sampler.await?;
    let span = t_backfill.elapsed().as_secs_f64();
    println!(
        "  backfill         {backfill} entries × {total} nodes in {span:.1} s; {during} updates measured while it ran"
    );
    // Where the two cores went meanwhile: a relay waiting for a CPU most
    // of the time delays every update that passes through it.
    for (k, who, n) in [(0, "relays", relays), (1, "municipalities", members)] {
        let used = cpu_after[k].0 - cpu_before[k].0;
        let waited = cpu_after[k].1 - cpu_before[k].1;
        let bg = cpu_after[k].2 - cpu_before[k].2;
        println!(
            "  cpu, {who:<14} {used:.1} s used ({:.2} s per process); runnable but waiting: {:.2} s per process at normal priority, {:.2} s in background threads",
            used / n as f64,
            waited / n as f64,
            bg / n as f64
        );
        // By thread group and nice value: which threads the live path
        // waits behind.
        let mut groups: std::collections::HashMap<(String, i32), (f64, f64)> =
            std::collections::HashMap::new();
        let range = if k == 0 {
            0..relays
        } else {
            relays..pids.len()
        };
        for i in range {
            for (g, nice, u, w) in threads_after[i].since(&threads_before[i]) {
                let e = groups.entry((g, nice)).or_default();
                e.0 += u;
                e.1 += w;
            }
        }
        let mut groups: Vec<_> = groups.into_iter().collect();
        groups.sort_by(|a, b| b.1 .0.total_cmp(&a.1 .0));
        for ((g, nice), (u, w)) in groups.into_iter().take(8) {
            println!(
                "    {g:<24} nice {nice:>2}: {:6.2} CPU-s, {:6.2} s runnable waiting per process",
                u / n as f64,
                w / n as f64
            );
        }
    }
    if total >= 100 {
        super::target(
            &format!(
                "readiness to all {total} nodes ({relays} relays) during backfill, separate processes, p99"
            ),
            &format!("{b99:.0} ms"),
            "< 1 s",
            b99 < 1000.0,
        );
    }
    println!(
        "result propagation_processes nodes={total} relays={relays} quiet_p50_ms={q50:.1} quiet_p99_ms={q99:.1} busy_p50_ms={b50:.1} busy_p99_ms={b99:.1}"
    );
    // All asked to stop at once, then waited for.
    let pids: Vec<String> = pids.iter().map(u32::to_string).collect();
    std::process::Command::new("kill")
        .arg("-TERM")
        .args(&pids)
        .status()?;
    tokio::task::spawn_blocking(move || {
        running
            .into_iter()
            .map(Running::stop)
            .collect::<anyhow::Result<Vec<_>>>()
    })
    .await??;
    Ok(())
}
