//! A TCP echo server for relay tests: echoes every byte and keeps half-close.

use std::net::SocketAddr;

use tokio::io::AsyncWriteExt as _;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// A TCP echo server on `127.0.0.1:<ephemeral>`.
///
/// Each connection echoes every byte it reads. When the client half-closes (shuts down its write
/// side), the server finishes echoing what it has read, then shuts down its own write side, so
/// the client sees EOF after the last echoed byte. The server and all its connections stop when
/// the `EchoServer` is dropped.
#[derive(Debug)]
pub struct EchoServer {
    /// The address it listens on.
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl EchoServer {
    /// Binds `127.0.0.1:0` and starts accepting.
    ///
    /// # Panics
    /// If binding a loopback port fails (the machine is out of ports).
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind echo server on loopback");
        let addr = listener.local_addr().expect("echo server address");
        let task = tokio::spawn(accept_loop(listener));
        Self { addr, task }
    }
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        // Aborting the accept loop drops its JoinSet, which aborts every connection task.
        self.task.abort();
    }
}

async fn accept_loop(listener: TcpListener) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(echo(stream));
                }
                Err(_) => continue,
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn echo(stream: TcpStream) {
    let (mut rd, mut wr) = stream.into_split();
    if tokio::io::copy(&mut rd, &mut wr).await.is_ok() {
        // The peer half-closed and everything read was echoed: pass the EOF on.
        let _ = wr.shutdown().await;
    }
}
