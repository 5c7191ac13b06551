//! The local socket between `portholed` and the window process: one JSON message per line,
//! each line at most [`MAX_LINE`] bytes. The window says [`ToCore::Hello`] first, then calls
//! commands by name ([`ToCore::Call`]); `portholed` answers each call ([`ToWindow::Reply`]) and
//! pushes events, "show this screen" and "exit". The socket is the user's own
//! ([`socket_path`], mode 0600 in a 0700 folder), and a peer of another user is refused.

use std::io;
use std::path::{Path, PathBuf};

use porthole_client::error::AppError;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::io::{AsyncBufRead, AsyncBufReadExt as _, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};

/// The longest line either side accepts (an import file travels in one).
pub const MAX_LINE: usize = 16 * 1024 * 1024;

/// What the window sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToCore {
    /// The first message: a window wants to attach.
    Hello,
    /// Runs command `cmd` with the UI's `args` ([`crate::commands::dispatch`]).
    Call {
        /// Echoed in the reply.
        id: u64,
        /// The command's name.
        cmd: String,
        /// Its arguments, as the UI passed them.
        args: Value,
    },
}

/// What `portholed` sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToWindow {
    /// The window is attached; `tray` says whether closing it keeps the app running.
    Welcome {
        /// A tray keeps the app reachable with the window closed.
        tray: bool,
    },
    /// Another window is open (and was brought to the front): this one should exit.
    Busy,
    /// The answer to the call `id`.
    Reply {
        /// The call's id.
        id: u64,
        /// Its result or its `{code, message, fields}` error.
        result: Result<Value, AppError>,
    },
    /// An event for the page (`status`, `log`, `connections-changed`, `quit-requested`).
    Event {
        /// The event's name.
        name: String,
        /// Its payload.
        payload: Value,
    },
    /// Show the window, on `route` when given.
    Show {
        /// `#/connection/<id>`, `#/new`, …
        route: Option<String>,
    },
    /// The app is quitting: close the window and exit.
    Exit,
}

/// The socket of the `portholed` that serves this config folder (`PORTHOLE_CONFIG_DIR`, else the
/// OS's), in the cache folder (`PORTHOLE_CACHE_DIR`, else the OS's): a window started on another
/// config folder (the demo's, a test's) gets a `portholed` of its own, never the person's.
pub fn socket_path() -> PathBuf {
    socket_path_for(&porthole_client::tokens::cache_location(), &porthole_client::profiles::config_dir())
}

/// [`socket_path`] for the given folders: `<cache>/portholed-<16 hex digits of the config
/// folder's SHA-256>.sock`.
pub fn socket_path_for(cache: &Path, config: &Path) -> PathBuf {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(config.as_os_str().as_encoded_bytes());
    let tag: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    cache.join(format!("portholed-{tag}.sock"))
}

/// The error a call gets when `portholed` is gone.
pub fn gone() -> AppError {
    AppError::new(porthole_client::error::ErrorCode::Io, "Porthole's background process stopped; start Porthole again.")
}

/// Reads one message; `None` at a clean end of stream.
///
/// # Errors
/// An I/O error, a line over [`MAX_LINE`], a stream cut mid-line, or JSON that is not a message.
pub async fn read<T: DeserializeOwned, R: AsyncBufRead + Unpin>(r: &mut R, buf: &mut Vec<u8>) -> io::Result<Option<T>> {
    buf.clear();
    let limit = u64::try_from(MAX_LINE).unwrap_or(u64::MAX) + 1;
    let n = (&mut *r).take(limit).read_until(b'\n', buf).await?;
    if n == 0 {
        return Ok(None);
    }
    if buf.last() != Some(&b'\n') {
        let why = if n > MAX_LINE { "a message over the size limit" } else { "a message cut short" };
        return Err(io::Error::new(io::ErrorKind::InvalidData, why));
    }
    serde_json::from_slice(&buf[..n - 1]).map(Some).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// Writes every message `rx` yields, in order, until it closes or a write fails: the one
/// writer of each side of the socket.
pub async fn write_all<T: Serialize, W: AsyncWrite + Unpin>(mut rx: tokio::sync::mpsc::UnboundedReceiver<T>, mut w: W) {
    while let Some(msg) = rx.recv().await {
        if write(&mut w, &msg).await.is_err() {
            break;
        }
    }
}

/// Writes one message as a line.
///
/// # Errors
/// An I/O error.
pub async fn write<T: Serialize, W: AsyncWrite + Unpin>(w: &mut W, msg: &T) -> io::Result<()> {
    let mut line = serde_json::to_vec(msg).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    line.push(b'\n');
    w.write_all(&line).await?;
    w.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn lines_round_trip_and_hostile_lines_are_refused() {
        let mut out = Vec::new();
        let call = ToCore::Call { id: 7, cmd: "connect".into(), args: serde_json::json!({"id": "a"}) };
        write(&mut out, &call).await.unwrap();
        write(&mut out, &ToCore::Hello).await.unwrap();
        let mut r = tokio::io::BufReader::new(&out[..]);
        let mut buf = Vec::new();
        assert_eq!(read::<ToCore, _>(&mut r, &mut buf).await.unwrap(), Some(call));
        assert_eq!(read::<ToCore, _>(&mut r, &mut buf).await.unwrap(), Some(ToCore::Hello));
        assert_eq!(read::<ToCore, _>(&mut r, &mut buf).await.unwrap(), None);

        let mut r = tokio::io::BufReader::new(&b"{\"hello\":"[..]);
        assert!(read::<ToCore, _>(&mut r, &mut buf).await.unwrap_err().to_string().contains("cut short"));
        let long = vec![b'x'; MAX_LINE + 10];
        let mut r = tokio::io::BufReader::new(&long[..]);
        assert!(read::<ToCore, _>(&mut r, &mut buf).await.unwrap_err().to_string().contains("size limit"));
        let mut r = tokio::io::BufReader::new(&b"[1,2]\n"[..]);
        assert_eq!(read::<ToCore, _>(&mut r, &mut buf).await.unwrap_err().kind(), io::ErrorKind::InvalidData);
    }
}
