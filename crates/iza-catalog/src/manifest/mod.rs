//! The manifest as written: the wire model ([`raw`]), its parsing from TOML or YAML
//! ([`parse`]), and the span-keeping value wrapper ([`spanned`]). Nothing here judges
//! whether the manifest makes sense; that is `validate`'s job.

pub mod parse;
pub mod raw;
pub mod spanned;
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
];

pub(crate) fn known_key(key: &str) -> Option<&'static str> {
    KNOWN_KEYS.iter().copied().find(|k| *k == key)
}
