//! The `postgres` kind: a real PostgreSQL session. It completes the startup handshake with
//! the URL's user, password and database (`postgres://user:pass@host:5432/db`), runs
//! `SELECT 1` over the simple query protocol, and closes the session with `Terminate`. Up when
//! the query answers; facts `[CONNECTED]`, `[IP]` and the server's version
//! (`PostgreSQL 15.19`).
//!
//! Speaks through `sqlx` (`runtime-tokio`, `postgres`, no TLS feature): the store will use
//! `sqlx` too, so the crate is compiled once for both, and it covers every authentication
//! method (trust, password, MD5, SCRAM-SHA-256). Without a TLS feature, `sslmode=prefer` (the
//! default) connects in clear text and `sslmode=require` fails with a TLS error.

use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions, Connection, Executor};

use crate::net;
use crate::result::{Facts, Failure, Reason};

/// Connects, queries and closes.
pub(crate) async fn probe(url: &str, facts: &mut Facts) -> Result<(), Failure> {
    let options = PgConnectOptions::from_str(url)
        .map_err(|e| failure(e, facts))?
        .application_name("iza-probe")
        .statement_cache_capacity(0)
        .disable_statement_logging();
    if let Ok(ip) = options.get_host().parse() {
        facts.ip = Some(ip);
    }
    let mut connection = PgConnection::connect_with(&options)
        .await
        .map_err(|e| failure(e, facts))?;
    facts.connected = true;
    facts.server = connection.server_version_num().map(|n| {
        // 150019 → 15.19 (PostgreSQL 10 and later).
        format!("PostgreSQL {}.{}", n / 10_000, n % 10_000)
    });
    // A query without arguments goes over the simple query protocol: no statement to prepare.
    Executor::execute(&mut connection, "SELECT 1")
        .await
        .map_err(|e| failure(e, facts))?;
    // Best effort: the answer is in.
    let _ = connection.close().await;
    Ok(())
}

/// An sqlx error in words, with a reason.
fn failure(error: sqlx::Error, facts: &mut Facts) -> Failure {
    match error {
        sqlx::Error::Configuration(e) => Failure::new(
            Reason::Target,
            format!(
                "the PostgreSQL URL is invalid: {}",
                net::tidy(&e.to_string())
            ),
        ),
        sqlx::Error::Io(e) => {
            let reason = if facts.connected {
                Reason::Protocol
            } else {
                Reason::Connect
            };
            Failure::new(reason, format!("PostgreSQL: {}", net::io_message(&e)))
        }
        sqlx::Error::Tls(e) => {
            facts.connected = true;
            Failure::new(
                Reason::Tls,
                format!("PostgreSQL: {}", net::tidy(&e.to_string())),
            )
        }
        sqlx::Error::Database(db) => {
            facts.connected = true;
            // Class 28: invalid authorization (wrong password, no such role, pg_hba refusal).
            let reason = match db.code() {
                Some(code) if code.starts_with("28") => Reason::Auth,
                _ => Reason::Rejected,
            };
            let code = db.code().map(|c| format!(" ({c})")).unwrap_or_default();
            Failure::new(
                reason,
                format!("PostgreSQL refused: {}{code}", db.message()),
            )
        }
        other => {
            facts.connected = true;
            Failure::new(
                Reason::Protocol,
                format!("PostgreSQL: {}", net::tidy(&other.to_string())),
            )
        }
    }
}
