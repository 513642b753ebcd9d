//! The nodes registry of the PostgreSQL store (migration 2): one row per `iza` process, its
//! heartbeat renewed by the runtime's cluster module.

use super::{PostgresStore, query_error};
use crate::{Millis, NodeRecord, StoreError};

pub(super) async fn register(store: &PostgresStore, node: &NodeRecord) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO nodes (id, host, region, version, started_at, heartbeat_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO UPDATE SET host = excluded.host, \
         region = excluded.region, version = excluded.version, \
         started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at",
    )
    .bind(&node.id)
    .bind(&node.host)
    .bind(node.region.as_deref())
    .bind(&node.version)
    .bind(node.started_at)
    .bind(node.heartbeat_at)
    .execute(&store.pool)
    .await
    .map_err(query_error("registering a node"))?;
    Ok(())
}

pub(super) async fn heartbeat(
    store: &PostgresStore,
    id: &str,
    at: Millis,
) -> Result<bool, StoreError> {
    let renewed =
        sqlx::query("UPDATE nodes SET heartbeat_at = GREATEST(heartbeat_at, $2) WHERE id = $1")
            .bind(id)
            .bind(at)
            .execute(&store.pool)
            .await
            .map_err(query_error("renewing a node's heartbeat"))?
            .rows_affected();
    Ok(renewed > 0)
}

pub(super) async fn deregister(store: &PostgresStore, id: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM nodes WHERE id = $1")
        .bind(id)
        .execute(&store.pool)
        .await
        .map_err(query_error("removing a node"))?;
    Ok(())
}

pub(super) async fn list(store: &PostgresStore) -> Result<Vec<NodeRecord>, StoreError> {
    let rows: Vec<(String, String, Option<String>, String, i64, i64)> = sqlx::query_as(
        "SELECT id, host, region, version, started_at, heartbeat_at FROM nodes ORDER BY id",
    )
    .fetch_all(&store.pool)
    .await
    .map_err(query_error("reading the nodes"))?;
    Ok(rows
        .into_iter()
        .map(
            |(id, host, region, version, started_at, heartbeat_at)| NodeRecord {
                id,
                host,
                region,
                version,
                started_at,
                heartbeat_at,
            },
        )
        .collect())
}
