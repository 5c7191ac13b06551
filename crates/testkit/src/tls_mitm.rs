//! An on-path attacker for TLS tests: a loopback TCP relay between one client and a server that
//! forwards whole TLS records, logs each one's content type and length, and on command cuts a
//! direction (FIN on a record boundary, no close_notify) or flips a byte in the next
//! application-data record.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// TLS content type of alerts (plaintext ones and TLS 1.2 encrypted ones).
pub const ALERT: u8 = 0x15;
/// TLS content type of application data (and of every encrypted TLS 1.3 record).
pub const APPLICATION_DATA: u8 = 0x17;

/// Largest record body accepted (2^14 + 2048, the TLS 1.2 ciphertext limit).
const MAX_BODY: usize = 16384 + 2048;

/// Which way bytes travel through the relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Toward {
    /// From the server to the client that connected to the relay.
    Client,
    /// From that client to the server.
    Server,
}

impl Toward {
    fn index(self) -> usize {
        match self {
            Self::Client => 0,
            Self::Server => 1,
        }
    }
}

/// One forwarded record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record {
    /// Its content type (outer, as on the wire).
    pub typ: u8,
    /// Its body length.
    pub len: usize,
    /// Whether the relay flipped a byte in it.
    pub tampered: bool,
}

#[derive(Debug)]
struct Way {
    cut: watch::Sender<bool>,
    tamper: AtomicBool,
    log: Mutex<Vec<Record>>,
    /// The sender's side ended (EOF or error) and the FIN was passed on.
    ended: AtomicBool,
}

impl Way {
    fn new() -> Self {
        Self {
            cut: watch::Sender::new(false),
            tamper: AtomicBool::new(false),
            log: Mutex::new(Vec::new()),
            ended: AtomicBool::new(false),
        }
    }
}

/// The relay: accepts one connection on [`TlsMitm::addr`] and connects it to the server.
#[derive(Debug)]
pub struct TlsMitm {
    /// Where the client must connect.
    pub addr: SocketAddr,
    ways: Arc<[Way; 2]>,
    task: JoinHandle<()>,
}

impl TlsMitm {
    /// Listens on `127.0.0.1:0`; the first connection is relayed to `server`.
    ///
    /// # Errors
    /// When no loopback port can be bound.
    pub async fn start(server: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let ways = Arc::new([Way::new(), Way::new()]);
        let shared = Arc::clone(&ways);
        let task = tokio::spawn(async move {
            let Ok((client, _)) = listener.accept().await else { return };
            let Ok(upstream) = TcpStream::connect(server).await else { return };
            let (cr, cw) = client.into_split();
            let (sr, sw) = upstream.into_split();
            let down = forward(sr, cw, Arc::clone(&shared), Toward::Client);
            let up = forward(cr, sw, shared, Toward::Server);
            tokio::join!(down, up);
        });
        Ok(Self { addr, ways, task })
    }

    /// Stops forwarding `toward` at the next record boundary and sends a FIN that way.
    pub fn cut(&self, toward: Toward) {
        self.ways[toward.index()].cut.send_replace(true);
    }

    /// Flips one byte in the middle of the next application-data record sent `toward`.
    pub fn tamper_next(&self, toward: Toward) {
        self.ways[toward.index()].tamper.store(true, Ordering::SeqCst);
    }

    /// The records forwarded `toward` so far, in order.
    #[must_use]
    pub fn records(&self, toward: Toward) -> Vec<Record> {
        self.ways[toward.index()].log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Whether the sender on the way `toward` has closed (its FIN passed on) or failed.
    #[must_use]
    pub fn ended(&self, toward: Toward) -> bool {
        self.ways[toward.index()].ended.load(Ordering::SeqCst)
    }
}

impl Drop for TlsMitm {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn forward(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, ways: Arc<[Way; 2]>, toward: Toward) {
    let way = &ways[toward.index()];
    let mut cut = way.cut.subscribe();
    loop {
        let record = tokio::select! {
            biased;
            _ = cut.wait_for(|c| *c) => break,
            r = read_record(&mut from) => r,
        };
        let Some(mut bytes) = record else { break };
        let typ = bytes[0];
        let tampered = typ == APPLICATION_DATA && way.tamper.swap(false, Ordering::SeqCst);
        if tampered {
            let mid = 5 + (bytes.len() - 5) / 2;
            bytes[mid] ^= 0x01;
        }
        if let Ok(mut log) = way.log.lock() {
            log.push(Record { typ, len: bytes.len() - 5, tampered });
        }
        if *cut.borrow() || to.write_all(&bytes).await.is_err() {
            break;
        }
    }
    way.ended.store(true, Ordering::SeqCst);
    let _ = to.shutdown().await;
}

/// Reads one whole record (header and body); `None` at EOF, on an error or a malformed header.
async fn read_record(from: &mut OwnedReadHalf) -> Option<Vec<u8>> {
    let mut head = [0u8; 5];
    from.read_exact(&mut head).await.ok()?;
    let len = usize::from(u16::from_be_bytes([head[3], head[4]]));
    if len > MAX_BODY {
        return None;
    }
    let mut bytes = vec![0u8; 5 + len];
    bytes[..5].copy_from_slice(&head);
    from.read_exact(&mut bytes[5..]).await.ok()?;
    Some(bytes)
}
