//! Mutual aid end to end with real `yui` processes: a relay and four
//! municipalities. 南伊豆町 asks 杉並区 and 札幌市 for 500 blankets and 2
//! public health nurses; both nodes sign a receipt on arrival of the
//! request; 杉並区's desk is told by e-mail (a local SMTP sink) and by a
//! signed webhook (a local receiver that fails once, so the delivery is
//! retried); offers add up to the request; steps out of order, more than
//! was offered and answers from a municipality not addressed are refused
//! with their reason; every node shows the same thread; the receipt of an
//! offer verifies offline and a tampered one does not.

#[path = "support.rs"]
mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use support::{wait_until, NodeProc};

/// A minimal SMTP server on loopback: takes every message, keeps it.
fn smtp_sink() -> (u16, Arc<Mutex<Vec<String>>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let got = Arc::new(Mutex::new(Vec::new()));
    let keep = got.clone();
    std::thread::spawn(move || {
        for conn in l.incoming().take(64) {
            let Ok(mut w) = conn else { continue };
            let mut r = BufReader::new(w.try_clone().unwrap());
            let _ = w.write_all(b"220 sink ESMTP\r\n");
            let mut data = false;
            let mut msg = String::new();
            let mut line = String::new();
            while r.read_line(&mut line).unwrap_or(0) > 0 {
                if data {
                    if line == ".\r\n" {
                        data = false;
                        keep.lock().unwrap().push(std::mem::take(&mut msg));
                        let _ = w.write_all(b"250 queued\r\n");
                    } else {
                        msg.push_str(&line);
                    }
                } else {
                    let cmd = line.to_ascii_uppercase();
                    let answer: &[u8] = if cmd.starts_with("EHLO") {
                        b"250-sink\r\n250 8BITMIME\r\n"
                    } else if cmd.starts_with("DATA") {
                        data = true;
                        b"354 go on\r\n"
                    } else if cmd.starts_with("QUIT") {
                        let _ = w.write_all(b"221 bye\r\n");
                        break;
                    } else {
                        b"250 ok\r\n"
                    };
                    let _ = w.write_all(answer);
                }
                line.clear();
            }
        }
    });
    (port, got)
}

/// One webhook call: headers (lower-case names) and body.
type Call = (Vec<(String, String)>, Vec<u8>);

/// An HTTP receiver on loopback that answers 500 to the first call and
/// 200 after, keeping each call.
fn webhook_receiver() -> (u16, Arc<Mutex<Vec<Call>>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let got = Arc::new(Mutex::new(Vec::new()));
    let keep = got.clone();
    std::thread::spawn(move || {
        for conn in l.incoming().take(64) {
            let Ok(mut w) = conn else { continue };
            let mut r = BufReader::new(w.try_clone().unwrap());
            let mut headers = Vec::new();
            let mut line = String::new();
            let _ = r.read_line(&mut line);
            loop {
                line.clear();
                if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some((k, v)) = line.trim_end().split_once(':') {
                    headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
                }
            }
            let len: usize = headers
                .iter()
                .find(|(k, _)| k == "content-length")
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(0);
            let mut body = vec![0; len];
            let _ = r.read_exact(&mut body);
            let first = {
                let mut g = keep.lock().unwrap();
                g.push((headers, body));
                g.len() == 1
            };
            let status = if first {
                "500 Internal Server Error"
            } else {
                "200 OK"
            };
            let _ = w.write_all(
                format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .as_bytes(),
            );
        }
    });
    (port, got)
}

fn hmac_hex(key: &[u8], msg: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let mut k = [0u8; 64];
    k[..key.len()].copy_from_slice(key);
    let inner: Vec<u8> = k
        .iter()
        .map(|b| b ^ 0x36)
        .chain(msg.iter().copied())
        .collect();
    let ih = Sha256::digest(&inner);
    let outer: Vec<u8> = k
        .iter()
        .map(|b| b ^ 0x5c)
        .chain(ih.iter().copied())
        .collect();
    hex::encode(Sha256::digest(&outer))
}

fn refused(n: &NodeProc, args: &[&str], because: &str) {
    let out = n.try_cli(args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "yui {args:?} on {} was not refused",
        n.name
    );
    assert!(
        err.contains(because),
        "yui {args:?}: {err:?} does not say {because:?}"
    );
}

fn thread(n: &NodeProc, request: &str) -> serde_json::Value {
    n.json(&["aid", "show", request, "--json"])
}

fn totals(t: &serde_json::Value, line: usize) -> serde_json::Value {
    t["lines"][line]["amounts"].clone()
}

#[test]
fn a_request_for_blankets_and_nurses_is_answered_committed_and_receipted() {
    let dir = tempfile::tempdir().unwrap();
    let (smtp_port, mails) = smtp_sink();
    let (hook_port, hooks) = webhook_receiver();

    let mut relay = NodeProc::init(dir.path(), "relay", "東京都 広域連携", "130001");
    let mut izu = NodeProc::init(dir.path(), "izu", "南伊豆町", "223042");
    let mut suginami = NodeProc::init(dir.path(), "suginami", "杉並区", "131156");
    let mut sapporo = NodeProc::init(dir.path(), "sapporo", "札幌市", "011002");
    let mut yokohama = NodeProc::init(dir.path(), "yokohama", "横浜市", "141003");
    let notify = format!(
        "\n[notify]\nsmtp_host = \"127.0.0.1\"\nsmtp_port = {smtp_port}\nsmtp_security = \"none\"\n\
         from = \"yui@city.suginami.example.jp\"\nfirst_retry_ms = 100\n\n\
         [[notify.subscription]]\nname = \"防災係\"\ntopics = [\"aid_request\", \"aid_update\"]\n\
         email = [\"bousai@city.suginami.example.jp\"]\nwebhook = [\"http://127.0.0.1:{hook_port}/hook\"]\n"
    );
    let cfg = suginami.home.join("config.toml");
    let text = std::fs::read_to_string(&cfg).unwrap();
    // Replace the [notify] section `yui init` wrote with the desk's.
    let text = text[..text.find("\n[notify]").unwrap()].to_owned() + &notify;
    std::fs::write(&cfg, text).unwrap();

    relay.start();
    let members = [&mut izu, &mut suginami, &mut sapporo, &mut yokohama];
    for (m, code) in members
        .into_iter()
        .zip(["223042", "131156", "011002", "141003"])
    {
        m.start();
        m.cli(&["trust", "add", &relay.id, "--name", "東京都"]);
        relay.cli(&["endorse", &m.id, "--name", &m.name, "--code", code]);
        m.dial(&relay);
    }
    let all = [&izu, &suginami, &sapporo, &yokohama, &relay];

    // The request.
    let req = izu.json(&[
        "aid",
        "request",
        "--to",
        "131156",
        "--to",
        "011002",
        "--supply",
        "毛布:500:枚",
        "--staff",
        "保健師:2:7",
        "--deliver-to",
        "南伊豆町役場 防災倉庫",
        "--json",
    ]);
    let request = format!("{}/{}", izu.id, req["object_id"].as_str().unwrap());
    for n in [&suginami, &sapporo] {
        wait_until(&format!("the request in {}'s inbox", n.name), 30, || {
            n.json(&["aid", "inbox", "--json"])
                .as_array()
                .unwrap()
                .iter()
                .any(|e| {
                    format!(
                        "{}/{}",
                        e["author"].as_str().unwrap(),
                        e["object_id"].as_str().unwrap()
                    ) == request
                })
        });
    }
    assert!(
        yokohama
            .json(&["aid", "inbox", "--json"])
            .as_array()
            .unwrap()
            .is_empty(),
        "横浜市 was not asked"
    );
    // Both addressed nodes signed a receipt on arrival.
    wait_until("both receipts of the request at 南伊豆町", 30, || {
        let t = thread(&izu, &request);
        t["rows"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| !r["received_at"].is_null())
    });
    let rows = thread(&izu, &request)["rows"].clone();
    assert_eq!(rows.as_array().unwrap().len(), 2, "{rows}");
    assert_eq!(rows[0]["code"], "131156");
    assert_eq!(rows[1]["code"], "011002");

    // Out of order and out of turn.
    refused(
        &yokohama,
        &["aid", "respond", &request, "--supply", "毛布:100:枚"],
        "not addressed to you",
    );
    refused(
        &izu,
        &["aid", "respond", &request, "--supply", "毛布:100:枚"],
        "its own request",
    );
    refused(
        &suginami,
        &["aid", "respond", &request, "--decline"],
        "gives its reason",
    );

    let offer_s = suginami.json(&[
        "aid",
        "respond",
        &request,
        "--supply",
        "毛布:300:枚",
        "--staff",
        "保健師:2:7",
        "--eta",
        "2027-02-11T09:00:00+09:00",
        "--json",
    ]);
    let offer_s = format!("{}/{}", suginami.id, offer_s["object_id"].as_str().unwrap());
    let offer_p = sapporo.json(&[
        "aid",
        "respond",
        &request,
        "--supply",
        "毛布:200:枚",
        "--json",
    ]);
    let offer_p = format!("{}/{}", sapporo.id, offer_p["object_id"].as_str().unwrap());
    wait_until("both offers at 南伊豆町", 30, || {
        totals(&thread(&izu, &request), 0)["offered"] == 500.0
    });
    assert_eq!(totals(&thread(&izu, &request), 1)["offered"], 2.0);
    refused(
        &suginami,
        &["aid", "commit", &offer_s],
        "needs an accepted offer",
    );
    refused(
        &izu,
        &["aid", "accept", &offer_p, "--supply", "毛布:250:枚"],
        "more than was offered",
    );
    refused(&sapporo, &["aid", "accept", &offer_s], "only the requester");
    izu.cli(&["aid", "accept", &offer_s]);
    izu.cli(&["aid", "accept", &offer_p]);

    // Commit, dispatch and arrival follow, each on its side.
    for (n, offer) in [(&suginami, &offer_s), (&sapporo, &offer_p)] {
        wait_until(&format!("the acceptance at {}", n.name), 30, || {
            n.try_cli(&["aid", "commit", offer]).status.success()
        });
        n.cli(&[
            "aid",
            "dispatch",
            offer,
            "--eta",
            "2027-02-11T12:00:00+09:00",
        ]);
    }
    for offer in [&offer_s, &offer_p] {
        wait_until("the dispatch at 南伊豆町", 30, || {
            izu.try_cli(&["aid", "arrive", offer]).status.success()
        });
    }
    refused(&izu, &["aid", "arrive", &offer_s], "nothing left to arrive");
    refused(
        &izu,
        &["aid", "arrive", &offer_p, "--supply", "毛布:1:枚"],
        "more than was dispatched",
    );

    // Every node shows the same thread.
    for n in all {
        wait_until(&format!("the whole thread at {}", n.name), 30, || {
            let t = thread(n, &request);
            totals(&t, 0)["arrived"] == 500.0 && totals(&t, 1)["arrived"] == 2.0
        });
        let t = thread(n, &request);
        assert_eq!(totals(&t, 0)["committed"], 500.0, "at {}", n.name);
        let stages: Vec<&str> = t["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["stage"].as_str().unwrap_or("-"))
            .collect();
        assert_eq!(stages, ["arrive", "arrive"], "at {}", n.name);
    }
    let human = izu.cli(&["aid", "show", &request]);
    assert!(
        human.contains("毛布 500枚") && human.contains("arrived 500"),
        "{human}"
    );

    // The receipt verifies offline; tampering is found.
    let file = dir.path().join("receipt.json");
    izu.cli(&["aid", "receipt", &offer_s, "--out", file.to_str().unwrap()]);
    let ok = izu.cli(&["receipt", "verify", file.to_str().unwrap()]);
    assert!(
        ok.contains("receipt holds") && ok.contains("arrived 300"),
        "{ok}"
    );
    let mut r: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(
        r["entries"].as_array().unwrap().len(),
        6,
        "request, offer, accept, commit, dispatch, arrive"
    );
    r["lines"][0]["amounts"]["arrived"] = serde_json::json!(400.0);
    let forged = dir.path().join("forged.json");
    std::fs::write(&forged, serde_json::to_vec(&r).unwrap()).unwrap();
    refused(
        &izu,
        &["receipt", "verify", forged.to_str().unwrap()],
        "the signed entries say",
    );
    let mut r: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    r["entries"][3]["signed"] = r["entries"][4]["signed"].clone();
    std::fs::write(&forged, serde_json::to_vec(&r).unwrap()).unwrap();
    refused(
        &izu,
        &["receipt", "verify", forged.to_str().unwrap()],
        "hash to",
    );

    // A reply on the request shows in its thread.
    sapporo.cli(&["reply", &request, "--text", "到着時刻を連絡します"]);
    wait_until("the reply in the thread at 南伊豆町", 30, || {
        thread(&izu, &request)["replies"].as_array().unwrap().len() == 1
    });

    // An offer nobody asked for: 札幌市 offers water to 南伊豆町, which
    // accepts; the rest follows as for a request.
    let water = sapporo.json(&[
        "aid",
        "offer",
        "--to",
        "223042",
        "--supply",
        "飲料水:2:t",
        "--json",
    ]);
    let water = format!("{}/{}", sapporo.id, water["object_id"].as_str().unwrap());
    wait_until("the offer of water at 南伊豆町", 30, || {
        izu.try_cli(&["aid", "accept", &water]).status.success()
    });
    refused(
        &sapporo,
        &["aid", "accept", &water],
        "accepted by the one it is made to",
    );
    wait_until("the acceptance at 札幌市", 30, || {
        sapporo.try_cli(&["aid", "commit", &water]).status.success()
    });
    sapporo.cli(&["aid", "dispatch", &water]);
    wait_until("the dispatch of water at 南伊豆町", 30, || {
        izu.try_cli(&["aid", "arrive", &water]).status.success()
    });
    let t = thread(&izu, &water);
    assert_eq!(totals(&t, 0)["arrived"], 2.0, "{t}");

    // 杉並区's desk was told: by e-mail, and by a signed webhook retried
    // after its first failure.
    wait_until("the e-mail about the request", 30, || {
        mails
            .lock()
            .unwrap()
            .iter()
            .any(|m| m.contains("bousai@city.suginami.example.jp"))
    });
    wait_until("the webhook, delivered on a retry", 30, || {
        let h = hooks.lock().unwrap();
        h.len() >= 2
            && h.iter()
                .filter(|(_, b)| String::from_utf8_lossy(b).contains("aid_request"))
                .count()
                >= 2
    });
    let key = std::fs::read_to_string(suginami.home.join("staff/webhook.key")).unwrap();
    for (headers, body) in hooks.lock().unwrap().iter() {
        let h = |k: &str| {
            headers
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let signed = format!("{}.{}", h("x-yui-timestamp"), String::from_utf8_lossy(body));
        assert_eq!(
            h("x-yui-signature"),
            format!(
                "sha256={}",
                hmac_hex(key.trim().as_bytes(), signed.as_bytes())
            )
        );
        let v: serde_json::Value = serde_json::from_slice(body).unwrap();
        assert_eq!(v["type"], "yui.notice");
    }
}
