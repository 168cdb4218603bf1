//! The JSON API beside the pages (`/api/v1/…`), public and read-only, and
//! its OpenAPI document (`/api/openapi.json`), generated from these
//! handlers and the read model's types (utoipa), so the document cannot
//! drift from the code. Errors are JSON `{"error": "…"}` with 400 or 404.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};
use yui_read::query::Query;
use yui_read::{EntryView, Page, Snippet};

use crate::i18n::Lang;
use crate::{Site, WebError};

/// An error: what was wrong.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiError {
    /// The message.
    pub error: String,
}

/// One object: its current version and every version.
#[derive(Debug, Serialize, ToSchema)]
pub struct EntryHistory {
    /// The current version (a retraction when it was withdrawn).
    pub current: EntryView,
    /// Every version, oldest first.
    pub history: Vec<EntryView>,
}

/// A member of the network.
#[derive(Debug, Serialize, ToSchema)]
pub struct NetworkMember {
    /// Node id.
    pub id: String,
    /// Name (Japanese when it has one).
    pub name: String,
    /// Local government code.
    pub code: String,
    /// Profile kind.
    pub kind: Option<String>,
    /// It endorses others (a relay).
    pub relay: bool,
    /// Who endorsed it.
    pub endorsed_by: Vec<String>,
}

/// A tie between two members.
#[derive(Debug, Serialize, ToSchema)]
pub struct NetworkTie {
    /// One side (node id).
    pub a: String,
    /// The other side.
    pub b: String,
    /// sister_city, friendship, mutual_aid or network.
    pub kind: String,
    /// Both sides stated it.
    pub active: bool,
    /// Since, as stated.
    pub since: String,
}

/// Members and ties.
#[derive(Debug, Serialize, ToSchema)]
pub struct Network {
    /// Everyone known.
    pub members: Vec<NetworkMember>,
    /// Every tie once per pair and kind.
    pub ties: Vec<NetworkTie>,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "yui node",
        version = "1",
        description = "What a yui node holds: the current entries of every municipality it trusts, read-only. Every node serves the same API for everything it holds.",
        license(name = "Apache-2.0"),
        contact(name = "The operator of this node")
    ),
    paths(entries, entry, board, network),
    components(schemas(
        Page,
        EntryView,
        Snippet,
        EntryHistory,
        Network,
        NetworkMember,
        NetworkTie,
        ApiError
    ))
)]
struct Doc;

fn error(code: StatusCode, msg: impl Into<String>) -> Response {
    (code, Json(ApiError { error: msg.into() })).into_response()
}

async fn blocking<T: Serialize + Send + 'static>(
    f: impl FnOnce() -> Result<T, WebError> + Send + 'static,
) -> Response {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => ([(header::CACHE_CONTROL, "no-cache")], Json(v)).into_response(),
        Ok(Err(WebError::Bad(m))) => error(StatusCode::BAD_REQUEST, m),
        Ok(Err(WebError::NotFound)) => error(StatusCode::NOT_FOUND, "no such object here"),
        Ok(Err(WebError::Internal(m))) => {
            tracing::error!(error = %m, "API request failed");
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the node failed; see its log",
            )
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, format!("task: {e}")),
    }
}

/// `GET /api/openapi.json`.
pub async fn openapi() -> Response {
    Json(Doc::openapi()).into_response()
}

/// Current entries: filters, text search, facets, pages by cursor.
#[utoipa::path(
    get,
    path = "/api/v1/entries",
    params(Query),
    responses(
        (status = 200, description = "One page of results", body = Page),
        (status = 400, description = "A parameter is malformed", body = ApiError),
        (status = 429, description = "Too many requests from this address"),
        (status = 503, description = "The node is busy"),
    )
)]
pub async fn entries(State(site): State<Arc<Site>>, RawQuery(raw): RawQuery) -> Response {
    let q: Query = match serde_urlencoded::from_str(raw.as_deref().unwrap_or("")) {
        Ok(q) => q,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("query: {e}")),
    };
    blocking(move || Ok(site.read.query(&q)?)).await
}

/// One object, current version and history.
#[utoipa::path(
    get,
    path = "/api/v1/entries/{author}/{object}",
    params(
        ("author" = String, Path, description = "The author's node id (yui1…)"),
        ("object" = String, Path, description = "The object id"),
    ),
    responses(
        (status = 200, description = "The object", body = EntryHistory),
        (status = 400, description = "The node id is malformed", body = ApiError),
        (status = 404, description = "This node holds no such object", body = ApiError),
        (status = 429, description = "Too many requests from this address"),
        (status = 503, description = "The node is busy"),
    )
)]
pub async fn entry(
    State(site): State<Arc<Site>>,
    Path((author, object)): Path<(String, String)>,
) -> Response {
    blocking(move || {
        let author: yui_core::NodeId = author
            .parse()
            .map_err(|e| WebError::Bad(format!("author: {e}")))?;
        let current = site
            .read
            .object(&author, &object)?
            .ok_or(WebError::NotFound)?;
        let history = site.read.history(&author, &object)?;
        Ok(EntryHistory { current, history })
    })
    .await
}

/// Readiness statuses per page of the board's JSON.
const BOARD_PAGE: usize = 100;

/// Query of `/api/v1/board`.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct BoardQuery {
    /// Page, from 1 (100 statuses a page).
    #[param(minimum = 1)]
    page: Option<usize>,
}

/// Current readiness of every municipality, most urgent first (fresh
/// before stale, then alert level, then the newest), 100 a page.
#[utoipa::path(
    get,
    path = "/api/v1/board",
    params(BoardQuery),
    responses(
        (status = 200, description = "Readiness entries of this page", body = Vec<EntryView>),
        (status = 400, description = "A parameter is malformed", body = ApiError),
        (status = 429, description = "Too many requests from this address"),
        (status = 503, description = "The node is busy"),
    )
)]
pub async fn board(State(site): State<Arc<Site>>, RawQuery(raw): RawQuery) -> Response {
    let q: BoardQuery = match serde_urlencoded::from_str(raw.as_deref().unwrap_or("")) {
        Ok(q) => q,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("query: {e}")),
    };
    let page = q.page.unwrap_or(1);
    if page == 0 {
        return error(StatusCode::BAD_REQUEST, "page: from 1");
    }
    blocking(move || {
        let counts = crate::pages::board::counts(&site)?;
        let from = (page - 1).saturating_mul(BOARD_PAGE);
        let total: u64 = counts.iter().sum();
        if from as u64 >= total.max(1) && page > 1 {
            return Err(WebError::Bad(format!(
                "page: {page} is past the last ({})",
                (total as usize).div_ceil(BOARD_PAGE).max(1)
            )));
        }
        crate::pages::board::slice(&site, &counts, from..from + BOARD_PAGE)
    })
    .await
}

/// Members (profiles, endorsements) and their ties.
#[utoipa::path(
    get,
    path = "/api/v1/network",
    responses(
        (status = 200, description = "The network", body = Network),
        (status = 429, description = "Too many requests from this address"),
        (status = 503, description = "The node is busy"),
    )
)]
pub async fn network(State(site): State<Arc<Site>>) -> Response {
    blocking(move || {
        let dir = site.directory()?;
        let members = dir
            .all()
            .filter_map(|m| {
                let id = m.id?;
                Some(NetworkMember {
                    id: id.to_string(),
                    name: dir.name(&id, Lang::Ja).text,
                    code: m.code.clone(),
                    kind: m.kind.map(|k| crate::text::wire(&k)),
                    relay: m.relay,
                    endorsed_by: m.endorsed_by.iter().map(|e| e.to_string()).collect(),
                })
            })
            .collect();
        let ties = crate::pages::network::ties(&site, None)?
            .into_iter()
            .map(|t| NetworkTie {
                a: t.a.to_string(),
                b: t.b.to_string(),
                kind: t.kind,
                active: t.active,
                since: t.since,
            })
            .collect();
        Ok(Network { members, ties })
    })
    .await
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_document_names_every_route_and_its_errors() {
        use utoipa::OpenApi;
        let doc = serde_json::to_value(super::Doc::openapi()).unwrap();
        let paths = doc["paths"].as_object().unwrap();
        for p in [
            "/api/v1/entries",
            "/api/v1/entries/{author}/{object}",
            "/api/v1/board",
            "/api/v1/network",
        ] {
            assert!(paths.contains_key(p), "{p} missing");
        }
        let params = doc["paths"]["/api/v1/entries"]["get"]["parameters"]
            .as_array()
            .unwrap();
        let names: Vec<_> = params.iter().map(|p| p["name"].as_str().unwrap()).collect();
        for n in ["kind", "q", "limit", "cursor", "facets", "author"] {
            assert!(names.contains(&n), "parameter {n} missing: {names:?}");
        }
        assert!(doc["components"]["schemas"]["EntryView"].is_object());
    }
}
