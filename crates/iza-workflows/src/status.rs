//! The manifest's workflow rules turned into a status: a workflow is `failing` when its
//! success rate over the window is under the threshold (with enough runs), when an expected
//! workflow had no successful run for too long, or when an execution is stuck running; the
//! engine is `degraded` when any of its workflows fails. Pure: figures in, verdicts out.
//! [`board_reason`] is the sentence the status board shows for a degraded engine: the failing
//! workflows with their last error and node.

use iza_catalog::model::WorkflowRules;
use iza_store::WorkflowStats;
use serde::Serialize;

/// The verdict on one workflow.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkflowHealth {
    /// The workflow.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Whether a rule fails it.
    pub failing: bool,
    /// What fails it, one sentence per rule.
    pub reasons: Vec<String>,
}

/// The verdict on an engine.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EngineHealth {
    /// `ok` or `degraded`.
    pub status: &'static str,
    /// Failing workflows.
    pub failing: usize,
    /// Workflows known.
    pub workflows: usize,
    /// One line for the service's status message.
    pub message: String,
}

fn percent(rate: f64) -> String {
    format!("{:.1}%", rate * 100.0)
}

/// Judges every workflow of `stats` (figures over `rules.window`) at `now`.
pub fn judge(rules: &WorkflowRules, stats: &[WorkflowStats], now: i64) -> Vec<WorkflowHealth> {
    stats
        .iter()
        .map(|w| {
            let mut reasons = Vec::new();
            let finished: u64 = ["success", "error", "crashed"]
                .iter()
                .filter_map(|s| w.runs.get(*s))
                .sum();
            if let Some(rate) = w.success_rate
                && finished >= u64::from(rules.min_runs)
                && rate < rules.min_success_rate
            {
                reasons.push(format!(
                    "success rate {} under {} over the last {} ({finished} runs)",
                    percent(rate),
                    percent(rules.min_success_rate),
                    humantime::format_duration(rules.window)
                ));
            }
            if let Some(limit) = rules.no_success_for {
                let expected = match &rules.expected {
                    Some(list) => list.iter().any(|e| *e == w.id || *e == w.name),
                    None => w.active,
                };
                let limit_ms = limit.as_millis() as i64;
                if expected && w.last_success_at.is_none_or(|at| now - at > limit_ms) {
                    reasons.push(format!(
                        "no successful run for more than {}",
                        humantime::format_duration(limit)
                    ));
                }
            }
            if let Some(since) = w.oldest_running_at
                && now - since > rules.stuck_after.as_millis() as i64
            {
                reasons.push(format!(
                    "an execution has been running for {} (stuck after {})",
                    humantime::format_duration(std::time::Duration::from_secs(
                        ((now - since) / 1000).max(0) as u64
                    )),
                    humantime::format_duration(rules.stuck_after)
                ));
            }
            WorkflowHealth {
                id: w.id.clone(),
                name: w.name.clone(),
                failing: !reasons.is_empty(),
                reasons,
            }
        })
        .collect()
}

/// The engine's verdict from its workflows'.
pub fn engine(healths: &[WorkflowHealth]) -> EngineHealth {
    let failing: Vec<&WorkflowHealth> = healths.iter().filter(|h| h.failing).collect();
    let message = match failing.as_slice() {
        [] => format!("{} workflows, none failing", healths.len()),
        [one] => format!(
            "workflow `{}` failing: {}",
            one.name,
            one.reasons.join("; ")
        ),
        [one, rest @ ..] => format!(
            "{} workflows failing (`{}`: {}; and {} more)",
            failing.len(),
            one.name,
            one.reasons.join("; "),
            rest.len()
        ),
    };
    EngineHealth {
        status: if failing.is_empty() { "ok" } else { "degraded" },
        failing: failing.len(),
        workflows: healths.len(),
        message,
    }
}

/// Failing workflows named in full by [`board_reason`]; the rest are counted.
pub const NAMED_IN_REASON: usize = 3;

/// Why the engine's service is degraded, for the status board, when any workflow fails: the
/// failing workflows (at most [`NAMED_IN_REASON`] named, the rest counted), each with what
/// fails it and its last error, node and execution from `stats`. `None` when none fails.
pub fn board_reason(healths: &[WorkflowHealth], stats: &[WorkflowStats]) -> Option<String> {
    let failing: Vec<&WorkflowHealth> = healths.iter().filter(|h| h.failing).collect();
    if failing.is_empty() {
        return None;
    }
    let named: Vec<String> = failing
        .iter()
        .take(NAMED_IN_REASON)
        .map(|h| {
            let mut text = format!("`{}` ({})", h.name, h.reasons.join("; "));
            if let Some(f) = stats
                .iter()
                .find(|s| s.id == h.id)
                .and_then(|s| s.last_failure.as_ref())
            {
                text.push_str(&format!(": last error \"{}\"", f.message));
                if let Some(node) = &f.node {
                    text.push_str(&format!(" in node `{node}`"));
                }
                text.push_str(&format!(", execution {}", f.execution_id));
            }
            text
        })
        .collect();
    let more = failing.len().saturating_sub(NAMED_IN_REASON);
    let head = match failing.len() {
        1 => "1 workflow failing".to_owned(),
        n => format!("{n} workflows failing"),
    };
    let mut reason = format!("{head}: {}", named.join("; "));
    if more > 0 {
        reason.push_str(&format!("; and {more} more"));
    }
    Some(reason)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use super::*;

    fn stats(id: &str, success: u64, error: u64) -> WorkflowStats {
        let mut runs = BTreeMap::new();
        runs.insert("success".to_owned(), success);
        runs.insert("error".to_owned(), error);
        let finished = success + error;
        WorkflowStats {
            id: id.to_owned(),
            name: format!("Flow {id}"),
            active: true,
            tags: Vec::new(),
            runs,
            success_rate: (finished > 0).then(|| success as f64 / finished as f64),
            p50_ms: None,
            p95_ms: None,
            p99_ms: None,
            last_success_at: Some(1_000),
            last_run_at: Some(1_000),
            oldest_running_at: None,
            last_failure: None,
        }
    }

    #[test]
    fn each_rule_fails_a_workflow() {
        let rules = WorkflowRules {
            min_runs: 5,
            no_success_for: Some(Duration::from_secs(3600)),
            expected: Some(vec!["Flow c".to_owned()]),
            stuck_after: Duration::from_secs(60),
            ..WorkflowRules::default()
        };
        let now = 1_000 + 3_600_001;
        let mut stuck = stats("d", 10, 0);
        stuck.oldest_running_at = Some(now - 61_000);
        let all = [
            stats("a", 10, 0),
            stats("b", 8, 2),
            stats("c", 0, 0),
            stuck,
            stats("e", 1, 3),
        ];
        let verdicts = judge(&rules, &all, now);
        let failing: Vec<&str> = verdicts
            .iter()
            .filter(|v| v.failing)
            .map(|v| v.id.as_str())
            .collect();
        // b: 80% < 90%; c: expected, no success for an hour; d: stuck; e: too few runs.
        assert_eq!(failing, ["b", "c", "d"]);
        assert!(
            verdicts[1].reasons[0].contains("80.0% under 90.0%"),
            "{:?}",
            verdicts[1]
        );
        let engine = engine(&verdicts);
        assert_eq!(engine.status, "degraded");
        assert_eq!(engine.failing, 3);
        assert!(super::engine(&verdicts[..1]).status == "ok");
    }

    #[test]
    fn the_board_reason_names_the_failing_workflows_and_their_last_error() {
        let rules = WorkflowRules {
            min_runs: 1,
            ..WorkflowRules::default()
        };
        let mut b = stats("b", 1, 9);
        b.last_failure = Some(iza_store::WorkflowFailure {
            workflow_id: "b".to_owned(),
            execution_id: "4711".to_owned(),
            at: 900,
            message: "502 Bad Gateway".to_owned(),
            node: Some("HTTP Request".to_owned()),
        });
        let all = [stats("a", 10, 0), b];
        let verdicts = judge(&rules, &all, 1_000);
        let reason = board_reason(&verdicts, &all).expect("one fails");
        assert_eq!(
            reason,
            "1 workflow failing: `Flow b` (success rate 10.0% under 90.0% over the last 1h \
             (10 runs)): last error \"502 Bad Gateway\" in node `HTTP Request`, execution 4711"
        );
        assert_eq!(board_reason(&verdicts[..1], &all), None);
        // Five failing: three named, two counted.
        let many: Vec<WorkflowStats> = (0..5).map(|i| stats(&i.to_string(), 0, 5)).collect();
        let verdicts = judge(&rules, &many, 1_000);
        let reason = board_reason(&verdicts, &many).unwrap();
        assert!(
            reason.starts_with("5 workflows failing: `Flow 0`"),
            "{reason}"
        );
        assert!(reason.ends_with("; and 2 more"), "{reason}");
        assert!(!reason.contains("`Flow 3`"), "{reason}");
    }
}
