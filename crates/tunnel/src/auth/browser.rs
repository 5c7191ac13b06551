//! Opening the login URL: the system browser, a command the user names (`--browser-cmd`), or
//! nobody (`--no-browser`: the front end prints the URL).

use std::process::Stdio;

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

impl Browser {
    /// Opens `url`. Returns once the browser process was started, not when it exits.
    ///
    /// # Errors
    /// A sentence saying which browser could not be started and what to do instead.
    pub fn open(&self, url: &str) -> Result<(), String> {
        match self {
            Browser::Print => Ok(()),
            Browser::System => open::that_detached(url).map_err(|e| {
                format!(
                    "could not open a browser ({e}); open the URL above yourself, or use --browser-cmd or --no-browser"
                )
            }),
            Browser::Command(program) => {
                let child = tokio::process::Command::new(program)
                    .arg(url)
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .kill_on_drop(false)
                    .spawn()
                    .map_err(|e| format!("could not run the browser command {program:?}: {e}"))?;
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
