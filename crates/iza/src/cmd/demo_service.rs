//! `iza demo-service`: a small, honest workload for demos and benchmarks. It serves
//! `GET /healthz` (200, or 503 as the failure flags ask), `GET /stats` (JSON: name, pid,
//! uptime, request counts), `GET /` (a line of text) and `POST /mcp` (an MCP `initialize`
//! answer, so `mcp` checks pass), with optional added latency; it can turn unhealthy or exit
//! after a while, to show restarts. It stops cleanly (exit 0) on SIGTERM or Ctrl-C. With
//! `--receive-webhooks` it is also a notification receiver (`demo_webhooks.rs`).
//! `--mcp`, `/mcp` is a real MCP server (`iza_mcp::demo`: a few demo tools, both protocol
//! generations); with `--mcp-stdio` that server speaks on stdin and stdout instead of HTTP.
//!
//! The first line on stdout is `... listening on http://ADDR`, so that `--port 0` can be used.
//! It does not supervise, probe or store anything: it is what `iza up` supervises in
//! `examples/iza-os` and in `bench/supervise-200.sh`.

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};
use tokio::signal::unix::{SignalKind, signal};

use crate::cli::DemoServiceArgs;

/// The MCP revision answered when the client asks for none.
const MCP_PROTOCOL_VERSION: &str = "2025-06-18";

pub(crate) fn run(args: &DemoServiceArgs) -> Result<ExitCode> {
    // One thread: hundreds of these run side by side in a benchmark.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(args))
}

/// Why the service stopped.
#[derive(Debug, Clone, Copy)]
enum Stop {
    /// SIGTERM or Ctrl-C: exit 0.
    Signal,
    /// `--exit-after` elapsed: exit 1, as a crash would.
    ExitAfter,
}

struct Demo {
    name: String,
    port: u16,
    started: Instant,
    fail_rate: f64,
    fail_after: Option<Duration>,
    latency: Duration,
    random: AtomicU64,
    total: AtomicU64,
    healthz: AtomicU64,
    healthz_failed: AtomicU64,
    stats: AtomicU64,
    mcp: AtomicU64,
}

impl Demo {
    /// A uniform draw in [0, 1) (SplitMix64; not for secrets).
    fn draw(&self) -> f64 {
        let mut z = self
            .random
            .fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed)
            .wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        // 53 random bits: every f64 in [0, 1) at equal spacing.
        (z >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Why `/healthz` should fail now, if it should.
    fn failing(&self) -> Option<&'static str> {
        if self
            .fail_after
            .is_some_and(|after| self.started.elapsed() >= after)
        {
            return Some("fail-after");
        }
        // `draw() < 1.0` always holds, so a rate of 1 always fails and 0 never does.
        (self.fail_rate > 0.0 && self.draw() < self.fail_rate).then_some("fail-rate")
    }
}

async fn serve(args: &DemoServiceArgs) -> Result<ExitCode> {
    if args.mcp_stdio {
        iza_mcp::demo::serve_demo_stdio(&args.name)
            .await
            .context("the demo MCP server failed")?;
        return Ok(ExitCode::SUCCESS);
    }
    let address = SocketAddr::new(args.listen_host, args.port);
    let listener = match tokio::net::TcpListener::bind(address).await {
        Ok(listener) => listener,
        Err(err) if err.kind() == std::io::ErrorKind::AddrInUse => {
            eprintln!("error: cannot listen on `{address}`: the address is in use");
            eprintln!("\nhint: stop what holds it, or pass another port with `--port`");
            return Ok(ExitCode::from(2));
        }
        Err(err) => return Err(err).context(format!("cannot listen on `{address}`")),
    };
    let bound = listener.local_addr()?;
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
        ^ (u64::from(std::process::id()) << 32);
    let demo = Arc::new(Demo {
        name: args.name.clone(),
        port: bound.port(),
        started: Instant::now(),
        fail_rate: args.fail_rate,
        fail_after: args.fail_after,
        latency: args.latency.unwrap_or_default(),
        random: AtomicU64::new(seed),
        total: AtomicU64::new(0),
        healthz: AtomicU64::new(0),
        healthz_failed: AtomicU64::new(0),
        stats: AtomicU64::new(0),
        mcp: AtomicU64::new(0),
    });
    let mcp_shutdown = iza_mcp::Shutdown::new();
    let mcp_routes = if args.mcp {
        Router::new().route_service(
            "/mcp",
            iza_mcp::demo::demo_http_service(&args.name, mcp_shutdown.clone()),
        )
    } else {
        Router::new().route("/mcp", axum::routing::post(mcp))
    };
    let app = Router::new()
        .route("/", get(index))
        .route("/healthz", get(healthz))
        .route("/stats", get(stats))
        .merge(mcp_routes)
        .fallback(|| async { (StatusCode::NOT_FOUND, "no such page\n") })
        .layer(axum::middleware::from_fn_with_state(
            demo.clone(),
            count_and_delay,
        ))
        .with_state(demo.clone());
    let app = super::demo_business::mount(app, args, seed);
    let app = if args.receive_webhooks {
        app.merge(crate::cmd::demo_webhooks::router(
            args.webhook_secret.clone(),
        ))
    } else {
        app
    };
    // `--engine`: the stand-in of a workflow engine answers instead (its own routes).
    let (app, engine) = match super::demo_engine::router(&args.engine) {
        Some((router, label)) => (router, Some(label)),
        None => (app, None),
    };

    // Signals are handled before the address is announced: a SIGTERM sent as soon as the
    // line is read meets the handler, not the default action.
    let mut terminate = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    let exit_after = args.exit_after;
    let stop = Arc::new(OnceLock::new());
    let shutdown = {
        let stop = stop.clone();
        async move {
            let reason = tokio::select! {
                _ = terminate.recv() => Stop::Signal,
                _ = tokio::signal::ctrl_c() => Stop::Signal,
                () = async {
                    match exit_after {
                        Some(after) => tokio::time::sleep(after).await,
                        None => std::future::pending().await,
                    }
                } => Stop::ExitAfter,
            };
            let _ = stop.set(reason);
            mcp_shutdown.cancel();
        }
    };
    {
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "demo service `{}` listening on http://{bound}",
            demo.name
        )?;
        out.flush()?;
        if let Some(label) = engine {
            // On stderr: readers of the first stdout line may close the pipe after it.
            eprintln!("{label}");
        }
    }
    // No Nagle: a small answer must not wait for the client's delayed ACK (40 ms).
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .context("the HTTP server failed")?;
    match stop.get() {
        Some(Stop::ExitAfter) => {
            eprintln!(
                "demo service `{}`: exiting with 1 after {} (`--exit-after`)",
                demo.name,
                humantime::format_duration(exit_after.unwrap_or_default())
            );
            Ok(ExitCode::from(1))
        }
        Some(Stop::Signal) | None => Ok(ExitCode::SUCCESS),
    }
}

/// Counts every request and adds the configured latency before answering it.
async fn count_and_delay(State(demo): State<Arc<Demo>>, request: Request, next: Next) -> Response {
    demo.total.fetch_add(1, Ordering::Relaxed);
    if !demo.latency.is_zero() {
        tokio::time::sleep(demo.latency).await;
    }
    next.run(request).await
}

async fn index(State(demo): State<Arc<Demo>>) -> String {
    format!(
        "iza demo service `{}` on port {}: GET /healthz, GET /stats, POST /mcp\n",
        demo.name, demo.port
    )
}

async fn healthz(State(demo): State<Arc<Demo>>) -> Response {
    demo.healthz.fetch_add(1, Ordering::Relaxed);
    match demo.failing() {
        None => Json(json!({ "status": "ok", "name": demo.name })).into_response(),
        Some(reason) => {
            demo.healthz_failed.fetch_add(1, Ordering::Relaxed);
            let body = json!({ "status": "failing", "name": demo.name, "reason": reason });
            (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
        }
    }
}

async fn stats(State(demo): State<Arc<Demo>>) -> Json<Value> {
    demo.stats.fetch_add(1, Ordering::Relaxed);
    let count = |c: &AtomicU64| c.load(Ordering::Relaxed);
    Json(json!({
        "name": demo.name,
        "pid": std::process::id(),
        "port": demo.port,
        "uptime_ms": u64::try_from(demo.started.elapsed().as_millis()).unwrap_or(u64::MAX),
        "requests": {
            "total": count(&demo.total),
            "healthz": count(&demo.healthz),
            "healthz_failed": count(&demo.healthz_failed),
            "stats": count(&demo.stats),
            "mcp": count(&demo.mcp),
        },
        "fail_rate": demo.fail_rate,
        "latency_ms": u64::try_from(demo.latency.as_millis()).unwrap_or(u64::MAX),
    }))
}

/// Enough of MCP over streamable HTTP for a health check: `initialize` and `ping` are
/// answered, notifications accepted, anything else is `method not found`.
async fn mcp(State(demo): State<Arc<Demo>>, body: axum::body::Bytes) -> Response {
    demo.mcp.fetch_add(1, Ordering::Relaxed);
    let Ok(message) = serde_json::from_slice::<Value>(&body) else {
        let error = json!({ "jsonrpc": "2.0", "id": null,
            "error": { "code": -32700, "message": "parse error" } });
        return (StatusCode::BAD_REQUEST, Json(error)).into_response();
    };
    let Some(id) = message.get("id").cloned() else {
        // A notification (e.g. `notifications/initialized`): accepted, no answer.
        return StatusCode::ACCEPTED.into_response();
    };
    let answer = match message["method"].as_str() {
        Some("initialize") => {
            let version = message["params"]["protocolVersion"]
                .as_str()
                .unwrap_or(MCP_PROTOCOL_VERSION);
            json!({ "jsonrpc": "2.0", "id": id, "result": {
                "protocolVersion": version,
                "capabilities": {},
                "serverInfo": { "name": demo.name, "version": env!("CARGO_PKG_VERSION") },
                "instructions": "an iza demo service: it has no tools",
            } })
        }
        Some("ping") => json!({ "jsonrpc": "2.0", "id": id, "result": {} }),
        _ => json!({ "jsonrpc": "2.0", "id": id,
            "error": { "code": -32601, "message": "method not found" } }),
    };
    Json(answer).into_response()
}

/// Parses `--fail-rate`: a number from 0 to 1.
pub(crate) fn parse_rate(text: &str) -> Result<f64, String> {
    let rate: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number"))?;
    if (0.0..=1.0).contains(&rate) {
        Ok(rate)
    } else {
        Err(format!("`{text}` is not between 0 and 1"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fail_rates_are_numbers_from_0_to_1() {
        let cases = [
            ("0", Some(0.0)),
            ("1", Some(1.0)),
            ("0.25", Some(0.25)),
            ("1.5", None),
            ("-0.1", None),
            ("NaN", None),
            ("half", None),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_rate(text).ok(), expected, "{text}");
        }
    }
}
