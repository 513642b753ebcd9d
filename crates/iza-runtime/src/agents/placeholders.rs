//! The placeholder values of a run, substituted into an action's text: `{service}`, `{status}`,
//! `{reason}` (from the event that triggered the run), `{agent}`, `{task}` and `{incident}`;
//! `{workflow}`, `{execution}`, `{error}` and `{node}` from a failed workflow execution
//! (`on = { workflow = "failed" }`).
//! The substitution itself is the catalog's (`iza_catalog::placeholder`), the one `iza check`
//! validates against: only these exact words in braces are replaced; any other text in
//! braces (a JSON body's `{"a": 1}`) is left as written. A placeholder the run has no value for
//! becomes empty: a scheduled run has no `{service}`. It owns where the values come from (a
//! run's trigger).

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
    /// The workflow (its id) of a failed execution.
    pub workflow: Option<String>,
    /// The failed execution's id.
    pub execution: Option<String>,
    /// Its error message.
    pub error: Option<String>,
    /// Its failing node (n8n) or step (Activepieces).
    pub node: Option<String>,
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
            workflow: text("workflow"),
            execution: text("execution"),
            error: text("error"),
            node: text("node"),
        }
    }

    fn value(&self, name: &str) -> Option<&str> {
        match name {
            "service" => self.service.as_deref(),
            "status" => self.status.as_deref(),
            "reason" => self.reason.as_deref(),
            "agent" => self.agent.as_deref(),
            "task" => self.task.as_deref(),
            "incident" => self.incident.as_deref(),
            "workflow" => self.workflow.as_deref(),
            "execution" => self.execution.as_deref(),
            "error" => self.error.as_deref(),
            "node" => self.node.as_deref(),
            _ => None,
        }
    }

    /// `text` with every known placeholder replaced (the catalog's substitution rules:
    /// `iza_catalog::placeholder`).
    pub fn apply(&self, text: &str) -> String {
        iza_catalog::placeholder::substitute(text, |name| self.value(name))
    }

    /// `value` with the placeholders of every string in it replaced (keys kept as written):
    /// the `data` of a `workflow` action.
    pub fn apply_json(&self, value: &Value) -> Value {
        match value {
            Value::String(s) => Value::String(self.apply(s)),
            Value::Array(items) => Value::Array(items.iter().map(|v| self.apply_json(v)).collect()),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), self.apply_json(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
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

    #[test]
    fn a_failed_execution_fills_the_workflow_placeholders_in_data() {
        let values = Placeholders::of_run(
            &json!({"kind": "workflow", "service": "n8n", "status": "error", "workflow": "w1", "execution": 42, "error": "boom \"x\"", "node": "Postgres"}),
            "eh/retry",
            Some("eh"),
        );
        assert_eq!(
            values.apply("{service}/{workflow}#{execution} {node}: {error}"),
            "n8n/w1#42 Postgres: boom \"x\""
        );
        let data = json!({"why": "{error}", "n": 3, "list": ["{node}", {"e": "{execution}"}], "{workflow}": true});
        assert_eq!(
            values.apply_json(&data),
            json!({"why": "boom \"x\"", "n": 3, "list": ["Postgres", {"e": "42"}], "{workflow}": true})
        );
    }
}
