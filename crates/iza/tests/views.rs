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
    assert_eq!(nodes.len(), 30, "one node per service");
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
