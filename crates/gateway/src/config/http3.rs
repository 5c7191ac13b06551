//! HTTP/3: `codec_type` (Pomerium's key: `auto`, `http1`, `http2`, `http3`) and
//! `http3_advertise_port`. With `codec_type: http3` the gateway also listens for QUIC on the
//! UDP port of `address`, and every answer of its TCP listener carries
//! `Alt-Svc: h3=":<port>"; ma=86400` (the port is `http3_advertise_port`, else the listen port),
//! as Pomerium's Envoy does. Other values keep the TCP listener as it is (HTTP/1.1 and HTTP/2).

use super::global::Entries;
use super::yaml::{self, Issues};

/// The HTTP/3 listener's settings, present when `codec_type: http3`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Http3 {
    /// `http3_advertise_port`: the port named in `Alt-Svc` (a load balancer's public port).
    /// `None` means the port the gateway listens on.
    pub advertise_port: Option<u16>,
}

impl Http3 {
    /// The `Alt-Svc` value for a gateway listening on `listen_port`.
    pub fn alt_svc(&self, listen_port: u16) -> String {
        format!("h3=\":{}\"; ma=86400", self.advertise_port.unwrap_or(listen_port))
    }
}

/// Reads `codec_type` and `http3_advertise_port`.
pub(crate) fn parse(map: &Entries<'_, '_>, issues: &mut Issues) -> Option<Http3> {
    let advertise_port = map.get("http3_advertise_port").and_then(|(_, v)| {
        let text = yaml::scalar_text(v).unwrap_or_default();
        match text.trim().parse::<u16>() {
            Ok(p) if p != 0 => Some(p),
            _ => {
                let message = format!("`{text}` is not a port (1-65535)");
                issues.error(yaml::line(v), "http3_advertise_port", message);
                None
            }
        }
    });
    let (_, value) = map.get("codec_type")?;
    let codec = yaml::string(value, "codec_type", issues)?;
    match codec.trim().to_ascii_lowercase().as_str() {
        "http3" => Some(Http3 { advertise_port }),
        "" | "auto" | "http1" | "http2" => {
            if advertise_port.is_some() {
                let message = "`http3_advertise_port` has no effect unless `codec_type: http3`";
                issues.warn(yaml::line(value), "http3_advertise_port", message);
            }
            None
        }
        other => {
            let message = format!("`{other}` is not a codec_type; use auto, http1, http2 or http3");
            issues.error(yaml::line(value), "codec_type", message);
            None
        }
    }
}
