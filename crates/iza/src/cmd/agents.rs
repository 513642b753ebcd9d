//! `iza agents`, `iza tasks`, `iza run`, `iza runs`, `iza incidents` and `iza resolve`: the
//! agents and their work, asked over the API of the running `iza serve` or `iza up`
//! (`docs/api.md`, "Agents and tasks"). Without a server, `iza agents` and `iza tasks` show
//! what the manifest says (no next run, no figures), `iza runs` and `iza incidents` read the
//! state database, and `iza run` runs the task here, through the state database's queue, with
//! the engine's action code (`iza_runtime::agents::run_local`); `iza resolve` and `iza cancel`
//! need the server.

use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::cli::{
    AgentsArgs, CancelArgs, IncidentsArgs, ResolveArgs, RunArgs, RunsArgs, TextOrJson,
};
use crate::client::ApiClient;
use crate::remote::{self, NoServer};
use crate::table::{self, Align};

pub(super) fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// A client of the running server, or `None` when none runs for the manifest (and none was
/// named): the caller then falls back to the manifest.
pub(super) fn server_if_any(remote: &crate::cli::RemoteArgs) -> Result<Option<ApiClient>> {
    match remote::connect(remote) {
        Ok(client) => Ok(Some(client)),
        Err(err) if err.is::<NoServer>() => Ok(None),
        Err(err) => Err(err),
    }
}

pub(super) fn print_json(value: &Value) -> Result<()> {
    super::print(&(serde_json::to_string_pretty(value)? + "\n"))
}

/// The document `GET path` answers, or the one `offline` builds from the manifest.
fn document(
    args: &AgentsArgs,
    path: &str,
    offline: impl FnOnce(&iza_catalog::Catalog) -> Value,
) -> Result<Value> {
    match server_if_any(&args.remote)? {
        Some(client) => Ok(runtime()?.block_on(client.get(path))?),
        None => {
            let (_, catalog) = crate::manifest_input::catalog(&args.remote.manifest)?;
            eprintln!(
                "note: no `iza up` or `iza serve` runs for this manifest: showing what it says \
                 (no next runs, no figures)"
            );
            Ok(offline(&catalog))
        }
    }
}

pub(crate) fn agents(args: &AgentsArgs) -> Result<ExitCode> {
    let doc = document(args, "/api/v1/agents", |catalog| {
        iza_server::agents::agents_document(catalog, &[])
    })?;
    if let TextOrJson::Json = args.format {
        print_json(&doc)?;
        return Ok(ExitCode::SUCCESS);
    }
    super::print(&agent_tree(&doc))?;
    Ok(ExitCode::SUCCESS)
}

/// The tier tree: each agent under the one it reports to, with its services, tasks and open
/// incidents.
fn agent_tree(doc: &Value) -> String {
    let agents = doc["agents"].as_array().cloned().unwrap_or_default();
    let ids: Vec<&str> = agents.iter().filter_map(|a| a["id"].as_str()).collect();
    let mut out = String::new();
    // Roots: agents that report to nobody, or to an agent that is not listed.
    let roots: Vec<&Value> = agents
        .iter()
        .filter(|a| {
            a["reports_to"]
                .as_str()
                .is_none_or(|boss| !ids.contains(&boss))
        })
        .collect();
    // Iterative depth-first walk (a deep reporting chain must not overflow the stack).
    let mut stack: Vec<(&Value, usize)> = roots.into_iter().rev().map(|a| (a, 0)).collect();
    let mut seen = std::collections::HashSet::new();
    while let Some((agent, depth)) = stack.pop() {
        let id = agent["id"].as_str().unwrap_or_default();
        if !seen.insert(id) {
            continue;
        }
        let indent = "  ".repeat(depth);
        let _ = writeln!(
            out,
            "{indent}{id} (tier {}) {}",
            agent["tier"],
            agent["name"].as_str().unwrap_or_default()
        );
        let list = |key: &str| -> String {
            agent[key]
                .as_array()
                .map(|items| {
                    items
                        .iter()
                        .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default()
        };
        for (label, key) in [
            ("services", "services"),
            ("groups", "groups"),
            ("tasks", "tasks"),
        ] {
            let items = list(key);
            if !items.is_empty() {
                let _ = writeln!(out, "{indent}  {label}: {items}");
            }
        }
        let incidents = list("open_incidents");
        if !incidents.is_empty() {
            let _ = writeln!(out, "{indent}  open incidents: {incidents}");
        }
        let reports: Vec<&Value> = agents
            .iter()
            .filter(|a| a["reports_to"].as_str() == Some(id))
            .collect();
        for report in reports.into_iter().rev() {
            stack.push((report, depth + 1));
        }
    }
    out
}

pub(crate) fn tasks(args: &AgentsArgs) -> Result<ExitCode> {
    let doc = document(args, "/api/v1/tasks", |catalog| {
        iza_server::agents::tasks_document(catalog, &[], None)
    })?;
    if let TextOrJson::Json = args.format {
        print_json(&doc)?;
        return Ok(ExitCode::SUCCESS);
    }
    let now = iza_runtime::now_millis();
    let tasks = doc["tasks"].as_array().cloned().unwrap_or_default();
    let rows: Vec<Vec<String>> = tasks
        .iter()
        .map(|t| {
            let kind = t["kind"].as_str().unwrap_or_default();
            let enabled = t["enabled"].as_bool().unwrap_or(true);
            vec![
                t["key"].as_str().unwrap_or_default().to_owned(),
                t["priority"].as_str().unwrap_or_default().to_owned(),
                trigger_text(t),
                match (kind, enabled) {
                    ("documented", _) => "documented (no `run`)".to_owned(),
                    (_, false) => format!("{} (disabled)", t["action"].as_str().unwrap_or(kind)),
                    _ => t["action"].as_str().unwrap_or(kind).to_owned(),
                },
                t["next_run"]
                    .as_i64()
                    .map(|at| format!("in {}", table::human(at - now)))
                    .unwrap_or_default(),
                t["last"]["state"].as_str().unwrap_or_default().to_owned(),
                t["success_rate"]
                    .as_f64()
                    .map(|rate| format!("{:.0}%", rate * 100.0))
                    .unwrap_or_default(),
            ]
        })
        .collect();
    let columns = [
        ("TASK", Align::Left),
        ("PRIORITY", Align::Left),
        ("TRIGGER", Align::Left),
        ("ACTION", Align::Left),
        ("NEXT", Align::Right),
        ("LAST", Align::Left),
        ("SUCCESS", Align::Right),
    ];
    super::print(&table::render(&columns, &rows))?;
    Ok(ExitCode::SUCCESS)
}

/// `every 30s`, `cron 0 0 2 * * * (Europe/Paris)`, `on down of n8n`, combined with `+`.
fn trigger_text(task: &Value) -> String {
    let mut parts = Vec::new();
    match &task["schedule"] {
        Value::Object(schedule) => {
            if let Some(every) = schedule.get("every").and_then(Value::as_str) {
                parts.push(format!("every {every}"));
            } else if let Some(cron) = schedule.get("cron") {
                let expression = cron["expression"]
                    .as_str()
                    .or_else(|| cron.as_str())
                    .unwrap_or_default();
                match cron["timezone"].as_str() {
                    Some(zone) => parts.push(format!("cron {expression} ({zone})")),
                    None => parts.push(format!("cron {expression}")),
                }
            }
        }
        Value::Null => {}
        other => parts.push(other.to_string()),
    }
    if let Value::Object(on) = &task["on"] {
        let scope: Vec<String> = ["services", "groups"]
            .iter()
            .filter_map(|key| on.get(*key).and_then(Value::as_array))
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect();
        let what = match &on.get("kind") {
            Some(Value::Object(kind)) => kind
                .iter()
                .map(|(name, value)| match value {
                    Value::Array(words) => format!(
                        "{name} {}",
                        words
                            .iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join("|")
                    ),
                    _ => name.clone(),
                })
                .collect::<Vec<_>>()
                .join(" "),
            Some(Value::String(kind)) => kind.clone(),
            _ => "event".to_owned(),
        };
        if scope.is_empty() {
            parts.push(format!("on {what}"));
        } else {
            parts.push(format!("on {what} of {}", scope.join(", ")));
        }
    }
    if parts.is_empty() {
        "on demand".to_owned()
    } else {
        parts.join(" + ")
    }
}

pub(super) fn need_server(remote: &crate::cli::RemoteArgs) -> Result<ApiClient> {
    remote::connect(remote)
}

/// The document `GET path` answers, or, when no server runs for the manifest, the same read
/// from its state database (the history outlives the server; nothing is written but the
/// schema's migrations).
pub(super) fn history<F, Fut>(
    remote: &crate::cli::RemoteArgs,
    path: &str,
    offline: F,
) -> Result<Value>
where
    F: FnOnce(iza_store::SqliteStore) -> Fut,
    Fut: std::future::Future<Output = Result<Value, iza_store::StoreError>>,
{
    let runtime = runtime()?;
    if let Some(client) = server_if_any(remote)? {
        return Ok(runtime.block_on(client.get(path))?);
    }
    let manifest = iza_catalog::resolve(&remote.manifest.path)?;
    let db = crate::manifest_input::state_db(&manifest);
    if !db.is_file() {
        bail!(
            "no `iza up` or `iza serve` runs for `{}`, and it has no state database yet\n\
             hint: start one with `iza up {}`",
            manifest.display(),
            remote.manifest.path.display()
        );
    }
    eprintln!(
        "note: no `iza up` or `iza serve` runs for this manifest: reading `{}`",
        db.display()
    );
    let store = runtime.block_on(iza_store::SqliteStore::open(&db))?;
    Ok(runtime.block_on(offline(store))?)
}

/// The longest one long poll waits; `iza run` polls again until its own deadline.
const POLL: Duration = Duration::from_secs(30);

pub(crate) fn run(args: &RunArgs) -> Result<ExitCode> {
    let Some(client) = server_if_any(&args.remote)? else {
        return run_here(args);
    };
    let runtime = runtime()?;
    let queued: Value =
        runtime.block_on(client.post_json("/api/v1/runs", &json!({ "task": args.task })))?;
    let id = queued["id"]
        .as_i64()
        .context("the server answered a run without an `id`")?;
    if args.no_wait {
        if let TextOrJson::Json = args.format {
            print_json(&queued)?;
        } else {
            super::print(&format!("queued run {id} of `{}`\n", args.task))?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let deadline = Instant::now() + args.timeout;
    let run = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let wait = left.min(POLL);
        let run: Value = runtime.block_on(client.get_waiting(
            &format!("/api/v1/runs/{id}?wait={}", wait.as_secs_f64()),
            wait,
        ))?;
        let state = run["state"].as_str().unwrap_or_default();
        if matches!(state, "succeeded" | "failed" | "cancelled") {
            break run;
        }
        if left.is_zero() {
            bail!(
                "run {id} of `{}` has not finished after {}: it is `{state}`\n\
                 hint: follow it with `iza runs --task {}`",
                args.task,
                humantime::format_duration(args.timeout),
                run["task"].as_str().unwrap_or(&args.task)
            );
        }
    };
    if let TextOrJson::Json = args.format {
        print_json(&run)?;
    } else {
        super::print(&run_summary(&run))?;
    }
    Ok(match run["state"].as_str() {
        Some("succeeded") => ExitCode::SUCCESS,
        _ => ExitCode::FAILURE,
    })
}

/// `iza run` when no server runs for the manifest: the run goes through the state
/// database's queue and its action runs in this process (`iza_runtime::agents::run_local`).
fn run_here(args: &RunArgs) -> Result<ExitCode> {
    let manifest = iza_catalog::resolve(&args.remote.manifest.path)?;
    if args.no_wait {
        bail!(
            "`--no-wait` needs a running server: no `iza up` or `iza serve` runs for `{}`, and \
             without one nothing would run the queued run\n\
             hint: start one with `iza up {}`, or drop `--no-wait` to run the task here and wait",
            manifest.display(),
            args.remote.manifest.path.display()
        );
    }
    let (_, catalog) = crate::manifest_input::catalog(&args.remote.manifest)?;
    // The store a server of this manifest would use (its `[store] url`, else the state
    // database beside it), so that the run joins that queue and its history.
    let location = super::serve::store_location(None, None, &catalog, &manifest)?;
    if let iza_store::StoreLocation::Sqlite(db) = &location
        && let Some(dir) = db.parent().filter(|d| !d.as_os_str().is_empty())
    {
        // As `iza serve` makes it: only its owner may read it.
        use std::os::unix::fs::DirBuilderExt as _;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("cannot create the directory `{}`", dir.display()))?;
    }
    let base_dir = manifest
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    eprintln!(
        "note: no `iza up` or `iza serve` runs for this manifest: running `{}` here, in this \
         process, through the queue of `{location}`",
        args.task,
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let launcher = super::serve::guarded_launcher();
    let run = runtime.block_on(async {
        let store = super::serve::open_store(&location).await?;
        let catalog = std::sync::Arc::new(catalog);
        let prober = std::sync::Arc::new(iza_probe::Prober::new(iza_probe::ProberOptions {
            base_dir: base_dir.clone(),
            launcher: launcher.clone(),
            ..iza_probe::ProberOptions::default()
        }));
        // The monitor is there for `check` actions (their result goes through the status
        // board and is recorded); its own probes spread over each check's first interval.
        let monitor = std::sync::Arc::new(
            iza_runtime::Monitor::start(
                catalog.clone(),
                prober,
                store.clone(),
                iza_runtime::MonitorOptions {
                    first_probe_within: None,
                    ..iza_runtime::MonitorOptions::default()
                },
            )
            .await
            .context("cannot start the monitor")?,
        );
        let options = iza_runtime::agents::AgentsOptions::new(
            iza_runtime::agents::worker_id(),
            iza_runtime::Launch {
                self_exe: std::env::current_exe().ok(),
                base_dir,
                launcher,
            },
        );
        let run = tokio::time::timeout(
            args.timeout,
            iza_runtime::agents::run_local(
                catalog,
                store,
                monitor.clone(),
                options,
                &args.task,
                json!({ "kind": "manual", "by": "iza run", "local": true }),
            ),
        )
        .await;
        monitor.shutdown(Duration::from_secs(5)).await;
        match run {
            Ok(run) => Ok(run?),
            Err(_) => bail!(
                "the run of `{}` has not finished after {}; it was stopped\n\
                 hint: raise `--timeout`, or start a server (`iza up`) to run it there",
                args.task,
                humantime::format_duration(args.timeout)
            ),
        }
    })?;
    let run = serde_json::to_value(&run)?;
    if let TextOrJson::Json = args.format {
        print_json(&run)?;
    } else {
        super::print(&run_summary(&run))?;
    }
    Ok(match run["state"].as_str() {
        Some("succeeded") => ExitCode::SUCCESS,
        _ => ExitCode::FAILURE,
    })
}

fn run_summary(run: &Value) -> String {
    let mut out = String::new();
    let duration = match (run["started_at"].as_i64(), run["finished_at"].as_i64()) {
        (Some(start), Some(end)) => format!(" in {} ms", end - start),
        _ => String::new(),
    };
    let _ = writeln!(
        out,
        "run {} of `{}`: {} (attempt {}){duration}",
        run["id"],
        run["task"].as_str().unwrap_or_default(),
        run["state"].as_str().unwrap_or_default(),
        run["attempt"],
    );
    if let Some(error) = run["error"].as_str() {
        let _ = writeln!(out, "error: {error}");
    }
    if let Some(output) = run["output"].as_str().filter(|o| !o.is_empty()) {
        let _ = writeln!(out, "{}", output.trim_end());
    }
    out
}

pub(crate) fn runs(args: &RunsArgs) -> Result<ExitCode> {
    let mut path = format!("/api/v1/runs?limit={}", args.limit);
    if let Some(task) = &args.task {
        let _ = write!(path, "&task={}", encode(task));
    }
    if args.failed {
        path.push_str("&state=failed");
    }
    let query = iza_store::RunQuery {
        task: args.task.clone(),
        agent: None,
        states: if args.failed {
            vec![iza_store::RunState::Failed]
        } else {
            Vec::new()
        },
        before: None,
        limit: args.limit,
    };
    let doc = history(&args.remote, &path, |store| async move {
        use iza_store::Store as _;
        Ok(json!({ "runs": store.runs(&query).await? }))
    })?;
    if let TextOrJson::Json = args.format {
        print_json(&doc)?;
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<Vec<String>> = doc["runs"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|run| {
            let duration = match (run["started_at"].as_i64(), run["finished_at"].as_i64()) {
                (Some(start), Some(end)) => format!("{} ms", end - start),
                _ => String::new(),
            };
            let tail = run["error"]
                .as_str()
                .or_else(|| run["output"].as_str())
                .map(|text| last_line(text, 60))
                .unwrap_or_default();
            vec![
                run["id"].to_string(),
                run["task"].as_str().unwrap_or_default().to_owned(),
                run["state"].as_str().unwrap_or_default().to_owned(),
                run["attempt"].to_string(),
                duration,
                tail,
            ]
        })
        .collect();
    let columns = [
        ("RUN", Align::Right),
        ("TASK", Align::Left),
        ("STATE", Align::Left),
        ("ATTEMPT", Align::Right),
        ("DURATION", Align::Right),
        ("OUTPUT", Align::Left),
    ];
    super::print(&table::render(&columns, &rows))?;
    Ok(ExitCode::SUCCESS)
}

/// The last non-empty line of `text`, cut to `max` characters.
fn last_line(text: &str, max: usize) -> String {
    let line = text
        .lines()
        .rev()
        .find(|line| !line.trim().is_empty())
        .unwrap_or_default()
        .trim();
    if line.chars().count() > max {
        let cut: String = line.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    } else {
        line.to_owned()
    }
}

fn encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

pub(crate) fn incidents(args: &IncidentsArgs) -> Result<ExitCode> {
    let path = if args.all {
        "/api/v1/incidents".to_owned()
    } else {
        "/api/v1/incidents?open=true".to_owned()
    };
    let query = iza_store::IncidentQuery {
        open_only: !args.all,
        task: None,
        before: None,
        limit: 100,
    };
    let doc = history(&args.remote, &path, |store| async move {
        use iza_store::Store as _;
        Ok(json!({ "incidents": store.incidents(&query).await? }))
    })?;
    if let TextOrJson::Json = args.format {
        print_json(&doc)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = String::new();
    let incidents = doc["incidents"].as_array().cloned().unwrap_or_default();
    if incidents.is_empty() {
        out.push_str(if args.all {
            "no incidents\n"
        } else {
            "no open incidents\n"
        });
    }
    for incident in &incidents {
        let _ = writeln!(
            out,
            "incident {} [{}] task `{}`: {}",
            incident["id"],
            incident["state"].as_str().unwrap_or_default(),
            incident["task"].as_str().unwrap_or_default(),
            incident["reason"].as_str().unwrap_or_default(),
        );
        let chain: Vec<String> = incident["chain"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|step| {
                format!(
                    "{} ({})",
                    step["agent"].as_str().unwrap_or_default(),
                    step["outcome"].as_str().unwrap_or_default()
                )
            })
            .collect();
        let owner = incident["agent"].as_str().unwrap_or("-");
        if chain.is_empty() {
            let _ = writeln!(out, "  owner: {owner}");
        } else {
            let _ = writeln!(out, "  chain: {owner} -> {}", chain.join(" -> "));
        }
        if let Some(resolution) = incident["resolution"].as_str() {
            let _ = writeln!(out, "  resolved: {resolution}");
        }
    }
    super::print(&out)?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn resolve(args: &ResolveArgs) -> Result<ExitCode> {
    let client = need_server(&args.remote)?;
    let by = args
        .by
        .clone()
        .unwrap_or_else(|| "a person, with `iza resolve`".to_owned());
    let incident: Value = runtime()?.block_on(client.post_json(
        &format!("/api/v1/incidents/{}/resolve", args.incident),
        &json!({ "by": by }),
    ))?;
    super::print(&format!(
        "incident {} of `{}` is {}\n",
        incident["id"],
        incident["task"].as_str().unwrap_or_default(),
        incident["state"].as_str().unwrap_or_default()
    ))?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn cancel(args: &CancelArgs) -> Result<ExitCode> {
    let client = need_server(&args.remote)?;
    let by = args
        .by
        .clone()
        .unwrap_or_else(|| "a person, with `iza cancel`".to_owned());
    let run: Value = runtime()?.block_on(client.post_json(
        &format!("/api/v1/runs/{}/cancel", args.run),
        &json!({ "by": by }),
    ))?;
    if let TextOrJson::Json = args.format {
        print_json(&run)?;
    } else {
        super::print(&format!(
            "run {} of `{}` is {}\n",
            run["id"],
            run["task"].as_str().unwrap_or_default(),
            run["state"].as_str().unwrap_or_default()
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triggers_read_as_words() {
        let cases = [
            (json!({"schedule": {"every": "30s"}}), "every 30s"),
            (
                json!({"schedule": {"cron": {"expression": "0 2 * * *", "timezone": "Europe/Paris"}}}),
                "cron 0 2 * * * (Europe/Paris)",
            ),
            (json!({}), "on demand"),
        ];
        for (task, expected) in cases {
            assert_eq!(trigger_text(&task), expected, "{task}");
        }
    }

    #[test]
    fn the_tree_nests_reports_under_their_boss() {
        let doc = json!({"agents": [
            {"id": "boss", "tier": 1, "name": "Boss", "reports_to": null, "services": [], "groups": [], "tasks": ["boss/t"], "open_incidents": [3]},
            {"id": "w", "tier": 2, "name": "Worker", "reports_to": "boss", "services": ["db"], "groups": [], "tasks": [], "open_incidents": []},
        ]});
        let text = agent_tree(&doc);
        assert!(text.starts_with("boss (tier 1) Boss\n"), "{text}");
        assert!(text.contains("  open incidents: 3\n"), "{text}");
        assert!(
            text.contains("\n  w (tier 2) Worker\n    services: db\n"),
            "{text}"
        );
    }

    #[test]
    fn the_last_line_is_cut_to_width() {
        assert_eq!(last_line("a\nbcdef\n\n", 4), "bcd…");
        assert_eq!(last_line("ok\n", 10), "ok");
    }
}
