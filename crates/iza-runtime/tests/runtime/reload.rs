//! Reloading a running monitor: a service added starts, one removed stops, one whose check
//! changed restarts with the new check, and an unchanged one keeps its schedule and status.

use std::sync::Arc;
use std::time::Duration;

use iza_runtime::{EventKind, Status};

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_adds_removes_and_restarts_checks_and_keeps_the_rest() {
    let healthy = serve(Behaviour::up()).await;
    let broken = serve(Behaviour::when(|| false)).await;
    let check = |path: &str| {
        format!(
            r#"check = {{ http = "{}", every = "150ms", timeout = "1s" }}"#,
            healthy.url(path)
        )
    };
    let before = catalog(&format!(
        "[services.keep]\n{}\n[services.edit]\n{}\n[services.gone]\n{}\n",
        check("/keep"),
        check("/edit"),
        check("/gone")
    ));
    let after = catalog(&format!(
        "[services.keep]\n{}\n[services.edit]\ncheck = {{ http = \"{}\", every = \"150ms\", timeout = \"1s\" }}\n[services.new]\n{}\n",
        check("/keep"),
        broken.url("/edit"),
        check("/new")
    ));
    let store = Arc::new(RecordingStore::default());
    let monitor = start(before, store.clone(), options()).await;
    let events = Collector::new(&monitor);
    wait_until("every service is up", || {
        ["keep", "edit", "gone"]
            .iter()
            .all(|s| status(&monitor, s) == Status::Up)
    })
    .await;
    let keep_since = monitor.bus().service("keep").unwrap().since;

    let diff = monitor.reload(after.clone()).await.unwrap();
    assert_eq!(diff.added, ["new"]);
    assert_eq!(diff.removed, ["gone"]);
    assert_eq!(diff.changed, ["edit"]);
    let reloaded_at = events
        .events()
        .iter()
        .position(|e| matches!(e.kind, EventKind::ManifestReloaded { .. }))
        .expect("a manifest-reloaded event");
    let snapshot = monitor.snapshot();
    let ids: Vec<&str> = snapshot
        .services
        .iter()
        .map(|s| s.service.as_str())
        .collect();
    assert_eq!(ids, ["keep", "edit", "new"]);
    assert_ne!(status(&monitor, "edit"), Status::Unknown);

    wait_until("the new service is up and the edited one down", || {
        status(&monitor, "new") == Status::Up && status(&monitor, "edit") == Status::Down
    })
    .await;
    // A few more rounds of probes after the reload.
    let probes_after = |service: &str| {
        events
            .since(reloaded_at)
            .iter()
            .filter(
                |e| matches!(&e.kind, EventKind::ProbeCompleted { service: s, .. } if s == service),
            )
            .count()
    };
    wait_until("`keep` was probed three times since", || {
        probes_after("keep") >= 3
    })
    .await;
    assert_eq!(probes_after("gone"), 0, "a removed service is still probed");
    let after_reload = events.since(reloaded_at);
    // `keep` kept its status: no status event, the same `since`.
    assert!(
        !after_reload
            .iter()
            .any(|e| e.service() == Some("keep")
                && !matches!(e.kind, EventKind::ProbeCompleted { .. })),
        "{after_reload:#?}"
    );
    assert_eq!(monitor.bus().service("keep").unwrap().since, keep_since);
    // The changed check kept its status until its new check said otherwise (no flap through
    // `unknown`), then went down with the new check's answer, once.
    let edit_down: Vec<_> = after_reload
        .iter()
        .filter(|e| e.service() == Some("edit") && e.is_root_cause_down())
        .collect();
    assert_eq!(edit_down.len(), 1);
    assert!(matches!(
        &edit_down[0].kind,
        EventKind::StatusChanged {
            from: Status::Up,
            ..
        }
    ));
    // The added service was announced from `unknown`.
    assert!(after_reload.iter().any(|e| matches!(&e.kind,
        EventKind::StatusChanged { service, from: Status::Unknown, to: Status::Up, .. } if service == "new")));
    let EventKind::StatusChanged { reason, .. } = &edit_down[0].kind else {
        unreachable!()
    };
    assert!(
        reason.as_deref().unwrap_or_default().contains("503"),
        "{reason:?}"
    );
    assert_eq!(monitor.catalog().await.services.len(), 3);

    monitor.shutdown(Duration::from_secs(5)).await;
    // The removed service's history stays: every result it had is in the store.
    let gone_probes = events
        .events()
        .iter()
        .filter(
            |e| matches!(&e.kind, EventKind::ProbeCompleted { service, .. } if service == "gone"),
        )
        .count();
    assert!(gone_probes >= 1);
    assert_eq!(
        store
            .results()
            .iter()
            .filter(|r| r.service == "gone")
            .count(),
        gone_probes
    );
    let stored_reloads = store
        .events()
        .into_iter()
        .filter(|e| e.kind == "manifest-reloaded")
        .count();
    assert_eq!(stored_reloads, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_after_shutdown_says_the_monitor_stopped() {
    let monitor = start(
        catalog("[services.a]\n"),
        Arc::new(RecordingStore::default()),
        options(),
    )
    .await;
    monitor.shutdown(Duration::from_secs(1)).await;
    let error = monitor.reload(catalog("[services.b]\n")).await.unwrap_err();
    assert_eq!(error.to_string(), "the monitor has stopped");
}
