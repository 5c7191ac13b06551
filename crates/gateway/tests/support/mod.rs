//! The gateway's integration tests run it in-process: testkit's [`TestGateway`] writes the
//! config (test CA, token key, routes, optionally the real IdP) and [`serve`] runs it here.
#![allow(dead_code, missing_docs)]

use std::net::SocketAddr;
use std::path::Path;

use porthole_gateway::{Gateway, Running};
pub use porthole_testkit::gateway::GatewayOpts as Opts;
use porthole_testkit::gateway::TestGateway;

/// A gateway running in this test process, and what a test needs to talk to it.
pub type Stack = TestGateway<Running>;

/// Starts an in-process gateway for `opts`.
pub async fn start(opts: Opts<'_>) -> Stack {
    TestGateway::start_with(opts, serve).await.unwrap_or_else(|e| panic!("{e:#}"))
}

/// Loads the config file and serves it on a fresh loopback port in this process.
pub fn serve(config: &Path, dir: &Path) -> anyhow::Result<(Running, SocketAddr)> {
    let yaml = std::fs::read_to_string(config)?;
    let loaded = porthole_gateway::config::parse_str(&yaml, dir)
        .map_err(|e| anyhow::anyhow!("the test config must load: {e:?}"))?;
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let gateway = Gateway::new(loaded.config)?.serve(tokio::net::TcpListener::from_std(listener)?)?;
    let addr = gateway.local_addr();
    Ok((gateway, addr))
}
