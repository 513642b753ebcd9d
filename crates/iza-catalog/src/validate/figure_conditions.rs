//! Checks that a condition's `[METRIC].<figure>` names a figure the service declares in its
//! `metrics` (for a check's conditions, and for an alert rule's `when` on every service the
//! rule selects); the message and hint are shared by both diagnostics.

use crate::condition::Condition;
use crate::diagnostic::did_you_mean;

/// What is wrong with a figure a condition reads.
pub(super) struct Undeclared {
    /// "`[METRIC].arrr`, which service `x` does not declare"-style fragment.
    pub(super) message: String,
    /// A "did you mean" or the list of declared figures.
    pub(super) hint: String,
}

/// The first figure `condition` reads that is not among `declared`, if any.
pub(super) fn undeclared(condition: &Condition, declared: &[&str]) -> Option<Undeclared> {
    let name = condition.figures().find(|f| !declared.contains(f))?;
    let hint = match did_you_mean(name, declared.iter().copied()) {
        Some(close) => format!("did you mean `[METRIC].{close}`?"),
        None if declared.is_empty() => {
            "declare it under `[services.<id>.metrics.<name>]` (docs/metrics.md), or remove the condition".to_owned()
        }
        None => format!(
            "the service's figures are {}",
            declared
                .iter()
                .map(|f| format!("`[METRIC].{f}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    Some(Undeclared {
        message: format!("`[METRIC].{name}`, a figure the service does not declare in `metrics`"),
        hint,
    })
}
