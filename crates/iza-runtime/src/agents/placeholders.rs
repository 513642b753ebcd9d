//! Substitutes the placeholders of a run into an action's text: `{service}`, `{status}`,
//! `{reason}` (from the event that triggered the run), `{agent}`, `{task}` and `{incident}`.
//!
//! Only these six exact words in braces are replaced; any other text in braces (a JSON body's
//! `{"a": 1}`) is left as written. A placeholder the run has no value for becomes empty: a
//! scheduled run has no `{service}`. It owns the substitution, not where the values come from
//! (the trigger of a run, `worker.rs`).

use serde_json::Value;

/// The values of one run's placeholders.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Placeholders {
    /// The service of the triggering event.
    pub service: Option<String>,
    /// Its new status or process state.
    pub status: Option<String>,
    /// Why, for a person.
    pub reason: Option<String>,
    /// The task's agent.
    pub agent: Option<String>,
    /// The task's key.
    pub task: Option<String>,
    /// The incident an escalation run handles.
    pub incident: Option<String>,
}

impl Placeholders {
    /// The values of a run: those its trigger carries (`service`, `status`, `reason`,
    /// `incident`), and its task and agent.
    pub fn of_run(trigger: &Value, task: &str, agent: Option<&str>) -> Placeholders {
        let text = |key: &str| match trigger.get(key) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Null) | None => None,
            Some(other) => Some(other.to_string()),
        };
        Placeholders {
            service: text("service"),
            status: text("status"),
            reason: text("reason"),
            agent: agent.map(str::to_owned),
            task: Some(task.to_owned()),
            incident: text("incident"),
        }
    }

    fn value(&self, name: &str) -> Option<&str> {
        let value = match name {
            "service" => &self.service,
            "status" => &self.status,
            "reason" => &self.reason,
            "agent" => &self.agent,
            "task" => &self.task,
            "incident" => &self.incident,
            _ => return None,
        };
        Some(value.as_deref().unwrap_or(""))
    }

    /// `text` with every known placeholder replaced.
    pub fn apply(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            let replaced = after.find('}').and_then(|close| {
                let name = &after[..close];
                self.value(name).map(|v| (v, close))
            });
            match replaced {
                Some((value, close)) => {
                    out.push_str(value);
                    rest = &after[close + 1..];
                }
                None => {
                    out.push('{');
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn known_placeholders_are_replaced_and_other_braces_kept() {
        let values = Placeholders::of_run(
            &json!({"kind": "event", "service": "n8n", "status": "down", "reason": "[STATUS] (503) == 200", "incident": 7}),
            "ops/restart",
            Some("ops"),
        );
        assert_eq!(
            values.apply(r#"{"svc": "{service}", "s": "{status}", "why": "{reason}"}"#),
            r#"{"svc": "n8n", "s": "down", "why": "[STATUS] (503) == 200"}"#
        );
        assert_eq!(
            values.apply("{agent}/{task}#{incident}"),
            "ops/ops/restart#7"
        );
        assert_eq!(values.apply("{unknown} {service"), "{unknown} {service");
        let none = Placeholders::of_run(&json!({"kind": "tick"}), "t", None);
        assert_eq!(none.apply("[{service}|{agent}]"), "[|]");
    }
}
