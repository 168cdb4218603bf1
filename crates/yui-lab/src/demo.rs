//! `yui demo`: a local network of three municipalities and one relay on
//! loopback, each a full node with its own home, TLS and sled store, showing
//! sample entries arrive everywhere.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;
use tokio_util::sync::CancellationToken;
use yui_core::content::{Acknowledgement, ProfileKind};
use yui_core::{Body, Kind, NodeId};
use yui_store::PeerRecord;
use yui_sync::now_ms;

use crate::samples;
use yui_node::config::Role;
use yui_node::home::{Home, InitOptions};
use yui_node::node::Node;
use yui_read::query;

/// `yui demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Keep the homes in this folder (default: a temporary folder, removed at exit).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Keep the network running until Ctrl-C, to explore it with the CLI.
    #[arg(long)]
    pub stay: bool,
    /// Only create the four homes in this folder (DIR/<node>: keys, config
    /// with mutual trust and the relay as peer, sample entries published)
    /// and exit. For the container demo (deploy/compose.yaml), where each
    /// node then runs in its own container on its own volume.
    #[arg(long, value_name = "DIR")]
    pub prepare: Option<PathBuf>,
    /// With --prepare: where the municipalities dial the relay.
    #[arg(long, default_value = "tokyo-relay:7100")]
    pub relay_addr: String,
    /// With --prepare: the federation address every node listens on.
    #[arg(long, default_value = "0.0.0.0:7100")]
    pub listen: String,
}

struct Member {
    slug: &'static str,
    name: &'static str,
    code: &'static str,
    role: Role,
}

const MEMBERS: [Member; 4] = [
    Member {
        slug: "tokyo-relay",
        name: "東京都 広域連携リレー",
        code: "130001",
        role: Role::Relay,
    },
    Member {
        slug: "suginami",
        name: "杉並区",
        code: "131156",
        role: Role::Municipality,
    },
    Member {
        slug: "minami-izu",
        name: "南伊豆町",
        code: "223042",
        role: Role::Municipality,
    },
    Member {
        slug: "sapporo",
        name: "札幌市",
        code: "011002",
        role: Role::Municipality,
    },
];

/// Pads `s` to `width` terminal columns (CJK characters take two).
fn pad(s: &str, width: usize) -> String {
    let w: usize = s
        .chars()
        .map(|c| {
            if ('\u{1100}'..='\u{ffdc}').contains(&c) && !('\u{2000}'..='\u{2e7f}').contains(&c) {
                2
            } else {
                1
            }
        })
        .sum();
    format!("{s}{}", " ".repeat(width.saturating_sub(w)))
}

/// A few words about a body, in Japanese.
fn summary(b: &Body) -> String {
    let t = |x: &yui_core::LocalizedText| x.get("ja").unwrap_or_default().to_owned();
    match b {
        Body::Event(e) => format!("「{}」", t(&e.title)),
        Body::Readiness(r) => format!("警戒レベル{} 「{}」", r.alert_level, t(&r.headline)),
        Body::Case(c) => format!("「{}」", t(&c.title)),
        Body::CallForPartners(c) => format!("「{}」", t(&c.title)),
        Body::Profile(p) => t(&p.name),
        Body::Partnership(p) => t(&p.description),
        Body::Retraction(r) => t(&r.reason),
        Body::Aid(m) => {
            let ja = yui_web::i18n::Lang::Ja;
            let step = yui_web::staff::aid::step_word(&yui_web::i18n::Words(ja), m.step);
            let lines = yui_web::staff::aid::lines_text(ja, &m.lines);
            match m.to.as_slice() {
                [] => format!("{step} {lines}"),
                to => {
                    let names: Vec<&str> = to
                        .iter()
                        .map(|c| {
                            MEMBERS
                                .iter()
                                .find(|m| m.code == c.as_str())
                                .map_or(c.as_str(), |m| m.name)
                        })
                        .collect();
                    format!("{step} {lines} → {}", names.join("、"))
                }
            }
        }
        _ => String::new(),
    }
}

/// The sample entries: (node index in [`MEMBERS`], object id, body).
fn plan(ids: &[NodeId], now: i64) -> Vec<(usize, &'static str, Body)> {
    vec![
        (
            0,
            "profile",
            Body::Profile(samples::profile(
                "東京都",
                "Tokyo Metropolitan Government",
                ProfileKind::Prefecture,
                "130001",
            )),
        ),
        (
            1,
            "profile",
            Body::Profile(samples::profile(
                "杉並区",
                "Suginami City",
                ProfileKind::SpecialWard,
                "131156",
            )),
        ),
        (
            2,
            "profile",
            Body::Profile(samples::profile(
                "南伊豆町",
                "Minami-Izu Town",
                ProfileKind::Municipality,
                "223042",
            )),
        ),
        (
            3,
            "profile",
            Body::Profile(samples::profile(
                "札幌市",
                "Sapporo City",
                ProfileKind::Municipality,
                "011002",
            )),
        ),
        (
            3,
            "wwcam-2027",
            Body::Event(samples::winter_cities_summit()),
        ),
        (
            2,
            "joint-drill-2026-12",
            Body::Event(samples::joint_drill()),
        ),
        (
            1,
            "elderly-care-visit-2027",
            Body::Event(samples::nursing_home_visit()),
        ),
        (0, "forum-2027", Body::Event(samples::exchange_forum())),
        (
            0,
            "forum-2027-draft",
            Body::Event(samples::exchange_forum()),
        ),
        (
            0,
            "forum-2027-draft",
            Body::Retraction(yui_core::content::Retraction {
                reason: samples::ja_en("重複して登録したため取り下げ", "Withdrawn: entered twice"),
            }),
        ),
        (
            2,
            "readiness",
            Body::Readiness(samples::heavy_rain_readiness(now)),
        ),
        (
            2,
            "aid-heavy-rain-blankets",
            Body::Aid(samples::blankets_and_nurses(now, &["131156", "011002"])),
        ),
        (1, "readiness", Body::Readiness(samples::ready_to_help(now))),
        (3, "readiness", Body::Readiness(samples::snow_drill(now))),
        (
            1,
            "case-nursing-home",
            Body::Case(samples::nursing_home_case()),
        ),
        (
            2,
            "case-joint-drill",
            Body::Case(samples::joint_drill_case()),
        ),
        (
            1,
            "offer-tourism-promotion",
            Body::CallForPartners(samples::tourism_offer()),
        ),
        (
            3,
            "call-winter-tourism",
            Body::CallForPartners(samples::tourism_call()),
        ),
        (
            1,
            "partnership-minami-izu",
            Body::Partnership(samples::mutual_aid(ids[2], "223042")),
        ),
        (
            2,
            "partnership-suginami",
            Body::Partnership(samples::mutual_aid(ids[1], "131156")),
        ),
    ]
}

/// `yui demo --prepare DIR`: the four homes, ready to run one per container.
/// Idempotent: homes that exist are left as they are.
async fn prepare(root: &std::path::Path, relay_addr: &str, listen: &str) -> anyhow::Result<()> {
    let homes: Vec<Home> = MEMBERS
        .iter()
        .map(|m| Home::new(root.join(m.slug)))
        .collect();
    if homes.iter().all(|h| h.config_path().exists()) {
        println!("homes in {} already prepared", root.display());
        return Ok(());
    }
    let mut ids = Vec::new();
    for (home, m) in homes.iter().zip(&MEMBERS) {
        let (id, _) = home.init(&InitOptions {
            name: m.name.into(),
            code: Some(m.code.into()),
            role: m.role,
            listen: Some(listen.into()),
            admin: Some("127.0.0.1:7101".into()),
        })?;
        ids.push(id);
    }
    // Everyone trusts everyone; members dial the relay (outbound only).
    for (n, home) in homes.iter().enumerate() {
        let mut config = home.load_config()?;
        for (i, m) in MEMBERS.iter().enumerate() {
            if i != n {
                config.trust.push(yui_node::config::TrustEntry {
                    node_id: ids[i],
                    name: m.name.into(),
                });
            }
        }
        if MEMBERS[n].role == Role::Municipality {
            config.peers.push(yui_node::config::PeerEntry {
                addr: relay_addr.into(),
                node_id: Some(ids[0]),
            });
        }
        let text = toml::to_string(&config).context("config serialises")?;
        std::fs::write(home.config_path(), text)
            .with_context(|| format!("cannot write {}", home.config_path().display()))?;
    }
    // The sample entries, signed now; they spread once the nodes run.
    let mut replicas = Vec::new();
    for home in &homes {
        replicas.push(yui_node::node::open_replica(home, &home.load_config()?)?.1);
    }
    for (i, object_id, body) in plan(&ids, now_ms()) {
        replicas[i].publish(object_id.into(), body, None).await?;
    }
    for (r, m) in replicas.iter().zip(&MEMBERS) {
        r.store().flush()?;
        println!(
            "  {} {:<12} {}  {}",
            pad(m.name, 22),
            format!("{:?}", m.role).to_lowercase(),
            r.id(),
            root.join(m.slug).display()
        );
    }
    Ok(())
}

/// Runs the demo (or, with `--prepare`, only creates its homes).
pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    if let Some(dir) = &args.prepare {
        return prepare(dir, &args.relay_addr, &args.listen).await;
    }
    if std::env::var_os("RUST_LOG").is_some() {
        yui_node::init_tracing(&std::env::var("RUST_LOG").unwrap_or_default(), "text");
    }
    let temp;
    let root = match &args.dir {
        Some(d) => d.clone(),
        None => {
            temp = tempfile::Builder::new().prefix("yui-demo-").tempdir()?;
            temp.path().to_owned()
        }
    };
    println!(
        "yui demo: 3 municipalities and 1 relay on loopback, homes in {}",
        root.display()
    );
    let cancel = CancellationToken::new();
    let mut nodes = Vec::new();
    for m in &MEMBERS {
        let home = Home::new(root.join(m.slug));
        if !home.key_path().exists() {
            home.init(&InitOptions {
                name: m.name.into(),
                code: Some(m.code.into()),
                role: m.role,
                listen: Some("127.0.0.1:0".into()),
                admin: Some("127.0.0.1:0".into()),
            })?;
        }
        let node = Node::start(home, cancel.clone())
            .await
            .with_context(|| format!("starting {}", m.name))?;
        println!(
            "  {} {:<12} {}  federation {}",
            pad(m.name, 22),
            format!("{:?}", m.role).to_lowercase(),
            node.replica.id().short(),
            node.federation_addr
        );
        nodes.push(node);
    }
    // Everyone trusts everyone; members dial the relay (outbound only).
    for a in &nodes {
        for (b, m) in nodes.iter().zip(&MEMBERS) {
            if a.replica.id() != b.replica.id() && !a.replica.is_trusted(&b.replica.id()) {
                a.replica.trust_add(b.replica.id(), m.name)?;
            }
        }
    }
    let relay_addr = nodes[0].federation_addr.to_string();
    let relay_id = nodes[0].replica.id();
    for n in &nodes[1..] {
        n.replica.store().peer_put(&PeerRecord {
            addr: relay_addr.clone(),
            node_id: Some(relay_id),
            added_at: now_ms(),
        })?;
        n.peers.add(relay_addr.clone(), Some(relay_id));
    }
    let ids: Vec<NodeId> = nodes.iter().map(|n| n.replica.id()).collect();
    let now = now_ms();
    let plan = plan(&ids, now);
    println!("\npublishing:");
    let started = Instant::now();
    let mut expected: Vec<(usize, String, Kind)> = Vec::new();
    let mut readiness_id = None;
    for (i, object_id, body) in plan {
        let kind = body.kind();
        let stored = nodes[i]
            .replica
            .publish(object_id.into(), body, None)
            .await?;
        // The acknowledgement below answers Minami-Izu's readiness.
        if kind == Kind::Readiness && i == 2 {
            readiness_id = Some(stored.id);
        }
        println!(
            "  {} {:<18} {}",
            pad(MEMBERS[i].name, 22),
            kind.name(),
            summary(&stored.entry.body)
        );
        expected.push((i, object_id.to_owned(), kind));
    }
    // Suginami confirms it read Minami-Izu's readiness.
    if let Some(rid) = readiness_id {
        let ack = Body::Acknowledgement(Acknowledgement {
            entry_id: rid,
            note: samples::ja_en(
                "受領しました。簡易トイレ100基を手配します。",
                "Received; 100 portable toilets on the way.",
            ),
            kind: Default::default(),
        });
        nodes[1]
            .replica
            .publish(format!("ack-{rid}"), ack, None)
            .await?;
        println!(
            "  {} {:<18} readiness of 南伊豆町",
            pad(MEMBERS[1].name, 22),
            "acknowledgement"
        );
        expected.push((1, format!("ack-{rid}"), Kind::Acknowledgement));
    }
    println!("\narrivals of events and readiness (everything else travels the same way):");
    let mut seen = vec![vec![false; expected.len()]; nodes.len()];
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        for (n, node) in nodes.iter().enumerate() {
            for (x, (i, object_id, kind)) in expected.iter().enumerate() {
                if seen[n][x] {
                    continue;
                }
                if *i == n {
                    seen[n][x] = true;
                    continue;
                }
                let versions = node.replica.store().history(&ids[*i], object_id)?;
                if !versions.is_empty() {
                    seen[n][x] = true;
                    if matches!(kind, Kind::Event | Kind::Readiness) {
                        let e = node
                            .replica
                            .read(&ids[*i], *versions.last().expect("one"))?
                            .expect("stored");
                        println!(
                            "  +{:>5} ms  {} ← {} {}",
                            started.elapsed().as_millis(),
                            pad(MEMBERS[n].name, 22),
                            pad(MEMBERS[*i].name, 22),
                            summary(&e.entry.body)
                        );
                    }
                }
            }
        }
        if seen.iter().flatten().all(|s| *s) {
            break;
        }
        if Instant::now() > deadline {
            for n in nodes {
                n.shutdown(Duration::from_secs(5)).await;
            }
            bail!("not every entry reached every node within 30 s");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!(
        "\nall {} entries reached all {} nodes in {} ms.\n",
        expected.len(),
        nodes.len(),
        started.elapsed().as_millis()
    );
    println!(
        "  {} events readiness cases calls partnerships (active) acks  peers",
        pad("node", 22)
    );
    for (n, m) in nodes.iter().zip(&MEMBERS) {
        let count = |k: Kind| n.replica.current(k).map(|v| v.len()).unwrap_or(0);
        // The same derivation the query API uses (both sides stated it).
        let partnerships = query::Query {
            kind: Some("partnership".into()),
            ..Default::default()
        };
        let active = n
            .read
            .first(&partnerships, usize::MAX)?
            .iter()
            .filter(|e| e.partnership.as_deref() == Some("active"))
            .count();
        println!(
            "  {} {:>6} {:>9} {:>5} {:>5} {:>8} ({}) {:>6} {:>6}",
            pad(m.name, 22),
            count(Kind::Event),
            count(Kind::Readiness),
            count(Kind::Case),
            count(Kind::CallForPartners),
            count(Kind::Partnership),
            active,
            count(Kind::Acknowledgement),
            n.table.connected()
        );
    }
    if args.stay {
        println!("\npages (self-signed certificates: the browser asks once per node):");
        for (n, m) in nodes.iter().zip(&MEMBERS) {
            println!("  {} https://{}/", pad(m.name, 22), n.federation_addr);
        }
        println!("\nthe network keeps running; open a page above, or try in another terminal:");
        println!(
            "  yui --home {} query events",
            root.join("sapporo").display()
        );
        println!("  yui --home {} peer list", root.join("suginami").display());
        println!("  yui --home {} status", root.join("tokyo-relay").display());
        println!("Ctrl-C stops it.");
        tokio::signal::ctrl_c().await?;
    } else {
        println!(
            "\nadd --stay to keep the network running and open each node's pages in a browser"
        );
    }
    for n in nodes {
        n.shutdown(Duration::from_secs(5)).await;
    }
    Ok(())
}
