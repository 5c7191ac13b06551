//! The UDP session model on a real local UDP socket, over an in-memory transport that echoes
//! (the HTTP/1.1 transport has its own wire tests, and `tests/tests/udp_dns.rs` runs it all
//! against dnsmasq): one session per source address, each ending at the idle timeout with its
//! datagram counts; a datagram over the maximum dropped and counted; a transport that ends
//! ends its session with a reason.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use porthole_io::datagram::Counters;
use porthole_tunnel::auth::{Authenticator, Browser, LoginSettings, MemoryStore};
use porthole_tunnel::connect::ConnectError;
use porthole_tunnel::events::{DatagramCounts, TunnelEvent};
use porthole_tunnel::target::{self, Target};
use porthole_tunnel::udp::channel::{BoxFuture, ChannelEnd, DatagramChannel, DatagramConnector};
use porthole_tunnel::udp::session::{UdpConfig, UdpTunnelHandle};
use tokio::net::UdpSocket;
use tokio::sync::broadcast;

/// Echoes every datagram; after `close_after` datagrams the "proxy" ends the tunnel.
#[derive(Debug)]
struct Echo {
    target: Target,
    close_after: Option<usize>,
}

impl DatagramConnector for Echo {
    fn target(&self) -> &Target {
        &self.target
    }

    fn open<'a>(
        &'a self,
        _: Option<&'a str>,
        _: Arc<Counters>,
    ) -> BoxFuture<'a, Result<DatagramChannel, ConnectError>> {
        let close_after = self.close_after;
        Box::pin(async move {
            let (channel, mut side) = DatagramChannel::pair(1000);
            tokio::spawn(async move {
                let mut n = 0;
                while let Some(d) = side.to_proxy.recv().await {
                    if side.to_local.send(d).await.is_err() {
                        break;
                    }
                    n += 1;
                    if close_after == Some(n) {
                        return side.end(ChannelEnd::ProxyClosed);
                    }
                }
                side.end(ChannelEnd::Closed);
            });
            Ok(channel)
        })
    }
}

async fn start(close_after: Option<usize>, max_datagram: usize) -> (UdpTunnelHandle, broadcast::Receiver<TunnelEvent>) {
    let config = UdpConfig {
        connector: Arc::new(Echo {
            target: target::parse("udp+http://127.0.0.1:9/echo:7", None).unwrap(),
            close_after,
        }),
        login: LoginSettings { tls: None, browser: Browser::Print, timeout: Duration::from_secs(1) },
        idle_timeout: Duration::from_millis(300),
        max_datagram,
    };
    let auth = Arc::new(Authenticator::new(Arc::new(MemoryStore::default()), None));
    let (events, rx) = broadcast::channel(64);
    (UdpTunnelHandle::start_with_events("127.0.0.1:0", config, auth, events).await.unwrap(), rx)
}

async fn round_trip(socket: &UdpSocket, to: SocketAddr, payload: &[u8]) -> Vec<u8> {
    socket.send_to(payload, to).await.unwrap();
    let mut buf = [0u8; 2048];
    let (n, _) = tokio::time::timeout(Duration::from_secs(10), socket.recv_from(&mut buf)).await.unwrap().unwrap();
    buf[..n].to_vec()
}

/// The next `Disconnected` event: (peer address, datagram counts, error).
async fn disconnected(rx: &mut broadcast::Receiver<TunnelEvent>) -> (SocketAddr, DatagramCounts, Option<String>) {
    loop {
        let e = tokio::time::timeout(Duration::from_secs(10), rx.recv()).await.expect("an event").unwrap();
        if let TunnelEvent::Disconnected { peer_addr, datagrams, error, .. } = e {
            return (peer_addr, datagrams.expect("UDP peers carry datagram counts"), error);
        }
    }
}

#[tokio::test]
async fn each_source_address_is_a_session_that_idles_out_with_its_counts() {
    let (handle, mut rx) = start(None, 1000).await;
    let (a, b) = (UdpSocket::bind("127.0.0.1:0").await.unwrap(), UdpSocket::bind("127.0.0.1:0").await.unwrap());
    assert_eq!(round_trip(&a, handle.local_addr(), b"one").await, b"one");
    assert_eq!(round_trip(&b, handle.local_addr(), b"two").await, b"two");
    a.send_to(&[0u8; 1001], handle.local_addr()).await.unwrap();
    assert_eq!(round_trip(&a, handle.local_addr(), b"three").await, b"three");
    assert_eq!(handle.peers().len(), 2, "one session per source address");
    let mut ends = [disconnected(&mut rx).await, disconnected(&mut rx).await];
    ends.sort_by_key(|(addr, ..)| *addr != a.local_addr().unwrap());
    assert_eq!(ends[0], (a.local_addr().unwrap(), DatagramCounts { up: 2, down: 2, dropped: 1 }, None));
    assert_eq!(ends[1], (b.local_addr().unwrap(), DatagramCounts { up: 1, down: 1, dropped: 0 }, None));
    assert!(handle.peers().is_empty(), "idle sessions are gone");
}

#[tokio::test]
async fn a_transport_that_ends_ends_its_session_with_a_reason() {
    let (handle, mut rx) = start(Some(1), 1000).await;
    let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    assert_eq!(round_trip(&a, handle.local_addr(), b"x").await, b"x");
    let (_, counts, error) = disconnected(&mut rx).await;
    assert_eq!(counts, DatagramCounts { up: 1, down: 1, dropped: 0 });
    assert_eq!(error.as_deref(), Some("the proxy ended the UDP tunnel"));
}
