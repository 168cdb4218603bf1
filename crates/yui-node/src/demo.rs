//! `yui demo`: a local network of three municipalities and one relay on
//! loopback, each a full node with its own home, TLS and sled store, showing
//! sample entries arrive everywhere.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;
use tokio_util::sync::CancellationToken;
use yui_core::content::{AttendanceMode, Contact, Event, EventStatus};
use yui_core::{Body, Kind, LocalizedText};
use yui_store::PeerRecord;
use yui_sync::now_ms;

use crate::config::Role;
use crate::home::{Home, InitOptions};
use crate::node::Node;

/// `yui demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Keep the homes in this folder (default: a temporary folder, removed at exit).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Keep the network running until Ctrl-C, to explore it with the CLI.
    #[arg(long)]
    pub stay: bool,
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

fn text(ja: &str, en: &str) -> LocalizedText {
    LocalizedText(vec![("ja".into(), ja.into()), ("en".into(), en.into())])
}

/// The sample events, by publishing member index.
fn samples() -> Vec<(usize, &'static str, Event)> {
    vec![
        (
            3,
            "wwcam-2027",
            Event {
                title: text("世界冬の都市市長会議 2027", "World Winter Cities Mayors Summit 2027"),
                description: text(
                    "雪と共生するまちづくりの事例を持ち寄る国際会議。",
                    "Member cities share how they live with snow.",
                ),
                status: EventStatus::Confirmed,
                start: "2027-02-10T10:00:00+09:00".into(),
                end: "2027-02-12T17:00:00+09:00".into(),
                time_zone: "Asia/Tokyo".into(),
                attendance: AttendanceMode::Mixed,
                location: text("札幌コンベンションセンター", "Sapporo Convention Center"),
                online_url: "https://example.org/wwcam-2027".into(),
                organisers: vec!["011002".into()],
                category: "culture".into(),
                ..Default::default()
            },
        ),
        (
            2,
            "joint-drill-2026-12",
            Event {
                title: text("杉並区・南伊豆町 合同防災図上訓練", "Suginami–Minami-Izu joint disaster tabletop drill"),
                description: text(
                    "大規模地震を想定し、物資・職員派遣・避難者受入れの手順をオンラインで確認します。",
                    "Online drill of supplies, staff dispatch and evacuee reception after a major earthquake.",
                ),
                start: "2026-12-05T13:30:00+09:00".into(),
                end: "2026-12-05T16:00:00+09:00".into(),
                time_zone: "Asia/Tokyo".into(),
                attendance: AttendanceMode::Online,
                online_url: "https://example.org/drill".into(),
                organisers: vec!["223042".into()],
                partners: vec!["131156".into()],
                category: "disaster-drill".into(),
                contact: Contact {
                    department: text("総務課 防災係", "General Affairs, Disaster Prevention"),
                    email: "bousai@example.jp".into(),
                    ..Default::default()
                },
                ..Default::default()
            },
        ),
        (
            1,
            "elderly-care-visit-2027",
            Event {
                title: text("南伊豆町 特別養護老人ホーム 見学会", "Visit to the Minami-Izu nursing home"),
                description: text(
                    "杉並区と南伊豆町が共同で整備した特別養護老人ホームの運営事例を紹介します。",
                    "How Suginami and Minami-Izu run the nursing home they opened together.",
                ),
                start: "2027-03-15T10:00:00+09:00".into(),
                duration_minutes: 180,
                time_zone: "Asia/Tokyo".into(),
                location: text("静岡県賀茂郡南伊豆町", "Minami-Izu, Shizuoka"),
                organisers: vec!["131156".into(), "223042".into()],
                category: "welfare".into(),
                ..Default::default()
            },
        ),
        (
            0,
            "forum-2027",
            Event {
                title: text("ネットワーク型交流フォーラム", "Network-type exchange forum"),
                start: "2027-01-20T14:00:00+09:00".into(),
                end: "2027-01-20T17:00:00+09:00".into(),
                time_zone: "Asia/Tokyo".into(),
                attendance: AttendanceMode::Mixed,
                location: text("東京都庁", "Tokyo Metropolitan Government Building"),
                category: "forum".into(),
                ..Default::default()
            },
        ),
    ]
}

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

/// Runs the demo.
pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    if std::env::var_os("RUST_LOG").is_some() {
        crate::init_tracing(&std::env::var("RUST_LOG").unwrap_or_default(), "text");
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
    println!("\npublishing one event on each node:");
    let samples = samples();
    let started = Instant::now();
    for (i, object_id, ev) in &samples {
        let title = ev.title.get("ja").unwrap_or_default().to_owned();
        nodes[*i]
            .replica
            .publish((*object_id).into(), Body::Event(ev.clone()), None)
            .await?;
        println!("  {} 「{}」", pad(MEMBERS[*i].name, 22), title);
    }
    println!("\narrivals:");
    let mut seen = vec![vec![false; samples.len()]; nodes.len()];
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        for (n, node) in nodes.iter().enumerate() {
            let current = node.replica.current(Kind::Event)?;
            for (s, (i, object_id, ev)) in samples.iter().enumerate() {
                if seen[n][s] || *i == n {
                    seen[n][s] = true;
                    continue;
                }
                if current.iter().any(|e| {
                    e.entry.author == nodes[*i].replica.id() && e.entry.object_id == *object_id
                }) {
                    seen[n][s] = true;
                    println!(
                        "  +{:>5} ms  {} ← {} 「{}」",
                        started.elapsed().as_millis(),
                        pad(MEMBERS[n].name, 22),
                        pad(MEMBERS[*i].name, 22),
                        ev.title.get("ja").unwrap_or_default()
                    );
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
            bail!("not every event reached every node within 30 s");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!(
        "\nevery event reached every node in {} ms.",
        started.elapsed().as_millis()
    );
    for (n, m) in nodes.iter().zip(&MEMBERS) {
        println!(
            "  {} {} events, {} peers connected",
            pad(m.name, 22),
            n.replica.current(Kind::Event)?.len(),
            n.table.connected()
        );
    }
    if args.stay {
        println!("\nthe network keeps running; try in another terminal:");
        println!(
            "  yui --home {} query events",
            root.join("sapporo").display()
        );
        println!("  yui --home {} peer list", root.join("suginami").display());
        println!("  yui --home {} status", root.join("tokyo-relay").display());
        println!("Ctrl-C stops it.");
        tokio::signal::ctrl_c().await?;
    }
    for n in nodes {
        n.shutdown(Duration::from_secs(5)).await;
    }
    Ok(())
}
