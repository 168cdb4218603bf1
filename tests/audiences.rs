//! Restricted audiences end to end with real `yui` processes: a relay and
//! three municipalities. 南伊豆町 publishes a case whose person in charge
//! goes, by the node's default, to its partners' staff only. 杉並区 (its
//! mutual-aid partner) reads the contact; 札幌市 (trusted, not a partner)
//! and the relay hold only ciphertext; no node's public pages, exports or
//! unauthenticated API show it, and nothing on any disk holds it in
//! plaintext. A withdrawal makes the contact unreadable everywhere, also
//! after a restart, and out of every search; the next version goes to a new
//! key epoch that 杉並区 reads again; once the partnership ends, 杉並区 can
//! no longer read what follows. A readiness status's shelter location (a
//! shelter for people fleeing violence) goes the same way while its places
//! stay public.

#[path = "support.rs"]
mod support;

use std::path::Path;

use support::{wait_until, NodeProc};

const EMAIL: &str = "tanaka.hanako@town.minamiizu.example.jp";
const NAME: &str = "田中花子";
const EMAIL2: &str = "sato.jiro@town.minamiizu.example.jp";
const EMAIL3: &str = "suzuki.saburo@town.minamiizu.example.jp";
const CASE: &str = "case-bichiku-kyodo";
const SHELTER: &str = "一時保護施設 南伊豆町手石二丁目";

/// A GET on a node's public port (its pages and exports), trusting only
/// that node's certificate.
fn public_get(n: &NodeProc, path: &str) -> (u16, String) {
    let pem = std::fs::read(n.home.join("tls/cert.pem")).unwrap();
    let der = rustls_pemfile::certs(&mut pem.as_slice())
        .next()
        .unwrap()
        .unwrap();
    let tls = yui_net::tls::admin_client_config(yui_net::tls::cert_digest(&der)).unwrap();
    let client = reqwest::blocking::Client::builder()
        .use_preconfigured_tls(tls)
        .build()
        .unwrap();
    let r = client
        .get(format!("https://{}{path}", n.addr()))
        .send()
        .unwrap();
    (r.status().as_u16(), r.text().unwrap())
}

/// Every file under `dir` that holds `needle`.
fn files_holding(dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(bytes) = std::fs::read(&p) {
                if bytes.windows(needle.len()).any(|w| w == needle) {
                    out.push(p.display().to_string());
                }
            }
        }
    }
    out
}

/// `author`'s current object of `kind` (its `object`, or any) as `n`'s
/// admin API shows it (its operator: opened when it can).
fn current(
    n: &NodeProc,
    kind: &str,
    author: &str,
    object: Option<&str>,
) -> Option<serde_json::Value> {
    let page = n.json(&["query", kind, "--json"]);
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["author"] == author && object.is_none_or(|o| e["object_id"] == o))
        .cloned()
}

/// 南伊豆町's readiness as `n` shows it.
fn readiness(n: &NodeProc, author: &str) -> Option<serde_json::Value> {
    current(n, "readiness", author, None)
}

/// The case as `n` shows it.
fn case(n: &NodeProc, author: &str) -> Option<serde_json::Value> {
    current(n, "cases", author, Some(CASE))
}

fn search_total(n: &NodeProc, text: &str) -> u64 {
    n.json(&["query", "all", "--search", text, "--json"])["total"]
        .as_u64()
        .unwrap()
}

fn publish_case(n: &NodeProc, name: &str, email: &str) {
    n.cli(&[
        "publish",
        "case",
        "--id",
        CASE,
        "--title",
        "防災備蓄品の共同購入",
        "--summary",
        "近隣町と備蓄品を共同で調達し、単価を下げた。",
        "--policy-area",
        "disaster_prevention",
        "--contact-name",
        name,
        "--department",
        "総務課 防災係",
        "--email",
        email,
    ]);
}

fn audience_key(n: &NodeProc, of: &str) -> String {
    let page = n.json(&["query", "profiles", "--json"]);
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["author"] == of)
        .and_then(|e| e["body"]["audience_key"].as_str())
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn a_case_contact_reaches_partners_staff_only_and_can_be_withdrawn() {
    let dir = tempfile::tempdir().unwrap();
    let mut relay = NodeProc::init(dir.path(), "relay", "静岡県 広域連携", "220001");
    let mut izu = NodeProc::init(dir.path(), "izu", "南伊豆町", "223042");
    let mut suginami = NodeProc::init(dir.path(), "suginami", "杉並区", "131156");
    let mut sapporo = NodeProc::init(dir.path(), "sapporo", "札幌市", "011002");
    relay.start();
    for (m, code) in [
        (&mut izu, "223042"),
        (&mut suginami, "131156"),
        (&mut sapporo, "011002"),
    ] {
        m.start();
        m.cli(&["trust", "add", &relay.id, "--name", "静岡県"]);
        relay.cli(&["endorse", &m.id, "--name", &m.name, "--code", code]);
        m.dial(&relay);
        m.cli(&["publish", "profile", "--name", &m.name, "--code", code]);
    }
    let members = [&izu, &suginami, &sapporo];
    // Each profile carries its node's audience key, and every node sees
    // every key.
    for n in members {
        for m in members {
            wait_until(
                &format!("{}'s audience key at {}", m.name, n.name),
                30,
                || audience_key(n, &m.id).len() == 64,
            );
        }
    }
    // 南伊豆町 and 杉並区: a mutual-aid agreement stated by both.
    izu.cli(&[
        "publish",
        "partnership",
        "--id",
        "p-suginami",
        "--partner",
        &suginami.id,
        "--kind",
        "mutual_aid",
        "--partner-code",
        "131156",
    ]);
    suginami.cli(&[
        "publish",
        "partnership",
        "--id",
        "p-izu",
        "--partner",
        &izu.id,
        "--kind",
        "mutual_aid",
        "--partner-code",
        "223042",
    ]);
    wait_until("the partnership active at 南伊豆町", 30, || {
        izu.json(&["query", "partnerships", "--json"])["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["author"] == izu.id.as_str() && e["partnership"] == "active")
    });

    // The case, its contact to partners by default.
    publish_case(&izu, NAME, EMAIL);
    wait_until("the contact readable at 杉並区", 30, || {
        case(&suginami, &izu.id).is_some_and(|c| c["body"]["contact"]["email"] == EMAIL)
    });
    let at_suginami = case(&suginami, &izu.id).unwrap();
    assert_eq!(at_suginami["sealed"]["audience"], "partners");
    assert_eq!(at_suginami["sealed"]["shown"], true);
    assert_eq!(
        case(&izu, &izu.id).unwrap()["body"]["contact"]["email"],
        EMAIL
    );
    // The staff search of a recipient finds the person in charge.
    assert!(search_total(&suginami, NAME) >= 1);

    for n in [&sapporo, &relay] {
        wait_until(&format!("the case at {}", n.name), 30, || {
            case(n, &izu.id).is_some()
        });
        let c = case(n, &izu.id).unwrap();
        assert_eq!(c["body"]["contact"]["email"], "", "{} read it: {c}", n.name);
        assert_eq!(c["sealed"]["closed"], "not_a_member", "{}: {c}", n.name);
        assert_eq!(search_total(n, NAME), 0, "{} finds the contact", n.name);
        // The rest of the case is public as ever.
        assert_eq!(c["body"]["title"]["ja"], "防災備蓄品の共同購入");
    }

    // No public page, export or unauthenticated API of any node shows it.
    let all = [&izu, &suginami, &sapporo, &relay];
    for n in all {
        for path in [
            format!("/cases/{}/{CASE}", izu.id),
            format!("/api/v1/entries/{}/{CASE}", izu.id),
            "/export/entries.json".to_owned(),
        ] {
            let (status, body) = public_get(n, &path);
            assert_eq!(status, 200, "{} {path}", n.name);
            for secret in [EMAIL, NAME] {
                assert!(!body.contains(secret), "{} {path} shows {secret}", n.name);
            }
        }
        // The public search does not find the case by its contact (the
        // page echoes the words searched, so look for the case itself).
        let (status, found) = public_get(n, &format!("/cases?q={NAME}"));
        assert_eq!(status, 200);
        assert!(
            !found.contains(CASE),
            "{}'s public search finds the case by its contact",
            n.name
        );
        assert!(!found.contains(EMAIL));
        let (_, page) = public_get(n, &format!("/cases/{}/{CASE}", izu.id));
        assert!(
            page.contains("提携先の職員に限って公開しています"),
            "{}'s case page does not say the contact is restricted",
            n.name
        );
    }

    // A shelter for people fleeing violence: its places are public, where
    // it is only partners' staff may read.
    let refused = izu.try_cli(&[
        "publish",
        "readiness",
        "--headline",
        "受け入れ可能",
        "--shelter-audience",
        "partners",
    ]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("names no shelter location"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    izu.cli(&[
        "publish",
        "readiness",
        "--headline",
        "DV被害者の一時保護を受け入れ可能",
        "--shelter-capacity",
        "12",
        "--shelter-available",
        "5",
        "--accepts-outside-evacuees",
        "--shelter-location",
        SHELTER,
        "--shelter-audience",
        "partners",
    ]);
    wait_until("the shelter's location readable at 杉並区", 30, || {
        readiness(&suginami, &izu.id)
            .is_some_and(|r| r["body"]["shelter"]["location"]["ja"] == SHELTER)
    });
    let r = readiness(&suginami, &izu.id).unwrap();
    assert_eq!(
        r["sealed"]["parts"],
        serde_json::json!(["shelter_location"])
    );
    assert!(search_total(&suginami, "手石二丁目") >= 1);
    for n in [&sapporo, &relay] {
        wait_until(&format!("the readiness at {}", n.name), 30, || {
            readiness(n, &izu.id).is_some()
        });
        let r = readiness(n, &izu.id).unwrap();
        assert_eq!(r["body"]["shelter"]["capacity"], 12, "{r}");
        assert_eq!(r["body"]["shelter"]["available"], 5, "{r}");
        assert!(r["body"]["shelter"]["location"]["ja"].is_null(), "{r}");
        assert_eq!(r["sealed"]["closed"], "not_a_member", "{r}");
        assert_eq!(search_total(n, "手石二丁目"), 0, "{} finds it", n.name);
    }
    for n in all {
        for path in ["/board".to_owned(), "/export/entries.json".to_owned()] {
            let (status, body) = public_get(n, &path);
            assert_eq!(status, 200, "{} {path}", n.name);
            assert!(!body.contains(SHELTER), "{} {path} shows it", n.name);
        }
    }
    let (_, board) = public_get(&sapporo, "/board");
    assert!(
        board.contains("所在地は限定公開"),
        "札幌市's board does not say the location is restricted"
    );
    assert!(
        board
            .replace(['\u{2068}', '\u{2069}'], "")
            .contains("空き 5 人 / 定員 12 人"),
        "the places are public"
    );

    // Nothing on any disk holds it in plaintext: stores, indexes and
    // keyrings hold ciphertext, tokens and keys only.
    for n in all {
        for secret in [EMAIL, SHELTER] {
            assert_eq!(
                files_holding(&n.home, secret.as_bytes()),
                Vec::<String>::new(),
                "{}",
                n.name
            );
        }
    }

    // Withdrawal: the person in charge asked to be removed.
    let key_before = audience_key(&sapporo, &suginami.id);
    izu.cli(&["withdraw", CASE, "--reason", "担当者の異動"]);
    for n in [&izu, &suginami] {
        wait_until(
            &format!("the withdrawal carried out at {}", n.name),
            30,
            // The keys go first, then the index is rewritten and purged.
            || {
                case(n, &izu.id).is_some_and(|c| c["sealed"]["closed"] == "withdrawn")
                    && search_total(n, NAME) == 0
            },
        );
        assert_eq!(case(n, &izu.id).unwrap()["body"]["contact"]["email"], "");
        assert_eq!(
            search_total(n, NAME),
            0,
            "{} still finds the contact",
            n.name
        );
    }
    // 杉並区 retired the key the withdrawn epoch was sealed to.
    wait_until("杉並区's new audience key at 札幌市", 30, || {
        let k = audience_key(&sapporo, &suginami.id);
        k.len() == 64 && k != key_before
    });
    let ring: serde_json::Value =
        serde_json::from_slice(&std::fs::read(suginami.home.join("keys/audience.json")).unwrap())
            .unwrap();
    assert_eq!(ring["secrets"].as_array().unwrap().len(), 1, "{ring}");
    // A backup made now holds nothing that opens it either.
    let backup = dir.path().join("suginami-backup");
    suginami.cli(&["backup", backup.to_str().unwrap()]);
    let backed: serde_json::Value = serde_json::from_slice(
        &std::fs::read(backup.join("home/keys/audience.json")).expect("the keyring is backed up"),
    )
    .unwrap();
    for r in [&ring, &backed] {
        // 杉並区 sealed nothing itself: every epoch key it holds is another
        // author's, and 南伊豆町's first "partners" epoch is gone.
        let epochs = r["epochs"].as_object().unwrap();
        assert!(!epochs.keys().any(|k| k.ends_with("/partners/1")), "{r}");
        assert_eq!(r["shredded"].as_array().unwrap().len(), 1, "{r}");
    }
    assert!(files_holding(dir.path(), EMAIL.as_bytes()).is_empty());
    // Gone for good: also after a restart.
    suginami.stop();
    suginami.start();
    assert_eq!(
        case(&suginami, &izu.id).unwrap()["sealed"]["closed"],
        "withdrawn"
    );

    // The next version starts a new epoch, sealed to the new keys.
    wait_until("南伊豆町 sees 杉並区's new key", 30, || {
        audience_key(&izu, &suginami.id) == audience_key(&sapporo, &suginami.id)
    });
    publish_case(&izu, "佐藤次郎", EMAIL2);
    wait_until("version 2 readable at 杉並区", 30, || {
        case(&suginami, &izu.id).is_some_and(|c| c["body"]["contact"]["email"] == EMAIL2)
    });
    assert_eq!(
        case(&sapporo, &izu.id).unwrap()["sealed"]["closed"],
        "not_a_member"
    );

    // The partnership ends: what follows is sealed without 杉並区.
    izu.cli(&["publish", "retract", "--id", "p-suginami"]);
    wait_until("an epoch without 杉並区", 30, || {
        let list = izu.json(&["audiences", "--json"]);
        list.as_array().unwrap().iter().any(|a| {
            a["author"] == izu.id.as_str()
                && a["name"] == "partners"
                && a["epoch"].as_u64().unwrap() >= 3
                && !a["members"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|m| m[0] == suginami.id.as_str())
        })
    });
    publish_case(&izu, "鈴木三郎", EMAIL3);
    wait_until("version 3 at 杉並区", 30, || {
        case(&suginami, &izu.id).is_some_and(|c| c["version"] == 3)
    });
    let v3 = case(&suginami, &izu.id).unwrap();
    assert_eq!(v3["body"]["contact"]["email"], "", "{v3}");
    assert_eq!(v3["sealed"]["closed"], "not_a_member", "{v3}");
    assert_eq!(
        case(&izu, &izu.id).unwrap()["body"]["contact"]["email"],
        EMAIL3
    );
}
