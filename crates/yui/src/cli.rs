//! The `yui` command line: runs each command (the commands and their flags
//! are in `args`).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use yui_core::NodeId;

use yui_node::api::*;
use yui_node::client::AdminClient;
use yui_node::home::{Home, InitOptions};
use yui_node::node::Node;

mod aid;
mod args;
mod audience;
mod publish;
mod show;
mod user;

pub use args::*;

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

/// Waits for `work` (a long admin request); meanwhile prints the node's
/// progress of the task named `what` to standard error about every second.
async fn with_progress<T>(
    c: &AdminClient,
    what: &str,
    work: impl std::future::Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    tokio::pin!(work);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    loop {
        tokio::select! {
            r = &mut work => return r,
            _ = tick.tick() => {
                if let Ok(s) = c.get::<StatusView>("/v1/status").await {
                    for t in s.tasks.iter().filter(|t| t.what == what) {
                        eprintln!("{t}");
                    }
                }
            }
        }
    }
}

/// `512 B`, `3.4 KB`, `1.2 MB`, `5.0 GB`.
fn fmt_bytes(n: u64) -> String {
    match n {
        0..1000 => format!("{n} B"),
        1000..1_000_000 => format!("{:.1} KB", n as f64 / 1e3),
        1_000_000..1_000_000_000 => format!("{:.1} MB", n as f64 / 1e6),
        _ => format!("{:.1} GB", n as f64 / 1e9),
    }
}

fn print_json<T: serde::Serialize>(v: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

/// Percent-encodes a query-string value.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn query_path(q: &QueryArgs) -> anyhow::Result<String> {
    let kind = match q.what.as_str() {
        "events" | "event" => Some("event"),
        "readiness" => Some("readiness"),
        "cases" | "case" => Some("case"),
        "calls" | "call" => Some("call_for_partners"),
        "partnerships" | "partnership" => Some("partnership"),
        "profiles" | "profile" => Some("profile"),
        "acks" | "ack" => Some("acknowledgement"),
        "aid" => Some("aid"),
        "replies" | "reply" => Some("reply"),
        "all" => None,
        other => bail!("unknown kind {other:?}: events, readiness, cases, calls, partnerships, profiles, acks, aid, replies or all"),
    };
    let mut params: Vec<(&str, String)> = Vec::new();
    if let Some(k) = kind {
        params.push(("kind", k.into()));
    }
    if let Some(a) = q.author {
        params.push(("author", a.to_string()));
    }
    for (k, v) in [
        ("month", &q.month),
        ("from", &q.from),
        ("to", &q.to),
        ("policy_area", &q.policy_area),
        ("q", &q.search),
        ("tag", &q.tag),
        ("lang", &q.in_lang),
        ("attendance", &q.attendance),
        ("cursor", &q.cursor),
    ] {
        if let Some(v) = v {
            params.push((k, v.clone()));
        }
    }
    if let Some(l) = q.min_alert_level {
        params.push(("min_alert_level", l.to_string()));
    }
    if q.stale || q.fresh {
        params.push(("stale", q.stale.to_string()));
    }
    let limit = match (q.limit, q.all) {
        (Some(l), _) => Some(l),
        (None, true) => Some(yui_read::query::MAX_LIMIT),
        (None, false) => None,
    };
    if let Some(l) = limit {
        params.push(("limit", l.to_string()));
    }
    if q.facets {
        params.push(("facets", "true".into()));
    }
    let qs: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect();
    Ok(format!("/v1/entries?{}", qs.join("&")))
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
            yui_store::create_dir(&home.data_path(), a.engine)
                .with_context(|| format!("cannot create the {} store", a.engine))?;
            println!("{id}");
        }
        Command::Run { restored } => {
            if restored {
                home.write_hold(None)
                    .with_context(|| format!("cannot write {}", home.hold_path().display()))?;
            }
            run_node(home).await?
        }
        Command::Hold(HoldCmd::Release) => {
            let c = AdminClient::for_home(&home)?;
            let r: serde_json::Value = c.post("/v1/hold/release", &serde_json::json!({})).await?;
            println!(
                "{}",
                if r["released"] == true {
                    "publishing released"
                } else {
                    "publishing was not held"
                }
            );
        }
        Command::Id => println!("{}", NodeId::new(home.load_key()?.public_key())),
        Command::Backup { dir, json } => {
            let c = AdminClient::for_home(&home)?;
            // Named here (default HOME/backups/<time>) so it can be shown.
            let dir = dir.unwrap_or_else(|| {
                home.root()
                    .join("backups")
                    .join(chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string())
            });
            let dir = if dir.is_relative() {
                std::env::current_dir()?.join(dir)
            } else {
                dir
            };
            let m: yui_node::backup::Manifest = with_progress(
                &c,
                "backup",
                c.post(
                    "/v1/backup",
                    &BackupRequest {
                        dir: Some(dir.clone()),
                    },
                ),
            )
            .await?;
            if json {
                print_json(&m)?;
            } else {
                println!(
                    "backed up {} entries from {} authors to {}",
                    m.entries,
                    m.heads.len(),
                    dir.display()
                );
                println!("the folder holds the node key: keep it as safe as the node itself");
            }
        }
        Command::Restore { dir, json } => {
            let h = home.clone();
            let r = tokio::task::spawn_blocking(move || {
                yui_node::backup::restore(&dir, &h, &mut |p| eprintln!("{p}"))
            })
            .await??;
            if json {
                print_json(&r)?;
            } else {
                println!(
                    "restored {} of {} entries into {} ({} {}){}",
                    r.accepted,
                    r.entries,
                    home.root().display(),
                    r.passes,
                    if r.passes == 1 { "pass" } else { "passes" },
                    r.first_refusal
                        .as_ref()
                        .map(|e| format!("; {} refused, first: {e}", r.refused))
                        .unwrap_or_default()
                );
                println!("publishing is held until a peer shows this node has the newest entries of its own log; start it with `yui run`");
            }
        }
        Command::Check { json } => {
            let (report, index) = Node::check_store(&home)?;
            let fine = report.problems.is_empty() && index.agrees();
            if json {
                let mut v = serde_json::to_value(&report)?;
                v["index"] = serde_json::to_value(&index)?;
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                println!(
                    "{} authors, {} entries checked: {}",
                    report.authors,
                    report.entries,
                    if report.problems.is_empty() {
                        "no problems".to_owned()
                    } else {
                        format!("{} problems", report.problems.len())
                    }
                );
                for p in &report.problems {
                    println!("  {p}");
                }
                println!(
                    "search index: {} documents for {} current objects: {}",
                    index.documents,
                    index.objects,
                    if index.agrees() {
                        "agrees with the logs".to_owned()
                    } else {
                        format!(
                            "{} missing, {} extra; run `yui reindex`",
                            index.missing.len(),
                            index.extra.len()
                        )
                    }
                );
                for m in index.missing.iter().take(20) {
                    println!("  not indexed: {m}");
                }
                for m in index.extra.iter().take(20) {
                    println!("  indexed but not current: {m}");
                }
            }
            if !fine {
                std::process::exit(1);
            }
        }
        Command::Store(StoreCmd::Convert { engine, json }) => {
            let started = std::time::Instant::now();
            let mut last = std::time::Instant::now();
            let dir = home.data_path();
            let done = yui_store::convert_dir(&dir, engine, &mut |n| {
                if !json && last.elapsed() > std::time::Duration::from_secs(2) {
                    eprintln!("copied {n} keys ({:.1} s)", started.elapsed().as_secs_f64());
                    last = std::time::Instant::now();
                }
            })
            .with_context(|| {
                format!(
                    "cannot convert {} to {engine} (is the node stopped?)",
                    dir.display()
                )
            })?;
            let secs = started.elapsed().as_secs_f64();
            if json {
                print_json(&serde_json::json!({
                    "from": done.from.to_string(),
                    "to": engine.to_string(),
                    "keys": done.keys,
                    "bytes": done.bytes,
                    "kept": done.kept,
                    "seconds": secs,
                }))?;
            } else {
                println!(
                    "store converted from {} to {engine}: {} keys, {:.1} MB, {secs:.1} s",
                    done.from,
                    done.keys,
                    done.bytes as f64 / 1e6
                );
                println!(
                    "the {} store is kept at {}; remove it once the node runs well",
                    done.from,
                    done.kept.display()
                );
            }
        }
        Command::Reindex { json } => {
            let started = std::time::Instant::now();
            let done = Node::reindex(&home, &mut |n| {
                if !json {
                    eprintln!(
                        "indexed {n} entries ({:.1} s)",
                        started.elapsed().as_secs_f64()
                    );
                }
            })?;
            let secs = started.elapsed().as_secs_f64();
            if json {
                print_json(&serde_json::json!({
                    "entries": done.entries,
                    "objects": done.objects,
                    "seconds": secs,
                }))?;
            } else {
                println!(
                    "search index rebuilt: {} entries, {} current objects, {secs:.1} s",
                    done.entries, done.objects
                );
            }
        }
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
                TrustCmd::List { all: true, json } => {
                    let v: EffectiveTrustView = c.get("/v1/trust/effective").await?;
                    if json {
                        print_json(&v)?;
                    } else {
                        for t in &v.trusted {
                            let how = match t.depth {
                                0 => "root".to_owned(),
                                1 => "endorsed by a root".to_owned(),
                                d => format!("{d} endorsements from a root"),
                            };
                            println!(
                                "{}  {:<20} {how}",
                                t.node_id,
                                t.name.clone().unwrap_or_default()
                            );
                        }
                        for r in &v.revoked {
                            println!("{r}  REVOKED");
                        }
                    }
                }
                TrustCmd::List { all: false, json } => {
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
                            "{:<9} {:<22} {:<11} {:<20} {:>6} {:>6} {:>6} {:>7}  LAST SEEN / ERROR",
                            "DIR", "ADDRESS", "STATE", "PEER", "SENT", "RECV", "BEHIND", "MISSING"
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
                                "{:<9} {:<22} {:<11} {:<20} {:>6} {:>6} {:>6} {:>7}  {}",
                                p.direction,
                                p.addr,
                                p.state,
                                who,
                                p.entries_sent,
                                p.entries_received,
                                p.peer_behind,
                                p.missing,
                                note
                            );
                            if let Some(c) = &p.catch_up {
                                println!("          {c}");
                            }
                        }
                    }
                }
            }
        }
        Command::Endorse {
            node_id,
            name,
            code,
            country,
            lang,
        } => {
            let body = yui_core::Body::Endorsement(yui_core::content::Endorsement {
                subject: node_id,
                name: yui_core::LocalizedText::one(&lang, &name),
                code,
                country,
            });
            publish_body(&home, body, None, None, Default::default()).await?;
        }
        Command::Key(KeyCmd::Rotate) => {
            let c = AdminClient::for_home(&home)?;
            let r: serde_json::Value = c.post("/v1/key/rotate", &serde_json::json!({})).await?;
            println!("{}", r["new"].as_str().unwrap_or_default());
            eprintln!(
                "rotated {} to {} at seq {}; {} of {} connected peers hold it; the node restarts under the new key",
                r["old"].as_str().unwrap_or_default(),
                r["new"].as_str().unwrap_or_default(),
                r["seq"],
                r["peers_informed"],
                r["peers_connected"]
            );
        }
        Command::Key(KeyCmd::Revoke {
            node_id,
            reason,
            lang,
        }) => {
            let subject = match node_id {
                Some(id) => id,
                None => NodeId::new(home.load_key()?.public_key()),
            };
            let body = yui_core::Body::Revocation(yui_core::content::Revocation {
                subject,
                reason: reason
                    .map(|r| yui_core::LocalizedText::one(&lang, &r))
                    .unwrap_or_default(),
            });
            publish_body(&home, body, None, None, Default::default()).await?;
        }
        Command::Aid(cmd) => aid::run(&home, cmd).await?,
        Command::Reply(a) => aid::reply(&home, a).await?,
        Command::Audiences { json } => audience::list(&home, json).await?,
        Command::Withdraw(a) => audience::withdraw(&home, a).await?,
        Command::Receipt(cmd) => aid::receipt(cmd)?,
        Command::User(cmd) => user::run(&home, cmd)?,
        Command::Vectors { out } => {
            yui_lab::vectors::write(&out)
                .with_context(|| format!("cannot write {}", out.display()))?;
            eprintln!("vectors written to {}", out.display());
        }
        Command::Publish(cmd) => {
            let readers = publish::readers(&cmd);
            let (body, object_id, expires_at) = publish::build(cmd)?;
            publish_body(&home, body, object_id, expires_at, readers).await?;
        }
        Command::Query(q) => {
            let c = AdminClient::for_home(&home)?;
            let path = query_path(&q)?;
            let mut page: Page = c.get(&path).await?;
            if q.all {
                while let Some(next) = page.next.take() {
                    let more: Page = c.get(&format!("{path}&cursor={}", encode(&next))).await?;
                    page.items.extend(more.items);
                    page.next = more.next;
                }
            }
            if q.json {
                print_json(&page)?;
            } else {
                for e in &page.items {
                    println!("{}", show::line(e, &q.lang));
                    if let Some(s) = &e.snippet {
                        println!("    {}", show::snippet(s));
                    }
                }
                let shown = page.items.len() as u64;
                if shown < page.total || page.next.is_some() {
                    println!("({shown} of {} shown)", page.total);
                }
                if let Some(next) = &page.next {
                    println!("next page: --cursor {next} (or --all for every result)");
                }
                if let Some(f) = &page.facets {
                    for (dim, counts) in f {
                        let list: Vec<String> =
                            counts.iter().map(|(k, n)| format!("{k} {n}")).collect();
                        println!("{dim}: {}", list.join(", "));
                    }
                }
                if page.behind > 0 {
                    println!(
                        "(the search index is still {} entries behind the store)",
                        page.behind
                    );
                }
            }
        }
        Command::History {
            author,
            object_id,
            json,
        } => {
            let c = AdminClient::for_home(&home)?;
            let path = format!(
                "/v1/history?author={author}&object_id={}",
                encode(&object_id)
            );
            let list: Vec<EntryView> = c.get(&path).await?;
            if json {
                print_json(&list)?;
            } else {
                for e in &list {
                    println!(
                        "v{} seq {:<5} {}  {}",
                        e.version,
                        e.seq,
                        fmt_time(Some(e.created_at)),
                        show::line(e, "ja")
                    );
                }
            }
        }
        Command::Export(a) => {
            let c = AdminClient::for_home(&home)?;
            let mut path = format!("/v1/export/{}?lang={}", encode(&a.format), encode(&a.lang));
            if let Some(author) = a.author {
                path.push_str(&format!("&author={author}"));
            }
            print!("{}", c.get_text(&path).await?);
        }
        Command::Status { json } => {
            let c = AdminClient::for_home(&home)?;
            let s: StatusView = c.get("/v1/status").await?;
            if json {
                print_json(&s)?;
            } else {
                println!("node      {} ({}, {})", s.node_id, s.name, s.role);
                println!("listening {}", s.federation_addr);
                if !s.engine.is_empty() {
                    println!("store     {}", s.engine);
                }
                println!(
                    "entries   {} from {} authors ({})",
                    s.entries,
                    s.heads.len(),
                    fmt_bytes(s.entry_bytes)
                );
                if s.indexed < s.entries {
                    println!(
                        "index     {} of {} entries indexed (queries answer from what is indexed until it catches up)",
                        s.indexed, s.entries
                    );
                }
                println!("peers     {} connected", s.peers_connected);
                if let Some(c) = &s.catch_up {
                    println!("catch-up  {c}");
                }
                for t in &s.tasks {
                    println!("running   {t}");
                }
                if s.publishing_held {
                    println!("publish   HELD until a peer shows this node has its newest entries (restored from a backup)");
                }
                let k = &s.counters;
                println!(
                    "ingest    {} accepted, {} published, {} duplicate, {} refused ({} untrusted, {} bad signature, {} invalid, {} chain, {} forked, {} over rate)",
                    k.accepted, k.published, k.duplicate, k.refused(), k.refused_untrusted, k.refused_signature, k.refused_invalid, k.refused_chain, k.refused_forked, k.refused_rate
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
                for d in &s.declined {
                    println!(
                        "  DECLINED {} from seq {}: {} (not asked for past it)",
                        d.author, d.seq, d.reason
                    );
                }
            }
        }
        Command::Bundle(b) => bundle(&home, b).await?,
        Command::Config(ConfigCmd::Check { file }) => {
            let path = file.unwrap_or_else(|| home.config_path());
            let cfg = yui_node::config::Config::load(&path).map_err(|e| {
                anyhow::Error::new(yui_node::home::HomeError::Bad {
                    path: path.clone(),
                    reason: format!("\n{e}"),
                })
            })?;
            println!("{}: ok ({}, {:?})", path.display(), cfg.name, cfg.role);
        }
        Command::Demo(a) => yui_lab::demo::run(a).await?,
        Command::Bench(b) => yui_lab::bench::run(b).await?,
    }
    Ok(())
}

async fn publish_body(
    home: &Home,
    body: yui_core::Body,
    object_id: Option<String>,
    expires_at: Option<i64>,
    readers: yui_core::audience::Readers,
) -> anyhow::Result<()> {
    let c = AdminClient::for_home(home)?;
    let r: Published = c
        .post(
            "/v1/publish",
            &PublishRequest {
                object_id,
                expires_at,
                body,
                contact_audience: readers.contact,
                shelter_audience: readers.shelter_location,
            },
        )
        .await?;
    println!("{}", r.id);
    eprintln!("published {} as seq {}", r.object_id, r.seq);
    Ok(())
}

async fn bundle(home: &Home, cmd: BundleCmd) -> anyhow::Result<()> {
    let c = AdminClient::for_home(home)?;
    match cmd {
        BundleCmd::Heads => {
            let s: StatusView = c.get("/v1/status").await?;
            let heads: Vec<HeadRef> = s
                .heads
                .into_iter()
                .map(|h| HeadRef {
                    author: h.author,
                    seq: h.seq,
                })
                .collect();
            print_json(&heads)?;
        }
        BundleCmd::Export { since, out } => {
            let since: Vec<HeadRef> = match since {
                Some(p) => serde_json::from_slice(
                    &std::fs::read(&p).with_context(|| format!("cannot read {}", p.display()))?,
                )
                .with_context(|| {
                    format!(
                        "{} is not a heads file from `yui bundle heads`",
                        p.display()
                    )
                })?,
                None => Vec::new(),
            };
            let bytes = c
                .post_bytes(
                    "/v1/bundle/export",
                    serde_json::to_vec(&BundleExport { since })?,
                )
                .await?;
            match out {
                Some(p) => {
                    std::fs::write(&p, &bytes)
                        .with_context(|| format!("cannot write {}", p.display()))?;
                    eprintln!("wrote {} bytes to {}", bytes.len(), p.display());
                }
                None => {
                    use std::io::Write;
                    std::io::stdout().write_all(&bytes)?;
                }
            }
        }
        BundleCmd::Import { file, json } => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let r = with_progress(
                &c,
                "bundle import",
                c.post_bytes("/v1/bundle/import", bytes),
            )
            .await?;
            let r: BundleImported =
                serde_json::from_slice(&r).context("unexpected answer from the admin API")?;
            if json {
                print_json(&r)?;
            } else {
                println!(
                    "{} entries: {} stored, {} already held, {} refused, {} forks, {} gaps",
                    r.entries, r.accepted, r.duplicates, r.refused, r.forks, r.gaps
                );
                if let Some(f) = &r.first_refusal {
                    println!("first refusal: {f}");
                }
            }
        }
    }
    Ok(())
}

async fn run_node(home: Home) -> anyhow::Result<()> {
    let config = home.load_config()?;
    yui_node::init_tracing(&config.log.level, &config.log.format);
    // One signal watcher for the whole run: a restart (after a key rotation)
    // must not miss a SIGTERM that arrives meanwhile.
    let stop = tokio_util::sync::CancellationToken::new();
    let watcher = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let r = wait_for_signal().await;
            stop.cancel();
            r
        })
    };
    loop {
        let cancel = stop.child_token();
        let node = Node::start(home.clone(), cancel.clone()).await?;
        let drain = Duration::from_secs(node.config.federation.drain_timeout_secs);
        println!("{}", node.replica.id());
        let restart = node.restart.clone();
        tokio::select! {
            _ = cancel.cancelled() => {
                node.shutdown(drain).await;
                break;
            }
            _ = restart.notified() => {
                tracing::info!("restarting the node");
                node.shutdown(drain).await;
            }
        }
    }
    if stop.is_cancelled() && watcher.is_finished() {
        watcher.await??;
    }
    Ok(())
}

async fn wait_for_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: shutting down"),
        _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
    }
    Ok(())
}
