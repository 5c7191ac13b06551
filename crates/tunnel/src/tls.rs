//! STUB (replaced by the tunnel-connect branch).
#![allow(missing_docs, dead_code)]
use std::sync::Arc;
#[derive(Debug, Default)]
pub struct TlsOptions { pub disable_verification: bool, pub ca_pem: Option<Vec<u8>>, pub client: Option<ClientIdentity> }
#[derive(Debug)]
pub enum ClientIdentity { Pem { cert_pem: Vec<u8>, key_pem: Vec<u8> }, Store { dir: std::path::PathBuf, issuer: Option<NameFilter>, subject: Option<NameFilter> } }
#[derive(Debug, Clone)]
pub struct NameFilter { pub attr: String, pub value: String }
impl NameFilter { pub fn parse(s: &str) -> Result<Self, TlsError> { Err(TlsError(s.into())) } }
#[derive(Debug, thiserror::Error)] #[error("{0}")] pub struct TlsError(String);
pub fn client_config(opts: &TlsOptions) -> Result<Arc<rustls::ClientConfig>, TlsError> { let _ = opts; Err(TlsError("stub".into())) }
