//! Defines `GET /events/stream`: the monitor's bus as server-sent events. First an event
//! `snapshot` (the snapshot JSON), then one event per runtime event (`event:` its kind, `data:`
//! its JSON); a subscriber that fell behind gets a fresh `snapshot` instead of the events it
//! missed. Every `id:` is `EPOCH-SEQ`: the bus's epoch and the `seq` of the last event the
//! client has, so that a client reconnecting with `Last-Event-ID` (as `EventSource` does by
//! itself) is sent the events it missed when the bus still holds them, and a fresh snapshot
//! otherwise (also after a restart of the server: another epoch). Keep-alive comments every
//! 15 s; the stream ends when the monitor stops.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::stream::{self, Stream};
use iza_runtime::{Snapshot, Update};

use crate::state::AppState;

fn snapshot_event(epoch: u64, snapshot: &Snapshot) -> SseEvent {
    let event = SseEvent::default()
        .event("snapshot")
        .id(format!("{epoch}-{}", snapshot.seq));
    // A snapshot is plain data: serializing it cannot fail; an empty one is the fallback.
    event
        .json_data(snapshot)
        .unwrap_or_else(|_| SseEvent::default().event("snapshot").data("{}"))
}

fn to_sse(epoch: u64, update: &Update) -> SseEvent {
    match update {
        Update::Snapshot(snapshot) | Update::Resynced { snapshot, .. } => {
            snapshot_event(epoch, snapshot)
        }
        Update::Event(event) => SseEvent::default()
            .id(format!("{epoch}-{}", event.seq))
            .event(event.name())
            .json_data(&**event)
            .unwrap_or_else(|_| SseEvent::default().event(event.name()).data("{}")),
    }
}

/// The `seq` a `Last-Event-ID` of this bus names; `None` for another bus's id or garbage.
fn last_seen(headers: &HeaderMap, epoch: u64) -> Option<u64> {
    let id = headers.get("last-event-id")?.to_str().ok()?;
    let (their_epoch, seq) = id.trim().split_once('-')?;
    (their_epoch.parse::<u64>().ok()? == epoch)
        .then(|| seq.parse().ok())
        .flatten()
}

pub(crate) async fn events_stream(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let bus = state.monitor.bus();
    let epoch = bus.epoch();
    let subscription = match last_seen(&headers, epoch) {
        Some(seq) => bus.subscribe_after(seq),
        None => bus.subscribe(),
    };
    let events = stream::unfold(subscription, move |mut subscription| async move {
        let update = subscription.recv().await?;
        Some((Ok(to_sse(epoch, &update)), subscription))
    });
    Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
