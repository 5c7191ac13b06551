//! The identity provider client against real local servers (hyper, and rustls with the test
//! CA): origin-form request line and `Host`, redirects handed back, the body cap, the deadline
//! on tokio's paused clock, the test CA trusted only when given, and the refused-connection
//! cause the gateway's log sentence names.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use openidconnect::core::CoreProviderMetadata;
use openidconnect::{HttpRequest, IssuerUrl};
use porthole_testkit::certs::TestPki;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::AsyncReadExt as _;
use tokio::net::TcpListener;

use super::{HttpClient, HttpError, MAX_BODY, TIMEOUT};
use crate::oidc::error::{discovery, innermost_cause};

type Handler = Arc<dyn Fn(&Request<Incoming>) -> Response<Full<Bytes>> + Send + Sync>;

/// An HTTP/1.1 server on 127.0.0.1:0 (TLS with `tls`) answering every request with `handler`;
/// it counts the requests it got.
async fn serve(tls: Option<Arc<rustls::ServerConfig>>, handler: Handler) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local address");
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (handler, seen, tls) = (handler.clone(), seen.clone(), tls.clone());
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                    seen.fetch_add(1, Ordering::SeqCst);
                    let response = handler(&req);
                    async move { Ok::<_, Infallible>(response) }
                });
                let http = hyper::server::conn::http1::Builder::new();
                let _ = match tls {
                    Some(config) => match tokio_rustls::TlsAcceptor::from(config).accept(tcp).await {
                        Ok(stream) => http.serve_connection(TokioIo::new(stream), service).await,
                        Err(_) => return,
                    },
                    None => http.serve_connection(TokioIo::new(tcp), service).await,
                };
            });
        }
    });
    (addr, count)
}

fn get(url: &str) -> HttpRequest {
    Request::get(url).body(Vec::new()).expect("a GET request")
}

fn body(n: usize) -> Handler {
    Arc::new(move |_| Response::new(Full::new(Bytes::from(vec![b'x'; n]))))
}

fn client() -> HttpClient {
    HttpClient::with_roots(rustls::RootCertStore::empty()).expect("a client")
}

#[tokio::test]
async fn https_with_the_test_ca_sends_origin_form_and_host() {
    let pki = TestPki::new();
    let pair = pki.server_cert(&["localhost", "127.0.0.1"]);
    let cert = CertificateDer::from_pem_slice(pair.cert_pem.as_bytes()).expect("the server certificate");
    let key = PrivateKeyDer::from_pem_slice(pair.key_pem.as_bytes()).expect("the server key");
    let server = rustls::ServerConfig::builder_with_provider(porthole_io::tls::provider())
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .expect("the server certificate and key");
    let echo: Handler = Arc::new(|req| {
        let host = req.headers().get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("none");
        let line = format!("{} {} {:?} host={host}", req.method(), req.uri(), req.version());
        Response::new(Full::new(Bytes::from(line)))
    });
    let (addr, _) = serve(Some(Arc::new(server)), echo).await;
    let url = format!("https://localhost:{}/.well-known/openid-configuration?x=1", addr.port());

    let mut roots = rustls::RootCertStore::empty();
    let ca = CertificateDer::from_pem_slice(pki.ca_pem().as_bytes()).expect("the test CA");
    roots.add(ca).expect("the test CA is a usable root");
    let trusting = HttpClient::with_roots(roots).expect("a client");
    let response = trusting.send(get(&url)).await.expect("the test CA is trusted");
    assert_eq!(response.status(), StatusCode::OK);
    let expected = format!("GET /.well-known/openid-configuration?x=1 HTTP/1.1 host=localhost:{}", addr.port());
    assert_eq!(String::from_utf8_lossy(response.body()), expected);

    // The production roots (webpki-roots) do not include the test CA.
    let public = HttpClient::new().expect("a client");
    let err = public.send(get(&url)).await.expect_err("a CA outside webpki-roots is refused");
    assert!(matches!(err, HttpError::Tls { .. }), "{err:?}");
    assert!(innermost_cause(&err).contains("UnknownIssuer"), "{}", innermost_cause(&err));
}

#[tokio::test]
async fn a_redirect_is_handed_back_not_followed() {
    let redirect: Handler = Arc::new(|_| {
        let mut response = Response::new(Full::new(Bytes::new()));
        *response.status_mut() = StatusCode::FOUND;
        response.headers_mut().insert(header::LOCATION, http::HeaderValue::from_static("/elsewhere"));
        response
    });
    let (addr, count) = serve(None, redirect).await;
    let issuer = format!("http://127.0.0.1:{}", addr.port());
    let response = client().send(get(&format!("{issuer}/start"))).await.expect("an answer");
    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(response.headers().get(header::LOCATION).map(|v| v.as_bytes()), Some(&b"/elsewhere"[..]));
    assert_eq!(count.load(Ordering::SeqCst), 1, "the Location was not fetched");

    // openidconnect sees the 302 itself, and the gateway calls it an unusable answer.
    let http = client();
    let err = CoreProviderMetadata::discover_async(IssuerUrl::new(issuer.clone()).expect("an issuer"), &http)
        .await
        .expect_err("a redirect is not a discovery document");
    let sentence = discovery(&issuer, &err).to_string();
    assert!(sentence.starts_with(&format!("the identity provider at {issuer} gave an unusable answer")), "{sentence}");
    assert!(sentence.contains("302"), "{sentence}");
    assert_eq!(count.load(Ordering::SeqCst), 2, "one more request, for the discovery document only");
}

#[tokio::test]
async fn a_body_over_the_cap_is_refused() {
    let (addr, _) = serve(None, body(MAX_BODY)).await;
    let at_cap = client().send(get(&format!("http://127.0.0.1:{}/", addr.port()))).await.expect("1 MiB is accepted");
    assert_eq!(at_cap.body().len(), MAX_BODY);

    let (addr, _) = serve(None, body(2 * MAX_BODY)).await;
    let url = format!("http://127.0.0.1:{}/jwks", addr.port());
    let err = client().send(get(&url)).await.expect_err("2 MiB is refused");
    assert!(matches!(err, HttpError::TooLarge(MAX_BODY)), "{err:?}");
    assert_eq!(err.to_string(), "the answer is larger than 1024 KiB, far more than a discovery document or key set");

    let http = client();
    let issuer = format!("http://127.0.0.1:{}", addr.port());
    let err = CoreProviderMetadata::discover_async(IssuerUrl::new(issuer.clone()).expect("an issuer"), &http)
        .await
        .expect_err("a 2 MiB discovery document is refused");
    assert_eq!(
        discovery(&issuer, &err).to_string(),
        format!(
            "the identity provider at {issuer} gave an unusable answer: the answer is larger than 1024 KiB, far more \
             than a discovery document or key set"
        )
    );
}

#[tokio::test(start_paused = true)]
async fn a_server_that_never_answers_times_out() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local address");
    tokio::spawn(async move {
        // Accepts, reads the request, and never answers.
        let mut held = Vec::new();
        while let Ok((mut tcp, _)) = listener.accept().await {
            let mut buf = [0u8; 1024];
            let _ = tcp.read(&mut buf).await;
            held.push(tcp);
        }
    });
    let started = tokio::time::Instant::now();
    let http = client();
    let call = http.send(get(&format!("http://127.0.0.1:{}/", addr.port())));
    let outcome = tokio::time::timeout(TIMEOUT * 3, call).await.expect("the client gave up by itself");
    let err = outcome.expect_err("no answer is an error");
    assert!(matches!(err, HttpError::TimedOut(TIMEOUT)), "{err:?}");
    assert_eq!(err.to_string(), "no answer within 10 s");
    let waited = started.elapsed();
    assert!(waited >= TIMEOUT && waited < TIMEOUT + std::time::Duration::from_secs(1), "gave up after {waited:?}");
}

#[tokio::test]
async fn a_refused_connection_is_named() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
    let port = listener.local_addr().expect("local address").port();
    drop(listener);
    let err = client().send(get(&format!("http://127.0.0.1:{port}/"))).await.expect_err("nothing listens");
    assert!(matches!(err, HttpError::Connect { .. }), "{err:?}");
    assert_eq!(innermost_cause(&err), "connection refused");
}
