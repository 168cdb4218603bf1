//! The listening side: TLS accept loop feeding tonic, and the `Federation`
//! service.
//!
//! We terminate TLS ourselves (tokio-rustls) rather than through tonic so that
//! each connection carries its certificate [`Binding`] ([`ConnInfo::binding`])
//! into the request extensions, where the handshake binds to it.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::transport::server::Connected;
use tonic::{Request, Response, Status, Streaming};
use tracing::Instrument;
use yui_core::NodeId;
use yui_proto::v1 as pb;
use yui_proto::v1::federation_server::{Federation, FederationServer};
use yui_sync::{Counters, Replica};

use crate::codec::{node_id_from_pb, signed_to_pb};
use crate::handshake::{self, HandshakeError};
use crate::peers::PeerTable;
use crate::session::{self, Outbound, SessionConfig};
use crate::tls::{peer_cert_digest, Binding, ServerTls};
use crate::MAX_MESSAGE_BYTES;

/// What the service knows about the TLS connection a request came on.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    /// Process-unique connection number.
    pub id: u64,
    /// Remote address.
    pub remote: SocketAddr,
    /// The certificates of this connection; `None` when the client sent no
    /// certificate (fine for HTTP, refused for Sync).
    pub binding: Option<Binding>,
    /// What the connection has done so far, for its deadline.
    pub state: Arc<ConnState>,
}

/// What a connection has done, read by its deadline ([`TlsConn`]).
///
/// From accept, a connection has `handshake_timeout` to either complete a
/// signed Sync handshake or start a request that is not Sync (HTTP pages,
/// exports, health, reflection); otherwise it is closed, whatever it sent
/// or did not send. A connection used for such requests is closed once it
/// has been idle (no request running, none started) for `http_idle`. A
/// proved Sync connection is governed by its session (heartbeats, idle
/// timeout).
#[derive(Debug)]
pub struct ConnState {
    accepted: std::time::Instant,
    proved: std::sync::atomic::AtomicBool,
    /// Milliseconds after `accepted` of the last non-Sync request start, +1
    /// (0: none yet).
    last_request: AtomicU64,
    in_flight: std::sync::atomic::AtomicUsize,
    /// A Sync stream on this connection is in its handshake or running.
    sync_open: std::sync::atomic::AtomicBool,
}

/// A connection's verdict when its timer fires.
enum Deadline {
    Close(&'static str),
    RecheckAt(std::time::Instant),
}

impl ConnState {
    fn new_at(accepted: std::time::Instant) -> Self {
        Self {
            accepted,
            proved: Default::default(),
            last_request: AtomicU64::new(0),
            in_flight: Default::default(),
            sync_open: Default::default(),
        }
    }

    /// The Sync handshake on this connection completed.
    pub fn set_proved(&self) {
        self.proved.store(true, Ordering::SeqCst);
    }

    fn request_started(&self) {
        let ms = self.accepted.elapsed().as_millis() as u64 + 1;
        self.last_request.fetch_max(ms, Ordering::SeqCst);
        self.in_flight.fetch_add(1, Ordering::SeqCst);
    }

    fn request_ended(&self) {
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
    }

    fn verdict(&self, limits: &ServerLimits, now: std::time::Instant) -> Deadline {
        if self.proved.load(Ordering::SeqCst) {
            // The session's idle timeout governs it; look again later.
            return Deadline::RecheckAt(now + limits.http_idle);
        }
        let last = self.last_request.load(Ordering::SeqCst);
        if last == 0 {
            // A grace second after the deadline, so a Sync stream's own
            // DEADLINE_EXCEEDED (due at the same instant) reaches the peer.
            let at = self.accepted + limits.handshake_timeout + HANDSHAKE_GRACE;
            return if now >= at {
                Deadline::Close("no signed handshake and no request within handshake_timeout")
            } else {
                Deadline::RecheckAt(at)
            };
        }
        if self.in_flight.load(Ordering::SeqCst) > 0 {
            return Deadline::RecheckAt(now + limits.http_idle);
        }
        let at = self.accepted + Duration::from_millis(last - 1) + limits.http_idle;
        if now >= at {
            Deadline::Close("idle for http_idle")
        } else {
            Deadline::RecheckAt(at)
        }
    }
}

/// A server-side TLS connection with its [`ConnInfo`].
pub struct TlsConn {
    inner: tokio_rustls::server::TlsStream<TcpStream>,
    info: ConnInfo,
    limits: ServerLimits,
    /// Fires at the connection's next deadline check (see [`ConnState`]).
    deadline: Pin<Box<tokio::time::Sleep>>,
    _permit: OwnedSemaphorePermit,
    _address: AddressSlot,
}

impl TlsConn {
    /// Checks the deadline; an error closes the connection (hyper drops it,
    /// which gives back its connection and address slots).
    fn poll_deadline(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Error> {
        while std::future::Future::poll(self.deadline.as_mut(), cx).is_ready() {
            match self
                .info
                .state
                .verdict(&self.limits, std::time::Instant::now())
            {
                Deadline::Close(why) => {
                    tracing::debug!(remote = %self.info.remote, why, "closing connection");
                    return Poll::Ready(std::io::Error::new(std::io::ErrorKind::TimedOut, why));
                }
                Deadline::RecheckAt(at) => self.deadline.as_mut().reset(at.into()),
            }
        }
        Poll::Pending
    }
}

impl Connected for TlsConn {
    type ConnectInfo = ConnInfo;
    fn connect_info(&self) -> ConnInfo {
        self.info.clone()
    }
}

impl AsyncRead for TlsConn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        // The server always has a read pending on a live connection, so
        // the timer polled here closes even one that sends nothing.
        if let Poll::Ready(e) = this.poll_deadline(cx) {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsConn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// Listener-side limits.
#[derive(Debug, Clone, Copy)]
pub struct ServerLimits {
    /// Open connections at once; more wait in the kernel backlog.
    pub max_connections: usize,
    /// Open connections from one IP address; more are closed at once. Set
    /// it high where many members share a proxy's address.
    pub max_connections_per_address: usize,
    /// Time allowed for the TLS handshake.
    pub tls_timeout: Duration,
    /// Time from accept to a completed signed Sync handshake or a first
    /// other request (see [`ConnState`]).
    pub handshake_timeout: Duration,
    /// A connection used for HTTP or other non-Sync requests is closed
    /// after this long without one.
    pub http_idle: Duration,
    /// HTTP/2 streams open at once on one connection.
    pub max_concurrent_streams: u32,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            max_connections: 1024,
            max_connections_per_address: 256,
            tls_timeout: Duration::from_secs(10),
            handshake_timeout: Duration::from_secs(10),
            http_idle: Duration::from_secs(60),
            max_concurrent_streams: 16,
        }
    }
}

/// Marks each request on its connection's [`ConnState`]: every request that
/// is not Sync counts as use of the connection (Sync streams count once
/// their handshake is proved).
#[derive(Debug, Clone, Copy)]
struct MarkUse;

impl<S> tower::Layer<S> for MarkUse {
    type Service = MarkUseService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        MarkUseService(inner)
    }
}

#[derive(Debug, Clone)]
struct MarkUseService<S>(S);

/// Ends a request's use of its connection when dropped.
struct InFlight(Option<Arc<ConnState>>);

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Some(s) = &self.0 {
            s.request_ended();
        }
    }
}

impl<S, B> tower::Service<tonic::codegen::http::Request<B>> for MarkUseService<S>
where
    S: tower::Service<tonic::codegen::http::Request<B>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn std::future::Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, req: tonic::codegen::http::Request<B>) -> Self::Future {
        let state = (req.uri().path() != SYNC_PATH)
            .then(|| req.extensions().get::<ConnInfo>().map(|i| i.state.clone()))
            .flatten();
        if let Some(s) = &state {
            s.request_started();
        }
        let guard = InFlight(state);
        let fut = self.0.call(req);
        Box::pin(async move {
            let r = fut.await;
            drop(guard);
            r
        })
    }
}

/// How long past `handshake_timeout` a connection that never completed a
/// handshake stays open, so the stream's status gets out first.
const HANDSHAKE_GRACE: Duration = Duration::from_secs(1);

/// The Sync method's path.
const SYNC_PATH: &str = "/yui.v1.Federation/Sync";

/// Open connections per remote address; an [`AddressSlot`] gives its place
/// back when the connection ends.
#[derive(Debug, Default)]
struct PerAddress(Mutex<HashMap<IpAddr, usize>>);

impl PerAddress {
    fn take(self: &Arc<Self>, ip: IpAddr, limit: usize) -> Option<AddressSlot> {
        let mut m = self.0.lock().expect("per-address");
        let n = m.entry(ip).or_default();
        if *n >= limit {
            return None;
        }
        *n += 1;
        Some(AddressSlot(self.clone(), ip))
    }
}

struct AddressSlot(Arc<PerAddress>, IpAddr);

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut m = self.0 .0.lock().expect("per-address");
        if let Some(n) = m.get_mut(&self.1) {
            *n -= 1;
            if *n == 0 {
                m.remove(&self.1);
            }
        }
    }
}

/// Frees a connection's Sync place when its stream task ends.
struct SyncSlot(Arc<ConnState>);

impl Drop for SyncSlot {
    fn drop(&mut self) {
        self.0.sync_open.store(false, Ordering::SeqCst);
    }
}

/// The `yui.v1.Federation` service.
#[derive(Clone)]
pub struct FederationService {
    replica: Arc<Replica>,
    table: Arc<PeerTable>,
    role: crate::handshake::Role,
    session: SessionConfig,
    /// Connections whose Sync handshake completed, with the proved peer.
    authed: Arc<Mutex<HashMap<u64, NodeId>>>,
    /// Sessions of protocol 4 waiting for their urgent lane, by connection.
    lanes: Arc<Mutex<HashMap<u64, tokio::sync::oneshot::Sender<crate::lane::Lane>>>>,
    cancel: CancellationToken,
}

impl FederationService {
    /// A service answering as `replica`.
    pub fn new(
        replica: Arc<Replica>,
        table: Arc<PeerTable>,
        role: crate::handshake::Role,
        session: SessionConfig,
        cancel: CancellationToken,
    ) -> Self {
        Self {
            replica,
            table,
            role,
            session,
            authed: Arc::default(),
            lanes: Arc::default(),
            cancel,
        }
    }
}

fn conn_info<T>(req: &Request<T>) -> Result<ConnInfo, Status> {
    req.extensions()
        .get::<ConnInfo>()
        .cloned()
        .ok_or_else(|| Status::internal("request did not arrive over a yui TLS connection"))
}

#[tonic::async_trait]
impl Federation for FederationService {
    type SyncStream = session::Outgoing<Result<pb::SyncMessage, Status>>;

    async fn sync(
        &self,
        req: Request<Streaming<pb::SyncMessage>>,
    ) -> Result<Response<Self::SyncStream>, Status> {
        let info = conn_info(&req)?;
        let Some(binding) = info.binding else {
            Counters::add(&self.replica.counters().handshake_bad_proof, 1);
            return Err(Status::unauthenticated(
                "no TLS client certificate: a dialer must present one, and its node key must sign its digest in the handshake",
            ));
        };
        // One Sync stream per connection, counted from its first message
        // (not from a completed handshake), so a connection cannot park
        // many streams in their handshakes.
        if info.state.sync_open.swap(true, Ordering::SeqCst) {
            Counters::add(&self.replica.counters().limit_streams_per_peer, 1);
            return Err(Status::resource_exhausted("one Sync stream per connection"));
        }
        let sync_slot = SyncSlot(info.state.clone());
        let mut inbound = req.into_inner();
        let (out, outgoing) = Outbound::listener(self.session.pending_messages);
        let this = self.clone();
        let span = tracing::info_span!("inbound", remote = %info.remote);
        tokio::spawn(
            async move {
                let _sync_slot = sync_slot;
                // Streams per peer are counted when the peer has proved its
                // key, and the place is taken before this side proves its
                // own, so a refused dialer never sees a completed handshake.
                let admit = |peer: &handshake::PeerHello| {
                    let mut authed = this.authed.lock().expect("authed");
                    let open = authed.values().filter(|p| **p == peer.node_id).count();
                    if open >= this.session.max_streams_per_peer {
                        return Err(HandshakeError::Limit(format!(
                            "peer {} already has {open} Sync streams open here (max_streams_per_peer)",
                            peer.node_id
                        )));
                    }
                    authed.insert(info.id, peer.node_id);
                    Ok(())
                };
                let hs = handshake::listen(
                    &this.replica,
                    this.role,
                    &mut inbound,
                    &out,
                    &binding,
                    // From accept, not from this stream's start: a
                    // connection cannot buy time by waiting to open it.
                    this.session
                        .handshake_timeout
                        .saturating_sub(info.state.accepted.elapsed()),
                    admit,
                )
                .await;
                let peer = match hs {
                    Ok(p) => {
                        info.state.set_proved();
                        p
                    }
                    Err(e) => {
                        // Our own proof may have failed to send after the
                        // place was taken: give it back.
                        this.authed.lock().expect("authed").remove(&info.id);
                        let c = this.replica.counters();
                        Counters::add(
                            match e {
                                HandshakeError::Limit(_) => &c.limit_streams_per_peer,
                                HandshakeError::BadProof(_) => &c.handshake_bad_proof,
                                HandshakeError::Untrusted(_) | HandshakeError::WrongPeer { .. } => {
                                    &c.handshake_untrusted
                                }
                                HandshakeError::Timeout => &c.handshake_timeout,
                                _ => &c.handshake_protocol,
                            },
                            1,
                        );
                        tracing::info!(error = %e, "handshake refused");
                        out.fail(e.status()).await;
                        return;
                    }
                };
tracing::info!(peer = %peer.node_id, "peer connected");
                let status = this.table.handle(
                    format!("in:{}", info.id),
                    "inbound",
                    info.remote.to_string(),
                );
                status.connected(peer.node_id);
                let lane = if peer.version >= crate::lane::LANE_VERSION {
                    let (tx, rx) = tokio::sync::oneshot::channel();
                    this.lanes.lock().expect("lanes").insert(info.id, tx);
                    crate::lane::LaneSetup::Accept(rx)
                } else {
                    crate::lane::LaneSetup::None
                };
                let streams = session::Streams {
                    inbound,
                    out: out.clone(),
                    lane,
                };
                let r = session::run(
                    this.replica.clone(),
                    peer,
                    streams,
                    this.session,
                    status.clone(),
                    this.cancel.clone(),
                )
                .await;
                this.lanes.lock().expect("lanes").remove(&info.id);
                this.authed.lock().expect("authed").remove(&info.id);
                status.remove();
                match r {
                    Ok(()) => tracing::info!(peer = %peer.node_id, "peer left"),
                    Err(e) => {
                        tracing::info!(peer = %peer.node_id, error = %e, "session ended");
                        out.fail(e.status()).await;
                    }
                }
            }
            .instrument(span),
        );
        Ok(Response::new(outgoing))
    }

    type UrgentStream = session::Outgoing<Result<pb::SyncMessage, Status>>;

    /// The urgent lane of the session on this connection (protocol 4),
    /// once per connection.
    async fn urgent(
        &self,
        req: Request<Streaming<pb::SyncMessage>>,
    ) -> Result<Response<Self::UrgentStream>, Status> {
        let info = conn_info(&req)?;
        let Some(slot) = self.lanes.lock().expect("lanes").remove(&info.id) else {
            return Err(Status::failed_precondition(
                "the urgent lane opens once per connection, after the Sync session on it (protocol 4 or later) has answered the opening Want",
            ));
        };
        let (lane, outgoing) = crate::lane::Lane::accepted(req.into_inner());
        if slot.send(lane).is_err() {
            return Err(Status::aborted(
                "the Sync session on this connection has ended",
            ));
        }
        Ok(Response::new(outgoing))
    }

    async fn pull(
        &self,
        req: Request<pb::PullRequest>,
    ) -> Result<Response<pb::PullResponse>, Status> {
        let info = conn_info(&req)?;
        if !self.authed.lock().expect("authed").contains_key(&info.id) {
            return Err(Status::unauthenticated(
                "complete the Sync handshake on this connection before pulling",
            ));
        }
        let r = req.into_inner();
        let author =
            node_id_from_pb(&r.author, "author").map_err(|e| Status::invalid_argument(e.0))?;
        let limit = match r.limit {
            0 => 256,
            n => n.min(1024),
        } as usize;
        let entries = self
            .replica
            .store()
            .range(&author, r.from_seq.max(1), limit)
            .map_err(|e| Status::internal(e.to_string()))?;
        Ok(Response::new(pb::PullResponse {
            entries: entries.iter().map(signed_to_pb).collect(),
        }))
    }
}

/// Serves the federation service on `listener` until `cancel`, with `http`
/// (plain HTTP/1.1 or HTTP/2 routes such as public exports) on the same TLS
/// port: one port is enough where a network allows only 443.
pub async fn serve(
    listener: TcpListener,
    tls: ServerTls,
    service: FederationService,
    http: Option<axum::Router>,
    limits: ServerLimits,
    cancel: CancellationToken,
) -> Result<(), tonic::transport::Error> {
    let (tx, rx) = mpsc::channel::<Result<TlsConn, std::io::Error>>(64);
    let acceptor = tokio_rustls::TlsAcceptor::from(tls.config.clone());
    let own_digest = tls.cert_digest;
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let per_address = Arc::new(PerAddress::default());
    let counters_replica = service.replica.clone();
    let next_id = Arc::new(AtomicU64::new(1));
    let accept_cancel = cancel.clone();
    tokio::spawn(async move {
        loop {
            let permit = tokio::select! {
                _ = accept_cancel.cancelled() => break,
                p = slots.clone().acquire_owned() => p.expect("semaphore open"),
            };
            let (tcp, remote) = tokio::select! {
                _ = accept_cancel.cancelled() => break,
                r = listener.accept() => match r {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
            };
            let Some(address) = per_address.take(remote.ip(), limits.max_connections_per_address)
            else {
                Counters::add(
                    &counters_replica.counters().limit_connections_per_address,
                    1,
                );
                tracing::warn!(%remote, limit = limits.max_connections_per_address, "closed a connection: address over max_connections_per_address");
                drop(tcp);
                continue;
            };
            let _ = tcp.set_nodelay(true);
            let acceptor = acceptor.clone();
            let tx = tx.clone();
            let id = next_id.fetch_add(1, Ordering::Relaxed);
            // The handshake deadline runs from here, TLS included.
            let accepted = std::time::Instant::now();
            tokio::spawn(async move {
                let tls = match tokio::time::timeout(limits.tls_timeout, acceptor.accept(tcp)).await
                {
                    Ok(Ok(t)) => t,
                    Ok(Err(e)) => {
                        tracing::debug!(%remote, error = %e, "TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(%remote, "TLS handshake timed out");
                        return;
                    }
                };
                let binding = peer_cert_digest(tls.get_ref().1).map(|dialer| Binding {
                    dialer,
                    listener: own_digest,
                });
                let state = Arc::new(ConnState::new_at(accepted));
                let first_check = state.accepted + limits.handshake_timeout + HANDSHAKE_GRACE;
                let conn = TlsConn {
                    inner: tls,
                    info: ConnInfo {
                        id,
                        remote,
                        binding,
                        state,
                    },
                    limits,
                    deadline: Box::pin(tokio::time::sleep_until(first_check.into())),
                    _permit: permit,
                    _address: address,
                };
                let _ = tx.send(Ok(conn)).await;
            });
        }
    });
    let max_message = service.session.max_message_bytes;
    let grpc = FederationServer::new(service)
        .max_decoding_message_size(max_message)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);
    // gRPC-Web for clients behind proxies without HTTP/2 (unary and
    // server-streaming calls; the bidirectional Sync needs HTTP/2). Only the
    // gRPC service is wrapped: plain HTTP routes stay plain.
    let grpc = tower::Layer::layer(&tonic_web::GrpcWebLayer::new(), grpc);
    // Stock tooling: grpc.health.v1 (load balancers, Kubernetes probes,
    // grpc_health_probe) and server reflection v1 and v1alpha (grpcurl,
    // grpc_cli, Postman) on the same port.
    let (health, health_service) = tonic_health::server::health_reporter();
    health
        .set_serving::<FederationServer<FederationService>>()
        .await;
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(yui_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let reflection_v1 = reflection()
        .build_v1()
        .expect("embedded descriptor sets decode");
    let reflection_v1alpha = reflection()
        .build_v1alpha()
        .expect("embedded descriptor sets decode");
    let health_cancel = cancel.clone();
    tokio::spawn(async move {
        // Draining: tell probes first, so balancers stop sending new work.
        health_cancel.cancelled().await;
        health
            .set_not_serving::<FederationServer<FederationService>>()
            .await;
        health
            .set_service_status("", tonic_health::ServingStatus::NotServing)
            .await;
    });
    let routes = tonic::service::Routes::from(http.unwrap_or_default())
        .add_service(grpc)
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha);
    tonic::transport::Server::builder()
        .accept_http1(true)
        .max_concurrent_streams(Some(limits.max_concurrent_streams))
        .layer(MarkUse)
        .http2_keepalive_interval(Some(Duration::from_secs(20)))
        .http2_keepalive_timeout(Some(Duration::from_secs(20)))
        .initial_stream_window_size(crate::STREAM_WINDOW)
        .initial_connection_window_size(crate::CONNECTION_WINDOW)
        .add_routes(routes)
        .serve_with_incoming_shutdown(ReceiverStream::new(rx), cancel.cancelled())
        .await
}
