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

/// Whether docker accepts `image` as a reference: `[host[:port]/]path[:tag][@digest]`, path
/// components lowercase letters and digits joined by `.`, `_`, `__` or dashes, a tag of
/// word characters, dots and dashes (up to 128), a digest `algorithm:hex` (distribution's
/// reference grammar). `myorg/app:`, `/app:1.0` and `:-c` are not references.
pub(super) fn is_valid_reference(image: &str) -> bool {
    let (name_tag, digest) = match image.split_once('@') {
        Some((name_tag, digest)) => (name_tag, Some(digest)),
        None => (image, None),
    };
    if let Some(digest) = digest {
        let Some((algorithm, hex)) = digest.split_once(':') else {
            return false;
        };
        let algorithm_ok = algorithm.starts_with(|c: char| c.is_ascii_alphabetic())
            && algorithm
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+.-_".contains(c));
        if !algorithm_ok || hex.len() < 32 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return false;
        }
    }
    let last_slash = name_tag.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match name_tag[last_slash..].rfind(':') {
        Some(i) => (
            &name_tag[..last_slash + i],
            Some(&name_tag[last_slash + i + 1..]),
        ),
        None => (name_tag, None),
    };
    if let Some(tag) = tag {
        let tag_ok = tag.len() <= 128
            && tag.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
            && tag
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
        if !tag_ok {
            return false;
        }
    }
    if name.is_empty() || name.len() > 255 {
        return false;
    }
    let mut components: Vec<&str> = name.split('/').collect();
    if components.len() > 1 {
        let first = components[0];
        if first.contains(['.', ':']) || first == "localhost" {
            if !is_domain(first) {
                return false;
            }
            components.remove(0);
        }
    }
    components.iter().all(|c| is_path_component(c))
}

/// `host[:port]`: dot-separated labels of letters, digits and inner dashes.
fn is_domain(text: &str) -> bool {
    let (host, port) = match text.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (text, None),
    };
    if port.is_some_and(|p| p.is_empty() || !p.chars().all(|c| c.is_ascii_digit())) {
        return false;
    }
    !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

/// Lowercase letters and digits, joined by `.`, `_`, `__` or one or more `-`.
fn is_path_component(text: &str) -> bool {
    let bytes = text.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if bytes.is_empty() || !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let separator = &text[start..i];
        let ok = separator == "."
            || separator == "_"
            || separator == "__"
            || separator.bytes().all(|b| b == b'-');
        if !ok {
            return false;
        }
    }
    true
}

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
    use super::{is_valid_reference, kind_for_image};

    #[test]
    fn references_docker_accepts() {
        let valid = [
            "nginx",
            "nginx:1.27-alpine",
            "myorg/app:1.0",
            "ghcr.io/org/app:v1",
            "localhost:5000/team/api:dev",
            "registry.example.com:443/a/b_c__d-e.f:latest",
            "postgres@sha256:0123456789abcdef0123456789abcdef",
            "bitnami/postgresql:16@sha256:0123456789abcdef0123456789abcdef",
        ];
        for image in valid {
            assert!(is_valid_reference(image), "{image}");
        }
        let invalid = [
            "myorg/app:",
            "/app:1.0",
            ":-c",
            ":1.0",
            "app:-c",
            "MyOrg/app",
            "app//x",
            "app:1.0@sha256:short",
            "app@",
            "org/-app",
            "a b",
        ];
        for image in invalid {
            assert!(!is_valid_reference(image), "{image}");
        }
    }

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
