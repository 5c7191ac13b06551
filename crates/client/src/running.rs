//! Running tunnels: building a [`TunnelConfig`] from a [`Profile`] (as the CLI does from its
//! flags), starting and stopping them, live sessions, and the task per tunnel that turns its
//! events into status changes, log lines and [`AppEvent`]s.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use porthole_tunnel::auth::LoginSettings;
use porthole_tunnel::connect::Connector;
use porthole_tunnel::events::TunnelEvent;
use porthole_tunnel::handle::{TunnelConfig, TunnelError, TunnelHandle};
use porthole_tunnel::target;
use porthole_tunnel::tls::{ClientIdentity, NameFilter, TlsOptions, client_config};
use tokio::sync::broadcast;

use crate::app::{App, AppEvent, Shared, lock};
use crate::error::{AppError, ErrorCode};
use crate::logs::{self, ms_since_epoch};
use crate::model::{ClientCert, ConnectionStatus, LogEvent, LogLevel, Profile, Protocol, Session, StatusEvent};
use crate::status::StatusTracker;
use crate::validate;

/// How long `disconnect` waits for a tunnel's tasks to end.
const DRAIN: Duration = Duration::from_secs(2);

static NEXT_RUN: AtomicU64 = AtomicU64::new(1);

/// One running tunnel.
pub(crate) struct Running {
    handle: TunnelHandle,
}

impl App {
    /// Starts listening for a profile (already running: its status). A bind failure is
    /// `port_in_use` when the address is taken.
    ///
    /// # Errors
    /// `not_found`; `port_in_use`; `io` (CA or certificate file); `keychain`; `tunnel`.
    pub async fn connect(&self, id: &str) -> Result<ConnectionStatus, AppError> {
        let profile = self.profile(id)?;
        let mut running = self.shared.running.lock().await;
        if running.contains_key(id) {
            return Ok(self.status(id));
        }
        let started = async {
            let config = self.tunnel_config(&profile)?;
            let listen = validate::listen_spec(profile.listen_addr.as_deref())
                .map_err(|m| AppError::new(ErrorCode::Invalid, m))?;
            let (events, rx) = broadcast::channel(1024);
            let handle = TunnelHandle::start_with_events(&listen, config, self.shared.auth.clone(), events)
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
                lock(&self.shared.runs).insert(id.to_owned(), run);
                let status = ConnectionStatus::Listening { addr: addr.clone() };
                self.set_status(id, status.clone());
                tokio::spawn(watch(Arc::downgrade(&self.shared), id.to_owned(), run, rx, StatusTracker::new(addr)));
                running.insert(id.to_owned(), Running { handle });
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
        let stopped = self.shared.running.lock().await.remove(id);
        lock(&self.shared.runs).remove(id);
        if let Some(r) = stopped {
            r.handle.stop(DRAIN).await;
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
            lock(&self.shared.profiles).list().iter().filter(|p| p.autostart).map(|p| p.id.clone()).collect();
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
        let running = self.shared.running.lock().await;
        Ok(running.get(id).map_or_else(Vec::new, |r| {
            r.handle
                .peers()
                .into_iter()
                .map(|p| Session {
                    id: p.id,
                    peer: p.addr.to_string(),
                    since_ms: ms_since_epoch(p.since),
                    bytes_up: p.bytes_up,
                    bytes_down: p.bytes_down,
                })
                .collect()
        }))
    }

    /// Cuts one live session.
    ///
    /// # Errors
    /// `not_found` when the profile is not running or the session is not live.
    pub async fn close_session(&self, id: &str, session_id: u64) -> Result<(), AppError> {
        let running = self.shared.running.lock().await;
        if running.get(id).is_some_and(|r| r.handle.close_peer(session_id)) {
            Ok(())
        } else {
            Err(AppError::new(ErrorCode::NotFound, format!("no live session {session_id} on this connection")))
        }
    }

    fn ids_with_tag(&self, tag: Option<&str>) -> Vec<String> {
        lock(&self.shared.profiles)
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

    /// The engine's configuration for `profile`, as `porthole tcp` builds it from flags.
    fn tunnel_config(&self, profile: &Profile) -> Result<TunnelConfig, AppError> {
        if profile.protocol == Protocol::Udp {
            return Err(AppError::new(ErrorCode::Tunnel, "UDP connections are not supported yet"));
        }
        let target = target::parse(&profile.destination, profile.pomerium_url.as_deref())
            .map_err(|e| AppError::new(ErrorCode::Invalid, e.to_string()))?;
        let read = |path: &str| std::fs::read(path).map_err(|e| AppError::io("read", std::path::Path::new(path), &e));
        let tls = if target.proxy.tls() {
            let client = match &profile.client_cert {
                None => None,
                Some(ClientCert::Files { cert_file, .. }) => {
                    let secrets = lock(&self.shared.profiles).secrets().clone();
                    let key = secrets.get(&profile.id)?.ok_or_else(|| {
                        AppError::new(
                            ErrorCode::Keychain,
                            "the client certificate's private key is not in the keychain; choose the key file again",
                        )
                    })?;
                    Some(ClientIdentity::Pem { cert_pem: read(cert_file)?, key_pem: key.into_bytes().into() })
                }
                Some(ClientCert::Store { issuer, subject }) => {
                    let filter = |f: &Option<String>| {
                        f.as_deref()
                            .map(NameFilter::parse)
                            .transpose()
                            .map_err(|e| AppError::new(ErrorCode::Invalid, e.to_string()))
                    };
                    Some(ClientIdentity::Store {
                        dir: self.shared.cert_store_dir.clone(),
                        issuer: filter(issuer)?,
                        subject: filter(subject)?,
                    })
                }
            };
            let ca_pem = profile.ca_file.as_deref().map(read).transpose()?;
            let opts = TlsOptions { disable_verification: profile.disable_tls_verification, ca_pem, client };
            Some(client_config(&opts).map_err(|e| AppError::new(ErrorCode::Tunnel, e.to_string()))?)
        } else {
            None
        };
        Ok(TunnelConfig {
            connector: Arc::new(Connector::new(target, tls.clone())),
            login: LoginSettings { tls, browser: self.shared.browser.clone(), timeout: self.shared.login_timeout },
        })
    }

    pub(crate) fn set_status(&self, id: &str, status: ConnectionStatus) {
        set_status(&self.shared, id, status);
    }

    pub(crate) fn log(&self, id: &str, entry: crate::model::LogEntry) {
        log(&self.shared, id, entry);
    }
}

fn set_status(shared: &Shared, id: &str, status: ConnectionStatus) {
    lock(&shared.status).insert(id.to_owned(), status.clone());
    let _ = shared.events.send(AppEvent::Status(StatusEvent { id: id.to_owned(), status }));
}

fn log(shared: &Shared, id: &str, entry: crate::model::LogEntry) {
    lock(&shared.logs).entry(id.to_owned()).or_default().push(entry.clone());
    let _ = shared.events.send(AppEvent::Log(LogEvent { id: id.to_owned(), entry }));
}

/// Follows one tunnel's events until its channel closes (the tunnel stopped and its tasks
/// ended). Status changes apply only while this run is the profile's current one.
async fn watch(
    shared: Weak<Shared>,
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
        let Some(shared) = shared.upgrade() else { break };
        if let TunnelEvent::LoginCompleted { origin } = &event {
            lock(&shared.origins).insert(origin.clone());
        }
        if let Some(entry) = logs::describe(&event, &shared.browser) {
            log(&shared, &id, entry);
        }
        if let Some(status) = tracker.apply(&event) {
            let current = lock(&shared.runs).get(&id) == Some(&run);
            if current && status != ConnectionStatus::Idle {
                set_status(&shared, &id, status);
            }
        }
    }
}
