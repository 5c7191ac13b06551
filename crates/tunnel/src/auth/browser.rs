//! Opening the login URL: the system browser, a command the user names (`--browser-cmd`), or
//! nobody (`--no-browser`: the front end prints the URL).

use std::process::Stdio;
use std::sync::Arc;

/// How to show the login URL to the person.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Browser {
    /// The system's default browser (`xdg-open`, `open`, `start`).
    #[default]
    System,
    /// Run `program <url>` (pomerium-cli's `--browser-cmd`).
    Command(String),
    /// Open nothing; the front end shows the URL from the `AuthRequired` event.
    Print,
}

/// Why the login URL could not be shown: a sentence saying what to do instead, with the
/// system's error as its source.
#[derive(Debug, Clone, thiserror::Error)]
pub enum BrowserError {
    /// The system browser could not be started.
    #[error("could not open a browser ({0}); open the URL above yourself, or use --browser-cmd or --no-browser")]
    System(#[source] Arc<std::io::Error>),
    /// The `--browser-cmd` program could not be started.
    #[error("could not run the browser command {program:?}: {source}")]
    Command {
        /// The program.
        program: String,
        /// Why it did not start.
        #[source]
        source: Arc<std::io::Error>,
    },
}

impl Browser {
    /// Opens `url`. Returns once the browser process was started, not when it exits.
    ///
    /// # Errors
    /// [`BrowserError`]: which browser could not be started and what to do instead.
    pub fn open(&self, url: &str) -> Result<(), BrowserError> {
        match self {
            Browser::Print => Ok(()),
            Browser::System => open::that_detached(url).map_err(|e| BrowserError::System(Arc::new(e))),
            Browser::Command(program) => {
                let child = tokio::process::Command::new(program)
                    .arg(url)
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .kill_on_drop(false)
                    .spawn()
                    .map_err(|e| BrowserError::Command { program: program.clone(), source: Arc::new(e) })?;
                // Reap it whenever it exits; its outcome does not matter to the login.
                tokio::spawn(async move {
                    let mut child = child;
                    let _ = child.wait().await;
                });
                Ok(())
            }
        }
    }
}
