//! The HTTP/1.1 transport of UDP tunnels (docs/protocol.md §2.4): on a fresh connection to the
//! proxy, `GET /.well-known/masque/udp/{host}/{port}/` with `Upgrade: connect-udp` and
//! `Capsule-Protocol: ?1`, written byte for byte as pomerium-cli writes it; after a `200`, each
//! datagram is one DATAGRAM capsule each way (`porthole_io::capsule`).

use std::sync::Arc;

use bytes::BytesMut;
use porthole_io::capsule::{self, Capsule};
use porthole_io::datagram::Counters;
use tokio::io::AsyncWriteExt as _;

use super::channel::{BoxFuture, ChannelEnd, DatagramChannel, DatagramConnector, TransportSide};
use crate::connect::{ConnectError, Connector, ProxyStream, response};
use crate::target::Target;

/// The CONNECT-UDP request, byte for byte as pomerium-cli writes it (Go's `Request.Write`:
/// request line, `Host` = the destination, `User-Agent`, then the other headers sorted).
/// `Authorization: Pomerium <jwt>` is present only when `token` is given.
#[must_use]
pub fn request_bytes(destination: &str, token: Option<&str>) -> Vec<u8> {
    let (host, port) = split_destination(destination);
    let mut req = format!(
        "GET /.well-known/masque/udp/{host}/{port}/ HTTP/1.1\r\nHost: {destination}\r\nUser-Agent: Go-http-client/1.1\r\n"
    );
    if let Some(jwt) = token {
        req.push_str("Authorization: Pomerium ");
        req.push_str(jwt);
        req.push_str("\r\n");
    }
    req.push_str("Capsule-Protocol: ?1\r\nConnection: Upgrade\r\nUpgrade: connect-udp\r\n\r\n");
    req.into_bytes()
}

/// `host:port` → (`host` without IPv6 brackets, `port`), as Go's `Hostname()` / `Port()`.
pub(crate) fn split_destination(destination: &str) -> (&str, &str) {
    let (host, port) = destination.rsplit_once(':').unwrap_or((destination, ""));
    (host.trim_start_matches('[').trim_end_matches(']'), port)
}

/// Opens UDP tunnels over HTTP/1.1, one proxy connection each (as pomerium-cli).
#[derive(Debug, Clone)]
pub struct H1Connector {
    connector: Connector,
}

impl H1Connector {
    /// UDP over the proxy `connector` dials (its target, its TLS: ALPN `http/1.1`).
    #[must_use]
    pub fn new(connector: Connector) -> Self {
        Self { connector }
    }

    async fn open_h1(&self, token: Option<&str>, counters: Arc<Counters>) -> Result<DatagramChannel, ConnectError> {
        let mut stream = self.connector.dial_proxy().await?;
        let destination = &self.connector.target().destination;
        tracing::debug!(proxy = %self.connector.target().proxy.host_port(), %destination, with_token = token.is_some(), "CONNECT-UDP");
        let head = response::exchange(&mut stream, &request_bytes(destination, token)).await?;
        if head.status != 200 {
            let status = head.status;
            let message = response::refusal_message(&mut stream, head).await;
            tracing::debug!(%destination, status, %message, "CONNECT-UDP refused");
            return Err(ConnectError::from_status(status, destination, message));
        }
        let (channel, side) = DatagramChannel::pair(capsule::MAX_DATAGRAM);
        tokio::spawn(pump(stream, head.rest, side, counters));
        Ok(channel)
    }
}

impl DatagramConnector for H1Connector {
    fn target(&self) -> &Target {
        self.connector.target()
    }

    fn open<'a>(
        &'a self,
        token: Option<&'a str>,
        counters: Arc<Counters>,
    ) -> BoxFuture<'a, Result<DatagramChannel, ConnectError>> {
        Box::pin(self.open_h1(token, counters))
    }
}

/// Moves datagrams between the channel and the proxy connection until either ends.
async fn pump(stream: ProxyStream, early: Vec<u8>, mut side: TransportSide, counters: Arc<Counters>) {
    let cancel = side.cancel.clone();
    let to_local = &side.to_local;
    let to_proxy = &mut side.to_proxy;
    let (read, mut write) = tokio::io::split(stream);
    let mut reader = capsule::Reader::new(read, &early);
    drop(early);
    let down = async {
        loop {
            match reader.next().await {
                Ok(Some(Capsule::Datagram(d))) => {
                    if to_local.send(d).await.is_err() {
                        return ChannelEnd::Closed;
                    }
                }
                Ok(Some(Capsule::OtherContext(_))) => counters.add_dropped(),
                Ok(Some(Capsule::Skipped(kind))) => tracing::debug!(kind, "skipped a capsule"),
                Ok(None) => return ChannelEnd::ProxyClosed,
                Err(e) => return ChannelEnd::Failed(e.to_string()),
            }
        }
    };
    let up = async {
        let mut buf = BytesMut::with_capacity(2048);
        while let Some(d) = to_proxy.recv().await {
            buf.clear();
            capsule::encode_datagram(&d, &mut buf);
            let sent = async {
                write.write_all(&buf).await?;
                write.flush().await
            };
            if let Err(e) = sent.await {
                return ChannelEnd::Failed(format!("sending to the proxy failed: {e}"));
            }
        }
        ChannelEnd::Closed
    };
    let why = tokio::select! {
        why = down => why,
        why = up => why,
        () = cancel.cancelled() => ChannelEnd::Closed,
    };
    let _ = write.shutdown().await;
    side.end(why);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_is_pomerium_clis_bytes() {
        assert_eq!(
            String::from_utf8(request_bytes("dns.example.com:53", Some("eyJ.x.y"))).unwrap(),
            "GET /.well-known/masque/udp/dns.example.com/53/ HTTP/1.1\r\n\
             Host: dns.example.com:53\r\n\
             User-Agent: Go-http-client/1.1\r\n\
             Authorization: Pomerium eyJ.x.y\r\n\
             Capsule-Protocol: ?1\r\n\
             Connection: Upgrade\r\n\
             Upgrade: connect-udp\r\n\
             \r\n"
        );
        let plain = String::from_utf8(request_bytes("[::1]:5353", None)).unwrap();
        assert!(plain.starts_with("GET /.well-known/masque/udp/::1/5353/ HTTP/1.1\r\nHost: [::1]:5353\r\n"));
        assert!(!plain.contains("Authorization"));
    }
}
