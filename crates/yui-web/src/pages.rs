//! One module per page; here what several share: how an event, a case or a
//! call is shown in a list, who wrote it, and the error pages.

pub mod about;
pub mod board;
pub mod calendar;
pub mod calls;
pub mod cases;
pub mod entry;
pub mod home;
pub mod network;
pub mod operator;

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono_tz::Tz;
use yui_core::content::{AttendanceMode, EventStatus};
use yui_core::validate::parse_event_time;
use yui_core::{Body, NodeId};
use yui_read::EntryView;

use crate::chrome::Chrome;
use crate::directory::Directory;
use crate::format::{self, TOKYO};
use crate::i18n::{Lang, Words};
use crate::text::{segment, wire, Text};
use crate::{html, status, Req, Site, WebError};

/// An author, linked to its page.
#[derive(Debug, Clone)]
pub struct Who {
    /// Name in the reader's language.
    pub name: Text,
    /// `/m/{id}`.
    pub href: String,
}

impl Who {
    pub(crate) fn of(c: &Chrome, dir: &Directory, id: &NodeId) -> Who {
        Who {
            name: dir.name(id, c.lang),
            href: c.href(&format!("/m/{id}")),
        }
    }

    pub(crate) fn of_code(c: &Chrome, dir: &Directory, code: &str) -> Who {
        let (name, id) = dir.name_of_code(code, c.lang);
        Who {
            name,
            href: id.map(|id| c.href(&format!("/m/{id}"))).unwrap_or_default(),
        }
    }
}

/// The page of an entry: `/events/…`, `/cases/…` or `/entries/…`.
pub fn entry_href(c: &Chrome, e: &EntryView) -> String {
    let base = match e.kind.as_str() {
        "event" => "events",
        "case" => "cases",
        _ => "entries",
    };
    c.href(&format!("/{base}/{}/{}", e.author, segment(&e.object_id)))
}

/// An event in a list.
#[derive(Debug, Clone)]
pub struct EventItem {
    /// Its page.
    pub href: String,
    /// A drill (訓練).
    pub exercise: bool,
    /// Title.
    pub title: Text,
    /// When, as the reader writes it.
    pub when: String,
    /// Machine-readable start (`<time datetime>`).
    pub datetime: String,
    /// Organiser.
    pub by: Who,
    /// Attendance mode's name.
    pub attendance: String,
    /// Attendance mode's wire name (CSS).
    pub mode: String,
    /// Category.
    pub category: String,
    /// Where.
    pub location: Text,
    /// Cancelled.
    pub cancelled: bool,
    /// Start, Unix ms (the month grid).
    pub start: i64,
    /// End, Unix ms.
    pub end: i64,
}

/// The zone an event's times are shown in: its own, else Japan time.
pub fn event_zone(tz: &str) -> Tz {
    tz.parse().unwrap_or(TOKYO)
}

/// When an event happens, as the reader writes it, and its span in ms.
pub fn event_when(lang: Lang, ev: &yui_core::content::Event) -> (String, i64, i64) {
    let tz = event_zone(&ev.time_zone);
    let Ok(start) = parse_event_time(&ev.start, ev.all_day) else {
        return (ev.start.clone(), 0, 0);
    };
    let end = parse_event_time(&ev.end, ev.all_day).ok().or_else(|| {
        (ev.duration_minutes > 0).then(|| start + i64::from(ev.duration_minutes) * 60_000)
    });
    if ev.all_day {
        let s = format::ymd(lang, &ev.start);
        return match end {
            Some(e) if ev.end != ev.start => (
                format!("{s} – {}", format::ymd(lang, &ev.end)),
                start,
                e + 86_400_000,
            ),
            _ => (s, start, start + 86_400_000),
        };
    }
    let s = format::date_time(lang, start, tz);
    match end {
        Some(e) if format::day(lang, e) == format::day(lang, start) && tz == TOKYO => {
            (format!("{s} – {}", format::time(e, tz)), start, e)
        }
        Some(e) => (
            format!("{s} – {}", format::date_time(lang, e, tz)),
            start,
            e,
        ),
        None => (s, start, start),
    }
}

/// Event categories the pages name in the reader's language. `category` is
/// free text on the wire; these are the ones the publish form suggests, and any
/// other text is shown as its author wrote it.
pub const EVENT_CATEGORIES: [&str; 9] = [
    "disaster-drill",
    "forum",
    "culture",
    "welfare",
    "sports",
    "tourism",
    "education",
    "staff-exchange",
    "youth-exchange",
];

/// An event category as the reader reads it: its name for a known category,
/// else the text as written.
pub fn category_label(w: &Words, category: &str) -> String {
    if EVENT_CATEGORIES.contains(&category) {
        w.get(&format!("category-{category}"))
    } else {
        category.to_owned()
    }
}

/// (value, name) of every known event category, for a `<datalist>`.
pub fn category_suggestions(w: &Words) -> Vec<(String, String)> {
    EVENT_CATEGORIES
        .iter()
        .map(|c| ((*c).to_owned(), category_label(w, c)))
        .collect()
}

/// The message id of an attendance mode.
pub fn attendance_id(m: AttendanceMode) -> String {
    format!("attendance-{}", wire(&m))
}

/// `e` as an event in a list (`None` for another kind).
pub fn event_item(c: &Chrome, dir: &Directory, e: &EntryView) -> Option<EventItem> {
    let Body::Event(ev) = &e.body else {
        return None;
    };
    let (when, start, end) = event_when(c.lang, ev);
    Some(EventItem {
        exercise: ev.exercise,
        href: entry_href(c, e),
        title: Text::of(&ev.title, c.lang),
        when,
        datetime: ev.start.clone(),
        by: Who::of(c, dir, &e.author),
        attendance: c.t(&attendance_id(ev.attendance)),
        mode: wire(&ev.attendance),
        category: category_label(&c.words, &ev.category),
        location: Text::of(&ev.location, c.lang),
        cancelled: ev.status == EventStatus::Cancelled,
        start,
        end,
    })
}

/// A case in a list.
#[derive(Debug, Clone)]
pub struct CaseItem {
    /// Its page.
    pub href: String,
    /// A drill (訓練).
    pub exercise: bool,
    /// Title.
    pub title: Text,
    /// Summary, shortened.
    pub summary: Text,
    /// Policy area's name.
    pub area: String,
    /// Period, as the reader writes it.
    pub period: String,
    /// Author.
    pub by: Who,
    /// The passage that matched a search, before/hit/after pieces.
    pub snippet: Vec<(String, bool)>,
    /// Tags.
    pub tags: Vec<String>,
}

/// A case's period.
pub fn period(lang: Lang, start: &str, end: &str) -> String {
    match (start.is_empty(), end.is_empty()) {
        (true, true) => String::new(),
        (false, true) => format!("{} –", format::ymd(lang, start)),
        (true, false) => format!("– {}", format::ymd(lang, end)),
        (false, false) => format!("{} – {}", format::ymd(lang, start), format::ymd(lang, end)),
    }
}

/// `e` as a case in a list.
pub fn case_item(c: &Chrome, dir: &Directory, e: &EntryView) -> Option<CaseItem> {
    let Body::Case(k) = &e.body else {
        return None;
    };
    let summary = Text::of(&k.summary, c.lang);
    Some(CaseItem {
        exercise: k.exercise,
        href: entry_href(c, e),
        title: Text::of(&k.title, c.lang),
        summary: Text {
            text: crate::text::clip(&summary.text, 140),
            lang: summary.lang,
        },
        area: c.t(&format!("area-{}", wire(&k.policy_area))),
        period: period(c.lang, &k.period_start, &k.period_end),
        by: Who::of(c, dir, &e.author),
        snippet: snippet_parts(e),
        tags: k.tags.clone(),
    })
}

/// A search snippet as pieces, each marked whether it is a hit.
pub fn snippet_parts(e: &EntryView) -> Vec<(String, bool)> {
    let Some(s) = &e.snippet else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut at = 0;
    for &(a, b) in &s.marks {
        if a < at || b > s.text.len() || !s.text.is_char_boundary(a) || !s.text.is_char_boundary(b)
        {
            continue;
        }
        if a > at {
            out.push((s.text[at..a].to_owned(), false));
        }
        out.push((s.text[a..b].to_owned(), true));
        at = b;
    }
    if at < s.text.len() {
        out.push((s.text[at..].to_owned(), false));
    }
    out
}

/// A call for partners in a list.
#[derive(Debug, Clone)]
pub struct CallItem {
    /// Its page.
    pub href: String,
    /// A drill (訓練).
    pub exercise: bool,
    /// Need or offer (wire name).
    pub kind: String,
    /// Need or offer, in words.
    pub kind_name: String,
    /// Title.
    pub title: Text,
    /// Description.
    pub description: Text,
    /// Policy area.
    pub area: String,
    /// Deadline, as the reader writes it.
    pub deadline: String,
    /// Author.
    pub by: Who,
}

/// `e` as a call in a list.
pub fn call_item(c: &Chrome, dir: &Directory, e: &EntryView) -> Option<CallItem> {
    let Body::CallForPartners(k) = &e.body else {
        return None;
    };
    let kind = wire(&k.kind);
    Some(CallItem {
        exercise: k.exercise,
        href: entry_href(c, e),
        kind_name: c.t(&format!("call-{kind}")),
        kind,
        title: Text::of(&k.title, c.lang),
        description: {
            let d = Text::of(&k.description, c.lang);
            Text {
                text: crate::text::clip(&d.text, 160),
                lang: d.lang,
            }
        },
        area: c.t(&format!("area-{}", wire(&k.policy_area))),
        deadline: if k.deadline.is_empty() {
            c.t("call-open")
        } else {
            format::ymd(c.lang, &k.deadline)
        },
        by: Who::of(c, dir, &e.author),
    })
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    c: Chrome,
    heading: String,
    message: String,
}

/// The page for an error, in the reader's language. Internal errors are
/// logged; the reader sees that the node failed, not its internals.
pub fn error_page(site: &Site, req: &Req, e: &WebError) -> Response {
    let w = Words(req.lang);
    let (code, heading, message) = match e {
        WebError::Bad(m) => (StatusCode::BAD_REQUEST, w.get("error-bad"), m.clone()),
        WebError::NotFound => (
            StatusCode::NOT_FOUND,
            w.get("error-not-found"),
            w.get("error-not-found-detail"),
        ),
        WebError::Internal(m) => {
            tracing::error!(path = %req.path, error = %m, "page failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                w.get("error-internal"),
                w.get("error-internal-detail"),
            )
        }
    };
    // The frame's own queries may fail too (the store is what failed):
    // then the error page goes without the alert banner.
    let c = Chrome::new(site, req, "", heading.clone())
        .unwrap_or_else(|_| Chrome::bare(site, req, heading.clone()));
    let body = ErrorPage {
        c,
        heading,
        message,
    }
    .render()
    .unwrap_or_else(|_| "error".into());
    status(code, html(req.lang, body))
}

/// Paths that are not pages.
pub async fn not_found(State(site): State<Arc<Site>>, req: Req) -> Response {
    crate::render(site, req, |_, _| Err(WebError::NotFound)).await
}

/// Numbered pages of a list held in memory (the board, the network's
/// tables, calls): which slice to show and the links around it.
#[derive(Debug, Clone, Default)]
pub struct Pager {
    /// This page, from 1.
    pub page: usize,
    /// Pages in all.
    pub pages: usize,
    /// The page before.
    pub prev: Option<String>,
    /// The page after.
    pub next: Option<String>,
}

impl Pager {
    /// Page `param` of `total` items, `per` a page; `link(n)` is page n's
    /// URL. Returns the pager and the range of items to show.
    pub fn new(
        req: &Req,
        param: &str,
        total: usize,
        per: usize,
        link: impl Fn(usize) -> String,
    ) -> Result<(Pager, std::ops::Range<usize>), WebError> {
        let pages = total.div_ceil(per).max(1);
        let page = match req.param(param) {
            None => 1,
            Some(v) => v
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=pages).contains(n))
                .ok_or_else(|| {
                    WebError::Bad(req.words().with(
                        "error-page",
                        &[("name", v.into()), ("pages", (pages as i64).into())],
                    ))
                })?,
        };
        let from = (page - 1) * per;
        Ok((
            Pager {
                page,
                pages,
                prev: (page > 1).then(|| link(page - 1)),
                next: (page < pages).then(|| link(page + 1)),
            },
            from..(from + per).min(total),
        ))
    }
}

/// Parses a node id from a path.
pub fn node_param(w: &Words, s: &str) -> Result<NodeId, WebError> {
    s.parse()
        .map_err(|_| WebError::Bad(w.named("error-node-id", s)))
}
