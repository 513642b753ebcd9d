//! Scheduling against real HTTP servers: services probe at their interval (never twice
//! within much less than it), start spread, never overlap their own probes (a late one is
//! skipped and counted), share a bounded number of slots, and shut down within a deadline.
//! No assertion reads wall-clock performance: only orders, counts and bounds.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use iza_runtime::{EventKind, MonitorOptions};

use crate::support::*;

fn services(count: usize, url: &str, every: &str, timeout: &str) -> String {
    (0..count)
        .map(|i| {
            format!(
                "[services.s{i}]\ncheck = {{ http = \"{url}/s{i}\", every = \"{every}\", timeout = \"{timeout}\" }}\n"
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_services_probe_at_their_interval_and_start_spread() {
    let server = serve(Behaviour::up()).await;
    let count = 60;
    let every_ms = 150;
    let catalog = catalog(&services(count, &server.url(""), "150ms", "2s"));
    let options = MonitorOptions {
        first_probe_within: None,
        ..options()
    };
    let monitor = start(catalog, Arc::new(RecordingStore::default()), options).await;
    let events = Collector::new(&monitor);
    let ids: Vec<String> = (0..count).map(|i| format!("s{i}")).collect();
    wait_until("every service was probed six times", || {
        ids.iter().all(|s| events.probes_of(s).len() >= 6)
    })
    .await;
    monitor.shutdown(Duration::from_secs(5)).await;

    for id in &ids {
        let probes = events.probes_of(id);
        for trio in probes.windows(3) {
            // Drift-free scheduling keeps due times one interval apart. A start may lag its
            // due time (on a loaded machine, by up to an interval; later ones are skipped), so
            // two neighbours may come close, but three probes span at least one interval:
            // anything less is a probe fired twice.
            let span = trio[2].0 - trio[0].0;
            assert!(
                span >= every_ms,
                "{id} probed three times within {span} ms: {probes:?}"
            );
        }
    }
    // First probes are spread over the interval, not fired together.
    let firsts: Vec<i64> = ids.iter().map(|s| events.probes_of(s)[0].0).collect();
    let spread = firsts.iter().max().unwrap() - firsts.iter().min().unwrap();
    assert!(spread >= every_ms / 2, "first probes within {spread} ms");
    let counters = monitor.counters();
    assert!(counters.started >= (count * 6) as u64, "{counters:?}");
    assert_eq!(counters.completed, counters.started, "{counters:?}");
    assert!(counters.due >= counters.started, "{counters:?}");
    assert_eq!(counters.in_flight, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_probe_still_running_when_the_next_is_due_is_skipped_and_counted() {
    let server = serve(Behaviour::slow(Duration::from_millis(350))).await;
    let catalog = catalog(&services(1, &server.url(""), "100ms", "2s"));
    let monitor = start(catalog, Arc::new(RecordingStore::default()), options()).await;
    let events = Collector::new(&monitor);
    wait_until("three probes finished", || {
        events.probes_of("s0").len() >= 3
    })
    .await;
    let probes = events.probes_of("s0");
    for pair in probes.windows(2) {
        assert!(pair[1].0 >= pair[0].1, "probes overlap: {probes:?}");
    }
    let counters = monitor.counters();
    // Each 350 ms probe spans at least two more due times of a 100 ms interval.
    assert!(counters.skipped >= 4, "{counters:?}");
    assert_eq!(server.peak.load(Ordering::SeqCst), 1);
    monitor.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_share_a_bounded_number_of_slots() {
    let server = serve(Behaviour::slow(Duration::from_millis(150))).await;
    let catalog = catalog(&services(6, &server.url(""), "200ms", "2s"));
    let options = MonitorOptions {
        concurrency: 2,
        ..options()
    };
    let monitor = start(catalog, Arc::new(RecordingStore::default()), options).await;
    let events = Collector::new(&monitor);
    wait_until("every service was probed twice", || {
        (0..6).all(|i| events.probes_of(&format!("s{i}")).len() >= 2)
    })
    .await;
    assert!(server.peak.load(Ordering::SeqCst) <= 2);
    let counters = monitor.counters();
    // Six 150 ms probes due within 100 ms through two slots: the last waits over 200 ms,
    // more than half its interval.
    assert!(counters.late >= 1, "{counters:?}");
    assert!(counters.lag_max_seconds > 0.1, "{counters:?}");
    monitor.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_waits_for_running_probes_up_to_its_deadline() {
    // One probe finishes within the deadline and is recorded; one hangs and is abandoned.
    let slow = serve(Behaviour::slow(Duration::from_millis(300))).await;
    let hanging = serve(Behaviour::slow(Duration::from_secs(60))).await;
    let catalog = catalog(&format!(
        "[services.slow]\ncheck = {{ http = \"{}\", every = \"10s\", timeout = \"5s\" }}\n\
         [services.hanging]\ncheck = {{ http = \"{}\", every = \"10s\", timeout = \"30s\" }}\n",
        slow.url("/"),
        hanging.url("/")
    ));
    let store = Arc::new(RecordingStore::default());
    let options = MonitorOptions {
        first_probe_within: Some(Duration::from_millis(20)),
        ..options()
    };
    let monitor = start(catalog, store.clone(), options).await;
    let events = Collector::new(&monitor);
    wait_until("both probes are running", || {
        slow.requests.load(Ordering::SeqCst) == 1 && hanging.requests.load(Ordering::SeqCst) == 1
    })
    .await;
    let report = monitor.shutdown(Duration::from_secs(1)).await;
    assert_eq!(report.abandoned, 1);
    assert_eq!((report.unwritten_results, report.unwritten_events), (0, 0));
    let results = store.results();
    assert_eq!(results.len(), 1, "{results:?}");
    assert_eq!(results[0].service, "slow");
    wait_until("the bus is closed", || events.closed.load(Ordering::SeqCst)).await;
    let last = events.events().last().cloned().unwrap();
    assert!(
        matches!(last.kind, EventKind::MonitorStopped { abandoned: 1 }),
        "{last:?}"
    );
    assert!(store.events().iter().any(|e| e.kind == "monitor-stopped"));
    // A second shutdown is a no-op.
    assert_eq!(monitor.shutdown(Duration::ZERO).await, Default::default());
}

/// Polls until every one of `ids` has a status other than `unknown`; fails when that takes
/// longer than `within`.
async fn all_known_within(monitor: &iza_runtime::Monitor, ids: &[String], within: Duration) {
    let give_up = tokio::time::Instant::now() + within;
    loop {
        let unknown: Vec<&String> = ids
            .iter()
            .filter(|id| status(monitor, id) == iza_runtime::Status::Unknown)
            .collect();
        if unknown.is_empty() {
            return;
        }
        assert!(
            tokio::time::Instant::now() < give_up,
            "still unknown {within:?} after the start or the reload: {unknown:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_five_minute_check_is_probed_within_the_start_window_and_so_is_one_added_by_a_reload() {
    let server = serve(Behaviour::up()).await;
    // The default start window: 2 s. The bound allows 2 s more for a loaded machine; a first
    // probe at a random moment of a 5 minute interval would take 150 s on average.
    let bound = Duration::from_secs(4);
    let options = MonitorOptions {
        seed: Some(42),
        ..MonitorOptions::default()
    };
    assert_eq!(options.first_probe_within, Some(Duration::from_secs(2)));
    let monitor = start(
        catalog(&services(5, &server.url(""), "5m", "2s")),
        Arc::new(RecordingStore::default()),
        options,
    )
    .await;
    let first: Vec<String> = (0..5).map(|i| format!("s{i}")).collect();
    all_known_within(&monitor, &first, bound).await;
    // Five more by a reload: the same window, from the reload.
    let diff = monitor
        .reload(catalog(&services(10, &server.url(""), "5m", "2s")))
        .await
        .unwrap();
    assert_eq!(diff.added.len(), 5);
    let added: Vec<String> = (5..10).map(|i| format!("s{i}")).collect();
    all_known_within(&monitor, &added, bound).await;
    monitor.shutdown(Duration::from_secs(5)).await;
}
