//! `yui bench query`: the read model of a node holding many entries from
//! many authors — a realistic mix of kinds with Japanese text — answering
//! every query kind and searches, at full size and at 10,000 entries, so
//! the ratio shows how it scales; the index build rate and size; and what
//! indexing costs ingest.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use yui_core::content::{
    Acknowledgement, CallForPartners, Case, Event, Partnership, PartnershipKind, PolicyArea,
    Profile, Readiness,
};
use yui_core::{Body, EntryId, Limits, LocalizedText, NodeId, SecretKey};
use yui_net::ProtoCodec;
use yui_read::query::Query;
use yui_read::ReadModel;
use yui_store::{FjallEngine, KvStore, Store};
use yui_sync::{now_ms, Replica};

use super::sync::{author_key, sign_chains, Chain};
use yui_node::config::{Role as ConfigRole, TrustEntry};

const PLACES: [&str; 12] = [
    "杉並区",
    "南伊豆町",
    "名寄市",
    "東吾妻町",
    "小千谷市",
    "忍野村",
    "北塩原村",
    "青梅市",
    "女川町",
    "阿南市",
    "中之条町",
    "中央区",
];
const EVENTS: [(&str, &str); 10] = [
    ("合同防災訓練", "Joint disaster drill"),
    ("観光物産展", "Tourism and local products fair"),
    ("姉妹都市交流会", "Sister city exchange meeting"),
    ("子ども交流キャンプ", "Children's exchange camp"),
    ("移住相談会", "Migration consultation"),
    ("高齢者福祉セミナー", "Elderly welfare seminar"),
    ("雪まつり", "Snow festival"),
    ("職員相互派遣説明会", "Staff exchange briefing"),
    ("オンライン防災講座", "Online disaster preparedness course"),
    ("冬の都市フォーラム", "Winter cities forum"),
];
const CASES: [(&str, &str, PolicyArea); 6] = [
    (
        "区外での特別養護老人ホーム共同整備",
        "A nursing home built together outside the ward",
        PolicyArea::Welfare,
    ),
    (
        "災害時相互応援協定に基づく職員派遣",
        "Staff sent under a mutual aid agreement",
        PolicyArea::DisasterPrevention,
    ),
    (
        "小学生の農山村交流体験",
        "Farm village stays for pupils",
        PolicyArea::Education,
    ),
    (
        "ふるさと納税の共同返礼品",
        "Joint hometown tax gifts",
        PolicyArea::Economy,
    ),
    (
        "伝統芸能の相互公演",
        "Traditional performing arts on tour",
        PolicyArea::Culture,
    ),
    (
        "アンテナショップでの観光PR",
        "Tourism promotion at an antenna shop",
        PolicyArea::Tourism,
    ),
];

fn text(ja: String, en: String) -> LocalizedText {
    LocalizedText(vec![("ja".into(), ja), ("en".into(), en)])
}

/// The body of author `a`'s entry `seq`: a realistic mix (events 40 %,
/// readiness updates 20 %, cases, calls, acknowledgements, event updates
/// 10 % each; a profile and a partnership first).
fn body(a: usize, seq: u64, partner: NodeId, prev: Option<EntryId>, now: i64) -> (String, Body) {
    let place = PLACES[a % PLACES.len()];
    let s = seq as usize;
    if seq == 1 {
        return (
            "profile".into(),
            Body::Profile(Profile {
                name: text(format!("{place}{a}"), format!("Municipality {a}")),
                ..Default::default()
            }),
        );
    }
    if seq == 2 {
        return (
            "partnership".into(),
            Body::Partnership(Partnership {
                kind: PartnershipKind::MutualAid,
                partner,
                partner_code: String::new(),
                since: "2020-04-01".into(),
                description: LocalizedText::one("ja", "災害時相互応援協定"),
            }),
        );
    }
    let month = 1 + (a * 7 + s) % 36;
    let start = format!(
        "{}-{:02}-{:02}T10:00:00+09:00",
        2026 + (month - 1) / 12,
        1 + (month - 1) % 12,
        1 + s % 28
    );
    let event = |n: usize| {
        let (ja, en) = EVENTS[(a + n) % EVENTS.len()];
        Body::Event(Event {
            title: text(
                format!("{place} {ja} 第{n}回"),
                format!("{en} no. {n} ({a})"),
            ),
            description: LocalizedText::one(
                "ja",
                "物資・職員派遣・避難者受入れの手順を確認します。",
            ),
            start: start.clone(),
            time_zone: "Asia/Tokyo".into(),
            category: "exchange".into(),
            ..Default::default()
        })
    };
    match s % 10 {
        0 | 5 => (
            "readiness".into(),
            Body::Readiness(Readiness {
                as_of: now,
                valid_until: now + 6 * 3600 * 1000,
                alert_level: ((a + s) % 5) as u32 + 1,
                headline: text(
                    format!("{place} 大雨 警戒レベル{}", (a + s) % 5 + 1),
                    "Heavy rain".into(),
                ),
                ..Default::default()
            }),
        ),
        1 | 2 | 6 | 7 => (format!("event-{s}"), event(s)),
        9 => (format!("event-{}", s - 3), event(s - 3)),
        3 => {
            let (ja, en, area) = CASES[(a + s) % CASES.len()];
            (
                format!("case-{s}"),
                Body::Case(Case {
                    title: text(format!("{place}の{ja}"), en.into()),
                    summary: text(
                        format!(
                            "{place}と{}が連携した{ja}の事例。",
                            PLACES[(a + 1) % PLACES.len()]
                        ),
                        format!("{en}: how two municipalities did it."),
                    ),
                    policy_area: area,
                    tags: vec!["自治体間連携".into()],
                    ..Default::default()
                }),
            )
        }
        8 => (
            format!("call-{s}"),
            Body::CallForPartners(CallForPartners {
                title: text(
                    format!("{place} 冬の観光連携パートナー募集"),
                    "Partners wanted for winter tourism".into(),
                ),
                policy_area: PolicyArea::Tourism,
                ..Default::default()
            }),
        ),
        _ => (
            format!("ack-{s}"),
            Body::Acknowledgement(Acknowledgement {
                entry_id: prev.unwrap_or(EntryId([0; 32])),
                note: LocalizedText::one("ja", "受領しました"),
                kind: Default::default(),
            }),
        ),
    }
}

/// `n` entries of the mix over `authors` chains, signed on every core.
pub(crate) fn make_mix(n: usize, authors: usize) -> Vec<Chain> {
    let now = now_ms();
    let ids: Vec<NodeId> = (0..authors)
        .map(|a| NodeId::new(author_key(a).public_key()))
        .collect();
    sign_chains(n, authors, &|a, seq, prev| {
        body(a, seq, ids[(a + 1) % ids.len()], prev, now)
    })
}

pub(crate) struct Held {
    pub(crate) model: Arc<ReadModel>,
    /// Peak memory of its own the build added, MB.
    build_mb: f64,
    build: Duration,
    index_bytes: u64,
    log_bytes: u64,
    pub(crate) objects: u64,
    _dir: tempfile::TempDir,
}

/// A replica on fjall holding the mix, and its index built from the logs:
/// in a temporary folder, or in a real node home at `keep` (left for
/// `yui --home KEEP run`, with every author trusted).
pub(crate) fn hold(chains: &[Chain], keep: Option<&Path>) -> anyhow::Result<Held> {
    let dir = tempfile::tempdir()?;
    let (store, replica, index_dir): (Arc<dyn Store>, Arc<Replica>, PathBuf) = match keep {
        Some(root) => {
            let trust = chains
                .iter()
                .map(|c| TrustEntry {
                    node_id: NodeId::new(c.key.public_key()),
                    name: String::new(),
                })
                .collect();
            let parent = root.parent().unwrap_or(Path::new("."));
            let name = root
                .file_name()
                .and_then(|n| n.to_str())
                .ok_or_else(|| anyhow::anyhow!("--home {}: not a folder name", root.display()))?;
            let home = super::node::new_home(parent, name, ConfigRole::Municipality, trust)?;
            let (store, replica) = yui_node::node::open_replica(&home, &home.load_config()?)?;
            (store, replica, home.index_path())
        }
        None => {
            let store = Arc::new(KvStore::open(FjallEngine::open(&dir.path().join("data"))?)?);
            let replica = Replica::open(
                store.clone(),
                SecretKey::from_seed(&[0xee; 32]),
                Arc::new(ProtoCodec),
                Limits::default(),
            )?;
            (store, replica, dir.path().join("index"))
        }
    };
    super::sync::fill(store.as_ref(), chains)?;
    let model = Arc::new(ReadModel::open(replica, Some(&index_dir), "bench")?);
    let me = std::process::id();
    let before = super::node::anon_mb(me);
    let building = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = {
        let building = building.clone();
        std::thread::spawn(move || {
            let mut peak = 0.0f64;
            while building.load(std::sync::atomic::Ordering::Acquire) {
                peak = peak.max(super::node::anon_mb(me));
                std::thread::sleep(Duration::from_millis(20));
            }
            peak
        })
    };
    let t = Instant::now();
    let done = model.catch_up(u64::MAX)?;
    let build = t.elapsed();
    building.store(false, std::sync::atomic::Ordering::Release);
    let peak = sampler.join().expect("sampler");
    Ok(Held {
        build_mb: (peak - before).max(0.0),
        index_bytes: model.index().size_on_disk(),
        log_bytes: store.entry_bytes()?,
        objects: done.objects,
        model,
        build,
        _dir: dir,
    })
}

/// A query of the benchmark; `i` varies its parameters.
type MakeQuery = Box<dyn Fn(usize) -> Query>;

/// The queries measured, by name.
fn queries() -> Vec<(&'static str, MakeQuery)> {
    let kind = |k: &str| Some(k.to_owned());
    vec![
        (
            "events in a month",
            Box::new(move |i| Query {
                kind: kind("event"),
                month: Some(format!("{}-{:02}", 2026 + (i / 12) % 3, 1 + i % 12)),
                ..Default::default()
            }),
        ),
        (
            "readiness ≥ level 3, fresh",
            Box::new(move |_| Query {
                kind: kind("readiness"),
                min_alert_level: Some(3),
                stale: Some(false),
                ..Default::default()
            }),
        ),
        (
            "cases of a policy area",
            Box::new(move |i| Query {
                kind: kind("case"),
                policy_area: Some(CASES[i % CASES.len()].2),
                ..Default::default()
            }),
        ),
        (
            "calls for partners",
            Box::new(move |_| Query {
                kind: kind("call_for_partners"),
                ..Default::default()
            }),
        ),
        (
            "partnerships (both sides)",
            Box::new(move |_| Query {
                kind: kind("partnership"),
                ..Default::default()
            }),
        ),
        ("everything, first page", Box::new(|_| Query::default())),
        (
            "one author's entries",
            Box::new(move |i| Query {
                author: Some(NodeId::new(author_key(i % 10).public_key())),
                ..Default::default()
            }),
        ),
        (
            "search 老人ホーム",
            Box::new(|_| Query {
                q: Some("老人ホーム".into()),
                ..Default::default()
            }),
        ),
        (
            "search 防災 (common)",
            Box::new(|_| Query {
                q: Some("防災".into()),
                ..Default::default()
            }),
        ),
        (
            "search winter (English)",
            Box::new(|_| Query {
                q: Some("winter".into()),
                ..Default::default()
            }),
        ),
        (
            "search + facets",
            Box::new(|_| Query {
                q: Some("老人ホーム".into()),
                facets: Some(true),
                ..Default::default()
            }),
        ),
    ]
}

pub(crate) fn percentiles(mut v: Vec<Duration>) -> (f64, f64) {
    v.sort();
    let at = |p: f64| {
        let i = ((v.len() as f64 - 1.0) * p).round() as usize;
        v[i].as_secs_f64() * 1000.0
    };
    (at(0.5), at(0.99))
}

fn measure(
    model: &ReadModel,
    q: &dyn Fn(usize) -> Query,
    runs: usize,
) -> anyhow::Result<(f64, f64)> {
    let mut times = Vec::with_capacity(runs);
    for i in 0..runs {
        let query = q(i);
        let t = Instant::now();
        let page = model.query(&query)?;
        times.push(t.elapsed());
        anyhow::ensure!(page.behind == 0, "the index lags during the benchmark");
    }
    Ok(percentiles(times))
}

/// Ingest rate of `chains`' entries into a fresh replica on fjall, with or
/// without a read model indexing beside it as a node does.
fn ingest_rate(chains: &[Chain], indexing: bool) -> anyhow::Result<f64> {
    let dir = tempfile::tempdir()?;
    let store = Arc::new(KvStore::open(FjallEngine::open(&dir.path().join("data"))?)?);
    let replica = Replica::open(
        store,
        SecretKey::from_seed(&[0xee; 32]),
        Arc::new(ProtoCodec),
        Limits::default(),
    )?;
    let ids: Vec<(NodeId, String)> = chains
        .iter()
        .map(|c| (NodeId::new(c.key.public_key()), String::new()))
        .collect();
    replica.trust_add_many(&ids)?;
    let model = Arc::new(ReadModel::open(
        replica.clone(),
        Some(&dir.path().join("index")),
        "bench",
    )?);
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let indexer = indexing.then(|| {
        let (model, done) = (model.clone(), done.clone());
        std::thread::spawn(move || -> anyhow::Result<()> {
            // As the node's follower: a step, then a short wait for more.
            while !done.load(std::sync::atomic::Ordering::Acquire) {
                model.catch_up(yui_read::FOLLOW_STEP)?;
                std::thread::sleep(yui_read::FOLLOW_GATHER);
            }
            Ok(())
        })
    });
    let longest = chains.iter().map(|c| c.entries.len()).max().unwrap_or(0);
    let total: usize = chains.iter().map(|c| c.entries.len()).sum();
    let t = Instant::now();
    // Round-robin over authors in batches of 512, as sessions deliver.
    let per = (512 / chains.len().max(1)).max(1);
    let mut from = 0;
    while from < longest {
        let mut batch = Vec::with_capacity(512);
        for c in chains {
            for e in c.entries.iter().skip(from).take(per) {
                batch.push(e.signed.clone());
            }
        }
        let r = replica.ingest_blocking(batch)?;
        anyhow::ensure!(
            r.refused.is_empty() && r.retry_later.is_empty(),
            "ingest refused or deferred entries: {:?}",
            r.refused.first()
        );
        from += per;
    }
    replica.store().flush()?;
    let secs = t.elapsed().as_secs_f64();
    done.store(true, std::sync::atomic::Ordering::Release);
    if let Some(h) = indexer {
        h.join().expect("indexer thread")?;
    }
    Ok(total as f64 / secs)
}

/// Runs `yui bench query`.
pub fn run(n: usize, authors: usize, runs: usize, keep: Option<&Path>) -> anyhow::Result<()> {
    println!(
        "yui bench query: a node holding {n} entries from {authors} authors (events, readiness, cases, calls, partnerships, acknowledgements), {runs} runs of each query, pages of 50"
    );
    let small_n = 10_000.min(n);
    let small_authors = authors.min(small_n / 10).max(1);
    let t = Instant::now();
    let big_chains = make_mix(n, authors);
    let small_chains = make_mix(small_n, small_authors);
    println!("  signed           {:.1} s", t.elapsed().as_secs_f64());
    let small = hold(&small_chains, None)?;
    let big = hold(&big_chains, keep)?;
    let rate = n as f64 / big.build.as_secs_f64();
    println!(
        "  index build      {n} entries ({} current objects) in {:.1} s = {rate:.0} entries/s (target: {n} in under 60 s at 1M)",
        big.objects,
        big.build.as_secs_f64()
    );
    println!(
        "  index memory     {:.0} MB more of its own at most while building (the process holds the signed entries too)",
        big.build_mb
    );
    println!(
        "  index size       {:.1} MB for {:.1} MB of log = {:.2} × (target ≤ 0.5 ×)",
        big.index_bytes as f64 / 1e6,
        big.log_bytes as f64 / 1e6,
        big.index_bytes as f64 / big.log_bytes.max(1) as f64
    );
    println!(
        "  {:<30} {:>9} {:>9} {:>9} {:>9} {:>7}   (target: p99 < 50 ms at 1M, ratio ≤ 3)",
        "query",
        format!("p50 {}k", small_n / 1000),
        format!("p99 {}k", small_n / 1000),
        "p50 full",
        "p99 full",
        "ratio"
    );
    let mut worst: f64 = 0.0;
    let mut worst_ratio: f64 = 0.0;
    for (name, q) in queries() {
        // Warm both once (first reads map the index).
        small.model.query(&q(0))?;
        big.model.query(&q(0))?;
        let (s50, s99) = measure(&small.model, q.as_ref(), runs)?;
        let (b50, b99) = measure(&big.model, q.as_ref(), runs)?;
        let ratio = b99 / s99.max(0.001);
        worst = worst.max(b99);
        worst_ratio = worst_ratio.max(ratio);
        println!("  {name:<30} {s50:>7.2}ms {s99:>7.2}ms {b50:>7.2}ms {b99:>7.2}ms {ratio:>7.1}");
    }
    println!("  worst p99 {worst:.1} ms, worst ratio {worst_ratio:.1}");
    let total = big.model.query(&Query::default())?.total;
    println!("  ({total} current objects answer an empty query at full size)");

    // What indexing costs ingest: the same entries with and without the
    // indexer running beside it.
    let sample_n = n.min(100_000);
    let sample_chains = make_mix(sample_n, authors.min(sample_n / 50).max(1));
    let alone = ingest_rate(&sample_chains, false)?;
    let beside = ingest_rate(&sample_chains, true)?;
    if let Some(home) = keep {
        println!(
            "  the full-size node is kept: yui --home {} run",
            home.display()
        );
    }
    println!(
        "  ingest           {alone:.0} /s alone, {beside:.0} /s with the indexer beside it: {:.0} % slower (target ≤ 10 %)",
        100.0 * (1.0 - beside / alone)
    );
    Ok(())
}
