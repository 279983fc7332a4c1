//! A cached bearer token refreshed a little before expiry; concurrent callers share one refresh.

use std::future::Future;
use std::time::Duration;

use secrecy::SecretString;
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::error::Result;

/// A token with its lifetime as reported by the issuer.
#[derive(Debug, Clone)]
pub struct Token {
    /// The access token.
    pub access_token: SecretString,
    /// Usually `Bearer`.
    pub token_type: String,
    /// Lifetime from issue.
    pub expires_in: Duration,
}

#[derive(Debug)]
struct Cached {
    token: Token,
    refresh_at: Instant,
}

/// Holds at most one token. The async mutex is held during refresh, so N concurrent callers
/// with an expired token cause exactly one token request.
#[derive(Debug, Default)]
pub struct TokenCache {
    state: Mutex<Option<Cached>>,
}

/// How early a token is refreshed: a fifth of its lifetime, at most 60 s, so short-lived test
/// tokens still get used and hour-long tokens never expire mid-request.
pub fn refresh_margin(lifetime: Duration) -> Duration {
    (lifetime / 5).min(Duration::from_secs(60))
}

impl TokenCache {
    /// Returns the cached token or obtains a new one with `fetch`.
    pub async fn get<F, Fut>(&self, fetch: F) -> Result<Token>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Token>>,
    {
        let mut guard = self.state.lock().await;
        if let Some(c) = guard.as_ref()
            && Instant::now() < c.refresh_at
        {
            return Ok(c.token.clone());
        }
        let token = fetch().await?;
        let refresh_at = Instant::now() + token.expires_in - refresh_margin(token.expires_in);
        *guard = Some(Cached {
            token: token.clone(),
            refresh_at,
        });
        Ok(token)
    }

    /// Drops the cached token (after the workspace answered 401 with it).
    pub async fn invalidate(&self) {
        *self.state.lock().await = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test(start_paused = true)]
    async fn shares_refresh_and_refreshes_before_expiry() {
        let cache = Arc::new(TokenCache::default());
        let fetches = Arc::new(AtomicU32::new(0));
        let mk = |f: Arc<AtomicU32>| async move {
            f.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(50)).await;
            Ok(Token {
                access_token: SecretString::from("a".to_string()),
                token_type: "Bearer".into(),
                expires_in: Duration::from_secs(100),
            })
        };
        let mut handles = Vec::new();
        for _ in 0..10 {
            let (c, f) = (cache.clone(), fetches.clone());
            handles.push(tokio::spawn(async move { c.get(|| mk(f)).await }));
        }
        for h in handles {
            h.await.expect("join").expect("token");
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
        tokio::time::sleep(Duration::from_secs(79)).await;
        cache.get(|| mk(fetches.clone())).await.expect("token");
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
        tokio::time::sleep(Duration::from_secs(2)).await; // within the 20 s margin
        cache.get(|| mk(fetches.clone())).await.expect("token");
        assert_eq!(fetches.load(Ordering::SeqCst), 2);
    }
}
