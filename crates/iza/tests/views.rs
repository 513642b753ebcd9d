//! `iza import`, `iza graph`, `iza ports` and `iza report` as a user runs them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn iza(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_iza"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("iza runs")
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[test]
fn graph_formats_describe_the_same_graph() {
    let json: serde_json::Value = serde_json::from_str(&stdout(&iza(&[
        "graph",
        "examples/iza-os",
        "--format",
        "json",
    ])))
    .unwrap();
    let nodes = json["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 32, "one node per service");
    let edges = json["edges"].as_array().unwrap();
    let kinds: std::collections::BTreeSet<&str> =
        edges.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    for kind in ["depends", "connects", "flow", "owns"] {
        assert!(
            kinds.iter().any(|k| k.eq_ignore_ascii_case(kind)),
            "{kind} edges in {kinds:?}"
        );
    }
    let dot = stdout(&iza(&["graph", "examples/iza-os", "--format", "dot"]));
    assert!(dot.contains("digraph \"IZA OS\" {"), "{dot}");
    assert_eq!(dot.matches('{').count(), dot.matches('}').count());
    let mermaid = stdout(&iza(&["graph", "examples/iza-os", "--format", "mermaid"]));
    assert!(mermaid.contains("\nflowchart LR\n"), "{mermaid}");
}

#[test]
fn graph_report_and_ports_refuse_an_invalid_manifest_under_strict() {
    for verb in ["graph", "report", "ports"] {
        let out = iza(&[verb, "fixtures/bad/port-conflict.toml", "--strict"]);
        assert_eq!(out.status.code(), Some(2), "{verb}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("error[port-conflict]"), "{verb}: {stderr}");
        assert!(stderr.contains("run `iza check"), "{verb}: {stderr}");
    }
}

/// The seed document, imported as it is, has a port conflict and ports outside its range:
/// `iza report`, `iza graph` and `iza ports` show what could be read (exit 0), with a
/// warning on stderr; the report lists every problem with its code and position.
#[test]
fn graph_report_and_ports_show_an_imported_seed_with_its_problems() {
    let imported = iza(&["import", "markdown", "fixtures/markdown/seed.md"]);
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("seed.toml");
    std::fs::write(&manifest, stdout(&imported)).unwrap();
    let manifest = manifest.to_str().unwrap();
    let checked = iza(&["check", manifest, "--format", "json"]);
    assert_eq!(checked.status.code(), Some(1), "the seed has errors");
    let checked: serde_json::Value = serde_json::from_slice(&checked.stdout).unwrap();
    let errors = checked["errors"].as_array().unwrap();
    assert!(
        errors.iter().any(|e| e["code"] == "port-conflict"),
        "{checked:#}"
    );

    let out = iza(&["report", manifest]);
    let report = stdout(&out);
    assert!(report.contains("\n## Problems found\n"), "{report}");
    for e in errors.iter().chain(checked["warnings"].as_array().unwrap()) {
        let at = format!(
            "`{}` at {manifest}:{}:{}: ",
            e["code"].as_str().unwrap(),
            e["line"],
            e["column"]
        );
        assert!(report.contains(&at), "`{at}` missing from the report");
    }
    for name in ["Grafana", "Nginx"] {
        assert!(report.contains(name), "`{name}` missing from the report");
    }
    for out in [
        out,
        iza(&["graph", manifest, "--format", "json"]),
        iza(&["ports", manifest]),
    ] {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(&format!(
                "warning: `{manifest}` has {} errors",
                errors.len()
            )),
            "{stderr}"
        );
    }
    let graph: serde_json::Value =
        serde_json::from_str(&stdout(&iza(&["graph", manifest, "--format", "json"]))).unwrap();
    assert_eq!(
        graph["nodes"].as_array().unwrap().len(),
        30,
        "one node per service"
    );

    // A text that cannot be parsed is still refused.
    let broken = dir.path().join("broken.toml");
    std::fs::write(&broken, "version = 1\n[services.a\n").unwrap();
    for verb in ["graph", "report", "ports"] {
        let out = iza(&[verb, broken.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{verb}");
    }
}

#[test]
fn ports_show_conflicts_even_when_check_fails() {
    let out = iza(&[
        "ports",
        "fixtures/bad/port-conflict.toml",
        "--format",
        "json",
    ]);
    let map: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(map["conflicts"].as_array().unwrap().len(), 3, "{map:#}");
    let text = stdout(&iza(&["ports", "examples/iza-os"]));
    assert!(text.contains("conflicts: none"), "{text}");
}

#[test]
fn report_names_every_service_of_the_example() {
    let report = stdout(&iza(&["report", "examples/iza-os"]));
    let text = std::fs::read_to_string(root().join("examples/iza-os/iza.toml")).unwrap();
    let manifest: toml::Table = toml::from_str(&text).unwrap();
    for (_, service) in manifest["services"].as_table().unwrap() {
        let name = service["name"].as_str().unwrap();
        assert!(report.contains(name), "`{name}` missing from the report");
    }
}

#[test]
fn imports_print_a_manifest_that_checks_and_notes_on_stderr() {
    let cases = [
        ("compose", "fixtures/compose/web-stack.yml"),
        ("markdown", "fixtures/markdown/seed.md"),
    ];
    for (from, file) in cases {
        let out = iza(&["import", from, file]);
        let manifest = stdout(&out);
        assert!(manifest.contains("[services."), "{from}: {manifest}");
        let dir =
            std::env::temp_dir().join(format!("iza-import-test-{}-{from}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("iza.toml");
        std::fs::write(&path, &manifest).unwrap();
        let checked = iza(&["check", path.to_str().unwrap(), "--format", "json"]);
        let report: serde_json::Value = serde_json::from_slice(&checked.stdout).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        for e in report["errors"].as_array().unwrap() {
            let code = e["code"].as_str().unwrap();
            assert!(
                from == "markdown" && matches!(code, "port-conflict" | "port-out-of-range"),
                "{from}: unexpected {e}"
            );
        }
    }
    let out = iza(&["import", "compose", "README.md"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a document that is not compose is refused"
    );
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: cannot import `README.md`"));
}

#[test]
fn the_report_shows_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("iza.toml");
    std::fs::write(
        &manifest,
        r#"version = 1
[services.queue]
description = "The broker"
metadata = { broker = "amqp://app:meta-pw-3141@mq:5672", api_key = "meta-key-2718", owner = "ops" }
"#,
    )
    .unwrap();
    let report = stdout(&iza(&["report", manifest.to_str().unwrap()]));
    for secret in ["meta-pw-3141", "meta-key-2718"] {
        assert!(
            !report.contains(secret),
            "the report shows `{secret}`:\n{report}"
        );
    }
    // Markdown escapes the mask: `\*\*\*`.
    assert!(report.contains(r"amqp://app:\*\*\*@mq:5672"), "{report}");
    assert!(report.contains("ops"), "other metadata stays: {report}");
}

/// `iza import compose` on a project as compose runs it (issue 17): several files merged,
/// `--profile` repeatable, the shell's `COMPOSE_PROFILES`, `--env-file`; the services left
/// out named once on stderr; every note one line; then `iza check` accepts the manifest.
#[test]
fn compose_projects_import_with_files_profiles_and_env_files() {
    let run = |args: &[&str], profiles: Option<&str>| -> (String, String) {
        let mut command = Command::new(env!("CARGO_BIN_EXE_iza"));
        command
            .args(args)
            .current_dir(root())
            .env_remove("COMPOSE_PROFILES");
        if let Some(profiles) = profiles {
            command.env("COMPOSE_PROFILES", profiles);
        }
        let out = command.output().expect("iza runs");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        (stdout(&out), stderr)
    };
    let services = |manifest: &str| -> Vec<String> {
        let table: toml::Table = manifest.parse().expect("the manifest is TOML");
        table["services"]
            .as_table()
            .map(|s| s.keys().cloned().collect())
            .unwrap_or_default()
    };
    let profiles = "fixtures/compose/corpus/profiles/docker-compose.yaml";

    // The `.env` beside the file names the profiles: weaviate and postgresql.
    let (manifest, stderr) = run(&["import", "compose", profiles], None);
    assert!(
        services(&manifest).contains(&"weaviate".to_owned()),
        "{manifest}"
    );
    assert!(
        manifest.contains("ports = [8088]"),
        "nginx's port from .env: {manifest}"
    );
    assert_eq!(
        stderr.matches("left out, as `docker compose up`").count(),
        1,
        "{stderr}"
    );
    for line in stderr.lines() {
        assert!(line.starts_with("note: "), "one line per note: {line:?}");
    }

    // `--profile`, repeated, wins over the shell's `COMPOSE_PROFILES`, which wins over `.env`.
    let (manifest, _) = run(
        &[
            "import",
            "compose",
            profiles,
            "--profile",
            "qdrant",
            "--profile",
            "mysql",
        ],
        Some("oceanbase"),
    );
    let ids = services(&manifest);
    assert!(
        ids.contains(&"qdrant".to_owned()) && ids.contains(&"db_mysql".to_owned()),
        "{ids:?}"
    );
    assert!(!ids.contains(&"oceanbase".to_owned()), "{ids:?}");
    let (manifest, _) = run(&["import", "compose", profiles], Some("oceanbase"));
    let ids = services(&manifest);
    assert!(
        ids.contains(&"oceanbase".to_owned()) && !ids.contains(&"weaviate".to_owned()),
        "{ids:?}"
    );

    // Several files, merged in order.
    let dir = "fixtures/compose/corpus/overrides";
    let files = ["compose.yaml", "compose.override.yaml", "compose.prod.yaml"]
        .map(|f| format!("{dir}/{f}"));
    let mut args = vec!["import", "compose"];
    args.extend(files.iter().map(String::as_str));
    let (manifest, _) = run(&args, None);
    assert_eq!(
        services(&manifest),
        ["web", "streaming", "db", "redis", "mail", "sidekiq"]
    );
    assert!(
        manifest.contains("docker = \"example/social:4.3\""),
        "{manifest}"
    );

    // `--env-file`, repeatable, replaces the `.env`.
    let dir = "fixtures/compose/corpus/envfiles";
    let (manifest, _) = run(
        &[
            "import",
            "compose",
            &format!("{dir}/docker-compose.yml"),
            "--env-file",
            &format!("{dir}/.env"),
            "--env-file",
            &format!("{dir}/staging.env"),
        ],
        None,
    );
    let table: toml::Table = manifest.parse().expect("the manifest is TOML");
    assert_eq!(
        table["services"]["kong"]["ports"],
        toml::Value::Array(vec![18000.into(), 8443.into()]),
        "{manifest}"
    );

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("iza.toml");
    std::fs::write(&path, &manifest).unwrap();
    let checked = iza(&["check", path.to_str().unwrap()]);
    assert_eq!(
        checked.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&checked.stderr)
    );
}
