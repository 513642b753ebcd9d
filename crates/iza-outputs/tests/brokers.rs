//! Event outputs against the real brokers on 127.0.0.1 (NATS with JetStream on 4222, RabbitMQ
//! on 5672, Mosquitto on 1883) and a webhook served by the test: every family of event kinds
//! arrives with its CloudEvents attributes, JetStream gets `Nats-Msg-Id`, MQTT's retained
//! status is what a late subscriber gets first, and 1,000 events produced while the output's
//! port is closed all arrive once, in order per service, when it opens. Names are unique per
//! test (a random prefix), so tests sharing the brokers do not meet.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt as _;
use iza_catalog::model::Severity;
use iza_catalog::{Catalog, SourceFile, Syntax};
use iza_outputs::{Outputs, OutputsOptions};
use iza_runtime::{Bus, Change, Event, EventKind, Health, ProbeSummary, Status};
use iza_store::{SqliteStore, Store};
use serde_json::Value;

mod common;
use common::{Received, serve_webhook};

const DEADLINE: Duration = Duration::from_secs(30);

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}{:x}{}", nanos & 0xff_ffff_ffff, std::process::id())
}

fn catalog(outputs: &str) -> Catalog {
    let text = format!(
        "version = 1\n[ecosystem]\nname = \"Test Eco\"\n[groups.data]\n[services.db]\ngroup = \"data\"\n[services.api]\n[services.web]\n{outputs}"
    );
    let checked = iza_catalog::check(&SourceFile::new("t.toml", text, Syntax::Toml));
    checked
        .catalog
        .unwrap_or_else(|| panic!("{:?}", checked.diagnostics))
}

async fn store() -> (Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("iza.db")).await.unwrap();
    (Arc::new(store), dir)
}

/// One event of each family the outputs carry: status transitions, probe results, process
/// lifecycle, task runs, incidents, alerts, reloads.
fn sample_events() -> Vec<EventKind> {
    vec![
        EventKind::StatusChanged {
            service: "db".into(),
            from: Status::Up,
            to: Status::Down,
            cause: Some("db".into()),
            reason: Some("connection refused".into()),
        },
        EventKind::ServiceImpacted {
            service: "api".into(),
            by: "db".into(),
            from: Status::Up,
            own: Health::Down,
        },
        EventKind::ServiceRecovered {
            service: "api".into(),
            by: "db".into(),
            to: Status::Up,
        },
        EventKind::ProbeCompleted {
            service: "db".into(),
            result: ProbeSummary {
                started_at: 1,
                at: 2,
                outcome: iza_probe::Outcome::Up,
                duration_ms: 1.5,
                reason: None,
                message: None,
                http_status: None,
                node: None,
                region: None,
            },
            own: Health::Up,
        },
        EventKind::ProcessStarting {
            service: "web".into(),
            attempt: 1,
        },
        EventKind::ProcessFailed {
            service: "web".into(),
            restarts: 3,
            reason: "exited 3 times".into(),
        },
        EventKind::RunFailed {
            run: 7,
            task: "ops/backup".into(),
            agent: Some("ops".into()),
            attempt: 1,
            duration_ms: 12,
            error: "boom".into(),
            retry_at: None,
        },
        EventKind::IncidentOpened {
            incident: 3,
            task: "ops/backup".into(),
            agent: Some("ops".into()),
            run: 7,
            reason: "retries exhausted".into(),
        },
        EventKind::AlertFiring {
            alert: 5,
            rule: "down".into(),
            service: "db".into(),
            severity: "critical".into(),
            status: "down".into(),
            impacted: vec!["api".into()],
            suppressed_by: None,
        },
        EventKind::ManifestReloaded {
            added: vec!["web".into()],
            removed: vec![],
            changed: vec![],
        },
    ]
}

fn publish(bus: &Bus, kinds: Vec<EventKind>) -> Vec<Arc<Event>> {
    let at = 1_765_000_000_000;
    bus.publish(Change {
        events: kinds.into_iter().map(|k| Event::new(at, k)).collect(),
        ..Change::default()
    })
}

/// The CloudEvents type and key suffix each event must arrive with.
fn expected(events: &[Arc<Event>]) -> Vec<(String, String)> {
    events
        .iter()
        .map(|e| {
            (
                format!("os.iza.{}", e.name().replace('-', ".")),
                iza_outputs::envelope::key_suffix(e),
            )
        })
        .collect()
}

fn check_envelope(ce: &Value, epoch: u64) {
    assert_eq!(ce["specversion"], "1.0", "{ce}");
    assert_eq!(ce["source"], "/iza/test-eco");
    assert_eq!(ce["datacontenttype"], "application/json");
    let id = ce["id"].as_str().unwrap();
    assert!(id.starts_with(&format!("{epoch}-")), "{ce}");
    assert!(ce["time"].as_str().unwrap().ends_with('Z'));
    let kind = ce["data"]["kind"].as_str().unwrap();
    assert_eq!(
        ce["type"].as_str().unwrap(),
        format!("os.iza.{}", kind.replace('-', "."))
    );
    if let Some(service) = ce["data"]["service"].as_str() {
        assert_eq!(ce["subject"], service);
    }
}

async fn wait_delivered(outputs: &Outputs, n: u64) {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let status = outputs.status().await;
        if status.iter().all(|s| s.published >= n && s.depth == 0) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not delivered: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_family_arrives_on_nats_through_jetstream_with_message_ids() {
    let prefix = unique("izat");
    let catalog = catalog(&format!(
        "[outputs.bus]\nkind = \"nats\"\nurl = \"nats://127.0.0.1:4222\"\nprefix = \"{prefix}\"\nprobes = true\n"
    ));
    let client = async_nats::connect("127.0.0.1:4222").await.unwrap();
    let jetstream = async_nats::jetstream::new(client.clone());
    // A stream covers the status subjects only: those go through JetStream, the rest core NATS.
    let stream_name = prefix.to_uppercase();
    let mut stream = jetstream
        .create_stream(async_nats::jetstream::stream::Config {
            name: stream_name.clone(),
            subjects: vec![format!("{prefix}.*.service.*.status")],
            ..Default::default()
        })
        .await
        .unwrap();
    let mut subscriber = client.subscribe(format!("{prefix}.>")).await.unwrap();
    client.flush().await.unwrap();
    let (store, _dir) = store().await;
    let bus = Bus::new(1024);
    let outputs = Outputs::start(&catalog, store, &bus, OutputsOptions::default());
    let events = publish(&bus, sample_events());
    let mut got = Vec::new();
    for _ in 0..events.len() {
        let message = tokio::time::timeout(DEADLINE, subscriber.next())
            .await
            .expect("a message")
            .unwrap();
        let ce: Value = serde_json::from_slice(&message.payload).unwrap();
        check_envelope(&ce, bus.epoch());
        let headers = message.headers.clone().unwrap();
        assert_eq!(
            headers.get("Nats-Msg-Id").unwrap().as_str(),
            ce["id"].as_str().unwrap()
        );
        let suffix = message
            .subject
            .as_str()
            .strip_prefix(&format!("{prefix}.test-eco."))
            .unwrap()
            .to_owned();
        got.push((ce["type"].as_str().unwrap().to_owned(), suffix));
    }
    assert_eq!(got, expected(&events));
    wait_delivered(&outputs, events.len() as u64).await;
    let info = stream.info().await.unwrap();
    assert_eq!(
        info.state.messages, 3,
        "the three status events are in the stream"
    );
    outputs.shutdown(Duration::from_secs(5)).await;
    jetstream.delete_stream(&stream_name).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_family_arrives_on_rabbitmq_with_confirms_and_routing_keys() {
    use lapin::options::{
        BasicConsumeOptions, ExchangeDeclareOptions, ExchangeDeleteOptions, QueueBindOptions,
        QueueDeclareOptions,
    };
    use lapin::types::FieldTable;
    let prefix = unique("izat");
    let exchange = format!("{prefix}.events");
    let catalog = catalog(&format!(
        "[outputs.rabbit]\nkind = \"amqp\"\nurl = \"amqp://guest:guest@127.0.0.1:5672/%2f\"\nprefix = \"{prefix}\"\nexchange = \"{exchange}\"\nprobes = true\n"
    ));
    let connection = lapin::Connection::connect(
        "amqp://guest:guest@127.0.0.1:5672/%2f",
        lapin::ConnectionProperties::default(),
    )
    .await
    .unwrap();
    let channel = connection.create_channel().await.unwrap();
    channel
        .exchange_declare(
            exchange.as_str().into(),
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
            exchange.as_str().into(),
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
    let (store, _dir) = store().await;
    let bus = Bus::new(1024);
    let outputs = Outputs::start(&catalog, store, &bus, OutputsOptions::default());
    let events = publish(&bus, sample_events());
    let mut got = Vec::new();
    for _ in 0..events.len() {
        let delivery = tokio::time::timeout(DEADLINE, consumer.next())
            .await
            .expect("a message")
            .unwrap()
            .unwrap();
        let ce: Value = serde_json::from_slice(&delivery.data).unwrap();
        check_envelope(&ce, bus.epoch());
        assert_eq!(
            delivery.properties.message_id().as_ref().unwrap().as_str(),
            ce["id"].as_str().unwrap()
        );
        let suffix = delivery
            .routing_key
            .as_str()
            .strip_prefix(&format!("{prefix}.test-eco."))
            .unwrap()
            .to_owned();
        got.push((ce["type"].as_str().unwrap().to_owned(), suffix));
    }
    assert_eq!(got, expected(&events));
    wait_delivered(&outputs, events.len() as u64).await;
    outputs.shutdown(Duration::from_secs(5)).await;
    channel
        .exchange_delete(exchange.as_str().into(), ExchangeDeleteOptions::default())
        .await
        .unwrap();
}

type Subscriber = (
    rumqttc::AsyncClient,
    tokio::sync::mpsc::UnboundedReceiver<rumqttc::Publish>,
);

async fn mqtt_subscriber(topic: &str) -> Subscriber {
    let mut options = rumqttc::MqttOptions::new(unique("sub"), "127.0.0.1", 1883);
    options.set_max_packet_size(1 << 20, 1 << 20);
    let (client, mut eventloop) = rumqttc::AsyncClient::new(options, 64);
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
    let (subscribed, mut is_subscribed) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok(event) = eventloop.poll().await {
            match event {
                rumqttc::Event::Incoming(rumqttc::Packet::Publish(p)) => {
                    let _ = sender.send(p);
                }
                rumqttc::Event::Incoming(rumqttc::Packet::SubAck(_)) => {
                    let _ = subscribed.send(());
                }
                _ => {}
            }
        }
    });
    client
        .subscribe(topic, rumqttc::QoS::AtLeastOnce)
        .await
        .unwrap();
    tokio::time::timeout(DEADLINE, is_subscribed.recv())
        .await
        .unwrap();
    (client, receiver)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_family_arrives_on_mqtt_and_a_late_subscriber_gets_the_retained_status() {
    let prefix = unique("izat");
    let catalog = catalog(&format!(
        "[outputs.mosquitto]\nkind = \"mqtt\"\nurl = \"mqtt://127.0.0.1:1883\"\nprefix = \"{prefix}\"\nprobes = true\n"
    ));
    let (_client, mut messages) = mqtt_subscriber(&format!("{prefix}/#")).await;
    let (store, _dir) = store().await;
    let bus = Bus::new(1024);
    let outputs = Outputs::start(&catalog, store, &bus, OutputsOptions::default());
    let events = publish(&bus, sample_events());
    let mut got = Vec::new();
    for _ in 0..events.len() {
        let message = tokio::time::timeout(DEADLINE, messages.recv())
            .await
            .expect("a message")
            .unwrap();
        let ce: Value = serde_json::from_slice(&message.payload).unwrap();
        check_envelope(&ce, bus.epoch());
        let suffix = message
            .topic
            .strip_prefix(&format!("{prefix}/test-eco/"))
            .unwrap()
            .replace('/', ".");
        got.push((ce["type"].as_str().unwrap().to_owned(), suffix));
    }
    assert_eq!(got, expected(&events));
    // db comes back: its last status is up.
    let up = publish(
        &bus,
        vec![EventKind::StatusChanged {
            service: "db".into(),
            from: Status::Down,
            to: Status::Up,
            cause: None,
            reason: None,
        }],
    );
    wait_delivered(&outputs, events.len() as u64 + 1).await;
    let status_topic = format!("{prefix}/test-eco/service/db/status");
    let (late, mut late_messages) = mqtt_subscriber(&status_topic).await;
    let first = tokio::time::timeout(DEADLINE, late_messages.recv())
        .await
        .expect("the retained status")
        .unwrap();
    assert!(first.retain, "delivered as retained");
    let ce: Value = serde_json::from_slice(&first.payload).unwrap();
    assert_eq!(ce["data"]["to"]["status"], "up");
    assert_eq!(
        ce["id"],
        iza_outputs::envelope::event_id(bus.epoch(), up[0].seq)
    );
    outputs.shutdown(Duration::from_secs(5)).await;
    // Clear the retained message (an empty retained publish deletes it).
    late.publish(&status_topic, rumqttc::QoS::AtLeastOnce, true, Vec::new())
        .await
        .unwrap();
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_events_wait_for_a_closed_port_and_arrive_once_in_order() {
    // A port that is closed now and served later.
    let port = free_port();
    let catalog = catalog(&format!(
        "[outputs.hook]\nkind = \"webhook\"\nurl = \"http://127.0.0.1:{port}/hook\"\ntimeout = \"2s\"\n"
    ));
    let (store, _dir) = store().await;
    let bus = Bus::new(4096);
    let options = OutputsOptions {
        backoff_max: Duration::from_millis(200),
        ..OutputsOptions::default()
    };
    let outputs = Outputs::start(&catalog, store, &bus, options);
    let services = ["db", "api", "web"];
    for n in 0..1000 {
        let up = n % 2 == 0;
        publish(
            &bus,
            vec![EventKind::StatusChanged {
                service: services[n % 3].into(),
                from: if up { Status::Down } else { Status::Up },
                to: if up { Status::Up } else { Status::Down },
                cause: None,
                reason: Some(format!("event {n}")),
            }],
        );
    }
    // They wait in the outbox while the port is closed.
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let status = outputs.status().await;
        if status[0].depth == 1000 && status[0].failures > 0 {
            assert!(!status[0].healthy);
            assert!(status[0].last_error.is_some());
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{status:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let received: Received = Arc::default();
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let server = tokio::spawn(serve_webhook(listener, received.clone()));
    wait_delivered(&outputs, 1000).await;
    let received = received.lock().unwrap().clone();
    assert_eq!(received.len(), 1000, "each once");
    let mut last: HashMap<String, u64> = HashMap::new();
    let mut ids = std::collections::HashSet::new();
    for ce in &received {
        assert!(
            ids.insert(ce["id"].as_str().unwrap().to_owned()),
            "no duplicate"
        );
        let service = ce["subject"].as_str().unwrap().to_owned();
        let seq = ce["izaseq"].as_u64().unwrap();
        if let Some(before) = last.insert(service, seq) {
            assert!(before < seq, "in order per service");
        }
    }
    let seqs: Vec<u64> = received
        .iter()
        .map(|ce| ce["izaseq"].as_u64().unwrap())
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "in order overall");
    outputs.shutdown(Duration::from_secs(5)).await;
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_newest_within_the_bound_then_the_live_events_arrive_once_in_order() {
    // Events published while the receiver is down (the worker reads its outbox from the store,
    // the bound drops the oldest), then events published in bursts while it is up (the writer
    // hands them to the worker, each burst delivered before the next so that none is over the
    // bound): what arrives is the newest `max_pending` of the first, then every one of the
    // second, each once, in order.
    struct Case {
        max_pending: u64,
        down: usize,
        up: usize,
    }
    let cases = [
        Case {
            max_pending: 300,
            down: 1000,
            up: 600,
        },
        Case {
            max_pending: 100_000,
            down: 0,
            up: 2000,
        },
        Case {
            max_pending: 100_000,
            down: 150,
            up: 1200,
        },
    ];
    for case in cases {
        let port = free_port();
        let catalog = catalog(&format!(
            "[outputs.hook]\nkind = \"webhook\"\nurl = \"http://127.0.0.1:{port}/hook\"\ntimeout = \"2s\"\nmax_pending = {}\n",
            case.max_pending
        ));
        let (store, _dir) = store().await;
        let bus = Bus::new(8192);
        let options = OutputsOptions {
            backoff_max: Duration::from_millis(100),
            ..OutputsOptions::default()
        };
        let outputs = Outputs::start(&catalog, store, &bus, options);
        let event = |n: usize| EventKind::StatusChanged {
            service: ["db", "api", "web"][n % 3].into(),
            from: Status::Up,
            to: Status::Down,
            cause: None,
            reason: Some(format!("event {n}")),
        };
        let mut seqs = Vec::new();
        for n in 0..case.down {
            seqs.extend(publish(&bus, vec![event(n)]).iter().map(|e| e.seq));
        }
        let kept = case.down.min(usize::try_from(case.max_pending).unwrap());
        let dropped = (case.down - kept) as u64;
        if case.down > 0 {
            let deadline = tokio::time::Instant::now() + DEADLINE;
            loop {
                let status = outputs.status().await;
                if status[0].depth == kept as u64
                    && status[0].dropped == dropped
                    && status[0].failures > 0
                {
                    break;
                }
                assert!(tokio::time::Instant::now() < deadline, "{status:?}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        let received: Received = Arc::default();
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        let server = tokio::spawn(serve_webhook(listener, received.clone()));
        // Delivered and deleted (acknowledged entries not yet deleted count against the bound).
        wait_delivered(&outputs, kept as u64).await;
        for burst in 0..case.up / 100 {
            for n in 0..100 {
                let n = case.down + burst * 100 + n;
                seqs.extend(publish(&bus, vec![event(n)]).iter().map(|e| e.seq));
            }
            // Within the bound: each burst is delivered before the next.
            wait_delivered(&outputs, (kept + burst * 100 + 100) as u64).await;
        }
        let got: Vec<u64> = received
            .lock()
            .unwrap()
            .iter()
            .map(|ce| ce["izaseq"].as_u64().unwrap())
            .collect();
        assert_eq!(
            got,
            seqs[case.down - kept..],
            "max_pending {}",
            case.max_pending
        );
        assert_eq!(outputs.status().await[0].dropped, dropped);
        outputs.shutdown(Duration::from_secs(5)).await;
        server.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_choose_kinds_services_groups_and_severity() {
    let port = free_port();
    let catalog = catalog(&format!(
        "[outputs.hook]\nkind = \"webhook\"\nurl = \"http://127.0.0.1:{port}/hook\"\ngroups = [\"data\"]\nseverity = \"warning\"\n"
    ));
    assert_eq!(
        catalog.outputs["hook"].filter.severity,
        Some(Severity::Warning)
    );
    let received: Received = Arc::default();
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let server = tokio::spawn(serve_webhook(listener, received.clone()));
    let (store, _dir) = store().await;
    let bus = Bus::new(1024);
    let outputs = Outputs::start(&catalog, store, &bus, OutputsOptions::default());
    // Of the samples only db's down and db's critical alert pass: db is the one service of
    // `data`, and its probe result is info.
    publish(&bus, sample_events());
    wait_delivered(&outputs, 2).await;
    let types: Vec<String> = received
        .lock()
        .unwrap()
        .iter()
        .map(|ce| ce["type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(types, ["os.iza.status.changed", "os.iza.alert.firing"]);
    outputs.shutdown(Duration::from_secs(5)).await;
    server.abort();
}

/// Publishes `n` status events of db, api and web in turn; returns their sequence numbers.
fn publish_statuses(bus: &Bus, n: usize, tag: &str) -> Vec<u64> {
    let services = ["db", "api", "web"];
    (0..n)
        .map(|i| {
            publish(
                bus,
                vec![EventKind::StatusChanged {
                    service: services[i % 3].into(),
                    from: Status::Up,
                    to: Status::Down,
                    cause: None,
                    reason: Some(format!("{tag} {i}")),
                }],
            )[0]
            .seq
        })
        .collect()
}

/// Waits until the outbox of `output` holds `depth` entries (read from the store).
async fn wait_depth(store: &Arc<dyn Store>, output: &str, depth: u64) {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let depths = store.outbox_depths().await.unwrap();
        let now = depths
            .iter()
            .find(|d| d.output == output)
            .map_or(0, |d| d.depth);
        if now == depth {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the outbox of `{output}` holds {now}, not {depth}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_restarts_a_changed_output_with_its_outbox_and_starts_an_added_one() {
    use lapin::options::{
        BasicConsumeOptions, ExchangeDeclareOptions, ExchangeDeleteOptions, QueueBindOptions,
        QueueDeclareOptions,
    };
    use lapin::types::FieldTable;
    let prefix = unique("izat");
    let exchange = format!("{prefix}.events");
    let closed = free_port();
    let rabbit = |port: u16| {
        format!(
            "[outputs.rabbit]\nkind = \"amqp\"\nurl = \"amqp://guest:guest@127.0.0.1:{port}/%2f\"\nprefix = \"{prefix}\"\nexchange = \"{exchange}\"\ntimeout = \"2s\"\n"
        )
    };
    let before = catalog(&rabbit(closed));
    let (store, _dir) = store().await;
    let bus = Bus::new(4096);
    let options = OutputsOptions {
        backoff_max: Duration::from_millis(200),
        ..OutputsOptions::default()
    };
    let outputs = Outputs::start(&before, store.clone(), &bus, options);
    // 200 events wait in the outbox while RabbitMQ's address is wrong.
    let waiting = publish_statuses(&bus, 200, "before");
    wait_depth(&store, "rabbit", 200).await;

    // A consumer of the exchange, and a NATS subscriber for the output the reload adds.
    let connection = lapin::Connection::connect(
        "amqp://guest:guest@127.0.0.1:5672/%2f",
        lapin::ConnectionProperties::default(),
    )
    .await
    .unwrap();
    let channel = connection.create_channel().await.unwrap();
    channel
        .exchange_declare(
            exchange.as_str().into(),
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
            exchange.as_str().into(),
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
    let client = async_nats::connect("127.0.0.1:4222").await.unwrap();
    let mut subscriber = client.subscribe(format!("{prefix}.>")).await.unwrap();
    client.flush().await.unwrap();

    let after = catalog(&format!(
        "{}[outputs.bus]\nkind = \"nats\"\nurl = \"nats://127.0.0.1:4222\"\nprefix = \"{prefix}\"\njetstream = false\n",
        rabbit(5672)
    ));
    let report = outputs.reload(&after).await;
    assert_eq!(report.changed, ["rabbit"]);
    assert_eq!(report.added, ["bus"]);
    assert!(report.removed.is_empty());
    let later = publish_statuses(&bus, 10, "after");

    // RabbitMQ gets the 200 outboxed events, then the 10 later ones: each once, in order.
    let mut got = Vec::new();
    while got.len() < 210 {
        let delivery = tokio::time::timeout(DEADLINE, consumer.next())
            .await
            .unwrap_or_else(|_| panic!("only {} of 210 arrived", got.len()))
            .unwrap()
            .unwrap();
        let ce: Value = serde_json::from_slice(&delivery.data).unwrap();
        got.push(ce["izaseq"].as_u64().unwrap());
    }
    let want: Vec<u64> = waiting.iter().chain(&later).copied().collect();
    assert_eq!(got, want);
    // The added NATS output gets the events after the reload, not those before.
    let mut heard = Vec::new();
    while heard.len() < later.len() {
        let message = tokio::time::timeout(DEADLINE, subscriber.next())
            .await
            .expect("the added output publishes")
            .unwrap();
        let ce: Value = serde_json::from_slice(&message.payload).unwrap();
        heard.push(ce["izaseq"].as_u64().unwrap());
    }
    assert_eq!(heard, later);
    wait_delivered(&outputs, 10).await;
    let status = outputs.status().await;
    let ids: Vec<&str> = status.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["rabbit", "bus"]);
    assert!(
        status[0].failures > 0,
        "the counters carry over a restart: {status:?}"
    );
    assert!(status[0].healthy);
    assert_eq!(status[0].published, 210);
    // The same catalog again changes nothing.
    assert!(outputs.reload(&after).await.is_empty());
    outputs.shutdown(Duration::from_secs(5)).await;
    channel
        .exchange_delete(exchange.as_str().into(), ExchangeDeleteOptions::default())
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_output_stops_and_its_outbox_waits_for_it_to_come_back() {
    let prefix = unique("izat");
    // A witness output that every catalog keeps (a webhook on a closed port): its outbox shows
    // how far the writer has read the bus.
    let witness = format!(
        "[outputs.witness]\nkind = \"webhook\"\nurl = \"http://127.0.0.1:{}/hook\"\n",
        free_port()
    );
    let mosquitto = |port: u16| {
        format!(
            "{witness}[outputs.mosquitto]\nkind = \"mqtt\"\nurl = \"mqtt://127.0.0.1:{port}\"\nprefix = \"{prefix}\"\nretain = false\ntimeout = \"2s\"\n"
        )
    };
    let (store, _dir) = store().await;
    let bus = Bus::new(4096);
    let options = OutputsOptions {
        backoff_max: Duration::from_millis(200),
        ..OutputsOptions::default()
    };
    let outputs = Outputs::start(
        &catalog(&mosquitto(free_port())),
        store.clone(),
        &bus,
        options,
    );
    let waiting = publish_statuses(&bus, 50, "before");
    wait_depth(&store, "mosquitto", 50).await;

    // Removed: it stops, its 50 entries stay, and the events that follow are not written for it.
    let report = outputs.reload(&catalog(&witness)).await;
    assert_eq!(report.removed, ["mosquitto"]);
    assert!(report.added.is_empty() && report.changed.is_empty());
    let ids: Vec<String> = outputs.status().await.into_iter().map(|s| s.id).collect();
    assert_eq!(ids, ["witness"]);
    let (_client, mut messages) = mqtt_subscriber(&format!("{prefix}/#")).await;
    publish_statuses(&bus, 20, "while removed");
    wait_depth(&store, "witness", 70).await;
    wait_depth(&store, "mosquitto", 50).await;

    // Back, at Mosquitto's real address: the 50 go out, in order, and nothing else.
    let report = outputs.reload(&catalog(&mosquitto(1883))).await;
    assert_eq!(report.added, ["mosquitto"]);
    let last = publish_statuses(&bus, 1, "after");
    let mut got = Vec::new();
    while got.len() < 51 {
        let message = tokio::time::timeout(DEADLINE, messages.recv())
            .await
            .unwrap_or_else(|_| panic!("only {} of 51 arrived", got.len()))
            .unwrap();
        let ce: Value = serde_json::from_slice(&message.payload).unwrap();
        got.push(ce["izaseq"].as_u64().unwrap());
    }
    let want: Vec<u64> = waiting.iter().chain(&last).copied().collect();
    assert_eq!(got, want, "the kept 50, then the event after the re-add");
    wait_depth(&store, "mosquitto", 0).await;
    outputs.shutdown(Duration::from_secs(5)).await;
}
