//! `/staff/sign-in` and `/staff/sign-out`.

use std::sync::Arc;

use askama::Template;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::Response;

use super::forms::Fields;
use super::{cleared_cookie, forbidden, same_origin, see_other, session_cookie, Ctx, SignIn};
use crate::chrome::Chrome;
use crate::{html, status, Req, Site};

#[derive(Template)]
#[template(path = "staff_signin.html")]
struct SignInPage {
    c: Chrome,
    name: String,
    next: String,
    error: Option<String>,
}

/// Where to go after signing in: a path on this node only.
fn safe_next(next: &str) -> String {
    if next.starts_with('/') && !next.starts_with("//") && !next.contains('\\') {
        next.to_owned()
    } else {
        "/staff".to_owned()
    }
}

fn page(site: &Site, req: &Req, name: String, next: String, error: Option<String>) -> Response {
    let w = req.words();
    let c = Chrome::bare(site, req, w.get("staff-sign-in"));
    let failed = error.is_some();
    let r = SignInPage {
        c,
        name,
        next,
        error,
    }
    .render()
    .map(|b| html(req.lang, b))
    .unwrap_or_else(|e| crate::pages::error_page(site, req, &e.into()));
    if failed {
        status(StatusCode::UNAUTHORIZED, r)
    } else {
        r
    }
}

/// `GET /staff/sign-in`.
pub async fn form(State(site): State<Arc<Site>>, req: Req, cx: Ctx) -> Response {
    if site.workspace.is_none() {
        return crate::pages::error_page(&site, &req, &crate::WebError::NotFound);
    }
    let next = safe_next(req.param("next").unwrap_or("/staff"));
    if site.staff(&cx.headers).is_some() {
        return see_other(&next);
    }
    page(&site, &req, String::new(), next, None)
}

/// `POST /staff/sign-in`.
pub async fn submit(State(site): State<Arc<Site>>, req: Req, cx: Ctx, body: Bytes) -> Response {
    let Some(ws) = site.workspace.clone() else {
        return crate::pages::error_page(&site, &req, &crate::WebError::NotFound);
    };
    if !same_origin(&cx.headers) {
        return forbidden("a form from another site cannot sign in here");
    }
    let f = match Fields::parse(&body) {
        Ok(f) => f,
        Err(e) => return crate::pages::error_page(&site, &req, &crate::WebError::Bad(e)),
    };
    let (name, password, next) = (
        f.get("name").to_owned(),
        f.raw("password").to_owned(),
        safe_next(f.get("next")),
    );
    let addr = cx.addr;
    let n = name.clone();
    let answer = tokio::task::spawn_blocking(move || ws.sign_in(&n, &password, addr))
        .await
        .unwrap_or(SignIn::Wrong);
    let w = req.words();
    match answer {
        SignIn::Ok(token, _) => {
            let mut r = see_other(&next);
            r.headers_mut()
                .insert(header::SET_COOKIE, session_cookie(&token));
            r
        }
        SignIn::Wrong => page(&site, &req, name, next, Some(w.get("staff-sign-in-wrong"))),
        SignIn::Locked(minutes) => page(
            &site,
            &req,
            name,
            next,
            Some(w.n("staff-sign-in-locked", minutes as i64)),
        ),
        SignIn::Limited => {
            let r = page(
                &site,
                &req,
                name,
                next,
                Some(w.get("staff-sign-in-limited")),
            );
            status(StatusCode::TOO_MANY_REQUESTS, r)
        }
    }
}

/// `POST /staff/sign-out`.
pub async fn sign_out(State(site): State<Arc<Site>>, cx: Ctx, body: Bytes) -> Response {
    let Some(ws) = site.workspace.clone() else {
        return forbidden("no workspace here");
    };
    let (Some(token), Ok(f)) = (super::token(&cx.headers), Fields::parse(&body)) else {
        return forbidden("not signed in");
    };
    match ws.staff(&token) {
        Some(s) if crate::staff::csrf_ok(&s, &f) && same_origin(&cx.headers) => {
            ws.sign_out(&token, cx.addr);
        }
        Some(_) => return forbidden("the form token is wrong; reload the page"),
        None => {}
    }
    let mut r = see_other("/");
    r.headers_mut().insert(header::SET_COOKIE, cleared_cookie());
    r
}
