//! A bounded load test on loopback: many peers push many entries into one
//! real `yui` process at once while the admin API is polled. Prints the
//! throughput and the admin API's latency; checks that every entry was
//! stored and that the admin API kept answering. (Speed targets live in
//! `yui bench`; this checks behaviour under load.)

#[path = "support.rs"]
mod support;

use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::NodeProc;
use yui_core::content::Event;
use yui_core::{Body, Entry, EntryId, Limits, LocalizedText, NodeId, SecretKey, SignedEntry};
use yui_net::client::Connection;
use yui_net::{ProtoCodec, Role};
use yui_store::{KvStore, MemEngine};
use yui_sync::{Codec, Replica};

const PEERS: u8 = 16;
const PER_PEER: u64 = 2_000;

fn log_of(key: &SecretKey, n: u64) -> Vec<SignedEntry> {
    let author = NodeId::new(key.public_key());
    let created_at = yui_sync::now_ms() - 3_600_000 * 2;
    let mut prev: Option<EntryId> = None;
    (1..=n)
        .map(|seq| {
            let e = Entry {
                sealed: None,
                author,
                seq,
                prev,
                created_at,
                expires_at: None,
                object_id: format!("case-{seq}"),
                body: Body::Event(Event {
                    title: LocalizedText::one("ja", "防災協定に基づく合同訓練"),
                    start: "2027-02-10T10:00:00+09:00".into(),
                    ..Default::default()
                }),
            };
            let s = SignedEntry::sign(ProtoCodec.encode_entry(&e), key);
            prev = Some(s.id());
            s
        })
        .collect()
}

/// GET /v1/status over plain HTTP/1.1; returns the latency.
fn admin_status(addr: &str, token: &str) -> Duration {
    let t = Instant::now();
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "GET /v1/status HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).unwrap();
    assert!(
        body.starts_with("HTTP/1.1 200"),
        "admin API answered {body}"
    );
    t.elapsed()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_peers_at_once_and_the_admin_api_stays_responsive() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = NodeProc::init(dir.path(), "relay", "静岡県 広域連携", "220001");
    node.start();
    let node_id: NodeId = node.id.parse().unwrap();
    let keys: Vec<SecretKey> = (0..PEERS)
        .map(|i| SecretKey::from_seed(&[0x80 + i; 32]))
        .collect();
    for k in &keys {
        node.cli(&["trust", "add", &NodeId::new(k.public_key()).to_string()]);
    }
    let logs: Vec<Vec<SignedEntry>> = keys.iter().map(|k| log_of(k, PER_PEER)).collect();
    let admin = std::fs::read_to_string(node.home.join("run/admin.addr"))
        .unwrap()
        .trim()
        .to_owned();
    let token = std::fs::read_to_string(node.home.join("admin.token"))
        .unwrap()
        .trim()
        .to_owned();

    // The admin API, polled throughout.
    let done = Arc::new(AtomicBool::new(false));
    let poller = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut lat = Vec::new();
            while !done.load(Ordering::Relaxed) {
                lat.push(admin_status(&admin, &token));
                std::thread::sleep(Duration::from_millis(20));
            }
            lat
        })
    };

    let start = Instant::now();
    let mut tasks = Vec::new();
    for (key, log) in keys.into_iter().zip(logs) {
        let addr = node.addr();
        tasks.push(tokio::spawn(async move {
            let replica = Replica::open(
                Arc::new(KvStore::open(MemEngine::new()).unwrap()),
                key,
                Arc::new(ProtoCodec),
                Limits::default(),
            )
            .unwrap();
            replica.trust_add(node_id, "relay").unwrap();
            let conn = Connection::open(
                &replica,
                &addr,
                Some(node_id),
                Role::Municipality,
                Duration::from_secs(10),
            )
            .await
            .unwrap();
            for chunk in log.chunks(500) {
                conn.send_entries(chunk).await.unwrap();
            }
            conn
        }));
    }
    let mut conns = Vec::new();
    for t in tasks {
        conns.push(t.await.unwrap());
    }
    let total = u64::from(PEERS) * PER_PEER;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let entries = node.json(&["status", "--json"])["entries"]
            .as_u64()
            .unwrap();
        if entries >= total {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {entries} of {total} stored"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let elapsed = start.elapsed();
    done.store(true, Ordering::Relaxed);
    let mut lat = poller.join().unwrap();
    lat.sort();
    println!(
        "load: {PEERS} peers x {PER_PEER} entries = {total} in {:.2} s: {:.0} entries/s; admin /v1/status over {} requests: p50 {:?}, p99 {:?}, max {:?}",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64(),
        lat.len(),
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        lat.last().unwrap()
    );
    assert!(lat.len() >= 3, "the admin API was polled during the load");
    // Responsive, not fast: a generous bound that only a stalled node misses.
    assert!(
        *lat.last().unwrap() < Duration::from_secs(5),
        "the admin API stalled under load"
    );
    drop(conns);
    node.stop();
    assert!(
        node.try_cli(&["check"]).status.success(),
        "store whole after the load"
    );
}
