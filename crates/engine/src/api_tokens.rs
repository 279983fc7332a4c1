//! API tokens for the HTTP server: created at random, shown once, stored
//! only as their SHA-256 hash, revocable. The server asks
//! [`Engine::authenticate_api_token`] on every request once any exists.

use polysync_store::ApiToken;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use crate::{Engine, Result};

/// What every token starts with (lets secret scanners recognise them).
pub const TOKEN_PREFIX: &str = "pst_";

fn hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

impl Engine {
    /// Creates a token named `name`; the token is returned once and never
    /// stored in clear.
    pub async fn create_api_token(&self, name: &str) -> Result<(ApiToken, SecretString)> {
        let token = format!(
            "{TOKEN_PREFIX}{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let prefix: String = token.chars().take(TOKEN_PREFIX.len() + 6).collect();
        let stored = self
            .inner
            .store
            .insert_api_token(name, &hash(&token), &prefix, now_ms())
            .await?;
        Ok((stored, SecretString::from(token)))
    }

    /// Every token (names, prefixes, dates; never the tokens).
    pub async fn list_api_tokens(&self) -> Result<Vec<ApiToken>> {
        Ok(self.inner.store.list_api_tokens().await?)
    }

    /// Revokes the token `name`.
    pub async fn revoke_api_token(&self, name: &str) -> Result<()> {
        Ok(self.inner.store.revoke_api_token(name, now_ms()).await?)
    }

    /// Whether the server must ask for a token (any active one exists).
    pub async fn api_tokens_required(&self) -> Result<bool> {
        Ok(self.inner.store.has_active_api_tokens().await?)
    }

    /// The name of the active token `token` is, if any.
    pub async fn authenticate_api_token(&self, token: &SecretString) -> Result<Option<String>> {
        Ok(self
            .inner
            .store
            .use_api_token(&hash(token.expose_secret()), now_ms())
            .await?)
    }
}
