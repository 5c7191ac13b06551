//! STUB (replaced by the tunnel-connect branch).
#![allow(missing_docs, dead_code)]
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite};
use crate::target::Target;
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}
pub struct Connected { pub stream: Box<dyn Io>, pub early: Vec<u8> }
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("cannot reach {proxy}: {reason}")] Dial { proxy: String, reason: String },
    #[error("TLS {proxy}: {reason}")] Tls { proxy: String, reason: String },
    #[error("login required ({status})")] LoginRequired { status: u16 },
    #[error("{message} (403)")] Denied { destination: String, message: String },
    #[error("no route {destination}")] NoRoute { destination: String },
    #[error("cert {destination}")] CertificateRequired { destination: String },
    #[error("unavailable {destination}: {message}")] Unavailable { destination: String, message: String },
    #[error("status {status}: {message}")] Status { status: u16, message: String },
    #[error("protocol: {reason}")] Protocol { reason: String },
}
impl ConnectError { pub fn keeps_token(&self) -> bool { !matches!(self, Self::LoginRequired { .. }) } }
pub struct Connector { target: Target, tls: Option<Arc<rustls::ClientConfig>> }
impl Connector {
    pub fn new(target: Target, tls: Option<Arc<rustls::ClientConfig>>) -> Self { Self { target, tls } }
    pub fn target(&self) -> &Target { &self.target }
    pub async fn connect(&self, token: Option<&str>) -> Result<Connected, ConnectError> { let _ = (token, &self.tls); Err(ConnectError::Protocol { reason: "stub".into() }) }
}
