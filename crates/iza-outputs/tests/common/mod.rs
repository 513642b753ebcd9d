//! What the outputs' test files share: a webhook receiver that keeps every CloudEvent posted to
//! it. Each test file takes it with `mod common;`.

use std::sync::{Arc, Mutex};

use serde_json::Value;

/// The CloudEvents a webhook received, in order.
pub(crate) type Received = Arc<Mutex<Vec<Value>>>;

/// Serves `POST /hook` on `listener`, answering 204 and keeping each body in `received`.
pub(crate) async fn serve_webhook(listener: tokio::net::TcpListener, received: Received) {
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: axum::body::Bytes| {
            let received = received.clone();
            async move {
                let ce: Value = serde_json::from_slice(&body).unwrap();
                received.lock().unwrap().push(ce);
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    axum::serve(listener, app).await.unwrap();
}
