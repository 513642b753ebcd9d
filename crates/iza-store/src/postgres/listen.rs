//! The PostgreSQL store's event listener: `LISTEN iza_events` on a connection of its own (a
//! pool of one, apart from the store's, named `iza listen LABEL`), driven by a task that sends
//! what it hears to the [`EventListener`]. Each append of events notifies the channel with its
//! greatest id in the same transaction (`write::append_events`), so a word arrives once the
//! events are committed.
//!
//! When the connection is lost (a restart of PostgreSQL, `pg_terminate_backend`, a network cut)
//! the listener connects again, with a growing pause while that fails, and says
//! [`Heard::Listening`] once it listens again: what was appended meanwhile was not notified, and
//! its reader catches up.

use std::time::Duration;

use sqlx::postgres::{PgListener, PgPoolOptions};
use tokio::sync::mpsc;

use super::{PostgresStore, query_error};
use crate::StoreError;
use crate::listen::{EVENTS_CHANNEL, EventListener, Heard};

/// Words held for a reader that is busy; more are dropped (the reader reads everything after
/// its last id anyway, so one word is as good as many).
const BUFFER: usize = 64;

/// The longest pause between two attempts to connect again.
const MAX_PAUSE: Duration = Duration::from_secs(5);

pub(super) async fn listen(
    store: &PostgresStore,
    label: &str,
) -> Result<EventListener, StoreError> {
    let options = (*store.pool.connect_options())
        .clone()
        .application_name(&format!("iza listen {label}"));
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .min_connections(0)
        .max_lifetime(None)
        .idle_timeout(None)
        .acquire_timeout(Duration::from_secs(10))
        .connect_lazy_with(options);
    // The first connection is made here, so that a store that cannot listen says so at once.
    let listener = connect(&pool)
        .await
        .map_err(query_error("listening for events"))?;
    let (sender, heard) = mpsc::channel(BUFFER);
    let task = tokio::spawn(run(pool, listener, sender));
    Ok(EventListener::new(heard, task))
}

async fn connect(pool: &sqlx::PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    // Its own pool: nobody closes it but the drop of this task.
    listener.ignore_pool_close_event(true);
    listener.listen(EVENTS_CHANNEL).await?;
    Ok(listener)
}

/// Sends a word unless the buffer is full; `false` when the reader is gone.
fn send(sender: &mpsc::Sender<Heard>, heard: Heard) -> bool {
    !matches!(
        sender.try_send(heard),
        Err(mpsc::error::TrySendError::Closed(_))
    )
}

async fn run(pool: sqlx::PgPool, listener: PgListener, sender: mpsc::Sender<Heard>) {
    let mut listener = Some(listener);
    let mut pause = Duration::from_millis(100);
    loop {
        let mut current = match listener.take() {
            Some(current) => current,
            None => match connect(&pool).await {
                Ok(current) => current,
                Err(error) => {
                    tracing::warn!("event listener: cannot connect again: {error}");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(MAX_PAUSE);
                    continue;
                }
            },
        };
        // Listening (again): whatever was appended before may have gone unnotified.
        if !send(&sender, Heard::Listening) {
            return;
        }
        loop {
            match current.try_recv().await {
                Ok(Some(notification)) => {
                    pause = Duration::from_millis(100);
                    let Ok(id) = notification.payload().trim().parse::<i64>() else {
                        tracing::debug!(
                            "event listener: ignored a notification `{}`",
                            notification.payload()
                        );
                        continue;
                    };
                    if !send(&sender, Heard::Appended(id)) {
                        return;
                    }
                }
                // The connection was lost and made again (sqlx listens again before it
                // returns): catch up.
                Ok(None) => {
                    tracing::info!("event listener: the connection was lost and made again");
                    if !send(&sender, Heard::Listening) {
                        return;
                    }
                }
                Err(error) => {
                    tracing::warn!("event listener: the connection failed: {error}");
                    break;
                }
            }
        }
        drop(current);
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(MAX_PAUSE);
    }
}
