//! One entry's page: `/events/{author}/{object}` (and `….ics`),
//! `/cases/{author}/{object}`, `/entries/{author}/{object}` for any kind.
//! Each shows the entry's provenance: who signed it with which key, that
//! its signature was verified, its id and sequence, every version, and a
//! link to its JSON.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use yui_core::Body;
use yui_read::EntryView;

use super::board::Card;
use super::{event_when, node_param, Who};
use crate::chrome::Chrome;
use crate::directory::Directory;
use crate::format;
use crate::text::{segment, wire, Text};
use crate::{html, status, Req, Site, WebError};

/// One version in the history.
#[derive(Debug, Clone)]
struct Version {
    n: usize,
    seq: u64,
    when: String,
    id: String,
    retraction: bool,
}

/// Where an entry comes from and how it is known to be genuine.
#[derive(Debug, Clone)]
struct Provenance {
    by: Who,
    key: String,
    id: String,
    seq: u64,
    created: String,
    version: usize,
    history: Vec<Version>,
    json: String,
    revoked: bool,
    /// When and how this node came to hold it.
    arrived: String,
    /// Replies on it, oldest first.
    replies: Vec<ReplyView>,
    /// `<author>/<object id>`.
    about: String,
    /// The object id.
    object_id: String,
    /// Signed-in staff who may reply: the form token.
    reply_csrf: Option<String>,
    /// This node's object and the member may change it: the form.
    edit: Option<String>,
    /// … and retract it.
    retract_csrf: Option<String>,
}

fn provenance(
    site: &Site,
    c: &Chrome,
    dir: &Directory,
    e: &EntryView,
    staff: Option<&crate::staff::Staff>,
) -> Result<Provenance, WebError> {
    let about = yui_core::content::ObjectRef::new(e.author, e.object_id.clone());
    let replies = site.read.first(
        &yui_read::query::Query {
            kind: Some("reply".into()),
            about: Some(about.clone()),
            ..Default::default()
        },
        200,
    )?;
    let mut replies = reply_views(c, dir, &replies);
    replies.reverse();
    let own = e.author == site.read.replica().id();
    let kind = e.body.kind();
    let may_edit = staff.is_some_and(|s| s.may(kind)) && own && e.kind != "retraction";
    let edit = match kind {
        yui_core::Kind::Event => Some("event"),
        yui_core::Kind::Case => Some("case"),
        yui_core::Kind::CallForPartners => Some("call"),
        yui_core::Kind::Readiness => Some("readiness"),
        yui_core::Kind::Profile => Some("profile"),
        yui_core::Kind::Partnership => Some("partnership"),
        _ => None,
    }
    .filter(|_| may_edit)
    .map(|k| {
        c.href(&format!(
            "/staff/publish/{k}?id={}",
            crate::text::segment(&e.object_id)
        ))
    });
    let history = site.read.history(&e.author, &e.object_id)?;
    let w = &c.words;
    let arrived = match site.read.arrival(&e.author, e.seq)? {
        None => w.get("prov-arrived-unknown"),
        Some(a) => {
            let when = format::date_time(c.lang, a.at, format::TOKYO);
            let how = match a.source {
                yui_store::ArrivalSource::Published => w.get("prov-arrived-published"),
                yui_store::ArrivalSource::Import => w.get("prov-arrived-import"),
                yui_store::ArrivalSource::Peer(p) => {
                    w.named("prov-arrived-peer", &dir.name(&p, c.lang).text)
                }
            };
            format!("{when} · {how}")
        }
    };
    Ok(Provenance {
        arrived,
        by: Who::of(c, dir, &e.author),
        key: e.author.to_string(),
        id: e.id.clone(),
        seq: e.seq,
        created: format::date_time(c.lang, e.created_at, format::TOKYO),
        version: history.len(),
        history: history
            .iter()
            .rev()
            .map(|v| Version {
                n: v.version,
                seq: v.seq,
                when: format::date_time(c.lang, v.created_at, format::TOKYO),
                id: v.id.clone(),
                retraction: v.kind == "retraction",
            })
            .collect(),
        json: format!("/api/v1/entries/{}/{}", e.author, segment(&e.object_id)),
        revoked: e.revoked,
        replies,
        about: about.to_string(),
        object_id: e.object_id.clone(),
        reply_csrf: staff
            .filter(|s| s.may(yui_core::Kind::Reply))
            .map(|s| s.csrf.clone()),
        edit,
        retract_csrf: staff.filter(|_| may_edit).map(|s| s.csrf.clone()),
    })
}

/// A reply, for the page.
#[derive(Debug, Clone)]
pub struct ReplyView {
    /// Who said it.
    pub by: Who,
    /// When.
    pub when: String,
    /// What.
    pub text: Text,
    /// Said in a drill.
    pub exercise: bool,
}

/// Replies as the page shows them, oldest first.
pub fn reply_views(c: &Chrome, dir: &Directory, replies: &[EntryView]) -> Vec<ReplyView> {
    let mut out: Vec<(i64, ReplyView)> = replies
        .iter()
        .filter_map(|e| match &e.body {
            Body::Reply(r) => Some((
                e.created_at,
                ReplyView {
                    by: Who::of(c, dir, &e.author),
                    when: format::date_time(c.lang, e.created_at, format::TOKYO),
                    text: Text::of(&r.text, c.lang),
                    exercise: r.exercise,
                },
            )),
            _ => None,
        })
        .collect();
    out.sort_by_key(|(t, _)| *t);
    out.into_iter().map(|(_, v)| v).collect()
}

#[derive(Template)]
#[template(path = "event.html")]
struct EventPage {
    c: Chrome,
    exercise: bool,
    title: Text,
    description: Text,
    when: String,
    zone: String,
    status: String,
    cancelled: bool,
    attendance: String,
    location: Text,
    online_url: String,
    category: String,
    organisers: Vec<Who>,
    partners: Vec<Who>,
    contact: Vec<(String, String)>,
    ics: String,
    p: Provenance,
}

#[derive(Template)]
#[template(path = "case.html")]
struct CasePage {
    c: Chrome,
    exercise: bool,
    title: Text,
    summary: Text,
    outcomes: Text,
    area: String,
    area_href: String,
    tags: Vec<String>,
    participants: Vec<Who>,
    period: String,
    contact: Vec<(String, String)>,
    attachments: Vec<[String; 5]>,
    p: Provenance,
}

#[derive(Template)]
#[template(path = "entry.html")]
struct AnyPage {
    c: Chrome,
    heading: String,
    readiness: Vec<Card>,
    withdrawn: Option<Text>,
    body: String,
    p: Provenance,
}

/// The contact's rows; for a sealed part not shown here, a row saying who
/// may read it (or why this node cannot).
fn contact_rows(
    c: &Chrome,
    k: &yui_core::content::Contact,
    sealed: Option<&yui_read::SealedView>,
) -> Vec<(String, String)> {
    let mut rows = plain_contact_rows(c, k);
    let sealed = sealed.filter(|s| s.holds(yui_core::audience::SealPart::Contact));
    if let Some(s) = sealed.filter(|s| s.shown) {
        // Staff see who else may read it.
        let id = format!("audience-{}", s.audience);
        let who = if c.words.has(&id) {
            c.t(&id)
        } else {
            s.audience.clone()
        };
        rows.push((c.t("contact-audience-label"), who));
    }
    if let Some(s) = sealed.filter(|s| !s.shown) {
        let why = match &s.closed {
            None => c.t("contact-restricted"),
            Some(closed) => c.t(&format!("contact-closed-{}", wire(closed))),
        };
        rows.push((c.t("contact-restricted-label"), why));
    }
    rows
}

fn plain_contact_rows(c: &Chrome, k: &yui_core::content::Contact) -> Vec<(String, String)> {
    [
        ("contact-name", Text::of(&k.name, c.lang).text),
        ("contact-department", Text::of(&k.department, c.lang).text),
        ("contact-email", k.email.clone()),
        ("contact-phone", k.phone.clone()),
        ("contact-url", k.url.clone()),
    ]
    .into_iter()
    .filter(|(_, v)| !v.is_empty())
    .map(|(l, v)| (c.t(l), v))
    .collect()
}

/// The object asked for, or the page's error. Signed-in staff see what is
/// sealed for this node opened; everyone else the public part.
fn load(
    site: &Site,
    req: &Req,
    author: &str,
    object: &str,
    staff: Option<&crate::staff::Staff>,
) -> Result<EntryView, WebError> {
    let w = req.words();
    let author = node_param(&w, author)?;
    if object.is_empty() || object.len() > 256 {
        return Err(WebError::NotFound);
    }
    let mut e = site
        .read
        .object(&author, object)?
        .ok_or(WebError::NotFound)?;
    if staff.is_some() {
        site.read.reveal(std::slice::from_mut(&mut e))?;
    }
    Ok(e)
}

/// The object asked for, or the page saying it was withdrawn.
fn current(
    site: &Site,
    req: &Req,
    author: &str,
    object: &str,
    staff: Option<&crate::staff::Staff>,
) -> Result<Result<EntryView, Response>, WebError> {
    let e = load(site, req, author, object, staff)?;
    if e.kind == "retraction" {
        return Ok(Err(withdrawn(site, req, &e)?));
    }
    Ok(Ok(e))
}

/// A withdrawn object: its page says so, with the reason (410 Gone).
fn withdrawn(site: &Site, req: &Req, e: &EntryView) -> Result<Response, WebError> {
    let Body::Retraction(r) = &e.body else {
        return Err(WebError::Internal("not a retraction".into()));
    };
    let c = Chrome::new(site, req, "", req.words().get("entry-withdrawn"))?;
    let dir = site.directory()?;
    let page = AnyPage {
        heading: req.words().get("entry-withdrawn"),
        readiness: Vec::new(),
        withdrawn: Some(Text::of(&r.reason, req.lang)),
        body: String::new(),
        p: provenance(site, &c, &dir, e, None)?,
        c,
    };
    Ok(status(StatusCode::GONE, html(req.lang, page.render()?)))
}

/// `GET /events/{author}/{object}`; `…/{object}.ics` is the event alone as
/// iCalendar.
pub async fn event(
    State(site): State<Arc<Site>>,
    Path((author, object)): Path<(String, String)>,
    req: Req,
    cx: crate::staff::Ctx,
) -> Response {
    let staff = site.staff(&cx.headers);
    crate::render(site, req, move |site, req| {
        let staff = staff.as_ref();
        req.only(&[])?;
        let found = load(site, req, &author, &object, staff);
        let (e, ics) = match (found, object.strip_suffix(".ics")) {
            (Ok(e), _) => (e, false),
            // The calendar file is for any calendar program: never the
            // restricted part.
            (Err(WebError::NotFound), Some(stem)) => (load(site, req, &author, stem, None)?, true),
            (Err(err), _) => return Err(err),
        };
        if e.kind == "retraction" {
            return withdrawn(site, req, &e);
        }
        let Body::Event(ev) = &e.body else {
            return Err(WebError::NotFound);
        };
        if ics {
            let base = super::calendar::base_url(site, req);
            return Ok(super::calendar::calendar_response(
                site,
                req,
                &base,
                std::slice::from_ref(&e),
            ));
        }
        let title = Text::of(&ev.title, req.lang);
        let c = Chrome::new(site, req, "/calendar", title.text.clone())?.signed_in(staff);
        let dir = site.directory()?;
        let (when, _, _) = event_when(req.lang, ev);
        let mut organisers = vec![Who::of(&c, &dir, &e.author)];
        for code in &ev.organisers {
            let w = Who::of_code(&c, &dir, code);
            if !organisers.iter().any(|o| o.name == w.name) {
                organisers.push(w);
            }
        }
        let page = EventPage {
            exercise: ev.exercise,
            description: Text::of(&ev.description, req.lang),
            when,
            zone: if ev.time_zone.is_empty() {
                "Asia/Tokyo".into()
            } else {
                ev.time_zone.clone()
            },
            status: c.t(&format!("status-event-{}", wire(&ev.status))),
            cancelled: ev.status == yui_core::content::EventStatus::Cancelled,
            attendance: c.t(&super::attendance_id(ev.attendance)),
            location: Text::of(&ev.location, req.lang),
            online_url: if ev.online_url.starts_with("https://")
                || ev.online_url.starts_with("http://")
            {
                ev.online_url.clone()
            } else {
                String::new()
            },
            category: super::category_label(&c.words, &ev.category),
            organisers,
            partners: ev
                .partners
                .iter()
                .map(|p| Who::of_code(&c, &dir, p))
                .collect(),
            contact: contact_rows(&c, &ev.contact, e.sealed.as_ref()),
            ics: format!("/events/{}/{}.ics", e.author, segment(&e.object_id)),
            p: provenance(site, &c, &dir, &e, staff)?,
            title,
            c,
        };
        Ok(html(req.lang, page.render()?))
    })
    .await
}

/// `GET /cases/{author}/{object}`.
pub async fn case(
    State(site): State<Arc<Site>>,
    Path((author, object)): Path<(String, String)>,
    req: Req,
    cx: crate::staff::Ctx,
) -> Response {
    let staff = site.staff(&cx.headers);
    crate::render(site, req, move |site, req| {
        let staff = staff.as_ref();
        req.only(&[])?;
        let e = match current(site, req, &author, &object, staff)? {
            Ok(e) => e,
            Err(gone) => return Ok(gone),
        };
        let Body::Case(k) = &e.body else {
            return Err(WebError::NotFound);
        };
        let title = Text::of(&k.title, req.lang);
        let c = Chrome::new(site, req, "/cases", title.text.clone())?.signed_in(staff);
        let dir = site.directory()?;
        let area = wire(&k.policy_area);
        let page = CasePage {
            exercise: k.exercise,
            summary: Text::of(&k.summary, req.lang),
            outcomes: Text::of(&k.outcomes, req.lang),
            area: c.t(&format!("area-{area}")),
            area_href: c.href(&format!("/cases?area={area}")),
            tags: k.tags.clone(),
            participants: k
                .participants
                .iter()
                .map(|p| Who::of_code(&c, &dir, p))
                .collect(),
            period: super::period(req.lang, &k.period_start, &k.period_end),
            contact: contact_rows(&c, &k.contact, e.sealed.as_ref()),
            attachments: k
                .attachments
                .iter()
                .map(|a| {
                    [
                        a.name.clone(),
                        a.media_type.clone(),
                        size(a.size),
                        a.sha256.clone(),
                        if a.url.starts_with("https://") {
                            a.url.clone()
                        } else {
                            String::new()
                        },
                    ]
                })
                .collect(),
            p: provenance(site, &c, &dir, &e, staff)?,
            title,
            c,
        };
        Ok(html(req.lang, page.render()?))
    })
    .await
}

fn size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 => format!("{:.1} MB", b as f64 / f64::from(1 << 20)),
        b if b >= 1 << 10 => format!("{:.0} KB", b as f64 / 1024.0),
        b => format!("{b} B"),
    }
}

/// `GET /entries/{author}/{object}`: any kind.
pub async fn any(
    State(site): State<Arc<Site>>,
    Path((author, object)): Path<(String, String)>,
    req: Req,
    cx: crate::staff::Ctx,
) -> Response {
    let staff = site.staff(&cx.headers);
    crate::render(site, req, move |site, req| {
        let staff = staff.as_ref();
        req.only(&[])?;
        let e = match current(site, req, &author, &object, staff)? {
            Ok(e) => e,
            Err(gone) => return Ok(gone),
        };
        let w = req.words();
        let kind = w.get(&format!("kind-entry-{}", e.kind));
        let c = Chrome::new(site, req, "", kind.clone())?.signed_in(staff);
        let dir = site.directory()?;
        let now = yui_sync::now_ms();
        let readiness = match &e.body {
            Body::Readiness(r) => vec![super::board::card(&c, &dir, &e, r, now)],
            _ => Vec::new(),
        };
        let body = if readiness.is_empty() {
            serde_json::to_string_pretty(&e.body).unwrap_or_default()
        } else {
            String::new()
        };
        let page = AnyPage {
            heading: format!("{kind}: {}", dir.name(&e.author, req.lang)),
            readiness,
            withdrawn: None,
            body,
            p: provenance(site, &c, &dir, &e, staff)?,
            c,
        };
        Ok(html(req.lang, page.render()?))
    })
    .await
}
