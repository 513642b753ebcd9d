//! Tasks as the scheduler reads them (docs/manifest.md, "Tasks"): every key with its
//! default, in TOML and YAML alike; every action and trigger; placeholders left for the
//! runtime; and each mistake reported with its code, at the value that is wrong.

use std::path::PathBuf;
use std::time::Duration;

use iza_catalog::model::{
    Action, CatchUp, ExecAction, HttpAction, Priority, RetryFailedAction, Schedule, Task, Trigger,
    TriggerKind, WorkflowAction,
};
use iza_catalog::{Catalog, Severity, SourceFile, Syntax};

/// Services, groups and agents every case shares; the case's tasks go under `ops`.
const BASE: &str = r#"
version = 1
[groups.core]
name = "Core"
[services.web]
port = 3000
group = "core"
[services.worker]
command = ["./worker"]
group = "core"
[services.n8n]
kind = "workflow-engine"
port = 5678
workflows = { engine = "n8n", url = "http://localhost:5678", api_key = "${N8N_API_KEY}" }
[agents.boss]
tier = 1
[agents.ops]
tier = 2
reports_to = "boss"
groups = ["core"]
"#;

fn check(name: &str, text: &str, syntax: Syntax) -> iza_catalog::Checked {
    iza_catalog::check(&SourceFile::new(name, text.to_owned(), syntax))
}

fn with_tasks(tasks: &str) -> String {
    format!("{BASE}tasks = [\n  {tasks},\n]\n")
}

fn compile(text: &str) -> Catalog {
    let checked = check("dir/iza.toml", text, Syntax::Toml);
    let errors: Vec<_> = checked.errors().map(|d| d.message.clone()).collect();
    assert!(errors.is_empty(), "{errors:?}\n{text}");
    checked.catalog.expect("a catalog")
}

/// `fixtures/tasks/all-keys.{toml,yaml}`: every key, action and trigger, compiled as if the
/// manifest were in `dir/`.
fn full(syntax: Syntax) -> Catalog {
    let ext = match syntax {
        Syntax::Toml => "toml",
        Syntax::Yaml => "yaml",
    };
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("../../fixtures/tasks/all-keys.{ext}"));
    let text = std::fs::read_to_string(path).unwrap();
    let name = format!("dir/iza.{ext}");
    let checked = check(&name, &text, syntax);
    let errors: Vec<_> = checked.errors().map(|d| d.message.clone()).collect();
    assert!(errors.is_empty(), "{name}: {errors:?}");
    let warnings: Vec<_> = checked.warnings().map(|d| d.message.clone()).collect();
    assert!(warnings.is_empty(), "{name}: {warnings:?}");
    checked.catalog.expect("a catalog")
}

#[test]
fn toml_and_yaml_read_every_key_the_same() {
    let toml = full(Syntax::Toml);
    let yaml = full(Syntax::Yaml);
    assert_eq!(toml.tasks, yaml.tasks);
    let tasks = &toml.tasks;
    let keys: Vec<&str> = tasks.iter().map(|t| t.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "ops/nightly-backup",
            "ops/restart-worker",
            "ops/tell-n8n",
            "ops/handle-escalations",
            "ops/write-report",
            "ops/start-worker",
            "ops/stop-worker",
            "ops/review-by-a-person",
            "ops/probe-web",
            "ops/old-style-http",
            "ops/responsibility",
        ]
    );

    let backup = &tasks[0];
    assert_eq!(backup.priority, Priority::Low);
    assert_eq!(
        backup.schedule,
        Some(Schedule::Cron {
            expression: "0 30 2 * * *".to_owned(),
            timezone: Some("Europe/Berlin".to_owned()),
        })
    );
    assert_eq!(backup.catch_up, CatchUp::All { limit: 3 });
    assert_eq!(
        backup.action,
        Some(Action::Exec(ExecAction {
            argv: vec![
                "sqlite3".into(),
                "iza.db".into(),
                ".backup backups/{task}.db".into()
            ],
            env: [("REASON".to_owned(), "{reason}".to_owned())]
                .into_iter()
                .collect(),
            cwd: Some(PathBuf::from("dir/data")),
            shell: false,
        }))
    );
    assert_eq!(backup.timeout, Duration::from_secs(600));
    assert_eq!(backup.retries, 2);
    assert_eq!(backup.backoff, Duration::from_secs(1));
    assert_eq!(backup.backoff_max, Duration::from_secs(60));
    assert_eq!(backup.concurrency, 2);
    assert!(backup.enabled);
    assert_eq!(backup.on, None);

    let restart = &tasks[1];
    assert_eq!(
        restart.on,
        Some(Trigger {
            kind: TriggerKind::Process(vec!["failed".into(), "exited".into()]),
            services: vec!["worker".into()],
            groups: vec![],
            workflows: vec![],
        }),
        "state words are read case-insensitively and kept lower-case"
    );
    assert_eq!(restart.action, Some(Action::Restart("worker".into())));
    assert_eq!(restart.schedule, None);

    let n8n = &tasks[2];
    let on = n8n.on.as_ref().unwrap();
    assert_eq!(on.kind, TriggerKind::Status(vec!["down".into()]));
    assert!(on.matches_service("web", Some("core")));
    assert!(!on.matches_service("other", Some("elsewhere")));
    assert_eq!(
        n8n.schedule,
        Some(Schedule::Every(Duration::from_secs(300)))
    );
    assert_eq!(n8n.catch_up, CatchUp::One);
    let Some(Action::Http(http)) = &n8n.action else {
        panic!("an http action: {:?}", n8n.action);
    };
    assert_eq!(http.method, "POST");
    assert_eq!(http.url, "http://localhost:5678/webhook/{service}");
    assert_eq!(http.headers["X-Status"], "{status}");
    assert_eq!(
        http.body.as_deref(),
        Some(r#"{"service":"{service}","reason":"{reason}"}"#)
    );
    assert_eq!(http.conditions.len(), 1);

    let escalations = &tasks[3];
    assert_eq!(
        escalations.on.as_ref().map(|o| &o.kind),
        Some(&TriggerKind::Escalation)
    );
    assert!(!escalations.enabled);
    assert!(matches!(&escalations.action, Some(Action::Exec(e)) if e.shell && e.argv.len() == 1));

    assert_eq!(
        tasks[4].action,
        Some(Action::Report(PathBuf::from("dir/reports/live.md"))),
        "a relative report path is resolved against the manifest's directory"
    );
    assert_eq!(tasks[5].action, Some(Action::Start("worker".into())));
    assert_eq!(tasks[6].action, Some(Action::Stop("worker".into())));
    assert_eq!(tasks[7].action, Some(Action::External));
    assert_eq!(tasks[8].action, Some(Action::Check("web".into())));
    assert_eq!(
        tasks[9].action,
        Some(Action::Http(HttpAction {
            method: "GET".into(),
            url: "http://localhost:3000/".into(),
            headers: Default::default(),
            body: None,
            conditions: vec![],
        })),
        "the old `run = {{ http = \"URL\" }}` keeps working"
    );

    let plain = &tasks[10];
    assert_eq!(plain.action, None);
    assert_eq!(plain.priority, Priority::Medium);
    assert_eq!(plain.timeout, Duration::from_secs(300));
    assert_eq!(plain.retries, 0);
    assert_eq!(plain.backoff, Duration::from_secs(5));
    assert_eq!(plain.backoff_max, Duration::from_secs(300));
    assert_eq!(plain.concurrency, 1);
    assert!(plain.enabled);
    assert_eq!(plain.catch_up, CatchUp::Skip);
}

#[test]
fn catch_up_all_without_a_limit_caps_at_100() {
    let catalog = compile(&with_tasks(
        r#"{ name = "t", every = "1m", catch_up = "all" }"#,
    ));
    assert_eq!(catalog.tasks[0].catch_up, CatchUp::All { limit: 100 });
}

#[test]
fn absolute_paths_stay_and_stdin_manifests_resolve_nothing() {
    let text = with_tasks(
        r#"{ name = "a", run = { report = "/var/iza/report.md" } }, { name = "b", run = { exec = ["true"], cwd = "/tmp" } }, { name = "c", run = { report = "r.md" } }"#,
    );
    let catalog = compile(&text);
    assert_eq!(
        catalog.tasks[0].action,
        Some(Action::Report("/var/iza/report.md".into()))
    );
    assert!(
        matches!(&catalog.tasks[1].action, Some(Action::Exec(e)) if e.cwd.as_deref() == Some("/tmp".as_ref()))
    );
    let stdin = check("-", &text, Syntax::Toml).catalog.unwrap();
    assert_eq!(stdin.tasks[2].action, Some(Action::Report("r.md".into())));
}

#[test]
fn tasks_are_found_by_key_and_by_name() {
    let text = format!(
        "{}\n[[tasks]]\nname = \"Weekly Review!\"\n\n[[tasks]]\nname = \"Audit\"\nagent = \"boss\"\n",
        with_tasks(r#"{ name = "Rotate Logs" }"#)
    );
    let catalog = compile(&text);
    let keys: Vec<&str> = catalog.tasks.iter().map(|t| t.key.as_str()).collect();
    assert_eq!(keys, ["ops/rotate-logs", "weekly-review", "boss/audit"]);
    let cases: &[(&str, Option<&str>)] = &[
        ("ops/rotate-logs", Some("ops/rotate-logs")),
        ("ops/Rotate Logs", Some("ops/rotate-logs")),
        ("ops/ROTATE-logs", Some("ops/rotate-logs")),
        ("OPS/rotate logs", Some("ops/rotate-logs")),
        ("weekly review", Some("weekly-review")),
        ("weekly-review", Some("weekly-review")),
        ("boss/Audit", Some("boss/audit")),
        ("audit", None),
        ("ops/audit", None),
        ("boss/rotate-logs", None),
        ("nobody/rotate-logs", None),
    ];
    for (query, expected) in cases {
        let found = catalog.find_task(query).map(|t| t.key.as_str());
        assert_eq!(found, *expected, "{query}");
    }
    assert_eq!(
        catalog.task("ops/rotate-logs").map(|t| t.name.as_str()),
        Some("Rotate Logs")
    );
    assert!(
        catalog.task("ops/Rotate Logs").is_none(),
        "`task` is by key only"
    );
}

#[test]
fn placeholders_are_allowed_wherever_the_runtime_substitutes_them() {
    for run in [
        r#"{ http = "POST http://{service}:8080/hooks/{status}?reason={reason}" }"#,
        r#"{ http = "GET http://localhost/{agent}/{task}/{incident}", headers = { A = "{service}" }, body = "{reason}" }"#,
        r#"{ exec = ["notify", "{service}", "{status}"], env = { WHY = "{reason}" } }"#,
        r#"{ exec = ["echo {service} is {status}: {reason}"], shell = true }"#,
    ] {
        let text = with_tasks(&format!(
            r#"{{ name = "t", on = {{ status = "down" }}, run = {run} }}"#
        ));
        let catalog = compile(&text);
        assert!(catalog.tasks[0].action.is_some(), "{run}");
    }
}

#[test]
fn tasks_serialize_as_the_api_shows_them() {
    let catalog = full(Syntax::Toml);
    let json = |key: &str| serde_json::to_value(catalog.task(key).unwrap()).unwrap();
    let backup = json("ops/nightly-backup");
    assert_eq!(
        backup["schedule"],
        serde_json::json!({ "cron": { "expression": "0 30 2 * * *", "timezone": "Europe/Berlin" } })
    );
    assert_eq!(
        backup["catch_up"],
        serde_json::json!({ "mode": "all", "limit": 3 })
    );
    assert_eq!(backup["backoff"], "1s");
    assert_eq!(backup["timeout"], "10m");
    assert_eq!(backup["action"]["exec"]["argv"][0], "sqlite3");
    let restart = json("ops/restart-worker");
    assert_eq!(
        restart["on"],
        serde_json::json!({ "kind": { "process": ["failed", "exited"] }, "services": ["worker"], "groups": [] })
    );
    assert_eq!(
        restart["action"],
        serde_json::json!({ "restart": "worker" })
    );
    assert_eq!(json("ops/handle-escalations")["on"]["kind"], "escalation");
    assert_eq!(json("ops/review-by-a-person")["action"], "external");
    assert_eq!(
        json("ops/tell-n8n")["schedule"],
        serde_json::json!({ "every": "5m" })
    );
}

/// One mistake per case: the task (under agent `ops`), the code, the severity, and the
/// exact text the diagnostic points at.
#[test]
fn each_mistake_is_reported_with_its_code_at_its_value() {
    use Severity::{Error, Warning};
    let cases: &[(&str, &str, &str, Severity, &str)] = &[
        // Schedules.
        (
            "bad timezone",
            r#"{ name = "t", cron = "0 0 2 * * *", timezone = "Europe/Berlinn" }"#,
            "invalid-schedule",
            Error,
            r#""Europe/Berlinn""#,
        ),
        (
            "timezone without cron",
            r#"{ name = "t", every = "1m", timezone = "UTC" }"#,
            "invalid-schedule",
            Error,
            r#""UTC""#,
        ),
        (
            "catch_up_limit without all",
            r#"{ name = "t", every = "1m", catch_up = "one", catch_up_limit = 5 }"#,
            "invalid-schedule",
            Error,
            "5",
        ),
        (
            "catch_up_limit without catch_up",
            r#"{ name = "t", every = "1m", catch_up_limit = 7 }"#,
            "invalid-schedule",
            Error,
            "7",
        ),
        (
            "catch_up_limit zero",
            r#"{ name = "t", every = "1m", catch_up = "all", catch_up_limit = 0 }"#,
            "invalid-schedule",
            Error,
            "0",
        ),
        (
            "catch_up without a schedule",
            r#"{ name = "t", catch_up = "one", on = { status = "down" } }"#,
            "invalid-schedule",
            Warning,
            r#""one""#,
        ),
        (
            "unknown catch_up",
            r#"{ name = "t", every = "1m", catch_up = "some" }"#,
            "invalid-value",
            Error,
            r#""some""#,
        ),
        (
            "every and cron",
            r#"{ name = "t", every = "1m", cron = "0 * * * *" }"#,
            "invalid-schedule",
            Error,
            r#""0 * * * *""#,
        ),
        // Run policy.
        (
            "concurrency zero",
            r#"{ name = "t", concurrency = 0 }"#,
            "invalid-value",
            Error,
            "0",
        ),
        (
            "backoff above its cap",
            r#"{ name = "t", backoff = "10m", backoff_max = "1m" }"#,
            "invalid-value",
            Error,
            r#""10m""#,
        ),
        (
            "backoff above the default cap",
            r#"{ name = "t", backoff = "1h" }"#,
            "invalid-value",
            Error,
            r#""1h""#,
        ),
        (
            "backoff not a duration",
            r#"{ name = "t", backoff = "soon" }"#,
            "invalid-value",
            Error,
            r#""soon""#,
        ),
        (
            "backoff_max zero",
            r#"{ name = "t", backoff_max = "0s" }"#,
            "invalid-value",
            Error,
            r#""0s""#,
        ),
        (
            "enabled not a bool",
            r#"{ name = "t", enabled = "yes" }"#,
            "invalid-value",
            Error,
            r#""yes""#,
        ),
        (
            "name without letters",
            r#"{ name = "!!!" }"#,
            "invalid-value",
            Error,
            r#""!!!""#,
        ),
        (
            "two names, one key",
            r#"{ name = "Rotate logs" }, { name = "rotate-logs" }"#,
            "duplicate-id",
            Error,
            r#""rotate-logs""#,
        ),
        // Triggers.
        (
            "unknown status word",
            r#"{ name = "t", on = { status = "dwn" } }"#,
            "invalid-trigger",
            Error,
            r#""dwn""#,
        ),
        (
            "unknown status word in a list",
            r#"{ name = "t", on = { status = ["down", "sideways"] } }"#,
            "invalid-trigger",
            Error,
            r#""sideways""#,
        ),
        (
            "empty status list",
            r#"{ name = "t", on = { status = [] } }"#,
            "invalid-trigger",
            Error,
            "[]",
        ),
        (
            "unknown process state",
            r#"{ name = "t", on = { process = "crashed", services = ["worker"] } }"#,
            "invalid-trigger",
            Error,
            r#""crashed""#,
        ),
        (
            "two trigger kinds",
            r#"{ name = "t", on = { status = "down", process = "failed" } }"#,
            "invalid-trigger",
            Error,
            r#"{ status = "down", process = "failed" }"#,
        ),
        (
            "no trigger kind",
            r#"{ name = "t", on = { services = ["web"] } }"#,
            "invalid-trigger",
            Error,
            r#"{ services = ["web"] }"#,
        ),
        (
            "escalation false",
            r#"{ name = "t", on = { escalation = false } }"#,
            "invalid-trigger",
            Error,
            "false",
        ),
        (
            "escalation narrowed",
            r#"{ name = "t", on = { escalation = true, services = ["web"] } }"#,
            "invalid-trigger",
            Error,
            r#""web""#,
        ),
        (
            "process state of an unsupervised service",
            r#"{ name = "t", on = { process = "failed", services = ["web"] } }"#,
            "invalid-trigger",
            Warning,
            r#""web""#,
        ),
        (
            "on names an unknown service",
            r#"{ name = "t", on = { status = "down", services = ["wbe"] } }"#,
            "unknown-reference",
            Error,
            r#""wbe""#,
        ),
        (
            "on names an unknown group",
            r#"{ name = "t", on = { status = "down", groups = ["cor"] } }"#,
            "unknown-reference",
            Error,
            r#""cor""#,
        ),
        (
            "unknown key in on",
            r#"{ name = "t", on = { status = "down", service = ["web"] } }"#,
            "unknown-key",
            Error,
            "service",
        ),
        // Actions.
        (
            "two action keys",
            r#"{ name = "t", run = { check = "web", exec = ["true"] } }"#,
            "invalid-action",
            Error,
            r#"["true"]"#,
        ),
        (
            "no action key",
            r#"{ name = "t", run = { body = "x" } }"#,
            "invalid-action",
            Error,
            r#"{ body = "x" }"#,
        ),
        (
            "shell with several arguments",
            r#"{ name = "t", run = { exec = ["echo", "hi"], shell = true } }"#,
            "invalid-action",
            Error,
            r#"["echo", "hi"]"#,
        ),
        (
            "empty exec",
            r#"{ name = "t", run = { exec = [] } }"#,
            "invalid-action",
            Error,
            "[]",
        ),
        (
            "http modifier on exec",
            r#"{ name = "t", run = { exec = ["true"], headers = { A = "b" } } }"#,
            "invalid-action",
            Error,
            r#"{ A = "b" }"#,
        ),
        (
            "exec modifier on http",
            r#"{ name = "t", run = { http = "http://localhost/", cwd = "x" } }"#,
            "invalid-action",
            Error,
            r#""x""#,
        ),
        (
            "bad http condition",
            r#"{ name = "t", run = { http = "http://localhost/", conditions = ["[STATUS] =! 200"] } }"#,
            "invalid-action",
            Error,
            r#""[STATUS] =! 200""#,
        ),
        (
            "http without scheme",
            r#"{ name = "t", run = { http = "POST localhost:5678/{service}" } }"#,
            "invalid-action",
            Error,
            r#""POST localhost:5678/{service}""#,
        ),
        (
            "restart without command",
            r#"{ name = "t", run = { restart = "web" } }"#,
            "invalid-action",
            Error,
            r#""web""#,
        ),
        (
            "start without command",
            r#"{ name = "t", run = { start = "web" } }"#,
            "invalid-action",
            Error,
            r#""web""#,
        ),
        (
            "stop without command",
            r#"{ name = "t", run = { stop = "web" } }"#,
            "invalid-action",
            Error,
            r#""web""#,
        ),
        (
            "restart of an unknown service",
            r#"{ name = "t", run = { restart = "wroker" } }"#,
            "unknown-reference",
            Error,
            r#""wroker""#,
        ),
        (
            "empty report path",
            r#"{ name = "t", run = { report = " " } }"#,
            "invalid-action",
            Error,
            r#"" ""#,
        ),
        (
            "external false",
            r#"{ name = "t", run = { external = false } }"#,
            "invalid-action",
            Error,
            "false",
        ),
        (
            "unknown key in run",
            r#"{ name = "t", run = { exec = ["x"], shel = true } }"#,
            "unknown-key",
            Error,
            "shel",
        ),
        // Workflow actions and triggers.
        (
            "workflow without a service",
            r#"{ name = "t", run = { workflow = "Lead enrichment" } }"#,
            "invalid-action",
            Error,
            r#""Lead enrichment""#,
        ),
        (
            "workflow of an unknown service",
            r#"{ name = "t", run = { workflow = "n9n/Lead enrichment" } }"#,
            "unknown-reference",
            Error,
            r#""n9n/Lead enrichment""#,
        ),
        (
            "retry_failed of a service without an engine",
            r#"{ name = "t", run = { retry_failed = "web/x" } }"#,
            "invalid-action",
            Error,
            r#""web/x""#,
        ),
        (
            "retry_failed without a workflow",
            r#"{ name = "t", run = { retry_failed = "n8n/ " } }"#,
            "invalid-action",
            Error,
            r#""n8n/ ""#,
        ),
        (
            "limit 0",
            r#"{ name = "t", run = { retry_failed = "n8n/x", limit = 0 } }"#,
            "invalid-action",
            Error,
            "0",
        ),
        (
            "limit with workflow",
            r#"{ name = "t", run = { workflow = "n8n/x", limit = 3 } }"#,
            "invalid-action",
            Error,
            "3",
        ),
        (
            "data with retry_failed",
            r#"{ name = "t", run = { retry_failed = "n8n/x", data = { a = 1 } } }"#,
            "invalid-action",
            Error,
            "{ a = 1 }",
        ),
        (
            "unknown workflow event",
            r#"{ name = "t", on = { workflow = "failled" }, run = { retry_failed = "n8n/{workflow}" } }"#,
            "invalid-trigger",
            Error,
            r#""failled""#,
        ),
        (
            "workflows narrowing a status trigger",
            r#"{ name = "t", on = { status = "down", workflows = ["x"] } }"#,
            "invalid-trigger",
            Error,
            r#""x""#,
        ),
        (
            "empty workflow name in on",
            r#"{ name = "t", on = { workflow = "failed", workflows = [" "] } }"#,
            "invalid-trigger",
            Error,
            r#"" ""#,
        ),
        (
            "workflow trigger on a service without an engine",
            r#"{ name = "t", on = { workflow = "failed", services = ["web"] }, run = { check = "web" } }"#,
            "invalid-trigger",
            Warning,
            r#""web""#,
        ),
    ];
    for (what, task, code, severity, needle) in cases {
        let text = with_tasks(task);
        let checked = check("x.toml", &text, Syntax::Toml);
        let found = checked
            .diagnostics
            .iter()
            .find(|d| d.code.as_str() == *code)
            .unwrap_or_else(|| {
                panic!(
                    "{what}: no `{code}` in {:?}",
                    checked
                        .diagnostics
                        .iter()
                        .map(|d| (d.code.as_str(), d.message.as_str()))
                        .collect::<Vec<_>>()
                )
            });
        assert_eq!(found.severity, *severity, "{what}: {}", found.message);
        let span = found
            .span
            .clone()
            .unwrap_or_else(|| panic!("{what}: no position"));
        let at = &text[span.clone()];
        let at = at.trim_end_matches(|c: char| c == '=' || c.is_whitespace());
        assert_eq!(at, *needle, "{what}: {}", found.message);
        // The span lies inside the case's own line, so line and column point at the task.
        let task_line = text.lines().position(|l| l.contains(task)).unwrap() + 1;
        let source = SourceFile::new("x.toml", text.clone(), Syntax::Toml);
        assert_eq!(source.line_column(span.start).line, task_line, "{what}");
        assert!(!found.hints.is_empty(), "{what}: a hint says what to do");
        assert_eq!(checked.catalog.is_some(), *severity == Warning, "{what}");
    }
}

/// `run = { workflow }`, `run = { retry_failed }` and `on = { workflow = "failed" }` as the
/// runtime reads them: the target split into service and workflow, `limit` 10 by default,
/// `data` kept as written (placeholders too), `{service}/{workflow}` left for the run.
#[test]
fn workflow_actions_and_triggers_compile() {
    let text = with_tasks(
        r#"{ name = "start", run = { workflow = "n8n/Lead enrichment #0002", data = { customer = "{service}", n = 3, nested = { ok = true } } } },
  { name = "retry", run = { retry_failed = " n8n / abc123 " } },
  { name = "on failure", on = { workflow = "failed", services = ["n8n"], workflows = ["abc123", "Lead enrichment"] }, run = { retry_failed = "{service}/{workflow}", limit = 3 } }"#,
    );
    let catalog = compile(&text);
    let action = |key: &str| catalog.task(key).unwrap().action.clone().unwrap();
    let Action::Workflow(start) = action("ops/start") else {
        panic!("a workflow action")
    };
    assert_eq!(
        start,
        WorkflowAction {
            service: "n8n".into(),
            workflow: "Lead enrichment #0002".into(),
            data: serde_json::from_value(serde_json::json!({
                "customer": "{service}", "n": 3, "nested": { "ok": true }
            }))
            .unwrap(),
        }
    );
    assert_eq!(
        action("ops/retry"),
        Action::RetryFailed(RetryFailedAction {
            service: "n8n".into(),
            workflow: "abc123".into(),
            limit: 10,
        })
    );
    let task = catalog.task("ops/on-failure").unwrap();
    assert_eq!(
        task.on,
        Some(Trigger {
            kind: TriggerKind::Workflow(vec!["failed".into()]),
            services: vec!["n8n".into()],
            groups: vec![],
            workflows: vec!["abc123".into(), "Lead enrichment".into()],
        })
    );
    assert_eq!(
        task.action,
        Some(Action::RetryFailed(RetryFailedAction {
            service: "{service}".into(),
            workflow: "{workflow}".into(),
            limit: 3,
        }))
    );
    // The API shows them; a literal in `data` may be a secret, so its values are masked.
    let redacted = iza_catalog::redact::Redact::redacted(catalog.task("ops/start").unwrap());
    let json = serde_json::to_value(redacted).unwrap();
    assert_eq!(json["action"]["workflow"]["data"]["customer"], "***");
    let report = iza_catalog::export::report::render(&catalog);
    assert!(
        report.contains("on workflow `failed` of `n8n`, `abc123`, `Lead enrichment`"),
        "{report}"
    );
}

#[test]
fn hints_name_the_closest_known_word() {
    let cases = [
        (r#"{ name = "t", on = { status = "dwon" } }"#, "`down`"),
        (r#"{ name = "t", on = { process = "faild" } }"#, "`failed`"),
        (
            r#"{ name = "t", cron = "0 2 * * *", timezone = "America/New_Yrok" }"#,
            "`America/New_York`",
        ),
        (
            r#"{ name = "t", on = { status = "down", services = ["webb"] } }"#,
            "`web`",
        ),
        (
            r#"{ name = "t", run = { exec = ["x"], shel = true } }"#,
            "`shell`",
        ),
        (r#"{ name = "t", on = { statsu = "down" } }"#, "`status`"),
    ];
    for (task, hint) in cases {
        let checked = check("x.toml", &with_tasks(task), Syntax::Toml);
        let hints: Vec<&String> = checked.diagnostics.iter().flat_map(|d| &d.hints).collect();
        assert!(hints.iter().any(|h| h.contains(hint)), "{task}: {hints:?}");
    }
}

#[test]
fn yaml_mistakes_point_at_their_values_too() {
    let text = r#"
version: 1
services:
  web: { port: 3000 }
agents:
  ops:
    tier: 2
    services: [web]
    tasks:
      - name: t
        on: { status: [down, sideways] }
      - name: u
        cron: "0 2 * * *"
        timezone: Mars/Olympus
      - name: v
        run: { exec: [a, b], shell: true }
"#;
    let checked = check("x.yaml", text, Syntax::Yaml);
    // A YAML flow sequence is pointed at by its opening bracket.
    let at: Vec<(&str, &str)> = checked
        .diagnostics
        .iter()
        .map(|d| {
            let span = d.span.clone().unwrap();
            let end = if &text[span.clone()] == "[" {
                span.start + text[span.start..].find(']').unwrap() + 1
            } else {
                span.end
            };
            (d.code.as_str(), &text[span.start..end])
        })
        .collect();
    assert_eq!(
        at,
        [
            ("invalid-trigger", "sideways"),
            ("invalid-schedule", "Mars/Olympus"),
            ("invalid-action", "[a, b]"),
        ]
    );
}

#[test]
fn a_cron_expression_validates_as_before() {
    for (cron, ok) in [
        ("0 0 2 * * *", true),
        ("*/5 * * * *", true),
        ("0 9 * * MON-FRI", true),
        ("61 * * * *", false),
        ("not cron", false),
    ] {
        let text = with_tasks(&format!(
            r#"{{ name = "t", cron = "{cron}", timezone = "UTC" }}"#
        ));
        let checked = check("x.toml", &text, Syntax::Toml);
        assert_eq!(
            checked.catalog.is_some(),
            ok,
            "{cron}: {:?}",
            checked.diagnostics
        );
        if let Some(catalog) = checked.catalog {
            let task: &Task = &catalog.tasks[0];
            assert_eq!(
                task.schedule,
                Some(Schedule::Cron {
                    expression: cron.to_owned(),
                    timezone: Some("UTC".to_owned())
                })
            );
        }
    }
}

/// The example of docs/manifest.md ("Tasks") is valid with the services it names.
#[test]
fn the_documented_example_is_valid() {
    let docs = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/manifest.md"),
    )
    .unwrap();
    let start = docs
        .find("[agents.error-handler]")
        .expect("docs/manifest.md has the example");
    let example = &docs[start..start + docs[start..].find("```").unwrap()];
    let text = format!(
        r#"
version = 1
[groups.workflow-engines]
[services.n8n]
group = "workflow-engines"
command = ["./n8n"]
[agents.service-managers]
tier = 2
groups = ["workflow-engines"]
{example}"#
    );
    let catalog = compile(&text);
    assert_eq!(catalog.tasks.len(), 5);
    assert!(catalog.tasks.iter().all(|t| t.action.is_some()));
}

/// `iza schema` describes the task keys as the parser reads them.
#[test]
fn the_schema_knows_every_task_key() {
    let schema = iza_catalog::schema();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let cases = [
        (r#"{ name = "t", on = { status = "down" } }"#, true),
        (
            r#"{ name = "t", on = { status = ["down", "up"], groups = ["core"] } }"#,
            true,
        ),
        (r#"{ name = "t", on = { escalation = true } }"#, true),
        (r#"{ name = "t", on = { status = 5 } }"#, false),
        (r#"{ name = "t", on = { when = "down" } }"#, false),
        (
            r#"{ name = "t", catch_up = "all", catch_up_limit = 3 }"#,
            true,
        ),
        (r#"{ name = "t", catch_up = "some" }"#, false),
        (r#"{ name = "t", concurrency = "two" }"#, false),
        (
            r#"{ name = "t", enabled = false, backoff = "1s", backoff_max = "1m" }"#,
            true,
        ),
        (
            r#"{ name = "t", run = { exec = ["a"], env = { A = "b" }, cwd = "x", shell = false } }"#,
            true,
        ),
        (
            r#"{ name = "t", run = { http = "POST http://x/", headers = { A = "b" }, body = "x", conditions = ["[STATUS] == 200"] } }"#,
            true,
        ),
        (r#"{ name = "t", run = { external = true } }"#, true),
        (r#"{ name = "t", run = { report = "r.md" } }"#, true),
        (r#"{ name = "t", run = { start = "w" } }"#, true),
        (r#"{ name = "t", run = { external = "yes" } }"#, false),
        (r#"{ name = "t", run = { launch = "w" } }"#, false),
        (
            r#"{ name = "t", run = { workflow = "n8n/x", data = { a = "b", n = 1, l = [1] } } }"#,
            true,
        ),
        (
            r#"{ name = "t", run = { workflow = "n8n/x", data = "text" } }"#,
            false,
        ),
        (
            r#"{ name = "t", run = { retry_failed = "n8n/x", limit = 3 } }"#,
            true,
        ),
        (
            r#"{ name = "t", run = { retry_failed = "n8n/x", limit = "3" } }"#,
            false,
        ),
        (
            r#"{ name = "t", on = { workflow = "failed", services = ["n8n"], workflows = ["a"] } }"#,
            true,
        ),
        (r#"{ name = "t", on = { workflow = 1 } }"#, false),
    ];
    for (task, valid) in cases {
        let json: serde_json::Value = toml::from_str(&with_tasks(task)).unwrap();
        assert_eq!(validator.is_valid(&json), valid, "{task}");
        let parsed =
            iza_catalog::parse_raw(&SourceFile::new("x.toml", with_tasks(task), Syntax::Toml));
        assert_eq!(parsed.is_ok(), valid, "the parser agrees on {task}");
    }
}

/// The analysis report says when a task runs: its schedule and its trigger.
#[test]
fn the_report_names_schedules_and_triggers() {
    let catalog = full(Syntax::Toml);
    let report = iza_catalog::export::report::render(&catalog);
    for phrase in [
        "cron `0 30 2 * * *` (Europe/Berlin)",
        "on process `failed` or `exited` of `worker`",
        "every 5m; on status `down` of `core`",
        "on escalation",
    ] {
        assert!(
            report.contains(phrase),
            "`{phrase}` is missing from:\n{report}"
        );
    }
}
