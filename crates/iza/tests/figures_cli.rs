//! End to end: `iza up` supervises an `iza demo-service` that plays a business (`--arr`), scrapes
//! its figures from Prometheus text and JSON, and `iza metrics` prints them (table and JSON)
//! from a second terminal, through the running server, with the claim beside what is measured.

mod common;

use std::time::{Duration, Instant};

use common::{DEADLINE, free_port, up};
use serde_json::Value;

#[test]
fn iza_up_scrapes_a_demo_business_and_iza_metrics_prints_it() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let manifest = format!(
        r#"version = 1
[ecosystem]
name = "figures"
claims = [{{ label = "Ecosystem value", value = "$1.4B+", figure = "arr" }}]
[groups.biz]
[services.shop]
group = "biz"
command = ["iza", "demo-service", "--port", "{port}", "--name", "shop", "--arr", "1000000", "--customers", "80", "--growth", "0"]
check = {{ http = "http://127.0.0.1:{port}/healthz", every = "200ms" }}
metrics.arr = {{ prometheus = "http://127.0.0.1:{port}/metrics", series = 'business_arr_dollars{{service="shop"}}', unit = "USD", format = "currency", every = "1s" }}
metrics.customers = {{ json = {{ url = "http://127.0.0.1:{port}/figures.json", path = "$.customers" }}, format = "count", every = "1s" }}
"#
    );
    let _up = up(dir.path(), &manifest);
    let deadline = Instant::now() + DEADLINE;
    let doc: Value = loop {
        let (ok, out, err) = common::iza_text(dir.path(), &["metrics", "--format", "json"]);
        assert!(ok, "{err}");
        let doc: Value = serde_json::from_str(&out).unwrap();
        if doc["figures"][0]["value"].is_number() && doc["figures"][1]["value"].is_number() {
            break doc;
        }
        assert!(Instant::now() < deadline, "{doc}");
        std::thread::sleep(Duration::from_millis(200));
    };
    let arr = doc["figures"][0]["value"].as_f64().unwrap();
    // No growth: only the demo's noise of at most 0.2%.
    assert!((arr - 1_000_000.0).abs() <= 2_000.0, "{arr}");
    assert_eq!(doc["figures"][1]["value"], 80.0);
    assert_eq!(doc["figures"][0]["groups"][0]["id"], "biz");
    assert_eq!(doc["claims"][0]["claimed"], "$1.4B+");
    assert!(doc["claims"][0]["measured"].is_number());

    let (ok, text, err) = common::iza_text(dir.path(), &["metrics"]);
    assert!(ok, "{err}");
    assert!(text.contains("FIGURE"), "{text}");
    assert!(text.contains("group biz"), "{text}");
    assert!(text.contains("80"), "{text}");
    assert!(text.contains("$1.4B+"), "{text}");
}
