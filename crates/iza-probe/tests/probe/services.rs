//! `postgres`, `redis` and `amqp` checks against the real servers on this machine
//! (PostgreSQL on 5432 with trust authentication and a `test` database, Redis on 6379,
//! RabbitMQ on 5672 with guest/guest), passing and failing, and against servers that are not
//! what the check expects.

use std::time::Duration;

use iza_catalog::model::{Check, CheckTarget};
use iza_probe::{Outcome, Prober, Reason};

use crate::support::{closed_port, raw};

fn probe_check(target: CheckTarget) -> Check {
    crate::support::check(target, Duration::from_secs(5), &[])
}

#[tokio::test]
async fn postgres_up_runs_a_query_and_reports_the_version() {
    let result = Prober::default()
        .probe(&probe_check(CheckTarget::Postgres(
            "postgres://postgres@127.0.0.1:5432/test".into(),
        )))
        .await;
    assert_eq!(result.outcome, Outcome::Up, "{:?}", result.failure);
    assert!(result.facts.connected);
    let server = result.facts.server.unwrap();
    assert!(server.starts_with("PostgreSQL "), "{server}");
}

#[tokio::test]
async fn postgres_failures_say_why() {
    let closed = closed_port().await;
    let not_postgres = raw(b"+PONG\r\n").await;
    let cases = [
        (
            "postgres://postgres@127.0.0.1:5432/no_such_database_here".to_owned(),
            Reason::Rejected,
            "does not exist",
        ),
        (
            "postgres://no_such_role_here@127.0.0.1:5432/test".to_owned(),
            Reason::Auth,
            "no_such_role_here",
        ),
        (
            format!("postgres://postgres@127.0.0.1:{closed}/test"),
            Reason::Connect,
            "connection refused",
        ),
        (
            "postgres://postgres@127.0.0.1:5432/test?sslmode=bogus".to_owned(),
            Reason::Target,
            "invalid",
        ),
        (
            format!("postgres://postgres@{not_postgres}/test"),
            Reason::Protocol,
            "",
        ),
    ];
    let prober = Prober::default();
    for (url, reason, expected) in cases {
        let result = prober
            .probe(&probe_check(CheckTarget::Postgres(url.clone())))
            .await;
        assert_eq!(result.outcome, Outcome::Down, "{url}");
        let failure = result.failure.unwrap();
        assert_eq!(failure.reason, reason, "{url}: {failure}");
        assert!(failure.message.contains(expected), "{url}: {failure}");
    }
}

#[tokio::test]
async fn redis_answers_pong() {
    let prober = Prober::default();
    for url in ["redis://127.0.0.1:6379", "redis://127.0.0.1/0"] {
        let result = prober
            .probe(&probe_check(CheckTarget::Redis(url.into())))
            .await;
        assert_eq!(result.outcome, Outcome::Up, "{url}: {:?}", result.failure);
        assert_eq!(result.facts.body.as_deref(), Some("PONG"));
        assert_eq!(result.facts.ip, Some([127, 0, 0, 1].into()));
    }
}

#[tokio::test]
async fn redis_failures_say_why() {
    let closed = closed_port().await;
    let not_redis = raw(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
    let silent = raw(b"").await;
    let cases = [
        // The local server has no password: AUTH is refused.
        (
            "redis://:wrong@127.0.0.1:6379".to_owned(),
            Reason::Auth,
            "Redis refused AUTH",
        ),
        (
            "redis://127.0.0.1:6379/100000".to_owned(),
            Reason::Rejected,
            "DB index",
        ),
        (
            format!("redis://127.0.0.1:{closed}"),
            Reason::Connect,
            "connection refused",
        ),
        (
            format!("redis://{not_redis}"),
            Reason::Protocol,
            "not a Redis answer",
        ),
        (format!("redis://{silent}"), Reason::Timeout, "timed out"),
        (
            "redis://127.0.0.1/x".to_owned(),
            Reason::Target,
            "not a number",
        ),
    ];
    let prober = Prober::default();
    for (url, reason, expected) in cases {
        let mut c = probe_check(CheckTarget::Redis(url.clone()));
        c.timeout = Duration::from_millis(500);
        let result = prober.probe(&c).await;
        assert_eq!(result.outcome, Outcome::Down, "{url}");
        let failure = result.failure.unwrap();
        assert_eq!(failure.reason, reason, "{url}: {failure}");
        assert!(failure.message.contains(expected), "{url}: {failure}");
    }
}

#[tokio::test]
async fn rabbitmq_completes_the_handshake() {
    let prober = Prober::default();
    for url in ["amqp://guest:guest@127.0.0.1:5672/%2F", "amqp://127.0.0.1"] {
        let result = prober
            .probe(&probe_check(CheckTarget::Amqp(url.into())))
            .await;
        assert_eq!(result.outcome, Outcome::Up, "{url}: {:?}", result.failure);
        let server = result.facts.server.unwrap();
        assert!(server.starts_with("RabbitMQ "), "{server}");
    }
}

#[tokio::test]
async fn rabbitmq_failures_say_why() {
    let closed = closed_port().await;
    let not_amqp = raw(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
    let other_version = raw(b"AMQP\x00\x00\x09\x00").await;
    let cases = [
        (
            "amqp://guest:wrong@127.0.0.1:5672".to_owned(),
            Reason::Auth,
            "ACCESS_REFUSED",
        ),
        (
            "amqp://nobody:nothing@127.0.0.1:5672".to_owned(),
            Reason::Auth,
            "ACCESS_REFUSED",
        ),
        (
            "amqp://guest:guest@127.0.0.1:5672/no-such-vhost".to_owned(),
            Reason::Rejected,
            "NOT_ALLOWED",
        ),
        (
            format!("amqp://127.0.0.1:{closed}"),
            Reason::Connect,
            "connection refused",
        ),
        (format!("amqp://{not_amqp}"), Reason::Protocol, ""),
        (
            format!("amqp://{other_version}"),
            Reason::Protocol,
            "does not speak AMQP 0-9-1",
        ),
        ("amqp://".to_owned(), Reason::Target, "no host"),
    ];
    let prober = Prober::default();
    for (url, reason, expected) in cases {
        let result = prober
            .probe(&probe_check(CheckTarget::Amqp(url.clone())))
            .await;
        assert_eq!(result.outcome, Outcome::Down, "{url}");
        let failure = result.failure.unwrap();
        assert_eq!(failure.reason, reason, "{url}: {failure}");
        assert!(failure.message.contains(expected), "{url}: {failure}");
    }
}
