//! The monitor and the store: results and events are written in batches and all of them are
//! flushed on shutdown; a failing store is retried without losing anything; a restart resumes
//! statuses from the latest stored results without announcing them again.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use iza_runtime::{EventKind, MonitorOptions, RecorderOptions, Status, Update};
use iza_store::ResultRecord;

use crate::support::*;

fn checks(count: usize, url: &str) -> String {
    (0..count)
        .map(|i| format!("[services.s{i}]\ncheck = {{ http = \"{url}/s{i}\", every = \"100ms\", timeout = \"1s\" }}\n"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_result_and_event_stated_is_recorded_in_batches() {
    let server = serve(Behaviour::up()).await;
    let store = Arc::new(RecordingStore::default());
    let monitor = start(
        catalog(&checks(20, &server.url(""))),
        store.clone(),
        options(),
    )
    .await;
    let events = Collector::new(&monitor);
    let probes = |events: &Collector| {
        events
            .events()
            .iter()
            .filter(|e| matches!(e.kind, EventKind::ProbeCompleted { .. }))
            .count()
    };
    wait_until("200 probes finished", || probes(&events) >= 200).await;
    let report = monitor.shutdown(Duration::from_secs(5)).await;
    assert_eq!((report.unwritten_results, report.unwritten_events), (0, 0));
    wait_until("the bus is closed", || events.closed.load(Ordering::SeqCst)).await;

    // Every probe on the bus is a stored result, and nothing else is.
    let mut stated: Vec<(String, i64, bool)> = events
        .events()
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::ProbeCompleted {
                service, result, ..
            } => Some((service.clone(), result.at, result.is_up())),
            _ => None,
        })
        .collect();
    let mut stored: Vec<(String, i64, bool)> = store
        .results()
        .into_iter()
        .map(|r| (r.service, r.at, r.up))
        .collect();
    stated.sort();
    stored.sort();
    assert_eq!(stated, stored);
    // Every other event is a stored event, in order.
    let stated_events: Vec<u64> = events
        .events()
        .iter()
        .filter(|e| !matches!(e.kind, EventKind::ProbeCompleted { .. }))
        .map(|e| e.seq)
        .collect();
    let stored_events: Vec<u64> = store
        .events()
        .iter()
        .map(|e| e.payload["seq"].as_u64().unwrap())
        .collect();
    // The start was published before the collector subscribed (its snapshot includes it).
    assert_eq!(store.events()[0].kind, "monitor-started");
    assert_eq!(stated_events, stored_events[1..]);
    // 20 `unknown -> up`, plus the start and the stop.
    assert_eq!(stored_events.len(), 22);
    let batches = store.result_batches.lock().unwrap().clone();
    assert!(
        batches.len() * 4 < stored.len(),
        "{} batches for {} results",
        batches.len(),
        stored.len()
    );
    let counters = monitor.counters();
    assert_eq!(counters.results_recorded as usize, stored.len());
    assert_eq!(counters.events_recorded as usize, stored_events.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_store_is_retried_and_loses_nothing() {
    let server = serve(Behaviour::up()).await;
    let store = Arc::new(RecordingStore::default());
    store.failures_left.store(3, Ordering::SeqCst);
    let options = MonitorOptions {
        recorder: RecorderOptions {
            flush_every: Duration::from_millis(50),
            ..RecorderOptions::default()
        },
        ..options()
    };
    let monitor = start(catalog(&checks(5, &server.url(""))), store.clone(), options).await;
    let events = Collector::new(&monitor);
    wait_until("the store took results after failing", || {
        store.failures_left.load(Ordering::SeqCst) == 0 && store.results().len() >= 20
    })
    .await;
    monitor.shutdown(Duration::from_secs(5)).await;
    let failures: Vec<_> = events
        .events()
        .into_iter()
        .filter(|e| matches!(e.kind, EventKind::StoreFailed { .. }))
        .collect();
    assert_eq!(failures.len(), 3);
    let EventKind::StoreFailed { message, .. } = &failures[0].kind else {
        unreachable!()
    };
    assert_eq!(message, "store query failed: disk I/O error (test)");
    let stated = events
        .events()
        .iter()
        .filter(|e| matches!(e.kind, EventKind::ProbeCompleted { .. }))
        .count();
    assert_eq!(store.results().len(), stated);
    assert_eq!(monitor.counters().store_errors, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_resumes_statuses_without_announcing_them_again() {
    let server = serve(Behaviour::up()).await;
    let store = Arc::new(RecordingStore::default());
    let now = iza_runtime::now_millis();
    let record = |service: &str, up: bool| ResultRecord {
        service: service.to_owned(),
        at: now - 1_000,
        up,
        latency_ms: 2.0,
        message: (!up).then(|| "[STATUS] (503) == 200".to_owned()),
        ..Default::default()
    };
    *store.preset_latest.lock().unwrap() = vec![record("was-up", true), record("was-down", false)];
    let catalog = catalog(&format!(
        "[services.was-up]\ncheck = {{ http = \"{0}/a\", every = \"100ms\" }}\n\
         [services.was-down]\ncheck = {{ http = \"{0}/b\", every = \"100ms\" }}\n\
         [services.never-seen]\ncheck = {{ http = \"{0}/c\", every = \"100ms\" }}\n",
        server.url("")
    ));
    let monitor = start(catalog, store.clone(), options()).await;
    let mut subscription = monitor.subscribe();
    let Some(Update::Snapshot(first)) = subscription.recv().await else {
        panic!("no snapshot first");
    };
    // Before any probe: the stored statuses, from the stored results.
    let shown = |s: &str| first.service(s).map(|s| s.status.clone());
    assert_eq!(shown("was-up"), Some(Status::Up));
    assert_eq!(shown("was-down"), Some(Status::Down));
    assert_eq!(shown("never-seen"), Some(Status::Unknown));
    assert_eq!(first.service("was-up").unwrap().since, Some(now - 1_000));
    let events = Collector::new(&monitor);
    wait_until("each service was probed twice", || {
        ["was-up", "was-down", "never-seen"]
            .iter()
            .all(|s| events.probes_of(s).len() >= 2)
    })
    .await;
    monitor.shutdown(Duration::from_secs(5)).await;
    let changes: Vec<(String, Status, Status)> = events
        .events()
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::StatusChanged {
                service, from, to, ..
            } => Some((service.clone(), from.clone(), to.clone())),
            _ => None,
        })
        .collect();
    // No `unknown -> up` for the resumed service; the resumed-down one recovers; the new one
    // is announced.
    let mut changes = changes;
    changes.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        changes,
        [
            ("never-seen".to_owned(), Status::Unknown, Status::Up),
            ("was-down".to_owned(), Status::Down, Status::Up),
        ]
    );
    let started = store
        .events()
        .into_iter()
        .find(|e| e.kind == "monitor-started")
        .unwrap();
    assert_eq!(started.payload["resumed"], 2);
}

/// A shutdown ends in bounded time even when the store cannot keep up: the recorder writes for
/// the shutdown's deadline, then counts the rest as unwritten instead of writing a backlog of
/// events for minutes (the 10,000-task engine benchmark's shutdown did).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shutdown_with_a_backlog_the_store_cannot_take_ends_by_its_deadline() {
    let store = Arc::new(RecordingStore::default());
    // 200 ms a write, 500 events a write: 40,000 events take 16 s to write.
    store.write_delay_ms.store(200, Ordering::SeqCst);
    let monitor = start(catalog(""), store.clone(), options()).await;
    let announced = 40_000;
    for chunk in 0..(announced / 1_000) {
        let events = (0..1_000)
            .map(|i| {
                iza_runtime::Event::new(
                    0,
                    EventKind::RunQueued {
                        run: chunk * 1_000 + i,
                        task: "a/t".to_owned(),
                        agent: Some("a".to_owned()),
                        priority: "normal".to_owned(),
                        trigger: "tick".to_owned(),
                        run_at: 0,
                    },
                )
            })
            .collect();
        assert!(monitor.announce(events));
    }
    let started = tokio::time::Instant::now();
    let report = monitor.shutdown(Duration::from_millis(300)).await;
    let took = started.elapsed();
    let written = store.events().len();
    assert!(
        took < Duration::from_secs(8),
        "the shutdown took {took:?}, half of what writing the backlog takes"
    );
    assert!(report.unwritten_events > 0, "{report:?}");
    // Nothing is lost silently: every event (`monitor-started`, those announced and
    // `monitor-stopped`) is written or counted as unwritten.
    assert_eq!(
        written + report.unwritten_events,
        announced as usize + 2,
        "{written} written, {report:?}"
    );
}
