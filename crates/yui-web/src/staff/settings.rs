//! `/staff/settings`: what a staff member is told, by e-mail.

use std::sync::Arc;

use askama::Template;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;

use super::desk::require;
use super::{see_other, Ctx, NotifyChoice, Staff};
use crate::chrome::Chrome;
use crate::{html, Req, Site, WebError};

/// The topics, in the order the form lists them.
pub const TOPICS: [&str; 5] = ["aid_request", "aid_update", "alert", "reply", "call"];
const AREAS: [&str; 7] = [
    "disaster_prevention",
    "tourism",
    "education",
    "welfare",
    "economy",
    "culture",
    "other",
];

#[derive(Template)]
#[template(path = "staff_settings.html")]
struct SettingsPage {
    c: Chrome,
    csrf: String,
    email: String,
    topics: Vec<(&'static str, String, bool)>,
    levels: Vec<(u32, String, bool)>,
    areas: Vec<(&'static str, String, bool)>,
    exercises: bool,
    saved: bool,
    error: Option<String>,
}

fn page(
    site: &Site,
    req: &Req,
    staff: &Staff,
    n: &NotifyChoice,
    saved: bool,
    error: Option<String>,
) -> Result<Response, WebError> {
    let w = req.words();
    let c = Chrome::new(site, req, "", w.get("staff-settings"))?.signed_in(Some(staff));
    let page = SettingsPage {
        csrf: staff.csrf.clone(),
        email: n.email.clone(),
        topics: TOPICS
            .iter()
            .map(|t| {
                (
                    *t,
                    w.get(&format!("topic-{t}")),
                    n.topics.iter().any(|x| x == t),
                )
            })
            .collect(),
        levels: (1..=5)
            .map(|l| {
                (
                    l,
                    format!(
                        "{} {l} {}",
                        w.get("alert-level"),
                        crate::format::alert_name(&w, l)
                    ),
                    l == n.min_alert_level,
                )
            })
            .collect(),
        areas: AREAS
            .iter()
            .map(|a| {
                (
                    *a,
                    w.get(&format!("area-{a}")),
                    n.policy_areas.iter().any(|x| x == a),
                )
            })
            .collect(),
        exercises: n.exercises,
        saved,
        error,
        c,
    };
    Ok(html(req.lang, page.render()?))
}

/// `GET /staff/settings`.
pub async fn form(State(site): State<Arc<Site>>, req: Req, cx: Ctx) -> Response {
    let staff = match require(&site, &req, &cx) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    crate::render(site, req, move |site, req| {
        req.only(&["saved"])?;
        let ws = site.workspace.as_ref().ok_or(WebError::NotFound)?;
        let n = ws.notify_choice(&staff);
        page(site, req, &staff, &n, req.param("saved").is_some(), None)
    })
    .await
}

/// `POST /staff/settings`.
pub async fn submit(State(site): State<Arc<Site>>, req: Req, cx: Ctx, body: Bytes) -> Response {
    let (staff, f) = match super::posted(&site, &req, &cx, &body) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let choice = NotifyChoice {
        email: f.get("email").to_owned(),
        topics: f
            .all("topic")
            .into_iter()
            .filter(|t| TOPICS.contains(t))
            .map(str::to_owned)
            .collect(),
        min_alert_level: f.get("min_alert_level").parse().unwrap_or(3).clamp(1, 5),
        policy_areas: f
            .all("area")
            .into_iter()
            .filter(|a| AREAS.contains(a))
            .map(str::to_owned)
            .collect(),
        exercises: f.has("exercises"),
    };
    let ws = site.workspace.clone().expect("required above");
    match ws.set_notify_choice(&staff, cx.addr, choice.clone()) {
        Ok(()) => see_other("/staff/settings?saved=1"),
        Err(e) => crate::status(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            crate::render(site, req, move |site, req| {
                page(site, req, &staff, &choice, false, Some(e))
            })
            .await,
        ),
    }
}
