//! Conformance cases of the workflow engines' tables: a sync round lands whole (workflows,
//! executions, failures, cursor), executions are counted once and updated when they finish,
//! the newest failure wins, and the figures of a window are what was recorded.

use std::collections::BTreeMap;

use iza_store::histogram::RELATIVE_ERROR;
use iza_store::workflow_rollups::{DURATION_UNIT_MS, window_start};
use iza_store::{
    ExecutionRecord, Millis, Retention, WorkflowFailure, WorkflowRecord, WorkflowStats,
    WorkflowSync,
};

use super::{BASE, MINUTE, StoreUnderTest};

const HOUR: Millis = 3_600_000;
const DAY: Millis = 24 * HOUR;

/// A duration percentile estimated from the rollups is within the stated bound of `exact`
/// (relative above 10 ms, 10 ms under it, 1 ms for rounding).
fn assert_near(estimate: Option<i64>, exact: i64) {
    let estimate = estimate.expect("a percentile");
    let bound = (exact as f64 * RELATIVE_ERROR).max(DURATION_UNIT_MS / 10.0) + 1.0;
    assert!(
        ((estimate - exact) as f64).abs() <= bound,
        "estimated {estimate} ms, exact {exact} ms"
    );
}

fn execution(id: u32, workflow: &str, status: &str, at: i64, ms: i64) -> ExecutionRecord {
    ExecutionRecord {
        id: id.to_string(),
        workflow_id: workflow.to_owned(),
        status: status.to_owned(),
        mode: Some("webhook".to_owned()),
        started_at: at,
        stopped_at: (status != "running").then_some(at + ms),
        retry_of: None,
    }
}

fn workflow(id: &str, name: &str, active: bool) -> WorkflowRecord {
    WorkflowRecord {
        id: id.to_owned(),
        name: name.to_owned(),
        active,
        tags: vec!["seed".to_owned(), "it's \"quoted\"".to_owned()],
    }
}

pub(crate) async fn workflow_sync_rounds_land_whole_and_count_once(store: StoreUnderTest) {
    let service = "n8n";
    assert_eq!(store.workflow_cursor(service).await.unwrap(), None);
    let mut executions: Vec<_> = (1..=20)
        .map(|i| {
            let status = if i % 5 == 0 { "error" } else { "success" };
            execution(
                i,
                "wf-a",
                status,
                BASE + i64::from(i) * 1_000,
                i64::from(i) * 10,
            )
        })
        .collect();
    executions.push(execution(21, "wf-b", "running", BASE + 30_000, 0));
    let round = WorkflowSync {
        workflows: Some(vec![
            workflow("wf-a", "Orders", true),
            workflow("wf-b", "Billing", false),
        ]),
        executions: executions.clone(),
        failures: vec![WorkflowFailure {
            workflow_id: "wf-a".to_owned(),
            execution_id: "20".to_owned(),
            at: BASE + 20_200,
            message: "Stop and Error: it broke".to_owned(),
            node: Some("Stop and Error".to_owned()),
        }],
        cursor: "{\"head\":\"21\"}".to_owned(),
    };
    assert_eq!(
        store.apply_workflow_sync(service, &round).await.unwrap(),
        21
    );
    assert_eq!(
        store.workflow_cursor(service).await.unwrap().as_deref(),
        Some("{\"head\":\"21\"}")
    );
    // The same round again adds nothing; an older failure does not replace the newer one.
    let again = WorkflowSync {
        workflows: None,
        failures: vec![WorkflowFailure {
            workflow_id: "wf-a".to_owned(),
            execution_id: "5".to_owned(),
            at: BASE + 5_050,
            message: "older".to_owned(),
            node: None,
        }],
        cursor: "{\"head\":\"21\",\"n\":2}".to_owned(),
        ..round.clone()
    };
    assert_eq!(store.apply_workflow_sync(service, &again).await.unwrap(), 0);
    let running = store.running_executions(service).await.unwrap();
    assert_eq!(running.len(), 1);
    assert_eq!(running[0].id, "21");

    // The running one finishes: updated, not counted as new.
    let finish = WorkflowSync {
        workflows: None,
        executions: vec![execution(21, "wf-b", "success", BASE + 30_000, 500)],
        failures: Vec::new(),
        cursor: "c3".to_owned(),
    };
    assert_eq!(
        store.apply_workflow_sync(service, &finish).await.unwrap(),
        0
    );
    assert!(store.running_executions(service).await.unwrap().is_empty());

    let stats = store.workflow_stats(service, BASE).await.unwrap();
    assert_eq!(stats.len(), 2);
    let (billing, orders) = (&stats[0], &stats[1]);
    assert_eq!(billing.name, "Billing");
    assert_eq!(billing.runs.get("success"), Some(&1));
    assert_eq!(billing.last_success_at, Some(BASE + 30_500));
    assert!(!billing.active);
    assert_eq!(orders.tags, vec!["seed", "it's \"quoted\""]);
    assert_eq!(orders.runs.get("success"), Some(&16));
    assert_eq!(orders.runs.get("error"), Some(&4));
    assert_eq!(orders.success_rate, Some(0.8));
    // Durations 10..=200 ms: estimated from the rollups' histogram, within its bound.
    assert_near(orders.p50_ms, 100);
    assert_near(orders.p95_ms, 190);
    assert_eq!(orders.last_run_at, Some(BASE + 20_000));
    assert_eq!(orders.last_success_at, Some(BASE + 19_000 + 190));
    let failure = orders.last_failure.as_ref().expect("a failure");
    assert_eq!(failure.execution_id, "20");
    assert_eq!(failure.node.as_deref(), Some("Stop and Error"));

    // A window that starts later (inside an hour: its raw rows) sees only what started in it;
    // pruning raw rows keeps the figures of whole hours, which the rollups hold.
    let late = store.workflow_stats(service, BASE + 16_000).await.unwrap();
    assert_eq!(late[1].runs.values().sum::<u64>(), 5);
    assert_eq!(store.prune_executions(BASE + 10_500).await.unwrap(), 10);
    let pruned = store.workflow_stats(service, 0).await.unwrap();
    assert_eq!(pruned, stats);
    let late = store.workflow_stats(service, BASE + 16_000).await.unwrap();
    assert_eq!(late[1].runs.values().sum::<u64>(), 5);
    assert_eq!(pruned[1].last_failure.as_ref().unwrap().execution_id, "20");
    // Another engine sees none of it.
    assert!(store.workflow_stats("other", 0).await.unwrap().is_empty());
    let _ = MINUTE;
}

pub(crate) async fn workflow_executions_before_their_workflow_list(store: StoreUnderTest) {
    let round = WorkflowSync {
        workflows: None,
        executions: vec![execution(1, "unlisted", "crashed", BASE, 5)],
        failures: Vec::new(),
        cursor: String::new(),
    };
    assert_eq!(store.apply_workflow_sync("ap", &round).await.unwrap(), 1);
    let stats = store.workflow_stats("ap", BASE - MINUTE).await.unwrap();
    assert_eq!(stats.len(), 1);
    assert_eq!(stats[0].name, "unlisted");
    assert_eq!(stats[0].success_rate, Some(0.0));
    // The list arrives later and names it.
    let listed = WorkflowSync {
        workflows: Some(vec![workflow("unlisted", "Now named", true)]),
        ..WorkflowSync::default()
    };
    store.apply_workflow_sync("ap", &listed).await.unwrap();
    let stats = store.workflow_stats("ap", BASE - MINUTE).await.unwrap();
    assert_eq!(stats[0].name, "Now named");
    assert_eq!(stats[0].runs.get("crashed"), Some(&1));
}

pub(crate) async fn workflow_executions_newest_first_per_workflow(store: StoreUnderTest) {
    let mut executions: Vec<_> = (1..=30)
        .map(|i| {
            let workflow = if i % 3 == 0 { "wf-b" } else { "wf-a" };
            execution(i, workflow, "success", BASE + i64::from(i) * 1_000, 10)
        })
        .collect();
    executions.push(execution(31, "wf-a", "running", BASE + 40_000, 0));
    let round = WorkflowSync {
        workflows: Some(vec![workflow("wf-a", "Orders", true)]),
        executions,
        failures: Vec::new(),
        cursor: String::new(),
    };
    store.apply_workflow_sync("n8n", &round).await.unwrap();
    let recent = store.workflow_executions("n8n", "wf-a", 5).await.unwrap();
    let ids: Vec<&str> = recent.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, ["31", "29", "28", "26", "25"]);
    assert_eq!(recent[0].status, "running");
    assert_eq!(recent[0].stopped_at, None);
    assert_eq!(recent[1].mode.as_deref(), Some("webhook"));
    let b = store.workflow_executions("n8n", "wf-b", 100).await.unwrap();
    assert_eq!(b.len(), 10);
    assert!(b.iter().all(|e| e.workflow_id == "wf-b"));
    // Another engine, an unknown workflow: none; the page is capped.
    assert!(
        store
            .workflow_executions("ap", "wf-a", 5)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .workflow_executions("n8n", "nope", 5)
            .await
            .unwrap()
            .is_empty()
    );
    let capped = store
        .workflow_executions("n8n", "wf-a", usize::MAX)
        .await
        .unwrap();
    assert_eq!(capped.len(), 21);
}

/// The generated history of [`workflow_long_windows_read_hourly_rollups`]: 3,000 executions
/// of four workflows over about 7.3 days, in every status, 1 ms to 6.5 minutes long.
fn history() -> Vec<ExecutionRecord> {
    (0..3_000i64)
        .map(|i| {
            let status = match i {
                _ if i % 11 == 0 => "running",
                _ if i % 7 == 0 => "error",
                _ if i % 13 == 0 => "crashed",
                _ if i % 17 == 0 => "canceled",
                _ => "success",
            };
            let duration = if i % 50 == 0 {
                90_000 + i * 100
            } else {
                1 + (i * 37) % 5_000
            };
            let started_at = BASE + i * 211_000 + i % 997;
            ExecutionRecord {
                id: format!("x{i}"),
                workflow_id: format!("wf-{}", i % 4),
                status: status.to_owned(),
                mode: None,
                started_at,
                stopped_at: (status != "running").then_some(started_at + duration),
                retry_of: None,
            }
        })
        .collect()
}

/// What the figures of `executions` started at or after `since` are, computed directly: runs
/// by status, success rate and exact nearest-rank p50/p95/p99 per workflow.
type Direct = BTreeMap<String, (BTreeMap<String, u64>, Option<f64>, Vec<i64>)>;

fn direct(executions: &[ExecutionRecord], since: Millis) -> Direct {
    let mut by_workflow: Direct = BTreeMap::new();
    for e in executions.iter().filter(|e| e.started_at >= since) {
        let entry = by_workflow.entry(e.workflow_id.clone()).or_default();
        *entry.0.entry(e.status.clone()).or_default() += 1;
        if let (Some(stopped), true) = (e.stopped_at, e.status != "running") {
            entry.2.push(stopped - e.started_at);
        }
    }
    for (runs, rate, durations) in by_workflow.values_mut() {
        durations.sort_unstable();
        let ok = runs.get("success").copied().unwrap_or(0);
        let finished = ok
            + runs.get("error").copied().unwrap_or(0)
            + runs.get("crashed").copied().unwrap_or(0);
        *rate = (finished > 0).then(|| ok as f64 / finished as f64);
    }
    by_workflow
}

fn nearest_rank(sorted: &[i64], q: f64) -> i64 {
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn assert_matches(stats: &[WorkflowStats], expected: &Direct, what: &str) {
    assert_eq!(stats.len(), 4, "{what}");
    for s in stats {
        let (runs, rate, durations) = expected.get(&s.id).expect("a workflow");
        assert_eq!(&s.runs, runs, "{what}: runs of {}", s.id);
        assert_eq!(s.success_rate, *rate, "{what}: success rate of {}", s.id);
        assert_near(s.p50_ms, nearest_rank(durations, 0.50));
        assert_near(s.p95_ms, nearest_rank(durations, 0.95));
        assert_near(s.p99_ms, nearest_rank(durations, 0.99));
    }
}

pub(crate) async fn workflow_long_windows_read_hourly_rollups(store: StoreUnderTest) {
    let service = "n8n";
    let mut history = history();
    // The history arrives newest page first (a first sync), in rounds of 250; the running
    // executions end later, in one round.
    for page in history.chunks(250).rev() {
        let round = WorkflowSync {
            workflows: None,
            executions: page.to_vec(),
            failures: Vec::new(),
            cursor: String::new(),
        };
        store.apply_workflow_sync(service, &round).await.unwrap();
    }
    let mut ended = Vec::new();
    for (i, e) in history.iter_mut().enumerate() {
        if e.status == "running" {
            e.status = if i % 2 == 0 { "success" } else { "error" }.to_owned();
            e.stopped_at = Some(e.started_at + 250 + i as i64);
            ended.push(e.clone());
        }
    }
    // One more than seen: a running one stays running.
    let still_running = ended.pop().unwrap();
    let last = history
        .iter_mut()
        .find(|e| e.id == still_running.id)
        .unwrap();
    last.status = "running".to_owned();
    last.stopped_at = None;
    let round = WorkflowSync {
        workflows: None,
        executions: ended.clone(),
        failures: Vec::new(),
        cursor: String::new(),
    };
    assert_eq!(store.apply_workflow_sync(service, &round).await.unwrap(), 0);
    // The same round again changes nothing.
    store.apply_workflow_sync(service, &round).await.unwrap();

    let now = history.last().unwrap().started_at + 20 * MINUTE;
    let week = window_start(now, 7 * DAY);
    assert_eq!(week % HOUR, 0);
    let day_and_a_bit = now - DAY - 1_234;
    let week_stats = store.workflow_stats(service, week).await.unwrap();
    assert_matches(&week_stats, &direct(&history, week), "7d");
    let exact_stats = store.workflow_stats(service, day_and_a_bit).await.unwrap();
    assert_matches(
        &exact_stats,
        &direct(&history, day_and_a_bit),
        "24h and a bit",
    );
    let all = store.workflow_stats(service, 0).await.unwrap();
    assert_matches(&all, &direct(&history, 0), "all");
    let running = all
        .iter()
        .find(|s| s.id == still_running.workflow_id)
        .unwrap();
    assert_eq!(running.oldest_running_at, Some(still_running.started_at));

    // Every finished raw row pruned: windows of whole hours read the rollups only, and
    // answer the same.
    let pruned = store.prune_executions(now + 1).await.unwrap();
    assert_eq!(pruned as usize, history.len() - 1);
    assert_eq!(
        store.workflow_stats(service, week).await.unwrap(),
        week_stats
    );
    assert_eq!(store.workflow_stats(service, 0).await.unwrap(), all);

    // Retention deletes the hourly rollups older than the hour rollups' retention.
    let retention = Retention {
        hours: 2 * DAY,
        ..Retention::default()
    };
    store.maintain(now, retention).await.unwrap();
    let kept_from = now - 2 * DAY;
    let kept: u64 = store
        .workflow_stats(service, 0)
        .await
        .unwrap()
        .iter()
        .map(|s| s.runs.values().sum::<u64>())
        .sum();
    let expected = history
        .iter()
        .filter(|e| e.started_at - e.started_at.rem_euclid(HOUR) >= kept_from)
        .count();
    assert_eq!(kept as usize, expected);
    assert!(expected > 0 && expected < history.len());
}
