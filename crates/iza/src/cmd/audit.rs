//! `iza audit`: the audit log of MCP tool calls and mutating API calls (`docs/mcp.md`), newest
//! first, from the running `iza serve`/`iza up` (`GET /api/v1/audit`, with the admin token of
//! `.iza/token`), or from the state database when none runs.

use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::{Result, bail};
use serde_json::{Value, json};

use super::agents::{history, print_json};
use crate::cli::{AuditArgs, TextOrJson};

/// A record's time, UTC to the second.
fn when(at: &Value) -> String {
    let at = at
        .as_i64()
        .and_then(|ms| u64::try_from(ms).ok())
        .unwrap_or(0);
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_millis(at);
    humantime::format_rfc3339_seconds(time).to_string()
}

fn encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

pub(crate) fn audit(args: &AuditArgs) -> Result<ExitCode> {
    let outcome = match args.outcome.as_deref() {
        None => None,
        Some(text) => match iza_store::AuditOutcome::parse(text) {
            Some(outcome) => Some(outcome),
            None => {
                bail!("`--outcome` is one of `ok`, `error`, `denied`, `rate-limited`, not `{text}`")
            }
        },
    };
    let limit = args.limit.clamp(1, iza_store::MAX_AUDIT_PAGE);
    let mut path = format!("/api/v1/audit?limit={limit}");
    for (name, value) in [
        ("tool", &args.tool),
        ("client", &args.client),
        ("outcome", &args.outcome),
    ] {
        if let Some(value) = value {
            let _ = write!(path, "&{name}={}", encode(value));
        }
    }
    let query = iza_store::AuditQuery {
        tool: args.tool.clone(),
        client: args.client.clone(),
        outcome,
        limit,
        ..iza_store::AuditQuery::default()
    };
    let doc = history(&args.remote, &path, |store| async move {
        use iza_store::Store as _;
        Ok(json!({ "records": store.audit(&query).await?, "next": null }))
    })?;
    if let TextOrJson::Json = args.format {
        print_json(&doc)?;
        return Ok(ExitCode::SUCCESS);
    }
    let records = doc["records"].as_array().cloned().unwrap_or_default();
    let mut out = String::new();
    if records.is_empty() {
        out.push_str("no audited calls\n");
    }
    for r in &records {
        let s = |key: &str| r[key].as_str().unwrap_or_default().to_owned();
        let upstream = r["upstream"]
            .as_str()
            .map(|u| format!(" (upstream `{u}`)"))
            .unwrap_or_default();
        let why = r["message"]
            .as_str()
            .map(|m| format!(": {m}"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "{} {} {} `{}`{upstream} by {} ({}) in {:.1} ms{why}",
            r["id"],
            when(&r["at"]),
            s("outcome"),
            s("tool"),
            s("client"),
            s("scope"),
            r["duration_ms"].as_f64().unwrap_or_default(),
        );
        if !matches!(r["arguments"], Value::Null) {
            let _ = writeln!(out, "    arguments {}", r["arguments"]);
        }
    }
    super::print(&out)?;
    Ok(ExitCode::SUCCESS)
}
