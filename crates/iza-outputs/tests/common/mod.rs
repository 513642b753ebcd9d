//! What the outputs' test files share: a webhook receiver that keeps every CloudEvent posted to
//! it, and a TCP proxy that cuts a broker connection mid-stream. Each test file takes them with
//! `mod common;` (and uses what it needs).
#![allow(dead_code)]

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

/// A TCP proxy on 127.0.0.1 to a broker's port, whose first connection is cut after it has
/// forwarded `cut_after` bytes from the client (mid-frame, as a broker that dies or a network
/// that fails would leave it); later connections are forwarded whole.
pub(crate) struct Proxy {
    /// Where it listens.
    pub(crate) port: u16,
    /// Set when the first connection was cut.
    pub(crate) cut: Arc<std::sync::atomic::AtomicBool>,
    accept: tokio::task::JoinHandle<()>,
}

impl Proxy {
    pub(crate) async fn start(upstream: u16, cut_after: usize) -> Proxy {
        use std::sync::atomic::{AtomicBool, Ordering};
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let cut = Arc::new(AtomicBool::new(false));
        let was_cut = cut.clone();
        let accept = tokio::spawn(async move {
            let mut first = true;
            while let Ok((mut client, _)) = listener.accept().await {
                let limit = first.then_some(cut_after);
                first = false;
                let was_cut = was_cut.clone();
                tokio::spawn(async move {
                    let Ok(mut broker) =
                        tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await
                    else {
                        return;
                    };
                    let _ = client.set_nodelay(true);
                    let _ = broker.set_nodelay(true);
                    let (mut from_client, mut to_client) = client.split();
                    let (mut from_broker, mut to_broker) = broker.split();
                    let up = async {
                        let mut buffer = vec![0; 16 * 1024];
                        let mut forwarded = 0;
                        loop {
                            let n = from_client.read(&mut buffer).await?;
                            if n == 0 {
                                return Ok::<_, std::io::Error>(());
                            }
                            let n = limit.map_or(n, |limit| n.min(limit - forwarded));
                            to_broker.write_all(&buffer[..n]).await?;
                            forwarded += n;
                            if limit == Some(forwarded) {
                                was_cut.store(true, Ordering::SeqCst);
                                return Ok(());
                            }
                        }
                    };
                    let down = tokio::io::copy(&mut from_broker, &mut to_client);
                    tokio::select! {
                        _ = up => {}
                        _ = down => {}
                    }
                    // Both connections close here.
                });
            }
        });
        Proxy { port, cut, accept }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}
