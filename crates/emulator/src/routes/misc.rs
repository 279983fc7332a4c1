//! Identity endpoints official clients call at start-up.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::IntoResponse;
use serde_json::json;

use crate::state::Shared;

/// `GET /.well-known/databricks-config`: host metadata the SDKs use to find the OIDC endpoint
/// and workspace id.
pub async fn host_metadata(State(s): State<Shared>) -> impl IntoResponse {
    Json(json!({
        "oidc_endpoint": format!("{}/oidc", s.url()),
        "workspace_id": s.config.workspace_id.to_string(),
        "cloud": "AWS",
        "host_type": "workspace"
    }))
}

/// `GET /api/2.0/preview/scim/v2/Me`: the current user, with the org id header.
pub async fn scim_me(State(s): State<Shared>) -> impl IntoResponse {
    let mut headers = HeaderMap::new();
    headers.insert(
        "X-Databricks-Org-Id",
        HeaderValue::from(s.config.workspace_id),
    );
    let user = &s.config.user_name;
    (
        headers,
        Json(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "id": "1000000000000001",
            "userName": user,
            "displayName": "Emulator User",
            "active": true,
            "emails": [{"type": "work", "value": user, "primary": true}],
            "name": {"givenName": "Emulator", "familyName": "User"},
            "groups": [{"display": "admins", "type": "direct", "value": "1"}],
            "entitlements": [{"value": "workspace-access"}, {"value": "allow-cluster-create"}]
        })),
    )
}
