//! The admin API's read side: the read model's answers (entries, history,
//! aid threads, the inbox, suggestions, receipts, audiences) and the
//! exports, as JSON, iCalendar or CSV.

use axum::extract::{Path, Query as Query_, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use yui_core::NodeId;
use yui_sync::now_ms;

use super::{bad, internal, AdminState, ApiResult, AppError};
use crate::api::*;
use yui_read::export;
use yui_read::query::{Query, QueryError};
use yui_read::Page;

/// The read side's routes (under the admin API's token, like the rest).
pub(super) fn routes() -> Router<AdminState> {
    Router::new()
        .route("/v1/aid/thread", get(aid_thread))
        .route("/v1/aid/inbox", get(aid_inbox))
        .route("/v1/audiences", get(audiences))
        .route("/v1/aid/suggest", post(aid_suggest))
        .route("/v1/aid/receipt", get(aid_receipt))
        .route("/v1/entries", get(entries))
        .route("/v1/history", get(history))
        .route("/v1/export/{format}", get(export))
}

#[derive(Deserialize)]
struct ThreadQuery {
    root: yui_core::content::ObjectRef,
}

/// One aid thread: its request, each municipality's row, the totals.
async fn aid_thread(
    State(s): State<AdminState>,
    Query_(q): Query_<ThreadQuery>,
) -> ApiResult<yui_read::aid::Thread> {
    let t = tokio::task::spawn_blocking(move || s.read.aid_thread(&q.root))
        .await
        .map_err(internal)?
        .map_err(query_error)?;
    if t.opening.is_none() && t.steps.is_empty() {
        return Err(AppError::new(
            StatusCode::NOT_FOUND,
            format!("this node holds no aid thread {}", t.root),
        ));
    }
    Ok(Json(t))
}

/// Requests addressed to this node, newest first.
async fn aid_inbox(State(s): State<AdminState>) -> ApiResult<Vec<yui_read::EntryView>> {
    let me = s.replica.id();
    let inbox = tokio::task::spawn_blocking(move || s.read.aid_inbox(&me, 200))
        .await
        .map_err(internal)?
        .map_err(query_error)?;
    Ok(Json(inbox))
}

/// Every author's current audience epochs this node holds.
async fn audiences(
    State(s): State<AdminState>,
) -> ApiResult<Vec<yui_read::restricted::AudienceView>> {
    let list = tokio::task::spawn_blocking(move || s.read.audiences())
        .await
        .map_err(internal)?
        .map_err(query_error)?;
    Ok(Json(list))
}

#[derive(Deserialize)]
struct SuggestRequest {
    lines: Vec<yui_core::content::AidLine>,
}

/// Whom to ask for these lines, with the reasons.
async fn aid_suggest(
    State(s): State<AdminState>,
    Json(req): Json<SuggestRequest>,
) -> ApiResult<Vec<yui_read::aid::Suggestion>> {
    let me = s.replica.id();
    let out = tokio::task::spawn_blocking(move || s.read.suggest(&me, &req.lines, 20))
        .await
        .map_err(internal)?
        .map_err(query_error)?;
    Ok(Json(out))
}

#[derive(Deserialize)]
struct ReceiptQuery {
    root: yui_core::content::ObjectRef,
    offer: yui_core::content::ObjectRef,
}

/// The signed receipt of one offer.
async fn aid_receipt(
    State(s): State<AdminState>,
    Query_(q): Query_<ReceiptQuery>,
) -> ApiResult<yui_read::receipt::Receipt> {
    let r =
        tokio::task::spawn_blocking(move || yui_read::receipt::build(&s.read, &q.root, &q.offer))
            .await
            .map_err(internal)?
            .map_err(|e| AppError::new(StatusCode::NOT_FOUND, e))?;
    Ok(Json(r))
}

pub(super) fn query_error(e: QueryError) -> AppError {
    match e {
        QueryError::Bad(m) => bad(m),
        other => internal(other),
    }
}

/// One page of results (`limit`, `cursor`), with the total and, when asked
/// (`facets=true`), facet counts. Runs off the async workers: a query may
/// first index what was stored a moment ago. The operator is this node's
/// own: restricted text it opened is searched and shown.
async fn entries(State(s): State<AdminState>, Query_(mut q): Query_<Query>) -> ApiResult<Page> {
    q.restricted = true;
    let page = tokio::task::spawn_blocking(move || {
        let mut page = s.read.query(&q)?;
        s.read.reveal(&mut page.items)?;
        Ok::<_, QueryError>(page)
    })
    .await
    .map_err(internal)?
    .map_err(query_error)?;
    Ok(Json(page))
}

#[derive(Deserialize)]
struct HistoryQuery {
    author: NodeId,
    object_id: String,
}

async fn history(
    State(s): State<AdminState>,
    Query_(q): Query_<HistoryQuery>,
) -> ApiResult<Vec<EntryView>> {
    let mut versions = s
        .read
        .history(&q.author, &q.object_id)
        .map_err(query_error)?;
    s.read.reveal(&mut versions).map_err(query_error)?;
    Ok(Json(versions))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct ExportQuery {
    pub(crate) lang: Option<String>,
    pub(crate) author: Option<NodeId>,
    /// `entries.json`: entries per page (public routes: at most
    /// [`crate::public::MAX_PAGE`], [`crate::public::PAGE`] by default).
    pub(crate) limit: Option<usize>,
    /// `entries.json`: where the page starts (the `next` cursor of the page
    /// before, as in the `Link` header).
    pub(crate) cursor: Option<String>,
}

/// Readiness statuses in a rendered feed (the public `cap.atom`): the
/// newest.
pub(crate) const RENDERED_FEED_ENTRIES: usize = 500;

/// A rendered export.
pub(crate) struct Rendered {
    pub(crate) content_type: &'static str,
    pub(crate) body: String,
    /// Extra headers (pagination).
    pub(crate) headers: Vec<(&'static str, String)>,
}

pub(super) fn typed(content_type: &'static str, body: String) -> Response {
    ([(axum::http::header::CONTENT_TYPE, content_type)], body).into_response()
}

async fn export(
    State(s): State<AdminState>,
    Path(format): Path<String>,
    Query_(q): Query_<ExportQuery>,
) -> Result<Response, AppError> {
    let whole = match format.as_str() {
        "ical" | "calendar.ics" => Some(true),
        "json" | "entries.json" if q.limit.is_none() && q.cursor.is_none() => Some(false),
        _ => None,
    };
    if let Some(ical) = whole {
        return Ok(stream_export(s, ical, q));
    }
    let r = tokio::task::spawn_blocking(move || render_export(&s, &format, &q))
        .await
        .map_err(internal)??;
    let mut resp = typed(r.content_type, r.body);
    for (k, v) in r.headers {
        if let Ok(v) = axum::http::HeaderValue::from_str(&v) {
            resp.headers_mut().insert(k, v);
        }
    }
    Ok(resp)
}

/// A whole export (every event as iCalendar, or every entry as JSON),
/// streamed page by page from the index: memory stays that of one page
/// however many entries the node holds. A failure mid-way ends the body
/// early (the client sees a truncated transfer, never a partial file that
/// looks whole).
fn stream_export(s: AdminState, ical: bool, q: ExportQuery) -> Response {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, std::io::Error>>(4);
    tokio::task::spawn_blocking(move || {
        let lang = q.lang.clone().unwrap_or_else(|| "ja".into());
        let send = |chunk: String| tx.blocking_send(Ok(bytes::Bytes::from(chunk))).is_ok();
        let mut query = Query {
            kind: ical.then(|| "event".to_owned()),
            author: q.author,
            limit: Some(yui_read::query::MAX_LIMIT),
            ..Default::default()
        };
        let opened = if ical {
            export::ical::begin(&format!("yui: {}", s.config.name))
        } else {
            "[".to_owned()
        };
        if !send(opened) {
            return;
        }
        let mut first = true;
        loop {
            let page = match s.read.query(&query) {
                Ok(p) => p,
                Err(e) => {
                    tracing::error!(error = %e, "export stopped");
                    let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
                    return;
                }
            };
            let mut chunk = String::new();
            for v in &page.items {
                if ical {
                    chunk.push_str(&export::ical::vevent(v, &lang, None));
                } else {
                    if !first {
                        chunk.push_str(",\n");
                    }
                    first = false;
                    match serde_json::to_string(v) {
                        Ok(j) => chunk.push_str(&j),
                        Err(e) => {
                            let _ = tx.blocking_send(Err(std::io::Error::other(e)));
                            return;
                        }
                    }
                }
            }
            if !send(chunk) {
                return;
            }
            match page.next {
                Some(n) => query.cursor = Some(n),
                None => break,
            }
        }
        let _ = send(if ical {
            export::ical::end()
        } else {
            "]\n".to_owned()
        });
    });
    let content_type = if ical {
        "text/calendar; charset=utf-8"
    } else {
        "application/json"
    };
    let body = axum::body::Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx));
    ([(axum::http::header::CONTENT_TYPE, content_type)], body).into_response()
}

/// Renders one export (blocking: call off the async workers). `json` is
/// paginated when `q.limit` is given (public routes always give one).
pub(crate) fn render_export(
    s: &AdminState,
    format: &str,
    q: &ExportQuery,
) -> Result<Rendered, AppError> {
    let lang = q.lang.clone().unwrap_or_else(|| "ja".into());
    // A rendered export is bounded: the first `cap` results in the default
    // order (the whole calendar of a national relay streams from the admin
    // API instead).
    let first = |query: Query, cap: usize| s.read.first(&query, cap).map_err(query_error);
    let plain = |content_type, body| Rendered {
        content_type,
        body,
        headers: Vec::new(),
    };
    Ok(match format {
        "ical" | "calendar.ics" => plain(
            "text/calendar; charset=utf-8",
            export::ical::calendar(
                &first(
                    Query {
                        kind: Some("event".into()),
                        author: q.author,
                        from: Some(export::ical::subscription_from(now_ms())),
                        ..Default::default()
                    },
                    export::ical::SUBSCRIPTION_EVENTS,
                )?,
                &lang,
                &format!("yui: {}", s.config.name),
            ),
        ),
        "cap" | "cap.xml" => {
            let author = q.author.unwrap_or(s.replica.id());
            let list = first(
                Query {
                    kind: Some("readiness".into()),
                    author: Some(author),
                    ..Default::default()
                },
                1,
            )?;
            let newest = list.first().ok_or_else(|| {
                AppError::new(
                    StatusCode::NOT_FOUND,
                    format!("{author} has published no readiness status"),
                )
            })?;
            plain(
                "application/cap+xml; charset=utf-8",
                export::cap::document(newest).expect("readiness"),
            )
        }
        "atom" | "cap.atom" => plain(
            "application/atom+xml; charset=utf-8",
            export::atom::feed(
                &first(
                    Query {
                        kind: Some("readiness".into()),
                        author: q.author,
                        ..Default::default()
                    },
                    RENDERED_FEED_ENTRIES,
                )?,
                &s.replica.id(),
                &s.config.name,
                &lang,
            ),
        ),
        "json" | "entries.json" => {
            let page = s
                .read
                .query(&Query {
                    author: q.author,
                    limit: q.limit,
                    cursor: q.cursor.clone(),
                    ..Default::default()
                })
                .map_err(query_error)?;
            let mut headers = vec![("x-total-count", page.total.to_string())];
            if let Some(cursor) = &page.next {
                let mut next = format!("?cursor={cursor}");
                if let Some(l) = q.limit {
                    next.push_str(&format!("&limit={l}"));
                }
                if let Some(a) = q.author {
                    next.push_str(&format!("&author={a}"));
                }
                headers.push(("link", format!("<{next}>; rel=\"next\"")));
            }
            Rendered {
                content_type: "application/json",
                body: serde_json::to_string_pretty(&page.items).map_err(internal)?,
                headers,
            }
        }
        other => {
            return Err(bad(format!(
                "unknown export {other:?} (ical, cap, atom, json)"
            )))
        }
    })
}
