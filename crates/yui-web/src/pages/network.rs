//! `/network`: municipalities, relays and the ties between them (a graph
//! drawn on the server, and the same as a table); `/m/{node id}`: one
//! municipality with everything current of it.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use yui_core::{Body, NodeId};
use yui_read::query::Query;

use super::board::Card;
use super::{call_item, case_item, event_item, CallItem, CaseItem, EventItem, Who};
use crate::chrome::{profile_kind_id, Chrome};
use crate::directory::Directory;
use crate::graph;
use crate::text::{wire, Text};
use crate::{html, Req, Site, WebError};

/// Partnerships read at most.
pub const CAP: usize = 5_000;

/// A tie between two members.
#[derive(Debug, Clone)]
pub struct Tie {
    /// One side.
    pub a: NodeId,
    /// The other side.
    pub b: NodeId,
    /// Kind (wire name).
    pub kind: String,
    /// Both sides stated it.
    pub active: bool,
    /// Since (as written).
    pub since: String,
    /// Description.
    pub description: yui_core::LocalizedText,
}

/// The ties of `author`, or every tie (from the site's cache).
pub fn ties(site: &Site, author: Option<NodeId>) -> Result<Vec<Tie>, WebError> {
    let all = site.ties()?;
    Ok(all
        .iter()
        .filter(|t| author.is_none_or(|x| x == t.a || x == t.b))
        .cloned()
        .collect())
}

/// Every tie, once per pair and kind: active when both sides stated it.
pub fn all_ties(site: &Site) -> Result<Vec<Tie>, WebError> {
    let views = site.read.first(
        &Query {
            kind: Some("partnership".into()),
            ..Default::default()
        },
        CAP,
    )?;
    let mut by: BTreeMap<(NodeId, NodeId, String), Tie> = BTreeMap::new();
    for v in views {
        let Body::Partnership(p) = &v.body else {
            continue;
        };
        let (a, b) = if v.author <= p.partner {
            (v.author, p.partner)
        } else {
            (p.partner, v.author)
        };
        let kind = wire(&p.kind);
        let t = by.entry((a, b, kind.clone())).or_insert_with(|| Tie {
            a,
            b,
            kind,
            active: false,
            since: p.since.clone(),
            description: p.description.clone(),
        });
        t.active |= v.partnership.as_deref() == Some("active");
    }
    Ok(by.into_values().collect())
}

/// A tie as a table row.
#[derive(Debug, Clone)]
struct TieRow {
    a: Who,
    b: Who,
    kind: String,
    kind_class: String,
    active: bool,
    since: String,
    description: Text,
}

fn tie_rows(c: &Chrome, dir: &Directory, ties: &[Tie]) -> Vec<TieRow> {
    ties.iter()
        .map(|t| TieRow {
            a: Who::of(c, dir, &t.a),
            b: Who::of(c, dir, &t.b),
            kind: c.t(&format!("tie-{}", t.kind)),
            kind_class: t.kind.clone(),
            active: t.active,
            since: crate::format::ymd(c.lang, &t.since),
            description: Text::of(&t.description, c.lang),
        })
        .collect()
}

/// A member in the directory table.
#[derive(Debug, Clone)]
struct MemberRow {
    who: Who,
    kind: String,
    code: String,
    endorsed_by: Vec<Who>,
}

/// Rows of a table on one page.
const ROWS: usize = 50;

#[derive(Template)]
#[template(path = "network.html")]
struct Network {
    c: Chrome,
    members: Vec<MemberRow>,
    members_total: usize,
    members_pager: super::Pager,
    relays: Vec<MemberRow>,
    ties: Vec<TieRow>,
    ties_total: usize,
    ties_pager: super::Pager,
    svg: String,
    legend: Vec<(String, &'static str, &'static str)>,
    drawn: usize,
}

/// `GET /network`.
pub async fn page(State(site): State<Arc<Site>>, req: Req) -> Response {
    crate::render(site, req, |site, req| {
        req.only(&["page", "ties"])?;
        let w = req.words();
        let c = Chrome::new(site, req, "/network", w.get("network-title"))?;
        let link = |key: &str, n: usize| {
            let (mut page, mut tp) = (
                req.param("page").unwrap_or("").to_owned(),
                req.param("ties").unwrap_or("").to_owned(),
            );
            let v = if n == 1 { String::new() } else { n.to_string() };
            if key == "page" {
                page = v;
            } else {
                tp = v;
            }
            c.href(&format!(
                "/network{}",
                crate::text::query_string(&[("page", &page), ("ties", &tp)])
            ))
        };
        let dir = site.directory()?;
        let ties = ties(site, None)?;
        let row = |id: NodeId| {
            let m = dir.get(&id);
            MemberRow {
                who: Who::of(&c, &dir, &id),
                kind: c.t(&profile_kind_id(m.and_then(|m| m.kind))),
                code: m.map(|m| m.code.clone()).unwrap_or_default(),
                endorsed_by: m
                    .map(|m| m.endorsed_by.iter().map(|e| Who::of(&c, &dir, e)).collect())
                    .unwrap_or_default(),
            }
        };
        // Rows are made for the page shown only.
        let mut ids: Vec<(String, NodeId)> = dir
            .all()
            .filter(|m| !m.relay)
            .filter_map(|m| m.id.map(|id| (m.code.clone(), id)))
            .collect();
        ids.sort();
        let members_total = ids.len();
        let (members_pager, range) =
            super::Pager::new(req, "page", ids.len(), ROWS, |n| link("page", n))?;
        let members: Vec<MemberRow> = ids[range].iter().map(|(_, id)| row(*id)).collect();
        let ties_total = ties.len();
        let (ties_pager, ties_range) =
            super::Pager::new(req, "ties", ties.len(), ROWS, |n| link("ties", n))?;
        let relays: Vec<MemberRow> = dir
            .all()
            .filter(|m| m.relay)
            .filter_map(|m| m.id)
            .map(row)
            .collect();
        // The graph: members with the most ties, up to MAX_NODES.
        let mut degree: HashMap<NodeId, usize> = HashMap::new();
        for t in &ties {
            *degree.entry(t.a).or_default() += 1;
            *degree.entry(t.b).or_default() += 1;
        }
        // Everyone known, those with the most ties first.
        let mut drawn: Vec<NodeId> = dir.all().filter_map(|m| m.id).collect();
        let deg = |id: &NodeId| degree.get(id).copied().unwrap_or(0);
        drawn.sort_by(|a, b| deg(b).cmp(&deg(a)).then(a.cmp(b)));
        drawn.truncate(graph::MAX_NODES);
        drawn.sort_by_key(|id| dir.get(id).map(|m| m.code.clone()).unwrap_or_default());
        let at: HashMap<NodeId, usize> = drawn.iter().enumerate().map(|(i, id)| (*id, i)).collect();
        let edges: Vec<graph::Edge> = ties
            .iter()
            .filter_map(|t| {
                Some(graph::Edge {
                    a: *at.get(&t.a)?,
                    b: *at.get(&t.b)?,
                    kind: t.kind.clone(),
                    active: t.active,
                })
            })
            .collect();
        let names: Vec<Text> = drawn.iter().map(|id| dir.name(id, req.lang)).collect();
        let svg = graph::svg(
            &w.get("network-graph"),
            &w.get("network-graph-desc"),
            &names,
            &edges,
        );
        let legend = ["sister_city", "friendship", "mutual_aid", "network"]
            .iter()
            .map(|k| {
                let (colour, dash) = graph::stroke(k);
                (w.get(&format!("tie-{k}")), colour, dash)
            })
            .collect();
        let page = Network {
            members,
            members_total,
            members_pager,
            relays,
            ties: tie_rows(&c, &dir, &ties[ties_range]),
            ties_total,
            ties_pager,
            svg,
            legend,
            drawn: drawn.len(),
            c,
        };
        Ok(html(req.lang, page.render()?))
    })
    .await
}

#[derive(Template)]
#[template(path = "member.html")]
struct Member {
    c: Chrome,
    name: Text,
    id: String,
    kind: String,
    code: String,
    country: String,
    languages: String,
    contact: Vec<(String, String)>,
    endorsed_by: Vec<Who>,
    relay: bool,
    readiness: Vec<Card>,
    events: Vec<EventItem>,
    cases: Vec<CaseItem>,
    calls: Vec<CallItem>,
    ties: Vec<TieRow>,
    own: bool,
    calendar: String,
    all_cases: String,
}

/// Items per list on a member's page.
const SHOWN: usize = 10;

/// `GET /m/{node id}`.
pub async fn member(State(site): State<Arc<Site>>, Path(node): Path<String>, req: Req) -> Response {
    crate::render(site, req, move |site, req| {
        req.only(&[])?;
        let w = req.words();
        let id = super::node_param(&w, &node)?;
        let dir = site.directory()?;
        let m = dir.get(&id).cloned();
        let name = dir.name(&id, req.lang);
        let c = Chrome::new(site, req, "/network", name.text.clone())?;
        let by = |kind: &str, limit: usize| Query {
            kind: Some(kind.into()),
            author: Some(id),
            limit: Some(limit),
            ..Default::default()
        };
        let profile = site.read.query(&by("profile", 1))?;
        let readiness = site.read.query(&by("readiness", 1))?;
        let today = chrono::Utc::now()
            .with_timezone(&crate::format::TOKYO)
            .format("%Y-%m-%d")
            .to_string();
        let events = site.read.query(&Query {
            from: Some(today),
            ..by("event", SHOWN)
        })?;
        let cases = site.read.query(&by("case", SHOWN))?;
        let calls = site.read.query(&by("call_for_partners", SHOWN))?;
        let held = !(profile.items.is_empty()
            && readiness.items.is_empty()
            && events.total == 0
            && cases.total == 0
            && calls.total == 0);
        if m.is_none() && !held {
            return Err(WebError::NotFound);
        }
        let mut contact = Vec::new();
        let mut languages = String::new();
        let mut country = m.as_ref().map(|m| m.country.clone()).unwrap_or_default();
        if let Some(Body::Profile(p)) = profile.items.first().map(|e| &e.body) {
            languages = p.languages.join(", ");
            country = p.country.clone();
            let k = &p.contact;
            for (label, v) in [
                ("contact-department", Text::of(&k.department, req.lang).text),
                ("contact-name", Text::of(&k.name, req.lang).text),
                ("contact-email", k.email.clone()),
                ("contact-phone", k.phone.clone()),
                ("contact-url", k.url.clone()),
            ] {
                if !v.is_empty() {
                    contact.push((w.get(label), v));
                }
            }
        }
        let now = yui_sync::now_ms();
        let page = Member {
            id: id.to_string(),
            kind: c.t(&profile_kind_id(m.as_ref().and_then(|m| m.kind))),
            code: m.as_ref().map(|m| m.code.clone()).unwrap_or_default(),
            country,
            languages,
            contact,
            endorsed_by: m
                .as_ref()
                .map(|m| m.endorsed_by.iter().map(|e| Who::of(&c, &dir, e)).collect())
                .unwrap_or_default(),
            relay: m.as_ref().is_some_and(|m| m.relay),
            readiness: readiness
                .items
                .iter()
                .filter_map(|e| match &e.body {
                    Body::Readiness(r) => Some(super::board::Card {
                        nested: true,
                        ..super::board::card(&c, &dir, e, r, now)
                    }),
                    _ => None,
                })
                .collect(),
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
                .filter_map(|e| call_item(&c, &dir, e))
                .collect(),
            ties: tie_rows(&c, &dir, &ties(site, Some(id))?),
            own: dir.own() == Some(id),
            calendar: c.href(&format!("/calendar?m={id}")),
            all_cases: c.href(&format!("/cases?m={id}")),
            name,
            c,
        };
        Ok(html(req.lang, page.render()?))
    })
    .await
}
