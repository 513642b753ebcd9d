//! Tests the docker-compose importer end to end: the fixtures in `fixtures/compose/` import
//! to manifests that `iza_catalog::check` accepts (or, for a file with a port conflict,
//! rejects for that reason), with the expected services, ports, dependencies, checks and
//! notes; and no input, however malformed, makes the importer panic.

use std::time::Duration;

use iza_catalog::import::Imported;
use iza_catalog::import::compose::import;
use iza_catalog::model::{Catalog, CheckTarget, PortSpec, ServiceKind};
use iza_catalog::{Checked, Code, SourceFile, Syntax, check};
use proptest::prelude::*;
use serde_json::{Value, json};

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/../../fixtures/compose/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

fn import_ok(text: &str) -> Imported {
    import(text).unwrap_or_else(|e| panic!("import failed: {e}\n{text}"))
}

fn check_imported(imported: &Imported) -> Checked {
    let text = imported.to_toml_string();
    check(&SourceFile::new("x.toml", text, Syntax::Toml))
}

/// The catalog of an import that must check without errors or warnings.
fn catalog_of(imported: &Imported) -> Catalog {
    let checked = check_imported(imported);
    assert!(
        checked.diagnostics.is_empty(),
        "diagnostics: {:#?}\n{}",
        checked.diagnostics,
        imported.to_toml_string()
    );
    checked.catalog.expect("a catalog when there are no errors")
}

/// An `exec` check as the catalog holds it.
struct ExecCheck {
    argv: &'static [&'static str],
    shell: bool,
    every: u64,
    timeout: u64,
    failure_threshold: u32,
}

struct ServiceCase {
    id: &'static str,
    name: &'static str,
    kind: ServiceKind,
    docker: Option<&'static str>,
    ports: &'static [PortSpec],
    depends_on: &'static [&'static str],
    check: Option<ExecCheck>,
}

struct FixtureCase {
    file: &'static str,
    ecosystem: &'static str,
    group: &'static str,
    services: Vec<ServiceCase>,
    /// Each must be part of some note.
    notes: &'static [&'static str],
}

fn fixture_cases() -> Vec<FixtureCase> {
    use PortSpec::{Range, Single};
    vec![
        FixtureCase {
            file: "web-stack.yml",
            ecosystem: "shop",
            group: "shop",
            services: vec![
                ServiceCase {
                    id: "proxy",
                    name: "shop-proxy",
                    kind: ServiceKind::LoadBalancer,
                    docker: Some("nginx:1.27-alpine"),
                    ports: &[Single(8080), Single(8443)],
                    depends_on: &["app"],
                    check: Some(ExecCheck {
                        argv: &["wget", "-q", "--spider", "http://localhost/healthz"],
                        shell: false,
                        every: 90,
                        timeout: 10,
                        failure_threshold: 3,
                    }),
                },
                ServiceCase {
                    id: "app",
                    name: "app",
                    kind: ServiceKind::Service,
                    docker: Some("shop/app:latest"),
                    ports: &[Single(3000)],
                    depends_on: &["db", "cache"],
                    check: Some(ExecCheck {
                        argv: &["curl", "-f", "http://localhost:3000/health"],
                        shell: false,
                        every: 30,
                        timeout: 5,
                        failure_threshold: 5,
                    }),
                },
                ServiceCase {
                    id: "db",
                    name: "db",
                    kind: ServiceKind::Database,
                    docker: Some("postgres:16-alpine"),
                    ports: &[Single(5432)],
                    depends_on: &[],
                    check: Some(ExecCheck {
                        argv: &["pg_isready -U shop -d shop"],
                        shell: true,
                        every: 10,
                        timeout: 5,
                        failure_threshold: 5,
                    }),
                },
                ServiceCase {
                    id: "cache",
                    name: "cache",
                    kind: ServiceKind::Cache,
                    docker: Some("redis:7-alpine"),
                    ports: &[],
                    depends_on: &[],
                    check: Some(ExecCheck {
                        argv: &["redis-cli ping | grep PONG"],
                        shell: true,
                        every: 15,
                        timeout: 30,
                        failure_threshold: 3,
                    }),
                },
            ],
            notes: &[
                "service `proxy`: healthcheck `start_period` (`40s`) is not mapped",
                "service `proxy`: `restart` is not mapped",
                "service `app` is built from `./app` and tagged with its `image`",
                "service `app`: `command` (`npm run start`) is what the container runs",
                "service `db`: port `127.0.0.1:5432:5432` is published on `127.0.0.1` only",
                "service `db`: `volumes` is not mapped",
                "service `cache`: port 6379 is a container port without a published host port",
                "top-level `volumes` (`db-data`) is not mapped",
            ],
        },
        FixtureCase {
            file: "anchors.yml",
            ecosystem: "Automation Hub",
            group: "automation-hub",
            services: vec![
                ServiceCase {
                    id: "n8n",
                    name: "n8n",
                    kind: ServiceKind::WorkflowEngine,
                    docker: Some("n8nio/n8n:1.64.0"),
                    ports: &[Single(5678)],
                    depends_on: &["postgres"],
                    check: Some(ExecCheck {
                        argv: &["wget", "-qO-", "http://localhost:5678/healthz"],
                        shell: false,
                        every: 20,
                        timeout: 5,
                        failure_threshold: 4,
                    }),
                },
                ServiceCase {
                    id: "activepieces",
                    name: "activepieces",
                    kind: ServiceKind::WorkflowEngine,
                    docker: Some("activepieces/activepieces:0.39.2"),
                    ports: &[Single(8081)],
                    depends_on: &["postgres", "redis"],
                    check: Some(ExecCheck {
                        argv: &["curl -fsS http://localhost/api/v1/flags || exit 1"],
                        shell: true,
                        every: 20,
                        timeout: 5,
                        failure_threshold: 4,
                    }),
                },
                ServiceCase {
                    id: "postgres",
                    name: "postgres",
                    kind: ServiceKind::Database,
                    docker: Some("postgres:16"),
                    ports: &[],
                    depends_on: &[],
                    check: Some(ExecCheck {
                        argv: &["pg_isready", "-U", "automation"],
                        shell: false,
                        every: 20,
                        timeout: 5,
                        failure_threshold: 4,
                    }),
                },
                ServiceCase {
                    id: "redis",
                    name: "redis",
                    kind: ServiceKind::Cache,
                    docker: Some("redis:7"),
                    ports: &[],
                    depends_on: &[],
                    check: None,
                },
            ],
            notes: &[
                "service `n8n`: `restart` is not mapped",
                "service `n8n`: `logging` is not mapped",
                "service `redis`: extension field `x-note` is not mapped",
                "network `automation`: `driver` is not mapped",
            ],
        },
        FixtureCase {
            file: "interpolation.yml",
            ecosystem: "media",
            group: "media",
            services: vec![
                ServiceCase {
                    id: "gateway",
                    name: "gateway",
                    kind: ServiceKind::LoadBalancer,
                    docker: Some("traefik:v3.1"),
                    ports: &[Single(80), Single(8088)],
                    depends_on: &[],
                    check: None,
                },
                ServiceCase {
                    id: "streamer",
                    name: "streamer",
                    kind: ServiceKind::Service,
                    docker: Some("bluenviron/mediamtx:1.9.0"),
                    ports: &[
                        Range((8000, 8010)),
                        Range((9090, 9091)),
                        Single(8554),
                        Single(6001),
                    ],
                    depends_on: &[],
                    check: None,
                },
                ServiceCase {
                    id: "worker",
                    name: "worker",
                    kind: ServiceKind::Service,
                    docker: Some("ghcr.io/example/transcoder:2.3"),
                    ports: &[Range((7100, 7102))],
                    depends_on: &[],
                    check: Some(ExecCheck {
                        argv: &["transcoder", "health", "--port", "7000"],
                        shell: false,
                        every: 45,
                        timeout: 30,
                        failure_threshold: 3,
                    }),
                },
            ],
            notes: &[
                "variable `HTTPS_PORT` (in `gateway.ports`) has no default in the file",
                "service `gateway`: port `:443` has no published host port",
                "variable `MTX_API_TOKEN` (in `streamer.environment`) has no default in the file; it was read as unset, so empty, since the importer does not read the environment; compose would refuse to start without it (`set a token`)",
                "variable `HOME` (in `streamer.environment`)",
                "service `streamer`: port `8554:8554/udp` is udp",
                "service `streamer`: port `[::1]:6001:6001` is published on `::1` only",
                "service `streamer`: port `127.0.0.1::9997` has no published host port",
                "service `worker`: port with target `7000` publishes one port of the host range",
                "service `worker`: port with target `7001` has no published host port",
            ],
        },
        FixtureCase {
            file: "depends-networks.yml",
            ecosystem: "billing",
            group: "billing",
            services: vec![
                ServiceCase {
                    id: "migrate",
                    name: "migrate",
                    kind: ServiceKind::Service,
                    docker: Some("example/billing-migrations:1.4"),
                    ports: &[],
                    depends_on: &["db"],
                    check: None,
                },
                ServiceCase {
                    id: "api",
                    name: "api",
                    kind: ServiceKind::Service,
                    docker: Some("example/billing-api:1.4"),
                    ports: &[Single(8300)],
                    depends_on: &["db", "migrate", "queue"],
                    check: None,
                },
                ServiceCase {
                    id: "queue",
                    name: "queue",
                    kind: ServiceKind::MessageQueue,
                    docker: Some("rabbitmq:3.13-management"),
                    ports: &[Single(5672), Single(15672)],
                    depends_on: &[],
                    check: Some(ExecCheck {
                        argv: &["rabbitmq-diagnostics", "-q", "ping"],
                        shell: false,
                        every: 30,
                        timeout: 10,
                        failure_threshold: 3,
                    }),
                },
                ServiceCase {
                    id: "db",
                    name: "db",
                    kind: ServiceKind::Database,
                    docker: Some("postgres:16"),
                    ports: &[],
                    depends_on: &[],
                    check: Some(ExecCheck {
                        argv: &["pg_isready"],
                        shell: true,
                        every: 30,
                        timeout: 30,
                        failure_threshold: 3,
                    }),
                },
                ServiceCase {
                    id: "monitor",
                    name: "monitor",
                    kind: ServiceKind::Monitoring,
                    docker: Some("prom/prometheus:v2.54.0"),
                    ports: &[Single(9090)],
                    depends_on: &[],
                    check: None,
                },
            ],
            notes: &[
                "service `api`: `depends_on` `db` restarts `api` when it is updated (`restart: true`); not mapped",
                "service `api`: `depends_on` `queue` is optional (`required: false`)",
                "service `api`: `depends_on` names `audit`, which is not a service of this file; dropped",
                "service `api`: settings of network `backend` (`aliases`) are not mapped",
                "network `backend`: `driver`, `internal` are not mapped",
            ],
        },
        FixtureCase {
            file: "v2-minimal.yml",
            ecosystem: "compose",
            group: "compose",
            services: vec![
                ServiceCase {
                    id: "web",
                    name: "web",
                    kind: ServiceKind::LoadBalancer,
                    docker: Some("nginx"),
                    ports: &[Single(80)],
                    depends_on: &["app"],
                    check: None,
                },
                ServiceCase {
                    id: "app",
                    name: "app",
                    kind: ServiceKind::Service,
                    docker: None,
                    ports: &[],
                    depends_on: &[],
                    check: None,
                },
                ServiceCase {
                    id: "worker",
                    name: "worker",
                    kind: ServiceKind::Service,
                    docker: Some("example/worker:1"),
                    ports: &[],
                    depends_on: &["app", "web"],
                    check: None,
                },
            ],
            notes: &[
                "top-level `version` (`2`) is obsolete",
                "service `worker`: link alias `backend` of `app` is not mapped",
                "service `app` is built from `.` and has no `image`",
                "service `app`: `environment` `LOG_LEVEL` has no value (compose takes it from the shell)",
                "service `app`: `expose` ports are reachable from other containers only",
            ],
        },
    ]
}

#[test]
fn fixtures_import_to_manifests_that_check() {
    for case in fixture_cases() {
        let imported = import_ok(&fixture(case.file));
        let catalog = catalog_of(&imported);
        let file = case.file;
        assert_eq!(catalog.ecosystem.name, case.ecosystem, "{file}");
        assert_eq!(
            catalog.groups.keys().collect::<Vec<_>>(),
            [case.group],
            "{file}"
        );
        let operator = &catalog.agents["compose-operator"];
        assert_eq!(
            (operator.tier, operator.groups.as_slice()),
            (2, [case.group.to_owned()].as_slice())
        );
        let ids: Vec<&str> = catalog.services.keys().map(String::as_str).collect();
        let expected_ids: Vec<&str> = case.services.iter().map(|s| s.id).collect();
        assert_eq!(ids, expected_ids, "{file}: services in file order");
        for expected in &case.services {
            let what = format!("{file}: service `{}`", expected.id);
            let service = &catalog.services[expected.id];
            assert_eq!(service.name, expected.name, "{what}");
            assert_eq!(service.group.as_deref(), Some(case.group), "{what}");
            assert_eq!(service.kind, expected.kind, "{what}");
            assert_eq!(service.docker.as_deref(), expected.docker, "{what}");
            assert_eq!(service.ports, expected.ports, "{what}");
            assert_eq!(service.depends_on, expected.depends_on, "{what}");
            assert_eq!(service.command, None, "{what}: never a supervision command");
            match (&service.check, &expected.check) {
                (None, None) => {}
                (Some(check), Some(exec)) => {
                    let argv: Vec<String> = exec.argv.iter().map(|a| (*a).to_owned()).collect();
                    assert_eq!(check.target, CheckTarget::Exec(argv), "{what}");
                    assert_eq!(check.shell, exec.shell, "{what}");
                    assert_eq!(check.every, Duration::from_secs(exec.every), "{what}");
                    assert_eq!(check.timeout, Duration::from_secs(exec.timeout), "{what}");
                    assert_eq!(check.failure_threshold, exec.failure_threshold, "{what}");
                }
                (got, want) => panic!(
                    "{what}: check {got:?}, expected {}",
                    if want.is_some() { "one" } else { "none" }
                ),
            }
        }
        for note in case.notes {
            assert!(
                imported.notes.iter().any(|n| n.contains(note)),
                "{file}: no note contains {note:?}; notes:\n{}",
                imported.notes.join("\n")
            );
        }
    }
}

#[test]
fn fixtures_match_their_snapshots() {
    for file in [
        "web-stack.yml",
        "anchors.yml",
        "interpolation.yml",
        "depends-networks.yml",
        "v2-minimal.yml",
        "port-conflict.yaml",
    ] {
        let imported = import_ok(&fixture(file));
        let notes: String = imported
            .notes
            .iter()
            .map(|n| format!("# note: {n}\n"))
            .collect();
        insta::assert_snapshot!(file, format!("{notes}\n{}", imported.to_toml_string()));
    }
}

#[test]
fn conditions_become_dependency_tables_and_metadata_keeps_networks_and_labels() {
    let imported = import_ok(&fixture("depends-networks.yml"));
    let catalog = catalog_of(&imported);
    let api = &catalog.services["api"];
    assert_eq!(
        Value::from_iter(api.metadata.clone()),
        json!({"networks": ["frontend", "backend"]})
    );
    let conditions = |id: &str| -> Vec<(String, &'static str)> {
        catalog.services[id]
            .dependencies
            .iter()
            .map(|d| (d.service.clone(), d.condition.as_str()))
            .collect()
    };
    let owned = |pairs: &[(&str, &'static str)]| -> Vec<(String, &'static str)> {
        pairs.iter().map(|(s, c)| ((*s).to_owned(), *c)).collect()
    };
    // Compose conditions become the manifest's `{ service, condition }` entries.
    let mut api_conditions = conditions("api");
    api_conditions.sort();
    assert_eq!(
        api_conditions,
        owned(&[
            ("db", "healthy"),
            ("migrate", "completed"),
            ("queue", "started"),
        ])
    );
    assert_eq!(api.tags, ["network:frontend", "network:backend"]);
    assert_eq!(catalog.services["db"].tags, ["network:backend"]);
    assert_eq!(conditions("migrate"), owned(&[("db", "healthy")]));

    let imported = import_ok(&fixture("web-stack.yml"));
    let catalog = catalog_of(&imported);
    assert_eq!(
        catalog.services["app"].metadata["labels"],
        json!({"com.example.team": "storefront", "com.example.tier": "web"})
    );
    assert!(catalog.services["app"].tags.is_empty());
}

#[test]
fn environment_comes_from_lists_and_mappings() {
    /// A fixture, a service, and its environment in order.
    type EnvCase = (
        &'static str,
        &'static str,
        Vec<(&'static str, &'static str)>,
    );
    let cases: Vec<EnvCase> = vec![
        (
            "web-stack.yml",
            "app",
            vec![
                ("NODE_ENV", "production"),
                ("DATABASE_URL", "postgres://shop:shop@db:5432/shop"),
                ("REDIS_URL", "redis://cache:6379"),
                ("WORKERS", "4"),
            ],
        ),
        (
            "web-stack.yml",
            "db",
            vec![
                ("POSTGRES_USER", "shop"),
                ("POSTGRES_PASSWORD", "shop"),
                ("POSTGRES_DB", "shop"),
            ],
        ),
        (
            "anchors.yml",
            "n8n",
            vec![
                ("N8N_PORT", "5678"),
                ("DB_TYPE", "postgresdb"),
                ("TZ", "UTC"),
                ("LOG_LEVEL", "info"),
            ],
        ),
        (
            "anchors.yml",
            "redis",
            vec![("TZ", "UTC"), ("LOG_LEVEL", "info")],
        ),
        (
            "interpolation.yml",
            "streamer",
            vec![
                ("MTX_PROTOCOLS", "tcp"),
                ("MTX_API_TOKEN", ""),
                ("PRICE_NOTE", "costs $5 a month"),
                ("HOME_DIR", ""),
            ],
        ),
        ("v2-minimal.yml", "app", vec![("DEBUG", "yes")]),
    ];
    for (file, id, expected) in cases {
        let catalog = catalog_of(&import_ok(&fixture(file)));
        let env: Vec<(&str, &str)> = catalog.services[id]
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(env, expected, "{file}: `{id}`");
    }
}

#[test]
fn a_port_conflict_in_the_compose_file_is_reported_by_check() {
    let imported = import_ok(&fixture("port-conflict.yaml"));
    let checked = check_imported(&imported);
    let errors: Vec<(Code, &str)> = checked
        .errors()
        .map(|d| (d.code, d.message.as_str()))
        .collect();
    assert_eq!(
        errors,
        [
            (
                Code::PortConflict,
                "port 8080 is claimed by both `blue` and `green`"
            ),
            (
                Code::PortConflict,
                "port 3003 of `extra` lies in the range 3000-3005 that `admin` owns"
            ),
        ]
    );
}

#[test]
fn text_that_is_not_a_compose_file_is_refused() {
    let cases = [
        ("", "not a mapping"),
        ("services: [", "not YAML"),
        ("just a string", "not a mapping"),
        ("- web\n- db\n", "not a mapping"),
        ("name: x\n", "no `services`"),
        ("services:\n  - web\n", "`services` is a list"),
        ("a: 1\n---\nb: 2\n", "not YAML"),
    ];
    for (text, message) in cases {
        match import(text) {
            Ok(imported) => panic!("{text:?} imported: {}", imported.to_toml_string()),
            Err(e) => assert!(e.to_string().contains(message), "{text:?}: {e}"),
        }
    }
}

#[test]
fn small_files_import_as_expected() {
    struct Case {
        text: &'static str,
        services: &'static [&'static str],
        group: Option<&'static str>,
        notes: &'static [&'static str],
    }
    let cases = [
        Case {
            text: "services: {}\n",
            services: &[],
            group: None,
            notes: &[],
        },
        Case {
            text: "services:\n",
            services: &[],
            group: None,
            notes: &[],
        },
        Case {
            // The group id must not collide with a service id.
            text: "name: app\nservices:\n  app:\n    image: example/app\n  app-stack:\n    image: example/app\n",
            services: &["app", "app-stack"],
            group: Some("app-stack-2"),
            notes: &[],
        },
        Case {
            text: "name: \"\u{1F310}\"\nservices:\n  web:\n    image: nginx\n",
            services: &["web"],
            group: Some("compose"),
            notes: &[],
        },
        Case {
            text: "services:\n  web: nginx\n  db:\n",
            services: &["web", "db"],
            group: Some("compose"),
            notes: &[
                "service `web` is `nginx`, not a mapping",
                "service `db` has neither `image` nor `build`",
            ],
        },
        Case {
            text: "services:\n  web:\n    image: nginx\n    command: echo $5\n",
            services: &["web"],
            group: Some("compose"),
            notes: &["`web.command` has a `$` that starts no variable reference"],
        },
        Case {
            text: "services:\n  job:\n    image: busybox\n    healthcheck:\n      test: [\"NONE\"]\n  bad:\n    image: busybox\n    healthcheck:\n      test: [\"RUN\", \"true\"]\n  slow:\n    image: busybox\n    healthcheck:\n      test: [\"CMD\", \"true\"]\n      interval: soon\n      retries: -1\n  inherit:\n    image: busybox\n    healthcheck:\n      interval: 5s\n",
            services: &["job", "bad", "slow", "inherit"],
            group: Some("compose"),
            notes: &[
                "service `bad`: healthcheck `test` does not start with `CMD`, `CMD-SHELL` or `NONE`",
                "service `slow`: healthcheck `interval` `soon` is not a duration",
                "service `slow`: healthcheck `retries` `-1` is not a count",
                "service `inherit`: healthcheck has no `test` (the image's own is used)",
            ],
        },
        Case {
            text: "services:\n  web:\n    image: nginx\n    depends_on: [web]\n",
            services: &["web"],
            group: Some("compose"),
            notes: &[],
        },
        Case {
            text: "services:\n  web:\n    image: nginx\n    frobnicate: 1\nfrobnicate: 2\nsecrets:\n  token:\n    file: ./token\n",
            services: &["web"],
            group: Some("compose"),
            notes: &[
                "service `web`: `frobnicate` is not mapped",
                "top-level `frobnicate` is not part of the Compose specification",
                "top-level `secrets` (`token`) is not mapped",
            ],
        },
    ];
    for case in cases {
        let imported = import_ok(case.text);
        let manifest = &imported.manifest;
        let services: Vec<&str> = manifest
            .get("services")
            .and_then(|s| s.as_table())
            .map(|t| t.keys().map(String::as_str).collect())
            .unwrap_or_default();
        assert_eq!(services, case.services, "{}", case.text);
        let groups: Vec<&str> = manifest
            .get("groups")
            .and_then(|s| s.as_table())
            .map(|t| t.keys().map(String::as_str).collect())
            .unwrap_or_default();
        assert_eq!(groups, case.group.as_slice(), "{}", case.text);
        assert_eq!(
            manifest.contains_key("agents"),
            case.group.is_some(),
            "{}",
            case.text
        );
        for note in case.notes {
            assert!(
                imported.notes.iter().any(|n| n.contains(note)),
                "{}: no note contains {note:?}; notes:\n{}",
                case.text,
                imported.notes.join("\n")
            );
        }
        let checked = check_imported(&imported);
        let errors: Vec<Code> = checked.errors().map(|d| d.code).collect();
        // A service that depends on itself is a cycle compose refuses too.
        let expected: &[Code] = if case.text.contains("depends_on: [web]") {
            &[Code::DependencyCycle]
        } else {
            &[]
        };
        assert_eq!(errors, expected, "{}", case.text);
    }
}

/// A port entry in one of the compose syntaxes, or something close to one.
fn port_entry() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => "[1-9][0-9]{1,3}:[1-9][0-9]{1,3}".prop_map(Value::from),
        1 => "[0-9]{1,5}".prop_map(Value::from),
        1 => "[0-9]{0,5}:[0-9]{1,5}".prop_map(Value::from),
        1 => "(127\\.0\\.0\\.1|\\[::1\\]|::1|0\\.0\\.0\\.0)?:[0-9]{0,5}:[0-9]{1,5}(/(udp|tcp|x))?"
            .prop_map(Value::from),
        1 => "[0-9]{1,5}-[0-9]{1,5}(:[0-9]{1,5}(-[0-9]{1,5})?)?".prop_map(Value::from),
        1 => "\\$\\{[A-Z]{1,3}(:?-[0-9]{0,5})?\\}:[0-9]{1,3}".prop_map(Value::from),
        1 => any::<i64>().prop_map(Value::from),
        1 => (any::<u16>(), proptest::option::of("[0-9-]{0,11}"), proptest::option::of("udp|tcp|x"))
            .prop_map(|(target, published, protocol)| {
                let mut map = serde_json::Map::new();
                map.insert("target".into(), Value::from(target));
                if let Some(p) = published {
                    map.insert("published".into(), Value::from(p));
                }
                if let Some(p) = protocol {
                    map.insert("protocol".into(), Value::from(p));
                }
                Value::Object(map)
            }),
        1 => any::<bool>().prop_map(Value::from),
    ]
}

/// A leaf or small tree of arbitrary values.
fn loose_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i32>().prop_map(Value::from),
        "[ -~]{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            proptest::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A service definition shaped like compose's, with plausible and implausible values.
fn service_definition(ids: Vec<String>) -> impl Strategy<Value = Value> {
    let dependency = proptest::sample::select(ids).prop_map(Value::from);
    (
        proptest::option::of(prop_oneof![
            Just(Value::from("postgres:16")),
            Just(Value::from("redis")),
            Just(Value::from("nginx:${TAG:-1}")),
            "[a-z/:.$-]{0,12}".prop_map(Value::from),
        ]),
        proptest::option::of(proptest::collection::vec(port_entry(), 0..4)),
        proptest::option::of(prop_oneof![
            proptest::collection::vec("[A-Z]{1,4}(=[ -~]{0,8})?", 0..3).prop_map(Value::from),
            proptest::collection::btree_map("[A-Z]{1,4}", loose_value(), 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]),
        proptest::option::of(prop_oneof![
            proptest::collection::vec(dependency.clone(), 0..3).prop_map(Value::from),
            proptest::collection::vec(
                (
                    dependency,
                    proptest::sample::select(vec![
                        "service_started",
                        "service_healthy",
                        "service_completed_successfully",
                        "whenever",
                    ])
                ),
                0..3
            )
            .prop_map(|deps| {
                Value::Object(
                    deps.into_iter()
                        .filter_map(|(name, condition)| {
                            Some((name.as_str()?.to_owned(), json!({ "condition": condition })))
                        })
                        .collect(),
                )
            }),
        ]),
        proptest::option::of((
            prop_oneof![
                3 => proptest::collection::vec("[a-z/.-]{1,8}", 1..4).prop_map(|argv| {
                    Value::from([vec!["CMD".to_owned()], argv].concat())
                }),
                2 => "[ -~]{0,16}".prop_map(|script| json!(["CMD-SHELL", script])),
                1 => "[ -~]{0,16}".prop_map(Value::from),
                1 => proptest::collection::vec(
                    prop_oneof![
                        Just("CMD".to_owned()),
                        Just("CMD-SHELL".to_owned()),
                        Just("NONE".to_owned()),
                        "[ -~]{0,8}"
                    ],
                    0..4
                )
                .prop_map(Value::from),
                1 => loose_value(),
            ],
            proptest::option::of(prop_oneof![
                "(0|[1-9][0-9]{0,2})(us|ms|s|m|h)",
                Just("1m30s".to_owned()),
                "[0-9a-z. ]{0,5}",
            ]),
            proptest::option::of(any::<i64>()),
            proptest::bool::weighted(0.2),
        )),
        proptest::option::of(loose_value()),
        proptest::option::of(loose_value()),
    )
        .prop_map(|(image, ports, env, deps, health, networks, extra)| {
            let mut map = serde_json::Map::new();
            let mut put = |key: &str, value: Option<Value>| {
                if let Some(value) = value {
                    map.insert(key.to_owned(), value);
                }
            };
            put("image", image);
            put("ports", ports.map(Value::from));
            put("environment", env);
            put("depends_on", deps);
            put(
                "healthcheck",
                health.map(|(test, interval, retries, disable)| {
                    json!({
                        "test": test,
                        "interval": interval,
                        "retries": retries,
                        "disable": disable,
                    })
                }),
            );
            put("networks", networks);
            put("labels", extra);
            Value::Object(map)
        })
}

/// A whole compose file as a JSON tree.
fn compose_file() -> impl Strategy<Value = Value> {
    proptest::collection::btree_set("[a-z][a-z0-9-]{0,6}", 1..5).prop_flat_map(|ids| {
        let ids: Vec<String> = ids.into_iter().collect();
        let definitions = proptest::collection::vec(service_definition(ids.clone()), ids.len());
        (
            Just(ids),
            definitions,
            proptest::option::of("[ -~]{0,12}"),
            proptest::option::of(loose_value()),
        )
            .prop_map(|(ids, definitions, name, networks)| {
                let services: serde_json::Map<String, Value> =
                    ids.into_iter().zip(definitions).collect();
                let mut file = serde_json::Map::new();
                if let Some(name) = name {
                    file.insert("name".into(), Value::from(name));
                }
                file.insert("services".into(), Value::Object(services));
                if let Some(networks) = networks {
                    file.insert("networks".into(), networks);
                }
                Value::Object(file)
            })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        let _ = import(&text);
    }

    #[test]
    fn yaml_like_text_never_panics(text in "([a-z_:\\-\\[\\]{}$&*<>!|'\" ]{0,12}\n){0,12}") {
        let _ = import(&text);
    }

    /// Any compose-shaped file imports, and the manifest fails `check` only for what the
    /// compose file itself gets wrong: a port claimed twice or a dependency cycle.
    #[test]
    fn compose_shaped_files_import_to_manifests_that_check(file in compose_file()) {
        let text = serde_saphyr::to_string(&file).expect("a JSON tree serializes as YAML");
        let imported = import(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        let checked = check_imported(&imported);
        for diagnostic in &checked.diagnostics {
            prop_assert!(
                matches!(diagnostic.code, Code::PortConflict | Code::DependencyCycle),
                "{diagnostic:?}\n{text}\n{}",
                imported.to_toml_string()
            );
        }
    }
}
