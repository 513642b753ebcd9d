//! Defines `GET /events/stream`: the monitor's bus as server-sent events. First an event
//! `snapshot` (the snapshot JSON), then one event per runtime event (`event:` its kind, `data:`
//! its JSON); a subscriber that fell behind gets a fresh `snapshot` instead of the events it
//! missed. Every `id:` is `EPOCH-SEQ`: the bus's epoch and the `seq` of the last event the
//! client has, so that a client reconnecting with `Last-Event-ID` (as `EventSource` does by
//! itself) is sent the events it missed when the bus still holds them, and a fresh snapshot
//! otherwise (also after a restart of the server: another epoch). Keep-alive comments every
//! 15 s; the stream ends when the monitor stops. The catalog's secrets are masked in every
//! event (`docs/security.md`).

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::stream::{self, Stream};
use iza_catalog::redact::Secrets;
use iza_runtime::{Snapshot, Update};

use crate::state::AppState;

/// The JSON of `data`, with the catalog's secrets masked in its strings (a probe message may
/// quote a URL with its password). Plain data: serializing it cannot fail; `{}` is the
/// fallback.
fn scrubbed_json(data: &impl serde::Serialize, secrets: &Secrets) -> String {
    let mut value = serde_json::to_value(data).unwrap_or_default();
    secrets.scrub_json(&mut value);
    serde_json::to_string(&value).unwrap_or_else(|_| "{}".to_owned())
}

fn snapshot_event(epoch: u64, snapshot: &Snapshot, secrets: &Secrets) -> SseEvent {
    SseEvent::default()
        .event("snapshot")
        .id(format!("{epoch}-{}", snapshot.seq))
        .data(scrubbed_json(snapshot, secrets))
}

fn to_sse(epoch: u64, update: &Update, secrets: &Secrets) -> SseEvent {
    match update {
        Update::Snapshot(snapshot) | Update::Resynced { snapshot, .. } => {
            snapshot_event(epoch, snapshot, secrets)
        }
        Update::Event(event) => SseEvent::default()
            .id(format!("{epoch}-{}", event.seq))
            .event(event.name())
            .data(scrubbed_json(&**event, secrets)),
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
    let events = stream::unfold(subscription, move |mut subscription| {
        let state = state.clone();
        async move {
            let update = subscription.recv().await?;
            let event = to_sse(epoch, &update, &state.view().secrets);
            Some((Ok(event), subscription))
        }
    });
    Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
