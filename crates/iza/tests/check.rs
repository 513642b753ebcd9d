//! `iza check` and `iza schema` as a user runs them: exit codes, text and JSON output.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn iza(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_iza"))
        .args(args)
        .current_dir(root())
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("iza runs");
    let mut pipe = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        pipe.write_all(text.as_bytes()).unwrap();
    }
    drop(pipe);
    child.wait_with_output().unwrap()
}

fn json(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

#[test]
fn exit_codes_follow_the_outcome() {
    let cases: &[(&[&str], i32)] = &[
        (&["check", "examples/iza-os"], 0),
        (&["check", "examples/iza-os/iza.toml"], 0),
        (&["check", "fixtures/bad/unwatched-service.toml"], 0),
        (&["check", "fixtures/bad/port-conflict.toml"], 1),
        (&["check", "fixtures/bad/unknown-key.yaml"], 1),
        (&["check", "fixtures/bad/syntax-error.toml"], 2),
        (&["check", "fixtures/bad/syntax-error.yaml"], 2),
        (&["check", "no/such/file.toml"], 2),
        (&["check", "fixtures"], 2),
        (
            &[
                "check",
                "fixtures/bad/port-conflict.toml",
                "--format",
                "json",
            ],
            1,
        ),
        (&["check", "no/such/file.toml", "--format", "json"], 2),
    ];
    for (args, code) in cases {
        let out = iza(args, None);
        assert_eq!(
            out.status.code(),
            Some(*code),
            "iza {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn json_output_lists_errors_and_warnings_with_positions() {
    let out = iza(
        &[
            "check",
            "fixtures/bad/port-conflict.toml",
            "--format",
            "json",
        ],
        None,
    );
    let report = json(&out);
    let errors = report["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 3, "{report:#}");
    for e in errors {
        assert_eq!(e["code"], "port-conflict");
        assert_eq!(e["file"], "fixtures/bad/port-conflict.toml");
        assert!(e["line"].as_u64().unwrap() > 1 && e["column"].as_u64().unwrap() >= 1);
        assert!(!e["message"].as_str().unwrap().is_empty());
    }
    assert_eq!(errors[0]["line"], 10);
    assert_eq!(errors[0]["column"], 8);
    assert!(report["warnings"].as_array().unwrap().is_empty());

    let out = iza(&["check", "no/such/file.toml", "--format", "json"], None);
    let report = json(&out);
    assert_eq!(report["errors"][0]["code"], "read-error");
}

#[test]
fn text_output_names_file_line_column_and_a_hint() {
    let out = iza(&["check", "fixtures/bad/unknown-key.toml"], None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("error[unknown-key]: unknown key `prot`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("fixtures/bad/unknown-key.toml:5:1"),
        "{stderr}"
    );
    assert!(stderr.contains("hint: did you mean `port`?"), "{stderr}");
    assert!(out.stdout.is_empty(), "diagnostics go to stderr");

    let out = iza(&["check", "examples/iza-os"], None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("is valid: 32 services"), "{stderr}");

    let out = iza(&["check", "fixtures"], None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("error: `fixtures` holds no manifest"),
        "{stderr}"
    );
    assert!(stderr.contains("hint: "), "{stderr}");
}

#[test]
fn standard_input_is_read_as_toml_or_yaml() {
    let toml = "[services.a]\nport = 3000\n[services.b]\nport = 3000\n";
    let out = iza(&["check", "-", "--format", "json"], Some(toml));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json(&out)["errors"][0]["code"], "port-conflict");
    assert_eq!(json(&out)["errors"][0]["file"], "<stdin>");

    let yaml = "services:\n  a:\n    port: 3000\nagents:\n  ops:\n    tier: 2\n    services: [a]\n";
    let out = iza(&["check", "-", "--syntax", "yaml"], Some(yaml));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn schema_is_json_schema_of_the_manifest() {
    let out = iza(&["schema"], None);
    assert!(out.status.success());
    let schema = json(&out);
    assert!(
        schema["$schema"]
            .as_str()
            .unwrap()
            .contains("json-schema.org")
    );
    for key in [
        "version",
        "ecosystem",
        "groups",
        "services",
        "agents",
        "tasks",
        "flows",
        "channels",
    ] {
        assert!(schema["properties"].get(key).is_some(), "top-level `{key}`");
    }
    assert_eq!(
        schema["additionalProperties"], false,
        "unknown keys are refused"
    );
}

/// `iza import compose f.yml > out.toml; iza check out.toml` after a failed import checks an
/// empty file: it passes (exit 0) with a `no-services` warning, never silently (issue 17).
#[test]
fn a_manifest_without_services_passes_with_a_warning() {
    let out = iza(&["check", "-"], Some(""));
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("warning[no-services]"), "{stderr}");
    assert!(stderr.contains("1 warning"), "{stderr}");

    let out = iza(
        &["check", "fixtures/bad/no-services.toml", "--format", "json"],
        None,
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(json(&out)["warnings"][0]["code"], "no-services");
}
