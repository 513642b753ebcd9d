//! The monitor with the real SQLite store: every probe it stated is in the database after
//! shutdown, and a monitor started on the same database resumes the statuses it left.

use std::sync::Arc;
use std::time::Duration;

use iza_probe::Prober;
use iza_runtime::{EventKind, Monitor, Status};
use iza_store::{SqliteStore, Store};

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_in_sqlite_survives_a_restart_of_the_monitor() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let server = serve(Behaviour::up()).await;
    let services: String = (0..5)
        .map(|i| {
            format!(
                "[services.s{i}]\ncheck = {{ http = \"{}\", every = \"100ms\", timeout = \"1s\" }}\n",
                server.url(&format!("/s{i}"))
            )
        })
        .collect();
    let catalog = catalog(&services);

    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).await.unwrap());
    let monitor = Monitor::start(
        catalog.clone(),
        Arc::new(Prober::default()),
        store.clone(),
        options(),
    )
    .await
    .unwrap();
    let events = Collector::new(&monitor);
    let probes = |events: &Collector| {
        events
            .events()
            .iter()
            .filter(|e| matches!(e.kind, EventKind::ProbeCompleted { .. }))
            .count()
    };
    wait_until("50 probes finished", || probes(&events) >= 50).await;
    let report = monitor.shutdown(Duration::from_secs(5)).await;
    assert_eq!((report.unwritten_results, report.unwritten_events), (0, 0));
    let stated = probes(&events);
    store.close().await.unwrap();
    drop(store);

    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).await.unwrap());
    let mut stored = 0;
    for i in 0..5 {
        stored += store
            .recent_results(&format!("s{i}"), 10_000)
            .await
            .unwrap()
            .len();
    }
    assert_eq!(
        stored, stated,
        "every probe stated before shutdown is in the database"
    );
    assert_eq!(store.latest_results().await.unwrap().len(), 5);

    let monitor = Monitor::start(
        catalog,
        Arc::new(Prober::default()),
        store.clone(),
        options(),
    )
    .await
    .unwrap();
    let snapshot = monitor.snapshot();
    assert_eq!(snapshot.services.len(), 5);
    for state in &snapshot.services {
        assert_eq!(
            state.status,
            Status::Up,
            "{} resumes up from the database",
            state.service
        );
    }
    monitor.shutdown(Duration::from_secs(5)).await;
}
