//! The incremental follower of one engine. Its [`Cursor`] holds the newest execution already
//! recorded (the *head*) and the *gaps*: stretches of older history still to read, each an
//! engine cursor and the mark where it meets what is recorded. A round reads the newest pages
//! down to the head, then continues the gaps, within `pages_per_round` pages in all; whatever a
//! round cannot finish stays a gap for the next. So history is read once, a first sync of a
//! long history is bounded per round and resumes after a restart (the cursor is stored with the
//! round, in one transaction), and a quiet engine costs one page a round.
//!
//! A round also names the failures it sees *newly* ([`RoundReport::new_failures`]): those
//! above a head already recorded (listed above it, or in a gap that meets it) and those
//! recorded as running that ended failed. The history of a first sync is not new; since the
//! cursor is stored with the round, a failure is new in one round only, across restarts too.
//!
//! n8n's list leaves out the executions it is running (unless `status=running` asks), so each
//! round lists those first (one more request). Executions recorded as running are read again
//! one by one once they no longer list as running, until they end (n8n's list is ordered by
//! id, so a finished execution below the head would not be listed again); the newest failure
//! of each workflow is read in detail (n8n `includeData=true`) for its message and node.

use std::collections::{BTreeMap, HashSet};

use futures_util::StreamExt as _;

use iza_catalog::model::Engine;
use iza_store::{ExecutionRecord, WorkflowFailure, WorkflowSync};
use serde::{Deserialize, Serialize};

use crate::client::{Client, Execution, MAX_PAGE, WorkflowError};

/// Running executions read again per round at most.
pub const RUNNING_PER_ROUND: usize = 50;
/// Failures read in detail per round at most.
pub const FAILURES_PER_ROUND: usize = 20;
/// Failures read in detail at the same time.
pub const FAILURE_READS_AT_ONCE: usize = 4;
/// How often the workflow list is read again.
pub const WORKFLOWS_EVERY_MS: i64 = 60_000;

/// Where an execution sits in the engine's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mark {
    /// Its id.
    pub id: String,
    /// The time the list is ordered by.
    pub at: i64,
}

/// Older history still to read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gap {
    /// The engine's cursor of the next page to read.
    pub cursor: String,
    /// Where it meets what is recorded (`None`: the beginning of history).
    pub stop: Option<Mark>,
}

/// The follower's state, stored with each round.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// The newest execution recorded.
    pub head: Option<Mark>,
    /// Stretches still to read, oldest first.
    #[serde(default)]
    pub gaps: Vec<Gap>,
    /// When the workflow list was last read.
    #[serde(default)]
    pub workflows_at: Option<i64>,
}

impl Cursor {
    /// The stored text, or a fresh cursor when there is none or it does not parse.
    pub fn parse(text: Option<&str>) -> Cursor {
        text.and_then(|t| serde_json::from_str(t).ok())
            .unwrap_or_default()
    }

    /// Whether the history is fully read.
    pub fn caught_up(&self) -> bool {
        self.head.is_some() && self.gaps.is_empty()
    }
}

/// Whether `e` is at or below `stop` in the engine's order (newest first): n8n's ids are
/// increasing numbers; otherwise the same id, or an older time.
fn reached(e: &Execution, stop: &Mark) -> bool {
    if e.record.id == stop.id {
        return true;
    }
    match (e.record.id.parse::<u64>(), stop.id.parse::<u64>()) {
        (Ok(a), Ok(b)) => a <= b,
        _ => e.order_at < stop.at,
    }
}

fn mark(e: &Execution) -> Mark {
    Mark {
        id: e.record.id.clone(),
        at: e.order_at,
    }
}

/// Follows one engine.
#[derive(Debug)]
pub struct Follower {
    /// The engine's client.
    pub client: Client,
    /// Pages read per round at most (head and gaps together).
    pub pages_per_round: u32,
    /// Executions per page.
    pub page_size: u32,
}

/// What a round read, besides the round itself.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RoundReport {
    /// Execution pages read.
    pub pages: u32,
    /// Whether history is fully read after it.
    pub caught_up: bool,
    /// The failed executions first seen in this round that ended after the follower began
    /// (not the history of a first sync), newest first as listed.
    pub new_failures: Vec<ExecutionRecord>,
}

impl Follower {
    /// A follower reading up to `pages_per_round` pages of 250 a round.
    pub fn new(client: Client, pages_per_round: u32) -> Follower {
        Follower {
            client,
            pages_per_round: pages_per_round.max(1),
            page_size: MAX_PAGE,
        }
    }

    /// One round from `cursor` (advanced in place), knowing the executions recorded as
    /// running; the answer is what to write in one transaction (its `cursor` is the new one).
    pub async fn round(
        &self,
        cursor: &mut Cursor,
        running: &[ExecutionRecord],
        now: i64,
    ) -> Result<(WorkflowSync, RoundReport), WorkflowError> {
        let mut sync = WorkflowSync::default();
        if cursor
            .workflows_at
            .is_none_or(|at| now - at >= WORKFLOWS_EVERY_MS)
        {
            sync.workflows = Some(self.all_workflows().await?);
            cursor.workflows_at = Some(now);
        }
        let mut seen: Vec<Execution> = Vec::new();
        // Which of `seen` ended after the follower began (not a first sync's history).
        let mut fresh: Vec<bool> = Vec::new();
        let mut budget = self.pages_per_round;

        // n8n (2.41.1) leaves the executions it is running out of its list unless
        // `status=running` asks for them, and its ids follow the start: one that ends after a
        // newer one shows below the head, where no round looks. So the running ones are listed
        // first (and read again until they end, below); one that ends between the two
        // requests is in the newest pages. Activepieces lists its running runs.
        let mut still_running: HashSet<String> = HashSet::new();
        if self.client.engine() == Engine::N8n {
            let page = self
                .client
                .executions_page(None, self.page_size, Some("running"))
                .await?;
            let known: HashSet<&str> = running.iter().map(|r| r.id.as_str()).collect();
            for e in page.items {
                still_running.insert(e.record.id.clone());
                if !known.contains(e.record.id.as_str()) {
                    seen.push(e);
                }
            }
        }

        // The newest pages, down to the head.
        let old_head = cursor.head.clone();
        let mut next: Option<String> = None;
        let mut first = true;
        let mut met = false;
        while budget > 0 && (first || next.is_some()) {
            let page = self
                .client
                .executions_page(next.as_deref(), self.page_size, None)
                .await?;
            budget -= 1;
            if first && let Some(newest) = page.items.first() {
                cursor.head = Some(mark(newest));
            }
            first = false;
            for e in page.items {
                if old_head.as_ref().is_some_and(|stop| reached(&e, stop)) {
                    met = true;
                    break;
                }
                seen.push(e);
                fresh.push(old_head.is_some());
            }
            next = page.next;
            if met {
                break;
            }
        }
        if !met && let Some(rest) = next {
            // Not down to the head within the budget: the rest is a gap for later rounds.
            cursor.gaps.push(Gap {
                cursor: rest,
                stop: old_head,
            });
        }

        // Then the gaps, newest first (the history nearest to now matters most).
        while budget > 0 {
            let Some(gap) = cursor.gaps.last_mut() else {
                break;
            };
            let page = self
                .client
                .executions_page(Some(&gap.cursor), self.page_size, None)
                .await?;
            budget -= 1;
            let mut done = page.next.is_none();
            for e in page.items {
                if gap.stop.as_ref().is_some_and(|stop| reached(&e, stop)) {
                    done = true;
                    break;
                }
                seen.push(e);
                fresh.push(gap.stop.is_some());
            }
            match page.next {
                Some(next) if !done => gap.cursor = next,
                _ => {
                    cursor.gaps.pop();
                }
            }
        }

        // Running ones again, until they end.
        let listed: HashSet<&str> = seen.iter().map(|e| e.record.id.as_str()).collect();
        let mut refreshed = Vec::new();
        for r in running
            .iter()
            .filter(|r| !listed.contains(r.id.as_str()) && !still_running.contains(&r.id))
            .take(RUNNING_PER_ROUND)
        {
            match self.client.execution(&r.id).await {
                Ok(e) if e.record.status != r.status || e.record.stopped_at != r.stopped_at => {
                    fresh.push(true);
                    refreshed.push(e);
                }
                Ok(_) => {}
                Err(WorkflowError::NotFound(_)) => {
                    // Deleted by the engine's pruning: no longer running as far as IZA knows.
                    fresh.push(false);
                    refreshed.push(Execution {
                        record: ExecutionRecord {
                            status: "unknown".to_owned(),
                            ..r.clone()
                        },
                        order_at: r.started_at,
                        failed_step: None,
                        retry_success_id: None,
                    });
                }
                Err(e) => return Err(e),
            }
        }
        seen.extend(refreshed);

        // The newest failure of each workflow, in detail.
        let mut newest: BTreeMap<&str, &Execution> = BTreeMap::new();
        for e in seen.iter().filter(|e| e.record.failed()) {
            let entry = newest.entry(e.record.workflow_id.as_str()).or_insert(e);
            if e.record.started_at > entry.record.started_at {
                *entry = e;
            }
        }
        let mut failures: Vec<&Execution> = newest.into_values().collect();
        failures.sort_by_key(|e| std::cmp::Reverse(e.record.started_at));
        // Read a few at a time: one by one, ten new failures a round at 200 executions/s
        // would hold the round (and the executions' arrival in the store) for ten round trips.
        let picked: Vec<&Execution> = failures.into_iter().take(FAILURES_PER_ROUND).collect();
        let details: Vec<Result<WorkflowFailure, WorkflowError>> = match self.client.engine() {
            Engine::N8n => {
                let client = &self.client;
                let ids: Vec<String> = picked.iter().map(|e| e.record.id.clone()).collect();
                futures_util::stream::iter(ids)
                    .map(|id| async move { client.failure(&id).await })
                    .buffered(FAILURE_READS_AT_ONCE)
                    .collect()
                    .await
            }
            Engine::Activepieces => picked
                .iter()
                .map(|e| Ok(crate::client::ap_failure(e)))
                .collect(),
        };
        for (e, detail) in picked.into_iter().zip(details) {
            let failure = match detail {
                Ok(f) => f,
                Err(WorkflowError::NotFound(_)) => continue,
                Err(error) => return Err(error),
            };
            sync.failures.push(WorkflowFailure {
                workflow_id: e.record.workflow_id.clone(),
                ..failure
            });
        }

        let new_failures = seen
            .iter()
            .zip(&fresh)
            .filter(|(e, fresh)| **fresh && e.record.failed())
            .map(|(e, _)| e.record.clone())
            .collect();
        sync.executions = seen.into_iter().map(|e| e.record).collect();
        sync.cursor = serde_json::to_string(cursor).unwrap_or_default();
        let report = RoundReport {
            pages: self.pages_per_round - budget,
            caught_up: cursor.caught_up(),
            new_failures,
        };
        Ok((sync, report))
    }

    /// Every workflow, page after page.
    async fn all_workflows(&self) -> Result<Vec<iza_store::WorkflowRecord>, WorkflowError> {
        let mut all = Vec::new();
        let mut next: Option<String> = None;
        // 1,000 pages of 250 is far beyond any real instance; the bound keeps a looping
        // cursor from looping for ever.
        for _ in 0..1_000 {
            let page = self.client.workflows_page(next.as_deref()).await?;
            all.extend(page.items);
            next = page.next;
            if next.is_none() {
                break;
            }
        }
        Ok(all)
    }
}
