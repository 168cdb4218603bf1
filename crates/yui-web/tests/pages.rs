//! The pages over a real replica and read model, through the router: that
//! lists are bounded and paged, the order of the board, the month grid's
//! limit per day, languages, headers, escaping, and errors that say what
//! was wrong.

use std::sync::Arc;

use axum::body::Body as HttpBody;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;
use yui_core::content::{Event, Readiness};
use yui_core::{Body, Limits, LocalizedText, SecretKey};
use yui_net::ProtoCodec;
use yui_read::ReadModel;
use yui_store::{KvStore, MemEngine};
use yui_sync::{now_ms, Replica};

struct Nobody;

impl yui_web::Operator for Nobody {
    fn authorized(&self, token: &str) -> bool {
        token == "right"
    }
    fn report(&self) -> yui_web::OperatorReport {
        yui_web::OperatorReport {
            facts: vec![("node".into(), "the node".into())],
            ..Default::default()
        }
    }
}

async fn site() -> (axum::Router, Arc<Replica>) {
    let store = Arc::new(KvStore::open(MemEngine::new()).unwrap());
    let replica = Replica::open(
        store,
        SecretKey::from_seed(&[9; 32]),
        Arc::new(ProtoCodec),
        Limits::default(),
    )
    .unwrap();
    let now = now_ms();
    // 30 readiness objects: levels 0-5, the ones divisible by 7 stale.
    for i in 0..30u32 {
        let stale = i % 7 == 0;
        replica
            .publish(
                format!("readiness-{i:02}"),
                Body::Readiness(Readiness {
                    as_of: now - i64::from(i) * 60_000 - if stale { 7_200_000 } else { 0 },
                    valid_until: if stale { now - 1 } else { now + 3_600_000 },
                    alert_level: i % 6,
                    headline: LocalizedText::one("ja", &format!("状況{i:02}")),
                    ..Default::default()
                }),
                None,
            )
            .await
            .unwrap();
    }
    // Ten events on one day, one with markup in its title; one in a known
    // category, one in a category its author named freely.
    for i in 0..10 {
        let title = if i == 0 {
            "<script>alert(1)</script>".to_owned()
        } else {
            format!("交流会{i}")
        };
        replica
            .publish(
                format!("event-{i}"),
                Body::Event(Event {
                    title: LocalizedText::one("ja", &title),
                    start: format!("2027-02-10T{:02}:00:00+09:00", 8 + i),
                    time_zone: "Asia/Tokyo".into(),
                    category: match i {
                        1 => "disaster-drill".into(),
                        2 => "地域の祭り".into(),
                        _ => String::new(),
                    },
                    ..Default::default()
                }),
                None,
            )
            .await
            .unwrap();
    }
    let read = Arc::new(ReadModel::open(replica.clone(), None, "テスト区").unwrap());
    let site = yui_web::Site::new(
        read,
        yui_web::SiteOptions {
            name: "テスト区".into(),
            public_url: "https://yui.test.example.jp".into(),
        },
        Arc::new(Nobody),
    );
    (yui_web::router(site), replica)
}

async fn get(
    app: &axum::Router,
    path: &str,
    accept_language: &str,
) -> (StatusCode, axum::http::HeaderMap, String) {
    let req = Request::builder()
        .uri(path)
        .header("accept-language", accept_language)
        .body(HttpBody::empty())
        .unwrap();
    let r = app.clone().oneshot(req).await.unwrap();
    let status = r.status();
    let headers = r.headers().clone();
    let body = r.into_body().collect().await.unwrap().to_bytes();
    // Quotes in text come escaped; the checks read them plain.
    let text = String::from_utf8(body.to_vec())
        .unwrap()
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&#38;", "&");
    (status, headers, text)
}

#[tokio::test]
async fn the_board_pages_most_urgent_first() {
    let (app, _) = site().await;
    let (s, _, one) = get(&app, "/board", "ja").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(one.matches("<article class=\"readiness").count(), 24);
    assert!(
        one.contains("href=\"/board?page=2\""),
        "a link to the next page"
    );
    // Fresh level 5 first (i = 5, 11, 17, 23, 29: the newest published is
    // 29), stale last.
    let first = one.find("<article").unwrap();
    assert!(one[first..].starts_with("<article class=\"readiness alert-5\""));
    assert!(one[first..first + 2000].contains("状況29"));
    let (_, _, two) = get(&app, "/board?page=2", "ja").await;
    assert_eq!(two.matches("<article class=\"readiness").count(), 6);
    assert_eq!(
        two.matches(" stale\" aria-labelledby").count(),
        5,
        "the five stale ones end the board"
    );
    let (s, _, three) = get(&app, "/board?page=3", "en").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        three.contains("There is no page \"3\" (1 to 2)."),
        "{three}"
    );
    // The summary names each level in words.
    assert!(one.contains("警戒レベル 5 緊急安全確保"));
    // Refreshing only when asked.
    assert!(!one.contains("http-equiv=\"refresh\""));
    let (_, _, on) = get(&app, "/board?refresh=on", "ja").await;
    assert!(on.contains("<meta http-equiv=\"refresh\" content=\"60\">"));
    assert!(
        on.contains("href=\"/board?refresh=on&page=2\""),
        "pages keep refreshing"
    );
}

#[tokio::test]
async fn a_crowded_day_lists_four_and_links_the_rest() {
    let (app, _) = site().await;
    let (s, _, month) = get(&app, "/calendar?view=month&month=2027-02", "ja").await;
    assert_eq!(s, StatusCode::OK);
    assert!(month.contains("ほか6件"), "{month}");
    assert!(month.contains("href=\"/calendar?day=2027-02-10\""));
    let (_, _, day) = get(&app, "/calendar?day=2027-02-10", "ja").await;
    assert_eq!(day.matches("class=\"card event").count(), 10);
    assert!(day.contains("2027年2月10日(水)のイベント"));
    let (s, _, bad) = get(&app, "/calendar?day=2027-02-30", "ja").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(bad.contains("「2027-02-30」は日付ではありません"));
}

#[tokio::test]
async fn a_known_event_category_is_named_in_the_readers_language() {
    let (app, _) = site().await;
    let (_, _, ja) = get(&app, "/calendar?day=2027-02-10", "ja").await;
    assert!(ja.contains("<span class=\"tag\">防災訓練</span>"), "{ja}");
    assert!(ja.contains("<span class=\"tag\">地域の祭り</span>"));
    assert!(!ja.contains(">disaster-drill<"));
    let (_, _, en) = get(&app, "/calendar?day=2027-02-10", "en").await;
    assert!(en.contains("<span class=\"tag\">Disaster drill</span>"));
    // The filter takes the slug or the name in the reader's language.
    for q in ["disaster-drill", "%E9%98%B2%E7%81%BD%E8%A8%93%E7%B7%B4"] {
        let (s, _, list) = get(&app, &format!("/calendar?category={q}"), "ja").await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(list.matches("class=\"card event").count(), 1, "{q}: {list}");
        assert!(list.contains("交流会1"));
    }
}

#[tokio::test]
async fn text_from_entries_is_escaped_and_nothing_runs() {
    let (app, _) = site().await;
    let (_, headers, day) = get(&app, "/calendar?day=2027-02-10", "ja").await;
    assert!(day.contains("&#60;script&#62;") || day.contains("&lt;script&gt;"));
    assert!(!day.contains("<script"));
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.starts_with("default-src 'none'"));
    assert_eq!(headers["x-content-type-options"], "nosniff");
    let (s, headers, _) = get(&app, "/no/such/page", "ja").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(headers.contains_key("content-security-policy"));
}

#[tokio::test]
async fn the_language_follows_the_query_then_the_browser() {
    let (app, _) = site().await;
    let (_, h, en) = get(&app, "/", "en-GB,en;q=0.9,ja;q=0.5").await;
    assert!(en.starts_with("<!doctype html>\n<html lang=\"en\">"));
    assert_eq!(h["content-language"], "en");
    let (_, _, ko) = get(&app, "/?lang=ko", "en").await;
    assert!(ko.contains("<html lang=\"ko\">"));
    assert!(
        ko.contains("href=\"/calendar?lang=ko\""),
        "links carry the chosen language"
    );
    let (_, _, ja) = get(&app, "/", "fr").await;
    assert!(ja.contains("<html lang=\"ja\">"));
}

#[tokio::test]
async fn bad_parameters_are_named_and_the_operator_page_needs_the_token() {
    let (app, _) = site().await;
    for (path, says) in [
        ("/calendar?colour=red", "filter \"colour\""),
        ("/calendar?view=year", "no view \"year\""),
        (
            "/calendar?attendance=sometimes",
            "no attendance \"sometimes\"",
        ),
        ("/cases?period=soon", "\"soon\" is not a year"),
        ("/m/yui1nope", "is not a node id"),
        ("/board?refresh=maybe", "neither on nor off"),
    ] {
        let (s, _, body) = get(&app, path, "en").await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{path}");
        assert!(body.contains(says), "{path}: {body}");
    }
    let post = |token: &str| {
        Request::builder()
            .method("POST")
            .uri("/operator")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(HttpBody::from(format!("token={token}")))
            .unwrap()
    };
    let r = app.clone().oneshot(post("wrong")).await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = app.clone().oneshot(post("right")).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let body = r.into_body().collect().await.unwrap().to_bytes();
    assert!(String::from_utf8_lossy(&body).contains("the node"));
}

#[tokio::test]
async fn the_json_api_answers_with_pages_and_named_errors() {
    let (app, replica) = site().await;
    let (s, _, page) = get(&app, "/api/v1/entries?kind=readiness&limit=5", "ja").await;
    assert_eq!(s, StatusCode::OK);
    let v: serde_json::Value = serde_json::from_str(&page).unwrap();
    assert_eq!(v["total"], 30);
    assert_eq!(v["items"].as_array().unwrap().len(), 5);
    assert!(v["next"].is_string());
    let (s, _, e) = get(&app, "/api/v1/entries?min_alert_level=6", "ja").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(e.contains("min_alert_level"));
    let (s, _, one) = get(
        &app,
        &format!("/api/v1/entries/{}/event-3", replica.id()),
        "ja",
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(one.contains("交流会3"));
    let (s, _, _) = get(
        &app,
        &format!("/api/v1/entries/{}/nothing", replica.id()),
        "ja",
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, _, board) = get(&app, "/api/v1/board", "ja").await;
    let b: serde_json::Value = serde_json::from_str(&board).unwrap();
    assert_eq!(b[0]["body"]["alert_level"], 5);
    assert_eq!(b[29]["stale"], true);
}
