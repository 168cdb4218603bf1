//! The public routes on the federation TLS port (no token): the exports
//! residents' and staff's tools subscribe to, and public metrics.
//!
//! Anyone who can reach the port can ask, so every request goes through a
//! [`PublicGate`]: a token bucket per client address (governor; one for
//! exports, one for metrics, so a scraper is not starved by a reader), then a
//! few rendering turns for the whole node (more wait briefly, then get 503
//! with `Retry-After`), then a cache keyed by the request, the store's
//! state and how far the index has got, so the same export is rendered
//! once per change, not per request.
//! Rendering runs on the blocking pool: it never holds an async worker, so
//! sessions keep being served while exports are built. `entries.json` is
//! paginated (`limit`, `cursor`; `Link: rel="next"` and `X-Total-Count`).

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tokio::sync::Semaphore;

use crate::admin::{self, AdminState, ExportQuery};

/// Requests per second one client address may make, with a burst of
/// [`BURST`].
const PER_SECOND: u32 = 5;
/// Burst per client address.
const BURST: u32 = 20;
/// Exports rendered at once on the whole node.
const TURNS: usize = 2;
/// How long a request waits for a turn before 503.
const TURN_WAIT: Duration = Duration::from_secs(5);
/// Rendered answers kept.
const CACHE_ENTRIES: usize = 64;
/// Default and largest page of `entries.json`.
pub const PAGE: usize = 500;
/// Largest page a client may ask for.
pub const MAX_PAGE: usize = yui_read::query::MAX_LIMIT;

/// Limits, turns and cache of the public routes (see the module notes).
pub struct PublicGate {
    per_client: DefaultKeyedRateLimiter<IpAddr>,
    /// Metrics have a budget of their own: a scraper behind the same
    /// address as a reader of exports is not starved by it.
    metrics_per_client: DefaultKeyedRateLimiter<IpAddr>,
    turns: Semaphore,
    cache: Mutex<HashMap<String, Cached>>,
}

#[derive(Clone)]
struct Cached {
    stamp: (u64, usize, u64),
    content_type: &'static str,
    body: Arc<String>,
    headers: Vec<(&'static str, String)>,
}

impl Default for PublicGate {
    fn default() -> Self {
        let quota = Quota::per_second(NonZeroU32::new(PER_SECOND).expect("non-zero"))
            .allow_burst(NonZeroU32::new(BURST).expect("non-zero"));
        Self {
            per_client: RateLimiter::keyed(quota),
            metrics_per_client: RateLimiter::keyed(quota),
            turns: Semaphore::new(TURNS),
            cache: Mutex::default(),
        }
    }
}

impl std::fmt::Debug for PublicGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublicGate").finish_non_exhaustive()
    }
}

/// The public routes: the exports (when `[http] public_exports`), public
/// metrics, and the pages (when `[http] pages`), each page request within
/// the client address's page budget.
pub fn router(state: AdminState) -> Router {
    let http = state.config.http.clone();
    let mut r = Router::new().route("/metrics", get(metrics));
    if http.public_exports {
        r = r.route("/export/{format}", get(export));
    }
    let mut r = r.with_state(state.clone());
    if state.config.federation.http1_serve {
        r = r.merge(crate::http1::router(state.clone()));
    }
    if http.pages {
        let workspace = state.config.staff.enabled.then(|| {
            Arc::new(crate::staff::NodeWorkspace::new(state.clone()))
                as Arc<dyn yui_web::staff::Workspace>
        });
        let site = yui_web::Site::with_workspace(
            state.read.clone(),
            yui_web::SiteOptions {
                name: state.config.name.clone(),
                public_url: http.public_url.clone(),
            },
            Arc::new(crate::pages::NodeOperator(state.clone())),
            workspace,
        );
        let budget = crate::pages::PageBudget::new(http.page_rate, http.page_burst);
        r = r.merge(
            yui_web::router(site).layer(axum::middleware::from_fn_with_state(
                budget,
                crate::pages::limit,
            )),
        );
    }
    r
}

/// The answer past a client's budget.
pub(crate) fn too_many() -> Response {
    refuse(
        StatusCode::TOO_MANY_REQUESTS,
        1,
        "too many requests from this address: retry later",
    )
}

pub(crate) fn client(req: &Request) -> Option<IpAddr> {
    req.extensions()
        .get::<yui_net::server::ConnInfo>()
        .map(|c| c.remote.ip())
}

fn refuse(status: StatusCode, retry_secs: u64, msg: &str) -> Response {
    let mut r = (status, format!("{msg}\n")).into_response();
    r.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from_str(&retry_secs.to_string()).expect("digits"),
    );
    r
}

/// Spends the client's token from `budget`; `Some` is the 429 answer.
pub(crate) fn over_budget(
    budget: &DefaultKeyedRateLimiter<IpAddr>,
    ip: Option<IpAddr>,
) -> Option<Response> {
    // Requests without a connection (in-process tests) share one bucket.
    let ip = ip.unwrap_or(IpAddr::from([0, 0, 0, 0]));
    budget.check_key(&ip).err().map(|_| too_many())
}

async fn metrics(State(s): State<AdminState>, req: Request) -> Response {
    if let Some(r) = over_budget(&s.public.metrics_per_client, client(&req)) {
        return r;
    }
    (
        [(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)],
        crate::metrics::render_public(&s.replica, &s.table, s.read.index().indexed()),
    )
        .into_response()
}

async fn export(
    State(s): State<AdminState>,
    Path(format): Path<String>,
    Query(q): Query<ExportQuery>,
    req: Request,
) -> Response {
    if let Some(r) = over_budget(&s.public.per_client, client(&req)) {
        return r;
    }
    // Public answers are pages, never the whole store at once.
    let q = ExportQuery {
        limit: Some(q.limit.unwrap_or(PAGE).clamp(1, MAX_PAGE)),
        ..q
    };
    let key = format!(
        "{format}|{:?}|{:?}|{:?}|{:?}",
        q.lang, q.author, q.limit, q.cursor
    );
    let stamp = match stamp(&s) {
        Ok(st) => st,
        Err(e) => return e.into_response(),
    };
    if let Some(c) = s.public.cache.lock().expect("cache").get(&key).cloned() {
        if c.stamp == stamp {
            return answer(c);
        }
    }
    let Ok(Ok(_turn)) = tokio::time::timeout(TURN_WAIT, s.public.turns.acquire()).await else {
        return refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            5,
            "the node is busy rendering exports: retry shortly",
        );
    };
    // Another request may have rendered it while this one waited.
    if let Some(c) = s.public.cache.lock().expect("cache").get(&key).cloned() {
        if c.stamp == stamp {
            return answer(c);
        }
    }
    let state = s.clone();
    let rendered = tokio::task::spawn_blocking(move || admin::render_export(&state, &format, &q))
        .await
        .expect("export task panicked");
    match rendered {
        Ok(r) => {
            let c = Cached {
                stamp,
                content_type: r.content_type,
                body: Arc::new(r.body),
                headers: r.headers,
            };
            let mut cache = s.public.cache.lock().expect("cache");
            if cache.len() >= CACHE_ENTRIES {
                cache.clear();
            }
            cache.insert(key, c.clone());
            answer(c)
        }
        Err(e) => e.into_response(),
    }
}

/// What the cache is valid for: the entries held and the operator's
/// roots (names and trust come from both).
fn stamp(s: &AdminState) -> Result<(u64, usize, u64), admin::AppError> {
    let store = s.replica.store();
    let entries = store.entry_count().map_err(admin::internal)?;
    let roots = store.trust_list().map_err(admin::internal)?.len();
    // An answer made while the index was still being built goes stale as
    // it catches up, even if the store holds nothing new.
    Ok((entries, roots, s.read.index().indexed()))
}

fn answer(c: Cached) -> Response {
    let mut r = (
        [
            (header::CONTENT_TYPE, c.content_type),
            (header::CACHE_CONTROL, "public, max-age=30"),
        ],
        c.body.as_str().to_owned(),
    )
        .into_response();
    for (k, v) in c.headers {
        if let Ok(v) = HeaderValue::from_str(&v) {
            r.headers_mut().insert(k, v);
        }
    }
    r
}
