//! Tracking leases: which dispatcher instance follows which platform's
//! active runs. A lease is taken when free or expired, renewed by its
//! owner each round, and released at a clean stop; so with several
//! dispatchers each workspace is tracked by exactly one, and a dead
//! instance's workspaces are taken over once its leases expire.

use crate::error::{DbResultExt, Result};
use crate::tx::on_tx;
use crate::{Store, on_db};

impl Store {
    /// Takes or renews the tracking lease of each of `platforms` for
    /// `owner` until `now + lease_ms` where it is free, expired or already
    /// `owner`'s; returns the platforms `owner` holds now.
    pub async fn lease_tracking(
        &self,
        owner: &str,
        platforms: &[String],
        now: i64,
        lease_ms: i64,
    ) -> Result<Vec<String>> {
        let mut tx = self.begin().await?;
        for platform in platforms {
            on_tx!(tx, c => {
                sqlx::query(
                    "INSERT INTO tracking_leases (platform, owner, lease_until) VALUES ($1, $2, $3) \
                     ON CONFLICT (platform) DO UPDATE SET owner = excluded.owner, lease_until = excluded.lease_until \
                     WHERE tracking_leases.owner = excluded.owner OR tracking_leases.lease_until < $4",
                )
                .bind(platform)
                .bind(owner)
                .bind(now.saturating_add(lease_ms))
                .bind(now)
                .execute(&mut **c)
                .await
                .db()?;
            });
        }
        let held: Vec<String> = on_tx!(tx, c => {
            sqlx::query_scalar(
                "SELECT platform FROM tracking_leases WHERE owner = $1 AND lease_until >= $2 ORDER BY platform",
            )
            .bind(owner)
            .bind(now)
            .fetch_all(&mut **c)
            .await
            .db()?
        });
        tx.commit().await?;
        Ok(held)
    }

    /// Every live tracking lease at `now`: platform → owner (a server
    /// defers to these and reads their runs' changes from the store).
    pub async fn tracking_owners(&self, now: i64) -> Result<Vec<(String, String)>> {
        let rows: Vec<(String, String)> = on_db!(&self.db, p => {
            sqlx::query_as(
                "SELECT platform, owner FROM tracking_leases WHERE lease_until >= $1 ORDER BY platform",
            )
            .bind(now)
            .fetch_all(p)
            .await
            .db()?
        });
        Ok(rows)
    }

    /// Releases every tracking lease of `owner` (a clean stop), so another
    /// instance takes the platforms over at its next round.
    pub async fn release_tracking(&self, owner: &str) -> Result<()> {
        on_db!(&self.db, p => {
            sqlx::query("DELETE FROM tracking_leases WHERE owner = $1")
                .bind(owner)
                .execute(p)
                .await
                .db()?;
        });
        Ok(())
    }
}
