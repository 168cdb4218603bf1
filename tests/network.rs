//! Links that come and go and offices with no link at all: offline bundles,
//! HTTP CONNECT proxies.

#[path = "support.rs"]
mod support;

use support::{wait_until, wait_until_or_logs, yui_bin, NodeProc};

#[test]
fn bundles_carry_entries_to_a_node_that_was_never_connected() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = NodeProc::init(dir.path(), "kobe", "神戸市", "281000");
    let mut c = NodeProc::init(dir.path(), "tianjin", "天津市", "CN-tianjin");
    a.start();
    c.start();
    c.cli(&["trust", "add", &a.id, "--name", "神戸市"]);
    for i in 0..30 {
        a.publish(&format!("port-{i}"), "港湾管理ノウハウ共有会");
    }
    let bundle = dir.path().join("all.yui");
    a.cli(&["bundle", "export", "--out", bundle.to_str().unwrap()]);

    // A damaged copy is refused whole, and nothing is stored.
    let mut damaged = std::fs::read(&bundle).unwrap();
    let cut = damaged.len() - 7;
    damaged.truncate(cut);
    let bad = dir.path().join("damaged.yui");
    std::fs::write(&bad, &damaged).unwrap();
    let out = c.try_cli(&["bundle", "import", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("damaged"));
    // A forged entry inside an intact file is refused by signature.
    let mut forged = std::fs::read(&bundle).unwrap();
    let pos = forged
        .windows("港湾".len())
        .rposition(|w| w == "港湾".as_bytes())
        .unwrap();
    forged[pos + 2] ^= 0x01;
    let forged_path = dir.path().join("forged.yui");
    std::fs::write(&forged_path, &forged).unwrap();
    let r = c.json(&["bundle", "import", forged_path.to_str().unwrap(), "--json"]);
    assert_eq!(r["refused"], 1, "{r}");
    assert_eq!(
        r["accepted"], 29,
        "entries before the forged one are fine: {r}"
    );
    assert_eq!(c.head_of(&a.id), 29);

    // The intact bundle completes the log; importing again changes nothing.
    let r = c.json(&["bundle", "import", bundle.to_str().unwrap(), "--json"]);
    assert_eq!(
        (r["accepted"].as_u64(), r["duplicates"].as_u64()),
        (Some(1), Some(29)),
        "{r}"
    );
    assert_eq!(c.head_of(&a.id), 30);
    assert_eq!(c.event_ids().len(), 30);

    // Incremental: only what lies beyond the receiver's heads.
    a.publish("port-30", "追加");
    let heads = dir.path().join("heads.json");
    std::fs::write(&heads, c.cli(&["bundle", "heads"])).unwrap();
    let delta = dir.path().join("delta.yui");
    a.cli(&[
        "bundle",
        "export",
        "--since",
        heads.to_str().unwrap(),
        "--out",
        delta.to_str().unwrap(),
    ]);
    let r = c.json(&["bundle", "import", delta.to_str().unwrap(), "--json"]);
    assert_eq!(
        (r["entries"].as_u64(), r["accepted"].as_u64()),
        (Some(1), Some(1)),
        "{r}"
    );

    // An untrusted exporter's entries are refused.
    let mut d = NodeProc::init(dir.path(), "other", "他市", "131059");
    d.start();
    let r = d.json(&["bundle", "import", bundle.to_str().unwrap(), "--json"]);
    assert_eq!(
        (r["accepted"].as_u64(), r["refused"].as_u64()),
        (Some(0), Some(30)),
        "{r}"
    );
    wait_until("d still serving", 5, || {
        d.try_cli(&["status"]).status.success()
    });
}

/// A minimal HTTP CONNECT proxy on loopback that counts the tunnels it made
/// and optionally requires Basic credentials.
struct Proxy {
    addr: String,
    tunnels: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    refused: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Proxy {
    fn start(credentials: Option<&str>) -> Self {
        use std::io::{BufRead, BufReader, Write};
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let tunnels = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let refused = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let expected = credentials.map(|c| {
            use base64::Engine;
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(c)
            )
        });
        let (t, r) = (tunnels.clone(), refused.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut client) = conn else { continue };
                let (t, r, expected) = (t.clone(), r.clone(), expected.clone());
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(client.try_clone().unwrap());
                    let mut line = String::new();
                    reader.read_line(&mut line).unwrap();
                    let target = line
                        .split_whitespace()
                        .nth(1)
                        .unwrap_or_default()
                        .to_owned();
                    let mut auth = None;
                    loop {
                        let mut h = String::new();
                        reader.read_line(&mut h).unwrap();
                        if h == "\r\n" || h.is_empty() {
                            break;
                        }
                        if let Some(v) = h.strip_prefix("Proxy-Authorization: ") {
                            auth = Some(v.trim().to_owned());
                        }
                    }
                    if !line.starts_with("CONNECT ") || (expected.is_some() && auth != expected) {
                        r.fetch_add(1, Ordering::SeqCst);
                        let _ =
                            client.write_all(b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n");
                        return;
                    }
                    let Ok(upstream) = std::net::TcpStream::connect(&target) else {
                        let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n");
                        return;
                    };
                    t.fetch_add(1, Ordering::SeqCst);
                    client
                        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                        .unwrap();
                    let (mut c2, mut u2) =
                        (client.try_clone().unwrap(), upstream.try_clone().unwrap());
                    let mut reader = reader;
                    let mut upstream = upstream;
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut u2, &mut c2);
                        let _ = c2.shutdown(std::net::Shutdown::Both);
                    });
                    let _ = std::io::copy(&mut reader, &mut upstream);
                    let _ = upstream.shutdown(std::net::Shutdown::Both);
                });
            }
        });
        Self {
            addr,
            tunnels,
            refused,
        }
    }

    fn tunnels(&self) -> usize {
        self.tunnels.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn refused(&self) -> usize {
        self.refused.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[test]
fn a_member_behind_a_connect_proxy_syncs_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let proxy = Proxy::start(Some("yui-user:p@ss word"));
    let mut relay = NodeProc::init(dir.path(), "relay", "静岡県", "220001");
    let mut member = NodeProc::init(dir.path(), "member", "南伊豆町", "223042");
    relay.start();
    // Credentials percent-encoded in the URL, as operators write them.
    let url = format!("http://yui-user:p%40ss%20word@{}", proxy.addr);
    member.start_with_env(&[
        ("HTTPS_PROXY", url.as_str()),
        ("NO_PROXY", "example.invalid"),
    ]);
    relay.trust_mutually(&member);
    member.dial(&relay);
    relay.publish("notice", "広域防災連絡会議");
    wait_until("relay's entry at the member through the proxy", 30, || {
        member.event_ids() == ["notice"]
    });
    member.publish("reply", "出席します");
    wait_until(
        "member's entry at the relay over the same tunnel",
        30,
        || relay.event_ids() == ["notice", "reply"],
    );
    assert!(proxy.tunnels() >= 1, "the member did not use the proxy");

    // Wrong credentials: the link stays down with a message saying why.
    let proxy2 = Proxy::start(Some("right:secret"));
    let mut other = NodeProc::init(dir.path(), "other", "下田市", "222194");
    other.start_with_env(&[(
        "HTTPS_PROXY",
        &format!("http://wrong:guess@{}", proxy2.addr),
    )]);
    relay.trust_mutually(&other);
    other.dial(&relay);
    wait_until("the 407 to show in peer list", 30, || {
        let p = other.json(&["peer", "list", "--json"]);
        p[0]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("407"))
    });
    assert!(proxy2.refused() >= 1);
    assert_eq!(proxy2.tunnels(), 0);
}

#[test]
fn a_relay_vouches_for_ten_members_and_revokes_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut relay = NodeProc::init(dir.path(), "relay", "静岡県 広域連携", "220001");
    relay.start();
    // Members trust only the relay (their root) and only dial out to it.
    let codes = [
        "222011", "222020", "222038", "222046", "222054", "222062", "222071", "222089", "222097",
        "222100",
    ];
    let mut members: Vec<NodeProc> = Vec::new();
    for (i, code) in codes.iter().enumerate() {
        let code = valid_code(code);
        let mut m = NodeProc::init(dir.path(), &format!("m{i}"), &format!("町{i}"), &code);
        m.start();
        m.cli(&["trust", "add", &relay.id, "--name", "静岡県"]);
        relay.cli(&[
            "endorse",
            &m.id,
            "--name",
            &format!("町{i}"),
            "--code",
            &code,
        ]);
        members.push(m);
    }
    for m in &members {
        m.dial(&relay);
    }
    for (i, m) in members.iter().enumerate() {
        m.publish(&format!("event-{i}"), "合同防災訓練");
    }
    for m in &members {
        wait_until("every member's event at every member", 60, || {
            m.event_ids().len() == 10
        });
    }
    let all = members[0].json(&["trust", "list", "--all", "--json"]);
    assert_eq!(
        all["trusted"].as_array().unwrap().len(),
        11,
        "the relay and the ten members, itself among them"
    );

    // The relay revokes member 3: everyone stops taking its entries.
    let bad = &members[3];
    relay.cli(&["key", "revoke", &bad.id, "--reason", "鍵の漏えい"]);
    wait_until("the revocation at member 0", 30, || {
        members[0].json(&["trust", "list", "--all", "--json"])["revoked"]
            == serde_json::json!([bad.id])
    });
    bad.publish("after-revocation", "不正な投稿");
    let entries =
        members[0].json(&["query", "events", "--author", &bad.id, "--json"])["items"].clone();
    assert_eq!(
        entries[0]["revoked"], true,
        "old entries are kept and marked"
    );
    // Members keep syncing with each other; the revoked one's new entry never arrives.
    members[1].publish("still-working", "訓練結果報告");
    wait_until("others keep syncing", 30, || {
        members[0].event_ids().contains(&"still-working".to_owned())
    });
    assert!(!members[0]
        .event_ids()
        .contains(&"after-revocation".to_owned()));
    assert_eq!(members[0].head_of(&bad.id), 1);

    // A new member endorsed later is fetched without any restart.
    let mut late = NodeProc::init(dir.path(), "late", "新町", &valid_code("222119"));
    late.start();
    late.cli(&["trust", "add", &relay.id]);
    late.publish("hello", "よろしくお願いします");
    late.dial(&relay);
    relay.cli(&["endorse", &late.id, "--name", "新町"]);
    wait_until("the late member's entry at member 0", 30, || {
        members[0].event_ids().contains(&"hello".to_owned())
    });
}

/// Replaces the last digit of a 6-digit code with its check digit.
fn valid_code(code: &str) -> String {
    let d: Vec<u32> = code
        .chars()
        .take(5)
        .map(|c| c.to_digit(10).unwrap())
        .collect();
    let sum: u32 = d.iter().zip([6, 5, 4, 3, 2]).map(|(a, b)| a * b).sum();
    format!("{}{}", &code[..5], (11 - sum % 11) % 10)
}

#[test]
fn key_rotation_moves_the_identity_on_every_node() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = NodeProc::init(dir.path(), "bunkyo", "文京区", "131059");
    let mut b = NodeProc::init(dir.path(), "morioka", "盛岡市", "032018");
    let mut c = NodeProc::init(dir.path(), "uruma", "うるま市", "472131");
    a.start();
    b.start();
    c.start();
    a.trust_mutually(&b);
    b.trust_mutually(&c);
    c.cli(&["trust", "add", &a.id, "--name", "文京区"]);
    a.dial(&b);
    c.dial(&b);
    a.publish("fair-2026", "三都市物産展");
    b.cli(&[
        "publish",
        "partnership",
        "--partner",
        &a.id,
        "--kind",
        "friendship",
    ]);
    wait_until("A's event at C", 30, || c.event_ids() == ["fair-2026"]);

    let old = a.id.clone();
    let out = a.try_cli(&["key", "rotate"]);
    assert!(out.status.success(), "{out:?}");
    let new = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(new.starts_with("yui1") && new != old);
    // A waited for B, its one connected peer, to take the rotation (B then
    // asks A for the new key).
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("1 of 1 connected peers hold it"), "{said}");
    wait_until("A to run under its new key", 30, || {
        a.try_cli(&["status", "--json"]).status.success()
            && a.json(&["status", "--json"])["node_id"] == new.as_str()
    });
    assert_eq!(a.cli(&["id"]).trim(), new);
    a.id = new.clone();
    for n in [&b, &c] {
        let what = format!("{} to trust the new key in place of the old", n.name);
        wait_until_or_logs(&what, 30, &[&a, &b, &c], || {
            let t = n.json(&["trust", "list", "--all", "--json"]);
            t["trusted"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["node_id"] == new.as_str() && e["name"] == "文京区")
        });
    }
    // A speaks under the new key: its handshake is accepted, its entries flow.
    a.publish("fair-2027", "三都市物産展 2027");
    wait_until("A's new entry at C through B", 30, || {
        c.event_ids() == ["fair-2026", "fair-2027"]
    });
    // The partnership B stated with the old key holds for the new one.
    a.cli(&[
        "publish",
        "partnership",
        "--partner",
        &b.id,
        "--kind",
        "friendship",
    ]);
    wait_until("partnership active at B", 30, || {
        let p = b.json(&["query", "partnerships", "--json"])["items"].clone();
        p.as_array().unwrap().len() == 2
            && p.as_array()
                .unwrap()
                .iter()
                .all(|e| e["partnership"] == "active")
    });
    assert!(dir.path().join("bunkyo").read_dir().unwrap().any(|f| f
        .unwrap()
        .file_name()
        .to_string_lossy()
        .starts_with("node.key.retired-")));
    a.stop();
}

#[test]
fn chained_relays_carry_members_entries_and_a_partition_heals() {
    let dir = tempfile::tempdir().unwrap();
    // National relay ← prefecture relay ← member, and national relay ← other member.
    let mut national = NodeProc::init(
        dir.path(),
        "national",
        "全国市町村国際交流ネットワーク",
        "130001",
    );
    let mut pref = NodeProc::init(dir.path(), "pref", "兵庫県", "280003");
    let mut kobe = NodeProc::init(dir.path(), "kobe", "神戸市", "281000");
    let mut sapporo = NodeProc::init(dir.path(), "sapporo", "札幌市", "011002");
    for n in [&national, &pref, &kobe, &sapporo] {
        n.set_config("endorsement_depth", "2");
    }
    for n in [&mut national, &mut pref, &mut kobe, &mut sapporo] {
        n.start();
    }
    // Trust flows national → prefecture → Kobe; national → Sapporo.
    national.cli(&["endorse", &pref.id, "--name", "兵庫県"]);
    national.cli(&["endorse", &sapporo.id, "--name", "札幌市"]);
    pref.cli(&["endorse", &kobe.id, "--name", "神戸市"]);
    for n in [&pref, &kobe, &sapporo] {
        n.cli(&["trust", "add", &national.id, "--name", "全国"]);
    }
    pref.dial(&national);
    kobe.dial(&pref);
    sapporo.dial(&national);
    kobe.publish("port-know-how", "港湾管理ノウハウ共有会");
    wait_until("Kobe's entry at Sapporo over two relays", 30, || {
        sapporo.event_ids() == ["port-know-how"]
    });
    sapporo.publish("snow", "雪まつり視察");
    wait_until("Sapporo's entry at Kobe", 30, || {
        kobe.event_ids() == ["port-know-how", "snow"]
    });
    // Stored once each: 3 endorsements and 2 events, whatever the paths.
    assert_eq!(national.json(&["status", "--json"])["entries"], 5);

    // Partition: Kobe's link goes; both sides keep publishing; the link returns.
    let pref_addr = pref.addr();
    kobe.cli(&["peer", "remove", &pref_addr]);
    kobe.publish("during-1", "分断中の投稿");
    sapporo.publish("during-2", "分断中の投稿");
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(
        !sapporo.event_ids().contains(&"during-1".to_owned()),
        "the partition must hold"
    );
    kobe.cli(&["peer", "add", &pref_addr, "--id", &pref.id]);
    let everyone = [&national, &pref, &kobe, &sapporo];
    let heads = |n: &NodeProc| {
        let mut v: Vec<(String, u64)> = n.json(&["status", "--json"])["heads"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                (
                    h["author"].as_str().unwrap().to_owned(),
                    h["seq"].as_u64().unwrap(),
                )
            })
            .collect();
        v.sort();
        v
    };
    wait_until(
        "every node to converge after the partition heals",
        60,
        || {
            let all: Vec<_> = everyone.iter().map(|n| heads(n)).collect();
            all.windows(2).all(|w| w[0] == w[1]) && all[0].len() == 4
        },
    );
    assert_eq!(
        kobe.event_ids(),
        ["during-1", "during-2", "port-know-how", "snow"]
    );
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

#[test]
fn a_node_restored_from_an_old_backup_does_not_fork_itself() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = NodeProc::init(dir.path(), "shimoda", "下田市", "222194");
    let mut b = NodeProc::init(dir.path(), "relay", "静岡県", "220001");
    a.start();
    b.start();
    a.trust_mutually(&b);
    b.dial(&a);
    a.publish("e1", "一");
    a.publish("e2", "二");
    wait_until("two entries at B", 30, || b.head_of(&a.id) == 2);
    a.stop();
    let backup = dir.path().join("backup");
    copy_dir(&a.home.join("data"), &backup);
    a.start();
    b.cli(&["peer", "add", &a.addr(), "--id", &a.id]);
    for i in 3..=5 {
        a.publish(&format!("e{i}"), "バックアップ後");
    }
    wait_until("five entries at B", 30, || b.head_of(&a.id) == 5);
    a.stop();

    // Disk lost; the old backup comes back.
    std::fs::remove_dir_all(a.home.join("data")).unwrap();
    copy_dir(&backup, &a.home.join("data"));
    a.start_with(&["--restored"], &[]);
    // Alone (B still dials A's old address), A must not publish: it would
    // take seq 3 a second time.
    let out = a.try_cli(&[
        "publish",
        "event",
        "--title",
        "早すぎる投稿",
        "--start",
        "2027-01-01T09:00:00+09:00",
    ]);
    assert!(
        !out.status.success(),
        "a restored node published before learning its own log"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("held"));
    assert_eq!(a.json(&["status", "--json"])["publishing_held"], true);
    // B reaches A again; A learns entries 3-5 and is released.
    b.cli(&["peer", "add", &a.addr(), "--id", &a.id]);
    let mut held = 0;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let out = a.try_cli(&[
            "publish",
            "event",
            "--id",
            "after-restore",
            "--title",
            "復旧後",
            "--start",
            "2027-01-01T09:00:00+09:00",
        ]);
        if out.status.success() {
            break;
        }
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("held"), "unexpected refusal: {err}");
        held += 1;
        assert!(
            std::time::Instant::now() < deadline,
            "publishing never released"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(
        a.head_of(&a.id),
        6,
        "the new entry must follow the newest one a peer held"
    );
    wait_until("the new entry at B", 30, || b.head_of(&a.id) == 6);
    assert!(
        b.json(&["status", "--json"])["forks"]
            .as_array()
            .unwrap()
            .is_empty(),
        "no fork"
    );
    wait_until("the hold marker to be cleared", 10, || {
        !a.home.join("hold-publish").exists()
    });
    eprintln!("publish was held {held} more times before the node caught up");
}

/// `yui backup` copies a running node; after the disk is lost, `yui restore`
/// rebuilds it in a new home, holds publishing until a peer shows it the
/// entries published after the backup, and the node goes on without a fork.
#[test]
fn backup_of_a_running_node_restores_without_a_fork() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = NodeProc::init(dir.path(), "kitakata", "喜多方市", "072087");
    let mut b = NodeProc::init(dir.path(), "aizu", "会津若松市", "072028");
    a.start();
    b.start();
    a.trust_mutually(&b);
    b.dial(&a);
    for i in 1..=3 {
        a.publish(&format!("a{i}"), "蔵のまち交流会");
    }
    b.publish("b1", "鶴ヶ城防災訓練");
    b.publish("b2", "鶴ヶ城防災訓練（第2回）");
    wait_until("each to hold the other's log", 30, || {
        b.head_of(&a.id) == 3 && a.head_of(&b.id) == 2
    });

    let backup = dir.path().join("backup-1");
    let m = a.json(&["backup", backup.to_str().unwrap(), "--json"]);
    assert_eq!(m["entries"], 5, "{m}");
    assert_eq!(m["heads"].as_array().unwrap().len(), 2);
    assert_eq!(m["node_id"], a.id.as_str());
    for f in [
        "manifest.json",
        "entries.yuib",
        "home/node.key",
        "home/config.toml",
    ] {
        assert!(backup.join(f).exists(), "{f} missing from the backup");
    }
    let mode = |p: &std::path::Path| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    };
    assert_eq!(mode(&backup), 0o700, "the backup holds the node key");
    assert_eq!(mode(&backup.join("home/node.key")), 0o600);
    let again = a.try_cli(&["backup", backup.to_str().unwrap()]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("not empty"));

    // Published after the backup: only B has these.
    a.publish("a4", "バックアップ後");
    a.publish("a5", "バックアップ後");
    wait_until("five entries of A at B", 30, || b.head_of(&a.id) == 5);
    a.stop();
    std::fs::remove_dir_all(&a.home).unwrap();

    // A damaged backup is refused before anything is written.
    let damaged = dir.path().join("backup-damaged");
    copy_dir(&backup, &damaged);
    let f = damaged.join("entries.yuib");
    let mut bytes = std::fs::read(&f).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    std::fs::write(&f, bytes).unwrap();
    let spare = dir.path().join("spare");
    let out = std::process::Command::new(yui_bin())
        .args(["--home", spare.to_str().unwrap(), "restore"])
        .arg(&damaged)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("checksum"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!spare.exists(), "a refused restore wrote into the home");

    let home = dir.path().join("kitakata-restored");
    let restore = |home: &std::path::Path| {
        std::process::Command::new(yui_bin())
            .args(["--home", home.to_str().unwrap(), "restore", "--json"])
            .arg(&backup)
            .output()
            .unwrap()
    };
    let out = restore(&home);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (r["accepted"].as_u64(), r["refused"].as_u64()),
        (Some(5), Some(0))
    );
    let out = restore(&home);
    assert!(!out.status.success(), "restored twice into one home");
    assert!(String::from_utf8_lossy(&out.stderr).contains("already holds"));

    let mut a = NodeProc::existing(home, "喜多方市", &a.id);
    let check = a.try_cli(&["check"]);
    assert!(check.status.success(), "{check:?}");
    a.start();
    let s = a.json(&["status", "--json"]);
    assert_eq!(s["publishing_held"], true);
    assert_eq!(s["entries"], 5);
    let early = a.try_cli(&[
        "publish",
        "event",
        "--title",
        "早すぎる",
        "--start",
        "2027-02-01T10:00:00+09:00",
    ]);
    assert!(!early.status.success(), "published while held");
    assert!(a.cli(&["trust", "list", "--json"]).contains(&b.id));

    b.cli(&["peer", "add", &a.addr(), "--id", &a.id]);
    wait_until("the hold to be released", 30, || {
        a.json(&["status", "--json"])["publishing_held"] == false
    });
    assert_eq!(
        a.head_of(&a.id),
        5,
        "entries published after the backup came back"
    );
    a.publish("a6", "復旧後の最初の投稿");
    assert_eq!(a.head_of(&a.id), 6);
    wait_until("the new entry at B", 30, || b.head_of(&a.id) == 6);
    assert!(b.json(&["status", "--json"])["forks"]
        .as_array()
        .unwrap()
        .is_empty());
}

/// A home written by the previous store format (tests/fixtures, made by
/// yui 0.1 with format 1: two municipalities, events, an update, readiness,
/// a retraction) is migrated once at the first start, keeps every entry and
/// its chain, and goes on publishing and syncing with a current node.
#[test]
fn a_home_from_the_previous_format_is_migrated_once_and_keeps_syncing() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/home-format-v1.tar.gz");
    let st = std::process::Command::new("tar")
        .arg("-xpzf")
        .arg(&fixture)
        .arg("-C")
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(st.success());
    let home = dir.path().join("a");
    let key_file = std::fs::read_to_string(home.join("node.key")).unwrap();
    assert!(
        key_file.starts_with("yui-node-key-v1\n"),
        "the fixture's key format"
    );
    let id = String::from_utf8(
        std::process::Command::new(yui_bin())
            .args(["--home", home.to_str().unwrap(), "id"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .to_owned();
    // The earlier key file was rewritten once as PKCS#8 PEM, same key.
    let key_file = std::fs::read_to_string(home.join("node.key")).unwrap();
    assert!(
        key_file.starts_with("-----BEGIN PRIVATE KEY-----\n"),
        "{key_file}"
    );
    assert_eq!(
        std::fs::metadata(home.join("node.key"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
    let mut a = NodeProc::existing(home.clone(), "喜多方市", &id);
    a.start();
    assert!(a.log().contains("store migrated"), "{}", a.log());
    let s = a.json(&["status", "--json"]);
    assert_eq!(s["entries"], 5);
    assert!(s["entry_bytes"].as_u64().unwrap() > 5 * 100, "{s}");
    assert_eq!(a.head_of(&id), 4);
    let events = a.cli(&["query", "events", "--json"]);
    assert!(events.contains("鶴ヶ城合同防災訓練"), "{events}");
    a.stop();
    let before = a.log().len();
    a.start();
    assert!(
        !a.log()[before..].contains("migrating the store"),
        "the migration ran twice"
    );
    a.publish("after-upgrade", "移行後の最初の行事");
    assert_eq!(a.head_of(&id), 5);

    let mut b = NodeProc::init(dir.path(), "inawashiro", "猪苗代町", "074080");
    b.start();
    a.trust_mutually(&b);
    b.dial(&a);
    wait_until("the upgraded node's log at a current node", 30, || {
        b.head_of(&id) == 5
    });
    a.stop();
    let check = a.try_cli(&["check"]);
    assert!(check.status.success(), "{check:?}");
}

/// An admin API off loopback (`admin.allow_remote`) speaks only TLS with the
/// node's certificate: the CLI pins it and works; a plain-HTTP request with
/// the token gets no answer, so the token never travels in clear.
#[test]
fn a_remote_admin_api_speaks_only_tls() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let mut a = NodeProc::init(dir.path(), "nago", "名護市", "472093");
    a.set_config("listen", "\"0.0.0.0:0\"");
    a.set_config("allow_remote", "true");
    a.start();
    let s = a.json(&["status", "--json"]);
    assert_eq!(s["node_id"], a.id.as_str(), "{s}");
    let addr = std::fs::read_to_string(a.home.join("run/admin.addr")).unwrap();
    let token = std::fs::read_to_string(a.home.join("admin.token")).unwrap();
    let mut tcp = std::net::TcpStream::connect(addr.trim()).unwrap();
    tcp.set_read_timeout(Some(std::time::Duration::from_secs(15)))
        .unwrap();
    // The server may close as soon as it sees the bytes are not TLS: a
    // broken pipe is an answer of no answer too.
    let request = format!(
        "GET /v1/status HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\r\n",
        token.trim()
    );
    let _ = tcp.write_all(request.as_bytes());
    let mut buf = Vec::new();
    let _ = tcp.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf);
    assert!(
        !text.contains("HTTP/1.1 200") && !text.contains(&a.id),
        "plain HTTP was answered: {text}"
    );
    // A certificate other than the home's: the CLI refuses to send the token.
    let (cert, _) = yui_net::tls::generate_self_signed("other").unwrap();
    let real = std::fs::read(a.home.join("tls/cert.pem")).unwrap();
    std::fs::write(a.home.join("tls/cert.pem"), cert).unwrap();
    let out = a.try_cli(&["status"]);
    std::fs::write(a.home.join("tls/cert.pem"), real).unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("refusing to send the token"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    a.stop();
}

/// The attack an independent client reproduced on real processes: relay R
/// endorses members M1 and M2, who trust only R; M1 endorses R (and M2,
/// under another name) and then revokes R and M2. Nothing changes: M2 keeps
/// receiving R's entries, R's name for M2 stands, and R can still revoke M1.
#[test]
fn a_member_cannot_revoke_the_relay_or_rename_a_member() {
    let dir = tempfile::tempdir().unwrap();
    let mut relay = NodeProc::init(dir.path(), "relay", "静岡県", "220001");
    let mut m1 = NodeProc::init(dir.path(), "m1", "下田市", &valid_code("222194"));
    let mut m2 = NodeProc::init(dir.path(), "m2", "南伊豆町", "223042");
    for n in [&mut relay, &mut m1, &mut m2] {
        n.start();
    }
    for m in [&m1, &m2] {
        m.cli(&["trust", "add", &relay.id, "--name", "静岡県"]);
        relay.cli(&["endorse", &m.id, "--name", &m.name]);
        m.dial(&relay);
    }
    relay.publish("before", "広域防災会議");
    wait_until("the relay's entry at M2", 30, || {
        m2.event_ids().contains(&"before".to_owned())
    });
    wait_until("M1 trusted at M2", 30, || {
        m2.json(&["trust", "list", "--all", "--json"])["trusted"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["node_id"] == m1.id.as_str())
    });
    m1.cli(&["endorse", &relay.id, "--name", "偽の県"]);
    m1.cli(&["endorse", &m2.id, "--name", "偽の町"]);
    m1.cli(&["key", "revoke", &relay.id, "--reason", "乗っ取り"]);
    m1.cli(&["key", "revoke", &m2.id, "--reason", "乗っ取り"]);
    m2.publish("m2-own", "南伊豆の夏まつり");
    let m1_head = m1.head_of(&m1.id);
    wait_until("M1's revocations at M2 and the relay", 30, || {
        m2.head_of(&m1.id) == m1_head && relay.head_of(&m1.id) == m1_head
    });
    wait_until("M2's entry at the relay", 30, || relay.head_of(&m2.id) == 1);
    relay.publish("after", "広域防災会議（第2回）");
    wait_until("the relay's next entry at M2", 30, || {
        m2.event_ids().contains(&"after".to_owned())
    });
    let t = m2.json(&["trust", "list", "--all", "--json"]);
    assert_eq!(t["revoked"], serde_json::json!([]), "{t}");
    // The names M2 sees for itself come from the relay, not from M1.
    let heads = relay.json(&["status", "--json"])["heads"].clone();
    let named = heads
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["author"] == m2.id.as_str())
        .map(|h| h["name"].clone());
    assert_eq!(named, Some(serde_json::json!("南伊豆町")), "{heads}");
    // The relay, which granted M1 its trust, can revoke it.
    relay.cli(&["key", "revoke", &m1.id, "--reason", "不正"]);
    wait_until("M1 revoked at M2", 30, || {
        m2.json(&["trust", "list", "--all", "--json"])["revoked"] == serde_json::json!([m1.id])
    });
}

/// `GET /v1/head?at_least=` answers the moment an update arrives, not
/// before; without a wait it answers at once; a bad author is a 400 that
/// names the parameter.
#[test]
fn the_admin_api_answers_a_head_wait_when_the_update_arrives() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let mut shinagawa = NodeProc::init(dir.path(), "shinagawa", "品川区", "131091");
    let mut kesennuma = NodeProc::init(dir.path(), "kesennuma", "気仙沼市", "042056");
    shinagawa.start();
    kesennuma.start();
    shinagawa.trust_mutually(&kesennuma);
    kesennuma.dial(&shinagawa);
    let addr = std::fs::read_to_string(shinagawa.home.join("run/admin.addr")).unwrap();
    let token = std::fs::read_to_string(shinagawa.home.join("admin.token")).unwrap();
    let ask = |query: &str| {
        let mut tcp = std::net::TcpStream::connect(addr.trim()).unwrap();
        let request = format!(
            "GET /v1/head?{query} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {}\r\n\r\n",
            token.trim()
        );
        tcp.write_all(request.as_bytes()).unwrap();
        tcp
    };
    let read_all = |mut tcp: std::net::TcpStream| {
        tcp.set_read_timeout(Some(std::time::Duration::from_secs(30)))
            .unwrap();
        let mut buf = String::new();
        tcp.read_to_string(&mut buf).unwrap();
        buf
    };
    let now = read_all(ask(&format!("author={}", kesennuma.id)));
    assert!(now.starts_with("HTTP/1.1 200"), "{now}");
    assert!(now.contains("\"seq\":0"), "{now}");
    let mut waiting = ask(&format!("author={}&at_least=1&wait_ms=30000", kesennuma.id));
    // Nothing has arrived: no answer yet.
    waiting
        .set_read_timeout(Some(std::time::Duration::from_millis(300)))
        .unwrap();
    let mut byte = [0u8; 1];
    let early = waiting.read(&mut byte);
    assert!(
        matches!(&early, Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut)),
        "answered before the update: {early:?}"
    );
    kesennuma.publish("water", "給水支援の受け入れ");
    let answer = read_all(waiting);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"seq\":1"), "{answer}");
    assert!(answer.contains(&kesennuma.id), "{answer}");
    let bad = read_all(ask("author=yui1nothing&at_least=1"));
    assert!(bad.starts_with("HTTP/1.1 400"), "{bad}");
    assert!(bad.contains("author"), "{bad}");
    shinagawa.stop();
    kesennuma.stop();
}
