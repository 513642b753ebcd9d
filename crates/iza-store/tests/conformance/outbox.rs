//! Conformance cases of the event outbox: order of writing, peeking after an id, removal on
//! acknowledgement, the bound that drops the oldest, and depths per output.

use iza_store::OutboxEntry;

use super::{BASE, StoreUnderTest};

fn entry(output: &str, n: i64, service: &str) -> OutboxEntry {
    OutboxEntry {
        id: 0,
        output: output.to_owned(),
        event_id: format!("e-{output}-{n}"),
        key: format!("iza.eco.service.{service}.status"),
        service: Some(service.to_owned()),
        at: BASE + n,
        payload: format!(
            r#"{{"id":"e-{n}","data":{{"n":{n},"text":"'; DROP TABLE outbox; --"}}}}"#
        ),
        retain: n % 2 == 0,
    }
}

pub(crate) async fn outbox_keeps_order_until_acknowledged(store: StoreUnderTest) {
    let batch: Vec<_> = (0..10)
        .map(|n| entry(if n % 3 == 0 { "b" } else { "a" }, n, "db"))
        .collect();
    let (written, dropped) = store.outbox_push(&batch, 100).await.unwrap();
    assert_eq!(dropped, 0);
    assert_eq!(written.len(), 10);
    assert!(
        written.windows(2).all(|w| w[0].id < w[1].id),
        "ids in order"
    );
    let a = store.outbox_peek("a", 0, 100).await.unwrap();
    let ns: Vec<i64> = a.iter().map(|e| e.at - BASE).collect();
    assert_eq!(ns, [1, 2, 4, 5, 7, 8]);
    assert_eq!(a[1], written[2], "an entry reads back as written");
    let after = store.outbox_peek("a", a[2].id, 2).await.unwrap();
    assert_eq!(after, a[3..5]);
    let depths = store.outbox_depths().await.unwrap();
    assert_eq!(depths.len(), 2);
    assert_eq!((depths[0].output.as_str(), depths[0].depth), ("a", 6));
    assert_eq!(depths[0].oldest_at, Some(BASE + 1));
    assert_eq!((depths[1].output.as_str(), depths[1].depth), ("b", 4));

    // Acknowledging removes exactly those, of that output only.
    store
        .outbox_ack("a", &[a[0].id, a[1].id, written[0].id])
        .await
        .unwrap();
    let a = store.outbox_peek("a", 0, 100).await.unwrap();
    assert_eq!(a.len(), 4);
    assert_eq!(a[0].at, BASE + 4);
    assert_eq!(store.outbox_peek("b", 0, 100).await.unwrap().len(), 4);
    let ids: Vec<i64> = a.iter().map(|e| e.id).collect();
    store.outbox_ack("a", &ids).await.unwrap();
    let depths = store.outbox_depths().await.unwrap();
    assert_eq!(depths.len(), 1, "an empty output has no row: {depths:?}");
}

pub(crate) async fn outbox_bound_drops_the_oldest(store: StoreUnderTest) {
    let first: Vec<_> = (0..5).map(|n| entry("o", n, "api")).collect();
    let (_, dropped) = store.outbox_push(&first, 8).await.unwrap();
    assert_eq!(dropped, 0);
    let second: Vec<_> = (5..12).map(|n| entry("o", n, "api")).collect();
    let (_, dropped) = store.outbox_push(&second, 8).await.unwrap();
    assert_eq!(dropped, 4);
    let kept = store.outbox_peek("o", 0, 100).await.unwrap();
    let ns: Vec<i64> = kept.iter().map(|e| e.at - BASE).collect();
    assert_eq!(ns, (4..12).collect::<Vec<_>>());
    // Another output's bound is its own.
    let (_, dropped) = store.outbox_push(&[entry("p", 0, "api")], 1).await.unwrap();
    assert_eq!(dropped, 0);
    assert_eq!(store.outbox_peek("o", 0, 100).await.unwrap().len(), 8);
    // Ids spread by another output's entries: their span is wider than the bound, their count
    // is not, and nothing is dropped until the count passes it.
    let mixed: Vec<_> = (0..6)
        .flat_map(|n| [entry("q", n, "api"), entry("r", n, "api")])
        .collect();
    let (_, dropped) = store.outbox_push(&mixed, 6).await.unwrap();
    assert_eq!(dropped, 0);
    assert_eq!(store.outbox_peek("q", 0, 100).await.unwrap().len(), 6);
    let (_, dropped) = store.outbox_push(&[entry("q", 6, "api")], 6).await.unwrap();
    assert_eq!(dropped, 1);
    let kept = store.outbox_peek("q", 0, 100).await.unwrap();
    let ns: Vec<i64> = kept.iter().map(|e| e.at - BASE).collect();
    assert_eq!(ns, (1..7).collect::<Vec<_>>());
}
