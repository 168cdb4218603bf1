//! `/staff/aid/new`: composing a request (or an offer nobody asked for)
//! with suggestions of whom to ask, and sending it.

use std::sync::Arc;

use askama::Template;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use yui_core::content::{AidLine, AidMessage, AidResource, AidStep};
use yui_core::{Body, LocalizedText};
use yui_read::aid::Reason;

use super::super::desk::require;
use super::super::forms::{Errors, Fields};
use super::super::{see_other, Ctx, Staff};
use super::{field_text, lines_text, parse_quantity, refusal_text};
use crate::chrome::Chrome;
use crate::format;
use crate::pages::Who;
use crate::text::segment;
use crate::{html, status, Req, Site, WebError};

/// One line being composed.
#[derive(Debug, Clone, Default)]
struct LineForm {
    n: usize,
    resource: String,
    what: String,
    quantity: String,
    unit: String,
    days: String,
}

/// A suggestion, for the page.
#[derive(Debug, Clone)]
struct SuggestionView {
    code: String,
    who: Who,
    reasons: Vec<String>,
    excluded: bool,
    checked: bool,
}

#[derive(Template)]
#[template(path = "aid_new.html")]
struct ComposePage {
    c: Chrome,
    csrf: String,
    offering: bool,
    lines: Vec<LineForm>,
    to: String,
    to_partners: bool,
    needed_by: String,
    deliver_to: String,
    note: String,
    exercise: bool,
    suggestions: Vec<SuggestionView>,
    errors: Errors,
    error: Option<String>,
    preview: Option<String>,
}

const COMPOSE_LINES: usize = 6;

fn reason_text(c: &Chrome, r: &Reason) -> String {
    match r {
        Reason::MutualAid => c.t("aid-reason-mutual-aid"),
        Reason::Offers {
            what,
            quantity,
            unit,
        } => c.words.named(
            "aid-reason-offers",
            &format!("{what} {}", format::quantity_with_unit(*quantity, unit)),
        ),
        Reason::OtherPrefecture => c.t("aid-reason-other-prefecture"),
        Reason::UnderAlert { level } => c.words.n("aid-reason-under-alert", i64::from(*level)),
    }
}

fn compose_page(
    site: &Site,
    req: &Req,
    staff: &Staff,
    f: &Fields,
    suggest: bool,
    errors: Errors,
    error: Option<String>,
) -> Result<Response, WebError> {
    let w = req.words();
    let c = Chrome::new(site, req, "", w.get("staff-new-request"))?.signed_in(Some(staff));
    let mut lines: Vec<LineForm> = (1..=COMPOSE_LINES)
        .map(|n| LineForm {
            n,
            resource: f.get(&format!("r{n}")).to_owned(),
            what: f.get(&format!("w{n}")).to_owned(),
            quantity: f.get(&format!("q{n}")).to_owned(),
            unit: f.get(&format!("u{n}")).to_owned(),
            days: f.get(&format!("d{n}")).to_owned(),
        })
        .collect();
    if lines.iter().all(|l| l.what.is_empty()) {
        lines[0].resource = "supply".into();
        lines[1].resource = "staff".into();
    }
    let chosen: Vec<String> = f.all("to").into_iter().map(str::to_owned).collect();
    let mut suggestions = Vec::new();
    let (parsed, _) = parse_lines(req, f);
    if suggest || !chosen.is_empty() {
        let dir = site.directory()?;
        let me = site.read.replica().id();
        for s in site.read.suggest(&me, &parsed, 12)? {
            suggestions.push(SuggestionView {
                checked: chosen.contains(&s.code),
                code: s.code.clone(),
                who: Who::of(&c, &dir, &s.who),
                reasons: s.reasons.iter().map(|r| reason_text(&c, r)).collect(),
                excluded: s.excluded,
            });
        }
    }
    let extra: Vec<&str> = chosen
        .iter()
        .filter(|code| !suggestions.iter().any(|s| s.code == **code))
        .map(String::as_str)
        .collect();
    let mut to = f.get("to_more").to_owned();
    if to.is_empty() && !extra.is_empty() {
        to = extra.join(" ");
    }
    let preview = (!parsed.is_empty()).then(|| lines_text(c.lang, &parsed));
    let page = ComposePage {
        offering: f.get("mode") == "offer",
        csrf: staff.csrf.clone(),
        lines,
        to,
        to_partners: f.has("to_partners"),
        needed_by: f.get("needed_by").to_owned(),
        deliver_to: f.get("deliver_to").to_owned(),
        note: f.get("note").to_owned(),
        exercise: f.has("exercise"),
        suggestions,
        errors,
        error,
        preview,
        c,
    };
    Ok(html(req.lang, page.render()?))
}

/// The lines of the compose form, and errors by field.
fn parse_lines(req: &Req, f: &Fields) -> (Vec<AidLine>, Errors) {
    let w = req.words();
    let mut errors = Errors::default();
    let mut out = Vec::new();
    for n in 1..=COMPOSE_LINES {
        let what = f.get(&format!("w{n}"));
        let q = f.get(&format!("q{n}"));
        if what.is_empty() && q.is_empty() {
            continue;
        }
        if what.is_empty() {
            errors.put(&format!("w{n}"), w.get("staff-required"));
            continue;
        }
        let Some(quantity) = parse_quantity(q).filter(|q| *q > 0.0) else {
            errors.put(&format!("q{n}"), w.named("staff-bad-quantity", q));
            continue;
        };
        let resource = match f.get(&format!("r{n}")) {
            "staff" => AidResource::Staff,
            "money" => AidResource::Money,
            "shelter" => AidResource::Shelter,
            _ => AidResource::Supply,
        };
        let days = f.get(&format!("d{n}"));
        let days = if days.is_empty() {
            0
        } else {
            match days.parse::<u32>() {
                Ok(d) => d,
                Err(_) => {
                    errors.put(&format!("d{n}"), w.named("staff-bad-quantity", days));
                    continue;
                }
            }
        };
        out.push(AidLine {
            resource,
            what: LocalizedText::one(req.lang.tag(), what),
            quantity,
            unit: f.get(&format!("u{n}")).to_owned(),
            days,
            answers_line: 0,
        });
    }
    (out, errors)
}

/// `GET /staff/aid/new`.
pub async fn compose(State(site): State<Arc<Site>>, req: Req, cx: Ctx) -> Response {
    let staff = match require(&site, &req, &cx) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    crate::render(site, req, move |site, req| {
        compose_page(
            site,
            req,
            &staff,
            &Fields::default(),
            false,
            Errors::default(),
            None,
        )
    })
    .await
}

/// `POST /staff/aid/new`: `suggest` shows whom to ask (and a preview);
/// `send` publishes the request.
pub async fn compose_post(
    State(site): State<Arc<Site>>,
    req: Req,
    cx: Ctx,
    body: Bytes,
) -> Response {
    let (staff, f) = match super::super::posted(&site, &req, &cx, &body) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let w = req.words();
    let (lines, mut errors) = parse_lines(&req, &f);
    if !f.has("send") || !errors.is_empty() {
        let suggest = true;
        let st = staff.clone();
        return crate::render(site, req, move |site, req| {
            compose_page(site, req, &st, &f, suggest, errors, None)
        })
        .await;
    }
    let mut to: Vec<String> = f
        .all("to")
        .into_iter()
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
        .collect();
    for code in f
        .get("to_more")
        .split([' ', ',', '、', '\n'])
        .filter(|c| !c.is_empty())
    {
        if !to.iter().any(|t| t == code) {
            to.push(code.to_owned());
        }
    }
    if lines.is_empty() {
        errors.put("w1", w.get("aid-need-a-line"));
    }
    let offering = f.get("mode") == "offer";
    if to.is_empty() && !f.has("to_partners") && !offering {
        errors.put("to", w.get("aid-need-addressee"));
    }
    let needed_by = match f.get("needed_by") {
        "" => 0,
        s => match format::local_input(s) {
            Some(t) => t.timestamp_millis(),
            None => {
                errors.put("needed_by", w.named("staff-bad-time", s));
                0
            }
        },
    };
    if !errors.is_empty() {
        let st = staff.clone();
        return crate::render(site, req, move |site, req| {
            compose_page(site, req, &st, &f, true, errors, None)
        })
        .await;
    }
    let text = |s: &str| {
        if s.is_empty() {
            LocalizedText::default()
        } else {
            LocalizedText::one(req.lang.tag(), s)
        }
    };
    let body = Body::Aid(AidMessage {
        step: if offering {
            AidStep::Offer
        } else {
            AidStep::Request
        },
        lines,
        to,
        to_partners: f.has("to_partners") && !offering,
        needed_by,
        deliver_to: text(f.get("deliver_to")),
        note: text(f.get("note")),
        exercise: f.has("exercise"),
        ..Default::default()
    });
    let ws = site.workspace.clone().expect("required above");
    let me = site.read.replica().id();
    match ws
        .publish(&staff, cx.addr, None, body, Default::default())
        .await
    {
        Ok(p) => see_other(&format!("/aid/{me}/{}", segment(&p.object_id))),
        Err(r) => {
            let mut errors = Errors::default();
            // The form's field and its label's message.
            let field = match r.field.as_deref() {
                Some(f) if f.starts_with("aid.lines") => Some(("w1", "aid-what")),
                Some("aid.to") => Some(("to", "aid-to")),
                Some("aid.needed_by") => Some(("needed_by", "aid-needed-by")),
                _ => None,
            };
            // Said in the reader's language beside the field and in the
            // banner (as the publish form does); a refusal that names no
            // field of the form keeps the node's own words.
            let msg = match field {
                Some((name, label)) => {
                    let reason = field_text(&req, &r);
                    errors.put(name, reason.clone());
                    let w = req.words();
                    w.with(
                        "staff-refused-field",
                        &[("field", w.get(label).into()), ("reason", reason.into())],
                    )
                }
                None => refusal_text(&req, &r),
            };
            let st = staff.clone();
            let r = crate::render(site, req, move |site, req| {
                compose_page(site, req, &st, &f, true, errors, Some(msg))
            })
            .await;
            status(axum::http::StatusCode::UNPROCESSABLE_ENTITY, r)
        }
    }
}
