//! `mcp` checks against small MCP-over-HTTP servers started here: a JSON answer, an
//! event-stream answer that stays open, a JSON-RPC error, an HTTP error, and a body that is
//! not JSON-RPC. The session the server opens is ended with a DELETE.

use std::time::Duration;

use iza_catalog::model::CheckTarget;
use iza_probe::{Outcome, Prober, Reason};

use crate::support::{Behaviour, check, response, serve};

const RESULT: &str = r#"{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2025-06-18","capabilities":{"tools":{}},"serverInfo":{"name":"toolbox","version":"1.2.0"}}}"#;

fn mcp(url: String, conditions: &[&str]) -> iza_catalog::model::Check {
    check(CheckTarget::Mcp(url), Duration::from_secs(3), conditions)
}

#[tokio::test]
async fn a_json_answer_is_up_and_the_session_is_ended() {
    let mut server = serve(|r| {
        if r.method == "DELETE" {
            Behaviour::Respond(response(204, &[], ""))
        } else {
            Behaviour::Respond(response(
                200,
                &[
                    ("Content-Type", "application/json"),
                    ("Mcp-Session-Id", "s-42"),
                ],
                RESULT,
            ))
        }
    })
    .await;
    let result = Prober::default()
        .probe(&mcp(
            server.url("/mcp"),
            &["[BODY].result.capabilities.tools == {}"],
        ))
        .await;
    assert_eq!(result.outcome, Outcome::Up, "{:?}", result.failure);
    assert_eq!(result.facts.server.as_deref(), Some("toolbox 1.2.0"));

    let initialize = server.requests.recv().await.unwrap();
    assert_eq!(initialize.method, "POST");
    assert_eq!(initialize.header("content-type"), Some("application/json"));
    assert_eq!(
        initialize.header("accept"),
        Some("application/json, text/event-stream")
    );
    let body: serde_json::Value = serde_json::from_slice(&initialize.body).unwrap();
    assert_eq!(body["method"], "initialize");
    assert_eq!(body["jsonrpc"], "2.0");

    let delete = tokio::time::timeout(Duration::from_secs(5), server.requests.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(delete.method, "DELETE");
    assert_eq!(delete.header("mcp-session-id"), Some("s-42"));
}

#[tokio::test]
async fn an_event_stream_answer_is_read_up_to_its_first_event() {
    let server = serve(|_| {
        let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n";
        Behaviour::StreamThenHang(format!("{head}event: message\ndata: {RESULT}\n\n").into_bytes())
    })
    .await;
    let result = Prober::default().probe(&mcp(server.url("/mcp"), &[])).await;
    assert_eq!(result.outcome, Outcome::Up, "{:?}", result.failure);
    assert_eq!(result.facts.body.as_deref(), Some(RESULT));
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
