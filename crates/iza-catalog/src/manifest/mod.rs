//! The manifest as written: the wire model ([`raw`]), its parsing from TOML or YAML
//! ([`parse`]), and the span-keeping value wrapper ([`spanned`]). Nothing here judges
//! whether the manifest makes sense; that is `validate`'s job.

pub mod parse;
pub mod raw;
pub mod spanned;
mod toml_chunks;
pub mod yaml;

/// Every key the wire model knows, to give unknown-key hints `'static` names.
const KNOWN_KEYS: &[&str] = &[
    "version",
    "ecosystem",
    "groups",
    "services",
    "agents",
    "tasks",
    "flows",
    "channels",
    "store",
    "url",
    "name",
    "description",
    "port_range",
    "claims",
    "label",
    "value",
    "counts",
    "group",
    "kind",
    "features",
    "port",
    "ports",
    "parent",
    "host",
    "docker",
    "command",
    "cwd",
    "workdir",
    "node",
    "stop",
    "signal",
    "grace",
    "policy",
    "max_restarts",
    "backoff",
    "max_backoff",
    "reset_after",
    "service",
    "condition",
    "env",
    "depends_on",
    "connects",
    "tags",
    "metadata",
    "check",
    "to",
    "via",
    "http",
    "tcp",
    "tls",
    "dns",
    "exec",
    "postgres",
    "redis",
    "amqp",
    "mcp",
    "browser",
    "wait_for",
    "goto",
    "click",
    "fill",
    "press",
    "expect_text",
    "screenshot",
    "method",
    "headers",
    "body",
    "follow_redirects",
    "verify_tls",
    "record",
    "shell",
    "every",
    "timeout",
    "conditions",
    "failure_threshold",
    "success_threshold",
    "tier",
    "reports_to",
    "role",
    "agent",
    "priority",
    "cron",
    "run",
    "retries",
    "restart",
    "steps",
    "timezone",
    "on",
    "backoff_max",
    "concurrency",
    "enabled",
    "catch_up",
    "catch_up_limit",
    "status",
    "process",
    "escalation",
    "report",
    "start",
    "external",
    "notifiers",
    "alerts",
    "maintenance",
    "notify",
    "ack_within",
    "url",
    "secret",
    "template",
    "token",
    "statuses",
    "for",
    "repeat",
    "send_resolved",
    "severity",
    "to_agent",
    "group_wait",
    "kinds",
    "duration",
    "end",
    "outputs",
    "events",
    "probes",
    "prefix",
    "exchange",
    "jetstream",
    "retain",
    "qos",
    "max_pending",
    "workflows",
    "when",
    "fallback",
    "password",
    "username",
    "from",
    "chat_id",
    "deny",
    "allow",
    "health_interval",
    "rate_limits",
    "path",
    "aggregate",
    "format",
    "unit",
    "json",
    "labels",
    "series",
    "prometheus",
    "replica",
    "original",
    "expect_every",
    "push",
    "queue",
    "routing_key",
    "topic",
    "subject",
    "round_trip",
    "mqtt",
    "nats",
    "compare",
    "metrics",
    "figure",
    "inputs",
    "engine",
    "api_key",
    "project_id",
    "ui_url",
    "pages_per_round",
    "rules",
    "min_success_rate",
    "window",
    "min_runs",
    "no_success_for",
    "expected",
    "stuck_after",
];

pub(crate) fn known_key(key: &str) -> Option<&'static str> {
    KNOWN_KEYS.iter().copied().find(|k| *k == key)
}

#[cfg(test)]
mod tests {
    /// Unknown-key hints can only suggest keys listed in `KNOWN_KEYS`; the schema lists them all.
    #[test]
    fn known_keys_cover_every_key_of_the_schema() {
        fn walk(value: &serde_json::Value, keys: &mut Vec<String>) {
            match value {
                serde_json::Value::Object(map) => {
                    if let Some(serde_json::Value::Object(props)) = map.get("properties") {
                        keys.extend(props.keys().cloned());
                    }
                    map.values().for_each(|v| walk(v, keys));
                }
                serde_json::Value::Array(items) => items.iter().for_each(|v| walk(v, keys)),
                _ => {}
            }
        }
        let mut keys = Vec::new();
        walk(&crate::schema(), &mut keys);
        assert!(keys.len() > 50, "the schema lists the manifest's keys");
        for key in keys {
            assert!(
                super::known_key(&key).is_some(),
                "`{key}` is missing from KNOWN_KEYS"
            );
        }
    }
}
