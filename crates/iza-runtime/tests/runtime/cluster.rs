//! The nodes registry on the real PostgreSQL store: two nodes on one database see each other
//! alive; one that stops heartbeating is seen as gone once its heartbeat is older than the
//! lease, while the other stays alive; one that leaves is no longer listed.

use std::sync::Arc;
use std::time::Duration;

use iza_runtime::cluster::{Cluster, NodeOptions};
use iza_store::{PostgresStore, Store};

use crate::support::wait_until_async;
use crate::test_database::TestDatabase;

fn options(id: &str, region: &str) -> NodeOptions {
    NodeOptions {
        id: id.to_owned(),
        host: "test-host".to_owned(),
        region: Some(region.to_owned()),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        heartbeat_every: Duration::from_millis(100),
        lease: Duration::from_millis(800),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_see_each_other_and_a_silent_node_ages_out() {
    let database = TestDatabase::create().await;
    let connect = || async {
        let store: Arc<dyn Store> =
            Arc::new(PostgresStore::connect(&database.url()).await.unwrap());
        store
    };
    let mut a = Cluster::join(connect().await, options("node-a", "eu"))
        .await
        .unwrap();
    let b = Cluster::join(connect().await, options("node-b", "us"))
        .await
        .unwrap();

    let seen = b.nodes().await.unwrap();
    let ids: Vec<&str> = seen.iter().map(|view| view.node.id.as_str()).collect();
    assert_eq!(ids, ["node-a", "node-b"]);
    assert!(seen.iter().all(|view| view.alive), "{seen:?}");
    assert_eq!(seen[0].node.region.as_deref(), Some("eu"));
    assert!(seen[1].this && !seen[0].this);

    // A stops heartbeating (as if killed): B sees it gone within about a lease, and itself alive.
    a.stop_heartbeat().await;
    let b_ref = &b;
    wait_until_async("A ages out of B's view", || async move {
        let seen = b_ref.nodes().await.unwrap();
        let alive = |id: &str| seen.iter().any(|view| view.node.id == id && view.alive);
        assert!(alive("node-b"), "B keeps heartbeating: {seen:?}");
        !alive("node-a")
    })
    .await;
    // B's heartbeat keeps moving.
    let first = b.nodes().await.unwrap()[1].node.heartbeat_at;
    wait_until_async("B's heartbeat moves", || async move {
        b_ref.nodes().await.unwrap()[1].node.heartbeat_at > first
    })
    .await;

    b.leave().await.unwrap();
    let left = a.nodes().await.unwrap();
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0].node.id, "node-a");
    a.leave().await.unwrap();
}
