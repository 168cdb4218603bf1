//! `/calls`: calls for partners, needs and offers, open ones first; beside
//! each need, the offers that match it (same policy area, shared words).

use std::collections::HashSet;
use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use yui_core::content::{CallForPartners, CallKind};
use yui_core::Body;
use yui_read::query::Query;

use super::{call_item, CallItem};
use crate::chrome::Chrome;
use crate::text::{query_string, Text};
use crate::{html, Req, Site};

/// Calls read at most (newest first).
pub const CAP: usize = 500;
/// Offers shown beside a need at most.
const MATCHES: usize = 3;
/// Needs, and offers, on one page.
const PER_PAGE: usize = 20;

/// A need and the offers that fit it.
#[derive(Debug, Clone)]
struct Need {
    call: CallItem,
    matches: Vec<(CallItem, String)>,
}

#[derive(Template)]
#[template(path = "calls.html")]
struct Calls {
    c: Chrome,
    needs: Vec<Need>,
    needs_pager: super::Pager,
    offers: Vec<CallItem>,
    offers_pager: super::Pager,
    closed: usize,
    areas: Vec<(String, Text, bool)>,
}

/// Character pairs of a call's texts, normalised (width, case), in every
/// language it has: how much two calls share, whatever script.
fn pairs(c: &CallForPartners) -> HashSet<(char, char)> {
    let mut out = HashSet::new();
    for t in [&c.title, &c.description] {
        for (_, s) in &t.0 {
            let n: Vec<char> = yui_read::query::normalize(s)
                .chars()
                .filter(|c| c.is_alphanumeric())
                .collect();
            out.extend(n.windows(2).map(|w| (w[0], w[1])));
        }
    }
    out
}

/// How well `offer` fits `need`: same policy area, and the share of the
/// smaller text's character pairs the two have in common.
fn fit(
    need: &CallForPartners,
    np: &HashSet<(char, char)>,
    offer: &CallForPartners,
    op: &HashSet<(char, char)>,
) -> Option<(f64, bool, f64)> {
    let same_area = need.policy_area == offer.policy_area;
    let small = np.len().min(op.len()).max(1) as f64;
    let shared = np.intersection(op).count() as f64 / small;
    let score = f64::from(u8::from(same_area)) + shared;
    (same_area || shared >= 0.2).then_some((score, same_area, shared))
}

/// `GET /calls`.
pub async fn page(State(site): State<Arc<Site>>, req: Req) -> Response {
    crate::render(site, req, |site, req| {
        req.only(&["area", "page", "offers"])?;
        let w = req.words();
        let area = req.param("area").unwrap_or("").to_owned();
        let mut q = Query {
            kind: Some("call_for_partners".into()),
            ..Default::default()
        };
        if !area.is_empty() {
            q.policy_area = Some(super::cases::parse_area(&w, &area)?);
        }
        let c = Chrome::new(site, req, "/calls", w.get("calls-title"))?;
        let dir = site.directory()?;
        let today = chrono::Utc::now()
            .with_timezone(&crate::format::TOKYO)
            .format("%Y-%m-%d")
            .to_string();
        let views = site.read.first(&q, CAP)?;
        let mut closed = 0;
        let mut open = Vec::new();
        for v in &views {
            if let Body::CallForPartners(k) = &v.body {
                if !k.deadline.is_empty() && k.deadline < today {
                    closed += 1;
                } else {
                    open.push((v, k, pairs(k)));
                }
            }
        }
        let offers: Vec<_> = open
            .iter()
            .filter(|(_, k, _)| k.kind == CallKind::Offer)
            .collect();
        let link = |key: &str, n: usize| {
            let mut page = req.param("page").unwrap_or("").to_owned();
            let mut op = req.param("offers").unwrap_or("").to_owned();
            let v = if n == 1 { String::new() } else { n.to_string() };
            if key == "page" {
                page = v;
            } else {
                op = v;
            }
            c.href(&format!(
                "/calls{}",
                query_string(&[("area", &area), ("page", &page), ("offers", &op)])
            ))
        };
        let all_needs: Vec<_> = open
            .iter()
            .filter(|(_, k, _)| k.kind == CallKind::Need)
            .collect();
        let (needs_pager, range) =
            super::Pager::new(req, "page", all_needs.len(), PER_PAGE, |n| link("page", n))?;
        let (offers_pager, offers_range) =
            super::Pager::new(req, "offers", offers.len(), PER_PAGE, |n| link("offers", n))?;
        let needs = all_needs[range]
            .iter()
            .filter_map(|(v, k, p)| {
                let mut m: Vec<_> = offers
                    .iter()
                    .filter(|(o, _, _)| o.author != v.author)
                    .filter_map(|(o, ok, op)| fit(k, p, ok, op).map(|f| (f, o)))
                    .collect();
                m.sort_by(|a, b| b.0 .0.total_cmp(&a.0 .0));
                m.truncate(MATCHES);
                Some(Need {
                    call: call_item(&c, &dir, v)?,
                    matches: m
                        .into_iter()
                        .filter_map(|((_, same_area, shared), o)| {
                            let mut why = Vec::new();
                            if same_area {
                                why.push(c.t("calls-why-area"));
                            }
                            if shared >= 0.2 {
                                why.push(c.t("calls-why-words"));
                            }
                            Some((call_item(&c, &dir, o)?, why.join(" · ")))
                        })
                        .collect(),
                })
            })
            .collect();
        let offers = offers[offers_range]
            .iter()
            .filter_map(|(v, _, _)| call_item(&c, &dir, v))
            .collect();
        let mut areas = vec![(
            c.href("/calls"),
            Text::plain(w.get("filter-any"), req.lang),
            area.is_empty(),
        )];
        for a in super::cases::AREAS {
            let v = crate::text::wire(&a);
            areas.push((
                c.href(&format!("/calls{}", query_string(&[("area", &v)]))),
                Text::plain(w.get(&format!("area-{v}")), req.lang),
                v == area,
            ));
        }
        let page = Calls {
            needs,
            needs_pager,
            offers,
            offers_pager,
            closed,
            areas,
            c,
        };
        Ok(html(req.lang, page.render()?))
    })
    .await
}
