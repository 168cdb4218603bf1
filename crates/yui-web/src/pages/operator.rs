//! `/operator`: the node's state for its operator (peers, lag, forks,
//! refusals, tasks), behind the admin token. The token is posted from a
//! form (never in a URL, so never in a log or a browser history) and the
//! page is rendered for that one request: nothing is remembered.

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;

use crate::chrome::Chrome;
use crate::{html, status, OperatorReport, Req, Site};

#[derive(Template)]
#[template(path = "operator.html")]
struct OperatorPage {
    c: Chrome,
    report: Option<OperatorReport>,
    refused: bool,
}

/// The posted form.
#[derive(Debug, serde::Deserialize)]
pub struct TokenForm {
    token: String,
}

/// `GET /operator`: the sign-in form.
pub async fn form(State(site): State<Arc<Site>>, req: Req) -> Response {
    crate::render(site, req, |site, req| {
        req.only(&[])?;
        let c = Chrome::new(site, req, "", req.words().get("operator-title"))?;
        let page = OperatorPage {
            c,
            report: None,
            refused: false,
        };
        Ok(html(req.lang, page.render()?))
    })
    .await
}

/// `POST /operator`: the state, for the right token.
pub async fn page(State(site): State<Arc<Site>>, req: Req, Form(f): Form<TokenForm>) -> Response {
    crate::render(site, req, move |site, req| {
        let ok = site.operator.authorized(f.token.trim());
        let c = Chrome::new(site, req, "", req.words().get("operator-title"))?;
        let page = OperatorPage {
            c,
            report: ok.then(|| site.operator.report()),
            refused: !ok,
        };
        let r = html(req.lang, page.render()?);
        Ok(if ok {
            r
        } else {
            status(StatusCode::UNAUTHORIZED, r)
        })
    })
    .await
}
