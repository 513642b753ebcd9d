//! A minimal client of the Chrome DevTools Protocol over its websocket: commands are JSON
//! objects `{id, method, params, sessionId?}` answered by `{id, result | error}`; everything
//! else the browser sends is an event `{method, params, sessionId?}`. One reader task matches
//! answers to the commands waiting for them and hands each event to the page session it
//! belongs to. It knows no domain of the protocol: the browser kind says which commands to
//! send. When the socket closes (the browser died), every waiting command and every session
//! gets an error, and [`Connection::is_closed`] turns true.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value as Json, json};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

/// One event the browser sent.
#[derive(Debug, Clone)]
pub(crate) struct Event {
    pub(crate) method: String,
    pub(crate) params: Json,
}

/// Why a command got no result.
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum CdpError {
    /// The browser answered with an error.
    #[error("{0}")]
    Protocol(String),
    /// The connection closed: the browser exited or crashed.
    #[error("the browser closed the connection (it exited or crashed)")]
    Closed,
}

type Answer = oneshot::Sender<Result<Json, CdpError>>;

#[derive(Default)]
struct Shared {
    pending: HashMap<u64, Answer>,
    sessions: HashMap<String, mpsc::UnboundedSender<Event>>,
}

/// A connection to one browser; cheap to share behind an `Arc`.
pub(crate) struct Connection {
    out: mpsc::UnboundedSender<String>,
    shared: Arc<Mutex<Shared>>,
    next_id: AtomicU64,
    closed: Arc<AtomicBool>,
}

impl Connection {
    /// Connects to the browser's websocket (`ws://127.0.0.1:PORT/devtools/browser/ID`).
    pub(crate) async fn connect(url: &str) -> Result<Connection, String> {
        let (socket, _) = tokio_tungstenite::connect_async(url)
            .await
            .map_err(|e| format!("cannot connect to the browser's DevTools at `{url}`: {e}"))?;
        let (mut sink, mut stream) = socket.split();
        let (out, mut outgoing) = mpsc::unbounded_channel::<String>();
        let shared = Arc::new(Mutex::new(Shared::default()));
        let closed = Arc::new(AtomicBool::new(false));
        tokio::spawn(async move {
            while let Some(text) = outgoing.recv().await {
                if sink.send(Message::text(text)).await.is_err() {
                    break;
                }
            }
            let _ = sink.close().await;
        });
        let reader_shared = shared.clone();
        let reader_closed = closed.clone();
        tokio::spawn(async move {
            while let Some(Ok(message)) = stream.next().await {
                let text = match message {
                    Message::Text(text) => text,
                    Message::Close(_) => break,
                    _ => continue,
                };
                let Ok(mut value) = serde_json::from_str::<Json>(text.as_str()) else {
                    continue;
                };
                dispatch(&reader_shared, &mut value);
            }
            reader_closed.store(true, Ordering::SeqCst);
            let mut shared = reader_shared.lock().unwrap_or_else(|e| e.into_inner());
            for (_, answer) in shared.pending.drain() {
                let _ = answer.send(Err(CdpError::Closed));
            }
            // Dropping the senders ends every session's event stream.
            shared.sessions.clear();
        });
        Ok(Connection {
            out,
            shared,
            next_id: AtomicU64::new(1),
            closed,
        })
    }

    /// Whether the socket has closed.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// Sends a command to the browser (`session` none) or to a page session, and waits for its
    /// answer.
    pub(crate) async fn call(
        &self,
        session: Option<&str>,
        method: &str,
        params: Json,
    ) -> Result<Json, CdpError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut message = json!({ "id": id, "method": method, "params": params });
        if let Some(session) = session {
            message["sessionId"] = Json::String(session.to_owned());
        }
        let (answer, answered) = oneshot::channel();
        {
            let mut shared = self.shared.lock().unwrap_or_else(|e| e.into_inner());
            if self.is_closed() {
                return Err(CdpError::Closed);
            }
            shared.pending.insert(id, answer);
        }
        if self.out.send(message.to_string()).is_err() {
            self.forget(id);
            return Err(CdpError::Closed);
        }
        // When the caller gives up (a timeout), the entry is removed by `Forget`.
        let _forget = Forget {
            connection: self,
            id,
        };
        answered.await.unwrap_or(Err(CdpError::Closed))
    }

    fn forget(&self, id: u64) {
        let mut shared = self.shared.lock().unwrap_or_else(|e| e.into_inner());
        shared.pending.remove(&id);
    }

    /// Sends a command without waiting for its answer (clean-up when a probe is abandoned).
    pub(crate) fn send_and_forget(&self, method: &str, params: Json) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let message = json!({ "id": id, "method": method, "params": params });
        let _ = self.out.send(message.to_string());
    }

    /// The events of a page session, from now until it is detached or the browser closes.
    pub(crate) fn subscribe(&self, session: &str) -> mpsc::UnboundedReceiver<Event> {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut shared = self.shared.lock().unwrap_or_else(|e| e.into_inner());
        if !self.is_closed() {
            shared.sessions.insert(session.to_owned(), tx);
        }
        rx
    }

    /// Stops handing out a session's events.
    pub(crate) fn unsubscribe(&self, session: &str) {
        let mut shared = self.shared.lock().unwrap_or_else(|e| e.into_inner());
        shared.sessions.remove(session);
    }
}

/// Removes a waiting command's entry when its caller stops waiting.
struct Forget<'a> {
    connection: &'a Connection,
    id: u64,
}

impl Drop for Forget<'_> {
    fn drop(&mut self) {
        self.connection.forget(self.id);
    }
}

fn dispatch(shared: &Mutex<Shared>, value: &mut Json) {
    let mut shared = shared.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(id) = value.get("id").and_then(Json::as_u64) {
        if let Some(answer) = shared.pending.remove(&id) {
            let result = match value.get_mut("error") {
                Some(error) => Err(CdpError::Protocol(
                    error
                        .get("message")
                        .and_then(Json::as_str)
                        .unwrap_or("the browser refused the command")
                        .to_owned(),
                )),
                None => Ok(value
                    .get_mut("result")
                    .map(Json::take)
                    .unwrap_or(Json::Null)),
            };
            let _ = answer.send(result);
        }
        return;
    }
    let Some(session) = value.get("sessionId").and_then(Json::as_str) else {
        return;
    };
    let Some(events) = shared.sessions.get(session) else {
        return;
    };
    let event = Event {
        method: value
            .get("method")
            .and_then(Json::as_str)
            .unwrap_or_default()
            .to_owned(),
        params: value
            .get_mut("params")
            .map(Json::take)
            .unwrap_or(Json::Null),
    };
    let _ = events.send(event);
}
