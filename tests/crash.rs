//! Crash safety with real `yui` processes: kill -9 during publish, during
//! the ingest of a large sync and during a large bundle import, and a disk
//! that fills up. After each, `yui check` finds every log whole (no holes,
//! chains and indexes consistent, signatures valid), every acknowledged
//! entry is there, and no sequence number is reused.

#[path = "support.rs"]
mod support;

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};

use support::{wait_until, NodeProc};
use yui_core::content::Event;
use yui_core::{Body, Entry, EntryId, LocalizedText, NodeId, SecretKey, SignedEntry};
use yui_net::{bundle, ProtoCodec};
use yui_sync::Codec;

/// `n` entries of the author with `seed`, created a day ago (backfill), as
/// a bundle file.
fn write_bundle(path: &Path, seed: u8, n: u64, padding: usize) -> NodeId {
    let key = SecretKey::from_seed(&[seed; 32]);
    let author = NodeId::new(key.public_key());
    let day_ago = yui_sync::now_ms() - 24 * 3_600_000;
    let mut prev: Option<EntryId> = None;
    let mut entries = Vec::with_capacity(n as usize);
    for seq in 1..=n {
        let e = Entry {
            sealed: None,
            author,
            seq,
            prev,
            created_at: day_ago,
            expires_at: None,
            object_id: format!("case-{seq}"),
            body: Body::Event(Event {
                title: LocalizedText::one(
                    "ja",
                    &format!("連携事例 {seq} {}", "あ".repeat(padding)),
                ),
                start: "2027-02-10T10:00:00+09:00".into(),
                ..Default::default()
            }),
        };
        let s = SignedEntry::sign(ProtoCodec.encode_entry(&e), &key);
        prev = Some(s.id());
        entries.push(s);
    }
    let info = bundle::BundleInfo {
        exporter: author,
        created_at: yui_sync::now_ms(),
        since: Vec::new(),
    };
    std::fs::write(path, bundle::write(&info, &entries)).unwrap();
    author
}

/// `yui check` on a stopped node: the store must be whole.
fn assert_whole(node: &NodeProc) {
    let out = node.try_cli(&["check", "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "yui check printed no report: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert!(
        report["problems"].as_array().unwrap().is_empty(),
        "the store of {} is damaged after a crash: {report}",
        node.name
    );
    let index = &report["index"];
    assert!(
        index["missing"].as_array().unwrap().is_empty()
            && index["extra"].as_array().unwrap().is_empty(),
        "the search index of {} disagrees with its logs after a crash: {index}",
        node.name
    );
    assert!(out.status.success(), "yui check failed: {report}");
}

/// seq and id of every own event, by object id.
fn own_entries(node: &NodeProc) -> HashMap<String, (u64, String)> {
    node.json(&["query", "events", "--author", &node.id, "--json"])["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["object_id"].as_str().unwrap().to_owned(),
                (
                    e["seq"].as_u64().unwrap(),
                    e["id"].as_str().unwrap().to_owned(),
                ),
            )
        })
        .collect()
}

#[test]
fn kill9_during_publish_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = NodeProc::init(dir.path(), "moriya", "守谷市", "082244");
    a.start();
    // object id -> entry id, for every publish the node acknowledged.
    let acked: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let mut next = 0;
    for round in 0..3u64 {
        let publisher = {
            let acked = acked.clone();
            let home = a.home.clone();
            let start = next;
            std::thread::spawn(move || {
                for i in start.. {
                    let oid = format!("ev-{i}");
                    let out = Command::new(support::yui_bin())
                        .args(["--home", home.to_str().unwrap(), "publish", "event"])
                        .args(["--id", &oid, "--title", "オンライン姉妹都市交流"])
                        .args(["--start", "2027-03-01T19:00:00+09:00"])
                        .output()
                        .unwrap();
                    if !out.status.success() {
                        return i;
                    }
                    let id = String::from_utf8(out.stdout).unwrap().trim().to_owned();
                    acked.lock().unwrap().push((oid, id));
                }
                unreachable!()
            })
        };
        // Let a few publishes through, then kill in the middle of the next.
        let want = acked.lock().unwrap().len() + 5 + round as usize * 3;
        wait_until("publishes to be acknowledged", 30, || {
            acked.lock().unwrap().len() >= want
        });
        a.kill9();
        next = publisher.join().unwrap() + 1;
        assert_whole(&a);
        a.start();
        let stored = own_entries(&a);
        let head = a.head_of(&a.id);
        for (oid, id) in acked.lock().unwrap().iter() {
            let (seq, stored_id) = stored
                .get(oid)
                .unwrap_or_else(|| panic!("acknowledged {oid} was lost in round {round}"));
            assert_eq!(stored_id, id, "{oid} changed identity");
            assert!(*seq <= head);
        }
        // Every seq 1..=head is one of the stored entries: no seq was used twice.
        let mut seqs: Vec<u64> = stored.values().map(|(s, _)| *s).collect();
        seqs.sort();
        assert_eq!(
            seqs,
            (1..=head).collect::<Vec<_>>(),
            "seqs are not 1..=head"
        );
        // The next publish takes head + 1.
        let id = a.publish(&format!("after-{round}"), "再開後");
        assert_eq!(a.head_of(&a.id), head + 1);
        assert_eq!(own_entries(&a)[&format!("after-{round}")].1, id);
    }
    a.stop();
    assert_whole(&a);
}

/// A holds `n` entries of one author (imported from a bundle); B, with
/// `b_config` set, starts dialling A for them. Returns A, B and the author.
fn large_sync(
    dir: &Path,
    seed: u8,
    n: u64,
    a: (&str, &str, &str),
    b: (&str, &str, &str),
    b_config: &[(&str, &str)],
) -> (NodeProc, NodeProc, String) {
    let file = dir.join("cases.yui");
    let author = write_bundle(&file, seed, n, 0).to_string();
    let mut a = NodeProc::init(dir, a.0, a.1, a.2);
    let mut b = NodeProc::init(dir, b.0, b.1, b.2);
    for (k, v) in b_config {
        b.set_config(k, v);
    }
    a.start();
    b.start();
    a.trust_mutually(&b);
    a.cli(&["trust", "add", &author]);
    b.cli(&["trust", "add", &author]);
    a.cli(&["bundle", "import", file.to_str().unwrap()]);
    assert_eq!(a.head_of(&author), n);
    b.dial(&a);
    (a, b, author)
}

#[test]
fn kill9_during_a_large_sync_then_catch_up() {
    let dir = tempfile::tempdir().unwrap();
    let n = 20_000;
    let (_a, mut b, author) = large_sync(
        dir.path(),
        0x31,
        n,
        ("kobe", "神戸市", "281000"),
        ("tianjin", "天津市", "CN-tianjin"),
        &[],
    );
    // Kill B while it is part-way through the author's log: at least once,
    // and again if the resumed sync is still running when we look.
    let mut kills = 0;
    for _ in 0..2 {
        let before = b.head_of(&author);
        let mut h = before;
        wait_until("B to be ingesting", 60, || {
            h = b.head_of(&author);
            h > before
        });
        if h == n {
            break;
        }
        b.kill9();
        kills += 1;
        assert_whole(&b);
        b.start();
    }
    assert!(
        kills >= 1,
        "the sync finished before it could be interrupted"
    );
    wait_until("B to catch up after the crashes", 120, || {
        b.head_of(&author) == n
    });
    // The search index was indexing while B was killed: the next start
    // continues from its last commit (never a damaged index to rebuild),
    // and the running node's queries see every entry.
    assert!(
        !b.log().contains("search index was damaged"),
        "a kill -9 damaged the search index"
    );
    wait_until("B's index to hold the author's entries", 60, || {
        let p = b.json(&[
            "query", "all", "--author", &author, "--limit", "1", "--json",
        ]);
        p["total"].as_u64().unwrap_or(0) > 0 && p["behind"] == 0
    });
    b.stop();
    assert_whole(&b);
}

/// SIGTERM in the middle of a large sync: the node drains within its
/// deadline, exits 0, keeps everything it had stored, its logs check whole,
/// and the next start repairs nothing and resumes the sync.
#[test]
fn sigterm_during_a_large_sync_drains_and_restarts_clean() {
    let dir = tempfile::tempdir().unwrap();
    let n = 20_000;
    let (_a, mut b, author) = large_sync(
        dir.path(),
        0x34,
        n,
        ("sendai", "仙台市", "041009"),
        ("rennes", "レンヌ市", "FR-rennes"),
        &[("drain_timeout_secs", "5")],
    );
    let mut seen = 0;
    wait_until("B to be ingesting", 60, || {
        seen = b.head_of(&author);
        seen > 0
    });
    let started = std::time::Instant::now();
    b.stop(); // SIGTERM; asserts exit status 0 and the run files removed
    let took = started.elapsed();
    assert!(
        took < std::time::Duration::from_secs(5 + 3),
        "drain took {took:?}, over drain_timeout_secs"
    );
    assert!(b.log().contains("SIGTERM: shutting down"));
    assert!(b.log().contains("node stopped"), "no clean stop logged");
    assert_whole(&b);
    let log_before = b.log().len();
    b.start();
    let after = b.head_of(&author);
    assert!(
        after >= seen,
        "lost entries on SIGTERM: had {seen}, now {after}"
    );
    let restart_log = b.log()[log_before..].to_owned();
    for repair in ["finishing the key rotation", "repair", "recover"] {
        assert!(
            !restart_log.contains(repair),
            "the start after SIGTERM repaired something: {restart_log}"
        );
    }
    wait_until("B to finish the sync", 120, || b.head_of(&author) == n);
    b.stop();
    assert_whole(&b);
}

#[test]
fn kill9_during_a_bundle_import_then_import_again() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("backlog.yui");
    let n = 30_000;
    let author = write_bundle(&file, 0x32, n, 0).to_string();
    let mut a = NodeProc::init(dir.path(), "suginami", "杉並区", "131156");
    a.start();
    a.cli(&["trust", "add", &author]);
    let import = Command::new(support::yui_bin())
        .args(["--home", a.home.to_str().unwrap(), "bundle", "import"])
        .arg(&file)
        .spawn()
        .unwrap();
    wait_until("the import to be under way", 60, || a.head_of(&author) > 0);
    a.kill9();
    let out = import.wait_with_output().unwrap();
    assert!(
        !out.status.success(),
        "the import cannot finish without the node"
    );
    assert_whole(&a);
    a.start();
    let kept = a.head_of(&author);
    assert!(kept < n, "the kill came too late to test anything ({kept})");
    // Importing again completes: what was stored is a duplicate, the rest new.
    a.cli(&["bundle", "import", file.to_str().unwrap()]);
    assert_eq!(a.head_of(&author), n);
    a.stop();
    assert_whole(&a);
}

/// A tmpfs mounted for one test and unmounted after it.
struct SmallDisk(std::path::PathBuf);

impl SmallDisk {
    fn mount(path: &Path, size: &str) -> Option<Self> {
        std::fs::create_dir_all(path).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(path)
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Self(path.to_owned()))
    }

    fn resize(&self, size: &str) {
        let st = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.0)
            .status()
            .unwrap();
        assert!(st.success(), "remount failed");
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_gives_errors_not_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let Some(disk) = SmallDisk::mount(&dir.path().join("disk"), "24m") else {
        // Mounting needs root (CI and the development machines have it).
        let root = Command::new("id").arg("-u").output().unwrap().stdout == b"0\n";
        assert!(!root, "root could not mount a tmpfs");
        // Under CI a test that cannot run is a failure, not a pass.
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run the full-disk test as root (it mounts a small tmpfs)"
        );
        eprintln!("SKIPPED: mounting a small disk needs root");
        return;
    };
    let file = dir.path().join("big.yui");
    // About 40 MB of entries: more than the disk holds.
    let author = write_bundle(&file, 0x33, 12_000, 1000).to_string();
    let mut a = NodeProc::init(&disk.0, "uruma", "うるま市", "472131");
    a.start();
    a.cli(&["trust", "add", &author]);
    let mut acked = Vec::new();
    for i in 0..5 {
        acked.push((
            format!("before-{i}"),
            a.publish(&format!("before-{i}"), "物産展"),
        ));
    }
    let out = a.try_cli(&["bundle", "import", file.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    eprintln!("import on a full disk: {err}");
    assert!(!out.status.success(), "the import cannot fit");
    assert!(
        err.contains("disk holding the data folder is full") && err.contains("free space"),
        "the error does not say the disk is full: {err}"
    );
    // A publish on the full disk fails cleanly too (or the node has stopped).
    let _ = a.try_cli(&[
        "publish",
        "event",
        "--title",
        "満杯",
        "--start",
        "2027-03-01T10:00:00+09:00",
    ]);
    a.kill9();
    // More room, and the node comes back whole with everything acknowledged.
    disk.resize("512m");
    assert_whole(&a);
    a.start();
    let stored = own_entries(&a);
    for (oid, id) in &acked {
        assert_eq!(&stored[oid].1, id, "acknowledged {oid} was lost");
    }
    a.cli(&["bundle", "import", file.to_str().unwrap()]);
    assert_eq!(a.head_of(&author), 12_000);
    a.stop();
    assert_whole(&a);
}

/// `yui restore` killed at any point leaves a home that either refuses to
/// start or starts with publishing held: never one that publishes and so
/// forks its own log.
#[test]
fn a_restore_cut_short_never_leaves_a_home_that_publishes() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cases.yui");
    let author = write_bundle(&file, 0x44, 20_000, 100).to_string();
    let mut a = NodeProc::init(dir.path(), "atami", "熱海市", "222054");
    a.start();
    a.cli(&["trust", "add", &author]);
    a.cli(&["bundle", "import", file.to_str().unwrap()]);
    a.publish("own-1", "熱海梅園まつり");
    let backup = dir.path().join("backup");
    a.cli(&["backup", backup.to_str().unwrap()]);
    a.stop();

    let mut cut = 0;
    let mut refused_start = false;
    for i in 0..40i32 {
        let home = dir.path().join(format!("restored-{i}"));
        let mut child = Command::new(support::yui_bin())
            .args(["--home", home.to_str().unwrap(), "restore"])
            .arg(&backup)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Later and later cuts (each a quarter later than the one before),
        // until one restore finishes first.
        let deadline =
            std::time::Instant::now() + std::time::Duration::from_secs_f64(0.02 * 1.25f64.powi(i));
        let finished = loop {
            if let Some(st) = child.try_wait().unwrap() {
                break Some(st);
            }
            if std::time::Instant::now() >= deadline {
                break None;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        };
        if finished.is_none() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let startable = home.join("config.toml").exists() && home.join("node.key").exists();
        let marker = home.join("restore.incomplete").exists();
        if marker {
            cut += 1;
            if startable && !refused_start {
                let out = Command::new(support::yui_bin())
                    .args(["--home", home.to_str().unwrap(), "run"])
                    .output()
                    .unwrap();
                assert!(!out.status.success(), "a home cut short started");
                let err = String::from_utf8_lossy(&out.stderr);
                assert!(err.contains("did not finish"), "{err}");
                refused_start = true;
            }
        } else if startable {
            assert!(
                home.join("hold-publish").exists(),
                "restore {i} left a startable home without the publishing hold"
            );
        }
        if let Some(st) = finished {
            assert!(st.success(), "restore {i} failed");
            assert!(!marker && home.join("hold-publish").exists());
            break;
        }
    }
    assert!(cut > 0, "no cut landed inside a restore");
    assert!(
        refused_start,
        "no cut left a config and key to try starting"
    );
}
