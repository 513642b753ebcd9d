//! Defines `GET /events/stream`: the monitor's bus as server-sent events. First an event
//! `snapshot` (the snapshot JSON), then one event per runtime event (`id:` its bus `seq`,
//! `event:` its kind, `data:` its JSON); a subscriber that fell behind gets a fresh `snapshot`
//! instead of the events it missed. Keep-alive comments every 15 s; the stream ends when the
//! monitor stops.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::stream::{self, Stream};
use iza_runtime::{Snapshot, Update};

use crate::state::AppState;

fn snapshot_event(snapshot: &Snapshot) -> SseEvent {
    let event = SseEvent::default()
        .event("snapshot")
        .id(snapshot.seq.to_string());
    // A snapshot is plain data: serializing it cannot fail; an empty one is the fallback.
    event
        .json_data(snapshot)
        .unwrap_or_else(|_| SseEvent::default().event("snapshot").data("{}"))
}

fn to_sse(update: &Update) -> SseEvent {
    match update {
        Update::Snapshot(snapshot) | Update::Resynced { snapshot, .. } => snapshot_event(snapshot),
        Update::Event(event) => SseEvent::default()
            .id(event.seq.to_string())
            .event(event.name())
            .json_data(&**event)
            .unwrap_or_else(|_| SseEvent::default().event(event.name()).data("{}")),
    }
}

pub(crate) async fn events_stream(
    State(state): State<AppState>,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let subscription = state.monitor.subscribe();
    let events = stream::unfold(subscription, |mut subscription| async move {
        let update = subscription.recv().await?;
        Some((Ok(to_sse(&update)), subscription))
    });
    Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
