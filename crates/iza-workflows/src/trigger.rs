//! Starts a workflow the way its engine lets an outsider start one: through its webhook.
//!
//! - n8n: the workflow (`GET /api/v1/workflows/{id}`, or found by name in the list) must have
//!   an enabled Webhook node (`n8n-nodes-base.webhook`) and be published; the call is the
//!   node's method (`GET` when it names none, as n8n does) to `/webhook/{path}`, the data as a
//!   JSON body (as query parameters for `GET`). n8n's public API has no other way to run a
//!   workflow.
//! - Activepieces: `POST /api/v1/webhooks/{flowId}` with the data as a JSON body (the flow's
//!   trigger is a webhook).
//!
//! The call carries no credential (a webhook is public; the API key must not end up in the
//! workflow's data). The engine accepting the call (a 2xx answer) is a success; what the
//! workflow then does is followed like any execution.

use reqwest::Method;
use serde::Serialize;
use serde_json::Value;

use crate::client::{Client, WorkflowError, segment};
use iza_catalog::model::Engine;

/// The type of n8n's Webhook node.
pub const N8N_WEBHOOK_NODE: &str = "n8n-nodes-base.webhook";

/// A workflow started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Triggered {
    /// The workflow's id.
    pub workflow: String,
    /// Its name.
    pub name: String,
    /// The method and URL called.
    pub call: String,
    /// The engine's status.
    pub status: u16,
    /// The engine's answer (at most 4 KiB).
    pub answer: String,
}

impl Triggered {
    /// The run's output: what was called and what the engine answered.
    pub fn text(&self) -> String {
        format!(
            "triggered workflow `{}` ({}) with {}: {}\n{}",
            self.name, self.workflow, self.call, self.status, self.answer
        )
    }
}

/// Starts the workflow whose id or name is `id_or_name` with `data` (a JSON object).
pub async fn trigger(
    client: &Client,
    id_or_name: &str,
    data: &Value,
) -> Result<Triggered, WorkflowError> {
    let (workflow, name, method, url) = match client.engine() {
        Engine::N8n => {
            let whole = match client.n8n_workflow(id_or_name).await {
                Ok(whole) => whole,
                Err(WorkflowError::NotFound(_) | WorkflowError::Status { status: 400, .. }) => {
                    let found = client.find_workflow(id_or_name).await?;
                    client.n8n_workflow(&found.id).await?
                }
                Err(e) => return Err(e),
            };
            let text = |key: &str| whole.get(key).and_then(value_text).unwrap_or_default();
            let (id, name) = (text("id"), text("name"));
            let node = whole
                .get("nodes")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .find(|n| {
                    n.get("type").and_then(Value::as_str) == Some(N8N_WEBHOOK_NODE)
                        && n.get("disabled").and_then(Value::as_bool) != Some(true)
                })
                .ok_or_else(|| {
                    WorkflowError::NotFound(format!(
                        "workflow `{name}` ({id}) has no enabled Webhook node, and n8n's public API cannot run a workflow otherwise"
                    ))
                })?;
            if whole.get("active").and_then(Value::as_bool) == Some(false) {
                return Err(WorkflowError::Status {
                    status: 404,
                    message: format!(
                        "workflow `{name}` ({id}) is not published, so n8n does not serve its webhook"
                    ),
                });
            }
            let params = node.get("parameters");
            let path = params
                .and_then(|p| p.get("path"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .trim_matches('/')
                .to_owned();
            if path.is_empty() {
                return Err(WorkflowError::Decode(format!(
                    "the Webhook node of workflow `{name}` ({id}) has no path"
                )));
            }
            let method = params
                .and_then(|p| p.get("httpMethod"))
                .and_then(Value::as_str)
                .unwrap_or("GET")
                .to_ascii_uppercase();
            let method = Method::from_bytes(method.as_bytes())
                .map_err(|_| WorkflowError::Decode(format!("`{method}` is not an HTTP method")))?;
            let path: Vec<String> = path.split('/').map(segment).collect();
            let query: Vec<(String, String)> = if method == Method::GET {
                data.as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| (k.clone(), value_text(v).unwrap_or_else(|| v.to_string())))
                    .collect()
            } else {
                Vec::new()
            };
            let query: Vec<(&str, Option<&str>)> = query
                .iter()
                .map(|(k, v)| (k.as_str(), Some(v.as_str())))
                .collect();
            let url = client.endpoint(&format!("/webhook/{}", path.join("/")), &query)?;
            (id, name, method, url)
        }
        Engine::Activepieces => {
            let flow = client.find_workflow(id_or_name).await?;
            let url = client.endpoint(&format!("/api/v1/webhooks/{}", segment(&flow.id)), &[])?;
            (flow.id, flow.name, Method::POST, url)
        }
    };
    let body = (method != Method::GET).then_some(data);
    let call = format!("{method} {url}");
    let (status, answer) = client.call_public(method, url, body).await?;
    let answer: String = answer.chars().take(4096).collect();
    if !(200..300).contains(&status) {
        let message = serde_json::from_str::<Value>(&answer)
            .ok()
            .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_owned))
            .unwrap_or(answer);
        return Err(WorkflowError::Status {
            status,
            message: format!("{call}: {message}"),
        });
    }
    Ok(Triggered {
        workflow,
        name,
        call,
        status,
        answer,
    })
}

fn value_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}
