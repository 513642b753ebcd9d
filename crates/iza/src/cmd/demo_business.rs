//! The business figures `iza demo-service` plays when given `--arr` (docs/metrics.md,
//! docs/demo-service.md): a simulated business whose annual recurring revenue grows by
//! `--growth` per hour with a little noise, whose customers follow, and whose revenue
//! accumulates since the start. Honestly labelled: every figure carries `simulated="true"`
//! (Prometheus) or `"simulated": true` (JSON). Served as Prometheus text at `GET /metrics`
//! and as JSON at `GET /figures.json`, so both kinds of `metrics` sources can read it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::cli::DemoServiceArgs;

const HOUR_SECS: f64 = 3600.0;
const YEAR_SECS: f64 = 365.0 * 24.0 * HOUR_SECS;

struct Business {
    name: String,
    started: Instant,
    arr: f64,
    customers: f64,
    growth_per_hour: f64,
    random: AtomicU64,
}

/// The figures at one moment.
struct Figures {
    arr: f64,
    customers: f64,
    revenue: f64,
}

impl Business {
    fn noise(&self) -> f64 {
        // SplitMix64 step, mapped to [-0.002, 0.002): enough to see a sparkline move.
        let mut z = self
            .random
            .fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed)
            .wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        ((z >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 0.004
    }

    fn now(&self) -> Figures {
        let elapsed = self.started.elapsed().as_secs_f64();
        let factor = (1.0 + self.growth_per_hour).powf(elapsed / HOUR_SECS);
        let arr = (self.arr * factor * (1.0 + self.noise())).round();
        // Revenue since the start: the integral of ARR over the elapsed share of a year.
        let ln = (1.0 + self.growth_per_hour).ln();
        let revenue = if ln.abs() < 1e-12 {
            self.arr * elapsed / YEAR_SECS
        } else {
            self.arr * (factor - 1.0) / ln * HOUR_SECS / YEAR_SECS
        };
        Figures {
            arr,
            customers: (self.customers * factor).round(),
            revenue: (revenue * 100.0).round() / 100.0,
        }
    }
}

/// Adds `/metrics` and `/figures.json` to the demo's router when `--arr` is given.
pub(crate) fn mount(app: Router, args: &DemoServiceArgs, seed: u64) -> Router {
    let Some(arr) = args.arr else {
        return app;
    };
    let business = Arc::new(Business {
        name: args.name.clone(),
        started: Instant::now(),
        arr,
        customers: args.customers.unwrap_or((arr / 12_000.0).round().max(1.0)),
        growth_per_hour: args.growth,
        random: AtomicU64::new(seed ^ 0x5eed),
    });
    app.merge(
        Router::new()
            .route("/metrics", get(prometheus))
            .route("/figures.json", get(json_figures))
            .with_state(business),
    )
}

async fn prometheus(State(business): State<Arc<Business>>) -> impl IntoResponse {
    let f = business.now();
    let labels = format!(
        "service=\"{}\",simulated=\"true\"",
        business.name.replace('\\', "\\\\").replace('"', "\\\"")
    );
    let text = format!(
        "# HELP business_arr_dollars Annual recurring revenue (simulated by iza demo-service).\n\
         # TYPE business_arr_dollars gauge\n\
         business_arr_dollars{{{labels}}} {}\n\
         # HELP business_customers Paying customers (simulated).\n\
         # TYPE business_customers gauge\n\
         business_customers{{{labels}}} {}\n\
         # HELP business_revenue_dollars_total Revenue since the service started (simulated).\n\
         # TYPE business_revenue_dollars_total counter\n\
         business_revenue_dollars_total{{{labels}}} {}\n",
        f.arr, f.customers, f.revenue
    );
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
}

async fn json_figures(State(business): State<Arc<Business>>) -> Json<Value> {
    let f = business.now();
    Json(json!({
        "service": business.name,
        "simulated": true,
        "arr": f.arr,
        "mrr": (f.arr / 12.0).round(),
        "customers": f.customers,
        "revenue": f.revenue,
    }))
}
