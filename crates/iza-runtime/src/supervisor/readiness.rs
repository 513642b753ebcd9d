//! Decides whether one dependency meets the condition a dependent waits for, from the
//! dependency's current process state:
//!
//! - `started`: its process runs (or it already exited 0);
//! - `healthy`: its process runs and the monitor reports its check up;
//! - `completed`: it exited 0 and the policy does not restart it.
//!
//! A dependency that failed, or exited for good in a way that can no longer meet the
//! condition, breaks the gate: the dependent is marked failed rather than left waiting
//! forever. A stopped dependency keeps the dependent waiting (it may be started again).
//!
//! It only judges; the runner waits (on the supervisor's change signal) and acts.

use iza_catalog::model::ReadyCondition;

use super::{Entry, Phase};

/// Where a gate stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Gate {
    /// The condition holds.
    Met,
    /// Not yet.
    Waiting,
    /// It never will: why.
    Broken(String),
}

/// The gate of `dependency` (its entry) for `condition`.
pub(crate) fn gate(id: &str, dependency: &Entry, condition: ReadyCondition) -> Gate {
    let exit_code = dependency.last_exit.as_ref().and_then(|e| e.code);
    match (dependency.phase, condition) {
        (Phase::Failed, _) => Gate::Broken(format!("`{id}` failed")),
        (Phase::Running, ReadyCondition::Started) => Gate::Met,
        (Phase::Running, ReadyCondition::Healthy) if dependency.is_ready() => Gate::Met,
        (Phase::Exited, ReadyCondition::Started | ReadyCondition::Completed)
            if exit_code == Some(0) =>
        {
            Gate::Met
        }
        (Phase::Exited, ReadyCondition::Healthy) => {
            Gate::Broken(format!("`{id}` exited before its check passed"))
        }
        (Phase::Exited, _) => Gate::Broken(match exit_code {
            Some(code) => format!("`{id}` exited with status {code}"),
            None => format!("`{id}` exited without a status"),
        }),
        _ => Gate::Waiting,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::supervisor::ExitInfo;

    #[test]
    fn gates_follow_the_dependency_state() {
        use Gate::{Met, Waiting};
        use ReadyCondition::{Completed, Healthy, Started};
        let exit = |code: Option<i32>| {
            Some(ExitInfo {
                code,
                signal: None,
                at: 0,
                message: None,
            })
        };
        let broken = |g: &Gate| matches!(g, Gate::Broken(_));
        // (phase, checked, healthy, last exit, condition, expected: Some(gate) or None for broken)
        let cases = [
            (Phase::Pending, false, false, None, Started, Some(Waiting)),
            (Phase::Starting, false, false, None, Started, Some(Waiting)),
            (Phase::Running, false, false, None, Started, Some(Met)),
            (Phase::Running, true, false, None, Started, Some(Met)),
            (Phase::Running, true, false, None, Healthy, Some(Waiting)),
            (Phase::Running, true, true, None, Healthy, Some(Met)),
            (Phase::Running, true, true, None, Completed, Some(Waiting)),
            (
                Phase::Backoff,
                true,
                false,
                exit(Some(1)),
                Healthy,
                Some(Waiting),
            ),
            (
                Phase::Exited,
                false,
                false,
                exit(Some(0)),
                Completed,
                Some(Met),
            ),
            (
                Phase::Exited,
                false,
                false,
                exit(Some(0)),
                Started,
                Some(Met),
            ),
            (Phase::Exited, false, false, exit(Some(3)), Completed, None),
            (Phase::Exited, true, false, exit(Some(0)), Healthy, None),
            (Phase::Failed, false, false, exit(Some(1)), Started, None),
            (Phase::Stopped, false, false, None, Started, Some(Waiting)),
        ];
        for (phase, checked, healthy, last_exit, condition, expected) in cases {
            let mut entry = Entry::for_test(checked);
            entry.phase = phase;
            entry.healthy = healthy;
            entry.last_exit = last_exit;
            let got = gate("dep", &entry, condition);
            match expected {
                Some(g) => assert_eq!(got, g, "{phase:?} {condition:?}"),
                None => assert!(broken(&got), "{phase:?} {condition:?}: {got:?}"),
            }
        }
    }
}
