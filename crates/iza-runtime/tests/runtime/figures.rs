//! Business figures scraped by the runtime into the real SQLite store: one fetch per endpoint
//! for all the figures it carries, values summed over matching series or read at a JSON path,
//! the last error of a failing figure kept, and the summary aggregating per group and
//! ecosystem with the claims beside.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use iza_runtime::figures::{Figures, FiguresOptions, Summary};
use iza_store::{FigureQuery, FigureResolution, SqliteStore, Store};
use tokio::time::Instant;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn figures_are_scraped_stored_and_aggregated() {
    let value_a = Arc::new(AtomicU64::new(100));
    let served = value_a.clone();
    let (addr, seen) = serve_bodies(move |path| match path {
        "/metrics" => (
            200,
            format!(
                "# TYPE business_arr_dollars gauge\nbusiness_arr_dollars{{service=\"a\",plan=\"pro\"}} {}\nbusiness_arr_dollars{{service=\"a\",plan=\"free\"}} 5\nbusiness_arr_dollars{{service=\"b\"}} 1000\n",
                served.load(Ordering::SeqCst)
            ),
        ),
        "/figures.json" => (200, r#"{"customers": {"count": "42"}}"#.to_owned()),
        "/broken" => (200, "not an exposition{".to_owned()),
        _ => (404, "no".to_owned()),
    })
    .await;
    let url = |path: &str| format!("http://{addr}{path}");
    let catalog = catalog(&format!(
        r#"
claims = [{{ label = "ARR", value = "$1B+", figure = "arr" }}]
[groups.biz]
[services.a]
group = "biz"
[services.a.metrics.arr]
prometheus = "{m}"
series = 'business_arr_dollars{{service="a"}}'
format = "currency"
every = "1s"
[services.a.metrics.customers]
json = {{ url = "{j}", path = "$.customers.count" }}
format = "count"
every = "1s"
[services.b]
group = "biz"
[services.b.metrics.arr]
prometheus = "{m}"
labels = {{ service = "b" }}
series = "business_arr_dollars"
every = "1s"
[services.c.metrics.arr]
prometheus = "{broken}"
series = "business_arr_dollars"
every = "1s"
"#,
        m = url("/metrics"),
        j = url("/figures.json"),
        broken = url("/broken"),
    ));
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&dir.path().join("s.db")).await.unwrap());
    let figures = Figures::start(catalog.clone(), store.clone(), FiguresOptions::default());

    let deadline = Instant::now() + DEADLINE;
    let summary = loop {
        let latest = store.latest_figures().await.unwrap();
        let summary = Summary::build(&catalog, &latest, &figures.errors());
        if latest.len() == 3 && summary.figure("arr").unwrap().services[2].error.is_some() {
            break summary;
        }
        assert!(
            Instant::now() < deadline,
            "{latest:?} {:?}",
            figures.errors()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let arr = summary.figure("arr").unwrap();
    let by_id: HashMap<&str, Option<f64>> = arr
        .services
        .iter()
        .map(|v| (v.id.as_str(), v.value))
        .collect();
    assert_eq!(by_id["a"], Some(105.0), "both series of `a` are added");
    assert_eq!(by_id["b"], Some(1000.0));
    assert_eq!(by_id["c"], None);
    assert!(
        arr.services[2].error.as_deref().unwrap().contains("line 1"),
        "{:?}",
        arr.services[2].error
    );
    assert_eq!(arr.value, Some(1105.0));
    assert_eq!(arr.display.as_deref(), Some("$1.1K"));
    assert_eq!(arr.groups.len(), 1);
    assert_eq!(arr.groups[0].value, Some(1105.0));
    assert_eq!(summary.figure("customers").unwrap().value, Some(42.0));
    // `a` and `b` read one endpoint: fetched once per round, not once per figure.
    let fetches = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|p| *p == "/metrics")
        .count();
    let jsons = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|p| *p == "/figures.json")
        .count();
    assert!(
        fetches <= jsons + 1,
        "{fetches} fetches of /metrics for {jsons} of the JSON"
    );

    let claim = &summary.claims[0];
    assert_eq!(
        (claim.claimed.as_str(), claim.measured),
        ("$1B+", Some(1105.0))
    );

    // A new value reaches the store at a later scrape, and the history keeps both.
    value_a.store(200, Ordering::SeqCst);
    let deadline = Instant::now() + DEADLINE;
    loop {
        let latest = store.latest_figures().await.unwrap();
        if latest
            .iter()
            .any(|s| s.service == "a" && s.figure == "arr" && s.value == 205.0)
        {
            break;
        }
        assert!(Instant::now() < deadline, "{latest:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let history = store
        .figure_series(&FigureQuery {
            service: "a".to_owned(),
            figure: "arr".to_owned(),
            since: 0,
            resolution: FigureResolution::Raw,
            limit: 100,
        })
        .await
        .unwrap();
    assert!(history.len() >= 2, "{history:?}");
    assert_eq!(history.first().unwrap().last, 105.0);
    assert_eq!(history.last().unwrap().last, 205.0);
    assert!(figures.counters().failures >= 1);
    figures.shutdown().await;
}
