//! `/`: what is coming up, what is new, who is looking for partners.

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use yui_read::query::Query;

use super::{call_item, case_item, event_item, CallItem, CaseItem, EventItem};
use crate::chrome::Chrome;
use crate::{html, Req, Site};

/// Items per list on the home page.
const SHOWN: usize = 6;

#[derive(Template)]
#[template(path = "home.html")]
struct Home {
    c: Chrome,
    events: Vec<EventItem>,
    cases: Vec<CaseItem>,
    calls: Vec<CallItem>,
    members: usize,
}

/// `GET /`.
pub async fn page(State(site): State<Arc<Site>>, req: Req) -> Response {
    crate::render(site, req, |site, req| {
        req.only(&[])?;
        let c = Chrome::new(site, req, "/", req.words().get("home-title"))?;
        let dir = site.directory()?;
        let today = chrono::Utc::now()
            .with_timezone(&crate::format::TOKYO)
            .format("%Y-%m-%d")
            .to_string();
        let q = |kind: &str| Query {
            kind: Some(kind.into()),
            limit: Some(SHOWN),
            ..Default::default()
        };
        let events = site.read.query(&Query {
            from: Some(today.clone()),
            ..q("event")
        })?;
        let cases = site.read.query(&q("case"))?;
        // Open calls: a deadline from today on, or none. Newest first; a
        // handful suffice, so ask for a few more and drop the closed ones.
        let calls = site.read.query(&Query {
            limit: Some(SHOWN * 4),
            ..q("call_for_partners")
        })?;
        let open = |e: &&yui_read::EntryView| match &e.body {
            yui_core::Body::CallForPartners(k) => k.deadline.is_empty() || k.deadline >= today,
            _ => false,
        };
        let page = Home {
            events: events
                .items
                .iter()
                .filter_map(|e| event_item(&c, &dir, e))
                .collect(),
            cases: cases
                .items
                .iter()
                .filter_map(|e| case_item(&c, &dir, e))
                .collect(),
            calls: calls
                .items
                .iter()
                .filter(open)
                .take(SHOWN)
                .filter_map(|e| call_item(&c, &dir, e))
                .collect(),
            members: dir.all().filter(|m| !m.relay).count(),
            c,
        };
        Ok(html(req.lang, page.render()?))
    })
    .await
}
