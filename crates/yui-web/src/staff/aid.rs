//! Mutual aid in the browser: `/aid/{author}/{object}` shows a thread to
//! everyone (each addressed municipality's row: reached its node, read,
//! response, quantities, estimated arrival, time since sent), with the
//! forms of the next steps for signed-in staff; `/staff/aid/new` composes
//! a request with suggestions of whom to ask (`compose`); `/aid/…/receipt`
//! is the printable signed receipt of one offer.

use std::sync::Arc;

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use yui_core::content::{AckKind, Acknowledgement, AidLine, AidMessage, AidStep, ObjectRef};
use yui_core::{Body, LocalizedText, NodeId};
use yui_read::aid::{Misfit, Row, Thread};

use super::{see_other, Ctx, Refusal, Staff};
use crate::chrome::Chrome;
use crate::format;
use crate::i18n::Lang;
use crate::pages::Who;
use crate::text::{segment, Text};
use crate::{html, status, Req, Site, WebError};

mod compose;
pub use compose::{compose, compose_post};

/// "毛布 500枚、保健師 2人×7日", with the days and the separator as the
/// reader's language writes them.
pub fn lines_text(lang: Lang, lines: &[AidLine]) -> String {
    let (day, sep) = match lang {
        Lang::Ja => ("日", "、"),
        Lang::ZhHans | Lang::ZhHant => ("天", "、"),
        Lang::Ko => ("일", ", "),
        Lang::En => ("d", ", "),
    };
    lines
        .iter()
        .map(|l| {
            let days = if l.days > 0 {
                format!("×{}{day}", l.days)
            } else {
                String::new()
            };
            format!(
                "{} {}{days}",
                Text::of(&l.what, lang),
                format::quantity_with_unit(l.quantity, &l.unit)
            )
        })
        .collect::<Vec<_>>()
        .join(sep)
}

/// A step's name in the reader's language (要請, 申し出, 受諾, …).
pub fn step_word(w: &crate::i18n::Words, step: AidStep) -> String {
    w.get(&format!("aid-step-{}", step.name()))
}

/// Where one municipality stands, in words.
pub fn row_state(c: &Chrome, r: &Row) -> String {
    let w = &c.words;
    if r.cancelled {
        return w.get("aid-state-withdrawn");
    }
    if r.declined.is_some() {
        return w.get("aid-state-declined");
    }
    match r.stage {
        Some(s) => step_word(w, s),
        None if r.read_at.is_some() => w.get("aid-state-read"),
        None if r.received_at.is_some() => w.get("aid-state-received"),
        None => w.get("aid-state-none"),
    }
}

/// One row of the thread's table.
#[derive(Debug, Clone)]
struct RowView {
    who: Who,
    code: String,
    addressed: bool,
    received: String,
    read: String,
    state: String,
    declined: Text,
    amounts: Vec<String>,
    eta: String,
    offer: Option<String>,
    receipt: Option<String>,
    /// Forms this member may use on the row: (step, label).
    actions: Vec<(String, String)>,
}

/// One line and its totals.
#[derive(Debug, Clone)]
struct LineView {
    what: Text,
    asked: String,
    offered: String,
    accepted: String,
    committed: String,
    dispatched: String,
    arrived: String,
    unit: String,
}

/// One step in the history.
#[derive(Debug, Clone)]
struct StepView {
    when: String,
    who: Who,
    step: String,
    what: String,
    note: Text,
    id: String,
}

#[derive(Template)]
#[template(path = "aid_thread.html")]
struct ThreadPage {
    c: Chrome,
    root: String,
    by: Who,
    sent: String,
    age: String,
    needed_by: String,
    deliver_to: Text,
    note: Text,
    exercise: bool,
    cancelled: bool,
    to_partners: bool,
    lines: Vec<LineView>,
    rows: Vec<RowView>,
    steps: Vec<StepView>,
    replies: Vec<crate::pages::entry::ReplyView>,
    /// Signed in and may act: the form token.
    csrf: Option<String>,
    /// This member's municipality is addressed and has not answered.
    may_answer: bool,
    /// This member's municipality opened the thread.
    mine: bool,
    may_reply: bool,
    answer_lines: Vec<(usize, Text, String, String)>,
    error: Option<String>,
}

fn amount(q: f64) -> String {
    if q == 0.0 {
        "–".to_owned()
    } else {
        format::quantity(q)
    }
}

fn actions(
    c: &Chrome,
    t: &Thread,
    r: &Row,
    me: &NodeId,
    staff: Option<&Staff>,
) -> Vec<(String, String)> {
    if !staff.is_some_and(|s| s.may(yui_core::Kind::Aid)) {
        return Vec::new();
    }
    if r.offer.is_none() || r.cancelled || t.cancelled {
        return Vec::new();
    }
    let offerer = r.who == Some(*me);
    // Who receives: the requester; for an offer nobody asked for, anyone
    // but the one offering.
    let unsolicited = t
        .opening
        .as_ref()
        .is_some_and(|o| matches!(&o.body, Body::Aid(a) if a.step == AidStep::Offer));
    let opener = if unsolicited {
        !offerer
    } else {
        t.opener().is_some_and(|o| o == *me)
    };
    let mut out = Vec::new();
    let mut add = |step: AidStep| {
        out.push((
            step.name().to_owned(),
            c.t(&format!("aid-do-{}", step.name())),
        ))
    };
    match r.stage {
        Some(AidStep::Offer) if opener => add(AidStep::Accept),
        Some(AidStep::Accept) if offerer => add(AidStep::Commit),
        Some(AidStep::Commit) if offerer => add(AidStep::Dispatch),
        Some(AidStep::Dispatch) if opener => add(AidStep::Arrive),
        Some(AidStep::Arrive) if opener => add(AidStep::Release),
        _ => {}
    }
    if offerer && matches!(r.stage, Some(AidStep::Offer | AidStep::Accept)) {
        add(AidStep::Cancel);
    }
    out
}

fn thread_page(
    site: &Site,
    req: &Req,
    staff: Option<&Staff>,
    author: &str,
    object: &str,
    error: Option<String>,
) -> Result<Response, WebError> {
    let author: NodeId = author.parse().map_err(|_| WebError::NotFound)?;
    let root = ObjectRef::new(author, object);
    let t = site.read.aid_thread(&root)?;
    let Some(opening) = &t.opening else {
        return Err(WebError::NotFound);
    };
    let Body::Aid(a) = &opening.body else {
        return Err(WebError::NotFound);
    };
    let w = req.words();
    let title = w.named(
        if a.step == AidStep::Offer {
            "aid-offer-title"
        } else {
            "aid-thread-title"
        },
        &lines_text(req.lang, &a.lines),
    );
    let c = Chrome::new(site, req, "/board", title)?.signed_in(staff);
    let dir = site.directory()?;
    let me = site.read.replica().id();
    let now = yui_sync::now_ms();
    let at = |ms: Option<i64>| {
        ms.map(|t| format::date_time(c.lang, t, format::TOKYO))
            .unwrap_or_default()
    };
    let lines = t
        .lines
        .iter()
        .map(|l| LineView {
            what: Text::of(&l.line.what, c.lang),
            asked: format::quantity(l.line.quantity),
            offered: amount(l.amounts.offered),
            accepted: amount(l.amounts.accepted),
            committed: amount(l.amounts.committed),
            dispatched: amount(l.amounts.dispatched),
            arrived: amount(l.amounts.arrived),
            unit: l.line.unit.clone(),
        })
        .collect();
    let rows = t
        .rows
        .iter()
        .map(|r| {
            let who = match r.who {
                Some(id) => Who::of(&c, &dir, &id),
                None => Who::of_code(&c, &dir, &r.code),
            };
            RowView {
                who,
                code: r.code.clone(),
                addressed: r.addressed,
                received: at(r.received_at),
                read: at(r.read_at),
                state: row_state(&c, r),
                declined: r
                    .declined
                    .as_ref()
                    .map(|d| Text::of(d, c.lang))
                    .unwrap_or_default(),
                amounts: r
                    .amounts
                    .iter()
                    .map(|m| {
                        let q = [m.arrived, m.dispatched, m.committed, m.accepted, m.offered]
                            .into_iter()
                            .find(|q| *q > 0.0)
                            .unwrap_or(0.0);
                        amount(q)
                    })
                    .collect(),
                eta: at(r.eta),
                offer: r.offer.as_ref().map(|o| o.to_string()),
                receipt: r
                    .offer
                    .as_ref()
                    .filter(|_| r.stage.is_some_and(|s| s != AidStep::Offer))
                    .map(|o| {
                        c.href(&format!(
                            "/aid/{}/{}/receipt{}",
                            root.author,
                            segment(&root.object_id),
                            crate::text::query_string(&[("offer", o.to_string().as_str())])
                        ))
                    }),
                actions: actions(&c, &t, r, &me, staff),
            }
        })
        .collect();
    let steps = std::iter::once(opening)
        .chain(t.steps.iter())
        .filter_map(|e| match &e.body {
            Body::Aid(s) => Some(StepView {
                when: format::date_time(c.lang, e.created_at, format::TOKYO),
                who: Who::of(&c, &dir, &e.author),
                step: step_word(&w, s.step),
                what: lines_text(c.lang, &s.lines),
                note: Text::of(&s.note, c.lang),
                id: e.id.clone(),
            }),
            _ => None,
        })
        .collect();
    let who = yui_read::aid::Directory::new(&site.read)?;
    let answered = t
        .row(&me)
        .is_some_and(|r| r.offer.is_some() || r.declined.is_some());
    let can_aid = staff.is_some_and(|s| s.may(yui_core::Kind::Aid));
    let may_answer = can_aid && !t.cancelled && !answered && t.addresses(&me, &who);
    let answer_lines = a
        .lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            (
                i + 1,
                Text::of(&l.what, c.lang),
                format::quantity(l.quantity),
                l.unit.clone(),
            )
        })
        .collect();
    let page = ThreadPage {
        root: root.to_string(),
        by: Who::of(&c, &dir, &opening.author),
        sent: format::date_time(c.lang, opening.created_at, format::TOKYO),
        age: format::age(&w, now, opening.created_at),
        needed_by: if a.needed_by > 0 {
            format::date_time(c.lang, a.needed_by, format::TOKYO)
        } else {
            String::new()
        },
        deliver_to: Text::of(&a.deliver_to, c.lang),
        note: Text::of(&a.note, c.lang),
        exercise: a.exercise,
        cancelled: t.cancelled,
        to_partners: a.to_partners,
        lines,
        rows,
        steps,
        replies: crate::pages::entry::reply_views(&c, &dir, &t.replies),
        csrf: staff.map(|s| s.csrf.clone()),
        may_answer,
        mine: opening.author == me
            && can_aid
            && !t.cancelled
            && t.lines.iter().any(|l| l.amounts.arrived < l.line.quantity),
        may_reply: staff.is_some_and(|s| s.may(yui_core::Kind::Reply)),
        answer_lines,
        error,
        c,
    };
    Ok(html(req.lang, page.render()?))
}

/// `GET /aid/{author}/{object}`.
pub async fn thread(
    State(site): State<Arc<Site>>,
    req: Req,
    cx: Ctx,
    Path((author, object)): Path<(String, String)>,
) -> Response {
    let staff = site.staff(&cx.headers);
    crate::render(site, req, move |site, req| {
        req.only(&[])?;
        thread_page(site, req, staff.as_ref(), &author, &object, None)
    })
    .await
}

/// The message for a refusal, in the reader's language around the node's
/// own words.
pub fn refusal_text(req: &Req, r: &Refusal) -> String {
    let w = req.words();
    let why = r
        .misfit
        .as_ref()
        .and_then(|m| misfit_text(&w, m))
        .unwrap_or_else(|| r.message.clone());
    w.named("staff-refused", &why)
}

/// Why a step does not fit its thread, in the reader's language, for the
/// reasons staff meet through the forms (the forms offer only the steps a
/// member may take, so the other rules keep the node's words).
fn misfit_text(w: &crate::i18n::Words, m: &Misfit) -> Option<String> {
    let stage = |s: AidStep| step_word(w, s);
    Some(match m {
        Misfit::NotHeld { .. } => w.get("aid-misfit-not-held"),
        Misfit::Cancelled => w.get("aid-misfit-cancelled"),
        Misfit::OfferWithdrawn => w.get("aid-misfit-withdrawn"),
        Misfit::NothingLeft { step, bound } => w.with(
            "aid-misfit-nothing-left",
            &[
                ("step", stage(*step).into()),
                ("stage", stage(*bound).into()),
            ],
        ),
        Misfit::TooMuch {
            line,
            what,
            total,
            limit,
            bound,
        } => w.with(
            "aid-misfit-too-much",
            &[
                ("line", line.to_string().into()),
                ("what", what.as_str().into()),
                ("total", amount(*total).into()),
                ("limit", amount(*limit).into()),
                ("stage", stage(*bound).into()),
            ],
        ),
        Misfit::NoOffer { .. } | Misfit::Rule(_) => return None,
    })
}

/// The message beside a field the node refused, in the reader's language:
/// the reasons staff meet most have words of their own; any other keeps
/// the node's reason inside a sentence of the reader's language.
pub fn field_text(req: &Req, r: &Refusal) -> String {
    let w = req.words();
    let msg = r
        .message
        .strip_prefix("invalid entry: ")
        .unwrap_or(&r.message);
    let reason = match &r.field {
        Some(f) => msg
            .strip_prefix(f.as_str())
            .map(|rest| rest.trim_start_matches(':').trim())
            .unwrap_or(msg),
        None => msg,
    };
    const KNOWN: [(&str, &str); 6] = [
        ("is required", "staff-required"),
        ("is before start", "form-err-before-start"),
        ("must be after as_of", "form-err-before-start"),
        ("6-digit local government code", "form-err-code"),
        ("wrong check digit", "form-err-code"),
        ("is not an http(s) URL", "form-err-url"),
    ];
    KNOWN
        .iter()
        .find(|(pat, _)| reason.contains(pat))
        .map(|(_, id)| w.get(id))
        .unwrap_or_else(|| w.named("form-err-invalid", reason))
}

fn parse_quantity(s: &str) -> Option<f64> {
    let s = s.trim().replace([',', '，'], "");
    let s: String = s
        .chars()
        .map(|c| match c {
            '０'..='９' => char::from_u32(c as u32 - '０' as u32 + '0' as u32).unwrap_or(c),
            '．' => '.',
            c => c,
        })
        .collect();
    s.parse::<f64>().ok().filter(|q| q.is_finite())
}

/// `POST /staff/aid/step`: the next step of a thread, or a read
/// acknowledgement of a request.
pub async fn step(State(site): State<Arc<Site>>, req: Req, cx: Ctx, body: Bytes) -> Response {
    let (staff, f) = match super::posted(&site, &req, &cx, &body) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let Ok(root) = f.get("root").parse::<ObjectRef>() else {
        return crate::pages::error_page(
            &site,
            &req,
            &WebError::Bad("root: not <author>/<object id>".into()),
        );
    };
    let back = format!("/aid/{}/{}", root.author, segment(&root.object_id));
    let lang = req.lang.tag();
    let note = {
        let n = f.get("note");
        if n.is_empty() {
            LocalizedText::default()
        } else {
            LocalizedText::one(lang, n)
        }
    };
    let eta = f.get("eta");
    let eta = if eta.is_empty() {
        0
    } else {
        match format::local_input(eta) {
            Some(t) => t.timestamp_millis(),
            None => {
                let msg = req_words_named(&req, "staff-bad-time", eta);
                return thread_error(site, req, staff, &root, msg).await;
            }
        }
    };
    let offer = f.get("offer").parse::<ObjectRef>().ok();
    let by_request = opened_by_request(&site, &root);
    let body = match f.get("step") {
        "read" => Body::Acknowledgement(Acknowledgement {
            entry_id: match site.read.object(&root.author, &root.object_id) {
                Ok(Some(e)) => match e.id.parse() {
                    Ok(id) => id,
                    Err(_) => return crate::pages::error_page(&site, &req, &WebError::NotFound),
                },
                _ => return crate::pages::error_page(&site, &req, &WebError::NotFound),
            },
            note: LocalizedText::default(),
            kind: AckKind::Read,
        }),
        name => {
            let Ok(s) = name.parse::<AidStep>() else {
                return crate::pages::error_page(
                    &site,
                    &req,
                    &WebError::Bad(format!("step: {name:?}")),
                );
            };
            let mut lines = Vec::new();
            if s == AidStep::Offer {
                // One quantity per line of the request, as answered.
                let Ok(t) = site.read.aid_thread(&root) else {
                    return crate::pages::error_page(&site, &req, &WebError::NotFound);
                };
                for (i, l) in t.lines.iter().enumerate() {
                    let raw = f.get(&format!("q{}", i + 1));
                    if raw.is_empty() {
                        continue;
                    }
                    match parse_quantity(raw) {
                        Some(q) if q > 0.0 => lines.push(AidLine {
                            resource: l.line.resource,
                            what: l.line.what.clone(),
                            quantity: q,
                            unit: l.line.unit.clone(),
                            days: l.line.days,
                            answers_line: (i + 1) as u32,
                        }),
                        Some(_) => {}
                        None => {
                            let msg = req_words_named(&req, "staff-bad-quantity", raw);
                            return thread_error(site, req, staff, &root, msg).await;
                        }
                    }
                }
            }
            Body::Aid(AidMessage {
                step: s,
                request: by_request.then(|| root.clone()),
                // In an offer nobody asked for, the thread is the offer.
                offer: offer
                    .clone()
                    .or_else(|| (!by_request).then(|| root.clone())),
                lines,
                eta,
                note,
                exercise: f.has("exercise"),
                ..Default::default()
            })
        }
    };
    let ws = site.workspace.clone().expect("required above");
    match ws
        .publish(&staff, cx.addr, None, body, Default::default())
        .await
    {
        Ok(_) => see_other(&back),
        Err(r) => {
            thread_error(
                site.clone(),
                req.clone(),
                staff,
                &root,
                refusal_text(&req, &r),
            )
            .await
        }
    }
}

/// Whether the thread `root` is a request (else an offer nobody asked
/// for, whose steps name no request).
fn opened_by_request(site: &Site, root: &ObjectRef) -> bool {
    matches!(
        site.read.object(&root.author, &root.object_id),
        Ok(Some(e)) if matches!(&e.body, Body::Aid(a) if a.step == AidStep::Request)
    )
}

fn req_words_named(req: &Req, id: &str, v: &str) -> String {
    req.words().named(id, v)
}

async fn thread_error(
    site: Arc<Site>,
    req: Req,
    staff: Staff,
    root: &ObjectRef,
    msg: String,
) -> Response {
    let (a, o) = (root.author.to_string(), root.object_id.clone());
    let r = crate::render(site, req, move |site, req| {
        thread_page(site, req, Some(&staff), &a, &o, Some(msg))
    })
    .await;
    status(axum::http::StatusCode::CONFLICT, r)
}

#[derive(Template)]
#[template(path = "aid_receipt.html")]
struct ReceiptPage {
    c: Chrome,
    r: yui_read::receipt::Receipt,
    lines: Vec<(String, String, String, String, String, String)>,
    entries: Vec<(String, String, String, u64, String)>,
    json: String,
    download: String,
}

/// `GET /aid/{author}/{object}/receipt?offer=…` (and `&format=json`).
pub async fn receipt(
    State(site): State<Arc<Site>>,
    req: Req,
    cx: Ctx,
    Path((author, object)): Path<(String, String)>,
) -> Response {
    let staff = site.staff(&cx.headers);
    crate::render(site, req, move |site, req| {
        req.only(&["offer", "format"])?;
        let author: NodeId = author.parse().map_err(|_| WebError::NotFound)?;
        let offer: ObjectRef = req
            .param("offer")
            .ok_or_else(|| WebError::Bad("offer: required".into()))?
            .parse()
            .map_err(WebError::Bad)?;
        let root = ObjectRef::new(author, object);
        let r =
            yui_read::receipt::build(&site.read, &root, &offer).map_err(|_| WebError::NotFound)?;
        let json =
            serde_json::to_string_pretty(&r).map_err(|e| WebError::Internal(e.to_string()))?;
        if req.param("format") == Some("json") {
            let name = format!(
                "attachment; filename=\"receipt-{}.json\"",
                offer.object_id.replace(['"', '\\'], "")
            );
            return Ok((
                [
                    (header::CONTENT_TYPE, "application/json".to_owned()),
                    (header::CONTENT_DISPOSITION, name),
                ],
                json,
            )
                .into_response());
        }
        let w = req.words();
        let c =
            Chrome::new(site, req, "/board", w.get("aid-receipt-title"))?.signed_in(staff.as_ref());
        let lines = r
            .lines
            .iter()
            .map(|l| {
                let a = &l.amounts;
                (
                    format!("{} ({})", l.what, l.unit),
                    amount(a.offered),
                    amount(a.accepted),
                    amount(a.committed),
                    amount(a.dispatched),
                    amount(a.arrived),
                )
            })
            .collect();
        let dir = site.directory()?;
        let entries = r
            .entries
            .iter()
            .map(|e| {
                (
                    step_word(&w, e.step),
                    dir.name(&e.author, c.lang).text,
                    format::date_time(c.lang, e.created_at, format::TOKYO),
                    e.seq,
                    e.id.clone(),
                )
            })
            .collect();
        let download = format!(
            "{}{}",
            req.path,
            crate::text::query_string(&[("offer", offer.to_string().as_str()), ("format", "json")])
        );
        Ok(html(
            req.lang,
            ReceiptPage {
                c,
                r,
                lines,
                entries,
                json,
                download,
            }
            .render()?,
        ))
    })
    .await
}

/// An aid thread as the board lists it.
#[derive(Debug, Clone)]
pub struct BoardThread {
    /// Its page.
    pub href: String,
    /// The requester.
    pub by: Who,
    /// What is asked.
    pub what: String,
    /// Since sent.
    pub age: String,
    /// A drill.
    pub exercise: bool,
    /// Per line: what, its unit, asked, committed, arrived (the numbers
    /// bare, the unit beside what, as on the thread's page).
    pub lines: Vec<(Text, String, String, String, String)>,
    /// Per municipality: who, state, reached, read, estimated arrival.
    pub rows: Vec<(Who, String, bool, bool, String)>,
}

/// Open aid requests, newest first, at most `cap` (the board).
pub fn board_threads(site: &Site, c: &Chrome, cap: usize) -> Result<Vec<BoardThread>, WebError> {
    let dir = site.directory()?;
    let w = &c.words;
    let now = yui_sync::now_ms();
    let requests = site.read.first(
        &yui_read::query::Query {
            kind: Some("aid".into()),
            step: Some(AidStep::Request),
            ..Default::default()
        },
        cap * 2,
    )?;
    let mut out = Vec::new();
    for e in requests {
        let root = ObjectRef::new(e.author, e.object_id.clone());
        let t = site.read.aid_thread(&root)?;
        let Some(Body::Aid(a)) = t.opening.as_ref().map(|o| &o.body) else {
            continue;
        };
        if t.cancelled {
            continue;
        }
        out.push(BoardThread {
            href: c.href(&format!("/aid/{}/{}", e.author, segment(&e.object_id))),
            by: Who::of(c, &dir, &e.author),
            what: lines_text(c.lang, &a.lines),
            age: format::age(w, now, e.created_at),
            exercise: a.exercise,
            lines: t
                .lines
                .iter()
                .map(|l| {
                    (
                        Text::of(&l.line.what, c.lang),
                        l.line.unit.clone(),
                        format::quantity(l.line.quantity),
                        amount(l.amounts.committed),
                        amount(l.amounts.arrived),
                    )
                })
                .collect(),
            rows: t
                .rows
                .iter()
                .map(|r| {
                    let who = match r.who {
                        Some(id) => Who::of(c, &dir, &id),
                        None => Who::of_code(c, &dir, &r.code),
                    };
                    let eta = r
                        .eta
                        .map(|t| format::date_time(c.lang, t, format::TOKYO))
                        .unwrap_or_default();
                    (
                        who,
                        row_state(c, r),
                        r.received_at.is_some(),
                        r.read_at.is_some() || r.offer.is_some() || r.declined.is_some(),
                        eta,
                    )
                })
                .collect(),
        });
        if out.len() == cap {
            break;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_read_as_each_language_writes_them() {
        let lines = [
            AidLine {
                what: LocalizedText::one("ja", "毛布"),
                quantity: 500.0,
                unit: "枚".into(),
                ..Default::default()
            },
            AidLine {
                what: LocalizedText::one("ja", "保健師"),
                quantity: 2.0,
                unit: "人".into(),
                days: 7,
                ..Default::default()
            },
        ];
        assert_eq!(lines_text(Lang::Ja, &lines), "毛布 500枚、保健師 2人×7日");
        assert_eq!(lines_text(Lang::Ko, &lines), "毛布 500枚, 保健師 2人×7일");
        assert_eq!(
            lines_text(Lang::ZhHant, &lines),
            "毛布 500枚、保健師 2人×7天"
        );
        assert_eq!(lines_text(Lang::En, &lines), "毛布 500枚, 保健師 2人×7d");
    }
}
