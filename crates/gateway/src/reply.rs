//! Small builders for the HTTP answers the gateway sends.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::Full;

/// The body type of every answer.
pub type Body = Full<Bytes>;

/// A `text/plain` answer.
pub fn text(status: StatusCode, body: impl Into<String>) -> Response<Body> {
    let mut body: String = body.into();
    if !body.ends_with('\n') {
        body.push('\n');
    }
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    resp
}

/// A `text/plain` answer whose body is exactly `body` (no newline added): the login API's URL.
pub fn exact_text(status: StatusCode, body: String) -> Response<Body> {
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    resp
}

/// Go's `http.Error(w, http.StatusText(code), code)`: the status text and a newline, as
/// Pomerium answers routes it does not serve.
pub fn go_error(status: StatusCode) -> Response<Body> {
    let mut resp = text(status, status.canonical_reason().unwrap_or_default());
    resp.headers_mut().insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    resp
}

/// Pomerium's JSON error body for a client that sends `Accept: application/json`:
/// `{"Status":<code>}` and a newline.
pub fn pomerium_json_error(status: StatusCode) -> Response<Body> {
    let mut resp = Response::new(Full::new(Bytes::from(format!("{{\"Status\":{}}}\n", status.as_u16()))));
    *resp.status_mut() = status;
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp.headers_mut().insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    resp
}

/// An `application/json` answer.
pub fn json(status: StatusCode, value: &serde_json::Value) -> Response<Body> {
    let mut resp = Response::new(Full::new(Bytes::from(value.to_string())));
    *resp.status_mut() = status;
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

/// A `302 Found` to `location`, with a short HTML body as Pomerium sends.
pub fn found(location: &str) -> Response<Body> {
    let html = format!("<a href=\"{}\">Found</a>.\n", html_escape(location));
    let mut resp = Response::new(Full::new(Bytes::from(html)));
    *resp.status_mut() = StatusCode::FOUND;
    if let Ok(v) = HeaderValue::from_str(location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    resp
}

/// The `503` a CONNECT gets once the gateway is shutting down (logged as a refused tunnel),
/// closing an HTTP/1.1 connection after it.
pub fn shutting_down(peer: &std::net::SocketAddr, version: http::Version) -> Response<Body> {
    tracing::info!(
        target: "porthole_gateway::access",
        peer = %peer,
        status = 503,
        reason = "shutting down",
        "tunnel refused"
    );
    let mut resp = text(StatusCode::SERVICE_UNAVAILABLE, "the gateway is shutting down; connect again in a moment");
    if version < http::Version::HTTP_2 {
        resp.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    resp
}

/// Pomerium's status for "a valid client certificate is required".
pub fn status_495() -> StatusCode {
    StatusCode::from_u16(495).unwrap_or(StatusCode::FORBIDDEN)
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}
