//! The server's tracking loop, one round at a time: exactly one tracker
//! per workspace, whether the server runs alone, beside a dispatcher in
//! its own process (`polysync up`), or beside dispatchers and other
//! servers sharing a PostgreSQL store.
//!
//! A workspace is tracked by whoever holds its tracking lease (store table
//! `tracking_leases`, the lease dispatchers take): a server on its own
//! takes the lease like a dispatcher; a server whose process runs a
//! dispatcher leaves every workspace to it. The runs of a workspace
//! tracked by another process change in the store without an event here,
//! so the loop reads their changes from the store (never from Databricks)
//! and publishes them: live streams follow them all the same.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use crate::dispatcher::ms;
use crate::{Engine, Result};

/// Most active runs one observation reads.
const OBSERVE_MAX: u32 = 1_000_000;
/// How far back, before the previous observation, runs created since are
/// looked for (clock differences between the processes sharing a store).
const CREATED_MARGIN_MS: i64 = 30_000;
/// Most runs created since the previous observation one observation reads.
const CREATED_MAX: u32 = 10_000;
/// Runs read whole at a time to be published.
const PUBLISH_CHUNK: usize = 500;

/// Who a server's tracking loop is, towards the tracking leases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrackingRole {
    /// The server takes the tracking lease of every workspace it can
    /// under `owner` (its own id) and tracks those it holds.
    Lease {
        /// The lease owner id.
        owner: String,
        /// How long a lease lasts without renewal.
        lease: Duration,
    },
    /// A dispatcher in this process (same engine, same events) with this
    /// id tracks: the server tracks nothing itself.
    Dispatcher {
        /// The dispatcher's id.
        id: String,
    },
}

/// What one round did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrackingRound {
    /// Workspaces this loop tracked (held their lease).
    pub tracked: BTreeSet<String>,
    /// Workspaces another process tracks, whose runs' changes were read
    /// from the store.
    pub observed: BTreeSet<String>,
    /// Active runs of the tracked workspaces.
    pub active_runs: usize,
}

/// The versions of the runs an observation has seen, so it publishes each
/// change once.
#[derive(Debug, Default)]
pub struct StoreWatch {
    seen: HashMap<String, i64>,
    /// When the previous observation read the store (epoch ms).
    observed_at: Option<i64>,
    /// Runs that were created and ended between two observations (never
    /// seen active), published once: id → creation time, kept while
    /// the creation window can still show them.
    born_ended: HashMap<String, i64>,
}

impl Engine {
    /// One round of a server's tracking loop (see the module doc): tracks
    /// the workspaces `role` holds the lease of, and publishes the stored
    /// changes of runs in workspaces another process tracks.
    pub async fn server_tracking_round(
        &self,
        role: &TrackingRole,
        watch: &mut StoreWatch,
    ) -> Result<TrackingRound> {
        let store = &self.inner.store;
        let now = crate::dag::now_ms();
        let mut round = TrackingRound::default();
        let mine: &str = match role {
            TrackingRole::Lease { owner, lease } => {
                let platforms: Vec<String> = store
                    .list_platforms()
                    .await?
                    .into_iter()
                    .map(|p| p.name)
                    .collect();
                round.tracked = store
                    .lease_tracking(owner, &platforms, now, ms(*lease))
                    .await?
                    .into_iter()
                    .collect();
                if !round.tracked.is_empty() {
                    for failure in self.track_runs(Some(&round.tracked)).await? {
                        tracing::warn!(platform = %failure.platform, "tracking: {}", failure.message);
                    }
                }
                owner
            }
            TrackingRole::Dispatcher { id } => id,
        };
        round.observed = store
            .tracking_owners(now)
            .await?
            .into_iter()
            .filter(|(_, owner)| owner != mine)
            .map(|(platform, _)| platform)
            .collect();
        self.observe_store(&round.observed, watch).await?;
        if !round.tracked.is_empty() {
            round.active_runs = store
                .active_runs_for_tracking(OBSERVE_MAX)
                .await?
                .iter()
                .filter(|r| round.tracked.contains(&r.platform))
                .count();
        }
        Ok(round)
    }

    /// Publishes every stored change of a run of `platforms` since the
    /// last observation (runs active then or now; an ended run once more,
    /// with its end, then forgotten).
    async fn observe_store(
        &self,
        platforms: &BTreeSet<String>,
        watch: &mut StoreWatch,
    ) -> Result<()> {
        let store = &self.inner.store;
        let active: HashMap<String, i64> = if platforms.is_empty() {
            HashMap::new()
        } else {
            store
                .active_runs_for_tracking(OBSERVE_MAX)
                .await?
                .into_iter()
                .filter(|r| platforms.contains(&r.platform))
                .map(|r| (r.id, r.version))
                .collect()
        };
        let mut changed: Vec<String> = active
            .iter()
            .filter(|(id, v)| watch.seen.get(*id) != Some(*v))
            .map(|(id, _)| id.clone())
            .collect();
        // Seen active before and no longer: ended (or its workspace is
        // tracked here now); its last state is published once.
        let gone: Vec<String> = watch
            .seen
            .keys()
            .filter(|id| !active.contains_key(*id))
            .cloned()
            .collect();
        for id in &gone {
            watch.seen.remove(id);
        }
        changed.extend(gone);
        // Created and ended between two observations: never in the active
        // set, so the diff above cannot show them, and a stream opened on
        // one while it was active would wait for an end never published.
        let now = crate::dag::now_ms();
        if let (Some(before), false) = (watch.observed_at, platforms.is_empty()) {
            let since = before - CREATED_MARGIN_MS;
            watch.born_ended.retain(|_, created| *created >= since);
            // Slim rows of the ended ones only; the few not published yet
            // are then read whole (streams render them).
            let ended = store.ended_runs_created_since(since, CREATED_MAX).await?;
            let fresh: Vec<(String, i64)> = ended
                .into_iter()
                .filter(|run| {
                    platforms.contains(&run.platform)
                        && !active.contains_key(&run.id)
                        && !watch.born_ended.contains_key(&run.id)
                        && !changed.contains(&run.id)
                })
                .map(|run| (run.id, run.created_at))
                .collect();
            watch.born_ended.extend(fresh.iter().cloned());
            // Published first, then the changes of the active set.
            changed.splice(0..0, fresh.into_iter().map(|(id, _)| id));
        }
        watch.observed_at = Some(now);
        // Whole rows (streams render them), a few hundred per read: the
        // first look over thousands of active runs must not hold them all.
        for chunk in changed.chunks(PUBLISH_CHUNK) {
            let mut whole = store.find_runs(chunk).await?;
            for id in chunk {
                let Some(run) = whole.remove(id) else {
                    continue;
                };
                // A run born ended is never in `seen`: removing it is a no-op.
                if run.status.is_terminal() {
                    watch.seen.remove(id);
                } else {
                    watch.seen.insert(id.clone(), run.version);
                }
                self.inner.events.publish(&run);
            }
        }
        Ok(())
    }

    /// Gives up the server's tracking leases (a clean stop): a dispatcher
    /// or another server takes the workspaces over at its next round.
    pub async fn release_server_tracking(&self, role: &TrackingRole) -> Result<()> {
        if let TrackingRole::Lease { owner, .. } = role {
            self.inner.store.release_tracking(owner).await?;
        }
        Ok(())
    }
}
