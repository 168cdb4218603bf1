//! `/accessibility`: the accessibility statement (JIS X 8341-3 asks for
//! one): the standard aimed at, how it is checked, what is known not to
//! meet it, whom to tell.

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::response::Response;

use crate::chrome::Chrome;
use crate::{html, Req, Site};

#[derive(Template)]
#[template(path = "accessibility.html")]
struct Accessibility {
    c: Chrome,
}

/// `GET /accessibility`.
pub async fn accessibility(State(site): State<Arc<Site>>, req: Req) -> Response {
    crate::render(site, req, |site, req| {
        req.only(&[])?;
        let c = Chrome::new(site, req, "", req.words().get("a11y-title"))?;
        Ok(html(req.lang, Accessibility { c }.render()?))
    })
    .await
}
