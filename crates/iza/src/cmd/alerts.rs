//! `iza alerts`, `iza silence` and `iza ack`: alerting, asked over the API of the running
//! `iza serve` or `iza up` (`docs/alerts.md`). Without a server, `iza alerts` reads the state
//! database; `iza silence` and `iza ack` need the server, whose engine applies them.

use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::{Result, bail};
use serde_json::{Value, json};

use super::agents::{history, need_server, print_json, runtime};
use crate::cli::{AckArgs, AlertsArgs, SilenceArgs, TextOrJson};

fn who(by: &Option<String>) -> String {
    by.clone()
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "someone, with `iza`".to_owned())
}

fn list(value: &Value) -> String {
    value
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

pub(crate) fn alerts(args: &AlertsArgs) -> Result<ExitCode> {
    let path = if args.all {
        "/api/v1/alerts".to_owned()
    } else {
        "/api/v1/alerts?open=true".to_owned()
    };
    let query = iza_store::AlertQuery {
        open_only: !args.all,
        service: None,
        before: None,
        limit: 100,
    };
    let doc = history(&args.remote, &path, |store| async move {
        use iza_store::Store as _;
        Ok(json!({ "alerts": store.alerts(&query).await? }))
    })?;
    if let TextOrJson::Json = args.format {
        print_json(&doc)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = String::new();
    let alerts = doc["alerts"].as_array().cloned().unwrap_or_default();
    if alerts.is_empty() {
        out.push_str(if args.all {
            "no alerts\n"
        } else {
            "no open alerts\n"
        });
    }
    for alert in &alerts {
        let s = |key: &str| alert[key].as_str().unwrap_or_default().to_owned();
        let mut flags = Vec::new();
        if let Some(by) = alert["acknowledged_by"].as_str() {
            flags.push(format!("acknowledged by {by}"));
        }
        if let Some(why) = alert["suppressed_by"].as_str() {
            flags.push(format!("suppressed ({why})"));
        }
        let _ = writeln!(
            out,
            "alert {} [{} {}] `{}` is {}{} (rule `{}`)",
            alert["id"],
            s("state"),
            s("severity"),
            s("service"),
            s("status"),
            if flags.is_empty() {
                String::new()
            } else {
                format!("; {}", flags.join("; "))
            },
            s("rule"),
        );
        let impacted = list(&alert["impacted"]);
        if !impacted.is_empty() {
            let _ = writeln!(out, "  impacted: {impacted}");
        }
        let escalated = list(&alert["escalated_to"]);
        if !escalated.is_empty() {
            let _ = writeln!(out, "  escalated to: {escalated}");
        }
        if let Some(reason) = alert["reason"].as_str() {
            let _ = writeln!(out, "  reason: {reason}");
        }
    }
    super::print(&out)?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn silence(args: &SilenceArgs) -> Result<ExitCode> {
    let client = need_server(&args.remote)?;
    let runtime = runtime()?;
    if args.list {
        let doc: Value = runtime.block_on(client.get("/api/v1/silences"))?;
        let mut out = String::new();
        let silences = doc["silences"].as_array().cloned().unwrap_or_default();
        if silences.is_empty() {
            out.push_str("no silences\n");
        }
        let now = iza_runtime::now_millis();
        for s in &silences {
            let ends = s["ends_at"].as_i64().unwrap_or_default();
            let _ = writeln!(
                out,
                "silence {} {} {} by {}: {}",
                s["id"],
                s["matchers"],
                if ends > now {
                    format!("ends in {}s", (ends - now) / 1000)
                } else {
                    "ended".to_owned()
                },
                s["created_by"].as_str().unwrap_or_default(),
                s["comment"].as_str().unwrap_or_default(),
            );
        }
        super::print(&out)?;
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(id) = args.expire {
        let s: Value = runtime.block_on(client.delete(&format!("/api/v1/silences/{id}")))?;
        super::print(&format!("silence {} ended\n", s["id"]))?;
        return Ok(ExitCode::SUCCESS);
    }
    let Some(comment) = &args.comment else {
        bail!("a silence needs a reason\nhint: add `--comment \"upgrading the database\"`");
    };
    let mut matchers = serde_json::Map::new();
    for (key, value) in [
        ("service", &args.service),
        ("group", &args.group),
        ("tag", &args.tag),
        ("rule", &args.rule),
    ] {
        if let Some(v) = value {
            matchers.insert(key.to_owned(), json!(v));
        }
    }
    if matchers.is_empty() {
        bail!(
            "a silence needs at least one matcher\nhint: add `--service ID`, `--group ID`, \
             `--tag TAG` or `--rule NAME`"
        );
    }
    let s: Value = runtime.block_on(client.post_json(
        "/api/v1/silences",
        &json!({
            "matchers": matchers,
            "duration": args.duration,
            "created_by": who(&args.by),
            "comment": comment,
        }),
    ))?;
    super::print(&format!(
        "silence {} created: {} for {}\n",
        s["id"], s["matchers"], args.duration
    ))?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn ack(args: &AckArgs) -> Result<ExitCode> {
    let client = need_server(&args.remote)?;
    let alert: Value = runtime()?.block_on(client.post_json(
        &format!("/api/v1/alerts/{}/ack", args.alert),
        &json!({ "by": who(&args.by) }),
    ))?;
    super::print(&format!(
        "alert {} on `{}` acknowledged by {}\n",
        alert["id"],
        alert["service"].as_str().unwrap_or_default(),
        alert["acknowledged_by"].as_str().unwrap_or_default()
    ))?;
    Ok(ExitCode::SUCCESS)
}
