//! `/calendar`: events as a list or a month grid, filtered by municipality,
//! category, attendance and period; `/calendar.ics` subscribes to the same
//! filters.

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{Datelike, Duration, NaiveDate, TimeZone};
use yui_core::content::AttendanceMode;
use yui_read::export::ical;
use yui_read::query::Query;

use super::{event_item, EventItem};
use crate::chrome::Chrome;
use crate::format::{self, TOKYO};
use crate::text::{query_string, Text};
use crate::{html, Req, Site, WebError};

/// Events per list page.
const PAGE: usize = 50;
/// A month with at most this many events is read at once and laid out in
/// memory; a busier one is asked day by day ([`PER_DAY`] each), so a grid
/// costs the same however many events a month holds.
const MONTH_CAP: usize = 300;

/// The filters of the calendar, as given.
#[derive(Debug, Clone, Default)]
struct Filters {
    m: String,
    category: String,
    attendance: String,
    within: String,
}

/// Municipalities listed in a choice at most; past it the filter is a text
/// field taking a name or a code (a national relay knows ~1,800).
const SELECT_MAX: usize = 200;
/// Events a day of the month grid lists; more are a link to that day.
const PER_DAY: usize = 4;

/// The member a filter names: a node id, a local government code or a
/// name in any language.
pub fn member_named(
    dir: &crate::directory::Directory,
    w: &crate::i18n::Words,
    s: &str,
) -> Result<yui_core::NodeId, WebError> {
    let s = s.trim();
    if let Ok(id) = s.parse() {
        return Ok(id);
    }
    if let Some(id) = dir.by_code(s).and_then(|m| m.id) {
        return Ok(id);
    }
    dir.all()
        .find(|m| m.name.0.iter().any(|(_, n)| n == s))
        .and_then(|m| m.id)
        .ok_or_else(|| WebError::Bad(w.named("error-municipality", s)))
}

impl Filters {
    fn read(req: &Req, dir: &crate::directory::Directory) -> Result<(Filters, Query), WebError> {
        let w = req.words();
        let f = Filters {
            m: req.param("m").unwrap_or("").to_owned(),
            category: req.param("category").unwrap_or("").trim().to_owned(),
            attendance: req.param("attendance").unwrap_or("").to_owned(),
            within: req.param("within").unwrap_or("").to_owned(),
        };
        let mut q = Query {
            kind: Some("event".into()),
            ..Default::default()
        };
        if !f.m.is_empty() {
            q.author = Some(member_named(dir, &w, &f.m)?);
        }
        if !f.category.is_empty() {
            if f.category.chars().count() > 64 {
                return Err(WebError::Bad(w.get("error-category")));
            }
            // A known category may be typed by its name in the reader's
            // language ("防災訓練"); the index holds the slug.
            let slug = super::EVENT_CATEGORIES
                .iter()
                .find(|c| super::category_label(&w, c) == f.category)
                .map_or_else(|| f.category.clone(), |c| (*c).to_owned());
            q.tag = Some(slug);
        }
        if !f.attendance.is_empty() {
            q.attendance = Some(match f.attendance.as_str() {
                "offline" => AttendanceMode::Offline,
                "online" => AttendanceMode::Online,
                "mixed" => AttendanceMode::Mixed,
                _ => return Err(WebError::Bad(w.named("error-attendance", &f.attendance))),
            });
        }
        if !f.within.is_empty() {
            let span = match f.within.as_str() {
                "48h" => Duration::hours(48),
                "week" => Duration::days(7),
                "month" => Duration::days(31),
                _ => return Err(WebError::Bad(w.named("error-within", &f.within))),
            };
            let now = chrono::Utc::now();
            q.from = Some(now.to_rfc3339());
            q.to = Some((now + span).to_rfc3339());
        }
        Ok((f, q))
    }

    /// The filters as query pairs (links, the subscription).
    fn pairs(&self) -> Vec<(&str, &str)> {
        vec![
            ("m", self.m.as_str()),
            ("category", self.category.as_str()),
            ("attendance", self.attendance.as_str()),
        ]
    }
}

/// A choice in a filter.
#[derive(Debug, Clone)]
struct Choice {
    value: String,
    label: Text,
    selected: bool,
}

/// One day of the month grid.
#[derive(Debug, Clone)]
struct Day {
    /// Day of the month (0: outside the month).
    day: u32,
    /// `YYYY-MM-DD`.
    date: String,
    /// The date, said in full (screen readers).
    label: String,
    today: bool,
    events: Vec<EventItem>,
    /// Events past [`PER_DAY`], and the link to the day's list.
    more: usize,
    more_href: String,
}

#[derive(Template)]
#[template(path = "calendar.html")]
struct Calendar {
    c: Chrome,
    month_view: bool,
    heading: String,
    events: Vec<EventItem>,
    weeks: Vec<Vec<Day>>,
    weekdays: Vec<&'static str>,
    prev: String,
    next: String,
    more: Option<String>,
    total: u64,
    members: Vec<Choice>,
    /// The municipality filter is a text field (too many for a choice).
    member_text: String,
    attendances: Vec<Choice>,
    withins: Vec<Choice>,
    category: String,
    /// Known categories (value, name) the filter suggests.
    categories: Vec<(String, String)>,
    month: String,
    list_href: String,
    month_href: String,
    subscribe: String,
    subscribe_webcal: String,
}

/// `https://host` for links that leave the page.
pub fn base_url(site: &Site, req: &Req) -> String {
    if !site.options.public_url.is_empty() {
        return site.options.public_url.trim_end_matches('/').to_owned();
    }
    format!("https://{}", req.host.as_deref().unwrap_or("localhost"))
}

fn this_month() -> (i32, u32) {
    let now = chrono::Utc::now().with_timezone(&TOKYO);
    (now.year(), now.month())
}

fn parse_month(w: &crate::i18n::Words, s: &str) -> Result<(i32, u32), WebError> {
    NaiveDate::parse_from_str(&format!("{s}-01"), "%Y-%m-%d")
        .ok()
        .filter(|d| (1970..=2500).contains(&d.year()))
        .map(|d| (d.year(), d.month()))
        .ok_or_else(|| WebError::Bad(w.named("error-month", s)))
}

/// `GET /calendar`.
pub async fn page(State(site): State<Arc<Site>>, req: Req) -> Response {
    crate::render(site, req, |site, req| {
        req.only(&[
            "view",
            "month",
            "m",
            "category",
            "attendance",
            "within",
            "cursor",
            "day",
        ])?;
        let w = req.words();
        let dir = site.directory()?;
        let (f, mut q) = Filters::read(req, &dir)?;
        let day = match req.param("day") {
            Some(d) => Some(
                NaiveDate::parse_from_str(d, "%Y-%m-%d")
                    .ok()
                    .filter(|d| (1970..=2500).contains(&d.year()))
                    .ok_or_else(|| WebError::Bad(w.named("error-day", d)))?,
            ),
            None => None,
        };
        let month_view = match req.param("view") {
            None | Some("list") => false,
            Some("month") => true,
            Some(v) => return Err(WebError::Bad(w.named("error-view", v))),
        };
        let (year, month) = match req.param("month") {
            Some(m) => parse_month(&w, m)?,
            None => this_month(),
        };
        let month_s = format!("{year:04}-{month:02}");
        let c = Chrome::new(site, req, "/calendar", w.get("calendar-title"))?;

        let mut pairs = f.pairs();
        pairs.push(("within", f.within.as_str()));
        let link = |extra: &[(&str, &str)]| {
            let mut p = pairs.clone();
            p.extend_from_slice(extra);
            c.href(&format!("/calendar{}", query_string(&p)))
        };
        let (py, pm) = if month == 1 {
            (year - 1, 12)
        } else {
            (year, month - 1)
        };
        let (ny, nm) = if month == 12 {
            (year + 1, 1)
        } else {
            (year, month + 1)
        };
        let prev_s = format!("{py:04}-{pm:02}");
        let next_s = format!("{ny:04}-{nm:02}");

        let mut events = Vec::new();
        let mut weeks = Vec::new();
        let mut more = None;
        let total;
        let heading;
        if month_view {
            q.month = Some(month_s.clone());
            q.from = None;
            q.to = None;
            total = site.read.count(&q)?;
            let all: Option<Vec<EventItem>> = if total as usize <= MONTH_CAP {
                Some(
                    site.read
                        .first(&q, MONTH_CAP)?
                        .iter()
                        .filter_map(|e| super::event_item(&c, &dir, e))
                        .collect(),
                )
            } else {
                None
            };
            // A busy month: one pass over its events counts those that
            // start each day and keeps each day's first few (fast fields),
            // then loads only those. Each event is listed on the day it
            // starts.
            let first_day = NaiveDate::from_ymd_opt(year, month, 1).expect("valid month");
            let days_in_month = first_day
                .iter_days()
                .take_while(|d| d.month() == month)
                .count();
            let per_day: Vec<(u64, Vec<yui_read::EntryView>)> = if all.is_none() {
                let edges: Vec<i64> = (0..=days_in_month)
                    .map(|i| midnight(first_day + Duration::days(i as i64)))
                    .collect();
                site.read.first_per_window(&q, &edges, PER_DAY)?
            } else {
                Vec::new()
            };
            let on_day =
                |d: NaiveDate, start: i64, end: i64| -> Result<(Vec<EventItem>, usize), WebError> {
                    if let Some(all) = &all {
                        let mut items: Vec<EventItem> = all
                            .iter()
                            .filter(|e| e.start < end && (e.end > start || e.start >= start))
                            .cloned()
                            .collect();
                        let more = items.len().saturating_sub(PER_DAY);
                        items.truncate(PER_DAY);
                        return Ok((items, more));
                    }
                    let Some((n, views)) = per_day.get((d.day() - 1) as usize) else {
                        return Ok((Vec::new(), 0));
                    };
                    let items: Vec<EventItem> = views
                        .iter()
                        .filter_map(|e| super::event_item(&c, &dir, e))
                        .collect();
                    Ok((items, (*n as usize).saturating_sub(PER_DAY)))
                };
            weeks = grid(req.lang, year, month, &on_day, &|date: &str| {
                link(&[("day", date)])
            })?;
            heading = format::month(req.lang, year, month);
        } else {
            if let Some(d) = day {
                q.from = Some(d.format("%Y-%m-%d").to_string());
                q.to = Some((d + Duration::days(1)).format("%Y-%m-%d").to_string());
                let noon = d.and_hms_opt(12, 0, 0).expect("noon").and_utc();
                heading = w.named("calendar-day", &format::date(req.lang, &noon));
            } else if req.param("month").is_some() && f.within.is_empty() {
                q.month = Some(month_s.clone());
                heading = format::month(req.lang, year, month);
            } else {
                if f.within.is_empty() {
                    q.from = Some(
                        chrono::Utc::now()
                            .with_timezone(&TOKYO)
                            .format("%Y-%m-%d")
                            .to_string(),
                    );
                }
                heading = w.get(match f.within.as_str() {
                    "48h" => "within-48h",
                    "week" => "within-week",
                    "month" => "within-month",
                    _ => "calendar-upcoming",
                });
            }
            q.limit = Some(PAGE);
            q.cursor = req.param("cursor").map(str::to_owned);
            let page = site.read.query(&q)?;
            total = page.total;
            events = page
                .items
                .iter()
                .filter_map(|e| event_item(&c, &dir, e))
                .collect();
            more = page.next.map(|n| {
                let mut extra = vec![("cursor", n.as_str())];
                if q.month.is_some() {
                    extra.push(("month", month_s.as_str()));
                }
                if let Some(d) = req.param("day") {
                    extra.push(("day", d));
                }
                link(&extra)
            });
        }
        let known = dir.all().filter(|m| m.id.is_some()).count();
        let member_text = if known > SELECT_MAX {
            f.m.clone()
        } else {
            String::new()
        };
        let mut members: Vec<Choice> = dir
            .all()
            .filter(|_| known <= SELECT_MAX)
            .filter_map(|m| m.id.map(|id| (id, m)))
            .filter(|(_, m)| !m.relay || m.kind.is_some())
            .map(|(id, _)| Choice {
                value: id.to_string(),
                label: dir.name(&id, req.lang),
                selected: f.m == id.to_string(),
            })
            .collect();
        members.sort_by(|a, b| a.label.text.cmp(&b.label.text));
        let choices = |opts: &[(&str, &str)], chosen: &str| -> Vec<Choice> {
            opts.iter()
                .map(|(v, id)| Choice {
                    value: (*v).to_owned(),
                    label: Text::plain(w.get(id), req.lang),
                    selected: chosen == *v,
                })
                .collect()
        };
        let base = base_url(site, req);
        let sub_q = query_string(&f.pairs());
        let subscribe = format!("{base}/calendar.ics{sub_q}");
        let page = Calendar {
            month_view,
            heading,
            events,
            weeks,
            weekdays: (0..7).map(|i| format::weekday_name(req.lang, i)).collect(),
            prev: link(&[
                ("view", if month_view { "month" } else { "list" }),
                ("month", &prev_s),
            ]),
            next: link(&[
                ("view", if month_view { "month" } else { "list" }),
                ("month", &next_s),
            ]),
            more,
            total,
            members,
            member_text,
            attendances: choices(
                &[
                    ("", "filter-any"),
                    ("offline", "attendance-offline"),
                    ("online", "attendance-online"),
                    ("mixed", "attendance-mixed"),
                ],
                &f.attendance,
            ),
            withins: choices(
                &[
                    ("", "filter-any"),
                    ("48h", "within-48h"),
                    ("week", "within-week"),
                    ("month", "within-month"),
                ],
                &f.within,
            ),
            category: f.category.clone(),
            categories: super::category_suggestions(&w),
            month: month_s.clone(),
            list_href: link(&[("view", "list")]),
            month_href: link(&[("view", "month"), ("month", &month_s)]),
            subscribe_webcal: subscribe.replacen("https://", "webcal://", 1).replacen(
                "http://",
                "webcal://",
                1,
            ),
            subscribe,
            c,
        };
        Ok(html(req.lang, page.render()?))
    })
    .await
}

/// Midnight of `d` in Japan time, Unix ms.
fn midnight(d: NaiveDate) -> i64 {
    TOKYO
        .from_local_datetime(&d.and_hms_opt(0, 0, 0).expect("midnight"))
        .earliest()
        .map_or(0, |t| t.timestamp_millis())
}

/// The weeks (Monday first) of a month, each day with the events that
/// touch it.
/// What a day of the grid lists: up to [`PER_DAY`] events touching
/// `[start, end)` and how many more there are.
type OnDay<'a> = dyn Fn(NaiveDate, i64, i64) -> Result<(Vec<EventItem>, usize), WebError> + 'a;

fn grid(
    lang: crate::i18n::Lang,
    year: i32,
    month: u32,
    on_day: &OnDay<'_>,
    day_link: &dyn Fn(&str) -> String,
) -> Result<Vec<Vec<Day>>, WebError> {
    let first = NaiveDate::from_ymd_opt(year, month, 1).expect("valid month");
    let today = chrono::Utc::now().with_timezone(&TOKYO).date_naive();
    let lead = first.weekday().num_days_from_monday() as i64;
    let mut weeks = Vec::new();
    let mut d = first - Duration::days(lead);
    loop {
        let mut week = Vec::with_capacity(7);
        for _ in 0..7 {
            let inside = d.month() == month;
            let start = midnight(d);
            let end = start + 86_400_000;
            let (events, more) = if inside {
                on_day(d, start, end)?
            } else {
                (Vec::new(), 0)
            };
            let noon = d.and_hms_opt(12, 0, 0).expect("noon").and_utc();
            let date = d.format("%Y-%m-%d").to_string();
            week.push(Day {
                day: if inside { d.day() } else { 0 },
                more_href: if more > 0 {
                    day_link(&date)
                } else {
                    String::new()
                },
                date,
                label: format::date(lang, &noon),
                today: d == today,
                events,
                more,
            });
            d += Duration::days(1);
        }
        weeks.push(week);
        if d.month() != month || d.year() != year {
            break;
        }
    }
    Ok(weeks)
}

/// `GET /calendar.ics`: the calendar's filters as a subscription. Events
/// from a month ago on, at most [`ical::SUBSCRIPTION_EVENTS`]; each carries the URL of its
/// page here.
pub async fn ics(State(site): State<Arc<Site>>, req: Req) -> Response {
    crate::render(site, req, |site, req| {
        req.only(&["m", "category", "attendance", "within"])?;
        let dir = site.directory()?;
        let (_, mut q) = Filters::read(req, &dir)?;
        if q.from.is_none() {
            q.from = Some(ical::subscription_from(yui_sync::now_ms()));
        }
        let views = site.read.first(&q, ical::SUBSCRIPTION_EVENTS)?;
        let base = base_url(site, req);
        Ok(calendar_response(site, req, &base, &views))
    })
    .await
}

/// An iCalendar answer of `views`, each VEVENT linking back to its page.
pub fn calendar_response(
    site: &Site,
    req: &Req,
    base: &str,
    views: &[yui_read::EntryView],
) -> Response {
    let mut out = ical::begin(&format!("yui: {}", site.options.name));
    for v in views {
        let page = format!(
            "{base}/events/{}/{}",
            v.author,
            crate::text::segment(&v.object_id)
        );
        out.push_str(&ical::vevent(v, req.lang.tag(), Some(&page)));
    }
    out.push_str(&ical::end());
    (
        [
            (header::CONTENT_TYPE, "text/calendar; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        out,
    )
        .into_response()
}
