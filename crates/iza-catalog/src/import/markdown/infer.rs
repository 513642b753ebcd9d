//! Infers what the document leaves implicit, from names alone: a service's kind, what a
//! claimed figure counts, a channel's kind, a task list's priority, an agent tier, and the
//! ecosystem's name from the document's title. Every rule here is a table or a word match,
//! listed in `docs/import-markdown.md`.

use super::inline::words;
use crate::manifest::raw::{ChannelKind, Metric, Priority, RawPort, ServiceKind};

/// Product names that say what a service is.
const PRODUCTS: &[(&str, ServiceKind)] = &[
    ("postgresql", ServiceKind::Database),
    ("postgres", ServiceKind::Database),
    ("mongodb", ServiceKind::Database),
    ("mongo", ServiceKind::Database),
    ("mysql", ServiceKind::Database),
    ("mariadb", ServiceKind::Database),
    ("cassandra", ServiceKind::Database),
    ("clickhouse", ServiceKind::Database),
    ("couchdb", ServiceKind::Database),
    ("cockroachdb", ServiceKind::Database),
    ("sqlite", ServiceKind::Database),
    ("neo4j", ServiceKind::Database),
    ("elasticsearch", ServiceKind::Database),
    ("opensearch", ServiceKind::Database),
    ("influxdb", ServiceKind::Database),
    ("redis", ServiceKind::Cache),
    ("memcached", ServiceKind::Cache),
    ("valkey", ServiceKind::Cache),
    ("keydb", ServiceKind::Cache),
    ("rabbitmq", ServiceKind::MessageQueue),
    ("kafka", ServiceKind::MessageQueue),
    ("nats", ServiceKind::MessageQueue),
    ("activemq", ServiceKind::MessageQueue),
    ("mosquitto", ServiceKind::MessageQueue),
    ("pulsar", ServiceKind::MessageQueue),
    ("redpanda", ServiceKind::MessageQueue),
    ("nginx", ServiceKind::LoadBalancer),
    ("haproxy", ServiceKind::LoadBalancer),
    ("traefik", ServiceKind::LoadBalancer),
    ("envoy", ServiceKind::LoadBalancer),
    ("caddy", ServiceKind::LoadBalancer),
    ("grafana", ServiceKind::Monitoring),
    ("prometheus", ServiceKind::Monitoring),
    ("alertmanager", ServiceKind::Monitoring),
    ("loki", ServiceKind::Monitoring),
    ("jaeger", ServiceKind::Monitoring),
    ("zipkin", ServiceKind::Monitoring),
    ("kibana", ServiceKind::Monitoring),
    ("netdata", ServiceKind::Monitoring),
    ("n8n", ServiceKind::WorkflowEngine),
    ("activepieces", ServiceKind::WorkflowEngine),
    ("airflow", ServiceKind::WorkflowEngine),
    ("temporal", ServiceKind::WorkflowEngine),
    ("prefect", ServiceKind::WorkflowEngine),
    ("dagster", ServiceKind::WorkflowEngine),
    ("windmill", ServiceKind::WorkflowEngine),
];

/// Phrases in a service's name that say what it is (checked after products).
const NAME_PHRASES: &[(&str, ServiceKind)] = &[
    ("workflow engine", ServiceKind::WorkflowEngine),
    ("automation engine", ServiceKind::WorkflowEngine),
    ("message queue", ServiceKind::MessageQueue),
    ("message broker", ServiceKind::MessageQueue),
    ("load balancer", ServiceKind::LoadBalancer),
    ("reverse proxy", ServiceKind::LoadBalancer),
    ("dashboard", ServiceKind::Dashboard),
];

/// Phrases in the label of an infrastructure line (`Database Cluster`) that say what its
/// services are, when their own names do not.
const CONTEXT_PHRASES: &[(&str, ServiceKind)] = &[
    ("database", ServiceKind::Database),
    ("cache", ServiceKind::Cache),
    ("queue", ServiceKind::MessageQueue),
    ("broker", ServiceKind::MessageQueue),
    ("load balancer", ServiceKind::LoadBalancer),
    ("proxy", ServiceKind::LoadBalancer),
    ("monitoring", ServiceKind::Monitoring),
];

/// True when `phrase` (lowercase words joined by spaces) occurs in `words` as whole words.
fn has_phrase(words: &[String], phrase: &str) -> bool {
    let phrase: Vec<&str> = phrase.split(' ').collect();
    words
        .windows(phrase.len())
        .any(|w| w.iter().zip(&phrase).all(|(a, b)| a == b))
}

/// The kind of a service named `name`, listed under `context` (an infrastructure line's
/// label, or empty), owning `ports`; `None` for a plain service.
pub(super) fn service_kind(name: &str, context: &str, ports: &[RawPort]) -> Option<ServiceKind> {
    let name_words = words(name);
    if let Some((_, kind)) = PRODUCTS
        .iter()
        .find(|(product, _)| name_words.iter().any(|w| w == product))
    {
        return Some(*kind);
    }
    let mcp = name_words.iter().any(|w| w == "mcp");
    let owns_range = ports.iter().any(|p| matches!(p, RawPort::Range(_)));
    if owns_range || (mcp && name_words.iter().any(|w| w == "hub")) {
        return Some(ServiceKind::Hub);
    }
    if mcp {
        return Some(ServiceKind::McpServer);
    }
    if let Some((_, kind)) = NAME_PHRASES
        .iter()
        .find(|(phrase, _)| has_phrase(&name_words, phrase))
    {
        return Some(*kind);
    }
    let context_words = words(context);
    CONTEXT_PHRASES
        .iter()
        .find(|(phrase, _)| has_phrase(&context_words, phrase))
        .map(|(_, kind)| *kind)
}

/// What a claimed figure counts, from its label (`Docker Services` → docker services).
pub(super) fn claim_metric(label: &str) -> Option<Metric> {
    let w = words(label);
    let has = |phrase: &str| has_phrase(&w, phrase);
    let metric = if has("port range") {
        Metric::PortRange
    } else if has("docker") {
        Metric::DockerServices
    } else if has("mcp") {
        Metric::McpServers
    } else if has("workflow engines") {
        Metric::WorkflowEngines
    } else if has("tasks") {
        Metric::Tasks
    } else if has("agents") {
        Metric::Agents
    } else if has("ports") {
        Metric::Ports
    } else if has("services") {
        Metric::Services
    } else {
        return None;
    };
    Some(metric)
}

/// A channel's kind, from its label (`Message Queue` → message queue).
pub(super) fn channel_kind(label: &str) -> ChannelKind {
    let w = words(label);
    let any = |list: &[&str]| list.iter().any(|p| has_phrase(&w, p));
    if any(&["gateway"]) {
        ChannelKind::ApiGateway
    } else if any(&["queue", "broker"]) {
        ChannelKind::MessageQueue
    } else if any(&["database", "data store", "datastore", "storage"]) {
        ChannelKind::SharedDatabase
    } else if any(&["event", "events", "bus", "stream"]) {
        ChannelKind::EventBus
    } else {
        ChannelKind::Other
    }
}

/// The priority a task list's heading names (`High-Priority Tasks` → high).
pub(super) fn priority(title: &str) -> Option<Priority> {
    let w = words(title);
    let any = |list: &[&str]| w.iter().any(|x| list.contains(&x.as_str()));
    if any(&["high", "critical", "urgent"]) {
        Some(Priority::High)
    } else if any(&["medium", "normal"]) {
        Some(Priority::Medium)
    } else if any(&["low"]) {
        Some(Priority::Low)
    } else {
        None
    }
}

/// The number after `Tier` (`Tier 1: System Orchestrators` → `Some("1")`), as written.
pub(super) fn tier_number(title: &str) -> Option<String> {
    let w = words(title);
    let at = w.iter().position(|x| x == "tier")?;
    let number = w.get(at + 1)?;
    number
        .chars()
        .all(|c| c.is_ascii_digit())
        .then(|| number.clone())
}

/// Words that end an ecosystem's name in a document title.
const TITLE_STOP_WORDS: &[&str] = &[
    "ecosystem",
    "services",
    "analysis",
    "overview",
    "architecture",
];

/// The ecosystem's name from the document title: the words before the first of
/// `Ecosystem`, `Services`, `Analysis`, `Overview`, `Architecture`; the whole title when
/// it starts with one of them.
pub(super) fn ecosystem_name(title: &str) -> String {
    let words: Vec<&str> = title.split_whitespace().collect();
    let stop = words.iter().position(|w| {
        let w = w
            .trim_matches(|c: char| !c.is_alphanumeric())
            .to_lowercase();
        TITLE_STOP_WORDS.contains(&w.as_str())
    });
    match stop {
        Some(at) if at > 0 => words.get(..at).unwrap_or(&words).join(" "),
        _ => title.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_kinds() {
        let range = [RawPort::Range((8300, 8399))];
        let cases: &[(&str, &str, &[RawPort], Option<ServiceKind>)] = &[
            (
                "IZA OS Main Dashboard",
                "",
                &[],
                Some(ServiceKind::Dashboard),
            ),
            ("MCP Server Hub", "", &range, Some(ServiceKind::Hub)),
            (
                "Business Monetizer MCP",
                "",
                &[],
                Some(ServiceKind::McpServer),
            ),
            (
                "N8N Workflow Engine",
                "",
                &[],
                Some(ServiceKind::WorkflowEngine),
            ),
            (
                "Activepieces Automation",
                "",
                &[],
                Some(ServiceKind::WorkflowEngine),
            ),
            (
                "PostgreSQL",
                "Database Cluster",
                &[],
                Some(ServiceKind::Database),
            ),
            ("Redis", "Database Cluster", &[], Some(ServiceKind::Cache)),
            (
                "RabbitMQ",
                "Message Queue",
                &[],
                Some(ServiceKind::MessageQueue),
            ),
            (
                "Nginx",
                "Load Balancer",
                &[],
                Some(ServiceKind::LoadBalancer),
            ),
            (
                "Alertmanager",
                "Monitoring Stack",
                &[],
                Some(ServiceKind::Monitoring),
            ),
            ("Vault", "Secrets Store", &[], None),
            (
                "Minio",
                "Object Storage Cache",
                &[],
                Some(ServiceKind::Cache),
            ),
            ("Workflow Monitoring System", "", &[], None),
            ("Traycer Frontend", "", &[], None),
        ];
        for (name, context, ports, kind) in cases {
            assert_eq!(service_kind(name, context, ports), *kind, "{name}");
        }
    }

    #[test]
    fn claim_metrics() {
        let cases = [
            ("Total Services Mapped", Some(Metric::Services)),
            ("Port Range", Some(Metric::PortRange)),
            ("Docker Services", Some(Metric::DockerServices)),
            ("MCP Servers", Some(Metric::McpServers)),
            ("N8N Workflows", None),
            ("Activepieces Flows", None),
            ("Agent Tasks", Some(Metric::Tasks)),
            ("Agents", Some(Metric::Agents)),
            ("Workflow Engines", Some(Metric::WorkflowEngines)),
        ];
        for (label, metric) in cases {
            assert_eq!(claim_metric(label), metric, "{label}");
        }
    }

    #[test]
    fn channel_kinds_priorities_tiers_and_names() {
        assert_eq!(channel_kind("API Gateway"), ChannelKind::ApiGateway);
        assert_eq!(channel_kind("Message Queue"), ChannelKind::MessageQueue);
        assert_eq!(channel_kind("Shared Database"), ChannelKind::SharedDatabase);
        assert_eq!(channel_kind("Event Bus"), ChannelKind::EventBus);
        assert_eq!(channel_kind("Carrier Pigeon"), ChannelKind::Other);
        assert_eq!(priority("High-Priority Tasks"), Some(Priority::High));
        assert_eq!(priority("Low-Priority Tasks"), Some(Priority::Low));
        assert_eq!(priority("Someday Tasks"), None);
        assert_eq!(
            tier_number("Tier 2: Service Managers").as_deref(),
            Some("2")
        );
        assert_eq!(tier_number("Tiered storage"), None);
        let names = [
            ("IZA OS Ecosystem Services & Connections Analysis", "IZA OS"),
            ("Orbit Labs Platform Services Map", "Orbit Labs Platform"),
            ("Ecosystem Analysis of Acme", "Ecosystem Analysis of Acme"),
            ("Harbor", "Harbor"),
        ];
        for (title, name) in names {
            assert_eq!(ecosystem_name(title), name);
        }
    }
}
