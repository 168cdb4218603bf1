//! The read model over a real replica: what it finds, in which order, how it
//! pages, what it derives, and that the index survives a reopen and agrees
//! with the logs.

use std::sync::Arc;

use yui_core::content::{
    Acknowledgement, AttendanceMode, Case, Event, PolicyArea, Readiness, Retraction,
};
use yui_core::{Body, Limits, LocalizedText, SecretKey};
use yui_net::ProtoCodec;
use yui_read::query::Query;
use yui_read::{Page, ReadModel};
use yui_store::{KvStore, MemEngine};
use yui_sync::Replica;

fn text(ja: &str, en: &str) -> LocalizedText {
    LocalizedText(vec![("ja".into(), ja.into()), ("en".into(), en.into())])
}

fn replica() -> Arc<Replica> {
    replica_of(7)
}

fn replica_of(seed: u8) -> Arc<Replica> {
    let store = Arc::new(KvStore::open(MemEngine::new()).unwrap());
    Replica::open(
        store,
        SecretKey::from_seed(&[seed; 32]),
        Arc::new(ProtoCodec),
        Limits::default(),
    )
    .unwrap()
}

fn event(title: LocalizedText, start: &str) -> Body {
    Body::Event(Event {
        title,
        start: start.into(),
        time_zone: "Asia/Tokyo".into(),
        attendance: AttendanceMode::Online,
        category: "防災".into(),
        ..Default::default()
    })
}

fn case(title: LocalizedText, area: PolicyArea) -> Body {
    Body::Case(Case {
        title,
        policy_area: area,
        tags: vec!["介護".into()],
        ..Default::default()
    })
}

async fn publish(r: &Arc<Replica>, id: &str, body: Body) -> yui_sync::StoredEntry {
    r.publish(id.into(), body, None).await.unwrap()
}

fn ask(m: &ReadModel, q: Query) -> Page {
    m.query(&q).unwrap()
}

/// Every page of `q`, following the cursors.
fn pages(m: &ReadModel, mut q: Query) -> Vec<Page> {
    let mut out = Vec::new();
    loop {
        let p = ask(m, q.clone());
        let next = p.next.clone();
        out.push(p);
        match next {
            Some(n) => q.cursor = Some(n),
            None => return out,
        }
    }
}

fn search(m: &ReadModel, s: &str) -> Vec<String> {
    let mut v: Vec<String> = ask(
        m,
        Query {
            q: Some(s.into()),
            ..Default::default()
        },
    )
    .items
    .into_iter()
    .map(|e| e.object_id)
    .collect();
    v.sort();
    v
}

async fn sample(r: &Arc<Replica>) {
    publish(
        r,
        "case-nursing",
        case(
            text(
                "区外での特別養護老人ホーム共同整備",
                "A nursing home built together",
            ),
            PolicyArea::Welfare,
        ),
    )
    .await;
    publish(
        r,
        "drill",
        event(
            text("南伊豆町・杉並区 合同防災訓練", "Joint disaster drill"),
            "2027-02-20T09:00:00+09:00",
        ),
    )
    .await;
    publish(
        r,
        "summit",
        event(
            text("世界冬の都市市長会議", "World Winter Cities Mayors Summit"),
            "2027-02-10T10:00:00+09:00",
        ),
    )
    .await;
    publish(
        r,
        "guide",
        case(
            text("ｶﾞｲﾄﾞ養成講座", "ＡＢＣ guide training"),
            PolicyArea::Tourism,
        ),
    )
    .await;
}

#[tokio::test]
async fn search_finds_japanese_inside_words_english_words_and_width_variants() {
    let r = replica();
    sample(&r).await;
    let m = ReadModel::open(r.clone(), None, "南伊豆町").unwrap();
    assert_eq!(search(&m, "老人ホーム"), ["case-nursing"]);
    assert_eq!(search(&m, "防災"), ["drill"]);
    assert_eq!(search(&m, "winter"), ["summit"]);
    assert_eq!(search(&m, "WINTER cities"), ["summit"]);
    assert_eq!(search(&m, "ガイド"), ["guide"]);
    assert_eq!(search(&m, "ｶﾞｲﾄﾞ"), ["guide"]);
    assert_eq!(search(&m, "abc"), ["guide"]);
    assert_eq!(search(&m, "ＡＢＣ"), ["guide"]);
    // One character: a bigram it starts, or the end of a run.
    assert_eq!(search(&m, "訓"), ["drill"]);
    assert_eq!(search(&m, "練"), ["drill"]);
    // Bigrams must be adjacent: 老人 and ホーム both occur, 老ホ does not.
    assert!(search(&m, "老ホーム").is_empty());
    // Every word must match; a quoted phrase must match in order.
    assert!(search(&m, "winter drill").is_empty());
    assert_eq!(search(&m, "\"mayors summit\""), ["summit"]);
    assert!(search(&m, "\"summit mayors\"").is_empty());
    // The snippet marks what the author wrote.
    let page = ask(
        &m,
        Query {
            q: Some("老人ホーム".into()),
            ..Default::default()
        },
    );
    let s = page.items[0].snippet.as_ref().expect("snippet");
    let marked: Vec<&str> = s.marks.iter().map(|(a, b)| &s.text[*a..*b]).collect();
    assert_eq!(marked, ["老人ホーム"]);
}

#[tokio::test]
async fn hostile_search_text_is_answered_or_refused_never_a_panic() {
    let r = replica();
    sample(&r).await;
    let m = ReadModel::open(r, None, "x").unwrap();
    for s in [
        "\"",
        "\"\"\"",
        "((",
        "AND OR NOT",
        "*",
        "field:value",
        "-",
        "\u{0}\u{7}",
        "町\"",
        ".*",
        "[",
        "\\",
        "ﾞ",
        "a\u{0301}",
    ] {
        let _ = m.query(&Query {
            q: Some(s.into()),
            ..Default::default()
        });
    }
    let long = Query {
        q: Some("防".repeat(10_000)),
        ..Default::default()
    };
    let e = m.query(&long).unwrap_err().to_string();
    assert!(e.starts_with("q:"), "{e}");
}

#[tokio::test]
async fn filters_total_facets_and_keyset_pages_cover_everything_once() {
    let r = replica();
    for i in 0..37u32 {
        publish(
            &r,
            &format!("ev-{i:02}"),
            event(
                text(&format!("交流会 第{i}回"), "Exchange"),
                &format!("2027-03-{:02}T10:00:00+09:00", 1 + i % 28),
            ),
        )
        .await;
    }
    publish(&r, "c1", case(text("事例", "case"), PolicyArea::Welfare)).await;
    let m = ReadModel::open(r.clone(), None, "x").unwrap();
    let q = Query {
        kind: Some("event".into()),
        limit: Some(10),
        facets: Some(true),
        ..Default::default()
    };
    let mut seen = Vec::new();
    let mut starts = Vec::new();
    for p in pages(&m, q) {
        assert_eq!(p.total, 37);
        let f = p.facets.as_ref().unwrap();
        assert_eq!(f["kind"]["event"], 37);
        for e in &p.items {
            seen.push(e.object_id.clone());
            if let Body::Event(ev) = &e.body {
                starts.push(ev.start.clone());
            }
        }
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!((seen.len(), unique.len()), (37, 37));
    let mut sorted = starts.clone();
    sorted.sort();
    assert_eq!(starts, sorted, "events come in calendar order");

    let march = ask(
        &m,
        Query {
            month: Some("2027-03".into()),
            kind: Some("event".into()),
            attendance: Some(AttendanceMode::Online),
            tag: Some("防災".into()),
            ..Default::default()
        },
    );
    assert_eq!(march.total, 37);
    let none = ask(
        &m,
        Query {
            month: Some("2027-04".into()),
            kind: Some("event".into()),
            ..Default::default()
        },
    );
    assert_eq!(none.total, 0);
    let welfare = ask(
        &m,
        Query {
            policy_area: Some(PolicyArea::Welfare),
            ..Default::default()
        },
    );
    assert_eq!(welfare.items.len(), 1);
    assert!(m
        .query(&Query {
            limit: Some(0),
            ..Default::default()
        })
        .is_err());
    assert!(m
        .query(&Query {
            cursor: Some("nonsense".into()),
            ..Default::default()
        })
        .is_err());
}

#[tokio::test]
async fn updates_retractions_acks_and_readiness_follow_the_logs() {
    let r = replica();
    let first = publish(
        &r,
        "drill",
        event(text("訓練", "Drill"), "2027-02-20T09:00:00+09:00"),
    )
    .await;
    let m = ReadModel::open(r.clone(), None, "x").unwrap();
    assert_eq!(search(&m, "訓練"), ["drill"]);
    publish(
        &r,
        "drill",
        event(text("避難所運営", "Shelter"), "2027-02-20T09:00:00+09:00"),
    )
    .await;
    assert!(search(&m, "訓練").is_empty(), "the old version is gone");
    let p = ask(&m, Query::default());
    assert_eq!((p.total, p.items[0].version), (1, 2));
    publish(
        &r,
        "ack-1",
        Body::Acknowledgement(Acknowledgement {
            entry_id: p.items[0].id.parse().unwrap_or(first.id),
            note: text("受領", "received"),
            kind: Default::default(),
        }),
    )
    .await;
    let p = ask(
        &m,
        Query {
            kind: Some("event".into()),
            ..Default::default()
        },
    );
    assert_eq!(p.items[0].acknowledged_by, [r.id()]);
    let now = yui_sync::now_ms();
    publish(
        &r,
        "status",
        Body::Readiness(Readiness {
            as_of: now,
            valid_until: now + 3_600_000,
            alert_level: 3,
            headline: text("警戒レベル3", "Level 3"),
            ..Default::default()
        }),
    )
    .await;
    let level = |n| {
        ask(
            &m,
            Query {
                min_alert_level: Some(n),
                ..Default::default()
            },
        )
        .total
    };
    assert_eq!((level(3), level(4)), (1, 0));
    let fresh = ask(
        &m,
        Query {
            stale: Some(false),
            kind: Some("readiness".into()),
            ..Default::default()
        },
    );
    assert_eq!(fresh.total, 1);
    publish(
        &r,
        "drill",
        Body::Retraction(Retraction {
            reason: text("中止", "cancelled"),
        }),
    )
    .await;
    assert_eq!(
        ask(
            &m,
            Query {
                kind: Some("event".into()),
                ..Default::default()
            }
        )
        .total,
        0
    );
    assert!(m.check().unwrap().agrees());
}

#[tokio::test]
async fn the_index_on_disk_survives_a_reopen_and_a_damaged_one_is_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let r = replica();
    sample(&r).await;
    {
        let m = ReadModel::open(r.clone(), Some(dir.path()), "x").unwrap();
        let c = m.catch_up(u64::MAX).unwrap();
        assert_eq!((c.entries, c.behind), (4, 0));
    }
    let m = ReadModel::open(r.clone(), Some(dir.path()), "x").unwrap();
    assert_eq!(m.index().indexed(), 4);
    assert!(!m.index().rebuilt_at_open());
    assert_eq!(
        m.catch_up(u64::MAX).unwrap().entries,
        0,
        "nothing indexed twice"
    );
    drop(m);
    std::fs::write(dir.path().join("meta.json"), b"{ damaged").unwrap();
    let m = ReadModel::open(r.clone(), Some(dir.path()), "x").unwrap();
    assert!(m.index().rebuilt_at_open());
    assert_eq!(search(&m, "老人ホーム"), ["case-nursing"]);
    assert!(m.check().unwrap().agrees());
}

/// More matches than a page is found directly: pages come from windows of
/// the order key and still cover everything once, in order; a month query
/// answered from month buckets includes an event spanning years.
#[tokio::test]
async fn windowed_pages_over_thousands_cover_everything_once_in_order() {
    let r = replica();
    for i in 0..2_600u32 {
        publish(
            &r,
            &format!("ev-{i:04}"),
            event(
                text(&format!("交流会 {i}"), "Exchange"),
                &format!(
                    "{}-{:02}-{:02}T{:02}:00:00+09:00",
                    2027 + i % 2,
                    1 + i % 12,
                    1 + i % 28,
                    i % 24
                ),
            ),
        )
        .await;
    }
    publish(
        &r,
        "expo",
        Body::Event(Event {
            title: text("長期展示", "Long exhibition"),
            start: "2026-01-01".into(),
            end: "2030-12-31".into(),
            all_day: true,
            ..Default::default()
        }),
    )
    .await;
    let m = ReadModel::open(r.clone(), None, "x").unwrap();
    let q = Query {
        kind: Some("event".into()),
        limit: Some(500),
        ..Default::default()
    };
    let mut seen = Vec::new();
    let mut starts = Vec::new();
    for p in pages(&m, q) {
        assert_eq!(p.total, 2_601);
        for e in p.items {
            if let Body::Event(ev) = &e.body {
                starts.push(yui_core::validate::parse_event_time(&ev.start, ev.all_day).unwrap());
            }
            seen.push(e.object_id);
        }
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!((seen.len(), unique.len()), (2_601, 2_601));
    assert!(starts.windows(2).all(|w| w[0] <= w[1]), "calendar order");
    let feb = ask(
        &m,
        Query {
            kind: Some("event".into()),
            month: Some("2028-02".into()),
            limit: Some(500),
            ..Default::default()
        },
    );
    assert!(feb.items.iter().any(|e| e.object_id == "expo"));
    // Every February 2028 event: i % 2 == 1 and i % 12 == 1.
    let expected = (0..2_600u32).filter(|i| i % 2 == 1 && i % 12 == 1).count() as u64;
    assert_eq!(feb.total, expected + 1);
    // The same month asked in another zone goes by ranges: same answer here
    // (no event starts near midnight UTC).
    let feb_utc = ask(
        &m,
        Query {
            kind: Some("event".into()),
            month: Some("2028-02".into()),
            tz: Some("UTC".into()),
            ..Default::default()
        },
    );
    assert_eq!(feb_utc.total, feb.total);

    // Past the events, the rest: every kind in one order, events first,
    // then the newest first, across the boundary of the order key.
    for i in 0..2_050u32 {
        publish(
            &r,
            &format!("case-{i:04}"),
            case(text(&format!("事例 {i}"), "case"), PolicyArea::Culture),
        )
        .await;
    }
    for kind in [None, Some("case")] {
        let q = Query {
            kind: kind.map(str::to_owned),
            limit: Some(500),
            ..Default::default()
        };
        let mut kinds = Vec::new();
        let mut cases = Vec::new();
        for e in pages(&m, q).into_iter().flat_map(|p| p.items) {
            kinds.push(e.kind.clone());
            if e.kind == "case" {
                cases.push((e.created_at, e.object_id));
            }
        }
        let expected = if kind.is_none() { 2_601 + 2_050 } else { 2_050 };
        assert_eq!(kinds.len(), expected, "{kind:?}");
        if kind.is_none() {
            assert!(kinds[..2_601].iter().all(|k| k == "event"));
        }
        assert_eq!(cases.len(), 2_050);
        assert!(cases.windows(2).all(|w| w[0].0 >= w[1].0), "newest first");
        let mut ids: Vec<_> = cases.iter().map(|c| c.1.clone()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 2_050);
    }
}

/// Far behind (a first build after an upgrade), a query answers at once
/// from what is indexed and says how far behind; a little behind, it
/// indexes first, so what the store acknowledged is what a reader sees.
#[tokio::test]
async fn a_reader_never_waits_for_a_rebuild_and_never_misses_a_recent_entry() {
    let r = replica();
    for i in 0..10_050u32 {
        publish(
            &r,
            &format!("ev-{i}"),
            event(text("交流会", "Meeting"), "2027-05-01T10:00:00+09:00"),
        )
        .await;
    }
    let m = ReadModel::open(r.clone(), None, "x").unwrap();
    let first = ask(&m, Query::default());
    assert_eq!((first.total, first.behind), (0, 10_050));
    let step = m.catch_up(10_000).unwrap();
    assert_eq!((step.entries, step.behind), (10_000, 50));
    let near = ask(&m, Query::default());
    assert_eq!(
        (near.total, near.behind),
        (10_050, 0),
        "a small lag is indexed first"
    );
    publish(
        &r,
        "new",
        event(text("防災訓練", "Drill"), "2027-05-02T10:00:00+09:00"),
    )
    .await;
    assert_eq!(search(&m, "防災訓練"), ["new"]);
}

#[tokio::test]
async fn a_month_is_counted_per_day_with_each_days_first_events_in_one_pass() {
    let r = replica();
    // Three events on the 10th, one on the 11th, one on the 12th (Japan
    // time), published out of order.
    for (id, start) in [
        ("d", "2027-02-11T09:00:00+09:00"),
        ("a", "2027-02-10T08:00:00+09:00"),
        ("e", "2027-02-12T23:30:00+09:00"),
        ("c", "2027-02-10T21:00:00+09:00"),
        ("b", "2027-02-10T12:00:00+09:00"),
    ] {
        publish(&r, id, event(text(id, id), start)).await;
    }
    let m = ReadModel::open(r, None, "x").unwrap();
    let month = Query {
        kind: Some("event".into()),
        month: Some("2027-02".into()),
        ..Default::default()
    };
    let day = |d: u32| {
        chrono::DateTime::parse_from_rfc3339(&format!("2027-02-{d:02}T00:00:00+09:00"))
            .unwrap()
            .timestamp_millis()
    };
    let edges: Vec<i64> = (10..=13).map(day).collect();
    let got: Vec<(u64, Vec<String>)> = m
        .first_per_window(&month, &edges, 2)
        .unwrap()
        .into_iter()
        .map(|(n, v)| (n, v.into_iter().map(|e| e.object_id).collect()))
        .collect();
    assert_eq!(
        got,
        vec![
            (3, vec!["a".to_owned(), "b".to_owned()]),
            (1, vec!["d".to_owned()]),
            (1, vec!["e".to_owned()]),
        ]
    );
}

/// The desk's way to ask about partners: it waits for the follower to
/// index what the store holds ([`ReadModel::wait_indexed`]) and then asks
/// the index as it stands, so a partnership that arrived with the update it
/// qualifies counts, and nothing but the follower indexes.
#[tokio::test]
async fn waiting_for_the_follower_sees_a_partnership_that_arrived_just_now() {
    use std::time::Duration;
    use yui_core::content::{Partnership, PartnershipKind};
    use yui_read::aid::{Directory, Who};

    let a = replica_of(7);
    let b = replica_of(8);
    a.trust_add(b.id(), "b").unwrap();
    let stated = |partner| {
        Body::Partnership(Partnership {
            kind: PartnershipKind::MutualAid,
            partner,
            partner_code: String::new(),
            since: "2026-04-01".into(),
            description: text("災害時相互応援協定", "Mutual aid agreement"),
        })
    };
    publish(&a, "aid-b", stated(b.id())).await;
    let m = Arc::new(ReadModel::open(a.clone(), None, "a").unwrap());
    m.catch_up(10_000).unwrap();
    let theirs = publish(&b, "aid-a", stated(a.id())).await;
    let report = a.ingest(vec![theirs.signed]).await.unwrap();
    assert_eq!(report.accepted, 1);
    let (me, them) = (a.id(), b.id());
    assert!(
        !m.partners_as_indexed(&me, &them, "mutual_aid").unwrap(),
        "as the index stands, only one side has stated it"
    );
    assert!(
        !m.wait_indexed(Duration::from_millis(300)).await,
        "with no follower nothing indexes it"
    );
    assert!(!Directory::as_indexed(&m).unwrap().mutual_aid(&me, &them));

    let cancel = tokio_util::sync::CancellationToken::new();
    let follower = tokio::spawn(m.clone().follow(cancel.clone()));
    assert!(
        m.wait_indexed(Duration::from_secs(60)).await,
        "the follower indexes what arrived"
    );
    assert!(m.partners_as_indexed(&me, &them, "mutual_aid").unwrap());
    assert!(!m.partners_as_indexed(&me, &them, "sister_city").unwrap());
    let who = Directory::as_indexed(&m).unwrap();
    assert!(who.mutual_aid(&me, &them) && who.mutual_aid(&them, &me));
    cancel.cancel();
    follower.await.unwrap();
}
