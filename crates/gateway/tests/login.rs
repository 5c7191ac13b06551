//! Login through the real identity provider (`oidc-provider`), ending in a token the gateway
//! accepts on CONNECT; and the HTTP endpoints around it (login API, routes API, JWKS, healthz).

mod support;

use porthole_testkit::echo::EchoServer;
use porthole_testkit::idp::{ALICE, BOB, PASSWORD};
use porthole_testkit::login::LoginClient;
use support::Opts;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn routes(echo: &EchoServer) -> String {
    format!(
        "  - from: tcp+https://admins.example.com:7000\n    name: Admin echo\n    description: only admins\n    to: tcp://{echo}\n    policy:\n      - allow:\n          or:\n            - claim/groups: admins\n\
         \x20 - from: tcp+https://eng.example.com:7001\n    to: tcp://{echo}\n    policy:\n      - allow:\n          and:\n            - claim/department: eng\n",
        echo = echo.addr
    )
}

async fn get(client: &LoginClient, url: &str, bearer: Option<&str>) -> (u16, String, String) {
    let mut req = client.http().get(url);
    if let Some(t) = bearer {
        req = req.header("Authorization", format!("Bearer Pomerium-{t}"));
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let ctype = resp.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    (status, ctype, resp.text().await.unwrap())
}

#[tokio::test]
async fn login_through_real_idp_then_connect() {
    let echo = EchoServer::start().await;
    let stack = support::start(Opts { routes: &routes(&echo), idp: true, ..Default::default() }).await;
    let client = LoginClient::new(Some(stack.pki.ca_pem())).unwrap();

    let login_api =
        format!("{}/.pomerium/api/v1/login?pomerium_redirect_uri=http%3A%2F%2F127.0.0.1%3A5555", stack.url());
    let (status, ctype, url) = get(&client, &login_api, None).await;
    assert_eq!(status, 200, "login API answers 200: {url}");
    assert!(ctype.starts_with("text/plain"), "login API is text/plain: {ctype}");
    assert!(
        url.starts_with(&format!("{}/.pomerium/sign_in?", stack.url())),
        "the URL to open is this gateway's sign-in: {url}"
    );
    assert!(!url.ends_with('\n'), "the body is the URL verbatim, no trailing newline");

    let token = client.login(&url, ALICE.email, PASSWORD).await.expect("alice logs in at the real IdP");
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "a compact JWS");
    use base64::Engine as _;
    let claims: serde_json::Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    assert_eq!(claims["email"], "alice@example.com");
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["groups"], serde_json::json!(["admins", "dev"]), "groups come from the ID token");
    for k in ["exp", "iat", "jti"] {
        assert!(claims.get(k).is_some(), "token carries {k}: {claims}");
    }
    let header: serde_json::Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    assert_eq!(header["alg"], "ES256", "asymmetric signature");

    let mut r =
        stack.connect("admins.example.com:7000", &[("Authorization", &format!("Pomerium {token}"))], None).await;
    assert_eq!(r.status, 200, "the token from the login is accepted: {}", r.head);
    r.stream.write_all(b"hello").await.unwrap();
    let mut buf = [0u8; 5];
    r.stream.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"hello");

    // bob logs in for real too; his claims do not satisfy the admins route.
    let client2 = LoginClient::new(Some(stack.pki.ca_pem())).unwrap();
    let (_, _, url2) = get(&client2, &login_api, None).await;
    let bob = client2.login(&url2, BOB.email, PASSWORD).await.expect("bob logs in");
    let r = stack.connect("admins.example.com:7000", &[("Authorization", &format!("Pomerium {bob}"))], None).await;
    assert_eq!(r.status, 403, "bob is not in admins: {}", r.head);
    let r = stack.connect("eng.example.com:7001", &[("Authorization", &format!("Pomerium {token}"))], None).await;
    assert_eq!(r.status, 200, "alice's custom department claim (eng) is honoured: {}", r.head);
    let r = stack.connect("eng.example.com:7001", &[("Authorization", &format!("Pomerium {bob}"))], None).await;
    assert_eq!(r.status, 403, "bob is in sales: {}", r.head);

    // The routes API lists what the caller may use.
    let routes_url = format!("{}/.pomerium/api/v1/routes", stack.url());
    let (status, _, body) = get(&client, &routes_url, Some(&token)).await;
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let names: Vec<&str> = v["routes"].as_array().unwrap().iter().map(|r| r["from"].as_str().unwrap()).collect();
    assert_eq!(names, ["tcp+https://admins.example.com:7000", "tcp+https://eng.example.com:7001"]);
    assert_eq!(v["routes"][0]["type"], "tcp");
    assert_eq!(v["routes"][0]["name"], "Admin echo");
    assert_eq!(v["routes"][0]["description"], "only admins");
    assert_eq!(v["routes"][0]["connect_command"], "porthole tcp admins.example.com:7000");
    let (status, _, body) = get(&client, &routes_url, Some(&bob)).await;
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["routes"].as_array().unwrap().len(), 0, "bob may use neither route: {body}");
    let (status, _, _) = get(&client, &routes_url, None).await;
    assert_eq!(status, 401, "routes API needs a token");
}

#[tokio::test]
async fn login_api_refuses_non_loopback_and_serves_jwks_and_healthz() {
    let echo = EchoServer::start().await;
    let stack = support::start(Opts { routes: &routes(&echo), ..Default::default() }).await;
    let client = LoginClient::new(Some(stack.pki.ca_pem())).unwrap();
    for bad in ["https%3A%2F%2Fevil.example.com%2F", "http%3A%2F%2F10.0.0.1%3A80", "javascript%3Aalert(1)"] {
        let (status, _, body) =
            get(&client, &format!("{}/.pomerium/api/v1/login?pomerium_redirect_uri={bad}", stack.url()), None).await;
        assert_eq!(status, 400, "{bad} must be refused: {body}");
    }
    let (status, _, _) = get(&client, &format!("{}/.pomerium/api/v1/login", stack.url()), None).await;
    assert_eq!(status, 404, "missing redirect uri: 404, as Pomerium");
    let (status, _, body) = get(&client, &format!("{}/healthz", stack.url()), None).await;
    assert_eq!((status, body.trim()), (200, "OK"));
    let (status, _, body) = get(&client, &format!("{}/.well-known/pomerium/jwks.json", stack.url()), None).await;
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["keys"][0]["alg"], "ES256");
    assert_eq!(v["keys"][0]["crv"], "P-256");
    assert!(v["keys"][0].get("d").is_none(), "the private part must never be published");
    // A tampered sign-in link is refused before anything reaches the IdP.
    let (status, _, body) = get(
        &client,
        &format!(
            "{}/.pomerium/sign_in?pomerium_redirect_uri=http%3A%2F%2F127.0.0.1%3A1&exp=9999999999&sig=AAAA",
            stack.url()
        ),
        None,
    )
    .await;
    assert_eq!(status, 400, "bad signature: {body}");
}
