//! A hostile peer (in-process, speaking the real protocol over TLS) against a
//! real `yui` process: every bad entry is refused, counted, and changes
//! nothing stored; forks are kept as evidence and stop the author's log.

#[path = "support.rs"]
mod support;

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::Duration;

use prost::Message;
use support::{wait_until, NodeProc};
use yui_core::content::Event;
use yui_core::{Body, Entry, EntryId, Limits, LocalizedText, NodeId, SecretKey, SignedEntry};
use yui_net::client::Connection;
use yui_net::{ProtoCodec, Role};
use yui_proto::v1 as pb;
use yui_store::{KvStore, MemEngine};
use yui_sync::{now_ms, Codec, Replica};

fn entry(key: &SecretKey, seq: u64, prev: Option<EntryId>, title: &str) -> SignedEntry {
    let e = Entry {
        sealed: None,
        author: NodeId::new(key.public_key()),
        seq,
        prev,
        created_at: now_ms(),
        expires_at: None,
        object_id: format!("obj-{seq}"),
        body: Body::Event(Event {
            title: LocalizedText::one("ja", title),
            start: "2027-02-10T10:00:00+09:00".into(),
            ..Default::default()
        }),
    };
    SignedEntry::sign(ProtoCodec.encode_entry(&e), key)
}

struct Snapshot {
    heads: serde_json::Value,
    entries: u64,
}

fn snapshot(n: &NodeProc) -> Snapshot {
    let s = n.json(&["status", "--json"]);
    Snapshot {
        heads: s["heads"].clone(),
        entries: s["entries"].as_u64().unwrap(),
    }
}

fn counter(n: &NodeProc, name: &str) -> u64 {
    n.json(&["status", "--json"])["counters"][name]
        .as_u64()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_entries_are_refused_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = NodeProc::init(dir.path(), "target", "神戸市", "281000");
    node.start();

    // The attacker is a trusted peer and author ("a malicious member").
    let evil_key = SecretKey::from_seed(&[0x66; 32]);
    let evil_id = NodeId::new(evil_key.public_key());
    let store = Arc::new(KvStore::open(MemEngine::new()).unwrap());
    let evil = Replica::open(
        store,
        SecretKey::from_seed(&[0x66; 32]),
        Arc::new(ProtoCodec),
        Limits::default(),
    )
    .unwrap();
    let node_id: NodeId = node.id.parse().unwrap();
    evil.trust_add(node_id, "target").unwrap();
    node.cli(&["trust", "add", &evil_id.to_string(), "--name", "evil"]);
    let conn = Connection::open(
        &evil,
        &node.addr(),
        Some(node_id),
        Role::Municipality,
        Duration::from_secs(10),
    )
    .await
    .unwrap();

    // A bystander peered with the target, which never talks to the attacker.
    let mut bystander = NodeProc::init(dir.path(), "bystander", "天津市", "CN-tianjin");
    bystander.start();
    node.trust_mutually(&bystander);
    bystander.cli(&["trust", "add", &evil_id.to_string()]);
    bystander.dial(&node);

    // One good entry first.
    let e1 = entry(&evil_key, 1, None, "正規");
    conn.send_entries(std::slice::from_ref(&e1)).await.unwrap();
    wait_until("the good entry", 20, || {
        node.head_of(&evil_id.to_string()) == 1
    });
    wait_until("the good entry at the bystander", 20, || {
        bystander.head_of(&evil_id.to_string()) == 1
    });
    let before = snapshot(&node);

    // Bad signature.
    let mut forged = entry(&evil_key, 2, Some(e1.id()), "改ざん");
    forged.signature.0[5] ^= 0x40;
    conn.send_entries(&[forged]).await.unwrap();
    wait_until("bad signature counted", 20, || {
        counter(&node, "refused_signature") == 1
    });

    // (A broken chain, seq 2 whose prev is not entry 1, is fork evidence:
    // crates/yui-net/tests/trust_rules.rs and the Python suite drive it.)

    // An author the node does not trust, relayed by a trusted peer.
    let stranger = SecretKey::from_seed(&[0x77; 32]);
    conn.send_entries(&[entry(&stranger, 1, None, "不明")])
        .await
        .unwrap();
    wait_until("untrusted author counted", 20, || {
        counter(&node, "refused_untrusted") == 1
    });

    // Garbage bytes, a short signature, an oversized entry, a future timestamp.
    let garbage = (vec![0xff, 0x01, 0x02, 0x03], vec![0; 64]);
    let short_sig = (e1.entry.clone(), vec![1; 10]);
    let raw = |s: &SignedEntry| (s.entry.clone(), s.signature.0.to_vec());
    let mut big = pb::Entry::decode(e1.entry.as_slice()).unwrap();
    big.object_id = "x".repeat(70_000);
    let big = SignedEntry::sign(big.encode_to_vec(), &evil_key);
    let mut future =
        pb::Entry::decode(entry(&evil_key, 2, Some(e1.id()), "未来").entry.as_slice()).unwrap();
    future.created_at = now_ms() + 24 * 3_600_000;
    let future = SignedEntry::sign(future.encode_to_vec(), &evil_key);
    conn.send_raw_entries(vec![garbage, short_sig, raw(&big), raw(&future)])
        .await
        .unwrap();
    wait_until("malformed entries counted", 20, || {
        counter(&node, "refused_invalid") == 4
    });

    let after = snapshot(&node);
    assert_eq!(
        after.heads, before.heads,
        "a refused entry changed the heads"
    );
    assert_eq!(after.entries, before.entries, "a refused entry was stored");
    assert!(node.json(&["status", "--json"])["forks"]
        .as_array()
        .unwrap()
        .is_empty());

    // A fork: a different entry at seq 1. Kept as evidence, log stopped.
    let fork = entry(&evil_key, 1, None, "二重署名");
    conn.send_entries(std::slice::from_ref(&fork))
        .await
        .unwrap();
    wait_until("fork recorded", 20, || {
        !node.json(&["status", "--json"])["forks"]
            .as_array()
            .unwrap()
            .is_empty()
    });
    let status = node.json(&["status", "--json"]);
    let f = &status["forks"][0];
    assert_eq!(f["author"], evil_id.to_string().as_str());
    assert_eq!(f["seq"], 1);
    assert_eq!(f["existing"], e1.id().to_hex().as_str());
    assert_eq!(f["other"], fork.id().to_hex().as_str());
    // The evidence travels: the bystander learns of the fork too.
    wait_until("fork evidence at the bystander", 20, || {
        bystander.json(&["status", "--json"])["forks"][0]["other"] == fork.id().to_hex().as_str()
    });
    // Even a valid continuation is refused now.
    conn.send_entries(&[entry(&evil_key, 2, Some(e1.id()), "続き")])
        .await
        .unwrap();
    wait_until("forked author refused", 20, || {
        counter(&node, "refused_forked") == 1
    });
    let last = snapshot(&node);
    assert_eq!(last.heads, before.heads);
    assert_eq!(last.entries, before.entries);

    // The forked author recovers: a rotation to a new key, countersigned,
    // signed past the fork. Every node then trusts the new key in its place.
    let new_key = SecretKey::from_seed(&[0x67; 32]);
    let new_id = NodeId::new(new_key.public_key());
    let rotation = Entry {
        sealed: None,
        author: evil_id,
        seq: 2,
        prev: Some(e1.id()),
        created_at: now_ms(),
        expires_at: None,
        object_id: "key-rotation".into(),
        body: Body::KeyRotation(yui_core::content::KeyRotation::new(&evil_id, &new_key)),
    };
    let rotation = SignedEntry::sign(ProtoCodec.encode_entry(&rotation), &evil_key);
    conn.send_entries(&[rotation]).await.unwrap();
    // Whoever holds a forked key can sign a recovery, a thief too: it
    // moves the identity only once the new key is vouched for. The forked
    // key is a root here, so that is each operator's own step.
    let trusted = |n: &NodeProc| {
        n.json(&["trust", "list", "--all", "--json"])["trusted"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["node_id"] == new_id.to_string().as_str())
    };
    wait_until("the recovery kept", 20, || {
        node.log().contains("signed a recovery")
    });
    assert!(!trusted(&node), "a recovery alone made its new key trusted");
    for n in [&node, &bystander] {
        n.cli(&[
            "trust",
            "add",
            &new_id.to_string(),
            "--name",
            "evil (new key)",
        ]);
    }
    for n in [&node, &bystander] {
        wait_until("the recovery to be trusted", 20, || {
            n.json(&["trust", "list", "--all", "--json"])["trusted"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t["node_id"] == new_id.to_string().as_str())
        });
    }
    let fresh = entry(&new_key, 1, None, "新しい鍵で再開");
    conn.send_entries(&[fresh]).await.unwrap();
    wait_until("the new key's entry at the bystander", 20, || {
        bystander.head_of(&new_id.to_string()) == 1
    });
    assert_eq!(
        node.head_of(&evil_id.to_string()),
        1,
        "the forked log stays stopped"
    );

    // The node still serves: its own publish works and the log is intact.
    node.publish("still-alive", "稼働中");
    assert_eq!(node.head_of(&node.id), 1);
    node.stop();
}

#[test]
fn admin_api_requires_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = NodeProc::init(dir.path(), "morioka", "盛岡市", "032018");
    node.start();
    let addr = std::fs::read_to_string(node.home.join("run/admin.addr")).unwrap();
    let ask = |auth: Option<&str>| {
        let mut s = std::net::TcpStream::connect(addr.trim()).unwrap();
        let header = auth
            .map(|t| format!("Authorization: Bearer {t}\r\n"))
            .unwrap_or_default();
        write!(
            s,
            "GET /v1/status HTTP/1.1\r\nHost: x\r\n{header}Connection: close\r\n\r\n"
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    };
    assert!(
        ask(None).starts_with("HTTP/1.1 401"),
        "no token must be refused"
    );
    assert!(
        ask(Some("0000")).starts_with("HTTP/1.1 401"),
        "a wrong token must be refused"
    );
    let token = std::fs::read_to_string(node.home.join("admin.token")).unwrap();
    assert!(ask(Some(token.trim())).starts_with("HTTP/1.1 200"));
    node.stop();
}

#[test]
fn loose_key_permissions_stop_the_node_with_the_fix() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let node = NodeProc::init(dir.path(), "uruma", "うるま市", "472131");
    std::fs::set_permissions(
        node.home.join("node.key"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let out = node.try_cli(&["run"]);
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("chmod 600"));
}
