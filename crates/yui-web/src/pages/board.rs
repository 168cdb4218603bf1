//! `/board`: the readiness board. One card per municipality, most urgent
//! first: fresh before stale, then alert level, then the newest. On the
//! reader's request (`?refresh=on`, a link on the page) it refreshes itself
//! every minute without script (`<meta http-equiv="refresh">`); never by
//! default, as WCAG 2.2.1 asks of a page that changes by itself.

use std::collections::HashSet;
use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use yui_core::content::{OperationalStatus, Readiness};
use yui_core::Body;
use yui_read::query::Query;
use yui_read::EntryView;

use super::Who;
use crate::chrome::Chrome;
use crate::directory::Directory;
use crate::format;
use crate::text::{wire, Text};
use crate::{html, Req, Site, WebError};

/// Seconds between refreshes.
pub const REFRESH: u32 = 60;

/// One line of supplies, staff or facilities.
#[derive(Debug, Clone)]
pub struct Line {
    /// What.
    pub what: Text,
    /// How much / how many / its state.
    pub detail: String,
}

/// A request or offer (EDXL-RM) with who acknowledged it.
#[derive(Debug, Clone)]
pub struct Resource {
    /// Request, offer, ….
    pub kind: String,
    /// Wire name (CSS).
    pub class: String,
    /// What.
    pub item: Text,
    /// Quantity and unit.
    pub quantity: String,
    /// Addressed to.
    pub to: Vec<Who>,
    /// Note.
    pub note: Text,
}

/// One municipality's card.
#[derive(Debug, Clone)]
pub struct Card {
    /// Who.
    pub by: Who,
    /// The entry's page.
    pub href: String,
    /// Level.
    pub level: u32,
    /// The level's CSS class (official colour).
    pub class: &'static str,
    /// The level's name.
    pub level_name: String,
    /// A drill.
    pub exercise: bool,
    /// Past valid-until.
    pub stale: bool,
    /// Headline.
    pub headline: Text,
    /// Details.
    pub description: Text,
    /// As of, as the reader writes it.
    pub as_of: String,
    /// How long ago.
    pub age: String,
    /// Valid until, as the reader writes it.
    pub valid_until: String,
    /// Communications' state.
    pub communications: String,
    /// Wire name of it (CSS).
    pub communications_class: String,
    /// Shelter: places available of capacity (words), accepts evacuees
    /// from outside, where.
    pub shelter: Option<(String, bool, Text)>,
    /// Supplies.
    pub supplies: Vec<Line>,
    /// Staff deployable.
    pub staff: Vec<Line>,
    /// Facilities.
    pub facilities: Vec<Line>,
    /// Requests and offers.
    pub resources: Vec<Resource>,
    /// Who acknowledged this status.
    pub acknowledged: Vec<Who>,
    /// Department and phone.
    pub contact: String,
    /// Shown inside a section (a municipality's page): its heading is one
    /// level down.
    pub nested: bool,
}

fn status_id(s: OperationalStatus) -> String {
    format!("status-{}", wire(&s))
}

/// A readiness entry as a card.
pub fn card(c: &Chrome, dir: &Directory, e: &EntryView, r: &Readiness, now: i64) -> Card {
    let lang = c.lang;
    let tz = format::TOKYO;
    let line = |what: &yui_core::LocalizedText, detail: String| Line {
        what: Text::of(what, lang),
        detail,
    };
    Card {
        by: Who::of(c, dir, &e.author),
        href: super::entry_href(c, e),
        level: r.alert_level,
        class: format::alert_class(r.alert_level),
        level_name: format::alert_name(&c.words, r.alert_level),
        exercise: r.exercise,
        stale: e.stale,
        headline: Text::of(&r.headline, lang),
        description: Text::of(&r.description, lang),
        as_of: format::date_time(lang, r.as_of, tz),
        age: format::age(&c.words, now, r.as_of),
        valid_until: format::date_time(lang, r.valid_until, tz),
        communications: c.t(&status_id(r.communications)),
        communications_class: wire(&r.communications),
        shelter: r.shelter.as_ref().map(|s| {
            (
                c.words.with(
                    "board-shelter-line",
                    &[
                        ("available", i64::from(s.available).into()),
                        ("capacity", i64::from(s.capacity).into()),
                    ],
                ),
                s.accepts_outside_evacuees,
                if e.sealed
                    .as_ref()
                    .is_some_and(|s| s.hides(yui_core::audience::SealPart::ShelterLocation))
                {
                    Text {
                        text: c.t("shelter-location-restricted"),
                        lang: lang.tag().to_owned(),
                    }
                } else {
                    Text::of(&s.location, lang)
                },
            )
        }),
        supplies: r
            .supplies
            .iter()
            .map(|s| line(&s.item, format::quantity_with_unit(s.quantity, &s.unit)))
            .collect(),
        staff: r
            .staff
            .iter()
            .map(|s| {
                line(
                    &s.skill,
                    c.words.with(
                        "board-staff-line",
                        &[
                            ("count", i64::from(s.count).into()),
                            ("days", i64::from(s.days).into()),
                        ],
                    ),
                )
            })
            .collect(),
        facilities: r
            .facilities
            .iter()
            .map(|f| {
                let note = Text::of(&f.note, lang);
                let mut d = c.t(&status_id(f.status));
                if !note.is_empty() {
                    d = format!("{d} — {note}");
                }
                line(&f.name, d)
            })
            .collect(),
        resources: r
            .resources
            .iter()
            .map(|m| {
                let k = wire(&m.kind);
                Resource {
                    kind: c.t(&format!("rm-{k}")),
                    class: k,
                    item: Text::of(&m.item, lang),
                    quantity: if m.quantity > 0.0 {
                        format::quantity_with_unit(m.quantity, &m.unit)
                    } else {
                        String::new()
                    },
                    to: m.to.iter().map(|code| Who::of_code(c, dir, code)).collect(),
                    note: Text::of(&m.note, lang),
                }
            })
            .collect(),
        acknowledged: e
            .acknowledged_by
            .iter()
            .map(|id| Who::of(c, dir, id))
            .collect(),
        contact: [
            Text::of(&r.contact.department, lang).text,
            r.contact.phone.clone(),
        ]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" · "),
        nested: false,
    }
}

/// Cards on one page of the board.
pub const PER_PAGE: usize = 24;
/// Names listed as "without readiness" at most.
const WITHOUT_SHOWN: usize = 200;

/// The board: the readiness of everyone, most urgent first.
pub struct Cards {
    /// This page's cards.
    pub cards: Vec<Card>,
    /// The pages.
    pub pager: super::Pager,
    /// Fresh statuses by level (0-5).
    pub levels: [u64; 6],
    /// Stale statuses.
    pub stale: u64,
    /// Members without readiness here (the first [`WITHOUT_SHOWN`]).
    pub without: Vec<Who>,
    /// How many there are in all.
    pub without_total: usize,
}

/// The board's order as segments of the index: fresh statuses at level
/// 5, 4, … 0, then the stale ones; each segment newest first (the index's
/// own order for readiness). Counting them is cheap, and a page loads only
/// its own entries, whatever the node holds.
fn segments() -> Vec<Query> {
    let q = |alert_level: Option<u32>, stale: bool| Query {
        kind: Some("readiness".into()),
        alert_level,
        stale: Some(stale),
        ..Default::default()
    };
    (0..=5u32)
        .rev()
        .map(|l| q(Some(l), false))
        .chain(std::iter::once(q(None, true)))
        .collect()
}

/// The counts of the board's segments (levels 5…0 fresh, then stale).
pub fn counts(site: &Site) -> Result<Vec<u64>, WebError> {
    segments()
        .iter()
        .map(|q| site.read.count(q).map_err(WebError::from))
        .collect()
}

/// Entries `range` of the board's order, given the segments' `counts`.
pub fn slice(
    site: &Site,
    counts: &[u64],
    range: std::ops::Range<usize>,
) -> Result<Vec<EntryView>, WebError> {
    let mut out = Vec::with_capacity(range.len());
    let mut start = 0usize;
    for (q, &n) in segments().iter().zip(counts) {
        let seg = start..start + n as usize;
        start = seg.end;
        let from = range.start.max(seg.start);
        let to = range.end.min(seg.end);
        if from >= to {
            continue;
        }
        let page = site.read.query(&Query {
            limit: Some(to - from),
            cursor: (from > seg.start)
                .then(|| yui_read::query::Cursor::Offset(from - seg.start).encode()),
            ..q.clone()
        })?;
        out.extend(page.items);
    }
    Ok(out)
}

/// The board's cards of the page asked for (`page`), most urgent first,
/// and the members without readiness.
pub fn cards(
    site: &Site,
    c: &Chrome,
    req: &Req,
    link: impl Fn(usize) -> String,
) -> Result<Cards, WebError> {
    let dir = site.directory()?;
    let counts = counts(site)?;
    let total: u64 = counts.iter().sum();
    let (pager, range) = super::Pager::new(req, "page", total as usize, PER_PAGE, link)?;
    let now = yui_sync::now_ms();
    let cards = slice(site, &counts, range)?
        .iter()
        .filter_map(|e| match &e.body {
            Body::Readiness(r) => Some(card(c, &dir, e, r, now)),
            _ => None,
        })
        .collect();
    let mut levels = [0; 6];
    for (i, n) in counts.iter().take(6).enumerate() {
        levels[5 - i] = *n;
    }
    // Who has readiness here: the author facet of every readiness object.
    let facets = site
        .read
        .query(&Query {
            kind: Some("readiness".into()),
            limit: Some(1),
            facets: Some(true),
            ..Default::default()
        })?
        .facets
        .unwrap_or_default();
    let reported: HashSet<String> = facets
        .get("author")
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    let mut without: Vec<Who> = dir
        .all()
        .filter(|m| !m.relay)
        .filter_map(|m| m.id)
        .filter(|id| !reported.contains(&hex::encode(id.as_bytes())))
        .map(|id| Who::of(c, &dir, &id))
        .collect();
    without.sort_by(|a, b| a.name.text.cmp(&b.name.text));
    let without_total = without.len();
    without.truncate(WITHOUT_SHOWN);
    Ok(Cards {
        cards,
        pager,
        levels,
        stale: counts[6],
        without,
        without_total,
    })
}

#[derive(Template)]
#[template(path = "board.html")]
struct Board {
    c: Chrome,
    board: Cards,
    aid: Vec<crate::staff::aid::BoardThread>,
    summary: Vec<(String, &'static str, usize)>,
    updated: String,
    refreshing: bool,
    toggle: String,
}

/// `GET /board`.
pub async fn page(State(site): State<Arc<Site>>, req: Req) -> Response {
    crate::render(site, req, |site, req| {
        req.only(&["refresh", "page"])?;
        let refreshing = match req.param("refresh") {
            None | Some("off") => false,
            Some("on") => true,
            Some(v) => return Err(WebError::Bad(req.words().named("error-refresh", v))),
        };
        let mut c = Chrome::new(site, req, "/board", req.words().get("board-title"))?;
        if refreshing {
            c.refresh = Some(REFRESH);
        }
        let page_n = req.param("page").unwrap_or("1").to_owned();
        let with_page = |n: &str| {
            let refresh = if refreshing { "on" } else { "" };
            let page = if n == "1" { "" } else { n };
            c.href(&format!(
                "/board{}",
                crate::text::query_string(&[("refresh", refresh), ("page", page)])
            ))
        };
        let toggle = c.href(&format!(
            "/board{}",
            crate::text::query_string(&[
                ("refresh", if refreshing { "" } else { "on" }),
                ("page", if page_n == "1" { "" } else { &page_n }),
            ])
        ));
        let board = cards(site, &c, req, |n| with_page(&n.to_string()))?;
        let mut summary: Vec<(String, &'static str, usize)> = (0..=5u32)
            .rev()
            .filter(|l| board.levels[*l as usize] > 0)
            .map(|l| {
                (
                    format!(
                        "{} {l} {}",
                        c.t("alert-level"),
                        format::alert_name(&c.words, l)
                    ),
                    format::alert_class(l),
                    board.levels[l as usize] as usize,
                )
            })
            .collect();
        if board.stale > 0 {
            summary.push((c.t("board-stale"), "stale", board.stale as usize));
        }
        let page = Board {
            aid: crate::staff::aid::board_threads(site, &c, 10)?,
            updated: format::date_time(req.lang, yui_sync::now_ms(), format::TOKYO),
            board,
            summary,
            refreshing,
            toggle,
            c,
        };
        Ok(html(req.lang, page.render()?))
    })
    .await
}
