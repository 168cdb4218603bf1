//! The urgent lane (protocol 4): a second gRPC stream on a session's own
//! connection that carries urgent entries only (readiness, aid,
//! acknowledgements), both ways.
//!
//! The Sync stream shares one HTTP/2 flow-control window per direction
//! between the catch-up and everything else: while a receiver is busy
//! verifying bulk batches it stops reading, the window fills, and an urgent
//! entry queued behind megabytes of backfill waits for them. The lane has a
//! window of its own and a reader of its own on each side that never waits
//! for bulk ingest, so an update crosses a busy link in about the time it
//! crosses a quiet one.
//!
//! The dialer opens it once the listener has answered its opening Want
//! (the listener's session is then running and waits for it); the listener
//! hands it to the session on that connection. A peer of protocol 3 or
//! older has no lane and gets urgent entries first on the Sync stream.

use std::pin::Pin;

use futures::Stream;
use tokio::sync::oneshot;
use tonic::transport::Channel;
use tonic::Status;
use yui_proto::v1 as pb;
use yui_proto::v1::federation_client::FederationClient;

use crate::session::{Outbound, Outgoing};

/// The first protocol version with the urgent lane.
pub const LANE_VERSION: u32 = 4;

/// Messages queued on a lane before the writer waits for the peer.
pub(crate) const LANE_QUEUE: usize = 8;

/// The incoming half of a lane.
pub(crate) type LaneInbound = Pin<Box<dyn Stream<Item = Result<pb::SyncMessage, Status>> + Send>>;

/// An open lane: what the peer sends on it and where to write.
pub struct Lane {
    pub(crate) inbound: LaneInbound,
    pub(crate) out: Outbound,
}

impl Lane {
    /// The listener's side of a lane the dialer opened: `inbound` is the
    /// request stream; the returned receiver feeds the response stream.
    pub(crate) fn accepted(
        inbound: tonic::Streaming<pb::SyncMessage>,
    ) -> (Self, Outgoing<Result<pb::SyncMessage, Status>>) {
        let (out, outgoing) = Outbound::listener(LANE_QUEUE);
        (
            Self {
                inbound: Box::pin(inbound),
                out,
            },
            outgoing,
        )
    }

    /// Opens the lane on the dialer's connection.
    pub(crate) async fn dial(mut client: FederationClient<Channel>) -> Result<Self, Status> {
        let (out, outgoing) = Outbound::dialer(LANE_QUEUE);
        let inbound = client.urgent(outgoing).await?.into_inner();
        Ok(Self {
            inbound: Box::pin(inbound),
            out,
        })
    }
}

/// How a session comes by its lane.
pub enum LaneSetup {
    /// None: urgent entries go first on the Sync stream (a peer of protocol
    /// 3 or older, or a tool's session).
    None,
    /// Dialer: open it on this client once the listener has answered the
    /// opening Want.
    Dial(FederationClient<Channel>),
    /// Listener: it arrives here when the dialer opens it.
    Accept(oneshot::Receiver<Lane>),
}
