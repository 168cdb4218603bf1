//! `/cases`: the case library. A search box (any language; 老人ホーム finds
//! 特別養護老人ホーム), facets by policy area, municipality and period with
//! their counts, results with the matching passage marked.

use std::collections::BTreeMap;
use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use yui_core::content::PolicyArea;
use yui_read::query::Query;

use super::{case_item, node_param, CaseItem};
use crate::chrome::Chrome;
use crate::text::{query_string, Text};
use crate::{html, Req, Site, WebError};

/// Results per page.
const PAGE: usize = 20;
/// Municipalities the facet lists (the most cases first, the chosen one
/// always).
const FACET_SHOWN: usize = 15;
/// Policy areas, in the order the facet lists them.
pub const AREAS: [PolicyArea; 7] = [
    PolicyArea::DisasterPrevention,
    PolicyArea::Welfare,
    PolicyArea::Tourism,
    PolicyArea::Education,
    PolicyArea::Economy,
    PolicyArea::Culture,
    PolicyArea::Other,
];

/// One value of a facet: its link toggles it.
#[derive(Debug, Clone)]
struct FacetValue {
    label: Text,
    count: u64,
    href: String,
    selected: bool,
}

#[derive(Template)]
#[template(path = "cases.html")]
struct Cases {
    c: Chrome,
    q: String,
    results: Vec<CaseItem>,
    total: u64,
    more: Option<String>,
    areas: Vec<FacetValue>,
    members: Vec<FacetValue>,
    members_more: usize,
    periods: Vec<FacetValue>,
    filtered: bool,
    clear: String,
}

/// The area for its wire name.
pub fn parse_area(w: &crate::i18n::Words, s: &str) -> Result<PolicyArea, WebError> {
    AREAS
        .iter()
        .copied()
        .find(|a| crate::text::wire(a) == s)
        .ok_or_else(|| WebError::Bad(w.named("error-area", s)))
}

/// `GET /cases`.
pub async fn page(State(site): State<Arc<Site>>, req: Req, cx: crate::staff::Ctx) -> Response {
    // Signed-in staff also find cases by contacts sealed for this node.
    let staff = site.staff(&cx.headers).is_some();
    crate::render(site, req, move |site, req| {
        req.only(&["q", "area", "m", "period", "cursor"])?;
        let w = req.words();
        let text = req.param("q").unwrap_or("").trim().to_owned();
        let area = req.param("area").unwrap_or("").to_owned();
        let m = req.param("m").unwrap_or("").to_owned();
        let period = req.param("period").unwrap_or("").to_owned();
        let mut q = Query {
            kind: Some("case".into()),
            limit: Some(PAGE),
            facets: Some(true),
            cursor: req.param("cursor").map(str::to_owned),
            restricted: staff,
            ..Default::default()
        };
        if !text.is_empty() {
            q.q = Some(text.clone());
        }
        if !area.is_empty() {
            q.policy_area = Some(parse_area(&w, &area)?);
        }
        if !m.is_empty() {
            q.author = Some(node_param(&w, &m)?);
        }
        if !period.is_empty() {
            let year: i32 = period
                .parse()
                .ok()
                .filter(|y| (1900..=2500).contains(y))
                .ok_or_else(|| WebError::Bad(w.named("error-period", &period)))?;
            q.from = Some(format!("{year:04}-01-01"));
            q.to = Some(format!("{:04}-01-01", year + 1));
        }
        let c = Chrome::new(site, req, "/cases", w.get("cases-title"))?;
        let dir = site.directory()?;
        let page = site.read.query(&q)?;
        let current = [
            ("q", text.as_str()),
            ("area", area.as_str()),
            ("m", m.as_str()),
            ("period", period.as_str()),
        ];
        // A facet value's link: this search with that value set, or unset
        // when it is the one selected.
        let toggle = |key: &str, value: &str| {
            let pairs: Vec<(&str, &str)> = current
                .iter()
                .map(|(k, v)| {
                    if *k == key {
                        (*k, if *v == value { "" } else { value })
                    } else {
                        (*k, *v)
                    }
                })
                .collect();
            c.href(&format!("/cases{}", query_string(&pairs)))
        };
        let facets = page.facets.clone().unwrap_or_default();
        let empty = BTreeMap::new();
        let counts = |d: &str| facets.get(d).unwrap_or(&empty);
        let areas = AREAS
            .iter()
            .filter_map(|a| {
                let v = crate::text::wire(a);
                let n = counts("area").get(&v).copied().unwrap_or(0);
                (n > 0 || v == area).then(|| FacetValue {
                    label: Text::plain(c.t(&format!("area-{v}")), req.lang),
                    count: n,
                    href: toggle("area", &v),
                    selected: v == area,
                })
            })
            .collect();
        let mut members: Vec<FacetValue> = counts("author")
            .iter()
            .filter_map(|(hex_id, n)| {
                let bytes = hex::decode(hex_id).ok()?;
                let id = yui_core::NodeId::from_bytes(&bytes).ok()?;
                let s = id.to_string();
                Some(FacetValue {
                    label: dir.name(&id, req.lang),
                    count: *n,
                    selected: s == m,
                    href: toggle("m", &s),
                })
            })
            .collect();
        members.sort_by(|a, b| {
            b.selected
                .cmp(&a.selected)
                .then(b.count.cmp(&a.count))
                .then(a.label.text.cmp(&b.label.text))
        });
        let members_more = members.len().saturating_sub(FACET_SHOWN);
        members.truncate(FACET_SHOWN);
        let years = counts("period");
        let periods = years
            .iter()
            .rev()
            .map(|(y, n)| FacetValue {
                label: Text::plain(w.named("cases-year", y), req.lang),
                count: *n,
                selected: *y == period,
                href: toggle("period", y),
            })
            .collect();
        let more = page.next.as_ref().map(|n| {
            let mut pairs = current.to_vec();
            pairs.push(("cursor", n.as_str()));
            c.href(&format!("/cases{}", query_string(&pairs)))
        });
        let view = Cases {
            q: text.clone(),
            results: page
                .items
                .iter()
                .filter_map(|e| case_item(&c, &dir, e))
                .collect(),
            total: page.total,
            more,
            areas,
            members,
            members_more,
            periods,
            filtered: !(text.is_empty() && area.is_empty() && m.is_empty() && period.is_empty()),
            clear: c.href("/cases"),
            c,
        };
        Ok(html(req.lang, view.render()?))
    })
    .await
}
