//! A fresh PostgreSQL database for one test, on the machine's server
//! (`postgres://postgres@127.0.0.1:5432`, trust authentication, database `test`; override the
//! server with `IZA_TEST_POSTGRES`): `iza_test_<random>` is created from the `test` database
//! and dropped (`WITH (FORCE)`) when the guard is dropped. Shared by the store's tests and the
//! `iza` end-to-end tests (`#[path]`), so that every PostgreSQL test makes databases one way.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::Connection as _;
use sqlx::postgres::PgConnection;

/// The server the tests use, without a database name.
pub(crate) fn server() -> String {
    std::env::var("IZA_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned())
}

/// A database created for one test; dropped with the guard.
pub(crate) struct TestDatabase {
    name: String,
}

impl TestDatabase {
    /// Creates `iza_test_<random>`.
    pub(crate) async fn create() -> TestDatabase {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|elapsed| elapsed.subsec_nanos())
            .unwrap_or(0);
        let name = format!(
            "iza_test_{}_{}_{}",
            std::process::id(),
            nanos,
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let mut admin = PgConnection::connect(&format!("{}/test", server()))
            .await
            .unwrap_or_else(|error| panic!("cannot reach PostgreSQL at {}: {error}", server()));
        sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .unwrap_or_else(|error| panic!("cannot create database {name}: {error}"));
        admin.close().await.ok();
        TestDatabase { name }
    }

    /// Its URL.
    pub(crate) fn url(&self) -> String {
        format!("{}/{}", server(), self.name)
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs inside the test's runtime: use a thread with its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async move {
                let mut admin = PgConnection::connect(&format!("{}/test", server())).await?;
                sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut admin)
                    .await?;
                admin.close().await?;
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
            })
        })
        .join();
        if let Ok(Err(error)) = dropped {
            eprintln!("warning: could not drop a test database: {error}");
        }
    }
}
