//! `yui bench propagation`: how fast a readiness update reaches every node
//! of a network of municipalities behind regional relays, quiet and while
//! the network is busy with a bulk backfill. In-process nodes, real gRPC
//! over TLS on loopback, memory stores.

use std::time::{Duration, Instant};

use anyhow::bail;
use rand::seq::SliceRandom;
use yui_core::{Body, NodeId, SecretKey};
use yui_net::Role;
use yui_sync::now_ms;

use super::sync::{make_chains, BenchNode};

fn node_key(i: usize) -> SecretKey {
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&(i as u64 + 1).to_le_bytes());
    seed[8] = 0x9a;
    SecretKey::from_seed(&seed)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Publishes one readiness on `from` and waits until every node holds it;
/// returns the seconds that took.
async fn one_update(nodes: &[BenchNode], from: usize, n: usize) -> anyhow::Result<f64> {
    let author = nodes[from].replica.id();
    let body = Body::Readiness(crate::samples::heavy_rain_readiness(now_ms()));
    let t = Instant::now();
    let stored = nodes[from]
        .replica
        .publish(format!("readiness-{n}"), body, None)
        .await?;
    let seq = stored.entry.seq;
    let published = t.elapsed();
    let trace = std::env::var_os("YUI_BENCH_TRACE").is_some();
    let mut arrived: Vec<Option<Duration>> = vec![None; nodes.len()];
    loop {
        let mut all = true;
        for (i, node) in nodes.iter().enumerate() {
            if arrived[i].is_some() {
                continue;
            }
            if node.replica.store().head(&author)?.map_or(0, |h| h.seq) < seq {
                all = false;
                if !trace {
                    break;
                }
            } else {
                arrived[i] = Some(t.elapsed());
            }
        }
        if all {
            let took = t.elapsed();
            if trace && took > Duration::from_millis(500) {
                let relays = nodes
                    .iter()
                    .zip(&arrived)
                    .filter(|(n, _)| n.role == Role::Relay)
                    .map(|(_, a)| a.map_or(0, |a| a.as_millis()))
                    .collect::<Vec<_>>();
                eprintln!(
                    "  slow update from node {from}: publish {} ms, relays at {relays:?} ms, last node {} ms",
                    published.as_millis(),
                    took.as_millis()
                );
            }
            return Ok(took.as_secs_f64());
        }
        if t.elapsed() > Duration::from_secs(60) {
            bail!("update {n} did not reach every node within 60 s");
        }
        tokio::time::sleep(Duration::from_micros(500)).await;
    }
}

pub(crate) fn summary(label: &str, mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    println!(
        "  {label:<28} p50 {:>6.0} ms   p99 {:>6.0} ms   max {:>6.0} ms   ({} updates)",
        percentile(&v, 0.5) * 1e3,
        percentile(&v, 0.99) * 1e3,
        v.last().copied().unwrap_or(0.0) * 1e3,
        v.len()
    );
    (percentile(&v, 0.5) * 1e3, percentile(&v, 0.99) * 1e3)
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
        "yui bench propagation: {members} municipalities behind {relays} relays (relays meshed), TLS on loopback, memory stores"
    );
    let mut nodes = Vec::with_capacity(total);
    for i in 0..total {
        let role = if i < relays {
            Role::Relay
        } else {
            Role::Municipality
        };
        nodes.push(BenchNode::start_in_memory(node_key(i), role).await?);
    }
    // The backlog: a few authors with long histories, written long ago.
    let backlog_authors = 4;
    let chains =
        tokio::task::spawn_blocking(move || make_chains(backfill, backlog_authors)).await?;
    let ids: Vec<NodeId> = nodes
        .iter()
        .map(|n| n.replica.id())
        .chain(chains.iter().map(|c| NodeId::new(c.key.public_key())))
        .collect();
    for n in &nodes {
        let others: Vec<(NodeId, String)> = ids
            .iter()
            .filter(|id| **id != n.replica.id())
            .map(|id| (*id, String::new()))
            .collect();
        n.replica.trust_add_many(&others)?;
    }
    // Municipalities dial their relay; relays dial each other.
    for (i, n) in nodes.iter().enumerate().skip(relays) {
        let r = &nodes[i % relays];
        n.peers.add(r.addr.clone(), Some(r.replica.id()));
    }
    for a in 0..relays {
        for b in a + 1..relays {
            nodes[a]
                .peers
                .add(nodes[b].addr.clone(), Some(nodes[b].replica.id()));
        }
    }
    let links = members + relays * (relays - 1) / 2;
    let t = Instant::now();
    while nodes.iter().map(|n| n.table.connected()).sum::<usize>() < 2 * links {
        if t.elapsed() > Duration::from_secs(120) {
            bail!("the network did not connect within 120 s");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!(
        "  connected        {links} links in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let mut rng = rand::thread_rng();
    let mut order: Vec<usize> = (relays..total).collect();
    order.shuffle(&mut rng);
    let mut quiet = Vec::new();
    for k in 0..samples {
        quiet.push(one_update(&nodes, order[k % order.len()], k).await?);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (q50, q99) = summary("quiet network", quiet);

    // Bulk backfill: each backlog author's history enters at one
    // municipality and spreads to all nodes while updates keep coming.
    let backfill_total = (backfill * total) as u64;
    let mut importers = Vec::new();
    for (j, chain) in chains.into_iter().enumerate() {
        let r = nodes[relays + j % members].replica.clone();
        importers.push(tokio::spawn(async move {
            for part in chain.entries.chunks(2048) {
                let batch = part.iter().map(|e| e.signed.clone()).collect();
                r.import(batch).await?;
            }
            anyhow::Ok(())
        }));
    }
    let held = |nodes: &[BenchNode]| -> u64 {
        nodes
            .iter()
            .map(|n| n.replica.store().entry_count().unwrap_or(0))
            .sum()
    };
    let base = held(&nodes);
    let mut busy = Vec::new();
    let mut during = 0;
    for k in 0..samples {
        let backlog_done = held(&nodes).saturating_sub(base);
        if backlog_done >= backfill_total {
            break;
        }
        let d = one_update(&nodes, order[(samples + k) % order.len()], samples + k).await?;
        if std::env::var_os("YUI_BENCH_TRACE").is_some() {
            eprintln!(
                "update {k}: {:.0} ms, backlog {backlog_done}/{backfill_total}",
                d * 1e3
            );
        }
        busy.push(d);
        during += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for i in importers {
        i.await??;
    }
    let t_fill = Instant::now();
    while held(&nodes).saturating_sub(base) < backfill_total {
        if t_fill.elapsed() > Duration::from_secs(600) {
            bail!("the backfill did not finish within 10 minutes");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (b50, b99) = summary("during bulk backfill", busy);
    println!(
        "  backfill         {backfill} entries × {total} nodes; {during} updates measured while it ran (target p99 < 1 s)"
    );
    if total >= 100 {
        super::target(
            &format!("readiness to all {total} nodes ({relays} relays) during backfill, p99"),
            &format!("{b99:.0} ms"),
            "< 1 s",
            b99 < 1000.0,
        );
    }
    println!(
        "result propagation nodes={total} relays={relays} quiet_p50_ms={q50:.1} quiet_p99_ms={q99:.1} busy_p50_ms={b50:.1} busy_p99_ms={b99:.1}"
    );
    for n in &nodes {
        n.cancel.cancel();
    }
    Ok(())
}
