//! Defines the event [`Bus`]: the live stream of [`Event`]s and the current state of every
//! service, kept together so that a subscriber gets a consistent picture, as
//! process-compose's broadcaster does: [`Bus::subscribe`] returns a [`Subscription`] whose
//! first [`Update`] is a [`Snapshot`] of every service's status, followed by every event
//! published after that snapshot, none missed and none repeated.
//!
//! Publishing never waits for subscribers: events go through a bounded
//! `tokio::sync::broadcast` channel. A subscriber that falls behind by more than its capacity
//! is not allowed to hold the publisher back; its next update is [`Update::Resynced`]: how many
//! events it missed and a fresh snapshot, after which the changes continue.
//!
//! A subscriber that comes back after a disconnection ([`Bus::subscribe_after`], what an SSE
//! client's `Last-Event-ID` asks for) gets the events it missed instead of a snapshot, when the
//! bus still holds them all: it keeps the last `capacity` events. Sequence numbers restart with
//! each bus; [`Bus::epoch`] tells one bus from the next, so that a client of a previous process
//! is never replayed another process's events.
//!
//! The snapshot and the channel are guarded by one lock, taken briefly: a publisher updates
//! the state and sends under it, a subscriber copies the state (pointers to shared rows) and
//! subscribes under it, so nothing can slip between a snapshot and the events after it.

use std::collections::VecDeque;
use std::sync::{Arc, PoisonError, RwLock};

use indexmap::IndexMap;
use iza_store::Millis;
use serde::Serialize;
use tokio::sync::broadcast;

use crate::event::Event;
use crate::monitor::status::ServiceState;

/// Every service's state at one point of the stream.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Snapshot {
    /// The `seq` of the last event it includes (0 before any); the next event has `seq + 1`.
    pub seq: u64,
    /// When it was taken.
    pub at: Millis,
    /// Every service, in catalog order.
    pub services: Vec<Arc<ServiceState>>,
}

impl Snapshot {
    /// The state of one service.
    pub fn service(&self, id: &str) -> Option<&ServiceState> {
        self.services.iter().map(|s| &**s).find(|s| s.service == id)
    }
}

/// One thing a subscriber receives.
#[derive(Debug, Clone, PartialEq)]
pub enum Update {
    /// The state when it subscribed; always the first update.
    Snapshot(Snapshot),
    /// It fell behind and missed `missed` events; here is the state now, and the changes
    /// continue from it.
    Resynced {
        /// Events it missed.
        missed: u64,
        /// The state now.
        snapshot: Snapshot,
    },
    /// A change.
    Event(Arc<Event>),
}

/// What a publisher states at once: events, and the rows of the services they changed.
#[derive(Debug, Clone, Default)]
pub struct Change {
    /// Events, in order; the bus numbers them.
    pub events: Vec<Event>,
    /// Service rows to insert or replace (new services go last).
    pub upsert: Vec<ServiceState>,
    /// Services to drop.
    pub remove: Vec<String>,
    /// When set, every row is replaced by these, in this order (a reload), before `remove`
    /// and `upsert` apply.
    pub replace_all: Option<Vec<ServiceState>>,
}

struct State {
    sender: Option<broadcast::Sender<Arc<Event>>>,
    seq: u64,
    services: IndexMap<String, Arc<ServiceState>>,
    /// The latest events, oldest first, at most `retain` of them.
    recent: VecDeque<Arc<Event>>,
    retain: usize,
}

impl State {
    fn snapshot(&self) -> Snapshot {
        Snapshot {
            seq: self.seq,
            at: crate::now_millis(),
            services: self.services.values().cloned().collect(),
        }
    }
}

/// The event bus; cheap to clone (all clones are the same bus).
#[derive(Clone)]
pub struct Bus {
    state: Arc<RwLock<State>>,
    epoch: u64,
}

impl std::fmt::Debug for Bus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
        f.debug_struct("Bus")
            .field("seq", &state.seq)
            .field("services", &state.services.len())
            .field("open", &state.sender.is_some())
            .finish()
    }
}

impl Bus {
    /// A bus whose subscribers may fall `capacity` events behind before they are resynced.
    pub fn new(capacity: usize) -> Bus {
        let capacity = capacity.max(1);
        let (sender, _) = broadcast::channel(capacity);
        Bus {
            state: Arc::new(RwLock::new(State {
                sender: Some(sender),
                seq: 0,
                services: IndexMap::new(),
                recent: VecDeque::with_capacity(capacity),
                retain: capacity,
            })),
            epoch: u64::try_from(crate::now_millis()).unwrap_or_default(),
        }
    }

    /// This bus's identity: when it was made, in Unix milliseconds. A `seq` means something
    /// only together with its epoch.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Publishes a change: updates the state, then numbers and sends the events. Never waits
    /// for a subscriber. Returns the numbered events (for the recorder). After [`Bus::close`]
    /// the state still changes but nothing is sent.
    pub fn publish(&self, change: Change) -> Vec<Arc<Event>> {
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(rows) = change.replace_all {
            state.services = rows
                .into_iter()
                .map(|row| (row.service.clone(), Arc::new(row)))
                .collect();
        }
        for id in &change.remove {
            state.services.shift_remove(id);
        }
        for row in change.upsert {
            state.services.insert(row.service.clone(), Arc::new(row));
        }
        let mut published = Vec::with_capacity(change.events.len());
        for mut event in change.events {
            state.seq += 1;
            event.seq = state.seq;
            let event = Arc::new(event);
            if let Some(sender) = &state.sender {
                // An error only means nobody listens.
                let _ = sender.send(event.clone());
            }
            if state.recent.len() == state.retain {
                state.recent.pop_front();
            }
            state.recent.push_back(event.clone());
            published.push(event);
        }
        published
    }

    /// Subscribes: the first update is the snapshot, then every later event.
    pub fn subscribe(&self) -> Subscription {
        let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
        let snapshot = state.snapshot();
        let receiver = subscribe_to(&state);
        drop(state);
        Subscription {
            bus: self.clone(),
            receiver,
            first: Some(snapshot),
            replay: VecDeque::new(),
        }
    }

    /// Subscribes again after having seen every event up to `seq` of this bus: the events
    /// after it come first, then every later event. When the bus no longer holds all of them
    /// (or `seq` is not one of its numbers), this is [`Bus::subscribe`]: the snapshot first.
    pub fn subscribe_after(&self, seq: u64) -> Subscription {
        let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
        let oldest = state.recent.front().map_or(state.seq + 1, |e| e.seq);
        // Events `seq + 1 ..= state.seq` are all held when the oldest held is at most `seq + 1`.
        if seq > state.seq || oldest > seq + 1 {
            drop(state);
            return self.subscribe();
        }
        let replay = state
            .recent
            .iter()
            .filter(|event| event.seq > seq)
            .cloned()
            .collect();
        let receiver = subscribe_to(&state);
        drop(state);
        Subscription {
            bus: self.clone(),
            receiver,
            first: None,
            replay,
        }
    }

    /// The current state.
    pub fn snapshot(&self) -> Snapshot {
        self.state
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .snapshot()
    }

    /// The current state of one service.
    pub fn service(&self, id: &str) -> Option<Arc<ServiceState>> {
        self.state
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .services
            .get(id)
            .cloned()
    }

    /// The `seq` of the last event published.
    pub fn seq(&self) -> u64 {
        self.state
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .seq
    }

    /// Number of live subscriptions.
    pub fn subscribers(&self) -> usize {
        self.state
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .sender
            .as_ref()
            .map_or(0, broadcast::Sender::receiver_count)
    }

    /// Ends the stream: subscribers receive what was published, then `None`.
    pub fn close(&self) {
        self.state
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .sender = None;
    }
}

fn subscribe_to(state: &State) -> broadcast::Receiver<Arc<Event>> {
    match &state.sender {
        Some(sender) => sender.subscribe(),
        // Closed: a receiver whose sender is gone ends at once.
        None => broadcast::channel(1).1,
    }
}

/// A subscriber's end of the bus; see [`Update`].
#[derive(Debug)]
pub struct Subscription {
    bus: Bus,
    receiver: broadcast::Receiver<Arc<Event>>,
    first: Option<Snapshot>,
    /// Events missed while away, delivered before the live ones.
    replay: VecDeque<Arc<Event>>,
}

impl Subscription {
    /// The next update: the snapshot first (or the events missed while away), then events,
    /// or a resync after falling behind; `None` once the bus is closed and everything
    /// published was received.
    pub async fn recv(&mut self) -> Option<Update> {
        if let Some(update) = self.pending() {
            return Some(update);
        }
        match self.receiver.recv().await {
            Ok(event) => Some(Update::Event(event)),
            Err(broadcast::error::RecvError::Closed) => None,
            Err(broadcast::error::RecvError::Lagged(missed)) => Some(self.resync(missed)),
        }
    }

    /// The next update if one is ready, without waiting.
    pub fn try_recv(&mut self) -> Option<Update> {
        if let Some(update) = self.pending() {
            return Some(update);
        }
        match self.receiver.try_recv() {
            Ok(event) => Some(Update::Event(event)),
            Err(broadcast::error::TryRecvError::Lagged(missed)) => Some(self.resync(missed)),
            Err(_) => None,
        }
    }

    /// What was decided at subscription: the snapshot, or the next replayed event.
    fn pending(&mut self) -> Option<Update> {
        if let Some(snapshot) = self.first.take() {
            return Some(Update::Snapshot(snapshot));
        }
        self.replay.pop_front().map(Update::Event)
    }

    /// A fresh snapshot and a fresh place in the stream, taken together.
    fn resync(&mut self, missed: u64) -> Update {
        let state = self
            .bus
            .state
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let snapshot = state.snapshot();
        self.receiver = subscribe_to(&state);
        Update::Resynced { missed, snapshot }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EventKind;
    use crate::monitor::status::{Health, Status};

    fn row(service: &str, status: Status) -> ServiceState {
        ServiceState {
            service: service.to_owned(),
            status,
            own: Health::Unknown,
            checked: true,
            since: None,
            consecutive_failures: 0,
            consecutive_successes: 0,
            last: None,
            regional: None,
            degraded_by: None,
        }
    }

    fn changed(service: &str, to: Status) -> Change {
        Change {
            events: vec![Event::new(
                1,
                EventKind::StatusChanged {
                    service: service.to_owned(),
                    from: Status::Unknown,
                    to: to.clone(),
                    cause: None,
                    reason: None,
                },
            )],
            upsert: vec![row(service, to)],
            ..Change::default()
        }
    }

    #[tokio::test]
    async fn a_subscriber_gets_the_snapshot_first_then_only_later_changes() {
        let bus = Bus::new(16);
        bus.publish(changed("db", Status::Up));
        bus.publish(changed("api", Status::Up));
        let mut subscription = bus.subscribe();
        bus.publish(changed("db", Status::Down));
        let Some(Update::Snapshot(snapshot)) = subscription.recv().await else {
            panic!("the first update is not a snapshot");
        };
        assert_eq!(snapshot.seq, 2);
        assert_eq!(snapshot.services.len(), 2);
        assert_eq!(snapshot.service("db").map(|s| &s.status), Some(&Status::Up));
        let Some(Update::Event(event)) = subscription.recv().await else {
            panic!("no event after the snapshot");
        };
        assert_eq!(event.seq, 3);
        assert_eq!(event.service(), Some("db"));
        assert!(subscription.try_recv().is_none());
        // The bus's own state follows.
        assert_eq!(
            bus.service("db").map(|s| s.status.clone()),
            Some(Status::Down)
        );
    }

    #[tokio::test]
    async fn a_slow_subscriber_never_blocks_the_publisher_and_is_resynced() {
        let bus = Bus::new(8);
        let mut slow = bus.subscribe();
        let mut fast = bus.subscribe();
        assert!(matches!(fast.recv().await, Some(Update::Snapshot(_))));
        assert!(matches!(slow.recv().await, Some(Update::Snapshot(_))));
        // 1,000 publications with a subscriber that reads nothing: publishing returns each time.
        for i in 0..1000 {
            let service = format!("s{}", i % 10);
            bus.publish(changed(&service, Status::Up));
        }
        let Some(Update::Resynced { missed, snapshot }) = slow.recv().await else {
            panic!("a lagging subscriber is not told it lagged");
        };
        assert!(missed >= 1000 - 8, "missed {missed}");
        assert_eq!(snapshot.seq, 1000);
        assert_eq!(snapshot.services.len(), 10);
        // After the resync, changes continue from the snapshot.
        bus.publish(changed("s0", Status::Down));
        let Some(Update::Event(event)) = slow.recv().await else {
            panic!("no event after the resync");
        };
        assert_eq!(event.seq, 1001);
    }

    #[tokio::test]
    async fn closing_ends_subscriptions_after_what_was_published() {
        let bus = Bus::new(8);
        let mut subscription = bus.subscribe();
        bus.publish(changed("db", Status::Up));
        bus.close();
        assert!(matches!(
            subscription.recv().await,
            Some(Update::Snapshot(_))
        ));
        assert!(matches!(subscription.recv().await, Some(Update::Event(_))));
        assert_eq!(subscription.recv().await, None);
        // A subscription after the close still gets the snapshot, then the end.
        let mut late = bus.subscribe();
        assert!(matches!(late.recv().await, Some(Update::Snapshot(s)) if s.services.len() == 1));
        assert_eq!(late.recv().await, None);
    }

    #[tokio::test]
    async fn a_returning_subscriber_gets_what_it_missed_when_the_bus_still_holds_it() {
        // Six events on a bus that holds four: events 3 to 6.
        let bus_of_six = || {
            let bus = Bus::new(4);
            for i in 0..6 {
                bus.publish(changed(&format!("s{i}"), Status::Up));
            }
            bus
        };
        for (seen, replayed) in [(2, vec![3, 4, 5, 6]), (4, vec![5, 6]), (6, vec![])] {
            let bus = bus_of_six();
            let mut again = bus.subscribe_after(seen);
            let mut got = Vec::new();
            while let Some(update) = again.try_recv() {
                let Update::Event(event) = update else {
                    panic!("after {seen}: a snapshot instead of the missed events");
                };
                got.push(event.seq);
            }
            assert_eq!(got, replayed, "after {seen}");
            // And then the live ones, without a gap or a repeat.
            bus.publish(changed("live", Status::Down));
            let Some(Update::Event(event)) = again.recv().await else {
                panic!("no live event after the replay");
            };
            assert_eq!(event.seq, 7);
        }
        // Too old (1 is no longer held) or not of this bus (ahead of it): the snapshot.
        for seen in [1, 7] {
            let mut again = bus_of_six().subscribe_after(seen);
            assert!(
                matches!(again.try_recv(), Some(Update::Snapshot(s)) if s.seq == 6),
                "after {seen}"
            );
        }
    }

    #[test]
    fn removed_services_leave_the_snapshot_and_new_ones_go_last() {
        let bus = Bus::new(8);
        bus.publish(changed("a", Status::Up));
        bus.publish(changed("b", Status::Up));
        bus.publish(Change {
            events: vec![],
            upsert: vec![row("c", Status::Unknown), row("a", Status::Down)],
            remove: vec!["b".to_owned()],
            ..Change::default()
        });
        let ids: Vec<_> = bus
            .snapshot()
            .services
            .iter()
            .map(|s| s.service.clone())
            .collect();
        assert_eq!(ids, ["a", "c"]);
    }
}
