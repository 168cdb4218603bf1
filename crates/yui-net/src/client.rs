//! Dialling a peer: TCP, TLS (our own connector, so the handshake can be bound
//! to the session), gRPC, the signed handshake, then the session.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::transport::{Channel, Endpoint, Uri};
use tonic::Streaming;
use yui_core::{NodeId, SignedEntry};
use yui_proto::v1 as pb;
use yui_proto::v1::federation_client::FederationClient;
use yui_sync::Replica;

use crate::codec::signed_from_pb;
use crate::handshake::{self, HandshakeError, PeerHello};
use crate::peers::PeerStatusHandle;
use crate::session::{self, Outbound, SessionConfig};
use crate::tls::{client_config, Binding};
use crate::MAX_MESSAGE_BYTES;

/// Why a link could not be made or ended.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// TCP or TLS failed.
    #[error("cannot reach {addr}: {error}")]
    Dial {
        /// Address.
        addr: String,
        /// Cause.
        error: String,
    },
    /// gRPC refused the call.
    #[error("gRPC call failed: {0}")]
    Grpc(String),
    /// The signed handshake failed.
    #[error(transparent)]
    Handshake(#[from] HandshakeError),
    /// The session ended with an error.
    #[error("session ended: {error}")]
    Session {
        /// Whether the handshake had completed (the path works).
        handshook: bool,
        /// Cause.
        error: String,
    },
}

/// The process's TLS connector, with its client certificate and that
/// certificate's digest (the dialer half of every [`Binding`]).
fn tls_connector() -> Result<(tokio_rustls::TlsConnector, [u8; 32]), std::io::Error> {
    static CFG: OnceLock<(tokio_rustls::TlsConnector, [u8; 32])> = OnceLock::new();
    if let Some(c) = CFG.get() {
        return Ok(c.clone());
    }
    let (cfg, cert) = client_config().map_err(std::io::Error::other)?;
    Ok(CFG
        .get_or_init(|| (tokio_rustls::TlsConnector::from(cfg), cert))
        .clone())
}

fn server_name(addr: &str) -> ServerName<'static> {
    let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(host.to_owned())
        .unwrap_or_else(|_| ServerName::try_from("yui-node").expect("valid name"))
}

/// Opens a TLS connection carrying HTTP/2 to `addr` and returns the channel
/// with the connection's certificate binding.
pub async fn open_channel(addr: &str) -> Result<(Channel, Binding), ConnectError> {
    let slot: Arc<Mutex<Option<Binding>>> = Arc::default();
    let dial_err = |error: String| ConnectError::Dial {
        addr: addr.to_owned(),
        error,
    };
    let connector = {
        let slot = slot.clone();
        let addr = addr.to_owned();
        tower::service_fn(move |_: Uri| {
            let slot = slot.clone();
            let addr = addr.clone();
            async move {
                let host = addr.rsplit_once(':').map_or(addr.as_str(), |(h, _)| h);
                let tcp = match crate::proxy::ProxyConfig::from_env().filter(|p| p.applies_to(host))
                {
                    Some(proxy) => crate::proxy::connect(proxy, &addr).await?,
                    None => TcpStream::connect(&addr).await?,
                };
                tcp.set_nodelay(true)?;
                let (connector, dialer) = tls_connector()?;
                let tls = connector.connect(server_name(&addr), tcp).await?;
                let listener = crate::tls::peer_cert_digest(tls.get_ref().1)
                    .ok_or_else(|| std::io::Error::other("the peer sent no TLS certificate"))?;
                *slot.lock().expect("binding slot") = Some(Binding { dialer, listener });
                Ok::<_, std::io::Error>(TokioIo::new(tls))
            }
        })
    };
    let channel = Endpoint::from_shared(format!("http://{addr}"))
        .map_err(|e| dial_err(format!("bad address: {e}")))?
        .connect_timeout(Duration::from_secs(10))
        .http2_keep_alive_interval(Duration::from_secs(20))
        .keep_alive_timeout(Duration::from_secs(20))
        .initial_stream_window_size(crate::STREAM_WINDOW)
        .initial_connection_window_size(crate::CONNECTION_WINDOW)
        .keep_alive_while_idle(true)
        .connect_with_connector(connector)
        .await
        .map_err(|e| {
            let mut msg = e.to_string();
            let mut src = std::error::Error::source(&e);
            while let Some(s) = src {
                msg = format!("{msg}: {s}");
                src = s.source();
            }
            dial_err(msg)
        })?;
    let binding = slot
        .lock()
        .expect("binding slot")
        .take()
        .ok_or_else(|| dial_err("TLS session not established".into()))?;
    Ok((channel, binding))
}

/// A connected, authenticated link to a peer, before its session runs.
pub struct Connection {
    /// What the peer proved.
    pub peer: PeerHello,
    client: FederationClient<Channel>,
    inbound: Streaming<pb::SyncMessage>,
    out: Outbound,
}

impl Connection {
    /// Dials `addr` and completes the handshake as `replica`.
    pub async fn open(
        replica: &Replica,
        addr: &str,
        expected: Option<NodeId>,
        role: crate::handshake::Role,
        handshake_timeout: Duration,
    ) -> Result<Self, ConnectError> {
        let cfg = SessionConfig {
            handshake_timeout,
            ..SessionConfig::default()
        };
        Self::open_with(replica, addr, expected, role, &cfg).await
    }

    /// Dials `addr` and completes the handshake as `replica`, with the
    /// session's limits.
    pub async fn open_with(
        replica: &Replica,
        addr: &str,
        expected: Option<NodeId>,
        role: crate::handshake::Role,
        cfg: &SessionConfig,
    ) -> Result<Self, ConnectError> {
        let (channel, binding) = open_channel(addr).await?;
        let mut client = FederationClient::new(channel)
            .max_decoding_message_size(cfg.max_message_bytes)
            .max_encoding_message_size(MAX_MESSAGE_BYTES);
        let (out, outgoing) = Outbound::dialer(cfg.pending_messages);
        let mut inbound = client
            .sync(outgoing)
            .await
            .map_err(|s| ConnectError::Grpc(format!("{}: {}", s.code(), s.message())))?
            .into_inner();
        let peer = handshake::dial(
            replica,
            role,
            &mut inbound,
            &out,
            &binding,
            expected,
            cfg.handshake_timeout,
        )
        .await?;
        Ok(Self {
            peer,
            client,
            inbound,
            out,
        })
    }

    async fn send(&self, m: pb::SyncMessage) -> Result<(), session::Closed> {
        self.out.send(m).await
    }

    /// Sends entries on the Sync stream in one Entries message, as they
    /// are, outside a session (bulk loads, tools and tests).
    pub async fn send_entries(&self, entries: &[SignedEntry]) -> Result<(), session::Closed> {
        self.send_raw_entries(
            entries
                .iter()
                .map(|e| (e.entry.clone(), e.signature.0.to_vec()))
                .collect(),
        )
        .await
    }

    /// Sends `(entry bytes, signature bytes)` pairs unchecked in one Entries
    /// message: what a broken or hostile peer could send (tests, tools).
    pub async fn send_raw_entries(
        &self,
        entries: Vec<(Vec<u8>, Vec<u8>)>,
    ) -> Result<(), session::Closed> {
        self.send(pb::SyncMessage {
            kind: Some(pb::sync_message::Kind::Entries(pb::Entries {
                entries: entries
                    .into_iter()
                    .map(|(entry, signature)| pb::SignedEntry { entry, signature })
                    .collect(),
            })),
        })
        .await
    }

    /// Sends a Want naming `(author bytes, seq)` pairs unchecked (tests,
    /// tools: the author bytes need not be keys at all).
    pub async fn send_raw_want(&self, heads: Vec<(Vec<u8>, u64)>) -> Result<(), session::Closed> {
        self.send(pb::SyncMessage {
            kind: Some(pb::sync_message::Kind::Want(pb::Want {
                heads: heads
                    .into_iter()
                    .map(|(author, seq)| pb::Head { author, seq })
                    .collect(),
                ..Default::default()
            })),
        })
        .await
    }

    /// Reads the stream to its end, skipping messages: `Ok` if the peer
    /// closed it, else the status it ended with.
    pub async fn wait_end(&mut self) -> Result<(), tonic::Status> {
        while self.inbound.message().await?.is_some() {}
        Ok(())
    }

    /// Opens the urgent lane (protocol 4) on this connection by hand, outside
    /// a session (tests, tools). A listener refuses it before its session
    /// runs and a second time.
    pub async fn open_lane(&self) -> Result<RawLane, tonic::Status> {
        let (tx, rx) = mpsc::channel(8);
        let inbound = self
            .client
            .clone()
            .urgent(ReceiverStream::new(rx))
            .await?
            .into_inner();
        Ok(RawLane { inbound, tx })
    }

    /// Pulls up to `limit` entries of `author` from `from_seq` on.
    pub async fn pull(
        &self,
        author: &NodeId,
        from_seq: u64,
        limit: u32,
    ) -> Result<Vec<SignedEntry>, tonic::Status> {
        let resp = self
            .client
            .clone()
            .pull(pb::PullRequest {
                author: author.as_bytes().to_vec(),
                from_seq,
                limit,
            })
            .await?
            .into_inner();
        resp.entries
            .into_iter()
            .map(|s| signed_from_pb(s).map_err(|e| tonic::Status::data_loss(e.to_string())))
            .collect()
    }

    /// Runs the sync session until the peer leaves, an error, or `cancel`.
    pub async fn run(
        self,
        replica: Arc<Replica>,
        cfg: SessionConfig,
        status: PeerStatusHandle,
        cancel: CancellationToken,
    ) -> Result<(), session::SessionError> {
        let lane = crate::lane::LaneSetup::Dial(self.client.clone());
        let streams = session::Streams {
            inbound: self.inbound,
            out: self.out,
            lane,
        };
        session::run(replica, self.peer, streams, cfg, status, cancel).await
    }
}

/// An urgent lane opened by hand ([`Connection::open_lane`]).
pub struct RawLane {
    inbound: Streaming<pb::SyncMessage>,
    tx: mpsc::Sender<pb::SyncMessage>,
}

impl RawLane {
    /// Sends `(entry bytes, signature bytes)` pairs unchecked in one
    /// Entries message.
    pub async fn send_raw_entries(
        &self,
        entries: Vec<(Vec<u8>, Vec<u8>)>,
    ) -> Result<(), session::Closed> {
        let m = pb::SyncMessage {
            kind: Some(pb::sync_message::Kind::Entries(pb::Entries {
                entries: entries
                    .into_iter()
                    .map(|(entry, signature)| pb::SignedEntry { entry, signature })
                    .collect(),
            })),
        };
        self.tx.send(m).await.map_err(|_| session::Closed)
    }

    /// The entries of the next message the peer sends on the lane (`None`:
    /// it closed the lane; an error: a message other than Entries, or the
    /// status the lane ended with).
    pub async fn next_entries(&mut self) -> Result<Option<Vec<SignedEntry>>, tonic::Status> {
        let Some(m) = self.inbound.message().await? else {
            return Ok(None);
        };
        match m.kind {
            Some(pb::sync_message::Kind::Entries(e)) => e
                .entries
                .into_iter()
                .map(|s| signed_from_pb(s).map_err(|e| tonic::Status::data_loss(e.to_string())))
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            other => Err(tonic::Status::invalid_argument(format!(
                "the urgent lane carried {other:?}"
            ))),
        }
    }
}

/// Dials, handshakes and runs one session. `Ok(true)`: a session ran and
/// ended cleanly.
pub async fn connect_and_run(
    replica: &Arc<Replica>,
    addr: &str,
    expected: Option<NodeId>,
    role: crate::handshake::Role,
    cfg: SessionConfig,
    status: &PeerStatusHandle,
    cancel: &CancellationToken,
) -> Result<bool, ConnectError> {
    let conn = tokio::select! {
        c = Connection::open_with(replica, addr, expected, role, &cfg) => c?,
        _ = cancel.cancelled() => return Ok(false),
    };
    let peer = conn.peer.node_id;
    status.connected(peer);
    tracing::info!(peer = %peer, "connected");
    conn.run(replica.clone(), cfg, status.clone(), cancel.clone())
        .await
        .map(|()| true)
        .map_err(|e| ConnectError::Session {
            handshook: true,
            error: e.to_string(),
        })
}
