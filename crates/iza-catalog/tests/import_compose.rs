//! Tests the docker-compose importer end to end: the fixtures in `fixtures/compose/` import
//! to manifests that `iza_catalog::check` accepts (or, for a file with a port conflict,
//! rejects for that reason), with the expected services, ports, dependencies, checks and
//! notes; and no input, however malformed, makes the importer panic.

use std::path::{Path, PathBuf};
use std::time::Duration;

use iza_catalog::import::Imported;
use iza_catalog::import::compose::{Options, import, import_files};
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
                "not a command `iza up` supervises; not mapped: `app` (`command`)",
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
                "services `n8n`, `activepieces`, `postgres`, `redis`: `restart` is not mapped",
                "services `n8n`, `activepieces`, `postgres`, `redis`: `logging` is not mapped",
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
                "set by no environment file and without a default were read as empty, as compose reads an unset variable (the importer does not read the shell): `HTTPS_PORT` (`gateway.ports`)",
                "service `gateway`: port `:443` has no published host port",
                "variables that compose requires (`${VAR:?message}`) are unset, so compose would refuse to start: `MTX_API_TOKEN` (`set a token`)",
                "`HOME` (`streamer.environment`)",
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
                    depends_on: &["db", "migrate"],
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
                "they are kept in `metadata.optional_depends_on`: `api` (`queue`)",
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
                "`environment` entries without a value take it from the shell in compose; not mapped: `app` (`LOG_LEVEL`)",
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
        json!({"optional_depends_on": ["queue"], "networks": ["frontend", "backend"]})
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
        // `queue` is optional (`required: false`): kept in metadata, never a dependency.
        owned(&[("db", "healthy"), ("migrate", "completed")])
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
                "services `web`, `db`: neither `image` nor `build` is given",
            ],
        },
        Case {
            text: "services:\n  web:\n    image: nginx\n    command: echo $5\n",
            services: &["web"],
            group: Some("compose"),
            notes: &[
                "a `$` that starts no variable reference (or an unclosed `${`) were kept as written (write `$$` for a literal `$`): `web.command`",
            ],
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

// ---------------------------------------------------------------------------------------
// Issue 17: compose import that works on the files real projects publish. One test per
// defect, each from a minimal snippet, then a corpus of projects in the shapes real ones
// take (fixtures/compose/corpus/).
// ---------------------------------------------------------------------------------------

/// Checks an import leniently: the catalog even when there are errors.
fn check_imported_lenient(imported: &Imported) -> Checked {
    let text = imported.to_toml_string();
    iza_catalog::check_lenient(&SourceFile::new("x.toml", text, Syntax::Toml))
}

/// Writes `files` (path, text) into a new directory.
fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary directory");
    for (path, text) in files {
        let path = dir.path().join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create the file's directory");
        }
        std::fs::write(&path, text).expect("write the file");
    }
    dir
}

/// Imports `files` of `dir`, merged in order.
fn import_in(dir: &Path, files: &[&str], options: &Options) -> Imported {
    let paths: Vec<PathBuf> = files.iter().map(|f| dir.join(f)).collect();
    import_files(&paths, options).unwrap_or_else(|e| panic!("import of {files:?} failed: {e}"))
}

fn profiles(names: &[&str]) -> Options {
    Options {
        profiles: Some(names.iter().map(|n| (*n).to_owned()).collect()),
        ..Options::default()
    }
}

/// The notes that contain `needle`.
fn notes_with<'a>(imported: &'a Imported, needle: &str) -> Vec<&'a str> {
    imported
        .notes
        .iter()
        .filter(|n| n.contains(needle))
        .map(String::as_str)
        .collect()
}

/// The one note that contains `needle`.
fn note_with<'a>(imported: &'a Imported, needle: &str) -> &'a str {
    match notes_with(imported, needle).as_slice() {
        [one] => one,
        other => panic!(
            "expected one note containing {needle:?}, found {}:\n{}",
            other.len(),
            imported.notes.join("\n")
        ),
    }
}

fn service_ids(catalog: &Catalog) -> Vec<&str> {
    catalog.services.keys().map(String::as_str).collect()
}

fn every_note_is_one_line(imported: &Imported) {
    for note in &imported.notes {
        assert!(!note.contains(['\n', '\r']), "a note spans lines: {note:?}");
    }
}

/// `levels` anchors, each aliased ten times by the next: 10^levels nodes once expanded.
fn billion_laughs(levels: usize) -> String {
    let mut text = String::from("x-l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for level in 1..levels {
        let refs = vec![format!("*l{}", level - 1); 10].join(", ");
        text.push_str(&format!("x-l{level}: &l{level} [{refs}]\n"));
    }
    text.push_str(&format!(
        "services:\n  web:\n    image: nginx\n    command: *l{}\n",
        levels - 1
    ));
    text
}

/// Defect 1: a file with more than 100 aliases and more than ten aliases per anchor (as
/// self-hosted Sentry's) imports; a billion-laughs document is still refused, by a budget
/// the message names, and never called "not YAML".
#[test]
fn aliases_at_a_large_stacks_density_import_and_a_billion_laughs_is_refused() {
    let mut text = String::from(
        "x-restart: &restart\n  restart: unless-stopped\nx-env: &env\n  TZ: UTC\nx-ready: &ready\n  condition: service_healthy\nservices:\n  db:\n    image: postgres:16\n",
    );
    for i in 0..50 {
        text.push_str(&format!(
            "  worker-{i}:\n    <<: *restart\n    image: example/worker:1\n    environment: *env\n    depends_on:\n      db: *ready\n"
        ));
    }
    assert_eq!(text.matches('*').count(), 150, "aliases");
    let imported = import_ok(&text);
    let catalog = catalog_of(&imported);
    assert_eq!(catalog.services.len(), 51);
    let worker = &catalog.services["worker-49"];
    assert_eq!(worker.depends_on, ["db"]);
    assert_eq!(worker.env["TZ"], "UTC");

    for levels in [9, 12] {
        let error = import(&billion_laughs(levels))
            .map(|i| i.to_toml_string())
            .expect_err("a billion laughs must be refused")
            .to_string();
        assert!(error.contains("safety budget"), "{error}");
        assert!(error.contains("budget `"), "names the budget: {error}");
        assert!(!error.contains("not YAML"), "{error}");
    }
    // Real syntax errors still say so.
    let error = import("services: [").expect_err("not YAML").to_string();
    assert!(error.contains("not YAML"), "{error}");
}

const PROFILES: &str = "services:
  app:
    image: example/app:1
    depends_on:
      pg: {condition: service_healthy, required: false}
      cache: {condition: service_started}
      mysql: {condition: service_healthy, required: false}
  cache:
    image: redis:7
  pg:
    image: postgres:16
    profiles: [postgres]
    ports: [\"5432:5432\"]
  mysql:
    image: mysql:8
    profiles: [mysql]
    ports: [\"5432:3306\"]
  vectors:
    image: example/vectors:1
    profiles: [\"\", vector]
  debug:
    image: busybox
    profiles: [debug, tools]
";

/// Defect 2: only what `docker compose up` runs is imported: services without a profile
/// and those of the active profiles (`--profile`, repeatable, or `COMPOSE_PROFILES`); the
/// services left out are named once, with their profiles; `required: false` is never a
/// hard dependency.
#[test]
fn profiles_select_what_compose_would_run() {
    struct Case {
        options: Options,
        services: &'static [&'static str],
        left_out: Option<&'static [&'static str]>,
        app_depends_on: &'static [&'static str],
        optional: &'static [&'static str],
        conflict: bool,
    }
    let cases = [
        Case {
            options: Options::default(),
            services: &["app", "cache", "vectors"],
            left_out: Some(&[
                "3 services left out",
                "`pg` (profile `postgres`)",
                "`mysql` (profile `mysql`)",
                "`debug` (profile `debug` or `tools`)",
            ]),
            app_depends_on: &["cache"],
            optional: &[],
            conflict: false,
        },
        Case {
            options: profiles(&["postgres"]),
            services: &["app", "cache", "pg"],
            left_out: Some(&["`vectors` (profile `` or `vector`)"]),
            app_depends_on: &["cache"],
            optional: &["pg"],
            conflict: false,
        },
        Case {
            // Repeated `--profile`, and `COMPOSE_PROFILES`' comma-separated form.
            options: profiles(&["postgres,mysql", "vector"]),
            services: &["app", "cache", "pg", "mysql", "vectors"],
            left_out: Some(&["1 service left out", "`debug`"]),
            app_depends_on: &["cache"],
            optional: &["pg", "mysql"],
            conflict: true,
        },
        Case {
            options: profiles(&["*"]),
            services: &["app", "cache", "pg", "mysql", "vectors", "debug"],
            left_out: None,
            app_depends_on: &["cache"],
            optional: &["pg", "mysql"],
            conflict: true,
        },
        Case {
            options: profiles(&["tools"]),
            services: &["app", "cache", "debug"],
            left_out: Some(&["`vectors`"]),
            app_depends_on: &["cache"],
            optional: &[],
            conflict: false,
        },
    ];
    let dir = project(&[("compose.yaml", PROFILES)]);
    for case in cases {
        let what = format!("{:?}", case.options.profiles);
        let imported = import_in(dir.path(), &["compose.yaml"], &case.options);
        let checked = check_imported_lenient(&imported);
        let catalog = checked.catalog.as_ref().expect("a catalog");
        assert_eq!(service_ids(catalog), case.services, "{what}");
        let app = &catalog.services["app"];
        assert_eq!(app.depends_on, case.app_depends_on, "{what}");
        let optional: Vec<&str> = app
            .metadata
            .get("optional_depends_on")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        assert_eq!(optional, case.optional, "{what}");
        match case.left_out {
            Some(parts) => {
                let note = note_with(&imported, "left out, as `docker compose up`");
                for part in parts {
                    assert!(note.contains(part), "{what}: {note}");
                }
            }
            None => assert!(notes_with(&imported, "left out").is_empty(), "{what}"),
        }
        let conflicts = checked
            .errors()
            .filter(|d| d.code == Code::PortConflict)
            .count();
        assert_eq!(
            conflicts > 0,
            case.conflict,
            "{what}: {:?}",
            checked.diagnostics
        );
        assert!(
            notes_with(&imported, "`profiles` is not mapped").is_empty(),
            "{what}"
        );
    }
    // `COMPOSE_PROFILES` from the environment file counts when no profile is given.
    let dir = project(&[
        ("compose.yaml", PROFILES),
        (".env", "COMPOSE_PROFILES=mysql\n"),
    ]);
    let imported = import_in(dir.path(), &["compose.yaml"], &Options::default());
    let catalog = catalog_of_lenient(&imported);
    assert_eq!(service_ids(&catalog), ["app", "cache", "mysql"]);
}

/// The catalog of an import, whatever its warnings.
fn catalog_of_lenient(imported: &Imported) -> Catalog {
    let checked = check_imported(imported);
    assert_eq!(checked.errors().count(), 0, "{:#?}", checked.diagnostics);
    checked.catalog.expect("a catalog")
}

/// Defect 3: `healthcheck.disable` given as a string or a variable disables the check.
#[test]
fn healthcheck_disable_as_text_or_variable_is_honoured() {
    let cases = [
        ("true", false),
        ("\"true\"", false),
        ("\"${HC_OFF:-true}\"", false),
        ("yes", false),
        ("\"${HC_OFF:-false}\"", true),
        ("false", true),
        ("\"0\"", true),
    ];
    for (disable, checked) in cases {
        let text = format!(
            "services:\n  web:\n    image: nginx\n    healthcheck:\n      test: [\"CMD\", \"true\"]\n      disable: {disable}\n"
        );
        let catalog = catalog_of(&import_ok(&text));
        assert_eq!(
            catalog.services["web"].check.is_some(),
            checked,
            "disable: {disable}"
        );
    }
}

/// Defect 4: an image broken or emptied by an unset variable is never written; the note
/// says so, and names no false "neither `image` nor `build`".
#[test]
fn images_broken_by_unset_variables_are_noted_not_written() {
    let cases = [
        (
            "myorg/app:${TAG}",
            Some("`myorg/app:` is not a reference docker accepts (a variable in it is unset)"),
        ),
        (
            "${REGISTRY}/app:1.0",
            Some("`/app:1.0` is not a reference docker accepts (a variable in it is unset)"),
        ),
        (
            "${NAME}:-c",
            Some("`:-c` is not a reference docker accepts"),
        ),
        (
            "${IMAGE}",
            Some("`image` is empty once its unset variables are read as empty"),
        ),
        ("${IMAGE:-nginx}:${TAG:-1.27}", None),
    ];
    for (image, note) in cases {
        let text = format!("services:\n  web:\n    image: \"{image}\"\n");
        let imported = import_ok(&text);
        let catalog = catalog_of(&imported);
        let docker = catalog.services["web"].docker.as_deref();
        match note {
            Some(note) => {
                assert_eq!(docker, None, "{image}");
                note_with(&imported, note);
            }
            None => assert_eq!(docker, Some("nginx:1.27"), "{image}"),
        }
        assert!(
            notes_with(&imported, "neither `image` nor `build`").is_empty(),
            "{image}: {:?}",
            imported.notes
        );
    }
}

/// Defect 5: `retries` supplied by a variable is a count like any other.
#[test]
fn retries_from_variables_are_counts() {
    let cases = [
        ("${R:-5}", 5, false),
        ("\"7\"", 7, false),
        ("\"${R}\"", 3, false),
        ("\"${R:-many}\"", 3, true),
    ];
    for (retries, threshold, noted) in cases {
        let text = format!(
            "services:\n  web:\n    image: nginx\n    healthcheck:\n      test: [\"CMD\", \"true\"]\n      retries: {retries}\n"
        );
        let imported = import_ok(&text);
        let catalog = catalog_of(&imported);
        let check = catalog.services["web"].check.as_ref().expect("a check");
        assert_eq!(check.failure_threshold, threshold, "{retries}");
        assert_eq!(
            !notes_with(&imported, "is not a count").is_empty(),
            noted,
            "{retries}: {:?}",
            imported.notes
        );
    }
}

/// Defect 6: the `.env` beside the file is read as compose reads it; `--env-file`
/// (repeatable, a later file wins) replaces it; a variable set nowhere is noted once per
/// file, not once per use.
#[test]
fn env_files_supply_variables_and_unset_ones_are_noted_once_per_file() {
    let compose = "services:
  web:
    image: \"nginx:${TAG:-1.27}\"
    ports: [\"${WEB_PORT:-8080}:80\", \"${ADMIN_PORT}:81\"]
    environment:
      A: ${SECRET}
      B: ${SECRET}
      C: ${SECRET}
  api:
    image: example/api
    environment:
      D: ${SECRET}
";
    let dir = project(&[
        ("compose.yaml", compose),
        (".env", "# defaults\nWEB_PORT=9000\nADMIN_PORT=\"9001\"\n"),
        ("other.env", "WEB_PORT=7000\nTAG=1.26\n"),
        ("last.env", "WEB_PORT=7100\n"),
    ]);
    let ports = |imported: &Imported| -> Vec<PortSpec> {
        catalog_of_lenient(imported).services["web"].ports.clone()
    };

    let imported = import_in(dir.path(), &["compose.yaml"], &Options::default());
    assert_eq!(
        ports(&imported),
        [PortSpec::Single(9000), PortSpec::Single(9001)]
    );
    let note = note_with(&imported, "`SECRET`");
    assert_eq!(note.matches("`SECRET`").count(), 1, "{note}");
    assert!(
        note.contains("`web.environment`") && note.contains("`api.environment`"),
        "{note}"
    );

    let options = Options {
        env_files: vec![dir.path().join("other.env"), dir.path().join("last.env")],
        ..Options::default()
    };
    let imported = import_in(dir.path(), &["compose.yaml"], &options);
    // `.env` is not read when environment files are named: `ADMIN_PORT` is unset.
    assert_eq!(ports(&imported), [PortSpec::Single(7100)]);
    let catalog = catalog_of_lenient(&imported);
    assert_eq!(
        catalog.services["web"].docker.as_deref(),
        Some("nginx:1.26")
    );
    let note = note_with(&imported, "`ADMIN_PORT`");
    assert!(note.contains("`SECRET`"), "one line for the file: {note}");

    // Two files using the same unset variable: one note per file.
    let dir = project(&[
        ("a.yml", "services:\n  a:\n    image: \"x:${V}\"\n"),
        ("b.yml", "services:\n  b:\n    image: \"y:${V}\"\n"),
    ]);
    let imported = import_in(dir.path(), &["a.yml", "b.yml"], &Options::default());
    let notes = notes_with(&imported, "`V`");
    assert_eq!(notes.len(), 2, "{notes:?}");
    assert!(
        notes[0].contains("a.yml") && notes[1].contains("b.yml"),
        "{notes:?}"
    );

    let missing = Options {
        env_files: vec![dir.path().join("absent.env")],
        ..Options::default()
    };
    let error = import_files(&[dir.path().join("a.yml")], &missing)
        .expect_err("a named environment file must exist")
        .to_string();
    assert!(error.contains("absent.env"), "{error}");
}

/// Defect 7: several files merge by compose's rules; `include` and `extends` (in the same
/// file and in another) are resolved.
#[test]
fn several_files_include_and_extends_resolve() {
    let dir = project(&[
        (
            "compose.yaml",
            "services:
  web:
    image: example/web:1
    ports: [\"8080:80\"]
    environment: {MODE: dev, LOG: info}
    depends_on: [db]
  db:
    image: postgres:16
",
        ),
        (
            "compose.override.yaml",
            "services:
  web:
    image: example/web:2
    ports: [\"8443:443\"]
    environment: [\"MODE=prod\"]
    depends_on:
      cache: {condition: service_healthy}
  cache:
    image: redis:7
    healthcheck: {test: [\"CMD\", \"redis-cli\", \"ping\"]}
",
        ),
    ]);
    let imported = import_in(
        dir.path(),
        &["compose.yaml", "compose.override.yaml"],
        &Options::default(),
    );
    let catalog = catalog_of_lenient(&imported);
    assert_eq!(service_ids(&catalog), ["web", "db", "cache"]);
    let web = &catalog.services["web"];
    assert_eq!(web.docker.as_deref(), Some("example/web:2"));
    assert_eq!(web.ports, [PortSpec::Single(8080), PortSpec::Single(8443)]);
    assert_eq!(web.depends_on, ["db", "cache"]);
    assert_eq!(web.env["MODE"], "prod");
    assert_eq!(web.env["LOG"], "info");

    let dir = project(&[
        (
            "compose.yaml",
            "include:
  - tools/compose.yaml
services:
  base:
    image: example/base:3
    ports: [\"7000:7000\"]
    healthcheck: {test: [\"CMD\", \"ok\"], retries: 4}
  child:
    extends: base
    ports: [\"7001:7001\"]
  remote:
    extends: {file: lib/defs.yml, service: shared}
    depends_on: [tool]
",
        ),
        (
            "lib/defs.yml",
            "services:\n  root:\n    image: \"example/shared:${SHARED_TAG:-9}\"\n    ports: [\"6000:6000\"]\n  shared:\n    extends: root\n    environment: {X: \"1\"}\n",
        ),
        (
            "tools/compose.yaml",
            "services:\n  tool:\n    image: \"example/tool:${TOOL_TAG}\"\n",
        ),
        ("tools/.env", "TOOL_TAG=5\n"),
    ]);
    let imported = import_in(dir.path(), &["compose.yaml"], &Options::default());
    let checked = check_imported_lenient(&imported);
    // `child` publishes the base's 7000 too, as compose would: a conflict `iza check` finds.
    let errors: Vec<&str> = checked.errors().map(|d| d.message.as_str()).collect();
    assert_eq!(errors, ["port 7000 is claimed by both `base` and `child`"]);
    let catalog = checked.catalog.as_ref().expect("a catalog");
    assert_eq!(service_ids(catalog), ["base", "child", "remote", "tool"]);
    let child = &catalog.services["child"];
    assert_eq!(child.docker.as_deref(), Some("example/base:3"));
    assert_eq!(
        child.ports,
        [PortSpec::Single(7000), PortSpec::Single(7001)]
    );
    assert_eq!(child.check.as_ref().map(|c| c.failure_threshold), Some(4));
    let remote = &catalog.services["remote"];
    assert_eq!(remote.docker.as_deref(), Some("example/shared:9"));
    assert_eq!(remote.ports, [PortSpec::Single(6000)]);
    assert_eq!(remote.env["X"], "1");
    assert_eq!(remote.depends_on, ["tool"]);
    assert_eq!(
        catalog.services["tool"].docker.as_deref(),
        Some("example/tool:5")
    );
    note_with(
        &imported,
        "`include` of `tools/compose.yaml` added 1 service",
    );
    assert!(
        notes_with(&imported, "neither `image` nor `build`").is_empty()
            && notes_with(&imported, "`extends` is not mapped").is_empty(),
        "{:?}",
        imported.notes
    );

    // Cycles are refused (`include`) or noted (`extends`), never followed for ever.
    let dir = project(&[
        ("a.yml", "include: [b.yml]\nservices: {}\n"),
        ("b.yml", "include: [a.yml]\nservices: {}\n"),
        (
            "c.yml",
            "services:\n  x: {extends: y, image: a}\n  y: {extends: x, image: b}\n",
        ),
    ]);
    let error = import_files(&[dir.path().join("a.yml")], &Options::default())
        .expect_err("an include cycle")
        .to_string();
    assert!(error.contains("cycle"), "{error}");
    let imported = import_in(dir.path(), &["c.yml"], &Options::default());
    note_with(&imported, "forms a cycle");
}

/// Defect 8: notes are grouped (one line per kind, services named or counted), each on one
/// line; no note for an empty `start_period`; the entries of an `include` that is not read
/// are named.
#[test]
fn notes_are_grouped_and_each_on_one_line() {
    let mut text = String::from("include: [a.yml, {path: [b.yml, c.yml]}]\nservices:\n");
    for i in 0..20 {
        text.push_str(&format!(
            "  s{i:02}:\n    image: example/s:1\n    volumes: [data:/data]\n    environment: [SMTP_HOST, SMTP_PASS, OPENAI_KEY]\n    command: |\n      run\n      --fast\n    healthcheck:\n      test: [\"CMD\", \"true\"]\n      start_period: \"${{SP:-}}\"\n"
        ));
    }
    let imported = import_ok(&text);
    every_note_is_one_line(&imported);
    assert!(
        imported.notes.len() <= 8,
        "{} notes:\n{}",
        imported.notes.len(),
        imported.notes.join("\n")
    );
    let volumes = note_with(&imported, "`volumes` is not mapped");
    assert!(
        volumes.starts_with("services `s00`, `s01`") && volumes.contains("and 12 more"),
        "{volumes}"
    );
    let shell = note_with(&imported, "take it from the shell");
    assert!(
        shell.contains("`s00` (`SMTP_HOST`, `SMTP_PASS`, `OPENAI_KEY`)"),
        "{shell}"
    );
    note_with(
        &imported,
        "`command` and `entrypoint` are what the container runs",
    );
    assert!(notes_with(&imported, "start_period").is_empty());
    let include = note_with(&imported, "`include`");
    assert!(
        include.contains("`a.yml`") && include.contains("`b.yml + c.yml`"),
        "{include}"
    );
}

/// Defect 9: `iza check` of a manifest without services warns (and still passes).
#[test]
fn a_manifest_without_services_is_warned_about() {
    for (name, text, syntax) in [
        ("empty.toml", "", Syntax::Toml),
        (
            "only.toml",
            "version = 1\n[ecosystem]\nname = \"x\"\n",
            Syntax::Toml,
        ),
        ("empty.yaml", "version: 1\n", Syntax::Yaml),
    ] {
        let checked = check(&SourceFile::new(name, text.to_owned(), syntax));
        let codes: Vec<Code> = checked.diagnostics.iter().map(|d| d.code).collect();
        assert_eq!(codes, [Code::NoServices], "{name}");
        assert!(checked.catalog.is_some(), "{name}: a warning, not an error");
    }
    // An import with services draws no such warning.
    let checked = check_imported(&import_ok("services:\n  web:\n    image: nginx\n"));
    assert!(
        checked
            .diagnostics
            .iter()
            .all(|d| d.code != Code::NoServices)
    );
}

/// A project of the corpus and what its import must hold.
struct CorpusCase {
    dir: &'static str,
    files: &'static [&'static str],
    options: Options,
    services: usize,
    /// (service, its ports).
    ports: &'static [(&'static str, &'static [PortSpec])],
    /// (service, its dependencies).
    depends_on: &'static [(&'static str, &'static [&'static str])],
    /// (service, its image).
    docker: &'static [(&'static str, &'static str)],
    /// Services that must not be there.
    absent: &'static [&'static str],
    /// Each must be part of some note.
    notes: &'static [&'static str],
}

fn corpus_cases() -> Vec<CorpusCase> {
    use PortSpec::Single;
    vec![
        CorpusCase {
            dir: "aliases",
            files: &["docker-compose.yml"],
            options: Options::default(),
            services: 48,
            ports: &[("gateway", &[Single(9000)]), ("web", &[])],
            depends_on: &[
                ("worker-07", &["store", "kv", "broker"]),
                ("consumer-18", &["broker", "columns"]),
                ("gateway", &["web"]),
            ],
            docker: &[
                ("worker-01", "example/platform:24.2.0"),
                ("consumer-03", "example/pipeline:24.1.0"),
            ],
            absent: &[],
            notes: &[
                "services `store`, `kv`, `broker`, `columns`, `web`, `gateway`, `worker-01`, `worker-02`, and 40 more: `restart` is not mapped",
            ],
        },
        CorpusCase {
            dir: "profiles",
            files: &["docker-compose.yaml"],
            options: Options::default(),
            services: 7,
            ports: &[
                ("nginx", &[Single(8088)]),
                ("db_postgres", &[Single(5432)]),
                ("weaviate", &[Single(8080)]),
            ],
            depends_on: &[("api", &["redis"]), ("nginx", &["api", "web"])],
            docker: &[("db_postgres", "postgres:15-alpine")],
            absent: &["db_mysql", "qdrant", "oceanbase", "seekdb", "certbot"],
            notes: &["5 services left out", "`oceanbase` (profile `oceanbase`)"],
        },
        CorpusCase {
            dir: "profiles",
            files: &["docker-compose.yaml"],
            options: profiles(&["oceanbase", "mysql"]),
            services: 7,
            ports: &[
                ("oceanbase", &[Single(2881)]),
                ("db_mysql", &[Single(5432)]),
            ],
            depends_on: &[("api", &["redis"])],
            docker: &[],
            absent: &["db_postgres", "weaviate", "seekdb"],
            notes: &["`weaviate` (profile `` or `weaviate`)"],
        },
        CorpusCase {
            dir: "overrides",
            files: &["compose.yaml", "compose.override.yaml", "compose.prod.yaml"],
            options: Options::default(),
            services: 6,
            ports: &[
                ("web", &[Single(3000)]),
                ("db", &[Single(5432)]),
                ("mail", &[Single(1080)]),
                ("sidekiq", &[]),
            ],
            depends_on: &[
                ("web", &["db", "redis", "mail"]),
                ("sidekiq", &["db", "redis"]),
            ],
            docker: &[
                ("web", "example/social:4.3"),
                ("streaming", "example/social-streaming:4.2"),
            ],
            absent: &[],
            notes: &[],
        },
        CorpusCase {
            dir: "extends",
            files: &["compose.yaml"],
            options: Options::default(),
            services: 5,
            ports: &[
                ("scheduler", &[Single(8793)]),
                ("webserver", &[Single(8081), Single(8080)]),
                ("triggerer", &[]),
            ],
            depends_on: &[("scheduler", &["queue"]), ("webserver", &["queue"])],
            docker: &[
                ("scheduler", "example/python-runtime:3.12"),
                ("webserver", "example/pipelines:2.9.1"),
                ("triggerer", "example/pipelines:2.9.1"),
                ("queue", "redis:7"),
            ],
            absent: &["runtime", "web-base", "worker-base"],
            notes: &[],
        },
        CorpusCase {
            dir: "envfiles",
            files: &["docker-compose.yml"],
            options: Options::default(),
            services: 4,
            ports: &[
                ("kong", &[Single(8000), Single(8443)]),
                ("db", &[Single(5432)]),
                ("studio", &[Single(3000)]),
            ],
            depends_on: &[("kong", &["auth"])],
            docker: &[
                ("kong", "kong:2.8.1"),
                ("studio", "example/studio:2025.01"),
                ("db", "postgres:15"),
            ],
            absent: &[],
            notes: &["`SMTP_PASS` (`auth.environment`)"],
        },
        CorpusCase {
            dir: "envfiles",
            files: &["docker-compose.yml"],
            options: Options {
                env_files: vec![
                    corpus_dir("envfiles").join(".env"),
                    corpus_dir("envfiles").join("staging.env"),
                ],
                ..Options::default()
            },
            services: 4,
            ports: &[
                ("kong", &[Single(18000), Single(8443)]),
                ("studio", &[Single(13000)]),
            ],
            depends_on: &[],
            docker: &[],
            absent: &[],
            notes: &[],
        },
        CorpusCase {
            dir: "include",
            files: &["compose.yaml"],
            options: Options::default(),
            services: 5,
            ports: &[
                ("frontend", &[Single(8080)]),
                ("collector", &[Single(4318)]),
                ("database", &[Single(15432)]),
            ],
            depends_on: &[
                ("frontend", &["collector", "database"]),
                ("grafana", &["prometheus"]),
            ],
            docker: &[("database", "postgres:16")],
            absent: &[],
            notes: &[
                "`include` of `monitoring/compose.yaml` added 3 services",
                "`include` of `db/compose.yaml` added 1 service",
            ],
        },
    ]
}

fn corpus_dir(dir: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/compose/corpus")
        .join(dir)
}

/// The corpus: projects written in the shapes real ones publish (aliases at a large stack's
/// density, exclusive profiles, multi-file overrides, `extends` across files, `.env`
/// defaults, `include`) import with the right services, ports, dependencies and images.
#[test]
fn corpus_projects_import_as_compose_would_run_them() {
    // The aliases fixture has the density that serde-saphyr's default budget refuses.
    let aliases = std::fs::read_to_string(corpus_dir("aliases").join("docker-compose.yml"))
        .expect("the fixture");
    let (refs, anchors) = (aliases.matches("*").count(), aliases.matches(" &").count());
    assert!(
        refs >= 100 && refs > 10 * anchors,
        "{refs} aliases, {anchors} anchors"
    );

    for case in corpus_cases() {
        let what = format!("{} {:?} {:?}", case.dir, case.files, case.options.profiles);
        let imported = import_in(&corpus_dir(case.dir), case.files, &case.options);
        every_note_is_one_line(&imported);
        let catalog = catalog_of_lenient(&imported);
        assert_eq!(
            catalog.services.len(),
            case.services,
            "{what}: {:?}",
            service_ids(&catalog)
        );
        for (id, ports) in case.ports {
            assert_eq!(
                catalog.services[*id].ports, *ports,
                "{what}: ports of `{id}`"
            );
        }
        for (id, deps) in case.depends_on {
            assert_eq!(catalog.services[*id].depends_on, *deps, "{what}: `{id}`");
        }
        for (id, image) in case.docker {
            assert_eq!(
                catalog.services[*id].docker.as_deref(),
                Some(*image),
                "{what}: `{id}`"
            );
        }
        for id in case.absent {
            assert!(
                !catalog.services.contains_key(*id),
                "{what}: `{id}` is there"
            );
        }
        for note in case.notes {
            assert!(
                imported.notes.iter().any(|n| n.contains(note)),
                "{what}: no note contains {note:?}; notes:\n{}",
                imported.notes.join("\n")
            );
        }
        assert!(
            notes_with(&imported, "neither `image` nor `build`").is_empty(),
            "{what}: {:?}",
            imported.notes
        );
    }
}
