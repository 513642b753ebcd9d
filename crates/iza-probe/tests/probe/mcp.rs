//! `mcp` checks against small MCP-over-HTTP servers started here that speak only the session
//! generation (the fallback from `server/discover`, paged `tools/list`), answer with an event
//! stream that stays open, page without end, refuse with a JSON-RPC error or an HTTP error, or
//! answer with something that is not JSON-RPC. The session the server opens is ended with a
//! DELETE. Both generations against IZA's own `/mcp`: crates/iza/tests/mcp.rs.

use std::time::Duration;

use iza_catalog::model::CheckTarget;
use iza_probe::{Outcome, Prober, Reason};

use crate::support::{Behaviour, check, response, serve};

const RESULT: &str = r#"{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2025-06-18","capabilities":{"tools":{}},"serverInfo":{"name":"toolbox","version":"1.2.0"}}}"#;

fn mcp(url: String, conditions: &[&str]) -> iza_catalog::model::Check {
    check(CheckTarget::Mcp(url), Duration::from_secs(3), conditions)
}

const NO_TOOLS: &str = r#"{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2025-06-18","capabilities":{},"serverInfo":{"name":"bare","version":"1"}}}"#;

fn json_response(body: &str, extra: &[(&str, &str)]) -> Vec<u8> {
    let mut headers = vec![("Content-Type", "application/json")];
    headers.extend_from_slice(extra);
    response(200, &headers, body)
}

/// The JSON-RPC method of a request (`DELETE` for a DELETE).
fn rpc_method(r: &crate::support::Request) -> (String, serde_json::Value) {
    if r.method == "DELETE" {
        return ("DELETE".to_owned(), serde_json::Value::Null);
    }
    let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
    (body["method"].as_str().unwrap_or_default().to_owned(), body)
}

/// A session-only server (as before 2026-07-28): `server/discover` is an unknown method.
fn session_server(r: &crate::support::Request) -> Behaviour {
    let (method, body) = rpc_method(r);
    Behaviour::Respond(match method.as_str() {
        "DELETE" => response(204, &[], ""),
        "server/discover" => json_response(
            r#"{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"Method not found"}}"#,
            &[],
        ),
        "initialize" => json_response(RESULT, &[("Mcp-Session-Id", "s-42")]),
        "notifications/initialized" => response(202, &[], ""),
        "tools/list" if body["params"]["cursor"] == "p2" => json_response(
            r#"{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"c"}]}}"#,
            &[],
        ),
        "tools/list" => json_response(
            r#"{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"a"},{"name":"b"}],"nextCursor":"p2"}}"#,
            &[],
        ),
        _ => response(400, &[], "unexpected"),
    })
}

#[tokio::test]
async fn without_discover_the_session_handshake_lists_every_page_and_ends_the_session() {
    let mut server = serve(session_server).await;
    let result = Prober::default()
        .probe(&mcp(
            server.url("/mcp"),
            &[
                "[BODY].result.capabilities.tools == {}",
                "[TOOL_COUNT] == 3",
                "has([TOOLS].c) == true",
                "[PROTOCOL_VERSION] == 2025-06-18",
            ],
        ))
        .await;
    assert_eq!(result.outcome, Outcome::Up, "{:?}", result.failure);
    assert_eq!(result.facts.server.as_deref(), Some("toolbox 1.2.0"));
    assert_eq!(
        result.facts.tools,
        Some(vec!["a".to_owned(), "b".to_owned(), "c".to_owned()])
    );

    let mut next = async || {
        let r = tokio::time::timeout(Duration::from_secs(5), server.requests.recv())
            .await
            .unwrap()
            .unwrap();
        let (method, body) = rpc_method(&r);
        (r, method, body)
    };
    let (discover, method, body) = next().await;
    assert_eq!(method, "server/discover");
    assert_eq!(discover.header("mcp-protocol-version"), Some("2026-07-28"));
    assert_eq!(discover.header("mcp-method"), Some("server/discover"));
    assert_eq!(
        body["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"],
        "2026-07-28"
    );
    let (initialize, method, body) = next().await;
    assert_eq!(method, "initialize");
    assert_eq!(initialize.header("content-type"), Some("application/json"));
    assert_eq!(
        initialize.header("accept"),
        Some("application/json, text/event-stream")
    );
    assert_eq!(body["jsonrpc"], "2.0");
    assert_eq!(body["params"]["protocolVersion"], "2025-11-25");
    let (initialized, method, _) = next().await;
    assert_eq!(method, "notifications/initialized");
    assert_eq!(initialized.header("mcp-session-id"), Some("s-42"));
    for cursor in [serde_json::Value::Null, "p2".into()] {
        let (list, method, body) = next().await;
        assert_eq!(method, "tools/list");
        assert_eq!(body["params"]["cursor"], cursor);
        assert_eq!(list.header("mcp-session-id"), Some("s-42"));
        assert_eq!(list.header("mcp-protocol-version"), Some("2025-06-18"));
    }
    let (delete, method, _) = next().await;
    assert_eq!(method, "DELETE");
    assert_eq!(delete.header("mcp-session-id"), Some("s-42"));
}

#[tokio::test]
async fn an_event_stream_answer_is_read_up_to_its_response() {
    let server = serve(|r| {
        let (method, _) = rpc_method(r);
        match method.as_str() {
            "initialize" => {
                let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n";
                let note = r#"{"jsonrpc":"2.0","method":"notifications/message","params":{}}"#;
                Behaviour::StreamThenHang(
                    format!("{head}data: {note}\n\nevent: message\ndata: {NO_TOOLS}\n\n")
                        .into_bytes(),
                )
            }
            "notifications/initialized" => Behaviour::Respond(response(202, &[], "")),
            _ => Behaviour::Respond(response(404, &[], "")),
        }
    })
    .await;
    let result = Prober::default()
        .probe(&mcp(server.url("/mcp"), &["[TOOL_COUNT] == 0"]))
        .await;
    assert_eq!(result.outcome, Outcome::Up, "{:?}", result.failure);
    assert_eq!(result.facts.body.as_deref(), Some(NO_TOOLS));
    assert_eq!(result.facts.tools, Some(vec![]));
}

#[tokio::test]
async fn endless_tool_pages_are_cut_off() {
    let server = serve(|r| {
        let (method, body) = rpc_method(r);
        if method == "tools/list" {
            let next = format!("{}x", body["params"]["cursor"].as_str().unwrap_or(""));
            let page = format!(
                r#"{{"jsonrpc":"2.0","id":1,"result":{{"tools":[{{"name":"t"}}],"nextCursor":"{next}"}}}}"#
            );
            Behaviour::Respond(json_response(&page, &[]))
        } else {
            session_server(r)
        }
    })
    .await;
    let result = Prober::default().probe(&mcp(server.url("/mcp"), &[])).await;
    assert_eq!(result.outcome, Outcome::Down);
    let failure = result.failure.unwrap();
    assert!(failure.message.contains("more than 32 pages"), "{failure}");
}

#[tokio::test]
async fn refusals_and_non_answers_are_down() {
    let error = r#"{"jsonrpc":"2.0","id":1,"error":{"code":-32600,"message":"unsupported protocol version"}}"#;
    let cases: Vec<(Vec<u8>, Reason, &str)> = vec![
        (
            response(200, &[("Content-Type", "application/json")], error),
            Reason::Rejected,
            "the MCP server refused `initialize`: unsupported protocol version",
        ),
        (response(401, &[], "no"), Reason::Rejected, "HTTP 401"),
        (
            response(
                200,
                &[("Content-Type", "application/json")],
                "<html>hi</html>",
            ),
            Reason::Protocol,
            "not JSON-RPC",
        ),
        (
            response(
                200,
                &[("Content-Type", "application/json")],
                r#"{"jsonrpc":"2.0","id":1}"#,
            ),
            Reason::Protocol,
            "no JSON-RPC `result`",
        ),
    ];
    for (answer, reason, expected) in cases {
        let server = serve(move |_| Behaviour::Respond(answer.clone())).await;
        let result = Prober::default().probe(&mcp(server.url("/mcp"), &[])).await;
        assert_eq!(result.outcome, Outcome::Down);
        let failure = result.failure.unwrap();
        assert_eq!(failure.reason, reason, "{failure}");
        assert!(failure.message.contains(expected), "{failure}");
    }
}

#[tokio::test]
async fn a_refused_handshake_is_down_and_its_session_is_ended() {
    let mut server = serve(|r| {
        let (method, _) = rpc_method(r);
        if method == "notifications/initialized" {
            Behaviour::Respond(response(400, &[], "no"))
        } else {
            session_server(r)
        }
    })
    .await;
    let result = Prober::default().probe(&mcp(server.url("/mcp"), &[])).await;
    assert_eq!(result.outcome, Outcome::Down);
    let failure = result.failure.unwrap();
    assert_eq!(failure.reason, Reason::Rejected, "{failure}");
    assert!(
        failure
            .message
            .contains("answered `notifications/initialized` with HTTP 400"),
        "{failure}"
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let r = tokio::time::timeout_at(deadline, server.requests.recv())
            .await
            .expect("no DELETE of the session")
            .unwrap();
        if r.method == "DELETE" {
            assert_eq!(r.header("mcp-session-id"), Some("s-42"));
            break;
        }
    }
}
