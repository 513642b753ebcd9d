//! The versioned schema of the SQLite store: the migration files of `migrations/sqlite/`,
//! embedded at compile time and applied in order, each in the same transaction as the
//! `PRAGMA user_version` that records it (so a crash leaves either the old or the new version).

use sqlx::SqlitePool;
use sqlx::sqlite::SqliteConnection;

/// One schema step.
struct Migration {
    version: i64,
    sql: &'static str,
}

/// Every migration, in order; versions increase (a test checks it).
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        sql: include_str!("../../migrations/sqlite/0001_init.sql"),
    },
    Migration {
        version: 2,
        sql: include_str!("../../migrations/sqlite/0002_events_by_time.sql"),
    },
    Migration {
        version: 3,
        sql: include_str!("../../migrations/sqlite/0003_run_queue.sql"),
    },
    Migration {
        version: 4,
        sql: include_str!("../../migrations/sqlite/0004_alerts.sql"),
    },
    Migration {
        version: 5,
        sql: include_str!("../../migrations/sqlite/0005_workflows.sql"),
    },
    Migration {
        version: 6,
        sql: include_str!("../../migrations/sqlite/0006_outbox.sql"),
    },
    Migration {
        version: 7,
        sql: include_str!("../../migrations/sqlite/0007_figures.sql"),
    },
    Migration {
        version: 8,
        sql: include_str!("../../migrations/sqlite/0008_probed_by.sql"),
    },
    Migration {
        version: 9,
        sql: include_str!("../../migrations/sqlite/0009_audit.sql"),
    },
    Migration {
        version: 10,
        sql: include_str!("../../migrations/sqlite/0010_workflow_history.sql"),
    },
    Migration {
        version: 11,
        sql: include_str!("../../migrations/sqlite/0011_events_by_kind.sql"),
    },
    Migration {
        version: 12,
        sql: include_str!("../../migrations/sqlite/0012_workflow_rollups.sql"),
    },
];

/// The migration that creates the workflow rollups: the runner rolls up the executions
/// recorded before it, in its transaction.
const WORKFLOW_ROLLUPS: i64 = 12;

/// The newest version this build knows.
pub(super) fn latest_version() -> i64 {
    MIGRATIONS.last().map_or(0, |migration| migration.version)
}

/// The version recorded in the database.
pub(super) async fn user_version(connection: &mut SqliteConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("PRAGMA user_version")
        .fetch_one(connection)
        .await
}

/// Brings the database to the latest version; refuses a database newer than this build.
pub(super) async fn migrate(pool: &SqlitePool) -> Result<(), String> {
    let mut transaction = pool
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(|error| error.to_string())?;
    let current = user_version(&mut transaction)
        .await
        .map_err(|error| error.to_string())?;
    let latest = latest_version();
    if current > latest {
        return Err(format!(
            "the database has schema version {current}, newer than this build of iza knows \
             ({latest}); use a newer iza"
        ));
    }
    for migration in MIGRATIONS
        .iter()
        .filter(|migration| migration.version > current)
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
        // PRAGMA takes no bound parameters; the version is an integer constant of this build.
        sqlx::raw_sql(&format!("PRAGMA user_version = {}", migration.version))
            .execute(&mut *transaction)
            .await
            .map_err(|error| error.to_string())?;
    }
    transaction
        .commit()
        .await
        .map_err(|error| error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_count_up_from_one() {
        // Numbers are reserved per branch, so one branch may skip another's until they merge.
        assert_eq!(MIGRATIONS[0].version, 1);
        for pair in MIGRATIONS.windows(2) {
            assert!(pair[0].version < pair[1].version);
        }
        for migration in MIGRATIONS {
            assert!(!migration.sql.trim().is_empty());
        }
    }
}
