//! Check leases of the PostgreSQL store (migration 10): which node probes which check, until
//! when. One statement takes or renews a batch (an upsert whose update applies only to a lease
//! that is expired or already held by the caller), so two nodes racing for one key never both
//! get it: the second waits for the first's row lock and then sees a running lease.

use super::{PostgresStore, query_error};
use crate::{CheckLease, Millis, StoreError};

pub(super) async fn acquire(
    store: &PostgresStore,
    node: &str,
    keys: &[String],
    now: Millis,
    until: Millis,
) -> Result<Vec<String>, StoreError> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    // Sorted and distinct: two nodes lock rows in the same order, so they cannot deadlock.
    let mut keys = keys.to_vec();
    keys.sort();
    keys.dedup();
    let mut held: Vec<String> = sqlx::query_scalar(
        "INSERT INTO check_leases AS l (key, node, lease_until, acquired_at) \
         SELECT k, $1, $3, $2 FROM UNNEST($4::text[]) WITH ORDINALITY AS t(k, n) ORDER BY n \
         ON CONFLICT (key) DO UPDATE SET node = excluded.node, \
         lease_until = excluded.lease_until, \
         acquired_at = CASE WHEN l.node = excluded.node THEN l.acquired_at \
             ELSE excluded.acquired_at END \
         WHERE l.node = excluded.node OR l.lease_until <= $2 \
         RETURNING key",
    )
    .bind(node)
    .bind(now)
    .bind(until)
    .bind(&keys)
    .fetch_all(&store.pool)
    .await
    .map_err(query_error("taking check leases"))?;
    held.sort();
    Ok(held)
}

pub(super) async fn release(
    store: &PostgresStore,
    node: &str,
    keys: Option<&[String]>,
) -> Result<(), StoreError> {
    match keys {
        Some(keys) => {
            sqlx::query("DELETE FROM check_leases WHERE node = $1 AND key = ANY($2)")
                .bind(node)
                .bind(keys)
                .execute(&store.pool)
                .await
        }
        None => {
            sqlx::query("DELETE FROM check_leases WHERE node = $1")
                .bind(node)
                .execute(&store.pool)
                .await
        }
    }
    .map_err(query_error("releasing check leases"))?;
    Ok(())
}

pub(super) async fn list(store: &PostgresStore) -> Result<Vec<CheckLease>, StoreError> {
    let rows: Vec<(String, String, i64, i64)> =
        sqlx::query_as("SELECT key, node, lease_until, acquired_at FROM check_leases ORDER BY key")
            .fetch_all(&store.pool)
            .await
            .map_err(query_error("reading the check leases"))?;
    Ok(rows
        .into_iter()
        .map(|(key, node, lease_until, acquired_at)| CheckLease {
            key,
            node,
            lease_until,
            acquired_at,
        })
        .collect())
}
