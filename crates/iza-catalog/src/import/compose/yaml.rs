//! Reads one compose file's YAML into a JSON tree, anchors, aliases and merge keys
//! (`<<: *default`) expanded, under safety budgets that accept every compose file Docker
//! Compose accepts while refusing documents built to expand without end ("billion laughs").
//!
//! serde-saphyr's default budget also refuses a file with 100 aliases or more and more than
//! ten aliases per anchor, a heuristic that real compose files break (a shared `x-` block
//! aliased by a hundred services). That heuristic is off here; what bounds an expansion is
//! the number of events aliases may replay in total ([`MAX_REPLAYED_EVENTS`]) and the
//! number of events anchors may retain ([`MAX_RECORDED_ANCHOR_EVENTS`]), both far above what
//! any real file needs and far below what an exponential expansion reaches. A refusal by a
//! budget says so and names the budget: the file is valid YAML, it is the expansion that is
//! refused.

use serde_json::Value;
use serde_saphyr::budget::BudgetBreach;

/// Events that aliases may replay in total. A compose file with 150 aliases of 40-event
/// blocks replays 6,000.
pub(crate) const MAX_REPLAYED_EVENTS: usize = 1_000_000;
/// Events that anchored nodes may retain, copies included.
pub(crate) const MAX_RECORDED_ANCHOR_EVENTS: usize = 1_000_000;
/// Aliases in one file.
pub(crate) const MAX_ALIASES: usize = 50_000;

/// Why a text could not be read as a compose file's YAML.
#[derive(Debug)]
pub(crate) enum YamlError {
    /// The text is not YAML (or holds several documents).
    Syntax(String),
    /// The text is YAML, but expanding it would exceed a safety budget.
    Budget(String),
}

/// Parses the text as one YAML document, merge keys expanded; `yes`/`on` stay strings and
/// leading zeros are kept, as compose reads them.
pub(crate) fn read(text: &str) -> Result<Value, YamlError> {
    let mut options = serde_saphyr::Options::default();
    options.with_snippet = false;
    options.strict_booleans = true;
    options.leading_zero_numbers_as_strings = true;
    let mut budget = serde_saphyr::Budget::default();
    budget.enforce_alias_anchor_ratio = false;
    budget.max_aliases = MAX_ALIASES;
    budget.max_recorded_anchor_events = MAX_RECORDED_ANCHOR_EVENTS;
    options.budget = Some(budget);
    let mut limits = serde_saphyr::options::AliasLimits::default();
    limits.max_total_replayed_events = MAX_REPLAYED_EVENTS;
    options.alias_limits = limits;
    serde_saphyr::from_str_with_options::<Value>(text, options).map_err(|e| classify(&e))
}

fn classify(error: &serde_saphyr::Error) -> YamlError {
    use serde_saphyr::Error as E;
    let at = error
        .location()
        .map(|l| format!(" (at line {}, column {})", l.line(), l.column()))
        .unwrap_or_default();
    let refused = |what: String| {
        YamlError::Budget(format!(
            "the file is YAML, but expanding its aliases was refused by a safety budget: {what}{at}; compose files never come near it, documents built to expand without end (\"billion laughs\") do"
        ))
    };
    match original(error) {
        E::Budget { breach, .. } => refused(breach_text(breach)),
        E::AliasReplayLimitExceeded {
            max_total_replayed_events,
            ..
        } => refused(format!(
            "aliases would replay more than {max_total_replayed_events} events (budget `max_total_replayed_events`)"
        )),
        E::AliasExpansionLimitExceeded {
            max_expansions_per_anchor,
            ..
        } => refused(format!(
            "one anchor would be expanded more than {max_expansions_per_anchor} times (budget `max_alias_expansions_per_anchor`)"
        )),
        E::AliasReplayStackDepthExceeded { max_depth, .. } => refused(format!(
            "aliases nest deeper than {max_depth} (budget `max_replay_stack_depth`)"
        )),
        other => YamlError::Syntax(format!("the file is not YAML: {other}")),
    }
}

/// The error an alias or a snippet wraps.
fn original(error: &serde_saphyr::Error) -> &serde_saphyr::Error {
    use serde_saphyr::Error as E;
    match error {
        E::AliasError { error, .. } | E::WithSnippet { error, .. } => original(error),
        other => other,
    }
}

/// A budget breach in words, naming the budget and its limit.
fn breach_text(breach: &BudgetBreach) -> String {
    let budget = serde_saphyr::Budget::default();
    match breach {
        BudgetBreach::Aliases { aliases } => {
            format!("{aliases} aliases, more than the {MAX_ALIASES} allowed (budget `max_aliases`)")
        }
        BudgetBreach::RecordedAnchorEvents {
            recorded_anchor_events,
        } => format!(
            "anchors would retain {recorded_anchor_events} events, more than the {MAX_RECORDED_ANCHOR_EVENTS} allowed (budget `max_recorded_anchor_events`)"
        ),
        BudgetBreach::RecordedAnchorBytes {
            recorded_anchor_bytes,
        } => format!(
            "anchors would retain {recorded_anchor_bytes} bytes, more than the {} allowed (budget `max_recorded_anchor_bytes`)",
            budget.max_recorded_anchor_bytes
        ),
        BudgetBreach::Events { events } => format!(
            "{events} parser events, more than the {} allowed (budget `max_events`)",
            budget.max_events
        ),
        BudgetBreach::Nodes { nodes } => format!(
            "{nodes} nodes, more than the {} allowed (budget `max_nodes`)",
            budget.max_nodes
        ),
        BudgetBreach::Depth { depth } => format!(
            "nesting {depth} deep, more than the {} allowed (budget `max_depth`)",
            budget.max_depth
        ),
        BudgetBreach::MergeKeys { merge_keys } => format!(
            "{merge_keys} merge keys, more than the {} allowed (budget `max_merge_keys`)",
            budget.max_merge_keys
        ),
        BudgetBreach::Anchors { anchors } => format!(
            "{anchors} anchors, more than the {} allowed (budget `max_anchors`)",
            budget.max_anchors
        ),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::{YamlError, read};

    /// `n` levels of an anchor aliased ten times by the next.
    fn laughs(levels: usize) -> String {
        let mut text = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
        for level in 1..levels {
            let prev = level - 1;
            let refs = vec![format!("*a{prev}"); 10].join(", ");
            text.push_str(&format!("a{level}: &a{level} [{refs}]\n"));
        }
        text
    }

    #[test]
    fn a_billion_laughs_is_refused_by_a_named_budget() {
        match read(&laughs(9)) {
            Err(YamlError::Budget(message)) => {
                assert!(message.contains("budget `"), "{message}");
                assert!(!message.contains("not YAML"), "{message}");
            }
            other => panic!("expected a budget refusal, got {other:?}"),
        }
    }

    #[test]
    fn many_aliases_of_few_anchors_are_read() {
        let mut text =
            String::from("x-env: &env {A: '1'}\nx-log: &log {driver: json-file}\nservices:\n");
        for i in 0..150 {
            text.push_str(&format!(
                "  s{i}:\n    image: app\n    environment: *env\n    logging: *log\n"
            ));
        }
        let value = read(&text).expect("read");
        assert_eq!(value["services"].as_object().map(|s| s.len()), Some(150));
    }
}
