//! Infers a service's kind from its Docker image: the repository's last path component,
//! without registry, namespace, tag or digest (`docker.io/bitnami/postgresql:16@sha256:...`
//! is `postgresql`), looked up in a table of well-known images.

/// Well-known image names and the kind (as written in a manifest) they imply.
const KNOWN_IMAGES: &[(&str, &[&str])] = &[
    (
        "database",
        &[
            "postgres",
            "postgresql",
            "postgis",
            "timescaledb",
            "pgvector",
            "mysql",
            "mariadb",
            "mongo",
            "mongodb",
        ],
    ),
    (
        "cache",
        &[
            "redis",
            "redis-stack",
            "redis-stack-server",
            "valkey",
            "keydb",
            "memcached",
        ],
    ),
    (
        "message-queue",
        &[
            "rabbitmq",
            "nats",
            "kafka",
            "cp-kafka",
            "eclipse-mosquitto",
            "redpanda",
        ],
    ),
    (
        "load-balancer",
        &[
            "nginx",
            "nginx-unprivileged",
            "traefik",
            "haproxy",
            "caddy",
            "envoy",
        ],
    ),
    (
        "monitoring",
        &[
            "prometheus",
            "grafana",
            "grafana-oss",
            "grafana-enterprise",
            "alertmanager",
            "loki",
            "promtail",
            "cadvisor",
            "uptime-kuma",
        ],
    ),
    ("workflow-engine", &["n8n", "activepieces"]),
];

/// The image's repository name: `ghcr.io/org/app:1.2@sha256:...` is `app`.
pub(super) fn repository_name(image: &str) -> String {
    let without_digest = image.split('@').next().unwrap_or(image);
    let last = without_digest.rsplit('/').next().unwrap_or(without_digest);
    let without_tag = last.split(':').next().unwrap_or(last);
    without_tag.trim().to_ascii_lowercase()
}

/// The manifest kind a well-known image implies, if any; Prometheus exporters
/// (`*-exporter`) are monitoring.
pub(super) fn kind_for_image(image: &str) -> Option<&'static str> {
    let name = repository_name(image);
    KNOWN_IMAGES
        .iter()
        .find(|(_, names)| names.contains(&name.as_str()))
        .map(|(kind, _)| *kind)
        .or_else(|| name.ends_with("-exporter").then_some("monitoring"))
}

#[cfg(test)]
mod tests {
    use super::kind_for_image;

    #[test]
    fn well_known_images_have_a_kind() {
        let cases = [
            ("postgres", Some("database")),
            ("postgres:16-alpine", Some("database")),
            ("docker.io/library/postgres:16", Some("database")),
            ("bitnami/postgresql:16@sha256:abc", Some("database")),
            ("redis:7", Some("cache")),
            ("redis/redis-stack:latest", Some("cache")),
            ("rabbitmq:3-management", Some("message-queue")),
            ("nginx:1.27", Some("load-balancer")),
            ("traefik:v3.1", Some("load-balancer")),
            ("haproxy:lts", Some("load-balancer")),
            ("prom/prometheus", Some("monitoring")),
            ("prom/alertmanager:v0.27.0", Some("monitoring")),
            ("grafana/grafana-oss", Some("monitoring")),
            ("prometheuscommunity/postgres-exporter", Some("monitoring")),
            ("n8nio/n8n:1.64.0", Some("workflow-engine")),
            ("activepieces/activepieces:0.39", Some("workflow-engine")),
            ("localhost:5000/team/api:dev", None),
            ("node:22", None),
            ("", None),
            ("NGINX", Some("load-balancer")),
        ];
        for (image, kind) in cases {
            assert_eq!(kind_for_image(image), kind, "{image}");
        }
    }
}
