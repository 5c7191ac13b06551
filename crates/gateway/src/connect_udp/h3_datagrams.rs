//! CONNECT-UDP over HTTP/3 (RFC 9298, docs/protocol.md §2.5): an extended CONNECT with
//! `:protocol connect-udp` and the MASQUE path, admitted like the HTTP/1.1 request
//! ([`super::UdpTunnel::admit`]), then each datagram one HTTP Datagram in a QUIC DATAGRAM frame
//! (`h3-datagram`: the quarter stream id; then context id 0 and the UDP payload). Capsules on
//! the request stream are read and discarded; its end ends the tunnel.
//!
//! h3-datagram 0.0.2 writes a zero quarter stream id whatever the stream (its `Datagram::encode`),
//! so only the connection's first request stream (id 0) can carry datagrams correctly. One
//! CONNECT-UDP per QUIC connection is what pomerium-cli and porthole send; a second one, or one
//! on a later stream, is refused with a sentence rather than misdelivered.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::{Buf as _, Bytes};
use h3::quic::StreamId;
use h3_datagram::datagram_handler::{DatagramReader, DatagramSender, HandleDatagramsExt as _, SendDatagramError};
use h3_quinn::datagram::{RecvDatagramHandler, SendDatagramHandler};
use http::{Request, Response, StatusCode};
use porthole_io::capsule::{self, Capsule};
use tracing::Instrument as _;
use tracing::field::Empty;

use super::{ClientSide, FromClient, UdpTunnel, masque_target, refuse_malformed};
use crate::connect::Peer;
use crate::limits;
use crate::quic::{H3Conn, H3Request, respond};
use crate::server::Shared;

type Reader = DatagramReader<RecvDatagramHandler>;
type Sender = DatagramSender<SendDatagramHandler, Bytes>;

/// The datagram reader and the sender for stream 0 of one QUIC connection, taken by its
/// CONNECT-UDP (at most one).
#[derive(Clone)]
pub(crate) struct Slot(Arc<Mutex<Option<(Reader, Sender)>>>);

impl Slot {
    /// The datagram ends of `conn` (set up with datagrams enabled).
    pub(crate) fn new(conn: &H3Conn) -> Self {
        let first = StreamId::try_from(0u64).ok().map(|id| (conn.get_datagram_reader(), conn.get_datagram_sender(id)));
        Self(Arc::new(Mutex::new(first)))
    }

    fn take(&self, stream: StreamId) -> Option<(Reader, Sender)> {
        if stream.into_inner() != 0 {
            return None;
        }
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

/// Serves one extended CONNECT `connect-udp` inside a `connect_udp` span.
pub(crate) async fn serve(
    shared: Arc<Shared>,
    req: Request<()>,
    mut stream: H3Request,
    peer: Arc<Peer>,
    slot: limits::Slot,
    datagrams: Slot,
) {
    let target = masque_target(req.uri().path());
    let span = tracing::info_span!("connect_udp", authority = %target.as_deref().unwrap_or_default(), route = Empty, user = Empty);
    async move {
        let target = match target {
            Ok(t) => t,
            Err(why) => return respond(&mut stream, refuse_malformed(&peer, why)).await,
        };
        let Some((reader, sender)) = datagrams.take(stream.id()) else {
            let why = "CONNECT-UDP over HTTP/3 must be the first request of its QUIC connection; open a new connection for each UDP tunnel";
            return respond(&mut stream, refuse_malformed(&peer, why)).await;
        };
        let tunnel = match UdpTunnel::admit(&shared, req.headers(), &peer, target, http::Version::HTTP_3).await {
            Ok(t) => t,
            Err(refusal) => return respond(&mut stream, *refusal).await,
        };
        let ok = Response::builder().status(StatusCode::OK).header("capsule-protocol", "?1").body(()).unwrap_or_default();
        if let Err(e) = stream.send_response(ok).await {
            return tracing::debug!(error = %e, "HTTP/3 CONNECT-UDP answer could not be sent");
        }
        slot.authenticated();
        let id = stream.id();
        tunnel.run(&shared, &peer, Datagrams { reader, sender, stream, id, open: true }).await;
    }
    .instrument(span)
    .await;
}

/// The client side of a UDP tunnel over HTTP/3: HTTP Datagrams, and the request stream.
struct Datagrams {
    reader: Reader,
    sender: Sender,
    stream: H3Request,
    id: StreamId,
    open: bool,
}

impl ClientSide for Datagrams {
    async fn recv(&mut self) -> FromClient {
        let Self { reader, stream, id, open, .. } = self;
        tokio::select! {
            got = reader.read_datagram() => match got {
                Ok(d) if d.stream_id() != *id => FromClient::OtherContext,
                Ok(d) => match capsule::read_http_datagram(d.into_payload()) {
                    Some(Capsule::Datagram(payload)) => FromClient::Datagram(payload),
                    Some(_) | None => FromClient::OtherContext,
                },
                Err(e) => FromClient::Failed(format!("the QUIC connection failed: {e}")),
            },
            got = stream.recv_data(), if *open => match got {
                Ok(Some(mut chunk)) => {
                    // Capsules on the request stream are not used here: read and dropped.
                    chunk.advance(chunk.remaining());
                    FromClient::Skipped
                }
                Ok(None) => FromClient::Closed,
                Err(e) if e.is_h3_no_error() => FromClient::Closed,
                Err(e) => {
                    *open = false;
                    FromClient::Failed(format!("the request stream failed: {e}"))
                }
            },
        }
    }

    async fn send(&mut self, datagram: &[u8]) -> Result<bool, String> {
        match self.sender.send_datagram(capsule::http_datagram(datagram)) {
            Ok(()) => Ok(true),
            Err(SendDatagramError::TooLarge { .. }) => Ok(false),
            Err(e) => Err(format!("the client's QUIC connection cannot take datagrams: {e}")),
        }
    }

    async fn close(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(1), self.stream.finish()).await;
    }
}

/// Whether `req` is an extended CONNECT for `connect-udp`.
pub(crate) fn is_connect_udp(req: &Request<()>) -> bool {
    req.method() == http::Method::CONNECT
        && req.extensions().get::<h3::ext::Protocol>().is_some_and(|p| *p == h3::ext::Protocol::CONNECT_UDP)
}
