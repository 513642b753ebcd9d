//! The dependency chain of the "Watch" issue, against real HTTP servers: `db ← api ← web ←
//! edge`, each depending on the previous and failing when `db` fails. Take `db` down: exactly
//! one root cause is reported, and each dependent shows impacted by it; bring it back: all
//! recover.

use std::sync::Arc;
use std::time::Duration;

use iza_runtime::{EventKind, Status};

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_root_cause_is_reported_and_each_dependent_shows_impacted_by_it() {
    let db_up = Switch::on();
    let mut urls = Vec::new();
    for _ in 0..4 {
        let db_up = db_up.clone();
        // Each service answers 503 while `db` is down, as a real dependent would.
        let server = serve(Behaviour::when(move || db_up.get())).await;
        urls.push(server.url("/healthz"));
    }
    let check = |url: &str| {
        format!(
            r#"check = {{ http = "{url}", every = "200ms", timeout = "1s", conditions = ["[STATUS] == 200"] }}"#
        )
    };
    let catalog = catalog(&format!(
        r#"
[services.db]
{}
[services.api]
depends_on = ["db"]
{}
[services.web]
depends_on = ["api"]
{}
[services.edge]
depends_on = ["web"]
{}
"#,
        check(&urls[0]),
        check(&urls[1]),
        check(&urls[2]),
        check(&urls[3]),
    ));
    let store = Arc::new(RecordingStore::default());
    let monitor = start(catalog, store.clone(), options()).await;
    let events = Collector::new(&monitor);
    let services = ["db", "api", "web", "edge"];

    wait_until("every service is up", || {
        services.iter().all(|s| status(&monitor, s) == Status::Up)
    })
    .await;

    // `db` goes down.
    let outage_start = events.len();
    db_up.set(false);
    let impacted = Status::Impacted { by: "db".into() };
    wait_until(
        "`db` is down and everything above it impacted by it",
        || {
            status(&monitor, "db") == Status::Down
                && services[1..]
                    .iter()
                    .all(|s| status(&monitor, s) == impacted)
        },
    )
    .await;
    // Let every dependent fail on its own a few times while `db` is down.
    let failed_probes = |events: &Collector, service: &str| {
        events
            .since(outage_start)
            .iter()
            .filter(|e| matches!(&e.kind, EventKind::ProbeCompleted { service: s, result, .. } if s == service && !result.is_up()))
            .count()
    };
    wait_until("each dependent failed its own check three times", || {
        services[1..].iter().all(|s| failed_probes(&events, s) >= 3)
    })
    .await;
    for service in &services[1..] {
        assert_eq!(status(&monitor, service), impacted, "{service}");
        let state = monitor.bus().service(service).unwrap();
        assert_eq!(
            state.own,
            iza_runtime::Health::Down,
            "{service}'s own check"
        );
    }
    let outage = events.since(outage_start);
    let root_causes: Vec<_> = outage.iter().filter(|e| e.is_root_cause_down()).collect();
    assert_eq!(root_causes.len(), 1, "{root_causes:#?}");
    let EventKind::StatusChanged {
        service, cause, to, ..
    } = &root_causes[0].kind
    else {
        unreachable!()
    };
    assert_eq!(
        (service.as_str(), cause.as_deref(), to),
        ("db", Some("db"), &Status::Down)
    );
    // Each dependent: exactly one impacted event, naming `db`; no status change of its own.
    for dependent in &services[1..] {
        let about: Vec<_> = outage
            .iter()
            .filter(|e| {
                e.service() == Some(dependent)
                    && !matches!(e.kind, EventKind::ProbeCompleted { .. })
            })
            .collect();
        assert_eq!(about.len(), 1, "{dependent}: {about:#?}");
        assert!(
            matches!(&about[0].kind, EventKind::ServiceImpacted { by, .. } if by == "db"),
            "{dependent}: {about:#?}"
        );
    }

    // `db` comes back: everything recovers.
    let recovery_start = events.len();
    db_up.set(true);
    wait_until("every service is up again", || {
        services.iter().all(|s| status(&monitor, s) == Status::Up)
    })
    .await;
    let recovery = events.since(recovery_start);
    assert!(
        !recovery.iter().any(|e| e.is_root_cause_down()),
        "{recovery:#?}"
    );
    assert!(recovery.iter().any(|e| matches!(&e.kind,
        EventKind::StatusChanged { service, from: Status::Down, to: Status::Up, .. } if service == "db")));
    for dependent in &services[1..] {
        let recovered = recovery.iter().filter(|e| matches!(&e.kind,
            EventKind::ServiceRecovered { service, by, to: Status::Up } if service == dependent && by == "db"));
        assert_eq!(recovered.count(), 1, "{dependent}");
    }

    // Everything stated was recorded, the one alert included.
    let report = monitor.shutdown(Duration::from_secs(5)).await;
    assert_eq!((report.unwritten_results, report.unwritten_events), (0, 0));
    let stored = store.events();
    let stored_downs: Vec<_> = stored
        .iter()
        .filter(|e| e.kind == "status-changed" && e.payload["to"]["status"] == "down")
        .collect();
    assert_eq!(stored_downs.len(), 1);
    assert_eq!(stored_downs[0].service.as_deref(), Some("db"));
    assert_eq!(
        stored
            .iter()
            .filter(|e| e.kind == "service-impacted")
            .count(),
        3
    );
}
