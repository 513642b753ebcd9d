//! Conditions on business figures end to end: a real local HTTP server serves a figure and a
//! health endpoint; the real figures scraper puts the value on the shared `FigureBoard`, the
//! real prober evaluates the check's `[METRIC].arr >= 1000000` against it, and the alert
//! engine fires the rule `when = "[METRIC].arr < 1000000"` to a real webhook receiver, then
//! resolves it when the value crosses back. Every wait polls with a deadline.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use iza_probe::{FigureBoard, Prober, ProberOptions};
use iza_runtime::alerts::{Alerts, AlertsOptions};
use iza_runtime::figures::{Figures, FiguresOptions};
use iza_runtime::{Monitor, Status};
use iza_store::{AlertQuery, AlertState, SqliteStore, Store};

use crate::receiver::receiver;
use crate::support::*;

async fn alerts_of(store: &dyn Store) -> Vec<iza_store::Alert> {
    store
        .alerts(&AlertQuery {
            open_only: false,
            service: None,
            before: None,
            limit: 100,
        })
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_figure_crossing_its_threshold_turns_the_check_down_and_fires_then_resolves_the_rule() {
    let arr = Arc::new(AtomicU64::new(2_000_000));
    let served = arr.clone();
    let (addr, _) = serve_bodies(move |path| match path {
        "/metrics" => (
            200,
            format!(
                "# TYPE business_arr_dollars gauge\nbusiness_arr_dollars {}\n",
                served.load(Ordering::SeqCst)
            ),
        ),
        "/healthz" => (200, "ok".to_owned()),
        _ => (404, "no".to_owned()),
    })
    .await;
    let hook = receiver(&[]).await;
    let catalog = catalog(&format!(
        r#"
[notifiers.ops]
kind = "webhook"
url = "{hook}/hook"
[groups.biz]
[services.boss]
group = "biz"
check = {{ http = "http://{addr}/healthz", every = "100ms", timeout = "1s", conditions = ["[STATUS] == 200", "[METRIC].arr >= 1000000"] }}
[services.boss.metrics.arr]
label = "ARR"
prometheus = "http://{addr}/metrics"
series = "business_arr_dollars"
unit = "USD"
format = "currency"
every = "1s"
[[alerts]]
name = "arr below target"
groups = ["biz"]
when = "[METRIC].arr < 1000000"
notify = ["ops"]
group_wait = "100ms"
"#,
        hook = hook.url,
    ));
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().await.unwrap());
    let board = FigureBoard::default();
    let figures = Figures::start(
        catalog.clone(),
        store.clone(),
        FiguresOptions {
            tick: Duration::from_millis(50),
            board: board.clone(),
            ..FiguresOptions::default()
        },
    );
    let prober = Arc::new(Prober::new(ProberOptions {
        figures: board.clone(),
        ..ProberOptions::default()
    }));
    let monitor = Arc::new(
        Monitor::start(catalog.clone(), prober, store.clone(), options())
            .await
            .unwrap(),
    );
    let alerts = Alerts::start(
        catalog,
        store.clone(),
        monitor.clone(),
        AlertsOptions {
            tick: Duration::from_millis(50),
            figures: board.clone(),
            ..AlertsOptions::default()
        },
    );

    // Above the threshold: up, and no alert.
    wait_until("boss is up on its figure", || {
        status(&monitor, "boss") == Status::Up
    })
    .await;
    assert_eq!(board.get("boss", "arr"), Some(2_000_000.0));
    assert!(alerts_of(&*store).await.is_empty());

    // Below: the check fails naming the value, the rule fires naming the figure and its value.
    arr.store(500_000, Ordering::SeqCst);
    wait_until("boss is down on its figure", || {
        status(&monitor, "boss") == Status::Down
    })
    .await;
    let last = monitor.bus().service("boss").unwrap().last.clone().unwrap();
    assert_eq!(
        last.message.as_deref(),
        Some("[METRIC].arr (500000) >= 1000000"),
        "{last:?}"
    );
    wait_until("the figure alert is sent", || !hook.accepted().is_empty()).await;
    let alert = alerts_of(&*store)
        .await
        .into_iter()
        .find(|a| a.rule == "arr below target")
        .expect("an alert of the rule");
    assert_eq!(alert.service, "boss");
    assert_eq!(alert.state, AlertState::Firing);
    assert_eq!(alert.status, iza_runtime::alerts::figures::STATUS);
    let reason = alert.reason.clone().unwrap_or_default();
    assert!(reason.contains("ARR is $500"), "{reason}");
    assert!(reason.contains("[METRIC].arr < 1000000"), "{reason}");
    let sent = hook.accepted()[0].body.clone();
    assert!(sent.contains("ARR is $500"), "{sent}");

    // Above again: up, and the alert resolves (one resolved notification).
    arr.store(3_000_000, Ordering::SeqCst);
    wait_until("boss is up again", || {
        status(&monitor, "boss") == Status::Up
    })
    .await;
    wait_until_async("the figure alert resolves", || {
        let store = store.clone();
        async move {
            alerts_of(&*store)
                .await
                .iter()
                .all(|a| a.state == AlertState::Resolved)
        }
    })
    .await;
    wait_until("the resolved notification is sent", || {
        hook.accepted().len() >= 2
    })
    .await;
    assert!(
        hook.accepted()[1].body.contains("resolved"),
        "{}",
        hook.accepted()[1].body
    );

    alerts.shutdown().await;
    figures.shutdown().await;
    monitor.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_restart_conditions_see_the_stored_values_until_the_next_scrape() {
    // An endpoint that refuses connections: nothing new is read.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let catalog = catalog(&format!(
        r#"
[services.boss.metrics.arr]
prometheus = "http://{addr}/metrics"
series = "business_arr_dollars"
every = "1s"
"#
    ));
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().await.unwrap());
    let at = iza_runtime::now_millis();
    let sample = |service: &str, value: f64| iza_store::FigureSample {
        service: service.to_owned(),
        figure: "arr".to_owned(),
        at,
        value,
    };
    // `gone` is no longer in the manifest: not put on the board.
    store
        .append_figures(&[sample("boss", 750_000.0), sample("gone", 1.0)])
        .await
        .unwrap();
    let board = FigureBoard::default();
    let figures = Figures::start(
        catalog,
        store,
        FiguresOptions {
            tick: Duration::from_millis(50),
            board: board.clone(),
            ..FiguresOptions::default()
        },
    );
    wait_until("the stored value is on the board", || {
        board.get("boss", "arr").is_some()
    })
    .await;
    assert_eq!(board.get("boss", "arr"), Some(750_000.0));
    assert_eq!(board.get("gone", "arr"), None);
    // The failing scrape keeps the last value rather than dropping it.
    wait_until("a scrape failed", || !figures.errors().is_empty()).await;
    assert_eq!(board.get("boss", "arr"), Some(750_000.0));
    figures.shutdown().await;
}
