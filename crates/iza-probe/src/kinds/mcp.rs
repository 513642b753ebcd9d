//! The `mcp` kind: an MCP server over streamable HTTP, spoken to as a client would, in either
//! protocol generation. It first asks `server/discover` in the stateless 2026-07-28 revision
//! (protocol version and client information in each request's `_meta` and the
//! `MCP-Protocol-Version`/`Mcp-Method` headers); when the server does not answer that (an HTTP
//! error other than 401/403, a JSON-RPC error, or no JSON-RPC at all), it falls back to the
//! session handshake of the revisions up to 2025-11-25: `initialize`, then
//! `notifications/initialized` with the `Mcp-Session-Id` the server gave. A check that sets
//! the `MCP-Protocol-Version` header pins the generation (2026-07-28 or later: stateless
//! only; older: the handshake with that revision). Then, when the server has the `tools`
//! capability, it lists the tools with `tools/list`, following `nextCursor` for at most
//! [`MAX_TOOL_PAGES`] pages. Every request carries the check's headers (`Authorization`).
//!
//! Facts: as for `http` (`[STATUS]` of the last answer; `[BODY]` holds the JSON-RPC answer to
//! `server/discover` or `initialize`), the server's name and version, `[PROTOCOL_VERSION]`,
//! and the tool names for `[TOOLS]` and `[TOOL_COUNT]`. A session the server opened is ended
//! with a DELETE in the background so that probing does not pile up sessions.
//!
//! Plain JSON-RPC over reqwest rather than rmcp's client: a probe makes three or four
//! one-shot requests under the check's timeout, with the check's headers, TLS settings and
//! body limit, and records what it saw at each step; rmcp's client runs a long-lived service
//! task over its own transport, which fits neither that model nor the probe's facts.

use std::time::Duration;

use iza_catalog::model::Check;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::Prober;
use crate::kinds::http;
use crate::result::{Facts, Failure, Reason};

/// The stateless protocol revision.
const STATELESS: &str = "2026-07-28";
/// The newest session-based revision, announced in `initialize`.
const SESSION_REVISION: &str = "2025-11-25";
const SESSION_HEADER: &str = "mcp-session-id";
const VERSION_HEADER: &str = "mcp-protocol-version";
/// At most this many `tools/list` pages are read.
pub(crate) const MAX_TOOL_PAGES: usize = 32;

/// Speaks to the server and records what it learnt.
pub(crate) async fn probe(
    prober: &Prober,
    url: &str,
    check: &Check,
    facts: &mut Facts,
) -> Result<(), Failure> {
    let pinned = check
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(VERSION_HEADER))
        .map(|(_, v)| v.trim().to_owned());
    let mut client = Client {
        prober,
        url,
        check,
        session: None,
        version: STATELESS.to_owned(),
        stateless: true,
    };
    let greeting = match client.greet(pinned, facts).await {
        Ok(greeting) => greeting,
        Err(failure) => {
            // `initialize` may have opened a session before a later step failed.
            if let Some(session) = client.session.take() {
                end_session(prober, url, check, session);
            }
            return Err(failure);
        }
    };
    let listed = client.list_tools(&greeting, facts).await;
    if let Some(session) = client.session.take() {
        end_session(prober, url, check, session);
    }
    facts.body = Some(greeting.text);
    facts.protocol_version = Some(client.version);
    let info = &greeting.server_info;
    facts.server = info["name"]
        .as_str()
        .map(|name| match info["version"].as_str() {
            Some(version) => format!("{name} {version}"),
            None => name.to_owned(),
        });
    facts.tools = Some(listed?);
    Ok(())
}

/// The answer to `server/discover` or `initialize`.
struct Greeting {
    /// The JSON-RPC message as text, for `[BODY]`.
    text: String,
    capabilities: Value,
    server_info: Value,
}

/// Why `server/discover` gave no greeting.
enum Discover {
    /// The server is unreachable or refused the credentials: falling back would not help.
    Fatal(Failure),
    /// The server does not speak the stateless revision.
    Unanswered(String),
}

impl From<Discover> for Failure {
    fn from(discover: Discover) -> Failure {
        match discover {
            Discover::Fatal(failure) => failure,
            Discover::Unanswered(why) => {
                Failure::new(Reason::Protocol, format!("`server/discover` failed: {why}"))
            }
        }
    }
}

impl From<Failure> for Discover {
    fn from(failure: Failure) -> Discover {
        Discover::Fatal(failure)
    }
}

/// One answer over HTTP.
struct Reply {
    status: StatusCode,
    session: Option<String>,
    /// The JSON-RPC message (the first response event of an event stream).
    text: String,
}

struct Client<'a> {
    prober: &'a Prober,
    url: &'a str,
    check: &'a Check,
    session: Option<String>,
    /// The revision spoken: [`STATELESS`] or the one `initialize` agreed.
    version: String,
    stateless: bool,
}

impl Client<'_> {
    /// `server/discover`, falling back to `initialize`, or the generation `pinned` names.
    async fn greet(
        &mut self,
        pinned: Option<String>,
        facts: &mut Facts,
    ) -> Result<Greeting, Failure> {
        match pinned {
            Some(v) if v.as_str() >= STATELESS => Ok(self.discover(facts).await?),
            Some(v) => self.initialize(&v, facts).await,
            None => match self.discover(facts).await {
                Ok(greeting) => Ok(greeting),
                Err(Discover::Fatal(failure)) => Err(failure),
                Err(Discover::Unanswered(why)) => self
                    .initialize(SESSION_REVISION, facts)
                    .await
                    .map_err(|mut f| {
                        f.message = format!("{} (and `server/discover` failed: {why})", f.message);
                        f
                    }),
            },
        }
    }

    async fn discover(&mut self, facts: &mut Facts) -> Result<Greeting, Discover> {
        let reply = self.send("server/discover", Some(json!({})), facts).await?;
        if matches!(
            reply.status,
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
        ) {
            return Err(Discover::Fatal(rejected("server/discover", reply.status)));
        }
        let result = match result_of("server/discover", &reply) {
            Ok(result) => result,
            Err(failure) => return Err(Discover::Unanswered(failure.message)),
        };
        let supported = result["supportedVersions"]
            .as_array()
            .is_some_and(|v| v.iter().any(|v| v.as_str() == Some(STATELESS)));
        if !supported {
            return Err(Discover::Unanswered(format!(
                "the server does not list {STATELESS} among its `supportedVersions`"
            )));
        }
        Ok(Greeting {
            capabilities: result["capabilities"].clone(),
            server_info: result["_meta"]["io.modelcontextprotocol/serverInfo"].clone(),
            text: reply.text,
        })
    }

    async fn initialize(&mut self, revision: &str, facts: &mut Facts) -> Result<Greeting, Failure> {
        self.stateless = false;
        self.version = revision.to_owned();
        let params = json!({
            "protocolVersion": revision,
            "capabilities": {},
            "clientInfo": {"name": "iza-probe", "version": env!("CARGO_PKG_VERSION")},
        });
        let reply = self.send("initialize", Some(params), facts).await?;
        self.session = reply.session.clone();
        let result = result_of("initialize", &reply)?;
        if let Some(agreed) = result["protocolVersion"].as_str() {
            self.version = agreed.to_owned();
        }
        let acknowledged = self.send("notifications/initialized", None, facts).await?;
        if !acknowledged.status.is_success() {
            return Err(rejected("notifications/initialized", acknowledged.status));
        }
        Ok(Greeting {
            capabilities: result["capabilities"].clone(),
            server_info: result["serverInfo"].clone(),
            text: reply.text,
        })
    }

    /// The names of the server's tools, every page; none without the `tools` capability.
    async fn list_tools(
        &mut self,
        greeting: &Greeting,
        facts: &mut Facts,
    ) -> Result<Vec<String>, Failure> {
        let mut names = Vec::new();
        if greeting.capabilities.get("tools").is_none() {
            return Ok(names);
        }
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_TOOL_PAGES {
            let params = match &cursor {
                Some(cursor) => json!({ "cursor": cursor }),
                None => json!({}),
            };
            let reply = self.send("tools/list", Some(params), facts).await?;
            let result = result_of("tools/list", &reply)?;
            let tools = result["tools"].as_array().ok_or_else(|| {
                Failure::new(
                    Reason::Protocol,
                    "the answer to `tools/list` has no `tools` list",
                )
            })?;
            names.extend(
                tools
                    .iter()
                    .filter_map(|t| t["name"].as_str())
                    .map(str::to_owned),
            );
            match result["nextCursor"].as_str() {
                Some(next) if cursor.as_deref() == Some(next) => {
                    return Err(Failure::new(
                        Reason::Protocol,
                        "`tools/list` gave the same `nextCursor` twice",
                    ));
                }
                Some(next) => cursor = Some(next.to_owned()),
                None => return Ok(names),
            }
        }
        Err(Failure::new(
            Reason::Protocol,
            format!("`tools/list` went on for more than {MAX_TOOL_PAGES} pages"),
        ))
    }

    /// Sends one request (or, without params, a notification) and reads its answer.
    async fn send(
        &self,
        method: &str,
        params: Option<Value>,
        facts: &mut Facts,
    ) -> Result<Reply, Failure> {
        let mut headers = Vec::new();
        let message = match params {
            Some(mut params) => {
                if self.stateless {
                    params["_meta"] = json!({
                        "io.modelcontextprotocol/protocolVersion": STATELESS,
                        "io.modelcontextprotocol/clientCapabilities": {},
                        "io.modelcontextprotocol/clientInfo":
                            {"name": "iza-probe", "version": env!("CARGO_PKG_VERSION")},
                    });
                }
                json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
            }
            None => json!({"jsonrpc": "2.0", "method": method}),
        };
        if self.stateless {
            headers.push((VERSION_HEADER, STATELESS.to_owned()));
            headers.push(("mcp-method", method.to_owned()));
        } else if method != "initialize" {
            headers.push((VERSION_HEADER, self.version.clone()));
        }
        if let Some(session) = &self.session {
            headers.push((SESSION_HEADER, session.clone()));
        }
        let post = http::Post {
            body: message.to_string(),
            content_type: "application/json",
            accept: "application/json, text/event-stream",
            headers,
        };
        let response = http::send(self.prober, self.url, self.check, Some(post), facts).await?;
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
        let limit = self.prober.options().body_limit;
        // An event stream may stay open after the answer: stop at the first response event,
        // looking again only when a chunk brought a line end.
        http::read_body(response, limit, facts, |read, before| {
            is_stream && read[before..].contains(&b'\n') && first_event_data(read).is_some()
        })
        .await?;
        let body = facts.body.take().unwrap_or_default();
        let text = if is_stream {
            first_event_data(body.as_bytes()).unwrap_or_default()
        } else {
            body
        };
        Ok(Reply {
            status,
            session,
            text,
        })
    }
}

fn rejected(method: &str, status: StatusCode) -> Failure {
    Failure::new(
        Reason::Rejected,
        format!("the MCP server answered `{method}` with HTTP {status}"),
    )
}

/// The JSON-RPC `result` of a reply, or why there is none.
fn result_of(method: &str, reply: &Reply) -> Result<Value, Failure> {
    let answer: Option<Value> = serde_json::from_str(&reply.text).ok();
    if let Some(error) = answer.as_ref().and_then(|a| a.get("error")) {
        let text = error
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("no message");
        return Err(Failure::new(
            Reason::Rejected,
            format!("the MCP server refused `{method}`: {text}"),
        ));
    }
    if !reply.status.is_success() {
        return Err(rejected(method, reply.status));
    }
    let answer = answer.ok_or_else(|| {
        Failure::new(
            Reason::Protocol,
            format!("the answer to `{method}` is not JSON-RPC: is this an MCP endpoint?"),
        )
    })?;
    match answer.get("result") {
        Some(result) if result.is_object() => Ok(result.clone()),
        _ => Err(Failure::new(
            Reason::Protocol,
            format!("the answer to `{method}` has no JSON-RPC `result`"),
        )),
    }
}

/// The `data:` lines of the first complete server-sent event that has any and is not a
/// message from the server (a JSON-RPC request or notification, with a `method`), joined.
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
        let data = data.join("\n");
        // A priming event (an `id` for resuming, empty data) is not the answer.
        if data.trim().is_empty() {
            continue;
        }
        let from_server = serde_json::from_str::<Value>(&data)
            .is_ok_and(|v| v.get("method").is_some() && v.get("result").is_none());
        if !from_server {
            return Some(data);
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
            (
                "id: 0\ndata:\n\nid: 1\ndata: {\"id\":1}\n\n",
                Some("{\"id\":1}"),
            ),
            (
                "data: {\"method\":\"notifications/message\"}\n\ndata: {\"id\":1}\n\n",
                Some("{\"id\":1}"),
            ),
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
