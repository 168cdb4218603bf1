//! yui-net: everything that touches the wire between nodes.
//!
//! # Layout
//! - [`bundle`]: offline bundle files.
//! - [`codec`]: protobuf ⟷ `yui-core` conversions and [`ProtoCodec`].
//! - [`tls`]: rustls (ring) configs, self-signed P-256 certificates, the
//!   channel binding secret.
//! - [`handshake`]: the signed, session-bound handshake.
//! - [`session`]: one Sync stream after the handshake (reader + writer).
//! - [`server`]: TLS accept loop and the `Federation` gRPC service.
//! - [`client`]: dialling a peer ([`client::Connection`]).
//! - [`fuzz`]: the peer-facing decoders as the fuzz targets drive them.
//! - [`proxy`]: HTTP CONNECT tunnels (`HTTPS_PROXY`, `NO_PROXY`).
//! - [`peers`]: link states ([`PeerTable`]) and dial loops with backoff
//!   ([`PeerManager`]).
//!
//! Generated protobuf types do not leave this crate's public functions except
//! where a raw wire message is the point (tests, tools).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod bundle;
pub mod client;
pub mod codec;
pub mod fuzz;
pub mod handshake;
pub mod lane;
pub mod peers;
pub mod proxy;
pub mod server;
pub mod session;
pub mod tls;

pub use codec::ProtoCodec;
pub use handshake::Role;
pub use peers::{Backoff, LinkState, PeerManager, PeerStatus, PeerTable};
pub use server::{FederationService, ServerLimits};
pub use session::SessionConfig;

/// Largest gRPC message accepted or sent.
pub const MAX_MESSAGE_BYTES: usize = 8 * 1024 * 1024;

/// HTTP/2 receive window of one stream, both sides of a link: what a peer
/// may send on the Sync stream before this node reads it.
pub const STREAM_WINDOW: u32 = 1024 * 1024;

/// HTTP/2 receive window of a whole connection, both sides. It must exceed
/// [`STREAM_WINDOW`]: streams share it, so when it is no larger, a Sync
/// stream this node is too busy to read (verifying backfill) takes all of
/// it and the urgent lane's entries wait behind the backfill. hyper's
/// listener default is 1 MiB for both, which let a relay's backfill to
/// another relay hold readiness for seconds. The margin holds the lane's
/// batches (at most 64 entries) many times over.
pub const CONNECTION_WINDOW: u32 = STREAM_WINDOW + 512 * 1024;
