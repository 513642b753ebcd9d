//! The `http` action: one request (method, URL, headers, body; placeholders already
//! substituted) and, when the task lists `conditions`, those conditions evaluated on the answer
//! with the checks' evaluator (`[STATUS]`, `[BODY]`, `[RESPONSE_TIME]`; Gatus syntax). Without
//! conditions, any 2xx answer succeeds. This is how n8n and Activepieces webhooks are
//! triggered. The run's output is the answer's status line and the tail of its body.

use std::error::Error as _;
use std::time::{Duration, Instant};

use indexmap::IndexMap;
use iza_catalog::condition::Condition;
use iza_probe::Facts;

use super::ActionError;
use super::exec::{OUTPUT_CAP, Tail};

/// What to send, placeholders already substituted.
#[derive(Debug, Clone)]
pub struct HttpSpec {
    /// `GET`, `POST`...
    pub method: String,
    /// The URL.
    pub url: String,
    /// Request headers.
    pub headers: IndexMap<String, String>,
    /// Request body.
    pub body: Option<String>,
    /// What the answer must satisfy (empty: a 2xx status).
    pub conditions: Vec<Condition>,
}

/// The client the actions share (system roots, no proxy, no automatic retry).
pub fn client() -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder()
        .no_proxy()
        .retry(reqwest::retry::never())
        .user_agent(concat!("iza-agents/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(10));
    if let Ok(tls) = iza_probe::verifying_tls_config() {
        builder = builder.tls_backend_preconfigured(tls);
    }
    builder
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
}

fn chain(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let line = cause.to_string();
        if !text.contains(&line) {
            text.push_str(": ");
            text.push_str(&line);
        }
        source = cause.source();
    }
    text
}

/// Sends the request; the answer's summary on success, otherwise why it failed.
pub async fn run(client: &reqwest::Client, spec: &HttpSpec) -> Result<Option<String>, ActionError> {
    let method = reqwest::Method::from_bytes(spec.method.to_ascii_uppercase().as_bytes())
        .map_err(|_| ActionError::new(format!("`{}` is not an HTTP method", spec.method)))?;
    let mut request = client.request(method.clone(), &spec.url);
    for (name, value) in &spec.headers {
        request = request.header(name, value);
    }
    if let Some(body) = &spec.body {
        request = request.body(body.clone());
    }
    let started = Instant::now();
    let response = request
        .send()
        .await
        .map_err(|e| ActionError::new(format!("{method} `{}` failed: {}", spec.url, chain(&e))))?;
    let status = response.status();
    let body = response.bytes().await.map_err(|e| {
        ActionError::new(format!(
            "{method} `{}`: reading the answer failed: {}",
            spec.url,
            chain(&e)
        ))
    })?;
    let elapsed = started.elapsed();
    let mut tail = Tail::new(OUTPUT_CAP);
    tail.push(
        format!(
            "{} {}\n",
            status.as_u16(),
            status.canonical_reason().unwrap_or("")
        )
        .as_bytes(),
    );
    tail.push(&body);
    let output = Some(tail.text());
    let facts = Facts {
        status: Some(status.as_u16()),
        body: Some(String::from_utf8_lossy(&body).into_owned()),
        connected: true,
        ..Facts::default()
    };
    if spec.conditions.is_empty() {
        if status.is_success() {
            return Ok(output);
        }
        return Err(ActionError {
            error: format!("{method} `{}` answered {status}", spec.url),
            output,
        });
    }
    let failed = iza_probe::failed_conditions(&spec.conditions, &facts, elapsed);
    if failed.is_empty() {
        Ok(output)
    } else {
        let seen: Vec<String> = failed.into_iter().map(|(_, seen)| seen).collect();
        Err(ActionError {
            error: format!("{method} `{}`: {}", spec.url, seen.join(", ")),
            output,
        })
    }
}
