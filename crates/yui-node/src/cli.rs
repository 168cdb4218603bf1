//! The `yui` command line.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};
use yui_core::content::{AttendanceMode, Event, EventStatus};
use yui_core::{Body, LocalizedText, NodeId};

use crate::api::*;
use crate::client::AdminClient;
use crate::config::Role;
use crate::home::{Home, InitOptions};
use crate::node::Node;

/// yui: a federated exchange network for municipalities.
#[derive(Debug, Parser)]
#[command(name = "yui", version, about)]
pub struct Cli {
    /// Home folder of the node (config, keys, data).
    #[arg(long, env = "YUI_HOME", global = true)]
    pub home: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a new node in the home folder and print its node id.
    Init(InitArgs),
    /// Run the node until SIGINT or SIGTERM.
    Run,
    /// Print this node's id.
    Id,
    /// Manage the authors this node trusts.
    #[command(subcommand)]
    Trust(TrustCmd),
    /// Manage the peers this node dials.
    #[command(subcommand)]
    Peer(PeerCmd),
    /// Publish an entry in this node's log.
    #[command(subcommand)]
    Publish(PublishCmd),
    /// Read what this node knows.
    #[command(subcommand)]
    Query(QueryCmd),
    /// Show the node's state.
    Status {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Start a local demo network (three municipalities and a relay).
    Demo(crate::demo::DemoArgs),
    /// Measure this machine.
    #[command(subcommand)]
    Bench(crate::bench::BenchCmd),
}

/// `yui init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Name of the municipality or body.
    #[arg(long)]
    pub name: String,
    /// Local government code (6 digits) or foreign code (KR-busan).
    #[arg(long)]
    pub code: Option<String>,
    /// municipality or relay.
    #[arg(long, default_value = "municipality")]
    pub role: Role,
    /// Federation address to listen on (default 0.0.0.0:7100).
    #[arg(long)]
    pub listen: Option<String>,
    /// Admin API address (default 127.0.0.1:7101).
    #[arg(long)]
    pub admin: Option<String>,
}

/// `yui trust …`.
#[derive(Debug, Subcommand)]
pub enum TrustCmd {
    /// Trust an author.
    Add {
        /// Its node id (yui1…).
        node_id: NodeId,
        /// Name for people.
        #[arg(long, default_value = "")]
        name: String,
    },
    /// Stop trusting an author.
    Remove {
        /// Its node id.
        node_id: NodeId,
    },
    /// List trusted authors.
    List {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
}

/// `yui peer …`.
#[derive(Debug, Subcommand)]
pub enum PeerCmd {
    /// Dial a peer and keep it connected.
    Add {
        /// HOST:PORT of its federation port.
        addr: String,
        /// The node id expected there.
        #[arg(long = "id")]
        node_id: Option<NodeId>,
    },
    /// Stop dialling a peer.
    Remove {
        /// HOST:PORT.
        addr: String,
    },
    /// Show links and their state.
    List {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
}

/// `yui publish …`.
#[derive(Debug, Subcommand)]
pub enum PublishCmd {
    /// Publish or update a calendar event.
    Event(Box<EventArgs>),
}

/// `yui publish event`.
#[derive(Debug, Args)]
pub struct EventArgs {
    /// Title (in --lang).
    #[arg(long, required_unless_present = "file")]
    pub title: Option<String>,
    /// Start: RFC 3339 with offset (2027-02-10T10:00:00+09:00), or a date with --all-day.
    #[arg(long, required_unless_present = "file")]
    pub start: Option<String>,
    /// End, same form as start.
    #[arg(long)]
    pub end: Option<String>,
    /// Language of the texts given by flags (BCP 47).
    #[arg(long, default_value = "ja")]
    pub lang: String,
    /// Object id: give an existing one to update that event.
    #[arg(long = "id")]
    pub object_id: Option<String>,
    /// Description.
    #[arg(long)]
    pub description: Option<String>,
    /// Place.
    #[arg(long)]
    pub location: Option<String>,
    /// IANA time zone.
    #[arg(long, default_value = "Asia/Tokyo")]
    pub tz: String,
    /// All-day event (start and end are dates).
    #[arg(long)]
    pub all_day: bool,
    /// tentative, confirmed or cancelled.
    #[arg(long, default_value = "confirmed")]
    pub status: String,
    /// offline, online or mixed.
    #[arg(long, default_value = "offline")]
    pub attendance: String,
    /// Online meeting URL.
    #[arg(long)]
    pub online_url: Option<String>,
    /// Category.
    #[arg(long, default_value = "")]
    pub category: String,
    /// Organiser codes (repeat).
    #[arg(long = "organiser")]
    pub organisers: Vec<String>,
    /// Partner municipality codes (repeat).
    #[arg(long = "partner")]
    pub partners: Vec<String>,
    /// RFC 5545 SEQUENCE of this version.
    #[arg(long, default_value_t = 0)]
    pub sequence: u32,
    /// Read the whole event from a JSON or TOML file instead.
    #[arg(long)]
    pub file: Option<PathBuf>,
}

/// `yui query …`.
#[derive(Debug, Subcommand)]
pub enum QueryCmd {
    /// Current events from every author.
    Events {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
        /// Preferred language.
        #[arg(long, default_value = "ja")]
        lang: String,
    },
}

fn home(cli: &Cli) -> Home {
    match &cli.home {
        Some(h) => Home::new(h),
        None => Home::new(
            std::env::var_os("HOME")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("."))
                .join(".yui"),
        ),
    }
}

fn print_json<T: serde::Serialize>(v: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

fn read_event_file(path: &PathBuf) -> anyhow::Result<Event> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let ev = if path.extension().is_some_and(|e| e == "toml") {
        toml::from_str(&text)
            .with_context(|| format!("{} is not an event in TOML", path.display()))?
    } else {
        serde_json::from_str(&text)
            .with_context(|| format!("{} is not an event in JSON", path.display()))?
    };
    Ok(ev)
}

fn parse_enum<T: serde::de::DeserializeOwned>(flag: &str, v: &str) -> anyhow::Result<T> {
    serde_json::from_value(serde_json::Value::String(v.to_owned()))
        .with_context(|| format!("--{flag}: {v:?} is not a valid value"))
}

fn event_from_args(a: &EventArgs) -> anyhow::Result<Event> {
    if let Some(f) = &a.file {
        return read_event_file(f);
    }
    let text = |t: &Option<String>| {
        t.as_deref()
            .map(|t| LocalizedText::one(&a.lang, t))
            .unwrap_or_default()
    };
    Ok(Event {
        title: text(&a.title),
        description: text(&a.description),
        location: text(&a.location),
        sequence: a.sequence,
        status: parse_enum::<EventStatus>("status", &a.status)?,
        start: a.start.clone().unwrap_or_default(),
        end: a.end.clone().unwrap_or_default(),
        time_zone: a.tz.clone(),
        all_day: a.all_day,
        attendance: parse_enum::<AttendanceMode>("attendance", &a.attendance)?,
        online_url: a.online_url.clone().unwrap_or_default(),
        organisers: a.organisers.clone(),
        partners: a.partners.clone(),
        category: a.category.clone(),
        ..Default::default()
    })
}

fn fmt_time(ms: Option<i64>) -> String {
    ms.and_then(chrono::DateTime::from_timestamp_millis)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|| "-".into())
}

/// Runs the command line; returns the process exit code.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let home = home(&cli);
    match cli.command {
        Command::Init(a) => {
            let (id, _) = home.init(&InitOptions {
                name: a.name,
                code: a.code,
                role: a.role,
                listen: a.listen,
                admin: a.admin,
            })?;
            println!("{id}");
        }
        Command::Run => run_node(home).await?,
        Command::Id => println!("{}", NodeId::new(home.load_key()?.public_key())),
        Command::Trust(t) => {
            let c = AdminClient::for_home(&home)?;
            match t {
                TrustCmd::Add { node_id, name } => {
                    let r: serde_json::Value =
                        c.post("/v1/trust", &TrustAdd { node_id, name }).await?;
                    println!(
                        "{}",
                        if r["added"] == true {
                            "trusted"
                        } else {
                            "already trusted"
                        }
                    );
                }
                TrustCmd::Remove { node_id } => {
                    let r: serde_json::Value =
                        c.post("/v1/trust/remove", &TrustRemove { node_id }).await?;
                    println!(
                        "{}",
                        if r["removed"] == true {
                            "removed"
                        } else {
                            "was not trusted"
                        }
                    );
                }
                TrustCmd::List { json } => {
                    let list: Vec<TrustView> = c.get("/v1/trust").await?;
                    if json {
                        print_json(&list)?;
                    } else {
                        for t in list {
                            println!("{}  {}", t.node_id, t.name);
                        }
                    }
                }
            }
        }
        Command::Peer(p) => {
            let c = AdminClient::for_home(&home)?;
            match p {
                PeerCmd::Add { addr, node_id } => {
                    let _: serde_json::Value = c
                        .post(
                            "/v1/peers",
                            &PeerAdd {
                                addr: addr.clone(),
                                node_id,
                            },
                        )
                        .await?;
                    println!("dialling {addr}");
                }
                PeerCmd::Remove { addr } => {
                    let r: serde_json::Value =
                        c.post("/v1/peers/remove", &PeerRemove { addr }).await?;
                    println!(
                        "{}",
                        if r["removed"] == true {
                            "removed"
                        } else {
                            "no such peer"
                        }
                    );
                }
                PeerCmd::List { json } => {
                    let list: Vec<PeerView> = c.get("/v1/peers").await?;
                    if json {
                        print_json(&list)?;
                    } else {
                        println!(
                            "{:<9} {:<22} {:<11} {:<20} {:>6} {:>6} {:>6}  LAST SEEN / ERROR",
                            "DIR", "ADDRESS", "STATE", "PEER", "SENT", "RECV", "BEHIND"
                        );
                        for p in list {
                            let who = p
                                .name
                                .clone()
                                .or(p.node_id.map(|i| i.short()))
                                .unwrap_or_else(|| "-".into());
                            let note = match (&p.last_error, p.state.as_str()) {
                                (Some(e), "down" | "connecting") => e.clone(),
                                _ => fmt_time(p.last_seen_ms),
                            };
                            println!(
                                "{:<9} {:<22} {:<11} {:<20} {:>6} {:>6} {:>6}  {}",
                                p.direction,
                                p.addr,
                                p.state,
                                who,
                                p.entries_sent,
                                p.entries_received,
                                p.peer_behind,
                                note
                            );
                        }
                    }
                }
            }
        }
        Command::Publish(PublishCmd::Event(a)) => {
            let ev = event_from_args(&a)?;
            let c = AdminClient::for_home(&home)?;
            let r: Published = c
                .post(
                    "/v1/publish",
                    &PublishRequest {
                        object_id: a.object_id,
                        expires_at: None,
                        body: Body::Event(ev),
                    },
                )
                .await?;
            println!("{}", r.id);
            eprintln!("published {} as seq {}", r.object_id, r.seq);
        }
        Command::Query(QueryCmd::Events { json, lang }) => {
            let c = AdminClient::for_home(&home)?;
            let list: Vec<EntryView> = c.get("/v1/entries?kind=event").await?;
            if json {
                print_json(&list)?;
            } else {
                for e in list {
                    if let Body::Event(ev) = &e.body {
                        println!(
                            "{:<26} {:<10} {}  [{}, {}]",
                            ev.start,
                            format!("{:?}", ev.status).to_lowercase(),
                            ev.title.get(&lang).unwrap_or("(untitled)"),
                            e.author_name.clone().unwrap_or_else(|| e.author.short()),
                            e.object_id
                        );
                    }
                }
            }
        }
        Command::Status { json } => {
            let c = AdminClient::for_home(&home)?;
            let s: StatusView = c.get("/v1/status").await?;
            if json {
                print_json(&s)?;
            } else {
                println!("node      {} ({}, {})", s.node_id, s.name, s.role);
                println!("listening {}", s.federation_addr);
                println!("entries   {} from {} authors", s.entries, s.heads.len());
                println!("peers     {} connected", s.peers_connected);
                let k = &s.counters;
                println!(
                    "ingest    {} accepted, {} published, {} duplicate, {} refused ({} untrusted, {} bad signature, {} invalid, {} chain, {} forked)",
                    k.accepted, k.published, k.duplicate, k.refused(), k.refused_untrusted, k.refused_signature, k.refused_invalid, k.refused_chain, k.refused_forked
                );
                println!("forks     {}", s.forks.len());
                for h in &s.heads {
                    println!(
                        "  {:<24} seq {:>6}  {}",
                        h.name.clone().unwrap_or_else(|| h.author.short()),
                        h.seq,
                        h.author
                    );
                }
                for f in &s.forks {
                    println!(
                        "  FORK {} at seq {}: {} vs {}",
                        f.author,
                        f.seq,
                        &f.existing[..12],
                        &f.other[..12]
                    );
                }
            }
        }
        Command::Demo(a) => crate::demo::run(a).await?,
        Command::Bench(b) => crate::bench::run(b).await?,
    }
    Ok(())
}

async fn run_node(home: Home) -> anyhow::Result<()> {
    let config = home.load_config()?;
    crate::init_tracing(&config.log.level, &config.log.format);
    let cancel = tokio_util::sync::CancellationToken::new();
    let node = Node::start(home, cancel.clone()).await?;
    println!("{}", node.replica.id());
    wait_for_signal(&cancel).await?;
    node.shutdown(Duration::from_secs(10)).await;
    Ok(())
}

async fn wait_for_signal(cancel: &tokio_util::sync::CancellationToken) -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: shutting down"),
        _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
        _ = cancel.cancelled() => bail!("node stopped on an internal error"),
    }
    Ok(())
}
