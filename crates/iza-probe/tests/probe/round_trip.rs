//! Round-trip checks (`nats`, `mqtt`, `amqp` with `round_trip`) against the real NATS (4222),
//! Mosquitto (1883) and RabbitMQ (5672) on this machine: a probe message published and
//! received back, `[ROUND_TRIP]` in conditions, and a clear failure when a consumer's
//! binding is missing. Names are unique per test (other tests share the brokers).

use std::time::Duration;

use iza_catalog::model::{Check, CheckTarget, RoundTrip};
use iza_probe::{Outcome, Prober, Reason};
use lapin::options::{
    ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties, ExchangeKind};

use crate::support::closed_port;

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}{}-{nanos}", std::process::id())
}

fn round_trip(url: &str) -> RoundTrip {
    RoundTrip {
        url: url.to_owned(),
        address: None,
        exchange: None,
        queue: None,
        tls: Default::default(),
    }
}

fn check(target: CheckTarget, conditions: &[&str]) -> Check {
    crate::support::check(target, Duration::from_secs(3), conditions)
}

#[tokio::test]
async fn nats_round_trip_passes_and_reports_how_long_it_took() {
    let target = RoundTrip {
        address: Some(unique("iza.test.rt.")),
        ..round_trip("nats://127.0.0.1:4222")
    };
    let result = Prober::default()
        .probe(&check(CheckTarget::Nats(target), &["[ROUND_TRIP] < 1000"]))
        .await;
    assert_eq!(result.outcome, Outcome::Up, "{:?}", result.failure);
    assert!(result.facts.connected);
    assert!(result.facts.round_trip_us.is_some());
    assert!(result.facts.server.unwrap().starts_with("NATS "));
    // A fresh subject per probe without one.
    let result = Prober::default()
        .probe(&check(
            CheckTarget::Nats(round_trip("nats://127.0.0.1:4222")),
            &[],
        ))
        .await;
    assert_eq!(result.outcome, Outcome::Up, "{:?}", result.failure);
    // A condition on [ROUND_TRIP] that cannot hold fails with the value seen.
    let result = Prober::default()
        .probe(&check(
            CheckTarget::Nats(round_trip("nats://127.0.0.1:4222")),
            &["[ROUND_TRIP] < 0"],
        ))
        .await;
    assert_eq!(result.outcome, Outcome::Down);
    assert!(
        result.failure.unwrap().message.contains("[ROUND_TRIP]"),
        "the failure names the condition"
    );
}

#[tokio::test]
async fn mqtt_round_trip_passes() {
    let target = RoundTrip {
        address: Some(unique("iza/test/rt/")),
        ..round_trip("mqtt://127.0.0.1:1883")
    };
    let result = Prober::default()
        .probe(&check(CheckTarget::Mqtt(target), &["[ROUND_TRIP] < 1000"]))
        .await;
    assert_eq!(result.outcome, Outcome::Up, "{:?}", result.failure);
    assert!(result.facts.connected);
    assert!(result.facts.round_trip_us.is_some());
}

#[tokio::test]
async fn round_trips_to_a_closed_port_fail_to_connect() {
    let port = closed_port().await;
    for target in [
        CheckTarget::Nats(round_trip(&format!("nats://127.0.0.1:{port}"))),
        CheckTarget::Mqtt(round_trip(&format!("mqtt://127.0.0.1:{port}"))),
        CheckTarget::AmqpRoundTrip(round_trip(&format!("amqp://127.0.0.1:{port}"))),
    ] {
        let result = Prober::default().probe(&check(target.clone(), &[])).await;
        assert_eq!(result.outcome, Outcome::Down, "{target:?}");
        let failure = result.failure.unwrap();
        assert_eq!(failure.reason, Reason::Connect, "{target:?}: {failure:?}");
        assert!(!result.facts.connected);
    }
}

#[tokio::test]
async fn amqp_round_trip_passes_through_a_binding_and_fails_clearly_without_one() {
    let url = "amqp://guest:guest@127.0.0.1:5672/%2f";
    let connection = Connection::connect(url, ConnectionProperties::default())
        .await
        .unwrap();
    let channel = connection.create_channel().await.unwrap();
    let exchange = unique("iza.test.rt.x.");
    let (bound, unbound) = (unique("iza.test.rt.bound."), unique("iza.test.rt.unbound."));
    channel
        .exchange_declare(
            exchange.as_str().into(),
            ExchangeKind::Topic,
            ExchangeDeclareOptions {
                auto_delete: true,
                ..ExchangeDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    for queue in [&bound, &unbound] {
        channel
            .queue_declare(
                queue.as_str().into(),
                QueueDeclareOptions::default(),
                FieldTable::default(),
            )
            .await
            .unwrap();
    }
    channel
        .queue_bind(
            bound.as_str().into(),
            exchange.as_str().into(),
            "orders.created".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();

    let through = |queue: &str, key: &str| {
        CheckTarget::AmqpRoundTrip(RoundTrip {
            url: url.to_owned(),
            address: Some(key.to_owned()),
            exchange: Some(exchange.clone()),
            queue: Some(queue.to_owned()),
            tls: Default::default(),
        })
    };
    let prober = Prober::default();
    let passed = prober
        .probe(&check(
            through(&bound, "orders.created"),
            &["[ROUND_TRIP] < 2000"],
        ))
        .await;
    // The consumer's queue lost its binding: the message goes nowhere.
    let no_binding = prober
        .probe(&check(through(&unbound, "orders.created.v2"), &[]))
        .await;
    // Routed, but to another queue than the consumer's.
    let elsewhere = prober
        .probe(&check(through(&unbound, "orders.created"), &[]))
        .await;
    let missing_queue = prober
        .probe(&check(
            through(&unique("iza.test.rt.none."), "orders.created"),
            &[],
        ))
        .await;
    // Without a queue: a temporary one bound to the exchange.
    let temporary = prober
        .probe(&check(
            CheckTarget::AmqpRoundTrip(RoundTrip {
                url: url.to_owned(),
                address: Some("anything".to_owned()),
                exchange: Some(exchange.clone()),
                queue: None,
                tls: Default::default(),
            }),
            &[],
        ))
        .await;
    for queue in [&bound, &unbound] {
        let _ = channel
            .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
            .await;
    }
    let _ = connection.close(200, "done".into()).await;

    assert_eq!(passed.outcome, Outcome::Up, "{:?}", passed.failure);
    assert!(passed.facts.round_trip_us.is_some());
    assert_eq!(temporary.outcome, Outcome::Up, "{:?}", temporary.failure);

    let failure = no_binding.failure.expect("down without a binding");
    assert_eq!(no_binding.outcome, Outcome::Down);
    assert!(no_binding.facts.connected, "the broker accepts connections");
    assert!(
        failure
            .message
            .contains("routes the key `orders.created.v2` to no queue")
            && failure.message.contains("NO_ROUTE")
            && failure.message.contains("binding"),
        "{failure:?}"
    );

    let failure = elsewhere.failure.expect("down when routed elsewhere");
    assert!(
        failure.message.contains("did not come back") && failure.message.contains("bound"),
        "{failure:?}"
    );

    let failure = missing_queue.failure.expect("down without the queue");
    assert!(failure.message.contains("is not there"), "{failure:?}");
}
