//! The outbox on a store shared by several nodes (the machine's PostgreSQL): another node's
//! entry whose transaction took its id before this node's entries and committed after them is
//! still delivered, because on a shared store every read starts at the oldest entry left (not
//! after the last delivered id).

use std::sync::Arc;
use std::time::Duration;

use iza_catalog::{Catalog, SourceFile, Syntax};
use iza_outputs::{Outputs, OutputsOptions, SharedDelivery};
use iza_runtime::{Bus, Change, Event, EventKind, Status};
use iza_store::{PostgresStore, Store};
use sqlx::Connection as _;

#[path = "../../iza-store/tests/common/test_database.rs"]
mod test_database;

mod common;
use common::{Received, serve_webhook};

const DEADLINE: Duration = Duration::from_secs(30);

/// The ids of what the webhook received, once it received `n` posts.
async fn received_ids(received: &Received, n: usize) -> Vec<String> {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let ids: Vec<String> = received
            .lock()
            .unwrap()
            .iter()
            .map(|ce| ce["id"].as_str().unwrap_or_default().to_owned())
            .collect();
        if ids.len() >= n {
            return ids;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} of {n} received: {ids:?}",
            ids.len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entry_another_node_committed_late_is_delivered_not_skipped() {
    let database = test_database::TestDatabase::create().await;
    let store: Arc<dyn Store> = Arc::new(PostgresStore::connect(&database.url()).await.unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let received: Received = Arc::default();
    let server = tokio::spawn(serve_webhook(listener, received.clone()));
    let text = format!(
        "version = 1\n[ecosystem]\nname = \"Test\"\n[services.db]\n\
         [outputs.hook]\nkind = \"webhook\"\nurl = \"http://127.0.0.1:{port}/hook\"\n"
    );
    let catalog: Catalog = iza_catalog::check(&SourceFile::new("t.toml", text, Syntax::Toml))
        .catalog
        .unwrap();
    let bus = Bus::new(1024);
    let options = OutputsOptions {
        shared: Some(SharedDelivery {
            node: "node-a".into(),
            lease: Duration::from_secs(10),
        }),
        ..OutputsOptions::default()
    };
    let outputs = Outputs::start(&catalog, store.clone(), &bus, options);

    // Another node writes an entry and has not committed yet: its id is taken.
    let mut other = sqlx::PgConnection::connect(&database.url()).await.unwrap();
    let mut late = other.begin().await.unwrap();
    sqlx::query(
        "INSERT INTO outbox (output, event_id, key, service, at, payload) \
         VALUES ('hook', 'late', 'db', 'db', 0, $1)",
    )
    .bind(r#"{"specversion":"1.0","id":"late","type":"os.iza.test"}"#)
    .execute(&mut *late)
    .await
    .unwrap();
    // This node's event takes a higher id, commits and is delivered.
    bus.publish(Change {
        events: vec![Event::new(
            1_765_000_000_000,
            EventKind::StatusChanged {
                service: "db".into(),
                from: Status::Up,
                to: Status::Down,
                cause: None,
                reason: Some("first".into()),
            },
        )],
        ..Change::default()
    });
    let first = received_ids(&received, 1).await;
    assert_ne!(first[0], "late");
    // Now the other node commits: its entry, older by id, is delivered too.
    late.commit().await.unwrap();
    let ids = received_ids(&received, 2).await;
    assert_eq!(ids[1], "late", "{ids:?}");
    // And nothing is left in the outbox, nor sent twice.
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while outputs.status().await[0].depth != 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the outbox keeps entries"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(received.lock().unwrap().len(), 2);
    outputs.shutdown(Duration::from_secs(5)).await;
    server.abort();
    drop(store);
    drop(database);
}
