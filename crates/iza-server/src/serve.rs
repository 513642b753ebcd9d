//! Defines [`serve`]: the HTTP/1.1 connections of the router under the server's [`Limits`], a
//! header-read timeout, an idle timeout and a cap on open connections. It owns accepting,
//! watching, closing and, on shutdown, draining connections; it does not know the routes
//! (`lib.rs`) nor who may call them (`auth.rs`).
//!
//! Each connection is in one of three states, and a watchdog closes it when the state's
//! deadline passes:
//! - awaiting a request head (from when it is accepted, or from the first byte of its next
//!   request): closed after `header_timeout` unless the head is complete (slowloris);
//! - idle (no request in progress, no byte of a next one): closed after `idle_timeout`;
//! - serving a request (from its head until its response body is sent or dropped): no
//!   deadline, so event and log streams stay open as long as they run.
//!
//! At `max_connections` open connections the server stops accepting: further connections wait
//! in the kernel's accept queue (the listen backlog) and are served, in order, as others close.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::Instant;
use tower::ServiceExt as _;

/// The limits of the HTTP server (`iza serve --header-timeout --idle-timeout
/// --max-connections`; see `docs/api.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// How long a connection may take to send a complete request head, counted from when it
    /// is accepted or from the first byte of a later request.
    pub header_timeout: Duration,
    /// How long a connection may stay open with no request in progress.
    pub idle_timeout: Duration,
    /// How many connections may be open at once (event streams included); at least 1.
    pub max_connections: u32,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 512,
        }
    }
}

/// Serves `app` on `listener` under `limits` until `shutdown` resolves; then stops accepting,
/// lets every connection finish its request in progress (event streams end when the monitor
/// stops) and returns once all are closed.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send,
) -> io::Result<()> {
    let max = limits.max_connections.max(1);
    let slots = Arc::new(Semaphore::new(max as usize));
    let (stop, stopping) = watch::channel(());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        // At the cap, nothing is accepted: new connections wait in the kernel's queue.
        let permit = tokio::select! {
            permit = slots.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break, // never closed
            },
            () = &mut shutdown => break,
        };
        let stream = tokio::select! {
            stream = accept(&listener) => stream,
            () = &mut shutdown => break,
        };
        tokio::spawn(connection(
            stream,
            app.clone(),
            limits,
            stopping.clone(),
            permit,
        ));
    }
    drop(listener);
    // Every connection holds a slot until it is closed.
    let _ = stop.send(());
    let _all_closed = slots.acquire_many(max).await;
    Ok(())
}

/// The next accepted connection; errors of one connection are skipped, others (such as too
/// many open files) logged and retried after a pause.
async fn accept(listener: &TcpListener) -> TcpStream {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let _ = stream.set_nodelay(true);
                return stream;
            }
            Err(err)
                if matches!(
                    err.kind(),
                    io::ErrorKind::ConnectionAborted
                        | io::ErrorKind::ConnectionRefused
                        | io::ErrorKind::ConnectionReset
                ) => {}
            Err(err) => {
                tracing::error!("cannot accept a connection: {err}");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// Serves one connection until it ends, its deadline passes, or the server stops.
async fn connection(
    stream: TcpStream,
    app: Router,
    limits: Limits,
    mut stopping: watch::Receiver<()>,
    _slot: OwnedSemaphorePermit,
) {
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Watched {
        stream,
        activity: activity.clone(),
    });
    let service = hyper::service::service_fn({
        let activity = activity.clone();
        move |request: hyper::Request<Incoming>| {
            let serving = Serving::start(activity.clone());
            let response = app.clone().oneshot(request.map(Body::new));
            async move {
                let response = response.await?;
                Ok::<_, Infallible>(response.map(|body| Tracked {
                    body,
                    _serving: serving,
                }))
            }
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    // The timeouts are this module's (hyper's own would need its timer, and count the idle
    // time between requests as header time).
    builder.header_read_timeout(None);
    let mut conn = std::pin::pin!(builder.serve_connection(io, service));
    let mut draining = false;
    loop {
        let deadline = activity.deadline(&limits);
        tokio::select! {
            served = conn.as_mut() => {
                if let Err(err) = served {
                    tracing::debug!("connection ended: {err}");
                }
                return;
            }
            () = sleep_until(deadline) => {
                if activity.deadline(&limits).is_some_and(|d| d <= Instant::now()) {
                    tracing::debug!("closing a connection: no complete request in time, or idle");
                    return; // dropping it closes the socket
                }
            }
            () = activity.changed.notified() => {}
            _ = stopping.changed(), if !draining => {
                draining = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// What one connection is doing, shared by its socket, its requests and its watchdog.
struct Activity {
    state: Mutex<State>,
    /// Wakes the watchdog when the state changed.
    changed: Notify,
}

struct State {
    /// Requests whose response is not yet sent.
    serving: usize,
    /// When nothing is served: since when a request head is awaited, or since when the
    /// connection is idle.
    waiting: Waiting,
}

#[derive(Clone, Copy)]
enum Waiting {
    Head(Instant),
    Idle(Instant),
}

impl Activity {
    fn new() -> Activity {
        Activity {
            state: Mutex::new(State {
                serving: 0,
                waiting: Waiting::Head(Instant::now()),
            }),
            changed: Notify::new(),
        }
    }

    fn update(&self, change: impl FnOnce(&mut State)) {
        change(&mut self.state.lock().unwrap_or_else(PoisonError::into_inner));
        self.changed.notify_one();
    }

    /// When the connection is to be closed; `None` while a request is served.
    fn deadline(&self, limits: &Limits) -> Option<Instant> {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.serving > 0 {
            return None;
        }
        Some(match state.waiting {
            Waiting::Head(since) => since + limits.header_timeout,
            Waiting::Idle(since) => since + limits.idle_timeout,
        })
    }

    /// Bytes came in: on an idle connection, they start a request head.
    fn received(&self) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.serving == 0 && matches!(state.waiting, Waiting::Idle(_)) {
            state.waiting = Waiting::Head(Instant::now());
            drop(state);
            self.changed.notify_one();
        }
    }
}

/// A request in progress, from its head until its response body is done with.
struct Serving(Arc<Activity>);

impl Serving {
    fn start(activity: Arc<Activity>) -> Serving {
        activity.update(|state| state.serving += 1);
        Serving(activity)
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        self.0.update(|state| {
            state.serving = state.serving.saturating_sub(1);
            if state.serving == 0 {
                state.waiting = Waiting::Idle(Instant::now());
            }
        });
    }
}

/// A response body that keeps its request in progress until it is sent or dropped.
struct Tracked {
    body: Body,
    _serving: Serving,
}

impl hyper::body::Body for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// The socket, telling its connection's [`Activity`] when bytes come in.
struct Watched {
    stream: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.stream).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.activity.received();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}
