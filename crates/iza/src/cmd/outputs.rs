//! `iza outputs [PATH]`: the event outputs of the running `iza serve` or `iza up` (their
//! outbox depth and lag, what they published, dropped and failed), asked over its API
//! (docs/events.md). Without a server it reads the outbox depths from the state database.

use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::Result;
use serde_json::{Value, json};

use super::agents::{history, print_json};
use crate::cli::{OutputsArgs, TextOrJson};

pub(crate) fn outputs(args: &OutputsArgs) -> Result<ExitCode> {
    let doc = history(&args.remote, "/api/v1/outputs", |store| async move {
        use iza_store::Store as _;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        let outputs: Vec<Value> = store
            .outbox_depths()
            .await?
            .into_iter()
            .map(|d| {
                json!({
                    "id": d.output,
                    "depth": d.depth,
                    "lag_ms": d.oldest_at.map_or(0, |at| (now - at).max(0)),
                })
            })
            .collect();
        Ok(json!({ "outputs": outputs }))
    })?;
    if let TextOrJson::Json = args.format {
        print_json(&doc)?;
        return Ok(ExitCode::SUCCESS);
    }
    super::print(&render(&doc))?;
    Ok(ExitCode::SUCCESS)
}

fn render(doc: &Value) -> String {
    let outputs = doc["outputs"].as_array().cloned().unwrap_or_default();
    if outputs.is_empty() {
        return "no outputs (add `[outputs.<id>]` to the manifest; see docs/events.md)\n".into();
    }
    let mut out = format!(
        "{:<16} {:<8} {:>8} {:>9} {:>10} {:>8} {:>8}  {}\n",
        "OUTPUT", "KIND", "DEPTH", "LAG", "PUBLISHED", "DROPPED", "FAILURES", "URL / LAST ERROR"
    );
    for o in &outputs {
        let text = |key: &str| o[key].as_str().unwrap_or("-").to_owned();
        let number = |key: &str| o[key].as_u64().map_or("-".to_owned(), |n| n.to_string());
        let lag = o["lag_ms"]
            .as_u64()
            .map_or("-".to_owned(), |ms| format!("{:.1}s", ms as f64 / 1000.0));
        let detail = match o["last_error"].as_str() {
            Some(error) => format!("error: {error}"),
            None => text("url"),
        };
        let _ = writeln!(
            out,
            "{:<16} {:<8} {:>8} {:>9} {:>10} {:>8} {:>8}  {detail}",
            text("id"),
            text("kind"),
            number("depth"),
            lag,
            number("published"),
            number("dropped"),
            number("failures"),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn renders_a_table_and_an_empty_note() {
        let doc = serde_json::json!({ "outputs": [{
            "id": "bus", "kind": "nats", "url": "nats://127.0.0.1:4222", "depth": 3,
            "lag_ms": 1500, "published": 10, "dropped": 0, "failures": 2, "healthy": false,
            "last_error": "cannot connect: refused"
        }]});
        let text = super::render(&doc);
        assert!(text.contains("bus"), "{text}");
        assert!(text.contains("1.5s"), "{text}");
        assert!(text.contains("error: cannot connect: refused"), "{text}");
        assert!(super::render(&serde_json::json!({"outputs": []})).starts_with("no outputs"));
    }
}
