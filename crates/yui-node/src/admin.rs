//! The local admin API: JSON over HTTP on loopback, bearer token from
//! `HOME/admin.token`. The CLI speaks only this.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query as Query_, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use yui_core::NodeId;
use yui_net::{LinkState, PeerManager, PeerTable};
use yui_store::PeerRecord;
use yui_sync::{now_ms, PublishError, Replica};

use crate::api::*;
use crate::config::Config;
use yui_read::ReadModel;

mod read;
use read::{query_error, typed};
pub(crate) use read::{render_export, ExportQuery};

/// Everything the handlers need.
#[derive(Clone)]
pub struct AdminState {
    /// The replica.
    pub replica: Arc<Replica>,
    /// Link states.
    pub table: Arc<PeerTable>,
    /// Dial loops.
    pub peers: Arc<PeerManager>,
    /// Node config.
    pub config: Arc<Config>,
    /// Bound federation address.
    pub federation_addr: String,
    /// Bearer token.
    pub token: Arc<String>,
    /// The home folder (key rotation writes the new key there).
    pub home: crate::home::Home,
    /// Asks `yui run` to restart the node (after a key rotation).
    pub restart: Arc<tokio::sync::Notify>,
    /// Long work in progress (backups, imports).
    pub progress: crate::progress::Progress,
    /// The read model: queries, search, exports.
    pub read: Arc<ReadModel>,
    /// Rate limits, turns and cache of the public routes.
    pub public: Arc<crate::public::PublicGate>,
    /// One aid step is checked and signed at a time.
    pub aid_turn: Arc<tokio::sync::Mutex<()>>,
    /// Accounts, sessions, audit log, notifier.
    pub staff: Arc<crate::staff::StaffDesk>,
    /// Nonces of HTTP/1.1 sync requests seen lately.
    pub http1_nonces: Arc<crate::http1::Nonces>,
    /// Restricted audiences and the keyring.
    pub audiences: Option<Arc<crate::audiences::Audiences>>,
}

/// An error answer: status and message, and for an aid step that does not
/// fit its thread, why (so pages can say it in the reader's language).
pub struct AppError {
    pub(crate) status: StatusCode,
    pub(crate) message: String,
    pub(crate) misfit: Option<yui_read::aid::Misfit>,
}

impl AppError {
    pub(crate) fn new(status: StatusCode, message: String) -> Self {
        Self {
            status,
            message,
            misfit: None,
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(ApiError {
                error: self.message,
            }),
        )
            .into_response()
    }
}

pub(crate) fn internal(e: impl std::fmt::Display) -> AppError {
    AppError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

fn bad(e: impl std::fmt::Display) -> AppError {
    AppError::new(StatusCode::BAD_REQUEST, e.to_string())
}

type ApiResult<T> = Result<Json<T>, AppError>;

/// The admin router.
pub fn router(state: AdminState) -> Router {
    let token = state.token.clone();
    Router::new()
        .route("/v1/status", get(status))
        .route("/v1/head", get(head))
        .route("/metrics", get(metrics))
        .route("/v1/trust", get(trust_list).post(trust_add))
        .route("/v1/trust/remove", post(trust_remove))
        .route("/v1/trust/effective", get(trust_effective))
        .route("/v1/peers", get(peer_list).post(peer_add))
        .route("/v1/peers/remove", post(peer_remove))
        .route("/v1/publish", post(publish))
        .route("/v1/key/rotate", post(key_rotate))
        .route("/v1/hold/release", post(hold_release))
        .route("/v1/bundle/export", post(bundle_export))
        .route("/v1/backup", post(backup))
        .route(
            "/v1/bundle/import",
            post(bundle_import).layer(axum::extract::DefaultBodyLimit::max(MAX_BUNDLE_BYTES)),
        )
        .merge(read::routes())
        .layer(axum::middleware::from_fn(
            move |req: Request, next: Next| {
                let token = token.clone();
                async move { authorize(&token, req, next).await }
            },
        ))
        .with_state(state)
}

/// Serves the admin API over TLS (a remote admin listener) until `cancel`.
pub async fn serve_tls(
    listener: tokio::net::TcpListener,
    tls: yui_net::tls::ServerTls,
    app: Router,
    cancel: tokio_util::sync::CancellationToken,
) {
    let mut cfg = (*tls.config).clone();
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
    loop {
        let (tcp, remote) = tokio::select! {
            _ = cancel.cancelled() => return,
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "admin accept failed");
                    continue;
                }
            },
        };
        let (acceptor, app, cancel) = (acceptor.clone(), app.clone(), cancel.clone());
        tokio::spawn(async move {
            let Ok(Ok(tls)) =
                tokio::time::timeout(std::time::Duration::from_secs(10), acceptor.accept(tcp))
                    .await
            else {
                tracing::debug!(%remote, "admin TLS handshake failed");
                return;
            };
            let service = hyper_util::service::TowerToHyperService::new(app);
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(tls), service);
            tokio::select! {
                _ = cancel.cancelled() => {}
                r = conn => if let Err(e) = r {
                    tracing::debug!(%remote, error = %e, "admin connection ended");
                },
            }
        });
    }
}

/// Rotates the node key: stage the new key, publish the countersigned
/// rotation with the old key (durable before it returns), swap the key files,
/// wait up to 30 s until every connected peer holds the rotation (it asked
/// for the new key: `PeerStatus::holds_rotation`; `peers_informed` counts
/// them), then restart the node under the new key. A crash at any step is
/// finished at the next start.
async fn key_rotate(State(s): State<AdminState>) -> ApiResult<serde_json::Value> {
    let old = s.replica.id();
    let new = yui_core::SecretKey::generate(&mut rand::rngs::OsRng);
    let new_id = NodeId::new(new.public_key());
    s.home.stage_next_key(&new).map_err(internal)?;
    let body = yui_core::Body::KeyRotation(yui_core::content::KeyRotation::new(&old, &new));
    let stored = s
        .replica
        .publish("key-rotation".into(), body, None)
        .await
        .map_err(|e| match e {
            PublishError::Invalid(_) => bad(e),
            other => AppError::new(StatusCode::CONFLICT, other.to_string()),
        })?;
    s.home.commit_next_key(now_ms()).map_err(internal)?;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    let informed = loop {
        let links = s.table.snapshot();
        let connected: Vec<_> = links
            .iter()
            .filter(|p| p.state == LinkState::Connected)
            .collect();
        let done = connected.iter().filter(|p| p.holds_rotation).count();
        if done == connected.len() || tokio::time::Instant::now() > deadline {
            break (done, connected.len());
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    tracing::info!(old = %old, new = %new_id, "key rotated; restarting under the new key");
    s.restart.notify_one();
    Ok(Json(serde_json::json!({
        "old": old,
        "new": new_id,
        "seq": stored.entry.seq,
        "peers_informed": informed.0,
        "peers_connected": informed.1,
    })))
}

async fn hold_release(State(s): State<AdminState>) -> ApiResult<serde_json::Value> {
    let was = s.replica.is_held();
    s.replica.release_hold();
    Ok(Json(serde_json::json!({ "released": was })))
}

/// Writes a backup of this running node into the folder named in the request
/// (default `HOME/backups/<time>`); answers with its manifest.
async fn backup(
    State(s): State<AdminState>,
    Json(req): Json<BackupRequest>,
) -> ApiResult<crate::backup::Manifest> {
    let dir = match req.dir {
        Some(d) if d.is_absolute() => d,
        Some(d) => return Err(bad(format!("{} is not an absolute path", d.display()))),
        None => s
            .home
            .root()
            .join("backups")
            .join(chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string()),
    };
    let st = s.clone();
    let manifest = tokio::task::spawn_blocking(move || {
        crate::backup::write_backup(&st.home, &st.config.name, &st.replica, &dir, &st.progress)
    })
    .await
    .map_err(internal)?
    .map_err(|e| match e {
        crate::backup::BackupError::NotEmpty(_) => bad(e.to_string()),
        e => internal(e),
    })?;
    tracing::info!(entries = manifest.entries, "backup written");
    Ok(Json(manifest))
}

/// Largest bundle accepted by the admin API.
pub const MAX_BUNDLE_BYTES: usize = 512 * 1024 * 1024;

async fn bundle_export(
    State(s): State<AdminState>,
    Json(req): Json<BundleExport>,
) -> Result<Response, AppError> {
    let since: HashMap<NodeId, u64> = req.since.iter().map(|h| (h.author, h.seq)).collect();
    let store = s.replica.store();
    let mut entries = Vec::new();
    for (author, head) in store.heads().map_err(internal)? {
        let mut next = since.get(&author).copied().unwrap_or(0) + 1;
        while next <= head.seq {
            let chunk = store.range(&author, next, 4096).map_err(internal)?;
            if chunk.is_empty() {
                break;
            }
            next += chunk.len() as u64;
            entries.extend(chunk);
        }
    }
    let info = yui_net::bundle::BundleInfo {
        exporter: s.replica.id(),
        created_at: now_ms(),
        since: req.since.iter().map(|h| (h.author, h.seq)).collect(),
    };
    let bytes = yui_net::bundle::write(&info, &entries);
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/octet-stream")],
        bytes,
    )
        .into_response())
}

async fn bundle_import(
    State(s): State<AdminState>,
    body: axum::body::Bytes,
) -> ApiResult<BundleImported> {
    let (info, entries, malformed) = yui_net::bundle::read(&body).map_err(bad)?;
    s.replica.count_malformed(malformed);
    let mut out = BundleImported {
        exporter: Some(info.exporter),
        entries: entries.len() + malformed,
        refused: malformed,
        ..Default::default()
    };
    // Each author's entries are in seq order; batches keep that order, so a
    // bundle imports in one pass.
    let task = s
        .progress
        .start("bundle import", Some(entries.len() as u64));
    // Signatures of the next batch are checked while the one before is
    // stored (`Replica::ingest_pipelined`), off the async reactor.
    let replica = s.replica.clone();
    let out = tokio::task::spawn_blocking(move || {
        let mut batches = Vec::new();
        let mut rest = entries;
        while !rest.is_empty() {
            let tail = rest.split_off(rest.len().min(512));
            batches.push(std::mem::replace(&mut rest, tail));
        }
        replica.ingest_pipelined(batches, true, |r| {
            out.accepted += r.accepted;
            out.duplicates += r.duplicates;
            out.forks += r.forks;
            out.gaps += r.gaps.len();
            out.refused += r.refused.len();
            task.add((r.accepted + r.duplicates + r.refused.len()) as u64);
            if out.first_refusal.is_none() {
                out.first_refusal = r.refused.first().map(|e| e.to_string());
            }
        })?;
        replica.store().flush()?;
        Ok::<_, yui_sync::ReplicaError>(out)
    })
    .await
    .map_err(internal)?
    .map_err(internal)?;
    Ok(Json(out))
}

async fn metrics(State(s): State<AdminState>) -> Response {
    typed(
        crate::metrics::CONTENT_TYPE,
        crate::metrics::render(&s.replica, &s.table, s.read.index().indexed()),
    )
}

async fn authorize(token: &str, req: Request, next: Next) -> Response {
    let given = req
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match given {
        Some(g) if constant_time_eq(g.as_bytes(), token.as_bytes()) => next.run(req).await,
        Some(_) => {
            AppError::new(StatusCode::UNAUTHORIZED, "wrong admin token".into()).into_response()
        }
        None => AppError::new(
            StatusCode::UNAUTHORIZED,
            "missing admin token: send Authorization: Bearer <contents of HOME/admin.token>".into(),
        )
        .into_response(),
    }
}

/// Whether `given` is the admin token (compared in constant time).
pub(crate) fn token_matches(given: &str, token: &str) -> bool {
    constant_time_eq(given.as_bytes(), token.as_bytes())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Display names (see [`yui_read::ReadModel::names`]).
pub(crate) fn names(s: &AdminState) -> Result<Arc<HashMap<NodeId, String>>, AppError> {
    s.read.names().map_err(query_error)
}

#[derive(Deserialize)]
struct HeadQuery {
    author: NodeId,
    /// Wait until the head is at least this seq …
    #[serde(default)]
    at_least: u64,
    /// … for at most this long (0: answer at once; at most 60 s).
    #[serde(default)]
    wait_ms: u64,
}

/// Longest `GET /v1/head` wait.
const MAX_HEAD_WAIT_MS: u64 = 60_000;

/// `GET /v1/head?author=&at_least=&wait_ms=`: one author's head here,
/// answered once it reaches `at_least` or the wait ends (scripts and
/// benchmarks wait on arrival without polling). Seq 0: nothing held.
async fn head(State(s): State<AdminState>, Query_(q): Query_<HeadQuery>) -> ApiResult<HeadView> {
    use yui_sync::ReplicaEvent;
    // Subscribed before the first read, so no head move falls in between.
    let mut events = s.replica.subscribe();
    let deadline =
        tokio::time::Instant::now() + Duration::from_millis(q.wait_ms.min(MAX_HEAD_WAIT_MS));
    loop {
        let h = s.replica.store().head(&q.author).map_err(internal)?;
        let seq = h.as_ref().map_or(0, |h| h.seq);
        if seq >= q.at_least || tokio::time::Instant::now() >= deadline {
            let arrived_at = match seq {
                0 => None,
                _ => s
                    .replica
                    .store()
                    .arrival(&q.author, seq)
                    .map_err(internal)?
                    .map(|a| a.at),
            };
            return Ok(Json(HeadView {
                author: q.author,
                name: names(&s)?.get(&q.author).cloned(),
                seq,
                id: h.map(|h| h.id.to_hex()).unwrap_or_default(),
                arrived_at,
            }));
        }
        // Read the store again only when this author's head moved (or
        // events were missed).
        loop {
            match tokio::time::timeout_at(deadline, events.recv()).await {
                Err(_) => break,
                Ok(Ok(ReplicaEvent::Head { author, .. })) if author == q.author => break,
                Ok(Ok(_)) => {}
                Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => break,
                Ok(Err(tokio::sync::broadcast::error::RecvError::Closed)) => {
                    return Err(internal("the node is stopping"))
                }
            }
        }
    }
}

async fn status(State(s): State<AdminState>) -> ApiResult<StatusView> {
    let names = names(&s)?;
    let store = s.replica.store();
    let mut heads: Vec<HeadView> = store
        .heads()
        .map_err(internal)?
        .into_iter()
        .map(|(author, h)| HeadView {
            author,
            name: names.get(&author).cloned(),
            seq: h.seq,
            id: h.id.to_hex(),
            arrived_at: None,
        })
        .collect();
    heads.sort_by(|a, b| a.name.cmp(&b.name));
    let forks = store
        .forks()
        .map_err(internal)?
        .into_iter()
        .map(|f| ForkView {
            author: f.author,
            seq: f.seq,
            existing: f.first.id().to_hex(),
            other: f.second.id().to_hex(),
        })
        .collect();
    Ok(Json(StatusView {
        node_id: s.replica.id(),
        name: s.config.name.clone(),
        role: format!("{:?}", s.config.role).to_lowercase(),
        code: s.config.code.clone(),
        version: env!("CARGO_PKG_VERSION").into(),
        federation_addr: s.federation_addr.clone(),
        engine: yui_store::EngineKind::of(&s.home.data_path()).to_string(),
        entries: store.entry_count().map_err(internal)?,
        entry_bytes: store.entry_bytes().map_err(internal)?,
        indexed: s.read.index().indexed(),
        heads,
        peers_connected: s.table.connected(),
        publishing_held: s.replica.is_held(),
        counters: s.replica.counters().snapshot(),
        forks,
        declined: s
            .replica
            .declined()
            .into_iter()
            .map(|(author, seq, reason)| crate::api::DeclinedView {
                author,
                seq,
                reason,
            })
            .collect(),
        tasks: s.progress.views(),
        catch_up: catch_up(&s.table.snapshot()),
    }))
}

async fn trust_list(State(s): State<AdminState>) -> ApiResult<Vec<TrustView>> {
    Ok(Json(
        s.replica
            .store()
            .trust_list()
            .map_err(internal)?
            .into_iter()
            .map(|(node_id, r)| TrustView {
                node_id,
                name: r.name,
                added_at: r.added_at,
            })
            .collect(),
    ))
}

async fn trust_effective(State(s): State<AdminState>) -> ApiResult<EffectiveTrustView> {
    let names = names(&s)?;
    let mut trusted = Vec::new();
    for (id, _) in s.replica.want_list().map_err(internal)? {
        if let Some(depth) = s.replica.trust_depth(&id) {
            trusted.push(EffectiveTrust {
                node_id: id,
                depth,
                name: names.get(&id).cloned(),
            });
        }
    }
    trusted.sort_by_key(|t| (t.depth, t.name.clone()));
    let mut revoked: Vec<NodeId> = Vec::new();
    for e in s
        .replica
        .current(yui_core::Kind::Revocation)
        .map_err(internal)?
    {
        if let yui_core::Body::Revocation(r) = &e.entry.body {
            if s.replica.is_revoked(&r.subject) && !revoked.contains(&r.subject) {
                revoked.push(r.subject);
            }
        }
    }
    Ok(Json(EffectiveTrustView { trusted, revoked }))
}

async fn trust_add(
    State(s): State<AdminState>,
    Json(req): Json<TrustAdd>,
) -> ApiResult<serde_json::Value> {
    if req.node_id == s.replica.id() {
        return Err(bad("a node always trusts itself"));
    }
    let added = s
        .replica
        .trust_add(req.node_id, &req.name)
        .map_err(internal)?;
    Ok(Json(serde_json::json!({ "added": added })))
}

async fn trust_remove(
    State(s): State<AdminState>,
    Json(req): Json<TrustRemove>,
) -> ApiResult<serde_json::Value> {
    let removed = s.replica.trust_remove(&req.node_id).map_err(internal)?;
    Ok(Json(serde_json::json!({ "removed": removed })))
}

async fn peer_list(State(s): State<AdminState>) -> ApiResult<Vec<PeerView>> {
    let names = names(&s)?;
    let quiet_after = 2 * s.config.federation.heartbeat_secs as i64 * 1000;
    let now = now_ms();
    Ok(Json(
        s.table
            .snapshot()
            .into_iter()
            .map(|p| {
                let state = match p.state {
                    LinkState::Connected
                        if p.last_seen_ms.is_some_and(|t| now - t > quiet_after) =>
                    {
                        "quiet"
                    }
                    LinkState::Connected => "connected",
                    LinkState::Connecting => "connecting",
                    LinkState::Backoff => "down",
                };
                let catch_up = link_catch_up(&p);
                PeerView {
                    direction: p.direction.into(),
                    addr: p.addr,
                    name: p.node_id.and_then(|id| names.get(&id).cloned()),
                    node_id: p.node_id,
                    state: state.into(),
                    last_seen_ms: p.last_seen_ms,
                    entries_sent: p.entries_sent,
                    entries_received: p.entries_received,
                    peer_behind: p.peer_behind,
                    missing: p.missing,
                    catch_up,
                    last_error: p.last_error,
                    next_attempt_ms: p.next_attempt_ms,
                }
            })
            .collect(),
    ))
}

/// Catch-up on one connected link: entries received this session of those
/// the peer holds beyond this node.
fn link_catch_up(p: &yui_net::PeerStatus) -> Option<crate::progress::ProgressView> {
    if p.state != LinkState::Connected || p.missing == 0 {
        return None;
    }
    let elapsed =
        std::time::Duration::from_millis(now_ms().saturating_sub(p.since_ms).max(0) as u64);
    Some(crate::progress::ProgressView::new(
        format!("catch-up from {}", p.addr),
        p.entries_received,
        Some(p.entries_received + p.missing),
        elapsed,
    ))
}

/// The link with the most left to fetch (peers often offer the same
/// entries, so the largest, not the sum, is what is left).
fn catch_up(links: &[yui_net::PeerStatus]) -> Option<crate::progress::ProgressView> {
    links
        .iter()
        .filter_map(link_catch_up)
        .max_by_key(|v| v.total.unwrap_or(0) - v.done)
}

async fn peer_add(
    State(s): State<AdminState>,
    Json(req): Json<PeerAdd>,
) -> ApiResult<serde_json::Value> {
    if req.addr.parse::<std::net::SocketAddr>().is_err() && !req.addr.contains(':') {
        return Err(bad(format!("{:?} is not HOST:PORT", req.addr)));
    }
    s.replica
        .store()
        .peer_put(&PeerRecord {
            addr: req.addr.clone(),
            node_id: req.node_id,
            added_at: now_ms(),
        })
        .map_err(internal)?;
    s.peers.add(req.addr, req.node_id);
    Ok(Json(serde_json::json!({ "added": true })))
}

async fn peer_remove(
    State(s): State<AdminState>,
    Json(req): Json<PeerRemove>,
) -> ApiResult<serde_json::Value> {
    let stored = s.replica.store().peer_remove(&req.addr).map_err(internal)?;
    let running = s.peers.remove(&req.addr);
    Ok(Json(serde_json::json!({ "removed": stored || running })))
}

async fn publish(
    State(s): State<AdminState>,
    Json(req): Json<PublishRequest>,
) -> ApiResult<Published> {
    let updating = req.object_id.as_ref().is_some_and(|o| {
        s.replica
            .store()
            .object(&s.replica.id(), o)
            .ok()
            .flatten()
            .is_some()
    });
    let stored = crate::publish::publish_for(
        &s,
        req.object_id,
        req.body,
        req.expires_at,
        &yui_core::audience::Readers {
            contact: req.contact_audience,
            shelter_location: req.shelter_audience,
        },
    )
    .await?;
    let action = match (&stored.entry.body, updating) {
        (yui_core::Body::Retraction(_), _) => "retract",
        (_, true) => "update",
        _ => "publish",
    };
    let record = yui_staff::audit::Record {
        at: now_ms(),
        user: "(admin token)".into(),
        action: action.into(),
        kind: stored.entry.body.kind().name().into(),
        object_id: stored.entry.object_id.clone(),
        entry: stored.id.to_hex(),
        addr: None,
        detail: String::new(),
    };
    if let Err(e) = s.staff.audit.append(&record) {
        tracing::error!(error = %e, "audit log not written");
    }
    Ok(Json(Published {
        id: stored.id.to_hex(),
        seq: stored.entry.seq,
        object_id: stored.entry.object_id,
    }))
}
