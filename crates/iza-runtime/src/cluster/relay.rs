//! One live view from any node: the events the other nodes sharing the store record reach this
//! node's bus, so its SSE stream, dashboard, `/metrics` and CLI show the whole ecosystem
//! (`docs/scale-out.md`, "One live view").
//!
//! Every event a node records carries its id (`node`, written by the monitor's recorder), and
//! every append of events notifies the store's channel with the greatest id
//! ([`iza_store::EventListener`]). The [`Relay`] of each node reads the events after the last
//! id it has seen:
//! - when a notification names an id above it;
//! - when its listener says it listens (at start, and after its connection was lost and made
//!   again: what was appended meanwhile was not notified);
//! - every `catch_up_every` anyway (2 s by default), so a notification that never came delays
//!   an event by at most that; so does a listener that cannot connect.
//!
//! Of what it reads, it publishes on this node's bus, marked with their `node`
//! ([`Event::is_relayed`]), the events of the other nodes that are facts of the whole
//! ecosystem: runs, incidents, alerts, notifications, silences and processes. Not:
//! - this node's own events (already on its bus);
//! - status events (`status-changed`, `service-impacted`, `service-recovered`): every node
//!   derives those from the latest results of the checks it does not probe
//!   ([`super::leases`]), which keeps its board and its events in step; one of them read here
//!   only has that read done at once (the results are written before the events);
//! - what is true of one node only: `monitor-started`, `monitor-stopped`, `manifest-reloaded`,
//!   `store-failed`.
//!
//! Relayed events are not recorded again, and whoever acts on events (task triggers, outputs)
//! leaves them to the node that stated them.
//!
//! The status events as recorded (every node's, this node's included) also go to the status
//! triggers when [`RelayOptions::statuses`] is given (`crate::agents`,
//! [`crate::AgentsOptions::statuses_recorded`]): a change triggers its tasks once it is in the
//! store, whoever reads it first, so a change recorded by a node that then died still runs
//! them, and one never recorded runs nothing (the node taking the check over states it again).

use std::sync::Arc;
use std::time::Duration;

use iza_store::{EventListener, EventQuery, EventRecord, Heard, MAX_EVENTS_PAGE, Store};
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;

use crate::bus::{Bus, Change};
use crate::event::Event;

/// How the relay runs.
#[derive(Debug, Clone)]
pub struct RelayOptions {
    /// This node's id (as registered, and as its recorder writes it on its events).
    pub node: String,
    /// How often the events after the last id seen are read even without a notification: the
    /// longest delay of an event whose notification was lost (2 s, a lease round).
    pub catch_up_every: Duration,
    /// The first read starts after this event id (the newest before this node's monitor
    /// started, so that its first status changes reach [`RelayOptions::statuses`]); `None`:
    /// after the newest at the first read.
    pub after: Option<i64>,
    /// Where every status event read goes (this node's and the others', oldest first): the
    /// status triggers of a shared store.
    pub statuses: Option<mpsc::UnboundedSender<Vec<Event>>>,
}

impl RelayOptions {
    /// The options for this node, with the default catch-up period.
    pub fn new(node: impl Into<String>) -> RelayOptions {
        RelayOptions {
            node: node.into(),
            catch_up_every: DEFAULT_CATCH_UP,
            after: None,
            statuses: None,
        }
    }
}

/// The default period of the catch-up read: a round of the default lease (10 s / 5).
pub const DEFAULT_CATCH_UP: Duration = Duration::from_secs(2);

/// At most this many events are read in one catch-up (a node cut off for long); older ones are
/// left to the store (`GET /api/v1/events`), not replayed on the bus.
const MAX_CATCH_UP: usize = 4 * MAX_EVENTS_PAGE;

/// The node an event record says it came from, if it says.
fn origin(record: &EventRecord) -> Option<&str> {
    record.payload.get("node").and_then(|node| node.as_str())
}

/// What a read of the other nodes' events found.
#[derive(Debug, Default)]
struct Sorted {
    /// To publish, oldest first.
    relay: Vec<Event>,
    /// A status event of another node was among them.
    followed: bool,
    /// Every status event, this node's included, oldest first, as recorded (with its node).
    statuses: Vec<Event>,
}

/// Sorts records (oldest first) into what to relay; see the module documentation.
fn sort(me: &str, records: Vec<EventRecord>) -> Sorted {
    let mut sorted = Sorted::default();
    for record in records {
        let node = origin(&record).map(str::to_owned);
        let status = matches!(
            record.kind.as_str(),
            "status-changed" | "service-impacted" | "service-recovered"
        );
        if status {
            sorted.followed |= node.as_deref() != Some(me);
            match serde_json::from_value::<Event>(record.payload) {
                Ok(event) => sorted.statuses.push(event),
                Err(error) => {
                    tracing::debug!(
                        "relay: event {} is not one this build reads: {error}",
                        record.id
                    );
                }
            }
            continue;
        }
        if node.as_deref() == Some(me) {
            continue;
        }
        match record.kind.as_str() {
            "monitor-started" | "monitor-stopped" | "manifest-reloaded" | "store-failed"
            | "probe-completed" => continue,
            _ => {}
        }
        let id = record.id;
        match serde_json::from_value::<Event>(record.payload) {
            Ok(mut event) => {
                event.seq = 0;
                // Recorded without a node (an older `iza`): still another's.
                event.node = Some(node.unwrap_or_else(|| "unknown".to_owned()));
                sorted.relay.push(event);
            }
            Err(error) => tracing::debug!("relay: event {id} is not one this build reads: {error}"),
        }
    }
    sorted
}

struct Reader {
    store: Arc<dyn Store>,
    bus: Bus,
    follow: Option<Arc<Notify>>,
    options: RelayOptions,
    /// The last event id read; `None` until the first read (which starts after the newest).
    last: Option<i64>,
    relayed: Arc<std::sync::atomic::AtomicU64>,
}

impl Reader {
    /// Reads the events after the last id seen and relays the other nodes'.
    async fn catch_up(&mut self) {
        let Some(last) = self.last else {
            // The bus starts now: what was recorded before is history, read from the store.
            let newest = EventQuery {
                limit: 1,
                ..EventQuery::default()
            };
            match self.store.events(&newest).await {
                Ok(events) => self.last = Some(events.first().map_or(0, |event| event.id)),
                Err(error) => tracing::warn!("relay: cannot read the events: {error}"),
            }
            return;
        };
        let mut records: Vec<EventRecord> = Vec::new();
        let mut before = None;
        loop {
            let page = EventQuery {
                after: Some(last),
                before,
                service: None,
                kinds: Vec::new(),
                limit: MAX_EVENTS_PAGE,
            };
            let page = match self.store.events(&page).await {
                Ok(page) => page,
                Err(error) => {
                    // Read again at the next word or catch-up, from the same id.
                    tracing::warn!("relay: cannot read the events after {last}: {error}");
                    return;
                }
            };
            let full = page.len() == MAX_EVENTS_PAGE;
            before = page.last().map(|event| event.id);
            records.extend(page);
            if !full {
                break;
            }
            if records.len() >= MAX_CATCH_UP {
                tracing::warn!(
                    "relay: more than {MAX_CATCH_UP} events after {last}; the older ones are \
                     not relayed (they are in the store)"
                );
                break;
            }
        }
        let Some(newest) = records.first().map(|record| record.id) else {
            return;
        };
        self.last = Some(newest);
        // Newest first as read; the bus takes them oldest first.
        records.reverse();
        let sorted = sort(&self.options.node, records);
        if sorted.followed
            && let Some(follow) = &self.follow
        {
            follow.notify_one();
        }
        if !sorted.statuses.is_empty()
            && let Some(statuses) = &self.options.statuses
        {
            let _ = statuses.send(sorted.statuses);
        }
        if !sorted.relay.is_empty() {
            self.relayed.fetch_add(
                sorted.relay.len() as u64,
                std::sync::atomic::Ordering::Relaxed,
            );
            self.bus.publish(Change {
                events: sorted.relay,
                ..Change::default()
            });
        }
    }
}

/// Relays the other nodes' events to this node's bus in the background; see the module
/// documentation.
pub struct Relay {
    stop: Arc<Notify>,
    relayed: Arc<std::sync::atomic::AtomicU64>,
    task: Option<JoinHandle<()>>,
}

impl Relay {
    /// Starts relaying to `bus` what the other nodes record in `store` from now on. `follow`,
    /// when given, is notified when another node recorded a status event (the lease keeper's
    /// [`super::leases::LeaseKeeper::follow_now`]).
    pub fn start(
        store: Arc<dyn Store>,
        bus: Bus,
        follow: Option<Arc<Notify>>,
        options: RelayOptions,
    ) -> Relay {
        let stop = Arc::new(Notify::new());
        let relayed = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let reader = Reader {
            store,
            bus,
            follow,
            last: options.after,
            options,
            relayed: relayed.clone(),
        };
        let task = tokio::spawn(run(reader, stop.clone()));
        Relay {
            stop,
            relayed,
            task: Some(task),
        }
    }

    /// Events relayed so far.
    pub fn relayed(&self) -> u64 {
        self.relayed.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Stops relaying.
    pub async fn stop(mut self) {
        self.stop.notify_one();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// What woke the relay.
enum Wake {
    Tick,
    Heard(Option<Heard>),
}

async fn next(listener: &mut Option<EventListener>) -> Option<Heard> {
    match listener {
        Some(listener) => listener.next().await,
        None => std::future::pending().await,
    }
}

async fn run(mut reader: Reader, stop: Arc<Notify>) {
    let mut listener: Option<EventListener> = None;
    let mut ticks = tokio::time::interval(reader.options.catch_up_every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut warned = false;
    loop {
        let wake = tokio::select! {
            _ = stop.notified() => return,
            heard = next(&mut listener) => Wake::Heard(heard),
            _ = ticks.tick() => Wake::Tick,
        };
        match wake {
            Wake::Tick => {
                // (Re)made at a tick, not in a loop, while the store refuses it.
                if listener.is_none() {
                    match reader.store.listen_events(&reader.options.node).await {
                        Ok(made) => {
                            listener = Some(made);
                            warned = false;
                        }
                        Err(error) if !warned => {
                            tracing::warn!(
                                "relay: cannot listen for the other nodes' events ({error}); \
                                 reading them every {:?}",
                                reader.options.catch_up_every
                            );
                            warned = true;
                        }
                        Err(_) => {}
                    }
                }
            }
            Wake::Heard(None) => {
                listener = None;
                continue;
            }
            Wake::Heard(Some(Heard::Appended(id)))
                if reader.last.is_some_and(|last| id <= last) =>
            {
                continue;
            }
            Wake::Heard(Some(_)) => {}
        }
        reader.catch_up().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: i64, node: Option<&str>, kind: &str, extra: serde_json::Value) -> EventRecord {
        let mut payload = serde_json::json!({"seq": 7, "at": 1_000 + id, "kind": kind});
        if let (Some(object), serde_json::Value::Object(more)) = (payload.as_object_mut(), extra) {
            object.extend(more);
            if let Some(node) = node {
                object.insert("node".into(), node.into());
            }
        }
        EventRecord {
            id,
            at: 1_000 + id,
            kind: kind.to_owned(),
            service: None,
            payload,
        }
    }

    #[test]
    fn only_the_other_nodes_ecosystem_facts_are_relayed_in_order() {
        let run = |id: i64, node: Option<&str>| {
            record(
                id,
                node,
                "run-cancelled",
                serde_json::json!({"run": id, "task": "w/t"}),
            )
        };
        let records = vec![
            run(1, Some("me")),
            run(2, Some("other")),
            record(
                3,
                Some("other"),
                "status-changed",
                serde_json::json!({"service": "db", "from": {"status": "up"},
                    "to": {"status": "down"}, "cause": "db", "reason": null}),
            ),
            record(
                4,
                Some("other"),
                "manifest-reloaded",
                serde_json::json!({"added": [], "removed": [], "changed": []}),
            ),
            run(5, None),
            record(6, Some("other"), "some-future-kind", serde_json::json!({})),
        ];
        let sorted = sort("me", records);
        assert!(sorted.followed);
        assert_eq!(sorted.statuses.len(), 1);
        assert_eq!(sorted.statuses[0].node.as_deref(), Some("other"));
        let relayed: Vec<(i64, Option<&str>, u64)> = sorted
            .relay
            .iter()
            .map(|event| (event.at - 1_000, event.node.as_deref(), event.seq))
            .collect();
        assert_eq!(
            relayed,
            vec![(2, Some("other"), 0), (5, Some("unknown"), 0)]
        );
        assert!(sorted.relay.iter().all(Event::is_relayed));
        // Only this node's own: nothing.
        let sorted = sort("other", vec![run(2, Some("other"))]);
        assert!(sorted.relay.is_empty() && !sorted.followed);
    }

    #[test]
    fn every_nodes_recorded_status_events_go_to_the_triggers_and_only_anothers_are_followed() {
        let change = |id: i64, node: &str| {
            record(
                id,
                Some(node),
                "status-changed",
                serde_json::json!({"service": "db", "from": {"status": "up"},
                    "to": {"status": "down"}, "cause": "db", "reason": null}),
            )
        };
        let sorted = sort("me", vec![change(1, "me")]);
        assert!(!sorted.followed && sorted.relay.is_empty());
        assert_eq!(sorted.statuses.len(), 1);
        assert_eq!(sorted.statuses[0].node.as_deref(), Some("me"));
        assert_eq!(sorted.statuses[0].at, 1_001);
        let sorted = sort("me", vec![change(1, "me"), change(2, "other")]);
        assert!(sorted.followed);
        let ats: Vec<i64> = sorted.statuses.iter().map(|event| event.at).collect();
        assert_eq!(ats, vec![1_001, 1_002]);
    }
}
