//! Sync over plain HTTP/1.1 requests, for a node whose only way out is a
//! proxy that speaks HTTP/1.1 alone or terminates TLS (the signed
//! handshake's TLS binding cannot survive either, and the Sync stream needs
//! HTTP/2 end to end).
//!
//! Both sides choose it in config: the serving node (a relay, typically)
//! sets `[federation] http1_serve = true`; the node behind the proxy lists
//! the peer in `[[federation.http1_peers]]`. Two calls, each a POST whose
//! body is protobuf from `federation.proto`:
//! - `/h1/v1/pull` with a `Want`: the answer is `Entries` beyond each head
//!   (at most [`MAX_ENTRIES`] and about 4 MiB, `X-Yui-More: 1` when there
//!   are more), and
//!   `X-Yui-Your-Head`, how far the server holds the caller's own log.
//!   `?wait=N` (at most [`MAX_WAIT_SECS`]) holds the answer until something
//!   new arrives: live push by long poll, which any proxy passes.
//! - `/h1/v1/push` with `Entries`: the server ingests them exactly as from a
//!   Sync peer.
//!
//! Every request is signed by the caller's node key over
//! `"yui/h1/v1\0" ‖ method ‖ 0x00 ‖ path ‖ 0x00 ‖ SHA-256(body) ‖ time (8
//! bytes, big-endian Unix ms) ‖ nonce (16 bytes)`, in `X-Yui-Node`,
//! `X-Yui-Time`, `X-Yui-Nonce`, `X-Yui-Signature`; the server refuses a
//! caller it does not trust, a time more than [`MAX_SKEW_MS`] away, a nonce
//! it has seen, a bad signature. The reduced guarantee (SECURITY.md): the
//! proxy reads everything and can withhold or delay it, but it cannot forge
//! an entry (each is signed by its author), pass as the caller (each request
//! is signed), or replay a request; the server's answers are not signed, so
//! the caller cannot tell the server from the proxy, and learns only what
//! signed entries prove.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use prost::Message;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;
use yui_core::{NodeId, SecretKey, Signature, SignedEntry};
use yui_proto::v1 as pb;
use yui_sync::{now_ms, Replica, ReplicaEvent};

use crate::admin::AdminState;

/// The signing domain of requests.
pub const DOMAIN: &[u8] = b"yui/h1/v1\0";
/// How far a request's time may be from the server's clock.
pub const MAX_SKEW_MS: i64 = 5 * 60 * 1000;
/// Entries in one answer or push at most.
pub const MAX_ENTRIES: usize = 2048;
/// Longest long poll.
pub const MAX_WAIT_SECS: u64 = 25;
/// Largest request body (axum's default limit is the same).
const MAX_BODY: usize = 2 * 1024 * 1024;
/// What one push carries at most, in bytes.
const PUSH_BYTES: usize = 1024 * 1024;
/// What one pull answer carries at most, in bytes (about).
const PULL_BYTES: usize = 4 * 1024 * 1024;

/// A peer reached over HTTP/1.1 (`[[federation.http1_peers]]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Http1Peer {
    /// Where the peer answers, as the proxy makes it reachable
    /// (`https://relay.pref.example.jp` or the proxy's own address).
    pub url: String,
    /// The peer's node id (whose entries this node wants, like any trusted
    /// author's).
    pub node_id: NodeId,
    /// Extra CA certificates (PEM) to trust for `url`: a TLS-terminating
    /// proxy's own CA.
    #[serde(default)]
    pub ca_file: Option<std::path::PathBuf>,
}

/// What a caller's request is signed over.
pub fn signing_message(
    method: &str,
    path: &str,
    body: &[u8],
    time: i64,
    nonce: &[u8; 16],
) -> Vec<u8> {
    let mut m = Vec::with_capacity(DOMAIN.len() + method.len() + path.len() + 60);
    m.extend_from_slice(DOMAIN);
    m.extend_from_slice(method.as_bytes());
    m.push(0);
    m.extend_from_slice(path.as_bytes());
    m.push(0);
    m.extend_from_slice(&Sha256::digest(body));
    m.extend_from_slice(&time.to_be_bytes());
    m.extend_from_slice(nonce);
    m
}

/// Nonces seen in the last `2 × MAX_SKEW_MS`, so no request is taken twice.
#[derive(Debug, Default)]
pub struct Nonces(Mutex<HashMap<[u8; 16], i64>>);

impl Nonces {
    /// Records `nonce`; false if it was seen.
    fn fresh(&self, nonce: [u8; 16], now: i64) -> bool {
        let mut m = self.0.lock().expect("nonces lock");
        if m.len() > 100_000 {
            m.retain(|_, t| now - *t < 2 * MAX_SKEW_MS);
        }
        if m.contains_key(&nonce) {
            return false;
        }
        m.insert(nonce, now);
        true
    }
}

fn refuse(code: StatusCode, msg: impl Into<String>) -> Response {
    (code, format!("{}\n", msg.into())).into_response()
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// The caller of a signed request, or the answer refusing it.
fn authenticate(
    s: &AdminState,
    h: &HeaderMap,
    path: &str,
    body: &[u8],
) -> Result<NodeId, Box<Response>> {
    let bad = |m: &str| Box::new(refuse(StatusCode::UNAUTHORIZED, m));
    let node: NodeId = header(h, "x-yui-node")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| bad("X-Yui-Node: a node id is required"))?;
    let time: i64 = header(h, "x-yui-time")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| bad("X-Yui-Time: Unix milliseconds are required"))?;
    let nonce: [u8; 16] = header(h, "x-yui-nonce")
        .and_then(|v| hex::decode(v).ok())
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| bad("X-Yui-Nonce: 16 bytes, hex, are required"))?;
    let sig = header(h, "x-yui-signature")
        .and_then(|v| hex::decode(v).ok())
        .and_then(|v| Signature::from_slice(&v).ok())
        .ok_or_else(|| bad("X-Yui-Signature: 64 bytes, hex, are required"))?;
    let now = now_ms();
    if (now - time).abs() > MAX_SKEW_MS {
        return Err(bad(
            "X-Yui-Time is more than five minutes from this node's clock",
        ));
    }
    node.public_key()
        .verify(&signing_message("POST", path, body, time, &nonce), &sig)
        .map_err(|_| bad("the signature does not verify"))?;
    // Once signed, a request is spent, whatever comes of it.
    if !s.http1_nonces.fresh(nonce, now) {
        return Err(bad("this request was seen before"));
    }
    if !s.replica.is_trusted(&node) {
        return Err(Box::new(refuse(
            StatusCode::FORBIDDEN,
            format!("{node} is not trusted here"),
        )));
    }
    Ok(node)
}

/// The HTTP/1.1 sync routes (mounted on the public port when
/// `[federation] http1_serve` is on).
pub fn router(state: AdminState) -> Router {
    Router::new()
        .route("/h1/v1/pull", post(pull))
        .route("/h1/v1/push", post(push))
        .with_state(state)
}

#[derive(Deserialize)]
struct PullQuery {
    #[serde(default)]
    wait: u64,
}

/// Entries beyond `heads` that this node may share, at most `MAX_ENTRIES`.
fn beyond(replica: &Replica, heads: &[(NodeId, u64)]) -> Result<(Vec<SignedEntry>, bool), String> {
    let mut out = Vec::new();
    let mut bytes = 0;
    let store = replica.store();
    for (author, seq) in heads {
        if !(replica.is_trusted(author) || *author == replica.id()) {
            continue;
        }
        let room = MAX_ENTRIES - out.len();
        if room == 0 || bytes >= PULL_BYTES {
            return Ok((out, true));
        }
        let have = store
            .head(author)
            .map_err(|e| e.to_string())?
            .map_or(0, |h| h.seq);
        if have <= *seq {
            continue;
        }
        let chunk = store
            .range(author, seq + 1, room)
            .map_err(|e| e.to_string())?;
        let all = (have - seq) as usize <= chunk.len();
        for e in chunk {
            // About 4 MiB an answer; the rest comes with the next pull.
            if bytes + e.entry.len() > PULL_BYTES && !out.is_empty() {
                return Ok((out, true));
            }
            bytes += e.entry.len() + 80;
            out.push(e);
        }
        if !all {
            return Ok((out, true));
        }
    }
    Ok((out, false))
}

async fn pull(
    State(s): State<AdminState>,
    Query(q): Query<PullQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if body.len() > MAX_BODY {
        return refuse(StatusCode::PAYLOAD_TOO_LARGE, "the Want is too large");
    }
    let node = match authenticate(&s, &headers, "/h1/v1/pull", &body) {
        Ok(n) => n,
        Err(r) => return *r,
    };
    let Ok(want) = pb::Want::decode(body.as_ref()) else {
        return refuse(StatusCode::BAD_REQUEST, "the body is not a yui.v1.Want");
    };
    let heads: Vec<(NodeId, u64)> = want
        .heads
        .iter()
        .filter_map(|h| Some((NodeId::from_bytes(&h.author).ok()?, h.seq)))
        .collect();
    let wait = Duration::from_secs(q.wait.min(MAX_WAIT_SECS));
    let deadline = tokio::time::Instant::now() + wait;
    let mut events = s.replica.subscribe();
    let (entries, more) = loop {
        let r = s.replica.clone();
        let h = heads.clone();
        let found = tokio::task::spawn_blocking(move || beyond(&r, &h)).await;
        let (entries, more) = match found {
            Ok(Ok(x)) => x,
            Ok(Err(e)) => return refuse(StatusCode::INTERNAL_SERVER_ERROR, e),
            Err(e) => return refuse(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        };
        if !entries.is_empty() || tokio::time::Instant::now() >= deadline {
            break (entries, more);
        }
        // Long poll: until a head moves, or the wait is over.
        let wanted = |a: &NodeId| heads.iter().any(|(h, _)| h == a);
        loop {
            match tokio::time::timeout_at(deadline, events.recv()).await {
                Err(_) => break,
                Ok(Ok(ReplicaEvent::Head { author, .. })) if wanted(&author) => break,
                Ok(Err(tokio::sync::broadcast::error::RecvError::Closed)) => break,
                Ok(_) => continue,
            }
        }
    };
    let your_head = s
        .replica
        .store()
        .head(&node)
        .ok()
        .flatten()
        .map_or(0, |h| h.seq);
    let out = pb::Entries {
        entries: entries.iter().map(yui_net::codec::signed_to_pb).collect(),
    };
    let mut r = (
        [("content-type", "application/x-protobuf")],
        out.encode_to_vec(),
    )
        .into_response();
    let h = r.headers_mut();
    h.insert("x-yui-your-head", HeaderValue::from(your_head));
    if more {
        h.insert("x-yui-more", HeaderValue::from_static("1"));
    }
    r
}

async fn push(State(s): State<AdminState>, headers: HeaderMap, body: Bytes) -> Response {
    if body.len() > MAX_BODY {
        return refuse(StatusCode::PAYLOAD_TOO_LARGE, "too many entries at once");
    }
    let node = match authenticate(&s, &headers, "/h1/v1/push", &body) {
        Ok(n) => n,
        Err(r) => return *r,
    };
    let Ok(batch) = pb::Entries::decode(body.as_ref()) else {
        return refuse(StatusCode::BAD_REQUEST, "the body is not yui.v1.Entries");
    };
    if batch.entries.len() > MAX_ENTRIES {
        return refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("at most {MAX_ENTRIES} entries at once"),
        );
    }
    let entries: Vec<SignedEntry> = batch
        .entries
        .into_iter()
        .filter_map(|e| yui_net::codec::signed_from_pb(e).ok())
        .collect();
    match s.replica.ingest_from(node, false, entries).await {
        Ok(report) => axum::Json(serde_json::json!({
            "accepted": report.accepted,
            "duplicates": report.duplicates,
            "refused": report.refused.len(),
        }))
        .into_response(),
        Err(e) => refuse(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// The caller's side: keeps this node in sync with `peer` over HTTP/1.1
/// until `cancel`.
pub struct Http1Link {
    replica: Arc<Replica>,
    key: SecretKey,
    peer: Http1Peer,
    http: reqwest::Client,
}

impl Http1Link {
    /// A link to `peer`, signing with `key` (this node's).
    pub fn new(replica: Arc<Replica>, key: SecretKey, peer: Http1Peer) -> anyhow::Result<Self> {
        let mut b = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(MAX_WAIT_SECS + 30))
            .http1_only()
            .user_agent(concat!("yui/", env!("CARGO_PKG_VERSION")));
        if let Some(ca) = &peer.ca_file {
            let pem = std::fs::read(ca)
                .map_err(|e| anyhow::anyhow!("http1_peers ca_file {}: {e}", ca.display()))?;
            for cert in reqwest::Certificate::from_pem_bundle(&pem)? {
                b = b.add_root_certificate(cert);
            }
        }
        Ok(Self {
            replica,
            key,
            peer,
            http: b.build()?,
        })
    }

    async fn call(
        &self,
        path: &str,
        query: &str,
        body: Vec<u8>,
    ) -> anyhow::Result<reqwest::Response> {
        use rand::RngCore;
        let time = now_ms();
        let mut nonce = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let sig = self
            .key
            .sign(&signing_message("POST", path, &body, time, &nonce));
        let url = format!("{}{path}{query}", self.peer.url.trim_end_matches('/'));
        let r = self
            .http
            .post(url)
            .header("content-type", "application/x-protobuf")
            .header("x-yui-node", self.replica.id().to_string())
            .header("x-yui-time", time.to_string())
            .header("x-yui-nonce", hex::encode(nonce))
            .header("x-yui-signature", hex::encode(sig.0))
            .body(body)
            .send()
            .await?;
        if !r.status().is_success() {
            let status = r.status();
            let text = r.text().await.unwrap_or_default();
            anyhow::bail!("{} answered {status}: {}", self.peer.url, text.trim());
        }
        Ok(r)
    }

    /// One pull: what the peer has beyond this node's heads. Returns the
    /// peer's head of this node's own log and whether more is waiting.
    async fn pull_once(&self, wait: u64) -> anyhow::Result<(u64, bool)> {
        let want = pb::Want {
            heads: self
                .replica
                .want_list()?
                .into_iter()
                .map(|(a, seq)| pb::Head {
                    author: a.as_bytes().to_vec(),
                    seq,
                })
                .collect(),
            ..Default::default()
        };
        let query = if wait > 0 {
            format!("?wait={wait}")
        } else {
            String::new()
        };
        let r = self
            .call("/h1/v1/pull", &query, want.encode_to_vec())
            .await?;
        let your_head = r
            .headers()
            .get("x-yui-your-head")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let more = r.headers().contains_key("x-yui-more");
        let body = r.bytes().await?;
        let batch = pb::Entries::decode(body.as_ref())?;
        let entries: Vec<SignedEntry> = batch
            .entries
            .into_iter()
            .filter_map(|e| yui_net::codec::signed_from_pb(e).ok())
            .collect();
        if !entries.is_empty() {
            let n = entries.len();
            let report = self
                .replica
                .ingest_from(self.peer.node_id, false, entries)
                .await?;
            tracing::debug!(url = %self.peer.url, received = n, accepted = report.accepted, "http1 pull");
        }
        Ok((your_head, more))
    }

    /// Sends this node's own entries beyond `their_head`.
    async fn push_own(&self, their_head: u64) -> anyhow::Result<u64> {
        let me = self.replica.id();
        let mut head = their_head;
        loop {
            let mut own = self.replica.store().range(&me, head + 1, MAX_ENTRIES)?;
            if own.is_empty() {
                return Ok(head);
            }
            // At most about a MiB a request (the server takes 2 MiB): a log
            // of large entries goes in several.
            let mut size = 0;
            let fits = own
                .iter()
                .take_while(|e| {
                    size += e.entry.len() + 80;
                    size <= PUSH_BYTES
                })
                .count()
                .max(1);
            own.truncate(fits);
            let last = head + own.len() as u64;
            let body = pb::Entries {
                entries: own.iter().map(yui_net::codec::signed_to_pb).collect(),
            };
            self.call("/h1/v1/push", "", body.encode_to_vec()).await?;
            head = last;
        }
    }

    /// Runs until `cancel`: catch-up, then a long poll for what arrives at
    /// the peer and a push of every own entry as it is published.
    pub async fn run(self, cancel: CancellationToken) {
        let link = Arc::new(self);
        let mut failures = 0u32;
        let backoff = yui_net::Backoff::default();
        let mut their_head: Option<u64> = None;
        let mut events = link.replica.subscribe();
        loop {
            let step = async {
                // Catch up, then wait for news on either side.
                let (head, more) = link.pull_once(0).await?;
                let head = link.push_own(their_head.unwrap_or(head).max(head)).await?;
                if more {
                    return Ok::<_, anyhow::Error>(Some(head));
                }
                let me = link.replica.id();
                let poll = link.pull_once(MAX_WAIT_SECS);
                tokio::pin!(poll);
                loop {
                    tokio::select! {
                        r = &mut poll => {
                            let (h, _) = r?;
                            return Ok(Some(h.max(head)));
                        }
                        ev = events.recv() => {
                            if let Ok(ReplicaEvent::Head { author, .. }) = ev {
                                if author == me {
                                    let h = link.push_own(head).await?;
                                    return Ok(Some(h));
                                }
                            }
                        }
                    }
                }
            };
            tokio::select! {
                () = cancel.cancelled() => return,
                r = step => match r {
                    Ok(h) => {
                        failures = 0;
                        their_head = h;
                    }
                    Err(e) => {
                        failures += 1;
                        their_head = None;
                        let wait = backoff.delay(failures);
                        tracing::warn!(url = %link.peer.url, error = format!("{e:#}"), retry_in = ?wait, "http1 sync failed");
                        tokio::select! {
                            () = cancel.cancelled() => return,
                            _ = tokio::time::sleep(wait) => {}
                        }
                    }
                }
            }
        }
    }
}
