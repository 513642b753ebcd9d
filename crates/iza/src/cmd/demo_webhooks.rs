//! `iza demo-service --receive-webhooks`: the demo service also plays a notification
//! receiver. `POST /webhook` (any body; JSON is kept as JSON) is answered 200, counted, and
//! printed as one line on stdout (`webhook #3: firing — [CRITICAL] db is down; impacted: api`
//! for IZA's `webhook` messages); `GET /webhooks` answers the count and the last 100 bodies,
//! newest last. With `--webhook-secret`, each line says whether the `X-Iza-Signature` header
//! verifies (HMAC-SHA256 of the body, docs/alerts.md). It is what the `demo-receiver`
//! notifier of `examples/iza-os` posts to.

use std::collections::VecDeque;
use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

/// Bodies kept for `GET /webhooks`.
const KEPT: usize = 100;

#[derive(Default)]
struct Received {
    count: u64,
    last: VecDeque<Value>,
}

struct Receiver {
    secret: Option<String>,
    received: Mutex<Received>,
}

/// The routes of the receiver.
pub(crate) fn router(secret: Option<String>) -> Router {
    let state = Arc::new(Receiver {
        secret,
        received: Mutex::new(Received::default()),
    });
    Router::new()
        .route("/webhook", post(receive))
        .route("/webhooks", get(list))
        .with_state(state)
}

/// One line about an IZA message (or the body's size for anything else).
fn summary(body: &Value, raw: &[u8]) -> String {
    let Some(alerts) = body.get("alerts").and_then(Value::as_array) else {
        return format!("{} bytes", raw.len());
    };
    let lines: Vec<String> = alerts
        .iter()
        .map(|a| {
            let word = a["transition"].as_str().unwrap_or("?");
            let service = a["service"].as_str().unwrap_or("?");
            let impacted = a["impacted"]
                .as_array()
                .map(|i| {
                    i.iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default();
            if impacted.is_empty() {
                format!("{word} {service}")
            } else {
                format!("{word} {service} (impacted: {impacted})")
            }
        })
        .collect();
    format!(
        "{} — {}",
        body["status"].as_str().unwrap_or("?"),
        lines.join("; ")
    )
}

async fn receive(State(r): State<Arc<Receiver>>, headers: HeaderMap, body: Bytes) -> Json<Value> {
    let value: Value = serde_json::from_slice(&body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
    let signature = r.secret.as_ref().map(|secret| {
        let given = headers
            .get(iza_notify::SIGNATURE_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        given == iza_notify::signature(secret, &String::from_utf8_lossy(&body))
    });
    let count = {
        let mut received = r.received.lock().unwrap_or_else(PoisonError::into_inner);
        received.count += 1;
        if received.last.len() == KEPT {
            received.last.pop_front();
        }
        received.last.push_back(value.clone());
        received.count
    };
    let verified = match signature {
        Some(true) => " [signature ok]",
        Some(false) => " [SIGNATURE INVALID]",
        None => "",
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "webhook #{count}: {}{verified}",
        summary(&value, &body)
    );
    let _ = out.flush();
    Json(json!({ "received": count }))
}

async fn list(State(r): State<Arc<Receiver>>) -> Json<Value> {
    let received = r.received.lock().unwrap_or_else(PoisonError::into_inner);
    Json(json!({ "count": received.count, "last": received.last }))
}
