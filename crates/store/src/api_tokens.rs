//! API tokens of the HTTP server: only their SHA-256 hash is stored.

use serde::Serialize;

use crate::error::{DbResultExt, Error, Result, is_unique_violation};
use crate::rows::RowExt;
use crate::{Store, on_db};

/// A token as listed (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiToken {
    /// The name given at creation.
    pub name: String,
    /// The token's first characters, to tell tokens apart.
    pub prefix: String,
    /// Creation time, epoch ms.
    pub created_at: i64,
    /// Last accepted use, epoch ms.
    pub last_used_at: Option<i64>,
    /// When it was revoked, epoch ms.
    pub revoked_at: Option<i64>,
}

const COLUMNS: &str = "name, prefix, created_at, last_used_at, revoked_at";

fn from_row(r: &impl RowExt) -> Result<ApiToken> {
    Ok(ApiToken {
        name: r.text("name")?,
        prefix: r.text("prefix")?,
        created_at: r.int("created_at")?,
        last_used_at: r.opt_int("last_used_at")?,
        revoked_at: r.opt_int("revoked_at")?,
    })
}

impl Store {
    /// Stores a new token's hash under `name` (unique).
    pub async fn insert_api_token(
        &self,
        name: &str,
        token_hash: &str,
        prefix: &str,
        now: i64,
    ) -> Result<ApiToken> {
        let res = on_db!(&self.db, p => {
            sqlx::query("INSERT INTO api_tokens (name, token_hash, prefix, created_at) VALUES ($1, $2, $3, $4)")
                .bind(name).bind(token_hash).bind(prefix).bind(now)
                .execute(p).await.map(|_| ())
        });
        match res {
            Ok(_) => Ok(ApiToken {
                name: name.to_owned(),
                prefix: prefix.to_owned(),
                created_at: now,
                last_used_at: None,
                revoked_at: None,
            }),
            Err(e) if is_unique_violation(&e) => Err(Error::AlreadyExists {
                entity: "api token",
                key: name.to_owned(),
            }),
            Err(e) => Err(e).db(),
        }
    }

    /// Every token, by name.
    pub async fn list_api_tokens(&self) -> Result<Vec<ApiToken>> {
        let sql = format!("SELECT {COLUMNS} FROM api_tokens ORDER BY name");
        on_db!(&self.db, p => {
            let rows = crate::sql::query(sql).fetch_all(p).await.db()?;
            rows.iter().map(from_row).collect()
        })
    }

    /// Whether any token is active (not revoked).
    pub async fn has_active_api_tokens(&self) -> Result<bool> {
        on_db!(&self.db, p => {
            let row = sqlx::query("SELECT COUNT(*) AS n FROM api_tokens WHERE revoked_at IS NULL")
                .fetch_one(p).await.db()?;
            Ok(row.int("n")? > 0)
        })
    }

    /// The active token with this hash, marking it used; `None` if none.
    pub async fn use_api_token(&self, token_hash: &str, now: i64) -> Result<Option<String>> {
        on_db!(&self.db, p => {
            let row = sqlx::query("UPDATE api_tokens SET last_used_at = $2 WHERE token_hash = $1 AND revoked_at IS NULL RETURNING name")
                .bind(token_hash).bind(now)
                .fetch_optional(p).await.db()?;
            row.as_ref().map(|r| r.text("name")).transpose()
        })
    }

    /// Revokes the token `name`; [`Error::NotFound`] when none is active.
    pub async fn revoke_api_token(&self, name: &str, now: i64) -> Result<()> {
        let done = on_db!(&self.db, p => {
            sqlx::query("UPDATE api_tokens SET revoked_at = $2 WHERE name = $1 AND revoked_at IS NULL")
                .bind(name).bind(now)
                .execute(p).await.db()?.rows_affected()
        });
        if done == 0 {
            return Err(Error::not_found("api token", name));
        }
        Ok(())
    }
}
