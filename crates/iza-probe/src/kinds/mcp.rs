//! The `mcp` kind: the start of an MCP session over streamable HTTP. It POSTs a JSON-RPC
//! `initialize` request (with the check's headers, e.g. `Authorization`) accepting JSON or an
//! event stream, and is up when a JSON-RPC `result` comes back. Facts as for `http`
//! (`[STATUS]`, `[BODY]` holds the JSON-RPC response), and the server's name and version.
//!
//! When the server opened a session (`Mcp-Session-Id`), the session is ended with a DELETE in
//! the background so that probing does not pile up sessions on the server.

use std::time::Duration;

use iza_catalog::model::Check;
use serde_json::{Value, json};

use crate::Prober;
use crate::kinds::http;
use crate::result::{Facts, Failure, Reason};

/// The MCP protocol revision the request announces.
const PROTOCOL_VERSION: &str = "2025-06-18";
const SESSION_HEADER: &str = "mcp-session-id";

/// Sends `initialize` and checks the answer.
pub(crate) async fn probe(
    prober: &Prober,
    url: &str,
    check: &Check,
    facts: &mut Facts,
) -> Result<(), Failure> {
    let request = json!({
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": PROTOCOL_VERSION,
            "capabilities": {},
            "clientInfo": {"name": "iza-probe", "version": env!("CARGO_PKG_VERSION")},
        },
    });
    let post = http::Post {
        body: request.to_string(),
        content_type: "application/json",
        accept: "application/json, text/event-stream",
    };
    let response = http::send(prober, url, check, Some(post), facts).await?;
    let session = response
        .headers()
        .get(SESSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let is_stream = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("text/event-stream"));
    let status = response.status();
    let limit = prober.options().body_limit;
    // An event stream may stay open after the answer: stop at the first complete event,
    // looking again only when a chunk brought a line end.
    http::read_body(response, limit, facts, |read, before| {
        is_stream && read[before..].contains(&b'\n') && first_event_data(read).is_some()
    })
    .await?;
    if let Some(session) = session {
        end_session(prober, url, check, session);
    }
    if !status.is_success() {
        return Err(Failure::new(
            Reason::Rejected,
            format!("the MCP server answered HTTP {status}"),
        ));
    }
    let body = facts.body.as_deref().unwrap_or_default();
    let message = if is_stream {
        first_event_data(body.as_bytes()).unwrap_or_default()
    } else {
        body.to_owned()
    };
    let answer: Value = serde_json::from_str(&message).map_err(|_| {
        Failure::new(
            Reason::Protocol,
            "the answer to `initialize` is not JSON-RPC",
        )
    })?;
    if let Some(error) = answer.get("error") {
        let text = error
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("no message");
        return Err(Failure::new(
            Reason::Rejected,
            format!("the MCP server refused `initialize`: {text}"),
        ));
    }
    let result = answer
        .get("result")
        .filter(|r| r.is_object())
        .ok_or_else(|| {
            Failure::new(
                Reason::Protocol,
                "the answer to `initialize` has no JSON-RPC `result`",
            )
        })?;
    if is_stream {
        // Conditions read the JSON-RPC message, not the event-stream framing.
        facts.body = Some(message);
    }
    let info = &result["serverInfo"];
    facts.server = info["name"]
        .as_str()
        .map(|name| match info["version"].as_str() {
            Some(version) => format!("{name} {version}"),
            None => name.to_owned(),
        });
    Ok(())
}

/// The `data:` lines of the first complete server-sent event that has any, joined.
fn first_event_data(stream: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(stream);
    let text = text.replace("\r\n", "\n");
    let mut rest = text.as_str();
    while let Some(end) = rest.find("\n\n") {
        let event = &rest[..end];
        rest = &rest[end + 2..];
        let data: Vec<&str> = event
            .lines()
            .filter_map(|line| line.strip_prefix("data:"))
            .map(|d| d.strip_prefix(' ').unwrap_or(d))
            .collect();
        if !data.is_empty() {
            return Some(data.join("\n"));
        }
    }
    None
}

/// Ends the session in the background; its outcome does not matter to the probe.
fn end_session(prober: &Prober, url: &str, check: &Check, session: String) {
    let Ok(client) = prober
        .http
        .get(prober, check.follow_redirects, check.verify_tls)
    else {
        return;
    };
    let request = client
        .delete(url)
        .header(SESSION_HEADER, session)
        .timeout(Duration::from_secs(5));
    tokio::spawn(async move {
        let _ = request.send().await;
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_event_with_data_is_the_message() {
        let cases: &[(&str, Option<&str>)] = &[
            ("event: message\ndata: {\"a\":1}\n\n", Some("{\"a\":1}")),
            (
                ": comment\n\nid: 1\ndata:{\"b\":2}\r\n\r\n",
                Some("{\"b\":2}"),
            ),
            ("data: {\"a\":\ndata: 1}\n\n", Some("{\"a\":\n1}")),
            ("data: {\"a\":1}\n", None),
            ("", None),
        ];
        for (stream, expected) in cases {
            assert_eq!(
                first_event_data(stream.as_bytes()).as_deref(),
                *expected,
                "{stream:?}"
            );
        }
    }
}
