//! The destination grammar against pomerium-cli's own test vectors (docs/protocol.md §1.1) and the
//! edges where Porthole deliberately differs (empty bastion target, IPv6 default port).

use porthole_tunnel::target::{ProxyAddr, Target, TargetError, parse};

fn proxy(scheme: &str, host: &str, port: u16) -> ProxyAddr {
    ProxyAddr { scheme: scheme.into(), host: host.into(), port }
}

fn ok(destination: &str, pomerium_url: Option<&str>) -> Target {
    parse(destination, pomerium_url).unwrap_or_else(|e| panic!("{destination:?} must parse: {e}"))
}

#[test]
fn row1_bare_host_port_goes_through_https_on_the_same_host() {
    let t = ok("redis.example.com:6379", None);
    assert_eq!(t.destination, "redis.example.com:6379");
    assert_eq!(t.proxy, proxy("https", "redis.example.com", 443), "the route port is not the proxy port");
}

#[test]
fn row2_tcp_https_url_without_path_uses_the_default_proxy_port() {
    let t = ok("tcp+https://redis.example.com:6379", None);
    assert_eq!(t.destination, "redis.example.com:6379");
    assert_eq!(t.proxy, proxy("https", "redis.example.com", 443));
}

#[test]
fn row3_http_url_means_plaintext_on_port_80() {
    let t = ok("http://redis.example.com:6379", None);
    assert_eq!(t.destination, "redis.example.com:6379");
    assert_eq!(t.proxy, proxy("http", "redis.example.com", 80));
    assert!(!t.proxy.tls(), "http is plaintext");
}

#[test]
fn row4_bastion_form_takes_the_first_path_segment() {
    let t = ok("https://proxy.example.com/redis.example.com:6379", None);
    assert_eq!(t.destination, "redis.example.com:6379");
    assert_eq!(t.proxy, proxy("https", "proxy.example.com", 443));
}

#[test]
fn row5_bastion_form_keeps_the_proxy_port() {
    let t = ok("https://proxy.example.com:8443/redis.example.com:6379", None);
    assert_eq!(t.destination, "redis.example.com:6379");
    assert_eq!(t.proxy, proxy("https", "proxy.example.com", 8443));
}

#[test]
fn row6_pomerium_url_without_scheme_is_refused() {
    let err = parse("redis.example.com:6379", Some("example.com:1234")).unwrap_err();
    assert_eq!(err, TargetError::PomeriumUrl("example.com:1234".into()));
    assert!(err.to_string().starts_with("invalid pomerium url"), "pomerium-cli's wording: {err}");
}

#[test]
fn row7_pomerium_url_replaces_the_proxy() {
    let t = ok("redis.example.com:6379", Some("https://proxy.example.com"));
    assert_eq!(t.destination, "redis.example.com:6379");
    assert_eq!(t.proxy, proxy("https", "proxy.example.com", 443));
}

#[test]
fn pomerium_url_keeps_its_port_and_ignores_its_path() {
    let t = ok("db:5432", Some("https://proxy.example.com:8443/some/path"));
    assert_eq!(t.proxy, proxy("https", "proxy.example.com", 8443));
    let t = ok("db:5432", Some(""));
    assert_eq!(t.proxy, proxy("https", "db", 443), "an empty --pomerium-url changes nothing");
}

#[test]
fn udp_prefix_is_stripped_like_tcp() {
    let t = ok("udp+https://dns.example.com:53", None);
    assert_eq!(t.destination, "dns.example.com:53");
    assert_eq!(t.proxy, proxy("https", "dns.example.com", 443));
}

#[test]
fn tcp_http_is_plaintext_on_port_80_and_other_schemes_pass_through() {
    let t = ok("tcp+http://redis.example.com:6379", None);
    assert_eq!(t.proxy, proxy("http", "redis.example.com", 80));
    let t = ok("tcp+gopher://redis.example.com:6379", None);
    assert_eq!(t.proxy, proxy("gopher", "redis.example.com", 80), "not validated, as pomerium-cli");
    assert!(!t.proxy.tls());
}

#[test]
fn ipv6_literals_lose_their_brackets_in_host_only() {
    let t = ok("[::1]:22", None);
    assert_eq!(t.destination, "[::1]:22", "the CONNECT target keeps the brackets");
    assert_eq!(t.proxy, proxy("https", "::1", 443), "a default port is added even for IPv6");
    assert_eq!(t.proxy.host_port(), "[::1]:443");
    let t = ok("https://[fd00::1]:8443/db:5432", None);
    assert_eq!(t.proxy, proxy("https", "fd00::1", 8443));
    assert_eq!(t.destination, "db:5432");
}

#[test]
fn trailing_slash_without_destination_is_an_error_not_an_empty_connect() {
    let err = parse("tcp+https://proxy.example.com/", None).unwrap_err();
    assert_eq!(err, TargetError::NoDestination("tcp+https://proxy.example.com/".into()));
    assert!(err.to_string().contains("no destination after the proxy"), "{err}");
}

#[test]
fn extra_path_segments_are_ignored() {
    let t = ok("tcp+https://proxy.example.com/redis.example.com:6379/other:1/x", None);
    assert_eq!(t.destination, "redis.example.com:6379");
}

#[test]
fn garbage_is_an_invalid_destination() {
    for bad in ["redis.example.com", "", ":6379", "host:notaport", "::1", "tcp+https://", "1tcp://h:1"] {
        let err = parse(bad, None).unwrap_err();
        assert_eq!(err, TargetError::Destination(bad.into()), "{bad:?} must be refused");
    }
}

#[test]
fn login_base_strips_default_ports_only() {
    assert_eq!(proxy("https", "p.example.com", 443).login_base(), "https://p.example.com");
    assert_eq!(proxy("https", "p.example.com", 8443).login_base(), "https://p.example.com:8443");
    assert_eq!(proxy("http", "p.example.com", 80).login_base(), "http://p.example.com");
    assert_eq!(proxy("http", "p.example.com", 443).login_base(), "http://p.example.com:443");
    assert_eq!(proxy("https", "::1", 443).login_base(), "https://[::1]");
}

#[test]
fn origin_always_has_the_port() {
    assert_eq!(ok("redis.example.com:6379", None).proxy.origin(), "https://redis.example.com:443");
    assert_eq!(ok("http://r.example.com:1", None).proxy.origin(), "http://r.example.com:80");
    assert_eq!(proxy("https", "::1", 8443).origin(), "https://[::1]:8443");
}

#[test]
fn whitespace_and_controls_never_reach_the_connect_line() {
    // Found by the `target` fuzz target: `a\r\nX:1` parsed as host `a\r\nX`, port 1, and the
    // CONNECT request then carried an injected header line.
    for bad in [
        "a\r\nX:1",
        "db\n:5432",
        "a b:22",
        "db:5432\r",
        "tcp+https://proxy.example.com/a\tb:1",
        "h\u{0}:1",
        "h\u{7f}:1",
        "hé:1",
    ] {
        let err = parse(bad, None).unwrap_err();
        assert_eq!(err, TargetError::Destination(bad.into()), "{bad:?} must be refused");
    }
    let request = porthole_tunnel::connect::request_bytes(&ok("db.example.com:5432", None).destination, None);
    assert_eq!(request.iter().filter(|&&b| b == b'\n').count(), 4, "request line, Host, User-Agent, blank line");
}
