//! `yui bench`: figures measured on this machine, printed beside the raw
//! limit they chase.

use std::sync::Arc;
use std::time::Instant;

use clap::Subcommand;
use yui_core::content::Event;
use yui_core::keys::{entry_signing_message, BatchVerifier};
use yui_core::{Body, Entry, EntryId, Limits, LocalizedText, NodeId, SecretKey, SignedEntry};
use yui_net::ProtoCodec;
use yui_store::{FjallEngine, KvStore, MemEngine, SledEngine, Store};
use yui_sync::{now_ms, Codec, Replica};

mod cpu;
pub mod network;
pub mod node;
pub mod pages;
pub mod propagation;
pub mod query;
pub mod simulate;
pub mod sync;

/// `yui bench …`.
#[derive(Debug, Subcommand)]
pub enum BenchCmd {
    /// Restart time and resident memory of a `yui run` process holding many
    /// entries, idle and while an empty peer syncs everything from it.
    Node {
        /// Entries it holds.
        #[arg(long, default_value_t = 1_000_000)]
        entries: usize,
        /// Authors they come from.
        #[arg(long, default_value_t = 2_000)]
        authors: usize,
        /// The peer that syncs everything keeps it in memory instead of a
        /// fjall store on disk: how fast the sync can be with storing
        /// taken out (a bound, not a node's figure; no target checked).
        #[arg(long)]
        receiver_in_memory: bool,
    },
    /// Time for a readiness update to reach every node of a network of
    /// municipalities behind relays, quiet and during a bulk backfill.
    Propagation {
        /// Nodes in all.
        #[arg(long, default_value_t = 100)]
        nodes: usize,
        /// Of which relays.
        #[arg(long, default_value_t = 5)]
        relays: usize,
        /// Updates measured in each phase.
        #[arg(long, default_value_t = 50)]
        samples: usize,
        /// Backlog entries that spread to every node in the busy phase.
        #[arg(long, default_value_t = 8_000)]
        backfill: usize,
        /// Every node a `yui run` process of its own (fjall store), instead
        /// of all in this process with memory stores.
        #[arg(long)]
        processes: bool,
    },
    /// A national network (municipalities behind regional relays) with a
    /// simulated transport and the real sync logic: convergence and
    /// traffic after a burst of updates and after a partition heals.
    Simulate {
        /// Municipalities.
        #[arg(long, default_value_t = 2_000)]
        municipalities: usize,
        /// Relays (meshed).
        #[arg(long, default_value_t = 50)]
        relays: usize,
        /// Municipalities publishing readiness at once.
        #[arg(long, default_value_t = 200)]
        burst: usize,
        /// Packet loss rate.
        #[arg(long, default_value_t = 0.01)]
        loss: f64,
    },
    /// Resident memory of a relay process with many members connected.
    Relay {
        /// Members that dial it.
        #[arg(long, default_value_t = 500)]
        members: usize,
    },
    /// Full sync of a node holding many entries into an empty one over TLS
    /// on loopback, then reconciliation of the two up-to-date nodes.
    Sync {
        /// Entries the source holds.
        #[arg(long, default_value_t = 1_000_000)]
        entries: usize,
        /// Authors they come from.
        #[arg(long, default_value_t = 2_000)]
        authors: usize,
    },
    /// The read model of a node holding many entries: every query kind and
    /// searches, p50 and p99 at full size beside the same at 10,000
    /// entries; index build rate and size; what indexing costs ingest.
    Query {
        /// Entries the node holds.
        #[arg(long, default_value_t = 1_000_000)]
        entries: usize,
        /// Authors they come from.
        #[arg(long, default_value_t = 2_000)]
        authors: usize,
        /// Runs of each query.
        #[arg(long, default_value_t = 200)]
        runs: usize,
        /// Build the full-size node as a real home in this new folder and
        /// keep it (for `yui --home DIR run` and timing the CLI).
        #[arg(long)]
        home: Option<std::path::PathBuf>,
    },
    /// The pages of a node holding many entries: each page's p50 and p99
    /// and its size (HTML + stylesheet), against the targets.
    Pages {
        /// Entries the node holds.
        #[arg(long, default_value_t = 1_000_000)]
        entries: usize,
        /// Authors they come from.
        #[arg(long, default_value_t = 2_000)]
        authors: usize,
        /// Runs of each page.
        #[arg(long, default_value_t = 200)]
        runs: usize,
    },
    /// Ingest (decode + verify + store) of signed entries, against the raw
    /// ed25519 verify rate.
    Ingest {
        /// Entries to ingest.
        #[arg(long, default_value_t = 50_000)]
        entries: usize,
        /// Authors they come from.
        #[arg(long, default_value_t = 100)]
        authors: usize,
        /// Entries per ingest batch.
        #[arg(long, default_value_t = 512)]
        batch: usize,
        /// Only this engine (memory, sled or fjall); all three by default.
        #[arg(long)]
        engine: Option<String>,
    },
}

/// The sample event every benchmark signs: a joint disaster drill.
pub fn drill(title_ja: String, title_en: String) -> Body {
    Body::Event(Event {
        title: LocalizedText(vec![("ja".into(), title_ja), ("en".into(), title_en)]),
        description: LocalizedText::one(
            "ja",
            "物資・職員派遣・避難者受入れの手順をオンラインで確認します。",
        ),
        start: "2027-02-10T10:00:00+09:00".into(),
        end: "2027-02-10T12:00:00+09:00".into(),
        time_zone: "Asia/Tokyo".into(),
        organisers: vec!["131156".into()],
        ..Default::default()
    })
}

/// Makes `n` signed event entries from `authors` authors, interleaved.
pub fn make_entries(n: usize, authors: usize) -> (Vec<SecretKey>, Vec<SignedEntry>) {
    let keys: Vec<SecretKey> = (0..authors)
        .map(|i| {
            let mut seed = [0u8; 32];
            seed[..8].copy_from_slice(&(i as u64 + 1).to_le_bytes());
            SecretKey::from_seed(&seed)
        })
        .collect();
    let mut prev: Vec<Option<EntryId>> = vec![None; authors];
    let mut out = Vec::with_capacity(n);
    // Two hours old: a backfill, which the per-author rate of new entries
    // (600 a minute) does not limit. Entries made "now" were refused past
    // 600 per author and measured the limit, not ingest.
    let now = now_ms() - 2 * 3_600_000;
    for i in 0..n {
        let a = i % authors;
        let seq = (i / authors) as u64 + 1;
        let entry = Entry {
            sealed: None,
            author: NodeId::new(keys[a].public_key()),
            seq,
            prev: prev[a],
            created_at: now,
            expires_at: None,
            object_id: format!("event-{seq}"),
            body: drill(
                format!("合同防災訓練 第{seq}回"),
                format!("Joint disaster drill no. {seq}"),
            ),
        };
        let signed = SignedEntry::sign(ProtoCodec.encode_entry(&entry), &keys[a]);
        prev[a] = Some(signed.id());
        out.push(signed);
    }
    (keys, out)
}

/// Prints one of the targets as a `target` line, which
/// `bench/run.sh` gathers into its summary: met or not, the figure, the goal.
pub fn target(name: &str, figure: &str, goal: &str, met: bool) {
    let verdict = if met { "met    " } else { "NOT MET" };
    println!("target {verdict} {name}: {figure} (target {goal})");
}

/// CPU time this process has used so far, every thread, in seconds.
pub fn process_cpu_seconds() -> f64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    t.tv_sec as f64 + t.tv_nsec as f64 / 1e9
}

fn rate(n: usize, secs: f64) -> f64 {
    n as f64 / secs
}

fn ingest_rate(
    store: Arc<dyn Store>,
    keys: &[SecretKey],
    entries: &[SignedEntry],
    batch: usize,
) -> f64 {
    let replica = Replica::open(
        store,
        SecretKey::from_seed(&[0xee; 32]),
        Arc::new(ProtoCodec),
        Limits::default(),
    )
    .expect("replica");
    for k in keys {
        replica
            .trust_add(NodeId::new(k.public_key()), "bench")
            .expect("trust");
    }
    let t = Instant::now();
    let cpu = process_cpu_seconds();
    let mut accepted = 0;
    replica
        .ingest_pipelined(entries.chunks(batch).map(|c| c.to_vec()), false, |r| {
            accepted += r.accepted;
        })
        .expect("ingest");
    replica.store().flush().expect("flush");
    let secs = t.elapsed().as_secs_f64();
    let cpu = process_cpu_seconds() - cpu;
    assert_eq!(accepted, entries.len(), "every entry must be accepted");
    let c = replica.counters();
    let (v, st) = (
        c.verify_seconds.snapshot().sum,
        c.store_seconds.snapshot().sum,
    );
    // Verification of the next batch overlaps the store of the one before
    // (`Replica::ingest_pipelined`), so the parts add up to more than the
    // whole.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "    {secs:.2} s in all; busy verifying {v:.2} s, storing {st:.2} s (overlapping); CPU {cpu:.2} s of {:.2} s on {cores} cores",
        secs * cores as f64
    );
    rate(entries.len(), secs)
}

/// Runs a benchmark and prints its figures.
pub async fn run(cmd: BenchCmd) -> anyhow::Result<()> {
    match cmd {
        BenchCmd::Ingest {
            entries,
            authors,
            batch,
            engine,
        } => {
            tokio::task::spawn_blocking(move || {
                ingest(entries, authors.max(1), batch.max(1), engine.as_deref())
            })
            .await?
        }
        BenchCmd::Query {
            entries,
            authors,
            runs,
            home,
        } => {
            tokio::task::spawn_blocking(move || {
                query::run(
                    entries.max(100),
                    authors.clamp(1, entries.max(100) / 3),
                    runs.max(1),
                    home.as_deref(),
                )
            })
            .await?
        }
        BenchCmd::Pages {
            entries,
            authors,
            runs,
        } => {
            pages::run(
                entries.max(100),
                authors.clamp(1, entries.max(100) / 3),
                runs.max(1),
            )
            .await
        }
        BenchCmd::Sync { entries, authors } => sync::run(entries, authors.max(1)).await,
        BenchCmd::Node {
            entries,
            authors,
            receiver_in_memory,
        } => node::run_node(entries, authors.max(1), receiver_in_memory).await,
        BenchCmd::Relay { members } => node::run_relay(members.max(1)).await,
        BenchCmd::Simulate {
            municipalities,
            relays,
            burst,
            loss,
        } => {
            tokio::task::spawn_blocking(move || {
                simulate::run(
                    municipalities.max(1),
                    relays.max(1),
                    burst.clamp(1, municipalities.max(1)),
                    loss.clamp(0.0, 0.5),
                )
            })
            .await?
        }
        BenchCmd::Propagation {
            nodes,
            relays,
            samples,
            backfill,
            processes,
        } => {
            if processes {
                network::run(nodes.max(2), relays, samples.max(1), backfill).await
            } else {
                propagation::run(nodes.max(2), relays, samples.max(1), backfill).await
            }
        }
    }
}

/// Batched ed25519 verification of `sample` in batches of `batch`, split
/// across `threads` cores as the ingest path splits it.
pub fn batched_verify_rate(
    decoded: &[(NodeId, Vec<u8>)],
    sample: &[SignedEntry],
    batch: usize,
    threads: usize,
) -> f64 {
    let t = Instant::now();
    for (chunk, sigs) in decoded.chunks(batch).zip(sample.chunks(batch)) {
        let mut v = BatchVerifier::new();
        for ((author, msg), s) in chunk.iter().zip(sigs) {
            v.push(*author.public_key(), msg.clone(), s.signature);
        }
        assert!(v.verify_parallel(threads).iter().all(|r| r.is_ok()));
    }
    rate(sample.len(), t.elapsed().as_secs_f64())
}

/// The ingest ceiling of this machine: batched verification on every core.
pub fn verify_ceiling(entries: &[SignedEntry], batch: usize) -> f64 {
    let sample = &entries[..entries.len().min(20_000)];
    let decoded: Vec<(NodeId, Vec<u8>)> = sample
        .iter()
        .map(|s| {
            (
                ProtoCodec.decode_entry(&s.entry).expect("decode").author,
                entry_signing_message(&s.entry),
            )
        })
        .collect();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    batched_verify_rate(&decoded, sample, batch, cores)
}

fn ingest(n: usize, authors: usize, batch: usize, only: Option<&str>) -> anyhow::Result<()> {
    let engines: Vec<&str> = match only {
        None => vec!["memory", "sled", "fjall"],
        Some(e @ ("memory" | "sled" | "fjall")) => vec![e],
        Some(e) => anyhow::bail!("--engine must be memory, sled or fjall, not {e:?}"),
    };
    println!("yui bench ingest: {n} entries from {authors} authors, batches of {batch}");
    let (keys, entries) = make_entries(n, authors);
    let avg = entries.iter().map(|e| e.entry.len()).sum::<usize>() / n.max(1);
    println!("  entry size       {avg} bytes on average");

    let sample = &entries[..n.min(20_000)];
    let decoded: Vec<(NodeId, Vec<u8>)> = sample
        .iter()
        .map(|s| {
            (
                ProtoCodec.decode_entry(&s.entry).expect("decode").author,
                entry_signing_message(&s.entry),
            )
        })
        .collect();
    let t = Instant::now();
    for ((author, msg), s) in decoded.iter().zip(sample) {
        author
            .public_key()
            .verify(msg, &s.signature)
            .expect("valid");
    }
    let single = rate(sample.len(), t.elapsed().as_secs_f64());

    let batched = batched_verify_rate(&decoded, sample, batch, 1);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let ceiling = batched_verify_rate(&decoded, sample, batch, cores);

    println!("  ed25519 verify   {single:>10.0} /s single (one core)");
    println!("  ed25519 verify   {batched:>10.0} /s batched (one core)");
    println!("  ed25519 verify   {ceiling:>10.0} /s batched on {cores} cores — the ingest ceiling");
    let mut rates = Vec::new();
    for engine in engines {
        let dir = tempfile::tempdir()?;
        let store: Arc<dyn Store> = match engine {
            "memory" => Arc::new(KvStore::open(MemEngine::new())?),
            "sled" => Arc::new(KvStore::open(SledEngine::open(dir.path())?)?),
            _ => Arc::new(KvStore::open(FjallEngine::open(dir.path())?)?),
        };
        println!("  {engine}:");
        // This shared machine's speed drifts by ±15 %: each engine is
        // compared with the ceiling measured just before and just after it.
        let before = batched_verify_rate(&decoded, sample, batch, cores);
        let r = ingest_rate(store, &keys, &entries, batch);
        let after = batched_verify_rate(&decoded, sample, batch, cores);
        rates.push((engine, r, (before + after) / 2.0));
    }
    for (engine, r, ceiling) in rates {
        let pct = 100.0 * r / ceiling;
        let default = if engine == "fjall" {
            " (default engine)"
        } else {
            ""
        };
        println!(
            "  ingest, {engine:<7}{r:>10.0} /s  ({pct:.0} % of the ceiling {ceiling:.0} /s around it; target 70 %{default})"
        );
        if engine == "fjall" {
            target(
                &format!("ingest, {authors} authors, default engine"),
                &format!("{pct:.0} % of the batched verify ceiling"),
                "≥ 70 %",
                pct >= 70.0,
            );
        }
    }
    Ok(())
}
