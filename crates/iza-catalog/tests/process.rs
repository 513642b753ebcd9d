//! What `iza up` reads from a service: `command`, `workdir`, `restart`, `stop` and the
//! conditions of `depends_on`, in TOML and YAML alike, with their defaults.

use std::time::Duration;

use iza_catalog::model::{ReadyCondition, RestartPolicy, RestartSpec, StopSignal, StopSpec};
use iza_catalog::{SourceFile, Syntax};

const TOML: &str = r#"
version = 1
[services.db]
port = 5432
check = { tcp = "localhost:5432" }
[services.migrate]
command = ["./migrate"]
restart = "never"
depends_on = ["db"]
[services.api]
command = ["iza", "demo-service"]
workdir = "api"
env = { RUST_LOG = "info" }
restart = { policy = "always", max_restarts = 2, backoff = "100ms", max_backoff = "1s", reset_after = "5s" }
stop = { signal = "INT", grace = "3s" }
depends_on = ["db", { service = "migrate", condition = "completed" }]
[services.web]
command = ["./web"]
cwd = "web"
depends_on = [{ service = "api" }]
"#;

const YAML: &str = r#"
version: 1
services:
  db:
    port: 5432
    check: { tcp: "localhost:5432" }
  migrate:
    command: ["./migrate"]
    restart: never
    depends_on: [db]
  api:
    command: ["iza", "demo-service"]
    workdir: api
    env: { RUST_LOG: info }
    restart: { policy: always, max_restarts: 2, backoff: 100ms, max_backoff: 1s, reset_after: 5s }
    stop: { signal: INT, grace: 3s }
    depends_on: [db, { service: migrate, condition: completed }]
  web:
    command: ["./web"]
    cwd: web
    depends_on: [{ service: api }]
"#;

#[test]
fn toml_and_yaml_read_the_same_process_specs() {
    for (name, text, syntax) in [
        ("x.toml", TOML, Syntax::Toml),
        ("x.yaml", YAML, Syntax::Yaml),
    ] {
        let checked = iza_catalog::check(&SourceFile::new(name, text.to_owned(), syntax));
        let errors: Vec<_> = checked.errors().map(|d| d.message.clone()).collect();
        assert!(errors.is_empty(), "{name}: {errors:?}");
        let catalog = checked.catalog.expect("a catalog");
        let s = &catalog.services;
        assert!(s["db"].process.is_none(), "{name}: no command, no process");
        let migrate = s["migrate"].process.as_ref().expect("migrate runs");
        assert_eq!(migrate.restart.policy, RestartPolicy::Never, "{name}");
        assert_eq!(
            migrate.restart.max_restarts,
            RestartSpec::default().max_restarts
        );
        assert_eq!(migrate.stop, StopSpec::default(), "{name}");
        let api = s["api"].process.as_ref().expect("api runs");
        assert_eq!(api.command, ["iza", "demo-service"], "{name}");
        assert_eq!(
            api.restart,
            RestartSpec {
                policy: RestartPolicy::Always,
                max_restarts: 2,
                backoff: Duration::from_millis(100),
                max_backoff: Duration::from_secs(1),
                reset_after: Duration::from_secs(5),
            },
            "{name}"
        );
        assert_eq!(
            api.stop,
            StopSpec {
                signal: StopSignal::Sigint,
                grace: Duration::from_secs(3)
            },
            "{name}"
        );
        assert_eq!(s["api"].workdir.as_deref(), Some("api"), "{name}");
        assert_eq!(
            s["web"].workdir.as_deref(),
            Some("web"),
            "{name}: `cwd` alias"
        );
        // Defaults: `healthy` when the dependency has a check, else `started`.
        let conditions = |id: &str| -> Vec<(String, ReadyCondition)> {
            s[id]
                .dependencies
                .iter()
                .map(|d| (d.service.clone(), d.condition))
                .collect()
        };
        assert_eq!(
            conditions("api"),
            [
                ("db".to_owned(), ReadyCondition::Healthy),
                ("migrate".to_owned(), ReadyCondition::Completed)
            ],
            "{name}"
        );
        assert_eq!(
            conditions("web"),
            [("api".to_owned(), ReadyCondition::Started)],
            "{name}"
        );
        assert_eq!(s["api"].depends_on, ["db", "migrate"], "{name}");
    }
}

#[test]
fn a_table_entry_naming_an_unknown_service_points_at_its_id() {
    for (name, text, syntax, needle) in [
        (
            "x.toml",
            "version = 1\n[services.a]\ndepends_on = [{ service = \"ghost\", condition = \"started\" }]\n",
            Syntax::Toml,
            "\"ghost\"",
        ),
        (
            "x.yaml",
            "version: 1\nservices:\n  a:\n    depends_on: [{ service: ghost, condition: started }]\n",
            Syntax::Yaml,
            "ghost",
        ),
    ] {
        let checked = iza_catalog::check(&SourceFile::new(name, text.to_owned(), syntax));
        let d = checked
            .errors()
            .find(|d| d.code.as_str() == "unknown-reference")
            .unwrap_or_else(|| panic!("{name}: an unknown reference"));
        let span = d.span.clone().expect("a position");
        assert_eq!(&text[span], needle, "{name}");
    }
}
