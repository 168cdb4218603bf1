//! Where a session writes: the sending half of a stream's queue, whose
//! receiving half ([`Outgoing`]) the transport reads, and how the writer
//! learns that the transport has taken everything queued.
//!
//! The writer queues a bulk batch only when the queue is empty (urgent
//! entries and control messages must never wait behind megabytes of
//! backfill), so it needs to hear when the queue drains. [`Outgoing`]
//! signals that as it hands the last queued message to the transport; the
//! writer waits on it instead of polling the queue's depth.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::Stream;
use tokio::sync::{mpsc, Notify};
use tonic::Status;
use yui_proto::v1 as pb;
use yui_sync::Counters;

/// The writing end of a session's stream: the request stream (dialer) or
/// the response stream (listener, which can also end the call with a
/// status).
#[derive(Debug, Clone)]
pub struct Outbound {
    tx: Tx,
    drained: Arc<Notify>,
}

#[derive(Debug, Clone)]
enum Tx {
    Dialer(mpsc::Sender<pb::SyncMessage>),
    Listener(mpsc::Sender<Result<pb::SyncMessage, Status>>),
}

/// The reading end of an [`Outbound`], handed to tonic as the stream it
/// sends.
#[derive(Debug)]
pub struct Outgoing<T> {
    rx: mpsc::Receiver<T>,
    drained: Arc<Notify>,
}

impl<T> Stream for Outgoing<T> {
    type Item = T;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let next = self.rx.poll_recv(cx);
        if matches!(next, Poll::Ready(Some(_))) && self.rx.is_empty() {
            // A permit is kept when nobody waits, so a writer that checked
            // the depth just before cannot miss this.
            self.drained.notify_one();
        }
        next
    }
}

/// The other side stopped reading.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("peer stream closed")]
pub struct Closed;

impl Outbound {
    /// The dialling side's request stream, holding up to `capacity`
    /// messages.
    pub fn dialer(capacity: usize) -> (Self, Outgoing<pb::SyncMessage>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        Self::pair(Tx::Dialer(tx), rx)
    }

    /// The listening side's response stream, holding up to `capacity`
    /// messages.
    pub fn listener(capacity: usize) -> (Self, Outgoing<Result<pb::SyncMessage, Status>>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        Self::pair(Tx::Listener(tx), rx)
    }

    fn pair<T>(tx: Tx, rx: mpsc::Receiver<T>) -> (Self, Outgoing<T>) {
        let drained = Arc::new(Notify::new());
        (
            Self {
                tx,
                drained: drained.clone(),
            },
            Outgoing { rx, drained },
        )
    }

    /// Whether this is the dialling side.
    pub fn is_dialer(&self) -> bool {
        matches!(self.tx, Tx::Dialer(_))
    }

    /// Sends one message, waiting for room (flow control, never a drop).
    pub async fn send(&self, m: pb::SyncMessage) -> Result<(), Closed> {
        match &self.tx {
            Tx::Dialer(tx) => tx.send(m).await.map_err(|_| Closed),
            Tx::Listener(tx) => tx.send(Ok(m)).await.map_err(|_| Closed),
        }
    }

    /// Ends the stream with an error status (listener) or just closes it.
    pub async fn fail(&self, status: Status) {
        if let Tx::Listener(tx) = &self.tx {
            let _ = tx.send(Err(status)).await;
        }
    }

    /// Messages queued for the peer, not yet taken by the transport.
    pub fn depth(&self) -> usize {
        match &self.tx {
            Tx::Dialer(tx) => tx.max_capacity() - tx.capacity(),
            Tx::Listener(tx) => tx.max_capacity() - tx.capacity(),
        }
    }

    /// Completes after the transport has taken the last queued message
    /// (possibly one taken before this call: check [`Outbound::depth`]
    /// again after it).
    pub async fn drained(&self) {
        self.drained.notified().await
    }
}

/// [`Outbound`] that counts the bytes it sends (`yui_sync_bytes_total`).
pub(super) struct Metered<'a> {
    pub(super) out: Outbound,
    pub(super) counters: &'a Counters,
}

impl Metered<'_> {
    pub(super) async fn send(&self, m: pb::SyncMessage) -> Result<(), Closed> {
        Counters::add(
            &self.counters.sync_bytes_sent,
            prost::Message::encoded_len(&m) as u64,
        );
        if matches!(m.kind, Some(pb::sync_message::Kind::Want(_))) {
            Counters::add(&self.counters.sync_wants_sent, 1);
        }
        self.out.send(m).await
    }

    pub(super) fn depth(&self) -> usize {
        self.out.depth()
    }
}

#[cfg(test)]
mod tests {
    use futures::{FutureExt, StreamExt};

    use super::*;

    fn ping(n: i64) -> pb::SyncMessage {
        pb::SyncMessage {
            kind: Some(pb::sync_message::Kind::Ping(pb::Ping { sent_at: n })),
        }
    }

    #[tokio::test]
    async fn drained_fires_when_the_last_queued_message_is_taken() {
        let (out, mut stream) = Outbound::dialer(4);
        out.send(ping(1)).await.unwrap();
        out.send(ping(2)).await.unwrap();
        assert_eq!(out.depth(), 2);
        assert!(stream.next().await.is_some());
        // One still queued: not drained.
        assert!(
            out.drained().now_or_never().is_none(),
            "drained with a message still queued"
        );
        assert!(stream.next().await.is_some());
        assert_eq!(out.depth(), 0);
        tokio::time::timeout(std::time::Duration::from_secs(5), out.drained())
            .await
            .expect("drained after the queue emptied");
    }

    #[tokio::test]
    async fn a_listener_ends_its_stream_with_the_status() {
        let (out, mut stream) = Outbound::listener(2);
        assert!(!out.is_dialer());
        out.fail(Status::resource_exhausted("too much")).await;
        let got = stream.next().await.expect("an item");
        assert_eq!(got.unwrap_err().code(), tonic::Code::ResourceExhausted);
    }
}
