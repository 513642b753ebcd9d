//! The versioned schema of the PostgreSQL store: the files of `migrations/postgres/`, embedded at
//! compile time and applied in order, each in one transaction with the row of `iza_schema` that
//! records it. Nodes starting together serialize on an advisory lock, so a migration runs once.

use sqlx::PgPool;
use sqlx::postgres::PgConnection;

use super::locks;

/// One schema step.
struct Migration {
    version: i64,
    sql: &'static str,
}

/// Every migration, in order; versions increase (a test checks it). Numbers are reserved per
/// feature, so a build may lack some (4 to 9 while their branches are open): a migration is
/// applied when its version is not recorded yet, not only when it is above the highest.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        sql: include_str!("../../migrations/postgres/0001_init.sql"),
    },
    Migration {
        version: 2,
        sql: include_str!("../../migrations/postgres/0002_nodes.sql"),
    },
    Migration {
        version: 3,
        sql: include_str!("../../migrations/postgres/0003_alerts.sql"),
    },
    Migration {
        version: 4,
        sql: include_str!("../../migrations/postgres/0004_workflows.sql"),
    },
    Migration {
        version: 5,
        sql: include_str!("../../migrations/postgres/0005_outbox.sql"),
    },
    Migration {
        version: 6,
        sql: include_str!("../../migrations/postgres/0006_figures.sql"),
    },
    Migration {
        version: 10,
        sql: include_str!("../../migrations/postgres/0010_check_leases.sql"),
    },
    Migration {
        version: 11,
        sql: include_str!("../../migrations/postgres/0011_probed_by.sql"),
    },
    Migration {
        version: 12,
        sql: include_str!("../../migrations/postgres/0012_audit.sql"),
    },
    Migration {
        version: 13,
        sql: include_str!("../../migrations/postgres/0013_workflow_history.sql"),
    },
    Migration {
        version: 14,
        sql: include_str!("../../migrations/postgres/0014_events_by_kind.sql"),
    },
    Migration {
        version: 15,
        sql: include_str!("../../migrations/postgres/0015_workflow_rollups.sql"),
    },
];

/// The migration that creates the workflow rollups: the runner rolls up the executions
/// recorded before it, in its transaction.
const WORKFLOW_ROLLUPS: i64 = 15;

/// The newest version this build knows.
pub(super) fn latest_version() -> i64 {
    MIGRATIONS.last().map_or(0, |migration| migration.version)
}

/// The version recorded in the database (0 for an empty database).
pub(super) async fn current_version(connection: &mut PgConnection) -> Result<i64, sqlx::Error> {
    let exists: bool = sqlx::query_scalar("SELECT to_regclass('iza_schema') IS NOT NULL")
        .fetch_one(&mut *connection)
        .await?;
    if !exists {
        return Ok(0);
    }
    sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM iza_schema")
        .fetch_one(connection)
        .await
}

/// Brings the database to the latest version; refuses a database newer than this build.
/// Returns the versions applied now.
pub(super) async fn migrate(pool: &PgPool) -> Result<Vec<i64>, String> {
    let text = |error: sqlx::Error| error.to_string();
    let mut transaction = pool.begin().await.map_err(text)?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(locks::MIGRATE)
        .execute(&mut *transaction)
        .await
        .map_err(text)?;
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS iza_schema (version BIGINT PRIMARY KEY, \
         applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
    )
    .execute(&mut *transaction)
    .await
    .map_err(text)?;
    let current = current_version(&mut transaction).await.map_err(text)?;
    let latest = latest_version();
    if current > latest {
        return Err(format!(
            "the database has schema version {current}, newer than this build of iza knows \
             ({latest}); use a newer iza"
        ));
    }
    let recorded: Vec<i64> = sqlx::query_scalar("SELECT version FROM iza_schema")
        .fetch_all(&mut *transaction)
        .await
        .map_err(text)?;
    let mut applied = Vec::new();
    for migration in MIGRATIONS
        .iter()
        .filter(|migration| !recorded.contains(&migration.version))
    {
        sqlx::raw_sql(migration.sql)
            .execute(&mut *transaction)
            .await
            .map_err(|error| format!("migration {} failed: {error}", migration.version))?;
        if migration.version == WORKFLOW_ROLLUPS {
            super::workflows::backfill_rollups(&mut transaction)
                .await
                .map_err(|error| format!("migration {} failed: {error}", migration.version))?;
        }
        sqlx::query("INSERT INTO iza_schema (version) VALUES ($1)")
            .bind(migration.version)
            .execute(&mut *transaction)
            .await
            .map_err(text)?;
        applied.push(migration.version);
    }
    transaction.commit().await.map_err(text)?;
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_increase_from_one() {
        assert_eq!(MIGRATIONS[0].version, 1);
        for pair in MIGRATIONS.windows(2) {
            assert!(pair[0].version < pair[1].version);
        }
        for migration in MIGRATIONS {
            assert!(!migration.sql.trim().is_empty());
        }
    }
}
