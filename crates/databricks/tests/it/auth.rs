use std::time::Duration;

use polysync_databricks::{Config, DatabricksClient};
use polysync_emulator::{AzureClient, OAuthClient};

use crate::*;

#[tokio::test]
async fn bad_token_is_401_and_not_retried() {
    let emu = emulator().await;
    let cfg = Config::builder()
        .host(emu.url())
        .token("dapi-wrong".to_string())
        .rate_limit(None)
        .build()
        .expect("cfg");
    let c = DatabricksClient::new(cfg).expect("client");
    let err = c.workspace().list("/").await.expect_err("401");
    assert_eq!(err.status().map(|s| s.as_u16()), Some(401));
    assert!(!err.to_string().contains("dapi-wrong"));
    assert!(!format!("{err:?}").contains("dapi-wrong"));
    assert_eq!(
        emu.requests()
            .iter()
            .filter(|r| r.endpoint.contains("workspace/list"))
            .count(),
        1
    );
}

#[tokio::test]
async fn oauth_m2m_and_refresh() {
    let emu = emulator_with(|c| {
        c.oauth_clients = vec![OAuthClient {
            client_id: "sp-1".into(),
            client_secret: "sp-secret".into(),
        }];
        c.token_ttl = Duration::from_secs(2);
    })
    .await;
    let cfg = Config::builder()
        .host(emu.url())
        .oauth_m2m("sp-1", "sp-secret".to_string())
        .rate_limit(None)
        .build()
        .expect("cfg");
    let c = DatabricksClient::new(cfg).expect("client");
    c.workspace().list("/").await.expect("first call");
    c.workspace().list("/").await.expect("cached token");
    tokio::time::sleep(Duration::from_millis(2200)).await;
    c.workspace().list("/").await.expect("after expiry");
    let lists = emu
        .requests()
        .iter()
        .filter(|r| r.endpoint.contains("workspace/list"))
        .count();
    assert_eq!(lists, 3, "no 401 round trips expected");

    let bad = Config::builder()
        .host(emu.url())
        .oauth_m2m("sp-1", "wrong".to_string())
        .rate_limit(None)
        .build()
        .expect("cfg");
    let err = DatabricksClient::new(bad)
        .expect("client")
        .workspace()
        .list("/")
        .await
        .expect_err("auth");
    assert!(matches!(err, polysync_databricks::Error::Auth(_)), "{err}");
    assert!(!err.to_string().contains("wrong"));
}

#[tokio::test]
async fn azure_service_principal() {
    let emu = emulator_with(|c| {
        c.azure_clients = vec![AzureClient {
            tenant_id: "tenant-1".into(),
            client_id: "az-app".into(),
            client_secret: "az-secret".into(),
        }];
    })
    .await;
    let cfg = Config::builder()
        .host(emu.url())
        .azure_client_secret("tenant-1", "az-app", "az-secret".to_string())
        .azure_authority(format!("{}/aad/", emu.url()))
        .rate_limit(None)
        .build()
        .expect("cfg");
    let c = DatabricksClient::new(cfg).expect("client");
    c.workspace().list("/").await.expect("azure auth works");
    let caller = emu
        .requests()
        .iter()
        .find(|r| r.endpoint.contains("workspace/list"))
        .and_then(|r| r.caller.clone());
    assert!(caller.unwrap_or_default().contains("az-app"));
}

#[tokio::test]
async fn authorization_value_for_other_clients() {
    use secrecy::ExposeSecret;
    let emu = emulator_with(|c| {
        c.oauth_clients = vec![OAuthClient {
            client_id: "sp-auth-value".into(),
            client_secret: "s3cret".into(),
        }];
    })
    .await;
    let pat = DatabricksClient::new(
        Config::builder()
            .host(emu.url())
            .token(polysync_emulator::DEFAULT_TOKEN)
            .build()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        pat.authorization().await.unwrap().expose_secret(),
        format!("Bearer {}", polysync_emulator::DEFAULT_TOKEN)
    );
    let sp = DatabricksClient::new(
        Config::builder()
            .host(emu.url())
            .oauth_m2m("sp-auth-value", "s3cret")
            .build()
            .unwrap(),
    )
    .unwrap();
    let value = sp.authorization().await.unwrap();
    let value = value.expose_secret();
    assert!(value.starts_with("Bearer "), "{value}");
    assert!(!value.contains("s3cret"));
    // The issued token is accepted by the workspace API when sent by another client.
    let http = reqwest::Client::new();
    let resp = http
        .get(format!("{}/api/2.0/preview/scim/v2/Me", emu.url()))
        .header("Authorization", value)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}
