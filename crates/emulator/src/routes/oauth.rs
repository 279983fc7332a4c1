//! Token endpoints: Databricks OAuth M2M (`/oidc/v1/token`, HTTP Basic client auth) and an
//! Entra-style authority (AAD v1 `resource=` and v2 `scope=<id>/.default`).

use std::collections::HashMap;
use std::time::Instant;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::json;

use crate::state::{Issued, Shared, write_lock};

/// Azure Databricks first-party application id (the token audience the SDK asks for).
pub const AZURE_DATABRICKS_RESOURCE: &str = "2ff814a6-3304-4ab8-85cb-cd0e6f879c1d";

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

fn form(bytes: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(bytes).into_owned().collect()
}

fn issue(s: &Shared, caller: &str, prefix: &str) -> (String, u64) {
    let token = format!("{prefix}{}", uuid::Uuid::new_v4().simple());
    let ttl = s.config.token_ttl;
    let mut issued = write_lock(&s.issued);
    let now = Instant::now();
    issued.retain(|_, v| v.expires > now);
    issued.insert(
        token.clone(),
        Issued {
            caller: caller.to_owned(),
            expires: now + ttl,
        },
    );
    (token, ttl.as_secs().max(1))
}

/// `GET /oidc/.well-known/oauth-authorization-server`.
pub async fn discovery(State(s): State<Shared>) -> Json<serde_json::Value> {
    let base = format!("{}/oidc", s.url());
    Json(json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}/v1/authorize"),
        "token_endpoint": format!("{base}/v1/token"),
        "jwks_uri": format!("{base}/jwks.json"),
        "grant_types_supported": ["client_credentials", "authorization_code", "refresh_token"],
        "response_types_supported": ["code", "id_token"],
        "scopes_supported": ["all-apis", "offline_access", "openid", "profile", "email"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "code_challenge_methods_supported": ["S256"]
    }))
}

/// `POST /oidc/v1/token` (client credentials; Basic or form client auth).
pub async fn token(State(s): State<Shared>, headers: HeaderMap, body: bytes::Bytes) -> Response {
    let f = form(&body);
    if f.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "Only client_credentials is supported.",
        );
    }
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.split_once(':').map(|(a, b)| (a.to_owned(), b.to_owned())));
    let (id, secret) = match basic {
        Some(p) => p,
        None => (
            f.get("client_id").cloned().unwrap_or_default(),
            f.get("client_secret").cloned().unwrap_or_default(),
        ),
    };
    if !s
        .config
        .oauth_clients
        .iter()
        .any(|c| c.client_id == id && c.client_secret == secret)
    {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed",
        );
    }
    let (token, ttl) = issue(&s, &id, "dose-");
    Json(json!({
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": ttl,
        "scope": f.get("scope").cloned().unwrap_or_else(|| "all-apis".to_owned())
    }))
    .into_response()
}

fn azure(s: &Shared, tenant: &str, f: &HashMap<String, String>, audience_ok: bool) -> Response {
    if f.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "AADSTS70003: The app requested an unsupported grant type.",
        );
    }
    let id = f.get("client_id").cloned().unwrap_or_default();
    let secret = f.get("client_secret").cloned().unwrap_or_default();
    if !s
        .config
        .azure_clients
        .iter()
        .any(|c| c.tenant_id == tenant && c.client_id == id && c.client_secret == secret)
    {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "AADSTS7000215: Invalid client secret provided.",
        );
    }
    if !audience_ok {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_resource",
            "AADSTS500011: The resource principal was not found in the tenant.",
        );
    }
    let (token, ttl) = issue(s, &id, "eyJ-emulator-");
    let now = crate::clock::wall_ms() / 1000;
    Json(json!({
        "token_type": "Bearer",
        "expires_in": ttl.to_string(),
        "ext_expires_in": ttl.to_string(),
        "expires_on": (now + ttl as i64).to_string(),
        "not_before": now.to_string(),
        "resource": f.get("resource").cloned().unwrap_or_else(|| AZURE_DATABRICKS_RESOURCE.to_owned()),
        "access_token": token
    }))
    .into_response()
}

/// AAD v1: `POST {authority}/{tenant}/oauth2/token` with `resource=<app id>`. Any resource is
/// accepted (the SDK also asks for the management endpoint token), so both header tokens work.
pub async fn azure_token(
    State(s): State<Shared>,
    Path(tenant): Path<String>,
    body: bytes::Bytes,
) -> Response {
    let f = form(&body);
    let ok = f.contains_key("resource");
    azure(&s, &tenant, &f, ok)
}

/// AAD v2: `POST {authority}/{tenant}/oauth2/v2.0/token` with `scope=<app id>/.default`.
pub async fn azure_token_v2(
    State(s): State<Shared>,
    Path(tenant): Path<String>,
    body: bytes::Bytes,
) -> Response {
    let f = form(&body);
    let ok = f.get("scope").is_some_and(|sc| sc.ends_with("/.default"));
    azure(&s, &tenant, &f, ok)
}
