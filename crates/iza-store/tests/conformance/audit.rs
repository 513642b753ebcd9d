//! Conformance cases of the audit log: records round-trip in order with increasing ids, pages
//! newest first, filters by tool, client, outcome and time, and retention drops the old ones.

use iza_store::{AuditOutcome, AuditQuery, AuditRecord, MAX_AUDIT_PAGE, Retention};
use serde_json::json;

use super::{BASE, DAY, MINUTE, StoreUnderTest};

fn record(at: i64, client: &str, tool: &str, outcome: AuditOutcome) -> AuditRecord {
    AuditRecord {
        id: 0,
        at,
        surface: "mcp".to_owned(),
        client: client.to_owned(),
        scope: "operate".to_owned(),
        tool: tool.to_owned(),
        upstream: tool.split_once("__").map(|(up, _)| up.to_owned()),
        arguments: json!({ "task": "ops/backup", "password": "***", "n": [1, 2.5, null] }),
        arguments_sha256: "ab".repeat(32),
        outcome,
        duration_ms: 1.25,
        message: (outcome != AuditOutcome::Ok).then(|| format!("{} at {at}", outcome.as_str())),
    }
}

fn query(limit: usize) -> AuditQuery {
    AuditQuery {
        limit,
        ..AuditQuery::default()
    }
}

pub(crate) async fn audit_round_trips_pages_and_filters(store: StoreUnderTest) {
    let records = [
        record(BASE, "operate", "run_task", AuditOutcome::Ok),
        record(BASE + MINUTE, "read", "run_task", AuditOutcome::Denied),
        record(
            BASE + 2 * MINUTE,
            "operate",
            "github__create_issue",
            AuditOutcome::Error,
        ),
        record(
            BASE + 3 * MINUTE,
            "anonymous",
            "list_services",
            AuditOutcome::RateLimited,
        ),
        // Hostile text is kept as given.
        AuditRecord {
            message: Some("quote ' and \" and \u{0} and é".to_owned()),
            ..record(
                BASE + 4 * MINUTE,
                "operate",
                "x'; DROP TABLE audit; --",
                AuditOutcome::Error,
            )
        },
    ];
    let ids = store.append_audit(&records).await.unwrap();
    assert_eq!(ids.len(), records.len());
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    assert!(store.append_audit(&[]).await.unwrap().is_empty());

    let all = store.audit(&query(100)).await.unwrap();
    assert_eq!(all.len(), 5);
    assert_eq!(all[0].id, ids[4], "newest first");
    let oldest = all.last().unwrap();
    assert_eq!(
        *oldest,
        AuditRecord {
            id: ids[0],
            ..records[0].clone()
        }
    );
    assert_eq!(all[2].upstream.as_deref(), Some("github"));
    assert_eq!(all[1].outcome, AuditOutcome::RateLimited);
    let hostile = &all[0];
    assert_eq!(hostile.tool, "x'; DROP TABLE audit; --");
    assert!(
        hostile
            .message
            .as_deref()
            .unwrap()
            .contains("quote ' and \" and")
    );

    // Pages: two, then the next two before the last id seen.
    let first = store.audit(&query(2)).await.unwrap();
    let second = store
        .audit(&AuditQuery {
            before: Some(first[1].id),
            ..query(2)
        })
        .await
        .unwrap();
    let paged: Vec<i64> = first.iter().chain(&second).map(|r| r.id).collect();
    assert_eq!(paged, vec![ids[4], ids[3], ids[2], ids[1]]);
    assert!(store.audit(&query(0)).await.unwrap().is_empty());

    let by_tool = store
        .audit(&AuditQuery {
            tool: Some("run_task".to_owned()),
            ..query(100)
        })
        .await
        .unwrap();
    assert_eq!(
        by_tool.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![ids[1], ids[0]]
    );
    let by_client = store
        .audit(&AuditQuery {
            client: Some("operate".to_owned()),
            outcome: Some(AuditOutcome::Error),
            ..query(100)
        })
        .await
        .unwrap();
    assert_eq!(
        by_client.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![ids[4], ids[2]]
    );
    let since = store
        .audit(&AuditQuery {
            since: Some(BASE + 3 * MINUTE),
            ..query(100)
        })
        .await
        .unwrap();
    assert_eq!(since.len(), 2);

    // A page is capped.
    let many: Vec<AuditRecord> = (0..MAX_AUDIT_PAGE as i64 + 5)
        .map(|i| {
            record(
                BASE + 5 * MINUTE + i,
                "operate",
                "port_map",
                AuditOutcome::Ok,
            )
        })
        .collect();
    // More than one multi-row INSERT's worth: the ids still follow the records' order.
    let many_ids = store.append_audit(&many).await.unwrap();
    assert_eq!(many_ids.len(), many.len());
    assert!(many_ids.windows(2).all(|w| w[0] < w[1]));
    assert!(many_ids[0] > ids[4]);
    assert_eq!(
        store.audit(&query(usize::MAX)).await.unwrap().len(),
        MAX_AUDIT_PAGE
    );

    // Retention: records older than the events' retention go, the others stay.
    let retention = Retention {
        events: DAY,
        ..Retention::default()
    };
    store
        .maintain(BASE + DAY + 2 * MINUTE + 1, retention)
        .await
        .unwrap();
    let kept = store.audit(&query(10)).await.unwrap();
    assert!(kept.iter().all(|r| r.at >= BASE + 2 * MINUTE), "{kept:?}");
    let old = store
        .audit(&AuditQuery {
            tool: Some("run_task".to_owned()),
            ..query(100)
        })
        .await
        .unwrap();
    assert!(old.is_empty(), "{old:?}");
}
