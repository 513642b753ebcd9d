//! The conformance suite of the `Store` trait: every implementation (SQLite now, PostgreSQL
//! next) runs these same cases through [`store_conformance_suite!`], given an async factory of
//! fresh, empty stores. Cases use crafted timestamps and pass `now` explicitly, so nothing
//! depends on the clock. A test file uses it with `#[macro_use] mod conformance;` and
//! `store_conformance_suite!(my_factory);` (see `tests/sqlite.rs`).

mod alerts;
mod audit;
mod figures;
mod outbox;
mod queue;
mod workflows;

pub(crate) use alerts::*;
pub(crate) use audit::*;
pub(crate) use figures::*;
pub(crate) use outbox::*;
pub(crate) use queue::*;
pub(crate) use workflows::*;

use std::any::Any;
use std::collections::BTreeMap;
use std::ops::Deref;
use std::sync::Arc;

use iza_store::histogram::{LOWEST_MS, RELATIVE_ERROR};
use iza_store::{
    EventQuery, EventRecord, MAX_EVENTS_PAGE, Millis, Resolution, ResultRecord, Retention, Rollup,
    Store, Uptime,
};

/// A fresh store for one case, with whatever must live as long as it (a temporary directory,
/// a database to drop).
pub(crate) struct StoreUnderTest {
    store: Arc<dyn Store>,
    _keep_alive: Box<dyn Any + Send + Sync>,
}

impl StoreUnderTest {
    pub(crate) fn new(store: Arc<dyn Store>, keep_alive: impl Any + Send + Sync) -> StoreUnderTest {
        StoreUnderTest {
            store,
            _keep_alive: Box::new(keep_alive),
        }
    }

    /// The store itself, to share between tasks (the case keeps `self` alive meanwhile).
    pub(crate) fn shared(&self) -> Arc<dyn Store> {
        self.store.clone()
    }
}

impl Deref for StoreUnderTest {
    type Target = dyn Store;
    fn deref(&self) -> &Self::Target {
        &*self.store
    }
}

/// Expands to one `#[tokio::test]` per conformance case, each on a fresh store from `$factory`
/// (an async function returning a `StoreUnderTest`).
#[macro_export]
macro_rules! store_conformance_suite {
    ($factory:path) => {
        $crate::store_conformance_suite!(@cases $factory;
            results_round_trip,
            results_read_newest_first,
            latest_results_after_many_writes,
            results_record_who_probed_them_and_read_back_per_region,
            event_ids_increase,
            events_page_newest_first,
            event_pages_are_capped,
            minute_rollup_counts_and_percentiles,
            rollups_include_the_bucket_in_progress,
            hour_rollups_combine_minutes,
            late_results_reach_folded_rollups,
            uptime_windows,
            retention_keeps_uptime_from_rollups,
            retention_drops_old_events,
            concurrent_writers_and_maintenance_lose_nothing,
            hostile_values_are_stored,
            runs_round_trip_and_page,
            enqueue_is_exactly_once,
            claims_take_priority_then_oldest,
            priority_holds_under_contention,
            aging_bounds_starvation,
            concurrency_is_per_task,
            claims_filter_external_agent_and_tasks,
            leases_heartbeats_and_expiry,
            finish_by_holder_and_retry,
            cancel_and_queue_depth,
            task_stats_count_and_time_runs,
            retention_prunes_outputs_then_rolls_up_runs,
            incidents_open_escalate_and_resolve,
            aged_and_fresh_runs_merge_in_order,
            enqueue_and_claim_is_the_ordinary_claim,
            a_run_is_claimed_by_its_id_and_batches_finish_only_what_is_held,
            alerts_round_trip_one_open_per_rule_and_service,
            acknowledging_keeps_the_first,
            silences_in_force_and_expired,
            deliveries_are_recorded_once_and_updated,
            figures_round_trip_roll_up_and_stay_latest,
            audit_round_trips_pages_and_filters,
            outbox_keeps_order_until_acknowledged,
            outbox_bound_drops_the_oldest,
            workflow_sync_rounds_land_whole_and_count_once,
            workflow_executions_before_their_workflow_list,
            workflow_executions_newest_first_per_workflow,
            workflow_long_windows_read_hourly_rollups,
        );
    };
    (@cases $factory:path; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let store = $factory().await;
                $crate::conformance::$case(store).await;
            }
        )*
    };
}

const MINUTE: Millis = 60_000;
const HOUR: Millis = 3_600_000;
const DAY: Millis = 24 * HOUR;
/// A Unix time on a whole hour (2025-06-15T14:00:00Z), far from 0 so windows never clip.
const BASE: Millis = 1_749_996_000_000;

fn result(service: &str, at: Millis, up: bool, latency_ms: f64) -> ResultRecord {
    ResultRecord {
        service: service.to_owned(),
        at,
        up,
        latency_ms,
        message: (!up).then(|| format!("failed at {at}")),
        ..Default::default()
    }
}

fn event(at: Millis, kind: &str, service: Option<&str>) -> EventRecord {
    EventRecord {
        id: 0,
        at,
        kind: kind.to_owned(),
        service: service.map(str::to_owned),
        payload: serde_json::json!({ "at": at, "nested": { "kind": kind } }),
    }
}

fn events_query(
    before: Option<i64>,
    after: Option<i64>,
    service: Option<&str>,
    limit: usize,
) -> EventQuery {
    EventQuery {
        before,
        after,
        service: service.map(str::to_owned),
        kinds: Vec::new(),
        limit,
    }
}

/// The exact nearest-rank quantile of some latencies.
fn exact_quantile(latencies: &[f64], quantile: f64) -> f64 {
    let mut sorted = latencies.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((quantile * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// Asserts that a rollup's percentiles are within the documented bound of the exact ones.
fn assert_percentiles(rollup: &Rollup, latencies: &[f64]) {
    for (quantile, estimate) in [
        (0.50, rollup.p50_ms),
        (0.95, rollup.p95_ms),
        (0.99, rollup.p99_ms),
    ] {
        let exact = exact_quantile(latencies, quantile);
        let bound = if exact < LOWEST_MS {
            LOWEST_MS
        } else {
            exact * RELATIVE_ERROR
        };
        assert!(
            (estimate - exact).abs() <= bound + 1e-9,
            "p{} of {} results at {}: estimated {estimate}, exact {exact}",
            quantile * 100.0,
            latencies.len(),
            rollup.start
        );
    }
}

/// Counts and failures of rollups, by bucket start.
fn counts_by_start(rollups: &[Rollup]) -> BTreeMap<Millis, (u64, u64)> {
    rollups
        .iter()
        .map(|rollup| (rollup.start, (rollup.count, rollup.failures)))
        .collect()
}

/// Counts and failures that `results` should roll up to, by bucket start.
fn expected_counts(
    results: &[ResultRecord],
    service: &str,
    width: Millis,
) -> BTreeMap<Millis, (u64, u64)> {
    let mut counts = BTreeMap::new();
    for result in results.iter().filter(|result| result.service == service) {
        let entry: &mut (u64, u64) = counts
            .entry(result.at - result.at.rem_euclid(width))
            .or_default();
        entry.0 += 1;
        entry.1 += u64::from(!result.up);
    }
    counts
}

fn assert_share(actual: Option<f64>, expected: Option<f64>, what: &str) {
    match (actual, expected) {
        (Some(actual), Some(expected)) => {
            assert!(
                (actual - expected).abs() < 1e-9,
                "{what}: {actual} != {expected}"
            )
        }
        _ => assert_eq!(actual, expected, "{what}"),
    }
}

fn assert_uptime(actual: Uptime, expected: [Option<f64>; 4], when: &str) {
    for (name, actual, expected) in [
        ("hour", actual.hour, expected[0]),
        ("day", actual.day, expected[1]),
        ("week", actual.week, expected[2]),
        ("month", actual.month, expected[3]),
    ] {
        assert_share(actual, expected, &format!("{name} uptime {when}"));
    }
}

/// "Probed by": each result keeps its node and region; the latest per (service, region) reads
/// each region's own newest result, whatever the other regions wrote after it.
pub(crate) async fn results_record_who_probed_them_and_read_back_per_region(store: StoreUnderTest) {
    let probed =
        |service: &str, at: Millis, up: bool, node: &str, region: Option<&str>| ResultRecord {
            node: Some(node.to_owned()),
            region: region.map(str::to_owned),
            ..result(service, at, up, 2.0)
        };
    let written = vec![
        probed("web", BASE, true, "node-eu-1", Some("eu")),
        probed("web", BASE + 10, false, "node-us-1", Some("us")),
        probed("web", BASE + 1_000, true, "node-eu-2", Some("eu")),
        probed("web", BASE + 2_000, true, "node-x", None),
        probed("api", BASE + 5, false, "node-us-1", Some("us")),
        // Pushed in, or written before "probed by" was recorded.
        result("api", BASE + 3_000, true, 1.0),
    ];
    store.append_results(&written).await.unwrap();

    let web = store.recent_results("web", 10).await.unwrap();
    assert_eq!(web.len(), 4);
    assert_eq!(web[0], written[3], "newest first, node kept, no region");
    assert_eq!(web[1], written[2]);
    assert_eq!(web[1].node.as_deref(), Some("node-eu-2"));
    assert_eq!(web[1].region.as_deref(), Some("eu"));

    let latest = store.latest_results().await.unwrap();
    assert_eq!(latest, vec![written[5].clone(), written[3].clone()]);

    let keys = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(s, r)| ((*s).to_owned(), (*r).to_owned()))
            .collect()
    };
    let regional = store
        .latest_region_results(&keys(&[
            ("web", "us"),
            ("web", "eu"),
            ("api", "us"),
            ("api", "eu"),
            ("web", "eu"),
            ("nowhere", "eu"),
        ]))
        .await
        .unwrap();
    assert_eq!(
        regional,
        vec![written[4].clone(), written[2].clone(), written[1].clone()],
        "sorted by service then region; a pair without a result (api in eu) left out"
    );
    assert!(store.latest_region_results(&[]).await.unwrap().is_empty());
}

pub(crate) async fn results_round_trip(store: StoreUnderTest) {
    let written = vec![
        result("api", BASE, true, 12.5),
        result("db", BASE + 10, false, 3000.0),
        result("api", BASE + 1_000, false, 0.25),
        ResultRecord {
            message: Some("status 503, wanted 200 — ünïcode ok".to_owned()),
            ..result("api", BASE + 2_000, false, 7.0)
        },
    ];
    store.append_results(&written).await.unwrap();
    store.append_results(&[]).await.unwrap();

    let api = store.recent_results("api", 10).await.unwrap();
    let mut expected: Vec<ResultRecord> = written
        .iter()
        .filter(|r| r.service == "api")
        .cloned()
        .collect();
    expected.reverse();
    assert_eq!(api, expected);
    assert_eq!(
        store.recent_results("db", 10).await.unwrap(),
        vec![written[1].clone()]
    );
    assert_eq!(
        store.recent_results("api", 2).await.unwrap(),
        expected[..2].to_vec()
    );
    assert_eq!(store.recent_results("api", 0).await.unwrap(), Vec::new());
    assert_eq!(
        store.recent_results("nobody", 10).await.unwrap(),
        Vec::new()
    );
}

pub(crate) async fn results_read_newest_first(store: StoreUnderTest) {
    // Written out of order, and two at the same instant: newest first, then latest written.
    let ats = [BASE + 5, BASE + 1, BASE + 9, BASE + 3, BASE + 9];
    let written: Vec<ResultRecord> = ats
        .iter()
        .enumerate()
        .map(|(index, at)| result("api", *at, index % 2 == 0, index as f64))
        .collect();
    for result in &written {
        store
            .append_results(std::slice::from_ref(result))
            .await
            .unwrap();
    }
    let read: Vec<(Millis, f64)> = store
        .recent_results("api", 100)
        .await
        .unwrap()
        .iter()
        .map(|result| (result.at, result.latency_ms))
        .collect();
    assert_eq!(
        read,
        vec![
            (BASE + 9, 4.0),
            (BASE + 9, 2.0),
            (BASE + 5, 0.0),
            (BASE + 3, 3.0),
            (BASE + 1, 1.0)
        ]
    );
}

pub(crate) async fn latest_results_after_many_writes(store: StoreUnderTest) {
    assert_eq!(store.latest_results().await.unwrap(), Vec::new());
    let services: Vec<String> = (0..20).map(|index| format!("svc-{index:02}")).collect();
    let mut last = BTreeMap::new();
    for round in 0..50i64 {
        // Rounds go forward in time, but within a batch services are written in shuffled order.
        let batch: Vec<ResultRecord> = services
            .iter()
            .enumerate()
            .filter(|(index, _)| (*index as i64 + round) % 7 != 0)
            .map(|(index, service)| {
                let at = BASE + round * 1_000 + ((index as i64 * 37) % 20);
                result(
                    service,
                    at,
                    (index as i64 + round) % 3 != 0,
                    (round + 1) as f64,
                )
            })
            .collect();
        for record in &batch {
            last.insert(record.service.clone(), record.clone());
        }
        store.append_results(&batch).await.unwrap();
    }
    let latest = store.latest_results().await.unwrap();
    assert_eq!(latest, last.into_values().collect::<Vec<_>>());
}

pub(crate) async fn event_ids_increase(store: StoreUnderTest) {
    assert_eq!(store.append_events(Vec::new()).await.unwrap(), Vec::new());
    let first = store
        .append_events(vec![
            event(BASE, "status-changed", Some("api")),
            event(BASE + 1, "manifest-reloaded", None),
        ])
        .await
        .unwrap();
    let second = store
        .append_events(vec![event(BASE + 2, "status-changed", Some("db"))])
        .await
        .unwrap();
    let ids: Vec<i64> = first.iter().chain(&second).map(|event| event.id).collect();
    assert!(ids.windows(2).all(|pair| pair[0] < pair[1]), "ids {ids:?}");
    assert!(ids[0] > 0);
    let mut stored: Vec<EventRecord> = first.iter().chain(&second).cloned().collect();
    stored.reverse();
    assert_eq!(
        store
            .events(&events_query(None, None, None, 10))
            .await
            .unwrap(),
        stored
    );
    assert_eq!(stored[2].payload["nested"]["kind"], "status-changed");
}

pub(crate) async fn retention_drops_old_events(store: StoreUnderTest) {
    let written = store
        .append_events(
            (0..10)
                .map(|index| event(BASE + index * HOUR, "status-changed", Some("api")))
                .collect(),
        )
        .await
        .unwrap();
    // Keep the last four hours' events, as of the last event.
    let now = BASE + 9 * HOUR;
    let retention = Retention {
        events: 4 * HOUR,
        ..Retention::default()
    };
    store.maintain(now, retention).await.unwrap();
    let kept = store
        .events(&events_query(None, None, None, 100))
        .await
        .unwrap();
    let kept_at: Vec<Millis> = kept.iter().rev().map(|event| event.at).collect();
    let expected: Vec<Millis> = (5..10).map(|index| BASE + index * HOUR).collect();
    assert_eq!(kept_at, expected);
    assert_eq!(kept.last().map(|e| e.id), Some(written[5].id));
}

pub(crate) async fn events_page_newest_first(store: StoreUnderTest) {
    let services = [Some("api"), Some("db"), None];
    let written = store
        .append_events(
            (0..25)
                .map(|index| event(BASE + index, "status-changed", services[index as usize % 3]))
                .collect(),
        )
        .await
        .unwrap();
    let ids = |events: &[EventRecord]| events.iter().map(|event| event.id).collect::<Vec<_>>();
    let all: Vec<i64> = ids(&written).into_iter().rev().collect();

    // Paging back with `before` visits every event once, newest first.
    let mut paged = Vec::new();
    let mut before = None;
    loop {
        let page = store
            .events(&events_query(before, None, None, 10))
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 10);
        before = page.last().map(|event| event.id);
        paged.extend(ids(&page));
    }
    assert_eq!(paged, all);

    // `after` catches up; with `before`, it bounds a window.
    let after = all[5];
    assert_eq!(
        ids(&store
            .events(&events_query(None, Some(after), None, 100))
            .await
            .unwrap()),
        all[..5]
    );
    assert_eq!(
        ids(&store
            .events(&events_query(Some(all[1]), Some(all[5]), None, 100))
            .await
            .unwrap()),
        all[2..5]
    );
    assert_eq!(
        ids(&store
            .events(&events_query(None, Some(all[0]), None, 100))
            .await
            .unwrap()),
        Vec::<i64>::new()
    );

    // A service filter, paged too.
    let api: Vec<i64> = written
        .iter()
        .rev()
        .filter(|event| event.service.as_deref() == Some("api"))
        .map(|event| event.id)
        .collect();
    let first_page = store
        .events(&events_query(None, None, Some("api"), 4))
        .await
        .unwrap();
    assert!(
        first_page
            .iter()
            .all(|event| event.service.as_deref() == Some("api"))
    );
    assert_eq!(ids(&first_page), api[..4]);
    let second_page = store
        .events(&events_query(
            first_page.last().map(|event| event.id),
            None,
            Some("api"),
            100,
        ))
        .await
        .unwrap();
    assert_eq!(ids(&second_page), api[4..]);
    assert_eq!(
        store
            .events(&events_query(None, None, Some("nobody"), 10))
            .await
            .unwrap(),
        Vec::new()
    );

    // A kind filter: only the kinds asked for, newest first, with the other filters.
    let more = store
        .append_events(vec![
            event(BASE + 30, "run-failed", Some("api")),
            event(BASE + 31, "alert-firing", Some("db")),
            event(BASE + 32, "run-failed", Some("db")),
        ])
        .await
        .unwrap();
    let kinds = |kinds: &[&str], service: Option<&str>| EventQuery {
        kinds: kinds.iter().map(|k| (*k).to_owned()).collect(),
        ..events_query(None, None, service, 100)
    };
    assert_eq!(
        ids(&store.events(&kinds(&["run-failed"], None)).await.unwrap()),
        [more[2].id, more[0].id]
    );
    assert_eq!(
        ids(&store
            .events(&kinds(&["run-failed", "alert-firing"], Some("db")))
            .await
            .unwrap()),
        [more[2].id, more[1].id]
    );
    assert_eq!(
        store.events(&kinds(&["no-such-kind"], None)).await.unwrap(),
        Vec::new()
    );
    assert_eq!(
        store
            .events(&events_query(None, None, None, 0))
            .await
            .unwrap(),
        Vec::new()
    );
}

pub(crate) async fn event_pages_are_capped(store: StoreUnderTest) {
    let count = MAX_EVENTS_PAGE as i64 + 5;
    let written = store
        .append_events(
            (0..count)
                .map(|index| event(BASE + index, "tick", None))
                .collect(),
        )
        .await
        .unwrap();
    let page = store
        .events(&events_query(None, None, None, usize::MAX))
        .await
        .unwrap();
    assert_eq!(page.len(), MAX_EVENTS_PAGE);
    assert_eq!(
        page.first().map(|event| event.id),
        written.last().map(|event| event.id)
    );
}

pub(crate) async fn minute_rollup_counts_and_percentiles(store: StoreUnderTest) {
    // 1..=1000 ms within one minute, every tenth failed, written in shuffled order.
    let minute = BASE + 7 * MINUTE;
    let results: Vec<ResultRecord> = (0..1000i64)
        .map(|index| {
            let latency = (index * 389 % 1000 + 1) as f64;
            result(
                "api",
                minute + index * 59,
                latency as i64 % 10 != 0,
                latency,
            )
        })
        .collect();
    for batch in results.chunks(128) {
        store.append_results(batch).await.unwrap();
    }
    let latencies: Vec<f64> = results.iter().map(|result| result.latency_ms).collect();
    let check = |rollups: Vec<Rollup>, when: &str| {
        assert_eq!(rollups.len(), 1, "{when}: {rollups:?}");
        let rollup = &rollups[0];
        assert_eq!(
            (rollup.start, rollup.count, rollup.failures),
            (minute, 1000, 100),
            "{when}"
        );
        assert_eq!(
            (rollup.service.as_str(), rollup.resolution),
            ("api", Resolution::Minute)
        );
        assert_percentiles(rollup, &latencies);
        rollup.clone()
    };
    let in_progress = check(
        store
            .rollups("api", Resolution::Minute, BASE)
            .await
            .unwrap(),
        "in progress",
    );
    store
        .maintain(minute + 5 * MINUTE, Retention::default())
        .await
        .unwrap();
    let folded = check(
        store
            .rollups("api", Resolution::Minute, BASE)
            .await
            .unwrap(),
        "folded",
    );
    assert_eq!(in_progress, folded);
    assert_eq!(
        store.rollups("db", Resolution::Minute, BASE).await.unwrap(),
        Vec::new()
    );
    assert_eq!(
        store
            .rollups("api", Resolution::Minute, minute + MINUTE)
            .await
            .unwrap(),
        Vec::new()
    );
}

pub(crate) async fn rollups_include_the_bucket_in_progress(store: StoreUnderTest) {
    let minutes = [BASE, BASE + MINUTE, BASE + 2 * MINUTE];
    let mut written = Vec::new();
    for (index, start) in minutes.iter().enumerate() {
        for step in 0..=index as i64 {
            written.push(result(
                "api",
                start + step * 1_000,
                step != 1,
                10.0 + step as f64,
            ));
        }
    }
    store.append_results(&written).await.unwrap();
    // The first two minutes are finished at `now`, the third is in progress.
    let now = BASE + 2 * MINUTE + 30_000;
    store.maintain(now, Retention::default()).await.unwrap();
    let rollups = store
        .rollups("api", Resolution::Minute, BASE)
        .await
        .unwrap();
    assert_eq!(
        counts_by_start(&rollups),
        expected_counts(&written, "api", MINUTE)
    );

    let late_in_progress = result("api", BASE + 2 * MINUTE + 45_000, false, 99.0);
    store
        .append_results(std::slice::from_ref(&late_in_progress))
        .await
        .unwrap();
    written.push(late_in_progress);
    let rollups = store
        .rollups("api", Resolution::Minute, BASE)
        .await
        .unwrap();
    assert_eq!(
        counts_by_start(&rollups),
        expected_counts(&written, "api", MINUTE)
    );
    assert_eq!(
        rollups.last().map(|rollup| (rollup.count, rollup.failures)),
        Some((4, 2))
    );

    // `since` inside a bucket starts at that bucket.
    let since_middle = store
        .rollups("api", Resolution::Minute, BASE + MINUTE + 1)
        .await
        .unwrap();
    assert_eq!(
        since_middle
            .iter()
            .map(|rollup| rollup.start)
            .collect::<Vec<_>>(),
        minutes[1..]
    );
    // The hour in progress holds them all.
    let hours = store.rollups("api", Resolution::Hour, BASE).await.unwrap();
    assert_eq!(
        counts_by_start(&hours),
        expected_counts(&written, "api", HOUR)
    );
}

pub(crate) async fn hour_rollups_combine_minutes(store: StoreUnderTest) {
    // Three hours with results in scattered minutes; latencies differ per hour.
    let mut written = Vec::new();
    for hour in 0..3i64 {
        for index in 0..300i64 {
            let at = BASE + hour * HOUR + (index * 7 % 60) * MINUTE + index * 13 % 60_000;
            let latency = ((index * 211 % 300) + 1) as f64 * (hour + 1) as f64;
            written.push(result("api", at, index % 25 != 0, latency));
        }
    }
    written.push(result("db", BASE + 30 * MINUTE, true, 1.0));
    for batch in written.chunks(97) {
        store.append_results(batch).await.unwrap();
    }
    let before = store.rollups("api", Resolution::Hour, BASE).await.unwrap();
    // Folding leaves the third hour in progress; then drop every raw result and minute rollup
    // of the folded hours: hour rollups must stand on their own.
    let now = BASE + 2 * HOUR + 59 * MINUTE + 59_000;
    store.maintain(now, Retention::default()).await.unwrap();
    let folded = store.rollups("api", Resolution::Hour, BASE).await.unwrap();
    assert_eq!(before, folded);
    let retention = Retention {
        results: 0,
        minutes: 0,
        hours: Retention::default().hours,
        ..Retention::default()
    };
    store.maintain(now, retention).await.unwrap();
    let after_retention = store.rollups("api", Resolution::Hour, BASE).await.unwrap();
    assert_eq!(before, after_retention);

    assert_eq!(
        counts_by_start(&after_retention),
        expected_counts(&written, "api", HOUR)
    );
    for rollup in &after_retention {
        let latencies: Vec<f64> = written
            .iter()
            .filter(|result| {
                result.service == "api" && result.at - result.at.rem_euclid(HOUR) == rollup.start
            })
            .map(|result| result.latency_ms)
            .collect();
        assert_percentiles(rollup, &latencies);
        assert_eq!(rollup.resolution, Resolution::Hour);
    }
    let db = store.rollups("db", Resolution::Hour, 0).await.unwrap();
    assert_eq!(counts_by_start(&db), BTreeMap::from([(BASE, (1, 0))]));
}

pub(crate) async fn late_results_reach_folded_rollups(store: StoreUnderTest) {
    let mut written = vec![result("api", BASE + 5 * MINUTE, true, 5.0)];
    store.append_results(&written).await.unwrap();
    let now = BASE + 3 * HOUR;
    store.maintain(now, Retention::default()).await.unwrap();
    // Results that arrive after their minute and hour were folded.
    let late = vec![
        result("api", BASE + 5 * MINUTE + 1, false, 50.0),
        result("api", BASE + HOUR + 1, false, 500.0),
        result("late-service", BASE + 1, true, 1.0),
    ];
    store.append_results(&late).await.unwrap();
    written.extend(late);
    store
        .maintain(now + MINUTE, Retention::default())
        .await
        .unwrap();
    for (resolution, width) in [(Resolution::Minute, MINUTE), (Resolution::Hour, HOUR)] {
        for service in ["api", "late-service"] {
            let rollups = store.rollups(service, resolution, BASE).await.unwrap();
            assert_eq!(
                counts_by_start(&rollups),
                expected_counts(&written, service, width),
                "{service} {resolution:?}"
            );
        }
    }
    let uptime = store.uptime("api", now).await.unwrap();
    assert_share(uptime.day, Some(1.0 / 3.0), "day uptime with late results");
}

pub(crate) async fn uptime_windows(store: StoreUnderTest) {
    let now = BASE + 17 * MINUTE + 12_345;
    let ago = |millis: Millis| now - millis;
    let mut written = Vec::new();
    // The last hour: 9 up, 1 down. Earlier today: 10 down. Two days ago: 20 up.
    // Ten days ago: 20 down. Forty days ago (outside every window): 50 down.
    for index in 0..10 {
        written.push(result("api", ago(30 * MINUTE) + index, index != 0, 1.0));
        written.push(result("api", ago(5 * HOUR) + index, false, 1.0));
    }
    for index in 0..20 {
        written.push(result("api", ago(2 * DAY) + index, true, 1.0));
        written.push(result("api", ago(10 * DAY) + index, false, 1.0));
    }
    for index in 0..50 {
        written.push(result("api", ago(40 * DAY) + index, false, 1.0));
    }
    // Just outside the hour window, and a result after `now`: neither counts for the hour.
    written.push(result("api", ago(HOUR + MINUTE), false, 1.0));
    written.push(result("api", now + MINUTE, false, 1.0));
    store.append_results(&written).await.unwrap();

    // hour 9/10; day 9/21; week (+20 up) 29/41; month (+20 down) 29/61.
    let expected = [
        Some(9.0 / 10.0),
        Some(9.0 / 21.0),
        Some(29.0 / 41.0),
        Some(29.0 / 61.0),
    ];
    assert_uptime(
        store.uptime("api", now).await.unwrap(),
        expected,
        "from raw results",
    );
    store.maintain(now, Retention::default()).await.unwrap();
    assert_uptime(
        store.uptime("api", now).await.unwrap(),
        expected,
        "after folding and retention",
    );
    assert!(
        store
            .recent_results("api", 1000)
            .await
            .unwrap()
            .iter()
            .all(|result| result.at >= ago(2 * DAY)),
        "raw results older than the default two days are gone"
    );

    assert_uptime(
        store.uptime("nobody", now).await.unwrap(),
        [None; 4],
        "of an unknown service",
    );
    store
        .append_results(&[result("quiet", ago(3 * DAY), true, 1.0)])
        .await
        .unwrap();
    assert_uptime(
        store.uptime("quiet", now).await.unwrap(),
        [None, None, Some(1.0), Some(1.0)],
        "of a quiet service",
    );
}

pub(crate) async fn retention_keeps_uptime_from_rollups(store: StoreUnderTest) {
    // One result every 6 hours for 29 days (one in four down), then maintenance as it would
    // run: daily, each time with the default retention.
    let now = BASE + 29 * DAY;
    let written: Vec<ResultRecord> = (0..29 * 4)
        .map(|index| result("api", BASE + index * 6 * HOUR + 1, index % 4 != 0, 20.0))
        .collect();
    let mut day_start = BASE;
    for day in written.chunks(4) {
        store.append_results(day).await.unwrap();
        day_start += DAY;
        store
            .maintain(day_start, Retention::default())
            .await
            .unwrap();
    }
    store.maintain(now, Retention::default()).await.unwrap();

    let raw = store.recent_results("api", 1000).await.unwrap();
    assert!(
        !raw.is_empty() && raw.len() <= 2 * 4 + 1,
        "{} raw results kept",
        raw.len()
    );
    let minutes = store.rollups("api", Resolution::Minute, 0).await.unwrap();
    assert!(
        minutes.iter().all(|rollup| rollup.start >= now - 8 * DAY),
        "minute rollups beyond 8 days"
    );
    let hours = store.rollups("api", Resolution::Hour, 0).await.unwrap();
    assert_eq!(
        counts_by_start(&hours),
        expected_counts(&written, "api", HOUR)
    );

    let uptime = store.uptime("api", now).await.unwrap();
    let share = |from: Millis| {
        let window: Vec<&ResultRecord> =
            written.iter().filter(|result| result.at >= from).collect();
        Some(window.iter().filter(|result| result.up).count() as f64 / window.len() as f64)
    };
    assert_share(uptime.week, share(now - 7 * DAY), "week uptime");
    assert_share(uptime.month, share(now - 30 * DAY), "month uptime");
    assert_share(uptime.month, Some(0.75), "month uptime");
}

pub(crate) async fn concurrent_writers_and_maintenance_lose_nothing(store: StoreUnderTest) {
    let store = Arc::new(store);
    const WRITERS: i64 = 6;
    const BATCHES: i64 = 30;
    const BATCH: i64 = 40;
    let mut tasks = Vec::new();
    for writer in 0..WRITERS {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            for batch in 0..BATCHES {
                let records: Vec<ResultRecord> = (0..BATCH)
                    .map(|index| {
                        let at = BASE + (batch * BATCH + index) * 1_000 + writer;
                        result(
                            &format!("svc-{}", index % 4),
                            at,
                            (index + writer) % 5 != 0,
                            (index + 1) as f64,
                        )
                    })
                    .collect();
                store.append_results(&records).await.unwrap();
            }
        }));
    }
    // Maintenance folds what the writers wrote so far while they keep writing.
    let maintainer = {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            for step in 1..=10 {
                store
                    .maintain(BASE + step * 2 * MINUTE, Retention::default())
                    .await
                    .unwrap();
            }
        })
    };
    for task in tasks {
        task.await.unwrap();
    }
    maintainer.await.unwrap();

    let mut total = 0;
    let mut failures = 0;
    for service in 0..4 {
        let rollups = store
            .rollups(&format!("svc-{service}"), Resolution::Minute, BASE)
            .await
            .unwrap();
        total += rollups.iter().map(|rollup| rollup.count).sum::<u64>();
        failures += rollups.iter().map(|rollup| rollup.failures).sum::<u64>();
    }
    assert_eq!(total, (WRITERS * BATCHES * BATCH) as u64);
    assert_eq!(failures, (WRITERS * BATCHES * BATCH / 5) as u64);
    let latest = store.latest_results().await.unwrap();
    assert_eq!(latest.len(), 4);
    for record in &latest {
        // The last batch of the last writer: svc-N last got index 36 + N.
        let service: i64 = record.service["svc-".len()..].parse().unwrap();
        let last_index = (BATCHES - 1) * BATCH + BATCH - 4 + service;
        assert_eq!(
            record.at,
            BASE + last_index * 1_000 + WRITERS - 1,
            "{}",
            record.service
        );
    }
}

pub(crate) async fn hostile_values_are_stored(store: StoreUnderTest) {
    let hostile = [f64::NAN, -1.0, f64::INFINITY, 0.0, 1e300];
    let written: Vec<ResultRecord> = hostile
        .iter()
        .enumerate()
        .map(|(index, latency)| result("odd 'service'; --", BASE + index as i64, true, *latency))
        .collect();
    store.append_results(&written).await.unwrap();
    let read = store.recent_results("odd 'service'; --", 10).await.unwrap();
    assert_eq!(read.len(), hostile.len());
    assert!(
        read.iter()
            .all(|result| result.latency_ms.is_finite() && result.latency_ms >= 0.0)
    );
    store
        .maintain(BASE + HOUR, Retention::default())
        .await
        .unwrap();
    let rollups = store
        .rollups("odd 'service'; --", Resolution::Minute, BASE)
        .await
        .unwrap();
    assert_eq!(
        rollups.iter().map(|rollup| rollup.count).sum::<u64>(),
        hostile.len() as u64
    );
    assert!(
        rollups
            .iter()
            .all(|rollup| rollup.p50_ms.is_finite() && rollup.p99_ms.is_finite())
    );
}
