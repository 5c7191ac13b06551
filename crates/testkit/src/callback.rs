//! A stand-in for the CLI's login callback listener: catches `GET /?pomerium_jwt=…`.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use url::Url;

/// An HTTP listener on `127.0.0.1:<ephemeral>` that records the first `pomerium_jwt` it receives.
///
/// Like pomerium-cli's listener it accepts any method and path: with a non-empty `pomerium_jwt`
/// query parameter it answers `200 login complete`, otherwise `404 not found`. It stops when
/// dropped.
#[derive(Debug)]
pub struct CallbackCatcher {
    /// The redirect URI to give the gateway: `http://127.0.0.1:<port>` (no trailing slash).
    pub redirect_uri: String,
    /// The address it listens on.
    pub addr: SocketAddr,
    token: watch::Receiver<Option<String>>,
    task: JoinHandle<()>,
}

impl CallbackCatcher {
    /// Binds `127.0.0.1:0` and starts serving.
    ///
    /// # Errors
    /// When no loopback port can be bound.
    pub async fn start() -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await.context("while binding the callback catcher")?;
        let addr = listener.local_addr()?;
        let (tx, rx) = watch::channel(None);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let tx = tx.clone();
                tokio::spawn(async move {
                    if let Ok(Some(jwt)) = serve(stream).await {
                        tx.send_if_modified(|slot| slot.is_none() && slot.replace(jwt).is_none());
                    }
                });
            }
        });
        Ok(Self { redirect_uri: format!("http://{addr}"), addr, token: rx, task })
    }

    /// Waits up to `within` for the token.
    ///
    /// # Errors
    /// When no request with a `pomerium_jwt` arrives in time.
    pub async fn token(&self, within: Duration) -> anyhow::Result<String> {
        let mut rx = self.token.clone();
        let waited = tokio::time::timeout(within, rx.wait_for(Option::is_some)).await;
        match waited {
            Ok(Ok(token)) => Ok(token.clone().unwrap_or_default()),
            _ => anyhow::bail!("no pomerium_jwt reached {} within {within:?}", self.redirect_uri),
        }
    }

    /// The token, if it has already arrived.
    #[must_use]
    pub fn try_token(&self) -> Option<String> {
        self.token.borrow().clone()
    }
}

impl Drop for CallbackCatcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads one request head, answers it, and returns its `pomerium_jwt`, if any.
async fn serve(mut stream: TcpStream) -> anyhow::Result<Option<String>> {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf)).await??;
        anyhow::ensure!(n > 0 && head.len() < 64 * 1024, "bad request");
        head.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&head);
    let target = text.split_whitespace().nth(1).unwrap_or("/");
    let jwt =
        Url::parse("http://callback.invalid")?.join(target).ok().and_then(|u| crate::login::jwt_from_redirect(&u));
    let (status, body) = match jwt {
        Some(_) => ("200 OK", "login complete, you may close this page"),
        None => ("404 Not Found", "not found"),
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await?;
    Ok(jwt)
}
