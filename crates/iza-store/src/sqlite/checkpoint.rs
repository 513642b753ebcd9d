//! The WAL checkpoint, off the writer's path.
//!
//! SQLite's automatic checkpoint runs inside the commit that pushes the write-ahead log past
//! 1,000 pages: that commit copies the log into the database file and, with
//! `synchronous=NORMAL`, fsyncs both before it returns. On a busy disk that one commit took tens
//! of milliseconds, every few dozen commits: it was the p99 of the queue's idle dispatch (an
//! enqueue or a claim that happened to run the checkpoint; `docs/performance.md`, "fifth
//! pass"). Here a task checkpoints on a connection of its own (`PRAGMA wal_checkpoint(PASSIVE)`,
//! which never blocks the writer or the readers), at most once per [`CHECKPOINT_EVERY`], after
//! something was written; the writer keeps an automatic checkpoint only as a backstop, at
//! [`WRITER_BACKSTOP_PAGES`], should this task fall behind or be gone (its runtime shut down).
//! Durability is unchanged: a commit is in the log, in the operating system's hands, when it
//! returns, whoever copies it into the database file later.

use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::SqliteConnection;
use tokio::sync::Notify;

/// The writer's own automatic checkpoint, a backstop only: 32,768 pages (128 MiB of log at the
/// default page size).
pub(super) const WRITER_BACKSTOP_PAGES: u32 = 32_768;

/// The background checkpoint runs at most this often. Each complete checkpoint still costs the
/// writer one fsync: the first commit after it starts the log over and syncs the log's new
/// header (SQLite's guard against out-of-order writes after a power loss; kept, it is what
/// makes `synchronous=NORMAL` corruption-free). Every 2 s, that is one commit in 400 at the idle
/// dispatch's 200 a second, against three fsyncs every few dozen commits before.
pub(super) const CHECKPOINT_EVERY: Duration = Duration::from_secs(2);

/// Checkpoints after writes: `wrote` is notified when the writer connection is released after
/// a call. Ends when `wrote` is notified with `stop` set, or when the store is dropped (the
/// task is aborted).
pub(super) async fn run(mut connection: SqliteConnection, wrote: Arc<Notify>) {
    loop {
        wrote.notified().await;
        // Let the writes of the next moment join this checkpoint (one fsync pair for all).
        tokio::time::sleep(CHECKPOINT_EVERY).await;
        let outcome: Result<(i64, i64, i64), sqlx::Error> =
            sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
                .fetch_one(&mut connection)
                .await;
        if let Err(error) = outcome {
            tracing::warn!("store: the background WAL checkpoint failed: {error}");
        }
    }
}
