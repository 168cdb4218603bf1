//! What municipalities share, end to end with real `yui` processes: every
//! kind published on one node appears on its partner, updates supersede,
//! retractions hide, queries find (a Japanese word inside a sentence too),
//! and the exports pass independent validators (Python icalendar, the OASIS
//! CAP 1.2 XSD with lxml, feedparser).

#[path = "support.rs"]
mod support;

use std::path::Path;

use support::{wait_until, NodeProc};
use yui_lab::samples;

fn write_json<T: serde::Serialize>(dir: &Path, name: &str, v: &T) -> String {
    let p = dir.join(name);
    std::fs::write(&p, serde_json::to_vec_pretty(v).unwrap()).unwrap();
    p.to_str().unwrap().to_owned()
}

fn query(n: &NodeProc, args: &[&str]) -> Vec<serde_json::Value> {
    let mut a = vec!["query"];
    a.extend_from_slice(args);
    a.push("--json");
    n.json(&a)["items"].as_array().unwrap().clone()
}

fn ids(list: &[serde_json::Value]) -> Vec<String> {
    let mut v: Vec<String> = list
        .iter()
        .map(|e| e["object_id"].as_str().unwrap().to_owned())
        .collect();
    v.sort();
    v
}

/// The Python with the validators: `YUI_PYTHON` (set by .ci/run), else
/// `python3` if it has them.
fn python() -> Option<String> {
    if let Ok(p) = std::env::var("YUI_PYTHON") {
        return Some(p);
    }
    let ok = std::process::Command::new("python3")
        .args(["-c", "import icalendar, lxml, feedparser, capvalidator"])
        .output()
        .is_ok_and(|o| o.status.success());
    ok.then(|| "python3".to_owned())
}

#[test]
fn every_kind_travels_updates_retracts_is_found_and_exports_validate() {
    let dir = tempfile::tempdir().unwrap();
    let files = dir.path().join("files");
    std::fs::create_dir_all(&files).unwrap();
    let mut a = NodeProc::init(dir.path(), "minami-izu", "南伊豆町", "223042");
    let mut b = NodeProc::init(dir.path(), "suginami", "杉並区", "131156");
    a.start();
    b.start();
    a.trust_mutually(&b);
    b.dial(&a);

    // A publishes one of every kind.
    a.cli(&[
        "publish",
        "profile",
        "--name",
        "南伊豆町",
        "--code",
        "223042",
        "--language",
        "ja",
    ]);
    a.cli(&[
        "publish",
        "event",
        "--id",
        "drill",
        "--title",
        "合同防災図上訓練",
        "--start",
        "2026-12-05T13:30:00+09:00",
        "--end",
        "2026-12-05T16:00:00+09:00",
        "--attendance",
        "online",
        "--online-url",
        "https://example.org/drill",
        "--organiser",
        "223042",
        "--partner",
        "131156",
    ]);
    a.cli(&[
        "publish",
        "event",
        "--id",
        "festival",
        "--title",
        "春の物産展",
        "--start",
        "2027-04-10",
        "--end",
        "2027-04-11",
        "--all-day",
        "--status",
        "cancelled",
    ]);
    let summit = write_json(&files, "summit.json", &samples::winter_cities_summit());
    a.cli(&["publish", "event", "--id", "wwcam", "--file", &summit]);
    let case = write_json(&files, "case.json", &samples::nursing_home_case());
    a.cli(&["publish", "case", "--id", "nursing-home", "--file", &case]);
    a.cli(&[
        "publish",
        "call",
        "--id",
        "tourism-call",
        "--kind",
        "need",
        "--policy-area",
        "tourism",
        "--title",
        "冬季観光プロモーションの連携自治体を募集",
        "--deadline",
        "2027-03-31",
    ]);
    let readiness = write_json(
        &files,
        "readiness.json",
        &samples::heavy_rain_readiness(yui_sync::now_ms()),
    );
    let readiness_id = a
        .cli(&["publish", "readiness", "--file", &readiness])
        .trim()
        .to_owned();
    a.cli(&[
        "publish",
        "partnership",
        "--partner",
        &b.id,
        "--kind",
        "mutual_aid",
        "--partner-code",
        "131156",
    ]);

    wait_until("every kind at B", 30, || {
        query(&b, &["all", "--author", &a.id]).len() == 8
    });
    let p = query(&b, &["partnerships"]);
    assert_eq!(p[0]["partnership"], "pending", "one side only: pending");

    // B confirms the partnership and acknowledges the readiness.
    b.cli(&[
        "publish",
        "partnership",
        "--partner",
        &a.id,
        "--kind",
        "mutual_aid",
        "--partner-code",
        "223042",
    ]);
    b.cli(&[
        "publish",
        "ack",
        "--entry",
        &readiness_id,
        "--note",
        "受領。簡易トイレを手配します",
    ]);
    wait_until("partnership active at A", 30, || {
        let p = query(&a, &["partnerships"]);
        p.len() == 2 && p.iter().all(|e| e["partnership"] == "active")
    });
    wait_until("ack seen at A", 30, || {
        query(&a, &["readiness"])[0]["acknowledged_by"] == serde_json::json!([b.id])
    });

    // Update and retraction.
    a.cli(&[
        "publish",
        "event",
        "--id",
        "drill",
        "--title",
        "合同防災図上訓練（時間変更）",
        "--start",
        "2026-12-05T14:00:00+09:00",
        "--end",
        "2026-12-05T16:30:00+09:00",
        "--attendance",
        "online",
    ]);
    a.cli(&[
        "publish",
        "retract",
        "--id",
        "tourism-call",
        "--reason",
        "募集を締め切りました",
    ]);
    wait_until("update and retraction at B", 30, || {
        query(&b, &["calls"]).is_empty()
            && query(&b, &["events", "--author", &a.id])
                .iter()
                .any(|e| e["object_id"] == "drill" && e["version"] == 2)
    });
    let drill = query(&b, &["events", "--author", &a.id])
        .into_iter()
        .find(|e| e["object_id"] == "drill")
        .unwrap();
    assert_eq!(drill["body"]["title"]["ja"], "合同防災図上訓練（時間変更）");
    let history = b.json(&["history", "--author", &a.id, "--id", "drill", "--json"]);
    assert_eq!(
        history.as_array().unwrap().len(),
        2,
        "history keeps both versions"
    );
    assert_eq!(history[0]["body"]["title"]["ja"], "合同防災図上訓練");
    let call_history = b.json(&[
        "history",
        "--author",
        &a.id,
        "--id",
        "tourism-call",
        "--json",
    ]);
    assert_eq!(call_history[1]["kind"], "retraction");
    let out = a.try_cli(&["publish", "retract", "--id", "no-such-thing"]);
    assert!(
        !out.status.success(),
        "retracting an unknown object must fail"
    );

    // Queries.
    assert_eq!(
        ids(&query(&b, &["events", "--month", "2026-12"])),
        ["drill"]
    );
    assert_eq!(
        ids(&query(&b, &["events", "--month", "2027-02"])),
        ["wwcam"]
    );
    assert_eq!(
        ids(&query(&b, &["all", "--search", "老人ホーム"])),
        ["nursing-home"],
        "a Japanese word inside a sentence"
    );
    assert_eq!(
        ids(&query(&b, &["all", "--search", "Winter Cities"])),
        ["wwcam"]
    );
    assert_eq!(
        ids(&query(&b, &["cases", "--policy-area", "welfare"])),
        ["nursing-home"]
    );
    assert!(query(&b, &["cases", "--policy-area", "tourism"]).is_empty());
    assert_eq!(
        ids(&query(&b, &["readiness", "--min-alert-level", "3"])),
        ["readiness"]
    );
    assert!(query(&b, &["readiness", "--min-alert-level", "4"]).is_empty());
    assert_eq!(ids(&query(&b, &["readiness", "--fresh"])), ["readiness"]);
    assert!(query(&b, &["readiness", "--stale"]).is_empty());
    assert_eq!(
        query(&b, &["profiles", "--author", &a.id])[0]["body"]["code"],
        "223042"
    );

    // Bad input is refused with the field named, and nothing is stored.
    let before = a.head_of(&a.id);
    for (args, field) in [
        (
            vec!["publish", "readiness", "--alert-level", "7"],
            "alert_level",
        ),
        (
            vec![
                "publish",
                "event",
                "--title",
                "x",
                "--start",
                "2027-01-01T10:00:00+09:00",
                "--tz",
                "Asia/Tokio",
            ],
            "time_zone",
        ),
        (
            vec!["publish", "case", "--title", "x", "--participant", "131157"],
            "participants",
        ),
        (
            vec![
                "publish",
                "call",
                "--title",
                "x",
                "--deadline",
                "31/03/2027",
            ],
            "deadline",
        ),
    ] {
        let out = a.try_cli(&args);
        assert!(!out.status.success(), "{args:?} was accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(field),
            "{args:?}: error does not name {field}: {err}"
        );
    }
    assert_eq!(a.head_of(&a.id), before);

    // Exports, checked by independent parsers.
    let out = dir.path().join("exports");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("calendar.ics"), b.cli(&["export", "ical"])).unwrap();
    std::fs::write(
        out.join("cap.xml"),
        b.cli(&["export", "cap", "--author", &a.id]),
    )
    .unwrap();
    std::fs::write(out.join("cap.atom"), b.cli(&["export", "atom"])).unwrap();
    std::fs::write(out.join("entries.json"), b.cli(&["export", "json"])).unwrap();
    let ics = std::fs::read_to_string(out.join("calendar.ics")).unwrap();
    assert!(ics.contains("STATUS:CANCELLED"));
    let expect = serde_json::json!({
        "events": 3,
        "event_checks": {
            "drill": {"summary": "合同防災図上訓練（時間変更）", "sequence": 1, "status": "CONFIRMED",
                      "start_utc": "2026-12-05T05:00:00+00:00"},
            "festival": {"status": "CANCELLED"},
            "wwcam": {"sequence": 0, "start_utc": "2027-02-10T01:00:00+00:00"}
        },
        "cap_languages": ["ja", "en"],
        "cap_geocode": "223042",
        "alert_level": 3,
        "atom_entries": 1,
        "json_kinds": ["acknowledgement", "case", "event", "partnership", "profile", "readiness"]
    });
    match python() {
        Some(py) => {
            let py = py.as_str();
            let script = concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../tests/python/validate_exports.py"
            );
            let r = std::process::Command::new(py)
                .args([script, out.to_str().unwrap(), &expect.to_string()])
                .output()
                .unwrap();
            assert!(
                r.status.success(),
                "independent validators refused the exports:\n{}{}",
                String::from_utf8_lossy(&r.stdout),
                String::from_utf8_lossy(&r.stderr)
            );
            print!("{}", String::from_utf8_lossy(&r.stdout));
            // The same calendar is public on the federation TLS port, next to gRPC.
            let url = format!("https://{}/export/calendar.ics", b.addr());
            let fetch = "import ssl,sys,urllib.request;\
                sys.stdout.write(urllib.request.urlopen(sys.argv[1], context=ssl._create_unverified_context()).read().decode())";
            let r = std::process::Command::new(py)
                .args(["-c", fetch, &url])
                .output()
                .unwrap();
            assert!(
                r.status.success(),
                "fetching {url}: {}",
                String::from_utf8_lossy(&r.stderr)
            );
            assert_eq!(
                String::from_utf8_lossy(&r.stdout),
                ics,
                "public calendar differs from the CLI export"
            );
            // gRPC-Web on the same port, over HTTP/1.1: Pull answers, and
            // refuses a connection that has not done the signed handshake.
            let grpc_web = "import ssl,sys,urllib.request\n\
key=bytes(32); msg=b'\\x0a\\x20'+key\n\
body=b'\\x00'+len(msg).to_bytes(4,'big')+msg\n\
req=urllib.request.Request(sys.argv[1]+'/yui.v1.Federation/Pull', data=body, headers={'content-type':'application/grpc-web+proto','x-grpc-web':'1'})\n\
r=urllib.request.urlopen(req, context=ssl._create_unverified_context())\n\
print(r.status, r.headers.get('content-type'), r.headers.get('grpc-status') or r.read().decode('latin-1'))\n";
            let r = std::process::Command::new(py)
                .args(["-c", grpc_web, &format!("https://{}", b.addr())])
                .output()
                .unwrap();
            let answer = String::from_utf8_lossy(&r.stdout);
            assert!(
                r.status.success(),
                "gRPC-Web call failed: {}",
                String::from_utf8_lossy(&r.stderr)
            );
            assert!(
                answer.contains("application/grpc-web"),
                "not a gRPC-Web answer: {answer}"
            );
            assert!(
                answer.contains("16"),
                "expected UNAUTHENTICATED (16) over gRPC-Web, got {answer}"
            );
            // Prometheus metrics, for stock tools.
            let r = std::process::Command::new(py)
                .args(["-c", fetch, &format!("https://{}/metrics", b.addr())])
                .output()
                .unwrap();
            let page = String::from_utf8_lossy(&r.stdout);
            assert!(
                page.contains("# TYPE yui_entries_accepted counter")
                    && page.contains("\nyui_entries_accepted_total ")
                    && page.trim_end().ends_with("# EOF"),
                "{page}"
            );
            // Public: counts of links, no peer names or addresses.
            assert!(page.contains("yui_links{state=\"connected\"}"), "{page}");
            assert!(!page.contains("yui_peer_up{"), "{page}");
            assert!(
                !page.contains(&a.id),
                "the public page names a peer: {page}"
            );
            let accepted: u64 = page
                .lines()
                .find_map(|l| l.strip_prefix("yui_entries_accepted_total "))
                .and_then(|v| v.trim().parse().ok())
                .expect("accepted counter");
            assert!(accepted >= 10, "B stored A's entries: {accepted}");
        }
        None if std::env::var_os("CI").is_some() => {
            panic!("CI must provide the Python validators (YUI_PYTHON)")
        }
        None => eprintln!("skipping the Python validators: run `bash .ci/run` to install them"),
    }
    a.stop();
    b.stop();
}
