//! The staff workspace: sign-in, the inbox, composing and answering aid
//! requests, replies, publishing, the audit log.
//!
//! The node implements [`Workspace`] (accounts, sessions, the audit log,
//! signing on the staff member's behalf); pages here only render and read
//! forms. Every form carries the session's CSRF token and every POST is
//! refused without it, or when the browser says it came from another site
//! (`Sec-Fetch-Site`, `Origin`). The session cookie is `__Host-yui-staff`:
//! Secure, HttpOnly, SameSite=Lax, path `/`, no domain. Like every page,
//! the workspace works without JavaScript.

pub mod aid;
pub mod desk;
pub mod forms;
pub mod publish;
pub mod settings;
pub mod signin;

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;

use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use yui_core::{Body, Kind};

/// The session cookie's name (the `__Host-` prefix makes browsers insist
/// on Secure, path `/` and no domain).
pub const COOKIE: &str = "__Host-yui-staff";

/// The client's address, as the node's listener saw it (a request
/// extension the node sets).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub IpAddr);

/// A signed-in staff member.
#[derive(Debug, Clone)]
pub struct Staff {
    /// Sign-in name.
    pub name: String,
    /// Name shown.
    pub display: String,
    /// Role name (`viewer`, `editor`, `disaster`, `admin`).
    pub role: String,
    /// The session's form token.
    pub csrf: String,
    /// Kinds this member may publish.
    pub may: Vec<Kind>,
}

impl Staff {
    /// Whether this member may publish `kind`.
    pub fn may(&self, kind: Kind) -> bool {
        self.may.contains(&kind)
    }

    /// Whether this member reads the audit log.
    pub fn admin(&self) -> bool {
        self.role == "admin"
    }
}

/// The answer to a sign-in.
#[derive(Debug, Clone)]
pub enum SignIn {
    /// Signed in: the cookie token and the member.
    Ok(String, Staff),
    /// Name or password wrong (one answer, so names are not revealed).
    Wrong,
    /// Too many failures: locked for this many minutes.
    Locked(u64),
    /// Too many attempts from this address: wait a minute.
    Limited,
}

/// Why something could not be published.
#[derive(Debug, Clone)]
pub struct Refusal {
    /// The field at fault (`aid.lines.quantity`), when one is.
    pub field: Option<String>,
    /// What to fix, as the node said it.
    pub message: String,
    /// Why an aid step does not fit its thread, when that is the reason.
    pub misfit: Option<yui_read::aid::Misfit>,
}

/// What was published.
#[derive(Debug, Clone)]
pub struct Published {
    /// Entry id, hex.
    pub id: String,
    /// Object id.
    pub object_id: String,
}

/// One line of the audit log, for the page.
#[derive(Debug, Clone)]
pub struct AuditLine {
    /// Unix ms.
    pub at: i64,
    /// Account.
    pub user: String,
    /// What was done.
    pub action: String,
    /// Kind and object.
    pub what: String,
    /// Entry id.
    pub entry: String,
    /// From where.
    pub addr: String,
    /// The reason of a refusal.
    pub detail: String,
}

/// What a member asked to be told, and where (its e-mail address).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NotifyChoice {
    /// E-mail address.
    pub email: String,
    /// Topics: `alert`, `aid_request`, `aid_update`, `reply`, `call`.
    pub topics: Vec<String>,
    /// For alerts: this level or above.
    pub min_alert_level: u32,
    /// For calls: these policy areas (all when empty).
    pub policy_areas: Vec<String>,
    /// Drills too.
    pub exercises: bool,
}

/// A boxed future (the trait is used as an object).
pub type Pending<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What the node does for the workspace.
pub trait Workspace: Send + Sync + 'static {
    /// Checks a sign-in (runs argon2: called on the blocking pool).
    fn sign_in(&self, name: &str, password: &str, addr: Option<IpAddr>) -> SignIn;
    /// The live session of a cookie token.
    fn staff(&self, token: &str) -> Option<Staff>;
    /// Ends a session.
    fn sign_out(&self, token: &str, addr: Option<IpAddr>);
    /// Signs and stores `body` for `staff`, with the same checks as the
    /// admin API; logs it in the audit log. `readers`: who reads its
    /// restricted parts.
    fn publish<'a>(
        &'a self,
        staff: &'a Staff,
        addr: Option<IpAddr>,
        object_id: Option<String>,
        body: Body,
        readers: yui_core::audience::Readers,
    ) -> Pending<'a, Result<Published, Refusal>>;
    /// The newest `n` lines of the audit log.
    fn audit(&self, n: usize) -> Vec<AuditLine>;
    /// What `staff` asked to be told.
    fn notify_choice(&self, staff: &Staff) -> NotifyChoice;
    /// Sets it; the reason when a value is refused.
    fn set_notify_choice(
        &self,
        staff: &Staff,
        addr: Option<IpAddr>,
        choice: NotifyChoice,
    ) -> Result<(), String>;
}

/// The session token in a request's cookies.
pub fn token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_owned())
}

/// The `Set-Cookie` value starting a session.
pub fn session_cookie(token: &str) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{COOKIE}={token}; Path=/; Secure; HttpOnly; SameSite=Lax"
    ))
    .expect("token is URL-safe base64")
}

/// The `Set-Cookie` value ending it.
pub fn cleared_cookie() -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0"
    ))
    .expect("ascii")
}

/// A request's headers and client address (what the staff handlers need
/// besides [`crate::Req`]).
#[derive(Debug, Clone)]
pub struct Ctx {
    /// The headers.
    pub headers: HeaderMap,
    /// The client's address, when the listener knows it.
    pub addr: Option<IpAddr>,
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Ctx {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Ctx {
            headers: parts.headers.clone(),
            addr: parts.extensions.get::<ClientAddr>().map(|a| a.0),
        })
    }
}

/// Whether the form's token is the session's.
pub fn csrf_ok(staff: &Staff, f: &forms::Fields) -> bool {
    let sent = f.get("csrf");
    let (a, b) = (sent.as_bytes(), staff.csrf.as_bytes());
    !a.is_empty()
        && a.len() == b.len()
        && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether a POST may be acted on: the browser does not say it came from
/// another site. (The CSRF token is checked as well; this refuses forms
/// posted from other origins before anything is parsed.)
pub fn same_origin(h: &HeaderMap) -> bool {
    if let Some(site) = h.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return matches!(site, "same-origin" | "none");
    }
    match (h.get(header::ORIGIN), h.get(header::HOST)) {
        (Some(o), Some(host)) => {
            let (Ok(o), Ok(host)) = (o.to_str(), host.to_str()) else {
                return false;
            };
            o.split_once("://").is_some_and(|(_, rest)| rest == host)
        }
        // No Origin (an older browser, a test client): the token decides.
        _ => true,
    }
}

/// A POST from a signed-in member: the member and the form, or the
/// answer refusing it (not signed in, a bad form, no CSRF token, another
/// site's form).
pub(crate) fn posted(
    site: &crate::Site,
    req: &crate::Req,
    cx: &Ctx,
    body: &axum::body::Bytes,
) -> Result<(Staff, forms::Fields), Box<Response>> {
    let staff = desk::require(site, req, cx)?;
    let f = forms::Fields::parse(body).map_err(|e| {
        Box::new(crate::pages::error_page(
            site,
            req,
            &crate::WebError::Bad(e),
        ))
    })?;
    if !same_origin(&cx.headers) || !csrf_ok(&staff, &f) {
        return Err(Box::new(forbidden(
            "the form token is wrong or the form came from another site; reload the page",
        )));
    }
    Ok((staff, f))
}

/// The answer to a POST without a valid session or token.
pub fn forbidden(msg: &str) -> Response {
    (
        StatusCode::FORBIDDEN,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{msg}\n"),
    )
        .into_response()
}

/// A redirect after a POST (303, so the browser GETs it).
pub fn see_other(to: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}
