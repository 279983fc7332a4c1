//! HTTP exchange types and the pluggable sender.
//!
//! Sending goes through the [`Sender`] trait so tests (and the dispatcher) can swap
//! reqwest for an in-process fake without a socket.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

/// A request as built from a step, kept for `$request.*`, the trace and sending.
#[derive(Debug, Clone, Default, Serialize)]
pub struct HttpRequest {
    /// Upper-case method.
    pub method: String,
    /// Full URL including the query string.
    pub url: String,
    /// Headers in sending order (cookies folded into one `Cookie` header).
    pub headers: Vec<(String, String)>,
    /// Query parameters (also encoded in `url`).
    pub query: Vec<(String, String)>,
    /// Path parameters.
    pub path: Vec<(String, String)>,
    /// Body as sent.
    pub body: Option<String>,
    /// Body before encoding, for `$request.body#/ptr`.
    #[serde(skip)]
    pub body_value: Option<Value>,
}

/// A response.
#[derive(Debug, Clone, Default, Serialize)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Headers.
    pub headers: Vec<(String, String)>,
    /// Body parsed as JSON when possible, else the text as a JSON string.
    pub body: Value,
}

impl HttpResponse {
    /// Case-insensitive header lookup (RFC 9110).
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }
}

impl HttpRequest {
    /// Case-insensitive header lookup (RFC 9110).
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }
}

fn header<'a>(h: &'a [(String, String)], name: &str) -> Option<&'a str> {
    h.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Boxed future returned by [`Sender::send`].
pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<HttpResponse, String>> + Send + 'a>>;

/// Sends requests. A transport error is a `String`: the runner treats it as a step failure.
pub trait Sender: Send + Sync {
    /// Sends one request.
    fn send<'a>(&'a self, req: &'a HttpRequest) -> SendFuture<'a>;
}

/// The real sender, on reqwest + rustls (ring).
#[derive(Debug, Clone)]
pub struct ReqwestSender {
    client: reqwest::Client,
}

impl ReqwestSender {
    /// Builds a client with a per-request timeout.
    pub fn new(timeout: Duration) -> Result<Self, String> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self { client })
    }
}

impl Sender for ReqwestSender {
    fn send<'a>(&'a self, req: &'a HttpRequest) -> SendFuture<'a> {
        Box::pin(async move {
            let method =
                reqwest::Method::from_bytes(req.method.as_bytes()).map_err(|e| e.to_string())?;
            let mut rb = self.client.request(method, &req.url);
            for (k, v) in &req.headers {
                rb = rb.header(k, v);
            }
            if let Some(b) = &req.body {
                rb = rb.body(b.clone());
            }
            let resp = rb.send().await.map_err(|e| e.to_string())?;
            let status = resp.status().as_u16();
            let headers = resp
                .headers()
                .iter()
                .map(|(k, v)| (k.to_string(), String::from_utf8_lossy(v.as_bytes()).into()))
                .collect();
            let text = resp.text().await.map_err(|e| e.to_string())?;
            Ok(HttpResponse {
                status,
                headers,
                body: body_value(&text),
            })
        })
    }
}

/// Parses a response body: JSON when it is JSON, else a string (empty ⇒ null).
pub fn body_value(text: &str) -> Value {
    if text.trim().is_empty() {
        return Value::Null;
    }
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
}
