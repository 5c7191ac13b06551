//! The handshake half of [`super`]: rustls' unbuffered API driven over a tokio `TcpStream`
//! until the handshake is complete, then the traffic keys handed over
//! (`dangerous_into_kernel_connection`) and the stream built around them.

use std::io;
use std::sync::Arc;

use rustls::client::{ClientConnectionData, UnbufferedClientConnection};
use rustls::kernel::KernelConnection;
use rustls::server::{ServerConnectionData, UnbufferedServerConnection};
use rustls::unbuffered::{ConnectionState, EncodeError, UnbufferedStatus};
use rustls::{ClientConfig, ProtocolVersion, ServerConfig, SupportedCipherSuite};
use rustls_pki_types::ServerName;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use super::{Negotiated, POOL, Plain, Side, TlsStream, invalid, tls_error};
use crate::tls::record::{Keys, Version};

/// Runs a client handshake on `tcp` and returns the stream.
///
/// # Errors
/// An I/O error wrapping the [`rustls::Error`] (as `tokio-rustls` reports it) or the socket's.
///
/// # Cancel safety
/// Dropping the future drops the half-done connection.
pub async fn connect(config: Arc<ClientConfig>, name: ServerName<'static>, tcp: TcpStream) -> io::Result<TlsStream<ClientConnectionData>> {
    let mut conn = UnbufferedClientConnection::new(config, name).map_err(tls_error)?;
    let mut hs = Handshake::new(tcp);
    hs.run(&mut conn).await?;
    // The server's chain was verified during the handshake; keeping it would cost every idle
    // tunnel a kilobyte or two.
    let negotiated = Negotiated {
        peer_certificates: Vec::new(),
        alpn: conn.alpn_protocol().map(<[u8]>::to_vec),
        resumed: conn.handshake_kind() == Some(rustls::HandshakeKind::Resumed),
    };
    let version = conn.protocol_version();
    let (secrets, kernel) = conn.dangerous_into_kernel_connection().map_err(tls_error)?;
    hs.finish(version, secrets, kernel, negotiated)
}

/// Runs a server handshake on `tcp` and returns the stream.
///
/// # Errors
/// As [`connect`].
///
/// # Cancel safety
/// As [`connect`].
pub async fn accept(config: Arc<ServerConfig>, tcp: TcpStream) -> io::Result<TlsStream<ServerConnectionData>> {
    let mut conn = UnbufferedServerConnection::new(config).map_err(tls_error)?;
    let mut hs = Handshake::new(tcp);
    hs.run(&mut conn).await?;
    let negotiated = Negotiated {
        peer_certificates: conn.peer_certificates().map(<[_]>::to_vec).unwrap_or_default(),
        alpn: conn.alpn_protocol().map(<[u8]>::to_vec),
        resumed: conn.handshake_kind() == Some(rustls::HandshakeKind::Resumed),
    };
    let version = conn.protocol_version();
    let (secrets, kernel) = conn.dangerous_into_kernel_connection().map_err(tls_error)?;
    hs.finish(version, secrets, kernel, negotiated)
}


/// The handshake's buffers and socket.
struct Handshake {
    tcp: TcpStream,
    incoming: Vec<u8>,
    used: usize,
    outgoing: Vec<u8>,
    out_len: usize,
    early: Vec<u8>,
}

/// What both unbuffered connection types offer the handshake loop.
trait Unbuffered {
    type Data;
    fn process<'c, 'i>(&'c mut self, incoming: &'i mut [u8]) -> UnbufferedStatus<'c, 'i, Self::Data>;
    fn handshaking(&self) -> bool;
}

impl Unbuffered for UnbufferedClientConnection {
    type Data = ClientConnectionData;
    fn process<'c, 'i>(&'c mut self, incoming: &'i mut [u8]) -> UnbufferedStatus<'c, 'i, Self::Data> {
        self.process_tls_records(incoming)
    }
    fn handshaking(&self) -> bool {
        self.is_handshaking()
    }
}

impl Unbuffered for UnbufferedServerConnection {
    type Data = ServerConnectionData;
    fn process<'c, 'i>(&'c mut self, incoming: &'i mut [u8]) -> UnbufferedStatus<'c, 'i, Self::Data> {
        self.process_tls_records(incoming)
    }
    fn handshaking(&self) -> bool {
        self.is_handshaking()
    }
}

/// What one step of the handshake asks for next.
enum Step {
    Read,
    Transmit,
    Done,
    Again,
}

impl Handshake {
    fn new(tcp: TcpStream) -> Self {
        Self { tcp, incoming: vec![0; 16 * 1024 + 64], used: 0, outgoing: Vec::new(), out_len: 0, early: Vec::new() }
    }

    async fn run<C: Unbuffered>(&mut self, conn: &mut C) -> io::Result<()> {
        loop {
            match self.step(conn) {
                Ok(Step::Again) => {}
                Ok(Step::Done) => return Ok(()),
                Ok(Step::Transmit) => {
                    self.tcp.write_all(&self.outgoing[..self.out_len]).await?;
                    self.out_len = 0;
                }
                Ok(Step::Read) => {
                    if self.used == self.incoming.len() {
                        self.incoming.resize(self.incoming.len() * 2, 0);
                    }
                    let n = self.tcp.read(&mut self.incoming[self.used..]).await?;
                    if n == 0 {
                        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the peer closed the connection during the TLS handshake"));
                    }
                    self.used += n;
                }
                Err(e) => {
                    // Best effort: tell the peer why (rustls queued an alert).
                    for _ in 0..4 {
                        match self.step(conn) {
                            Ok(Step::Transmit) => {
                                let _ = self.tcp.write_all(&self.outgoing[..self.out_len]).await;
                                self.out_len = 0;
                            }
                            Ok(Step::Again) => {}
                            _ => break,
                        }
                    }
                    return Err(tls_error(e));
                }
            }
        }
    }

    /// One call of `process_tls_records`, its state handled, its `discard` applied.
    fn step<C: Unbuffered>(&mut self, conn: &mut C) -> Result<Step, rustls::Error> {
        let handshaking = conn.handshaking();
        let UnbufferedStatus { mut discard, state } = conn.process(&mut self.incoming[..self.used]);
        let step = match state? {
            ConnectionState::EncodeTlsData(mut enc) => loop {
                match enc.encode(&mut self.outgoing[self.out_len..]) {
                    Ok(n) => {
                        self.out_len += n;
                        break Step::Again;
                    }
                    Err(EncodeError::InsufficientSize(s)) => self.outgoing.resize(self.out_len + s.required_size, 0),
                    Err(EncodeError::AlreadyEncoded) => break Step::Again,
                }
            },
            ConnectionState::TransmitTlsData(tx) => {
                tx.done();
                Step::Transmit
            }
            ConnectionState::BlockedHandshake => Step::Read,
            ConnectionState::ReadTraffic(mut rt) => {
                while let Some(rec) = rt.next_record() {
                    let rec = rec?;
                    discard += rec.discard;
                    self.early.extend_from_slice(rec.payload);
                }
                Step::Again
            }
            // A TLS 1.3 server may write before the client's Finished: keep reading until done.
            ConnectionState::WriteTraffic(_) if handshaking => Step::Read,
            ConnectionState::WriteTraffic(_) => Step::Done,
            ConnectionState::PeerClosed | ConnectionState::Closed => {
                return Err(rustls::Error::General("the peer closed the connection during the TLS handshake".into()));
            }
            _ => return Err(rustls::Error::General("unexpected TLS handshake state (early data is not enabled)".into())),
        };
        if discard > 0 {
            self.incoming.copy_within(discard..self.used, 0);
            self.used -= discard;
        }
        // TransmitTlsData's `done` must come after the bytes are sent; they are sent right after
        // this returns, before the next `process_tls_records`, which is what rustls requires.
        Ok(step)
    }

    fn finish<D: Side>(
        self,
        version: Option<ProtocolVersion>,
        secrets: rustls::ExtractedSecrets,
        kernel: KernelConnection<D>,
        negotiated: Negotiated,
    ) -> io::Result<TlsStream<D>> {
        let version = match version {
            Some(ProtocolVersion::TLSv1_3) => Version::Tls13,
            Some(ProtocolVersion::TLSv1_2) => Version::Tls12,
            other => return Err(invalid(format!("unsupported TLS version {other:?}"))),
        };
        let tx_limit = match kernel.negotiated_cipher_suite() {
            SupportedCipherSuite::Tls13(s) => s.common.confidentiality_limit,
            SupportedCipherSuite::Tls12(s) => s.common.confidentiality_limit,
        };
        let rx = Keys::new(version, secrets.rx.0, &secrets.rx.1).map_err(invalid)?;
        let tx = Keys::new(version, secrets.tx.0, &secrets.tx.1).map_err(invalid)?;
        let mut stream = TlsStream {
            tcp: self.tcp,
            kernel,
            rx,
            tx,
            tx_limit,
            negotiated,
            early: self.early,
            rbuf: None,
            rstart: 0,
            rend: 0,
            plain: Plain::default(),
            read_eof: false,
            wbuf: None,
            wstart: 0,
            wend: 0,
            write_closed: false,
            failed: false,
        };
        if self.used > 0 {
            let buf = stream.rbuf.insert(POOL.take());
            buf[..self.used].copy_from_slice(&self.incoming[..self.used]);
            stream.rend = self.used;
        }
        Ok(stream)
    }
}

