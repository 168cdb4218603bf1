//! Real `yui` processes on loopback: init, trust, peer, publish, query,
//! kill -9 and restart.

#[path = "support.rs"]
mod support;

use support::{wait_until, yui_bin, NodeProc};

#[test]
fn two_nodes_exchange_events_live_and_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = NodeProc::init(dir.path(), "suginami", "杉並区", "131156");
    let mut b = NodeProc::init(dir.path(), "minami-izu", "南伊豆町", "223042");
    a.start();
    b.start();
    a.trust_mutually(&b);
    b.dial(&a);

    let id = a.publish("drill-2026", "合同防災訓練");
    assert_eq!(id.len(), 64, "publish prints the entry id");
    wait_until("A's event at B", 30, || b.event_ids() == ["drill-2026"]);
    // B dialled, yet traffic flows back on the same connection.
    b.publish("visit-2027", "特別養護老人ホーム見学会");
    wait_until("B's event at A", 30, || {
        a.event_ids() == ["drill-2026", "visit-2027"]
    });
    let peers = b.json(&["peer", "list", "--json"]);
    assert_eq!(peers[0]["state"], "connected", "{peers}");
    assert_eq!(peers[0]["node_id"], a.id.as_str());

    // B goes down hard; A keeps publishing; B catches up after restart.
    b.kill9();
    a.publish("forum-2027", "ネットワーク型交流フォーラム");
    a.publish("drill-2026", "合同防災訓練（日程変更）");
    b.start();
    wait_until("B to catch up after restart", 30, || b.head_of(&a.id) == 3);
    assert_eq!(b.event_ids(), ["drill-2026", "forum-2027", "visit-2027"]);
    let events = b.json(&["query", "events", "--json"])["items"].clone();
    let drill = events
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["object_id"] == "drill-2026")
        .unwrap();
    assert_eq!(
        drill["body"]["title"]["ja"], "合同防災訓練（日程変更）",
        "newest version wins"
    );
    assert_eq!(drill["author_name"], "杉並区");

    a.stop();
    b.stop();
}

#[test]
fn entries_cross_a_line_of_three() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = NodeProc::init(dir.path(), "sapporo", "札幌市", "011002");
    let mut b = NodeProc::init(dir.path(), "relay", "東京都", "130001");
    let mut c = NodeProc::init(dir.path(), "kobe", "神戸市", "281000");
    for n in [&mut a, &mut b, &mut c] {
        n.start();
    }
    a.trust_mutually(&b);
    b.trust_mutually(&c);
    // A and C never connect, but trust each other's logs.
    a.cli(&["trust", "add", &c.id]);
    c.cli(&["trust", "add", &a.id]);
    a.dial(&b);
    c.dial(&b);
    a.publish("wwcam-2027", "世界冬の都市市長会議");
    wait_until("A's event at C through B", 30, || {
        c.event_ids() == ["wwcam-2027"]
    });
    c.publish("port-2027", "港湾管理ノウハウ共有会");
    wait_until("C's event at A through B", 30, || {
        a.event_ids() == ["port-2027", "wwcam-2027"]
    });
}

#[test]
fn acknowledged_entries_survive_kill9_and_seqs_are_never_reused() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = NodeProc::init(dir.path(), "hamamatsu", "浜松市", "221309");
    a.start();
    let mut ids = Vec::new();
    for i in 0..15 {
        ids.push(a.publish(&format!("ev-{i}"), "多文化共生セミナー"));
    }
    a.kill9();
    a.start();
    assert_eq!(a.head_of(&a.id), 15, "an acknowledged entry was lost");
    let next = a.cli(&[
        "publish",
        "event",
        "--title",
        "再開後",
        "--start",
        "2027-01-01T09:00:00+09:00",
    ]);
    assert!(!ids.contains(&next.trim().to_owned()));
    assert_eq!(a.head_of(&a.id), 16, "the next publish must take seq 16");
    assert_eq!(a.event_ids().len(), 16);
    a.stop();
}

#[test]
fn cli_errors_are_clear() {
    let dir = tempfile::tempdir().unwrap();
    let a = NodeProc::init(dir.path(), "bunkyo", "文京区", "131059");
    // Not running.
    let out = a.try_cli(&["status"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is `yui run` running"));
    // Not a home.
    let out = std::process::Command::new(support::yui_bin())
        .args([
            "--home",
            dir.path().join("nowhere").to_str().unwrap(),
            "run",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("yui init"));
    // A typo in a node id.
    let mut typo = a.id.clone();
    typo.replace_range(10..11, if &typo[10..11] == "q" { "p" } else { "q" });
    let out = a.try_cli(&["trust", "add", &typo]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("checksum"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Bad code at init writes nothing.
    let out = std::process::Command::new(support::yui_bin())
        .args([
            "--home",
            dir.path().join("bad").to_str().unwrap(),
            "init",
            "--name",
            "x",
            "--code",
            "131157",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("check digit"));
    assert!(!dir.path().join("bad/node.key").exists());
    // `yui config check` reports every problem at once, with its key.
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "name = \"\"\ncode = \"131131\"\n[federation]\nlisten = \"x\"\n",
    )
    .unwrap();
    let out = a.try_cli(&["config", "check", "--file", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(64));
    let err = String::from_utf8_lossy(&out.stderr);
    for key in ["name:", "code:", "federation.listen:"] {
        assert!(
            err.contains(key),
            "config check did not report {key}: {err}"
        );
    }
    assert!(a.try_cli(&["config", "check"]).status.success());
    // `yui id` matches init's output.
    assert_eq!(a.cli(&["id"]).trim(), a.id);
}

/// The container demo's flow without a container engine: `yui demo
/// --prepare` makes four homes (one per volume), each then runs as its own
/// `yui run` with only `YUI_*` overrides, and every sample entry reaches
/// every node through the relay.
#[test]
fn prepared_demo_homes_run_as_separate_nodes() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let relay_addr = format!("127.0.0.1:{port}");
    let out = std::process::Command::new(yui_bin())
        .args(["demo", "--prepare"])
        .arg(dir.path())
        .args(["--relay-addr", &relay_addr])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let again = std::process::Command::new(yui_bin())
        .args(["demo", "--prepare"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        again.status.success(),
        "prepare is not idempotent: {again:?}"
    );
    let mut nodes = Vec::new();
    for slug in ["tokyo-relay", "suginami", "minami-izu", "sapporo"] {
        let home = dir.path().join(slug);
        let id = std::process::Command::new(yui_bin())
            .args(["--home", home.to_str().unwrap(), "id"])
            .output()
            .unwrap();
        let id = String::from_utf8(id.stdout).unwrap().trim().to_owned();
        let config = std::fs::read_to_string(home.join("config.toml")).unwrap();
        assert!(config.contains("listen = \"0.0.0.0:7100\""), "{config}");
        let mut n = NodeProc::existing(home, slug, &id);
        let listen = if slug == "tokyo-relay" {
            relay_addr.clone()
        } else {
            "127.0.0.1:0".to_owned()
        };
        n.start_with_env(&[
            ("YUI_FEDERATION_LISTEN", &listen),
            ("YUI_ADMIN_LISTEN", "127.0.0.1:0"),
        ]);
        nodes.push(n);
    }
    let total: u64 = nodes.iter().map(|n| n.head_of(&n.id)).sum();
    assert!(total >= 15, "the samples were not published: {total}");
    for n in &nodes {
        wait_until(&format!("{} to hold every sample", n.name), 60, || {
            n.json(&["status", "--json"])["entries"] == total
        });
    }
    let events = nodes[3].json(&["query", "events", "--json"])["items"].clone();
    assert!(events.as_array().unwrap().len() >= 4, "{events}");
}

/// `yui … | head`: a reader that goes away ends the command quietly with
/// 141 (as after SIGPIPE), not a panic.
#[test]
fn a_closed_pipe_ends_the_cli_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let a = NodeProc::init(dir.path(), "otaru", "小樽市", "012033");
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = std::process::Command::new(yui_bin())
        .args(["--home", a.home.to_str().unwrap(), "id"])
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(141), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// `yui init --engine sled` makes a home on the design card's engine: it
/// runs, says so in `yui status`, keeps what it published across a
/// restart, and syncs with a fjall home like any other. `yui store
/// convert` moves it to fjall and back, refused while the node runs.
#[test]
fn a_home_made_on_sled_runs_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("sapporo");
    let out = std::process::Command::new(support::yui_bin())
        .args(["--home", home.to_str().unwrap(), "init", "--name", "札幌市"])
        .args(["--code", "011002", "--engine", "sled"])
        .args(["--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let mut sled = NodeProc::existing(home, "札幌市", &id);
    let mut fjall = NodeProc::init(dir.path(), "izu", "南伊豆町", "223042");
    sled.start();
    fjall.start();
    assert_eq!(sled.json(&["status", "--json"])["engine"], "sled");
    assert_eq!(fjall.json(&["status", "--json"])["engine"], "fjall");
    sled.publish("snow-festival", "さっぽろ雪まつり 国際交流の夕べ");
    sled.trust_mutually(&fjall);
    fjall.dial(&sled);
    wait_until("the sled node's event at the fjall node", 30, || {
        fjall.event_ids() == ["snow-festival"]
    });
    sled.stop();
    sled.start();
    assert_eq!(sled.event_ids(), ["snow-festival"]);
    // Converting a running node's store is refused; nothing changes.
    let busy = sled.try_cli(&["store", "convert", "--engine", "fjall"]);
    assert!(!busy.status.success());
    assert!(
        String::from_utf8_lossy(&busy.stderr).contains("is the node stopped?"),
        "{}",
        String::from_utf8_lossy(&busy.stderr)
    );
    assert_eq!(sled.json(&["status", "--json"])["engine"], "sled");
    sled.stop();
    let out = sled.cli(&["store", "convert", "--engine", "fjall", "--json"]);
    let done: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (done["from"].as_str(), done["to"].as_str()),
        (Some("sled"), Some("fjall"))
    );
    assert!(done["keys"].as_u64().unwrap() >= 4, "{done}");
    assert!(std::path::Path::new(done["kept"].as_str().unwrap()).is_dir());
    // The same engine again: refused with the reason.
    let same = sled.try_cli(&["store", "convert", "--engine", "fjall"]);
    assert!(String::from_utf8_lossy(&same.stderr).contains("already a fjall store"));
    // The converted store passes the stopped node's full check.
    sled.cli(&["check"]);
    sled.start();
    assert_eq!(sled.json(&["status", "--json"])["engine"], "fjall");
    assert_eq!(sled.event_ids(), ["snow-festival"]);
    // It listens on a new port since the restart.
    fjall.dial(&sled);
    sled.publish("snow-festival-2", "雪まつり 交流会");
    wait_until(
        "the event published after the convert at the fjall node",
        30,
        || fjall.event_ids().len() == 2,
    );
    // A bad engine name is refused with the choices.
    let bad = std::process::Command::new(support::yui_bin())
        .args([
            "--home",
            dir.path().join("x").to_str().unwrap(),
            "init",
            "--name",
            "x",
        ])
        .args(["--engine", "rocksdb"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("fjall or sled"));
}

/// `yui demo` as the README starts it: four nodes on loopback, every sample
/// entry at every node, and each line of what was published says what it
/// is (the aid request names its lines and whom it asks).
#[test]
fn the_demo_network_delivers_every_sample_and_says_what_it_published() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(yui_bin())
        .arg("demo")
        .env("TMPDIR", dir.path())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(stdout.contains("entries reached all 4 nodes"), "{stdout}");
    let aid = stdout
        .lines()
        .find(|l| l.contains(" aid "))
        .unwrap_or_else(|| panic!("no aid line in {stdout}"));
    assert!(
        aid.ends_with("要請 毛布 500枚、保健師 2人×7日 → 杉並区、札幌市"),
        "{aid}"
    );
    let published = stdout
        .split("publishing:")
        .nth(1)
        .and_then(|s| s.split("arrivals").next())
        .unwrap();
    for line in published.lines().filter(|l| !l.trim().is_empty()) {
        let words: Vec<&str> = line.split_whitespace().collect();
        assert!(words.len() >= 3, "a published line says nothing: {line:?}");
    }
}
