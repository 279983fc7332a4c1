//! A write transaction over either backend, so a caller (the engine's use
//! cases, later the dispatcher) can make several changes atomically:
//! Windmill's `QueueTransaction` is the model. Operations are methods on
//! [`Tx`] (in the per-table modules); the `Store` methods of the same name
//! are one-statement conveniences that begin and commit their own.

use sqlx::{Postgres, Sqlite, Transaction};
use tokio::sync::OwnedMutexGuard;

use crate::error::{DbResultExt, Result};
use crate::{Db, SQLITE_BUSY_TIMEOUT, Store};

/// An open write transaction. Dropping it without [`Tx::commit`] rolls
/// everything back, so an error (or a crash) half-way writes nothing.
#[derive(Debug)]
pub struct Tx {
    pub(crate) inner: TxInner,
    /// This process's SQLite write turn, held until commit or rollback
    /// (dropped after `inner`, so after the transaction ends).
    _turn: Option<OwnedMutexGuard<()>>,
}

#[derive(Debug)]
pub(crate) enum TxInner {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

/// Runs the same body on whichever transaction is live; `$c` is bound to
/// `&mut Transaction<_>` of the concrete backend (use `&mut **$c` as the
/// executor).
macro_rules! on_tx {
    ($tx:expr, $c:ident => $body:expr) => {
        match &mut $tx.inner {
            $crate::tx::TxInner::Sqlite($c) => $body,
            $crate::tx::TxInner::Postgres($c) => $body,
        }
    };
}
pub(crate) use on_tx;

impl Store {
    /// Begins a write transaction. On SQLite it is `BEGIN IMMEDIATE`: the
    /// write lock is taken at once, so concurrent writers (other processes
    /// included) wait on the busy timeout instead of failing with
    /// "database is locked" when a read would upgrade to a write.
    ///
    /// SQLite has one writer at a time, and its busy handler makes waiting
    /// writers poll with growing sleeps (up to 100 ms, in no order): under
    /// dozens of concurrent writers that starved some for seconds, each
    /// holding a pooled connection reads then waited for. So this
    /// process's writers first queue for their turn on an async lock
    /// (first come, first served, no connection held), and only the one
    /// whose turn it is asks SQLite; the busy handler is left to arbitrate
    /// between processes. A writer still waiting after the busy timeout
    /// goes ahead without its turn (SQLite's own wait then decides), so a
    /// transaction begun while another is open in the same task fails as
    /// before instead of waiting forever.
    pub async fn begin(&self) -> Result<Tx> {
        let (inner, turn) = match &self.db {
            Db::Sqlite(p) => {
                let turn = tokio::time::timeout(
                    SQLITE_BUSY_TIMEOUT,
                    std::sync::Arc::clone(&self.writer).lock_owned(),
                )
                .await
                .ok();
                let tx = p.begin_with("BEGIN IMMEDIATE").await.db()?;
                (TxInner::Sqlite(tx), turn)
            }
            Db::Postgres(p) => (TxInner::Postgres(p.begin().await.db()?), None),
        };
        Ok(Tx { inner, _turn: turn })
    }
}

impl Tx {
    /// Makes every change of the transaction durable, all at once.
    pub async fn commit(self) -> Result<()> {
        match self.inner {
            TxInner::Sqlite(t) => t.commit().await.db(),
            TxInner::Postgres(t) => t.commit().await.db(),
        }
    }

    /// What a read that must lock its rows until commit appends: `FOR
    /// UPDATE` on PostgreSQL; nothing on SQLite, whose `BEGIN IMMEDIATE`
    /// holds the write lock already (and which has no row locks).
    pub(crate) fn row_lock(&self) -> &'static str {
        match self.inner {
            TxInner::Sqlite(_) => "",
            TxInner::Postgres(_) => " FOR UPDATE",
        }
    }

    /// Discards every change (also what dropping the transaction does).
    pub async fn rollback(self) -> Result<()> {
        match self.inner {
            TxInner::Sqlite(t) => t.rollback().await.db(),
            TxInner::Postgres(t) => t.rollback().await.db(),
        }
    }

    /// Serialises imports: the job names an import picks depend on every
    /// name taken, so two imports (of any platforms) must not interleave.
    /// SQLite's `BEGIN IMMEDIATE` already serialises every writer; PostgreSQL
    /// takes a transaction-scoped advisory lock, released at commit.
    pub(crate) async fn lock_imports(&mut self) -> Result<()> {
        if let TxInner::Postgres(c) = &mut self.inner {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(IMPORT_LOCK)
                .execute(&mut **c)
                .await
                .db()?;
        }
        Ok(())
    }
}

/// Advisory lock key of imports (an arbitrary constant: "psyncimp").
const IMPORT_LOCK: i64 = 0x7073_796e_6369_6d70;
