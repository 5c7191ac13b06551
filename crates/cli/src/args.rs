//! The command line. `tcp` accepts every pomerium-cli `tcp` flag under the same name, with the
//! same `--flag value` / `--flag=value` forms (booleans also take `=true`/`=false`).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use porthole_client::listen::Listen;
use porthole_tunnel::connect::Http3Mode;

/// Porthole: tunnels to databases, SSH, Redis and RDP through an identity-aware proxy.
#[derive(Debug, Parser)]
#[command(name = "porthole", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Open a TCP tunnel (same arguments as `pomerium-cli tcp`).
    Tcp(Box<TcpArgs>),
    /// Open a UDP tunnel (same arguments as `pomerium-cli udp`; `--pomerium-url` is honoured).
    Udp(Box<UdpArgs>),
    /// List the routes a Pomerium server's portal offers you (name, type, from).
    Routes(RoutesArgs),
    /// Forget the stored login for a proxy (e.g. `https://proxy.example.com`), or all logins.
    Logout {
        /// The proxy URL or `host[:port]`; all proxies when left out.
        proxy: Option<String>,
    },
    /// Where tokens are kept, or remove them all.
    Cache {
        /// `location` or `clear`.
        #[command(subcommand)]
        command: CacheCommand,
    },
}

/// `porthole cache …`.
#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// Print where tokens are kept.
    Location,
    /// Delete every stored token.
    Clear,
}

/// `porthole routes --pomerium-url URL [flags]`.
#[derive(Debug, Args)]
pub struct RoutesArgs {
    /// The Pomerium server (e.g. https://pomerium.example.com).
    #[arg(long)]
    pub pomerium_url: String,
    /// Print the portal's JSON (`{"routes": [...]}`, Pomerium's fields) instead of a table.
    #[arg(long)]
    pub json: bool,
    /// A PEM file of extra certificate authorities to trust.
    #[arg(long)]
    pub alternate_ca_path: Option<PathBuf>,
    /// Do not verify the server's certificate (dangerous).
    #[arg(long, default_missing_value = "true", num_args = 0..=1, value_name = "BOOL")]
    pub disable_tls_verification: Option<bool>,
    /// Program that opens the login URL (run as `<program> <url>`).
    #[arg(long)]
    pub browser_cmd: Option<String>,
    /// Open no browser: print the login URL for you to open anywhere.
    #[arg(long, default_missing_value = "true", num_args = 0..=1, value_name = "BOOL")]
    pub no_browser: Option<bool>,
    /// How long to wait for a login to be completed in the browser.
    #[arg(long, default_value = "5m", value_parser = humantime::parse_duration)]
    pub login_timeout: Duration,
}

/// `porthole tcp <destination> [flags]`.
#[derive(Debug, Args)]
#[command(after_help = "Destination forms: host:port, tcp+https://host:port, tcp+https://proxy[:port]/host:port")]
pub struct TcpArgs {
    /// The destination: `host:port`, `tcp+https://host:port` or `tcp+https://proxy[:port]/host:port`.
    pub destination: String,
    /// Local address to listen on: `:PORT` (every interface), `HOST:PORT`, `[IPv6]:PORT`, or `-`
    /// for one tunnel on stdin/stdout (ssh ProxyCommand).
    #[arg(long, default_value = "127.0.0.1:0", value_parser = Listen::parse)]
    pub listen: Listen,
    /// The proxy URL, when it is not the destination's host (e.g. https://proxy.example.com).
    #[arg(long)]
    pub pomerium_url: Option<String>,
    /// Program that opens the login URL (run as `<program> <url>`).
    #[arg(long)]
    pub browser_cmd: Option<String>,
    /// Open no browser: print the login URL for you to open anywhere.
    #[arg(long, default_missing_value = "true", num_args = 0..=1, value_name = "BOOL")]
    pub no_browser: Option<bool>,
    /// A service account token to log in with instead of a browser.
    #[arg(long)]
    pub service_account: Option<String>,
    /// A file holding a service account token.
    #[arg(long)]
    pub service_account_file: Option<PathBuf>,
    /// Do not verify the proxy's certificate (dangerous: anyone on the path can read the tunnel).
    #[arg(long, default_missing_value = "true", num_args = 0..=1, value_name = "BOOL")]
    pub disable_tls_verification: Option<bool>,
    /// A PEM file of extra certificate authorities to trust.
    #[arg(long)]
    pub alternate_ca_path: Option<PathBuf>,
    /// Base64-encoded PEM of extra certificate authorities to trust.
    #[arg(long)]
    pub ca_cert: Option<String>,
    /// PEM client certificate file.
    #[arg(long)]
    pub client_cert: Option<PathBuf>,
    /// PEM client key file.
    #[arg(long)]
    pub client_key: Option<PathBuf>,
    /// Pick the client certificate from the OS store (on Linux: PEM identities in the config dir).
    #[arg(long, default_missing_value = "true", num_args = 0..=1, value_name = "BOOL")]
    pub client_cert_from_store: Option<bool>,
    /// Only store certificates whose issuer matches `attr=value` (e.g. `CN=Corp CA`).
    #[arg(long)]
    pub client_cert_issuer: Option<String>,
    /// Only store certificates whose subject matches `attr=value`.
    #[arg(long)]
    pub client_cert_subject: Option<String>,
    /// Print every event as a JSON line on stderr (for scripts).
    #[arg(long)]
    pub json: bool,
    /// How long to wait for a login to be completed in the browser.
    #[arg(long, default_value = "5m", value_parser = humantime::parse_duration)]
    pub login_timeout: Duration,
    /// HTTP/3 to the proxy: `auto` (when it advertises `Alt-Svc: h3`, falling back to HTTP/1.1)
    /// or `off` (HTTP/1.1 only, for networks that block UDP). Default: `PORTHOLE_HTTP3`, else auto.
    #[arg(long, value_parser = Http3Mode::parse, value_name = "auto|off")]
    pub http3: Option<Http3Mode>,
}

impl TcpArgs {
    /// `--no-browser` given (and not `=false`).
    pub fn no_browser(&self) -> bool {
        self.no_browser.unwrap_or(false)
    }
    /// `--disable-tls-verification` given (and not `=false`).
    pub fn insecure(&self) -> bool {
        self.disable_tls_verification.unwrap_or(false)
    }
    /// `--client-cert-from-store` given (and not `=false`).
    pub fn use_store(&self) -> bool {
        self.client_cert_from_store.unwrap_or(false)
    }
}

/// `porthole udp <destination> [flags]`: `tcp`'s flags (destination forms with `udp+https://`;
/// `--listen` is a local UDP address, never `-`) plus the UDP session settings.
#[derive(Debug, Args)]
#[command(after_help = "Destination forms: host:port, udp+https://host:port, udp+https://proxy[:port]/host:port")]
pub struct UdpArgs {
    /// Every `porthole tcp` flag.
    #[command(flatten)]
    pub tunnel: TcpArgs,
    /// A local peer (source address) that sends and receives nothing for this long loses its
    /// tunnel; its next datagram opens a new one.
    #[arg(long, default_value = "2m", value_parser = humantime::parse_duration)]
    pub udp_idle_timeout: Duration,
    /// Largest datagram carried, in bytes; larger ones are dropped and counted, never split.
    #[arg(long, default_value_t = 65_507, value_parser = clap::value_parser!(u32).range(1..=65_507))]
    pub udp_max_datagram: u32,
}
