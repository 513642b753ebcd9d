//! Conformance cases of alerting: alerts (one open per rule and service), acknowledgement,
//! silences, and the delivery log (at most one row per alert, transition and notifier).

use iza_store::{
    Alert, AlertQuery, AlertState, Delivery, DeliveryState, DeliveryUpdate, Matchers, NewSilence,
    StoreError,
};

use super::{BASE, MINUTE, StoreUnderTest};

fn alert(rule: &str, service: &str, at: i64) -> Alert {
    Alert {
        id: 0,
        rule: rule.to_owned(),
        service: service.to_owned(),
        severity: "critical".to_owned(),
        state: AlertState::Firing,
        status: "down".to_owned(),
        impacted: vec!["api".to_owned(), "web".to_owned()],
        reason: Some("[STATUS] (503) == 200".to_owned()),
        started_at: at,
        fired_at: Some(at),
        updated_at: at,
        resolved_at: None,
        acknowledged_at: None,
        acknowledged_by: None,
        suppressed_by: None,
        escalated_to: Vec::new(),
        seq: 1,
        notified_seq: 0,
        last_notified_at: None,
    }
}

pub(crate) async fn alerts_round_trip_one_open_per_rule_and_service(store: StoreUnderTest) {
    let first = store.save_alert(&alert("down", "db", BASE)).await.unwrap();
    assert!(first.id > 0);
    assert_eq!(store.alert(first.id).await.unwrap(), Some(first.clone()));
    // A second open alert of the same rule and service is refused.
    let twice = store.save_alert(&alert("down", "db", BASE + 1)).await;
    assert!(matches!(twice, Err(StoreError::Query(_))), "{twice:?}");
    // Another rule, another service: fine.
    let other = store
        .save_alert(&alert("down", "cache", BASE + 2))
        .await
        .unwrap();
    assert!(other.id > first.id);
    // Resolved, a new one may open.
    let resolved = Alert {
        state: AlertState::Resolved,
        resolved_at: Some(BASE + MINUTE),
        updated_at: BASE + MINUTE,
        seq: 2,
        ..first.clone()
    };
    store.save_alert(&resolved).await.unwrap();
    let again = store
        .save_alert(&alert("down", "db", BASE + 2 * MINUTE))
        .await
        .unwrap();
    let open = store
        .alerts(&AlertQuery {
            open_only: true,
            limit: 10,
            ..AlertQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(
        open.iter().map(|a| a.id).collect::<Vec<_>>(),
        vec![again.id, other.id]
    );
    let of_db = store
        .alerts(&AlertQuery {
            service: Some("db".to_owned()),
            limit: 10,
            ..AlertQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(of_db.len(), 2);
    assert_eq!(of_db[1], resolved);
    let page = store
        .alerts(&AlertQuery {
            before: Some(again.id),
            limit: 1,
            ..AlertQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(
        page.iter().map(|a| a.id).collect::<Vec<_>>(),
        vec![other.id]
    );
    let missing = store.save_alert(&Alert { id: 9_999, ..first }).await;
    assert!(
        matches!(missing, Err(StoreError::NotFound(_))),
        "{missing:?}"
    );
}

pub(crate) async fn acknowledging_keeps_the_first(store: StoreUnderTest) {
    let a = store.save_alert(&alert("down", "db", BASE)).await.unwrap();
    let acked = store
        .acknowledge_alert(a.id, "ana", BASE + MINUTE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(acked.acknowledged_by.as_deref(), Some("ana"));
    assert_eq!(acked.acknowledged_at, Some(BASE + MINUTE));
    let later = store
        .acknowledge_alert(a.id, "bob", BASE + 2 * MINUTE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(later.acknowledged_by.as_deref(), Some("ana"));
    assert_eq!(store.alert(a.id).await.unwrap(), Some(later));
    assert_eq!(
        store.acknowledge_alert(9_999, "x", BASE).await.unwrap(),
        None
    );
}

pub(crate) async fn silences_in_force_and_expired(store: StoreUnderTest) {
    let new = |service: &str, starts_at, ends_at| NewSilence {
        matchers: Matchers {
            service: Some(service.to_owned()),
            ..Matchers::default()
        },
        starts_at,
        ends_at,
        created_by: "ana".to_owned(),
        comment: "upgrading \"db\" ' ; DROP".to_owned(),
        created_at: BASE,
    };
    let a = store
        .create_silence(&new("db", BASE, BASE + 60 * MINUTE))
        .await
        .unwrap();
    let b = store
        .create_silence(&new("api", BASE + 30 * MINUTE, BASE + 90 * MINUTE))
        .await
        .unwrap();
    assert_eq!(a.comment, "upgrading \"db\" ' ; DROP");
    let all = store.silences(None).await.unwrap();
    assert_eq!(all, vec![b.clone(), a.clone()]);
    let now = store.silences(Some(BASE + MINUTE)).await.unwrap();
    assert_eq!(now, vec![a.clone()]);
    let both = store.silences(Some(BASE + 45 * MINUTE)).await.unwrap();
    assert_eq!(both.len(), 2);
    let expired = store
        .expire_silence(a.id, BASE + 10 * MINUTE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(expired.ends_at, BASE + 10 * MINUTE);
    assert!(
        store
            .silences(Some(BASE + 11 * MINUTE))
            .await
            .unwrap()
            .is_empty()
    );
    // Expiring again never extends it.
    let again = store
        .expire_silence(a.id, BASE + 20 * MINUTE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.ends_at, BASE + 10 * MINUTE);
    assert_eq!(store.expire_silence(9_999, BASE).await.unwrap(), None);
}

pub(crate) async fn deliveries_are_recorded_once_and_updated(store: StoreUnderTest) {
    let delivery = |alert: i64, transition: &str, notifier: &str| Delivery {
        id: 0,
        alert,
        transition: transition.to_owned(),
        notifier: notifier.to_owned(),
        run: None,
        state: DeliveryState::Queued,
        at: BASE,
        finished_at: None,
        attempts: 0,
        latency_ms: None,
        error: None,
    };
    let new = store
        .record_deliveries(&[
            delivery(1, "1-firing", "ops"),
            delivery(1, "1-firing", "pager"),
            delivery(2, "1-firing", "ops"),
        ])
        .await
        .unwrap();
    assert_eq!(new, vec![true, true, true]);
    let again = store
        .record_deliveries(&[
            delivery(1, "1-firing", "ops"),
            delivery(1, "2-resolved", "ops"),
        ])
        .await
        .unwrap();
    assert_eq!(again, vec![false, true]);
    // A failed attempt with retries left keeps it queued; then it is sent.
    let update = |state, attempts, error: Option<&str>| DeliveryUpdate {
        keys: vec![(1, "1-firing".to_owned()), (2, "1-firing".to_owned())],
        notifier: "ops".to_owned(),
        run: 7,
        state,
        at: BASE + attempts as i64 * MINUTE,
        attempts,
        latency_ms: 12.5,
        error: error.map(str::to_owned),
    };
    store
        .update_deliveries(&update(DeliveryState::Queued, 1, Some("HTTP 500")))
        .await
        .unwrap();
    let first = store.deliveries(1).await.unwrap();
    assert_eq!(first.len(), 3);
    assert_eq!(first[0].run, Some(7));
    assert_eq!(first[0].attempts, 1);
    assert_eq!(first[0].state, DeliveryState::Queued);
    assert_eq!(first[0].finished_at, None);
    assert_eq!(first[0].error.as_deref(), Some("HTTP 500"));
    store
        .update_deliveries(&update(DeliveryState::Sent, 2, None))
        .await
        .unwrap();
    let sent = store.deliveries(1).await.unwrap();
    assert_eq!(sent[0].state, DeliveryState::Sent);
    assert_eq!(sent[0].finished_at, Some(BASE + 2 * MINUTE));
    assert_eq!(sent[0].latency_ms, Some(12.5));
    // Other notifiers' and transitions' rows are untouched.
    assert_eq!(sent[1].notifier, "pager");
    assert_eq!(sent[1].state, DeliveryState::Queued);
    assert_eq!(sent[2].transition, "2-resolved");
    assert_eq!(sent[2].run, None);
    assert_eq!(
        store.deliveries(2).await.unwrap()[0].state,
        DeliveryState::Sent
    );
    // A finished delivery is not reopened by a late update.
    store
        .update_deliveries(&update(DeliveryState::Queued, 3, Some("late")))
        .await
        .unwrap();
    assert_eq!(
        store.deliveries(1).await.unwrap()[0].state,
        DeliveryState::Sent
    );
    assert!(store.deliveries(3).await.unwrap().is_empty());
}
