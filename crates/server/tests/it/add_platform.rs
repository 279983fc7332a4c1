//! `POST /api/v1/platforms` with a credential the server cannot read: the
//! caller's input, refused with 400 naming the field (not 502, which is
//! for the workspace refusing or not answering), nothing stored.

use std::time::Duration;

use polysync_testkit::each_backend;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::harness::{Api, Env, config, violation_pointers};

const TRACK: Duration = Duration::from_secs(3600);

#[tokio::test]
async fn a_credential_the_server_cannot_read_is_a_400_naming_the_field() {
    each_backend("add_platform_input", async |db| {
        let mut env = Env::new(db).await;
        let url = env.server(env.job_env(), &config(env.jobs), TRACK).await;
        let api = Api::new(&env.http, &url);
        let host = env.emu.url();
        let cases = [
            (
                json!({"name": "unset", "host": host, "token_env": "POLYSYNC_IT_UNSET_VAR"}),
                "/token_env",
                "POLYSYNC_IT_UNSET_VAR",
            ),
            (
                json!({"name": "noprofile", "host": host, "profile": "polysync-it-no-such-profile"}),
                "/profile",
                "polysync-it-no-such-profile",
            ),
        ];
        for (body, pointer, named) in cases {
            let refused = api
                .expect(
                    Method::POST,
                    "/api/v1/platforms",
                    Some(&body),
                    StatusCode::BAD_REQUEST,
                )
                .await;
            assert_eq!(violation_pointers(&refused), vec![pointer.to_owned()], "{refused}");
            assert!(
                refused["error"].as_str().expect("error").contains(named),
                "{refused}"
            );
            assert!(refused["hint"].is_object(), "{refused}");
            let name = body["name"].as_str().expect("name");
            assert_eq!(
                api.status(Method::GET, &format!("/api/v1/platforms/{name}"))
                    .await,
                StatusCode::NOT_FOUND,
                "{name} was stored"
            );
        }
        // Not checked: stored as given (the variable may be set later).
        api.expect(
            Method::POST,
            "/api/v1/platforms",
            Some(&json!({"name": "later", "host": host, "token_env": "POLYSYNC_IT_UNSET_VAR", "verify": false})),
            StatusCode::CREATED,
        )
        .await;
        env.stop().await;
    })
    .await;
}
