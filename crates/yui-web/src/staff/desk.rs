//! `/staff`: the desk of a signed-in staff member — requests addressed to
//! this municipality, its own requests and how far each has come, replies
//! to its objects — and `/staff/audit` for admins.

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use yui_core::content::AidStep;
use yui_core::{Body, Kind};
use yui_read::query::Query;

use super::aid::{lines_text, row_state};
use super::{see_other, Ctx, Staff};
use crate::chrome::Chrome;
use crate::format;
use crate::text::{segment, Text};
use crate::{html, Req, Site, WebError};

/// The signed-in member, or the answer sending the browser to sign in.
pub fn require(site: &Site, req: &Req, cx: &Ctx) -> Result<Staff, Box<Response>> {
    if site.workspace.is_none() {
        return Err(Box::new(crate::pages::error_page(
            site,
            req,
            &WebError::NotFound,
        )));
    }
    site.staff(&cx.headers).ok_or_else(|| {
        let next = crate::text::query_string(&[("next", req.path.as_str())]);
        Box::new(see_other(&format!("/staff/sign-in{next}")))
    })
}

/// A request addressed to us.
#[derive(Debug, Clone)]
pub struct InboxItem {
    href: String,
    from: Text,
    what: String,
    age: String,
    state: String,
    exercise: bool,
}

/// One of our requests.
#[derive(Debug, Clone)]
pub struct MineItem {
    href: String,
    what: String,
    age: String,
    answered: String,
    progress: String,
    cancelled: bool,
}

/// A reply to one of our objects.
#[derive(Debug, Clone)]
pub struct ReplyItem {
    href: String,
    from: Text,
    text: Text,
    age: String,
}

#[derive(Template)]
#[template(path = "staff_desk.html")]
struct DeskPage {
    c: Chrome,
    staff: Staff,
    role: String,
    inbox: Vec<InboxItem>,
    mine: Vec<MineItem>,
    replies: Vec<ReplyItem>,
    forms: Vec<(String, String)>,
}

/// `GET /staff`.
pub async fn page(State(site): State<Arc<Site>>, req: Req, cx: Ctx) -> Response {
    let staff = match require(&site, &req, &cx) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    crate::render(site, req, move |site, req| {
        req.only(&[])?;
        let w = req.words();
        let c = Chrome::new(site, req, "", w.get("staff-desk"))?.signed_in(Some(&staff));
        let dir = site.directory()?;
        let me = site.read.replica().id();
        let now = yui_sync::now_ms();
        let mut inbox = Vec::new();
        for e in site.read.aid_inbox(&me, 50)? {
            let Body::Aid(a) = &e.body else { continue };
            let root = yui_core::content::ObjectRef::new(e.author, e.object_id.clone());
            let t = site.read.aid_thread(&root)?;
            let state = t
                .row(&me)
                .map(|r| row_state(&c, r))
                .unwrap_or_else(|| w.get("aid-state-none"));
            inbox.push(InboxItem {
                href: c.href(&format!("/aid/{}/{}", e.author, segment(&e.object_id))),
                from: dir.name(&e.author, c.lang),
                what: lines_text(c.lang, &a.lines),
                age: format::age(&w, now, e.created_at),
                state,
                exercise: a.exercise,
            });
        }
        let mut mine = Vec::new();
        let own = site.read.first(
            &Query {
                kind: Some("aid".into()),
                author: Some(me),
                step: Some(AidStep::Request),
                ..Default::default()
            },
            20,
        )?;
        for e in own {
            let Body::Aid(a) = &e.body else { continue };
            let root = yui_core::content::ObjectRef::new(e.author, e.object_id.clone());
            let t = site.read.aid_thread(&root)?;
            let answered = t
                .rows
                .iter()
                .filter(|r| r.offer.is_some() || r.declined.is_some())
                .count();
            let progress = t
                .lines
                .iter()
                .map(|l| {
                    format!(
                        "{} {}/{}",
                        Text::of(&l.line.what, c.lang),
                        format::quantity(l.amounts.committed),
                        format::quantity(l.line.quantity)
                    )
                })
                .collect::<Vec<_>>()
                .join("、");
            mine.push(MineItem {
                href: c.href(&format!("/aid/{}/{}", e.author, segment(&e.object_id))),
                what: lines_text(c.lang, &a.lines),
                age: format::age(&w, now, e.created_at),
                answered: w.with(
                    "staff-answered",
                    &[
                        ("n", (answered as i64).into()),
                        ("of", (t.rows.len() as i64).into()),
                    ],
                ),
                progress,
                cancelled: t.cancelled,
            });
        }
        let replies = site
            .read
            .replies_to(&me, 20)?
            .into_iter()
            .filter_map(|e| match &e.body {
                Body::Reply(r) => Some(ReplyItem {
                    href: c.href(&format!(
                        "/entries/{}/{}#replies",
                        r.about.author,
                        segment(&r.about.object_id)
                    )),
                    from: dir.name(&e.author, c.lang),
                    text: Text::of(&r.text, c.lang),
                    age: format::age(&w, now, e.created_at),
                }),
                _ => None,
            })
            .collect();
        let forms = [
            (Kind::Aid, "/staff/aid/new", "staff-new-request"),
            (
                Kind::Readiness,
                "/staff/publish/readiness",
                "staff-publish-readiness",
            ),
            (Kind::Event, "/staff/publish/event", "staff-publish-event"),
            (Kind::Case, "/staff/publish/case", "staff-publish-case"),
            (
                Kind::CallForPartners,
                "/staff/publish/call",
                "staff-publish-call",
            ),
        ]
        .into_iter()
        .filter(|(k, _, _)| staff.may(*k))
        .map(|(_, href, id)| (c.href(href), w.get(id)))
        .collect();
        let page = DeskPage {
            role: w.get(&format!("role-{}", staff.role)),
            c,
            staff,
            inbox,
            mine,
            replies,
            forms,
        };
        Ok(html(req.lang, page.render()?))
    })
    .await
}

#[derive(Template)]
#[template(path = "staff_audit.html")]
struct AuditPage {
    c: Chrome,
    lines: Vec<(String, super::AuditLine)>,
}

/// `GET /staff/audit` (admins).
pub async fn audit(State(site): State<Arc<Site>>, req: Req, cx: Ctx) -> Response {
    let staff = match require(&site, &req, &cx) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    if !staff.admin() {
        return crate::status(
            axum::http::StatusCode::FORBIDDEN,
            crate::pages::error_page(
                &site,
                &req,
                &WebError::Bad(req.words().get("staff-admins-only")),
            ),
        );
    }
    crate::render(site, req, move |site, req| {
        let w = req.words();
        let c = Chrome::new(site, req, "", w.get("staff-audit"))?.signed_in(Some(&staff));
        let ws = site.workspace.as_ref().ok_or(WebError::NotFound)?;
        let lines = ws
            .audit(500)
            .into_iter()
            .map(|l| (format::date_time(c.lang, l.at, format::TOKYO), l))
            .collect();
        Ok(html(req.lang, AuditPage { c, lines }.render()?))
    })
    .await
}
