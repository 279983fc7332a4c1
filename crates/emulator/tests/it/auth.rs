use std::time::Duration;

use polysync_emulator::{AzureClient, OAuthClient};
use serde_json::Value;

use crate::{Emu, TOKEN};

#[tokio::test]
async fn pat_ok_and_bad_token_401() {
    let e = Emu::fast().await;
    let (s, _, _) = e.req("GET", "/api/2.1/jobs/list", None, Some(TOKEN)).await;
    assert_eq!(s, 200);
    let (s, v, _) = e.req("GET", "/api/2.1/jobs/list", None, Some("nope")).await;
    assert_eq!(s, 401);
    assert_eq!(v["error_code"], "UNAUTHENTICATED");
    let (s, _, _) = e.req("GET", "/api/2.1/jobs/list", None, None).await;
    assert_eq!(s, 401);
}

#[tokio::test]
async fn oauth_m2m_token_then_api_and_expiry() {
    let e = Emu::start(|c| {
        c.oauth_clients = vec![OAuthClient {
            client_id: "sp".into(),
            client_secret: "s3cret".into(),
        }];
        c.token_ttl = Duration::from_millis(1500);
    })
    .await;
    let (_, disc, _) = e
        .req(
            "GET",
            "/oidc/.well-known/oauth-authorization-server",
            None,
            None,
        )
        .await;
    assert_eq!(disc["token_endpoint"], format!("{}/oidc/v1/token", e.url));
    let bad =
        e.c.post(format!("{}/oidc/v1/token", e.url))
            .basic_auth("sp", Some("wrong"))
            .form(&[("grant_type", "client_credentials"), ("scope", "all-apis")])
            .send()
            .await
            .unwrap();
    assert_eq!(bad.status().as_u16(), 401);
    let tok: Value =
        e.c.post(format!("{}/oidc/v1/token", e.url))
            .basic_auth("sp", Some("s3cret"))
            .form(&[("grant_type", "client_credentials"), ("scope", "all-apis")])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(tok["token_type"], "Bearer");
    assert!(tok["expires_in"].as_u64().unwrap() >= 1);
    let at = tok["access_token"].as_str().unwrap().to_owned();
    let (s, _, _) = e
        .req("GET", "/api/2.0/workspace/list?path=/", None, Some(&at))
        .await;
    assert_eq!(s, 200);
    // caller recorded as the client id, never the secret
    let last =
        e.h.requests()
            .into_iter()
            .rev()
            .find(|r| r.endpoint == "GET workspace/list")
            .unwrap();
    assert_eq!(last.caller.as_deref(), Some("sp"));
    tokio::time::sleep(Duration::from_millis(1700)).await;
    let (s, v, _) = e
        .req("GET", "/api/2.0/workspace/list?path=/", None, Some(&at))
        .await;
    assert_eq!(s, 401, "{v}");
}

#[tokio::test]
async fn azure_v1_and_v2_tokens_work() {
    let e = Emu::start(|c| {
        c.azure_clients = vec![AzureClient {
            tenant_id: "t1".into(),
            client_id: "app".into(),
            client_secret: "pw".into(),
        }];
    })
    .await;
    let v1: Value =
        e.c.post(format!("{}/aad/t1/oauth2/token", e.url))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", "app"),
                ("client_secret", "pw"),
                ("resource", "2ff814a6-3304-4ab8-85cb-cd0e6f879c1d"),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    let (s, _, _) = e
        .req(
            "GET",
            "/api/2.1/jobs/list",
            None,
            v1["access_token"].as_str(),
        )
        .await;
    assert_eq!(s, 200);
    let v2: Value =
        e.c.post(format!("{}/aad/t1/oauth2/v2.0/token", e.url))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", "app"),
                ("client_secret", "pw"),
                ("scope", "2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/.default"),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    let (s, _, _) = e
        .req(
            "GET",
            "/api/2.1/jobs/list",
            None,
            v2["access_token"].as_str(),
        )
        .await;
    assert_eq!(s, 200);
    let wrong_tenant =
        e.c.post(format!("{}/aad/other/oauth2/token", e.url))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", "app"),
                ("client_secret", "pw"),
                ("resource", "x"),
            ])
            .send()
            .await
            .unwrap();
    assert_eq!(wrong_tenant.status().as_u16(), 401);
}

#[tokio::test]
async fn host_metadata_and_scim_me() {
    let e = Emu::fast().await;
    let meta: Value =
        e.c.get(format!("{}/.well-known/databricks-config", e.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(meta["oidc_endpoint"], format!("{}/oidc", e.url));
    let (s, me, h) = e
        .req("GET", "/api/2.0/preview/scim/v2/Me", None, Some(TOKEN))
        .await;
    assert_eq!(s, 200);
    assert_eq!(me["userName"], "emulator@example.com");
    assert!(h.get("x-databricks-org-id").is_some());
}
