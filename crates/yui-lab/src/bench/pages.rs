//! `yui bench pages`: the pages of a node holding many entries (the same
//! realistic mix as `yui bench query`), each asked `runs` times through the
//! pages' router in this process — routing, read-model queries, rendering,
//! not TLS or the network — with its p50, p99 and weight (HTML plus the
//! stylesheet it links) against the targets: p99 < 50 ms at 1M entries,
//! ≤ 100 KB.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;
use yui_core::NodeId;

use super::query::{hold, make_mix, percentiles};
use super::sync::author_key;

struct NoOperator;

impl yui_web::Operator for NoOperator {
    fn authorized(&self, _: &str) -> bool {
        false
    }
    fn report(&self) -> yui_web::OperatorReport {
        yui_web::OperatorReport::default()
    }
}

/// Runs `yui bench pages`.
pub async fn run(n: usize, authors: usize, runs: usize) -> anyhow::Result<()> {
    println!(
        "yui bench pages: a node holding {n} entries from {authors} authors, {runs} requests of each page through its router (no TLS), Japanese"
    );
    let t = Instant::now();
    let held = tokio::task::spawn_blocking(move || {
        let chains = make_mix(n, authors);
        hold(&chains, None)
    })
    .await??;
    println!(
        "  built            {:.1} s (signed, stored, indexed: {} current objects)",
        t.elapsed().as_secs_f64(),
        held.objects
    );
    let site = yui_web::Site::new(
        held.model.clone(),
        yui_web::SiteOptions {
            name: "bench".into(),
            public_url: "https://yui.bench.example.jp".into(),
        },
        Arc::new(NoOperator),
    );
    let app = yui_web::router(site);
    let a0 = NodeId::new(author_key(0).public_key());
    let pages: Vec<(&str, String)> = vec![
        ("home", "/".into()),
        ("calendar (upcoming)", "/calendar".into()),
        (
            "calendar month grid",
            "/calendar?view=month&month=2026-06".into(),
        ),
        ("calendar next 7 days", "/calendar?within=week".into()),
        ("calendar one municipality", format!("/calendar?m={a0}")),
        ("calendar.ics subscription", format!("/calendar.ics?m={a0}")),
        ("event page", format!("/events/{a0}/event-11")),
        ("board", "/board".into()),
        ("board, page 2", "/board?page=2".into()),
        ("cases", "/cases".into()),
        (
            "cases search 老人ホーム",
            "/cases?q=%E8%80%81%E4%BA%BA%E3%83%9B%E3%83%BC%E3%83%A0".into(),
        ),
        ("cases of an area", "/cases?area=welfare".into()),
        ("case page", format!("/cases/{a0}/case-13")),
        ("calls", "/calls".into()),
        ("network", "/network".into()),
        ("municipality page", format!("/m/{a0}")),
        (
            "JSON API, entries",
            "/api/v1/entries?kind=event&limit=50".into(),
        ),
    ];
    let css = yui_web::stylesheet_bytes();
    println!(
        "  {:<28} {:>9} {:>9} {:>10}   (target: p99 < 50 ms at 1M; ≤ 100 KB with the {:.1} KB stylesheet)",
        "page",
        "p50",
        "p99",
        "weight",
        css as f64 / 1024.0
    );
    let mut worst: f64 = 0.0;
    let mut heaviest: f64 = 0.0;
    for (name, path) in pages {
        let get = |path: String| {
            let app = app.clone();
            async move {
                let req = Request::builder()
                    .uri(path)
                    .header("accept-language", "ja")
                    .header("host", "yui.bench.example.jp")
                    .body(Body::empty())?;
                let r = app.oneshot(req).await?;
                let status = r.status();
                let body = r.into_body().collect().await?.to_bytes();
                anyhow::Ok((status, body.len()))
            }
        };
        let (status, _) = get(path.clone()).await?;
        anyhow::ensure!(status == StatusCode::OK, "{name} ({path}): {status}");
        let mut times = Vec::with_capacity(runs);
        let mut bytes = 0;
        for _ in 0..runs {
            let t = Instant::now();
            let (_, len) = get(path.clone()).await?;
            times.push(t.elapsed());
            bytes = len;
        }
        let (p50, p99) = percentiles(times);
        let html = path.starts_with("/calendar.ics") || path.starts_with("/api/");
        let weight = if html { bytes } else { bytes + css } as f64 / 1024.0;
        worst = worst.max(p99);
        if !html {
            heaviest = heaviest.max(weight);
        }
        println!(
            "  {name:<28} {p50:>7.2}ms {p99:>7.2}ms {weight:>7.1} KB{}",
            if html { " (not a page)" } else { "" }
        );
    }
    println!("  worst p99 {worst:.1} ms, heaviest page {heaviest:.1} KB");
    Ok(())
}
