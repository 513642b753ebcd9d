//! Defines [`EventListener`]: word from a shared store that events were appended, by any
//! connection of any node (PostgreSQL's `LISTEN`/`NOTIFY`, `docs/scale-out.md`).
//!
//! A word carries an event id, never the event: the listener of a node reads the events after
//! the last id it has seen ([`crate::Store::events`] with `after`). Notifications are not
//! durable (those sent while a listener's connection is down are lost), so a listener also says
//! when it is [`Heard::Listening`] (first, and again after each reconnection): the reader then
//! catches up from its last id, and it reads periodically anyway, never relying on the words
//! alone.

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// The channel every append of events notifies, with the greatest id appended as its payload
/// (a decimal number, far under `NOTIFY`'s 8000-byte limit). `NOTIFY` channels belong to a
/// database, and one database holds one ecosystem's store: it is the ecosystem's channel.
pub const EVENTS_CHANNEL: &str = "iza_events";

/// What a listener hears.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Heard {
    /// It listens (at first, and again after its connection was lost and made again): events
    /// appended before now may have gone unnotified; read from the last id seen.
    Listening,
    /// Events were appended, up to this id (committed: readable now).
    Appended(i64),
}

/// A store's listener for appended events; it stops when dropped.
#[derive(Debug)]
pub struct EventListener {
    heard: mpsc::Receiver<Heard>,
    task: JoinHandle<()>,
}

impl EventListener {
    /// A listener whose `task` sends what it hears to `heard`.
    pub(crate) fn new(heard: mpsc::Receiver<Heard>, task: JoinHandle<()>) -> EventListener {
        EventListener { heard, task }
    }

    /// The next thing heard (cancel-safe); `None` once the listener has stopped for good.
    pub async fn next(&mut self) -> Option<Heard> {
        self.heard.recv().await
    }
}

impl Drop for EventListener {
    fn drop(&mut self) {
        self.task.abort();
    }
}
