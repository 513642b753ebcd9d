//! The types of the event outbox as every [`Store`](crate::Store) implementation keeps it: the
//! events bound for an output (`[outputs.<id>]`, docs/events.md), written before they are
//! published and removed when the broker acknowledges them, so that a broker that is down, or
//! an `iza` that is killed, loses nothing. Entries of one output are read back in the order they
//! were written (by id); each output's outbox is bounded, the oldest entries dropped beyond.

use serde::{Deserialize, Serialize};

use crate::Millis;

/// The most entries one [`Store::outbox_peek`](crate::Store::outbox_peek) call returns.
pub const MAX_OUTBOX_PAGE: usize = 10_000;

/// One event bound for one output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxEntry {
    /// Assigned by the store, increasing in the order of writing; 0 before it is stored.
    pub id: i64,
    /// The output's id.
    pub output: String,
    /// The CloudEvents `id` of the event (stable across redeliveries).
    pub event_id: String,
    /// Where it goes on the broker: the subject / routing key (dotted), from which the MQTT
    /// topic is derived.
    pub key: String,
    /// The service the event is about, when there is one.
    pub service: Option<String>,
    /// When the event happened (Unix milliseconds).
    pub at: Millis,
    /// The CloudEvent, as JSON text, ready to send.
    pub payload: String,
    /// Whether MQTT retains it (the last status of a service).
    pub retain: bool,
}

/// How far behind one output is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxDepth {
    /// The output's id.
    pub output: String,
    /// Entries waiting.
    pub depth: u64,
    /// When the oldest entry waiting happened; none when it is empty.
    pub oldest_at: Option<Millis>,
}
