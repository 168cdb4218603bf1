//! The signed handshake that opens every Sync stream.
//!
//! ```text
//! dialer   → Hello { version, node_id, role, nonce_d }
//! listener → Hello { version, node_id, role, nonce_l }
//! dialer   → Proof(sig_d)
//! listener → Proof(sig_l)   (only if it accepts the dialer; else a gRPC status)
//! sig_x = ed25519 by x's node key over
//!   "yui/handshake/v1\0" || side || signer id || other id || other's nonce
//!   || SHA-256(dialer's TLS certificate) || SHA-256(listener's TLS certificate)
//! ```
//! `side` ("dialer"/"listener") stops reflection; the other's fresh nonce stops
//! replay; the certificate digests ([`Binding`]) tie the proof to the TLS keys
//! of this connection, so a node key vouches only for TLS keys it signed and a
//! relaying middlebox (which must present its own certificate) cannot pass.
//! Any gRPC stack can compute the binding: it needs the two certificates, not
//! access to TLS internals.

use std::time::Duration;

use futures::{Stream, StreamExt};
use rand::RngCore;
use tonic::Status;
use yui_core::{NodeId, Signature};
use yui_proto::v1 as pb;
use yui_sync::Replica;

use crate::codec::node_id_from_pb;
use crate::session::Outbound;
use crate::tls::Binding;

/// Wire protocol version spoken by this build.
///
/// - 1: first release.
/// - 2: the listener answers the dialer's opening Want with only the
///   difference (`Want.reply`), instead of its own full list.
/// - 3: the dialer may open with a summary of its heads (`Want.summary`).
/// - 4: urgent entries cross on a stream of their own (`Urgent`, the lane).
pub const PROTOCOL_VERSION: u32 = 5;
/// Oldest protocol version this build still speaks.
pub const MIN_PROTOCOL_VERSION: u32 = 1;

/// A node's role, as each side states it in its Hello (the wire enum stays
/// inside this crate).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Role {
    /// A municipality's node.
    Municipality,
    /// A regional body's relay.
    Relay,
    /// A role this release does not know, or none stated.
    Unknown,
}

impl Role {
    fn to_pb(self) -> pb::Role {
        match self {
            Role::Municipality => pb::Role::Municipality,
            Role::Relay => pb::Role::Relay,
            Role::Unknown => pb::Role::Unspecified,
        }
    }

    fn from_pb(v: i32) -> Self {
        match pb::Role::try_from(v) {
            Ok(pb::Role::Municipality) => Role::Municipality,
            Ok(pb::Role::Relay) => Role::Relay,
            _ => Role::Unknown,
        }
    }
}

/// What the handshake proved about the other side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerHello {
    /// Proved node id.
    pub node_id: NodeId,
    /// Stated role.
    pub role: Role,
    /// Protocol version both will speak.
    pub version: u32,
    /// The operator pinned this peer's id for the address dialled.
    pub pinned: bool,
}

/// Why a handshake failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The other side said something out of order or malformed.
    #[error("handshake protocol error: {0}")]
    Protocol(String),
    /// The other side's proof does not verify.
    #[error("peer {0} failed to prove its node key for this TLS session")]
    BadProof(NodeId),
    /// The peer is not one this node talks to.
    #[error("peer {0} is not trusted here (add it with `yui trust add`)")]
    Untrusted(NodeId),
    /// The peer is not the node expected at this address.
    #[error("expected node {expected} at this address but {found} answered")]
    WrongPeer {
        /// Configured id.
        expected: NodeId,
        /// Proved id.
        found: NodeId,
    },
    /// No common protocol version.
    #[error("peer speaks protocol {0}, this node {MIN_PROTOCOL_VERSION}..={PROTOCOL_VERSION}")]
    Version(u32),
    /// The peer is over a limit (say, too many streams open).
    #[error("{0}")]
    Limit(String),
    /// The other side went quiet.
    #[error("handshake timed out")]
    Timeout,
    /// The stream failed.
    #[error("stream closed during handshake: {0}")]
    Closed(String),
}

impl HandshakeError {
    /// The gRPC status a listener sends back for this failure.
    pub fn status(&self) -> Status {
        match self {
            HandshakeError::Untrusted(_) | HandshakeError::WrongPeer { .. } => {
                Status::permission_denied(self.to_string())
            }
            HandshakeError::BadProof(_) => Status::unauthenticated(self.to_string()),
            HandshakeError::Version(_) => Status::failed_precondition(self.to_string()),
            HandshakeError::Limit(_) => Status::resource_exhausted(self.to_string()),
            HandshakeError::Timeout => Status::deadline_exceeded(self.to_string()),
            _ => Status::invalid_argument(self.to_string()),
        }
    }
}

/// The bytes a side signs in the handshake (see the module docs and
/// docs/PROTOCOL.md).
pub fn transcript(
    side: &str,
    signer: &NodeId,
    other: &NodeId,
    nonce: &[u8],
    binding: &Binding,
) -> Vec<u8> {
    let mut t = Vec::with_capacity(200);
    t.extend_from_slice(b"yui/handshake/v1\0");
    t.extend_from_slice(side.as_bytes());
    t.push(0);
    t.extend_from_slice(signer.as_bytes());
    t.extend_from_slice(other.as_bytes());
    t.extend_from_slice(nonce);
    t.extend_from_slice(&binding.to_bytes());
    t
}

fn fresh_nonce() -> [u8; 32] {
    let mut n = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut n);
    n
}

fn hello(replica: &Replica, role: Role, nonce: [u8; 32]) -> pb::SyncMessage {
    pb::SyncMessage {
        kind: Some(pb::sync_message::Kind::Hello(pb::Hello {
            protocol_version: PROTOCOL_VERSION,
            node_id: replica.id().as_bytes().to_vec(),
            role: role.to_pb() as i32,
            nonce: nonce.to_vec(),
            software: concat!("yui/", env!("CARGO_PKG_VERSION")).to_owned(),
        })),
    }
}

fn proof(sig: Signature) -> pb::SyncMessage {
    pb::SyncMessage {
        kind: Some(pb::sync_message::Kind::Proof(pb::Proof {
            signature: sig.0.to_vec(),
        })),
    }
}

async fn next<S>(
    inbound: &mut S,
    timeout: Duration,
) -> Result<pb::sync_message::Kind, HandshakeError>
where
    S: Stream<Item = Result<pb::SyncMessage, Status>> + Unpin,
{
    match tokio::time::timeout(timeout, inbound.next()).await {
        Err(_) => Err(HandshakeError::Timeout),
        Ok(None) => Err(HandshakeError::Closed("end of stream".into())),
        Ok(Some(Err(s))) => Err(HandshakeError::Closed(format!(
            "{}: {}",
            s.code(),
            s.message()
        ))),
        Ok(Some(Ok(m))) => m
            .kind
            .ok_or_else(|| HandshakeError::Protocol("empty message".into())),
    }
}

pub(crate) fn read_hello(
    kind: pb::sync_message::Kind,
) -> Result<(PeerHello, Vec<u8>), HandshakeError> {
    let pb::sync_message::Kind::Hello(h) = kind else {
        return Err(HandshakeError::Protocol("expected Hello".into()));
    };
    let node_id =
        node_id_from_pb(&h.node_id, "hello.node_id").map_err(|e| HandshakeError::Protocol(e.0))?;
    if h.nonce.len() != 32 {
        return Err(HandshakeError::Protocol("nonce must be 32 bytes".into()));
    }
    if h.protocol_version < MIN_PROTOCOL_VERSION {
        return Err(HandshakeError::Version(h.protocol_version));
    }
    let role = Role::from_pb(h.role);
    Ok((
        PeerHello {
            node_id,
            role,
            version: h.protocol_version.min(PROTOCOL_VERSION),
            pinned: false,
        },
        h.nonce,
    ))
}

pub(crate) fn check_proof(
    kind: pb::sync_message::Kind,
    side: &str,
    peer: &NodeId,
    me: &NodeId,
    my_nonce: &[u8],
    binding: &Binding,
) -> Result<(), HandshakeError> {
    let pb::sync_message::Kind::Proof(p) = kind else {
        return Err(HandshakeError::Protocol("expected Proof".into()));
    };
    let sig = Signature::from_slice(&p.signature).map_err(|_| HandshakeError::BadProof(*peer))?;
    peer.public_key()
        .verify(&transcript(side, peer, me, my_nonce, binding), &sig)
        .map_err(|_| HandshakeError::BadProof(*peer))
}

/// The dialling side. `expected` is the id configured for the address, if any.
pub async fn dial<S>(
    replica: &Replica,
    role: Role,
    inbound: &mut S,
    out: &Outbound,
    binding: &Binding,
    expected: Option<NodeId>,
    timeout: Duration,
) -> Result<PeerHello, HandshakeError>
where
    S: Stream<Item = Result<pb::SyncMessage, Status>> + Unpin,
{
    let nonce = fresh_nonce();
    let closed = |_| HandshakeError::Closed("outbound closed".into());
    out.send(hello(replica, role, nonce))
        .await
        .map_err(closed)?;
    let (peer, peer_nonce) = read_hello(next(inbound, timeout).await?)?;
    // Check the claimed id early; the proof below confirms it.
    if let Some(expected) = expected.filter(|e| *e != peer.node_id) {
        return Err(HandshakeError::WrongPeer {
            expected,
            found: peer.node_id,
        });
    }
    // A peer the operator pinned by id (`peer add --id`) may be dialled before
    // its log is trusted: that is how a member reaches a relay whose
    // endorsement it has yet to fetch. What is stored still follows trust.
    let pinned = expected == Some(peer.node_id);
    if (!pinned && !replica.is_trusted(&peer.node_id)) || peer.node_id == replica.id() {
        return Err(HandshakeError::Untrusted(peer.node_id));
    }
    let sig = replica.sign(&transcript(
        "dialer",
        &replica.id(),
        &peer.node_id,
        &peer_nonce,
        binding,
    ));
    out.send(proof(sig)).await.map_err(closed)?;
    check_proof(
        next(inbound, timeout).await?,
        "listener",
        &peer.node_id,
        &replica.id(),
        &nonce,
        binding,
    )?;
    Ok(PeerHello { pinned, ..peer })
}

/// The listening side. `admit` runs once the dialer has proved its key and
/// is trusted, before this side proves its own: a refusal there (a limit)
/// reaches the dialer as a status instead of a completed handshake.
pub async fn listen<S>(
    replica: &Replica,
    role: Role,
    inbound: &mut S,
    out: &Outbound,
    binding: &Binding,
    timeout: Duration,
    admit: impl FnOnce(&PeerHello) -> Result<(), HandshakeError>,
) -> Result<PeerHello, HandshakeError>
where
    S: Stream<Item = Result<pb::SyncMessage, Status>> + Unpin,
{
    let (peer, peer_nonce) = read_hello(next(inbound, timeout).await?)?;
    let nonce = fresh_nonce();
    let closed = |_| HandshakeError::Closed("outbound closed".into());
    out.send(hello(replica, role, nonce))
        .await
        .map_err(closed)?;
    check_proof(
        next(inbound, timeout).await?,
        "dialer",
        &peer.node_id,
        &replica.id(),
        &nonce,
        binding,
    )?;
    if !replica.is_trusted(&peer.node_id) || peer.node_id == replica.id() {
        return Err(HandshakeError::Untrusted(peer.node_id));
    }
    admit(&peer)?;
    let sig = replica.sign(&transcript(
        "listener",
        &replica.id(),
        &peer.node_id,
        &peer_nonce,
        binding,
    ));
    out.send(proof(sig)).await.map_err(closed)?;
    Ok(peer)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tokio::sync::mpsc;
    use tokio_stream::wrappers::ReceiverStream;
    use yui_core::{Limits, SecretKey};
    use yui_store::{KvStore, MemEngine};

    use super::*;
    use crate::ProtoCodec;

    fn replica(seed: u8) -> Arc<Replica> {
        let store = Arc::new(KvStore::open(MemEngine::new()).unwrap());
        Replica::open(
            store,
            SecretKey::from_seed(&[seed; 32]),
            Arc::new(ProtoCodec),
            Limits::default(),
        )
        .unwrap()
    }

    const BINDING: Binding = Binding {
        dialer: [1; 32],
        listener: [2; 32],
    };

    fn hello_msg(key: &SecretKey, nonce: [u8; 32]) -> pb::SyncMessage {
        pb::SyncMessage {
            kind: Some(pb::sync_message::Kind::Hello(pb::Hello {
                protocol_version: PROTOCOL_VERSION,
                node_id: NodeId::new(key.public_key()).as_bytes().to_vec(),
                role: pb::Role::Municipality as i32,
                nonce: nonce.to_vec(),
                software: "test".into(),
            })),
        }
    }

    /// Runs `listen` against a scripted dialer: `prove` turns the listener's
    /// Hello into the Proof the dialer sends. Returns the listener's verdict
    /// and the listener's nonce.
    async fn against_listener(
        listener: &Replica,
        dialer: &SecretKey,
        prove: impl FnOnce(&pb::Hello) -> pb::SyncMessage,
    ) -> Result<PeerHello, HandshakeError> {
        let (in_tx, in_rx) = mpsc::channel(4);
        let (out, mut out_rx) = Outbound::listener(4);
        in_tx.send(Ok(hello_msg(dialer, [7; 32]))).await.unwrap();
        let mut inbound = ReceiverStream::new(in_rx);
        let run = listen(
            listener,
            Role::Municipality,
            &mut inbound,
            &out,
            &BINDING,
            Duration::from_secs(5),
            |_| Ok(()),
        );
        let script = async {
            let Some(Ok(pb::SyncMessage {
                kind: Some(pb::sync_message::Kind::Hello(h)),
            })) = out_rx.next().await
            else {
                panic!("listener did not say Hello");
            };
            in_tx.send(Ok(prove(&h))).await.unwrap();
        };
        let (r, ()) = tokio::join!(run, script);
        r
    }

    fn dialer_proof(key: &SecretKey, listener: &pb::Hello, binding: &Binding) -> pb::SyncMessage {
        let me = NodeId::new(key.public_key());
        let other = node_id_from_pb(&listener.node_id, "id").unwrap();
        proof(key.sign(&transcript("dialer", &me, &other, &listener.nonce, binding)))
    }

    #[tokio::test]
    async fn an_honest_proof_is_accepted() {
        let listener = replica(1);
        let dialer = SecretKey::from_seed(&[2; 32]);
        listener
            .trust_add(NodeId::new(dialer.public_key()), "dialer")
            .unwrap();
        let peer = against_listener(&listener, &dialer, |h| dialer_proof(&dialer, h, &BINDING))
            .await
            .unwrap();
        assert_eq!(peer.node_id, NodeId::new(dialer.public_key()));
    }

    #[tokio::test]
    async fn a_proof_over_another_tls_certificate_is_refused() {
        let listener = replica(1);
        let dialer = SecretKey::from_seed(&[2; 32]);
        listener
            .trust_add(NodeId::new(dialer.public_key()), "dialer")
            .unwrap();
        // The node key signed some other certificate than the one this
        // connection shows (a middlebox re-terminating TLS, or a stolen proof).
        for other in [
            Binding {
                dialer: [9; 32],
                ..BINDING
            },
            Binding {
                listener: [9; 32],
                ..BINDING
            },
        ] {
            let r =
                against_listener(&listener, &dialer, |h| dialer_proof(&dialer, h, &other)).await;
            assert!(matches!(r, Err(HandshakeError::BadProof(_))), "{r:?}");
        }
    }

    #[tokio::test]
    async fn a_replayed_proof_is_refused() {
        let listener = replica(1);
        let dialer = SecretKey::from_seed(&[2; 32]);
        listener
            .trust_add(NodeId::new(dialer.public_key()), "dialer")
            .unwrap();
        let mut recorded = None;
        against_listener(&listener, &dialer, |h| {
            let p = dialer_proof(&dialer, h, &BINDING);
            recorded = Some(p.clone());
            p
        })
        .await
        .unwrap();
        // Same binding, same keys: only the listener's nonce is new.
        let replay = recorded.unwrap();
        let r = against_listener(&listener, &dialer, |_| replay).await;
        assert!(matches!(r, Err(HandshakeError::BadProof(_))), "{r:?}");
    }

    #[tokio::test]
    async fn a_proof_by_another_key_or_for_the_other_side_is_refused() {
        let listener = replica(1);
        let dialer = SecretKey::from_seed(&[2; 32]);
        let impostor = SecretKey::from_seed(&[3; 32]);
        listener
            .trust_add(NodeId::new(dialer.public_key()), "dialer")
            .unwrap();
        // Claims the dialer's id, signs with another key.
        let r =
            against_listener(&listener, &dialer, |h| dialer_proof(&impostor, h, &BINDING)).await;
        assert!(matches!(r, Err(HandshakeError::BadProof(_))), "{r:?}");
        // A listener-side transcript reflected back.
        let r = against_listener(&listener, &dialer, |h| {
            let other = node_id_from_pb(&h.node_id, "id").unwrap();
            let me = NodeId::new(dialer.public_key());
            proof(dialer.sign(&transcript("listener", &me, &other, &h.nonce, &BINDING)))
        })
        .await;
        assert!(matches!(r, Err(HandshakeError::BadProof(_))), "{r:?}");
        // Garbage where the proof belongs.
        let r = against_listener(&listener, &dialer, |_| pb::SyncMessage {
            kind: Some(pb::sync_message::Kind::Proof(pb::Proof {
                signature: vec![0; 12],
            })),
        })
        .await;
        assert!(matches!(r, Err(HandshakeError::BadProof(_))), "{r:?}");
    }

    #[tokio::test]
    async fn an_untrusted_dialer_with_a_valid_proof_is_refused() {
        let listener = replica(1);
        let dialer = SecretKey::from_seed(&[2; 32]);
        let r = against_listener(&listener, &dialer, |h| dialer_proof(&dialer, h, &BINDING)).await;
        assert!(matches!(r, Err(HandshakeError::Untrusted(_))), "{r:?}");
    }
}
