//! Links that come and go and offices with no link at all: offline bundles,
//! HTTP CONNECT proxies.

#[path = "support.rs"]
mod support;

use support::{wait_until, NodeProc};

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
