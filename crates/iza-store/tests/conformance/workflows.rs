//! Conformance cases of the workflow engines' tables: a sync round lands whole (workflows,
//! executions, failures, cursor), executions are counted once and updated when they finish,
//! the newest failure wins, and the figures of a window are what was recorded.

use iza_store::{ExecutionRecord, WorkflowFailure, WorkflowRecord, WorkflowSync};

use super::{BASE, MINUTE, StoreUnderTest};

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
    assert_eq!(orders.p50_ms, Some(100));
    assert_eq!(orders.p95_ms, Some(190));
    assert_eq!(orders.last_run_at, Some(BASE + 20_000));
    assert_eq!(orders.last_success_at, Some(BASE + 19_000 + 190));
    let failure = orders.last_failure.as_ref().expect("a failure");
    assert_eq!(failure.execution_id, "20");
    assert_eq!(failure.node.as_deref(), Some("Stop and Error"));

    // A window that starts later sees only what started in it; pruning keeps the summary.
    let late = store.workflow_stats(service, BASE + 16_000).await.unwrap();
    assert_eq!(late[1].runs.values().sum::<u64>(), 5);
    assert_eq!(store.prune_executions(BASE + 10_500).await.unwrap(), 10);
    let pruned = store.workflow_stats(service, 0).await.unwrap();
    assert_eq!(pruned[1].runs.values().sum::<u64>(), 10);
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
