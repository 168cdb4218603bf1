//! The pages a node serves to people: its own website, rendered from what
//! the node holds, on the federation TLS port (same origin as gRPC).
//!
//! # Layout
//! - [`Site`] holds what pages read (the [`yui_read::ReadModel`], the node's
//!   name and public address, the [`Operator`] view) and [`router`] serves
//!   it: `/` home, `/calendar` (+ `/calendar.ics`), `/events/{author}/{object}`
//!   (+ `.ics`), `/board`, `/cases`, `/cases/{author}/{object}`, `/calls`,
//!   `/network`, `/m/{node id}`, `/entries/{author}/{object}` (any kind, with
//!   its provenance and history), `/accessibility`, `/operator`, the JSON API
//!   under `/api/v1/` with its OpenAPI document at `/api/openapi.json`, and
//!   `/assets/yui.css`.
//! - `pages/` builds each page's view from read-model queries; `templates/`
//!   are askama templates, compiled and type-checked with the crate.
//! - [`i18n`]: the reader's language (`?lang=`, then `Accept-Language`,
//!   then Japanese) and the interface's words from Fluent files in
//!   `locales/`; [`format`]: dates, ages and alert levels per language.
//! - `directory`: who is who (profiles, endorsements, relays), cached until
//!   a profile, endorsement, rotation or trust changes.
//!
//! # Invariants
//! - **Bounded**: every page is one or a few read-model queries with a
//!   limit; lists page by cursor; nothing renders the whole store.
//! - **No script**: pages work without JavaScript and carry none; the
//!   Content-Security-Policy allows nothing from elsewhere (`default-src
//!   'none'`, the node's own stylesheet and images only).
//! - **Everything held**: pages show whatever the node holds, whoever wrote
//!   it, so a municipality stays readable from a partner or relay while its
//!   own node is down.
//! - Rendering runs on the blocking pool (the index is synchronous).

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod api;
mod chrome;
mod directory;
pub mod format;
mod graph;
pub mod i18n;
mod pages;
pub mod staff;
mod text;

use std::sync::{Arc, Mutex};

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use yui_read::ReadModel;

pub use chrome::Chrome;
use i18n::{Lang, Words};

/// What the operator page shows, from the node's live state (peers, lag,
/// forks, refusals, tasks). The node implements it; pages only render it.
pub trait Operator: Send + Sync + 'static {
    /// Whether `token` is the node's admin token.
    fn authorized(&self, token: &str) -> bool;
    /// The node's state now.
    fn report(&self) -> OperatorReport;
}

/// The operator page's content.
#[derive(Debug, Clone, Default)]
pub struct OperatorReport {
    /// Facts about the node: label and value.
    pub facts: Vec<(String, String)>,
    /// Peers: address, node, state, entries behind, last contact.
    pub peers: Vec<[String; 5]>,
    /// Forked authors: author and seq.
    pub forks: Vec<[String; 2]>,
    /// Refusals by reason: reason and count.
    pub refusals: Vec<[String; 2]>,
    /// Background tasks: name and state.
    pub tasks: Vec<[String; 2]>,
}

/// Settings of the pages (`[http]` in the node's config).
#[derive(Debug, Clone, Default)]
pub struct SiteOptions {
    /// The node's name (page titles).
    pub name: String,
    /// The address people reach the node at (`https://yui.city.example.jp`),
    /// for links that leave the page: calendar subscriptions, each event's
    /// `URL` in iCalendar. Empty: taken from the request's `Host`.
    pub public_url: String,
}

/// The directory and what it was built from (index directory generation,
/// trust generation).
type CachedDirectory = ((u64, u64), Arc<directory::Directory>);
/// Every tie, keyed the same way (partnerships and retractions move the
/// directory generation).
type CachedTies = ((u64, u64), Arc<Vec<pages::network::Tie>>);

/// What the pages read.
pub struct Site {
    read: Arc<ReadModel>,
    options: SiteOptions,
    operator: Arc<dyn Operator>,
    workspace: Option<Arc<dyn staff::Workspace>>,
    directory: Mutex<Option<CachedDirectory>>,
    ties: Mutex<Option<CachedTies>>,
}

impl std::fmt::Debug for Site {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Site")
            .field("name", &self.options.name)
            .finish_non_exhaustive()
    }
}

impl Site {
    /// The pages of a node.
    pub fn new(
        read: Arc<ReadModel>,
        options: SiteOptions,
        operator: Arc<dyn Operator>,
    ) -> Arc<Self> {
        Self::with_workspace(read, options, operator, None)
    }

    /// The pages of a node with its staff workspace (`/staff/`).
    pub fn with_workspace(
        read: Arc<ReadModel>,
        options: SiteOptions,
        operator: Arc<dyn Operator>,
        workspace: Option<Arc<dyn staff::Workspace>>,
    ) -> Arc<Self> {
        Arc::new(Self {
            read,
            options,
            operator,
            workspace,
            directory: Mutex::default(),
            ties: Mutex::default(),
        })
    }

    /// The signed-in staff member of a request, if any.
    pub fn staff(&self, headers: &HeaderMap) -> Option<staff::Staff> {
        let ws = self.workspace.as_ref()?;
        ws.staff(&staff::token(headers)?)
    }

    /// The read model pages query.
    pub fn read(&self) -> &ReadModel {
        &self.read
    }

    fn generation(&self) -> (u64, u64) {
        (
            self.read.index().directory_generation(),
            self.read.replica().trust_generation(),
        )
    }

    /// Every tie once per pair and kind, cached until a partnership, a
    /// retraction or trust changes (a national relay holds thousands).
    fn ties(&self) -> Result<Arc<Vec<pages::network::Tie>>, WebError> {
        let key = self.generation();
        if let Some((k, t)) = &*self.ties.lock().expect("ties lock") {
            if *k == key {
                return Ok(t.clone());
            }
        }
        let t = Arc::new(pages::network::all_ties(self)?);
        *self.ties.lock().expect("ties lock") = Some((key, t.clone()));
        Ok(t)
    }

    /// Who is who, cached until profiles, endorsements or trust change.
    fn directory(&self) -> Result<Arc<directory::Directory>, WebError> {
        let key = (
            self.read.index().directory_generation(),
            self.read.replica().trust_generation(),
        );
        if let Some((k, d)) = &*self.directory.lock().expect("directory lock") {
            if *k == key {
                return Ok(d.clone());
            }
        }
        let d = Arc::new(directory::Directory::build(&self.read)?);
        *self.directory.lock().expect("directory lock") = Some((key, d.clone()));
        Ok(d)
    }
}

/// The pages and the JSON API.
pub fn router(site: Arc<Site>) -> Router {
    Router::new()
        .route("/", get(pages::home::page))
        .route("/calendar", get(pages::calendar::page))
        .route("/calendar.ics", get(pages::calendar::ics))
        .route("/events/{author}/{object}", get(pages::entry::event))
        .route("/board", get(pages::board::page))
        .route("/cases", get(pages::cases::page))
        .route("/cases/{author}/{object}", get(pages::entry::case))
        .route("/calls", get(pages::calls::page))
        .route("/network", get(pages::network::page))
        .route("/m/{node}", get(pages::network::member))
        .route("/entries/{author}/{object}", get(pages::entry::any))
        .route("/accessibility", get(pages::about::accessibility))
        .route(
            "/operator",
            get(pages::operator::form).post(pages::operator::page),
        )
        .route("/aid/{author}/{object}", get(staff::aid::thread))
        .route("/aid/{author}/{object}/receipt", get(staff::aid::receipt))
        .route(
            "/staff/sign-in",
            get(staff::signin::form).post(staff::signin::submit),
        )
        .route(
            "/staff/sign-out",
            axum::routing::post(staff::signin::sign_out),
        )
        .route("/staff", get(staff::desk::page))
        .route("/staff/audit", get(staff::desk::audit))
        .route(
            "/staff/settings",
            get(staff::settings::form).post(staff::settings::submit),
        )
        .route(
            "/staff/aid/new",
            get(staff::aid::compose).post(staff::aid::compose_post),
        )
        .route("/staff/aid/step", axum::routing::post(staff::aid::step))
        .route("/staff/reply", axum::routing::post(staff::publish::reply))
        .route(
            "/staff/publish/{kind}",
            get(staff::publish::form).post(staff::publish::submit),
        )
        .route(
            "/staff/retract",
            axum::routing::post(staff::publish::retract),
        )
        .route("/assets/yui.css", get(assets::css))
        .route("/api/openapi.json", get(api::openapi))
        .route("/api/v1/entries", get(api::entries))
        .route("/api/v1/entries/{author}/{object}", get(api::entry))
        .route("/api/v1/board", get(api::board))
        .route("/api/v1/network", get(api::network))
        .fallback(pages::not_found)
        .layer(axum::middleware::map_response(security_headers))
        .layer(axum::middleware::from_fn(private_for_staff))
        .with_state(site)
}

/// The Content-Security-Policy of every page: nothing from elsewhere, no
/// script at all.
pub const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; \
                       form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// An answer to a request carrying a staff session may hold what only
/// staff see (a restricted contact, form tokens): no cache keeps it.
async fn private_for_staff(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let staff = req
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .any(|v| v.to_str().is_ok_and(|s| s.contains(staff::COOKIE)));
    let mut r = next.run(req).await;
    if staff {
        r.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-store"),
        );
    }
    r
}

async fn security_headers(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    r
}

/// What a page knows of its request: the reader's language (and whether
/// they chose it), the query string's pairs, where it was asked.
#[derive(Debug, Clone)]
pub struct Req {
    /// The reader's language.
    pub lang: Lang,
    /// `?lang=` named it (links then carry it on).
    pub explicit: bool,
    /// The query string's pairs, in order.
    pub params: Vec<(String, String)>,
    /// The path asked for.
    pub path: String,
    /// `Host` (absolute links when no public address is configured).
    pub host: Option<String>,
}

impl Req {
    /// The last value of parameter `name`, if not empty.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .rev()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// The interface's words in the reader's language.
    pub fn words(&self) -> Words {
        Words(self.lang)
    }

    /// Refuses parameters a page does not take (a typo gets an answer, not
    /// a silently unfiltered page).
    pub fn only(&self, allowed: &[&str]) -> Result<(), WebError> {
        for (k, _) in &self.params {
            if k != "lang" && !allowed.contains(&k.as_str()) {
                return Err(WebError::Bad(self.words().named("error-unknown-param", k)));
            }
        }
        Ok(())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Req {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let params: Vec<(String, String)> = parts
            .uri
            .query()
            .map(|q| {
                form_urlencoded::parse(q.as_bytes())
                    .into_owned()
                    .take(64)
                    .collect()
            })
            .unwrap_or_default();
        let chosen = params
            .iter()
            .rev()
            .find(|(k, _)| k == "lang")
            .map(|(_, v)| v.as_str());
        fn header(h: &HeaderMap, n: header::HeaderName) -> Option<&str> {
            h.get(n).and_then(|v| v.to_str().ok())
        }
        let lang = Lang::negotiate(chosen, header(&parts.headers, header::ACCEPT_LANGUAGE));
        Ok(Req {
            lang,
            explicit: chosen.and_then(Lang::from_tag).is_some(),
            path: parts.uri.path().to_owned(),
            // HTTP/2 carries the host in the URI's authority, HTTP/1.1 in
            // `Host`.
            host: parts
                .uri
                .authority()
                .map(|a| a.to_string())
                .or_else(|| header(&parts.headers, header::HOST).map(str::to_owned)),
            params,
        })
    }
}

/// Why a page could not be shown.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebError {
    /// The request is malformed: the message says which part.
    #[error("{0}")]
    Bad(String),
    /// Nothing here by that name.
    #[error("not found")]
    NotFound,
    /// The node failed: logged, the reader sees a short message.
    #[error("{0}")]
    Internal(String),
}

impl From<yui_read::query::QueryError> for WebError {
    fn from(e: yui_read::query::QueryError) -> Self {
        match e {
            yui_read::query::QueryError::Bad(m) => WebError::Bad(m),
            other => WebError::Internal(other.to_string()),
        }
    }
}

impl From<askama::Error> for WebError {
    fn from(e: askama::Error) -> Self {
        WebError::Internal(format!("template: {e}"))
    }
}

/// Runs `f` on the blocking pool and answers with its page or the error
/// page in the reader's language.
async fn render<F>(site: Arc<Site>, req: Req, f: F) -> Response
where
    F: FnOnce(&Site, &Req) -> Result<Response, WebError> + Send + 'static,
{
    let r = req.clone();
    let s = site.clone();
    match tokio::task::spawn_blocking(move || f(&s, &r)).await {
        Ok(Ok(resp)) => resp,
        Ok(Err(e)) => pages::error_page(&site, &req, &e),
        Err(e) => pages::error_page(&site, &req, &WebError::Internal(format!("page task: {e}"))),
    }
}

/// An HTML answer in `lang`.
fn html(lang: Lang, body: String) -> Response {
    let mut r = (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response();
    r.headers_mut().insert(
        header::CONTENT_LANGUAGE,
        HeaderValue::from_static(lang.tag()),
    );
    r
}

fn status(code: StatusCode, r: Response) -> Response {
    let mut r = r;
    *r.status_mut() = code;
    r
}

/// Bytes of the stylesheet every page links (benchmarks add it to a page's
/// weight).
pub fn stylesheet_bytes() -> usize {
    assets::CSS.len()
}

mod assets {
    use super::*;
    use sha2::Digest;
    use std::sync::OnceLock;

    /// The stylesheet: the node's own, no web fonts.
    pub const CSS: &str = include_str!("../assets/yui.css");

    /// A digest of the stylesheet: pages link `?v=<it>`, so it can be
    /// cached for a year and still change with a release.
    pub fn version() -> &'static str {
        static V: OnceLock<String> = OnceLock::new();
        V.get_or_init(|| hex::encode(&sha2::Sha256::digest(CSS.as_bytes())[..6]))
    }

    pub async fn css(State(_): State<Arc<Site>>) -> Response {
        (
            [
                (header::CONTENT_TYPE, "text/css; charset=utf-8"),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            ],
            CSS,
        )
            .into_response()
    }
}
