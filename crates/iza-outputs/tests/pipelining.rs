//! Publishing while earlier batches' acknowledgements are awaited (a window of entries in
//! flight), against the real brokers on 127.0.0.1 through a proxy that cuts the output's first
//! connection in the middle of the stream: the entries in flight then are lost on the way or
//! not acknowledged, and what the broker did not acknowledge goes out again from the outbox on
//! a new connection. Every event arrives, the first arrival of each in the order written (a
//! batch sent after a failed one would overtake it), nothing stays in the outbox.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt as _;
use iza_catalog::{Catalog, SourceFile, Syntax};
use iza_outputs::{Outputs, OutputsOptions};
use iza_runtime::{Bus, Change, Event, EventKind, Status};
use iza_store::{SqliteStore, Store};
use tokio::sync::mpsc;

mod common;
use common::Proxy;

const DEADLINE: Duration = Duration::from_secs(60);
/// Events published at once: several batches of 500, more than the window of 2,000.
const EVENTS: usize = 3_000;
/// Bytes from the output forwarded before its first connection is cut (about a fifth of the
/// events, so that the window is full of entries sent and not yet acknowledged).
const CUT_AFTER: usize = 300 * 1024;

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}{:x}{}", nanos & 0xff_ffff_ffff, std::process::id())
}

fn catalog(output: &str) -> Catalog {
    let text = format!(
        "version = 1\n[ecosystem]\nname = \"Test Eco\"\n[services.db]\n[services.api]\n[services.web]\n{output}"
    );
    let checked = iza_catalog::check(&SourceFile::new("t.toml", text, Syntax::Toml));
    checked
        .catalog
        .unwrap_or_else(|| panic!("{:?}", checked.diagnostics))
}

fn seq(payload: &[u8]) -> u64 {
    let ce: serde_json::Value = serde_json::from_slice(payload).unwrap();
    ce["izaseq"].as_u64().unwrap()
}

/// A subscriber of RabbitMQ: a queue of its own bound to everything under `prefix` on
/// `exchange`; each message's `izaseq`.
async fn amqp_subscriber(exchange: &str, prefix: &str) -> mpsc::UnboundedReceiver<u64> {
    use lapin::options::{
        BasicConsumeOptions, ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
    };
    use lapin::types::FieldTable;
    let connection = lapin::Connection::connect(
        "amqp://guest:guest@127.0.0.1:5672/%2f",
        lapin::ConnectionProperties::default(),
    )
    .await
    .unwrap();
    let channel = connection.create_channel().await.unwrap();
    channel
        .exchange_declare(
            exchange.into(),
            lapin::ExchangeKind::Topic,
            ExchangeDeclareOptions {
                durable: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    let queue = channel
        .queue_declare(
            "".into(),
            QueueDeclareOptions {
                exclusive: true,
                auto_delete: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    channel
        .queue_bind(
            queue.name().clone(),
            exchange.into(),
            format!("{prefix}.#").as_str().into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let mut consumer = channel
        .basic_consume(
            queue.name().clone(),
            "t".into(),
            BasicConsumeOptions {
                no_ack: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    let (sender, receiver) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let _keep = (connection, channel);
        while let Some(Ok(delivery)) = consumer.next().await {
            let _ = sender.send(seq(&delivery.data));
        }
    });
    receiver
}

/// A subscriber of Mosquitto to everything under `prefix`, at QoS 0 (Mosquitto queues at
/// most 1,000 QoS 1 messages for a subscriber that falls behind, and drops the rest).
async fn mqtt_subscriber(prefix: &str) -> mpsc::UnboundedReceiver<u64> {
    let mut options = rumqttc::MqttOptions::new(unique("sub"), "127.0.0.1", 1883);
    options.set_max_packet_size(1 << 20, 1 << 20);
    let (client, mut eventloop) = rumqttc::AsyncClient::new(options, 64);
    let (sender, receiver) = mpsc::unbounded_channel();
    let (subscribed, mut is_subscribed) = mpsc::unbounded_channel();
    client
        .subscribe(format!("{prefix}/#"), rumqttc::QoS::AtMostOnce)
        .await
        .unwrap();
    tokio::spawn(async move {
        let _client = client;
        while let Ok(event) = eventloop.poll().await {
            match event {
                rumqttc::Event::Incoming(rumqttc::Packet::Publish(p)) => {
                    let _ = sender.send(seq(&p.payload));
                }
                rumqttc::Event::Incoming(rumqttc::Packet::SubAck(_)) => {
                    let _ = subscribed.send(());
                }
                _ => {}
            }
        }
    });
    tokio::time::timeout(DEADLINE, is_subscribed.recv())
        .await
        .expect("subscribed")
        .unwrap();
    receiver
}

/// Publishes [`EVENTS`] events to an output of `kind` (`amqp` or `mqtt`) reached through a
/// [`Proxy`] that cuts its first connection mid-stream, and checks what `received` gets.
async fn a_cut_connection_loses_nothing_and_keeps_the_order(
    kind: &str,
    broker_port: u16,
    settings: &str,
    mut received: mpsc::UnboundedReceiver<u64>,
) {
    let proxy = Proxy::start(broker_port, CUT_AFTER).await;
    let url = match kind {
        "amqp" => format!("amqp://guest:guest@127.0.0.1:{}/%2f", proxy.port),
        _ => format!("mqtt://127.0.0.1:{}", proxy.port),
    };
    let catalog = catalog(&format!(
        "[outputs.out]\nkind = \"{kind}\"\nurl = \"{url}\"\ntimeout = \"3s\"\n{settings}"
    ));
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(dir.path().join("iza.db")).await.unwrap());
    let bus = Bus::new(8192);
    let options = OutputsOptions {
        backoff_max: Duration::from_millis(200),
        ..OutputsOptions::default()
    };
    let outputs = Outputs::start(&catalog, store, &bus, options);
    let mut written = Vec::with_capacity(EVENTS);
    for n in 0..EVENTS {
        let events = bus.publish(Change {
            events: vec![Event::new(
                1_765_000_000_000,
                EventKind::StatusChanged {
                    service: ["db", "api", "web"][n % 3].into(),
                    from: Status::Up,
                    to: Status::Down,
                    cause: None,
                    reason: Some(format!("event {n} {}", "x".repeat(200))),
                },
            )],
            ..Change::default()
        });
        written.push(events[0].seq);
    }
    // Every event arrives (some twice: sent before the cut, not acknowledged, sent again).
    let mut arrivals = Vec::new();
    let mut seen = HashSet::new();
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while seen.len() < EVENTS {
        match tokio::time::timeout_at(deadline, received.recv()).await {
            Ok(Some(seq)) => {
                seen.insert(seq);
                arrivals.push(seq);
            }
            _ => panic!(
                "{} of {EVENTS} events arrived: {:?}",
                seen.len(),
                outputs.status().await
            ),
        }
    }
    assert!(
        proxy.cut.load(std::sync::atomic::Ordering::SeqCst),
        "the first connection was cut"
    );
    // First arrivals in the order written: nothing sent after a lost entry overtook it.
    let mut first = Vec::new();
    let mut counted = HashSet::new();
    for seq in &arrivals {
        if counted.insert(*seq) {
            first.push(*seq);
        }
    }
    assert_eq!(first, written, "in order, each at least once");
    // Acknowledged entries are deleted, and only those: the outbox empties, and the output
    // noticed the cut.
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let status = outputs.status().await;
        if status[0].depth == 0 && status[0].published >= EVENTS as u64 {
            assert!(status[0].failures >= 1, "{status:?}");
            assert!(status[0].healthy, "{status:?}");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{status:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    outputs.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rabbitmq_cut_mid_stream_loses_nothing_and_keeps_the_order() {
    let prefix = unique("izap");
    let exchange = format!("{prefix}.events");
    let received = amqp_subscriber(&exchange, &prefix).await;
    a_cut_connection_loses_nothing_and_keeps_the_order(
        "amqp",
        5672,
        &format!("prefix = \"{prefix}\"\nexchange = \"{exchange}\"\n"),
        received,
    )
    .await;
    // The exchange is the test's own.
    let connection = lapin::Connection::connect(
        "amqp://guest:guest@127.0.0.1:5672/%2f",
        lapin::ConnectionProperties::default(),
    )
    .await
    .unwrap();
    let channel = connection.create_channel().await.unwrap();
    channel
        .exchange_delete(exchange.as_str().into(), Default::default())
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_cut_mid_stream_loses_nothing_and_keeps_the_order() {
    let prefix = unique("izap");
    let received = mqtt_subscriber(&prefix).await;
    a_cut_connection_loses_nothing_and_keeps_the_order(
        "mqtt",
        1883,
        &format!("prefix = \"{prefix}\"\nretain = false\n"),
        received,
    )
    .await;
}
