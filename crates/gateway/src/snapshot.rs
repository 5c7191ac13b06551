//! The part of the configuration that can change while the gateway runs — routes, policies,
//! certificates, client CAs, timeouts — built into a [`Snapshot`] and swapped atomically
//! ([`Current`]) by a reload. Each connection takes the snapshot current at its accept, each
//! request the one current when it arrives; a snapshot never changes once built.

use std::sync::{Arc, PoisonError, RwLock};

use crate::config::{Config, MtlsEnforcement};
use crate::route::{Route, RouteTable, route_id};
use crate::server::GatewayError;
use crate::tls::{self, ClientAuth, ClientCa, SniResolver};

/// One validated config with its TLS, client CAs and route table built.
#[derive(Debug)]
pub struct Snapshot {
    /// The config it was built from.
    pub config: Config,
    /// Routes by authority.
    pub routes: RouteTable,
    /// The global client CA and its mode.
    pub global_ca: Option<(ClientCa, MtlsEnforcement)>,
    /// The listener's TLS configuration (server certificates by SNI, client certificates).
    pub tls: Arc<rustls::ServerConfig>,
}

impl Snapshot {
    /// Builds TLS, client CAs and routes from a validated config.
    ///
    /// # Errors
    /// [`GatewayError::Tls`] for unusable certificates or CAs.
    pub fn build(config: Config) -> Result<Self, GatewayError> {
        let mut pairs = certificate_pems(&config.certificates);
        if let Some(self_signed) = &config.self_signed {
            pairs.push(self_signed.load_or_generate()?);
        }
        let resolver = SniResolver::new(&pairs)?;
        let mut request_cas: Vec<u8> = Vec::new();
        let mut routes = Vec::new();
        for rc in &config.routes {
            let client_ca = match &rc.tls_downstream_client_ca_pem {
                Some(pem) => {
                    request_cas.extend_from_slice(pem);
                    request_cas.push(b'\n');
                    Some(ClientCa::new(pem, &format!("routes (line {}): tls_downstream_client_ca_file", rc.line))?)
                }
                None => None,
            };
            routes.push(Route { config: rc.clone(), id: route_id(&rc.from.raw), client_ca });
        }
        let global_ca = match &config.downstream_mtls {
            Some(m) => Some((ClientCa::new(&m.ca_pem, "downstream_mtls.ca_file")?, m.enforcement)),
            None => None,
        };
        let client_auth = match &config.downstream_mtls {
            Some(m) if m.enforcement == MtlsEnforcement::RejectConnection => ClientAuth::Require(m.ca_pem.clone()),
            Some(m) => {
                request_cas.extend_from_slice(&m.ca_pem);
                ClientAuth::Request(request_cas)
            }
            None if !request_cas.is_empty() => ClientAuth::Request(request_cas),
            None => ClientAuth::None,
        };
        let tls = Arc::new(tls::server_config(resolver, client_auth)?);
        Ok(Self { config, routes: RouteTable::new(routes), global_ca, tls })
    }

    /// Whether a tunnel on `route` ends when the session token it was opened with expires:
    /// the route's `end_tunnels_at_session_expiry`, else the global one (default on). A public
    /// route never needs a session, so its tunnels never end for this.
    pub fn ends_at_session_expiry(&self, route: &Route) -> bool {
        !route.config.allow_public_unauthenticated_access
            && route.config.end_tunnels_at_session_expiry.unwrap_or(self.config.end_tunnels_at_session_expiry)
    }
}

/// The snapshot in force, replaced whole by a reload.
#[derive(Debug)]
pub struct Current(RwLock<Arc<Snapshot>>);

impl Current {
    /// Starts with `snapshot`.
    pub fn new(snapshot: Snapshot) -> Self {
        Self(RwLock::new(Arc::new(snapshot)))
    }

    /// The snapshot in force now (a cheap `Arc` clone; the lock is held only for the clone).
    pub fn get(&self) -> Arc<Snapshot> {
        self.0.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Puts `snapshot` in force and returns the one it replaced.
    pub fn replace(&self, snapshot: Snapshot) -> Arc<Snapshot> {
        let mut slot = self.0.write().unwrap_or_else(PoisonError::into_inner);
        std::mem::replace(&mut *slot, Arc::new(snapshot))
    }
}

/// Each certificate pair's PEM, labelled for errors.
fn certificate_pems(pairs: &[crate::config::CertificatePair]) -> Vec<tls::PemPair> {
    pairs
        .iter()
        .enumerate()
        .map(|(i, p)| (p.cert_pem.clone(), p.key_pem.0.clone(), format!("certificate #{}", i + 1)))
        .collect()
}
