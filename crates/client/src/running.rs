//! Running tunnels: a [`Profile`] turned into [`TunnelOptions`] (as the CLI does from its
//! flags), starting and stopping them, live sessions, and the task per tunnel that turns its
//! events into status changes, log lines and [`AppEvent`]s.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use porthole_tunnel::events::TunnelEvent;
use porthole_tunnel::handle::{TunnelError, TunnelHandle};
use tokio::sync::broadcast;

use crate::app::{App, AppEvent, AppState, lock};
use crate::connections::LiveTunnel;
use crate::error::{AppError, ErrorCode};
use crate::logs::{self, ms_since_epoch};
use crate::model::{
    ClientCert, ConnectionStatus, LogEntry, LogEvent, LogLevel, Profile, Protocol, Session, StatusEvent,
};
use crate::status::StatusTracker;
use crate::tunnel_options::{ClientCertSource, KeySource, PemSource, TunnelOptions};
use crate::validate;

/// How long `disconnect` waits for a tunnel's tasks to end.
const DRAIN: Duration = Duration::from_secs(2);

static NEXT_RUN: AtomicU64 = AtomicU64::new(1);

impl App {
    /// Starts listening for a profile (already running: its status). A bind failure is
    /// `port_in_use` when the address is taken.
    ///
    /// # Errors
    /// `not_found`; `port_in_use`; `io` (CA or certificate file); `keychain`; `tunnel`.
    pub async fn connect(&self, id: &str) -> Result<ConnectionStatus, AppError> {
        self.connect_at(id, None).await
    }

    /// [`App::connect`] on `at` (the address a restart keeps) instead of the profile's.
    pub(crate) async fn connect_at(&self, id: &str, at: Option<String>) -> Result<ConnectionStatus, AppError> {
        let profile = self.profile(id)?;
        let _transition = self.state.transitions.lock().await;
        if self.state.connections.is_live(id) {
            return Ok(self.status(id));
        }
        let started = async {
            let config = self.tunnel_options(&profile)?.build()?;
            let listen = match at {
                Some(addr) => addr,
                None => validate::listen_spec(profile.listen_addr.as_deref())
                    .map_err(|m| AppError::new(ErrorCode::Invalid, m))?,
            };
            let (events, rx) = broadcast::channel(1024);
            let handle = TunnelHandle::start_with_events(&listen, config, self.state.auth.clone(), events)
                .await
                .map_err(|TunnelError::Listen { addr, source }| {
                    let reason = source.to_string();
                    let taken =
                        reason.contains("in use") || reason.contains("10048") || reason.contains("only one usage");
                    let code = if taken { ErrorCode::PortInUse } else { ErrorCode::Io };
                    let hint =
                        if taken { ": another program is using it; stop it or pick another local address" } else { "" };
                    AppError::new(code, format!("cannot listen on {addr}: {reason}{hint}"))
                })?;
            Ok::<_, AppError>((handle, rx))
        };
        match started.await {
            Ok((handle, rx)) => {
                let addr = handle.local_addr().to_string();
                let run = NEXT_RUN.fetch_add(1, Ordering::Relaxed);
                let status = ConnectionStatus::Listening { addr: addr.clone() };
                self.state.connections.go_live(id, LiveTunnel { run, handle }, status.clone());
                emit_status(&self.state, id, status.clone());
                let ctx = crate::wording::Context { ca_file: profile.ca_file.clone() };
                let tracker = StatusTracker::new(addr).with_context(ctx);
                tokio::spawn(watch(Arc::downgrade(&self.state), id.to_owned(), run, rx, tracker));
                Ok(status)
            }
            Err(e) => {
                self.log(id, logs::entry(LogLevel::Error, e.message.clone(), None));
                self.set_status(id, ConnectionStatus::Error { message: e.message.clone(), code: e.code });
                Err(e)
            }
        }
    }

    /// Stops a profile's tunnel: the listener and every live session. Not running: nothing.
    ///
    /// # Errors
    /// None today; kept for the command's signature.
    pub async fn disconnect(&self, id: &str) -> Result<(), AppError> {
        let stopped = {
            let _transition = self.state.transitions.lock().await;
            self.state.connections.take_tunnel(id)
        };
        if let Some(tunnel) = stopped {
            tunnel.handle.stop(DRAIN).await;
        }
        if self.status(id) != ConnectionStatus::Idle {
            self.set_status(id, ConnectionStatus::Idle);
        }
        Ok(())
    }

    /// Connects every profile with `tag` (`None` = all, `""` = untagged).
    ///
    /// # Errors
    /// The first failure; the others are in their statuses.
    pub async fn connect_tag(&self, tag: Option<&str>) -> Result<(), AppError> {
        let mut first = None;
        for id in self.ids_with_tag(tag) {
            if let Err(e) = self.connect(&id).await {
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }

    /// Disconnects every profile with `tag` (`None` = all, `""` = untagged).
    ///
    /// # Errors
    /// None today.
    pub async fn disconnect_tag(&self, tag: Option<&str>) -> Result<(), AppError> {
        for id in self.ids_with_tag(tag) {
            self.disconnect(&id).await?;
        }
        Ok(())
    }

    /// Connects every profile marked `autostart`; returns the failures.
    pub async fn autostart_all(&self) -> Vec<(String, AppError)> {
        let ids: Vec<String> =
            lock(&self.state.profiles).list().iter().filter(|p| p.autostart).map(|p| p.id.clone()).collect();
        let mut failures = Vec::new();
        for id in ids {
            if let Err(e) = self.connect(&id).await {
                failures.push((id, e));
            }
        }
        failures
    }

    /// Live sessions of a profile (none when it is not running).
    ///
    /// # Errors
    /// `not_found` for an unknown profile.
    pub async fn sessions(&self, id: &str) -> Result<Vec<Session>, AppError> {
        self.profile(id)?;
        let peers = self.state.connections.with_tunnel(id, TunnelHandle::peers).unwrap_or_default();
        Ok(peers
            .into_iter()
            .map(|p| Session {
                id: p.id,
                peer: p.addr.to_string(),
                since_ms: ms_since_epoch(p.since),
                bytes_up: p.bytes_up,
                bytes_down: p.bytes_down,
            })
            .collect())
    }

    /// Cuts one live session.
    ///
    /// # Errors
    /// `not_found` when the profile is not running or the session is not live.
    pub async fn close_session(&self, id: &str, session_id: u64) -> Result<(), AppError> {
        if self.state.connections.with_tunnel(id, |h| h.close_peer(session_id)) == Some(true) {
            Ok(())
        } else {
            Err(AppError::new(ErrorCode::NotFound, format!("no live session {session_id} on this connection")))
        }
    }

    fn ids_with_tag(&self, tag: Option<&str>) -> Vec<String> {
        lock(&self.state.profiles)
            .list()
            .iter()
            .filter(|p| match tag {
                None => true,
                Some("") => p.tags.is_empty(),
                Some(t) => p.tags.iter().any(|x| x == t),
            })
            .map(|p| p.id.clone())
            .collect()
    }

    /// What `profile` builds its tunnel from, as `porthole tcp` does from its flags.
    fn tunnel_options(&self, profile: &Profile) -> Result<TunnelOptions, AppError> {
        if profile.protocol == Protocol::Udp {
            return Err(AppError::new(ErrorCode::Tunnel, "UDP connections are not supported yet"));
        }
        let client_cert = profile.client_cert.as_ref().map(|cert| match cert {
            ClientCert::Files { cert_file, .. } => ClientCertSource::Pem {
                cert: PemSource::File { path: cert_file.into(), flag: None },
                key: KeySource::Secret { store: lock(&self.state.profiles).secrets().clone(), id: profile.id.clone() },
            },
            ClientCert::Store { issuer, subject } => {
                ClientCertSource::Store { issuer: issuer.clone(), subject: subject.clone() }
            }
        });
        Ok(TunnelOptions {
            destination: profile.destination.clone(),
            pomerium_url: profile.pomerium_url.clone(),
            disable_tls_verification: profile.disable_tls_verification,
            ca: profile.ca_file.as_ref().map(|path| PemSource::File { path: path.into(), flag: None }),
            client_cert,
            cert_store_dir: self.state.cert_store_dir.clone(),
            browser: self.state.browser.clone(),
            login_timeout: self.state.login_timeout,
        })
    }

    pub(crate) fn set_status(&self, id: &str, status: ConnectionStatus) {
        self.state.connections.set_status(id, status.clone());
        emit_status(&self.state, id, status);
    }

    pub(crate) fn log(&self, id: &str, entry: LogEntry) {
        log(&self.state, id, entry);
    }
}

fn emit_status(state: &AppState, id: &str, status: ConnectionStatus) {
    emit_status_alert(state, id, status, false);
}

fn emit_status_alert(state: &AppState, id: &str, status: ConnectionStatus, alert: bool) {
    let _ = state.events.send(AppEvent::Status(StatusEvent { id: id.to_owned(), status, alert }));
}

fn log(state: &AppState, id: &str, entry: LogEntry) {
    state.connections.push_log(id, entry.clone());
    let _ = state.events.send(AppEvent::Log(LogEvent { id: id.to_owned(), entry }));
}

/// Follows one tunnel's events until its channel closes (the tunnel stopped and its tasks
/// ended). Status changes apply only while this run is the profile's live tunnel.
async fn watch(
    state: Weak<AppState>,
    id: String,
    run: u64,
    mut rx: broadcast::Receiver<TunnelEvent>,
    mut tracker: StatusTracker,
) {
    loop {
        let event = match rx.recv().await {
            Ok(e) => e,
            Err(broadcast::error::RecvError::Lagged(_)) => continue,
            Err(broadcast::error::RecvError::Closed) => break,
        };
        let Some(state) = state.upgrade() else { break };
        if let TunnelEvent::LoginCompleted { origin } = &event {
            lock(&state.origins).insert(origin.clone());
        }
        if let Some(entry) = logs::describe(&event, &state.browser, tracker.context()) {
            log(&state, &id, entry);
        }
        if let Some(status) = tracker.apply(&event)
            && status != ConnectionStatus::Idle
            && state.connections.set_status_if_current(&id, run, status.clone())
        {
            emit_status_alert(&state, &id, status, tracker.take_alert());
        }
    }
}
