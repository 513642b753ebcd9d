//! The agents' workflow actions and trigger against an n8n stand-in, with the real follower,
//! agents engine and SQLite store: `on = { workflow = "failed" }` queues one run per failed
//! execution the follower newly sees (never the history of the first sync, never again after a
//! re-sync or a restart), and `run = { retry_failed }` retries at most `limit` failures, newest
//! first, none twice, and reports them. Every wait polls the store with a deadline.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use iza_catalog::Catalog;
use iza_probe::Prober;
use iza_runtime::agents::{Agents, AgentsOptions};
use iza_runtime::workflows::Workflows;
use iza_runtime::{Launch, Launcher, Monitor};
use iza_store::{Run, RunQuery, RunState, SqliteStore, Store};
use iza_workflows::standin::{Standin, StandinConfig};
use serde_json::{Value, json};

use crate::support::*;

const NOTE: &str = "error-handler/note-the-failure";
const RETRY: &str = "error-handler/retry-two";
const TRIGGER: &str = "error-handler/start-the-report";

fn manifest(url: &str) -> Arc<Catalog> {
    catalog(&format!(
        r#"
[services.n8n]
kind = "workflow-engine"
port = 5678
workflows = {{ engine = "n8n", url = "{url}", api_key = "standin-key", every = "100ms" }}

[agents.error-handler]
tier = 1
tasks = [
  {{ name = "Note the failure", on = {{ workflow = "failed", services = ["n8n"] }}, run = {{ exec = ["echo", "{{service}}/{{workflow}}#{{execution}} {{status}} at {{node}}: {{error}}"] }} }},
  {{ name = "Retry two", run = {{ retry_failed = "n8n/Sync orders to ERP #0001", limit = 2 }} }},
  {{ name = "Start the report", run = {{ workflow = "n8n/Lead enrichment #0002", data = {{ asked_by = "{{agent}}", n = 3 }} }} }},
]
"#
    ))
}

async fn runs_of(store: &dyn Store, task: &str) -> Vec<Run> {
    store
        .runs(&RunQuery {
            task: Some(task.to_owned()),
            agent: None,
            states: vec![],
            before: None,
            limit: 1000,
        })
        .await
        .unwrap()
}

async fn start_agents(catalog: Arc<Catalog>, store: Arc<dyn Store>, dir: &Path) -> Arc<Agents> {
    let monitor = Arc::new(
        Monitor::start(
            catalog.clone(),
            Arc::new(Prober::default()),
            store.clone(),
            options(),
        )
        .await
        .unwrap(),
    );
    let mut options = AgentsOptions::new(
        "workflow-test",
        Launch {
            base_dir: dir.to_owned(),
            self_exe: None,
            launcher: Launcher::direct(),
        },
    );
    options.seed = Some(7);
    Arc::new(Agents::start(catalog, store, monitor, None, options))
}

/// Waits until the follower has stored `rounds` more rounds than when called.
async fn rounds(workflows: &Workflows, rounds: usize) {
    let at = |w: &Workflows| w.verdicts().first().map_or(0, |v| v.at);
    for _ in 0..rounds {
        let before = at(workflows);
        wait_until("the follower stores another round", || {
            workflows
                .verdicts()
                .first()
                .is_some_and(|v| v.at > before && v.error.is_none())
        })
        .await;
    }
}

/// The stand-in's failed executions, newest first, as its API lists them.
async fn failed_list(url: &str) -> Value {
    let response = iza_workflows::client::http_client()
        .unwrap()
        .get(format!("{url}/api/v1/executions?status=error&limit=250"))
        .header("X-N8N-API-KEY", "standin-key")
        .send()
        .await
        .unwrap();
    serde_json::from_slice(&response.bytes().await.unwrap()).unwrap()
}

/// The failed executions (ids) the stand-in holds above `after`.
async fn failed_above(url: &str, after: u64) -> BTreeSet<u64> {
    failed_list(url).await["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().parse::<u64>().unwrap())
        .filter(|id| *id > after)
        .collect()
}

fn executions(runs: &[Run]) -> BTreeSet<u64> {
    runs.iter()
        .map(|r| r.trigger["execution"].as_str().unwrap().parse().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_executions_queue_their_task_once_and_retry_failed_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let (standin, url) = Standin::spawn_local(StandinConfig {
        workflows: 3,
        history: 30,
        rate: 0.0,
        failure_rate: 0.5,
        ..StandinConfig::default()
    })
    .await
    .unwrap();
    let catalog = manifest(&url);
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&dir.path().join("state.db"))
            .await
            .unwrap(),
    );
    let agents = start_agents(catalog.clone(), store.clone(), dir.path()).await;
    let workflows = Workflows::start(&catalog, store.clone(), None, Some(agents.clone()));

    // The first sync reads the history (30 executions, some failed): none of them is new.
    wait_until("the history is read", || {
        workflows.verdicts().first().is_some_and(|v| v.caught_up)
    })
    .await;
    rounds(&workflows, 2).await;
    assert!(
        !failed_above(&url, 0).await.is_empty(),
        "the history has failures"
    );
    assert_eq!(
        runs_of(store.as_ref(), NOTE).await.len(),
        0,
        "history fires nothing"
    );

    // New executions: one run per new failure, carrying its workflow, error and node.
    standin.add_executions(40);
    let expected = failed_above(&url, 30).await;
    assert!(!expected.is_empty());
    wait_until_async("a run per new failure has succeeded", || async {
        let runs = runs_of(store.as_ref(), NOTE).await;
        runs.len() == expected.len() && runs.iter().all(|r| r.state == RunState::Succeeded)
    })
    .await;
    let runs = runs_of(store.as_ref(), NOTE).await;
    assert_eq!(executions(&runs), expected);
    for run in &runs {
        let output = run.output.as_deref().unwrap_or_default();
        let execution = run.trigger["execution"].as_str().unwrap();
        let node = run.trigger["node"].as_str().expect("the failing node");
        let error = run.trigger["error"].as_str().expect("the error message");
        assert!(!error.is_empty());
        assert_eq!(run.trigger["kind"], "workflow");
        assert!(
            output.starts_with(&format!(
                "n8n/{}#{execution} error at {node}: {error}",
                run.trigger["workflow"].as_str().unwrap()
            )),
            "{output}"
        );
    }

    // Re-syncs fire nothing more; neither does a restart of the followers on the same store.
    rounds(&workflows, 3).await;
    assert_eq!(runs_of(store.as_ref(), NOTE).await.len(), expected.len());
    drop(workflows);
    let workflows = Workflows::start(&catalog, store.clone(), None, Some(agents.clone()));
    rounds(&workflows, 3).await;
    assert_eq!(runs_of(store.as_ref(), NOTE).await.len(), expected.len());
    // ... and what fails after the restart fires, once.
    let newest = standin.add_executions(20).parse::<u64>().unwrap();
    let after_restart = failed_above(&url, newest - 20).await;
    wait_until_async("the failures after the restart fire", || async {
        executions(&runs_of(store.as_ref(), NOTE).await).len()
            == expected.len() + after_restart.len()
    })
    .await;
    rounds(&workflows, 2).await;
    let all = runs_of(store.as_ref(), NOTE).await;
    assert_eq!(all.len(), expected.len() + after_restart.len());
    assert_eq!(
        executions(&all),
        expected.union(&after_restart).copied().collect()
    );

    // `retry_failed`: the two newest failures of the workflow, then the next two.
    let first_workflow = standin.workflow_id_at(0);
    let failed_of_first = |page: &Value| -> Vec<String> {
        page["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["workflowId"] == json!(first_workflow) && e["retrySuccessId"].is_null())
            .map(|e| e["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let failed = failed_of_first(&failed_list(&url).await);
    assert!(
        failed.len() >= 4,
        "the workflow has failures to retry: {failed:?}"
    );
    let retries_before = standin.counters.retries.load(Ordering::Relaxed);
    let run = agents.run_now(RETRY, json!({})).await.unwrap();
    let run = agents.wait(run, DEADLINE).await.unwrap();
    assert_eq!(run.state, RunState::Succeeded, "{:?}", run.error);
    let output = run.output.clone().unwrap_or_default();
    for id in &failed[..2] {
        assert!(
            output.contains(&format!("retried execution {id} as ")),
            "{output}"
        );
    }
    assert!(
        !output.contains(&format!("retried execution {} ", failed[2])),
        "{output}"
    );
    assert!(output.contains("2 retried, 0 refused"), "{output}");
    assert!(output.contains("more failures remain"), "{output}");
    assert_eq!(
        standin.counters.retries.load(Ordering::Relaxed),
        retries_before + 2
    );

    let run = agents.run_now(RETRY, json!({})).await.unwrap();
    let run = agents.wait(run, DEADLINE).await.unwrap();
    let output = run.output.clone().unwrap_or_default();
    for id in &failed[2..4] {
        assert!(
            output.contains(&format!("retried execution {id} as ")),
            "{output}"
        );
    }
    for id in &failed[..2] {
        assert!(
            !output.contains(&format!("execution {id} ")),
            "retried twice: {output}"
        );
    }
    assert!(output.contains("2 skipped"), "{output}");
    assert_eq!(
        standin.counters.retries.load(Ordering::Relaxed),
        retries_before + 4
    );
    // The retries succeeded: they are not failures, so they queue no `Note the failure`.
    rounds(&workflows, 2).await;
    assert_eq!(runs_of(store.as_ref(), NOTE).await.len(), all.len());

    // `workflow`: the Webhook node's path is called and the engine starts an execution (n8n
    // serves the webhooks of published workflows only: publish it first).
    let published = iza_workflows::client::http_client()
        .unwrap()
        .post(format!(
            "{url}/api/v1/workflows/{}/publish",
            standin.workflow_id_at(1)
        ))
        .header("X-N8N-API-KEY", "standin-key")
        .send()
        .await
        .unwrap();
    assert_eq!(published.status(), 200);
    let webhooks = standin.counters.webhooks.load(Ordering::Relaxed);
    let run = agents.run_now(TRIGGER, json!({})).await.unwrap();
    let run = agents.wait(run, DEADLINE).await.unwrap();
    assert_eq!(run.state, RunState::Succeeded, "{:?}", run.error);
    let output = run.output.unwrap_or_default();
    assert!(
        output.contains("/webhook/lead-enrichment-0002: 200"),
        "{output}"
    );
    assert!(output.contains("Workflow was started"), "{output}");
    assert_eq!(
        standin.counters.webhooks.load(Ordering::Relaxed),
        webhooks + 1
    );
}
